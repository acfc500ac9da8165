/*
 * socket.c - making sockets: listen, accept, dial, listen_packet (Go's
 * net/sock_posix.go, fd_unix.go and tcpsock_posix.go, reduced).
 *
 * Every descriptor is created SOCK_NONBLOCK|SOCK_CLOEXEC (accept4 for
 * accepted ones) and handed to a goc__pollfd at once, which registers it
 * with the poller and owns it from then on.
 *
 * Connect follows Go: connect(); on EINPROGRESS register, wait for the
 * write edge under the dial deadline (the pollfd's write deadline), then
 * read SO_ERROR. A TCP connection that the kernel connected to itself
 * (possible when dialing a free port of the ephemeral range on this host)
 * is closed and retried, as Go's selfConnect does.
 *
 * Accept on EMFILE/ENFILE: no spin. The accepting goroutine sleeps 5 ms,
 * doubling to 100 ms (Go's net/http Server.Serve back-off, capped lower
 * so that service resumes sooner), on the listener's pollfd so that
 * closing the listener wakes it; pending connections stay in the
 * kernel's queue meanwhile.
 *
 * With completion I/O on (GOC_POLLER=io_uring_completion), a listener's
 * connections come from one multishot IORING_OP_ACCEPT request on the io
 * thread's ring (uring_io.h: goc__uio_accept), with the same errors,
 * deadlines and back-off; where the kernel refuses it, accept4 as above.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "netpoll/uring_io.h"
#include "runtime/runtime_internal.h"

#define ACCEPT_BACKOFF_MIN (5 * GOC_MILLISECOND)
#define ACCEPT_BACKOFF_MAX (100 * GOC_MILLISECOND)
#define DIAL_SANE_MINIMUM (2 * GOC_SECOND)

static int listen_backlog(void)
{
    static _Atomic int cached;
    int b = atomic_load_explicit(&cached, memory_order_relaxed);
    if (b > 0)
        return b;
    b = SOMAXCONN;
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "re");
    if (f) {
        int v;
        if (fscanf(f, "%d", &v) == 1 && v > 0)
            b = v > 65535 ? 65535 : v;
        fclose(f);
    }
    atomic_store_explicit(&cached, b, memory_order_relaxed);
    return b;
}

static void set_int_opt(int fd, int level, int name, int v)
{
    (void)setsockopt(fd, level, name, &v, sizeof v);
}

/* A fresh non-blocking, close-on-exec socket with Go's default options.
 * fd or a negative code. */
static int new_socket(const goc__netinfo *ni, int family)
{
    int fd = socket(family, ni->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (family == AF_INET6)
        set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, ni->v6only);
    if (ni->type == SOCK_DGRAM && family != AF_UNIX)
        set_int_opt(fd, SOL_SOCKET, SO_BROADCAST, 1);
    return fd;
}

int goc__conn_new(int fd, int family, int type, bool connected, goc_conn **out)
{
    goc_conn *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    bool inq = false;
    if (type == SOCK_STREAM && family != AF_UNIX) {
        set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
        /* Linux >= 4.18: each read says how much it left (conn.c). */
        int one = 1;
        inq = !atomic_load_explicit(&goc__net_no_inq, memory_order_relaxed) &&
              setsockopt(fd, IPPROTO_TCP, TCP_INQ, &one, sizeof one) == 0;
    }
    int err = goc__pollfd_open(fd, &c->pd);
    if (err) {
        free(c);
        return err;
    }
    c->family = family;
    c->type = type;
    c->connected = connected;
    c->inq = inq;
    c->rdrained = false;
    c->uio = type == SOCK_STREAM && goc__uio_on();
    c->rcv = c->uio ? goc__uio_rcv_new(c->pd) : NULL;
    atomic_init(&c->closed, false);
    *out = c;
    return 0;
}

/* ---- listen --------------------------------------------------------- */

/* Socket bound to addr (for a listener or a packet socket). The IPv6
 * wildcard of "tcp"/"udp" falls back to IPv4's on a host without IPv6. */
