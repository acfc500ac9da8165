/*
 * goc/proc.h - processes, pipes and signals: Go's os/exec, os.Pipe,
 * io.Pipe and os/signal, on the goc runtime.
 *
 * Everything that waits (for a child to exit, for data in a pipe, for a
 * reader of a named pipe) parks the goroutine, never the thread: pipes,
 * child exits (pidfd) and signals all come through the runtime's poller.
 * Errors are negative errno codes (goc_strerror names them).
 *
 * Commands (exec.Cmd)
 * -------------------
 *     goc_cmd *c = goc_command("ls", "-l", "/tmp", NULL);
 *     char *out; size_t len;
 *     int st = goc_cmd_output(c, &out, &len);   // 0: ls exited 0
 *     ... free(out); goc_cmd_free(c);
 *
 *  - The program is looked up in $PATH at start when its name has no '/'
 *    (exec.LookPath); a missing program makes goc_cmd_start return -ENOENT
 *    (-EACCES when found but not executable).
 *  - A child's stdin, stdout and stderr are /dev/null unless set (as Go:
 *    a nil Stdin/Stdout/Stderr is the null device). goc_cmd_set_*_fd gives
 *    the child a descriptor of yours (the caller keeps it open and owns it;
 *    pass STDOUT_FILENO to share your own stdout); goc_cmd_*_pipe gives
 *    you a pipe to it instead.
 *  - The child sees only descriptors 0, 1 and 2: every descriptor goc
 *    creates is close-on-exec, and the rest are closed in the child before
 *    exec. It starts with no blocked signals and default dispositions for
 *    SIGPIPE (which the runtime ignores) and for every signal goc handles.
 *    It is started with posix_spawn (clone(CLONE_VM|CLONE_VFORK) inside
 *    glibc): nothing runs between fork and exec but the file actions.
 *  - Status: goc_cmd_wait returns the exit status (0-255), or 128 + the
 *    number of the signal that killed the child (as a shell's $?), or a
 *    negative code. Waiting parks on a pidfd (Linux >= 5.3; SIGCHLD
 *    through the signal forwarder on older kernels), reaps exactly that
 *    child (never anybody else's: a child you fork yourself keeps its
 *    status for your own waitpid), and leaves no zombie behind.
 *  - Pipes from goc_cmd_*_pipe belong to the command: goc_cmd_wait closes
 *    them after the child exited (so finish reading before waiting, as in
 *    Go), goc_cmd_free frees them. You may goc_file_close them earlier
 *    (close the stdin pipe to send EOF); that does not free them.
 *  - A goc_cmd is used by one goroutine at a time, except goc_cmd_signal,
 *    which may be called while another goroutine waits.
 *
 * Files and pipes (os.File, os.Pipe)
 * ----------------------------------
 * A goc_file is a descriptor on the poller: reads and writes park the
 * goroutine until the descriptor is ready. Regular files (which epoll
 * cannot watch) are read and written inside goc_syscall_begin/end, so a
 * slow disk costs a thread but never a processor; with
 * GOC_POLLER=io_uring_completion pipes and regular files are read and
 * written by io_uring requests instead, the goroutine parked on its
 * completion, so not even a thread waits (docs/net.md). Concurrent reads on one
 * file are serialised, and so are concurrent writes (Go's fdMutex);
 * goc_file_close wakes goroutines blocked on the file (they get
 * -ECANCELED) and waits until they have left it before closing the
 * descriptor.
 *
 * The closed error: every call on a file that is closed, or whose close
 * has begun, fails with -ECANCELED (Go's os.ErrClosed), the same code as
 * a closed connection or listener (net.h): distinct from end of file (a
 * read of 0), from a deadline (-ETIMEDOUT) and from the kernel's -EBADF
 * (a descriptor that was never open).
 *
 * Named pipes (mkfifo) open without blocking the thread: opening the read
 * end returns at once, and a read before any writer came waits for one
 * (it is not end-of-file); opening the write end parks the goroutine,
 * retrying with a short back-off (at most 10 ms), until a reader has
 * opened the pipe (the kernel gives no event for that).
 *
 * In-memory pipes (io.Pipe)
 * -------------------------
 * goc_mempipe is synchronous and unbuffered: a write blocks until readers
 * have consumed all of it (in one or several reads); data is copied once,
 * from the writer's buffer to the reader's. Writes are atomic with respect
 * to each other, reads may run in parallel. Close each end exactly once:
 * the pipe is freed when both ends are closed and no call is in progress.
 *
 * Signals (os/signal)
 * -------------------
 * Every runtime thread blocks the asynchronous signals from birth (see
 * goc__runtime_sigset in src/runtime/sched.c), so goroutine code never
 * runs a signal handler and never sees EINTR. goc_signal_notify installs
 * goc's forwarder for the signals asked for: wherever such a signal lands
 * (the thread that called goc_main, a thread of yours) the forwarder
 * records it and wakes the poller; a signal that every thread blocks is
 * read from a signalfd. Both are drained in one place, the poller, which
 * sends the signal number to every channel registered for it without ever
 * blocking: a channel that is full misses it (as Go: give the channel a
 * buffer, or keep receiving). Standard signals that arrive while one of
 * the same kind is still undelivered are merged, as the kernel does.
 * When the last registration of a signal is stopped, its previous
 * disposition comes back. A goroutine waiting on a registered channel is
 * not a deadlock. Registrations end with goc_main: stop them before it
 * returns if you want the default actions back afterwards.
 */
