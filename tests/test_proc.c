/*
 * test_proc.c - os/exec, os.Pipe, named pipes, io.Pipe and /proc on goc:
 * exit statuses, PATH lookup, pipes read in small pieces, pipelines, a
 * thousand children with every status right and nothing left behind (no
 * zombie, no descriptor), nothing leaking into a child, named pipes opened
 * in either order, io.Pipe under parallel readers and writers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <goc.h>

#include "goc_test.h"
#include "proc/proc_internal.h"

#define MS GOC_MILLISECOND

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* goc_main for the tests of the SIGCHLD fallback. ThreadSanitizer would
 * postpone the forwarding handler on goc_main's thread (see
 * test_signal.c): under TSan that thread blocks SIGCHLD too, so that it
 * reaches goc through the signalfd. */
static int run_main_sigchld(int (*fn)(void *), void *arg)
{
#ifdef UNDER_TSAN
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int r = goc_main(fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
#else
    return goc_main(fn, arg);
#endif
}

static void go(void (*fn)(void *), void *arg)
{
    ASSERT_EQ(goc_go(fn, arg), 0);
}

/* Descriptors open in this process now (its rings aside). */
static int count_fds(void)
{
    int n = goc_test_count_fds();
    ASSERT(n >= 0);
    return n;
}

/* An unreaped child of ours (zombie), if any. */
static bool have_zombie(void)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return false; /* ECHILD: no children at all */
    return si.si_pid != 0;
}

static int run_argv(const char *const argv[])
{
    goc_cmd *c = goc_command_argv(argv);
    ASSERT(c != NULL);
    int st = goc_cmd_run(c);
    goc_cmd_free(c);
    return st;
}

static int sh(const char *script)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    return run_argv(argv);
}

/* ---- statuses ------------------------------------------------------- */

static int exit_codes_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    ASSERT_EQ(sh("exit 0"), 0);
    ASSERT_EQ(sh("exit 7"), 7);
    ASSERT_EQ(sh("exit 255"), 255);
    ASSERT_EQ(sh("kill -TERM $$"), 128 + SIGTERM);
    ASSERT_EQ(sh("kill -KILL $$"), 128 + SIGKILL);
    /* The child starts with default SIGPIPE although we ignore it. */
    ASSERT_EQ(sh("kill -PIPE $$"), 128 + SIGPIPE);
    /* ...and with nothing blocked although our threads block a lot. */
    ASSERT_EQ(sh("kill -INT $$"), 128 + SIGINT);
    const char *t[] = {"true", NULL}, *f[] = {"false", NULL};
    ASSERT_EQ(run_argv(t), 0);
    ASSERT_EQ(run_argv(f), 1);
    ASSERT_EQ(count_fds(), fds);
    ASSERT(!have_zombie());
    return 0;
}

GOC_TEST(proc_exit_codes)
{
    return goc_main(exit_codes_main, NULL);
}

static int enoent_main(void *arg)
{
    (void)arg;
    goc_cmd *c = goc_command("goc-no-such-program-xyz", "a", NULL);
    ASSERT_EQ(goc_cmd_start(c), -ENOENT);
    ASSERT_EQ(goc_cmd_wait(c), -EINVAL); /* never started */
    ASSERT_EQ(goc_cmd_start(c), -EINVAL);
    goc_cmd_free(c);
    c = goc_command("/nonexistent/dir/prog", NULL);
    ASSERT_EQ(goc_cmd_run(c), -ENOENT);
    goc_cmd_free(c);
    /* Found but not executable. */
    c = goc_command("/etc/passwd", NULL);
    ASSERT_EQ(goc_cmd_start(c), -EACCES);
    goc_cmd_free(c);
    /* A failed start closes the pipes made for it. */
    int fds = count_fds();
    c = goc_command("goc-no-such-program-xyz", NULL);
    goc_file *in, *out;
    ASSERT_EQ(goc_cmd_stdin_pipe(c, &in), 0);
    ASSERT_EQ(goc_cmd_stdout_pipe(c, &out), 0);
    ASSERT_EQ(goc_cmd_stdout_pipe(c, &out), -EINVAL); /* already set */
    ASSERT_EQ(goc_cmd_set_stdout_fd(c, 1), -EINVAL);
    ASSERT_EQ(goc_cmd_start(c), -ENOENT);
    ASSERT_EQ(goc_file_read(out, &fds, 1), -ECANCELED);
    goc_cmd_free(c);
    ASSERT_EQ(count_fds(), fds);
    /* Output of a missing program: no buffer, the error. */
    c = goc_command("goc-no-such-program-xyz", NULL);
    char *buf = (char *)1;
    ASSERT_EQ(goc_cmd_output(c, &buf, NULL), -ENOENT);
    ASSERT(buf == NULL);
    goc_cmd_free(c);
    /* Wait twice. */
    c = goc_command("true", NULL);
    ASSERT_EQ(goc_cmd_run(c), 0);
    ASSERT(goc_cmd_pid(c) > 0);
    ASSERT_EQ(goc_cmd_wait(c), -EINVAL);
    ASSERT_EQ(goc_cmd_signal(c, SIGTERM), -ESRCH);
    goc_cmd_free(c);
    return 0;
}

GOC_TEST(proc_enoent)
{
    return goc_main(enoent_main, NULL);
}

/* ---- pipes to a child ----------------------------------------------- */

