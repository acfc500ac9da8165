/*
 * http.c - the HTTP/1.1 caller (goc_caller_http, goc/loadgen.h).
 *
 * The request is built once, when the caller is made (method, target,
 * Host, the user's headers, Content-Length and body): every call writes
 * the same bytes with one write (pipelined: queued, a window per write).
 * Responses are parsed by http_parse.c as
 * they arrive, into a read buffer per connection that is reused; body
 * bytes are skipped, never kept, so an endless body costs no memory.
 *
 * Connections. A session (one worker of the generator) belongs to a
 * "pipe": one connection shared by up to `pipeline` sessions. A call
 * takes a ticket and writes its request, or (pipelined) queues it in the
 * pipe's write buffer, under the pipe's mutex, so requests are whole and
 * in order; it waits until the responses of the tickets before it have
 * been read (each head signals the next ticket's waiter); then it is the
 * head, writes the queue if its own request is in it (a window of
 * requests in one write), and reads its own response, which may bring
 * the next ones (they stay in the buffer for the next heads: one read for
 * many responses). With the pool (opts.connections, the open model's
 * cap), a session has no pipe of its own: each call takes a place on one
 * of at most `connections` pipes, or waits in line for one (pool_take). With
 * pipeline 1 the pipe is the session's own connection and nobody waits. Only
 * the head ends a connection: after a failure (read error, malformed response,
 * timeout), a "Connection: close" from the server, or every response without
 * keep-alive. The requests written behind it on that connection are then sent
 * again on a new one, as long as no byte of their response had come and their
 * deadline has not passed (however often: each such end served the head's
 * request) (a server that closes after each response, or an idle keep-alive
 * connection that the server closed). A request whose write failed still takes
 * its ticket: its turn as head ends the connection.
 *
 * Locks: pipe->mu orders writes and tickets and guards conn, gen and the
 * ticket counters (the read buffer and parser belong to the head alone);
 * pipe->imu, taken only for instants, guards `interrupted` and every
 * deadline change, so that interrupt never blocks and a call can never
 * overwrite the past deadline an interrupt set. Order: mu, then imu.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callers/http_parse.h"
#include "goc/loadgen.h"
#include "goc/net.h"
#include "goc/runtime.h"
#include "goc/sync.h"
#include "loadgen/caller_pipe.h"

#define RBUF_SIZE (64 * 1024)
/* Unparsed bytes moved to the read buffer's start before a read. */
#define COMPACT_MAX 4096
#define STATUS_MAX 600
#define BODY_MAX (64 * 1024 * 1024)
/* Sends of one request at most: it goes again while the connections it
 * was written on end before its turn (each such end served another
 * request first) and its deadline allows; this only bounds a pathology. */
#define RETRY_MAX 1000

typedef struct http_caller http_caller;

typedef struct http_pipe {
    http_caller *hc;
    int members;  /* hc->mu */
    int inflight; /* hc->mu: the pool's calls on it */
    int avail_at; /* hc->mu: its index in hc->avail, or -1 */
    goc_mutex mu;
    goc_cond cv;
    goc_conn *conn;       /* mu; and imu to change */
    void *tls;            /* the transport's state of conn, or NULL */
    void *tls_cache;      /* the transport's, across reconnects */
    uint64_t gen;         /* mu: connections made so far */
    uint64_t next_ticket; /* mu */
    uint64_t served;      /* mu: responses read (or given up) on conn */
    uint64_t responses;   /* mu: complete responses on conn */
    uint64_t sent;        /* mu: tickets whose request was written */
    int broken;           /* mu: a write failed on conn (its code) */
    _Atomic bool reading; /* the head is in a read of conn (a hint) */
    char *wbuf;           /* mu: requests queued, not yet written */
    size_t wlen, wcap;    /* mu */
    goc_mutex imu;
    _Atomic bool interrupted; /* set under imu; sticky */
    int64_t dl[2]; /* imu: conn's read [0] and write [1] deadlines set */
    /* The head's: */
    size_t rstart, rend;
    char *rbuf;
} http_pipe;

typedef struct http_session http_session;
struct http_session {
    http_pipe *pipe; /* the pool's: hc->mu; NULL between calls */
    goc__http_parser parser;
    /* In line for one of the pool's connections (hc->mu): */
    goc_cond qcv;
    http_session *qnext;
    http_pipe *granted;
    bool queued, interrupted;
    int64_t slack;  /* deadline slack + 1, from the first call; 0 before */
    int status;     /* the last response's status, or 0 */
    bool malformed; /* the last response was refused: parser.why says why */
};

struct http_caller {
    char *address; /* host:port to dial */
    char *server_name;
    char *req;
    size_t req_len;
    bool head, keepalive;
    int pipeline;
    goc_http_transport transport; /* .read NULL: plain TCP */
    goc_mutex mu;
    http_pipe *filling; /* mu: the pipe new sessions join */
    /* The pool (max_conns > 0; its fields under mu): the connections
     * made, those with room for a call, and the calls waiting in line. */
    int max_conns, npool, navail, sessions;
    http_pipe **pool, **avail;
    http_session *qhead, *qtail;
    /* Statistics (goc_http_stats). */
    _Atomic int64_t status[STATUS_MAX];
    _Atomic int64_t interim, responses, malformed, bytes_read, bytes_written,
        connects, connect_errors, read_errors, write_errors, timeouts, retries,
        closed_by_server, conn_waits;
    _Atomic bool have_why;
    goc_mutex why_mu;
    char first_why[GOC_HTTP_WHY_MAX];
};

/* ---- I/O over the pipe's connection (plain or through the transport) - */

static ssize_t io_read(http_caller *hc, http_pipe *p, void *buf, size_t n)
{
    if (hc->transport.read)
        return hc->transport.read(p->tls, buf, n);
    return goc_conn_read(p->conn, buf, n);
}

static ssize_t io_write(http_caller *hc, http_pipe *p, const void *buf,
                        size_t n)
{
    if (hc->transport.write)
        return hc->transport.write(p->tls, buf, n);
    return goc_conn_write(p->conn, buf, n);
}

/* ---- sessions and pipes ---------------------------------------------- */

static http_pipe *pipe_new(http_caller *hc)
{
    http_pipe *p = calloc(1, sizeof *p);
    char *rbuf = p ? malloc(RBUF_SIZE) : NULL;
    if (!rbuf) {
        free(p);
        return NULL;
    }
    p->hc = hc;
    p->rbuf = rbuf;
    p->avail_at = -1;
    goc_cond_init(&p->cv, &p->mu);
    return p;
}

/* Ends the pipe's connection (mu held): the requests written on it and
 * not yet served are sent again, or fail, by their own calls. */
