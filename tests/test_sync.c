/*
 * test_sync.c - goc/sync.h: mutex, rwmutex, cond, once, waitgroup, pool.
 *
 * Each test body runs as a goc_main; tests that need parallelism ask for
 * 2 processors first. Misuse tests expect the panic (SIGABRT) or the
 * fatal error (exit status 2) and its message.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "goc.h"
#include "goc_test.h"

/* ---- helpers ------------------------------------------------------- */

/* Pointer asserts (goc_test.h's ASSERT_PTR_EQ declares its second
 * operand with type `const void`, which does not compile). */
#define PTR_EQ(a, b)                                                           \
    do {                                                                       \
        const void *pa_ = (a), *pb_ = (b);                                     \
        if (pa_ != pb_)                                                        \
            GOC_FAIL_("assertion failed: %s == %s (%p vs %p)", #a, #b, pa_,    \
                      pb_);                                                    \
    } while (0)
#define PTR_NE(a, b)                                                           \
    do {                                                                       \
        const void *pa_ = (a), *pb_ = (b);                                     \
        if (pa_ == pb_)                                                        \
            GOC_FAIL_("assertion failed: %s != %s (%p)", #a, #b, pa_);         \
    } while (0)

/* Run fn as goc_main on `procs` processors; returns its result. */
static int run_main(int procs, int (*fn)(void *), void *arg)
{
    goc_maxprocs(procs);
    return goc_main(fn, arg);
}

/* Spawn n goroutines running fn(arg), counted in wg. */
static void spawn_n(goc_waitgroup *wg, int n, void (*fn)(void *), void *arg)
{
    goc_waitgroup_add(wg, n);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(goc_go(fn, arg), 0);
}

/* ---- mutex --------------------------------------------------------- */

typedef struct {
    goc_mutex mu;
    goc_waitgroup wg;
    long iters;
    long counter;       /* protected by mu */
    _Atomic int inside; /* goroutines inside the critical section */
    _Atomic int violations;
} counter_state;

static void counter_worker(void *arg)
{
    counter_state *s = arg;
    for (long i = 0; i < s->iters; i++) {
        goc_mutex_lock(&s->mu);
        if (atomic_fetch_add(&s->inside, 1) != 0)
            atomic_fetch_add(&s->violations, 1);
        long v = s->counter;
        if (i % 4 == 0)
            goc_yield(); /* hold the lock across a yield */
        s->counter = v + 1;
        atomic_fetch_sub(&s->inside, 1);
        goc_mutex_unlock(&s->mu);
        if (i % 16 == 0)
            goc_yield();
    }
    goc_waitgroup_done(&s->wg);
}

static int mutex_counter_main(void *arg)
{
    (void)arg;
    counter_state s = {.mu = GOC_MUTEX_INIT, .wg = GOC_WAITGROUP_INIT};
    s.iters = goc_test_iters(20000, 500);
    spawn_n(&s.wg, 8, counter_worker, &s);
    goc_waitgroup_wait(&s.wg);
    ASSERT_EQ(s.counter, 8 * s.iters);
    ASSERT_EQ(atomic_load(&s.violations), 0);
    ASSERT_EQ(atomic_load(&s.mu.state), 0);
    return 0;
}

GOC_TEST(sync_mutex_counter_8_goroutines_2_procs)
{
    return run_main(2, mutex_counter_main, NULL);
}

GOC_TEST(sync_mutex_counter_8_goroutines_1_proc)
{
    return run_main(1, mutex_counter_main, NULL);
}

static int mutex_trylock_main(void *arg)
{
    (void)arg;
    goc_mutex mu = GOC_MUTEX_INIT;
    ASSERT(goc_mutex_trylock(&mu));
    ASSERT(!goc_mutex_trylock(&mu));
    goc_mutex_unlock(&mu);
    goc_mutex_lock(&mu);
    ASSERT(!goc_mutex_trylock(&mu));
    goc_mutex_unlock(&mu);
    ASSERT(goc_mutex_trylock(&mu));
    goc_mutex_unlock(&mu);
    return 0;
}

GOC_TEST(sync_mutex_trylock)
{
    return run_main(1, mutex_trylock_main, NULL);
}

/* A zeroed mutex works from a plain thread when nobody contends. */
GOC_TEST(sync_mutex_plain_thread_uncontended)
{
    static goc_mutex mu; /* zeroed: valid */
    for (int i = 0; i < 3; i++) {
        goc_mutex_lock(&mu);
        goc_mutex_unlock(&mu);
    }
    ASSERT(goc_mutex_trylock(&mu));
    goc_mutex_unlock(&mu);
    return 0;
}

static void *lock_held_mutex_thread(void *arg)
{
    goc_mutex_lock(arg); /* held by main: fatal, never a hang */
    return NULL;
}

static int mutex_plain_thread_contended_main(void *arg)
{
    (void)arg;
    static goc_mutex mu;
    goc_mutex_lock(&mu);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, lock_held_mutex_thread, &mu), 0);
    pthread_join(t, NULL);
    return 0;
}

GOC_TEST_EXPECT(sync_mutex_plain_thread_contended_is_fatal, 0, 2,
                "goc_mutex_lock called outside a goroutine")
{
    return run_main(1, mutex_plain_thread_contended_main, NULL);
}

static int mutex_unlock_unlocked_main(void *arg)
{
    (void)arg;
    goc_mutex mu = GOC_MUTEX_INIT;
    goc_mutex_lock(&mu);
    goc_mutex_unlock(&mu);
    goc_mutex_unlock(&mu);
    return 0;
}

