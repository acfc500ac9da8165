/*
 * test_loadgen.c - the load generator core (src/loadgen/loadgen.c) against
 * in-process callers: parameter checking, the life cycle, exact
 * accounting (injected latency, errors and panics-as-errors, stops at
 * random moments, with and without interrupt, a receiver that stops the
 * run itself), the open-model schedule (a stall shows in the latency from
 * the due time, not in the service time) and the progress counters.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc_test.h"
#include "loadgen/loadgen_internal.h"

#define MS GOC_MILLISECOND
#define US GOC_MICROSECOND
#define SEC GOC_SECOND

static int run_main(int procs, int (*fn)(void *), void *arg)
{
    goc_maxprocs(procs);
    return goc_main(fn, arg);
}

static uint64_t mix(uint64_t z) /* splitmix64's finalizer */
{
    z += 0x9E3779B97F4A7C15u;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Sanitizer builds run many times slower: timing checks loosen there. */
static bool slow_build(void)
{
    return goc_test_iter_div() > 1;
}

/* Waits (up to 2 s) until only the calling goroutine is left. */
static void expect_alone(void)
{
    for (int i = 0; i < 2000 && goc_num_goroutine() > 1; i++)
        goc_sleep(MS);
    ASSERT_EQ(goc_num_goroutine(), 1);
}

/* ---- a fake callee ---------------------------------------------------- */

/* What the fake does with call seq: a mix decided by a hash of the seq
 * and the seed, so that each run differs and results can be predicted. */
enum {
    FK_OK,
    FK_SLOW,     /* sleeps 2 ms, then ok */
    FK_CALL_ERR, /* -ECONNREFUSED: 2001 */
    FK_TIMEOUT,  /* sleeps past its deadline: 1001 */
    FK_BAD_RESP, /* check_resp: 2002 */
    FK_CALEE,    /* check_resp: 2003 */
    FK_BUILD,    /* build_req fails: 3001 (the book's panic) */
    FK_PANIC,    /* check_resp says 3001 */
    FK_OTHER,    /* check_resp returns a callee code, 7 */
    FK_N
};

typedef struct fake {
    uint64_t seed;
    bool mixed;         /* use the mix; else every call is FK_OK */
    int64_t base_delay; /* every call sleeps this long first */
    int64_t stall_seq;  /* this call sleeps stall_len (-1: none) */
    int64_t stall_len;
    int64_t open_delay;       /* session_open sleeps this long */
    _Atomic int64_t built;    /* build_req calls */
    _Atomic int64_t sessions; /* live sessions */
    _Atomic int64_t interrupts;
} fake;

typedef struct fake_session {
    goc_chan *intr; /* closed by interrupt */
    _Atomic bool interrupted;
    char buf[64];
} fake_session;

static int fake_kind(const fake *f, int64_t seq)
{
    if (!f->mixed)
        return FK_OK;
    uint64_t h = mix(f->seed ^ (uint64_t)seq) % 100;
    if (h < 60)
        return FK_OK;
    if (h < 70)
        return FK_SLOW;
    return FK_CALL_ERR + (int)(h - 70) % (FK_N - FK_CALL_ERR);
}

static int fake_open(void *user, void **session)
{
    fake *f = user;
    if (f->open_delay)
        goc_sleep(f->open_delay);
    fake_session *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->intr = goc_chan_make(0, 0);
    atomic_fetch_add(&f->sessions, 1);
    *session = s;
    return 0;
}

static void fake_close(void *user, void *session)
{
    fake *f = user;
    fake_session *s = session;
    goc_chan_free(s->intr);
    free(s);
    atomic_fetch_sub(&f->sessions, 1);
}

static void fake_interrupt(void *user, void *session)
{
    fake *f = user;
    fake_session *s = session;
    if (!atomic_exchange(&s->interrupted, true)) {
        atomic_fetch_add(&f->interrupts, 1);
        goc_chan_close(s->intr);
    }
}

static int fake_build(void *user, void *session, goc_call_req *req)
{
    fake *f = user;
    fake_session *s = session;
    atomic_fetch_add(&f->built, 1);
    if (fake_kind(f, req->seq) == FK_BUILD)
        return -EPROTO;
    req->id = req->seq * 10 + 1;
    int n = snprintf(s->buf, sizeof s->buf, "req %lld", (long long)req->seq);
    req->data = s->buf;
    req->len = (size_t)n;
    return 0;
}

/* Sleeps d, or until interrupted (-ECANCELED). */
static int fake_sleep(fake_session *s, int64_t d)
{
    if (d <= 0)
        return 0;
    goc_timer *t = goc_timer_new(d);
    ASSERT(t != NULL);
    goc_case cs[2] = {GOC_CASE_RECV(goc_timer_chan(t), NULL),
                      GOC_CASE_RECV(s->intr, NULL)};
    int i = goc_select(cs, 2, false);
    goc_timer_free(t);
    return i == 0 ? 0 : -ECANCELED;
}

static int fake_call(void *user, void *session, const goc_call_req *req,
                     goc_call_resp *resp, int64_t deadline)
{
    fake *f = user;
    fake_session *s = session;
    if (atomic_load(&s->interrupted))
        return -ECANCELED;
    int64_t d = f->base_delay;
    int kind = fake_kind(f, req->seq);
    if (kind == FK_SLOW)
        d += 2 * MS;
    if (req->seq == f->stall_seq)
        d += f->stall_len;
    if (kind == FK_TIMEOUT) {
        int rc = fake_sleep(s, deadline - goc_nanotime());
        return rc < 0 ? rc : -ETIMEDOUT;
    }
    int64_t left = deadline - goc_nanotime();
    if (d > left) { /* honour the deadline, as a real caller must */
        int rc = fake_sleep(s, left);
        return rc < 0 ? rc : -ETIMEDOUT;
    }
    int rc = fake_sleep(s, d);
    if (rc < 0)
        return rc;
    if (kind == FK_CALL_ERR)
        return -ECONNREFUSED;
    resp->data = req->data; /* an echo */
    resp->len = req->len;
    return 0;
}

static int fake_check(void *user, void *session, const goc_call_req *req,
                      const goc_call_resp *resp, char *msg, size_t msglen)
{
    fake *f = user;
    (void)session;
    ASSERT_EQ(resp->id, req->id);
    ASSERT_EQ(resp->err, 0);
    ASSERT(resp->len == req->len && !memcmp(resp->data, req->data, req->len));
    switch (fake_kind(f, req->seq)) {
    case FK_BAD_RESP:
        snprintf(msg, msglen, "bad response");
        return GOC_RET_ERROR_RESPONSE;
    case FK_CALEE:
        snprintf(msg, msglen, "callee error");
        return GOC_RET_ERROR_CALEE;
    case FK_PANIC:
        snprintf(msg, msglen, "panic");
        return GOC_RET_FATAL_CALL;
    case FK_OTHER:
        return 7;
    default:
        snprintf(msg, msglen, "Success.");
        return GOC_RET_SUCCESS;
    }
}

static goc_caller fake_caller(fake *f, bool with_interrupt)
{
    goc_caller c = {.user = f,
                    .session_open = fake_open,
                    .session_close = fake_close,
                    .build_req = fake_build,
                    .call = fake_call,
                    .check_resp = fake_check,
                    .interrupt = with_interrupt ? fake_interrupt : NULL};
    return c;
}

/* The code the fake's call seq must end with, or -1 when it depends on
 * timing (a stop may cut it off). */
static int fake_expected(const fake *f, int64_t seq)
{
    switch (fake_kind(f, seq)) {
    case FK_CALL_ERR:
        return GOC_RET_ERROR_CALL;
    case FK_TIMEOUT:
        return GOC_RET_WARNING_CALL_TIMEOUT;
    case FK_BAD_RESP:
        return GOC_RET_ERROR_RESPONSE;
    case FK_CALEE:
        return GOC_RET_ERROR_CALEE;
    case FK_BUILD:
    case FK_PANIC:
        return GOC_RET_FATAL_CALL;
    case FK_OTHER:
        return 7;
    default:
        return GOC_RET_SUCCESS;
    }
}

/* ---- a result receiver ---------------------------------------------- */

typedef struct sink {
    goc_chan *ch;
    goc_waitgroup wg;
    int64_t n;
    int64_t codes[8]; /* success, 1001, 2001, 2002, 2003, 3001, other, 1002 */
    uint8_t *seen;    /* per seq */
    int64_t nseen;
    int64_t max_seq;
    int64_t t0; /* due of seq 0, learnt from the results */
    int64_t lps;
    bool check_due;
    int64_t bad_due, dup, bad_order;
    /* Stop the generator from here after this many results (0: never). */
    goc_loadgen *stop_gen;
    int64_t stop_after;
    bool stopped;
    /* Receive slowly: sleep this long per result. */
    int64_t slow;
} sink;

static int code_slot(int code)
{
    switch (code) {
    case GOC_RET_SUCCESS:
        return 0;
    case GOC_RET_WARNING_CALL_TIMEOUT:
        return 1;
    case GOC_RET_ERROR_CALL:
        return 2;
    case GOC_RET_ERROR_RESPONSE:
        return 3;
    case GOC_RET_ERROR_CALEE:
        return 4;
    case GOC_RET_FATAL_CALL:
        return 5;
    case GOC_RET_WARNING_CALL_CANCELED:
        return 7;
    default:
        return 6;
    }
}

static void sink_main(void *arg)
{
    sink *s = arg;
    goc_call_result r;
    while (goc_chan_recv(s->ch, &r)) {
        s->n++;
        s->codes[code_slot(r.code)]++;
        if (r.seq < 0 || r.seq >= s->nseen || s->seen[r.seq]++)
            s->dup++;
        if (r.start < r.due || r.latency < r.elapse ||
            r.latency != r.elapse + (r.start - r.due))
            s->bad_order++;
        if (s->check_due) {
            if (r.seq == 0 || s->t0 == 0)
                s->t0 = r.due - goc__loadgen_due_offset(r.seq, s->lps);
            if (r.due != s->t0 + goc__loadgen_due_offset(r.seq, s->lps))
                s->bad_due++;
        }
        if (s->stop_gen && s->n == s->stop_after && !s->stopped) {
            s->stopped = true;
            /* The test's own timed stop may have come first: then the run
             * is no longer STARTED, and only then may this one fail. */
            if (!goc_loadgen_stop(s->stop_gen))
                ASSERT(goc_loadgen_status(s->stop_gen) != GOC_LOADGEN_STARTED);
        }
        if (s->slow)
            goc_sleep(s->slow);
    }
    goc_waitgroup_done(&s->wg);
}

static void sink_start(sink *s, goc_chan *ch, int64_t nseq, int64_t lps)
{
    memset(s, 0, sizeof *s);
    s->ch = ch;
    s->nseen = nseq;
    s->seen = calloc((size_t)nseq, 1);
    s->lps = lps;
    s->check_due = true;
    ASSERT(s->seen != NULL);
    goc_waitgroup_add(&s->wg, 1);
    ASSERT_EQ(goc_go(sink_main, s), 0);
}

static void sink_end(sink *s)
{
    goc_waitgroup_wait(&s->wg);
    free(s->seen);
    s->seen = NULL;
}

/* Every issued call accounted for exactly once, in the report and on the
 * channel (when s is not NULL). */
static void check_accounting(const struct goc_loadgen_report *r, const sink *s)
{
    ASSERT_EQ(r->status, GOC_LOADGEN_STOPPED);
    ASSERT_LE(r->issued, r->planned);
    ASSERT_EQ(r->issued + r->not_issued, r->planned);
    ASSERT_LE(r->late, r->issued);
    ASSERT_LE(r->late_no_slot, r->late);
    ASSERT_EQ(r->success + r->timeouts + r->call_errors + r->response_errors +
                  r->callee_errors + r->fatal_calls + r->other_codes +
                  r->canceled,
              r->issued);
    ASSERT_UEQ(r->latency.count, r->issued - r->canceled);
    ASSERT_UEQ(r->service.count, r->issued - r->canceled);
    ASSERT_LE(r->peak_in_flight, r->max_in_flight);
    if (r->latency.count) {
        ASSERT_LE(r->latency.p50, r->latency.p90);
        ASSERT_LE(r->latency.p90, r->latency.p99);
        ASSERT_LE(r->latency.p99, r->latency.p999);
        ASSERT_LE(r->latency.p999, r->latency.p9999);
        ASSERT_LE(r->latency.p9999, r->latency.max);
        ASSERT_GE(r->latency.max, r->service.max);
    }
    if (!s)
        return;
    ASSERT_EQ(s->n, r->issued);
    ASSERT_EQ(s->dup, 0);
    ASSERT_EQ(s->bad_order, 0);
    ASSERT_EQ(s->bad_due, 0);
    ASSERT_EQ(s->codes[0], r->success);
    ASSERT_EQ(s->codes[1], r->timeouts);
    ASSERT_EQ(s->codes[2], r->call_errors);
    ASSERT_EQ(s->codes[3], r->response_errors);
    ASSERT_EQ(s->codes[4], r->callee_errors);
    ASSERT_EQ(s->codes[5], r->fatal_calls);
    ASSERT_EQ(s->codes[6], r->other_codes);
    ASSERT_EQ(s->codes[7], r->canceled);
}

/* ---- parameters ------------------------------------------------------- */

static int t_params(void *arg)
{
    (void)arg;
    fake f = {.stall_seq = -1};
    goc_caller c = fake_caller(&f, false);
    goc_caller nocall = c;
    nocall.call = NULL;
    goc_loadgen *g = (goc_loadgen *)&f;
    char err[512];

    goc_loadgen_params p = {0};
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), -EINVAL);
    ASSERT(g == NULL);
    ASSERT(strstr(err, "caller is NULL"));
    ASSERT(strstr(err, "timeout must be > 0 (got 0)"));
    ASSERT(strstr(err, "lps must be > 0 (got 0)"));
    ASSERT(strstr(err, "duration must be > 0 (got 0)"));
    ASSERT(!strstr(err, "max_in_flight"));

    p = (goc_loadgen_params){.caller = &nocall,
                             .timeout = -5,
                             .lps = 2000000000,
                             .duration = SEC,
                             .max_in_flight = -1};
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "caller->call is NULL"));
    ASSERT(strstr(err, "timeout must be > 0 (got -5)"));
    ASSERT(strstr(err, "lps must be at most 1000000000 (got 2000000000)"));
    ASSERT(strstr(err, "max_in_flight must be >= 0 (got -1)"));
    ASSERT(!strstr(err, "duration"));

    p = (goc_loadgen_params){.caller = &c,
                             .timeout = MS,
                             .lps = 1000000000,
                             .duration = INT64_MAX,
                             .max_in_flight = 2000000};
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "duration * lps is too large"));
    ASSERT(strstr(err, "max_in_flight must be at most 1000000"));
    /* A short buffer is cut, never overrun; NULL is accepted. */
    char tiny[8];
    ASSERT_EQ(goc_loadgen_new(&g, &p, tiny, sizeof tiny), -EINVAL);
    ASSERT_EQ(strlen(tiny), 7);
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), -EINVAL);
    ASSERT_EQ(goc_loadgen_new(&g, NULL, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "params is NULL"));
    ASSERT_EQ(goc_loadgen_new(NULL, &p, err, sizeof err), -EINVAL);

    /* Valid: the book's default concurrency, timeout / interval + 1. */
    p = (goc_loadgen_params){
        .caller = &c, .timeout = 50 * MS, .lps = 1000, .duration = 10 * MS};
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), 0);
    ASSERT_STR_EQ(err, "");
    ASSERT_EQ(goc_loadgen_status(g), GOC_LOADGEN_ORIGINAL);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    ASSERT_EQ(r.max_in_flight, 51);
    ASSERT_EQ(r.planned, 10);
    /* A busy machine may start some (even all) after the 10 ms end. */
    ASSERT_EQ(r.issued + r.not_issued, 10);
    ASSERT_EQ(r.success, r.issued);
    goc_loadgen_free(g);

    /* The arithmetic of the schedule. */
    ASSERT_EQ(goc__loadgen_planned(10 * SEC, 1000), 10000);
    ASSERT_EQ(goc__loadgen_planned(SEC + 1, 1000), 1001);
    ASSERT_EQ(goc__loadgen_planned(1, 1), 1);
    ASSERT_EQ(goc__loadgen_planned(SEC, 3), 3);
    ASSERT_EQ(goc__loadgen_due_offset(1, 3), 333333333);
    ASSERT_EQ(goc__loadgen_due_offset(3, 3), SEC);
    ASSERT_EQ(goc__loadgen_due_offset(INT64_C(4611686018427387904), 1000000000),
              INT64_C(4611686018427387904));
    ASSERT_STR_EQ(goc_ret_code_plain(GOC_RET_ERROR_CALEE), "Callee Error");
    ASSERT_STR_EQ(goc_ret_code_plain(42), "Unknown result code");
    ASSERT_STR_EQ(goc_loadgen_status_name(GOC_LOADGEN_STOPPING), "stopping");
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_params)
{
    return run_main(2, t_params, NULL);
}

