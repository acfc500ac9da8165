/*
 * mutex.c - sync.Mutex, and the goroutine-aware semaphore that every
 * blocking primitive of this module parks on.
 *
 * The semaphore (Go's runtime/sema.go)
 * ------------------------------------
 * A goc__sema is a count plus a queue of parked goroutines. Go keeps the
 * queues in a global hash table keyed by the semaphore's address; here each
 * semaphore carries its own queue (a spinlock and an intrusive list of
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
 *
 * The mutex (Go's sync/mutex.go)
 * ------------------------------
 * state packs mutexLocked (bit 0), mutexWoken (bit 1: a waiter has been
 * woken, or a spinner is about to take the lock, so unlock need not wake
 * another one), mutexStarving (bit 2) and the number of waiters (bits 3+).
 *
 * Normal mode: waiters queue FIFO, but a woken waiter does not own the
 * mutex: it competes with newcomers, which usually win because they are
 * already running. A waiter that lost goes back to the front of the queue.
 * That gives the best throughput (a goroutine can take a mutex many times
 * in a row without a switch). A waiter that has waited more than 1 ms sets
 * the starving bit. Starvation mode: unlock hands the mutex directly to
 * the first waiter (the semaphore's handoff), newcomers neither take it nor
 * spin but queue at the tail. The last waiter, or one that waited less
 * than 1 ms, switches back to normal mode.
 *
 * The uncontended lock (one compare-and-swap) and unlock (one atomic
 * subtraction) are inline in goc/sync.h; the rest is here.
 *
 * Spinning: on more than one processor a contended lock first spins a
 * little (4 rounds of 30 pause instructions), as Go's does, while the lock
 * is held and not starving: a holder on another processor often releases
 * within that time, and a park plus a wake-up costs far more.
 */
#include <errno.h>

#include "runtime/sched.h"
#include "sync/sync_internal.h"

/* ---- semaphore ----------------------------------------------------- */

bool goc__sync_park_unlock(goc_g *g, void *arg)
{
    (void)g;
    goc__spin_unlock((_Atomic uint32_t *)arg);
    return true;
}

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

/* Queue w (s->lock held). */
static void sema_enqueue(goc__sema *s, goc__waiter *w, bool lifo)
{
    if (lifo) {
        w->prev = NULL;
        w->next = s->head;
        if (s->head)
            s->head->prev = w;
        else
            s->tail = w;
        s->head = w;
    } else {
        w->next = NULL;
        w->prev = s->tail;
        if (s->tail)
            s->tail->next = w;
        else
            s->head = w;
        s->tail = w;
    }
}

/* Dequeue the first waiter, or NULL (s->lock held). */
static goc__waiter *sema_dequeue(goc__sema *s)
{
    goc__waiter *w = s->head;
    if (w) {
        s->head = w->next;
        if (s->head)
            s->head->prev = NULL;
        else
            s->tail = NULL;
        w->next = w->prev = NULL;
    }
    return w;
}

void goc__sema_acquire(goc__sema *s, bool lifo, const char *reason,
                       const char *caller)
{
    if (sema_cantake(s)) {
        sema_wait_released(s);
        return;
    }
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
        sema_enqueue(s, &w, lifo);
        goc__park(goc__sync_park_unlock, &s->lock, reason);
        /* Dequeued by a releaser, which was done with s before it made us
         * ready. With success it took the count for us; otherwise it is
         * there for the taking, unless a newcomer was faster. */
        if (w.success)
            return;
        if (sema_cantake(s)) {
            sema_wait_released(s);
            return;
        }
    }
}

