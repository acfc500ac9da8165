/*
 * test_chan.c - channels: Go's runtime/chan_test.go and test/chan/
 * rewritten in C, plus the C API's own corners (zero-size and large
 * elements, typed helpers, plain threads, misuse).
 *
 * Tests named *_p1, *_p2, *_p4 run one body at 1, 2 and 4 processors.
 * Every test frees what it made, so that ASan's leak check stays quiet.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <goc.h>

#include "chan/chan_internal.h"
#include "goc_test.h"

static goc_chan *mkchan(size_t elem, size_t cap)
{
    goc_chan *c = goc_chan_make(elem, cap);
    ASSERT(c != NULL);
    return c;
}

static void go(void (*fn)(void *), void *arg)
{
    ASSERT_EQ(goc_go(fn, arg), 0);
}

/* A join: each goroutine sends one empty value, the waiter takes n. */
static void wait_n(goc_chan *done, int n)
{
    for (int i = 0; i < n; i++)
        ASSERT(goc_chan_recv(done, NULL));
}

/* Waiters queued on q (test peek through the internal representation). */
static int waitq_len(goc_chan *c, goc__waitq *q)
{
    int n = 0;
    goc__chan_lock_acquire(&c->lock);
    for (goc__waiter *w = atomic_load(&q->first); w; w = w->next)
        n++;
    goc__chan_lock_release(&c->lock);
    return n;
}

static void wait_queued(goc_chan *c, goc__waitq *q, int n)
{
    int64_t until = goc_nanotime() + 10 * GOC_SECOND;
    while (waitq_len(c, q) < n) {
        ASSERT(goc_nanotime() < until);
        goc_sleep(50 * GOC_MICROSECOND);
    }
}

/* ---- TestChan ------------------------------------------------------- */

typedef struct tchan {
    goc_chan *c;
    goc_chan *done;
    _Atomic int flag;
    int count;
    int *recv; /* counts per value */
} tchan;

static void tchan_recv1(void *a)
{
    tchan *t = a;
    int v;
    goc_chan_recv(t->c, &v);
    atomic_fetch_add(&t->flag, 1);
    goc_chan_send(t->done, NULL);
}

static void tchan_send0(void *a)
{
    tchan *t = a;
    goc_chan_send_int(t->c, 0);
    atomic_store(&t->flag, 1);
    goc_chan_send(t->done, NULL);
}

static void tchan_recv_closed(void *a)
{
    tchan *t = a;
    int v = 42;
    bool ok = goc_chan_recv(t->c, &v);
    goc_chan_send_bool(t->done, v == 0 && !ok);
}

static void tchan_send100(void *a)
{
    tchan *t = a;
    for (int i = 0; i < t->count; i++)
        goc_chan_send_int(t->c, i);
    if (t->done)
        goc_chan_send(t->done, NULL);
}

static void tchan_recv_count(void *a)
{
    tchan *t = a;
    int *seen = calloc((size_t)t->count, sizeof(int));
    ASSERT(seen != NULL);
    for (int i = 0; i < t->count; i++) {
        int v;
        ASSERT(goc_chan_recv_int(t->c, &v));
        ASSERT(v >= 0 && v < t->count);
        seen[v]++;
    }
    goc_chan_send_ptr(t->done, seen);
}

