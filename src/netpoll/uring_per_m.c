/*
 * uring_per_m.c - completion I/O with a ring per M (uring_io.c's top
 * comment has the design; docs/net.md, "A ring per M", the reasoning and
 * the figures): which M owns which ring, who drives a ring when its M
 * cannot, and when. The rounds themselves (take, write, enter, reap) are
 * uring_io.c's, as are the requests.
 *
 * Locking: a ring's SQ and CQ are touched only by the thread holding its
 * drive_lock. Its M takes it at the end of each scheduler round
 * (goc__uio_pm_flush), with a trylock: a holder reaps for it. A
 * goroutine that pushed to another M's ring takes it and drives that
 * ring (goc__uio_pm_drive), as does an M letting go of its processor
 * (goc__uio_m_away). The poller takes it with a trylock for the rings of
 * Ms away (away_ready) and of Ms that have not reaped for a while
 * (goc__uio_steal). Nothing else is held when drive_lock is taken, and
 * the handlers a round runs take only a receiver's or an acceptor's mu
 * and a ring's br_lock and ready_lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "netpoll/poller.h"
#include "netpoll/uring_io_internal.h"

#define PUSH_AHEAD 256 /* pushes an M lets wait for its round, at most */

/*
 * Whether reads on the ring pay. A read's request is cheap while its
 * M's processor stays busy: the completion waits for the M's next round.
 * Once the M lets go of its processor with requests in its ring (away),
 * each completion costs wake-ups: the kernel wakes the M's thread to run
 * its task work, the ring's eventfd wakes the poller, which drives the
 * ring and hands the goroutine to a processor. Many idle connections and
 * light traffic is the bad case: 200 parked readers and one round trip a
 * millisecond at 2 processors measured 76-108 us a round trip (median)
 * against 15-26 us on epoll, and 148-224 us at p99 against 32-49. Reads
 * per away told the cases apart: 0.4 there; 396 with 100 busy
 * connections at 2 processors, 78 for goc-loadgen against nginx on one
 * CPU. So the score gains a read for each read (added PAYS_BATCH at a
 * time, from the ring's count) and loses AWAY_READS for each away of an
 * M whose ring has requests in the kernel; reads are requests while it
 * last crossed +PAYS_EDGE, readiness once it crossed -PAYS_EDGE. One
 * score and one choice for all Ms, as for the waiters' threshold
 * (uring_io.c: reads_on_ring). The flag may lag a racing update by one
 * event; the next pays_add sets it right.
 */
#define PAYS_BATCH 64
#define AWAY_READS 8
#define PAYS_EDGE 128
#define PAYS_CAP 1024
static _Atomic int32_t pays_score;
static _Atomic bool pays = true; /* known nothing yet: as before */
_Atomic int goc__uio_test_pays;

static void pays_add(int32_t d)
{
    int32_t s = atomic_load_explicit(&pays_score, memory_order_relaxed), n;
    do {
        n = s + d;
        n = n > PAYS_CAP ? PAYS_CAP : n < -PAYS_CAP ? -PAYS_CAP : n;
    } while (n != s && !atomic_compare_exchange_weak_explicit(
                           &pays_score, &s, n, memory_order_relaxed,
                           memory_order_relaxed));
    bool on = atomic_load_explicit(&pays, memory_order_relaxed);
    if (on ? n <= -PAYS_EDGE : n >= PAYS_EDGE)
        atomic_store_explicit(&pays, !on, memory_order_relaxed);
}

static uio_ring *rings; /* nrings of them, while a ring per M is on */
static unsigned nrings;
static _Atomic unsigned rings_claimed; /* rings Ms have claimed */
static _Atomic unsigned rings_made;    /* of them, set up (stats) */
static int away_fd = -1; /* the rings of Ms away signal it (polled) */
static goc__pollable away_pollable;
static bool away_open;

/* Whether R has something for a driver: pushes not taken, requests left
 * unwritten, completions, task work or overflowed completions (any
 * thread; racy reads, each confirmed under drive_lock). */
static bool ring_has_work(uio_ring *R)
{
    return atomic_load_explicit(&R->qtail, memory_order_relaxed) !=
               atomic_load_explicit(&R->qhead, memory_order_relaxed) ||
           atomic_load_explicit(&R->owed, memory_order_relaxed) ||
           goc__uring_cq_ready(&R->ring) != 0 ||
           (atomic_load_explicit(R->ring.sq_kflags, memory_order_relaxed) &
            (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW));
}

