/*
 * uring_io.h - completion-based socket and file I/O on io_uring
 * (uring_io.c): a goroutine's recv, send, read or write is one request on
 * its M's ring (or an io thread's), and the goroutine parks until that
 * request's completion. On with GOC_POLLER=io_uring_completion or auto
 * where the kernel has it (poller.c); docs/net.md has the design and the
 * figures. Private to goc.
 *
 * Words: "the io thread" below, and in the files of completion I/O, is
 * whoever drives the request's ring (holds its drive_lock, or owns it):
 * with a ring per M, the default, its M or a thread driving it for that
 * M (uring_per_m.c); with GOC_URING_RINGS=K, the ring's io thread.
 */
#ifndef GOC_NETPOLL_URING_IO_H
#define GOC_NETPOLL_URING_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "netpoll/pollfd.h"

/* Whether completion I/O is on in this goc_main (fixed while it runs). */
bool goc__uio_on(void);

/* 0 where the kernel offers what completion I/O needs (a single-issuer
 * ring with deferred task work: Linux 6.1; recv, send, read, write, async
 * cancel and poll add), else a negative code with a short reason in *why. */
int goc__uio_available(const char **why);

/* Start / stop the rings (poller.c, with the poller's instance; on:
 * whether $GOC_POLLER asked for it): a ring per M, or $GOC_URING_RINGS
 * rings with an io thread each (for A/B runs; uring_io.c's
 * rings_wanted). 0 or a negative code. */
int goc__uio_init(bool on);
void goc__uio_fini(void);

/*
 * One recv (send: is_send) of up to n bytes on pd's descriptor, as one
 * io_uring request; the caller holds pd's lock for mode (GOC__POLL_READ
 * for a recv, _WRITE for a send) and has called goc__pollfd_prepare.
 * Parks until the request completes. When the direction's deadline
 * passes or pd is closed first, the request is cancelled
 * (IORING_OP_ASYNC_CANCEL) and the call still waits for its completion,
 * so the kernel never touches buf after the return: then -ETIMEDOUT or
 * -ECANCELED, unless the request had completed all the same, whose
 * result is returned (data read are never lost). Otherwise the byte
 * count (a send may be partial) or a negative code. Goroutine only.
 */
ssize_t goc__uio_xfer(goc__pollfd *pd, bool is_send, void *buf, size_t n,
                      int msg_flags);

/*
 * Whether a socket's read that is about to start should take the
 * readiness path (try recv, park on an edge: pollfd.h's pattern, with
 * goc__pollfd_unquiet first) instead of a request. A request pays a
 * hand-off to the io thread and back; it pays for itself only when many
 * share the io thread's round trip. So: readiness while fewer than
 * GOC__UIO_BATCH_MIN goroutines wait on I/O or are runnable
 * (goc__netpoll_load: runnable ones count, or the waiters of a batch
 * just woken would dip below it), requests from there on; one choice for
 * all connections, which stays on requests down to 3/4 of the threshold,
 * so that a load near it does not switch readiness reports off and on (a
 * system call each) read after read. Measured (docs/net.md, "One connection and
 * few"): TCP echo at 16 connections and fewer is faster on readiness,
 * at 32 and more on requests, at 1 and 2 processors. With a ring per M
 * and one processor the threshold is GOC__UIO_BATCH_MIN_1P: no other M
 * goes idle between messages and has to be woken for a completion, and
 * requests measured faster from 4 connections (1.18x epoll at 4, 1.28x
 * at 16; docs/net.md, "Which backend auto picks"). With a ring per M
 * and the default threshold, requests must also pay for the wake-ups of
 * Ms that go idle with requests in their rings (goc__uio_reads_pay;
 * uring_per_m.c, "Whether reads on the ring pay"): idle connections
 * count as waiters, and light traffic beside them read better by
 * readiness. Each call counts as a read for that measure. Any goroutine.
 */
#define GOC__UIO_BATCH_MIN 64
#define GOC__UIO_BATCH_MIN_1P 8
bool goc__uio_read_by_readiness(void);

