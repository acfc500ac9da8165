/*
 * mpi_merge_sim.c - what rank 0 of `mpirun -np N goc-loadgen` does at the
 * end, for N ranks without a cluster: N reports made as ranks make them
 * (a histogram of S latency samples each, a per-second series of D
 * seconds), written to JSON (the bytes each rank sends), then read back
 * and merged with lgr_merge, timed. Also checks the merge against one
 * histogram fed every sample. Built and run by bench/mpi_run.sh:
 *
 *     mpi_merge_sim [RANKS [SAMPLES_PER_RANK [SECONDS]]]
 *
 * Prints one BENCH line: json_bytes_per_rank, read_ms, merge_ms, and the
 * heartbeat traffic rank 0 receives per second (ranks x 10 beats of 56
 * bytes plus MPI's envelope, not counted).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "goc.h"
#include "report.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static double unif(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* A log-normal latency around 1 ms with a long tail. */
static int64_t sample(void)
{
    double z = sqrt(-2 * log(unif() + 1e-300)) * cos(6.283185307 * unif());
    return (int64_t)(1e6 * exp(0.8 * z)) + 20000;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A run's dist from sorted samples, bucketed as the engine does. */
static void make_dist(lgr_dist *d, int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_i64);
    memset(d, 0, sizeof *d);
    d->buckets = calloc(n, sizeof *d->buckets);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t t = goc_loadgen_bucket_top(v[i]);
        if (d->nbuckets && d->buckets[d->nbuckets - 1].value == t)
            d->buckets[d->nbuckets - 1].count++;
        else
            d->buckets[d->nbuckets++] = (goc_loadgen_bucket){t, 1};
        sum += (double)v[i];
    }
    d->count = n;
    d->min = v[0];
    d->max = v[n - 1];
    d->mean = sum / (double)n;
    for (size_t i = 0; i < d->nbuckets; i++) {
        int64_t *x = &d->buckets[i].value;
        *x = *x < d->min ? d->min : *x > d->max ? d->max : *x;
    }
}

int main(int argc, char **argv)
{
    int ranks = argc > 1 ? atoi(argv[1]) : 100;
    size_t per = argc > 2 ? (size_t)atol(argv[2]) : 60000;
    size_t secs = argc > 3 ? (size_t)atol(argv[3]) : 60;
    char **json = calloc((size_t)ranks, sizeof *json);
    size_t *len = calloc((size_t)ranks, sizeof *len);
    int64_t *all = malloc((size_t)ranks * per * sizeof *all);
    size_t total_bytes = 0;
    for (int r = 0; r < ranks; r++) {
        lgr_run run = {0};
        run.tool_version = run.library_version = (char *)"sim";
        run.host = (char *)"host";
        run.start_utc = (char *)"2026-12-06T00:00:00.000Z";
        run.target = (char *)"calc://127.0.0.1:1";
        run.rate = (int64_t)(per * (size_t)ranks / secs);
        run.duration_ns = (int64_t)secs * GOC_SECOND;
        run.timeout_ns = GOC_SECOND;
        run.max_in_flight = 100;
        run.planned = run.issued = (int64_t)per;
        run.codes[LGR_SUCCESS] = (int64_t)per;
        run.elapsed_ns = run.duration_ns;
        run.achieved_rate = (double)per / (double)secs;
        int64_t *v = all + (size_t)r * per, *w = malloc(per * sizeof *w);
        for (size_t i = 0; i < per; i++)
            v[i] = sample(), w[i] = sample() / 2;
        make_dist(&run.latency, v, per);
        make_dist(&run.service, w, per);
        free(w);
        run.nseconds = secs;
        run.series = calloc(secs, sizeof *run.series);
        for (size_t s = 0; s < secs; s++) {
            goc_loadgen_second *row = &run.series[s];
            row->issued = row->completed = row->success = (int64_t)(per / secs);
            row->p50 = 1000000, row->p90 = 2000000, row->p99 = 5000000;
            row->max = 9000000;
        }
        FILE *f = open_memstream(&json[r], &len[r]);
        lgr_write_json(f, &run);
        fclose(f);
        total_bytes += len[r];
        free(run.latency.buckets);
        free(run.service.buckets);
        free(run.series);
    }
    /* Rank 0: read every report, merge. */
    double t0 = now_ms();
    lgr_run *parts = calloc((size_t)ranks, sizeof *parts);
    const lgr_run **pp = calloc((size_t)ranks, sizeof *pp);
    char err[256];
    for (int r = 0; r < ranks; r++) {
        if (lgr_read_json(&parts[r], json[r], len[r], "sim", err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        pp[r] = &parts[r];
    }
    double t1 = now_ms();
    lgr_run m;
    if (lgr_merge(&m, pp, (size_t)ranks) != 0)
        return 1;
    double t2 = now_ms();
    /* The check: one histogram of every sample. */
    lgr_dist one;
    make_dist(&one, all, (size_t)ranks * per);
    int bad = m.latency.nbuckets != one.nbuckets;
    for (size_t i = 0; !bad && i < one.nbuckets; i++)
        bad = m.latency.buckets[i].value != one.buckets[i].value ||
              m.latency.buckets[i].count != one.buckets[i].count;
    for (int i = 0; i < LGR_NPCT; i++)
        bad |= lgr_percentile(&m.latency, lgr_pcts[i]) !=
               lgr_percentile(&one, lgr_pcts[i]);
    printf("BENCH mpi_merge ranks=%d samples_per_rank=%zu seconds=%zu "
           "buckets_per_rank=%zu json_bytes_per_rank=%zu read_ms=%.1f "
           "merge_ms=%.1f beat_bytes_per_s=%d exact=%s\n",
           ranks, per, secs, parts[0].latency.nbuckets,
           total_bytes / (size_t)ranks, t1 - t0, t2 - t1, ranks * 10 * 56,
           bad ? "NO" : "yes");
    return bad;
}
