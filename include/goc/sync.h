/*
 * goc/sync.h - Go's sync package and context.Context, for goroutines.
 *
 * Every primitive here parks the goroutine, never the thread: a goroutine
 * waiting for a mutex, a condition, a wait group or a once costs no OS
 * thread, and its processor runs other goroutines meanwhile.
 *
 * Value types (goc_mutex, goc_rwmutex, goc_cond, goc_once, goc_waitgroup,
 * goc_pool) are embedded by value, are valid when zeroed (static storage,
 * calloc, `= {0}`), have a static initializer, and must not be copied or
 * moved after first use (waiters hold pointers into them). Their fields are
 * private: use the functions. goc_context is an opaque heap object.
 *
 * Plain threads (threads that are not running a goroutine, e.g. created by
 * pthread_create, or any thread outside goc_main): every call that never
 * waits works from them (unlock, trylock, signal, broadcast, wait group
 * add/done, pool get/put, every context call). A call that must wait
 * (a contended lock, cond wait, wait on a non-zero wait group, a once whose
 * function is running) cannot park a thread: it is a fatal error naming
 * the call, never a hang. Each function below says which case it is in.
 * Beware that while a plain thread holds a lock that goroutines wait for,
 * the runtime's deadlock detector cannot know that the thread will release
 * it: if every goroutine is blocked meanwhile, it reports a deadlock.
 *
 * Atomic operations are C11 <stdatomic.h>; docs/sync.md shows the Go
 * sync/atomic idioms with it. Nothing here wraps it.
 */
#ifndef GOC_SYNC_H
#define GOC_SYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc/extern.h"
#include "goc/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

struct goc__waiter;
struct goc_chan;

/*
 * Private: a goroutine-aware counting semaphore with its own FIFO wait
 * queue (Go's runtime semaphore, one per object instead of a global hash
 * table, so that a zeroed struct is a valid semaphore). Fields: count is
 * the semaphore value (atomic; incremented with lock held); lock a
 * spinlock protecting head/tail (a list of goc__waiter records on the
 * parked goroutines' stacks).
 */
typedef struct goc__sema {
    _Atomic uint32_t count;
    _Atomic uint32_t lock;
    struct goc__waiter *head;
    struct goc__waiter *tail;
} goc__sema;

/* ---- Mutex --------------------------------------------------------- */

/*
 * goc_mutex - sync.Mutex, a mutual exclusion lock.
 *
 * Go's algorithm: in normal mode a woken waiter competes with newly
 * arriving goroutines (which usually win: they are already running), and
 * waiters queue in FIFO order. A waiter that has waited for more than 1 ms
 * switches the mutex to starvation mode, in which unlock hands the mutex
 * directly to the waiter at the head of the queue and newcomers queue at
 * the tail without trying: no waiter waits unboundedly. The uncontended
 * lock is one compare-and-swap, the uncontended unlock one atomic add.
 *
 * A mutex is not tied to a goroutine: one goroutine may lock it and
 * another unlock it. Not recursive: locking a mutex twice from the same
 * goroutine blocks forever (the deadlock detector reports it when nothing
 * else can run).
 */
typedef struct goc_mutex {
    _Atomic int32_t state; /* locked | woken | starving | waiters << 3 */
    goc__sema sema;
} goc_mutex;

#define GOC_MUTEX_INIT                                                         \
    {                                                                          \
        0                                                                      \
    }

/* Lock m, parking the goroutine while another holds it.
 * Plain thread: takes a free mutex (spinning briefly for a held one when
 * there are several processors); having to park is a fatal error. */
GOC_EXTERN inline void goc_mutex_lock(goc_mutex *m);
/* Lock m if that needs no waiting; true if locked. Any thread. Like Go's
 * TryLock, it fails while the mutex is in starvation mode. */
GOC_EXTERN bool goc_mutex_trylock(goc_mutex *m);
/* Unlock m. Unlocking an unlocked mutex panics with
 * "sync: unlock of unlocked mutex". Any thread. */
GOC_EXTERN inline void goc_mutex_unlock(goc_mutex *m);

/* ---- RWMutex ------------------------------------------------------- */

/*
 * goc_rwmutex - sync.RWMutex: any number of readers or one writer.
 *
 * Writer preference, as Go: once a writer is waiting for the lock, new
 * readers wait until that writer has had it, so a stream of readers cannot
 * starve writers; the readers that were waiting when the writer unlocks all
 * get it before the next writer. Consequently a goroutine must not take a
 * read lock recursively (a writer arriving in between deadlocks both).
 * A read lock held by one goroutine may be released by another.
 */
