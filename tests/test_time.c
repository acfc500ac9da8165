/*
 * test_time.c - timers, AfterFunc and tickers with Go 1.23's semantics:
 * never early, no stale value after Stop/Reset, tickers that drop ticks
 * for slow receivers and do not drift.
 *
 * Tests named *_p1, *_p2, *_p4 run one body at 1, 2 and 4 processors.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <goc.h>

#include "goc_test.h"

#define MS GOC_MILLISECOND
#define US GOC_MICROSECOND

static void go(void (*fn)(void *), void *arg)
{
    ASSERT_EQ(goc_go(fn, arg), 0);
}

/* Non-blocking receive of a time: 1 got one (*v), -1 nothing. */
static int poll_time(goc_chan *c, int64_t *v)
{
    goc_case cs = GOC_CASE_RECV(c, v);
    return goc_select(&cs, 1, true) == 0 ? 1 : -1;
}

/* Blocking receive with a timeout; false on timeout. */
static bool recv_within(goc_chan *c, int64_t *v, int64_t timeout)
{
    goc_timer *to = goc_timer_new(timeout);
    ASSERT(to != NULL);
    goc_case cs[] = {GOC_CASE_RECV(c, v),
                     GOC_CASE_RECV(goc_timer_chan(to), NULL)};
    int r = goc_select(cs, 2, false);
    goc_timer_free(to);
    return r == 0;
}

/* ---- timers: basics ------------------------------------------------- */

PROCS_TEST(time_timer_basics)
{
    (void)arg;
    /* Fires once, not early, with the time it fired. */
    int64_t start = goc_nanotime();
    goc_timer *t = goc_timer_new(5 * MS);
    ASSERT(t != NULL);
    goc_chan *c = goc_timer_chan(t);
    ASSERT_EQ(goc_chan_len(c), 0);
    ASSERT_EQ(goc_chan_cap(c), 0); /* Go 1.23: timer channels look unbuffered */
    int64_t v = 0;
    ASSERT(goc_chan_recv_i64(c, &v));
    int64_t now = goc_nanotime();
    ASSERT_GE(v, start + 5 * MS);
    ASSERT_LE(v, now);
    ASSERT(!goc_timer_stop(t));           /* fired and received */
    ASSERT(!recv_within(c, &v, 20 * MS)); /* only once */

    /* Stop before it fires: true, then nothing arrives. */
    ASSERT(!goc_timer_reset(t, GOC_SECOND)); /* was not active */
    ASSERT(goc_timer_stop(t));
    ASSERT(!goc_timer_stop(t));
    ASSERT(!recv_within(c, &v, 30 * MS));

    /* Fired but not received: Stop discards the value and says true. */
    ASSERT(!goc_timer_reset(t, 1 * MS));
    goc_sleep(10 * MS);
    ASSERT_EQ(goc_chan_len(c), 0); /* even with the value buffered */
    ASSERT(goc_timer_stop(t));
    ASSERT_EQ(poll_time(c, &v), -1);

    /* Reset of a fired, unreceived timer: the old value is gone and the
     * new one comes after the new duration. */
    ASSERT(!goc_timer_reset(t, 1 * MS));
    goc_sleep(10 * MS);
    start = goc_nanotime();
    ASSERT(goc_timer_reset(t, 5 * MS));
    ASSERT(goc_chan_recv_i64(c, &v));
    ASSERT_GE(v, start + 5 * MS);

    /* Reset of a pending timer moves its deadline. */
    ASSERT(!goc_timer_reset(t, 2 * MS));
    start = goc_nanotime();
    ASSERT(goc_timer_reset(t, 15 * MS));
    ASSERT(goc_chan_recv_i64(c, &v));
    ASSERT_GE(v, start + 15 * MS);
    goc_timer_free(t);

    /* d <= 0 fires at once. */
    t = goc_timer_new(-5);
    ASSERT(recv_within(goc_timer_chan(t), &v, GOC_SECOND));
    goc_timer_free(t);
    t = goc_timer_new(0);
    ASSERT(recv_within(goc_timer_chan(t), &v, GOC_SECOND));
    goc_timer_free(t);
    return 0;
}

