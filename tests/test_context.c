/*
 * test_context.c - goc_context: cancellation trees, deadlines, timeouts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "goc.h"
#include "goc_test.h"

static int run_main(int procs, int (*fn)(void *), void *arg)
{
    goc_maxprocs(procs);
    return goc_main(fn, arg);
}

/* Is the done channel closed? (A nonblocking receive: a done channel is
 * never sent on, so ready means closed.) */
static bool is_done(goc_context *ctx)
{
    goc_case c = GOC_CASE_RECV(goc_context_done(ctx), NULL);
    int i = goc_select(&c, 1, true);
    if (i == 0)
        ASSERT(!c.ok);
    return i == 0;
}

GOC_TEST(context_background)
{
    goc_context *bg = goc_context_background();
    ASSERT(bg != NULL);
    ASSERT(goc_context_background() == bg);
    ASSERT(goc_context_done(bg) == NULL);
    ASSERT_EQ(goc_context_err(bg), 0);
    ASSERT_EQ(goc_context_deadline(bg), 0);
    goc_context_cancel(bg); /* no effect */
    goc_context_free(bg);   /* no effect */
    goc_context_free(NULL);
    ASSERT_EQ(goc_context_err(bg), 0);
    return 0;
}

static int cancel_main(void *arg)
{
    (void)arg;
    goc_context *c = goc_context_with_cancel(goc_context_background());
    ASSERT(c != NULL);
    ASSERT(goc_context_done(c) != NULL);
    ASSERT_EQ(goc_context_err(c), 0);
    ASSERT_EQ(goc_context_deadline(c), 0);
    ASSERT(!is_done(c));
    goc_context_cancel(c);
    ASSERT_EQ(goc_context_err(c), -ECANCELED);
    ASSERT(is_done(c));
    ASSERT(!goc_chan_recv(goc_context_done(c), NULL)); /* closed: at once */
    goc_context_cancel(c); /* a second cancel does nothing (no re-close) */
    ASSERT_EQ(goc_context_err(c), -ECANCELED);
    goc_context_free(c);
    /* Free cancels too. */
    goc_context *d = goc_context_with_cancel(goc_context_background());
    goc_context_free(d);
    return 0;
}

GOC_TEST(context_cancel_closes_done_once)
{
    return run_main(1, cancel_main, NULL);
}

/* A chain of depth 100, each link with two leaves: cancelling the root
 * cancels all 300; cancelling a node in the middle only its subtree. */
#define DEPTH 100

static int tree_main(void *arg)
{
    (void)arg;
    goc_context *chain[DEPTH], *leaf[DEPTH][2];
    goc_context *parent = goc_context_background();
    for (int i = 0; i < DEPTH; i++) {
        chain[i] = goc_context_with_cancel(parent);
        ASSERT(chain[i] != NULL);
        leaf[i][0] = goc_context_with_cancel(chain[i]);
        leaf[i][1] = goc_context_with_timeout(chain[i], 60 * GOC_SECOND);
        parent = chain[i];
    }
    /* Cancel the middle: the upper half stays. */
    goc_context_cancel(chain[50]);
    for (int i = 0; i < DEPTH; i++) {
        int want = i >= 50 ? -ECANCELED : 0;
        ASSERT_EQ(goc_context_err(chain[i]), want);
        ASSERT_EQ(goc_context_err(leaf[i][0]), want);
        ASSERT_EQ(goc_context_err(leaf[i][1]), want);
        ASSERT_EQ(is_done(chain[i]), want != 0);
        ASSERT_EQ(is_done(leaf[i][1]), want != 0);
    }
    goc_context_cancel(chain[0]);
    for (int i = 0; i < DEPTH; i++) {
        ASSERT_EQ(goc_context_err(chain[i]), -ECANCELED);
        ASSERT_EQ(goc_context_err(leaf[i][0]), -ECANCELED);
        ASSERT_EQ(goc_context_err(leaf[i][1]), -ECANCELED);
        ASSERT(is_done(chain[i]));
        ASSERT(is_done(leaf[i][0]));
        ASSERT(is_done(leaf[i][1]));
    }
    /* Parents first: their memory lives until the last child goes. */
    for (int i = 0; i < DEPTH; i++)
        goc_context_free(chain[i]);
    for (int i = DEPTH - 1; i >= 0; i--) {
        goc_context_free(leaf[i][1]);
        goc_context_free(leaf[i][0]);
    }
    return 0;
}

