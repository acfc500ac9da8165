/*
 * pollfd.c - poll descriptors: Go's pollDesc and fdMutex in C.
 *
 * How it works
 * ------------
 * Each direction of a descriptor has a slot, rg for reading and wg for
 * writing, an atomic word holding one of (Go's pdNil/pdReady/pdWait):
 *
 *   PD_NIL    nothing known;
 *   PD_READY  the poller saw an edge that no operation has consumed yet;
 *   PD_WAIT   a goroutine is about to park (between its CAS and the
 *             commit that runs on g0 after the switch);
 *   a goc_g * that goroutine, parked.
 *
 * Transitions:
 *   NIL   -> WAIT   the operation, before parking (pd_block)
 *   WAIT  -> G      its park commit, on g0 after the switch (pd_commit), so
 *                   that no waker can see G before it is off its stack
 *   WAIT  -> READY  an edge; the commit's CAS then fails and the park is
 *                   abandoned: an edge is never lost
 *   WAIT  -> NIL    a deadline or close; likewise abandons the park
 *   G     -> READY  an edge: the poller pushes G to its wake list
 *   G     -> NIL    a deadline or close: G is readied, re-checks `info`
 *   NIL   -> READY  an edge while nobody waits
 *   READY -> NIL    consumed by pd_block, or discarded by prepare
 * Anything else is a bug (two waiters in one direction: the direction
 * lock makes it impossible).
 *
 * `info` republishes, under pd->lock, what a waiter must re-check after
 * announcing itself with PD_WAIT: closing, read deadline expired, write
 * deadline expired. Waiter: CAS slot to WAIT, then load info. Waker: store
 * info, then CAS the slot. Both seq_cst, so at least one sees the other
 * (Go's "need to recheck error states after setting gpp to pdWait").
 *
 * Deadlines are goc__timers embedded in the descriptor, one per direction.
 * Every del/mod bumps the timer's seq; the firing function compares the
 * seq it was given with the current one under pd->lock and ignores a stale
 * firing (a deadline changed or cleared meanwhile), as Go's rseq/wseq.
 *
 * References (Go's fdMutex) are one atomic 64-bit word: closed bit, read
 * lock bit, write lock bit, 20 bits of references, 20 bits each of read and
 * write waiters (parked on rsema/wsema). Close sets the closed bit (new
 * operations fail with -ECANCELED), wakes everyone, and the operation that
 * drops the last reference closes the fd ("destroy") and releases csema,
 * on which close waits: so no syscall can ever run on a number that has
 * been closed and handed out again.
 *
 * goc_wait_fd() and the accept back-off park on a list of waiter records
 * (pd_uwait, on the waiters' stacks) instead of a slot, since any number
 * of them may wait, for either or both directions, each with its own
 * deadline. The poller scans the list only when `nuw` says it is not
 * empty; a waiter bumps nuw, samples `evgen`, checks the descriptor's
 * level with poll(2), and enqueues only if no event came in between.
 *
 * Recycling, and why the sequence number is not in the event's data
 * -----------------------------------------------------------------
 * The poller thread reads a batch of events, then calls ready() for each.
 * An event read just before another thread closed the descriptor is still
 * in that batch: Go tags epoll's data word with the pollDesc's fdseq and
 * drops events whose tag is old. Here the data word is a goc__pollable
 * pointer (poller.h), so there is no room for a tag. Instead a closed
 * descriptor is recycled only after the poller has passed a barrier
 * (goc__poller_barrier): every close unregisters (goc__poller_close)
 * before it retires the struct, and a retired struct becomes reusable two
 * barriers later. The barrier's handler frees the structs retired before
 * the previous barrier ("grace") and moves those retired since into
 * grace. A barrier fires only after every event read before it was asked
 * for has been dispatched, so when the handler runs, any batch read before
 * a grace struct's unregistration has been dispatched, and no later batch
 * can contain it: an old registration's event can never reach a new
 * owner. Each registration still gets a sequence number (pd->seq), for
 * tests and diagnostics.
 * Rejected: a few tokens per struct used in turn (only makes misdelivery
 * unlikely); tagging the pointer (needs the runtime's dispatch changed).
 * Limits: structs retired while nothing polls wait for the next poll.
 *
 * Invariants: pd memory is never freed (so a late timer or event always
 * lands on a goc__pollfd); a struct on the free list has no registration,
 * no waiter, no reference, no armed timer; tab.v[fd] == pd iff
 * pd->in_table, and only the table's pd may DEL or close that fd number.
 *
 * Lock order: tab.lock -> pd->lock -> a timer heap's lock (timer.c);
 * a sema's lock and cache.lock are leaves. pd->lock and the semaphores
 * are the runtime's (runtime/primitives.h): spinlocks, because goc__park
 * releases them after the switch, in another context than the one that
 * took them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netpoll/pollfd.h"
#include "runtime/primitives.h"
#include "runtime/runtime_internal.h"

#define POLL_EVENTS (GOC__POLL_READ | GOC__POLL_WRITE)
#define EV_READ                                                                \
    (GOC__POLL_READ | GOC__POLL_RDHUP | GOC__POLL_PRI | GOC__POLL_HUP |        \
     GOC__POLL_ERR)
#define EV_WRITE (GOC__POLL_WRITE | GOC__POLL_HUP | GOC__POLL_ERR)
/* A barrier armed this long ago without firing is armed again (it may
 * have been lost with the poller instance of an earlier goc_main). */
#define BARRIER_REARM_NS (50 * GOC_MILLISECOND)

/* ---- the descriptor ------------------------------------------------- */

enum { PD_NIL = 0, PD_READY = 1, PD_WAIT = 2 }; /* else a goc_g * */
enum { INFO_CLOSING = 1, INFO_RD_EXPIRED = 2, INFO_WD_EXPIRED = 4 };
enum { KIND_OWNED = 1, KIND_USER = 2 };
/* Readiness reports of a descriptor whose reads and writes complete on
 * the io thread's ring (uring_io.c): on (as registered), off (nothing
 * waits for an edge; each would only cost a completion), on for good
 * (something waits for edges besides: goc_wait_fd, read_from...). */
enum { QUIET_NO = 0, QUIET_YES = 1, QUIET_NEVER = 2 };

