/*
 * chan_internal.h - the channel's representation, shared by chan.c and
 * select.c. Private to the module: what other modules may use is
 * chan_iface.h.
 *
 * Invariants (under c->lock):
 *  - Live waiters (plain ones, and select ones whose select is not yet
 *    claimed) are never in recvq and sendq of one channel at once, except
 *    one select's own send and receive cases on the same channel; stale
 *    select waiters (claimed elsewhere) linger until their goroutine
 *    unlinks them, and dequeue skips them.
 *  - qcount > 0 implies recvq holds no live waiter; qcount < dataqsiz
 *    implies sendq holds no live waiter.
 *  - closed never goes back to 0; once set, recvq and sendq hold no live
 *    waiter.
 *  - A waiter in a queue belongs to a goroutine that is parked or about
 *    to park holding this lock; whoever dequeues a live waiter completes
 *    it (value moved, success set) and readies its goroutine after
 *    releasing every lock.
 *
 * Lock order: channel locks in increasing address order (select takes
 * several); a timer's lock (time.c) before the lock of its channel; no
 * channel lock is held across goc__park (it is released by the unlock
 * function, after the switch) or goc__ready.
 */
#ifndef GOC_CHAN_INTERNAL_H
#define GOC_CHAN_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "chan/chan_iface.h"
#include "chan/chan_layout.h"
#include "goc/chan.h"
#include "runtime/primitives.h"
#include "runtime/runtime_internal.h"

/* ---- the lock ------------------------------------------------------- */

/*
 * goc__chan_lock, the channel's, is the runtime's spinlock
 * (runtime/primitives.h) with a biased mode. A
 * lock made while the runtime runs one processor (goc__chan_lock_bias)
 * belongs to that processor (goc__p_token): the goroutines it runs, on
 * whichever thread holds it, take the lock with no read-modify-write at
 * all. They announce themselves in `held` and re-read `bias`, and the
 * first thread without that processor that wants the lock revokes the
 * bias for good. This is an asymmetric Dekker: the owner orders its
 * store before its load with a compiler barrier only, and the revoker
 * makes up for the missing hardware fence with goc__membarrier, which
 * runs a full fence on every thread of the process. After it, an owner
 * either has its `held` store visible (the revoker waits for it to
 * clear) or re-reads `bias` as revoked (it backs out). A processor
 * changes threads only between critical sections, through the
 * scheduler's own synchronisation. `bias` only moves forward: owner ->
 * owner|REVOKING -> owner|REVOKED (then the lock is the plain one above,
 * for everyone); 0 means never biased.
 *
 * Invariants: plain.state != 0 only while bias is 0 or REVOKED; held != 0
 * only while the owner holds the lock in biased mode or is backing out
 * of an attempt. Once the revoker has seen held == 0 after its fence the
 * owner never writes held again (its first load of bias, being after the
 * fence, no longer matches).
 */
#define GOC__BIAS_REVOKING ((uintptr_t)1)
#define GOC__BIAS_REVOKED ((uintptr_t)2)
#define GOC__BIAS_FLAGS ((uintptr_t)3)

/* The channel's lock: the spinlock, or its biased mode. */
typedef struct goc__chan_lock {
    goc__spinlock plain;    /* plain mode */
    _Atomic uint32_t held;  /* biased mode: 1 while the owner holds it */
    _Atomic uintptr_t bias; /* owner goc__p_token | GOC__BIAS_*, or 0 */
} goc__chan_lock;

void goc__chan_lock_slow(goc__chan_lock *l);
/* Bias a fresh (zeroed) lock to the caller's processor, when the runtime
 * allows it (goc__lock_bias_allowed); otherwise leave it plain. */
void goc__chan_lock_bias(goc__chan_lock *l);

static inline void goc__chan_lock_acquire(goc__chan_lock *l)
{
    uintptr_t b = atomic_load_explicit(&l->bias, memory_order_relaxed);
    if (goc_likely(b == 0)) {
        goc__spinlock_acquire(&l->plain);
        return;
    }
    if (b == goc__p_token()) {
        atomic_store_explicit(&l->held, 1, memory_order_relaxed);
        /* Compiler-only: the hardware half is the revoker's membarrier. */
        atomic_signal_fence(memory_order_seq_cst);
        if (goc_likely(atomic_load_explicit(&l->bias, memory_order_acquire) ==
                       b))
            return;
        atomic_store_explicit(&l->held, 0, memory_order_release);
    }
    goc__chan_lock_slow(l);
}

