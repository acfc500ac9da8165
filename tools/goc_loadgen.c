/*
 * goc-loadgen - a constant-rate load generator (goc/loadgen.h) for the
 * command line, in the style of wrk2 and vegeta. See usage() below.
 *
 * With no target it is the book's own scenario (gopcp.v2 chapter4/loadgen
 * gen_test.go): it starts the arithmetic server in process on an
 * ephemeral 127.0.0.1 port and sends it 1,000 calls per second for 10 s
 * with a 50 ms timeout. That is `make run`.
 *
 * SIGINT or SIGTERM stops the run cleanly (goc_loadgen_stop): the report is
 * still printed, every issued call accounted for, and the exit status is
 * 130. A second one exits at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "goc.h"
#include "loadgen_mpi.h"
#include "plugin.h"
#include "report.h"
#include "report_live.h"

#ifdef GOC_LOADGEN_TLS
/* tools/tls.c, a plugin (goc-loadgen-tls.so, plugin.h) loaded for an
 * https:// target only: a run without TLS maps no OpenSSL library. */
#define TLS_PLUGIN "goc-loadgen-tls.so"
static goc_http_transport *(*tls_transport_fn)(bool);
static void (*tls_counts_fn)(long *, long *);

/* An https transport over OpenSSL; NULL after saying why. */
static goc_http_transport *cli_tls_transport(bool insecure)
{
    if (!tls_transport_fn) {
        void *h = cli_plugin_open(TLS_PLUGIN, "GOC_LOADGEN_TLS_PLUGIN");
        if (!h)
            return NULL;
        *(void **)&tls_counts_fn =
            cli_plugin_sym(h, TLS_PLUGIN, "cli_tls_counts");
        *(void **)&tls_transport_fn =
            cli_plugin_sym(h, TLS_PLUGIN, "cli_tls_transport");
        if (!tls_counts_fn || !tls_transport_fn) {
            tls_transport_fn = NULL;
            return NULL;
        }
    }
    goc_http_transport *t = tls_transport_fn(insecure);
    if (!t)
        cli_error("cannot set up OpenSSL");
    return t;
}

/* Handshakes made, and of those the ones that resumed a session. */
static void cli_tls_counts(long *handshakes, long *resumed)
{
    *handshakes = *resumed = 0;
    if (tls_counts_fn)
        tls_counts_fn(handshakes, resumed);
}
#else
static goc_http_transport *cli_tls_transport(bool insecure)
{
    (void)insecure;
    return NULL; /* built without OpenSSL */
}
static void cli_tls_counts(long *handshakes, long *resumed)
{
    *handshakes = *resumed = 0;
}
#endif

/* TLS handshakes and resumptions of the warm-up, not reported. */
static long tls_base[2];

enum {
    EXIT_ALL_OK = CLI_EXIT_OK,
    EXIT_FAILED_CALLS = CLI_EXIT_FAILED,
    EXIT_USAGE = CLI_EXIT_USAGE,
    EXIT_CANNOT_RUN = CLI_EXIT_CANNOT_RUN,
    EXIT_INTERRUPTED = CLI_EXIT_INTERRUPTED,
};

#define RATE_MAX INT64_C(1000000000)
#define IN_FLIGHT_MAX INT64_C(1000000)
#define FLAG_LEN 32
/* The least time the target's name may take to resolve at the start. */
#define RESOLVE_MIN (5 * GOC_SECOND)
/* HTTP's open model: connections without -c. */
#define HTTP_OPEN_CONNECTIONS 10
/* The idle spin when the target is on this machine (share_host). */
#define LOCAL_IDLE_SPIN (50 * GOC_MICROSECOND)

typedef struct options {
    const char *target; /* NULL: the in-process calc server */
    int64_t rate, duration, timeout, max_in_flight;
    bool keepalive, json, quiet; /* json: the JSON report on stdout */
    /* Report files (report.h); "-" is stdout for --json. */
    const char *json_path, *hgrm_path, *log_path, *html_path;
    const char *calls_path; /* --calls-log: one line per call */
    int64_t clock_bound;    /* under mpirun: --clock-bound */
    const char *payload;
    /* HTTP (http:// and https:// targets). */
    bool http, closed; /* closed model: an http target without -r */
    bool rate_given, duration_given, timeout_given, conns_given;
    /* HTTP's open model: -c is the connections' cap (-1: none given), and
     * --max-in-flight the calls'. */
    int64_t connections;
    bool mif_given;
    int64_t count, warmup, pipeline;
    const char *method, *host, *body_arg;
    const char *headers[64];
    size_t nheaders;
    bool no_keepalive, insecure;
    /* Each flag as the user typed it, for messages. */
    char rate_flag[FLAG_LEN], duration_flag[FLAG_LEN], timeout_flag[FLAG_LEN],
        conn_flag[FLAG_LEN];
} options;

/* clang-format off */
static void usage(FILE *f)
{
    fprintf(f,
"usage: goc-loadgen [options] [target]\n"
"       goc-loadgen report RUN.json... [--html FILE] [--json FILE|-]\n"
"                          [--hgrm FILE] [--log FILE]\n"
"\n"
"Sends calls at a constant rate, each on its own schedule whether or not\n"
"earlier ones have returned (an open model), and reports the latency of\n"
"each call from the moment it was due, so that a stalled server shows.\n"
"\n"
"target:\n"
"  calc://host:port     the book's arithmetic JSON-over-TCP protocol\n"
"  tcp://host:port      one line out, the same line back (echo)\n"
"  (none)               the book's scenario: an arithmetic server started\n"
"                       in process on 127.0.0.1, 1000 calls/s, 50ms\n"
"                       timeout, 10s\n"
"  http://host[:port]/path?query   HTTP/1.1 (keep-alive unless told)\n"
"  https://...          HTTP/1.1 over TLS, where built with OpenSSL\n"
"\n"
"Two models:\n"
"  open   (-r RATE; calc://, tcp:// and no target always): every call on\n"
"         its own schedule, latency from its due time (wrk2's promise).\n"
"         HTTP: -c connections carry the calls; a call due while every\n"
"         one is busy waits in line for one, its latency still counted\n"
"         from its due time (as wrk2's -c).\n"
"  closed (an http target without -r): -c connections, each sending its\n"
"         next request when the previous one is answered (wrk's\n"
"         max-throughput mode). It reports requests/s and service time:\n"
"         closed-model latencies hide queueing (a slow server slows the\n"
"         requests down instead of showing in their latency).\n"
"\n"
"options:\n"
"  -r, --rate N             calls per second (1000; also N/s, N/1s)\n"
"  -d, --duration D         how long the run lasts (10s): calls not started\n"
"                           by then are not issued (\"not issued\"), calls\n"
"                           in flight end by their timeout\n"
"  -t, --timeout D          timeout of each call (50ms)\n"
"  -c, --connections N      at most N calls in flight; default: the\n"
"      --max-in-flight N    book's timeout * rate + 1\n"
"  -k, --keepalive          keep connections open between calls (the book\n"
"                           dials one per call)\n"
"      --payload TEXT       tcp:// only: the line to send\n"
"  -n, --requests N         at most N calls (then the run ends; -d still\n"
"                           bounds it when given)\n"
"      --warmup D           run D first with the same settings, sent but\n"
"                           not recorded\n"
"HTTP (http:// and https:// targets):\n"
"  -c, --connections N      N connections (10): the closed model's, or at\n"
"                           most N in the open model (--max-in-flight:\n"
"                           the calls in flight, waiting ones included)\n"
"  -X, --method M           the request method (GET)\n"
"  -H, --header 'N: v'      a request header (repeatable)\n"
"      --body TEXT|@FILE    the request body (Content-Length is sent)\n"
"      --host NAME          the Host header (default: from the URL)\n"
"      --no-keepalive       a new connection per request\n"
"      --pipeline N         N requests in flight per connection (1)\n"
"      --insecure           https: do not verify the server's certificate\n"
"  The timeout of an HTTP call is 2s unless -t is given. Threads: set\n"
"  GOCMAXPROCS (goc's GOMAXPROCS; default: every CPU, half of them when\n"
"  the target is on this machine); there is no -t for threads (-t is the\n"
"  timeout). A target on this machine also gets a 50 us idle spin\n"
"  (GOCIDLESPIN=US changes it, 0 turns it off).\n"
"      --json [FILE|-]      the report as JSON (docs/reports.md) into FILE,\n"
"                           or instead of the text report on stdout\n"
"      --hgrm FILE          latency percentile distribution, HdrHistogram's\n"
"                           .hgrm format (service time: FILE.service)\n"
"      --log FILE           one CSV row per second\n"
"      --html FILE          a self-contained page with plots (open it in a\n"
"                           browser)\n"
"      --calls-log FILE     one CSV line per call: seq,code,latency_ns,\n"
"                           service_ns,slop_ns (slop: its start minus its\n"
"                           due time); under mpirun FILE.RANK per rank\n"
"Under mpirun (docs/mpi.md): rank r of N makes the calls k %% N == r of\n"
"the schedule (closed model: a share of -c and -n; HTTP's open model:\n"
"up to -c connections each), from one start;\n"
"rank 0 writes the one report (one row per rank too). This build: %s.\n"
"      --clock-bound D      refuse to start when a rank's clock offset to\n"
"                           rank 0 is known less well than D (5ms)\n"
"  -q, --quiet              no live line (it is shown on stderr, rewritten\n"
"                           second when stdout is a terminal)\n"
"  -h, --help               this text\n"
"\n"
"Durations: 10s, 50ms, 250us, 1.5s, 1m30s, 2h (a bare number is seconds).\n"
"report: reads JSON reports back (--json FILE) and writes the files above\n"
"from them; --html with several overlays the runs on the same axes.\n"
"\n"
"Exit status: 0 every call succeeded, 1 some call failed or timed out,\n"
"2 bad usage, 3 could not run, 130 interrupted (the report is printed).\n",
#ifdef GOC_LOADGEN_MPI
        "with MPI"
#else
        "without MPI"
#endif
        );
}
/* clang-format on */

