/*
 * report_json.c - the JSON report (docs/reports.md): the writer, and a
 * strict reader of this schema only.
 *
 * The reader parses RFC 8259 JSON into a small tree (every node keeps its
 * byte offset, for messages), rejecting what the RFC rejects (trailing
 * commas, leading zeros, control characters in strings, bad escapes,
 * anything after the value, nesting deeper than 64), then maps the tree
 * to an lgr_run, checking each key's presence and type; unknown keys are
 * ignored (a later minor version may add some), a schema or version other
 * than ours is refused. Every message is "NAME:LINE:COL: what".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "report_json.h"

#define JNULL LGR_JNULL
#define JBOOL LGR_JBOOL
#define JNUM LGR_JNUM
#define JSTR LGR_JSTR
#define JARR LGR_JARR
#define JOBJ LGR_JOBJ
typedef lgr_json jnode;

/* ---- writer ----------------------------------------------------------- */

/* A JSON string; <, > and & as \u escapes so that the text can sit
 * inside an HTML <script> element as it is. */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void jcodes(FILE *f, const int64_t *c)
{
    fputc('{', f);
    for (int i = 0; i < LGR_NCODES; i++)
        fprintf(f, "%s\"%s\":%" PRId64, i ? "," : "", lgr_code_keys[i], c[i]);
    fputc('}', f);
}

static void jdist(FILE *f, const char *name, const lgr_dist *d)
{
    fprintf(f, ",\n\"%s\":{\"count\":%" PRIu64 ",\"min\":%" PRId64, name,
            d->count, d->min);
    for (int i = 0; i < LGR_NPCT; i++)
        fprintf(f, ",\"%s\":%" PRId64, lgr_pct_keys[i],
                lgr_percentile(d, lgr_pcts[i]));
    fprintf(f, ",\"max\":%" PRId64 ",\"mean\":%.1f,\"buckets\":[", d->max,
            d->mean);
    for (size_t i = 0; i < d->nbuckets; i++)
        fprintf(f, "%s[%" PRId64 ",%" PRIu64 "]", i ? "," : "",
                d->buckets[i].value, d->buckets[i].count);
    fprintf(f, "]}");
}

