/*
 * sched.h - the scheduler's private types: G (goroutine), P (processor),
 * M (OS thread), and the global scheduler state. See docs/design.md.
 *
 * Goroutine states and their transitions (g->status, atomic):
 *   G_IDLE     -> G_RUNNABLE   goc_go: a fresh G is queued
 *   G_RUNNABLE -> G_RUNNING    an M takes it from a run queue (execute)
 *   G_RUNNING  -> G_RUNNABLE   goc_yield (on g0, after the switch)
 *   G_RUNNING  -> G_WAITING    goc__park (on g0, after the switch, before
 *                              the unlock function runs)
 *   G_WAITING  -> G_RUNNABLE   goc__ready (a checked store: a parked G is
 *                              published to exactly one waker)
 *   G_RUNNING  -> G_SYSCALL    goc_syscall_begin (the G stays on its M)
 *   G_SYSCALL  -> G_RUNNING    goc_syscall_end, processor regained
 *   G_SYSCALL  -> G_RUNNABLE   goc_syscall_end, no processor: queued
 *   G_RUNNING  -> G_DEAD       the function returned or goc_exit (on g0)
 *   G_DEAD     -> G_IDLE       reused from a stack cache
 *
 * Processor states (p->status, atomic):
 *   P_IDLE    on the idle list (sched.lock), run queue empty
 *   P_RUNNING owned by an M that runs goroutines or the scheduler
 *   P_SYSCALL its M is in a syscall; sysmon may CAS it to P_IDLE and hand
 *             it off; goc_syscall_end CASes it back to P_RUNNING
 *   P_DEAD    id >= gomaxprocs after goc_maxprocs shrank the set
 *
 * Lock order: sched.lock before a processor's timer lock. The run queue
 * is lock-free (owner pushes/pops at its end, thieves CAS the head).
 */
#ifndef GOC_SCHED_H
#define GOC_SCHED_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/config.h"
#include "runtime/runtime_internal.h"
#include "runtime/sanitizer.h"

typedef struct goc_m goc_m;
typedef struct goc_p goc_p;

/* Saved context of a switched-out stack: everything else is on it. */
typedef struct goc__ctx {
    void *sp;
} goc__ctx;

/* Save the caller's context in *from and resume *to. The resumed side's
 * own call returns m: the M that switched to it, i.e. the M it now runs
 * on, which thus needs no thread-local lookup. A fresh context enters
 * goc__g_start(g, m) through goc__ctx_entry. */
goc_m *goc__ctx_switch(goc__ctx *from, goc__ctx *to, goc_m *m);
void goc__ctx_entry(void);

enum {
    G_IDLE,
    G_RUNNABLE,
    G_RUNNING,
    G_WAITING,
    G_SYSCALL,
    G_DEAD,
};

enum { P_IDLE, P_RUNNING, P_SYSCALL, P_DEAD };

/* How the stack of a G was obtained; see stack.c. */
enum { STACK_GUARDED, STACK_SLAB, STACK_CUSTOM };

/* What a goroutine asks its M's g0 to do right after switching to it. */
enum { ACT_NONE, ACT_PARK, ACT_YIELD, ACT_EXIT, ACT_SYSCALL_BLOCK };

/* A goroutine. Lives at the top of its own stack mapping (stack.c), so
 * one mapping is one G and a parked G costs its touched stack pages. */
struct goc_g {
    goc__ctx ctx;            /* saved sp when not running */
    _Atomic uint32_t status; /* G_*, see the transitions above */
    uint64_t id;             /* set at spawn; main is 1 */
    void (*fn)(void *);      /* entry, set at spawn */
    void *arg;
    goc_g *schedlink; /* global run queue / glist / cache link;
                         owned by whoever holds the G there */
    goc_m *m;         /* M running it; valid while running */
    /* Park request, written by the G, read by g0 after the switch. */
    bool (*park_fn)(goc_g *, void *);
    void *park_arg;
    const char *waitreason; /* of the last park: read only while parked */
    goc__timer sleep_timer; /* goc_sleep's timer */
    /* Stack: [lo, hi) usable; the mapping is [map_lo, map_lo+map_len). */
    char *stack_lo;
    char *stack_hi;
    char *map_lo;
    size_t map_len;
    int stack_kind;         /* STACK_* */
    struct goc_g *all_next; /* registry of mappings (stack.c lock) */
    struct goc_g *all_prev;
    goc__san_fiber san; /* sanitizer fiber state */
};

