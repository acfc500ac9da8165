/*
 * calcserver.c - the book's arithmetic server (see calcserver.h).
 *
 * Invariants:
 *  - Every connection goroutine is on s->conns (under s->mu) from before
 *    it starts until it has closed its connection; stop only touches
 *    connections on that list, under s->mu, so never a closed one.
 *  - s->wg counts the accept goroutine and every connection goroutine;
 *    stop frees s only after it reaches zero.
 *  - Once s->closing is set (under s->mu), no connection is added: the
 *    accept goroutine closes what it accepts from then on.
 *  - A connection goroutine sets a deadline, then reads s->closing; stop
 *    sets s->closing, then puts every deadline in the past (all seq_cst):
 *    either the goroutine sees closing, or stop's deadline comes after its
 *    own, so no goroutine sleeps through a stop.
 *
 * Lock order: s->mu only.
 */
#include "goc/calcserver.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "calc/calc_proto.h"
#include "goc/runtime.h"
#include "goc/sync.h"

#include "goc/net.h"

#define IDLE_DEFAULT (30 * GOC_SECOND)
#define REQUEST_DEFAULT (10 * GOC_SECOND)
#define WRITE_TIMEOUT (10 * GOC_SECOND)
/* The read buffer holds a whole line, its '\n', and one byte more, so
 * that a line over the limit is seen as such. It starts on the
 * connection goroutine's stack (RBUF_SMALL: every ordinary request fits)
 * and moves to a mapping of its own only for a longer line, so that
 * connection churn leaves nothing in malloc's per-thread arenas: the
 * stack's pages go back with the stack (issue 19.2). */
#define RBUF (GOC__CALC_MAX_LINE + 2)
#define RBUF_SMALL 4096
/* A response always fits: the longest formula, an error message with
 * every byte escaped as \u00XX, and the JSON around them. */
#define WBUF (GOC__CALC_FORMULA_CAP + 6 * GOC__CALC_ERR_CAP + 256)

typedef struct sconn {
    struct goc_calcserver *s;
    goc_conn *c;
    struct sconn *prev, *next; /* s->conns (s->mu) */
} sconn;

struct goc_calcserver {
    goc_listener *l;
    goc_calcserver_opts opts;
    char addr[128];
    goc_waitgroup wg;
    goc_mutex mu;
    _Atomic bool closing; /* set under mu; read anywhere */
    sconn *conns;         /* mu */
    _Atomic int64_t nconns, requests, ok, errors;
    _Atomic int64_t live, refused; /* open connections; over max_conns */
};

static void conn_unlink(goc_calcserver *s, sconn *sc)
{
    goc_mutex_lock(&s->mu);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    goc_mutex_unlock(&s->mu);
}

/* Sets a deadline d from now with fn; false when the server is stopping
 * (see the invariants). */
static bool set_deadline(goc_calcserver *s, sconn *sc,
                         int (*fn)(goc_conn *, int64_t), int64_t d)
{
    fn(sc->c, goc_nanotime() + d);
    return !atomic_load(&s->closing);
}

/* Answers one request line; false when the connection must be closed
 * (write failed). */
static bool answer(goc_calcserver *s, sconn *sc, const char *line, size_t len,
                   char *wbuf, goc__calc_req *req, goc__calc_resp *resp)
{
    char err[GOC__CALC_ERR_CAP];
    int rc = goc__calc_parse_request(line, len, req, err, sizeof err);
    if (rc < 0) {
        goc__calc_resp_error(resp, 0, err);
    } else {
        rc = goc__calc_eval(req, resp); /* an error response on failure */
    }
    int n = goc__calc_format_response(resp, wbuf, WBUF - 1);
    if (n < 0) { /* cannot happen: a response always fits */
        goc__calc_resp_error(resp, 0, "internal error: response too long");
        n = goc__calc_format_response(resp, wbuf, WBUF - 1);
        rc = -EINVAL;
    }
    wbuf[n++] = '\n';
    atomic_fetch_add(&s->requests, 1);
    atomic_fetch_add(rc < 0 ? &s->errors : &s->ok, 1);
    if (!set_deadline(s, sc, goc_conn_set_write_deadline, WRITE_TIMEOUT))
        return false;
    return goc_conn_write(sc->c, wbuf, (size_t)n) == n;
}

