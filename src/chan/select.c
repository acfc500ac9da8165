/*
 * select.c - goc_select: Go's runtime/select.go in C.
 *
 * How it works
 * ------------
 * 1. Poll order: the non-NULL cases in a uniformly random permutation
 *    (inside-out Fisher-Yates, several draws from each call to the
 *    runtime's generator, see shuffle_next).
 * 2. Optimistic pass: walk the poll order; a case whose channel looks
 *    able to proceed (the lock-free loads of the non-blocking fast paths)
 *    is tried under its own channel's lock only, and run if it can. This
 *    is the common case of a select that does not block, and it costs one
 *    lock instead of one per case.
 * 3. Otherwise the full pass (Go's): lock every channel in address order
 *    (the lock order: two selects over overlapping channels take them in
 *    one global order and cannot deadlock; a channel that appears in
 *    several cases is locked once), then walk the poll order again. With
 *    all channels locked the select sees one consistent moment, so a
 *    non-blocking select returns -1 (the default) only if no case could
 *    proceed at that moment: never while some case stayed ready.
 * 4. Nothing ready and nonblock: unlock, -1. Else enqueue one waiter per
 *    case (all on this goroutine's stack, pointing to one
 *    goc__select_state) and park; the unlock function releases the
 *    channel locks only after the switch. The first waker to CAS
 *    state.done from 0 claims the select and completes that case; every
 *    other waker skips (and unlinks) this select's stale waiters.
 * 5. Woken: lock everything again, unlink the waiters of the other cases,
 *    unlock, report the case (or panic: a send case whose channel closed).
 *
 * Fairness: the case run is the first in the random poll order that can
 * proceed, so among cases that stay ready each is chosen with the same
 * probability (Go's guarantee). The optimistic pass decides from each
 * channel's own state at the moment it is looked at rather than from one
 * snapshot of all; that is the same as Go's choice except when a case
 * becomes ready during the pass, where Go's snapshot could also have been
 * taken a moment earlier or later. The alternative rejected: always
 * locking every channel (Go), which costs n lock round trips per select.
 *
 * A select cannot pair its own send with its own receive: passes 2 and 3
 * run before its waiters exist, and once they are queued a waker must
 * claim the select, which only another goroutine can do.
 *
 * Limits: up to 2^32 - 2 cases; up to GOC__SELECT_SMALL cases the orders
 * and the waiters live on the stack, beyond that in one malloc per call
 * (Go puts them on the stack; C has no cheap variable-size alternative
 * that is safe on a goroutine's bounded stack). Selects with a single
 * non-NULL channel are plain sends and receives (as Go's compiler does).
 */
#include <stdlib.h>
#include <string.h>

#include "chan/chan_internal.h"

#define GOC__SELECT_SMALL 8

/* The park argument: what the unlock function needs to release the locks. */
typedef struct select_park {
    goc__select_state st;
    goc_case *cases;
    const uint32_t *lockorder;
    size_t norder;
} select_park;

static void sellock(goc_case *cases, const uint32_t *lockorder, size_t n)
{
    goc_chan *last = NULL;
    for (size_t i = 0; i < n; i++) {
        goc_chan *c = cases[lockorder[i]].ch;
        if (c != last) {
            goc__chan_lock_acquire(&c->lock);
            last = c;
        }
    }
}

static void selunlock(goc_case *cases, const uint32_t *lockorder, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        goc_chan *c = cases[lockorder[i]].ch;
        if (i > 0 && c == cases[lockorder[i - 1]].ch)
            continue; /* released on a later iteration */
        goc__chan_lock_release(&c->lock);
    }
}

/*
 * Runs on the scheduler after the switch. Once a lock is released a waker
 * may claim the select and ready its goroutine, which then blocks in
 * sellock on the first lock we still hold: so everything we read here
 * (on its stack) stays put until we release the last lock, and we read
 * nothing after that.
 */
static bool select_park_commit(goc_g *g, void *arg)
{
    (void)g;
    select_park *sp = arg;
    goc_case *cases = sp->cases;
    const uint32_t *lockorder = sp->lockorder;
    size_t n = sp->norder;
    goc_chan *last = NULL;
    for (size_t i = 0; i < n; i++) {
        goc_chan *c = cases[lockorder[i]].ch;
        if (c != last && last != NULL)
            goc__chan_lock_release(&last->lock);
        last = c;
    }
    goc__chan_lock_release(&last->lock);
    return true;
}

