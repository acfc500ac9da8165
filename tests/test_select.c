/*
 * test_select.c - goc_select: Go's select tests (runtime/chan_test.go,
 * test/chan/select*.go, doubleselect.go) rewritten in C, fairness, the
 * blocking table of select3.go, and large selects.
 *
 * Tests named *_p1, *_p2, *_p4 run one body at 1, 2 and 4 processors.
 */
#include <signal.h>
#include <stdatomic.h>
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

static void wait_n(goc_chan *done, int n)
{
    for (int i = 0; i < n; i++)
        ASSERT(goc_chan_recv(done, NULL));
}

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

/* ---- TestNonblockSelectRace, TestNonblockSelectRace2 ---------------- */

typedef struct nbs {
    goc_chan *c1, *c2, *done;
} nbs;

static void nbs_select(void *a)
{
    nbs *t = a;
    goc_case cs[] = {GOC_CASE_RECV(t->c1, NULL), GOC_CASE_RECV(t->c2, NULL)};
    goc_chan_send_bool(t->done, goc_select(cs, 2, true) >= 0);
}

PROCS_TEST(select_nonblock_race)
{
    (void)arg;
    long n = goc_test_iters(100000, 5000);
    goc_chan *done = mkchan(sizeof(bool), 1);
    for (int variant = 0; variant < 2; variant++) {
        for (long i = 0; i < n; i++) {
            nbs t = {mkchan(sizeof(int), 1),
                     mkchan(sizeof(int), variant ? 0 : 1), done};
            goc_chan_send_int(t.c1, 1);
            go(nbs_select, &t);
            if (variant == 0)
                goc_chan_send_int(t.c2, 1);
            else
                goc_chan_close(t.c2);
            goc_case cs = GOC_CASE_RECV(t.c1, NULL);
            goc_select(&cs, 1, true);
            bool ok = false;
            ASSERT(goc_chan_recv_bool(done, &ok));
            ASSERT(ok); /* "no chan is ready" */
            goc_chan_free(t.c1);
            goc_chan_free(t.c2);
        }
    }
    goc_chan_free(done);
    return 0;
}

/* ---- TestSelfSelect ------------------------------------------------- */

typedef struct selfsel {
    goc_chan *c, *done;
    int p;
    size_t cap;
} selfsel;

static void selfsel_run(void *a)
{
    selfsel *t = a;
    for (int i = 0; i < 1000; i++) {
        int send = t->p, v = -1;
        goc_case cs[2];
        int sendi, recvi;
        if (t->p == 0 || i % 2 == 0) {
            sendi = 0, recvi = 1;
        } else {
            sendi = 1, recvi = 0;
        }
        cs[sendi] = (goc_case)GOC_CASE_SEND(t->c, &send);
        cs[recvi] = (goc_case)GOC_CASE_RECV(t->c, &v);
        int r = goc_select(cs, 2, false);
        if (r == recvi && t->cap == 0)
            ASSERT(v != t->p); /* "self receive" */
    }
    goc_chan_send(t->done, NULL);
}

PROCS_TEST(select_self)
{
    (void)arg;
    size_t caps[] = {0, 10};
    for (int k = 0; k < 2; k++) {
        goc_chan *c = mkchan(sizeof(int), caps[k]), *done = mkchan(0, 2);
        selfsel t[2] = {{c, done, 0, caps[k]}, {c, done, 1, caps[k]}};
        go(selfsel_run, &t[0]);
        go(selfsel_run, &t[1]);
        wait_n(done, 2);
        goc_chan_free(c);
        goc_chan_free(done);
    }
    return 0;
}

/* ---- TestSelectStress ----------------------------------------------- */

typedef struct stress {
    goc_chan *c[4];
    goc_chan *done;
    long n;
    int k;
} stress;

typedef struct stress_arg {
    stress *s;
    int k;
} stress_arg;

