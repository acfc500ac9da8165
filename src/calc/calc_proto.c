/*
 * calc_proto.c - the book's arithmetic protocol: a strict JSON reader for its
 * two messages, encoding/json-compatible writers, and op() (calc_proto.h).
 *
 * The reader is a recursive-descent parser over one line with a cursor; it
 * never allocates and never reads past `len` (the line need not be
 * NUL-terminated). It accepts exactly RFC 8259 JSON for the parts it
 * reads, checks the value types of the book's structs, and stops at the
 * first problem with a reason naming the offset and the field.
 *
 * Invariants:
 *   - jcur.pos <= jcur.len at every step; every read checks it.
 *   - Nesting (only possible inside an Err object) is bounded by
 *     MAX_DEPTH, so recursion depth is bounded.
 *   - Stored strings are valid UTF-8 without NUL bytes, so that what we
 *     parse we can write back byte-for-byte and parse again (the fuzz
 *     target checks that round trip).
 *   - Writers never write past `cap` and always leave a NUL.
 */
#include "calc/calc_proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32
#define NO_OFFSET SIZE_MAX /* fail(): a reason without an offset */
#define KEY_CAP 32         /* longer keys are unknown anyway */

_Static_assert(6 + 20 + 13 + GOC__CALC_MAX_OPERANDS * 21 + 14 +
                       GOC__CALC_MAX_OPERATOR * 6 + 2 <=
                   GOC__CALC_MAX_LINE,
               "a formatted request fits in a line");
_Static_assert(6 + 20 + 12 + GOC__CALC_FORMULA_CAP * 6 + 11 + 20 + 8 +
                       GOC__CALC_ERR_CAP * 6 + 2 <=
                   GOC__CALC_MAX_LINE,
               "a formatted response fits in a line");

/* ---- UTF-8 -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n > 0 bytes there), 0 if none:
 * no overlong forms, no surrogates, nothing above U+10FFFF (as Go). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t k;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        k = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        k = 3;
        if (b == 0xE0)
            lo = 0xA0;
        if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        k = 4;
        if (b == 0xF0)
            lo = 0x90;
        if (b == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < k || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return k;
}

static size_t utf8_put(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Copies the valid UTF-8 text src[0, n) into dst (cap >= 1), cut at a
 * character boundary when it does not fit; returns true when cut. */
static bool copy_cut(char *dst, size_t cap, const char *src, size_t n)
{
    bool cut = n >= cap;
    if (cut) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return cut;
}

/* ---- reader ------------------------------------------------------------- */

typedef struct jcur {
    const unsigned char *s; /* the line; not NUL-terminated */
    size_t len;             /* its length */
    size_t pos;             /* next byte to read; <= len */
    char *err;              /* where the reason goes; may be NULL */
    size_t errlen;
} jcur;

