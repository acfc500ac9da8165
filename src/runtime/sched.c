/*
 * sched.c - the M:N scheduler: Go's G/P/M design in C.
 *
 * How it works. Each P (processor) has a lock-free run queue of 256 Gs and
 * a runnext slot; an M (OS thread) must hold a P to run goroutines. An M
 * runs the scheduler on its own thread stack ("g0") and switches to a G;
 * the G switches back to g0 whenever it parks, yields, exits or blocks in
 * a syscall, leaving a request in m->action that g0 carries out AFTER the
 * switch. That is what makes Go's unlock-after-switch parking protocol
 * (runtime_internal.h) safe: no waker can see a G before it is off its
 * stack.
 *
 * Finding work (find_runnable), in order: expired timers of the own P;
 * every 61st schedule one G from the global queue (fairness); runnext and
 * the local queue; the global queue; a non-blocking poll (unless the
 * blocking one is next anyway: fr_poll); then, if fewer
 * than half the busy Ps already have a spinning M, spin: steal half of a
 * random victim's queue (4 rounds, runnext on the last), running any
 * victim's expired timers. Failing all that the M gives its P back,
 * re-checks every queue (a G made ready while we were deciding must not
 * be lost), and sleeps: in epoll_wait until the earliest timer if nobody
 * else polls and anything can arrive that way, else on its own futex.
 * When a G becomes ready and there is an idle P but no spinning M, one M
 * is woken (wakep), so work spreads without a thundering herd.
 *
 * Deadlock: when an M goes to sleep with no M left running, no G in a
 * syscall, no timer, no poller waiter and no signal/child watcher, the
 * remaining goroutines can never run: checkdead() says so and exits 2.
 *
 * Limits: goroutines are not preempted (C has no safe points); a G that
 * never yields keeps its P, while other Ps keep going and still fire its
 * P's timers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/sched.h"

goc__sched goc__sc;

__thread goc_m *goc__tls_m;
/* Never written: see goc__thread_token (runtime_internal.h). */
struct goc__tls_epoch goc__tls_epoch;
static int maxprocs_config; /* goc_maxprocs outside the runtime */

__attribute__((noinline)) goc_m *goc__getm_slow(void)
{
    goc_m *m = goc__tls_m;
    __asm__ volatile("" ::: "memory");
    return m;
}

__attribute__((noinline)) void goc__setm(goc_m *m)
{
    goc__tls_m = m;
}

bool goc__can_spin(int iter)
{
    if (iter >= GOC_ACTIVE_SPIN_ROUNDS)
        return false;
    int32_t procs =
        atomic_load_explicit(&goc__sc.gomaxprocs, memory_order_relaxed);
    if (procs <= 1 ||
        procs <= atomic_load_explicit(&goc__sc.npidle, memory_order_relaxed) +
                     atomic_load_explicit(&goc__sc.nmspinning,
                                          memory_order_relaxed) +
                     1)
        return false;
    goc_m *m = goc__getm();
    goc_p *p = m ? m->p : NULL;
    return p == NULL ||
           (atomic_load_explicit(&p->runqhead, memory_order_relaxed) ==
                atomic_load_explicit(&p->runqtail, memory_order_relaxed) &&
            atomic_load_explicit(&p->runnext, memory_order_relaxed) == NULL);
}

_Static_assert(offsetof(goc_m, curg) == offsetof(struct goc__m_head, curg) &&
                   offsetof(goc_m, p) == offsetof(struct goc__m_head, p) &&
                   offsetof(goc_m, io_ring) ==
                       offsetof(struct goc__m_head, io_ring),
               "goc__getg and goc__p_token read goc_m as goc__m_head");

uint64_t goc__g_id(const goc_g *g)
{
    return g->id;
}

uint64_t goc_id(void)
{
    goc_g *g = goc__getg();
    return g ? g->id : 0;
}

int goc__p_id(void)
{
    goc_m *m = goc__getm();
    return m && m->p ? m->p->id : -1;
}

void goc__no_g(const char *what)
{
    if (!goc__sc.running)
        goc__fatal("%s called outside goc_main (no runtime)", what);
    goc__fatal("%s called outside a goroutine", what);
}

int64_t goc_nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * GOC_SECOND + ts.tv_nsec;
}

/* ---- futex ---------------------------------------------------------- */

void goc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns)
{
    struct timespec ts, *tsp = NULL;
    if (ns >= 0) {
        ts.tv_sec = ns / GOC_SECOND;
        ts.tv_nsec = ns % GOC_SECOND;
        tsp = &ts;
    }
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

void goc__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* ---- random --------------------------------------------------------- */

static uint32_t fallback_rand(void)
{
    static _Atomic uint32_t state = 0x9E3779B9u;
    uint32_t x =
        atomic_fetch_add_explicit(&state, 0x9E3779B9u, memory_order_relaxed);
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    return x;
}

uint32_t goc__fastrand(void)
{
    goc_m *m = goc__getm();
    if (!m)
        return fallback_rand();
    /* xorshift64-style pair (Go's fastrand). */
    uint32_t s1 = m->rand[0], s0 = m->rand[1];
    s1 ^= s1 << 17;
    s1 = s1 ^ s0 ^ s1 >> 7 ^ s0 >> 16;
    m->rand[0] = s0;
    m->rand[1] = s1;
    return s0 + s1;
}

uint32_t goc__fastrandn(uint32_t n)
{
    return (uint32_t)(((uint64_t)goc__fastrand() * n) >> 32);
}

/* ---- glist ---------------------------------------------------------- */

void goc__glist_push(goc__glist *l, goc_g *g)
{
    g->schedlink = NULL;
    if (l->tail)
        l->tail->schedlink = g;
    else
        l->head = g;
    l->tail = g;
    l->n++;
}

void goc__glist_cat(goc__glist *a, goc__glist *b)
{
    if (!b->n)
        return;
    if (a->tail)
        a->tail->schedlink = b->head;
    else
        a->head = b->head;
    a->tail = b->tail;
    a->n += b->n;
    *b = (goc__glist){0};
}

static goc_g *glist_pop(goc__glist *l)
{
    goc_g *g = l->head;
    if (g) {
        l->head = g->schedlink;
        if (!l->head)
            l->tail = NULL;
        l->n--;
    }
    return g;
}

/* ---- run queues ----------------------------------------------------- */

/* Make room for n more (sched.lock held). */
static void globrunq_reserve_locked(uint32_t n)
{
    uint32_t size = (uint32_t)atomic_load_explicit(&goc__sc.runq_size,
                                                   memory_order_relaxed);
    if (size + n <= goc__sc.runq_cap)
        return;
    uint32_t cap = goc__sc.runq_cap ? goc__sc.runq_cap : 256;
    while (cap < size + n)
        cap *= 2;
    goc_g **ring = malloc(cap * sizeof *ring);
    if (!ring)
        goc__fatal("out of memory growing the global run queue to %u", cap);
    for (uint32_t i = 0; i < size; i++)
        ring[i] =
            goc__sc.runq[(goc__sc.runq_head + i) & (goc__sc.runq_cap - 1)];
    free(goc__sc.runq);
    goc__sc.runq = ring;
    goc__sc.runq_cap = cap;
    goc__sc.runq_head = 0;
}

static void globrunqput_locked(goc_g *g)
{
    globrunq_reserve_locked(1);
    int32_t size =
        atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed);
    goc__sc
        .runq[(goc__sc.runq_head + (uint32_t)size) & (goc__sc.runq_cap - 1)] =
        g;
    atomic_store_explicit(&goc__sc.runq_size, size + 1, memory_order_relaxed);
}

/* The oldest G of the global queue (sched.lock held, size > 0). */
static goc_g *globrunqpop_locked(void)
{
    goc_g *g = goc__sc.runq[goc__sc.runq_head];
    goc__sc.runq_head = (goc__sc.runq_head + 1) & (goc__sc.runq_cap - 1);
    atomic_store_explicit(
        &goc__sc.runq_size,
        atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) - 1,
        memory_order_relaxed);
    return g;
}

void goc__globrunqput(goc_g *g)
{
    pthread_mutex_lock(&goc__sc.lock);
    globrunqput_locked(g);
    pthread_mutex_unlock(&goc__sc.lock);
}

/* Move half of p's local queue plus g to the global queue (owner only;
 * the local queue is full). false if thieves emptied it meanwhile. */
static bool runqputslow(goc_p *p, goc_g *g, uint32_t h, uint32_t t)
{
    goc_g *batch[RUNQ_SIZE / 2 + 1];
    uint32_t n = (t - h) / 2;
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&p->runq[(h + i) % RUNQ_SIZE],
                                        memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + n,
                                                 memory_order_acq_rel,
                                                 memory_order_relaxed))
        return false;
    batch[n] = g;
    pthread_mutex_lock(&goc__sc.lock);
    globrunq_reserve_locked(n + 1);
    for (uint32_t i = 0; i <= n; i++)
        globrunqput_locked(batch[i]);
    pthread_mutex_unlock(&goc__sc.lock);
    return true;
}