/* ---- life cycle ------------------------------------------------------- */

static int t_lifecycle(void *arg)
{
    (void)arg;
    fake f = {.stall_seq = -1, .base_delay = 100 * US};
    goc_caller c = fake_caller(&f, true);
    /* The timeout is a hang guard: 50 ms timed a 100 us call out once on a
     * loaded machine. */
    goc_loadgen_params p = {
        .caller = &c, .timeout = 2 * SEC, .lps = 2000, .duration = 30 * SEC};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    struct goc_loadgen_report r;
    struct goc_loadgen_progress pr;

    /* Nothing before the first start. */
    ASSERT(!goc_loadgen_stop(g));
    ASSERT_EQ(goc_loadgen_status(g), GOC_LOADGEN_ORIGINAL);
    ASSERT_EQ(goc_loadgen_report(g, &r), -ESRCH);
    ASSERT_EQ(goc_loadgen_progress(g, &pr), -ESRCH);
    ASSERT(goc_loadgen_done(g) == NULL);
    goc_loadgen_wait(g); /* returns at once */
    ASSERT_EQ(goc_loadgen_call_count(g), 0);

    for (int round = 0; round < 3; round++) {
        ASSERT(goc_loadgen_start(g));
        ASSERT_EQ(goc_loadgen_status(g), GOC_LOADGEN_STARTED);
        ASSERT(!goc_loadgen_start(g)); /* start twice */
        ASSERT_EQ(goc_loadgen_set_result_chan(g, NULL), -EBUSY);
        ASSERT_EQ(goc_loadgen_report(g, &r), -EBUSY);
        for (int i = 0; i < 5000 && goc_loadgen_call_count(g) <= 10; i++)
            goc_sleep(MS);
        ASSERT_GT(goc_loadgen_call_count(g), 10);
        ASSERT_EQ(goc_loadgen_progress(g, &pr), 0);
        ASSERT_EQ(pr.status, GOC_LOADGEN_STARTED);
        ASSERT_GT(pr.issued, 10);
        ASSERT_GE(pr.issued, pr.completed);
        ASSERT(goc_loadgen_stop(g));
        ASSERT_EQ(goc_loadgen_status(g), GOC_LOADGEN_STOPPED);
        ASSERT(!goc_loadgen_stop(g)); /* stop twice */
        ASSERT_EQ(goc_loadgen_report(g, &r), 0);
        check_accounting(&r, NULL);
        ASSERT(r.stopped_early);
        ASSERT_EQ(r.issued, goc_loadgen_call_count(g));
        ASSERT_LT(r.issued, r.planned);
        ASSERT_EQ(r.call_errors + r.response_errors + r.callee_errors +
                      r.fatal_calls + r.other_codes,
                  0);
        if (!slow_build())
            ASSERT_EQ(r.timeouts, 0);
        /* the done channel is closed */
        goc_case cs = GOC_CASE_RECV(goc_loadgen_done(g), NULL);
        ASSERT_EQ(goc_select(&cs, 1, true), 0);
        ASSERT(!cs.ok);
    }
    ASSERT_GT(atomic_load(&f.interrupts), 0);

    /* A result channel is closed by each run: a restart needs a new one. */
    goc_chan *ch = goc_chan_make(sizeof(goc_call_result), 16);
    ASSERT_EQ(goc_loadgen_set_result_chan(g, ch), 0);
    sink s;
    sink_start(&s, ch, goc__loadgen_planned(p.duration, p.lps), p.lps);
    ASSERT(goc_loadgen_start(g));
    goc_sleep(20 * MS);
    ASSERT(goc_loadgen_stop(g));
    sink_end(&s);
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, &s);
    ASSERT(!goc_loadgen_start(g)); /* ch was closed */
    ASSERT_EQ(goc_loadgen_status(g), GOC_LOADGEN_STOPPED);
    goc_chan_free(ch);
    ch = goc_chan_make(sizeof(goc_call_result), 0);
    ASSERT_EQ(goc_loadgen_set_result_chan(g, ch), 0);
    sink_start(&s, ch, goc__loadgen_planned(p.duration, p.lps), p.lps);
    ASSERT(goc_loadgen_start(g));
    /* Some calls issued (a loaded machine may issue none in 20 ms)... */
    for (int i = 0; i < 5000 && goc_loadgen_call_count(g) == 0; i++)
        goc_sleep(MS);
    /* ...then free stops the run in progress, and accounts for them. */
    goc_loadgen_free(g);
    sink_end(&s);
    ASSERT_GT(s.n, 0);
    ASSERT_EQ(s.dup, 0);
    goc_chan_free(ch);
    expect_alone();
    ASSERT_EQ(atomic_load(&f.sessions), 0);
    return 0;
}

