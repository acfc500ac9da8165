/*
 * cmap.c - the concurrent map (goc/cmap.h): segments of chained hash
 * tables, lock-free reads, per-segment writer locks, per-segment rebuilds,
 * epoch-based reclamation (epoch.c). docs/cmap.md tells the design; here
 * is what the code relies on.
 *
 * Shape. A key's 64-bit hash picks a segment by its bits 40.. and a
 * bucket of that segment's table by its low bits. A table is an array of
 * chain heads; a node holds next, the value, the low 32 bits of the hash
 * (which also give the bucket in any table of up to 2^32 buckets), the key
 * length and the key bytes inline: one allocation per entry.
 *
 * Readers (get, the first look of load_or_store, range's walk) enter an
 * epoch section, load the segment's table (acquire), walk one chain
 * (acquire loads of next) and leave. They take no lock and write nothing
 * but their own thread's epoch record.
 *
 * Writers lock their segment (goc__spin_lock: the holder never parks) and:
 *   insert   initialise a node, link it at the head of its chain with a
 *            release store (a reader that sees the node sees its fields);
 *   replace  store the new value into the node (release);
 *   delete   unlink the node with a release store into its predecessor,
 *            leaving the node's own next untouched, so that a reader
 *            standing on it walks on into the live chain; the node is
 *            retired to the epochs, never freed at once;
 *   rebuild  when a segment's count passes its bucket count (grow x2) or
 *            falls under an eighth of it (shrink), the writer copies every
 *            node into a new table and publishes it with one release store.
 *            Readers keep walking the old table meanwhile: it is frozen
 *            (writers wait for the lock) and complete, so they see the
 *            segment as it was when the rebuild started. The old table and
 *            its nodes are then retired as one item.
 *
 * Invariants: (1) a segment's current table contains each present key of
 * the segment exactly once, in the chain of its bucket; (2) a table that
 * is no longer current is never written again; (3) a node reachable from a
 * current or retired-but-not-freed table is never freed; (4) a chain only
 * changes by a new head or by unlinking, so a walker never meets a node
 * twice. Lock order: one segment lock at a time; none held while calling
 * back into the user (range) or while freeing retired memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmap/cmap_internal.h"
#include "goc/cmap.h"
#include "runtime/primitives.h"

#define CMAP_DEFAULT_CONCURRENCY 16
#define CMAP_MAX_SEGMENTS 4096
#define CMAP_MIN_BUCKETS 8
#define CMAP_MAX_BUCKETS ((size_t)1 << 31)

_Atomic long goc__cmap_fail_after = -1;
void (*_Atomic goc__cmap_rebuild_hook)(void);

typedef struct cnode {
    struct cnode *_Atomic next; /* release-stored under the segment lock */
    void *_Atomic value;        /* release-stored under the segment lock */
    uint32_t hash;              /* low 32 bits of the hash; immutable */
    uint32_t klen;              /* immutable */
    unsigned char key[];        /* immutable */
} cnode;

typedef struct ctable {
    size_t mask;             /* buckets - 1; immutable */
    cnode *_Atomic bucket[]; /* chain heads, written under the lock */
} ctable;

/*
 * A segment. Its smallest table (CMAP_SMALL buckets) lives inside it
 * rather than on the heap: an emptied map then holds no scattered little
 * allocations that would pin pages of the allocator's heap. The small
 * table is never freed; once replaced, it is reused only after a grace
 * period (small_epoch + 2), like any retired memory.
 */
#define CMAP_SMALL 8
typedef struct cseg {
    _Atomic uint32_t lock; /* goc__spin_lock: guards writes below */
    ctable *_Atomic table; /* current table: published under the lock */
    _Atomic size_t count;  /* entries: written under lock, read by len */
    size_t min_buckets;    /* never shrink below; immutable */
    bool small_current;    /* the small table is current; under lock */
    uint64_t small_epoch;  /* epoch when it stopped being; under lock */
    /* The small table: laid out as a ctable (see seg_small). */
    size_t small_mask;
    cnode *_Atomic small_bucket[CMAP_SMALL];
} __attribute__((aligned(64))) cseg;

