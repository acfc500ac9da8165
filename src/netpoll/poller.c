/*
 * poller.c - chooses the poller backend when goc_main starts and forwards
 * the contract's calls to it (poller.h).
 *
 * $GOC_POLLER: "epoll", "io_uring", "io_uring_completion" or "auto"
 * (unset or empty: auto). io_uring_completion is the epoll backend plus
 * completion I/O on a ring per M (uring_io.c), once io_uring is checked
 * available. Auto picks io_uring_completion where the kernel offers it,
 * else epoll (a quiet fallback: nobody asked for io_uring): it reads by
 * readiness, as epoll does, while few goroutines wait on I/O (where the
 * two measured even; uring_io.h's GOC__UIO_BATCH_MIN and _1P) or while
 * requests would not pay for the wake-ups of idle Ms (light traffic), and
 * by requests beyond (1.2x epoll at 100 connections, 1.3x with one
 * processor: docs/net.md, "Which backend auto picks"). "epoll" is epoll
 * alone; "io_uring" polls for readiness on io_uring (never faster than
 * epoll, kept for A/B runs). A forced io_uring that the kernel does not
 * offer, or an unknown value, is fatal at start: a user who asked for a
 * backend must know they did not get it.
 *
 * The table is chosen while no other thread of the runtime runs; it stays
 * after goc__poller_fini (a late wake goes to a closed instance, which
 * ignores it). An atomic pointer all the same: a thread outside the
 * runtime may wake it while a new goc_main starts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "netpoll/poller.h"
#include "netpoll/uring_io.h"

/* $GOC_POLLER=io_uring_completion: set by goc__poller_init, before any
 * other thread of the runtime runs. */
static bool want_uio;
static bool auto_uio; /* auto's pick: a failed start falls back to epoll */

static _Atomic(const goc__poller_ops *) cur = &goc__poller_epoll;

static inline const goc__poller_ops *ops(void)
{
    return atomic_load_explicit(&cur, memory_order_acquire);
}

/* Auto's probe, once a process: io_uring_setup and the opcode probe
 * cost some 100 us each, and their answer does not change. */
static bool completion_available(void)
{
    static _Atomic int known; /* 0: not yet; 1: available; 2: not */
    int k = atomic_load(&known);
    if (!k) {
        const char *why;
        k = goc__poller_uring.available(&why) >= 0 &&
                    goc__uio_available(&why) >= 0
                ? 1
                : 2;
        atomic_store(&known, k);
    }
    return k == 1;
}

static const goc__poller_ops *choose(void)
{
    const char *env = getenv("GOC_POLLER");
    const char *why = NULL;
    if (env && !strcmp(env, "epoll"))
        return &goc__poller_epoll;
    if (!env || !*env || !strcmp(env, "auto")) {
        want_uio = auto_uio = completion_available();
        return &goc__poller_epoll;
    }
    if (!strcmp(env, "io_uring") || !strcmp(env, "io_uring_completion")) {
        int err = goc__poller_uring.available(&why);
        if (err < 0)
            goc__fatal("GOC_POLLER=%s: io_uring is not available "
                       "here: %s (%s)",
                       env, why, goc_strerror(err));
        want_uio = !strcmp(env, "io_uring_completion");
        if (want_uio && (err = goc__uio_available(&why)) < 0)
            goc__fatal("GOC_POLLER=%s: io_uring's completion I/O is not "
                       "available here: %s (%s)",
                       env, why, goc_strerror(err));
        /* Completion I/O's readiness (dial, UDP, goc_wait_fd, and the
         * reads of a connection while few goroutines wait: uring_io.h)
         * is epoll's: a poll request's edge costs a wake-up of the
         * thread that registered it, an epoll edge nothing but the
         * poller's wait (docs/net.md, "One connection"). */
        return want_uio ? &goc__poller_epoll : &goc__poller_uring;
    }
    goc__fatal("GOC_POLLER=%s: unknown poller (auto, epoll, io_uring or "
               "io_uring_completion)",
               env);
}

int goc__poller_init(void)
{
    want_uio = auto_uio = false;
    const goc__poller_ops *o = choose();
    atomic_store_explicit(&cur, o, memory_order_release);
    int err = o->init();
    if (err < 0)
        return err;
    if ((err = goc__uio_init(want_uio)) < 0 && auto_uio) {
        want_uio = false; /* (no descriptor left, say): epoll alone */
        err = goc__uio_init(false);
    }
    if (err < 0) {
        const char *env = getenv("GOC_POLLER");
        goc__fatal("GOC_POLLER=%s: io_uring's completion I/O could not "
                   "start: %s",
                   env ? env : "", goc_strerror(err));
    }
    return 0;
}

void goc__poller_stop(void)
{
    goc__uio_fini();
}

void goc__poller_fini(void)
{
    goc__uio_fini();
    ops()->fini();
}

const char *goc__poller_name(void)
{
    return ops()->name;
}

int goc__poller_open(int fd, uint32_t interest, goc__pollable *p)
{
    return ops()->open(fd, interest, p);
}

int goc__poller_arm(int fd, uint32_t interest, goc__pollable *p)
{
    return ops()->arm(fd, interest, p);
}

int goc__poller_close(int fd)
{
    return ops()->close(fd);
}

int goc__poller_barrier(goc__pollable *p)
{
    return ops()->barrier(p);
}

int goc__poller_wait(int64_t delay, goc__glist *wake)
{
    if (!want_uio) /* no completions to take (a call each, per poll) */
        return ops()->wait(delay, wake);
    /* Completions first: with some there, the wait must not block (the
     * io thread wakes a wait that blocks before it delivers more). */
    int n = goc__uio_take(wake);
    int64_t recheck = -1;
    n += goc__uio_steal(wake, &recheck);
    if (n)
        delay = 0;
    else if (recheck > 0 && (delay < 0 || delay > recheck))
        delay = recheck; /* an early return, as EINTR's */
    n += ops()->wait(delay, wake);
    return n + goc__uio_take(wake);
}

int goc__poller_flush(goc__glist *ready)
{
    return want_uio ? goc__uio_flush(ready) : 0;
}

void goc__poller_m_away(void *io_ring, bool away)
{
    goc__uio_m_away(io_ring, away);
}

void goc__poller_wake(void)
{
    ops()->wake();
}

uint32_t goc__poller_events(uint32_t ev)
{
    uint32_t r = 0;
    if (ev & POLLIN)
        r |= GOC__POLL_READ;
    if (ev & POLLOUT)
        r |= GOC__POLL_WRITE;
    if (ev & POLLRDHUP)
        r |= GOC__POLL_RDHUP;
    if (ev & POLLPRI)
        r |= GOC__POLL_PRI;
    if (ev & POLLHUP)
        r |= GOC__POLL_HUP;
    if (ev & POLLERR)
        r |= GOC__POLL_ERR;
    return r;
}