#define BIG (100 * 1024)
static const char pattern[] = "0123456789abcdefghijklmnopqrstuvwxyz\n";

static int output_pieces_main(void *arg)
{
    (void)arg;
    /* 100 KB, read 5 bytes at a time (the seed's loop). */
    goc_cmd *c = goc_command(
        "sh", "-c", "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 102400",
        NULL);
    goc_file *out;
    ASSERT_EQ(goc_cmd_stdout_pipe(c, &out), 0);
    ASSERT_EQ(goc_cmd_start(c), 0);
    char *all = malloc(BIG + 5);
    size_t n = 0;
    long reads = 0;
    for (;;) {
        ssize_t r = goc_file_read(out, all + n, 5);
        ASSERT_GE(r, 0);
        if (r == 0)
            break;
        ASSERT_LE(r, 5);
        n += (size_t)r;
        reads++;
        ASSERT_LE(n, BIG);
    }
    ASSERT_EQ(n, BIG);
    ASSERT_GE(reads, BIG / 5);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(all[i], pattern[i % (sizeof pattern - 1)]);
    free(all);
    ASSERT_EQ(goc_cmd_wait(c), 0);
    /* Wait closed the pipe. */
    ASSERT_EQ(goc_file_read(out, &n, 1), -ECANCELED);
    goc_cmd_free(c);
    return 0;
}

GOC_TEST(proc_output_pieces)
{
    return goc_main(output_pieces_main, NULL);
}

/* Everything up to EOF, NUL-terminated (malloc'd). */
static char *read_to_eof(goc_file *f)
{
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    ssize_t r;
    while ((r = goc_file_read(f, s + n, cap - n - 1)) > 0) {
        n += (size_t)r;
        if (cap - n < 2)
            s = realloc(s, cap *= 2);
    }
    ASSERT_EQ(r, 0);
    s[n] = '\0';
    return s;
}

typedef struct feed {
    goc_file *f;
    size_t n;
    goc_waitgroup wg;
} feed;

static void feeder(void *arg)
{
    feed *fd = arg;
    char buf[1000];
    size_t done = 0;
    while (done < fd->n) {
        size_t k = fd->n - done < sizeof buf ? fd->n - done : sizeof buf;
        for (size_t i = 0; i < k; i++)
            buf[i] = (char)('a' + (done + i) % 26);
        ASSERT_EQ(goc_file_write(fd->f, buf, k), (ssize_t)k);
        done += k;
    }
    ASSERT_EQ(goc_file_close(fd->f), 0);
    ASSERT_EQ(goc_file_close(fd->f), -ECANCELED);
    goc_waitgroup_done(&fd->wg);
}

static int stdin_stdout_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    /* tr through both pipes; more than a pipe buffer each way. */
    goc_cmd *c = goc_command("tr", "a-z", "A-Z", NULL);
    goc_file *in, *out;
    ASSERT_EQ(goc_cmd_stdin_pipe(c, &in), 0);
    ASSERT_EQ(goc_cmd_stdout_pipe(c, &out), 0);
    ASSERT_EQ(goc_cmd_start(c), 0);
    feed fd = {in, 300 * 1000, GOC_WAITGROUP_INIT};
    goc_waitgroup_add(&fd.wg, 1);
    go(feeder, &fd);
    char buf[4096];
    size_t n = 0;
    ssize_t r;
    while ((r = goc_file_read(out, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < r; i++)
            ASSERT_EQ(buf[i], (char)('A' + (n + (size_t)i) % 26));
        n += (size_t)r;
    }
    ASSERT_EQ(r, 0);
    ASSERT_EQ(n, fd.n);
    ASSERT_EQ(goc_cmd_wait(c), 0);
    goc_waitgroup_wait(&fd.wg); /* the feeder is done with `in` */
    goc_cmd_free(c);

    /* Dir and Env. */
    c = goc_command("pwd", NULL);
    ASSERT_EQ(goc_cmd_set_dir(c, "/tmp"), 0);
    char *o;
    size_t len;
    ASSERT_EQ(goc_cmd_output(c, &o, &len), 0);
    ASSERT_STR_EQ(o, "/tmp\n");
    free(o);
    goc_cmd_free(c);
    const char *env[] = {"GOC_FOO=bar baz", NULL};
    c = goc_command("sh", "-c", "echo \"$GOC_FOO\"; echo \"${HOME:-none}\"",
                    NULL);
    ASSERT_EQ(goc_cmd_set_env(c, env), 0);
    ASSERT_EQ(goc_cmd_output(c, &o, NULL), 0);
    ASSERT_STR_EQ(o, "bar baz\nnone\n");
    free(o);
    goc_cmd_free(c);

    /* stderr pipe, and stdout given as one of our descriptors. */
    c = goc_command("sh", "-c", "echo out; echo err >&2; exit 3", NULL);
    goc_file *er, *pr, *pw;
    ASSERT_EQ(goc_pipe(&pr, &pw), 0);
    ASSERT_EQ(goc_cmd_stderr_pipe(c, &er), 0);
    ASSERT_EQ(goc_cmd_set_stdout_fd(c, goc_file_fd(pw)), 0);
    ASSERT_EQ(goc_cmd_start(c), 0);
    ASSERT_EQ(goc_file_close(pw), 0); /* the child has its own copy */
    char *text = read_to_eof(er);
    ASSERT_STR_EQ(text, "err\n");
    free(text);
    text = read_to_eof(pr);
    ASSERT_STR_EQ(text, "out\n");
    free(text);
    ASSERT_EQ(goc_cmd_wait(c), 3);
    goc_file_close(pr);
    goc_cmd_free(c);

    /* A descriptor handed to a child with goc_file_fd is blocking: a
     * child writing more than the pipe holds, to a parent that reads
     * late, does not fail with EAGAIN. */
    c = goc_command("head", "-c", "300000", "/dev/zero", NULL);
    ASSERT_EQ(goc_pipe(&pr, &pw), 0);
    ASSERT_EQ(goc_cmd_set_stdout_fd(c, goc_file_fd(pw)), 0);
    ASSERT_EQ(goc_cmd_start(c), 0);
    ASSERT_EQ(goc_file_close(pw), 0);
    goc_sleep(50 * MS);
    size_t total = 0;
    while ((r = goc_file_read(pr, buf, sizeof buf)) > 0)
        total += (size_t)r;
    ASSERT_EQ(r, 0);
    ASSERT_EQ(total, 300000);
    ASSERT_EQ(goc_cmd_wait(c), 0);
    goc_file_close(pr);
    goc_cmd_free(c);

    /* A child's stdout swapped onto our fd 2 and stdin from fd 1: the
     * low descriptors are moved without clobbering each other. */
    c = goc_command("sh", "-c", "test -t 5 ; exit 0", NULL);
    ASSERT_EQ(goc_cmd_set_stdin_fd(c, 2), 0);
    ASSERT_EQ(goc_cmd_set_stderr_fd(c, 0), 0);
    ASSERT_EQ(goc_cmd_run(c), 0);
    goc_cmd_free(c);
    ASSERT_EQ(count_fds(), fds);
    return 0;
}

