/*
 * primitives.c - the spinlock's slow path and the semaphore
 * (primitives.h).
 *
 * The semaphore (Go's runtime/sema.go)
 * ------------------------------------
 * A goc__sema is a count plus a queue of parked goroutines. Go keeps the
 * queues in a global hash table keyed by the semaphore's address; here each
 * semaphore carries its own queue (a spinlock and a wait list of
 * goc__waiter records on the waiters' stacks), which costs 24 bytes per
 * semaphore but keeps "zeroed means valid" without any global state.
 *
 * Invariants:
 *  - head/tail and every queued waiter's links are protected by s->lock.
 *    Releasers increment count only with s->lock held, and acquirers
 *    queue only after re-checking count with s->lock held: so a waiter
 *    never queues past a release it could have taken (no lost wake-up).
 *  - A queued waiter's goroutine is parked, or switching out while still
 *    holding s->lock (goc__park releases the lock after the switch), so a
 *    releaser that dequeues it under the lock may goc__ready it.
 *  - A releaser reads everything it needs from a waiter before calling
 *    goc__ready: once ready, the record's stack frame may be gone.
 *  - Releasing a semaphore touches its memory last when it unlocks
 *    s->lock, and no acquirer returns before that: one that took the count
 *    without the lock waits until the lock is free. This is what makes it
 *    safe to free an object as soon as one can lock it, even though the
 *    goroutine that unlocked it has not returned from its unlock yet (the
 *    "lock; if (--refs == 0) { unlock; free }" pattern; POSIX requires it
 *    of pthread mutexes). A garbage-collected Go need not care.
 *
 * Lock order: a semaphore's spinlock is a leaf (nothing is taken under it
 * but the runtime's own locks inside goc__park).
 */
#include <sched.h>

#include "runtime/primitives.h"

/* Plain loads between attempts before the thread yields. */
#define SPIN_LOCK_SPINS 64

void goc__spin_lock_slow(_Atomic uint32_t *w)
{
    for (;;) {
        /* Spin on a plain load (no cache-line ping-pong) while the holder
         * runs its short critical section... */
        for (int i = 0; i < SPIN_LOCK_SPINS; i++) {
            if (atomic_load_explicit(w, memory_order_relaxed) == 0) {
                uint32_t unlocked = 0;
                if (atomic_compare_exchange_weak_explicit(w, &unlocked, 1,
                                                          memory_order_acquire,
                                                          memory_order_relaxed))
                    return;
            }
            goc__cpu_relax();
        }
        /* ...then let its thread run if the kernel preempted it. */
        sched_yield();
    }
}

bool goc__spin_park_unlock(goc_g *g, void *arg)
{
    (void)g;
    goc__spin_unlock((_Atomic uint32_t *)arg);
    return true;
}

/* ---- semaphore ----------------------------------------------------- */

static bool sema_cantake(goc__sema *s)
{
    uint32_t v = atomic_load(&s->count);
    while (v > 0) {
        if (atomic_compare_exchange_weak(&s->count, &v, v - 1))
            return true;
    }
    return false;
}

/* After taking the count without the lock: the releaser that incremented
 * it may still hold the lock; wait until it no longer touches s. The
 * acquire pairs with the release in goc__spin_unlock. */
static void sema_wait_released(goc__sema *s)
{
    unsigned i = 0;
    while (atomic_load_explicit(&s->lock, memory_order_acquire)) {
        if (++i < 128) {
            goc__cpu_relax();
        } else {
            sched_yield();
            i = 0;
        }
    }
}

bool goc__sema_tryacquire(goc__sema *s)
{
    if (!sema_cantake(s))
        return false;
    sema_wait_released(s);
    return true;
}

void goc__sema_acquire(goc__sema *s, bool lifo, const char *reason,
                       const char *caller)
{
    if (goc__sema_tryacquire(s))
        return;
    goc__require_g(caller);
    goc__waiter w = {0};
    w.g = goc__getg();
    w.obj = s;
    for (;;) {
        goc__spin_lock(&s->lock);
        if (sema_cantake(s)) {
            goc__spin_unlock(&s->lock);
            return;
        }
        w.success = false;
        goc__waitlist_push(&s->head, &s->tail, &w, lifo);
        goc__park(goc__spin_park_unlock, &s->lock, reason);
        /* Dequeued by a releaser, which was done with s before it made us
         * ready. With success it took the count for us; otherwise it is
         * there for the taking, unless a newcomer was faster. */
        if (w.success)
            return;
        if (goc__sema_tryacquire(s))
            return;
    }
}

void goc__sema_release(goc__sema *s, bool handoff)
{
    goc__spin_lock(&s->lock);
    goc__waiter *w = goc__waitlist_pop(&s->head, &s->tail);
    goc_g *g = w ? w->g : NULL;
    bool handed = w && handoff;
    if (handed) {
        /* Give the unit to the waiter directly, without passing through
         * count, so that no newcomer can steal it before it runs. */
        w->success = true;
    } else {
        atomic_fetch_add(&s->count, 1);
    }
    goc__spin_unlock(&s->lock); /* our last access to s */
    if (g) {
        /* w may be gone from here on. */
        goc__ready(g);
        /* Direct hand-off: let the waiter (just made ready on this
         * processor) run now rather than after our time slice. */
        if (handed && goc__getg() != NULL)
            goc_yield();
    }
}