/* ---- timers: no stale value after Stop/Reset returns --------------- */

PROCS_TEST(time_stop_reset_no_stale)
{
    (void)arg;
    long n = goc_test_iters(100000, 5000);
    goc_timer *t = goc_timer_new(GOC_SECOND * 3600);
    goc_chan *c = goc_timer_chan(t);
    uint32_t rnd = 12345;
    int64_t v;
    long stops = 0, resets = 0;
    for (long i = 0; i < n; i++) {
        rnd = rnd * 1664525u + 1013904223u;
        /* Arm to fire about now, so firing races with what follows. */
        goc_timer_reset(t, (int64_t)(rnd >> 8) % (20 * US));
        int delay = (int)((rnd >> 4) % 4);
        if (delay == 1) {
            goc_yield();
        } else if (delay == 2) {
            int64_t until = goc_nanotime() + (int64_t)(rnd % (30 * US));
            while (goc_nanotime() < until) {
            }
        }
        /* Nothing was received, so whatever happened the call stops or
         * replaces a pending firing: true, and no value may follow. */
        if (rnd & 1) {
            ASSERT(goc_timer_stop(t));
            stops++;
        } else {
            ASSERT(goc_timer_reset(t, GOC_SECOND * 3600));
            resets++;
        }
        ASSERT_EQ(poll_time(c, &v), -1);
        if (i % 256 == 0)
            goc_sleep(100 * US); /* let a stale firing show up */
        else
            goc_yield();
        ASSERT_EQ(poll_time(c, &v), -1);
    }
    ASSERT(stops > 0 && resets > 0);
    goc_timer_free(t);
    return 0;
}

/* ---- 10,000 sleeps (timers and goc_sleep) at once: never early -------- */

typedef struct sleeper {
    goc_chan *done;
    int64_t d;
    _Atomic int64_t *max_late;
    bool use_timer; /* a timer's channel, else goc_sleep */
} sleeper;

static void sleeper_run(void *a)
{
    sleeper *s = a;
    int64_t start = goc_nanotime();
    goc_timer *t = NULL;
    if (s->use_timer) {
        t = goc_timer_new(s->d);
        ASSERT(t != NULL);
        int64_t v;
        ASSERT(goc_chan_recv_i64(goc_timer_chan(t), &v));
        ASSERT_GE(v, start + s->d); /* never early */
    } else {
        goc_sleep(s->d);
    }
    int64_t now = goc_nanotime();
    ASSERT_GE(now, start + s->d);
    int64_t late = now - (start + s->d);
    int64_t m = atomic_load(s->max_late);
    while (late > m && !atomic_compare_exchange_weak(s->max_late, &m, late)) {
    }
    goc_timer_free(t);
    goc_chan_send(s->done, NULL);
}

/* A goroutine that arms timers in a loop without ever blocking still
 * lets due timers fire (there is no preemption to do it for it). */
PROCS_TEST(time_timers_fire_while_a_goroutine_arms_more)
{
    (void)arg;
    int64_t start = goc_nanotime();
    goc_timer *first = goc_timer_new(5 * MS);
    ASSERT(first != NULL);
    enum { N = 1000 };
    goc_timer *more[N];
    for (int i = 0; i < N; i++)
        ASSERT((more[i] = goc_timer_new(GOC_SECOND)) != NULL);
    /* At least 300 ms of arming (new timers, then resets), never
     * blocking, and at least 1000 resets after the first timer was due
     * (a starved thread may spend the 300 ms creating the timers). */
    long resets_after_due = 0;
    for (long k = 0;; k++) {
        goc_timer_reset(more[k % N], GOC_SECOND);
        int64_t now = goc_nanotime();
        if (now >= start + 5 * MS)
            resets_after_due++;
        if (now - start >= 300 * MS && resets_after_due >= 1000)
            break;
    }
    int64_t loop_end = goc_nanotime(), fired = 0;
    ASSERT(goc_chan_recv_i64(goc_timer_chan(first), &fired));
    ASSERT_GE(fired, start + 5 * MS);
    /* It fired inside the loop: a firing left to the receive below would
     * carry a time after loop_end. */
    ASSERT_LT(fired, loop_end);
    for (int i = 0; i < N; i++)
        goc_timer_free(more[i]);
    goc_timer_free(first);
    return 0;
}

