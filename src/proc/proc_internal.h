/*
 * proc_internal.h - what the files of src/proc/ share: a small poll
 * descriptor for the module's own descriptors (pipes, FIFOs, pidfds) and
 * the hooks between commands and the signal forwarder. Private.
 *
 * goc__pfd: Go's pollDesc, reduced to what pipes need
 * --------------------------------------------------
 * A descriptor is registered once, edge-triggered for both directions.
 * Each direction has a slot (rg, wg), an atomic word that is
 *   PFD_IDLE   nothing known,
 *   PFD_READY  an edge arrived that nobody consumed yet,
 *   a goc_g *  the one goroutine parked waiting for that direction.
 * Transitions:
 *   IDLE  -> READY  poller edge or evict (pfd_unblock)
 *   G     -> READY  same; the poller pushes G to its wake list (evict
 *                   readies it directly)
 *   READY -> IDLE   the waiter consumes the edge (goc__pfd_wait)
 *   IDLE  -> G      the waiter's park commit, on g0 after the switch (so
 *                   no waker can see G before it is off its stack); if the
 *                   slot is READY by then the CAS fails and the park is
 *                   abandoned: an edge is never lost.
 * A woken waiter retries its system call: an edge only means "try again".
 * The owner serialises waiters so that at most one parks per direction.
 *
 * Lifetime: pfds come from a pool and are never given back to malloc, so
 * an event that the poller read just before the descriptor was removed
 * from epoll lands on a valid pfd (type-stable memory, as Go's pollcache);
 * at worst it wakes a later user of the same pfd spuriously, which then
 * retries its call and waits again.
 */
#ifndef GOC_PROC_INTERNAL_H
#define GOC_PROC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "goc/proc.h"
#include "goc/sync.h"
#include "runtime/runtime_internal.h"

enum { PFD_IDLE = 0, PFD_READY = 1 };
enum { PFD_READ = 'r', PFD_WRITE = 'w' };

/* The slot protocol on its own (also used for "descriptor closed"):
 * take the waiter out and leave READY (returns the G to wake, or NULL);
 * and wait until READY, consuming it (counted as a poller waiter when
 * poll is true). Plain threads wait by yielding the CPU. */
goc_g *goc__slot_unblock(_Atomic uintptr_t *slot);
void goc__slot_wait(_Atomic uintptr_t *slot, bool poll, const char *reason);

typedef struct goc__pfd {
    goc__pollable pollable;     /* data.ptr of the epoll registration */
    int fd;                     /* the descriptor (owner's; not closed here) */
    _Atomic uintptr_t rg;       /* read slot: PFD_IDLE, PFD_READY or a G */
    _Atomic uintptr_t wg;       /* write slot */
    _Atomic bool closing;       /* set by evict: waits fail with -EBADF */
    bool registered;            /* in the runtime's epoll set (owner) */
    struct goc__pfd *next_free; /* pool link (pool lock) */
} goc__pfd;

/* A pfd for fd from the pool (slots idle, not registered); NULL: ENOMEM. */
goc__pfd *goc__pfd_alloc(int fd);
/* Register with the poller (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET). 0, or a
 * negative code (-EPERM: the descriptor cannot be polled, e.g. a regular
 * file). */
int goc__pfd_register(goc__pfd *pd);
/* Park until the direction (PFD_READ/PFD_WRITE) got an edge: 0, or -EBADF
 * once the pfd is being closed. Goroutine only. */
int goc__pfd_wait(goc__pfd *pd, int mode);
/* Mark closing and wake both directions' waiters (which get -EBADF).
 * Any goroutine or thread (not the poller). */
void goc__pfd_evict(goc__pfd *pd);
/* Wake the waiter of one direction from the poller: its G, if any, is
 * pushed to wake. */
void goc__pfd_unblock_poller(goc__pfd *pd, int mode, goc__glist *wake);
/* Remove from epoll (if registered) and return to the pool. The caller
 * closes the descriptor afterwards and guarantees nobody waits. */
void goc__pfd_free(goc__pfd *pd);

/* ---- files (file.c) ------------------------------------------------- */

/* Life of a goc_file (phase, atomic):
 *   F_OPEN    -> F_CLOSING  the first goc_file_close (CAS; others: -EBADF)
 *   F_CLOSING -> F_CLOSED   that close, as its last access to the file
 * refs counts the open state (1 until the first close) plus the calls in
 * progress; it never rises from 0. Whoever drops it to 0 removes the pfd
 * from epoll, closes the descriptor and marks `done` READY, its last
 * access: so no call ever uses a closed (maybe reused) descriptor, and the
 * closer, which waits for `done`, frees the file after everybody left. */
enum { F_OPEN, F_CLOSING, F_CLOSED };

struct goc_file {
    _Atomic int fd;         /* the descriptor; -1 once closed */
    goc__pfd *pd;           /* NULL: not pollable, blocking I/O in syscalls;
                               valid while refs > 0 */
    bool cmd_owned;         /* a command's pipe: close does not free */
    bool fifo_no_writer;    /* FIFO read end, no writer seen yet (rmu) */
    _Atomic bool blocking;  /* set once by goc_file_fd: blocking mode */
    goc_mutex rmu;          /* serialises reads */
    goc_mutex wmu;          /* serialises writes */
    _Atomic int32_t refs;   /* open state + calls in progress */
    _Atomic int phase;      /* F_* */
    _Atomic uintptr_t done; /* slot: READY once the descriptor is closed */
};

/* Wrap fd (owned from now on): non-blocking and on the poller when epoll
 * takes it, else blocking (unless keep_nonblock). */
int goc__file_new(goc_file **out, int fd, bool cmd_owned, bool keep_nonblock);
/* Close if still open, wait for any close in progress, free (a
 * command's pipes). */
void goc__file_free(goc_file *f);

/* ---- commands and the SIGCHLD fallback ------------------------------ */

/* A child reaped through SIGCHLD (no pidfd): every SIGCHLD unblocks the
 * read slot of each watched pfd; the waiter then tries waitpid(WNOHANG)
 * for its own pid only. */
typedef struct goc__chld_watch {
    goc__pfd *pd;
    struct goc__chld_watch *next;
    struct goc__chld_watch *prev;
} goc__chld_watch;

/* Start / end watching SIGCHLD for w (signal.c). 0 or a negative code. */
int goc__sig_chld_watch(goc__chld_watch *w);
void goc__sig_chld_unwatch(goc__chld_watch *w);

/* Tests: behave as if the kernel had no pidfd_open (cmd.c). */
extern _Atomic bool goc__proc_no_pidfd;

#endif
