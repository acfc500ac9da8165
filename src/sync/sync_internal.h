/*
 * sync_internal.h - what the sync module's files share: a spinlock for the
 * short critical sections that guard wait queues, and the goroutine-aware
 * semaphore (goc__sema, declared in goc/sync.h so that it can be embedded)
 * that mutex, rwmutex and waitgroup park on. Private.
 */
#ifndef GOC_SYNC_INTERNAL_H
#define GOC_SYNC_INTERNAL_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "goc/sync.h"
#include "runtime/runtime_internal.h"

/* ---- spinlock ------------------------------------------------------ */

/*
 * A test-and-test-and-set spinlock (0 free, 1 held) for critical sections
 * of a few instructions: queueing or dequeueing a waiter. Unlike a pthread
 * mutex it is valid when zeroed, and it may be released on another stack
 * (goc__park releases it on the scheduler's stack after the switch). The
 * holder never parks, so a waiter only spins while the holder's thread is
 * preempted by the kernel: after a while it yields the thread.
 */
static inline void goc__spin_lock(_Atomic uint32_t *l)
{
    for (;;) {
        /* Pairs with the release in goc__spin_unlock. */
        if (!atomic_exchange_explicit(l, 1, memory_order_acquire))
            return;
        unsigned i = 0;
        while (atomic_load_explicit(l, memory_order_relaxed)) {
            if (++i < 128) {
                goc__cpu_relax();
            } else {
                sched_yield();
                i = 0;
            }
        }
    }
}

static inline void goc__spin_unlock(_Atomic uint32_t *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

/* goc__park unlock function releasing a spinlock: arg is the lock. */
bool goc__sync_park_unlock(goc_g *g, void *arg);

/* ---- semaphore (Go's runtime/sema.go, one queue per semaphore) ----- */

/*
 * Wait until s->count > 0 and decrement it. lifo queues the caller at the
 * head instead of the tail (a mutex waiter that was woken and lost the
 * race goes back to the front). `reason` is the park reason shown in
 * diagnostics (Go's: "sync.Mutex.Lock"...); `caller` names the public
 * call in the fatal error when a plain thread would have to wait.
 */
void goc__sema_acquire(goc__sema *s, bool lifo, const char *reason,
                       const char *caller);
/*
 * Increment s->count and wake the first waiter, if any. With handoff, the
 * count is taken on that waiter's behalf, so that nobody else can steal it,
 * and the caller yields to it (Go's direct hand-off in starvation mode).
 */
void goc__sema_release(goc__sema *s, bool handoff);

#endif
