/*
 * cli.c - what goc's command-line tools share (cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *cli_prog = "goc";

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_try_help(void)
{
    fprintf(stderr, "Try '%s --help'.\n", cli_prog);
    return CLI_EXIT_USAGE;
}

/* Go's time.ParseDuration, plus a bare number meaning seconds. */
int cli_parse_duration(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    const char *p = s;
    double total = 0;
    if (!*p)
        return -EINVAL;
    if (*p == '-')
        return -ERANGE;
    char *end;
    double v = strtod(p, &end);
    if (end != p && *end == '\0' && (*p >= '0' && *p <= '9')) {
        total = v * 1e9;
        goto done;
    }
    while (*p) {
        if (!((*p >= '0' && *p <= '9') || *p == '.'))
            return -EINVAL;
        v = strtod(p, &end);
        if (end == p)
            return -EINVAL;
        p = end;
        size_t best = 0;
        double mul = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t n = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, n) == 0 && n > best &&
                !(n == 1 && p[0] == 'm' && p[1] == 's')) {
                best = n;
                mul = units[i].ns;
            }
        }
        if (!best)
            return -EINVAL;
        p += best;
        total += v * mul;
    }
done:
    if (!(total >= 0) || total > 9.2e18)
        return -ERANGE;
    *out = (int64_t)llround(total);
    return 0;
}

int cli_parse_int(const char *s, int64_t *out, const char *const *suffixes)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || (*s != '-' && (*s < '0' || *s > '9')))
        return -EINVAL;
    for (; *end && suffixes && *suffixes; suffixes++)
        if (!strcmp(end, *suffixes))
            end += strlen(end);
    if (*end)
        return -EINVAL;
    *out = v;
    return 0;
}

const char *cli_fmt_dur(char *buf, size_t len, int64_t ns)
{
    const char *sign = ns < 0 ? "-" : "";
    uint64_t v = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    if (v < 1000)
        snprintf(buf, len, "%s%" PRIu64 "ns", sign, v);
    else if (v < 1000000)
        snprintf(buf, len, "%s%.4gus", sign, (double)v / 1e3);
    else if (v < 1000000000)
        snprintf(buf, len, "%s%.4gms", sign, (double)v / 1e6);
    else
        snprintf(buf, len, "%s%.4gs", sign, (double)v / 1e9);
    return buf;
}

const char *cli_flag(int c, int longindex, const void *longopts)
{
    static char buf[64];
    const struct option *lo = longopts;
    if (longindex >= 0)
        snprintf(buf, sizeof buf, "--%s", lo[longindex].name);
    else
        snprintf(buf, sizeof buf, "-%c", c);
    return buf;
}
