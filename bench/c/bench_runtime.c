/*
 * bench_runtime.c - runtime benchmarks (issue 2), twins of bench/go/runtime.go.
 *
 * Joins use goc_waitgroup (goc/sync.h), as the Go side uses sync.WaitGroup,
 * so this program needs the sync module as well as the runtime.
 */
#include "bench_common.h"

#if __has_include(<goc/sync.h>)

/* spawn_join: goroutines started in batches of 1000 (add 1000, 1000
 * goc_go, wait). ns_per_op is per goroutine started and joined. */
static void spawn_join_done(void *arg) { goc_waitgroup_done(arg); }

static void spawn_join_round(goc_waitgroup *wg, int batch)
{
    int i;
    goc_waitgroup_add(wg, batch);
    for (i = 0; i < batch; i++)
        if (goc_go(spawn_join_done, wg) != 0)
            goc_panic("spawn_join: goc_go failed");
    goc_waitgroup_wait(wg);
}

static void bench_spawn_join(void)
{
    enum { BATCH = 1000 };
    long total = bench_n(1000000), rounds = (total + BATCH - 1) / BATCH, r;
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    int64_t t0, el, f0, f1;
    for (r = 0; r < 10; r++) /* warm up: stacks, caches */
        spawn_join_round(&wg, BATCH);
    f0 = bench_minflt();
    t0 = goc_nanotime();
    for (r = 0; r < rounds; r++)
        spawn_join_round(&wg, BATCH);
    el = goc_nanotime() - t0;
    f1 = bench_minflt();
    bench_report(
        "spawn_join", "ns_per_op=%.3f goroutines_after=%lld faults_per_g=%.4f",
        (double)el / (double)(rounds * BATCH), (long long)goc_num_goroutine(),
        (double)(f1 - f0) / (double)(rounds * BATCH));
}

/* spawn_cold: spawn_join in a fresh process, without the warm-up: n
 * goroutines (default 10,000) in batches of 1000, so the first batch
 * needs new stacks (Go: new Gs and stacks). faults_per_g: minor page
 * faults of the process over the timed part, per goroutine; cpu_ms: the
 * process's CPU time over it (all threads). */
static void bench_spawn_cold(void)
{
    enum { BATCH = 1000 };
    long total = bench_n(10000), rounds = (total + BATCH - 1) / BATCH, r;
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    int64_t t0, el, f0, f1, c0, c1;
    f0 = bench_minflt();
    c0 = bench_cpu();
    t0 = goc_nanotime();
    for (r = 0; r < rounds; r++)
        spawn_join_round(&wg, BATCH);
    el = goc_nanotime() - t0;
    c1 = bench_cpu();
    f1 = bench_minflt();
    bench_report("spawn_cold", "ns_per_op=%.3f faults_per_g=%.4f cpu_ms=%.3f",
                 (double)el / (double)(rounds * BATCH),
                 (double)(f1 - f0) / (double)(rounds * BATCH),
                 bench_ms(c1 - c0));
}

/* yield_ping: two goroutines each call goc_yield n times. ns_per_op is
 * per yield. */
static long yield_iters;
static goc_waitgroup yield_wg = GOC_WAITGROUP_INIT;

static void yield_ping_partner(void *arg)
{
    long i;
    (void)arg;
    for (i = 0; i < yield_iters; i++)
        goc_yield();
    goc_waitgroup_done(&yield_wg);
}

static void bench_yield_ping(void)
{
    int64_t t0, el;
    long i;
    yield_iters = bench_n(1000000);
    goc_waitgroup_add(&yield_wg, 1);
    t0 = goc_nanotime();
    goc_go(yield_ping_partner, NULL);
    for (i = 0; i < yield_iters; i++)
        goc_yield();
    goc_waitgroup_wait(&yield_wg);
    el = goc_nanotime() - t0;
    bench_report("yield_ping", "ns_per_op=%.3f",
                 (double)el / (double)(2 * yield_iters));
}

/* park_mem: n goroutines (default 1,000,000) parked at once on a wait
 * group. bytes_per_g: RSS growth / n; cpu_pct: CPU use over 500 ms while
 * they are all parked (should be 0). Then all are released and joined. */
static goc_waitgroup park_started = GOC_WAITGROUP_INIT;
static goc_waitgroup park_gate = GOC_WAITGROUP_INIT;
static goc_waitgroup park_finished = GOC_WAITGROUP_INIT;