#ifndef GOC_PROC_H
#define GOC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "goc/chan.h"
#include "goc/extern.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goc_cmd goc_cmd;
typedef struct goc_file goc_file;
typedef struct goc_mempipe_reader goc_mempipe_reader;
typedef struct goc_mempipe_writer goc_mempipe_writer;

/* ---- commands ------------------------------------------------------- */

/* exec.Command(name, args...): the argument list ends with NULL; argv[0]
 * is name. Strings are copied. NULL only when out of memory (or name is
 * NULL). Any thread. */
GOC_EXTERN goc_cmd *goc_command(const char *name, ...)
    __attribute__((sentinel));
/* Same from a NULL-terminated vector (argv[0] is the program). */
GOC_EXTERN goc_cmd *goc_command_argv(const char *const argv[]);

/* StdinPipe / StdoutPipe / StderrPipe: before start. *out is the parent's
 * end, owned by the command (see above). -EINVAL after start or when that
 * stream is already set. */
GOC_EXTERN int goc_cmd_stdin_pipe(goc_cmd *c, goc_file **out);
GOC_EXTERN int goc_cmd_stdout_pipe(goc_cmd *c, goc_file **out);
GOC_EXTERN int goc_cmd_stderr_pipe(goc_cmd *c, goc_file **out);
/* The child gets fd (dup'ed) as its stdin / stdout / stderr; -1 restores
 * /dev/null. The caller keeps fd. Before start. */
GOC_EXTERN int goc_cmd_set_stdin_fd(goc_cmd *c, int fd);
GOC_EXTERN int goc_cmd_set_stdout_fd(goc_cmd *c, int fd);
GOC_EXTERN int goc_cmd_set_stderr_fd(goc_cmd *c, int fd);
/* Cmd.Dir: the child's working directory (NULL: ours). Before start. */
GOC_EXTERN int goc_cmd_set_dir(goc_cmd *c, const char *dir);
/* Cmd.Env: "KEY=value" strings, NULL-terminated, copied (NULL: inherit
 * our environment). Before start. */
GOC_EXTERN int goc_cmd_set_env(goc_cmd *c, const char *const env[]);

/* Start the child. 0, or a negative code: -ENOENT for a missing program,
 * -EACCES, -EINVAL when already started, -EMFILE... Goroutine only. */
