/*
 * signal.c - os/signal: signals delivered to channels, received in one
 * place (the poller), never in goroutine code.
 *
 * How a signal travels. Every runtime thread blocks the asynchronous
 * signals from birth (goc__runtime_sigset, src/runtime/sched.c), so the
 * kernel hands a process-directed signal to a thread that does not block
 * it: normally the thread that called goc_main, which sits in a futex
 * wait, or a thread of the user's. For every signal that some channel
 * wants, goc installs fwd_handler: it sets the signal's bit in `pending`
 * and writes the eventfd `efd` (both async-signal-safe), and returns. When
 * every thread blocks the signal (the caller of goc_main blocked it too),
 * it stays pending in the kernel and the signalfd `sfd`, whose mask is the
 * set of wanted signals, reads it. Both descriptors are registered on the
 * runtime's poller with one pollable; its callback, on whatever thread
 * polled, drains both and sends the signal number to each registered
 * channel with goc__chan_try_send: a full channel misses it (Go's rule),
 * and nothing on that path can block. So no goroutine ever runs a handler
 * and no system call in goroutine code fails with EINTR.
 *
 * Alternatives rejected: a handler on the runtime threads (interrupts
 * goroutine code: EINTR everywhere, handlers on goroutine stacks); only a
 * signalfd (would need the goc_main caller's thread to block the signals
 * too, which only that thread can do, and then the signals nobody asked
 * for would lose their default action); a dedicated sigwaitinfo thread
 * (same problem, plus a thread).
 *
 * SIGCHLD for commands without a pidfd (cmd.c) is one more subscriber:
 * each SIGCHLD is sent to every watch's channel (capacity 1: a pending
 * notice is enough, the waiter then polls waitpid for its own child).
 *
 * Invariants (all under sig_lock):
 *  - refcnt[s] = registrations whose mask has s, plus the SIGCHLD watchers
 *    for s == SIGCHLD; fwd_handler is installed for s and s is in sfd's
 *    mask exactly when refcnt[s] > 0; saved[s] is the disposition that
 *    was in force before, restored when refcnt[s] drops to 0.
 *  - goc__wakers_add(+1) is in force while regs or chld is non-empty, so
 *    a goroutine waiting for a signal is not taken for a deadlock.
 *  - Delivery holds sig_lock: once goc_signal_stop returns, nothing more
 *    is sent to its channel.
 *  - efd and sfd are created once and never closed: the handler may run
 *    at any time on any thread and must never write to a reused number.
 *
 * Lock order: sig_lock before channel locks (delivery) and before the
 * scheduler's lock (goc__chan_try_send may ready a receiver).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "chan/chan_iface.h"
#include "proc/proc_internal.h"

#define SIGS 64 /* signals 1..64; bit s-1 of a mask is signal s */
#define BIT(s) ((uint64_t)1 << ((s)-1))

typedef struct sig_reg {
    goc_chan *c;
    uint64_t mask;
    struct sig_reg *next;
} sig_reg;

static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static sig_reg *regs;                    /* sig_lock */
static goc__chld_watch *chld;            /* SIGCHLD watchers (sig_lock) */
static bool waking;                      /* wakers count held (sig_lock) */
static int refcnt[SIGS + 1];             /* sig_lock */
static struct sigaction saved[SIGS + 1]; /* sig_lock */
static sigset_t sfd_mask;                /* signals in sfd's mask (sig_lock) */
static int sfd = -1;                     /* signalfd, never closed */
static _Atomic int efd = -1;             /* eventfd, never closed */
static _Atomic uint64_t pending;         /* set by fwd_handler */
static goc__pollable sig_pollable;

/* Signals that are never routed: uncatchable, synchronous faults, and
 * glibc's own (32, 33: thread cancellation and setxid). */
static bool routable(int s)
{
    switch (s) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
        return false;
    }
    return s >= 1 && s <= SIGS && (s < 32 || s >= SIGRTMIN);
}