/* Remembers the flag as typed ("-r" or "--rate") for later messages. */
static void set_flag(char *dst, int c, int longindex, const void *longopts)
{
    snprintf(dst, FLAG_LEN, "%s", cli_flag(c, longindex, longopts));
}

/* Parses and checks every flag and the target before anything starts;
 * prints each problem, naming the flag as typed. 0 or -EINVAL. */
static int parse_args(int argc, char **argv, options *o)
{
    enum {
        OPT_JSON = 256,
        OPT_PAYLOAD,
        OPT_MAX_IN_FLIGHT,
        OPT_WARMUP,
        OPT_BODY,
        OPT_HOST,
        OPT_NO_KEEPALIVE,
        OPT_PIPELINE,
        OPT_INSECURE,
        OPT_HGRM,
        OPT_LOG,
        OPT_HTML,
        OPT_CALLS_LOG,
        OPT_CLOCK_BOUND
    };
    static const char *const rate_suffixes[] = {"/s", "/1s", NULL};
    static const struct option longopts[] = {
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, 't'},
        {"connections", required_argument, NULL, 'c'},
        {"max-in-flight", required_argument, NULL, OPT_MAX_IN_FLIGHT},
        {"keepalive", no_argument, NULL, 'k'},
        {"payload", required_argument, NULL, OPT_PAYLOAD},
        {"json", optional_argument, NULL, OPT_JSON},
        {"hgrm", required_argument, NULL, OPT_HGRM},
        {"log", required_argument, NULL, OPT_LOG},
        {"html", required_argument, NULL, OPT_HTML},
        {"calls-log", required_argument, NULL, OPT_CALLS_LOG},
        {"clock-bound", required_argument, NULL, OPT_CLOCK_BOUND},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"requests", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"method", required_argument, NULL, 'X'},
        {"header", required_argument, NULL, 'H'},
        {"body", required_argument, NULL, OPT_BODY},
        {"host", required_argument, NULL, OPT_HOST},
        {"no-keepalive", no_argument, NULL, OPT_NO_KEEPALIVE},
        {"pipeline", required_argument, NULL, OPT_PIPELINE},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {NULL, 0, NULL, 0}};
    int http_flags = 0; /* flags for http targets only, seen */
    const char *http_flag = NULL;
    *o = (options){.rate = 1000,
                   .duration = 10 * GOC_SECOND,
                   .timeout = 50 * GOC_MILLISECOND,
                   .clock_bound = LGM_CLOCK_BOUND,
                   .rate_flag = "-r",
                   .duration_flag = "-d",
                   .timeout_flag = "-t",
                   .conn_flag = "-c",
                   .connections = -1};
    int c, bad = 0, longindex = -1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:d:t:c:kqhn:X:H:", longopts,
                            &longindex)) != -1) {
        int rc = 0;
        const char *want = NULL;
        const char *flag = cli_flag(c, longindex, longopts);
        switch (c) {
        case 'r':
            set_flag(o->rate_flag, c, longindex, longopts);
            rc = cli_parse_int(optarg, &o->rate, rate_suffixes);
            o->rate_given = true;
            want = "calls per second, e.g. 1000";
            break;
        case 'd':
            set_flag(o->duration_flag, c, longindex, longopts);
            rc = cli_parse_duration(optarg, &o->duration);
            o->duration_given = true;
            want = "a duration, e.g. 10s";
            break;
        case 't':
            set_flag(o->timeout_flag, c, longindex, longopts);
            rc = cli_parse_duration(optarg, &o->timeout);
            o->timeout_given = true;
            want = "a duration, e.g. 50ms";
            break;
        case 'c':
        case OPT_MAX_IN_FLIGHT:
            set_flag(o->conn_flag, c, longindex, longopts);
            rc = cli_parse_int(optarg, &o->max_in_flight, NULL);
            o->conns_given = true;
            if (c == 'c')
                o->connections = o->max_in_flight;
            else
                o->mif_given = true;
            want = "a number of calls, e.g. 100";
            break;
        case 'k':
            o->keepalive = true;
            break;
        case OPT_PAYLOAD:
            o->payload = optarg;
            break;
        case OPT_JSON:
            /* --json alone: stdout. --json=FILE, or --json FILE when the
             * next word is "-" or a file name (not an option, not a
             * target URL). */
            o->json_path = optarg ? optarg : "-";
            if (!optarg && optind < argc &&
                (strcmp(argv[optind], "-") == 0 ||
                 (argv[optind][0] != '-' && !strstr(argv[optind], "://"))))
                o->json_path = argv[optind++];
            o->json = strcmp(o->json_path, "-") == 0;
            break;
        case OPT_HGRM:
            o->hgrm_path = optarg;
            break;
        case OPT_LOG:
            o->log_path = optarg;
            break;
        case OPT_HTML:
            o->html_path = optarg;
            break;
        case OPT_CALLS_LOG:
            o->calls_path = optarg;
            break;
        case OPT_CLOCK_BOUND:
            rc = cli_parse_duration(optarg, &o->clock_bound);
            if (rc == 0 && o->clock_bound <= 0)
                rc = -ERANGE;
            want = "a duration, e.g. 5ms";
            break;
        case 'n':
            rc = cli_parse_int(optarg, &o->count, NULL);
            if (rc == 0 && o->count < 1)
                rc = -EINVAL;
            want = "a number of calls, 1 or more";
            break;
        case OPT_WARMUP:
            rc = cli_parse_duration(optarg, &o->warmup);
            want = "a duration, e.g. 2s";
            break;
        case 'X':
        case 'H':
        case OPT_BODY:
        case OPT_HOST:
        case OPT_NO_KEEPALIVE:
        case OPT_PIPELINE:
        case OPT_INSECURE:
            http_flags++;
            http_flag = flag;
            if (c == 'X')
                o->method = optarg;
            else if (c == OPT_BODY)
                o->body_arg = optarg;
            else if (c == OPT_HOST)
                o->host = optarg;
            else if (c == OPT_NO_KEEPALIVE)
                o->no_keepalive = true;
            else if (c == OPT_INSECURE)
                o->insecure = true;
            else if (c == 'H' && o->nheaders == 64)
                cli_error("at most 64 headers (-H)"), bad++;
            else if (c == 'H')
                o->headers[o->nheaders++] = optarg;
            else if (c == OPT_PIPELINE) {
                rc = cli_parse_int(optarg, &o->pipeline, NULL);
                if (rc == 0 && (o->pipeline < 1 || o->pipeline > 1024))
                    rc = -EINVAL;
                want = "a depth 1 to 1024";
            }
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            exit(fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_CANNOT_RUN);
        case ':':
            cli_error("option %s needs a value", argv[optind - 1]);
            return -EINVAL;
        default:
            cli_error("unknown option %s", argv[optind - 1]);
            return -EINVAL;
        }
        if (rc < 0) {
            cli_error("bad %s \"%s\": want %s", flag, optarg, want);
            bad++;
        }
        longindex = -1;
    }
    if (optind < argc)
        o->target = argv[optind++];
    if (optind < argc) {
        cli_error("one target only (got \"%s\" too)", argv[optind]);
        return -EINVAL;
    }
    if (bad)
        return -EINVAL;
    o->http = o->target && (strncmp(o->target, "http://", 7) == 0 ||
                            strncmp(o->target, "https://", 8) == 0);
    if (http_flags && !o->http) {
        cli_error("%s is for http:// and https:// targets only", http_flag);
        bad++;
    }
    if (o->http) {
        o->closed = !o->rate_given;
        o->keepalive = !o->no_keepalive;
        if (!o->timeout_given)
            o->timeout = 2 * GOC_SECOND;
        if (o->closed && !o->conns_given)
            o->max_in_flight = 10;
        if (o->closed && o->max_in_flight == 0) {
            cli_error("%s must be 1 or more in the closed model (no -r)",
                      o->conn_flag);
            bad++;
        }
        if (o->pipeline < 1)
            o->pipeline = 1;
        /* The open model: -c connections (10) carry the calls, which wait
         * in line when every one is busy; the calls in flight are
         * --max-in-flight's (the book's default). */
        if (!o->closed) {
            if (o->connections < 0)
                o->connections = HTTP_OPEN_CONNECTIONS;
            if (!o->mif_given)
                o->max_in_flight = 0;
            if (o->connections < 1 ||
                o->connections > GOC_HTTP_CONNECTIONS_MAX) {
                cli_error("-c must be 1 to %d connections in the open model "
                          "(got %" PRId64 ")",
                          GOC_HTTP_CONNECTIONS_MAX, o->connections);
                bad++;
            }
        }
        /* The closed model: -c connections, pipeline workers on each. */
        if (o->closed && o->max_in_flight * o->pipeline > IN_FLIGHT_MAX) {
            cli_error("%s times --pipeline is more than %" PRId64
                      " requests in flight",
                      o->conn_flag, IN_FLIGHT_MAX);
            bad++;
        }
    }
    if (o->count && !o->duration_given)
        o->duration = 24 * 3600 * GOC_SECOND; /* -n bounds it */
    /* Values: every problem, each naming its flag. */
    if (o->rate < 1 || o->rate > RATE_MAX) {
        cli_error("%s must be 1 to %" PRId64 " calls per second (got %" PRId64
                  ")",
                  o->rate_flag, RATE_MAX, o->rate);
        bad++;
    }
    if (o->duration <= 0) {
        cli_error("%s must be more than 0", o->duration_flag);
        bad++;
    }
    if (o->timeout <= 0) {
        cli_error("%s must be more than 0", o->timeout_flag);
        bad++;
    }
    if (o->max_in_flight < 0 || o->max_in_flight > IN_FLIGHT_MAX) {
        cli_error("%s must be 1 to %" PRId64
                  ", or 0 for the default (got %" PRId64 ")",
                  o->conn_flag, IN_FLIGHT_MAX, o->max_in_flight);
        bad++;
    }
    if (!bad && (double)o->duration / 1e9 * (double)o->rate > 4e18) {
        cli_error("%s times %s plans too many calls", o->duration_flag,
                  o->rate_flag);
        bad++;
    }
    if (o->payload && (!o->target || strncmp(o->target, "tcp://", 6) != 0)) {
        cli_error("--payload is for tcp:// targets only (the calc protocol "
                  "builds its own requests)");
        bad++;
    }
    return bad ? -EINVAL : 0;
}

