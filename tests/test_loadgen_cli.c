/*
 * test_loadgen_cli.c - goc-loadgen end to end, run as a child process
 * (tools/goc_loadgen.c): --help, usage errors and their exit status, a
 * short run of the book's scenario with --json (the JSON is parsed and its
 * numbers checked), SIGINT in the middle of a run (a clean stop: the
 * report is printed, every call accounted for, status 130), an
 * unreachable target (status 1).
 *
 * The binary is found next to the test runner: <dir of goc_tests>/tools/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "goc.h"
#include "goc_test.h"

#if __has_include("goc/net.h")

static bool slow_build(void)
{
    return goc_test_iter_div() > 1;
}

static void tool_path_of(const char *name, char *buf, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ASSERT(n > 0);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    ASSERT(slash != NULL);
    *slash = '\0';
    int w = snprintf(buf, len, "%.*s/tools/%s", PATH_MAX - 64, self, name);
    ASSERT(w > 0 && (size_t)w < len);
    if (access(buf, X_OK) != 0)
        GOC_FAIL_("%s is missing: build the tools", buf);
}

typedef struct child {
    pid_t pid;
    int out, err; /* read ends */
} child;

/* Starts tools/<name> with args; with lost_stdout its stdout is a pipe
 * whose reader has gone (c.out is then -1). */
static child spawn_tool(const char *name, const char *const *args,
                        bool lost_stdout)
{
    char path[PATH_MAX];
    tool_path_of(name, path, sizeof path);
    int po[2], pe[2];
    ASSERT_EQ(pipe2(po, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(pe, O_CLOEXEC), 0);
    const char *argv[32] = {path};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    if (lost_stdout) {
        /* Before the fork: the child's first write must find no reader
         * (closed after it, a quick --help could fill the pipe first). */
        close(po[0]);
        po[0] = -1;
    }
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    return (child){pid, po[0], pe[0]};
}

static child spawn(const char *const *args)
{
    return spawn_tool("goc-loadgen", args, false);
}

/* Reads fd to EOF into a malloc'd string. */
static char *slurp(int fd)
{
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    if (fd < 0) {
        s[0] = '\0';
        return s;
    }
    for (;;) {
        if (len + 1 == cap)
            s = realloc(s, cap *= 2);
        ssize_t n = read(fd, s + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    s[len] = '\0';
    close(fd);
    return s;
}

/* Waits for the child; its exit status, or 256 + the signal that killed
 * it. Reads stdout, then stderr (both small). */
static int finish(child c, char **out, char **err)
{
    *out = slurp(c.out);
    *err = slurp(c.err);
    int st;
    ASSERT_EQ(waitpid(c.pid, &st, 0), c.pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 256 + WTERMSIG(st);
}

static int run_tool(const char *const *args, char **out, char **err)
{
    return finish(spawn(args), out, err);
}

/* ---- a small JSON reader: validates the whole text, finds numbers ---- */

static const char *js_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* Validates one value at p; returns the end, or NULL. */
static const char *js_value(const char *p, int depth)
{
    p = js_ws(p);
    if (depth > 20)
        return NULL;
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = js_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                p = js_value(p, depth + 1); /* the key */
                if (!p || *(p = js_ws(p)) != ':')
                    return NULL;
                p++;
            }
            p = js_value(p, depth + 1);
            if (!p)
                return NULL;
            p = js_ws(p);
            if (*p == close)
                return p + 1;
            if (*p != ',')
                return NULL;
            p++;
        }
    }
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && !*++p)
                return NULL;
        return *p == '"' ? p + 1 : NULL;
    }
    if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
        return p + 4;
    if (!strncmp(p, "false", 5))
        return p + 5;
    char *end;
    strtod(p, &end);
    return end == p ? NULL : end;
}

static void json_valid(const char *s)
{
    const char *end = js_value(s, 0);
    if (!end || *js_ws(end) != '\0')
        GOC_FAIL_("not one JSON object: %s", s);
}

/* The number after "key": (keys are unique in our output except inside
 * latency_ns / service_ns, found with a prefix "latency_ns.p99"). */
static double jnum(const char *s, const char *key)
{
    char k[96];
    const char *dot = strchr(key, '.');
    const char *from = s;
    if (dot) {
        snprintf(k, sizeof k, "\"%.*s\":", (int)(dot - key), key);
        from = strstr(s, k);
        if (!from)
            GOC_FAIL_("no %s in %s", k, s);
        key = dot + 1;
    }
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(from, k);
    if (!p)
        GOC_FAIL_("no %s in %s", k, s);
    p += strlen(k);
    char *end;
    double v = strtod(p, &end);
    if (end == p)
        GOC_FAIL_("%s is not a number in %s", k, s);
    return v;
}

