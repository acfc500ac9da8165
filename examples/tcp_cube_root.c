/*
 * tcp_cube_root.c - the book's socket program (section 1.2.5, Go's
 * "tcpsock"): a TCP server that answers the cube root of every integer it
 * is sent, and a client that dials it with a timeout, sets a deadline,
 * sends five random integers and reads the five answers. Each message ends
 * with a delimiter ('\t'); messages are read a byte at a time until it
 * comes, as in the book.
 *
 *   tcp_cube_root [ADDRESS]   serve on ADDRESS (default 127.0.0.1:0, any
 *                             free port; the book uses 127.0.0.1:8085),
 *                             run one client, and exit
 *
 * As the Go program, it waits (500 ms) before starting the client, and
 * the server gives each read a 10 s deadline. Differences, on purpose:
 * the client's deadline is 500 ms instead of the book's 5 ms (which a
 * loaded machine can miss), and main closes the listener at the end so
 * that the server goroutine ends too, which the Go version leaves to the
 * process exit.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <goc.h>

#define SERVER_NETWORK "tcp"
#define DELIMITER '\t'

static const char *server_address = "127.0.0.1:0";
static char bound_address[GOC_ADDRSTRLEN]; /* the listener's, once known */
static goc_chan *done;  /* the book's WaitGroup: one value per Done */
static goc_chan *ready; /* the server is listening */
static goc_listener *listener;

static void print_log(const char *role, int sn, const char *format, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, format, ap);
    printf("%s[%d]: %s\n", role, sn, msg);
    fflush(stdout);
}

static void server_log(const char *format, ...)
    __attribute__((format(printf, 1, 2)));
static void server_log(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    print_log("Server", 0, format, ap);
    va_end(ap);
}

static void client_log(int sn, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void client_log(int sn, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    print_log("Client", sn, format, ap);
    va_end(ap);
}

/* Go's error strings for the codes this program meets. */
static const char *err_text(int err)
{
    if (err == 0)
        return "EOF";
    if (err == -ETIMEDOUT)
        return "i/o timeout";
    if (err == -ECANCELED)
        return "use of closed network connection";
    return goc_strerror(err);
}

/* read(): one byte at a time until the delimiter. Returns the message's
 * length (NUL-terminated in buf), 0 with *err = 0 at end of file, or 0
 * with *err < 0 on an error. */
static size_t read_msg(goc_conn *conn, char *buf, size_t cap, int *err)
{
    size_t n = 0;
    *err = 0;
    for (;;) {
        char b;
        ssize_t r = goc_conn_read(conn, &b, 1);
        if (r <= 0) {
            *err = (int)r;
            buf[0] = '\0';
            return 0;
        }
        if (b == DELIMITER)
            break;
        if (n + 1 < cap)
            buf[n++] = b;
    }
    buf[n] = '\0';
    *err = 1; /* a message */
    return n;
}

/* write(): the content and the delimiter in one write. */
static ssize_t write_msg(goc_conn *conn, const char *content)
{
    char buf[600];
    int n = snprintf(buf, sizeof buf, "%s%c", content, DELIMITER);
    return goc_conn_write(conn, buf, (size_t)n);
}

/* strToInt32: strconv.ParseInt's checks and messages. */
static bool str_to_int32(const char *s, int32_t *out, char *err, size_t len)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || s[0] == ' ' || s[0] == '+') {
        snprintf(err, len,
                 "strconv.ParseInt: parsing \"%.64s\": invalid syntax", s);
        return false;
    }
    if (errno == ERANGE) {
        snprintf(err, len,
                 "strconv.ParseInt: parsing \"%.64s\": value out of range", s);
        return false;
    }
    if (v > INT32_MAX || v < INT32_MIN) {
        snprintf(err, len, "%lld is not 32-bit integer", v);
        return false;
    }
    *out = (int32_t)v;
    return true;
}