static void stress_sender(void *a)
{
    stress_arg *sa = a;
    for (long i = 0; i < sa->s->n; i++)
        goc_chan_send_int(sa->s->c[sa->k], 0);
    goc_chan_send(sa->s->done, NULL);
}

static void stress_receiver(void *a)
{
    stress_arg *sa = a;
    for (long i = 0; i < sa->s->n; i++)
        ASSERT(goc_chan_recv(sa->s->c[sa->k], NULL));
    goc_chan_send(sa->s->done, NULL);
}

/* One goroutine sends n values on each channel in a single select (cases
 * in the order 3, 2, 0, 1 as Go's test); a channel's case is set to NULL
 * once it got its n. */
static void stress_select_send(void *a)
{
    stress *s = a;
    long cnt[4] = {0};
    int zero = 0;
    static const int order[4] = {3, 2, 0, 1};
    goc_case cs[4];
    for (int i = 0; i < 4; i++)
        cs[i] = (goc_case)GOC_CASE_SEND(s->c[order[i]], &zero);
    for (long i = 0; i < 4 * s->n; i++) {
        int r = goc_select(cs, 4, false);
        ASSERT(r >= 0 && r < 4);
        if (++cnt[r] == s->n)
            cs[r].ch = NULL;
    }
    goc_chan_send(s->done, NULL);
}

static void stress_select_recv(void *a)
{
    stress *s = a;
    long cnt[4] = {0};
    goc_case cs[4];
    for (int i = 0; i < 4; i++)
        cs[i] = (goc_case)GOC_CASE_RECV(s->c[i], NULL);
    for (long i = 0; i < 4 * s->n; i++) {
        int r = goc_select(cs, 4, false);
        ASSERT(r >= 0 && r < 4);
        ASSERT(cs[r].ok);
        if (++cnt[r] == s->n)
            cs[r].ch = NULL;
    }
    goc_chan_send(s->done, NULL);
}

PROCS_TEST(select_stress)
{
    (void)arg;
    stress s = {.c = {mkchan(sizeof(int), 0), mkchan(sizeof(int), 0),
                      mkchan(sizeof(int), 2), mkchan(sizeof(int), 3)},
                .done = mkchan(0, 10),
                .n = goc_test_iters(100000, 5000)};
    stress_arg sa[4];
    for (int k = 0; k < 4; k++) {
        sa[k] = (stress_arg){&s, k};
        go(stress_sender, &sa[k]);
        go(stress_receiver, &sa[k]);
    }
    go(stress_select_send, &s);
    go(stress_select_recv, &s);
    wait_n(s.done, 10);
    for (int k = 0; k < 4; k++) {
        ASSERT_EQ(goc_chan_len(s.c[k]), 0);
        goc_chan_free(s.c[k]);
    }
    goc_chan_free(s.done);
    return 0;
}

/* ---- doubleselect.go: no value is delivered twice ------------------- */

typedef struct dsel {
    goc_chan *c[4], *cmux, *done;
    long n;
} dsel;

typedef struct dmux {
    dsel *d;
    goc_chan *in;
} dmux;

static void dsel_sender(void *a)
{
    dsel *d = a;
    for (long i = 0; i < d->n; i++) {
        int64_t v = i;
        goc_case cs[4];
        for (int k = 0; k < 4; k++)
            cs[k] = (goc_case)GOC_CASE_SEND(d->c[k], &v);
        goc_select(cs, 4, false);
    }
    for (int k = 0; k < 4; k++)
        goc_chan_close(d->c[k]);
}

static void dsel_mux(void *a)
{
    dmux *m = a;
    int64_t v;
    while (goc_chan_recv_i64(m->in, &v))
        goc_chan_send_i64(m->d->cmux, v);
    goc_chan_send(m->d->done, NULL);
}

static void dsel_closer(void *a)
{
    dsel *d = a;
    wait_n(d->done, 4);
    goc_chan_close(d->cmux);
}

