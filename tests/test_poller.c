/*
 * test_poller.c - the poller backend choice ($GOC_POLLER) and what the
 * io_uring backend must keep of epoll's behaviour: no descriptor of it in
 * a child, a descriptor number reused by another file, files it cannot
 * poll. `make test` runs the net, proc, signal, loadgen and http
 * suites a second time with GOC_POLLER=io_uring; these tests force the
 * backend themselves where they need it (each test is its own process).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <goc.h>

#include "goc_test.h"
#include "netpoll/poller.h"
#include "netpoll/uring_io.h"

static const char *asked(void)
{
    const char *e = getenv("GOC_POLLER");
    /* io_uring_completion's readiness backend is epoll's (poller.c). */
    return e && !strcmp(e, "io_uring") ? "io_uring" : "epoll";
}

static bool completion_here(void)
{
    const char *why;
    return goc__poller_uring.available(&why) >= 0 &&
           goc__uio_available(&why) >= 0;
}

static int as_asked_main(void *arg)
{
    (void)arg;
    ASSERT_STR_EQ(goc__poller_name(), asked());
    const char *e = getenv("GOC_POLLER");
    if (!e || !*e || !strcmp(e, "auto")) /* auto: completion I/O if here */
        ASSERT_EQ(goc__uio_on(), completion_here());
    else
        ASSERT_EQ(goc__uio_on(), !strcmp(e, "io_uring_completion"));
    return 0;
}

/* Each run of the suite runs the backend it names: auto's pick, epoll
 * alone, io_uring's readiness poller. */
GOC_TEST(net_poller_as_asked)
{
    return goc_main(as_asked_main, NULL);
}

/* Auto runs on epoll alone where completion I/O cannot start (no
 * descriptor left for a ring, here a test hook): quietly, since nobody
 * asked for io_uring; sockets work as ever. */
