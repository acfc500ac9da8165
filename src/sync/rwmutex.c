/*
 * rwmutex.c - sync.RWMutex (Go's sync/rwmutex.go), on goc__sema.
 *
 * reader_count counts readers that hold or want the lock. A writer first
 * takes w (excluding other writers), then subtracts RWMUTEX_MAX_READERS
 * from reader_count: from then on reader_count is negative, which tells
 * arriving readers to park on reader_sem, and the value it had says how
 * many readers are still inside; the writer adds that to reader_wait and
 * parks on writer_sem until the last of them leaves. Unlock adds
 * RWMUTEX_MAX_READERS back, releases reader_sem once per reader that
 * arrived meanwhile, and unlocks w.
 *
 * Invariants:
 *  - reader_count >= 0: no writer inside or waiting for readers;
 *    reader_count < 0: a writer holds w and reader_count +
 *    RWMUTEX_MAX_READERS readers hold or wait for the lock.
 *  - reader_wait (meaningful while a writer is pending) is the number of
 *    readers that were inside when the writer came and have not left. It
 *    may go transiently negative (a departing reader decrements it before
 *    the writer added to it); the one that brings it to 0 wakes the writer.
 *  - At most RWMUTEX_MAX_READERS - 1 concurrent readers.
 * Every operation on the counters is sequentially consistent.
 */
#include "sync/sync_internal.h"

#define RWMUTEX_MAX_READERS (1 << 30)

/* The read fast paths are inline in goc/sync.h; these are their external
 * definitions and slow paths. */
extern inline void goc_rwmutex_rlock(goc_rwmutex *rw);
extern inline void goc_rwmutex_runlock(goc_rwmutex *rw);

void goc_rwmutex_rlock_slow(goc_rwmutex *rw)
{
    /* A writer is pending: wait for it. */
    goc__sema_acquire(&rw->reader_sem, false, "sync.RWMutex.RLock",
                      "goc_rwmutex_rlock");
}

void goc_rwmutex_runlock_slow(goc_rwmutex *rw, int32_t r)
{
    if (r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS)
        goc_panic("sync: RUnlock of unlocked RWMutex");
    /* A writer is pending: the last reader it waits for wakes it. */
    if (atomic_fetch_sub(&rw->reader_wait, 1) - 1 == 0)
        goc__sema_release(&rw->writer_sem, false);
}

void goc_rwmutex_lock(goc_rwmutex *rw)
{
    /* First, resolve competition with other writers. */
    goc_mutex_lock(&rw->w);
    /* Announce to readers there is a pending writer. */
    int32_t r = atomic_fetch_sub(&rw->reader_count, RWMUTEX_MAX_READERS);
    /* Wait for active readers. */
    if (r != 0 && atomic_fetch_add(&rw->reader_wait, r) + r != 0)
        goc__sema_acquire(&rw->writer_sem, false, "sync.RWMutex.Lock",
                          "goc_rwmutex_lock");
}

void goc_rwmutex_unlock(goc_rwmutex *rw)
{
    /* Announce to readers there is no active writer. */
    int32_t r = atomic_fetch_add(&rw->reader_count, RWMUTEX_MAX_READERS) +
                RWMUTEX_MAX_READERS;
    if (r >= RWMUTEX_MAX_READERS)
        goc_panic("sync: Unlock of unlocked RWMutex");
    /* Unblock the readers that arrived while we held it. */
    for (int32_t i = 0; i < r; i++)
        goc__sema_release(&rw->reader_sem, false);
    /* Allow other writers to proceed. */
    goc_mutex_unlock(&rw->w);
}