PROCS_TEST(select_double_select)
{
    (void)arg;
    dsel d = {.cmux = mkchan(sizeof(int64_t), 0),
              .done = mkchan(0, 0),
              .n = goc_test_iters(100000, 5000)};
    dmux m[4];
    for (int k = 0; k < 4; k++)
        d.c[k] = mkchan(sizeof(int64_t), 0);
    go(dsel_sender, &d);
    for (int k = 0; k < 4; k++) {
        m[k] = (dmux){&d, d.c[k]};
        go(dsel_mux, &m[k]);
    }
    go(dsel_closer, &d);
    unsigned char *seen = calloc((size_t)d.n, 1);
    ASSERT(seen != NULL);
    long got = 0;
    int64_t v;
    while (goc_chan_recv_i64(d.cmux, &v)) {
        ASSERT(v >= 0 && v < d.n);
        ASSERT_EQ(seen[v], 0); /* "got duplicate value" */
        seen[v] = 1;
        got++;
    }
    ASSERT_EQ(got, d.n);
    free(seen);
    for (int k = 0; k < 4; k++)
        goc_chan_free(d.c[k]);
    goc_chan_free(d.cmux);
    goc_chan_free(d.done);
    return 0;
}

/* ---- TestSelectDuplicateChannel and one channel in several cases ---- */

typedef struct dupsel {
    goc_chan *c, *d, *e;
} dupsel;

static void dup_a(void *a)
{
    dupsel *t = a;
    goc_case cs[] = {GOC_CASE_RECV(t->c, NULL), GOC_CASE_RECV(t->c, NULL),
                     GOC_CASE_RECV(t->d, NULL)};
    ASSERT_EQ(goc_select(cs, 3, false), 2);
    goc_chan_send_int(t->e, 9);
}

static void dup_b(void *a)
{
    dupsel *t = a;
    int v;
    ASSERT(goc_chan_recv_int(t->c, &v));
    ASSERT_EQ(v, 8);
    goc_chan_send_int(t->e, 10);
}

PROCS_TEST(select_duplicate_channel)
{
    (void)arg;
    dupsel t = {mkchan(sizeof(int), 0), mkchan(sizeof(int), 0),
                mkchan(sizeof(int), 0)};
    go(dup_a, &t); /* A gets queued first on c (twice) */
    wait_queued(t.c, &t.c->recvq, 2);
    go(dup_b, &t); /* then B */
    wait_queued(t.c, &t.c->recvq, 3);
    goc_chan_send_int(t.d, 7); /* wake A: it dequeues itself from c */
    int v;
    ASSERT(goc_chan_recv_int(t.e, &v));
    ASSERT_EQ(v, 9);
    ASSERT_EQ(waitq_len(t.c, &t.c->recvq), 1);
    goc_chan_send_int(t.c, 8); /* must wake B, not the gone A */
    ASSERT(goc_chan_recv_int(t.e, &v));
    ASSERT_EQ(v, 10);
    goc_chan_free(t.c);
    goc_chan_free(t.d);
    goc_chan_free(t.e);
    return 0;
}

PROCS_TEST(select_same_channel_send_and_recv)
{
    (void)arg;
    /* Buffered: with room and a value, both cases are ready. */
    goc_chan *c = mkchan(sizeof(int), 2);
    goc_chan_send_int(c, 5);
    int in = -1, out = 6;
    int hits[2] = {0, 0};
    for (int i = 0; i < 1000; i++) {
        goc_case cs[] = {GOC_CASE_RECV(c, &in), GOC_CASE_SEND(c, &out)};
        int r = goc_select(cs, 2, false);
        ASSERT(r == 0 || r == 1);
        hits[r]++;
        /* keep exactly one value buffered */
        if (r == 0)
            goc_chan_send_int(c, 5);
        else
            ASSERT(goc_chan_recv(c, NULL));
    }
    ASSERT_GT(hits[0], 100);
    ASSERT_GT(hits[1], 100);
    goc_chan_free(c);
    /* Unbuffered, alone: neither case may pair with the other. */
    goc_chan *u = mkchan(sizeof(int), 0);
    goc_case cs[] = {GOC_CASE_RECV(u, &in), GOC_CASE_SEND(u, &out)};
    ASSERT_EQ(goc_select(cs, 2, true), -1);
    goc_chan_free(u);
    return 0;
}

