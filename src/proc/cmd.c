/*
 * cmd.c - os/exec on the goc runtime: commands, their pipes, pipelines.
 *
 * Starting: the program is looked up in $PATH, then posix_spawn (glibc:
 * clone(CLONE_VM|CLONE_VFORK), no code of ours between fork and exec)
 * runs only file actions in the child: dup2 of the three streams (or an
 * open of /dev/null), closefrom(3), chdir. Descriptors below 3 that must
 * move to another slot are first duplicated above 2 in the parent, so
 * that the dup2s cannot overwrite each other's sources. The spawn and the
 * lookup run inside goc_syscall_begin/end: a slow exec (the parent thread
 * waits for it under CLONE_VFORK) costs a thread, never a processor.
 *
 * Reaping: a pidfd (pidfd_open) registered on the poller becomes readable
 * when the child exits; the waiter then reaps exactly that pid with
 * waitpid(WNOHANG). Without pidfds (Linux < 5.3, or too many open files)
 * the child is watched through SIGCHLD instead: the signal forwarder
 * (signal.c) wakes every watcher on each SIGCHLD and each retries
 * waitpid(WNOHANG) for its own pid. Either way no thread ever blocks in
 * waitpid, and no other child of the process is touched.
 *
 * States (c->state, owner goroutine): CMD_NEW -> CMD_STARTED (start
 * succeeded) -> CMD_DONE (reaped); CMD_NEW -> CMD_DONE (start failed).
 *
 * Invariants: mu guards pidfd and reaped; goc_cmd_signal holds it while it
 * sends, and the reaping waitpid runs under it, so a signal never reaches
 * a recycled pid.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc_internal.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
#define HAVE_CLOSEFROM_NP 1
#endif

extern char **environ;

_Atomic bool goc__proc_no_pidfd;

enum { CMD_NEW, CMD_STARTED, CMD_DONE };

struct goc_cmd {
    char **argv;       /* NULL-terminated copy; argv[0] is the name */
    char *dir;         /* working directory, or NULL */
    char **env;        /* environment, or NULL: inherit */
    int fd[3];         /* caller's fd for the child's 0/1/2, or -1 */
    goc_file *pipe[3]; /* parent's ends from *_pipe (owned) */
    int child_end[3];  /* child's ends of those pipes until start */
    int state;         /* CMD_*; owner */
    pid_t pid;         /* set at start */
    goc__pollfd *pd;   /* owns the pidfd, if any: waited on for the exit */
    goc__chld_watch watch;
    bool watching;      /* SIGCHLD fallback in use */
    pthread_mutex_t mu; /* guards pidfd, reaped */
    int pidfd;          /* pd's descriptor, for signals; -1 once reaped */
    bool reaped;
    int status;
};

/* ---- construction ---------------------------------------------------- */

static char **dup_vec(const char *const v[])
{
    size_t n = 0;
    while (v[n])
        n++;
    char **r = calloc(n + 1, sizeof *r);
    if (!r)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(r[i] = strdup(v[i]))) {
            while (i--)
                free(r[i]);
            free(r);
            return NULL;
        }
    }
    return r;
}

static void free_vec(char **v)
{
    if (!v)
        return;
    for (size_t i = 0; v[i]; i++)
        free(v[i]);
    free(v);
}