GOC_TEST_EXPECT(sync_mutex_unlock_of_unlocked_panics, SIGABRT, 0,
                "panic: sync: unlock of unlocked mutex")
{
    return run_main(1, mutex_unlock_unlocked_main, NULL);
}

/* One goroutine locks, another unlocks: allowed, as in Go. */
static void unlock_other(void *arg)
{
    goc_mutex_unlock(arg);
}

static int mutex_unlock_by_other_main(void *arg)
{
    (void)arg;
    goc_mutex mu = GOC_MUTEX_INIT;
    goc_mutex_lock(&mu);
    ASSERT_EQ(goc_go(unlock_other, &mu), 0);
    goc_mutex_lock(&mu); /* parks until the other goroutine unlocks */
    goc_mutex_unlock(&mu);
    return 0;
}

GOC_TEST(sync_mutex_unlocked_by_another_goroutine)
{
    return run_main(1, mutex_unlock_by_other_main, NULL);
}

/*
 * Starvation: a hog re-takes the mutex right after each unlock (it is
 * running; the woken waiter is not), so in normal mode the waiter could
 * lose again and again. After 1 ms of waiting the mutex goes into
 * starvation mode and the next unlock hands it to the waiter. Count the
 * hog's acquisitions while the waiter waits: they must stay bounded,
 * about 1 ms / hold time. The median over the rounds is checked: on a
 * loaded machine the kernel may deschedule the waiter's thread for tens
 * of milliseconds in a round while the hog's thread keeps going, which no
 * mutex can help. Without starvation mode, the 1-processor variants never
 * finish (the waiter loses every time).
 */
#define STARVE_ROUNDS 15

typedef struct {
    goc_mutex mu;
    _Atomic bool stop;
    _Atomic long hog_acquired;
    long handoffs[STARVE_ROUNDS];
    int64_t max_wait;
    goc_waitgroup wg;
    bool hold_by_sleeping;
} starve_state;

static void hog(void *arg)
{
    starve_state *s = arg;
    while (!atomic_load(&s->stop)) {
        goc_mutex_lock(&s->mu);
        atomic_fetch_add(&s->hog_acquired, 1);
        if (s->hold_by_sleeping) {
            goc_sleep(100 * GOC_MICROSECOND);
        } else {
            int64_t until = goc_nanotime() + 50 * GOC_MICROSECOND;
            while (goc_nanotime() < until)
                goc_yield();
        }
        goc_mutex_unlock(&s->mu);
    }
    goc_waitgroup_done(&s->wg);
}

