/*
 * goc/loadgen.h - a load generator: the book's (gopcp.v2, chapter 4), made
 * exact.
 *
 * The model is the book's: a caller adapter (build a request, call with a
 * timeout, check the response), parameters (timeout, loads per second,
 * duration, an optional result channel, a limit on calls in flight), the
 * life cycle ORIGINAL -> STARTING -> STARTED -> STOPPING -> STOPPED with
 * start/stop/status/call count, and the book's result codes.
 *
 * What the book gets wrong, made right:
 *  - Open-model schedule. Call k (k = 0, 1, ...) is due at
 *        start + k * 1e9 / lps   (ns, goc_nanotime(), integer arithmetic)
 *    exactly: no ticker, no drift. The run plans the calls due in
 *    [start, start + duration): ceil(duration * lps / 1e9) of them. A call
 *    whose due time comes while every slot (max_in_flight) is busy is still
 *    issued, as soon as a slot frees, and counted as a late start; its
 *    latency is measured from its due time, so a stalled server shows in
 *    the latency instead of hiding in fewer calls (no coordinated
 *    omission). The run ends at start + duration, as wrk's and the book's
 *    do: a call that has not started by then is not issued (counted as
 *    not_issued: planned = issued + not_issued), and the calls in flight
 *    end by their timeout. Both latency from the due time and service time (the
 *    book's Elapse: the caller's call alone) are recorded, in log-linear
 *    histograms with 3 significant digits from 1 us to 60 s; each worker
 *    batches its samples (no lock per call) into one pair per run: memory
 *    is bounded however long the run and however many slots.
 *  - Exact accounting. Every issued call ends with exactly one result
 *    code; issued = success + each code + timeouts + calls cut off by
 *    stop, also when stopped early. A result channel, when given, receives
 *    every result: a worker waits for the receiver instead of dropping, and
 *    the report counts how often it had to wait.
 *  - Timeouts. The timeout of a call runs from the moment its call starts
 *    (a late call is not charged for its wait; its latency is). A call
 *    that fails with -ETIMEDOUT or returns after its deadline is reported
 *    once, as GOC_RET_WARNING_CALL_TIMEOUT. The callers shipped here close
 *    the connection of a call that timed out or failed: it is never reused.
 *
 * Concurrency: every function may be called from any goroutine; start,
 * stop, wait and free must be called from a goroutine (inside goc_main).
 * The generator runs one goroutine per busy or waiting slot ("worker");
 * a worker takes the next call number, waits for its due time, and makes
 * the call. Workers are started on demand: when a call starts while
 * every other worker is inside a call, one more is started, up to
 * max_in_flight; so a fast callee needs one or two, a slow one as many
 * as it holds calls.
 *
 *     goc_caller c;
 *     goc_caller_calc(&c, "127.0.0.1:8080", NULL);
 *     goc_loadgen_params p = {.caller = &c, .timeout = 50 * GOC_MILLISECOND,
 *                             .lps = 1000, .duration = 10 * GOC_SECOND};
 *     goc_loadgen *g;
 *     char err[256];
 *     if (goc_loadgen_new(&g, &p, err, sizeof err) < 0) ...print err...
 *     goc_loadgen_start(g);
 *     goc_loadgen_wait(g);
 *     struct goc_loadgen_report rep;
 *     goc_loadgen_report(g, &rep);
 *     goc_loadgen_free(g);
 *     goc_caller_destroy(&c);
 */
#ifndef GOC_LOADGEN_H
#define GOC_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc/chan.h"
#include "goc/extern.h"
#include "goc/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- result codes (the book's RetCode) -------------------------------- */

/* 1..1000 are left to the callee (a caller's check_resp may return them;
 * the report counts them as other_codes). */
#define GOC_RET_SUCCESS 0
#define GOC_RET_WARNING_CALL_TIMEOUT 1001
#define GOC_RET_ERROR_CALL 2001
#define GOC_RET_ERROR_RESPONSE 2002
#define GOC_RET_ERROR_CALEE 2003
#define GOC_RET_FATAL_CALL 3001
/* Ours: a call in flight that goc_loadgen_stop cut off: its call failed
 * after the stop began, with a caller that has an interrupt hook (a
 * genuine failure at that very moment is counted so too). The book drops
 * these results silently. */
#define GOC_RET_WARNING_CALL_CANCELED 1002