/* Sort order[0..n) by channel address: insertion sort while small, else
 * heapsort (Go's choice: O(n log n), in place, no recursion). */
static inline uintptr_t case_key(goc_case *cases, uint32_t i)
{
    return (uintptr_t)cases[i].ch;
}

static void sift_down(goc_case *cases, uint32_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n &&
            case_key(cases, a[child]) < case_key(cases, a[child + 1]))
            child++;
        if (case_key(cases, a[root]) >= case_key(cases, a[child]))
            return;
        uint32_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void sort_lockorder(goc_case *cases, uint32_t *a, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = a[i];
            uintptr_t k = case_key(cases, x);
            size_t j = i;
            for (; j > 0 && case_key(cases, a[j - 1]) > k; j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    for (size_t i = n / 2; i-- > 0;)
        sift_down(cases, a, i, n);
    for (size_t end = n; end-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(cases, a, 0, end);
    }
}

static __attribute__((noinline, cold, noreturn)) void
bad_case(const goc_case *cs)
{
    if (cs->dir != GOC_RECV && cs->dir != GOC_SEND)
        goc_panic("goc_select: case with bad direction %d", cs->dir);
    goc_panic("goc_select: send case with a NULL element");
}

/* A non-NULL case must have a direction, and a value to send. */
static inline void check_case(const goc_case *cs)
{
    if (goc_unlikely(
            (cs->dir != GOC_RECV && cs->dir != GOC_SEND) ||
            (cs->dir == GOC_SEND && cs->elem == NULL && cs->ch->elemsize != 0)))
        bad_case(cs);
}

/* Lock-free: case cs looks unable to proceed (see the fast paths in
 * chan.c; a wrong guess only costs a lock or a slower pass). */
static inline bool case_looks_blocked(const goc_case *cs)
{
    goc_chan *c = cs->ch;
    if (cs->dir == GOC_SEND)
        return !atomic_load_explicit(&c->closed, memory_order_acquire) &&
               goc__chan_send_full(c);
    return goc__chan_recv_empty(c) &&
           !atomic_load_explicit(&c->closed, memory_order_acquire);
}

enum { TRY_BLOCKED, TRY_DONE, TRY_SEND_CLOSED };

/* Run case cs if it can proceed; its channel is locked. On TRY_DONE,
 * *wake is a goroutine to ready once every lock is released (or NULL). */
static int try_case_locked(goc_case *cs, goc_g **wake)
{
    goc_chan *c = cs->ch;
    goc__waiter *w;
    if (cs->dir == GOC_SEND) {
        if (atomic_load_explicit(&c->closed, memory_order_relaxed))
            return TRY_SEND_CLOSED;
        if ((w = goc__waitq_dequeue(&c->recvq)) != NULL) {
            *wake = goc__chan_send_to(c, w, cs->elem);
        } else if (atomic_load_explicit(&c->qcount, memory_order_relaxed) <
                   c->dataqsiz) {
            goc__chan_buf_put(c, cs->elem);
        } else {
            return TRY_BLOCKED;
        }
        return TRY_DONE;
    }
    if ((w = goc__waitq_dequeue(&c->sendq)) != NULL) {
        *wake = goc__chan_recv_from(c, w, cs->elem);
        cs->ok = true;
    } else if (atomic_load_explicit(&c->qcount, memory_order_relaxed) > 0) {
        goc__chan_buf_take(c, cs->elem);
        cs->ok = true;
    } else if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        goc__chan_zero(c, cs->elem);
        cs->ok = false;
    } else {
        return TRY_BLOCKED;
    }
    return TRY_DONE;
}

/* Random numbers for one select's shuffle, drawn several from one call
 * to the runtime's generator: the high half of x * m is uniform in
 * [0, m) (Lemire), and the low half is what is left of x's randomness
 * for the next draw. Once the draws so far span 2^16 values, x is drawn
 * anew, so that each draw sees at least 16 fresh bits (bias below
 * m / 2^16); a 2-case select is one exact coin flip. */
typedef struct shuffle_rand {
    uint32_t x, span;
} shuffle_rand;