/* ---- output ----------------------------------------------------------- */

static const char *dur(char *buf, size_t len, int64_t ns)
{
    return cli_fmt_dur(buf, len, ns);
}

/* How long the run was bounded: "-n N" alone bounds it by its count
 * (its duration is then only a day's safety net, not worth printing). */
static const char *span(char *buf, size_t len, const options *o,
                        int64_t duration)
{
    if (o->count && !o->duration_given) {
        snprintf(buf, len, "%" PRId64 " call%s", o->count,
                 o->count == 1 ? "" : "s");
        return buf;
    }
    return dur(buf, len, duration);
}

static void print_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&')
            fprintf(f, "\\u%04x", ch); /* safe inside the HTML page too */
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* The HTTP caller's counts, as one JSON member ("http":{...}). */
static void print_json_http(FILE *f, const options *o, const goc_http_stats *h)
{
    fprintf(f, "\"http\":{\"status\":{");
    for (int i = 0, n = 0; i < 600; i++)
        if (h->status[i])
            fprintf(f, "%s\"%d\":%" PRId64, n++ ? "," : "", i, h->status[i]);
    fprintf(f,
            "},\"status_class\":{\"2xx\":%" PRId64 ",\"3xx\":%" PRId64
            ",\"4xx\":%" PRId64 ",\"5xx\":%" PRId64 "},\"responses\":%" PRId64
            ",\"interim_1xx\":%" PRId64 ",\"malformed\":%" PRId64
            ",\"first_malformed\":",
            h->status_class[2], h->status_class[3], h->status_class[4],
            h->status_class[5], h->responses, h->interim, h->malformed);
    print_json_string(f, h->first_malformed);
    long hs, res;
    cli_tls_counts(&hs, &res);
    hs -= tls_base[0], res -= tls_base[1];
    fprintf(f, ",\"tls_handshakes\":%ld,\"tls_resumed\":%ld", hs, res);
    fprintf(f,
            ",\"bytes_read\":%" PRId64 ",\"bytes_written\":%" PRId64
            ",\"connections\":%" PRId64 ",\"closed_by_server\":%" PRId64
            ",\"resent\":%" PRId64 ",\"pipeline\":%" PRId64
            ",\"max_connections\":%" PRId64
            ",\"waited_for_connection\":%" PRId64
            ",\"socket_errors\":{\"connect\":%" PRId64 ",\"read\":%" PRId64
            ",\"write\":%" PRId64 ",\"timeout\":%" PRId64 "}}",
            h->bytes_read, h->bytes_written, h->connects, h->closed_by_server,
            h->retries, o->pipeline,
            o->closed ? o->max_in_flight : o->connections, h->conn_waits,
            h->connect_errors, h->read_errors, h->write_errors, h->timeouts);
}

/* The results by code, and the errors by kind. */
static void print_text_codes(FILE *f, const struct goc_loadgen_report *r)
{
    struct {
        int code;
        int64_t n;
    } rows[] = {{GOC_RET_SUCCESS, r->success},
                {GOC_RET_WARNING_CALL_TIMEOUT, r->timeouts},
                {GOC_RET_WARNING_CALL_CANCELED, r->canceled},
                {GOC_RET_ERROR_CALL, r->call_errors},
                {GOC_RET_ERROR_RESPONSE, r->response_errors},
                {GOC_RET_ERROR_CALEE, r->callee_errors},
                {GOC_RET_FATAL_CALL, r->fatal_calls},
                {-1, r->other_codes}};
    fprintf(f, "  results\n");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (i > 0 && rows[i].n == 0)
            continue;
        char name[64];
        if (rows[i].code < 0)
            snprintf(name, sizeof name, "Other codes");
        else
            snprintf(name, sizeof name, "%s (%d)",
                     goc_ret_code_plain(rows[i].code), rows[i].code);
        fprintf(f, "    %-30s %10" PRId64 "  %7.3f%%\n", name, rows[i].n,
                r->issued ? 100.0 * (double)rows[i].n / (double)r->issued
                          : 0.0);
    }
    bool any = false;
    for (int k = 1; k < GOC_CALL_ERR_N; k++)
        any |= r->errors[k] > 0;
    if (any) {
        fprintf(f, "  errors    by kind, with the first message of each\n");
        for (int k = 1; k < GOC_CALL_ERR_N; k++)
            if (r->errors[k])
                fprintf(f, "    %-16s %10" PRId64 "  %s\n",
                        goc_call_err_name(k), r->errors[k], r->first_error[k]);
    }
}