GOC_EXTERN int goc_cmd_start(goc_cmd *c);
/* Wait for the child to exit and reap it; close the command's pipes.
 * Returns the exit status, or 128 + the terminating signal, or a
 * negative code (-EINVAL: not started or already waited). Goroutine
 * only. */
GOC_EXTERN int goc_cmd_wait(goc_cmd *c);
/* start + wait. */
GOC_EXTERN int goc_cmd_run(goc_cmd *c);
/* Run and collect stdout (stdout must not be set). *out is malloc'd and
 * NUL-terminated (caller frees; NULL when the command did not start),
 * *len its length (either may be NULL). Returns as goc_cmd_wait. */
GOC_EXTERN int goc_cmd_output(goc_cmd *c, char **out, size_t *len);
/* The child's process id (0 before start). Any thread. */
GOC_EXTERN pid_t goc_cmd_pid(goc_cmd *c);
/* Process.Signal: send sig to the started, not yet reaped child (through
 * its pidfd: never to a recycled pid). -ESRCH once it has been waited
 * for. Any goroutine, also while another waits. */
GOC_EXTERN int goc_cmd_signal(goc_cmd *c, int sig);
/* Free the command (NULL: nothing). A child that was started but never
 * waited for is reaped by a goroutine in the background (not killed). */
GOC_EXTERN void goc_cmd_free(goc_cmd *c);

/*
 * Run cmds[0] | cmds[1] | ... | cmds[n-1] as a shell does: every stage at
 * once, each stdout into the next stdin, and collect the last stdout into
 * *out / *len (as goc_cmd_output). The stages' other streams stay as set
 * (stderr: /dev/null by default). A stage that cannot start (-ENOENT...)
 * is skipped as a shell would: its neighbours see EOF / a closed pipe.
 * Returns 0 when every stage exited 0; else the status of the first
 * failing stage in pipeline order (its exit status, 128 + signal, or its
 * negative start error), or a negative code for the pipeline itself. The
 * commands are left waited: free them afterwards. Goroutine only.
 */
GOC_EXTERN int goc_pipeline_output(goc_cmd **cmds, size_t n, char **out,
                                   size_t *len);

/* ---- files and pipes ------------------------------------------------ */

/* os.Pipe: *r reads what *w writes. Both on the poller, close-on-exec. */
GOC_EXTERN int goc_pipe(goc_file **r, goc_file **w);
/* os.OpenFile: open(path, flags | O_CLOEXEC, mode). Named pipes: see
 * above. Goroutine only (a FIFO's write end waits for a reader). */
GOC_EXTERN int goc_file_open(goc_file **out, const char *path, int flags,
                             mode_t mode);
/* Read up to n bytes: the count (> 0), 0 at end of file, or a negative
 * code (-ECANCELED once closed). Goroutine only. */
GOC_EXTERN ssize_t goc_file_read(goc_file *f, void *buf, size_t n);
/* Write all n bytes (partial writes are continued): n, or a negative code
 * (-EPIPE when the reader has gone; SIGPIPE never kills; -ECANCELED once
 * closed). Goroutine only. */
GOC_EXTERN ssize_t goc_file_write(goc_file *f, const void *buf, size_t n);
/* Close (waking goroutines blocked on f, which get -ECANCELED) and free
 * f, unless it belongs to a command. 0, close(2)'s error, or -ECANCELED
 * if already closed (only a command's pipe may be closed twice: other
 * files are freed by their close). */
GOC_EXTERN int goc_file_close(goc_file *f);
/* The descriptor (-1 once closed). As Go's File.Fd, this hands the
 * descriptor out (to a child through goc_cmd_set_*_fd, to a plain
 * system call): the file is switched to blocking mode for good, so the
 * child does not inherit O_NONBLOCK; later reads and writes on f block a
 * thread (inside goc_syscall_begin/end), not just the goroutine, and
 * close no longer interrupts them. Do not call it while another goroutine
 * reads or writes f. */
