/*
 * stack.c - goroutine stacks, each with its G at the top.
 *
 * A G lives at the high end of its own stack mapping, so creating a
 * goroutine is one allocation and a parked goroutine costs only the stack
 * pages it touched (one 4 KiB page at shallow depth): every mapping is
 * MAP_NORESERVE and committed lazily by the kernel.
 *
 * Three kinds of stack:
 *  - GUARDED: one mapping per stack with a guard page below it. An
 *    overflow faults on the guard; the SIGSEGV handler (panic.c, on a
 *    per-thread sigaltstack) reports it. At most GOC_GUARDED_STACKS_MAX
 *    are live at once (vm.max_map_count).
 *  - SLAB: past that bound, default-size stacks are carved GOC_SLAB_STACKS
 *    at a time from one mapping, so a million goroutines need ~16k maps.
 *  - CUSTOM: goc_go_stack with a non-default size: guarded, never cached.
 *
 * Guard pages, detected once at start-up (goc__stack_guard_regions):
 *  - Linux 6.13+: madvise(MADV_GUARD_INSTALL) makes a page fault on any
 *    access without splitting the mapping (no extra kernel map). Every
 *    stack gets one, GUARDED and SLAB alike (the lowest page of each slab
 *    slot); guards survive MADV_DONTNEED/FREE. Any overflow that touches
 *    the guard page is fatal, whether or not it returns before a switch.
 *  - Otherwise (or GOC_STACK_GUARDS=mprotect): GUARDED stacks get a
 *    PROT_NONE page (2 maps each); SLAB stacks have none. For them, at
 *    every switch (goc__stack_check), the stack pointer is checked
 *    against the bounds and the canary in the last word of the slot below
 *    (just under this stack) must be intact: an overflow still under way
 *    at a switch, or one that returned but ran over the canary, is fatal
 *    there. One that skipped the canary, or wrote it with zeros, may
 *    still have silently overwritten the G of the slot below, and the
 *    damage may act before the overflowing goroutine's next switch.
 *  In both, one frame larger than the guard page can jump it.
 *
 * Dead default-size Gs are cached per processor (owner only, no lock) and
 * in a global cache (stack_lock), so spawn+exit costs no system call in
 * steady state. Past both bounds they are retired: a thread about to go
 * idle unmaps guarded mappings and returns slab stacks to their slab (a
 * slab whose stacks are all free is unmapped, giving its pages back).
 *
 * Locking rule: no system call and no first touch of a fresh page happens
 * under stack_lock. Both take tens of microseconds on a VM (a first touch
 * measured 18-28 us here); an exiting goroutine that finds the lock held
 * sleeps on it, and the spawner re-taking it at once starved such exits
 * for hundreds of milliseconds (sleep_100k). Work that needs the kernel is
 * unlinked under the lock and done after it (unmap_list).
 *
 * Invariants: every GUARDED/CUSTOM mapping is on the registry list
 * (all_next/all_prev) and every slab on the slab list, both under
 * stack_lock, so that goc_main's shutdown frees everything, including the
 * stacks of goroutines that were still parked.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runtime/sched.h"

/* The G, then (the last word of a slot) the slot canary. */
#define G_RESERVED (((sizeof(goc_g) + 8 + 63) / 64) * 64)
/* Without guard regions, slab stacks have no guard: the last word of
 * each slot holds this, and the switch check of the slot above looks at
 * it (an overflow that returned before its switch runs over it first). */
#define SLOT_CANARY 0x676f632d736c6f74ull

typedef struct goc__slab {
    char *base; /* mapping of GOC_SLAB_STACKS * stride bytes */
    size_t stride;
    int nfree; /* stacks not handed out */
    uint16_t free_idx[GOC_SLAB_STACKS];
    struct goc__slab *next, *prev;   /* all slabs */
    struct goc__slab *pnext, *pprev; /* slabs with a free stack */
    bool on_partial;
} goc__slab;

/* Protected by stack_lock. */
static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static goc_g *registry;    /* GUARDED and CUSTOM mappings */
static goc__slab *slabs;   /* every slab */
static goc__slab *partial; /* slabs with at least one free stack */
/* Cached dead default-size Gs, an array rather than a list through the
 * Gs: moving a batch between a processor and here then copies pointers
 * and never touches the Gs, which are cold in this core's cache (a list
 * walk cost one cache miss per G, ~100 ns across cores). */
static goc_g *gfree_global[GOC_GFREE_GLOBAL_MAX];
static int gfree_global_n;
/* Cached Gs whose stack pages were given back (scavenged): used after the
 * warm ones, before retired ones. gfree_global_n + gfree_cold_n stays at
 * most GOC_GFREE_GLOBAL_MAX. gfree_global_low: the fewest warm Gs the
 * global cache held since the last scavenge pass; the bottom ones, which
 * nobody took in that period, are the surplus it gives back. */
