/*
 * poller.h - the poller backend contract: what the scheduler, poll
 * descriptors (pollfd.c), the proc module and the signal forwarder ask of
 * the kernel's readiness machinery, and nothing more. Private to goc.
 *
 * Two backends are linked in, each a goc__poller_ops table: poller_epoll.c
 * (Linux epoll) and poller_uring.c (io_uring, multishot poll requests).
 * poller.c picks one when goc_main starts (goc__poller_init), from
 * $GOC_POLLER: "epoll", "io_uring", "io_uring_completion" (epoll's
 * readiness, plus completion-based reads and writes of stream sockets,
 * pipes and files on an io_uring ring: uring_io.h),
 * or "auto" (the default; unset or empty is auto: io_uring_completion
 * where the kernel offers it, else epoll; poller.c says why).
 * A forced io_uring the kernel does not offer is a fatal error naming
 * GOC_POLLER and the reason, never a silent fallback. The functions below
 * forward to the chosen table; pollfd, net, proc and the scheduler do not
 * know which backend runs.
 *
 * The instance
 * ------------
 * goc__poller_init() creates the poller instance when goc_main starts, and
 * goc__poller_fini() destroys it when goc_main returns (one thread, while
 * no other thread of the runtime runs). Registrations do not outlive their
 * instance: after a new goc_main starts, goc__poller_arm() of a descriptor
 * registered under an earlier instance fails with -ENOENT, which is how
 * modules with process-wide descriptors (signal.c) notice a new runtime.
 * Every other function is called only while an instance exists.
 *
 * Registrations
 * -------------
 * A registrant owns a goc__pollable (its memory, which must stay valid, and
 * keep its `ready` function, for as long as an event read for it may still
 * be dispatched: pollfd.c's type-stable memory and goc__poller_barrier),
 * and the descriptor, which it closes itself after goc__poller_close().
 *
 *   open(fd, interest, p)  register fd, edge-triggered: after it, every
 *       transition of fd to a state in `interest` (or to hang-up or error,
 *       always reported) is reported at least once, by a later
 *       goc__poller_wait, as p->ready(p, events, wake). A report may be
 *       spurious or repeated (the registrant retries its system call and
 *       waits again: readiness is a hint), but an edge after open is
 *       never lost. Any thread. 0, or a negative code: -EEXIST (fd already
 *       registered), -EPERM (the backend cannot poll this kind of
 *       descriptor, e.g. a regular file: the caller falls back to
 *       blocking I/O in a system call section), -ENOMEM, ...
 *   arm(fd, interest, p)   change the interest of fd's registration (0:
 *       report nothing until armed again), and report fd's current
 *       readiness afresh. -ENOENT if fd has no registration in this
 *       instance (for epoll: this open file under this number). Any thread.
 *   close(fd)              remove fd's registration; the caller closes fd
 *       afterwards (a forked child sharing the open file must not keep
 *       it alive). Events read before it may still be dispatched to p
 *       until the next barrier (below). 0 or a negative code. Any thread.
 *   barrier(p)             arrange for p->ready(p, 0, wake) to be called
 *       once, on a polling thread, after every event that any poller had
 *       read before this call has been dispatched. What pollfd.c waits
 *       for before it reuses a closed descriptor's memory. At most one
 *       barrier is pending per p: a second call before it fired may be
 *       merged with the first. 0 or a negative code. Any thread.
 *
 * Polling
 * -------
 *   wait(delay, wake)  wait up to `delay` ns (<0: until an event or a
 *       wake; 0: not at all) and dispatch what is ready: for each event,
 *       p->ready(p, GOC__POLL_* bits, wake) on this thread, which pushes
 *       goroutines to make runnable onto `wake` and never readies them
 *       itself. A positive delay is never cut short except by an event
 *       or a wake: the wait ends at or after the delay (the backend
 *       rounds up a coarser clock). EINTR counts as an early return.
 *       The scheduler lets one thread wait at a time (goc__sc.polling)
 *       and a wait dispatches its whole batch before it returns; the
 *       backend may rely on both. Returns the events dispatched.
 *   wake()  make the current or next wait return soon. Any thread,
 *       including one that holds scheduler locks, so it never blocks;
 *       repeated calls before the wait returns coalesce into one. A wake
 *       that comes before a thread starts waiting ends that wait at once
 *       (the scheduler sets poll_until, then waits; a timer added in
 *       between wakes, and must not be missed).
 *
 * What a backend may assume: registrants pass only GOC__POLL_READ and
 * GOC__POLL_WRITE in an interest; ready() functions do not block and do
 * not call back into the backend except through barrier() and arm(); a
 * descriptor is opened once per open file before it is closed.
 */