GOC_TEST(loadgen_lifecycle)
{
    return run_main(2, t_lifecycle, NULL);
}

/* ---- exact accounting ------------------------------------------------- */

/* One run of the fake with the mix; stop after stop_at (0: run to the
 * end); the receiver may be slow or stop the run itself. */
static void accounting_run(uint64_t seed, int64_t lps, int64_t duration,
                           int64_t stop_at, bool intr, int chan_mode,
                           int64_t max_in_flight)
{
    fake f = {.seed = seed,
              .mixed = true,
              .stall_seq = -1,
              .base_delay = (int64_t)(mix(seed) % 300) * US};
    goc_caller c = fake_caller(&f, intr);
    goc_chan *ch = NULL;
    if (chan_mode)
        ch = goc_chan_make(sizeof(goc_call_result), chan_mode == 1 ? 64 : 0);
    goc_loadgen_params p = {.caller = &c,
                            .timeout = 20 * MS,
                            .lps = lps,
                            .duration = duration,
                            .result_ch = ch,
                            .max_in_flight = max_in_flight};
    goc_loadgen *g;
    char err[256];
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), 0);
    int64_t planned = goc__loadgen_planned(duration, lps);
    sink s;
    if (ch) {
        sink_start(&s, ch, planned, lps);
        if (chan_mode == 3) { /* the receiver stops the run */
            s.stop_gen = g;
            s.stop_after = (int64_t)(mix(seed + 1) % (uint64_t)planned) + 1;
            s.slow = 100 * US;
        }
    }
    ASSERT(goc_loadgen_start(g));
    if (stop_at) {
        goc_sleep(stop_at);
        bool stopped = goc_loadgen_stop(g);
        (void)stopped; /* false when the run ended by itself first */
    }
    goc_loadgen_wait(g);
    ASSERT_EQ(goc_loadgen_status(g), GOC_LOADGEN_STOPPED);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    if (ch)
        sink_end(&s);
    check_accounting(&r, ch ? &s : NULL);
    ASSERT_EQ(atomic_load(&f.built), r.issued);
    if (!stop_at && chan_mode != 3) {
        /* All issued unless the machine fell behind past the end. */
        ASSERT_EQ(r.issued + r.not_issued, r.planned);
        ASSERT_EQ(r.canceled, 0);
        ASSERT(!r.stopped_early);
    }
    if (!intr)
        ASSERT_EQ(r.canceled, 0);
    goc_loadgen_free(g);
    goc_chan_free(ch);
    ASSERT_EQ(atomic_load(&f.sessions), 0);
}

