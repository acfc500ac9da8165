/*
 * loadgen_mpi.c - goc-loadgen across MPI ranks (see loadgen_mpi.h).
 *
 * The MPI thread's life:
 *   1. MPI_Init_thread(FUNNELED); rank and size.
 *   2. Clock: rank 0 answers the pings of each rank in turn with its
 *      goc_nanotime() (16 or more: see clock_sync); a rank keeps the
 *      round with the least round trip: offset = T0 - (t_send +
 *      t_recv) / 2, uncertainty = rtt / 2 (Cristian's method: the true
 *      offset lies within it, whatever the asymmetry of the two
 *      directions).
 *   3. Waits for its goroutine's "ready" (target resolved, or why not),
 *      gathers every rank's on rank 0, which decides: start = its clock +
 *      LGM_START_MARGIN, or refuse (a rank cannot run, an uncertainty
 *      past the bound), and broadcasts it.
 *   4. The run: a loop that polls (MPI_Iprobe / MPI_Test, 5 ms sleeps
 *      when idle): ranks > 0 send their heartbeat (when the previous one
 *      has left) and a STOPPED note if a signal stopped them, and look for
 *      rank 0's STOP; rank 0 keeps each rank's last heartbeat, sends STOP
 *      to all once one rank stopped (or itself did), and stores the final
 *      reports as they come (a header, then the JSON).
 *   5. Ranks > 0 send their final report and leave the loop once it has
 *      gone; rank 0 leaves it when its goroutine has what it waited for.
 *   6. Waits for lgm_end: MPI_Finalize, unless the job is being aborted.
 * No collective after step 3: a dead rank cannot make a survivor wait.
 *
 * Messages are fixed-size structs sent as bytes (every rank runs one
 * build of goc-loadgen), except the report's JSON text.
 */
#include "loadgen_mpi.h"

#include <errno.h>
#include <inttypes.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define SYNC_ROUNDS 16
/* The MPI thread's nap when nothing came or left: a message waits at
 * most this long (heartbeats come every LGM_BEAT), and an idle rank wakes
 * 200 times a second, not 1,000, on a machine its calls need. */
#define IDLE_SLEEP (5 * GOC_MILLISECOND)
#define SYNC_MAX 1000
#define SYNC_TIME (2 * GOC_SECOND)

enum {
    TAG_PING = 1,
    TAG_PONG,
    TAG_BEAT,
    TAG_STOPPED,
    TAG_STOP,
    TAG_FINAL_HDR,
    TAG_FINAL_JSON,
};

typedef struct beat {
    int64_t elapsed, issued, completed, success, timeouts, errors, canceled;
} beat;

typedef struct ready_msg {
    int32_t ok;
    int64_t pid, offset, unc;
    char host[64];
    char why[256];
} ready_msg;

typedef struct start_msg {
    int64_t start0; /* rank 0's clock */
    int32_t ok;
    char err[768];
} start_msg;

typedef struct final_hdr {
    lgm_row row;
    int32_t has_http;
    goc_http_stats hs;
    int64_t json_len;
} final_hdr;

/* One rank as rank 0 sees it. */
typedef struct peer {
    ready_msg ready;
    beat last; /* last heartbeat */
    bool have_beat, have_final;
    int64_t nbeats;
    int64_t seen_at; /* rank 0's clock when its last message came */
    final_hdr fin;
    char *json;
} peer;

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int rank, size;
    int64_t offset, unc, bound;
    bool inited;    /* rank, size, offset known (or failed) */
    bool init_fail; /* MPI could not start */
    /* ready -> decision */
    bool ready_posted;
    ready_msg ready;
    bool decided, start_ok;
    int64_t start_local;
    char start_err[768];
    /* the run */
    beat hb;
    bool hb_new;
    bool stopped_here; /* a signal stopped this rank */
    bool stop_all;     /* every rank must stop */
    /* the end */
    bool final_posted, final_sent;
    final_hdr fin;
    char *fin_json;
    bool collect_done; /* rank 0: its goroutine has what it waited for */
    int nfinal;        /* rank 0: reports in */
    peer *peers;       /* rank 0: one per rank */
    bool quit, abort_job;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