/* The HTTP caller's counts, in text. */
static void print_text_http(FILE *f, const struct goc_loadgen_report *r,
                            const goc_http_stats *h)
{
    fprintf(f,
            "  http      2xx %" PRId64 ", 3xx %" PRId64 ", 4xx %" PRId64
            ", 5xx %" PRId64 "; by code:",
            h->status_class[2], h->status_class[3], h->status_class[4],
            h->status_class[5]);
    int n = 0;
    for (int i = 0; i < 600; i++)
        if (h->status[i])
            fprintf(f, " %d: %" PRId64, i, h->status[i]), n++;
    fprintf(f, "%s\n", n ? "" : " none");
    double secs = r->elapsed > 0 ? (double)r->elapsed / 1e9 : 1;
    fprintf(f,
            "            bytes read %" PRId64 " (%.1f MB/s), written %" PRId64
            "; connections %" PRId64,
            h->bytes_read, (double)h->bytes_read / secs / 1e6, h->bytes_written,
            h->connects);
    if (h->closed_by_server)
        fprintf(f, " (%" PRId64 " closed by the server)", h->closed_by_server);
    if (h->retries)
        fprintf(f, "; %" PRId64 " requests resent on a new connection",
                h->retries);
    if (h->conn_waits)
        fprintf(f, "; %" PRId64 " calls waited for a connection",
                h->conn_waits);
    fprintf(f, "\n");
    if (h->interim)
        fprintf(f, "            1xx responses skipped %" PRId64 "\n",
                h->interim);
    if (h->malformed)
        fprintf(f, "            malformed responses %" PRId64 " (first: %s)\n",
                h->malformed, h->first_malformed);
    long hs, res;
    cli_tls_counts(&hs, &res);
    hs -= tls_base[0], res -= tls_base[1];
    if (hs)
        fprintf(f, "            tls handshakes %ld, %ld of them resumed\n", hs,
                res);
    fprintf(f,
            "            socket errors: connect %" PRId64 ", read %" PRId64
            ", write %" PRId64 ", timeout %" PRId64 "\n",
            h->connect_errors, h->read_errors, h->write_errors, h->timeouts);
}

static void print_text(FILE *f, const char *target, const options *o,
                       const struct goc_loadgen_report *r, bool interrupted,
                       const goc_http_stats *hs)
{
    char a[32], b[32];
    if (r->closed) {
        fprintf(f,
                "\n%s: closed model, %" PRId64 " connection%s%s for %s, "
                "timeout %s%s\n",
                target, o->max_in_flight, o->max_in_flight == 1 ? "" : "s",
                o->pipeline > 1 ? " (pipelined)" : "",
                span(a, sizeof a, o, r->duration), dur(b, sizeof b, r->timeout),
                interrupted ? " (interrupted)" : "");
        if (o->pipeline > 1)
            fprintf(f,
                    "  pipeline  %" PRId64 " requests in flight per "
                    "connection\n",
                    o->pipeline);
        fprintf(f, "  calls     %" PRId64 " issued", r->issued);
        if (r->not_issued)
            fprintf(f, ", %" PRId64 " of -n not issued (%s)", r->not_issued,
                    r->stopped_early ? "stopped first" : "out of time");
        fprintf(f, "\n  rate      %.1f requests/s, successes %.1f/s\n",
                r->achieved_rate, r->success_rate);
        print_text_codes(f, r);
        if (hs)
            print_text_http(f, r, hs);
        const goc_loadgen_latency *s = &r->service;
        fprintf(f, "  service time (closed model: these latencies hide "
                   "queueing; use -r RATE\n"
                   "  for latency from each request's due time)\n");
        fprintf(f, "    p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
                dur(a, sizeof a, s->p50), dur(b, sizeof b, s->p90),
                dur((char[32]){0}, 32, s->p99), dur((char[32]){0}, 32, s->p999),
                dur((char[32]){0}, 32, s->max),
                dur((char[32]){0}, 32, (int64_t)s->mean));
        fprintf(f, "  elapsed %s, peak in flight %" PRId64 "\n",
                dur(a, sizeof a, r->elapsed), r->peak_in_flight);
        return;
    }
    fprintf(f,
            "\n%s: %" PRId64 " calls/s for %s, timeout %s, %" PRId64
            " in flight at most, keep-alive %s%s\n",
            target, r->lps, span(a, sizeof a, o, r->duration),
            dur(b, sizeof b, r->timeout), r->max_in_flight,
            o->keepalive ? "on" : "off", interrupted ? " (interrupted)" : "");
    if (o->http)
        fprintf(f, "  over at most %" PRId64 " connection%s%s\n",
                o->connections, o->connections == 1 ? "" : "s",
                o->pipeline > 1 ? " (pipelined)" : "");
    fprintf(f, "  calls     %" PRId64 " planned, %" PRId64 " issued",
            r->planned, r->issued);
    if (r->not_issued)
        fprintf(f, ", %" PRId64 " not issued (%s)", r->not_issued,
                r->stopped_early ? "stopped first"
                                 : "not started by the end of the run");
    fprintf(f, "\n");
    if (r->late)
        fprintf(f,
                "  late      %" PRId64 " started after their due time, %" PRId64
                " of them because no slot was free then\n",
                r->late, r->late_no_slot);
    fprintf(f,
            "  rate      asked %" PRId64 "/s, achieved %.1f/s (%.4fx), "
            "successes %.1f/s\n",
            r->lps, r->achieved_rate,
            r->lps ? r->achieved_rate / (double)r->lps : 0.0, r->success_rate);
    print_text_codes(f, r);
    if (hs)
        print_text_http(f, r, hs);
    const goc_loadgen_latency *l = &r->latency, *s = &r->service;
    fprintf(f, "  latency   %-14s %-14s\n", "from due time", "service time");
    struct {
        const char *name;
        int64_t a, b;
    } lat[] = {{"p50", l->p50, s->p50},        {"p90", l->p90, s->p90},
               {"p99", l->p99, s->p99},        {"p99.9", l->p999, s->p999},
               {"p99.99", l->p9999, s->p9999}, {"max", l->max, s->max}};
    for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++)
        fprintf(f, "    %-7s %-14s %-14s\n", lat[i].name,
                dur(a, sizeof a, lat[i].a), dur(b, sizeof b, lat[i].b));
    fprintf(f,
            "  elapsed %s, peak in flight %" PRId64 ", result waits %" PRId64
            "\n",
            dur(a, sizeof a, r->elapsed), r->peak_in_flight, r->result_waits);
}

/* Writes the report files asked for (and the JSON on stdout). 0, or -1
 * after saying which file could not be written. */
/* The HTTP caller's counts and the closed model's rate in a report: the
 * statuses (the HTML table's) and, verbatim in the JSON, "model",
 * "requests_per_second", "processors", "idle_spin_us" and the "http"
 * member. 0 or -ENOMEM. */
static int add_http_members(lgr_run *run, const options *o,
                            const struct goc_loadgen_report *rep,
                            const goc_http_stats *hs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    fprintf(f, "\"model\":\"%s\"", rep->closed ? "closed" : "open");
    if (rep->closed)
        fprintf(f, ",\"requests_per_second\":%.3f", rep->achieved_rate);
    /* What the generator ran on (share_host's choices included). */
    fprintf(f, ",\"processors\":%d,\"idle_spin_us\":%" PRId64, goc_maxprocs(0),
            goc_idle_spin(-1) / GOC_MICROSECOND);
    if (hs) {
        fputc(',', f);
        print_json_http(f, o, hs);
    }
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    run->extra_json = buf;
    if (!hs)
        return 0;
    size_t n = 0;
    for (int i = 0; i < 600; i++)
        n += hs->status[i] != 0;
    if (n == 0)
        return 0;
    run->statuses = calloc(n, sizeof *run->statuses);
    if (!run->statuses)
        return -ENOMEM;
    for (int i = 0; i < 600; i++) {
        if (!hs->status[i])
            continue;
        char name[8];
        snprintf(name, sizeof name, "%d", i);
        lgr_named *st = &run->statuses[run->nstatuses];
        if (!(st->name = strdup(name)))
            return -ENOMEM;
        st->count = hs->status[i];
        run->nstatuses++;
    }
    return 0;
}

