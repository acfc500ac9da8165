/*
 * test_calcserver.c - the arithmetic server (src/calc/calcserver.c) and
 * the callers shipped (src/callers/callers.c) over loopback TCP:
 *  - the book's bytes in, the book's bytes out;
 *  - a table of malformed requests, each followed by a canary request
 *    that must still be answered: one error response or a close, never a
 *    crash, and the server keeps serving;
 *  - keep-alive on both sides, a server that closes kept connections;
 *  - the calc caller and the generator end to end, a hung server (calls
 *    time out once each, connections not reused), a stop during a hang
 *    (calls cut off), a refused connection, the tcp line caller.
 * Loopback only; every test bounded in time.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "goc.h"
#include "goc_test.h"

#if __has_include("goc/net.h")
#include "calc/calc_proto.h"
#include "goc/calcserver.h"

#define MS GOC_MILLISECOND
#define SEC GOC_SECOND

static int run_main(int procs, int (*fn)(void *), void *arg)
{
    goc_maxprocs(procs);
    return goc_main(fn, arg);
}

static bool slow_build(void)
{
    return goc_test_iter_div() > 1;
}

static void expect_alone(void)
{
    for (int i = 0; i < 2000 && goc_num_goroutine() > 1; i++)
        goc_sleep(MS);
    ASSERT_EQ(goc_num_goroutine(), 1);
}

static goc_calcserver *server(bool keepalive, int64_t idle)
{
    goc_calcserver *s;
    goc_calcserver_opts o = {.keepalive = keepalive, .idle_timeout = idle};
    ASSERT_EQ(goc_calcserver_start(&s, "127.0.0.1:0", &o), 0);
    ASSERT(strncmp(goc_calcserver_addr(s), "127.0.0.1:", 10) == 0);
    return s;
}

static goc_conn *dial(const char *addr)
{
    goc_conn *c;
    int rc = goc_dial_timeout(&c, "tcp", addr, 2 * SEC);
    if (rc < 0)
        GOC_FAIL_("dial %s: %s", addr, goc_strerror(rc));
    goc_conn_set_deadline(c, goc_nanotime() + 5 * SEC);
    return c;
}

static void send_all(goc_conn *c, const void *p, size_t n)
{
    ASSERT_EQ(goc_conn_write(c, p, n), (ssize_t)n);
}

/* Reads until '\n' or EOF into buf (NUL-terminated, without the '\n').
 * Returns the line's length, -1 at EOF before any byte, -2 at EOF inside
 * a line. Slow (a read per byte) but simple. */
static ssize_t recv_line(goc_conn *c, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = goc_conn_read(c, &ch, 1);
        if (r < 0 && r != -ECONNRESET)
            GOC_FAIL_("read: %s", goc_strerror((int)r));
        if (r <= 0) {
            buf[n] = '\0';
            return n ? -2 : -1;
        }
        if (ch == '\n') {
            buf[n] = '\0';
            return (ssize_t)n;
        }
        ASSERT_LT(n, cap - 1);
        buf[n++] = ch;
    }
}

/* After a response: the server closes (no keep-alive). */
static void expect_eof(goc_conn *c)
{
    char ch;
    ssize_t r = goc_conn_read(c, &ch, 1);
    if (!(r == 0 || r == -ECONNRESET))
        GOC_FAIL_("expected EOF, got %zd (%s)", r,
                  r < 0 ? goc_strerror((int)r) : "data");
}

static char resp_buf[GOC__CALC_MAX_LINE + 2];
/* The server under test keeps connections open: no EOF after a reply. */
static bool server_keepalive;

/* One request on a new connection; returns the response line (in
 * resp_buf), and checks the close that follows. */
static const char *round_trip(const char *addr, const char *req, size_t len)
{
    goc_conn *c = dial(addr);
    send_all(c, req, len);
    ssize_t n = recv_line(c, resp_buf, sizeof resp_buf);
    ASSERT_GE(n, 0);
    if (!server_keepalive)
        expect_eof(c);
    goc_conn_close(c);
    return resp_buf;
}

/* The canary: a valid request answered correctly. */
static void canary(const char *addr, int64_t id)
{
    char req[128], want[160];
    snprintf(req, sizeof req,
             "{\"ID\":%lld,\"Operands\":[40,2],\"Operator\":\"+\"}\n",
             (long long)id);
    snprintf(want, sizeof want,
             "{\"ID\":%lld,\"Formula\":\"40 + 2 = 42\",\"Result\":42,"
             "\"Err\":null}",
             (long long)id);
    ASSERT_STR_EQ(round_trip(addr, req, strlen(req)), want);
}