static void starved(void *arg)
{
    starve_state *s = arg;
    for (int i = 0; i < STARVE_ROUNDS; i++) {
        goc_sleep(100 * GOC_MICROSECOND);
        long before = atomic_load(&s->hog_acquired);
        int64_t t0 = goc_nanotime();
        goc_mutex_lock(&s->mu);
        int64_t waited = goc_nanotime() - t0;
        s->handoffs[i] = atomic_load(&s->hog_acquired) - before;
        goc_mutex_unlock(&s->mu);
        if (waited > s->max_wait)
            s->max_wait = waited;
    }
    atomic_store(&s->stop, true);
    goc_waitgroup_done(&s->wg);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int starvation_main(void *arg)
{
    starve_state *s = calloc(1, sizeof *s);
    s->hold_by_sleeping = arg != NULL;
    goc_waitgroup_add(&s->wg, 2);
    ASSERT_EQ(goc_go(hog, s), 0);
    ASSERT_EQ(goc_go(starved, s), 0);
    goc_waitgroup_wait(&s->wg);
    qsort(s->handoffs, STARVE_ROUNDS, sizeof s->handoffs[0], cmp_long);
    /* Starving after 1 ms, handed the mutex at the next unlock: about
     * 1 ms / hold time acquisitions by the hog (10 or 20), a few more for
     * the wake-up latency. */
    long bound = s->hold_by_sleeping ? 30 : 50;
    long median = s->handoffs[STARVE_ROUNDS / 2];
    if (median > bound)
        GOC_FAIL_("waiter saw a median of %ld hog acquisitions (max %ld, "
                  "max wait %lld ns)",
                  median, s->handoffs[STARVE_ROUNDS - 1],
                  (long long)s->max_wait);
    free(s);
    return 0;
}

GOC_TEST(sync_mutex_no_starvation_sleeping_hog_2_procs)
{
    return run_main(2, starvation_main, (void *)1);
}

GOC_TEST(sync_mutex_no_starvation_sleeping_hog_1_proc)
{
    return run_main(1, starvation_main, (void *)1);
}

GOC_TEST(sync_mutex_no_starvation_busy_hog_2_procs)
{
    return run_main(2, starvation_main, NULL);
}

GOC_TEST(sync_mutex_no_starvation_busy_hog_1_proc)
{
    return run_main(1, starvation_main, NULL);
}

/* Many goroutines hammer one mutex with tiny critical sections on both
 * processors: exercises spinning, wake-ups and starvation-mode exits. */
static void hammer(void *arg)
{
    counter_state *s = arg;
    for (long i = 0; i < s->iters; i++) {
        goc_mutex_lock(&s->mu);
        s->counter++;
        goc_mutex_unlock(&s->mu);
    }
    goc_waitgroup_done(&s->wg);
}

static int mutex_hammer_main(void *arg)
{
    (void)arg;
    counter_state s = {.mu = GOC_MUTEX_INIT};
    s.iters = goc_test_iters(100000, 2000);
    spawn_n(&s.wg, 16, hammer, &s);
    goc_waitgroup_wait(&s.wg);
    ASSERT_EQ(s.counter, 16 * s.iters);
    ASSERT_EQ(atomic_load(&s.mu.state), 0);
    return 0;
}

GOC_TEST(sync_mutex_hammer_16_goroutines_2_procs)
{
    return run_main(2, mutex_hammer_main, NULL);
}

/*
 * An object may be freed by whoever drops the last reference under its
 * mutex, while the goroutine that unlocked it before may still be inside
 * goc_mutex_unlock (waking the freer). ASan catches any touch after that.
 */
typedef struct {
    goc_mutex mu;
    int refs; /* mu */
} refobj;

typedef struct {
    refobj **objs;
    long n;
    goc_waitgroup wg;
} refobj_state;

static void refobj_dropper(void *arg)
{
    refobj_state *s = arg;
    for (long i = 0; i < s->n; i++) {
        refobj *o = s->objs[i];
        goc_mutex_lock(&o->mu);
        if (i % 8 == 0)
            goc_yield(); /* make the other one wait: unlock has work */
        bool last = --o->refs == 0;
        goc_mutex_unlock(&o->mu);
        if (last)
            free(o);
    }
    goc_waitgroup_done(&s->wg);
}

static int mutex_free_after_unlock_main(void *arg)
{
    (void)arg;
    refobj_state s = {0};
    s.n = goc_test_iters(50000, 2000);
    s.objs = calloc((size_t)s.n, sizeof *s.objs);
    for (long i = 0; i < s.n; i++) {
        s.objs[i] = calloc(1, sizeof(refobj));
        s.objs[i]->refs = 3;
    }
    spawn_n(&s.wg, 3, refobj_dropper, &s);
    goc_waitgroup_wait(&s.wg);
    free(s.objs);
    return 0;
}

GOC_TEST(sync_mutex_free_right_after_last_unlock)
{
    return run_main(2, mutex_free_after_unlock_main, NULL);
}

/* A wait group on the heap, freed as soon as wait returns. */
static void wg_heap_done(void *arg)
{
    goc_waitgroup_done(arg);
}

static int waitgroup_free_after_wait_main(void *arg)
{
    (void)arg;
    long n = goc_test_iters(20000, 1000);
    for (long i = 0; i < n; i++) {
        goc_waitgroup *wg = calloc(1, sizeof *wg);
        goc_waitgroup_add(wg, 2);
        ASSERT_EQ(goc_go(wg_heap_done, wg), 0);
        ASSERT_EQ(goc_go(wg_heap_done, wg), 0);
        goc_waitgroup_wait(wg);
        free(wg);
    }
    return 0;
}

GOC_TEST(sync_waitgroup_free_right_after_wait)
{
    return run_main(2, waitgroup_free_after_wait_main, NULL);
}

/* ---- rwmutex ------------------------------------------------------- */

typedef struct {
    goc_rwmutex rw;
    goc_waitgroup wg;
    long a, b; /* the pair: equal whenever no writer is inside */
    long iters;
    _Atomic long torn;
    _Atomic long reads;
    _Atomic int writers_inside;
    _Atomic int readers_inside;
    _Atomic long overlap; /* a reader and a writer inside together */
} pair_state;

static void pair_writer(void *arg)
{
    pair_state *s = arg;
    for (long i = 0; i < s->iters; i++) {
        goc_rwmutex_lock(&s->rw);
        if (atomic_fetch_add(&s->writers_inside, 1) != 0 ||
            atomic_load(&s->readers_inside) != 0)
            atomic_fetch_add(&s->overlap, 1);
        s->a++;
        goc_yield(); /* readers would see a != b now */
        s->b++;
        atomic_fetch_sub(&s->writers_inside, 1);
        goc_rwmutex_unlock(&s->rw);
        goc_yield();
    }
    goc_waitgroup_done(&s->wg);
}

static void pair_reader(void *arg)
{
    pair_state *s = arg;
    for (long i = 0; i < 4 * s->iters; i++) {
        goc_rwmutex_rlock(&s->rw);
        atomic_fetch_add(&s->readers_inside, 1);
        if (atomic_load(&s->writers_inside) != 0)
            atomic_fetch_add(&s->overlap, 1);
        long a = s->a;
        if (i % 2)
            goc_yield();
        long b = s->b;
        if (a != b)
            atomic_fetch_add(&s->torn, 1);
        atomic_fetch_add(&s->reads, 1);
        atomic_fetch_sub(&s->readers_inside, 1);
        goc_rwmutex_runlock(&s->rw);
    }
    goc_waitgroup_done(&s->wg);
}

static int rwmutex_pair_main(void *arg)
{
    (void)arg;
    pair_state *s = calloc(1, sizeof *s);
    s->iters = goc_test_iters(5000, 200);
    spawn_n(&s->wg, 2, pair_writer, s);
    spawn_n(&s->wg, 6, pair_reader, s);
    goc_waitgroup_wait(&s->wg);
    ASSERT_EQ(atomic_load(&s->torn), 0);
    ASSERT_EQ(atomic_load(&s->overlap), 0);
    ASSERT_EQ(s->a, 2 * s->iters);
    ASSERT_EQ(s->b, 2 * s->iters);
    ASSERT_EQ(atomic_load(&s->reads), 6 * 4 * s->iters);
    ASSERT_EQ(atomic_load(&s->rw.reader_count), 0);
    free(s);
    return 0;
}

GOC_TEST(sync_rwmutex_readers_never_see_torn_pair_2_procs)
{
    return run_main(2, rwmutex_pair_main, NULL);
}

GOC_TEST(sync_rwmutex_readers_never_see_torn_pair_1_proc)
{
    return run_main(1, rwmutex_pair_main, NULL);
}

/* Many readers at once: read locks do not exclude each other. */
typedef struct {
    goc_rwmutex rw;
    goc_waitgroup in, out;
    goc_mutex gate;
} readers_state;

static void concurrent_reader(void *arg)
{
    readers_state *s = arg;
    goc_rwmutex_rlock(&s->rw);
    goc_waitgroup_done(&s->in);
    goc_mutex_lock(&s->gate); /* all wait here, read locks held */
    goc_mutex_unlock(&s->gate);
    goc_rwmutex_runlock(&s->rw);
    goc_waitgroup_done(&s->out);
}

static int rwmutex_concurrent_readers_main(void *arg)
{
    (void)arg;
    readers_state s = {0};
    goc_mutex_lock(&s.gate);
    goc_waitgroup_add(&s.in, 10);
    spawn_n(&s.out, 10, concurrent_reader, &s);
    goc_waitgroup_wait(&s.in); /* 10 readers inside at once */
    ASSERT_EQ(atomic_load(&s.rw.reader_count), 10);
    goc_mutex_unlock(&s.gate);
    goc_waitgroup_wait(&s.out);
    goc_rwmutex_lock(&s.rw);
    goc_rwmutex_unlock(&s.rw);
    return 0;
}

GOC_TEST(sync_rwmutex_concurrent_readers)
{
    return run_main(2, rwmutex_concurrent_readers_main, NULL);
}

/*
 * Writer preference: with a reader inside and a writer waiting, a new
 * reader waits for the writer (Go's "a blocked Lock call excludes new
 * readers").
 */
typedef struct {
    goc_rwmutex rw;
    goc_waitgroup wg;
    _Atomic int order;  /* sequence counter */
    int writer_at;      /* order value when the writer got the lock */
    int late_reader_at; /* ... when the late reader got it */
} pref_state;

static void pref_writer(void *arg)
{
    pref_state *s = arg;
    goc_rwmutex_lock(&s->rw);
    s->writer_at = atomic_fetch_add(&s->order, 1);
    goc_sleep(2 * GOC_MILLISECOND);
    goc_rwmutex_unlock(&s->rw);
    goc_waitgroup_done(&s->wg);
}

static void pref_late_reader(void *arg)
{
    pref_state *s = arg;
    goc_rwmutex_rlock(&s->rw);
    s->late_reader_at = atomic_fetch_add(&s->order, 1);
    goc_rwmutex_runlock(&s->rw);
    goc_waitgroup_done(&s->wg);
}

static int rwmutex_writer_preference_main(void *arg)
{
    (void)arg;
    pref_state s = {0};
    atomic_store(&s.order, 1);
    goc_rwmutex_rlock(&s.rw); /* the early reader: us */
    spawn_n(&s.wg, 1, pref_writer, &s);
    /* Wait until the writer is pending (reader_count went negative). */
    while (atomic_load(&s.rw.reader_count) >= 0)
        goc_sleep(100 * GOC_MICROSECOND);
    spawn_n(&s.wg, 1, pref_late_reader, &s);
    goc_sleep(5 * GOC_MILLISECOND);
    ASSERT_EQ(s.late_reader_at, 0); /* still waiting behind the writer */
    ASSERT_EQ(s.writer_at, 0);
    goc_rwmutex_runlock(&s.rw);
    goc_waitgroup_wait(&s.wg);
    ASSERT_EQ(s.writer_at, 1);
    ASSERT_EQ(s.late_reader_at, 2);
    return 0;
}

GOC_TEST(sync_rwmutex_waiting_writer_blocks_new_readers)
{
    return run_main(2, rwmutex_writer_preference_main, NULL);
}

static int rwmutex_runlock_unlocked_main(void *arg)
{
    (void)arg;
    goc_rwmutex rw = GOC_RWMUTEX_INIT;
    goc_rwmutex_rlock(&rw);
    goc_rwmutex_runlock(&rw);
    goc_rwmutex_runlock(&rw);
    return 0;
}

GOC_TEST_EXPECT(sync_rwmutex_runlock_of_unlocked_panics, SIGABRT, 0,
                "panic: sync: RUnlock of unlocked RWMutex")
{
    return run_main(1, rwmutex_runlock_unlocked_main, NULL);
}

static int rwmutex_unlock_unlocked_main(void *arg)
{
    (void)arg;
    goc_rwmutex rw = GOC_RWMUTEX_INIT;
    goc_rwmutex_lock(&rw);
    goc_rwmutex_unlock(&rw);
    goc_rwmutex_unlock(&rw);
    return 0;
}

GOC_TEST_EXPECT(sync_rwmutex_unlock_of_unlocked_panics, SIGABRT, 0,
                "panic: sync: Unlock of unlocked RWMutex")
{
    return run_main(1, rwmutex_unlock_unlocked_main, NULL);
}

/* ---- once ---------------------------------------------------------- */

typedef struct {
    goc_once once;
    goc_waitgroup wg;
    _Atomic int calls;
    _Atomic int finished;
    _Atomic int early_returns; /* callers that returned before fn did */
    _Atomic int returned;
} once_state;

static void once_fn(void *arg)
{
    once_state *s = arg;
    atomic_fetch_add(&s->calls, 1);
    goc_sleep(5 * GOC_MILLISECOND); /* let the other callers pile up */
    atomic_store(&s->finished, 1);
}

static void once_caller(void *arg)
{
    once_state *s = arg;
    goc_once_do(&s->once, once_fn, s);
    if (!atomic_load(&s->finished))
        atomic_fetch_add(&s->early_returns, 1);
    atomic_fetch_add(&s->returned, 1);
    goc_waitgroup_done(&s->wg);
}

static int once_main(void *arg)
{
    (void)arg;
    once_state s = {.once = GOC_ONCE_INIT};
    spawn_n(&s.wg, 100, once_caller, &s);
    goc_waitgroup_wait(&s.wg);
    ASSERT_EQ(atomic_load(&s.calls), 1);
    ASSERT_EQ(atomic_load(&s.early_returns), 0);
    ASSERT_EQ(atomic_load(&s.returned), 100);
    /* Later calls do nothing. */
    goc_once_do(&s.once, once_fn, &s);
    ASSERT_EQ(atomic_load(&s.calls), 1);
    return 0;
}

GOC_TEST(sync_once_runs_once_among_100_callers_2_procs)
{
    return run_main(2, once_main, NULL);
}

GOC_TEST(sync_once_runs_once_among_100_callers_1_proc)
{
    return run_main(1, once_main, NULL);
}

static void count_call(void *arg)
{
    (*(int *)arg)++;
}

GOC_TEST(sync_once_plain_thread)
{
    static goc_once once = GOC_ONCE_INIT;
    int n = 0;
    goc_once_do(&once, count_call, &n);
    goc_once_do(&once, count_call, &n);
    ASSERT_EQ(n, 1);
    return 0;
}

/* ---- cond ---------------------------------------------------------- */

typedef struct {
    goc_mutex mu;
    goc_cond cond;
    goc_waitgroup wg;
    int waiting; /* mu */
    int go;      /* mu: how many waiters may proceed */
    int woken;   /* mu */
} cond_state;

static void cond_waiter(void *arg)
{
    cond_state *s = arg;
    goc_mutex_lock(&s->mu);
    s->waiting++;
    while (s->go == 0)
        goc_cond_wait(&s->cond);
    s->go--;
    s->woken++;
    goc_mutex_unlock(&s->mu);
    goc_waitgroup_done(&s->wg);
}

/* Wait until n goroutines are inside goc_cond_wait. Having incremented
 * `waiting` under mu, a waiter holds its ticket once we get mu back. */
static void wait_for_waiters(cond_state *s, int n)
{
    for (;;) {
        goc_mutex_lock(&s->mu);
        int w = s->waiting;
        goc_mutex_unlock(&s->mu);
        if (w == n)
            return;
        goc_sleep(100 * GOC_MICROSECOND);
    }
}

static int cond_woken(cond_state *s)
{
    goc_mutex_lock(&s->mu);
    int w = s->woken;
    goc_mutex_unlock(&s->mu);
    return w;
}

static int cond_broadcast_main(void *arg)
{
    (void)arg;
    cond_state s = {.mu = GOC_MUTEX_INIT};
    goc_cond_init(&s.cond, &s.mu);
    spawn_n(&s.wg, 100, cond_waiter, &s);
    wait_for_waiters(&s, 100);
    goc_sleep(2 * GOC_MILLISECOND);
    ASSERT_EQ(cond_woken(&s), 0);
    goc_mutex_lock(&s.mu);
    s.go = 100;
    goc_cond_broadcast(&s.cond);
    goc_mutex_unlock(&s.mu);
    goc_waitgroup_wait(&s.wg);
    ASSERT_EQ(s.woken, 100);
    return 0;
}

GOC_TEST(sync_cond_broadcast_wakes_all_100_waiters)
{
    return run_main(2, cond_broadcast_main, NULL);
}

/* Signal wakes exactly one waiter. The waiters' loop would put a waiter
 * woken without permission back to sleep, so count wake-ups directly:
 * here go is given one at a time and each signal must wake one. */
static void cond_counting_waiter(void *arg)
{
    cond_state *s = arg;
    goc_mutex_lock(&s->mu);
    s->waiting++;
    goc_cond_wait(&s->cond); /* no loop on purpose: count raw wake-ups */
    s->woken++;
    goc_mutex_unlock(&s->mu);
    goc_waitgroup_done(&s->wg);
}

static int cond_signal_main(void *arg)
{
    (void)arg;
    cond_state s = {.mu = GOC_MUTEX_INIT};
    goc_cond_init(&s.cond, &s.mu);
    spawn_n(&s.wg, 100, cond_counting_waiter, &s);
    wait_for_waiters(&s, 100);
    for (int i = 1; i <= 4; i++) {
        if (i == 4) { /* a signal with the lock held works the same */
            goc_mutex_lock(&s.mu);
            goc_cond_signal(&s.cond);
            goc_mutex_unlock(&s.mu);
        } else {
            goc_cond_signal(&s.cond);
        }
        /* One waiter wakes (however slow the machine)... */
        while (cond_woken(&s) < i)
            goc_sleep(100 * GOC_MICROSECOND);
        /* ... and no other. */
        goc_sleep(5 * GOC_MILLISECOND);
        ASSERT_EQ(cond_woken(&s), i);
    }
    goc_cond_broadcast(&s.cond);
    goc_waitgroup_wait(&s.wg);
    ASSERT_EQ(s.woken, 100);
    /* Nobody waits: signals and broadcasts are lost, harmlessly. */
    goc_cond_signal(&s.cond);
    goc_cond_broadcast(&s.cond);
    return 0;
}

GOC_TEST(sync_cond_signal_wakes_exactly_one)
{
    return run_main(2, cond_signal_main, NULL);
}

/* Signals come in FIFO order of waiting. */
typedef struct {
    goc_mutex mu;
    goc_cond cond;
    goc_waitgroup wg;
    int next_to_wait; /* mu */
    int order[8];     /* mu: wake order */
    int nwoken;       /* mu */
} fifo_state;

typedef struct {
    fifo_state *s;
    int id;
} fifo_arg;

static void fifo_waiter(void *arg)
{
    fifo_arg *a = arg;
    fifo_state *s = a->s;
    goc_mutex_lock(&s->mu);
    while (s->next_to_wait != a->id) { /* queue in id order */
        goc_mutex_unlock(&s->mu);
        goc_yield();
        goc_mutex_lock(&s->mu);
    }
    s->next_to_wait++;
    goc_cond_wait(&s->cond);
    s->order[s->nwoken++] = a->id;
    goc_mutex_unlock(&s->mu);
    goc_waitgroup_done(&s->wg);
}

static int cond_fifo_main(void *arg)
{
    (void)arg;
    fifo_state s = {.mu = GOC_MUTEX_INIT};
    fifo_arg args[8];
    goc_cond_init(&s.cond, &s.mu);
    goc_waitgroup_add(&s.wg, 8);
    for (int i = 0; i < 8; i++) {
        args[i] = (fifo_arg){&s, i};
        ASSERT_EQ(goc_go(fifo_waiter, &args[i]), 0);
    }
    for (;;) {
        goc_mutex_lock(&s.mu);
        int n = s.next_to_wait;
        goc_mutex_unlock(&s.mu);
        if (n == 8)
            break;
        goc_sleep(100 * GOC_MICROSECOND);
    }
    for (int i = 0; i < 8; i++) {
        goc_cond_signal(&s.cond);
        for (;;) { /* one at a time, so that the order is the queue's */
            goc_mutex_lock(&s.mu);
            int n = s.nwoken;
            goc_mutex_unlock(&s.mu);
            if (n == i + 1)
                break;
            goc_sleep(50 * GOC_MICROSECOND);
        }
    }
    goc_waitgroup_wait(&s.wg);
    for (int i = 0; i < 8; i++)
        ASSERT_EQ(s.order[i], i);
    return 0;
}

GOC_TEST(sync_cond_signal_fifo_order)
{
    return run_main(2, cond_fifo_main, NULL);
}

/* A cond bound to the read side of an RWMutex (the book's data file). */
typedef struct {
    goc_rwmutex rw;
    goc_cond cond;
    goc_waitgroup wg;
    int value; /* written under the write lock */
} rcond_state;

static void rcond_reader(void *arg)
{
    rcond_state *s = arg;
    goc_rwmutex_rlock(&s->rw);
    while (s->value == 0)
        goc_cond_wait(&s->cond);
    ASSERT_EQ(s->value, 42);
    goc_rwmutex_runlock(&s->rw);
    goc_waitgroup_done(&s->wg);
}

static int cond_rlocker_main(void *arg)
{
    (void)arg;
    rcond_state s = {0};
    goc_cond_init_rlocker(&s.cond, &s.rw);
    spawn_n(&s.wg, 5, rcond_reader, &s);
    goc_sleep(2 * GOC_MILLISECOND);
    goc_rwmutex_lock(&s.rw);
    s.value = 42;
    goc_rwmutex_unlock(&s.rw);
    goc_cond_broadcast(&s.cond);
    goc_waitgroup_wait(&s.wg);
    ASSERT_EQ(atomic_load(&s.rw.reader_count), 0);
    return 0;
}

GOC_TEST(sync_cond_with_rwmutex_read_locker)
{
    return run_main(2, cond_rlocker_main, NULL);
}

/* Producer/consumer over a cond with many rounds: no lost wake-up. */
typedef struct {
    goc_mutex mu;
    goc_cond not_empty, not_full;
    goc_waitgroup wg;
    int buf[4], n, head; /* mu */
    long items;
    long sum; /* mu */
} pc_state;

static void pc_producer(void *arg)
{
    pc_state *s = arg;
    for (long i = 1; i <= s->items; i++) {
        goc_mutex_lock(&s->mu);
        while (s->n == 4)
            goc_cond_wait(&s->not_full);
        s->buf[(s->head + s->n++) % 4] = (int)i;
        goc_cond_signal(&s->not_empty);
        goc_mutex_unlock(&s->mu);
    }
    goc_waitgroup_done(&s->wg);
}

static void pc_consumer(void *arg)
{
    pc_state *s = arg;
    for (long i = 0; i < s->items; i++) {
        goc_mutex_lock(&s->mu);
        while (s->n == 0)
            goc_cond_wait(&s->not_empty);
        s->sum += s->buf[s->head];
        s->head = (s->head + 1) % 4;
        s->n--;
        goc_cond_signal(&s->not_full);
        goc_mutex_unlock(&s->mu);
    }
    goc_waitgroup_done(&s->wg);
}

static int cond_pc_main(void *arg)
{
    (void)arg;
    pc_state *s = calloc(1, sizeof *s);
    goc_cond_init(&s->not_empty, &s->mu);
    goc_cond_init(&s->not_full, &s->mu);
    s->items = goc_test_iters(20000, 1000);
    spawn_n(&s->wg, 3, pc_producer, s);
    spawn_n(&s->wg, 3, pc_consumer, s);
    goc_waitgroup_wait(&s->wg);
    ASSERT_EQ(s->sum, 3 * s->items * (s->items + 1) / 2);
    free(s);
    return 0;
}

GOC_TEST(sync_cond_producer_consumer_2_procs)
{
    return run_main(2, cond_pc_main, NULL);
}

static int cond_unbound_main(void *arg)
{
    (void)arg;
    goc_cond c = {0};
    goc_cond_wait(&c);
    return 0;
}

GOC_TEST_EXPECT(sync_cond_wait_without_lock_is_fatal, 0, 2, "goc_cond_wait")
{
    return run_main(1, cond_unbound_main, NULL);
}

GOC_TEST_EXPECT(sync_cond_wait_on_plain_thread_is_fatal, 0, 2,
                "goc_cond_wait called outside goc_main")
{
    static goc_mutex mu;
    static goc_cond c = GOC_COND_INIT(&mu);
    goc_mutex_lock(&mu);
    goc_cond_wait(&c);
    return 0;
}

/* ---- waitgroup ----------------------------------------------------- */

typedef struct {
    goc_waitgroup wg;
    _Atomic long done;
} wg_state;

static void wg_worker(void *arg)
{
    wg_state *s = arg;
    atomic_fetch_add(&s->done, 1);
    goc_waitgroup_done(&s->wg);
}

static int waitgroup_fanout_main(void *arg)
{
    (void)arg;
    wg_state s = {.wg = GOC_WAITGROUP_INIT};
    for (int round = 0; round < 3; round++) { /* reuse after wait */
        atomic_store(&s.done, 0);
        spawn_n(&s.wg, 1000, wg_worker, &s);
        goc_waitgroup_wait(&s.wg);
        ASSERT_EQ(atomic_load(&s.done), 1000);
        ASSERT_UEQ(atomic_load(&s.wg.state), 0);
    }
    goc_waitgroup_wait(&s.wg); /* counter 0: returns at once */
    return 0;
}

GOC_TEST(sync_waitgroup_fan_out_1000)
{
    return run_main(2, waitgroup_fanout_main, NULL);
}

/* Several goroutines wait on one group; all are released. */
typedef struct {
    goc_waitgroup work, waiters;
    _Atomic int released;
} multi_wait_state;

static void multi_waiter(void *arg)
{
    multi_wait_state *s = arg;
    goc_waitgroup_wait(&s->work);
    atomic_fetch_add(&s->released, 1);
    goc_waitgroup_done(&s->waiters);
}

static int waitgroup_many_waiters_main(void *arg)
{
    (void)arg;
    multi_wait_state s = {0};
    goc_waitgroup_add(&s.work, 1);
    spawn_n(&s.waiters, 20, multi_waiter, &s);
    goc_sleep(2 * GOC_MILLISECOND);
    ASSERT_EQ(atomic_load(&s.released), 0);
    goc_waitgroup_done(&s.work);
    goc_waitgroup_wait(&s.waiters);
    ASSERT_EQ(atomic_load(&s.released), 20);
    return 0;
}

GOC_TEST(sync_waitgroup_releases_every_waiter)
{
    return run_main(2, waitgroup_many_waiters_main, NULL);
}

/*
 * Done from plain threads; wait in a goroutine. The deadlock detector
 * cannot know that a plain thread will call done (see goc/sync.h), so a
 * ticker goroutine keeps a timer pending meanwhile.
 */
typedef struct {
    goc_waitgroup wg;
    _Atomic bool stop;
    goc_waitgroup ticker_done;
} wg_thread_state;

static void *wg_thread(void *arg)
{
    wg_thread_state *s = arg;
    usleep(2000);
    goc_waitgroup_done(&s->wg);
    return NULL;
}

static void wg_ticker(void *arg)
{
    wg_thread_state *s = arg;
    while (!atomic_load(&s->stop))
        goc_sleep(GOC_MILLISECOND);
    goc_waitgroup_done(&s->ticker_done);
}

static int waitgroup_threads_main(void *arg)
{
    (void)arg;
    wg_thread_state s = {0};
    pthread_t t[4];
    spawn_n(&s.ticker_done, 1, wg_ticker, &s);
    goc_waitgroup_add(&s.wg, 4);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, wg_thread, &s), 0);
    goc_waitgroup_wait(&s.wg);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    atomic_store(&s.stop, true);
    goc_waitgroup_wait(&s.ticker_done);
    return 0;
}

