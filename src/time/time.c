/*
 * time.c - timers, AfterFunc and tickers (Go 1.23's package time) on the
 * runtime's goc__timer.
 *
 * One struct serves all three: a runtime timer, a lock, and either a
 * channel of capacity 1 (timers, tickers) or a function (AfterFunc).
 * The runtime runs timer_fire() on a scheduler thread; it sends the time
 * without blocking (a full channel drops the value: a ticker's slow
 * receiver skips ticks) or starts the AfterFunc goroutine. A ticker is a
 * one-shot runtime timer that timer_fire re-arms from its deadline
 * (deadline + k * period, the first such point after now), so ticks stay
 * on the grid of the start time and never drift.
 *
 * No stale value after Stop/Reset (Go 1.23)
 * -----------------------------------------
 * The firing and Stop/Reset are serialised by t->lock. Stop and Reset
 * clear or rewrite the arming state (pending, when) and drain the channel
 * under that lock, and timer_fire delivers only if, under the same lock,
 * the timer is still pending and its current deadline has passed. So a
 * firing that the runtime had already taken out of its heap when Stop or
 * Reset ran (it races with them on another thread) is recognised as stale
 * and dropped, and a value delivered before the call is drained by it.
 * (If a Reset's new deadline has passed too, that firing stands for the
 * new one: the timer fires once, never early.)
 *
 * Lifetime
 * --------
 * The runtime may still call timer_fire for a firing it took out of the
 * heap just before goc_timer_free disarmed the timer. `outstanding` counts
 * the firings still to come: +1 per arming (goc__timer_add/mod), -1 when a
 * del/mod removes an arming from the heap (it will never fire), -1 when
 * timer_fire ends. goc_timer_free frees at once when it is 0, else leaves
 * the freeing to the last timer_fire. Without a runtime (after goc_main
 * returned) nothing can fire and free is immediate.
 *
 * Lock order: t->lock, then the lock of t->c, then the runtime's timer
 * heap lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "chan/chan_iface.h"
#include "goc/time.h"
#include "runtime/primitives.h"

struct goc_timer {
    goc__spinlock lock; /* protects every field below except rt */
    goc__timer rt;      /* the runtime's timer (its own locking) */
    goc_chan *c;        /* capacity 1, int64_t, in this block after the
                           struct; NULL for AfterFunc */
    void (*fn)(void *); /* AfterFunc: run in a new goroutine */
    void *arg;
    int64_t when;        /* deadline of the current arming */
    int64_t period;      /* ticker period; 0 for a timer */
    bool pending;        /* armed and not yet fired, stopped or reset */
    bool freed;          /* goc_*_free called: last firing frees */
    int32_t outstanding; /* firings to come, see "Lifetime" */
};

struct goc_ticker {
    struct goc_timer t;
};

/* Deadline for a duration from now (Go's when(d)): never in the past,
 * saturating instead of overflowing. */
static int64_t deadline(int64_t d)
{
    int64_t now = goc_nanotime();
    if (d <= 0)
        return now;
    if (d > INT64_MAX - now)
        return INT64_MAX;
    return now + d;
}

/* ---- timer blocks --------------------------------------------------- */

/*
 * A timer and its channel are one block. Blocks come from 2 MiB chunks
 * that the kernel may back with huge pages (MADV_HUGEPAGE), because the
 * first touch of fresh memory is a page fault: 100,000 timers from malloc
 * cost some 7,000 of them, a large share of each timer's creation
 * (bench/README.md, timers_100k; Go's heap
 * asks for huge pages too). Freed blocks go on a free list for the next
 * timer; chunks are kept for the life of the process, so the memory held
 * is that of the most timers alive at once, plus at most
 * TIMER_CHUNKS_READY_MAX chunks committed ahead (blocks_prefill). Under
 * the sanitizers and valgrind, plain malloc, so that they keep checking
 * every block.
 */
#if defined(GOC_ASAN) || defined(GOC_TSAN) || defined(GOC_VALGRIND)
#define TIMER_BLOCKS_MALLOC 1
#endif
#ifndef TIMER_BLOCKS_MALLOC
#define TIMER_CHUNK ((size_t)2 << 20)
#define TIMER_CHUNKS_READY_MAX 2 /* chunks committed ahead, at most */
#define TIMER_TOUCH_STRIDE 4096  /* one write per page of the smallest size */

/* On cache lines of their own: the creator writes `blocks` at every
 * timer while spinning threads poll blocks_wanted. */
static _Alignas(64) struct {
    pthread_mutex_t lock;
    void *free;       /* free blocks, linked through their first word */
    int nfree;        /* blocks on the free list */
    size_t size;      /* the block size, once known */
    char *next, *end; /* the unused rest of the newest chunk */
    char *ready[TIMER_CHUNKS_READY_MAX]; /* chunks mapped and committed */
    int nready;
} blocks = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Whether timers are being carved from fresh memory now: set by each
 * such carving, cleared by the idle work that commits chunks ahead. */
