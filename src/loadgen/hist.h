/*
 * hist.h - a log-linear latency histogram (HdrHistogram's design).
 *
 * Records nanosecond values from GOC__HIST_LOWEST (1 us) to
 * GOC__HIST_HIGHEST (60 s) with 3 significant digits: every value reported
 * (percentile) is within 1/1024 (< 0.1%) of a value that was recorded.
 * Values outside the range are clamped to its ends and still counted (the
 * `below` / `above` counters say how many were).
 *
 * Layout: values below 2048 ns are counted exactly (one slot per ns). Above
 * that, each power-of-two range [2^k, 2^(k+1)) is split into 1024 equal
 * slots of width 2^(k-10), so a slot is never wider than 1/1024 of the
 * values in it. See hist.c for the index arithmetic.
 *
 * Invariants:
 *   - counts has GOC__HIST_SLOTS entries, allocated once by init/new and
 *     never resized: memory is bounded (about 206 KiB) however long the run.
 *   - count == sum of counts[] == number of record calls (plus merged ones).
 *   - min <= every recorded (clamped) value <= max, when count > 0.
 *   - Recording is O(1) and never allocates.
 *
 * Not thread safe: a histogram has one owner (one per worker; merge them at
 * the end).
 */
#ifndef GOC_LOADGEN_HIST_H
#define GOC_LOADGEN_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Range of recordable values, in nanoseconds. */
#define GOC__HIST_LOWEST INT64_C(1000)
#define GOC__HIST_HIGHEST INT64_C(60000000000)
/* Number of counters (see hist.c: slot(HIGHEST) - slot(LOWEST) + 1). */
#define GOC__HIST_SLOTS 26389

typedef struct goc__hist {
    uint64_t *counts; /* GOC__HIST_SLOTS counters, owned */
    uint64_t count;   /* values recorded, clamped ones included */
    uint64_t below;   /* values raised to GOC__HIST_LOWEST */
    uint64_t above;   /* values lowered to GOC__HIST_HIGHEST */
    int64_t min;      /* smallest clamped value; valid when count > 0 */
    int64_t max;      /* largest clamped value; valid when count > 0 */
    uint64_t sum_lo;  /* exact 128-bit sum of the clamped values: */
    uint64_t sum_hi;  /*   sum_hi * 2^64 + sum_lo */
    bool heap;        /* made by goc__hist_new: free releases h as well */
} goc__hist;

/* Allocates the counters of an embedded histogram: 0 or -ENOMEM. */
int goc__hist_init(goc__hist *h);
/* Allocates and initializes a histogram; NULL when out of memory. */
goc__hist *goc__hist_new(void);
/* Releases the counters, and h itself when it came from goc__hist_new.
 * NULL and a zeroed (never initialized) struct are accepted. */
void goc__hist_free(goc__hist *h);

/* Counts one value (ns), clamped to [LOWEST, HIGHEST]. O(1). */
void goc__hist_record(goc__hist *h, int64_t ns);
/* Adds every value of src to dst; src is unchanged. */
void goc__hist_merge(goc__hist *dst, const goc__hist *src);
/* Forgets every value; keeps the memory. */
void goc__hist_reset(goc__hist *h);

/* The value at percentile p (0..100): the r-th smallest recorded value,
 * r = ceil(p/100 * count) (at least 1), reported as the top of its slot and
 * clamped to [min, max]; so percentile(0) == min and percentile(100) ==
 * max exactly, and otherwise the relative error is < 1/1024. p outside
 * 0..100 is clamped. 0 when empty. O(GOC__HIST_SLOTS). */
int64_t goc__hist_percentile(const goc__hist *h, double p);
int64_t goc__hist_min(const goc__hist *h); /* 0 when empty */
int64_t goc__hist_max(const goc__hist *h); /* 0 when empty */
double goc__hist_mean(const goc__hist *h); /* exact; 0 when empty */
uint64_t goc__hist_count(const goc__hist *h);
/* One non-empty slot: the top of the slot clamped to [min, max], and its
 * count (the layout of goc_loadgen_bucket). */
typedef struct goc__hist_slot {
    int64_t value;
    uint64_t count;
} goc__hist_slot;
/* The non-empty slots, ascending: writes min(n, cap) of them to out and
 * returns n. */
size_t goc__hist_slots(const goc__hist *h, goc__hist_slot *out, size_t cap);
/* The top of the slot holding v (v clamped to [LOWEST, HIGHEST] first). */
int64_t goc__hist_slot_top(int64_t v);

#endif
