/*
 * epoch.c - epoch-based reclamation for the concurrent map.
 *
 * How it works. A global epoch counter E. Each thread has a record whose
 * state says "outside" (0) or "inside a read section entered when E was
 * e" ((e << 1) | 1). A writer that unlinks a node retires it: the node
 * goes to the writer's limbo list tagged with the E it read after the
 * unlink. Any thread may advance E from e to e + 1, but only when every
 * record inside a section announces e itself. So while a reader that
 * entered at e is inside, E stays <= e + 1; a node retired with tag t is
 * freed once E >= t + 2, i.e. only when every reader inside entered at
 * t + 1 or later, after the unlink: none of them can reach the node.
 *
 * Why a record per thread and not per goroutine: sections never span a
 * park (the map's calls never park), so a goroutine inside a section is
 * on one thread for the whole section. Records register lazily on a
 * thread's first call (a __thread pointer for speed, a pthread key whose
 * destructor gives the record up at thread exit), so plain threads and
 * the runtime's threads need no registration call. Records are never
 * freed: a record given up is adopted by the next new thread, with its
 * limbo list (a thread that exits with retired items leaves them to its
 * successor, or to the end of the process).
 *
 * Limits: a thread that stays inside a section forever would stop
 * reclamation (the map's sections are a few hundred nanoseconds); the
 * registry is a list scanned by each advance, as long as the number of
 * threads that ever ran at once. Rejected: quiescent-state reclamation
 * from the scheduler (plain threads have no scheduler to report their
 * quiescent states) and reference counts or hazard pointers (each read
 * would write shared memory or pay a fence per node).
 *
 * Invariants: a retired item is freed exactly once, by its record's
 * owner, after E >= tag + 2. Lock order: none (lock-free).
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmap/cmap_internal.h"

/* Items per limbo chunk; a thread reclaims after this many retirements. */
#define EBR_CHUNK 94
#define EBR_RECLAIM_AT 128

typedef struct goc__ebr_chunk {
    struct goc__ebr_chunk *next;
    size_t n; /* items used */
    struct {
        void *p;
        void (*fn)(void *);
        uint64_t tag;
        size_t weight;
    } item[EBR_CHUNK];
} goc__ebr_chunk;

_Atomic uint64_t goc__ebr_epoch = 1;
int goc__ebr_asym;

/* The registry: a push-only list of every record ever made. */
static goc__ebr_rec *_Atomic ebr_head;
static pthread_key_t ebr_key;
static pthread_once_t ebr_key_once = PTHREAD_ONCE_INIT;
__thread goc__ebr_rec *goc__ebr_mine;

/* membarrier failed: a child of fork() has a new address space that was
 * never registered. Register it and retry; without the barrier readers
 * would be unprotected, so a second failure is fatal. */
static void ebr_membarrier_again(void)
{
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
                0) != 0 ||
        syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        abort();
}

/* Advance E if every thread inside a section announces the current E.
 * Answers the epoch as it is after the attempt. */