static int write_files(const options *o, const lgr_run *run);

static int write_reports(const options *o, goc_loadgen *g, const char *url,
                         const struct goc_loadgen_report *rep, bool interrupted,
                         int64_t wall_minus_mono, const goc_http_stats *hs)
{
    if (!o->json_path && !o->hgrm_path && !o->log_path && !o->html_path)
        return 0;
    lgr_run run;
    int rc = lgr_from_loadgen(&run, g, url, o->keepalive, interrupted,
                              wall_minus_mono);
    if (rc < 0) {
        cli_error("cannot make the report: %s", goc_strerror(rc));
        return -1;
    }
    if (add_http_members(&run, o, rep, hs) < 0) {
        cli_error("cannot make the report: %s", goc_strerror(-ENOMEM));
        lgr_free(&run);
        return -1;
    }
    int bad = write_files(o, &run);
    lgr_free(&run);
    return bad;
}

/* Writes the report files asked for from run. 0, or -1 after saying
 * which file could not be written. */
static int write_files(const options *o, const lgr_run *run)
{
    int rc;
    struct {
        const char *path, *suffix;
        int kind;
    } out[] = {{o->json_path, "", 0},
               {o->hgrm_path, "", 1},
               {o->hgrm_path, ".service", 2},
               {o->log_path, "", 3},
               {o->html_path, "", 4}};
    int bad = 0;
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        if (!out[i].path)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s%s", out[i].path, out[i].suffix);
        FILE *f = lgr_open(path);
        if (!f) {
            cli_error("cannot write %s: %s", path, strerror(errno));
            bad = 1;
            continue;
        }
        const lgr_run *one = run;
        switch (out[i].kind) {
        case 0:
            lgr_write_json(f, run);
            break;
        case 1:
            lgr_write_hgrm(f, &run->latency);
            break;
        case 2:
            lgr_write_hgrm(f, &run->service);
            break;
        case 3:
            lgr_write_csv(f, run);
            break;
        default:
            lgr_write_html(f, &one, 1);
            break;
        }
        if ((rc = lgr_close(f, path)) < 0) {
            cli_error("cannot write %s: %s", path, strerror(-rc));
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* ---- across MPI ranks (loadgen_mpi.h, docs/mpi.md) ------------------ */

/* Set by main: this process is one rank of several. */
static bool g_mpi;
/* Set by the run: end MPI without MPI_Finalize (a rank may be dead). */
static bool g_mpi_abort;

/* --calls-log: one line per call from the result channel. */
typedef struct calls_log {
    goc_chan *ch;
    FILE *f;
    goc_waitgroup wg;
} calls_log;

static void calls_log_main(void *arg)
{
    calls_log *cl = arg;
    goc_call_result res;
    while (goc_chan_recv(cl->ch, &res))
        fprintf(cl->f, "%" PRId64 ",%d,%" PRId64 ",%" PRId64 ",%" PRId64 "\n",
                res.seq, res.code, res.latency, res.elapse,
                res.start - res.due);
    goc_waitgroup_done(&cl->wg);
}

/* Opens the log (FILE, or FILE.RANK under mpirun) and starts its writer;
 * g (not started yet) sends it every result. 0, or -1 after saying why. */
static int calls_log_start(calls_log *cl, const options *o, goc_loadgen *g)
{
    char path[4096];
    if (g_mpi)
        snprintf(path, sizeof path, "%s.%d", o->calls_path, lgm_rank());
    else
        snprintf(path, sizeof path, "%s", o->calls_path);
    cl->f = fopen(path, "w");
    if (!cl->f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    setvbuf(cl->f, NULL, _IOFBF, 1 << 16);
    fprintf(cl->f, "seq,code,latency_ns,service_ns,slop_ns\n");
    cl->ch = goc_chan_make(sizeof(goc_call_result), 4096);
    goc_waitgroup_add(&cl->wg, 1);
    if (!cl->ch || goc_go(calls_log_main, cl) < 0) {
        cli_error("cannot start the --calls-log writer");
        goc_chan_free(cl->ch);
        fclose(cl->f);
        cl->ch = NULL, cl->f = NULL;
        return -1;
    }
    goc_loadgen_set_result_chan(g, cl->ch);
    return 0;
}

/* After the run (the generator closed the channel): 0, or -1 after
 * saying the log could not be written. */
static int calls_log_end(calls_log *cl, const options *o)
{
    if (!cl->f)
        return 0;
    goc_waitgroup_wait(&cl->wg);
    goc_chan_free(cl->ch);
    bool bad = ferror(cl->f) != 0;
    bad |= fclose(cl->f) != 0;
    cl->f = NULL;
    if (bad)
        cli_error("cannot write %s: %s", o->calls_path, strerror(errno));
    return bad ? -1 : 0;
}

/* This rank's share of the run: the open schedule's calls k % N == r
 * from the agreed start; in the closed model, its share of -c and -n. */
static void mpi_share(goc_loadgen_params *p, int64_t start_at)
{
    int64_t r = lgm_rank(), n = lgm_size();
    if (!p->closed) {
        p->part = r;
        p->parts = n;
        p->start_at = start_at;
        return;
    }
    p->max_in_flight = p->max_in_flight / n + (r < p->max_in_flight % n);
    if (p->count)
        p->count = p->count / n + (r < p->count % n);
}

static const char *const rank_states[] = {"ok", "interrupted", "lost"};

/* The per-rank rows, as text. */
static void print_ranks(FILE *f, const lgm_row *const *rows, int n)
{
    char a[32], b[32];
    fprintf(f,
            "  ranks     %d MPI processes; offset: rank 0's clock minus the "
            "rank's, within +-\n",
            n);
    fprintf(f, "    %4s %-14s %8s %10s %9s %9s %10s %9s %8s %8s %7s  %s\n",
            "rank", "host", "pid", "offset", "+-", "issued", "rate/s",
            "success", "timeout", "errors", "cpu s", "state");
    for (int i = 0; i < n; i++) {
        const lgm_row *r = rows[i];
        int64_t errors = 0;
        for (int c = LGR_CALL; c < LGR_NCODES; c++)
            errors += r->codes[c];
        fprintf(f,
                "    %4d %-14.14s %8" PRId64 " %10s %9s %9" PRId64
                " %10.1f %9" PRId64 " %8" PRId64 " %8" PRId64 " %7.2f  %s\n",
                r->rank, r->host, r->pid,
                r->offset_ns < 0 ? (snprintf(a, sizeof a, "-%s",
                                             dur(b, sizeof b, -r->offset_ns)),
                                    a)
                                 : dur(a, sizeof a, r->offset_ns),
                dur(b, sizeof b, r->uncertainty_ns), r->issued,
                r->achieved_rate, r->codes[LGR_SUCCESS], r->codes[LGR_TIMEOUT],
                errors, r->cpu_user_s + r->cpu_sys_s, rank_states[r->state]);
        if (r->state == LGM_RANK_LOST)
            fprintf(f, "         rank %d lost: %s (%s after the start)\n",
                    r->rank, r->why, dur(a, sizeof a, r->seen_ns));
    }
}

/* The "mpi" member of the JSON report: the ranks and their rows. */
static void print_json_ranks(FILE *f, const options *o,
                             const lgm_row *const *rows, int n)
{
    fprintf(f,
            "\"mpi\":{\"ranks\":%d,\"clock_bound_ns\":%" PRId64 ",\"rows\":[",
            n, o->clock_bound);
    for (int i = 0; i < n; i++) {
        const lgm_row *r = rows[i];
        fprintf(f, "%s{\"rank\":%d,\"host\":", i ? "," : "", r->rank);
        print_json_string(f, r->host);
        fprintf(f,
                ",\"pid\":%" PRId64 ",\"state\":\"%s\",\"offset_ns\":%" PRId64
                ",\"uncertainty_ns\":%" PRId64 ",\"planned\":%" PRId64
                ",\"issued\":%" PRId64 ",\"completed\":%" PRId64
                ",\"achieved_rate\":%.3f,\"codes\":{",
                r->pid, rank_states[r->state], r->offset_ns, r->uncertainty_ns,
                r->planned, r->issued, r->completed, r->achieved_rate);
        for (int c = 0; c < LGR_NCODES; c++)
            fprintf(f, "%s\"%s\":%" PRId64, c ? "," : "", lgr_code_keys[c],
                    r->codes[c]);
        fprintf(f,
                "},\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"seen_ns\":%" PRId64
                ",\"why\":",
                r->cpu_user_s, r->cpu_sys_s, r->seen_ns);
        print_json_string(f, r->why);
        fputc('}', f);
    }
    fprintf(f, "]}");
}

/* Adds b's counts to a. */
static void http_add(goc_http_stats *a, const goc_http_stats *b)
{
    for (int i = 0; i < 600; i++)
        a->status[i] += b->status[i];
    for (int i = 0; i < 6; i++)
        a->status_class[i] += b->status_class[i];
    a->responses += b->responses;
    a->interim += b->interim;
    a->malformed += b->malformed;
    if (!a->first_malformed[0])
        memcpy(a->first_malformed, b->first_malformed,
               sizeof a->first_malformed);
    a->bytes_read += b->bytes_read;
    a->bytes_written += b->bytes_written;
    a->connects += b->connects;
    a->closed_by_server += b->closed_by_server;
    a->retries += b->retries;
    a->connect_errors += b->connect_errors;
    a->read_errors += b->read_errors;
    a->write_errors += b->write_errors;
    a->timeouts += b->timeouts;
}

/* Rank 0: the one report, from every rank's. The exit status. */
static int mpi_root_report(const options *o, const char *url, bool interrupted)
{
    int n = lgm_size(), nparts = 0, status = EXIT_CANNOT_RUN;
    lgr_run *parts = calloc((size_t)n, sizeof *parts);
    const lgr_run **pp = calloc((size_t)n, sizeof *pp);
    const lgm_row **rows = calloc((size_t)n, sizeof *rows);
    goc_http_stats *hs = calloc(1, sizeof *hs);
    bool any_http = false, lost = false, any_int = interrupted;
    lgr_run m = {0};
    if (!parts || !pp || !rows || !hs) {
        cli_error("out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        rows[i] = lgm_row_of(i);
        lost |= rows[i]->state == LGM_RANK_LOST;
        any_int |= rows[i]->state == LGM_RANK_INTERRUPTED;
        const char *json = lgm_json(i);
        if (!json)
            continue;
        char err[512], name[32];
        snprintf(name, sizeof name, "rank %d", i);
        if (lgr_read_json(&parts[nparts], json, strlen(json), name, err,
                          sizeof err) < 0) {
            cli_error("rank %d's report: %s", i, err);
            goto out;
        }
        pp[nparts] = &parts[nparts];
        nparts++;
        const goc_http_stats *h = lgm_http(i);
        if (h) {
            http_add(hs, h);
            any_http = true;
        }
    }
    if (lgr_merge(&m, pp, (size_t)nparts) < 0) {
        cli_error("cannot merge the ranks' reports");
        goto out;
    }
    m.interrupted = any_int;
    struct goc_loadgen_report rep;
    lgr_to_report(&m, &rep);
    rep.closed = o->closed;
    /* The HTTP counts and the ranks' rows, into the JSON. */
    if (add_http_members(&m, o, &rep, any_http ? hs : NULL) < 0) {
        cli_error("out of memory");
        goto out;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        cli_error("out of memory");
        goto out;
    }
    fprintf(f, "%s,", m.extra_json ? m.extra_json : "");
    print_json_ranks(f, o, rows, n);
    if (fclose(f) != 0) {
        cli_error("out of memory");
        goto out;
    }
    free(m.extra_json);
    m.extra_json = buf;
    bool files_ok = write_files(o, &m) == 0;
    if (!o->json) {
        print_text(stdout, url, o, &rep, any_int, any_http ? hs : NULL);
        print_ranks(stdout, rows, n);
        if (lost)
            printf("  totals above: the ranks whose report came; lost ranks "
                   "as far as their last heartbeat went are in their rows\n");
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the report: %s", strerror(errno));
        status = EXIT_CANNOT_RUN;
    } else if (!files_ok)
        status = EXIT_CANNOT_RUN;
    else if (any_int)
        status = EXIT_INTERRUPTED;
    else if (lost)
        status = EXIT_FAILED_CALLS;
    else if (rep.success == rep.issued && rep.issued > 0)
        status = EXIT_ALL_OK;
    else
        status = EXIT_FAILED_CALLS;
    if (lost)
        g_mpi_abort = true;
out:
    for (int i = 0; i < nparts; i++)
        lgr_free(&parts[i]);
    lgr_free(&m);
    free(parts);
    free(pp);
    free(rows);
    free(hs);
    return status;
}

/* Every rank after its run: sends its report to rank 0 (rank 0 collects
 * and writes the one report). The exit status. */
static int mpi_report(const options *o, goc_loadgen *g, const char *url,
                      const goc_caller *caller, bool interrupted,
                      int64_t wall_minus_mono, goc_chan *sigs)
{
    struct goc_loadgen_report r;
    lgr_run run;
    if (goc_loadgen_report(g, &r) < 0 ||
        lgr_from_loadgen(&run, g, url, o->keepalive, interrupted,
                         wall_minus_mono) < 0) {
        cli_error("rank %d: no report", lgm_rank());
        g_mpi_abort = true;
        return EXIT_CANNOT_RUN;
    }
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    if (f) {
        lgr_write_json(f, &run);
        if (fclose(f) != 0) {
            free(json);
            json = NULL;
        }
    }
    lgm_row row = {.state = interrupted ? LGM_RANK_INTERRUPTED : LGM_RANK_OK,
                   .pid = getpid(),
                   .planned = r.planned,
                   .issued = r.issued,
                   .completed = r.issued,
                   .achieved_rate = r.achieved_rate};
    memcpy(row.codes, run.codes, sizeof row.codes);
    _Static_assert(sizeof row.codes == sizeof run.codes, "LGR_NCODES");
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        row.cpu_user_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
        row.cpu_sys_s = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    }
    if (gethostname(row.host, sizeof row.host - 1) != 0)
        snprintf(row.host, sizeof row.host, "unknown");
    goc_http_stats hs;
    const goc_http_stats *hsp =
        goc_caller_http_stats(caller, &hs) == 0 ? &hs : NULL;
    /* The others end by the same schedule: a rank whose report is not
     * in by then is lost (or sooner: see lgm_finish). After a signal,
     * little time is left before mpirun's SIGKILL (docs/mpi.md): rank 0
     * waits lgm_stop_wait() at most; the others keep sending until then. */
    int64_t deadline = goc_nanotime() + o->timeout + 10 * GOC_SECOND;
    if (interrupted && lgm_rank() == 0)
        deadline = goc_nanotime() + lgm_stop_wait();
    int rc = json ? lgm_finish(json, len, &row, hsp, deadline, sigs) : -1;
    free(json);
    lgr_free(&run);
    if (lgm_rank() != 0) {
        if (rc < 0) {
            cli_error("rank %d: could not send its report to rank 0",
                      lgm_rank());
            g_mpi_abort = true;
            return EXIT_CANNOT_RUN;
        }
        /* Rank 0's status is the run's (mpirun passes it on). Failed
         * calls here would make mpirun abort the job while rank 0 still
         * writes the report (130 comes after MPI_Finalize: too late to). */
        return interrupted ? EXIT_INTERRUPTED : EXIT_ALL_OK;
    }
    return mpi_root_report(o, url, interrupted);
}

/* ---- the run ---------------------------------------------------------- */

typedef struct run_args {
    options o;
    goc_caller caller; /* for a target given; made by main */
    int status;
} run_args;

/* --warmup: a first run of the same settings for o->warmup, whose report
 * is dropped (and the HTTP caller's counts zeroed after it). 0, or -1
 * with err set. */
static int warm_up(const goc_loadgen_params *p, const options *o, char *err,
                   size_t errlen)
{
    goc_loadgen_params w = *p;
    w.duration = o->warmup;
    w.count = 0;
    goc_loadgen *g;
    if (goc_loadgen_new(&g, &w, err, errlen) < 0)
        return -1;
    if (!o->json && !o->quiet) {
        char a[32];
        printf("goc-loadgen: warming up for %s (not recorded)\n",
               dur(a, sizeof a, o->warmup));
        fflush(stdout);
    }
    bool ok = goc_loadgen_start(g);
    if (ok)
        goc_loadgen_wait(g);
    goc_loadgen_free(g);
    goc_caller_http_stats_reset((goc_caller *)p->caller);
    cli_tls_counts(&tls_base[0], &tls_base[1]);
    if (!ok)
        snprintf(err, errlen, "cannot start the warm-up run");
    return ok ? 0 : -1;
}

static int run(void *arg)
{
    run_args *ra = arg;
    options *o = &ra->o;
    goc_calcserver *srv = NULL;
    goc_loadgen *g = NULL;
    goc_caller caller = {0};
    char url[300], err[512], why[512] = "";
    int status = EXIT_CANNOT_RUN;
    bool agreed = false; /* under mpirun: the start was agreed (or not) */
    calls_log cl = {.wg = GOC_WAITGROUP_INIT};

    /* Signals first: one that came before would be missed. */
    goc_chan *sigs = goc_chan_make(sizeof(int), 4);
    int want[] = {SIGINT, SIGTERM};
    if (!sigs || goc_signal_notify(sigs, want, 2) < 0) {
        cli_error("cannot catch SIGINT");
        goc_chan_free(sigs);
        return EXIT_CANNOT_RUN;
    }
    if (!o->target) {
        goc_calcserver_opts so = {.keepalive = true};
        int rc = goc_calcserver_start(&srv, "127.0.0.1:0", &so);
        if (rc < 0) {
            cli_error("cannot start the calc server: %s", goc_strerror(rc));
            goto out;
        }
        snprintf(url, sizeof url, "calc://%s", goc_calcserver_addr(srv));
        if (!o->json) {
            printf("goc-loadgen: no target given: the book's scenario "
                   "against its arithmetic server, in process on %s\n",
                   goc_calcserver_addr(srv));
            fflush(stdout);
        }
        goc_caller_opts co = {.keepalive = o->keepalive};
        if (goc_caller_from_url(&caller, url, &co, err, sizeof err) < 0) {
            cli_error("%s", err);
            goto out;
        }
    } else {
        snprintf(url, sizeof url, "%s", o->target);
        caller = ra->caller; /* made and checked by main */
        ra->caller = (goc_caller){0};
        /* Resolve the host once, now: calls dial the address found. */
        int64_t limit = o->timeout > RESOLVE_MIN ? o->timeout : RESOLVE_MIN;
        if (goc_caller_prepare(&caller, limit, err, sizeof err) < 0) {
            if (!g_mpi) {
                cli_error("%s", err);
                goto out;
            }
            snprintf(why, sizeof why, "%s", err); /* rank 0 will say */
        }
    }

    goc_loadgen_params p = {.caller = &caller,
                            .timeout = o->timeout,
                            .lps = o->closed ? 0 : o->rate,
                            .duration = o->duration,
                            .max_in_flight =
                                o->closed ? o->max_in_flight * o->pipeline
                                          : o->max_in_flight,
                            .closed = o->closed,
                            .count = o->count};
    if (o->warmup > 0 && !why[0] && warm_up(&p, o, err, sizeof err) < 0) {
        if (!g_mpi) {
            cli_error("%s", err);
            goto out;
        }
        snprintf(why, sizeof why, "%s", err);
    }
    int64_t start_at = 0;
    if (g_mpi) {
        char merr[1024];
        agreed = true;
        if (lgm_agree_start(why[0] ? why : NULL, &start_at, merr, sizeof merr) <
            0) {
            if (lgm_rank() == 0)
                cli_error("not started: %s", merr);
            goto out;
        }
        mpi_share(&p, start_at);
    }
    if (goc_loadgen_new(&g, &p, err, sizeof err) < 0) {
        cli_error("%s", err); /* main checked the flags: cannot be */
        goto out;
    }
    if (o->calls_path && calls_log_start(&cl, o, g) < 0)
        goto out;
    /* The live line: on stderr, only on a terminal (not under mpirun). */
    bool progress = !o->quiet && !g_mpi && isatty(STDERR_FILENO);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t wall_minus_mono =
        (int64_t)wall.tv_sec * GOC_SECOND + wall.tv_nsec - goc_nanotime();
    lgr_live live = {0};
    if (g_mpi && p.closed && start_at > goc_nanotime())
        goc_sleep(start_at - goc_nanotime()); /* no schedule: start then */
    if (!goc_loadgen_start(g)) {
        cli_error("cannot start the generator");
        goto out;
    }
    struct goc_loadgen_progress pr;
    goc_ticker *tick = progress ? goc_ticker_new(GOC_SECOND)
                       : g_mpi  ? goc_ticker_new(LGM_BEAT)
                                : NULL;
    /* Starts the first interval; without a display or heartbeats, none
     * is asked (the generator then keeps no interval histogram). */
    if (tick)
        goc_loadgen_progress(g, &pr);
    bool interrupted = false, told_to_stop = false;
    for (;;) {
        int sig;
        int64_t now;
        goc_case cs[3] = {
            GOC_CASE_RECV(goc_loadgen_done(g), NULL), GOC_CASE_RECV(sigs, &sig),
            GOC_CASE_RECV(tick ? goc_ticker_chan(tick) : NULL, &now)};
        int i = goc_select(cs, 3, false);
        if (i == 0)
            break;
        if (i == 1) {
            if (interrupted) {
                fprintf(stderr, "goc-loadgen: interrupted twice: exiting\n");
                exit(EXIT_INTERRUPTED);
            }
            interrupted = true;
            lgr_live_clear(stderr, &live);
            fprintf(stderr,
                    "goc-loadgen: %s: stopping (again to exit at once)\n",
                    sig == SIGINT ? "interrupt" : "terminated");
            goc_loadgen_stop(g);
            if (g_mpi) { /* every rank stops too */
                goc_loadgen_progress(g, &pr);
                lgm_beat(&pr, true);
            }
            continue;
        }
        goc_loadgen_progress(g, &pr);
        if (g_mpi) {
            /* The heartbeat; another rank stopped: this one stops too. */
            if (lgm_beat(&pr, interrupted) && !told_to_stop) {
                told_to_stop = true;
                goc_loadgen_stop(g);
            }
            continue;
        }
        lgr_live_print(stderr, &pr, o->duration, o->rate, &live);
    }
    goc_ticker_free(tick);
    lgr_live_clear(stderr, &live);
    bool log_ok = calls_log_end(&cl, o) == 0;
    if (g_mpi) {
        status =
            mpi_report(o, g, url, &caller, interrupted, wall_minus_mono, sigs);
        if (!log_ok && status != EXIT_INTERRUPTED)
            status = EXIT_CANNOT_RUN;
        goto out;
    }
    struct goc_loadgen_report r;
    if (goc_loadgen_report(g, &r) < 0) {
        cli_error("no report");
        goto out;
    }
    goc_http_stats hs;
    const goc_http_stats *hsp =
        goc_caller_http_stats(&caller, &hs) == 0 ? &hs : NULL;
    bool files_ok =
        write_reports(o, g, url, &r, interrupted, wall_minus_mono, hsp) == 0;
    if (!o->json)
        print_text(stdout, url, o, &r, interrupted, hsp);
    /* A report that did not reach its reader is a failed run (stdout a
     * closed pipe, a full disk): say so where it can still be seen. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the report: %s", strerror(errno));
        status = EXIT_CANNOT_RUN;
    } else if (!files_ok || !log_ok)
        status = EXIT_CANNOT_RUN;
    else if (interrupted)
        status = EXIT_INTERRUPTED;
    else if (r.success == r.issued && r.issued > 0)
        status = EXIT_ALL_OK;
    else
        status = EXIT_FAILED_CALLS;
out:
    if (g_mpi && !agreed) { /* the others wait for this rank's word */
        int64_t at;
        char merr[1024];
        if (lgm_agree_start(why[0] ? why
                                   : "could not get ready (see its "
                                     "stderr)",
                            &at, merr, sizeof merr) < 0 &&
            lgm_rank() == 0)
            cli_error("not started: %s", merr);
    }

    goc_loadgen_free(g);
    goc_caller_destroy(&caller);
    goc_calcserver_stop(srv);
    goc_signal_stop(sigs);
    goc_chan_free(sigs);
    return status;
}

/* Reads a whole file (--body @FILE) into *out. 0 or -1 (said why). */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("--body @%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) {
            fclose(f);
            cli_error("--body @%s: out of memory", path);
            return -1;
        }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        if (cap >= (size_t)64 << 20) {
            fclose(f);
            free(b);
            cli_error("--body @%s: larger than 64 MiB", path);
            return -1;
        }
        char *nb = realloc(b, cap * 2);
        if (!nb)
            free(b);
        b = nb;
        cap *= 2;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        cli_error("--body @%s: cannot read it", path);
        return -1;
    }
    *out = b;
    *len = n;
    return 0;
}

