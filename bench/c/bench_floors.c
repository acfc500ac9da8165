/*
 * bench_floors.c - what this machine's primitives cost, the floors under
 * the ratios that bench/run.sh prints. No goc here: plain loops timed with
 * CLOCK_MONOTONIC, one line each:
 *
 *   FLOOR <name> <value> <unit>   # what it bounds
 *
 * locked_rmw     a lock-prefixed compare-and-swap, uncontended: every
 *                lock, runq take and wake costs at least one
 * stmxcsr        reading the SSE control word (x86-64), which every
 *                goroutine switch does to keep it per goroutine
 * first_touch    the first write to a fresh anonymous 4 KiB page: each new
 *                goroutine stack costs one
 * first_touch_populated  the same after MADV_POPULATE_WRITE populated it
 *                (on VMs with shadow paging the first access still traps)
 * syscall        getppid(2), the cheapest system call: the network
 *                benchmarks are counts of these
 *
 * usage: bench_floors
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void report(const char *name, double value, const char *unit,
                   const char *what)
{
    printf("FLOOR %-22s %10.2f %-3s # %s\n", name, value, unit, what);
}

static _Atomic uint32_t word;

static void locked_rmw(void)
{
    enum { N = 20000000 };
    double t0 = now_ns();
    for (long i = 0; i < N; i++) {
        uint32_t z = 0;
        atomic_compare_exchange_strong_explicit(
            &word, &z, 1, memory_order_acquire, memory_order_relaxed);
        atomic_store_explicit(&word, 0, memory_order_release);
    }
    report("locked_rmw", (now_ns() - t0) / N, "ns",
           "one CAS + release store, uncontended");
}

static void stmxcsr(void)
{
#if defined(__x86_64__)
    enum { N = 20000000 };
    uint32_t slots[8 * 16];
    double t0 = now_ns();
    for (long i = 0; i < N; i++)
        __asm__ volatile("stmxcsr %0" : "=m"(slots[(i & 7) * 16]));
    report("stmxcsr", (now_ns() - t0) / N, "ns",
           "read of the SSE control word (once per switch)");
#endif
}

static void first_touch(void)
{
    enum { PAGES = 2048 };
    const size_t stride = 64 * 1024; /* one page per stride, as stacks */
    char *a = mmap(NULL, stride * PAGES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    char *b = mmap(NULL, stride * PAGES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == MAP_FAILED || b == MAP_FAILED) {
        perror("mmap");
        return;
    }
    double t0 = now_ns();
    for (size_t i = 0; i < PAGES; i++)
        a[(i + 1) * stride - 64] = 1;
    report("first_touch", (now_ns() - t0) / PAGES / 1e3, "us",
           "first write to a fresh page (one per new stack)");
    int populated = 1;
    for (size_t i = 0; i < PAGES; i++)
        if (madvise(b + (i + 1) * stride - 4096, 4096,
                    MADV_POPULATE_WRITE) != 0)
            populated = 0;
    if (populated) {
        t0 = now_ns();
        for (size_t i = 0; i < PAGES; i++)
            b[(i + 1) * stride - 64] = 1;
        report("first_touch_populated", (now_ns() - t0) / PAGES / 1e3, "us",
               "first write after MADV_POPULATE_WRITE");
    }
    munmap(a, stride * PAGES);
    munmap(b, stride * PAGES);
}

static void syscall_cost(void)
{
    enum { N = 200000 };
    double t0 = now_ns();
    for (long i = 0; i < N; i++)
        (void)getppid();
    report("syscall", (now_ns() - t0) / N / 1e3, "us",
           "getppid(2): entry and exit only");
}

int main(void)
{
    locked_rmw();
    stmxcsr();
    first_touch();
    syscall_cost();
    return 0;
}