int lgr_write_json(FILE *f, const lgr_run *r)
{
    fprintf(f, "{\"schema\":\"%s\",\"schema_version\":%d,\n", LGR_SCHEMA,
            LGR_SCHEMA_VERSION);
    fprintf(f, "\"tool\":{\"name\":\"goc-loadgen\",\"version\":");
    jstr(f, r->tool_version);
    fprintf(f, "},\"library\":{\"name\":\"goc\",\"version\":");
    jstr(f, r->library_version);
    fprintf(f, "},\"host\":");
    jstr(f, r->host);
    fprintf(f, ",\"start_utc\":");
    jstr(f, r->start_utc);
    fprintf(f, ",\n\"target\":");
    jstr(f, r->target);
    fprintf(f,
            ",\"rate\":%" PRId64 ",\"duration_ns\":%" PRId64
            ",\"timeout_ns\":%" PRId64 ",\"max_in_flight\":%" PRId64
            ",\"keepalive\":%s,\"interrupted\":%s,\"stopped_early\":%s,\n"
            "\"planned\":%" PRId64 ",\"issued\":%" PRId64
            ",\"not_issued\":%" PRId64 ",\"late\":%" PRId64
            ",\"late_no_slot\":%" PRId64 ",\n\"codes\":",
            r->rate, r->duration_ns, r->timeout_ns, r->max_in_flight,
            r->keepalive ? "true" : "false", r->interrupted ? "true" : "false",
            r->stopped_early ? "true" : "false", r->planned, r->issued,
            r->not_issued, r->late, r->late_no_slot);
    jcodes(f, r->codes);
    fprintf(f, ",\"statuses\":{");
    for (size_t i = 0; i < r->nstatuses; i++) {
        fprintf(f, "%s", i ? "," : "");
        jstr(f, r->statuses[i].name);
        fprintf(f, ":%" PRId64, r->statuses[i].count);
    }
    fputc('}', f);
    if (r->extra_json && r->extra_json[0])
        fprintf(f, ",\n%s", r->extra_json);
    double ok = r->issued
                    ? 100.0 * (double)r->codes[LGR_SUCCESS] / (double)r->issued
                    : 0.0;
    fprintf(f,
            ",\n\"success\":%" PRId64 ",\"success_percent\":%.4f"
            ",\"achieved_rate\":%.3f,\"success_rate\":%.3f"
            ",\"result_waits\":%" PRId64 ",\"peak_in_flight\":%" PRId64
            ",\"elapsed_ns\":%" PRId64 ",\n\"errors\":{",
            r->codes[LGR_SUCCESS], ok, r->achieved_rate, r->success_rate,
            r->result_waits, r->peak_in_flight, r->elapsed_ns);
    for (size_t i = 0; i < r->nerrors; i++) {
        fprintf(f, "%s", i ? "," : "");
        jstr(f, r->errors[i].name);
        fprintf(f, ":%" PRId64, r->errors[i].count);
    }
    fprintf(f, "},\"first_error\":{");
    for (size_t i = 0, n = 0; i < r->nerrors; i++) {
        if (!r->errors[i].first)
            continue;
        fprintf(f, "%s", n++ ? "," : "");
        jstr(f, r->errors[i].name);
        fputc(':', f);
        jstr(f, r->errors[i].first);
    }
    fputc('}', f);
    jdist(f, "latency_ns", &r->latency);
    jdist(f, "service_ns", &r->service);
    fprintf(f, ",\n\"series\":[");
    for (size_t i = 0; i < r->nseconds; i++) {
        const goc_loadgen_second *s = &r->series[i];
        int64_t c[LGR_NCODES] = {s->success,         s->timeouts,
                                 s->canceled,        s->call_errors,
                                 s->response_errors, s->callee_errors,
                                 s->fatal_calls,     s->other_codes};
        fprintf(f,
                "%s\n{\"second\":%zu,\"issued\":%" PRId64
                ",\"completed\":%" PRId64 ",\"codes\":",
                i ? "," : "", i, s->issued, s->completed);
        jcodes(f, c);
        fprintf(f,
                ",\"p50\":%" PRId64 ",\"p90\":%" PRId64 ",\"p99\":%" PRId64
                ",\"max\":%" PRId64 "}",
                s->p50, s->p90, s->p99, s->max);
    }
    fprintf(f, "]}\n");
    return ferror(f) ? -EIO : 0;
}

/* ---- parser ----------------------------------------------------------- */

typedef struct jparser {
    const char *t;
    size_t len, pos;
    const char *name;
    char *err;
    size_t errlen;
    bool failed;
    int depth;
} jparser;

static void where(const jparser *p, size_t pos, int *line, int *col)
{
    *line = 1, *col = 1;
    for (size_t i = 0; i < pos && i < p->len; i++) {
        if (p->t[i] == '\n')
            ++*line, *col = 1;
        else
            ++*col;
    }
}

static void fail_at(jparser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_at(jparser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    int line, col;
    where(p, pos, &line, &col);
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err)
        snprintf(p->err, p->errlen, "%s:%d:%d: %s (byte %zu)", p->name, line,
                 col, msg, pos);
}

static void jfree(jnode *n)
{
    if (!n)
        return;
    free(n->s);
    for (size_t i = 0; i < n->n; i++) {
        jfree(&n->kids[i]);
        if (n->keys)
            free(n->keys[i]);
    }
    free(n->kids);
    free(n->keys);
}

static void skip_ws(jparser *p)
{
    while (p->pos < p->len && (p->t[p->pos] == ' ' || p->t[p->pos] == '\t' ||
                               p->t[p->pos] == '\n' || p->t[p->pos] == '\r'))
        p->pos++;
}

static const char *what_is(jparser *p)
{
    return p->pos >= p->len ? "the end of the text (truncated?)" : NULL;
}