/* fdMutex state (Go's internal/poll/fd_mutex.go). */
#define MU_CLOSED ((uint64_t)1 << 0)
#define MU_RLOCK ((uint64_t)1 << 1)
#define MU_WLOCK ((uint64_t)1 << 2)
#define MU_REF ((uint64_t)1 << 3)
#define MU_REF_MASK ((((uint64_t)1 << 20) - 1) << 3)
#define MU_RWAIT ((uint64_t)1 << 23)
#define MU_RMASK ((((uint64_t)1 << 20) - 1) << 23)
#define MU_WWAIT ((uint64_t)1 << 43)
#define MU_WMASK ((((uint64_t)1 << 20) - 1) << 43)

/* A goroutine in goc_wait_fd or goc__pollfd_sleep (on its stack). */
typedef struct pd_uwait {
    goc_g *g;
    struct pd_uwait *next, *prev; /* pd->uhead list (pd->lock) */
    uint32_t mask;                /* GOC__POLL_* wanted; 0: only the deadline */
    int64_t deadline;             /* 0: none */
    int result;       /* set by the waker, under pd->lock, before waking */
    goc__timer timer; /* the deadline; arg is the pd, never this record */
} pd_uwait;

struct goc__pollfd {
    goc__pollable pollable;  /* first: the poller's data is &pd->pollable */
    int fd;                  /* set before registration; fixed after */
    int kind;                /* KIND_*; fixed while registered */
    bool polled;             /* registered with the poller; fixed */
    uint64_t seq;            /* registration number (bumped on reuse) */
    _Atomic uintptr_t rg;    /* read slot: PD_* or a goc_g * (atomic) */
    _Atomic uintptr_t wg;    /* write slot */
    _Atomic uint32_t info;   /* INFO_*: written under lock, read freely */
    _Atomic bool nodrain;    /* an event announced more than data (urgent
                                data, hang-up, error): a short read may
                                leave something behind (the urgent mark,
                                end of file, an error) that no new edge
                                will announce, so "drained" is not trusted
                                any more; sticky (atomic) */
    _Atomic uint64_t mu;     /* fdMutex state (atomic) */
    goc__sema rsema, wsema;  /* parked readers / writers (fdMutex) */
    goc__sema csema;         /* close waits here for destroy */
    int close_err;           /* close(2)'s result; destroy, before csema */
    goc__spinlock lock;      /* protects the fields down to utail */
    bool closing;            /* evicted: no new waits */
    int uerr;                /* what evicted user waiters get */
    _Atomic uint8_t quiet;   /* QUIET_*: readiness reports (completion I/O) */
    int64_t rd, wd;          /* deadlines: 0 none, -1 expired, else when */
    goc__timer rt, wt;       /* deadline timers (arg: this pd) */
    pd_uwait *uhead, *utail; /* goc_wait_fd / sleep waiters */
    _Atomic int32_t nuw;     /* user waiters registered or entering */
    _Atomic uint32_t evgen;  /* bumped by the poller while nuw > 0 */
    /* Protected by tab.lock: */
    int users;     /* KIND_USER: goc_wait_fd calls using it */
    bool in_table; /* tab.v[fd] == this */
    bool leak;     /* never recycle: the number was reused
                      behind our back, so a registration of
                      the old file may outlive this struct */
    /* Protected by cache.lock: */
    struct goc__pollfd *link; /* free / grace / retired list */
} __attribute__((aligned(64)));

static void pd_ready(goc__pollable *p, uint32_t ev, goc__glist *wake);
static void pd_rd_fire(void *arg, uint64_t seq, int64_t now);
static void pd_wd_fire(void *arg, uint64_t seq, int64_t now);
static void pd_uwait_fire(void *arg, uint64_t seq, int64_t now);
static void barrier_ready(goc__pollable *p, uint32_t ev, goc__glist *wake);

/* ---- the cache and the recycling barrier ---------------------------- */

static struct {
    pthread_mutex_t lock;
    goc__pollfd *free;                   /* reusable now */
    goc__pollfd *grace, *grace_tail;     /* reusable after the next barrier */
    goc__pollfd *retired, *retired_tail; /* closed since the last one */
    bool armed;                          /* a barrier event is on its way */
    int64_t armed_at;
    goc__pollable barrier;
} cache = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .barrier = {barrier_ready},
};

static struct {
    _Atomic uint64_t allocated, reused, stale, barriers;
} stats;

/* Arm the barrier: a later poll calls barrier_ready (poller.h). */
static void barrier_trigger(void)
{
    if (goc__poller_barrier(&cache.barrier) != 0) {
        pthread_mutex_lock(&cache.lock);
        cache.armed = false; /* try again at the next close */
        pthread_mutex_unlock(&cache.lock);
    }
}

static void barrier_ready(goc__pollable *p, uint32_t ev, goc__glist *wake)
{
    (void)p, (void)ev, (void)wake;
    pthread_mutex_lock(&cache.lock);
    if (cache.grace) {
        cache.grace_tail->link = cache.free;
        cache.free = cache.grace;
    }
    cache.grace = cache.retired;
    cache.grace_tail = cache.retired_tail;
    cache.retired = cache.retired_tail = NULL;
    bool again = cache.grace != NULL;
    cache.armed = again;
    if (again)
        cache.armed_at = goc_nanotime();
    pthread_mutex_unlock(&cache.lock);
    atomic_fetch_add_explicit(&stats.barriers, 1, memory_order_relaxed);
    if (again)
        barrier_trigger();
}

static void pd_reset(goc__pollfd *pd, int fd, int kind)
{
    /* Under pd->lock: a stale deadline firing may still take it. */
    goc__spinlock_acquire(&pd->lock);
    pd->fd = fd;
    pd->kind = kind;
    pd->polled = true;
    pd->seq++;
    atomic_store(&pd->rg, PD_NIL);
    atomic_store(&pd->wg, PD_NIL);
    atomic_store(&pd->info, 0);
    atomic_store(&pd->nodrain, false);
    atomic_store(&pd->mu, 0);
    GOC_ASSERT(!pd->rsema.head && !pd->wsema.head && !pd->csema.head);
    atomic_store(&pd->rsema.count, 0);
    atomic_store(&pd->wsema.count, 0);
    atomic_store(&pd->csema.count, 0);
    pd->close_err = 0;
    pd->closing = false;
    pd->uerr = 0;
    atomic_store(&pd->quiet, QUIET_NO);
    pd->rd = pd->wd = 0;
    GOC_ASSERT(!pd->uhead);
    pd->utail = NULL;
    atomic_store(&pd->nuw, 0);
    pd->users = 0;
    pd->in_table = false;
    pd->leak = false;
    pd->link = NULL;
    goc__spinlock_release(&pd->lock);
}

