/*
 * test_report_browser.c - the HTML report in a real browser: headless
 * Chromium loads the report of a short real run against goc-calcserver
 * with a 1 s stall in it (SIGSTOP, then SIGCONT), and the page of that
 * run overlaid with a second one (`goc-loadgen report a.json b.json`).
 * From the DOM after rendering (--dump-dom): each plot exists with the
 * expected number of points (seconds of the series, slots of the
 * histogram, 40 bands), the stall is the peak of the per-second max, the
 * tables are there, and the page met no error (its script counts script
 * errors and blocked requests into #status). A PNG screenshot of each
 * page is kept in <build>/report-browser/.
 *
 * Runs only with GOC_TEST_BROWSER=1 (`make browser-test`, part of `make
 * test`, installs Chromium first); says it skipped otherwise, or when
 * Chromium is not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "goc.h"
#include "goc_test.h"

static char build_dir[PATH_MAX];

static void find_build_dir(void)
{
    ssize_t n = readlink("/proc/self/exe", build_dir, sizeof build_dir - 1);
    ASSERT(n > 0);
    build_dir[n] = '\0';
    *strrchr(build_dir, '/') = '\0';
}

static bool in_path(const char *prog)
{
    const char *p = getenv("PATH");
    char buf[PATH_MAX];
    while (p && *p) {
        const char *e = strchr(p, ':');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)l, p, prog);
        if (access(buf, X_OK) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        GOC_FAIL_("cannot read %s", path);
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    size_t r;
    while ((r = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (len + 1 == cap)
            s = realloc(s, cap *= 2);
    }
    s[len] = '\0';
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

/* Starts a program with args, stdout to out_path (or /dev/null), stderr
 * to a log. */
