/*
 * test_http_cli.c - goc-loadgen against http:// targets, run as a child
 * process while the tests' HTTP server (http_test_server.c) runs in this
 * one: the closed model (-c, -n), the open model (-r), -X, -H, --body
 * @FILE, --pipeline, --no-keepalive, --warmup, per-status counts, bytes
 * read and malformed responses in the text and JSON reports, and the
 * usage errors of the HTTP flags.
 *
 * The binary is found next to the test runner: <dir of goc_tests>/tools/.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "goc.h"
#include "goc_test.h"
#include "http_test_server.h"
#include "nginx_harness.h"

#define MAX_OUT (1 << 20)

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    char *b = malloc(MAX_OUT + 1);
    ASSERT(b != NULL);
    size_t n = fread(b, 1, MAX_OUT, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* Runs tools/goc-loadgen with args (NULL-terminated; "{}" in an argument
 * is replaced by the server's address), its output into *out and *err
 * (malloc'd). Returns its exit status. From a goroutine. */
static int run_cli(hts *s, const char *const *args, char **out, char **err)
{
    char self[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ASSERT(n > 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(path, sizeof path, "%s/tools/goc-loadgen", self);
    if (access(path, X_OK) != 0)
        GOC_FAIL_("%s is missing: build the tools", path);
    char argbuf[16][512];
    const char *argv[22] = {path};
    int k = 1;
    /* The calls' timeout is a hang guard unless a test sets one: the
     * default 2 s failed a call under a loaded machine's test runs. */
    bool timeout_set = false;
    for (int i = 0; args[i]; i++)
        if (!strcmp(args[i], "-t") || !strcmp(args[i], "--timeout"))
            timeout_set = true;
    if (!timeout_set) {
        argv[k++] = "-t";
        argv[k++] = "10s";
    }
    for (int i = 0; args[i]; i++, k++) {
        ASSERT(i < 16);
        const char *a = args[i], *br = strstr(a, "{}");
        if (br && s)
            snprintf(argbuf[i], sizeof argbuf[0], "%.*s%s%s", (int)(br - a), a,
                     hts_addr(s), br + 2);
        else
            snprintf(argbuf[i], sizeof argbuf[0], "%s", a);
        argv[k] = argbuf[i];
    }
    argv[k] = NULL;
    char outp[] = "/tmp/goc-http-cli-out-XXXXXX";
    char errp[] = "/tmp/goc-http-cli-err-XXXXXX";
    int fo = mkstemp(outp), fe = mkstemp(errp);
    ASSERT(fo >= 0 && fe >= 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    goc_syscall_begin();
    pid_t w = waitpid(pid, &st, 0);
    goc_syscall_end();
    ASSERT_EQ(w, pid);
    close(fo);
    close(fe);
    *out = slurp(outp);
    *err = slurp(errp);
    unlink(outp);
    unlink(errp);
    ASSERT(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* The number after "key": in a JSON text (the first occurrence). */
static double jnum(const char *s, const char *key)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(s, k);
    if (!p)
        GOC_FAIL_("no %s in %s", key, s);
    return strtod(p + strlen(k), NULL);
}

static void expect_status(int got, int want, const char *out, const char *err)
{
    if (got != want)
        GOC_FAIL_("status %d (want %d); stdout:\n%s\nstderr:\n%s", got, want,
                  out, err);
}

/* Runs args; checks the exit status. */
#define RUN(args, want)                                                        \
    do {                                                                       \
        int st_ = run_cli(s, args, &out, &err);                                \
        expect_status(st_, want, out, err);                                    \
    } while (0)

static int cli_main(void *arg)
{
    (void)arg;
    hts *s = hts_start();
    char *out, *err;

    /* The closed model, exactly 100 requests on 2 connections. */
    const char *closed[] = {"--json", "-c",           "2", "-n",
                            "100",    "http://{}/ok", NULL};
    RUN(closed, 0);
    ASSERT(strstr(out, "\"model\":\"closed\"") != NULL);
    ASSERT_EQ(jnum(out, "issued"), 100);
    ASSERT_EQ(jnum(out, "success"), 100);
    ASSERT_EQ(jnum(out, "200"), 100);
    ASSERT_EQ(jnum(out, "2xx"), 100);
    ASSERT(jnum(out, "connections") <= 2);
    ASSERT_EQ(jnum(out, "bytes_read"),
              100 *
                  strlen("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
    ASSERT(jnum(out, "requests_per_second") > 0);
    /* The target is on this machine: half the CPUs as processors, and
     * the idle spin; the environment overrides both. */
    cpu_set_t cpus;
    ASSERT_EQ(sched_getaffinity(0, sizeof cpus, &cpus), 0);
    int half = CPU_COUNT(&cpus) / 2;
    ASSERT_EQ(jnum(out, "processors"), half >= 1 ? half : 1);
    ASSERT_EQ(jnum(out, "idle_spin_us"), 50);
    free(out), free(err);
    ASSERT_EQ(setenv("GOCMAXPROCS", "3", 1), 0);
    ASSERT_EQ(setenv("GOCIDLESPIN", "0", 1), 0);
    RUN(closed, 0);
    unsetenv("GOCMAXPROCS");
    unsetenv("GOCIDLESPIN");
    ASSERT_EQ(jnum(out, "processors"), 3);
    ASSERT_EQ(jnum(out, "idle_spin_us"), 0);
    ASSERT_EQ(jnum(out, "issued"), 100);
    free(out), free(err);

    /* Text: statuses by class and code, service time and its caveat. */
    const char *text[] = {"-q", "-c", "1", "-n", "20", "http://{}/status/503",
                          NULL};
    RUN(text, 1);
    /* -n alone bounds the run: its count is printed, not the day that
     * stands in for its duration. */
    ASSERT(strstr(out, "closed model, 1 connection for 20 calls,") != NULL);
    ASSERT(strstr(out, "5xx 20") != NULL);
    ASSERT(strstr(out, "503: 20") != NULL);
    ASSERT(strstr(out, "service time") != NULL);
    ASSERT(strstr(out, "hide queueing") != NULL);
    free(out), free(err);

    /* Method, headers, a body from a file. */
    char bodyp[] = "/tmp/goc-http-cli-body-XXXXXX";
    int fb = mkstemp(bodyp);
    ASSERT(fb >= 0);
    ASSERT_EQ(write(fb, "from a file", 11), 11);
    close(fb);
    char bodyarg[64];
    snprintf(bodyarg, sizeof bodyarg, "@%s", bodyp);
    const char *req[] = {"-q",     "-n",
                         "1",      "-X",
                         "PUT",    "-H",
                         "X-A: 1", "-H",
                         "X-B: 2", "--body",
                         bodyarg,  "--host",
                         "h.test", "http://{}/echo?q",
                         NULL};
    RUN(req, 0);
    char last[8192];
    hts_last_request(s, last, sizeof last);
    ASSERT_STR_EQ(last, "PUT /echo?q HTTP/1.1\r\nHost: h.test\r\nX-A: 1\r\n"
                        "X-B: 2\r\nContent-Length: 11\r\n\r\nfrom a file");
    unlink(bodyp);
    free(out), free(err);

    /* Pipelining: 40 requests, 4 deep, on 1 connection. */
    const char *pipe[] = {"--json", "-c",           "1",
                          "-n",     "40",           "--pipeline",
                          "4",      "http://{}/ok", NULL};
    RUN(pipe, 0);
    ASSERT_EQ(jnum(out, "success"), 40);
    ASSERT_EQ(jnum(out, "connections"), 1);
    ASSERT_EQ(jnum(out, "peak_in_flight"), 4);
    free(out), free(err);
    /* With a warm-up first (its calls sent, not recorded): the run's 40
     * exactly, on top of the warm-up's requests at the server. */
    int64_t rw0 = hts_requests(s);
    const char *pipew[] = {"--json", "-c",           "2", "-n",
                           "40",     "--pipeline",   "4", "--warmup",
                           "100ms",  "http://{}/ok", NULL};
    RUN(pipew, 0);
    ASSERT_EQ(jnum(out, "issued"), 40);
    ASSERT_EQ(jnum(out, "success"), 40);
    ASSERT_EQ(jnum(out, "200"), 40);
    ASSERT(hts_requests(s) - rw0 > 40);
    free(out), free(err);

    /* No keep-alive: a connection each. */
    int64_t c0 = hts_conns(s);
    const char *noka[] = {"--json",         "-c",           "1", "-n", "10",
                          "--no-keepalive", "http://{}/ok", NULL};
    RUN(noka, 0);
    ASSERT_EQ(jnum(out, "connections"), 10);
    ASSERT_EQ(hts_conns(s) - c0, 10);
    free(out), free(err);

    /* The open model: -r. */
    const char *open[] = {"--json", "-r",           "200", "-n",
                          "60",     "http://{}/ok", NULL};
    RUN(open, 0);
    ASSERT(strstr(out, "\"model\":\"open\"") != NULL);
    ASSERT_EQ(jnum(out, "issued"), 60);
    ASSERT_EQ(jnum(out, "200"), 60);
    ASSERT_EQ(jnum(out, "max_connections"), 10); /* the default */
    free(out), free(err);

    /* The open model's -c: connections at most, not calls in flight. */
    c0 = hts_conns(s);
    const char *capped[] = {"--json", "-r",           "2000", "-n",
                            "400",    "-c",           "2",    "--max-in-flight",
                            "50",     "http://{}/ok", NULL};
    RUN(capped, 0);
    ASSERT_EQ(jnum(out, "issued"), 400);
    ASSERT_EQ(jnum(out, "200"), 400);
    ASSERT_EQ(jnum(out, "max_connections"), 2);
    ASSERT(jnum(out, "connections") >= 1 && jnum(out, "connections") <= 2);
    ASSERT(hts_conns(s) - c0 <= 2);
    free(out), free(err);

    /* A warm-up is sent, not recorded. 1 s of it: a 200 ms warm-up under
     * TSan at load average 40 once issued no call before its end. */
    int64_t r0 = hts_requests(s);
    const char *warm[] = {"--json", "-c",           "1", "-n", "10", "--warmup",
                          "1s",     "http://{}/ok", NULL};
    RUN(warm, 0);
    ASSERT_EQ(jnum(out, "issued"), 10);
    ASSERT_EQ(jnum(out, "200"), 10);
    ASSERT(hts_requests(s) - r0 > 10);
    free(out), free(err);

    /* Malformed responses: counted, with the reason. */
    const char *bad[] = {"-q", "-c", "1", "-n", "5", "http://{}/garbage", NULL};
    RUN(bad, 1);
    ASSERT(strstr(out, "Response Error (2002)") != NULL);
    ASSERT(strstr(out, "malformed responses 5 (first: bad status line)") !=
           NULL);
    free(out), free(err);

    /* Usage errors. */
    const char *notforcalc[] = {"-H", "A: b", "calc://127.0.0.1:1", NULL};
    RUN(notforcalc, 2);
    ASSERT(strstr(err, "-H is for http:// and https:// targets only"));
    free(out), free(err);
    const char *badpipe[] = {"--pipeline", "0", "http://{}/ok", NULL};
    RUN(badpipe, 2);
    ASSERT(strstr(err, "bad --pipeline \"0\""));
    free(out), free(err);
    const char *badhdr[] = {"-H", "nocolon", "http://{}/ok", NULL};
    RUN(badhdr, 2);
    ASSERT(strstr(err, "bad header \"nocolon\""));
    free(out), free(err);
    const char *badurl[] = {"http://{}:x/", NULL};
    RUN(badurl, 2);
    free(out), free(err);
    const char *nofile[] = {"--body", "@/nonexistent/file", "http://{}/ok",
                            NULL};
    RUN(nofile, 2);
    ASSERT(strstr(err, "--body @/nonexistent/file"));
    free(out), free(err);
    hts_stop(s);
    return 0;
}

GOC_TEST_TIMEOUT(http_cli, 120)
{
    goc_maxprocs(2);
    return goc_main(cli_main, NULL);
}

/* https against nginx with a certificate made here: verification (a
 * self-signed certificate is refused unless --insecure), SNI, sessions
 * resumed across reconnects (--no-keepalive: a handshake per request). */
static int tls_main(void *arg)
{
    (void)arg;
    char *out, *err;
    hts *s = NULL;
    const char *probe[] = {"-n", "1", "https://127.0.0.1:1/", NULL};
    run_cli(s, probe, &out, &err);
    if (strstr(err, "built without OpenSSL")) {
        fprintf(stderr, "SKIP: goc-loadgen was built without OpenSSL\n");
        free(out), free(err);
        return 0;
    }
    free(out), free(err);
    /* A plugin path that names no plugin: an error naming the file and
     * the variable, exit 2, no call made. */
    ASSERT_EQ(setenv("GOC_LOADGEN_TLS_PLUGIN", "/nonexistent/tls.so", 1), 0);
    int rc = run_cli(s, probe, &out, &err);
    unsetenv("GOC_LOADGEN_TLS_PLUGIN");
    ASSERT_EQ(rc, 2);
    ASSERT(strstr(err, "cannot load goc-loadgen-tls.so") != NULL);
    ASSERT(strstr(err, "GOC_LOADGEN_TLS_PLUGIN") != NULL);
    ASSERT(strstr(out, "issued") == NULL);
    free(out), free(err);
    nginx_h n;
    if (!nginx_start(&n, true, NULL))
        return 0; /* skipped, said why */
    char url[128];
    snprintf(url, sizeof url, "https://localhost:%d/index.html", n.tls_port);
    const char *verify[] = {"--json", "-c", "1", "-n", "3", url, NULL};
    RUN(verify, 1);
    ASSERT_EQ(jnum(out, "success"), 0);
    ASSERT(jnum(out, "connect") >= 3);
    free(out), free(err);
    const char *ok[] = {"--json", "-c",         "2", "-n",
                        "200",    "--insecure", url, NULL};
    RUN(ok, 0);
    ASSERT_EQ(jnum(out, "success"), 200);
    ASSERT_EQ(jnum(out, "200"), 200);
    ASSERT(jnum(out, "tls_handshakes") <= 2);
    free(out), free(err);
    const char *resume[] = {
        "--json",         "-c", "1", "-n", "20", "--insecure",
        "--no-keepalive", url,  NULL};
    RUN(resume, 0);
    ASSERT_EQ(jnum(out, "success"), 20);
    ASSERT_EQ(jnum(out, "tls_handshakes"), 20);
    ASSERT(jnum(out, "tls_resumed") >= 18);
    free(out), free(err);
    const char *piped[] = {"--json",     "-c", "1",          "-n", "100",
                           "--pipeline", "4",  "--insecure", url,  NULL};
    RUN(piped, 0);
    ASSERT_EQ(jnum(out, "success"), 100);
    free(out), free(err);
    nginx_stop(&n);
    return 0;
}

GOC_TEST_TIMEOUT(http_cli_tls, 120)
{
    goc_maxprocs(2);
    return goc_main(tls_main, NULL);
}
