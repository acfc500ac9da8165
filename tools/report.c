/*
 * report.c - a run as data (report.h), and the plain-text files made from
 * it: the .hgrm percentile distribution and the per-second CSV log.
 */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const lgr_code_keys[LGR_NCODES] = {"0",    "1001", "1002", "2001",
                                               "2002", "2003", "3001", "other"};

const double lgr_pcts[LGR_NPCT] = {50, 75, 90, 95, 99, 99.9, 99.99, 99.999};
const char *const lgr_pct_keys[LGR_NPCT] = {
    "p50", "p75", "p90", "p95", "p99", "p99.9", "p99.99", "p99.999"};

const char *lgr_code_name(int i)
{
    static const int codes[LGR_NCODES] = {GOC_RET_SUCCESS,
                                          GOC_RET_WARNING_CALL_TIMEOUT,
                                          GOC_RET_WARNING_CALL_CANCELED,
                                          GOC_RET_ERROR_CALL,
                                          GOC_RET_ERROR_RESPONSE,
                                          GOC_RET_ERROR_CALEE,
                                          GOC_RET_FATAL_CALL,
                                          -1};
    if (i < 0 || i >= LGR_NCODES || codes[i] < 0)
        return "Other codes";
    return goc_ret_code_plain(codes[i]);
}

int64_t lgr_percentile(const lgr_dist *d, double p)
{
    if (d->count == 0)
        return 0;
    if (!(p > 0))
        return d->min;
    if (p >= 100)
        return d->max;
    double x = p / 100.0 * (double)d->count;
    x -= x * 1e-12; /* as the engine: 99.9% of 100000 is rank 99900 */
    uint64_t rank = (uint64_t)x;
    if ((double)rank < x)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < d->nbuckets; i++) {
        seen += d->buckets[i].count;
        if (seen >= rank)
            return d->buckets[i].value;
    }
    return d->max;
}

void lgr_fmt_utc(char *buf, size_t len, int64_t wall_ns)
{
    time_t t = (time_t)(wall_ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(wall_ns / 1000000 % 1000));
}

static int fill_dist(lgr_dist *d, goc_loadgen *g, int which,
                     const goc_loadgen_latency *l)
{
    d->count = l->count;
    d->min = l->min;
    d->max = l->max;
    d->mean = l->mean;
    int64_t n = goc_loadgen_histogram(g, which, NULL, 0);
    if (n < 0)
        return (int)n;
    d->buckets = calloc(n ? (size_t)n : 1, sizeof *d->buckets);
    if (!d->buckets)
        return -ENOMEM;
    n = goc_loadgen_histogram(g, which, d->buckets, (size_t)n);
    if (n < 0)
        return (int)n;
    d->nbuckets = (size_t)n;
    return 0;
}

int lgr_from_loadgen(lgr_run *r, goc_loadgen *g, const char *target,
                     bool keepalive, bool interrupted, int64_t wall_minus_mono)
{
    memset(r, 0, sizeof *r);
    struct goc_loadgen_report rep;
    int rc = goc_loadgen_report(g, &rep);
    if (rc < 0)
        return rc;
    char host[256] = "", utc[40];
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    lgr_fmt_utc(utc, sizeof utc, rep.start + wall_minus_mono);
    r->tool_version = strdup(GOC_VERSION_STRING);
    r->library_version = strdup(GOC_VERSION_STRING);
    r->host = strdup(host);
    r->start_utc = strdup(utc);
    r->target = strdup(target);
    r->rate = rep.lps;
    r->duration_ns = rep.duration;
    r->timeout_ns = rep.timeout;
    r->max_in_flight = rep.max_in_flight;
    r->keepalive = keepalive;
    r->interrupted = interrupted;
    r->stopped_early = rep.stopped_early;
    r->planned = rep.planned;
    r->issued = rep.issued;
    r->not_issued = rep.not_issued;
    r->late = rep.late;
    r->late_no_slot = rep.late_no_slot;
    int64_t codes[LGR_NCODES] = {rep.success,         rep.timeouts,
                                 rep.canceled,        rep.call_errors,
                                 rep.response_errors, rep.callee_errors,
                                 rep.fatal_calls,     rep.other_codes};
    memcpy(r->codes, codes, sizeof codes);
    r->errors = calloc(GOC_CALL_ERR_N, sizeof *r->errors);
    if (!r->errors)
        goto nomem;
    for (int k = 1; k < GOC_CALL_ERR_N; k++) {
        lgr_named *e = &r->errors[r->nerrors++];
        e->name = strdup(goc_call_err_name(k));
        if (!e->name)
            goto nomem;
        for (char *c = e->name; *c; c++)
            if (*c == ' ')
                *c = '_';
        e->count = rep.errors[k];
        if (rep.errors[k] && rep.first_error[k][0])
            e->first = strdup(rep.first_error[k]);
    }
    r->achieved_rate = rep.achieved_rate;
    r->success_rate = rep.success_rate;
    r->result_waits = rep.result_waits;
    r->peak_in_flight = rep.peak_in_flight;
    r->elapsed_ns = rep.elapsed;
    if ((rc = fill_dist(&r->latency, g, GOC_LOADGEN_HIST_LATENCY,
                        &rep.latency)) < 0 ||
        (rc = fill_dist(&r->service, g, GOC_LOADGEN_HIST_SERVICE,
                        &rep.service)) < 0)
        goto fail;
    int64_t n = goc_loadgen_series(g, NULL, 0);
    if (n < 0) {
        rc = (int)n;
        goto fail;
    }
    r->series = calloc(n ? (size_t)n : 1, sizeof *r->series);
    if (!r->series)
        goto nomem;
    n = goc_loadgen_series(g, r->series, (size_t)n);
    r->nseconds = n > 0 ? (size_t)n : 0;
    if (!r->tool_version || !r->library_version || !r->host || !r->start_utc ||
        !r->target)
        goto nomem;
    return 0;
nomem:
    rc = -ENOMEM;
fail:
    lgr_free(r);
    return rc;
}

