/*
 * cmap.c - the concurrent map (goc/cmap.h): segments of open-addressing
 * tables with the keys inline, lock-free reads validated by versions,
 * per-segment writer locks, per-segment rebuilds, epoch-based reclamation
 * (epoch.c). docs/cmap.md tells the design; here is what the code relies
 * on.
 *
 * Shape. A key's 64-bit hash picks a segment by its bits 40.. and, by its
 * low 32 bits h32, a home slot of that segment's table ((h32 * cap) >>
 * 32: any capacity works). A table is an array of 32-byte slots, two to a
 * cache line, probed linearly from the home slot:
 *   meta   h32 << 32 | version << 8 | state
 *          state 0 empty, 1..17 a key of state - 1 bytes held inline,
 *          CMAP_LONG a longer key held out of line;
 *   k[2]   the key's bytes, zero-padded (up to 16), or for a long key a
 *          pointer to a private copy of its bytes and its length;
 *   value.
 * A present key sits in the run of occupied slots that starts at its home
 * (no empty slot between). A hit costs one cache line most of the time.
 *
 * Readers (get, the first look of load_or_store, range's walk) enter an
 * epoch section, load the segment's table and probe; they take no lock
 * and write nothing but their own thread's epoch record. A slot is read
 * as a seqlock: meta, key and value (acquire loads), meta again; a
 * changed meta means the slot was rewritten meanwhile, and the read
 * starts over. Every rewrite of a slot's key gives its meta a new version
 * (24 bits, kept across empty states), so a reader never accepts a key
 * torn between two owners. A miss (an empty slot reached) is validated
 * the same way by the segment's `moves` counter, odd while a delete
 * shifts entries back: a reader that met a slot emptied by a shift
 * before reaching the entry moved into it starts over.
 *
 * Writers lock their segment (goc__spin_lock: the holder never parks) and:
 *   insert   write key and value into the first empty slot of the run,
 *            then its meta (release): a reader that sees the meta sees
 *            the key;
 *   replace  store the new value into the slot (release);
 *   delete   empty the slot and shift later entries of its run back into
 *            holes (backward-shift deletion: no tombstones), inside an
 *            odd `moves`; a long key's copy is retired to the epochs;
 *   rebuild  when a segment's count passes CMAP_LOAD of its slots (grow
 *            x 1.5) or falls under an eighth (shrink), the writer copies
 *            every entry into a new table and publishes it with one
 *            release store. Readers keep probing the old table meanwhile:
 *            it is frozen (writers wait for the lock) and complete. The
 *            old table is retired (long keys' copies move to the new one).
 *
 * Invariants: (1) a segment's current table holds each present key of the
 * segment exactly once, in the run that starts at its home; (2) a table
 * that is no longer current is never written again; (3) memory reachable
 * from a current or retired-but-not-freed table is never freed; (4) the
 * table always keeps an empty slot, so every probe ends. Lock order: one
 * segment lock at a time; none held while calling back into the user
 * (range) or while freeing retired memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cmap/cmap_internal.h"
#include "goc/cmap.h"
#include "runtime/primitives.h"

#define CMAP_DEFAULT_CONCURRENCY 16
#define CMAP_MAX_SEGMENTS 4096
/* The smallest table, held inside its segment. */
#define CMAP_SMALL 8
#define CMAP_MAX_SLOTS ((size_t)1 << 31)
/* Grow when count > cap * CMAP_LOAD_NUM / CMAP_LOAD_DEN, by 3/2. */
#define CMAP_LOAD_NUM 4
#define CMAP_LOAD_DEN 5
/* A reader that had to start over this many times reads under the lock. */
#define CMAP_READ_TRIES 64

_Atomic long goc__cmap_fail_after = -1;
void (*_Atomic goc__cmap_rebuild_hook)(void);

/* ---- memory ---------------------------------------------------------- */

