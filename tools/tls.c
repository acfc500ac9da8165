/*
 * tls.c - https for goc-loadgen: a goc_http_transport (goc/loadgen.h) over
 * OpenSSL. Built only where OpenSSL's headers are (CMake finds them);
 * goc itself stays libc + pthreads.
 *
 * OpenSSL reads and writes through a BIO of ours whose read and write are
 * goc_conn_read and goc_conn_write: they park the calling goroutine, never
 * the thread, so SSL_connect, SSL_read and SSL_write look blocking to
 * OpenSSL and cost no thread. The connection's deadline (set by the HTTP
 * caller) bounds each of them; the goc error that ended one is kept and
 * returned instead of OpenSSL's.
 *
 * SNI is the URL's host (a name, not an address). Verification: the
 * system's CAs and the host name (or IP address), unless --insecure.
 * Session reuse: each HTTP connection slot keeps the last session the
 * server gave it (the transport's cache) and offers it on its next
 * handshake, so a worker's reconnects resume instead of a full handshake.
 *
 * An SSL object is not safe for concurrent use: with --pipeline, one
 * goroutine writes a request while another reads; a mutex per connection
 * serialises them (pipelined TLS then waits on the head's reads).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "goc.h"

typedef struct tls_conn {
    SSL *ssl;
    goc_conn *conn;
    int err; /* the goc error that ended the last BIO call, or 0 */
    goc_mutex mu;
    void **cache;
} tls_conn;

static SSL_CTX *ctx;
static BIO_METHOD *bio_meth;
static int ex_index;
static bool insecure;
static _Atomic long handshakes, resumed;

static int bio_write(BIO *b, const char *buf, int n)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t w = goc_conn_write(t->conn, buf, (size_t)n);
    if (w < 0) {
        t->err = (int)w;
        return -1;
    }
    return (int)w;
}

static int bio_read(BIO *b, char *buf, int n)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = goc_conn_read(t->conn, buf, (size_t)n);
    if (r < 0) {
        t->err = (int)r;
        return -1;
    }
    return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* A new session from the server: keep it in the slot's cache. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    tls_conn *t = SSL_get_ex_data(ssl, ex_index);
    if (!t || !t->cache)
        return 0;
    if (*t->cache)
        SSL_SESSION_free(*t->cache);
    *t->cache = sess;
    return 1; /* we keep the reference */
}

static int tls_open(void *user, goc_conn *conn, const char *server_name,
                    void **cache, void **state)
{
    (void)user;
    tls_conn *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->conn = conn;
    t->cache = cache;
    t->ssl = SSL_new(ctx);
    BIO *bio = BIO_new(bio_meth);
    if (!t->ssl || !bio) {
        BIO_free(bio);
        SSL_free(t->ssl);
        free(t);
        return -ENOMEM;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_ex_data(t->ssl, ex_index, t);
    char host[256];
    snprintf(host, sizeof host, "%s", server_name);
    if (host[0] == '[') { /* [v6] */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    unsigned char ip[16];
    bool is_ip =
        inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (!is_ip)
        SSL_set_tlsext_host_name(t->ssl, host);
    if (!insecure) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
        if (is_ip)
            X509_VERIFY_PARAM_set1_ip_asc(vp, host);
        else
            X509_VERIFY_PARAM_set1_host(vp, host, 0);
    }
    if (*cache)
        SSL_set_session(t->ssl, *cache);
    ERR_clear_error();
    int rc = SSL_connect(t->ssl);
    if (rc != 1) {
        int err = t->err                                       ? t->err
                  : SSL_get_verify_result(t->ssl) != X509_V_OK ? -EKEYREJECTED
                                                               : -EPROTO;
        ERR_clear_error();
        SSL_free(t->ssl);
        free(t);
        return err;
    }
    atomic_fetch_add(&handshakes, 1);
    if (SSL_session_reused(t->ssl))
        atomic_fetch_add(&resumed, 1);
    *state = t;
    return 0;
}

/* The error of a failed SSL_read or SSL_write: 0 for a clean end of
 * stream, else a negative code. */
static int ssl_err(tls_conn *t, int r)
{
    int e = SSL_get_error(t->ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (t->err)
        return t->err;
    if (e == SSL_ERROR_SYSCALL)
        return 0; /* the peer closed without close_notify */
    return -EPROTO;
}

static ssize_t tls_read(void *state, void *buf, size_t n)
{
    tls_conn *t = state;
    goc_mutex_lock(&t->mu);
    t->err = 0;
    int r = SSL_read(t->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    ssize_t out = r > 0 ? r : ssl_err(t, r);
    goc_mutex_unlock(&t->mu);
    return out;
}

static ssize_t tls_write(void *state, const void *buf, size_t n)
{
    tls_conn *t = state;
    goc_mutex_lock(&t->mu);
    t->err = 0;
    int r = SSL_write(t->ssl, buf, (int)n);
    ssize_t out = r > 0 ? r : ssl_err(t, r);
    if (out == 0)
        out = -EPIPE;
    goc_mutex_unlock(&t->mu);
    return out;
}

static void tls_close(void *user, void *state)
{
    (void)user;
    tls_conn *t = state;
    /* Marked as shut down (no close_notify sent: the connection is closed
     * anyway): SSL_free would otherwise make the session not resumable. */
    SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(t->ssl);
    free(t);
}

static void tls_cache_free(void *user, void *cache)
{
    (void)user;
    SSL_SESSION_free(cache);
}

goc_http_transport *cli_tls_transport(bool skip_verify);
void cli_tls_counts(long *hs, long *res);

goc_http_transport *cli_tls_transport(bool skip_verify)
{
    static goc_http_transport tr = {.open = tls_open,
                                    .read = tls_read,
                                    .write = tls_write,
                                    .close = tls_close,
                                    .cache_free = tls_cache_free};
    if (ctx)
        return &tr;
    insecure = skip_verify;
    ctx = SSL_CTX_new(TLS_client_method());
    bio_meth =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "goc_conn");
    if (!ctx || !bio_meth)
        return NULL;
    BIO_meth_set_write(bio_meth, bio_write);
    BIO_meth_set_read(bio_meth, bio_read);
    BIO_meth_set_ctrl(bio_meth, bio_ctrl);
    BIO_meth_set_create(bio_meth, bio_create);
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    if (skip_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_default_verify_paths(ctx);
    }
    return &tr;
}

void cli_tls_counts(long *hs, long *res)
{
    *hs = atomic_load(&handshakes);
    *res = atomic_load(&resumed);
}
