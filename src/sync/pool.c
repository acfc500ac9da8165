/*
 * pool.c - sync.Pool with per-processor caches.
 *
 * Each processor has a cache: a private slot, which only goroutines
 * running on that processor touch, and a shared stack behind a spinlock,
 * which other processors may steal from when their own cache is empty
 * (Go uses a lock-free deque there; a spinlock that the owner takes
 * uncontended costs about as much and is far simpler). Plain threads share
 * one more cache, slot 0, and always go through its lock.
 *
 * Why the private slot needs no atomics: goc__p_id() names the processor
 * that runs the calling goroutine, and a goroutine keeps its processor
 * until it parks, yields or enters a syscall, none of which happens inside
 * get or put. So all accesses to one processor's private slot are made by
 * whichever goroutine runs on it, one at a time; when the processor moves
 * to another thread, the scheduler's hand-over orders the accesses.
 *
 * Invariants:
 *  - p->locals, once set, never changes until destroy; so does each
 *    locals[i] once set (both installed by CAS; the loser frees its copy).
 *  - locals[1 + i]->priv: processor i's goroutines only. Everything else
 *    in a cache: its lock.
 *  - p->nlocals >= 1 + the highest index installed (monotonic).
 * Lock order: one cache lock at a time.
 */
#include <stdlib.h>

#include "sync/sync_internal.h"

#define POOL_SLOTS (GOC__MAXPROCS_LIMIT + 1)
#define POOL_SHARED_MIN 16

typedef struct goc__pool_local {
    void *priv;            /* owner processor only; slot 0: unused */
    _Atomic uint32_t lock; /* spinlock protecting shared, n, cap */
    _Atomic uint32_t n;    /* objects in shared (lock; atomic for hints) */
    uint32_t cap;          /* capacity of shared (lock) */
    void **shared;         /* stack of cached objects (lock) */
} __attribute__((aligned(64))) goc__pool_local; /* a cache line each */

_Static_assert(sizeof(goc__pool_local) == 64, "one cache line per cache");

void goc_pool_init(goc_pool *p, void *(*new_fn)(void *arg), void *arg)
{
    *p = (goc_pool){0};
    p->new_fn = new_fn;
    p->arg = arg;
}

/* The cache of slot i, or NULL when it does not exist yet. */
static goc__pool_local *pool_local(goc_pool *p, int i)
{
    goc__pool_local *_Atomic *locals =
        atomic_load_explicit(&p->locals, memory_order_acquire);
    if (locals == NULL)
        return NULL;
    return atomic_load_explicit(&locals[i], memory_order_acquire);
}

/* The cache of slot i, created if needed. Allocation failure is fatal:
 * a put cannot fail (it returns nothing, as Go's). */
static goc__pool_local *pool_local_make(goc_pool *p, int i)
{
    goc__pool_local *_Atomic *locals =
        atomic_load_explicit(&p->locals, memory_order_acquire);
    if (locals == NULL) {
        goc__pool_local *_Atomic *fresh = calloc(POOL_SLOTS, sizeof *fresh);
        if (fresh == NULL)
            goc__fatal("goc_pool_put: out of memory");
        /* Release pairs with the acquire loads of p->locals. */
        if (atomic_compare_exchange_strong_explicit(&p->locals, &locals, fresh,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire)) {
            locals = fresh;
        } else {
            free(fresh); /* locals now holds the winner's */
        }
    }
    goc__pool_local *l = atomic_load_explicit(&locals[i], memory_order_acquire);
    if (l == NULL) {
        goc__pool_local *fresh = aligned_alloc(64, sizeof *fresh);
        if (fresh == NULL)
            goc__fatal("goc_pool_put: out of memory");
        *fresh = (goc__pool_local){0};
        if (atomic_compare_exchange_strong_explicit(&locals[i], &l, fresh,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire)) {
            l = fresh;
        } else {
            free(fresh);
        }
        int32_t n = atomic_load(&p->nlocals);
        while (n < i + 1 &&
               !atomic_compare_exchange_weak(&p->nlocals, &n, i + 1)) {
        }
    }
    return l;
}

static void *shared_pop(goc__pool_local *l)
{
    void *x = NULL;
    goc__spin_lock(&l->lock);
    uint32_t n = atomic_load_explicit(&l->n, memory_order_relaxed);
    if (n > 0) {
        x = l->shared[n - 1];
        atomic_store_explicit(&l->n, n - 1, memory_order_relaxed);
    }
    goc__spin_unlock(&l->lock);
    return x;
}

static void shared_push(goc__pool_local *l, void *x)
{
    goc__spin_lock(&l->lock);
    uint32_t n = atomic_load_explicit(&l->n, memory_order_relaxed);
    if (n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : POOL_SHARED_MIN;
        void **s = realloc(l->shared, cap * sizeof *s);
        if (s == NULL)
            goc__fatal("goc_pool_put: out of memory");
        l->shared = s;
        l->cap = cap;
    }
    l->shared[n] = x;
    atomic_store_explicit(&l->n, n + 1, memory_order_relaxed);
    goc__spin_unlock(&l->lock);
}

void *goc_pool_get(goc_pool *p)
{
    int slot = goc__p_id() + 1; /* 0 on a plain thread */
    goc__pool_local *l = pool_local(p, slot);
    if (goc_likely(l != NULL)) {
        if (slot > 0 && l->priv != NULL) {
            void *x = l->priv;
            l->priv = NULL;
            return x;
        }
        /* The count read without the lock is a hint; the lock decides. */
        if (slot == 0 ||
            atomic_load_explicit(&l->n, memory_order_relaxed) > 0) {
            void *x = shared_pop(l);
            if (x != NULL)
                return x;
        }
    }
    /* Steal from the other caches, starting after ours. */
    int n = atomic_load(&p->nlocals);
    for (int k = 0; k < n; k++) {
        int i = (slot + 1 + k) % n;
        if (i == slot)
            continue;
        goc__pool_local *o = pool_local(p, i);
        if (o != NULL && atomic_load_explicit(&o->n, memory_order_relaxed)) {
            void *x = shared_pop(o);
            if (x != NULL)
                return x;
        }
    }
    return p->new_fn ? p->new_fn(p->arg) : NULL;
}

void goc_pool_put(goc_pool *p, void *x)
{
    if (x == NULL)
        return;
    int slot = goc__p_id() + 1;
    goc__pool_local *l = pool_local(p, slot);
    if (goc_unlikely(l == NULL))
        l = pool_local_make(p, slot);
    if (slot > 0 && l->priv == NULL) {
        l->priv = x;
        return;
    }
    shared_push(l, x);
}

void goc_pool_destroy(goc_pool *p, void (*free_fn)(void *obj))
{
    goc__pool_local *_Atomic *locals = atomic_load(&p->locals);
    if (locals != NULL) {
        for (int i = 0; i < POOL_SLOTS; i++) {
            goc__pool_local *l = atomic_load(&locals[i]);
            if (l == NULL)
                continue;
            if (free_fn != NULL) {
                if (l->priv != NULL)
                    free_fn(l->priv);
                for (uint32_t j = 0; j < atomic_load(&l->n); j++)
                    free_fn(l->shared[j]);
            }
            free(l->shared);
            free(l);
        }
        free(locals);
    }
    *p = (goc_pool){0};
}
