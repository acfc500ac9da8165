/*
 * uring_recv.c - a connection's multishot recv into provided buffers
 * under completion I/O (uring_io.h: goc__uio_rcv; docs/net.md
 * "Multishot recv"; uring_io.c's top comment has the rings and requests
 * this builds on). A connection's reads on the ring take their data from
 * one IORING_RECV_MULTISHOT request into the ring's provided buffers
 * (pbuf_setup: PBUF_N of 4 KiB, a buffer ring registered by the io
 * thread). The io thread queues each completion's buffer on the
 * receiver (goc__uio_rcv_cqe, under its mu, the acceptor's pattern) and
 * wakes the reader; the reader copies and gives emptied buffers back to
 * the ring (pbuf_give, any thread, under br_lock). RCV_AHEAD unread
 * buffers cancel the request (re-armed by the reader once it has emptied
 * the queue); close cancels without waiting, and the io thread frees an
 * orphaned receiver at its request's last completion; goc__uio_fini
 * moves what receivers still queue to their spill before the pools go.
 * "The io thread" is whoever drives the ring (uring_io.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "netpoll/uring_io_internal.h"

/* The buffers a connection may hold unread before its request is
 * cancelled. */
#define RCV_AHEAD 4

/* A ring per M: the bytes one multishot recv takes before it ends (the
 * next read arms another). Its completion work runs on the M that armed
 * it, at every kernel entry of that M (a send of the peer's on the same
 * M, say), and drains the socket into the pool there and then; the
 * cancel at RCV_AHEAD buffers only comes with the next reap. The limit
 * keeps a slow reader from taking the pool all the same. */
#define RCV_LIMIT (32u << PBUF_SHIFT)
_Atomic bool goc__uio_rcv_lim;
_Atomic bool goc__uio_test_refuse_rcv_lim;

bool goc__uio_rcv_lim_on(void)
{
    return atomic_load(&goc__uio_rcv_lim);
}

/* Every receiver, for goc__uio_fini (rcv_lock). */
static pthread_mutex_t rcv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct goc__uio_rcv *rcv_all;

#define PBUF_POOL_LEN ((size_t)PBUF_N << PBUF_SHIFT)

#define PBUF_RING_LEN (PBUF_N * sizeof(struct io_uring_buf))

/* A connection's multishot recv (uring_io.h), on the acceptor's
 * pattern: the goroutines' side and the io thread's meet under mu;
 * `pending` counts the parts with the io thread (the request, from its
 * arm until its last CQE; a cancel, until written), raised by
 * goroutines and dropped by the io thread, both under mu. The queue is
 * the received buffers, oldest first, linked through their ring's bnext
 * (a buffer is in one queue at most), then at most one end: end of file
 * (which stays) or an error (told once). Data left when a goc_main ends
 * move to `spill` (rcv_spill). Freed by goc__uio_rcv_free, or by the io
 * thread at the request's end when that came first (orphan). */
struct goc__uio_rcv {
    req arm; /* the multishot request, pushed when pending goes 0 -> 1 */
    req can; /* a cancel: close's, or a read's that goes by readiness */
    goc__pollfd *pd;
    int fd;
    pthread_mutex_t mu;
    struct uio_ring *r; /* mu: the ring of the request and buffers */
    uint16_t qh, qt;    /* mu: the oldest buffer, the newest */
    unsigned qn;        /* mu: buffers queued */
    uint32_t off;       /* mu: bytes of the oldest already read */
    int32_t end;        /* mu: 0 (end of file) or an error, once has_end */
    bool has_end;       /* mu */
    bool closing;       /* mu: goc__uio_rcv_close has begun */
    bool orphan;        /* mu: freed; the io thread frees it at the end */
    bool nobufs;        /* mu: the request ended for want of buffers */
    bool can_pushed;    /* mu: `can` is with the io thread (once at a time) */
    _Atomic uint32_t pending;
    char *spill; /* mu: data queued when a goc_main ended */
    size_t spill_len, spill_off;
    struct goc__uio_rcv *prev, *next; /* rcv_lock: all receivers */
    uint64_t ud;                      /* io thread: the request's user_data */
    bool cancelled; /* io thread: cancelled (queue long) since armed */
    bool lim;       /* io thread: armed with RCV_LIMIT */
};

