/*
 * runtime_internal.h - what the other modules (chan, time, sync, netpoll,
 * net, proc) may use of the runtime. Private: never installed.
 *
 * The parking protocol (Go's gopark/goready)
 * -----------------------------------------
 * A goroutine that must wait records itself in some wait queue protected by
 * a lock L, then calls goc__park(unlock_fn, L). goc__park switches away
 * FIRST (to the thread's scheduler, g0, or straight to the next G of its
 * processor), and only then does whoever runs next on the thread call
 * unlock_fn(g, L). So by the time any waker can find g in the queue
 * (it needs L), g is completely switched out, and the waker's goc__ready(g)
 * can never resume a goroutine that is still running on another thread.
 * If unlock_fn returns false, the park is abandoned and g resumes at once
 * (used to re-check a condition after the switch, e.g. a poll descriptor
 * that became ready in between).
 *
 * Wait records (Go's sudog) are goc__waiter structs on the parked
 * goroutine's own stack: parking never allocates.
 *
 * Timers
 * ------
 * goc__timer is an intrusive timer living in the caller's memory. A timer
 * sits in the 4-ary heap of one processor. Its function runs on a
 * scheduler thread (never in a goroutine, never with a lock of the caller
 * held): it must not block; it may goc__ready() goroutines and do
 * non-blocking channel operations. Each del/mod increments t->seq; the
 * function receives the seq the timer had when it was taken out of the
 * heap, so it can recognise a stale firing that raced with a stop/reset.
 *
 * The poller
 * ----------
 * One poller instance belongs to the runtime; its contract (registering
 * descriptors, events, barriers) is src/netpoll/poller.h. Goroutines
 * parked waiting for the poller must be counted with
 * goc__netpoll_waiters_add(+1/-1) so that deadlock detection knows
 * something can still wake them.
 */
#ifndef GOC_RUNTIME_INTERNAL_H
#define GOC_RUNTIME_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc/runtime.h"

/* Which sanitizer this build runs under (GOC_VALGRIND comes from the
 * build): GOC_ASAN, GOC_TSAN. */
#if defined(__SANITIZE_ADDRESS__)
#define GOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOC_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GOC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GOC_TSAN 1
#endif
#endif

#ifdef GOC_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#endif
/* A hand-off ThreadSanitizer cannot see (through the kernel: a pointer
 * registered with the poller and returned by it): release on the giving
 * side, acquire on the taking side, on the same address. No-ops in other
 * builds. */
static inline void goc__tsan_release(void *addr)
{
#ifdef GOC_TSAN
    __tsan_release(addr);
#else
    (void)addr;
#endif
}

static inline void goc__tsan_acquire(void *addr)
{
#ifdef GOC_TSAN
    __tsan_acquire(addr);
#else
    (void)addr;
#endif
}

#define goc_likely(x) __builtin_expect(!!(x), 1)
#define goc_unlikely(x) __builtin_expect(!!(x), 0)
/* For the few hot-path helpers whose callers each pass constants that
 * prune most of the body (blocking or not, which action). */
#define goc_always_inline inline __attribute__((always_inline))

/* One step of a spin-wait loop: tells the CPU we spin (and, on SMT, lets
 * the sibling thread run). */
static inline void goc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

typedef struct goc_g goc_g;

/* Always-on assert for invariants that protect memory. */
#define GOC_ASSERT(cond)                                                       \
    do {                                                                       \
        if (goc_unlikely(!(cond)))                                             \
            goc__fatal("assertion failed: %s (%s:%d)", #cond, __FILE__,        \
                       __LINE__);                                              \
    } while (0)
#ifdef GOC_DEBUG
#define GOC_DASSERT(cond) GOC_ASSERT(cond)
#else
#define GOC_DASSERT(cond) ((void)0)
#endif

/* ---- goroutines ---------------------------------------------------- */

uint64_t goc__g_id(const goc_g *g);

/* The fatal error of a blocking call (`what`) made outside a goroutine. */
void goc__no_g(const char *what) __attribute__((noreturn, cold));

