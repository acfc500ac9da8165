/*
 * report_merge.c - one run from its parts (lgr_merge, report.h): what
 * goc-loadgen's rank 0 does with the reports of every rank. Exact where
 * the parts carry the data (counts, histograms); the per-second
 * percentiles are the one bound (see report.h).
 *
 * Why exact: a histogram's bucket is (top of its slot clamped to min and
 * max, count). Two runs' buckets are one slot exactly when the tops
 * agree (goc_loadgen_bucket_top undoes the clamping: min and max lie in
 * their own slots), so adding counts per top, then clamping the first and
 * last top to the merged min and max, gives the buckets one histogram fed
 * every sample would have; percentiles are read from buckets only.
 * Cost: O(B log B) for B buckets in all (a sort), B <= 26,389 per part.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static int cmp_bucket(const void *a, const void *b)
{
    const goc_loadgen_bucket *x = a, *y = b;
    return (x->value > y->value) - (x->value < y->value);
}

int lgr_merge_dist(lgr_dist *out, const lgr_dist *const *d, size_t n)
{
    memset(out, 0, sizeof *out);
    size_t total = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        total += d[i]->nbuckets;
        if (d[i]->count == 0)
            continue;
        if (out->count == 0 || d[i]->min < out->min)
            out->min = d[i]->min;
        if (out->count == 0 || d[i]->max > out->max)
            out->max = d[i]->max;
        out->count += d[i]->count;
        sum += d[i]->mean * (double)d[i]->count;
    }
    out->mean = out->count ? sum / (double)out->count : 0;
    out->buckets = calloc(total ? total : 1, sizeof *out->buckets);
    if (!out->buckets)
        return -ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d[i]->nbuckets; j++) {
            out->buckets[m].value =
                goc_loadgen_bucket_top(d[i]->buckets[j].value);
            out->buckets[m++].count = d[i]->buckets[j].count;
        }
    qsort(out->buckets, m, sizeof *out->buckets, cmp_bucket);
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (k > 0 && out->buckets[k - 1].value == out->buckets[i].value)
            out->buckets[k - 1].count += out->buckets[i].count;
        else
            out->buckets[k++] = out->buckets[i];
    }
    for (size_t i = 0; i < k; i++) {
        int64_t *v = &out->buckets[i].value;
        *v = *v < out->min ? out->min : *v > out->max ? out->max : *v;
    }
    out->nbuckets = k;
    return 0;
}

/* Adds src's named counts to *dst (by name; the first message kept is
 * the first part's that had one). */