GOC_TEST(proc_stdin_stdout)
{
    return goc_main(stdin_stdout_main, NULL);
}

/* ---- pipelines ------------------------------------------------------ */

static int pipeline(const char *const *const stages[], size_t n, char **out)
{
    goc_cmd *cmds[8];
    for (size_t i = 0; i < n; i++)
        ASSERT((cmds[i] = goc_command_argv(stages[i])) != NULL);
    size_t len;
    int st = goc_pipeline_output(cmds, n, out, &len);
    ASSERT(*out != NULL);
    ASSERT_EQ(strlen(*out), len);
    for (size_t i = 0; i < n; i++)
        goc_cmd_free(cmds[i]);
    return st;
}

static int pipeline_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    char *out;
    const char *a[] = {"printf", "a\\nb\\nc\\nbb\\n", NULL};
    const char *grep_b[] = {"grep", "b", NULL};
    const char *wc[] = {"wc", "-l", NULL};
    const char *cat[] = {"cat", NULL};
    const char *const *p1[] = {a, grep_b, wc};
    ASSERT_EQ(pipeline(p1, 3, &out), 0);
    ASSERT_STR_EQ(out, "2\n");
    free(out);
    /* First stage fails: its status, the output still collected. */
    const char *fail3[] = {"sh", "-c", "echo x; exit 3", NULL};
    const char *const *p2[] = {fail3, cat, cat};
    ASSERT_EQ(pipeline(p2, 3, &out), 3);
    ASSERT_STR_EQ(out, "x\n");
    free(out);
    /* grep finds nothing (1), and the last stage fails too (5): the
     * first failure in pipeline order wins. */
    const char *grep_z[] = {"grep", "zzz", NULL};
    const char *fail5[] = {"sh", "-c", "cat; exit 5", NULL};
    const char *const *p3[] = {a, grep_z, fail5};
    ASSERT_EQ(pipeline(p3, 3, &out), 1);
    ASSERT_STR_EQ(out, "");
    free(out);
    /* A stage that cannot start: a negative code; the others ran. (Not
     * after a writer: that one may die of SIGPIPE first, as in a shell.) */
    const char *missing[] = {"goc-no-such-program-xyz", NULL};
    const char *const *p4[] = {missing, cat, cat};
    ASSERT_EQ(pipeline(p4, 3, &out), -ENOENT);
    ASSERT_STR_EQ(out, "");
    free(out);
    const char *t[] = {"true", NULL};
    const char *const *p4b[] = {t, missing, cat};
    ASSERT_EQ(pipeline(p4b, 3, &out), -ENOENT);
    free(out);
    /* A killed stage: 128 + signal. */
    const char *killed[] = {"sh", "-c", "kill -TERM $$", NULL};
    const char *const *p5[] = {t, killed, cat};
    ASSERT_EQ(pipeline(p5, 3, &out), 128 + SIGTERM);
    free(out);
    /* One stage, and a long stream through five. */
    const char *const *p6[] = {a};
    ASSERT_EQ(pipeline(p6, 1, &out), 0);
    ASSERT_STR_EQ(out, "a\nb\nc\nbb\n");
    free(out);
    const char *seq[] = {"seq", "1", "100000", NULL};
    const char *tail[] = {"tail", "-n", "1", NULL};
    const char *const *p7[] = {seq, cat, cat, cat, tail};
    ASSERT_EQ(pipeline(p7, 5, &out), 0);
    ASSERT_STR_EQ(out, "100000\n");
    free(out);
    ASSERT_EQ(count_fds(), fds);
    ASSERT(!have_zombie());
    return 0;
}

GOC_TEST(proc_pipeline)
{
    return goc_main(pipeline_main, NULL);
}

