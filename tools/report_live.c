/*
 * report_live.c - goc-loadgen's live line: once a second, on a terminal,
 * one line rewritten in place ("\r...\033[K").
 */
#include <inttypes.h>
#include <string.h>

#include "report.h"
#include "report_live.h"

static void fmt_dur(char *buf, size_t len, int64_t ns)
{
    if (ns < 1000)
        snprintf(buf, len, "%" PRId64 "ns", ns);
    else if (ns < 1000000)
        snprintf(buf, len, "%.3gus", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.3gms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.3gs", (double)ns / 1e9);
}

void lgr_live_format(char *buf, size_t len,
                     const struct goc_loadgen_progress *p, int64_t duration,
                     int64_t asked, lgr_live *st)
{
    double secs = (double)(p->elapsed - st->last_at) / 1e9;
    double rate = secs > 0 ? (double)(p->issued - st->last_issued) / secs : 0;
    char tot[32], a[32], b[32], c[32];
    fmt_dur(tot, sizeof tot, duration);
    if (p->interval_count) {
        fmt_dur(a, sizeof a, p->interval_p50);
        fmt_dur(b, sizeof b, p->interval_p99);
        fmt_dur(c, sizeof c, p->interval_max);
    } else {
        snprintf(a, sizeof a, "-");
        snprintf(b, sizeof b, "-");
        snprintf(c, sizeof c, "-");
    }
    snprintf(buf, len,
             "%5.1fs/%s  rate %.0f/s (asked %" PRId64 "/s)  in flight %" PRId64
             "  last 1s: p50 %s p99 %s max %s  errors %" PRId64
             " timeouts %" PRId64,
             (double)p->elapsed / 1e9, tot, rate, asked,
             p->issued - p->completed, a, b, c, p->errors, p->timeouts);
    st->last_issued = p->issued;
    st->last_at = p->elapsed;
}

void lgr_live_print(FILE *f, const struct goc_loadgen_progress *p,
                    int64_t duration, int64_t asked, lgr_live *st)
{
    char line[256];
    lgr_live_format(line, sizeof line, p, duration, asked, st);
    fprintf(f, "\r%s\033[K", line);
    fflush(f);
    st->shown = true;
}

void lgr_live_clear(FILE *f, lgr_live *st)
{
    if (!st->shown)
        return;
    fputs("\r\033[K", f);
    fflush(f);
    st->shown = false;
}
