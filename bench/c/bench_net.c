/*
 * bench_net.c - TCP echo benchmark (issue 5) and pipe throughput (issue
 * 24), twin of bench/go/net.go. Needs the runtime and net modules only
 * (clients are joined by polling an atomic counter, so neither chan nor
 * sync is needed); the pipe benchmarks also proc (goc_pipe).
 */
#include "bench_common.h"

#if __has_include(<goc/net.h>)

#include <stdatomic.h>

/* tcp_echo_<c>conn: an echo server and c clients in one process over
 * 127.0.0.1. Each client writes a 64-byte message and reads the 64-byte
 * echo, for -d ms (default 500). msgs_per_s is completed round trips per
 * second over all clients. Every connection has a deadline 2 s past the
 * end, so nothing can hang. */
enum { MSG = 64 };

static struct {
    goc_listener *ln;
    int64_t end;
    atomic_long msgs, errs, clients_left;
    _Atomic int64_t last; /* when the last client finished */
} E;

static void echo_conn(void *arg)
{
    goc_conn *c = arg;
    char buf[4096];
    ssize_t k;
    goc_conn_set_deadline(c, E.end + 2 * GOC_SECOND);
    while ((k = goc_conn_read(c, buf, sizeof buf)) > 0)
        if (goc_conn_write(c, buf, (size_t)k) < 0)
            break;
    goc_conn_close(c);
}

static void echo_server(void *arg)
{
    goc_conn *c;
    (void)arg;
    while (goc_accept(E.ln, &c) == 0)
        if (goc_go(echo_conn, c) != 0)
            goc_conn_close(c);
}

static void echo_client(void *arg)
{
    goc_conn *c = arg;
    char out[MSG] = {0}, in[MSG];
    long k = 0;
    int64_t now, prev;
    goc_conn_set_deadline(c, E.end + 2 * GOC_SECOND);
    while (goc_nanotime() < E.end) {
        size_t got = 0;
        if (goc_conn_write(c, out, MSG) != MSG)
            goto fail;
        while (got < MSG) {
            ssize_t r = goc_conn_read(c, in + got, MSG - got);
            if (r <= 0)
                goto fail;
            got += (size_t)r;
        }
        k++;
    }
    goto done;
fail:
    atomic_fetch_add(&E.errs, 1);
done:
    atomic_fetch_add(&E.msgs, k);
    goc_conn_close(c);
    now = goc_nanotime();
    prev = atomic_load(&E.last);
    while (prev < now && !atomic_compare_exchange_weak(&E.last, &prev, now))
        ;
    atomic_fetch_sub(&E.clients_left, 1);
}

static void bench_tcp_echo(const char *name, long conns)
{
    char addr[128];
    goc_conn **cl;
    int64_t dur = bench_d(500) * GOC_MILLISECOND, start, el;
    long i;
    int rc;
    if (bench_opt_conns > 0)
        conns = bench_opt_conns;
    if ((rc = goc_listen(&E.ln, "tcp", "127.0.0.1:0")) != 0 ||
        (rc = goc_listener_addr(E.ln, addr, sizeof addr)) < 0) {
        fprintf(stderr, "listen: %s\n", goc_strerror(rc));
        exit(1);
    }
    E.end = goc_nanotime() + dur + 10 * GOC_SECOND; /* until dialled */
    goc_go(echo_server, NULL);
    cl = calloc((size_t)conns, sizeof *cl);
    for (i = 0; i < conns; i++)
        if ((rc = goc_dial(&cl[i], "tcp", addr)) != 0) {
            fprintf(stderr, "dial %s: %s\n", addr, goc_strerror(rc));
            exit(1);
        }
    atomic_store(&E.clients_left, conns);
    start = goc_nanotime();
    E.end = start + dur;
    for (i = 0; i < conns; i++)
        goc_go(echo_client, cl[i]);
    while (atomic_load(&E.clients_left) > 0)
        goc_sleep(GOC_MILLISECOND);
    el = atomic_load(&E.last) - start; /* not counting this poll's delay */
    goc_listener_close(E.ln);
    bench_report(name, "msgs_per_s=%.3f conns=%ld errors=%ld",
                 (double)atomic_load(&E.msgs) * 1e9 / (double)el, conns,
                 atomic_load(&E.errs));
    free(cl);
}

static void bench_tcp_echo_1(void)
{
    bench_tcp_echo("tcp_echo_1conn", 1);
}
static void bench_tcp_echo_100(void)
{
    bench_tcp_echo("tcp_echo_100conn", 100);
}

/* tcp_rtt_idle: the round trip of one connection under light traffic
 * while IDLE_CONNS other connections sit idle, their server goroutines
 * parked on reads (a server with many idle keep-alive clients). -n round
 * trips (default 300), each 1 ms after the last, 64 bytes each way.
 * ns_per_op is the median round trip, p99_us its 99th percentile. */
