/*
 * bench_cmap.c - the concurrent map (issue 21) against Concurrency Kit's
 * ck_hs, oneTBB's concurrent_hash_map and a plain single-threaded
 * open-addressing table, in the same run; bench/go/cmap.go is the sync.Map
 * twin with the same key sets and op streams.
 *
 *   bench_cmap -bench cmap_<w>_<keys> -procs T [-n OPS]
 *
 * w: w1 100 % get on a map prefilled with 1M keys; w2 90 % get / 10 % put
 * on it; w3 50 % put / 50 % delete over 1M keys, prefilled with the 500k
 * even ones (churn around 500k); w4 fill 0 -> 1M, no pre-sizing, thread t
 * inserting keys t, t + T, ... keys: str16 (16 hex characters of
 * splitmix64(i)) or u64 (splitmix64(i)). Thread t's stream: xorshift64
 * seeded with (t + 1) * 0x9E3779B97F4A7C15; each step's key index is
 * x % 1M, its choice (x >> 40) % 100. T threads (plain pthreads for every
 * contestant), OPS operations in all (default 2M), split evenly.
 *
 * Rates are Mops per second of CPU time per thread: ops / (the process's
 * CPU time over the timed window / T). On a loaded machine a wall-clock
 * rate measures how much CPU the run was lent; this one what it does per
 * CPU (spinning and contention still count). Wall-clock rates follow
 * (wall_mops, ck_wall...). The Go twin measures the same way (its CPU
 * time includes its garbage collector's).
 *
 * Prints: mops (goc's rate, the primary figure), then ck, tbb and plain
 * (plain only at 1 thread: it is not thread-safe), the ratios, and the
 * bytes per entry of each (anonymous RSS after the prefill or fill, minus
 * before, over the entries; ck_hs counts its 32-byte entry objects, which
 * it points to).
 *
 * ck_hs is single-writer/multi-reader: its writers take a spinlock, its
 * readers none; its deferred frees (old tables) are kept until the end.
 */
#include "bench_common.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#ifdef GOC_BENCH_HAVE_CK
#include <ck_hs.h>
#endif

#define NKEYS 1000000

static char (*keys16)[16];
static uint64_t *keys64;
static int nthreads;
static int keys_are_str;
static int workload; /* 1..4 */
static long total_ops;

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static void make_keys(void)
{
    static const char hex[] = "0123456789abcdef";
    keys16 = malloc(sizeof(*keys16) * NKEYS);
    keys64 = malloc(sizeof(*keys64) * NKEYS);
    for (uint64_t i = 0; i < NKEYS; i++) {
        uint64_t k = splitmix64(i);
        keys64[i] = k;
        for (int j = 0; j < 16; j++)
            keys16[i][j] = hex[(k >> (4 * (15 - j))) & 15];
    }
}

/* The hash the contestants other than goc use (goc has its own). */
static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t bench_cmap_hash16(const void *k);
uint64_t bench_cmap_hash64(uint64_t k);

uint64_t bench_cmap_hash16(const void *k)
{
    uint64_t a, b;
    memcpy(&a, k, 8);
    memcpy(&b, (const char *)k + 8, 8);
    return mix(a ^ 0xa0761d6478bd642full, b ^ 0xe7037ed1a0b428dbull);
}

uint64_t bench_cmap_hash64(uint64_t k)
{
    return mix(k ^ 0xa0761d6478bd642full, k ^ 0xe7037ed1a0b428dbull);
}

/* ---- the contestants: one table of operations each -------------------- */

typedef struct impl {
    const char *name;
    void *(*create)(void);
    void (*destroy)(void *m);
    bool (*get)(void *m, size_t i);
    void (*put)(void *m, size_t i);
    bool (*del)(void *m, size_t i);
} impl;

static inline void *val_of(size_t i)
{
    return (void *)(uintptr_t)(i + 1);
}