static void end_conn(http_pipe *p)
{
    http_caller *hc = p->hc;
    if (p->conn) {
        goc_mutex_lock(&p->imu);
        goc_conn *c = p->conn;
        p->conn = NULL;
        goc_mutex_unlock(&p->imu);
        if (p->tls)
            hc->transport.close(hc->transport.user, p->tls);
        p->tls = NULL;
        goc_conn_close(c);
    }
    p->gen++;
    p->next_ticket = p->served = p->responses = p->sent = 0;
    p->broken = 0;
    p->wlen = 0;
    p->rstart = p->rend = 0;
    goc_cond_broadcast(&p->cv);
}

static void pipe_free(http_pipe *p)
{
    http_caller *hc = p->hc;
    goc_mutex_lock(&p->mu);
    end_conn(p);
    goc_mutex_unlock(&p->mu);
    if (p->tls_cache && hc->transport.cache_free)
        hc->transport.cache_free(hc->transport.user, p->tls_cache);
    free(p->rbuf);
    free(p->wbuf);
    free(p);
}

static int http_session_open(void *user, void **session)
{
    http_caller *hc = user;
    http_session *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    goc_mutex_lock(&hc->mu);
    if (hc->max_conns) { /* the pool's connections, taken call by call */
        goc_cond_init(&s->qcv, &hc->mu);
        hc->sessions++;
        goc_mutex_unlock(&hc->mu);
        *session = s;
        return 0;
    }
    http_pipe *p = hc->filling;
    if (!p) {
        p = pipe_new(hc);
        if (!p) {
            goc_mutex_unlock(&hc->mu);
            free(s);
            return -ENOMEM;
        }
        hc->filling = p;
    }
    if (++p->members >= hc->pipeline)
        hc->filling = NULL;
    goc_mutex_unlock(&hc->mu);
    s->pipe = p;
    *session = s;
    return 0;
}

static void http_session_close(void *user, void *session)
{
    http_caller *hc = user;
    http_session *s = session;
    http_pipe *p = s->pipe;
    goc_mutex_lock(&hc->mu);
    if (hc->max_conns) {
        /* The last session closes the pool's connections (a run's end:
         * the next run starts afresh, as with a connection per worker). */
        if (--hc->sessions == 0) {
            for (int i = 0; i < hc->npool; i++)
                pipe_free(hc->pool[i]);
            hc->npool = hc->navail = 0;
        }
        goc_mutex_unlock(&hc->mu);
        free(s);
        return;
    }
    bool last = --p->members == 0;
    if (last && hc->filling == p)
        hc->filling = NULL;
    goc_mutex_unlock(&hc->mu);
    if (last)
        pipe_free(p);
    free(s);
}

/* ---- the pool: at most max_conns connections for every call ---------- */

static void avail_add(http_caller *hc, http_pipe *p)
{
    p->avail_at = hc->navail;
    hc->avail[hc->navail++] = p;
}

static void avail_del(http_caller *hc, http_pipe *p)
{
    http_pipe *last = hc->avail[--hc->navail];
    hc->avail[p->avail_at] = last;
    last->avail_at = p->avail_at;
    p->avail_at = -1;
}

/* Takes a call's place on one of the pool's connections (s->pipe): the one
 * freed last with room (fewer than `pipeline` calls on it), else a new one
 * while fewer than max_conns exist, else the place that the longest
 * waiting call in line will be given when a call ends. 0, 1 (it waited in
 * line), -ECANCELED (interrupted) or -ENOMEM. */
static int pool_take(http_caller *hc, http_session *s)
{
    goc_mutex_lock(&hc->mu);
    if (s->interrupted) {
        goc_mutex_unlock(&hc->mu);
        return -ECANCELED;
    }
    http_pipe *p = NULL;
    if (!hc->qhead) {
        if (hc->navail) {
            p = hc->avail[hc->navail - 1];
        } else if (hc->npool < hc->max_conns) {
            p = pipe_new(hc);
            if (!p) {
                goc_mutex_unlock(&hc->mu);
                return -ENOMEM;
            }
            hc->pool[hc->npool++] = p;
            avail_add(hc, p);
        }
    }
    if (p) {
        if (++p->inflight == hc->pipeline)
            avail_del(hc, p);
        s->pipe = p;
        goc_mutex_unlock(&hc->mu);
        return 0;
    }
    /* In line, first come first served: the calls ending hand their
     * places over (pool_give), so no later call can take one first. */
    atomic_fetch_add_explicit(&hc->conn_waits, 1, memory_order_relaxed);
    s->qnext = NULL;
    s->granted = NULL;
    s->queued = true;
    if (hc->qtail)
        hc->qtail->qnext = s;
    else
        hc->qhead = s;
    hc->qtail = s;
    while (!s->granted && !s->interrupted)
        goc_cond_wait(&s->qcv);
    if (!s->granted) { /* still in line: leave it */
        http_session **pp = &hc->qhead, *prev = NULL;
        while (*pp != s) {
            prev = *pp;
            pp = &(*pp)->qnext;
        }
        *pp = s->qnext;
        if (hc->qtail == s)
            hc->qtail = prev;
        s->queued = false;
        goc_mutex_unlock(&hc->mu);
        return -ECANCELED;
    }
    s->pipe = s->granted;
    s->granted = NULL;
    goc_mutex_unlock(&hc->mu);
    return 1;
}

/* Gives the call's place back: to the call first in line, or to the
 * pool. */
static void pool_give(http_caller *hc, http_session *s)
{
    goc_mutex_lock(&hc->mu);
    http_pipe *p = s->pipe;
    s->pipe = NULL;
    http_session *w = hc->qhead;
    if (w) {
        hc->qhead = w->qnext;
        if (!hc->qhead)
            hc->qtail = NULL;
        w->queued = false;
        w->granted = p;
        goc_cond_signal(&w->qcv);
    } else if (p->inflight-- == hc->pipeline) {
        avail_add(hc, p);
    }
    goc_mutex_unlock(&hc->mu);
}

static void interrupt_pipe(http_pipe *p)
{
    goc_mutex_lock(&p->imu);
    p->interrupted = true;
    p->dl[0] = p->dl[1] = 1;
    if (p->conn)
        goc_conn_set_deadline(p->conn, 1); /* in the past */
    goc_mutex_unlock(&p->imu);
    /* Waiters for their turn: the head's read fails at once and ends the
     * connection, which wakes them. */
}

static void http_interrupt(void *user, void *session)
{
    http_caller *hc = user;
    http_session *s = session;
    if (!hc->max_conns) {
        interrupt_pipe(s->pipe);
        return;
    }
    /* The pool's (a stop: every session is interrupted, and the pool's
     * connections end with the run). */
    goc_mutex_lock(&hc->mu);
    s->interrupted = true;
    if (s->queued)
        goc_cond_signal(&s->qcv);
    if (s->pipe)
        interrupt_pipe(s->pipe);
    goc_mutex_unlock(&hc->mu);
}