/* Go's throw: print "fatal error: <msg>" and exit(2). Any thread. */
void goc__fatal(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

/* A numeric knob from the environment: `def` when `name` is unset or
 * empty, its value when that is a whole number in [lo, hi], else a fatal
 * error that names the variable and the range (a knob set wrongly must
 * not fall back to the default in silence). Any thread. */
long long goc__env_knob(const char *name, long long lo, long long hi,
                        long long def);

/* Park the calling goroutine (see the protocol above). `reason` is a
 * static string shown in diagnostics ("chan receive", "select", ...). */
void goc__park(bool (*unlock_fn)(goc_g *g, void *arg), void *arg,
               const char *reason);
/* Make a parked goroutine runnable. Any thread (goroutine, scheduler, or a
 * plain thread). g must be parked (or about to be: see the protocol). */
void goc__ready(goc_g *g);

/*
 * Public calls that park, defined as
 *     GOC__BLOCKING(bool, goc_chan_recv)(goc_chan *c, void *elem) { ...
 *         GOC__BLOCKING_RETURN(ok, parked); }
 * On x86-64 this defines goc_chan_recv__body, which returns the result
 * and whether the call parked, and the public goc_chan_recv is a stub in
 * resume_x86_64.S that returns from a call that parked by an indirect
 * jump (why: see there). A name added here must be added there. `parked`
 * is only a hint: true when the call switched away, so that the
 * processor's return predictions are another goroutine's. Elsewhere the
 * macros define the public function itself and drop the hint.
 */
#if defined(__x86_64__) && !defined(GOC_NO_RESUME_STUBS)
typedef struct goc__blocking_ret {
    uintptr_t value;  /* rax: the call's result */
    uintptr_t parked; /* rdx */
} goc__blocking_ret;
#define GOC__BLOCKING(type, name)                                              \
    __attribute__((visibility("hidden"))) goc__blocking_ret name##__body
#define GOC__BLOCKING_RETURN(result, parked)                                   \
    return (goc__blocking_ret)                                                 \
    {                                                                          \
        (uintptr_t)(result), (parked)                                          \
    }
#define GOC__BLOCKING_RETURN_VOID(parked)                                      \
    return (goc__blocking_ret)                                                 \
    {                                                                          \
        0, (parked)                                                            \
    }
#else
#define GOC__BLOCKING(type, name) type name
#define GOC__BLOCKING_RETURN(result, parked) return ((void)(parked), (result))
#define GOC__BLOCKING_RETURN_VOID(parked)                                      \
    do {                                                                       \
        (void)(parked);                                                        \
        return;                                                                \
    } while (0)
#endif

/* Id of the processor running the caller, in [0, GOC__MAXPROCS_LIMIT), or
 * -1 on a thread without one. A goroutine keeps its processor until it
 * parks, yields or enters a syscall, so code that does none of those
 * between two calls sees the same id (sync.Pool's pinning, for free). */
#define GOC__MAXPROCS_LIMIT 256
int goc__p_id(void);

/* ---- the calling thread, and biased locks ---------------------------- */

/* The calling thread's M as an opaque token: NULL on a thread the runtime
 * did not start. A goroutine may resume on another thread after any
 * switch point, so the token must never be reused across one. On x86-64
 * it is an asm load whose only input is goc__tls_epoch, a variable that
 * nothing writes but the compiler must assume any call it cannot see
 * into may write: it re-reads the token after every such call (a switch
 * always is one: goc__ctx_switch is assembly) and reuses it between
 * calls. Elsewhere, a function the compiler cannot inline. */
struct goc_m;
extern __thread struct goc_m *goc__tls_m
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
struct goc__tls_epoch {
    int unused;
};
extern struct goc__tls_epoch goc__tls_epoch
    __attribute__((visibility("hidden")));
struct goc_m *goc__getm_slow(void);

static inline struct goc_m *goc__thread_token(void)
{
#if defined(__x86_64__)
    struct goc_m *m;
    __asm__("movq goc__tls_m@gottpoff(%%rip), %0\n\t"
            "movq %%fs:(%0), %0"
            : "=r"(m)
            : "m"(goc__tls_epoch));
    return m;
#else
    return goc__getm_slow();
#endif
}

/* What every goc_m starts with (sched.h asserts the layout), so that
 * other modules read the current goroutine without a call. */
struct goc__m_head {
    goc_g *curg;   /* G running on this M (owner) */
    void *p;       /* the goc_p it holds, or NULL (owner) */
    void *io_ring; /* completion I/O's ring of this M (uring_io.c: a ring
                      per M), or NULL (created by the M's goroutines) */
};

/* The calling goroutine, or NULL on a plain thread / on the scheduler. */
static inline goc_g *goc__getg(void)
{
    struct goc_m *m = goc__thread_token();
    return m ? ((struct goc__m_head *)m)->curg : NULL;
}

/* Fatal error unless called from a goroutine: `what` names the call. */
static inline void goc__require_g(const char *what)
{
    if (goc_unlikely(goc__getg() == NULL))
        goc__no_g(what);
}

/* The processor the calling thread holds, as an opaque token, or NULL.
 * A processor is held by one thread at a time and changes threads only
 * while its goroutine is parked, yielding or in a system call section,
 * so code without those in between sees one token: what a biased lock
 * (chan_internal.h) is biased to. */
static inline uintptr_t goc__p_token(void)
{
    struct goc_m *m = goc__thread_token();
    return m ? (uintptr_t)((struct goc__m_head *)m)->p : 0;
}

/* The slot of the calling thread's M for its completion-I/O ring
 * (goc__m_head.io_ring), or NULL on a thread the runtime did not start.
 * The same switch rule as goc__thread_token: never reused across one. */
static inline void **goc__m_io_ring_slot(void)
{
    struct goc_m *m = goc__thread_token();
    return m ? &((struct goc__m_head *)m)->io_ring : NULL;
}

/* Whether a lock made now may be biased to the caller's processor (the
 * channel lock, chan_internal.h): the caller holds one, the runtime runs
 * one processor, and the kernel offers goc__membarrier.
 * Never under ThreadSanitizer or valgrind (they cannot see that fence),
 * nor off x86-64 (the protocol leans on its store order). */
bool goc__lock_bias_allowed(void);
/* A full memory barrier executed by every running thread of the process
 * (membarrier(2), private expedited): the slow side of a biased lock's
 * asymmetric fence. Only once goc__lock_bias_allowed has said true. */
void goc__membarrier(void);

/* Go's sync_runtime_canSpin: whether a goroutine that found a lock held
 * may spin a round (the iter-th, from 0) instead of parking: only a few
 * rounds, only with several processors of which at least one other runs
 * goroutines (the holder may be there), and only when the caller's
 * processor has nothing else to run. Racy hints, no lock. Any thread. */
bool goc__can_spin(int iter);

/* Cheap per-thread random number (xorshift), for select and stealing. */
uint32_t goc__fastrand(void);
/* Uniform in [0, n). */
uint32_t goc__fastrandn(uint32_t n);

/* A wait record on the parked goroutine's stack (Go's sudog). Fields other
 * than g are the owning module's business; the links are for its queues. */
typedef struct goc__waiter {
    goc_g *g;
    struct goc__waiter *next;
    struct goc__waiter *prev;
    void *elem;     /* data slot (channels: value to send / receive) */
    void *obj;      /* the object waited on (channel, mutex...) */
    void *sel;      /* select: the shared goc__select_state, else NULL */
    int64_t ticket; /* module-defined (select case index, FIFO ticket) */
    bool success;   /* set by the waker (channels: false = closed) */
    bool is_select;
} goc__waiter;

/* ---- timers -------------------------------------------------------- */

typedef struct goc__timer goc__timer;
typedef void (*goc__timer_fn)(void *arg, uint64_t seq, int64_t now);

struct goc__timer {
    int64_t when;   /* deadline (goc_nanotime); heap key */
    int64_t period; /* > 0: re-armed at when + period after firing */
    goc__timer_fn fn;
    void *arg;
    /* Below: the runtime's. Protected by the timer lock of the processor
     * whose heap holds the timer (heap != NULL), see timer.c. */
    _Atomic(void *) heap; /* the goc__timer_heap holding it, or NULL */
    int32_t index;        /* position in that heap */
    _Atomic uint64_t seq; /* incremented by every del/mod */
};

/* Initialise (zero) a timer before first use. */
void goc__timer_init(goc__timer *t, goc__timer_fn fn, void *arg);
/* Arm t to fire at `when` (t must not be armed). Any thread. */
void goc__timer_add(goc__timer *t, int64_t when, int64_t period);
/* Disarm; true if it was armed (had not fired/been taken yet). */
bool goc__timer_del(goc__timer *t);
/* Disarm if armed and re-arm at when; true if it was armed before. */
bool goc__timer_mod(goc__timer *t, int64_t when, int64_t period);
/* Called by a goroutine that just armed a timer, holding no lock a timer
 * callback could take: now and then, run the timers of its processor that
 * are due. A goroutine that arms timers in a loop would otherwise keep
 * them all from firing until it blocks (there is no preemption). */
void goc__timers_poll(void);

/* ---- idle work ----------------------------------------------------- */

/* Work a spinning thread that found nothing to run may do meanwhile: make
 * fresh memory that a busy goroutine is about to need (each first touch
 * of a page is a page fault, which would otherwise all fall on the
 * goroutine's CPU; bench/README.md has what they cost). A function does a
 * bounded step (tens of microseconds) and returns true if it did something; it
 * runs without a P's goroutine, holding no lock, and must be safe to call at
 * any time from any scheduler thread. Registering the same function again does
 * nothing; at most GOC_IDLE_WORK_MAX, for the life of the process. */
typedef bool (*goc__idle_work_fn)(void);
void goc__idle_work_register(goc__idle_work_fn fn);

/* The demand an idle-work function serves: what the busy side owes it
 * asks for (raised by `ahead` per fresh item it had to make itself, never
 * past `max`, so that one burst does not leave idle threads making many
 * nobody will use), and what a step takes on (at most `batch`, 0 if
 * nothing is asked). Racy by design: a hint, never a count to rely on. */
static inline void goc__demand_raise(_Atomic int *wanted, int ahead, int max)
{
    if (atomic_load_explicit(wanted, memory_order_relaxed) < max)
        atomic_fetch_add_explicit(wanted, ahead, memory_order_relaxed);
}

static inline int goc__demand_take(_Atomic int *wanted, int batch)
{
    int want = atomic_load_explicit(wanted, memory_order_relaxed);
    if (want <= 0)
        return 0;
    if (want > batch)
        want = batch;
    atomic_fetch_sub_explicit(wanted, want, memory_order_relaxed);
    return want;
}

/* ---- the poller ---------------------------------------------------- */

typedef struct goc__glist {
    goc_g *head;
    goc_g *tail;
    int n;
} goc__glist;
void goc__glist_push(goc__glist *l, goc_g *g);
/* Move all of b to the end of a (b is left empty). */
void goc__glist_cat(goc__glist *a, goc__glist *b);

/* +1 before parking on the poller, -1 once woken (deadlock detection). */
void goc__netpoll_waiters_add(int delta);
/* How many goroutines wait on the poller now (a hint: relaxed). */
int goc__netpoll_waiters(void);
/* goc__netpoll_waiters plus the goroutines runnable on the global queue
 * and on the caller's processor: those a poll or a completion has just
 * woken count too (a batch of them is taken at once, and the waiters
 * dip while it runs). A hint: relaxed. */
int goc__netpoll_load(void);
/* The number of processors now (GOMAXPROCS; a hint: relaxed). */
int goc__netpoll_procs(void);
/* Count of other things that can wake goroutines (signal delivery, child
 * processes): +1/-1, for deadlock detection. */
void goc__wakers_add(int delta);
/* Whether a thread is in the poller now (or about to wait in it): the io
 * thread of completion I/O (netpoll/uring_io.c) wakes it with
 * goc__poller_wake when it has goroutines for it. seq_cst. */
bool goc__netpoll_polling(void);
/* The M owning completion-I/O ring io_ring stops (away) or starts again
 * running its scheduler loop with a processor (uring_io.h:
 * goc__uio_m_away). */
void goc__netpoll_m_away(void *io_ring, bool away);
/* Start a helper thread that is not an M (the io thread), with the
 * signals the runtime's threads block blocked. 0 or an errno value. */
int goc__helper_thread_start(void *handle, void *(*fn)(void *), void *arg);

/* ---- syscalls ------------------------------------------------------ */
/* goc_syscall_begin/end are public; internal code uses them as well. */

#endif
