/*
 * test_report_merge.c - lgr_merge (tools/report_merge.c): the parts of
 * one run merged on rank 0 of goc-loadgen's MPI mode. The merged
 * histogram must be exactly the one a single histogram fed every sample
 * gives (same buckets, same percentiles), counts must add up, and the
 * per-second rows align on their index.
 */
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc_test.h"
#include "loadgen/hist.h"
#include "report.h"

/* d from a histogram, as lgr_from_loadgen makes it from a generator. */
static void dist_from_hist(lgr_dist *d, const goc__hist *h)
{
    memset(d, 0, sizeof *d);
    d->count = goc__hist_count(h);
    d->min = goc__hist_min(h);
    d->max = goc__hist_max(h);
    d->mean = goc__hist_mean(h);
    size_t n = goc__hist_slots(h, NULL, 0);
    d->buckets = calloc(n ? n : 1, sizeof *d->buckets);
    ASSERT(d->buckets != NULL);
    d->nbuckets = goc__hist_slots(h, (goc__hist_slot *)d->buckets, n);
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* Samples spread over parts, every part's own min and max somewhere
 * inside the others' slots: the clamping must not survive the merge. */
GOC_TEST(report_merge_dist_exact)
{
    enum { PARTS = 5 };
    goc__hist all, part[PARTS];
    ASSERT_EQ(goc__hist_init(&all), 0);
    for (int i = 0; i < PARTS; i++)
        ASSERT_EQ(goc__hist_init(&part[i]), 0);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 200000; i++) {
        int p = (int)(rnd(&x) % PARTS);
        int64_t v;
        switch (rnd(&x) % 4) {
        case 0:
            v = (int64_t)(rnd(&x) % 3000); /* below 1 us too */
            break;
        case 1:
            v = 100000 + (int64_t)(rnd(&x) % 900000);
            break;
        case 2:
            v = (int64_t)(rnd(&x) % 2000000000);
            break;
        default:
            v = (int64_t)(rnd(&x) % 70000000000); /* past 60 s too */
        }
        goc__hist_record(&part[p], v);
        goc__hist_record(&all, v);
    }
    /* A part with one sample, and an empty one. */
    goc__hist one, none;
    ASSERT_EQ(goc__hist_init(&one), 0);
    ASSERT_EQ(goc__hist_init(&none), 0);
    goc__hist_record(&one, 123457);
    goc__hist_record(&all, 123457);
    lgr_dist d[PARTS + 2], want, got;
    const lgr_dist *dp[PARTS + 2];
    for (int i = 0; i < PARTS; i++)
        dist_from_hist(&d[i], &part[i]), dp[i] = &d[i];
    dist_from_hist(&d[PARTS], &one), dp[PARTS] = &d[PARTS];
    dist_from_hist(&d[PARTS + 1], &none), dp[PARTS + 1] = &d[PARTS + 1];
    dist_from_hist(&want, &all);
    ASSERT_EQ(lgr_merge_dist(&got, dp, PARTS + 2), 0);
    ASSERT_EQ(got.count, want.count);
    ASSERT_EQ(got.min, want.min);
    ASSERT_EQ(got.max, want.max);
    ASSERT_EQ(got.nbuckets, want.nbuckets);
    for (size_t i = 0; i < want.nbuckets; i++) {
        ASSERT_EQ(got.buckets[i].value, want.buckets[i].value);
        ASSERT_EQ(got.buckets[i].count, want.buckets[i].count);
    }
    static const double ps[] = {0,  1,    25,    50,     75,      90,
                                99, 99.9, 99.99, 99.999, 99.9999, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        ASSERT_EQ(lgr_percentile(&got, ps[i]),
                  goc__hist_percentile(&all, ps[i]));
        ASSERT_EQ(lgr_percentile(&got, ps[i]), lgr_percentile(&want, ps[i]));
    }
    double rel = (got.mean - want.mean) / want.mean;
    ASSERT(rel < 1e-9 && rel > -1e-9);
    for (int i = 0; i < PARTS + 2; i++)
        free(d[i].buckets);
    free(want.buckets);
    free(got.buckets);
    for (int i = 0; i < PARTS; i++)
        goc__hist_free(&part[i]);
    goc__hist_free(&one);
    goc__hist_free(&none);
    goc__hist_free(&all);
    return 0;
}