static inline void goc__chan_lock_release(goc__chan_lock *l)
{
    /* Biased and not revoked: only the owner can hold it, in biased mode
     * (bias reaches REVOKED only after held is 0; plain mode needs 0 or
     * REVOKED, and bias never goes back). The stores pair with the
     * revoker's acquire load of held, or with the next acquire CAS. */
    uintptr_t b = atomic_load_explicit(&l->bias, memory_order_relaxed);
    if (goc_unlikely(b != 0) && !(b & GOC__BIAS_REVOKED))
        atomic_store_explicit(&l->held, 0, memory_order_release);
    else
        goc__spinlock_release(&l->plain);
}

/* ---- wait queues ---------------------------------------------------- */

/*
 * A FIFO of goc__waiter records (on the waiting goroutines' stacks),
 * doubly linked through next/prev. `first` is atomic only so that the
 * lock-free fast paths may test it for NULL; every access that follows
 * the links holds the channel lock.
 */
typedef struct goc__waitq {
    _Atomic(goc__waiter *) first;
    goc__waiter *last;
} goc__waitq;

/*
 * A select's shared state, on its stack; each of its waiters points to it
 * (waiter->sel). done: 0 while the select waits; the first waker CASes it
 * to 1 + the index of the case it completes (waiter->ticket) and so claims
 * the select; every other waker then skips that select's waiters.
 */
typedef struct goc__select_state {
    _Atomic uint32_t done;
} goc__select_state;

/* Lock-free test (acquire: orders it before a later load of closed). */
static inline bool goc__waitq_empty(goc__waitq *q)
{
    return atomic_load_explicit(&q->first, memory_order_acquire) == NULL;
}

static inline void goc__waitq_enqueue(goc__waitq *q, goc__waiter *w)
{
    goc__waiter *x = q->last;
    w->next = NULL;
    w->prev = x;
    if (x == NULL)
        atomic_store_explicit(&q->first, w, memory_order_relaxed);
    else
        x->next = w;
    q->last = w;
}

/*
 * Take the first live waiter off q, or NULL. A select waiter is live only
 * if we win its select (CAS done 0 -> ticket + 1); stale ones are unlinked
 * and skipped (Go's waitq.dequeue). An unlinked waiter has prev == next ==
 * NULL and is no longer q->first (see goc__waitq_remove).
 */
static inline goc__waiter *goc__waitq_dequeue(goc__waitq *q)
{
    for (;;) {
        goc__waiter *w = atomic_load_explicit(&q->first, memory_order_relaxed);
        if (w == NULL)
            return NULL;
        goc__waiter *y = w->next;
        if (y == NULL) {
            atomic_store_explicit(&q->first, NULL, memory_order_relaxed);
            q->last = NULL;
        } else {
            y->prev = NULL;
            atomic_store_explicit(&q->first, y, memory_order_relaxed);
            w->next = NULL;
        }
        if (w->is_select) {
            goc__select_state *s = w->sel;
            uint32_t zero = 0;
            /* acq_rel: a select completes only once. The data transfer
             * itself is ordered by the channel lock and goc__ready. */
            if (atomic_load_explicit(&s->done, memory_order_relaxed) != 0 ||
                !atomic_compare_exchange_strong_explicit(
                    &s->done, &zero, (uint32_t)w->ticket + 1,
                    memory_order_acq_rel, memory_order_relaxed))
                continue;
        }
        return w;
    }
}

/* Unlink w from q if it is still there (Go's dequeueSudoG). */
static inline void goc__waitq_remove(goc__waitq *q, goc__waiter *w)
{
    goc__waiter *x = w->prev, *y = w->next;
    if (x != NULL) {
        if (y != NULL) {
            x->next = y;
            y->prev = x;
        } else {
            x->next = NULL;
            q->last = x;
        }
    } else if (y != NULL) {
        y->prev = NULL;
        atomic_store_explicit(&q->first, y, memory_order_relaxed);
    } else if (atomic_load_explicit(&q->first, memory_order_relaxed) == w) {
        atomic_store_explicit(&q->first, NULL, memory_order_relaxed);
        q->last = NULL;
    }
    w->next = w->prev = NULL;
}

/* ---- the channel ---------------------------------------------------- */

struct goc_chan {
    goc__chan_lock lock;
    /* Set once under lock; read lock-free (seq_cst) by the fast paths. */
    _Atomic uint32_t closed;
    bool is_timer; /* a timer/ticker channel (len/cap read 0); immutable */
    /* Values in the buffer. Written under lock; read lock-free by fast
     * paths. */
    _Atomic size_t qcount;
    size_t dataqsiz;  /* capacity; immutable */
    size_t elemsize;  /* immutable */
    size_t sendx;     /* next slot to fill; lock */
    size_t recvx;     /* next slot to take; lock */
    goc__waitq recvq; /* blocked receivers; lock */
    goc__waitq sendq; /* blocked senders; lock */
    /* dataqsiz * elemsize bytes of buffer follow, at GOC__CHAN_HDR. */
};

