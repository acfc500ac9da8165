/*
 * test_loadgen_report_cli.c - goc-loadgen's report outputs end to end, run
 * as a child process: the live line on a terminal (a pseudo-terminal as
 * stderr) and not on a pipe nor with --quiet, the final report unchanged;
 * --json FILE / --json -, --hgrm, --log, --html; `goc-loadgen report`
 * overlaying two runs, and its messages on truncated or foreign JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "goc.h"
#include "goc_test.h"

int report_schema_check(const char *text, char *err, size_t errlen);

static void tool(char *buf, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ASSERT(n > 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(buf, len, "%.*s/tools/goc-loadgen", PATH_MAX - 64, self);
    if (access(buf, X_OK) != 0)
        GOC_FAIL_("%s is missing: build the tools", buf);
}

typedef struct out {
    char *out, *err;
    int status;
} out;

static void append(char **s, size_t *len, const char *b, size_t n)
{
    *s = realloc(*s, *len + n + 1);
    memcpy(*s + *len, b, n);
    *len += n;
    (*s)[*len] = '\0';
}

/* Runs goc-loadgen with args; stdout a pipe; stderr a pseudo-terminal
 * when pty, else a pipe. Reads both to the end. */
static out run(const char *const *args, bool pty)
{
    char path[PATH_MAX];
    tool(path, sizeof path);
    const char *argv[40] = {path};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int po[2], pe[2], master = -1, slave = -1;
    ASSERT_EQ(pipe2(po, O_CLOEXEC), 0);
    if (pty) {
        ASSERT_EQ(openpty(&master, &slave, NULL, NULL, NULL), 0);
        pe[0] = master, pe[1] = slave;
    } else {
        ASSERT_EQ(pipe2(pe, O_CLOEXEC), 0);
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
    out o = {calloc(1, 1), calloc(1, 1), -1};
    size_t lo = 0, le = 0;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds) {
        ASSERT(poll(fds, 2, 30000) > 0);
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char b[4096];
            ssize_t r = read(fds[i].fd, b, sizeof b);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) { /* EOF, or EIO once the terminal's slave closed */
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0)
                append(&o.out, &lo, b, (size_t)r);
            else
                append(&o.err, &le, b, (size_t)r);
        }
    }
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 256 + WTERMSIG(st);
    return o;
}

static void out_free(out *o)
{
    free(o->out);
    free(o->err);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        GOC_FAIL_("cannot read %s", path);
    char *s = NULL;
    size_t len = 0;
    char b[4096];
    size_t r;
    s = calloc(1, 1);
    while ((r = fread(b, 1, sizeof b, f)) > 0)
        append(&s, &len, b, r);
    fclose(f);
    return s;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (; (s = strstr(s, what)); s++)
        n++;
    return n;
}

/* A fresh directory for a test's files. */
static void tmpdir(char *buf, size_t len)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, len, "%s/goc-report-XXXXXX", t && *t ? t : "/tmp");
    ASSERT(mkdtemp(buf) != NULL);
}

static void rmdir_all(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ASSERT_EQ(system(cmd), 0);
}

GOC_TEST(loadgen_report_cli_live_line)
{
    /* On a terminal: a line a second, rewritten in place, erased at the
     * end; the report on stdout as without it. */
    const char *args[] = {"-d", "2500ms", "-r", "200", "-t", "5s", NULL};
    out o = run(args, true);
    if (o.status > 1)
        GOC_FAIL_("status %d: %s", o.status, o.err);
    /* Lines at 1 s and 2 s (one may come late on a loaded machine), then
     * the erase. */
    if (count(o.err, "\r") < 2)
        GOC_FAIL_("stderr: \"%s\"", o.err);
    ASSERT(strstr(o.err, "/2.5s  rate "));
    ASSERT(strstr(o.err, "(asked 200/s)  in flight "));
    ASSERT(strstr(o.err, "last 1s: p50 "));
    ASSERT(strstr(o.err, " errors 0 timeouts "));
    ASSERT(strstr(o.err, "\033[K"));
    ASSERT(!strstr(o.err, "\n")); /* rewritten, never scrolled */
    size_t el = strlen(o.err);
    ASSERT(el > 4 && strcmp(o.err + el - 4, "\r\033[K") == 0);
    ASSERT(strstr(o.out, "500 planned, "));
    ASSERT(!strstr(o.out, "\r"));
    ASSERT(!strstr(o.out, "asked 200/s)"));
    out_free(&o);

    /* --quiet on a terminal, and a pipe: no line. */
    const char *quiet[] = {"-q", "-d", "1500ms", "-r", "200", "-t", "5s", NULL};
    o = run(quiet, true);
    ASSERT(o.status <= 1);
    ASSERT(!strstr(o.err, "asked"));
    ASSERT(!strstr(o.err, "\r"));
    ASSERT(strstr(o.out, "300 planned, "));
    out_free(&o);
    const char *piped[] = {"-d", "1500ms", "-r", "200", "-t", "5s", NULL};
    o = run(piped, false);
    ASSERT(o.status <= 1);
    ASSERT_STR_EQ(o.err, "");
    ASSERT(strstr(o.out, "300 planned, "));
    out_free(&o);
    return 0;
}