/* The book's GetRetCodePlain: "Success", "Call Timeout Warning", ...,
 * "Unknown result code". Static storage. */
GOC_EXTERN const char *goc_ret_code_plain(int code);

/* ---- the caller adapter (the book's lib.Caller) ----------------------- */

/* A request (the book's RawReq). The generator sets seq and id (to seq)
 * before build_req; build_req sets id as it likes and points data at the
 * bytes to send, which it owns (normally a buffer in its session). */
typedef struct goc_call_req {
    int64_t seq;      /* the call's number in the schedule, 0, 1, ... */
    int64_t id;       /* the request's ID, as the callee will echo it */
    const char *data; /* the bytes to send (may be NULL when len is 0) */
    size_t len;
} goc_call_req;

/* Why a call failed, for the report's errors by kind (as wrk's "Socket
 * errors: connect, read, write, timeout"). A caller's call sets
 * resp->err_kind when it fails; left 0, the generator guesses from the
 * code (-ECONNREFUSED, -ECONNRESET or -EPIPE, -ETIMEDOUT, -ENXIO). */
enum {
    GOC_CALL_ERR_NONE = 0,
    GOC_CALL_ERR_DNS,             /* the host name did not resolve */
    GOC_CALL_ERR_CONNECT_REFUSED, /* nobody listens there */
    GOC_CALL_ERR_CONNECT_TIMEOUT, /* the connection was not made in time */
    GOC_CALL_ERR_CONNECT,         /* any other failure to connect */
    GOC_CALL_ERR_WRITE,           /* sending the request failed */
    GOC_CALL_ERR_READ,            /* the response was cut or malformed */
    GOC_CALL_ERR_RESET,           /* the peer reset or closed the connection */
    GOC_CALL_ERR_TIMEOUT,         /* the response did not come in time */
    GOC_CALL_ERR_OTHER,
    GOC_CALL_ERR_N
};
/* "dns", "connect refused", "connect timeout", "connect", "write", "read",
 * "reset", "timeout", "other" (GOC_CALL_ERR_NONE: "none"). Static. */
GOC_EXTERN const char *goc_call_err_name(int kind);

/* A response (the book's RawResp). call points data at the bytes it
 * received (owned by its session, valid until the next call on it). */
typedef struct goc_call_resp {
    int64_t id;       /* the request's id (set by the generator) */
    const char *data; /* the bytes received */
    size_t len;
    int err;        /* what call returned (set by the generator) */
    int64_t elapse; /* service time in ns (set by the generator) */
    int err_kind;   /* GOC_CALL_ERR_*: set by call when it fails (or 0) */
    /* Where call may say what failed, NUL-terminated, in at most msglen
     * bytes ("connect 127.0.0.1:1: connection refused"); set by the
     * generator, empty before the call. Empty: goc_strerror(err). */
    char *msg;
    size_t msglen;
} goc_call_resp;

/*
 * The callee adapter: a table of functions and a user pointer, filled by
 * the user or by a constructor below. Every function gets `user`; those
 * about one call also get the session of the worker making it.
 *
 * A session is a worker's private state (its connection, buffers, the
 * request it built): session_open makes one when a worker starts,
 * session_close frees it when the worker ends; a worker makes one call at
 * a time, so the functions below never run concurrently on one session.
 * Sessions are what makes keep-alive (one connection per worker) and
 * protocols with state (HTTP/1.1) fit: the generator knows nothing of
 * connections.
 *
 *  session_open  Optional (NULL: every session is NULL). 0, or a negative
 *                code: the worker's calls then fail as GOC_RET_FATAL_CALL.
 *  session_close Optional.
 *  build_req     Optional (NULL: an empty request). 0, or a negative code
 *                (the call is then GOC_RET_FATAL_CALL: the book's panic).
 *  call          Required. Send req and receive the response into *resp
 *                by `deadline` (an absolute goc_nanotime(); the timeout
 *                runs from the call's start). 0, or a negative code:
 *                -ETIMEDOUT (GOC_RET_WARNING_CALL_TIMEOUT) or any other
 *                (GOC_RET_ERROR_CALL). A call must return about by its
 *                deadline (a slot is busy until it does), and should not
 *                reuse a connection after a failure.
 *  check_resp    Optional (NULL: GOC_RET_SUCCESS). Only after call
 *                returned 0 in time. Returns a result code and may write a
 *                message (NUL-terminated, at most msglen bytes) into msg.
 *  interrupt     Optional. Called by goc_loadgen_stop, from another
 *                goroutine, on every live session, busy or not: make the
 *                call in progress, if any, and every later one on this
 *                session fail soon (e.g. goc_conn_set_deadline to the
 *                past). Must not block. It may run concurrently with any
 *                function above on the same session, never with
 *                session_close. Without it, stop waits for the calls in
 *                flight to end by themselves.
 *  destroy       Optional: frees `user` (goc_caller_destroy calls it).
 *  prepare       Optional: see goc_caller_prepare.
 */
