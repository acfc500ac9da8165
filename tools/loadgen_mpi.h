/*
 * loadgen_mpi.h - goc-loadgen across processes and hosts, on MPI
 * (docs/mpi.md): `mpirun -np N goc-loadgen [flags] TARGET`.
 *
 * Rank r makes the calls k % N == r of the asked open-model schedule
 * (goc_loadgen_params.part / parts), from one start that rank 0 picks and
 * every rank shifts by its clock offset to rank 0 (Cristian's method over
 * MPI, offset and uncertainty per rank). Each rank sends rank 0 a
 * heartbeat with its counts every LGM_BEAT, and at the end its whole
 * report (the JSON of tools/report.h, which carries the histograms'
 * buckets and the per-second rows) plus a row of its own (rate, outcomes,
 * offset, CPU) and its HTTP counts; rank 0 merges them exactly
 * (lgr_merge) and writes the one report.
 *
 * Threads. The goroutine runtime moves goroutines between threads, and an
 * MPI call may block its thread: so no goroutine calls MPI. One dedicated
 * thread, started before goc_main, calls MPI_Init_thread and every MPI
 * function after it, asking for MPI_THREAD_FUNNELED (only the thread that
 * initialised MPI calls it: the least level that fits, and the one every
 * MPI library provides cheaply). Goroutines and that thread share a few
 * fields under a pthread mutex held for copies only; a goroutine waiting
 * for the thread polls (goc_sleep) instead of blocking its thread.
 *
 * Faults (Open MPI 4.1's behaviour, docs/mpi.md): a rank that dies makes
 * mpirun end the job: SIGTERM to every other rank about
 * odls_base_sigkill_timeout (1 s) after the death, SIGKILL as long after.
 * SIGINT to mpirun does the same. A rank stops its run on SIGTERM or
 * SIGINT and sends its report at once; rank 0 waits lgm_stop_wait() for
 * them, names each rank whose report did not come as lost, with what its
 * last heartbeat accounted, and writes the report before the SIGKILL.
 * A rank that cannot run (its target does not resolve, a bad clock)
 * stops every rank before the start, and rank 0 says which and why.
 *
 * Built only where MPI is found (GOC_LOADGEN_MPI); libgoc never links it.
 */
#ifndef GOC_TOOLS_LOADGEN_MPI_H
#define GOC_TOOLS_LOADGEN_MPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "goc.h"

/* Heartbeat period, the least wait for the ranks' reports after a stop
 * (a signal), and the default bound on a clock offset's uncertainty. */
#define LGM_BEAT (100 * GOC_MILLISECOND)
#define LGM_STOP_WAIT (350 * GOC_MILLISECOND)
#define LGM_CLOCK_BOUND (5 * GOC_MILLISECOND)
/* A rank not heard from (heartbeat or report) for this long is taken as
 * lost by rank 0 at the end: rank 0 does not wait for its report. Every
 * live rank's MPI thread sends a heartbeat every LGM_BEAT until its
 * report has gone. */
#define LGM_SILENT (800 * GOC_MILLISECOND)
/* How far ahead of rank 0's clock the start is put: it must reach every
 * rank first. */
#define LGM_START_MARGIN (300 * GOC_MILLISECOND)

enum {
    LGM_RANK_OK = 0,          /* its report came */
    LGM_RANK_INTERRUPTED = 1, /* its report came; a signal stopped it */
    LGM_RANK_LOST = 2,        /* no report: counts of its last heartbeat */
};

/* One rank's row in the report. Sent as bytes (the ranks run one build). */
typedef struct lgm_row {
    int32_t rank, state; /* LGM_RANK_* */
    int64_t pid;
    int64_t offset_ns, uncertainty_ns; /* rank 0's clock minus this one's */
    int64_t planned, issued, completed;
    int64_t codes[8]; /* report.h's LGR_* order */
    double achieved_rate;
    double cpu_user_s, cpu_sys_s;
    int64_t seen_ns; /* lost: its last heartbeat, ns after the start */
    char host[64];
    char why[160]; /* lost: why; else empty */
} lgm_row;

/* The world's size when this process was started by mpirun or srun (its
 * environment says so), else 0. No MPI call. */
static inline int lgm_env_size(void)
{
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    if (!v)
        v = getenv("PMI_SIZE");
    if (!v && getenv("PMIX_RANK"))
        v = getenv("SLURM_NTASKS");
    if (!v && getenv("PMIX_RANK"))
        return 2; /* a PMIx launcher that does not say: ask MPI */
    return v ? atoi(v) : 0;
}