static void rcv_destroy(struct goc__uio_rcv *v);

static void rcv_drop(struct goc__uio_rcv *v, bool cancel, goc__glist *wake);

/* A buffer's count and queue link: written by the io thread, read by
 * the reader, both under the receiver's mu; relaxed atomics because
 * the buffer's next receiver (another mu) is ordered after its last
 * reader through the kernel (the buffer ring's tail, then a CQE), which
 * ThreadSanitizer does not see. */
static void blen_set(uio_ring *R, uint16_t b, int32_t v)
{
    __atomic_store_n(&R->blen[b], v, __ATOMIC_RELAXED);
}

static int32_t blen_of(uio_ring *R, uint16_t b)
{
    return __atomic_load_n(&R->blen[b], __ATOMIC_RELAXED);
}

static void bnext_set(uio_ring *R, uint16_t b, uint16_t v)
{
    __atomic_store_n(&R->bnext[b], v, __ATOMIC_RELAXED);
}

static uint16_t bnext_of(uio_ring *R, uint16_t b)
{
    return __atomic_load_n(&R->bnext[b], __ATOMIC_RELAXED);
}

/* Give buffers back to R's ring (any thread). */
static void pbuf_give(uio_ring *R, const uint16_t *bid, unsigned n)
{
    if (!n)
        return;
    pthread_mutex_lock(&R->br_lock);
    uint16_t t = R->br_tail;
    for (unsigned i = 0; i < n; i++, t++) {
        struct io_uring_buf *b = &R->br->bufs[t & (PBUF_N - 1)];
        b->addr =
            (uint64_t)(uintptr_t)(R->pool + ((size_t)bid[i] << PBUF_SHIFT));
        b->len = 1u << PBUF_SHIFT;
        b->bid = bid[i];
    }
    R->br_tail = t;
    R->given += n;
    /* The kernel reads the tail with acquire, then the entries. */
    __atomic_store_n(&R->br->tail, t, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&R->br_lock);
}

/* The receiver's parts with the io thread drop by one (under mu). At 0
 * the request is over: the reader is woken (it re-arms, reads by
 * readiness, or leaves goc__uio_rcv_stop), and an orphan is freed. */
static void rcv_drop(goc__uio_rcv *v, bool cancel, goc__glist *wake)
{
    pthread_mutex_lock(&v->mu);
    if (cancel)
        v->can_pushed = false;
    bool last = atomic_fetch_sub(&v->pending, 1) == 1;
    bool orphan = last && v->orphan;
    /* Also once closing: a reader may wait in goc__uio_rcv_stop, which
     * close does not end. Not for an orphan (its pd is given back). */
    bool tell = last && !orphan;
    goc__pollfd *pd = v->pd;
    pthread_mutex_unlock(&v->mu);
    if (tell)
        goc__pollfd_complete(pd, GOC__POLL_READ, wake);
    if (orphan)
        rcv_destroy(v);
}

