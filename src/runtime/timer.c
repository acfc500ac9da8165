/*
 * timer.c - per-processor timer heaps (4-ary min-heaps on `when`).
 *
 * Each processor owns a heap with its own lock, so timer-heavy programs
 * never serialise on one global lock. A timer is added to the heap of the
 * processor the caller runs on. Expired timers are run by whichever
 * scheduler thread looks first: the owner in schedule(), or an idle
 * thread in find_runnable() (so that a processor whose goroutine never
 * yields still has its timers fired by another thread).
 *
 * Invariants (under h->lock): a[i]->heap == h and a[i]->index == i for
 * i < n; h->next == a[0].when == a[0].t->when, or 0 when n == 0 (read racily as
 * a hint). A timer's fn runs with no lock held; t->heap is NULL (or points to
 * its heap again, re-armed, for a periodic timer) while it runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdlib.h>

#include "runtime/sched.h"

/* A heap slot keeps its timer's deadline next to the pointer, so that
 * sifting compares slots of one array instead of chasing a pointer per
 * comparison into timers spread over memory (cache misses, with 100k). */
typedef struct heap_slot {
    int64_t when;
    goc__timer *t;
} heap_slot;

struct goc__timer_heap {
    pthread_mutex_t lock;
    heap_slot *a;
    int32_t n, cap;
    _Atomic int64_t next; /* earliest deadline, 0 if empty */
};

goc__timer_heap *goc__timer_heap_new(void)
{
    goc__timer_heap *h = calloc(1, sizeof *h);
    if (h) {
        /* Held for a few hundred ns at most: on contention, spinning a
         * little beats the futex sleep and wake-up (microseconds each). */
        pthread_mutexattr_t attr;
        pthread_mutexattr_init(&attr);
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
        pthread_mutex_init(&h->lock, &attr);
        pthread_mutexattr_destroy(&attr);
    }
    return h;
}

void goc__timer_heap_free(goc__timer_heap *h)
{
    if (!h)
        return;
    for (int32_t i = 0; i < h->n; i++)
        atomic_store_explicit(&h->a[i].t->heap, NULL, memory_order_relaxed);
    pthread_mutex_destroy(&h->lock);
    free(h->a);
    free(h);
}

static void heap_set(goc__timer_heap *h, int32_t i, heap_slot s)
{
    h->a[i] = s;
    s.t->index = i;
}

static void sift_up(goc__timer_heap *h, int32_t i)
{
    heap_slot s = h->a[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 4;
        if (h->a[parent].when <= s.when)
            break;
        heap_set(h, i, h->a[parent]);
        i = parent;
    }
    heap_set(h, i, s);
}

static void sift_down(goc__timer_heap *h, int32_t i)
{
    heap_slot s = h->a[i];
    for (;;) {
        int32_t c = 4 * i + 1;
        if (c >= h->n)
            break;
        int32_t best = c;
        int32_t end = c + 4 < h->n ? c + 4 : h->n;
        for (int32_t k = c + 1; k < end; k++)
            if (h->a[k].when < h->a[best].when)
                best = k;
        if (h->a[best].when >= s.when)
            break;
        heap_set(h, i, h->a[best]);
        i = best;
    }
    heap_set(h, i, s);
}

static void update_next(goc__timer_heap *h)
{
    atomic_store_explicit(&h->next, h->n ? h->a[0].when : 0,
                          memory_order_release);
}

/* Returns false only when out of memory. */
static bool heap_push(goc__timer_heap *h, goc__timer *t)
{
    if (h->n == h->cap) {
        int32_t cap = h->cap ? h->cap * 2 : 64;
        heap_slot *a = realloc(h->a, (size_t)cap * sizeof *a);
        if (!a)
            return false;
        h->a = a;
        h->cap = cap;
    }
    heap_set(h, h->n++, (heap_slot){t->when, t});
    sift_up(h, h->n - 1);
    atomic_store_explicit(&t->heap, h, memory_order_release);
    return true;
}

static void heap_remove(goc__timer_heap *h, int32_t i)
{
    goc__timer *t = h->a[i].t;
    h->n--;
    if (i != h->n) {
        heap_set(h, i, h->a[h->n]);
        sift_down(h, i);
        sift_up(h, h->a[i].t->index);
    }
    atomic_store_explicit(&t->heap, NULL, memory_order_release);
}