#define RUNQ_SIZE 256

/*
 * Layout: other threads poll a P's run queue (spinning thieves) and read
 * its first line (status, timers); the owner writes schedtick and its
 * caches on every schedule. Each group has its own cache line, so that
 * polling never steals the line the owner is writing (false sharing).
 * Allocated 64-byte aligned (p_new).
 */
#define GOC_CACHE_LINE 64

struct goc_p {
    /* Read by anyone. */
    int id;
    _Atomic uint32_t status;      /* P_* */
    goc_m *m;                     /* owner while P_RUNNING/P_SYSCALL */
    goc_p *link;                  /* idle list (sched.lock) */
    _Atomic uint32_t syscalltick; /* bumped by each syscall begin */
    /* Timers: 4-ary min-heap (timer.c). */
    struct goc__timer_heap *timers;
    /* Live goroutine count delta (spawns - exits) on this P; owner writes
     * (atomic relaxed), anyone sums. */
    _Atomic int64_t ngoroutine;

    /* Owner only. */
    _Alignas(GOC_CACHE_LINE) uint32_t schedtick; /* goroutines run */
    uint32_t timer_polls;                        /* goc__timers_poll calls */
    /* The poller has had work ready at once lately: when this P runs out
     * of goroutines it polls without blocking before it lets go of
     * itself (sched.c: fr_poll). */
    bool poll_hot;
    _Atomic uint64_t hot_polls;  /* such polls that found work (tests) */
    _Atomic uint64_t hot_misses; /* and that found nothing (tests) */
    /* Goroutine id batch: [goid_next, goid_end). */
    uint64_t goid_next;
    uint64_t goid_end;
    /* Cache of dead default-size Gs (with their stacks). An array, not a
     * list through the Gs: popping one must not wait for a cache miss on
     * the G to learn the next. */
    int gfree_n;
    int64_t gfree_trimmed; /* when goc__stacks_trim_local last trimmed */

    /* Run queue: owner writes tail (release) and consumes at head (CAS);
     * thieves CAS head. Slots are atomics so that racing reads are
     * defined; a slot is only trusted after a successful head CAS. */
    _Alignas(GOC_CACHE_LINE) _Atomic uint32_t runqhead;
    _Atomic uint32_t runqtail;
    _Atomic(goc_g *) runq[RUNQ_SIZE];
    /* Next to run; owner sets, owner and thieves CAS it to NULL. */
    _Alignas(GOC_CACHE_LINE) _Atomic(goc_g *) runnext;

    _Alignas(GOC_CACHE_LINE) goc_g *gfree[GOC_GFREE_LOCAL_MAX];
};

struct goc_m {
    /* First, in this order: struct goc__m_head. */
    goc_g *curg;   /* G running on this M (owner) */
    goc_p *p;      /* attached P (owner) */
    void *io_ring; /* completion I/O's ring (runtime_internal.h) */
    int id;
    pthread_t thread;      /* valid once created is set */
    _Atomic bool created;  /* pthread_create returned (release) */
    goc__ctx g0ctx;        /* the scheduler's own context */
    goc__san_fiber g0san;  /* sanitizer state of the thread's stack */
    goc_p *nextp;          /* P handed over by whoever woke us */
    goc_m *link;           /* idle list (sched.lock) */
    goc_m *all_next;       /* every M (sched.lock) */
    bool spinning;         /* looking for work; counted in nmspinning */
    int action;            /* ACT_* request from curg (owner) */
    goc_g *prev;           /* G that handed off directly (owner) */
    _Atomic uint32_t park; /* futex word for stopm */
    uint32_t rand[2];      /* fastrand state */
    void *altstack;        /* sigaltstack for stack-overflow reports */
    int64_t syscall_when;  /* start of the current syscall */
    goc_p *syscall_p;      /* P held when the syscall began */
};

