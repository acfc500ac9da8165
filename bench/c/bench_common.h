/*
 * bench_common.h - what every C benchmark program in bench/c/ shares:
 * argument parsing, the BENCH output line, clocks, RSS and CPU readings.
 *
 * Each program runs one benchmark per invocation:
 *
 *     bench_<module> -bench NAME [-procs N] [-n N] [-d MS] [-conns N]
 *
 * and prints one line, the same as its Go twin in bench/go/:
 *
 *     BENCH <name> procs=<N> <primary>=<value> [<key>=<value> ...]
 *
 * The first key after procs is the figure bench/run.sh compares with Go's.
 * -procs N sets GOCMAXPROCS before goc_main (so does the environment);
 * -n overrides the iteration count, -d the duration of timed benchmarks.
 */
#ifndef GOC_BENCH_COMMON_H
#define GOC_BENCH_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* setenv, getrusage, sysconf */
#endif

#include <goc.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct bench {
    const char *name;
    void (*fn)(void);
} bench;

/* Options from the command line; 0 means "the benchmark's default". */
static long bench_opt_n;
static long bench_opt_d;
static long bench_opt_conns;
static const bench *bench_selected;

static inline long bench_n(long def)
{
    return bench_opt_n > 0 ? bench_opt_n : def;
}

static inline long bench_d(long def)
{
    return bench_opt_d > 0 ? bench_opt_d : def;
}

/* Print the BENCH line: fmt holds the keys after procs, e.g.
 * "ns_per_op=%.3f cpu_pct=%.3f". */
static inline void bench_report(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void bench_report(const char *name, const char *fmt, ...)
{
    va_list ap;
    printf("BENCH %s procs=%d ", name, goc_maxprocs(0));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static inline double bench_ms(int64_t ns) { return (double)ns / 1e6; }

/* Resident set size in bytes, from /proc/self/statm. */
static inline int64_t bench_rss(void)
{
    long size = 0, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : (int64_t)resident * sysconf(_SC_PAGESIZE);
}

/* User + system CPU time of the whole process, ns. */
static inline int64_t bench_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* Minor page faults of the whole process so far (first touches of
 * anonymous pages, and pages committed by madvise(MADV_POPULATE_*)). */
static inline int64_t bench_minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_minflt;
}

static inline int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Percentile p (0..100) of xs, sorted ascending; same rule as the Go side. */
static inline int64_t bench_percentile(const int64_t *xs, size_t n, double p)
{
    size_t i;
    if (n == 0)
        return 0;
    i = (size_t)((double)n * p / 100);
    return xs[i > n - 1 ? n - 1 : i];
}

static inline int bench_main_goroutine(void *arg)
{
    (void)arg;
    bench_selected->fn();
    return 0;
}

/* Parse the arguments, pick the benchmark from table and run it in
 * goc_main. Call from main(). */
static inline int bench_run(int argc, char **argv, const bench *table,
                            size_t n)
{
    const char *name = NULL;
    size_t i;
    for (i = 1; i < (size_t)argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < (size_t)argc ? argv[i + 1] : NULL;
        if (*a == '-' && a[1] == '-')
            a++; /* accept --flag as well */
        if (v == NULL) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], a);
            return 2;
        }
        if (strcmp(a, "-bench") == 0)
            name = v;
        else if (strcmp(a, "-procs") == 0)
            setenv("GOCMAXPROCS", v, 1);
        else if (strcmp(a, "-n") == 0)
            bench_opt_n = atol(v);
        else if (strcmp(a, "-d") == 0)
            bench_opt_d = atol(v);
        else if (strcmp(a, "-conns") == 0)
            bench_opt_conns = atol(v);
        else {
            fprintf(stderr, "%s: unknown flag %s\n", argv[0], a);
            return 2;
        }
        i++;
    }
    if (name != NULL && strcmp(name, "list") == 0) {
        for (i = 0; i < n; i++)
            printf("%s\n", table[i].name);
        return 0;
    }
    for (i = 0; name != NULL && i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            bench_selected = &table[i];
    if (bench_selected == NULL) {
        fprintf(stderr, "usage: %s -bench NAME [-procs N] [-n N] [-d MS]"
                        " (-bench list lists them)\n", argv[0]);
        return 2;
    }
    return goc_main(bench_main_goroutine, NULL);
}

/* The program of a module whose header has not landed yet: it builds, and
 * run.sh reads its exit status 77 as "skipped: not built". */
#define BENCH_SKIP_MAIN(what)                                               \
    int main(void)                                                          \
    {                                                                       \
        fprintf(stderr, "skipped: %s is not there yet\n", what);            \
        return 77;                                                          \
    }

#define BENCH_MAIN(table)                                                   \
    int main(int argc, char **argv)                                         \
    {                                                                       \
        return bench_run(argc, argv, table, sizeof(table) / sizeof(table[0])); \
    }

#endif
