/*
 * sanitizer.c - the ThreadSanitizer fiber pool (see sanitizer.h). Empty in
 * other builds.
 */
#include "runtime/sanitizer.h"

#ifdef GOC_TSAN
#include <pthread.h>
#include <stdlib.h>

/* Protected by pool_lock. Fibers are never destroyed: a reused fiber is
 * like a reused thread, ordered by the scheduler's own synchronisation. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void **pool;
static size_t pool_n, pool_cap;

void *goc__tsan_fiber_get(void)
{
    void *f = NULL;
    pthread_mutex_lock(&pool_lock);
    if (pool_n)
        f = pool[--pool_n];
    pthread_mutex_unlock(&pool_lock);
    return f ? f : __tsan_create_fiber(0);
}

void goc__tsan_fiber_put(void *fiber)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_n == pool_cap) {
        size_t cap = pool_cap ? pool_cap * 2 : 256;
        void **p = realloc(pool, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&pool_lock);
            __tsan_destroy_fiber(fiber);
            return;
        }
        pool = p;
        pool_cap = cap;
    }
    pool[pool_n++] = fiber;
    pthread_mutex_unlock(&pool_lock);
}
#else
typedef int goc__sanitizer_c_is_not_empty;
#endif
