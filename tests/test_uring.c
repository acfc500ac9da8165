/*
 * test_uring.c - completion-based socket I/O on io_uring
 * (GOC_POLLER=io_uring_completion, src/netpoll/uring_io.c): a deadline or
 * close that races a request in flight gives exactly one outcome and the
 * kernel never writes the buffer after the call returned; 10,000
 * connections; more requests than the submission queue holds. Each test
 * forces the mode itself (each test is its own process), so the tests run
 * the same whatever $GOC_POLLER the suite runs under.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <goc.h>

#include "goc_test.h"
#include "netpoll/poller.h"
#include "netpoll/pollfd.h"
#include "netpoll/uring_io.h"
#include "proc/proc_internal.h"
#include "runtime/sched.h"
#include "uring_test.h"

#define CANARY 0xA5

static bool all_canary(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != CANARY)
            return false;
    return true;
}

/* Wait (bounded) until no request is in flight: every call returned
 * after its request's completion, so this is reached at once. */
static void assert_drained(void)
{
    ASSERT(goc__uio_on());
    ASSERT_EQ(goc__uio_inflight(), 0);
}

/* ---- a deadline while a recv is in flight ---------------------------- */

/* Sends one byte ~500 us after it starts. */
typedef struct {
    goc_conn *b;
    unsigned char byte;
    goc_chan *go;
} snd_t;

static void sender(void *v)
{
    snd_t *s = v;
    goc_sleep(500 * GOC_MICROSECOND);
    if (goc_conn_write(s->b, &s->byte, 1) != 1)
        abort();
    goc_chan_send_int(s->go, 1);
}

/* Round r: a read with a deadline a little in the future while the peer
 * sends one numbered byte at about the same time. Either the read gets
 * the byte, or -ETIMEDOUT with its buffer untouched, also after the
 * byte has arrived; then the next read (no deadline) gets it. No byte is
 * lost, none read twice, none out of order. */
static int deadline_main(void *arg)
{
    (void)arg;
    pair p;
    pair_open(&p);
    long rounds = goc_test_iters(400, 60);
    long timeouts = 0, direct = 0;
    for (long r = 0; r < rounds; r++) {
        unsigned char buf[64];
        memset(buf, CANARY, sizeof buf);
        int64_t now = goc_nanotime();
        /* Deadlines from 0 to 1 ms ahead; the byte is sent at ~500 us. */
        ASSERT_EQ(goc_conn_set_read_deadline(
                      p.a, now + (r % 11) * 100 * GOC_MICROSECOND + 1),
                  0);
        goc_chan *go = goc_chan_make(sizeof(int), 1);
        unsigned char byte = (unsigned char)(r % 200);
        snd_t s = {p.b, byte, go};
        ASSERT_EQ(goc_go(sender, &s), 0);
        ssize_t n = goc_conn_read(p.a, buf, sizeof buf);
        int v;
        ASSERT(goc_chan_recv_int(go, &v)); /* the byte is sent */
        goc_chan_free(go);
        if (n == -ETIMEDOUT) {
            timeouts++;
            /* The byte is there now; the cancelled request never wrote
             * it into buf, not even later. */
            goc_sleep(2 * GOC_MILLISECOND);
            ASSERT(all_canary(buf, sizeof buf));
            ASSERT_EQ(goc_conn_set_read_deadline(p.a, 0), 0);
            n = goc_conn_read(p.a, buf, sizeof buf);
        } else {
            direct++;
            ASSERT_EQ(goc_conn_set_read_deadline(p.a, 0), 0);
        }
        ASSERT_EQ(n, 1);
        ASSERT_EQ(buf[0], byte);
        ASSERT(all_canary(buf + 1, sizeof buf - 1));
        assert_drained();
    }
    goc__uio_stats st;
    goc__uio_get_stats(&st);
    printf("rounds %ld: timed out %ld, read at once %ld, cancels %llu\n",
           rounds, timeouts, direct, (unsigned long long)st.cancels);
    ASSERT_GT(timeouts, 0); /* the deadline path really ran */
    ASSERT_GT(st.cancels, 0);
    ASSERT_EQ(goc_conn_close(p.a), 0);
    ASSERT_EQ(goc_conn_close(p.b), 0);
    ASSERT_EQ(goc_listener_close(p.ln), 0);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_deadline_in_flight, 120)
{
    if (!force_completion())
        return 0;
    /* Single-shot recvs: a deadline cancels one (multishot recv keeps
     * its request: net_uring_msrecv_deadline). */
    atomic_store(&goc__uio_test_no_msrecv, true);
    goc_maxprocs(2);
    return goc_main(deadline_main, NULL);
}

/* ---- close racing a completion --------------------------------------- */

typedef struct reader {
    goc_conn *c;
    unsigned char buf[32];
    ssize_t rc;
    goc_chan *done;
} reader;

static void read_once(void *arg)
{
    reader *rd = arg;
    rd->rc = goc_conn_read(rd->c, rd->buf, sizeof rd->buf);
    goc_chan_send_int(rd->done, 1);
}

/* A reader parked on its recv; the peer sends a byte (every other round)
 * while another goroutine closes the reader's connection. Exactly one
 * outcome: the byte, or -ECANCELED with the buffer untouched; close
 * returns 0 and the descriptor is gone; no request is left. */
static int close_main(void *arg)
{
    (void)arg;
    long rounds = goc_test_iters(400, 60);
    long got = 0, canceled = 0;
    goc_chan *done = goc_chan_make(sizeof(int), 1);
    for (long r = 0; r < rounds; r++) {
        pair p;
        pair_open(&p);
        reader rd = {.c = p.a, .done = done};
        memset(rd.buf, CANARY, sizeof rd.buf);
        ASSERT_EQ(goc_go(read_once, &rd), 0);
        for (int i = 0; i < (int)(r % 5); i++)
            goc_yield();
        if (r % 2)
            ASSERT_EQ(goc_conn_write(p.b, "x", 1), 1);
        ASSERT_EQ(goc_conn_close(p.a), 0);
        int v;
        ASSERT(goc_chan_recv_int(done, &v));
        if (rd.rc == 1) {
            ASSERT_EQ(rd.buf[0], 'x');
            ASSERT(all_canary(rd.buf + 1, sizeof rd.buf - 1));
            got++;
        } else {
            ASSERT_EQ(rd.rc, -ECANCELED);
            canceled++;
            if (r % 2 == 0) /* a byte sent now must not land in buf */
                (void)goc_conn_write(p.b, "y", 1);
            goc_sleep(GOC_MICROSECOND);
            ASSERT(all_canary(rd.buf, sizeof rd.buf));
        }
        assert_drained();
        ASSERT_EQ(goc_conn_close(p.b), 0);
        ASSERT_EQ(goc_listener_close(p.ln), 0);
    }
    printf("rounds %ld: byte read %ld, canceled %ld\n", rounds, got, canceled);
    ASSERT_GT(canceled, 0);
    goc_chan_free(done);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_close_in_flight, 120)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(close_main, NULL);
}

/* ---- many requests: 10,000 connections, a tiny submission queue ----- */

typedef struct fleet {
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    long n;
    goc_conn **srv;
    goc_conn **cli;
    goc_chan *done;
    goc_waitgroup *parked;
} fleet;

/* echo_srv goroutines not yet past their end of file. */
static _Atomic long echo_srv_live;

/* Echo one 64-byte message, then wait for end of file. */
static void echo_srv(void *arg)
{
    goc_conn *c = arg;
    char buf[64];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = goc_conn_read(c, buf + got, sizeof buf - got);
        if (n <= 0)
            abort();
        got += (size_t)n;
    }
    if (goc_conn_write(c, buf, sizeof buf) != (ssize_t)sizeof buf)
        abort();
    if (goc_conn_read(c, buf, sizeof buf) != 0)
        abort();
    atomic_fetch_sub(&echo_srv_live, 1);
}

typedef struct cli_arg {
    fleet *f;
    long i;
} cli_arg;

static void echo_cli(void *arg)
{
    cli_arg *a = arg;
    fleet *f = a->f;
    goc_conn *c = f->cli[a->i];
    char msg[64], back[64];
    for (size_t k = 0; k < sizeof msg; k++)
        msg[k] = (char)(a->i * 31 + (long)k);
    if (goc_conn_write(c, msg, sizeof msg) != (ssize_t)sizeof msg)
        abort();
    size_t got = 0;
    while (got < sizeof back) {
        ssize_t n = goc_conn_read(c, back + got, sizeof back - got);
        if (n <= 0)
            abort();
        got += (size_t)n;
    }
    if (memcmp(msg, back, sizeof msg) != 0)
        abort();
    goc_chan_send_int(f->done, 1);
}

/* Reads parked on the ring: recv requests and multishot recvs. */
static int64_t waiting_reads(void)
{
    return goc__uio_inflight() + goc__uio_msrecv_armed();
}

/* n connections; every server reader parked on its recv before any
 * client writes (n requests in flight at once), then every client
 * writes and reads back its message at once. */
static void fleet_run(long n)
{
    fleet f = {.n = n};
    ASSERT_EQ(goc_listen(&f.ln, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(f.ln, f.addr, sizeof f.addr), 0);
    f.srv = calloc((size_t)n, sizeof *f.srv);
    f.cli = calloc((size_t)n, sizeof *f.cli);
    cli_arg *args = calloc((size_t)n, sizeof *args);
    ASSERT(f.srv && f.cli && args);
    f.done = goc_chan_make(sizeof(int), (size_t)n);
    for (long i = 0; i < n; i++) {
        ASSERT_EQ(goc_dial(&f.cli[i], "tcp", f.addr), 0);
        ASSERT_EQ(goc_accept(f.ln, &f.srv[i]), 0);
        atomic_fetch_add(&echo_srv_live, 1);
        ASSERT_EQ(goc_go(echo_srv, f.srv[i]), 0);
    }
    /* Let the readers park on their requests (bounded). */
    for (int k = 0; k < 2000 && waiting_reads() < n; k++)
        goc_sleep(GOC_MILLISECOND);
    int64_t inflight = waiting_reads();
    for (long i = 0; i < n; i++) {
        args[i] = (cli_arg){&f, i};
        ASSERT_EQ(goc_go(echo_cli, &args[i]), 0);
    }
    for (long i = 0; i < n; i++) {
        int v;
        ASSERT(goc_chan_recv_int(f.done, &v));
    }
    printf("%ld connections: %lld recv requests in flight at once\n", n,
           (long long)inflight);
    ASSERT_EQ(inflight, n);
    for (long i = 0; i < n; i++)
        ASSERT_EQ(goc_conn_close(f.cli[i]), 0);
    /* The servers' last reads see end of file and return. */
    for (int k = 0; k < 5000 && atomic_load(&echo_srv_live) > 0; k++)
        goc_sleep(GOC_MILLISECOND);
    ASSERT_EQ(atomic_load(&echo_srv_live), 0);
    assert_drained();
    for (long i = 0; i < n; i++)
        ASSERT_EQ(goc_conn_close(f.srv[i]), 0);
    ASSERT_EQ(goc_listener_close(f.ln), 0);
    goc_chan_free(f.done);
    free(f.srv);
    free(f.cli);
    free(args);
}

/* 10,000 connections. Both ends in one process would need 20,000
 * descriptors, more than a common hard limit, so the clients are a
 * forked child of plain blocking sockets: it connects all, waits until
 * every server goroutine has its recv in flight, sends every message,
 * reads every echo back, checks them and exits 0. */
#define MANY 10000 /* fewer in sanitized builds (goc_test_iters) */

typedef struct many {
    int to_child[2], from_child[2];
    pid_t child;
    long n;
} many;

static int child_clients(int rd, int wr, long n)
{
    char addr[GOC_ADDRSTRLEN] = {0};
    if (read(rd, addr, sizeof addr - 1) <= 0)
        return 10;
    char *colon = strrchr(addr, ':');
    if (!colon)
        return 11;
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(colon + 1)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    static int fds[MANY];
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0)
            return 12;
        if (connect(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0)
            return 13;
    }
    char c = 1;
    if (write(wr, &c, 1) != 1 || read(rd, &c, 1) != 1) /* all parked */
        return 14;
    for (int i = 0; i < n; i++) {
        char msg[64];
        for (size_t k = 0; k < sizeof msg; k++)
            msg[k] = (char)(i * 31 + (int)k);
        if (write(fds[i], msg, sizeof msg) != (ssize_t)sizeof msg)
            return 15;
    }
    for (int i = 0; i < n; i++) {
        char back[64];
        size_t got = 0;
        while (got < sizeof back) {
            ssize_t n = read(fds[i], back + got, sizeof back - got);
            if (n <= 0)
                return 16;
            got += (size_t)n;
        }
        for (size_t k = 0; k < sizeof back; k++)
            if (back[k] != (char)(i * 31 + (int)k))
                return 17;
        close(fds[i]);
    }
    return 0;
}

