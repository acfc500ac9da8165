/*
 * addr.c - network names, "host:port" addresses, name resolution and the
 * text form of socket addresses (Go's net.SplitHostPort, ResolveTCPAddr,
 * TCPAddr.String).
 *
 * Numeric hosts ("127.0.0.1", "[::1]", "[fe80::1%eth0]") are parsed here
 * without a system call; anything else goes to getaddrinfo, which may
 * block on DNS, so it runs between goc_syscall_begin and goc_syscall_end:
 * the goroutine's processor is handed to another thread if it takes long.
 * No state, no locks: safe from any goroutine.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "net/net_internal.h"
#include "runtime/runtime_internal.h"

int goc__net_parse_network(const char *network, goc__netinfo *out)
{
    static const struct {
        const char *name;
        int family, type;
        bool v6only;
    } nets[] = {
        {"tcp", AF_UNSPEC, SOCK_STREAM, false},
        {"tcp4", AF_INET, SOCK_STREAM, false},
        {"tcp6", AF_INET6, SOCK_STREAM, true},
        {"udp", AF_UNSPEC, SOCK_DGRAM, false},
        {"udp4", AF_INET, SOCK_DGRAM, false},
        {"udp6", AF_INET6, SOCK_DGRAM, true},
        {"unix", AF_UNIX, SOCK_STREAM, false},
        {"unixgram", AF_UNIX, SOCK_DGRAM, false},
        {"unixpacket", AF_UNIX, SOCK_SEQPACKET, false},
    };
    if (!network)
        return -EINVAL;
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        if (strcmp(network, nets[i].name) == 0) {
            out->family = nets[i].family;
            out->type = nets[i].type;
            out->v6only = nets[i].v6only;
            return 0;
        }
    }
    return -EINVAL;
}

static int eai_to_errno(int rc)
{
    switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
    case EAI_FAIL:
        return -ENXIO;
    case EAI_AGAIN:
        return -EAGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_FAMILY:
        return -EAFNOSUPPORT;
    case EAI_SERVICE:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS:
        return -EINVAL;
    case EAI_SYSTEM:
        return errno ? -errno : -EIO;
    default:
        return -EIO;
    }
}

/* A unix address: a path, or "@name" in the abstract namespace. */
static int resolve_unix(const char *address, goc__netaddr *out)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
    size_t n = strlen(address);
    memset(&out->ss, 0, sizeof out->ss);
    sun->sun_family = AF_UNIX;
    if (n == 0)
        return -EINVAL;
    if (n >= sizeof sun->sun_path)
        return -ENAMETOOLONG;
    memcpy(sun->sun_path, address, n);
    if (address[0] == '@') {
        sun->sun_path[0] = '\0';
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 1;
}

/* Go's SplitHostPort: "host:port", "[host]:port"; host may be empty. */
static int split_host_port(const char *address, char *host, size_t hostlen,
                           char *port, size_t portlen)
{
    const char *h, *p;
    size_t hl;
    if (address[0] == '[') {
        const char *end = strchr(address, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        h = address + 1;
        hl = (size_t)(end - h);
        p = end + 2;
    } else {
        const char *colon = strrchr(address, ':');
        if (!colon)
            return -EINVAL; /* missing port */
        h = address;
        hl = (size_t)(colon - address);
        if (memchr(h, ':', hl))
            return -EINVAL; /* too many colons: IPv6 needs brackets */
        p = colon + 1;
    }
    if (hl >= hostlen || strlen(p) >= portlen || strchr(p, '[') ||
        strchr(p, ']'))
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, p);
    return 0;
}