static goc_always_inline void runqput(goc_p *p, goc_g *g, bool next)
{
    if (next) {
        /* Only the owner makes runnext non-NULL, so an empty slot stays
         * empty until our store: no read-modify-write needed then. */
        if (atomic_load_explicit(&p->runnext, memory_order_relaxed) == NULL) {
            atomic_store_explicit(&p->runnext, g, memory_order_release);
            return;
        }
        g = atomic_exchange_explicit(&p->runnext, g, memory_order_acq_rel);
        if (!g)
            return;
    }
    for (;;) {
        uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
        if (t - h < RUNQ_SIZE) {
            atomic_store_explicit(&p->runq[t % RUNQ_SIZE], g,
                                  memory_order_relaxed);
            /* Pairs with the acquire loads of runqtail in runqget/grab. */
            atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
            return;
        }
        if (runqputslow(p, g, h, t))
            return;
    }
}

/* Start fetching the G that p will run after the one just taken, and
 * the top of its stack (where a fresh G's first frame is): the next
 * switch then finds them in cache. A racy peek; only a hint. */
static inline void runq_prefetch_next(goc_p *p)
{
    uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_relaxed);
    uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
    if (h != t) {
        char *g = (char *)atomic_load_explicit(&p->runq[h % RUNQ_SIZE],
                                               memory_order_relaxed);
        __builtin_prefetch(g, 1);
        __builtin_prefetch(g - 64, 0);
    }
}

static goc_g *runqget(goc_p *p)
{
    goc_g *next = atomic_load_explicit(&p->runnext, memory_order_relaxed);
    /* Equal to next when the CAS succeeds, but not its output: what the
     * caller loads through it (the stack pointer to switch to) need not
     * wait for the locked instruction. */
    goc_g *seen = next;
    if (next && atomic_compare_exchange_strong_explicit(
                    &p->runnext, &next, NULL, memory_order_acq_rel,
                    memory_order_relaxed))
        return seen;
    for (;;) {
        uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_acquire);
        if (t == h)
            return NULL;
        goc_g *g =
            atomic_load_explicit(&p->runq[h % RUNQ_SIZE], memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + 1,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed))
            return g;
    }
}

static bool runq_empty(goc_p *p)
{
    uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_acquire);
    return h == t &&
           atomic_load_explicit(&p->runnext, memory_order_acquire) == NULL;
}

/*
 * A running victim's runnext is most likely the partner its G is about to
 * block for (a channel hand-off takes well under a microsecond): stealing
 * it at once splits a communicating pair across processors and turns
 * every message into a cross-core wake-up. So, as Go does (a usleep(3)
 * that the kernel's timer slack makes ~55 us), give the owner
 * GOC_RUNNEXT_GRACE_NS to take it first. A 3 us grace let the thief steal
 * a pair's runnext every few microseconds, then sleep, to be woken by the
 * next hand-off with a futex call on the busy processor (pingpong at 2
 * processors: 11,000 wake-ups a second). The wait gives up at once when
 * other work shows up (global queue, another P's queue, a due timer): the
 * caller's later checks find it. Returns runnext if still there after the
 * grace, else NULL.
 */
static goc_g *runnext_grace(goc_p *victim, goc_g *next)
{
    /* Wait without reading the victim's runnext meanwhile: its owner
     * writes that line at every switch, and each read here makes the
     * next write fetch it back (pingpong at 2 processors). */
    int64_t now = goc_nanotime();
    /* While goroutines wait on the poller, this spinning M may be the one
     * to poll next: keep the wait as short as it was. */
    int64_t until = now + (atomic_load_explicit(&goc__sc.npollwait,
                                                memory_order_relaxed) > 0
                               ? GOC_RUNNEXT_GRACE_POLLER_NS
                               : GOC_RUNNEXT_GRACE_NS);
    int32_t procs =
        atomic_load_explicit(&goc__sc.gomaxprocs, memory_order_relaxed);
    do {
        for (int i = 0; i < 32; i++)
            goc__cpu_relax();
        if (atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) > 0)
            return NULL;
        for (int32_t i = 0; i < procs; i++) {
            goc_p *v = goc__sc.allp[i];
            if (atomic_load_explicit(&v->runqhead, memory_order_relaxed) !=
                atomic_load_explicit(&v->runqtail, memory_order_relaxed))
                return NULL;
        }
        now = goc_nanotime();
        int64_t t = goc__timers_earliest();
        if (t && t <= now)
            return NULL;
    } while (now < until);
    if (atomic_load_explicit(&victim->runnext, memory_order_acquire) != next)
        return NULL;
    return next;
}

/* Grab half of victim's queue into batch; returns the count. */
static uint32_t runqgrab(goc_p *victim, goc_g **batch, bool steal_next)
{
    for (;;) {
        uint32_t h =
            atomic_load_explicit(&victim->runqhead, memory_order_acquire);
        uint32_t t =
            atomic_load_explicit(&victim->runqtail, memory_order_acquire);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (steal_next) {
                goc_g *next = atomic_load_explicit(&victim->runnext,
                                                   memory_order_acquire);
                if (next &&
                    atomic_load_explicit(&victim->status,
                                         memory_order_relaxed) == P_RUNNING)
                    next = runnext_grace(victim, next);
                if (next && atomic_compare_exchange_strong_explicit(
                                &victim->runnext, &next, NULL,
                                memory_order_acq_rel, memory_order_relaxed)) {
                    batch[0] = next;
                    return 1;
                }
            }
            return 0;
        }
        if (n > RUNQ_SIZE / 2)
            continue; /* inconsistent h/t pair: retry */
        for (uint32_t i = 0; i < n; i++)
            batch[i] = atomic_load_explicit(&victim->runq[(h + i) % RUNQ_SIZE],
                                            memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&victim->runqhead, &h,
                                                    h + n, memory_order_acq_rel,
                                                    memory_order_relaxed))
            return n;
    }
}

static goc_g *runqsteal(goc_p *p, goc_p *victim, bool steal_next)
{
    goc_g *batch[RUNQ_SIZE / 2];
    uint32_t n = runqgrab(victim, batch, steal_next);
    if (n == 0)
        return NULL;
    for (uint32_t i = 0; i + 1 < n; i++)
        runqput(p, batch[i], false);
    return batch[n - 1];
}

/* Take Gs from the global queue (sched.lock held): one to run, up to a
 * fair share more into p's local queue. */
static goc_g *globrunqget_locked(goc_p *p, int32_t max)
{
    int32_t size =
        atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed);
    if (size == 0)
        return NULL;
    int32_t n = size / atomic_load(&goc__sc.gomaxprocs) + 1;
    if (n > size)
        n = size;
    if (max > 0 && n > max)
        n = max;
    if (n > RUNQ_SIZE / 2)
        n = RUNQ_SIZE / 2;
    goc_g *g = globrunqpop_locked();
    for (int32_t i = 1; i < n; i++)
        runqput(p, globrunqpop_locked(), false);
    return g;
}

/* ---- idle Ps and Ms ------------------------------------------------- */

/* sched.lock held. */
void goc__pidleput(goc_p *p)
{
    if (p->id >= atomic_load(&goc__sc.gomaxprocs)) {
        atomic_store(&p->status, P_DEAD);
        p->m = NULL;
        return;
    }
    atomic_store(&p->status, P_IDLE);
    p->m = NULL;
    p->link = goc__sc.pidle;
    goc__sc.pidle = p;
    atomic_fetch_add(&goc__sc.npidle, 1);
}

/* sched.lock held. */
goc_p *goc__pidleget(void)
{
    goc_p *p = goc__sc.pidle;
    if (p) {
        goc__sc.pidle = p->link;
        atomic_fetch_sub(&goc__sc.npidle, 1);
    }
    return p;
}

static void acquirep(goc_m *m, goc_p *p)
{
    m->p = p;
    p->m = m;
    atomic_store(&p->status, P_RUNNING);
    goc__m_io_away(m, false);
}

static void *mstart(void *arg);

/*
 * The asynchronous signals that every runtime thread (M, sysmon) blocks
 * from birth: all but SIGKILL/SIGSTOP, the synchronous faults (SEGV, BUS,
 * FPE, ILL, TRAP, SYS), SIGABRT (abort() raises it on the calling thread),
 * SIGPIPE (ignored; raised on the writing thread) and SIGPROF (profilers
 * sample the running threads). Goroutine code is thus never interrupted by
 * a signal handler, so no system call in it fails with EINTR. A
 * process-directed signal goes to a thread that does not block it: the
 * thread that called goc_main, where the default action or the user's
 * handler runs as without goc, or goc's signal forwarder (src/proc/).
 */
void goc__runtime_sigset(sigset_t *set)
{
    sigfillset(set);
    static const int keep[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,
                               SIGFPE,  SIGILL,  SIGTRAP, SIGSYS,
                               SIGABRT, SIGPIPE, SIGPROF};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        sigdelset(set, keep[i]);
}