/* Write the SQE of r, a receiver's arm or a cancel of it. */
void goc__uio_rcv_write(uio_ring *R, req *r, struct io_uring_sqe *e,
                        goc__glist *wake)
{
    if (r->kind == REQ_RCV_ARM) {
        goc__uio_rcv *v =
            (goc__uio_rcv *)((char *)r - offsetof(goc__uio_rcv, arm));
        e->opcode = IORING_OP_RECV;
        e->fd = v->fd;
        e->ioprio = IORING_RECV_MULTISHOT;
        if (atomic_load_explicit(&goc__uio_test_refuse_multishot,
                                 memory_order_relaxed))
            e->ioprio |= 1u << 15; /* no such flag: -EINVAL */
        e->flags = IOSQE_BUFFER_SELECT;
        e->buf_group = 0;
        v->lim = goc__uio_per_m() &&
                 atomic_load_explicit(&goc__uio_rcv_lim, memory_order_relaxed);
        if (v->lim) /* the SQE's optlen, which shares splice_fd_in's place */
            e->splice_fd_in = (int32_t)RCV_LIMIT;
        if (v->lim && atomic_load_explicit(&goc__uio_test_refuse_rcv_lim,
                                           memory_order_relaxed))
            e->ioprio |= 1u << 15; /* as a kernel refusing the limit */
        v->ud = ((uint64_t)(++R->gen) << 48) | (uint64_t)(uintptr_t)v | UD_RECV;
        v->cancelled = false;
        e->user_data = v->ud;
        sqe_push(R);
        count(&R->stats.recv_arms, 1);
        count(&R->stats.armed, 1);
    } else if (r->kind == REQ_RCV_CANCEL) {
        goc__uio_rcv *v =
            (goc__uio_rcv *)((char *)r - offsetof(goc__uio_rcv, can));
        cancel_push(R, e, v->ud); /* the arm's SQE came first (FIFO) */
        count(&R->stats.cancels, 1);
        rcv_drop(v, true, wake);
    }
}

/* A CQE of v's multishot recv: queue the buffer (or give it back, once
 * the connection closes), or the end; cancel the request when
 * RCV_AHEAD buffers wait unread, so that one slow reader does not take
 * the pool (the socket's buffer holds the rest, as without requests).
 * Wakes the reader when the queue was empty, and when the request is
 * over. */
void goc__uio_rcv_cqe(uio_ring *R, goc__uio_rcv *v,
                      const struct io_uring_cqe *c, goc__glist *wake)
{
    bool more = c->flags & IORING_CQE_F_MORE;
    int res = c->res;
    bool tell = false, give = false;
    uint16_t bid = 0;
    pthread_mutex_lock(&v->mu);
    goc__pollfd *pd = v->pd;
    if (c->flags & IORING_CQE_F_BUFFER) {
        bid = (uint16_t)(c->flags >> IORING_CQE_BUFFER_SHIFT);
        count(&R->stats.recv_cqes, 1);
        if (res <= 0 || v->closing) {
            give = true;
        } else {
            blen_set(R, bid, res);
            if (v->qn++ == 0) {
                v->qh = bid;
                tell = true;
            } else {
                bnext_set(R, v->qt, bid);
            }
            v->qt = bid;
            if (more && !v->cancelled && v->qn >= RCV_AHEAD) {
                struct io_uring_sqe *e = sqe_get(R);
                if (e) { /* else: tried again at the next one */
                    cancel_push(R, e, v->ud);
                    v->cancelled = true;
                    count(&R->stats.recv_stops, 1);
                }
            }
        }
    }
    if (res == -EINVAL && v->lim) /* the limit refused: none from now on */
        atomic_store_explicit(&goc__uio_rcv_lim, false, memory_order_relaxed);
    else if (res == -EINVAL) /* refused: single-shot recvs from now on */
        atomic_store_explicit(&goc__uio_msrecv, false, memory_order_relaxed);
    else if (res == -ENOBUFS) {
        v->nobufs = true; /* this read: a single-shot recv */
        count(&R->stats.recv_nobufs, 1);
    } else if (res <= 0 && res != -ECANCELED && !v->closing) {
        v->end = res;
        v->has_end = true;
        tell = true;
    }
    tell = tell && !v->closing;
    pthread_mutex_unlock(&v->mu);
    if (give)
        pbuf_give(R, &bid, 1);
    if (tell)
        goc__pollfd_complete(pd, GOC__POLL_READ, wake);
    if (!more) {
        count(&R->stats.armed, (uint64_t)-1);
        rcv_drop(v, false, wake);
    }
}

_Atomic bool goc__uio_test_no_msrecv;

/* Whether multishot recv is wanted: not when a test refuses it or
 * $GOC_URING_MSRECV is 0 (for A/B runs; 1 or unset: wanted). */