/* ---- the book's bytes ------------------------------------------------- */

static int t_wire(void *arg)
{
    (void)arg;
    goc_calcserver *s = server(false, 0);
    const char *a = goc_calcserver_addr(s);
    static const char *const pairs[][2] = {
        {"{\"ID\":1515155,\"Operands\":[1,2],\"Operator\":\"+\"}",
         "{\"ID\":1515155,\"Formula\":\"1 + 2 = 3\",\"Result\":3,"
         "\"Err\":null}"},
        {"{\"ID\":4,\"Operands\":[7,2],\"Operator\":\"/\"}",
         "{\"ID\":4,\"Formula\":\"7 / 2 = 3\",\"Result\":3,\"Err\":null}"},
        {"{\"ID\":6,\"Operands\":[5,5,3],\"Operator\":\"-\"}",
         "{\"ID\":6,\"Formula\":\"5 - 5 - 3 = 3\",\"Result\":3,\"Err\":null}"},
        {"{\"ID\":11,\"Operands\":[0,0],\"Operator\":\"/\"}",
         "{\"ID\":11,\"Formula\":\"0 / 0 = 0\",\"Result\":0,\"Err\":null}"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char req[256];
        int n = snprintf(req, sizeof req, "%s\n", pairs[i][0]);
        ASSERT_STR_EQ(round_trip(a, req, (size_t)n), pairs[i][1]);
    }
    /* A request in many small writes. */
    goc_conn *c = dial(a);
    const char *req = "{\"ID\":77,\"Operands\":[6,7],\"Operator\":\"*\"}\n";
    for (const char *p = req; *p; p++) {
        send_all(c, p, 1);
        if ((p - req) % 8 == 0)
            goc_sleep(MS);
    }
    ASSERT_GE(recv_line(c, resp_buf, sizeof resp_buf), 0);
    ASSERT_STR_EQ(resp_buf, "{\"ID\":77,\"Formula\":\"6 * 7 = 42\","
                            "\"Result\":42,\"Err\":null}");
    expect_eof(c);
    goc_conn_close(c);
    goc_calcserver_stats st;
    goc_calcserver_get_stats(s, &st);
    ASSERT_EQ(st.requests, 5);
    ASSERT_EQ(st.ok, 5);
    goc_calcserver_stop(s);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_calcserver_wire)
{
    return run_main(2, t_wire, NULL);
}

/* ---- malformed requests ----------------------------------------------- */

typedef struct bad_case {
    const char *what;
    const char *bytes; /* sent as is (NULL: built by the test) */
    size_t len;        /* 0: strlen(bytes) */
    const char *why;   /* a substring of the error, or NULL: a close only */
} bad_case;

#define NUL_REQ "{\"ID\":1,\0\"Operands\":[1,2],\"Operator\":\"+\"}\n"
#define REQ(ops, op) "{\"ID\":9,\"Operands\":" ops ",\"Operator\":" op "}\n"

static const bad_case bad[] = {
    {"empty line", "\n", 0, ""},
    {"spaces", "   \n", 0, ""},
    {"not JSON", "hello\n", 0, ""},
    {"a number", "42\n", 0, ""},
    {"an array", "[1,2]\n", 0, ""},
    {"null", "null\n", 0, ""},
    {"a string", "\"x\"\n", 0, ""},
    {"unterminated object", "{\"ID\":1,\n", 0, ""},
    {"unterminated string", "{\"ID\":1,\"Operator\":\"+\n", 0, ""},
    {"missing ID", "{\"Operands\":[1,2],\"Operator\":\"+\"}\n", 0, ""},
    {"missing operands", "{\"ID\":1,\"Operator\":\"+\"}\n", 0, ""},
    {"missing operator", "{\"ID\":1,\"Operands\":[1,2]}\n", 0, ""},
    {"empty object", "{}\n", 0, ""},
    {"ID a string", "{\"ID\":\"1\",\"Operands\":[1,2],\"Operator\":\"+\"}\n", 0,
     ""},
    {"ID a float", "{\"ID\":1.5,\"Operands\":[1,2],\"Operator\":\"+\"}\n", 0,
     ""},
    {"ID null", "{\"ID\":null,\"Operands\":[1,2],\"Operator\":\"+\"}\n", 0, ""},
    {"ID too big",
     "{\"ID\":9223372036854775808,\"Operands\":[1,2],\"Operator\":\"+\"}\n", 0,
     ""},
    {"operands an object", REQ("{}", "\"+\""), 0, ""},
    {"operands null", REQ("null", "\"+\""), 0, ""},
    {"operand a string", REQ("[\"1\",2]", "\"+\""), 0, ""},
    {"operand a float", REQ("[1.5,2]", "\"+\""), 0, ""},
    {"operand exponent", REQ("[1e2,2]", "\"+\""), 0, ""},
    {"operand too big", REQ("[99999999999999999999,2]", "\"+\""), 0, ""},
    {"operand true", REQ("[true,2]", "\"+\""), 0, ""},
    {"nested operands", REQ("[[1],2]", "\"+\""), 0, ""},
    {"operator a number", REQ("[1,2]", "43"), 0, ""},
    {"operator null", REQ("[1,2]", "null"), 0, ""},
    {"unknown operator", REQ("[1,2]", "\"%\""), 0, "unknown operator"},
    {"long operator", REQ("[1,2]", "\"++++++++++++++++++++++++\""), 0, ""},
    {"division by zero", REQ("[5,0]", "\"/\""), 0, "division by zero"},
    {"overflow +", REQ("[9223372036854775807,1]", "\"+\""), 0,
     "int64 overflow"},
    {"overflow *", REQ("[4294967296,4294967296]", "\"*\""), 0,
     "int64 overflow"},
    {"overflow /", REQ("[-9223372036854775808,-1]", "\"/\""), 0,
     "int64 overflow"},
    {"trailing data", "{\"ID\":1,\"Operands\":[1,2],\"Operator\":\"+\"}x\n", 0,
     ""},
    {"two objects",
     "{\"ID\":1,\"Operands\":[1,2],\"Operator\":\"+\"}{\"ID\":2}\n", 0, ""},
    {"duplicate key",
     "{\"ID\":1,\"ID\":2,\"Operands\":[1,2],\"Operator\":\"+\"}\n", 0, ""},
    {"lower-case key", "{\"id\":1,\"Operands\":[1,2],\"Operator\":\"+\"}\n", 0,
     ""},
    {"unknown key",
     "{\"ID\":1,\"Operands\":[1,2],\"Operator\":\"+\",\"X\":1}\n", 0, ""},
    {"NUL byte", NUL_REQ, sizeof NUL_REQ - 1, ""},
    {"escaped NUL", REQ("[1,2]", "\"\\u0000\""), 0, ""},
    {"invalid UTF-8", REQ("[1,2]", "\"\xff\xfe\""), 0, ""},
    {"binary garbage", "\x01\x02\x03\xff\xfe\x80\n", 0, ""},
    {"deep nesting", NULL, 0, ""},      /* [[[[...]]]] 10,000 deep */
    {"too many operands", NULL, 0, ""}, /* 65 operands */
    {"line over 64 KiB", NULL, 0, "64 KiB"},
    {"no newline, then EOF", "{\"ID\":1,\"Operands\":[1,2]", 0, "EOF"},
    {"CR LF", "{\"ID\":1,\"Operands\":[1,2],\"Operator\":\"+\"}\r\n", 0,
     NULL}, /* answered (as JSON whitespace) or refused, either is fine */
};

/* Sends case i on a new connection; checks for one error response or a
 * close. */
static void send_bad(const char *addr, size_t i, char *big, size_t bigcap,
                     bool keepalive)
{
    const bad_case *b = &bad[i];
    const char *p = b->bytes;
    size_t len = b->len ? b->len : (p ? strlen(p) : 0);
    if (!p) {
        size_t n = 0;
        if (!strcmp(b->what, "deep nesting")) {
            for (int k = 0; k < 10000; k++)
                big[n++] = '[';
            for (int k = 0; k < 10000; k++)
                big[n++] = ']';
        } else if (!strcmp(b->what, "too many operands")) {
            n += (size_t)snprintf(big, bigcap, "{\"ID\":1,\"Operands\":[1");
            for (int k = 0; k < 64; k++)
                n += (size_t)snprintf(big + n, bigcap - n, ",1");
            n += (size_t)snprintf(big + n, bigcap - n, "],\"Operator\":\"+\"}");
        } else { /* a line over 64 KiB */
            n += (size_t)snprintf(big, bigcap, "{\"ID\":1,\"Operator\":\"");
            while (n < GOC__CALC_MAX_LINE + 100)
                big[n++] = 'x';
            n += (size_t)snprintf(big + n, bigcap - n, "\"}");
        }
        big[n++] = '\n';
        ASSERT_LT(n, bigcap);
        p = big;
        len = n;
    }
    goc_conn *c = dial(addr);
    ssize_t w = goc_conn_write(c, p, len);
    /* The server may answer and close before it has read everything. */
    ASSERT(w == (ssize_t)len || w == -EPIPE || w == -ECONNRESET);
    if (!strcmp(b->what, "no newline, then EOF"))
        ASSERT_EQ(shutdown(goc_conn_fd(c), SHUT_WR), 0);
    ssize_t n = recv_line(c, resp_buf, sizeof resp_buf);
    if (n >= 0) {
        goc__calc_resp r;
        char err[256];
        ASSERT_EQ(
            goc__calc_parse_response(resp_buf, (size_t)n, &r, err, sizeof err),
            0);
        if (b->why) {
            if (!r.has_err || !strstr(r.err, b->why))
                GOC_FAIL_("case %zu (%s): response %s", i, b->what, resp_buf);
            ASSERT_EQ(r.result, 0);
            ASSERT_STR_EQ(r.formula, "");
            ASSERT(r.id == 0 || r.id == 9);
        }
        for (const char *q = resp_buf; *q; q++) /* printable, one line */
            ASSERT((unsigned char)*q >= 0x20);
        if (!keepalive) {
            expect_eof(c); /* one response only */
        } else {           /* nothing more comes: a close at most */
            char ch;
            goc_conn_set_read_deadline(c, goc_nanotime() + 50 * MS);
            ssize_t r = goc_conn_read(c, &ch, 1);
            ASSERT(r == -ETIMEDOUT || r == 0 || r == -ECONNRESET);
        }
    } else if (b->why && *b->why) {
        GOC_FAIL_("case %zu (%s): closed without a response", i, b->what);
    }
    goc_conn_close(c);
}

static int t_malformed(void *arg)
{
    (void)arg;
    size_t n = sizeof bad / sizeof bad[0];
    ASSERT_GE(n, 40);
    size_t bigcap = GOC__CALC_MAX_LINE + 30000;
    char *big = malloc(bigcap);
    ASSERT(big != NULL);
    for (int ka = 0; ka < 2; ka++) {
        goc_calcserver *s = server(ka == 1, 0);
        const char *a = goc_calcserver_addr(s);
        server_keepalive = ka == 1;
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "case %zu (%s), keep-alive %d\n", i, bad[i].what,
                    ka);
            send_bad(a, i, big, bigcap, ka == 1);
            canary(a, (int64_t)i + 1000);
        }
        /* Connect and close at once, and a connection reset. */
        goc_conn *c = dial(a);
        goc_conn_close(c);
        canary(a, 1);
        goc_calcserver_stats st;
        goc_calcserver_get_stats(s, &st);
        ASSERT_GE(st.errors, (int64_t)n - 3);
        ASSERT_GE(st.ok, (int64_t)n);
        goc_calcserver_stop(s);
    }
    free(big);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_calcserver_malformed)
{
    return run_main(2, t_malformed, NULL);
}