PROCS_TEST(chan_go_testchan)
{
    (void)arg;
    int n = (int)goc_test_iters(200, 20);
    for (int cap = 0; cap < n; cap++) {
        tchan t = {0};
        t.done = mkchan(0, 16);
        goc_case cs;
        int v;

        /* Receive from an empty channel blocks; non-blocking does not. */
        t.c = mkchan(sizeof(int), (size_t)cap);
        go(tchan_recv1, &t);
        go(tchan_recv1, &t);
        goc_sleep(GOC_MILLISECOND);
        ASSERT_EQ(atomic_load(&t.flag), 0);
        cs = (goc_case)GOC_CASE_RECV(t.c, &v);
        ASSERT_EQ(goc_select(&cs, 1, true), -1);
        cs = (goc_case)GOC_CASE_RECV(t.c, NULL);
        ASSERT_EQ(goc_select(&cs, 1, true), -1);
        goc_chan_send_int(t.c, 0);
        goc_chan_send_int(t.c, 0);
        wait_n(t.done, 2);
        ASSERT_EQ(atomic_load(&t.flag), 2);
        goc_chan_free(t.c);

        /* Send to a full channel blocks; non-blocking does not. */
        atomic_store(&t.flag, 0);
        t.c = mkchan(sizeof(int), (size_t)cap);
        for (int i = 0; i < cap; i++)
            goc_chan_send_int(t.c, i);
        go(tchan_send0, &t);
        goc_sleep(GOC_MILLISECOND);
        ASSERT_EQ(atomic_load(&t.flag), 0);
        v = 0;
        cs = (goc_case)GOC_CASE_SEND(t.c, &v);
        ASSERT_EQ(goc_select(&cs, 1, true), -1);
        ASSERT(goc_chan_recv(t.c, NULL));
        wait_n(t.done, 1);
        ASSERT_EQ(atomic_load(&t.flag), 1);
        goc_chan_free(t.c);

        /* Receive zero from a closed channel, after its values. */
        t.c = mkchan(sizeof(int), (size_t)cap);
        for (int i = 0; i < cap; i++)
            goc_chan_send_int(t.c, i);
        goc_chan_close(t.c);
        for (int i = 0; i < cap; i++) {
            ASSERT(goc_chan_recv_int(t.c, &v));
            ASSERT_EQ(v, i);
        }
        v = 7;
        ASSERT(!goc_chan_recv_int(t.c, &v));
        ASSERT_EQ(v, 0);
        v = 7;
        ASSERT(!goc_chan_recv_int(t.c, &v));
        ASSERT_EQ(v, 0);
        goc_chan_free(t.c);

        /* Close unblocks a receive. */
        t.c = mkchan(sizeof(int), (size_t)cap);
        goc_chan *bdone = mkchan(sizeof(bool), 0);
        goc_chan *save = t.done;
        t.done = bdone;
        go(tchan_recv_closed, &t);
        goc_sleep(GOC_MILLISECOND);
        goc_chan_close(t.c);
        bool good = false;
        ASSERT(goc_chan_recv_bool(bdone, &good));
        ASSERT(good);
        t.done = save;
        goc_chan_free(bdone);
        goc_chan_free(t.c);

        /* 100 values arrive in FIFO order, uncorrupted (recv and recv2). */
        t.c = mkchan(sizeof(int), (size_t)cap);
        for (int pass = 0; pass < 2; pass++) {
            t.count = 100;
            go(tchan_send100, &t);
            for (int i = 0; i < 100; i++) {
                v = -1;
                ASSERT(goc_chan_recv_int(t.c, &v));
                ASSERT_EQ(v, i);
            }
            wait_n(t.done, 1);
        }

        /* 4 senders x 1000 values, 4 receivers: each value 4 times. */
        enum { P = 4, L = 1000 };
        goc_chan *pdone = mkchan(sizeof(void *), P);
        tchan s = {.c = t.c, .done = t.done, .count = L};
        tchan r = {.c = t.c, .done = pdone, .count = L};
        for (int p = 0; p < P; p++) {
            go(tchan_send100, &s);
            go(tchan_recv_count, &r);
        }
        int total[L] = {0};
        for (int p = 0; p < P; p++) {
            void *seen = NULL;
            ASSERT(goc_chan_recv_ptr(pdone, &seen));
            for (int i = 0; i < L; i++)
                total[i] += ((int *)seen)[i];
            free(seen);
        }
        for (int i = 0; i < L; i++)
            ASSERT_EQ(total[i], P);
        wait_n(t.done, P);
        goc_chan_free(pdone);
        goc_chan_free(t.c);

        /* len and cap. */
        t.c = mkchan(sizeof(int), (size_t)cap);
        ASSERT_EQ(goc_chan_len(t.c), 0);
        ASSERT_EQ(goc_chan_cap(t.c), cap);
        for (int i = 0; i < cap; i++)
            goc_chan_send_int(t.c, i);
        ASSERT_EQ(goc_chan_len(t.c), cap);
        ASSERT_EQ(goc_chan_cap(t.c), cap);
        goc_chan_free(t.c);
        goc_chan_free(t.done);
    }
    return 0;
}

/* ---- TestNonblockRecvRace ------------------------------------------- */

typedef struct nbr {
    goc_chan *c;
    goc_chan *done;
} nbr;

static void nbr_select(void *a)
{
    nbr *t = a;
    goc_case cs = GOC_CASE_RECV(t->c, NULL);
    int r = goc_select(&cs, 1, true);
    goc_chan_send_bool(t->done, r == 0);
}

PROCS_TEST(chan_nonblock_recv_race)
{
    (void)arg;
    long n = goc_test_iters(10000, 1000);
    goc_chan *done = mkchan(sizeof(bool), 1);
    for (long i = 0; i < n; i++) {
        nbr t = {mkchan(sizeof(int), 1), done};
        goc_chan_send_int(t.c, 1);
        go(nbr_select, &t);
        goc_chan_close(t.c);
        goc_chan_recv(t.c, NULL);
        bool ok = false;
        ASSERT(goc_chan_recv_bool(done, &ok));
        ASSERT(ok); /* "chan is not ready" */
        goc_chan_free(t.c);
    }
    goc_chan_free(done);
    return 0;
}

/* ---- TestMultiConsumer ---------------------------------------------- */

enum { MC_NWORK = 23 };
static const int mc_pn[] = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};

typedef struct mc {
    goc_chan *q, *r, *wdone;
    long niter;
    int64_t expect;
    int w;
} mc;

typedef struct mc_worker {
    mc *m;
    int w;
} mc_worker;

static void mc_work(void *a)
{
    mc_worker *wk = a;
    int v;
    while (goc_chan_recv_int(wk->m->q, &v)) {
        if (mc_pn[wk->w % 10] == v)
            goc_yield(); /* mess with the FIFO-ish nature of range */
        goc_chan_send_int(wk->m->r, v);
    }
    goc_chan_send(wk->m->wdone, NULL);
}

static void mc_feed(void *a)
{
    mc *m = a;
    for (long i = 0; i < m->niter; i++) {
        int v = mc_pn[i % 10];
        m->expect += v;
        goc_chan_send_int(m->q, v);
    }
    goc_chan_close(m->q);       /* no more work */
    wait_n(m->wdone, MC_NWORK); /* workers done */
    goc_chan_close(m->r);       /* so there can be no more results */
}

