/*
 * test_hist.c - the latency histogram (src/loadgen/hist.c): accuracy
 * against exact order statistics, merging, clamping, the exact mean.
 */
#include "goc_test.h"
#include "loadgen/hist.h"

#define NVALUES 100000

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* A value spread evenly over the octaves of [1 us, 60 s]. */
static int64_t rng_latency(uint64_t *s)
{
    int shift = (int)(rng_next(s) % 26); /* 1000 << 25 is about 33 s */
    int64_t v = (int64_t)1000 << shift;
    v += (int64_t)(rng_next(s) % (uint64_t)v);
    return v > GOC__HIST_HIGHEST ? GOC__HIST_HIGHEST : v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Percentiles as num/den, so that the exact rank is integer arithmetic. */
static const struct {
    long num, den;
} pcts[] = {{0, 1},        {1, 1},   {10, 1},   {25, 1},   {50, 1},
            {75, 1},       {90, 1},  {99, 1},   {999, 10}, {9999, 100},
            {99999, 1000}, {100, 1}, {333, 10}, {1, 1000}, {500001, 10000}};

/* Checks every percentile of h against the sorted values v[0, n). */
static void check_against(const goc__hist *h, const int64_t *v, long n)
{
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        long num = pcts[i].num, den = pcts[i].den;
        /* rank = ceil(p/100 * n), at least 1 */
        long rank = (num * n + den * 100 - 1) / (den * 100);
        if (rank < 1)
            rank = 1;
        int64_t exact = v[rank - 1];
        int64_t got = goc__hist_percentile(h, (double)num / (double)den);
        if (!(got >= exact && (got - exact) * 1000 <= exact))
            GOC_FAIL_("p%g: got %" PRId64 ", exact %" PRId64 " (rank %ld)",
                      (double)num / (double)den, got, exact, rank);
    }
    ASSERT_EQ(goc__hist_percentile(h, 0), v[0]);
    ASSERT_EQ(goc__hist_percentile(h, 100), v[n - 1]);
    ASSERT_EQ(goc__hist_min(h), v[0]);
    ASSERT_EQ(goc__hist_max(h), v[n - 1]);
    long double sum = 0;
    for (long i = 0; i < n; i++)
        sum += v[i];
    double mean = (double)(sum / n);
    double d = goc__hist_mean(h) - mean;
    ASSERT((d < 0 ? -d : d) <= mean * 1e-12);
}

GOC_TEST(hist_empty)
{
    goc__hist h;
    ASSERT_EQ(goc__hist_init(&h), 0);
    ASSERT_UEQ(goc__hist_count(&h), 0);
    ASSERT_EQ(goc__hist_min(&h), 0);
    ASSERT_EQ(goc__hist_max(&h), 0);
    ASSERT_EQ(goc__hist_percentile(&h, 50), 0);
    ASSERT(goc__hist_mean(&h) == 0);
    goc__hist_free(&h);
    goc__hist_free(NULL);
    return 0;
}

GOC_TEST(hist_percentile_accuracy)
{
    static int64_t v[NVALUES];
    uint64_t seed = 42;
    goc__hist *h = goc__hist_new();
    ASSERT(h != NULL);
    for (long i = 0; i < NVALUES; i++) {
        v[i] = rng_latency(&seed);
        goc__hist_record(h, v[i]);
    }
    ASSERT_UEQ(goc__hist_count(h), NVALUES);
    qsort(v, NVALUES, sizeof v[0], cmp_i64);
    check_against(h, v, NVALUES);

    /* Narrow band, many ties: 1 ms .. 1.1 ms. */
    goc__hist_reset(h);
    for (long i = 0; i < NVALUES; i++) {
        v[i] = 1000000 + (int64_t)(rng_next(&seed) % 100000);
        goc__hist_record(h, v[i]);
    }
    qsort(v, NVALUES, sizeof v[0], cmp_i64);
    check_against(h, v, NVALUES);

    /* Small values are exact. */
    goc__hist_reset(h);
    for (long i = 0; i < 1048; i++) {
        v[i] = 1000 + i;
        goc__hist_record(h, v[i]);
    }
    for (int p = 1; p < 100; p++)
        ASSERT_EQ(goc__hist_percentile(h, p), 1000 + (p * 1048 + 99) / 100 - 1);
    goc__hist_free(h);
    return 0;
}

/* Each slot is at most 1/1024 of its values wide, at every boundary. */
GOC_TEST(hist_slot_width)
{
    goc__hist h;
    ASSERT_EQ(goc__hist_init(&h), 0);
    for (int k = 10; k <= 35; k++)
        for (int64_t d = -3; d <= 3; d++) {
            int64_t base = (int64_t)1 << k;
            for (int64_t v = base + d; v <= base * 2; v += base / 7 + 1) {
                if (v < GOC__HIST_LOWEST || v >= GOC__HIST_HIGHEST)
                    continue;
                goc__hist_reset(&h);
                goc__hist_record(&h, v);
                goc__hist_record(&h, GOC__HIST_HIGHEST);
                int64_t top = goc__hist_percentile(&h, 50);
                if (!(top >= v && (top - v) * 1024 < v))
                    GOC_FAIL_("v %" PRId64 ": slot top %" PRId64, v, top);
            }
        }
    goc__hist_free(&h);
    return 0;
}