/* ---- a thousand children -------------------------------------------- */

typedef struct swarm {
    goc_waitgroup wg;
    _Atomic long next; /* next job index */
    long ntrue, nmissing, nkill;
    _Atomic long ok_true, ok_missing, ok_kill;
} swarm;

static void swarm_worker(void *arg)
{
    swarm *s = arg;
    long total = s->ntrue + s->nmissing + s->nkill;
    for (;;) {
        long j = atomic_fetch_add(&s->next, 1);
        if (j >= total)
            break;
        if (j % 12 == 5 && j / 12 < s->nmissing) {
            goc_cmd *c = goc_command("goc-no-such-program-xyz", NULL);
            if (goc_cmd_run(c) == -ENOENT)
                atomic_fetch_add(&s->ok_missing, 1);
            goc_cmd_free(c);
        } else if (j % 12 == 7 && j / 12 < s->nkill) {
            goc_cmd *c = goc_command("sleep", "30", NULL);
            ASSERT_EQ(goc_cmd_start(c), 0);
            goc_sleep((int64_t)(j % 7) * MS);
            ASSERT_EQ(goc_cmd_signal(c, SIGKILL), 0);
            if (goc_cmd_wait(c) == 128 + SIGKILL)
                atomic_fetch_add(&s->ok_kill, 1);
            goc_cmd_free(c);
        } else {
            goc_cmd *c = goc_command("/bin/true", NULL);
            if (goc_cmd_run(c) == 0)
                atomic_fetch_add(&s->ok_true, 1);
            goc_cmd_free(c);
        }
    }
    goc_waitgroup_done(&s->wg);
}

static void run_swarm(long ntrue, long nmissing, long nkill, int width)
{
    int fds = count_fds();
    /* Jobs are interleaved: in each run of 12 one is a missing program,
     * one a child killed mid-run, ten are /bin/true (so the callers pass
     * ntrue == 10 * nmissing == 10 * nkill). */
    ASSERT(ntrue == 10 * nmissing && nmissing == nkill);
    swarm s = {GOC_WAITGROUP_INIT, 0, ntrue, nmissing, nkill, 0, 0, 0};
    goc_waitgroup_add(&s.wg, width);
    for (int i = 0; i < width; i++)
        go(swarm_worker, &s);
    goc_waitgroup_wait(&s.wg);
    ASSERT_EQ(atomic_load(&s.ok_missing), nmissing);
    ASSERT_EQ(atomic_load(&s.ok_kill), nkill);
    ASSERT_EQ(atomic_load(&s.ok_true), ntrue);
    ASSERT(!have_zombie());
    ASSERT_EQ(count_fds(), fds);
}

static int swarm_main(void *arg)
{
    (void)arg;
    /* 1,000 /bin/true, 100 missing, 100 killed (fewer when sanitized). */
    long n = goc_test_iters(100, 4);
    run_swarm(10 * n, n, n, 100);
    return 0;
}

GOC_TEST_TIMEOUT(proc_thousand_children, 90)
{
    return goc_main(swarm_main, NULL);
}

/* The SIGCHLD fallback (no pidfd): same checks on a smaller swarm. */
static int sigchld_main(void *arg)
{
    (void)arg;
    atomic_store(&goc__proc_no_pidfd, true);
    /* The first SIGCHLD watch creates the forwarder's two descriptors,
     * which live as long as the process. */
    ASSERT_EQ(sh("exit 0"), 0);
    long n = goc_test_iters(20, 2);
    run_swarm(10 * n, n, n, 20);
    ASSERT_EQ(sh("exit 9"), 9);
    ASSERT_EQ(sh("kill -TERM $$"), 128 + SIGTERM);
    return 0;
}

GOC_TEST(proc_sigchld_fallback)
{
    return run_main_sigchld(sigchld_main, NULL);
}

/* A child the user forks and reaps himself keeps its status for him. */
static int foreign_main(void *arg)
{
    bool fallback = arg != NULL;
    atomic_store(&goc__proc_no_pidfd, fallback);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0)
        _exit(42);
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(sh("exit 0"), 0);
    goc_sleep(20 * MS);
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 42);
    return 0;
}

GOC_TEST(proc_foreign_child_kept)
{
    return goc_main(foreign_main, NULL);
}
GOC_TEST(proc_foreign_child_kept_sigchld)
{
    return run_main_sigchld(foreign_main, (void *)1);
}

/* Freeing a started command without waiting: reaped in the background. */
static int free_unwaited_main(void *arg)
{
    (void)arg;
    goc_cmd *c = goc_command("true", NULL);
    ASSERT_EQ(goc_cmd_start(c), 0);
    goc_cmd_free(c);
    int64_t until = goc_nanotime() + 5 * GOC_SECOND;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
            break; /* no child left */
        ASSERT_LT(goc_nanotime(), until);
        goc_sleep(MS);
    }
    return 0;
}

GOC_TEST(proc_free_unwaited)
{
    return goc_main(free_unwaited_main, NULL);
}

/* ---- nothing leaks into a child ------------------------------------- */