static goc__pollfd *pd_alloc(int fd, int kind)
{
    pthread_mutex_lock(&cache.lock);
    goc__pollfd *pd = cache.free;
    if (pd)
        cache.free = pd->link;
    pthread_mutex_unlock(&cache.lock);
    if (pd) {
        atomic_fetch_add_explicit(&stats.reused, 1, memory_order_relaxed);
    } else {
        pd = aligned_alloc(64, (sizeof *pd + 63) / 64 * 64);
        if (!pd)
            return NULL;
        memset(pd, 0, sizeof *pd);
        pd->pollable.ready = pd_ready;
        /* Timers are initialised once: their seq must keep increasing
         * across reuse, so that a late firing is recognised as stale. */
        goc__timer_init(&pd->rt, pd_rd_fire, pd);
        goc__timer_init(&pd->wt, pd_wd_fire, pd);
        atomic_fetch_add_explicit(&stats.allocated, 1, memory_order_relaxed);
    }
    pd_reset(pd, fd, kind);
    return pd;
}

/* Never registered: reusable at once. */
static void pd_free_unregistered(goc__pollfd *pd)
{
    pthread_mutex_lock(&cache.lock);
    pd->link = cache.free;
    cache.free = pd;
    pthread_mutex_unlock(&cache.lock);
}

/* Unregistered (or its file closed): reusable after the barrier. */
static void pd_retire(goc__pollfd *pd)
{
    if (pd->leak)
        return;
    pd->fd = -1;
    int64_t now = goc_nanotime();
    pthread_mutex_lock(&cache.lock);
    pd->link = NULL;
    if (cache.retired_tail)
        cache.retired_tail->link = pd;
    else
        cache.retired = pd;
    cache.retired_tail = pd;
    bool trigger = !cache.armed || now - cache.armed_at > BARRIER_REARM_NS;
    if (trigger) {
        cache.armed = true;
        cache.armed_at = now;
    }
    pthread_mutex_unlock(&cache.lock);
    if (trigger)
        barrier_trigger();
}

/* ---- the table: descriptor number -> goc__pollfd -------------------- */

static struct {
    pthread_mutex_t lock;
    goc__pollfd **v;
    int cap;
} tab = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* tab.lock held. */
static goc__pollfd *tab_get(int fd)
{
    return fd < tab.cap ? tab.v[fd] : NULL;
}

/* tab.lock held. false when out of memory. */
static bool tab_reserve(int fd)
{
    if (fd < tab.cap)
        return true;
    int cap = tab.cap ? tab.cap : 256;
    while (cap <= fd)
        cap *= 2;
    goc__pollfd **v = realloc(tab.v, (size_t)cap * sizeof *v);
    if (!v)
        return false;
    memset(v + tab.cap, 0, (size_t)(cap - tab.cap) * sizeof *v);
    tab.v = v;
    tab.cap = cap;
    return true;
}

static void pd_evict(goc__pollfd *pd, int uerr);

/* tab.lock held. pd's number was closed and reused behind goc's back
 * (close(2) on a descriptor goc was watching): forget it, fail its
 * waiters, and never touch that number or recycle pd again. */
static void tab_detach_stale(goc__pollfd *pd)
{
    tab.v[pd->fd] = NULL;
    pd->in_table = false;
    pd->leak = true;
    pd_evict(pd, -EBADF);
}

/* ---- waking --------------------------------------------------------- */

static _Atomic uintptr_t *slot_of(goc__pollfd *pd, int mode)
{
    return mode == GOC__POLL_READ ? &pd->rg : &pd->wg;
}

/* Go's netpollunblock: take the waiter out of a slot. ioready: leave
 * PD_READY (an edge), else PD_NIL (deadline, close). Returns the parked
 * G to wake, or NULL. The caller then does netpoll_waiters_add(-1). */
static goc_g *pd_unblock(_Atomic uintptr_t *gpp, bool ioready)
{
    uintptr_t old = atomic_load(gpp);
    for (;;) {
        if (old == PD_READY)
            return NULL;
        if (old == PD_NIL && !ioready)
            return NULL;
        uintptr_t nv = ioready ? PD_READY : PD_NIL;
        /* seq_cst: pairs with pd_block's CAS to PD_WAIT and its load of
         * info (and with pd_commit's CAS to G). */
        if (atomic_compare_exchange_weak(gpp, &old, nv)) {
            if (old == PD_NIL || old == PD_WAIT)
                return NULL; /* PD_WAIT: the commit will fail */
            return (goc_g *)old;
        }
    }
}

static void ready_g(goc_g *g)
{
    if (g) {
        goc__netpoll_waiters_add(-1);
        goc__ready(g);
    }
}

/* pd->lock held. Recompute info from the locked fields. */
static void publish_info(goc__pollfd *pd)
{
    uint32_t info = 0;
    if (pd->closing)
        info |= INFO_CLOSING;
    if (pd->rd < 0)
        info |= INFO_RD_EXPIRED;
    if (pd->wd < 0)
        info |= INFO_WD_EXPIRED;
    atomic_store(&pd->info, info); /* seq_cst: see the file comment */
}

static int info_err(uint32_t info, int mode)
{
    if (info & INFO_CLOSING)
        return -ECANCELED;
    if ((mode & GOC__POLL_READ) && (info & INFO_RD_EXPIRED))
        return -ETIMEDOUT;
    if ((mode & GOC__POLL_WRITE) && (info & INFO_WD_EXPIRED))
        return -ETIMEDOUT;
    return 0;
}

static void uwait_unlink(goc__pollfd *pd, pd_uwait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        pd->uhead = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        pd->utail = w->prev;
    w->next = w->prev = NULL;
}

/* pd->lock held: remove the user waiters that `match` selects, set their
 * result, and chain them through ->next into *out (woken by the caller
 * after unlocking, reading ->next and ->g before each wake). */
