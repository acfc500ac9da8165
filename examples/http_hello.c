/*
 * http_hello.c - a tiny HTTP/1.1 responder on goc: every request gets
 * "Hello, World!". Keep-alive and pipelining work (all complete requests
 * in a read are answered with one write); "Connection: close" and
 * HTTP/1.0 without keep-alive close after the answer. Request bodies
 * (Content-Length) are skipped; nothing else of HTTP is implemented. It is
 * the goc side of the `wrk` comparison (bench/go/httphello is the same
 * responder in Go; bench/net_baselines.sh runs both).
 *
 *   http_hello               self-test: serve on 127.0.0.1 (any free
 *                            port), send 2,000 requests over 4 keep-alive
 *                            connections (some pipelined, some closing),
 *                            check the answers, print the rate, exit
 *   http_hello ADDRESS       serve on ADDRESS until killed, e.g.
 *                            http_hello 127.0.0.1:8080 &
 *                            wrk -t2 -c100 -d10s http://127.0.0.1:8080/
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <goc.h>

#define RESPONSE_KEEP                                                          \
    "HTTP/1.1 200 OK\r\n"                                                      \
    "Content-Type: text/plain\r\n"                                             \
    "Content-Length: 13\r\n"                                                   \
    "\r\n"                                                                     \
    "Hello, World!"
#define RESPONSE_CLOSE                                                         \
    "HTTP/1.1 200 OK\r\n"                                                      \
    "Content-Type: text/plain\r\n"                                             \
    "Content-Length: 13\r\n"                                                   \
    "Connection: close\r\n"                                                    \
    "\r\n"                                                                     \
    "Hello, World!"
#define BUF 16384
#define IDLE_TIMEOUT (30 * GOC_SECOND)

/* The value of header `name` in the header block [h, end), or NULL. */
static const char *header(const char *h, const char *end, const char *name,
                          size_t *len)
{
    size_t nl = strlen(name);
    while (h < end) {
        const char *eol = memchr(h, '\n', (size_t)(end - h));
        if (!eol)
            eol = end;
        if ((size_t)(eol - h) > nl && h[nl] == ':' &&
            strncasecmp(h, name, nl) == 0) {
            const char *v = h + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && isspace((unsigned char)ve[-1]))
                ve--;
            *len = (size_t)(ve - v);
            return v;
        }
        h = eol + 1;
    }
    return NULL;
}

static bool has_token(const char *v, size_t len, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= len; i++)
        if (strncasecmp(v + i, tok, tl) == 0)
            return true;
    return false;
}

static void serve(void *arg)
{
    goc_conn *c = arg;
    char *in = malloc(BUF), *out = malloc(BUF * 2);
    size_t have = 0, skip = 0; /* skip: body bytes still to drop */
    bool more = false;         /* requests left over: answer before reading */
    if (!in || !out)
        goto out;
    for (;;) {
        if (!more) {
            if (have == BUF)
                break; /* a header over 16 KiB: not for us */
            goc_conn_set_read_deadline(c, goc_nanotime() + IDLE_TIMEOUT);
            ssize_t n = goc_conn_read(c, in + have, BUF - have);
            if (n <= 0)
                break; /* end of file, idle, reset */
            have += (size_t)n;
        }
        /* Answer every complete request there is, in one write. */
        size_t pos = 0, outlen = 0;
        bool keep = true;
        more = false;
        for (;;) {
            if (skip) {
                size_t k = skip < have - pos ? skip : have - pos;
                pos += k;
                skip -= k;
                if (skip)
                    break;
            }
            char *start = in + pos;
            char *hdr_end = memmem(start, have - pos, "\r\n\r\n", 4);
            if (!hdr_end)
                break;
            if (outlen + sizeof RESPONSE_CLOSE > BUF * 2) {
                more = true; /* out is full: write, then go on */
                break;
            }
            char *end = hdr_end + 4;
            char *line_end = memchr(start, '\n', (size_t)(end - start));
            bool http10 = line_end - start >= 9 &&
                          memcmp(line_end - 9, "HTTP/1.0", 8) == 0;
            size_t vl;
            const char *conn = header(line_end + 1, hdr_end, "Connection", &vl);
            keep = http10 ? conn && has_token(conn, vl, "keep-alive")
                          : !(conn && has_token(conn, vl, "close"));
            const char *cl =
                header(line_end + 1, hdr_end, "Content-Length", &vl);
            if (cl)
                skip = (size_t)strtoul(cl, NULL, 10);
            const char *resp = keep ? RESPONSE_KEEP : RESPONSE_CLOSE;
            size_t rl =
                keep ? sizeof RESPONSE_KEEP - 1 : sizeof RESPONSE_CLOSE - 1;
            memcpy(out + outlen, resp, rl);
            outlen += rl;
            pos = (size_t)(end - in);
            if (!keep)
                break;
        }
        if (outlen && goc_conn_write(c, out, outlen) < 0)
            break;
        if (!keep)
            break;
        memmove(in, in + pos, have - pos);
        have -= pos;
    }
out:
    free(in);
    free(out);
    goc_conn_close(c);
}

