/*
 * caller_pipe.h - the loadgen module's interface for callers (src/callers/)
 * that drive their pipelined connections themselves: a caller offers the
 * operations below, and the generator runs a goroutine per connection
 * instead of one per call in flight. Not part of the public API.
 */
#ifndef GOC_LOADGEN_CALLER_PIPE_H
#define GOC_LOADGEN_CALLER_PIPE_H

#include <stdbool.h>
#include <stdint.h>

#include "goc/loadgen.h"

/*
 * A caller that can drive a pipelined connection itself offers these
 * operations (goc__caller_pipe). In a closed-model run the generator
 * then runs one goroutine per connection ("driver") instead of one worker
 * per call: the caller's drive loops taking calls from the generator
 * (goc__pipe_take: the next call number, its request built, its start and
 * deadline), writes up to `depth` requests in one write, parses every
 * response one read brings, and hands each call's outcome back at once
 * (goc__pipe_done), which accounts it exactly as a worker's call: same
 * codes, same check_resp, same latency and service time, same result
 * channel. A driver counts as one worker of the run (its session is
 * interrupted by a stop as a worker's) and as `depth` slots.
 *
 * Internal for now: the hook is not in goc_caller because goc_caller is a
 * type users allocate, and a field more is an ABI break (docs/install.md).
 */
typedef struct goc__pipe_ctx goc__pipe_ctx; /* the generator's */

/* One call a driver is making. The generator fills req, deadline and its
 * own fields in goc__pipe_take; the driver may use `user`. */
typedef struct goc__pcall {
    goc_call_req req;
    int64_t deadline; /* absolute goc_nanotime(): the call's timeout */
    /* The generator's: */
    int64_t k, due, start, cstart;
    /* The driver's: */
    int64_t user;
} goc__pcall;

typedef struct goc__caller_pipe_ops {
    /* Opens a driver's session, a connection for `depth` calls in flight
     * (made on the first call). 0 or a negative code (every call of the
     * driver then fails as GOC_RET_FATAL_CALL). caller->interrupt works
     * on it; caller->check_resp is called on it for each call, from
     * goc__pipe_done. */
    int (*open)(void *user, int depth, void **session);
    void (*close)(void *user, void *session);
    /* Makes calls until goc__pipe_take has no more and every call taken
     * is done. */
    void (*drive)(void *user, void *session, goc__pipe_ctx *ctx);
} goc__caller_pipe_ops;

/* The pipelining depth and operations of c when it can drive its
 * pipelined connections itself (the HTTP caller with pipeline > 1 and no
 * connection pool), else 0 and NULL. */
int goc__caller_pipe(const goc_caller *c, const goc__caller_pipe_ops **ops);

/* For a driver: takes the next call of the run into *pc (its number,
 * request, start and deadline); false when the run has none left for
 * this driver (the plan is done, the run's time is over, or a stop
 * began). A call whose build_req failed is accounted at once and the
 * next one taken. */
bool goc__pipe_take(goc__pipe_ctx *ctx, goc__pcall *pc);
/* For a driver: pc's call ended now (`end`, a goc_nanotime() taken when
 * its outcome was known, e.g. when the read that completed its response
 * returned) with rc (0, or a negative code with resp->err_kind and
 * resp->msg set as a call would). check_resp runs on the driver's
 * session when rc is 0 and the call was in time. */
void goc__pipe_done(goc__pipe_ctx *ctx, goc__pcall *pc, int rc,
                    goc_call_resp *resp, int64_t end);
/* The buffer for resp->msg of goc__pipe_done, GOC_CALL_MSG_MAX bytes. */
char *goc__pipe_msgbuf(goc__pipe_ctx *ctx);

#endif