bool goc__uio_msrecv_wanted(void)
{
    bool env = goc__env_knob("GOC_URING_MSRECV", 0, 1, 1) != 0;
    return env && !atomic_load(&goc__uio_test_no_msrecv);
}

/* Zeroed pages of their own, which a forked child does not get (as the
 * ring's mappings: uring_ring.h), or NULL. */
static void *pbuf_map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, len, MADV_DONTFORK);
    return p;
}

static void pbuf_unmap(void *p, size_t len)
{
    if (p)
        munmap(p, len);
}

/* Register R's provided buffers (group 0), all given to the kernel; by
 * the io thread (a single-issuer ring takes registrations from its
 * submitter only). Leaves R->br NULL where it fails. */
void goc__uio_pbuf_setup(uio_ring *R)
{
    struct io_uring_buf_ring *br = pbuf_map(PBUF_RING_LEN);
    char *pool = pbuf_map(PBUF_POOL_LEN);
    if (!br || !pool)
        goto fail;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)br;
    reg.ring_entries = PBUF_N;
    reg.bgid = 0;
    if (goc__uring_sys_register(R->ring.fd, IORING_REGISTER_PBUF_RING, &reg,
                                1) < 0)
        goto fail;
    R->br = br;
    R->pool = pool;
    uint16_t ids[64];
    for (unsigned i = 0; i < PBUF_N;) {
        unsigned k = 0;
        for (; k < 64 && i < PBUF_N; k++, i++)
            ids[k] = (uint16_t)i;
        pbuf_give(R, ids, k);
    }
    return;
fail:
    pbuf_unmap(br, PBUF_RING_LEN);
    pbuf_unmap(pool, PBUF_POOL_LEN);
}

void goc__uio_pbuf_fini(uio_ring *R)
{
    pbuf_unmap(R->br, PBUF_RING_LEN);
    pbuf_unmap(R->pool, PBUF_POOL_LEN);
    R->br = NULL;
    R->pool = NULL;
}

goc__uio_rcv *goc__uio_rcv_new(goc__pollfd *pd)
{
    if (!atomic_load_explicit(&goc__uio_msrecv, memory_order_relaxed))
        return NULL;
    goc__uio_rcv *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->arm.kind = REQ_RCV_ARM;
    v->can.kind = REQ_RCV_CANCEL;
    v->pd = pd;
    v->fd = goc__pollfd_fd(pd);
    pthread_mutex_init(&v->mu, NULL);
    atomic_init(&v->pending, 0);
    pthread_mutex_lock(&rcv_lock);
    v->next = rcv_all;
    if (rcv_all)
        rcv_all->prev = v;
    rcv_all = v;
    pthread_mutex_unlock(&rcv_lock);
    return v;
}

/* Take v off the list of every receiver, and free it (rcv_lock held). */
static void rcv_unlink_free(goc__uio_rcv *v)
{
    if (v->prev)
        v->prev->next = v->next;
    else
        rcv_all = v->next;
    if (v->next)
        v->next->prev = v->prev;
    pthread_mutex_destroy(&v->mu);
    free(v->spill);
    free(v);
}

static void rcv_destroy(goc__uio_rcv *v)
{
    pthread_mutex_lock(&rcv_lock);
    rcv_unlink_free(v);
    pthread_mutex_unlock(&rcv_lock);
}

/* Give v's queued buffers back to its ring (mu held). */
static void rcv_give_all(goc__uio_rcv *v)
{
    uint16_t give[64];
    unsigned ng = 0;
    for (; v->qn; v->qn--) {
        give[ng++] = v->qh;
        v->qh = bnext_of(v->r, v->qh);
        if (ng == 64) {
            pbuf_give(v->r, give, ng);
            ng = 0;
        }
    }
    pbuf_give(v->r, give, ng);
    v->off = 0;
}

/* Up to n bytes of what v holds (mu held): the spill, the queued
 * buffers, else the end. false: nothing held. */
