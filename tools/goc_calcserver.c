/*
 * goc-calcserver - the book's arithmetic server (gopcp.v2
 * chapter4/loadgen testhelper.TCPServer) as a program: line-delimited JSON
 * over TCP, one request per connection (the book's way) unless
 * --keepalive. See src/loadgen/calcserver.h for the protocol and what it
 * answers to bad input; SIGINT or SIGTERM stops it and prints its counts.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "loadgen/calcserver.h"

/* clang-format off */
static void usage(FILE *f)
{
    fprintf(f,
"usage: goc-calcserver [options]\n"
"\n"
"Serves the book's arithmetic protocol: one JSON request per line,\n"
"{\"ID\":1,\"Operands\":[1,2],\"Operator\":\"+\"}, one JSON response per line.\n"
"\n"
"  -l, --listen ADDR        host:port to listen on (127.0.0.1:8080)\n"
"  -k, --keepalive          answer many requests per connection (ours; the\n"
"                           book answers one)\n"
"      --idle-timeout SECS  disconnect a client silent that long (30)\n"
"      --request-timeout D  a request line must end within D of its first\n"
"                           byte (10s; units ns us ms s m h)\n"
"      --max-conns N        refuse connections past N open ones with an\n"
"                           error line (0: no cap; default 0)\n"
"  -h, --help               this text\n"
"\n"
"Exit status: 0 after SIGINT or SIGTERM, 2 bad usage, 3 cannot listen.\n");
}
/* clang-format on */

/* A duration with its unit ("10s", "250ms", "1.5m"); -1 if malformed. */
static int64_t parse_duration(const char *s)
{
    static const struct {
        const char *u;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0))
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].u) == 0 && v * units[i].ns < 9e18)
            return (int64_t)(v * units[i].ns);
    return -1;
}

typedef struct args {
    const char *listen;
    goc__calcserver_opts opts;
} args;

static int run(void *arg)
{
    args *a = arg;
    goc__calcserver *s;
    int rc = goc__calcserver_start(&s, a->listen, &a->opts);
    if (rc < 0) {
        fprintf(stderr, "goc-calcserver: cannot listen on %s: %s\n", a->listen,
                goc_strerror(rc));
        return 3;
    }
    printf("goc-calcserver: listening on %s%s\n", goc__calcserver_addr(s),
           a->opts.keepalive ? " (keep-alive)" : "");
    fflush(stdout);
    goc_chan *sigs = goc_chan_make(sizeof(int), 2);
    int want[] = {SIGINT, SIGTERM};
    if (!sigs || goc_signal_notify(sigs, want, 2) < 0) {
        fprintf(stderr, "goc-calcserver: cannot catch SIGINT\n");
        goc__calcserver_stop(s);
        return 3;
    }
    int sig;
    goc_chan_recv(sigs, &sig);
    goc__calcserver_stats st;
    goc__calcserver_get_stats(s, &st);
    goc__calcserver_stop(s);
    goc_signal_stop(sigs);
    goc_chan_free(sigs);
    printf("goc-calcserver: %" PRId64 " connections, %" PRId64
           " requests (%" PRId64 " ok, %" PRId64 " errors)\n",
           st.conns, st.requests, st.ok, st.errors);
    if (st.refused)
        printf("goc-calcserver: %" PRId64 " connections refused (over "
               "--max-conns)\n",
               st.refused);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"keepalive", no_argument, NULL, 'k'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"request-timeout", required_argument, NULL, 'r'},
        {"max-conns", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    args a = {.listen = "127.0.0.1:8080"};
    int c;
    while ((c = getopt_long(argc, argv, "l:kh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            a.listen = optarg;
            break;
        case 'k':
            a.opts.keepalive = true;
            break;
        case 'i': {
            char *end;
            double v = strtod(optarg, &end);
            if (end == optarg || *end || !(v > 0) || v > 1e9) {
                fprintf(stderr, "goc-calcserver: bad idle timeout \"%s\"\n",
                        optarg);
                return 2;
            }
            a.opts.idle_timeout = (int64_t)(v * 1e9);
            break;
        }
        case 'r':
            a.opts.request_timeout = parse_duration(optarg);
            if (a.opts.request_timeout < 0) {
                fprintf(stderr,
                        "goc-calcserver: bad --request-timeout \"%s\" (a "
                        "duration with its unit: 10s, 500ms); try --help\n",
                        optarg);
                return 2;
            }
            break;
        case 'm': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (end == optarg || *end || v < 0) {
                fprintf(stderr,
                        "goc-calcserver: bad --max-conns \"%s\" (a count, "
                        "0 for no cap); try --help\n",
                        optarg);
                return 2;
            }
            a.opts.max_conns = v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    return goc_main(run, &a);
}