__attribute__((format(printf, 4, 5))) static int
fail(jcur *c, size_t at, int code, const char *fmt, ...)
{
    if (c->err == NULL || c->errlen == 0)
        return code;
    int n = 0;
    if (at != NO_OFFSET)
        n = snprintf(c->err, c->errlen, "offset %zu: ", at);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void ws(jcur *c)
{
    while (c->pos < c->len) {
        unsigned char b = c->s[c->pos];
        if (b != ' ' && b != '\t' && b != '\n' && b != '\r')
            return;
        c->pos++;
    }
}

static int peek(const jcur *c)
{
    return c->pos < c->len ? c->s[c->pos] : -1;
}

static bool digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* What a value starting with ch is, for messages. */
static const char *kind(int ch)
{
    switch (ch) {
    case -1:
        return "the end of the line";
    case '"':
        return "a string";
    case '{':
        return "an object";
    case '[':
        return "an array";
    case 't':
    case 'f':
        return "a boolean";
    case 'n':
        return "null";
    }
    return ch == '-' || digit(ch) ? "a number" : "an invalid character";
}

static bool starts_value(int ch)
{
    return ch > 0 && (ch == '-' || digit(ch) || strchr("\"{[tfn", ch));
}

/* Fails with "[field: ]expected <want>, found <the byte at pos>". */
static int expected_in(jcur *c, const char *field, const char *want)
{
    int ch = peek(c);
    const char *sep = field ? ": " : "";
    field = field ? field : "";
    if (ch == -1)
        return fail(c, c->pos, -EINVAL,
                    "%s%sexpected %s, found the end of "
                    "the line",
                    field, sep, want);
    if (ch > 0x20 && ch < 0x7F)
        return fail(c, c->pos, -EINVAL, "%s%sexpected %s, found '%c'", field,
                    sep, want, ch);
    return fail(c, c->pos, -EINVAL, "%s%sexpected %s, found byte 0x%02x", field,
                sep, want, ch);
}

static int expected(jcur *c, const char *want)
{
    return expected_in(c, NULL, want);
}

static int jskip(jcur *c, int depth);

/* A value of the wrong type for field `what` (NULL: the message itself):
 * a syntax error in it wins, else "what: expected <want>, found <kind>". */
static int type_error(jcur *c, const char *what, const char *want)
{
    size_t at = c->pos;
    int ch = peek(c);
    if (!starts_value(ch))
        return expected_in(c, what, want);
    int rc = jskip(c, 0);
    if (rc != 0)
        return rc;
    if (what == NULL)
        return fail(c, at, -EINVAL, "expected %s, found %s", want, kind(ch));
    return fail(c, at, -EINVAL, "%s: expected %s, found %s", what, want,
                kind(ch));
}

static int jliteral(jcur *c, const char *lit)
{
    size_t n = strlen(lit);
    if (c->len - c->pos < n || memcmp(c->s + c->pos, lit, n) != 0)
        return fail(c, c->pos, -EINVAL, "invalid literal (expected %s)", lit);
    c->pos += n;
    return 0;
}

/* Scans a JSON number; *is_int when it has no fraction and no exponent. */
static int jnumber(jcur *c, bool *is_int)
{
    const unsigned char *s = c->s;
    size_t p = c->pos, start = p, n = c->len;
    if (p < n && s[p] == '-')
        p++;
    if (p >= n || !digit(s[p]))
        return fail(c, start, -EINVAL,
                    "invalid number: a digit must "
                    "follow '-'");
    if (s[p] == '0') {
        p++;
        if (p < n && digit(s[p]))
            return fail(c, start, -EINVAL, "invalid number: leading zero");
    } else
        while (p < n && digit(s[p]))
            p++;
    *is_int = true;
    if (p < n && s[p] == '.') {
        p++;
        if (p >= n || !digit(s[p]))
            return fail(c, start, -EINVAL,
                        "invalid number: a digit must "
                        "follow '.'");
        while (p < n && digit(s[p]))
            p++;
        *is_int = false;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < n && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= n || !digit(s[p]))
            return fail(c, start, -EINVAL,
                        "invalid number: a digit must "
                        "follow the exponent mark");
        while (p < n && digit(s[p]))
            p++;
        *is_int = false;
    }
    c->pos = p;
    return 0;
}