static int t_accounting(void *arg)
{
    (void)arg;
    /* Whole runs: every code shows up. */
    accounting_run(1, 2000, 300 * MS, 0, false, 1, 0);
    accounting_run(2, 5000, 200 * MS, 0, true, 2, 0);
    accounting_run(3, 3000, 200 * MS, 0, false, 0, 4);
    /* Stops at random moments. */
    long n = goc_test_iters(24, 4);
    for (long i = 0; i < n; i++) {
        uint64_t seed = mix((uint64_t)i + 100);
        int64_t dur = 100 * MS;
        int64_t stop_at = (int64_t)(seed % 120) * MS + 1;
        accounting_run(seed, 1000 + (int64_t)(seed % 4000), dur, stop_at,
                       i % 2 == 0, (int)(i % 4), i % 3 == 0 ? 2 : 0);
    }
    expect_alone();
    return 0;
}

GOC_TEST_TIMEOUT(loadgen_accounting, 60)
{
    return run_main(2, t_accounting, NULL);
}

/* Per-code counts match what the fake decided, call by call. */
static int t_codes(void *arg)
{
    (void)arg;
    fake f = {.seed = 77, .mixed = true, .stall_seq = -1};
    goc_caller c = fake_caller(&f, false);
    int64_t lps = 4000, dur = 250 * MS;
    goc_chan *ch = goc_chan_make(sizeof(goc_call_result), 8);
    goc_loadgen_params p = {.caller = &c,
                            .timeout = 2 * SEC,
                            .lps = lps,
                            .duration = dur,
                            .result_ch = ch};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    int64_t planned = goc__loadgen_planned(dur, lps);
    ASSERT_EQ(planned, 1000);
    int64_t want[8] = {0};
    for (int64_t k = 0; k < planned; k++)
        want[code_slot(fake_expected(&f, k))]++;
    for (int i = 0; i < 7; i++)
        ASSERT_GT(want[i], 0); /* the mix covers every code */
    sink s;
    sink_start(&s, ch, planned, lps);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    sink_end(&s);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, &s);
    /* The calls issued are a prefix of the plan (a busy machine may not
     * start the last by the end). */
    int64_t got[8] = {0};
    for (int64_t k = 0; k < r.issued; k++)
        got[code_slot(fake_expected(&f, k))]++;
    for (int i = 0; i < 8; i++)
        ASSERT_EQ(s.codes[i], got[i]);
    goc_loadgen_free(g);
    goc_chan_free(ch);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_codes)
{
    return run_main(2, t_codes, NULL);
}

