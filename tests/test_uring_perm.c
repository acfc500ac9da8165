/*
 * test_uring_perm.c - completion I/O with a ring per M (uring_io.c, "A
 * ring per M"): a request's completions reach its goroutine when the M
 * whose ring holds it cannot reap: that M in a system call section, that
 * M running a goroutine that never yields, more Ms than rings.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "goc_test.h"
#include "netpoll/poller.h"
#include "netpoll/uring_io.h"
#include "uring_test.h"
#include <goc.h>

/* force_completion, with a ring per M whatever $GOC_URING_RINGS says. */
static bool force_per_m(void)
{
    atomic_store(&goc__uio_test_rings, -1);
    return force_completion();
}

static void pair_close(pair *p)
{
    goc_conn_close(p->a);
    goc_conn_close(p->b);
    goc_listener_close(p->ln);
}

typedef struct reader {
    goc_conn *c;
    goc_chan *done; /* the byte read, or -1 */
} reader;

static void read_one(void *arg)
{
    reader *r = arg;
    unsigned char b;
    ssize_t n = goc_conn_read(r->c, &b, 1);
    goc_chan_send_int(r->done, n == 1 ? b : -1);
}

/* Receives from done, or gives up after d: -2. */
static int recv_within(goc_chan *done, int64_t d)
{
    goc_timer *t = goc_timer_new(d);
    int v = -2, got;
    goc_case cs[2] = {
        {.ch = done, .dir = GOC_RECV, .elem = &got},
        {.ch = goc_timer_chan(t), .dir = GOC_RECV, .elem = NULL},
    };
    if (goc_select(cs, 2, false) == 0)
        v = got;
    goc_timer_stop(t);
    goc_timer_free(t);
    return v;
}

/* ---- the M in a system call section ---------------------------------- */

typedef struct blocker {
    int64_t ns;
    goc_chan *done;
    pair *p; /* or NULL: a byte through it first (its M claims a ring) */
} blocker;

static void block_in_syscall(void *arg)
{
    blocker *b = arg;
    if (b->p) {
        unsigned char c = 0;
        if (goc_conn_write(b->p->a, "z", 1) != 1 ||
            goc_conn_read(b->p->b, &c, 1) != 1 || c != 'z')
            abort();
    }
    goc_syscall_begin();
    struct timespec ts = {b->ns / GOC_SECOND, b->ns % GOC_SECOND};
    while (nanosleep(&ts, &ts) != 0) {
    }
    goc_syscall_end();
    goc_chan_send_int(b->done, 1);
}

/* One processor: the reader arms its recv on the one M's ring and parks;
 * the same M then sleeps 4 s in a system call section, its processor
 * goes to another M, where the peer writes. The byte must arrive while
 * the first M still sleeps: its ring is reaped by the poller meanwhile
 * (the M is away: its completions signal the poller), not when it comes
 * back. Without goc__uio_steal, which would also find the ring stale. */
static int syscall_main(void *arg)
{
    (void)arg;
    pair p;
    pair_open(&p);
    reader r = {.c = p.a, .done = goc_chan_make(sizeof(int), 1)};
    ASSERT_EQ(goc_go(read_one, &r), 0);
    goc_yield(); /* the reader runs here first, and parks */
    blocker b = {
        .ns = 4 * GOC_SECOND, .done = goc_chan_make(sizeof(int), 1), .p = NULL};
    ASSERT_EQ(goc_go(block_in_syscall, &b), 0);
    goc_yield(); /* the blocker takes this M into its system call */
    int64_t t0 = goc_nanotime();
    ASSERT_EQ(goc_conn_write(p.b, "x", 1), 1);
    ASSERT_EQ(recv_within(r.done, 3 * GOC_SECOND), 'x');
    int64_t took = goc_nanotime() - t0;
    printf("read done %.1f ms after the write\n", took / 1e6);
    int v;
    ASSERT(goc_chan_recv_int(b.done, &v)); /* the blocker, still asleep */
    pair_close(&p);
    goc_chan_free(r.done);
    goc_chan_free(b.done);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_perm_read_while_m_in_syscall, 60)
{
    if (!force_per_m())
        return 0;
    goc_maxprocs(1);
    atomic_store(&goc__uio_test_no_steal, true);
    int r = goc_main(syscall_main, NULL);
    atomic_store(&goc__uio_test_no_steal, false);
    return r;
}

/* ---- the M running a goroutine that never yields ---------------------- */

static _Atomic bool spin_stop;

static void spin(void *arg)
{
    goc_chan *done = arg;
    while (!atomic_load_explicit(&spin_stop, memory_order_relaxed)) {
    }
    goc_chan_send_int(done, 1);
}

