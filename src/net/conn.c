/*
 * conn.c - I/O on connections and packet sockets (Go's netFD Read, Write,
 * ReadFrom, WriteTo over internal/poll.FD), deadlines, addresses, close,
 * and goc_wait_fd.
 *
 * Each call: take the direction (goc__pollfd_lock: a reference plus
 * exclusive use of that direction), check the deadline and closed state
 * (goc__pollfd_prepare: a past deadline fails before any syscall), then
 * try the syscall and park on the poller only on EAGAIN. Writes go through
 * send(MSG_NOSIGNAL): a vanished peer yields EPIPE, never SIGPIPE.
 *
 * One step beyond Go: when a TCP read has emptied the socket, the next
 * read parks at once unless the poller has seen an edge since
 * (goc__pollfd_prepare_drained), instead of paying for a read(2) that can
 * only say EAGAIN: one syscall in five to eight per request/response. The
 * kernel says how much a read left when TCP_INQ is on (Linux >= 4.18;
 * reads are then recvmsg with a TCP_CM_INQ control message, which also
 * counts a pending end of file as 1). Without it, a read that returned
 * fewer bytes than asked is taken as emptying the socket, except once the
 * socket reported a hang-up, an error or urgent data (reads stop short of
 * those; pollfd.c keeps that flag). Never for unix sockets (their reads
 * also stop short at credentials and passed descriptors).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/net_internal.h"
#include "netpoll/uring_io.h"
#include "runtime/runtime_internal.h"

/* The socket calls are made with syscall(2) (outside ThreadSanitizer,
 * which models descriptors through libc's wrappers): the wrappers are
 * cancellation points, which switch asynchronous cancellation on and
 * off around each call (some 60 instructions, a twentieth of a lone
 * connection's message), and no goroutine's thread is ever cancelled. */
#ifndef GOC_TSAN
#include <sys/syscall.h>
#define sys_recvmsg(fd, m, fl) syscall(SYS_recvmsg, fd, m, fl)
#define sys_send(fd, b, n, fl) syscall(SYS_sendto, fd, b, n, fl, NULL, 0)
#else
#define sys_recvmsg recvmsg
#define sys_send send
#endif

/* recvmsg asking how much is left (*inq, -1 if not told). */
static ssize_t read_inq(int fd, void *buf, size_t n, int *inq)
{
    struct iovec iov = {.iov_base = buf, .iov_len = n};
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctl.b,
                       .msg_controllen = sizeof ctl.b};
    ssize_t r = sys_recvmsg(fd, &m, 0);
    *inq = -1;
    if (r >= 0)
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
            if (h->cmsg_level == IPPROTO_TCP && h->cmsg_type == TCP_CM_INQ)
                memcpy(inq, CMSG_DATA(h), sizeof *inq);
    return r;
}

ssize_t goc_conn_read(goc_conn *c, void *buf, size_t n)
{
    goc__require_g("goc_conn_read");
    goc__pollfd *pd = c->pd;
    int err = goc__pollfd_lock(pd, GOC__POLL_READ);
    if (err)
        return err;
    ssize_t r = 0;
    if (n == 0) /* else read's 0 would look like end of file */
        goto out;
    if (c->uio) {
        bool by_ring = !goc__uio_read_by_readiness();
        if (!by_ring && c->rcv && goc__uio_rcv_busy(c->rcv)) {
            /* What the multishot recv queued comes first, and it stops
             * (the read below tries the syscall: no drained shortcut). */
            c->rdrained = false;
            if ((r = goc__pollfd_prepare(pd, GOC__POLL_READ)) < 0 ||
                goc__uio_rcv_stop(c->rcv, buf, n, &r))
                goto out;
        }
        if (by_ring || !goc__pollfd_unquiet(pd)) {
            /* Completion I/O: the multishot recv's queue, or one recv
             * request, parked on its completion. What a later read may
             * find left is not known after it. */
            c->rdrained = false;
            if ((r = goc__pollfd_prepare(pd, GOC__POLL_READ)) == 0 &&
                (!c->rcv || !goc__uio_recv(c->rcv, buf, n, &r)))
                r = goc__uio_xfer(pd, false, buf, n, 0);
            goto out;
        }
    }
    /* Else (few goroutines wait on I/O, nothing to batch with: a
     * completion-I/O read too) the readiness path, readiness reports on. */
    if (c->rdrained) {
        /* The last read emptied the socket: unless an edge came since,
         * nothing is there, and the syscall would only say EAGAIN. */
        c->rdrained = false;
        if ((r = goc__pollfd_prepare_drained(pd, GOC__POLL_READ)) < 0)
            goto out;
        if (r == 1 && (r = goc__pollfd_wait(pd, GOC__POLL_READ)) < 0)
            goto out;
    } else if ((r = goc__pollfd_prepare(pd, GOC__POLL_READ)) < 0) {
        goto out;
    }
    int fd = goc__pollfd_fd(pd);
    for (;;) {
        int inq = -1;
        r = c->inq ? read_inq(fd, buf, n, &inq) : read(fd, buf, n);
        if (goc_likely(r >= 0)) {
            if (inq >= 0)
                c->rdrained = r > 0 && inq == 0;
            else /* a unix stream read also stops short at credentials */
                c->rdrained = r > 0 && (size_t)r < n &&
                              c->type == SOCK_STREAM && c->family != AF_UNIX;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            r = -errno;
            break;
        }
        if ((r = goc__pollfd_wait(pd, GOC__POLL_READ)) < 0)
            break;
    }
out:
    goc__pollfd_unlock(pd, GOC__POLL_READ);
    return r;
}