/* goc */
static void *goc_create(void)
{
    return goc_cmap_new(NULL);
}
static void goc_destroy(void *m)
{
    goc_cmap_free(m, NULL);
}
static bool goc_get16(void *m, size_t i)
{
    void *v;
    return goc_cmap_get(m, keys16[i], 16, &v) && v == val_of(i);
}
static void goc_put16(void *m, size_t i)
{
    goc_cmap_put(m, keys16[i], 16, val_of(i));
}
static bool goc_del16(void *m, size_t i)
{
    return goc_cmap_delete(m, keys16[i], 16, NULL);
}
static bool goc_get64(void *m, size_t i)
{
    void *v;
    return goc_cmap_u64_get(m, keys64[i], &v) && v == val_of(i);
}
static void goc_put64(void *m, size_t i)
{
    goc_cmap_u64_put(m, keys64[i], val_of(i));
}
static bool goc_del64(void *m, size_t i)
{
    return goc_cmap_u64_delete(m, keys64[i], NULL);
}

/* plain: linear probing, entries inline, backward-shift deletion. */
typedef struct plain_ent {
    uint64_t h; /* 0: empty */
    uint64_t k64;
    char k16[16];
    void *v;
} plain_ent;

typedef struct plain {
    plain_ent *e;
    size_t mask, n;
} plain;

static void *plain_create(void)
{
    plain *p = calloc(1, sizeof(*p));
    p->mask = 15;
    p->e = calloc(16, sizeof(plain_ent));
    return p;
}
static void plain_destroy(void *m)
{
    plain *p = m;
    free(p->e);
    free(p);
}
static inline uint64_t plain_hash(size_t i)
{
    uint64_t h = keys_are_str ? bench_cmap_hash16(keys16[i])
                              : bench_cmap_hash64(keys64[i]);
    return h | 1;
}
static inline bool plain_eq(const plain_ent *e, uint64_t h, size_t i)
{
    return e->h == h && (keys_are_str ? memcmp(e->k16, keys16[i], 16) == 0
                                      : e->k64 == keys64[i]);
}
static size_t plain_find(plain *p, uint64_t h, size_t i)
{
    size_t j = h & p->mask;
    while (p->e[j].h != 0 && !plain_eq(&p->e[j], h, i))
        j = (j + 1) & p->mask;
    return j;
}
static bool plain_get(void *m, size_t i)
{
    plain *p = m;
    size_t j = plain_find(p, plain_hash(i), i);
    return p->e[j].h != 0 && p->e[j].v == val_of(i);
}
static void plain_put(void *m, size_t i)
{
    plain *p = m;
    uint64_t h = plain_hash(i);
    size_t j = plain_find(p, h, i);
    if (p->e[j].h != 0) {
        p->e[j].v = val_of(i);
        return;
    }
    if ((p->n + 1) * 4 > (p->mask + 1) * 3) {
        plain_ent *old = p->e;
        size_t oldn = p->mask + 1;
        p->mask = oldn * 2 - 1;
        p->e = calloc(oldn * 2, sizeof(plain_ent));
        for (size_t a = 0; a < oldn; a++) {
            if (old[a].h == 0)
                continue;
            size_t b = old[a].h & p->mask;
            while (p->e[b].h != 0)
                b = (b + 1) & p->mask;
            p->e[b] = old[a];
        }
        free(old);
        j = plain_find(p, h, i);
    }
    p->e[j].h = h;
    p->e[j].k64 = keys64[i];
    memcpy(p->e[j].k16, keys16[i], 16);
    p->e[j].v = val_of(i);
    p->n++;
}
static bool plain_del(void *m, size_t i)
{
    plain *p = m;
    size_t j = plain_find(p, plain_hash(i), i);
    if (p->e[j].h == 0)
        return false;
    /* Backward shift: pull later entries of the run into the hole. */
    size_t k = j;
    for (;;) {
        k = (k + 1) & p->mask;
        if (p->e[k].h == 0)
            break;
        size_t home = p->e[k].h & p->mask;
        if (((k - home) & p->mask) >= ((k - j) & p->mask)) {
            p->e[j] = p->e[k];
            j = k;
        }
    }
    p->e[j].h = 0;
    p->n--;
    return true;
}

#ifdef GOC_BENCH_HAVE_CK
/* ck_hs: a set of pointers to entry objects, one object per key. */
typedef struct ck_ent {
    uint64_t k64;
    char k16[16];
    void *_Atomic v;
} ck_ent;

