/*
 * bench_epoll_echo.c - the physical limit for bench_net's TCP echo: the
 * same benchmark (64-byte messages, one round trip at a time per client,
 * server and clients in one process over 127.0.0.1) written directly on
 * epoll and threads, with no runtime at all. Issue 5 asks goc's echo to
 * reach 0.9x of this; bench/net_baselines.sh prints the ratio.
 *
 *     bench_epoll_echo -bench tcp_echo_1conn|tcp_echo_100conn [-procs N]
 *                      [-d MS] [-conns N] [-io epoll|io_uring]
 *                      [-place local|half|split] [-taskrun defer|coop]
 *
 * prints the same line as bench_net:
 *
 *     BENCH <name> procs=<N> msgs_per_s=<X> conns=<C> errors=<E>
 *
 * Design, the fastest we know for this shape: -procs threads, each with
 * its own level-triggered epoll set and no locks. With at least as many
 * connections as threads, both ends of connection i live on thread
 * i % procs (an echo never crosses threads); with fewer (1 connection, 2
 * threads) the server ends and the client ends are on different threads,
 * as goc's scheduler would put two goroutines on two processors. The
 * server end reads up to 4096 bytes and writes them back; the client end
 * writes 64 bytes and counts a message when 64 have come back.
 *
 * -place local|half|split (with at least as many connections as
 * threads; default local, as above): half puts the client end of every
 * other pair of connections on the next thread, split every client end:
 * the placements a scheduler that does not know which goroutines talk
 * to each other gives (goc's: about half), to measure what placement
 * alone costs the floor.
 *
 * -io io_uring: the same threads and placement, each with its own
 * io_uring instead of its epoll set (the thread-per-core shape, the
 * fastest we know for io_uring): every end has one multishot recv into
 * the thread's provided buffers, a send is an SQE, and one
 * io_uring_enter a loop submits what the last CQEs asked for and waits
 * for the next (IORING_SETUP_DEFER_TASKRUN where the kernel has it).
 * -taskrun coop makes the rings IORING_SETUP_COOP_TASKRUN instead, the
 * mode a ring that several threads may drive needs (goc's ring per M:
 * DEFER_TASKRUN lets only its one submitter reap), to measure what that
 * mode alone costs the floor.
 * Written on Debian's liburing (liburing-dev, tools/install-deps.sh
 * bench), not on goc's own ring code: the floor owes nothing to goc.
 * Built without it, -io io_uring says so and exits 2.
 * The floor of a completion-based runtime on this machine, as epoll's
 * loop is the floor of a readiness-based one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef GOC_BENCH_HAVE_LIBURING
#include <liburing.h>
#endif

enum { MSG = 64, SRVBUF = 4096, MAXTHREADS = 256 };

typedef struct end {
    int fd;
    bool client;
    int got;   /* client: bytes of the echo received */
    long msgs; /* client: round trips completed */
    bool done;
} end;

typedef struct worker {
    pthread_t th;
    int epfd; /* -io epoll */
    end **ends;
    int n, cap;
    int nclients;
} worker;

static struct {
    int64_t start, end;
    atomic_long msgs, errs;
    atomic_int clients_left;
    _Atomic int64_t last;
    atomic_int ready;
    int nthreads;
} B;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, -1);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else {
            atomic_fetch_add(&B.errs, 1);
            return;
        }
    }
}

static void client_finish(worker *w, end *e)
{
    e->done = true;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, e->fd, NULL);
    atomic_fetch_add(&B.msgs, e->msgs);
    int64_t t = now_ns(), prev = atomic_load(&B.last);
    while (prev < t && !atomic_compare_exchange_weak(&B.last, &prev, t))
        ;
    w->nclients--;
    atomic_fetch_sub(&B.clients_left, 1);
}

/* A client end got k bytes of its echo: true when a whole message is
 * back and the next should go; false while it waits for the rest, or
 * when its time is over (then it is finished). */
