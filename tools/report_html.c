/*
 * report_html.c - the HTML report: one self-contained page (no request to
 * any network: styles and script inline, and a Content-Security-Policy
 * that forbids every fetch) carrying the runs' JSON reports, which its
 * small script (tools/report_page.js, compiled in by CMake) draws as SVG.
 * Why a script rather than SVG written here: the page then holds exactly
 * the data of the JSON files, one code path draws one run or several on
 * the same axes, and the browser test can check the drawing itself.
 */
#include <errno.h>
#include <string.h>

#include "report.h"

extern const char lgr_page_js[];  /* tools/report_page.js */
extern const char lgr_page_css[]; /* tools/report_page.css */

static void hstr(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* A run's name in the legend: its file's name, else its target. */
static const char *run_name(const lgr_run *r)
{
    if (r->source && strcmp(r->source, "-") != 0) {
        const char *s = strrchr(r->source, '/');
        return s ? s + 1 : r->source;
    }
    return r->target ? r->target : "run";
}

static void jname(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int lgr_write_html(FILE *f, const lgr_run *const *runs, size_t n)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
          "'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'\">\n"
          "<title>goc-loadgen report</title>\n<style>\n",
          f);
    fputs(lgr_page_css, f);
    fputs("</style></head><body>\n<h1>goc-loadgen report</h1>\n<p "
          "class=\"note\">",
          f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? "; " : "", f);
        hstr(f, run_name(runs[i]));
        if (strcmp(run_name(runs[i]), runs[i]->target) != 0) {
            fputs(": ", f);
            hstr(f, runs[i]->target);
        }
        fputs(" at ", f);
        hstr(f, runs[i]->start_utc);
    }
    fputs("</p>\n<div id=\"status\" data-done=\"0\" data-errors=\"0\">the "
          "plots need JavaScript</div>\n"
          "<h2>Latency over time</h2>\n<p class=\"note\">Per second: p50 "
          "(thin), p99 (thick), max (dashed) of the calls that ended in that "
          "second, from their due time, so that a stall shows. Circles: "
          "seconds with timeouts (orange) or errors (red).</p>\n"
          "<div id=\"legend-time\"></div><svg id=\"plot-time\"></svg>\n"
          "<h2>Percentile spectrum</h2>\n<p class=\"note\">Latency at each "
          "percentile, the axis stretched towards 100% (1/(1-p), log) as "
          "HdrHistogram plots it.</p>\n<div id=\"legend-spectrum\"></div>"
          "<svg id=\"plot-spectrum\"></svg>\n"
          "<h2>Latency histogram</h2>\n<p class=\"note\">Share of calls per "
          "latency band (40 bands, log scale).</p>\n<div "
          "id=\"legend-hist\"></div><svg id=\"plot-hist\"></svg>\n"
          "<h2>Outcomes</h2>\n<div id=\"outcomes\"></div>\n"
          "<h2>Percentiles</h2>\n<div id=\"percentiles\"></div>\n"
          "<h2>Parameters</h2>\n<div id=\"params\"></div>\n"
          "<div id=\"ranks\" hidden><h2>Ranks</h2></div>\n"
          "<script type=\"application/json\" id=\"goc-names\">[",
          f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? "," : "", f);
        jname(f, run_name(runs[i]));
    }
    fputs("]</script>\n<script type=\"application/json\" "
          "id=\"goc-data\">[\n",
          f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        int rc = lgr_write_json(f, runs[i]); /* <, >, & escaped */
        if (rc < 0)
            return rc;
    }
    fputs("]</script>\n<script>\n", f);
    fputs(lgr_page_js, f);
    fputs("</script>\n</body></html>\n", f);
    return ferror(f) ? -EIO : 0;
}