typedef struct ckm {
    ck_hs_t hs;
    _Atomic uint32_t lock;
} ckm;

static ck_ent *ck_pool;
static void *_Atomic ck_deferred[4096];
static _Atomic int ck_ndeferred;

static void *ck_malloc_cb(size_t n)
{
    return malloc(n);
}
static void ck_free_cb(void *p, size_t n, bool defer)
{
    (void)n;
    if (!defer) {
        free(p);
        return;
    }
    int i = atomic_fetch_add(&ck_ndeferred, 1); /* freed at the end */
    if (i < 4096)
        ck_deferred[i] = p;
}
static struct ck_malloc ck_alloc = {.malloc = ck_malloc_cb, .free = ck_free_cb};
static unsigned long ck_hash_cb(const void *o, unsigned long seed)
{
    const ck_ent *e = o;
    (void)seed;
    return keys_are_str ? bench_cmap_hash16(e->k16) : bench_cmap_hash64(e->k64);
}
static bool ck_cmp_cb(const void *a, const void *b)
{
    const ck_ent *x = a, *y = b;
    return keys_are_str ? memcmp(x->k16, y->k16, 16) == 0 : x->k64 == y->k64;
}
static void *ck_create(void)
{
    ckm *c = calloc(1, sizeof(*c));
    if (!ck_hs_init(&c->hs, CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC, ck_hash_cb,
                    ck_cmp_cb, &ck_alloc, 8, 0))
        abort();
    if (ck_pool == NULL) {
        ck_pool = calloc(NKEYS, sizeof(ck_ent));
        for (size_t i = 0; i < NKEYS; i++) {
            ck_pool[i].k64 = keys64[i];
            memcpy(ck_pool[i].k16, keys16[i], 16);
        }
    }
    return c;
}
static void ck_destroy(void *m)
{
    ckm *c = m;
    ck_hs_destroy(&c->hs);
    free(c);
    int n = atomic_load(&ck_ndeferred);
    for (int i = 0; i < n && i < 4096; i++)
        free(ck_deferred[i]);
    atomic_store(&ck_ndeferred, 0);
}
static inline unsigned long ck_h(size_t i)
{
    return ck_hash_cb(&ck_pool[i], 0);
}
/* A lookup's key as a caller holds it: a copy apart from the stored
 * object, so that ck_hs's compare reads the stored object as it would in
 * use (probing with the stored object itself would find its bytes already
 * in the cache and spare ck_hs a miss no real caller is spared). */
static inline void ck_key(ck_ent *k, size_t i)
{
    if (keys_are_str)
        memcpy(k->k16, keys16[i], 16);
    else
        k->k64 = keys64[i];
}
static bool ck_get(void *m, size_t i)
{
    ckm *c = m;
    ck_ent k;
    ck_key(&k, i);
    ck_ent *e = ck_hs_get(&c->hs, ck_hash_cb(&k, 0), &k);
    return e != NULL &&
           atomic_load_explicit(&e->v, memory_order_acquire) == val_of(i);
}
static void ck_lock(ckm *c)
{
    while (atomic_exchange_explicit(&c->lock, 1, memory_order_acquire))
        while (atomic_load_explicit(&c->lock, memory_order_relaxed))
            __builtin_ia32_pause();
}
static void ck_unlock(ckm *c)
{
    atomic_store_explicit(&c->lock, 0, memory_order_release);
}
static void ck_put(void *m, size_t i)
{
    ckm *c = m;
    void *prev;
    unsigned long h = ck_h(i);
    ck_lock(c);
    atomic_store_explicit(&ck_pool[i].v, val_of(i), memory_order_release);
    ck_hs_set(&c->hs, h, &ck_pool[i], &prev);
    ck_unlock(c);
}
static bool ck_del(void *m, size_t i)
{
    ckm *c = m;
    ck_ent k;
    ck_key(&k, i);
    unsigned long h = ck_hash_cb(&k, 0);
    ck_lock(c);
    void *r = ck_hs_remove(&c->hs, h, &k);
    ck_unlock(c);
    return r != NULL;
}
#endif

