/*
 * loadgen_mpi_load.c - goc-loadgen's side of the MPI plugin (see
 * loadgen_mpi.h): lgm_init loads goc-loadgen-mpi.so, and each lgm_*
 * calls the plugin's lgmp_*. Only a run as one of several ranks calls
 * lgm_init, so a run alone maps no MPI library.
 *
 * Where the plugin is: $GOC_LOADGEN_MPI_PLUGIN if set; else beside the
 * program (a build tree: tools/); else in GOC_LOADGEN_MPI_PLUGIN_DIR (the
 * install's libdir/goc). It resolves goc's and cli.c's functions in the
 * program (linked with its symbols exported), so that one goc runtime
 * serves both.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "loadgen_mpi.h"

#define PLUGIN "goc-loadgen-mpi.so"

static struct {
    int (*init)(int64_t);
    int (*rank)(void);
    int (*size)(void);
    int (*agree_start)(const char *, int64_t *, char *, size_t);
    bool (*beat)(const struct goc_loadgen_progress *, bool);
    int (*finish)(const char *, size_t, const lgm_row *, const goc_http_stats *,
                  int64_t, goc_chan *);
    const char *(*json)(int);
    const lgm_row *(*row_of)(int);
    const goc_http_stats *(*http)(int);
    void (*end)(bool);
} P;

/* dlopen of the first place that has the plugin; NULL after saying why. */
static void *open_plugin(void)
{
    char path[PATH_MAX + 64], why[512] = "";
    const char *env = getenv("GOC_LOADGEN_MPI_PLUGIN");
    if (env && *env) {
        void *h = dlopen(env, RTLD_NOW | RTLD_GLOBAL);
        if (!h)
            cli_error("cannot load the MPI plugin: %s", dlerror());
        return h;
    }
    ssize_t n = readlink("/proc/self/exe", path, PATH_MAX);
    if (n > 0) {
        path[n] = '\0';
        char *slash = strrchr(path, '/');
        if (slash) {
            snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s",
                     PLUGIN);
            if (access(path, R_OK) == 0) {
                void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
                if (h)
                    return h;
                snprintf(why, sizeof why, "%s", dlerror());
            }
        }
    }
#ifdef GOC_LOADGEN_MPI_PLUGIN_DIR
    if (!why[0]) {
        snprintf(path, sizeof path, "%s/%s", GOC_LOADGEN_MPI_PLUGIN_DIR,
                 PLUGIN);
        void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (h)
            return h;
        snprintf(why, sizeof why, "%s", dlerror());
    }
#endif
    cli_error("cannot load the MPI plugin %s: %s (set GOC_LOADGEN_MPI_PLUGIN "
              "to its path)",
              PLUGIN, why[0] ? why : "not found beside the program");
    return NULL;
}

#define SYM(field, name)                                                       \
    do {                                                                       \
        *(void **)&P.field = dlsym(h, name);                                   \
        if (!P.field) {                                                        \
            cli_error("the MPI plugin lacks %s", name);                        \
            return -1;                                                         \
        }                                                                      \
    } while (0)

static int load(void)
{
    if (P.init)
        return 0;
    void *h = open_plugin();
    if (!h)
        return -1;
    SYM(rank, "lgmp_rank");
    SYM(size, "lgmp_size");
    SYM(agree_start, "lgmp_agree_start");
    SYM(beat, "lgmp_beat");
    SYM(finish, "lgmp_finish");
    SYM(json, "lgmp_json");
    SYM(row_of, "lgmp_row_of");
    SYM(http, "lgmp_http");
    SYM(end, "lgmp_end");
    SYM(init, "lgmp_init"); /* last: P.init says all are there */
    return 0;
}

int lgm_init(int64_t clock_bound)
{
    if (load() < 0)
        return -1;
    return P.init(clock_bound);
}

int lgm_rank(void)
{
    return P.init ? P.rank() : 0;
}

int lgm_size(void)
{
    return P.init ? P.size() : 1;
}

int lgm_agree_start(const char *why, int64_t *start_local, char *err,
                    size_t errlen)
{
    return P.init ? P.agree_start(why, start_local, err, errlen) : -1;
}

bool lgm_beat(const struct goc_loadgen_progress *pr, bool stopped)
{
    return P.init ? P.beat(pr, stopped) : false;
}

int lgm_finish(const char *json, size_t len, const lgm_row *row,
               const goc_http_stats *hs, int64_t deadline, goc_chan *sigs)
{
    return P.init ? P.finish(json, len, row, hs, deadline, sigs) : -1;
}

const char *lgm_json(int i)
{
    return P.init ? P.json(i) : NULL;
}

const lgm_row *lgm_row_of(int i)
{
    return P.init ? P.row_of(i) : NULL;
}

const goc_http_stats *lgm_http(int i)
{
    return P.init ? P.http(i) : NULL;
}

void lgm_end(bool abort_job)
{
    if (P.init)
        P.end(abort_job);
}
