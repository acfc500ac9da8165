/*
 * poller_epoll.c - the poller backend on Linux epoll (poller.h is the
 * contract).
 *
 * One epoll instance per goc_main. Descriptors are registered once with
 * EPOLLET (edge-triggered) and the interest translated from GOC__POLL_*;
 * data.ptr is the registrant's goc__pollable. Two eventfds of the backend
 * sit beside them:
 *  - the wake eventfd (EPOLLIN, edge-triggered, never read: each write
 *    is an edge, and the counter cannot reach its limit of 2^64 - 2 one
 *    wake at a time): goc__poller_wake writes it, at most once until the
 *    waiting thread has seen it (wake_sig coalesces). Not reading it
 *    saves a system call per wake (completion I/O's io thread wakes the
 *    poller for each batch);
 *  - the barrier eventfd, registered EPOLLOUT|EPOLLONESHOT and always
 *    writable: re-arming it (EPOLL_CTL_MOD) makes the next epoll_wait
 *    return it once. Since one thread polls at a time and dispatches its
 *    whole batch before the next epoll_wait, by the time that event is
 *    dispatched every batch read before the re-arm has been dispatched:
 *    the barrier's promise.
 *
 * epoll_pwait2 gives nanosecond timeouts, so a wait is never early and
 * rarely more than the kernel's timer slack late; where the kernel lacks
 * it, the millisecond timeout of epoll_wait is rounded up.
 *
 * Lock order: barrier_lock is a leaf (ready() functions run without it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "netpoll/poller.h"

#define BATCH 128
#define BARRIERS_MAX 8

static int epfd = -1;
static int wake_fd = -1;
static int barrier_fd = -1;
static _Atomic uint32_t wake_sig; /* a wake is pending (coalesces) */
static _Atomic int has_pwait2 = 1;
/* data.ptr of the backend's own eventfds. */
static goc__pollable wake_sentinel, barrier_sentinel;

/* Pollables waiting for the barrier (barrier_lock). */
static pthread_mutex_t barrier_lock = PTHREAD_MUTEX_INITIALIZER;
static goc__pollable *barrier_wait[BARRIERS_MAX];
static int nbarrier;

static uint32_t to_epoll(uint32_t interest)
{
    uint32_t ev = EPOLLET;
    if (interest & GOC__POLL_READ)
        ev |= EPOLLIN | EPOLLRDHUP | EPOLLPRI;
    if (interest & GOC__POLL_WRITE)
        ev |= EPOLLOUT;
    return ev;
}

/* goc__poller_events reads poll(2) bits; epoll's have the same values. */
_Static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT &&
                   EPOLLRDHUP == POLLRDHUP && EPOLLPRI == POLLPRI &&
                   EPOLLHUP == POLLHUP && EPOLLERR == POLLERR,
               "epoll and poll event bits differ");

/* goc__poller_events without a branch (a call and six tests, at every
 * event): the bits move by fixed shifts. */
#define U32(x) ((uint32_t)(x))
_Static_assert(U32(GOC__POLL_READ) == U32(EPOLLIN) &&
                   U32(GOC__POLL_WRITE) == U32(EPOLLOUT) >> 1 &&
                   U32(GOC__POLL_RDHUP) == U32(EPOLLRDHUP) >> 11 &&
                   U32(GOC__POLL_PRI) == U32(EPOLLPRI) << 2 &&
                   U32(GOC__POLL_HUP) == U32(EPOLLHUP) &&
                   U32(GOC__POLL_ERR) == U32(EPOLLERR) << 2,
               "the shifts below are wrong");
#undef U32
static inline uint32_t ep_events(uint32_t ev)
{
    return (ev & (EPOLLIN | EPOLLHUP)) | ((ev >> 1) & GOC__POLL_WRITE) |
           ((ev >> 11) & GOC__POLL_RDHUP) |
           ((ev << 2) & (GOC__POLL_PRI | GOC__POLL_ERR));
}

static int ctl(int op, int fd, uint32_t events, void *ptr)
{
    /* epoll hands ptr to the polling thread through the kernel, which
     * ThreadSanitizer cannot see: pairs with the acquire in
     * goc__poller_wait, so that what the registrant wrote is seen. */
    if (ptr)
        goc__tsan_release(ptr);
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    return epoll_ctl(epfd, op, fd, &ev) == 0 ? 0 : -errno;
}

static void ep_fini(void);

static int ep_init(void)
{
    int err;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -errno;
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    barrier_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0 || barrier_fd < 0) {
        err = -errno;
        goto fail;
    }
    if ((err =
             ctl(EPOLL_CTL_ADD, wake_fd, EPOLLIN | EPOLLET, &wake_sentinel)) ||
        (err = ctl(EPOLL_CTL_ADD, barrier_fd, EPOLLONESHOT, &barrier_sentinel)))
        goto fail;
    atomic_store(&wake_sig, 0);
    nbarrier = 0;
    return 0;
fail:
    ep_fini();
    return err;
}

