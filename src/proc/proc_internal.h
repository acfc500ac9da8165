/*
 * proc_internal.h - what the files of src/proc/ share: the goc_file
 * struct (file.c, used by cmd.c for a command's pipes) and the hooks
 * between commands and the signal forwarder. Private.
 *
 * Every descriptor of the module (pipes, FIFOs, files, pidfds) is a
 * goc__pollfd (src/netpoll/pollfd.h): one poll descriptor, one close
 * protocol and one closed error (-ECANCELED) for files and sockets alike.
 */
#ifndef GOC_PROC_INTERNAL_H
#define GOC_PROC_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "goc/chan.h"
#include "goc/proc.h"
#include "goc/sync.h"
#include "netpoll/pollfd.h"
#include "runtime/runtime_internal.h"

/* ---- files (file.c) ------------------------------------------------- */

struct goc_file {
    goc__pollfd *pd;          /* owns the descriptor (polled or not); valid
                                 until the file is freed */
    bool cmd_owned;           /* a command's pipe: close does not free */
    bool fifo_no_writer;      /* FIFO read end, no writer seen yet (read
                                 lock) */
    _Atomic bool blocking;    /* set once by goc_file_fd: blocking mode */
    bool uio_fits;            /* completion I/O can serve it: a polled
                                 descriptor, or a regular file in blocking
                                 mode (fixed at open) */
    _Atomic bool uio_refused; /* the kernel would not wait on it: the
                                 readiness path for good */
    bool write_only;          /* polled and opened O_WRONLY (a pipe's write
                                 end): readiness reports never go quiet, so
                                 its writes may park on edges (fixed at
                                 open) */
    goc_mutex pos_mu;    /* completion I/O on a regular file: one request at
                            a time, as read(2)/write(2) lock the position
                            (io_uring does not) */
    _Atomic bool closed; /* cmd_owned: the closer is done with f */
};

/* Wrap fd (owned from now on): non-blocking and on the poller when the
 * poller takes it, else blocking (unless keep_nonblock). On failure fd
 * stays the caller's. */
int goc__file_new(goc_file **out, int fd, bool cmd_owned, bool keep_nonblock);
/* Close if still open, wait for any close in progress, free (a
 * command's pipes). */
void goc__file_free(goc_file *f);

/* ---- commands and the SIGCHLD fallback ------------------------------ */

/* A child reaped through SIGCHLD (no pidfd): every SIGCHLD sends to the
 * channel (capacity 1, int elements) of each watch, without blocking; the
 * waiter then tries waitpid(WNOHANG) for its own pid only. */
typedef struct goc__chld_watch {
    goc_chan *ch;
    struct goc__chld_watch *next;
    struct goc__chld_watch *prev;
} goc__chld_watch;

/* Start / end watching SIGCHLD for w (signal.c). 0 or a negative code. */
int goc__sig_chld_watch(goc__chld_watch *w);
void goc__sig_chld_unwatch(goc__chld_watch *w);

/* Tests: behave as if the kernel had no pidfd_open (cmd.c). */
extern _Atomic bool goc__proc_no_pidfd;

#endif
