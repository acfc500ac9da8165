/*
 * goc/cmap.h - a concurrent hash map: the book's Concurrent Map, for
 * goroutines and plain threads alike.
 *
 * Keys are byte strings of any length (including zero), copied into the
 * map; values are `void *` owned by the user: the map never frees one
 * except through goc_cmap_free's callback. A second form takes uint64_t
 * keys (goc_cmap_u64_*); it is the same map, the key being the 8 bytes of
 * the integer in the machine's byte order, so both forms may be mixed.
 *
 * Every call may be made concurrently with every other call on the same
 * map, from goroutines and from plain threads, with no registration call.
 * No call ever parks the goroutine or blocks the thread for long: reads
 * (get, the load of load_or_store, len, range's walk) take no lock and
 * write no shared memory (a read that a writer of its segment keeps
 * disturbing, 64 tries in a row, 8 for range, takes the segment's lock
 * once, so that it ends); writers lock only the segment that holds their
 * key (the map has `concurrency` x 4 segments, rounded up to a power of
 * two), and a segment that grows or shrinks is rebuilt by its writer
 * while readers keep reading the old table. Memory of removed entries and
 * old tables is reclaimed by epochs, in the background of later calls.
 * docs/cmap.md explains the design.
 *
 * Every operation is linearizable. Errors: a call that returns int returns
 * a negative errno code on failure and then has changed nothing:
 * -EINVAL for a NULL key with a non-zero length or a key longer than
 * GOC_CMAP_KEY_MAX, -ENOMEM when memory runs out. Calls that return bool
 * answer false on such input.
 */
#ifndef GOC_CMAP_H
#define GOC_CMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc/extern.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest key, in bytes. */
#define GOC_CMAP_KEY_MAX ((size_t)UINT32_MAX - 64)

typedef struct goc_cmap goc_cmap;

/*
 * goc_cmap_options - how to shape a new map. A zeroed field takes its
 * default.
 *   concurrency       the expected number of concurrent writers (the
 *                     book's knob). Writers of different segments never
 *                     contend; there are 4 x concurrency segments, rounded
 *                     up to a power of two, at most 4096. Default 16.
 *   initial_capacity  the number of entries the map holds before its first
 *                     growth. Default 0 (grow as needed).
 */
typedef struct goc_cmap_options {
    size_t concurrency;
    size_t initial_capacity;
} goc_cmap_options;

/* Create a map. NULL opts means the defaults. NULL when out of memory. */
GOC_EXTERN goc_cmap *goc_cmap_new(const goc_cmap_options *opts);

/* Destroy m, calling free_value (unless NULL) on each value still in it.
 * No other call on m may be running or follow. */
GOC_EXTERN void goc_cmap_free(goc_cmap *m, void (*free_value)(void *));

/* Map key to value. 1 when the key was inserted, 0 when its value was
 * replaced, a negative code on error (see above). */
GOC_EXTERN int goc_cmap_put(goc_cmap *m, const void *key, size_t klen,
                            void *value);

/* Look key up: true and *value (if value is not NULL) when present. Takes
 * no lock (but see above: a read disturbed 64 times in a row). */
GOC_EXTERN bool goc_cmap_get(goc_cmap *m, const void *key, size_t klen,
                             void **value);

/* Remove key: true and its value in *old (if old is not NULL) when it was
 * present. */
GOC_EXTERN bool goc_cmap_delete(goc_cmap *m, const void *key, size_t klen,
                                void **old);

/* sync.Map's LoadOrStore: if key is present, true and its value in
 * *actual; else store value, false and value in *actual. On error (bad
 * key, out of memory) nothing is stored, the answer is false and *actual
 * is NULL. actual may be NULL. */
GOC_EXTERN bool goc_cmap_load_or_store(goc_cmap *m, const void *key,
                                       size_t klen, void *value, void **actual);

/* Compare-and-swap of a value: if key is present with value old, replace
 * it with value and answer true; else false. */
GOC_EXTERN bool goc_cmap_cas(goc_cmap *m, const void *key, size_t klen,
                             void *old, void *value);

/* Compare-and-delete: if key is present with value old, remove it and
 * answer true; else false. */
GOC_EXTERN bool goc_cmap_cad(goc_cmap *m, const void *key, size_t klen,
                             void *old);

/* The number of entries, in O(1) (a sum over the segments' counts; exact
 * when no writer runs). */
GOC_EXTERN size_t goc_cmap_len(goc_cmap *m);

/*
 * Call fn(key, klen, value, arg) for the entries of m until fn returns
 * false. Every pair present for the whole call is visited exactly once;
 * no key is visited twice; a pair added or removed during the call may or
 * may not be visited. key points to a copy valid until fn returns. fn may
 * call any function on m (put, delete...) and may park: range walks one
 * segment at a time into a private snapshot and calls fn outside the map.
 * If memory for a segment's snapshot cannot be had, range returns early.
 */
GOC_EXTERN void goc_cmap_range(goc_cmap *m,
                               bool (*fn)(const void *key, size_t klen,
                                          void *value, void *arg),
                               void *arg);

/* The uint64_t-key forms: the same meanings as the calls above. */
GOC_EXTERN int goc_cmap_u64_put(goc_cmap *m, uint64_t key, void *value);
GOC_EXTERN bool goc_cmap_u64_get(goc_cmap *m, uint64_t key, void **value);
GOC_EXTERN bool goc_cmap_u64_delete(goc_cmap *m, uint64_t key, void **old);
GOC_EXTERN bool goc_cmap_u64_load_or_store(goc_cmap *m, uint64_t key,
                                           void *value, void **actual);
GOC_EXTERN bool goc_cmap_u64_cas(goc_cmap *m, uint64_t key, void *old,
                                 void *value);
GOC_EXTERN bool goc_cmap_u64_cad(goc_cmap *m, uint64_t key, void *old);

#ifdef __cplusplus
}
#endif

#endif