static int many_main(void *arg)
{
    many *m = arg;
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    ASSERT_EQ(goc_listen(&ln, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(ln, addr, sizeof addr), 0);
    ASSERT_EQ(write(m->to_child[1], addr, strlen(addr)), (ssize_t)strlen(addr));
    long n = m->n;
    goc_conn **srv = calloc((size_t)n, sizeof *srv);
    ASSERT(srv);
    for (long i = 0; i < n; i++) {
        ASSERT_EQ(goc_accept(ln, &srv[i]), 0);
        atomic_fetch_add(&echo_srv_live, 1);
        ASSERT_EQ(goc_go(echo_srv, srv[i]), 0);
    }
    char c;
    ASSERT(goc_wait_fd(m->from_child[0], GOC_READ, 0) >= 0);
    ASSERT_EQ(read(m->from_child[0], &c, 1), 1); /* all connected */
    /* Each reader waits on a recv request, or on its multishot recv. */
    for (int k = 0; k < 10000 && waiting_reads() < n; k++)
        goc_sleep(GOC_MILLISECOND);
    int64_t inflight = waiting_reads();
    ASSERT_EQ(write(m->to_child[1], &c, 1), 1);
    /* The child exits when it has every echo; the servers then see end
     * of file. */
    int st = -1;
    for (int k = 0; k < 200000; k++) {
        pid_t w = waitpid(m->child, &st, WNOHANG);
        ASSERT(w >= 0);
        if (w == m->child)
            break;
        goc_sleep(GOC_MILLISECOND);
    }
    printf("%ld connections: %lld recv requests in flight at once\n", n,
           (long long)inflight);
    ASSERT(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
    ASSERT_EQ(inflight, n);
    /* Every server has read its end of file (a read's request is
     * counted only once the io thread has written it: wait for the
     * readers, not the count). */
    for (int k = 0; k < 10000 && atomic_load(&echo_srv_live) > 0; k++)
        goc_sleep(GOC_MILLISECOND);
    ASSERT_EQ(atomic_load(&echo_srv_live), 0);
    assert_drained();
    ASSERT_EQ(goc__uio_msrecv_armed(), 0); /* each ended at end of file */
    goc__uio_stats us;
    goc__uio_get_stats(&us);
    printf("submitted %llu, queue found full %llu times, io enters %llu\n",
           (unsigned long long)us.submitted, (unsigned long long)us.sq_full,
           (unsigned long long)us.enters);
    for (long i = 0; i < n; i++)
        ASSERT_EQ(goc_conn_close(srv[i]), 0);
    ASSERT_EQ(goc_listener_close(ln), 0);
    free(srv);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_10k_conns, 300)
{
    struct rlimit rl;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t need = MANY + 256;
    if (rl.rlim_cur < need) {
        if (rl.rlim_max < need)
            rl.rlim_max = need; /* root may raise it */
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            printf("SKIP: RLIMIT_NOFILE cannot reach %llu (hard limit)\n",
                   (unsigned long long)need);
            return 0;
        }
    }
    /* Sanitized builds: fewer (ThreadSanitizer has a fiber per
     * goroutine, 8,128 at most). */
    many m = {.n = goc_test_iters(MANY, 500)};
    ASSERT_EQ(pipe2(m.to_child, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(m.from_child, O_CLOEXEC), 0);
    fflush(NULL);
    m.child = fork();
    ASSERT(m.child >= 0);
    if (m.child == 0)
        _exit(child_clients(m.to_child[0], m.from_child[1], m.n));
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    int rc = goc_main(many_main, &m);
    if (rc != 0)
        kill(m.child, SIGKILL);
    return rc;
}

/* A submission queue of 4 entries and 300 connections: the io thread
 * finds it full and submits in pieces; nothing is lost. */
static int sq_full_main(void *arg)
{
    (void)arg;
    goc__uio_stats st;
    int rounds = 0;
    do {
        fleet_run(300);
        goc__uio_get_stats(&st);
    } while (st.sq_full == 0 && ++rounds < 20);
    printf("queue of 4 found full %llu times in %d rounds\n",
           (unsigned long long)st.sq_full, rounds + 1);
    ASSERT_GT(st.sq_full, 0);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_sq_full, 120)
{
    if (!force_completion())
        return 0;
    atomic_store(&goc__uio_test_no_msrecv, true); /* single-shot recvs */
    atomic_store(&goc__uio_test_sq_entries, 4);
    goc_maxprocs(2);
    return goc_main(sq_full_main, NULL);
}

/* 4 request slots and 300 connections: pushes find their slot not yet
 * taken and wait for the io thread, which is woken for them even where
 * wakes are deferred to the processor's idle turn (as on one CPU; with 1
 * processor, whose M waits in the push, only the push can wake it);
 * nothing is lost. */
static int slots_full_main(void *arg)
{
    const goc__uio_stats *before = arg;
    goc__uio_stats st;
    int rounds = 0;
    do {
        fleet_run(300);
        goc__uio_get_stats(&st);
    } while (st.slot_waits == before->slot_waits && ++rounds < 20);
    printf("4 slots: %llu pushes waited in %d rounds\n",
           (unsigned long long)(st.slot_waits - before->slot_waits),
           rounds + 1);
    ASSERT_GT(st.slot_waits, before->slot_waits);
    return 0;
}

/* rings: goc__uio_test_rings (-1 a ring per M, 1 an io thread). */
static int slots_full(int rings, int procs, bool defer)
{
    goc__uio_stats before;
    goc__uio_get_stats(&before);
    atomic_store(&goc__uio_test_rings, rings);
    atomic_store(&goc__uio_test_qslots, 4);
    atomic_store(&goc__uio_test_defer_wakes, defer);
    goc_maxprocs(procs);
    int rc = goc_main(slots_full_main, &before);
    atomic_store(&goc__uio_test_qslots, 0);
    atomic_store(&goc__uio_test_defer_wakes, false);
    atomic_store(&goc__uio_test_rings, 0);
    return rc;
}

/* A ring per M: a push that waits for its slot drives the ring itself
 * (with 1 processor nobody else would). */
GOC_TEST_TIMEOUT(net_uring_slots_full, 120)
{
    if (!force_completion())
        return 0;
    ASSERT_EQ(slots_full(-1, 2, false), 0);
    return slots_full(-1, 1, false);
}

/* An io thread with its wakes deferred: a push that waits wakes it. */
GOC_TEST_TIMEOUT(net_uring_slots_full_deferred_wakes, 120)
{
    if (!force_completion())
        return 0;
    return slots_full(1, 1, true);
}

/* The mode is what GOC_POLLER asked, and the others keep readiness. */
static int mode_main(void *arg)
{
    /* Completion I/O's readiness backend is epoll's (poller.c). */
    ASSERT_STR_EQ(goc__poller_name(), arg ? "epoll" : "io_uring");
    ASSERT_EQ(goc__uio_on(), arg != NULL);
    return 0;
}

GOC_TEST(net_uring_completion_is_opt_in)
{
    if (!force_completion())
        return 0;
    ASSERT_EQ(goc_main(mode_main, "on"), 0);
    setenv("GOC_POLLER", "io_uring", 1);
    return goc_main(mode_main, NULL);
}

/* ---- the readiness path for lone reads (goc__uio_read_by_readiness) -- */

static uint64_t submitted_now(void)
{
    goc__uio_stats st;
    goc__uio_get_stats(&st);
    return st.submitted;
}

/* Reads the ring has served: single-shot recv requests and multishot
 * recvs' completions (a send, which goes to the ring while the io thread
 * is awake, is no read). */
static uint64_t ring_reads_now(void)
{
    goc__uio_stats st;
    goc__uio_get_stats(&st);
    return st.recvs + st.recv_cqes;
}

/* rounds request-response pairs a -> b -> a; each byte checked. */
static void ping_pong(pair *p, long rounds, long base)
{
    for (long r = 0; r < rounds; r++) {
        unsigned char x = (unsigned char)((base + r) % 251), y = 0;
        ASSERT_EQ(goc_conn_write(p->a, &x, 1), 1);
        ASSERT_EQ(goc_conn_read(p->b, &y, 1), 1);
        ASSERT_EQ(y, x);
        ASSERT_EQ(goc_conn_write(p->b, &y, 1), 1);
        y = 0;
        ASSERT_EQ(goc_conn_read(p->a, &y, 1), 1);
        ASSERT_EQ(y, x);
    }
}

static void idle_read(void *arg)
{
    reader *rd = arg;
    rd->rc = goc_conn_read(rd->c, rd->buf, sizeof rd->buf);
    goc_chan_send_int(rd->done, 1);
}

/* Reads of one connection while nothing else waits take the readiness
 * path (no request: the io thread is not involved at all); with enough
 * goroutines waiting on I/O they are requests again; and back. The same
 * connection switches between the two several times, and no byte is
 * lost, duplicated or reordered across a switch. */
static int lone_main(void *arg)
{
    (void)arg;
    enum { IDLE = 8 };
    long rounds = goc_test_iters(2000, 200);
    pair p;
    pair_open(&p);
    for (int phase = 0; phase < 4; phase++) {
        uint64_t before = ring_reads_now();
        if (phase % 2 == 0) {
            /* Alone: the reads park on edges. (The sends go direct
             * while the io thread sleeps; on a loaded machine it may be
             * awake, and then they are requests: not counted.) */
            ping_pong(&p, rounds, phase * rounds);
            uint64_t d = ring_reads_now() - before;
            printf("phase %d, alone: %llu ring reads for %ld round trips\n",
                   phase, (unsigned long long)d, rounds);
            ASSERT_LT(d, (uint64_t)rounds / 4);
            continue;
        }
        /* IDLE goroutines parked on reads of other connections: each
         * read of the pair is a request. */
        pair q[IDLE];
        reader rd[IDLE];
        goc_chan *done = goc_chan_make(sizeof(int), IDLE);
        for (int i = 0; i < IDLE; i++) {
            pair_open(&q[i]);
            rd[i] = (reader){.c = q[i].a, .done = done};
            ASSERT_EQ(goc_go(idle_read, &rd[i]), 0);
        }
        for (int k = 0; k < 10000 && goc__netpoll_waiters() < IDLE; k++)
            goc_sleep(100 * GOC_MICROSECOND);
        ASSERT_GE(goc__netpoll_waiters(), IDLE);
        before = ring_reads_now();
        ping_pong(&p, rounds, phase * rounds);
        uint64_t d = ring_reads_now() - before;
        printf("phase %d, %d waiting: %llu ring reads for %ld round trips\n",
               phase, IDLE, (unsigned long long)d, rounds);
        ASSERT_GE(d, (uint64_t)rounds * 2); /* both reads of each */
        for (int i = 0; i < IDLE; i++) {
            ASSERT_EQ(goc_conn_write(q[i].b, "z", 1), 1);
            int v;
            ASSERT(goc_chan_recv_int(done, &v));
        }
        for (int i = 0; i < IDLE; i++) {
            ASSERT_EQ(rd[i].rc, 1);
            ASSERT_EQ(goc_conn_close(q[i].a), 0);
            ASSERT_EQ(goc_conn_close(q[i].b), 0);
            ASSERT_EQ(goc_listener_close(q[i].ln), 0);
        }
        goc_chan_free(done);
    }
    assert_drained();
    ASSERT_EQ(goc_conn_close(p.a), 0);
    ASSERT_EQ(goc_conn_close(p.b), 0);
    ASSERT_EQ(goc_listener_close(p.ln), 0);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_lone_read_readiness, 120)
{
    if (!force_completion())
        return 0;
    atomic_store(&goc__uio_batch_min, 4); /* 8 idle readers are many */
    goc_maxprocs(2);
    return goc_main(lone_main, NULL);
}

/* A writer whose send goes to the ring (the socket buffer is full)
 * while the reader of the same connection is parked on an edge: the
 * send must not turn the readiness reports off under the reader (only
 * a recv does), or the byte the peer sends next never wakes it. */
typedef struct bigw {
    goc_conn *c;
    size_t n;
    ssize_t rc;
    goc_chan *done;
} bigw;

static void big_write(void *arg)
{
    bigw *w = arg;
    char *buf = calloc(1, w->n);
    if (!buf)
        abort();
    w->rc = goc_conn_write(w->c, buf, w->n);
    free(buf);
    goc_chan_send_int(w->done, 1);
}

static int loud_main(void *arg)
{
    (void)arg;
    enum { BIG = 16 << 20 };
    long rounds = goc_test_iters(20, 4);
    for (long r = 0; r < rounds; r++) {
        pair p;
        pair_open(&p);
        goc_chan *done = goc_chan_make(sizeof(int), 2);
        /* The reader fails instead of hanging if its edge is lost. */
        ASSERT_EQ(
            goc_conn_set_read_deadline(p.a, goc_nanotime() + 10 * GOC_SECOND),
            0);
        reader rd = {.c = p.a, .done = done};
        memset(rd.buf, CANARY, sizeof rd.buf);
        ASSERT_EQ(goc_go(read_once, &rd), 0);
        for (int k = 0; k < 10000 && !goc__pollfd_parked(
                                         goc__pollfd_lookup(goc_conn_fd(p.a)),
                                         GOC__POLL_READ);
             k++)
            goc_sleep(100 * GOC_MICROSECOND);
        uint64_t before = submitted_now();
        bigw w = {.c = p.a, .n = BIG, .done = done};
        ASSERT_EQ(goc_go(big_write, &w), 0);
        /* Until the writer's send is a request in flight. */
        for (int k = 0; k < 100000 && goc__uio_inflight() == 0; k++)
            goc_sleep(100 * GOC_MICROSECOND);
        ASSERT_GT(submitted_now(), before);
        ASSERT_EQ(goc_conn_write(p.b, "q", 1), 1);
        int v;
        ASSERT(goc_chan_recv_int(done, &v)); /* the reader, not the writer */
        ASSERT_EQ(rd.rc, 1);
        ASSERT_EQ(rd.buf[0], 'q');
        /* Drain the big write. */
        static char sink[1 << 16];
        size_t got = 0;
        while (got < BIG) {
            ssize_t n = goc_conn_read(p.b, sink, sizeof sink);
            ASSERT_GT(n, 0);
            got += (size_t)n;
        }
        ASSERT(goc_chan_recv_int(done, &v));
        ASSERT_EQ(w.rc, (ssize_t)BIG);
        assert_drained();
        goc_chan_free(done);
        ASSERT_EQ(goc_conn_close(p.a), 0);
        ASSERT_EQ(goc_conn_close(p.b), 0);
        ASSERT_EQ(goc_listener_close(p.ln), 0);
    }
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_send_keeps_reader_woken, 120)
{
    if (!force_completion())
        return 0;
    atomic_store(&goc__uio_batch_min, INT_MAX); /* reads: readiness */
    goc_maxprocs(2);
    return goc_main(loud_main, NULL);
}

/* The readiness path under completion I/O keeps the semantics: a read
 * deadline ends a parked read with -ETIMEDOUT, close wakes a parked
 * reader with -ECANCELED, and no request is made for either. */
static int lone_semantics_main(void *arg)
{
    (void)arg;
    pair p;
    pair_open(&p);
    uint64_t before = submitted_now();
    unsigned char b[8];
    int64_t dl = goc_nanotime() + 20 * GOC_MILLISECOND;
    ASSERT_EQ(goc_conn_set_read_deadline(p.a, dl), 0);
    ASSERT_EQ(goc_conn_read(p.a, b, sizeof b), -ETIMEDOUT);
    ASSERT_GE(goc_nanotime(), dl);
    ASSERT_EQ(goc_conn_set_read_deadline(p.a, 0), 0);
    goc_chan *done = goc_chan_make(sizeof(int), 1);
    reader rd = {.c = p.a, .done = done};
    ASSERT_EQ(goc_go(read_once, &rd), 0);
    goc__pollfd *pd = goc__pollfd_lookup(goc_conn_fd(p.a));
    for (int k = 0; k < 10000 && !goc__pollfd_parked(pd, GOC__POLL_READ); k++)
        goc_sleep(100 * GOC_MICROSECOND);
    ASSERT(goc__pollfd_parked(pd, GOC__POLL_READ));
    ASSERT_EQ(goc_conn_close(p.a), 0);
    int v;
    ASSERT(goc_chan_recv_int(done, &v));
    ASSERT_EQ(rd.rc, -ECANCELED);
    ASSERT_EQ(submitted_now(), before); /* neither was a request */
    assert_drained();
    goc_chan_free(done);
    ASSERT_EQ(goc_conn_close(p.b), 0);
    ASSERT_EQ(goc_listener_close(p.ln), 0);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_lone_read_semantics, 60)
{
    if (!force_completion())
        return 0;
    atomic_store(&goc__uio_batch_min, INT_MAX);
    goc_maxprocs(2);
    return goc_main(lone_semantics_main, NULL);
}

/* ---- one submission per scheduler round ----------------------------- */

/* 50 readers parked on requests in one round of one processor: their
 * requests go to the kernel together at the round's end
 * (goc__uio_flush), not one system call each. With a ring per M (the
 * default) the M submits them in one io_uring_enter of its own; with an
 * io thread (the A/B mode), wakes deferred as on one CPU, their pushes
 * leave it asleep and the round's end wakes it once. arg: non-NULL for
 * the io thread. */
static int round_main(void *arg)
{
    bool io_thread = arg != NULL;
    /* An io thread's one ring, or a ring per M's pool (2 x CPUs + 2). */
    ASSERT(io_thread ? goc__uio_rings() == 1 : goc__uio_rings() >= 4);
    enum { N = 50 };
    pair p[N];
    reader rd[N];
    goc_chan *done = goc_chan_make(sizeof(int), N);
    for (int i = 0; i < N; i++)
        pair_open(&p[i]);
    goc_sleep(5 * GOC_MILLISECOND); /* the io thread asleep */
    goc__uio_stats a, b;
    goc__uio_get_stats(&a);
    for (int i = 0; i < N; i++) {
        rd[i] = (reader){.c = p[i].a, .done = done};
        ASSERT_EQ(goc_go(read_once, &rd[i]), 0);
    }
    for (int k = 0; k < 100000 && goc__uio_inflight() < N; k++)
        goc_sleep(100 * GOC_MICROSECOND);
    ASSERT_EQ(goc__uio_inflight(), N);
    goc__uio_get_stats(&b);
    printf("%d requests: %llu io_uring_enter, %llu wakes of an io thread\n", N,
           (unsigned long long)(b.enters - a.enters),
           (unsigned long long)(b.wakes - a.wakes));
    ASSERT_EQ(b.recvs - a.recvs, N);
    if (io_thread)
        ASSERT_LE(b.wakes - a.wakes, 5);
    else /* a system call a request would be 50 */
        ASSERT_LE(b.enters - a.enters, 10);
    for (int i = 0; i < N; i++)
        ASSERT_EQ(goc_conn_write(p[i].b, "w", 1), 1);
    for (int i = 0; i < N; i++) {
        int v;
        ASSERT(goc_chan_recv_int(done, &v));
    }
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(rd[i].rc, 1);
        ASSERT_EQ(rd[i].buf[0], 'w');
        ASSERT_EQ(goc_conn_close(p[i].a), 0);
        ASSERT_EQ(goc_conn_close(p[i].b), 0);
        ASSERT_EQ(goc_listener_close(p[i].ln), 0);
    }
    assert_drained();
    goc_chan_free(done);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_round_one_submit, 60)
{
    if (!force_completion())
        return 0;
    atomic_store(&goc__uio_test_no_msrecv, true); /* single-shot recvs */
    goc_maxprocs(1);
    atomic_store(&goc__uio_test_rings, -1); /* a ring per M */
    ASSERT_EQ(goc_main(round_main, NULL), 0);
    atomic_store(&goc__uio_test_rings, 1);          /* an io thread */
    atomic_store(&goc__uio_test_defer_wakes, true); /* as on one CPU */
    return goc_main(round_main, "io thread");
}

/* A round that never ends (a goroutine that only yields, on the only
 * processor): the request another goroutine pushed still goes to the
 * kernel, on the scheduler's fairness tick. */
static int tick_main(void *arg)
{
    (void)arg;
    pair p;
    pair_open(&p);
    ASSERT_EQ(goc_conn_write(p.b, "t", 1), 1); /* there before the read */
    goc_sleep(5 * GOC_MILLISECOND);            /* the io thread asleep */
    goc_chan *done = goc_chan_make(sizeof(int), 1);
    reader rd = {.c = p.a, .done = done};
    ASSERT_EQ(goc_go(read_once, &rd), 0);
    int64_t end = goc_nanotime() + 10 * GOC_SECOND;
    while (goc_chan_len(done) == 0 && goc_nanotime() < end)
        goc_yield();
    ASSERT_EQ(goc_chan_len(done), 1);
    ASSERT_EQ(rd.rc, 1);
    ASSERT_EQ(rd.buf[0], 't');
    assert_drained();
    goc_chan_free(done);
    ASSERT_EQ(goc_conn_close(p.a), 0);
    ASSERT_EQ(goc_conn_close(p.b), 0);
    ASSERT_EQ(goc_listener_close(p.ln), 0);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_flush_on_tick, 60)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(1);
    atomic_store(&goc__uio_test_rings, -1); /* a ring per M */
    ASSERT_EQ(goc_main(tick_main, NULL), 0);
    atomic_store(&goc__uio_test_rings, 1);          /* an io thread */
    atomic_store(&goc__uio_test_defer_wakes, true); /* as on one CPU */
    return goc_main(tick_main, NULL);
}