/* A timer armed by a goroutine that then spins without ever calling into
 * the runtime sits in the heap of a processor whose owner never looks at
 * it: another thread must fire it (after a grace period that lets a
 * busy owner fire its own timers), at 2 processors and more. */
static void spin_flag(void *a)
{
    atomic_store((_Atomic bool *)a, true);
}

static int spin_after_arming(void *a)
{
    int64_t *took = a;
    _Atomic bool fired = false;
    int64_t start = goc_nanotime();
    goc_timer *t = goc_after_func(10 * MS, spin_flag, (void *)&fired);
    ASSERT(t != NULL);
    while (!atomic_load(&fired) && goc_nanotime() - start < 5 * GOC_SECOND)
        ;
    *took = goc_nanotime() - start;
    ASSERT(atomic_load(&fired));
    goc_timer_free(t);
    return 0;
}

GOC_TEST(time_timer_of_a_spinning_goroutine_fires)
{
    for (int procs = 2; procs <= 4; procs += 2) {
        goc_maxprocs(procs);
        int64_t took = 0;
        ASSERT_EQ(goc_main(spin_after_arming, &took), 0);
        ASSERT_GE(took, 10 * MS);
        /* The grace is 0.5 ms; the bound is for sanitizers and loaded
         * machines. */
        ASSERT_LT(took, 2 * GOC_SECOND);
    }
    return 0;
}

PROCS_TEST(time_many_timers_never_early)
{
    (void)arg;
    int n = (int)goc_test_iters(10000, 300);
    sleeper *s = calloc((size_t)n, sizeof *s);
    goc_chan *done = goc_chan_make(0, (size_t)n);
    _Atomic int64_t max_late = 0;
    for (int i = 0; i < n; i++) {
        s[i] =
            (sleeper){done, (int64_t)(1 + i % 20) * MS, &max_late, i % 2 == 0};
        go(sleeper_run, &s[i]);
    }
    for (int i = 0; i < n; i++)
        ASSERT(goc_chan_recv(done, NULL));
    ASSERT_LT(atomic_load(&max_late), 30 * GOC_SECOND); /* sanity only */
    goc_chan_free(done);
    free(s);
    return 0;
}

/* Timers by the tens of thousands, twice: their blocks span several
 * 2 MiB chunks, which at 2 processors and more an idle thread commits
 * ahead while they are made (time.c, blocks_prefill), then come back
 * from the free list. Every timer delivers once, never early. */
PROCS_TEST(time_timers_across_chunks)
{
    (void)arg;
    int n = (int)goc_test_iters(30000, 300);
    goc_timer **t = calloc((size_t)n, sizeof *t);
    int64_t *start = calloc((size_t)n, sizeof *start);
    ASSERT(t != NULL && start != NULL);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < n; i++) {
            start[i] = goc_nanotime();
            ASSERT((t[i] = goc_timer_new((1 + i % 5) * MS)) != NULL);
        }
        for (int i = 0; i < n; i++) {
            int64_t v = 0;
            ASSERT(goc_chan_recv_i64(goc_timer_chan(t[i]), &v));
            ASSERT_GE(v, start[i] + (1 + i % 5) * MS);
            ASSERT_EQ(poll_time(goc_timer_chan(t[i]), &v), -1); /* once */
        }
        for (int i = 0; i < n; i++)
            goc_timer_free(t[i]);
    }
    free(t);
    free(start);
    return 0;
}

/* ---- AfterFunc ------------------------------------------------------ */

typedef struct af {
    goc_chan *ran; /* receives the goroutine id */
    _Atomic int count;
    int64_t when; /* earliest allowed start */
} af;

static void af_fn(void *a)
{
    af *x = a;
    ASSERT_GE(goc_nanotime(), x->when);
    atomic_fetch_add(&x->count, 1);
    goc_chan_send_u64(x->ran, goc_id());
}

