/*
 * http_parse.c - a strict, incremental HTTP/1.1 response parser (see
 * http_parse.h).
 *
 * Strict where leniency lets two parties disagree on where a response
 * ends (RFC 9112 section 11, "response splitting"): a Content-Length that
 * is not a plain number or differs between two headers, Content-Length
 * beside Transfer-Encoding, whitespace before a header's colon, folded
 * header lines, a CR anywhere but before LF, control characters in a
 * header, a chunk size that is not hex or too large, a chunk not followed
 * by CRLF, a 101 (we never ask to switch protocols). Lenient where no such
 * doubt exists: a line may end in a bare LF, a reason phrase may be empty,
 * chunk extensions are skipped.
 *
 * The body: Content-Length bytes; chunked (the last transfer coding is
 * chunked), trailers skipped; up to the connection's end (no length, or
 * another transfer coding). No body after a HEAD request, a 204 or a 304.
 * 1xx responses (but 101) are skipped, and counted, before the final one.
 */
#include "callers/http_parse.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum {
    S_STATUS,
    S_HEADERS,
    S_BODY_CL,
    S_BODY_EOF,
    S_CHUNK_SIZE,
    S_CHUNK_DATA,
    S_CHUNK_CRLF,
    S_TRAILERS,
    S_DONE
};

void goc__http_parser_reset(goc__http_parser *p, bool head_req)
{
    /* Not the reason's 120 bytes, on every response: only its first. */
    memset(p, 0, offsetof(goc__http_parser, why));
    p->why[0] = '\0';
    p->state = S_STATUS;
    p->head_req = head_req;
    p->content_length = -1;
}

static int fail(goc__http_parser *p, const char *fmt, const char *a)
{
    snprintf(p->why, sizeof p->why, fmt, a ? a : "");
    return -1;
}

/* Byte classes, looked up on every byte of every header line: TCHAR, RFC
 * 9110's tchar (0-9 a-z A-Z and !#$%&'*+-.^_`|~); CTL, a control character
 * that a field value may not hold (below 0x20 but tab, and DEL). */
enum { TCHAR = 1, CTL = 2 };
/* clang-format off */
static const unsigned char byte_class[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 2, 2, 2, 2, 2, 2, /* 0x00 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x10 */
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 2, /* 0x70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xa0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xb0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xc0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xd0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xe0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xf0 */
};
/* clang-format on */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether v[0, n) holds a CTL byte: eight bytes a step, each looked at
 * only when the step holds a byte below 0x20 or a DEL (the tests are
 * exact for "some byte is": a tab sends its eight bytes to the table). */
static bool has_ctl(const char *v, size_t n)
{
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t x;
        memcpy(&x, v + k, 8);
        uint64_t low = (x - 0x20 * ONES) & ~x & HIGHS;
        uint64_t d = x ^ (0x7f * ONES);
        uint64_t del = (d - ONES) & ~d & HIGHS;
        if (low | del)
            for (size_t j = k; j < k + 8; j++)
                if (byte_class[(unsigned char)v[j]] & CTL)
                    return true;
    }
    for (; k < n; k++)
        if (byte_class[(unsigned char)v[k]] & CTL)
            return true;
    return false;
}

/* a[0, alen) is b, a lowercase literal of letters and '-', in any case.
 * (c | 0x20) == b[i] only for c the letter in either case, or CR for '-';
 * no CR gets here (a header line with one is refused first). No call to
 * strncasecmp on every header of every response. */
static bool ieq(const char *a, size_t alen, const char *b)
{
    if (alen != strlen(b))
        return false;
    for (size_t i = 0; i < alen; i++)
        if (((unsigned char)a[i] | 0x20) != (unsigned char)b[i])
            return false;
    return true;
}

/* Calls fn on each comma-separated token of v[0, n) (trimmed). */
static void each_token(const char *v, size_t n,
                       void (*fn)(goc__http_parser *, const char *, size_t,
                                  bool last),
                       goc__http_parser *p)
{
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        if (b > a)
            fn(p, v + a, b - a, j >= n);
        i = j + 1;
    }
}

static void conn_token(goc__http_parser *p, const char *t, size_t n, bool last)
{
    (void)last;
    if (ieq(t, n, "close"))
        p->conn_close = true;
    else if (ieq(t, n, "keep-alive"))
        p->ka_header = true;
}