typedef struct goc_rwmutex {
    goc_mutex w;                  /* held by the writer, or the one waiting */
    goc__sema writer_sem;         /* writer waits here for departing readers */
    goc__sema reader_sem;         /* readers wait here for the writer */
    _Atomic int32_t reader_count; /* readers; - 2^30 while a writer is in */
    _Atomic int32_t reader_wait;  /* readers the writer still waits for */
} goc_rwmutex;

#define GOC_RWMUTEX_INIT                                                       \
    {                                                                          \
        0                                                                      \
    }

/* Lock for reading. Plain thread: fatal if it must wait (a writer holds or
 * waits for the lock). */
GOC_EXTERN inline void goc_rwmutex_rlock(goc_rwmutex *rw);
/* Undo one rlock. Panics "sync: RUnlock of unlocked RWMutex" when no read
 * lock is held. Any thread. */
GOC_EXTERN inline void goc_rwmutex_runlock(goc_rwmutex *rw);
/* Lock for writing: waits for other writers and for the current readers.
 * Plain thread: fatal if it must wait. */
GOC_EXTERN void goc_rwmutex_lock(goc_rwmutex *rw);
/* Unlock for writing. Panics "sync: Unlock of unlocked RWMutex" when it is
 * not write-locked. Any thread. */
GOC_EXTERN void goc_rwmutex_unlock(goc_rwmutex *rw);

/*
 * Fast paths, inline (C99/C11 inline definitions: the library holds the
 * external definitions, so taking their address works and -O0 builds call
 * them). Each is the single atomic operation of the uncontended case, as
 * Go inlines its own; everything else is in the library. The orders:
 * lock's acquire and unlock's release pair with each other; the reader
 * count's operations are sequentially consistent, as Go's.
 *
 * The *_slow functions below are the contended paths those inline bodies
 * call. They are part of the ABI (a program's inlined fast path calls
 * them), hence public names, but not for direct use: call the lock and
 * unlock functions above.
 */
GOC_EXTERN void goc_mutex_lock_slow(goc_mutex *m);
GOC_EXTERN void goc_mutex_unlock_slow(goc_mutex *m, int32_t state);
GOC_EXTERN void goc_rwmutex_rlock_slow(goc_rwmutex *rw);
GOC_EXTERN void goc_rwmutex_runlock_slow(goc_rwmutex *rw, int32_t r);

inline void goc_mutex_lock(goc_mutex *m)
{
    int32_t unlocked = 0;
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(
                             &m->state, &unlocked, 1, memory_order_acquire,
                             memory_order_relaxed),
                         1))
        return;
    goc_mutex_lock_slow(m);
}

inline void goc_mutex_unlock(goc_mutex *m)
{
    int32_t state =
        atomic_fetch_sub_explicit(&m->state, 1, memory_order_release) - 1;
    if (__builtin_expect(state != 0, 0))
        goc_mutex_unlock_slow(m, state);
}

inline void goc_rwmutex_rlock(goc_rwmutex *rw)
{
    if (__builtin_expect(atomic_fetch_add(&rw->reader_count, 1) + 1 < 0, 0))
        goc_rwmutex_rlock_slow(rw); /* a writer is pending */
}

inline void goc_rwmutex_runlock(goc_rwmutex *rw)
{
    int32_t r = atomic_fetch_sub(&rw->reader_count, 1) - 1;
    if (__builtin_expect(r < 0, 0))
        goc_rwmutex_runlock_slow(rw, r);
}

/* ---- Cond ---------------------------------------------------------- */

/*
 * goc_cond - sync.Cond, a condition variable bound to a lock (Go's Cond.L):
 * a goc_mutex (goc_cond_init), or the read side of a goc_rwmutex
 * (goc_cond_init_rlocker, Go's sync.NewCond(rw.RLocker())).
 *
 * The contract, as Go's: goc_cond_wait unlocks the lock, parks, and locks
 * it again before returning. A return does not mean that the condition
 * waited for holds (another goroutine may have changed it between the
 * signal and the relock, and a broadcast wakes everybody), so always wait
 * in a loop that rechecks the condition with the lock held:
 *
 *     goc_mutex_lock(&mu);
 *     while (!ready)
 *         goc_cond_wait(&cond);
 *     ... use the state ...
 *     goc_mutex_unlock(&mu);
 *
 * Signals are not remembered: a signal with nobody waiting is lost, which
 * is why the condition lives in shared state guarded by the lock. Signal
 * and broadcast may be called with or without the lock held. Waiters are
 * woken in the order they started waiting.
 */
typedef struct goc_cond {
    void *locker;             /* the goc_mutex or goc_rwmutex; set by init */
    int kind;                 /* 0: mutex, 1: read side of an rwmutex */
    _Atomic uint32_t wait;    /* ticket of the next waiter (atomic) */
    _Atomic uint32_t notify;  /* ticket of the next to notify (lock) */
    _Atomic uint32_t lock;    /* spinlock protecting notify, head, tail */
    struct goc__waiter *head; /* waiters in ticket order (lock) */
    struct goc__waiter *tail;
} goc_cond;