static bool client_got(worker *w, end *e, int k)
{
    e->got += k;
    if (e->got < MSG)
        return false;
    e->got = 0;
    e->msgs++;
    if (now_ns() < B.end)
        return true;
    client_finish(w, e);
    return false;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    static const char out[MSG];
    char buf[SRVBUF];
    struct epoll_event evs[128];
    atomic_fetch_add(&B.ready, 1);
    while (atomic_load(&B.ready) < B.nthreads + 1)
        sched_yield(); /* everyone set up: go */
    for (int i = 0; i < w->n; i++)
        if (w->ends[i]->client)
            write_all(w->ends[i]->fd, out, MSG);
    for (;;) {
        if (atomic_load(&B.clients_left) == 0)
            break;
        int n = epoll_wait(w->epfd, evs, 128, w->nclients ? -1 : 10);
        for (int i = 0; i < n; i++) {
            end *e = evs[i].data.ptr;
            if (e->done)
                continue;
            if (!e->client) {
                ssize_t k = read(e->fd, buf, sizeof buf);
                if (k > 0)
                    write_all(e->fd, buf, (size_t)k);
                else if (k == 0 || errno != EAGAIN)
                    epoll_ctl(w->epfd, EPOLL_CTL_DEL, e->fd, NULL);
                continue;
            }
            ssize_t k = read(e->fd, buf, (size_t)(MSG - e->got));
            if (k <= 0) {
                if (k < 0 && errno == EAGAIN)
                    continue;
                atomic_fetch_add(&B.errs, 1);
                client_finish(w, e);
                continue;
            }
            if (client_got(w, e, (int)k))
                write_all(e->fd, out, MSG);
        }
    }
    return NULL;
}

/* ---- -io io_uring (liburing) ------------------------------------------ */

#ifdef GOC_BENCH_HAVE_LIBURING
enum { UBUFS = 1024, UBUF_SHIFT = 12, UD_SEND = 1 };

typedef struct uring_worker {
    worker *w;
    struct io_uring ring; /* made by the thread itself (single issuer) */
    struct io_uring_buf_ring *br;
    char *pool;
    char sbuf[SRVBUF]; /* a server end's echo, sent before it reads again */
} uring_worker;

static void uring_give(uring_worker *u, uint16_t bid)
{
    io_uring_buf_ring_add(u->br, u->pool + ((size_t)bid << UBUF_SHIFT),
                          1u << UBUF_SHIFT, bid, io_uring_buf_ring_mask(UBUFS),
                          0);
    io_uring_buf_ring_advance(u->br, 1);
}

static struct io_uring_sqe *uring_sqe(uring_worker *u)
{
    struct io_uring_sqe *e;
    while (!(e = io_uring_get_sqe(&u->ring)))
        io_uring_submit(&u->ring); /* full: submit what is there */
    return e;
}

static void uring_arm_recv(uring_worker *u, end *e)
{
    struct io_uring_sqe *q = uring_sqe(u);
    io_uring_prep_recv_multishot(q, e->fd, NULL, 0, 0);
    q->flags |= IOSQE_BUFFER_SELECT;
    q->buf_group = 0;
    io_uring_sqe_set_data64(q, (uint64_t)(uintptr_t)e);
}

static void uring_send(uring_worker *u, end *e, const void *p, size_t n)
{
    struct io_uring_sqe *q = uring_sqe(u);
    io_uring_prep_send(q, e->fd, p, n, 0);
    io_uring_sqe_set_data64(q, (uint64_t)(uintptr_t)e | UD_SEND);
}

static bool taskrun_coop; /* -taskrun coop */

static void uring_setup(uring_worker *u)
{
    static const unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER |
                                         IORING_SETUP_DEFER_TASKRUN,
                                     IORING_SETUP_COOP_TASKRUN, 0};
    int err = -EINVAL;
    for (size_t i = taskrun_coop ? 1 : 0; i < 3 && err < 0; i++) {
        struct io_uring_params par = {.flags = tries[i] | IORING_SETUP_CQSIZE,
                                      .cq_entries = 4096};
        err = io_uring_queue_init_params(256, &u->ring, &par);
    }
    if (err < 0) {
        errno = -err;
        die("io_uring_setup");
    }
    size_t rlen = UBUFS * sizeof(struct io_uring_buf);
    u->br = mmap(NULL, rlen, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    u->pool = malloc((size_t)UBUFS << UBUF_SHIFT);
    if (u->br == MAP_FAILED || !u->pool)
        die("buffers");
    io_uring_buf_ring_init(u->br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)u->br,
                                   .ring_entries = UBUFS,
                                   .bgid = 0};
    if ((err = io_uring_register_buf_ring(&u->ring, &reg, 0)) < 0) {
        errno = -err;
        die("IORING_REGISTER_PBUF_RING");
    }
    for (unsigned b = 0; b < UBUFS; b++)
        uring_give(u, (uint16_t)b);
}