typedef struct goc_caller {
    void *user;
    int (*session_open)(void *user, void **session);
    void (*session_close)(void *user, void *session);
    int (*build_req)(void *user, void *session, goc_call_req *req);
    int (*call)(void *user, void *session, const goc_call_req *req,
                goc_call_resp *resp, int64_t deadline);
    int (*check_resp)(void *user, void *session, const goc_call_req *req,
                      const goc_call_resp *resp, char *msg, size_t msglen);
    void (*interrupt)(void *user, void *session);
    void (*destroy)(void *user);
    /* Optional (goc_caller_prepare): get ready before a run, by
     * `deadline`: the shipped callers resolve their host name here. 0,
     * or a negative code with a reason in msg. */
    int (*prepare)(void *user, int64_t deadline, char *msg, size_t msglen);
} goc_caller;

/* Options of the callers shipped (NULL: all defaults). */
typedef struct goc_caller_opts {
    /* Ours: keep the connection open for the worker's next call (the
     * book opens one per call). A reused connection that the server had
     * closed is redialled once, transparently. */
    bool keepalive;
    /* tcp line echo: the line to send, without its '\n' (NULL: a line
     * with the request's id). At most 64 KiB. */
    const char *payload;
} goc_caller_opts;

/* Name resolution in the shipped callers: the host is resolved once (by
 * goc_caller_prepare, else by the first call that needs it, within its
 * timeout), and every connection dials the address found, so that a slow
 * resolver is not on every call's path. After a connection fails the
 * name is resolved again by the next call, within that call's timeout
 * (the old address is kept if the lookup fails or is late); one lookup
 * runs at a time. A numeric host is never looked up. */

/* The book's arithmetic protocol over TCP (gopcp.v2 chapter4/loadgen
 * testhelper.TCPComm): each call sends {"ID":..,"Operands":[a,b],
 * "Operator":"+"} with a, b in 1..1000 and one of + - * /, reads one
 * response line with buffered reads (at most 64 KiB), and checks it as
 * the book does: a response that does not parse or has another ID, or a
 * wrong result, is GOC_RET_ERROR_RESPONSE; an Err from the server is
 * GOC_RET_ERROR_CALEE. IDs are unique per caller (the book's
 * time.Now().UnixNano() can repeat). 0 or -ENOMEM. */
GOC_EXTERN int goc_caller_calc(goc_caller *out, const char *address,
                               const goc_caller_opts *opts);
/* Raw TCP line echo: sends one line, expects the same line back
 * (GOC_RET_ERROR_RESPONSE otherwise). 0, -EINVAL (payload too long or
 * containing '\n') or -ENOMEM. */
GOC_EXTERN int goc_caller_tcp_line(goc_caller *out, const char *address,
                                   const goc_caller_opts *opts);
/* A caller for a target URL: "calc://host:port" or "tcp://host:port"
 * ("[v6]:port" too), or "http(s)://..." (goc_caller_http with default
 * options; opts unused). Checks the URL first: 0, -EINVAL with a reason
 * naming the wrong part in errbuf (an unknown scheme, no host, a port that
 * is not a number 1..65535, a payload with calc://), or -ENOMEM. Does not
 * resolve the host (goc_caller_prepare does). */
GOC_EXTERN int goc_caller_from_url(goc_caller *out, const char *url,
                                   const goc_caller_opts *opts, char *errbuf,
                                   size_t errlen);
/* ---- HTTP/1.1 ----------------------------------------------------------- */