/* Runs on any thread, at any time: async-signal-safe only. */
static void fwd_handler(int s)
{
    int saved_errno = errno;
    atomic_fetch_or(&pending, BIT(s));
    int fd = atomic_load(&efd);
    if (fd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(fd, &one, sizeof one);
        (void)r;
    }
    errno = saved_errno;
}

/* sig_lock held. */
static void deliver(uint64_t bits)
{
    for (int s = 1; s <= SIGS; s++) {
        if (!(bits & BIT(s)) || refcnt[s] == 0)
            continue;
        for (sig_reg *r = regs; r; r = r->next) {
            if (r->mask & BIT(s)) {
                int v = s;
                goc__chan_try_send(r->c, &v);
            }
        }
        if (s == SIGCHLD)
            for (goc__chld_watch *w = chld; w; w = w->next) {
                int v = s;
                goc__chan_try_send(w->ch, &v); /* full: one is pending */
            }
    }
}

/*
 * The poller's callback for efd and sfd.
 *
 * sfd is drained under sig_lock, the lock under which enable/disable
 * change its mask (signalfd(sfd, mask) on the existing descriptor). The
 * kernel makes each of the two calls atomic, and a mask change racing a
 * drain was harmless already (a signal read just before its last
 * registration went away is dropped by deliver, which checks refcnt; one
 * pending when its first one arrives makes sfd readable at the mask
 * change, a new edge). But ThreadSanitizer models signalfd() on an
 * existing descriptor as a close and a re-creation of it, a write that
 * races with the read: that was proc_sigchld_fallback's "data race"
 * under load. Holding the lock orders the two for the tool as well, at no
 * cost that matters (a signal's delivery takes the lock anyway).
 */
static void sig_ready(goc__pollable *p, uint32_t ev, goc__glist *wake)
{
    (void)p, (void)ev, (void)wake;
    uint64_t v;
    int fd = atomic_load(&efd);
    /* Drain efd first, then take the bits: a handler that sets a bit
     * after the exchange writes efd after our read: a new edge. */
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&sig_lock);
    uint64_t bits = atomic_exchange(&pending, 0);
    struct signalfd_siginfo si[16];
    for (;;) {
        ssize_t r = read(sfd, si, sizeof si);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (size_t i = 0; i < (size_t)r / sizeof si[0]; i++)
            if (si[i].ssi_signo >= 1 && si[i].ssi_signo <= SIGS)
                bits |= BIT(si[i].ssi_signo);
    }
    if (bits)
        deliver(bits);
    pthread_mutex_unlock(&sig_lock);
}

static void enable(int s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fwd_handler;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    sigaction(s, &sa, &saved[s]);
    sigaddset(&sfd_mask, s);
    signalfd(sfd, &sfd_mask, 0);
}

static void disable(int s)
{
    sigaction(s, &saved[s], NULL);
    sigdelset(&sfd_mask, s);
    signalfd(sfd, &sfd_mask, 0);
    atomic_fetch_and(&pending, ~BIT(s));
}

static void ref_add(int s, int d)
{
    int before = refcnt[s];
    refcnt[s] += d;
    if (before == 0 && refcnt[s] > 0)
        enable(s);
    else if (before > 0 && refcnt[s] == 0)
        disable(s);
}

/* Keep the wakers count in step with "anything registered". */
static void update_waking(void)
{
    bool want = regs != NULL || chld != NULL;
    if (want != waking) {
        goc__wakers_add(want ? 1 : -1);
        waking = want;
    }
}

/*
 * sig_lock held. Create the descriptors once, and make sure they are on
 * this runtime's poller. A runtime that ended left its registrations
 * behind (their channels died with it; its counters were reset): the
 * first call in a new runtime finds efd missing from the new epoll set
 * and forgets them.
 */