/* A receiver slower than the calls: the generator waits, never drops,
 * and says so. */
static int t_slow_receiver(void *arg)
{
    (void)arg;
    fake f = {.stall_seq = -1};
    goc_caller c = fake_caller(&f, false);
    int64_t lps = 2000, dur = 100 * MS;
    goc_chan *ch = goc_chan_make(sizeof(goc_call_result), 4);
    goc_loadgen_params p = {.caller = &c,
                            .timeout = SEC,
                            .lps = lps,
                            .duration = dur,
                            .result_ch = ch,
                            .max_in_flight = 8};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    sink s;
    sink_start(&s, ch, goc__loadgen_planned(dur, lps), lps);
    s.slow = MS; /* 1,000 results per second at most */
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    sink_end(&s);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, &s);
    /* The receiver takes 1 ms a result: 100 in the 100 ms run at most
     * (and the slots' 8 more); the rest were not issued by the end. */
    ASSERT_LE(r.issued, 120);
    ASSERT_GT(r.issued, 0);
    ASSERT_EQ(r.success, r.issued);
    ASSERT_GT(r.not_issued, 0);
    /* More results than the channel (4) and the slots (8) hold: some
     * waited for the receiver, and waiting workers are busy slots, so
     * later calls started late. A busy machine may issue no more than
     * those 12 in the 100 ms (none was late once). */
    if (r.issued > 12) {
        ASSERT_GT(r.result_waits, 0);
        ASSERT_GT(r.late, 0);
    }
    goc_loadgen_free(g);
    goc_chan_free(ch);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_slow_receiver)
{
    return run_main(2, t_slow_receiver, NULL);
}

