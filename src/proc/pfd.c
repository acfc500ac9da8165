/*
 * pfd.c - the proc module's poll descriptors (see proc_internal.h for the
 * slot protocol and why pfds are pooled, never freed).
 *
 * Lock order: the pool lock is a leaf (nothing is called with it held).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "proc/proc_internal.h"

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static goc__pfd *pool; /* free pfds (pool_lock) */

/* Take the waiter out of a slot and leave it READY; returns the waiting
 * G, or NULL. Pairs with the commit CAS in slot_commit. */
goc_g *goc__slot_unblock(_Atomic uintptr_t *slot)
{
    uintptr_t old = atomic_load_explicit(slot, memory_order_acquire);
    for (;;) {
        if (old == PFD_READY)
            return NULL;
        if (atomic_compare_exchange_weak_explicit(slot, &old, PFD_READY,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire))
            return old == PFD_IDLE ? NULL : (goc_g *)old;
    }
}

void goc__pfd_unblock_poller(goc__pfd *pd, int mode, goc__glist *wake)
{
    goc_g *g = goc__slot_unblock(mode == PFD_READ ? &pd->rg : &pd->wg);
    if (g)
        goc__glist_push(wake, g);
}

/* The poller's callback: an edge for either or both directions. Errors
 * and hang-ups wake both, so that the waiter's retry reports them. */
static void pfd_ready(goc__pollable *p, uint32_t ev, goc__glist *wake)
{
    goc__pfd *pd = (goc__pfd *)p;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        goc__pfd_unblock_poller(pd, PFD_READ, wake);
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        goc__pfd_unblock_poller(pd, PFD_WRITE, wake);
}

goc__pfd *goc__pfd_alloc(int fd)
{
    pthread_mutex_lock(&pool_lock);
    goc__pfd *pd = pool;
    if (pd)
        pool = pd->next_free;
    pthread_mutex_unlock(&pool_lock);
    if (!pd) {
        pd = calloc(1, sizeof *pd);
        if (!pd)
            return NULL;
        /* Written once: a stale event may read it at any time. */
        pd->pollable.ready = pfd_ready;
    }
    pd->fd = fd;
    atomic_store(&pd->rg, PFD_IDLE);
    atomic_store(&pd->wg, PFD_IDLE);
    atomic_store(&pd->closing, false);
    pd->registered = false;
    pd->next_free = NULL;
    return pd;
}

int goc__pfd_register(goc__pfd *pd)
{
    int err = goc__netpoll_ctl(pd->fd, EPOLL_CTL_ADD,
                               EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                               &pd->pollable);
    if (err == 0)
        pd->registered = true;
    return err;
}

/* Park commit, on g0 after the switch: publish g in the slot unless an
 * edge arrived meanwhile (then abandon the park). */
static bool slot_commit(goc_g *g, void *arg)
{
    _Atomic uintptr_t *slot = arg;
    uintptr_t idle = PFD_IDLE;
    /* Release: pairs with the acquire in goc__slot_unblock, which then
     * readies a G that is completely switched out. */
    return atomic_compare_exchange_strong_explicit(
        slot, &idle, (uintptr_t)g, memory_order_acq_rel, memory_order_acquire);
}

void goc__slot_wait(_Atomic uintptr_t *slot, bool poll, const char *reason)
{
    for (;;) {
        uintptr_t r = PFD_READY;
        if (atomic_compare_exchange_strong(slot, &r, PFD_IDLE))
            return;
        if (goc_unlikely(r != PFD_IDLE))
            goc__fatal("proc: two goroutines wait in one slot (%s)", reason);
        if (!goc__getg()) {
            sched_yield();
            continue;
        }
        if (poll)
            goc__netpoll_waiters_add(1);
        goc__park(slot_commit, slot, reason);
        if (poll)
            goc__netpoll_waiters_add(-1);
    }
}

int goc__pfd_wait(goc__pfd *pd, int mode)
{
    _Atomic uintptr_t *slot = mode == PFD_READ ? &pd->rg : &pd->wg;
    for (;;) {
        uintptr_t r = PFD_READY;
        if (atomic_compare_exchange_strong(slot, &r, PFD_IDLE))
            return atomic_load(&pd->closing) ? -EBADF : 0;
        if (atomic_load(&pd->closing))
            return -EBADF;
        if (goc_unlikely(r != PFD_IDLE))
            goc__fatal("proc: two goroutines wait on descriptor %d", pd->fd);
        goc__netpoll_waiters_add(1);
        goc__park(slot_commit, slot, "IO wait");
        goc__netpoll_waiters_add(-1);
    }
}

void goc__pfd_evict(goc__pfd *pd)
{
    atomic_store(&pd->closing, true);
    goc_g *g = goc__slot_unblock(&pd->rg);
    if (g)
        goc__ready(g);
    g = goc__slot_unblock(&pd->wg);
    if (g)
        goc__ready(g);
}

void goc__pfd_free(goc__pfd *pd)
{
    if (!pd)
        return;
    if (pd->registered) {
        /* Explicitly: a child between clone and exec may still share the
         * open file, which keeps an implicit registration alive. */
        goc__netpoll_ctl(pd->fd, EPOLL_CTL_DEL, 0, NULL);
        pd->registered = false;
    }
    pd->fd = -1;
    pthread_mutex_lock(&pool_lock);
    pd->next_free = pool;
    pool = pd;
    pthread_mutex_unlock(&pool_lock);
}
