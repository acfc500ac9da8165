/*
 * loadgen.c - the load generator (goc/loadgen.h): the schedule, the
 * workers, the accounting and the life cycle.
 *
 * How it works. goc_loadgen_start makes a run (lg_run) and starts one
 * worker goroutine. A worker loops:
 *   1. take the next call number k (run->next, an atomic counter); stop at
 *      run->planned, when the run is stopping, or when the run's end
 *      (t0 + duration) has passed: k is then not issued, nor any later
 *      one (numbers are taken in order, so the issued calls are a prefix
 *      of the plan and not_issued = planned - issued);
 *   2. if k's due time t0 + k * 1e9 / lps is still ahead, wait for it on
 *      the worker's timer (or the run's stop channel); if it has passed,
 *      the call is late: every worker was busy at its due time (late_no_slot
 *      when all max_in_flight existed by then, full_at; otherwise the
 *      generator was slow to start or run one);
 *   3. issue it: count it; if no other worker is waiting for a due time
 *      or about to, and the limit allows, start one more worker, so that
 *      the next due call finds one (need_worker); make the call; classify
 *      its outcome into one code; record latency from the due time and
 *      service time; hand the result to the result channel.
 * The worker that ends last finishes the run: it writes the report (each
 * worker has added its counts when it ended), sets STOPPED, closes the
 * done channel, delivers the results queued during the stop and closes
 * the result channel.
 *
 * Latencies. A worker keeps its last SAMPLES pairs (latency, service time)
 * in a small array of its own and adds them to the run's histograms under
 * run->mu when the array is full or its oldest sample is AGE_FLUSH old,
 * before a wait of WAIT_FLUSH or more, and when it ends: recording takes
 * no lock, and memory is three histograms per run (about 620 KiB) plus
 * 2.5 KiB per worker, however many slots are busy. A sample also carries
 * the call's start, end and code, for the per-second series (series.h:
 * a row per second, and a small histogram per second still open). Rejected: a
 * histogram pair per worker merged at the end (412 KiB per worker: 400 MB for
 * the 1,000 slots of a 20,000 lps run against a slow server), one histogram
 * under a lock per call.
 *
 * Drivers. In the closed model, a caller that can drive its pipelined
 * connections itself (goc__caller_pipe, caller_pipe.h: the HTTP
 * caller with pipeline > 1 and no pool) gets ceil(max_in_flight / depth)
 * "drivers" instead of workers: each a goroutine with one session (a
 * connection) and `depth` slots, in which the caller's drive loop takes a
 * window of calls (goc__pipe_take: call numbers, issue and counts taken
 * once per window, one clock read), writes them, and hands each outcome
 * back as its response is parsed (goc__pipe_done), which accounts it as a
 * worker's call is (classify, record: the same codes, check_resp,
 * samples and result channel). A driver is a worker to the rest of this
 * file (the list, stop's token and interrupt, the merge at its end);
 * run->busy counts its slots in use, for peak_in_flight. Rejected: the
 * workers sharing a connection with tickets (the sessions' path, still
 * the open model's): a goroutine, a condition variable hand-off and a
 * park per pipelined call.
 *
 * Stopping. A stop sets run->stopping, then sends one token to each live
 * worker's own wake channel (capacity 1, so the token waits for it) and
 * interrupts its session. A worker waits for a due time or for a result
 * receiver in a select that includes its wake channel, and checks stopping
 * after every wake. Each worker has its own channel so that thousands of
 * waiting workers do not all queue on one channel's lock.
 *
 * So there is no ticker and no pacing goroutine: each due time is computed
 * from k with integer arithmetic, never accumulated, and a worker waits
 * for its own call's due time, so a call starts one timer wake-up after
 * it is due (no hand-off between goroutines). Rejected: the book's ticker
 * plus a goroutine per call (a ticker drops ticks for a slow receiver and
 * its goroutine hand-off adds latency; the book achieves 0.94x of 1,000
 * lps); a fixed pool of max_in_flight workers (a histogram pair and a
 * connection per slot even when a handful suffice).
 *
 * Invariants:
 *  - Once STOPPED, issued == the sum of the per-code counts: a worker
 *    counts a call as issued (run->issued) and then always gives it
 *    exactly one code before it takes another number or ends.
 *  - run->nworkers counts workers started and not yet ended. Only a live
 *    worker (or start, for the first) starts one, and it counts the new
 *    one before starting it: once it reaches 0 it stays 0, and the worker
 *    that brought it there is the only one to finish the run.
 *  - After a worker took number k >= planned, saw stopping, or saw the
 *    run's end passed, it issues nothing more. A stop sets stopping before it
 * sends the workers their tokens and interrupts their sessions; a worker checks
 * stopping after its wait, and before it waits for a result receiver.
 *  - g->status is touched by a run's last worker for the last time when it
 *    stores STOPPED; what the run still does afterwards (done channel,
 *    queued results) uses only the run, which is reference counted.
 *
 * Lock order: g->mu, then run->mu.
 */
#include "goc/loadgen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goc/runtime.h"
#include "goc/sync.h"
#include "goc/time.h"
#include "loadgen/caller_pipe.h"
#include "loadgen/hist.h"
#include "loadgen/loadgen_internal.h"
#include "loadgen/series.h"

#define NS_PER_S INT64_C(1000000000)
#define LPS_MAX INT64_C(1000000000)
#define IN_FLIGHT_MAX INT64_C(1000000)
#define IN_FLIGHT_DEFAULT_MAX INT64_C(10000)
/* Call 0 is due this long after start, so that the first worker is
 * waiting for it instead of starting it late. */
#define START_LEAD (GOC_MILLISECOND)
#define PARTS_MAX INT64_C(1000000)
/* Latency samples a worker keeps before adding them to the run's
 * histograms, and the shortest wait before which it adds them anyway
 * (so that a progress display lags by no more than that). */
#define SAMPLES 64
#define WAIT_FLUSH (10 * GOC_MILLISECOND)
/* A timer wakes its thread this late on these VMs (the scheduler's, not
 * goc's: clock_nanosleep does the same): a wait ends this much early on
 * the timer and the rest is spent yielding, reading the clock. Only where
 * calls are at least SPIN_GAP apart (up to 2,500 calls/s), so that it
 * costs at most a quarter of a core; faster, a worker's waits are too
 * short for the timer anyway. */
#define SPIN_NS (100 * GOC_MICROSECOND)
#define SPIN_GAP (4 * SPIN_NS)
/* ... and the age of its oldest sample at which it adds them anyway. */
#define AGE_FLUSH (50 * GOC_MILLISECOND)

/* Index of each code in the count arrays. */
enum {
    C_SUCCESS,
    C_TIMEOUT,
    C_CALL,
    C_RESPONSE,
    C_CALEE,
    C_FATAL,
    C_OTHER,
    C_CANCELED,
    C_N
};

static int code_index(int code)
{
    switch (code) {
    case GOC_RET_SUCCESS:
        return C_SUCCESS;
    case GOC_RET_WARNING_CALL_TIMEOUT:
        return C_TIMEOUT;
    case GOC_RET_ERROR_CALL:
        return C_CALL;
    case GOC_RET_ERROR_RESPONSE:
        return C_RESPONSE;
    case GOC_RET_ERROR_CALEE:
        return C_CALEE;
    case GOC_RET_FATAL_CALL:
        return C_FATAL;
    case GOC_RET_WARNING_CALL_CANCELED:
        return C_CANCELED;
    default:
        return C_OTHER;
    }
}