ssize_t goc_conn_write(goc_conn *c, const void *buf, size_t n)
{
    goc__require_g("goc_conn_write");
    goc__pollfd *pd = c->pd;
    int err = goc__pollfd_lock(pd, GOC__POLL_WRITE);
    if (err)
        return err;
    ssize_t r;
    size_t done = 0;
    if ((r = goc__pollfd_prepare(pd, GOC__POLL_WRITE)) < 0)
        goto out;
    if (c->uio) {
        /* Completion I/O: send requests until all n bytes are gone. */
        while (done < n) {
            r = goc__uio_xfer(pd, true, (char *)buf + done, n - done,
                              MSG_NOSIGNAL);
            if (r < 0)
                goto out;
            done += (size_t)r;
        }
        r = (ssize_t)done;
        goto out;
    }
    int fd = goc__pollfd_fd(pd);
    bool stream = c->type == SOCK_STREAM;
    for (;;) {
        if (stream && done == n)
            break;
        r = sys_send(fd, (const char *)buf + done, n - done, MSG_NOSIGNAL);
        if (goc_likely(r >= 0)) {
            done += (size_t)r;
            if (!stream)
                break; /* one datagram, sent whole */
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            r = -errno;
            goto out;
        }
        if ((r = goc__pollfd_wait(pd, GOC__POLL_WRITE)) < 0)
            goto out;
    }
    r = (ssize_t)done;
out:
    goc__pollfd_unlock(pd, GOC__POLL_WRITE);
    return r;
}

ssize_t goc_conn_read_from(goc_conn *c, void *buf, size_t n, char *from,
                           size_t fromlen)
{
    goc__require_g("goc_conn_read_from");
    goc__pollfd *pd = c->pd;
    int err = goc__pollfd_lock(pd, GOC__POLL_READ);
    if (err)
        return err;
    goc__netaddr a;
    ssize_t r;
    c->rdrained = false; /* what is left is not known after this */
    if (c->uio)
        goc__pollfd_loud(pd); /* waits for edges from now on */
    if ((r = goc__pollfd_prepare(pd, GOC__POLL_READ)) < 0)
        goto out;
    int fd = goc__pollfd_fd(pd);
    for (;;) {
        a.len = 0; /* a stream's peer (below) */
        if (c->rcv && goc__uio_rcv_busy(c->rcv) &&
            goc__uio_rcv_stop(c->rcv, buf, n, &r)) {
            /* What the multishot recv queued comes first. */
            if (r < 0)
                goto out;
            break;
        }
        a.len = sizeof a.ss;
        r = recvfrom(fd, buf, n, 0, (struct sockaddr *)&a.ss, &a.len);
        if (r >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            r = -errno;
            goto out;
        }
        if ((r = goc__pollfd_wait(pd, GOC__POLL_READ)) < 0)
            goto out;
    }
    if (from && fromlen) {
        if (a.len < sizeof(sa_family_t) || a.ss.ss_family != c->family) {
            /* A stream socket names no sender: its peer sent it. */
            a.len = sizeof a.ss;
            if (getpeername(fd, (struct sockaddr *)&a.ss, &a.len) != 0) {
                a.ss.ss_family = (sa_family_t)c->family;
                a.len = sizeof(sa_family_t);
            }
        }
        if (a.ss.ss_family == AF_UNIX || a.len > sizeof(sa_family_t))
            (void)goc__net_format((struct sockaddr *)&a.ss, a.len, from,
                                  fromlen);
        else
            from[0] = '\0';
    }
out:
    goc__pollfd_unlock(pd, GOC__POLL_READ);
    return r;
}