static int merge_named(lgr_named **dst, size_t *ndst, const lgr_named *src,
                       size_t nsrc)
{
    for (size_t i = 0; i < nsrc; i++) {
        size_t j = 0;
        while (j < *ndst && strcmp((*dst)[j].name, src[i].name) != 0)
            j++;
        if (j == *ndst) {
            lgr_named *v = realloc(*dst, (*ndst + 1) * sizeof **dst);
            if (!v)
                return -ENOMEM;
            *dst = v;
            v[j] = (lgr_named){.name = strdup(src[i].name)};
            (*ndst)++;
            if (!v[j].name)
                return -ENOMEM;
        }
        (*dst)[j].count += src[i].count;
        if (!(*dst)[j].first && src[i].first &&
            !((*dst)[j].first = strdup(src[i].first)))
            return -ENOMEM;
    }
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int lgr_merge(lgr_run *out, const lgr_run *const *parts, size_t n)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return -EINVAL;
    const lgr_run *a = parts[0];
    out->tool_version = dup_or_null(a->tool_version);
    out->library_version = dup_or_null(a->library_version);
    out->host = dup_or_null(a->host);
    out->start_utc = dup_or_null(a->start_utc);
    out->target = dup_or_null(a->target);
    out->rate = a->rate;
    out->duration_ns = a->duration_ns;
    out->timeout_ns = a->timeout_ns;
    out->keepalive = a->keepalive;
    const lgr_dist **lat = calloc(n, sizeof *lat),
                   **svc = calloc(n, sizeof *svc);
    size_t nsec = 0;
    int rc = -ENOMEM;
    if (!lat || !svc)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const lgr_run *p = parts[i];
        out->max_in_flight += p->max_in_flight;
        out->interrupted |= p->interrupted;
        out->stopped_early |= p->stopped_early;
        out->planned += p->planned;
        out->issued += p->issued;
        out->not_issued += p->not_issued;
        out->late += p->late;
        out->late_no_slot += p->late_no_slot;
        for (int c = 0; c < LGR_NCODES; c++)
            out->codes[c] += p->codes[c];
        if (merge_named(&out->errors, &out->nerrors, p->errors, p->nerrors) <
                0 ||
            merge_named(&out->statuses, &out->nstatuses, p->statuses,
                        p->nstatuses) < 0)
            goto fail;
        out->achieved_rate += p->achieved_rate;
        out->success_rate += p->success_rate;
        out->result_waits += p->result_waits;
        out->peak_in_flight += p->peak_in_flight;
        if (p->elapsed_ns > out->elapsed_ns)
            out->elapsed_ns = p->elapsed_ns;
        lat[i] = &p->latency;
        svc[i] = &p->service;
        if (p->nseconds > nsec)
            nsec = p->nseconds;
    }
    /* Rates over the union's window: the longest of the parts' (each
     * part's is its issued / achieved_rate). */
    double win = 0;
    for (size_t i = 0; i < n; i++)
        if (parts[i]->issued > 0 && parts[i]->achieved_rate > 0) {
            double w = (double)parts[i]->issued / parts[i]->achieved_rate;
            win = w > win ? w : win;
        }
    if (win > 0) {
        out->achieved_rate = (double)out->issued / win;
        out->success_rate = (double)out->codes[LGR_SUCCESS] / win;
    }
    if (lgr_merge_dist(&out->latency, lat, n) < 0 ||
        lgr_merge_dist(&out->service, svc, n) < 0)
        goto fail;
    out->series = calloc(nsec ? nsec : 1, sizeof *out->series);
    if (!out->series)
        goto fail;
    out->nseconds = nsec;
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < parts[i]->nseconds; s++) {
            goc_loadgen_second *o = &out->series[s];
            const goc_loadgen_second *p = &parts[i]->series[s];
            o->issued += p->issued;
            o->completed += p->completed;
            o->success += p->success;
            o->timeouts += p->timeouts;
            o->call_errors += p->call_errors;
            o->response_errors += p->response_errors;
            o->callee_errors += p->callee_errors;
            o->fatal_calls += p->fatal_calls;
            o->other_codes += p->other_codes;
            o->canceled += p->canceled;
#define UP(f) o->f = p->f > o->f ? p->f : o->f
            UP(p50);
            UP(p90);
            UP(p99);
            UP(max);
#undef UP
        }
    if (!out->tool_version || !out->library_version || !out->host ||
        !out->start_utc || !out->target)
        goto fail;
    free(lat);
    free(svc);
    return 0;
fail:
    free(lat);
    free(svc);
    lgr_free(out);
    return rc;
}

static void to_latency(goc_loadgen_latency *l, const lgr_dist *d)
{
    l->count = d->count;
    l->min = d->count ? d->min : 0;
    l->p50 = lgr_percentile(d, 50);
    l->p90 = lgr_percentile(d, 90);
    l->p99 = lgr_percentile(d, 99);
    l->p999 = lgr_percentile(d, 99.9);
    l->p9999 = lgr_percentile(d, 99.99);
    l->max = d->count ? d->max : 0;
    l->mean = d->mean;
}

void lgr_to_report(const lgr_run *r, struct goc_loadgen_report *out)
{
    memset(out, 0, sizeof *out);
    out->status = GOC_LOADGEN_STOPPED;
    out->stopped_early = r->stopped_early;
    out->lps = r->rate;
    out->timeout = r->timeout_ns;
    out->duration = r->duration_ns;
    out->max_in_flight = r->max_in_flight;
    out->planned = r->planned;
    out->issued = r->issued;
    out->not_issued = r->not_issued;
    out->late = r->late;
    out->late_no_slot = r->late_no_slot;
    out->success = r->codes[LGR_SUCCESS];
    out->timeouts = r->codes[LGR_TIMEOUT];
    out->canceled = r->codes[LGR_CANCELED];
    out->call_errors = r->codes[LGR_CALL];
    out->response_errors = r->codes[LGR_RESPONSE];
    out->callee_errors = r->codes[LGR_CALLEE];
    out->fatal_calls = r->codes[LGR_FATAL];
    out->other_codes = r->codes[LGR_OTHER];
    for (int k = 1; k < GOC_CALL_ERR_N; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s", goc_call_err_name(k));
        for (char *c = name; *c; c++)
            if (*c == ' ')
                *c = '_';
        for (size_t i = 0; i < r->nerrors; i++)
            if (strcmp(r->errors[i].name, name) == 0) {
                out->errors[k] = r->errors[i].count;
                if (r->errors[i].first)
                    snprintf(out->first_error[k], sizeof out->first_error[k],
                             "%s", r->errors[i].first);
            }
    }
    out->result_waits = r->result_waits;
    out->peak_in_flight = r->peak_in_flight;
    out->elapsed = r->elapsed_ns;
    out->achieved_rate = r->achieved_rate;
    out->success_rate = r->success_rate;
    to_latency(&out->latency, &r->latency);
    to_latency(&out->service, &r->service);
}