static int child_fds_main(void *arg)
{
    (void)arg;
    /* Hold a listener, pipes, a FIFO-less open file, and even a
     * descriptor opened without O_CLOEXEC. */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    ASSERT_EQ(listen(lfd, 16), 0);
    goc_file *r, *w, *f;
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    ASSERT_EQ(goc_file_open(&f, "/etc/hostname", O_RDONLY, 0), 0);
    int raw = open("/dev/null", O_RDONLY);
    ASSERT(raw >= 3);
    goc_cmd *other = goc_command("sleep", "10", NULL);
    goc_file *oin;
    ASSERT_EQ(goc_cmd_stdin_pipe(other, &oin), 0);
    ASSERT_EQ(goc_cmd_start(other), 0);

    goc_cmd *c = goc_command("ls", "-l", "/proc/self/fd", NULL);
    goc_cmd_set_stderr_fd(c, 2);
    char *out;
    ASSERT_EQ(goc_cmd_output(c, &out, NULL), 0);
    goc_cmd_free(c);
    /* Lines: "l... N -> target". ls's own directory is the only other. */
    int seen = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *arrow = strstr(line, " -> ");
        if (!arrow)
            continue; /* "total 0" */
        char *p = arrow;
        while (p > line && p[-1] != ' ')
            p--;
        int fd = atoi(p);
        if (fd <= 2) {
            seen |= 1 << fd;
            continue;
        }
        if (strstr(arrow, "/proc/") && strstr(arrow, "/fd"))
            continue; /* ls reading the directory */
        GOC_FAIL_("descriptor leaked into the child: %s", line);
    }
    ASSERT_EQ(seen, 7);
    free(out);
    ASSERT_EQ(goc_cmd_signal(other, SIGKILL), 0);
    ASSERT_EQ(goc_cmd_wait(other), 128 + SIGKILL);
    goc_cmd_free(other);
    close(raw);
    close(lfd);
    goc_file_close(r);
    goc_file_close(w);
    goc_file_close(f);
    return 0;
}

GOC_TEST(proc_child_sees_only_012)
{
    return goc_main(child_fds_main, NULL);
}

/* ---- os.Pipe -------------------------------------------------------- */

typedef struct pipe_job {
    goc_file *f;
    size_t n;
    uint64_t sum;
    int err;
} pipe_job;

static void pipe_writer(void *arg)
{
    pipe_job *j = arg;
    char buf[7000];
    size_t done = 0, k = 1;
    while (done < j->n) {
        k = (k * 7 + 13) % sizeof buf + 1;
        if (k > j->n - done)
            k = j->n - done;
        for (size_t i = 0; i < k; i++) {
            buf[i] = (char)((done + i) * 31);
            j->sum += (uint8_t)buf[i];
        }
        ASSERT_EQ(goc_file_write(j->f, buf, k), (ssize_t)k);
        done += k;
    }
    ASSERT_EQ(goc_file_close(j->f), 0);
}

/* Reads one byte and reports the result on done. */
typedef struct blocked_read {
    goc_file *f;
    goc_chan *done;
} blocked_read;

static void blocked_reader(void *arg)
{
    blocked_read *b = arg;
    char c;
    int err = (int)goc_file_read(b->f, &c, 1);
    goc_chan_send(b->done, &err);
}

static int os_pipe_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    goc_file *r, *w;
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    pipe_job wj = {w, 3 * 1000 * 1000, 0, 0};
    go(pipe_writer, &wj);
    char buf[333];
    size_t n = 0;
    uint64_t sum = 0;
    ssize_t got;
    while ((got = goc_file_read(r, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            ASSERT_EQ((uint8_t)buf[i], (uint8_t)((n + (size_t)i) * 31));
            sum += (uint8_t)buf[i];
        }
        n += (size_t)got;
    }
    ASSERT_EQ(got, 0);
    ASSERT_EQ(n, wj.n);
    ASSERT_UEQ(sum, wj.sum);
    ASSERT_EQ(goc_file_close(r), 0);

    /* The reader gone: EPIPE, no SIGPIPE death. */
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    ASSERT_EQ(goc_file_close(r), 0);
    ASSERT_EQ(goc_file_write(w, "x", 1), -EPIPE);
    ASSERT_EQ(goc_file_close(w), 0);

    /* Close wakes a goroutine blocked reading: -ECANCELED, the closed
     * error of files and connections alike. */
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    blocked_read rj = {r, goc_chan_make(sizeof(int), 1)};
    ASSERT(rj.done != NULL);
    go(blocked_reader, &rj);
    goc_sleep(20 * MS);
    int err = 0;
    ASSERT_EQ(goc_chan_len(rj.done), 0); /* still blocked */
    ASSERT_EQ(goc_file_close(r), 0);
    /* Woken by the close. (Its store after the read returns is not
     * ordered with close's return: read it through the channel.) */
    ASSERT(goc_chan_recv(rj.done, &err));
    ASSERT_EQ(err, -ECANCELED);
    goc_chan_free(rj.done);
    ASSERT_EQ(goc_file_close(w), 0);

    /* A full pipe parks the writer until the reader drains it. */
    ASSERT_EQ(goc_pipe(&r, &w), 0);
    wj = (pipe_job){w, 1000 * 1000, 0, 0};
    go(pipe_writer, &wj);
    goc_sleep(20 * MS);
    n = 0;
    while ((got = goc_file_read(r, buf, sizeof buf)) > 0)
        n += (size_t)got;
    ASSERT_EQ(n, wj.n);
    goc_file_close(r);
    ASSERT_EQ(count_fds(), fds);
    return 0;
}

GOC_TEST(proc_os_pipe)
{
    return goc_main(os_pipe_main, NULL);
}

/* ---- named pipes ---------------------------------------------------- */