/* Deadlines. Setting one re-arms the connection's timer, so a call leaves
 * the one set in place when it expires no earlier than the call's deadline
 * and at most `slack` after it (1/32 of the call's timeout, at most
 * SLACK_MAX); when it sets one, it sets deadline + slack. With deadlines
 * that grow call after call, a connection's timer is re-armed once per
 * slack instead of twice per call, and a read or write that hangs fails at
 * most slack after its call's deadline. */
#define SLACK_MAX (50 * GOC_MILLISECOND)

static int64_t slack_for(int64_t deadline)
{
    int64_t left = deadline - goc_nanotime();
    if (left <= 0)
        return 0;
    return left / 32 < SLACK_MAX ? left / 32 : SLACK_MAX;
}

/* Sets conn's read or write deadline unless interrupted. 0 or
 * -ECANCELED. */
static int set_deadline(http_pipe *p, bool write, int64_t deadline,
                        int64_t slack)
{
    goc_mutex_lock(&p->imu);
    bool intr = p->interrupted;
    if (p->conn) {
        int64_t *cur = &p->dl[write];
        if (intr) {
            goc_conn_set_deadline(p->conn, 1);
        } else if (*cur < deadline || *cur - deadline > slack) {
            *cur = deadline + slack;
            if (write)
                goc_conn_set_write_deadline(p->conn, *cur);
            else
                goc_conn_set_read_deadline(p->conn, *cur);
        }
    }
    goc_mutex_unlock(&p->imu);
    return intr ? -ECANCELED : 0;
}

static bool interrupted(http_pipe *p)
{
    goc_mutex_lock(&p->imu);
    bool i = p->interrupted;
    goc_mutex_unlock(&p->imu);
    return i;
}

/* Dials (mu held). 0 or a negative code. */
static int dial(http_pipe *p, int64_t deadline)
{
    http_caller *hc = p->hc;
    if (interrupted(p)) /* a stop: nothing new */
        return -ECANCELED;
    int64_t left = deadline - goc_nanotime();
    if (left <= 0)
        return -ETIMEDOUT;
    goc_conn *c;
    int rc = goc_dial_timeout(&c, "tcp", hc->address, left);
    if (rc < 0)
        return rc;
    void *tls = NULL;
    if (hc->transport.open) {
        goc_conn_set_deadline(c, deadline);
        rc = hc->transport.open(hc->transport.user, c, hc->server_name,
                                &p->tls_cache, &tls);
        if (rc < 0) {
            goc_conn_close(c);
            return rc;
        }
    }
    goc_mutex_lock(&p->imu);
    p->conn = c;
    p->dl[0] = p->dl[1] = hc->transport.open ? deadline : 0;
    goc_mutex_unlock(&p->imu);
    p->tls = tls;
    atomic_fetch_add_explicit(&hc->connects, 1, memory_order_relaxed);
    return 0;
}

static void count(_Atomic int64_t *v)
{
    atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
}

/* Writes bytes on the pipe's connection now (mu held): the tickets before
 * `upto` are then sent, or the connection is broken. */
static void write_now(http_caller *hc, http_pipe *p, const void *buf,
                      size_t len, uint64_t upto, int64_t deadline,
                      int64_t slack)
{
    int rc = set_deadline(p, true, deadline, slack);
    if (rc == 0) {
        ssize_t w = io_write(hc, p, buf, len);
        if (w < 0)
            rc = (int)w;
        else
            atomic_fetch_add_explicit(&hc->bytes_written, w,
                                      memory_order_relaxed);
    }
    if (rc < 0)
        p->broken = rc;
    else
        p->sent = upto;
}

/* Writes the requests queued on the pipe in one write (mu held): before a
 * read, whose response may need them. */
static void flush_queued(http_caller *hc, http_pipe *p, int64_t deadline,
                         int64_t slack)
{
    if (p->wlen && !p->broken)
        write_now(hc, p, p->wbuf, p->wlen, p->next_ticket, deadline, slack);
    p->wlen = 0;
}

/* Queues a request on the pipe (mu held): -ENOMEM or 0. */
static int queue_request(http_pipe *p, const void *buf, size_t len)
{
    if (p->wlen + len > p->wcap) {
        size_t cap = p->wcap ? p->wcap : 4096;
        while (cap < p->wlen + len)
            cap *= 2;
        char *nb = realloc(p->wbuf, cap);
        if (!nb)
            return -ENOMEM;
        p->wbuf = nb;
        p->wcap = cap;
    }
    memcpy(p->wbuf + p->wlen, buf, len);
    p->wlen += len;
    return 0;
}

/* Reads more of the connection into the head's buffer (mu not held),
 * marked as reading meanwhile (a hint for pipe_call: a request made while
 * nothing is queued is then written at once). */
static ssize_t fill(http_caller *hc, http_pipe *p)
{
    if (hc->pipeline == 1)
        return io_read(hc, p, p->rbuf + p->rend, RBUF_SIZE - p->rend);
    atomic_store_explicit(&p->reading, true, memory_order_relaxed);
    ssize_t n = io_read(hc, p, p->rbuf + p->rend, RBUF_SIZE - p->rend);
    atomic_store_explicit(&p->reading, false, memory_order_relaxed);
    return n;
}

/* Parses what the head's buffer holds of its response (s->parser, reset
 * when the turn began). 0: complete; 1: malformed (in s->parser.why); 2:
 * more is needed. *got: a byte of it came. */
static int parse_buffered(http_pipe *p, http_session *s, bool *got)
{
    goc__http_parser *ps = &s->parser;
    if (p->rend > p->rstart) {
        int r = goc__http_parse(ps, p->rbuf, &p->rstart, p->rend);
        *got = ps->got_any;
        if (r != 0) {
            if (p->rstart == p->rend)
                p->rstart = p->rend = 0;
            return r > 0 ? 0 : 1;
        }
    }
    return 2;
}

/* Reads the rest of the head's response (mu not held), parsed so far by
 * s->parser. 0: complete; 1: malformed (in s->parser.why); or a negative
 * code. *got: a byte of it came. */
