/*
 * poller_uring.c - the poller backend on io_uring (poller.h is the
 * contract), with raw system calls: no liburing.
 *
 * One ring per goc_main, created O_CLOEXEC by the kernel (an io_uring
 * descriptor always is), its rings mapped MADV_DONTFORK. Readiness, as
 * the contract asks: each registration is one multishot IORING_OP_POLL_ADD
 * request, which posts a completion (CQE) for every wake-up of the file
 * that finds it in a state of the interest, as EPOLLET reports an edge.
 *
 * Registrations
 * -------------
 * A table indexed by descriptor (chunks of CHUNK, allocated on first use,
 * freed by fini) holds each registration's pollable and its key, the
 * user_data of its current poll request: a 32-bit sequence number (never
 * 0) above the descriptor. arm() cancels the request (IORING_OP_ASYNC_CANCEL
 * by key) and adds a new one under a new key, on whatever open file the
 * number names now, which reports the current readiness afresh; close()
 * removes it and clears the key. A CQE whose key is not its descriptor's
 * current one is stale (a removed request's last word) and dropped, so a
 * descriptor number reused by a new open file never gets an old file's
 * events. The polling thread reads key, pollable, key again (the
 * registrant writes the pollable before the key): a CQE is dispatched
 * only to the pollable its key was issued for. A request the kernel ends
 * while its key is current (a completion queue that overflowed) is
 * re-added by the polling thread.
 *
 * A poll request holds a reference to its file. The removal is submitted
 * before close() returns, and the kernel drops the reference when it has
 * completed the removed request (moments later, in the context of the
 * thread that submitted the request), so the caller's close() of the
 * descriptor ends the file then.
 *
 * Submission: a mutex (sq_lock) serialises writers of the submission
 * queue; each open/arm/close submits its entries at once (one
 * io_uring_enter, as epoll_ctl). Entries the kernel did not take are
 * submitted by the next enter of anyone, the polling thread's included.
 *
 * Waking and barriers
 * -------------------
 * goc__poller_wake writes an eventfd (once until the poller read it:
 * wake_sig coalesces). The polling thread keeps a one-shot poll request on
 * it, re-added by the thread that polls next, so that the eventfd's
 * wake-up completes the request in the context of the thread that sleeps
 * in io_uring_enter (the kernel completes a poll request on the thread
 * that submitted it). barrier(p) lists p and wakes the poller; every wait
 * fires the pollables listed when its batch has been dispatched, which is
 * after every event read before they were listed (one thread polls at a
 * time and dispatches its whole batch before the next).
 *
 * Task work is cooperative (IORING_SETUP_COOP_TASKRUN, 5.19; none before):
 * a completion that the kernel finishes in a submitter's context waits
 * for that thread's next entry into the kernel, a system call or an
 * interrupt's return (a tick at most), instead of an inter-processor
 * interrupt that stops it at once. A sleeping submitter is still woken.
 * On the 2-vCPU VMs here the interrupts cost more than the wait: TCP
 * echo, 100 connections, 2 processors, 1.77x the messages a second
 * (docs/net.md).
 * IORING_SETUP_TASKRUN_FLAG tells a poll that finds nothing that this
 * thread has task work of its own to run (IORING_SQ_TASKRUN).
 *
 * Waiting: io_uring_enter(GETEVENTS) with IORING_ENTER_EXT_ARG's relative
 * timeout in nanoseconds; completions already in the ring are reaped
 * without a system call. The kernel keeps completions that do not fit the
 * queue (IORING_FEAT_NODROP) and flags it; the poller then flushes them.
 *
 * Lock order: sq_lock and barrier_lock are leaves; ready() functions run
 * with neither.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netpoll/poller.h"
#include "netpoll/uring_ring.h"

#define SQ_ENTRIES 256
#define CQ_ENTRIES 16384
#define BATCH 128
#define BARRIERS_MAX 8
#define CHUNK 1024
#define NCHUNKS 8192 /* descriptors below 8M */

/* user_data of the backend's own requests (sequence number 0). */
#define UD_IGNORE 0 /* a removal's completion */
#define UD_WAKE 1   /* the wake eventfd's poll */

typedef struct reg {
    _Atomic uint64_t key; /* current request's user_data, 0: none */
    _Atomic(goc__pollable *) p;
    uint32_t interest; /* sq_lock */
    dev_t dev;         /* sq_lock: the open file's identity at open */
    ino_t ino;
} reg;

static goc__uring ring = {.fd = -1}; /* sq_tail and SQEs: sq_lock */
static int wake_fd = -1;
static int probe_ep = -1; /* tells pollable character devices (open) */