typedef struct fifo_job {
    const char *path;
    int64_t delay;
    size_t n;
    uint64_t sum;
    goc_waitgroup *wg;
} fifo_job;

static void fifo_writer(void *arg)
{
    fifo_job *j = arg;
    goc_sleep(j->delay);
    goc_file *f;
    ASSERT_EQ(goc_file_open(&f, j->path, O_WRONLY, 0), 0);
    char buf[4096];
    size_t done = 0;
    while (done < j->n) {
        size_t k = j->n - done < sizeof buf ? j->n - done : sizeof buf;
        for (size_t i = 0; i < k; i++) {
            buf[i] = (char)((done + i) % 251);
            j->sum += (uint8_t)buf[i];
        }
        ASSERT_EQ(goc_file_write(f, buf, k), (ssize_t)k);
        done += k;
    }
    ASSERT_EQ(goc_file_close(f), 0);
    goc_waitgroup_done(j->wg);
}

static void fifo_reader(void *arg)
{
    fifo_job *j = arg;
    goc_sleep(j->delay);
    goc_file *f;
    ASSERT_EQ(goc_file_open(&f, j->path, O_RDONLY, 0), 0);
    char buf[1000];
    ssize_t r;
    while ((r = goc_file_read(f, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < r; i++) {
            ASSERT_EQ((uint8_t)buf[i], (uint8_t)((j->n + (size_t)i) % 251));
            j->sum += (uint8_t)buf[i];
        }
        j->n += (size_t)r;
    }
    ASSERT_EQ(r, 0);
    ASSERT_EQ(goc_file_close(f), 0);
    goc_waitgroup_done(j->wg);
}

static int fifo_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    char dir[] = "/tmp/goc-fifo-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/myfifo1", dir);
    ASSERT_EQ(mkfifo(path, 0644), 0);
    /* Reader first, writer 50 ms later; then writer first; then both at
     * once; and a writer that writes nothing (EOF, not a hang). */
    int64_t delays[][2] = {{0, 50}, {50, 0}, {0, 0}, {10, 30}};
    size_t sizes[] = {200 * 1000, 200 * 1000, 5000, 0};
    for (int k = 0; k < 4; k++) {
        goc_waitgroup wg = GOC_WAITGROUP_INIT;
        fifo_job rj = {path, delays[k][0] * MS, 0, 0, &wg};
        fifo_job wj = {path, delays[k][1] * MS, sizes[k], 0, &wg};
        goc_waitgroup_add(&wg, 2);
        go(fifo_reader, &rj);
        go(fifo_writer, &wj);
        goc_waitgroup_wait(&wg);
        ASSERT_EQ(rj.n, sizes[k]);
        ASSERT_UEQ(rj.sum, wj.sum);
    }
    unlink(path);
    rmdir(dir);
    ASSERT_EQ(count_fds(), fds);
    return 0;
}

GOC_TEST(proc_named_pipe_either_order)
{
    goc_maxprocs(1); /* the open must not hold the only processor */
    return goc_main(fifo_main, NULL);
}

/* A read parked on a file (a named pipe opened with goc_file_open, a
 * writer connected but silent) wakes with the closed error, -ECANCELED,
 * when another goroutine closes the file; later calls get it at once;
 * the descriptor is closed by then. */
static int file_close_wakes_main(void *arg)
{
    (void)arg;
    int fds = count_fds();
    char dir[] = "/tmp/goc-fifo-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/closefifo", dir);
    ASSERT_EQ(mkfifo(path, 0644), 0);
    goc_file *r, *w;
    ASSERT_EQ(goc_file_open(&r, path, O_RDONLY, 0), 0);
    ASSERT_EQ(goc_file_open(&w, path, O_WRONLY, 0), 0);
    for (int k = 0; k < 2; k++) {
        /* k == 0: the reader parks before the close; k == 1: the same
         * on a file whose reader got data once (a drained edge). */
        blocked_read rj = {r, goc_chan_make(sizeof(int), 1)};
        ASSERT(rj.done != NULL);
        if (k == 1) {
            char c;
            ASSERT_EQ(goc_file_write(w, "x", 1), 1);
            ASSERT_EQ(goc_file_read(r, &c, 1), 1);
        }
        go(blocked_reader, &rj);
        goc_sleep(20 * MS);
        ASSERT_EQ(goc_chan_len(rj.done), 0); /* still parked */
        if (k == 1) {
            ASSERT_EQ(goc_file_close(r), 0);
            int err = 0;
            ASSERT(goc_chan_recv(rj.done, &err));
            ASSERT_EQ(err, -ECANCELED);
        } else {
            /* Woken by a byte, as a control: the reader was parked. */
            ASSERT_EQ(goc_file_write(w, "y", 1), 1);
            int got = 0;
            ASSERT(goc_chan_recv(rj.done, &got));
            ASSERT_EQ(got, 1);
        }
        goc_chan_free(rj.done);
    }
    ASSERT_EQ(goc_file_close(w), 0);
    unlink(path);
    rmdir(dir);
    ASSERT_EQ(count_fds(), fds);
    return 0;
}

GOC_TEST(proc_file_close_wakes_parked_read)
{
    return goc_main(file_close_wakes_main, NULL);
}

/* ---- io.Pipe -------------------------------------------------------- */

typedef struct mp_write {
    goc_mempipe_writer *w;
    const char *s;
    size_t n;
    goc_chan *res; /* ssize_t: the write's result */
} mp_write;