GOC_TEST(sync_waitgroup_done_from_plain_threads)
{
    return run_main(2, waitgroup_threads_main, NULL);
}

static int waitgroup_negative_main(void *arg)
{
    (void)arg;
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    goc_waitgroup_add(&wg, 1);
    goc_waitgroup_done(&wg);
    goc_waitgroup_done(&wg);
    return 0;
}

GOC_TEST_EXPECT(sync_waitgroup_negative_counter_panics, SIGABRT, 0,
                "panic: sync: negative WaitGroup counter")
{
    return run_main(1, waitgroup_negative_main, NULL);
}

/* ---- pool ---------------------------------------------------------- */

typedef struct {
    _Atomic int made;
    _Atomic int freed;
} pool_counts;

typedef struct {
    _Atomic int in_use;
    long payload;
} pool_obj;

static void *pool_new(void *arg)
{
    pool_counts *c = arg;
    atomic_fetch_add(&c->made, 1);
    return calloc(1, sizeof(pool_obj));
}

static pool_counts *free_counts;

static void pool_free(void *x)
{
    atomic_fetch_add(&free_counts->freed, 1);
    free(x);
}

static int pool_same_proc_main(void *arg)
{
    (void)arg;
    pool_counts c = {0};
    goc_pool p;
    goc_pool_init(&p, pool_new, &c);
    void *x = goc_pool_get(&p); /* empty: made */
    ASSERT_EQ(atomic_load(&c.made), 1);
    for (int i = 0; i < 100; i++) {
        goc_pool_put(&p, x);
        void *y = goc_pool_get(&p);
        PTR_EQ(y, x); /* same processor, no park in between */
    }
    ASSERT_EQ(atomic_load(&c.made), 1);
    goc_pool_put(&p, x);
    /* Beyond the private slot, still on this processor. */
    void *objs[10];
    for (int i = 0; i < 10; i++)
        objs[i] = goc_pool_get(&p);
    ASSERT_EQ(atomic_load(&c.made), 10);
    for (int i = 0; i < 10; i++)
        goc_pool_put(&p, objs[i]);
    for (int i = 0; i < 10; i++) {
        void *y = goc_pool_get(&p);
        bool found = false;
        for (int j = 0; j < 10; j++)
            found |= objs[j] == y;
        ASSERT(found);
    }
    ASSERT_EQ(atomic_load(&c.made), 10);
    for (int i = 0; i < 10; i++)
        goc_pool_put(&p, objs[i]);
    goc_pool_put(&p, NULL); /* ignored */
    free_counts = &c;
    goc_pool_destroy(&p, pool_free);
    ASSERT_EQ(atomic_load(&c.freed), 10); /* destroy frees what is cached */
    PTR_EQ(goc_pool_get(&p), NULL);       /* zeroed: no new_fn */
    return 0;
}