/* ---- multishot accept ------------------------------------------------ */

static int fd_count(void)
{
    return goc_test_count_fds();
}

typedef struct dialer {
    const char *addr;
    uint32_t i;
    goc_waitgroup *wg;
} dialer;

static void dial_and_say(void *arg)
{
    dialer *d = arg;
    goc_conn *c;
    if (goc_dial(&c, "tcp", d->addr) != 0)
        abort();
    if (goc_conn_write(c, &d->i, sizeof d->i) != (ssize_t)sizeof d->i)
        abort();
    char x;
    if (goc_conn_read(c, &x, 1) != 0) /* until the server closes */
        abort();
    goc_conn_close(c);
    goc_waitgroup_done(d->wg);
}

/* Many dials at once: every one accepted once, in a handful of multishot
 * requests, each connection non-blocking and close-on-exec. */
static int accept_many_main(void *arg)
{
    (void)arg;
    long n = goc_test_iters(300, 40);
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    ASSERT_EQ(goc_listen(&ln, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(ln, addr, sizeof addr), 0);
    goc__uio_stats st0, st;
    goc__uio_get_stats(&st0);
    goc_waitgroup wgs = GOC_WAITGROUP_INIT, *wg = &wgs;
    dialer *d = calloc((size_t)n, sizeof *d);
    bool *seen = calloc((size_t)n, sizeof *seen);
    goc_conn **srv = calloc((size_t)n, sizeof *srv);
    ASSERT(d && seen && srv);
    for (long i = 0; i < n; i++) {
        d[i] = (dialer){addr, (uint32_t)i, wg};
        goc_waitgroup_add(wg, 1);
        ASSERT_EQ(goc_go(dial_and_say, &d[i]), 0);
    }
    for (long k = 0; k < n; k++) {
        ASSERT_EQ(goc_accept(ln, &srv[k]), 0);
        int fd = goc_conn_fd(srv[k]);
        ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        ASSERT(fcntl(fd, F_GETFL) & O_NONBLOCK);
        uint32_t i;
        ASSERT_EQ(goc_conn_read(srv[k], &i, sizeof i), (ssize_t)sizeof i);
        ASSERT(i < (uint32_t)n);
        ASSERT(!seen[i]); /* each connection accepted once */
        seen[i] = true;
    }
    goc__uio_get_stats(&st);
    uint64_t arms = st.accept_arms - st0.accept_arms;
    uint64_t acc = st.accepted - st0.accepted;
    printf("%ld dials: %llu accepted by %llu multishot requests\n", n,
           (unsigned long long)acc, (unsigned long long)arms);
    ASSERT_EQ(acc, (uint64_t)n);
    ASSERT_GT(arms, 0);
    ASSERT(arms <= (uint64_t)n / 4); /* requests that accepted many */
    for (long k = 0; k < n; k++)
        ASSERT_EQ(goc_conn_close(srv[k]), 0);
    goc_waitgroup_wait(wg);
    ASSERT_EQ(goc_listener_close(ln), 0);
    free(d);
    free(seen);
    free(srv);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_accept_multishot, 120)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(accept_many_main, NULL);
}

typedef struct acceptor {
    goc_listener *ln;
    int rc;
    goc_chan *done;
} acceptor;

static void accept_once(void *arg)
{
    acceptor *a = arg;
    goc_conn *c = NULL;
    a->rc = goc_accept(a->ln, &c);
    if (a->rc == 0)
        goc_conn_close(c);
    goc_chan_send_int(a->done, 1);
}

/* Connect plain sockets to addr; their descriptors in fds. */
static void plain_dial(const char *addr, int *fds, int n)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port =
                                 htons((uint16_t)atoi(strrchr(addr, ':') + 1)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT(fds[i] >= 0);
        ASSERT_EQ(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
    }
}

/* Close while the multishot request has connections queued that nobody
 * claimed, and an acceptor parked: the acceptor gets the closed error,
 * the queued connections are closed (their clients see end of file),
 * and the listening socket is gone when close returns (a dial is
 * refused, the port can be listened on again). */