static inline uint32_t shuffle_next(shuffle_rand *r, uint32_t m)
{
    if (r->span > 0xFFFFu / m) {
        r->x = goc__fastrand();
        r->span = 1;
    }
    r->span *= m;
    uint64_t prod = (uint64_t)r->x * m;
    r->x = (uint32_t)prod;
    return (uint32_t)(prod >> 32);
}

/* The case chosen (or -1: the default), and whether the select parked
 * first (GOC__BLOCKING's hint). Returned in registers. */
typedef struct select_ret {
    int casi;
    bool parked;
} select_ret;

static select_ret select_general(goc_case *cases, size_t n, bool nonblock,
                                 goc_g *g) __attribute__((noinline));

/* One case of the optimistic pass (select_general's step 2): if cs looks
 * ready, run it under its own channel's lock only, and ready whoever it
 * completed. TRY_SEND_CLOSED is the caller's to panic on. */
static inline int try_case_alone(goc_case *cs)
{
    if (case_looks_blocked(cs))
        return TRY_BLOCKED;
    goc_g *wake = NULL;
    goc__chan_lock_acquire(&cs->ch->lock);
    int r = try_case_locked(cs, &wake);
    goc__chan_lock_release(&cs->ch->lock);
    if (wake != NULL)
        goc__ready(wake);
    return r;
}

/* Two cases (the commonest select): the optimistic pass without
 * select_general's large frame, a coin flip picking which case to try
 * first. When neither looked ready, or the one that did was taken
 * meanwhile, the general path looks again with every lock held. */
static __attribute__((noinline)) select_ret select2(goc_case *cases,
                                                    bool nonblock, goc_g *g)
{
    check_case(&cases[0]);
    check_case(&cases[1]);
    uint32_t k = goc__fastrand() >> 31;
    for (int i = 0; i < 2; i++, k ^= 1) {
        int r = try_case_alone(&cases[k]);
        if (r == TRY_SEND_CLOSED)
            goc_panic("send on closed channel");
        if (r == TRY_DONE)
            return (select_ret){(int)k, false};
    }
    return select_general(cases, 2, nonblock, g);
}

/* One-case selects are plain channel operations (as Go's compiler makes
 * them), without the general case's large frame; a failing
 * `select { case ...: default: }` costs two loads. g: the caller when
 * !nonblock. */
static goc_always_inline select_ret select_cases(goc_case *cases, size_t n,
                                                 bool nonblock, goc_g *g)
{
    if (n == 1 && cases[0].ch != NULL) {
        check_case(&cases[0]);
        if (nonblock && case_looks_blocked(&cases[0]))
            return (select_ret){-1, false};
        int r = goc__chan_select1(&cases[0], nonblock, g);
        return (select_ret){r < 0 ? -1 : 0, r > 0};
    }
    if (n == 2 && cases[0].ch != NULL && cases[1].ch != NULL)
        return select2(cases, nonblock, g);
    return select_general(cases, n, nonblock, g);
}

/* The blocking select, entered through its stub (GOC__BLOCKING) so that
 * its return after a park is predicted; the non-blocking one stays a
 * plain function: it never parks, and the stub would cost it a third. */
__attribute__((visibility("hidden"))) int goc__select_blocking(goc_case *cases,
                                                               size_t n);

GOC__BLOCKING(int, goc__select_blocking)(goc_case *cases, size_t n)
{
    goc_g *g = goc__getg();
    if (goc_unlikely(g == NULL))
        goc__no_g("goc_select");
    select_ret r = select_cases(cases, n, false, g);
    GOC__BLOCKING_RETURN(r.casi, r.parked);
}

int goc_select(goc_case *cases, size_t n, bool nonblock)
{
    if (!nonblock)
        return goc__select_blocking(cases, n); /* a tail call */
    return select_cases(cases, n, true, NULL).casi;
}

