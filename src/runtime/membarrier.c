/*
 * membarrier.c - the process-wide fence behind biased channel locks
 * (runtime_internal.h: goc__lock_bias_allowed, goc__membarrier; the lock
 * itself and its protocol are chan_internal.h's).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/sched.h"

/* Registered once per process (membarrier's private expedited command
 * needs it); false where the kernel or a seccomp filter says no. */
static bool membarrier_ok;
static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;

static void membarrier_register(void)
{
#if defined(__x86_64__) && defined(SYS_membarrier) && !defined(GOC_TSAN) &&    \
    !defined(GOC_VALGRIND)
    membarrier_ok =
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0,
                0) == 0;
#endif
}

void goc__membarrier_init(void)
{
    pthread_once(&membarrier_once, membarrier_register);
}

bool goc__lock_bias_allowed(void)
{
#ifdef GOC_NO_LOCK_BIAS
    return false;
#endif
    return membarrier_ok && goc__p_token() != 0 &&
           atomic_load_explicit(&goc__sc.gomaxprocs, memory_order_relaxed) == 1;
}

void goc__membarrier(void)
{
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
        goc__fatal("membarrier failed after registering: %s",
                   goc_strerror(-errno));
}
