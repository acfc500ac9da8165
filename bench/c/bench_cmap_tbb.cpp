// bench_cmap_tbb.cpp - oneTBB's concurrent_hash_map behind a C interface,
// for bench_cmap.c (built only with -DGOC_BENCH=ON when oneTBB is found).
// Keys: 16-byte strings (K16) and uint64_t, values void *; the same hash as
// the other contestants (bench_cmap_hash* below, defined in bench_cmap.c).
#include <cstdint>
#include <cstring>

#include <tbb/concurrent_hash_map.h>

extern "C" uint64_t bench_cmap_hash16(const void *k);
extern "C" uint64_t bench_cmap_hash64(uint64_t k);

namespace
{

struct K16 {
    char b[16];
};

struct HC16 {
    static size_t hash(const K16 &k)
    {
        return bench_cmap_hash16(k.b);
    }
    static bool equal(const K16 &a, const K16 &b)
    {
        return std::memcmp(a.b, b.b, 16) == 0;
    }
};

struct HC64 {
    static size_t hash(uint64_t k)
    {
        return bench_cmap_hash64(k);
    }
    static bool equal(uint64_t a, uint64_t b)
    {
        return a == b;
    }
};

typedef tbb::concurrent_hash_map<K16, void *, HC16> M16;
typedef tbb::concurrent_hash_map<uint64_t, void *, HC64> M64;

K16 k16(const void *p)
{
    K16 k;
    std::memcpy(k.b, p, 16);
    return k;
}

} // namespace

extern "C" {

void *bench_tbb16_new(void)
{
    return new M16();
}
void bench_tbb16_free(void *m)
{
    delete static_cast<M16 *>(m);
}
int bench_tbb16_get(void *m, const void *key, void **v)
{
    M16::const_accessor a;
    if (!static_cast<M16 *>(m)->find(a, k16(key)))
        return 0;
    *v = a->second;
    return 1;
}
void bench_tbb16_put(void *m, const void *key, void *v)
{
    M16::accessor a;
    static_cast<M16 *>(m)->insert(a, k16(key));
    a->second = v;
}
int bench_tbb16_del(void *m, const void *key)
{
    return static_cast<M16 *>(m)->erase(k16(key)) ? 1 : 0;
}

void *bench_tbb64_new(void)
{
    return new M64();
}
void bench_tbb64_free(void *m)
{
    delete static_cast<M64 *>(m);
}
int bench_tbb64_get(void *m, uint64_t key, void **v)
{
    M64::const_accessor a;
    if (!static_cast<M64 *>(m)->find(a, key))
        return 0;
    *v = a->second;
    return 1;
}
void bench_tbb64_put(void *m, uint64_t key, void *v)
{
    M64::accessor a;
    static_cast<M64 *>(m)->insert(a, key);
    a->second = v;
}
int bench_tbb64_del(void *m, uint64_t key)
{
    return static_cast<M64 *>(m)->erase(key) ? 1 : 0;
}
}
