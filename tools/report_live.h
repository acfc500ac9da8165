/*
 * report_live.h - goc-loadgen's live progress line (on stderr, when it is
 * a terminal): elapsed/total, achieved and asked rate, calls in flight,
 * p50/p99/max of the last second, errors and timeouts so far.
 */
#ifndef GOC_TOOLS_REPORT_LIVE_H
#define GOC_TOOLS_REPORT_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "goc.h"

typedef struct lgr_live {
    int64_t last_issued, last_at; /* at the previous line */
    bool shown;                   /* a line is on the terminal */
} lgr_live;

/* The line (no "\r", no newline) for progress p (taken once a second:
 * its interval is the last second); the rate is over the time since the
 * previous line. */
void lgr_live_format(char *buf, size_t len,
                     const struct goc_loadgen_progress *p, int64_t duration,
                     int64_t asked, lgr_live *st);
/* "\r" + the line + erase to the end of the line, flushed. */
void lgr_live_print(FILE *f, const struct goc_loadgen_progress *p,
                    int64_t duration, int64_t asked, lgr_live *st);
/* Erases the line, if one is shown (before the final report). */
void lgr_live_clear(FILE *f, lgr_live *st);

#endif