PROCS_TEST(time_after_func)
{
    (void)arg;
    af x = {.ran = goc_chan_make(sizeof(uint64_t), 4)};
    x.when = goc_nanotime() + 5 * MS;
    goc_timer *t = goc_after_func(5 * MS, af_fn, &x);
    ASSERT(goc_timer_chan(t) == NULL);
    uint64_t id = 0;
    ASSERT(goc_chan_recv_u64(x.ran, &id));
    ASSERT(id != goc_id());     /* its own goroutine */
    ASSERT(!goc_timer_stop(t)); /* already ran */

    /* Reset after it ran: it runs again. */
    x.when = goc_nanotime() + 3 * MS;
    ASSERT(!goc_timer_reset(t, 3 * MS));
    ASSERT(goc_chan_recv_u64(x.ran, &id));
    ASSERT_EQ(atomic_load(&x.count), 2);

    /* Stop before it runs: true, and it never runs. */
    ASSERT(!goc_timer_reset(t, GOC_SECOND));
    ASSERT(goc_timer_stop(t));
    goc_sleep(30 * MS);
    ASSERT_EQ(atomic_load(&x.count), 2);
    goc_timer_free(t);

    /* Free before it runs: it never runs. */
    t = goc_after_func(GOC_SECOND, af_fn, &x);
    goc_timer_free(t);
    goc_sleep(20 * MS);
    ASSERT_EQ(atomic_load(&x.count), 2);
    goc_chan_free(x.ran);
    return 0;
}

/* Racing Stop against the firing: exactly one of "Stop said true" and
 * "fn ran" happens, every time. */
typedef struct afrace {
    _Atomic long ran;
    goc_chan *done;
} afrace;

static void afrace_fn(void *a)
{
    afrace *x = a;
    atomic_fetch_add(&x->ran, 1);
    goc_chan_send(x->done, NULL);
}

PROCS_TEST(time_after_func_stop_race)
{
    (void)arg;
    long n = goc_test_iters(20000, 2000);
    afrace x = {.done = goc_chan_make(0, (size_t)n)};
    long stopped = 0;
    uint32_t rnd = 99;
    for (long i = 0; i < n; i++) {
        rnd = rnd * 1664525u + 1013904223u;
        goc_timer *t =
            goc_after_func((int64_t)(rnd >> 8) % (10 * US), afrace_fn, &x);
        if (rnd & 0x10)
            goc_yield();
        if (goc_timer_stop(t))
            stopped++;
        goc_timer_free(t); /* possibly while its firing is in flight */
    }
    for (long i = stopped; i < n; i++)
        ASSERT(goc_chan_recv(x.done, NULL));
    goc_sleep(20 * MS);
    ASSERT_EQ(atomic_load(&x.ran) + stopped, n);
    goc_chan_free(x.done);
    return 0;
}

/* Free while the firing may be in flight on another thread (ASan checks
 * that nothing touches freed memory). */
PROCS_TEST(time_free_while_firing)
{
    (void)arg;
    long n = goc_test_iters(20000, 2000);
    for (long i = 0; i < n; i++) {
        goc_timer *t = goc_timer_new(i % 3 == 0 ? 0 : (int64_t)(i % 7) * US);
        if (i % 2)
            goc_yield();
        goc_timer_free(t);
        goc_ticker *k = goc_ticker_new(1 + (int64_t)(i % 5) * US);
        if (i % 3)
            goc_yield();
        goc_ticker_free(k);
    }
    goc_sleep(10 * MS); /* let deferred frees happen before exit */
    return 0;
}

/* ---- 100,000 timers over 1..100 ms: none early ---------------------- */

typedef struct mass {
    int64_t *deadline;
    _Atomic long left;
    _Atomic int64_t max_late;
    _Atomic long early;
    goc_chan *done;
} mass;

typedef struct mass_slot {
    mass *m;
    long i;
} mass_slot;