PROCS_TEST(chan_multi_consumer)
{
    (void)arg;
    mc m = {.q = mkchan(sizeof(int), MC_NWORK * 3),
            .r = mkchan(sizeof(int), MC_NWORK * 3),
            .wdone = mkchan(0, MC_NWORK),
            .niter = goc_test_iters(271828, 20000)};
    mc_worker wk[MC_NWORK];
    for (int i = 0; i < MC_NWORK; i++) {
        wk[i] = (mc_worker){&m, i};
        go(mc_work, &wk[i]);
    }
    go(mc_feed, &m);
    long n = 0;
    int64_t s = 0;
    int v;
    while (goc_chan_recv_int(m.r, &v)) {
        n++;
        s += v;
    }
    ASSERT_EQ(n, m.niter);
    ASSERT_EQ(s, m.expect); /* the feeder closed r after its last write */
    goc_chan_free(m.q);
    goc_chan_free(m.r);
    goc_chan_free(m.wdone);
    return 0;
}

/* ---- daisy chain: 10,000 goroutines --------------------------------- */

typedef struct chain_link {
    goc_chan *left, *right;
} chain_link;

static void chain_f(void *a)
{
    chain_link *l = a;
    int v;
    ASSERT(goc_chan_recv_int(l->right, &v));
    goc_chan_send_int(l->left, v + 1);
}

static void chain_start(void *a)
{
    goc_chan_send_int(a, 1);
}

static void wait_goroutines(int64_t n)
{
    int64_t until = goc_nanotime() + 10 * GOC_SECOND;
    while (goc_num_goroutine() > n) {
        ASSERT(goc_nanotime() < until);
        goc_sleep(GOC_MILLISECOND);
    }
    ASSERT_EQ(goc_num_goroutine(), n);
}

PROCS_TEST(chan_daisy_chain)
{
    (void)arg;
    int n = (int)goc_test_iters(10000, 300);
    goc_chan **chans = calloc((size_t)n + 1, sizeof *chans);
    chain_link *links = calloc((size_t)n, sizeof *links);
    ASSERT(chans && links);
    chans[0] = mkchan(sizeof(int), 0);
    for (int i = 0; i < n; i++) {
        chans[i + 1] = mkchan(sizeof(int), 0);
        links[i] = (chain_link){chans[i], chans[i + 1]};
        go(chain_f, &links[i]);
    }
    go(chain_start, chans[n]);
    int v;
    ASSERT(goc_chan_recv_int(chans[0], &v));
    ASSERT_EQ(v, n + 1);
    wait_goroutines(1); /* torn down: every link returned */
    for (int i = 0; i <= n; i++)
        goc_chan_free(chans[i]);
    free(chans);
    free(links);
    return 0;
}

/* ---- prime sieve (test/chan/sieve1.go) with a clean teardown -------- */

typedef struct sieve {
    goc_chan *quit;  /* closed: everybody returns */
    goc_chan *exits; /* one value per goroutine that returned */
    goc_chan *primes;
    goc_chan **all; /* every channel made, for freeing */
    int nall;
    struct filter *fs; /* the goroutines' arguments, for freeing */
} sieve;

typedef struct filter {
    sieve *s;
    goc_chan *in, *out;
    int prime;
} filter;

/* Send v on c unless quit is closed; false when quitting. */
static bool send_or_quit(sieve *s, goc_chan *c, int v)
{
    goc_case cs[] = {GOC_CASE_SEND(c, &v), GOC_CASE_RECV(s->quit, NULL)};
    return goc_select(cs, 2, false) == 0;
}

static bool recv_or_quit(sieve *s, goc_chan *c, int *v)
{
    goc_case cs[] = {GOC_CASE_RECV(c, v), GOC_CASE_RECV(s->quit, NULL)};
    return goc_select(cs, 2, false) == 0;
}

static void sieve_generate(void *a)
{
    filter *f = a;
    for (int i = 2; send_or_quit(f->s, f->out, i); i++) {
    }
    goc_chan_send(f->s->exits, NULL);
}

static void sieve_filter(void *a)
{
    filter *f = a;
    int i;
    while (recv_or_quit(f->s, f->in, &i))
        if (i % f->prime != 0 && !send_or_quit(f->s, f->out, i))
            break;
    goc_chan_send(f->s->exits, NULL);
}

static void sieve_run(void *a)
{
    sieve *s = a;
    filter *fs = s->fs;
    goc_chan *ch = s->all[0];
    fs[0] = (filter){s, NULL, ch, 0};
    go(sieve_generate, &fs[0]);
    for (int k = 1; k < s->nall; k++) {
        int prime;
        if (!recv_or_quit(s, ch, &prime) || !send_or_quit(s, s->primes, prime))
            break;
        fs[k] = (filter){s, ch, s->all[k], prime};
        go(sieve_filter, &fs[k]);
        ch = s->all[k];
    }
    goc_chan_send(s->exits, NULL);
}

