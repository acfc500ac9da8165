/*
 * goc/time.h - timers and tickers, as Go 1.23's package time.
 *
 * A timer's or ticker's channel carries one int64_t per firing: the
 * goc_nanotime() at which it fired. As in Go 1.23 these channels are
 * synchronous in effect: once goc_timer_stop/reset or goc_ticker_stop/reset
 * returns, no value from before the call can be received (a value that
 * had fired but was not yet received is discarded), and goc_chan_len/cap
 * report 0 for them.
 *
 * Durations are int64_t nanoseconds (GOC_MILLISECOND...). A duration
 * <= 0 means "now". The functions may be called from any thread while
 * goc_main runs (goc_*_free also after it); receiving from the channels
 * is done with goc_chan_recv / goc_select, from goroutines.
 */
#ifndef GOC_TIME_H
#define GOC_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "goc/chan.h"
#include "goc/extern.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goc_timer goc_timer;
typedef struct goc_ticker goc_ticker;

/* time.NewTimer(d): after at least d, the channel receives the time.
 * NULL when out of memory. */
GOC_EXTERN goc_timer *goc_timer_new(int64_t d);
/* t.C: the timer's channel (NULL for a goc_after_func timer). It belongs
 * to the timer: receive from it, never goc_chan_close or goc_chan_free it. */
GOC_EXTERN goc_chan *goc_timer_chan(goc_timer *t);
/* t.Stop(): true if this call stopped the timer, i.e. it had not fired yet
 * or its value had not been received yet (the value is then discarded);
 * false if it had already been stopped or its value received. For an
 * goc_after_func timer: true if this call prevented fn from starting. */
GOC_EXTERN bool goc_timer_stop(goc_timer *t);
/* t.Reset(d): re-arm to fire after d; returns what goc_timer_stop would
 * have. For a goc_after_func timer, fn runs again after d. */
GOC_EXTERN bool goc_timer_reset(goc_timer *t, int64_t d);
/* time.AfterFunc(d, fn): after d, start fn(arg) in its own goroutine.
 * NULL when out of memory. */
GOC_EXTERN goc_timer *goc_after_func(int64_t d, void (*fn)(void *arg),
                                     void *arg);
/* Stop t and free it (and its channel; NULL: nothing). Safe while the
 * timer is firing on another thread. Nobody may use t or its channel
 * afterwards. A goc_after_func function already started keeps running. */
GOC_EXTERN void goc_timer_free(goc_timer *t);

/* time.NewTicker(d): the channel receives the time every d, on a grid
 * from the start (no drift); a tick that finds the previous one not yet
 * received is dropped (slow receivers skip ticks). Panics if d <= 0
 * ("non-positive interval for NewTicker"). NULL when out of memory. */
GOC_EXTERN goc_ticker *goc_ticker_new(int64_t d);
/* t.C (owned by the ticker, as goc_timer_chan's). */
GOC_EXTERN goc_chan *goc_ticker_chan(goc_ticker *t);
/* t.Stop(): no tick is delivered after it returns. */
GOC_EXTERN void goc_ticker_stop(goc_ticker *t);
/* t.Reset(d): stop, then tick every d from now. Panics if d <= 0
 * ("non-positive interval for Ticker.Reset"). */
GOC_EXTERN void goc_ticker_reset(goc_ticker *t, int64_t d);
/* Stop and free (NULL: nothing); as goc_timer_free. */
GOC_EXTERN void goc_ticker_free(goc_ticker *t);

#ifdef __cplusplus
}
#endif
#endif