/* The global scheduler state (one runtime per process at a time). */
typedef struct goc__sched {
    pthread_mutex_t lock;
    /* Protected by lock: */
    /* Global run queue: a ring of G pointers, not a list through the
     * Gs, so that moving a batch between it and a local queue touches no
     * G (a thousand fresh goroutines are a thousand cold cache lines on
     * a thousand pages). Capacity a power of two, doubled when full. */
    goc_g **runq;
    uint32_t runq_cap;
    uint32_t runq_head;        /* index of the oldest entry */
    _Atomic int32_t runq_size; /* written under lock, read racily */
    goc_p *pidle;
    _Atomic int32_t npidle; /* written under lock, read racily */
    goc_m *midle;
    int32_t nmidle;
    int32_t mcount; /* Ms created */
    goc_m *allm;
    /* Processors. allp[0..nprocs_alloc) exist; gomaxprocs are active. */
    goc_p *allp[GOC__MAXPROCS_LIMIT];
    _Atomic int32_t nprocs_alloc;
    _Atomic int32_t gomaxprocs;
    _Atomic int32_t nmspinning;
    _Atomic int32_t nsyscall;          /* Gs between syscall begin and end */
    _Atomic int64_t ngoroutine_global; /* spawns/exits without a P */
    _Atomic int32_t npollwait;         /* Gs parked on the poller */
    _Atomic int32_t nwakers;           /* signal/child watchers (deadlock) */
    _Atomic uint64_t goid_gen;         /* next goroutine id batch */
    /* Poller: the M blocked in epoll_wait, if any. poll_until is the
     * deadline it sleeps to (INT64_MAX: none), 0 when nobody polls. */
    _Atomic int64_t poll_until;
    _Atomic bool polling;
    /* When epoll was last asked (goc_nanotime): a processor that keeps
     * finding local work polls without blocking once this is older than
     * GOC_NETPOLL_STALE_NS, so that I/O is not starved while every P is
     * busy (Go's sysmon does this every 10 ms). */
    _Atomic int64_t lastpoll;
    /* Shutdown. */
    _Atomic bool shutdown;
    _Atomic uint32_t main_done; /* futex: main goroutine finished */
    int main_ret;
    goc_g *main_g;
    /* sysmon */
    pthread_t sysmon_thread;
    _Atomic uint32_t sysmon_sleep; /* futex word; 1 while blocked, 2 while
                                      in a timed sleep (sysmon.c) */
    bool running;
} goc__sched;

extern goc__sched goc__sc;

/* m's completion-I/O ring, if it has one, is reaped by m while m holds a
 * processor, and by the poller while it does not: m calls this with
 * away = true when it lets go of its processor (idle, a system call
 * section) and false when it holds one again (uring_io.h:
 * goc__uio_m_away). */
static inline void goc__m_io_away(goc_m *m, bool away)
{
    if (m->io_ring)
        goc__netpoll_m_away(m->io_ring, away);
}

/* Per-thread state, read through accessors the compiler cannot cache
 * across a switch (a G may resume on another thread): see
 * goc__thread_token (runtime_internal.h). */
void goc__setm(goc_m *m);

static inline goc_m *goc__getm(void)
{
    return goc__thread_token(); /* runtime_internal.h */
}

/* sched.c */
void goc__runtime_sigset(sigset_t *set);
void goc__globrunqput(goc_g *g);
void goc__wakep_slow(void);

/* Go's wakep: if a processor idles and no thread spins looking for work,
 * start one to come for the work just made ready. The common case, no
 * idle processor, is one load, inline. */
static inline void goc__wakep(void)
{
    if (atomic_load_explicit(&goc__sc.npidle, memory_order_acquire) != 0)
        goc__wakep_slow();
}
void goc__startm(goc_p *p, bool spinning);
void goc__handoffp(goc_p *p);
goc_p *goc__pidleget(void);
void goc__pidleput(goc_p *p);
void goc__execute_action(goc_m *m, goc_g *g);
void goc__stopm(goc_m *m);
void goc__checkdead(void);
void goc__inject_glist(goc__glist *l);
void goc__m_finish_switch(goc_m *m);

/* stack.c */
goc_g *goc__g_alloc(goc_p *p, size_t stack_size);
void goc__g_free(goc_p *p, goc_g *g);
void goc__g_prepare(goc_g *g);
void goc__stacks_shutdown(void);
/* Whether stacks of dead Gs past the caches wait to be released (racy,
 * one load), and release a few (an idle thread, no P); false when none
 * is left. */
bool goc__stacks_retired(void);
bool goc__stacks_release_some(void);
/* Make a few new default stacks ahead of demand into the global G cache
 * (an idle thread, no P), while spawns keep needing new ones; false when
 * none is wanted. */