/* The HTTP caller of an http:// or https:// target. 0 or -1 (said why).
 * *body is the body read from a file, freed by main. */
static int make_http_caller(goc_caller *c, const options *o, char **body)
{
    goc_caller_http_opts ho = {.method = o->method,
                               .headers = o->headers,
                               .nheaders = o->nheaders,
                               .host = o->host,
                               .no_keepalive = o->no_keepalive,
                               .pipeline = (int)o->pipeline,
                               .connections =
                                   o->closed ? 0 : (int)o->connections};
    if (o->body_arg && o->body_arg[0] == '@') {
        if (read_file(o->body_arg + 1, body, &ho.body_len) < 0)
            return -1;
        ho.body = *body;
    } else if (o->body_arg) {
        ho.body = o->body_arg;
        ho.body_len = strlen(o->body_arg);
    }
    goc_http_transport *tls = NULL;
    if (strncmp(o->target, "https://", 8) == 0) {
        tls = cli_tls_transport(o->insecure);
        if (!tls) {
#ifndef GOC_LOADGEN_TLS
            cli_error("https:// needs TLS, and this goc-loadgen was built "
                      "without OpenSSL (install libssl-dev and rebuild)");
#endif
            return -1;
        }
    }
    ho.transport = tls;
    char err[512];
    if (goc_caller_http(c, o->target, &ho, err, sizeof err) < 0) {
        cli_error("%s", err);
        return -1;
    }
    return 0;
}

