/*
 * uring_io.c - completion-based socket and file I/O on io_uring: the rings,
 * who drives them, and the requests of one goroutine (uring_io.h is the
 * interface; docs/net.md has the reasoning and the figures).
 *
 * The kernel runs a request's completion work (task work) on the thread
 * that submitted it. Two ways to drive the rings (uio_ring), fixed for a
 * goc_main (rings_wanted):
 *
 * A ring per M (the default; GOC_URING_RINGS unset or 0; the claiming,
 * the M away and the poller's part are uring_per_m.c's). A pool of
 * goc__uio_pm_rings_wanted() rings, made with IORING_SETUP_COOP_TASKRUN
 * (any thread may submit; completion work waits for the submitter's
 * next kernel entry, or wakes it where it sleeps, never interrupts it):
 * ring 0 at start, each other by the M that claims it with its
 * goroutines' first request (claim_ring; once all are claimed, later Ms
 * share one, driven as another M's; an M whose ring cannot be made
 * shares ring 0). A goroutine
 * pushes its request to its own M's ring and parks; the M drives the
 * ring at the end of each scheduler round (goc__uio_flush: take what was
 * pushed, write the SQEs, one io_uring_enter that submits them and runs
 * the M's completion work, reap) and readies what completed on its own
 * processor. So a send's TCP work, and the peer's recv's, run on the
 * threads that run goroutines, on every CPU, with one system call per
 * round. Whoever drives a ring holds its drive_lock: its M; a goroutine
 * of another M that pushed to it (a cancel: drive_foreign, so that the
 * request goes in at once); the poller for an M that holds no processor
 * (goc__uio_m_away: the M submits what is pushed, then turns on its
 * ring's eventfd notices, IORING_CQ_EVENTFD_DISABLED cleared, and
 * away_fd in the epoll set wakes the poller, which drives the ring:
 * away_ready); and the poller for an M that holds one but has not reaped
 * for GOC__UIO_STALE_NS, running a goroutine that does not yield
 * (goc__uio_steal). Completion work of an M blocked in a system call
 * still runs, since the kernel wakes it from an interruptible sleep for
 * it; only an uninterruptible one delays it. A multishot recv is armed
 * with a byte limit (uring_recv.c: RCV_LIMIT), because the M's
 * completion work drains a socket into the buffer pool at any kernel
 * entry, before a reap could cancel it.
 *
 * io threads (GOC_URING_RINGS=K, 1 to 64, for A/B runs): K rings, each
 * owned by an io thread that created it with IORING_SETUP_SINGLE_ISSUER
 * | IORING_SETUP_DEFER_TASKRUN and is the only thread that submits to
 * it, so all completion work runs in its own io_uring_enter, in
 * batches. It caps the kernel's work at one CPU a ring (docs/net.md,
 * "A ring per M"). Each ring has its own io thread, wake eventfd,
 * `sleeping` flag, request slots and list of woken goroutines. A
 * descriptor's requests go to ring fd % K (ring_for).
 *
 * Either way a request records its ring (uio_op.r; an acceptor's and a
 * receiver's r, set when they arm), so its cancel goes to the ring that
 * holds it: a cancel on another ring would find nothing and leave the
 * request, and its goroutine, waiting. The rest of this comment says
 * "the io thread" for whoever drives the ring.
 *
 * Submitting: a goroutine fills an op on its own stack (fd, buffer,
 * length, its poll descriptor), pushes its address into the ring's
 * request slots (a bounded multi-producer queue: qtail reserves a slot,
 * the io thread empties them in order) and parks in its poll
 * descriptor's slot for the direction (pollfd.c), as it parks for an
 * edge. The io thread takes every filled slot at once (oldest first),
 * prefetches all the ops, writes one SQE per op and submits them all
 * with the io_uring_enter in which it also reaps: one system call per
 * batch, not per message. A pusher writes the wake eventfd only when the
 * io thread sleeps (`sleeping`, Dekker-style with the next slot), and
 * the io thread keeps a multishot poll request on that eventfd, never
 * reading it: each write is one completion that ends its wait.
 *
 * Completing: the io thread stores the result, drops the op's pending
 * count and, when it reaches 0, wakes the goroutine through the slot
 * (goc__pollfd_complete), collecting the goroutines of a batch on its
 * ring's list, which the next poll of any M takes with the other rings'
 * (goc__uio_take, called by goc__poller_wait), as it takes readiness
 * events: while the processors are busy no thread is woken for them; a
 * thread asleep in the poller is woken (goc__poller_wake). Injecting them into
 * the scheduler from the io thread instead woke an idle M per batch: a futex
 * wake and wait per message at 100 connections (measured: 1.1 futex calls per
 * message). The op's memory is the goroutine's until it sees pending == 0; the
 * io thread reads everything it needs before the decrement. user_data is the
 * op's address with a 16-bit generation (its ring's count) above it, so a late
 * cancel never matches the op the same stack slot holds next.
 *
 * Cancelling: a deadline or close wakes the parked goroutine through
 * the same slot (pollfd.c's timers and eviction); it raises pending to 2
 * (if the request has not completed meanwhile) and pushes the op's
 * second link, a cancel; the io thread writes IORING_OP_ASYNC_CANCEL for
 * the op's user_data and drops pending once for it. The goroutine then
 * waits, whatever the deadline says, until pending is 0: the request's
 * own completion has been reaped (-ECANCELED, or its result if it
 * finished first) and the cancel has been handed to the kernel. So when
 * the call returns, the kernel holds nothing of the goroutine's: no
 * buffer, no op.
 *
 * Multishot accept and multishot recv (uring_accept.c, uring_recv.c;
 * uring_io_internal.h is what the three files share) are requests a
 * listener or a connection keeps armed across many completions, on the
 * same rings and slots: the io thread writes their SQEs (req_write) and
 * hands their completions over (reap), each file its own.
 *
 * Deadlock detection: a goroutine parked on an op counts in npollwait,
 * exactly as one parked on an edge (pd_commit), so checkdead never calls
 * a runtime with requests in flight dead; the io thread itself is not an
 * M and runs whatever the processors do.
 *
 * Stopping: goc__uio_fini (after every M has been joined, before the
 * scheduler is freed) tells every io thread to stop and joins each; a thread
 * that exits has the kernel cancel and finish its requests first, so no
 * buffer is written after the join. With a ring per M, the Ms have
 * ended and each ring's requests are cancelled at once
 * (IORING_REGISTER_SYNC_CANCEL, every request) before it is closed.
 * Requests still in flight then belong to goroutines that will never run
 * again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netpoll/uring_io_internal.h"

/* A socket's direct send is made with syscall(2) outside ThreadSanitizer,
 * as conn.c's: libc's send is a cancellation point, which switches
 * asynchronous cancellation on and off around the call (measured: a lone
 * connection's echo 2 % slower than on epoll with it). */