/* A numeric port, or a service name through getaddrinfo. */
static int parse_port(const char *port, int type, uint16_t *out)
{
    if (port[0] == '\0') {
        *out = 0;
        return 0;
    }
    bool digits = true;
    unsigned long v = 0;
    for (const char *s = port; *s; s++) {
        if (*s < '0' || *s > '9') {
            digits = false;
            break;
        }
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65535)
            return -EINVAL;
    }
    if (digits) {
        *out = (uint16_t)v;
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_INET,
                             .ai_socktype =
                                 type == SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    goc_syscall_begin();
    int rc = getaddrinfo(NULL, port, &hints, &res);
    goc_syscall_end();
    if (rc != 0)
        return rc == EAI_NONAME ? -EINVAL : eai_to_errno(rc);
    *out = ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port);
    freeaddrinfo(res);
    return 0;
}

static void set_v4(goc__netaddr *a, const struct in_addr *ip, uint16_t port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
    memset(&a->ss, 0, sizeof a->ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr = *ip;
    a->len = sizeof *sin;
}

static void set_v6(goc__netaddr *a, const struct in6_addr *ip, uint16_t port,
                   uint32_t scope)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
    memset(&a->ss, 0, sizeof a->ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_addr = *ip;
    sin6->sin6_scope_id = scope;
    a->len = sizeof *sin6;
}

int goc__net_addr_to_family(goc__netaddr *a, int family)
{
    int have = a->ss.ss_family;
    if (have == family || family == AF_UNSPEC)
        return 0;
    if (have == AF_INET && family == AF_INET6) {
        struct sockaddr_in sin = *(struct sockaddr_in *)&a->ss;
        struct in6_addr m;
        memset(&m, 0, sizeof m);
        m.s6_addr[10] = m.s6_addr[11] = 0xff;
        memcpy(&m.s6_addr[12], &sin.sin_addr, 4);
        set_v6(a, &m, ntohs(sin.sin_port), 0);
        return 0;
    }
    if (have == AF_INET6 && family == AF_INET) {
        struct sockaddr_in6 sin6 = *(struct sockaddr_in6 *)&a->ss;
        if (!IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr))
            return -EAFNOSUPPORT;
        struct in_addr v4;
        memcpy(&v4, &sin6.sin6_addr.s6_addr[12], 4);
        set_v4(a, &v4, ntohs(sin6.sin6_port));
        return 0;
    }
    return -EAFNOSUPPORT;
}

/* Append a unless it is already among out[0..n). */
static int add_unique(goc__netaddr *out, int n, int max, const goc__netaddr *a)
{
    for (int i = 0; i < n; i++)
        if (out[i].len == a->len && memcmp(&out[i].ss, &a->ss, a->len) == 0)
            return n;
    if (n < max)
        out[n++] = *a;
    return n;
}