static int read_response(http_caller *hc, http_pipe *p, http_session *s,
                         bool *got)
{
    goc__http_parser *ps = &s->parser;
    for (;;) {
        int r = parse_buffered(p, s, got);
        if (r != 2)
            return r;
        /* The rest of a response goes to the buffer's start before a
         * read, so that reads land on the same few warm kilobytes instead
         * of walking through the whole buffer (pipelined, a read often
         * ends inside a response). */
        if (p->rstart == p->rend) {
            p->rstart = p->rend = 0;
        } else if (p->rend == RBUF_SIZE ||
                   (p->rstart > 0 && p->rend - p->rstart <= COMPACT_MAX)) {
            if (p->rstart == 0) { /* one line fills the buffer */
                snprintf(ps->why, sizeof ps->why,
                         "a header or chunk-size line longer than %d bytes",
                         RBUF_SIZE);
                return 1;
            }
            memmove(p->rbuf, p->rbuf + p->rstart, p->rend - p->rstart);
            p->rend -= p->rstart;
            p->rstart = 0;
        }
        ssize_t n = fill(hc, p);
        if (n < 0)
            return (int)n;
        if (n == 0) {
            int r = goc__http_parse_eof(ps);
            if (r > 0)
                return 0;
            if (!ps->got_any)
                return -ECONNRESET; /* closed before the response */
            return 1;
        }
        atomic_fetch_add_explicit(&hc->bytes_read, n, memory_order_relaxed);
        p->rend += (size_t)n;
    }
}

/* Says how a call failed, for the report's errors by kind. Returns rc. */
static int failed(goc_call_resp *resp, int rc, int kind, const char *what,
                  const char *where)
{
    resp->err_kind = kind;
    if (resp->msg && resp->msglen)
        snprintf(resp->msg, resp->msglen, "%s%s: %s", what, where,
                 goc_strerror(rc));
    return rc;
}

static void note_why(http_caller *hc, const char *why)
{
    if (atomic_load_explicit(&hc->have_why, memory_order_relaxed))
        return;
    goc_mutex_lock(&hc->why_mu);
    if (!hc->first_why[0])
        snprintf(hc->first_why, sizeof hc->first_why, "%s", why);
    atomic_store(&hc->have_why, true);
    goc_mutex_unlock(&hc->why_mu);
}

/* A call on s->pipe. */
static int pipe_call(http_caller *hc, http_session *s, const goc_call_req *req,
                     goc_call_resp *resp, int64_t deadline)
{
    http_pipe *p = s->pipe;
    s->status = 0;
    s->malformed = false;
    /* The timeout is the run's, and a session lives for one run: the
     * slack of its first call is every call's (one clock read saved). */
    if (!s->slack)
        s->slack = slack_for(deadline) + 1;
    int64_t slack = s->slack - 1;
    for (int attempt = 0;; attempt++) {
        goc_mutex_lock(&p->mu);
        int rc = 0;
        if (!p->conn) {
            rc = dial(p, deadline);
            if (rc < 0) {
                goc_mutex_unlock(&p->mu);
                if (rc == -ECANCELED || interrupted(p))
                    return rc;
                count(rc == -ETIMEDOUT ? &hc->timeouts : &hc->connect_errors);
                return failed(resp, rc,
                              rc == -ECONNREFUSED ? GOC_CALL_ERR_CONNECT_REFUSED
                              : rc == -ETIMEDOUT  ? GOC_CALL_ERR_CONNECT_TIMEOUT
                              : rc == -ENXIO      ? GOC_CALL_ERR_DNS
                                                  : GOC_CALL_ERR_CONNECT,
                              "connect ", hc->address);
            }
        }
        uint64_t gen = p->gen, ticket = p->next_ticket++;
        bool reused = ticket > 0;
        /* Pipelined, the request waits in the pipe's queue until the
         * first request queued is the head's (as wrk sends a window of
         * requests once the last one's responses are in): a write then
         * carries every request made meanwhile. Unless nothing is queued
         * and the head waits in a read: then at once (the open model's
         * requests go out when due). A failed write breaks the connection
         * and the requests behind are not sent. */
        if (!p->broken) {
            if (hc->pipeline > 1 &&
                (p->wlen ||
                 !atomic_load_explicit(&p->reading, memory_order_relaxed))) {
                rc = queue_request(p, req->data, req->len);
                if (rc < 0)
                    p->broken = rc;
            } else {
                write_now(hc, p, req->data, req->len, ticket + 1, deadline,
                          slack);
            }
        }
        /* The turns are taken in ticket order: the waiters queued on cv in
         * that order (a ticket and its wait are under one hold of mu), and
         * each head signals the next. */
        while (p->gen == gen && p->served != ticket)
            goc_cond_wait(&p->cv);
        if (p->gen != gen) {
            /* The connection ended before our turn: no byte of our
             * response came. Again on a new one, in time. */
            goc_mutex_unlock(&p->mu);
            if (interrupted(p))
                return -ECANCELED;
            if (goc_nanotime() >= deadline) {
                count(&hc->timeouts);
                return failed(resp, -ETIMEDOUT, GOC_CALL_ERR_TIMEOUT,
                              "waiting for a connection", "");
            }
            if (attempt >= RETRY_MAX) {
                count(&hc->read_errors);
                return failed(resp, -ECONNRESET, GOC_CALL_ERR_RESET,
                              "connections closed before the response", "");
            }
            count(&hc->retries);
            continue;
        }
        /* Our turn: we are the head. A request that was sent gets its
         * response read even when a later write failed. */
        if (p->sent <= ticket)
            flush_queued(hc, p, deadline, slack);
        bool wrote = p->sent > ticket;
        rc = wrote ? 0 : p->broken ? p->broken : -EPIPE;
        bool got = false;
        int parsed = 2;
        if (wrote) {
            goc__http_parser_reset(&s->parser, hc->head);
            /* A response the buffer holds already (pipelined, one read
             * brings many) is taken while mu is held: no read, so no
             * deadline to set, and no second hold of mu. Unless a stop
             * began: the read path says so (-ECANCELED). */
            if (!atomic_load_explicit(&p->interrupted, memory_order_relaxed))
                parsed = parse_buffered(p, s, &got);
        }
        if (parsed != 2) {
            rc = parsed;
        } else {
            goc_mutex_unlock(&p->mu);
            if (wrote) {
                rc = set_deadline(p, false, deadline, slack);
                if (rc == 0)
                    rc = read_response(hc, p, s, &got);
            }
            goc_mutex_lock(&p->mu);
        }
        bool retry = false;
        if (rc == 0) {
            p->served++;
            p->responses++;
            s->status = s->parser.status;
            if (s->parser.interim)
                atomic_fetch_add_explicit(&hc->interim, s->parser.interim,
                                          memory_order_relaxed);
            if (s->parser.conn_close || !hc->keepalive || p->broken) {
                if (s->parser.conn_close && hc->keepalive)
                    count(&hc->closed_by_server);
                end_conn(p);
            } else if (p->next_ticket > p->served) {
                goc_cond_signal(&p->cv); /* the next ticket's */
            }
        } else {
            /* A reused connection that ended before any byte of our
             * response came: the server closed it (idle, or after the
             * previous response). Again on a new one. */
            retry = reused && !got && rc != -ETIMEDOUT && rc != -ECANCELED &&
                    rc != 1 && !interrupted(p) && goc_nanotime() < deadline &&
                    attempt < RETRY_MAX;
            end_conn(p);
        }
        goc_mutex_unlock(&p->mu);
        if (rc == 0) {
            resp->data = NULL;
            resp->len = 0;
            return 0;
        }
        if (rc == 1) { /* malformed: a response error, not a call error */
            s->malformed = true;
            resp->data = NULL;
            resp->len = 0;
            return 0;
        }
        if (retry) {
            count(&hc->retries);
            continue;
        }
        if (rc == -ECANCELED || interrupted(p))
            return rc;
        if (rc == -ETIMEDOUT) {
            count(&hc->timeouts);
            return failed(resp, rc, GOC_CALL_ERR_TIMEOUT,
                          got ? "reading the response"
                              : "waiting for the "
                                "response",
                          "");
        }
        if (!wrote) {
            count(&hc->write_errors);
            return failed(resp, rc, GOC_CALL_ERR_WRITE, "write", "");
        }
        count(&hc->read_errors);
        if (rc == -ECONNRESET || rc == -EPIPE)
            return failed(resp, rc, GOC_CALL_ERR_RESET,
                          got ? "read" : "read (before the response)", "");
        return failed(resp, rc, GOC_CALL_ERR_READ, "read", "");
    }
}