PROCS_TEST(chan_prime_sieve)
{
    (void)arg;
    int n = (int)goc_test_iters(1000, 100);
    sieve s = {.quit = mkchan(0, 0),
               .exits = mkchan(0, 0),
               .primes = mkchan(sizeof(int), 0),
               .nall = n + 1};
    s.all = calloc((size_t)s.nall, sizeof *s.all);
    s.fs = calloc((size_t)s.nall, sizeof *s.fs);
    ASSERT(s.all != NULL && s.fs != NULL);
    for (int i = 0; i < s.nall; i++)
        s.all[i] = mkchan(sizeof(int), 0);
    go(sieve_run, &s);
    int p = 1;
    for (int k = 0; k < n; k++) {
        int got;
        ASSERT(goc_chan_recv_int(s.primes, &got));
        /* the next prime after p, by trial division */
        for (p++;; p++) {
            bool prime = true;
            for (int d = 2; d * d <= p; d++)
                if (p % d == 0) {
                    prime = false;
                    break;
                }
            if (prime)
                break;
        }
        ASSERT_EQ(got, p);
    }
    if (n == 1000)
        ASSERT_EQ(p, 7919);
    goc_chan_close(s.quit);
    /* the generator, n filters and the sieve goroutine itself */
    wait_n(s.exits, n + 2);
    wait_goroutines(1);
    free(s.fs);
    for (int i = 0; i < s.nall; i++)
        goc_chan_free(s.all[i]);
    free(s.all);
    goc_chan_free(s.quit);
    goc_chan_free(s.exits);
    goc_chan_free(s.primes);
    return 0;
}

/* ---- FIFO order of blocked goroutines ------------------------------- */

typedef struct fifo {
    goc_chan *c, *out;
    int id;
} fifo;

static void fifo_recv(void *a)
{
    fifo *f = a;
    int v;
    ASSERT(goc_chan_recv_int(f->c, &v));
    int pair[2] = {f->id, v};
    goc_chan_send(f->out, pair);
}

static void fifo_send(void *a)
{
    fifo *f = a;
    goc_chan_send_int(f->c, f->id);
    goc_chan_send(f->out, (int[2]){f->id, f->id});
}

PROCS_TEST(chan_fifo_waiters)
{
    (void)arg;
    enum { N = 20 };
    for (size_t cap = 0; cap <= 3; cap += 3) {
        goc_chan *c = mkchan(sizeof(int), cap);
        goc_chan *out = mkchan(2 * sizeof(int), N);
        fifo f[N];
        /* Receivers queue in order 0..N-1 and get 0..N-1. */
        for (int i = 0; i < N; i++) {
            f[i] = (fifo){c, out, i};
            go(fifo_recv, &f[i]);
            wait_queued(c, &c->recvq, i + 1);
        }
        for (int i = 0; i < N; i++)
            goc_chan_send_int(c, i);
        for (int i = 0; i < N; i++) {
            int pair[2];
            ASSERT(goc_chan_recv(out, pair));
            ASSERT_EQ(pair[0], pair[1]);
        }
        /* Senders queue in order (after filling the buffer) and their
         * values come out in that order, after the buffered ones. */
        for (size_t i = 0; i < cap; i++)
            goc_chan_send_int(c, -1);
        for (int i = 0; i < N; i++) {
            f[i] = (fifo){c, out, i};
            go(fifo_send, &f[i]);
            wait_queued(c, &c->sendq, i + 1);
        }
        for (size_t i = 0; i < cap; i++) {
            int v;
            ASSERT(goc_chan_recv_int(c, &v));
            ASSERT_EQ(v, -1);
        }
        for (int i = 0; i < N; i++) {
            int v;
            ASSERT(goc_chan_recv_int(c, &v));
            ASSERT_EQ(v, i);
        }
        wait_n(out, N);
        goc_chan_free(c);
        goc_chan_free(out);
    }
    return 0;
}

/* ---- element sizes -------------------------------------------------- */

typedef struct big {
    unsigned char b[1000];
} big;

static void big_sender(void *a)
{
    goc_chan *c = a;
    for (int i = 0; i < 100; i++) {
        big x;
        memset(x.b, i, sizeof x.b);
        x.b[999] = (unsigned char)(255 - i);
        goc_chan_send(c, &x);
    }
}

PROCS_TEST(chan_large_elements)
{
    (void)arg;
    for (size_t cap = 0; cap <= 7; cap += 7) {
        goc_chan *c = GOC_CHAN_MAKE(big, cap);
        ASSERT(c != NULL);
        go(big_sender, c);
        for (int i = 0; i < 100; i++) {
            big x;
            ASSERT(goc_chan_recv(c, &x));
            for (int k = 0; k < 999; k++)
                ASSERT_EQ(x.b[k], (unsigned char)i);
            ASSERT_EQ(x.b[999], 255 - i);
        }
        goc_chan_free(c);
    }
    return 0;
}

static void zero_sender(void *a)
{
    goc_chan *c = a;
    for (int i = 0; i < 1000; i++)
        goc_chan_send(c, NULL);
    goc_chan_close(c);
}