static bool jbool(const char *s, const char *key)
{
    char k[96];
    snprintf(k, sizeof k, "\"%s\":true", key);
    if (strstr(s, k))
        return true;
    snprintf(k, sizeof k, "\"%s\":false", key);
    if (!strstr(s, k))
        GOC_FAIL_("no boolean %s in %s", key, s);
    return false;
}

static void check_sums(const char *j)
{
    double issued = jnum(j, "issued");
    double sum = jnum(j, "codes.0") + jnum(j, "1001") + jnum(j, "1002") +
                 jnum(j, "2001") + jnum(j, "2002") + jnum(j, "2003") +
                 jnum(j, "3001") + jnum(j, "other");
    ASSERT(sum == issued);
    ASSERT(issued + jnum(j, "not_issued") == jnum(j, "planned"));
    ASSERT(jnum(j, "late_no_slot") <= jnum(j, "late"));
    ASSERT(jnum(j, "late") <= issued);
    ASSERT(jnum(j, "success") == jnum(j, "codes.0"));
    ASSERT(jnum(j, "latency_ns.count") == issued - jnum(j, "1002"));
    ASSERT(jnum(j, "latency_ns.p50") <= jnum(j, "latency_ns.p99"));
    ASSERT(jnum(j, "latency_ns.p99") <= jnum(j, "latency_ns.max"));
    ASSERT(jnum(j, "service_ns.p50") <= jnum(j, "latency_ns.max"));
}

GOC_TEST(loadgen_cli_usage)
{
    char *out, *err;
    const char *help[] = {"--help", NULL};
    ASSERT_EQ(run_tool(help, &out, &err), 0);
    ASSERT(strstr(out, "usage: goc-loadgen"));
    ASSERT(strstr(out, "calc://host:port"));
    free(out), free(err);

    const char *badflag[] = {"--bogus", NULL};
    ASSERT_EQ(run_tool(badflag, &out, &err), 2);
    ASSERT(strstr(err, "unknown option --bogus"));
    free(out), free(err);

    const char *badrate[] = {"--rate", "fast", NULL};
    ASSERT_EQ(run_tool(badrate, &out, &err), 2);
    ASSERT(strstr(err, "bad --rate \"fast\""));
    ASSERT(strstr(err, "Try 'goc-loadgen --help'."));
    free(out), free(err);

    /* Every bad value named at once, by the flag as typed. */
    const char *badparams[] = {
        "-r", "0", "-c", "-1", "-d", "0s", "calc://127.0.0.1:1", NULL};
    ASSERT_EQ(run_tool(badparams, &out, &err), 2);
    ASSERT(strstr(err, "-r must be 1 to 1000000000 calls per second (got 0)"));
    ASSERT(strstr(err, "-d must be more than 0"));
    ASSERT(
        strstr(err, "-c must be 1 to 1000000, or 0 for the default (got -1)"));
    free(out), free(err);

    const char *badtarget[] = {"ftp://127.0.0.1:1", NULL};
    ASSERT_EQ(run_tool(badtarget, &out, &err), 2);
    ASSERT(strstr(err, "unknown target"));
    free(out), free(err);

    const char *two[] = {"calc://a:1", "calc://b:2", NULL};
    ASSERT_EQ(run_tool(two, &out, &err), 2);
    free(out), free(err);
    return 0;
}