/* Create an M that starts with p (sched.lock NOT held). */
static bool newm(goc_p *p, bool spinning)
{
    goc_m *m = calloc(1, sizeof *m);
    if (!m)
        return false;
    m->nextp = p;
    m->spinning = spinning;
    m->rand[0] = fallback_rand() | 1;
    m->rand[1] = fallback_rand() | 1;
    pthread_mutex_lock(&goc__sc.lock);
    m->id = goc__sc.mcount++;
    m->all_next = goc__sc.allm;
    goc__sc.allm = m;
    pthread_mutex_unlock(&goc__sc.lock);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024 * 1024);
    /* Runtime threads block every signal that goc delivers through its
     * own means; faults stay unblocked (they are synchronous). The new
     * thread inherits the mask in force here. */
    sigset_t block, old;
    goc__runtime_sigset(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int err = pthread_create(&m->thread, &attr, mstart, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err != 0)
        goc__fatal("newm: cannot create thread: %s", strerror(err));
    /* m is on allm already: goc_main's shutdown may be waiting to join
     * it, and must not read m->thread before it is written. */
    atomic_store_explicit(&m->created, true, memory_order_release);
    return true;
}

void goc__startm(goc_p *p, bool spinning)
{
    pthread_mutex_lock(&goc__sc.lock);
    if (atomic_load(&goc__sc.shutdown)) {
        if (p)
            goc__pidleput(p);
        pthread_mutex_unlock(&goc__sc.lock);
        if (spinning)
            atomic_fetch_sub(&goc__sc.nmspinning, 1);
        return;
    }
    if (!p) {
        p = goc__pidleget();
        if (!p) {
            pthread_mutex_unlock(&goc__sc.lock);
            if (spinning)
                atomic_fetch_sub(&goc__sc.nmspinning, 1);
            return;
        }
    }
    goc_m *m = goc__sc.midle;
    if (m) {
        goc__sc.midle = m->link;
        goc__sc.nmidle--;
    }
    pthread_mutex_unlock(&goc__sc.lock);
    if (!m) {
        newm(p, spinning);
        return;
    }
    m->spinning = spinning;
    m->nextp = p;
    atomic_store(&m->park, 1);
    goc__futex_wake(&m->park, 1);
}

void goc__wakep_slow(void)
{
    int32_t zero = 0;
    if (atomic_load_explicit(&goc__sc.nmspinning, memory_order_acquire) != 0 ||
        !atomic_compare_exchange_strong(&goc__sc.nmspinning, &zero, 1))
        return;
    goc__startm(NULL, true);
}

/* Hand off p, whose M is stuck in a syscall or gone (sysmon). */
void goc__handoffp(goc_p *p)
{
    if (!runq_empty(p) ||
        atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) > 0) {
        goc__startm(p, false);
        return;
    }
    if (atomic_load(&goc__sc.nmspinning) + atomic_load(&goc__sc.npidle) == 0) {
        int32_t zero = 0;
        if (atomic_compare_exchange_strong(&goc__sc.nmspinning, &zero, 1)) {
            goc__startm(p, true);
            return;
        }
    }
    if (goc__timers_next(p) && !atomic_load(&goc__sc.polling)) {
        goc__startm(p, false);
        return;
    }
    pthread_mutex_lock(&goc__sc.lock);
    goc__pidleput(p);
    pthread_mutex_unlock(&goc__sc.lock);
}

/* Caller holds sched.lock. Exits the process when nothing can ever run
 * again. */
void goc__checkdead(void)
{
    if (atomic_load(&goc__sc.shutdown) || atomic_load(&goc__sc.main_done))
        return;
    if (goc__sc.mcount - goc__sc.nmidle > 0)
        return;
    if (atomic_load(&goc__sc.nsyscall) > 0 ||
        atomic_load(&goc__sc.npollwait) > 0 ||
        atomic_load(&goc__sc.nwakers) > 0 ||
        atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) > 0)
        return;
    if (goc__timers_earliest() != 0)
        return;
    for (int32_t i = 0; i < atomic_load(&goc__sc.nprocs_alloc); i++)
        if (!runq_empty(goc__sc.allp[i]))
            return;
    fflush(stdout);
    fprintf(stderr,
            "fatal error: all goroutines are asleep - deadlock!\n\n"
            "goroutine 1 [%s]:\n",
            goc__sc.main_g && goc__sc.main_g->waitreason
                ? goc__sc.main_g->waitreason
                : "waiting");
    fflush(stderr);
    _exit(2);
}

/* Park m until someone hands it a P (m->nextp) or shutdown. */
void goc__stopm(goc_m *m)
{
    pthread_mutex_lock(&goc__sc.lock);
    if (atomic_load(&goc__sc.shutdown)) {
        pthread_mutex_unlock(&goc__sc.lock);
        return;
    }
    atomic_store(&m->park, 0);
    m->link = goc__sc.midle;
    goc__sc.midle = m;
    goc__sc.nmidle++;
    goc__checkdead();
    pthread_mutex_unlock(&goc__sc.lock);
    while (atomic_load(&m->park) == 0)
        goc__futex_wait(&m->park, 0, -1);
    if (m->nextp) {
        acquirep(m, m->nextp);
        m->nextp = NULL;
    }
}

void goc__inject_glist(goc__glist *l)
{
    if (!l->n)
        return;
    int n = l->n;
    pthread_mutex_lock(&goc__sc.lock);
    goc_g *g;
    while ((g = glist_pop(l))) {
        atomic_store(&g->status, G_RUNNABLE);
        globrunqput_locked(g);
    }
    pthread_mutex_unlock(&goc__sc.lock);
    for (int i = 0; i < n && atomic_load(&goc__sc.npidle) > 0; i++)
        goc__startm(NULL, false);
}

/*
 * Go's injectglist for a thread that holds p: as many of l's goroutines
 * as there are idle processors go to the global queue, with a thread
 * started for each; the rest to p's own queue. While every processor is
 * busy, what p's poll made ready thus stays on p, and the goroutines of
 * a connection tend to stay on the processor that polls for it, rather
 * than be dealt across processors by the global queue at every message
 * (tcp_echo with 100 connections at 2 processors).
 */
static void inject_glist_p(goc_p *p, goc__glist *l)
{
    if (!l->head)
        return;
    int32_t idle = atomic_load(&goc__sc.npidle);
    if (idle > 0) {
        goc__glist glob = {0};
        goc_g *g;
        while (glob.n < idle && (g = glist_pop(l)))
            goc__glist_push(&glob, g);
        goc__inject_glist(&glob);
    }
    goc_g *g;
    while ((g = glist_pop(l))) {
        atomic_store(&g->status, G_RUNNABLE);
        runqput(p, g, false);
    }
}

/* ---- finding work --------------------------------------------------- */

static void resetspinning(goc_m *m)
{
    m->spinning = false;
    if (atomic_fetch_sub(&goc__sc.nmspinning, 1) == 1)
        goc__wakep(); /* we were the last spinner: there may be more work */
}

/* p's id is past gomaxprocs: give its Gs to the global queue and drop
 * it. m ends without a P. */
static void retirep(goc_m *m, goc_p *p)
{
    goc_g *g;
    while ((g = runqget(p)))
        goc__globrunqput(g);
    while (p->gfree_n > 0)
        goc__g_free(NULL, p->gfree[--p->gfree_n]);
    pthread_mutex_lock(&goc__sc.lock);
    atomic_store(&p->status, P_DEAD);
    p->m = NULL;
    pthread_mutex_unlock(&goc__sc.lock);
    m->p = NULL;
    goc__m_io_away(m, true);
}

/*
 * Run the expired timers of every P; returns the earliest deadline left
 * (0: none), to sleep until. A P owned by a running M fires its own
 * timers (at every schedule and every 8th timer call), so another thread
 * steps in only when they are GOC_FOREIGN_TIMER_GRACE_NS overdue: a
 * goroutine that never yields still gets its timers run, while a
 * goroutine that makes timers is not fought over its heap's lock and its
 * timers' cache lines by an idle thread firing each one the moment it is
 * due (timers_100k ran slower at 2 processors than at 1).
 */
static int64_t run_all_timers(goc_p *self, int64_t now)
{
    int64_t earliest = 0;
    int32_t n = atomic_load(&goc__sc.nprocs_alloc);
    for (int32_t i = 0; i < n; i++) {
        goc_p *p = goc__sc.allp[i];
        int64_t w = goc__timers_next(p);
        if (w == 0)
            continue;
        /* Saturated: deadlines reach INT64_MAX - 1 (the largest
         * deadline a connection may have). */
        int64_t graced = w > INT64_MAX - GOC_FOREIGN_TIMER_GRACE_NS
                             ? INT64_MAX
                             : w + GOC_FOREIGN_TIMER_GRACE_NS;
        if (p != self &&
            atomic_load_explicit(&p->status, memory_order_relaxed) ==
                P_RUNNING &&
            now < graced) {
            w = graced;
        } else {
            w = goc__timers_run(p, now);
            if (w == 0)
                continue;
        }
        if (!earliest || w < earliest)
            earliest = w;
    }
    return earliest;
}