/* Keep-alive: many requests on one connection, errors in between; an
 * idle client is disconnected; a stop wakes idle connections. */
static int t_keepalive(void *arg)
{
    (void)arg;
    /* The requests go to a server whose 10 s idle limit is only a hang
     * guard: a loaded machine once held the client off the CPU for over
     * 1 s between two requests (and 300 ms before that). The idle limit
     * itself is checked on a second server, over one request. */
    goc_calcserver *s = server(true, 10 * SEC);
    const char *a = goc_calcserver_addr(s);
    goc_conn *c = dial(a);
    goc_conn_set_deadline(c, goc_nanotime() + 30 * SEC);
    char req[128], want[160];
    for (int i = 0; i < 50; i++) {
        int n;
        if (i % 10 == 3)
            n = snprintf(req, sizeof req, "garbage %d\n", i);
        else
            n = snprintf(req, sizeof req,
                         "{\"ID\":%d,\"Operands\":[%d,3],\"Operator\":\"*\"}"
                         "\n",
                         i, i + 1);
        send_all(c, req, (size_t)n);
        ASSERT_GE(recv_line(c, resp_buf, sizeof resp_buf), 0);
        if (i % 10 == 3) {
            ASSERT(strstr(resp_buf, "\"ID\":0,\"Formula\":\"\",\"Result\":0,"
                                    "\"Err\":\""));
        } else {
            snprintf(want, sizeof want,
                     "{\"ID\":%d,\"Formula\":\"%d * 3 = %d\",\"Result\":%d,"
                     "\"Err\":null}",
                     i, i + 1, 3 * (i + 1), 3 * (i + 1));
            ASSERT_STR_EQ(resp_buf, want);
        }
    }
    /* Two requests in one write: two responses, in order. */
    const char *two = "{\"ID\":1,\"Operands\":[1,1],\"Operator\":\"+\"}\n"
                      "{\"ID\":2,\"Operands\":[2,2],\"Operator\":\"+\"}\n";
    send_all(c, two, strlen(two));
    ASSERT_GE(recv_line(c, resp_buf, sizeof resp_buf), 0);
    ASSERT(strstr(resp_buf, "\"ID\":1,"));
    ASSERT_GE(recv_line(c, resp_buf, sizeof resp_buf), 0);
    ASSERT(strstr(resp_buf, "\"ID\":2,"));
    goc_conn_close(c);
    /* Idle for longer than 1 s: the server hangs up (not at once; the
     * limit runs from its answer, before t0). */
    goc_calcserver *short_idle = server(true, SEC);
    c = dial(goc_calcserver_addr(short_idle));
    const char *one = "{\"ID\":7,\"Operands\":[1,1],\"Operator\":\"+\"}\n";
    send_all(c, one, strlen(one));
    ASSERT_GE(recv_line(c, resp_buf, sizeof resp_buf), 0);
    ASSERT(strstr(resp_buf, "\"ID\":7,"));
    int64_t t0 = goc_nanotime();
    ASSERT_EQ(recv_line(c, resp_buf, sizeof resp_buf), -1);
    ASSERT_GE(goc_nanotime() - t0, 500 * MS);
    goc_conn_close(c);
    goc_calcserver_stop(short_idle);
    /* A stop with idle connections open returns promptly. */
    goc_conn *idle[5];
    for (int i = 0; i < 5; i++)
        idle[i] = dial(a);
    goc_sleep(20 * MS);
    t0 = goc_nanotime();
    goc_calcserver_stop(s);
    /* Promptly: long before the 10 s idle limit; 5 s is a loaded
     * machine's slack. */
    ASSERT_LT(goc_nanotime() - t0, 5 * SEC);
    for (int i = 0; i < 5; i++) {
        expect_eof(idle[i]);
        goc_conn_close(idle[i]);
    }
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_calcserver_keepalive)
{
    return run_main(2, t_keepalive, NULL);
}