static uint64_t ebr_try_advance(void)
{
    uint64_t e = atomic_load_explicit(&goc__ebr_epoch, memory_order_seq_cst);
    /* Readers entered with a plain store: a barrier on each of this
     * process's running threads makes their announcements visible (or
     * orders their section's loads after everything before this call). */
    if (goc__ebr_asym &&
        syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        ebr_membarrier_again();
    for (goc__ebr_rec *r =
             atomic_load_explicit(&ebr_head, memory_order_acquire);
         r != NULL; r = r->next) {
        /* Acquire pairs with goc__ebr_leave's release (and the enter's
         * exchange): what the reader read happens before what we free. */
        uint64_t s = atomic_load_explicit(&r->state, memory_order_acquire);
        if ((s & 1) && (s >> 1) != e)
            return e;
    }
    if (atomic_compare_exchange_strong_explicit(&goc__ebr_epoch, &e, e + 1,
                                                memory_order_seq_cst,
                                                memory_order_seq_cst))
        return e + 1;
    return e; /* another thread advanced: e now holds its value */
}

/* Free r's items whose grace period is over (tag + 2 <= e). */
static void ebr_free_old(goc__ebr_rec *r, uint64_t e)
{
    goc__ebr_chunk *c;
    while ((c = r->limbo_head) != NULL) {
        size_t i = 0;
        /* Tags are non-decreasing along the list: stop at the first
         * item still in its grace period. */
        while (i < c->n && c->item[i].tag + 2 <= e) {
            c->item[i].fn(c->item[i].p);
            r->pending -= c->item[i].weight;
            i++;
        }
        if (i < c->n) {
            /* Keep the rest: slide it to the front of the chunk. */
            size_t k = 0;
            for (; i < c->n; i++, k++)
                c->item[k] = c->item[i];
            c->n = k;
            return;
        }
        r->limbo_head = c->next;
        if (r->limbo_head == NULL)
            r->limbo_tail = NULL;
        free(c);
    }
}

void goc__ebr_reclaim(goc__ebr_rec *r)
{
    uint64_t e = ebr_try_advance();
    ebr_free_old(r, e);
}

/* Wait, outside any section, until what is retired now can be freed. */
static void ebr_synchronize(void)
{
    uint64_t t = atomic_load_explicit(&goc__ebr_epoch, memory_order_seq_cst);
    while (ebr_try_advance() < t + 2)
        sched_yield();
}

void goc__ebr_retire(goc__ebr_rec *r, void *p, void (*fn)(void *),
                     size_t weight)
{
    /* Read after the unlink: a reader that can still see p entered at
     * this epoch or before. The fence keeps the load from passing the
     * unlinking store (a store-load reordering x86 allows). */
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t tag = atomic_load_explicit(&goc__ebr_epoch, memory_order_seq_cst);
    goc__ebr_chunk *c = r != NULL ? r->limbo_tail : NULL;
    if (r != NULL && (c == NULL || c->n == EBR_CHUNK)) {
        goc__ebr_chunk *nc = malloc(sizeof(*nc));
        if (nc != NULL) {
            nc->next = NULL;
            nc->n = 0;
            if (c != NULL)
                c->next = nc;
            else
                r->limbo_head = nc;
            r->limbo_tail = nc;
        }
        c = nc;
    }
    if (c == NULL) {
        /* No record or no memory for the list: wait out the grace period
         * here and free at once. */
        ebr_synchronize();
        fn(p);
        return;
    }
    c->item[c->n].p = p;
    c->item[c->n].fn = fn;
    c->item[c->n].tag = tag;
    c->item[c->n].weight = weight;
    c->n++;
    r->pending += weight;
    if (r->pending >= EBR_RECLAIM_AT)
        goc__ebr_reclaim(r);
}

/* Thread exit: leave the record to the next thread, after freeing what can
 * be freed now. */
static void ebr_thread_exit(void *arg)
{
    goc__ebr_rec *r = arg;
    atomic_store_explicit(&r->state, 0, memory_order_release);
    for (int i = 0; i < 3 && r->pending > 0; i++)
        goc__ebr_reclaim(r);
    goc__ebr_mine = NULL;
    /* Release: the next owner sees the limbo list as we left it. */
    atomic_store_explicit(&r->in_use, 0, memory_order_release);
}

static void ebr_make_key(void)
{
    if (pthread_key_create(&ebr_key, ebr_thread_exit) != 0)
        abort(); /* out of keys at start-up: nothing sensible to do */
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
    /* Asymmetric barriers when the kernel has them (Linux 4.14). Not in
     * sanitizer builds: ThreadSanitizer cannot see a membarrier, and the
     * exchange gives it the happens-before edge it checks. */
    long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
        syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
                0) == 0)
        goc__ebr_asym = 1;
#endif
}

__attribute__((noinline)) goc__ebr_rec *goc__ebr_self(void)
{
    goc__ebr_rec *r = goc__ebr_mine;
    if (r != NULL)
        return r;
    pthread_once(&ebr_key_once, ebr_make_key);
    /* Adopt a record given up by a thread that exited... */
    for (r = atomic_load_explicit(&ebr_head, memory_order_acquire); r != NULL;
         r = r->next) {
        int free_ = 0;
        if (atomic_load_explicit(&r->in_use, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&r->in_use, &free_, 1,
                                                    memory_order_acquire,
                                                    memory_order_relaxed))
            break;
    }
    /* ...or make one. */
    if (r == NULL) {
        void *mem = NULL;
        if (posix_memalign(&mem, 64, sizeof(goc__ebr_rec)) != 0)
            return NULL;
        r = mem;
        atomic_init(&r->state, 0);
        atomic_init(&r->in_use, 1);
        r->limbo_head = r->limbo_tail = NULL;
        r->pending = 0;
        r->next = atomic_load_explicit(&ebr_head, memory_order_relaxed);
        /* Release: a scanner that finds r sees it initialised. */
        while (!atomic_compare_exchange_weak_explicit(
            &ebr_head, &r->next, r, memory_order_release, memory_order_relaxed))
            ;
    }
    if (pthread_setspecific(ebr_key, r) != 0) {
        atomic_store_explicit(&r->in_use, 0, memory_order_release);
        return NULL;
    }
    goc__ebr_mine = r;
    return r;
}
