/*
 * config.h - the compile-time knobs of the runtime (src/runtime/): stacks,
 * scheduling, timers, sysmon. Private to the runtime. Other modules keep
 * their tuning beside the code it tunes, with its reason (chan.c's
 * revocation spins, mutex.c's starvation threshold and spin pauses,
 * pollfd.c's barrier re-arm, time.c's timer chunks); sizes of data
 * structures stay with their structs (sched.h's RUNQ_SIZE).
 */
#ifndef GOC_CONFIG_H
#define GOC_CONFIG_H

#include "runtime/runtime_internal.h"

/* Page size assumed for stack layout (checked at start-up). */
#define GOC_PAGE_SIZE 4096
/* Guard region below each guarded stack. */
#define GOC_STACK_GUARD (GOC_PAGE_SIZE)
/* Stacks with a mapping of their own; past this many live ones, new
 * default stacks are carved from slabs (guarded by madvise guard regions
 * on Linux 6.13+, else by only a bound check at every switch). Without
 * guard regions a guarded stack costs 2 kernel maps: 2 * 12288 stays well
 * below the default vm.max_map_count of 65530. */
#define GOC_GUARDED_STACKS_MAX 12288
/* Default stacks per slab mapping. */
#define GOC_SLAB_STACKS 64
/* Dead Gs kept per processor, and in the global cache, ready for reuse. */
#define GOC_GFREE_LOCAL_MAX 1024
#define GOC_GFREE_GLOBAL_MAX 4096
/* Scavenging (stack.c): an idle processor keeps this many dead Gs warm
 * and moves the rest to the global cache; there, past GLOBAL_WARM, the
 * Gs nobody took for a whole period get their stack pages given back by
 * sysmon (madvise), once per period. */
#define GOC_GFREE_LOCAL_WARM 64
#define GOC_GFREE_GLOBAL_WARM 256
#define GOC_SCAVENGE_PERIOD_NS (500 * 1000 * 1000)
/* At most this many stacks a period (~20 us each here: ~4 % of a CPU). */
#define GOC_SCAVENGE_MAX_PER_PERIOD 1024
/* Gs moved at once between a processor's cache and the global one. */
#define GOC_GFREE_BATCH 64
/* Dead Gs past both caches wait, unreleased, for an idle thread to unmap
 * them, up to this many (then they are released at once). */
#define GOC_STACKS_RETIRED_MAX (1 << 20)
/* Retired stacks an idle thread unmaps between two looks at the clock
 * (each a system call), and how long before the next timer it stops. */
#define GOC_STACKS_RELEASE_BATCH 16
#define GOC_STACKS_RELEASE_MARGIN_NS (1000 * 1000)
/* While spawns keep needing new stacks, idle threads make them ahead and
 * put them in the global G cache, so that the first-touch faults (a page
 * fault each) are shared with an otherwise idle CPU: this many ahead
 * per new stack a spawn made itself, at most WANTED_MAX owed at once (so
 * that one burst of spawns, e.g. 200 at start-up, does not leave idle
 * threads mapping hundreds nobody will use: that cost TCP echo 4 %), a
 * few at a time, up to a cache of PREFILL_MAX. */
#define GOC_STACKS_PREFILL_AHEAD 2
#define GOC_STACKS_PREFILL_WANTED_MAX 32
#define GOC_STACKS_PREFILL_BATCH 8
#define GOC_STACKS_PREFILL_MAX 1024
/* New default stacks made at once when no cached one is left (one mmap,
 * their guards and top pages in one vectored madvise each): the spawner
 * keeps the rest in its processor's cache. Also the most the prefill
 * makes at once. */
#define GOC_STACKS_NEW_BATCH 8
/* Idle-work functions (goc__idle_work_register): the stack prefill and
 * those of other modules (time.c's timer blocks). */
#define GOC_IDLE_WORK_MAX 4
/* A thief leaves a running processor's runnext alone this long before
 * stealing it (Go: usleep(3), ~55 us with Linux's timer slack); see
 * runnext_grace in sched.c. */
#define GOC_RUNNEXT_GRACE_NS (50 * 1000)
/* ...and this long while goroutines wait on the poller. */
#define GOC_RUNNEXT_GRACE_POLLER_NS (3 * 1000)
/* Check the global run queue every this many schedules (fairness). */
#define GOC_GLOBAL_RUNQ_TICK 61
/* On that tick, poll the network without blocking if nobody has for this
 * long (Go's sysmon: 10 ms). */
#define GOC_NETPOLL_STALE_NS (1000 * 1000)
/* A blocking poll that returned work within this long of its start
 * found it ready at once: the processor that takes it polls without
 * blocking before it goes idle next time (sched.c: fr_poll). */
#ifndef GOC_POLL_HOT_NS /* -D: for callgrind, which runs slower */
#define GOC_POLL_HOT_NS (10 * 1000)
#endif
/* sysmon hands off a processor stuck in a syscall after this long. */
#define GOC_SYSCALL_HANDOFF_NS (20 * 1000)
/* How overdue the timers of a P owned by a running M must be before
 * another thread fires them (run_all_timers). */
#define GOC_FOREIGN_TIMER_GRACE_NS (500 * 1000)
/* Rounds a goroutine that finds a sync.Mutex held may spin before it
 * parks (Go's active_spin; goc__can_spin). */
#define GOC_ACTIVE_SPIN_ROUNDS 4
/* Signal stack per thread, for the stack-overflow report. */
#define GOC_ALTSTACK_SIZE (64 * 1024)

#endif