static goc_g *gfree_cold[GOC_GFREE_GLOBAL_MAX];
static int gfree_cold_n;
static int gfree_global_low;
/* Set (under the lock) when the global cache grew past its warm set,
 * cleared by the scavenger once it is back: read without the lock by
 * sysmon and by every processor going idle. */
static _Atomic bool scavenge_hint;
/* Set by a processor that went idle with more than its warm set cached
 * but had trimmed too recently to trim again; cleared by sysmon, which
 * then trims idle processors itself (goc__stacks_trim_idle). Without it
 * a server that goes idle right after a burst kept up to
 * GOC_GFREE_LOCAL_MAX touched stacks per processor for good. */
static _Atomic bool local_trim_pending;
static int guarded_live; /* GUARDED stacks mapped or being mapped */
static goc_g *retired;   /* dead Gs waiting to be released */
/* New stacks idle threads may make ahead of demand (goc__stacks_prefill_
 * some): raised by each spawn that had to make one itself. */
static _Atomic int prefill_wanted;
static _Atomic int retired_n; /* written under the lock, read racily */

static inline void scavenge_hint_update_locked(void);

/* Mappings unlinked under stack_lock, to be unmapped after it: dead
 * guarded Gs chained through schedlink, empty slabs through next. */
typedef struct unmap_list {
    goc_g *gs;
    goc__slab *slabs;
} unmap_list;

static void retire_locked(goc_g *g, unmap_list *ul);
_Static_assert(GOC_STACKS_PREFILL_BATCH <= GOC_STACKS_NEW_BATCH,
               "the prefill makes its batch in one go");

/* Slab of a SLAB g: kept in the otherwise unused all_prev field. */
#define G_SLAB(g) ((goc__slab *)(g)->all_prev)

static void g_init_at(goc_g *g, char *map_lo, size_t map_len, char *lo,
                      int kind)
{
    memset(g, 0, sizeof *g);
    g->map_lo = map_lo;
    g->map_len = map_len;
    g->stack_lo = lo;
    g->stack_hi = (char *)g;
    g->stack_kind = kind;
    goc__san_fiber_create(&g->san, lo, (size_t)(g->stack_hi - lo));
}

/* Guard regions inside a mapping (Linux 6.13+): a range that faults on
 * any access, at no extra kernel map (see the top of this file). */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static bool guard_regions; /* set once by guard_detect */

/* Whether the kernel installs guard regions: tried once on a scratch
 * mapping. GOC_STACK_GUARDS=mprotect in the environment forces the older
 * scheme (to test it, or for tools that do not know the call). */
static void guard_detect(void)
{
    const char *env = getenv("GOC_STACK_GUARDS");
    if (env && strcmp(env, "mprotect") == 0)
        return;
    if (env && *env && strcmp(env, "auto") != 0)
        goc__fatal("GOC_STACK_GUARDS=%s: unknown (auto or mprotect)", env);
    char *b = mmap(NULL, 2 * GOC_PAGE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (b == MAP_FAILED)
        return;
    guard_regions = madvise(b, GOC_PAGE_SIZE, MADV_GUARD_INSTALL) == 0;
    munmap(b, 2 * GOC_PAGE_SIZE);
}

bool goc__stack_guard_regions(void)
{
    pthread_once(&guard_once, guard_detect);
    return guard_regions;
}

/* Committing pages before their first use (issue 27).
 *
 * A first touch of a fresh anonymous page is a page fault, and on these
 * VMs (shadow paging) a costly one: ~20 us of CPU, where
 * madvise(MADV_POPULATE_WRITE) commits the same page in ~3 us (~1 us a
 * page over a dense range). The guest kernel fills the page through its
 * own mapping, so the first access through the user mapping still traps
 * to the hypervisor once (~6-15 us, no guest fault): committing cuts a
 * new stack's cost by about a third, it does not remove it. Linux 5.14+;
 * on EINVAL or ENOSYS (an older kernel, detected once) we write a byte a
 * page instead, which costs the fault but still pays it here, where it
 * was decided. Other errors (ENOMEM, EINTR) leave the pages to fault on
 * first use. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* 0: not tried yet, 1: works, -1: not supported (touch instead). */
static _Atomic int populate_state;

void goc__mem_commit(void *addr, size_t len)
{
    int st = atomic_load_explicit(&populate_state, memory_order_relaxed);
    if (st >= 0) {
        int saved = errno;
        int rc = madvise(addr, len, MADV_POPULATE_WRITE);
        int err = errno;
        errno = saved;
        if (rc == 0) {
            if (st == 0)
                atomic_store_explicit(&populate_state, 1, memory_order_relaxed);
            return;
        }
        if (st == 1 || (err != EINVAL && err != ENOSYS))
            return;
        atomic_store_explicit(&populate_state, -1, memory_order_relaxed);
    }
    for (size_t off = 0; off < len; off += GOC_PAGE_SIZE)
        ((volatile char *)addr)[off] = 0;
}

/* madvise(advice) over each of n ranges: one process_madvise on the
 * process itself (PIDFD_SELF, Linux 6.13+) where the kernel takes it,
 * else one madvise a range (detected once). 0, or -1 if a range failed. */
#ifndef PIDFD_SELF
#define PIDFD_SELF (-10000)
#endif
#if defined(GOC_VALGRIND) || !defined(SYS_process_madvise)
/* valgrind does not know the call (nor old headers): a range a call */
static _Atomic int pmadvise_state = -1;
#else
static _Atomic int pmadvise_state; /* 0: not tried, 1: works, -1: no */
#endif

static int madvise_vec(struct iovec *v, int n, int advice)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += v[i].iov_len;
    if (atomic_load_explicit(&pmadvise_state, memory_order_relaxed) >= 0) {
#ifdef SYS_process_madvise
        int saved = errno;
        long rc =
            syscall(SYS_process_madvise, PIDFD_SELF, v, (size_t)n, advice, 0);
        errno = saved;
#else
        long rc = -1;
#endif
        if (rc >= 0 && (size_t)rc == total) {
            atomic_store_explicit(&pmadvise_state, 1, memory_order_relaxed);
            return 0;
        }
        if (rc < 0 &&
            atomic_load_explicit(&pmadvise_state, memory_order_relaxed) == 0)
            atomic_store_explicit(&pmadvise_state, -1, memory_order_relaxed);
        /* Partly done, or not at all: the loop below (both advices
         * we use may be repeated on a range). */
    }
    for (int i = 0; i < n; i++) {
        if (advice == MADV_POPULATE_WRITE)
            goc__mem_commit(v[i].iov_base, v[i].iov_len);
        else if (madvise(v[i].iov_base, v[i].iov_len, advice) != 0)
            return -1;
    }
    return 0;
}