static int accept_close_main(void *arg)
{
    (void)arg;
    long rounds = goc_test_iters(20, 4);
    goc_chan *done = goc_chan_make(sizeof(int), 1);
    for (long r = 0; r < rounds; r++) {
        goc_listener *ln;
        char addr[GOC_ADDRSTRLEN];
        ASSERT_EQ(goc_listen(&ln, "tcp", "127.0.0.1:0"), 0);
        ASSERT_EQ(goc_listener_addr(ln, addr, sizeof addr), 0);
        int before = fd_count();
        goc__uio_stats st0, st;
        goc__uio_get_stats(&st0);
        enum { K = 8 };
        int cli[K];
        plain_dial(addr, cli, K);
        /* One accept arms the request, which takes all K from the
         * backlog; K - 1 stay queued. */
        acceptor a = {.ln = ln, .done = done};
        accept_once(&a);
        int v;
        ASSERT(goc_chan_recv_int(done, &v));
        ASSERT_EQ(a.rc, 0);
        for (int k = 0; k < 5000; k++) {
            goc__uio_get_stats(&st);
            if (st.accepted - st0.accepted >= K)
                break;
            goc_sleep(GOC_MILLISECOND);
        }
        ASSERT_EQ(st.accepted - st0.accepted, (uint64_t)K);
        ASSERT_EQ(fd_count(), before + K + (K - 1)); /* clients, queued */
        /* Odd rounds: the queue emptied, an acceptor parks on it. */
        if (r % 2) {
            for (int i = 1; i < K; i++) {
                accept_once(&a);
                ASSERT(goc_chan_recv_int(done, &v));
                ASSERT_EQ(a.rc, 0);
            }
            ASSERT_EQ(goc_go(accept_once, &a), 0);
            goc_sleep(GOC_MILLISECOND);
        }
        ASSERT_EQ(goc_listener_close(ln), 0);
        if (r % 2) {
            ASSERT(goc_chan_recv_int(done, &v));
            ASSERT_EQ(a.rc, -ECANCELED);
        }
        /* Every server end is closed: listener, queued, accepted. */
        ASSERT_EQ(fd_count(), before - 1 + K);
        for (int i = 0; i < K; i++) {
            char x;
            ssize_t n;
            do
                n = read(cli[i], &x, 1);
            while (n < 0 && errno == EINTR);
            ASSERT(n == 0 || (n < 0 && errno == ECONNRESET));
            close(cli[i]);
        }
        /* The listening socket itself is gone. */
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {
            .sin_family = AF_INET,
            .sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1)),
            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        ASSERT_EQ(connect(s, (struct sockaddr *)&sa, sizeof sa), -1);
        ASSERT_EQ(errno, ECONNREFUSED);
        close(s);
        ASSERT_EQ(goc_listen(&ln, "tcp", addr), 0);
        ASSERT_EQ(goc_listener_close(ln), 0);
    }
    goc_chan_free(done);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_accept_close, 120)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(accept_close_main, NULL);
}

/* A read deadline ends a parked accept with -ETIMEDOUT and leaves the
 * multishot request armed: a later dial is accepted by the next call. */