/* Signal away_fd: the poller then drives the rings of Ms away. */
static void away_kick(void)
{
    uint64_t one = 1;
    ssize_t w;
    do
        w = write(away_fd, &one, sizeof one);
    while (w < 0 && errno == EINTR);
}

/* Release R's drive_lock. Its owner away, what arrived after the last
 * reap and before the release may have found the poller unable to take
 * the lock: it is told again. */
static void drive_unlock(uio_ring *R)
{
    pthread_mutex_unlock(&R->drive_lock);
    if (atomic_load(&R->away) && ring_has_work(R))
        away_kick();
}

/* Drive R from a thread that is not its M (or whose M is away): a
 * goroutine that pushed to another M's ring, so that its request goes
 * in now. What the round woke goes to the pollers (deliver). */
static void drive_foreign(uio_ring *R)
{
    goc__glist wake = {0};
    pthread_mutex_lock(&R->drive_lock);
    goc__uio_round_locked(R, &wake);
    drive_unlock(R);
    goc__uio_deliver(R, &wake);
}

static int ring_per_m_setup(uio_ring *R, bool need_buffers);

/* The ring of the calling goroutine's M, claimed on its first request:
 * the next of the pool while some are left, made now (ring 0 was made
 * at start), else one shared with its owner's M (driven as another M's:
 * drive_foreign). A ring that cannot be made (no memory, no descriptor
 * left) is not used: the M shares ring 0, which always exists. */
static __attribute__((noinline)) uio_ring *claim_ring(void **slot)
{
    if (!slot)
        goc__fatal("completion I/O outside a goroutine");
    unsigned i = atomic_fetch_add(&rings_claimed, 1);
    uio_ring *R = &rings[i % nrings];
    if (i < nrings) {
        if (i > 0 && ring_per_m_setup(R, atomic_load(&goc__uio_msrecv)) < 0)
            R = &rings[0]; /* it was undone */
        else
            atomic_store(&R->owner, (void *)goc__thread_token());
    } else if (!atomic_load_explicit(&R->made, memory_order_acquire)) {
        R = &rings[0]; /* its claimer failed to make it, or makes it now */
    }
    *slot = R;
    return R;
}

static uio_ring *my_ring(void)
{
    void **slot = goc__m_io_ring_slot();
    if (goc_likely(slot && *slot))
        return *slot;
    return claim_ring(slot);
}

static bool is_mine(uio_ring *R)
{
    return atomic_load_explicit(&R->owner, memory_order_relaxed) ==
           (void *)goc__thread_token();
}

/* Whether R has requests in the kernel (a recv, a send, a multishot
 * recv or accept armed): completions may come. */
static bool ring_busy(uio_ring *R)
{
    return (int64_t)atomic_load_explicit(&R->stats.inflight,
                                         memory_order_relaxed) > 0 ||
           (int64_t)atomic_load_explicit(&R->stats.armed,
                                         memory_order_relaxed) > 0 ||
           (int64_t)atomic_load_explicit(&R->stats.acc_armed,
                                         memory_order_relaxed) > 0;
}

void goc__uio_m_away(void *ring, bool away)
{
    uio_ring *R = ring;
    if (!rings || !is_mine(R) ||
        atomic_load_explicit(&R->away, memory_order_relaxed) == away)
        return;
    if (!away) {
        atomic_store(&R->away, false);
        atomic_fetch_or(R->ring.cq_kflags, IORING_CQ_EVENTFD_DISABLED);
        return;
    }
    if (ring_busy(R)) /* completions may come, each with its wake-ups */
        pays_add(-AWAY_READS);
    /* Nothing pushed stays unsubmitted; from now on each completion
     * signals away_fd (seq_cst: then the look at the queue). */
    goc__glist wake = {0};
    pthread_mutex_lock(&R->drive_lock);
    goc__uio_round_locked(R, &wake);
    atomic_store(&R->away, true);
    atomic_fetch_and(R->ring.cq_kflags, ~(uint32_t)IORING_CQ_EVENTFD_DISABLED);
    drive_unlock(R);
    goc__uio_deliver(R, &wake);
}

