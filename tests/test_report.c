/*
 * test_report.c - goc-loadgen's report files (tools/report*.c): the .hgrm
 * distribution against lines worked out by hand from a known histogram
 * with HdrHistogram's iteration, the JSON written and read back to the
 * same bytes, the JSON checked against docs/report.schema.json (by the
 * small JSON Schema checker below), the reader's messages on truncated
 * or foreign input, the CSV log, the HTML page's self-containment, and
 * the live line.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc_test.h"
#include "report.h"
#include "report_json.h"
#include "report_live.h"

#define MS INT64_C(1000000)

/* A small run made by hand: 4 calls of 1, 2, 3 and 4 ms, over 2 s. */
static void make_run(lgr_run *r)
{
    memset(r, 0, sizeof *r);
    r->tool_version = strdup("9.8.7");
    r->library_version = strdup("9.8.7");
    r->host = strdup("h\"o\\st<script>\x01 h\xc3\xa9llo");
    r->start_utc = strdup("2026-12-06T17:47:15.123Z");
    r->target = strdup("calc://127.0.0.1:8080/</script>");
    r->rate = 2;
    r->duration_ns = 2000 * MS;
    r->timeout_ns = 50 * MS;
    r->max_in_flight = 3;
    r->keepalive = true;
    r->planned = 4;
    r->issued = 4;
    r->late = 1;
    r->codes[LGR_SUCCESS] = 3;
    r->codes[LGR_TIMEOUT] = 1;
    r->nerrors = 2;
    r->errors = calloc(2, sizeof *r->errors);
    r->errors[0] = (lgr_named){strdup("connect_refused"), 0, NULL};
    r->errors[1] = (lgr_named){strdup("timeout"), 1, strdup("Timeout! <50ms")};
    r->nstatuses = 1;
    r->statuses = calloc(1, sizeof *r->statuses);
    r->statuses[0] = (lgr_named){strdup("200"), 3, NULL};
    r->achieved_rate = 2.0;
    r->success_rate = 1.5;
    r->peak_in_flight = 2;
    r->elapsed_ns = 2004 * MS;
    lgr_dist *d = &r->latency;
    d->count = 4;
    d->min = 1 * MS;
    d->max = 4 * MS;
    d->mean = 2.5 * MS;
    d->nbuckets = 4;
    d->buckets = calloc(4, sizeof *d->buckets);
    for (int i = 0; i < 4; i++)
        d->buckets[i] = (goc_loadgen_bucket){(i + 1) * MS, 1};
    r->service = *d;
    r->service.buckets = calloc(4, sizeof *d->buckets);
    memcpy(r->service.buckets, d->buckets, 4 * sizeof *d->buckets);
    r->nseconds = 2;
    r->series = calloc(2, sizeof *r->series);
    r->series[0] = (goc_loadgen_second){.issued = 2,
                                        .completed = 2,
                                        .success = 2,
                                        .p50 = 1 * MS,
                                        .p90 = 2 * MS,
                                        .p99 = 2 * MS,
                                        .max = 2 * MS};
    r->series[1] = (goc_loadgen_second){.issued = 2,
                                        .completed = 2,
                                        .success = 1,
                                        .timeouts = 1,
                                        .p50 = 3 * MS,
                                        .p90 = 4 * MS,
                                        .p99 = 4 * MS,
                                        .max = 4 * MS};
}

/* What a writer writes, as a malloc'd string. */
#define CAPTURE(out, call)                                                     \
    do {                                                                       \
        size_t len_;                                                           \
        FILE *f_ = open_memstream(&(out), &len_);                              \
        ASSERT(f_ != NULL);                                                    \
        ASSERT_EQ(call, 0);                                                    \
        ASSERT_EQ(fclose(f_), 0);                                              \
    } while (0)