/* A TLS layer for https:// targets, supplied by the program (goc itself
 * needs only libc and pthreads; goc-loadgen brings one made with OpenSSL
 * where it was built with it). open runs once per connection, right after
 * the TCP connection is made, with the connection's deadline set to the
 * call's: it makes the handshake (SNI: server_name) and sets *state.
 * *cache is the transport's own, one per HTTP connection slot and kept
 * across that slot's reconnects (e.g. a TLS session to resume); NULL at
 * first, freed by cache_free. read and write are goc_conn_read's and
 * goc_conn_write's (all n bytes) on the decrypted stream: a count, 0 at
 * end of stream, or a negative code. close frees *state (not the
 * goc_conn, which the caller closes). All functions run on the calling
 * goroutine and may park. */
typedef struct goc_http_transport {
    void *user;
    int (*open)(void *user, goc_conn *conn, const char *server_name,
                void **cache, void **state);
    ssize_t (*read)(void *state, void *buf, size_t n);
    ssize_t (*write)(void *state, const void *buf, size_t n);
    void (*close)(void *user, void *state);
    void (*cache_free)(void *user, void *cache);
} goc_http_transport;

#define GOC_HTTP_CONNECTIONS_MAX 100000

/* Options of goc_caller_http (NULL, or zeroed fields: the defaults). */
typedef struct goc_caller_http_opts {
    const char *method;         /* a token; NULL: "GET" ("HEAD": no body) */
    const char *const *headers; /* "Name: value" each, sent in order */
    size_t nheaders;
    const char *body; /* body bytes (Content-Length is sent when body is */
    size_t body_len;  /* given, even empty); at most 64 MiB */
    const char *host; /* the Host header's value; NULL: from the URL */
    /* A connection per request ("Connection: close"); default: keep-alive,
     * one connection per (worker / pipeline). */
    bool no_keepalive;
    /* Requests in flight per connection (HTTP/1.1 pipelining): up to
     * `pipeline` workers share one connection and read their responses in
     * turn. A request made while earlier ones on the connection await
     * their responses is queued, and the queue goes in one write when the
     * first queued request's turn comes (a window at a time, as wrk's
     * pipelining), or at once when nothing is queued and the connection
     * waits in a read; one read brings every response that has come. In
     * the closed model (and without `connections`), the generator runs
     * one goroutine per connection instead, which writes a window of
     * `pipeline` requests in one write and takes each response as a read
     * brings it, with the same accounting, call by call. 0 or 1: none; at
     * most 1024. */
    int pipeline;
    /* At most this many connections, shared by every worker (the open
     * model's cap, as wrk2's -c): a call takes the connection freed last
     * that has room (fewer than `pipeline` calls on it), or dials one
     * while fewer exist, or else waits in line, first come first served,
     * for a call to end and give its place; the wait is part of its
     * latency (counted in goc_http_stats.conn_waits). The calls ahead end
     * by their deadlines, which come before its own; a call that gets its
     * place after its deadline fails as a timeout ("waiting for a
     * connection"). The connections end when the last session closes (a
     * run's end). 0: no pool, a connection per `pipeline` workers (the
     * closed model's). At most GOC_HTTP_CONNECTIONS_MAX. */
    int connections;
    /* For https:// (required there; ignored for http://). */
    const goc_http_transport *transport;
} goc_caller_http_opts;

/* A target URL split up. */
typedef struct goc_http_url {
    bool tls;           /* https */
    int port;           /* 80 or 443 unless given */
    char host[256];     /* "example.com", "127.0.0.1", "[::1]" */
    char hostport[272]; /* the Host header: host, and :port unless default */
    char address[272];  /* what to dial: host:port */
    char path[4096];    /* "/path?query" ("/" when empty); no fragment */
} goc_http_url;

/* Splits "http://host[:port]/path?query" (or https://) into *u. 0, or
 * -EINVAL with the reason in errbuf. */
GOC_EXTERN int goc_http_parse_url(const char *url, goc_http_url *u,
                                  char *errbuf, size_t errlen);

