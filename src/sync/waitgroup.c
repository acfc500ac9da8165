/*
 * waitgroup.c - sync.WaitGroup (Go's sync/waitgroup.go).
 *
 * state packs the counter (high 32 bits, signed) and the number of
 * waiters (low 32 bits) so that one atomic operation sees both. Wait
 * registers itself with a CAS only while the counter is non-zero; the Add
 * that brings the counter to zero with waiters registered resets state to
 * 0 and releases the semaphore once per waiter.
 *
 * Invariants:
 *  - Once the counter is 0 and waiters > 0, no Add may run until they have
 *    all been released (otherwise: a misuse panic, as Go).
 *  - Waiters are released only by the Add that reset state; a woken waiter
 *    finds state 0 unless the group was reused too early (panic, as Go).
 * Every operation on state is sequentially consistent: the counter's
 * decrements release what the done goroutines wrote, and the waiter's
 * load/acquire of the semaphore acquires it.
 */
#include "sync/sync_internal.h"

void goc_waitgroup_add(goc_waitgroup *wg, int delta)
{
    uint64_t state =
        atomic_fetch_add(&wg->state, (uint64_t)(int64_t)delta << 32) +
        ((uint64_t)(int64_t)delta << 32);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (goc_unlikely(v < 0))
        goc_panic("sync: negative WaitGroup counter");
    if (w != 0 && delta > 0 && v == delta)
        goc_panic("sync: WaitGroup misuse: Add called concurrently with "
                  "Wait");
    if (goc_likely(v > 0 || w == 0))
        return;
    /* Counter is 0 and there are waiters: nobody may change state now
     * (Adds must not run concurrently with Wait at zero; Waits do not
     * increment a zero counter's waiters). Reset and release them. */
    if (atomic_load(&wg->state) != state)
        goc_panic("sync: WaitGroup misuse: Add called concurrently with "
                  "Wait");
    atomic_store(&wg->state, 0);
    for (; w != 0; w--)
        goc__sema_release(&wg->sema, false);
}

void goc_waitgroup_done(goc_waitgroup *wg)
{
    goc_waitgroup_add(wg, -1);
}

void goc_waitgroup_wait(goc_waitgroup *wg)
{
    uint64_t state = atomic_load(&wg->state);
    for (;;) {
        if ((int32_t)(state >> 32) == 0)
            return; /* counter is 0: nothing to wait for */
        /* Increment the waiter count (state reloaded on failure). */
        if (atomic_compare_exchange_weak(&wg->state, &state, state + 1)) {
            goc__sema_acquire(&wg->sema, false, "sync.WaitGroup.Wait",
                              "goc_waitgroup_wait");
            if (atomic_load(&wg->state) != 0)
                goc_panic("sync: WaitGroup is reused before previous Wait "
                          "has returned");
            return;
        }
    }
}