/* Bits of te_flags. */
static void te_token(goc__http_parser *p, const char *t, size_t n, bool last)
{
    bool ch = ieq(t, n, "chunked");
    if (ch && !last)
        p->left = -2; /* chunked, not last: refused at the end of headers */
    else if (last)
        p->chunked = ch;
}

/* One complete line, without its terminator. 0 or -1. */
static int status_line(goc__http_parser *p, const char *l, size_t n)
{
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' ||
        l[8] != ' ')
        return fail(p, "bad status line%s", n ? "" : " (empty)");
    for (int i = 9; i < 12; i++)
        if (l[i] < '0' || l[i] > '9')
            return fail(p, "bad status code%s", NULL);
    if (n > 12 && l[12] != ' ')
        return fail(p, "bad status line%s", NULL);
    for (size_t i = 13; i < n; i++) {
        unsigned char c = (unsigned char)l[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(p, "control character in the reason phrase%s", NULL);
    }
    int code = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (code < 100 || code > 599)
        return fail(p, "status code out of range%s", NULL);
    if (code == 101)
        return fail(p, "101 Switching Protocols: not asked for%s", NULL);
    p->status = code;
    p->minor = l[7] - '0';
    return 0;
}

/* A header line refused: a CR in it is the reason given first, as for
 * any line (goc__http_parse leaves header lines to be looked for one only
 * here: a line accepted has none, a CR being neither tchar nor allowed in
 * a value). */
static int header_fail(goc__http_parser *p, const char *l, size_t n,
                       const char *why)
{
    if (memchr(l, '\r', n))
        return fail(p, "CR not followed by LF%s", NULL);
    return fail(p, why, NULL);
}