/* One CQE of worker u: a recv's data (echoed by a server end, counted
 * by a client end) or a send's end. */
static void uring_cqe(uring_worker *u, const struct io_uring_cqe *c)
{
    worker *w = u->w;
    end *e = (end *)(uintptr_t)(c->user_data & ~(uint64_t)UD_SEND);
    if (c->user_data & UD_SEND) {
        if (c->res < 0)
            atomic_fetch_add(&B.errs, 1);
        return;
    }
    if (e->done)
        return;
    int res = c->res;
    if (c->flags & IORING_CQE_F_BUFFER) {
        uint16_t bid = (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT);
        if (res > 0 && !e->client) /* the echo: copied, sent below */
            memcpy(u->sbuf, u->pool + ((size_t)bid << UBUF_SHIFT), (size_t)res);
        uring_give(u, bid);
    }
    if (!(c->flags & IORING_CQE_F_MORE) && res != 0 &&
        (res > 0 || res == -ENOBUFS))
        uring_arm_recv(u, e); /* the multishot recv ended: again */
    if (res <= 0) {
        if (res == -ENOBUFS)
            return;
        if (e->client) {
            atomic_fetch_add(&B.errs, 1);
            client_finish(w, e);
        }
        return;
    }
    if (!e->client) {
        uring_send(u, e, u->sbuf, (size_t)res);
        return;
    }
    static const char out[MSG];
    if (client_got(w, e, res))
        uring_send(u, e, out, MSG);
}

static void *uring_worker_main(void *arg)
{
    uring_worker *u = calloc(1, sizeof *u);
    if (!u)
        die("calloc");
    u->w = arg;
    worker *w = u->w;
    static const char out[MSG];
    uring_setup(u);
    atomic_fetch_add(&B.ready, 1);
    while (atomic_load(&B.ready) < B.nthreads + 1)
        sched_yield(); /* everyone set up: go */
    for (int i = 0; i < w->n; i++) {
        uring_arm_recv(u, w->ends[i]);
        if (w->ends[i]->client)
            uring_send(u, w->ends[i], out, MSG);
    }
    while (atomic_load(&B.clients_left) != 0) {
        struct __kernel_timespec ts = {.tv_nsec = 10 * 1000000};
        struct io_uring_cqe *c;
        int r = io_uring_submit_and_wait_timeout(&u->ring, &c, 1, &ts, NULL);
        if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY) {
            errno = -r;
            die("io_uring_enter");
        }
        unsigned head, n = 0;
        io_uring_for_each_cqe(&u->ring, head, c)
        {
            uring_cqe(u, c);
            n++;
        }
        io_uring_cq_advance(&u->ring, n);
    }
    return NULL;
}
#else
static void *uring_worker_main(void *arg)
{
    (void)arg;
    fprintf(stderr, "bench_epoll_echo: built without liburing "
                    "(tools/install-deps.sh bench installs it): no -io "
                    "io_uring\n");
    exit(2);
}
#endif

static void add_end(worker *w, int fd, bool client)
{
    end *e = calloc(1, sizeof *e);
    if (!e)
        die("calloc");
    e->fd = fd;
    e->client = client;
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->ends = realloc(w->ends, (size_t)w->cap * sizeof *w->ends);
        if (!w->ends)
            die("realloc");
    }
    w->ends[w->n++] = e;
    if (client) {
        w->nclients++;
        atomic_fetch_add(&B.clients_left, 1);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = e};
    if (w->epfd >= 0 && epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl");
}

