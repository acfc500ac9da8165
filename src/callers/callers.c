/*
 * callers.c - the callers shipped with the load generator: the book's
 * arithmetic protocol over TCP and raw TCP line echo (goc/loadgen.h).
 *
 * Both are line protocols over one connection per session (a session is a
 * worker's, so calls on one session never overlap): dial (unless a kept
 * connection is there), write the request line, read one response line
 * with buffered reads (a 64 KiB line buffer per session; one read usually
 * brings the whole line), then close the connection, or keep it with
 * keepalive. Any failure closes it: a connection whose call failed or
 * timed out is never reused (its response could still arrive and be taken
 * for the next call's).
 *
 * Deadlines: the call's deadline is the connection's deadline, so a hung
 * server costs a slot no longer than the timeout. interrupt (from stop)
 * sets a sticky flag and puts the deadline in the past; the flag and the
 * connection pointer are guarded by the session's mutex, and the deadline
 * is only ever set under it, so an interrupt cannot be overwritten by the
 * call's own deadline.
 *
 * Keep-alive against a server that closes after each response (the book's
 * default): a kept connection that turns out closed before any byte of
 * the response came is redialled once; requests are idempotent.
 *
 * HTTP/1.1 fits the same mould later: build_req writes the request,
 * call reads a status line, headers and a body instead of one line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calc/calc_proto.h"
#include "goc/loadgen.h"
#include "goc/runtime.h"
#include "goc/sync.h"

int goc_caller_prepare(goc_caller *c, int64_t timeout, char *errbuf,
                       size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!c)
        return -EINVAL;
    if (!c->prepare)
        return 0;
    char msg[256] = "";
    int rc = c->prepare(c->user, goc_nanotime() + timeout, msg, sizeof msg);
    if (rc < 0 && errbuf)
        snprintf(errbuf, errlen, "%s", msg[0] ? msg : goc_strerror(rc));
    return rc;
}

void goc_caller_destroy(goc_caller *c)
{
    if (!c)
        return;
    if (c->destroy)
        c->destroy(c->user);
    memset(c, 0, sizeof *c);
}

#if __has_include("goc/net.h")
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <time.h>

#include "goc/chan.h"
#include "goc/net.h"
#include "goc/time.h"

#define LINE_MAX_LEN GOC__CALC_MAX_LINE
#define RBUF (LINE_MAX_LEN + 2)
#define WBUF (LINE_MAX_LEN + 2)

enum { PROTO_CALC, PROTO_LINE };

/* One name lookup, run by a goroutine of its own so that a waiter can
 * give up at its deadline; shared by the waiters and that goroutine
 * (reference counted), never by the caller's memory, which may be freed
 * while a slow lookup is still in the resolver. */
typedef struct lookup {
    _Atomic int refs;
    goc_chan *done; /* closed when rc and addr are set */
    int rc;         /* 0, or a negative code */
    char why[128];  /* the resolver's reason when rc < 0 */
    char addr[GOC_ADDRSTRLEN];
    char host[256], port[16];
} lookup;

typedef struct line_caller {
    int proto;
    bool keepalive;
    char *address;
    char *payload;           /* PROTO_LINE: the line, or NULL */
    int64_t id_base;         /* first request id */
    _Atomic int64_t next_id; /* ids handed out so far */
    /* Name resolution (see goc/loadgen.h): */
    bool numeric; /* the host is an address: nothing to look up */
    char host[256], port[16];
    goc_mutex rmu;
    char resolved[GOC_ADDRSTRLEN]; /* rmu; "" before the first lookup */
    bool stale;                    /* rmu; a connection failed since */
    lookup *inflight;              /* rmu; the lookup running, or NULL */
} line_caller;

typedef struct line_session {
    line_caller *lc;
    goc_mutex mu;
    goc_conn *conn;   /* mu for writes; the owner reads it freely */
    bool interrupted; /* mu; sticky */
    size_t rstart, rend;
    uint64_t rng;
    char *rbuf, *wbuf;
    goc__calc_req req;   /* PROTO_CALC: the request built */
    goc__calc_resp resp; /* PROTO_CALC: the response parsed */
} line_session;