static void free_named(lgr_named *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].first);
    }
    free(v);
}

void lgr_free(lgr_run *r)
{
    free(r->source);
    free(r->tool_version);
    free(r->library_version);
    free(r->host);
    free(r->start_utc);
    free(r->target);
    free_named(r->errors, r->nerrors);
    free_named(r->statuses, r->nstatuses);
    free(r->latency.buckets);
    free(r->service.buckets);
    free(r->series);
    free(r->extra_json);
    memset(r, 0, sizeof *r);
}

FILE *lgr_open(const char *path)
{
    if (strcmp(path, "-") == 0)
        return stdout;
    return fopen(path, "w");
}

int lgr_close(FILE *f, const char *path)
{
    int bad = ferror(f);
    if (strcmp(path, "-") == 0 || f == stdout)
        bad |= fflush(f) != 0;
    else
        bad |= fclose(f) != 0;
    return bad ? -(errno ? errno : EIO) : 0;
}

/* ---- .hgrm ------------------------------------------------------------ */

/* The percentile iteration of HdrHistogram (hdr_iter_percentile, 5 ticks
 * per half distance): starting at 0%, report the first slot whose running
 * count reaches the next reporting level, the levels getting closer as
 * they near 100% (each halving of the distance to 100% gets 10 lines);
 * then a last line at 100%. */
int lgr_write_hgrm(FILE *f, const lgr_dist *d)
{
    const double scale = 1e6; /* ns -> ms */
    const int ticks = 5;
    fprintf(f, "%12s %12s %12s %12s\n\n", "Value", "Percentile", "TotalCount",
            "1/(1-Percentile)");
    double to = 0;
    uint64_t cum = 0;
    for (size_t i = 0; i < d->nbuckets && d->count; i++) {
        cum += d->buckets[i].count;
        double cur = 100.0 * (double)cum / (double)d->count;
        double v = (double)d->buckets[i].value / scale;
        while (to <= cur) {
            double p = to / 100.0;
            fprintf(f, "%12.3f %12f %12" PRIu64 " %12.2f\n", v, p, cum,
                    1.0 / (1.0 - p));
            int64_t t = (int64_t)(log(100.0 / (100.0 - to)) / log(2)) + 1;
            to += 100.0 / (double)(ticks * (int64_t)pow(2, (double)t));
            if (cum == d->count)
                break; /* one line at the last slot, then 100% */
        }
        if (cum == d->count) {
            fprintf(f, "%12.3f %12f %12" PRIu64 " %12.2f\n", v, 1.0, cum,
                    (double)INFINITY);
            break;
        }
    }
    /* The standard deviation from the slots (as HdrHistogram's). */
    double var = 0;
    for (size_t i = 0; i < d->nbuckets; i++) {
        double dv = (double)d->buckets[i].value - d->mean;
        var += dv * dv * (double)d->buckets[i].count;
    }
    double sd = d->count ? sqrt(var / (double)d->count) : 0;
    fprintf(f,
            "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n"
            "#[Max     = %12.3f, Total count    = %12" PRIu64 "]\n"
            "#[Buckets = %12d, SubBuckets     = %12d]\n",
            d->mean / scale, sd / scale, (double)d->max / scale, d->count, 26,
            2048);
    return ferror(f) ? -EIO : 0;
}

/* ---- per-second CSV ----------------------------------------------------- */

int lgr_write_csv(FILE *f, const lgr_run *r)
{
    fprintf(f, "second,issued,completed,success,timeouts,canceled,"
               "call_errors,response_errors,callee_errors,fatal_calls,"
               "other_codes,p50_ns,p90_ns,p99_ns,max_ns\n");
    for (size_t i = 0; i < r->nseconds; i++) {
        const goc_loadgen_second *s = &r->series[i];
        fprintf(f,
                "%zu,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "\n",
                i, s->issued, s->completed, s->success, s->timeouts,
                s->canceled, s->call_errors, s->response_errors,
                s->callee_errors, s->fatal_calls, s->other_codes, s->p50,
                s->p90, s->p99, s->max);
    }
    return ferror(f) ? -EIO : 0;
}