/* ---- a pipelined connection driven by one goroutine ------------------ */

/*
 * In a closed-model run with pipelining (and no pool) the generator asks
 * the caller to drive each connection itself (goc__caller_pipe,
 * loadgen/caller_pipe.h): one goroutine per connection, no ticket hand-offs.
 * The driver takes a window of `depth` calls, writes their requests in one
 * write, and parses the responses in order as reads bring them (one read
 * often brings many: each is handed back as it is parsed, with the time
 * that read returned); once the window is answered it takes the next (a
 * window at a time, as wrk's pipelining and as the sessions' path). The
 * outcomes, statistics and retries are the sessions' path's, call by
 * call: a connection that ends (a failure, a malformed response, a
 * "Connection: close") ends the head's call as there; the calls written
 * behind it are sent again on a new connection while their deadline
 * allows ("waiting for a connection" timeouts otherwise), or canceled by
 * a stop.
 */
typedef struct http_driver {
    http_session s; /* first: check_resp and interrupt see a session */
    int depth;
    int head, n; /* calls[head .. head + n) (a ring): taken, not done */
    bool sent;   /* those n are written on the current connection */
    char *wbuf;
    size_t wcap;
    goc__pcall calls[]; /* depth of them */
} http_driver;

static int http_drive_open(void *user, int depth, void **session)
{
    http_caller *hc = user;
    http_driver *d = calloc(1, sizeof *d + (size_t)depth * sizeof d->calls[0]);
    http_pipe *p = d ? pipe_new(hc) : NULL;
    if (!p) {
        free(d);
        return -ENOMEM;
    }
    p->members = 1;
    d->s.pipe = p;
    d->depth = depth;
    *session = d;
    return 0;
}

static void http_drive_close(void *user, void *session)
{
    (void)user;
    http_driver *d = session;
    pipe_free(d->s.pipe);
    free(d->wbuf);
    free(d);
}

/* Fails the call pc now: its outcome as the sessions' path words it. */
static void drive_fail(goc__pipe_ctx *ctx, goc__pcall *pc, int rc, int kind,
                       const char *what, const char *where)
{
    char *msg = goc__pipe_msgbuf(ctx);
    msg[0] = '\0';
    goc_call_resp resp = {.msg = msg, .msglen = GOC_CALL_MSG_MAX};
    if (rc != -ECANCELED)
        failed(&resp, rc, kind, what, where);
    goc__pipe_done(ctx, pc, rc, &resp, goc_nanotime());
}

/* The outcomes a failed write or read shares: cancelled (the run stops),
 * or timed out (`waiting` says what for). True when rc was one of them
 * and pc has failed; false: the caller words the I/O error. */
static bool drive_fail_stop(http_caller *hc, goc__pipe_ctx *ctx, http_pipe *p,
                            goc__pcall *pc, int rc, const char *waiting)
{
    if (rc == -ECANCELED || interrupted(p)) {
        drive_fail(ctx, pc, -ECANCELED, 0, "", "");
        return true;
    }
    if (rc == -ETIMEDOUT) {
        count(&hc->timeouts);
        drive_fail(ctx, pc, rc, GOC_CALL_ERR_TIMEOUT, waiting, "");
        return true;
    }
    return false;
}

static void drive_pop(http_driver *d)
{
    d->head = d->head + 1 == d->depth ? 0 : d->head + 1;
    d->n--;
}

/* The connection ended before the window's calls behind the head were
 * answered (mu not held): each is sent again on a new one, or fails. */
static void drive_reconnect(http_caller *hc, http_driver *d, goc__pipe_ctx *ctx)
{
    http_pipe *p = d->s.pipe;
    goc_mutex_lock(&p->mu);
    end_conn(p);
    goc_mutex_unlock(&p->mu);
    int was_sent = d->sent;
    d->sent = false;
    if (!was_sent)
        return;
    bool intr = interrupted(p);
    int n = d->n, head = d->head;
    int64_t now = goc_nanotime();
    d->n = 0;
    for (int i = 0; i < n; i++) {
        goc__pcall *pc = &d->calls[(head + i) % d->depth];
        if (intr) {
            drive_fail(ctx, pc, -ECANCELED, 0, "", "");
        } else if (now >= pc->deadline) {
            count(&hc->timeouts);
            drive_fail(ctx, pc, -ETIMEDOUT, GOC_CALL_ERR_TIMEOUT,
                       "waiting for a connection", "");
        } else if (pc->user >= RETRY_MAX) {
            count(&hc->read_errors);
            drive_fail(ctx, pc, -ECONNRESET, GOC_CALL_ERR_RESET,
                       "connections closed before the response", "");
        } else {
            count(&hc->retries);
            pc->user++;
            d->calls[(head + d->n) % d->depth] = *pc;
            d->n++;
        }
    }
}

/* Writes the window's requests in one write. 0 or a negative code. */
static int drive_write(http_caller *hc, http_driver *d, int64_t slack)
{
    http_pipe *p = d->s.pipe;
    size_t len = 0;
    for (int i = 0; i < d->n; i++)
        len += d->calls[(d->head + i) % d->depth].req.len;
    if (len > d->wcap) {
        char *nb = realloc(d->wbuf, len);
        if (!nb)
            return -ENOMEM;
        d->wbuf = nb;
        d->wcap = len;
    }
    size_t at = 0;
    for (int i = 0; i < d->n; i++) {
        const goc_call_req *rq = &d->calls[(d->head + i) % d->depth].req;
        if (rq->len)
            memcpy(d->wbuf + at, rq->data, rq->len);
        at += rq->len;
    }
    int rc = set_deadline(p, true, d->calls[d->head].deadline, slack);
    if (rc < 0)
        return rc;
    ssize_t w = io_write(hc, p, d->wbuf, len);
    if (w < 0)
        return (int)w;
    atomic_fetch_add_explicit(&hc->bytes_written, w, memory_order_relaxed);
    d->sent = true;
    return 0;
}