/* ---- TestPseudoRandomSend ------------------------------------------- */

typedef struct prs {
    goc_chan *c, *done;
    int *l;
    int n;
} prs;

static void prs_recv(void *a)
{
    prs *t = a;
    for (int i = 0; i < t->n; i++) {
        goc_yield();
        ASSERT(goc_chan_recv_int(t->c, &t->l[i]));
    }
    goc_chan_send(t->done, NULL);
}

PROCS_TEST(select_pseudo_random_send)
{
    (void)arg;
    enum { N = 100 };
    size_t caps[] = {0, N};
    for (int k = 0; k < 2; k++) {
        int l[N];
        prs t = {mkchan(sizeof(int), caps[k]), mkchan(0, 0), l, N};
        go(prs_recv, &t);
        int one = 1, zero = 0;
        for (int i = 0; i < N; i++) {
            goc_case cs[] = {GOC_CASE_SEND(t.c, &one),
                             GOC_CASE_SEND(t.c, &zero)};
            goc_select(cs, 2, false);
        }
        wait_n(t.done, 1);
        int n0 = 0, n1 = 0;
        for (int i = 0; i < N; i++) {
            n0 += (l[i] + 1) % 2;
            n1 += l[i];
        }
        ASSERT_GT(n0, N / 10); /* "want pseudorandom" */
        ASSERT_GT(n1, N / 10);
        goc_chan_free(t.c);
        goc_chan_free(t.done);
    }
    return 0;
}

/* ---- fairness ------------------------------------------------------- */

PROCS_TEST(select_fairness)
{
    (void)arg;
    long n = goc_test_iters(1000000, 200000);
    /* Two always-ready cases: closed channels. */
    goc_chan *a = mkchan(sizeof(int), 0), *b = mkchan(sizeof(int), 1);
    goc_chan_close(a);
    goc_chan_close(b);
    int v;
    goc_case cs[] = {GOC_CASE_RECV(a, &v), GOC_CASE_RECV(b, &v)};
    long hits[2] = {0, 0};
    for (long i = 0; i < n; i++)
        hits[goc_select(cs, 2, false)]++;
    ASSERT_LT(labs(hits[0] - n / 2), n / 100); /* 50 % +- 1 % */

    /* Two always-ready buffered channels (refilled) among never-ready
     * ones and a NULL case: each ready case gets half. */
    goc_chan *r1 = mkchan(sizeof(int), 1), *r2 = mkchan(sizeof(int), 1);
    goc_chan *never = mkchan(sizeof(int), 0);
    goc_chan_send_int(r1, 1);
    goc_chan_send_int(r2, 2);
    goc_case cs2[] = {GOC_CASE_RECV(never, &v), GOC_CASE_RECV(r1, &v),
                      GOC_CASE_RECV(NULL, &v), GOC_CASE_RECV(r2, &v),
                      GOC_CASE_SEND(never, &v)};
    long h2[5] = {0};
    long n2 = n / 2;
    for (long i = 0; i < n2; i++) {
        int r = goc_select(cs2, 5, false);
        h2[r]++;
        ASSERT_EQ(v, r == 1 ? 1 : 2);
        goc_chan_send_int(r == 1 ? r1 : r2, v);
    }
    ASSERT_EQ(h2[0] + h2[2] + h2[4], 0);
    ASSERT_LT(labs(h2[1] - n2 / 2), n2 / 100);

    /* Three ready among three: each a third. */
    goc_chan *c3 = mkchan(0, 0);
    goc_chan_close(c3);
    goc_case cs3[] = {GOC_CASE_RECV(c3, NULL), GOC_CASE_RECV(c3, NULL),
                      GOC_CASE_RECV(c3, NULL)};
    long h3[3] = {0};
    for (long i = 0; i < n; i++)
        h3[goc_select(cs3, 3, false)]++;
    for (int k = 0; k < 3; k++)
        ASSERT_LT(labs(h3[k] - n / 3), n / 100);

    /* Twenty ready: each a twentieth (the shuffle draws several numbers
     * from each random word and draws a new word as they run out; a
     * flaw there would skew the later cases). 10 sigma or more. */
    enum { MANY = 20 };
    goc_case cs20[MANY];
    for (int k = 0; k < MANY; k++)
        cs20[k] = (goc_case)GOC_CASE_RECV(c3, NULL);
    long h20[MANY] = {0};
    for (long i = 0; i < n; i++)
        h20[goc_select(cs20, MANY, false)]++;
    for (int k = 0; k < MANY; k++)
        ASSERT_LT(labs(h20[k] - n / MANY), n / 200);
    /* Only the first and the last of them ready: half each. */
    for (int k = 1; k < MANY - 1; k++)
        cs20[k] = (goc_case)GOC_CASE_RECV(never, &v);
    long h0 = 0;
    for (long i = 0; i < n; i++)
        h0 += goc_select(cs20, MANY, false) == 0;
    ASSERT_LT(labs(h0 - n / 2), n / 100);
    goc_chan_free(a);
    goc_chan_free(b);
    goc_chan_free(r1);
    goc_chan_free(r2);
    goc_chan_free(never);
    goc_chan_free(c3);
    return 0;
}