int lgm_rank(void)
{
    return S.rank;
}

int lgm_size(void)
{
    return S.size;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / GOC_SECOND,
                          .tv_nsec = ns % GOC_SECOND};
    nanosleep(&ts, NULL);
}

/* Step 2: the offset of rank 0's clock to this one's. A rank pings at
 * least SYNC_ROUNDS times, and on while its best round trip leaves the
 * offset less sure than a quarter of the bound (a loaded machine delays
 * some round trips by milliseconds, not all), for at most SYNC_MAX rounds
 * or SYNC_TIME; then it sends -1, and rank 0 serves the next rank. */
static void clock_sync(void)
{
    if (S.rank == 0) {
        for (int r = 1; r < S.size; r++)
            for (;;) {
                int64_t x;
                MPI_Recv(&x, 1, MPI_INT64_T, r, TAG_PING, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
                if (x < 0)
                    break;
                x = goc_nanotime();
                MPI_Send(&x, 1, MPI_INT64_T, r, TAG_PONG, MPI_COMM_WORLD);
            }
        S.offset = S.unc = 0;
        return;
    }
    int64_t best = INT64_MAX, begin = goc_nanotime();
    for (int i = 0; i < SYNC_MAX; i++) {
        if (i >= SYNC_ROUNDS &&
            (best / 2 <= S.bound / 4 || goc_nanotime() - begin > SYNC_TIME))
            break;
        int64_t t0 = goc_nanotime(), T;
        MPI_Send(&t0, 1, MPI_INT64_T, 0, TAG_PING, MPI_COMM_WORLD);
        MPI_Recv(&T, 1, MPI_INT64_T, 0, TAG_PONG, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        int64_t t1 = goc_nanotime();
        if (t1 - t0 < best) {
            best = t1 - t0;
            S.offset = T - (t0 + (t1 - t0) / 2);
            S.unc = (t1 - t0 + 1) / 2;
        }
    }
    int64_t end = -1;
    MPI_Send(&end, 1, MPI_INT64_T, 0, TAG_PING, MPI_COMM_WORLD);
}

/* Step 3 on rank 0: start, or why not. */
static void decide(const ready_msg *all, start_msg *sm)
{
    char dur[32], bound[32];
    size_t len = 0;
    sm->ok = 1;
    for (int r = 0; r < S.size; r++) {
        const ready_msg *m = &all[r];
        char why[400] = "";
        if (!m->ok)
            snprintf(why, sizeof why, "cannot run: %s", m->why);
        else if (m->unc > S.bound)
            snprintf(why, sizeof why,
                     "its clock offset to rank 0 is known only within %s, "
                     "more than the bound %s (--clock-bound)",
                     cli_fmt_dur(dur, sizeof dur, m->unc),
                     cli_fmt_dur(bound, sizeof bound, S.bound));
        if (!why[0])
            continue;
        sm->ok = 0;
        if (len < sizeof sm->err)
            len += (size_t)snprintf(sm->err + len, sizeof sm->err - len,
                                    "%srank %d (%s, pid %" PRId64 ") %s",
                                    len ? "; " : "", r, m->host, m->pid, why);
    }
    sm->start0 = goc_nanotime() + LGM_START_MARGIN;
}

/* Rank 0: one message, whatever it is. */
static double dbg_now(void)
{
    return (double)(goc_nanotime() % 100000000000) / 1e9;
}
#define DBG(...)                                                               \
    do {                                                                       \
        if (getenv("LGM_DEBUG"))                                               \
            fprintf(stderr, __VA_ARGS__);                                      \
    } while (0)

static void root_recv(MPI_Status *st)
{
    int src = st->MPI_SOURCE;
    if (st->MPI_TAG != TAG_BEAT)
        DBG("%.3f root_recv tag %d from %d\n", dbg_now(), st->MPI_TAG, src);
    peer *p = &S.peers[src];
    pthread_mutex_lock(&S.mu);
    p->seen_at = goc_nanotime();
    pthread_mutex_unlock(&S.mu);
    switch (st->MPI_TAG) {
    case TAG_BEAT: {
        beat b;
        MPI_Recv(&b, sizeof b, MPI_BYTE, src, TAG_BEAT, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        pthread_mutex_lock(&S.mu);
        p->last = b;
        p->have_beat = true;
        p->nbeats++;
        pthread_mutex_unlock(&S.mu);
        break;
    }
    case TAG_STOPPED: {
        int32_t x;
        MPI_Recv(&x, 1, MPI_INT32_T, src, TAG_STOPPED, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        pthread_mutex_lock(&S.mu);
        S.stop_all = true;
        pthread_mutex_unlock(&S.mu);
        break;
    }
    case TAG_FINAL_HDR: {
        final_hdr *h = malloc(sizeof *h);
        if (!h)
            abort();
        MPI_Recv(h, sizeof *h, MPI_BYTE, src, TAG_FINAL_HDR, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        char *json = malloc((size_t)h->json_len + 1);
        if (!json)
            abort();
        MPI_Recv(json, (int)h->json_len, MPI_BYTE, src, TAG_FINAL_JSON,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        json[h->json_len] = '\0';
        DBG("%.3f root_recv final from %d done\n", dbg_now(), src);
        pthread_mutex_lock(&S.mu);
        if (!p->have_final && !S.collect_done) { /* else: too late */
            p->fin = *h;
            p->json = json;
            p->have_final = true;
            S.nfinal++;
            json = NULL;
        }
        pthread_mutex_unlock(&S.mu);
        free(json);
        free(h);
        break;
    }
    default: { /* not ours: drop it */
        int n;
        MPI_Get_count(st, MPI_BYTE, &n);
        char *b = malloc(n > 0 ? (size_t)n : 1);
        MPI_Recv(b, n, MPI_BYTE, src, st->MPI_TAG, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        free(b);
    }
    }
}

/* Steps 4 and 5. */
static void run_loop(void)
{
    MPI_Request beat_req = MPI_REQUEST_NULL, stopped_req = MPI_REQUEST_NULL;
    MPI_Request fin_req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    MPI_Request *stop_req = NULL;
    beat beat_buf;
    int32_t one = 1, stop_buf = 1;
    bool stopped_sent = false, stop_sent = false, fin_started = false;
    int64_t last_beat = 0;
    if (S.rank == 0) {
        stop_req = malloc((size_t)S.size * sizeof *stop_req);
        if (!stop_req)
            abort();
        for (int r = 0; r < S.size; r++)
            stop_req[r] = MPI_REQUEST_NULL;
    }
    for (;;) {
        bool busy = false;
        pthread_mutex_lock(&S.mu);
        bool quit = S.quit, hb_new = S.hb_new, stopped = S.stopped_here,
             stop_all = S.stop_all, fin = S.final_posted, done = S.collect_done;
        if (S.rank > 0 && beat_req != MPI_REQUEST_NULL) {
            int sent;
            MPI_Test(&beat_req, &sent, MPI_STATUS_IGNORE);
        }
        if (S.rank > 0 && beat_req == MPI_REQUEST_NULL)
            beat_buf = S.hb; /* not while a send reads it */
        pthread_mutex_unlock(&S.mu);
        if (quit)
            break;
        int flag;
        if (S.rank > 0) {
            /* A beat every LGM_BEAT, new counts or not: rank 0 takes a
             * rank silent for LGM_SILENT as lost. */
            int64_t now = goc_nanotime();
            if ((hb_new || now - last_beat >= LGM_BEAT) && !fin_started) {
                MPI_Test(&beat_req, &flag, MPI_STATUS_IGNORE);
                if (flag) {
                    last_beat = now;
                    MPI_Isend(&beat_buf, sizeof beat_buf, MPI_BYTE, 0, TAG_BEAT,
                              MPI_COMM_WORLD, &beat_req);
                    pthread_mutex_lock(&S.mu);
                    S.hb_new = false;
                    pthread_mutex_unlock(&S.mu);
                    busy = true;
                }
            }
            if (stopped && !stopped_sent) {
                MPI_Isend(&one, 1, MPI_INT32_T, 0, TAG_STOPPED, MPI_COMM_WORLD,
                          &stopped_req);
                stopped_sent = true;
            }
            MPI_Iprobe(0, TAG_STOP, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
            if (flag) {
                int32_t x;
                MPI_Recv(&x, 1, MPI_INT32_T, 0, TAG_STOP, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
                pthread_mutex_lock(&S.mu);
                S.stop_all = true;
                pthread_mutex_unlock(&S.mu);
                busy = true;
            }
            if (fin && !fin_started) {
                /* The header, then the text. */
                MPI_Isend(&S.fin, sizeof S.fin, MPI_BYTE, 0, TAG_FINAL_HDR,
                          MPI_COMM_WORLD, &fin_req[0]);
                MPI_Isend(S.fin_json, (int)S.fin.json_len, MPI_BYTE, 0,
                          TAG_FINAL_JSON, MPI_COMM_WORLD, &fin_req[1]);
                fin_started = true;
            }
            if (fin_started) {
                MPI_Testall(2, fin_req, &flag, MPI_STATUSES_IGNORE);
                if (flag) {
                    pthread_mutex_lock(&S.mu);
                    S.final_sent = true;
                    pthread_mutex_unlock(&S.mu);
                    break;
                }
            }
        } else {
            MPI_Status st;
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
            if (flag) {
                root_recv(&st);
                busy = true;
            }
            if ((stopped || stop_all) && !stop_sent) {
                DBG("%.3f root sends STOP\n", dbg_now());
                for (int r = 1; r < S.size; r++)
                    MPI_Isend(&stop_buf, 1, MPI_INT32_T, r, TAG_STOP,
                              MPI_COMM_WORLD, &stop_req[r]);
                stop_sent = true;
                DBG("%.3f root sent STOP\n", dbg_now());
                pthread_mutex_lock(&S.mu);
                S.stop_all = true;
                pthread_mutex_unlock(&S.mu);
            }
            if (done)
                break;
        }
        if (!busy)
            sleep_ns(IDLE_SLEEP);
    }
    /* Sends still in flight are eager (a few bytes) or done: let MPI
     * finish them on its own. */
    MPI_Request *all[] = {&beat_req, &stopped_req, &fin_req[0], &fin_req[1]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i] != MPI_REQUEST_NULL)
            MPI_Request_free(all[i]);
    for (int r = 1; stop_req && r < S.size; r++)
        if (stop_req[r] != MPI_REQUEST_NULL)
            MPI_Request_free(&stop_req[r]);
    free(stop_req);
}

static void *mpi_main(void *arg)
{
    (void)arg;
    /* Signals go to the main thread (goc's handler), never here nor to
     * the threads MPI starts from this one. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) !=
            MPI_SUCCESS ||
        provided < MPI_THREAD_FUNNELED) {
        pthread_mutex_lock(&S.mu);
        S.init_fail = S.inited = true;
        pthread_cond_broadcast(&S.cv);
        pthread_mutex_unlock(&S.mu);
        return NULL;
    }
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    S.rank = rank, S.size = size;
    if (rank == 0)
        S.peers = calloc((size_t)size, sizeof *S.peers);
    clock_sync();
    pthread_mutex_lock(&S.mu);
    S.inited = true;
    pthread_cond_broadcast(&S.cv);
    while (!S.ready_posted)
        pthread_cond_wait(&S.cv, &S.mu);
    ready_msg mine = S.ready;
    pthread_mutex_unlock(&S.mu);

    mine.offset = S.offset;
    mine.unc = S.unc;
    ready_msg *all = rank == 0 ? calloc((size_t)size, sizeof *all) : NULL;
    MPI_Gather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, 0,
               MPI_COMM_WORLD);
    start_msg sm = {0};
    if (rank == 0) {
        for (int r = 0; r < size; r++)
            S.peers[r].ready = all[r];
        decide(all, &sm);
    }
    free(all);
    MPI_Bcast(&sm, sizeof sm, MPI_BYTE, 0, MPI_COMM_WORLD);
    pthread_mutex_lock(&S.mu);
    for (int r = 0; rank == 0 && r < size; r++)
        S.peers[r].seen_at = goc_nanotime();
    S.decided = true;
    S.start_ok = sm.ok;
    S.start_local = sm.start0 - S.offset;
    snprintf(S.start_err, sizeof S.start_err, "%s", sm.err);
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);

    if (sm.ok)
        run_loop();

    pthread_mutex_lock(&S.mu);
    while (!S.quit)
        pthread_cond_wait(&S.cv, &S.mu);
    bool abort_job = S.abort_job;
    pthread_mutex_unlock(&S.mu);
    if (!abort_job)
        MPI_Finalize();
    return NULL;
}

int lgm_init(int64_t clock_bound)
{
    S.bound = clock_bound;
    if (pthread_create(&S.thread, NULL, mpi_main, NULL) != 0) {
        cli_error("cannot start the MPI thread");
        return -1;
    }
    pthread_mutex_lock(&S.mu);
    while (!S.inited)
        pthread_cond_wait(&S.cv, &S.mu);
    bool fail = S.init_fail;
    pthread_mutex_unlock(&S.mu);
    if (fail) {
        cli_error("MPI_Init_thread failed, or gave less than "
                  "MPI_THREAD_FUNNELED");
        pthread_join(S.thread, NULL);
        return -1;
    }
    return 0;
}

int lgm_agree_start(const char *why, int64_t *start_local, char *err,
                    size_t errlen)
{
    pthread_mutex_lock(&S.mu);
    S.ready.ok = why == NULL;
    S.ready.pid = getpid();
    if (gethostname(S.ready.host, sizeof S.ready.host - 1) != 0)
        snprintf(S.ready.host, sizeof S.ready.host, "unknown");
    snprintf(S.ready.why, sizeof S.ready.why, "%s", why ? why : "");
    S.ready_posted = true;
    pthread_cond_broadcast(&S.cv);
    while (!S.decided) {
        pthread_mutex_unlock(&S.mu);
        goc_sleep(GOC_MILLISECOND);
        pthread_mutex_lock(&S.mu);
    }
    bool ok = S.start_ok;
    *start_local = S.start_local;
    snprintf(err, errlen, "%s", S.start_err);
    pthread_mutex_unlock(&S.mu);
    return ok ? 0 : -1;
}

bool lgm_beat(const struct goc_loadgen_progress *pr, bool stopped)
{
    pthread_mutex_lock(&S.mu);
    S.hb = (beat){.elapsed = pr->elapsed,
                  .issued = pr->issued,
                  .completed = pr->completed,
                  .success = pr->success,
                  .timeouts = pr->timeouts,
                  .errors = pr->errors,
                  .canceled = pr->canceled};
    S.hb_new = true;
    if (stopped)
        S.stopped_here = true;
    bool stop = S.stop_all;
    pthread_mutex_unlock(&S.mu);
    return stop;
}

int lgm_finish(const char *json, size_t len, const lgm_row *row,
               const goc_http_stats *hs, int64_t deadline, goc_chan *sigs)
{
    final_hdr *h = &S.fin;
    if (getenv("LGM_DEBUG"))
        fprintf(stderr, "rank %d: finish at %.3f\n", S.rank,
                (double)(goc_nanotime() % 100000000000) / 1e9);
    pthread_mutex_lock(&S.mu);
    memset(h, 0, sizeof *h);
    h->row = *row;
    h->row.rank = S.rank;
    h->row.offset_ns = S.offset;
    h->row.uncertainty_ns = S.unc;
    h->has_http = hs != NULL;
    if (hs)
        h->hs = *hs;
    h->json_len = (int64_t)len;
    S.fin_json = malloc(len + 1);
    if (S.fin_json) {
        memcpy(S.fin_json, json, len);
        S.fin_json[len] = '\0';
    }
    if (S.rank == 0 && S.fin_json) {
        peer *p = &S.peers[0];
        p->fin = *h;
        p->json = S.fin_json;
        S.fin_json = NULL;
        p->have_final = true;
        S.nfinal++;
    } else if (S.fin_json) {
        S.final_posted = true;
    }
    pthread_mutex_unlock(&S.mu);
    bool signaled = false;
    for (;;) {
        pthread_mutex_lock(&S.mu);
        bool done = S.rank == 0 ? S.nfinal == S.size : S.final_sent;
        int n = S.nfinal;
        if (S.rank == 0 && !done) {
            /* Wait only for the ranks still heard from. */
            int64_t now = goc_nanotime();
            done = true;
            for (int r = 1; r < S.size; r++)
                if (!S.peers[r].have_final &&
                    now - S.peers[r].seen_at < LGM_SILENT)
                    done = false;
        }
        pthread_mutex_unlock(&S.mu);
        if (done || goc_nanotime() >= deadline) {
            if (getenv("LGM_DEBUG"))
                fprintf(stderr, "rank %d: finished at %.3f\n", S.rank,
                        (double)(goc_nanotime() % 100000000000) / 1e9);
            pthread_mutex_lock(&S.mu);
            S.collect_done = true;
            pthread_mutex_unlock(&S.mu);
            if (S.rank == 0)
                return n;
            return done ? 0 : -1;
        }
        int sig;
        goc_case cs = GOC_CASE_RECV(sigs, &sig);
        if (!signaled && sigs && S.rank == 0 && goc_select(&cs, 1, true) == 0) {
            signaled = true;
            int64_t d = goc_nanotime() + lgm_stop_wait();
            if (d < deadline)
                deadline = d;
        }
        goc_sleep(GOC_MILLISECOND);
    }
}

const char *lgm_json(int i)
{
    pthread_mutex_lock(&S.mu);
    const char *json =
        S.peers && S.peers[i].have_final ? S.peers[i].json : NULL;
    pthread_mutex_unlock(&S.mu);
    if (getenv("LGM_DEBUG"))
        fprintf(stderr, "rank %d: %" PRId64 " beats, last at %" PRId64 "\n", i,
                S.peers[i].nbeats, S.peers[i].last.elapsed);
    return json;
}

const lgm_row *lgm_row_of(int i)
{
    peer *p = &S.peers[i];
    pthread_mutex_lock(&S.mu);
    if (!p->have_final) {
        lgm_row *r = &p->fin.row;
        memset(r, 0, sizeof *r);
        r->rank = i;
        r->state = LGM_RANK_LOST;
        r->pid = p->ready.pid;
        r->offset_ns = p->ready.offset;
        r->uncertainty_ns = p->ready.unc;
        snprintf(r->host, sizeof r->host, "%s", p->ready.host);
        if (p->have_beat) {
            r->seen_ns = p->last.elapsed;
            r->issued = p->last.issued;
            r->completed = p->last.completed;
            r->codes[0] = p->last.success;
            r->codes[1] = p->last.timeouts;
            r->codes[2] = p->last.canceled;
            r->codes[3] = p->last.errors; /* errors of every kind */
            snprintf(r->why, sizeof r->why,
                     "no report came (the process died, or could not reach "
                     "rank 0); counts as of its last heartbeat");
        } else {
            snprintf(r->why, sizeof r->why,
                     "no report and no heartbeat came (the process died "
                     "early, or could not reach rank 0)");
        }
    }
    pthread_mutex_unlock(&S.mu);
    return &p->fin.row;
}

const goc_http_stats *lgm_http(int i)
{
    pthread_mutex_lock(&S.mu);
    const goc_http_stats *h = S.peers[i].have_final && S.peers[i].fin.has_http
                                  ? &S.peers[i].fin.hs
                                  : NULL;
    pthread_mutex_unlock(&S.mu);
    return h;
}

void lgm_end(bool abort_job)
{
    pthread_mutex_lock(&S.mu);
    S.quit = true;
    S.abort_job = abort_job;
    if (!S.ready_posted) { /* never got that far: release the thread */
        S.ready.ok = 0;
        snprintf(S.ready.why, sizeof S.ready.why, "ended before the start");
        S.ready.pid = getpid();
        S.ready_posted = true;
    }
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    pthread_join(S.thread, NULL);
}