GOC_EXTERN int goc_file_fd(goc_file *f);

/* io.Pipe. */
GOC_EXTERN int goc_mempipe(goc_mempipe_reader **r, goc_mempipe_writer **w);
/* Read: the count, 0 once the writer closed (EOF), the writer's error
 * after goc_mempipe_close_writer_with_error, -EPIPE after the reader
 * closed. Waits for a writer. Goroutine only. */
GOC_EXTERN ssize_t goc_mempipe_read(goc_mempipe_reader *r, void *buf, size_t n);
/* Write all n bytes, waiting until readers took them: n, or -EPIPE (or
 * the reader's error) once the reader has closed, -EPIPE after the
 * writer closed. Goroutine only. */
GOC_EXTERN ssize_t goc_mempipe_write(goc_mempipe_writer *w, const void *buf,
                                     size_t n);
/* Close one end (exactly once each). Reads then get EOF / writes -EPIPE. */
GOC_EXTERN int goc_mempipe_close_reader(goc_mempipe_reader *r);
GOC_EXTERN int goc_mempipe_close_writer(goc_mempipe_writer *w);
/* CloseWithError: the other end's calls get err (a negative code; a
 * positive one is negated; 0 is a plain close). */
GOC_EXTERN int goc_mempipe_close_writer_with_error(goc_mempipe_writer *w,
                                                   int err);
GOC_EXTERN int goc_mempipe_close_reader_with_error(goc_mempipe_reader *r,
                                                   int err);

/* ---- signals -------------------------------------------------------- */

/*
 * signal.Notify: deliver the signals sigs[0..n) to c, a channel of int
 * (goc_chan_make(sizeof(int), cap)); n == 0 means every catchable signal.
 * Calling it again for the same c adds signals (as Go). SIGKILL and
 * SIGSTOP cannot be caught and are ignored here; the synchronous faults
 * SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS are never routed to
 * channels (ignored too). -EINVAL for a NULL channel, a channel whose
 * element is not an int, or a number outside 1..64. Any thread while
 * goc_main runs. Do not close c before goc_signal_stop(c).
 */
GOC_EXTERN int goc_signal_notify(goc_chan *c, const int *sigs, size_t n);
/* signal.Stop: once it returns, nothing more is sent to c. A signal no
 * channel wants any more gets its previous disposition back. */
GOC_EXTERN void goc_signal_stop(goc_chan *c);

/* ---- processes ------------------------------------------------------ */

/* A process, as /proc/PID/stat tells it. state: 'R' running, 'S'
 * sleeping, 'D' uninterruptible sleep, 'T' stopped or traced, 'Z' zombie,
 * 'X' dead (the kernel's own letters; also 'I' idle kernel thread). */
typedef struct goc_process_info {
    pid_t pid;
    pid_t ppid;
    char state;
    char name[32]; /* the command name (comm), NUL-terminated */
} goc_process_info;

/* os.FindProcess(pid).Signal(sig): kill(pid, sig). pid must be > 0
 * (no process groups); sig 0 tests for existence. */
GOC_EXTERN int goc_process_signal(pid_t pid, int sig);
/*
 * The seed's `ps aux | grep PATTERN | grep -v grep | awk '{print $2}'`:
 * the processes whose command line (arguments joined by spaces, or
 * "[name]" for those without one, as ps shows them) contains pattern,
 * the caller excluded, in increasing pid order. Stores up to max pids and
 * returns how many matched (possibly more than max), or a negative code.
 */
GOC_EXTERN ssize_t goc_find_processes(const char *pattern, pid_t *pids,
                                      size_t max);
/* Fill *out from /proc/PID/stat. -ENOENT when there is no such process. */
GOC_EXTERN int goc_process_stat(pid_t pid, goc_process_info *out);

#ifdef __cplusplus
}
#endif
#endif