static bool cmap_fail(void)
{
    long n = atomic_load_explicit(&goc__cmap_fail_after, memory_order_relaxed);
    while (n >= 0) {
        if (n == 0)
            return true;
        if (atomic_compare_exchange_weak_explicit(&goc__cmap_fail_after, &n,
                                                  n - 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return false;
    }
    return false;
}

static void *cmap_malloc(size_t n)
{
    return cmap_fail() ? NULL : malloc(n);
}

static void *cmap_realloc(void *p, size_t n)
{
    return cmap_fail() ? NULL : realloc(p, n);
}

/* ---- hashing ----------------------------------------------------------- */

/* Multiply two words into 128 bits and fold the halves: each output bit
 * depends on many input bits of both. */
static inline uint64_t fold(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t ld64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t ld32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

#define K0 0x9fb21c651e98df25ull
#define K1 0xc2b2ae3d27d4eb4full
#define K2 0xd6e8feb86659fd93ull

static inline uint64_t cmap_hash(uint64_t seed, const unsigned char *p,
                                 size_t n)
{
    uint64_t a, b, h = seed ^ (n * K0);
    if (n <= 16) {
        if (n >= 8) {
            a = ld64(p);
            b = ld64(p + n - 8);
        } else if (n >= 4) {
            a = ld32(p);
            b = ld32(p + n - 4);
        } else if (n > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = n;
        while (i > 16) {
            h = fold(ld64(p) ^ K1, ld64(p + 8) ^ h);
            p += 16;
            i -= 16;
        }
        a = ld64(p + i - 16);
        b = ld64(p + i - 8);
    }
    return fold(fold(a ^ K1, b ^ h) ^ K2, h ^ K0 ^ n);
}

/* ---- tables ------------------------------------------------------------ */

#define CMAP_LONG 18u

static inline uint64_t meta_make(uint32_t h32, uint64_t ver, unsigned st)
{
    return ((uint64_t)h32 << 32) | ((ver & 0xffffff) << 8) | st;
}
static inline unsigned meta_st(uint64_t m)
{
    return (unsigned)m & 0xff;
}
static inline uint64_t meta_ver(uint64_t m)
{
    return ((uint32_t)m) >> 8;
}
static inline uint32_t meta_h32(uint64_t m)
{
    return (uint32_t)(m >> 32);
}

typedef struct cslot {
    _Atomic uint64_t meta; /* see the top; written under the lock */
    _Atomic uint64_t k[2]; /* key words; written under the lock */
    void *_Atomic value;   /* written under the lock */
} cslot;

_Static_assert(sizeof(cslot) == 32, "two slots to a cache line");

typedef struct ctable {
    size_t cap;       /* slots; immutable */
    size_t map_bytes; /* the length of its own mapping; 0: malloc'd */
    size_t map_used;  /* bytes of the mapping ever written, from its start */
    char pad_[40];
    cslot slot[]; /* 64-byte aligned */
} ctable;

/*
 * A segment: a line its readers read (table, moves), a line its writers
 * write (lock, count), and its smallest table (CMAP_SMALL slots) held
 * inline, so that an emptied map holds no scattered little allocations
 * that would pin pages of the allocator's heap. The small table is never
 * freed; once replaced, it is reused only after a grace period
 * (small_epoch + 2), like any retired memory.
 */
typedef struct cseg {
    _Atomic uintptr_t table; /* current table | capacity class (tab_word) */
    _Atomic uint64_t moves;  /* odd while a delete shifts entries */
    size_t min_cap;          /* never shrink below; immutable */
    char pad0_[40];
    _Atomic uint32_t lock; /* goc__spin_lock: guards writes */
    bool small_current;    /* the small table is current; under lock */
    _Atomic size_t count;  /* entries: written under lock, read by len */
    uint64_t small_epoch;  /* epoch when it stopped being; under lock */
    char pad1_[40];
    size_t small_cap; /* the small table, laid out as a ctable */
    char pad2_[56];
    cslot small_slot[CMAP_SMALL];
    char pad3_[64]; /* 512 bytes: a segment's address is a shift */
} __attribute__((aligned(64))) cseg;

_Static_assert(offsetof(cseg, small_slot) - offsetof(cseg, small_cap) ==
                   offsetof(ctable, slot),
               "the small table must be laid out as a ctable");
_Static_assert(offsetof(cseg, lock) == 64, "writers' line apart");
_Static_assert(offsetof(cseg, small_cap) % 64 == 0,
               "tab_word needs 6 free bits");
_Static_assert(sizeof(cseg) == 512, "a power of two");

static inline ctable *seg_small(cseg *s)
{
    return (ctable *)&s->small_cap;
}

/* Capacities: 8 grown by 3/2 (cap_grown) up to CMAP_MAX_SLOTS. A segment's
 * table word is the table's address (64-byte aligned) with the index of
 * its capacity in the low bits, so that a reader has the capacity with
 * the pointer, without a dependent load of the table's header. */
static const uint32_t cmap_caps[] = {
    8,          12,        18,        27,        40,        60,
    90,         135,       202,       303,       454,       681,
    1021,       1531,      2296,      3444,      5166,      7749,
    11623,      17434,     26151,     39226,     58839,     88258,
    132387,     198580,    297870,    446805,    670207,    1005310,
    1507965,    2261947,   3392920,   5089380,   7634070,   11451105,
    17176657,   25764985,  38647477,  57971215,  86956822,  130435233,
    195652849,  293479273, 440218909, 660328363, 990492544, 1485738816,
    2147483648u};

static inline uintptr_t tab_word(const ctable *t)
{
    uintptr_t c = 0;
    while (cmap_caps[c] != t->cap)
        c++;
    return (uintptr_t)t | c;
}

static inline ctable *tab_of(uintptr_t w)
{
    return (ctable *)(w & ~(uintptr_t)63);
}

static inline size_t tab_cap(uintptr_t w)
{
    return cmap_caps[w & 63];
}

/* The current table, for its writer (s locked) or goc_cmap_free. */
static inline ctable *seg_table(cseg *s)
{
    return tab_of(atomic_load_explicit(&s->table, memory_order_relaxed));
}

struct goc_cmap {
    uint64_t seed;    /* hash seed; immutable */
    uint32_t segmask; /* segments - 1; immutable */
    cseg *seg;        /* the segments; immutable */
};

static inline cseg *seg_of(goc_cmap *m, uint64_t h)
{
    return &m->seg[(uint32_t)(h >> 40) & m->segmask];
}

static inline size_t home_of(uint32_t h32, size_t cap)
{
    return (size_t)(((uint64_t)h32 * cap) >> 32);
}

static inline void seg_lock(cseg *s)
{
    goc__spin_lock(&s->lock);
}

static inline void seg_unlock(cseg *s)
{
    goc__spin_unlock(&s->lock);
}

/* A key as the probes compare it. */
typedef struct ckey {
    const unsigned char *p;
    size_t len;
    uint64_t w[2]; /* inline keys: the bytes, zero-padded */
    uint32_t h32;
    unsigned st; /* the state of a slot holding it */
} ckey;

static inline __attribute__((always_inline)) void
key_prep(ckey *k, uint64_t h, const void *key, size_t klen)
{
    k->p = key;
    k->len = klen;
    k->h32 = (uint32_t)h;
    if (klen == 16) {
        k->w[0] = ld64(key);
        k->w[1] = ld64(k->p + 8);
        k->st = 17;
    } else if (klen == 8) {
        k->w[0] = ld64(key);
        k->w[1] = 0;
        k->st = 9;
    } else if (klen <= 16) {
        unsigned char b[16] = {0};
        if (klen > 0)
            memcpy(b, key, klen);
        memcpy(k->w, b, 16);
        k->st = (unsigned)klen + 1;
    } else {
        k->w[0] = k->w[1] = 0;
        k->st = CMAP_LONG;
    }
}

/* Does a slot of meta m (already known to match k's h32 and state) with
 * key words a, b hold k? For a long key a points to its bytes (read only
 * after the slot's version was validated). */
static inline bool key_is(const ckey *k, uint64_t a, uint64_t b)
{
    if (k->st != CMAP_LONG)
        return a == k->w[0] && b == k->w[1];
    return b == k->len && memcmp((const void *)(uintptr_t)a, k->p, k->len) == 0;
}

static inline bool meta_is(uint64_t m, const ckey *k)
{
    return meta_st(m) == k->st && meta_h32(m) == k->h32;
}

static size_t table_bytes(size_t cap)
{
    return (sizeof(ctable) + cap * sizeof(cslot) + 63) & ~(size_t)63;
}

/* A table this big is mapped on its own, its pages populated by the
 * kernel in one call (zeroed: no memset) and unmapped when freed. Filling
 * a map, most of the time went to page faults on fresh tables taken one
 * page at a time (and, in a VM, each fault is a trap to the hypervisor). */
#define CMAP_MAP_BYTES ((size_t)256 << 10)

/*
 * Recycled mappings. Where this was measured (a VM), the first access to
 * each page of a new mapping is slow, 4 to 20 us a page, whether the
 * kernel populated the page or not, and again after mremap moves it: a
 * 640 KB table cost milliseconds before one entry was copied into it,
 * and growth by 3/2 maps about three times the final tables' size over a
 * fill. So a big table's mapping reserves CMAP_MAP_SLACK times the
 * table's size of address space (only the table's part is populated;
 * the rest costs no memory), and a table retired by a growth is kept
 * here once no reader can stand on it: the next growth, of whichever
 * segment of whichever map, that fits in its reserve takes it, clears
 * the part already written (pages already accessed: fast) and populates
 * only the rest. Segments grow at about the same time, so what is kept
 * is taken again soon; at most CMAP_POOL_N mappings are kept, and a
 * shrinking segment or goc_cmap_free gives them all back.
 */
#define CMAP_POOL_N 2
#define CMAP_MAP_SLACK 4
typedef struct pooled {
    void *p;
    size_t bytes; /* the mapping's length */
    size_t used;  /* written from its start */
} pooled;
static _Atomic uint32_t cmap_pool_lock;
static pooled cmap_pool[CMAP_POOL_N];

/* Take the smallest kept mapping of at least bytes (false if none). */
static bool pool_take(size_t bytes, pooled *out)
{
    goc__spin_lock(&cmap_pool_lock);
    int best = -1;
    for (int i = 0; i < CMAP_POOL_N; i++)
        if (cmap_pool[i].p != NULL && cmap_pool[i].bytes >= bytes &&
            (best < 0 || cmap_pool[i].bytes < cmap_pool[best].bytes))
            best = i;
    if (best >= 0) {
        *out = cmap_pool[best];
        cmap_pool[best].p = NULL;
    }
    goc__spin_unlock(&cmap_pool_lock);
    return best >= 0;
}

/* Keep a mapping, in place of the one of least reserve if all places are
 * taken (the one given back is unmapped). */
static void pool_put(pooled pm)
{
    goc__spin_lock(&cmap_pool_lock);
    int low = 0;
    for (int i = 0; i < CMAP_POOL_N; i++)
        if (cmap_pool[i].p == NULL ||
            (cmap_pool[low].p != NULL &&
             cmap_pool[i].bytes < cmap_pool[low].bytes))
            low = i;
    if (cmap_pool[low].p == NULL || cmap_pool[low].bytes < pm.bytes) {
        pooled q = cmap_pool[low];
        cmap_pool[low] = pm;
        pm = q;
    }
    goc__spin_unlock(&cmap_pool_lock);
    if (pm.p != NULL)
        munmap(pm.p, pm.bytes);
}

/* Unmap every kept mapping. */
static void pool_drain(void)
{
    pooled pm;
    while (pool_take(0, &pm))
        munmap(pm.p, pm.bytes);
}

/* A mapped table of bytes, cleared (a kept mapping if one fits and reuse,
 * else a fresh one), its map_bytes and map_used set. NULL when out of
 * memory. */
static ctable *table_map(size_t bytes, bool reuse)
{
    pooled pm;
    if (reuse && pool_take(bytes, &pm)) {
        size_t old = pm.used < bytes ? pm.used : bytes;
        memset(pm.p, 0, old);
        if (pm.used > bytes) {
            /* Pages past the table: give them back (from a page
             * boundary; the page it starts in is cleared above). */
            size_t from = (bytes + 4095) & ~(size_t)4095;
            if (from < pm.used)
                (void)madvise((char *)pm.p + from, pm.used - from,
                              MADV_DONTNEED);
            pm.used = from < pm.used ? from : pm.used;
        } else if (bytes > old) {
            /* Fault the new part in at once (as MAP_POPULATE would);
             * where the kernel has no such advice the pages fault in as
             * they are written. */
            (void)madvise((char *)pm.p + old, bytes - old, MADV_POPULATE_WRITE);
            pm.used = bytes;
        }
        ctable *t = pm.p;
        t->map_bytes = pm.bytes;
        t->map_used = pm.used;
        return t;
    }
    size_t len = (bytes * CMAP_MAP_SLACK + 4095) & ~(size_t)4095;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, bytes, MADV_POPULATE_WRITE);
    ctable *t = p;
    t->map_bytes = len;
    t->map_used = bytes;
    return t;
}

/* reuse: may take a kept mapping (a growth). */
static ctable *table_new(size_t cap, bool reuse)
{
    if (cmap_fail())
        return NULL;
    size_t bytes = table_bytes(cap);
    ctable *t;
    if (bytes >= CMAP_MAP_BYTES) {
        t = table_map(bytes, reuse);
        if (t == NULL)
            return NULL;
    } else {
        t = aligned_alloc(64, bytes);
        if (t == NULL)
            return NULL;
        memset(t, 0, bytes);
    }
    t->cap = cap;
    return t;
}

static void table_free(ctable *t)
{
    if (t->map_bytes != 0)
        munmap(t, t->map_bytes);
    else
        free(t);
}

static void table_retired(void *p)
{
    table_free(p);
}

/* A table a growth replaced: kept for the next growth if big. */
static void table_retired_grown(void *p)
{
    ctable *t = p;
    if (t->map_bytes != 0)
        pool_put((pooled){t, t->map_bytes, t->map_used});
    else
        free(t);
}

static void long_key_retired(void *p)
{
    free(p);
}

/* What a writer leaves to retire once the segment is unlocked. */
typedef struct retiree {
    void *p;
    void (*fn)(void *);
    size_t weight;
} retiree;

/* Write an entry into the empty slot sl of a table (the writer's view):
 * key and value first, the meta last with release, so that a reader that
 * sees the meta sees the rest. A reader that still holds the slot's old
 * meta fails its validation: the version moves on. */
static inline void slot_fill(cslot *sl, uint64_t meta_old, uint32_t h32,
                             unsigned st, uint64_t a, uint64_t b, void *v)
{
    /* Release (plain stores on x86): a reader that reads a new word sees
     * every earlier store of this writer, the slot's emptying among them,
     * so its second load of meta cannot answer the meta it began with.
     * This is the seqlock's ordering without fences, which
     * ThreadSanitizer can follow. */
    atomic_store_explicit(&sl->k[0], a, memory_order_release);
    atomic_store_explicit(&sl->k[1], b, memory_order_release);
    atomic_store_explicit(&sl->value, v, memory_order_release);
    atomic_store_explicit(&sl->meta, meta_make(h32, meta_ver(meta_old) + 1, st),
                          memory_order_release);
}

/* Empty a slot: the version moves on; key words stay until reused. The
 * caller is inside an odd `moves` or is about to fill it. Release: a
 * reader that reads this store sees the odd `moves` before it. */
static inline void slot_clear(cslot *sl)
{
    uint64_t m = atomic_load_explicit(&sl->meta, memory_order_relaxed);
    atomic_store_explicit(&sl->meta, meta_make(0, meta_ver(m) + 1, 0),
                          memory_order_release);
}

/* Copy every entry of old into the empty table t (no reader sees t).
 * Which slots of t are taken is kept in a bitmap (a bit per slot, in the
 * cache) rather than read back from t: t is fresh memory, not in the
 * cache, and a probe that loads its metas waits for a miss per entry
 * copied (measured: most of a fill's time went there). With the bitmap
 * t is only written, and the entries come out of old nearly in the order
 * of their homes in t (home_of is monotonic in h32), so the stores go
 * out in sequence. */
static void table_copy(ctable *t, const ctable *old)
{
    size_t cap = t->cap, words = (cap + 63) / 64;
    uint64_t local[128];
    uint64_t *used = words <= 128 ? local : malloc(words * sizeof(*used));
    if (used != NULL)
        memset(used, 0, words * sizeof(*used));
    for (size_t i = 0; i < old->cap; i++) {
        const cslot *o = &old->slot[i];
        uint64_t m = atomic_load_explicit(&o->meta, memory_order_relaxed);
        if (meta_st(m) == 0)
            continue;
        size_t j = home_of(meta_h32(m), cap);
        if (used != NULL) {
            while (used[j / 64] & ((uint64_t)1 << (j % 64)))
                if (++j == cap)
                    j = 0;
            used[j / 64] |= (uint64_t)1 << (j % 64);
            /* The lines ahead, for writing: fresh memory is not in the
             * cache, and the hardware's prefetcher does not run ahead
             * of stores far enough. */
            __builtin_prefetch(&t->slot[j + 24 < cap ? j + 24 : j], 1, 3);
        } else {
            /* No memory for the bitmap: probe t itself. */
            while (meta_st(atomic_load_explicit(&t->slot[j].meta,
                                                memory_order_relaxed)) != 0)
                if (++j == cap)
                    j = 0;
        }
        cslot *n = &t->slot[j];
        atomic_init(&n->k[0],
                    atomic_load_explicit(&o->k[0], memory_order_relaxed));
        atomic_init(&n->k[1],
                    atomic_load_explicit(&o->k[1], memory_order_relaxed));
        atomic_init(&n->value,
                    atomic_load_explicit(&o->value, memory_order_relaxed));
        atomic_init(&n->meta, meta_make(meta_h32(m), 0, meta_st(m)));
    }
    if (used != local)
        free(used);
}

/* Rebuild s's table with cap slots. Called with s locked; true when done
 * (*out: what to retire once unlocked), false when memory ran out (the
 * old table then stays: a fuller table is slower, never wrong). */
static bool seg_rebuild(cseg *s, size_t cap, retiree *out)
{
    ctable *old = seg_table(s);
    ctable *small = seg_small(s);
    ctable *t;
    if (cap == CMAP_SMALL && old != small &&
        atomic_load_explicit(&goc__ebr_epoch, memory_order_seq_cst) >=
            s->small_epoch + 2) {
        /* No reader is left on the small table: empty it. */
        t = small;
        for (size_t i = 0; i < CMAP_SMALL; i++)
            atomic_store_explicit(&t->slot[i].meta, 0, memory_order_relaxed);
    } else {
        t = table_new(cap, cap > old->cap);
        if (t == NULL)
            return false;
    }
    void (*hook)(void) =
        atomic_load_explicit(&goc__cmap_rebuild_hook, memory_order_relaxed);
    if (hook != NULL)
        hook();
    table_copy(t, old);
    /* Release pairs with the readers' acquire load of the table: they see
     * the new table complete. */
    atomic_store_explicit(&s->table, tab_word(t), memory_order_release);
    s->small_current = t == small;
    if (old == small) {
        /* Readers may stand on the small table until two epochs pass. The
         * fence orders the publication before the epoch's load (as in
         * goc__ebr_retire). */
        atomic_thread_fence(memory_order_seq_cst);
        s->small_epoch =
            atomic_load_explicit(&goc__ebr_epoch, memory_order_seq_cst);
    } else {
        *out =
            (retiree){old, cap > old->cap ? table_retired_grown : table_retired,
                      old->cap / 8 + 1};
    }
    return true;
}

/* The capacity after growth. */
static inline size_t cap_grown(size_t cap)
{
    size_t n = cap + cap / 2;
    return n > CMAP_MAX_SLOTS ? CMAP_MAX_SLOTS : n;
}

/* Does count entries call for a bigger table than cap? */
static inline bool too_full(size_t count, size_t cap)
{
    return count * CMAP_LOAD_DEN > cap * CMAP_LOAD_NUM;
}

/* After a delete: shrink s if its load calls for it. */
static void seg_maybe_shrink(cseg *s, size_t count, retiree *out)
{
    ctable *t = seg_table(s);
    if (count >= t->cap / 8 || t->cap <= s->min_cap)
        return;
    size_t nc = s->min_cap;
    while (nc < count * 2)
        nc = cap_grown(nc);
    if (nc < t->cap)
        seg_rebuild(s, nc, out);
}

/* ---- the map ----------------------------------------------------------- */

goc_cmap *goc_cmap_new(const goc_cmap_options *opts)
{
    size_t conc = opts != NULL && opts->concurrency > 0
                      ? opts->concurrency
                      : CMAP_DEFAULT_CONCURRENCY;
    size_t cap = opts != NULL ? opts->initial_capacity : 0;
    size_t nseg = 1;
    while (nseg < CMAP_MAX_SEGMENTS && nseg < conc * 4)
        nseg *= 2;
    /* Slots per segment for cap entries at the growth load. */
    size_t per = CMAP_SMALL;
    size_t want = cap / nseg + 1;
    while (per < CMAP_MAX_SLOTS / 2 && too_full(want, per))
        per = cap_grown(per);

    goc_cmap *m = cmap_malloc(sizeof(*m));
    if (m == NULL)
        return NULL;
    m->seg = NULL;
    if (!cmap_fail())
        m->seg = aligned_alloc(64, nseg * sizeof(cseg));
    if (m->seg == NULL) {
        free(m);
        return NULL;
    }
    m->segmask = (uint32_t)(nseg - 1);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    m->seed = fold((uint64_t)ts.tv_nsec ^ K2, (uint64_t)(uintptr_t)m ^ K1);
    for (size_t i = 0; i < nseg; i++) {
        cseg *s = &m->seg[i];
        memset(s, 0, sizeof(*s));
        atomic_init(&s->lock, 0);
        atomic_init(&s->count, 0);
        atomic_init(&s->moves, 0);
        s->min_cap = per;
        s->small_cap = CMAP_SMALL;
        s->small_epoch = 0;
        for (size_t b = 0; b < CMAP_SMALL; b++)
            atomic_init(&s->small_slot[b].meta, 0);
        ctable *t = per == CMAP_SMALL ? seg_small(s) : table_new(per, false);
        atomic_init(&s->table, t != NULL ? tab_word(t) : 0);
        s->small_current = t == seg_small(s);
        if (t == NULL) {
            for (size_t j = 0; j < i; j++) {
                ctable *o = seg_table(&m->seg[j]);
                if (o != seg_small(&m->seg[j]))
                    table_free(o);
            }
            free(m->seg);
            free(m);
            return NULL;
        }
    }
    return m;
}

void goc_cmap_free(goc_cmap *m, void (*free_value)(void *))
{
    if (m == NULL)
        return;
    for (size_t i = 0; i <= m->segmask; i++) {
        cseg *s = &m->seg[i];
        ctable *t = seg_table(s);
        for (size_t j = 0; j < t->cap; j++) {
            cslot *sl = &t->slot[j];
            unsigned st =
                meta_st(atomic_load_explicit(&sl->meta, memory_order_relaxed));
            if (st == 0)
                continue;
            if (st == CMAP_LONG)
                free((void *)(uintptr_t)atomic_load_explicit(
                    &sl->k[0], memory_order_relaxed));
            if (free_value != NULL)
                free_value(
                    atomic_load_explicit(&sl->value, memory_order_relaxed));
        }
        if (t != seg_small(s))
            table_free(t);
    }
    free(m->seg);
    free(m);
    pool_drain();
}

static inline bool key_ok(const void *key, size_t klen)
{
    return (key != NULL || klen == 0) && klen <= GOC_CMAP_KEY_MAX;
}

/* The writer's probe (s locked): the slot holding k, or NULL with *empty
 * the first empty slot of k's run. */
static inline cslot *seg_find_locked(ctable *t, const ckey *k, cslot **empty)
{
    size_t cap = t->cap;
    size_t i = home_of(k->h32, cap);
    for (;;) {
        cslot *sl = &t->slot[i];
        uint64_t m = atomic_load_explicit(&sl->meta, memory_order_relaxed);
        if (meta_st(m) == 0) {
            *empty = sl;
            return NULL;
        }
        if (meta_is(m, k) &&
            key_is(k, atomic_load_explicit(&sl->k[0], memory_order_relaxed),
                   atomic_load_explicit(&sl->k[1], memory_order_relaxed)))
            return sl;
        if (++i == cap)
            i = 0;
    }
}

/* The reader's probe, inside an epoch section: 1 found (*v), 0 absent, -1
 * start over (a slot or the segment changed under the probe). */
static inline __attribute__((always_inline)) int
seg_find_read_h(cseg *s, const ckey *kp, void **v,
                void (*hook)(void *, int, uint64_t, uint64_t), void *arg)
{
    const ckey kc = *kp; /* a copy the compiler keeps in registers */
    const ckey *k = &kc;
    uint64_t mv = atomic_load_explicit(&s->moves, memory_order_acquire);
    if (mv & 1)
        return -1;
    uintptr_t tw = atomic_load_explicit(&s->table, memory_order_acquire);
    ctable *t = tab_of(tw);
    size_t cap = tab_cap(tw);
    size_t i = home_of(k->h32, cap), left = cap;
    for (;;) {
        /* A table always has an empty slot, but a probe racing writers
         * that fill the slot ahead of it and empty others behind could
         * in theory go round: after a lap it starts over. */
        if (__builtin_expect(left-- == 0, 0))
            return -1;
        cslot *sl = &t->slot[i];
        uint64_t m = atomic_load_explicit(&sl->meta, memory_order_acquire);
        if (hook != NULL)
            hook(arg, 0, m,
                 atomic_load_explicit(&sl->k[0], memory_order_relaxed));
        if (meta_st(m) == 0)
            break;
        if (meta_is(m, k)) {
            /* Acquire loads (plain loads on x86) keep the second load of
             * meta after them: seqlock validation, the key words and the
             * value belong to meta m. */
            uint64_t a = atomic_load_explicit(&sl->k[0], memory_order_acquire);
            uint64_t b = atomic_load_explicit(&sl->k[1], memory_order_acquire);
            if (hook != NULL)
                hook(arg, 1, m, a);
            void *val = atomic_load_explicit(&sl->value, memory_order_acquire);
            if (atomic_load_explicit(&sl->meta, memory_order_relaxed) != m)
                return -1;
            if (key_is(k, a, b)) {
                *v = val;
                return 1;
            }
        }
        if (++i == cap)
            i = 0;
    }
    /* A miss holds only if no delete shifted an entry past the probe
     * (the acquire loads of the slots keep this load after them). */
    return atomic_load_explicit(&s->moves, memory_order_relaxed) == mv ? 0 : -1;
}

static inline __attribute__((always_inline)) int
seg_find_read(cseg *s, const ckey *k, void **v)
{
    return seg_find_read_h(s, k, v, NULL, NULL);
}

/* Read under the lock (no epoch record, or writers kept changing the
 * segment under lock-free tries). */
static __attribute__((noinline)) int seg_find_slow(cseg *s, const ckey *k,
                                                   void **v)
{
    goc__ebr_rec *r = goc__ebr_cur();
    int rc = -1;
    for (int tries = 1; r != NULL && rc < 0 && tries < CMAP_READ_TRIES;
         tries++) {
        goc__ebr_enter(r);
        rc = seg_find_read(s, k, v);
        goc__ebr_leave(r);
    }
    if (rc >= 0)
        return rc;
    seg_lock(s);
    cslot *e;
    cslot *sl = seg_find_locked(seg_table(s), k, &e);
    if (sl != NULL)
        *v = atomic_load_explicit(&sl->value, memory_order_relaxed);
    seg_unlock(s);
    return sl != NULL;
}

/* A lookup; key_ok(key, klen) holds. Inlined with a constant klen for the
 * common key sizes: the hash, the key's words and the compare fold. */
static inline __attribute__((always_inline)) bool
cmap_get(goc_cmap *m, const void *key, size_t klen, void **value)
{
    uint64_t h = cmap_hash(m->seed, key, klen);
    cseg *s = seg_of(m, h);
    ckey k;
    key_prep(&k, h, key, klen);
    goc__ebr_rec *r = goc__ebr_cur();
    void *v = NULL;
    int rc = -1;
    if (__builtin_expect(r != NULL, 1)) {
        goc__ebr_enter(r);
        rc = seg_find_read(s, &k, &v);
        goc__ebr_leave(r);
    }
    if (__builtin_expect(rc < 0, 0)) {
        /* Copies: the fast path's k and v never have their address
         * taken, so they stay in registers. */
        ckey k2 = k;
        void *v2 = NULL;
        rc = seg_find_slow(s, &k2, &v2);
        v = v2;
    }
    if (rc > 0 && value != NULL)
        *value = v;
    return rc > 0;
}

static __attribute__((noinline)) bool cmap_get_any(goc_cmap *m, const void *key,
                                                   size_t klen, void **value)
{
    if (!key_ok(key, klen))
        return false;
    return cmap_get(m, key, klen, value);
}

bool goc__cmap_get_hooked(goc_cmap *m, const void *key, size_t klen,
                          void **value,
                          void (*hook)(void *, int, uint64_t, uint64_t),
                          void *arg)
{
    if (!key_ok(key, klen))
        return false;
    uint64_t h = cmap_hash(m->seed, key, klen);
    cseg *s = seg_of(m, h);
    ckey k;
    key_prep(&k, h, key, klen);
    goc__ebr_rec *r = goc__ebr_cur();
    void *v = NULL;
    int rc = -1;
    if (r != NULL) {
        goc__ebr_enter(r);
        rc = seg_find_read_h(s, &k, &v, hook, arg);
        goc__ebr_leave(r);
    }
    if (rc < 0)
        rc = seg_find_slow(s, &k, &v);
    if (rc > 0 && value != NULL)
        *value = v;
    return rc > 0;
}

/* Insert or replace. mode: 0 put (replace), 1 load_or_store (keep), 2 cas
 * (replace only if the value is *expect). Answers 1 inserted, 0 found
 * (*cur: the value found, before any replacement), or -errno. */
enum { PUT_REPLACE, PUT_KEEP, PUT_CAS };

static inline __attribute__((always_inline)) int
cmap_store(goc_cmap *m, const void *key, size_t klen, void *value, int mode,
           void *expect, void **cur)
{
    if (!key_ok(key, klen))
        return -EINVAL;
    uint64_t h = cmap_hash(m->seed, key, klen);
    cseg *s = seg_of(m, h);
    ckey k;
    key_prep(&k, h, key, klen);
    retiree old = {NULL, NULL, 0};
    int rc;
    seg_lock(s);
    ctable *t = seg_table(s);
    cslot *e;
    cslot *sl = seg_find_locked(t, &k, &e);
    if (sl != NULL) {
        void *v = atomic_load_explicit(&sl->value, memory_order_relaxed);
        *cur = v;
        if (mode == PUT_REPLACE || (mode == PUT_CAS && v == expect))
            /* Release pairs with the readers' acquire load of value. */
            atomic_store_explicit(&sl->value, value, memory_order_release);
        rc = 0;
    } else if (mode == PUT_CAS) {
        rc = -ENOENT;
    } else {
        size_t c = atomic_load_explicit(&s->count, memory_order_relaxed) + 1;
        unsigned char *copy = NULL;
        rc = 1;
        if (k.st == CMAP_LONG) {
            copy = cmap_malloc(klen);
            if (copy == NULL)
                rc = -ENOMEM;
            else
                memcpy(copy, key, klen);
        }
        if (rc == 1 && too_full(c, t->cap) && t->cap < CMAP_MAX_SLOTS &&
            seg_rebuild(s, cap_grown(t->cap), &old)) {
            t = seg_table(s);
            seg_find_locked(t, &k, &e);
        }
        if (rc == 1 && c + 1 > t->cap) {
            /* The table must keep an empty slot, and could not grow. */
            free(copy);
            rc = -ENOMEM;
        }
        if (rc == 1) {
            uint64_t em = atomic_load_explicit(&e->meta, memory_order_relaxed);
            if (copy != NULL)
                slot_fill(e, em, k.h32, k.st, (uint64_t)(uintptr_t)copy, klen,
                          value);
            else
                slot_fill(e, em, k.h32, k.st, k.w[0], k.w[1], value);
            atomic_store_explicit(&s->count, c, memory_order_relaxed);
        }
    }
    seg_unlock(s);
    if (old.p != NULL)
        goc__ebr_retire(goc__ebr_cur(), old.p, old.fn, old.weight);
    return rc;
}

/* Remove key, if cad only when its value is expect. */
static inline __attribute__((always_inline)) bool
cmap_remove(goc_cmap *m, const void *key, size_t klen, bool cad, void *expect,
            void **old_value)
{
    if (!key_ok(key, klen))
        return false;
    uint64_t h = cmap_hash(m->seed, key, klen);
    cseg *s = seg_of(m, h);
    ckey k;
    key_prep(&k, h, key, klen);
    retiree old = {NULL, NULL, 0};
    void *long_key = NULL;
    bool found = false;
    seg_lock(s);
    ctable *t = seg_table(s);
    cslot *e;
    cslot *sl = seg_find_locked(t, &k, &e);
    if (sl != NULL) {
        void *v = atomic_load_explicit(&sl->value, memory_order_relaxed);
        if (!cad || v == expect) {
            found = true;
            if (old_value != NULL)
                *old_value = v;
            if (k.st == CMAP_LONG)
                long_key = (void *)(uintptr_t)atomic_load_explicit(
                    &sl->k[0], memory_order_relaxed);
            /* Backward-shift deletion inside an odd moves: readers that
             * miss meanwhile start over. */
            uint64_t mv = atomic_load_explicit(&s->moves, memory_order_relaxed);
            /* Ordered before the slots' (release) stores that follow. */
            atomic_store_explicit(&s->moves, mv + 1, memory_order_relaxed);
            size_t cap = t->cap;
            size_t j = (size_t)(sl - t->slot), i = j;
            slot_clear(&t->slot[j]);
            for (;;) {
                if (++i == cap)
                    i = 0;
                cslot *n = &t->slot[i];
                uint64_t nm =
                    atomic_load_explicit(&n->meta, memory_order_relaxed);
                if (meta_st(nm) == 0)
                    break;
                size_t home = home_of(meta_h32(nm), cap);
                /* n may fill the hole j unless its home lies in (j, i]. */
                if (((i - home + cap) % cap) >= ((i - j + cap) % cap)) {
                    cslot *hole = &t->slot[j];
                    slot_fill(
                        hole,
                        atomic_load_explicit(&hole->meta, memory_order_relaxed),
                        meta_h32(nm), meta_st(nm),
                        atomic_load_explicit(&n->k[0], memory_order_relaxed),
                        atomic_load_explicit(&n->k[1], memory_order_relaxed),
                        atomic_load_explicit(&n->value, memory_order_relaxed));
                    slot_clear(n);
                    j = i;
                }
            }
            /* Release pairs with the readers' acquire fence before their
             * second load of moves. */
            atomic_store_explicit(&s->moves, mv + 2, memory_order_release);
            size_t c =
                atomic_load_explicit(&s->count, memory_order_relaxed) - 1;
            atomic_store_explicit(&s->count, c, memory_order_relaxed);
            seg_maybe_shrink(s, c, &old);
        }
    }
    seg_unlock(s);
    if (found && (long_key != NULL || old.p != NULL)) {
        goc__ebr_rec *r = goc__ebr_cur();
        if (long_key != NULL)
            goc__ebr_retire(r, long_key, long_key_retired, 1);
        if (old.p != NULL) {
            goc__ebr_retire(r, old.p, old.fn, old.weight);
            /* A segment shrank: the map is emptying, keep nothing. */
            pool_drain();
        }
    }
    return found;
}

static __attribute__((noinline)) int cmap_put_any(goc_cmap *m, const void *key,
                                                  size_t klen, void *value)
{
    void *cur;
    return cmap_store(m, key, klen, value, PUT_REPLACE, NULL, &cur);
}

int goc_cmap_put(goc_cmap *m, const void *key, size_t klen, void *value)
{
    void *cur;
    if (klen == 16 && key != NULL)
        return cmap_store(m, key, 16, value, PUT_REPLACE, NULL, &cur);
    return cmap_put_any(m, key, klen, value);
}

bool goc_cmap_get(goc_cmap *m, const void *key, size_t klen, void **value)
{
    if (klen == 16 && key != NULL)
        return cmap_get(m, key, 16, value);
    return cmap_get_any(m, key, klen, value);
}

static __attribute__((noinline)) bool
cmap_delete_any(goc_cmap *m, const void *key, size_t klen, void **old)
{
    return cmap_remove(m, key, klen, false, NULL, old);
}

bool goc_cmap_delete(goc_cmap *m, const void *key, size_t klen, void **old)
{
    if (klen == 16 && key != NULL)
        return cmap_remove(m, key, 16, false, NULL, old);
    return cmap_delete_any(m, key, klen, old);
}

static inline __attribute__((always_inline)) bool
cmap_load_or_store(goc_cmap *m, const void *key, size_t klen, void *value,
                   void **actual)
{
    void *v;
    /* The common case first: present, answered without a lock. */
    if (key_ok(key, klen) && cmap_get(m, key, klen, &v)) {
        if (actual != NULL)
            *actual = v;
        return true;
    }
    int rc = cmap_store(m, key, klen, value, PUT_KEEP, NULL, &v);
    if (actual != NULL)
        *actual = rc == 0 ? v : rc == 1 ? value : NULL;
    return rc == 0;
}

bool goc_cmap_load_or_store(goc_cmap *m, const void *key, size_t klen,
                            void *value, void **actual)
{
    return cmap_load_or_store(m, key, klen, value, actual);
}

bool goc_cmap_cas(goc_cmap *m, const void *key, size_t klen, void *old,
                  void *value)
{
    void *cur;
    return cmap_store(m, key, klen, value, PUT_CAS, old, &cur) == 0 &&
           cur == old;
}

bool goc_cmap_cad(goc_cmap *m, const void *key, size_t klen, void *old)
{
    return cmap_remove(m, key, klen, true, old, NULL);
}

size_t goc_cmap_len(goc_cmap *m)
{
    size_t n = 0;
    for (size_t i = 0; i <= m->segmask; i++)
        n += atomic_load_explicit(&m->seg[i].count, memory_order_relaxed);
    return n;
}

/* ---- range ------------------------------------------------------------- */

/* A segment's snapshot: records of (value, klen, key bytes), each padded
 * to 8 bytes, in one buffer. */
typedef struct snap {
    unsigned char *buf;
    size_t len, cap;
} snap;

typedef struct snap_rec {
    void *value;
    size_t klen;
} snap_rec;

static bool snap_add(snap *sn, const void *key, size_t klen, void *v)
{
    size_t need = sizeof(snap_rec) + ((klen + 7) & ~(size_t)7);
    if (sn->len + need > sn->cap) {
        size_t cap = sn->cap ? sn->cap : 4096;
        while (cap < sn->len + need)
            cap *= 2;
        unsigned char *b = cmap_realloc(sn->buf, cap);
        if (b == NULL)
            return false;
        sn->buf = b;
        sn->cap = cap;
    }
    snap_rec *rec = (snap_rec *)(sn->buf + sn->len);
    rec->value = v;
    rec->klen = klen;
    memcpy(rec + 1, key, klen);
    sn->len += need;
    return true;
}

/* Copy the entries of segment s's table: 1 done, 0 out of memory, -1
 * start over (a delete shifted entries meanwhile: an entry could have
 * been met twice or missed). locked: s is locked (nothing changes). */
static int snap_walk(cseg *s, snap *sn, bool locked)
{
    uint64_t mv = atomic_load_explicit(&s->moves, memory_order_acquire);
    if (mv & 1)
        return -1;
    ctable *t = tab_of(atomic_load_explicit(&s->table, memory_order_acquire));
    sn->len = 0;
    for (size_t i = 0; i < t->cap; i++) {
        cslot *sl = &t->slot[i];
        for (;;) {
            uint64_t m = atomic_load_explicit(&sl->meta, memory_order_acquire);
            unsigned st = meta_st(m);
            if (st == 0)
                break;
            uint64_t w[2] = {
                atomic_load_explicit(&sl->k[0], memory_order_acquire),
                atomic_load_explicit(&sl->k[1], memory_order_acquire)};
            void *v = atomic_load_explicit(&sl->value, memory_order_acquire);
            if (!locked &&
                atomic_load_explicit(&sl->meta, memory_order_relaxed) != m)
                continue; /* rewritten meanwhile: read it again */
            bool ok = st == CMAP_LONG
                          ? snap_add(sn, (const void *)(uintptr_t)w[0],
                                     (size_t)w[1], v)
                          : snap_add(sn, w, st - 1, v);
            if (!ok)
                return 0;
            break;
        }
    }
    return atomic_load_explicit(&s->moves, memory_order_relaxed) == mv ? 1 : -1;
}

/* Copy segment s's table as it is now. False when out of memory. */
static bool snap_take(cseg *s, snap *sn)
{
    goc__ebr_rec *r = goc__ebr_cur();
    int rc = -1;
    for (int tries = 0; r != NULL && rc < 0 && tries < 8; tries++) {
        goc__ebr_enter(r);
        rc = snap_walk(s, sn, false);
        goc__ebr_leave(r);
    }
    if (rc < 0) {
        /* No epoch record, or deletes kept shifting: copy under the
         * lock. */
        seg_lock(s);
        rc = snap_walk(s, sn, true);
        seg_unlock(s);
    }
    return rc > 0;
}

void goc_cmap_range(goc_cmap *m,
                    bool (*fn)(const void *key, size_t klen, void *value,
                               void *arg),
                    void *arg)
{
    snap sn = {NULL, 0, 0};
    for (size_t i = 0; i <= m->segmask; i++) {
        if (!snap_take(&m->seg[i], &sn))
            break;
        /* fn runs outside any section and lock: it may park or call m. */
        for (size_t off = 0; off < sn.len;) {
            snap_rec *rec = (snap_rec *)(sn.buf + off);
            if (!fn(rec + 1, rec->klen, rec->value, arg)) {
                free(sn.buf);
                return;
            }
            off += sizeof(snap_rec) + ((rec->klen + 7) & ~(size_t)7);
        }
    }
    free(sn.buf);
}

/* ---- uint64_t keys ----------------------------------------------------- */

int goc_cmap_u64_put(goc_cmap *m, uint64_t key, void *value)
{
    void *cur;
    return cmap_store(m, &key, 8, value, PUT_REPLACE, NULL, &cur);
}

bool goc_cmap_u64_get(goc_cmap *m, uint64_t key, void **value)
{
    return cmap_get(m, &key, 8, value);
}

bool goc_cmap_u64_delete(goc_cmap *m, uint64_t key, void **old)
{
    return cmap_remove(m, &key, 8, false, NULL, old);
}

bool goc_cmap_u64_load_or_store(goc_cmap *m, uint64_t key, void *value,
                                void **actual)
{
    return cmap_load_or_store(m, &key, 8, value, actual);
}

bool goc_cmap_u64_cas(goc_cmap *m, uint64_t key, void *old, void *value)
{
    void *cur;
    return cmap_store(m, &key, 8, value, PUT_CAS, old, &cur) == 0 && cur == old;
}

bool goc_cmap_u64_cad(goc_cmap *m, uint64_t key, void *old)
{
    return cmap_remove(m, &key, 8, true, old, NULL);
}