static bool rcv_take(goc__uio_rcv *v, void *buf, size_t n, ssize_t *out)
{
    size_t got = 0;
    if (v->spill) {
        got = v->spill_len - v->spill_off;
        if (got > n)
            got = n;
        memcpy(buf, v->spill + v->spill_off, got);
        v->spill_off += got;
        if (v->spill_off == v->spill_len) {
            free(v->spill);
            v->spill = NULL;
        }
    }
    if (v->qn && got < n) {
        uio_ring *R = v->r;
        uint16_t give[64];
        unsigned ng = 0;
        while (v->qn && got < n) {
            uint16_t b = v->qh;
            uint32_t len = (uint32_t)blen_of(R, b);
            size_t k = len - v->off;
            if (k > n - got)
                k = n - got;
            memcpy((char *)buf + got,
                   R->pool + ((size_t)b << PBUF_SHIFT) + v->off, k);
            got += k;
            v->off += (uint32_t)k;
            if (v->off == len) {
                v->off = 0;
                v->qh = bnext_of(R, b);
                v->qn--;
                give[ng++] = b;
                if (ng == 64) {
                    pbuf_give(R, give, ng);
                    ng = 0;
                }
            }
        }
        pbuf_give(R, give, ng);
    }
    if (got) {
        *out = (ssize_t)got;
        return true;
    }
    if (v->has_end) {
        *out = v->end;
        if (v->end < 0)
            v->has_end = false; /* an error is told once, as recv's */
        return true;
    }
    return false;
}

bool goc__uio_recv(goc__uio_rcv *v, void *buf, size_t n, ssize_t *out)
{
    goc__pollfd *pd = v->pd;
    for (;;) {
        uio_ring *arm_ring = NULL;
        uint32_t arm_slot = 0;
        pthread_mutex_lock(&v->mu);
        if (rcv_take(v, buf, n, out)) {
            pthread_mutex_unlock(&v->mu);
            return true;
        }
        if (v->closing) {
            pthread_mutex_unlock(&v->mu);
            *out = -ECANCELED;
            return true;
        }
        if (atomic_load(&v->pending) == 0) {
            if (v->nobufs || !goc__uio_on() ||
                !atomic_load_explicit(&goc__uio_msrecv, memory_order_relaxed)) {
                /* The pool was empty (this read, then the request
                 * again), multishot refused, or no ring: single-shot. */
                v->nobufs = false;
                pthread_mutex_unlock(&v->mu);
                return false;
            }
            /* Its slot is reserved under mu, so a cancel, if any, comes
             * after; filled outside it (a full lap of slots waits for the
             * io thread, which may want mu: rcv_cqe). */
            atomic_store(&v->pending, 1);
            v->r = arm_ring = goc__uio_ring_for(v->fd);
            arm_slot = goc__uio_push_reserve(arm_ring);
        }
        pthread_mutex_unlock(&v->mu);
        if (arm_ring)
            goc__uio_push_fill(arm_ring, arm_slot, &v->arm);
        goc__pollfd_quiet(pd); /* the request tells, not readiness */
        int r = goc__pollfd_wait(pd, GOC__POLL_READ);
        if (r < 0) { /* the deadline, or close: what is queued stays */
            *out = r;
            return true;
        }
    }
}

/* Cancel v's request (mu held, armed): `can` goes to the io thread
 * unless it is there already (then that cancel ends the request). Its
 * slot is reserved here, after the arm's; the caller fills it with
 * rcv_cancel_fill once mu is released (as goc__uio_recv's arm). */
typedef struct rcv_can {
    uio_ring *r; /* NULL: nothing to push */
    uint32_t slot;
} rcv_can;

static rcv_can rcv_cancel(goc__uio_rcv *v)
{
    rcv_can c = {NULL, 0};
    if (v->can_pushed)
        return c;
    v->can_pushed = true;
    atomic_fetch_add(&v->pending, 1);
    c.r = v->r;
    c.slot = goc__uio_push_reserve(c.r);
    return c;
}

