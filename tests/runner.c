/*
 * runner.c - runs every registered test in its own child process.
 *
 *   goc_tests [-l] [-j N] [-r REPEAT] [NAME-SUBSTRING | ^NAME-PREFIX ...]
 *
 * Each test runs in a forked child (its own process group) with a time
 * limit (default 60 s, or the test's own, times $GOC_TEST_TIMEOUT_SCALE);
 * its output is captured and shown only when it fails. A test passes when
 * it returns 0 and exits cleanly, or, for a GOC_TEST_EXPECT test, when it
 * dies the expected way with the expected text on its output.
 * The last line is "N passed, N failed".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "goc_test.h"

static goc_test_case *tests;
static int ntests;

void goc_test_register(goc_test_case *tc)
{
    tc->next = tests;
    tests = tc;
    ntests++;
}

long goc_test_iter_div(void)
{
    const char *e = getenv("GOC_TEST_ITER_DIV");
    long d = e ? strtol(e, NULL, 10) : 1;
    return d > 0 ? d : 1;
}

long goc_test_iters(long n, long min)
{
    long v = n / goc_test_iter_div();
    return v < min ? min : v;
}

int goc_test_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0, own = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == own)
            continue;
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, target, sizeof target - 1);
        if (k > 0) {
            target[k] = 0;
            if (!strcmp(target, "anon_inode:[io_uring]"))
                continue;
        }
        n++;
    }
    closedir(d);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct running {
    goc_test_case *tc;
    pid_t pid;
    int outfd;
    double start, limit;
    bool killed;
} running;

static int cmp_name(const void *a, const void *b)
{
    const goc_test_case *x = *(goc_test_case *const *)a;
    const goc_test_case *y = *(goc_test_case *const *)b;
    return strcmp(x->name, y->name);
}

static bool selected(const char *name, int argc, char **argv, int first)
{
    if (first >= argc)
        return true;
    for (int i = first; i < argc; i++) {
        const char *pat = argv[i];
        if (pat[0] == '^' ? !strncmp(name, pat + 1, strlen(pat + 1))
                          : strstr(name, pat) != NULL)
            return true;
    }
    return false;
}

/* $GOC_TEST_SKIP_FILE: lines "NAME reason..." ('#' comments) of tests
 * that do not apply in this environment (make valgrind's list); each is
 * reported as skipped with its reason. The reason of name, or NULL. */
static char *skip_text;

static const char *skip_reason(const char *name)
{
    static char reason[256];
    if (!skip_text)
        return NULL;
    size_t len = strlen(name);
    for (const char *l = skip_text; *l;) {
        const char *eol = strchr(l, '\n');
        size_t ll = eol ? (size_t)(eol - l) : strlen(l);
        if (l[0] != '#' && ll > len && !strncmp(l, name, len) &&
            (l[len] == ' ' || l[len] == '\t')) {
            const char *r = l + len;
            while (*r == ' ' || *r == '\t')
                r++;
            snprintf(reason, sizeof reason, "%.*s", (int)(ll - (r - l)), r);
            return reason;
        }
        l += ll + (eol != NULL);
    }
    return NULL;
}

static void skip_load(void)
{
    const char *path = getenv("GOC_TEST_SKIP_FILE");
    FILE *f = path && *path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    size_t cap = 1 << 16, n = fread(skip_text = calloc(1, cap), 1, cap - 1, f);
    skip_text[n] = '\0';
    fclose(f);
}

static void start(running *r, goc_test_case *tc, double scale)
{
    char name[64];
    snprintf(name, sizeof name, "goc-test-%s", tc->name);
    r->tc = tc;
    r->outfd = memfd_create(name, MFD_CLOEXEC);
    if (r->outfd < 0) {
        perror("memfd_create");
        exit(1);
    }
    r->start = now_s();
    r->limit = (tc->timeout_s ? tc->timeout_s : 60) * scale;
    r->killed = false;
    fflush(stdout);
    fflush(stderr);
    r->pid = fork();
    if (r->pid < 0) {
        perror("fork");
        exit(1);
    }
    if (r->pid == 0) {
        setpgid(0, 0);
        dup2(r->outfd, STDOUT_FILENO);
        dup2(r->outfd, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            close(devnull);
        }
        /* Every test starts from the dispositions a program gets from an
         * ordinary shell. A shell's background job (`make test-twice`,
         * CI runners, nohup) starts with SIGINT and SIGQUIT ignored, which
         * goc's signal module keeps as the "original" action, as Go does:
         * the signal and process tests would then test that instead. */
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int rc = tc->fn();
        fflush(stdout);
        fflush(stderr);
        exit(rc == 0 ? 0 : 1);
    }
    setpgid(r->pid, r->pid);
}