GOC_TEST(context_tree_depth_100_cancels_completely)
{
    return run_main(1, tree_main, NULL);
}

/* A very deep chain: cancellation must not recurse on the stack. */
static int deep_chain_main(void *arg)
{
    (void)arg;
    enum { N = 100000 };
    goc_context **c = malloc(N * sizeof *c);
    goc_context *parent = goc_context_background();
    for (int i = 0; i < N; i++)
        parent = c[i] = goc_context_with_cancel(parent);
    goc_context_cancel(c[0]);
    ASSERT_EQ(goc_context_err(c[N - 1]), -ECANCELED);
    for (int i = N - 1; i >= 0; i--)
        goc_context_free(c[i]);
    /* And parents first, the other way round. */
    parent = goc_context_background();
    for (int i = 0; i < N; i++)
        parent = c[i] = goc_context_with_cancel(parent);
    for (int i = 0; i < N; i++)
        goc_context_free(c[i]);
    free(c);
    return 0;
}

GOC_TEST(context_chain_of_100000_no_recursion)
{
    return run_main(1, deep_chain_main, NULL);
}

static int child_keeps_parent_main(void *arg)
{
    (void)arg;
    goc_context *p = goc_context_with_cancel(goc_context_background());
    goc_context *a = goc_context_with_cancel(p);
    goc_context *b = goc_context_with_cancel(p);
    goc_context_cancel(a);
    ASSERT_EQ(goc_context_err(a), -ECANCELED);
    ASSERT_EQ(goc_context_err(p), 0);
    ASSERT_EQ(goc_context_err(b), 0);
    ASSERT(!is_done(p));
    goc_context_free(a);
    ASSERT_EQ(goc_context_err(p), 0);
    goc_context_cancel(p);
    ASSERT_EQ(goc_context_err(b), -ECANCELED);
    /* A child made from a cancelled parent is born cancelled. */
    goc_context *late = goc_context_with_cancel(p);
    ASSERT_EQ(goc_context_err(late), -ECANCELED);
    ASSERT(is_done(late));
    goc_context_free(late);
    goc_context_free(b);
    goc_context_free(p);
    return 0;
}

GOC_TEST(context_cancelling_child_leaves_parent)
{
    return run_main(1, child_keeps_parent_main, NULL);
}

/* A timeout cancels with -ETIMEDOUT, never early; so are descendants. */
static int timeout_main(void *arg)
{
    (void)arg;
    int64_t t0 = goc_nanotime();
    goc_context *c = goc_context_with_timeout(goc_context_background(),
                                              20 * GOC_MILLISECOND);
    goc_context *child = goc_context_with_cancel(c);
    goc_context *grand = goc_context_with_timeout(child, 10 * GOC_SECOND);
    ASSERT_EQ(goc_context_deadline(c), goc_context_deadline(child));
    ASSERT_EQ(goc_context_deadline(grand), goc_context_deadline(c));
    ASSERT_GE(goc_context_deadline(c), t0 + 20 * GOC_MILLISECOND);
    /* Not cancelled before the deadline (timers never fire early; a slow
     * machine may have passed it already). */
    int early_err = goc_context_err(c);
    if (goc_nanotime() < goc_context_deadline(c))
        ASSERT_EQ(early_err, 0);
    ASSERT(!goc_chan_recv(goc_context_done(grand), NULL)); /* parks */
    int64_t elapsed = goc_nanotime() - t0;
    ASSERT_GE(elapsed, 20 * GOC_MILLISECOND);
    ASSERT_EQ(goc_context_err(grand), -ETIMEDOUT);
    ASSERT_EQ(goc_context_err(child), -ETIMEDOUT);
    ASSERT_EQ(goc_context_err(c), -ETIMEDOUT);
    goc_context_free(grand);
    goc_context_free(child);
    goc_context_free(c);
    return 0;
}

GOC_TEST(context_timeout_cancels_with_etimedout)
{
    return run_main(2, timeout_main, NULL);
}