#ifndef GOC_TSAN
#include <sys/syscall.h>
#define sys_send(fd, b, n, fl) syscall(SYS_sendto, fd, b, n, fl, NULL, 0)
#else
#define sys_send send
#endif

#define SQ_DEFAULT 1024
#define CQ_DEFAULT 65536
#define CQ_PER_M 16384 /* a ring per M's */
#define REAP_BATCH 256
#define QSLOTS 4096 /* a ring's request slots (goc__uio_test_qslots) */

typedef struct uio_op {
    req sub; /* the transfer */
    req can; /* its cancel, pushed at most once */
    goc__pollfd *pd;
    int fd;
    int mode;       /* GOC__POLL_READ: recv / read, GOC__POLL_WRITE: send /
                       write (the slot the goroutine parks in) */
    uint8_t opcode; /* IORING_OP_RECV, _SEND, _READ or _WRITE */
    int msg_flags;  /* recv / send */
    void *buf;
    uint32_t len;
    struct uio_ring *r;       /* the ring it goes to (its cancel too) */
    uint64_t ud;              /* io thread: the SQE's user_data */
    int32_t res;              /* io thread: the CQE's result */
    _Atomic uint32_t pending; /* parts still with the io thread */
} uio_op;

static bool on;
static unsigned epoch;  /* io threads started: one a goc_main */
static uio_ring *rings; /* nrings of them, while on */
static unsigned nrings;
static _Atomic bool stop;
_Atomic bool goc__uio_msrecv;
static _Atomic bool owed_any; /* some ring's wake_owed may be set */
/* A ring per M ("A ring per M" above): no io threads. */
static bool per_m;
static bool defer_wakes; /* pushes leave the wake to goc__uio_flush
                            (one CPU: push) */
_Atomic bool goc__uio_test_defer_wakes;
_Atomic int goc__uio_test_rings;

/* The threads' reports of their ring setup. */
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t setup_cond = PTHREAD_COND_INITIALIZER;

/* The counts of the rings of earlier goc_mains (goc__uio_get_stats). */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static goc__uio_stats stats_past; /* stats_lock */

_Atomic uint32_t goc__uio_test_sq_entries;
_Atomic uint32_t goc__uio_test_qslots;
_Atomic bool goc__uio_test_refuse_multishot;
_Atomic bool goc__uio_test_refuse_files;
_Atomic bool goc__uio_test_fail_init;

/* The ring of a descriptor's requests: fixed for the descriptor while
 * the runtime runs (its fd), so a connection's recvs and sends, a
 * listener's accept, a file's reads each go to one io thread; a cancel
 * goes to the ring its request went to (uio_op.r, the acceptor's r),
 * whatever this says then. */
bool goc__uio_per_m(void)
{
    return per_m;
}

static uio_ring *ring_for(int fd)
{
    if (per_m)
        return goc__uio_pm_ring();
    return &rings[nrings == 1 ? 0 : (unsigned)fd % nrings];
}

uio_ring *goc__uio_ring_for(int fd)
{
    return ring_for(fd);
}

unsigned goc__uio_epoch(void)
{
    return epoch;
}

bool goc__uio_on(void)
{
    return on;
}

/* ---- the ring (io thread) ------------------------------------------- */

static int sys_enter(uio_ring *R, unsigned to_submit, unsigned min_complete,
                     unsigned flags)
{
    count(&R->stats.enters, 1);
    return goc__uring_enter(&R->ring, to_submit, min_complete, flags, NULL, 0);
}

int goc__uio_ring_setup(uio_ring *R)
{
    struct io_uring_params par;
    memset(&par, 0, sizeof par);
    par.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP |
                IORING_SETUP_SUBMIT_ALL;
    par.cq_entries = CQ_DEFAULT;
    if (per_m) {
        /* Any thread may drive it; a request's completion work runs on
         * the thread that submitted it, at its next kernel entry, or
         * wakes it from a sleep (never an interrupt while it runs). */
        par.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
                    IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP |
                    IORING_SETUP_SUBMIT_ALL;
        par.cq_entries = CQ_PER_M;
    }
    unsigned sq_n = SQ_DEFAULT;
    uint32_t t = atomic_load(&goc__uio_test_sq_entries);
    if (t)
        sq_n = t;
    int err = goc__uring_init(&R->ring, sq_n, &par);
    if (err < 0)
        return err;
    if (!(R->ring.features & IORING_FEAT_NODROP)) {
        goc__uring_fini(&R->ring);
        return -EOPNOTSUPP;
    }
    return 0;
}