static char *read_output(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    if (len < 0)
        len = 0;
    char *buf = malloc((size_t)len + 1);
    if (!buf)
        return NULL;
    ssize_t n = pread(fd, buf, (size_t)len, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* Returns true if the test passed; prints the verdict. */
static bool finish(running *r, int status, int idx, int total)
{
    goc_test_case *tc = r->tc;
    double secs = now_s() - r->start;
    char *out = read_output(r->outfd);
    close(r->outfd);
    bool ok;
    char why[160] = "";
    if (r->killed) {
        ok = false;
        snprintf(why, sizeof why, "timed out after %.0f s", r->limit);
    } else if (tc->expect_signal || tc->expect_status) {
        bool died_right =
            tc->expect_signal
                ? WIFSIGNALED(status) && WTERMSIG(status) == tc->expect_signal
                : WIFEXITED(status) && WEXITSTATUS(status) == tc->expect_status;
        bool text_ok =
            !tc->expect_text || (out && strstr(out, tc->expect_text) != NULL);
        ok = died_right && text_ok;
        if (!died_right)
            snprintf(why, sizeof why, "expected %s %d, got %s %d",
                     tc->expect_signal ? "signal" : "exit status",
                     tc->expect_signal ? tc->expect_signal : tc->expect_status,
                     WIFSIGNALED(status) ? "signal" : "exit status",
                     WIFSIGNALED(status) ? WTERMSIG(status)
                                         : WEXITSTATUS(status));
        else if (!text_ok)
            snprintf(why, sizeof why, "expected output \"%s\" missing",
                     tc->expect_text);
    } else {
        ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok)
            snprintf(why, sizeof why, "%s %d",
                     WIFSIGNALED(status) ? "killed by signal" : "exit status",
                     WIFSIGNALED(status) ? WTERMSIG(status)
                                         : WEXITSTATUS(status));
    }
    printf("%s %d/%d %s (%.2f s)%s%s\n", ok ? "ok  " : "FAIL", idx, total,
           tc->name, secs, ok ? "" : ": ", why);
    if (!ok && out) {
        size_t len = strlen(out);
        const char *tail = len > 8000 ? out + len - 8000 : out;
        printf("---- output of %s ----\n%s\n---- end ----\n", tc->name, tail);
    }
    fflush(stdout);
    free(out);
    return ok;
}

int main(int argc, char **argv)
{
    int jobs = 1, repeat = 1, first = 1;
    bool list = false;
    while (first < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "-l")) {
            list = true;
            first++;
        } else if (!strncmp(argv[first], "-j", 2) && argv[first][2]) {
            jobs = atoi(argv[first] + 2);
            first++;
        } else if (!strcmp(argv[first], "-j") && first + 1 < argc) {
            jobs = atoi(argv[first + 1]);
            first += 2;
        } else if (!strcmp(argv[first], "-r") && first + 1 < argc) {
            repeat = atoi(argv[first + 1]);
            first += 2;
        } else {
            fprintf(stderr,
                    "usage: %s [-l] [-j N] [-r N] [NAME | ^PREFIX ...]\n",
                    argv[0]);
            return 2;
        }
    }
    if (jobs < 1)
        jobs = 1;
    goc_test_case **all = calloc((size_t)ntests + 1, sizeof *all);
    int n = 0;
    skip_load();
    for (goc_test_case *t = tests; t; t = t->next) {
        if (!selected(t->name, argc, argv, first))
            continue;
        const char *why = list ? NULL : skip_reason(t->name);
        if (why)
            printf("skip %s: %s\n", t->name, why);
        else
            all[n++] = t;
    }
    qsort(all, (size_t)n, sizeof *all, cmp_name);
    if (list) {
        for (int i = 0; i < n; i++)
            printf("%s\n", all[i]->name);
        free(all);
        return 0;
    }
    const char *se = getenv("GOC_TEST_TIMEOUT_SCALE");
    double scale = se ? atof(se) : 1.0;
    if (scale <= 0)
        scale = 1.0;
    int total = n * repeat, next = 0, done = 0, passed = 0, failed = 0;
    running *run = calloc((size_t)jobs, sizeof *run);
    int active = 0;
    while (done < total) {
        while (active < jobs && next < total) {
            for (int s = 0; s < jobs; s++) {
                if (run[s].pid == 0) {
                    start(&run[s], all[next % n], scale);
                    next++;
                    active++;
                    break;
                }
            }
        }
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int s = 0; s < jobs; s++) {
                if (run[s].pid == pid) {
                    /* Kill whatever the test left behind in its group. */
                    kill(-pid, SIGKILL);
                    if (finish(&run[s], status, ++done, total))
                        passed++;
                    else
                        failed++;
                    run[s].pid = 0;
                    active--;
                }
            }
            continue;
        }
        if (pid < 0 && errno != EINTR && errno != ECHILD)
            perror("waitpid");
        double t = now_s();
        for (int s = 0; s < jobs; s++) {
            if (run[s].pid > 0 && !run[s].killed &&
                t - run[s].start > run[s].limit) {
                run[s].killed = true;
                kill(-run[s].pid, SIGKILL);
                kill(run[s].pid, SIGKILL);
            }
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("%d passed, %d failed\n", passed, failed);
    free(run);
    free(all);
    return failed ? 1 : 0;
}