static void tune(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int main(int argc, char **argv)
{
    const char *name = NULL;
    long procs = 0, dur_ms = 500, conns = 0;
    bool uring = false;
    int place = 0; /* 0 local, 1 half, 2 split */
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i] + (argv[i][0] == '-' && argv[i][1] == '-');
        if (!strcmp(a, "-bench"))
            name = argv[i + 1];
        else if (!strcmp(a, "-procs"))
            procs = atol(argv[i + 1]);
        else if (!strcmp(a, "-d"))
            dur_ms = atol(argv[i + 1]) > 0 ? atol(argv[i + 1]) : dur_ms;
        else if (!strcmp(a, "-conns"))
            conns = atol(argv[i + 1]);
        else if (!strcmp(a, "-place")) {
            const char *v = argv[i + 1];
            place = !strcmp(v, "half") ? 1 : !strcmp(v, "split") ? 2 : 0;
            if (!place && strcmp(v, "local") != 0) {
                fprintf(stderr, "%s: -place %s: local, half or split\n",
                        argv[0], v);
                return 2;
            }
        } else if (!strcmp(a, "-taskrun")) {
            taskrun_coop = !strcmp(argv[i + 1], "coop");
            if (!taskrun_coop && strcmp(argv[i + 1], "defer") != 0) {
                fprintf(stderr, "%s: -taskrun %s: defer or coop\n", argv[0],
                        argv[i + 1]);
                return 2;
            }
        } else if (!strcmp(a, "-io")) {
            uring = !strcmp(argv[i + 1], "io_uring");
            if (!uring && strcmp(argv[i + 1], "epoll") != 0) {
                fprintf(stderr, "%s: -io %s: epoll or io_uring\n", argv[0],
                        argv[i + 1]);
                return 2;
            }
        } else if (strcmp(a, "-n") != 0) {
            fprintf(stderr, "%s: unknown flag %s\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (name && !strcmp(name, "list")) {
        printf("tcp_echo_1conn\ntcp_echo_100conn\n");
        return 0;
    }
    long def;
    if (name && !strcmp(name, "tcp_echo_1conn"))
        def = 1;
    else if (name && !strcmp(name, "tcp_echo_100conn"))
        def = 100;
    else {
        fprintf(stderr,
                "usage: %s -bench tcp_echo_1conn|tcp_echo_100conn "
                "[-procs N] [-d MS] [-conns N] [-io epoll|io_uring] "
                "[-place local|half|split] [-taskrun defer|coop]\n",
                argv[0]);
        return 2;
    }
    if (conns <= 0)
        conns = def;
    if (procs <= 0) {
        const char *e = getenv("GOCMAXPROCS");
        procs = e && atol(e) > 0 ? atol(e) : sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (procs > MAXTHREADS)
        procs = MAXTHREADS;
    B.nthreads = (int)procs;

    int ln = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sin;
    if (ln < 0 || bind(ln, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        listen(ln, 4096) != 0 ||
        getsockname(ln, (struct sockaddr *)&sin, &sl) != 0)
        die("listen");
    worker *ws = calloc((size_t)procs, sizeof *ws);
    for (long t = 0; t < procs; t++)
        if ((ws[t].epfd = uring ? -1 : epoll_create1(EPOLL_CLOEXEC)) < 0 &&
            !uring)
            die("epoll_create1");
    for (long i = 0; i < conns; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&sin, sizeof sin) != 0)
            die("connect");
        int s = accept4(ln, NULL, NULL, SOCK_CLOEXEC);
        if (s < 0)
            die("accept");
        tune(c);
        tune(s);
        long ts, tc;
        if (conns >= procs) {
            ts = tc = i % procs;
            if (place == 2 || (place == 1 && (i / procs) % 2))
                tc = (ts + 1) % procs; /* the ends on different threads */
        } else {
            ts = (2 * i) % procs;
            tc = (2 * i + 1) % procs;
        }
        add_end(&ws[ts], s, false);
        add_end(&ws[tc], c, true);
    }
    for (long t = 0; t < procs; t++)
        if (pthread_create(&ws[t].th, NULL,
                           uring ? uring_worker_main : worker_main,
                           &ws[t]) != 0)
            die("pthread_create");
    while (atomic_load(&B.ready) < B.nthreads)
        sched_yield();
    B.start = now_ns();
    B.end = B.start + dur_ms * 1000000;
    atomic_fetch_add(&B.ready, 1); /* go */
    for (long t = 0; t < procs; t++)
        pthread_join(ws[t].th, NULL);
    int64_t el = atomic_load(&B.last) - B.start;
    printf("BENCH %s procs=%ld msgs_per_s=%.3f conns=%ld errors=%ld\n", name,
           procs, (double)atomic_load(&B.msgs) * 1e9 / (double)el, conns,
           atomic_load(&B.errs));
    return 0;
}