static void unexpected(jparser *p, const char *want)
{
    const char *eof = what_is(p);
    if (eof)
        fail_at(p, p->pos, "expected %s, found %s", want, eof);
    else {
        unsigned char c = (unsigned char)p->t[p->pos];
        if (c >= 0x20 && c < 0x7f)
            fail_at(p, p->pos, "expected %s, found '%c'", want, c);
        else
            fail_at(p, p->pos, "expected %s, found byte 0x%02x", want, c);
    }
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static void put_utf8(char *out, size_t *o, unsigned cp)
{
    if (cp < 0x80)
        out[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        out[(*o)++] = (char)(0xc0 | cp >> 6);
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xe0 | cp >> 12);
        out[(*o)++] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*o)++] = (char)(0xf0 | cp >> 18);
        out[(*o)++] = (char)(0x80 | (cp >> 12 & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* A string at p->pos (on its '"'): a malloc'd copy, or NULL. */
static char *parse_string(jparser *p)
{
    size_t start = p->pos++;
    size_t end = p->pos;
    while (end < p->len && p->t[end] != '"')
        end += p->t[end] == '\\' ? 2 : 1;
    if (end >= p->len) {
        fail_at(p, start, "string not closed before the end (truncated?)");
        return NULL;
    }
    char *out = malloc(end - p->pos + 1);
    if (!out) {
        fail_at(p, start, "out of memory");
        return NULL;
    }
    size_t o = 0;
    while (p->t[p->pos] != '"') {
        unsigned char c = (unsigned char)p->t[p->pos];
        if (c < 0x20) {
            fail_at(p, p->pos, "control character 0x%02x in a string", c);
            free(out);
            return NULL;
        }
        if (c != '\\') {
            out[o++] = (char)c;
            p->pos++;
            continue;
        }
        char e = p->t[p->pos + 1];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *k = e ? strchr(from, e) : NULL;
        if (k) {
            out[o++] = to[k - from];
            p->pos += 2;
            continue;
        }
        int cp = e == 'u' && p->pos + 6 <= end ? hex4(p->t + p->pos + 2) : -1;
        if (cp <= 0 || (cp >= 0xd800 && cp < 0xe000)) {
            /* \u0000 and surrogates: not in our files */
            fail_at(p, p->pos, "bad escape in a string");
            free(out);
            return NULL;
        }
        put_utf8(out, &o, (unsigned)cp);
        p->pos += 6;
    }
    out[o] = '\0';
    p->pos++;
    return out;
}

static bool parse_value(jparser *p, jnode *n);

static bool parse_number(jparser *p, jnode *n)
{
    size_t s = p->pos, i = s;
    const char *t = p->t;
    if (i < p->len && t[i] == '-')
        i++;
    if (i >= p->len || t[i] < '0' || t[i] > '9') {
        p->pos = i;
        unexpected(p, "a digit");
        return false;
    }
    if (t[i] == '0' && i + 1 < p->len && t[i + 1] >= '0' && t[i + 1] <= '9') {
        fail_at(p, i, "leading zero in a number");
        return false;
    }
    while (i < p->len && t[i] >= '0' && t[i] <= '9')
        i++;
    bool integer = true;
    if (i < p->len && t[i] == '.') {
        integer = false;
        i++;
        if (i >= p->len || t[i] < '0' || t[i] > '9') {
            p->pos = i;
            unexpected(p, "a digit after '.'");
            return false;
        }
        while (i < p->len && t[i] >= '0' && t[i] <= '9')
            i++;
    }
    if (i < p->len && (t[i] == 'e' || t[i] == 'E')) {
        integer = false;
        i++;
        if (i < p->len && (t[i] == '+' || t[i] == '-'))
            i++;
        if (i >= p->len || t[i] < '0' || t[i] > '9') {
            p->pos = i;
            unexpected(p, "a digit in the exponent");
            return false;
        }
        while (i < p->len && t[i] >= '0' && t[i] <= '9')
            i++;
    }
    char buf[64];
    size_t l = i - s;
    if (l >= sizeof buf) {
        fail_at(p, s, "number too long");
        return false;
    }
    memcpy(buf, t + s, l);
    buf[l] = '\0';
    n->type = JNUM;
    n->num = strtod(buf, NULL);
    if (integer) {
        errno = 0;
        n->i = strtoll(buf, NULL, 10);
        n->integer = errno == 0;
    }
    p->pos = i;
    return true;
}

static bool grow_kids(jparser *p, jnode *n, size_t *cap, bool keys)
{
    if (n->n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 8;
    jnode *k = realloc(n->kids, c * sizeof *k);
    if (!k)
        goto nomem;
    n->kids = k;
    if (keys) {
        char **ks = realloc(n->keys, c * sizeof *ks);
        if (!ks)
            goto nomem;
        n->keys = ks;
    }
    *cap = c;
    return true;
nomem:
    fail_at(p, p->pos, "out of memory");
    return false;
}

static bool parse_container(jparser *p, jnode *n, bool obj)
{
    size_t cap = 0;
    n->type = obj ? JOBJ : JARR;
    if (++p->depth > 64) {
        fail_at(p, p->pos, "nested too deep");
        return false;
    }
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->t[p->pos] == (obj ? '}' : ']')) {
        p->pos++;
        p->depth--;
        return true;
    }
    for (;;) {
        if (!grow_kids(p, n, &cap, obj))
            return false;
        jnode *k = &n->kids[n->n];
        memset(k, 0, sizeof *k);
        if (obj) {
            skip_ws(p);
            if (p->pos >= p->len || p->t[p->pos] != '"') {
                unexpected(p, "a key in quotes");
                return false;
            }
            n->keys[n->n] = parse_string(p);
            if (!n->keys[n->n])
                return false;
            n->n++;
            skip_ws(p);
            if (p->pos >= p->len || p->t[p->pos] != ':') {
                unexpected(p, "':'");
                return false;
            }
            p->pos++;
        } else {
            n->n++;
        }
        if (!parse_value(p, k))
            return false;
        skip_ws(p);
        if (p->pos < p->len && p->t[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->t[p->pos] == (obj ? '}' : ']')) {
            p->pos++;
            p->depth--;
            return true;
        }
        unexpected(p, obj ? "',' or '}'" : "',' or ']'");
        return false;
    }
}

static bool parse_value(jparser *p, jnode *n)
{
    skip_ws(p);
    n->pos = p->pos;
    if (p->pos >= p->len) {
        unexpected(p, "a value");
        return false;
    }
    char c = p->t[p->pos];
    if (c == '{' || c == '[')
        return parse_container(p, n, c == '{');
    if (c == '"') {
        n->type = JSTR;
        n->s = parse_string(p);
        return n->s != NULL;
    }
    static const struct {
        const char *w;
        int type;
        bool b;
    } words[] = {
        {"true", JBOOL, true}, {"false", JBOOL, false}, {"null", JNULL, false}};
    for (size_t i = 0; i < 3; i++) {
        size_t l = strlen(words[i].w);
        if (p->len - p->pos >= l && memcmp(p->t + p->pos, words[i].w, l) == 0) {
            n->type = words[i].type;
            n->b = words[i].b;
            p->pos += l;
            return true;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p, n);
    unexpected(p, "a value");
    return false;
}

/* ---- mapping ---------------------------------------------------------- */

static const jnode *get(const jnode *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return &o->kids[i];
    return NULL;
}

static const char *type_name(int t)
{
    static const char *const names[] = {"null",     "a boolean", "a number",
                                        "a string", "an array",  "an object"};
    return names[t];
}

/* The member `key` of o, of type `type`; fails (naming it) otherwise. */
static const jnode *need(jparser *p, const jnode *o, const char *key, int type)
{
    if (p->failed)
        return NULL;
    const jnode *v = get(o, key);
    if (!v) {
        fail_at(p, o->pos, "no \"%s\" in this object", key);
        return NULL;
    }
    if (v->type != type) {
        fail_at(p, v->pos, "\"%s\" must be %s, not %s", key, type_name(type),
                type_name(v->type));
        return NULL;
    }
    return v;
}

static int64_t need_int(jparser *p, const jnode *o, const char *key)
{
    const jnode *v = need(p, o, key, JNUM);
    if (!v)
        return 0;
    if (!v->integer) {
        fail_at(p, v->pos, "\"%s\" must be an integer", key);
        return 0;
    }
    return v->i;
}

static double need_num(jparser *p, const jnode *o, const char *key)
{
    const jnode *v = need(p, o, key, JNUM);
    return v ? v->num : 0;
}

static bool need_bool(jparser *p, const jnode *o, const char *key)
{
    const jnode *v = need(p, o, key, JBOOL);
    return v ? v->b : false;
}

static char *need_str(jparser *p, const jnode *o, const char *key)
{
    const jnode *v = need(p, o, key, JSTR);
    if (!v)
        return NULL;
    char *s = strdup(v->s);
    if (!s)
        fail_at(p, v->pos, "out of memory");
    return s;
}

static void need_codes(jparser *p, const jnode *o, const char *key, int64_t *c)
{
    const jnode *v = need(p, o, key, JOBJ);
    for (int i = 0; v && i < LGR_NCODES; i++)
        c[i] = need_int(p, v, lgr_code_keys[i]);
}

static void need_named(jparser *p, const jnode *o, const char *key,
                       lgr_named **out, size_t *n)
{
    const jnode *v = need(p, o, key, JOBJ);
    if (!v)
        return;
    *out = calloc(v->n ? v->n : 1, sizeof **out);
    if (!*out) {
        fail_at(p, v->pos, "out of memory");
        return;
    }
    for (size_t i = 0; i < v->n && !p->failed; i++) {
        (*out)[i].name = strdup(v->keys[i]);
        (*out)[i].count = need_int(p, v, v->keys[i]);
        *n = i + 1;
    }
}

static void need_dist(jparser *p, const jnode *o, const char *key, lgr_dist *d)
{
    const jnode *v = need(p, o, key, JOBJ);
    if (!v)
        return;
    int64_t count = need_int(p, v, "count");
    d->count = count > 0 ? (uint64_t)count : 0;
    d->min = need_int(p, v, "min");
    d->max = need_int(p, v, "max");
    d->mean = need_num(p, v, "mean");
    for (int i = 0; i < LGR_NPCT; i++)
        need_int(p, v, lgr_pct_keys[i]);
    const jnode *b = need(p, v, "buckets", JARR);
    if (!b)
        return;
    d->buckets = calloc(b->n ? b->n : 1, sizeof *d->buckets);
    if (!d->buckets) {
        fail_at(p, b->pos, "out of memory");
        return;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < b->n; i++) {
        const jnode *e = &b->kids[i];
        if (e->type != JARR || e->n != 2 || e->kids[0].type != JNUM ||
            !e->kids[0].integer || e->kids[1].type != JNUM ||
            !e->kids[1].integer || e->kids[1].i <= 0) {
            fail_at(p, e->pos,
                    "\"%s\" buckets are [value, count] integer pairs, "
                    "count > 0",
                    key);
            return;
        }
        if (i && e->kids[0].i <= d->buckets[i - 1].value) {
            fail_at(p, e->pos, "\"%s\" buckets must ascend", key);
            return;
        }
        d->buckets[i].value = e->kids[0].i;
        d->buckets[i].count = (uint64_t)e->kids[1].i;
        sum += d->buckets[i].count;
    }
    d->nbuckets = b->n;
    if (sum != d->count)
        fail_at(p, b->pos, "\"%s\" buckets count %" PRIu64 ", not %" PRIu64,
                key, sum, d->count);
}

/* The end of the JSON value that starts at pos (already parsed, so
 * well formed): strings skipped with their escapes, brackets balanced. */
static size_t raw_end(const char *t, size_t len, size_t pos)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = pos; i < len; i++) {
        char c = t[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"') {
                in_str = false;
                if (depth == 0)
                    return i + 1;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth <= 0)
                return i + 1;
        } else if (depth == 0 && (c == ',' || c == '\n' || c == ' ')) {
            return i;
        }
    }
    return len;
}

/* The members a run carries beyond the schema's core (the HTTP caller's:
 * "model", "requests_per_second", "processors", "idle_spin_us", "http"),
 * kept as the text they were, so
 * that a report re-rendered from its JSON writes them back unchanged. */
static void keep_extra(jparser *p, const jnode *root, lgr_run *r)
{
    static const char *const keys[] = {"model",      "requests_per_second",
                                       "processors", "idle_spin_us",
                                       "http",       "mpi"};
    if (p->failed)
        return;
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        return;
    int n = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const jnode *v = get(root, keys[k]);
        if (!v)
            continue;
        size_t end = raw_end(p->t, p->len, v->pos);
        fprintf(f, "%s\"%s\":%.*s", n++ ? "," : "", keys[k],
                (int)(end - v->pos), p->t + v->pos);
    }
    if (fclose(f) == 0 && n > 0)
        r->extra_json = buf;
    else
        free(buf);
}

