/*
 * goc-calcserver - the book's arithmetic server (gopcp.v2
 * chapter4/loadgen testhelper.TCPServer) as a program: line-delimited JSON
 * over TCP, one request per connection (the book's way) unless
 * --keepalive. See goc/calcserver.h for the protocol and what it
 * answers to bad input; SIGINT or SIGTERM stops it and prints its counts.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc/calcserver.h"

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
"  -h, --help               this text\n"
"\n"
"Exit status: 0 after SIGINT or SIGTERM, 2 bad usage, 3 cannot listen.\n");
}
/* clang-format on */

typedef struct args {
    const char *listen;
    goc_calcserver_opts opts;
} args;

static int run(void *arg)
{
    args *a = arg;
    goc_calcserver *s;
    int rc = goc_calcserver_start(&s, a->listen, &a->opts);
    if (rc < 0) {
        fprintf(stderr, "goc-calcserver: cannot listen on %s: %s\n", a->listen,
                goc_strerror(rc));
        return 3;
    }
    printf("goc-calcserver: listening on %s%s\n", goc_calcserver_addr(s),
           a->opts.keepalive ? " (keep-alive)" : "");
    fflush(stdout);
    goc_chan *sigs = goc_chan_make(sizeof(int), 2);
    int want[] = {SIGINT, SIGTERM};
    if (!sigs || goc_signal_notify(sigs, want, 2) < 0) {
        fprintf(stderr, "goc-calcserver: cannot catch SIGINT\n");
        goc_calcserver_stop(s);
        return 3;
    }
    int sig;
    goc_chan_recv(sigs, &sig);
    goc_calcserver_stats st;
    goc_calcserver_get_stats(s, &st);
    goc_calcserver_stop(s);
    goc_signal_stop(sigs);
    goc_chan_free(sigs);
    printf("goc-calcserver: %" PRId64 " connections, %" PRId64
           " requests (%" PRId64 " ok, %" PRId64 " errors)\n",
           st.conns, st.requests, st.ok, st.errors);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"keepalive", no_argument, NULL, 'k'},
        {"idle-timeout", required_argument, NULL, 'i'},
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
