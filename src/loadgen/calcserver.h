/*
 * calcserver.h - the book's arithmetic server (gopcp.v2 chapter4/loadgen
 * testhelper.TCPServer), in process: for goc-calcserver, goc-loadgen's
 * default scenario and the tests. Private to the project.
 *
 * Protocol: calc_proto.h. One request line, one response line, then the
 * connection is closed (the book's server answers one request per
 * connection; it leaves the connection open, which we do not). With
 * keepalive (ours) it answers requests until the client closes.
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
 * goc__calcserver_stop closes the listener, wakes every connection
 * (deadline in the past), waits for every goroutine and frees the server.
 */
#ifndef GOC_LOADGEN_CALCSERVER_H
#define GOC_LOADGEN_CALCSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct goc__calcserver goc__calcserver;

typedef struct goc__calcserver_opts {
    bool keepalive;       /* many requests per connection (ours) */
    int64_t idle_timeout; /* ns a request may take to arrive; 0: 30 s */
    /* ns a request line may take from its first byte to its '\n' (a
     * client trickling bytes cannot hold the connection); 0: 10 s */
    int64_t request_timeout;
    /* Open connections at most; past it a new one gets one error line
     * ("server busy: too many connections") and is closed. 0: no cap. */
    int64_t max_conns;
} goc__calcserver_opts;

typedef struct goc__calcserver_stats {
    int64_t conns;    /* connections accepted */
    int64_t requests; /* responses written (ok + errors) */
    int64_t ok;       /* requests evaluated */
    int64_t errors;   /* error responses */
    int64_t refused;  /* connections refused past max_conns */
} goc__calcserver_stats;

/* Listens on address ("127.0.0.1:0" for any free port) and serves in the
 * background. 0, or a negative code (-ENOSYS when goc was built without
 * goc/net.h). opts may be NULL. Goroutine only. */
int goc__calcserver_start(goc__calcserver **out, const char *address,
                          const goc__calcserver_opts *opts);
/* The address it listens on, "host:port" (static for the server's life). */
const char *goc__calcserver_addr(const goc__calcserver *s);
void goc__calcserver_get_stats(goc__calcserver *s, goc__calcserver_stats *out);
/* Stops serving, waits for every goroutine, frees s. NULL: nothing.
 * Goroutine only. */
void goc__calcserver_stop(goc__calcserver *s);

#endif