/* A header (or trailer) line; `use` is false for trailers. 0 or -1. */
static int header_line(goc__http_parser *p, const char *l, size_t n, bool use)
{
    if (l[0] == ' ' || l[0] == '\t')
        return header_fail(p, l, n, "folded header line (obsolete)%s");
    size_t i = 0;
    while (i < n && (byte_class[(unsigned char)l[i]] & TCHAR))
        i++;
    if (i == 0 || i == n || l[i] != ':')
        return header_fail(p, l, n,
                           i < n && (l[i] == ' ' || l[i] == '\t')
                               ? "whitespace before a header's colon%s"
                               : "bad header line%s");
    const char *name = l;
    size_t nlen = i;
    const char *v = l + i + 1;
    size_t vlen = n - i - 1;
    if (has_ctl(v, vlen))
        return header_fail(p, l, n, "control character in a header value%s");
    if (!use)
        return 0;
    while (vlen && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    if (ieq(name, nlen, "content-length")) {
        if (vlen == 0 || vlen > 18)
            return fail(p, "bad Content-Length%s", NULL);
        int64_t cl = 0;
        for (size_t k = 0; k < vlen; k++) {
            if (v[k] < '0' || v[k] > '9')
                return fail(p, "bad Content-Length%s", NULL);
            cl = cl * 10 + (v[k] - '0');
        }
        if (p->has_cl && cl != p->content_length)
            return fail(p, "two different Content-Lengths%s", NULL);
        p->has_cl = true;
        p->content_length = cl;
    } else if (ieq(name, nlen, "transfer-encoding")) {
        if (p->left == 0)
            p->left = -1; /* seen */
        each_token(v, vlen, te_token, p);
    } else if (ieq(name, nlen, "connection")) {
        each_token(v, vlen, conn_token, p);
    }
    return 0;
}

/* The empty line after the headers. 0 or -1. */
static int end_of_headers(goc__http_parser *p)
{
    bool te = p->left != 0;
    if (p->status < 200) { /* interim: the final response follows */
        bool head = p->head_req;
        int interim = p->interim + 1;
        goc__http_parser_reset(p, head);
        p->interim = interim;
        p->got_any = true;
        return 0;
    }
    if (p->left == -2)
        return fail(p, "chunked is not the last transfer coding%s", NULL);
    if (te && p->has_cl)
        return fail(p, "both Content-Length and Transfer-Encoding%s", NULL);
    p->left = 0;
    if (p->minor == 0 && !p->ka_header)
        p->conn_close = true;
    if (p->head_req || p->status == 204 || p->status == 304) {
        p->state = S_DONE;
    } else if (p->chunked) {
        p->state = S_CHUNK_SIZE;
    } else if (te || !p->has_cl) {
        p->state = S_BODY_EOF;
        p->conn_close = true;
    } else if (p->content_length == 0) {
        p->state = S_DONE;
    } else {
        p->left = p->content_length;
        p->state = S_BODY_CL;
    }
    p->header_bytes = 0;
    return 0;
}

static int chunk_size_line(goc__http_parser *p, const char *l, size_t n)
{
    size_t i = 0;
    int64_t sz = 0;
    for (; i < n; i++) {
        char c = l[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            break;
        if (i >= 15)
            return fail(p, "chunk size too large%s", NULL);
        sz = sz * 16 + d;
    }
    if (i == 0)
        return fail(p, "bad chunk size%s", NULL);
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    if (i < n && l[i] != ';')
        return fail(p, "bad chunk size%s", NULL);
    for (; i < n; i++) {
        unsigned char c = (unsigned char)l[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(p, "control character in a chunk extension%s", NULL);
    }
    if (sz == 0) {
        p->state = S_TRAILERS;
    } else {
        p->left = sz;
        p->state = S_CHUNK_DATA;
    }
    return 0;
}

int goc__http_parse(goc__http_parser *p, const char *buf, size_t *pos,
                    size_t end)
{
    if (end > *pos)
        p->got_any = true;
    while (p->state != S_DONE) {
        size_t at = *pos, avail = end - at;
        switch (p->state) {
        case S_BODY_CL:
        case S_CHUNK_DATA: {
            if (avail == 0)
                return 0;
            size_t take = (uint64_t)p->left < avail ? (size_t)p->left : avail;
            *pos += take;
            p->left -= (int64_t)take;
            p->body_bytes += (int64_t)take;
            if (p->left == 0)
                p->state = p->state == S_BODY_CL ? S_DONE : S_CHUNK_CRLF;
            continue;
        }
        case S_BODY_EOF:
            *pos = end;
            p->body_bytes += (int64_t)avail;
            return 0;
        default:
            break;
        }
        /* A line. */
        const char *nl = memchr(buf + at, '\n', avail);
        bool in_head = p->state == S_STATUS || p->state == S_HEADERS ||
                       p->state == S_TRAILERS;
        if (!nl) {
            if (in_head && p->header_bytes + avail > GOC__HTTP_MAX_HEADER_BYTES)
                return fail(p, "headers larger than 256 KiB%s", NULL);
            if (!in_head && avail > 4096)
                return fail(p, "chunk size line too long%s", NULL);
            return 0;
        }
        size_t n = (size_t)(nl - (buf + at));
        const char *l = buf + at;
        *pos = at + n + 1;
        if (n && l[n - 1] == '\r')
            n--;
        /* A header line is looked for a CR only if refused (header_fail). */
        if (p->state != S_HEADERS && p->state != S_TRAILERS &&
            memchr(l, '\r', n))
            return fail(p, "CR not followed by LF%s", NULL);
        if (in_head) {
            p->header_bytes += n + 2;
            if (p->header_bytes > GOC__HTTP_MAX_HEADER_BYTES)
                return fail(p, "headers larger than 256 KiB%s", NULL);
        }
        int rc = 0;
        switch (p->state) {
        case S_STATUS:
            rc = status_line(p, l, n);
            p->state = S_HEADERS;
            break;
        case S_HEADERS:
            rc = n == 0 ? end_of_headers(p) : header_line(p, l, n, true);
            break;
        case S_CHUNK_SIZE:
            rc = chunk_size_line(p, l, n);
            break;
        case S_CHUNK_CRLF:
            if (n != 0)
                return fail(p, "chunk data not followed by CRLF%s", NULL);
            p->state = S_CHUNK_SIZE;
            break;
        case S_TRAILERS:
            if (n == 0)
                p->state = S_DONE;
            else
                rc = header_line(p, l, n, false);
            break;
        }
        if (rc < 0)
            return -1;
    }
    return 1;
}

int goc__http_parse_eof(goc__http_parser *p)
{
    char b[40];
    switch (p->state) {
    case S_DONE:
    case S_BODY_EOF:
        p->state = S_DONE;
        return 1;
    case S_STATUS:
        if (!p->got_any) {
            p->why[0] = '\0';
            return -1;
        }
        return fail(p, "connection closed in the status line%s", NULL);
    case S_HEADERS:
        return fail(p, "connection closed in the headers%s", NULL);
    case S_BODY_CL:
        snprintf(b, sizeof b, "%lld of %lld", (long long)p->body_bytes,
                 (long long)p->content_length);
        return fail(p, "connection closed after %s body bytes", b);
    default:
        return fail(p, "connection closed in the chunked body%s", NULL);
    }
}