PROCS_TEST(chan_zero_size_elements)
{
    (void)arg;
    for (size_t cap = 0; cap <= 5; cap += 5) {
        goc_chan *c = mkchan(0, cap);
        ASSERT_EQ(goc_chan_cap(c), cap);
        go(zero_sender, c);
        int n = 0;
        char dummy;
        while (goc_chan_recv(c, n % 2 ? &dummy : NULL))
            n++;
        ASSERT_EQ(n, 1000);
        goc_chan_free(c);
    }
    /* A buffered zero-size channel counts its values. */
    goc_chan *c = mkchan(0, 3);
    goc_chan_send(c, NULL);
    goc_chan_send(c, NULL);
    ASSERT_EQ(goc_chan_len(c), 2);
    goc_case cs = GOC_CASE_SEND(c, NULL);
    ASSERT_EQ(goc_select(&cs, 1, true), 0);
    ASSERT_EQ(goc_select(&cs, 1, true), -1);
    ASSERT_EQ(goc_chan_len(c), 3);
    goc_chan_free(c);
    return 0;
}

/* ---- typed helpers, NULL channels, len/cap -------------------------- */

static int typed_main(void *arg)
{
    (void)arg;
    goc_chan *c = GOC_CHAN_MAKE(int64_t, 4);
    goc_chan_send_i64(c, -5);
    GOC_CHAN_SEND(c, int64_t, 1LL << 40);
    int64_t v;
    ASSERT(goc_chan_recv_i64(c, &v));
    ASSERT_EQ(v, -5);
    ASSERT(goc_chan_recv_i64(c, &v));
    ASSERT_EQ(v, 1LL << 40);
    goc_chan_free(c);

    goc_chan *d = GOC_CHAN_MAKE(double, 1);
    GOC_CHAN_SEND(d, double, 2.5);
    double x = 0;
    ASSERT(goc_chan_recv(d, &x));
    ASSERT(x == 2.5);
    goc_chan_free(d);

    goc_chan *p = GOC_CHAN_MAKE(void *, 1);
    goc_chan_send_ptr(p, &x);
    void *q = NULL;
    ASSERT(goc_chan_recv_ptr(p, &q));
    ASSERT(q == &x);
    goc_chan_close(p);
    ASSERT(!goc_chan_recv_ptr(p, &q));
    ASSERT(q == NULL);
    goc_chan_free(p);

    ASSERT_EQ(goc_chan_len(NULL), 0);
    ASSERT_EQ(goc_chan_cap(NULL), 0);
    goc_chan_free(NULL);
    ASSERT(!goc__chan_try_send(NULL, &x));
    ASSERT_EQ(goc__chan_try_recv(NULL, &x), -1);
    return 0;
}

GOC_TEST(chan_typed_helpers)
{
    return goc_main(typed_main, NULL);
}

/* ---- plain threads: non-blocking operations and close --------------- */

typedef struct thr {
    goc_chan *c, *unbuf;
    _Atomic int stage;
} thr;

static void *thread_fn(void *a)
{
    thr *t = a;
    /* Buffered sends from a thread, then a select with nonblock (the
     * goroutine does not receive from c before it got v below). */
    ASSERT(goc__chan_try_send(t->c, &(int){1}));
    goc_case cs = GOC_CASE_SEND(t->c, &(int){2});
    ASSERT_EQ(goc_select(&cs, 1, true), 0);
    ASSERT_EQ(goc_select(&cs, 1, true), -1); /* full (cap 2) */
    ASSERT_EQ(goc_chan_len(t->c), 2);
    /* Hand a value to a goroutine blocked in receive (direct hand-off
     * from a thread without a processor). */
    int v = 7;
    while (!goc__chan_try_send(t->unbuf, &v))
        sched_yield();
    goc_chan_close(t->c);
    /* Wait for the goroutine to block on unbuf again, then close it. */
    while (atomic_load(&t->stage) != 1)
        sched_yield();
    goc_chan_close(t->unbuf);
    goc__wakers_add(-1);
    return NULL;
}

static int thread_main(void *arg)
{
    (void)arg;
    thr t = {.c = mkchan(sizeof(int), 2), .unbuf = mkchan(sizeof(int), 0)};
    pthread_t th;
    /* A thread outside the runtime will wake us: tell deadlock detection
     * (as signal delivery does). */
    goc__wakers_add(1);
    ASSERT_EQ(pthread_create(&th, NULL, thread_fn, &t), 0);
    int v = 0;
    ASSERT(goc_chan_recv_int(t.unbuf, &v));
    ASSERT_EQ(v, 7);
    ASSERT(goc_chan_recv_int(t.c, &v));
    ASSERT_EQ(v, 1);
    ASSERT(goc_chan_recv_int(t.c, &v));
    ASSERT_EQ(v, 2);
    ASSERT(!goc_chan_recv_int(t.c, &v));
    atomic_store(&t.stage, 1);
    ASSERT(!goc_chan_recv_int(t.unbuf, &v)); /* closed by the thread */
    goc_syscall_begin();
    pthread_join(th, NULL);
    goc_syscall_end();
    goc_chan_free(t.c);
    goc_chan_free(t.unbuf);
    return 0;
}

GOC_TEST(chan_plain_thread_nonblocking)
{
    goc_maxprocs(2);
    return goc_main(thread_main, NULL);
}

/* ---- close wakes everybody ------------------------------------------ */

static void close_waiter(void *a)
{
    tchan *t = a;
    int v = 99;
    bool ok = goc_chan_recv_int(t->c, &v);
    goc_chan_send_bool(t->done, !ok && v == 0);
}