GOC_TEST(loadgen_cli_json)
{
    char *out, *err;
    /* The book's scenario, shortened: in-process server, 1000/s; a
     * timeout long enough for a machine shared with others. */
    const char *args[] = {"--json", "-d", "1s", "-t", "5s", "-c", "64", NULL};
    int st = run_tool(args, &out, &err);
    if (st != 0 && !(st == 1 && slow_build()))
        GOC_FAIL_("status %d, stderr: %s, stdout: %s", st, err, out);
    json_valid(out);
    ASSERT(strstr(out, "\"target\":\"calc://127.0.0.1:"));
    ASSERT(jnum(out, "rate") == 1000);
    ASSERT(jnum(out, "timeout_ns") == 5e9);
    ASSERT(jnum(out, "duration_ns") == 1e9);
    ASSERT(jnum(out, "planned") == 1000);
    /* A busy machine may leave the last calls not started by the end. */
    ASSERT(jnum(out, "issued") + jnum(out, "not_issued") == 1000);
    ASSERT(jnum(out, "issued") > 0);
    ASSERT(jnum(out, "codes.0") + jnum(out, "1001") == jnum(out, "issued"));
    if (!slow_build()) /* sanitizer builds on a busy machine time out */
        ASSERT(jnum(out, "success_percent") == 100);
    ASSERT(jnum(out, "max_in_flight") == 64);
    ASSERT(jnum(out, "achieved_rate") > 0); /* no timing: shared CPUs */
    ASSERT(jnum(out, "achieved_rate") < 1001);
    ASSERT(jnum(out, "latency_ns.p50") > 0);
    ASSERT(jnum(out, "latency_ns.p50") >= jnum(out, "service_ns.p50"));
    ASSERT(!jbool(out, "interrupted"));
    ASSERT(!jbool(out, "stopped_early"));
    ASSERT(!jbool(out, "keepalive"));
    check_sums(out);
    free(out), free(err);

    /* Text report, keep-alive. */
    const char *text[] = {"-q",    "-k", "-r", "2000", "-d",
                          "500ms", "-t", "5s", NULL};
    st = run_tool(text, &out, &err);
    if (st != 0 && !(st == 1 && slow_build()))
        GOC_FAIL_("status %d, stderr: %s, stdout: %s", st, err, out);
    ASSERT(strstr(out, "1000 planned, "));
    ASSERT(strstr(out, "Success (0)"));
    ASSERT(strstr(out, "keep-alive on"));
    ASSERT(strstr(out, "from due time"));
    ASSERT(strstr(out, "p99.99"));
    free(out), free(err);
    return 0;
}

/* Whether pid catches sig yet (its handler is installed): SigCgt in
 * /proc/PID/status. */
static bool catches(pid_t pid, int sig)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool yes = false;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "SigCgt:", 7))
            yes = (strtoull(line + 7, NULL, 16) >> (sig - 1)) & 1;
    fclose(f);
    return yes;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

GOC_TEST(loadgen_cli_sigint)
{
    char *out, *err;
    const char *args[] = {"--json", "-d", "30s", "-r", "500", NULL};
    child c = spawn(args);
    /* A SIGINT before the program asked for it would kill it. */
    for (int i = 0; i < 2000 && !catches(c.pid, SIGINT); i++)
        sleep_ms(5);
    ASSERT(catches(c.pid, SIGINT));
    sleep_ms(500);
    ASSERT_EQ(kill(c.pid, SIGINT), 0);
    int st = finish(c, &out, &err);
    if (st != 130)
        GOC_FAIL_("status %d, stderr: %s, stdout: %s", st, err, out);
    json_valid(out);
    ASSERT(jbool(out, "interrupted"));
    ASSERT(jbool(out, "stopped_early"));
    ASSERT(jnum(out, "planned") == 15000);
    ASSERT(jnum(out, "issued") > 0);
    ASSERT(jnum(out, "issued") < 15000);
    check_sums(out);
    ASSERT(strstr(err, "interrupt: stopping"));
    free(out), free(err);
    return 0;
}

GOC_TEST(loadgen_cli_unreachable)
{
    char *out, *err;
    /* Port 1 on loopback: nothing listens; every call is refused. A
     * timeout far above the refusal's time: on a loaded machine a refused
     * connect once took longer than the default 50 ms. */
    const char *args[] = {"--json", "-d", "200ms", "-r",
                          "500",    "-t", "5s",    "calc://127.0.0.1:1",
                          NULL};
    int st = run_tool(args, &out, &err);
    if (st != 1)
        GOC_FAIL_("status %d, stderr: %s, stdout: %s", st, err, out);
    json_valid(out);
    ASSERT(jnum(out, "issued") + jnum(out, "not_issued") == 100);
    ASSERT(jnum(out, "issued") > 0);
    ASSERT(jnum(out, "2001") == jnum(out, "issued"));
    ASSERT(jnum(out, "success_percent") == 0);
    /* Errors by kind, with the first message of each (issue 20, 4). */
    ASSERT(jnum(out, "errors.connect_refused") == jnum(out, "issued"));
    ASSERT(jnum(out, "errors.dns") == 0);
    ASSERT(strstr(out, "\"first_error\":{\"connect_refused\":\"connect "
                       "127.0.0.1:1: connection refused\"}"));
    check_sums(out);
    free(out), free(err);
    return 0;
}

/* A listening socket on 127.0.0.1 that never accepts nor reads: every
 * call connects (the backlog) and then waits out its timeout. */
static int silent_listener(char *url, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(fd, 4096), 0);
    socklen_t sl = sizeof a;
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    snprintf(url, len, "calc://127.0.0.1:%d", ntohs(a.sin_port));
    return fd;
}

