/*
 * chan.c - channels: Go's runtime/chan.go in C.
 *
 * A channel is a lock, a ring buffer of dataqsiz elements and two FIFO
 * queues of blocked goroutines (their goc__waiter records live on their
 * own stacks). The operations:
 *
 *  send: a receiver is waiting -> copy the value straight into its record's
 *        destination and ready it (direct hand-off: no buffer involved);
 *        else room in the buffer -> append; else enqueue and park.
 *  recv: a sender is waiting -> take from it (unbuffered) or take the
 *        buffer's head and move the sender's value to its tail (full
 *        buffer); else the buffer has a value -> take it; else closed ->
 *        zero and false; else enqueue and park.
 *  close: mark closed, wake every waiter (receivers get zero/false,
 *        senders panic).
 *
 * A blocked goroutine is completed by its waker: when it resumes, its value
 * has been delivered (w.success) or the channel was closed (!w.success).
 * The waker readies it only after releasing the channel lock, and the
 * parker releases the lock only after it has switched out (goc__park's
 * unlock function), so a goroutine is never readied while still running.
 *
 * Non-blocking operations first try a lock-free check that the operation
 * cannot proceed (Go's fast path), so that polling an idle channel costs
 * two loads and no atomic read-modify-write: see chan_send and chan_recv
 * for why each pair of single-word observations is linearizable.
 * Nothing here allocates after goc_chan_make, and uncontended operations
 * make no system call. Non-blocking operations work on any thread (a
 * plain thread or a timer function on the scheduler may ready a
 * goroutine); blocking ones need a goroutine.
 *
 * Invariants and lock order: see chan_internal.h.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "chan/chan_internal.h"

/* ---- the lock ------------------------------------------------------- */

#define GOC__CHAN_LOCK_SPINS 64

/* Spin (then yield the thread) until *w reads 0. */
static void wait_zero(_Atomic uint32_t *w)
{
    for (;;) {
        for (int i = 0; i < GOC__CHAN_LOCK_SPINS; i++) {
            if (atomic_load_explicit(w, memory_order_acquire) == 0)
                return;
            goc__cpu_relax();
        }
        sched_yield();
    }
}

/* Turn a biased lock into a plain one for good (see chan_internal.h).
 * Whoever moves bias to REVOKING fences every thread, waits for the
 * owner to leave, and publishes REVOKED; the others wait for that. */
static void lock_revoke(goc__chan_lock *l, uintptr_t b)
{
    uintptr_t owner = b & ~GOC__BIAS_FLAGS;
    if (!(b & GOC__BIAS_REVOKING) &&
        atomic_compare_exchange_strong_explicit(
            &l->bias, &b, owner | GOC__BIAS_REVOKING, memory_order_relaxed,
            memory_order_relaxed)) {
        goc__membarrier();
        wait_zero(&l->held);
        atomic_store_explicit(&l->bias, owner | GOC__BIAS_REVOKED,
                              memory_order_release);
        return;
    }
    for (int i = 0;; i++) {
        b = atomic_load_explicit(&l->bias, memory_order_acquire);
        if (b & GOC__BIAS_REVOKED)
            return;
        if (!(b & GOC__BIAS_REVOKING))
            return; /* not reached (bias only moves forward); the
                       caller would re-read it */
        if (i < GOC__CHAN_LOCK_SPINS)
            goc__cpu_relax();
        else
            sched_yield();
    }
}

size_t goc__chan_elemsize(const goc_chan *c)
{
    return c->elemsize;
}

void goc__chan_lock_slow(goc__chan_lock *l)
{
    for (;;) {
        uintptr_t b = atomic_load_explicit(&l->bias, memory_order_acquire);
        if (b == 0 || (b & GOC__BIAS_REVOKED))
            break;
        if (b == goc__p_token()) {
            /* The owner, on a lock still biased: the fast path again. */
            atomic_store_explicit(&l->held, 1, memory_order_relaxed);
            atomic_signal_fence(memory_order_seq_cst);
            if (atomic_load_explicit(&l->bias, memory_order_acquire) == b)
                return;
            atomic_store_explicit(&l->held, 0, memory_order_release);
            continue;
        }
        lock_revoke(l, b);
    }
    goc__spinlock_acquire(&l->plain);
}

void goc__chan_lock_bias(goc__chan_lock *l)
{
    if (goc__lock_bias_allowed())
        atomic_store_explicit(&l->bias, goc__p_token(), memory_order_relaxed);
}

bool goc__chan_park_unlock(goc_g *g, void *lock)
{
    (void)g;
    goc__chan_lock_release(lock);
    return true;
}

static bool park_forever_commit(goc_g *g, void *arg)
{
    (void)g;
    (void)arg;
    return true;
}

void goc__chan_block_forever(const char *reason)
{
    goc__require_g(reason);
    goc__park(park_forever_commit, NULL, reason);
    goc__fatal("%s: goroutine blocked forever was woken", reason);
}

/* ---- make / free ---------------------------------------------------- */

