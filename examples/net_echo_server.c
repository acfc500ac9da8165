/*
 * net_echo_server.c - a TCP echo server: one goroutine per connection,
 * written as blocking code (read, write everything back, until end of
 * file), each connection dropped after 60 s of silence (a read deadline).
 *
 *   net_echo_server            a self-contained demo: the server on
 *                              127.0.0.1 (any free port) and 8 clients,
 *                              each sending 200 lines of random length and
 *                              checking every echo; prints a summary, exits
 *   net_echo_server ADDRESS    serve on ADDRESS until killed, e.g.
 *                              net_echo_server 127.0.0.1:7000 and then
 *                              nc 127.0.0.1 7000
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <goc.h>

#define IDLE_TIMEOUT (60 * GOC_SECOND)
#define CLIENTS 8
#define LINES 200

static void serve(void *arg)
{
    goc_conn *c = arg;
    char buf[16384];
    for (;;) {
        goc_conn_set_read_deadline(c, goc_nanotime() + IDLE_TIMEOUT);
        ssize_t n = goc_conn_read(c, buf, sizeof buf); /* what is there */
        if (n <= 0)
            break; /* end of file (0), idle timeout or reset (< 0) */
        if (goc_conn_write(c, buf, (size_t)n) < 0) /* all n, or an error */
            break;
    }
    goc_conn_close(c);
}

static void accept_loop(void *arg)
{
    goc_listener *ln = arg;
    goc_conn *c;
    int err;
    while ((err = goc_accept(ln, &c)) == 0)
        if (goc_go(serve, c) != 0)
            goc_conn_close(c);
    if (err != -ECANCELED) /* -ECANCELED: the listener was closed */
        fprintf(stderr, "accept: %s\n", goc_strerror(err));
}

/* ---- the demo's clients ---------------------------------------------- */

typedef struct client {
    int id;
    const char *addr;
    long bytes;
    int err;
    goc_chan *done;
} client;

static void run_client(void *arg)
{
    client *cl = arg;
    goc_conn *c;
    char line[1200], back[1200];
    unsigned seed = (unsigned)cl->id * 2654435761u;
    cl->err = goc_dial_timeout(&c, "tcp", cl->addr, 5 * GOC_SECOND);
    if (cl->err == 0) {
        goc_conn_set_deadline(c, goc_nanotime() + 30 * GOC_SECOND);
        for (int i = 0; i < LINES && cl->err == 0; i++) {
            seed = seed * 1103515245u + 12345u;
            int len =
                snprintf(line, sizeof line, "client %d line %d ", cl->id, i);
            int pad = (int)((seed >> 16) % 1000);
            memset(line + len, 'a' + i % 26, (size_t)pad);
            len += pad;
            line[len++] = '\n';
            if (goc_conn_write(c, line, (size_t)len) < 0) {
                cl->err = -EIO;
                break;
            }
            /* The echo may come back in pieces: read until it is all. */
            int got = 0;
            while (got < len) {
                ssize_t n = goc_conn_read(c, back + got, (size_t)(len - got));
                if (n <= 0) {
                    cl->err = n < 0 ? (int)n : -ECONNRESET;
                    break;
                }
                got += (int)n;
            }
            if (cl->err == 0 && memcmp(line, back, (size_t)len) != 0)
                cl->err = -EBADMSG;
            cl->bytes += len;
        }
        goc_conn_close(c);
    }
    goc_chan_send_int(cl->done, cl->id);
}

static int demo(void *arg)
{
    (void)arg;
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    int err = goc_listen(&ln, "tcp", "127.0.0.1:0");
    if (err < 0) {
        fprintf(stderr, "listen: %s\n", goc_strerror(err));
        return 1;
    }
    goc_listener_addr(ln, addr, sizeof addr);
    printf("echo server on %s\n", addr);
    goc_go(accept_loop, ln);

    client cl[CLIENTS];
    goc_chan *done = goc_chan_make(sizeof(int), CLIENTS);
    int64_t t0 = goc_nanotime();
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (client){i, addr, 0, 0, done};
        goc_go(run_client, &cl[i]);
    }
    int failed = 0;
    long bytes = 0;
    for (int i = 0; i < CLIENTS; i++) {
        int id;
        goc_chan_recv_int(done, &id);
        if (cl[id].err) {
            printf("client %d: %s\n", id, goc_strerror(cl[id].err));
            failed++;
        }
        bytes += cl[id].bytes;
    }
    double ms = (double)(goc_nanotime() - t0) / 1e6;
    printf("%d clients x %d lines echoed (%ld bytes each way) in %.1f ms, "
           "%d failed\n",
           CLIENTS, LINES, bytes, ms, failed);
    goc_listener_close(ln); /* accept_loop gets -ECANCELED and returns */
    goc_chan_free(done);
    return failed ? 1 : 0;
}

static int serve_forever(void *arg)
{
    const char *address = arg;
    goc_listener *ln;
    char addr[GOC_ADDRSTRLEN];
    int err = goc_listen(&ln, "tcp", address);
    if (err < 0) {
        fprintf(stderr, "listen %s: %s\n", address, goc_strerror(err));
        return 1;
    }
    goc_listener_addr(ln, addr, sizeof addr);
    printf("echo server on %s\n", addr);
    fflush(stdout);
    accept_loop(ln);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return goc_main(serve_forever, argv[1]);
    return goc_main(demo, NULL);
}