/* ---- select3.go: what blocks and what does not ---------------------- */

typedef struct blk {
    void (*op)(goc_chan *c);
    goc_chan *c;
    _Atomic int finished;
} blk;

static void blk_run(void *a)
{
    blk *b = a;
    b->op(b->c);
    atomic_store(&b->finished, 1);
}

/* Run op(c) in a goroutine and report whether it completed: waiting up
 * to 10 s when it should (a loaded machine may be slow to run it), 20 ms
 * when it should block. A blocked goroutine stays blocked; goc_main
 * discards it at the end. */
static bool runs(blk *b, void (*op)(goc_chan *), goc_chan *c, bool expect)
{
    b->op = op;
    b->c = c;
    atomic_store(&b->finished, 0);
    go(blk_run, b);
    int64_t until =
        goc_nanotime() + (expect ? 10 * GOC_SECOND : 20 * GOC_MILLISECOND);
    while (!atomic_load(&b->finished) && goc_nanotime() < until)
        goc_sleep(100 * GOC_MICROSECOND);
    return atomic_load(&b->finished);
}

#define completes(b, op, c) runs(b, op, c, true)
#define blocks(b, op, c) (!runs(b, op, c, false))

static void op_recv(goc_chan *c)
{
    goc_chan_recv(c, NULL);
}
static void op_send(goc_chan *c)
{
    goc_chan_send_int(c, 1);
}
static void op_sel_recv(goc_chan *c)
{
    goc_case cs[] = {GOC_CASE_RECV(c, NULL), GOC_CASE_RECV(NULL, NULL)};
    goc_select(cs, 2, false);
}
static void op_sel_send(goc_chan *c)
{
    int v = 1;
    goc_case cs[] = {GOC_CASE_SEND(c, &v), GOC_CASE_SEND(NULL, &v)};
    goc_select(cs, 2, false);
}
static void op_sel_recv_default(goc_chan *c)
{
    goc_case cs[] = {GOC_CASE_RECV(c, NULL)};
    goc_select(cs, 1, true);
}
static void op_sel_send_default(goc_chan *c)
{
    int v = 1;
    goc_case cs[] = {GOC_CASE_SEND(c, &v), GOC_CASE_RECV(NULL, NULL)};
    goc_select(cs, 2, true);
}
static void op_sel_empty(goc_chan *c)
{
    (void)c;
    goc_select(NULL, 0, false);
}
static void op_sel_empty_default(goc_chan *c)
{
    (void)c;
    ASSERT_EQ(goc_select(NULL, 0, true), -1);
}