static void mass_fn(void *a)
{
    mass_slot *s = a;
    mass *m = s->m;
    int64_t late = goc_nanotime() - m->deadline[s->i];
    if (late < 0)
        atomic_fetch_add(&m->early, 1);
    int64_t cur = atomic_load(&m->max_late);
    while (late > cur &&
           !atomic_compare_exchange_weak(&m->max_late, &cur, late)) {
    }
    if (atomic_fetch_sub(&m->left, 1) == 1)
        goc_chan_close(m->done);
}

PROCS_TEST(time_100k_timers)
{
    (void)arg;
    long n = goc_test_iters(100000, 300);
    mass m = {.deadline = calloc((size_t)n, sizeof(int64_t)),
              .done = goc_chan_make(0, 0)};
    atomic_store(&m.left, n);
    mass_slot *slots = calloc((size_t)n, sizeof *slots);
    goc_timer **ts = calloc((size_t)n, sizeof *ts);
    ASSERT(m.deadline && slots && ts);
    for (long i = 0; i < n; i++) {
        int64_t d = (1 + (i * 7919) % 100) * MS;
        slots[i] = (mass_slot){&m, i};
        m.deadline[i] = goc_nanotime() + d;
        ts[i] = goc_after_func(d, mass_fn, &slots[i]);
        ASSERT(ts[i] != NULL);
    }
    ASSERT(!goc_chan_recv(m.done, NULL)); /* closed by the last one */
    ASSERT_EQ(atomic_load(&m.early), 0);
    for (long i = 0; i < n; i++)
        goc_timer_free(ts[i]);
    /* the last functions may still be returning */
    goc_sleep(5 * MS);
    free(ts);
    free(slots);
    free(m.deadline);
    goc_chan_free(m.done);
    return 0;
}

/* ---- tickers -------------------------------------------------------- */

/*
 * A ticker re-arms on the grid start + k * period. So the last of `ticks`
 * ticks belongs to grid point k == ticks + (ticks dropped because the
 * receiver or the timer ran a period late, which a loaded machine does).
 * Drops show as gaps of ~2 periods between tick times; re-arming from
 * "now" instead would drift by the sum of every tick's lateness with no
 * such gaps. So k - ticks - drops is the drift, in periods.
 */
static void ticker_drift(int64_t period, long ticks, long slack)
{
    int64_t start = goc_nanotime();
    goc_ticker *t = goc_ticker_new(period);
    ASSERT(t != NULL);
    goc_chan *c = goc_ticker_chan(t);
    ASSERT_EQ(goc_chan_cap(c), 0);
    int64_t v = 0, prev = start;
    long drops = 0;
    for (long i = 0; i < ticks; i++) {
        ASSERT(goc_chan_recv_i64(c, &v));
        ASSERT_GE(v, start + (i + 1) * period); /* never early */
        long gap = (long)((v - prev + period / 2) / period);
        if (gap > 1)
            drops += gap - 1;
        prev = v;
    }
    int64_t k = (v - start) / period;
    ASSERT_GE(k, ticks);
    ASSERT_LE(k - drops, ticks + slack);
    goc_ticker_free(t);
}

PROCS_TEST(time_ticker_no_drift)
{
    (void)arg;
    ticker_drift(10 * MS, goc_test_iters(1000, 100), 1);
    return 0;
}

PROCS_TEST(time_ticker_fast_no_drift)
{
    (void)arg;
    long n = goc_test_iters(2000, 300);
    ticker_drift(1 * MS, n, n / 20 + 2);
    return 0;
}