#ifndef GOC_NETPOLL_POLLER_H
#define GOC_NETPOLL_POLLER_H

#include <stdint.h>

#include "runtime/runtime_internal.h"

/* Readiness bits (an interest uses READ and WRITE only). READ and WRITE
 * are also the directions of pollfd.h and the values of net.h's GOC_READ
 * and GOC_WRITE. */
enum {
    GOC__POLL_READ = 1,  /* readable (or a listener's connection) */
    GOC__POLL_WRITE = 2, /* writable */
    GOC__POLL_RDHUP = 4, /* the peer shut down its writing side */
    GOC__POLL_PRI = 8,   /* urgent data */
    GOC__POLL_HUP = 16,  /* hang-up: both sides done (always reported) */
    GOC__POLL_ERR = 32,  /* an error is pending (always reported) */
};

typedef struct goc__pollable goc__pollable;
struct goc__pollable {
    /* Called by the thread that polled (see wait above). */
    void (*ready)(goc__pollable *p, uint32_t events, goc__glist *wake);
};

/* A backend: the functions below, one by one (poller.c forwards). */
typedef struct goc__poller_ops {
    const char *name; /* "epoll", "io_uring" */
    /* 0 where the kernel offers this backend, else a negative code with a
     * short reason in *why (static text). Called before init. */
    int (*available)(const char **why);
    int (*init)(void);
    void (*fini)(void);
    int (*open)(int fd, uint32_t interest, goc__pollable *p);
    int (*arm)(int fd, uint32_t interest, goc__pollable *p);
    int (*close)(int fd);
    int (*barrier)(goc__pollable *p);
    int (*wait)(int64_t delay, goc__glist *wake);
    void (*wake)(void);
} goc__poller_ops;

extern const goc__poller_ops goc__poller_epoll;
extern const goc__poller_ops goc__poller_uring;

/* Chooses the backend ($GOC_POLLER; fatal if a forced one is unavailable
 * or the value unknown) and creates its instance. */
int goc__poller_init(void);
void goc__poller_fini(void);
/* Stops the instance's threads that ready goroutines (the io thread of
 * completion I/O, uring_io.h): called once every M has been joined,
 * before the scheduler's memory goes. */
void goc__poller_stop(void);
/* The name of the backend of the current (or last) instance. */
const char *goc__poller_name(void);

/* Tests: the io_uring ring's completion-queue size for the next instance
 * (0: the default; the submission queue gets half), and how often a wait
 * found completions that overflowed into the kernel. */
extern _Atomic uint32_t goc__poller_uring_test_cq_entries;
extern _Atomic uint64_t goc__poller_uring_overflows;

int goc__poller_open(int fd, uint32_t interest, goc__pollable *p);
int goc__poller_arm(int fd, uint32_t interest, goc__pollable *p);
int goc__poller_close(int fd);
int goc__poller_barrier(goc__pollable *p);

int goc__poller_wait(int64_t delay, goc__glist *wake);
void goc__poller_wake(void);
/* Submit what goroutines queued for completion I/O and left unsubmitted
 * (uring_io.h: goc__uio_flush); nothing without it. The scheduler calls
 * it when a processor runs out of goroutines and on its fairness tick.
 * With a ring per M, the calling M's ring is driven: the goroutines its
 * completions woke go on *ready (no longer counted as poll waiters);
 * returns how many. Any thread. */
int goc__poller_flush(goc__glist *ready);
/* The M owning completion-I/O ring io_ring lets go of its processor
 * (away) or holds one again (uring_io.h: goc__uio_m_away). */
void goc__poller_m_away(void *io_ring, bool away);

/* The GOC__POLL_* bits of a poll(2) event mask (epoll's EPOLL* bits have
 * the same values): one translation for both backends. */
uint32_t goc__poller_events(uint32_t poll_events);

#endif