static void http_drive(void *user, void *session, goc__pipe_ctx *ctx)
{
    http_caller *hc = user;
    http_driver *d = session;
    http_session *s = &d->s;
    http_pipe *p = s->pipe;
    bool more = true, parsing = false;
    int64_t slack = -1, last_read = 0;
    for (;;) {
        if (d->n == 0) { /* the next window */
            d->sent = false;
            while (more && d->n < d->depth) {
                goc__pcall *pc = &d->calls[(d->head + d->n) % d->depth];
                if (!goc__pipe_take(ctx, pc)) {
                    more = false;
                    break;
                }
                pc->user = 0;
                d->n++;
            }
            if (d->n == 0)
                return;
        }
        goc__pcall *h = &d->calls[d->head];
        if (slack < 0) /* the run's timeout: every call's slack */
            slack = slack_for(h->deadline);
        if (!p->conn) {
            goc_mutex_lock(&p->mu);
            int rc = dial(p, h->deadline);
            goc_mutex_unlock(&p->mu);
            if (rc < 0) {
                drive_pop(d);
                if (rc == -ECANCELED || interrupted(p)) {
                    drive_fail(ctx, h, -ECANCELED, 0, "", "");
                    continue;
                }
                count(rc == -ETIMEDOUT ? &hc->timeouts : &hc->connect_errors);
                drive_fail(ctx, h, rc,
                           rc == -ECONNREFUSED ? GOC_CALL_ERR_CONNECT_REFUSED
                           : rc == -ETIMEDOUT  ? GOC_CALL_ERR_CONNECT_TIMEOUT
                           : rc == -ENXIO      ? GOC_CALL_ERR_DNS
                                               : GOC_CALL_ERR_CONNECT,
                           "connect ", hc->address);
                continue;
            }
            d->sent = false;
            parsing = false;
        }
        if (!d->sent) {
            int rc = drive_write(hc, d, slack);
            if (rc < 0) {
                /* The head's write failed: the others go again. */
                drive_pop(d);
                drive_reconnect(hc, d, ctx);
                if (!drive_fail_stop(hc, ctx, p, h, rc,
                                     "waiting for the response")) {
                    count(&hc->write_errors);
                    drive_fail(ctx, h, rc, GOC_CALL_ERR_WRITE, "write", "");
                }
                continue;
            }
        }
        /* The head's response: from what the last read brought, or
         * read on. */
        bool reused = p->served > 0, got = false;
        if (!parsing) {
            goc__http_parser_reset(&s->parser, hc->head);
            parsing = true;
        }
        int rc = 2;
        int64_t end = last_read;
        if (!atomic_load_explicit(&p->interrupted, memory_order_relaxed))
            rc = parse_buffered(p, s, &got);
        if (rc == 2) {
            rc = set_deadline(p, false, h->deadline, slack);
            if (rc == 0)
                rc = read_response(hc, p, s, &got);
            end = last_read = goc_nanotime();
        }
        parsing = false;
        goc_call_resp resp = {.msg = goc__pipe_msgbuf(ctx),
                              .msglen = GOC_CALL_MSG_MAX};
        if (rc == 0 || rc == 1) {
            drive_pop(d);
            p->served++;
            s->status = rc == 0 ? s->parser.status : 0;
            s->malformed = rc == 1;
            if (rc == 0 && s->parser.interim)
                atomic_fetch_add_explicit(&hc->interim, s->parser.interim,
                                          memory_order_relaxed);
            if (rc == 1 || s->parser.conn_close || !hc->keepalive) {
                if (rc == 0 && s->parser.conn_close && hc->keepalive)
                    count(&hc->closed_by_server);
                /* Before the others are resent: their retries follow
                 * this answer, as on the sessions' path. */
                goc__pipe_done(ctx, h, 0, &resp, end);
                drive_reconnect(hc, d, ctx);
            } else {
                goc__pipe_done(ctx, h, 0, &resp, end);
            }
            continue;
        }
        /* A reused connection that ended before any byte of the head's
         * response came: the server closed it. Again on a new one. */
        bool retry = reused && !got && rc != -ETIMEDOUT && rc != -ECANCELED &&
                     !interrupted(p) && goc_nanotime() < h->deadline &&
                     h->user < RETRY_MAX;
        if (retry) {
            drive_reconnect(hc, d, ctx); /* the head too: counted there */
            continue;
        }
        drive_pop(d);
        drive_reconnect(hc, d, ctx);
        if (!drive_fail_stop(hc, ctx, p, h, rc,
                             got ? "reading the response"
                                 : "waiting for the response")) {
            count(&hc->read_errors);
            if (rc == -ECONNRESET || rc == -EPIPE)
                drive_fail(ctx, h, rc, GOC_CALL_ERR_RESET,
                           got ? "read" : "read (before the response)", "");
            else
                drive_fail(ctx, h, rc, GOC_CALL_ERR_READ, "read", "");
        }
    }
}

static const goc__caller_pipe_ops http_pipe_ops = {
    .open = http_drive_open,
    .close = http_drive_close,
    .drive = http_drive,
};

static int http_call(void *user, void *session, const goc_call_req *req,
                     goc_call_resp *resp, int64_t deadline)
{
    http_caller *hc = user;
    http_session *s = session;
    if (!hc->max_conns)
        return pipe_call(hc, s, req, resp, deadline);
    s->status = 0;
    s->malformed = false;
    int rc = pool_take(hc, s);
    if (rc == -ECANCELED)
        return rc;
    if (rc < 0)
        return failed(resp, rc, GOC_CALL_ERR_OTHER, "a connection", "");
    if (rc == 1) {
        if (goc_nanotime() >= deadline) {
            pool_give(hc, s);
            count(&hc->timeouts);
            return failed(resp, -ETIMEDOUT, GOC_CALL_ERR_TIMEOUT,
                          "waiting for a connection", "");
        }
    }
    rc = pipe_call(hc, s, req, resp, deadline);
    pool_give(hc, s);
    return rc;
}

/* Resolves the host once, before a run (goc_caller_prepare): every
 * connection then dials the address found. The lookup runs on this
 * thread, marked as a blocking syscall; its deadline is getaddrinfo's. */
