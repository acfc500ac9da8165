/*
 * test_loadgen_part.c - a share of the schedule (params.part / parts), an
 * agreed start (params.start_at) and the histogram slot tops
 * (goc_loadgen_bucket_top): what goc-loadgen's MPI mode rests on. Several
 * generators given the same start and each a part make together the asked
 * schedule, every call once, each at its own due time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc_test.h"
#include "loadgen/hist.h"
#include "loadgen/loadgen_internal.h"

#define MS GOC_MILLISECOND
#define SEC GOC_SECOND

static int ok_call(void *user, void *session, const goc_call_req *req,
                   goc_call_resp *resp, int64_t deadline)
{
    (void)user, (void)session, (void)req, (void)resp, (void)deadline;
    return 0;
}

/* Receives every result of one part and checks it as it comes. */
typedef struct part_sink {
    goc_chan *ch;
    int64_t part, parts, start_at, lps;
    unsigned char *seen; /* per k of the whole schedule, shared */
    int64_t nseen;       /* size of seen */
    int64_t n, bad_part, bad_due, dup;
    goc_waitgroup *wg;
} part_sink;

static void part_sink_main(void *arg)
{
    part_sink *s = arg;
    goc_call_result res;
    while (goc_chan_recv(s->ch, &res)) {
        s->n++;
        if (res.seq < 0 || res.seq >= s->nseen ||
            res.seq % s->parts != s->part) {
            s->bad_part++;
            continue;
        }
        if (res.due != s->start_at + goc__loadgen_due_offset(res.seq, s->lps))
            s->bad_due++;
        /* Each sink writes only its own part's entries. */
        if (s->seen[res.seq]++)
            s->dup++;
    }
    goc_waitgroup_done(s->wg);
}

/* parts generators, all started with one start_at, lps and duration (and
 * count): checks that their calls are the schedule's, every one once. */
static void union_run(int64_t parts, int64_t lps, int64_t duration,
                      int64_t count)
{
    goc_caller c = {.call = ok_call};
    int64_t planned = goc__loadgen_planned(duration, lps);
    if (count && count < planned)
        planned = count;
    unsigned char *seen = calloc((size_t)planned, 1);
    ASSERT(seen != NULL);
    goc_loadgen **g = calloc((size_t)parts, sizeof *g);
    part_sink *s = calloc((size_t)parts, sizeof *s);
    ASSERT(g && s);
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    int64_t start_at = goc_nanotime() + 50 * MS;
    for (int64_t i = 0; i < parts; i++) {
        goc_chan *ch = goc_chan_make(sizeof(goc_call_result), 256);
        ASSERT(ch != NULL);
        goc_loadgen_params p = {.caller = &c,
                                .timeout = SEC,
                                .lps = lps,
                                .duration = duration,
                                .count = count,
                                .result_ch = ch,
                                .part = i,
                                .parts = parts,
                                .start_at = start_at};
        char err[256];
        ASSERT_EQ(goc_loadgen_new(&g[i], &p, err, sizeof err), 0);
        s[i] = (part_sink){.ch = ch,
                           .part = i,
                           .parts = parts,
                           .start_at = start_at,
                           .lps = lps,
                           .seen = seen,
                           .nseen = planned,
                           .wg = &wg};
        goc_waitgroup_add(&wg, 1);
        ASSERT_EQ(goc_go(part_sink_main, &s[i]), 0);
    }
    for (int64_t i = 0; i < parts; i++)
        ASSERT(goc_loadgen_start(g[i]));
    int64_t sum_planned = 0, sum_issued = 0;
    for (int64_t i = 0; i < parts; i++) {
        goc_loadgen_wait(g[i]);
        struct goc_loadgen_report r;
        ASSERT_EQ(goc_loadgen_report(g[i], &r), 0);
        ASSERT_EQ(r.start, start_at);
        /* This part's share of 0 .. planned - 1. */
        int64_t share = planned > i ? (planned - i - 1) / parts + 1 : 0;
        ASSERT_EQ(r.planned, share);
        ASSERT_EQ(r.issued + r.not_issued, share);
        ASSERT_EQ(r.success, r.issued);
        if (r.issued > 10)
            ASSERT_LE(r.achieved_rate, 1.01 * (double)lps / (double)parts);
        sum_planned += r.planned;
        sum_issued += r.issued;
    }
    goc_waitgroup_wait(&wg);
    ASSERT_EQ(sum_planned, planned);
    for (int64_t i = 0; i < parts; i++) {
        ASSERT_EQ(s[i].bad_part, 0);
        ASSERT_EQ(s[i].bad_due, 0);
        ASSERT_EQ(s[i].dup, 0);
        /* The calls a part issued are the first of its share (a busy
         * machine may leave its last ones not started by the end). */
        struct goc_loadgen_report r;
        ASSERT_EQ(goc_loadgen_report(g[i], &r), 0);
        ASSERT_EQ(s[i].n, r.issued);
        for (int64_t j = 0; j < r.issued; j++)
            ASSERT_EQ(seen[i + j * parts], 1);
        goc_loadgen_free(g[i]);
        goc_chan_free(s[i].ch);
    }
    int64_t nseen = 0;
    for (int64_t k = 0; k < planned; k++)
        nseen += seen[k];
    ASSERT_EQ(nseen, sum_issued);
    free(seen);
    free(g);
    free(s);
}