/* Issue 20, defect 2: the run ends at start + duration. Two slots, calls
 * of 100 ms, 400 planned over 2 s: before, every planned call was still
 * issued after the end (20 s); now the calls not started by the end are
 * not issued and counted so. */
static int t_ends_at_deadline(void *arg)
{
    (void)arg;
    fake f = {.stall_seq = -1, .base_delay = 100 * MS};
    goc_caller c = fake_caller(&f, false);
    goc_loadgen_params p = {.caller = &c,
                            .timeout = 5 * SEC,
                            .lps = 200,
                            .duration = 2 * SEC,
                            .max_in_flight = 2};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    int64_t t0 = goc_nanotime();
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    int64_t took = goc_nanotime() - t0;
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, NULL);
    ASSERT_EQ(r.planned, 400);
    /* 2 slots x 2 s / 100 ms, give or take a call each. */
    ASSERT_LE(r.issued, 44);
    ASSERT_GE(r.issued, 2);
    ASSERT_EQ(r.not_issued, 400 - r.issued);
    ASSERT_EQ(r.success, r.issued);
    ASSERT(!r.stopped_early);
    /* The end plus one call in flight (100 ms), on a loaded machine. */
    ASSERT_LT(took, 10 * SEC);
    ASSERT_LT(r.elapsed, 10 * SEC);
    /* Late calls found both slots busy (but for those due before the
     * second worker started, on a busy machine: the first few). */
    ASSERT_GT(r.late, 10);
    ASSERT_GE(r.late_no_slot, r.late / 2);
    goc_loadgen_free(g);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_ends_at_deadline)
{
    return run_main(2, t_ends_at_deadline, NULL);
}

/* Issue 20, defect 9: "late" counted every late start as "no free slot
 * at the due time". Workers slow to start (session_open takes 40 ms)
 * with slots to spare: the first calls start late, but never for want of
 * a slot. */