static _Atomic(goc__idle_work_fn) idle_work[GOC_IDLE_WORK_MAX];
static pthread_mutex_t idle_work_lock = PTHREAD_MUTEX_INITIALIZER;

void goc__idle_work_register(goc__idle_work_fn fn)
{
    pthread_mutex_lock(&idle_work_lock);
    for (int i = 0; i < GOC_IDLE_WORK_MAX; i++) {
        goc__idle_work_fn f = atomic_load(&idle_work[i]);
        if (f == fn)
            break;
        if (f == NULL) {
            atomic_store(&idle_work[i], fn);
            break;
        }
        GOC_ASSERT(i + 1 < GOC_IDLE_WORK_MAX);
    }
    pthread_mutex_unlock(&idle_work_lock);
}

/* One step of every kind of idle work; true if any did something. */
static bool idle_work_some(void)
{
    bool did = false;
    for (int i = 0; i < GOC_IDLE_WORK_MAX; i++) {
        goc__idle_work_fn f =
            atomic_load_explicit(&idle_work[i], memory_order_acquire);
        if (f == NULL)
            break;
        did |= f();
    }
    return did;
}

/*
 * Idle, without a P: give back the stacks that exits left for later. Each
 * release is a system call (munmap, or a page given back), so a long run
 * of them can outlast the wait for the next timer: stop in time for it,
 * the goroutines it wakes need this thread (or this CPU) then. Letting a
 * second idle thread go on releasing while another polls made sleepers
 * later (sleep_100k's p99 lateness; bench/README.md has the figures): on
 * a machine with few CPUs it takes one from the woken goroutines.
 */
void goc__release_dead_stacks(void)
{
    while (goc__stacks_retired() && !atomic_load(&goc__sc.shutdown)) {
        int64_t next = goc__timers_earliest();
        if (next && goc_nanotime() >= next - GOC_STACKS_RELEASE_MARGIN_NS)
            return;
        goc__stacks_release_some();
    }
}

/* Poll without blocking into *list, unless nobody waits on the poller or
 * another thread polls already (it delivers what is ready). now: a clock
 * read just made, or 0 (goc__netpoll). */
static bool netpoll_try(goc__glist *list, int64_t now)
{
    if (atomic_load_explicit(&goc__sc.npollwait, memory_order_relaxed) == 0 ||
        atomic_load_explicit(&goc__sc.polling, memory_order_relaxed))
        return false;
    bool f = false;
    if (!atomic_compare_exchange_strong(&goc__sc.polling, &f, true))
        return false;
    goc__netpoll(0, list, now);
    /* Release only: the caller holds a P and looks at the timers and the
     * queues again before it could sleep (a wake that saw polling set
     * only broke a poll that does not block). */
    atomic_store_explicit(&goc__sc.polling, false, memory_order_release);
    return true;
}

/*
 * While every processor keeps finding work, nobody reaches the blocking
 * poll: goroutines waiting on descriptors would wait for ever behind ones
 * that yield or hand off to each other. So on its fairness tick a
 * processor polls without blocking when nobody has polled for a while, and
 * queues what became ready on the global queue (taken right after).
 */
static void poll_if_stale(int64_t now)
{
    if (now - atomic_load_explicit(&goc__sc.lastpoll, memory_order_relaxed) <
        GOC_NETPOLL_STALE_NS)
        return;
    goc__glist list = {0};
    if (netpoll_try(&list, now))
        goc__inject_glist(&list);
}

/* Take an idle P for m (which has none); false if there is none. */
static bool try_acquire_idle_p(goc_m *m)
{
    pthread_mutex_lock(&goc__sc.lock);
    goc_p *np = goc__pidleget();
    pthread_mutex_unlock(&goc__sc.lock);
    if (!np)
        return false;
    acquirep(m, np);
    return true;
}

/*
 * find_runnable, Go's findRunnable: each step below looks in one place and
 * returns a G to run, or NULL to go on to the next; the loop starts over
 * when a step changed the situation (m lost or retired its P, work
 * appeared while it spun, a sleep ended).
 */

/* m's P, unless it has none (sleep until given one) or the P was retired
 * by goc_maxprocs: false, start over. */
static bool fr_have_p(goc_m *m)
{
    if (!m->p) {
        goc__stopm(m);
        return false;
    }
    goc_p *p = m->p;
    if (goc_unlikely(p->id >= atomic_load_explicit(&goc__sc.gomaxprocs,
                                                   memory_order_relaxed))) {
        retirep(m, p);
        if (m->spinning) {
            m->spinning = false;
            atomic_fetch_sub(&goc__sc.nmspinning, 1);
        }
        return false;
    }
    return true;
}

/* Local: own timers (*now: the clock read for them, if any); on the
 * fairness tick, the timers of processors whose
 * goroutine does not yield (we cannot preempt it), a stale poll and the
 * global queue first; then runnext and the local queue; then the global
 * queue. */
static goc_g *fr_local(goc_p *p, int64_t *now)
{
    goc_g *g;
    int64_t next = goc__timers_next(p);
    if (next && next <= (*now = goc_nanotime()))
        goc__timers_run(p, *now);
    if (p->schedtick % GOC_GLOBAL_RUNQ_TICK == 0) {
        int64_t now = goc_nanotime();
        run_all_timers(p, now);
        goc__glist done = {0};
        if (goc__netpoll_flush(&done)) /* a round that does not end */
            inject_glist_p(p, &done);
        poll_if_stale(now);
        if (atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) >
            0) {
            pthread_mutex_lock(&goc__sc.lock);
            g = globrunqget_locked(p, 1);
            pthread_mutex_unlock(&goc__sc.lock);
            if (g)
                return g;
        }
    }
    if ((g = runqget(p)))
        return g;
    if (atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) > 0) {
        pthread_mutex_lock(&goc__sc.lock);
        g = globrunqget_locked(p, 0);
        pthread_mutex_unlock(&goc__sc.lock);
        if (g)
            return g;
    }
    /* The end of a round: the requests its goroutines queued for
     * completion I/O go in one batch (poller.h: goc__poller_flush). */
    goc__glist done = {0};
    if (goc__netpoll_flush(&done) && (g = glist_pop(&done))) {
        inject_glist_p(p, &done);
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
        return g;
    }
    return NULL;
}

/* Poll without blocking; the rest of what it made ready goes to p's
 * queue (and to idle processors, inject_glist_p). */
static goc_g *fr_poll_now(goc_p *p)
{
    goc__glist ready = {0};
    goc_g *g;
    if (netpoll_try(&ready, 0) && (g = glist_pop(&ready))) {
        inject_glist_p(p, &ready);
        atomic_store(&g->status, G_RUNNABLE);
        return g;
    }
    return NULL;
}

/*
 * Poll, unless the blocking poll is next anyway. When p is the only busy
 * processor (an idle P's queue is empty: nothing to steal), the global
 * queue is empty and no dead stacks wait for release, nothing stands
 * between this poll and fr_sleep's blocking one but the timers (run just
 * after, fr_timers) and, with several processors, a spinning M's idle
 * work: the blocking poll returns at once what is ready, with p taken
 * back for it. A non-blocking poll that finds nothing, then the blocking
 * one, cost every idle turn two system calls where one does (a closed
 * model load on one processor idles once per round of answers: 2.06
 * calls per request, one send and one receive each, became 2 + one poll
 * per round). *deferred: the poll was left out; fr_steal polls before
 * idle work keeps it from sleeping.
 *
 * Unless the poller is hot (p->poll_hot): the last idle poll found work
 * ready at once, as when goroutines of this process talk to each other
 * (a send on loopback makes the peer readable before it returns). Then
 * p polls without blocking first and runs what it finds, keeping
 * itself, as Go's findRunnable does (netpoll(0) before it releases its
 * P): the trip through fr_sleep (p given back and taken again under the
 * sched lock, a second timer scan, clock reads) costs more than the
 * poll. A hot poll that finds nothing cools the poller, and the idle
 * turn goes on to the blocking poll, which heats it again when it
 * returns work without having slept (GOC_POLL_HOT_NS): so a wasted
 * non-blocking poll costs one system call per switch between the two
 * regimes, not one per idle turn. The other processors' timers (idle
 * ones: nobody else runs them) are run first, as fr_timers would.
 */