/* Issue 20, defect 2: -d bounds the run. 2 slots, calls that each wait
 * out a 100 ms timeout, 1,000 planned over 1 s: before, every planned
 * call was still issued after the end (50 s); now the run ends at 1 s
 * plus one timeout, and the calls not started are reported as such. */
GOC_TEST(loadgen_cli_duration_bounds_the_run)
{
    char url[64], *out, *err;
    int fd = silent_listener(url, sizeof url);
    const char *args[] = {"--json", "-r", "1000",  "-d", "1s", "-c",
                          "2",      "-t", "100ms", url,  NULL};
    int64_t t0 = goc_nanotime();
    int st = run_tool(args, &out, &err);
    int64_t took = goc_nanotime() - t0;
    close(fd);
    if (st != 1)
        GOC_FAIL_("status %d, stderr: %s, stdout: %s", st, err, out);
    json_valid(out);
    check_sums(out);
    ASSERT(jnum(out, "planned") == 1000);
    ASSERT(jnum(out, "issued") <= 30); /* 2 slots x 1 s / 100 ms */
    ASSERT(jnum(out, "not_issued") >= 970);
    ASSERT(jnum(out, "1001") == jnum(out, "issued"));
    ASSERT(!jbool(out, "stopped_early"));
    ASSERT(jnum(out, "elapsed_ns") < 5e9);
    ASSERT(took < 20 * GOC_SECOND); /* generous: a loaded machine */
    free(out), free(err);

    /* The text report names the count. */
    fd = silent_listener(url, sizeof url);
    const char *text[] = {"-r", "200", "-d",   "300ms", "-c",
                          "1",  "-t",  "50ms", url,     NULL};
    st = run_tool(text, &out, &err);
    close(fd);
    ASSERT_EQ(st, 1);
    ASSERT(strstr(out, "60 planned, "));
    ASSERT(strstr(out, " not issued (not started by the end of the run)"));
    ASSERT(strstr(out, "because no slot was free then"));
    free(out), free(err);
    return 0;
}

/* Issue 20, defect 3: the target is resolved once, at the start; a name
 * that does not resolve is an error before the run (status 3), not a run
 * of failed lookups (-d 2s ran 220 s). */
GOC_TEST(loadgen_cli_unresolvable)
{
    char *out, *err;
    const char *args[] = {"-d", "30s", "calc://nonexistent.invalid:80", NULL};
    int64_t t0 = goc_nanotime();
    int st = run_tool(args, &out, &err);
    if (st != 3 || !strstr(err, "cannot resolve nonexistent.invalid"))
        GOC_FAIL_("status %d, stderr: %s, stdout: %s", st, err, out);
    ASSERT(goc_nanotime() - t0 < 25 * GOC_SECOND); /* not the 30 s */
    ASSERT_EQ(strlen(out), 0);
    free(out), free(err);
    return 0;
}

/* Defect: "-r 0" started the in-process server first, then said "lps".
 * Every flag is checked before anything starts, named as typed. */
GOC_TEST(loadgen_cli_checks_before_start)
{
    char *out, *err;
    const char *shortr[] = {"-r", "0", NULL};
    ASSERT_EQ(run_tool(shortr, &out, &err), 2);
    ASSERT(strstr(err, "goc-loadgen: -r must be"));
    ASSERT(!strstr(err, "lps"));
    ASSERT(!strstr(out, "no target given")); /* nothing started */
    ASSERT_EQ(strlen(out), 0);
    free(out), free(err);

    const char *longr[] = {"--rate=0", "--timeout", "0s", NULL};
    ASSERT_EQ(run_tool(longr, &out, &err), 2);
    ASSERT(strstr(err, "--rate must be"));
    ASSERT(strstr(err, "--timeout must be more than 0"));
    ASSERT(!strstr(err, "lps"));
    ASSERT_EQ(strlen(out), 0);
    free(out), free(err);

    /* --payload means nothing to the calc protocol: refused. */
    const char *pl[] = {"--payload", "hi", "calc://127.0.0.1:1", NULL};
    ASSERT_EQ(run_tool(pl, &out, &err), 2);
    ASSERT(strstr(err, "--payload is for tcp:// targets only"));
    free(out), free(err);
    const char *pl0[] = {"--payload", "hi", NULL};
    ASSERT_EQ(run_tool(pl0, &out, &err), 2);
    ASSERT(!strstr(out, "no target given"));
    free(out), free(err);
    return 0;
}

/* Defect: calc://127.0.0.1:99999 and :abc ran the whole duration with
 * 100 % errors. They are usage errors naming the wrong part. */