GOC_TEST(sync_pool_get_after_put_same_processor)
{
    return run_main(2, pool_same_proc_main, NULL);
}

/* Objects put on one processor are found by gets on the other (stolen)
 * and by plain threads; none is handed out twice at once. */
typedef struct {
    goc_pool pool;
    pool_counts counts;
    goc_waitgroup wg;
    long iters;
    _Atomic long double_use;
} pool_stress_state;

static void pool_worker(void *arg)
{
    pool_stress_state *s = arg;
    pool_obj *held[4];
    for (long i = 0; i < s->iters; i++) {
        int n = 1 + (int)(i % 4);
        for (int k = 0; k < n; k++) {
            held[k] = goc_pool_get(&s->pool);
            if (atomic_exchange(&held[k]->in_use, 1) != 0)
                atomic_fetch_add(&s->double_use, 1);
        }
        if (i % 8 == 0)
            goc_yield();
        for (int k = 0; k < n; k++) {
            atomic_store(&held[k]->in_use, 0);
            goc_pool_put(&s->pool, held[k]);
        }
    }
    goc_waitgroup_done(&s->wg);
}

static void *pool_thread(void *arg)
{
    pool_stress_state *s = arg;
    for (long i = 0; i < s->iters; i++) {
        pool_obj *o = goc_pool_get(&s->pool);
        if (atomic_exchange(&o->in_use, 1) != 0)
            atomic_fetch_add(&s->double_use, 1);
        atomic_store(&o->in_use, 0);
        goc_pool_put(&s->pool, o);
    }
    return NULL;
}