static goc_g *fr_poll(goc_p *p, int32_t procs, int64_t now, bool *deferred)
{
    if (procs - atomic_load(&goc__sc.npidle) > 1 ||
        atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) != 0 ||
        goc__stacks_retired())
        return fr_poll_now(p);
    *deferred = true;
    if (!p->poll_hot)
        return NULL;
    if (procs > 1) {
        if (!now)
            now = goc_nanotime();
        run_all_timers(p, now);
        goc_g *g = runqget(p);
        if (g)
            return g;
    }
    goc__glist ready = {0};
    if (!netpoll_try(&ready, now))
        return NULL; /* nothing to wait for, or another thread polls */
    goc_g *g = glist_pop(&ready);
    if (!g) {
        p->poll_hot = false;
        atomic_store_explicit(
            &p->hot_misses,
            atomic_load_explicit(&p->hot_misses, memory_order_relaxed) + 1,
            memory_order_relaxed);
        return NULL;
    }
    atomic_store_explicit(
        &p->hot_polls,
        atomic_load_explicit(&p->hot_polls, memory_order_relaxed) + 1,
        memory_order_relaxed);
    inject_glist_p(p, &ready);
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
    return g;
}

_Atomic int64_t goc__poll_hot_ns = GOC_POLL_HOT_NS;

uint64_t goc__sched_hot_polls(uint64_t *misses)
{
    uint64_t n = 0, m = 0;
    for (int32_t i = 0; i < atomic_load(&goc__sc.nprocs_alloc); i++) {
        n += atomic_load_explicit(&goc__sc.allp[i]->hot_polls,
                                  memory_order_relaxed);
        m += atomic_load_explicit(&goc__sc.allp[i]->hot_misses,
                                  memory_order_relaxed);
    }
    if (misses)
        *misses = m;
    return n;
}

/* Timers of every P (a P whose G never yields still gets them run), then
 * the local queue they may have filled. */
static goc_g *fr_timers(goc_p *p)
{
    run_all_timers(p, goc_nanotime());
    return runqget(p);
}

/* Steal: if fewer than half the busy Ps spin already, spin: take half of
 * a random victim's queue (4 rounds, the last also taking runnexts); then
 * do idle work (fresh memory busy goroutines keep needing), looking for
 * work in between. *again: work appeared on the global queue or a timer
 * is due: start over. */
static goc_g *fr_steal(goc_m *m, goc_p *p, bool poll_deferred, bool *again)
{
    goc_g *g;
    int32_t procs = atomic_load(&goc__sc.gomaxprocs);
    if (procs <= 1 ||
        !(m->spinning || 2 * atomic_load(&goc__sc.nmspinning) <
                             procs - atomic_load(&goc__sc.npidle)))
        return NULL;
    if (!m->spinning) {
        m->spinning = true;
        atomic_fetch_add(&goc__sc.nmspinning, 1);
    }
    for (int round = 0; round < 4; round++) {
        uint32_t start = goc__fastrandn((uint32_t)procs);
        for (int32_t i = 0; i < procs; i++) {
            goc_p *v = goc__sc.allp[(start + (uint32_t)i) % procs];
            if (v == p)
                continue;
            if ((g = runqsteal(p, v, round == 3)))
                return g;
        }
    }
    /* Still spinning (so spawners wake nobody else). A poll fr_poll left
     * to the blocking one is made after the first step of idle work, which
     * delays the sleep: ready goroutines wait one step at most. */
    while (idle_work_some()) {
        if (poll_deferred) {
            poll_deferred = false;
            if ((g = fr_poll_now(p)))
                return g;
        }
        for (int32_t i = 0; i < procs; i++) {
            goc_p *v = goc__sc.allp[i];
            if (v != p && (g = runqsteal(p, v, true)))
                return g;
        }
        int64_t next;
        if (atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) >
                0 ||
            ((next = goc__timers_earliest()) && next <= goc_nanotime())) {
            *again = true;
            return NULL;
        }
    }
    return NULL;
}

void goc__sched_trim_idle_ps(void)
{
    int64_t now = goc_nanotime();
    /* sched.lock -> stack_lock, as in retirep: an idle P has no M, and
     * none can take it while the lock is held. */
    pthread_mutex_lock(&goc__sc.lock);
    for (goc_p *p = goc__sc.pidle; p; p = p->link)
        goc__stacks_trim_idle(p, now);
    pthread_mutex_unlock(&goc__sc.lock);
}

int goc__sched_cached_gs_local(void)
{
    goc_m *m = goc__getm();
    int n = m && m->p ? m->p->gfree_n : 0;
    pthread_mutex_lock(&goc__sc.lock);
    for (goc_p *p = goc__sc.pidle; p; p = p->link)
        n += p->gfree_n;
    pthread_mutex_unlock(&goc__sc.lock);
    return n;
}

/* Nothing found: give p back, keeping only a warm few dead Gs (the rest
 * go where sysmon can give their pages back), unless the global queue has
 * work after all (true: *g is the G to run; p kept). */
static bool fr_keep_p(goc_m *m, goc_p *p, goc_g **g)
{
    goc__stacks_trim_local(p);
    if (atomic_load_explicit(&goc__sc.sysmon_sleep, memory_order_relaxed) ==
            1 &&
        goc__stacks_scavenge_wanted())
        goc__sysmon_wake();
    pthread_mutex_lock(&goc__sc.lock);
    if (atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) > 0) {
        *g = globrunqget_locked(p, 0);
        pthread_mutex_unlock(&goc__sc.lock);
        return true;
    }
    goc__pidleput(p);
    m->p = NULL;
    pthread_mutex_unlock(&goc__sc.lock);
    goc__m_io_away(m, true);
    return false;
}

/* m stopped spinning: a G made ready meanwhile may have seen nmspinning >
 * 0 and woken nobody. Look again, in the global queue too (where a thread
 * without a P, such as a poller running timers, puts what it readies), as
 * Go does. true: m took a P again and spins: start over. */
static bool fr_spin_down(goc_m *m)
{
    if (!m->spinning)
        return false;
    m->spinning = false;
    atomic_fetch_sub(&goc__sc.nmspinning, 1);
    int32_t n = atomic_load(&goc__sc.gomaxprocs);
    bool global = atomic_load(&goc__sc.runq_size) > 0;
    for (int32_t i = 0; i < n; i++) {
        if (global || !runq_empty(goc__sc.allp[i])) {
            if (try_acquire_idle_p(m)) {
                m->spinning = true;
                atomic_fetch_add(&goc__sc.nmspinning, 1);
                return true;
            }
            break;
        }
    }
    return false;
}

/*
 * The idle spin (goc_idle_spin). A thread that blocks in the poller is
 * woken by the kernel when a descriptor becomes ready: on a host where
 * the peer (a server on the same host) runs too, that wake-up is the
 * peer's cost, and the woken thread preempts the peer if it lands on the
 * peer's CPU. While the spin lasts, the last thread to go idle polls
 * without blocking instead: only while no other processor runs
 * goroutines (one spinner at most: the poll is held), yielding the CPU on
 * every turn to a task waiting for it. On a CPU of its own the yield
 * returns at once; on a CPU shared with the peer (both pinned to one) the
 * peer runs its whole batch, and its answers find the spinner polling,
 * not asleep. Off (0) unless asked for.
 */
static _Atomic int64_t idle_spin_ns;

static bool idle_spin_now(void)
{
    return atomic_load_explicit(&idle_spin_ns, memory_order_relaxed) > 0 &&
           atomic_load_explicit(&goc__sc.npidle, memory_order_relaxed) ==
               atomic_load_explicit(&goc__sc.gomaxprocs, memory_order_relaxed);
}

/* Polls without blocking until something is ready (in *list), work
 * appears elsewhere, `until` (a timer; 0: none) or the spin's end. The
 * delay left for a blocking poll: 0 when the spin ended because of a
 * timer or work to do; -1 or the time to `until` otherwise. */
static int64_t idle_spin(goc__glist *list, int64_t until)
{
    int64_t now = goc_nanotime();
    int64_t end = now + atomic_load(&idle_spin_ns);
    for (;;) {
        goc__netpoll(0, list, 0);
        if (list->head || atomic_load(&goc__sc.shutdown))
            return 0;
        if (atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) >
                0 ||
            atomic_load_explicit(&goc__sc.npidle, memory_order_relaxed) !=
                atomic_load_explicit(&goc__sc.gomaxprocs, memory_order_relaxed))
            return 0;
        /* A timer added meanwhile (by a thread outside the runtime: no
         * processor runs) only broke the poll: look at the timers again. */
        int64_t first = goc__timers_earliest();
        if (first && (!until || first < until))
            until = first;
        now = goc_nanotime();
        if (until && now >= until)
            return 0;
        if (now >= end)
            return until ? until - now : -1;
        /* Politely: a task waiting for this CPU (on a loaded machine,
         * maybe the server) gets it; alone, this returns at once. */
        sched_yield();
    }
}

int64_t goc_idle_spin(int64_t ns)
{
    if (ns < 0)
        return atomic_load(&idle_spin_ns);
    if (ns > GOC_SECOND)
        ns = GOC_SECOND;
    return atomic_exchange(&idle_spin_ns, ns);
}

/* Sleep, without a P: in the poller if it can deliver anything (until the
 * earliest timer of all Ps), else on the M's futex. Returns a G the poll
 * made ready (with a P taken for it), or NULL: start over. */
