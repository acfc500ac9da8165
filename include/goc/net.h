/*
 * goc/net.h - sockets that look blocking to a goroutine and never block
 * its thread (Go's package net, and a door onto the poller for any other
 * descriptor).
 *
 * Every socket is non-blocking and close-on-exec underneath, registered
 * once with the runtime's epoll poller (edge-triggered). A call that would
 * block (EAGAIN) parks the calling goroutine until the poller reports the
 * descriptor ready, its deadline passes, or it is closed; EAGAIN is never
 * returned. As in Go:
 *  - a read returns what is there (a partial read), 0 at end of file;
 *  - a write sends everything (partial writes are continued inside) or
 *    fails;
 *  - deadlines are absolute goc_nanotime() values, per direction; a
 *    deadline in the past fails the call at once with -ETIMEDOUT even when
 *    data is ready; setting 0 clears it, and the call blocks again;
 *    INT64_MAX never expires;
 *  - writing to a peer that has gone returns -EPIPE or -ECONNRESET:
 *    sockets are written with MSG_NOSIGNAL, and goc_main ignores SIGPIPE.
 *
 * Networks: "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix" (stream),
 * "unixpacket" (SOCK_SEQPACKET) and, for goc_listen_packet and goc_dial,
 * "unixgram". Addresses: "host:port", "[ipv6]:port", "[fe80::1%eth0]:port",
 * ":port" (every local address when listening, this host when dialing),
 * port 0 (any free port, when listening), a port may be a service name
 * ("http"); for unix networks a path, or "@name" for Linux's abstract
 * namespace. Numeric addresses are parsed directly; names are resolved with
 * getaddrinfo inside goc_syscall_begin/end, so that other goroutines keep
 * running meanwhile. Addresses are written back the same way ("127.0.0.1:80",
 * "[::1]:80", an IPv4-mapped IPv6 address as plain IPv4, a path, "@name");
 * GOC_ADDRSTRLEN bytes always suffice.
 *
 * Errors are negative errno codes (goc_strerror names them):
 *   -ECANCELED  the connection or listener was closed while the call was
 *               in progress or before it started: Go's "use of closed
 *               network connection"; never end of file, never a timeout.
 *               The one closed error of goc: files and pipes (proc.h)
 *               return it too
 *   -ETIMEDOUT  a deadline or a dial timeout passed
 *   -EINVAL     an unknown network, a malformed address, an operation the
 *               network does not support
 *   -EAFNOSUPPORT  an address of the wrong family for the network
 *               ("tcp4" with an IPv6 address)
 *   -ENXIO      a name that does not resolve (getaddrinfo's EAI_NONAME)
 *   -ENOBUFS    an address does not fit the caller's buffer
 *   and the system's own (-ECONNREFUSED, -EADDRINUSE, -ECONNRESET, -EPIPE,
 *   -EMFILE, -ENOMEM...).
 *
 * Threads and goroutines: functions marked "may park" are for goroutines
 * only (calling them elsewhere is a fatal error). Any number of goroutines
 * may use one connection at once: reads are served one at a time, as are
 * writes, and a read and a write proceed in parallel; deadlines, addresses
 * and goc_conn_fd may be used at any time.
 *
 * Closing: goc_conn_close (likewise goc_listener_close) wakes every call
 * blocked on the connection with -ECANCELED, waits until they have
 * returned, and closes the descriptor: when it returns, the number is free
 * and no goc call will touch it again. As in Go, a call that races with
 * the close (a read started by another goroutine just after, an accept
 * loop between two accepts, a second close) fails with -ECANCELED: the
 * object stays valid for that for 2 seconds after the close, and is freed
 * later. Starting a call on it later than that is a use-after-free.
 */
#ifndef GOC_NET_H
#define GOC_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "goc/extern.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct goc_listener goc_listener;
typedef struct goc_conn goc_conn;

/* Room for any address goc writes: "[v6%zone]:port", a 108-byte path. */
#define GOC_ADDRSTRLEN 128

/* goc_wait_fd's events. */
#define GOC_READ 1
#define GOC_WRITE 2

/* ---- listening ------------------------------------------------------ */

