/*
 * series.c - the per-second series of a run (see series.h).
 *
 * Slots: for v >= 256 with top bit m, b = m - 7 and the 8 bits v >> b lie
 * in [128, 256): slot = b * 128 + (v >> b), monotonic and dense, each slot
 * at most v / 128 wide; below 256 one slot per ns. slot(60 s) = 28 * 128 +
 * 223 = 3807, hence GOC__SERIES_SLOTS.
 */
#include "loadgen/series.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SUB 7
#define NS_PER_S INT64_C(1000000000)
#define TOP INT64_C(60000000000)

_Static_assert((TOP >> 28) == 223 && (TOP >> 35) == 1, "60 s: top bit 35");
_Static_assert(GOC__SERIES_SLOTS == 28 * 128 + 223 + 1, "slot(60 s) + 1");

int goc__series_slot(int64_t v)
{
    if (v < 0)
        v = 0;
    if (v > TOP)
        v = TOP;
    int b = 63 - __builtin_clzll((uint64_t)v | 255) - SUB;
    return (b << SUB) + (int)(v >> b);
}

int64_t goc__series_slot_top(int i)
{
    if (i < 256)
        return i;
    int b = (i >> SUB) - 1;
    int64_t sub = (i & ((1 << SUB) - 1)) + (1 << SUB);
    return (sub << b) + ((INT64_C(1) << b) - 1);
}

int goc__series_init(goc__series *s, int64_t timeout)
{
    memset(s, 0, sizeof *s);
    int64_t w = timeout / NS_PER_S + 3; /* ceil(timeout / 1 s) + 2, or more */
    s->window = w > GOC__SERIES_WINDOW_MAX ? GOC__SERIES_WINDOW_MAX : w;
    s->hists = calloc((size_t)s->window * GOC__SERIES_SLOTS, sizeof(uint32_t));
    return s->hists ? 0 : -ENOMEM;
}

void goc__series_free(goc__series *s)
{
    free(s->hists);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

int64_t goc__series_percentile(const uint32_t *h, uint64_t count, double p,
                               int64_t max)
{
    if (count == 0)
        return 0;
    double x = p / 100.0 * (double)count;
    x -= x * 1e-12; /* see goc__hist_percentile */
    uint64_t rank = (uint64_t)x;
    if ((double)rank < x)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < GOC__SERIES_SLOTS; i++) {
        seen += h[i];
        if (seen >= rank) {
            int64_t v = goc__series_slot_top(i);
            return v > max ? max : v;
        }
    }
    return max;
}

static uint32_t *hist_of(goc__series *s, int64_t sec)
{
    return s->hists + (size_t)(sec % s->window) * GOC__SERIES_SLOTS;
}

/* Computes second sec's percentiles and clears its histogram. */
static void close_second(goc__series *s, int64_t sec)
{
    uint32_t *h = hist_of(s, sec);
    if ((size_t)sec < s->nrows) {
        goc_loadgen_second *r = &s->rows[sec];
        uint64_t n = 0;
        for (int i = 0; i < GOC__SERIES_SLOTS; i++)
            n += h[i];
        r->p50 = goc__series_percentile(h, n, 50, r->max);
        r->p90 = goc__series_percentile(h, n, 90, r->max);
        r->p99 = goc__series_percentile(h, n, 99, r->max);
    }
    memset(h, 0, GOC__SERIES_SLOTS * sizeof *h);
}

/* Rows up to second sec exist; false when out of memory. */
static int grow(goc__series *s, int64_t sec)
{
    if ((size_t)sec < s->nrows)
        return 1;
    if ((size_t)sec >= s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap <= (size_t)sec)
            cap *= 2;
        goc_loadgen_second *p = realloc(s->rows, cap * sizeof *p);
        if (!p) {
            s->err = -ENOMEM;
            return 0;
        }
        s->rows = p;
        s->cap = cap;
    }
    memset(s->rows + s->nrows, 0,
           ((size_t)sec + 1 - s->nrows) * sizeof *s->rows);
    s->nrows = (size_t)sec + 1;
    return 1;
}

void goc__series_add(goc__series *s, int64_t issued_s, int64_t end_s, int code,
                     int64_t latency)
{
    if (issued_s < 0)
        issued_s = 0;
    if (end_s < issued_s)
        end_s = issued_s;
    if (!grow(s, end_s))
        return;
    s->rows[issued_s].issued++;
    goc_loadgen_second *r = &s->rows[end_s];
    r->completed++;
    switch (code) {
    case GOC_RET_SUCCESS:
        r->success++;
        break;
    case GOC_RET_WARNING_CALL_TIMEOUT:
        r->timeouts++;
        break;
    case GOC_RET_WARNING_CALL_CANCELED:
        r->canceled++;
        return; /* no latency */
    case GOC_RET_ERROR_CALL:
        r->call_errors++;
        break;
    case GOC_RET_ERROR_RESPONSE:
        r->response_errors++;
        break;
    case GOC_RET_ERROR_CALEE:
        r->callee_errors++;
        break;
    case GOC_RET_FATAL_CALL:
        r->fatal_calls++;
        break;
    default:
        r->other_codes++;
        break;
    }
    if (latency > r->max)
        r->max = latency;
    /* Close the seconds that fell out of the window. */
    while (end_s >= s->base + s->window)
        close_second(s, s->base++);
    if (end_s >= s->base)
        hist_of(s, end_s)[goc__series_slot(latency)]++;
}

void goc__series_finish(goc__series *s, int64_t seconds)
{
    if (seconds > 0 && (size_t)seconds > s->nrows)
        grow(s, seconds - 1);
    for (; s->base < (int64_t)s->nrows; s->base++)
        close_second(s, s->base);
}