static int t_late_not_slots(void *arg)
{
    (void)arg;
    fake f = {.stall_seq = -1, .open_delay = 40 * MS};
    goc_caller c = fake_caller(&f, false);
    goc_loadgen_params p = {.caller = &c,
                            .timeout = 5 * SEC,
                            .lps = 1000,
                            .duration = SEC, /* 200 ms once issued none */
                            .max_in_flight = 1000};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, NULL);
    ASSERT_GT(r.late, 10); /* calls 0..39 at least wait for the first */
    ASSERT_EQ(r.late_no_slot, 0);
    ASSERT_LT(r.peak_in_flight, 1000);
    goc_loadgen_free(g);
    expect_alone();

    /* One slot, each call 3 ms at 1,000/s: late for want of the slot. */
    fake f1 = {.stall_seq = -1, .base_delay = 3 * MS};
    c = fake_caller(&f1, false);
    p.caller = &c;
    p.max_in_flight = 1;
    p.duration = SEC; /* 100 ms once issued too few to be late (TSan) */
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, NULL);
    ASSERT_GT(r.late, 0);
    /* All but the first few: those due before the worker's first call
     * began may be late with the slot free, on a loaded machine (26 of
     * 27 once under ASan). */
    ASSERT_GT(r.late_no_slot, 0);
    ASSERT_GE(r.late_no_slot, r.late / 2);
    goc_loadgen_free(g);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_late_not_slots)
{
    return run_main(2, t_late_not_slots, NULL);
}

/* ---- the open-model schedule ------------------------------------------ */

/*
 * One slot, 1,000 lps, 3 s; call 1000 stalls 1 s. A closed-model
 * generator would send nothing during the stall and report one slow call
 * in 2,000 fast ones. Ours still issues all 3,000 calls (the 1,000 due
 * during the stall late, as soon as the slot frees), and measures them
 * from their due times: about a third of the calls waited up to 1 s, so
 * p99 from the due time is near 1 s, while the service time stays small.
 */
static int t_open_model(void *arg)
{
    (void)arg;
    fake f = {.stall_seq = 1000, .stall_len = SEC};
    goc_caller c = fake_caller(&f, false);
    int64_t lps = 1000, dur = 3 * SEC;
    goc_chan *ch = goc_chan_make(sizeof(goc_call_result), 256);
    goc_loadgen_params p = {.caller = &c,
                            .timeout = 5 * SEC,
                            .lps = lps,
                            .duration = dur,
                            .result_ch = ch,
                            .max_in_flight = 1};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    sink s;
    sink_start(&s, ch, goc__loadgen_planned(dur, lps), lps);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    sink_end(&s);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, &s);
    /* The stalled call (number 1000) was issued, and the calls due
     * during the stall were issued late, not dropped. How many more a
     * loaded machine fits in before the end is its speed, not asserted
     * (an achieved rate of 950/s failed at 916/s beside another make
     * test). */
    ASSERT_GT(r.issued, 1000);
    ASSERT_EQ(r.success, r.issued);
    ASSERT_EQ(r.peak_in_flight, 1);
    ASSERT_GE(r.late, 900);
    ASSERT_GE(r.latency.p99, 500 * MS);
    ASSERT_GE(r.latency.max, SEC);
    /* Small: a bound loose enough for a machine shared with others. */
    ASSERT_LT(r.service.p99, 200 * MS);
    ASSERT_GE(r.service.max, SEC);
    ASSERT_LE(r.achieved_rate, 1001.0);
    goc_loadgen_free(g);
    goc_chan_free(ch);
    expect_alone();
    return 0;
}

GOC_TEST_TIMEOUT(loadgen_open_model, 30)
{
    return run_main(2, t_open_model, NULL);
}

/* With enough slots the stall holds one of them, and the rest of the
 * schedule goes on unharmed. */
static int t_open_model_slots(void *arg)
{
    (void)arg;
    fake f = {.stall_seq = 100, .stall_len = 300 * MS};
    goc_caller c = fake_caller(&f, false);
    goc_loadgen_params p = {.caller = &c,
                            .timeout = SEC,
                            .lps = 1000,
                            .duration = 600 * MS,
                            .max_in_flight = 8};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, NULL);
    /* A busy machine may leave the last calls not started by the end. */
    ASSERT_EQ(r.issued + r.not_issued, 600);
    ASSERT_GT(r.issued, 100); /* the stalled call 100 among them */
    ASSERT_EQ(r.success, r.issued);
    ASSERT_LE(r.peak_in_flight, 8);
    ASSERT_GE(r.peak_in_flight, 2);
    if (!slow_build())
        ASSERT_LT(r.latency.p50, 100 * MS);
    ASSERT_GE(r.latency.max, 300 * MS);
    goc_loadgen_free(g);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_open_model_slots)
{
    return run_main(2, t_open_model_slots, NULL);
}

/* Due times are exact (checked by the sink on every result), the rate is
 * the one asked, and calls start on time. */