GOC_TEST(loadgen_cli_bad_targets)
{
    static const struct {
        const char *url, *says;
    } cases[] = {
        {"calc://127.0.0.1:99999", "port 99999 is out of range"},
        {"calc://127.0.0.1:abc", "port \"abc\" is not a number"},
        {"calc://127.0.0.1:0", "port 0 is out of range"},
        {"tcp://127.0.0.1:", "port \"\" is not a number"},
        {"calc://127.0.0.1", "no port"},
        {"calc://:8080", "no host"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out, *err;
        const char *args[] = {"-d", "30s", cases[i].url, NULL};
        int64_t t0 = goc_nanotime();
        int st = run_tool(args, &out, &err);
        if (st != 2 || !strstr(err, cases[i].says) ||
            !strstr(err, cases[i].url))
            GOC_FAIL_("%s: status %d, stderr: %s", cases[i].url, st, err);
        ASSERT(goc_nanotime() - t0 < 20 * GOC_SECOND); /* not the 30 s */
        free(out), free(err);
    }
    return 0;
}

/* Defect: a report written to a closed pipe was lost and the exit status
 * still 0. */
GOC_TEST(loadgen_cli_report_write_error)
{
    char *out, *err;
    const char *args[] = {"--json", "-d", "100ms", "-r",
                          "100",    "-t", "5s",    NULL};
    int st = finish(spawn_tool("goc-loadgen", args, true), &out, &err);
    if (st == 0 || st == 1 || !strstr(err, "cannot write the report"))
        GOC_FAIL_("status %d, stderr: %s", st, err);
    ASSERT_EQ(st, 3);
    free(out), free(err);

    /* --help to a closed pipe fails too. */
    const char *help[] = {"--help", NULL};
    st = finish(spawn_tool("goc-loadgen", help, true), &out, &err);
    ASSERT(st != 0);
    free(out), free(err);
    return 0;
}

/* Defect: goc-calcserver printed its build path and the whole usage on an
 * unknown option and took --idle-timeout in bare seconds only. Both tools
 * now answer alike. */
GOC_TEST(loadgen_cli_calcserver_style)
{
    char *out, *err;
    const char *bogus[] = {"--bogus", NULL};
    int st = finish(spawn_tool("goc-calcserver", bogus, false), &out, &err);
    ASSERT_EQ(st, 2);
    ASSERT(strstr(err, "goc-calcserver: unknown option --bogus\n"));
    ASSERT(strstr(err, "Try 'goc-calcserver --help'."));
    ASSERT(!strstr(err, "usage:"));
    ASSERT(!strstr(err, "/goc-calcserver")); /* no path */
    free(out), free(err);

    const char *lbogus[] = {"--bogus", NULL};
    st = run_tool(lbogus, &out, &err);
    ASSERT_EQ(st, 2);
    ASSERT(strstr(err, "goc-loadgen: unknown option --bogus\n"));
    ASSERT(strstr(err, "Try 'goc-loadgen --help'."));
    free(out), free(err);

    const char *badidle[] = {"--idle-timeout", "soon", NULL};
    st = finish(spawn_tool("goc-calcserver", badidle, false), &out, &err);
    ASSERT_EQ(st, 2);
    ASSERT(strstr(err, "bad --idle-timeout \"soon\""));
    free(out), free(err);

    const char *help[] = {"--help", NULL};
    st = finish(spawn_tool("goc-calcserver", help, false), &out, &err);
    ASSERT_EQ(st, 0);
    ASSERT(strstr(out, "Exit status"));
    ASSERT(strstr(out, "--idle-timeout D"));
    free(out), free(err);

    /* A duration with a unit starts it; SIGTERM stops it, status 0. */
    const char *units[] = {"-l", "127.0.0.1:0", "--idle-timeout", "1500ms",
                           NULL};
    child c = spawn_tool("goc-calcserver", units, false);
    for (int i = 0; i < 2000 && !catches(c.pid, SIGTERM); i++)
        sleep_ms(5);
    ASSERT(catches(c.pid, SIGTERM));
    ASSERT_EQ(kill(c.pid, SIGTERM), 0);
    st = finish(c, &out, &err);
    if (st != 0)
        GOC_FAIL_("status %d, stderr: %s", st, err);
    ASSERT(strstr(out, "listening on 127.0.0.1:"));
    free(out), free(err);

    /* The same bad duration is refused alike by both. */
    const char *lneg[] = {"-t", "soon", NULL};
    ASSERT_EQ(run_tool(lneg, &out, &err), 2);
    ASSERT(strstr(err, "bad -t \"soon\": want a duration"));
    free(out), free(err);
    return 0;
}

#endif /* goc/net.h */
