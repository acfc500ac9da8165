/*
 * cmap_internal.h - what the concurrent map's files share: epoch-based
 * reclamation (epoch.c) and the allocation hook the tests use to make
 * allocations fail. Private.
 *
 * Epochs in one paragraph (epoch.c has the essay): a thread reading shared
 * nodes brackets the read with goc__ebr_enter / goc__ebr_leave, which
 * publish "inside since epoch e" in the thread's own record (its own cache
 * line). A writer that unlinks a node hands it to goc__ebr_retire instead
 * of freeing it; the node is freed once the global epoch has advanced
 * twice past the epoch it was retired in, which cannot happen while any
 * thread is still inside a section entered before the unlink. A section
 * must not span a park (goroutines migrate between threads): the map's
 * calls never park, so each enters and leaves within one call.
 */
#ifndef GOC_CMAP_INTERNAL_H
#define GOC_CMAP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One thread's epoch record. Records are created on a thread's first map
 * call, linked into a global registry for good, and adopted again by
 * later threads once their thread exits (a pthread key destructor frees
 * them for adoption).
 */
typedef struct goc__ebr_rec {
    /* (epoch << 1) | 1 while the owner is inside a section, 0 outside.
     * Written by the owner only; read by every thread advancing the
     * epoch. Alone on its cache line. */
    _Atomic uint64_t state;
    char pad_[56];
    /* 1 while a thread owns the record (CAS 0 -> 1 to adopt). */
    _Atomic int in_use;
    /* Registry link: immutable once the record is published. */
    struct goc__ebr_rec *next;
    /* Retired items not yet freed, oldest first, and their count: the
     * owner's only (an adopter inherits them). */
    struct goc__ebr_chunk *limbo_head;
    struct goc__ebr_chunk *limbo_tail;
    size_t pending;
} goc__ebr_rec;

/* The global epoch, advanced by goc__ebr_reclaim. */
extern _Atomic uint64_t goc__ebr_epoch;

/* The calling thread's record, registering one on first use; NULL only if
 * memory for a record cannot be had (callers then fall back to locks).
 * Not inlined on purpose: a goroutine may move to another thread between
 * two map calls, and the compiler must not keep a thread-local address
 * across them. */
goc__ebr_rec *goc__ebr_self(void);

/* The calling thread's record if it has one, else NULL (epoch.c). */
extern __thread goc__ebr_rec *goc__ebr_mine
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
/* Never written: see goc__thread_token (runtime/runtime_internal.h). */
struct goc__tls_epoch;
extern struct goc__tls_epoch goc__tls_epoch
    __attribute__((visibility("hidden")));

/* goc__ebr_self without a call once the thread has its record. Like the
 * runtime's goc__thread_token, the load of the thread-local pointer is an
 * asm whose only input is goc__tls_epoch, which the compiler must assume
 * any call it cannot see into may write: the pointer is never reused
 * across a call that could switch threads, even if a map call were
 * inlined into a goroutine's code. Each map call reads it once. */
static inline goc__ebr_rec *goc__ebr_cur(void)
{
#if defined(__x86_64__)
    goc__ebr_rec *r;
    __asm__("movq goc__ebr_mine@gottpoff(%%rip), %0\n\t"
            "movq %%fs:(%0), %0"
            : "=r"(r)
            : "m"(goc__tls_epoch));
    if (__builtin_expect(r != NULL, 1))
        return r;
#endif
    return goc__ebr_self();
}

/* 1 when the kernel's membarrier (private expedited) is registered: the
 * advancer then issues the barrier on every thread's behalf, and entering
 * a section is a plain store. Set once, before the first record exists. */
extern int goc__ebr_asym;

static inline void goc__ebr_enter(goc__ebr_rec *r)
{
    /* Acquire: the loads of the section come after this one, which may
     * read an advance that followed an unlink. */
    uint64_t e = atomic_load_explicit(&goc__ebr_epoch, memory_order_acquire);
    if (goc__ebr_asym) {
        /* The announcement must be visible before the loads that follow
         * it are; the advancer's membarrier() (ebr_try_advance) forces a
         * full barrier on this thread before it reads the records, so
         * only the compiler needs stopping here. This keeps the fence off
         * the read path: consecutive reads overlap their cache misses. */
        atomic_store_explicit(&r->state, (e << 1) | 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);
    } else {
        /* A full barrier (xchg), for the same reason. Pairs with the
         * acquire load of state in ebr_try_advance. */
        atomic_exchange_explicit(&r->state, (e << 1) | 1, memory_order_seq_cst);
    }
}

static inline void goc__ebr_leave(goc__ebr_rec *r)
{
    /* Release: every read of this section happens before an advancer that
     * sees 0 frees what was read. Pairs with ebr_try_advance's acquire. */
    atomic_store_explicit(&r->state, 0, memory_order_release);
}

/* Hand p to be freed by fn(p) once no section that could have seen it is
 * left. weight is what freeing it gives back, in entries (1 for a node, a
 * table's node count for a table): a thread reclaims once its pending
 * weight reaches a bound, so big items go back soon. The caller is
 * outside any section. r may be NULL (no record): the call then waits for
 * the grace period itself. */
void goc__ebr_retire(goc__ebr_rec *r, void *p, void (*fn)(void *),
                     size_t weight);

/* Try to advance the epoch and free what r's limbo list allows. */
void goc__ebr_reclaim(goc__ebr_rec *r);

/* Reclaim if r holds retired weight past the bound: writers call it after
 * each change, so that a big retired table does not wait for the next
 * retirement. */
static inline void goc__ebr_poll(goc__ebr_rec *r)
{
    if (r != NULL && r->pending >= 128)
        goc__ebr_reclaim(r);
}

/* ---- allocation hook (tests) ---------------------------------------- */

/* -1: allocations never fail (the default). n >= 0: the next n map
 * allocations succeed, every later one fails, until reset to -1. */
extern _Atomic long goc__cmap_fail_after;

/* Called (when set) by a writer in the middle of a segment's rebuild, with
 * the segment locked and both tables reachable: a test holds the rebuild
 * there and checks that readers go on. */
extern void (*_Atomic goc__cmap_rebuild_hook)(void);

/* goc_cmap_get whose first lock-free probe calls hook(arg, phase, meta,
 * k0) at each slot it visits: phase 0 after reading the slot's meta,
 * phase 1 for a slot that matches the key's hash, after reading its key
 * words and before reading its value and validating. meta and k0 (the
 * first key word) tell the test which key it met. A test makes writes
 * there (from the same thread) that a concurrent writer could make. */
struct goc_cmap;
bool goc__cmap_get_hooked(struct goc_cmap *m, const void *key, size_t klen,
                          void **value,
                          void (*hook)(void *, int, uint64_t, uint64_t),
                          void *arg);

#endif