/* Under mpirun: starts MPI (its own thread) and checks what only the
 * world's size tells. 0, or -1 after saying why. */
static int mpi_start(options *o)
{
#ifndef GOC_LOADGEN_MPI
    (void)o;
    cli_error("started as one of %d MPI ranks, but built without MPI: "
              "install Open MPI (tools/install-deps.sh mpi) and rebuild, or "
              "run it alone",
              lgm_env_size());
    return -1;
#else
    if (!o->target) {
        cli_error("under mpirun, give a target (every rank would start its "
                  "own in-process server)");
        return -1;
    }
    if (lgm_init(o->clock_bound) < 0)
        return -1;
    g_mpi = lgm_size() > 1;
    if (!g_mpi) {
        lgm_end(false);
        return 0;
    }
    int64_t n = lgm_size();
    const char *bad = NULL;
    if (o->closed && o->max_in_flight < n)
        bad = "the closed model needs -c at least the number of ranks";
    else if (o->closed && o->count && o->count < n)
        bad = "the closed model needs -n at least the number of ranks";
    if (bad) {
        if (lgm_rank() == 0)
            cli_error("%s (%" PRId64 ")", bad, n);
        lgm_end(false);
        return -1;
    }
    if (lgm_rank() > 0)
        o->quiet = true; /* only rank 0 speaks */
    return 0;
#endif
}

