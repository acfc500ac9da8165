/*
 * goc/calcserver.h - the book's arithmetic server (gopcp.v2
 * chapter4/loadgen testhelper.TCPServer), in process: a test server for
 * load generators (goc-calcserver is this as a program; goc-loadgen starts
 * one when given no target).
 *
 * Protocol: one JSON request per line, {"ID":1,"Operands":[1,2],
 * "Operator":"+"}, one JSON response per line, {"ID":1,"Formula":
 * "1 + 2 = 3","Result":3,"Err":null}, wire-compatible with the book's Go
 * server and client (the quirks kept and the ones fixed are listed in
 * src/calc/calc_proto.h). goc_caller_calc (goc/loadgen.h) is its client. One
 * request line, one response line, then the connection is closed (the book's
 * server answers one request per connection; it leaves the connection open,
 * which we do not). With keepalive (ours) it answers requests until the client
 * closes.
 *
 * Never crashes on bad input: every line that does not parse, or does not
 * evaluate (zero divisor, overflow, unknown operator), gets one error
 * response, {"ID":<id or 0>,"Formula":"","Result":0,"Err":"<reason>"},
 * and the server goes on serving (with keepalive, on the same connection).
 * A line over 64 KiB gets an error response and the connection is closed
 * (no resynchronisation; what still arrives is read and dropped for up to
 * 0.5 s first, so that the client gets the response, not a reset). Bytes
 * without a final '\n' before the client's EOF get an error response
 * ("unexpected EOF"). A client that sends nothing for idle_timeout is
 * disconnected; one whose request line is not complete request_timeout
 * after its first byte gets an error response and is disconnected.
 *
 * Concurrency: one goroutine accepts, one goroutine per connection.
 * goc_calcserver_stop closes the listener, wakes every connection
 * (deadline in the past), waits for every goroutine and frees the server.
 */
#ifndef GOC_CALCSERVER_H
#define GOC_CALCSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc/extern.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goc_calcserver goc_calcserver;

typedef struct goc_calcserver_opts {
    bool keepalive;       /* many requests per connection (ours) */
    int64_t idle_timeout; /* ns a request may take to arrive; 0: 30 s */
    /* ns a request line may take from its first byte to its '\n' (a
     * client trickling bytes cannot hold the connection); 0: 10 s */
    int64_t request_timeout;
    /* Open connections at most; past it a new one gets one error line
     * ("server busy: too many connections") and is closed. 0: no cap. */
    int64_t max_conns;
} goc_calcserver_opts;

typedef struct goc_calcserver_stats {
    int64_t conns;    /* connections accepted */
    int64_t requests; /* responses written (ok + errors) */
    int64_t ok;       /* requests evaluated */
    int64_t errors;   /* error responses */
    int64_t refused;  /* connections refused past max_conns */
} goc_calcserver_stats;

/* Listens on address ("127.0.0.1:0" for any free port; goc_listen's
 * "tcp" addresses) and serves in the background. 0, or a negative code
 * (goc_listen's: -EADDRINUSE, -EINVAL...). opts may be NULL. Goroutine
 * only. */
GOC_EXTERN int goc_calcserver_start(goc_calcserver **out, const char *address,
                                    const goc_calcserver_opts *opts);
/* The address it listens on, "host:port" (static for the server's life). */
GOC_EXTERN const char *goc_calcserver_addr(const goc_calcserver *s);
/* Its counters so far (any goroutine or thread). */
GOC_EXTERN void goc_calcserver_get_stats(goc_calcserver *s,
                                         goc_calcserver_stats *out);
/* Stops serving, waits for every goroutine, frees s. NULL: nothing.
 * Goroutine only. */
GOC_EXTERN void goc_calcserver_stop(goc_calcserver *s);

#ifdef __cplusplus
}
#endif
#endif