static int http_prepare(void *user, int64_t deadline, char *msg, size_t msglen)
{
    (void)deadline;
    http_caller *hc = user;
    char host[256], port[16];
    const char *colon = strrchr(hc->address, ':');
    if (!colon || hc->address[0] == '[')
        return 0; /* [v6]:port: numeric */
    snprintf(host, sizeof host, "%.*s", (int)(colon - hc->address),
             hc->address);
    snprintf(port, sizeof port, "%s", colon + 1);
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    goc_syscall_begin();
    int rc = getaddrinfo(host, port, &hints, &res);
    goc_syscall_end();
    if (rc != 0) {
        snprintf(msg, msglen, "cannot resolve \"%s\": %s", host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return rc == EAI_AGAIN ? -EAGAIN : -ENXIO;
    }
    char ip[INET6_ADDRSTRLEN] = "", addr[300];
    const void *a =
        res->ai_family == AF_INET6
            ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
            : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    inet_ntop(res->ai_family, a, ip, sizeof ip);
    snprintf(addr, sizeof addr,
             res->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip, port);
    freeaddrinfo(res);
    char *na = strdup(addr);
    if (!na)
        return -ENOMEM;
    free(hc->address); /* before the run: no call is using it */
    hc->address = na;
    return 0;
}

static int http_check(void *user, void *session, const goc_call_req *req,
                      const goc_call_resp *resp, char *msg, size_t msglen)
{
    (void)req, (void)resp;
    http_caller *hc = user;
    http_session *s = session;
    if (s->malformed) {
        count(&hc->malformed);
        note_why(hc, s->parser.why);
        snprintf(msg, msglen, "Malformed response: %s", s->parser.why);
        return GOC_RET_ERROR_RESPONSE;
    }
    int st = s->status;
    count(&hc->responses);
    count(&hc->status[st]);
    /* "HTTP %d" without printf's cost, on every call: st is 100 to 599. */
    if (msglen >= 9) {
        memcpy(msg, "HTTP ", 5);
        msg[5] = (char)('0' + st / 100);
        msg[6] = (char)('0' + st / 10 % 10);
        msg[7] = (char)('0' + st % 10);
        msg[8] = '\0';
    } else if (msglen) {
        snprintf(msg, msglen, "HTTP %d", st);
    }
    return st >= 400 ? GOC_RET_ERROR_CALEE : GOC_RET_SUCCESS;
}

static int http_build(void *user, void *session, goc_call_req *req)
{
    (void)session;
    http_caller *hc = user;
    req->data = hc->req;
    req->len = hc->req_len;
    return 0;
}

static void http_destroy(void *user)
{
    http_caller *hc = user;
    if (!hc)
        return;
    free(hc->address);
    free(hc->server_name);
    free(hc->req);
    free(hc->pool);
    free(hc->avail);
    free(hc);
}

/* ---- the URL and the request ----------------------------------------- */

#define ERR(...)                                                               \
    do {                                                                       \
        if (errbuf && errlen)                                                  \
            snprintf(errbuf, errlen, __VA_ARGS__);                             \
        return -EINVAL;                                                        \
    } while (0)

/* A growing string. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || (c && strchr("!#$%&'*+-.^_`|~", c));
        if (!ok)
            return false;
    }
    return true;
}

static bool has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return true;
    }
    return false;
}

int goc_http_parse_url(const char *url, goc_http_url *u, char *errbuf,
                       size_t errlen)
{
    memset(u, 0, sizeof *u);
    const char *rest;
    if (!url)
        ERR("no target");
    if (strncmp(url, "http://", 7) == 0) {
        rest = url + 7;
        u->port = 80;
    } else if (strncmp(url, "https://", 8) == 0) {
        rest = url + 8;
        u->port = 443;
        u->tls = true;
    } else {
        ERR("bad URL \"%s\": want http://host[:port]/path or https://...", url);
    }
    size_t alen = strcspn(rest, "/?#");
    const char *auth = rest;
    if (memchr(auth, '@', alen))
        ERR("bad URL \"%s\": user information (user@host) is not supported",
            url);
    const char *host = auth, *portp = NULL;
    size_t hlen;
    if (auth[0] == '[') {
        const char *rb = memchr(auth, ']', alen);
        if (!rb)
            ERR("bad URL \"%s\": want [ipv6] in brackets", url);
        hlen = (size_t)(rb - auth) + 1;
        if (hlen < alen) {
            if (auth[hlen] != ':')
                ERR("bad URL \"%s\": want [ipv6]:port", url);
            portp = auth + hlen + 1;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        hlen = colon ? (size_t)(colon - auth) : alen;
        portp = colon ? colon + 1 : NULL;
    }
    if (hlen == 0 || (auth[0] == '[' && hlen == 2))
        ERR("bad URL \"%s\": no host", url);
    if (hlen >= sizeof u->host)
        ERR("bad URL \"%s\": host name too long", url);
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)host[i] <= ' ' || host[i] == 0x7f)
            ERR("bad URL \"%s\": bad character in the host", url);
    memcpy(u->host, host, hlen);
    if (portp) {
        size_t plen = (size_t)(auth + alen - portp);
        long v = 0;
        size_t i = 0;
        for (; i < plen && portp[i] >= '0' && portp[i] <= '9' && v <= 65535;
             i++)
            v = v * 10 + (portp[i] - '0');
        if (plen == 0 || i < plen || v < 1 || v > 65535)
            ERR("bad URL \"%s\": port \"%.*s\" is not a number 1 to 65535", url,
                (int)plen, portp);
        u->port = (int)v;
    }
    const char *path = auth + alen;
    size_t plen = strcspn(path, "#");
    if (has_ctl(path, plen) || memchr(path, ' ', plen))
        ERR("bad URL \"%s\": spaces or control characters in the path", url);
    if (plen + 2 > sizeof u->path)
        ERR("bad URL \"%s\": path too long", url);
    if (plen == 0 || path[0] == '?') {
        u->path[0] = '/';
        memcpy(u->path + 1, path, plen);
    } else {
        memcpy(u->path, path, plen);
    }
    bool dflt = u->port == (u->tls ? 443 : 80);
    if (dflt)
        snprintf(u->hostport, sizeof u->hostport, "%s", u->host);
    else
        snprintf(u->hostport, sizeof u->hostport, "%s:%d", u->host, u->port);
    snprintf(u->address, sizeof u->address, "%s:%d", u->host, u->port);
    return 0;
}

int goc_caller_http(goc_caller *out, const char *url,
                    const goc_caller_http_opts *opts, char *errbuf,
                    size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!out)
        ERR("no caller");
    memset(out, 0, sizeof *out);
    static const goc_caller_http_opts none = {0};
    if (!opts)
        opts = &none;
    goc_http_url u;
    int rc = goc_http_parse_url(url, &u, errbuf, errlen);
    if (rc < 0)
        return rc;
    if (u.tls &&
        !(opts->transport && opts->transport->open && opts->transport->read &&
          opts->transport->write && opts->transport->close))
        ERR("target \"%s\": https needs a TLS transport (this program was "
            "built without TLS)",
            url);
    const char *method = opts->method ? opts->method : "GET";
    if (!is_token(method, strlen(method)))
        ERR("bad method \"%s\": want a token such as GET or POST", method);
    if (opts->pipeline < 0 || opts->pipeline > 1024)
        ERR("pipeline depth must be 0 to 1024 (got %d)", opts->pipeline);
    if (opts->connections < 0 || opts->connections > GOC_HTTP_CONNECTIONS_MAX)
        ERR("connections must be 0 to %d (got %d)", GOC_HTTP_CONNECTIONS_MAX,
            opts->connections);
    if (opts->body_len > BODY_MAX)
        ERR("body too large (%zu bytes; at most %d)", opts->body_len, BODY_MAX);
    const char *host = opts->host;
    if (host && (!*host || has_ctl(host, strlen(host))))
        ERR("bad Host \"%s\"", host);
    bool user_host = false;
    for (size_t i = 0; i < opts->nheaders; i++) {
        const char *h = opts->headers[i];
        const char *colon = h ? strchr(h, ':') : NULL;
        if (!colon || !is_token(h, (size_t)(colon - h)))
            ERR("bad header \"%s\": want 'Name: value'", h ? h : "(null)");
        if (has_ctl(colon + 1, strlen(colon + 1)))
            ERR("bad header \"%s\": control characters in the value", h);
        size_t nlen = (size_t)(colon - h);
        if (nlen == 4 && strncasecmp(h, "host", 4) == 0)
            user_host = true;
        if ((nlen == 14 && strncasecmp(h, "content-length", 14) == 0) ||
            (nlen == 17 && strncasecmp(h, "transfer-encoding", 17) == 0))
            ERR("header \"%s\": the body's length is the caller's to send", h);
    }
    if (user_host && host)
        ERR("both a Host header and a Host override given");

    http_caller *hc = calloc(1, sizeof *hc);
    if (!hc)
        return -ENOMEM;
    hc->head = strcmp(method, "HEAD") == 0;
    hc->keepalive = !opts->no_keepalive;
    hc->pipeline = opts->pipeline > 1 ? opts->pipeline : 1;
    hc->max_conns = opts->connections;
    if (hc->max_conns) {
        hc->pool = calloc((size_t)hc->max_conns, sizeof *hc->pool);
        hc->avail = calloc((size_t)hc->max_conns, sizeof *hc->avail);
        if (!hc->pool || !hc->avail) {
            http_destroy(hc);
            return -ENOMEM;
        }
    }
    if (u.tls)
        hc->transport = *opts->transport;
    hc->address = strdup(u.address);
    hc->server_name = strdup(u.host);
    sbuf b = {0};
    sb_str(&b, method);
    sb_str(&b, " ");
    sb_str(&b, u.path);
    sb_str(&b, " HTTP/1.1\r\n");
    if (!user_host) {
        sb_str(&b, "Host: ");
        sb_str(&b, host ? host : u.hostport);
        sb_str(&b, "\r\n");
    }
    for (size_t i = 0; i < opts->nheaders; i++) {
        sb_str(&b, opts->headers[i]);
        sb_str(&b, "\r\n");
    }
    if (opts->body || opts->body_len) {
        char cl[48];
        snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", opts->body_len);
        sb_str(&b, cl);
    }
    if (!hc->keepalive)
        sb_str(&b, "Connection: close\r\n");
    sb_str(&b, "\r\n");
    if (opts->body_len)
        sb_add(&b, opts->body, opts->body_len);
    if (b.oom || !hc->address || !hc->server_name) {
        free(b.p);
        http_destroy(hc);
        return -ENOMEM;
    }
    hc->req = b.p;
    hc->req_len = b.len;
    *out = (goc_caller){
        .user = hc,
        .session_open = http_session_open,
        .session_close = http_session_close,
        .build_req = http_build,
        .call = http_call,
        .check_resp = http_check,
        .interrupt = http_interrupt,
        .destroy = http_destroy,
        .prepare = http_prepare,
    };
    return 0;
}

static http_caller *as_http(const goc_caller *c)
{
    return c && c->destroy == http_destroy ? c->user : NULL;
}

int goc__caller_pipe(const goc_caller *c, const goc__caller_pipe_ops **ops)
{
    http_caller *hc = as_http(c);
    /* The caller as made (a user's table that borrowed some of its
     * functions may have changed the others). */
    if (!hc || hc->pipeline < 2 || hc->max_conns || c->call != http_call ||
        c->check_resp != http_check || c->build_req != http_build ||
        c->interrupt != http_interrupt) {
        *ops = NULL;
        return 0;
    }
    *ops = &http_pipe_ops;
    return hc->pipeline;
}