bool goc__stacks_prefill_some(void);
/* Stack scavenging (Go's scavenger): an idle P keeps only
 * GOC_GFREE_LOCAL_WARM dead Gs and moves the oldest to the global cache
 * (owner, no system call); sysmon, every GOC_SCAVENGE_PERIOD_NS while the
 * global cache holds more than GOC_GFREE_GLOBAL_WARM, gives back the
 * touched stack pages of those nobody took in the last period (returns
 * how many). */
void goc__stacks_trim_local(goc_p *p);
/* A processor that went idle within a period of its last trim keeps its
 * cache and leaves a mark (so sysmon keeps its timed sleep); sysmon takes
 * the mark and trims idle processors (goc__sched_trim_idle_ps, under
 * sched.lock, so no M owns them meanwhile). trim_idle: false when p
 * trimmed too recently (the mark is set again). */
bool goc__stacks_take_trim_pending(void);
bool goc__stacks_trim_idle(goc_p *p, int64_t now);
void goc__sched_trim_idle_ps(void);
/* Release retired stacks until none is left or a timer is nearly due
 * (a thread without a P: an idle M, or sysmon after trimming idle Ps,
 * which no idle M would otherwise come back for). */
void goc__release_dead_stacks(void);
/* Dead Gs in the local caches of idle processors and the caller's own
 * (sched.lock; for tests). */
int goc__sched_cached_gs_local(void);
/* How soon after its start a blocking poll must return work for the
 * poller to be hot (GOC_POLL_HOT_NS; tests set it). */
extern _Atomic int64_t goc__poll_hot_ns;
/* Non-blocking polls of hot processors that found work (misses: that
 * found nothing), all processors together (racy sums; for tests). */
uint64_t goc__sched_hot_polls(uint64_t *misses);
bool goc__stacks_scavenge_wanted(void);
int goc__stacks_scavenge(void);
void goc__stack_check(goc_g *g);
/* Whether stacks get their guard pages from madvise(MADV_GUARD_INSTALL)
 * (no extra kernel map; every stack guarded) rather than mprotect (the
 * first GOC_GUARDED_STACKS_MAX only); detected once. */
bool goc__stack_guard_regions(void);
bool goc__stack_fault(void *addr, goc_g *g);
/* Commit fresh (zero-filled) anonymous memory now rather than at its
 * first touch: madvise(MADV_POPULATE_WRITE), or a write a page where the
 * kernel lacks it. Page-aligned addr; no lock needed. */
void goc__mem_commit(void *addr, size_t len);

/* timer.c */
typedef struct goc__timer_heap goc__timer_heap;
goc__timer_heap *goc__timer_heap_new(void);
void goc__timer_heap_free(goc__timer_heap *h);
/* Run expired timers of p; returns the next deadline (0: none). ready
 * goroutines go to the caller's P. */
int64_t goc__timers_run(goc_p *p, int64_t now);
int64_t goc__timers_next(goc_p *p);
/* The earliest deadline of all processors' timers, 0 if none (racy). */
int64_t goc__timers_earliest(void);

/* netpoll.c: the scheduler's side of the poller (netpoll/poller.h) */
int goc__netpoll_init(void);
void goc__netpoll_close(void);
/* Stop the poller's own threads (after the Ms are joined). */
void goc__netpoll_stop(void);
/* Wait up to `delay` ns (<0 forever, 0 not at all); fills list. Returns
 * the time it ended: `now` where the caller read the clock just before
 * a poll that does not block (delay 0), else goc_nanotime(). */
int64_t goc__netpoll(int64_t delay, goc__glist *list, int64_t now);
void goc__netpoll_break(void);
void goc__netpoll_timer_added(int64_t when);
/* Requests that goroutines queued for completion I/O and left unsubmitted
 * go now (poller.h: goc__poller_flush): at the end of a scheduler round,
 * so that one io_uring_enter submits the round's. With a ring per M, the
 * goroutines its completions woke go on *ready (how many: returned). */
int goc__netpoll_flush(goc__glist *ready);

/* membarrier.c: register for the fence once per process (goc_main). */
void goc__membarrier_init(void);

/* sysmon.c */
int goc__sysmon_start(void);
void goc__sysmon_stop(void);
void goc__sysmon_wake(void);

/* signals for stack overflow (panic.c) */
void goc__fault_handlers_install(void);
void goc__fault_handlers_remove(void);
int goc__altstack_setup(goc_m *m);
void goc__altstack_free(goc_m *m);

/* futex */
void goc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns);
void goc__futex_wake(_Atomic uint32_t *addr, int n);

#endif