static int deadline_main(void *arg)
{
    (void)arg;
    /* Already past: cancelled at once. */
    goc_context *past =
        goc_context_with_deadline(goc_context_background(), goc_nanotime() - 1);
    ASSERT_EQ(goc_context_err(past), -ETIMEDOUT);
    ASSERT(is_done(past));
    goc_context_free(past);
    goc_context *zero = goc_context_with_timeout(goc_context_background(), 0);
    ASSERT_EQ(goc_context_err(zero), -ETIMEDOUT);
    goc_context_free(zero);
    /* Deadline 0: no deadline. */
    goc_context *none = goc_context_with_deadline(goc_context_background(), 0);
    ASSERT_EQ(goc_context_deadline(none), 0);
    ASSERT_EQ(goc_context_err(none), 0);
    goc_context_free(none);
    /* A child's own earlier deadline fires first; the parent stays. */
    goc_context *p =
        goc_context_with_timeout(goc_context_background(), 10 * GOC_SECOND);
    int64_t d = goc_nanotime() + 5 * GOC_MILLISECOND;
    goc_context *c = goc_context_with_deadline(p, d);
    ASSERT_EQ(goc_context_deadline(c), d);
    goc_chan_recv(goc_context_done(c), NULL);
    ASSERT_GE(goc_nanotime(), d);
    ASSERT_EQ(goc_context_err(c), -ETIMEDOUT);
    ASSERT_EQ(goc_context_err(p), 0);
    goc_context_free(c);
    /* Cancelling before the deadline: -ECANCELED, and the timer is gone
     * (freeing would otherwise leave it pending: ASan checks). */
    goc_context *e = goc_context_with_timeout(p, 10 * GOC_SECOND);
    goc_context_cancel(e);
    ASSERT_EQ(goc_context_err(e), -ECANCELED);
    goc_context_free(e);
    goc_context_free(p); /* with its timer pending: disarmed */
    return 0;
}

GOC_TEST(context_deadlines)
{
    return run_main(2, deadline_main, NULL);
}

/* 100 goroutines blocked on one done channel (a receive or a select) all
 * wake on a cancel from a plain thread. */
typedef struct {
    goc_context *ctx;
    goc_chan *never; /* a channel nothing is sent on */
    goc_waitgroup started, wg;
    _Atomic int woke;
} waiters_state;

static void done_waiter(void *arg)
{
    waiters_state *s = arg;
    goc_waitgroup_done(&s->started);
    if (goc_id() % 2) {
        ASSERT(!goc_chan_recv(goc_context_done(s->ctx), NULL));
    } else {
        goc_case cs[2] = {GOC_CASE_RECV(s->never, NULL),
                          GOC_CASE_RECV(goc_context_done(s->ctx), NULL)};
        ASSERT_EQ(goc_select(cs, 2, false), 1);
    }
    ASSERT_EQ(goc_context_err(s->ctx), -ECANCELED);
    atomic_fetch_add(&s->woke, 1);
    goc_waitgroup_done(&s->wg);
}

static void *cancel_thread(void *arg)
{
    goc_context_cancel(arg);
    return NULL;
}

static int waiters_main(void *arg)
{
    (void)arg;
    waiters_state s = {0};
    s.ctx = goc_context_with_cancel(goc_context_background());
    s.never = goc_chan_make(0, 0);
    goc_waitgroup_add(&s.started, 100);
    goc_waitgroup_add(&s.wg, 100);
    for (int i = 0; i < 100; i++)
        ASSERT_EQ(goc_go(done_waiter, &s), 0);
    goc_waitgroup_wait(&s.started);
    goc_sleep(2 * GOC_MILLISECOND);
    ASSERT_EQ(atomic_load(&s.woke), 0);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, cancel_thread, s.ctx), 0);
    pthread_join(t, NULL);
    goc_waitgroup_wait(&s.wg);
    ASSERT_EQ(atomic_load(&s.woke), 100);
    goc_context_free(s.ctx);
    goc_chan_free(s.never);
    return 0;
}

GOC_TEST(context_cancel_wakes_every_waiter)
{
    return run_main(2, waiters_main, NULL);
}

/*
 * Stress: trees of contexts whose nodes are cancelled, freed and timed out
 * concurrently from goroutines on 2 processors while the root is
 * cancelled. Afterwards every node still held is cancelled; ASan and TSan
 * check the memory and the ordering.
 */
#define NODES 64

typedef struct {
    goc_context *node[NODES];
    goc_waitgroup wg;
    _Atomic int bad;
} stress_state;

typedef struct {
    stress_state *s;
    int i;
} stress_arg;