static pthread_mutex_t sq_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t seq;              /* sq_lock: the last key's sequence number */
static bool wake_armed;           /* the polling thread */
static _Atomic uint32_t wake_sig; /* a wake is pending (coalesces) */

static _Atomic(reg *) chunks[NCHUNKS];

_Atomic uint32_t goc__poller_uring_test_cq_entries;
_Atomic uint64_t goc__poller_uring_overflows;

static pthread_mutex_t barrier_lock = PTHREAD_MUTEX_INITIALIZER;
static goc__pollable *barrier_wait[BARRIERS_MAX];
static int nbarrier;
static _Atomic bool barriers; /* nbarrier > 0, read without the lock */

/* ---- system calls --------------------------------------------------- */

static int sys_enter(unsigned to_submit, unsigned min_complete, unsigned flags,
                     const void *arg, size_t argsz)
{
    return goc__uring_enter(&ring, to_submit, min_complete, flags, arg, argsz);
}

/* ---- the registration table ---------------------------------------- */

static reg *reg_get(int fd, bool create)
{
    if (fd < 0 || fd / CHUNK >= NCHUNKS)
        return NULL;
    _Atomic(reg *) *slot = &chunks[fd / CHUNK];
    reg *c = atomic_load_explicit(slot, memory_order_acquire);
    if (!c && create) {
        c = calloc(CHUNK, sizeof *c);
        if (!c)
            return NULL;
        reg *expect = NULL;
        if (!atomic_compare_exchange_strong(slot, &expect, c)) {
            free(c);
            c = expect;
        }
    }
    return c ? &c[fd % CHUNK] : NULL;
}

static uint64_t key_new(int fd) /* sq_lock */
{
    if (++seq == 0)
        seq = 1;
    return (uint64_t)seq << 32 | (uint32_t)fd;
}

/* ---- the submission queue (sq_lock) --------------------------------- */

static uint32_t sq_pending(void)
{
    return goc__uring_sq_pending(&ring);
}

static struct io_uring_sqe *sqe_get(void)
{
    struct io_uring_sqe *e;
    while (!(e = goc__uring_sqe_get(&ring))) {
        /* Full: submit what is there (the kernel takes them in order). */
        int r = sys_enter(sq_pending(), 0, 0, NULL, 0);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
            return NULL;
        if (r <= 0)
            sched_yield();
    }
    return e;
}

static void sqe_push(void)
{
    goc__uring_sqe_push(&ring);
}

/* Submit what is queued. A failure leaves the entries for the next
 * enter; the poller, woken, makes one. */
static void sq_flush(void)
{
    uint32_t n = sq_pending();
    if (n == 0)
        return;
    int r;
    do
        r = sys_enter(n, 0, 0, NULL, 0);
    while (r == -EINTR);
    if (r < (int)n)
        goc__poller_uring.wake();
}

/* No POLLPRI: a poll request reports the wake-up's key where it has
 * one, not the file's state, and a socket's every data wake-up
 * (sock_def_readable) carries EPOLLPRI. Reported, it would tell pollfd
 * that each read may stop short of urgent data, and cost a read that
 * says EAGAIN per message. A TCP read at the urgent mark is told apart
 * by TCP_INQ instead, which every kernel with io_uring has (net/conn.c). */
static uint32_t to_poll(uint32_t interest)
{
    uint32_t ev = POLLERR | POLLHUP;
    if (interest & GOC__POLL_READ)
        ev |= POLLIN | POLLRDHUP;
    if (interest & GOC__POLL_WRITE)
        ev |= POLLOUT;
    return ev;
}

static int queue_poll_add(int fd, uint32_t mask, uint64_t ud, bool multi)
{
    struct io_uring_sqe *e = sqe_get();
    if (!e)
        return -ENOMEM;
    e->opcode = IORING_OP_POLL_ADD;
    e->fd = fd;
    e->poll32_events = mask;
    e->len = multi ? IORING_POLL_ADD_MULTI : 0;
    e->user_data = ud;
    sqe_push();
    return 0;
}

static int queue_poll_remove(uint64_t ud)
{
    struct io_uring_sqe *e = sqe_get();
    if (!e)
        return -ENOMEM;
    /* Not IORING_OP_POLL_REMOVE: it fails (-EALREADY) while a wake-up of
     * the request is being handled, and the request lives on. A cancel
     * marks the request and its handler ends it. */
    e->opcode = IORING_OP_ASYNC_CANCEL;
    e->fd = -1;
    e->addr = ud;
    e->user_data = UD_IGNORE;
    if (ring.features & IORING_FEAT_CQE_SKIP)
        e->flags = IOSQE_CQE_SKIP_SUCCESS;
    sqe_push();
    return 0;
}

