/*
 * sanitizer.h - telling AddressSanitizer, ThreadSanitizer and valgrind
 * about stack switches. Compiled in only for those builds; otherwise every
 * hook is an empty inline function.
 *
 * Protocol, per switch from stack A to stack B:
 *   goc__san_switch_begin(&A, &B, B.lo, B.size, A_dies)   (on A)
 *   goc__ctx_switch(...)
 *   goc__san_switch_end(&B)                               (on B, after)
 * A fresh stack's first code calls goc__san_switch_end too.
 */
#ifndef GOC_SANITIZER_H
#define GOC_SANITIZER_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/runtime_internal.h"

typedef struct goc__san_fiber {
#ifdef GOC_ASAN
    void *fake_stack;
    const void *lo;
    size_t size;
#endif
#ifdef GOC_TSAN
    void *tsan;
#endif
#ifdef GOC_VALGRIND
    unsigned vg_id;
#endif
    char unused_;
} goc__san_fiber;

#ifdef GOC_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void __asan_handle_no_return(void);
#endif
#ifdef GOC_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
/* TSan fibers are expensive to create (a thread context each): freed ones
 * are kept in a process-wide pool and reused (sanitizer.c). */
void *goc__tsan_fiber_get(void);
void goc__tsan_fiber_put(void *fiber);
#endif
#ifdef GOC_VALGRIND
#include <valgrind/valgrind.h>
#endif

/* A new goroutine stack [lo, lo + size). */
static inline void goc__san_fiber_create(goc__san_fiber *f, void *lo,
                                         size_t size)
{
    (void)f, (void)lo, (void)size;
#ifdef GOC_ASAN
    f->fake_stack = NULL;
    f->lo = lo;
    f->size = size;
#endif
#ifdef GOC_TSAN
    f->tsan = goc__tsan_fiber_get();
#endif
#ifdef GOC_VALGRIND
    f->vg_id = VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
#endif
}

static inline void goc__san_fiber_destroy(goc__san_fiber *f)
{
    (void)f;
#ifdef GOC_ASAN
    /* Frames of a goroutine that never returned leave poisoned shadow;
     * the mapping may be reused by anyone later. */
    __asan_unpoison_memory_region(f->lo, f->size);
#endif
#ifdef GOC_TSAN
    if (f->tsan)
        goc__tsan_fiber_put(f->tsan);
    f->tsan = NULL;
#endif
#ifdef GOC_VALGRIND
    VALGRIND_STACK_DEREGISTER(f->vg_id);
#endif
}

/* The running thread's own stack (an M's g0). */
static inline void goc__san_fiber_thread(goc__san_fiber *f, void *lo,
                                         size_t size)
{
    (void)f, (void)lo, (void)size;
#ifdef GOC_ASAN
    f->fake_stack = NULL;
    f->lo = lo;
    f->size = size;
#endif
#ifdef GOC_TSAN
    f->tsan = __tsan_get_current_fiber();
#endif
}

static inline void goc__san_switch_begin(goc__san_fiber *from,
                                         goc__san_fiber *to, bool from_dies)
{
    (void)from, (void)to, (void)from_dies;
#ifdef GOC_ASAN
    __sanitizer_start_switch_fiber(from_dies ? NULL : &from->fake_stack, to->lo,
                                   to->size);
#endif
#ifdef GOC_TSAN
    __tsan_switch_to_fiber(to->tsan, 0);
#endif
}

static inline void goc__san_switch_end(goc__san_fiber *self)
{
    (void)self;
#ifdef GOC_ASAN
    __sanitizer_finish_switch_fiber(self->fake_stack, NULL, NULL);
#endif
}

/* Before a goroutine ends without returning through its frames. */
static inline void goc__san_no_return(void)
{
#ifdef GOC_ASAN
    __asan_handle_no_return();
#endif
}

#endif
