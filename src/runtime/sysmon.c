/*
 * sysmon.c - system calls and the monitor thread.
 *
 * goc_syscall_begin marks the calling goroutine's processor P_SYSCALL and
 * detaches it from the thread (the thread keeps a note in m->syscall_p).
 * goc_syscall_end tries to CAS it back to P_RUNNING: the fast path when
 * the syscall was short. If the monitor (sysmon) saw the same syscall
 * (p->syscalltick unchanged) for >= GOC_SYSCALL_HANDOFF_NS, it CASes the
 * P to P_IDLE and hands it to another thread, so other goroutines keep
 * running; the returning goroutine then takes any idle P, or queues itself
 * and its thread goes idle.
 *
 * sysmon costs nothing when no goroutine is in a syscall: it blocks on a
 * futex (sysmon_sleep) that goc_syscall_begin wakes. While syscalls are in
 * progress it polls every ~20 us with the timer slack set to 1 ns.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sys/prctl.h>
#include <time.h>

#include <stdlib.h>

#include "runtime/sched.h"

static _Atomic bool sysmon_exit;

void goc__sysmon_wake(void)
{
    uint32_t v = atomic_load(&goc__sc.sysmon_sleep);
    if (v && atomic_compare_exchange_strong(&goc__sc.sysmon_sleep, &v, 0))
        goc__futex_wake(&goc__sc.sysmon_sleep, 1);
}

void goc_syscall_begin(void)
{
    goc_m *m = goc__getm();
    if (!m || !m->curg)
        return;
    goc_g *g = m->curg;
    goc_p *p = m->p;
    if (goc_unlikely(!p))
        goc__fatal("goc_syscall_begin: nested or without a processor");
    atomic_store_explicit(&g->status, G_SYSCALL, memory_order_relaxed);
    m->syscall_p = p;
    m->p = NULL;
    atomic_fetch_add_explicit(&p->syscalltick, 1, memory_order_relaxed);
    goc__m_io_away(m, true);
    atomic_store(&p->status, P_SYSCALL);
    /* seq_cst pair with sysmon's store of sysmon_sleep then load of
     * nsyscall: one of us sees the other. */
    atomic_fetch_add(&goc__sc.nsyscall, 1);
    if (atomic_load(&goc__sc.sysmon_sleep))
        goc__sysmon_wake();
}

static void g_block_after_syscall(goc_g *g);

void goc_syscall_end(void)
{
    goc_m *m = goc__getm();
    if (!m || !m->curg)
        return;
    goc_g *g = m->curg;
    goc_p *p = m->syscall_p;
    if (goc_unlikely(!p))
        goc__fatal("goc_syscall_end without goc_syscall_begin");
    m->syscall_p = NULL;
    uint32_t s = P_SYSCALL;
    if (atomic_compare_exchange_strong(&p->status, &s, P_RUNNING)) {
        m->p = p;
        p->m = m;
        goc__m_io_away(m, false);
        atomic_fetch_sub(&goc__sc.nsyscall, 1);
        atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
        return;
    }
    /* Our P was handed off: take any idle one. */
    pthread_mutex_lock(&goc__sc.lock);
    goc_p *np = goc__pidleget();
    pthread_mutex_unlock(&goc__sc.lock);
    if (np) {
        m->p = np;
        np->m = m;
        atomic_store(&np->status, P_RUNNING);
        goc__m_io_away(m, false);
        atomic_fetch_sub(&goc__sc.nsyscall, 1);
        atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
        return;
    }
    g_block_after_syscall(g);
}

/* Defined in sched.c's terms: switch to g0 asking it to queue g. */
static void g_block_after_syscall(goc_g *g)
{
    goc_m *m = g->m;
    m->action = ACT_SYSCALL_BLOCK;
    goc__san_switch_begin(&g->san, &m->g0san, false);
    m = goc__ctx_switch(&g->ctx, &m->g0ctx, m);
    goc__san_switch_end(&g->san);
    goc__m_finish_switch(m);
}

typedef struct sysmon_seen {
    uint32_t tick;
    int64_t since;
} sysmon_seen;

static void *sysmon_main(void *arg)
{
    (void)arg;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    sysmon_seen *seen = calloc(GOC__MAXPROCS_LIMIT, sizeof *seen);
    if (!seen)
        goc__fatal("sysmon: out of memory");
    int idle_rounds = 0;
    int64_t last_scavenge = goc_nanotime();
    for (;;) {
        if (atomic_load(&sysmon_exit))
            break;
        /* The stack scavenger: once a period while dead stacks pile up
         * beyond the warm set; sleeps for good only once none do. */
        int64_t now = goc_nanotime();
        bool scav = goc__stacks_scavenge_wanted();
        if (scav && now - last_scavenge >= GOC_SCAVENGE_PERIOD_NS) {
            if (goc__stacks_take_trim_pending()) {
                goc__sched_trim_idle_ps();
                goc__release_dead_stacks();
            }
            goc__stacks_scavenge();
            last_scavenge = now;
        }
        if (atomic_load(&goc__sc.nsyscall) == 0) {
            if (++idle_rounds > 50) {
                /* 2: a timed sleep (the scavenger's period), which an
                 * idle processor need not cut short (sched.c). */
                uint32_t how = scav ? 2 : 1;
                atomic_store(&goc__sc.sysmon_sleep, how);
                if (atomic_load(&goc__sc.nsyscall) == 0 &&
                    !atomic_load(&sysmon_exit))
                    goc__futex_wait(&goc__sc.sysmon_sleep, how,
                                    scav ? GOC_SCAVENGE_PERIOD_NS : -1);
                atomic_store(&goc__sc.sysmon_sleep, 0);
                idle_rounds = 0;
                continue;
            }
        } else {
            idle_rounds = 0;
        }
        struct timespec ts = {0, GOC_SYSCALL_HANDOFF_NS};
        nanosleep(&ts, NULL);
        now = goc_nanotime();
        int32_t n = atomic_load(&goc__sc.nprocs_alloc);
        for (int32_t i = 0; i < n; i++) {
            goc_p *p = goc__sc.allp[i];
            if (atomic_load(&p->status) != P_SYSCALL)
                continue;
            uint32_t t =
                atomic_load_explicit(&p->syscalltick, memory_order_relaxed);
            if (seen[i].tick != t || seen[i].since == 0) {
                seen[i].tick = t;
                seen[i].since = now;
                continue;
            }
            if (now - seen[i].since < GOC_SYSCALL_HANDOFF_NS)
                continue;
            uint32_t s = P_SYSCALL;
            if (atomic_compare_exchange_strong(&p->status, &s, P_IDLE)) {
                seen[i].since = 0;
                goc__handoffp(p);
            }
        }
    }
    free(seen);
    return NULL;
}

int goc__sysmon_start(void)
{
    atomic_store(&goc__sc.sysmon_sleep, 0);
    atomic_store(&sysmon_exit, false);
    sigset_t block, old;
    goc__runtime_sigset(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int err = pthread_create(&goc__sc.sysmon_thread, NULL, sysmon_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

void goc__sysmon_stop(void)
{
    atomic_store(&sysmon_exit, true);
    atomic_store(&goc__sc.sysmon_sleep, 0);
    goc__futex_wake(&goc__sc.sysmon_sleep, 1);
    pthread_join(goc__sc.sysmon_thread, NULL);
}
