/*
 * hist.c - the log-linear latency histogram (see hist.h).
 *
 * How it works. For 3 significant digits a slot may be at most 1/1000 of
 * its values wide; the design uses 1/1024 so that slots are found with
 * shifts. A value v >= 2048 has its top bit at position m >= 11; with
 * b = m - 10, the 11 bits v >> b lie in [1024, 2048) and select one of 1024
 * slots of width 2^b inside [2^m, 2^(m+1)); since v >= 1024 * 2^b, the
 * width is at most v / 1024. Values below 2048 use b = 0 (exact slots). So
 *
 *     b = msb(v | 2047) - 10,   raw(v) = b * 1024 + (v >> b)
 *
 * is monotonic in v and dense: 0..2047 for b = 0, then 1024 new slots per
 * power of two. Slots below raw(GOC__HIST_LOWEST) are never used, so the
 * array starts there (SLOT_BASE). The top slot is raw(GOC__HIST_HIGHEST).
 *
 * Limits: slot tops above 2^63 cannot occur (HIGHEST is 2^35.8). Counters
 * are 64-bit: no overflow in any run. The sum for the mean is kept in 128
 * bits (two words) so that it is exact for any count.
 *
 * Rejected: a fixed linear array (too big for 60 s at 1 ns) and a sorted
 * reservoir (unbounded or lossy); HdrHistogram's auto-resizing (would
 * allocate while recording).
 */
#include "loadgen/hist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SUB_BITS 10    /* log2 of the slots per power of two */
#define SLOT_BASE 1000 /* raw(GOC__HIST_LOWEST) */

static inline int64_t raw_slot(int64_t v)
{
    int b = 63 - __builtin_clzll((uint64_t)v | 2047) - SUB_BITS;
    return ((int64_t)b << SUB_BITS) + (v >> b);
}

/* The largest value that falls in raw slot i. */
static inline int64_t raw_slot_top(int64_t i)
{
    if (i < 2048)
        return i;
    int b = (int)(i >> SUB_BITS) - 1;
    int64_t sub = (i & ((1 << SUB_BITS) - 1)) + (1 << SUB_BITS);
    return (sub << b) + ((INT64_C(1) << b) - 1);
}

_Static_assert(SLOT_BASE == GOC__HIST_LOWEST, "1000 < 2048: exact slot");
_Static_assert(GOC__HIST_SLOTS == 25 * 1024 + 1788 - SLOT_BASE + 1,
               "raw(60e9) = 25 * 1024 + (60e9 >> 25)");
_Static_assert((GOC__HIST_HIGHEST >> 25) == 1788 &&
                   (GOC__HIST_HIGHEST >> 35) == 1,
               "HIGHEST has its top bit at 35");

int goc__hist_init(goc__hist *h)
{
    memset(h, 0, sizeof *h);
    h->counts = calloc(GOC__HIST_SLOTS, sizeof *h->counts);
    if (h->counts == NULL)
        return -ENOMEM;
    h->min = INT64_MAX;
    return 0;
}

goc__hist *goc__hist_new(void)
{
    goc__hist *h = malloc(sizeof *h);
    if (h == NULL)
        return NULL;
    if (goc__hist_init(h) != 0) {
        free(h);
        return NULL;
    }
    h->heap = true;
    return h;
}

void goc__hist_free(goc__hist *h)
{
    if (h == NULL)
        return;
    free(h->counts);
    h->counts = NULL;
    if (h->heap)
        free(h);
}

void goc__hist_reset(goc__hist *h)
{
    /* Only the slots from min's to max's can be set: the others' pages
     * stay untouched (calloc's zero pages are not resident). */
    if (h->count > 0) {
        size_t lo = raw_slot(h->min) - SLOT_BASE,
               hi = raw_slot(h->max) - SLOT_BASE;
        memset(h->counts + lo, 0, (hi - lo + 1) * sizeof *h->counts);
    }
    h->count = h->below = h->above = 0;
    h->sum_lo = h->sum_hi = 0;
    h->min = INT64_MAX;
    h->max = 0;
}

void goc__hist_record(goc__hist *h, int64_t ns)
{
    if (ns < GOC__HIST_LOWEST) {
        ns = GOC__HIST_LOWEST;
        h->below++;
    } else if (ns > GOC__HIST_HIGHEST) {
        ns = GOC__HIST_HIGHEST;
        h->above++;
    }
    h->counts[raw_slot(ns) - SLOT_BASE]++;
    h->count++;
    if (ns < h->min)
        h->min = ns;
    if (ns > h->max)
        h->max = ns;
    h->sum_lo += (uint64_t)ns;
    h->sum_hi += h->sum_lo < (uint64_t)ns; /* carry */
}

void goc__hist_merge(goc__hist *dst, const goc__hist *src)
{
    if (src->count == 0)
        return;
    for (size_t i = 0; i < GOC__HIST_SLOTS; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->below += src->below;
    dst->above += src->above;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->sum_lo += src->sum_lo;
    dst->sum_hi += src->sum_hi + (dst->sum_lo < src->sum_lo);
}

int64_t goc__hist_percentile(const goc__hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (!(p > 0)) /* also NaN */
        return h->min;
    if (p >= 100)
        return h->max;
    /* rank = ceil(p/100 * count); the relative nudge keeps a rank that is
     * an integer in decimal (99.9% of 100000) from rounding up to the next
     * one through binary error. */
    double x = p / 100.0 * (double)h->count;
    x -= x * 1e-12;
    uint64_t rank = (uint64_t)x;
    if ((double)rank < x)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (size_t i = 0; i < GOC__HIST_SLOTS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            int64_t v = raw_slot_top((int64_t)i + SLOT_BASE);
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max; /* unreachable while count == sum of counts */
}

int64_t goc__hist_min(const goc__hist *h)
{
    return h->count ? h->min : 0;
}

int64_t goc__hist_max(const goc__hist *h)
{
    return h->count ? h->max : 0;
}

double goc__hist_mean(const goc__hist *h)
{
    if (h->count == 0)
        return 0;
    double sum = (double)h->sum_hi * 18446744073709551616.0 + (double)h->sum_lo;
    return sum / (double)h->count;
}

uint64_t goc__hist_count(const goc__hist *h)
{
    return h->count;
}

size_t goc__hist_slots(const goc__hist *h, goc__hist_slot *out, size_t cap)
{
    size_t n = 0;
    if (h->count == 0)
        return 0;
    for (size_t i = 0; i < GOC__HIST_SLOTS; i++) {
        if (!h->counts[i])
            continue;
        if (n < cap) {
            int64_t v = raw_slot_top((int64_t)i + SLOT_BASE);
            out[n].value = v < h->min ? h->min : v > h->max ? h->max : v;
            out[n].count = h->counts[i];
        }
        n++;
    }
    return n;
}

int64_t goc__hist_slot_top(int64_t v)
{
    if (v < GOC__HIST_LOWEST)
        v = GOC__HIST_LOWEST;
    else if (v > GOC__HIST_HIGHEST)
        v = GOC__HIST_HIGHEST;
    return raw_slot_top(raw_slot(v));
}