static goc_g *fr_sleep(goc_m *m)
{
    goc__release_dead_stacks();
    for (;;) {
        bool wait_poll = atomic_load(&goc__sc.npollwait) > 0 ||
                         atomic_load(&goc__sc.nwakers) > 0 ||
                         goc__timers_earliest() != 0;
        bool f = false;
        if (!wait_poll ||
            !atomic_compare_exchange_strong(&goc__sc.polling, &f, true))
            break;
        int64_t now = goc_nanotime();
        int64_t until = run_all_timers(NULL, now);
        if (until == 0 && atomic_load(&goc__sc.npollwait) == 0 &&
            atomic_load(&goc__sc.nwakers) == 0) {
            /* The timers that brought us here were stopped meanwhile and
             * nothing else can arrive through the poller: an endless
             * poll would count as a running M in checkdead and hide a
             * deadlock. Look again (a timer added just now saw polling
             * set and only broke the poll), then sleep as an idle M. */
            (void)atomic_exchange(&goc__sc.polling, false); /* a fence */
            if (atomic_load(&goc__sc.runq_size) > 0 && try_acquire_idle_p(m))
                return NULL; /* run what the timers readied */
            continue;
        }
        int64_t delay = -1;
        if (until) {
            delay = until - now;
            if (delay < 0)
                delay = 0;
        }
        atomic_store(&goc__sc.poll_until, until ? until : INT64_MAX);
        goc__glist list = {0};
        if (delay != 0 && idle_spin_now())
            delay = idle_spin(&list, until);
        bool hot = false;
        if (!list.head && !atomic_load(&goc__sc.shutdown))
            hot = goc__netpoll(delay, &list, 0) - now <
                      atomic_load_explicit(&goc__poll_hot_ns,
                                           memory_order_relaxed) &&
                  list.head;
        atomic_store(&goc__sc.poll_until, 0);
        atomic_store(&goc__sc.polling, false);
        if (!try_acquire_idle_p(m)) {
            goc__inject_glist(&list);
            goc__stopm(m);
            return NULL;
        }
        goc_g *g = glist_pop(&list);
        if (g) {
            m->p->poll_hot = hot; /* fr_poll */
            inject_glist_p(m->p, &list);
            atomic_store(&g->status, G_RUNNABLE);
        }
        return g;
    }
    goc__stopm(m);
    return NULL;
}

static goc_g *find_runnable(goc_m *m)
{
    for (;;) {
        if (atomic_load(&goc__sc.shutdown))
            return NULL;
        if (!fr_have_p(m))
            continue;
        goc_p *p = m->p;
        goc_g *g;
        bool again = false, deferred = false;
        int64_t now = 0;
        int32_t procs =
            atomic_load_explicit(&goc__sc.gomaxprocs, memory_order_relaxed);
        if ((g = fr_local(p, &now)) ||
            (g = fr_poll(p, procs, now, &deferred)) || (g = fr_timers(p)) ||
            (g = fr_steal(m, p, deferred, &again)))
            return g;
        if (again)
            continue;
        if (fr_keep_p(m, p, &g))
            return g;
        if (fr_spin_down(m))
            continue;
        if ((g = fr_sleep(m)))
            return g;
    }
}

/* ---- running goroutines --------------------------------------------- */

static void g_exit_on_g0(goc_m *m, goc_g *g);

/* p->ngoroutine is written only by p's owner: no read-modify-write. */
static inline void p_count_goroutine(goc_p *p, int64_t d)
{
    int64_t v = atomic_load_explicit(&p->ngoroutine, memory_order_relaxed);
    atomic_store_explicit(&p->ngoroutine, v + d, memory_order_relaxed);
}

/* Switch from g0 to g; returns the G that switches back to g0 (g, or
 * another one that g handed off to directly); m->action says why. */
static goc_g *execute(goc_m *m, goc_g *g)
{
    g->m = m;
    m->curg = g;
    atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
    if (m->p)
        m->p->schedtick++;
    goc__san_switch_begin(&m->g0san, &g->san, false);
    goc__ctx_switch(&m->g0ctx, &g->ctx, m);
    goc__san_switch_end(&m->g0san);
    goc_g *back = m->curg;
    m->curg = NULL;
    return back;
}

/*
 * Carrying out a switched-out G's request (m->action), the one way for
 * both switch paths: on g0 after g switched back (after_switch), and on
 * the next G after a direct hand-off (goc__m_finish_switch, below). g is
 * off its stack either way, so the parking protocol holds. The paths
 * differ only in where a G that must run again at once goes: on g0 it is
 * returned, to run next; after a hand-off, another G already runs here,
 * so it goes to runnext.
 */

/* g's unlock function refused the park: g runs again, unless a waker
 * already readied it. */
static __attribute__((noinline)) goc_g *park_abandoned(goc_m *m, goc_g *g,
                                                       bool on_g0)
{
    uint32_t w = G_WAITING;
    if (!atomic_compare_exchange_strong(&g->status, &w, G_RUNNABLE))
        return NULL;
    if (on_g0)
        return g;
    runqput(m->p, g, true);
    goc__wakep(); /* as for a yield */
    return NULL;
}

/* Park: mark g waiting, then run its unlock function, which publishes it
 * (see goc__park). */
static goc_always_inline goc_g *finish_park(goc_m *m, goc_g *g, bool on_g0)
{
    /* Ordered before the unlock function (a release), which publishes g. */
    atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
    if (g->park_fn && !g->park_fn(g, g->park_arg))
        return park_abandoned(m, g, on_g0);
    return NULL;
}

/* Returns a G to run at once (on g0 only), or NULL. */
static goc_always_inline goc_g *carry_out(goc_m *m, goc_g *g, int action,
                                          bool on_g0)
{
    if (g->stack_kind == STACK_SLAB && action != ACT_EXIT)
        goc__stack_check(g);
    switch (action) {
    case ACT_YIELD:
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
        runqput(m->p, g, false);
        /* This processor runs another G now, which may never yield (no
         * preemption): let an idle processor come for g. */
        goc__wakep();
        return NULL;
    case ACT_PARK:
        return finish_park(m, g, on_g0);
    case ACT_EXIT:
        g_exit_on_g0(m, g);
        return NULL;
    case ACT_SYSCALL_BLOCK:
        /* g left its syscall and found no P; m has none either. Only
         * through g0 (goc_syscall_end switches there). */
        if (on_g0) {
            atomic_fetch_sub(&goc__sc.nsyscall, 1);
            pthread_mutex_lock(&goc__sc.lock);
            goc_p *p = goc__pidleget();
            if (p) {
                pthread_mutex_unlock(&goc__sc.lock);
                acquirep(m, p);
                atomic_store(&g->status, G_RUNNABLE);
                return g;
            }
            atomic_store(&g->status, G_RUNNABLE);
            globrunqput_locked(g);
            pthread_mutex_unlock(&goc__sc.lock);
            return NULL;
        }
        /* fall through */
    default:
        goc__fatal("bad goroutine action %d", action);
    }
}

/* On g0, after g switched back. */
static goc_g *after_switch(goc_m *m, goc_g *g)
{
    int action = m->action;
    m->action = ACT_NONE;
    return carry_out(m, g, action, true);
}

static __attribute__((noinline)) void finish_switch_slow(goc_m *m, goc_g *prev,
                                                         int action)
{
    carry_out(m, prev, action, false);
}

static void schedule(goc_m *m)
{
    for (;;) {
        goc_g *g = find_runnable(m);
        if (!g)
            return;
        if (m->spinning)
            resetspinning(m);
        do {
            g = after_switch(m, execute(m, g));
        } while (g);
    }
}

/* Switch from the running g to its M's g0 with a request. */
static void g_switch_to_g0(goc_g *g, int action)
{
    goc_m *m = g->m;
    m->action = action;
    goc__san_switch_begin(&g->san, &m->g0san, action == ACT_EXIT);
    m = goc__ctx_switch(&g->ctx, &m->g0ctx, m);
    goc__san_switch_end(&g->san);
    goc__m_finish_switch(m);
}

/*
 * Direct hand-off. A G that parks, yields or exits while its P has another
 * G ready switches straight to it instead of going through g0 (one switch
 * instead of two, no trip through find_runnable). Its request is left in
 * m->action/m->prev and carried out by the G that resumes on this M, right
 * after the switch (goc__m_finish_switch) - still after the leaving G is
 * off its stack, so the parking protocol holds. Every 61st schedule that
 * finds work for find_runnable's fairness pass (g0_turn_due), and every
 * 16th while own timers are pending, goes through g0 instead, so the
 * global queue, timers and the poller keep their turn.
 *
 * Invariant: m->prev != NULL only between a direct switch and the resumed
 * G's goc__m_finish_switch, on the same thread with nothing in between.
 */
void goc__m_finish_switch(goc_m *m)
{
    goc_g *prev = m->prev;
    if (!prev)
        return;
    int action = m->action;
    m->prev = NULL;
    m->action = ACT_NONE;
    /* The common case, a park from a guarded stack, first: it needs no
     * more than the unlock function's call. */
    if (goc_likely(action == ACT_PARK && prev->stack_kind != STACK_SLAB)) {
        finish_park(m, prev, false);
        return;
    }
    finish_switch_slow(m, prev, action);
}