goc_cmd *goc_command_argv(const char *const argv[])
{
    if (!argv || !argv[0])
        return NULL;
    goc_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (!(c->argv = dup_vec(argv))) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        c->fd[i] = c->child_end[i] = -1;
    c->pidfd = -1;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

goc_cmd *goc_command(const char *name, ...)
{
    if (!name)
        return NULL;
    va_list ap;
    size_t n = 1;
    va_start(ap, name);
    while (va_arg(ap, const char *))
        n++;
    va_end(ap);
    const char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    v[0] = name;
    va_start(ap, name);
    for (size_t i = 1; i < n; i++)
        v[i] = va_arg(ap, const char *);
    va_end(ap);
    goc_cmd *c = goc_command_argv(v);
    free(v);
    return c;
}

static int make_pipe(goc_cmd *c, int i, goc_file **out)
{
    if (!c || !out)
        return -EINVAL;
    if (c->state != CMD_NEW || c->pipe[i] || c->fd[i] >= 0)
        return -EINVAL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    int parent = i == 0 ? p[1] : p[0], child = i == 0 ? p[0] : p[1];
    goc_file *f;
    int err = goc__file_new(&f, parent, true, false);
    if (err) {
        close(p[0]);
        close(p[1]);
        return err;
    }
    c->pipe[i] = f;
    c->child_end[i] = child;
    *out = f;
    return 0;
}

int goc_cmd_stdin_pipe(goc_cmd *c, goc_file **out)
{
    return make_pipe(c, 0, out);
}

int goc_cmd_stdout_pipe(goc_cmd *c, goc_file **out)
{
    return make_pipe(c, 1, out);
}

int goc_cmd_stderr_pipe(goc_cmd *c, goc_file **out)
{
    return make_pipe(c, 2, out);
}

static int set_fd(goc_cmd *c, int i, int fd)
{
    if (!c || fd < -1 || c->state != CMD_NEW || c->pipe[i])
        return -EINVAL;
    c->fd[i] = fd;
    return 0;
}

int goc_cmd_set_stdin_fd(goc_cmd *c, int fd)
{
    return set_fd(c, 0, fd);
}

int goc_cmd_set_stdout_fd(goc_cmd *c, int fd)
{
    return set_fd(c, 1, fd);
}

int goc_cmd_set_stderr_fd(goc_cmd *c, int fd)
{
    return set_fd(c, 2, fd);
}

int goc_cmd_set_dir(goc_cmd *c, const char *dir)
{
    if (!c || c->state != CMD_NEW)
        return -EINVAL;
    char *d = NULL;
    if (dir && !(d = strdup(dir)))
        return -ENOMEM;
    free(c->dir);
    c->dir = d;
    return 0;
}

int goc_cmd_set_env(goc_cmd *c, const char *const env[])
{
    if (!c || c->state != CMD_NEW)
        return -EINVAL;
    char **e = NULL;
    if (env && !(e = dup_vec(env)))
        return -ENOMEM;
    free_vec(c->env);
    c->env = e;
    return 0;
}

pid_t goc_cmd_pid(goc_cmd *c)
{
    return c ? c->pid : 0;
}

/* ---- starting -------------------------------------------------------- */

/*
 * exec.LookPath: a name with a slash is used as is; else the first
 * regular, executable file NAME in an absolute $PATH entry. Relative
 * entries ("", ".") are skipped, as Go refuses them (exec.ErrDot): they
 * would resolve against the parent's directory, not the child's.
 */
static int look_path(const char *name, char **out)
{
    if (!*name)
        return -ENOENT;
    if (strchr(name, '/')) {
        *out = strdup(name);
        return *out ? 0 : -ENOMEM;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    size_t nlen = strlen(name);
    int err = -ENOENT;
    for (const char *s = path;; s++) {
        const char *e = strchrnul(s, ':');
        size_t len = (size_t)(e - s);
        if (len > 0 && s[0] == '/') {
            char *cand = malloc(len + 1 + nlen + 1);
            if (!cand)
                return -ENOMEM;
            memcpy(cand, s, len);
            cand[len] = '/';
            memcpy(cand + len + 1, name, nlen + 1);
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
                if (eaccess(cand, X_OK) == 0) {
                    *out = cand;
                    return 0;
                }
                err = -EACCES;
            }
            free(cand);
        }
        if (!*e)
            break;
        s = e;
    }
    return err;
}

static int do_spawn(goc_cmd *c, const char *path)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int tmp[3] = {-1, -1, -1};
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return -rc;
    rc = posix_spawnattr_init(&at);
    if (rc) {
        posix_spawn_file_actions_destroy(&fa);
        return -rc;
    }
    for (int i = 0; i < 3 && rc == 0; i++) {
        int src = c->child_end[i] >= 0 ? c->child_end[i] : c->fd[i];
        if (src < 0) {
            rc = posix_spawn_file_actions_addopen(
                &fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
            continue;
        }
        if (src < 3 && src != i) {
            /* Moving 0..2 around: take a copy above 2 first, so no
             * dup2 below can clobber another's source. */
            tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, 3);
            if (tmp[i] < 0) {
                rc = errno;
                break;
            }
            src = tmp[i];
        }
        /* src == i: glibc clears FD_CLOEXEC, the fd stays as it is. */
        rc = posix_spawn_file_actions_adddup2(&fa, src, i);
    }
#ifdef HAVE_CLOSEFROM_NP
    /* Belt and braces: everything goc opens is close-on-exec, but a
     * descriptor the user opened without O_CLOEXEC must not leak either. */
    if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (rc == 0 && c->dir)
        rc = posix_spawn_file_actions_addchdir_np(&fa, c->dir);
    if (rc == 0) {
        /* Runtime threads block most signals and the runtime ignores
         * SIGPIPE: the child starts clean. */
        sigset_t none, def;
        sigemptyset(&none);
        sigemptyset(&def);
        sigaddset(&def, SIGPIPE);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &def);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF);
        pid_t pid;
        rc = posix_spawn(&pid, path, &fa, &at, c->argv,
                         c->env ? c->env : environ);
        if (rc == 0)
            c->pid = pid;
    }
    for (int i = 0; i < 3; i++)
        if (tmp[i] >= 0)
            close(tmp[i]);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

