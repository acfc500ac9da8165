/*
 * report_cmd.c - `goc-loadgen report`: reads runs' JSON reports back and
 * writes an HTML page (one run re-rendered, or several overlaid), and for
 * one run its JSON, .hgrm and CSV again.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static int write_one(const char *path, int kind, const lgr_run *const *runs,
                     size_t n)
{
    FILE *f = lgr_open(path);
    if (!f) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    switch (kind) {
    case 0:
        lgr_write_html(f, runs, n);
        break;
    case 1:
        lgr_write_json(f, runs[0]);
        break;
    case 2:
        lgr_write_hgrm(f, &runs[0]->latency);
        break;
    case 3:
        lgr_write_hgrm(f, &runs[0]->service);
        break;
    default:
        lgr_write_csv(f, runs[0]);
        break;
    }
    int rc = lgr_close(f, path);
    if (rc < 0) {
        cli_error("cannot write %s: %s", path, strerror(-rc));
        return -1;
    }
    return 0;
}

int lgr_report_main(int argc, char **argv)
{
    enum { OPT_HTML = 256, OPT_JSON, OPT_HGRM, OPT_LOG };
    static const struct option longopts[] = {
        {"html", required_argument, NULL, OPT_HTML},
        {"json", required_argument, NULL, OPT_JSON},
        {"hgrm", required_argument, NULL, OPT_HGRM},
        {"log", required_argument, NULL, OPT_LOG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *html = NULL, *json = NULL, *hgrm = NULL, *log = NULL;
    int c, longindex = -1;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, &longindex)) != -1) {
        switch (c) {
        case OPT_HTML:
            html = optarg;
            break;
        case OPT_JSON:
            json = optarg;
            break;
        case OPT_HGRM:
            hgrm = optarg;
            break;
        case OPT_LOG:
            log = optarg;
            break;
        case 'h':
            printf("usage: goc-loadgen report RUN.json... [--html FILE] "
                   "[--json FILE|-] [--hgrm FILE] [--log FILE]\n"
                   "Reads goc-loadgen's JSON reports (\"-\": stdin) and "
                   "writes an HTML page\nof them (several runs: overlaid on "
                   "the same axes), and for one run its\nJSON, .hgrm "
                   "(FILE and FILE.service) and per-second CSV again.\n");
            return CLI_EXIT_OK;
        case ':':
            cli_error("option %s needs a value", argv[optind - 1]);
            return cli_try_help();
        default:
            cli_error("report: unknown option %s", argv[optind - 1]);
            return cli_try_help();
        }
        longindex = -1;
    }
    size_t n = (size_t)(argc - optind);
    if (n == 0) {
        cli_error("report: no JSON report given");
        return cli_try_help();
    }
    if (!html && !json && !hgrm && !log) {
        cli_error("report: nothing to write (--html, --json, --hgrm or "
                  "--log)");
        return cli_try_help();
    }
    if (n > 1 && (json || hgrm || log)) {
        cli_error("report: --json, --hgrm and --log take one run (%zu given)",
                  n);
        return cli_try_help();
    }
    lgr_run *runs = calloc(n, sizeof *runs);
    const lgr_run **ptrs = calloc(n, sizeof *ptrs);
    int status = CLI_EXIT_OK;
    size_t read = 0;
    if (!runs || !ptrs) {
        cli_error("out of memory");
        status = CLI_EXIT_CANNOT_RUN;
        goto out;
    }
    for (; read < n; read++) {
        char err[512];
        if (lgr_read_json_file(&runs[read], argv[optind + (int)read], err,
                               sizeof err) < 0) {
            cli_error("%s", err);
            status = CLI_EXIT_CANNOT_RUN;
            goto out;
        }
        ptrs[read] = &runs[read];
    }
    char path[4096];
    if (html && write_one(html, 0, ptrs, n) < 0)
        status = CLI_EXIT_CANNOT_RUN;
    if (json && write_one(json, 1, ptrs, 1) < 0)
        status = CLI_EXIT_CANNOT_RUN;
    if (hgrm) {
        snprintf(path, sizeof path, "%s.service", hgrm);
        if (write_one(hgrm, 2, ptrs, 1) < 0 || write_one(path, 3, ptrs, 1) < 0)
            status = CLI_EXIT_CANNOT_RUN;
    }
    if (log && write_one(log, 4, ptrs, 1) < 0)
        status = CLI_EXIT_CANNOT_RUN;
out:
    for (size_t i = 0; i < read; i++)
        lgr_free(&runs[i]);
    free(runs);
    free(ptrs);
    return status;
}