void goc__timer_init(goc__timer *t, goc__timer_fn fn, void *arg)
{
    t->when = 0;
    t->period = 0;
    t->fn = fn;
    t->arg = arg;
    atomic_init(&t->heap, NULL);
    t->index = -1;
    atomic_init(&t->seq, 0);
}

static goc__timer_heap *current_heap(void)
{
    goc_m *m = goc__getm();
    goc_p *p = m ? (m->p ? m->p : m->syscall_p) : NULL;
    if (!p)
        p = goc__sc.allp[0];
    return p->timers;
}

void goc__timer_add(goc__timer *t, int64_t when, int64_t period)
{
    goc__timer_heap *h = current_heap();
    pthread_mutex_lock(&h->lock);
    t->when = when;
    t->period = period;
    if (!heap_push(h, t)) {
        pthread_mutex_unlock(&h->lock);
        goc__fatal("out of memory adding a timer");
    }
    bool earliest = h->a[0].t == t;
    if (earliest)
        update_next(h);
    pthread_mutex_unlock(&h->lock);
    if (earliest)
        goc__netpoll_timer_added(when);
}

bool goc__timer_del(goc__timer *t)
{
    atomic_fetch_add_explicit(&t->seq, 1, memory_order_acq_rel);
    for (;;) {
        goc__timer_heap *h =
            atomic_load_explicit(&t->heap, memory_order_acquire);
        if (!h)
            return false;
        pthread_mutex_lock(&h->lock);
        if (atomic_load_explicit(&t->heap, memory_order_relaxed) == h) {
            heap_remove(h, t->index);
            update_next(h);
            pthread_mutex_unlock(&h->lock);
            return true;
        }
        pthread_mutex_unlock(&h->lock);
    }
}

bool goc__timer_mod(goc__timer *t, int64_t when, int64_t period)
{
    bool was = goc__timer_del(t);
    goc__timer_add(t, when, period);
    return was;
}

int64_t goc__timers_next(goc_p *p)
{
    return atomic_load_explicit(&p->timers->next, memory_order_acquire);
}

int64_t goc__timers_earliest(void)
{
    int64_t earliest = 0;
    int32_t n = atomic_load(&goc__sc.nprocs_alloc);
    for (int32_t i = 0; i < n; i++) {
        int64_t w = goc__timers_next(goc__sc.allp[i]);
        if (w && (!earliest || w < earliest))
            earliest = w;
    }
    return earliest;
}

int64_t goc__timers_run(goc_p *p, int64_t now)
{
    goc__timer_heap *h = p->timers;
    int64_t next = atomic_load_explicit(&h->next, memory_order_acquire);
    if (next == 0 || next > now)
        return next;
    pthread_mutex_lock(&h->lock);
    while (h->n > 0 && h->a[0].when <= now) {
        goc__timer *t = h->a[0].t;
        uint64_t seq = atomic_load_explicit(&t->seq, memory_order_acquire);
        goc__timer_fn fn = t->fn;
        void *arg = t->arg;
        if (t->period > 0) {
            /* Re-arm from the deadline, skipping missed periods, so a
             * periodic timer never drifts. */
            int64_t missed = (now - t->when) / t->period + 1;
            t->when += missed * t->period;
            h->a[0].when = t->when;
            sift_down(h, 0);
        } else {
            heap_remove(h, 0);
        }
        update_next(h);
        pthread_mutex_unlock(&h->lock);
        fn(arg, seq, now);
        pthread_mutex_lock(&h->lock);
    }
    next = h->n ? h->a[0].when : 0;
    pthread_mutex_unlock(&h->lock);
    return next;
}

void goc__timers_poll(void)
{
    goc_m *m = goc__getm();
    goc_p *p = m ? m->p : NULL;
    if (!p || !m->curg)
        return;
    /* A clock read every 8th call keeps this to a few loads. */
    if (++p->timer_polls % 8 != 0 || goc__timers_next(p) == 0)
        return;
    goc__timers_run(p, goc_nanotime());
}