/* Static initializer: GOC_COND_INIT(&mu) for a goc_mutex mu. */
#define GOC_COND_INIT(mutex_ptr)                                               \
    {                                                                          \
        (void *)(mutex_ptr), 0, 0, 0, 0, 0, 0                                  \
    }

/* Bind c (zeroed or unused) to the mutex m. */
GOC_EXTERN void goc_cond_init(goc_cond *c, goc_mutex *m);
/* Bind c to the read lock of rw: wait does runlock ... rlock. */
GOC_EXTERN void goc_cond_init_rlocker(goc_cond *c, goc_rwmutex *rw);
/* Atomically unlock the lock and park until signalled; relock; return.
 * The caller must hold the lock. Goroutine only (fatal on a plain thread,
 * and on a cond that was never bound to a lock). */
GOC_EXTERN void goc_cond_wait(goc_cond *c);
/* Wake the goroutine that has waited longest, if any. Any thread. */
GOC_EXTERN void goc_cond_signal(goc_cond *c);
/* Wake every waiting goroutine. Any thread. */
GOC_EXTERN void goc_cond_broadcast(goc_cond *c);

/* ---- Once ---------------------------------------------------------- */

/*
 * goc_once - sync.Once: goc_once_do(o, fn, arg) calls fn(arg) only the
 * first time it is called for o, whatever fn and arg later calls pass.
 * Every call returns only after that first fn(arg) has returned, so what
 * fn initialised is visible to all of them. fn must return normally: if it
 * ends its goroutine (goc_exit) the once stays "running" for ever, and if
 * it calls goc_once_do on the same once it deadlocks.
 * Plain thread: fine, except that waiting for a first call still running
 * in another goroutine is a fatal error.
 */
typedef struct goc_once {
    _Atomic uint32_t done; /* 1 once fn has returned (release) */
    goc_mutex m;           /* held while fn runs */
} goc_once;

#define GOC_ONCE_INIT                                                          \
    {                                                                          \
        0                                                                      \
    }

GOC_EXTERN void goc_once_do(goc_once *o, void (*fn)(void *arg), void *arg);

/* ---- WaitGroup ----------------------------------------------------- */

/*
 * goc_waitgroup - sync.WaitGroup: waits for a collection of goroutines to
 * finish. Call goc_waitgroup_add(wg, n) before starting the goroutines
 * (not from inside them), goc_waitgroup_done(wg) in each, and
 * goc_waitgroup_wait(wg) to wait until the counter is zero. A wait group
 * may be reused once every previous wait has returned.
 */
typedef struct goc_waitgroup {
    _Atomic uint64_t state; /* counter << 32 | number of waiters */
    goc__sema sema;         /* waiters park here */
} goc_waitgroup;

#define GOC_WAITGROUP_INIT                                                     \
    {                                                                          \
        0                                                                      \
    }

/* Add delta (may be negative) to the counter; at zero, release every
 * waiter. A counter below zero panics "sync: negative WaitGroup counter".
 * Any thread. */
GOC_EXTERN void goc_waitgroup_add(goc_waitgroup *wg, int delta);
/* goc_waitgroup_add(wg, -1). Any thread. */
GOC_EXTERN void goc_waitgroup_done(goc_waitgroup *wg);
/* Wait until the counter is zero. Returns at once if it is; otherwise
 * goroutine only (fatal on a plain thread). */
GOC_EXTERN void goc_waitgroup_wait(goc_waitgroup *wg);

/* ---- Pool ---------------------------------------------------------- */

/*
 * goc_pool - sync.Pool: a cache of allocated but unused objects, to take
 * pressure off the allocator. Each processor has its own cache (a private
 * slot, then a small stack that other processors may steal from), so get
 * and put take no lock in the common case; goc_pool_get after goc_pool_put
 * on the same processor, with no park or yield in between, returns the
 * object just put. Which object a get returns is otherwise unspecified:
 * callers must not rely on getting back any particular one, and objects
 * from the pool must be (re)initialised as needed.
 *
 * Unlike Go's, nothing is ever dropped behind the user's back (there is no
 * garbage collector to clear the pool): every object put stays cached
 * until a get takes it or goc_pool_destroy hands it to free_fn.
 *
 * Plain threads share one extra cache behind a spinlock: they may get and
 * put too, a little slower. Do not use a pool between goc_syscall_begin
 * and goc_syscall_end (the processor may be lent to another thread).
 */
