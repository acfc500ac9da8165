/*
 * uring_ring.h - one mapped io_uring instance, with raw system calls (no
 * liburing): what the readiness backend (poller_uring.c) and completion
 * I/O (uring_io.c) share. Private to goc.
 *
 * goc__uring_init creates the ring (the io_uring descriptor is always
 * close-on-exec) and maps its submission queue (SQ), completion queue
 * (CQ) and entries (SQEs), MADV_DONTFORK so that a forked child never
 * gets them (it execs, or runs a runtime of its own). Entry i of the SQ
 * array is slot i for good: an SQE is written in slot (sq_tail & sq_mask)
 * and published by moving the tail.
 *
 * Who may touch what:
 *   sq_tail, the SQEs and *sq_ktail belong to the ring's submitter: one
 *       thread at a time, which the user of the ring arranges
 *       (poller_uring.c: sq_lock; uring_io.c: the io thread alone). The
 *       kernel reads an SQE only after it has seen the tail move past it
 *       (the release store in goc__uring_sqe_push).
 *   *sq_khead is the kernel's (it consumes SQEs): read with acquire, so
 *       that a slot it has passed may be written again.
 *   *cq_ktail is the kernel's (it posts CQEs): read with acquire before
 *       the CQEs below it are read.
 *   *cq_khead belongs to the reaper, one thread at a time (the polling
 *       thread; the io thread): stored with release once the CQEs below
 *       it have been read, for the kernel then reuses their slots.
 *   *sq_kflags is the kernel's (IORING_SQ_CQ_OVERFLOW and the like).
 */
#ifndef GOC_NETPOLL_URING_RING_H
#define GOC_NETPOLL_URING_RING_H

#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct goc__uring {
    int fd;            /* the ring's descriptor, -1: none */
    uint32_t features; /* io_uring_params.features of the kernel */
    /* Submission queue (the submitter's; see above). */
    struct io_uring_sqe *sqes;
    _Atomic uint32_t *sq_khead, *sq_ktail, *sq_kflags;
    uint32_t sq_mask, sq_entries;
    uint32_t sq_tail; /* SQEs written; *sq_ktail once pushed */
    /* Completion queue (the reaper's). */
    struct io_uring_cqe *cqes;
    _Atomic uint32_t *cq_khead, *cq_ktail;
    _Atomic uint32_t *cq_kflags; /* IORING_CQ_EVENTFD_DISABLED: the user's */
    uint32_t cq_mask, cq_entries;
    /* The mappings. */
    void *sq_map, *cq_map; /* the same with IORING_FEAT_SINGLE_MMAP */
    size_t sq_map_len, cq_map_len, sqes_len;
} goc__uring;

/* io_uring_setup(2): a descriptor or a negative code (availability
 * probes; goc__uring_init for a ring to use). */
int goc__uring_sys_setup(unsigned entries, struct io_uring_params *par);
/* io_uring_register(2): >= 0 or a negative code. */
int goc__uring_sys_register(int fd, unsigned op, void *arg, unsigned nargs);

/* Create a ring of `entries` SQEs with par's flags (and cq_entries, with
 * IORING_SETUP_CQSIZE) and map it into *r; par gets the kernel's answer.
 * 0, or a negative code with nothing left open or mapped. */
int goc__uring_init(goc__uring *r, unsigned entries,
                    struct io_uring_params *par);
/* Close the ring (the kernel ends every request of it) and unmap it;
 * *r is then empty (fd -1). Idempotent. */
void goc__uring_fini(goc__uring *r);

/* io_uring_enter(2) on r: >= 0 or a negative code. */
int goc__uring_enter(const goc__uring *r, unsigned to_submit,
                     unsigned min_complete, unsigned flags, const void *arg,
                     size_t argsz);

/* 0 when the ring `fd` supports each of ops[0..n) (IORING_REGISTER_PROBE),
 * -EOPNOTSUPP when one is missing, another negative code when the probe
 * itself failed (*probe_failed is then set). */
int goc__uring_probe(int fd, const int *ops, size_t n, bool *probe_failed);

/* SQEs written and not yet consumed by the kernel (submitter). */
static inline uint32_t goc__uring_sq_pending(const goc__uring *r)
{
    return r->sq_tail - atomic_load_explicit(r->sq_khead, memory_order_acquire);
}

/* The next free SQE, zeroed, or NULL when the queue is full (submitter).
 * Publish it with goc__uring_sqe_push once written. */
static inline struct io_uring_sqe *goc__uring_sqe_get(goc__uring *r)
{
    if (goc__uring_sq_pending(r) >= r->sq_entries)
        return NULL;
    struct io_uring_sqe *e = &r->sqes[r->sq_tail & r->sq_mask];
    memset(e, 0, sizeof *e);
    return e;
}

/* Publish the SQE goc__uring_sqe_get returned (submitter): release, so
 * that the kernel sees the entry written once it sees the tail. */
static inline void goc__uring_sqe_push(goc__uring *r)
{
    atomic_store_explicit(r->sq_ktail, ++r->sq_tail, memory_order_release);
}

/* CQEs posted and not yet reaped (reaper). */
static inline uint32_t goc__uring_cq_ready(const goc__uring *r)
{
    return atomic_load_explicit(r->cq_ktail, memory_order_acquire) -
           atomic_load_explicit(r->cq_khead, memory_order_relaxed);
}

#endif
