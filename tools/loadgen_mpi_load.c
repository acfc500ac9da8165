/*
 * loadgen_mpi_load.c - goc-loadgen's side of the MPI plugin (see
 * loadgen_mpi.h): lgm_init loads goc-loadgen-mpi.so, and each lgm_*
 * calls the plugin's lgmp_*. Only a run as one of several ranks calls
 * lgm_init, so a run alone maps no MPI library.
 *
 * Where the plugin is: plugin.h ($GOC_LOADGEN_MPI_PLUGIN, beside the
 * program, or the install's libdir/goc).
 */
#include "loadgen_mpi.h"
#include "plugin.h"

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

#define SYM(field, name)                                                       \
    do {                                                                       \
        if (!(*(void **)&P.field = cli_plugin_sym(h, PLUGIN, name)))           \
            return -1;                                                         \
    } while (0)

static int load(void)
{
    if (P.init)
        return 0;
    void *h = cli_plugin_open(PLUGIN, "GOC_LOADGEN_MPI_PLUGIN");
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