/* How long rank 0 waits for the ranks' reports after a signal: mpirun's
 * time between its SIGTERM and its SIGKILL (odls_base_sigkill_timeout,
 * which mpirun passes to the ranks in their environment; 1 s by
 * default) less 600 ms to write the report, and LGM_STOP_WAIT at least. */
static inline int64_t lgm_stop_wait(void)
{
    const char *v = getenv("OMPI_MCA_odls_base_sigkill_timeout");
    int64_t w = (v ? atoi(v) : 1) * GOC_SECOND - 600 * GOC_MILLISECOND;
    return w > LGM_STOP_WAIT ? w : LGM_STOP_WAIT;
}

#ifdef GOC_LOADGEN_MPI

/* The MPI mode lives in a plugin, goc-loadgen-mpi.so (loadgen_mpi.c linked
 * with MPI), that goc-loadgen loads only when it runs as one of several
 * ranks (loadgen_mpi_load.c): a run alone maps no MPI library (about 1.1
 * MB of resident memory with Open MPI). The plugin's functions are named
 * lgmp_*; goc-loadgen's lgm_* load it on the first call (lgm_init) and
 * call them. */
#ifdef GOC_LOADGEN_MPI_PLUGIN
#define lgm_init lgmp_init
#define lgm_rank lgmp_rank
#define lgm_size lgmp_size
#define lgm_agree_start lgmp_agree_start
#define lgm_beat lgmp_beat
#define lgm_finish lgmp_finish
#define lgm_json lgmp_json
#define lgm_row_of lgmp_row_of
#define lgm_http lgmp_http
#define lgm_end lgmp_end
#endif

/* Main thread, before goc_main: starts the MPI thread (MPI_Init_thread,
 * then the clock offset to rank 0). 0, or -1 after saying why. */
int lgm_init(int64_t clock_bound);
int lgm_rank(void);
int lgm_size(void);

/* Goroutine: this rank is ready (why NULL) or cannot run (why says so);
 * waits for rank 0's decision. 0 with *start_local, the agreed start on
 * this process's goc_nanotime() clock, or -1 with the reason in err. */
int lgm_agree_start(const char *why, int64_t *start_local, char *err,
                    size_t errlen);

/* Goroutine, every LGM_BEAT of the run: publishes this rank's counts;
 * `stopped` says this rank stopped early (a signal). True once every rank
 * must stop (one rank stopped, or rank 0 said so). */
bool lgm_beat(const struct goc_loadgen_progress *pr, bool stopped);

/* Goroutine, after the run: this rank's report (JSON text), row and HTTP
 * counts (NULL: none). Ranks > 0 send them to rank 0 and return 0 (or -1
 * if they could not be sent by `deadline`). Rank 0 waits until every
 * rank's has come, or `deadline` (an absolute goc_nanotime()), or a value
 * on `sigs` (then lgm_stop_wait() more), and returns the number of ranks
 * whose report came. */
int lgm_finish(const char *json, size_t len, const lgm_row *row,
               const goc_http_stats *hs, int64_t deadline, goc_chan *sigs);

/* Rank 0, after lgm_finish: rank i's report (NULL when lost), its row
 * (lost ones made from the last heartbeat) and HTTP counts (NULL: none).
 * Valid until lgm_end. */
const char *lgm_json(int i);
const lgm_row *lgm_row_of(int i);
const goc_http_stats *lgm_http(int i);

/* Main thread, after goc_main: finalizes MPI (or not: `abort_job` after a
 * signal, when a rank may be dead and MPI_Finalize would wait for it) and
 * joins the thread. */
void lgm_end(bool abort_job);

#else /* built without MPI: never called (main refuses to run under            \
       * mpirun with more than one rank), here so that the tool links. */
static inline int lgm_init(int64_t b)
{
    (void)b;
    return -1;
}
static inline int lgm_rank(void)
{
    return 0;
}
static inline int lgm_size(void)
{
    return 1;
}
static inline int lgm_agree_start(const char *w, int64_t *s, char *e, size_t n)
{
    (void)w, (void)s, (void)e, (void)n;
    return -1;
}
static inline bool lgm_beat(const struct goc_loadgen_progress *p, bool s)
{
    (void)p, (void)s;
    return false;
}
static inline int lgm_finish(const char *j, size_t l, const lgm_row *r,
                             const goc_http_stats *h, int64_t d, goc_chan *s)
{
    (void)j, (void)l, (void)r, (void)h, (void)d, (void)s;
    return -1;
}
static inline const char *lgm_json(int i)
{
    (void)i;
    return NULL;
}
static inline const lgm_row *lgm_row_of(int i)
{
    (void)i;
    return NULL;
}
static inline const goc_http_stats *lgm_http(int i)
{
    (void)i;
    return NULL;
}
static inline void lgm_end(bool a)
{
    (void)a;
}
#endif

#endif
