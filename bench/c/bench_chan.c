/*
 * bench_chan.c - channel and select benchmarks (issue 3), twins of
 * bench/go/chan.go. Needs the runtime and chan modules only.
 */
#include "bench_common.h"

#if __has_include(<goc/chan.h>)

/* pingpong: unbuffered round trip between the main goroutine and a
 * partner. ns_per_op is per round trip. */
struct pingpong {
    goc_chan *ping, *pong;
};

static void pingpong_partner(void *arg)
{
    struct pingpong *pp = arg;
    long v;
    for (;;) {
        goc_chan_recv(pp->ping, &v);
        if (v < 0)
            return;
        goc_chan_send(pp->pong, &v);
    }
}

static void bench_pingpong(void)
{
    long iters = bench_n(500000), i, v;
    struct pingpong pp = {goc_chan_make(sizeof(long), 0),
                          goc_chan_make(sizeof(long), 0)};
    int64_t t0, el;
    goc_go(pingpong_partner, &pp);
    for (i = 0; i < 1000; i++) { /* warm up */
        goc_chan_send(pp.ping, &i);
        goc_chan_recv(pp.pong, &v);
    }
    t0 = goc_nanotime();
    for (i = 0; i < iters; i++) {
        goc_chan_send(pp.ping, &i);
        goc_chan_recv(pp.pong, &v);
    }
    el = goc_nanotime() - t0;
    v = -1;
    goc_chan_send(pp.ping, &v);
    bench_report("pingpong", "ns_per_op=%.3f", (double)el / (double)iters);
}

/* buffered: one producer sends n longs into a channel of capacity 128 and
 * closes it; the main goroutine receives until closed. ns_per_op is per
 * element. cpu_blocked_pct: CPU use while the main goroutine waits 300 ms
 * on an empty buffered channel (should be 0). */
struct buffered {
    goc_chan *c;
    long iters;
};

static void buffered_producer(void *arg)
{
    struct buffered *b = arg;
    long i;
    for (i = 0; i < b->iters; i++)
        goc_chan_send(b->c, &i);
    goc_chan_close(b->c);
}

static void buffered_late_sender(void *arg)
{
    long one = 1;
    goc_sleep(300 * GOC_MILLISECOND);
    goc_chan_send(arg, &one);
}

static void bench_buffered(void)
{
    struct buffered b = {goc_chan_make(sizeof(long), 128), bench_n(5000000)};
    goc_chan *idle = goc_chan_make(sizeof(long), 128);
    long v, sum = 0;
    int64_t t0, el, c0, w0, c1, w1;
    t0 = goc_nanotime();
    goc_go(buffered_producer, &b);
    while (goc_chan_recv(b.c, &v))
        sum += v;
    el = goc_nanotime() - t0;
    if (sum != b.iters * (b.iters - 1) / 2)
        goc_panic("buffered: wrong sum");

    goc_go(buffered_late_sender, idle);
    c0 = bench_cpu();
    w0 = goc_nanotime();
    goc_chan_recv(idle, &v);
    c1 = bench_cpu();
    w1 = goc_nanotime();
    bench_report("buffered", "ns_per_op=%.3f cpu_blocked_pct=%.3f",
                 (double)el / (double)b.iters,
                 100.0 * (double)(c1 - c0) / (double)(w1 - w0));
    goc_chan_free(b.c);
    goc_chan_free(idle);
}

/* select_ready2: a blocking select over two receive cases that are both
 * ready every time (both channels prefilled with n values). ns_per_op is
 * per select; pct_first is how often the first case won (fair: 50). */
static void bench_select_ready2(void)
{
    long iters = bench_n(1000000), i, v, first = 0;
    goc_chan *c1 = goc_chan_make(sizeof(long), (size_t)iters);
    goc_chan *c2 = goc_chan_make(sizeof(long), (size_t)iters);
    goc_case cases[2] = {{.ch = c1, .dir = GOC_RECV, .elem = &v},
                         {.ch = c2, .dir = GOC_RECV, .elem = &v}};
    int64_t t0, el;
    for (i = 0; i < iters; i++) {
        goc_chan_send(c1, &i);
        goc_chan_send(c2, &i);
    }
    t0 = goc_nanotime();
    for (i = 0; i < iters; i++)
        first += goc_select(cases, 2, false) == 0;
    el = goc_nanotime() - t0;
    bench_report("select_ready2", "ns_per_op=%.3f pct_first=%.3f",
                 (double)el / (double)iters,
                 100.0 * (double)first / (double)iters);
    goc_chan_free(c1);
    goc_chan_free(c2);
}

/* select_default: a select with one receive case on an empty channel and
 * a default. ns_per_op is per select. */
static void bench_select_default(void)
{
    long iters = bench_n(20000000), i, v, miss = 0;
    goc_chan *c = goc_chan_make(sizeof(long), 0);
    goc_case cs = {.ch = c, .dir = GOC_RECV, .elem = &v};
    int64_t t0, el;
    t0 = goc_nanotime();
    for (i = 0; i < iters; i++)
        miss += goc_select(&cs, 1, true) == -1;
    el = goc_nanotime() - t0;
    if (miss != iters)
        goc_panic("select_default: a receive on an empty channel succeeded");
    bench_report("select_default", "ns_per_op=%.3f",
                 (double)el / (double)iters);
    goc_chan_free(c);
}

static const bench benches[] = {
    {"pingpong", bench_pingpong},
    {"buffered", bench_buffered},
    {"select_ready2", bench_select_ready2},
    {"select_default", bench_select_default},
};

BENCH_MAIN(benches)

#else
BENCH_SKIP_MAIN("goc/chan.h")
#endif