static int t_union(void *arg)
{
    (void)arg;
    union_run(3, 3000, 300 * MS, 0);  /* 900 calls, 300 each */
    union_run(3, 1000, 10 * SEC, 10); /* count: 4, 3, 3 */
    union_run(4, 2000, 101 * MS, 0);  /* 202: 51, 51, 50, 50 */
    union_run(5, 1000, 3 * MS, 0);    /* 3: parts 3 and 4 have none */
    return 0;
}

GOC_TEST_TIMEOUT(loadgen_part_union, 60)
{
    goc_maxprocs(2);
    return goc_main(t_union, NULL);
}

static int t_params(void *arg)
{
    (void)arg;
    goc_caller c = {.call = ok_call};
    goc_loadgen *g;
    char err[256];
    goc_loadgen_params p = {.caller = &c,
                            .timeout = SEC,
                            .lps = 100,
                            .duration = SEC,
                            .part = 3,
                            .parts = 3};
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "part must be") != NULL);
    p.part = 0, p.parts = -1;
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "parts must be") != NULL);
    p.parts = 0, p.part = 1;
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), -EINVAL);
    p.part = 0, p.start_at = -5;
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "start_at") != NULL);
    goc_loadgen_params q = {.caller = &c,
                            .timeout = SEC,
                            .duration = SEC,
                            .closed = true,
                            .max_in_flight = 2,
                            .parts = 2};
    ASSERT_EQ(goc_loadgen_new(&g, &q, err, sizeof err), -EINVAL);
    ASSERT(strstr(err, "open model only") != NULL);
    q.parts = 0, q.start_at = goc_nanotime();
    ASSERT_EQ(goc_loadgen_new(&g, &q, err, sizeof err), -EINVAL);
    /* parts 1 is the whole schedule. */
    p = (goc_loadgen_params){.caller = &c,
                             .timeout = SEC,
                             .lps = 1000,
                             .duration = 20 * MS,
                             .parts = 1};
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), 0);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    ASSERT_EQ(r.planned, 20);
    goc_loadgen_free(g);
    return 0;
}

GOC_TEST(loadgen_part_params)
{
    goc_maxprocs(1);
    return goc_main(t_params, NULL);
}

/* A start_at in the past: the calls already due are late, and those past
 * start_at + duration are not issued. */
static int t_start_past(void *arg)
{
    (void)arg;
    goc_caller c = {.call = ok_call};
    goc_loadgen *g;
    int64_t at = goc_nanotime() - 100 * MS;
    goc_loadgen_params p = {.caller = &c,
                            .timeout = SEC,
                            .lps = 1000,
                            .duration = 50 * MS,
                            .start_at = at};
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    struct goc_loadgen_report r;
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    ASSERT_EQ(r.start, at);
    ASSERT_EQ(r.planned, 50);
    ASSERT_EQ(r.issued, 0);
    ASSERT_EQ(r.not_issued, 50);
    goc_loadgen_free(g);
    return 0;
}

GOC_TEST(loadgen_part_start_in_the_past)
{
    goc_maxprocs(1);
    return goc_main(t_start_past, NULL);
}

/* goc_loadgen_bucket_top is the slot arithmetic of the histograms: the
 * buckets of a histogram are the tops of their slots (clamped to min and
 * max), and tops are fixed points. */
GOC_TEST(loadgen_bucket_top)
{
    ASSERT_EQ(goc_loadgen_bucket_top(0), 1000);
    ASSERT_EQ(goc_loadgen_bucket_top(1000), 1000);
    ASSERT_EQ(goc_loadgen_bucket_top(2047), 2047);
    ASSERT_EQ(goc_loadgen_bucket_top(2048), 2049);
    ASSERT_EQ(goc_loadgen_bucket_top(2049), 2049);
    ASSERT_EQ(goc_loadgen_bucket_top(INT64_C(1) << 40),
              goc_loadgen_bucket_top(GOC__HIST_HIGHEST));
    goc__hist h;
    ASSERT_EQ(goc__hist_init(&h), 0);
    uint64_t x = 88172645463325252u;
    int64_t prev = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t v = 1000 + (int64_t)(x % (uint64_t)(10 * SEC));
        if (i % 2)
            v = 1000 + (int64_t)(x % 100000);
        int64_t t = goc_loadgen_bucket_top(v);
        ASSERT_GE(t, v);
        ASSERT_LE(t - v, v / 1024);
        ASSERT_EQ(goc_loadgen_bucket_top(t), t);
        goc__hist_record(&h, v);
        (void)prev;
    }
    goc__hist_record(&h, 999);      /* min: 1000 */
    goc__hist_record(&h, 70 * SEC); /* max: 60 s */
    size_t n = goc__hist_slots(&h, NULL, 0);
    goc__hist_slot *sl = calloc(n, sizeof *sl);
    ASSERT(sl != NULL);
    ASSERT_EQ(goc__hist_slots(&h, sl, n), n);
    for (size_t i = 0; i < n; i++) {
        int64_t t = goc_loadgen_bucket_top(sl[i].value);
        int64_t want = t < h.min ? h.min : t > h.max ? h.max : t;
        ASSERT_EQ(sl[i].value, want);
        if (i > 0)
            ASSERT_GT(t, goc_loadgen_bucket_top(sl[i - 1].value));
    }
    free(sl);
    goc__hist_free(&h);
    return 0;
}