static void answer_error(goc_calcserver *s, sconn *sc, char *wbuf,
                         goc__calc_resp *resp, const char *msg)
{
    goc__calc_resp_error(resp, 0, msg);
    int n = goc__calc_format_response(resp, wbuf, WBUF - 1);
    if (n < 0)
        return;
    wbuf[n++] = '\n';
    atomic_fetch_add(&s->requests, 1);
    atomic_fetch_add(&s->errors, 1);
    if (set_deadline(s, sc, goc_conn_set_write_deadline, WRITE_TIMEOUT))
        goc_conn_write(sc->c, wbuf, (size_t)n);
}

/*
 * After an error response to a line over the limit, the rest of that line
 * may still be arriving. Closing now, with unread bytes, would make the
 * kernel send a reset, which can destroy the response before the client
 * reads it. So: shut our side for writing, then read and drop what still
 * comes for a short while (Go's net/http closeWriteAndWait).
 */
static void linger_close(goc_calcserver *s, sconn *sc, char *buf, size_t cap)
{
    shutdown(goc_conn_fd(sc->c), SHUT_WR);
    int64_t until = goc_nanotime() + 500 * GOC_MILLISECOND;
    size_t dropped = 0;
    while (dropped < 4 * GOC__CALC_MAX_LINE &&
           set_deadline(s, sc, goc_conn_set_read_deadline,
                        until - goc_nanotime())) {
        ssize_t n = goc_conn_read(sc->c, buf, cap);
        if (n <= 0)
            break;
        dropped += (size_t)n;
    }
}

/* Grows the read buffer from the stack's to RBUF bytes (a mapping of its
 * own, given back whole at munmap); false when out of memory. */
static bool rbuf_grow(char **rbuf, size_t *cap, size_t used)
{
    char *big = mmap(NULL, RBUF, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED)
        return false;
    memcpy(big, *rbuf, used);
    *rbuf = big;
    *cap = RBUF;
    return true;
}

static void serve_conn(void *arg)
{
    sconn *sc = arg;
    goc_calcserver *s = sc->s;
    char small[RBUF_SMALL], wbuf[WBUF];
    goc__calc_req req[1];
    goc__calc_resp resp[1];
    char *rbuf = small;
    size_t rcap = sizeof small;
    size_t start = 0, end = 0;
    int64_t line_deadline = 0; /* set by a partial line's first byte */
    for (;;) {
        /* A whole line in [start, end)? */
        char *nl = memchr(rbuf + start, '\n', end - start);
        if (nl) {
            size_t len = (size_t)(nl - (rbuf + start));
            if (len > GOC__CALC_MAX_LINE) {
                answer_error(s, sc, wbuf, resp, "request line over 64 KiB");
                linger_close(s, sc, rbuf, rcap);
                break;
            }
            if (!answer(s, sc, rbuf + start, len, wbuf, req, resp))
                break;
            start += len + 1;
            line_deadline = 0;
            if (!s->opts.keepalive)
                break;
            continue;
        }
        if (end - start > GOC__CALC_MAX_LINE) {
            answer_error(s, sc, wbuf, resp, "request line over 64 KiB");
            linger_close(s, sc, rbuf, rcap);
            break;
        }
        if (start > 0) { /* make room: move the partial line down */
            memmove(rbuf, rbuf + start, end - start);
            end -= start;
            start = 0;
        }
        if (end == rcap && !rbuf_grow(&rbuf, &rcap, end))
            break;
        /* A partial line must complete within request_timeout of its
         * first byte, however slowly it trickles in; between lines the
         * idle timeout applies. */
        int64_t now = goc_nanotime(), d = s->opts.idle_timeout;
        if (end > start) {
            if (line_deadline == 0)
                line_deadline = now + s->opts.request_timeout;
            if (line_deadline - now < d)
                d = line_deadline - now;
            if (d <= 0) {
                answer_error(s, sc, wbuf, resp,
                             "request line not complete in time");
                break;
            }
        }
        if (!set_deadline(s, sc, goc_conn_set_read_deadline, d))
            break;
        ssize_t n = goc_conn_read(sc->c, rbuf + end, rcap - end);
        if (n > 0) {
            end += (size_t)n;
            continue;
        }
        if (n == -ETIMEDOUT && end > start && line_deadline &&
            goc_nanotime() >= line_deadline) {
            answer_error(s, sc, wbuf, resp,
                         "request line not complete in time");
            break;
        }
        if (n == 0 && end > start) /* EOF inside a line */
            answer_error(s, sc, wbuf, resp,
                         "unexpected EOF: request line without '\\n'");
        break; /* EOF, idle timeout, reset, or stop */
    }
    if (rbuf != small)
        munmap(rbuf, RBUF);
    atomic_fetch_sub(&s->live, 1);
    conn_unlink(s, sc);
    goc_conn_close(sc->c);
    free(sc);
    goc_waitgroup_done(&s->wg);
}

