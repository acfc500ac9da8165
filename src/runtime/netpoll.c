/*
 * netpoll.c - the runtime's epoll instance and its place in the scheduler.
 *
 * At most one thread blocks in epoll_wait at a time (goc__sc.polling),
 * with the earliest timer of all processors as its timeout
 * (goc__sc.poll_until). Anyone who adds an earlier timer, readies work
 * for an idle runtime or shuts down breaks the wait through an eventfd
 * (goc__netpoll_break). Modules register descriptors with a goc__pollable
 * whose ready() callback turns epoll events into goroutines to wake.
 *
 * epoll_pwait2 gives nanosecond timeouts, so a sleep is never early and
 * rarely more than the kernel's timer slack late; where the kernel lacks
 * it, the millisecond timeout of epoll_wait is rounded up.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "runtime/sched.h"

#ifdef GOC_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#endif

/* data.ptr of the eventfd's registration. */
static goc__pollable break_sentinel;
static _Atomic int has_pwait2 = 1;

int goc__netpoll_init(void)
{
    goc__sc.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (goc__sc.epfd < 0)
        return -errno;
    goc__sc.eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (goc__sc.eventfd < 0) {
        int err = -errno;
        close(goc__sc.epfd);
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &break_sentinel};
    if (epoll_ctl(goc__sc.epfd, EPOLL_CTL_ADD, goc__sc.eventfd, &ev) != 0) {
        int err = -errno;
        close(goc__sc.eventfd);
        close(goc__sc.epfd);
        return err;
    }
    atomic_store(&goc__sc.poll_wake_sig, 0);
    return 0;
}

void goc__netpoll_close(void)
{
    close(goc__sc.eventfd);
    close(goc__sc.epfd);
    goc__sc.epfd = goc__sc.eventfd = -1;
}

int goc__netpoll_ctl(int fd, int op, uint32_t events, goc__pollable *p)
{
#ifdef GOC_TSAN
    /* epoll hands p to the polling thread through the kernel, which
     * ThreadSanitizer cannot see: pairs with the acquire in
     * goc__netpoll, so that what the registrant wrote to *p is seen. */
    if (p)
        __tsan_release(p);
#endif
    struct epoll_event ev = {.events = events, .data.ptr = p};
    if (epoll_ctl(goc__sc.epfd, op, fd, &ev) != 0)
        return -errno;
    return 0;
}

void goc__netpoll_waiters_add(int delta)
{
    atomic_fetch_add(&goc__sc.npollwait, delta);
}

void goc__wakers_add(int delta)
{
    atomic_fetch_add(&goc__sc.nwakers, delta);
}

void goc__netpoll_break(void)
{
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong(&goc__sc.poll_wake_sig, &zero, 1)) {
        uint64_t one = 1;
        ssize_t r;
        do
            r = write(goc__sc.eventfd, &one, sizeof one);
        while (r < 0 && errno == EINTR);
    }
}

void goc__netpoll_timer_added(int64_t when)
{
    if (atomic_load(&goc__sc.polling)) {
        /* poll_until is 0 while the poller is still computing its
         * deadline: it may have missed this timer, so break it too (the
         * eventfd stays readable, so a break before epoll_wait counts). */
        int64_t until = atomic_load(&goc__sc.poll_until);
        if (until == 0 || when < until)
            goc__netpoll_break();
    } else {
        /* Nobody watches the clock: make sure some idle thread does. */
        goc__wakep();
    }
}

void goc__netpoll(int64_t delay, goc__glist *list)
{
    struct epoll_event events[128];
    int n;
    if (delay > 0 && atomic_load_explicit(&has_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = delay / GOC_SECOND,
                              .tv_nsec = delay % GOC_SECOND};
        n = epoll_pwait2(goc__sc.epfd, events, 128, &ts, NULL);
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
        n = epoll_wait(goc__sc.epfd, events, 128, ms);
    }
    atomic_store_explicit(&goc__sc.lastpoll, goc_nanotime(),
                          memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        goc__pollable *p = events[i].data.ptr;
        if (p == &break_sentinel) {
            uint64_t v;
            ssize_t r = read(goc__sc.eventfd, &v, sizeof v);
            (void)r;
            atomic_store(&goc__sc.poll_wake_sig, 0);
            continue;
        }
#ifdef GOC_TSAN
        __tsan_acquire(p); /* pairs with the release in goc__netpoll_ctl */
#endif
        p->ready(p, events[i].events, list);
    }
}