static int pool_stress_main(void *arg)
{
    (void)arg;
    pool_stress_state *s = calloc(1, sizeof *s);
    goc_pool_init(&s->pool, pool_new, &s->counts);
    s->iters = goc_test_iters(20000, 1000);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, pool_thread, s), 0);
    spawn_n(&s->wg, 8, pool_worker, s);
    goc_waitgroup_wait(&s->wg);
    pthread_join(t, NULL);
    ASSERT_EQ(atomic_load(&s->double_use), 0);
    /* At most 8 * 4 + 1 objects were ever out at once. */
    ASSERT_LE(atomic_load(&s->counts.made), 8 * 4 + 1);
    free_counts = &s->counts;
    goc_pool_destroy(&s->pool, pool_free);
    ASSERT_EQ(atomic_load(&s->counts.freed), atomic_load(&s->counts.made));
    free(s);
    return 0;
}

GOC_TEST(sync_pool_concurrent_get_put_2_procs_and_a_thread)
{
    return run_main(2, pool_stress_main, NULL);
}

/* A put on one processor is found by a get that runs elsewhere. */
static void pool_putter(void *arg)
{
    pool_stress_state *s = arg;
    for (int i = 0; i < 5; i++)
        goc_pool_put(&s->pool, calloc(1, sizeof(pool_obj)));
    goc_waitgroup_done(&s->wg);
}