static void mp_writer(void *arg)
{
    mp_write *j = arg;
    ssize_t r = goc_mempipe_write(j->w, j->s, j->n);
    goc_chan_send(j->res, &r);
}

/* Result of the pending write, or -1000 if it has not returned. */
static ssize_t mp_result(goc_chan *res, int64_t wait)
{
    goc_timer *t = goc_timer_new(wait);
    ssize_t r = -1000;
    goc_case cs[] = {GOC_CASE_RECV(res, &r),
                     GOC_CASE_RECV(goc_timer_chan(t), NULL)};
    goc_select(cs, 2, false);
    goc_timer_free(t);
    return r;
}

static int mempipe_basic_main(void *arg)
{
    (void)arg;
    goc_chan *res = goc_chan_make(sizeof(ssize_t), 1);
    goc_mempipe_reader *r;
    goc_mempipe_writer *w;
    char buf[8];

    /* A write returns only once readers consumed all of it. */
    ASSERT_EQ(goc_mempipe(&r, &w), 0);
    mp_write j = {w, "hello", 5, res};
    go(mp_writer, &j);
    ASSERT_EQ(mp_result(res, 20 * MS), -1000);
    ASSERT_EQ(goc_mempipe_read(r, buf, 2), 2);
    ASSERT_EQ(memcmp(buf, "he", 2), 0);
    ASSERT_EQ(goc_mempipe_read(r, buf, 2), 2);
    ASSERT_EQ(memcmp(buf, "ll", 2), 0);
    ASSERT_EQ(mp_result(res, 20 * MS), -1000); /* "o" is left */
    ASSERT_EQ(goc_mempipe_read(r, buf, sizeof buf), 1);
    ASSERT_EQ(buf[0], 'o');
    ASSERT_EQ(mp_result(res, GOC_SECOND), 5);
    /* Close: EOF, again and again. */
    ASSERT_EQ(goc_mempipe_close_writer(w), 0);
    ASSERT_EQ(goc_mempipe_read(r, buf, sizeof buf), 0);
    ASSERT_EQ(goc_mempipe_read(r, buf, sizeof buf), 0);
    ASSERT_EQ(goc_mempipe_close_reader(r), 0);

    /* CloseWithError reaches the reader, also one already waiting. */
    ASSERT_EQ(goc_mempipe(&r, &w), 0);
    ASSERT_EQ(goc_mempipe_close_writer_with_error(w, -EIO), 0);
    ASSERT_EQ(goc_mempipe_read(r, buf, sizeof buf), -EIO);
    ASSERT_EQ(goc_mempipe_close_reader(r), 0);
    ASSERT_EQ(goc_mempipe(&r, &w), 0);
    ASSERT_EQ(goc_mempipe_close_writer_with_error(w, ENOTCONN), 0);
    ASSERT_EQ(goc_mempipe_read(r, buf, sizeof buf), -ENOTCONN);
    ASSERT_EQ(goc_mempipe_close_reader(r), 0);

    /* The reader gone: writes get -EPIPE, a blocked one too. */
    ASSERT_EQ(goc_mempipe(&r, &w), 0);
    j = (mp_write){w, "blocked", 7, res};
    go(mp_writer, &j);
    ASSERT_EQ(mp_result(res, 20 * MS), -1000);
    ASSERT_EQ(goc_mempipe_close_reader(r), 0);
    ASSERT_EQ(mp_result(res, GOC_SECOND), -EPIPE);
    ASSERT_EQ(goc_mempipe_write(w, "x", 1), -EPIPE);
    ASSERT_EQ(goc_mempipe_close_writer(w), 0);
    /* ...or the reader's own error. */
    ASSERT_EQ(goc_mempipe(&r, &w), 0);
    ASSERT_EQ(goc_mempipe_close_reader_with_error(r, -ECONNRESET), 0);
    ASSERT_EQ(goc_mempipe_write(w, "x", 1), -ECONNRESET);
    ASSERT_EQ(goc_mempipe_close_writer(w), 0);
    /* A read after the reader's own close: -EPIPE. */
    ASSERT_EQ(goc_mempipe(&r, &w), 0);
    ASSERT_EQ(goc_mempipe_close_writer(w), 0);
    goc_chan_free(res);
    ASSERT_EQ(goc_mempipe_read(r, buf, 1), 0);
    ASSERT_EQ(goc_mempipe_close_reader(r), 0);
    return 0;
}

GOC_TEST(proc_mempipe_basic)
{
    return goc_main(mempipe_basic_main, NULL);
}

typedef struct mp_par {
    goc_mempipe_reader *r;
    goc_mempipe_writer *w;
    goc_waitgroup writers, readers;
    long msgs;
    _Atomic uint64_t wbytes, wsum, rbytes, rsum;
    _Atomic int seed;
} mp_par;

static void par_writer(void *arg)
{
    mp_par *p = arg;
    uint32_t rnd = (uint32_t)atomic_fetch_add(&p->seed, 7919) | 1;
    char *buf = malloc(5000);
    for (long m = 0; m < p->msgs; m++) {
        rnd = rnd * 1664525u + 1013904223u;
        size_t n = (rnd >> 8) % 5000 + 1;
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            buf[i] = (char)(rnd >> (i % 24));
            sum += (uint8_t)buf[i];
        }
        ASSERT_EQ(goc_mempipe_write(p->w, buf, n), (ssize_t)n);
        atomic_fetch_add(&p->wbytes, n);
        atomic_fetch_add(&p->wsum, sum);
    }
    free(buf);
    goc_waitgroup_done(&p->writers);
}