/* Whether the target's host is this machine: a loopback address,
 * "localhost", or an address of one of its interfaces (numeric hosts
 * only: no lookup here). */
static bool target_is_local(const char *url)
{
    const char *h = strstr(url, "://");
    if (!h)
        return false;
    h += 3;
    char host[256];
    size_t n;
    if (*h == '[') {
        const char *rb = strchr(h, ']');
        if (!rb)
            return false;
        h++;
        n = (size_t)(rb - h);
    } else {
        n = strcspn(h, ":/?#");
    }
    if (n == 0 || n >= sizeof host)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    if (strcasecmp(host, "localhost") == 0)
        return true;
    unsigned char a[16];
    int fam = AF_INET;
    if (inet_pton(AF_INET, host, a) != 1) {
        fam = AF_INET6;
        if (inet_pton(AF_INET6, host, a) != 1)
            return false;
    }
    if (fam == AF_INET && a[0] == 127)
        return true;
    static const unsigned char lo6[16] = {[15] = 1};
    if (fam == AF_INET6 && memcmp(a, lo6, 16) == 0)
        return true;
    struct ifaddrs *ifs, *i;
    bool local = false;
    if (getifaddrs(&ifs) != 0)
        return false;
    for (i = ifs; i && !local; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != fam)
            continue;
        const void *ia =
            fam == AF_INET
                ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)
                      ->sin6_addr;
        local = memcmp(ia, a, fam == AF_INET ? 4 : 16) == 0;
    }
    freeifaddrs(ifs);
    return local;
}

/* The target runs on this machine: leave it CPUs. Half the CPUs this
 * process may run on as processors (unless $GOCMAXPROCS says): with one
 * per CPU, the processors woken to look for work (a response readied
 * goroutines) land on the server's CPU and preempt it (measured against
 * nginx on 2 CPUs: its run-queue wait per request 5 us with 2 processors,
 * 0.2 us with 1). And a short idle spin (unless $GOCIDLESPIN says), so
 * that the server's responses find the generator polling instead of
 * asleep: no wake-up to pay on the server's side (goc_idle_spin). */
static void share_host(void)
{
    cpu_set_t set;
    int ncpu = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        ncpu = CPU_COUNT(&set);
    const char *env = getenv("GOCMAXPROCS");
    if (!(env && *env) && ncpu > 1)
        goc_maxprocs(ncpu / 2);
    goc_idle_spin(LOCAL_IDLE_SPIN);
}

int main(int argc, char **argv)
{
    run_args ra = {0};
    cli_prog = "goc-loadgen";
    if (argc > 1 && strcmp(argv[1], "report") == 0)
        return lgr_report_main(argc - 1, argv + 1);
    if (parse_args(argc, argv, &ra.o) < 0)
        return cli_try_help();
    char *body = NULL;
    if (ra.o.http) {
        if (make_http_caller(&ra.caller, &ra.o, &body) < 0)
            return cli_try_help();
    } else if (ra.o.target) {
        char err[512];
        goc_caller_opts co = {.keepalive = ra.o.keepalive,
                              .payload = ra.o.payload};
        if (goc_caller_from_url(&ra.caller, ra.o.target, &co, err, sizeof err) <
            0) {
            cli_error("%s", err);
            return cli_try_help();
        }
    }
    /* The generator's timers are what its precision rests on: ask the
     * kernel for 1 ns of slack instead of 50 us (threads made later, the
     * runtime's, inherit it). */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (ra.o.target && target_is_local(ra.o.target))
        share_host();
    /* Under mpirun or srun with several ranks: one rank of a run. */
    if (lgm_env_size() > 1 && mpi_start(&ra.o) < 0) {
        goc_caller_destroy(&ra.caller);
        free(body);
        return EXIT_CANNOT_RUN;
    }
    int st = goc_main(run, &ra);
    if (g_mpi)
        lgm_end(g_mpi_abort);
    goc_caller_destroy(&ra.caller);
    free(body);
    return st;
}