/*
 * Whether find_runnable's fairness pass (every GOC_GLOBAL_RUNQ_TICK-th
 * schedule) has anything to do for p: goroutines on the global queue,
 * timers on any processor (it runs those of processors whose goroutine
 * never yields), goroutines waiting on the poller (a stale poll), or p to
 * retire or the runtime to stop. If not, the pass would take p's next G
 * just as the direct hand-off does, and the trip through g0 (two switches
 * and a clock read) is saved. Racy reads: anything missed now is seen at
 * the next tick, or by an idle processor.
 */
static __attribute__((noinline)) bool g0_turn_due(goc_p *p)
{
    if (atomic_load_explicit(&goc__sc.runq_size, memory_order_relaxed) > 0 ||
        atomic_load_explicit(&goc__sc.npollwait, memory_order_relaxed) > 0 ||
        p->id >=
            atomic_load_explicit(&goc__sc.gomaxprocs, memory_order_relaxed) ||
        atomic_load_explicit(&goc__sc.shutdown, memory_order_relaxed))
        return true;
    int32_t n =
        atomic_load_explicit(&goc__sc.nprocs_alloc, memory_order_acquire);
    for (int32_t i = 0; i < n; i++)
        if (goc__timers_next(goc__sc.allp[i]) != 0)
            return true;
    return false;
}

/* m is g's M (g->m), passed so that the chain of loads that ends in the
 * next G's stack pointer starts from the thread token, not from g. */
static goc_always_inline void g_leave(goc_g *g, goc_m *m, int action)
{
    goc_p *p = m->p;
    uint32_t tick = p->schedtick;
    goc_g *next = NULL;
    if ((goc_likely(tick % GOC_GLOBAL_RUNQ_TICK != 0) || !g0_turn_due(p)) &&
        (tick % 16 != 0 || goc__timers_next(p) == 0))
        next = runqget(p);
    if (!next) {
        g_switch_to_g0(g, action);
        return;
    }
    runq_prefetch_next(p);
    m->action = action;
    m->prev = g;
    next->m = m;
    m->curg = next;
    atomic_store_explicit(&next->status, G_RUNNING, memory_order_relaxed);
    p->schedtick = tick + 1;
    goc__san_switch_begin(&g->san, &next->san, action == ACT_EXIT);
    m = goc__ctx_switch(&g->ctx, &next->ctx, m);
    goc__san_switch_end(&g->san);
    goc__m_finish_switch(m);
}

static void main_finished(int ret)
{
    goc__sc.main_ret = ret;
    atomic_store(&goc__sc.shutdown, true);
    atomic_store(&goc__sc.main_done, 1);
    goc__futex_wake(&goc__sc.main_done, 1);
}

static void g_exit_on_g0(goc_m *m, goc_g *g)
{
    atomic_store_explicit(&g->status, G_DEAD, memory_order_relaxed);
    if (m->p)
        p_count_goroutine(m->p, -1);
    else
        atomic_fetch_sub(&goc__sc.ngoroutine_global, 1);
    if (g == goc__sc.main_g) {
        /* The main goroutine's G stays until shutdown frees all. */
        main_finished(goc__sc.main_ret);
        return;
    }
    goc__g_free(m->p, g);
}

/* Entry of every goroutine, on its own stack. */
void goc__g_start(goc_g *g, goc_m *m)
{
    goc__san_switch_end(&g->san);
    goc__m_finish_switch(m);
    g->fn(g->arg);
    goc__san_no_return();
    g = goc__getg();
    g_leave(g, g->m, ACT_EXIT);
    __builtin_unreachable();
}

void goc_exit(void)
{
    goc__require_g("goc_exit");
    goc_g *g = goc__getg();
    if (g == goc__sc.main_g)
        goc__sc.main_ret = 0;
    goc__san_no_return();
    g_leave(g, g->m, ACT_EXIT);
    __builtin_unreachable();
}

GOC__BLOCKING(void, goc_yield)(void)
{
    goc_m *m = goc__getm();
    if (goc_unlikely(!m || !m->curg))
        goc__no_g("goc_yield");
    g_leave(m->curg, m, ACT_YIELD);
    GOC__BLOCKING_RETURN_VOID(true); /* it always switches */
}

void goc__park(bool (*unlock_fn)(goc_g *, void *), void *arg,
               const char *reason)
{
    goc_m *m = goc__getm();
    goc_g *g = m ? m->curg : NULL;
    if (goc_unlikely(!g))
        goc__fatal("blocking operation (%s) outside a goroutine", reason);
    g->park_fn = unlock_fn;
    g->park_arg = arg;
    g->waitreason = reason;
    g_leave(g, m, ACT_PARK);
}

/* goc__ready past its common case: runnext is taken, or the caller holds
 * no processor. */
static __attribute__((noinline)) void ready_slow(goc_m *m, goc_g *g)
{
    if (m && m->p) {
        runqput(m->p, g, true);
    } else {
        goc__globrunqput(g);
        if (atomic_load(&goc__sc.polling))
            goc__netpoll_break();
    }
    goc__wakep();
}

void goc__ready(goc_g *g)
{
    /* A parked G is published to exactly one waker (its wait record is
     * dequeued under a lock, or won by CAS for select and the poller),
     * so a plain check-then-store suffices; the check only catches
     * misuse. The queue insertion publishes g with release. */
    uint32_t w = atomic_load_explicit(&g->status, memory_order_acquire);
    if (goc_unlikely(w != G_WAITING))
        goc__fatal("goc__ready of goroutine %llu in state %u",
                   (unsigned long long)g->id, w);
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
    /* The common case (a goroutine readies one on its own processor,
     * whose runnext is free) is runqput's first branch, written out here
     * so that this path needs no saved registers. */
    goc_m *m = goc__getm();
    goc_p *p = m ? m->p : NULL;
    if (goc_likely(p != NULL) &&
        atomic_load_explicit(&p->runnext, memory_order_relaxed) == NULL) {
        atomic_store_explicit(&p->runnext, g, memory_order_release);
        goc__wakep();
        return;
    }
    ready_slow(m, g);
}

static void sleep_wake(void *arg, uint64_t seq, int64_t now)
{
    (void)seq, (void)now;
    goc__ready(arg);
}

static bool sleep_arm(goc_g *g, void *arg)
{
    goc__timer_add(&g->sleep_timer, *(int64_t *)arg, 0);
    return true;
}

void goc_sleep(int64_t ns)
{
    goc__require_g("goc_sleep");
    if (ns <= 0)
        return;
    goc_g *g = goc__getg();
    int64_t when = goc_nanotime() + ns;
    if (when < 0) /* overflow: sleep "forever" */
        when = INT64_MAX;
    goc__timer_init(&g->sleep_timer, sleep_wake, g);
    goc__park(sleep_arm, &when, "sleep");
}

/* ---- spawning ------------------------------------------------------- */

static uint64_t new_goid(goc_p *p)
{
    if (p) {
        if (p->goid_next == p->goid_end) {
            p->goid_next = atomic_fetch_add(&goc__sc.goid_gen, 16);
            p->goid_end = p->goid_next + 16;
        }
        return p->goid_next++;
    }
    return atomic_fetch_add(&goc__sc.goid_gen, 1);
}

int goc_go_stack(void (*fn)(void *), void *arg, size_t stack_size)
{
    if (!fn)
        return -EINVAL;
    if (!goc__sc.running || atomic_load(&goc__sc.shutdown))
        return -EINVAL;
    goc_m *m = goc__getm();
    goc_p *p = m ? m->p : NULL;
    goc_g *g = goc__g_alloc(p, stack_size);
    if (!g)
        return -ENOMEM;
    g->id = new_goid(p);
    g->fn = fn;
    g->arg = arg;
    g->schedlink = NULL;
    g->waitreason = NULL;
    goc__g_prepare(g);
    atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
    if (p) {
        p_count_goroutine(p, 1);
        runqput(p, g, true);
    } else {
        atomic_fetch_add(&goc__sc.ngoroutine_global, 1);
        goc__globrunqput(g);
        if (atomic_load(&goc__sc.polling))
            goc__netpoll_break();
    }
    goc__wakep();
    return 0;
}

int goc_go(void (*fn)(void *), void *arg)
{
    return goc_go_stack(fn, arg, 0);
}

int64_t goc_num_goroutine(void)
{
    if (!goc__sc.running)
        return 0;
    int64_t n = atomic_load(&goc__sc.ngoroutine_global);
    int32_t np = atomic_load(&goc__sc.nprocs_alloc);
    for (int32_t i = 0; i < np; i++)
        n += atomic_load_explicit(&goc__sc.allp[i]->ngoroutine,
                                  memory_order_relaxed);
    return n;
}

/* ---- processors ----------------------------------------------------- */

