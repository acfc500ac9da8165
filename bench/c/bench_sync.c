/*
 * bench_sync.c - sync benchmarks (issue 4), twins of bench/go/sync.go.
 * Needs the runtime and sync modules only.
 */
#include "bench_common.h"

#if __has_include(<goc/sync.h>)

/* Protected by the mutex under test; volatile so that the compiler keeps
 * one load and one store per critical section, as Go's does. */
static volatile long counter;

/* mutex_uncontended: lock+unlock by one goroutine. ns_per_op per pair. */
static void bench_mutex_uncontended(void)
{
    long iters = bench_n(20000000), i;
    goc_mutex mu = GOC_MUTEX_INIT;
    int64_t t0, el;
    t0 = goc_nanotime();
    for (i = 0; i < iters; i++) {
        goc_mutex_lock(&mu);
        counter++;
        goc_mutex_unlock(&mu);
    }
    el = goc_nanotime() - t0;
    bench_report("mutex_uncontended", "ns_per_op=%.3f",
                 (double)el / (double)iters);
}

/* Shared by the multi-goroutine benchmarks: run_workers starts n
 * goroutines running fn, joins them with W_wg, and hands back the wall
 * time and the process's CPU use (percent of one CPU) over the whole run.
 * Each worker does W_iters operations. */
static goc_mutex W_mu = GOC_MUTEX_INIT;
static goc_rwmutex W_rw = GOC_RWMUTEX_INIT;
static goc_waitgroup W_wg = GOC_WAITGROUP_INIT;
static goc_pool W_pool; /* goc_pool_init before use */
static long W_iters;
static long W_sink[8 * 16]; /* one cache line per reader */

static void run_workers(int n, void (*fn)(void *), int64_t *el, double *cpu)
{
    int64_t c0, t0, c1, t1;
    int w;
    c0 = bench_cpu();
    t0 = goc_nanotime();
    goc_waitgroup_add(&W_wg, n);
    for (w = 0; w < n; w++)
        if (goc_go(fn, (void *)(uintptr_t)w) != 0)
            goc_panic("goc_go failed");
    goc_waitgroup_wait(&W_wg);
    t1 = goc_nanotime();
    c1 = bench_cpu();
    *el = t1 - t0;
    *cpu = 100.0 * (double)(c1 - c0) / (double)(t1 - t0);
}

/* mutex_contended: 4 goroutines each do n/4 lock; counter++; unlock.
 * ns_per_op is wall time per pair over all of them; cpu_pct tells parking
 * from spinning. */
static void mutex_contended_g(void *arg)
{
    long i;
    (void)arg;
    for (i = 0; i < W_iters; i++) {
        goc_mutex_lock(&W_mu);
        counter++;
        goc_mutex_unlock(&W_mu);
    }
    goc_waitgroup_done(&W_wg);
}

static void bench_mutex_contended(void)
{
    enum { WORKERS = 4 };
    int64_t el;
    double cpu;
    W_iters = bench_n(4000000) / WORKERS;
    counter = 0;
    run_workers(WORKERS, mutex_contended_g, &el, &cpu);
    if (counter != WORKERS * W_iters)
        goc_panic("mutex_contended: lost update");
    bench_report("mutex_contended", "ns_per_op=%.3f cpu_pct=%.3f",
                 (double)el / (double)(WORKERS * W_iters), cpu);
}

/* rwmutex_read: 4 goroutines each do n/4 rlock+runlock. ns_per_op is wall
 * time per pair over all of them. */
static void rwmutex_read_g(void *arg)
{
    size_t w = (size_t)(uintptr_t)arg;
    volatile long *sink = &W_sink[w * 16];
    long i;
    for (i = 0; i < W_iters; i++) {
        goc_rwmutex_rlock(&W_rw);
        *sink += counter;
        goc_rwmutex_runlock(&W_rw);
    }
    goc_waitgroup_done(&W_wg);
}

static void bench_rwmutex_read(void)
{
    enum { WORKERS = 4 };
    int64_t el;
    double cpu;
    W_iters = bench_n(8000000) / WORKERS;
    run_workers(WORKERS, rwmutex_read_g, &el, &cpu);
    bench_report("rwmutex_read", "ns_per_op=%.3f cpu_pct=%.3f",
                 (double)el / (double)(WORKERS * W_iters), cpu);
}

/* waitgroup_fanout: rounds of "1000 times { add(1); goc_go(done) };
 * wait". ns_per_op is per round (one fan-out of 1000 goroutines). */
static void fanout_done(void *arg) { goc_waitgroup_done(arg); }

static void fanout_round(goc_waitgroup *wg)
{
    int i;
    for (i = 0; i < 1000; i++) {
        goc_waitgroup_add(wg, 1);
        if (goc_go(fanout_done, wg) != 0)
            goc_panic("waitgroup_fanout: goc_go failed");
    }
    goc_waitgroup_wait(wg);
}

static void bench_waitgroup_fanout(void)
{
    long rounds = bench_n(500), r;
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    int64_t t0, el;
    for (r = 0; r < 5; r++)
        fanout_round(&wg);
    t0 = goc_nanotime();
    for (r = 0; r < rounds; r++)
        fanout_round(&wg);
    el = goc_nanotime() - t0;
    bench_report("waitgroup_fanout", "ns_per_op=%.3f ns_per_g=%.3f",
                 (double)el / (double)rounds,
                 (double)el / (double)(rounds * 1000));
}

/* pool_getput: get then put of a 64-byte object, by GOCMAXPROCS
 * goroutines at once (one per processor). ns_per_op is wall time per
 * get+put pair. */
static void *pool_new(void *arg)
{
    (void)arg;
    return calloc(1, 64);
}

static void pool_g(void *arg)
{
    long i;
    (void)arg;
    for (i = 0; i < W_iters; i++) {
        unsigned char *o = goc_pool_get(&W_pool);
        o[0]++;
        goc_pool_put(&W_pool, o);
    }
    goc_waitgroup_done(&W_wg);
}

static void bench_pool_getput(void)
{
    int workers = goc_maxprocs(0);
    int64_t el;
    double cpu;
    W_iters = bench_n(20000000) / workers;
    goc_pool_init(&W_pool, pool_new, NULL);
    run_workers(workers, pool_g, &el, &cpu);
    bench_report("pool_getput", "ns_per_op=%.3f",
                 (double)el / (double)(workers * W_iters));
    goc_pool_destroy(&W_pool, free);
}

static const bench benches[] = {
    {"mutex_uncontended", bench_mutex_uncontended},
    {"mutex_contended", bench_mutex_contended},
    {"rwmutex_read", bench_rwmutex_read},
    {"waitgroup_fanout", bench_waitgroup_fanout},
    {"pool_getput", bench_pool_getput},
};

BENCH_MAIN(benches)

#else
BENCH_SKIP_MAIN("goc/sync.h")
#endif