/* ---- the calc caller and the generator, end to end -------------------- */

static void run_gen(goc_caller *c, int64_t lps, int64_t dur, int64_t timeout,
                    struct goc_loadgen_report *r)
{
    goc_loadgen_params p = {
        .caller = c, .timeout = timeout, .lps = lps, .duration = dur};
    goc_loadgen *g;
    char err[256];
    ASSERT_EQ(goc_loadgen_new(&g, &p, err, sizeof err), 0);
    ASSERT(goc_loadgen_start(g));
    goc_loadgen_wait(g);
    ASSERT_EQ(goc_loadgen_report(g, r), 0);
    ASSERT_EQ(r->success + r->timeouts + r->call_errors + r->response_errors +
                  r->callee_errors + r->fatal_calls + r->other_codes +
                  r->canceled,
              r->issued);
    goc_loadgen_free(g);
}

static int t_calc_e2e(void *arg)
{
    (void)arg;
    struct goc_loadgen_report r;
    for (int mode = 0; mode < 4; mode++) {
        bool srv_ka = mode & 1, cli_ka = mode & 2;
        goc_calcserver *s = server(srv_ka, 0);
        goc_caller c;
        goc_caller_opts o = {.keepalive = cli_ka};
        char url[160];
        snprintf(url, sizeof url, "calc://%s", goc_calcserver_addr(s));
        ASSERT_EQ(goc_caller_from_url(&c, url, &o, NULL, 0), 0);
        run_gen(&c, 1000, 300 * MS, 5 * SEC, &r);
        /* A busy machine may leave the last calls not started by the
         * end, and sanitizer builds may time out a few. */
        ASSERT_EQ(r.issued + r.not_issued, 300);
        ASSERT_GT(r.issued, 0);
        ASSERT_EQ(r.success + (slow_build() ? r.timeouts : 0), r.issued);
        ASSERT_EQ(r.call_errors + r.response_errors + r.callee_errors, 0);
        goc_calcserver_stats st;
        goc_calcserver_get_stats(s, &st);
        ASSERT_GE(st.ok, r.success);
        if (cli_ka && srv_ka && !r.timeouts)
            ASSERT_LE(st.conns, r.peak_in_flight + 2);
        else if (!r.timeouts)
            ASSERT_GE(st.conns, r.issued); /* one per call (or redialled) */
        goc_caller_destroy(&c);
        goc_calcserver_stop(s);
    }
    /* Nobody listening: every call is a call error (2001). */
    goc_calcserver *s = server(false, 0);
    char url[160];
    snprintf(url, sizeof url, "calc://%s", goc_calcserver_addr(s));
    goc_calcserver_stop(s);
    goc_caller c;
    ASSERT_EQ(goc_caller_from_url(&c, url, NULL, NULL, 0), 0);
    run_gen(&c, 1000, 50 * MS, 500 * MS, &r);
    ASSERT_EQ(r.issued + r.not_issued, 50);
    ASSERT_GT(r.issued, 0);
    ASSERT_EQ(r.call_errors, r.issued);
    goc_caller_destroy(&c);
    /* Bad URLs. */
    char err[256];
    ASSERT_EQ(goc_caller_from_url(&c, "ftp://x:1", NULL, err, sizeof err),
              -EINVAL);
    ASSERT(strstr(err, "unknown target"));
    ASSERT_EQ(goc_caller_from_url(&c, "calc://nohost", NULL, err, sizeof err),
              -EINVAL);
    ASSERT(strstr(err, "host:port"));
    ASSERT_EQ(goc_caller_from_url(&c, "tcp://:80", NULL, err, sizeof err),
              -EINVAL);
    ASSERT_EQ(goc_caller_from_url(&c, "calc://h:1/x", NULL, err, sizeof err),
              -EINVAL);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_calc_e2e)
{
    return run_main(2, t_calc_e2e, NULL);
}