/* Two processors. The reader arms its recv on M1's ring; a goroutine
 * that never yields then takes M1; the peer writes from the other
 * processor. The byte arrives while the spinner spins: the poller takes
 * the completion from M1's ring once it has gone unreaped for a while
 * (goc__uio_steal), as an idle processor takes a busy one's goroutines. */
static int spin_main(void *arg)
{
    (void)arg;
    pair p;
    pair_open(&p);
    atomic_store(&spin_stop, false);
    reader r = {.c = p.a, .done = goc_chan_make(sizeof(int), 1)};
    goc_chan *spun = goc_chan_make(sizeof(int), 1);
    ASSERT_EQ(goc_go(read_one, &r), 0);
    goc_yield(); /* the reader arms on this M's ring, and parks */
    ASSERT_EQ(goc_go(spin, spun), 0);
    /* This M runs the spinner while this goroutine sleeps; it wakes on
     * the other processor (which runs a stuck one's timers). */
    goc_sleep(50 * GOC_MILLISECOND);
    ASSERT_EQ(goc_conn_write(p.b, "y", 1), 1);
    int got = recv_within(r.done, 3 * GOC_SECOND);
    atomic_store(&spin_stop, true);
    ASSERT_EQ(got, 'y');
    int v;
    ASSERT(goc_chan_recv_int(spun, &v));
    pair_close(&p);
    goc_chan_free(r.done);
    goc_chan_free(spun);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_perm_read_while_m_spins, 60)
{
    if (!force_per_m())
        return 0;
    goc_maxprocs(2);
    return goc_main(spin_main, NULL);
}

/* ---- more Ms than rings ----------------------------------------------- */

#define MANY_BLOCKERS 24
#define MANY_PAIRS 8
#define MANY_ROUNDS 200

typedef struct echoer {
    goc_conn *c;
    goc_chan *done;
} echoer;

static void echo_back(void *arg)
{
    echoer *e = arg;
    char b[64];
    ssize_t n;
    while ((n = goc_conn_read(e->c, b, sizeof b)) > 0)
        if (goc_conn_write(e->c, b, (size_t)n) != n)
            break;
    goc_chan_send_int(e->done, 1);
}

typedef struct client {
    goc_conn *c;
    int id;
    goc_chan *done; /* 0: every round echoed intact */
} client;

/* One round of client k: 48 bytes out, the same 48 back. 0 if intact,
 * else 1 (write), 2 (read) or 3 (other bytes). */
static int echo_round(client *k, int i)
{
    char out[48], in[48];
    for (size_t j = 0; j < sizeof out; j++)
        out[j] = (char)(k->id * 31 + i * 7 + (int)j);
    if (goc_conn_write(k->c, out, sizeof out) != (ssize_t)sizeof out)
        return 1;
    for (size_t got = 0; got < sizeof in;) {
        ssize_t n = goc_conn_read(k->c, in + got, sizeof in - got);
        if (n <= 0)
            return 2;
        got += (size_t)n;
    }
    return memcmp(out, in, sizeof out) != 0 ? 3 : 0;
}

static void ping(void *arg)
{
    client *k = arg;
    int bad = 0;
    for (int i = 0; i < MANY_ROUNDS && !bad; i++) {
        bad = echo_round(k, i);
        if (i % 16 == 0) {
            /* In and out of a system call section: this goroutine's M
             * changes, and its next requests go to another ring. */
            goc_syscall_begin();
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
            goc_syscall_end();
        }
    }
    goc_chan_send_int(k->done, bad);
}

/* Ms blocked in system call sections pile up (each processor handed to
 * a new M), so that more Ms do I/O than there are rings: the later ones
 * share a ring (driven as another M's), and every byte still echoes. */