PROCS_TEST(time_ticker_semantics)
{
    (void)arg;
    int64_t v;
    /* A slow receiver finds the first tick it missed buffered; the later
     * ones were dropped, so the next tick comes from now, not from a
     * backlog (whose times would be one period apart). */
    int64_t start = goc_nanotime();
    goc_ticker *t = goc_ticker_new(5 * MS);
    goc_chan *c = goc_ticker_chan(t);
    goc_sleep(60 * MS);
    int64_t v1, v2;
    ASSERT(goc_chan_recv_i64(c, &v1));
    ASSERT(goc_chan_recv_i64(c, &v2));
    if (v1 < start + 30 * MS) /* else the machine starved the ticker */
        ASSERT_GE(v2 - v1, 25 * MS);

    /* Stop: no tick after it returns, not even a buffered one. */
    goc_sleep(5 * MS);
    goc_ticker_stop(t);
    ASSERT_EQ(poll_time(c, &v), -1);
    goc_sleep(10 * MS);
    ASSERT_EQ(poll_time(c, &v), -1);

    /* Reset restarts it with a new period, from now. */
    start = goc_nanotime();
    goc_ticker_reset(t, 3 * MS);
    ASSERT(goc_chan_recv_i64(c, &v));
    ASSERT_GE(v, start + 3 * MS);
    ASSERT(goc_chan_recv_i64(c, &v));
    ASSERT_GE(v, start + 6 * MS);

    /* Reset with a pending tick: the stale one is gone. */
    goc_sleep(10 * MS);
    start = goc_nanotime();
    goc_ticker_reset(t, 50 * MS);
    ASSERT_EQ(poll_time(c, &v), -1);
    ASSERT(goc_chan_recv_i64(c, &v));
    ASSERT_GE(v, start + 50 * MS);
    goc_ticker_free(t);

    /* Stop/Reset racing the ticks: never a stale tick after Stop. */
    t = goc_ticker_new(20 * US);
    c = goc_ticker_chan(t);
    for (int i = 0; i < 2000; i++) {
        goc_ticker_reset(t, 20 * US + (i % 5) * US);
        if (i % 2)
            goc_yield();
        goc_ticker_stop(t);
        ASSERT_EQ(poll_time(c, &v), -1);
        goc_yield();
        ASSERT_EQ(poll_time(c, &v), -1);
    }
    goc_ticker_free(t);
    return 0;
}

/* ---- timeouts with select ------------------------------------------- */

PROCS_TEST(time_select_timeout)
{
    (void)arg;
    goc_chan *never = goc_chan_make(sizeof(int), 0);
    for (int i = 0; i < 20; i++) {
        int64_t start = goc_nanotime();
        goc_timer *t = goc_timer_new(2 * MS);
        int v;
        int64_t at;
        goc_case cs[] = {GOC_CASE_RECV(never, &v),
                         GOC_CASE_RECV(goc_timer_chan(t), &at)};
        ASSERT_EQ(goc_select(cs, 2, false), 1);
        ASSERT(cs[1].ok);
        ASSERT_GE(at, start + 2 * MS);
        goc_timer_free(t);
    }
    goc_chan_free(never);
    return 0;
}

/* ---- misuse and deadlock -------------------------------------------- */

static int stopped_timer_main(void *arg)
{
    (void)arg;
    goc_timer *t = goc_timer_new(GOC_SECOND);
    goc_timer_stop(t);
    goc_chan_recv(goc_timer_chan(t), NULL); /* nothing can wake us */
    return 0;
}

GOC_TEST_EXPECT(time_stopped_timer_deadlock, 0, 2,
                "fatal error: all goroutines are asleep - deadlock!")
{
    return goc_main(stopped_timer_main, NULL);
}

static int bad_ticker_main(void *arg)
{
    (void)arg;
    goc_ticker_new(0);
    return 0;
}

GOC_TEST_EXPECT(time_ticker_nonpositive_panics, SIGABRT, 0,
                "panic: non-positive interval for NewTicker")
{
    return goc_main(bad_ticker_main, NULL);
}

static int bad_reset_main(void *arg)
{
    (void)arg;
    goc_ticker *t = goc_ticker_new(MS);
    goc_ticker_reset(t, -1);
    return 0;
}

GOC_TEST_EXPECT(time_ticker_reset_nonpositive_panics, SIGABRT, 0,
                "panic: non-positive interval for Ticker.Reset")
{
    return goc_main(bad_reset_main, NULL);
}

static goc_timer *leftover;

static int leftover_main(void *arg)
{
    (void)arg;
    leftover = goc_timer_new(GOC_SECOND * 60);
    return 0;
}

GOC_TEST(time_free_after_runtime_ended)
{
    /* A timer still armed when goc_main returns is freed afterwards. */
    ASSERT_EQ(goc_main(leftover_main, NULL), 0);
    goc_timer_free(leftover);
    return 0;
}
