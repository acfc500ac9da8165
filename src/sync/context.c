/*
 * context.c - context.Context: cancellation trees with deadlines.
 *
 * A context is a heap object with a done channel (unbuffered, never sent
 * on, closed by the cancellation), an error, an optional deadline timer,
 * and the list of its cancellable children. Cancellation walks the subtree
 * with an explicit work list (a deep chain of contexts must not overflow a
 * goroutine stack), cancelling each context once: the first canceller
 * sets err under the context's lock, detaches its children and closes
 * done; later ones see err set and stop there.
 *
 * Memory: a reference count. References: the user's (dropped by
 * goc_context_free), one per child alive (a child points to its parent
 * until it is destroyed), one while the deadline timer is armed, and
 * transient ones held by a cancellation walk. The last unref frees the
 * channel and the struct and drops the parent reference.
 *
 * Invariants:
 *  - err: 0 until cancelled, then fixed. Set (release) under lock, before
 *    done is closed; read (acquire) anywhere.
 *  - children list, and each child's sib_next/sib_prev/linked: the
 *    parent's lock. A child is linked iff it is in its parent's list.
 *  - A context is linked to its parent only while neither is cancelled
 *    (the parent's cancellation detaches all its children; a child's own
 *    cancellation unlinks it).
 *  - work_next belongs to the walk that detached the context from its
 *    parent (exactly one walk can); the context a walk starts from is
 *    never linked through it.
 *  - has_timer (lock): the timer is armed or its function is still to
 *    run. Whoever clears it with goc__timer_del() == true drops the
 *    timer's reference; otherwise the timer function drops it.
 *  - The background context is static: no lock, no refs, never cancelled;
 *    no child links to it.
 * Lock order: one context lock at a time; a context lock may be held
 * while arming its timer (the runtime's timer locks come after it).
 */
#include <errno.h>
#include <stdlib.h>

#include "goc/chan.h"
#include "sync/sync_internal.h"

struct goc_context {
    goc_context *parent;   /* NULL for background and its children */
    _Atomic int32_t refs;  /* see Memory above */
    _Atomic int err;       /* 0, -ECANCELED or -ETIMEDOUT */
    int64_t deadline;      /* effective deadline (0: none); immutable */
    goc_chan *done;        /* closed on cancel; immutable pointer */
    _Atomic uint32_t lock; /* spinlock: children, has_timer */
    goc_context *children; /* first child (lock) */
    goc_context *sib_next; /* siblings (parent's lock) */
    goc_context *sib_prev;
    bool linked;            /* in parent's children list (parent's lock) */
    bool has_timer;         /* (lock) */
    goc_context *work_next; /* work list of the walk that detached it */
    goc__timer timer;       /* the deadline timer */
};

static goc_context background;

goc_context *goc_context_background(void)
{
    return &background;
}