static int bind_socket(const goc__netinfo *ni, goc__netaddr *addr)
{
    int fd = new_socket(ni, addr->ss.ss_family);
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&addr->ss;
    if (fd == -EAFNOSUPPORT && ni->family == AF_UNSPEC &&
        addr->ss.ss_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
        uint16_t port = sin6->sin6_port;
        struct sockaddr_in *sin = (struct sockaddr_in *)&addr->ss;
        memset(&addr->ss, 0, sizeof addr->ss);
        sin->sin_family = AF_INET;
        sin->sin_port = port;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        addr->len = sizeof *sin;
        fd = new_socket(ni, AF_INET);
    }
    if (fd < 0)
        return fd;
    if (ni->type != SOCK_DGRAM && addr->ss.ss_family != AF_UNIX)
        set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (bind(fd, (struct sockaddr *)&addr->ss, addr->len) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static char *unix_unlink_path(const goc__netaddr *addr)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&addr->ss;
    if (addr->ss.ss_family != AF_UNIX || sun->sun_path[0] == '\0')
        return NULL; /* abstract: nothing on disk */
    return strdup(sun->sun_path);
}

int goc_listen(goc_listener **out, const char *network, const char *address)
{
    goc__require_g("goc_listen");
    goc__netinfo ni;
    goc__netaddr addr;
    int err = goc__net_parse_network(network, &ni);
    if (err)
        return err;
    if (ni.type == SOCK_DGRAM)
        return -EINVAL; /* use goc_listen_packet */
    if ((err = goc__net_resolve(&ni, address, true, &addr, 1)) < 0)
        return err;
    int fd = bind_socket(&ni, &addr);
    if (fd < 0)
        return fd;
    goc_listener *l = calloc(1, sizeof *l);
    if (!l) {
        err = -ENOMEM;
        goto fail;
    }
    if (ni.family == AF_UNIX && !(l->unlink_path = unix_unlink_path(&addr)) &&
        ((struct sockaddr_un *)&addr.ss)->sun_path[0] != '\0') {
        err = -ENOMEM;
        goto fail;
    }
    if (listen(fd, listen_backlog()) != 0) {
        err = -errno;
        goto fail;
    }
    if ((err = goc__pollfd_open(fd, &l->pd)))
        goto fail;
    if (goc__uio_on())
        l->acc = goc__uio_acceptor_new(l->pd); /* NULL: accept4 */
    l->family = addr.ss.ss_family;
    l->type = ni.type;
    *out = l;
    return 0;
fail:
    if (ni.family == AF_UNIX &&
        ((struct sockaddr_un *)&addr.ss)->sun_path[0] != '\0')
        unlink(((struct sockaddr_un *)&addr.ss)->sun_path); /* bind made it */
    if (l)
        free(l->unlink_path);
    free(l);
    close(fd);
    return err;
}

int goc_accept(goc_listener *l, goc_conn **out)
{
    goc__require_g("goc_accept");
    goc__pollfd *pd = l->pd;
    int err = goc__pollfd_lock(pd, GOC__POLL_READ);
    if (err)
        return err;
    int64_t backoff = 0;
    if ((err = goc__pollfd_prepare(pd, GOC__POLL_READ)))
        goto out;
    /* (A listener from a goc_main with completion I/O, in one without:
     * accept4.) */
    bool multishot = l->acc != NULL && goc__uio_on();
    for (;;) {
        int fd;
        if (multishot) {
            /* Completion I/O: the io thread's multishot request. */
            int r = goc__uio_accept(l->acc, &fd);
            if (r == 1) {
                multishot = false; /* the kernel refused it */
                continue;
            }
            if (r < 0)
                fd = r;
        } else {
            fd = accept4(goc__pollfd_fd(pd), NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                fd = -errno;
        }
        if (fd >= 0) {
            if ((err = goc__conn_new(fd, l->family, l->type, true, out)))
                close(fd);
            break;
        }
        switch (-fd) {
        case EINTR:
        case ECONNABORTED: /* the client gave up before we took it */
            continue;
        case EAGAIN:
            if ((err = goc__pollfd_wait(pd, GOC__POLL_READ)))
                goto out;
            continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            /* Out of descriptors or memory: never spin (see above). */
            backoff = backoff ? backoff * 2 : ACCEPT_BACKOFF_MIN;
            if (backoff > ACCEPT_BACKOFF_MAX)
                backoff = ACCEPT_BACKOFF_MAX;
            if ((err = goc__pollfd_sleep(pd, goc_nanotime() + backoff)))
                goto out;
            continue;
        default:
            err = fd;
            goto out;
        }
    }
out:
    goc__pollfd_unlock(pd, GOC__POLL_READ);
    return err;
}

int goc_listener_addr(goc_listener *l, char *buf, size_t len)
{
    goc__netaddr a;
    int err = goc__pollfd_incref(l->pd);
    if (err)
        return err;
    a.len = sizeof a.ss;
    if (getsockname(goc__pollfd_fd(l->pd), (struct sockaddr *)&a.ss, &a.len) !=
        0)
        err = -errno;
    goc__pollfd_decref(l->pd);
    if (err)
        return err;
    err = goc__net_format((struct sockaddr *)&a.ss, a.len, buf, len);
    return err < 0 ? err : 0;
}

static void listener_destroy(goc__net_zombie *z)
{
    goc_listener *l = (goc_listener *)((char *)z - offsetof(goc_listener, z));
    goc__pollfd_free(l->pd);
    goc__uio_acceptor_free(l->acc);
    free(l->unlink_path);
    free(l);
}

int goc_listener_close(goc_listener *l)
{
    goc__require_g("goc_listener_close");
    if (atomic_exchange(&l->closed, true))
        return -ECANCELED;
    if (l->acc) /* the request ends first: then the socket closes */
        goc__uio_acceptor_close(l->acc);
    int err = goc__pollfd_close(l->pd);
    if (l->unlink_path)
        unlink(l->unlink_path);
    goc__net_bury(&l->z, listener_destroy);
    return err;
}

/* ---- the grace period of closed objects (net_internal.h) ------------ */

static struct {
    pthread_mutex_t lock;
    goc__net_zombie *head, *tail;
    long n;
} zombies = {.lock = PTHREAD_MUTEX_INITIALIZER};

_Atomic int64_t goc__net_close_grace = GOC__NET_CLOSE_GRACE_NS;
_Atomic bool goc__net_no_inq;

void goc__net_bury(goc__net_zombie *z, void (*destroy)(goc__net_zombie *))
{
    int64_t now = goc_nanotime();
    z->when = now;
    z->destroy = destroy;
    z->next = NULL;
    goc__net_zombie *due = NULL, **duep = &due;
    pthread_mutex_lock(&zombies.lock);
    if (zombies.tail)
        zombies.tail->next = z;
    else
        zombies.head = z;
    zombies.tail = z;
    zombies.n++;
    int64_t grace =
        atomic_load_explicit(&goc__net_close_grace, memory_order_relaxed);
    while (zombies.head != z && (now - zombies.head->when >= grace ||
                                 zombies.n > GOC__NET_ZOMBIES_MAX)) {
        goc__net_zombie *old = zombies.head;
        zombies.head = old->next;
        zombies.n--;
        old->next = NULL;
        *duep = old;
        duep = &old->next;
    }
    pthread_mutex_unlock(&zombies.lock);
    while (due) {
        goc__net_zombie *next = due->next;
        due->destroy(due);
        due = next;
    }
}

int goc_listener_fd(goc_listener *l)
{
    return goc__pollfd_fd(l->pd);
}

int goc_listen_packet(goc_conn **out, const char *network, const char *address)
{
    goc__require_g("goc_listen_packet");
    goc__netinfo ni;
    goc__netaddr addr;
    int err = goc__net_parse_network(network, &ni);
    if (err)
        return err;
    if (ni.type != SOCK_DGRAM)
        return -EINVAL; /* use goc_listen */
    if ((err = goc__net_resolve(&ni, address, true, &addr, 1)) < 0)
        return err;
    int fd = bind_socket(&ni, &addr);
    if (fd < 0)
        return fd;
    if ((err = goc__conn_new(fd, addr.ss.ss_family, ni.type, false, out)))
        close(fd);
    return err;
}

/* ---- dial ----------------------------------------------------------- */

static bool same_addr(const goc__netaddr *a, const goc__netaddr *b)
{
    if (a->ss.ss_family != b->ss.ss_family)
        return false;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->ss,
                                 *y = (const void *)&b->ss;
        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)&a->ss,
                                  *y = (const void *)&b->ss;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return false;
}

/* Wait for a connect in progress on c to complete, by the deadline. */
static int connect_wait(goc_conn *c, int64_t deadline)
{
    goc__pollfd *pd = c->pd;
    int err = goc__pollfd_lock(pd, GOC__POLL_WRITE);
    if (err)
        return err;
    if (deadline)
        goc__pollfd_set_deadline(pd, GOC__POLL_WRITE, deadline);
    for (;;) {
        if ((err = goc__pollfd_wait(pd, GOC__POLL_WRITE)))
            break;
        int so = 0;
        socklen_t sl = sizeof so;
        if (getsockopt(goc__pollfd_fd(pd), SOL_SOCKET, SO_ERROR, &so, &sl))
            so = errno;
        if (so == EINPROGRESS || so == EALREADY || so == EINTR)
            continue;
        err = so == 0 || so == EISCONN ? 0 : -so;
        break;
    }
    if (deadline && !err)
        goc__pollfd_set_deadline(pd, GOC__POLL_WRITE, 0);
    goc__pollfd_unlock(pd, GOC__POLL_WRITE);
    return err;
}

static int dial_one(const goc__netinfo *ni, const goc__netaddr *addr,
                    int64_t deadline, goc_conn **out)
{
    for (int attempt = 0;; attempt++) {
        int family = addr->ss.ss_family;
        int fd = new_socket(ni, family);
        if (fd < 0)
            return fd;
        int err = 0;
        bool pending = false;
        if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
            if (errno == EINPROGRESS || errno == EALREADY || errno == EINTR)
                pending = true;
            else if (errno != EISCONN)
                err = -errno;
        }
        goc_conn *c = NULL;
        if (!err)
            err = goc__conn_new(fd, family, ni->type, true, &c);
        if (err) {
            close(fd);
            return err;
        }
        if (pending && (err = connect_wait(c, deadline))) {
            goc_conn_close(c);
            return err;
        }
        if (ni->type == SOCK_STREAM && family != AF_UNIX && attempt < 2) {
            goc__netaddr local;
            local.len = sizeof local.ss;
            if (getsockname(fd, (struct sockaddr *)&local.ss, &local.len) ==
                    0 &&
                same_addr(&local, addr)) {
                goc_conn_close(c); /* connected to itself: try again */
                continue;
            }
        }
        *out = c;
        return 0;
    }
}