static uint32_t sq_pending(uio_ring *R)
{
    return goc__uring_sq_pending(&R->ring);
}

static bool queue_wake_poll(uio_ring *R)
{
    struct io_uring_sqe *e = sqe_get(R);
    if (!e)
        return false;
    e->opcode = IORING_OP_POLL_ADD;
    e->fd = R->wake_fd;
    e->poll32_events = POLLIN;
    e->len = IORING_POLL_ADD_MULTI;
    e->user_data = UD_WAKE;
    sqe_push(R);
    return true;
}

/* The op's parts still with us drop by one; at 0 it is the goroutine's
 * again: wake it. Everything needed is read before the drop. */
static void op_release(uio_op *op, goc__glist *wake)
{
    goc__pollfd *pd = op->pd;
    int mode = op->mode;
    if (atomic_fetch_sub(&op->pending, 1) == 1)
        goc__pollfd_complete(pd, mode, wake);
}

/* Write r's SQE; false if the queue is full. */
static bool req_write(uio_ring *R, req *r, goc__glist *wake)
{
    struct io_uring_sqe *e = sqe_get(R);
    if (!e)
        return false;
    if (r->kind == REQ_ACC_ARM || r->kind == REQ_ACC_CANCEL) {
        goc__uio_acc_write(R, r, e, wake);
    } else if (r->kind == REQ_RCV_ARM || r->kind == REQ_RCV_CANCEL) {
        goc__uio_rcv_write(R, r, e, wake);
    } else if (r->kind == REQ_XFER) {
        uio_op *op = (uio_op *)((char *)r - offsetof(uio_op, sub));
        e->opcode = op->opcode;
        e->fd = op->fd;
        e->addr = (uint64_t)(uintptr_t)op->buf;
        e->len = op->len;
        if (op->opcode == IORING_OP_READ || op->opcode == IORING_OP_WRITE)
            e->off = (uint64_t)-1; /* the file position; a stream's none */
        else
            e->msg_flags = (uint32_t)op->msg_flags;
        op->ud = ((uint64_t)(++R->gen) << 48) | (uint64_t)(uintptr_t)op;
        e->user_data = op->ud;
        sqe_push(R);
        count(&R->stats.submitted, 1);
        count(&R->stats.inflight, 1);
        if (op->opcode == IORING_OP_RECV)
            count(&R->stats.recvs, 1);
    } else {
        uio_op *op = (uio_op *)((char *)r - offsetof(uio_op, can));
        cancel_push(R, e, op->ud);
        count(&R->stats.cancels, 1);
        /* Its SQE is ahead of any request the op's memory holds next. */
        op_release(op, wake);
    }
    return true;
}

/* Move what goroutines pushed (oldest first) behind t, up to the first
 * slot reserved and not yet filled. Each request lives in memory another
 * CPU wrote last (a goroutine's stack): all are prefetched before any is
 * read, so their cache misses overlap rather than follow one another (as
 * they did along a linked stack: 11 % of the io thread's time, TCP echo
 * at 100 connections). */
static void take(uio_ring *R, todo_list *t)
{
    uint32_t h = atomic_load_explicit(&R->qhead, memory_order_relaxed);
    uint32_t first = t->n;
    for (;;) {
        uio_slot *slot = &R->slots[h & R->qmask];
        if (atomic_load_explicit(&slot->seq, memory_order_acquire) != h + 1)
            break; /* not yet filled */
        req *r = slot->r;
        if (t->n == t->cap) {
            if (t->i > 0) { /* room at the front */
                memmove(t->v, t->v + t->i, (t->n - t->i) * sizeof *t->v);
                t->n -= t->i;
                first -= t->i; /* first >= i: it was n */
                t->i = 0;
            } else {
                uint32_t cap = t->cap ? t->cap * 2 : R->qmask + 1;
                req **v = realloc(t->v, cap * sizeof *v);
                if (!v)
                    break; /* the rest waits in its slots */
                t->v = v;
                t->cap = cap;
            }
        }
        t->v[t->n++] = r;
        /* Free for the ticket a lap later. */
        atomic_store_explicit(&slot->seq, h + R->qmask + 1,
                              memory_order_release);
        h++;
    }
    atomic_store_explicit(&R->qhead, h, memory_order_release);
    for (uint32_t k = first; k < t->n; k++) {
        __builtin_prefetch(t->v[k], 1);
        __builtin_prefetch((char *)t->v[k] + LINE, 1);
    }
}

/* Whether the next slot holds a request (the io thread, before it
 * sleeps: seq_cst, pairs with push). */
static bool queued(uio_ring *R)
{
    uint32_t h = atomic_load_explicit(&R->qhead, memory_order_relaxed);
    return atomic_load(&R->slots[h & R->qmask].seq) == h + 1;
}