static void par_reader(void *arg)
{
    mp_par *p = arg;
    uint32_t rnd = (uint32_t)atomic_fetch_add(&p->seed, 104729) | 1;
    char buf[3000];
    uint64_t bytes = 0, sum = 0;
    for (;;) {
        rnd = rnd * 1664525u + 1013904223u;
        size_t n = (rnd >> 8) % sizeof buf + 1;
        ssize_t r = goc_mempipe_read(p->r, buf, n);
        ASSERT_GE(r, 0);
        if (r == 0)
            break;
        ASSERT_LE(r, (ssize_t)n);
        for (ssize_t i = 0; i < r; i++)
            sum += (uint8_t)buf[i];
        bytes += (uint64_t)r;
    }
    atomic_fetch_add(&p->rbytes, bytes);
    atomic_fetch_add(&p->rsum, sum);
    goc_waitgroup_done(&p->readers);
}

static int mempipe_par_main(void *arg)
{
    (void)arg;
    mp_par *p = calloc(1, sizeof *p);
    ASSERT_EQ(goc_mempipe(&p->r, &p->w), 0);
    p->msgs = goc_test_iters(2000, 50);
    goc_waitgroup_add(&p->writers, 4);
    goc_waitgroup_add(&p->readers, 4);
    for (int i = 0; i < 4; i++) {
        go(par_writer, p);
        go(par_reader, p);
    }
    goc_waitgroup_wait(&p->writers);
    ASSERT_EQ(goc_mempipe_close_writer(p->w), 0);
    goc_waitgroup_wait(&p->readers);
    ASSERT_EQ(goc_mempipe_close_reader(p->r), 0);
    ASSERT_UEQ(atomic_load(&p->rbytes), atomic_load(&p->wbytes));
    ASSERT_UEQ(atomic_load(&p->rsum), atomic_load(&p->wsum));
    ASSERT_GT(atomic_load(&p->wbytes), 4 * p->msgs);
    free(p);
    return 0;
}

GOC_TEST(proc_mempipe_4x4)
{
    return goc_main(mempipe_par_main, NULL);
}

/* ---- processes by id ------------------------------------------------ */

static char wait_state(pid_t pid, char want)
{
    goc_process_info pi;
    int64_t until = goc_nanotime() + 5 * GOC_SECOND;
    for (;;) {
        ASSERT_EQ(goc_process_stat(pid, &pi), 0);
        if (pi.state == want || goc_nanotime() > until)
            return pi.state;
        goc_sleep(MS);
    }
}

static int process_main(void *arg)
{
    (void)arg;
    goc_process_info pi;
    ASSERT_EQ(goc_process_stat(getpid(), &pi), 0);
    ASSERT_EQ(pi.pid, getpid());
    ASSERT_EQ(pi.ppid, getppid());
    /* The main thread's state: it waits in goc_main (S) or runs (R). */
    ASSERT(pi.state == 'S' || pi.state == 'R');
    ASSERT(pi.name[0] != '\0');
    ASSERT_EQ(goc_process_stat(0, &pi), -EINVAL);
    ASSERT_EQ(goc_process_stat(0x3ffffff0, &pi), -ENOENT);

    /* A child by name; its states S, T, Z; gone once waited for. */
    goc_cmd *c = goc_command("sleep", "7.25", NULL);
    ASSERT_EQ(goc_cmd_start(c), 0);
    pid_t pid = goc_cmd_pid(c);
    pid_t pids[4];
    int64_t until = goc_nanotime() + 5 * GOC_SECOND;
    while (goc_find_processes("sleep 7.25", pids, 4) != 1)
        ASSERT_LT(goc_nanotime(), until); /* until exec has happened */
    ASSERT_EQ(pids[0], pid);
    ASSERT_EQ(goc_find_processes("goc-no-such-process-pattern", pids, 4), 0);
    /* The caller is excluded although its command line matches. */
    ASSERT_EQ(goc_find_processes("goc_tests", pids, 0) >= 0, 1);
    ASSERT_EQ(goc_process_stat(pid, &pi), 0);
    ASSERT_EQ(pi.ppid, getpid());
    ASSERT_STR_EQ(pi.name, "sleep");
    ASSERT_EQ(wait_state(pid, 'S'), 'S');
    ASSERT_EQ(goc_process_signal(pid, SIGSTOP), 0);
    ASSERT_EQ(wait_state(pid, 'T'), 'T');
    ASSERT_EQ(goc_process_signal(pid, SIGCONT), 0);
    ASSERT_EQ(goc_process_signal(pid, SIGKILL), 0);
    ASSERT_EQ(wait_state(pid, 'Z'), 'Z');
    ASSERT_EQ(goc_cmd_wait(c), 128 + SIGKILL);
    ASSERT_EQ(goc_process_stat(pid, &pi), -ENOENT);
    ASSERT_EQ(goc_process_signal(pid, 0), -ESRCH);
    ASSERT_EQ(goc_process_signal(0, SIGTERM), -EINVAL);
    ASSERT_EQ(goc_process_signal(-1, SIGTERM), -EINVAL);
    goc_cmd_free(c);
    return 0;
}

GOC_TEST(proc_process_info)
{
    return goc_main(process_main, NULL);
}