/* A new request for r (fd), under a new key; the pollable is published
 * before the key. */
static int reg_add(reg *r, int fd, uint32_t interest, goc__pollable *p)
{
    uint64_t key = key_new(fd);
    atomic_store_explicit(&r->p, p, memory_order_relaxed);
    atomic_store_explicit(&r->key, key, memory_order_release);
    r->interest = interest;
    if (interest == 0)
        return 0; /* keyed, but nothing asked */
    return queue_poll_add(fd, to_poll(interest), key, true);
}

/* ---- the contract --------------------------------------------------- */

static void ur_fini(void);

static int ur_available(const char **why)
{
    FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
    if (f) {
        int v = 0;
        int n = fscanf(f, "%d", &v);
        fclose(f);
        if (n == 1 && v == 2) {
            *why = "disabled by /proc/sys/kernel/io_uring_disabled";
            return -EPERM;
        }
    }
    struct io_uring_params par;
    memset(&par, 0, sizeof par);
    int fd = goc__uring_sys_setup(4, &par);
    if (fd < 0) {
        *why = fd == -ENOSYS ? "the kernel has no io_uring"
                             : "io_uring_setup failed";
        return fd;
    }
    int err = 0;
    uint32_t need = IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG |
                    IORING_FEAT_RSRC_TAGS; /* multishot poll: 5.13 */
    const int ops[] = {IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL};
    bool probe_failed;
    if ((par.features & need) != need) {
        *why = "the kernel's io_uring is older than Linux 5.13";
        err = -EOPNOTSUPP;
    } else if ((err = goc__uring_probe(fd, ops, sizeof ops / sizeof ops[0],
                                       &probe_failed)) < 0) {
        *why = probe_failed ? "IORING_REGISTER_PROBE failed"
                            : "the kernel lacks a needed operation "
                              "(poll add or async cancel)";
    }
    close(fd);
    return err;
}

static int ur_init(void)
{
    struct io_uring_params par;
    unsigned sq_n = SQ_ENTRIES, cq_n = CQ_ENTRIES;
    uint32_t test_cq = atomic_load(&goc__poller_uring_test_cq_entries);
    if (test_cq >= 4) {
        cq_n = test_cq;
        sq_n = test_cq / 2;
    }
    /* Cooperative task work where the kernel has it (5.19), else none. */
    static const unsigned coop[] = {
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, 0};
    int err = -EINVAL;
    for (size_t i = 0; i < 2 && err == -EINVAL; i++) {
        memset(&par, 0, sizeof par);
        par.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | coop[i];
        par.cq_entries = cq_n;
        err = goc__uring_init(&ring, sq_n, &par);
    }
    if (err < 0)
        return err;
    seq = 0;

    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    probe_ep = epoll_create1(EPOLL_CLOEXEC);
    if (wake_fd < 0 || probe_ep < 0) {
        err = -errno;
        goto fail;
    }
    atomic_store(&wake_sig, 0);
    wake_armed = false;
    nbarrier = 0;
    return 0;
fail:
    ur_fini();
    return err;
}

static void ur_fini(void)
{
    goc__uring_fini(&ring); /* ends every request */
    if (wake_fd >= 0)
        close(wake_fd);
    if (probe_ep >= 0)
        close(probe_ep);
    wake_fd = probe_ep = -1;
    for (int i = 0; i < NCHUNKS; i++) {
        reg *c = atomic_exchange(&chunks[i], NULL);
        free(c);
    }
    pthread_mutex_lock(&barrier_lock);
    nbarrier = 0;
    atomic_store(&barriers, false);
    pthread_mutex_unlock(&barrier_lock);
}

/* epoll refuses what cannot be polled (regular files, directories,
 * devices without a poll method) with EPERM; a poll request would report
 * them ready forever instead. Refuse the same: the caller does blocking
 * I/O in a system call section. */