/* A server that accepts and never answers (or answers wrongly). */
typedef struct fake_srv {
    goc_listener *l;
    char addr[128];
    int mode; /* 0: silent, 1: echo lines, 2: wrong calc answers,
               * 3: close after a request, unanswered */
    goc_waitgroup wg;
    _Atomic int64_t conns;
    _Atomic int64_t max_lines; /* most request lines on one connection */
    _Atomic bool closing;
    goc_mutex mu;
    goc_conn *open[4096]; /* mu */
    int nopen;
} fake_srv;

static void fake_conn(void *arg)
{
    void **a = arg;
    fake_srv *f = a[0];
    goc_conn *c = a[1];
    free(a);
    char buf[4096];
    size_t have = 0;
    int64_t lines = 0;
    for (;;) {
        ssize_t n = goc_conn_read(c, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
            size_t len = (size_t)(nl - buf) + 1;
            int64_t m = atomic_load(&f->max_lines);
            lines++;
            while (lines > m &&
                   !atomic_compare_exchange_weak(&f->max_lines, &m, lines))
                ;
            if (f->mode == 3)
                goto closed;
            if (f->mode == 1) {
                goc_conn_write(c, buf, len);
            } else if (f->mode == 2) {
                goc__calc_req q;
                goc__calc_resp r;
                ASSERT_EQ(goc__calc_parse_request(buf, len - 1, &q, NULL, 0),
                          0);
                goc__calc_eval(&q, &r);
                if (q.id % 3 == 0)
                    r.result++;
                else if (q.id % 3 == 1)
                    r.id++;
                else
                    goc__calc_resp_error(&r, q.id, "out of order");
                char out[512];
                int k = goc__calc_format_response(&r, out, sizeof out - 1);
                out[k++] = '\n';
                goc_conn_write(c, out, (size_t)k);
            }
            memmove(buf, buf + len, have - len);
            have -= len;
        }
    }
closed:
    goc_mutex_lock(&f->mu);
    for (int i = 0; i < f->nopen; i++)
        if (f->open[i] == c)
            f->open[i] = f->open[--f->nopen];
    goc_mutex_unlock(&f->mu);
    goc_conn_close(c);
    goc_waitgroup_done(&f->wg);
}

