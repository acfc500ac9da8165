/*
 * goc_test.h - the test framework: self-registering tests, typed asserts.
 *
 * Every test runs in its own child process (see tests/runner.c) with a time
 * limit, so a deadlock or a crash is one failed test, never a hung suite.
 *
 *   GOC_TEST(name) { ...; return 0; }             plain test, must return 0
 *   GOC_TEST_EXPECT(name, sig, status, text) {...} test that must die: by
 *       signal `sig` (e.g. SIGABRT) or, when sig == 0, exit with `status`,
 *       and print `text` (a substring) on stderr.
 *   GOC_TEST_TIMEOUT(name, seconds) {...}         plain test, own time limit
 *
 * The time limit is multiplied by $GOC_TEST_TIMEOUT_SCALE (sanitizer builds
 * set it). goc_test_scale() gives a divisor for iteration counts that
 * sanitizer builds may lower: $GOC_TEST_ITER_DIV (default 1).
 */
#ifndef GOC_TEST_H
#define GOC_TEST_H

#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*goc_test_fn)(void);

typedef struct goc_test_case {
    const char *name;
    goc_test_fn fn;
    int expect_signal;       /* 0: none expected */
    int expect_status;       /* exit status expected when no signal */
    const char *expect_text; /* substring required on stderr, or NULL */
    int timeout_s;           /* 0: the runner's default */
    struct goc_test_case *next;
} goc_test_case;

void goc_test_register(goc_test_case *tc);
/* Iteration divisor for heavy loops in slow (sanitizer) builds; >= 1. */
long goc_test_iter_div(void);
/* Scale n down by the divisor, never below min. */
long goc_test_iters(long n, long min);
/* The descriptors open in this process now, not counting io_uring
 * rings: with completion I/O the runtime makes an M's ring when that M
 * first does I/O (src/netpoll/uring_per_m.c), which a test's before and
 * after would see as its own. */
int goc_test_count_fds(void);

#define GOC_TEST__DEFINE(name, sig, status, text, tmo)                         \
    static int goc_test_fn_##name(void);                                       \
    static goc_test_case goc_test_case_##name = {                              \
        #name, goc_test_fn_##name, sig, status, text, tmo, 0};                 \
    __attribute__((constructor)) static void goc_test_reg_##name(void)         \
    {                                                                          \
        goc_test_register(&goc_test_case_##name);                              \
    }                                                                          \
    static int goc_test_fn_##name(void)

#define GOC_TEST(name) GOC_TEST__DEFINE(name, 0, 0, NULL, 0)
#define GOC_TEST_TIMEOUT(name, secs) GOC_TEST__DEFINE(name, 0, 0, NULL, secs)
#define GOC_TEST_EXPECT(name, sig, status, text)                               \
    GOC_TEST__DEFINE(name, sig, status, text, 0)

#define GOC_FAIL_(fmt, ...)                                                    \
    do {                                                                       \
        fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);  \
        fflush(stderr);                                                        \
        abort();                                                               \
    } while (0)

/* Asserts abort the child process, which the runner reports as a failure
 * (with the message printed above). They work in any goroutine. */
#define ASSERT(cond)                                                           \
    do {                                                                       \
        if (!(cond))                                                           \
            GOC_FAIL_("assertion failed: %s", #cond);                          \
    } while (0)

#define ASSERT_OP_(a, op, b, T, fmt)                                           \
    do {                                                                       \
        T goc_a_ = (T)(a);                                                     \
        T goc_b_ = (T)(b);                                                     \
        if (!(goc_a_ op goc_b_))                                               \
            GOC_FAIL_("assertion failed: %s %s %s (" fmt " vs " fmt ")", #a,   \
                      #op, #b, goc_a_, goc_b_);                                \
    } while (0)

#define ASSERT_EQ(a, b) ASSERT_OP_(a, ==, b, int64_t, "%" PRId64)
#define ASSERT_NE(a, b) ASSERT_OP_(a, !=, b, int64_t, "%" PRId64)
#define ASSERT_LT(a, b) ASSERT_OP_(a, <, b, int64_t, "%" PRId64)
#define ASSERT_LE(a, b) ASSERT_OP_(a, <=, b, int64_t, "%" PRId64)
#define ASSERT_GT(a, b) ASSERT_OP_(a, >, b, int64_t, "%" PRId64)
#define ASSERT_GE(a, b) ASSERT_OP_(a, >=, b, int64_t, "%" PRId64)
#define ASSERT_UEQ(a, b) ASSERT_OP_(a, ==, b, uint64_t, "%" PRIu64)
#define ASSERT_PTR_EQ(a, b) ASSERT_OP_(a, ==, b, const void *, "%p")
#define ASSERT_PTR_NE(a, b) ASSERT_OP_(a, !=, b, const void *, "%p")
#define ASSERT_STR_EQ(a, b)                                                    \
    do {                                                                       \
        const char *goc_a_ = (a), *goc_b_ = (b);                               \
        if (strcmp(goc_a_, goc_b_) != 0)                                       \
            GOC_FAIL_("assertion failed: %s == %s (\"%s\" vs \"%s\")", #a, #b, \
                      goc_a_, goc_b_);                                         \
    } while (0)

/* Define tests <name>_p1, _p2 and _p4, each running the body that follows
 * (`static int name##_main(void *arg)`) as goc_main's main function with
 * that many processors. The including file includes <goc.h>. */
#define PROCS_TEST(name)                                                       \
    static int name##_main(void *arg);                                         \
    static int name##_run(int procs)                                           \
    {                                                                          \
        goc_maxprocs(procs);                                                   \
        return goc_main(name##_main, NULL);                                    \
    }                                                                          \
    GOC_TEST(name##_p1)                                                        \
    {                                                                          \
        return name##_run(1);                                                  \
    }                                                                          \
    GOC_TEST(name##_p2)                                                        \
    {                                                                          \
        return name##_run(2);                                                  \
    }                                                                          \
    GOC_TEST(name##_p4)                                                        \
    {                                                                          \
        return name##_run(4);                                                  \
    }                                                                          \
    static int name##_main(void *arg)

#endif