static int auto_fallback_main(void *arg)
{
    (void)arg;
    ASSERT_STR_EQ(goc__poller_name(), "epoll");
    ASSERT(!goc__uio_on());
    goc_listener *ln;
    goc_conn *a, *b;
    char addr[GOC_ADDRSTRLEN], buf[4];
    ASSERT_EQ(goc_listen(&ln, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(ln, addr, sizeof addr), 0);
    ASSERT_EQ(goc_dial(&a, "tcp", addr), 0);
    ASSERT_EQ(goc_accept(ln, &b), 0);
    ASSERT_EQ(goc_conn_write(a, "ping", 4), 4);
    ASSERT_EQ(goc_conn_read(b, buf, 4), 4);
    ASSERT(!memcmp(buf, "ping", 4));
    goc_conn_close(a);
    goc_conn_close(b);
    goc_listener_close(ln);
    return 0;
}

GOC_TEST(net_poller_auto_falls_back_to_epoll)
{
    unsetenv("GOC_POLLER");
    atomic_store(&goc__uio_test_fail_init, true);
    return goc_main(auto_fallback_main, NULL);
}

/* Fatal (goc__fatal: exit status 2), not a fallback. */
GOC_TEST_EXPECT(net_poller_unknown_is_fatal, 0, 2,
                "GOC_POLLER=kqueue: unknown poller")
{
    setenv("GOC_POLLER", "kqueue", 1);
    return goc_main(as_asked_main, NULL);
}

/* The completion I/O knobs are checked whichever backend runs. */
GOC_TEST_EXPECT(net_poller_uring_rings_knob_bad, 0, 2,
                "fatal error: GOC_URING_RINGS=65: not a whole number from 0 "
                "to 64")
{
    setenv("GOC_URING_RINGS", "65", 1);
    return goc_main(as_asked_main, NULL);
}

GOC_TEST_EXPECT(net_poller_uring_msrecv_knob_bad, 0, 2,
                "fatal error: GOC_URING_MSRECV=off: not a whole number from "
                "0 to 1")
{
    setenv("GOC_URING_MSRECV", "off", 1);
    return goc_main(as_asked_main, NULL);
}

GOC_TEST_EXPECT(net_poller_uring_batch_min_knob_bad, 0, 2,
                "fatal error: GOC_URING_BATCH_MIN=-1: not a whole number "
                "from 0 to 1000000")
{
    setenv("GOC_URING_BATCH_MIN", "-1", 1);
    return goc_main(as_asked_main, NULL);
}

/* GOC_URING_BATCH_MIN=0: every socket read a request, even alone. */
static int batch_min_zero_main(void *arg)
{
    (void)arg;
    ASSERT_EQ(goc__uio_batch_min_now(), 0);
    if (goc__uio_on())
        ASSERT(!goc__uio_read_by_readiness());
    return 0;
}

/* The knob unset again, the next goc_main has the default threshold:
 * the knob's value was that goc_main's alone. */
static int batch_min_default_main(void *arg)
{
    (void)arg;
    int min = goc__uio_batch_min_now();
    ASSERT(min == GOC__UIO_BATCH_MIN || min == GOC__UIO_BATCH_MIN_1P);
    return 0;
}

GOC_TEST(net_poller_uring_knobs_good)
{
    setenv("GOC_URING_BATCH_MIN", "0", 1);
    ASSERT_EQ(goc_main(batch_min_zero_main, NULL), 0);
    unsetenv("GOC_URING_BATCH_MIN");
    ASSERT_EQ(goc_main(batch_min_default_main, NULL), 0);
    setenv("GOC_URING_RINGS", "64", 1);
    setenv("GOC_URING_MSRECV", "0", 1);
    ASSERT_EQ(goc_main(as_asked_main, NULL), 0);
    setenv("GOC_URING_RINGS", "1", 1);
    setenv("GOC_URING_MSRECV", "1", 1);
    ASSERT_EQ(goc_main(as_asked_main, NULL), 0);
    setenv("GOC_URING_RINGS", "0", 1);
    return goc_main(as_asked_main, NULL);
}

/* Every descriptor of the backend is close-on-exec: the ring's, the
 * wake eventfd's; none shows in a child's /proc/self/fd. */
static int ring_cloexec_main(void *arg)
{
    (void)arg;
    /* Completion I/O's readiness backend is epoll's (poller.c). */
    ASSERT_STR_EQ(goc__poller_name(), goc__uio_on() ? "epoll" : "io_uring");
    int rings = 0;
    DIR *d = opendir("/proc/self/fd");
    ASSERT(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (strcmp(target, "anon_inode:[io_uring]") != 0)
            continue;
        rings++;
        int fl = fcntl(atoi(e->d_name), F_GETFD);
        ASSERT(fl >= 0 && (fl & FD_CLOEXEC));
    }
    closedir(d);
    /* The poller's, or the io threads' (one ring each), or with a ring
     * per M the one made at start: the others wait for an M's first
     * request, and nothing here has made one yet. */
    if (!goc__uio_on())
        ASSERT_EQ(rings, 1);
    else if (goc__uio_rings_made()) {
        ASSERT_EQ(rings, 1);
        ASSERT_EQ(goc__uio_rings_made(), 1);
    } else
        ASSERT_EQ(rings, (int)goc__uio_rings());
    goc_cmd *c = goc_command("ls", "-l", "/proc/self/fd", NULL);
    goc_cmd_set_stderr_fd(c, 2);
    char *out;
    ASSERT_EQ(goc_cmd_output(c, &out, NULL), 0);
    goc_cmd_free(c);
    ASSERT(strstr(out, "0 ->")); /* the listing worked */
    if (strstr(out, "[io_uring]") || strstr(out, "[eventfd]") ||
        strstr(out, "[eventpoll]"))
        GOC_FAIL_("the backend's descriptor leaked into the child:\n%s", out);
    free(out);
    return 0;
}

GOC_TEST(net_poller_io_uring_nothing_leaks)
{
    setenv("GOC_POLLER", "io_uring", 1);
    return goc_main(ring_cloexec_main, NULL);
}

/* The same with completion I/O: its ring and eventfd stay out too. */
GOC_TEST(net_poller_io_uring_completion_nothing_leaks)
{
    const char *why;
    if (goc__uio_available(&why) < 0) {
        printf("SKIP: completion I/O is not available here: %s\n", why);
        return 0;
    }
    setenv("GOC_POLLER", "io_uring_completion", 1);
    return goc_main(ring_cloexec_main, NULL);
}

/* A number closed behind goc_wait_fd's back and reused by another open
 * file: the goroutine still waiting on the old file gets -EBADF when the
 * number is waited on again (net.h), the new file's readiness is
 * reported, and a regular file or /dev/null (epoll refuses both) is
 * always ready, not polled. */
/* pollfd.c keeps a descriptor detached this way for good (it cannot
 * know that no registration of the old file survives it): a leak by
 * design, which LeakSanitizer and valgrind report. */
#if defined(__SANITIZE_ADDRESS__) || defined(GOC_VALGRIND)
#define STALE_WAITER 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STALE_WAITER 0
#endif
#endif
#ifndef STALE_WAITER
#define STALE_WAITER 1
#endif

typedef struct waiter {
    int fd;
    int64_t deadline;
    int rc;
    goc_chan *started, *done;
} waiter;

static void wait_read(void *arg)
{
    waiter *w = arg;
    goc_chan_send_int(w->started, 1);
    w->rc = goc_wait_fd(w->fd, GOC_READ, w->deadline);
    goc_chan_send_int(w->done, 1);
}

static int reuse_main(void *arg)
{
    (void)arg;
    goc_chan *started = goc_chan_make(sizeof(int), 1);
    goc_chan *done = goc_chan_make(sizeof(int), 2);
    for (int round = 0; round < 20; round++) {
        int p[2], q[2], v;
        ASSERT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
        waiter a = {p[0], goc_nanotime() + 20 * GOC_SECOND, 99, started, done};
        if (STALE_WAITER) {
            ASSERT_EQ(goc_go(wait_read, &a), 0);
            ASSERT(goc_chan_recv_int(started, &v));
            /* a parks on the first pipe (2 ms once was not enough on a
             * loaded machine: a registered after the number was reused) */
            goc_sleep(100 * GOC_MILLISECOND);
            /* A second waiter, briefly: it shares a's registration (and
             * orders a's use of the number before the close below, which
             * ThreadSanitizer checks). */
            ASSERT_EQ(
                goc_wait_fd(p[0], GOC_READ, goc_nanotime() + GOC_MILLISECOND),
                -ETIMEDOUT);
        }
        /* The writing end stays open elsewhere: no hang-up for a (the
         * io_uring backend's poll request holds the old file open until
         * the number is waited on again). */
        int n0 = p[0], n1 = p[1];
        int keep = fcntl(p[1], F_DUPFD_CLOEXEC, 100);
        ASSERT(keep >= 100);
        close(p[0]);
        close(p[1]);
        ASSERT_EQ(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
        ASSERT_EQ(q[0], n0);
        ASSERT_EQ(q[1], n1);
        /* Nothing readable in the new pipe; the old waiter is told. */
        ASSERT_EQ(
            goc_wait_fd(q[0], GOC_READ, goc_nanotime() + 5 * GOC_MILLISECOND),
            -ETIMEDOUT);
        if (STALE_WAITER) {
            ASSERT(goc_chan_recv_int(done, &v));
            ASSERT_EQ(a.rc, -EBADF);
        }
        close(keep);
        waiter b = {q[0], goc_nanotime() + 20 * GOC_SECOND, 99, started, done};
        ASSERT_EQ(goc_go(wait_read, &b), 0);
        ASSERT(goc_chan_recv_int(started, &v));
        goc_sleep(GOC_MILLISECOND);
        ASSERT_EQ(write(q[1], "y", 1), 1);
        ASSERT(goc_chan_recv_int(done, &v));
        ASSERT_EQ(b.rc, 0);
        char c;
        ASSERT_EQ(read(q[0], &c, 1), 1);
        ASSERT_EQ(c, 'y');
        close(q[0]);
        close(q[1]);
    }
    goc_chan_free(started);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT(devnull >= 0);
    ASSERT_EQ(goc_wait_fd(devnull, GOC_READ, 0), 0);
    close(devnull);
    char tmp[] = "/tmp/goc-test-poller-XXXXXX";
    int f = mkstemp(tmp);
    ASSERT(f >= 0);
    unlink(tmp);
    ASSERT_EQ(goc_wait_fd(f, GOC_READ | GOC_WRITE, 0), 0);
    close(f);
    goc_chan_free(done);
    return 0;
}

GOC_TEST(net_poller_reused_number)
{
    return goc_main(reuse_main, NULL);
}

/* A completion queue far smaller than the events in flight (16 entries,
 * 8 for submissions; 400 connections answering at once): completions
 * overflow into the kernel, the multishot requests they end are re-added,
 * and no edge is lost: every echo comes back. */
#define OVF_CONNS 200
#define OVF_ROUNDS 20

typedef struct ovf_peer {
    goc_conn *c;
    goc_chan *done;
} ovf_peer;

static void ovf_echo(void *arg)
{
    ovf_peer *p = arg;
    char b;
    for (int i = 0; i < OVF_ROUNDS; i++) {
        if (goc_conn_read(p->c, &b, 1) != 1 || goc_conn_write(p->c, &b, 1) != 1)
            break;
    }
    goc_chan_send_int(p->done, 1);
}

static void ovf_client(void *arg)
{
    ovf_peer *p = arg;
    char b = 0, r;
    int ok = 0;
    for (int i = 0; i < OVF_ROUNDS; i++, b++) {
        if (goc_conn_write(p->c, &b, 1) != 1 ||
            goc_conn_read(p->c, &r, 1) != 1 || r != b)
            break;
        ok++;
    }
    goc_chan_send_int(p->done, ok);
}

static int overflow_main(void *arg)
{
    (void)arg;
    ASSERT_STR_EQ(goc__poller_name(), "io_uring");
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    ASSERT_EQ(goc_listen(&ln, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(ln, addr, sizeof addr), 0);
    static ovf_peer cl[OVF_CONNS], sv[OVF_CONNS];
    goc_chan *done = goc_chan_make(sizeof(int), 2 * OVF_CONNS);
    for (int i = 0; i < OVF_CONNS; i++) {
        ASSERT_EQ(goc_dial(&cl[i].c, "tcp", addr), 0);
        ASSERT_EQ(goc_accept(ln, &sv[i].c), 0);
        cl[i].done = sv[i].done = done;
    }
    /* Until it has overflowed (else this tested nothing): a slow build
     * on a loaded machine may reap as fast as the goroutines make
     * events, a round or two. */
    int tries = 0;
    do {
        for (int i = 0; i < OVF_CONNS; i++)
            ASSERT_EQ(goc_go(ovf_echo, &sv[i]), 0);
        for (int i = 0; i < OVF_CONNS; i++)
            ASSERT_EQ(goc_go(ovf_client, &cl[i]), 0);
        long total = 0;
        for (int i = 0; i < 2 * OVF_CONNS; i++) {
            int v;
            ASSERT(goc_chan_recv_int(done, &v));
            total += v;
        }
        /* The echoes send 1 each; the clients their completed rounds. */
        ASSERT_EQ(total, (long)OVF_CONNS * OVF_ROUNDS + OVF_CONNS);
    } while (atomic_load(&goc__poller_uring_overflows) == 0 && ++tries < 20);
    printf("overflowed after %d more rounds\n", tries);
    ASSERT_GT(atomic_load(&goc__poller_uring_overflows), 0);
    for (int i = 0; i < OVF_CONNS; i++) {
        ASSERT_EQ(goc_conn_close(cl[i].c), 0);
        ASSERT_EQ(goc_conn_close(sv[i].c), 0);
    }
    ASSERT_EQ(goc_listener_close(ln), 0);
    goc_chan_free(done);
    return 0;
}

GOC_TEST(net_poller_io_uring_cq_overflow)
{
    setenv("GOC_POLLER", "io_uring", 1);
    atomic_store(&goc__poller_uring_test_cq_entries, 16);
    goc_maxprocs(2);
    return goc_main(overflow_main, NULL);
}
