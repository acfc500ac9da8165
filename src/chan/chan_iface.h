/*
 * chan_iface.h - what other modules (time, proc's signal delivery) may use
 * of channels beyond the public goc/chan.h: operations that never block,
 * from any thread, and timer channels. The chan module's internal
 * interface header. Private to goc: never installed.
 */
#ifndef GOC_CHAN_IFACE_H
#define GOC_CHAN_IFACE_H

#include <stdbool.h>
#include <stddef.h>

#include "goc/chan.h"

/*
 * Non-blocking send (Go's `select { case c <- v: default: }`): true if
 * *elem was handed to a waiting receiver or buffered, false if c is NULL
 * or the send would block. Panics on a closed channel, as Go does. Usable
 * from any thread: a goroutine, a timer function on the scheduler, a
 * signal-delivery thread. Never blocks, never allocates.
 */
bool goc__chan_try_send(goc_chan *c, const void *elem);

/* Non-blocking receive (Go's `select { case v, ok := <-c: default: }`):
 * 1 received (*elem filled), 0 closed and drained (*elem zeroed), -1
 * would block (or c is NULL). elem may be NULL. Any thread. */
int goc__chan_try_recv(goc_chan *c, void *elem);

/* Channel for a timer or ticker, capacity 1, len/cap reporting 0 (Go
 * 1.23), placed in goc__chan_timer_size() bytes of the caller's memory
 * (16-byte aligned; the caller frees it, not goc_chan_free). */
size_t goc__chan_timer_size(size_t elem_size);
goc_chan *goc__chan_init_timer(void *mem, size_t elem_size);
/* Discard every buffered value; true if there was one. Any thread. */
bool goc__chan_drain(goc_chan *c);

/* The element size given to goc_chan_make (signal channels must carry
 * ints). Any thread. */
size_t goc__chan_elemsize(const goc_chan *c);

#endif