static int accept_deadline_main(void *arg)
{
    (void)arg;
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    ASSERT_EQ(goc_listen(&ln, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(ln, addr, sizeof addr), 0);
    goc_conn *c;
    /* No public accept deadline: the listener's read deadline. */
    goc__pollfd *pd = goc__pollfd_lookup(goc_listener_fd(ln));
    ASSERT(pd);
    ASSERT_EQ(goc__pollfd_set_deadline(pd, GOC__POLL_READ,
                                       goc_nanotime() + 5 * GOC_MILLISECOND),
              0);
    ASSERT_EQ(goc_accept(ln, &c), -ETIMEDOUT);
    ASSERT_EQ(goc__pollfd_set_deadline(pd, GOC__POLL_READ, 0), 0);
    int cli;
    plain_dial(addr, &cli, 1);
    ASSERT_EQ(goc_accept(ln, &c), 0);
    goc__uio_stats st;
    goc__uio_get_stats(&st);
    ASSERT_EQ(st.accept_arms, 1); /* the first request accepted it */
    ASSERT_EQ(st.accepted, 1);
    ASSERT_EQ(goc_conn_write(c, "z", 1), 1);
    char x;
    ASSERT_EQ(read(cli, &x, 1), 1);
    ASSERT_EQ(x, 'z');
    close(cli);
    ASSERT_EQ(goc_conn_close(c), 0);
    ASSERT_EQ(goc_listener_close(ln), 0);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_accept_deadline, 60)
{
    if (!force_completion())
        return 0;
    return goc_main(accept_deadline_main, NULL);
}

/* A kernel that refuses multishot accept (-EINVAL): accept4 and
 * readiness take over, nothing is lost. */
static int accept_fallback_main(void *arg)
{
    (void)arg;
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    ASSERT_EQ(goc_listen(&ln, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(ln, addr, sizeof addr), 0);
    acceptor a = {.ln = ln, .done = goc_chan_make(sizeof(int), 1)};
    for (int i = 0; i < 10; i++) {
        /* Parked first (every other round), then the dial. */
        ASSERT_EQ(goc_go(accept_once, &a), 0);
        if (i % 2)
            goc_sleep(GOC_MILLISECOND);
        int cli;
        plain_dial(addr, &cli, 1);
        int v;
        ASSERT(goc_chan_recv_int(a.done, &v));
        ASSERT_EQ(a.rc, 0);
        close(cli);
    }
    goc__uio_stats st;
    goc__uio_get_stats(&st);
    printf("multishot requests %llu, accepted by them %llu\n",
           (unsigned long long)st.accept_arms, (unsigned long long)st.accepted);
    ASSERT_EQ(st.accept_arms, 1); /* refused once, then accept4 */
    ASSERT_EQ(st.accepted, 0);
    ASSERT_EQ(goc_listener_close(ln), 0);
    goc_chan_free(a.done);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_accept_fallback, 60)
{
    if (!force_completion())
        return 0;
    atomic_store(&goc__uio_test_refuse_multishot, true);
    return goc_main(accept_fallback_main, NULL);
}

/* A listener that outlives its goc_main with a multishot request armed:
 * that request ended with the io thread's ring. The next goc_main
 * accepts on it (completion I/O on or off) and closes it without
 * waiting for the old request. */
static goc_listener *carried;
static char carried_addr[GOC_ADDRSTRLEN];

static int carry_first_main(void *arg)
{
    (void)arg;
    ASSERT_EQ(goc_listen(&carried, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(carried, carried_addr, sizeof carried_addr), 0);
    goc__pollfd *pd = goc__pollfd_lookup(goc_listener_fd(carried));
    ASSERT(pd);
    ASSERT_EQ(goc__pollfd_set_deadline(pd, GOC__POLL_READ,
                                       goc_nanotime() + GOC_MILLISECOND),
              0);
    goc_conn *c;
    ASSERT_EQ(goc_accept(carried, &c), -ETIMEDOUT); /* armed, then left */
    ASSERT_EQ(goc__pollfd_set_deadline(pd, GOC__POLL_READ, 0), 0);
    return 0;
}

static int carry_next_main(void *arg)
{
    (void)arg;
    int cli;
    plain_dial(carried_addr, &cli, 1);
    goc_conn *c;
    ASSERT_EQ(goc_accept(carried, &c), 0);
    ASSERT_EQ(goc_conn_write(c, "k", 1), 1);
    char x;
    ASSERT_EQ(read(cli, &x, 1), 1);
    ASSERT_EQ(x, 'k');
    close(cli);
    ASSERT_EQ(goc_conn_close(c), 0);
    ASSERT_EQ(goc_listener_close(carried), 0); /* returns */
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_accept_outlives_runtime, 60)
{
    if (!force_completion())
        return 0;
    for (int i = 0; i < 2; i++) {
        setenv("GOC_POLLER", "io_uring_completion", 1);
        ASSERT_EQ(goc_main(carry_first_main, NULL), 0);
        /* The next runtime: completion I/O again, then readiness. */
        setenv("GOC_POLLER", i ? "io_uring" : "io_uring_completion", 1);
        ASSERT_EQ(goc_main(carry_next_main, NULL), 0);
    }
    return 0;
}

/* ---- pipes and regular files (goc_file, src/proc/file.c) -------------
 *
 * Each test runs its body twice: under the poller $GOC_POLLER names
 * (the semantics are the same in every mode), then, where the kernel
 * has it, under forced completion I/O (arg != NULL). With completion I/O
 * on, it also checks that the reads and writes really were requests on
 * the ring. */

static bool completion_available(void)
{
    const char *why = "";
    if (goc__poller_uring.available(&why) < 0 || goc__uio_available(&why) < 0) {
        printf("SKIP (completion part): completion I/O is not available "
               "here: %s\n",
               why);
        return false;
    }
    return true;
}

static int run_both(int (*fn)(void *))
{
    const char *env = getenv("GOC_POLLER");
    printf("GOC_POLLER=%s\n", env ? env : "");
    /* Every read that waits a request under completion I/O, even a lone
     * one (else it takes the readiness path: goc__uio_read_by_readiness). */
    atomic_store(&goc__uio_batch_min, 0);
    ASSERT_EQ(goc_main(fn, NULL), 0);
    if (!completion_available())
        return 0;
    setenv("GOC_POLLER", "io_uring_completion", 1);
    printf("GOC_POLLER=io_uring_completion\n");
    int r = goc_main(fn, "completion");
    atomic_store(&goc__uio_batch_min, -1);
    return r;
}

static uint64_t uio_submitted(void)
{
    goc__uio_stats st;
    goc__uio_get_stats(&st);
    return st.submitted;
}

/* Wait (bounded) until n requests are in flight. */
static void await_inflight(int64_t n)
{
    for (int k = 0; k < 20000 && goc__uio_inflight() != n; k++)
        goc_sleep(50 * GOC_MICROSECOND);
    ASSERT_EQ(goc__uio_inflight(), n);
}

/* Wait (bounded) until a goroutine is parked reading (writing) f. */
static void await_parked(goc_file *f, int mode)
{
    for (int k = 0; k < 20000 && !goc__pollfd_parked(f->pd, mode); k++)
        goc_sleep(50 * GOC_MICROSECOND);
    ASSERT(goc__pollfd_parked(f->pd, mode));
}

typedef struct {
    goc_file *f;
    void *buf;
    size_t n;
    ssize_t r;
    goc_chan *done;
} fio_t;

static void fio_reader(void *v)
{
    fio_t *a = v;
    a->r = goc_file_read(a->f, a->buf, a->n);
    goc_chan_send_int(a->done, 1);
}

static void fio_writer(void *v)
{
    fio_t *a = v;
    a->r = goc_file_write(a->f, a->buf, a->n);
    goc_chan_send_int(a->done, 1);
}

/* A read parked on an empty pipe gets the data written, then, parked
 * again, end of file when another goroutine closes the write end. */
static void close_file(void *v)
{
    if (goc_file_close(v) != 0)
        abort();
}

static int pipe_eof_main(void *arg)
{
    bool uio = goc__uio_on(); /* completion I/O in this run */
    if (arg)
        ASSERT(uio);
    goc_file *r, *w;
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    uint64_t sub0 = uio_submitted();
    char buf[16];
    fio_t a = {r, buf, sizeof buf, 0, goc_chan_make(sizeof(int), 1)};
    int v;
    ASSERT_EQ(goc_go(fio_reader, &a), 0);
    await_parked(r, GOC__POLL_READ);
    if (uio)
        await_inflight(1); /* a read request, in flight */
    ASSERT_EQ(goc_file_write(w, "hello", 5), 5);
    ASSERT(goc_chan_recv_int(a.done, &v));
    ASSERT_EQ(a.r, 5);
    ASSERT(!memcmp(buf, "hello", 5));
    ASSERT_EQ(goc_go(fio_reader, &a), 0);
    await_parked(r, GOC__POLL_READ);
    ASSERT_EQ(goc_go(close_file, w), 0);
    ASSERT(goc_chan_recv_int(a.done, &v));
    ASSERT_EQ(a.r, 0); /* end of file */
    ASSERT_EQ(goc_file_read(r, buf, sizeof buf), 0);
    if (uio) {
        ASSERT_GE(uio_submitted() - sub0, 2); /* the two parked reads */
        assert_drained();
    }
    ASSERT_EQ(goc_file_close(r), 0);
    goc_chan_free(a.done);
    return 0;
}

GOC_TEST_TIMEOUT(proc_uring_pipe_eof, 60)
{
    return run_both(pipe_eof_main);
}

/* goc_file_close racing a parked read while a writer sends one byte at
 * about the same time: the read gets the byte, or the closed error with
 * its buffer untouched, also after the byte was written (the cancelled
 * request never writes it). Exactly one of the two. */
typedef struct {
    goc_file *f;
    int64_t delay;
    goc_chan *done;
} delayed_t;

static void close_later(void *v)
{
    delayed_t *d = v;
    goc_sleep(d->delay);
    if (goc_file_close(d->f) != 0)
        abort();
    goc_chan_send_int(d->done, 1);
}

static void write_later(void *v)
{
    delayed_t *d = v;
    goc_sleep(d->delay);
    ssize_t n = goc_file_write(d->f, "x", 1);
    if (n != 1 && n != -EPIPE)
        abort();
    goc_chan_send_int(d->done, 1);
}

static int pipe_close_race_main(void *arg)
{
    bool uio = goc__uio_on(); /* completion I/O in this run */
    if (arg)
        ASSERT(uio);
    goc__uio_stats st0, st;
    goc__uio_get_stats(&st0);
    long rounds = goc_test_iters(300, 40);
    long closed = 0, got = 0;
    for (long i = 0; i < rounds; i++) {
        goc_file *r, *w;
        ASSERT_EQ(goc_pipe(&r, &w), 0);
        unsigned char buf[64];
        memset(buf, CANARY, sizeof buf);
        fio_t a = {r, buf, sizeof buf, 0, goc_chan_make(sizeof(int), 1)};
        ASSERT_EQ(goc_go(fio_reader, &a), 0);
        await_parked(r, GOC__POLL_READ);
        /* Close 0-1 ms from now, the byte at ~500 us. */
        goc_chan *both = goc_chan_make(sizeof(int), 2);
        delayed_t dc = {r, (i % 11) * 100 * GOC_MICROSECOND, both};
        delayed_t dw = {w, 500 * GOC_MICROSECOND, both};
        ASSERT_EQ(goc_go(write_later, &dw), 0);
        ASSERT_EQ(goc_go(close_later, &dc), 0);
        int v;
        ASSERT(goc_chan_recv_int(a.done, &v));
        ASSERT(goc_chan_recv_int(both, &v)); /* the write and the close */
        ASSERT(goc_chan_recv_int(both, &v)); /* are over */
        if (a.r == -ECANCELED) {
            closed++;
            goc_sleep(GOC_MILLISECOND);
            ASSERT(all_canary(buf, sizeof buf)); /* nothing came later */
        } else {
            ASSERT_EQ(a.r, 1);
            ASSERT_EQ(buf[0], 'x');
            ASSERT(all_canary(buf + 1, sizeof buf - 1));
            got++;
        }
        ASSERT_EQ(goc_file_close(w), 0);
        goc_chan_free(both);
        goc_chan_free(a.done);
        if (uio)
            assert_drained();
    }
    goc__uio_get_stats(&st);
    printf("rounds %ld: closed error %ld, byte read %ld, cancels %llu\n",
           rounds, closed, got, (unsigned long long)(st.cancels - st0.cancels));
    ASSERT_GT(closed, 0); /* the close path really ran */
    if (uio)
        ASSERT_GT(st.cancels - st0.cancels, 0); /* requests cancelled */
    return 0;
}

GOC_TEST_TIMEOUT(proc_uring_pipe_close_race, 120)
{
    goc_maxprocs(2);
    return run_both(pipe_close_race_main);
}

/* One goc_file_write of 1 MiB through a pipe to a slow reader: it
 * returns 1 MiB once every byte is in the pipe, and they arrive in
 * order. A write whose reader closes while it is parked: -EPIPE, and
 * SIGPIPE does not kill the process. */
#define BIG_WRITE (1 << 20)

static unsigned char big_byte(size_t i)
{
    return (unsigned char)(i * 131 + (i >> 12));
}

static int pipe_big_write_main(void *arg)
{
    bool uio = goc__uio_on(); /* completion I/O in this run */
    if (arg)
        ASSERT(uio);
    goc_file *r, *w;
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    uint64_t sub0 = uio_submitted();
    unsigned char *src = malloc(BIG_WRITE), *dst = malloc(BIG_WRITE);
    ASSERT(src && dst);
    for (size_t i = 0; i < BIG_WRITE; i++)
        src[i] = big_byte(i);
    fio_t a = {w, src, BIG_WRITE, 0, goc_chan_make(sizeof(int), 1)};
    ASSERT_EQ(goc_go(fio_writer, &a), 0);
    size_t got = 0;
    long reads = 0;
    while (got < BIG_WRITE) {
        if (reads++ % 8 == 0)
            goc_sleep(200 * GOC_MICROSECOND); /* a slow reader */
        ssize_t n = goc_file_read(r, dst + got, 12345);
        ASSERT_GT(n, 0);
        got += (size_t)n;
    }
    int v;
    ASSERT(goc_chan_recv_int(a.done, &v));
    ASSERT_EQ(a.r, BIG_WRITE); /* the partial writes are hidden */
    ASSERT(!memcmp(src, dst, BIG_WRITE));
    if (uio) {
        /* The writes that found the pipe full, the reads that found it
         * empty: requests. */
        ASSERT_GT(uio_submitted() - sub0, 0);
        assert_drained();
    }
    /* A write parked on a full pipe whose reader goes: -EPIPE. */
    a.n = BIG_WRITE;
    ASSERT_EQ(goc_go(fio_writer, &a), 0);
    await_parked(w, GOC__POLL_WRITE);
    if (uio)
        await_inflight(1); /* a write request, in flight */
    ASSERT_EQ(goc_file_close(r), 0);
    ASSERT(goc_chan_recv_int(a.done, &v));
    ASSERT_EQ(a.r, -EPIPE);
    ASSERT_EQ(goc_file_write(w, "x", 1), -EPIPE);
    ASSERT_EQ(goc_file_close(w), 0);
    goc_chan_free(a.done);
    free(src);
    free(dst);
    return 0;
}

GOC_TEST_TIMEOUT(proc_uring_pipe_big_write, 120)
{
    goc_maxprocs(2);
    return run_both(pipe_big_write_main);
}

/* Under completion I/O a read that waits for a pipe (goc_pipe, a
 * command's stdout pipe) is a request on the ring: each round, a read
 * parks on the empty pipe before the byte is written. (A read that finds
 * data waiting while the io thread sleeps is a plain read(2): uring_io.c
 * says why.) */
static int pipe_ring_main(void *arg)
{
    bool uio = goc__uio_on(); /* completion I/O in this run */
    if (arg)
        ASSERT(uio);
    goc_file *r, *w;
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    uint64_t sub0 = uio_submitted();
    long n = goc_test_iters(200, 20);
    char c;
    fio_t a = {r, &c, 1, 0, goc_chan_make(sizeof(int), 1)};
    for (long i = 0; i < n; i++) {
        ASSERT_EQ(goc_go(fio_reader, &a), 0);
        await_parked(r, GOC__POLL_READ);
        if (uio)
            await_inflight(1); /* the read is a request, in flight */
        char d = (char)i;
        ASSERT_EQ(goc_file_write(w, &d, 1), 1);
        int v;
        ASSERT(goc_chan_recv_int(a.done, &v));
        ASSERT_EQ(a.r, 1);
        ASSERT_EQ(c, d);
    }
    uint64_t sub = uio_submitted() - sub0;
    printf("%ld parked reads: %llu requests\n", n, (unsigned long long)sub);
    if (uio)
        ASSERT_GE(sub, (uint64_t)n); /* every parked read */
    else
        ASSERT_EQ(sub, 0);
    ASSERT_EQ(goc_file_close(w), 0);
    ASSERT_EQ(goc_file_read(r, &c, 1), 0);
    ASSERT_EQ(goc_file_close(r), 0);
    goc_chan_free(a.done);
    /* A command's stdout pipe, read before the command writes. */
    goc_cmd *cmd =
        goc_command("sh", "-c", "sleep 0.2; printf hello-uring", NULL);
    goc_file *out;
    ASSERT_EQ(goc_cmd_stdout_pipe(cmd, &out), 0);
    ASSERT_EQ(goc_cmd_start(cmd), 0);
    sub0 = uio_submitted();
    char buf[64];
    size_t got = 0;
    ssize_t k;
    while ((k = goc_file_read(out, buf + got, sizeof buf - got)) > 0)
        got += (size_t)k;
    ASSERT_EQ(k, 0);
    ASSERT_EQ(got, 11);
    ASSERT(!memcmp(buf, "hello-uring", 11));
    if (uio)
        ASSERT_GE(uio_submitted() - sub0, 1); /* the first read waited */
    ASSERT_EQ(goc_cmd_wait(cmd), 0);
    goc_cmd_free(cmd);
    if (uio)
        assert_drained();
    return 0;
}

GOC_TEST_TIMEOUT(proc_uring_pipe_reads_on_ring, 60)
{
    return run_both(pipe_ring_main);
}

/* A lone pipe reader under completion I/O takes the readiness path
 * while few goroutines are busy, as a socket's does: it parks on the
 * edge with no request in flight and gets the data; so does a writer
 * that fills the pipe. Switched to requests
 * (the threshold lowered) it parks on a request, which turns readiness
 * reports off; switched back, its read turns them on again before it
 * parks, or the next byte would never wake it. Then a close of the write
 * end wakes the reader parked on readiness with end of file. Completion
 * I/O only. */
static int pipe_lone_main(void *arg)
{
    (void)arg;
    ASSERT(goc__uio_on());
    goc_file *r, *w;
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    char c;
    fio_t a = {r, &c, 1, 0, goc_chan_make(sizeof(int), 1)};
    int v;
    for (int round = 0; round < 4; round++) {
        bool ring = round % 2 == 1;
        atomic_store(&goc__uio_batch_min, ring ? 0 : INT_MAX);
        for (int i = 0; i < 50; i++) {
            uint64_t sub0 = uio_submitted();
            ASSERT_EQ(goc_go(fio_reader, &a), 0);
            await_parked(r, GOC__POLL_READ);
            if (ring)
                await_inflight(1); /* a request */
            else
                ASSERT_EQ(goc__uio_inflight(), 0); /* on the edge */
            char d = (char)(round * 50 + i);
            ASSERT_EQ(goc_file_write(w, &d, 1), 1);
            ASSERT(goc_chan_recv_int(a.done, &v));
            ASSERT_EQ(a.r, 1);
            ASSERT_EQ(c, d);
            if (ring)
                ASSERT_GE(uio_submitted() - sub0, 1);
            else
                ASSERT_EQ(uio_submitted() - sub0, 0);
        }
    }
    atomic_store(&goc__uio_batch_min, INT_MAX);
    /* A write that fills the pipe parks on the write end's edge, no
     * request, and the reader's draining wakes it: the bytes are whole. */
    enum { N = 256 * 1024 };
    unsigned char *src = malloc(N), *dst = malloc(N);
    ASSERT(src && dst);
    for (size_t i = 0; i < N; i++)
        src[i] = big_byte(i);
    uint64_t sub0 = uio_submitted();
    fio_t b = {w, src, N, 0, goc_chan_make(sizeof(int), 1)};
    ASSERT_EQ(goc_go(fio_writer, &b), 0);
    await_parked(w, GOC__POLL_WRITE);
    ASSERT_EQ(goc__uio_inflight(), 0); /* on the edge */
    size_t got = 0;
    while (got < N) {
        ssize_t k = goc_file_read(r, dst + got, N - got);
        ASSERT_GT(k, 0);
        got += (size_t)k;
    }
    ASSERT(goc_chan_recv_int(b.done, &v));
    ASSERT_EQ(b.r, N);
    ASSERT(!memcmp(src, dst, N));
    ASSERT_EQ(uio_submitted() - sub0, 0);
    goc_chan_free(b.done);
    free(src);
    free(dst);
    ASSERT_EQ(goc_go(fio_reader, &a), 0);
    await_parked(r, GOC__POLL_READ);
    ASSERT_EQ(goc__uio_inflight(), 0);
    ASSERT_EQ(goc_go(close_file, w), 0);
    ASSERT(goc_chan_recv_int(a.done, &v));
    ASSERT_EQ(a.r, 0); /* end of file */
    ASSERT_EQ(goc_file_close(r), 0);
    goc_chan_free(a.done);
    assert_drained();
    return 0;
}

GOC_TEST_TIMEOUT(proc_uring_pipe_lone_readiness, 60)
{
    if (!completion_available())
        return 0;
    setenv("GOC_POLLER", "io_uring_completion", 1);
    return goc_main(pipe_lone_main, NULL);
}

/* A kernel that answers a pipe's request with EAGAIN (honouring
 * O_NONBLOCK) turns that file to readiness for good: a read that then
 * parks is no request, and gets the data (the registration was switched
 * back on after the requests had switched it off); a large write to a
 * slow reader is whole. Completion I/O only. */
static int pipe_refused_main(void *arg)
{
    (void)arg;
    ASSERT(goc__uio_on());
    goc_file *r, *w;
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    char c;
    fio_t a = {r, &c, 1, 0, goc_chan_make(sizeof(int), 1)};
    int v;
    /* A request first: the registration goes quiet. */
    ASSERT_EQ(goc_go(fio_reader, &a), 0);
    await_parked(r, GOC__POLL_READ);
    await_inflight(1);
    ASSERT_EQ(goc_file_write(w, "a", 1), 1);
    ASSERT(goc_chan_recv_int(a.done, &v));
    ASSERT_EQ(a.r, 1);
    ASSERT_EQ(c, 'a');
    /* Refused: readiness from now on. */
    atomic_store(&goc__uio_test_refuse_files, true);
    uint64_t sub0 = uio_submitted();
    ASSERT_EQ(goc_go(fio_reader, &a), 0);
    await_parked(r, GOC__POLL_READ);
    ASSERT_EQ(goc__uio_inflight(), 0); /* parked on readiness */
    ASSERT(r->uio_refused);
    ASSERT_EQ(goc_file_write(w, "b", 1), 1);
    ASSERT(goc_chan_recv_int(a.done, &v));
    ASSERT_EQ(a.r, 1);
    ASSERT_EQ(c, 'b');
    /* A big write, refused on its first full pipe. */
    enum { N = 256 * 1024 };
    unsigned char *src = malloc(N), *dst = malloc(N);
    ASSERT(src && dst);
    for (size_t i = 0; i < N; i++)
        src[i] = big_byte(i);
    fio_t b = {w, src, N, 0, goc_chan_make(sizeof(int), 1)};
    ASSERT_EQ(goc_go(fio_writer, &b), 0);
    size_t got = 0;
    for (long k = 0; got < N; k++) {
        if (k % 8 == 0)
            goc_sleep(200 * GOC_MICROSECOND);
        ssize_t n = goc_file_read(r, dst + got, 10000);
        ASSERT_GT(n, 0);
        got += (size_t)n;
    }
    ASSERT(goc_chan_recv_int(b.done, &v));
    ASSERT_EQ(b.r, N);
    ASSERT(!memcmp(src, dst, N));
    ASSERT(w->uio_refused);
    ASSERT_EQ(uio_submitted() - sub0, 0);
    atomic_store(&goc__uio_test_refuse_files, false);
    ASSERT_EQ(goc_file_close(w), 0);
    ASSERT_EQ(goc_file_read(r, &c, 1), 0);
    ASSERT_EQ(goc_file_close(r), 0);
    goc_chan_free(a.done);
    goc_chan_free(b.done);
    free(src);
    free(dst);
    assert_drained();
    return 0;
}

GOC_TEST_TIMEOUT(proc_uring_pipe_refused, 60)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(pipe_refused_main, NULL);
}

/* A regular file under completion I/O with one processor: written and
 * read through the ring at the file position (sequential calls continue
 * where the last stopped), while another goroutine is runnable all the
 * time; no call enters a system call section (the processors' syscall
 * ticks do not move), where the readiness modes' blocking calls enter one
 * each. (How often the other goroutine runs meanwhile is the scheduler's
 * business: printed, not asserted.) */
static _Atomic bool spin_stop;
static _Atomic long spins;

static void spinner(void *v)
{
    goc_chan *done = v;
    while (!atomic_load(&spin_stop)) {
        atomic_fetch_add(&spins, 1);
        goc_yield();
    }
    goc_chan_send_int(done, 1);
}

static uint64_t syscall_ticks(void)
{
    uint64_t t = 0;
    int n = atomic_load(&goc__sc.nprocs_alloc);
    for (int i = 0; i < n; i++)
        t += atomic_load(&goc__sc.allp[i]->syscalltick);
    return t;
}

#define REG_CHUNK 65536
#define REG_CHUNKS 64 /* 4 MiB */

static int regular_file_main(void *arg)
{
    bool uio = goc__uio_on(); /* completion I/O in this run */
    if (arg)
        ASSERT(uio);
    char path[] = "/tmp/goc-uring-reg-XXXXXX";
    int tfd = mkstemp(path);
    ASSERT_GE(tfd, 0);
    close(tfd);
    unsigned char *chunk = malloc(REG_CHUNK), *back = malloc(REG_CHUNK);
    ASSERT(chunk && back);
    goc_chan *done = goc_chan_make(sizeof(int), 1);
    atomic_store(&spin_stop, false);
    atomic_store(&spins, 0);
    ASSERT_EQ(goc_go(spinner, done), 0);

    goc_file *f;
    ASSERT_EQ(goc_file_open(&f, path, O_RDWR | O_TRUNC, 0), 0);
    ASSERT(!goc__pollfd_polled(f->pd));
    uint64_t sub0 = uio_submitted(), t0 = syscall_ticks();
    for (int c = 0; c < REG_CHUNKS; c++) {
        for (size_t i = 0; i < REG_CHUNK; i++)
            chunk[i] = big_byte((size_t)c * REG_CHUNK + i);
        ASSERT_EQ(goc_file_write(f, chunk, REG_CHUNK), REG_CHUNK);
    }
    ASSERT_EQ(goc_file_read(f, back, 1), 0); /* the position is at the end */
    uint64_t ticks_w = syscall_ticks() - t0;
    ASSERT_EQ(goc_file_close(f), 0);

    ASSERT_EQ(goc_file_open(&f, path, O_RDONLY, 0), 0);
    long spins0 = atomic_load(&spins);
    t0 = syscall_ticks();
    size_t off = 0;
    long reads = 0;
    for (;;) {
        ssize_t n = goc_file_read(f, back, REG_CHUNK - 1000);
        ASSERT_GE(n, 0);
        if (n == 0)
            break;
        reads++;
        for (ssize_t i = 0; i < n; i++)
            if (back[i] != big_byte(off + (size_t)i))
                ASSERT_EQ(back[i], big_byte(off + (size_t)i));
        off += (size_t)n;
    }
    uint64_t ticks_r = syscall_ticks() - t0;
    long spun = atomic_load(&spins) - spins0;
    ASSERT_EQ(off, (size_t)REG_CHUNK * REG_CHUNKS);
    ASSERT_EQ(goc_file_close(f), 0);
    uint64_t sub = uio_submitted() - sub0;
    printf("%ld reads: %llu requests, syscall ticks %llu (writes %llu), "
           "other goroutine ran %ld times\n",
           reads, (unsigned long long)sub, (unsigned long long)ticks_r,
           (unsigned long long)ticks_w, spun);
    if (uio) {
        ASSERT_GE(sub, (uint64_t)(reads + REG_CHUNKS));
        ASSERT_EQ(ticks_r, 0); /* no thread held in a system call */
        ASSERT_EQ(ticks_w, 0);
        assert_drained();
    } else {
        ASSERT_GE(ticks_r, (uint64_t)reads); /* the counter tells */
    }
    atomic_store(&spin_stop, true);
    int v;
    ASSERT(goc_chan_recv_int(done, &v));
    goc_chan_free(done);
    unlink(path);
    free(chunk);
    free(back);
    return 0;
}

GOC_TEST_TIMEOUT(proc_uring_regular_file, 120)
{
    goc_maxprocs(1);
    return run_both(regular_file_main);
}

/* ---- more than one ring ---------------------------------------------- */

#define MR_PAIRS 6
#define MR_LISTENERS 4

typedef struct mr_reader {
    goc_conn *c;
    int64_t deadline; /* 0: none */
    unsigned char buf[32];
    ssize_t rc;
    goc_chan *done;
} mr_reader;

static void mr_read(void *arg)
{
    mr_reader *rd = arg;
    if (rd->deadline)
        (void)goc_conn_set_read_deadline(rd->c, rd->deadline);
    rd->rc = goc_conn_read(rd->c, rd->buf, sizeof rd->buf);
    goc_chan_send_int(rd->done, 1);
}

/* Two rings (whatever the CPUs): the requests of descriptors on both
 * rings at once, each cancelled on the ring that holds it, by a deadline
 * (every reader of MR_PAIRS connections parked together), by a close
 * racing a byte, and a listener's multishot accept by its close. A
 * cancel sent to the other ring finds nothing there and leaves its
 * request, and the goroutine, waiting for good. */
static int rings_main(void *arg)
{
    (void)arg;
    ASSERT_EQ(goc__uio_rings(), 2);
    uint64_t sub0[2] = {goc__uio_ring_submitted(0), goc__uio_ring_submitted(1)};
    goc_chan *done = goc_chan_make(sizeof(int), MR_PAIRS);
    pair p[MR_PAIRS];
    bool parity[2] = {false, false};
    for (int i = 0; i < MR_PAIRS; i++) {
        pair_open(&p[i]);
        parity[goc_conn_fd(p[i].a) % 2] = true;
    }
    ASSERT(parity[0] && parity[1]); /* readers on both rings */

    /* Deadlines: every reader parked on its recv, none gets data. */
    mr_reader rd[MR_PAIRS];
    long rounds = goc_test_iters(20, 4);
    for (long r = 0; r < rounds; r++) {
        int64_t dl = goc_nanotime() + (2 + r % 3) * GOC_MILLISECOND;
        for (int i = 0; i < MR_PAIRS; i++) {
            rd[i] = (mr_reader){.c = p[i].a, .deadline = dl, .done = done};
            memset(rd[i].buf, CANARY, sizeof rd[i].buf);
            ASSERT_EQ(goc_go(mr_read, &rd[i]), 0);
        }
        int v;
        for (int i = 0; i < MR_PAIRS; i++)
            ASSERT(goc_chan_recv_int(done, &v));
        for (int i = 0; i < MR_PAIRS; i++) {
            ASSERT_EQ(rd[i].rc, -ETIMEDOUT);
            ASSERT(all_canary(rd[i].buf, sizeof rd[i].buf));
        }
        assert_drained();
    }
    /* Echo over each, both ways: nothing was lost or left behind. */
    for (int i = 0; i < MR_PAIRS; i++) {
        ASSERT_EQ(goc_conn_set_read_deadline(p[i].a, 0), 0);
        unsigned char b = (unsigned char)('a' + i), got = 0;
        ASSERT_EQ(goc_conn_write(p[i].b, &b, 1), 1);
        ASSERT_EQ(goc_conn_read(p[i].a, &got, 1), 1);
        ASSERT_EQ(got, b);
        ASSERT_EQ(goc_conn_write(p[i].a, &b, 1), 1);
        ASSERT_EQ(goc_conn_read(p[i].b, &got, 1), 1);
        ASSERT_EQ(got, b);
    }
    /* Closes racing a byte on every connection at once: the byte or
     * -ECANCELED, the buffer untouched then. */
    long got = 0, canceled = 0;
    for (int i = 0; i < MR_PAIRS; i++) {
        rd[i] = (mr_reader){.c = p[i].a, .done = done};
        memset(rd[i].buf, CANARY, sizeof rd[i].buf);
        ASSERT_EQ(goc_go(mr_read, &rd[i]), 0);
    }
    for (int i = 0; i < MR_PAIRS; i++) {
        for (int k = 0; k < i % 3; k++)
            goc_yield();
        if (i % 2)
            ASSERT_EQ(goc_conn_write(p[i].b, "x", 1), 1);
        ASSERT_EQ(goc_conn_close(p[i].a), 0);
    }
    int v;
    for (int i = 0; i < MR_PAIRS; i++)
        ASSERT(goc_chan_recv_int(done, &v));
    for (int i = 0; i < MR_PAIRS; i++) {
        if (rd[i].rc == 1) {
            ASSERT_EQ(rd[i].buf[0], 'x');
            ASSERT(all_canary(rd[i].buf + 1, sizeof rd[i].buf - 1));
            got++;
        } else {
            ASSERT_EQ(rd[i].rc, -ECANCELED);
            ASSERT(all_canary(rd[i].buf, sizeof rd[i].buf));
            canceled++;
        }
    }
    ASSERT_GT(canceled, 0);
    assert_drained();
    for (int i = 0; i < MR_PAIRS; i++) {
        ASSERT_EQ(goc_conn_close(p[i].b), 0);
        ASSERT_EQ(goc_listener_close(p[i].ln), 0);
    }
    /* Listeners on both rings: each one's multishot accept is armed (an
     * accept that times out), takes a connection, and is cancelled by
     * the listener's close, which waits for the request's end. */
    goc_listener *ln[MR_LISTENERS];
    bool lparity[2] = {false, false};
    for (int i = 0; i < MR_LISTENERS; i++) {
        ASSERT_EQ(goc_listen(&ln[i], "tcp", "127.0.0.1:0"), 0);
        lparity[goc_listener_fd(ln[i]) % 2] = true;
        goc__pollfd *pd = goc__pollfd_lookup(goc_listener_fd(ln[i]));
        ASSERT(pd);
        ASSERT_EQ(goc__pollfd_set_deadline(pd, GOC__POLL_READ,
                                           goc_nanotime() + GOC_MILLISECOND),
                  0);
        goc_conn *c;
        ASSERT_EQ(goc_accept(ln[i], &c), -ETIMEDOUT);
        ASSERT_EQ(goc__pollfd_set_deadline(pd, GOC__POLL_READ, 0), 0);
        char addr[GOC_ADDRSTRLEN];
        ASSERT_EQ(goc_listener_addr(ln[i], addr, sizeof addr), 0);
        int cli;
        plain_dial(addr, &cli, 1);
        ASSERT_EQ(goc_accept(ln[i], &c), 0);
        close(cli);
        ASSERT_EQ(goc_conn_close(c), 0);
    }
    ASSERT(lparity[0] && lparity[1]);
    for (int i = 0; i < MR_LISTENERS; i++)
        ASSERT_EQ(goc_listener_close(ln[i]), 0);
    ASSERT_GT(goc__uio_ring_submitted(0), sub0[0]);
    ASSERT_GT(goc__uio_ring_submitted(1), sub0[1]);
    printf("ring requests %llu + %llu; closes: byte read %ld, canceled %ld\n",
           (unsigned long long)(goc__uio_ring_submitted(0) - sub0[0]),
           (unsigned long long)(goc__uio_ring_submitted(1) - sub0[1]), got,
           canceled);
    goc_chan_free(done);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_rings, 120)
{
    if (!force_completion())
        return 0;
    atomic_store(&goc__uio_test_rings, 2);
    goc_maxprocs(2);
    ASSERT_EQ(goc_main(rings_main, NULL), 0);
    /* Wakes left to goc__uio_flush (as on one CPU): it wakes each ring
     * that owes one. */
    atomic_store(&goc__uio_test_defer_wakes, true);
    return goc_main(rings_main, NULL);
}

/* ---- multishot recv (uring_io.h: goc__uio_rcv) ------------------------
 *
 * Reads on the ring (force_completion) take their data from one
 * multishot recv a connection, whose buffers come from the io thread's
 * pool. Each test checks that the multishot recv really ran (its
 * completions counted), and SKIPs where the kernel lacks it. */

static bool ms_unavailable(void)
{
    if (goc__uio_msrecv_on())
        return false;
    printf("SKIP: multishot recv is not available here (provided buffer "
           "rings, Linux 5.19)\n");
    return true;
}

static goc__uio_stats ms_stats(void)
{
    goc__uio_stats st;
    goc__uio_get_stats(&st);
    return st;
}

/* Wait (bounded) until f() == want; returns its last value. */
static int64_t ms_await(int64_t (*f)(void), int64_t want)
{
    int64_t v = f();
    for (int k = 0; k < 5000 && v != want; k++) {
        goc_sleep(GOC_MILLISECOND);
        v = f();
    }
    return v;
}

/* Wait (bounded) until the multishot recvs have completed more than
 * `than` times. */
static void ms_await_cqes(uint64_t than)
{
    for (int k = 0; k < 5000 && ms_stats().recv_cqes <= than; k++)
        goc_sleep(GOC_MILLISECOND);
    ASSERT_GT(ms_stats().recv_cqes, than);
}

static unsigned char ms_pat(long id, size_t i)
{
    return (unsigned char)(id * 131 + (long)i * 7 + (long)(i >> 9));
}

/* Echoes running (ms_go_echo). */
static _Atomic long ms_echoes;

/* Echo until end of file, in reads of any size. */
static void ms_echo(void *arg)
{
    goc_conn *c = arg;
    char buf[3000];
    ssize_t n;
    while ((n = goc_conn_read(c, buf, sizeof buf)) > 0)
        if (goc_conn_write(c, buf, (size_t)n) != n)
            abort();
    if (n != 0)
        abort();
    goc_conn_close(c);
    atomic_fetch_sub(&ms_echoes, 1);
}

static void ms_go_echo(goc_conn *c)
{
    atomic_fetch_add(&ms_echoes, 1);
    ASSERT_EQ(goc_go(ms_echo, c), 0);
}

static int64_t ms_echoes_now(void)
{
    return atomic_load(&ms_echoes);
}

typedef struct ms_client_arg {
    goc_conn *c;
    long id, msgs;
    goc_chan *done;
} ms_client_arg;

/* Messages of 1 byte to 9000 (one buffer to three, and reads of 333
 * bytes that end inside a buffer), each read back and compared. */
static void ms_client(void *arg)
{
    ms_client_arg *a = arg;
    static const size_t sizes[] = {1, 64, 700, 4096, 5000, 9000};
    unsigned char *out = malloc(9000), *in = malloc(9000);
    if (!out || !in)
        abort();
    for (long m = 0; m < a->msgs; m++) {
        size_t len = sizes[(size_t)(m + a->id) % 6];
        for (size_t i = 0; i < len; i++)
            out[i] = ms_pat(a->id + m, i);
        if (goc_conn_write(a->c, out, len) != (ssize_t)len)
            abort();
        size_t got = 0;
        while (got < len) {
            size_t want = len - got < 333 ? len - got : 333;
            ssize_t n = goc_conn_read(a->c, in + got, want);
            if (n <= 0)
                abort();
            got += (size_t)n;
        }
        if (memcmp(out, in, len) != 0)
            abort();
    }
    free(out);
    free(in);
    goc_conn_close(a->c);
    goc_chan_send_int(a->done, 1);
}

#define MS_CONNS 100

/* Every reader's buffers are back in the pool and every multishot recv
 * has ended, once all connections are closed. */
static void ms_assert_quiet(void)
{
    ASSERT_EQ(ms_await(ms_echoes_now, 0), 0);
    ASSERT_EQ(ms_await(goc__uio_msrecv_armed, 0), 0);
    ASSERT_EQ(ms_await(goc__uio_pbuf_held, 0), 0);
}

static int ms_echo_main(void *arg)
{
    (void)arg;
    if (ms_unavailable())
        return 0;
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    ASSERT_EQ(goc_listen(&ln, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(ln, addr, sizeof addr), 0);
    goc__uio_stats st0 = ms_stats();
    static ms_client_arg cl[MS_CONNS];
    goc_chan *done = goc_chan_make(sizeof(int), MS_CONNS);
    long msgs = goc_test_iters(120, 12);
    for (long i = 0; i < MS_CONNS; i++) {
        goc_conn *s;
        ASSERT_EQ(goc_dial(&cl[i].c, "tcp", addr), 0);
        ASSERT_EQ(goc_accept(ln, &s), 0);
        ms_go_echo(s);
        cl[i].id = i;
        cl[i].msgs = msgs;
        cl[i].done = done;
    }
    for (long i = 0; i < MS_CONNS; i++)
        ASSERT_EQ(goc_go(ms_client, &cl[i]), 0);
    for (long i = 0; i < MS_CONNS; i++) {
        int v;
        ASSERT(goc_chan_recv_int(done, &v));
    }
    goc_chan_free(done);
    ASSERT_EQ(goc_listener_close(ln), 0);
    goc__uio_stats st = ms_stats();
    printf("%d connections x %ld messages: %llu multishot recvs armed, "
           "%llu completions, %llu stopped unread, %llu out of buffers, "
           "%llu single-shot requests\n",
           MS_CONNS, msgs, (unsigned long long)(st.recv_arms - st0.recv_arms),
           (unsigned long long)(st.recv_cqes - st0.recv_cqes),
           (unsigned long long)(st.recv_stops - st0.recv_stops),
           (unsigned long long)(st.recv_nobufs - st0.recv_nobufs),
           (unsigned long long)(st.submitted - st0.submitted));
    /* Both sides of every connection read through a multishot recv. */
    ASSERT_GE(st.recv_arms - st0.recv_arms, 2 * MS_CONNS);
    ASSERT_GE(st.recv_cqes - st0.recv_cqes, (uint64_t)(2 * MS_CONNS * msgs));
    ms_assert_quiet();
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_msrecv_echo, 120)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(ms_echo_main, NULL);
}

/* A read past its deadline leaves the request armed and what arrives
 * later queued: a read with the deadline still past fails, the next one
 * (deadline cleared) gets the bytes, in order. */
static int ms_deadline_main(void *arg)
{
    (void)arg;
    if (ms_unavailable())
        return 0;
    pair p;
    pair_open(&p);
    char buf[64];
    for (int round = 0; round < 20; round++) {
        ASSERT_EQ(goc_conn_set_read_deadline(p.a, goc_nanotime() +
                                                      5 * GOC_MILLISECOND),
                  0);
        ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), -ETIMEDOUT);
        ASSERT_EQ(ms_await(goc__uio_msrecv_armed, 1), 1); /* not cancelled */
        uint64_t c0 = ms_stats().recv_cqes;
        ASSERT_EQ(goc_conn_write(p.b, "hello", 5), 5);
        ms_await_cqes(c0); /* queued by the io thread */
        /* A past deadline fails even with data there. */
        ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), -ETIMEDOUT);
        ASSERT_EQ(goc_conn_set_read_deadline(p.a, 0), 0);
        memset(buf, 0, sizeof buf);
        ASSERT_EQ(goc_conn_read(p.a, buf, 2), 2);
        ASSERT_EQ(goc_conn_read(p.a, buf + 2, sizeof buf - 2), 3);
        ASSERT(memcmp(buf, "hello", 6) == 0);
    }
    ASSERT_EQ(goc_conn_close(p.a), 0);
    ASSERT_EQ(goc_conn_close(p.b), 0);
    ASSERT_EQ(goc_listener_close(p.ln), 0);
    ms_assert_quiet();
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_msrecv_deadline, 60)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(ms_deadline_main, NULL);
}