static void stress_worker(void *arg)
{
    stress_arg *a = arg;
    stress_state *s = a->s;
    goc_context *c = s->node[a->i];
    switch (a->i % 4) {
    case 0:
        goc_context_cancel(c);
        break;
    case 1: /* a grandchild made and freed while others cancel */
        goc_context_free(goc_context_with_cancel(c));
        break;
    case 2:
        goc_yield();
        break;
    case 3: {
        goc_context *t = goc_context_with_timeout(c, 100 * GOC_MICROSECOND);
        goc_chan_recv(goc_context_done(t), NULL);
        if (goc_context_err(t) == 0)
            atomic_fetch_add(&s->bad, 1);
        goc_context_free(t);
        break;
    }
    }
    goc_waitgroup_done(&s->wg);
}

static int stress_main(void *arg)
{
    (void)arg;
    long rounds = goc_test_iters(300, 20);
    stress_state *s = calloc(1, sizeof *s);
    stress_arg args[NODES];
    for (long r = 0; r < rounds; r++) {
        goc_context *root = goc_context_with_cancel(goc_context_background());
        for (int i = 0; i < NODES; i++) {
            /* Random shape: each node's parent is an earlier one. */
            goc_context *parent = i == 0 ? root : s->node[(int)(rand() % i)];
            s->node[i] = i % 5 == 4
                             ? goc_context_with_timeout(parent, GOC_SECOND)
                             : goc_context_with_cancel(parent);
            ASSERT(s->node[i] != NULL);
        }
        goc_waitgroup_add(&s->wg, NODES);
        for (int i = 0; i < NODES; i++) {
            args[i] = (stress_arg){s, i};
            ASSERT_EQ(goc_go(stress_worker, &args[i]), 0);
        }
        goc_yield();
        goc_context_cancel(root);
        goc_waitgroup_wait(&s->wg);
        for (int i = 0; i < NODES; i++) {
            if (goc_context_err(s->node[i]) == 0)
                atomic_fetch_add(&s->bad, 1);
        }
        /* Free in a scrambled order: parents and children mixed. */
        for (int i = 0; i < NODES; i++)
            goc_context_free(s->node[(i * 37) % NODES]);
        goc_context_free(root);
    }
    ASSERT_EQ(atomic_load(&s->bad), 0);
    free(s);
    return 0;
}

GOC_TEST(context_concurrent_cancel_free_timeout_stress)
{
    return run_main(2, stress_main, NULL);
}

/* The usual pattern: a worker stops when its context is done. */
typedef struct {
    goc_context *ctx;
    goc_chan *results;
    goc_waitgroup wg;
} worker_state;

static void ctx_worker(void *arg)
{
    worker_state *s = arg;
    for (int i = 0;; i++) {
        goc_case cs[2] = {GOC_CASE_RECV(goc_context_done(s->ctx), NULL),
                          GOC_CASE_SEND(s->results, &i)};
        if (goc_select(cs, 2, false) == 0)
            break;
    }
    goc_waitgroup_done(&s->wg);
}

static int worker_main(void *arg)
{
    (void)arg;
    worker_state s = {0};
    s.ctx =
        goc_context_with_timeout(goc_context_background(), 5 * GOC_MILLISECOND);
    s.results = goc_chan_make(sizeof(int), 0);
    goc_waitgroup_add(&s.wg, 1);
    ASSERT_EQ(goc_go(ctx_worker, &s), 0);
    int v, n = 0;
    for (;;) {
        goc_case cs[2] = {GOC_CASE_RECV(goc_context_done(s.ctx), NULL),
                          GOC_CASE_RECV(s.results, &v)};
        if (goc_select(cs, 2, false) == 0)
            break;
        ASSERT_EQ(v, n);
        n++;
    }
    goc_waitgroup_wait(&s.wg); /* the worker saw done too and stopped */
    ASSERT_GE(n, 0);           /* (how many depends on the machine) */
    ASSERT_EQ(goc_context_err(s.ctx), -ETIMEDOUT);
    goc_context_free(s.ctx);
    goc_chan_free(s.results);
    return 0;
}

GOC_TEST(context_stops_a_worker)
{
    return run_main(2, worker_main, NULL);
}

/* Contexts without deadlines need no runtime: a plain program may build
 * and cancel trees. */
GOC_TEST(context_outside_goc_main)
{
    goc_context *p = goc_context_with_cancel(goc_context_background());
    goc_context *c = goc_context_with_cancel(p);
    goc_context_free(p);
    ASSERT_EQ(goc_context_err(c), -ECANCELED);
    goc_context_free(c);
    return 0;
}

GOC_TEST_EXPECT(context_nil_parent_panics, SIGABRT, 0,
                "panic: context: cannot create context from nil parent")
{
    goc_context_with_cancel(NULL);
    return 0;
}