GOC_TEST(hist_merge_equals_single)
{
    goc__hist a, b, all;
    uint64_t seed = 7;
    ASSERT_EQ(goc__hist_init(&a), 0);
    ASSERT_EQ(goc__hist_init(&b), 0);
    ASSERT_EQ(goc__hist_init(&all), 0);
    for (int i = 0; i < NVALUES; i++) {
        int64_t x = rng_latency(&seed);
        if (i % 97 == 0)
            x = (int64_t)(rng_next(&seed) % 2000) - 1000; /* below range */
        if (i % 89 == 0)
            x = GOC__HIST_HIGHEST + (int64_t)(rng_next(&seed) % 1000);
        goc__hist_record(rng_next(&seed) & 1 ? &a : &b, x);
        goc__hist_record(&all, x);
    }
    goc__hist_merge(&a, &b);
    ASSERT_UEQ(a.count, all.count);
    ASSERT_UEQ(a.below, all.below);
    ASSERT_UEQ(a.above, all.above);
    ASSERT_EQ(a.min, all.min);
    ASSERT_EQ(a.max, all.max);
    ASSERT_UEQ(a.sum_lo, all.sum_lo);
    ASSERT_UEQ(a.sum_hi, all.sum_hi);
    ASSERT(memcmp(a.counts, all.counts, GOC__HIST_SLOTS * sizeof a.counts[0]) ==
           0);
    for (int p = 0; p <= 100; p++)
        ASSERT_EQ(goc__hist_percentile(&a, p), goc__hist_percentile(&all, p));
    /* Merging an empty histogram changes nothing. */
    goc__hist_reset(&b);
    goc__hist_merge(&a, &b);
    ASSERT_EQ(goc__hist_min(&a), goc__hist_min(&all));
    ASSERT_UEQ(goc__hist_count(&a), goc__hist_count(&all));
    goc__hist_free(&a);
    goc__hist_free(&b);
    goc__hist_free(&all);
    return 0;
}

GOC_TEST(hist_clamp)
{
    static const int64_t in[] = {0,    -5,          999,         INT64_MIN,
                                 1000, 60000000000, 60000000001, INT64_MAX};
    goc__hist h;
    ASSERT_EQ(goc__hist_init(&h), 0);
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        goc__hist_record(&h, in[i]);
    ASSERT_UEQ(goc__hist_count(&h), 8);
    ASSERT_UEQ(h.below, 4);
    ASSERT_UEQ(h.above, 2);
    ASSERT_EQ(goc__hist_min(&h), GOC__HIST_LOWEST);
    ASSERT_EQ(goc__hist_max(&h), GOC__HIST_HIGHEST);
    ASSERT_EQ(goc__hist_percentile(&h, 50), GOC__HIST_LOWEST); /* 5 of 8 */
    ASSERT_EQ(goc__hist_percentile(&h, 62.5), GOC__HIST_LOWEST);
    ASSERT_EQ(goc__hist_percentile(&h, 63), GOC__HIST_HIGHEST);
    ASSERT_EQ(goc__hist_percentile(&h, -1), GOC__HIST_LOWEST);
    ASSERT_EQ(goc__hist_percentile(&h, 1000), GOC__HIST_HIGHEST);
    double mean = (5 * 1000.0 + 3 * 60e9) / 8;
    ASSERT(goc__hist_mean(&h) == mean);
    goc__hist_reset(&h);
    ASSERT_UEQ(goc__hist_count(&h), 0);
    ASSERT_UEQ(h.below + h.above, 0);
    goc__hist_record(&h, 5000);
    ASSERT_EQ(goc__hist_min(&h), 5000);
    ASSERT_EQ(goc__hist_max(&h), 5000);
    goc__hist_free(&h);
    return 0;
}

/* The sum outgrows 64 bits; the mean stays exact. */
GOC_TEST(hist_mean_wide_sum)
{
    goc__hist a, b;
    ASSERT_EQ(goc__hist_init(&a), 0);
    ASSERT_EQ(goc__hist_init(&b), 0);
    for (int i = 0; i < 1000; i++)
        goc__hist_record(&a, GOC__HIST_HIGHEST);
    for (int i = 0; i < 24; i++) { /* count grows ~1.6x per merge */
        goc__hist_merge(&b, &a);
        goc__hist_merge(&a, &b);
    }
    ASSERT(a.sum_hi > 0);
    double d = goc__hist_mean(&a) - 60e9;
    ASSERT((d < 0 ? -d : d) <= 60e9 * 1e-12);
    ASSERT_EQ(goc__hist_percentile(&a, 99.99), GOC__HIST_HIGHEST);
    goc__hist_free(&a);
    goc__hist_free(&b);
    return 0;
}