#ifdef GOC_BENCH_HAVE_TBB
void *bench_tbb16_new(void);
void bench_tbb16_free(void *m);
int bench_tbb16_get(void *m, const void *key, void **v);
void bench_tbb16_put(void *m, const void *key, void *v);
int bench_tbb16_del(void *m, const void *key);
void *bench_tbb64_new(void);
void bench_tbb64_free(void *m);
int bench_tbb64_get(void *m, uint64_t key, void **v);
void bench_tbb64_put(void *m, uint64_t key, void *v);
int bench_tbb64_del(void *m, uint64_t key);

static void *tbb_create(void)
{
    return keys_are_str ? bench_tbb16_new() : bench_tbb64_new();
}
static void tbb_destroy(void *m)
{
    if (keys_are_str)
        bench_tbb16_free(m);
    else
        bench_tbb64_free(m);
}
static bool tbb_get(void *m, size_t i)
{
    void *v;
    return (keys_are_str ? bench_tbb16_get(m, keys16[i], &v)
                         : bench_tbb64_get(m, keys64[i], &v)) &&
           v == val_of(i);
}
static void tbb_put(void *m, size_t i)
{
    if (keys_are_str)
        bench_tbb16_put(m, keys16[i], val_of(i));
    else
        bench_tbb64_put(m, keys64[i], val_of(i));
}
static bool tbb_del(void *m, size_t i)
{
    return keys_are_str ? bench_tbb16_del(m, keys16[i])
                        : bench_tbb64_del(m, keys64[i]);
}
#endif

/* ---- the workloads --------------------------------------------------- */

typedef struct run_arg {
    const impl *im;
    void *m;
    int t;
    pthread_barrier_t *bar;
    long misses; /* gets of W1 that did not find their key (must be 0) */
} run_arg;

static void *run_thread(void *p)
{
    run_arg *a = p;
    const impl *im = a->im;
    void *m = a->m;
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(a->t + 1);
    long ops = total_ops / nthreads;
    pthread_barrier_wait(a->bar);
    if (workload == 4) {
        for (size_t i = (size_t)a->t; i < NKEYS; i += (size_t)nthreads)
            im->put(m, i);
    } else {
        for (long n = 0; n < ops; n++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t i = (size_t)(x % NKEYS);
            unsigned sel = (unsigned)((x >> 40) % 100);
            if (workload == 1) {
                a->misses += !im->get(m, i);
            } else if (workload == 2) {
                if (sel < 90)
                    im->get(m, i);
                else
                    im->put(m, i);
            } else {
                if (sel < 50)
                    im->put(m, i);
                else
                    im->del(m, i);
            }
        }
    }
    pthread_barrier_wait(a->bar);
    return NULL;
}

/* Memory in use: anonymous resident bytes (every contestant's allocator
 * counts, tbbmalloc's too), after giving back what malloc keeps free. */
static int64_t heap_in_use(void)
{
    long size = 0, res = 0, shared = 0;
    malloc_trim(0);
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld %ld", &size, &res, &shared) != 3)
        res = shared = 0;
    fclose(f);
    return (int64_t)(res - shared) * sysconf(_SC_PAGESIZE);
}

/* Run the workload on im: Mops per second of CPU time given to each of
 * the T threads; *wall: Mops per second of wall time; *bpe: bytes per
 * entry after the prefill (w1-w3) or the fill (w4). */
static double run_impl(const impl *im, double *bpe, double *wall, int threads)
{
    int64_t h0 = heap_in_use();
    void *m = im->create();
    if (workload != 4)
        for (size_t i = 0; i < NKEYS; i++)
            if (workload != 3 || i % 2 == 0)
                im->put(m, i);
    *bpe = (double)(heap_in_use() - h0) / (workload == 3 ? NKEYS / 2 : NKEYS);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)threads + 1);
    pthread_t th[64];
    run_arg a[64];
    for (int t = 0; t < threads; t++) {
        a[t] = (run_arg){im, m, t, &bar, 0};
        pthread_create(&th[t], NULL, run_thread, &a[t]);
    }
    pthread_barrier_wait(&bar);
    int64_t t0 = goc_nanotime(), c0 = bench_cpu();
    pthread_barrier_wait(&bar);
    int64_t t1 = goc_nanotime(), c1 = bench_cpu();
    long misses = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        misses += a[t].misses;
    }
    if (workload == 4)
        *bpe = (double)(heap_in_use() - h0) / NKEYS;
    if (misses != 0) {
        fprintf(stderr, "%s: %ld gets missed\n", im->name, misses);
        exit(1);
    }
    pthread_barrier_destroy(&bar);
    im->destroy(m);
    malloc_trim(0);
    double ops =
        workload == 4 ? NKEYS : (double)(total_ops / threads * threads);
    *wall = ops / ((double)(t1 - t0) / 1e9) / 1e6;
    /* CPU time of the whole process over the window, shared by the
     * threads: what the run does per second on T CPUs of its own. */
    return ops / ((double)(c1 - c0) / threads / 1e9) / 1e6;
}

