/*
 * cli.h - what goc's command-line tools (goc-loadgen, goc-calcserver)
 * share, so that they speak one style: the same exit codes, a short
 * message naming the flag as the user typed it followed by "Try 'PROG
 * --help'." on bad usage, one syntax of durations. Public API only.
 */
#ifndef GOC_TOOLS_CLI_H
#define GOC_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes, the same in every tool (each documents which it uses). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1,     /* ran, and something failed (calls) */
    CLI_EXIT_USAGE = 2,      /* bad flags or arguments: nothing started */
    CLI_EXIT_CANNOT_RUN = 3, /* cannot listen, resolve, write the report */
    CLI_EXIT_INTERRUPTED = 130,
};

/* The program's name in messages ("goc-loadgen"); set by main. */
extern const char *cli_prog;

/* "PROG: message\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "Try 'PROG --help'.\n" on stderr; returns CLI_EXIT_USAGE. */
int cli_try_help(void);

/* Durations as Go's time.ParseDuration writes them: "10s", "50ms",
 * "250us", "1.5s", "1m30s", "2h"; a bare number is seconds. 0, -EINVAL
 * (not a duration) or -ERANGE (negative or over ~292 years). */
int cli_parse_duration(const char *s, int64_t *out);
/* A decimal integer, optionally followed by one of the NULL-terminated
 * suffixes (NULL: none allowed). 0 or -EINVAL. */
int cli_parse_int(const char *s, int64_t *out, const char *const *suffixes);
/* "50ms", "1.5s", "250us", "12ns" (4 significant digits). */
const char *cli_fmt_dur(char *buf, size_t len, int64_t ns);

/* The flag of getopt_long's last return as the user typed it: "--rate"
 * when longindex >= 0, else "-r". Static storage until the next call. */
const char *cli_flag(int c, int longindex, const void *longopts);

#endif