static int select3_main(void *arg)
{
    (void)arg;
    enum { NB = 32 };
    blk *b = calloc(NB, sizeof *b);
    int i = 0;
    goc_chan *sync = mkchan(sizeof(int), 0);
    goc_chan *async = mkchan(sizeof(int), 1);
    goc_chan *closed = mkchan(sizeof(int), 0);
    goc_chan_close(closed);

    /* nil channels block; select {} blocks */
    ASSERT(blocks(&b[i++], op_recv, NULL));
    ASSERT(blocks(&b[i++], op_send, NULL));
    ASSERT(blocks(&b[i++], op_sel_recv, NULL));
    ASSERT(blocks(&b[i++], op_sel_send, NULL));
    ASSERT(blocks(&b[i++], op_sel_empty, NULL));
    /* ... unless there is a default */
    ASSERT(completes(&b[i++], op_sel_recv_default, NULL));
    ASSERT(completes(&b[i++], op_sel_send_default, NULL));
    ASSERT(completes(&b[i++], op_sel_empty_default, NULL));

    /* empty channels block for receive */
    goc_chan *s2 = mkchan(sizeof(int), 0), *a2 = mkchan(sizeof(int), 1);
    ASSERT(blocks(&b[i++], op_recv, s2));
    ASSERT(blocks(&b[i++], op_recv, a2));
    goc_chan *s3 = mkchan(sizeof(int), 0), *a3 = mkchan(sizeof(int), 1);
    ASSERT(blocks(&b[i++], op_sel_recv, s3));
    ASSERT(blocks(&b[i++], op_sel_recv, a3));
    ASSERT(completes(&b[i++], op_sel_recv_default, sync));
    ASSERT(completes(&b[i++], op_sel_recv_default, async));

    /* an unbuffered channel blocks a send; a buffered one has room once */
    goc_chan *s4 = mkchan(sizeof(int), 0);
    ASSERT(blocks(&b[i++], op_send, s4));
    ASSERT(completes(&b[i++], op_send, async));
    ASSERT(blocks(&b[i++], op_sel_send, async)); /* now full */
    ASSERT(completes(&b[i++], op_sel_send_default, async));

    /* closed channels never block a receive */
    ASSERT(completes(&b[i++], op_recv, closed));
    ASSERT(completes(&b[i++], op_sel_recv, closed));
    ASSERT(completes(&b[i++], op_sel_recv_default, closed));
    ASSERT(i <= NB);
    /* The blocked goroutines reference b and the channels: leave both to
     * the caller, which frees them once goc_main has discarded them. */
    goc_chan **keep = calloc(16, sizeof *keep);
    goc_chan *all[] = {sync, async, closed, s2, a2, s3, a3, s4};
    memcpy(keep, all, sizeof all);
    *(void **)arg = keep;
    free(b);
    return 0;
}

GOC_TEST(select_blocking_table)
{
    /* The blocked goroutines never run again, so freeing b in the main
     * goroutine is safe; the channels are freed after goc_main. */
    goc_chan **keep = NULL;
    goc_maxprocs(2);
    int r = goc_main(select3_main, &keep);
    for (int k = 0; keep && k < 16; k++)
        goc_chan_free(keep[k]);
    free(keep);
    return r;
}

/* ---- receive from closed, close while selecting --------------------- */

typedef struct csel {
    goc_chan *a, *b, *res;
} csel;