/*
 * net.Listen: a stream listener ("tcp*", "unix", "unixpacket") on address.
 * TCP listeners set SO_REUSEADDR; "tcp" with an empty host listens on every
 * IPv4 and IPv6 address (one dual-stack socket); a host name listens on its
 * first IPv4 address (else its first address). A "unix" listener removes
 * its socket file when closed. The backlog is the system's maximum
 * (net.core.somaxconn). Returns 0 and *out, or a negative code
 * (-EADDRINUSE...). May park (name resolution only).
 */
GOC_EXTERN int goc_listen(goc_listener **out, const char *network,
                          const char *address);

/*
 * Listener.Accept: wait for the next connection. Returns 0 and *out (a
 * connection with TCP_NODELAY set, as Go), -ECANCELED once the listener is
 * closed, or another negative code. Out of descriptors (EMFILE, ENFILE),
 * or of memory for the socket (ENOBUFS, ENOMEM), it neither spins nor
 * fails: it backs off (5 ms, doubling to 100 ms) and retries, as Go's
 * net/http server does, leaving the pending connections queued until a
 * descriptor is free; closing the listener ends the wait. May park.
 * Concurrent accepts on one listener are served one at a time.
 */
GOC_EXTERN int goc_accept(goc_listener *l, goc_conn **out);

/* Listener.Addr: the local address, e.g. "127.0.0.1:40123" after ":0",
 * written into buf (len bytes). Returns 0, or -ENOBUFS when buf cannot
 * hold it and its NUL (buf then holds a cut string). Any goroutine. */
GOC_EXTERN int goc_listener_addr(goc_listener *l, char *buf, size_t len);

/* Listener.Close: wake a blocked goc_accept (-ECANCELED), close (a "unix"
 * listener removes its socket file), and free l after the grace period
 * (see the file comment). Returns 0, close's error, or -ECANCELED when l
 * was closed already. May park (until calls in progress return). */
GOC_EXTERN int goc_listener_close(goc_listener *l);

/* The listener's descriptor (for setsockopt...): still goc's, do not
 * close it. */
GOC_EXTERN int goc_listener_fd(goc_listener *l);

/* ---- dialing -------------------------------------------------------- */

/*
 * net.Dial: connect to address ("tcp*", "udp*", "unix", "unixpacket",
 * "unixgram"). A name is resolved first and each of its addresses tried in
 * turn; the first error is returned if none answers. For "udp*" and
 * "unixgram" nothing goes on the wire: the socket is only connected
 * (reads then accept datagrams from that address only). TCP connections
 * have TCP_NODELAY set. Returns 0 and *out, or a negative code
 * (-ECONNREFUSED...). May park.
 */
GOC_EXTERN int goc_dial(goc_conn **out, const char *network,
                        const char *address);

/* net.DialTimeout: the same, failing with -ETIMEDOUT when timeout ns have
 * passed (timeout <= 0: none). With several addresses each gets a fair
 * share of what is left, at least 2 s when the timeout allows (as Go).
 * Name resolution itself is not interrupted. May park. */
GOC_EXTERN int goc_dial_timeout(goc_conn **out, const char *network,
                                const char *address, int64_t timeout);

/*
 * net.ListenPacket: a datagram socket bound to address ("udp*",
 * "unixgram"), for goc_conn_read_from and goc_conn_write_to. goc_conn_read
 * works too (a datagram from anyone); goc_conn_write has no destination
 * and fails with -EDESTADDRREQ. UDP sockets may broadcast. As in Go, the
 * socket file of a "unixgram" socket stays after close (only listeners
 * remove theirs). Returns 0 and *out, or a negative code. May park (name
 * resolution only).
 */
GOC_EXTERN int goc_listen_packet(goc_conn **out, const char *network,
                                 const char *address);

/* ---- connections ---------------------------------------------------- */

/* Conn.Read: up to n bytes as soon as any are there. Returns the count,
 * 0 at end of file (stream) or for an empty datagram, or a negative code:
 * -ETIMEDOUT (read deadline), -ECANCELED (closed), -ECONNRESET... A read
 * of n == 0 returns 0 at once. A datagram longer than n is cut to n. May
 * park. */
GOC_EXTERN ssize_t goc_conn_read(goc_conn *c, void *buf, size_t n);