GOC_TEST(report_hgrm_known_histogram)
{
    lgr_run r;
    make_run(&r);
    char *s;
    CAPTURE(s, lgr_write_hgrm(f_, &r.latency));
    /* HdrHistogram's percentile iteration (5 ticks per half distance)
     * over 1, 2, 3, 4 ms, worked by hand: levels 0, 10, 20, 30, 40, 50%
     * (10% apart below 50%), then 55 ... 75% (5% apart), then 77.5%
     * (2.5% apart), each at the first slot whose running count reaches
     * it; the last slot gives one line, then 100%. */
    const char *want =
        "       Value   Percentile   TotalCount 1/(1-Percentile)\n"
        "\n"
        "       1.000     0.000000            1         1.00\n"
        "       1.000     0.100000            1         1.11\n"
        "       1.000     0.200000            1         1.25\n"
        "       2.000     0.300000            2         1.43\n"
        "       2.000     0.400000            2         1.67\n"
        "       2.000     0.500000            2         2.00\n"
        "       3.000     0.550000            3         2.22\n"
        "       3.000     0.600000            3         2.50\n"
        "       3.000     0.650000            3         2.86\n"
        "       3.000     0.700000            3         3.33\n"
        "       3.000     0.750000            3         4.00\n"
        "       4.000     0.775000            4         4.44\n"
        "       4.000     1.000000            4          inf\n"
        "#[Mean    =        2.500, StdDeviation   =        1.118]\n"
        "#[Max     =        4.000, Total count    =            4]\n"
        "#[Buckets =           26, SubBuckets     =         2048]\n";
    if (strcmp(s, want) != 0)
        GOC_FAIL_("hgrm:\n%s\nwant:\n%s", s, want);
    free(s);

    /* A wider one: 1..1000 us once each. Every line's value is the
     * percentile's value (the report's rule), counts ascend, the
     * percentiles ascend to 1, 1/(1-p) matches. */
    lgr_dist d = {.count = 1000, .min = 1000, .max = 1000000, .mean = 500500};
    d.nbuckets = 1000;
    d.buckets = calloc(1000, sizeof *d.buckets);
    for (int i = 0; i < 1000; i++)
        d.buckets[i] = (goc_loadgen_bucket){(i + 1) * 1000, 1};
    CAPTURE(s, lgr_write_hgrm(f_, &d));
    char *line = strchr(strchr(s, '\n') + 1, '\n') + 1;
    double lastp = -1, lastv = 0;
    long lastc = 0;
    int lines = 0;
    while (*line && *line != '#') {
        double v, p, inv;
        long c;
        char infs[8];
        int n = sscanf(line, "%lf %lf %ld %lf", &v, &p, &c, &inv);
        if (n != 4) {
            ASSERT_EQ(sscanf(line, "%lf %lf %ld %7s", &v, &p, &c, infs), 4);
            ASSERT(strcmp(infs, "inf") == 0);
            ASSERT(p == 1.0);
        } else {
            ASSERT(fabs(1 / inv - (1 - p)) < 1e-6 + 0.006 / (inv * inv));
            /* the value at percentile p: the ceil(p * 1000)-th, in us */
            long rank = (long)ceil(p * 1000 - 1e-9);
            if (rank < 1)
                rank = 1;
            ASSERT(fabs(v - (double)rank / 1000.0) < 1e-9);
            ASSERT_EQ(c, rank);
        }
        ASSERT(p > lastp);
        ASSERT(v >= lastv);
        ASSERT(c >= lastc);
        lastp = p, lastv = v, lastc = c;
        lines++;
        line = strchr(line, '\n') + 1;
    }
    ASSERT(lastp == 1.0);
    ASSERT_GT(lines, 40); /* 5 per halving of 1 - p, down to 1 in 1000 */
    ASSERT(strstr(s, "Total count    =         1000]"));
    free(s);
    free(d.buckets);
    lgr_free(&r);
    return 0;
}