static void map_run(jparser *p, const jnode *root, lgr_run *r)
{
    if (root->type != JOBJ) {
        fail_at(p, root->pos, "not a goc-loadgen report: %s, not an object",
                type_name(root->type));
        return;
    }
    const jnode *sc = get(root, "schema");
    if (!sc || sc->type != JSTR || strcmp(sc->s, LGR_SCHEMA) != 0) {
        fail_at(p, sc ? sc->pos : root->pos,
                "not a goc-loadgen report (no \"schema\":\"%s\")", LGR_SCHEMA);
        return;
    }
    int64_t ver = need_int(p, root, "schema_version");
    if (!p->failed && ver != LGR_SCHEMA_VERSION) {
        fail_at(p, get(root, "schema_version")->pos,
                "schema version %" PRId64 ": this goc-loadgen reads %d", ver,
                LGR_SCHEMA_VERSION);
        return;
    }
    const jnode *tool = need(p, root, "tool", JOBJ);
    if (tool)
        r->tool_version = need_str(p, tool, "version");
    const jnode *lib = need(p, root, "library", JOBJ);
    if (lib)
        r->library_version = need_str(p, lib, "version");
    r->host = need_str(p, root, "host");
    r->start_utc = need_str(p, root, "start_utc");
    r->target = need_str(p, root, "target");
    r->rate = need_int(p, root, "rate");
    r->duration_ns = need_int(p, root, "duration_ns");
    r->timeout_ns = need_int(p, root, "timeout_ns");
    r->max_in_flight = need_int(p, root, "max_in_flight");
    r->keepalive = need_bool(p, root, "keepalive");
    r->interrupted = need_bool(p, root, "interrupted");
    r->stopped_early = need_bool(p, root, "stopped_early");
    r->planned = need_int(p, root, "planned");
    r->issued = need_int(p, root, "issued");
    r->not_issued = need_int(p, root, "not_issued");
    r->late = need_int(p, root, "late");
    r->late_no_slot = need_int(p, root, "late_no_slot");
    need_codes(p, root, "codes", r->codes);
    need_named(p, root, "statuses", &r->statuses, &r->nstatuses);
    r->achieved_rate = need_num(p, root, "achieved_rate");
    r->success_rate = need_num(p, root, "success_rate");
    r->result_waits = need_int(p, root, "result_waits");
    r->peak_in_flight = need_int(p, root, "peak_in_flight");
    r->elapsed_ns = need_int(p, root, "elapsed_ns");
    need_named(p, root, "errors", &r->errors, &r->nerrors);
    const jnode *fe = need(p, root, "first_error", JOBJ);
    for (size_t i = 0; fe && i < fe->n && !p->failed; i++) {
        char *msg = need_str(p, fe, fe->keys[i]);
        lgr_named *e = NULL;
        for (size_t k = 0; k < r->nerrors; k++)
            if (strcmp(r->errors[k].name, fe->keys[i]) == 0)
                e = &r->errors[k];
        if (!e) {
            fail_at(p, fe->kids[i].pos, "\"first_error\": no error kind \"%s\"",
                    fe->keys[i]);
            free(msg);
        } else {
            free(e->first);
            e->first = msg;
        }
    }
    need_dist(p, root, "latency_ns", &r->latency);
    need_dist(p, root, "service_ns", &r->service);
    const jnode *se = need(p, root, "series", JARR);
    if (!se)
        return;
    r->series = calloc(se->n ? se->n : 1, sizeof *r->series);
    if (!r->series) {
        fail_at(p, se->pos, "out of memory");
        return;
    }
    for (size_t i = 0; i < se->n && !p->failed; i++) {
        const jnode *row = &se->kids[i];
        if (row->type != JOBJ) {
            fail_at(p, row->pos, "\"series\" rows must be objects");
            return;
        }
        goc_loadgen_second *s = &r->series[i];
        if (need_int(p, row, "second") != (int64_t)i && !p->failed) {
            fail_at(p, row->pos, "\"series\" row %zu: \"second\" must be %zu",
                    i, i);
            return;
        }
        s->issued = need_int(p, row, "issued");
        s->completed = need_int(p, row, "completed");
        int64_t c[LGR_NCODES] = {0};
        need_codes(p, row, "codes", c);
        s->success = c[LGR_SUCCESS];
        s->timeouts = c[LGR_TIMEOUT];
        s->canceled = c[LGR_CANCELED];
        s->call_errors = c[LGR_CALL];
        s->response_errors = c[LGR_RESPONSE];
        s->callee_errors = c[LGR_CALLEE];
        s->fatal_calls = c[LGR_FATAL];
        s->other_codes = c[LGR_OTHER];
        s->p50 = need_int(p, row, "p50");
        s->p90 = need_int(p, row, "p90");
        s->p99 = need_int(p, row, "p99");
        s->max = need_int(p, row, "max");
        r->nseconds = i + 1;
    }
    keep_extra(p, root, r);
}