/* v stays allocated until `can` is written: pending counts it. */
static void rcv_cancel_fill(goc__uio_rcv *v, rcv_can c)
{
    if (c.r)
        goc__uio_push_fill(c.r, c.slot, &v->can);
}

bool goc__uio_rcv_busy(goc__uio_rcv *v)
{
    pthread_mutex_lock(&v->mu);
    bool busy =
        v->spill || v->qn || v->has_end || atomic_load(&v->pending) != 0;
    pthread_mutex_unlock(&v->mu);
    return busy;
}

bool goc__uio_rcv_stop(goc__uio_rcv *v, void *buf, size_t n, ssize_t *out)
{
    pthread_mutex_lock(&v->mu);
    bool took = rcv_take(v, buf, n, out);
    bool armed = atomic_load(&v->pending) != 0;
    /* Armed: cancel it (after the arm), also when the queue had data:
     * else a peer that always writes before this side reads keeps the
     * request going, and every read after it, for good. */
    rcv_can c = armed ? rcv_cancel(v) : (rcv_can){NULL, 0};
    pthread_mutex_unlock(&v->mu);
    rcv_cancel_fill(v, c);
    if (took || !armed)
        return took; /* a later read waits for the end (rcv_busy) */
    /* Nothing queued: wait for the request's end, whatever the deadline
     * says (the io thread is quick). */
    goc__pollfd_wait_pending(v->pd, GOC__POLL_READ, &v->pending);
    pthread_mutex_lock(&v->mu);
    took = rcv_take(v, buf, n, out);
    pthread_mutex_unlock(&v->mu);
    return took;
}

void goc__uio_rcv_close(goc__uio_rcv *v)
{
    rcv_can c = {NULL, 0};
    pthread_mutex_lock(&v->mu);
    v->closing = true;
    if (atomic_load(&v->pending) != 0)
        c = rcv_cancel(v);
    if (v->qn)
        rcv_give_all(v); /* nobody reads them any more */
    pthread_mutex_unlock(&v->mu);
    rcv_cancel_fill(v, c);
}

void goc__uio_rcv_free(goc__uio_rcv *v)
{
    if (!v)
        return;
    pthread_mutex_lock(&v->mu);
    bool live = atomic_load(&v->pending) != 0;
    v->orphan = live; /* the io thread frees it at the request's end */
    pthread_mutex_unlock(&v->mu);
    if (!live)
        rcv_destroy(v);
}

/* After the io threads have ended (goc__uio_fini): every request is over
 * and the pools go, so what receivers hold moves to their spill; an
 * orphan is freed. */
void goc__uio_rcv_spill_all(void)
{
    pthread_mutex_lock(&rcv_lock);
    goc__uio_rcv *v = rcv_all, *next;
    for (; v; v = next) {
        next = v->next;
        pthread_mutex_lock(&v->mu);
        atomic_store(&v->pending, 0);
        bool orphan = v->orphan;
        if (v->qn && !orphan && !v->closing) {
            size_t len = 0;
            uint16_t b = v->qh;
            for (unsigned k = 0; k < v->qn; k++, b = bnext_of(v->r, b))
                len += (size_t)blen_of(v->r, b);
            len -= v->off;
            size_t old = v->spill ? v->spill_len - v->spill_off : 0;
            char *sp = malloc(old + len);
            if (sp) {
                if (old)
                    memcpy(sp, v->spill + v->spill_off, old);
                ssize_t got;
                (void)rcv_take(v, sp + old, len, &got);
                free(v->spill);
                v->spill = sp;
                v->spill_len = old + len;
                v->spill_off = 0;
            } else { /* the data are lost: the reader is told */
                v->end = -ENOMEM;
                v->has_end = true;
            }
        }
        v->qn = 0;
        v->off = 0;
        v->nobufs = false;
        v->can_pushed = false;
        v->r = NULL;
        pthread_mutex_unlock(&v->mu);
        if (orphan)
            rcv_unlink_free(v);
    }
    pthread_mutex_unlock(&rcv_lock);
}