/*
 * goc__uio_xfer for a goc_file (src/proc/file.c): one IORING_OP_READ
 * (IORING_OP_WRITE: is_write) at offset -1, i.e. the file position (a
 * regular file's advances as read(2)'s would) or none (a pipe, a FIFO, a
 * device). pd is polled (a non-blocking pipe...; the call is then
 * tried with read(2) / write(2) first while the io thread sleeps, and
 * only one that would wait is a request) or unpolled (a regular file
 * in blocking mode: the kernel reads it on its own workers, no thread of
 * the runtime waits). Cancelled on close as goc__uio_xfer. -EAGAIN: the
 * kernel refused to wait for this descriptor (it honours O_NONBLOCK
 * where the file cannot retry): use readiness for it from now on.
 */
ssize_t goc__uio_file_xfer(goc__pollfd *pd, bool is_write, void *buf, size_t n);

/*
 * Multishot accept: a listener's connections come from one
 * IORING_OP_ACCEPT request with IORING_ACCEPT_MULTISHOT, which posts a
 * completion per accepted connection (SOCK_NONBLOCK | SOCK_CLOEXEC, as
 * accept4 makes them) until it ends; the io thread queues them on the
 * acceptor, and goc_accept takes them one at a time. The request is
 * armed by the first accept that finds the queue empty, and cancelled
 * once GOC__UIO_ACCEPT_AHEAD connections wait unclaimed (re-armed when
 * they are taken), so a listener nobody accepts on takes no more than
 * that out of the kernel's backlog.
 */
typedef struct goc__uio_acceptor goc__uio_acceptor;
#define GOC__UIO_ACCEPT_AHEAD 64

/* An acceptor for the listening socket of pd (completion I/O on), or
 * NULL (out of memory: the listener then accepts with accept4). */
goc__uio_acceptor *goc__uio_acceptor_new(goc__pollfd *pd);
/* The next connection: 0 with its descriptor in *fd; an error the
 * request ended with, as accept4 reports it (-EMFILE, -ECONNABORTED...;
 * the next call arms a new request); -ETIMEDOUT or -ECANCELED as
 * goc__pollfd_wait (the read deadline, the listener closed); or 1: the
 * kernel refused a multishot accept, use accept4 and readiness from now
 * on (readiness reports are on again). The caller holds pd's read lock
 * and has called goc__pollfd_prepare. Goroutine only. */
int goc__uio_accept(goc__uio_acceptor *a, int *fd);
/* Before goc__pollfd_close of the listener: no more accepts (a parked
 * acceptor gets -ECANCELED), the request is cancelled and this waits
 * for its end, so the kernel holds no reference to the listening socket
 * once the descriptor is closed; connections accepted and not claimed
 * are closed. Once. Goroutine only. */
void goc__uio_acceptor_close(goc__uio_acceptor *a);
/* Free a closed acceptor (the listener's grace period is over). */
void goc__uio_acceptor_free(goc__uio_acceptor *a);

/*
 * Multishot recv: a connection's reads on the ring (GOC__UIO_BATCH_MIN
 * and more waiters) take their data from one IORING_OP_RECV with
 * IORING_RECV_MULTISHOT and IOSQE_BUFFER_SELECT, which the kernel
 * completes into a buffer of the io thread's pool (a buffer ring,
 * IORING_REGISTER_PBUF_RING) each time data arrive, until it ends; the
 * io thread queues those buffers on the receiver, and a read copies from
 * the queue (a buffer goes back to the pool once read). So a message
 * costs the io thread one completion: no request, no recv tried in vain
 * at submission, no poll armed. The request is armed by the first read
 * that finds the queue empty; it is cancelled once RCV_AHEAD buffers
 * (uring_io.c) wait unread, and re-armed when the reader has emptied the
 * queue, so a slow reader leaves the rest in the socket's buffer and
 * does not take the pool from the others. End of file and errors are
 * queued after the data. Off (single-shot recvs) where the kernel lacks
 * provided buffer rings or refuses a multishot recv, and with
 * $GOC_URING_MSRECV=0 (A/B runs).
 */
typedef struct goc__uio_rcv goc__uio_rcv;
/* A receiver for the stream socket of pd, or NULL (multishot recv off,
 * or out of memory: single-shot recvs). */
goc__uio_rcv *goc__uio_rcv_new(goc__pollfd *pd);
/* A read of up to n bytes from the queue, arming the request if needed
 * and parking until data, the end, the deadline or close: true with the
 * result in *out (a count, 0 at end of file, an error; -ETIMEDOUT or
 * -ECANCELED as goc__pollfd_wait: what is queued stays for the next
 * read), or false: make this read a single-shot request (the pool was
 * empty, or multishot recv is off in this goc_main). The caller holds
 * pd's read lock and has called goc__pollfd_prepare. Goroutine only. */