static uint64_t rng_next(uint64_t *s) /* xorshift64* */
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Du;
}

static int session_open(void *user, void **session)
{
    line_caller *lc = user;
    line_session *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->rbuf = malloc(RBUF);
    s->wbuf = malloc(WBUF);
    if (!s->rbuf || !s->wbuf) {
        free(s->rbuf);
        free(s->wbuf);
        free(s);
        return -ENOMEM;
    }
    s->lc = lc;
    s->rng = (uint64_t)goc_nanotime() ^ ((uint64_t)(uintptr_t)s << 16) ^
             0x9E3779B97F4A7C15u;
    if (s->rng == 0)
        s->rng = 1;
    *session = s;
    return 0;
}

static void drop_conn(line_session *s)
{
    goc_mutex_lock(&s->mu);
    goc_conn *c = s->conn;
    s->conn = NULL;
    goc_mutex_unlock(&s->mu);
    if (c)
        goc_conn_close(c);
    s->rstart = s->rend = 0;
}

static void session_close(void *user, void *session)
{
    (void)user;
    line_session *s = session;
    drop_conn(s);
    free(s->rbuf);
    free(s->wbuf);
    free(s);
}

static void session_interrupt(void *user, void *session)
{
    (void)user;
    line_session *s = session;
    goc_mutex_lock(&s->mu);
    s->interrupted = true;
    if (s->conn)
        goc_conn_set_deadline(s->conn, 1); /* in the past */
    goc_mutex_unlock(&s->mu);
}

/* ---- name resolution ------------------------------------------------ */

static void lookup_unref(lookup *l)
{
    if (atomic_fetch_sub(&l->refs, 1) == 1) {
        goc_chan_free(l->done);
        free(l);
    }
}