static void csel_wait(void *x)
{
    csel *t = x;
    int va = 5, vb = 6;
    goc_case cs[] = {GOC_CASE_RECV(t->a, &va), GOC_CASE_RECV(t->b, &vb)};
    int r = goc_select(cs, 2, false);
    goc_chan_send_int(t->res, r == 1 && !cs[1].ok && vb == 0 && va == 5);
}

PROCS_TEST(select_close_wakes_receive)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        csel t = {mkchan(sizeof(int), 0), mkchan(sizeof(int), 0),
                  mkchan(sizeof(int), 0)};
        go(csel_wait, &t);
        if (i % 2)
            wait_queued(t.b, &t.b->recvq, 1);
        goc_chan_close(t.b);
        int good = 0;
        ASSERT(goc_chan_recv_int(t.res, &good));
        ASSERT(good);
        ASSERT_EQ(waitq_len(t.a, &t.a->recvq), 0); /* unlinked from a */
        goc_chan_free(t.a);
        goc_chan_free(t.b);
        goc_chan_free(t.res);
    }
    return 0;
}

/* ---- large selects (heap-allocated orders, heapsort lock order) ----- */

typedef struct wide {
    goc_chan **c;
    goc_chan *done;
    int n, rounds;
} wide;

static void wide_sender(void *a)
{
    wide *w = a;
    for (int r = 0; r < w->rounds; r++) {
        int k = (r * 7) % w->n;
        goc_chan_send_int(w->c[k], k);
    }
    goc_chan_send(w->done, NULL);
}

PROCS_TEST(select_many_cases)
{
    (void)arg;
    enum { N = 40 };
    wide w = {calloc(N, sizeof(goc_chan *)), mkchan(0, 0), N, 2000};
    int vals[N];
    goc_case cs[N + 2];
    for (int k = 0; k < N; k++) {
        w.c[k] = mkchan(sizeof(int), (size_t)(k % 3));
        cs[k] = (goc_case)GOC_CASE_RECV(w.c[k], &vals[k]);
    }
    cs[N] = (goc_case)GOC_CASE_RECV(NULL, NULL);
    cs[N + 1] = (goc_case)GOC_CASE_RECV(w.c[3], &vals[3]); /* duplicate */
    go(wide_sender, &w);
    for (int r = 0; r < w.rounds; r++) {
        int i = goc_select(cs, N + 2, false);
        ASSERT(i >= 0 && i < N + 2 && i != N);
        int k = i == N + 1 ? 3 : i;
        ASSERT(cs[i].ok);
        ASSERT_EQ(vals[k], k);
    }
    wait_n(w.done, 1);
    ASSERT_EQ(goc_select(cs, N + 2, true), -1);
    for (int k = 0; k < N; k++)
        goc_chan_free(w.c[k]);
    free(w.c);
    goc_chan_free(w.done);
    return 0;
}

/* ---- select with a send woken by a receiver ------------------------- */

typedef struct ssend {
    goc_chan *a, *b, *done;
} ssend;

static void ssend_run(void *x)
{
    ssend *t = x;
    for (int i = 0; i < 1000; i++) {
        int va = i, vb = -i;
        goc_case cs[] = {GOC_CASE_SEND(t->a, &va), GOC_CASE_SEND(t->b, &vb)};
        goc_select(cs, 2, false);
    }
    goc_chan_send(t->done, NULL);
}

PROCS_TEST(select_blocked_send)
{
    (void)arg;
    ssend t = {mkchan(sizeof(int), 0), mkchan(sizeof(int), 0), mkchan(0, 0)};
    go(ssend_run, &t);
    for (int i = 0; i < 1000; i++) {
        int v = 12345;
        if (i % 2) {
            ASSERT(goc_chan_recv_int(t.a, &v));
            ASSERT_EQ(v, i);
        } else {
            ASSERT(goc_chan_recv_int(t.b, &v));
            ASSERT_EQ(v, -i);
        }
    }
    wait_n(t.done, 1);
    goc_chan_free(t.a);
    goc_chan_free(t.b);
    goc_chan_free(t.done);
    return 0;
}

