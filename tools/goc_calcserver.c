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

#include "cli.h"
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
"      --idle-timeout D     disconnect a client silent that long (30s)\n"
"      --request-timeout D  a request line must end within D of its first\n"
"                           byte (10s; units ns us ms s m h)\n"
"      --max-conns N        refuse connections past N open ones with an\n"
"                           error line (0: no cap; default 0)\n"
"  -h, --help               this text\n"
"\n"
"Durations: 30s, 500ms, 1m30s, 2h (a bare number is seconds).\n"
"Exit status: 0 stopped by SIGINT or SIGTERM (its counts printed), 2 bad\n"
"usage (nothing started), 3 could not run (cannot listen).\n");
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
        cli_error("cannot listen on %s: %s", a->listen, goc_strerror(rc));
        return CLI_EXIT_CANNOT_RUN;
    }
    printf("goc-calcserver: listening on %s%s\n", goc_calcserver_addr(s),
           a->opts.keepalive ? " (keep-alive)" : "");
    fflush(stdout);
    goc_chan *sigs = goc_chan_make(sizeof(int), 2);
    int want[] = {SIGINT, SIGTERM};
    if (!sigs || goc_signal_notify(sigs, want, 2) < 0) {
        cli_error("cannot catch SIGINT");
        goc_calcserver_stop(s);
        return CLI_EXIT_CANNOT_RUN;
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
    int c, longindex = -1;
    cli_prog = "goc-calcserver";
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":l:kh", longopts, &longindex)) != -1) {
        const char *flag = cli_flag(c, longindex, longopts);
        longindex = -1;
        switch (c) {
        case 'l':
            a.listen = optarg;
            break;
        case 'k':
            a.opts.keepalive = true;
            break;
        case 'i': {
            int64_t d = 0;
            if (cli_parse_duration(optarg, &d) < 0 || d <= 0) {
                cli_error("bad %s \"%s\": want a duration more than 0, "
                          "e.g. 30s",
                          flag, optarg);
                return cli_try_help();
            }
            a.opts.idle_timeout = d;
            break;
        }
        case 'r': {
            int64_t d = 0;
            if (cli_parse_duration(optarg, &d) < 0 || d <= 0) {
                cli_error("bad %s \"%s\": want a duration more than 0, "
                          "e.g. 10s",
                          flag, optarg);
                return cli_try_help();
            }
            a.opts.request_timeout = d;
            break;
        }
        case 'm': {
            int64_t v = 0;
            if (cli_parse_int(optarg, &v, NULL) < 0 || v < 0) {
                cli_error("bad %s \"%s\": want a count, 0 for no cap", flag,
                          optarg);
                return cli_try_help();
            }
            a.opts.max_conns = v;
            break;
        }
        case 'h':
            usage(stdout);
            return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_CANNOT_RUN;
        case ':':
            cli_error("option %s needs a value", argv[optind - 1]);
            return cli_try_help();
        default:
            cli_error("unknown option %s", argv[optind - 1]);
            return cli_try_help();
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument \"%s\" (the address goes after -l)",
                  argv[optind]);
        return cli_try_help();
    }
    return goc_main(run, &a);
}