GOC_TEST(report_json_round_trip)
{
    lgr_run r, back;
    make_run(&r);
    char *a, *b, err[256];
    CAPTURE(a, lgr_write_json(f_, &r));
    ASSERT(!strstr(a, "<")); /* escaped: the page embeds it as it is */
    ASSERT(!strstr(a, ">"));
    ASSERT_EQ(lgr_read_json(&back, a, strlen(a), "a.json", err, sizeof err), 0);
    ASSERT_STR_EQ(back.host, r.host);
    ASSERT_STR_EQ(back.target, r.target);
    ASSERT_STR_EQ(back.source, "a.json");
    ASSERT_EQ(back.rate, 2);
    ASSERT(back.keepalive && !back.interrupted);
    ASSERT_EQ(back.codes[LGR_TIMEOUT], 1);
    ASSERT_EQ(back.nerrors, 2);
    ASSERT_STR_EQ(back.errors[1].first, "Timeout! <50ms");
    ASSERT_PTR_EQ(back.errors[0].first, NULL);
    ASSERT_EQ(back.nstatuses, 1);
    ASSERT_EQ(back.statuses[0].count, 3);
    ASSERT_EQ(back.latency.nbuckets, 4);
    ASSERT_EQ(back.latency.buckets[3].value, 4 * MS);
    ASSERT_EQ(back.nseconds, 2);
    ASSERT_EQ(back.series[1].timeouts, 1);
    ASSERT_EQ(back.series[1].p99, 4 * MS);
    ASSERT_EQ(lgr_percentile(&back.latency, 50), 2 * MS);
    ASSERT_EQ(lgr_percentile(&back.latency, 75), 3 * MS);
    ASSERT_EQ(lgr_percentile(&back.latency, 99.999), 4 * MS);
    /* Written again: the same bytes. */
    CAPTURE(b, lgr_write_json(f_, &back));
    ASSERT_STR_EQ(a, b);
    free(b);
    /* And every other file too. */
    char *h1, *h2, *c1, *c2;
    CAPTURE(h1, lgr_write_hgrm(f_, &r.service));
    CAPTURE(h2, lgr_write_hgrm(f_, &back.service));
    ASSERT_STR_EQ(h1, h2);
    CAPTURE(c1, lgr_write_csv(f_, &r));
    CAPTURE(c2, lgr_write_csv(f_, &back));
    ASSERT_STR_EQ(c1, c2);
    ASSERT_STR_EQ(c1,
                  "second,issued,completed,success,timeouts,canceled,"
                  "call_errors,response_errors,callee_errors,fatal_calls,"
                  "other_codes,p50_ns,p90_ns,p99_ns,max_ns\n"
                  "0,2,2,2,0,0,0,0,0,0,0,1000000,2000000,2000000,2000000\n"
                  "1,2,2,1,1,0,0,0,0,0,0,3000000,4000000,4000000,4000000\n");
    free(h1), free(h2), free(c1), free(c2);
    lgr_free(&back);
    free(a);
    lgr_free(&r);
    return 0;
}

