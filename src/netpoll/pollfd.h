/*
 * pollfd.h - poll descriptors: Go's pollDesc (runtime/netpoll.go) and the
 * reference counting of its fdMutex (internal/poll/fd_mutex.go) in C.
 * Private to goc: src/net/ builds sockets on it, goc_wait_fd() (net.h)
 * is its public door for other descriptors.
 *
 * A goc__pollfd owns one non-blocking descriptor registered ONCE with the
 * runtime's poller (poller.h), edge-triggered for both directions. An operation
 * follows Go's shape:
 *
 *     if ((err = goc__pollfd_lock(pd, GOC__POLL_READ)) < 0) return err;
 *     if ((err = goc__pollfd_prepare(pd, GOC__POLL_READ)) < 0) goto out;
 *     for (;;) {
 *         n = read(goc__pollfd_fd(pd), buf, len);       // the syscall
 *         if (n >= 0 || errno != EAGAIN) break;
 *         if ((err = goc__pollfd_wait(pd, GOC__POLL_READ)) < 0) break;
 *     }
 *   out:
 *     goc__pollfd_unlock(pd, GOC__POLL_READ);
 *
 * so the syscall is always tried first and the goroutine parks only on
 * EAGAIN, until the poller sees an edge, the direction's deadline passes
 * (-ETIMEDOUT) or the descriptor is closed (-ECANCELED).
 *
 * Errors (negative errno codes):
 *   -ETIMEDOUT   the direction's deadline has passed (before or during the
 *                call; a past deadline fails even when data is ready).
 *   -ECANCELED   goc__pollfd_close() was called: distinct from end of file
 *                (a read of 0) and from a timeout. net.h documents it as
 *                "use of closed connection".
 *
 * Lifetime: goc__pollfd_close() marks the descriptor closed, wakes every
 * waiter (-ECANCELED), waits until the last operation in progress has
 * dropped its reference, removes the registration, close()s the fd, and
 * only then returns; so when it returns the fd number is free and nothing
 * of goc's still refers to it. Calls that come later fail with -ECANCELED
 * until the owner gives the struct back (goc__pollfd_free); it is then
 * recycled, never returned to malloc (pollfd.c explains why reuse is
 * safe).
 *
 * Thread safety: any number of goroutines may use one pollfd at once.
 * Operations of the same direction are serialized by goc__pollfd_lock
 * (one reader and one writer run in parallel, as in Go); deadlines may be
 * set at any time from any goroutine.
 */
#ifndef GOC_NETPOLL_POLLFD_H
#define GOC_NETPOLL_POLLFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "netpoll/poller.h"

/* Directions: GOC__POLL_READ and GOC__POLL_WRITE (poller.h), the values
 * of net.h's GOC_READ and GOC_WRITE. */

typedef struct goc__pollfd goc__pollfd;

/* Register fd (which the caller made non-blocking and close-on-exec) with
 * the poller and take ownership of it: on success goc__pollfd_close()
 * closes it. 0, -ENOMEM, or goc__poller_open's code (-EPERM for a
 * descriptor the poller refuses, such as a regular file); on failure fd stays
 * the caller's. Any goroutine. */
int goc__pollfd_open(int fd, goc__pollfd **out);

/* A descriptor the poller cannot watch (a regular file; one handed to a
 * child in blocking mode): references, direction locks, close and its
 * table entry as for any pollfd, but no registration, so the caller does
 * its I/O in blocking mode inside goc_syscall_begin/end and never calls
 * goc__pollfd_wait/prepare_drained/sleep on it (Go's FD with pollable
 * false). 0, -ENOMEM or -EBADF. Any goroutine. */
int goc__pollfd_open_unpolled(int fd, goc__pollfd **out);
/* Whether pd is registered with the poller (fixed at open). */
bool goc__pollfd_polled(const goc__pollfd *pd);

/* The descriptor. Valid while the caller holds a reference (an operation
 * in progress, goc__pollfd_incref) or owns pd. */
int goc__pollfd_fd(const goc__pollfd *pd);

/* References (Go's fdMutex incref/decref): an operation that uses the fd
 * without waiting (setsockopt, getsockname...) brackets it with these so
 * that close cannot close the fd under it. incref: 0 or -ECANCELED. */
int goc__pollfd_incref(goc__pollfd *pd);
void goc__pollfd_decref(goc__pollfd *pd);

/* Reference plus exclusive use of one direction (GOC__POLL_READ or
 * GOC__POLL_WRITE): concurrent readers (or writers) are served one at a
 * time in FIFO order. 0, or -ECANCELED once close has begun. May park. */
int goc__pollfd_lock(goc__pollfd *pd, int mode);
void goc__pollfd_unlock(goc__pollfd *pd, int mode);

/* Before the first syscall of an operation (direction locked): fails with
 * -ETIMEDOUT if the direction's deadline has passed, -ECANCELED if closing,
 * and forgets a stale readiness notice. 0 otherwise. */
int goc__pollfd_prepare(goc__pollfd *pd, int mode);

/* prepare() for a byte stream whose previous read in this direction
 * drained it (returned fewer bytes than asked): 1 when no edge has come
 * since that read's syscall, so nothing can be there and the caller may
 * park (goc__pollfd_wait) without trying the syscall; 0 when one has come
 * (try it), or when the descriptor ever reported a hang-up, an error or
 * urgent data (a short read may leave those behind); -ETIMEDOUT or
 * -ECANCELED as prepare. Sound because prepare forgets readiness before
 * each first syscall, and edge-triggered every arrival after a harvest
 * queues a new edge. */