static int reap(uio_ring *R, goc__glist *wake)
{
    int n = 0;
    for (;;) {
        uint32_t head =
            atomic_load_explicit(R->ring.cq_khead, memory_order_relaxed);
        uint32_t tail =
            atomic_load_explicit(R->ring.cq_ktail, memory_order_acquire);
        if (head == tail)
            break;
        /* What each completion touches (an op, a receiver) was written
         * last by another CPU: fetch them all first, so that the misses
         * overlap (as take does for the requests). */
        for (uint32_t h = head, k = 0; h != tail && k < REAP_BATCH; h++, k++) {
            uint64_t ud = R->ring.cqes[h & R->ring.cq_mask].user_data;
            if (ud > UD_CANCEL) {
                char *p = (char *)(uintptr_t)(ud & UD_PTR_MASK & ~(uint64_t)3);
                __builtin_prefetch(p, 1);
                __builtin_prefetch(p + LINE, 1);
            }
        }
        for (uint32_t k = 0; head != tail && k < REAP_BATCH; head++, k++) {
            struct io_uring_cqe *c = &R->ring.cqes[head & R->ring.cq_mask];
            uint64_t ud = c->user_data;
            n++;
            if (ud == UD_WAKE) {
                if (!(c->flags & IORING_CQE_F_MORE)) /* ended: add again */
                    R->wake_armed = queue_wake_poll(R);
                continue;
            }
            if (ud == UD_CANCEL)
                continue; /* -ENOENT / -EALREADY: the op's CQE tells */
            if (ud & UD_RECV) {
                goc__uio_rcv_cqe(
                    R,
                    (goc__uio_rcv *)(uintptr_t)(ud & UD_PTR_MASK &
                                                ~(uint64_t)UD_RECV),
                    c, wake);
                continue;
            }
            if (ud & UD_ACCEPT) {
                goc__uio_acc_cqe(
                    R,
                    (goc__uio_acceptor *)(uintptr_t)(ud & UD_PTR_MASK &
                                                     ~(uint64_t)UD_ACCEPT),
                    c, wake);
                continue;
            }
            uio_op *op = (uio_op *)(uintptr_t)(ud & UD_PTR_MASK);
            op->res = c->res;
            count(&R->stats.inflight, (uint64_t)-1);
            op_release(op, wake);
        }
        atomic_store_explicit(R->ring.cq_khead, head, memory_order_release);
    }
    return n;
}

/* Hand what completions woke to the scheduler: the Ms take them at their
 * next poll, so a busy runtime takes a whole batch without a thread
 * woken; a thread asleep in the poller is woken for them. They count as
 * poll waiters until taken (goc__pollfd_complete), so deadlock detection
 * sees them. */
void goc__uio_deliver(uio_ring *R, goc__glist *wake)
{
    if (!wake->n)
        return;
    pthread_mutex_lock(&R->ready_lock);
    goc__glist_cat(&R->ready, wake);
    atomic_store(&R->ready_n, R->ready.n);
    pthread_mutex_unlock(&R->ready_lock);
    /* seq_cst: a poller sets `polling`, then looks at every ring's
     * ready_n (poller.c); one that sleeps already is woken. */
    if (goc__netpoll_polling())
        goc__poller_wake();
}

int goc__uio_take(goc__glist *out)
{
    int n = 0;
    for (unsigned i = 0; i < nrings; i++) {
        uio_ring *R = &rings[i];
        if (atomic_load(&R->ready_n) == 0)
            continue;
        pthread_mutex_lock(&R->ready_lock);
        int k = R->ready.n;
        goc__glist_cat(out, &R->ready);
        atomic_store(&R->ready_n, 0);
        pthread_mutex_unlock(&R->ready_lock);
        n += k;
    }
    if (n)
        goc__netpoll_waiters_add(-n);
    return n;
}

/* One round of R's driver (drive_lock held): write what was pushed,
 * submit it with the io_uring_enter that also runs this thread's
 * completion work, and reap. Requests the full queue left are written
 * in the next pass (a few), else by the next round (owed). */
void goc__uio_round_locked(uio_ring *R, goc__glist *wake)
{
    atomic_store_explicit(&R->round_at, goc_nanotime(), memory_order_relaxed);
    for (int pass = 0; pass < 4; pass++) {
        take(R, &R->todo);
        for (; R->todo.i < R->todo.n; R->todo.i++)
            if (!req_write(R, R->todo.v[R->todo.i], wake)) {
                count(&R->stats.sq_full, 1);
                break;
            }
        if (R->todo.i == R->todo.n)
            R->todo.i = R->todo.n = 0;
        uint32_t sub = sq_pending(R);
        if (sub ||
            (atomic_load_explicit(R->ring.sq_kflags, memory_order_acquire) &
             (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))) {
            int r = sys_enter(R, sub, 0, IORING_ENTER_GETEVENTS);
            if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
                goc__fatal("io_uring_enter (completion I/O): %s",
                           goc_strerror(r));
        }
        (void)reap(R, wake);
        if (R->todo.i == R->todo.n && !queued(R) && !sq_pending(R))
            break;
    }
    atomic_store_explicit(&R->owed, R->todo.i != R->todo.n || sq_pending(R),
                          memory_order_relaxed);
}

static void *io_main(void *arg)
{
    uio_ring *R = arg;
    int err = goc__uio_ring_setup(R);
    if (!err && !(R->wake_armed = queue_wake_poll(R)))
        err = -ENOMEM;
    if (!err && goc__uio_msrecv_wanted())
        goc__uio_pbuf_setup(R); /* R->br stays NULL where it fails */
    pthread_mutex_lock(&setup_lock);
    R->setup_err = err;
    R->setup_state = 1;
    pthread_cond_broadcast(&setup_cond);
    pthread_mutex_unlock(&setup_lock);
    if (err)
        return NULL;

    todo_list todo = {0};
    while (!atomic_load(&stop)) {
        goc__glist wake = {0};
        if (!R->wake_armed) /* the queue was full when it ended */
            R->wake_armed = queue_wake_poll(R);
        take(R, &todo);
        bool full = false;
        for (; todo.i < todo.n; todo.i++)
            if (!req_write(R, todo.v[todo.i], &wake)) {
                full = true;
                count(&R->stats.sq_full, 1);
                break;
            }
        if (todo.i == todo.n)
            todo.i = todo.n = 0;
        goc__uio_deliver(R, &wake);
        unsigned wait = 0;
        if (!full) {
            /* Sleep only with nothing pushed (pairs with push). */
            atomic_store(&R->sleeping, true);
            if (!queued(R) && !atomic_load(&stop))
                wait = 1;
            else
                atomic_store(&R->sleeping, false);
        }
        int r = sys_enter(R, sq_pending(R), wait, IORING_ENTER_GETEVENTS);
        if (wait)
            atomic_store(&R->sleeping, false);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME)
            goc__fatal("io_uring_enter (completion I/O): %s", goc_strerror(r));
        (void)reap(R, &wake);
        goc__uio_deliver(R, &wake);
    }
    free(todo.v);
    return NULL;
}