static void ep_fini(void)
{
    if (barrier_fd >= 0)
        close(barrier_fd);
    if (wake_fd >= 0)
        close(wake_fd);
    if (epfd >= 0)
        close(epfd);
    epfd = wake_fd = barrier_fd = -1;
    /* Pending barriers die with the instance (pollfd.c re-arms). */
    pthread_mutex_lock(&barrier_lock);
    nbarrier = 0;
    pthread_mutex_unlock(&barrier_lock);
}

static int ep_open(int fd, uint32_t interest, goc__pollable *p)
{
    return ctl(EPOLL_CTL_ADD, fd, to_epoll(interest), p);
}

static int ep_arm(int fd, uint32_t interest, goc__pollable *p)
{
    return ctl(EPOLL_CTL_MOD, fd, to_epoll(interest), p);
}

static int ep_close(int fd)
{
    return ctl(EPOLL_CTL_DEL, fd, 0, NULL);
}

static int ep_barrier(goc__pollable *p)
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
    }
    pthread_mutex_unlock(&barrier_lock);
    /* Re-armed after the listing: the event it causes finds p listed. */
    return ctl(EPOLL_CTL_MOD, barrier_fd, EPOLLOUT | EPOLLONESHOT,
               &barrier_sentinel);
}

/* At the end of a batch: a pollable listed now was listed after the
 * batches read before this one were dispatched, or before this batch was
 * read, whose dispatch is complete. Either way every event read before
 * its goc__poller_barrier call has been dispatched. */
static void barrier_fire(goc__glist *wake)
{
    goc__pollable *fire[BARRIERS_MAX];
    pthread_mutex_lock(&barrier_lock);
    int n = nbarrier;
    for (int i = 0; i < n; i++)
        fire[i] = barrier_wait[i];
    nbarrier = 0;
    pthread_mutex_unlock(&barrier_lock);
    for (int i = 0; i < n; i++)
        fire[i]->ready(fire[i], 0, wake);
}

static void ep_wake(void)
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

/*
 * The waits are made with syscall(2), not libc's wrappers: those are
 * cancellation points, which switch asynchronous cancellation on and off
 * around the call (two calls, some 60 instructions, at every poll: a
 * tenth of a lone connection's poll), and no runtime thread is ever
 * cancelled. A NULL signal mask: the kernel ignores its size. Under
 * ThreadSanitizer the wrappers stay: it models epoll through them.
 */
#if defined(SYS_epoll_pwait2) && !defined(GOC_TSAN)
#define EP_RAW 1
#endif

static int ep_pwait2(struct timespec *ts, struct epoll_event *events)
{
#ifdef EP_RAW
    return (int)syscall(SYS_epoll_pwait2, epfd, events, BATCH, ts, NULL, 0);
#else
    return epoll_pwait2(epfd, events, BATCH, ts, NULL);
#endif
}

static int ep_pwait(int ms, struct epoll_event *events)
{
#ifdef EP_RAW
    return (int)syscall(SYS_epoll_pwait, epfd, events, BATCH, ms, NULL, 0);
#else
    return epoll_wait(epfd, events, BATCH, ms);
#endif
}

static int ep_wait(int64_t delay, goc__glist *wake)
{
    struct epoll_event events[BATCH];
    int n;
    if (delay > 0 && atomic_load_explicit(&has_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = delay / GOC_SECOND,
                              .tv_nsec = delay % GOC_SECOND};
        n = ep_pwait2(&ts, events);
        if (n < 0 && errno == ENOSYS) {
            atomic_store(&has_pwait2, 0);
            n = 0;
        }
    } else {
        int ms = delay < 0 ? -1
                 : delay == 0
                     ? 0
                     : (int)((delay + GOC_MILLISECOND - 1) / GOC_MILLISECOND);
        if (delay > (int64_t)INT32_MAX * GOC_MILLISECOND)
            ms = INT32_MAX;
        n = ep_pwait(ms, events);
    }
    if (n < 0)
        return 0;
    bool barrier = false;
    for (int i = 0; i < n; i++) {
        goc__pollable *p = events[i].data.ptr;
        if (p == &wake_sentinel) {
            atomic_store(&wake_sig, 0); /* not read: see the top */
            continue;
        }
        if (p == &barrier_sentinel) {
            barrier = true; /* after the whole batch: see barrier_fire */
            continue;
        }
        goc__tsan_acquire(p); /* pairs with the release in ctl */
        p->ready(p, ep_events(events[i].events), wake);
    }
    if (barrier)
        barrier_fire(wake);
    return n;
}

static int ep_available(const char **why)
{
    (void)why; /* epoll_create1 is checked by init */
    return 0;
}

const goc__poller_ops goc__poller_epoll = {
    .name = "epoll",
    .available = ep_available,
    .init = ep_init,
    .fini = ep_fini,
    .open = ep_open,
    .arm = ep_arm,
    .close = ep_close,
    .barrier = ep_barrier,
    .wait = ep_wait,
    .wake = ep_wake,
};