GOC_TEST(loadgen_report_cli_files)
{
    char dir[PATH_MAX], json[PATH_MAX + 32], hgrm[PATH_MAX + 32],
        svc[PATH_MAX + 40], log[PATH_MAX + 32], html[PATH_MAX + 32], err[512];
    tmpdir(dir, sizeof dir);
    snprintf(json, sizeof json, "%s/run.json", dir);
    snprintf(hgrm, sizeof hgrm, "%s/run.hgrm", dir);
    snprintf(svc, sizeof svc, "%s/run.hgrm.service", dir);
    snprintf(log, sizeof log, "%s/run.csv", dir);
    snprintf(html, sizeof html, "%s/run.html", dir);
    const char *args[] = {"-d",    "2s",     "-r",     "200",    "-t",
                          "5s",    "--json", json,     "--hgrm", hgrm,
                          "--log", log,      "--html", html,     NULL};
    out o = run(args, false);
    if (o.status > 1)
        GOC_FAIL_("status %d: %s", o.status, o.err);
    ASSERT(strstr(o.out, "400 planned, ")); /* the text report as ever */
    char *j = slurp(json);
    if (report_schema_check(j, err, sizeof err) < 0)
        GOC_FAIL_("schema: %s", err);
    ASSERT(strstr(j, "\"planned\":400,"));
    ASSERT(strstr(j, "\"target\":\"calc://127.0.0.1:"));
    /* A row a second: the 2 s of the schedule, then the seconds in which
     * the last calls ended, at most their 5 s timeout later (a loaded
     * machine under ThreadSanitizer once made more than 4). */
    int seconds = count(j, "{\"second\":");
    if (seconds < 2 || seconds > 2 + 5 + 1)
        GOC_FAIL_("%d rows of seconds", seconds);
    char *c = slurp(log);
    ASSERT_EQ(count(c, "\n"), seconds + 1);
    ASSERT(strncmp(c, "second,issued,completed,", 24) == 0);
    free(c);
    char *h = slurp(hgrm);
    ASSERT(
        strstr(h, "       Value   Percentile   TotalCount 1/(1-Percentile)"));
    ASSERT(strstr(h, "     1.000000          400          inf\n") ||
           strstr(h, "     1.000000          "));
    ASSERT(strstr(h, "#[Max     = "));
    free(h);
    h = slurp(svc);
    ASSERT(strstr(h, "#[Mean    = "));
    free(h);
    char *page = slurp(html);
    ASSERT(strstr(page, "<svg id=\"plot-time\">"));
    ASSERT_EQ(count(page, "\"schema\":\"goc-loadgen-report\""), 1);
    free(page);
    out_free(&o);

    /* --json - : the JSON alone on stdout; --json alone: the same. */
    const char *dash[] = {"-d", "300ms",  "-r", "100", "-t",
                          "5s", "--json", "-",  NULL};
    o = run(dash, false);
    ASSERT(o.status <= 1);
    ASSERT(strncmp(o.out, "{\"schema\":\"goc-loadgen-report\"", 30) == 0);
    ASSERT(!strstr(o.out, "planned, "));
    if (report_schema_check(o.out, err, sizeof err) < 0)
        GOC_FAIL_("schema: %s", err);
    out_free(&o);

    /* report: two runs on one page; one run's files made again. */
    char json2[PATH_MAX + 32], both[PATH_MAX + 32], again[PATH_MAX + 32];
    snprintf(json2, sizeof json2, "%s/second.json", dir);
    snprintf(both, sizeof both, "%s/both.html", dir);
    snprintf(again, sizeof again, "%s/again.json", dir);
    const char *second[] = {"-d", "1s",     "-r",  "100", "-t",
                            "5s", "--json", json2, "-q",  NULL};
    o = run(second, false);
    ASSERT(o.status <= 1);
    out_free(&o);
    const char *rep[] = {"report", json, json2, "--html", both, NULL};
    o = run(rep, false);
    if (o.status != 0)
        GOC_FAIL_("report: status %d: %s", o.status, o.err);
    page = slurp(both);
    ASSERT_EQ(count(page, "\"schema\":\"goc-loadgen-report\""), 2);
    ASSERT(strstr(page, "id=\"goc-names\">[\"run.json\",\"second.json\"]"));
    free(page);
    out_free(&o);
    const char *rejson[] = {"report", json, "--json", again, NULL};
    o = run(rejson, false);
    ASSERT_EQ(o.status, 0);
    char *j2 = slurp(again);
    ASSERT_STR_EQ(j, j2); /* read back and written again: the same */
    free(j2);
    out_free(&o);

    /* Bad input: named with its line and column. */
    char trunc[PATH_MAX + 32];
    snprintf(trunc, sizeof trunc, "%s/trunc.json", dir);
    FILE *f = fopen(trunc, "w");
    fwrite(j, 1, strlen(j) / 2, f);
    fclose(f);
    const char *bad[] = {"report", json, trunc, "--html", both, NULL};
    o = run(bad, false);
    ASSERT_EQ(o.status, 3);
    ASSERT(strstr(o.err, "goc-loadgen: "));
    ASSERT(strstr(o.err, "/trunc.json:"));
    ASSERT(strstr(o.err, "(byte "));
    out_free(&o);
    f = fopen(trunc, "w");
    fputs("{\"hello\": \"world\"}\n", f);
    fclose(f);
    o = run(bad, false);
    ASSERT_EQ(o.status, 3);
    ASSERT(strstr(o.err, "/trunc.json:1:1: not a goc-loadgen report"));
    out_free(&o);
    const char *none[] = {"report", "--html", both, NULL};
    o = run(none, false);
    ASSERT_EQ(o.status, 2);
    ASSERT(strstr(o.err, "no JSON report given"));
    out_free(&o);
    const char *missing[] = {"report", "/nonexistent/x.json", "--html", both,
                             NULL};
    o = run(missing, false);
    ASSERT_EQ(o.status, 3);
    ASSERT(strstr(o.err, "/nonexistent/x.json: No such file"));
    out_free(&o);
    free(j);
    rmdir_all(dir);
    return 0;
}
