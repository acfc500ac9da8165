/*
 * cmap_demo.c - what the book's concurrent map tests do (chapter 5, 并发安全
 * 字典 cmap: cmap_test.go and its parallel tests), as one program.
 *
 * A map with concurrency 16 (the book's knob). Ten goroutines each put
 * 10,000 random string keys in parallel; then as many goroutines get them
 * back in parallel, while one more goroutine ranges over the map; then
 * half of the keys are deleted in parallel. At each step the program
 * checks the length and every value and says what it saw. It ends by
 * showing load_or_store (sync.Map's LoadOrStore) and compare-and-swap.
 *
 * Expected output (times vary):
 *   New: concurrency 16, len 0
 *   Put: 100000 keys by 10 goroutines in ... ms, len 100000
 *   Get: 100000 keys by 10 goroutines in ... ms, all found, all right
 *   Range while getting: visited 100000 pairs, no key twice
 *   Delete: 50000 keys by 10 goroutines, len 50000
 *   LoadOrStore: "answer" stored 42, then loaded 42
 *   CAS: 42 -> 43 true, 42 -> 44 false, value 43
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <goc.h>

#define GOROUTINES 10
#define PER 10000
#define KEYLEN 16

static goc_cmap *m;
static char keys[GOROUTINES * PER][KEYLEN + 1];
static goc_waitgroup wg;
static _Atomic long wrong;

/* The book's genRandString: random letters. */
static void gen_keys(void)
{
    static const char letters[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    uint64_t s = (uint64_t)time(NULL) | 1;
    for (int i = 0; i < GOROUTINES * PER; i++) {
        for (int j = 0; j < KEYLEN; j++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            keys[i][j] = letters[s % 52];
        }
        /* Make each key unique: its index in the last 4 letters. */
        for (int j = 0; j < 4; j++)
            keys[i][KEYLEN - 1 - j] = letters[(i >> (5 * j)) & 31];
    }
}

static double ms_since(struct timespec t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static void putter(void *arg)
{
    int g = (int)(intptr_t)arg;
    for (int i = g * PER; i < (g + 1) * PER; i++)
        if (goc_cmap_put(m, keys[i], KEYLEN, (void *)(intptr_t)(i + 1)) != 1)
            wrong++;
    goc_waitgroup_done(&wg);
}

static void getter(void *arg)
{
    int g = (int)(intptr_t)arg;
    for (int i = g * PER; i < (g + 1) * PER; i++) {
        void *v;
        if (!goc_cmap_get(m, keys[i], KEYLEN, &v) || (intptr_t)v != i + 1)
            wrong++;
        if (i % 1000 == 0)
            goc_yield();
    }
    goc_waitgroup_done(&wg);
}

static void deleter(void *arg)
{
    int g = (int)(intptr_t)arg;
    for (int i = g * PER; i < g * PER + PER / 2; i++)
        if (!goc_cmap_delete(m, keys[i], KEYLEN, NULL))
            wrong++;
    goc_waitgroup_done(&wg);
}

typedef struct {
    long visited;
    unsigned char *seen;
} range_count;

static bool count_pair(const void *key, size_t klen, void *value, void *arg)
{
    range_count *rc = arg;
    long i = (long)(intptr_t)value - 1;
    if (klen != KEYLEN || i < 0 || i >= GOROUTINES * PER ||
        memcmp(key, keys[i], KEYLEN) != 0 || rc->seen[i]++)
        wrong++;
    rc->visited++;
    return true;
}

static range_count rc;

static void ranger(void *arg)
{
    (void)arg;
    rc.seen = calloc(GOROUTINES * PER, 1);
    goc_cmap_range(m, count_pair, &rc);
    free(rc.seen);
    goc_waitgroup_done(&wg);
}

static void run(void (*fn)(void *), int extra_ranger)
{
    goc_waitgroup_add(&wg, GOROUTINES + extra_ranger);
    for (int g = 0; g < GOROUTINES; g++)
        goc_go(fn, (void *)(intptr_t)g);
    if (extra_ranger)
        goc_go(ranger, NULL);
    goc_waitgroup_wait(&wg);
}

static int demo(void *arg)
{
    (void)arg;
    struct timespec t0;
    gen_keys();
    m = goc_cmap_new(&(goc_cmap_options){.concurrency = 16});
    if (m == NULL)
        return 1;
    printf("New: concurrency 16, len %zu\n", goc_cmap_len(m));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(putter, 0);
    printf("Put: %d keys by %d goroutines in %.1f ms, len %zu\n",
           GOROUTINES * PER, GOROUTINES, ms_since(t0), goc_cmap_len(m));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(getter, 1);
    printf("Get: %d keys by %d goroutines in %.1f ms, %s\n", GOROUTINES * PER,
           GOROUTINES, ms_since(t0),
           wrong == 0 ? "all found, all right" : "SOME WRONG");
    printf("Range while getting: visited %ld pairs, %s\n", rc.visited,
           wrong == 0 ? "no key twice" : "SOME WRONG");

    run(deleter, 0);
    printf("Delete: %d keys by %d goroutines, len %zu\n", GOROUTINES * PER / 2,
           GOROUTINES, goc_cmap_len(m));

    void *v;
    goc_cmap_load_or_store(m, "answer", 6, (void *)42, &v);
    bool loaded = goc_cmap_load_or_store(m, "answer", 6, (void *)7, &v);
    printf("LoadOrStore: \"answer\" stored 42, then %s %ld\n",
           loaded ? "loaded" : "stored", (long)(intptr_t)v);
    bool a = goc_cmap_cas(m, "answer", 6, (void *)42, (void *)43);
    bool b = goc_cmap_cas(m, "answer", 6, (void *)42, (void *)44);
    goc_cmap_get(m, "answer", 6, &v);
    printf("CAS: 42 -> 43 %s, 42 -> 44 %s, value %ld\n", a ? "true" : "false",
           b ? "true" : "false", (long)(intptr_t)v);
    goc_cmap_free(m, NULL);
    return wrong == 0 ? 0 : 1;
}

int main(void)
{
    return goc_main(demo, NULL);
}