_Static_assert(offsetof(cseg, small_bucket) - offsetof(cseg, small_mask) ==
                   offsetof(ctable, bucket),
               "the small table must be laid out as a ctable");

static inline ctable *seg_small(cseg *s)
{
    return (ctable *)&s->small_mask;
}

struct goc_cmap {
    uint64_t seed;    /* hash seed; immutable */
    uint32_t segmask; /* segments - 1; immutable */
    cseg *seg;        /* the segments; immutable */
};

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

static void *cmap_calloc(size_t n)
{
    return cmap_fail() ? NULL : calloc(1, n);
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

/* ---- segments ---------------------------------------------------------- */

static inline cseg *seg_of(goc_cmap *m, uint64_t h)
{
    return &m->seg[(uint32_t)(h >> 40) & m->segmask];
}

static inline bool node_is(const cnode *n, uint32_t h32, const void *key,
                           size_t klen)
{
    if (n->hash != h32 || n->klen != klen)
        return false;
    const unsigned char *k = key;
    /* 8 to 16 bytes (the common keys): two overlapping words, no call. */
    if (klen >= 8 && klen <= 16)
        return ld64(n->key) == ld64(k) &&
               ld64(n->key + klen - 8) == ld64(k + klen - 8);
    /* (klen 0: key may be NULL, which memcmp must not see) */
    return klen == 0 || memcmp(n->key, k, klen) == 0;
}

static ctable *table_new(size_t buckets)
{
    ctable *t = cmap_calloc(sizeof(ctable) + buckets * sizeof(cnode *));
    if (t != NULL)
        t->mask = buckets - 1;
    return t;
}

/* Free a table with every node of its chains, calling free_value on each
 * value unless NULL. Only for tables no reader can reach. */
static void table_destroy(ctable *t, void (*free_value)(void *))
{
    for (size_t i = 0; i <= t->mask; i++) {
        cnode *n = atomic_load_explicit(&t->bucket[i], memory_order_relaxed);
        while (n != NULL) {
            cnode *next = atomic_load_explicit(&n->next, memory_order_relaxed);
            if (free_value != NULL)
                free_value(
                    atomic_load_explicit(&n->value, memory_order_relaxed));
            free(n);
            n = next;
        }
    }
    free(t);
}

static void table_retired(void *p)
{
    table_destroy(p, NULL);
}

static inline void seg_lock(cseg *s)
{
    goc__spin_lock(&s->lock);
}

static inline void seg_unlock(cseg *s)
{
    goc__spin_unlock(&s->lock);
}

/* The nodes of a replaced small table, retired as one item. */
typedef struct node_list {
    size_t n;
    cnode *node[];
} node_list;

static void node_list_retired(void *p)
{
    node_list *l = p;
    for (size_t i = 0; i < l->n; i++)
        free(l->node[i]);
    free(l);
}

/* Free the nodes of t's chains and empty it (a table being built that no
 * reader has seen). */
static void table_clear(ctable *t)
{
    for (size_t i = 0; i <= t->mask; i++) {
        cnode *n = atomic_load_explicit(&t->bucket[i], memory_order_relaxed);
        while (n != NULL) {
            cnode *next = atomic_load_explicit(&n->next, memory_order_relaxed);
            free(n);
            n = next;
        }
        atomic_store_explicit(&t->bucket[i], NULL, memory_order_relaxed);
    }
}

/* What a rebuild leaves to retire once the segment is unlocked. */
typedef struct retiree {
    void *p;
    void (*fn)(void *);
    size_t weight;
} retiree;

/* Rebuild s's table with `buckets` buckets. Called with s locked; true
 * when done (*out: what to retire once unlocked), false when memory ran
 * out (the old table then stays: a full table is slower, never wrong). */
static bool seg_rebuild(cseg *s, size_t buckets, size_t count, retiree *out)
{
    ctable *old = atomic_load_explicit(&s->table, memory_order_relaxed);
    ctable *small = seg_small(s);
    node_list *list = NULL;
    ctable *t;
    if (old == small) {
        /* Its nodes will be retired by list (the table itself stays). */
        list = cmap_malloc(sizeof(node_list) + count * sizeof(cnode *));
        if (list == NULL)
            return false;
        list->n = 0;
    }
    if (buckets == CMAP_SMALL && old != small &&
        atomic_load_explicit(&goc__ebr_epoch, memory_order_seq_cst) >=
            s->small_epoch + 2) {
        /* No reader is left on the small table: empty it (its chains
         * are the old nodes, freed through their node_list). */
        t = small;
        for (size_t i = 0; i < CMAP_SMALL; i++)
            atomic_store_explicit(&t->bucket[i], NULL, memory_order_relaxed);
    } else {
        t = table_new(buckets);
        if (t == NULL) {
            free(list);
            return false;
        }
    }
    void (*hook)(void) =
        atomic_load_explicit(&goc__cmap_rebuild_hook, memory_order_relaxed);
    if (hook != NULL)
        hook();
    for (size_t i = 0; i <= old->mask; i++) {
        for (cnode *n =
                 atomic_load_explicit(&old->bucket[i], memory_order_relaxed);
             n != NULL;
             n = atomic_load_explicit(&n->next, memory_order_relaxed)) {
            size_t sz = sizeof(cnode) + n->klen;
            cnode *c = cmap_malloc(sz);
            if (c == NULL) {
                if (t == small)
                    table_clear(t);
                else
                    table_destroy(t, NULL);
                free(list);
                return false;
            }
            memcpy(c, n, sz);
            cnode *_Atomic *head = &t->bucket[c->hash & t->mask];
            atomic_init(&c->next,
                        atomic_load_explicit(head, memory_order_relaxed));
            atomic_init(head, c);
            if (list != NULL)
                list->node[list->n++] = n;
        }
    }
    /* Release pairs with the readers' acquire load of the table: they see
     * the new table complete. */
    atomic_store_explicit(&s->table, t, memory_order_release);
    s->small_current = t == small;
    if (old == small) {
        /* Readers may stand on the small table until two epochs pass. The
         * fence orders the publication before the epoch's load (as in
         * goc__ebr_retire). */
        atomic_thread_fence(memory_order_seq_cst);
        s->small_epoch =
            atomic_load_explicit(&goc__ebr_epoch, memory_order_seq_cst);
        *out = (retiree){list, node_list_retired, list->n + 1};
    } else {
        *out = (retiree){old, table_retired, count + 1};
    }
    return true;
}

/* After a change of count: rebuild s if its load calls for it. True if
 * rebuilt, with what to retire in *out. */
static bool seg_maybe_resize(cseg *s, size_t count, retiree *out)
{
    ctable *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    size_t buckets = t->mask + 1;
    if (count > buckets && buckets < CMAP_MAX_BUCKETS)
        return seg_rebuild(s, buckets * 2, count, out);
    if (count < buckets / 8 && buckets > s->min_buckets) {
        size_t nb = s->min_buckets;
        while (nb < count * 2)
            nb *= 2;
        return seg_rebuild(s, nb, count, out);
    }
    return false;
}

static void node_retired(void *p)
{
    free(p);
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
    size_t per = CMAP_MIN_BUCKETS;
    while (per < CMAP_MAX_BUCKETS / 2 && per * nseg < cap)
        per *= 2;

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
        atomic_init(&s->lock, 0);
        atomic_init(&s->count, 0);
        s->min_buckets = per;
        s->small_mask = CMAP_SMALL - 1;
        s->small_epoch = 0;
        for (size_t b = 0; b < CMAP_SMALL; b++)
            atomic_init(&s->small_bucket[b], NULL);
        ctable *t = per == CMAP_SMALL ? seg_small(s) : table_new(per);
        atomic_init(&s->table, t);
        s->small_current = t == seg_small(s);
        if (t == NULL) {
            for (size_t j = 0; j < i; j++)
                free(atomic_load_explicit(&m->seg[j].table,
                                          memory_order_relaxed));
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
        ctable *t = atomic_load_explicit(&s->table, memory_order_acquire);
        if (t == seg_small(s)) {
            for (size_t b = 0; b < CMAP_SMALL; b++)
                for (cnode *n = atomic_load_explicit(&t->bucket[b],
                                                     memory_order_relaxed),
                           *next;
                     n != NULL; n = next) {
                    next = atomic_load_explicit(&n->next, memory_order_relaxed);
                    if (free_value != NULL)
                        free_value(atomic_load_explicit(&n->value,
                                                        memory_order_relaxed));
                    free(n);
                }
        } else {
            table_destroy(t, free_value);
        }
    }
    free(m->seg);
    free(m);
}

static inline bool key_ok(const void *key, size_t klen)
{
    return (key != NULL || klen == 0) && klen <= GOC_CMAP_KEY_MAX;
}

/* Look key up in the segment's current table. The caller is inside an
 * epoch section or holds the segment lock. */
static inline cnode *seg_find(cseg *s, uint64_t h, const void *key, size_t klen)
{
    ctable *t = atomic_load_explicit(&s->table, memory_order_acquire);
    uint32_t h32 = (uint32_t)h;
    for (cnode *n = atomic_load_explicit(&t->bucket[h & t->mask],
                                         memory_order_acquire);
         n != NULL; n = atomic_load_explicit(&n->next, memory_order_acquire))
        if (node_is(n, h32, key, klen))
            return n;
    return NULL;
}

static inline __attribute__((always_inline)) bool
cmap_get(goc_cmap *m, const void *key, size_t klen, void **value)
{
    if (!key_ok(key, klen))
        return false;
    uint64_t h = cmap_hash(m->seed, key, klen);
    cseg *s = seg_of(m, h);
    goc__ebr_rec *r = goc__ebr_self();
    cnode *n;
    void *v = NULL;
    if (__builtin_expect(r != NULL, 1)) {
        goc__ebr_enter(r);
        n = seg_find(s, h, key, klen);
        if (n != NULL)
            v = atomic_load_explicit(&n->value, memory_order_acquire);
        goc__ebr_leave(r);
    } else {
        seg_lock(s); /* no epoch record: read under the lock instead */
        n = seg_find(s, h, key, klen);
        if (n != NULL)
            v = atomic_load_explicit(&n->value, memory_order_acquire);
        seg_unlock(s);
    }
    if (n != NULL && value != NULL)
        *value = v;
    return n != NULL;
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
    retiree old = {NULL, NULL, 0};
    int rc;
    seg_lock(s);
    cnode *n = seg_find(s, h, key, klen);
    if (n != NULL) {
        void *v = atomic_load_explicit(&n->value, memory_order_relaxed);
        *cur = v;
        if (mode == PUT_REPLACE || (mode == PUT_CAS && v == expect))
            /* Release pairs with the readers' acquire load of value. */
            atomic_store_explicit(&n->value, value, memory_order_release);
        rc = 0;
    } else if (mode == PUT_CAS) {
        rc = -ENOENT;
    } else {
        n = cmap_malloc(sizeof(cnode) + klen);
        if (n == NULL) {
            rc = -ENOMEM;
        } else {
            ctable *t = atomic_load_explicit(&s->table, memory_order_relaxed);
            cnode *_Atomic *head = &t->bucket[h & t->mask];
            n->hash = (uint32_t)h;
            n->klen = (uint32_t)klen;
            if (klen > 0)
                memcpy(n->key, key, klen);
            atomic_init(&n->value, value);
            atomic_init(&n->next,
                        atomic_load_explicit(head, memory_order_relaxed));
            /* Release pairs with the readers' acquire loads of chain
             * links: a reader that finds n sees its fields. */
            atomic_store_explicit(head, n, memory_order_release);
            size_t c =
                atomic_load_explicit(&s->count, memory_order_relaxed) + 1;
            atomic_store_explicit(&s->count, c, memory_order_relaxed);
            seg_maybe_resize(s, c, &old);
            rc = 1;
        }
    }
    seg_unlock(s);
    if (rc == 1) {
        goc__ebr_rec *r = goc__ebr_self();
        if (old.p != NULL)
            goc__ebr_retire(r, old.p, old.fn, old.weight);
        else
            goc__ebr_poll(r);
    }
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
    uint32_t h32 = (uint32_t)h;
    retiree old = {NULL, NULL, 0};
    cnode *found = NULL;
    seg_lock(s);
    ctable *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    cnode *_Atomic *pp = &t->bucket[h & t->mask];
    cnode *n;
    while ((n = atomic_load_explicit(pp, memory_order_relaxed)) != NULL) {
        if (node_is(n, h32, key, klen)) {
            void *v = atomic_load_explicit(&n->value, memory_order_relaxed);
            if (!cad || v == expect) {
                /* Unlink; n->next stays, for readers standing on n. */
                atomic_store_explicit(
                    pp, atomic_load_explicit(&n->next, memory_order_relaxed),
                    memory_order_release);
                size_t c =
                    atomic_load_explicit(&s->count, memory_order_relaxed) - 1;
                atomic_store_explicit(&s->count, c, memory_order_relaxed);
                found = n;
                if (old_value != NULL)
                    *old_value = v;
                seg_maybe_resize(s, c, &old);
            }
            break;
        }
        pp = &n->next;
    }
    seg_unlock(s);
    if (found != NULL) {
        goc__ebr_rec *r = goc__ebr_self();
        /* A rebuild copied the table without found (already unlinked):
         * the node is retired alone in every case. */
        goc__ebr_retire(r, found, node_retired, 1);
        if (old.p != NULL)
            goc__ebr_retire(r, old.p, old.fn, old.weight);
    }
    return found != NULL;
}

int goc_cmap_put(goc_cmap *m, const void *key, size_t klen, void *value)
{
    void *cur;
    return cmap_store(m, key, klen, value, PUT_REPLACE, NULL, &cur);
}

bool goc_cmap_get(goc_cmap *m, const void *key, size_t klen, void **value)
{
    return cmap_get(m, key, klen, value);
}

bool goc_cmap_delete(goc_cmap *m, const void *key, size_t klen, void **old)
{
    return cmap_remove(m, key, klen, false, NULL, old);
}

static inline __attribute__((always_inline)) bool
cmap_load_or_store(goc_cmap *m, const void *key, size_t klen, void *value,
                   void **actual)
{
    void *v;
    /* The common case first: present, answered without a lock. */
    if (cmap_get(m, key, klen, &v)) {
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

static bool snap_add(snap *sn, const cnode *n, void *v)
{
    size_t need = sizeof(snap_rec) + ((n->klen + 7) & ~(size_t)7);
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
    rec->klen = n->klen;
    memcpy(rec + 1, n->key, n->klen);
    sn->len += need;
    return true;
}

/* Copy segment s's table as it is now. False when out of memory. */
static bool snap_take(cseg *s, snap *sn)
{
    goc__ebr_rec *r = goc__ebr_self();
    bool ok = true;
    sn->len = 0;
    if (r != NULL)
        goc__ebr_enter(r);
    else
        seg_lock(s);
    ctable *t = atomic_load_explicit(&s->table, memory_order_acquire);
    for (size_t i = 0; ok && i <= t->mask; i++)
        for (cnode *n =
                 atomic_load_explicit(&t->bucket[i], memory_order_acquire);
             ok && n != NULL;
             n = atomic_load_explicit(&n->next, memory_order_acquire))
            ok = snap_add(
                sn, n, atomic_load_explicit(&n->value, memory_order_acquire));
    if (r != NULL)
        goc__ebr_leave(r);
    else
        seg_unlock(s);
    return ok;
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