/* Bytes for a channel with its buffer; 0 if that overflows. */
static size_t chan_size(size_t elem_size, size_t cap)
{
    size_t bufsz;
    if (__builtin_mul_overflow(elem_size, cap, &bufsz) ||
        bufsz > SIZE_MAX - GOC__CHAN_HDR)
        return 0;
    return GOC__CHAN_HDR + bufsz;
}

static goc_chan *chan_init(void *mem, size_t elem_size, size_t cap,
                           bool is_timer)
{
    goc_chan *c = mem;
    memset(c, 0, sizeof(*c));
    c->dataqsiz = cap;
    c->elemsize = elem_size;
    c->is_timer = is_timer;
    /* A timer's channel is filled by whichever thread runs the timer
     * (at one processor often not its creator's): biasing it would cost
     * a revocation, a membarrier, per timer. */
    if (!is_timer)
        goc__chan_lock_bias(&c->lock);
    return c;
}

goc_chan *goc_chan_make(size_t elem_size, size_t cap)
{
    size_t size = chan_size(elem_size, cap);
    if (size == 0)
        goc_panic("makechan: size out of range");
    void *mem = malloc(size);
    return mem != NULL ? chan_init(mem, elem_size, cap, false) : NULL;
}

size_t goc__chan_timer_size(size_t elem_size)
{
    return chan_size(elem_size, 1);
}

goc_chan *goc__chan_init_timer(void *mem, size_t elem_size)
{
    return chan_init(mem, elem_size, 1, true);
}

void goc_chan_free(goc_chan *c)
{
    free(c);
}

/* Or'ed into chan_send's and chan_recv's results when the call parked
 * (for GOC__BLOCKING_RETURN's hint). */
#define CHAN_PARKED 2

/* ---- send ----------------------------------------------------------- */

/*
 * Go's chansend. g != NULL: blocking, g is the caller; g == NULL:
 * non-blocking. Returns 1 sent, 1 | CHAN_PARKED sent after parking, 0
 * would block. c != NULL.
 */
static goc_always_inline int chan_send(goc_chan *c, const void *elem, goc_g *g)
{
    if (goc_unlikely(elem == NULL && c->elemsize != 0))
        goc_panic("goc_chan_send: NULL element for a channel of %zu-byte "
                  "elements",
                  c->elemsize);
    /* Fast path for a failing non-blocking send: "not closed", then
     * "full". A channel that is ready for sending cannot become unready
     * by being closed, so there was a moment between the two loads when
     * it was both open and full: the send failed then. (The acquire
     * keeps the second load after the first.) */
    if (g == NULL &&
        atomic_load_explicit(&c->closed, memory_order_acquire) == 0 &&
        goc__chan_send_full(c))
        return false;

    goc__chan_lock_acquire(&c->lock);
    if (goc_unlikely(atomic_load_explicit(&c->closed, memory_order_relaxed))) {
        goc__chan_lock_release(&c->lock);
        goc_panic("send on closed channel");
    }
    goc__waiter *w = goc__waitq_dequeue(&c->recvq);
    if (w != NULL) {
        goc_g *rg = goc__chan_send_to(c, w, elem);
        goc__chan_lock_release(&c->lock);
        goc__ready(rg);
        return 1;
    }
    if (atomic_load_explicit(&c->qcount, memory_order_relaxed) < c->dataqsiz) {
        goc__chan_buf_put(c, elem);
        goc__chan_lock_release(&c->lock);
        return 1;
    }
    if (g == NULL) {
        goc__chan_lock_release(&c->lock);
        return 0;
    }

    /* Block: a receiver (or close) completes us. */
    goc__waiter me = {.g = g, .elem = (void *)elem, .obj = c};
    goc__waitq_enqueue(&c->sendq, &me);
    goc__park(goc__chan_park_unlock, &c->lock, "chan send");
    if (!me.success)
        goc_panic("send on closed channel");
    return 1 | CHAN_PARKED;
}

GOC__BLOCKING(void, goc_chan_send)(goc_chan *c, const void *elem)
{
    goc_g *g = goc__getg();
    if (goc_unlikely(g == NULL))
        goc__no_g("goc_chan_send");
    if (goc_unlikely(c == NULL))
        goc__chan_block_forever("chan send (nil chan)");
    int r = chan_send(c, elem, g);
    GOC__BLOCKING_RETURN_VOID((r & CHAN_PARKED) != 0);
}

bool goc__chan_try_send(goc_chan *c, const void *elem)
{
    if (c == NULL)
        return false;
    return chan_send(c, elem, NULL) != 0;
}

/* ---- receive -------------------------------------------------------- */

/*
 * Go's chanrecv. g != NULL: blocking; g == NULL: non-blocking. Returns 1
 * received, 0 closed (elem zeroed), either or'ed with CHAN_PARKED if it
 * parked first, or -1 would block. c != NULL.
 */