static _Alignas(64) _Atomic bool blocks_wanted;

/* Map a TIMER_CHUNK-aligned chunk (no lock needed); NULL on failure. */
static char *chunk_map(void)
{
    char *m = mmap(NULL, 2 * TIMER_CHUNK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)m + TIMER_CHUNK - 1) &
                       ~(uintptr_t)(TIMER_CHUNK - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    munmap(a + TIMER_CHUNK, (size_t)(m + 2 * TIMER_CHUNK - (a + TIMER_CHUNK)));
    (void)madvise(a, TIMER_CHUNK, MADV_HUGEPAGE); /* a hint */
    return a;
}

/* Start carving a new chunk (blocks.lock held): one committed ahead by an
 * idle thread if there is one, else a fresh mapping whose first touch
 * (by the caller's memset, after the lock) commits it. */
static bool blocks_grow(void)
{
    char *a = blocks.nready > 0 ? blocks.ready[--blocks.nready] : chunk_map();
    if (a == NULL)
        return false;
    blocks.next = a;
    blocks.end = a + TIMER_CHUNK;
    return true;
}
#endif

#ifndef TIMER_BLOCKS_MALLOC
/*
 * Idle work (goc__idle_work_register): while timers keep being carved
 * from fresh memory, a spinning scheduler thread maps the next chunks and
 * commits them (one write a page: a single huge-page fault where the
 * kernel grants one, which zeroes 2 MiB at once), so that the creator
 * and the idle CPU share the first-touch cost, a chunk each (timers_100k
 * at 2 processors). Carving itself stays with the creator: handing out
 * blocks made ahead left the chunk's first touch to whichever thread came
 * first, mostly the creator.
 */
static bool blocks_prefill(void)
{
    if (!atomic_load_explicit(&blocks_wanted, memory_order_relaxed))
        return false;
    atomic_store_explicit(&blocks_wanted, false, memory_order_relaxed);
    pthread_mutex_lock(&blocks.lock);
    bool room = blocks.nready < TIMER_CHUNKS_READY_MAX;
    pthread_mutex_unlock(&blocks.lock);
    if (!room)
        return false;
    char *a = chunk_map();
    if (a == NULL)
        return false;
    for (size_t off = 0; off < TIMER_CHUNK; off += TIMER_TOUCH_STRIDE)
        ((volatile char *)a)[off] = 0;
    pthread_mutex_lock(&blocks.lock);
    room = blocks.nready < TIMER_CHUNKS_READY_MAX;
    if (room)
        blocks.ready[blocks.nready++] = a;
    pthread_mutex_unlock(&blocks.lock);
    if (!room)
        munmap(a, TIMER_CHUNK);
    return room;
}
#endif

/* A block of `size` bytes (a multiple of 16, the same on every call),
 * 16-byte aligned; NULL when out of memory. */
static void *block_alloc(size_t size)
{
#ifdef TIMER_BLOCKS_MALLOC
    return aligned_alloc(16, size);
#else
    pthread_mutex_lock(&blocks.lock);
    void *b = blocks.free;
    bool fresh = false, first = false;
    if (b) {
        blocks.free = *(void **)b;
        blocks.nfree--;
    } else if ((size_t)(blocks.end - blocks.next) >= size || blocks_grow()) {
        b = blocks.next;
        blocks.next += size;
        fresh = true;
        if (blocks.size == 0) {
            blocks.size = size;
            first = true;
        }
    }
    pthread_mutex_unlock(&blocks.lock);
    if (first)
        goc__idle_work_register(blocks_prefill);
    if (fresh && !atomic_load_explicit(&blocks_wanted, memory_order_relaxed))
        atomic_store_explicit(&blocks_wanted, true, memory_order_relaxed);
    return b;
#endif
}

static void block_free(void *b)
{
#ifdef TIMER_BLOCKS_MALLOC
    free(b);
#else
    pthread_mutex_lock(&blocks.lock);
    *(void **)b = blocks.free;
    blocks.free = b;
    blocks.nfree++;
    pthread_mutex_unlock(&blocks.lock);
#endif
}

static void timer_destroy(goc_timer *t)
{
    block_free(t); /* the channel lives in the same block */
}

/* (Re-)arm at when. Lock held. */
static void timer_arm(goc_timer *t, int64_t when)
{
    t->when = when;
    t->pending = true;
    if (goc__timer_mod(&t->rt, when, 0))
        t->outstanding--; /* the previous arming will never fire */
    t->outstanding++;
}

/* Disarm. Lock held. */
static void timer_disarm(goc_timer *t)
{
    if (goc__timer_del(&t->rt))
        t->outstanding--;
    t->pending = false;
}