/* ---- goroutines ----------------------------------------------------- */

static void io_wake(uio_ring *R)
{
    uint64_t one = 1;
    ssize_t w;
    do
        w = write(R->wake_fd, &one, sizeof one);
    while (w < 0 && errno == EINTR);
    atomic_fetch_add_explicit(&R->stats.wakes, 1, memory_order_relaxed);
}

/*
 * Push r for the io thread, and wake it if it sleeps. Where the process
 * has one CPU (defer_wakes: its affinity at start), the io thread shares
 * it with the Ms, and a wake per request costs two context switches
 * (measured: 1.2 io_uring_enter per request with 50 connections on one
 * CPU): there the push owes the wake instead, and the scheduler pays it
 * with goc__uio_flush when the processor runs out of goroutines (or on
 * its fairness tick), so the requests of a whole scheduler round go in
 * one io_uring_enter. A goroutine that pushed parks; its M reaches
 * find_runnable before it could sleep, so no request waits unsubmitted
 * while the runtime idles, and deadlock detection (a pushed op's
 * goroutine counts as a poll waiter) stays exact. With a CPU to spare
 * the wake goes at once: the io thread then submits while the processor
 * runs on (TCP echo, 100 connections: deferred wakes measured 0.72x at
 * 1 processor, 0.92x at 2).
 */
uint32_t goc__uio_push_reserve(uio_ring *R)
{
    return atomic_fetch_add_explicit(&R->qtail, 1, memory_order_relaxed);
}

/* Fill slot t, reserved by push_reserve: a push in two steps, for a
 * caller that must fix a request's place under a lock the io thread also
 * takes (an acceptor's mu) but must not wait for a slot under it. The
 * io thread takes the slots in the order they were reserved. */
void goc__uio_push_fill(uio_ring *R, uint32_t t, req *r)
{
    uio_slot *slot = &R->slots[t & R->qmask];
    /* Taken a lap of pushes ago, unless the io thread is that far behind:
     * then it is awake or woken here, and empties the slots in order up
     * to this one (each earlier one is filled already or about to be). */
    if (atomic_load_explicit(&slot->seq, memory_order_acquire) != t) {
        atomic_fetch_add_explicit(&R->slot_waits, 1, memory_order_relaxed);
        while (atomic_load_explicit(&slot->seq, memory_order_acquire) != t) {
            if (per_m)
                goc__uio_pm_drive(R); /* maybe this M's own: nobody else */
            else if (atomic_load(&R->sleeping) &&
                     atomic_exchange(&R->sleeping, false))
                io_wake(R);
            sched_yield();
        }
    }
    slot->r = r;
    atomic_store(&slot->seq, t + 1); /* filled */
    if (per_m) {
        goc__uio_pm_pushed(R);
        return;
    }
    /* seq_cst: the io thread stores sleeping, then loads the slot. */
    if (!atomic_load(&R->sleeping))
        return;
    if (!defer_wakes) {
        if (atomic_exchange(&R->sleeping, false))
            io_wake(R);
    } else if (!atomic_load_explicit(&R->wake_owed, memory_order_relaxed)) {
        /* The ring's flag first, then owed_any: a flush that finds
         * owed_any set sees the ring's. */
        atomic_store(&R->wake_owed, true);
        atomic_store(&owed_any, true);
    }
}

void goc__uio_push(uio_ring *R, req *r)
{
    goc__uio_push_fill(R, goc__uio_push_reserve(R), r);
}

/* Only the rings that owe a wake are woken (one io_uring_enter each).
 * A ring per M: the calling M drives its own. */
int goc__uio_flush(goc__glist *out)
{
    if (per_m)
        return goc__uio_pm_flush(out);
    if (goc_likely(!atomic_load_explicit(&owed_any, memory_order_relaxed)) ||
        !atomic_exchange(&owed_any, false))
        return 0;
    for (unsigned i = 0; i < nrings; i++) {
        uio_ring *R = &rings[i];
        if (!atomic_load_explicit(&R->wake_owed, memory_order_relaxed) ||
            !atomic_exchange(&R->wake_owed, false))
            continue;
        /* seq_cst: with the pushes (qhead, then sleeping) and the io
         * thread (sleeping, then qhead): an io thread awake now takes
         * the stack before it sleeps again. */
        if (atomic_load(&R->qtail) != atomic_load(&R->qhead) &&
            atomic_load(&R->sleeping) && atomic_exchange(&R->sleeping, false))
            io_wake(R);
    }
    return 0;
}

/* One request of opcode on pd's descriptor, parked on its completion in
 * mode's slot (the socket path and the file path share it; uring_io.h's
 * goc__uio_xfer has the contract). A result of -EINTR, or -EAGAIN when
 * again_retry, is "nothing happened": submitted again. */