/* Arrange to learn of the child's exit: pidfd on the poller, else the
 * SIGCHLD watch. */
static int setup_reap(goc_cmd *c)
{
    if (!atomic_load(&goc__proc_no_pidfd)) {
        int pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
        if (pidfd >= 0) {
            if (goc__pollfd_open(pidfd, &c->pd) == 0) {
                c->pidfd = pidfd;
                return 0;
            }
            close(pidfd);
        }
    }
    c->watch.ch = goc_chan_make(sizeof(int), 1);
    if (!c->watch.ch)
        return -ENOMEM;
    int err = goc__sig_chld_watch(&c->watch);
    if (err) {
        goc_chan_free(c->watch.ch);
        c->watch.ch = NULL;
        return err;
    }
    c->watching = true;
    return 0;
}

static void close_pipes(goc_cmd *c)
{
    for (int i = 0; i < 3; i++) {
        if (c->child_end[i] >= 0) {
            close(c->child_end[i]);
            c->child_end[i] = -1;
        }
        if (c->pipe[i])
            goc_file_close(c->pipe[i]); /* -ECANCELED if closed already */
    }
}

static int decode_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -ECHILD;
}

/* Reap now if the child has exited: 1 reaped (*st set), 0 still running.
 * Under mu, so that goc_cmd_signal never races with the reap. */
static int try_reap(goc_cmd *c, int *st)
{
    int ret = 0;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        int status;
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid) {
            *st = decode_status(status);
            ret = 1;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0) {
            *st = -errno; /* ECHILD: somebody else reaped it */
            ret = 1;
        }
        break;
    }
    if (ret) {
        c->reaped = true;
        c->pidfd = -1; /* goc_cmd_signal stops here; closed by drop_reap */
    }
    pthread_mutex_unlock(&c->mu);
    return ret;
}

int goc_cmd_start(goc_cmd *c)
{
    if (!c || c->state != CMD_NEW)
        return -EINVAL;
    char *path = NULL;
    goc_syscall_begin();
    int err = look_path(c->argv[0], &path);
    if (err == 0)
        err = do_spawn(c, path);
    goc_syscall_end();
    free(path);
    for (int i = 0; i < 3; i++) {
        if (c->child_end[i] >= 0) {
            close(c->child_end[i]);
            c->child_end[i] = -1;
        }
    }
    if (err) {
        c->state = CMD_DONE;
        close_pipes(c);
        return err;
    }
    c->state = CMD_STARTED;
    err = setup_reap(c);
    if (err) {
        /* Cannot watch it: do not leave it running unreaped. */
        kill(c->pid, SIGKILL);
        goc_syscall_begin();
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        goc_syscall_end();
        c->reaped = true;
        c->state = CMD_DONE;
        close_pipes(c);
        return err;
    }
    return 0;
}

/* Stop watching for the exit: close the pidfd, or leave the SIGCHLD
 * watchers. Nothing else uses either any more (goc_cmd_signal saw
 * reaped, or the command is being freed). */
static void drop_reap(goc_cmd *c)
{
    if (c->pd) {
        goc__pollfd_close(c->pd);
        goc__pollfd_free(c->pd);
        c->pd = NULL;
    }
    if (c->watching) {
        goc__sig_chld_unwatch(&c->watch);
        c->watching = false;
    }
    if (c->watch.ch) {
        goc_chan_free(c->watch.ch);
        c->watch.ch = NULL;
    }
}

/* Park until the child may have exited: the pidfd became readable, or a
 * SIGCHLD came. A spurious return only costs another waitpid. */
static void wait_exit(goc_cmd *c)
{
    if (c->pd) {
        int err = goc__pollfd_wait(c->pd, GOC__POLL_READ);
        if (goc_unlikely(err))
            goc__fatal("goc_cmd_wait: pidfd wait failed: %s",
                       goc_strerror(err));
    } else {
        int sig;
        goc_chan_recv(c->watch.ch, &sig);
    }
}

int goc_cmd_wait(goc_cmd *c)
{
    if (!c || c->state != CMD_STARTED)
        return -EINVAL;
    goc__require_g("goc_cmd_wait");
    int st;
    /* The pidfd's read lock: a reference, so that nothing closes it. */
    if (c->pd && (goc__pollfd_lock(c->pd, GOC__POLL_READ) ||
                  goc__pollfd_prepare(c->pd, GOC__POLL_READ)))
        goc__fatal("goc_cmd_wait: pidfd closed while waited on");
    while (!try_reap(c, &st))
        wait_exit(c);
    if (c->pd)
        goc__pollfd_unlock(c->pd, GOC__POLL_READ);
    drop_reap(c);
    c->status = st;
    c->state = CMD_DONE;
    close_pipes(c);
    return st;
}