/*
 * HTTP/1.1 over TCP (https:// through opts->transport). Every call sends
 * the same request, built once: "METHOD /path?query HTTP/1.1", Host (from
 * the URL, or opts->host; or the user's own Host header), the user's
 * headers, Content-Length with a body, "Connection: close" without
 * keep-alive; one write per request (pipelined: per window, see
 * goc_caller_http_opts.pipeline). Deadlines are set on a connection with
 * some slack (1/32 of the timeout, at most 50 ms) so that its timers are
 * not re-armed on every call: a hung read or write fails that much after
 * its call's deadline at most. The response is parsed strictly and
 * as it arrives (status line, headers, Content-Length, chunked transfer
 * coding with trailers, a body delimited by the connection's end, 1xx
 * responses skipped, no body for HEAD, 204 and 304, "Connection: close"
 * and HTTP/1.0 ending the connection); body bytes are counted and
 * discarded, so memory is a 64 KiB buffer per connection whatever the
 * body's length. A reused connection that the server had closed is
 * redialled transparently (for the call, and for the pipelined requests
 * written behind a response that closed it), within the call's deadline.
 *
 * Result codes: 2xx and 3xx GOC_RET_SUCCESS; 4xx and 5xx
 * GOC_RET_ERROR_CALEE ("HTTP 503"); a malformed response (one the parser
 * refuses, or cut short by the connection's end) GOC_RET_ERROR_RESPONSE
 * with the reason ("Malformed response: bad chunk size"); failures to
 * connect, read or write GOC_RET_ERROR_CALL; a response not complete by
 * the deadline GOC_RET_WARNING_CALL_TIMEOUT. A connection whose call
 * failed is never reused. goc_caller_http_stats counts each status code.
 *
 * 0; -EINVAL with the reason in errbuf (bad URL, method, header, Host,
 * pipeline depth; https without a transport); -ENOMEM.
 */
GOC_EXTERN int goc_caller_http(goc_caller *out, const char *url,
                               const goc_caller_http_opts *opts, char *errbuf,
                               size_t errlen);

#define GOC_HTTP_WHY_MAX 120

/* What an HTTP caller saw, over all its calls since it was made (or
 * reset). Response counts cover the responses checked (those that came in
 * time): responses = the sum of status[] = success + callee errors of the
 * generator's report when the caller served one run. */
typedef struct goc_http_stats {
    int64_t status[600];     /* final responses per status code */
    int64_t status_class[6]; /* [2]..[5]: 2xx..5xx (and [1] unused: 0) */
    int64_t responses;       /* final responses checked */
    int64_t interim;         /* 1xx responses skipped */
    int64_t malformed;       /* responses refused (GOC_RET_ERROR_RESPONSE) */
    char first_malformed[GOC_HTTP_WHY_MAX]; /* the first one's reason */
    int64_t bytes_read; /* from the sockets (after TLS), every byte */
    int64_t bytes_written;
    int64_t connects;         /* connections made */
    int64_t closed_by_server; /* of those, ended by a "Connection: close" */
    int64_t retries;          /* requests sent again on a new connection */
    /* Socket errors by kind (calls cut off by a stop excepted): */
    int64_t connect_errors; /* could not connect (refused, unreachable..) */
    int64_t read_errors;    /* reset, or closed before the response */
    int64_t write_errors;
    int64_t timeouts; /* the deadline passed in connect, write or read */
    /* Calls that waited in line for one of the pool's connections
     * (goc_caller_http_opts.connections). */
    int64_t conn_waits;
} goc_http_stats;

/* The statistics of a caller made by goc_caller_http. 0, or -EINVAL if c
 * is not one. Any goroutine or thread, also during a run. */
GOC_EXTERN int goc_caller_http_stats(const goc_caller *c, goc_http_stats *out);
/* Zeroes them (e.g. after a warm-up run). 0 or -EINVAL. */
GOC_EXTERN int goc_caller_http_stats_reset(goc_caller *c);

/* Runs c->prepare, if any, within timeout ns (the shipped callers: resolve
 * the host name now). Goroutine only. 0 (also without a hook), or a
 * negative code (-ENXIO: the name does not resolve; -ETIMEDOUT) with a
 * reason in errbuf ("cannot resolve \"host\": ..."). */
GOC_EXTERN int goc_caller_prepare(goc_caller *c, int64_t timeout, char *errbuf,
                                  size_t errlen);
/* c->destroy(c->user), then zero *c. NULL or a zeroed caller: nothing. */
GOC_EXTERN void goc_caller_destroy(goc_caller *c);

/* ---- results ---------------------------------------------------------- */

#define GOC_CALL_MSG_MAX 192

/* One call's result (the book's CallResult), sent by value on the result
 * channel: make it with goc_chan_make(sizeof(goc_call_result), cap). */