static ssize_t uio_rw(goc__pollfd *pd, int mode, uint8_t opcode, void *buf,
                      size_t n, int msg_flags, bool again_retry, bool quiet)
{
    if (quiet)
        goc__pollfd_quiet(pd);
    if (n > INT32_MAX)
        n = INT32_MAX; /* a CQE's result is an int */
    for (;;) {
        uio_op op = {.sub = {.kind = REQ_XFER},
                     .can = {.kind = REQ_CANCEL},
                     .pd = pd,
                     .fd = goc__pollfd_fd(pd),
                     .mode = mode,
                     .opcode = opcode,
                     .msg_flags = msg_flags,
                     .buf = buf,
                     .len = (uint32_t)n};
        op.r = ring_for(op.fd);
        atomic_init(&op.pending, 1);
        goc__uio_push(op.r, &op.sub);
        int err = 0;
        while (atomic_load(&op.pending) != 0) {
            if ((err = goc__pollfd_wait(pd, mode)) == 0)
                continue; /* our completion, or a stale edge */
            /* Deadline or close: cancel, unless it has completed. */
            uint32_t one = 1;
            if (atomic_compare_exchange_strong(&op.pending, &one, 2))
                goc__uio_push(op.r,
                              &op.can); /* the ring that has the request */
            goc__pollfd_wait_pending(pd, mode, &op.pending);
        }
        int res = op.res;
        if (res == -ECANCELED && err)
            return err;
        if (res == -EINTR || (res == -EAGAIN && again_retry)) {
            if (err)
                return err;
            continue; /* nothing happened: again */
        }
        return res;
    }
}

/* Whether the io thread sleeps: then a request would cost a system call
 * to wake it and two thread switches, while a write that finds room costs
 * one system call, so a write tries the call first and only a full
 * descriptor goes to the ring. */
static bool io_thread_asleep(int fd)
{
    if (per_m)
        return true; /* the call: a request would park until the round's end */
    return atomic_load_explicit(&ring_for(fd)->sleeping, memory_order_relaxed);
}

_Atomic int goc__uio_batch_min = -1;
/* $GOC_URING_BATCH_MIN as the last start read it; -1 unset. */
static _Atomic int env_batch_min = -1;

/* Whether socket reads are requests now (goc__uio_read_by_readiness):
 * one choice for all connections, which a mix of the two paths measured
 * slower than either (TCP echo, 32 connections, 2 processors: 100k
 * msgs/s mixed, 130k all requests, 137k all readiness). */
static _Atomic bool reads_on_ring;

/* The threshold set by hand: a test's goc__uio_batch_min, else
 * $GOC_URING_BATCH_MIN; -1 for none. */
static int batch_min_by_hand(void)
{
    int min = atomic_load_explicit(&goc__uio_batch_min, memory_order_relaxed);
    return min >= 0
               ? min
               : atomic_load_explicit(&env_batch_min, memory_order_relaxed);
}

/* With a ring per M, requests must also pay for the wake-ups of Ms that
 * go idle with requests in their rings (uring_per_m.c, "Whether reads on
 * the ring pay"), unless a threshold was set by hand: then the threshold
 * alone decides. */
static bool ring_pays(void)
{
    return !per_m || batch_min_by_hand() >= 0 || goc__uio_pm_pays();
}

/* Whether a send goes to the ring even while the io thread sleeps:
 * while reads are multishot requests (below). Their data reach the io
 * thread without a request, so it sleeps more often, and a send from a
 * goroutine's thread then costs a wake of the io thread for the peer's
 * recv (its task work) on top of the system call: measured 69k msgs/s
 * against 155k with every send on the ring (TCP echo, 100 connections,
 * 2 processors). With a ring per M the send's system call is what the
 * ring saves: direct sends measured 84-85k against 112-114k on the ring
 * at 1 processor, 96-143k against 149-180k at 2 (alternated, same echo,
 * 2026-12-08). */
static bool send_by_ring(void)
{
    return atomic_load_explicit(&goc__uio_msrecv, memory_order_relaxed) &&
           atomic_load_explicit(&reads_on_ring, memory_order_relaxed) &&
           ring_pays();
}

int goc__uio_batch_min_now(void)
{
    int min = batch_min_by_hand();
    if (min < 0)
        min = per_m && goc__netpoll_procs() == 1 ? GOC__UIO_BATCH_MIN_1P
                                                 : GOC__UIO_BATCH_MIN;
    return min;
}

bool goc__uio_reads_pay(void)
{
    return ring_pays();
}

bool goc__uio_read_by_readiness(void)
{
    if (per_m)
        goc__uio_pm_count_read();
    int min = goc__uio_batch_min_now();
    bool ring = atomic_load_explicit(&reads_on_ring, memory_order_relaxed);
    if (ring) /* hysteresis: a load at the threshold does not flap */
        min -= min / 4;
    bool now = goc__netpoll_load() >= min;
    if (now != ring)
        atomic_store_explicit(&reads_on_ring, now, memory_order_relaxed);
    return !now || !ring_pays();
}