int goc_cmd_run(goc_cmd *c)
{
    int err = goc_cmd_start(c);
    return err ? err : goc_cmd_wait(c);
}

int goc_cmd_signal(goc_cmd *c, int sig)
{
    if (!c || sig < 0 || sig > 64)
        return -EINVAL;
    if (c->pid == 0)
        return -ESRCH;
    int err = 0;
    pthread_mutex_lock(&c->mu);
    if (c->reaped)
        err = -ESRCH;
    else if (c->pidfd >= 0)
        err = syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) == 0
                  ? 0
                  : -errno;
    else
        err = kill(c->pid, sig) == 0 ? 0 : -errno;
    pthread_mutex_unlock(&c->mu);
    return err;
}

static void cmd_release(goc_cmd *c)
{
    for (int i = 0; i < 3; i++) {
        if (c->child_end[i] >= 0)
            close(c->child_end[i]);
        goc__file_free(c->pipe[i]);
    }
    drop_reap(c);
    pthread_mutex_destroy(&c->mu);
    free_vec(c->argv);
    free_vec(c->env);
    free(c->dir);
    free(c);
}

static void reap_in_background(void *arg)
{
    goc_cmd *c = arg;
    goc_cmd_wait(c);
    cmd_release(c);
}

void goc_cmd_free(goc_cmd *c)
{
    if (!c)
        return;
    if (c->state == CMD_STARTED && goc_go(reap_in_background, c) == 0)
        return;
    cmd_release(c);
}

/* ---- output and pipelines -------------------------------------------- */

/* Read f to EOF into a malloc'd, NUL-terminated buffer. */
static int read_all(goc_file *f, char **out, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    int err = 0;
    for (;;) {
        if (cap - n < 2048) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                err = -ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = goc_file_read(f, buf + n, cap - n - 1);
        if (r <= 0) {
            err = (int)r;
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return err;
}

static void hand_out(char *buf, size_t n, char **out, size_t *len)
{
    if (out)
        *out = buf;
    else
        free(buf);
    if (len)
        *len = n;
}

int goc_cmd_output(goc_cmd *c, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    goc_file *f;
    int err = goc_cmd_stdout_pipe(c, &f);
    if (err)
        return err;
    if ((err = goc_cmd_start(c)))
        return err;
    char *buf = NULL;
    size_t n = 0;
    int rerr = read_all(f, &buf, &n);
    int st = goc_cmd_wait(c);
    hand_out(buf, n, out, len);
    return st == 0 && rerr < 0 ? rerr : st;
}

int goc_pipeline_output(goc_cmd **cmds, size_t n, char **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!cmds || n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!cmds[i] || cmds[i]->state != CMD_NEW)
            return -EINVAL;
        if (i > 0 && (cmds[i]->pipe[0] || cmds[i]->fd[0] >= 0))
            return -EINVAL; /* stdin comes from the previous stage */
        if (cmds[i]->pipe[1] || cmds[i]->fd[1] >= 0)
            return -EINVAL; /* stdout goes to the next stage / to us */
    }
    int *st = calloc(n, sizeof *st);
    int(*links)[2] = calloc(n, sizeof *links);
    if (!st || !links) {
        free(st);
        free(links);
        return -ENOMEM;
    }
    int err = 0;
    size_t nlinks = 0;
    for (; nlinks + 1 < n; nlinks++) {
        if (pipe2(links[nlinks], O_CLOEXEC) != 0) {
            err = -errno;
            break;
        }
        cmds[nlinks]->fd[1] = links[nlinks][1];
        cmds[nlinks + 1]->fd[0] = links[nlinks][0];
    }
    goc_file *last = NULL;
    if (err == 0)
        err = goc_cmd_stdout_pipe(cmds[n - 1], &last);
    if (err) {
        for (size_t i = 0; i < nlinks; i++) {
            close(links[i][0]);
            close(links[i][1]);
        }
        free(st);
        free(links);
        return err;
    }
    /* Every stage at once; one that cannot start is skipped, as a shell
     * does: closing our copies below gives its neighbours EOF / EPIPE. */
    for (size_t i = 0; i < n; i++)
        st[i] = goc_cmd_start(cmds[i]);
    for (size_t i = 0; i < nlinks; i++) {
        close(links[i][0]);
        close(links[i][1]);
    }
    char *buf = NULL;
    size_t blen = 0;
    int rerr = 0;
    if (st[n - 1] == 0)
        rerr = read_all(last, &buf, &blen);
    for (size_t i = 0; i < n; i++)
        if (st[i] == 0)
            st[i] = goc_cmd_wait(cmds[i]);
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = st[i];
    if (ret == 0 && rerr < 0)
        ret = rerr;
    if (!buf)
        buf = calloc(1, 1);
    hand_out(buf, blen, out, len);
    free(st);
    free(links);
    return ret;
}