typedef struct goc_pool {
    void *(*new_fn)(void *arg); /* makes an object when the pool is empty */
    void *arg;                  /* passed to new_fn */
    /* Caches: slot 0 is shared by plain threads, slot 1 + i belongs to
     * processor i. The array is allocated by the first put, each cache by
     * the first put that needs it; both are atomic and live until
     * destroy. nlocals: 1 + the highest slot installed (atomic). */
    struct goc__pool_local *_Atomic *_Atomic locals;
    _Atomic int32_t nlocals;
} goc_pool;

/* Static initializer: GOC_POOL_INIT(new_fn, arg). A zeroed pool is a
 * valid pool without new_fn (get returns NULL when it is empty). */
#define GOC_POOL_INIT(new_fn, arg)                                             \
    {                                                                          \
        (new_fn), (arg), 0, 0                                                  \
    }

/* Initialise p (new_fn may be NULL). */
GOC_EXTERN void goc_pool_init(goc_pool *p, void *(*new_fn)(void *arg),
                              void *arg);
/* An object from the pool, or new_fn(arg) when it is empty, or NULL when
 * there is no new_fn. Any thread. */
GOC_EXTERN void *goc_pool_get(goc_pool *p);
/* Give x (not NULL; NULL is ignored) to the pool. Any thread. Runs out of
 * memory only as a fatal error (it needs a little to grow its caches). */
GOC_EXTERN void goc_pool_put(goc_pool *p, void *x);
/* Hand every cached object to free_fn (NULL: drop them without a call),
 * free the caches, and leave p zeroed. Nobody may use p meanwhile. */
GOC_EXTERN void goc_pool_destroy(goc_pool *p, void (*free_fn)(void *obj));

/* ---- Context ------------------------------------------------------- */

/*
 * goc_context - context.Context: cancellation, deadlines and timeouts that
 * flow down a tree of contexts.
 *
 * Every context but the background one has a parent. A context is
 * cancelled, once, by the first of: goc_context_cancel on it, the
 * cancellation of its parent (with the parent's error), its deadline
 * passing (-ETIMEDOUT), or goc_context_free. Cancelling closes its done
 * channel (exactly once), sets its error, and cancels every descendant.
 * Cancelling a child never affects its parent.
 *
 * Memory: each context made by a goc_context_with_* call must be freed
 * with goc_context_free (Go's `defer cancel()`), which also cancels it.
 * A parent may be freed before its children: they are cancelled, and the
 * parent's memory lives on until the last child is freed. After the free
 * nobody may use that context or its done channel.
 *
 * All of these calls are non-blocking and work from any thread; a context
 * with a deadline in the future needs the runtime for its timer (made
 * outside goc_main, it is a fatal error).
 */
typedef struct goc_context goc_context;

/* The root context: never cancelled, no deadline, done channel NULL (a
 * receive from it blocks forever; in a select it is never ready). Static:
 * goc_context_free ignores it. */
GOC_EXTERN goc_context *goc_context_background(void);
/* A cancellable child of parent. NULL only when out of memory. */
GOC_EXTERN goc_context *goc_context_with_cancel(goc_context *parent);
/* A child cancelled with -ETIMEDOUT at goc_nanotime() + timeout. */
GOC_EXTERN goc_context *goc_context_with_timeout(goc_context *parent,
                                                 int64_t timeout);
/* A child cancelled with -ETIMEDOUT at deadline (absolute goc_nanotime()).
 * A deadline already past gives a context that is already cancelled; a
 * parent's earlier deadline wins (it cancels the child first). 0 means no
 * deadline (as goc_context_with_cancel). */
GOC_EXTERN goc_context *goc_context_with_deadline(goc_context *parent,
                                                  int64_t deadline);
/* The channel closed when ctx is cancelled (no value is ever sent on it:
 * receive, or select on it). Owned by ctx. NULL for background. */
GOC_EXTERN struct goc_chan *goc_context_done(goc_context *ctx);
/* 0 while ctx is not cancelled; then -ECANCELED, or -ETIMEDOUT when its
 * deadline (or an ancestor's) cancelled it. Once a receive from the done
 * channel returned, err is non-zero. */
GOC_EXTERN int goc_context_err(goc_context *ctx);
/* The deadline of ctx (the earliest of its own and its ancestors'), or 0
 * when it has none. */
GOC_EXTERN int64_t goc_context_deadline(goc_context *ctx);
/* Cancel ctx and its descendants with -ECANCELED (no effect when it is
 * cancelled already). */
GOC_EXTERN void goc_context_cancel(goc_context *ctx);
/* Cancel ctx and release it (see Memory above). NULL is ignored. */
GOC_EXTERN void goc_context_free(goc_context *ctx);

#ifdef __cplusplus
}
#endif
#endif