static void timer_fire(void *arg, uint64_t seq, int64_t now)
{
    (void)seq; /* staleness is judged by pending/when, see above */
    goc_timer *t = arg;
    void (*go_fn)(void *) = NULL;
    void *go_arg = NULL;

    goc__spinlock_acquire(&t->lock);
    t->outstanding--;
    if (t->pending && now >= t->when) {
        if (t->period > 0) {
            /* Next point of the grid after now; skipped ticks are lost. */
            int64_t missed = (now - t->when) / t->period + 1, next;
            if (__builtin_mul_overflow(missed, t->period, &next) ||
                __builtin_add_overflow(next, t->when, &next))
                next = INT64_MAX;
            timer_arm(t, next);
        } else {
            t->pending = false;
        }
        if (t->c != NULL) {
            (void)goc__chan_try_send(t->c, &now);
        } else {
            go_fn = t->fn;
            go_arg = t->arg;
        }
    }
    bool destroy = t->freed && t->outstanding == 0;
    goc__spinlock_release(&t->lock);
    /* t may be freed by its owner from here on, unless destroy. */
    if (destroy)
        timer_destroy(t);
    if (go_fn != NULL) {
        /* -EINVAL: goc_main is ending; the function would never run. */
        int err = goc_go(go_fn, go_arg);
        if (err < 0 && err != -EINVAL)
            goc__fatal("goc_after_func: cannot start a goroutine: %s",
                       goc_strerror(err));
    }
}

static goc_timer *timer_new(int64_t when, int64_t period, bool with_chan,
                            void (*fn)(void *), void *arg)
{
    /* One block: the timer, then (16-byte aligned) its channel. */
    size_t off = (sizeof(struct goc_ticker) + 15) & ~(size_t)15;
    /* Every block has room for the channel: one size for the free list. */
    size_t size = off + goc__chan_timer_size(sizeof(int64_t));
    goc_timer *t = block_alloc((size + 15) & ~(size_t)15);
    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(struct goc_ticker));
    if (with_chan)
        t->c = goc__chan_init_timer((char *)t + off, sizeof(int64_t));
    t->fn = fn;
    t->arg = arg;
    t->period = period;
    goc__timer_init(&t->rt, timer_fire, t);
    goc__spinlock_acquire(&t->lock);
    timer_arm(t, when);
    goc__spinlock_release(&t->lock);
    goc__timers_poll();
    return t;
}

/* Stop; true if an arming or an undelivered value was cancelled. */
static bool timer_stop(goc_timer *t)
{
    goc__spinlock_acquire(&t->lock);
    bool was = t->pending;
    timer_disarm(t);
    if (t->c != NULL && goc__chan_drain(t->c))
        was = true;
    goc__spinlock_release(&t->lock);
    goc__timers_poll();
    return was;
}

static bool timer_reset(goc_timer *t, int64_t d, int64_t period)
{
    goc__spinlock_acquire(&t->lock);
    bool was = t->pending;
    t->period = period;
    timer_arm(t, deadline(d));
    if (t->c != NULL && goc__chan_drain(t->c))
        was = true;
    goc__spinlock_release(&t->lock);
    goc__timers_poll();
    return was;
}

static void timer_free(goc_timer *t)
{
    goc__spinlock_acquire(&t->lock);
    timer_disarm(t);
    t->freed = true;
    /* No runtime, no firing to wait for (its heaps are gone). */
    bool now = t->outstanding == 0 || goc_num_goroutine() == 0;
    goc__spinlock_release(&t->lock);
    if (now)
        timer_destroy(t);
}

/* ---- timers --------------------------------------------------------- */

goc_timer *goc_timer_new(int64_t d)
{
    return timer_new(deadline(d), 0, true, NULL, NULL);
}

goc_timer *goc_after_func(int64_t d, void (*fn)(void *), void *arg)
{
    if (fn == NULL)
        goc_panic("goc_after_func: NULL function");
    return timer_new(deadline(d), 0, false, fn, arg);
}

goc_chan *goc_timer_chan(goc_timer *t)
{
    return t->c;
}

bool goc_timer_stop(goc_timer *t)
{
    return timer_stop(t);
}

bool goc_timer_reset(goc_timer *t, int64_t d)
{
    return timer_reset(t, d, 0);
}

void goc_timer_free(goc_timer *t)
{
    if (t != NULL)
        timer_free(t);
}

/* ---- tickers -------------------------------------------------------- */

goc_ticker *goc_ticker_new(int64_t d)
{
    if (d <= 0)
        goc_panic("non-positive interval for NewTicker");
    return (goc_ticker *)timer_new(deadline(d), d, true, NULL, NULL);
}

goc_chan *goc_ticker_chan(goc_ticker *t)
{
    return t->t.c;
}

void goc_ticker_stop(goc_ticker *t)
{
    (void)timer_stop(&t->t);
}

void goc_ticker_reset(goc_ticker *t, int64_t d)
{
    if (d <= 0)
        goc_panic("non-positive interval for Ticker.Reset");
    (void)timer_reset(&t->t, d, d);
}

void goc_ticker_free(goc_ticker *t)
{
    if (t != NULL)
        timer_free(&t->t);
}