int goc__net_resolve(const goc__netinfo *ni, const char *address, bool passive,
                     goc__netaddr *out, int max)
{
    if (!address || max < 1)
        return -EINVAL;
    if (ni->family == AF_UNIX)
        return resolve_unix(address, out);

    char host[NI_MAXHOST], port[64];
    uint16_t portnum = 0;
    int err = split_host_port(address, host, sizeof host, port, sizeof port);
    if (err)
        return err;
    if ((err = parse_port(port, ni->type, &portnum)))
        return err;

    struct in_addr v4;
    struct in6_addr v6;
    if (host[0] == '\0') {
        if (passive) {
            if (ni->family == AF_INET) {
                v4.s_addr = htonl(INADDR_ANY);
                set_v4(out, &v4, portnum);
            } else {
                set_v6(out, &in6addr_any, portnum, 0);
            }
        } else if (ni->family == AF_INET6) {
            set_v6(out, &in6addr_loopback, portnum, 0);
        } else {
            v4.s_addr = htonl(INADDR_LOOPBACK);
            set_v4(out, &v4, portnum);
        }
        return 1;
    }
    if (inet_pton(AF_INET, host, &v4) == 1) {
        if (ni->family == AF_INET6)
            return -EAFNOSUPPORT;
        set_v4(out, &v4, portnum);
        return 1;
    }
    char *zone = strchr(host, '%');
    if (zone)
        *zone++ = '\0';
    if (inet_pton(AF_INET6, host, &v6) == 1) {
        uint32_t scope = 0;
        if (zone) {
            char *end;
            unsigned long z = strtoul(zone, &end, 10);
            if (*zone && *end == '\0')
                scope = (uint32_t)z;
            else if (!(scope = if_nametoindex(zone)))
                return -ENXIO;
        }
        set_v6(out, &v6, portnum, scope);
        if (ni->family == AF_INET)
            return goc__net_addr_to_family(out, AF_INET) ? -EAFNOSUPPORT : 1;
        return 1;
    }
    if (zone)
        return -EINVAL;

    /* A name. */
    struct addrinfo hints = {
        .ai_family = ni->family,
        .ai_socktype = ni->type == SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM};
    struct addrinfo *res = NULL;
    goc_syscall_begin();
    int rc = getaddrinfo(host, NULL, &hints, &res);
    goc_syscall_end();
    if (rc != 0)
        return eai_to_errno(rc);
    int n = 0;
    goc__netaddr a;
    for (int pass = 0; pass < 2 && n < max; pass++) {
        /* Listening on a name: IPv4 first, as Go (first(isIPv4)). */
        for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
            if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
                continue;
            if (passive && pass == 0 && ai->ai_family != AF_INET)
                continue;
            if (passive && pass == 1 && ai->ai_family == AF_INET)
                continue;
            if (ai->ai_addrlen > sizeof a.ss)
                continue;
            memset(&a.ss, 0, sizeof a.ss);
            memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
            a.len = (socklen_t)ai->ai_addrlen;
            if (a.ss.ss_family == AF_INET)
                ((struct sockaddr_in *)&a.ss)->sin_port = htons(portnum);
            else
                ((struct sockaddr_in6 *)&a.ss)->sin6_port = htons(portnum);
            n = add_unique(out, n, passive ? 1 : max, &a);
        }
        if (!passive)
            break;
    }
    freeaddrinfo(res);
    return n > 0 ? n : -ENXIO;
}

int goc__net_format(const struct sockaddr *sa, socklen_t salen, char *buf,
                    size_t len)
{
    char tmp[GOC_ADDRSTRLEN + 8];
    char ip[INET6_ADDRSTRLEN];
    int n;
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
        n = snprintf(tmp, sizeof tmp, "%s:%u", ip, ntohs(sin->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip, sizeof ip);
            n = snprintf(tmp, sizeof tmp, "%s:%u", ip, ntohs(sin6->sin6_port));
            break;
        }
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
        char zone[IF_NAMESIZE + 2] = "";
        if (sin6->sin6_scope_id) {
            char name[IF_NAMESIZE];
            if (if_indextoname(sin6->sin6_scope_id, name))
                snprintf(zone, sizeof zone, "%%%s", name);
            else
                snprintf(zone, sizeof zone, "%%%u",
                         (unsigned)sin6->sin6_scope_id);
        }
        n = snprintf(tmp, sizeof tmp, "[%s%s]:%u", ip, zone,
                     ntohs(sin6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t plen = salen > off ? salen - off : 0;
        if (plen > sizeof sun->sun_path)
            plen = sizeof sun->sun_path;
        if (plen == 0) {
            n = snprintf(tmp, sizeof tmp, "%s", "");
        } else if (sun->sun_path[0] == '\0') {
            n = snprintf(tmp, sizeof tmp, "@%.*s", (int)(plen - 1),
                         sun->sun_path + 1);
        } else {
            n = snprintf(tmp, sizeof tmp, "%.*s",
                         (int)strnlen(sun->sun_path, plen), sun->sun_path);
        }
        break;
    }
    default:
        return -EAFNOSUPPORT;
    }
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= len) {
        if (len > 0) {
            memcpy(buf, tmp, len - 1);
            buf[len - 1] = '\0';
        }
        return -ENOBUFS;
    }
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}