typedef struct ms_race {
    goc_conn *c;
    ssize_t rc;
    goc_chan *done;
} ms_race;

static void ms_race_read(void *arg)
{
    ms_race *r = arg;
    char buf[16];
    r->rc = goc_conn_read(r->c, buf, sizeof buf);
    goc_chan_send_int(r->done, 1);
}

static void ms_race_close(void *arg)
{
    ms_race *r = arg;
    goc_conn_close(r->c);
    goc_chan_send_int(r->done, 1);
}

/* Close races data arriving for a parked reader (and, every other
 * round, data queued and never read): the reader gets the data or
 * -ECANCELED, nothing hangs, and every buffer comes back to the pool
 * (more rounds than the pool has buffers). */
static int ms_close_main(void *arg)
{
    (void)arg;
    if (ms_unavailable())
        return 0;
    long rounds = goc_test_iters(1500, 100);
    long got = 0, cancelled = 0;
    goc_chan *done = goc_chan_make(sizeof(int), 2);
    for (long r = 0; r < rounds; r++) {
        pair p;
        pair_open(&p);
        ms_race rr = {.c = p.a, .done = done};
        ASSERT_EQ(goc_go(ms_race_read, &rr), 0);
        if (r % 2) { /* queued, then the reader's read takes it */
            goc_yield();
        }
        ASSERT_EQ(goc_conn_write(p.b, "data", 4), 4);
        for (long k = 0; k < r % 7; k++)
            goc_yield();
        ms_race cl = {.c = p.a, .done = done};
        ASSERT_EQ(goc_go(ms_race_close, &cl), 0);
        int v;
        ASSERT(goc_chan_recv_int(done, &v));
        ASSERT(goc_chan_recv_int(done, &v));
        if (rr.rc == 4)
            got++;
        else if (rr.rc == -ECANCELED)
            cancelled++;
        else
            GOC_FAIL_("read: %zd", rr.rc);
        /* More data after close: the cancelled request takes none, or
         * gives it back. */
        (void)goc_conn_write(p.b, "more", 4);
        ASSERT_EQ(goc_conn_close(p.b), 0);
        ASSERT_EQ(goc_listener_close(p.ln), 0);
    }
    goc_chan_free(done);
    printf("%ld rounds: read %ld, cancelled %ld\n", rounds, got, cancelled);
    ms_assert_quiet();
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_msrecv_close_race, 180)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(ms_close_main, NULL);
}

