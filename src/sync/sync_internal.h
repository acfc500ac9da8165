/*
 * sync_internal.h - what the sync module's files share. Their spinlock,
 * wait lists and the semaphore that mutex, rwmutex and waitgroup park on
 * are the runtime's (runtime/primitives.h). Private.
 */
#ifndef GOC_SYNC_INTERNAL_H
#define GOC_SYNC_INTERNAL_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "goc/sync.h"
#include "runtime/primitives.h"
#include "runtime/runtime_internal.h"

#endif
