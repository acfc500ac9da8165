/*
 * cond.c - sync.Cond, on a ticket-based notify list (Go's
 * runtime/sema.go notifyList).
 *
 * A waiter takes a ticket (wait++) while it still holds the cond's lock,
 * then releases the lock, then queues itself with that ticket, unless the
 * ticket has been notified meanwhile. notify is the first ticket not yet
 * notified: signal advances it by one and wakes the waiter holding that
 * ticket if it has queued already (if not, it will see its ticket notified
 * and not park); broadcast advances it to wait and wakes everybody queued.
 * So a signal or broadcast that happens after a waiter released the lock
 * can never be missed, although the waiter may not be queued yet: that is
 * the "atomically unlock and wait" of the contract.
 *
 * Invariants:
 *  - Tickets compare modulo 2^32 (less() below): fewer than 2^31 waiters.
 *  - notify, head, tail and the queued waiters' links: c->lock. notify is
 *    atomic only so that the fast "nobody waits" check may read it.
 *  - Queued waiters are in ticket order (each queues after taking its
 *    ticket under the same lock L, but could queue out of order after
 *    releasing L; signal therefore searches the list for its ticket).
 */
#include "sync/sync_internal.h"

enum { COND_MUTEX = 0, COND_RLOCKER = 1 };

void goc_cond_init(goc_cond *c, goc_mutex *m)
{
    *c = (goc_cond){0};
    c->locker = m;
    c->kind = COND_MUTEX;
}

void goc_cond_init_rlocker(goc_cond *c, goc_rwmutex *rw)
{
    *c = (goc_cond){0};
    c->locker = rw;
    c->kind = COND_RLOCKER;
}

static void cond_lock(goc_cond *c)
{
    if (c->kind == COND_RLOCKER)
        goc_rwmutex_rlock(c->locker);
    else
        goc_mutex_lock(c->locker);
}

static void cond_unlock(goc_cond *c)
{
    if (c->kind == COND_RLOCKER)
        goc_rwmutex_runlock(c->locker);
    else
        goc_mutex_unlock(c->locker);
}

static bool less(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

void goc_cond_wait(goc_cond *c)
{
    goc__require_g("goc_cond_wait");
    if (c->locker == NULL)
        goc__fatal("goc_cond_wait: the cond has no lock (goc_cond_init)");
    uint32_t t = atomic_fetch_add(&c->wait, 1);
    cond_unlock(c);

    goc__spin_lock(&c->lock);
    if (less(t, atomic_load_explicit(&c->notify, memory_order_relaxed))) {
        /* Notified before we could queue. */
        goc__spin_unlock(&c->lock);
    } else {
        goc__waiter w = {0};
        w.g = goc__getg();
        w.obj = c;
        w.ticket = t;
        goc__waitlist_push(&c->head, &c->tail, &w, false);
        goc__park(goc__spin_park_unlock, &c->lock, "sync.Cond.Wait");
    }
    cond_lock(c);
}

void goc_cond_signal(goc_cond *c)
{
    /* Nobody has waited since the last notification: nothing to do. */
    if (atomic_load(&c->wait) == atomic_load(&c->notify))
        return;
    goc__spin_lock(&c->lock);
    uint32_t t = atomic_load_explicit(&c->notify, memory_order_relaxed);
    if (t == atomic_load(&c->wait)) {
        goc__spin_unlock(&c->lock);
        return;
    }
    atomic_store(&c->notify, t + 1);
    for (goc__waiter *w = c->head; w; w = w->next) {
        if ((uint32_t)w->ticket != t)
            continue;
        goc__waitlist_remove(&c->head, &c->tail, w);
        goc_g *g = w->g;
        goc__spin_unlock(&c->lock);
        goc__ready(g); /* w may be gone from here on */
        return;
    }
    /* The ticket's owner has not queued yet: it will see it notified. */
    goc__spin_unlock(&c->lock);
}

void goc_cond_broadcast(goc_cond *c)
{
    if (atomic_load(&c->wait) == atomic_load(&c->notify))
        return;
    goc__spin_lock(&c->lock);
    goc__waiter *w = c->head;
    c->head = c->tail = NULL;
    atomic_store(&c->notify, atomic_load(&c->wait));
    goc__spin_unlock(&c->lock);
    while (w) {
        goc__waiter *next = w->next; /* read before w can go */
        goc__ready(w->g);
        w = next;
    }
}