static void uwait_take(goc__pollfd *pd, pd_uwait **out, uint32_t evmask,
                       int64_t now, int forced)
{
    pd_uwait *w = pd->uhead;
    while (w) {
        pd_uwait *next = w->next;
        int res = 0;
        if (forced)
            res = forced;
        else if (evmask && (w->mask & evmask))
            res = (int)(w->mask & evmask);
        else if (now && w->deadline && w->deadline <= now)
            res = w->mask ? -ETIMEDOUT : 0;
        else {
            w = next;
            continue;
        }
        uwait_unlink(pd, w);
        w->result = res;
        w->next = *out;
        *out = w;
        w = next;
    }
}

static void uwait_wake_list(pd_uwait *w)
{
    while (w) {
        pd_uwait *next = w->next;
        goc_g *g = w->g;
        goc__ready(g); /* w may vanish from here on */
        w = next;
    }
}

_Atomic int64_t goc__pollfd_test_dispatch_delay;

/* The poller's callback (on the thread that polled). */
static void pd_ready(goc__pollable *p, uint32_t ev, goc__glist *wake)
{
    goc__pollfd *pd = (goc__pollfd *)p;
    int64_t delay = atomic_load_explicit(&goc__pollfd_test_dispatch_delay,
                                         memory_order_relaxed);
    if (goc_unlikely(delay > 0)) {
        struct timespec ts = {0, (long)delay};
        nanosleep(&ts, NULL);
    }
    if (goc_unlikely(atomic_load_explicit(&pd->info, memory_order_relaxed) &
                     INFO_CLOSING)) {
        /* Read before the DEL of a closing descriptor: drop it. */
        atomic_fetch_add_explicit(&stats.stale, 1, memory_order_relaxed);
        return;
    }
    if (goc_unlikely(ev & (GOC__POLL_PRI | GOC__POLL_RDHUP | GOC__POLL_HUP |
                           GOC__POLL_ERR)))
        atomic_store(&pd->nodrain, true); /* before the slot: see below */
    if (ev & EV_READ) {
        goc_g *g = pd_unblock(&pd->rg, true);
        if (g) {
            goc__netpoll_waiters_add(-1);
            goc__glist_push(wake, g);
        }
    }
    if (ev & EV_WRITE) {
        goc_g *g = pd_unblock(&pd->wg, true);
        if (g) {
            goc__netpoll_waiters_add(-1);
            goc__glist_push(wake, g);
        }
    }
    if (atomic_load(&pd->nuw) > 0) {
        uint32_t m = 0;
        if (ev & EV_READ)
            m |= GOC__POLL_READ;
        if (ev & EV_WRITE)
            m |= GOC__POLL_WRITE;
        /* Tells a waiter between its level check and its enqueue. */
        atomic_fetch_add(&pd->evgen, 1);
        pd_uwait *list = NULL;
        goc__spinlock_acquire(&pd->lock);
        uwait_take(pd, &list, m, 0, 0);
        goc__spinlock_release(&pd->lock);
        while (list) {
            pd_uwait *next = list->next;
            goc__glist_push(wake, list->g);
            list = next;
        }
    }
}

/* ---- deadlines ------------------------------------------------------ */

/* pd->lock held. */
static void timer_arm(goc__timer *t, int64_t d)
{
    goc__timer_del(t); /* bumps t->seq: an in-flight firing is stale */
    if (d > 0 && d != INT64_MAX)
        goc__timer_add(t, d, 0);
}

static void pd_deadline_fire(goc__pollfd *pd, int mode, uint64_t seq)
{
    goc__timer *t = mode == GOC__POLL_READ ? &pd->rt : &pd->wt;
    int64_t *d = mode == GOC__POLL_READ ? &pd->rd : &pd->wd;
    goc__spinlock_acquire(&pd->lock);
    if (seq != atomic_load(&t->seq) || *d <= 0 || pd->closing) {
        goc__spinlock_release(&pd->lock);
        return;
    }
    *d = -1;
    publish_info(pd);
    goc_g *g = pd_unblock(slot_of(pd, mode), false);
    goc__spinlock_release(&pd->lock);
    ready_g(g);
}

static void pd_rd_fire(void *arg, uint64_t seq, int64_t now)
{
    (void)now;
    pd_deadline_fire(arg, GOC__POLL_READ, seq);
}

static void pd_wd_fire(void *arg, uint64_t seq, int64_t now)
{
    (void)now;
    pd_deadline_fire(arg, GOC__POLL_WRITE, seq);
}

int goc__pollfd_set_deadline(goc__pollfd *pd, int mode, int64_t t)
{
    int64_t d = t;
    if (t < 0 || (t > 0 && t != INT64_MAX && t <= goc_nanotime()))
        d = -1;
    goc__spinlock_acquire(&pd->lock);
    if (pd->closing) {
        goc__spinlock_release(&pd->lock);
        return -ECANCELED;
    }
    if (mode & GOC__POLL_READ) {
        pd->rd = d;
        timer_arm(&pd->rt, d);
    }
    if (mode & GOC__POLL_WRITE) {
        pd->wd = d;
        timer_arm(&pd->wt, d);
    }
    publish_info(pd);
    goc_g *rg = NULL, *wg = NULL;
    if (pd->rd < 0)
        rg = pd_unblock(&pd->rg, false);
    if (pd->wd < 0)
        wg = pd_unblock(&pd->wg, false);
    goc__spinlock_release(&pd->lock);
    ready_g(rg);
    ready_g(wg);
    return 0;
}

/* Go's pollUnblock: no new waits; wake all. pd->lock not held. */
static void pd_evict(goc__pollfd *pd, int uerr)
{
    pd_uwait *list = NULL;
    goc__spinlock_acquire(&pd->lock);
    pd->closing = true;
    pd->uerr = uerr;
    publish_info(pd);
    goc__timer_del(&pd->rt);
    goc__timer_del(&pd->wt);
    uwait_take(pd, &list, 0, 0, uerr);
    goc_g *rg = pd_unblock(&pd->rg, false);
    goc_g *wg = pd_unblock(&pd->wg, false);
    goc__spinlock_release(&pd->lock);
    ready_g(rg);
    ready_g(wg);
    uwait_wake_list(list);
}

/* ---- parking on a slot (Go's netpollblock) -------------------------- */

