/*
 * bench_time.c - timer benchmark (issue 3), twin of bench/go/time.go.
 * Needs the runtime, chan and time modules.
 */
#include "bench_common.h"

#if __has_include(<goc/chan.h>) && __has_include(<goc/time.h>)

/* Deadline of timer i: spread over 1..100 ms in a scrambled order, the
 * same sequence as timerDur in bench/go/time.go. */
static int64_t timer_dur(size_t i)
{
    uint32_t h = (uint32_t)i * 2654435761u + 12345u;
    h ^= h >> 15;
    return GOC_MILLISECOND + (int64_t)(h % 99000u) * GOC_MICROSECOND;
}

/* timers_100k: the main goroutine creates n timers (default 100,000)
 * with deadlines spread over 1..100 ms, then receives from each one's
 * channel. Lateness is the fire time the timer delivered minus its
 * deadline; early counts timers that fired before it. total_ms runs from
 * the first creation to the last receive. */
static void bench_timers_100k(void)
{
    size_t count = (size_t)bench_n(100000), i, early = 0;
    goc_timer **timers = calloc(count, sizeof *timers);
    int64_t *deadline = calloc(count, sizeof *deadline);
    int64_t *late = calloc(count, sizeof *late);
    int64_t t0, total, fired;
    if (timers == NULL || deadline == NULL || late == NULL)
        goc_panic("timers_100k: out of memory");
    t0 = goc_nanotime();
    for (i = 0; i < count; i++) {
        int64_t d = timer_dur(i);
        deadline[i] = goc_nanotime() + d;
        timers[i] = goc_timer_new(d);
        if (timers[i] == NULL)
            goc_panic("timers_100k: goc_timer_new failed");
    }
    for (i = 0; i < count; i++) {
        fired = 0;
        goc_chan_recv(goc_timer_chan(timers[i]), &fired);
        late[i] = fired - deadline[i];
        early += late[i] < 0;
    }
    total = goc_nanotime() - t0;
    for (i = 0; i < count; i++)
        goc_timer_free(timers[i]);
    qsort(late, count, sizeof *late, bench_cmp_i64);
    bench_report("timers_100k",
                 "total_ms=%.3f p50_late_ms=%.3f p99_late_ms=%.3f"
                 " max_late_ms=%.3f early=%zu",
                 bench_ms(total), bench_ms(bench_percentile(late, count, 50)),
                 bench_ms(bench_percentile(late, count, 99)),
                 bench_ms(late[count - 1]), early);
    free(timers);
    free(deadline);
    free(late);
}

static const bench benches[] = {
    {"timers_100k", bench_timers_100k},
};

BENCH_MAIN(benches)

#else
BENCH_SKIP_MAIN("goc/time.h")
#endif