static int ensure_ready(void)
{
    if (sfd < 0) {
        sigemptyset(&sfd_mask);
        sfd = signalfd(-1, &sfd_mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sfd < 0)
            return -errno;
        int e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (e < 0) {
            int err = -errno;
            close(sfd);
            sfd = -1;
            return err;
        }
        atomic_store(&efd, e);
        sig_pollable.ready = sig_ready;
    }
    int e = atomic_load(&efd);
    int err = goc__poller_arm(e, GOC__POLL_READ, &sig_pollable);
    if (err != -ENOENT)
        return err;
    /* A new runtime. */
    while (regs) {
        sig_reg *r = regs;
        regs = r->next;
        free(r);
    }
    chld = NULL;
    waking = false;
    for (int s = 1; s <= SIGS; s++)
        if (refcnt[s] > 0) {
            refcnt[s] = 0;
            disable(s);
        }
    err = goc__poller_open(e, GOC__POLL_READ, &sig_pollable);
    if (err == 0)
        err = goc__poller_open(sfd, GOC__POLL_READ, &sig_pollable);
    if (err)
        goc__poller_close(e);
    return err;
}

int goc_signal_notify(goc_chan *c, const int *sigs, size_t n)
{
    if (!c || goc__chan_elemsize(c) != sizeof(int) || (n > 0 && !sigs))
        return -EINVAL;
    uint64_t mask = 0;
    if (n == 0) {
        for (int s = 1; s <= SIGS; s++)
            if (routable(s))
                mask |= BIT(s);
    }
    for (size_t i = 0; i < n; i++) {
        if (sigs[i] < 1 || sigs[i] > SIGS)
            return -EINVAL;
        if (routable(sigs[i]))
            mask |= BIT(sigs[i]);
    }
    sig_reg *fresh = malloc(sizeof *fresh);
    if (!fresh)
        return -ENOMEM;
    pthread_mutex_lock(&sig_lock);
    int err = ensure_ready();
    if (err) {
        pthread_mutex_unlock(&sig_lock);
        free(fresh);
        return err;
    }
    sig_reg *r = regs;
    while (r && r->c != c)
        r = r->next;
    if (!r) {
        r = fresh;
        fresh = NULL;
        r->c = c;
        r->mask = 0;
        r->next = regs;
        regs = r;
    }
    uint64_t add = mask & ~r->mask;
    r->mask |= mask;
    for (int s = 1; s <= SIGS; s++)
        if (add & BIT(s))
            ref_add(s, 1);
    update_waking();
    pthread_mutex_unlock(&sig_lock);
    free(fresh);
    return 0;
}

void goc_signal_stop(goc_chan *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&sig_lock);
    sig_reg **pp = &regs, *r = NULL;
    while (*pp && (*pp)->c != c)
        pp = &(*pp)->next;
    if ((r = *pp)) {
        *pp = r->next;
        for (int s = 1; s <= SIGS; s++)
            if (r->mask & BIT(s))
                ref_add(s, -1);
        update_waking();
    }
    pthread_mutex_unlock(&sig_lock);
    free(r);
}

int goc__sig_chld_watch(goc__chld_watch *w)
{
    pthread_mutex_lock(&sig_lock);
    int err = ensure_ready();
    if (err == 0) {
        w->prev = NULL;
        w->next = chld;
        if (chld)
            chld->prev = w;
        chld = w;
        ref_add(SIGCHLD, 1);
        update_waking();
    }
    pthread_mutex_unlock(&sig_lock);
    return err;
}

void goc__sig_chld_unwatch(goc__chld_watch *w)
{
    pthread_mutex_lock(&sig_lock);
    /* Not listed any more if a new runtime forgot the old watchers. */
    if (w->prev || chld == w) {
        if (w->prev)
            w->prev->next = w->next;
        else
            chld = w->next;
        if (w->next)
            w->next->prev = w->prev;
        w->next = w->prev = NULL;
        ref_add(SIGCHLD, -1);
        update_waking();
    }
    pthread_mutex_unlock(&sig_lock);
}