_Atomic bool goc__uio_test_no_steal;

int goc__uio_steal(goc__glist *out, int64_t *recheck)
{
    if (!rings ||
        atomic_load_explicit(&goc__uio_test_no_steal, memory_order_relaxed))
        return 0;
    int64_t now = 0; /* read once a ring needs it */
    int before = out->n;
    for (unsigned i = 0; i < nrings; i++) {
        uio_ring *R = &rings[i];
        if (!atomic_load_explicit(&R->made, memory_order_acquire) ||
            atomic_load_explicit(&R->away, memory_order_relaxed) ||
            !atomic_load_explicit(&R->owner, memory_order_relaxed) ||
            !ring_busy(R))
            continue;
        int64_t at = atomic_load_explicit(&R->round_at, memory_order_relaxed);
        if (!now)
            now = goc_nanotime();
        if (now - at < GOC__UIO_STALE_NS) {
            *recheck = GOC__UIO_STALE_NS;
            continue;
        }
        if (!ring_has_work(R) || pthread_mutex_trylock(&R->drive_lock) != 0) {
            *recheck = GOC__UIO_STALE_NS;
            continue;
        }
        goc__uio_round_locked(R, out);
        drive_unlock(R);
        *recheck = GOC__UIO_STALE_NS;
    }
    int n = out->n - before;
    if (n)
        goc__netpoll_waiters_add(-n);
    return n;
}

/* away_fd's edge: drive every ring whose M is away (the poller's
 * thread). What they woke counts as taken (a readiness wake). */
static void away_ready(goc__pollable *p, uint32_t events, goc__glist *wake)
{
    (void)p;
    (void)events;
    uint64_t v;
    ssize_t r = read(away_fd, &v, sizeof v); /* drained: the next edge */
    (void)r;
    int before = wake->n;
    for (unsigned i = 0; i < nrings; i++) {
        uio_ring *R = &rings[i];
        if (!atomic_load_explicit(&R->made, memory_order_acquire) ||
            !atomic_load(&R->away) || !ring_has_work(R) ||
            pthread_mutex_trylock(&R->drive_lock) != 0)
            continue; /* the holder reaps, and tells again (drive_unlock) */
        goc__uio_round_locked(R, wake);
        drive_unlock(R);
    }
    if (wake->n > before)
        goc__netpoll_waiters_add(-(wake->n - before));
}

/* A ring per M: the size of the pool the Ms claim from (the processors'
 * Ms, and as many again for Ms that replace one blocked in a system call
 * section). */
unsigned goc__uio_pm_rings_wanted(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    n = 2 * n + 2;
    return n > RINGS_MAX ? RINGS_MAX : (unsigned)n;
}

/* Make ring R of a ring per M (ring 0 at start; another by the first M
 * that claims it): its request slots, its provided buffers (where
 * multishot recv is wanted; need_buffers: where it is on, so that a ring
 * without them fails), and away_fd registered with its completion
 * notices off (on while its M is away). Published by R->made (release):
 * the poller looks at no ring before. Undone where it fails. */
_Atomic bool goc__uio_test_fail_ring_make;

static int ring_per_m_setup(uio_ring *R, bool need_buffers)
{
    int err = goc__uio_slots_init(R);
    if (err < 0)
        return err;
    if ((err = goc__uio_ring_setup(R)) < 0)
        goto fail;
    if (goc__uio_msrecv_wanted())
        goc__uio_pbuf_setup(R);
    if (need_buffers && !R->br) {
        err = -ENOMEM;
        goto fail;
    }
    int fd = away_fd;
    if (R != &rings[0] && atomic_load_explicit(&goc__uio_test_fail_ring_make,
                                               memory_order_relaxed)) {
        err = -EMFILE; /* the test hook: a failure at the last step */
        goto fail;
    }
    if ((err = goc__uring_sys_register(R->ring.fd, IORING_REGISTER_EVENTFD, &fd,
                                       1)) < 0)
        goto fail;
    atomic_fetch_or(R->ring.cq_kflags, IORING_CQ_EVENTFD_DISABLED);
    atomic_fetch_add(&rings_made, 1);
    atomic_store_explicit(&R->made, true, memory_order_release);
    return 0;
fail:
    goc__uring_fini(&R->ring);
    goc__uio_pbuf_fini(R);
    free(R->slots);
    R->slots = NULL;
    return err;
}

