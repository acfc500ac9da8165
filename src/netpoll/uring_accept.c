/*
 * uring_accept.c - a listener's multishot accept under completion I/O
 * (uring_io.h: goc__uio_acceptor; uring_io.c's top comment has the
 * rings and requests this builds on). One IORING_OP_ACCEPT with
 * IORING_ACCEPT_MULTISHOT a listener, armed by the first accept that
 * finds the queue empty: the io thread queues each connection it
 * completes with (acc_cqe), goroutines take them (goc__uio_accept), and
 * GOC__UIO_ACCEPT_AHEAD unclaimed connections cancel the request until
 * the queue is read. Close cancels it and waits for its end. "The io
 * thread" is whoever drives the ring (uring_io.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netpoll/uring_io_internal.h"

/* A listener's multishot accept (uring_io.h). The goroutines' side and
 * the io thread's meet under mu; `pending` counts the parts with the io
 * thread (the request, from its arm until its last CQE; close's cancel,
 * until written), raised by goroutines and dropped by the io thread,
 * both under mu, read without it by close's wait. The acceptor is freed
 * only after close has seen pending at 0, so the io thread never touches
 * it after the drop that reaches 0 (it reads pd before). */
struct goc__uio_acceptor {
    req arm; /* the multishot request, pushed when pending goes 0 -> 1 */
    req can; /* close's cancel, pushed at most once */
    goc__pollfd *pd;
    int fd;
    pthread_mutex_t mu;
    int *q;            /* mu: accepted fds (>= 0) and errors, oldest first */
    unsigned qh, qn;   /* mu: the oldest's index, the count */
    unsigned qcap;     /* mu: q's size, a power of 2 */
    bool closing;      /* mu: goc__uio_acceptor_close has begun */
    bool no_multishot; /* mu: the kernel refused: accept4 from now on */
    _Atomic uint32_t pending;
    unsigned epoch; /* mu: the goc__uio_epoch() of the request */
    struct uio_ring
        *r;         /* mu: the ring that has it (goc__uio_ring_for, at arm) */
    uint64_t ud;    /* io thread: the request's user_data */
    bool cancelled; /* io thread: cancelled (queue full) since armed */
};

/* The acceptor's parts with us drop by one (mu held); true at 0. */
static bool acc_drop(goc__uio_acceptor *a)
{
    return atomic_fetch_sub(&a->pending, 1) == 1;
}

/* Write the SQE of r, an acceptor's arm or close's cancel. */
void goc__uio_acc_write(uio_ring *R, req *r, struct io_uring_sqe *e,
                        goc__glist *wake)
{
    if (r->kind == REQ_ACC_ARM) {
        goc__uio_acceptor *a =
            (goc__uio_acceptor *)((char *)r - offsetof(goc__uio_acceptor, arm));
        e->opcode = IORING_OP_ACCEPT;
        e->fd = a->fd;
        e->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
        e->ioprio = IORING_ACCEPT_MULTISHOT;
        if (atomic_load_explicit(&goc__uio_test_refuse_multishot,
                                 memory_order_relaxed))
            e->ioprio |= 1u << 15; /* no such flag: -EINVAL */
        a->ud =
            ((uint64_t)(++R->gen) << 48) | (uint64_t)(uintptr_t)a | UD_ACCEPT;
        a->cancelled = false;
        e->user_data = a->ud;
        sqe_push(R);
        count(&R->stats.accept_arms, 1);
        count(&R->stats.acc_armed, 1);
    } else if (r->kind == REQ_ACC_CANCEL) {
        goc__uio_acceptor *a =
            (goc__uio_acceptor *)((char *)r - offsetof(goc__uio_acceptor, can));
        goc__pollfd *pd = a->pd;
        cancel_push(R, e, a->ud); /* the arm's SQE came first (FIFO) */
        count(&R->stats.cancels, 1);
        pthread_mutex_lock(&a->mu);
        bool done = acc_drop(a);
        pthread_mutex_unlock(&a->mu);
        if (done) /* a is close's again */
            goc__pollfd_complete(pd, GOC__POLL_WRITE, wake);
    }
}

/* Append v to a's queue (mu held); false without memory. */
static bool acc_put(goc__uio_acceptor *a, int v)
{
    if (a->qn == a->qcap) {
        unsigned cap = a->qcap ? a->qcap * 2 : 16;
        int *q = malloc(cap * sizeof *q);
        if (!q)
            return false;
        for (unsigned i = 0; i < a->qn; i++)
            q[i] = a->q[(a->qh + i) & (a->qcap - 1)];
        free(a->q);
        a->q = q;
        a->qh = 0;
        a->qcap = cap;
    }
    a->q[(a->qh + a->qn++) & (a->qcap - 1)] = v;
    return true;
}

/* A CQE of a's multishot accept: queue the connection (or close it, once
 * the listener closes), or the error that ended the request; cancel the
 * request when enough wait unclaimed. Wakes the acceptor (READ slot) for
 * each, and close (WRITE slot) when the request is over. */