static void fake_accept(void *arg)
{
    fake_srv *f = arg;
    for (;;) {
        goc_conn *c;
        if (goc_accept(f->l, &c) < 0) {
            if (atomic_load(&f->closing))
                break;
            continue;
        }
        atomic_fetch_add(&f->conns, 1);
        goc_mutex_lock(&f->mu);
        ASSERT_LT(f->nopen, 4096);
        f->open[f->nopen++] = c;
        goc_waitgroup_add(&f->wg, 1);
        goc_mutex_unlock(&f->mu);
        void **a = malloc(2 * sizeof *a);
        a[0] = f;
        a[1] = c;
        ASSERT_EQ(goc_go(fake_conn, a), 0);
    }
    goc_waitgroup_done(&f->wg);
}

static fake_srv *fake_start(int mode)
{
    fake_srv *f = calloc(1, sizeof *f);
    f->mode = mode;
    ASSERT_EQ(goc_listen(&f->l, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(f->l, f->addr, sizeof f->addr), 0);
    goc_waitgroup_add(&f->wg, 1);
    ASSERT_EQ(goc_go(fake_accept, f), 0);
    return f;
}

static void fake_stop(fake_srv *f)
{
    atomic_store(&f->closing, true);
    goc_listener_close(f->l);
    goc_mutex_lock(&f->mu);
    for (int i = 0; i < f->nopen; i++)
        goc_conn_set_deadline(f->open[i], 1);
    goc_mutex_unlock(&f->mu);
    goc_waitgroup_wait(&f->wg);
    free(f);
}

static int t_hung_server(void *arg)
{
    (void)arg;
    struct goc_loadgen_report r;
    /* Every call times out once, at its timeout; with keep-alive asked,
     * a timed-out connection is never reused: one connection per call. */
    fake_srv *f = fake_start(0);
    goc_caller c;
    goc_caller_opts o = {.keepalive = true};
    ASSERT_EQ(goc_caller_calc(&c, f->addr, &o), 0);
    run_gen(&c, 500, 200 * MS, 30 * MS, &r);
    ASSERT_EQ(r.issued + r.not_issued, 100);
    ASSERT_GT(r.issued, 0);
    ASSERT_EQ(r.timeouts, r.issued);
    ASSERT_LE(atomic_load(&f->conns), 100);
    ASSERT_GT(atomic_load(&f->conns), 0);
    ASSERT_LE(atomic_load(&f->max_lines), 1); /* no connection reused */
    ASSERT_GE(r.service.p50, 30 * MS);
    ASSERT_LE(r.peak_in_flight, r.max_in_flight);

    /* A stop during the hang cuts the calls in flight off at once. */
    goc_loadgen_params p = {.caller = &c,
                            .timeout = 10 * SEC,
                            .lps = 200,
                            .duration = 10 * SEC,
                            .max_in_flight = 100};
    goc_loadgen *g;
    ASSERT_EQ(goc_loadgen_new(&g, &p, NULL, 0), 0);
    ASSERT(goc_loadgen_start(g));
    /* Some calls hung (a busy machine starts them slowly: wait for them,
     * up to 8 s of the 10 s run). */
    for (int i = 0; i < 800 && goc_loadgen_call_count(g) <= 10; i++)
        goc_sleep(10 * MS);
    int64_t t0 = goc_nanotime();
    ASSERT(goc_loadgen_stop(g));
    ASSERT_LT(goc_nanotime() - t0, 2 * SEC);
    ASSERT_EQ(goc_loadgen_report(g, &r), 0);
    ASSERT_GT(r.issued, slow_build() ? 0 : 10); /* TSan, busy: a few */
    ASSERT_EQ(r.canceled, r.issued);
    goc_loadgen_free(g);
    goc_caller_destroy(&c);
    fake_stop(f);

    /* Wrong answers: wrong result and wrong ID are response errors
     * (2002), an Err is a callee error (2003). */
    f = fake_start(2);
    ASSERT_EQ(goc_caller_calc(&c, f->addr, NULL), 0);
    run_gen(&c, 1000, 300 * MS, 5 * SEC, &r);
    ASSERT_EQ(r.issued + r.not_issued, 300);
    ASSERT_GT(r.issued, 0); /* a busy machine may not start the last */
    ASSERT_EQ(r.response_errors + r.callee_errors +
                  (slow_build() ? r.timeouts : 0),
              r.issued);
    if (!slow_build()) {
        ASSERT_GE(r.response_errors, r.issued / 2);
        ASSERT_GE(r.callee_errors, r.issued / 4);
    }
    goc_caller_destroy(&c);
    fake_stop(f);

    /* The tcp line caller against an echo server. */
    f = fake_start(1);
    for (int ka = 0; ka < 2; ka++) {
        goc_caller_opts eo = {.keepalive = ka, .payload = ka ? "ping" : NULL};
        char url[160];
        snprintf(url, sizeof url, "tcp://%s", f->addr);
        ASSERT_EQ(goc_caller_from_url(&c, url, &eo, NULL, 0), 0);
        run_gen(&c, 1000, 200 * MS, 5 * SEC, &r);
        ASSERT_EQ(r.issued + r.not_issued, 200);
        ASSERT_GT(r.issued, 0);
        ASSERT_EQ(r.success + (slow_build() ? r.timeouts : 0), r.issued);
        goc_caller_destroy(&c);
    }
    goc_caller_opts bad = {.payload = "a\nb"};
    ASSERT_EQ(goc_caller_tcp_line(&c, f->addr, &bad), -EINVAL);
    fake_stop(f);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_calc_hung_server)
{
    return run_main(2, t_hung_server, NULL);
}

/* Every failed call counted under kind (or also, -1: none), the first
 * message of kind kept. */
static void expect_kinds(const struct goc_loadgen_report *r, int kind, int also,
                         const char *says)
{
    ASSERT_GT(r->issued, 0);
    int64_t n = also >= 0 ? r->errors[also] : 0;
    ASSERT_EQ(r->errors[kind] + n, r->issued);
    for (int k = 0; k < GOC_CALL_ERR_N; k++) {
        if (k == kind || k == also)
            continue;
        if (r->errors[k] != 0 || r->first_error[k][0] != '\0')
            GOC_FAIL_("kind %s: %lld (%s)", goc_call_err_name(k),
                      (long long)r->errors[k], r->first_error[k]);
    }
    if (r->errors[kind] && !strstr(r->first_error[kind], says))
        GOC_FAIL_("%s: \"%s\" lacks \"%s\"", goc_call_err_name(kind),
                  r->first_error[kind], says);
}

static void expect_kind(const struct goc_loadgen_report *r, int kind,
                        const char *says)
{
    ASSERT_GT(r->errors[kind], 0);
    expect_kinds(r, kind, -1, says);
}

/* Issue 20, defect 4: errors by kind, with the first message of each
 * (they were all "Call Error (2001)"). */
static int t_error_kinds(void *arg)
{
    (void)arg;
    struct goc_loadgen_report r;
    goc_caller c;

    /* Each run lasts 500 ms: with -d strict, a loaded machine once issued
     * none of a 100 ms run's calls under TSan. */

    /* Nobody listening: connect refused. */
    goc_calcserver *s = server(false, 0);
    char addr[160];
    snprintf(addr, sizeof addr, "%s", goc_calcserver_addr(s));
    goc_calcserver_stop(s);
    ASSERT_EQ(goc_caller_calc(&c, addr, NULL), 0);
    run_gen(&c, 500, 500 * MS, 2 * SEC, &r);
    expect_kind(&r, GOC_CALL_ERR_CONNECT_REFUSED, "connection refused");
    ASSERT(strstr(r.first_error[GOC_CALL_ERR_CONNECT_REFUSED], addr));
    ASSERT_EQ(r.call_errors, r.issued);
    goc_caller_destroy(&c);

    /* A server that never answers: timeout. */
    fake_srv *f = fake_start(0);
    ASSERT_EQ(goc_caller_calc(&c, f->addr, NULL), 0);
    run_gen(&c, 100, 500 * MS, 200 * MS, &r);
    ASSERT_EQ(r.timeouts, r.issued);
    /* A timeout (a busy machine may not even connect in time). */
    expect_kinds(&r, GOC_CALL_ERR_TIMEOUT, GOC_CALL_ERR_CONNECT_TIMEOUT,
                 "timed out");
    goc_caller_destroy(&c);
    fake_stop(f);

    /* A server that closes without answering: reset. */
    f = fake_start(3);
    ASSERT_EQ(goc_caller_calc(&c, f->addr, NULL), 0);
    run_gen(&c, 500, 500 * MS, 2 * SEC, &r);
    expect_kind(&r, GOC_CALL_ERR_RESET, "closed before the response");
    goc_caller_destroy(&c);
    fake_stop(f);

    /* A name that does not resolve (RFC 6761's .invalid): prepare says
     * so; calls made anyway fail as dns. */
    ASSERT_EQ(goc_caller_calc(&c, "nonexistent.invalid:80", NULL), 0);
    char err[256];
    ASSERT(goc_caller_prepare(&c, 10 * SEC, err, sizeof err) < 0);
    ASSERT(strstr(err, "cannot resolve nonexistent.invalid"));
    run_gen(&c, 200, 500 * MS, 10 * SEC, &r);
    expect_kind(&r, GOC_CALL_ERR_DNS, "resolve nonexistent.invalid");
    goc_caller_destroy(&c);

    /* localhost resolves, once, and the calls reach the server. */
    s = server(true, 0);
    const char *port = strrchr(goc_calcserver_addr(s), ':');
    snprintf(addr, sizeof addr, "localhost%s", port);
    goc_caller_opts ka = {.keepalive = true};
    ASSERT_EQ(goc_caller_calc(&c, addr, &ka), 0);
    if (goc_caller_prepare(&c, 10 * SEC, err, sizeof err) == 0) {
        run_gen(&c, 500, 100 * MS, 5 * SEC, &r);
        ASSERT_EQ(r.success + (slow_build() ? r.timeouts : 0), r.issued);
    } /* else: a machine whose localhost is ::1 only */
    goc_caller_destroy(&c);
    goc_calcserver_stop(s);
    expect_alone();
    return 0;
}

GOC_TEST(loadgen_calc_error_kinds)
{
    return run_main(2, t_error_kinds, NULL);
}

#endif /* goc/net.h */