static int t_schedule(void *arg)
{
    (void)arg;
    fake f = {.stall_seq = -1};
    goc_caller c = fake_caller(&f, false);
    int64_t lps = 3000, dur = 500 * MS;
    goc_chan *ch = goc_chan_make(sizeof(goc_call_result), 1024);
    goc_loadgen_params p = {.caller = &c,
                            .timeout = SEC,
                            .lps = lps,
                            .duration = dur,
                            .result_ch = ch};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    sink s;
    sink_start(&s, ch, goc__loadgen_planned(dur, lps), lps);
    int64_t before = goc_nanotime();
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    int64_t after = goc_nanotime();
    sink_end(&s);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, &s);
    ASSERT_EQ(r.issued + r.not_issued, 1500);
    /* A busy machine may not start the last ones by the end: how many it
     * started is a figure for the benchmarks (a loaded machine once made
     * 49 % of them), not a bound; never more than asked is. */
    ASSERT_GE(r.issued, 1);
    ASSERT_GE(r.start, before);
    ASSERT_EQ(s.t0, r.start);
    ASSERT_GE(after - before, dur - dur / lps);
    ASSERT_GT(r.achieved_rate, 0);
    ASSERT_LE(r.achieved_rate, 1.001 * (double)lps);
    ASSERT_GE(r.latency.p50, r.service.p50);
    goc_loadgen_free(g);
    goc_chan_free(ch);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_schedule)
{
    return run_main(2, t_schedule, NULL);
}

/* Progress: live counters and the interval p99. */
static int t_progress(void *arg)
{
    (void)arg;
    fake f = {.stall_seq = -1, .base_delay = MS};
    goc_caller c = fake_caller(&f, false);
    /* The timeout is a hang guard: 1 s timed out 9 of 493 1 ms calls
     * under TSan on a loaded machine. */
    goc_loadgen_params p = {
        .caller = &c, .timeout = 10 * SEC, .lps = 1000, .duration = 2 * SEC};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    ASSERT(goc_loadgen_start(g));
    struct goc_loadgen_progress pr;
    ASSERT_EQ(goc_loadgen_progress(g, &pr), 0); /* starts the interval */
    ASSERT_EQ(pr.interval_count, 0);
    /* Calls that ended before the interval started are in no interval; a
     * loaded machine may end some before the call above (11 once). Each
     * ended before this second read, so they are at most its count. */
    ASSERT_EQ(goc_loadgen_progress(g, &pr), 0);
    int64_t before = pr.completed, first = pr.interval_count;
    goc_sleep(200 * MS);
    /* Samples reach the interval within AGE_FLUSH (50 ms) of their call;
     * a loaded machine may take longer than 200 ms to make the first 50
     * calls (it once made none): read intervals until it has, summing
     * them, up to the run's end. */
    for (;;) {
        ASSERT_EQ(goc_loadgen_progress(g, &pr), 0);
        first += pr.interval_count;
        if (pr.interval_count > 0)
            ASSERT_GE(pr.interval_p99, MS);
        if (first > 50 || pr.status == GOC_LOADGEN_STOPPED)
            break;
        goc_sleep(10 * MS);
    }
    if (!slow_build())
        ASSERT_GT(first, 50);
    ASSERT_GE(pr.elapsed, 190 * MS);
    goc_case cs = GOC_CASE_RECV(goc_loadgen_done(g), NULL);
    goc_select(&cs, 1, false);
    ASSERT_EQ(goc_loadgen_progress(g, &pr), 0);
    ASSERT_EQ(pr.status, GOC_LOADGEN_STOPPED);
    /* A busy machine may not start the last of the 2000 by the end. */
    ASSERT_LE(pr.issued, 2000);
    ASSERT_GT(pr.issued, 0);
    ASSERT_EQ(pr.completed, pr.issued);
    ASSERT_EQ(pr.success, pr.issued);
    ASSERT_LE(first + pr.interval_count, pr.issued);
    ASSERT_GE(first + pr.interval_count, pr.issued - before);
    goc_loadgen_free(g);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_progress)
{
    return run_main(2, t_progress, NULL);
}

/* A caller without sessions, build_req or check_resp: only call. */
static int bare_call(void *user, void *session, const goc_call_req *req,
                     goc_call_resp *resp, int64_t deadline)
{
    (void)user, (void)req, (void)resp, (void)deadline;
    ASSERT(session == NULL);
    return req->seq % 5 == 0 ? -EIO : 0;
}

static int t_bare(void *arg)
{
    (void)arg;
    goc_caller c = {.call = bare_call};
    goc_loadgen_params p = {.caller = &c,
                            .timeout = SEC,
                            .lps = 10000,
                            .duration = 10 * MS,
                            .max_in_flight = 1};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    check_accounting(&r, NULL);
    /* The calls issued are a prefix of the plan (a busy machine may leave
     * the last ones not started by the end); every fifth fails. */
    ASSERT_EQ(r.issued + r.not_issued, 100);
    ASSERT_EQ(r.call_errors, (r.issued + 4) / 5);
    ASSERT_EQ(r.success, r.issued - r.call_errors);
    goc_loadgen_free(g);
    goc_caller_destroy(&c);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_bare_caller)
{
    return run_main(1, t_bare, NULL);
}