void goc__uio_acc_cqe(uio_ring *R, goc__uio_acceptor *a,
                      const struct io_uring_cqe *c, goc__glist *wake)
{
    goc__pollfd *pd = a->pd;
    bool more = c->flags & IORING_CQE_F_MORE;
    int res = c->res;
    bool done = false;
    pthread_mutex_lock(&a->mu);
    if (res >= 0) {
        count(&R->stats.accepted, 1);
        if (a->closing || !acc_put(a, res))
            close(res); /* nobody will claim it / no room: a reset */
        if (more && !a->cancelled && a->qn >= GOC__UIO_ACCEPT_AHEAD) {
            struct io_uring_sqe *e = sqe_get(R);
            if (e) { /* else: tried again at the next one */
                cancel_push(R, e, a->ud);
                a->cancelled = true;
            }
        }
    } else if (res == -EINVAL) {
        a->no_multishot = true; /* multishot refused: accept4 */
    } else if (res != -ECANCELED && !a->closing) {
        if (!acc_put(a, res))
            a->no_multishot = true; /* no memory: accept4 tells */
    }
    if (!more) {
        count(&R->stats.acc_armed, (uint64_t)-1);
        done = acc_drop(a);
    }
    pthread_mutex_unlock(&a->mu);
    /* a may be freed from here on (done while closing). */
    goc__pollfd_complete(pd, GOC__POLL_READ, wake);
    if (done)
        goc__pollfd_complete(pd, GOC__POLL_WRITE, wake);
}

goc__uio_acceptor *goc__uio_acceptor_new(goc__pollfd *pd)
{
    goc__uio_acceptor *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->arm.kind = REQ_ACC_ARM;
    a->can.kind = REQ_ACC_CANCEL;
    a->pd = pd;
    a->fd = goc__pollfd_fd(pd);
    pthread_mutex_init(&a->mu, NULL);
    atomic_init(&a->pending, 0);
    return a;
}

/* A request armed under an earlier goc_main ended with its io thread's
 * ring (the listener outlived that runtime): nothing is pending (mu). */
static void acc_renew(goc__uio_acceptor *a)
{
    if (a->epoch != goc__uio_epoch()) {
        atomic_store(&a->pending, 0);
        a->epoch = goc__uio_epoch();
    }
}

int goc__uio_accept(goc__uio_acceptor *a, int *fd)
{
    goc__pollfd *pd = a->pd;
    for (;;) {
        int r = 0;
        uio_ring *arm_ring = NULL;
        uint32_t arm_slot = 0;
        pthread_mutex_lock(&a->mu);
        acc_renew(a);
        if (a->closing) {
            r = -ECANCELED;
        } else if (a->qn) {
            int v = a->q[a->qh];
            a->qh = (a->qh + 1) & (a->qcap - 1);
            a->qn--;
            if (v >= 0)
                *fd = v;
            else
                r = v;
            pthread_mutex_unlock(&a->mu);
            return r;
        } else if (a->no_multishot) {
            r = 1;
        } else if (atomic_load(&a->pending) == 0) {
            /* Its slot is reserved under mu, so close's cancel, if any,
             * comes after; filled outside it (a full lap of slots waits
             * for the io thread, which may want mu: acc_cqe). */
            atomic_store(&a->pending, 1);
            a->epoch = goc__uio_epoch();
            a->r = arm_ring = goc__uio_ring_for(a->fd);
            arm_slot = goc__uio_push_reserve(arm_ring);
        }
        pthread_mutex_unlock(&a->mu);
        if (arm_ring)
            goc__uio_push_fill(arm_ring, arm_slot, &a->arm);
        if (r == 1)
            goc__pollfd_loud(pd);
        if (r)
            return r;
        goc__pollfd_quiet(pd); /* the request tells, not readiness */
        if ((r = goc__pollfd_wait(pd, GOC__POLL_READ)) < 0)
            return r;
    }
}

void goc__uio_acceptor_close(goc__uio_acceptor *a)
{
    goc__pollfd *pd = a->pd;
    pthread_mutex_lock(&a->mu);
    acc_renew(a);
    a->closing = true;
    bool live = atomic_load(&a->pending) != 0;
    uio_ring *can_ring = a->r; /* live: armed on a->r in this epoch */
    uint32_t can_slot = 0;
    if (live) {
        atomic_fetch_add(&a->pending, 1);
        can_slot = goc__uio_push_reserve(can_ring); /* after the arm's (mu) */
    }
    pthread_mutex_unlock(&a->mu);
    if (live) {
        goc__uio_push_fill(can_ring, can_slot, &a->can);
        /* The write direction is a listener's own: park there until the
         * request has ended (the io thread completes it at 0). */
        if (goc__pollfd_lock(pd, GOC__POLL_WRITE) == 0) {
            goc__pollfd_wait_pending(pd, GOC__POLL_WRITE, &a->pending);
            goc__pollfd_unlock(pd, GOC__POLL_WRITE);
        }
        while (atomic_load(&a->pending) != 0) /* pd closed under us */
            goc_yield();
    }
    /* The request is over: what it accepted and nobody took goes. */
    pthread_mutex_lock(&a->mu);
    for (; a->qn; a->qn--, a->qh = (a->qh + 1) & (a->qcap - 1))
        if (a->q[a->qh] >= 0)
            close(a->q[a->qh]);
    pthread_mutex_unlock(&a->mu);
    /* A parked acceptor: goc__pollfd_close wakes it (-ECANCELED). */
}

void goc__uio_acceptor_free(goc__uio_acceptor *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->mu);
    free(a->q);
    free(a);
}