static void ctx_ref(goc_context *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

/* Drop a reference; free c and, up the chain, parents that lose their
 * last one. */
static void ctx_unref(goc_context *c)
{
    while (c != NULL &&
           atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        goc_context *parent = c->parent;
        goc_chan_free(c->done);
        free(c);
        c = parent;
    }
}

/* Cancel c alone (not its children) with err. Returns its detached
 * children, each with a reference for the caller, or NULL. */
static goc_context *ctx_cancel_one(goc_context *c, int err)
{
    goc__spin_lock(&c->lock);
    if (atomic_load_explicit(&c->err, memory_order_relaxed) != 0) {
        goc__spin_unlock(&c->lock);
        return NULL;
    }
    /* Release pairs with the acquire in goc_context_err: whoever sees err
     * also sees what was written before the cancel. */
    atomic_store_explicit(&c->err, err, memory_order_release);
    goc_context *kids = c->children;
    c->children = NULL;
    for (goc_context *k = kids; k; k = k->sib_next) {
        k->linked = false;
        ctx_ref(k);
    }
    bool had_timer = c->has_timer;
    c->has_timer = false;
    goc__spin_unlock(&c->lock);

    goc_chan_close(c->done);
    /* The walk holds a reference to c, so this cannot free it. */
    if (had_timer && goc__timer_del(&c->timer))
        ctx_unref(c);
    /* Re-thread the detached children onto the work list links. */
    goc_context *list = NULL;
    for (goc_context *k = kids, *next; k; k = next) {
        next = k->sib_next;
        k->sib_next = k->sib_prev = NULL;
        k->work_next = list;
        list = k;
    }
    return list;
}

/* Unlink c from its parent's children list, if it is there. */
static void ctx_unlink(goc_context *c)
{
    goc_context *p = c->parent;
    if (p == NULL)
        return;
    goc__spin_lock(&p->lock);
    if (c->linked) {
        if (c->sib_prev)
            c->sib_prev->sib_next = c->sib_next;
        else
            p->children = c->sib_next;
        if (c->sib_next)
            c->sib_next->sib_prev = c->sib_prev;
        c->sib_next = c->sib_prev = NULL;
        c->linked = false;
    }
    goc__spin_unlock(&p->lock);
}

/* Cancel c and its whole subtree with err; the caller holds a reference
 * to c. */
static void ctx_cancel(goc_context *c, int err)
{
    /* c itself is not put on the work list: its work_next may be in use
     * by another walk that detached it from its parent. */
    goc_context *work = ctx_cancel_one(c, err);
    while (work != NULL) {
        goc_context *x = work;
        work = x->work_next;
        goc_context *kids = ctx_cancel_one(x, err);
        while (kids != NULL) {
            goc_context *k = kids;
            kids = k->work_next;
            k->work_next = work;
            work = k;
        }
        ctx_unref(x);
    }
    /* A cancelled context no longer needs its parent to reach it. */
    ctx_unlink(c);
}

/* The deadline timer: runs on a scheduler thread; never blocks. */
static void ctx_timer_fired(void *arg, uint64_t seq, int64_t now)
{
    (void)seq, (void)now;
    goc_context *c = arg;
    goc__spin_lock(&c->lock);
    c->has_timer = false;
    goc__spin_unlock(&c->lock);
    ctx_cancel(c, -ETIMEDOUT);
    ctx_unref(c); /* the timer's reference */
}

goc_context *goc_context_with_cancel(goc_context *parent)
{
    if (parent == NULL)
        goc_panic("context: cannot create context from nil parent");
    goc_context *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->done = goc_chan_make(0, 0);
    if (c->done == NULL) {
        free(c);
        return NULL;
    }
    atomic_init(&c->refs, 1);
    if (parent == &background)
        return c;

    c->deadline = parent->deadline;
    c->parent = parent;
    ctx_ref(parent);
    goc__spin_lock(&parent->lock);
    int perr = atomic_load_explicit(&parent->err, memory_order_relaxed);
    if (perr == 0) {
        c->sib_next = parent->children;
        if (parent->children)
            parent->children->sib_prev = c;
        parent->children = c;
        c->linked = true;
    }
    goc__spin_unlock(&parent->lock);
    if (perr != 0)
        ctx_cancel(c, perr); /* the parent is done already */
    return c;
}

goc_context *goc_context_with_deadline(goc_context *parent, int64_t deadline)
{
    if (parent == NULL)
        goc_panic("context: cannot create context from nil parent");
    goc_context *c = goc_context_with_cancel(parent);
    if (c == NULL || deadline == 0)
        return c;
    if (c->deadline != 0 && c->deadline <= deadline)
        return c; /* the parent's earlier deadline will cancel it */
    c->deadline = deadline;
    if (deadline <= goc_nanotime()) {
        ctx_cancel(c, -ETIMEDOUT);
        return c;
    }
    if (goc_num_goroutine() == 0) /* no runtime: nobody to run a timer */
        goc__fatal("goc_context_with_deadline called outside goc_main");
    goc__timer_init(&c->timer, ctx_timer_fired, c);
    goc__spin_lock(&c->lock);
    if (atomic_load_explicit(&c->err, memory_order_relaxed) == 0) {
        ctx_ref(c); /* the timer's */
        c->has_timer = true;
        goc__timer_add(&c->timer, deadline, 0);
    }
    goc__spin_unlock(&c->lock);
    return c;
}

goc_context *goc_context_with_timeout(goc_context *parent, int64_t timeout)
{
    int64_t now = goc_nanotime();
    /* Keep a timeout from meaning "no deadline" (0) or overflowing. */
    int64_t deadline = timeout <= 0                ? now
                       : timeout > INT64_MAX - now ? INT64_MAX
                                                   : now + timeout;
    return goc_context_with_deadline(parent, deadline);
}

goc_chan *goc_context_done(goc_context *ctx)
{
    return ctx->done;
}

int goc_context_err(goc_context *ctx)
{
    return atomic_load_explicit(&ctx->err, memory_order_acquire);
}

int64_t goc_context_deadline(goc_context *ctx)
{
    return ctx->deadline;
}

void goc_context_cancel(goc_context *ctx)
{
    if (ctx == &background)
        return;
    ctx_cancel(ctx, -ECANCELED);
}

void goc_context_free(goc_context *ctx)
{
    if (ctx == NULL || ctx == &background)
        return;
    ctx_cancel(ctx, -ECANCELED);
    ctx_unref(ctx);
}