typedef struct lg_run lg_run;

/* One worker: a goroutine with a session, making one call at a time. */
typedef struct lg_worker {
    lg_run *run;      /* immutable */
    void *session;    /* the caller's; owned by this worker */
    int session_err;  /* session_open's failure, or 0 */
    goc_chan *wake;   /* stop's token (cap 1, elem size 0); immutable */
    goc_timer *timer; /* for waiting for due times; owner only */
    struct lg_sample {
        int64_t lat, svc, start, end;
        int code;
    } samples[SAMPLES]; /* owner only; canceled calls too */
    int nsamples;
    int64_t oldest;                /* when samples[0] was taken; owner only */
    int64_t counts[C_N];           /* owner only, merged at the end */
    int64_t errs[GOC_CALL_ERR_N];  /* by kind; owner only, merged */
    int64_t waits;                 /* results that waited for the receiver */
    int64_t last_issue;            /* goc_nanotime() of its last issue, or 0 */
    bool linked;                   /* on run->workers (run->mu) */
    struct lg_worker *prev, *next; /* run->workers list (run->mu) */
    goc_call_result res;           /* the result being delivered; owner only */
    /* A driver (a pipelined connection driven by the caller, depth > 0)
     * instead of a worker making one call at a time: */
    int depth;    /* its slots; 0 for a worker */
    bool spawned; /* it started the next driver, or had no need to */
    bool over;    /* goc__pipe_take found no more calls */
    /* A driver takes call numbers a window at a time: [blk_next, blk_end)
     * are issued (at blk_now) and not yet handed out. */
    int64_t blk_next, blk_end, blk_now;
    int32_t inflight;     /* calls handed out, not yet done */
    int32_t busy_counted; /* its share of run->busy */
    /* Its live counts (run->completed & co.), added at each window. */
    int64_t live_completed, live_success, live_timeouts, live_errors,
        live_canceled;
} lg_worker;

/* One run, from a start to STOPPED and the delivery of its results.
 * Reference counted: the generator holds one reference (until the next
 * start or the free), the workers together one (released by the last),
 * and every stop or wait in progress one. */
struct lg_run {
    goc_loadgen *g; /* only while the status is not yet STOPPED */
    _Atomic int refs;
    /* Immutable once the first worker runs: */
    goc_caller caller;
    int64_t lps, timeout, duration, max_in_flight;
    bool closed;         /* closed model: no schedule, lps is 0 */
    int64_t count;       /* the limit on calls, or 0 */
    int64_t part, parts; /* this run makes the calls k % parts == part */
    int64_t start_at;    /* the due time of call 0 asked, or 0 */
    int64_t t0;          /* due time of call 0 */
    int64_t planned;     /* of this part's calls */
    goc_chan *result_ch; /* NULL: none */
    goc_chan *done_ch;   /* closed when STOPPED (elem size 0) */
    /* Closed model with a caller that drives its pipelined connections
     * (goc__caller_pipe_ops): drivers of pipe_depth slots each instead of
     * workers; NULL otherwise. */
    const goc__caller_pipe_ops *pipe_ops;
    int pipe_depth;
    int32_t ndrivers; /* ceil(max_in_flight / pipe_depth) */
    /* Atomic: */
    _Atomic int64_t next; /* next call number to take */
    _Atomic int64_t issued;
    _Atomic int64_t late;
    _Atomic int64_t late_no_slot;
    _Atomic int64_t full_at;   /* when the last slot's worker started, or 0 */
    _Atomic int64_t completed; /* calls ended, any code */
    _Atomic int64_t success, timeouts, errors, canceled; /* live */
    _Atomic int32_t idle;     /* workers waiting for a due time */
    _Atomic int32_t busy;     /* workers from their issue to call's end */
    _Atomic int32_t nworkers; /* workers started and not ended */
    _Atomic int32_t peak;     /* highest nworkers */
    _Atomic bool stopping;    /* stop began: issue nothing more */
    _Atomic bool finished;    /* the report below is final */
    _Atomic bool ivl_on;      /* record into ivl (progress asked) */
    _Atomic bool err_seen[GOC_CALL_ERR_N]; /* first_error taken */
    /* Protected by mu: */
    goc_mutex mu;
    lg_worker *workers;  /* live workers */
    int64_t counts[C_N]; /* merged from ended workers */
    int64_t errs[GOC_CALL_ERR_N];
    char first_error[GOC_CALL_ERR_N][GOC_CALL_MSG_MAX];
    int64_t waits;
    int64_t last_issue;
    goc__hist lat, svc;       /* the workers' samples */
    goc__hist ivl;            /* latency since the last progress call */
    goc__series series;       /* per second */
    goc_call_result *pending; /* results queued during a stop */
    size_t npending, cappending;
    int64_t end;                      /* when the last worker ended */
    struct goc_loadgen_report report; /* final once finished */
};

struct goc_loadgen {
    goc_caller caller;                             /* immutable */
    int64_t lps, timeout, duration, max_in_flight; /* immutable */
    bool closed;                                   /* immutable */
    int64_t count;                                 /* immutable */
    int64_t part, parts, start_at;                 /* immutable */
    _Atomic uint32_t status;                       /* GOC_LOADGEN_* */
    _Atomic int64_t call_count; /* issued by the current run */
    /* Protected by mu: */
    goc_mutex mu;
    lg_run *run;           /* current or last run; NULL before start */
    goc_chan *result_ch;   /* for the next run */
    bool result_ch_closed; /* a run closed result_ch */
};

/* ---- names ------------------------------------------------------------ */

const char *goc_ret_code_plain(int code)
{
    switch (code) {
    case GOC_RET_SUCCESS:
        return "Success";
    case GOC_RET_WARNING_CALL_TIMEOUT:
        return "Call Timeout Warning";
    case GOC_RET_WARNING_CALL_CANCELED:
        return "Call Canceled Warning";
    case GOC_RET_ERROR_CALL:
        return "Call Error";
    case GOC_RET_ERROR_RESPONSE:
        return "Response Error";
    case GOC_RET_ERROR_CALEE:
        return "Callee Error";
    case GOC_RET_FATAL_CALL:
        return "Call Fatal Error";
    default:
        return "Unknown result code";
    }
}

const char *goc_call_err_name(int kind)
{
    static const char *const names[GOC_CALL_ERR_N] = {
        [GOC_CALL_ERR_NONE] = "none",
        [GOC_CALL_ERR_DNS] = "dns",
        [GOC_CALL_ERR_CONNECT_REFUSED] = "connect refused",
        [GOC_CALL_ERR_CONNECT_TIMEOUT] = "connect timeout",
        [GOC_CALL_ERR_CONNECT] = "connect",
        [GOC_CALL_ERR_WRITE] = "write",
        [GOC_CALL_ERR_READ] = "read",
        [GOC_CALL_ERR_RESET] = "reset",
        [GOC_CALL_ERR_TIMEOUT] = "timeout",
        [GOC_CALL_ERR_OTHER] = "other"};
    return kind >= 0 && kind < GOC_CALL_ERR_N ? names[kind] : "unknown";
}