static void lookup_main(void *arg)
{
    lookup *l = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    goc_syscall_begin();
    int rc = getaddrinfo(l->host, l->port, &hints, &res);
    goc_syscall_end();
    if (rc != 0) {
        snprintf(l->why, sizeof l->why, "%s",
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        l->rc = rc == EAI_AGAIN ? -EAGAIN : -ENXIO;
    } else {
        char ip[INET6_ADDRSTRLEN] = "";
        const void *a =
            res->ai_family == AF_INET6
                ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)
                      ->sin6_addr
                : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
        inet_ntop(res->ai_family, a, ip, sizeof ip);
        snprintf(l->addr, sizeof l->addr,
                 res->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", ip, l->port);
        freeaddrinfo(res);
    }
    goc_chan_close(l->done);
    lookup_unref(l);
}

/* Takes a finished lookup's answer, if it is the one in flight. rmu held. */
static void lookup_take(line_caller *lc, lookup *l)
{
    if (lc->inflight != l)
        return;
    lc->inflight = NULL;
    if (l->rc == 0) {
        snprintf(lc->resolved, sizeof lc->resolved, "%s", l->addr);
        lc->stale = false;
    }
    lookup_unref(l); /* the caller's reference */
}

/* The address to dial, into addr: the host looked up once, and again
 * after a connection failed (see goc/loadgen.h), waiting for a lookup at
 * most until deadline. 0, or a negative code with a reason in why. */
static int target_addr(line_caller *lc, int64_t deadline, char *addr,
                       size_t cap, char *why, size_t whylen)
{
    if (lc->numeric) {
        snprintf(addr, cap, "%s", lc->address);
        return 0;
    }
    goc_mutex_lock(&lc->rmu);
    if (lc->resolved[0] && !lc->stale) {
        snprintf(addr, cap, "%s", lc->resolved);
        goc_mutex_unlock(&lc->rmu);
        return 0;
    }
    lookup *l = lc->inflight;
    if (!l) {
        l = calloc(1, sizeof *l);
        if (l)
            l->done = goc_chan_make(0, 0);
        if (!l || !l->done) {
            free(l);
            goc_mutex_unlock(&lc->rmu);
            snprintf(why, whylen, "resolve %s: out of memory", lc->host);
            return -ENOMEM;
        }
        snprintf(l->host, sizeof l->host, "%s", lc->host);
        snprintf(l->port, sizeof l->port, "%s", lc->port);
        atomic_init(&l->refs, 2); /* the caller's, the goroutine's */
        if (goc_go(lookup_main, l) < 0) {
            goc_chan_free(l->done);
            free(l);
            goc_mutex_unlock(&lc->rmu);
            snprintf(why, whylen, "resolve %s: cannot start", lc->host);
            return -ENOMEM;
        }
        lc->inflight = l;
    }
    atomic_fetch_add(&l->refs, 1); /* ours */
    goc_mutex_unlock(&lc->rmu);

    bool done = false;
    int64_t left = deadline - goc_nanotime();
    if (left > 0) {
        goc_timer *t = goc_timer_new(left);
        int64_t fired;
        goc_case cs[2] = {GOC_CASE_RECV(l->done, NULL),
                          GOC_CASE_RECV(t ? goc_timer_chan(t) : NULL, &fired)};
        done = goc_select(cs, 2, false) == 0;
        goc_timer_free(t);
    } else {
        goc_case c = GOC_CASE_RECV(l->done, NULL);
        done = goc_select(&c, 1, true) == 0;
    }
    int rc = 0;
    goc_mutex_lock(&lc->rmu);
    if (done)
        lookup_take(lc, l);
    if (done && l->rc == 0) {
        snprintf(addr, cap, "%s", l->addr);
    } else if (lc->resolved[0]) {
        snprintf(addr, cap, "%s", lc->resolved); /* the last one found */
    } else if (done) {
        rc = l->rc;
        snprintf(why, whylen, "resolve %s: %s", lc->host, l->why);
    } else {
        rc = -ETIMEDOUT;
        snprintf(why, whylen, "resolve %s: no answer in time", lc->host);
    }
    goc_mutex_unlock(&lc->rmu);
    lookup_unref(l);
    return rc;
}

/* After a failed connection: look the name up again on the next dial. */
static void target_failed(line_caller *lc)
{
    if (lc->numeric)
        return;
    goc_mutex_lock(&lc->rmu);
    lc->stale = true;
    goc_mutex_unlock(&lc->rmu);
}

static int line_prepare(void *user, int64_t deadline, char *msg, size_t msglen)
{
    line_caller *lc = user;
    char addr[GOC_ADDRSTRLEN];
    int rc = target_addr(lc, deadline, addr, sizeof addr, msg, msglen);
    if (rc < 0 && msglen) {
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", msg);
        snprintf(msg, msglen, "cannot %s", tmp);
    }
    return rc;
}

/* ---- calls ------------------------------------------------------------ */

/* Says why and how a call failed, into resp. Returns rc. */
static int call_failed(goc_call_resp *resp, int rc, int kind, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static int call_failed(goc_call_resp *resp, int rc, int kind, const char *fmt,
                       ...)
{
    resp->err_kind = kind;
    if (resp->msg && resp->msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(resp->msg, resp->msglen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Dials if needed and sets the deadline. 0, or a negative code (with
 * resp's kind and message set). */
static int ensure_conn(line_session *s, int64_t deadline, bool *reused,
                       goc_call_resp *resp)
{
    if (s->conn) {
        *reused = true;
    } else {
        *reused = false;
        line_caller *lc = s->lc;
        char addr[GOC_ADDRSTRLEN], why[192];
        int rc = target_addr(lc, deadline, addr, sizeof addr, why, sizeof why);
        if (rc < 0)
            return call_failed(resp, rc, GOC_CALL_ERR_DNS, "%s", why);
        int64_t left = deadline - goc_nanotime();
        if (left <= 0)
            return call_failed(resp, -ETIMEDOUT, GOC_CALL_ERR_CONNECT_TIMEOUT,
                               "connect %s: no time left", addr);
        goc_conn *c;
        rc = goc_dial_timeout(&c, "tcp", addr, left);
        if (rc < 0) {
            target_failed(lc);
            return call_failed(resp, rc,
                               rc == -ECONNREFUSED
                                   ? GOC_CALL_ERR_CONNECT_REFUSED
                               : rc == -ETIMEDOUT ? GOC_CALL_ERR_CONNECT_TIMEOUT
                                                  : GOC_CALL_ERR_CONNECT,
                               "connect %s: %s", addr, goc_strerror(rc));
        }
        goc_mutex_lock(&s->mu);
        s->conn = c;
        goc_mutex_unlock(&s->mu);
        s->rstart = s->rend = 0;
    }
    goc_mutex_lock(&s->mu);
    bool intr = s->interrupted;
    goc_conn_set_deadline(s->conn, intr ? 1 : deadline);
    goc_mutex_unlock(&s->mu);
    return intr ? call_failed(resp, -ECANCELED, GOC_CALL_ERR_OTHER, "stopped")
                : 0;
}

/* The kind of a failed read or write. */
static int io_kind(int rc, int other)
{
    if (rc == -ETIMEDOUT)
        return GOC_CALL_ERR_TIMEOUT;
    if (rc == -ECONNRESET || rc == -EPIPE)
        return GOC_CALL_ERR_RESET;
    if (rc == -ECANCELED)
        return GOC_CALL_ERR_OTHER;
    return other;
}

/* Reads one line into [*line, *line + *len) (without its '\n'). *got is
 * set when any byte of it arrived. 0, or a negative code. */
static int read_line(line_session *s, const char **line, size_t *len, bool *got)
{
    *got = s->rend > s->rstart;
    for (;;) {
        char *nl = memchr(s->rbuf + s->rstart, '\n', s->rend - s->rstart);
        if (nl) {
            *line = s->rbuf + s->rstart;
            *len = (size_t)(nl - *line);
            s->rstart += *len + 1;
            return *len > LINE_MAX_LEN ? -EMSGSIZE : 0;
        }
        if (s->rend - s->rstart > LINE_MAX_LEN)
            return -EMSGSIZE;
        if (s->rstart > 0) {
            memmove(s->rbuf, s->rbuf + s->rstart, s->rend - s->rstart);
            s->rend -= s->rstart;
            s->rstart = 0;
        }
        ssize_t n = goc_conn_read(s->conn, s->rbuf + s->rend, RBUF - s->rend);
        if (n < 0)
            return (int)n;
        if (n == 0) /* EOF: before the response, or inside it */
            return *got ? -EPROTO : -ECONNRESET;
        *got = true;
        s->rend += (size_t)n;
    }
}

static int line_call(void *user, void *session, const goc_call_req *req,
                     goc_call_resp *resp, int64_t deadline)
{
    line_caller *lc = user;
    line_session *s = session;
    for (int attempt = 0;; attempt++) {
        bool reused, got = false;
        int rc = ensure_conn(s, deadline, &reused, resp);
        if (rc == 0) {
            ssize_t w = goc_conn_write(s->conn, req->data, req->len);
            rc = w < 0 ? (int)w : 0;
            if (rc < 0)
                call_failed(resp, rc, io_kind(rc, GOC_CALL_ERR_WRITE),
                            "write: %s", goc_strerror(rc));
        }
        const char *line = NULL;
        size_t len = 0;
        if (rc == 0) {
            rc = read_line(s, &line, &len, &got);
            if (rc == -ECONNRESET && !got)
                call_failed(resp, rc, GOC_CALL_ERR_RESET,
                            "read: connection closed before the response");
            else if (rc == -EPROTO)
                call_failed(resp, rc, GOC_CALL_ERR_READ,
                            "read: connection closed inside the response");
            else if (rc == -EMSGSIZE)
                call_failed(resp, rc, GOC_CALL_ERR_READ,
                            "read: response line over %d bytes", LINE_MAX_LEN);
            else if (rc < 0)
                call_failed(resp, rc, io_kind(rc, GOC_CALL_ERR_READ),
                            "read: %s", goc_strerror(rc));
        }
        if (rc == 0) {
            if (!lc->keepalive || s->rend != s->rstart)
                drop_conn(s); /* not kept, or more than one line came */
            if (goc_nanotime() > deadline) {
                drop_conn(s);
                return call_failed(resp, -ETIMEDOUT, GOC_CALL_ERR_TIMEOUT,
                                   "read: the response came too late");
            }
            resp->data = line; /* still in rbuf: drop_conn keeps it */
            resp->len = len;
            return 0;
        }
        bool retry = reused && !got && attempt == 0 && rc != -ETIMEDOUT &&
                     rc != -ECANCELED;
        drop_conn(s);
        if (!retry)
            return rc;
        resp->err_kind = GOC_CALL_ERR_NONE;
        if (resp->msg && resp->msglen)
            resp->msg[0] = '\0';
    }
}

/* ---- the book's arithmetic protocol ---------------------------------- */

static const char *const calc_ops[] = {"+", "-", "*", "/"};

static int calc_build(void *user, void *session, goc_call_req *req)
{
    line_caller *lc = user;
    line_session *s = session;
    goc__calc_req *q = &s->req;
    memset(q, 0, sizeof *q);
    q->id = lc->id_base + atomic_fetch_add(&lc->next_id, 1);
    q->n = 2;
    q->operands[0] = (int64_t)(rng_next(&s->rng) % 1000) + 1;
    q->operands[1] = (int64_t)(rng_next(&s->rng) % 1000) + 1;
    strcpy(q->op, calc_ops[rng_next(&s->rng) % 4]);
    int n = goc__calc_format_request(q, s->wbuf, WBUF - 1);
    if (n < 0)
        return n;
    s->wbuf[n++] = '\n';
    req->id = q->id;
    req->data = s->wbuf;
    req->len = (size_t)n;
    return 0;
}

/* Copies at most max bytes of s for a message, as printable text. */
static void clip(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    dst[n] = '\0';
}

static int calc_check(void *user, void *session, const goc_call_req *req,
                      const goc_call_resp *resp, char *msg, size_t msglen)
{
    (void)user;
    line_session *s = session;
    goc__calc_resp *r = &s->resp;
    char why[128], text[96];
    int rc =
        goc__calc_parse_response(resp->data, resp->len, r, why, sizeof why);
    if (rc < 0) {
        clip(text, sizeof text, resp->data, resp->len);
        snprintf(msg, msglen, "Incorrectly formatted Resp: %s! (%s)", text,
                 why);
        return GOC_RET_ERROR_RESPONSE;
    }
    if (r->id != req->id) {
        snprintf(msg, msglen,
                 "Inconsistent raw id! (%" PRId64 " != %" PRId64 ")", req->id,
                 r->id);
        return GOC_RET_ERROR_RESPONSE;
    }
    if (r->has_err) {
        snprintf(msg, msglen, "Abnormal server: %s!", r->err);
        return GOC_RET_ERROR_CALEE;
    }
    goc__calc_resp want;
    if (goc__calc_eval(&s->req, &want) < 0) { /* our operands: cannot be */
        snprintf(msg, msglen, "Incorrectly formatted Req: %s!", want.err);
        return GOC_RET_FATAL_CALL;
    }
    if (r->result != want.result) {
        char f[160];
        if (goc__calc_formula(s->req.operands, s->req.n, s->req.op, r->result,
                              false, f, sizeof f) < 0)
            strcpy(f, "?");
        snprintf(msg, msglen, "Incorrect result: %s!", f);
        return GOC_RET_ERROR_RESPONSE;
    }
    snprintf(msg, msglen, "Success. (%s)", r->formula);
    return GOC_RET_SUCCESS;
}

/* ---- raw TCP line echo ----------------------------------------------- */

static int echo_build(void *user, void *session, goc_call_req *req)
{
    line_caller *lc = user;
    line_session *s = session;
    req->id = lc->id_base + atomic_fetch_add(&lc->next_id, 1);
    int n;
    if (lc->payload)
        n = snprintf(s->wbuf, WBUF, "%s\n", lc->payload);
    else
        n = snprintf(s->wbuf, WBUF, "goc-loadgen %" PRId64 "\n", req->id);
    if (n < 0 || n >= WBUF)
        return -EMSGSIZE;
    req->data = s->wbuf;
    req->len = (size_t)n;
    return 0;
}

static int echo_check(void *user, void *session, const goc_call_req *req,
                      const goc_call_resp *resp, char *msg, size_t msglen)
{
    (void)user, (void)session;
    if (resp->len + 1 != req->len || memcmp(resp->data, req->data, resp->len)) {
        char text[96];
        clip(text, sizeof text, resp->data, resp->len);
        snprintf(msg, msglen, "Echo mismatch: %s", text);
        return GOC_RET_ERROR_RESPONSE;
    }
    snprintf(msg, msglen, "Success.");
    return GOC_RET_SUCCESS;
}

/* ---- constructors ----------------------------------------------------- */

static void line_destroy(void *user)
{
    line_caller *lc = user;
    if (!lc)
        return;
    if (lc->inflight)
        lookup_unref(lc->inflight); /* its goroutine holds its own */
    free(lc->address);
    free(lc->payload);
    free(lc);
}

static int line_new(goc_caller *out, int proto, const char *address,
                    const goc_caller_opts *opts)
{
    memset(out, 0, sizeof *out);
    if (!address || !*address)
        return -EINVAL;
    const char *payload = opts ? opts->payload : NULL;
    if (payload && (strlen(payload) > LINE_MAX_LEN || strchr(payload, '\n')))
        return -EINVAL;
    line_caller *lc = calloc(1, sizeof *lc);
    if (!lc)
        return -ENOMEM;
    lc->proto = proto;
    lc->keepalive = opts && opts->keepalive;
    lc->address = strdup(address);
    lc->payload = payload ? strdup(payload) : NULL;
    if (!lc->address || (payload && !lc->payload)) {
        line_destroy(lc);
        return -ENOMEM;
    }
    /* Split host and port; an address (or anything goc_dial will refuse
     * by itself) is dialled as given, never looked up. */
    const char *colon = strrchr(address, ':');
    size_t hlen = colon ? (size_t)(colon - address) : 0;
    const char *h = address;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']')
        h++, hlen -= 2;
    lc->numeric = true;
    if (colon && hlen > 0 && hlen < sizeof lc->host &&
        strlen(colon + 1) < sizeof lc->port) {
        memcpy(lc->host, h, hlen);
        lc->host[hlen] = '\0';
        snprintf(lc->port, sizeof lc->port, "%s", colon + 1);
        unsigned char bin[16];
        lc->numeric = inet_pton(AF_INET, lc->host, bin) == 1 ||
                      inet_pton(AF_INET6, lc->host, bin) == 1 ||
                      strchr(lc->host, '%'); /* a zone: goc_dial's */
    }
    /* The book's ids are time.Now().UnixNano(); ours count up from it. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lc->id_base = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    *out = (goc_caller){
        .user = lc,
        .session_open = session_open,
        .session_close = session_close,
        .build_req = proto == PROTO_CALC ? calc_build : echo_build,
        .call = line_call,
        .check_resp = proto == PROTO_CALC ? calc_check : echo_check,
        .interrupt = session_interrupt,
        .destroy = line_destroy,
        .prepare = line_prepare,
    };
    return 0;
}

int goc_caller_calc(goc_caller *out, const char *address,
                    const goc_caller_opts *opts)
{
    return line_new(out, PROTO_CALC, address, opts);
}

int goc_caller_tcp_line(goc_caller *out, const char *address,
                        const goc_caller_opts *opts)
{
    return line_new(out, PROTO_LINE, address, opts);
}

#else /* no goc/net.h yet */

int goc_caller_calc(goc_caller *out, const char *address,
                    const goc_caller_opts *opts)
{
    (void)address, (void)opts;
    memset(out, 0, sizeof *out);
    return -ENOSYS;
}

int goc_caller_tcp_line(goc_caller *out, const char *address,
                        const goc_caller_opts *opts)
{
    (void)address, (void)opts;
    memset(out, 0, sizeof *out);
    return -ENOSYS;
}

#endif

/* Checks "host:port" (or "[v6]:port", an optional final '/') after the
 * scheme and copies it into addr: the host must be there, the port a
 * number 1..65535. 0, or -EINVAL with the part that is wrong in errbuf. */
static int split_target(const char *url, const char *hp, const char *scheme,
                        char *addr, size_t cap, char *errbuf, size_t errlen)
{
    size_t len = strlen(hp);
    if (len && hp[len - 1] == '/')
        len--; /* calc://host:port/ */
    const char *why = NULL, *part = NULL;
    size_t partlen = 0;
    const char *colon = memrchr(hp, ':', len);
    if (len == 0 || strcspn(hp, "/?#") < len) {
        why = "want %shost:port";
    } else if (!colon) {
        why = "no port: want %shost:port";
    } else if (colon == hp) {
        why = "no host: want %shost:port";
    } else if (hp[0] == '[' && colon[-1] != ']') {
        why = "want %s[ipv6]:port";
    } else if (len >= cap) {
        why = "host name too long";
    } else {
        const char *port = colon + 1;
        size_t plen = (size_t)(hp + len - port);
        long v = 0;
        size_t i = 0;
        for (; i < plen && port[i] >= '0' && port[i] <= '9' && v <= 65535; i++)
            v = v * 10 + (port[i] - '0');
        if (plen == 0 || i < plen || v < 1 || v > 65535) {
            part = port;
            partlen = plen;
            why = plen && i == plen ? "port %.*s is out of range: want 1 to "
                                      "65535"
                                    : "port \"%.*s\" is not a number 1 to "
                                      "65535";
        }
    }
    if (why) {
        if (errbuf) {
            int w = snprintf(errbuf, errlen, "bad target \"%s\": ", url);
            if (w >= 0 && (size_t)w < errlen) {
                if (part)
                    snprintf(errbuf + w, errlen - (size_t)w, why, (int)partlen,
                             part);
                else
                    snprintf(errbuf + w, errlen - (size_t)w, why, scheme);
            }
        }
        return -EINVAL;
    }
    memcpy(addr, hp, len);
    addr[len] = '\0';
    return 0;
}

int goc_caller_from_url(goc_caller *out, const char *url,
                        const goc_caller_opts *opts, char *errbuf,
                        size_t errlen)
{
    static const struct {
        const char *scheme;
        int (*make)(goc_caller *, const char *, const goc_caller_opts *);
    } schemes[] = {{"calc://", goc_caller_calc},
                   {"tcp://", goc_caller_tcp_line}};
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (out)
        memset(out, 0, sizeof *out);
    if (!out || !url) {
        if (errbuf)
            snprintf(errbuf, errlen, "no target");
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i].scheme);
        if (strncmp(url, schemes[i].scheme, n) != 0)
            continue;
        char addr[256];
        int rc = split_target(url, url + n, schemes[i].scheme, addr,
                              sizeof addr, errbuf, errlen);
        if (rc < 0)
            return rc;
        if (opts && opts->payload && schemes[i].make == goc_caller_calc) {
            if (errbuf)
                snprintf(errbuf, errlen,
                         "target \"%s\": a payload is for tcp:// targets "
                         "only (calc builds its own requests)",
                         url);
            return -EINVAL;
        }
        rc = schemes[i].make(out, addr, opts);
        if (rc < 0 && errbuf)
            snprintf(errbuf, errlen, "target \"%s\": %s", url,
                     goc_strerror(rc));
        return rc;
    }
    if (errbuf)
        snprintf(errbuf, errlen,
                 "unknown target \"%s\": want calc://host:port or "
                 "tcp://host:port",
                 url);
    return -EINVAL;
}