static void handle_conn(void *arg)
{
    goc_conn *conn = arg;
    char req[256], resp[300];
    for (;;) {
        goc_conn_set_read_deadline(conn, goc_nanotime() + 10 * GOC_SECOND);
        int err;
        read_msg(conn, req, sizeof req, &err);
        if (err <= 0) {
            if (err == 0)
                server_log("The connection is closed by another side.");
            else
                server_log("Read Error: %s", err_text(err));
            break;
        }
        server_log("Received request: %s.", req);
        int32_t v;
        if (!str_to_int32(req, &v, resp, sizeof resp)) {
            ssize_t n = write_msg(conn, resp);
            server_log("Sent error message (written %zd bytes): %s.", n, resp);
            continue;
        }
        double root = cbrt((double)v);
        snprintf(resp, sizeof resp, "The cube root of %d is %f.", v, root);
        ssize_t n = write_msg(conn, resp);
        if (n < 0)
            server_log("Write Error: %s", err_text((int)n));
        server_log("Sent response (written %zd bytes): %s.", n, resp);
    }
    goc_conn_close(conn);
    goc_chan_send_int(done, 1);
}

static void server_go(void *arg)
{
    (void)arg;
    int err = goc_listen(&listener, SERVER_NETWORK, server_address);
    if (err < 0) {
        server_log("Listen Error: %s", err_text(err));
        goc_chan_close(ready);
        return;
    }
    goc_listener_addr(listener, bound_address, sizeof bound_address);
    server_log("Got listener for the server. (local address: %s)",
               bound_address);
    goc_chan_close(ready);
    for (;;) {
        goc_conn *conn;
        err = goc_accept(listener, &conn); /* parks until a client comes */
        if (err < 0) {
            if (err == -ECANCELED)
                break; /* main closed the listener */
            server_log("Accept Error: %s", err_text(err));
            continue;
        }
        char remote[GOC_ADDRSTRLEN];
        goc_conn_remote_addr(conn, remote, sizeof remote);
        server_log("Established a connection with a client application. "
                   "(remote address: %s)",
                   remote);
        goc_go(handle_conn, conn);
    }
    goc_chan_send_int(done, 2);
}

static void client_go(void *arg)
{
    int id = (int)(intptr_t)arg;
    goc_conn *conn;
    int err =
        goc_dial_timeout(&conn, SERVER_NETWORK, bound_address, 2 * GOC_SECOND);
    if (err < 0) {
        client_log(id, "Dial Error: %s", err_text(err));
        goc_chan_send_int(done, 1);
        return;
    }
    char local[GOC_ADDRSTRLEN], remote[GOC_ADDRSTRLEN];
    goc_conn_local_addr(conn, local, sizeof local);
    goc_conn_remote_addr(conn, remote, sizeof remote);
    client_log(id,
               "Connected to server. (remote address: %s, local "
               "address: %s)",
               remote, local);
    goc_sleep(200 * GOC_MILLISECOND);
    int request_number = 5;
    goc_conn_set_deadline(conn, goc_nanotime() + 500 * GOC_MILLISECOND);
    for (int i = 0; i < request_number; i++) {
        int32_t req = (int32_t)(rand() & 0x7fffffff); /* rand.Int31() */
        char text[16];
        snprintf(text, sizeof text, "%d", req);
        ssize_t n = write_msg(conn, text);
        if (n < 0) {
            client_log(id, "Write Error: %s", err_text((int)n));
            continue;
        }
        client_log(id, "Sent request (written %zd bytes): %d.", n, req);
    }
    for (int j = 0; j < request_number; j++) {
        char resp[300];
        read_msg(conn, resp, sizeof resp, &err);
        if (err <= 0) {
            if (err == 0)
                client_log(id, "The connection is closed by another side.");
            else
                client_log(id, "Read Error: %s", err_text(err));
            break;
        }
        client_log(id, "Received response: %s.", resp);
    }
    goc_conn_close(conn);
    goc_chan_send_int(done, 1);
}

static int run(void *arg)
{
    (void)arg;
    int v;
    done = goc_chan_make(sizeof(int), 4);
    ready = goc_chan_make(0, 0);
    goc_go(server_go, NULL);
    goc_sleep(500 * GOC_MILLISECOND);
    goc_chan_recv(ready, NULL); /* closed once the listener is there */
    if (!listener)
        return 1;
    goc_go(client_go, (void *)(intptr_t)1);
    /* wg.Wait(): the client and its connection's handler. */
    goc_chan_recv_int(done, &v);
    goc_chan_recv_int(done, &v);
    goc_listener_close(listener);
    while (goc_chan_recv_int(done, &v) && v != 2)
        ; /* the server goroutine has ended */
    goc_chan_free(done);
    goc_chan_free(ready);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        server_address = argv[1];
    srand((unsigned)time(NULL));
    return goc_main(run, NULL);
}