typedef struct goc_call_result {
    int64_t id;      /* the request's id */
    int64_t seq;     /* the call's number in the schedule */
    int code;        /* GOC_RET_* (or a callee's code 1..1000) */
    int64_t due;     /* goc_nanotime() at which the call was due */
    int64_t start;   /* when it started (>= due; later for a late start) */
    int64_t latency; /* end - due */
    int64_t elapse;  /* service time: the caller's call alone */
    char msg[GOC_CALL_MSG_MAX]; /* what happened, NUL-terminated */
} goc_call_result;

/* ---- the generator ---------------------------------------------------- */

/* Life cycle (the book's STATUS_*). Transitions:
 *   ORIGINAL -> STARTING (start) -> STARTED
 *   STARTED  -> STOPPING (stop, or the last planned call ended) -> STOPPED
 *   STOPPED  -> STARTING (start again: a new run, counters reset) */
enum {
    GOC_LOADGEN_ORIGINAL = 0,
    GOC_LOADGEN_STARTING = 1,
    GOC_LOADGEN_STARTED = 2,
    GOC_LOADGEN_STOPPING = 3,
    GOC_LOADGEN_STOPPED = 4,
};
/* "original", "starting", ... Static storage. */
GOC_EXTERN const char *goc_loadgen_status_name(uint32_t status);

typedef struct goc_loadgen goc_loadgen;

typedef struct goc_loadgen_params {
    const goc_caller *caller; /* required; copied by goc_loadgen_new */
    int64_t timeout;          /* per call, ns, > 0 */
    int64_t lps;              /* loads (calls) per second, 1..1e9 */
    int64_t duration;         /* ns, > 0 */
    /* Optional channel of goc_call_result: receives every result, and is
     * closed at the end of each run (after the status is STOPPED). Keep
     * receiving until it is closed: workers wait for you. A run closes
     * it, so a restart needs a new one (goc_loadgen_set_result_chan). */
    goc_chan *result_ch;
    /* Slots (calls in flight at once); 0: the book's concurrency,
     * timeout / (1 s / lps) + 1, at most 10,000. At most 1,000,000. */
    int64_t max_in_flight;
    /* Ours: the closed model (wrk's max-throughput mode) instead of the
     * schedule: max_in_flight workers (required, > 0; lps must be 0), each
     * making its next call as soon as its previous one ended, until
     * duration has passed (or count calls). Nothing is ever late, and
     * latency is service time: the model hides queueing (a stalled server
     * slows the calls down instead of showing in their latency). */
    bool closed;
    /* Ours: at most this many calls (0: as many as duration allows). The
     * run still ends at start + duration. */
    int64_t count;
    /* Ours, open model only: a share of the schedule, for one of `parts`
     * generators (processes, hosts) that together make it, e.g.
     * goc-loadgen's MPI ranks. This one makes exactly the calls k of the
     * asked schedule (lps, duration, count) with k % parts == part, each
     * at its own due time start + k * 1e9 / lps: the union of the parts
     * is the asked schedule, every call once. planned, issued and the
     * report count this part's calls only; a call's seq is its k, and
     * achieved_rate is this part's (about lps / parts: its window ends
     * at the due time of call issued * parts). parts 0 or 1:
     * the whole schedule. 0 <= part < parts <= 1,000,000. */
    int64_t part, parts;
    /* Ours, open model only: call 0's due time, an absolute
     * goc_nanotime() (e.g. agreed with other processes); 0: the start
     * plus 1 ms. A start after it makes the calls already due late (and
     * those due after start_at + duration not issued); a start long before
     * it leaves the workers waiting. The report's start is this time. */
    int64_t start_at;
} goc_loadgen_params;

/* Checks every parameter and makes a generator (ORIGINAL). 0; -EINVAL
 * with a message in errbuf naming each bad parameter ("lps must be > 0
 * (got 0); duration must be > 0 (got 0)"); -ENOMEM. errbuf may be NULL. */
GOC_EXTERN int goc_loadgen_new(goc_loadgen **out, const goc_loadgen_params *p,
                               char *errbuf, size_t errlen);
/* Starts a run from ORIGINAL or STOPPED; false otherwise (already
 * started, a result channel closed by the previous run and not replaced,
 * or no memory). Resets the call count. Returns at once. */
GOC_EXTERN bool goc_loadgen_start(goc_loadgen *g);
/* Stops a STARTED run: no call is issued any more, the calls in flight
 * are interrupted (caller->interrupt) or waited for; returns once the
 * status is STOPPED. false if it was not STARTED. Safe to call from the
 * receiver of the result channel: once a stop began, results that find no
 * receiver are queued, and delivered (then the channel closed) after
 * STOPPED. */