static int many_main(void *arg)
{
    pair bp;
    pair_open(&bp);
    blocker b = {.ns = 400 * GOC_MILLISECOND,
                 .done = goc_chan_make(sizeof(int), MANY_BLOCKERS),
                 .p = &bp};
    pair p[MANY_PAIRS];
    echoer e[MANY_PAIRS];
    client k[MANY_PAIRS];
    goc_chan *done = goc_chan_make(sizeof(int), 2 * MANY_PAIRS);
    for (int i = 0; i < MANY_PAIRS; i++) {
        pair_open(&p[i]);
        e[i] = (echoer){.c = p[i].b, .done = done};
        k[i] = (client){.c = p[i].a, .id = i, .done = done};
    }
    for (int i = 0; i < MANY_BLOCKERS; i++) {
        ASSERT_EQ(goc_go(block_in_syscall, &b), 0);
        goc_sleep(2 * GOC_MILLISECOND); /* a new M for each */
    }
    for (int i = 0; i < MANY_PAIRS; i++) {
        ASSERT_EQ(goc_go(echo_back, &e[i]), 0);
        ASSERT_EQ(goc_go(ping, &k[i]), 0);
    }
    int bad = 0, v;
    for (int i = 0; i < MANY_PAIRS; i++) {
        ASSERT(goc_chan_recv_int(done, &v));
        if (v == 1 && bad == 0) /* an echoer: its client closed first? */
            bad = -1;
        else if (v > 1)
            bad = v;
    }
    ASSERT_EQ(bad, 0);
    printf("%u rings, %u claimed, %u made\n", goc__uio_rings(),
           goc__uio_rings_claimed(), goc__uio_rings_made());
    ASSERT_GT(goc__uio_rings_claimed(), goc__uio_rings());
    if (arg) /* none could be made: every M shares ring 0 */
        ASSERT_EQ(goc__uio_rings_made(), 1);
    else /* each made by the M that claimed it first (ring 0 at start) */
        ASSERT_EQ(goc__uio_rings_made(), goc__uio_rings());
    for (int i = 0; i < MANY_PAIRS; i++)
        goc_conn_close(p[i].a); /* the echoers see end of file */
    for (int i = 0; i < MANY_PAIRS; i++)
        ASSERT(goc_chan_recv_int(done, &v));
    for (int i = 0; i < MANY_BLOCKERS; i++)
        ASSERT(goc_chan_recv_int(b.done, &v));
    for (int i = 0; i < MANY_PAIRS; i++) {
        goc_conn_close(p[i].b);
        goc_listener_close(p[i].ln);
    }
    pair_close(&bp);
    goc_chan_free(b.done);
    goc_chan_free(done);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_perm_more_ms_than_rings, 120)
{
    if (!force_per_m())
        return 0;
    goc_maxprocs(2);
    return goc_main(many_main, NULL);
}

/* The same where no ring but ring 0 can be made (as with no descriptor
 * or memory left when an M first needs one): the Ms share ring 0. */
GOC_TEST_TIMEOUT(net_uring_perm_rings_not_made_share_ring0, 120)
{
    if (!force_per_m())
        return 0;
    goc_maxprocs(2);
    atomic_store(&goc__uio_test_fail_ring_make, true);
    return goc_main(many_main, "fail");
}

/* Where socket reads turn to requests (goc__uio_read_by_readiness, by
 * default): from GOC__UIO_BATCH_MIN_1P goroutines waiting on I/O with
 * one processor, GOC__UIO_BATCH_MIN with more. BY_PROCS_READERS sit
 * between the two. */
#define BY_PROCS_READERS 12

/* Waits until n goroutines wait on I/O or are runnable. */
static void await_load(int n)
{
    for (int k = 0; k < 5000 && goc__netpoll_load() < n; k++)
        goc_sleep(GOC_MILLISECOND);
    ASSERT_GE(goc__netpoll_load(), n);
}

static int by_procs_main(void *arg)
{
    bool one = arg != NULL;
    ASSERT_EQ(goc_maxprocs(0), one ? 1 : 2);
    pair p[BY_PROCS_READERS];
    reader r[BY_PROCS_READERS];
    goc_chan *done = goc_chan_make(sizeof(int), BY_PROCS_READERS);
    for (int i = 0; i < BY_PROCS_READERS; i++) {
        pair_open(&p[i]);
        r[i] = (reader){.c = p[i].a, .done = done};
        ASSERT_EQ(goc_go(read_one, &r[i]), 0);
    }
    await_load(BY_PROCS_READERS);
    ASSERT_EQ(goc__uio_read_by_readiness(), !one);
    for (int i = 0; i < BY_PROCS_READERS; i++)
        ASSERT_EQ(goc_conn_write(p[i].b, "x", 1), 1);
    for (int i = 0; i < BY_PROCS_READERS; i++) {
        int b;
        ASSERT(goc_chan_recv_int(done, &b));
        ASSERT_EQ(b, 'x');
    }
    for (int i = 0; i < BY_PROCS_READERS; i++)
        pair_close(&p[i]);
    goc_chan_free(done);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_perm_batch_min_by_procs, 60)
{
    if (!force_per_m())
        return 0;
    atomic_store(&goc__uio_batch_min, -1); /* the default rule */
    /* The threshold alone: the readers park on an idle runtime, where
     * reads on the ring would not pay (the next test). */
    atomic_store(&goc__uio_test_pays, 1);
    goc_maxprocs(1);
    ASSERT_EQ(goc_main(by_procs_main, "one"), 0);
    goc_maxprocs(2);
    return goc_main(by_procs_main, NULL);
}