/* Counts, named counts and the series of whole runs. */
GOC_TEST(report_merge_runs)
{
    lgr_run r[3];
    const lgr_run *rp[3];
    goc_loadgen_second rows[3][4];
    lgr_named errs[3][1], sts[3][2];
    memset(r, 0, sizeof r);
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < 3; i++) {
        r[i].tool_version = r[i].library_version = (char *)"1";
        r[i].host = (char *)"h";
        r[i].start_utc = (char *)"t";
        r[i].target = (char *)"calc://x";
        r[i].rate = 900;
        r[i].duration_ns = GOC_SECOND;
        r[i].timeout_ns = GOC_SECOND;
        r[i].max_in_flight = 10;
        r[i].planned = 300;
        r[i].issued = 300 - i;
        r[i].not_issued = i;
        r[i].codes[LGR_SUCCESS] = 290 - i;
        r[i].codes[LGR_CALL] = 10;
        r[i].achieved_rate = 300;
        r[i].elapsed_ns = GOC_SECOND + i;
        errs[i][0] = (lgr_named){.name = (char *)"connect_refused",
                                 .count = 10,
                                 .first = i == 1 ? (char *)"refused" : NULL};
        r[i].errors = errs[i];
        r[i].nerrors = 1;
        sts[i][0] = (lgr_named){.name = (char *)"200", .count = 5};
        sts[i][1] =
            (lgr_named){.name = i ? (char *)"503" : (char *)"404", .count = 1};
        r[i].statuses = sts[i];
        r[i].nstatuses = 2;
        r[i].nseconds = (size_t)(2 + i);
        r[i].series = rows[i];
        for (int s = 0; s < 2 + i; s++) {
            rows[i][s].issued = 10 * (i + 1);
            rows[i][s].success = 10 * (i + 1);
            rows[i][s].completed = 10 * (i + 1);
            rows[i][s].p99 = 1000 * (3 - i);
            rows[i][s].max = 1000 * (i + 1);
        }
        rp[i] = &r[i];
    }
    lgr_run m;
    ASSERT_EQ(lgr_merge(&m, rp, 3), 0);
    ASSERT_EQ(m.planned, 900);
    ASSERT_EQ(m.issued, 897);
    ASSERT_EQ(m.not_issued, 3);
    int64_t sum = 0;
    for (int c = 0; c < LGR_NCODES; c++)
        sum += m.codes[c];
    ASSERT_EQ(sum, m.issued);
    ASSERT_EQ(m.max_in_flight, 30);
    /* Over the longest window: part 0's, 300 calls at 300/s. */
    ASSERT(m.achieved_rate > 896.999 && m.achieved_rate < 897.001);
    ASSERT_EQ(m.elapsed_ns, GOC_SECOND + 2);
    ASSERT_EQ(m.nerrors, 1);
    ASSERT_EQ(m.errors[0].count, 30);
    ASSERT_STR_EQ(m.errors[0].first, "refused");
    ASSERT_EQ(m.nstatuses, 3);
    ASSERT_EQ(m.statuses[0].count, 15);
    ASSERT_EQ(m.nseconds, 4);
    ASSERT_EQ(m.series[0].issued, 60);
    ASSERT_EQ(m.series[2].issued, 50);
    ASSERT_EQ(m.series[3].issued, 30);
    ASSERT_EQ(m.series[0].max, 3000);
    ASSERT_EQ(m.series[0].p99, 3000);
    ASSERT_EQ(m.series[3].p99, 1000);
    struct goc_loadgen_report rep;
    lgr_to_report(&m, &rep);
    ASSERT_EQ(rep.issued, 897);
    ASSERT_EQ(rep.call_errors, 30);
    ASSERT_EQ(rep.errors[GOC_CALL_ERR_CONNECT_REFUSED], 30);
    ASSERT_STR_EQ(rep.first_error[GOC_CALL_ERR_CONNECT_REFUSED], "refused");
    lgr_free(&m);
    return 0;
}