static void accept_loop(void *arg)
{
    goc_calcserver *s = arg;
    for (;;) {
        goc_conn *c;
        int rc = goc_accept(s->l, &c);
        if (rc < 0) {
            if (atomic_load(&s->closing))
                break;
            goc_sleep(GOC_MILLISECOND); /* e.g. ECONNABORTED: go on */
            continue;
        }
        atomic_fetch_add(&s->nconns, 1);
        if (s->opts.max_conns > 0 &&
            atomic_load(&s->live) >= s->opts.max_conns) {
            /* Refuse clearly, without a goroutine: one error line (the
             * socket buffer takes it at once), then close. */
            static const char busy[] =
                "{\"ID\":0,\"Formula\":\"\",\"Result\":0,"
                "\"Err\":\"server busy: too many connections\"}\n";
            atomic_fetch_add(&s->refused, 1);
            goc_conn_set_write_deadline(c, goc_nanotime() + GOC_MILLISECOND);
            goc_conn_write(c, busy, sizeof busy - 1);
            goc_conn_close(c);
            continue;
        }
        atomic_fetch_add(&s->live, 1);
        sconn *sc = calloc(1, sizeof *sc);
        goc_mutex_lock(&s->mu);
        if (!sc || s->closing) {
            goc_mutex_unlock(&s->mu);
            atomic_fetch_sub(&s->live, 1);
            goc_conn_close(c);
            free(sc);
            continue;
        }
        sc->s = s;
        sc->c = c;
        sc->next = s->conns;
        if (s->conns)
            s->conns->prev = sc;
        s->conns = sc;
        goc_waitgroup_add(&s->wg, 1);
        goc_mutex_unlock(&s->mu);
        if (goc_go(serve_conn, sc) < 0) {
            atomic_fetch_sub(&s->live, 1);
            conn_unlink(s, sc);
            goc_conn_close(c);
            free(sc);
            goc_waitgroup_done(&s->wg);
        }
    }
    goc_waitgroup_done(&s->wg);
}

int goc_calcserver_start(goc_calcserver **out, const char *address,
                         const goc_calcserver_opts *opts)
{
    *out = NULL;
    goc_calcserver *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    if (opts)
        s->opts = *opts;
    if (s->opts.idle_timeout <= 0)
        s->opts.idle_timeout = IDLE_DEFAULT;
    if (s->opts.request_timeout <= 0)
        s->opts.request_timeout = REQUEST_DEFAULT;
    int rc = goc_listen(&s->l, "tcp", address);
    if (rc < 0) {
        free(s);
        return rc;
    }
    rc = goc_listener_addr(s->l, s->addr, sizeof s->addr);
    if (rc < 0)
        snprintf(s->addr, sizeof s->addr, "%s", address);
    goc_waitgroup_add(&s->wg, 1);
    rc = goc_go(accept_loop, s);
    if (rc < 0) {
        goc_listener_close(s->l);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

const char *goc_calcserver_addr(const goc_calcserver *s)
{
    return s->addr;
}

void goc_calcserver_get_stats(goc_calcserver *s, goc_calcserver_stats *out)
{
    out->conns = atomic_load(&s->nconns);
    out->requests = atomic_load(&s->requests);
    out->ok = atomic_load(&s->ok);
    out->errors = atomic_load(&s->errors);
    out->refused = atomic_load(&s->refused);
}

void goc_calcserver_stop(goc_calcserver *s)
{
    if (!s)
        return;
    goc_mutex_lock(&s->mu);
    atomic_store(&s->closing, true);
    for (sconn *sc = s->conns; sc; sc = sc->next)
        goc_conn_set_deadline(sc->c, 1); /* in the past: wake it */
    goc_mutex_unlock(&s->mu);
    goc_listener_close(s->l);
    goc_waitgroup_wait(&s->wg);
    free(s);
}