/* Map n guarded stacks (n <= GOC_STACKS_NEW_BATCH) with one mmap, install
 * their guards and commit their top pages (the G and the first frames)
 * with one vectored call each, and set up their Gs in out[] (needs no
 * lock). Each is then a mapping of its own, unmapped alone. Returns n, or
 * 0 on failure. */
static int map_guarded_stacks(goc_g **out, int n, size_t stack_size, int kind)
{
    size_t len = stack_size + GOC_STACK_GUARD;
    char *base = mmap(NULL, len * (size_t)n, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return 0;
    struct iovec v[GOC_STACKS_NEW_BATCH];
    bool ok = true;
    if (goc__stack_guard_regions()) {
        for (int i = 0; i < n; i++)
            v[i] = (struct iovec){base + (size_t)i * len, GOC_STACK_GUARD};
        ok = madvise_vec(v, n, MADV_GUARD_INSTALL) == 0;
    } else {
        for (int i = 0; i < n && ok; i++)
            ok = !mprotect(base + (size_t)i * len, GOC_STACK_GUARD, PROT_NONE);
    }
    if (!ok) {
        munmap(base, len * (size_t)n);
        return 0;
    }
    for (int i = 0; i < n; i++)
        v[i] = (struct iovec){base + (size_t)(i + 1) * len - GOC_PAGE_SIZE,
                              GOC_PAGE_SIZE};
    (void)madvise_vec(v, n, MADV_POPULATE_WRITE);
    for (int i = 0; i < n; i++) {
        char *lo = base + (size_t)i * len;
        out[i] = (goc_g *)(lo + len - G_RESERVED);
        g_init_at(out[i], lo, len, lo + GOC_STACK_GUARD, kind);
    }
    return n;
}

static void registry_add_locked(goc_g *g)
{
    g->all_next = registry;
    if (registry)
        registry->all_prev = g;
    registry = g;
}

/* Unlink a guarded or custom G from the registry (stack_lock held); its
 * mapping goes on *ul. */
static void registry_remove_locked(goc_g *g, unmap_list *ul)
{
    if (g->all_prev)
        g->all_prev->all_next = g->all_next;
    else
        registry = g->all_next;
    if (g->all_next)
        g->all_next->all_prev = g->all_prev;
    if (g->stack_kind == STACK_GUARDED)
        guarded_live--;
    goc__san_fiber_destroy(&g->san);
    g->schedlink = ul->gs;
    ul->gs = g;
}

static void partial_remove(goc__slab *s)
{
    if (s->pprev)
        s->pprev->pnext = s->pnext;
    else
        partial = s->pnext;
    if (s->pnext)
        s->pnext->pprev = s->pprev;
    s->on_partial = false;
}

static void partial_add(goc__slab *s)
{
    s->pprev = NULL;
    s->pnext = partial;
    if (partial)
        partial->pprev = s;
    partial = s;
    s->on_partial = true;
}

/* A new empty slab, not linked anywhere yet (no lock needed); NULL when
 * out of memory or address space. */
static goc__slab *slab_new(void)
{
    size_t stride = GOC_STACK_DEFAULT;
    char *base = mmap(NULL, stride * GOC_SLAB_STACKS, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    /* A guard region at the low end of every slot, below its stack, and
     * every slot's top page (its G and first frames) committed: a slab
     * is made when spawns need stacks faster than dead ones come back,
     * so its slots are all taken soon, and one call for 64 pages costs
     * less than 64 faults or calls (see goc__mem_commit). */
    struct iovec v[GOC_SLAB_STACKS];
    if (goc__stack_guard_regions()) {
        for (int i = 0; i < GOC_SLAB_STACKS; i++)
            v[i] = (struct iovec){base + (size_t)i * stride, GOC_STACK_GUARD};
        if (madvise_vec(v, GOC_SLAB_STACKS, MADV_GUARD_INSTALL) != 0) {
            munmap(base, stride * GOC_SLAB_STACKS);
            return NULL;
        }
    }
    for (int i = 0; i < GOC_SLAB_STACKS; i++)
        v[i] = (struct iovec){base + (size_t)(i + 1) * stride - GOC_PAGE_SIZE,
                              GOC_PAGE_SIZE};
    (void)madvise_vec(v, GOC_SLAB_STACKS, MADV_POPULATE_WRITE);
    goc__slab *s = calloc(1, sizeof *s);
    if (!s) {
        munmap(base, stride * GOC_SLAB_STACKS);
        return NULL;
    }
    s->base = base;
    s->stride = stride;
    s->nfree = GOC_SLAB_STACKS;
    for (int i = 0; i < GOC_SLAB_STACKS; i++)
        s->free_idx[i] = (uint16_t)(GOC_SLAB_STACKS - 1 - i);
    return s;
}

/* Take a free slot of a slab (stack_lock held; dropped meanwhile if a
 * slab must be mapped): the low end of the stack, and its slab in *slab;
 * NULL when out of address space. */
static char *slab_take_locked(goc__slab **slab)
{
    goc__slab *s = partial;
    if (!s) {
        pthread_mutex_unlock(&stack_lock);
        s = slab_new();
        pthread_mutex_lock(&stack_lock);
        if (!s)
            return NULL;
        s->next = slabs;
        if (slabs)
            slabs->prev = s;
        slabs = s;
        partial_add(s);
    }
    int idx = s->free_idx[--s->nfree];
    if (s->nfree == 0)
        partial_remove(s);
    *slab = s;
    return s->base + (size_t)idx * s->stride;
}

/* Set up the G of a slot from slab_take_locked, without stack_lock: the
 * first touch of its page faults, and other processors must not wait on
 * the lock meanwhile. */
static goc_g *slab_init_unlocked(char *lo, goc__slab *s)
{
    if (!goc__stack_guard_regions())
        atomic_store_explicit((_Atomic uint64_t *)(lo + s->stride - 8),
                              SLOT_CANARY, memory_order_relaxed);
    goc_g *g = (goc_g *)(lo + s->stride - G_RESERVED);
    g_init_at(g, lo, s->stride,
              goc__stack_guard_regions() ? lo + GOC_STACK_GUARD : lo,
              STACK_SLAB);
    g->all_prev = (goc_g *)s;
    return g;
}

/* Unlink a slab (stack_lock held); it goes on *ul. */
static void slab_unlink_locked(goc__slab *s, unmap_list *ul)
{
    if (s->on_partial)
        partial_remove(s);
    if (s->prev)
        s->prev->next = s->next;
    else
        slabs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = ul->slabs;
    ul->slabs = s;
}

/* Give back what was unlinked, without stack_lock. The G of a guarded
 * stack lives in its own mapping, so read the link first. */
static void unmap_list_release(unmap_list *ul)
{
    while (ul->gs) {
        goc_g *g = ul->gs;
        ul->gs = g->schedlink;
        munmap(g->map_lo, g->map_len);
    }
    while (ul->slabs) {
        goc__slab *s = ul->slabs;
        ul->slabs = s->next;
#ifdef GOC_ASAN
        __asan_unpoison_memory_region(s->base, s->stride * GOC_SLAB_STACKS);
#endif
        munmap(s->base, s->stride * GOC_SLAB_STACKS);
        free(s);
    }
}

static void slab_release_locked(goc_g *g, unmap_list *ul)
{
    goc__slab *s = G_SLAB(g);
    int idx = (int)((g->map_lo - s->base) / s->stride);
    char *lo = g->map_lo;
    /* No MADV_DONTNEED per stack: on VMs each one costs a TLB shootdown.
     * A free stack keeps the few pages it touched until its whole slab is
     * free and unmapped. */
    goc__san_fiber_destroy(&g->san);
    (void)lo;
    s->free_idx[s->nfree++] = (uint16_t)idx;
    if (s->nfree == GOC_SLAB_STACKS)
        slab_unlink_locked(s, ul);
    else if (!s->on_partial)
        partial_add(s);
}

/* Give the touched pages of a dead G's stack back to the kernel, all but
 * the page holding the G (no lock needed: nobody else holds g). Guard
 * regions survive MADV_DONTNEED. MADV_DONTNEED rather than MADV_FREE:
 * the pages leave the resident set at once, so a server's RSS shows
 * what it really holds. */
static void stack_scavenge(goc_g *g)
{
    uintptr_t hi = (uintptr_t)g & ~(uintptr_t)(GOC_PAGE_SIZE - 1);
    uintptr_t lo = (uintptr_t)g->stack_lo;
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Pop the most recently freed G of p's cache (gfree_n > 0), and start
 * fetching the next one's G and top frame, which the next spawn writes. */
static inline goc_g *gfree_pop(goc_p *p)
{
    goc_g *g = p->gfree[--p->gfree_n];
    if (p->gfree_n > 0) {
        char *next = (char *)p->gfree[p->gfree_n - 1];
        __builtin_prefetch(next, 1);
        __builtin_prefetch(next - 64, 1);
    }
    return g;
}

/* Up to `want` (<= GOC_STACKS_NEW_BATCH) new default-size Gs with their
 * stacks into out[] (stack_lock held on entry, released on return),
 * mapped and first touched outside the lock (see the locking rule at the
 * top); guarded slots are counted first, so that concurrent callers never
 * pass the bound. Returns how many, 0 when out of memory. */
static int new_default_gs_locked(goc_g **out, int want)
{
    int room = GOC_GUARDED_STACKS_MAX - guarded_live;
    if (room > 0) {
        int k = want < room ? want : room;
        guarded_live += k;
        pthread_mutex_unlock(&stack_lock);
        int n = map_guarded_stacks(out, k, GOC_STACK_DEFAULT - GOC_STACK_GUARD,
                                   STACK_GUARDED);
        pthread_mutex_lock(&stack_lock);
        guarded_live -= k - n;
        for (int i = 0; i < n; i++)
            registry_add_locked(out[i]);
        if (n > 0) {
            pthread_mutex_unlock(&stack_lock);
            return n;
        }
    }
    char *lo[GOC_STACKS_NEW_BATCH];
    goc__slab *sl[GOC_STACKS_NEW_BATCH];
    int n = 0;
    while (n < want && (lo[n] = slab_take_locked(&sl[n])) != NULL)
        n++;
    pthread_mutex_unlock(&stack_lock);
    for (int i = 0; i < n; i++)
        out[i] = slab_init_unlocked(lo[i], sl[i]);
    return n;
}

/* Put n Gs just made into p's cache (p's owner, the cache empty: see
 * goc__g_alloc), or without p into the global cache, retiring what does
 * not fit. */
static void gs_cache_made(goc_p *p, goc_g **made, int n)
{
    if (p) {
        memcpy(&p->gfree[p->gfree_n], made, (size_t)n * sizeof made[0]);
        p->gfree_n += n;
        return;
    }
    unmap_list ul = {0};
    pthread_mutex_lock(&stack_lock);
    int i = 0;
    for (; i < n && gfree_global_n + gfree_cold_n < GOC_GFREE_GLOBAL_MAX; i++)
        gfree_global[gfree_global_n++] = made[i];
    for (; i < n; i++)
        retire_locked(made[i], &ul);
    scavenge_hint_update_locked();
    pthread_mutex_unlock(&stack_lock);
    unmap_list_release(&ul);
}

goc_g *goc__g_alloc(goc_p *p, size_t stack_size)
{
    goc_g *g = NULL;
    if (stack_size == 0)
        stack_size = GOC_STACK_DEFAULT;
    if (stack_size != GOC_STACK_DEFAULT) {
        if (stack_size < GOC_STACK_MIN)
            stack_size = GOC_STACK_MIN;
        stack_size =
            (stack_size + GOC_PAGE_SIZE - 1) & ~(size_t)(GOC_PAGE_SIZE - 1);
        if (map_guarded_stacks(&g, 1, stack_size, STACK_CUSTOM) == 1) {
            /* The G's page is touched: only the link is left to do. */
            pthread_mutex_lock(&stack_lock);
            registry_add_locked(g);
            pthread_mutex_unlock(&stack_lock);
        }
        return g;
    }
    if (p && p->gfree_n > 0)
        return gfree_pop(p);
    pthread_mutex_lock(&stack_lock);
    if (p) {
        /* Refill the local cache in one batch: from the global cache,
         * then from stacks retired but not released yet. */
        int n =
            gfree_global_n < GOC_GFREE_BATCH ? gfree_global_n : GOC_GFREE_BATCH;
        gfree_global_n -= n;
        if (gfree_global_n < gfree_global_low)
            gfree_global_low = gfree_global_n;
        memcpy(&p->gfree[0], &gfree_global[gfree_global_n],
               (size_t)n * sizeof gfree_global[0]);
        p->gfree_n = n;
        while (p->gfree_n < GOC_GFREE_BATCH && gfree_cold_n > 0)
            p->gfree[p->gfree_n++] = gfree_cold[--gfree_cold_n];
        while (p->gfree_n < GOC_GFREE_BATCH && retired) {
            goc_g *x = retired;
            retired = x->schedlink;
            atomic_fetch_sub_explicit(&retired_n, 1, memory_order_relaxed);
            p->gfree[p->gfree_n++] = x;
        }
    }
    if (p && p->gfree_n > 0) {
        g = gfree_pop(p);
    } else if (gfree_global_n > 0) {
        g = gfree_global[--gfree_global_n];
        if (gfree_global_n < gfree_global_low)
            gfree_global_low = gfree_global_n;
    } else if (gfree_cold_n > 0) {
        g = gfree_cold[--gfree_cold_n];
    } else if (retired) {
        /* Not released yet: reuse it rather than map a new one. */
        g = retired;
        retired = g->schedlink;
        atomic_fetch_sub_explicit(&retired_n, 1, memory_order_relaxed);
    }
    if (g) {
        pthread_mutex_unlock(&stack_lock);
        return g;
    }
    /* New stacks, a batch (one mmap and two vectored calls; the rest go
     * to this processor's cache, empty since we are here, or the global
     * one), and ask idle threads to make the next ones. */
    goc_g *made[GOC_STACKS_NEW_BATCH];
    int n = new_default_gs_locked(made, GOC_STACKS_NEW_BATCH);
    if (n == 0)
        return NULL;
    goc__demand_raise(&prefill_wanted, GOC_STACKS_PREFILL_AHEAD * n,
                      GOC_STACKS_PREFILL_WANTED_MAX);
    if (n > 1)
        gs_cache_made(p, made + 1, n - 1);
    return made[0];
}

static void g_release_locked(goc_g *g, unmap_list *ul)
{
    if (g->stack_kind == STACK_SLAB)
        slab_release_locked(g, ul);
    else
        registry_remove_locked(g, ul);
}

/* A dead G past both caches: releasing it now (munmap, TLB shootdowns)
 * would stall the exiting goroutine's processor and, through the kernel's
 * mmap lock, every other one faulting in a stack; so it waits on the
 * retired list for an idle thread (goc__stacks_release_some), up to a
 * bound (stack_lock). */
static void retire_locked(goc_g *g, unmap_list *ul)
{
    if (atomic_load_explicit(&retired_n, memory_order_relaxed) >=
        GOC_STACKS_RETIRED_MAX) {
        g_release_locked(g, ul);
        return;
    }
    g->schedlink = retired;
    retired = g;
    atomic_fetch_add_explicit(&retired_n, 1, memory_order_relaxed);
}

/* Moves p's oldest k dead Gs to the global cache under one lock; past the
 * cache's bound they are retired (given back later). p's owner only. */
static void gfree_spill_oldest(goc_p *p, int k)
{
    unmap_list ul = {0};
    pthread_mutex_lock(&stack_lock);
    for (int i = 0; i < k; i++) {
        if (gfree_global_n + gfree_cold_n < GOC_GFREE_GLOBAL_MAX)
            gfree_global[gfree_global_n++] = p->gfree[i];
        else
            retire_locked(p->gfree[i], &ul);
    }
    scavenge_hint_update_locked();
    pthread_mutex_unlock(&stack_lock);
    unmap_list_release(&ul);
    p->gfree_n -= k;
    memmove(&p->gfree[0], &p->gfree[k],
            (size_t)p->gfree_n * sizeof p->gfree[0]);
}

void goc__g_free(goc_p *p, goc_g *g)
{
    unmap_list ul = {0};
    if (g->stack_kind == STACK_CUSTOM) {
        pthread_mutex_lock(&stack_lock);
        registry_remove_locked(g, &ul);
        pthread_mutex_unlock(&stack_lock);
        unmap_list_release(&ul);
        return;
    }
    if (p) {
        if (p->gfree_n < GOC_GFREE_LOCAL_MAX) {
            p->gfree[p->gfree_n++] = g;
            return;
        }
        /* Spill the oldest batch (the newest, warmest stacks stay). */
        gfree_spill_oldest(p, GOC_GFREE_BATCH);
        p->gfree[p->gfree_n++] = g;
        return;
    }
    pthread_mutex_lock(&stack_lock);
    if (gfree_global_n + gfree_cold_n < GOC_GFREE_GLOBAL_MAX)
        gfree_global[gfree_global_n++] = g;
    else
        retire_locked(g, &ul);
    scavenge_hint_update_locked();
    pthread_mutex_unlock(&stack_lock);
    unmap_list_release(&ul);
}

bool goc__stacks_retired(void)
{
    return atomic_load_explicit(&retired_n, memory_order_relaxed) > 0;
}

bool goc__stacks_release_some(void)
{
    if (atomic_load_explicit(&retired_n, memory_order_relaxed) == 0)
        return false;
    unmap_list ul = {0};
    goc_g *batch[GOC_STACKS_RELEASE_BATCH];
    int n = 0;
    pthread_mutex_lock(&stack_lock);
    for (; n < GOC_STACKS_RELEASE_BATCH && retired; n++) {
        batch[n] = retired;
        retired = retired->schedlink;
        atomic_fetch_sub_explicit(&retired_n, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&stack_lock);
    /* A slab stack stays mapped (its slab may be in use): give its pages
     * back before it becomes free to take. */
    for (int i = 0; i < n; i++)
        if (batch[i]->stack_kind == STACK_SLAB)
            stack_scavenge(batch[i]);
    pthread_mutex_lock(&stack_lock);
    for (int i = 0; i < n; i++)
        g_release_locked(batch[i], &ul);
    bool more = retired != NULL;
    pthread_mutex_unlock(&stack_lock);
    unmap_list_release(&ul);
    return more;
}

void goc__stacks_trim_local(goc_p *p)
{
    /* At most once a period: a processor that idles between bursts of
     * spawns would otherwise hand its cache to the global one and take
     * it back under the lock at every burst (spawn_join at 2 processors
     * ran 2x slower). A declined trim is left to sysmon. */
    if (p->gfree_n <= GOC_GFREE_LOCAL_WARM)
        return;
    goc__stacks_trim_idle(p, goc_nanotime());
}

bool goc__stacks_take_trim_pending(void)
{
    return atomic_load_explicit(&local_trim_pending, memory_order_relaxed) &&
           atomic_exchange_explicit(&local_trim_pending, false,
                                    memory_order_relaxed);
}

bool goc__stacks_trim_idle(goc_p *p, int64_t now)
{
    if (p->gfree_n <= GOC_GFREE_LOCAL_WARM)
        return true;
    if (now - p->gfree_trimmed < GOC_SCAVENGE_PERIOD_NS) {
        if (!atomic_load_explicit(&local_trim_pending, memory_order_relaxed))
            atomic_store_explicit(&local_trim_pending, true,
                                  memory_order_relaxed);
        return false;
    }
    p->gfree_trimmed = now;
    gfree_spill_oldest(p, p->gfree_n - GOC_GFREE_LOCAL_WARM);
    return true;
}

bool goc__stacks_scavenge_wanted(void)
{
    return atomic_load_explicit(&scavenge_hint, memory_order_relaxed) ||
           atomic_load_explicit(&local_trim_pending, memory_order_relaxed);
}

/* stack_lock held, after pushes onto the global cache. */
static inline void scavenge_hint_update_locked(void)
{
    if (gfree_global_n > GOC_GFREE_GLOBAL_WARM &&
        !atomic_load_explicit(&scavenge_hint, memory_order_relaxed))
        atomic_store_explicit(&scavenge_hint, true, memory_order_relaxed);
}

int goc__stacks_scavenge(void)
{
    int done = 0;
    pthread_mutex_lock(&stack_lock);
    /* The bottom `low` warm Gs were not taken since the last pass. */
    int surplus = gfree_global_low - GOC_GFREE_GLOBAL_WARM;
    if (surplus > GOC_SCAVENGE_MAX_PER_PERIOD)
        surplus = GOC_SCAVENGE_MAX_PER_PERIOD;
    while (surplus > 0 && gfree_global_n > GOC_GFREE_GLOBAL_WARM) {
        /* Gently: not while a timer is about to wake someone (on 2 CPUs
         * this thread would take one from the woken goroutine). */
        int64_t next = goc__timers_earliest();
        if (next && goc_nanotime() >= next - GOC_STACKS_RELEASE_MARGIN_NS)
            break;
        goc_g *batch[GOC_GFREE_BATCH];
        int n = surplus < GOC_GFREE_BATCH ? surplus : GOC_GFREE_BATCH;
        if (n > gfree_global_n - GOC_GFREE_GLOBAL_WARM)
            n = gfree_global_n - GOC_GFREE_GLOBAL_WARM;
        /* Out of the cache (the oldest, at the bottom) while their pages
         * go back without the lock; then into the cold cache. */
        memcpy(batch, gfree_global, (size_t)n * sizeof batch[0]);
        gfree_global_n -= n;
        memmove(&gfree_global[0], &gfree_global[n],
                (size_t)gfree_global_n * sizeof gfree_global[0]);
        surplus -= n;
        pthread_mutex_unlock(&stack_lock);
        for (int i = 0; i < n; i++)
            stack_scavenge(batch[i]);
        done += n;
        pthread_mutex_lock(&stack_lock);
        for (int i = 0; i < n; i++)
            gfree_cold[gfree_cold_n++] = batch[i];
    }
    /* A new period: what is left (budget, timers) goes next time if
     * still nobody takes it. */
    gfree_global_low = gfree_global_n;
    if (gfree_global_n <= GOC_GFREE_GLOBAL_WARM)
        atomic_store_explicit(&scavenge_hint, false, memory_order_relaxed);
    pthread_mutex_unlock(&stack_lock);
    return done;
}

bool goc__stacks_prefill_some(void)
{
#if defined(GOC_TSAN) || defined(GOC_VALGRIND)
    /* There a new stack's cost is the tool's fiber bookkeeping, not page
     * faults; made ahead it only kept a spinning thread off work for
     * milliseconds (loadgen_cli_unreachable timed out under TSan). */
    return false;
#endif
    int want = goc__demand_take(&prefill_wanted, GOC_STACKS_PREFILL_BATCH);
    if (want == 0)
        return false;
    goc_g *made[GOC_STACKS_NEW_BATCH];
    pthread_mutex_lock(&stack_lock);
    if (gfree_global_n + want > GOC_STACKS_PREFILL_MAX || retired) {
        /* Enough made, or dead stacks to reuse: stop asking. */
        pthread_mutex_unlock(&stack_lock);
        atomic_store_explicit(&prefill_wanted, 0, memory_order_relaxed);
        return false;
    }
    int n = new_default_gs_locked(made, want);
    if (n == 0)
        return false;
    gs_cache_made(NULL, made, n);
    return true;
}

/* Build the first frame so that switching to g enters goc__g_start(g, m)
 * (m: the M that switched to it). */
extern void goc__g_start(goc_g *g, goc_m *m);

void goc__g_prepare(goc_g *g)
{
    uintptr_t top = (uintptr_t)g->stack_hi & ~(uintptr_t)15;
#ifdef GOC_ASAN
    /* A reused G's last frames (g_leave and below, entered after
     * goc__san_no_return and never returned from) left their scopes'
     * poison above the sp it died with: clear it before writing the new
     * first frame there. */
    char *dead_sp = g->ctx.sp;
    if (dead_sp >= g->stack_lo && dead_sp < g->stack_hi)
        __asan_unpoison_memory_region(dead_sp, (size_t)(g->stack_hi - dead_sp));
#endif
#if defined(__x86_64__)
    /* Frame popped by goc__ctx_switch: [mxcsr|x87cw] r15 r14 r13 r12 rbx
     * rbp, then the return address (goc__ctx_entry). */
    uint64_t *sp = (uint64_t *)(top - 16 - 8 * 8);
    sp[0] = 0x1F80ull | (0x037Full << 32);
    sp[1] = 0;                                 /* r15 */
    sp[2] = 0;                                 /* r14 */
    sp[3] = 0;                                 /* r13 */
    sp[4] = (uint64_t)(uintptr_t)g;            /* r12: argument */
    sp[5] = (uint64_t)(uintptr_t)goc__g_start; /* rbx: function */
    sp[6] = 0;                                 /* rbp */
    sp[7] = (uint64_t)(uintptr_t)goc__ctx_entry;
    g->ctx.sp = sp;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)(top - 176 - 16);
    memset(sp, 0, 176);
    sp[0] = (uint64_t)(uintptr_t)goc__g_start;    /* x19 */
    sp[1] = (uint64_t)(uintptr_t)g;               /* x20 */
    sp[11] = (uint64_t)(uintptr_t)goc__ctx_entry; /* x30 */
    g->ctx.sp = sp;
#else
#error "goc: unsupported architecture"
#endif
#ifdef GOC_ASAN
    g->san.fake_stack = NULL;
#endif
}

void goc__stack_check(goc_g *g)
{
    if (goc_unlikely((char *)g->ctx.sp < g->stack_lo + 256 ||
                     (char *)g->ctx.sp > g->stack_hi)) {
        goc__fatal("stack overflow\n\ngoroutine %llu: stack=[%p, %p) "
                   "sp=%p",
                   (unsigned long long)g->id, (void *)g->stack_lo,
                   (void *)g->stack_hi, g->ctx.sp);
    }
    /* No guard page below (slab stack, no guard regions): was the slot
     * below's canary run over? It is 0 in a slot never handed out. */
    if (g->stack_kind == STACK_SLAB && g->stack_lo == g->map_lo &&
        g->map_lo != G_SLAB(g)->base) {
        uint64_t v = atomic_load_explicit((_Atomic uint64_t *)(g->stack_lo - 8),
                                          memory_order_relaxed);
        if (goc_unlikely(v != SLOT_CANARY && v != 0))
            goc__fatal("stack overflow\n\ngoroutine %llu: stack=[%p, %p) "
                       "ran below its low end (seen at its next switch)",
                       (unsigned long long)g->id, (void *)g->stack_lo,
                       (void *)g->stack_hi);
    }
}

bool goc__stack_fault(void *addr, goc_g *g)
{
    char *a = addr;
    /* The guard page, or a probe that jumped a bit past it. */
    return a < g->stack_lo && a >= g->stack_lo - 64 * 1024;
}

void goc__stacks_shutdown(void)
{
    unmap_list ul = {0};
    pthread_mutex_lock(&stack_lock);
    gfree_global_n = 0;
    gfree_cold_n = 0;
    gfree_global_low = 0;
    atomic_store_explicit(&scavenge_hint, false, memory_order_relaxed);
    atomic_store_explicit(&local_trim_pending, false, memory_order_relaxed);
    retired = NULL; /* their mappings go with the registry and slabs */
    atomic_store_explicit(&retired_n, 0, memory_order_relaxed);
    while (registry)
        registry_remove_locked(registry, &ul);
    while (slabs)
        slab_unlink_locked(slabs, &ul);
    partial = NULL;
    guarded_live = 0;
    pthread_mutex_unlock(&stack_lock);
    unmap_list_release(&ul);
}