static bool pd_commit(goc_g *g, void *arg)
{
    _Atomic uintptr_t *gpp = arg;
    goc__netpoll_waiters_add(1);
    uintptr_t w = PD_WAIT;
    /* seq_cst: pairs with pd_unblock, which readies the G published
     * here only after this CAS, i.e. once g is off its stack. */
    if (atomic_compare_exchange_strong(gpp, &w, (uintptr_t)g))
        return true;
    goc__netpoll_waiters_add(-1);
    return false; /* an edge, deadline or close came first: run again */
}

/* true: an edge was seen (retry the syscall); false: woken without one
 * (deadline, close, or a deadline reset meanwhile: re-check info). */
static bool pd_block(goc__pollfd *pd, int mode)
{
    _Atomic uintptr_t *gpp = slot_of(pd, mode);
    for (;;) {
        uintptr_t v = PD_READY;
        if (atomic_compare_exchange_strong(gpp, &v, PD_NIL))
            return true;
        v = PD_NIL;
        if (atomic_compare_exchange_strong(gpp, &v, PD_WAIT))
            break;
        if (v != PD_READY && v != PD_NIL)
            goc__fatal("poll descriptor %d: two goroutines wait in one "
                       "direction",
                       pd->fd);
    }
    /* Re-check after announcing PD_WAIT (pairs with publish_info). */
    if (info_err(atomic_load(&pd->info), mode) == 0)
        goc__park(pd_commit, gpp, "IO wait");
    uintptr_t old = atomic_exchange(gpp, PD_NIL);
    if (goc_unlikely(old > PD_WAIT))
        goc__fatal("poll descriptor %d: corrupted slot", pd->fd);
    return old == PD_READY;
}

int goc__pollfd_prepare(goc__pollfd *pd, int mode)
{
    uint32_t info = atomic_load(&pd->info);
    if (goc_unlikely(info != 0)) {
        int err = info_err(info, mode);
        if (err)
            return err;
    }
    _Atomic uintptr_t *gpp = slot_of(pd, mode);
    uintptr_t r = PD_READY;
    if (atomic_load_explicit(gpp, memory_order_relaxed) == PD_READY)
        atomic_compare_exchange_strong(gpp, &r, PD_NIL);
    return 0;
}

int goc__pollfd_prepare_drained(goc__pollfd *pd, int mode)
{
    uint32_t info = atomic_load(&pd->info);
    if (goc_unlikely(info != 0)) {
        int err = info_err(info, mode);
        if (err)
            return err;
    }
    uintptr_t r = PD_READY;
    /* seq_cst: an edge after this CAS is seen by pd_block's CAS. */
    if (atomic_compare_exchange_strong(slot_of(pd, mode), &r, PD_NIL))
        return 0;
    /* A read stops short of a pending end of file or error, and a TCP
     * read at the urgent mark with data behind it; the edge that
     * announced either set `nodrain` before the slot, so a short read
     * that followed it is seen here. */
    return atomic_load(&pd->nodrain) ? 0 : 1;
}

int goc__pollfd_wait(goc__pollfd *pd, int mode)
{
    int err = info_err(atomic_load(&pd->info), mode);
    if (err)
        return err;
    while (!pd_block(pd, mode)) {
        err = info_err(atomic_load(&pd->info), mode);
        if (err)
            return err;
        /* A deadline fired and was reset before we ran: wait again. */
    }
    return 0;
}

/* ---- completion I/O (uring_io.c) ------------------------------------ */

void goc__pollfd_quiet(goc__pollfd *pd)
{
    if (goc_likely(atomic_load_explicit(&pd->quiet, memory_order_relaxed) !=
                   QUIET_NO) ||
        !pd->polled)
        return;
    goc__spinlock_acquire(&pd->lock);
    if (atomic_load(&pd->quiet) == QUIET_NO && !pd->closing &&
        goc__poller_arm(pd->fd, 0, &pd->pollable) == 0)
        atomic_store(&pd->quiet, QUIET_YES);
    goc__spinlock_release(&pd->lock);
}

bool goc__pollfd_unquiet(goc__pollfd *pd)
{
    uint8_t q = atomic_load_explicit(&pd->quiet, memory_order_relaxed);
    if (goc_likely(q != QUIET_YES) || !pd->polled)
        return pd->polled;
    goc__spinlock_acquire(&pd->lock);
    if (atomic_load(&pd->quiet) == QUIET_YES && !pd->closing &&
        goc__poller_arm(pd->fd, POLL_EVENTS, &pd->pollable) == 0)
        atomic_store(&pd->quiet, QUIET_NO);
    bool ok = atomic_load(&pd->quiet) != QUIET_YES;
    goc__spinlock_release(&pd->lock);
    return ok;
}

void goc__pollfd_loud(goc__pollfd *pd)
{
    if (!pd->polled)
        return;
    goc__spinlock_acquire(&pd->lock);
    if (atomic_load(&pd->quiet) == QUIET_YES && !pd->closing)
        (void)goc__poller_arm(pd->fd, POLL_EVENTS, &pd->pollable);
    atomic_store(&pd->quiet, QUIET_NEVER);
    goc__spinlock_release(&pd->lock);
}

void goc__pollfd_complete(goc__pollfd *pd, int mode, goc__glist *wake)
{
    goc_g *g = pd_unblock(slot_of(pd, mode), true);
    if (g)
        goc__glist_push(wake, g); /* still counted: see pollfd.h */
}

void goc__pollfd_wait_pending(goc__pollfd *pd, int mode,
                              _Atomic uint32_t *pending)
{
    _Atomic uintptr_t *gpp = slot_of(pd, mode);
    while (atomic_load(pending) != 0) {
        uintptr_t v = PD_READY;
        if (atomic_compare_exchange_strong(gpp, &v, PD_NIL))
            continue;
        v = PD_NIL;
        if (!atomic_compare_exchange_strong(gpp, &v, PD_WAIT)) {
            if (v != PD_READY)
                goc__fatal("poll descriptor %d: two goroutines wait in one "
                           "direction",
                           pd->fd);
            continue;
        }
        /* seq_cst: the waker drops *pending to 0 before it CASes the
         * slot, so either we see 0 here or it sees PD_WAIT / g. */
        if (atomic_load(pending) != 0)
            goc__park(pd_commit, gpp, "IO wait");
        (void)atomic_exchange(gpp, PD_NIL);
    }
}

/* ---- user waiters (goc_wait_fd, sleep) ------------------------------ */

/* Level check with poll(2): the ready subset of mask (> 0), 0, or a
 * negative code (-EBADF for a descriptor that is not open). */