static int dial(goc_conn **out, const char *network, const char *address,
                int64_t deadline)
{
    goc__require_g("goc_dial");
    goc__netinfo ni;
    goc__netaddr addrs[GOC__NET_MAX_ADDRS];
    int err = goc__net_parse_network(network, &ni);
    if (err)
        return err;
    int n = goc__net_resolve(&ni, address, false, addrs, GOC__NET_MAX_ADDRS);
    if (n < 0)
        return n;
    int first = 0;
    for (int i = 0; i < n; i++) {
        int64_t d = deadline;
        if (deadline) {
            /* Go's partialDeadline: a fair share for each address. */
            int64_t now = goc_nanotime(), left = deadline - now;
            if (left <= 0)
                return first ? first : -ETIMEDOUT;
            int64_t share = left / (n - i);
            if (share < DIAL_SANE_MINIMUM)
                share = left < DIAL_SANE_MINIMUM ? left : DIAL_SANE_MINIMUM;
            d = now + share;
        }
        err = dial_one(&ni, &addrs[i], d, out);
        if (err == 0)
            return 0;
        if (!first)
            first = err;
    }
    return first;
}

int goc_dial(goc_conn **out, const char *network, const char *address)
{
    return dial(out, network, address, 0);
}

int goc_dial_timeout(goc_conn **out, const char *network, const char *address,
                     int64_t timeout)
{
    int64_t deadline = 0;
    if (timeout > 0) {
        int64_t now = goc_nanotime();
        deadline = timeout > INT64_MAX - now ? INT64_MAX : now + timeout;
    }
    return dial(out, network, address, deadline);
}
