/*
 * net_internal.h - what the files of src/net/ share: parsed network names,
 * resolved addresses, and the two socket objects. Private.
 *
 *   addr.c    networks, "host:port" parsing, resolution, formatting
 *   socket.c  socket creation, listen/accept, dial, listen_packet
 *   conn.c    I/O, deadlines, addresses, close, goc_wait_fd
 *
 * Every socket sits on a goc__pollfd (src/netpoll/pollfd.h), which owns
 * its descriptor, serialises each direction and carries the deadlines.
 */
#ifndef GOC_NET_INTERNAL_H
#define GOC_NET_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "goc/net.h"
#include "netpoll/pollfd.h"

/* A network name, parsed. */
typedef struct goc__netinfo {
    int family;  /* AF_INET, AF_INET6, AF_UNSPEC ("tcp", "udp"), AF_UNIX */
    int type;    /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
    bool v6only; /* "tcp6", "udp6": IPV6_V6ONLY on IPv6 sockets */
} goc__netinfo;

/* A socket address. sockaddr_storage holds a sockaddr_un as well. */
typedef struct goc__netaddr {
    struct sockaddr_storage ss;
    socklen_t len;
} goc__netaddr;

/* The most addresses a name resolves to that dial tries. */
#define GOC__NET_MAX_ADDRS 16

/* 0, or -EINVAL for an unknown network. */
int goc__net_parse_network(const char *network, goc__netinfo *out);

/*
 * Resolve address for network ni into out[0..max). passive: for a
 * listener (an empty host is the wildcard: the dual-stack [::] for
 * "tcp"/"udp"; a name yields its first IPv4 address, else its first);
 * else for dialing (an empty host is this machine, 127.0.0.1 or ::1).
 * Returns the count (> 0) or a negative code (see net.h). Names go
 * through getaddrinfo inside goc_syscall_begin/end.
 */
int goc__net_resolve(const goc__netinfo *ni, const char *address, bool passive,
                     goc__netaddr *out, int max);

/* Convert a to the family of a socket of family `family` (IPv4 to
 * IPv4-mapped IPv6 and back). 0 or -EAFNOSUPPORT. */
int goc__net_addr_to_family(goc__netaddr *a, int family);

/* Write sa as text into buf (net.h's formats). Returns the length, or
 * -ENOBUFS when buf cannot hold it and its NUL (buf then holds a cut,
 * NUL-terminated prefix when len > 0). */
int goc__net_format(const struct sockaddr *sa, socklen_t salen, char *buf,
                    size_t len);

/*
 * Closed objects are kept for a grace period before they are freed.
 *
 * In Go a goroutine may call ln.Accept() or c.Read() just after another
 * one closed ln or c, and gets an error: that is how an accept loop is
 * stopped. In C the caller holds a bare pointer, so freeing the object in
 * close would turn that race into a use-after-free, and nothing could stop
 * an accept loop safely. So close closes the descriptor at once (the
 * number is free when it returns) but puts the object on a FIFO, where it
 * stays at least GOC__NET_CLOSE_GRACE_NS; calls on it meanwhile fail with
 * -ECANCELED without touching any descriptor. Objects older than that are
 * freed by later closes (or when more than GOC__NET_ZOMBIES_MAX wait).
 * A call that comes after the grace period is a use-after-free.
 */
#define GOC__NET_CLOSE_GRACE_NS (2 * GOC_SECOND)
#define GOC__NET_ZOMBIES_MAX 65536
/* The grace period in force (tests shorten it to recycle poll descriptors
 * at once). */
extern _Atomic int64_t goc__net_close_grace;
/* Tests: do not turn TCP_INQ on (as on kernels before 4.18). */
extern _Atomic bool goc__net_no_inq;

typedef struct goc__net_zombie {
    struct goc__net_zombie *next; /* FIFO (zombie lock) */
    int64_t when;                 /* closed at (goc_nanotime) */
    void (*destroy)(struct goc__net_zombie *);
} goc__net_zombie;

/* Queue a closed object; frees those whose grace period is over. */
void goc__net_bury(goc__net_zombie *z, void (*destroy)(goc__net_zombie *));

/* A connection or packet socket. */
struct goc_conn {
    goc__pollfd *pd;     /* owns the descriptor; fixed for life */
    int family;          /* AF_INET, AF_INET6, AF_UNIX */
    int type;            /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
    bool connected;      /* dialed or accepted: write_to fails, as Go */
    bool inq;            /* TCP_INQ is on: reads report what is left */
    bool rdrained;       /* TCP: the last read left nothing (read lock) */
    bool uio;            /* reads and writes are io_uring requests
                            (GOC_POLLER=io_uring_completion; stream) */
    _Atomic bool closed; /* goc_conn_close was called */
    goc__net_zombie z;   /* after close */
    /* Its multishot recv (completion I/O), or NULL. */
    struct goc__uio_rcv *rcv;
};

struct goc__uio_acceptor;

struct goc_listener {
    goc__pollfd *pd;
    struct goc__uio_acceptor *acc; /* multishot accept (completion I/O
                                      on), or NULL: accept4 */
    int family;
    int type;
    char *unlink_path; /* the unix socket file to remove at close */
    _Atomic bool closed;
    goc__net_zombie z;
};

/* Wrap a connected or bound non-blocking socket fd (on failure fd is
 * left open for the caller). 0 or a negative code. */
int goc__conn_new(int fd, int family, int type, bool connected, goc_conn **out);

#endif