int goc__pollfd_prepare_drained(goc__pollfd *pd, int mode);

/* After EAGAIN (direction locked): park until the poller reports an edge
 * in that direction (0: retry the syscall), the deadline passes
 * (-ETIMEDOUT) or close begins (-ECANCELED). Goroutine only. */
int goc__pollfd_wait(goc__pollfd *pd, int mode);

/* Park until `until` (goc_nanotime) has passed (0) or close begins
 * (-ECANCELED), whichever comes first; the caller holds a reference.
 * Accept's back-off on EMFILE uses it, so that closing the listener wakes
 * it at once. Goroutine only. */
int goc__pollfd_sleep(goc__pollfd *pd, int64_t until);

/* Go's SetReadDeadline/SetWriteDeadline: mode is GOC__POLL_READ, _WRITE or
 * both. t is an absolute goc_nanotime(); 0 clears the deadline; t <= now
 * expires it at once (waiters wake with -ETIMEDOUT); INT64_MAX never
 * expires. 0, or -ECANCELED once close has begun. Any goroutine. */
int goc__pollfd_set_deadline(goc__pollfd *pd, int mode, int64_t t);

/* Close (see Lifetime above). Returns close(2)'s result: 0 or a negative
 * code; -ECANCELED if close had already been called. May park (a plain
 * thread yields its CPU instead). Afterwards every call on pd fails with
 * -ECANCELED without touching the old fd number, until the owner gives pd
 * back with goc__pollfd_free. Any goroutine or thread. */
int goc__pollfd_close(goc__pollfd *pd);

/* Give a closed pd back for reuse. The owner guarantees that no call on
 * pd can start any more (src/net/ waits a grace period). Any thread. */
void goc__pollfd_free(goc__pollfd *pd);

/* read(2)/write(2) with the pattern above, for byte streams (pipes,
 * stream sockets). read: a partial count, 0 at end of file. write: all n
 * bytes (partial writes are continued) or a negative code. Goroutine
 * only. */
ssize_t goc__pollfd_read(goc__pollfd *pd, void *buf, size_t n);
ssize_t goc__pollfd_write(goc__pollfd *pd, const void *buf, size_t n);

/* Wait for a descriptor the caller owns, with no goc__pollfd of its own:
 * the implementation of goc_wait_fd() (see net.h for its contract). */
int goc__pollfd_wait_fd(int fd, int events, int64_t deadline);

/* ---- completion I/O (uring_io.c) ------------------------------------ */

/* Readiness reports for pd off, because its reads and writes complete on
 * the io thread's ring and an edge would only cost a completion; unless
 * goc__pollfd_loud was called. Direction lock held. Idempotent. */
void goc__pollfd_quiet(goc__pollfd *pd);
/* Readiness reports for pd on again until the next goc__pollfd_quiet:
 * a read that takes the readiness path (goc__uio_read_by_readiness),
 * before its first system call. Read lock held (only the reader turns
 * reports off and on again, so a reader parked on an edge never has
 * them turned off under it). false: they could not be turned on (pd is
 * closing, or the poller failed): use a request instead. */
bool goc__pollfd_unquiet(goc__pollfd *pd);
/* Readiness reports for pd on again, for good (a caller that waits for
 * edges: goc_wait_fd on the descriptor, a readiness-based operation).
 * Reference held. */
void goc__pollfd_loud(goc__pollfd *pd);
/* The io thread's waker: the request of the operation that holds mode's
 * lock has completed (its pending count is 0): wake it like an edge,
 * onto *wake, even while pd closes. A spurious edge at worst if that
 * operation has already returned (pd memory is never freed). The
 * goroutines pushed still count as poll waiters: the caller, which is
 * not an M, subtracts wake->n from them (goc__netpoll_waiters_add) only
 * after it has queued them, or checkdead could find every goroutine
 * asleep while they travel. */
void goc__pollfd_complete(goc__pollfd *pd, int mode, goc__glist *wake);
/* Park until *pending is 0 (each decrement to 0 followed by
 * goc__pollfd_complete), whatever deadlines and close say meanwhile: how
 * an operation whose request was cancelled waits for its completion.
 * Direction lock held. Goroutine only. */
void goc__pollfd_wait_pending(goc__pollfd *pd, int mode,
                              _Atomic uint32_t *pending);

/* ---- for tests ----------------------------------------------------- */

/* The poll descriptor registered for fd now, or NULL. */
goc__pollfd *goc__pollfd_lookup(int fd);
/* Whether the poller has left an unconsumed readiness notice for mode. */
bool goc__pollfd_ready_pending(goc__pollfd *pd, int mode);
/* Whether a goroutine is parked waiting for mode. */
bool goc__pollfd_parked(goc__pollfd *pd, int mode);
/* Registration number of pd (increases each time pd is reused). */
uint64_t goc__pollfd_seq(const goc__pollfd *pd);
/* Counters since process start. */
typedef struct goc__pollfd_stats {
    uint64_t allocated; /* goc__pollfd structs ever malloc'ed */
    uint64_t reused;    /* registrations that recycled a struct */
    uint64_t stale;     /* events that reached a closed descriptor */
    uint64_t barriers;  /* recycling barriers the poller passed */
} goc__pollfd_stats;
void goc__pollfd_get_stats(goc__pollfd_stats *st);
/* Nanoseconds the poller's callback sleeps before it looks at the
 * descriptor (0: none), as if its thread were preempted between reading
 * the events and dispatching them: widens the race the recycling barrier
 * closes, so that a test can see it closed. */
extern _Atomic int64_t goc__pollfd_test_dispatch_delay;

#endif