static void park_mem_g(void *arg)
{
    (void)arg;
    goc_waitgroup_done(&park_started);
    goc_waitgroup_wait(&park_gate);
    goc_waitgroup_done(&park_finished);
}

static void bench_park_mem(void)
{
    long count = bench_n(1000000), i;
    int64_t rss0, rss1, t0, spawn, c0, w0, c1, w1, t1, release, f0, f1;
    goc_waitgroup_add(&park_gate, 1);
    goc_waitgroup_add(&park_started, (int)count);
    goc_waitgroup_add(&park_finished, (int)count);
    rss0 = bench_rss();
    f0 = bench_minflt();
    t0 = goc_nanotime();
    for (i = 0; i < count; i++)
        if (goc_go(park_mem_g, NULL) != 0)
            goc_panic("park_mem: goc_go failed at %ld", i);
    goc_waitgroup_wait(&park_started);
    spawn = goc_nanotime() - t0;
    f1 = bench_minflt();
    rss1 = bench_rss();
    c0 = bench_cpu();
    w0 = goc_nanotime();
    goc_sleep(500 * GOC_MILLISECOND);
    c1 = bench_cpu();
    w1 = goc_nanotime();
    t1 = goc_nanotime();
    goc_waitgroup_done(&park_gate);
    goc_waitgroup_wait(&park_finished);
    release = goc_nanotime() - t1;
    bench_report("park_mem",
                 "bytes_per_g=%.3f cpu_pct=%.3f spawn_ms=%.3f release_ms=%.3f"
                 " rss_mb=%.3f spawn_ns_per_g=%.3f faults_per_g=%.4f",
                 (double)(rss1 - rss0) / (double)count,
                 100.0 * (double)(c1 - c0) / (double)(w1 - w0), bench_ms(spawn),
                 bench_ms(release), (double)rss1 / (1 << 20),
                 (double)spawn / (double)count,
                 (double)(f1 - f0) / (double)count);
}

/* sleep_100k: n goroutines (default 100,000) each sleep 100 ms; lateness
 * measured by each around its own sleep. */
static int64_t *sleep_late;
static goc_waitgroup sleep_wg = GOC_WAITGROUP_INIT;

static void sleep_g(void *arg)
{
    size_t i = (size_t)(uintptr_t)arg;
    int64_t s = goc_nanotime();
    goc_sleep(100 * GOC_MILLISECOND);
    sleep_late[i] = goc_nanotime() - s - 100 * GOC_MILLISECOND;
    goc_waitgroup_done(&sleep_wg);
}

static void bench_sleep_100k(void)
{
    size_t count = (size_t)bench_n(100000), i, early = 0;
    int64_t t0, total, f0, f1, c0, c1;
    sleep_late = calloc(count, sizeof *sleep_late);
    if (sleep_late == NULL)
        goc_panic("sleep_100k: out of memory");
    goc_waitgroup_add(&sleep_wg, (int)count);
    f0 = bench_minflt();
    c0 = bench_cpu();
    t0 = goc_nanotime();
    for (i = 0; i < count; i++)
        if (goc_go(sleep_g, (void *)(uintptr_t)i) != 0)
            goc_panic("sleep_100k: goc_go failed");
    goc_waitgroup_wait(&sleep_wg);
    total = goc_nanotime() - t0;
    c1 = bench_cpu();
    f1 = bench_minflt();
    for (i = 0; i < count; i++)
        early += sleep_late[i] < 0;
    qsort(sleep_late, count, sizeof *sleep_late, bench_cmp_i64);
    bench_report("sleep_100k",
                 "total_ms=%.3f p50_late_ms=%.3f p99_late_ms=%.3f"
                 " max_late_ms=%.3f early=%zu cpu_ms=%.3f faults_per_g=%.4f",
                 bench_ms(total),
                 bench_ms(bench_percentile(sleep_late, count, 50)),
                 bench_ms(bench_percentile(sleep_late, count, 99)),
                 bench_ms(sleep_late[count - 1]), early, bench_ms(c1 - c0),
                 (double)(f1 - f0) / (double)count);
    free(sleep_late);
}

static const bench benches[] = {
    {"spawn_join", bench_spawn_join},
    {"yield_ping", bench_yield_ping},
    {"park_mem", bench_park_mem},
    {"sleep_100k", bench_sleep_100k},
    {"spawn_cold", bench_spawn_cold},
};

BENCH_MAIN(benches)

#else
BENCH_SKIP_MAIN("goc/sync.h")
#endif