#define MS_FLOOD (6 << 20) /* more than a pool's 256 x 4 KiB */

typedef struct ms_flood {
    goc_conn *c;
    goc_chan *done;
} ms_flood;

static void ms_flood_write(void *arg)
{
    ms_flood *f = arg;
    unsigned char *b = malloc(MS_FLOOD);
    if (!b)
        abort();
    for (size_t i = 0; i < MS_FLOOD; i++)
        b[i] = ms_pat(7, i);
    if (goc_conn_write(f->c, b, MS_FLOOD) != MS_FLOOD)
        abort();
    free(b);
    goc_chan_send_int(f->done, 1);
}

/* A fast writer and a reader that stops reading: its multishot recv is
 * stopped after a few buffers, the socket holds the rest, and another
 * connection still echoes through its own multishot recv. Then the slow
 * reader reads everything, intact and in order. */
static int ms_backpressure_main(void *arg)
{
    (void)arg;
    if (ms_unavailable())
        return 0;
    pair x, y;
    pair_open(&x);
    pair_open(&y);
    unsigned char b1;
    ASSERT_EQ(goc_conn_write(x.b, "\x00", 1), 1);
    ASSERT_EQ(goc_conn_read(x.a, &b1, 1), 1); /* armed */
    goc__uio_stats st0 = ms_stats();
    goc_chan *done = goc_chan_make(sizeof(int), 1);
    ms_flood f = {.c = x.b, .done = done};
    ASSERT_EQ(goc_go(ms_flood_write, &f), 0);
    /* The request is stopped once a few buffers wait; then the writer
     * fills the socket's buffers and waits. */
    for (int k = 0; k < 10000 && ms_stats().recv_stops == st0.recv_stops; k++)
        goc_sleep(GOC_MILLISECOND);
    goc_sleep(100 * GOC_MILLISECOND);
    int64_t held = goc__uio_pbuf_held();
    goc__uio_stats st1 = ms_stats();
    printf("slow reader: %lld buffers held, stopped %llu times\n",
           (long long)held,
           (unsigned long long)(st1.recv_stops - st0.recv_stops));
    /* A few, not the pool (256): the buffers the kernel filled before
     * the cancel landed (it recvs in bursts, at most RCV_LIMIT's 32 an
     * arm with a ring per M; io threads, GOC_URING_RINGS=1..64, arm
     * without the limit and cancel in their own round), and those
     * queued before. */
    ASSERT_LT(held, goc__uio_rcv_lim_on() ? 64 : 128);
    ASSERT_GT(st1.recv_stops, st0.recv_stops);
    /* The other connection echoes through its multishot recv. */
    ms_go_echo(y.b);
    for (int m = 0; m < 50; m++) {
        char out[100], in[100];
        memset(out, 'a' + m % 26, sizeof out);
        uint64_t c0 = ms_stats().recv_cqes;
        ASSERT_EQ(goc_conn_write(y.a, out, sizeof out), (ssize_t)sizeof out);
        size_t got = 0;
        while (got < sizeof in) {
            ssize_t n = goc_conn_read(y.a, in + got, sizeof in - got);
            ASSERT_GT(n, 0);
            got += (size_t)n;
        }
        ASSERT(memcmp(out, in, sizeof out) == 0);
        ASSERT_GT(ms_stats().recv_cqes, c0);
    }
    ASSERT_EQ(ms_stats().recv_nobufs, st0.recv_nobufs); /* never dry */
    /* The slow reader catches up. */
    unsigned char *in = malloc(65536);
    ASSERT(in);
    size_t total = 0;
    while (total < MS_FLOOD) {
        ssize_t n = goc_conn_read(x.a, in, 65536);
        ASSERT_GT(n, 0);
        for (ssize_t i = 0; i < n; i++)
            if (in[i] != ms_pat(7, total + (size_t)i))
                GOC_FAIL_("byte %zu differs", total + (size_t)i);
        total += (size_t)n;
    }
    free(in);
    int v;
    ASSERT(goc_chan_recv_int(done, &v));
    goc_chan_free(done);
    ASSERT_EQ(goc_conn_close(x.a), 0);
    ASSERT_EQ(goc_conn_close(x.b), 0);
    ASSERT_EQ(goc_conn_close(y.a), 0); /* y.b's echo closes at EOF */
    ASSERT_EQ(goc_listener_close(x.ln), 0);
    ASSERT_EQ(goc_listener_close(y.ln), 0);
    ms_assert_quiet();
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_msrecv_backpressure, 120)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(ms_backpressure_main, NULL);
}

