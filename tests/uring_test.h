/*
 * uring_test.h - what the completion I/O tests share (test_uring.c,
 * test_uring_perm.c): switching a goc_main to completion I/O, and a
 * connected pair of TCP connections on loopback.
 */
#ifndef GOC_TESTS_URING_TEST_H
#define GOC_TESTS_URING_TEST_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "goc_test.h"
#include "netpoll/poller.h"
#include "netpoll/uring_io.h"
#include <goc.h>

/* false (and a SKIP line) where the kernel lacks what the mode needs.
 * Every socket read a request, even with few goroutines waiting (else
 * a lone reader takes the readiness path: goc__uio_read_by_readiness). */
static bool force_completion(void)
{
    atomic_store(&goc__uio_batch_min, 0);
    const char *why = "";
    if (goc__poller_uring.available(&why) < 0 || goc__uio_available(&why) < 0) {
        printf("SKIP: completion I/O is not available here: %s\n", why);
        return false;
    }
    setenv("GOC_POLLER", "io_uring_completion", 1);
    return true;
}

typedef struct pair {
    goc_listener *ln;
    goc_conn *a, *b; /* a dialed, b accepted */
} pair;

static void pair_open(pair *p)
{
    char addr[GOC_ADDRSTRLEN];
    ASSERT_EQ(goc_listen(&p->ln, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(p->ln, addr, sizeof addr), 0);
    ASSERT_EQ(goc_dial(&p->a, "tcp", addr), 0);
    ASSERT_EQ(goc_accept(p->ln, &p->b), 0);
}

#endif