int lgr_read_json(lgr_run *r, const char *text, size_t len, const char *name,
                  char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    jparser p = {
        .t = text, .len = len, .name = name, .err = err, .errlen = errlen};
    jnode root = {0};
    if (err && errlen)
        err[0] = '\0';
    if (parse_value(&p, &root)) {
        skip_ws(&p);
        if (p.pos < p.len)
            fail_at(&p, p.pos, "text after the report's end");
    }
    if (!p.failed)
        map_run(&p, &root, r);
    jfree(&root);
    if (p.failed) {
        lgr_free(r);
        return strstr(err ? err : "", "out of memory") ? -ENOMEM : -EINVAL;
    }
    r->source = strdup(name);
    return 0;
}

int lgr_read_json_file(lgr_run *r, const char *path, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            snprintf(err, errlen, "%s: out of memory", path);
            if (f != stdin)
                fclose(f);
            return -ENOMEM;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        char *nb = realloc(buf, cap *= 2);
        if (!nb)
            free(buf);
        buf = nb;
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: cannot read", path);
        free(buf);
        return -EIO;
    }
    int rc = lgr_read_json(r, buf, len, path, err, errlen);
    free(buf);
    return rc;
}

/* ---- the tree, for tests (report_json.h) -------------------------------- */

lgr_json *lgr_json_parse(const char *text, size_t len, const char *name,
                         char *err, size_t errlen)
{
    jparser p = {
        .t = text, .len = len, .name = name, .err = err, .errlen = errlen};
    jnode *root = calloc(1, sizeof *root);
    if (!root)
        return NULL;
    if (parse_value(&p, root)) {
        skip_ws(&p);
        if (p.pos < p.len)
            fail_at(&p, p.pos, "text after the value");
    }
    if (p.failed) {
        lgr_json_free(root);
        return NULL;
    }
    return root;
}

void lgr_json_free(lgr_json *j)
{
    if (j) {
        jfree(j);
        free(j);
    }
}

const lgr_json *lgr_json_get(const lgr_json *obj, const char *key)
{
    return obj && obj->type == LGR_JOBJ ? get(obj, key) : NULL;
}
