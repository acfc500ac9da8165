/*
 * http_test_server.c - the tests' misbehaving HTTP server (see
 * http_test_server.h).
 */
#include "http_test_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc_test.h"

#define MAX_CONNS 4096
#define RBUF 65536

struct hts {
    goc_listener *l;
    char addr[GOC_ADDRSTRLEN];
    goc_mutex mu;
    goc_conn *conns[MAX_CONNS]; /* mu: live connections */
    bool stopping;              /* mu */
    goc_waitgroup wg;
    _Atomic int64_t nconns, nrequests, nreads;
    char last[8192]; /* mu */
};

typedef struct hts_conn {
    hts *s;
    goc_conn *c;
    int slot;
    char buf[RBUF];
    size_t len;
} hts_conn;

static bool put(goc_conn *c, const char *s, size_t n)
{
    return goc_conn_write(c, s, n) == (ssize_t)n;
}

static bool puts_(goc_conn *c, const char *s)
{
    return put(c, s, strlen(s));
}

#define OK_RESP "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
#define CHUNKED_RESP                                                           \
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"                    \
    "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"

/* Answers one request; false: close the connection. */
static bool answer(hts *s, goc_conn *c, const char *path, const char *req,
                   size_t reqlen)
{
    char b[512];
    if (strcmp(path, "/ok") == 0) {
        if (strncmp(req, "HEAD ", 5) == 0) /* the head only */
            return puts_(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
        return puts_(c, OK_RESP);
    }
    if (strncmp(path, "/status/", 8) == 0) {
        int st = atoi(path + 8);
        if (st == 204 || st == 304)
            snprintf(b, sizeof b, "HTTP/1.1 %d X\r\n\r\n", st);
        else
            snprintf(b, sizeof b, "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n",
                     st);
        return puts_(c, b);
    }
    if (strcmp(path, "/chunked") == 0)
        return puts_(c, CHUNKED_RESP);
    if (strcmp(path, "/interim") == 0)
        return puts_(c,
                     "HTTP/1.1 100 Continue\r\n\r\n"
                     "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" OK_RESP);
    if (strcmp(path, "/close") == 0) {
        puts_(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: "
                 "5\r\n\r\nhello");
        return false;
    }
    if (strcmp(path, "/http10") == 0) {
        puts_(c, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        return false;
    }
    if (strcmp(path, "/eof-body") == 0) {
        puts_(c, "HTTP/1.1 200 OK\r\n\r\nhello");
        return false;
    }
    if (strcmp(path, "/close-mid") == 0) {
        puts_(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        return false;
    }
    if (strcmp(path, "/garbage") == 0) {
        puts_(c, "HELLO WORLD\r\n\r\n");
        return false;
    }
    if (strcmp(path, "/bad-length") == 0)
        return puts_(c, "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n");
    if (strcmp(path, "/bad-chunk") == 0)
        return puts_(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                        "chunked\r\n\r\nzz\r\n");
    if (strcmp(path, "/huge-headers") == 0) {
        if (!puts_(c, "HTTP/1.1 200 OK\r\n"))
            return false;
        char line[1024];
        memset(line, 'a', sizeof line);
        memcpy(line, "X-Big: ", 7);
        line[sizeof line - 2] = '\r';
        line[sizeof line - 1] = '\n';
        for (int i = 0; i < 300; i++)
            if (!put(c, line, sizeof line))
                return false;
        return puts_(c, "Content-Length: 0\r\n\r\n");
    }
    if (strcmp(path, "/stall") == 0) {
        goc_sleep(3 * GOC_SECOND);
        return false;
    }
    if (strcmp(path, "/drip") == 0) {
        const char *r = CHUNKED_RESP;
        for (size_t i = 0; r[i]; i++) {
            if (!put(c, r + i, 1))
                return false;
            goc_sleep(GOC_MILLISECOND);
        }
        return true;
    }
    if (strcmp(path, "/endless") == 0) {
        if (!puts_(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
            return false;
        char *chunk = malloc(65536 + 16);
        ASSERT(chunk != NULL);
        int h = snprintf(chunk, 16, "10000\r\n");
        memset(chunk + h, 'x', 65536);
        memcpy(chunk + h + 65536, "\r\n", 2);
        for (int i = 0; i < 1000000; i++)
            if (!put(c, chunk, (size_t)h + 65536 + 2))
                break;
        free(chunk);
        return false;
    }
    if (strcmp(path, "/echo") == 0) {
        snprintf(b, sizeof b, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                 reqlen);
        return puts_(c, b) && put(c, req, reqlen);
    }
    (void)s;
    return puts_(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

/* The length of a request head ending in "\r\n\r\n" at buf, and its
 * Content-Length; 0 when incomplete. */
static size_t head_len(const char *buf, size_t n, size_t *cl)
{
    const char *e = memmem(buf, n, "\r\n\r\n", 4);
    if (!e)
        return 0;
    size_t h = (size_t)(e - buf) + 4;
    *cl = 0;
    for (const char *p = buf; p < e;) {
        const char *nl = memmem(p, (size_t)(e - p) + 2, "\r\n", 2);
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            *cl = (size_t)strtoul(p + 15, NULL, 10);
        p = nl + 2;
    }
    return h;
}

static void conn_main(void *arg)
{
    hts_conn *hc = arg;
    hts *s = hc->s;
    goc_conn *c = hc->c;
    for (;;) {
        size_t cl = 0, h;
        while ((h = head_len(hc->buf, hc->len, &cl)) == 0 || hc->len < h + cl) {
            if (hc->len == RBUF)
                goto out;
            ssize_t n = goc_conn_read(c, hc->buf + hc->len, RBUF - hc->len);
            if (n <= 0)
                goto out;
            atomic_fetch_add(&s->nreads, 1);
            hc->len += (size_t)n;
        }
        atomic_fetch_add(&s->nrequests, 1);
        char path[256] = "";
        const char *sp = memchr(hc->buf, ' ', h);
        if (sp) {
            const char *sp2 =
                memchr(sp + 1, ' ', h - (size_t)(sp + 1 - hc->buf));
            size_t pl = sp2 ? (size_t)(sp2 - sp - 1) : 0;
            if (pl >= sizeof path)
                pl = sizeof path - 1;
            memcpy(path, sp + 1, pl);
            path[pl] = '\0';
            path[strcspn(path, "?")] = '\0';
        }
        goc_mutex_lock(&s->mu);
        size_t keep = h + cl < sizeof s->last - 1 ? h + cl : sizeof s->last - 1;
        memcpy(s->last, hc->buf, keep);
        s->last[keep] = '\0';
        goc_mutex_unlock(&s->mu);
        bool more = answer(s, c, path, hc->buf, h + cl);
        memmove(hc->buf, hc->buf + h + cl, hc->len - h - cl);
        hc->len -= h + cl;
        if (!more)
            break;
    }
out:
    goc_mutex_lock(&s->mu);
    s->conns[hc->slot] = NULL;
    goc_mutex_unlock(&s->mu);
    goc_conn_close(c);
    free(hc);
    goc_waitgroup_done(&s->wg);
}

static void accept_main(void *arg)
{
    hts *s = arg;
    for (;;) {
        goc_conn *c;
        if (goc_accept(s->l, &c) < 0)
            break;
        atomic_fetch_add(&s->nconns, 1);
        hts_conn *hc = calloc(1, sizeof *hc);
        ASSERT(hc != NULL);
        hc->s = s;
        hc->c = c;
        goc_mutex_lock(&s->mu);
        int slot = -1;
        for (int i = 0; i < MAX_CONNS && slot < 0 && !s->stopping; i++)
            if (!s->conns[i])
                slot = i;
        if (slot >= 0)
            s->conns[slot] = c;
        goc_mutex_unlock(&s->mu);
        if (slot < 0) {
            goc_conn_close(c);
            free(hc);
            continue;
        }
        hc->slot = slot;
        goc_waitgroup_add(&s->wg, 1);
        ASSERT_EQ(goc_go(conn_main, hc), 0);
    }
    goc_waitgroup_done(&s->wg);
}

hts *hts_start(void)
{
    hts *s = calloc(1, sizeof *s);
    ASSERT(s != NULL);
    ASSERT_EQ(goc_listen(&s->l, "tcp", "127.0.0.1:0"), 0);
    ASSERT_EQ(goc_listener_addr(s->l, s->addr, sizeof s->addr), 0);
    goc_waitgroup_add(&s->wg, 1);
    ASSERT_EQ(goc_go(accept_main, s), 0);
    return s;
}

const char *hts_addr(hts *s)
{
    return s->addr;
}

int64_t hts_conns(hts *s)
{
    return atomic_load(&s->nconns);
}

int64_t hts_requests(hts *s)
{
    return atomic_load(&s->nrequests);
}

int64_t hts_reads(hts *s)
{
    return atomic_load(&s->nreads);
}

void hts_last_request(hts *s, char *buf, size_t n)
{
    goc_mutex_lock(&s->mu);
    snprintf(buf, n, "%s", s->last);
    goc_mutex_unlock(&s->mu);
}

void hts_stop(hts *s)
{
    goc_listener_close(s->l);
    goc_mutex_lock(&s->mu);
    s->stopping = true;
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i]) /* wakes its goroutine; it closes it */
            goc_conn_set_deadline(s->conns[i], 1);
    goc_mutex_unlock(&s->mu);
    goc_waitgroup_wait(&s->wg);
    free(s);
}