static select_ret select_general(goc_case *cases, size_t n, bool nonblock,
                                 goc_g *g)
{
    if (goc_unlikely(n >= UINT32_MAX))
        goc_panic("goc_select: too many cases (%zu)", n);

    uint32_t order_small[2 * GOC__SELECT_SMALL];
    goc__waiter waiters_small[GOC__SELECT_SMALL];
    uint32_t *pollorder = order_small;
    goc__waiter *waiters = waiters_small;
    void *heap = NULL;
    if (n > GOC__SELECT_SMALL) {
        heap = malloc(n * (sizeof(goc__waiter) + 2 * sizeof(uint32_t)));
        if (heap == NULL)
            goc__fatal("goc_select: out of memory for %zu cases", n);
        waiters = heap;
        pollorder = (uint32_t *)(waiters + n);
    }

    /* 1. Poll order: the non-NULL cases, shuffled (inside-out
     * Fisher-Yates: case i goes to a uniform slot among the first
     * norder + 1). */
    size_t norder = 0;
    shuffle_rand rnd = {.x = goc__fastrand(), .span = 1};
    for (size_t i = 0; i < n; i++) {
        if (cases[i].ch == NULL)
            continue;
        check_case(&cases[i]);
        uint32_t j = shuffle_next(&rnd, (uint32_t)norder + 1);
        pollorder[norder] = pollorder[j];
        pollorder[j] = (uint32_t)i;
        norder++;
    }
    if (norder == 0) {
        free(heap);
        if (nonblock)
            return (select_ret){-1, false};
        goc__chan_block_forever("select (no cases)");
    }

    /* 2. Optimistic pass: the first case in poll order that looks ready
     * is tried under its own lock only. */
    for (size_t i = 0; i < norder; i++) {
        uint32_t k = pollorder[i];
        int r = try_case_alone(&cases[k]);
        if (r == TRY_SEND_CLOSED) {
            free(heap);
            goc_panic("send on closed channel");
        }
        if (r == TRY_DONE) {
            free(heap);
            return (select_ret){(int)k, false};
        }
    }

    /* 3. Every channel locked: one consistent look at all cases. */
    uint32_t *lockorder = pollorder + norder;
    memcpy(lockorder, pollorder, norder * sizeof(uint32_t));
    sort_lockorder(cases, lockorder, norder);
    sellock(cases, lockorder, norder);
    goc_g *wake = NULL;
    int casi = -1;
    for (size_t i = 0; i < norder; i++) {
        uint32_t k = pollorder[i];
        int r = try_case_locked(&cases[k], &wake);
        if (r == TRY_SEND_CLOSED) {
            selunlock(cases, lockorder, norder);
            free(heap);
            goc_panic("send on closed channel");
        }
        if (r == TRY_DONE) {
            casi = (int)k;
            break;
        }
    }
    /* Done, or nothing ready and nonblock: the default case (4). */
    if (casi >= 0 || nonblock) {
        selunlock(cases, lockorder, norder);
        if (wake != NULL)
            goc__ready(wake);
        free(heap);
        return (select_ret){casi, false};
    }

    /* 4. Wait on every channel. */
    select_park sp = {.cases = cases, .lockorder = lockorder, .norder = norder};
    atomic_init(&sp.st.done, 0);
    for (size_t i = 0; i < norder; i++) {
        uint32_t k = lockorder[i];
        goc_case *cs = &cases[k];
        goc__waiter *w = &waiters[k];
        *w = (goc__waiter){.g = g,
                           .elem = cs->elem,
                           .obj = cs->ch,
                           .sel = &sp.st,
                           .ticket = k,
                           .is_select = true};
        goc__waitq_enqueue(
            cs->dir == GOC_SEND ? &cs->ch->sendq : &cs->ch->recvq, w);
    }
    goc__park(select_park_commit, &sp, "select");

    /* 5. Claimed by a waker: unlink the other cases' waiters. */
    sellock(cases, lockorder, norder);
    uint32_t done = atomic_load_explicit(&sp.st.done, memory_order_acquire);
    if (goc_unlikely(done == 0 || done > n))
        goc__fatal("select: bad wakeup");
    casi = (int)(done - 1);
    for (size_t i = 0; i < norder; i++) {
        uint32_t k = lockorder[i];
        if ((int)k == casi)
            continue; /* the waker already dequeued it */
        goc_case *cs = &cases[k];
        goc__waitq_remove(cs->dir == GOC_SEND ? &cs->ch->sendq : &cs->ch->recvq,
                          &waiters[k]);
    }
    bool ok = waiters[casi].success;
    selunlock(cases, lockorder, norder);
    free(heap);
    if (cases[casi].dir == GOC_SEND) {
        if (!ok)
            goc_panic("send on closed channel");
    } else {
        cases[casi].ok = ok;
    }
    return (select_ret){casi, true};
}