ssize_t goc_conn_write_to(goc_conn *c, const void *buf, size_t n,
                          const char *to)
{
    goc__require_g("goc_conn_write_to");
    if (c->connected)
        return -EISCONN;
    goc__netinfo ni = {.family = c->family == AF_INET6 ? AF_UNSPEC : c->family,
                       .type = c->type};
    goc__netaddr a;
    int err = goc__net_resolve(&ni, to, false, &a, 1);
    if (err < 0)
        return err;
    if (c->family != AF_UNIX && (err = goc__net_addr_to_family(&a, c->family)))
        return err;
    goc__pollfd *pd = c->pd;
    if ((err = goc__pollfd_lock(pd, GOC__POLL_WRITE)))
        return err;
    ssize_t r;
    if (c->uio)
        goc__pollfd_loud(pd); /* waits for edges from now on */
    if ((r = goc__pollfd_prepare(pd, GOC__POLL_WRITE)) < 0)
        goto out;
    int fd = goc__pollfd_fd(pd);
    for (;;) {
        r = sendto(fd, buf, n, MSG_NOSIGNAL, (struct sockaddr *)&a.ss, a.len);
        if (r >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            r = -errno;
            goto out;
        }
        if ((r = goc__pollfd_wait(pd, GOC__POLL_WRITE)) < 0)
            goto out;
    }
out:
    goc__pollfd_unlock(pd, GOC__POLL_WRITE);
    return r;
}

int goc_conn_set_deadline(goc_conn *c, int64_t t)
{
    return goc__pollfd_set_deadline(c->pd, GOC__POLL_READ | GOC__POLL_WRITE, t);
}

int goc_conn_set_read_deadline(goc_conn *c, int64_t t)
{
    return goc__pollfd_set_deadline(c->pd, GOC__POLL_READ, t);
}

int goc_conn_set_write_deadline(goc_conn *c, int64_t t)
{
    return goc__pollfd_set_deadline(c->pd, GOC__POLL_WRITE, t);
}

static int conn_addr(goc_conn *c, bool peer, char *buf, size_t len)
{
    goc__netaddr a;
    int err = goc__pollfd_incref(c->pd);
    if (err)
        return err;
    int fd = goc__pollfd_fd(c->pd);
    a.len = sizeof a.ss;
    int r = peer ? getpeername(fd, (struct sockaddr *)&a.ss, &a.len)
                 : getsockname(fd, (struct sockaddr *)&a.ss, &a.len);
    if (r != 0)
        err = -errno;
    goc__pollfd_decref(c->pd);
    if (err)
        return err;
    err = goc__net_format((struct sockaddr *)&a.ss, a.len, buf, len);
    return err < 0 ? err : 0;
}

int goc_conn_local_addr(goc_conn *c, char *buf, size_t len)
{
    return conn_addr(c, false, buf, len);
}

int goc_conn_remote_addr(goc_conn *c, char *buf, size_t len)
{
    return conn_addr(c, true, buf, len);
}

static void conn_destroy(goc__net_zombie *z)
{
    goc_conn *c = (goc_conn *)((char *)z - offsetof(goc_conn, z));
    goc__uio_rcv_free(c->rcv); /* first: its io thread's last wake uses pd */
    goc__pollfd_free(c->pd);
    free(c);
}

int goc_conn_close(goc_conn *c)
{
    goc__require_g("goc_conn_close");
    if (atomic_exchange(&c->closed, true))
        return -ECANCELED;
    if (c->rcv) /* its multishot recv is cancelled with it */
        goc__uio_rcv_close(c->rcv);
    int err = goc__pollfd_close(c->pd);
    goc__net_bury(&c->z, conn_destroy);
    return err;
}

int goc_conn_fd(goc_conn *c)
{
    return goc__pollfd_fd(c->pd);
}

int goc_wait_fd(int fd, int events, int64_t deadline)
{
    return goc__pollfd_wait_fd(fd, events, deadline);
}