/* A failed call's kind when its caller did not say. */
static int guess_err_kind(int rc)
{
    switch (rc) {
    case -ECONNREFUSED:
        return GOC_CALL_ERR_CONNECT_REFUSED;
    case -ECONNRESET:
    case -EPIPE:
        return GOC_CALL_ERR_RESET;
    case -ETIMEDOUT:
        return GOC_CALL_ERR_TIMEOUT;
    case -ENXIO:
        return GOC_CALL_ERR_DNS;
    default:
        return GOC_CALL_ERR_OTHER;
    }
}

const char *goc_loadgen_status_name(uint32_t status)
{
    static const char *const names[] = {"original", "starting", "started",
                                        "stopping", "stopped"};
    return status < 5 ? names[status] : "unknown";
}

/* ---- arithmetic ------------------------------------------------------- */

/* ns from call 0's due time to call k's: k * 1e9 / lps, rounded down,
 * without overflow for k < 2^63 and lps <= 1e9. */
int64_t goc__loadgen_due_offset(int64_t k, int64_t lps)
{
    return (k / lps) * NS_PER_S + ((k % lps) * NS_PER_S) / lps;
}

/* ceil(d * lps / 1e9), or -1 when it does not fit in 2^62. */
int64_t goc__loadgen_planned(int64_t d, int64_t lps)
{
    int64_t q = d / NS_PER_S, r = d % NS_PER_S;
    if (q > (INT64_C(1) << 62) / lps)
        return -1;
    int64_t n = q * lps + (r * lps + NS_PER_S - 1) / NS_PER_S;
    return n > (INT64_C(1) << 62) ? -1 : n;
}

/* Formats a duration like Go's time.Duration.String, shortened: "50ms",
 * "1.5s", "250us", "12ns". */
void goc__loadgen_fmt_dur(char *buf, size_t len, int64_t ns)
{
    const char *sign = ns < 0 ? "-" : "";
    uint64_t v = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    if (v < 1000)
        snprintf(buf, len, "%s%" PRIu64 "ns", sign, v);
    else if (v < 1000000)
        snprintf(buf, len, "%s%.4gus", sign, (double)v / 1e3);
    else if (v < 1000000000)
        snprintf(buf, len, "%s%.4gms", sign, (double)v / 1e6);
    else
        snprintf(buf, len, "%s%.4gs", sign, (double)v / 1e9);
}

/* ---- parameters ------------------------------------------------------- */

typedef struct errs {
    char *buf;
    size_t len, used;
    int n;
} errs;