PROCS_TEST(chan_close_wakes_all_receivers)
{
    (void)arg;
    enum { N = 50 };
    tchan t = {.c = mkchan(sizeof(int), 0), .done = mkchan(sizeof(bool), N)};
    for (int i = 0; i < N; i++)
        go(close_waiter, &t);
    wait_queued(t.c, &t.c->recvq, N);
    goc_chan_close(t.c);
    for (int i = 0; i < N; i++) {
        bool good = false;
        ASSERT(goc_chan_recv_bool(t.done, &good));
        ASSERT(good);
    }
    goc_chan_free(t.c);
    goc_chan_free(t.done);
    return 0;
}

/* ---- panics, deadlocks, misuse -------------------------------------- */

static int send_closed_main(void *arg)
{
    (void)arg;
    goc_chan *c = mkchan(sizeof(int), 1);
    goc_chan_close(c);
    goc_chan_send_int(c, 1);
    return 0;
}

GOC_TEST_EXPECT(chan_send_on_closed_panics, SIGABRT, 0,
                "panic: send on closed channel")
{
    return goc_main(send_closed_main, NULL);
}

static int close_closed_main(void *arg)
{
    (void)arg;
    goc_chan *c = mkchan(sizeof(int), 0);
    goc_chan_close(c);
    goc_chan_close(c);
    return 0;
}

GOC_TEST_EXPECT(chan_close_of_closed_panics, SIGABRT, 0,
                "panic: close of closed channel")
{
    return goc_main(close_closed_main, NULL);
}

GOC_TEST_EXPECT(chan_close_of_nil_panics, SIGABRT, 0,
                "panic: close of nil channel")
{
    goc_chan_close(NULL); /* any thread */
    return 0;
}

static void blocked_sender(void *a)
{
    goc_chan_send_int(a, 1);
}

static int blocked_send_close_main(void *arg)
{
    (void)arg;
    goc_chan *c = mkchan(sizeof(int), 0);
    go(blocked_sender, c);
    wait_queued(c, &c->sendq, 1);
    goc_chan_close(c); /* the sender wakes up and panics */
    goc_sleep(10 * GOC_SECOND);
    return 1;
}

GOC_TEST_EXPECT(chan_close_panics_blocked_sender, SIGABRT, 0,
                "panic: send on closed channel")
{
    goc_maxprocs(2);
    return goc_main(blocked_send_close_main, NULL);
}

static int deadlock_recv_main(void *arg)
{
    (void)arg;
    goc_chan *c = mkchan(sizeof(int), 0);
    goc_chan_recv(c, NULL);
    return 0;
}

GOC_TEST_EXPECT(chan_deadlock_recv, 0, 2,
                "fatal error: all goroutines are asleep - deadlock!")
{
    return goc_main(deadlock_recv_main, NULL);
}

static void deadlock_partner(void *a)
{
    goc_chan_send_int(a, 1); /* blocks: nobody receives on cap 0 */
}

static int deadlock_pair_main(void *arg)
{
    (void)arg;
    goc_chan *a = mkchan(sizeof(int), 0), *b = mkchan(sizeof(int), 0);
    go(deadlock_partner, a);
    goc_chan_recv(b, NULL);
    return 0;
}

GOC_TEST_EXPECT(chan_deadlock_two_goroutines, 0, 2,
                "fatal error: all goroutines are asleep - deadlock!")
{
    goc_maxprocs(4);
    return goc_main(deadlock_pair_main, NULL);
}

static int nil_send_main(void *arg)
{
    (void)arg;
    goc_chan_send(NULL, &(int){1});
    return 0;
}

GOC_TEST_EXPECT(chan_nil_send_blocks_forever, 0, 2,
                "fatal error: all goroutines are asleep - deadlock!")
{
    return goc_main(nil_send_main, NULL);
}

static int nil_recv_main(void *arg)
{
    (void)arg;
    goc_chan_recv(NULL, NULL);
    return 0;
}

GOC_TEST_EXPECT(chan_nil_recv_blocks_forever, 0, 2,
                "fatal error: all goroutines are asleep - deadlock!")
{
    goc_maxprocs(2);
    return goc_main(nil_recv_main, NULL);
}

GOC_TEST_EXPECT(chan_send_outside_goroutine_is_fatal, 0, 2,
                "goc_chan_send called outside")
{
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    goc_chan_send_int(c, 1); /* even though it would not block */
    return 0;
}

static void *thread_recv(void *a)
{
    goc_chan_recv(a, NULL);
    return NULL;
}

static int recv_thread_main(void *arg)
{
    (void)arg;
    goc_chan *c = mkchan(sizeof(int), 0);
    pthread_t th;
    pthread_create(&th, NULL, thread_recv, c);
    pthread_join(th, NULL);
    return 0;
}

GOC_TEST_EXPECT(chan_recv_on_plain_thread_is_fatal, 0, 2,
                "goc_chan_recv called outside a goroutine")
{
    return goc_main(recv_thread_main, NULL);
}

/* ---- biased channel locks (chan_internal.h) --------------------------
 * A lock made at one processor belongs to its thread; the first other
 * thread revokes the bias. These tests race that revocation against the
 * owner, many times, and count what the lock protects. Where biasing is
 * not allowed (ThreadSanitizer, valgrind, no membarrier) they still run,
 * on plain locks. */

