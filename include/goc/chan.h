/*
 * goc/chan.h - channels and select, with Go's semantics.
 *
 * A channel carries fixed-size elements (elem_size bytes, possibly 0),
 * copied in and out with memcpy. Semantics are Go's (runtime/chan.go):
 *  - An unbuffered channel (cap 0) hands each value directly from the
 *    sender to a receiver; a buffered one holds up to cap values in FIFO
 *    order. Goroutines blocked on a channel are served in FIFO order.
 *  - Receiving from a closed channel first drains the buffer, then returns
 *    false at once with the element zeroed.
 *  - Send on a closed channel, close of a closed channel and close of a NULL
 *    channel panic ("send on closed channel", "close of closed channel",
 *    "close of nil channel").
 *  - Send and receive on a NULL channel block forever (a goroutine blocked
 *    that way counts toward deadlock detection).
 *
 * Blocking calls (goc_chan_send, goc_chan_recv, goc_select without
 * nonblock) are for goroutines only; anywhere else they are a fatal error.
 * goc_select with nonblock, goc_chan_close, goc_chan_len and goc_chan_cap
 * may be called from any thread while goc_main runs (goc_chan_make and
 * goc_chan_free from any thread at any time).
 *
 * Typed convenience
 * -----------------
 * Elements travel through pointers, so that any type fits. For the common
 * cases this header adds:
 *  - goc_chan_send_<T>(c, v) and bool goc_chan_recv_<T>(c, &v) for
 *    T in int, i64 (int64_t), u64 (uint64_t), size (size_t), bool and
 *    ptr (void *): e.g. goc_chan_send_int(c, 42); while
 *    (goc_chan_recv_int(c, &v)) {...} (a range loop over the channel).
 *  - GOC_CHAN_MAKE(T, cap): make(chan T, cap).
 *  - GOC_CHAN_SEND(c, T, v): c <- v for any type T (a compound literal).
 *  - GOC_CASE_RECV(c, p) / GOC_CASE_SEND(c, p): goc_case initialisers.
 *
 *     goc_case cs[] = {GOC_CASE_RECV(in, &v), GOC_CASE_SEND(out, &w)};
 *     switch (goc_select(cs, 2, false)) {
 *     case 0: if (!cs[0].ok) { ...in was closed... } break;
 *     case 1: ...w was sent... break;
 *     }
 */
#ifndef GOC_CHAN_H
#define GOC_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc/extern.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goc_chan goc_chan;

/* make(chan T, cap) with sizeof(T) == elem_size (0 allowed). NULL only when
 * out of memory; panics when elem_size * cap overflows. Any thread. */
GOC_EXTERN goc_chan *goc_chan_make(size_t elem_size, size_t cap);
/* Free c (NULL: nothing). The caller guarantees that nobody uses it any
 * more: no goroutine blocked on it, no select or timer referring to it. */
GOC_EXTERN void goc_chan_free(goc_chan *c);

/* c <- *elem. Blocks until a receiver took the value or it is buffered.
 * Panics if c is (or gets) closed; blocks forever if c is NULL.
 * elem may be NULL only when the element size is 0. Goroutine only. */
GOC_EXTERN void goc_chan_send(goc_chan *c, const void *elem);
/* v, ok := <-c. Copies the value to elem (which may be NULL: the value is
 * dropped). Returns false, with *elem zeroed, once c is closed and drained.
 * Blocks forever if c is NULL. Goroutine only. */
GOC_EXTERN bool goc_chan_recv(goc_chan *c, void *elem);
/* close(c). Wakes every blocked receiver (they get false) and every blocked
 * sender (they panic). Panics if c is NULL or already closed. Any thread. */
GOC_EXTERN void goc_chan_close(goc_chan *c);
/* len(c): values buffered now (0 for NULL). cap(c): the capacity (0 for
 * NULL). Timer and ticker channels report 0 for both, as in Go 1.23. */
GOC_EXTERN size_t goc_chan_len(goc_chan *c);
GOC_EXTERN size_t goc_chan_cap(goc_chan *c);

/* Direction of a select case. */
enum { GOC_RECV = 1, GOC_SEND = 2 };

/* One case of a select. ch == NULL: never ready (Go's nil channel case).
 * GOC_SEND: elem points to the value to send (may be NULL for size 0).
 * GOC_RECV: elem receives the value (may be NULL); ok is set as in
 * `v, ok := <-ch` when this case runs. */
typedef struct goc_case {
    goc_chan *ch;
    int dir;
    void *elem;
    bool ok;
} goc_case;

/*
 * select over cases[0..n). Runs one ready case, chosen uniformly at random
 * among the ready ones, and returns its index. If none is ready: with
 * nonblock, returns -1 (the default case) at once; else blocks until one
 * is (n == 0, or every ch NULL: blocks forever). A channel may appear in
 * several cases; a select never pairs its own send with its own receive.
 * A send case on a closed channel that is chosen panics, as in Go.
 * Goroutine only unless nonblock.
 */
GOC_EXTERN int goc_select(goc_case *cases, size_t n, bool nonblock);

/* ---- typed convenience ---------------------------------------------- */

#define GOC_CHAN_MAKE(T, cap) goc_chan_make(sizeof(T), (cap))
#define GOC_CHAN_SEND(c, T, v) goc_chan_send((c), &(T){(v)})
#define GOC_CASE_RECV(c, p)                                                    \
    {                                                                          \
        .ch = (c), .dir = GOC_RECV, .elem = (p), .ok = false                   \
    }
#define GOC_CASE_SEND(c, p)                                                    \
    {                                                                          \
        .ch = (c), .dir = GOC_SEND, .elem = (void *)(p), .ok = false           \
    }

#define GOC_CHAN__TYPED(name, T)                                               \
    static inline void goc_chan_send_##name(goc_chan *c, T v)                  \
    {                                                                          \
        goc_chan_send(c, &v);                                                  \
    }                                                                          \
    static inline bool goc_chan_recv_##name(goc_chan *c, T *v)                 \
    {                                                                          \
        return goc_chan_recv(c, v);                                            \
    }

GOC_CHAN__TYPED(int, int)
GOC_CHAN__TYPED(i64, int64_t)
GOC_CHAN__TYPED(u64, uint64_t)
GOC_CHAN__TYPED(size, size_t)
GOC_CHAN__TYPED(bool, bool)
GOC_CHAN__TYPED(ptr, void *)

#ifdef __cplusplus
}
#endif
#endif