static void errs_add(errs *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void errs_add(errs *e, const char *fmt, ...)
{
    e->n++;
    if (!e->buf || e->used + 1 >= e->len)
        return;
    if (e->n > 1) {
        int w = snprintf(e->buf + e->used, e->len - e->used, "; ");
        e->used +=
            (size_t)w < e->len - e->used ? (size_t)w : e->len - e->used - 1;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
    va_end(ap);
    if (w > 0)
        e->used +=
            (size_t)w < e->len - e->used ? (size_t)w : e->len - e->used - 1;
}

int goc_loadgen_new(goc_loadgen **out, const goc_loadgen_params *p,
                    char *errbuf, size_t errlen)
{
    errs e = {errbuf, errlen, 0, 0};
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!out) {
        errs_add(&e, "out is NULL");
        return -EINVAL;
    }
    *out = NULL;
    if (!p) {
        errs_add(&e, "params is NULL");
        return -EINVAL;
    }
    if (!p->caller)
        errs_add(&e, "caller is NULL");
    else if (!p->caller->call)
        errs_add(&e, "caller->call is NULL");
    if (p->timeout <= 0)
        errs_add(&e, "timeout must be > 0 (got %" PRId64 ")", p->timeout);
    if (p->closed) {
        if (p->lps != 0)
            errs_add(&e, "lps must be 0 in the closed model (got %" PRId64 ")",
                     p->lps);
        if (p->max_in_flight == 0)
            errs_add(&e, "max_in_flight (the workers) must be > 0 in the "
                         "closed model");
    } else if (p->lps <= 0)
        errs_add(&e, "lps must be > 0 (got %" PRId64 ")", p->lps);
    else if (p->lps > LPS_MAX)
        errs_add(&e, "lps must be at most %" PRId64 " (got %" PRId64 ")",
                 LPS_MAX, p->lps);
    if (p->duration <= 0)
        errs_add(&e, "duration must be > 0 (got %" PRId64 ")", p->duration);
    else if (p->lps > 0 && p->lps <= LPS_MAX &&
             goc__loadgen_planned(p->duration, p->lps) < 0)
        errs_add(&e,
                 "duration * lps is too large (%" PRId64 " ns at %" PRId64
                 " lps)",
                 p->duration, p->lps);
    if (p->count < 0)
        errs_add(&e, "count must be >= 0 (got %" PRId64 ")", p->count);
    if (p->parts < 0 || p->parts > PARTS_MAX)
        errs_add(&e, "parts must be 0 to %" PRId64 " (got %" PRId64 ")",
                 PARTS_MAX, p->parts);
    else if (p->part < 0 || (p->part > 0 && p->part >= p->parts))
        errs_add(&e,
                 "part must be 0 to parts - 1 (got %" PRId64 " of %" PRId64 ")",
                 p->part, p->parts);
    if (p->closed && p->parts > 1)
        errs_add(&e, "parts is for the open model only (split max_in_flight "
                     "and count instead)");
    if (p->closed && p->start_at != 0)
        errs_add(&e, "start_at is for the open model only");
    if (p->start_at < 0)
        errs_add(&e, "start_at must be >= 0 (got %" PRId64 ")", p->start_at);
    if (p->max_in_flight < 0)
        errs_add(&e, "max_in_flight must be >= 0 (got %" PRId64 ")",
                 p->max_in_flight);
    else if (p->max_in_flight > IN_FLIGHT_MAX)
        errs_add(&e,
                 "max_in_flight must be at most %" PRId64 " (got %" PRId64 ")",
                 IN_FLIGHT_MAX, p->max_in_flight);
    if (e.n)
        return -EINVAL;

    goc_loadgen *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->caller = *p->caller;
    g->lps = p->lps;
    g->closed = p->closed;
    g->count = p->count;
    g->part = p->parts > 1 ? p->part : 0;
    g->parts = p->parts > 1 ? p->parts : 1;
    g->start_at = p->start_at;
    g->timeout = p->timeout;
    g->duration = p->duration;
    g->max_in_flight = p->max_in_flight;
    if (g->max_in_flight == 0) {
        /* The book: concurrency = timeout / interval + 1. */
        int64_t c = goc__loadgen_planned(p->timeout, p->lps);
        if (c < 0 || c >= IN_FLIGHT_DEFAULT_MAX)
            c = IN_FLIGHT_DEFAULT_MAX - 1;
        g->max_in_flight = c + 1;
    }
    g->result_ch = p->result_ch;
    atomic_init(&g->status, GOC_LOADGEN_ORIGINAL);
    *out = g;
    return 0;
}

/* ---- runs ------------------------------------------------------------- */

static void run_unref(lg_run *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    goc__hist_free(&r->lat);
    goc__hist_free(&r->svc);
    goc__hist_free(&r->ivl);
    goc__series_free(&r->series);
    goc_chan_free(r->done_ch);
    free(r->pending);
    free(r);
}

/* The current run with a reference, or NULL. */
static lg_run *run_get(goc_loadgen *g)
{
    goc_mutex_lock(&g->mu);
    lg_run *r = g->run;
    if (r)
        atomic_fetch_add(&r->refs, 1);
    goc_mutex_unlock(&g->mu);
    return r;
}

static lg_run *run_new(goc_loadgen *g)
{
    lg_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    atomic_init(&r->refs, 1);
    r->g = g;
    r->caller = g->caller;
    r->lps = g->lps;
    r->timeout = g->timeout;
    r->duration = g->duration;
    r->max_in_flight = g->max_in_flight;
    r->closed = g->closed;
    r->count = g->count;
    r->part = g->part;
    r->parts = g->parts;
    r->start_at = g->start_at;
    if (g->closed)
        r->planned = g->count ? g->count : INT64_MAX;
    else
        r->planned = goc__loadgen_planned(g->duration, g->lps);
    if (g->count && g->count < r->planned)
        r->planned = g->count;
    /* This part's share of the calls 0 .. planned - 1. */
    if (r->parts > 1)
        r->planned = r->planned > r->part
                         ? (r->planned - r->part - 1) / r->parts + 1
                         : 0;
    if (r->closed) {
        const goc__caller_pipe_ops *ops;
        int depth = goc__caller_pipe(&r->caller, &ops);
        if (depth > 1 && ops) {
            r->pipe_ops = ops;
            r->pipe_depth = depth;
            r->ndrivers = (int32_t)((r->max_in_flight + depth - 1) / depth);
        }
    }
    r->done_ch = goc_chan_make(0, 0);
    if (!r->done_ch || goc__hist_init(&r->lat) < 0 ||
        goc__hist_init(&r->svc) < 0 || goc__hist_init(&r->ivl) < 0 ||
        goc__series_init(&r->series, r->timeout) < 0) {
        run_unref(r);
        return NULL;
    }
    return r;
}

static void fill_latency(goc_loadgen_latency *l, const goc__hist *h)
{
    l->count = goc__hist_count(h);
    l->min = goc__hist_min(h);
    l->p50 = goc__hist_percentile(h, 50);
    l->p90 = goc__hist_percentile(h, 90);
    l->p99 = goc__hist_percentile(h, 99);
    l->p999 = goc__hist_percentile(h, 99.9);
    l->p9999 = goc__hist_percentile(h, 99.99);
    l->max = goc__hist_max(h);
    l->mean = goc__hist_mean(h);
}

/* Writes r->report from the merged state. Called with r->mu held, once
 * every worker has ended. */
static void run_make_report(lg_run *r)
{
    struct goc_loadgen_report *rep = &r->report;
    memset(rep, 0, sizeof *rep);
    rep->status = GOC_LOADGEN_STOPPED;
    rep->lps = r->lps;
    rep->timeout = r->timeout;
    rep->duration = r->duration;
    rep->max_in_flight = r->max_in_flight;
    rep->closed = r->closed;
    rep->planned = r->planned;
    rep->issued = atomic_load(&r->issued);
    if (r->closed && !r->count)
        rep->planned = rep->issued; /* no plan: as many as the time allows */
    rep->stopped_early =
        atomic_load(&r->stopping) && rep->issued < rep->planned;
    rep->not_issued = rep->planned - rep->issued;
    rep->late = atomic_load(&r->late);
    rep->late_no_slot = atomic_load(&r->late_no_slot);
    rep->success = r->counts[C_SUCCESS];
    rep->timeouts = r->counts[C_TIMEOUT];
    rep->call_errors = r->counts[C_CALL];
    rep->response_errors = r->counts[C_RESPONSE];
    rep->callee_errors = r->counts[C_CALEE];
    rep->fatal_calls = r->counts[C_FATAL];
    rep->other_codes = r->counts[C_OTHER];
    rep->canceled = r->counts[C_CANCELED];
    memcpy(rep->errors, r->errs, sizeof rep->errors);
    memcpy(rep->first_error, r->first_error, sizeof rep->first_error);
    rep->result_waits = r->waits;
    rep->peak_in_flight = atomic_load(&r->peak);
    rep->start = r->t0;
    rep->elapsed = r->end > r->t0 ? r->end - r->t0 : 0;
    if (rep->issued > 0 && r->closed) {
        /* No schedule: calls per second of the run. */
        int64_t win = rep->elapsed > 0 ? rep->elapsed : 1;
        rep->achieved_rate = (double)rep->issued * 1e9 / (double)win;
        rep->success_rate = (double)rep->success * 1e9 / (double)win;
    } else if (rep->issued > 0) {
        /* To the due time of the schedule's call after this part's last
         * round of `parts` calls (with one part: its next call), so that
         * parts that kept up each show lps / parts. */
        int64_t win = goc__loadgen_due_offset(rep->issued * r->parts, r->lps);
        if (r->last_issue - r->t0 > win)
            win = r->last_issue - r->t0;
        rep->achieved_rate = (double)rep->issued * 1e9 / (double)win;
        rep->success_rate = (double)rep->success * 1e9 / (double)win;
    }
    fill_latency(&rep->latency, &r->lat);
    fill_latency(&rep->service, &r->svc);
}

/* Run by the worker that ended last (or by start when none could be
 * started): see the file comment. */
static void run_finish(lg_run *r)
{
    goc_loadgen *g = r->g;
    goc_mutex_lock(&r->mu);
    r->end = goc_nanotime();
    run_make_report(r);
    goc__series_finish(
        &r->series,
        r->end > r->t0 ? (r->end - r->t0 + NS_PER_S - 1) / NS_PER_S : 0);
    goc_call_result *pending = r->pending;
    size_t npending = r->npending;
    r->pending = NULL;
    r->npending = r->cappending = 0;
    goc_mutex_unlock(&r->mu);
    atomic_store(&r->finished, true);

    uint32_t s = GOC_LOADGEN_STARTED;
    atomic_compare_exchange_strong(&g->status, &s, GOC_LOADGEN_STOPPING);
    r->g = NULL;
    /* Last touch of g: from here on a free may release it. */
    atomic_store(&g->status, GOC_LOADGEN_STOPPED);
    goc_chan_close(r->done_ch);

    if (r->result_ch) {
        for (size_t i = 0; i < npending; i++)
            goc_chan_send(r->result_ch, &pending[i]);
        goc_chan_close(r->result_ch);
    }
    free(pending);
    run_unref(r); /* the workers' reference */
}

/* ---- workers ---------------------------------------------------------- */

static void worker_main(void *arg);

/* Starts one more worker if the limit allows: true if it did. The caller
 * is a live worker or start (so nworkers cannot reach 0 meanwhile). */
static bool spawn_worker(lg_run *r)
{
    int32_t n = atomic_load(&r->nworkers);
    do {
        if (n >= r->max_in_flight)
            return false;
    } while (!atomic_compare_exchange_weak(&r->nworkers, &n, n + 1));
    int32_t peak = atomic_load(&r->peak);
    while (n + 1 > peak &&
           !atomic_compare_exchange_weak(&r->peak, &peak, n + 1))
        ;
    lg_worker *w = calloc(1, sizeof *w);
    if (w) {
        w->run = r;
        w->wake = goc_chan_make(0, 1);
        if (n + 1 == r->max_in_flight)
            atomic_store(&r->full_at, goc_nanotime());
        if (w->wake && goc_go(worker_main, w) == 0)
            return true;
        if (n + 1 == r->max_in_flight)
            atomic_store(&r->full_at, 0);
        goc_chan_free(w->wake);
        free(w);
    }
    atomic_fetch_sub(&r->nworkers, 1);
    return false;
}

/*
 * Whether the worker about to make a call should start another one first:
 * when no worker waits for a due time (so the next call would find none)
 * and every worker, the caller included, has issued a call and not
 * finished it (so none is about to take the next number). A worker counts
 * as busy from its issue, before it starts another, not from the moment
 * it enters caller->call: otherwise a worker that has just started this
 * one and not yet entered its call looks free, no worker is started, and
 * when both calls hang nothing takes the next number until one ends
 * (late starts with slots to spare). Workers between calls (delivering a
 * result, or woken and not yet run because the machine is busy) will take
 * a number soon: starting more then would only add goroutines to a
 * starved scheduler.
 */
static bool need_worker(lg_run *r)
{
    return atomic_load(&r->idle) == 0 &&
           atomic_load(&r->busy) >= atomic_load(&r->nworkers);
}

/* Adds the worker's samples to the run's histograms. */
static void flush_samples(lg_worker *w)
{
    lg_run *r = w->run;
    if (w->nsamples == 0)
        return;
    bool ivl = atomic_load_explicit(&r->ivl_on, memory_order_relaxed);
    goc_mutex_lock(&r->mu);
    for (int i = 0; i < w->nsamples; i++) {
        const struct lg_sample *sm = &w->samples[i];
        goc__series_add(&r->series, (sm->start - r->t0) / NS_PER_S,
                        (sm->end - r->t0) / NS_PER_S, sm->code, sm->lat);
        if (sm->code == GOC_RET_WARNING_CALL_CANCELED)
            continue;
        goc__hist_record(&r->lat, sm->lat);
        goc__hist_record(&r->svc, sm->svc);
        if (ivl)
            goc__hist_record(&r->ivl, sm->lat);
    }
    goc_mutex_unlock(&r->mu);
    w->nsamples = 0;
}

/* Waits d (> 0) on w's timer, or until a stop's token arrives. */
static void timer_wait(lg_worker *w, int64_t d)
{
    if (!w->timer) {
        w->timer = goc_timer_new(d);
        if (!w->timer) { /* no memory: sleep, a stop waits for it */
            goc_sleep(d);
            return;
        }
    } else {
        goc_timer_reset(w->timer, d);
    }
    int64_t fired;
    goc_case cs[2] = {GOC_CASE_RECV(goc_timer_chan(w->timer), &fired),
                      GOC_CASE_RECV(w->wake, NULL)};
    if (goc_select(cs, 2, false) == 1)
        goc_timer_stop(w->timer);
}

/* Waits until goc_nanotime() >= due or a stop's token arrives. */
static void wait_until(lg_worker *w, int64_t due)
{
    int64_t d = due - goc_nanotime();
    if (d >= WAIT_FLUSH) {
        flush_samples(w);
        d = due - goc_nanotime();
    }
    if (d <= 0)
        return;
    /* This generator's calls (a part's: parts periods apart). */
    if (goc__loadgen_due_offset(w->run->parts, w->run->lps) < SPIN_GAP) {
        timer_wait(w, d);
        return;
    }
    if (d > SPIN_NS) {
        timer_wait(w, d - SPIN_NS);
        if (atomic_load_explicit(&w->run->stopping, memory_order_relaxed))
            return;
    }
    while (goc_nanotime() < due &&
           !atomic_load_explicit(&w->run->stopping, memory_order_relaxed))
        goc_yield();
}

/* Hands w->res to the result channel: waits for a receiver while the run
 * is not stopping; once it is, queues it for run_finish. */
static void deliver(lg_worker *w)
{
    lg_run *r = w->run;
    goc_case cs[2] = {GOC_CASE_SEND(r->result_ch, &w->res),
                      GOC_CASE_RECV(w->wake, NULL)};
    if (goc_select(cs, 1, true) == 0)
        return;
    w->waits++;
    if (!atomic_load(&r->stopping) && goc_select(cs, 2, false) == 0)
        return;
    goc_mutex_lock(&r->mu);
    if (r->npending == r->cappending) {
        size_t cap = r->cappending ? 2 * r->cappending : 16;
        goc_call_result *p = realloc(r->pending, cap * sizeof *p);
        if (!p) {
            goc_mutex_unlock(&r->mu);
            goc_panic("loadgen: out of memory queueing a result");
        }
        r->pending = p;
        r->cappending = cap;
    }
    r->pending[r->npending++] = w->res;
    goc_mutex_unlock(&r->mu);
}

static void set_msg(goc_call_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_msg(goc_call_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof res->msg, fmt, ap);
    va_end(ap);
}

/* Counts a failed call by kind; the first of its kind gives the
 * report its message. */
static void count_error(lg_worker *w, int rc, int kind, const char *detail)
{
    lg_run *r = w->run;
    if (kind <= GOC_CALL_ERR_NONE || kind >= GOC_CALL_ERR_N)
        kind = guess_err_kind(rc);
    w->errs[kind]++;
    if (atomic_load_explicit(&r->err_seen[kind], memory_order_relaxed) ||
        atomic_exchange(&r->err_seen[kind], true))
        return;
    goc_mutex_lock(&r->mu);
    snprintf(r->first_error[kind], sizeof r->first_error[kind], "%s",
             detail[0] ? detail : goc_strerror(rc));
    goc_mutex_unlock(&r->mu);
}

/* The code of a call that ran (rc: what call returned; end: when it
 * ended), with its message in w->res.msg; counts its error by kind. */
static int classify(lg_worker *w, void *session, int rc,
                    const goc_call_req *req, goc_call_resp *resp, int64_t end,
                    int64_t deadline, const char *detail)
{
    lg_run *r = w->run;
    const goc_caller *c = &r->caller;
    goc_call_result *res = &w->res;
    char dur[32];
    /* A failure once the stop began, with an interrupt hook: the stop's
     * doing (a genuine failure at that moment counts so too). */
    if (rc < 0 && c->interrupt && atomic_load(&r->stopping)) {
        set_msg(res, "Canceled by stop (%s)", goc_strerror(rc));
        return GOC_RET_WARNING_CALL_CANCELED;
    }
    if (rc == -ETIMEDOUT || end > deadline) {
        if (rc < 0)
            count_error(w, rc, resp->err_kind, detail);
        goc__loadgen_fmt_dur(dur, sizeof dur, r->timeout);
        set_msg(res, "Timeout! (expected: < %s)", dur);
        return GOC_RET_WARNING_CALL_TIMEOUT;
    }
    if (rc < 0) {
        count_error(w, rc, resp->err_kind, detail);
        set_msg(res, "Sync Call Error: %s.",
                detail[0] ? detail : goc_strerror(rc));
        return GOC_RET_ERROR_CALL;
    }
    if (c->check_resp) {
        int code = c->check_resp(c->user, session, req, resp, res->msg,
                                 sizeof res->msg);
        res->msg[sizeof res->msg - 1] = '\0';
        return code;
    }
    return GOC_RET_SUCCESS;
}

/* Accounts call k (request id `id`) that ended with `code`: counts,
 * latency samples, the result channel. */
static void record(lg_worker *w, int64_t k, int64_t id, int code, int64_t due,
                   int64_t start, int64_t cstart, int64_t end)
{
    lg_run *r = w->run;
    goc_call_result *res = &w->res;
    int ci = code_index(code);
    w->counts[ci]++;
    if (w->depth) { /* a driver: added at its next window */
        w->live_completed++;
        if (ci == C_SUCCESS)
            w->live_success++;
        else if (ci == C_TIMEOUT)
            w->live_timeouts++;
        else if (ci == C_CANCELED)
            w->live_canceled++;
        else
            w->live_errors++;
    } else {
        atomic_fetch_add(&r->completed, 1);
        if (ci == C_SUCCESS)
            atomic_fetch_add(&r->success, 1);
        else if (ci == C_TIMEOUT)
            atomic_fetch_add(&r->timeouts, 1);
        else if (ci == C_CANCELED)
            atomic_fetch_add(&r->canceled, 1);
        else
            atomic_fetch_add(&r->errors, 1);
    }
    if (w->nsamples == 0)
        w->oldest = end;
    w->samples[w->nsamples] = (struct lg_sample){.lat = end - due,
                                                 .svc = end - cstart,
                                                 .start = start,
                                                 .end = end,
                                                 .code = code};
    if (++w->nsamples == SAMPLES || end - w->oldest >= AGE_FLUSH)
        flush_samples(w);
    if (r->result_ch) {
        res->id = id;
        res->seq = k;
        res->code = code;
        res->due = due;
        res->start = cstart;
        res->latency = end - due;
        res->elapse = end - cstart;
        deliver(w);
    }
}

/* Makes call k, due at `due`, and accounts for it; w was counted busy at
 * the issue, and is no longer once the call is done. */
static void one_call(lg_worker *w, int64_t k, int64_t due)
{
    lg_run *r = w->run;
    const goc_caller *c = &r->caller;
    goc_call_result *res = &w->res;
    goc_call_req req = {.seq = k, .id = k, .data = NULL, .len = 0};
    char detail[GOC_CALL_MSG_MAX];
    goc_call_resp resp = {.msg = detail, .msglen = sizeof detail};
    int code, rc = w->session_err;

    res->msg[0] = '\0';
    int64_t start = goc_nanotime(), cstart = start, end;
    if (rc == 0 && c->build_req)
        rc = c->build_req(c->user, w->session, &req);
    if (rc < 0) {
        atomic_fetch_sub(&r->busy, 1);
        end = goc_nanotime();
        code = GOC_RET_FATAL_CALL;
        set_msg(res, "%s failed: %s",
                w->session_err ? "session_open" : "build_req",
                goc_strerror(rc));
    } else {
        cstart = goc_nanotime();
        int64_t deadline = cstart + r->timeout;
        resp.id = req.id;
        detail[0] = '\0';
        rc = c->call(c->user, w->session, &req, &resp, deadline);
        atomic_fetch_sub(&r->busy, 1);
        end = goc_nanotime();
        resp.id = req.id;
        resp.err = rc;
        resp.elapse = end - cstart;
        detail[sizeof detail - 1] = '\0';
        code = classify(w, w->session, rc, &req, &resp, end, deadline, detail);
    }
    record(w, k, req.id, code, due, start, cstart, end);
}

/* The end of a worker or driver: its counts go to the run's; the last
 * one finishes the run. */
static void worker_end(lg_worker *w)
{
    lg_run *r = w->run;
    flush_samples(w);
    goc_mutex_lock(&r->mu);
    if (w->linked) {
        if (w->prev)
            w->prev->next = w->next;
        else
            r->workers = w->next;
        if (w->next)
            w->next->prev = w->prev;
    }
    for (int i = 0; i < C_N; i++)
        r->counts[i] += w->counts[i];
    for (int i = 0; i < GOC_CALL_ERR_N; i++)
        r->errs[i] += w->errs[i];
    r->waits += w->waits;
    if (w->last_issue > r->last_issue)
        r->last_issue = w->last_issue;
    goc_mutex_unlock(&r->mu);
}

static void worker_link(lg_worker *w)
{
    lg_run *r = w->run;
    goc_mutex_lock(&r->mu);
    w->next = r->workers;
    if (r->workers)
        r->workers->prev = w;
    r->workers = w;
    w->linked = true;
    goc_mutex_unlock(&r->mu);
}

static void worker_free(lg_worker *w)
{
    lg_run *r = w->run;
    goc_timer_free(w->timer);
    goc_chan_free(w->wake);
    free(w);
    if (atomic_fetch_sub(&r->nworkers, 1) == 1)
        run_finish(r);
}

/* ---- drivers: pipelined connections driven by the caller -------------- */

struct goc__pipe_ctx {
    lg_worker *w;
    char detail[GOC_CALL_MSG_MAX];
};

static void driver_main(void *arg);

/* Starts the next driver if the run has one more (ndrivers): true if it
 * did. The caller is a live driver or start. */
static bool spawn_driver(lg_run *r)
{
    int32_t n = atomic_load(&r->nworkers);
    do {
        if (n >= r->ndrivers)
            return false;
    } while (!atomic_compare_exchange_weak(&r->nworkers, &n, n + 1));
    lg_worker *w = calloc(1, sizeof *w);
    if (w) {
        w->run = r;
        int64_t left = r->max_in_flight - (int64_t)n * r->pipe_depth;
        w->depth = left < r->pipe_depth ? (int)left : r->pipe_depth;
        w->wake = goc_chan_make(0, 1);
        if (w->wake && goc_go(driver_main, w) == 0)
            return true;
        goc_chan_free(w->wake);
        free(w);
    }
    atomic_fetch_sub(&r->nworkers, 1);
    return false;
}

char *goc__pipe_msgbuf(goc__pipe_ctx *ctx)
{
    return ctx->detail;
}

/* Adds a driver's live counts to the run's. */
static void flush_live(lg_worker *w)
{
    lg_run *r = w->run;
    if (!w->live_completed)
        return;
    atomic_fetch_add(&r->completed, w->live_completed);
    atomic_fetch_add(&r->success, w->live_success);
    atomic_fetch_add(&r->timeouts, w->live_timeouts);
    atomic_fetch_add(&r->errors, w->live_errors);
    atomic_fetch_add(&r->canceled, w->live_canceled);
    w->live_completed = w->live_success = w->live_timeouts = w->live_errors =
        w->live_canceled = 0;
}

/* Sets the driver's share of run->busy to `n` calls, and the peak. */
static void driver_busy(lg_worker *w, int32_t n)
{
    lg_run *r = w->run;
    if (n == w->busy_counted)
        return;
    int32_t busy =
        atomic_fetch_add(&r->busy, n - w->busy_counted) + (n - w->busy_counted);
    w->busy_counted = n;
    int32_t peak = atomic_load_explicit(&r->peak, memory_order_relaxed);
    while (busy > peak && !atomic_compare_exchange_weak(&r->peak, &peak, busy))
        ;
}

/* Issues the driver's next window of calls (up to depth numbers, at one
 * time): false when the run has none left for it. */
static bool take_window(lg_worker *w)
{
    lg_run *r = w->run;
    flush_live(w);
    if (atomic_load(&r->stopping))
        return false;
    /* Closed model: due as they are taken, never late. */
    int64_t now = goc_nanotime();
    if (now >= r->t0 + r->duration)
        return false;
    int64_t j = atomic_fetch_add(&r->next, w->depth);
    if (j >= r->planned)
        return false;
    int64_t m = r->planned - j < w->depth ? r->planned - j : w->depth;
    /* In flight (and the peak) before counted as issued: whoever sees a
     * call counted (goc_loadgen_call_count) sees it in peak_in_flight. */
    driver_busy(w, w->inflight + (int32_t)m);
    atomic_fetch_add(&r->issued, m);
    atomic_fetch_add(&r->g->call_count, m);
    w->last_issue = now;
    if (!w->spawned) {
        w->spawned = true;
        if (j + m < r->planned)
            spawn_driver(r);
    }
    w->blk_next = j;
    w->blk_end = j + m;
    w->blk_now = now;
    return true;
}

bool goc__pipe_take(goc__pipe_ctx *ctx, goc__pcall *pc)
{
    lg_worker *w = ctx->w;
    lg_run *r = w->run;
    const goc_caller *c = &r->caller;
    while (!w->over) {
        if (w->blk_next == w->blk_end && !take_window(w))
            break;
        int64_t j = w->blk_next++, now = w->blk_now;
        pc->k = j;
        pc->due = pc->start = pc->cstart = now;
        pc->req = (goc_call_req){.seq = j, .id = j, .data = NULL, .len = 0};
        int rc = w->session_err;
        if (rc == 0 && c->build_req)
            rc = c->build_req(c->user, w->session, &pc->req);
        if (rc < 0) {
            set_msg(&w->res, "%s failed: %s",
                    w->session_err ? "session_open" : "build_req",
                    goc_strerror(rc));
            record(w, j, pc->req.id, GOC_RET_FATAL_CALL, now, now, now,
                   goc_nanotime());
            continue;
        }
        /* Its service time runs from its take: a driver takes a window of
         * calls and writes them at once (build_req is in it). */
        pc->deadline = now + r->timeout;
        w->inflight++;
        return true;
    }
    w->over = true;
    return false;
}

void goc__pipe_done(goc__pipe_ctx *ctx, goc__pcall *pc, int rc,
                    goc_call_resp *resp, int64_t end)
{
    lg_worker *w = ctx->w;
    w->inflight--;
    w->res.msg[0] = '\0';
    resp->id = pc->req.id;
    resp->err = rc;
    resp->elapse = end - pc->cstart;
    if (resp->msg && resp->msglen)
        resp->msg[resp->msglen - 1] = '\0';
    const char *detail = resp->msg ? resp->msg : "";
    int code = classify(w, w->session, rc, &pc->req, resp, end, pc->deadline,
                        rc < 0 ? detail : "");
    record(w, pc->k, pc->req.id, code, pc->due, pc->start, pc->cstart, end);
}

static void driver_main(void *arg)
{
    lg_worker *w = arg;
    lg_run *r = w->run;
    const goc_caller *c = &r->caller;
    goc__pipe_ctx ctx = {.w = w};
    int rc = r->pipe_ops->open(c->user, w->depth, &w->session);
    if (rc < 0) {
        w->session = NULL;
        w->session_err = rc;
    }
    worker_link(w);
    if (w->session_err) {
        goc__pcall pc; /* every call fails as GOC_RET_FATAL_CALL */
        while (goc__pipe_take(&ctx, &pc))
            ;
    } else {
        r->pipe_ops->drive(c->user, w->session, &ctx);
    }
    flush_live(w);
    driver_busy(w, 0);
    worker_end(w);
    if (!w->session_err)
        r->pipe_ops->close(c->user, w->session);
    worker_free(w);
}

static void worker_main(void *arg)
{
    lg_worker *w = arg;
    lg_run *r = w->run;
    const goc_caller *c = &r->caller;

    if (c->session_open) {
        int rc = c->session_open(c->user, &w->session);
        if (rc < 0) {
            w->session = NULL;
            w->session_err = rc;
        }
    }
    worker_link(w);

    for (;;) {
        int64_t j = atomic_fetch_add(&r->next, 1); /* this part's j-th */
        if (j >= r->planned || atomic_load(&r->stopping))
            break;
        int64_t k = r->part + j * r->parts; /* its number in the schedule */
        int64_t now = goc_nanotime();
        /* Closed model: due as it is taken, never late, never waits. */
        int64_t due =
            r->closed ? now : r->t0 + goc__loadgen_due_offset(k, r->lps);
        bool late = now > due;
        if (r->closed && now >= r->t0 + r->duration)
            break;
        /* The run ends at start + duration: a call not started by then
         * is not issued (report.not_issued), nor is any after it. */
        if (late && now >= r->t0 + r->duration)
            break;
        if (!late && !r->closed) {
            atomic_fetch_add(&r->idle, 1);
            wait_until(w, due);
            atomic_fetch_sub(&r->idle, 1);
            if (atomic_load(&r->stopping))
                break;
        }
        atomic_fetch_add(&r->issued, 1);
        atomic_fetch_add(&r->g->call_count, 1);
        if (late) {
            /* Every slot taken at the due time: all max_in_flight
             * workers existed by then, and none had taken k (a free one
             * would have, and waited for it). Otherwise the lateness is
             * the generator's: a worker started or run too late. */
            int64_t full = atomic_load(&r->full_at);
            atomic_fetch_add(&r->late, 1);
            if (full && full <= due)
                atomic_fetch_add(&r->late_no_slot, 1);
        }
        /* Issued now, unless it waited for its due time above. */
        w->last_issue = r->closed || late ? now : goc_nanotime();
        atomic_fetch_add(&r->busy, 1); /* until its call ends (one_call) */
        if (j + 1 < r->planned && (r->closed || need_worker(r)))
            spawn_worker(r);
        one_call(w, k, due);
    }

    worker_end(w);
    if (c->session_close && !w->session_err)
        c->session_close(c->user, w->session);
    worker_free(w);
}

/* ---- life cycle ------------------------------------------------------- */

bool goc_loadgen_start(goc_loadgen *g)
{
    if (!g)
        return false;
    uint32_t from = GOC_LOADGEN_ORIGINAL;
    if (!atomic_compare_exchange_strong(&g->status, &from,
                                        GOC_LOADGEN_STARTING)) {
        from = GOC_LOADGEN_STOPPED;
        if (!atomic_compare_exchange_strong(&g->status, &from,
                                            GOC_LOADGEN_STARTING))
            return false;
    }
    goc_mutex_lock(&g->mu);
    lg_run *r = NULL;
    if (!(g->result_ch && g->result_ch_closed))
        r = run_new(g);
    if (!r) {
        goc_mutex_unlock(&g->mu);
        atomic_store(&g->status, from);
        return false;
    }
    r->result_ch = g->result_ch;
    if (g->result_ch)
        g->result_ch_closed = true; /* this run will close it */
    lg_run *old = g->run;
    g->run = r;
    atomic_fetch_add(&r->refs, 1); /* the workers' reference */
    goc_mutex_unlock(&g->mu);
    if (old)
        run_unref(old);

    atomic_store(&g->call_count, 0);
    r->t0 = r->start_at ? r->start_at
                        : goc_nanotime() + (r->closed ? 0 : START_LEAD);
    atomic_store(&g->status, GOC_LOADGEN_STARTED);
    if (!(r->pipe_ops ? spawn_driver(r) : spawn_worker(r))) {
        /* No worker: the run ends at once, with nothing issued. */
        run_finish(r);
        return false;
    }
    return true;
}

bool goc_loadgen_stop(goc_loadgen *g)
{
    if (!g)
        return false;
    /* Under g->mu, so that the run taken is the one that is STARTED (start
     * swaps runs under g->mu before it stores STARTED). */
    goc_mutex_lock(&g->mu);
    uint32_t s = GOC_LOADGEN_STARTED;
    if (!atomic_compare_exchange_strong(&g->status, &s, GOC_LOADGEN_STOPPING)) {
        goc_mutex_unlock(&g->mu);
        return false;
    }
    lg_run *r = g->run;
    atomic_fetch_add(&r->refs, 1);
    goc_mutex_unlock(&g->mu);
    atomic_store(&r->stopping, true);
    goc_mutex_lock(&r->mu);
    for (lg_worker *w = r->workers; w; w = w->next) {
        goc_case tok = GOC_CASE_SEND(w->wake, NULL);
        goc_select(&tok, 1, true); /* full: a token is there already */
        if (r->caller.interrupt && !w->session_err)
            r->caller.interrupt(r->caller.user, w->session);
    }
    goc_mutex_unlock(&r->mu);
    goc_chan_recv(r->done_ch, NULL);
    run_unref(r);
    return true;
}

void goc_loadgen_wait(goc_loadgen *g)
{
    if (!g)
        return;
    lg_run *r = run_get(g);
    if (!r)
        return;
    goc_chan_recv(r->done_ch, NULL);
    run_unref(r);
}

goc_chan *goc_loadgen_done(goc_loadgen *g)
{
    if (!g)
        return NULL;
    goc_mutex_lock(&g->mu);
    goc_chan *c = g->run ? g->run->done_ch : NULL;
    goc_mutex_unlock(&g->mu);
    return c;
}

uint32_t goc_loadgen_status(goc_loadgen *g)
{
    return g ? atomic_load(&g->status) : GOC_LOADGEN_ORIGINAL;
}

int64_t goc_loadgen_call_count(goc_loadgen *g)
{
    return g ? atomic_load(&g->call_count) : 0;
}

int goc_loadgen_set_result_chan(goc_loadgen *g, goc_chan *ch)
{
    if (!g)
        return -EINVAL;
    goc_mutex_lock(&g->mu);
    uint32_t s = atomic_load(&g->status);
    int rc = -EBUSY;
    if (s == GOC_LOADGEN_ORIGINAL || s == GOC_LOADGEN_STOPPED) {
        g->result_ch = ch;
        g->result_ch_closed = false;
        rc = 0;
    }
    goc_mutex_unlock(&g->mu);
    return rc;
}

void goc_loadgen_free(goc_loadgen *g)
{
    if (!g)
        return;
    /* Stop a run in progress; wait out one that is starting or ending. */
    for (;;) {
        uint32_t s = atomic_load(&g->status);
        if (s == GOC_LOADGEN_ORIGINAL || s == GOC_LOADGEN_STOPPED)
            break;
        if (s == GOC_LOADGEN_STARTED && goc_loadgen_stop(g))
            break;
        if (s == GOC_LOADGEN_STOPPING)
            goc_loadgen_wait(g);
        else
            goc_yield();
    }
    if (g->run)
        run_unref(g->run);
    free(g);
}

/* ---- reports ---------------------------------------------------------- */

/* g's run, once it has finished, with its mu held (what the accessors
 * below read): 0; -ESRCH if g never ran; -EBUSY while it runs (nothing
 * held then). Released by run_put_finished. */
static int run_get_finished(goc_loadgen *g, lg_run **out)
{
    lg_run *r = run_get(g);
    if (!r)
        return -ESRCH;
    if (!atomic_load(&r->finished)) {
        run_unref(r);
        return -EBUSY;
    }
    goc_mutex_lock(&r->mu);
    *out = r;
    return 0;
}

static void run_put_finished(lg_run *r)
{
    goc_mutex_unlock(&r->mu);
    run_unref(r);
}

int goc_loadgen_report(goc_loadgen *g, struct goc_loadgen_report *out)
{
    if (!g || !out)
        return -EINVAL;
    lg_run *r;
    int rc = run_get_finished(g, &r);
    if (rc < 0)
        return rc;
    *out = r->report;
    run_put_finished(r);
    return 0;
}

int goc_loadgen_progress(goc_loadgen *g, struct goc_loadgen_progress *out)
{
    if (!g || !out)
        return -EINVAL;
    lg_run *r = run_get(g);
    if (!r)
        return -ESRCH;
    memset(out, 0, sizeof *out);
    bool fin = atomic_load(&r->finished);
    out->status = atomic_load(&g->status);
    if (fin) {
        goc_mutex_lock(&r->mu);
        out->elapsed = r->report.elapsed;
        goc_mutex_unlock(&r->mu);
    } else {
        int64_t now = goc_nanotime();
        out->elapsed = now > r->t0 ? now - r->t0 : 0;
    }
    out->issued = atomic_load(&r->issued);
    out->completed = atomic_load(&r->completed);
    out->success = atomic_load(&r->success);
    out->timeouts = atomic_load(&r->timeouts);
    out->errors = atomic_load(&r->errors);
    out->canceled = atomic_load(&r->canceled);
    if (atomic_load(&r->ivl_on)) {
        goc_mutex_lock(&r->mu);
        out->interval_count = (int64_t)goc__hist_count(&r->ivl);
        out->interval_p99 = goc__hist_percentile(&r->ivl, 99);
        out->interval_p50 = goc__hist_percentile(&r->ivl, 50);
        out->interval_max = goc__hist_max(&r->ivl);
        goc__hist_reset(&r->ivl);
        goc_mutex_unlock(&r->mu);
    } else {
        atomic_store(&r->ivl_on, true);
    }
    run_unref(r);
    return 0;
}

int64_t goc_loadgen_series(goc_loadgen *g, goc_loadgen_second *out, size_t cap)
{
    if (!g || (!out && cap))
        return -EINVAL;
    lg_run *r;
    int rc = run_get_finished(g, &r);
    if (rc < 0)
        return rc;
    int64_t n = r->series.err ? r->series.err : (int64_t)r->series.nrows;
    if (n > 0 && cap > 0)
        memcpy(out, r->series.rows,
               ((size_t)n < cap ? (size_t)n : cap) * sizeof *out);
    run_put_finished(r);
    return n;
}

_Static_assert(sizeof(goc_loadgen_bucket) == sizeof(goc__hist_slot) &&
                   offsetof(goc_loadgen_bucket, count) ==
                       offsetof(goc__hist_slot, count),
               "goc_loadgen_bucket is goc__hist_slot");

int64_t goc_loadgen_histogram(goc_loadgen *g, int which,
                              goc_loadgen_bucket *out, size_t cap)
{
    if (!g || (!out && cap) ||
        (which != GOC_LOADGEN_HIST_LATENCY &&
         which != GOC_LOADGEN_HIST_SERVICE))
        return -EINVAL;
    lg_run *r;
    int rc = run_get_finished(g, &r);
    if (rc < 0)
        return rc;
    const goc__hist *h = which == GOC_LOADGEN_HIST_LATENCY ? &r->lat : &r->svc;
    int64_t n = (int64_t)goc__hist_slots(h, (goc__hist_slot *)out, cap);
    run_put_finished(r);
    return n;
}

int64_t goc_loadgen_bucket_top(int64_t value)
{
    return goc__hist_slot_top(value);
}