/* Conn.Write: all n bytes (stream: partial writes are continued; datagram:
 * one datagram). Returns n, or a negative code (-ETIMEDOUT: the write
 * deadline passed, with part of the data possibly sent; -EPIPE or
 * -ECONNRESET: the peer has gone; -ECANCELED; -EMSGSIZE...). May park. */
GOC_EXTERN ssize_t goc_conn_write(goc_conn *c, const void *buf, size_t n);

/* PacketConn.ReadFrom: one datagram, cut to n bytes, and its sender's
 * address written into from (fromlen bytes, GOC_ADDRSTRLEN suffice; cut
 * if shorter; from may be NULL; "" for an unnamed unix sender). Returns
 * the count or a negative code as goc_conn_read. On a stream connection it
 * reads as goc_conn_read and writes the peer's address. May park. */
GOC_EXTERN ssize_t goc_conn_read_from(goc_conn *c, void *buf, size_t n,
                                      char *from, size_t fromlen);

/* PacketConn.WriteTo: one datagram to address `to` (numeric, a name, or a
 * unix path). Returns n or a negative code; -EISCONN on a connected
 * socket, as Go. May park (name resolution too). */
GOC_EXTERN ssize_t goc_conn_write_to(goc_conn *c, const void *buf, size_t n,
                                     const char *to);

/* SetDeadline (both directions), SetReadDeadline, SetWriteDeadline: t is
 * an absolute goc_nanotime(), 0 clears, a past t makes blocked and future
 * calls fail with -ETIMEDOUT until it is changed. Returns 0, or
 * -ECANCELED after close began. Any goroutine. */
GOC_EXTERN int goc_conn_set_deadline(goc_conn *c, int64_t t);
GOC_EXTERN int goc_conn_set_read_deadline(goc_conn *c, int64_t t);
GOC_EXTERN int goc_conn_set_write_deadline(goc_conn *c, int64_t t);

/* LocalAddr / RemoteAddr into buf (len bytes): 0, -ENOBUFS if it does not
 * fit (buf then holds a cut string), -ENOTCONN for the remote address of
 * an unconnected socket, -ECANCELED after close began. Any goroutine. */
GOC_EXTERN int goc_conn_local_addr(goc_conn *c, char *buf, size_t len);
GOC_EXTERN int goc_conn_remote_addr(goc_conn *c, char *buf, size_t len);

/* Conn.Close: see the file comment. Returns 0, close's error, or
 * -ECANCELED when c was closed already. May park (until calls in progress
 * have returned). */
GOC_EXTERN int goc_conn_close(goc_conn *c);

/* The connection's descriptor, for setsockopt, getsockopt, shutdown and
 * the like. It remains goc's: do not close it, and do not read from it or
 * write to it yourself (goc keeps track of what it has drained). After
 * close it is a stale number. Any goroutine. */
GOC_EXTERN int goc_conn_fd(goc_conn *c);

/* ---- any descriptor ------------------------------------------------- */

/*
 * Park the calling goroutine until fd is ready for events (GOC_READ,
 * GOC_WRITE, or both: either one suffices), the deadline passes (an
 * absolute goc_nanotime(); 0 or INT64_MAX: none) or fd is a goc
 * connection's descriptor and the connection is closed. Readiness is
 * level-triggered from the caller's point of view: a descriptor that is
 * ready already returns at once; a hang-up or an error counts as ready
 * for both. fd stays the caller's (it need not be non-blocking, but then
 * only a non-blocking syscall is safe after the wait). Any number of
 * goroutines may wait on one descriptor. Returns 0 (ready: try the
 * operation; another goroutine may have consumed the readiness first),
 * -ETIMEDOUT (also at once for a past deadline), -ECANCELED, -EBADF (fd is
 * not open, or was closed behind the wait and its number reused), -EINVAL
 * (bad events), -EEXIST (fd belongs to another goc module's poller, e.g.
 * a goc_file: use that object's calls). A regular file (which epoll
 * refuses) is always ready. Closing fd with close(2) while goroutines wait
 * on it does not wake them (they wait for their deadline): as with epoll
 * itself, stop waiting first. May park.
 */
GOC_EXTERN int goc_wait_fd(int fd, int events, int64_t deadline);

#ifdef __cplusplus
}
#endif
#endif