void goc__uio_pm_drive(uio_ring *R)
{
    drive_foreign(R);
}

void goc__uio_pm_pushed(uio_ring *R)
{
    /* The M's own ring: its end of round submits (goc__uio_pm_flush),
     * unless that many wait already. Another M's: now. */
    if (!is_mine(R) ||
        atomic_load_explicit(&R->qtail, memory_order_relaxed) -
                atomic_load_explicit(&R->qhead, memory_order_relaxed) >=
            PUSH_AHEAD)
        drive_foreign(R);
}

uio_ring *goc__uio_pm_ring(void)
{
    return my_ring();
}

int goc__uio_pm_flush(goc__glist *out)
{
    void **slot = goc__m_io_ring_slot();
    uio_ring *R = slot ? *slot : NULL;
    if (!R || !ring_has_work(R) || pthread_mutex_trylock(&R->drive_lock) != 0)
        return 0; /* a holder reaps, and delivers */
    goc__glist wake = {0};
    goc__uio_round_locked(R, &wake);
    drive_unlock(R);
    int n = wake.n;
    if (n) {
        goc__netpoll_waiters_add(-n);
        goc__glist_cat(out, &wake);
    }
    return n;
}

void goc__uio_pm_count_read(void)
{
    void **slot = goc__m_io_ring_slot();
    uio_ring *R = slot ? *slot : NULL;
    if (!R)
        return; /* no ring, no away to pay for */
    /* Its M's, or shared by a few: a count lost to a race is no harm. */
    uint32_t n = atomic_load_explicit(&R->reads, memory_order_relaxed) + 1;
    if (n < PAYS_BATCH) {
        atomic_store_explicit(&R->reads, n, memory_order_relaxed);
        return;
    }
    atomic_store_explicit(&R->reads, 0, memory_order_relaxed);
    pays_add(PAYS_BATCH);
}

bool goc__uio_pm_pays(void)
{
    int t = atomic_load_explicit(&goc__uio_test_pays, memory_order_relaxed);
    if (t)
        return t > 0;
    return atomic_load_explicit(&pays, memory_order_relaxed);
}

int goc__uio_pm_init(uio_ring *rs, unsigned n)
{
    atomic_store(&pays_score, 0);
    atomic_store(&pays, true);
    atomic_store(&rings_claimed, 0);
    atomic_store(&rings_made, 0);
    away_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (away_fd < 0)
        return -errno;
    /* Ring 0 now (what this kernel refuses is refused at start, and an
     * M whose ring cannot be made later shares it); the others when an
     * M first needs one: a goc_main that does no I/O makes one ring. */
    rings = rs;
    nrings = n;
    int err = ring_per_m_setup(&rs[0], false);
    away_pollable.ready = away_ready;
    if (!err &&
        !(err = goc__poller_open(away_fd, GOC__POLL_READ, &away_pollable)))
        away_open = true;
    return err;
}

void goc__uio_pm_fini(void)
{
    /* Every M has ended: what their rings still hold is cancelled and
     * over before this returns, so no buffer is written after. */
    for (unsigned i = 0; i < nrings; i++) {
        uio_ring *R = &rings[i];
        if (!atomic_load(&R->made))
            continue;
        struct io_uring_sync_cancel_reg reg;
        memset(&reg, 0, sizeof reg);
        reg.flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
        reg.timeout.tv_sec = -1;
        reg.timeout.tv_nsec = -1;
        int r, tries = 0;
        do
            r = goc__uring_sys_register(R->ring.fd, IORING_REGISTER_SYNC_CANCEL,
                                        &reg, 1);
        while ((r > 0 || r == -EINTR || r == -EALREADY) && ++tries < 1000);
        free(R->todo.v);
        R->todo.v = NULL;
    }
    if (away_open)
        (void)goc__poller_close(away_fd);
    away_open = false;
    if (away_fd >= 0)
        close(away_fd);
    away_fd = -1;
    rings = NULL;
    nrings = 0;
}

unsigned goc__uio_rings_claimed(void)
{
    return atomic_load(&rings_claimed);
}

unsigned goc__uio_rings_made(void)
{
    return rings ? atomic_load(&rings_made) : 0;
}