GOC_EXTERN bool goc_loadgen_stop(goc_loadgen *g);
/* Ours: waits until the current run is STOPPED (at once if not started or
 * stopped). */
GOC_EXTERN void goc_loadgen_wait(goc_loadgen *g);
/* Ours: a channel closed when the current run is STOPPED (for select);
 * NULL before the first start. Valid until the next start or free. */
GOC_EXTERN goc_chan *goc_loadgen_done(goc_loadgen *g);
GOC_EXTERN uint32_t goc_loadgen_status(goc_loadgen *g);
/* Calls issued by the current (or last) run. */
GOC_EXTERN int64_t goc_loadgen_call_count(goc_loadgen *g);
/* Ours: the result channel of the next run (ORIGINAL or STOPPED only;
 * else -EBUSY). NULL: none. */
GOC_EXTERN int goc_loadgen_set_result_chan(goc_loadgen *g, goc_chan *ch);
/* Stops a run in progress (as stop), then frees g. NULL: nothing. The
 * caller (params.caller) stays the user's. */
GOC_EXTERN void goc_loadgen_free(goc_loadgen *g);

/* Percentiles of one histogram, ns. */
typedef struct goc_loadgen_latency {
    uint64_t count; /* values recorded */
    int64_t min, p50, p90, p99, p999, p9999, max;
    double mean;
} goc_loadgen_latency;

struct goc_loadgen_report {
    uint32_t status;    /* GOC_LOADGEN_STOPPED */
    bool stopped_early; /* goc_loadgen_stop cut the run short */
    bool closed;        /* the closed model ran (planned: count, or issued) */
    int64_t lps, timeout, duration, max_in_flight; /* as run */
    int64_t planned;    /* calls due in [start, start + duration) */
    int64_t issued;     /* calls started */
    int64_t not_issued; /* planned - issued: not started by the end of the
                         * run (start + duration) or by a stop */
    /* Calls started after their due time, for any reason: every slot was
     * taken, or the generator was slow to run a worker (a busy machine). */
    int64_t late;
    /* Of those, the calls that found no free slot at their due time: all
     * max_in_flight slots were in use (raise max_in_flight, or the callee
     * is too slow for the rate). late - late_no_slot is the generator's
     * own lateness. */
    int64_t late_no_slot;
    /* Calls whose call failed (timeouts and call errors; not those a stop
     * cut off), by GOC_CALL_ERR_* kind ([0] stays 0), and the first
     * message of each kind (empty when none): "Connection refused". */
    int64_t errors[GOC_CALL_ERR_N];
    char first_error[GOC_CALL_ERR_N][GOC_CALL_MSG_MAX];
    /* Completed calls per code; they sum to issued. */
    int64_t success;         /* GOC_RET_SUCCESS */
    int64_t timeouts;        /* GOC_RET_WARNING_CALL_TIMEOUT */
    int64_t call_errors;     /* GOC_RET_ERROR_CALL */
    int64_t response_errors; /* GOC_RET_ERROR_RESPONSE */
    int64_t callee_errors;   /* GOC_RET_ERROR_CALEE */
    int64_t fatal_calls;     /* GOC_RET_FATAL_CALL */
    int64_t other_codes;     /* any other code a check_resp returned */
    int64_t canceled;        /* GOC_RET_WARNING_CALL_CANCELED: cut off */
    int64_t result_waits;    /* results that had to wait for the receiver */
    int64_t peak_in_flight;  /* workers at once (slots used), at most
                              * max_in_flight */
    int64_t start;           /* goc_nanotime() of call 0's due time */
    int64_t elapsed;         /* start to the end of the last call, ns */
    /* issued / issue window, per second; the window runs from start to
     * the due time after the last issued call, or to the last issue when
     * that was later (a generator that falls behind shows here). */
    double achieved_rate;
    double success_rate; /* successes per second of the same window */
    /* Latencies of the calls that ended (canceled ones excepted),
     * whatever their code: */
    goc_loadgen_latency latency; /* from the due time: what users saw */
    goc_loadgen_latency service; /* the call alone (the book's Elapse) */
};