/* A copy of s with the first `from` replaced by `to`. */
static char *subst(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    if (!p)
        GOC_FAIL_("no %s", from);
    size_t n = strlen(s) + strlen(to) + 1;
    char *m = malloc(n);
    snprintf(m, n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    return m;
}

/* ---- a JSON Schema checker (the keywords docs/report.schema.json uses) */

static bool sv(const lgr_json *root, const lgr_json *sch, const lgr_json *doc,
               const char *path, char *err, size_t errlen);

static bool type_is(const char *t, const lgr_json *d)
{
    return (!strcmp(t, "object") && d->type == LGR_JOBJ) ||
           (!strcmp(t, "array") && d->type == LGR_JARR) ||
           (!strcmp(t, "string") && d->type == LGR_JSTR) ||
           (!strcmp(t, "boolean") && d->type == LGR_JBOOL) ||
           (!strcmp(t, "null") && d->type == LGR_JNULL) ||
           (!strcmp(t, "number") && d->type == LGR_JNUM) ||
           (!strcmp(t, "integer") && d->type == LGR_JNUM && d->integer);
}

static bool sv(const lgr_json *root, const lgr_json *sch, const lgr_json *doc,
               const char *path, char *err, size_t errlen)
{
    char sub[512];
#define NO(...) return snprintf(err, errlen, __VA_ARGS__), false
    if (sch->type != LGR_JOBJ)
        NO("%s: schema is not an object", path);
    const lgr_json *props = lgr_json_get(sch, "properties");
    for (size_t k = 0; k < sch->n; k++) {
        const char *kw = sch->keys[k];
        const lgr_json *v = &sch->kids[k];
        if (!strcmp(kw, "$ref")) {
            const char *pre = "#/$defs/";
            if (v->type != LGR_JSTR || strncmp(v->s, pre, strlen(pre)))
                NO("%s: $ref %s", path, v->s ? v->s : "?");
            const lgr_json *def =
                lgr_json_get(lgr_json_get(root, "$defs"), v->s + strlen(pre));
            if (!def)
                NO("%s: no %s", path, v->s);
            if (!sv(root, def, doc, path, err, errlen))
                return false;
        } else if (!strcmp(kw, "type")) {
            if (!type_is(v->s, doc))
                NO("%s: not %s", path, v->s);
        } else if (!strcmp(kw, "const")) {
            bool ok = v->type == doc->type &&
                      (v->type == LGR_JSTR ? !strcmp(v->s, doc->s)
                                           : v->num == doc->num);
            if (!ok)
                NO("%s: not the constant", path);
        } else if (!strcmp(kw, "minimum")) {
            if (doc->type == LGR_JNUM && doc->num < v->num)
                NO("%s: below %g", path, v->num);
        } else if (!strcmp(kw, "required")) {
            for (size_t i = 0; doc->type == LGR_JOBJ && i < v->n; i++)
                if (!lgr_json_get(doc, v->kids[i].s))
                    NO("%s: no \"%s\"", path, v->kids[i].s);
        } else if (!strcmp(kw, "properties")) {
            for (size_t i = 0; doc->type == LGR_JOBJ && i < doc->n; i++) {
                const lgr_json *ps = lgr_json_get(v, doc->keys[i]);
                snprintf(sub, sizeof sub, "%s.%s", path, doc->keys[i]);
                if (ps && !sv(root, ps, &doc->kids[i], sub, err, errlen))
                    return false;
            }
        } else if (!strcmp(kw, "additionalProperties")) {
            for (size_t i = 0; doc->type == LGR_JOBJ && i < doc->n; i++) {
                if (lgr_json_get(props, doc->keys[i]))
                    continue;
                snprintf(sub, sizeof sub, "%s.%s", path, doc->keys[i]);
                if (v->type == LGR_JBOOL && !v->b)
                    NO("%s: not allowed", sub);
                if (v->type == LGR_JOBJ &&
                    !sv(root, v, &doc->kids[i], sub, err, errlen))
                    return false;
            }
        } else if (!strcmp(kw, "items")) {
            for (size_t i = 0; doc->type == LGR_JARR && i < doc->n; i++) {
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                if (!sv(root, v, &doc->kids[i], sub, err, errlen))
                    return false;
            }
        } else if (!strcmp(kw, "minItems")) {
            if (doc->type == LGR_JARR && (double)doc->n < v->num)
                NO("%s: fewer than %g items", path, v->num);
        } else if (!strcmp(kw, "maxItems")) {
            if (doc->type == LGR_JARR && (double)doc->n > v->num)
                NO("%s: more than %g items", path, v->num);
        } else if (strcmp(kw, "$schema") && strcmp(kw, "$id") &&
                   strcmp(kw, "title") && strcmp(kw, "$defs")) {
            NO("%s: keyword %s not known to this checker", path, kw);
        }
    }
    return true;
#undef NO
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        n = 0;
    s[n] = '\0';
    fclose(f);
    return s;
}

/* 0 when text validates against docs/report.schema.json; else fails the
 * test, or returns -1 with the reason in err when `expect_bad`. */
int report_schema_check(const char *text, char *err, size_t errlen);
int report_schema_check(const char *text, char *err, size_t errlen)
{
    char *st = read_file(GOC_SOURCE_DIR "/docs/report.schema.json");
    if (!st)
        GOC_FAIL_("cannot read %s", "docs/report.schema.json");
    char perr[256];
    lgr_json *sch = lgr_json_parse(st, strlen(st), "schema", perr, sizeof perr);
    if (!sch)
        GOC_FAIL_("%s", perr);
    lgr_json *doc =
        lgr_json_parse(text, strlen(text), "doc", perr, sizeof perr);
    if (!doc)
        GOC_FAIL_("%s", perr);
    bool ok = sv(sch, sch, doc, "$", err, errlen);
    lgr_json_free(sch);
    lgr_json_free(doc);
    free(st);
    return ok ? 0 : -1;
}

GOC_TEST(report_json_schema)
{
    lgr_run r;
    make_run(&r);
    char *a, err[512];
    CAPTURE(a, lgr_write_json(f_, &r));
    if (report_schema_check(a, err, sizeof err) < 0)
        GOC_FAIL_("schema: %s", err);
    /* The checker can fail: a missing key, a wrong type, an extra code. */
    struct {
        const char *from, *to, *says;
    } bad[] = {
        {"\"late\":1,", "", "no \"late\""},
        {"\"keepalive\":true", "\"keepalive\":1", ".keepalive: not"},
        {"\"other\":0}", "\"other\":0,\"9\":1}", ".codes.9: not allowed"},
        {"\"schema_version\":1", "\"schema_version\":2", "constant"},
        {"[1000000,1]", "[1000000]", "fewer than 2"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *m = subst(a, bad[i].from, bad[i].to);
        ASSERT_EQ(report_schema_check(m, err, sizeof err), -1);
        if (!strstr(err, bad[i].says))
            GOC_FAIL_("case %zu: %s", i, err);
        free(m);
    }
    free(a);
    lgr_free(&r);
    return 0;
}

static void expect_bad(const char *text, const char *says)
{
    lgr_run r;
    char err[256];
    int rc = lgr_read_json(&r, text, strlen(text), "in.json", err, sizeof err);
    if (rc != -EINVAL || !strstr(err, says) || strncmp(err, "in.json:", 8))
        GOC_FAIL_("%s: got %d \"%s\", want \"%s\"", text, rc, err, says);
    ASSERT_PTR_EQ(r.target, NULL); /* left empty */
}

GOC_TEST(report_json_bad_input)
{
    lgr_run r;
    make_run(&r);
    char *a, err[256];
    CAPTURE(a, lgr_write_json(f_, &r));
    /* Every truncation fails, naming the file, line and column. */
    size_t n = strlen(a);
    for (size_t len = 0; len + 1 < n; len++) {
        lgr_run t;
        ASSERT_EQ(lgr_read_json(&t, a, len, "t.json", err, sizeof err),
                  -EINVAL);
        ASSERT(strncmp(err, "t.json:", 7) == 0);
        ASSERT(strstr(err, "(byte "));
    }
    expect_bad("", "1:1: expected a value, found the end of the text");
    expect_bad("{\"schema\":\"goc-loadgen-report\",\n\"schema_version\":1,",
               "2:20: expected a key in quotes, found the end");
    expect_bad("{\"a\":1}", "1:1: not a goc-loadgen report");
    expect_bad("[1,2]", "not a goc-loadgen report: an array");
    expect_bad("{\"schema\":\"goc-loadgen-report\",\"schema_version\":2}",
               "schema version 2: this goc-loadgen reads 1");
    expect_bad("{\"schema\":\"goc-loadgen-report\",\"schema_version\":1}",
               "no \"tool\" in this object");
    expect_bad("{\"a\":01}", "leading zero");
    expect_bad("{\"a\":1,}", "expected a key in quotes, found '}'");
    expect_bad("{\"a\":\"x\ty\"}", "control character 0x09");
    expect_bad("{\"a\":\"\\x\"}", "bad escape");
    expect_bad("{} x", "text after the report's end");
    expect_bad("\xef\xbb\xbf{}", "expected a value, found byte 0xef");
    /* Valid JSON, wrong content: the key and where it is. */
    char *m = subst(a, "\"rate\":2", "\"rate\":\"2\"");
    expect_bad(m, "\"rate\" must be a number, not a string");
    free(m);
    m = subst(a, "[2000000,1]", "[2000000,2]");
    expect_bad(m, "\"latency_ns\" buckets count 5, not 4");
    free(m);
    m = subst(a, "\"second\":1,", "\"second\":7,");
    expect_bad(m, "\"series\" row 1: \"second\" must be 1");
    free(m);
    free(a);
    lgr_free(&r);
    return 0;
}

GOC_TEST(report_html_self_contained)
{
    lgr_run a, b;
    make_run(&a);
    make_run(&b);
    b.source = strdup("dir/b.json");
    const lgr_run *runs[] = {&a, &b};
    char *s;
    CAPTURE(s, lgr_write_html(f_, runs, 2));
    /* Nothing to fetch: no src, href or url(), a policy that forbids
     * every request, and the data's "</script>" escaped. */
    ASSERT(!strstr(s, "src="));
    ASSERT(!strstr(s, "href="));
    ASSERT(!strstr(s, "url("));
    ASSERT(!strstr(s, "@import"));
    ASSERT(strstr(s, "content=\"default-src 'none'; script-src "
                     "'unsafe-inline'; style-src 'unsafe-inline'\""));
    ASSERT(!strstr(s, "127.0.0.1:8080/</script>"));
    ASSERT(strstr(s, "127.0.0.1:8080/\\u003c/script\\u003e"));
    /* Both runs, their names, the plots' places and the script. */
    const char *p = s;
    int runs_in = 0;
    while ((p = strstr(p, "\"schema\":\"goc-loadgen-report\"")))
        runs_in++, p++;
    ASSERT_EQ(runs_in, 2);
    ASSERT(strstr(s, "id=\"goc-names\">[\"calc://127.0.0.1:8080/\\u003c/"
                     "script\\u003e\",\"b.json\"]"));
    ASSERT(strstr(s, "<svg id=\"plot-time\">"));
    ASSERT(strstr(s, "<svg id=\"plot-spectrum\">"));
    ASSERT(strstr(s, "<svg id=\"plot-hist\">"));
    ASSERT(strstr(s, "function plotSpectrum"));
    /* The JSON in the page is a report, read back whole. */
    p = strstr(s, "id=\"goc-data\">[\n") + strlen("id=\"goc-data\">[\n");
    const char *end = strstr(p, "}\n,");
    ASSERT(end != NULL);
    lgr_run back;
    char err[256];
    ASSERT_EQ(
        lgr_read_json(&back, p, (size_t)(end - p + 2), "page", err, sizeof err),
        0);
    ASSERT_STR_EQ(back.target, a.target);
    lgr_free(&back);
    free(s);
    lgr_free(&a);
    lgr_free(&b);
    return 0;
}

GOC_TEST(report_live_line)
{
    lgr_live st = {0};
    struct goc_loadgen_progress p = {.elapsed = 2 * 1000 * MS,
                                     .issued = 2000,
                                     .completed = 1990,
                                     .errors = 3,
                                     .timeouts = 1,
                                     .interval_count = 1000,
                                     .interval_p50 = 1200000,
                                     .interval_p99 = 8 * MS,
                                     .interval_max = 1500 * MS};
    st.last_issued = 1000;
    st.last_at = 1000 * MS;
    char buf[256];
    lgr_live_format(buf, sizeof buf, &p, 10 * 1000 * MS, 1000, &st);
    ASSERT_STR_EQ(buf, "  2.0s/10s  rate 1000/s (asked 1000/s)  in flight 10"
                       "  last 1s: p50 1.2ms p99 8ms max 1.5s  errors 3 "
                       "timeouts 1");
    ASSERT_EQ(st.last_issued, 2000);
    p.interval_count = 0;
    lgr_live_format(buf, sizeof buf, &p, 10 * 1000 * MS, 1000, &st);
    ASSERT(strstr(buf, "rate 0/s"));
    ASSERT(strstr(buf, "p50 - p99 - max -"));
    return 0;
}