/* Parses an integer value of field `what` into *out (int64 range). */
static int jint(jcur *c, const char *what, int64_t *out)
{
    ws(c);
    size_t at = c->pos;
    int ch = peek(c);
    if (ch != '-' && !digit(ch))
        return type_error(c, what, "an integer");
    bool is_int;
    int rc = jnumber(c, &is_int);
    if (rc != 0)
        return rc;
    const char *text = (const char *)c->s + at;
    int shown = c->pos - at > 24 ? 24 : (int)(c->pos - at);
    const char *more = c->pos - at > 24 ? "..." : "";
    if (!is_int)
        return fail(c, at, -EINVAL, "%s: %.*s%s is not an integer", what, shown,
                    text, more);
    bool neg = ch == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    bool over = false;
    for (size_t p = at + neg; p < c->pos; p++) {
        unsigned d = (unsigned)(c->s[p] - '0');
        if (v > (limit - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (over)
        return fail(c, at, -EINVAL, "%s: %.*s%s overflows int64", what, shown,
                    text, more);
    /* -(2^63) through unsigned negation, defined in C. */
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Reads the 4 hex digits of a \u escape (at esc) into *u. */
static int hex4(jcur *c, size_t esc, uint32_t *u)
{
    *u = 0;
    if (c->len - c->pos < 4)
        return fail(c, esc, -EINVAL, "invalid \\u escape");
    for (int i = 0; i < 4; i++) {
        int h = c->s[c->pos + i];
        int d = digit(h)               ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0)
            return fail(c, esc, -EINVAL, "invalid \\u escape");
        *u = *u << 4 | (uint32_t)d;
    }
    c->pos += 4;
    return 0;
}

/* Parses a string at pos ('"' there) into buf (cap bytes, NUL added),
 * stopping the copy at the first character that does not fit (*cut set).
 * buf == NULL only validates; then \u0000 is accepted. */
static int jstr(jcur *c, char *buf, size_t cap, size_t *outlen, bool *cut)
{
    size_t start = c->pos, n = 0;
    *cut = false;
    c->pos++; /* the opening quote */
    for (;;) {
        unsigned char tmp[4];
        const unsigned char *src = tmp;
        size_t k;
        if (c->pos >= c->len)
            return fail(c, start, -EINVAL, "unterminated string");
        unsigned char b = c->s[c->pos];
        if (b == '"') {
            c->pos++;
            break;
        }
        if (b < 0x20)
            return fail(c, c->pos, -EINVAL,
                        "control character 0x%02x in a "
                        "string (must be escaped)",
                        b);
        if (b == '\\') {
            size_t esc = c->pos;
            uint32_t cp, lo;
            int rc;
            if (c->pos + 1 >= c->len)
                return fail(c, start, -EINVAL, "unterminated string");
            unsigned char e = c->s[c->pos + 1];
            c->pos += 2;
            cp = e == 'b'   ? '\b'
                 : e == 'f' ? '\f'
                 : e == 'n' ? '\n'
                 : e == 'r' ? '\r'
                 : e == 't' ? '\t'
                            : e;
            if (e == 'u') {
                if ((rc = hex4(c, esc, &cp)) != 0)
                    return rc;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    /* A high surrogate: "\\u" and a low one must follow. */
                    if (c->len - c->pos < 2 || c->s[c->pos] != '\\' ||
                        c->s[c->pos + 1] != 'u')
                        return fail(c, esc, -EINVAL,
                                    "unpaired surrogate "
                                    "in a \\u escape");
                    c->pos += 2;
                    if ((rc = hex4(c, esc, &lo)) != 0)
                        return rc;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return fail(c, esc, -EINVAL,
                                    "unpaired surrogate "
                                    "in a \\u escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail(c, esc, -EINVAL,
                                "unpaired surrogate in a "
                                "\\u escape");
            } else if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return fail(c, esc, -EINVAL, "invalid escape in a string");
            if (cp == 0 && buf != NULL)
                return fail(c, esc, -EINVAL,
                            "\\u0000 is not allowed in a "
                            "string");
            k = utf8_put(cp, tmp);
        } else {
            k = utf8_len(c->s + c->pos, c->len - c->pos);
            if (k == 0)
                return fail(c, c->pos, -EINVAL,
                            "invalid UTF-8 in a "
                            "string");
            src = c->s + c->pos;
            c->pos += k;
        }
        if (buf == NULL || *cut)
            continue;
        if (n + k < cap) {
            memcpy(buf + n, src, k);
            n += k;
        } else
            *cut = true;
    }
    if (buf != NULL)
        buf[n] = '\0';
    if (outlen != NULL)
        *outlen = n;
    return 0;
}

/* Validates any JSON value; depth counts the enclosing containers. */
static int jskip(jcur *c, int depth)
{
    bool b;
    int rc;
    ws(c);
    int ch = peek(c);
    switch (ch) {
    case '"':
        return jstr(c, NULL, 0, NULL, &b);
    case 't':
        return jliteral(c, "true");
    case 'f':
        return jliteral(c, "false");
    case 'n':
        return jliteral(c, "null");
    case '{':
    case '[':
        if (depth >= MAX_DEPTH)
            return fail(c, c->pos, -EINVAL, "nesting deeper than %d",
                        MAX_DEPTH);
        c->pos++;
        ws(c);
        if (peek(c) == (ch == '{' ? '}' : ']')) {
            c->pos++;
            return 0;
        }
        for (;;) {
            ws(c);
            if (ch == '{') {
                if (peek(c) != '"')
                    return expected(c, "a string key");
                if ((rc = jstr(c, NULL, 0, NULL, &b)) != 0)
                    return rc;
                ws(c);
                if (peek(c) != ':')
                    return expected(c, "':' after the key");
                c->pos++;
            }
            if ((rc = jskip(c, depth + 1)) != 0)
                return rc;
            ws(c);
            if (peek(c) == ',') {
                c->pos++;
                continue;
            }
            if (peek(c) == (ch == '{' ? '}' : ']')) {
                c->pos++;
                return 0;
            }
            return expected(c, ch == '{' ? "',' or '}'" : "',' or ']'");
        }
    }
    if (ch == '-' || digit(ch))
        return jnumber(c, &b);
    return expected(c, "a value");
}

/* A message's fields, by position in the Go struct. */
typedef struct jmsg {
    const char *const *names; /* field names, exact case */
    int nfields;
    /* Parses the value of field i at c->pos. */
    int (*value)(jcur *c, int i, void *out);
    void *out;
} jmsg;

/* Replaces bytes that would garble a message (controls, '"') by '?'. */
static void tame(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F || *s == '"')
            *s = '?';
}

/* Parses a whole line holding one object of message m. */
static int jline(jcur *c, const jmsg *m)
{
    unsigned seen = 0;
    int rc;
    if (c->len > GOC__CALC_MAX_LINE)
        return fail(c, NO_OFFSET, -EMSGSIZE,
                    "line of %zu bytes exceeds the "
                    "limit of %d",
                    c->len, GOC__CALC_MAX_LINE);
    ws(c);
    if (c->pos == c->len)
        return fail(c, NO_OFFSET, -EINVAL, "empty line");
    if (peek(c) != '{')
        return type_error(c, NULL, "a JSON object");
    c->pos++;
    ws(c);
    if (peek(c) == '}')
        c->pos++;
    else
        for (;;) {
            char key[KEY_CAP];
            bool cut;
            ws(c);
            size_t at = c->pos;
            if (peek(c) != '"')
                return expected(c, "a string key");
            if ((rc = jstr(c, key, sizeof key, NULL, &cut)) != 0)
                return rc;
            int i = 0;
            while (i < m->nfields && (cut || strcmp(key, m->names[i]) != 0))
                i++;
            if (i == m->nfields) {
                tame(key);
                return fail(c, at, -EINVAL, "unknown field \"%s%s\"", key,
                            cut ? "..." : "");
            }
            if (seen & 1u << i)
                return fail(c, at, -EINVAL, "duplicate field \"%s\"", key);
            seen |= 1u << i;
            ws(c);
            if (peek(c) != ':')
                return expected(c, "':' after the key");
            c->pos++;
            ws(c);
            if ((rc = m->value(c, i, m->out)) != 0)
                return rc;
            ws(c);
            if (peek(c) == ',') {
                c->pos++;
                continue;
            }
            if (peek(c) == '}') {
                c->pos++;
                break;
            }
            return expected(c, "',' or '}'");
        }
    ws(c);
    if (c->pos != c->len)
        return fail(c, c->pos, -EINVAL,
                    "trailing data after the JSON "
                    "object");
    for (int i = 0; i < m->nfields; i++)
        if (!(seen & 1u << i))
            return fail(c, NO_OFFSET, -EINVAL, "missing field \"%s\"",
                        m->names[i]);
    return 0;
}

static const char *const req_fields[] = {"ID", "Operands", "Operator"};
static const char *const resp_fields[] = {"ID", "Formula", "Result", "Err"};

static int req_value(jcur *c, int i, void *out)
{
    goc__calc_req *r = out;
    bool cut;
    int rc;
    switch (i) {
    case 0:
        return jint(c, "ID", &r->id);
    case 1:
        if (peek(c) != '[')
            return type_error(c, "Operands", "an array of integers");
        c->pos++;
        ws(c);
        if (peek(c) == ']') {
            c->pos++;
            return 0;
        }
        for (;;) {
            char what[32];
            if (r->n == GOC__CALC_MAX_OPERANDS)
                return fail(c, c->pos, -E2BIG,
                            "Operands: more than %d "
                            "operands",
                            GOC__CALC_MAX_OPERANDS);
            snprintf(what, sizeof what, "Operands[%zu]", r->n);
            if ((rc = jint(c, what, &r->operands[r->n])) != 0)
                return rc;
            r->n++;
            ws(c);
            if (peek(c) == ',') {
                c->pos++;
                continue;
            }
            if (peek(c) == ']') {
                c->pos++;
                return 0;
            }
            return expected(c, "',' or ']'");
        }
    default:
        if (peek(c) != '"')
            return type_error(c, "Operator", "a string");
        size_t at = c->pos;
        if ((rc = jstr(c, r->op, sizeof r->op, NULL, &cut)) != 0)
            return rc;
        if (cut)
            return fail(c, at, -E2BIG, "Operator: longer than %d bytes",
                        GOC__CALC_MAX_OPERATOR);
        return 0;
    }
}

static int resp_value(jcur *c, int i, void *out)
{
    goc__calc_resp *r = out;
    bool cut;
    int rc;
    size_t at = c->pos;
    switch (i) {
    case 0:
        return jint(c, "ID", &r->id);
    case 1:
        if (peek(c) != '"')
            return type_error(c, "Formula", "a string");
        if ((rc = jstr(c, r->formula, sizeof r->formula, NULL, &cut)) != 0)
            return rc;
        if (cut)
            return fail(c, at, -E2BIG, "Formula: longer than %d bytes",
                        GOC__CALC_FORMULA_CAP - 1);
        return 0;
    case 2:
        return jint(c, "Result", &r->result);
    default:
        if (peek(c) == 'n') {
            r->has_err = false;
            return jliteral(c, "null");
        }
        r->has_err = true;
        if (peek(c) == '"') /* ours: the message; cut to fit */
            return jstr(c, r->err, sizeof r->err, NULL, &cut);
        if (peek(c) == '{') { /* Go's error value: "{}"; kept as text */
            if ((rc = jskip(c, 0)) != 0)
                return rc;
            copy_cut(r->err, sizeof r->err, (const char *)c->s + at,
                     c->pos - at);
            return 0;
        }
        return type_error(c, "Err", "null, a string or an object");
    }
}

int goc__calc_parse_request(const char *line, size_t len, goc__calc_req *out,
                            char *err, size_t errlen)
{
    jcur c = {(const unsigned char *)line, len, 0, err, errlen};
    jmsg m = {req_fields, 3, req_value, out};
    memset(out, 0, sizeof *out);
    return jline(&c, &m);
}

int goc__calc_parse_response(const char *line, size_t len, goc__calc_resp *out,
                             char *err, size_t errlen)
{
    jcur c = {(const unsigned char *)line, len, 0, err, errlen};
    jmsg m = {resp_fields, 4, resp_value, out};
    memset(out, 0, sizeof *out);
    return jline(&c, &m);
}

/* ---- writers ------------------------------------------------------------ */

typedef struct jout {
    char *buf;
    size_t cap; /* bytes at buf */
    size_t len; /* bytes written; < cap unless full */
    bool full;  /* something did not fit: the result is -ENOBUFS */
} jout;

static void put(jout *o, const char *s, size_t n)
{
    if (o->full || o->cap - o->len <= n) { /* keep a byte for the NUL */
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put_str(jout *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_i64(jout *o, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put(o, tmp, (size_t)n);
}

/* A JSON string as encoding/json writes it (HTML-safe escaping, Go 1.22+
 * forms for \b and \f, U+2028/U+2029 escaped, bad UTF-8 as \ufffd). */
static void put_jstr(jout *o, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), i = 0, run = 0; /* s[run, i) is still to put */
    put(o, "\"", 1);
    while (i < n) {
        char esc[7] = {'\\', 0};
        size_t k = 1, elen = 2;
        unsigned char b = s[i];
        if (b >= 0x80) {
            k = utf8_len(s + i, n - i);
            if (k == 0) {
                memcpy(esc, "\\ufffd", 6);
                elen = 6;
                k = 1;
            } else if (k == 3 && b == 0xE2 && s[i + 1] == 0x80 &&
                       (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
                memcpy(esc, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                elen = 6;
            } else
                elen = 0;
        } else if (b == '"' || b == '\\')
            esc[1] = (char)b;
        else if (b == '\b' || b == '\f' || b == '\n' || b == '\r' || b == '\t')
            esc[1] = b == '\b'   ? 'b'
                     : b == '\f' ? 'f'
                     : b == '\n' ? 'n'
                     : b == '\r' ? 'r'
                                 : 't';
        else if (b < 0x20 || b == '<' || b == '>' || b == '&') {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[b >> 4];
            esc[5] = hex[b & 15];
            elen = 6;
        } else
            elen = 0;
        if (elen != 0) {
            put(o, (const char *)s + run, i - run);
            put(o, esc, elen);
            run = i + k;
        }
        i += k;
    }
    put(o, (const char *)s + run, n - run);
    put(o, "\"", 1);
}

static int finish(jout *o)
{
    if (o->full || o->cap == 0)
        return -ENOBUFS;
    o->buf[o->len] = '\0';
    return (int)o->len;
}

int goc__calc_formula(const int64_t *operands, size_t n, const char *op,
                      int64_t result, bool equal, char *buf, size_t cap)
{
    jout o = {buf, cap, 0, false};
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            put(&o, " ", 1);
            put_str(&o, op);
            put(&o, " ", 1);
        }
        put_i64(&o, operands[i]);
    }
    put_str(&o, equal ? " = " : " != ");
    put_i64(&o, result);
    return finish(&o);
}

/* Whether the struct is one that a parse or eval could have produced
 * (bounded count, terminated strings); formatting anything else is
 * refused. */
static bool req_sane(const goc__calc_req *req)
{
    return req->n <= GOC__CALC_MAX_OPERANDS &&
           memchr(req->op, '\0', sizeof req->op) != NULL;
}

int goc__calc_format_request(const goc__calc_req *req, char *buf, size_t cap)
{
    jout o = {buf, cap, 0, false};
    if (!req_sane(req))
        return -EINVAL;
    put_str(&o, "{\"ID\":");
    put_i64(&o, req->id);
    put_str(&o, ",\"Operands\":[");
    for (size_t i = 0; i < req->n; i++) {
        if (i > 0)
            put(&o, ",", 1);
        put_i64(&o, req->operands[i]);
    }
    put_str(&o, "],\"Operator\":");
    put_jstr(&o, req->op);
    put(&o, "}", 1);
    return finish(&o);
}

int goc__calc_format_response(const goc__calc_resp *resp, char *buf, size_t cap)
{
    jout o = {buf, cap, 0, false};
    if (memchr(resp->formula, '\0', sizeof resp->formula) == NULL ||
        memchr(resp->err, '\0', sizeof resp->err) == NULL)
        return -EINVAL;
    put_str(&o, "{\"ID\":");
    put_i64(&o, resp->id);
    put_str(&o, ",\"Formula\":");
    put_jstr(&o, resp->formula);
    put_str(&o, ",\"Result\":");
    put_i64(&o, resp->result);
    put_str(&o, ",\"Err\":");
    if (resp->has_err)
        put_jstr(&o, resp->err);
    else
        put_str(&o, "null");
    put(&o, "}", 1);
    return finish(&o);
}

/* ---- op() --------------------------------------------------------------- */

void goc__calc_resp_error(goc__calc_resp *out, int64_t id, const char *msg)
{
    out->id = id;
    out->result = 0;
    out->formula[0] = '\0';
    out->has_err = true;
    copy_cut(out->err, sizeof out->err, msg, strlen(msg));
}

int goc__calc_eval(const goc__calc_req *req, goc__calc_resp *out)
{
    char msg[160];
    const char *op = req->op;
    int code = 0;
    if (req->n > GOC__CALC_MAX_OPERANDS) {
        goc__calc_resp_error(out, req->id, "too many operands");
        return -E2BIG;
    }
    bool known = req_sane(req) && op[0] != '\0' && op[1] == '\0' &&
                 strchr("+-*/", op[0]) != NULL;
    if (!known) {
        char shown[GOC__CALC_MAX_OPERATOR + 1];
        copy_cut(shown, sizeof shown, op, strnlen(op, sizeof req->op));
        tame(shown);
        snprintf(msg, sizeof msg, "unknown operator \"%s\"", shown);
        goc__calc_resp_error(out, req->id, msg);
        return -EINVAL;
    }
    /* The book's op(): a zero running result is replaced, not combined. */
    int64_t r = 0;
    for (size_t i = 0; i < req->n && code == 0; i++) {
        int64_t v = req->operands[i], prev = r;
        bool over = false;
        if (r == 0) {
            r = v;
            continue;
        }
        switch (op[0]) {
        case '+':
            over = __builtin_add_overflow(r, v, &r);
            break;
        case '-':
            over = __builtin_sub_overflow(r, v, &r);
            break;
        case '*':
            over = __builtin_mul_overflow(r, v, &r);
            break;
        default:
            if (v == 0) {
                snprintf(msg, sizeof msg,
                         "division by zero: %" PRId64 " / 0 (operand %zu)",
                         prev, i + 1);
                code = -EDOM;
            } else if (r == INT64_MIN && v == -1)
                over = true;
            else
                r /= v;
        }
        if (over) {
            snprintf(msg, sizeof msg,
                     "int64 overflow: %" PRId64 " %c %" PRId64 " (operand %zu)",
                     prev, op[0], v, i + 1);
            code = -ERANGE;
        }
    }
    if (code != 0) {
        goc__calc_resp_error(out, req->id, msg);
        return code;
    }
    out->id = req->id;
    out->result = r;
    out->has_err = false;
    out->err[0] = '\0';
    /* Fits by GOC__CALC_FORMULA_CAP: n and the operator are bounded. */
    goc__calc_formula(req->operands, req->n, op, r, true, out->formula,
                      sizeof out->formula);
    return 0;
}