static int level_check(int fd, uint32_t mask)
{
    struct pollfd p = {.fd = fd, .events = 0};
    if (mask & GOC__POLL_READ)
        p.events |= POLLIN | POLLRDHUP;
    if (mask & GOC__POLL_WRITE)
        p.events |= POLLOUT;
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return 0;
    if (p.revents & POLLNVAL)
        return -EBADF;
    int m = 0;
    if (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))
        m |= GOC__POLL_READ;
    if (p.revents & (POLLOUT | POLLHUP | POLLERR))
        m |= GOC__POLL_WRITE;
    return m & (int)mask;
}

static void pd_uwait_fire(void *arg, uint64_t seq, int64_t now)
{
    goc__pollfd *pd = arg;
    (void)seq; /* whoever's deadline has passed is due, stale or not */
    pd_uwait *list = NULL;
    goc__spinlock_acquire(&pd->lock);
    uwait_take(pd, &list, 0, now, 0);
    goc__spinlock_release(&pd->lock);
    uwait_wake_list(list);
}

/* Park w on pd's waiter list until an edge in w->mask, w->deadline, or
 * eviction. level_fd >= 0: check the level with poll(2) first. Returns the
 * ready mask (> 0), 0 (a sleep's deadline passed), -ETIMEDOUT, or the
 * eviction's code. The caller holds a reference to pd. */
static int pd_uwait_block(goc__pollfd *pd, pd_uwait *w, int level_fd)
{
    int res;
    w->g = goc__getg();
    w->next = w->prev = NULL;
    goc__timer_init(&w->timer, pd_uwait_fire, pd);
    /* seq_cst: pairs with pd_ready's load of nuw. */
    atomic_fetch_add(&pd->nuw, 1);
    for (;;) {
        uint32_t gen = atomic_load(&pd->evgen);
        if (level_fd >= 0) {
            res = level_check(level_fd, w->mask);
            if (res != 0)
                break;
        }
        if (w->deadline && goc_nanotime() >= w->deadline) {
            res = w->mask ? -ETIMEDOUT : 0;
            break;
        }
        goc__spinlock_acquire(&pd->lock);
        if (pd->closing) {
            res = pd->uerr;
            goc__spinlock_release(&pd->lock);
            break;
        }
        if (atomic_load(&pd->evgen) != gen) {
            goc__spinlock_release(
                &pd->lock); /* an event slipped in: look again */
            continue;
        }
        if (pd->utail)
            pd->utail->next = w;
        else
            pd->uhead = w;
        w->prev = pd->utail;
        pd->utail = w;
        if (w->deadline)
            goc__timer_add(&w->timer, w->deadline, 0);
        goc__netpoll_waiters_add(1);
        goc__park(goc__spin_park_unlock, &pd->lock, "IO wait");
        goc__netpoll_waiters_add(-1);
        /* The waker unlinked w and set w->result. */
        if (w->deadline)
            goc__timer_del(&w->timer);
        res = w->result;
        break;
    }
    atomic_fetch_sub(&pd->nuw, 1);
    return res;
}

int goc__pollfd_sleep(goc__pollfd *pd, int64_t until)
{
    goc__require_g("goc__pollfd_sleep");
    pd_uwait w = {.mask = 0, .deadline = until > 0 ? until : 1};
    int r = pd_uwait_block(pd, &w, -1);
    return r < 0 ? r : 0;
}

/* ---- fdMutex ------------------------------------------------------- */

static void mu_overflow(void)
{
    goc__fatal("too many concurrent operations on one descriptor");
}

static bool mu_incref(goc__pollfd *pd)
{
    uint64_t old = atomic_load(&pd->mu);
    for (;;) {
        if (old & MU_CLOSED)
            return false;
        uint64_t nv = old + MU_REF;
        if ((nv & MU_REF_MASK) == 0)
            mu_overflow();
        if (atomic_compare_exchange_weak(&pd->mu, &old, nv))
            return true;
    }
}

static bool mu_incref_and_close(goc__pollfd *pd)
{
    uint64_t old = atomic_load(&pd->mu);
    for (;;) {
        if (old & MU_CLOSED)
            return false;
        uint64_t nv = (old | MU_CLOSED) + MU_REF;
        if ((nv & MU_REF_MASK) == 0)
            mu_overflow();
        nv &= ~(MU_RMASK | MU_WMASK);
        if (atomic_compare_exchange_weak(&pd->mu, &old, nv)) {
            /* Wake every lock waiter: they will see the closed bit. */
            while (old & MU_RMASK) {
                old -= MU_RWAIT;
                goc__sema_release(&pd->rsema, false);
            }
            while (old & MU_WMASK) {
                old -= MU_WWAIT;
                goc__sema_release(&pd->wsema, false);
            }
            return true;
        }
    }
}

/* true: the last reference of a closed descriptor: destroy it. */
static bool mu_decref(goc__pollfd *pd)
{
    uint64_t old = atomic_load(&pd->mu);
    for (;;) {
        if ((old & MU_REF_MASK) == 0)
            goc__fatal("poll descriptor %d: inconsistent references", pd->fd);
        uint64_t nv = old - MU_REF;
        if (atomic_compare_exchange_weak(&pd->mu, &old, nv))
            return (nv & (MU_CLOSED | MU_REF_MASK)) == MU_CLOSED;
    }
}

static __attribute__((noinline)) bool mu_rwlock_slow(goc__pollfd *pd, bool read)
{
    uint64_t bit = read ? MU_RLOCK : MU_WLOCK;
    uint64_t wait = read ? MU_RWAIT : MU_WWAIT;
    uint64_t mask = read ? MU_RMASK : MU_WMASK;
    goc__sema *sema = read ? &pd->rsema : &pd->wsema;
    uint64_t old = atomic_load(&pd->mu);
    for (;;) {
        if (old & MU_CLOSED)
            return false;
        uint64_t nv;
        if ((old & bit) == 0) {
            nv = (old | bit) + MU_REF;
            if ((nv & MU_REF_MASK) == 0)
                mu_overflow();
        } else {
            nv = old + wait;
            if ((nv & mask) == 0)
                mu_overflow();
        }
        if (atomic_compare_exchange_weak(&pd->mu, &old, nv)) {
            if ((old & bit) == 0)
                return true;
            goc__sema_acquire(sema, false, "semacquire", "goc__pollfd_lock");
            /* The releaser subtracted our wait count. */
            old = atomic_load(&pd->mu);
        }
    }
}