ssize_t goc__uio_xfer(goc__pollfd *pd, bool is_send, void *buf, size_t n,
                      int msg_flags)
{
    if (n > INT32_MAX)
        n = INT32_MAX;
    if (is_send && !send_by_ring() && io_thread_asleep(goc__pollfd_fd(pd))) {
        ssize_t r =
            sys_send(goc__pollfd_fd(pd), buf, n, msg_flags | MSG_DONTWAIT);
        if (r >= 0)
            return r;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
    /* Only a recv turns readiness reports off: a socket's reader may park
     * on an edge (goc__uio_read_by_readiness), and a send must not turn
     * them off under it (pollfd.h: goc__pollfd_unquiet). */
    return uio_rw(pd, is_send ? GOC__POLL_WRITE : GOC__POLL_READ,
                  is_send ? IORING_OP_SEND : IORING_OP_RECV, buf, n, msg_flags,
                  true, !is_send);
}

ssize_t goc__uio_file_xfer(goc__pollfd *pd, bool is_write, void *buf, size_t n)
{
    if (n > INT32_MAX)
        n = INT32_MAX;
    if (goc__pollfd_polled(pd) && io_thread_asleep(goc__pollfd_fd(pd))) {
        /* A pipe's descriptor is non-blocking: the call first, as a
         * socket's send, and for a read too: a stream read finds data
         * waiting more often than a socket's (a writer fills the pipe
         * ahead of its reader), and a request for data already there
         * costs two thread switches for nothing. Only a read that would
         * wait goes to the ring. */
        int fd = goc__pollfd_fd(pd);
        ssize_t r = is_write ? write(fd, buf, n) : read(fd, buf, n);
        if (r >= 0)
            return r;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
    if (goc__pollfd_polled(pd) &&
        atomic_load_explicit(&goc__uio_test_refuse_files, memory_order_relaxed))
        return -EAGAIN; /* as a kernel that honours O_NONBLOCK would */
    return uio_rw(pd, is_write ? GOC__POLL_WRITE : GOC__POLL_READ,
                  is_write ? IORING_OP_WRITE : IORING_OP_READ, buf, n, 0, false,
                  true);
}

/* ---- multishot accept (goroutines) --------------------------------- */

/* ---- multishot recv (goroutines) ------------------------------------ */

/* ---- start and stop ------------------------------------------------- */

int goc__uio_available(const char **why)
{
    struct io_uring_params par;
    memset(&par, 0, sizeof par);
    par.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                IORING_SETUP_SUBMIT_ALL;
    int fd = goc__uring_sys_setup(4, &par);
    if (fd < 0) {
        *why = "io_uring_setup refuses IORING_SETUP_DEFER_TASKRUN "
               "(Linux 6.1 or later needed)";
        return fd;
    }
    const int ops[] = {IORING_OP_RECV,         IORING_OP_SEND,
                       IORING_OP_READ,         IORING_OP_WRITE,
                       IORING_OP_ASYNC_CANCEL, IORING_OP_POLL_ADD};
    bool probe_failed;
    int err =
        goc__uring_probe(fd, ops, sizeof ops / sizeof ops[0], &probe_failed);
    if (err < 0)
        *why = probe_failed ? "IORING_REGISTER_PROBE failed"
                            : "the kernel lacks a needed operation (recv, "
                              "send, read, write, async cancel or poll "
                              "add)";
    close(fd);
    return err;
}

int goc__uio_slots_init(uio_ring *R)
{
    uint32_t qslots = atomic_load(&goc__uio_test_qslots);
    if (!qslots || (qslots & (qslots - 1)))
        qslots = QSLOTS;
    R->qmask = qslots - 1;
    if (!(R->slots = calloc(qslots, sizeof *R->slots)))
        return -ENOMEM;
    for (uint32_t j = 0; j < qslots; j++) /* free for tickets 0..n-1 */
        atomic_init(&R->slots[j].seq, j);
    return 0;
}

/* The number of io threads' rings of a goc_main, 0 for a ring per M:
 * goc__uio_test_rings (< 0: a ring per M), else $GOC_URING_RINGS (0 to
 * RINGS_MAX; 1 and more for A/B runs), else 0: a ring per M measured
 * faster than any number of io threads (docs/net.md, "A ring per M").
 * Fixed while the runtime runs. */
static unsigned rings_wanted(void)
{
    int t = atomic_load(&goc__uio_test_rings);
    if (t > 0)
        return t > RINGS_MAX ? RINGS_MAX : (unsigned)t;
    if (t < 0)
        return 0;
    return (unsigned)goc__env_knob("GOC_URING_RINGS", 0, RINGS_MAX, 0);
}

int goc__uio_init(bool want)
{
    on = false;
    /* The knobs are checked whichever backend runs: a bad value is an
     * error at start, not a default. */
    (void)rings_wanted();
    (void)goc__uio_msrecv_wanted();
    /* $GOC_URING_BATCH_MIN, for A/B runs: the threshold of
     * goc__uio_read_by_readiness, for this goc_main only (unset: by the
     * number of processors). A test's goc__uio_batch_min comes first. */
    atomic_store(&env_batch_min,
                 (int)goc__env_knob("GOC_URING_BATCH_MIN", 0, 1000000, -1));
    if (!want)
        return 0;
    if (atomic_load(&goc__uio_test_fail_init))
        return -EMFILE;
    atomic_store(&stop, false);
    atomic_store(&owed_any, false);
    atomic_store(&reads_on_ring, false);
    cpu_set_t cpus;
    defer_wakes = atomic_load(&goc__uio_test_defer_wakes) ||
                  (sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
                   CPU_COUNT(&cpus) == 1);
    unsigned k = rings_wanted();
    per_m = k == 0;
    if (per_m)
        k = goc__uio_pm_rings_wanted();
    atomic_store(&goc__uio_rcv_lim, per_m);
    rings = aligned_alloc(LINE, k * sizeof *rings);
    if (!rings)
        return -ENOMEM;
    memset(rings, 0, k * sizeof *rings);
    nrings = k;
    for (unsigned i = 0; i < k; i++) {
        rings[i].ring.fd = -1;
        rings[i].wake_fd = -1;
        pthread_mutex_init(&rings[i].ready_lock, NULL);
        pthread_mutex_init(&rings[i].br_lock, NULL);
        pthread_mutex_init(&rings[i].drive_lock, NULL);
    }
    atomic_store(&goc__uio_msrecv, false);
    for (unsigned i = 0; i < k && !per_m; i++)
        if (goc__uio_slots_init(&rings[i]) < 0) {
            goc__uio_fini();
            return -ENOMEM;
        }
    epoch++;
    int err = 0;
    if (per_m)
        err = goc__uio_pm_init(rings, k);
    for (unsigned i = 0; i < k && !err && !per_m; i++) {
        uio_ring *R = &rings[i];
        R->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (R->wake_fd < 0) {
            err = -errno;
            break;
        }
        if ((err = -goc__helper_thread_start(&R->thread, io_main, R)))
            break;
        pthread_mutex_lock(&setup_lock);
        while (!R->setup_state)
            pthread_cond_wait(&setup_cond, &setup_lock);
        err = R->setup_err;
        pthread_mutex_unlock(&setup_lock);
        R->started = true;
    }
    if (err) {
        goc__uio_fini();
        return err;
    }
    /* Every ring made has its buffers: with a ring per M only ring 0 is
     * made yet, and a later one without them is not used
     * (uring_per_m.c's ring_per_m_setup). */
    bool ms = true;
    for (unsigned i = 0; i < (per_m ? 1 : k); i++)
        if (!rings[i].br)
            ms = false;
    atomic_store(&goc__uio_msrecv, ms);
    on = true;
    return 0;
}

static void stats_add(goc__uio_stats *st, const uio_ring *R)
{
    st->submitted += atomic_load(&R->stats.submitted);
    st->cancels += atomic_load(&R->stats.cancels);
    st->sq_full += atomic_load(&R->stats.sq_full);
    st->enters += atomic_load(&R->stats.enters);
    st->wakes += atomic_load(&R->stats.wakes);
    st->accept_arms += atomic_load(&R->stats.accept_arms);
    st->accepted += atomic_load(&R->stats.accepted);
    st->recv_arms += atomic_load(&R->stats.recv_arms);
    st->recv_cqes += atomic_load(&R->stats.recv_cqes);
    st->recvs += atomic_load(&R->stats.recvs);
    st->recv_stops += atomic_load(&R->stats.recv_stops);
    st->recv_nobufs += atomic_load(&R->stats.recv_nobufs);
    st->slot_waits += atomic_load(&R->slot_waits);
}

void goc__uio_fini(void)
{
    if (!rings)
        return;
    if (per_m)
        goc__uio_pm_fini();
    atomic_store(&stop, true);
    for (unsigned i = 0; i < nrings; i++) {
        uio_ring *R = &rings[i];
        if (!R->started)
            continue;
        uint64_t one = 1;
        ssize_t w = write(R->wake_fd, &one, sizeof one);
        (void)w;
    }
    for (unsigned i = 0; i < nrings; i++)
        if (rings[i].started) /* the kernel ends its requests first */
            pthread_join(rings[i].thread, NULL);
    atomic_store(&goc__uio_msrecv, false);
    goc__uio_rcv_spill_all(); /* before the pools go */
    uio_ring *rs = rings;
    unsigned k = nrings;
    pthread_mutex_lock(&stats_lock);
    for (unsigned i = 0; i < k; i++)
        stats_add(&stats_past, &rs[i]); /* the counts are since start */
    rings = NULL;
    nrings = 0;
    pthread_mutex_unlock(&stats_lock);
    for (unsigned i = 0; i < k; i++) {
        uio_ring *R = &rs[i];
        goc__uring_fini(&R->ring);
        if (R->wake_fd >= 0)
            close(R->wake_fd);
        pthread_mutex_destroy(&R->ready_lock);
        pthread_mutex_destroy(&R->br_lock);
        pthread_mutex_destroy(&R->drive_lock);
        goc__uio_pbuf_fini(R); /* the ring is gone: no buffer written */
        free(R->slots);
    }
    free(rs);
    epoch++; /* the requests of listeners that outlive it are over */
}

void goc__uio_get_stats(goc__uio_stats *st)
{
    pthread_mutex_lock(&stats_lock);
    *st = stats_past;
    for (unsigned i = 0; i < nrings; i++)
        stats_add(st, &rings[i]);
    pthread_mutex_unlock(&stats_lock);
}

uint64_t goc__uio_ring_submitted(unsigned i)
{
    return i < nrings ? atomic_load(&rings[i].stats.submitted) : 0;
}

unsigned goc__uio_rings(void)
{
    return nrings;
}

bool goc__uio_msrecv_on(void)
{
    return atomic_load(&goc__uio_msrecv);
}

int64_t goc__uio_pbuf_held(void)
{
    int64_t n = 0;
    for (unsigned i = 0; i < nrings; i++) {
        uio_ring *R = &rings[i];
        if (per_m && !atomic_load(&R->made))
            continue;
        pthread_mutex_lock(&R->br_lock);
        uint64_t given = R->given;
        pthread_mutex_unlock(&R->br_lock);
        if (R->br) /* PBUF_N given at start; each CQE fills one */
            n += (int64_t)PBUF_N -
                 (int64_t)(given - atomic_load(&R->stats.recv_cqes));
    }
    return n;
}

int64_t goc__uio_msrecv_armed(void)
{
    int64_t n = 0;
    for (unsigned i = 0; i < nrings; i++)
        n += (int64_t)atomic_load(&rings[i].stats.armed);
    return n;
}

int64_t goc__uio_inflight(void)
{
    int64_t n = 0;
    for (unsigned i = 0; i < nrings; i++)
        n += (int64_t)atomic_load(&rings[i].stats.inflight);
    return n;
}
