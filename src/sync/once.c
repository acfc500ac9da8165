/*
 * once.c - sync.Once (Go's sync/once.go).
 *
 * done is set (release) only after fn has returned, and read (acquire) by
 * the fast path, so a caller that sees it set also sees what fn wrote.
 * Callers that arrive while fn runs wait on the mutex m, which the first
 * caller holds across fn; when they get it, done is set and they leave.
 * done must not be set before fn returns (a compare-and-swap on done
 * alone, the obvious implementation, would let the second caller return
 * before the initialisation it relies on has happened).
 */
#include "sync/sync_internal.h"

void goc_once_do(goc_once *o, void (*fn)(void *arg), void *arg)
{
    /* Fast path: one load. Pairs with the release store below. */
    if (goc_likely(atomic_load_explicit(&o->done, memory_order_acquire)))
        return;
    if (goc__getg() != NULL)
        goc_mutex_lock(&o->m);
    else if (!goc_mutex_trylock(&o->m))
        goc__require_g("goc_once_do"); /* a plain thread cannot wait */
    if (atomic_load_explicit(&o->done, memory_order_relaxed) == 0) {
        fn(arg);
        atomic_store_explicit(&o->done, 1, memory_order_release);
    }
    goc_mutex_unlock(&o->m);
}