static const impl impl_goc16 = {"goc",     goc_create, goc_destroy,
                                goc_get16, goc_put16,  goc_del16};
static const impl impl_goc64 = {"goc",     goc_create, goc_destroy,
                                goc_get64, goc_put64,  goc_del64};
static const impl impl_plain = {"plain",   plain_create, plain_destroy,
                                plain_get, plain_put,    plain_del};
#ifdef GOC_BENCH_HAVE_CK
static const impl impl_ck = {"ck",   ck_create, ck_destroy,
                             ck_get, ck_put,    ck_del};
#endif
#ifdef GOC_BENCH_HAVE_TBB
static const impl impl_tbb = {"tbb",   tbb_create, tbb_destroy,
                              tbb_get, tbb_put,    tbb_del};
#endif

static void bench_cmap(int w, int str)
{
    char name[32];
    workload = w;
    keys_are_str = str;
    nthreads = goc_maxprocs(0);
    if (nthreads < 1 || nthreads > 64)
        nthreads = 1;
    total_ops = bench_n(2000000);
    snprintf(name, sizeof(name), "cmap_w%d_%s", w, str ? "str16" : "u64");
    make_keys();
    double bg, bc = 0, bt = 0, bp = 0, wg, wc = 0, wt = 0, wp = 0;
    double g = run_impl(str ? &impl_goc16 : &impl_goc64, &bg, &wg, nthreads);
    double c = -1, t = -1, p = -1;
#ifdef GOC_BENCH_HAVE_CK
    c = run_impl(&impl_ck, &bc, &wc, nthreads);
#endif
#ifdef GOC_BENCH_HAVE_TBB
    t = run_impl(&impl_tbb, &bt, &wt, nthreads);
#endif
    if (nthreads == 1)
        p = run_impl(&impl_plain, &bp, &wp, 1);
    char extra[512];
    snprintf(extra, sizeof(extra),
             "ck_mops=%.3f tbb_mops=%.3f plain_mops=%.3f goc_vs_ck=%.2f "
             "goc_vs_tbb=%.2f goc_vs_plain=%.2f bytes_per_entry=%.1f "
             "ck_bpe=%.1f tbb_bpe=%.1f plain_bpe=%.1f wall_mops=%.3f "
             "ck_wall=%.3f tbb_wall=%.3f plain_wall=%.3f",
             c, t, p, c > 0 ? g / c : 0, t > 0 ? g / t : 0, p > 0 ? g / p : 0,
             bg, bc, bt, bp, wg, wc, wt, wp);
    bench_report(name, "mops=%.3f %s", g, extra);
}

#define W(w, s, k)                                                             \
    static void bench_w##w##_##k(void)                                         \
    {                                                                          \
        bench_cmap(w, s);                                                      \
    }
W(1, 1, str16)
W(2, 1, str16)
W(3, 1, str16)
W(4, 1, str16)
W(1, 0, u64)
W(2, 0, u64)
W(3, 0, u64)
W(4, 0, u64)

static const bench table[] = {
    {"cmap_w1_str16", bench_w1_str16}, {"cmap_w2_str16", bench_w2_str16},
    {"cmap_w3_str16", bench_w3_str16}, {"cmap_w4_str16", bench_w4_str16},
    {"cmap_w1_u64", bench_w1_u64},     {"cmap_w2_u64", bench_w2_u64},
    {"cmap_w3_u64", bench_w3_u64},     {"cmap_w4_u64", bench_w4_u64},
};

BENCH_MAIN(table)
