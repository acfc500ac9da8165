/*
 * primitives.h - the runtime's synchronisation primitives for the other
 * modules: one spinlock, one intrusive wait list, one semaphore (libdill's
 * list.h and Go's runtime/sema.go are the models). chan, time, sync,
 * netpoll and proc build on these; nobody rolls their own. Private to goc
 * (an internal interface header: see docs/design.md, Module boundaries).
 */
#ifndef GOC_RUNTIME_PRIMITIVES_H
#define GOC_RUNTIME_PRIMITIVES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "goc/sync.h" /* goc__sema: public so that it can be embedded */
#include "runtime/runtime_internal.h"

/* ---- spinlock ------------------------------------------------------ */

/*
 * A test-and-test-and-set spinlock (0 free, 1 held), valid when zeroed.
 * Uncontended it costs one atomic read-modify-write to lock and a plain
 * release store to unlock (a futex mutex needs a second read-modify-write
 * to unlock, to learn whether to wake a sleeper). Critical sections are a
 * few dozen instructions and never park, so a waiter spins on a plain
 * load (no cache-line ping-pong), then yields its thread (sched_yield) in
 * case the holder's was preempted. It may be released by another context
 * than the one that acquired it (goc__park's unlock function runs after
 * the switch, on whoever runs next), which is why it is not a pthread
 * mutex. ThreadSanitizer sees its acquire/release atomics.
 *
 * goc__spin_lock/unlock are the same lock on a bare word, for structs
 * that goc/sync.h makes public (a goc__sema, a goc_cond).
 */
typedef struct goc__spinlock {
    _Atomic uint32_t state; /* 0 unlocked, 1 locked */
} goc__spinlock;

void goc__spin_lock_slow(_Atomic uint32_t *w);

static inline void goc__spin_lock(_Atomic uint32_t *w)
{
    uint32_t unlocked = 0;
    /* Pairs with the release store in goc__spin_unlock. */
    if (goc_likely(atomic_compare_exchange_weak_explicit(
            w, &unlocked, 1, memory_order_acquire, memory_order_relaxed)))
        return;
    goc__spin_lock_slow(w);
}

static inline void goc__spin_unlock(_Atomic uint32_t *w)
{
    atomic_store_explicit(w, 0, memory_order_release);
}

static inline void goc__spinlock_acquire(goc__spinlock *l)
{
    goc__spin_lock(&l->state);
}

static inline void goc__spinlock_release(goc__spinlock *l)
{
    goc__spin_unlock(&l->state);
}

/* goc__park unlock function that releases a spinlock once the goroutine
 * is off its stack: arg is the goc__spinlock or the bare word. */
bool goc__spin_park_unlock(goc_g *g, void *arg);

/* ---- wait list ----------------------------------------------------- */

/*
 * An intrusive FIFO of goc__waiter records (on the waiting goroutines'
 * stacks), doubly linked through next/prev, as a head and a tail pointer
 * (fields of the owner's struct, which may be public). The owner's lock
 * protects both and every queued record's links. An unlinked record has
 * next == prev == NULL. Channels keep a variant of their own
 * (chan_internal.h): a lock-free emptiness test and select's claiming
 * dequeue.
 */
static inline void goc__waitlist_push(goc__waiter **head, goc__waiter **tail,
                                      goc__waiter *w, bool front)
{
    if (front) {
        w->prev = NULL;
        w->next = *head;
        if (*head)
            (*head)->prev = w;
        else
            *tail = w;
        *head = w;
    } else {
        w->next = NULL;
        w->prev = *tail;
        if (*tail)
            (*tail)->next = w;
        else
            *head = w;
        *tail = w;
    }
}

static inline void goc__waitlist_remove(goc__waiter **head, goc__waiter **tail,
                                        goc__waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        *head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        *tail = w->prev;
    w->next = w->prev = NULL;
}

/* The first record, unlinked, or NULL. */
static inline goc__waiter *goc__waitlist_pop(goc__waiter **head,
                                             goc__waiter **tail)
{
    goc__waiter *w = *head;
    if (w)
        goc__waitlist_remove(head, tail, w);
    return w;
}

/* ---- semaphore (Go's runtime_Semacquire/Semrelease) ----------------- */

/*
 * A goc__sema (goc/sync.h) is a count plus its own queue of parked
 * goroutines (a spinlock and a wait list): zeroed means valid, no global
 * state. primitives.c has its invariants.
 *
 * acquire: wait until count > 0 and decrement it. lifo queues the caller
 * at the head instead of the tail (a mutex waiter that was woken and lost
 * the race goes back to the front). `reason` is the park reason shown in
 * diagnostics ("sync.Mutex.Lock"...); `caller` names the public call in
 * the fatal error when a plain thread would have to wait.
 * tryacquire: decrement count if > 0, without waiting; true if it did.
 * Any thread.
 * release: increment count and wake the first waiter, if any. With
 * handoff, the count is taken on that waiter's behalf, so that nobody
 * else can steal it, and the caller yields to it (Go's direct hand-off in
 * starvation mode). Any thread.
 */
void goc__sema_acquire(goc__sema *s, bool lifo, const char *reason,
                       const char *caller);
bool goc__sema_tryacquire(goc__sema *s);
void goc__sema_release(goc__sema *s, bool handoff);

#endif