/* The common case, no other holder and nobody waiting, is one
 * compare-and-swap with nothing to save around it: the slow paths, which
 * may park on a semaphore, are calls of their own. */
static goc_always_inline bool mu_rwlock(goc__pollfd *pd, bool read)
{
    uint64_t bit = read ? MU_RLOCK : MU_WLOCK;
    uint64_t old = atomic_load_explicit(&pd->mu, memory_order_relaxed);
    if (goc_likely((old & (MU_CLOSED | bit)) == 0 &&
                   ((old + MU_REF) & MU_REF_MASK) != 0) &&
        atomic_compare_exchange_strong(&pd->mu, &old, (old | bit) + MU_REF))
        return true;
    return mu_rwlock_slow(pd, read);
}

/* true: the last reference of a closed descriptor: destroy it. */
static __attribute__((noinline)) bool mu_rwunlock_slow(goc__pollfd *pd,
                                                       bool read)
{
    uint64_t bit = read ? MU_RLOCK : MU_WLOCK;
    uint64_t wait = read ? MU_RWAIT : MU_WWAIT;
    uint64_t mask = read ? MU_RMASK : MU_WMASK;
    goc__sema *sema = read ? &pd->rsema : &pd->wsema;
    uint64_t old = atomic_load(&pd->mu);
    for (;;) {
        if ((old & bit) == 0 || (old & MU_REF_MASK) == 0)
            goc__fatal("poll descriptor %d: unlock of an unlocked "
                       "direction",
                       pd->fd);
        uint64_t nv = (old & ~bit) - MU_REF;
        if (old & mask)
            nv -= wait;
        if (atomic_compare_exchange_weak(&pd->mu, &old, nv)) {
            if (old & mask)
                goc__sema_release(sema, false);
            return (nv & (MU_CLOSED | MU_REF_MASK)) == MU_CLOSED;
        }
    }
}

/* true: the last reference of a closed descriptor: destroy it. */
static goc_always_inline bool mu_rwunlock(goc__pollfd *pd, bool read)
{
    uint64_t bit = read ? MU_RLOCK : MU_WLOCK;
    uint64_t mask = read ? MU_RMASK : MU_WMASK;
    uint64_t old = atomic_load_explicit(&pd->mu, memory_order_relaxed);
    uint64_t nv = (old & ~bit) - MU_REF;
    if (goc_likely((old & bit) && (old & MU_REF_MASK) && !(old & mask)) &&
        atomic_compare_exchange_strong(&pd->mu, &old, nv))
        return (nv & (MU_CLOSED | MU_REF_MASK)) == MU_CLOSED;
    return mu_rwunlock_slow(pd, read);
}

/* The last reference is gone after close began: unregister and close. */
static void pd_destroy(goc__pollfd *pd)
{
    pthread_mutex_lock(&tab.lock);
    bool mine = pd->in_table;
    if (mine) {
        tab.v[pd->fd] = NULL;
        pd->in_table = false;
    }
    pthread_mutex_unlock(&tab.lock);
    int err = -EBADF; /* the number was reused behind our back */
    if (mine) {
        /* Explicitly: a forked child may share the open file, which would
         * keep the registration (and its events) alive past close. */
        if (pd->polled)
            goc__poller_close(pd->fd);
        err = close(pd->fd) == 0 || errno == EINTR ? 0 : -errno;
    }
    pd->close_err = err;
    goc__sema_release(&pd->csema, false);
}

int goc__pollfd_incref(goc__pollfd *pd)
{
    return mu_incref(pd) ? 0 : -ECANCELED;
}

void goc__pollfd_decref(goc__pollfd *pd)
{
    if (mu_decref(pd))
        pd_destroy(pd);
}

int goc__pollfd_lock(goc__pollfd *pd, int mode)
{
    return mu_rwlock(pd, mode == GOC__POLL_READ) ? 0 : -ECANCELED;
}

void goc__pollfd_unlock(goc__pollfd *pd, int mode)
{
    if (mu_rwunlock(pd, mode == GOC__POLL_READ))
        pd_destroy(pd);
}

/* ---- open and close ------------------------------------------------- */

static int pd_open(int fd, bool poll, goc__pollfd **out)
{
    if (fd < 0)
        return -EBADF;
    goc__pollfd *pd = pd_alloc(fd, KIND_OWNED);
    if (!pd)
        return -ENOMEM;
    pd->polled = poll; /* nobody else sees pd yet */
    pthread_mutex_lock(&tab.lock);
    if (!tab_reserve(fd)) {
        pthread_mutex_unlock(&tab.lock);
        pd_free_unregistered(pd);
        return -ENOMEM;
    }
    int err = poll ? goc__poller_open(fd, POLL_EVENTS, &pd->pollable) : 0;
    if (err) {
        pthread_mutex_unlock(&tab.lock);
        pd_free_unregistered(pd);
        return err;
    }
    goc__pollfd *old = tab.v[fd];
    if (old)
        tab_detach_stale(old);
    tab.v[fd] = pd;
    pd->in_table = true;
    pthread_mutex_unlock(&tab.lock);
    *out = pd;
    return 0;
}

int goc__pollfd_open(int fd, goc__pollfd **out)
{
    return pd_open(fd, true, out);
}

int goc__pollfd_open_unpolled(int fd, goc__pollfd **out)
{
    return pd_open(fd, false, out);
}

bool goc__pollfd_polled(const goc__pollfd *pd)
{
    return pd->polled;
}

int goc__pollfd_fd(const goc__pollfd *pd)
{
    return pd->fd;
}

int goc__pollfd_close(goc__pollfd *pd)
{
    if (!mu_incref_and_close(pd))
        return -ECANCELED;
    pd_evict(pd, -ECANCELED);
    if (mu_decref(pd))
        pd_destroy(pd);
    /* Wait for whoever drops the last reference to close the fd. */
    if (goc__getg()) {
        goc__sema_acquire(&pd->csema, false, "semacquire", "goc__pollfd_close");
    } else {
        while (!goc__sema_tryacquire(&pd->csema))
            sched_yield();
    }
    return pd->close_err;
}

