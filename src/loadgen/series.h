/*
 * series.h - the per-second series of a run (goc_loadgen_series): for each
 * second since call 0's due time, the calls issued and ended in it, their
 * outcomes, and the latency percentiles of the calls that ended in it.
 *
 * Memory. A row (goc_loadgen_second, 112 bytes) per second of the run,
 * plus a coarse histogram (GOC__SERIES_SLOTS 32-bit counters, 15 KiB) for
 * each of the last `window` seconds still open: a second's percentiles
 * are computed, and its histogram reused, once a sample `window` seconds
 * later arrives (or at the end). window = ceil(timeout / 1 s) + 2, at most
 * GOC__SERIES_WINDOW_MAX: a worker adds its samples at most a call's
 * timeout (plus AGE_FLUSH) after they were taken, so every sample normally
 * arrives while its second is open. One that comes later (a callee
 * that ignores its deadline) still counts in its row, and in its max,
 * not in the row's percentiles.
 *
 * The histogram: log-linear like hist.c but with 128 slots per power of
 * two (2 significant digits, relative error < 1/128), exact below 256 ns,
 * values clamped to 60 s (the row's max is exact).
 *
 * Not thread safe: the run's mutex protects it.
 */
#ifndef GOC_LOADGEN_SERIES_H
#define GOC_LOADGEN_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "goc/loadgen.h"

#define GOC__SERIES_SLOTS 3808
#define GOC__SERIES_WINDOW_MAX 64

typedef struct goc__series {
    int64_t window;           /* seconds kept open */
    int64_t base;             /* first open second */
    uint32_t *hists;          /* window * GOC__SERIES_SLOTS, a ring */
    goc_loadgen_second *rows; /* nrows rows, second i at rows[i] */
    size_t nrows, cap;
    int err; /* -ENOMEM once a row could not be added */
} goc__series;

/* 0 or -ENOMEM. timeout: the run's per-call timeout (ns). */
int goc__series_init(goc__series *s, int64_t timeout);
void goc__series_free(goc__series *s);
/* One call that ended: issued in second `issued_s`, ended in second
 * `end_s` (>= 0), with result code `code`; latency (ns, from its due
 * time) is counted unless the call was canceled. */
void goc__series_add(goc__series *s, int64_t issued_s, int64_t end_s, int code,
                     int64_t latency);
/* Adds empty rows up to `seconds` rows (the run's length, so that quiet
 * seconds at its end show), then computes the percentiles of every second
 * still open. */
void goc__series_finish(goc__series *s, int64_t seconds);
/* The value at percentile p (0 < p <= 100) of one coarse histogram of
 * `count` values, clamped to max; for tests. */
int64_t goc__series_percentile(const uint32_t *h, uint64_t count, double p,
                               int64_t max);
/* The coarse slot of v, and the top of a slot; for tests. */
int goc__series_slot(int64_t v);
int64_t goc__series_slot_top(int i);

#endif