/* ---- panics and deadlocks ------------------------------------------- */

static int sel_send_closed_main(void *arg)
{
    (void)arg;
    goc_chan *c = mkchan(sizeof(int), 1), *d = mkchan(sizeof(int), 0);
    goc_chan_close(c);
    int v = 1;
    goc_case cs[] = {GOC_CASE_SEND(c, &v), GOC_CASE_RECV(d, NULL)};
    goc_select(cs, 2, false);
    return 0;
}

GOC_TEST_EXPECT(select_send_on_closed_panics, SIGABRT, 0,
                "panic: send on closed channel")
{
    return goc_main(sel_send_closed_main, NULL);
}

typedef struct sclose {
    goc_chan *a, *b;
} sclose;

static void sclose_run(void *x)
{
    sclose *t = x;
    int v = 1;
    goc_case cs[] = {GOC_CASE_RECV(t->a, NULL), GOC_CASE_SEND(t->b, &v)};
    goc_select(cs, 2, false);
}

static int sel_blocked_send_close_main(void *arg)
{
    (void)arg;
    sclose t = {mkchan(sizeof(int), 0), mkchan(sizeof(int), 0)};
    go(sclose_run, &t);
    wait_queued(t.b, &t.b->sendq, 1);
    goc_chan_close(t.b);
    goc_sleep(10 * GOC_SECOND);
    return 1;
}

GOC_TEST_EXPECT(select_close_panics_blocked_send, SIGABRT, 0,
                "panic: send on closed channel")
{
    goc_maxprocs(2);
    return goc_main(sel_blocked_send_close_main, NULL);
}

static int sel_deadlock_main(void *arg)
{
    (void)arg;
    goc_chan *a = mkchan(sizeof(int), 0), *b = mkchan(sizeof(int), 3);
    int v = 0;
    goc_case cs[] = {GOC_CASE_RECV(a, &v), GOC_CASE_RECV(b, &v),
                     GOC_CASE_SEND(NULL, &v)};
    goc_select(cs, 3, false);
    return 0;
}

GOC_TEST_EXPECT(select_deadlock, 0, 2,
                "fatal error: all goroutines are asleep - deadlock!")
{
    goc_maxprocs(2);
    return goc_main(sel_deadlock_main, NULL);
}

static int sel_empty_main(void *arg)
{
    (void)arg;
    goc_select(NULL, 0, false);
    return 0;
}

GOC_TEST_EXPECT(select_empty_blocks_forever, 0, 2,
                "fatal error: all goroutines are asleep - deadlock!")
{
    return goc_main(sel_empty_main, NULL);
}

GOC_TEST_EXPECT(select_blocking_outside_goroutine_is_fatal, 0, 2,
                "goc_select called outside")
{
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    goc_case cs[] = {GOC_CASE_RECV(c, NULL), GOC_CASE_RECV(c, NULL)};
    goc_select(cs, 2, false);
    return 0;
}

GOC_TEST(select_nonblocking_outside_runtime)
{
    /* Non-blocking forms are fine on any thread, even without a runtime. */
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    int v = 3, w = 0;
    goc_case s = GOC_CASE_SEND(c, &v);
    ASSERT_EQ(goc_select(&s, 1, true), 0);
    ASSERT_EQ(goc_select(&s, 1, true), -1);
    goc_case cs[] = {GOC_CASE_RECV(c, &w), GOC_CASE_SEND(c, &v)};
    ASSERT_EQ(goc_select(cs, 2, true), 0);
    ASSERT_EQ(w, 3);
    ASSERT(cs[0].ok);
    goc_chan_close(c);
    ASSERT_EQ(goc_select(cs, 1, true), 0);
    ASSERT(!cs[0].ok);
    goc_chan_free(c);
    return 0;
}
