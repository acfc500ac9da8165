/*
 * netpoll.c - the scheduler's side of the poller: when to poll and how
 * to break a poll. The poller itself, which owns the kernel's readiness
 * machinery, is a backend in src/netpoll/ (poller.h is its contract).
 *
 * At most one thread polls at a time (goc__sc.polling), with the earliest
 * timer of all processors as its timeout (goc__sc.poll_until). Anyone who
 * adds an earlier timer, readies work for an idle runtime or shuts down
 * breaks the wait (goc__netpoll_break).
 */
#include <pthread.h>
#include <signal.h>

#include "netpoll/poller.h"
#include "runtime/sched.h"

int goc__netpoll_init(void)
{
    return goc__poller_init();
}

void goc__netpoll_stop(void)
{
    goc__poller_stop();
}

void goc__netpoll_close(void)
{
    goc__poller_fini();
}

bool goc__netpoll_polling(void)
{
    return atomic_load(&goc__sc.polling);
}

int goc__helper_thread_start(void *handle, void *(*fn)(void *), void *arg)
{
    sigset_t block, old;
    goc__runtime_sigset(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int err = pthread_create((pthread_t *)handle, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

void goc__netpoll_waiters_add(int delta)
{
    atomic_fetch_add(&goc__sc.npollwait, delta);
}

int goc__netpoll_waiters(void)
{
    return atomic_load_explicit(&goc__sc.npollwait, memory_order_relaxed);
}

int goc__netpoll_procs(void)
{
    return (int)atomic_load_explicit(&goc__sc.gomaxprocs, memory_order_relaxed);
}

int goc__netpoll_load(void)
{
    int n = atomic_load_explicit(&goc__sc.npollwait, memory_order_relaxed) +
            (int)atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed);
    goc_m *m = goc__getm();
    goc_p *p = m ? m->p : NULL;
    if (p)
        n += (int)(atomic_load_explicit(&p->runqtail, memory_order_relaxed) -
                   atomic_load_explicit(&p->runqhead, memory_order_relaxed)) +
             (atomic_load_explicit(&p->runnext, memory_order_relaxed) != NULL);
    return n;
}

void goc__wakers_add(int delta)
{
    atomic_fetch_add(&goc__sc.nwakers, delta);
}

int goc__netpoll_flush(goc__glist *ready)
{
    return goc__poller_flush(ready);
}

void goc__netpoll_m_away(void *io_ring, bool away)
{
    goc__poller_m_away(io_ring, away);
}

void goc__netpoll_break(void)
{
    goc__poller_wake();
}

void goc__netpoll_timer_added(int64_t when)
{
    if (atomic_load(&goc__sc.polling)) {
        /* poll_until is 0 while the poller is still computing its
         * deadline: it may have missed this timer, so break it too (a
         * wake before the wait counts: poller.h). */
        int64_t until = atomic_load(&goc__sc.poll_until);
        if (until == 0 || when < until)
            goc__netpoll_break();
    } else {
        /* Nobody watches the clock: make sure some idle thread does. */
        goc__wakep();
    }
}

int64_t goc__netpoll(int64_t delay, goc__glist *list, int64_t now)
{
    goc__poller_wait(delay, list);
    if (delay != 0 || now == 0)
        now = goc_nanotime();
    atomic_store_explicit(&goc__sc.lastpoll, now, memory_order_relaxed);
    return now;
}