void goc__sema_release(goc__sema *s, bool handoff)
{
    goc__spin_lock(&s->lock);
    goc__waiter *w = sema_dequeue(s);
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

/* ---- mutex --------------------------------------------------------- */

enum {
    MUTEX_LOCKED = 1,
    MUTEX_WOKEN = 2,
    MUTEX_STARVING = 4,
    MUTEX_WAITER_SHIFT = 3,
};

#define STARVATION_THRESHOLD_NS (1000 * 1000)
#define SPIN_ROUNDS 4
#define SPIN_PAUSES 30

/*
 * Go's runtime_canSpin: spin only a few rounds, only with several
 * processors of which at least one other is running goroutines (the holder
 * may be there), and only when ours has nothing else to run. This reads
 * the scheduler's counters directly (racy hints, atomics): goc_maxprocs(0)
 * takes the scheduler lock.
 * TODO(runtime): a lock-free accessor in runtime_internal.h would keep
 * sync out of runtime/sched.h.
 */
static bool can_spin(int iter)
{
    if (iter >= SPIN_ROUNDS)
        return false;
    int32_t procs =
        atomic_load_explicit(&goc__sc.gomaxprocs, memory_order_relaxed);
    if (procs <= 1 ||
        procs <= atomic_load_explicit(&goc__sc.npidle, memory_order_relaxed) +
                     atomic_load_explicit(&goc__sc.nmspinning,
                                          memory_order_relaxed) +
                     1)
        return false;
    goc_m *m = goc__getm();
    goc_p *p = m ? m->p : NULL;
    if (p != NULL &&
        (atomic_load_explicit(&p->runqhead, memory_order_relaxed) !=
             atomic_load_explicit(&p->runqtail, memory_order_relaxed) ||
         atomic_load_explicit(&p->runnext, memory_order_relaxed) != NULL))
        return false;
    return true;
}

static void do_spin(void)
{
    for (int i = 0; i < SPIN_PAUSES; i++)
        goc__cpu_relax();
}

static void mutex_lock_slow(goc_mutex *m)
{
    int64_t wait_start = 0;
    bool starving = false;
    bool awoke = false;
    int iter = 0;
    int32_t old = atomic_load(&m->state);
    for (;;) {
        /* Spin while locked in normal mode. Set the woken flag so that
         * unlock does not wake a waiter that would only compete with us. */
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED &&
            can_spin(iter)) {
            if (!awoke && !(old & MUTEX_WOKEN) &&
                (old >> MUTEX_WAITER_SHIFT) != 0 &&
                atomic_compare_exchange_strong(&m->state, &old,
                                               old | MUTEX_WOKEN))
                awoke = true;
            do_spin();
            iter++;
            old = atomic_load(&m->state);
            continue;
        }
        int32_t nstate = old;
        /* Don't try to take a starving mutex: newcomers must queue. */
        if (!(old & MUTEX_STARVING))
            nstate |= MUTEX_LOCKED;
        if (old & (MUTEX_LOCKED | MUTEX_STARVING))
            nstate += 1 << MUTEX_WAITER_SHIFT;
        /* Switch to starvation mode, unless the mutex is free by now (an
         * unlock expects waiters in a starving mutex). */
        if (starving && (old & MUTEX_LOCKED))
            nstate |= MUTEX_STARVING;
        if (awoke) {
            if (!(nstate & MUTEX_WOKEN))
                goc__fatal("sync: inconsistent mutex state");
            nstate &= ~MUTEX_WOKEN;
        }
        if (atomic_compare_exchange_strong(&m->state, &old, nstate)) {
            if (!(old & (MUTEX_LOCKED | MUTEX_STARVING)))
                return; /* locked with the CAS */
            /* Waited before: go back to the front of the queue. */
            bool lifo = wait_start != 0;
            if (wait_start == 0)
                wait_start = goc_nanotime();
            goc__sema_acquire(&m->sema, lifo, "sync.Mutex.Lock",
                              "goc_mutex_lock");
            starving = starving ||
                       goc_nanotime() - wait_start > STARVATION_THRESHOLD_NS;
            old = atomic_load(&m->state);
            if (old & MUTEX_STARVING) {
                /* Handed to us: the state still says unlocked with us
                 * among the waiters. Fix it up. */
                if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) ||
                    (old >> MUTEX_WAITER_SHIFT) == 0)
                    goc__fatal("sync: inconsistent mutex state");
                int32_t delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
                /* Leave starvation mode when the queue is drained or we
                 * did not wait long: it costs throughput, and two
                 * goroutines could otherwise stay in lock step. */
                if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1)
                    delta -= MUTEX_STARVING;
                atomic_fetch_add(&m->state, delta);
                return;
            }
            awoke = true;
            iter = 0;
        } else {
            /* old was reloaded by the failed CAS. */
        }
    }
}

/* The fast paths are inline in goc/sync.h; these are their external
 * definitions (C11 6.7.4: an extern declaration in one translation unit). */
extern inline void goc_mutex_lock(goc_mutex *m);
extern inline void goc_mutex_unlock(goc_mutex *m);

void goc_mutex_lock_slow(goc_mutex *m)
{
    mutex_lock_slow(m);
}

bool goc_mutex_trylock(goc_mutex *m)
{
    int32_t old = atomic_load_explicit(&m->state, memory_order_relaxed);
    if (old & (MUTEX_LOCKED | MUTEX_STARVING))
        return false;
    /* Waiters or a woken spinner may be there: like Go's TryLock we may
     * still take a free mutex from under them (normal mode allows it). */
    return atomic_compare_exchange_strong_explicit(
        &m->state, &old, old | MUTEX_LOCKED, memory_order_acquire,
        memory_order_relaxed);
}

static void mutex_unlock_slow(goc_mutex *m, int32_t nstate)
{
    if (!((nstate + MUTEX_LOCKED) & MUTEX_LOCKED))
        goc_panic("sync: unlock of unlocked mutex");
    if (!(nstate & MUTEX_STARVING)) {
        int32_t old = nstate;
        for (;;) {
            /* Nobody to wake, or someone already woken / locked it /
             * it went starving (then that path hands it over). */
            if ((old >> MUTEX_WAITER_SHIFT) == 0 ||
                (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)))
                return;
            nstate = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
            if (atomic_compare_exchange_strong(&m->state, &old, nstate)) {
                goc__sema_release(&m->sema, false);
                return;
            }
        }
    } else {
        /* Starvation mode: hand the mutex to the first waiter. The locked
         * bit stays clear; the waiter sets it. Newcomers see the starving
         * bit and queue instead of taking it. */
        goc__sema_release(&m->sema, true);
    }
}

void goc_mutex_unlock_slow(goc_mutex *m, int32_t state)
{
    mutex_unlock_slow(m, state);
}
