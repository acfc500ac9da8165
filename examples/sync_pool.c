/*
 * sync_pool.c - the book's temporary object pool example (chapter 5,
 * 临时对象池).
 *
 * A pool whose new function hands out the successive values of a counter.
 * v1: the pool is empty, so get calls new_fn: 1. Then three objects (2, 3,
 * 4) are put; v2 is one of them: the first one put, which went to this
 * processor's private slot (the others to its shared cache), as in Go: 2.
 * Go's garbage collector empties a pool at each collection,
 * which the book shows next (v3 comes from New again); C has no collector,
 * so goc never drops pooled objects behind your back: the equivalent is
 * goc_pool_destroy, which hands them to a free function. After it, the
 * pool is empty and has no new function: v4 is NULL, as Go's nil.
 *
 * Expected output:
 *   v1: 1
 *   v2: 2
 *   destroyed 2 cached objects
 *   v3: 5
 *   v4: (nil)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <goc.h>

static _Atomic int count;
static int freed;

static void *new_fn(void *arg)
{
    (void)arg;
    int *v = malloc(sizeof *v);
    if (v)
        *v = atomic_fetch_add(&count, 1) + 1;
    return v;
}

static void free_fn(void *obj)
{
    freed++;
    free(obj);
}

static int pool_demo(void *arg)
{
    (void)arg;
    goc_pool pool;
    goc_pool_init(&pool, new_fn, NULL);

    /* What new_fn is for. */
    int *v1 = goc_pool_get(&pool);
    printf("v1: %d\n", *v1);
    free(v1);

    /* Putting and getting. No park or yield in between, so this goroutine
     * stays on its processor and finds its own objects. */
    goc_pool_put(&pool, new_fn(NULL));
    goc_pool_put(&pool, new_fn(NULL));
    goc_pool_put(&pool, new_fn(NULL));
    int *v2 = goc_pool_get(&pool);
    printf("v2: %d\n", *v2);
    free(v2);

    /* Go's runtime.GC() empties the pool; here that is explicit. */
    goc_pool_destroy(&pool, free_fn);
    printf("destroyed %d cached objects\n", freed);
    goc_pool_init(&pool, new_fn, NULL);
    int *v3 = goc_pool_get(&pool);
    printf("v3: %d\n", *v3);
    free(v3);

    /* Without a new function (Go: pool.New = nil), an empty pool gives
     * NULL. */
    goc_pool_destroy(&pool, free_fn);
    goc_pool_init(&pool, NULL, NULL);
    void *v4 = goc_pool_get(&pool);
    printf("v4: %s\n", v4 ? "?" : "(nil)");
    goc_pool_destroy(&pool, free_fn);
    return 0;
}

int main(void)
{
    return goc_main(pool_demo, NULL);
}