static int pollable(int fd, struct stat *st_out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *st_out = st;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
        return -EPERM;
    if (S_ISCHR(st.st_mode)) {
        struct epoll_event ev = {.events = EPOLLIN};
        if (epoll_ctl(probe_ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            return -errno;
        (void)epoll_ctl(probe_ep, EPOLL_CTL_DEL, fd, &ev);
    }
    return 0;
}

static int ur_open(int fd, uint32_t interest, goc__pollable *p)
{
    struct stat st = {0};
    int err = pollable(fd, &st);
    if (err)
        return err;
    reg *r = reg_get(fd, true);
    if (!r)
        return fd < 0 ? -EBADF : -ENOMEM;
    goc__tsan_release(p); /* pairs with the acquire in dispatch */
    pthread_mutex_lock(&sq_lock);
    if (atomic_load_explicit(&r->key, memory_order_relaxed) != 0) {
        pthread_mutex_unlock(&sq_lock);
        return -EEXIST;
    }
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    err = reg_add(r, fd, interest, p);
    if (err)
        atomic_store(&r->key, 0);
    else
        sq_flush();
    pthread_mutex_unlock(&sq_lock);
    return err;
}

static int ur_arm(int fd, uint32_t interest, goc__pollable *p)
{
    reg *r = reg_get(fd, false);
    struct stat st;
    if (!r || fstat(fd, &st) != 0)
        return -ENOENT;
    goc__tsan_release(p);
    pthread_mutex_lock(&sq_lock);
    uint64_t old = atomic_load_explicit(&r->key, memory_order_relaxed);
    int err = -ENOENT;
    /* epoll's registration is of this open file under this number; a
     * number closed and reused by another file is not registered. Told
     * apart by inode (not for anonymous inodes, which eventfds and the
     * like share: those get the new file's readiness). The old file's
     * request goes, as epoll's registration went with its file. */
    if (old != 0 && (st.st_dev != r->dev || st.st_ino != r->ino)) {
        atomic_store_explicit(&r->key, 0, memory_order_release);
        if (r->interest)
            (void)queue_poll_remove(old);
        r->interest = 0;
        sq_flush();
    } else if (old != 0) {
        err = r->interest ? queue_poll_remove(old) : 0;
        if (!err)
            err = reg_add(r, fd, interest, p);
        if (err)
            atomic_store(&r->key, 0);
        sq_flush();
    }
    pthread_mutex_unlock(&sq_lock);
    return err;
}

static int ur_close(int fd)
{
    reg *r = reg_get(fd, false);
    if (!r)
        return -ENOENT;
    pthread_mutex_lock(&sq_lock);
    uint64_t old = atomic_load_explicit(&r->key, memory_order_relaxed);
    int err = -ENOENT;
    if (old != 0) {
        atomic_store_explicit(&r->key, 0, memory_order_release);
        err = r->interest ? queue_poll_remove(old) : 0;
        r->interest = 0;
        sq_flush();
    }
    pthread_mutex_unlock(&sq_lock);
    return err;
}

static void ur_wake(void)
{
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong(&wake_sig, &zero, 1)) {
        uint64_t one = 1;
        ssize_t r;
        do
            r = write(wake_fd, &one, sizeof one);
        while (r < 0 && errno == EINTR);
    }
}

static int ur_barrier(goc__pollable *p)
{
    pthread_mutex_lock(&barrier_lock);
    bool listed = false;
    for (int i = 0; i < nbarrier && !listed; i++)
        listed = barrier_wait[i] == p;
    if (!listed) {
        if (nbarrier == BARRIERS_MAX) {
            pthread_mutex_unlock(&barrier_lock);
            return -EAGAIN;
        }
        barrier_wait[nbarrier++] = p;
        atomic_store(&barriers, true);
    }
    pthread_mutex_unlock(&barrier_lock);
    ur_wake(); /* listed first: the wait it ends fires p */
    return 0;
}

static void barrier_fire(goc__glist *wake)
{
    goc__pollable *fire[BARRIERS_MAX];
    if (!atomic_load(&barriers))
        return;
    pthread_mutex_lock(&barrier_lock);
    int n = nbarrier;
    for (int i = 0; i < n; i++)
        fire[i] = barrier_wait[i];
    nbarrier = 0;
    atomic_store(&barriers, false);
    pthread_mutex_unlock(&barrier_lock);
    for (int i = 0; i < n; i++)
        fire[i]->ready(fire[i], 0, wake);
}

/* The request behind a CQE that carries no IORING_CQE_F_MORE has ended;
 * while its key is current the registration must go on: add it again. */
static void reg_renew(uint64_t key)
{
    int fd = (int)(uint32_t)key;
    reg *r = reg_get(fd, false);
    if (!r)
        return;
    pthread_mutex_lock(&sq_lock);
    if (atomic_load_explicit(&r->key, memory_order_relaxed) == key &&
        r->interest != 0) {
        goc__pollable *p = atomic_load_explicit(&r->p, memory_order_relaxed);
        if (reg_add(r, fd, r->interest, p) != 0)
            atomic_store(&r->key, 0);
    }
    pthread_mutex_unlock(&sq_lock);
}

static int dispatch(const struct io_uring_cqe *c, goc__glist *wake)
{
    uint64_t key = c->user_data;
    if (key == UD_IGNORE)
        return 0;
    if (key == UD_WAKE) {
        uint64_t v;
        ssize_t r = read(wake_fd, &v, sizeof v);
        (void)r;
        atomic_store(&wake_sig, 0);
        wake_armed = false;
        return 0;
    }
    reg *r = reg_get((int)(uint32_t)key, false);
    if (!r || atomic_load_explicit(&r->key, memory_order_acquire) != key)
        return 0; /* stale: removed or replaced */
    goc__pollable *p = atomic_load_explicit(&r->p, memory_order_relaxed);
    if (atomic_load_explicit(&r->key, memory_order_acquire) != key)
        return 0;
    bool more = c->flags & IORING_CQE_F_MORE;
    uint32_t ev;
    if (c->res >= 0)
        ev = goc__poller_events((uint32_t)c->res);
    else if (c->res == -ECANCELED || c->res == -ENOMEM)
        ev = 0; /* ended by the kernel: renewed below */
    else
        ev = GOC__POLL_ERR; /* the registrant's next call says why */
    if (!more && (c->res >= 0 || ev == 0))
        reg_renew(key);
    if (ev == 0)
        return 0;
    goc__tsan_acquire(p); /* pairs with the release in open/arm */
    p->ready(p, ev, wake);
    return 1;
}

static uint32_t cq_ready(void)
{
    return goc__uring_cq_ready(&ring);
}

/* Reap and dispatch what the completion queue holds. */
static int reap(goc__glist *wake)
{
    int n = 0;
    for (int round = 0; round < 64; round++) {
        struct io_uring_cqe batch[BATCH];
        uint32_t head =
            atomic_load_explicit(ring.cq_khead, memory_order_relaxed);
        uint32_t tail =
            atomic_load_explicit(ring.cq_ktail, memory_order_acquire);
        uint32_t k = 0;
        for (; head != tail && k < BATCH; head++, k++)
            batch[k] = ring.cqes[head & ring.cq_mask];
        atomic_store_explicit(ring.cq_khead, head, memory_order_release);
        for (uint32_t i = 0; i < k; i++)
            n += dispatch(&batch[i], wake);
        if (k < BATCH) {
            /* Completions the queue could not take wait in the kernel. */
            if (!(atomic_load_explicit(ring.sq_kflags, memory_order_acquire) &
                  IORING_SQ_CQ_OVERFLOW))
                break;
            atomic_fetch_add_explicit(&goc__poller_uring_overflows, 1,
                                      memory_order_relaxed);
            (void)sys_enter(0, 0, IORING_ENTER_GETEVENTS, NULL, 0);
        }
    }
    return n;
}

static int ur_wait(int64_t delay, goc__glist *wake)
{
    if (!wake_armed) {
        /* Added by this thread: the eventfd's wake-up completes it
         * here, where the wait sleeps. */
        pthread_mutex_lock(&sq_lock);
        wake_armed = queue_poll_add(wake_fd, POLLIN, UD_WAKE, false) == 0;
        pthread_mutex_unlock(&sq_lock);
    }
    uint32_t flags = atomic_load_explicit(ring.sq_kflags, memory_order_acquire);
    uint32_t submit =
        atomic_load_explicit(ring.sq_ktail, memory_order_acquire) -
        atomic_load_explicit(ring.sq_khead, memory_order_acquire);
    if (delay != 0 && cq_ready() == 0) {
        struct __kernel_timespec ts = {.tv_sec = delay / GOC_SECOND,
                                       .tv_nsec = delay % GOC_SECOND};
        struct io_uring_getevents_arg arg = {
            .sigmask = 0,
            .sigmask_sz = _NSIG / 8,
            .ts = delay > 0 ? (uint64_t)(uintptr_t)&ts : 0,
        };
        (void)sys_enter(submit, 1,
                        IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg,
                        sizeof arg);
    } else if (submit ||
               (flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN))) {
        (void)sys_enter(submit, 0, IORING_ENTER_GETEVENTS, NULL, 0);
    }
    int n = reap(wake);
    barrier_fire(wake);
    return n;
}

const goc__poller_ops goc__poller_uring = {
    .name = "io_uring",
    .available = ur_available,
    .init = ur_init,
    .fini = ur_fini,
    .open = ur_open,
    .arm = ur_arm,
    .close = ur_close,
    .barrier = ur_barrier,
    .wait = ur_wait,
    .wake = ur_wake,
};
