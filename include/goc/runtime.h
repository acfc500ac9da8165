/*
 * goc/runtime.h - goroutines and the M:N scheduler.
 *
 * goc runs goroutines (lightweight threads with their own stacks) on
 * GOCMAXPROCS processors, each driven by an OS thread, in Go's G/P/M design.
 * See docs/design.md for the architecture.
 *
 * Conventions shared by every goc header:
 *  - Durations and times are int64_t nanoseconds; deadlines are absolute
 *    values of goc_nanotime(); 0 means "no deadline".
 *  - Errors are returned as negative errno codes (never through errno,
 *    which belongs to a thread while goroutines migrate between threads).
 *  - A function that may block (park the goroutine) may only be called from
 *    a goroutine, i.e. inside goc_main(). Calling it elsewhere is a fatal
 *    error with a clear message, never a hang.
 *  - Goroutines are cooperative: a goroutine runs until it blocks, yields,
 *    returns or calls goc_exit(). A goroutine that loops without doing any
 *    of these keeps its processor (other processors keep running).
 */
#ifndef GOC_RUNTIME_H
#define GOC_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc/extern.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GOC_NANOSECOND ((int64_t)1)
#define GOC_MICROSECOND ((int64_t)1000)
#define GOC_MILLISECOND ((int64_t)1000000)
#define GOC_SECOND ((int64_t)1000000000)

/* Default goroutine stack: 256 KiB of address space, mapped with
 * MAP_NORESERVE so that only the pages a goroutine touches cost memory
 * (one 4 KiB page for a goroutine that parks at shallow depth). Enough for
 * printf, getaddrinfo and ordinary C code. The lowest 4 KiB is a guard
 * page: on Linux 6.13+ every stack has one (madvise guard regions), and
 * running into it ends the process with "fatal error: stack overflow"
 * (exit 2). On older kernels only the first 12,288 live stacks have one;
 * past that an overflow is caught only if it is still under way at the
 * goroutine's next switch (docs/design.md, Stacks). A single frame larger
 * than the guard page can jump it unless the code is compiled with
 * -fstack-clash-protection. */
#define GOC_STACK_DEFAULT ((size_t)256 * 1024)
/* Smallest stack goc_go_stack() accepts (smaller requests are rounded up). */
#define GOC_STACK_MIN ((size_t)16 * 1024)

/*
 * Start the runtime and run fn(arg) as the main goroutine (id 1). The number
 * of processors is $GOCMAXPROCS if set (> 0), else the value last given to
 * goc_maxprocs() outside the runtime, else the CPUs this process may run on.
 * $GOC_POLLER picks the poller backend: auto (the default:
 * io_uring_completion where the kernel offers it, else epoll), epoll,
 * io_uring, or io_uring_completion (epoll's readiness, plus completion-
 * based reads and writes of stream sockets, pipes and files on io_uring
 * once many goroutines wait on I/O; docs/net.md); an unknown value, or an
 * io_uring mode asked for that the kernel does not offer, is a fatal
 * error.
 * When fn returns: every worker thread is stopped, goroutines still parked
 * are discarded (their stacks freed; nothing of theirs runs again), the
 * runtime is freed, and fn's value is returned. A goroutine running on
 * another processor at that moment is waited for until it reaches a
 * scheduling point. May be called again afterwards. Calling it from inside
 * a goroutine is a fatal error.
 */
GOC_EXTERN int goc_main(int (*fn)(void *arg), void *arg);

/* Start a goroutine running fn(arg). Returns 0, -ENOMEM when no stack could
 * be had (the runtime keeps working), or -EINVAL outside goc_main.
 * May be called from a goroutine or from any thread while goc_main runs. */
GOC_EXTERN int goc_go(void (*fn)(void *arg), void *arg);
/* Same with a stack of stack_size bytes (0: GOC_STACK_DEFAULT). */
GOC_EXTERN int goc_go_stack(void (*fn)(void *arg), void *arg,
                            size_t stack_size);

/* runtime.Gosched: let other goroutines run; this one stays runnable. */
GOC_EXTERN void goc_yield(void);
/* time.Sleep: park for at least ns nanoseconds (never early). ns <= 0
 * returns at once. Goroutine only. */
GOC_EXTERN void goc_sleep(int64_t ns);
/* Monotonic clock (CLOCK_MONOTONIC) in nanoseconds. Any thread. */
GOC_EXTERN int64_t goc_nanotime(void);
/* runtime.Goexit: end the calling goroutine now. Ending the main goroutine
 * this way ends goc_main with status 0. Goroutine only. */
GOC_EXTERN void goc_exit(void) __attribute__((noreturn));
/* runtime.GOMAXPROCS: n > 0 sets the number of processors and returns the
 * previous value; n <= 0 only returns it. Outside goc_main it sets the
 * value for the next goc_main (unless $GOCMAXPROCS is set). */
GOC_EXTERN int goc_maxprocs(int n);
/* The idle spin: for up to ns nanoseconds after the last processor runs
 * out of goroutines, the thread that would block in the poller polls
 * without blocking instead, so that a descriptor becoming ready wakes no
 * sleeping thread (a client and a server on one host: the server's
 * writes then pay no wake-up, and on a CPU they share the client never
 * preempts the server). Only while no processor runs goroutines; the
 * spin burns the CPU it runs on, yielding it on every turn to any task
 * waiting for it (sched_yield). 0 (the default) turns it
 * off; ns is capped at one second; ns < 0 only returns the value. Returns
 * the previous value. Any thread, inside or outside goc_main.
 * $GOCIDLESPIN (microseconds), if set, overrides it when goc_main starts. */
GOC_EXTERN int64_t goc_idle_spin(int64_t ns);
/* runtime.NumGoroutine: goroutines that exist now (0 outside goc_main). */
GOC_EXTERN int64_t goc_num_goroutine(void);
/* Id of the calling goroutine (main is 1), 0 outside any goroutine. */
GOC_EXTERN uint64_t goc_id(void);
/* Print "panic: <message>", the goroutine id and a backtrace to stderr,
 * then abort(). Any thread. */
GOC_EXTERN void goc_panic(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
/*
 * Bracket a call that may block the thread (a read of a regular file,
 * waitpid, getaddrinfo...). Between begin and end this goroutine holds no
 * processor once ~20 us have passed: the monitor thread hands it to
 * another thread so that other goroutines keep running. Nothing between
 * them may park the goroutine or call into the scheduler. Outside a
 * goroutine both are no-ops.
 */
GOC_EXTERN void goc_syscall_begin(void);
GOC_EXTERN void goc_syscall_end(void);
/* Name of a negative (or positive) errno code, e.g. "connection refused".
 * Never NULL; static storage. */
GOC_EXTERN const char *goc_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