/* Data, then end of file, in order; end of file stays. */
static int ms_eof_main(void *arg)
{
    (void)arg;
    if (ms_unavailable())
        return 0;
    for (int round = 0; round < 50; round++) {
        pair p;
        pair_open(&p);
        char buf[16];
        ASSERT_EQ(goc_conn_write(p.b, "x", 1), 1);
        ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), 1); /* armed */
        uint64_t c0 = ms_stats().recv_cqes;
        ASSERT_EQ(goc_conn_write(p.b, "abcdef", 6), 6);
        ASSERT_EQ(goc_conn_close(p.b), 0);
        if (round % 2)
            ms_await_cqes(c0); /* data and end both queued first */
        size_t got = 0;
        while (got < 6) {
            ssize_t n = goc_conn_read(p.a, buf + got, 3);
            ASSERT_GT(n, 0);
            got += (size_t)n;
        }
        ASSERT(memcmp(buf, "abcdef", 6) == 0);
        ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), 0);
        ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), 0);
        ASSERT_GT(ms_stats().recv_cqes, c0);
        ASSERT_EQ(goc_conn_close(p.a), 0);
        ASSERT_EQ(goc_listener_close(p.ln), 0);
    }
    ms_assert_quiet();
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_msrecv_eof, 60)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(ms_eof_main, NULL);
}

static void ms_write_later(void *arg)
{
    goc_sleep(10 * GOC_MILLISECOND);
    if (goc_conn_write(arg, "w", 1) != 1)
        abort();
}

/* A read that goes by readiness takes what the multishot recv queued
 * first and stops the request, even with data queued (a peer that
 * always writes first must not keep it going), and reads the socket. */
static int ms_switch_main(void *arg)
{
    (void)arg;
    if (ms_unavailable())
        return 0;
    pair p;
    pair_open(&p);
    char buf[16];
    ASSERT_EQ(goc_conn_set_read_deadline(p.a, goc_nanotime() + 5 * GOC_SECOND),
              0);
    for (int round = 0; round < 20; round++) {
        atomic_store(&goc__uio_batch_min, 0); /* reads on the ring */
        ASSERT_EQ(goc_conn_write(p.b, "x", 1), 1);
        ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), 1);
        ASSERT_EQ(ms_await(goc__uio_msrecv_armed, 1), 1);
        uint64_t c0 = ms_stats().recv_cqes;
        ASSERT_EQ(goc_conn_write(p.b, "yz", 2), 2);
        ms_await_cqes(c0);                          /* queued, unread */
        atomic_store(&goc__uio_batch_min, INT_MAX); /* reads by readiness */
        ASSERT_EQ(goc_conn_read(p.a, buf, 1), 1);
        ASSERT_EQ(buf[0], 'y');
        /* That read cancelled the request: it ends with no other read. */
        ASSERT_EQ(ms_await(goc__uio_msrecv_armed, 0), 0);
        ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), 1);
        ASSERT_EQ(buf[0], 'z');
        /* Nothing queued now: the read parks on an edge until the byte
         * comes. */
        ASSERT_EQ(goc_go(ms_write_later, p.b), 0);
        ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), 1);
        ASSERT_EQ(buf[0], 'w');
        ASSERT_EQ(goc__uio_msrecv_armed(), 0); /* stopped */
        /* With the request armed again: each byte is queued before its
         * read, and the first read stops the request all the same. */
        atomic_store(&goc__uio_batch_min, 0);
        ASSERT_EQ(goc_conn_write(p.b, "x", 1), 1);
        ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), 1);
        ASSERT_EQ(ms_await(goc__uio_msrecv_armed, 1), 1);
        atomic_store(&goc__uio_batch_min, INT_MAX);
        uint64_t c1 = ms_stats().recv_cqes;
        for (int i = 0; i < 5; i++) {
            uint64_t c = ms_stats().recv_cqes;
            ASSERT_EQ(goc_conn_write(p.b, "v", 1), 1);
            /* Queued before the read, or in the socket once stopped. */
            for (int k = 0; k < 5000 && goc__uio_msrecv_armed() &&
                            ms_stats().recv_cqes == c;
                 k++)
                goc_sleep(GOC_MILLISECOND);
            goc_sleep(GOC_MILLISECOND);
            ASSERT_EQ(goc_conn_read(p.a, buf, sizeof buf), 1);
            ASSERT_EQ(buf[0], 'v');
        }
        /* Stopped (it stays armed for good when a read that finds data
         * queued leaves it going); how many bytes it took first depends
         * on how soon the io thread ran the cancel. */
        ASSERT_EQ(ms_await(goc__uio_msrecv_armed, 0), 0);
        ASSERT_GE(ms_stats().recv_cqes - c1, 1);
    }
    ASSERT_EQ(goc_conn_close(p.a), 0);
    ASSERT_EQ(goc_conn_close(p.b), 0);
    ASSERT_EQ(goc_listener_close(p.ln), 0);
    ms_assert_quiet();
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_msrecv_readiness_switch, 60)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    return goc_main(ms_switch_main, NULL);
}

/* The kernel refuses the multishot recv (-EINVAL): reads fall back to
 * single-shot requests, and echo works. */
static int ms_fallback_main(void *arg)
{
    bool refuse = arg != NULL;
    goc__uio_stats st0 = ms_stats();
    pair p;
    pair_open(&p);
    for (int m = 0; m < 20; m++) {
        /* There and back: both ends read. */
        char in[8];
        goc_conn *from = m % 2 ? p.b : p.a, *to = m % 2 ? p.a : p.b;
        ASSERT_EQ(goc_conn_write(from, "message", 8), 8);
        size_t got = 0;
        while (got < sizeof in) {
            ssize_t n = goc_conn_read(to, in + got, sizeof in - got);
            ASSERT_GT(n, 0);
            got += (size_t)n;
        }
        ASSERT(memcmp(in, "message", 8) == 0);
    }
    goc__uio_stats st = ms_stats();
    ASSERT_EQ(st.recv_cqes, st0.recv_cqes);
    ASSERT_GT(st.submitted, st0.submitted); /* single-shot recvs */
    if (refuse)
        ASSERT_GT(st.recv_arms, st0.recv_arms); /* tried, refused */
    else
        ASSERT_EQ(st.recv_arms, st0.recv_arms);
    ASSERT(!goc__uio_msrecv_on());
    ASSERT_EQ(goc_conn_close(p.a), 0);
    ASSERT_EQ(goc_conn_close(p.b), 0);
    ASSERT_EQ(goc_listener_close(p.ln), 0);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_msrecv_fallback, 60)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    atomic_store(&goc__uio_test_refuse_multishot, true);
    ASSERT_EQ(goc_main(ms_fallback_main, "refuse"), 0);
    atomic_store(&goc__uio_test_refuse_multishot, false);
    atomic_store(&goc__uio_test_no_msrecv, true);
    return goc_main(ms_fallback_main, NULL);
}

/* A kernel that refuses only the byte limit of a multishot recv (before
 * Linux 6.16): the refused arm ends, the limit is dropped for good, and
 * the next arm, without it, is a multishot recv again. Every byte in
 * order. */
static int ms_limit_refused_main(void *arg)
{
    (void)arg;
    if (ms_unavailable())
        return 0;
    ASSERT(goc__uio_rcv_lim_on());
    goc__uio_stats st0 = ms_stats();
    pair p;
    pair_open(&p);
    for (int m = 0; m < 20; m++) {
        char out[8], in[8];
        snprintf(out, sizeof out, "msg %03d", m);
        ASSERT_EQ(goc_conn_write(p.b, out, 8), 8);
        size_t got = 0;
        while (got < sizeof in) {
            ssize_t n = goc_conn_read(p.a, in + got, sizeof in - got);
            ASSERT_GT(n, 0);
            got += (size_t)n;
        }
        ASSERT(memcmp(in, out, 8) == 0);
    }
    goc__uio_stats st = ms_stats();
    ASSERT(!goc__uio_rcv_lim_on());             /* dropped */
    ASSERT(goc__uio_msrecv_on());               /* multishot kept */
    ASSERT_GE(st.recv_arms - st0.recv_arms, 2); /* refused, then armed */
    ASSERT_GT(st.recv_cqes, st0.recv_cqes);     /* data by multishot */
    ASSERT_EQ(goc_conn_close(p.a), 0);
    ASSERT_EQ(goc_conn_close(p.b), 0);
    ASSERT_EQ(goc_listener_close(p.ln), 0);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_msrecv_limit_refused, 60)
{
    if (!force_completion())
        return 0;
    atomic_store(&goc__uio_test_rings, -1); /* the limit is a ring per M's */
    atomic_store(&goc__uio_test_refuse_rcv_lim, true);
    return goc_main(ms_limit_refused_main, NULL);
}

/* A connection outlives its goc_main with data queued by its multishot
 * recv: the next goc_main reads them (the pool went with the first). */
static pair ms_carried;

static int ms_carry_first_main(void *arg)
{
    (void)arg;
    if (ms_unavailable())
        return 1;
    pair_open(&ms_carried);
    char b;
    ASSERT_EQ(goc_conn_write(ms_carried.b, "1", 1), 1);
    ASSERT_EQ(goc_conn_read(ms_carried.a, &b, 1), 1); /* armed */
    uint64_t c0 = ms_stats().recv_cqes;
    ASSERT_EQ(goc_conn_write(ms_carried.b, "carried", 7), 7);
    ms_await_cqes(c0);
    return 0;
}

static int ms_carry_next_main(void *arg)
{
    (void)arg;
    char buf[16];
    ASSERT_EQ(goc_conn_set_read_deadline(ms_carried.a,
                                         goc_nanotime() + 5 * GOC_SECOND),
              0);
    ASSERT_EQ(goc_conn_read(ms_carried.a, buf, 3), 3);
    ASSERT_EQ(goc_conn_read(ms_carried.a, buf + 3, sizeof buf - 3), 4);
    ASSERT(memcmp(buf, "carried", 7) == 0);
    /* And the connection goes on. */
    ASSERT_EQ(goc_conn_write(ms_carried.b, "on", 2), 2);
    ASSERT_EQ(goc_conn_read(ms_carried.a, buf, sizeof buf), 2);
    ASSERT(memcmp(buf, "on", 2) == 0);
    ASSERT_EQ(goc_conn_close(ms_carried.a), 0);
    ASSERT_EQ(goc_conn_close(ms_carried.b), 0);
    ASSERT_EQ(goc_listener_close(ms_carried.ln), 0);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_msrecv_outlives_runtime, 60)
{
    if (!force_completion())
        return 0;
    goc_maxprocs(2);
    if (goc_main(ms_carry_first_main, NULL) == 1)
        return 0; /* SKIP */
    return goc_main(ms_carry_next_main, NULL);
}