int goc_caller_http_stats(const goc_caller *c, goc_http_stats *out)
{
    http_caller *hc = as_http(c);
    if (!hc || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < STATUS_MAX; i++) {
        out->status[i] = atomic_load(&hc->status[i]);
        if (i >= 100)
            out->status_class[i / 100] += out->status[i];
    }
    out->interim = atomic_load(&hc->interim);
    out->responses = atomic_load(&hc->responses);
    out->malformed = atomic_load(&hc->malformed);
    out->bytes_read = atomic_load(&hc->bytes_read);
    out->bytes_written = atomic_load(&hc->bytes_written);
    out->connects = atomic_load(&hc->connects);
    out->connect_errors = atomic_load(&hc->connect_errors);
    out->read_errors = atomic_load(&hc->read_errors);
    out->write_errors = atomic_load(&hc->write_errors);
    out->timeouts = atomic_load(&hc->timeouts);
    out->retries = atomic_load(&hc->retries);
    out->closed_by_server = atomic_load(&hc->closed_by_server);
    out->conn_waits = atomic_load(&hc->conn_waits);
    goc_mutex_lock(&hc->why_mu);
    snprintf(out->first_malformed, sizeof out->first_malformed, "%s",
             hc->first_why);
    goc_mutex_unlock(&hc->why_mu);
    return 0;
}

int goc_caller_http_stats_reset(goc_caller *c)
{
    http_caller *hc = as_http(c);
    if (!hc)
        return -EINVAL;
    for (int i = 0; i < STATUS_MAX; i++)
        atomic_store(&hc->status[i], 0);
    _Atomic int64_t *all[] = {
        &hc->interim,        &hc->responses,     &hc->malformed,
        &hc->bytes_read,     &hc->bytes_written, &hc->connects,
        &hc->connect_errors, &hc->read_errors,   &hc->write_errors,
        &hc->timeouts,       &hc->retries,       &hc->closed_by_server,
        &hc->conn_waits};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        atomic_store(all[i], 0);
    goc_mutex_lock(&hc->why_mu);
    hc->first_why[0] = '\0';
    atomic_store(&hc->have_why, false);
    goc_mutex_unlock(&hc->why_mu);
    return 0;
}