#define GOC__CHAN_HDR ((sizeof(struct goc_chan) + 15) & ~(size_t)15)

_Static_assert(offsetof(struct goc_chan, dataqsiz) == GOC__CHAN_DATAQSIZ_OFFSET,
               "chan_layout.h is out of date");

static inline void *goc__chan_slot(goc_chan *c, size_t i)
{
    return (char *)c + GOC__CHAN_HDR + i * c->elemsize;
}

/* Copy one element; common sizes become plain moves instead of a call. */
static inline void goc__chan_copy(goc_chan *c, void *dst, const void *src)
{
    switch (c->elemsize) {
    case 0:
        return;
    case 4:
        memcpy(dst, src, 4);
        return;
    case 8:
        memcpy(dst, src, 8);
        return;
    case 16:
        memcpy(dst, src, 16);
        return;
    default:
        memcpy(dst, src, c->elemsize);
    }
}

/* Zero one element (dst may be NULL: nothing to do). */
static inline void goc__chan_zero(goc_chan *c, void *dst)
{
    if (dst == NULL)
        return;
    switch (c->elemsize) {
    case 0:
        return;
    case 4:
        memset(dst, 0, 4);
        return;
    case 8:
        memset(dst, 0, 8);
        return;
    default:
        memset(dst, 0, c->elemsize);
    }
}

/* Lock-free: a receive on c could not proceed now (Go's empty()). */
static inline bool goc__chan_recv_empty(goc_chan *c)
{
    if (c->dataqsiz == 0)
        return goc__waitq_empty(&c->sendq);
    return atomic_load_explicit(&c->qcount, memory_order_acquire) == 0;
}

/* Lock-free: a send on c could not proceed now (Go's full()). */
static inline bool goc__chan_send_full(goc_chan *c)
{
    if (c->dataqsiz == 0)
        return goc__waitq_empty(&c->recvq);
    return atomic_load_explicit(&c->qcount, memory_order_acquire) ==
           c->dataqsiz;
}

/*
 * The hand-offs, shared by chan.c and select.c. c is locked and w was just
 * dequeued (and, for a select, claimed). They move the value, mark w
 * successful and return w's goroutine, which the caller must goc__ready
 * after releasing every lock it holds.
 */

/* Send elem to the blocked receiver w (c's buffer is empty). */
static inline goc_g *goc__chan_send_to(goc_chan *c, goc__waiter *w,
                                       const void *elem)
{
    if (w->elem != NULL)
        goc__chan_copy(c, w->elem, elem);
    w->success = true;
    return w->g;
}

/* Receive into elem (may be NULL) from the blocked sender w: directly if
 * unbuffered; else take the head of the (full) buffer and put w's value at
 * its tail, which is the same slot. */
static inline goc_g *goc__chan_recv_from(goc_chan *c, goc__waiter *w,
                                         void *elem)
{
    if (c->dataqsiz == 0) {
        if (elem != NULL)
            goc__chan_copy(c, elem, w->elem);
    } else {
        void *slot = goc__chan_slot(c, c->recvx);
        if (elem != NULL)
            goc__chan_copy(c, elem, slot);
        goc__chan_copy(c, slot, w->elem);
        if (++c->recvx == c->dataqsiz)
            c->recvx = 0;
        c->sendx = c->recvx;
    }
    w->success = true;
    return w->g;
}

/* Append elem to the buffer (qcount < dataqsiz). */
static inline void goc__chan_buf_put(goc_chan *c, const void *elem)
{
    goc__chan_copy(c, goc__chan_slot(c, c->sendx), elem);
    if (++c->sendx == c->dataqsiz)
        c->sendx = 0;
    atomic_store_explicit(
        &c->qcount, atomic_load_explicit(&c->qcount, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

/* Take the head of the buffer into elem (may be NULL) (qcount > 0). */
static inline void goc__chan_buf_take(goc_chan *c, void *elem)
{
    if (elem != NULL)
        goc__chan_copy(c, elem, goc__chan_slot(c, c->recvx));
    if (++c->recvx == c->dataqsiz)
        c->recvx = 0;
    atomic_store_explicit(
        &c->qcount, atomic_load_explicit(&c->qcount, memory_order_relaxed) - 1,
        memory_order_relaxed);
}

/* Park unlock function for a single channel lock (arg: the lock). */
bool goc__chan_park_unlock(goc_g *g, void *lock);
/* Park the calling goroutine forever (NULL channel, empty select). */
void goc__chan_block_forever(const char *reason) __attribute__((noreturn));

/* goc_select with one non-NULL case: the plain operation (Go's compiler
 * does the same). g: the caller when !nonblock. Returns 0 done, 1 done
 * after parking, -1 would block (nonblock). */
int goc__chan_select1(goc_case *cs, bool nonblock, goc_g *g);

#endif