enum { BIAS_ROUNDS = 2000, BIAS_PER_SIDE = 500 };

typedef struct bias_race {
    goc__chan_lock lock;
    long counter;              /* under lock, plain on purpose */
    _Atomic int round;         /* the owner starts round r by storing r */
    _Atomic int thread_done;   /* the thread finished round r */
    int per_side;
    int rounds;
} bias_race;

/* The critical section: a read-modify-write of counter stretched over a
 * few dozen cycles, so that two holders at once would lose updates. */
static void bias_race_bump(bias_race *b)
{
    goc__chan_lock_acquire(&b->lock);
    long c = b->counter;
    for (int i = 0; i < 8; i++)
        goc__cpu_relax();
    b->counter = c + 1;
    goc__chan_lock_release(&b->lock);
}

static void *bias_race_thread(void *a)
{
    bias_race *b = a;
    for (int r = 1; r <= b->rounds; r++) {
        while (atomic_load(&b->round) != r)
            sched_yield();
        for (int i = 0; i < b->per_side; i++)
            bias_race_bump(b);
        atomic_store(&b->thread_done, r);
    }
    return NULL;
}

static int bias_race_main(void *arg)
{
    (void)arg;
    bias_race *b = calloc(1, sizeof *b);
    ASSERT(b != NULL);
    b->per_side = (int)goc_test_iters(BIAS_PER_SIDE, 50);
    b->rounds = (int)goc_test_iters(BIAS_ROUNDS, 20);
    bool allowed = goc__lock_bias_allowed();
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, bias_race_thread, b), 0);
    for (int r = 1; r <= b->rounds; r++) {
        memset(&b->lock, 0, sizeof b->lock);
        goc__chan_lock_bias(&b->lock);
        uintptr_t bias = atomic_load(&b->lock.bias);
        ASSERT_UEQ(bias, allowed ? goc__p_token() : 0);
        b->counter = 0;
        atomic_store(&b->round, r);
        /* The owner's side of the race: in and out of the lock, without a
         * pause, until the thread is done, so that the thread's first
         * acquire (the revocation) lands while we are busy with it. */
        long mine = 0;
        while (atomic_load_explicit(&b->thread_done,
                                    memory_order_relaxed) != r) {
            bias_race_bump(b);
            /* Now and then let the thread have the CPU where threads
             * share one (valgrind runs one thread at a time). */
            if ((++mine & 255) == 0)
                sched_yield();
        }
        goc__chan_lock_acquire(&b->lock);
        ASSERT_EQ(b->counter, mine + b->per_side);
        goc__chan_lock_release(&b->lock);
        bias = atomic_load(&b->lock.bias);
        if (allowed)
            ASSERT_UEQ(bias, goc__p_token() |
                                 GOC__BIAS_REVOKED);
        ASSERT_EQ(atomic_load(&b->lock.plain.state), 0);
        ASSERT_EQ(atomic_load(&b->lock.held), 0);
    }
    goc_syscall_begin();
    pthread_join(th, NULL);
    goc_syscall_end();
    free(b);
    return 0;
}

/* The lock itself: mutual exclusion across the revocation, 2000 times. */
GOC_TEST(chan_bias_lock_revoked_under_race)
{
    goc_maxprocs(1);
    return goc_main(bias_race_main, NULL);
}

/* Channels made at one processor, then used from two: the traffic that
 * revokes their bias loses and duplicates nothing. */
typedef struct bias_spread {
    goc_chan *buf, *unbuf, *done;
    int n;
    _Atomic long sum;
} bias_spread;

static void bias_spread_producer(void *a)
{
    bias_spread *s = a;
    for (int i = 1; i <= s->n; i++) {
        goc_chan_send_int(s->buf, i);
        goc_chan_send_int(s->unbuf, i);
    }
    goc_chan_send(s->done, NULL);
}

static void bias_spread_consumer(void *a)
{
    bias_spread *s = a;
    long sum = 0;
    for (int i = 0; i < s->n; i++) {
        int v = 0, w = 0;
        ASSERT(goc_chan_recv_int(s->buf, &v));
        ASSERT(goc_chan_recv_int(s->unbuf, &w));
        sum += v + w;
    }
    atomic_fetch_add(&s->sum, sum);
    goc_chan_send(s->done, NULL);
}

static int bias_spread_main(void *arg)
{
    (void)arg;
    enum { PAIRS = 4 };
    bias_spread s = {.buf = mkchan(sizeof(int), 8),
                     .unbuf = mkchan(sizeof(int), 0),
                     .done = mkchan(0, 2 * PAIRS),
                     .n = (int)goc_test_iters(50000, 2000)};
    if (goc__lock_bias_allowed())
        ASSERT_UEQ(atomic_load(&s.buf->lock.bias),
                   goc__p_token());
    goc_maxprocs(2); /* now the same channels from two threads */
    for (int i = 0; i < PAIRS; i++) {
        go(bias_spread_producer, &s);
        go(bias_spread_consumer, &s);
    }
    wait_n(s.done, 2 * PAIRS);
    long n = s.n;
    ASSERT_EQ(atomic_load(&s.sum), (long)PAIRS * n * (n + 1));
    goc_chan_free(s.buf);
    goc_chan_free(s.unbuf);
    goc_chan_free(s.done);
    return 0;
}