void goc__pollfd_free(goc__pollfd *pd)
{
    GOC_ASSERT(atomic_load(&pd->mu) & MU_CLOSED);
    GOC_ASSERT((atomic_load(&pd->mu) & MU_REF_MASK) == 0);
    pd_retire(pd);
}

/* ---- generic I/O ---------------------------------------------------- */

ssize_t goc__pollfd_read(goc__pollfd *pd, void *buf, size_t n)
{
    int err = goc__pollfd_lock(pd, GOC__POLL_READ);
    if (err)
        return err;
    ssize_t r = 0;
    if (n == 0)
        goto out;
    if ((r = goc__pollfd_prepare(pd, GOC__POLL_READ)) < 0)
        goto out;
    for (;;) {
        r = read(pd->fd, buf, n);
        if (r >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            r = -errno;
            break;
        }
        if ((r = goc__pollfd_wait(pd, GOC__POLL_READ)) < 0)
            break;
    }
out:
    goc__pollfd_unlock(pd, GOC__POLL_READ);
    return r;
}

ssize_t goc__pollfd_write(goc__pollfd *pd, const void *buf, size_t n)
{
    int err = goc__pollfd_lock(pd, GOC__POLL_WRITE);
    if (err)
        return err;
    size_t done = 0;
    ssize_t r = 0;
    if ((r = goc__pollfd_prepare(pd, GOC__POLL_WRITE)) < 0)
        goto out;
    while (done < n) {
        r = write(pd->fd, (const char *)buf + done, n - done);
        if (r >= 0) {
            done += (size_t)r;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            r = -errno;
            goto out;
        }
        if ((r = goc__pollfd_wait(pd, GOC__POLL_WRITE)) < 0)
            goto out;
    }
    r = (ssize_t)done;
out:
    goc__pollfd_unlock(pd, GOC__POLL_WRITE);
    return r;
}

/* ---- goc_wait_fd ---------------------------------------------------- */

/* Find or create the descriptor goc_wait_fd(fd) waits on, holding a use
 * of it. 0, 1 (the poller refuses fd: always ready), or a negative code. */
static int user_acquire(int fd, goc__pollfd **out)
{
    pthread_mutex_lock(&tab.lock);
    goc__pollfd *pd = tab_get(fd);
    if (pd && pd->kind == KIND_OWNED) {
        /* A goc socket's own descriptor: wait beside its operations. */
        bool ok = mu_incref(pd);
        pthread_mutex_unlock(&tab.lock);
        if (!ok)
            return -ECANCELED;
        goc__pollfd_loud(pd);
        *out = pd;
        return 0;
    }
    if (pd) {
        /* Shared with other waiters: is it still the same open file?
         * (MOD finds the registration by file and number.) */
        if (goc__poller_arm(fd, POLL_EVENTS, &pd->pollable) == 0) {
            pd->users++;
            pthread_mutex_unlock(&tab.lock);
            *out = pd;
            return 0;
        }
        tab_detach_stale(pd);
    }
    if (!tab_reserve(fd)) {
        pthread_mutex_unlock(&tab.lock);
        return -ENOMEM;
    }
    pd = pd_alloc(fd, KIND_USER);
    if (!pd) {
        pthread_mutex_unlock(&tab.lock);
        return -ENOMEM;
    }
    int err = goc__poller_open(fd, POLL_EVENTS, &pd->pollable);
    if (err) {
        pthread_mutex_unlock(&tab.lock);
        pd_free_unregistered(pd);
        return err == -EPERM ? 1 : err;
    }
    tab.v[fd] = pd;
    pd->in_table = true;
    pd->users = 1;
    pthread_mutex_unlock(&tab.lock);
    *out = pd;
    return 0;
}

static void user_release(goc__pollfd *pd)
{
    if (pd->kind == KIND_OWNED) {
        goc__pollfd_decref(pd);
        return;
    }
    pthread_mutex_lock(&tab.lock);
    bool last = --pd->users == 0;
    if (last && pd->in_table) {
        tab.v[pd->fd] = NULL;
        pd->in_table = false;
        /* Mark it closed: an event already read for it is dropped. */
        goc__spinlock_acquire(&pd->lock);
        pd->closing = true;
        publish_info(pd);
        goc__spinlock_release(&pd->lock);
        goc__poller_close(pd->fd);
    }
    pthread_mutex_unlock(&tab.lock);
    if (last)
        pd_retire(pd); /* a detached (leak) one stays out of the cache */
}

int goc__pollfd_wait_fd(int fd, int events, int64_t deadline)
{
    goc__require_g("goc_wait_fd");
    if (fd < 0)
        return -EBADF;
    if (events == 0 || (events & ~(GOC__POLL_READ | GOC__POLL_WRITE)))
        return -EINVAL;
    if (deadline < 0 || (deadline > 0 && deadline <= goc_nanotime()))
        return -ETIMEDOUT;
    int r = level_check(fd, (uint32_t)events);
    if (r != 0)
        return r > 0 ? 0 : r;
    goc__pollfd *pd;
    int err = user_acquire(fd, &pd);
    if (err)
        return err > 0 ? 0 : err;
    pd_uwait w = {.mask = (uint32_t)events,
                  .deadline = deadline == INT64_MAX ? 0 : deadline};
    r = pd_uwait_block(pd, &w, fd);
    user_release(pd);
    return r > 0 ? 0 : r;
}

/* ---- tests ---------------------------------------------------------- */

goc__pollfd *goc__pollfd_lookup(int fd)
{
    pthread_mutex_lock(&tab.lock);
    goc__pollfd *pd = fd >= 0 ? tab_get(fd) : NULL;
    pthread_mutex_unlock(&tab.lock);
    return pd;
}

bool goc__pollfd_ready_pending(goc__pollfd *pd, int mode)
{
    return atomic_load(slot_of(pd, mode)) == PD_READY;
}

bool goc__pollfd_parked(goc__pollfd *pd, int mode)
{
    return atomic_load(slot_of(pd, mode)) > PD_WAIT;
}

uint64_t goc__pollfd_seq(const goc__pollfd *pd)
{
    return pd->seq;
}

void goc__pollfd_get_stats(goc__pollfd_stats *st)
{
    st->allocated = atomic_load(&stats.allocated);
    st->reused = atomic_load(&stats.reused);
    st->stale = atomic_load(&stats.stale);
    st->barriers = atomic_load(&stats.barriers);
}