static void accept_loop(void *arg)
{
    goc_listener *ln = arg;
    goc_conn *c;
    while (goc_accept(ln, &c) == 0)
        if (goc_go(serve, c) != 0)
            goc_conn_close(c);
}

/* ---- the self-test's client ------------------------------------------ */

typedef struct client {
    const char *addr;
    int requests;
    int ok;
    goc_chan *done;
} client;

/* Read one response (headers and a 13-byte body). */
static bool read_response(goc_conn *c, char *buf, size_t cap, size_t *have)
{
    for (;;) {
        char *e = memmem(buf, *have, "\r\n\r\n", 4);
        if (e && (size_t)(e + 4 - buf) + 13 <= *have) {
            size_t len = (size_t)(e + 4 - buf) + 13;
            bool ok = strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
                      memcmp(e + 4, "Hello, World!", 13) == 0;
            memmove(buf, buf + len, *have - len);
            *have -= len;
            return ok;
        }
        ssize_t n = goc_conn_read(c, buf + *have, cap - *have);
        if (n <= 0)
            return false;
        *have += (size_t)n;
    }
}

static void run_client(void *arg)
{
    client *cl = arg;
    static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[4096];
    size_t have = 0;
    goc_conn *c = NULL;
    for (int i = 0; i < cl->requests;) {
        if (!c && goc_dial(&c, "tcp", cl->addr) != 0)
            break;
        goc_conn_set_deadline(c, goc_nanotime() + 10 * GOC_SECOND);
        if (i % 100 == 99) { /* now and then: close after this one */
            static const char bye[] =
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            goc_conn_write(c, bye, sizeof bye - 1);
            cl->ok += read_response(c, buf, sizeof buf, &have);
            char x;
            if (goc_conn_read(c, &x, 1) != 0) /* the server hangs up */
                break;
            goc_conn_close(c);
            c = NULL;
            have = 0;
            i++;
            continue;
        }
        int burst = i % 10 == 0 ? 8 : 1; /* pipelined, or one by one */
        if (burst > cl->requests - i)
            burst = cl->requests - i;
        char req[8 * sizeof get];
        for (int k = 0; k < burst; k++)
            memcpy(req + k * (sizeof get - 1), get, sizeof get - 1);
        goc_conn_write(c, req, (size_t)burst * (sizeof get - 1));
        for (int k = 0; k < burst; k++)
            cl->ok += read_response(c, buf, sizeof buf, &have);
        i += burst;
    }
    if (c)
        goc_conn_close(c);
    goc_chan_send_int(cl->done, 1);
}

static int self_test(void *arg)
{
    (void)arg;
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    if (goc_listen(&ln, "tcp", "127.0.0.1:0") != 0)
        return 1;
    goc_listener_addr(ln, addr, sizeof addr);
    printf("http_hello on http://%s/\n", addr);
    goc_go(accept_loop, ln);
    enum { CONNS = 4, REQS = 500 };
    client cl[CONNS];
    goc_chan *done = goc_chan_make(sizeof(int), CONNS);
    int64_t t0 = goc_nanotime();
    for (int i = 0; i < CONNS; i++) {
        cl[i] = (client){addr, REQS, 0, done};
        goc_go(run_client, &cl[i]);
    }
    int ok = 0, v;
    for (int i = 0; i < CONNS; i++)
        goc_chan_recv_int(done, &v); /* all of them have finished */
    for (int i = 0; i < CONNS; i++)
        ok += cl[i].ok;
    double s = (double)(goc_nanotime() - t0) / 1e9;
    printf("%d of %d requests answered correctly in %.3f s (%.0f "
           "requests/s)\n",
           ok, CONNS * REQS, s, ok / s);
    goc_listener_close(ln);
    goc_chan_free(done);
    return ok == CONNS * REQS ? 0 : 1;
}

static int serve_forever(void *arg)
{
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    int err = goc_listen(&ln, "tcp", arg);
    if (err < 0) {
        fprintf(stderr, "listen %s: %s\n", (char *)arg, goc_strerror(err));
        return 1;
    }
    goc_listener_addr(ln, addr, sizeof addr);
    printf("http_hello on http://%s/\n", addr);
    fflush(stdout);
    accept_loop(ln);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return goc_main(serve_forever, argv[1]);
    return goc_main(self_test, NULL);
}