/* ---- reads on the ring must pay ---------------------------------------
 *
 * With the default threshold, reads are requests only while they pay
 * for the wake-ups of Ms that go idle with requests in their rings
 * (uring_per_m.c, "Whether reads on the ring pay"). PAYS_IDLE parked
 * readers and one round trip a millisecond: the reads go by readiness,
 * and none of the round trips' reaches the ring. Then PAYS_FLOOD
 * connections echo back to back, and reads are requests again. */
#define PAYS_IDLE 100
#define PAYS_FLOOD 32
#define PAYS_FLOOD_ROUNDS 300

static uint64_t ring_reads(void)
{
    goc__uio_stats st;
    goc__uio_get_stats(&st);
    return st.recvs + st.recv_cqes;
}

static void round_trip(pair *p, unsigned char x)
{
    unsigned char y = 0;
    if (goc_conn_write(p->a, &x, 1) != 1 || goc_conn_read(p->b, &y, 1) != 1 ||
        y != x || goc_conn_write(p->b, &y, 1) != 1 ||
        goc_conn_read(p->a, &y, 1) != 1 || y != x)
        abort();
}

static void flood(void *arg)
{
    client *k = arg;
    int bad = 0;
    for (int i = 0; i < PAYS_FLOOD_ROUNDS && !bad; i++)
        bad = echo_round(k, i);
    goc_chan_send_int(k->done, bad);
}

static int pays_main(void *arg)
{
    (void)arg;
    static pair idle[PAYS_IDLE], fl[PAYS_FLOOD];
    static reader rd[PAYS_IDLE];
    static echoer ec[PAYS_FLOOD];
    static client cl[PAYS_FLOOD];
    goc_chan *done = goc_chan_make(sizeof(int), PAYS_IDLE + 2 * PAYS_FLOOD);
    for (int i = 0; i < PAYS_IDLE; i++) {
        pair_open(&idle[i]);
        rd[i] = (reader){.c = idle[i].a, .done = done};
        ASSERT_EQ(goc_go(read_one, &rd[i]), 0);
    }
    await_load(PAYS_IDLE);

    /* Light traffic: the Ms go idle between round trips. */
    pair p;
    pair_open(&p);
    int k = 0;
    for (; k < 5000 && goc__uio_reads_pay(); k++) {
        goc_sleep(GOC_MILLISECOND);
        round_trip(&p, (unsigned char)k);
    }
    ASSERT(!goc__uio_reads_pay());
    /* The pair's first reads by readiness stop the multishot recvs that
     * its reads on the ring armed (a byte may still come through one). */
    for (int i = 0; i < 5; i++)
        round_trip(&p, (unsigned char)i);
    uint64_t before = ring_reads();
    for (int i = 0; i < 50; i++) {
        goc_sleep(GOC_MILLISECOND);
        round_trip(&p, (unsigned char)i);
    }
    uint64_t light = ring_reads() - before;
    printf("light: reads stopped paying after %d round trips; %llu ring "
           "reads in 50 more\n",
           k, (unsigned long long)light);
    ASSERT_EQ(light, 0);

    /* A flood: reads pay again, and go to the ring. */
    before = ring_reads();
    for (int i = 0; i < PAYS_FLOOD; i++) {
        pair_open(&fl[i]);
        ec[i] = (echoer){.c = fl[i].b, .done = done};
        cl[i] = (client){.c = fl[i].a, .id = i, .done = done};
        ASSERT_EQ(goc_go(echo_back, &ec[i]), 0);
        ASSERT_EQ(goc_go(flood, &cl[i]), 0);
    }
    int bad = 0;
    for (int i = 0; i < PAYS_FLOOD; i++) {
        int v;
        ASSERT(goc_chan_recv_int(done, &v));
        bad |= v;
    }
    uint64_t heavy = ring_reads() - before;
    printf("flood: %llu ring reads of %d round trips\n",
           (unsigned long long)heavy, PAYS_FLOOD * PAYS_FLOOD_ROUNDS);
    ASSERT_EQ(bad, 0);
    ASSERT_GT(heavy, 0);
    /* The echoers and the idle readers end (each sends on done). */
    for (int i = 0; i < PAYS_FLOOD; i++)
        pair_close(&fl[i]);
    for (int i = 0; i < PAYS_IDLE; i++)
        pair_close(&idle[i]);
    pair_close(&p);
    for (int i = 0; i < PAYS_FLOOD + PAYS_IDLE; i++) {
        int v;
        ASSERT(goc_chan_recv_int(done, &v));
    }
    goc_chan_free(done);
    return 0;
}

GOC_TEST_TIMEOUT(net_uring_perm_reads_pay, 120)
{
    if (!force_per_m())
        return 0;
    atomic_store(&goc__uio_batch_min, -1); /* the default rule */
    goc_maxprocs(2);
    return goc_main(pays_main, NULL);
}
