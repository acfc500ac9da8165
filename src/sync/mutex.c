/*
 * mutex.c - sync.Mutex, on the runtime's semaphore (runtime/primitives.h).
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

#include "sync/sync_internal.h"

/* ---- mutex --------------------------------------------------------- */

enum {
    MUTEX_LOCKED = 1,
    MUTEX_WOKEN = 2,
    MUTEX_STARVING = 4,
    MUTEX_WAITER_SHIFT = 3,
};

#define STARVATION_THRESHOLD_NS (1000 * 1000)
#define SPIN_PAUSES 30

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
            goc__can_spin(iter)) {
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