GOC_TEST(chan_bias_spread_to_two_processors)
{
    goc_maxprocs(1);
    return goc_main(bias_spread_main, NULL);
}

/* ---- the blocking entry points (runtime/resume_x86_64.S) -------------- */

/* Each blocking entry point must return its result, with the caller's
 * callee-saved registers intact, both after a park (on x86-64 the stub
 * returns by an indirect jump then) and without one (a plain ret): send
 * and receive on unbuffered and buffered channels, blocking select with
 * one and with two cases, receive from a channel closed while parked,
 * and yield. */
typedef struct entry_pair {
    goc_chan *to, *from;     /* unbuffered: main <-> partner */
    goc_chan *buf;           /* capacity 1: the buffered entry */
    goc_chan *closed, *done; /* closed by the partner at the end */
    long rounds;
} entry_pair;

/* Opaque to the optimizer, so that its results live in registers (or
 * the frame) across the calls under test. */
static __attribute__((noinline)) long entry_mix(long a, long b)
{
    return a * 1000003 + b;
}

static void entry_partner(void *arg)
{
    entry_pair *ep = arg;
    long v;
    for (long i = 0; i < ep->rounds; i++) {
        ASSERT(goc_chan_recv(ep->to, &v));
        ASSERT_EQ(v, i);
        goc_chan_send(ep->from, &(long){3 * v});
        goc_chan_send(ep->buf, &(long){v + 1});
        if (i % 3 == 0)
            goc_yield();
    }
    /* main waits in a two-case select, then a one-case select */
    goc_chan_send(ep->from, &(long){7});
    goc_chan_send(ep->to, &(long){8});
    goc_chan_close(ep->closed); /* main is (or will be) in a receive */
    goc_chan_send(ep->done, NULL);
}

static long entry_round(entry_pair *ep, long i)
{
    long k1 = entry_mix(i, 1), k2 = entry_mix(i, 2), k3 = entry_mix(i, 3);
    long k4 = entry_mix(i, 4), k5 = entry_mix(i, 5), v = -1, w = -1;
    goc_chan_send(ep->to, &i);
    ASSERT(goc_chan_recv(ep->from, &v));
    ASSERT(goc_chan_recv(ep->buf, &w));
    if (i % 5 == 0)
        goc_yield();
    ASSERT_EQ(v, 3 * i);
    ASSERT_EQ(w, i + 1);
    ASSERT_EQ(k1, entry_mix(i, 1));
    ASSERT_EQ(k2, entry_mix(i, 2));
    ASSERT_EQ(k3, entry_mix(i, 3));
    ASSERT_EQ(k4, entry_mix(i, 4));
    ASSERT_EQ(k5, entry_mix(i, 5));
    return v + w;
}

PROCS_TEST(chan_blocking_entries_return_after_a_park)
{
    (void)arg;
    entry_pair ep = {.to = mkchan(sizeof(long), 0),
                     .from = mkchan(sizeof(long), 0),
                     .buf = mkchan(sizeof(long), 1),
                     .closed = mkchan(sizeof(long), 0),
                     .done = mkchan(0, 1),
                     .rounds = goc_test_iters(20000, 2000)};
    go(entry_partner, &ep);
    long sum = 0;
    for (long i = 0; i < ep.rounds; i++)
        sum += entry_round(&ep, i);
    long n = ep.rounds;
    ASSERT_EQ(sum, 4 * (n * (n - 1) / 2) + n);

    long a = -1, b = -1, kept = entry_mix(n, 9);
    goc_case two[] = {GOC_CASE_RECV(ep.buf, &a),
                      GOC_CASE_RECV(ep.from, &b)};
    ASSERT_EQ(goc_select(two, 2, false), 1);
    ASSERT(two[1].ok);
    ASSERT_EQ(b, 7);
    ASSERT_EQ(a, -1);
    goc_case one[] = {GOC_CASE_RECV(ep.to, &a)};
    ASSERT_EQ(goc_select(one, 1, false), 0);
    ASSERT(one[0].ok);
    ASSERT_EQ(a, 8);
    b = 99;
    ASSERT(!goc_chan_recv(ep.closed, &b));
    ASSERT_EQ(b, 0);
    ASSERT_EQ(kept, entry_mix(n, 9));
    goc_case none[] = {GOC_CASE_RECV(ep.closed, &a)};
    ASSERT_EQ(goc_select(none, 1, true), 0); /* closed: ready */
    ASSERT(!none[0].ok);

    wait_n(ep.done, 1);
    goc_chan_free(ep.to);
    goc_chan_free(ep.from);
    goc_chan_free(ep.buf);
    goc_chan_free(ep.closed);
    goc_chan_free(ep.done);
    return 0;
}

/* The panic's backtrace unwinds through the entry point's stub to the
 * goroutine's first frame: the stub's unwind information is right. */
GOC_TEST_EXPECT(chan_panic_backtrace_unwinds_the_entry, SIGABRT, 0,
                "goc__g_start")
{
    goc_maxprocs(1);
    return goc_main(blocked_send_close_main, NULL);
}