/* The report of the last run. 0; -EBUSY while a run is in progress (see
 * goc_loadgen_progress); -ESRCH before the first start. Like POSIX's
 * struct stat and stat(), the struct and the function share a name:
 *     struct goc_loadgen_report rep;
 *     goc_loadgen_report(g, &rep); */
GOC_EXTERN int goc_loadgen_report(goc_loadgen *g,
                                  struct goc_loadgen_report *out);

/* Ours: live counters of the current run, for a progress display. */
struct goc_loadgen_progress {
    uint32_t status;
    int64_t elapsed;   /* since the start (to the end once stopped), ns */
    int64_t issued;    /* calls started */
    int64_t completed; /* calls ended */
    int64_t success;
    int64_t timeouts;
    int64_t errors; /* every other code (canceled excepted) */
    int64_t canceled;
    /* Latency from the due time over the calls that ended since the
     * previous goc_loadgen_progress call (the first call only starts the
     * interval): its count and 99th percentile (0 when none). */
    int64_t interval_count;
    int64_t interval_p99;
    int64_t interval_p50; /* the same interval's median and maximum */
    int64_t interval_max;
};
/* 0, or -ESRCH before the first start. */
GOC_EXTERN int goc_loadgen_progress(goc_loadgen *g,
                                    struct goc_loadgen_progress *out);

/* Ours: one second of a run. Second i covers [start + i s, start + (i+1)
 * s), start being report.start (call 0's due time). */
typedef struct goc_loadgen_second {
    int64_t issued;    /* calls started in this second */
    int64_t completed; /* calls ended in this second, any code */
    /* Of those, per code (as in the report; they sum to completed): */
    int64_t success, timeouts, call_errors, response_errors, callee_errors,
        fatal_calls, other_codes, canceled;
    /* Latency from the due time of the calls that ended in this second
     * (canceled ones excepted), ns; 0 when none. Percentiles have 2
     * significant digits (relative error < 1/128); max is exact. A call
     * whose result reached the generator more than ceil(timeout / 1 s) + 2
     * seconds after it ended (a caller that overran its deadline) counts in
     * its row and its max, not in these percentiles. */
    int64_t p50, p90, p99, max;
} goc_loadgen_second;

/* Ours: the per-second series of the last run, after it ended (STOPPED):
 * copies min(n, cap) rows into out (out may be NULL when cap is 0) and
 * returns n, the run's seconds (from start to the end of its last call).
 * -EBUSY while a run is in progress, -ESRCH before the first start,
 * -ENOMEM when the series could not grow during the run. Memory: 112
 * bytes per second of run, kept until the next start or the free. */
GOC_EXTERN int64_t goc_loadgen_series(goc_loadgen *g, goc_loadgen_second *out,
                                      size_t cap);

/* Ours: one slot of a run's histogram: count values recorded whose slot's
 * highest value is `value` (ns; clamped to the histogram's min and max, so
 * that walking the slots by rank gives the report's percentiles exactly:
 * the value at percentile p is that of the first slot where the running
 * count reaches ceil(p / 100 * total), at least 1). */
typedef struct goc_loadgen_bucket {
    int64_t value;
    uint64_t count;
} goc_loadgen_bucket;

enum {
    GOC_LOADGEN_HIST_LATENCY = 0, /* from the due time (report.latency) */
    GOC_LOADGEN_HIST_SERVICE = 1, /* the call alone (report.service) */
};

/* Ours: the non-empty slots of the last run's latency or service-time
 * histogram (3 significant digits), ascending: copies min(n, cap) of them
 * into out and returns n (at most 26,389). -EINVAL for another `which`;
 * -EBUSY and -ESRCH as goc_loadgen_series. */
GOC_EXTERN int64_t goc_loadgen_histogram(goc_loadgen *g, int which,
                                         goc_loadgen_bucket *out, size_t cap);

/* Ours: the highest value (ns) of the histogram slot that holds `value`
 * (clamped first to the histograms' range, 1 us to 60 s). Two buckets,
 * of the same run or of different ones, are the same slot exactly when
 * their values have the same top; so runs made apart (processes, hosts)
 * merge exactly, as one histogram fed every sample: add the counts of the
 * buckets whose tops are equal (ascending by top), sum the counts, take
 * the least min and the greatest max, and clamp each top to [min, max]
 * as goc_loadgen_histogram does. Any thread. */
GOC_EXTERN int64_t goc_loadgen_bucket_top(int64_t value);

#ifdef __cplusplus
}
#endif
#endif
