/*
 * report.h - goc-loadgen's results as data (one run), and the files made
 * from them: JSON (its own schema, docs/reports.md and
 * docs/report.schema.json), HdrHistogram's percentile distribution
 * (.hgrm), a per-second CSV log, and a self-contained HTML page that
 * shows one run or overlays several. The JSON can be read back (a strict
 * reader of this schema only), so every other file can be made again
 * from it: `goc-loadgen report a.json b.json --html out.html`.
 *
 * Public API of libgoc only (goc/loadgen.h): a run becomes an lgr_run by
 * lgr_from_loadgen, or by lgr_read_json from a file.
 */
#ifndef GOC_TOOLS_REPORT_H
#define GOC_TOOLS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "goc.h"

#define LGR_SCHEMA "goc-loadgen-report"
#define LGR_SCHEMA_VERSION 1

#ifndef GOC_VERSION_STRING
#define GOC_VERSION_STRING "0.0.0"
#endif

/* Result codes in the order of the JSON's "codes" object. */
enum {
    LGR_SUCCESS,  /* "0" */
    LGR_TIMEOUT,  /* "1001" */
    LGR_CANCELED, /* "1002" */
    LGR_CALL,     /* "2001" */
    LGR_RESPONSE, /* "2002" */
    LGR_CALLEE,   /* "2003" */
    LGR_FATAL,    /* "3001" */
    LGR_OTHER,    /* "other" */
    LGR_NCODES
};
/* "0", "1001", ... "other"; and the text of each ("Success", ...). */
extern const char *const lgr_code_keys[LGR_NCODES];
const char *lgr_code_name(int i);

/* A named count: an error kind ("connect_refused") with the first
 * message seen, or an HTTP status ("200"). */
typedef struct lgr_named {
    char *name;
    int64_t count;
    char *first; /* NULL when none */
} lgr_named;

/* One histogram: its exact count, min, max and mean, and its non-empty
 * slots (3 significant digits), from which every percentile comes. */
typedef struct lgr_dist {
    uint64_t count;
    int64_t min, max;
    double mean;
    size_t nbuckets;
    goc_loadgen_bucket *buckets;
} lgr_dist;

typedef struct lgr_run {
    /* Where it came from (not in the JSON): the file read, or NULL. */
    char *source;
    /* Metadata. */
    char *tool_version, *library_version, *host, *start_utc, *target;
    /* Parameters. */
    int64_t rate, duration_ns, timeout_ns, max_in_flight;
    bool keepalive, interrupted, stopped_early;
    /* Counts. */
    int64_t planned, issued, not_issued, late, late_no_slot;
    int64_t codes[LGR_NCODES];
    size_t nerrors, nstatuses;
    lgr_named *errors;   /* by kind, every kind */
    lgr_named *statuses; /* HTTP statuses; none for calc and tcp */
    double achieved_rate, success_rate;
    int64_t result_waits, peak_in_flight, elapsed_ns;
    lgr_dist latency, service;
    size_t nseconds;
    goc_loadgen_second *series;
    /* Members written verbatim into the JSON after the known ones (the
     * HTTP caller's counts: "model", "http"); not read back. NULL: none. */
    char *extra_json;
} lgr_run;

/* The percentiles every report shows, in percent. */
#define LGR_NPCT 8
extern const double lgr_pcts[LGR_NPCT]; /* 50, 75, 90, 95, 99, 99.9, ... */
extern const char *const lgr_pct_keys[LGR_NPCT]; /* "p50", ..., "p99.999" */

/* The value at percentile p (0..100) of d: the report's rule (the first
 * slot whose running count reaches ceil(p / 100 * count), at least 1);
 * p <= 0 gives min, p >= 100 max; 0 when empty. */
int64_t lgr_percentile(const lgr_dist *d, double p);

/* Fills r from a generator whose run ended, with the run's metadata:
 * target, keepalive, interrupted, and wall_minus_mono (CLOCK_REALTIME
 * minus goc_nanotime(), in ns, for the start's date). 0 or a negative
 * errno. */
int lgr_from_loadgen(lgr_run *r, goc_loadgen *g, const char *target,
                     bool keepalive, bool interrupted, int64_t wall_minus_mono);
void lgr_free(lgr_run *r);

/* "2026-12-06T17:47:15.123Z" from ns since the epoch. */
void lgr_fmt_utc(char *buf, size_t len, int64_t wall_ns);

/* Writers: 0, or -EIO when f reports an error. */
int lgr_write_json(FILE *f, const lgr_run *r);
/* HdrHistogram's percentile distribution (as wrk2 and HdrHistogram_c's
 * hdr_percentiles_print write it, 5 ticks per half distance), values in
 * milliseconds. */
int lgr_write_hgrm(FILE *f, const lgr_dist *d);
/* One CSV row per second (header first). */
int lgr_write_csv(FILE *f, const lgr_run *r);
/* One self-contained HTML page with runs[0..n): one run, or several on
 * the same axes. */
int lgr_write_html(FILE *f, const lgr_run *const *runs, size_t n);

/* Reads one report (this schema, version LGR_SCHEMA_VERSION) from text of
 * len bytes. 0, or -EINVAL with "NAME:LINE:COL: what" in err (NAME is
 * `name`, e.g. the file's), or -ENOMEM. r is then empty. */
int lgr_read_json(lgr_run *r, const char *text, size_t len, const char *name,
                  char *err, size_t errlen);
/* The same from a file ("-": stdin). */
int lgr_read_json_file(lgr_run *r, const char *path, char *err, size_t errlen);

/* `goc-loadgen report FILE.json... [--html F] [--json F|-] [--hgrm F]
 * [--log F]`: makes the files from reports read back (report_cmd.c).
 * Returns the exit status. */
int lgr_report_main(int argc, char **argv);

/* Merges the parts of one run made apart (goc-loadgen's MPI ranks: each
 * part a share of one schedule, all on one start) into out, exactly:
 * counts, outcomes, errors and statuses summed; latency and service-time
 * histograms merged bucket by bucket on their slots
 * (goc_loadgen_bucket_top), so that every percentile is that of one
 * histogram fed every sample; the mean from the parts' sums; rates
 * over the longest of the parts' windows (issued / achieved_rate);
 * max_in_flight and peak_in_flight summed, elapsed the longest.
 * Per-second rows are aligned on the common start (row i of every part
 * is the same second): counts summed, max the greatest; p50, p90 and p99
 * of a second are the greatest of the parts' (an upper bound: the parts
 * keep no per-second histogram to merge). Metadata and parameters are
 * parts[0]'s; interrupted and stopped_early if any part's. extra_json is
 * left NULL. 0, -EINVAL (n == 0) or -ENOMEM; out is empty on failure. */
int lgr_merge(lgr_run *out, const lgr_run *const *parts, size_t n);
/* Merges the histograms d[0..n) (as lgr_merge) into out. 0 or -ENOMEM. */
int lgr_merge_dist(lgr_dist *out, const lgr_dist *const *d, size_t n);
/* A generator's report made from a run (the text report's numbers):
 * counts, codes, errors by kind, rates and the percentiles of
 * goc_loadgen_latency from the histograms. */
void lgr_to_report(const lgr_run *r, struct goc_loadgen_report *out);

/* Opens path for writing ("-": stdout); NULL with errno. lgr_close closes
 * it (not stdout: flushes it) and returns 0 or -errno. */
FILE *lgr_open(const char *path);
int lgr_close(FILE *f, const char *path);

#endif