static pid_t start(const char *const *argv, const char *out_path)
{
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        int fd = open(out_path ? out_path : "/dev/null",
                      O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 256 + WTERMSIG(st);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Chromium, headless, on a local file: the DOM after its scripts ran, or
 * a screenshot. */
static void chromium(const char *dir, const char *page, const char *what,
                     const char *out)
{
    char cmd[8 * PATH_MAX];
    snprintf(
        cmd, sizeof cmd,
        "timeout 180 chromium --headless --no-sandbox --disable-gpu "
        "--disable-background-networking --disable-component-update "
        "--disable-sync --no-first-run --disable-default-apps "
        "--user-data-dir='%s/profile' --hide-scrollbars "
        "--window-size=960,2400 %s 'file://%s/%s' >%s 2>>'%s/chromium.log'",
        dir, what, dir, page, out, dir);
    ASSERT(strlen(dir) + strlen(what) + strlen(out) < 3 * PATH_MAX);
    int rc = system(cmd);
    if (rc != 0)
        GOC_FAIL_("chromium failed (%d): see %s/chromium.log", rc, dir);
}

/* The value of attribute `name` inside the tag starting at tag (a malloc'd
 * copy), or NULL. */
static char *attr(const char *tag, const char *name)
{
    const char *end = strchr(tag, '>');
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *p = strstr(tag, key);
    if (!p || p > end)
        return NULL;
    p += strlen(key);
    const char *q = strchr(p, '"');
    return strndup(p, (size_t)(q - p));
}

/* The first <polyline> whose class is `cls`: its points' y values (and
 * how many); fails when there is none. */
static int polyline_ys(const char *dom, const char *cls, double *ys, int cap,
                       int *data_points)
{
    char key[128];
    snprintf(key, sizeof key, "class=\"%s\"", cls);
    for (const char *t = dom; (t = strstr(t, "<polyline ")); t++) {
        const char *end = strchr(t, '>');
        const char *c = strstr(t, key);
        if (!c || c > end)
            continue;
        char *pts = attr(t, "points"), *dp = attr(t, "data-points");
        ASSERT(pts && dp);
        *data_points = atoi(dp);
        int n = 0;
        for (char *s = pts; *s;) {
            double x, y;
            int used;
            if (sscanf(s, "%lf,%lf%n", &x, &y, &used) != 2)
                GOC_FAIL_("bad points in %s", cls);
            if (n < cap)
                ys[n] = y;
            n++;
            s += used;
            while (*s == ' ')
                s++;
        }
        free(pts);
        free(dp);
        return n;
    }
    GOC_FAIL_("no polyline %s", cls);
}

/* Seconds of a run's series, and slots of its latency histogram, from its
 * JSON file. */
static void expected(const char *json, int *seconds, int *slots)
{
    char *j = slurp(json);
    *seconds = count(j, "{\"second\":");
    char *lat = strstr(j, "\"latency_ns\":");
    char *svc = strstr(j, "\"service_ns\":");
    ASSERT(lat && svc);
    *svc = '\0';
    *slots = count(lat, "],[") + 1;
    free(j);
}

static void check_page(const char *dom, int run, int seconds, int slots)
{
    char cls[64];
    double ys[4096];
    int dp;
    static const char *const lines[] = {"p50", "p99", "max"};
    for (int i = 0; i < 3; i++) {
        snprintf(cls, sizeof cls, "line line-%s run-%d", lines[i], run);
        ASSERT_EQ(polyline_ys(dom, cls, ys, 4096, &dp), seconds);
        ASSERT_EQ(dp, seconds);
    }
    snprintf(cls, sizeof cls, "line spectrum run-%d", run);
    ASSERT_EQ(polyline_ys(dom, cls, ys, 4096, &dp), slots);
    ASSERT_EQ(dp, slots);
    snprintf(cls, sizeof cls, "<g class=\"bars run-%d\"", run);
    const char *g = strstr(dom, cls);
    ASSERT(g != NULL);
    char *np = attr(g, "data-points");
    ASSERT_STR_EQ(np, "40");
    free(np);
    snprintf(cls, sizeof cls, "class=\"bar run-%d\"", run);
    ASSERT_EQ(count(dom, cls), 40);
}

static void check_common(const char *dom)
{
    const char *st = strstr(dom, "<div id=\"status\"");
    ASSERT(st != NULL);
    char *done = attr(st, "data-done"), *errs = attr(st, "data-errors");
    if (!done || strcmp(done, "1") || !errs || strcmp(errs, "0"))
        GOC_FAIL_("page status: %.300s", st);
    free(done);
    free(errs);
    ASSERT(strstr(dom, "<table id=\"table-outcomes\">"));
    ASSERT(strstr(dom, "<table id=\"table-params\">"));
    ASSERT(strstr(dom, "<table id=\"table-percentiles\">"));
    ASSERT(strstr(dom, "Success (0)"));
}

static void check_png(const char *path)
{
    char *s = slurp(path);
    ASSERT(memcmp(s, "\x89PNG\r\n\x1a\n", 8) == 0);
    free(s);
    struct stat sb;
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_GT(sb.st_size, 10000);
}

GOC_TEST_TIMEOUT(report_browser, 600)
{
    if (!getenv("GOC_TEST_BROWSER")) {
        printf("report_browser: skipped: run by `make browser-test` "
               "(GOC_TEST_BROWSER=1)\n");
        return 0;
    }
    if (!in_path("chromium")) {
        printf("report_browser: SKIPPED: Chromium is not installed and "
               "could not be (tools/install-deps.sh browser)\n");
        return 0;
    }
    find_build_dir();
    char dir[PATH_MAX], loadgen[PATH_MAX + 32], server[PATH_MAX + 32],
        path[PATH_MAX + 64], addr[64], url[80];
    snprintf(dir, sizeof dir, "%.*s/report-browser", PATH_MAX - 32, build_dir);
    snprintf(path, sizeof path, "rm -rf '%s/profile'", dir);
    ASSERT_EQ(system(path), 0);
    mkdir(dir, 0755);
    snprintf(loadgen, sizeof loadgen, "%s/tools/goc-loadgen", build_dir);
    snprintf(server, sizeof server, "%s/tools/goc-calcserver", build_dir);

    /* The server, on a port the kernel picks (it prints "listening on
     * ADDR"). */
    char srv_out[PATH_MAX + 32];
    snprintf(srv_out, sizeof srv_out, "%s/server.out", dir);
    const char *sargv[] = {server, "-l", "127.0.0.1:0", NULL};
    FILE *touch = fopen(srv_out, "w"); /* read before the child opens it */
    ASSERT(touch != NULL);
    fclose(touch);
    pid_t srv = start(sargv, srv_out);
    addr[0] = '\0';
    for (int i = 0; i < 200 && !addr[0]; i++) {
        sleep_ms(50);
        char *o = slurp(srv_out);
        char *l = strstr(o, "listening on ");
        if (l && strchr(l, '\n'))
            sscanf(l + 13, "%63[0-9.:]", addr);
        free(o);
    }
    if (!addr[0])
        GOC_FAIL_("goc-calcserver did not say where it listens (%s)", srv_out);
    snprintf(url, sizeof url, "calc://%s", addr);

    /* Run a: 4 s at 200/s; the server stops for 1 s from about 1.2 s. */
    char aj[PATH_MAX + 32], ah[PATH_MAX + 32], bj[PATH_MAX + 32],
        ab[PATH_MAX + 32];
    snprintf(aj, sizeof aj, "%s/a.json", dir);
    snprintf(ah, sizeof ah, "%s/a.html", dir);
    snprintf(bj, sizeof bj, "%s/b.json", dir);
    snprintf(ab, sizeof ab, "%s/ab.html", dir);
    const char *aargv[] = {loadgen, "-q",     "-r", "200",    "-d", "4s", "-t",
                           "3s",    "--json", aj,   "--html", ah,   url,  NULL};
    pid_t a = start(aargv, NULL);
    sleep_ms(1200);
    ASSERT_EQ(kill(srv, SIGSTOP), 0);
    sleep_ms(1000);
    ASSERT_EQ(kill(srv, SIGCONT), 0);
    int st = wait_status(a);
    ASSERT(st == 0 || st == 1);
    /* Run b: 2 s at 100/s, no stall. */
    const char *bargv[] = {loadgen, "-q", "-r",     "100", "-d", "2s",
                           "-t",    "3s", "--json", bj,    url,  NULL};
    st = wait_status(start(bargv, NULL));
    ASSERT(st == 0 || st == 1);
    kill(srv, SIGTERM);
    wait_status(srv);
    const char *rargv[] = {loadgen, "report", aj, bj, "--html", ab, NULL};
    ASSERT_EQ(wait_status(start(rargv, NULL)), 0);

    int asec, aslots, bsec, bslots;
    expected(aj, &asec, &aslots);
    expected(bj, &bsec, &bslots);
    ASSERT(asec >= 4 && asec <= 6);

    /* Page a. */
    char dom[PATH_MAX + 32];
    snprintf(dom, sizeof dom, "'%s/a.dom.html'", dir);
    chromium(dir, "a.html", "--dump-dom", dom);
    snprintf(dom, sizeof dom, "%s/a.dom.html", dir);
    char *d = slurp(dom);
    check_common(d);
    check_page(d, 0, asec, aslots);
    ASSERT(!strstr(d, "run-1"));
    /* The max line draws each second's max latency of the JSON, to
     * scale: its highest point (smallest y) is the second with the
     * largest max, a second of the stall (over 700 ms), and every point's
     * height above the axis is that second's max in proportion. Which
     * second that is depends on how long the loaded machine took to
     * start the generator before the stall, so it is not fixed here. (A
     * check against the median second failed on a loaded machine, where
     * every second had its slow calls.) */
    double ys[64];
    int dp;
    int n = polyline_ys(d, "line line-max run-0", ys, 64, &dp);
    int peak = 0;
    for (int i = 1; i < n; i++)
        if (ys[i] < ys[peak])
            peak = i;
    ASSERT(n >= 1 && n <= 64);
    double axis = 330 - 46; /* H - MB in report_page.js */
    char *j = slurp(aj);
    long long maxes[64];
    for (int i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "{\"second\":%d,", i);
        char *row = strstr(j, key);
        ASSERT(row != NULL);
        maxes[i] = atoll(strstr(row, "\"max\":") + 6);
    }
    ASSERT_GT(maxes[peak], 700 * GOC_MILLISECOND); /* the 1 s stall */
    for (int i = 0; i < n; i++) {
        ASSERT(maxes[i] <= maxes[peak] + maxes[peak] / 50);
        double drawn = (axis - ys[i]) / (axis - ys[peak]);
        double data = (double)maxes[i] / (double)maxes[peak];
        if (drawn - data > 0.02 || data - drawn > 0.02)
            GOC_FAIL_("second %d drawn at %.3f of the peak, its max is %.3f "
                      "of it",
                      i, drawn, data);
    }
    free(j);
    free(d);
    snprintf(path, sizeof path, "--screenshot='%s/a.png'", dir);
    chromium(dir, "a.html", path, "/dev/null");
    snprintf(path, sizeof path, "%s/a.png", dir);
    check_png(path);

    /* Page ab: both runs on the same axes. */
    snprintf(dom, sizeof dom, "'%s/ab.dom.html'", dir);
    chromium(dir, "ab.html", "--dump-dom", dom);
    snprintf(dom, sizeof dom, "%s/ab.dom.html", dir);
    d = slurp(dom);
    check_common(d);
    check_page(d, 0, asec, aslots);
    check_page(d, 1, bsec, bslots);
    ASSERT(strstr(d, "a.json ("));
    ASSERT(strstr(d, "b.json ("));
    free(d);
    snprintf(path, sizeof path, "--screenshot='%s/ab.png'", dir);
    chromium(dir, "ab.html", path, "/dev/null");
    snprintf(path, sizeof path, "%s/ab.png", dir);
    check_png(path);
    printf("report_browser: screenshots in %s (a.png, ab.png)\n", dir);
    return 0;
}