static int ncpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int initial_procs(void)
{
    const char *env = getenv("GOCMAXPROCS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0)
            return v > GOC__MAXPROCS_LIMIT ? GOC__MAXPROCS_LIMIT : (int)v;
    }
    if (maxprocs_config > 0)
        return maxprocs_config;
    int n = ncpu();
    return n > GOC__MAXPROCS_LIMIT ? GOC__MAXPROCS_LIMIT : n;
}

static goc_p *p_new(int id)
{
    goc_p *p = aligned_alloc(GOC_CACHE_LINE, sizeof *p);
    if (!p)
        goc__fatal("out of memory creating processor %d", id);
    memset(p, 0, sizeof *p);
    p->id = id;
    p->timers = goc__timer_heap_new();
    if (!p->timers)
        goc__fatal("out of memory creating processor %d", id);
    atomic_store(&p->status, P_IDLE);
    return p;
}

int goc_maxprocs(int n)
{
    if (!goc__sc.running || atomic_load(&goc__sc.shutdown)) {
        int old = maxprocs_config > 0 ? maxprocs_config : ncpu();
        if (n > 0)
            maxprocs_config = n > GOC__MAXPROCS_LIMIT ? GOC__MAXPROCS_LIMIT : n;
        return old;
    }
    pthread_mutex_lock(&goc__sc.lock);
    int old = atomic_load(&goc__sc.gomaxprocs);
    if (n <= 0 || n == old) {
        pthread_mutex_unlock(&goc__sc.lock);
        return old;
    }
    if (n > GOC__MAXPROCS_LIMIT)
        n = GOC__MAXPROCS_LIMIT;
    if (n > old) {
        while (atomic_load(&goc__sc.nprocs_alloc) < n) {
            int32_t id = atomic_load(&goc__sc.nprocs_alloc);
            goc__sc.allp[id] = p_new(id);
            atomic_store(&goc__sc.allp[id]->status, P_DEAD);
            atomic_store(&goc__sc.nprocs_alloc, id + 1);
        }
        atomic_store(&goc__sc.gomaxprocs, n);
        for (int i = old; i < n; i++) {
            goc_p *p = goc__sc.allp[i];
            if (atomic_load(&p->status) == P_DEAD)
                goc__pidleput(p);
        }
    } else {
        atomic_store(&goc__sc.gomaxprocs, n);
        /* Idle Ps past n leave the idle list now; busy ones retire at
         * their next schedule (find_runnable). */
        goc_p **pp = &goc__sc.pidle;
        while (*pp) {
            goc_p *p = *pp;
            if (p->id >= n) {
                *pp = p->link;
                atomic_store(&p->status, P_DEAD);
                atomic_fetch_sub(&goc__sc.npidle, 1);
            } else {
                pp = &p->link;
            }
        }
    }
    pthread_mutex_unlock(&goc__sc.lock);
    for (int i = old; i < n; i++)
        goc__wakep();
    return old;
}

/* ---- threads -------------------------------------------------------- */

static void *mstart(void *arg)
{
    goc_m *m = arg;
    goc__setm(m);
    /* Timers are the poller's timeout: with the default 50 us of timer
     * slack every sleep, deadline and load-generator tick would wake up
     * to 50 us late (the kernel coalesces wake-ups within the slack). */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    pthread_attr_t attr;
    void *lo = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &lo, &size);
        pthread_attr_destroy(&attr);
    }
    goc__san_fiber_thread(&m->g0san, lo, size);
    goc__altstack_setup(m);
    if (m->nextp) {
        acquirep(m, m->nextp);
        m->nextp = NULL;
    }
    schedule(m);
    if (m->p) {
        pthread_mutex_lock(&goc__sc.lock);
        goc__pidleput(m->p);
        pthread_mutex_unlock(&goc__sc.lock);
        m->p = NULL;
    }
    goc__m_io_away(m, true);
    goc__altstack_free(m);
    goc__setm(NULL);
    return NULL;
}

/* ---- goc_main ------------------------------------------------------- */

typedef struct main_start {
    int (*fn)(void *);
    void *arg;
} main_start;

static void main_trampoline(void *arg)
{
    main_start *ms = arg;
    goc__sc.main_ret = ms->fn(ms->arg);
}

static void runtime_free(void)
{
    int32_t n = atomic_load(&goc__sc.nprocs_alloc);
    for (int32_t i = 0; i < n; i++) {
        goc_p *p = goc__sc.allp[i];
        goc__timer_heap_free(p->timers);
        free(p);
        goc__sc.allp[i] = NULL;
    }
    goc_m *m = goc__sc.allm;
    while (m) {
        goc_m *next = m->all_next;
        free(m);
        m = next;
    }
    free(goc__sc.runq);
    goc__sc.runq = NULL;
    goc__stacks_shutdown();
    goc__netpoll_close();
    pthread_mutex_destroy(&goc__sc.lock);
}

int goc_main(int (*fn)(void *), void *arg)
{
    static _Atomic bool active;
    bool f = false;
    if (goc__getm() || !atomic_compare_exchange_strong(&active, &f, true))
        goc__fatal("goc_main called while the runtime is running "
                   "(goc_main inside goc_main)");
    if (!fn)
        goc__fatal("goc_main: NULL main function");

    memset(&goc__sc, 0, sizeof goc__sc);
    pthread_mutex_init(&goc__sc.lock, NULL);
    goc__membarrier_init();
    int err = goc__netpoll_init();
    if (err < 0)
        goc__fatal("goc_main: cannot create the poller: %s", goc_strerror(err));
    int procs = initial_procs();
    long long spin_us = goc__env_knob("GOCIDLESPIN", 0, 1000000, -1);
    if (spin_us >= 0)
        goc_idle_spin(spin_us * 1000);
    for (int i = 0; i < procs; i++)
        goc__sc.allp[i] = p_new(i);
    atomic_store(&goc__sc.nprocs_alloc, procs);
    atomic_store(&goc__sc.gomaxprocs, procs);
    atomic_store(&goc__sc.goid_gen, 2);
    for (int i = procs - 1; i >= 1; i--)
        goc__pidleput(goc__sc.allp[i]);
    goc__fault_handlers_install();
    (void)goc__stack_guard_regions(); /* detect once, before any spawn */
    goc__idle_work_register(goc__stacks_prefill_some);
    goc__sc.running = true;

    main_start ms = {fn, arg};
    goc_p *p0 = goc__sc.allp[0];
    goc_g *g = goc__g_alloc(p0, 0);
    if (!g)
        goc__fatal("goc_main: out of memory for the main goroutine");
    g->id = 1;
    g->fn = main_trampoline;
    g->arg = &ms;
    goc__g_prepare(g);
    atomic_store(&g->status, G_RUNNABLE);
    goc__sc.main_g = g;
    atomic_fetch_add(&p0->ngoroutine, 1);
    runqput(p0, g, false);
    atomic_store(&p0->status, P_RUNNING);
    if (goc__sysmon_start() != 0)
        goc__fatal("goc_main: cannot start the monitor thread");
    newm(p0, false);

    while (atomic_load(&goc__sc.main_done) == 0) {
#ifdef GOC_TSAN
        /* This thread is the one that takes process signals (the
         * runtime's own block them). ThreadSanitizer runs a handler at
         * once only inside a call it intercepts as blocking; one that
         * lands in a raw futex wait would wait for goc_main to return,
         * after goc_signal_stop may have restored the default action. */
        usleep(1000);
#else
        goc__futex_wait(&goc__sc.main_done, 0, -1);
#endif
    }

    /* Shutdown: wake every idle M and the poller; each M leaves its
     * scheduler loop at its next scheduling point. */
    pthread_mutex_lock(&goc__sc.lock);
    atomic_store(&goc__sc.shutdown, true);
    for (goc_m *m = goc__sc.midle; m; m = m->link) {
        m->nextp = NULL;
        atomic_store(&m->park, 1);
        goc__futex_wake(&m->park, 1);
    }
    goc__sc.midle = NULL;
    goc__sc.nmidle = 0;
    pthread_mutex_unlock(&goc__sc.lock);
    goc__netpoll_break();
    /* An M still running may start another before it sees the shutdown;
     * new Ms are pushed at the head of allm, so each pass joins those
     * from the head down to where the previous pass began (each thread
     * exactly once), until no new one appeared. */
    goc_m *joined = NULL;
    for (;;) {
        pthread_mutex_lock(&goc__sc.lock);
        goc_m *all = goc__sc.allm;
        pthread_mutex_unlock(&goc__sc.lock);
        if (all == joined)
            break;
        for (goc_m *m = all; m != joined; m = m->all_next) {
            goc__netpoll_break();
            while (!atomic_load_explicit(&m->created, memory_order_acquire))
                sched_yield(); /* newm is between allm and pthread_create */
            pthread_join(m->thread, NULL);
        }
        joined = all;
    }
    goc__sysmon_stop();
    goc__netpoll_stop();
    goc__fault_handlers_remove();
    int ret = goc__sc.main_ret;
    goc__sc.running = false;
    runtime_free();
    atomic_store(&active, false);
    return ret;
}