bool goc__uio_recv(goc__uio_rcv *v, void *buf, size_t n, ssize_t *out);
/* Whether v holds data or an end, or its request is armed: then a read
 * that goes by readiness calls goc__uio_rcv_stop first (read lock
 * held: only the reader arms the request). */
bool goc__uio_rcv_busy(goc__uio_rcv *v);
/* For a read that goes by readiness (goc__uio_read_by_readiness): the
 * request, if armed, is cancelled; what the queue holds comes first
 * (true, *out as goc__uio_recv, and a later read finds v busy until the
 * request has ended); else the request is waited for (what it queued
 * meanwhile comes first too), and false: the socket has the rest and
 * nothing takes it from under the readiness path. The caller holds pd's
 * read lock and has called goc__pollfd_prepare. Goroutine only. */
bool goc__uio_rcv_stop(goc__uio_rcv *v, void *buf, size_t n, ssize_t *out);
/* Before goc__pollfd_close of the connection: reads fail with
 * -ECANCELED from now on, the request is cancelled (without waiting:
 * the kernel drops its reference to the socket then), and the buffers
 * queued go back to the pool. Once. Any goroutine. */
void goc__uio_rcv_close(goc__uio_rcv *v);
/* Free a closed receiver (the connection's grace period is over); a
 * request not yet over then frees it at its end, on the io thread. */
void goc__uio_rcv_free(goc__uio_rcv *v);

/* The scheduler calls it (goc__poller_flush) when a processor's queues
 * are empty and on its fairness tick. A ring per M: drive the calling
 * M's ring (submit what its goroutines pushed, reap) and put the
 * goroutines its completions woke on *ready (no longer counted as poll
 * waiters); returns how many. io threads: wake each that a push left
 * asleep with requests to submit (only where the process has one CPU),
 * and only those; returns 0. Cheap when there is nothing to do. Any
 * thread. */
int goc__uio_flush(goc__glist *ready);

/* A ring per M: the M owning ring (its goc__m_head.io_ring) lets go of
 * its processor (away: the ring's pending requests are submitted, and
 * from now on its completions signal the poller, which reaps them) or
 * holds one again (it reaps its ring at the end of each scheduler
 * round: goc__uio_flush). On the M's own thread. */
void goc__uio_m_away(void *ring, bool away);

/*
 * A ring per M: its M reaps it at the end of each scheduler round; one
 * that runs a goroutine which does not yield reaps nothing meanwhile (no
 * preemption), and its ring's completions would wait for it. So the
 * poller (goc__poller_wait) takes them: the rings of Ms that hold a
 * processor, have requests in the kernel and have not been reaped for
 * GOC__UIO_STALE_NS are driven from the polling thread, and what they
 * woke goes on *out (no longer counted as poll waiters; returned: how
 * many). While any such ring may yet get completions, *recheck is set
 * to GOC__UIO_STALE_NS: the poll should not sleep longer. Any thread.
 */
#define GOC__UIO_STALE_NS 2000000
int goc__uio_steal(goc__glist *out, int64_t *recheck);

/* Move the goroutines that completions have woken onto *out (poller.c's
 * goc__poller_wait, on the thread that polls). Returns how many. */
int goc__uio_take(goc__glist *out);

/* ---- for tests ----------------------------------------------------- */

/* The submission queue size of the next ring (0: the default). */
extern _Atomic uint32_t goc__uio_test_sq_entries;
/* The request slots of the next ring (a power of 2; 0: the default,
 * uring_io.c's QSLOTS). */
extern _Atomic uint32_t goc__uio_test_qslots;
/* Counters since process start. */
typedef struct goc__uio_stats {
    uint64_t submitted;   /* recv/send/read/write requests written */
    uint64_t cancels;     /* cancel requests written */
    uint64_t sq_full;     /* times a ring's driver found the queue full */
    uint64_t enters;      /* io_uring_enter calls of the rings' drivers */
    uint64_t wakes;       /* eventfd writes that woke an io thread */
    uint64_t accept_arms; /* multishot accept requests written */
    uint64_t accepted;    /* connections they accepted */
    uint64_t recv_arms;   /* multishot recv requests written */
    uint64_t recv_cqes;   /* their completions with a buffer */
    uint64_t recvs;       /* single-shot recv requests written */
    uint64_t recv_stops;  /* cancelled: RCV_AHEAD buffers unread */
    uint64_t recv_nobufs; /* ended: the pool was empty */
    uint64_t slot_waits;  /* pushes that found their slot not yet taken */
} goc__uio_stats;
void goc__uio_get_stats(goc__uio_stats *st);
/* Arm multishot accepts and recvs with a flag the kernel refuses
 * (-EINVAL), as a kernel without IORING_ACCEPT_MULTISHOT or
 * IORING_RECV_MULTISHOT would: the fallback. */