enum { IDLE_CONNS = 200 };

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void bench_tcp_rtt_idle(void)
{
    char addr[128], buf[MSG] = {0};
    long n = bench_n(300), errs = 0;
    int64_t *rt = calloc((size_t)n, sizeof *rt);
    goc_conn **idle = calloc(IDLE_CONNS, sizeof *idle), *c = NULL;
    int rc;
    if ((rc = goc_listen(&E.ln, "tcp", "127.0.0.1:0")) != 0 ||
        (rc = goc_listener_addr(E.ln, addr, sizeof addr)) < 0) {
        fprintf(stderr, "listen: %s\n", goc_strerror(rc));
        exit(1);
    }
    E.end = goc_nanotime() + (n + 10000) * GOC_MILLISECOND;
    goc_go(echo_server, NULL);
    for (int i = 0; i <= IDLE_CONNS; i++)
        if ((rc = goc_dial(i < IDLE_CONNS ? &idle[i] : &c, "tcp", addr)) != 0) {
            fprintf(stderr, "dial %s: %s\n", addr, goc_strerror(rc));
            exit(1);
        }
    goc_conn_set_deadline(c, E.end);
    goc_sleep(50 * GOC_MILLISECOND); /* every server goroutine parked */
    for (long i = 0; i < n; i++) {
        goc_sleep(GOC_MILLISECOND);
        int64_t t0 = goc_nanotime();
        size_t got = 0;
        if (goc_conn_write(c, buf, MSG) != MSG) {
            errs++;
            break;
        }
        while (got < MSG) {
            ssize_t r = goc_conn_read(c, buf + got, MSG - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (got < MSG) {
            errs++;
            break;
        }
        rt[i] = goc_nanotime() - t0;
    }
    qsort(rt, (size_t)n, sizeof *rt, cmp_i64);
    bench_report("tcp_rtt_idle",
                 "ns_per_op=%.1f p99_us=%.1f idle=%d errors=%ld",
                 (double)rt[n / 2], (double)rt[n * 99 / 100] / 1e3,
                 (int)IDLE_CONNS, errs);
    for (int i = 0; i < IDLE_CONNS; i++)
        goc_conn_close(idle[i]);
    goc_conn_close(c);
    goc_listener_close(E.ln);
    free(idle);
    free(rt);
}

#if __has_include(<goc/proc.h>)
/* pipe_<size>: one goc_pipe, a writer goroutine writing <size>-byte
 * messages for -d ms (default 500), then closing, and a reader goroutine
 * reading at most <size> bytes a call until end of file. msgs_per_s is
 * bytes read / size per second, until the reader saw end of file. */
static struct {
    goc_file *r, *w;
    size_t size;
    int64_t end, done_at;
    atomic_long bytes, errs, left;
} P;

static void pipe_writer(void *arg)
{
    char *msg = calloc(1, P.size);
    (void)arg;
    while (goc_nanotime() < P.end)
        if (goc_file_write(P.w, msg, P.size) != (ssize_t)P.size) {
            atomic_fetch_add(&P.errs, 1);
            break;
        }
    goc_file_close(P.w);
    free(msg);
    atomic_fetch_sub(&P.left, 1);
}

static void pipe_reader(void *arg)
{
    char *buf = malloc(P.size);
    long total = 0;
    ssize_t k;
    (void)arg;
    while ((k = goc_file_read(P.r, buf, P.size)) > 0)
        total += k;
    if (k < 0)
        atomic_fetch_add(&P.errs, 1);
    P.done_at = goc_nanotime();
    atomic_store(&P.bytes, total);
    goc_file_close(P.r);
    free(buf);
    atomic_fetch_sub(&P.left, 1);
}

static void bench_pipe(const char *name, size_t size)
{
    int64_t dur = bench_d(500) * GOC_MILLISECOND, start;
    int rc;
    if ((rc = goc_pipe(&P.r, &P.w)) != 0) {
        fprintf(stderr, "pipe: %s\n", goc_strerror(rc));
        exit(1);
    }
    P.size = size;
    atomic_store(&P.left, 2);
    start = goc_nanotime();
    P.end = start + dur;
    goc_go(pipe_reader, NULL);
    goc_go(pipe_writer, NULL);
    while (atomic_load(&P.left) > 0)
        goc_sleep(GOC_MILLISECOND);
    bench_report(name, "msgs_per_s=%.3f size=%zu errors=%ld",
                 (double)atomic_load(&P.bytes) / (double)size * 1e9 /
                     (double)(P.done_at - start),
                 size, atomic_load(&P.errs));
}

static void bench_pipe_64b(void)
{
    bench_pipe("pipe_64b", 64);
}
static void bench_pipe_64k(void)
{
    bench_pipe("pipe_64k", 65536);
}
#endif

static const bench benches[] = {
    {"tcp_echo_1conn", bench_tcp_echo_1},
    {"tcp_echo_100conn", bench_tcp_echo_100},
    {"tcp_rtt_idle", bench_tcp_rtt_idle},
#if __has_include(<goc/proc.h>)
    {"pipe_64b", bench_pipe_64b},
    {"pipe_64k", bench_pipe_64k},
#endif
};

BENCH_MAIN(benches)

#else
BENCH_SKIP_MAIN("goc/net.h")
#endif