static goc_always_inline int chan_recv(goc_chan *c, void *elem, goc_g *g)
{
    /* Fast path for a failing non-blocking receive: "empty", then "not
     * closed". A channel never reopens, so it was open at the first
     * observation too: the receive failed at that moment. (Reversed,
     * "open" could be seen before a close and "empty" after it, with no
     * moment when both held: the zero value of a closed channel would
     * be missed.) */
    if (g == NULL && goc__chan_recv_empty(c)) {
        if (atomic_load_explicit(&c->closed, memory_order_seq_cst) == 0)
            return -1;
        /* Closed: it stays closed; if it is still empty, it is drained
         * for good (no send can succeed any more). */
        if (goc__chan_recv_empty(c)) {
            goc__chan_zero(c, elem);
            return 0;
        }
    }

    goc__chan_lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        if (atomic_load_explicit(&c->qcount, memory_order_relaxed) == 0) {
            goc__chan_lock_release(&c->lock);
            goc__chan_zero(c, elem);
            return 0;
        }
        /* Closed with buffered values: drain them first (below). */
    } else {
        goc__waiter *w = goc__waitq_dequeue(&c->sendq);
        if (w != NULL) {
            goc_g *sg = goc__chan_recv_from(c, w, elem);
            goc__chan_lock_release(&c->lock);
            goc__ready(sg);
            return 1;
        }
    }
    if (atomic_load_explicit(&c->qcount, memory_order_relaxed) > 0) {
        goc__chan_buf_take(c, elem);
        goc__chan_lock_release(&c->lock);
        return 1;
    }
    if (g == NULL) {
        goc__chan_lock_release(&c->lock);
        return -1;
    }

    /* Block: a sender (or close, which zeroes *elem) completes us. */
    goc__waiter me = {.g = g, .elem = elem, .obj = c};
    goc__waitq_enqueue(&c->recvq, &me);
    goc__park(goc__chan_park_unlock, &c->lock, "chan receive");
    return (me.success ? 1 : 0) | CHAN_PARKED;
}

GOC__BLOCKING(bool, goc_chan_recv)(goc_chan *c, void *elem)
{
    goc_g *g = goc__getg();
    if (goc_unlikely(g == NULL))
        goc__no_g("goc_chan_recv");
    if (goc_unlikely(c == NULL))
        goc__chan_block_forever("chan receive (nil chan)");
    int r = chan_recv(c, elem, g);
    GOC__BLOCKING_RETURN((r & 1) != 0, (r & CHAN_PARKED) != 0);
}

int goc__chan_try_recv(goc_chan *c, void *elem)
{
    if (c == NULL)
        return -1;
    return chan_recv(c, elem, NULL);
}

int goc__chan_select1(goc_case *cs, bool nonblock, goc_g *g)
{
    if (cs->dir == GOC_SEND) {
        if (nonblock)
            return chan_send(cs->ch, cs->elem, NULL) ? 0 : -1;
        return (chan_send(cs->ch, cs->elem, g) & CHAN_PARKED) ? 1 : 0;
    }
    int r = chan_recv(cs->ch, cs->elem, nonblock ? NULL : g);
    if (r < 0)
        return -1;
    cs->ok = (r & 1) != 0;
    return (r & CHAN_PARKED) ? 1 : 0;
}

/* ---- close ---------------------------------------------------------- */

void goc_chan_close(goc_chan *c)
{
    if (c == NULL)
        goc_panic("close of nil channel");
    goc__chan_lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        goc__chan_lock_release(&c->lock);
        goc_panic("close of closed channel");
    }
    /* seq_cst: pairs with the fast paths' loads of closed. */
    atomic_store_explicit(&c->closed, 1, memory_order_seq_cst);

    /* Collect every waiter (FIFO, linked through next, which dequeue left
     * free), then ready them once the lock is released. */
    goc__waiter *head = NULL, **tail = &head, *w;
    while ((w = goc__waitq_dequeue(&c->recvq)) != NULL) {
        goc__chan_zero(c, w->elem);
        w->success = false;
        *tail = w;
        tail = &w->next;
    }
    while ((w = goc__waitq_dequeue(&c->sendq)) != NULL) {
        w->success = false;
        *tail = w;
        tail = &w->next;
    }
    *tail = NULL;
    goc__chan_lock_release(&c->lock);
    while (head != NULL) {
        w = head;
        head = w->next; /* read before: w dies once its owner runs */
        goc__ready(w->g);
    }
}

/* ---- len / cap / drain ---------------------------------------------- */

size_t goc_chan_len(goc_chan *c)
{
    if (c == NULL || c->is_timer)
        return 0;
    return atomic_load_explicit(&c->qcount, memory_order_relaxed);
}

size_t goc_chan_cap(goc_chan *c)
{
    if (c == NULL || c->is_timer)
        return 0;
    return c->dataqsiz;
}

bool goc__chan_drain(goc_chan *c)
{
    if (atomic_load_explicit(&c->qcount, memory_order_relaxed) == 0)
        return false; /* nothing buffered: no lock needed */
    bool any = false;
    goc__chan_lock_acquire(&c->lock);
    while (atomic_load_explicit(&c->qcount, memory_order_relaxed) > 0) {
        goc__chan_buf_take(c, NULL);
        any = true;
    }
    goc__chan_lock_release(&c->lock);
    return any;
}