extern _Atomic bool goc__uio_test_refuse_multishot;
/* Arm multishot recvs that carry a byte limit with a flag the kernel
 * refuses, as a kernel before IORING_RECV_MSHOT_LIM (6.16) refuses the
 * limit: the arms without it must go on. */
extern _Atomic bool goc__uio_test_refuse_rcv_lim;
/* Whether multishot recvs are armed with their byte limit now (a ring
 * per M, until a kernel refuses it). */
bool goc__uio_rcv_lim_on(void);
/* Answer a pipe's request that would wait with -EAGAIN, as a kernel that
 * honours O_NONBLOCK would: the fallback to readiness. */
extern _Atomic bool goc__uio_test_refuse_files;
/* goc__uio_read_by_readiness's threshold: 0 sends every socket read to
 * the ring, INT_MAX none; -1 (the default) $GOC_URING_BATCH_MIN where
 * this goc_main's start found it set, else GOC__UIO_BATCH_MIN, or
 * GOC__UIO_BATCH_MIN_1P with a ring per M and one processor. */
extern _Atomic int goc__uio_batch_min;
/* The threshold goc__uio_read_by_readiness uses now (before its
 * hysteresis). */
int goc__uio_batch_min_now(void);
/* Whether reads on the ring pay now for the wake-ups of Ms that go idle
 * with requests in their rings (uring_per_m.c; always with io threads or
 * a threshold set by hand), as goc__uio_read_by_readiness takes it. */
bool goc__uio_reads_pay(void);
/* 1: reads on the ring pay whatever the measure says; -1: they do not;
 * 0 (the default): measured. */
extern _Atomic int goc__uio_test_pays;
/* Defer the io thread's wakes to goc__uio_flush as on one CPU (read at
 * goc_main's start). */
extern _Atomic bool goc__uio_test_defer_wakes;
/* No multishot recv in the next goc_main (as a kernel without provided
 * buffer rings: single-shot recvs). goc__uio_test_refuse_multishot
 * makes its requests fail with -EINVAL instead (the fallback at run
 * time). */
extern _Atomic bool goc__uio_test_no_msrecv;
/* Requests submitted and not yet completed (multishot recvs not
 * counted). */
int64_t goc__uio_inflight(void);
/* Multishot recvs armed and not yet ended (their last completion). */
int64_t goc__uio_msrecv_armed(void);
/* Whether multishot recv is on in this goc_main. */
bool goc__uio_msrecv_on(void);
/* Provided buffers the kernel has filled and not yet been given back
 * (queued on receivers, or being read). */
int64_t goc__uio_pbuf_held(void);
/* The number of rings of the next goc_main (0: $GOC_URING_RINGS, else
 * 1; uring_io.c's rings_wanted). */
extern _Atomic int goc__uio_test_rings;
/* The rings of this goc_main (0 outside one), and ring i's requests
 * written since it started. */
unsigned goc__uio_rings(void);
/* No goc__uio_steal: only an M's own rounds and, while it is away, the
 * poller's (away_fd) reap its ring. */
extern _Atomic bool goc__uio_test_no_steal;
/* A ring per M: no ring but ring 0 can be made (-EMFILE), as where no
 * descriptor is left when an M first needs one. */
extern _Atomic bool goc__uio_test_fail_ring_make;
/* goc__uio_init fails (-EMFILE) when it would start completion I/O: as
 * where no descriptor is left for a ring. */
extern _Atomic bool goc__uio_test_fail_init;
/* A ring per M: how many Ms have claimed a ring in this goc_main (those
 * past goc__uio_rings() share one). */
unsigned goc__uio_rings_claimed(void);
/* A ring per M: how many of the goc__uio_rings() are made (ring 0 at
 * start, each other when an M first claims it). */
unsigned goc__uio_rings_made(void);
uint64_t goc__uio_ring_submitted(unsigned i);

#endif