static int pool_steal_main(void *arg)
{
    (void)arg;
    pool_stress_state *s = calloc(1, sizeof *s);
    goc_pool_init(&s->pool, pool_new, &s->counts);
    spawn_n(&s->wg, 1, pool_putter, s);
    goc_waitgroup_wait(&s->wg);
    /* Wherever the putter ran, 4 of its 5 objects are in a shared cache
     * (one may sit in its processor's private slot): a get finds them. */
    void *got[4];
    for (int i = 0; i < 4; i++) {
        got[i] = goc_pool_get(&s->pool);
        PTR_NE(got[i], NULL);
    }
    ASSERT_EQ(atomic_load(&s->counts.made), 0);
    free_counts = &s->counts;
    goc_pool_destroy(&s->pool, pool_free);
    ASSERT_EQ(atomic_load(&s->counts.freed), 1);
    for (int i = 0; i < 4; i++)
        free(got[i]);
    free(s);
    return 0;
}

GOC_TEST(sync_pool_get_steals_from_other_caches)
{
    return run_main(2, pool_steal_main, NULL);
}

GOC_TEST(sync_pool_plain_thread_without_runtime)
{
    static pool_counts c;
    goc_pool p = GOC_POOL_INIT(pool_new, &c);
    void *x = goc_pool_get(&p);
    goc_pool_put(&p, x);
    PTR_EQ(goc_pool_get(&p), x);
    goc_pool_put(&p, x);
    free_counts = &c;
    goc_pool_destroy(&p, pool_free);
    ASSERT_EQ(atomic_load(&c.freed), 1);
    return 0;
}
