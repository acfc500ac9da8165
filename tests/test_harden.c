/*
 * test_harden.c - issue 19's defects as tests, against loopback only:
 *  - a client trickling a request line one byte at a time is cut off
 *    request_timeout after its first byte (the idle timeout restarted on
 *    every read and let it hold the connection forever);
 *  - past max_conns a connection gets a clear refusal line and is closed;
 *  - connection churn against the goc-calcserver program: its idle RSS
 *    plateaus (cached stacks give their pages back, connection buffers
 *    leave nothing in malloc's per-thread arenas).
 * The churn test's size comes from GOC_CHURN_CONNS / GOC_CHURN_ROUNDS
 * (make soak runs 10,000 x 6; the suite a smaller slice).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "goc.h"
#include "goc_test.h"

#if __has_include("goc/net.h")
#include "goc/calcserver.h"

#define MS GOC_MILLISECOND
#define SEC GOC_SECOND

static const char REQ[] = "{\"ID\":7,\"Operands\":[1,2],\"Operator\":\"+\"}\n";

/* Reads until EOF or error (at most cap-1 bytes kept); the bytes read. */
static size_t read_all(goc_conn *c, char *buf, size_t cap, int64_t within)
{
    size_t len = 0;
    goc_conn_set_read_deadline(c, goc_nanotime() + within);
    for (;;) {
        char tmp[512];
        ssize_t n = goc_conn_read(c, tmp, sizeof tmp);
        if (n <= 0)
            break;
        size_t k = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
        memcpy(buf + len, tmp, k);
        len += k;
    }
    buf[len] = '\0';
    return len;
}

/* ---- whole-request deadline ------------------------------------------ */

static int trickle_main(void *arg)
{
    (void)arg;
    goc_calcserver *s;
    goc_calcserver_opts o = {.idle_timeout = 5 * SEC,
                             .request_timeout = 300 * MS};
    ASSERT_EQ(goc_calcserver_start(&s, "127.0.0.1:0", &o), 0);
    goc_conn *c;
    ASSERT_EQ(goc_dial(&c, "tcp", goc_calcserver_addr(s)), 0);
    /* One byte every 50 ms: each read is well inside the idle timeout,
     * the line never ends before the request deadline. */
    int64_t t0 = goc_nanotime(), cut = 0;
    for (size_t i = 0; i < sizeof REQ - 2; i++) {
        if (goc_conn_write(c, REQ + i, 1) != 1) {
            cut = goc_nanotime() - t0;
            break;
        }
        goc_sleep(50 * MS);
        /* Has the server answered and closed? */
        char buf[512];
        goc_conn_set_read_deadline(c, goc_nanotime() + MS);
        ssize_t n = goc_conn_read(c, buf, sizeof buf - 1);
        if (n >= 0 && n != -ETIMEDOUT) {
            cut = goc_nanotime() - t0;
            if (n > 0) {
                buf[n] = '\0';
                ASSERT(strstr(buf, "not complete in time") != NULL);
            }
            break;
        }
    }
    printf("trickling client cut off after %.0f ms\n", (double)cut / 1e6);
    ASSERT(cut > 0); /* before the fix: held for the whole line (2 s) */
    ASSERT_GT(cut, 250 * MS);
    ASSERT_LT(cut, 1900 * MS); /* the line takes 2 s to trickle */
    goc_conn_close(c);
    /* The server goes on serving. */
    ASSERT_EQ(goc_dial(&c, "tcp", goc_calcserver_addr(s)), 0);
    ASSERT_EQ(goc_conn_write(c, REQ, sizeof REQ - 1), (ssize_t)sizeof REQ - 1);
    char buf[512];
    read_all(c, buf, sizeof buf, 5 * SEC);
    ASSERT(strstr(buf, "\"Result\":3") != NULL);
    goc_conn_close(c);
    goc_calcserver_stop(s);
    return 0;
}

GOC_TEST_TIMEOUT(harden_calcserver_request_deadline, 60)
{
    goc_maxprocs(2);
    return goc_main(trickle_main, NULL);
}

/* ---- connection cap ------------------------------------------------- */

static int cap_main(void *arg)
{
    (void)arg;
    goc_calcserver *s;
    goc_calcserver_opts o = {.keepalive = true, .max_conns = 2};
    ASSERT_EQ(goc_calcserver_start(&s, "127.0.0.1:0", &o), 0);
    goc_conn *held[2], *c;
    char buf[512];
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(goc_dial(&held[i], "tcp", goc_calcserver_addr(s)), 0);
        /* A round trip: the server has counted it. */
        ASSERT_EQ(goc_conn_write(held[i], REQ, sizeof REQ - 1),
                  (ssize_t)sizeof REQ - 1);
        goc_conn_set_read_deadline(held[i], goc_nanotime() + 5 * SEC);
        ASSERT_GT(goc_conn_read(held[i], buf, sizeof buf), 0);
    }
    ASSERT_EQ(goc_dial(&c, "tcp", goc_calcserver_addr(s)), 0);
    read_all(c, buf, sizeof buf, 5 * SEC);
    ASSERT(strstr(buf, "server busy: too many connections") != NULL);
    goc_conn_close(c);
    /* One goes: a new one is served again. */
    goc_conn_close(held[0]);
    bool served = false;
    for (int tries = 0; tries < 200 && !served; tries++) {
        goc_sleep(10 * MS);
        ASSERT_EQ(goc_dial(&c, "tcp", goc_calcserver_addr(s)), 0);
        goc_conn_write(c, REQ, sizeof REQ - 1);
        goc_conn_set_read_deadline(c, goc_nanotime() + 5 * SEC);
        ssize_t n = goc_conn_read(c, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        served = strstr(buf, "\"Result\":3") != NULL;
        goc_conn_close(c);
    }
    ASSERT(served);
    goc_calcserver_stats st;
    goc_calcserver_get_stats(s, &st);
    ASSERT_GT(st.refused, 0);
    goc_conn_close(held[1]);
    goc_calcserver_stop(s);
    return 0;
}

GOC_TEST_TIMEOUT(harden_calcserver_max_conns, 60)
{
    goc_maxprocs(2);
    return goc_main(cap_main, NULL);
}

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

/* Figures: to stdout (shown when the test fails) and, for make soak, to
 * the file $GOC_SOAK_LOG. */
#include <stdarg.h>
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs(buf, stdout);
    fflush(stdout);
    const char *log = getenv("GOC_SOAK_LOG");
    FILE *f = log && *log ? fopen(log, "a") : NULL;
    if (f) {
        fputs(buf, f);
        fclose(f);
    }
}

/* ---- hostile clients ------------------------------------------------- */

/* How long a hostile client waits for its answer: a bound for a hang,
 * not for speed (a loaded 2-core machine took 5 s; valgrind and the
 * sanitizers run many times slower). */
#define WAIT ((goc_test_iter_div() > 1 ? 60 : 20) * SEC)

typedef struct hostile {
    const char *addr;
    long big_bytes;
    goc_waitgroup wg;
    _Atomic long garbage_answered, big_refused, halfclosed_ok;
} hostile;

/* Says why a hostile client that should have been answered was not. */
static void h_missed(const char *who, int dial_rc, int64_t t0, const char *got)
{
    note(
        "%s client not answered: dial %d, %.1f ms after start, got \"%.80s\"\n",
        who, dial_rc, (double)(goc_nanotime() - t0) / 1e6, got);
}

static void h_garbage(void *arg)
{
    hostile *h = arg;
    goc_conn *c;
    int64_t t0 = goc_nanotime();
    int rc = goc_dial(&c, "tcp", h->addr);
    if (rc != 0)
        h_missed("garbage", rc, t0, "");
    if (rc == 0) {
        char buf[4096];
        uint32_t x = (uint32_t)(uintptr_t)&buf ^ (uint32_t)goc_nanotime();
        for (size_t i = 0; i < sizeof buf; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (char)(x >> 24);
        }
        buf[sizeof buf - 1] = '\n';
        goc_conn_set_write_deadline(c, goc_nanotime() + 5 * SEC);
        goc_conn_write(c, buf, sizeof buf);
        shutdown(goc_conn_fd(c), SHUT_WR);
        size_t n = read_all(c, buf, sizeof buf, WAIT);
        if (n > 0 && strstr(buf, "\"Err\":\""))
            atomic_fetch_add(&h->garbage_answered, 1);
        else
            h_missed("garbage", 0, t0, buf);
        goc_conn_close(c);
    }
    goc_waitgroup_done(&h->wg);
}

static void h_big(void *arg)
{
    hostile *h = arg;
    goc_conn *c;
    if (goc_dial(&c, "tcp", h->addr) == 0) {
        static char chunk[64 * 1024];
        memset(chunk, 'x', sizeof chunk);
        long sent = 0;
        goc_conn_set_write_deadline(c, goc_nanotime() + 20 * SEC);
        while (sent < h->big_bytes) {
            ssize_t n = goc_conn_write(c, chunk, sizeof chunk);
            if (n <= 0)
                break; /* the server gave up on us: good */
            sent += n;
        }
        char buf[512];
        read_all(c, buf, sizeof buf, WAIT);
        if (strstr(buf, "over 64 KiB"))
            atomic_fetch_add(&h->big_refused, 1);
        goc_conn_close(c);
    }
    goc_waitgroup_done(&h->wg);
}

static void h_halfclosed(void *arg)
{
    hostile *h = arg;
    goc_conn *c;
    int64_t t0 = goc_nanotime();
    int rc = goc_dial(&c, "tcp", h->addr);
    if (rc != 0)
        h_missed("half-closed", rc, t0, "");
    if (rc == 0) {
        int64_t dialed = goc_nanotime();
        ssize_t w = goc_conn_write(c, REQ, sizeof REQ - 1);
        int64_t wrote = goc_nanotime();
        shutdown(goc_conn_fd(c), SHUT_WR);
        char buf[512];
        read_all(c, buf, sizeof buf, WAIT);
        if (strstr(buf, "\"Result\":3")) {
            atomic_fetch_add(&h->halfclosed_ok, 1);
        } else {
            note("half-closed: dialed after %.1f ms, wrote %zd after %.1f "
                 "ms more\n",
                 (double)(dialed - t0) / 1e6, w,
                 (double)(wrote - dialed) / 1e6);
            h_missed("half-closed", 0, t0, buf);
        }
        goc_conn_close(c);
    }
    goc_waitgroup_done(&h->wg);
}

/* Pipelines requests and never reads: the server must not be held up by
 * it (its writes time out), and it must cost only what it buffers. */
static void h_noread(void *arg)
{
    hostile *h = arg;
    goc_conn *c;
    if (goc_dial(&c, "tcp", h->addr) == 0) {
        char many[sizeof REQ * 64];
        for (int i = 0; i < 64; i++)
            memcpy(many + i * (sizeof REQ - 1), REQ, sizeof REQ - 1);
        goc_conn_set_write_deadline(c, goc_nanotime() + 1 * SEC);
        for (int i = 0; i < 2000; i++)
            if (goc_conn_write(c, many, 64 * (sizeof REQ - 1)) <= 0)
                break;
        goc_conn_close(c);
    }
    goc_waitgroup_done(&h->wg);
}

static int hostile_main(void *arg)
{
    (void)arg;
    hostile h = {.big_bytes = env_long("GOC_HOSTILE_BIG_MB", 8) << 20};
    goc_calcserver *s;
    /* The server's timeouts are hang guards here, as long as the clients'
     * WAIT: with 3 s (as before), a client held off the CPU for 3 s
     * between its dial and its write on a loaded machine under ASan was
     * timed out as idle, and went unanswered. Twice WAIT, so that a client
     * held off for WAIT still waits on its own read deadline, not the
     * server's (a release build at load average 42 once left a half-closed
     * client unanswered after 23 s; its note now says where the time
     * went). The timeouts have tests of their own (trickle, above). */
    goc_calcserver_opts o = {.keepalive = true,
                             .idle_timeout = 2 * WAIT,
                             .request_timeout = 2 * WAIT};
    ASSERT_EQ(goc_calcserver_start(&s, "127.0.0.1:0", &o), 0);
    h.addr = goc_calcserver_addr(s);
    /* Sanitizers and valgrind: fewer clients, the same attacks. */
    const int slow = goc_test_iter_div() > 1;
    const int GARBAGE = slow ? 10 : 50, HALF = slow ? 10 : 50,
              NOREAD = slow ? 4 : 20;
    goc_waitgroup_add(&h.wg, GARBAGE + HALF + NOREAD + 1);
    ASSERT_EQ(goc_go(h_big, &h), 0);
    for (int i = 0; i < GARBAGE; i++)
        ASSERT_EQ(goc_go(h_garbage, &h), 0);
    for (int i = 0; i < HALF; i++)
        ASSERT_EQ(goc_go(h_halfclosed, &h), 0);
    for (int i = 0; i < NOREAD; i++)
        ASSERT_EQ(goc_go(h_noread, &h), 0);
    /* Meanwhile an ordinary client is served, promptly. */
    int64_t t0 = goc_nanotime();
    goc_conn *c;
    ASSERT_EQ(goc_dial(&c, "tcp", h.addr), 0);
    ASSERT_EQ(goc_conn_write(c, REQ, sizeof REQ - 1), (ssize_t)sizeof REQ - 1);
    char buf[512];
    goc_conn_set_read_deadline(c, goc_nanotime() + WAIT);
    ssize_t n = goc_conn_read(c, buf, sizeof buf - 1);
    ASSERT_GT(n, 0);
    buf[n] = '\0';
    ASSERT(strstr(buf, "\"Result\":3") != NULL);
    int64_t canary = goc_nanotime() - t0;
    goc_conn_close(c);
    goc_waitgroup_wait(&h.wg);
    note("hostile: %ld/%d garbage answered with an error, %ld/%d half-closed "
         "answered, big line (%ld MiB) refused: %ld, canary served in %.1f "
         "ms\n",
         atomic_load(&h.garbage_answered), GARBAGE,
         atomic_load(&h.halfclosed_ok), HALF, h.big_bytes >> 20,
         atomic_load(&h.big_refused), (double)canary / 1e6);
    ASSERT_EQ(atomic_load(&h.garbage_answered), GARBAGE);
    ASSERT_EQ(atomic_load(&h.halfclosed_ok), HALF);
    ASSERT_EQ(atomic_load(&h.big_refused), 1);
    goc_calcserver_stop(s);
    return 0;
}

GOC_TEST_TIMEOUT(harden_calcserver_hostile, 120)
{
    goc_maxprocs(2);
    return goc_main(hostile_main, NULL);
}

/* ---- connection churn: RSS plateau ---------------------------------- */

static long rss_kb_of(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

typedef struct churn {
    const char *addr;
    _Atomic long ok, failed, dialled;
    goc_waitgroup wg;
    goc_chan *hold; /* closed once every connection is open */
} churn;

static void churn_client(void *arg)
{
    churn *ch = arg;
    goc_conn *c = NULL;
    int rc = goc_dial_timeout(&c, "tcp", ch->addr, 20 * SEC);
    atomic_fetch_add(&ch->dialled, 1);
    if (rc == 0 &&
        goc_conn_write(c, REQ, sizeof REQ - 1) == (ssize_t)sizeof REQ - 1) {
        /* Keep it open until every client has dialled: the server holds
         * all of them at once. */
        goc_chan_recv(ch->hold, NULL);
        char buf[512];
        size_t n = read_all(c, buf, sizeof buf, 30 * SEC);
        if (n > 0 && strstr(buf, "\"Result\":3"))
            atomic_fetch_add(&ch->ok, 1);
        else
            atomic_fetch_add(&ch->failed, 1);
    } else {
        goc_chan_recv(ch->hold, NULL);
        atomic_fetch_add(&ch->failed, 1);
    }
    if (c)
        goc_conn_close(c);
    goc_waitgroup_done(&ch->wg);
}

typedef struct churn_run {
    const char *addr;
    pid_t pid;
    long conns, rounds;
    long rss[16];
} churn_run;

static int churn_main(void *arg)
{
    churn_run *r = arg;
    for (long round = 0; round < r->rounds; round++) {
        churn ch = {.addr = r->addr};
        ch.hold = goc_chan_make(0, 0);
        goc_waitgroup_add(&ch.wg, (int)r->conns);
        for (long i = 0; i < r->conns; i++) {
            ASSERT_EQ(goc_go(churn_client, &ch), 0);
            if (i % 256 == 255) /* a SYN burst under the backlog */
                goc_sleep(2 * MS);
        }
        while (atomic_load(&ch.dialled) < r->conns)
            goc_sleep(5 * MS);
        goc_chan_close(ch.hold);
        goc_waitgroup_wait(&ch.wg);
        goc_chan_free(ch.hold);
        ASSERT_EQ(atomic_load(&ch.ok), r->conns);
        /* Idle: the server's goroutines exit, its scavenger runs (every
         * 0.5 s, at most 1024 stacks a period); take the RSS once it has
         * settled: unchanged for 2 s (4 periods). Two equal reads 250 ms
         * apart were not enough on a loaded machine: the server, short of
         * CPU, had scavenged half (round 3 at 59.7 MB against 29.5). */
        long best = -1, prev = -1;
        int same = 0;
        for (int t = 0; t < 120; t++) {
            goc_sleep(250 * MS);
            long kb = rss_kb_of(r->pid);
            if (best < 0 || kb < best)
                best = kb;
            same = kb == prev ? same + 1 : 0;
            if (t >= 12 && same >= 8)
                break;
            prev = kb;
        }
        r->rss[round] = best;
        note("round %ld: %ld connections ok, server idle RSS %ld KiB\n",
             round + 1, atomic_load(&ch.ok), best);
    }
    return 0;
}

static void tool_path(char *buf, size_t len, const char *tool)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ASSERT(n > 0);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    ASSERT(slash != NULL);
    *slash = '\0';
    int w = snprintf(buf, len, "%.*s/tools/%s", PATH_MAX - 64, self, tool);
    ASSERT(w > 0 && (size_t)w < len);
    if (access(buf, X_OK) != 0)
        GOC_FAIL_("%s is missing: build the tools", buf);
}

GOC_TEST_TIMEOUT(harden_calcserver_rss_plateau, 600)
{
    churn_run r = {.conns = env_long("GOC_CHURN_CONNS", 10000),
                   .rounds = env_long("GOC_CHURN_ROUNDS", 3)};
    /* Sanitized and valgrind builds: the server's RSS is the tool's
     * (ASan's quarantine, shadow memory), not ours: there, check only that
     * every round is served, at a smaller size. */
    bool measure = goc_test_iter_div() == 1;
    if (!measure) {
        r.conns = 10000 / goc_test_iter_div();
        if (r.conns < 100)
            r.conns = 100;
        r.rounds = 2;
    }
    ASSERT(r.rounds >= 2 && r.rounds <= 16);
    struct rlimit nf;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &nf), 0);
    if (nf.rlim_cur < (rlim_t)r.conns + 512) {
        nf.rlim_cur = nf.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nf);
    }
    if (nf.rlim_cur < (rlim_t)r.conns + 512) {
        printf("skipped: RLIMIT_NOFILE %ld is too low for %ld connections\n",
               (long)nf.rlim_cur, r.conns);
        return 0;
    }
    const char *bin = getenv("GOC_CHURN_SERVER");
    char path[PATH_MAX];
    if (bin && *bin)
        snprintf(path, sizeof path, "%s", bin);
    else
        tool_path(path, sizeof path, "goc-calcserver");
    int po[2];
    ASSERT_EQ(pipe2(po, O_CLOEXEC), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        execl(path, path, "--listen", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(po[1]);
    char line[256];
    size_t len = 0;
    while (len < sizeof line - 1 && read(po[0], line + len, 1) == 1 &&
           line[len] != '\n')
        len++;
    line[len] = '\0';
    char *at = strstr(line, "listening on ");
    if (!at) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        GOC_FAIL_("goc-calcserver did not start: \"%s\"", line);
    }
    char addr[128];
    snprintf(addr, sizeof addr, "%s", at + strlen("listening on "));
    r.addr = addr;
    r.pid = pid;
    goc_maxprocs(2);
    int rc = goc_main(churn_main, &r);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    close(po[0]);
    ASSERT_EQ(rc, 0);
    /* Round 1 warms the caches; from round 2 on it must stay flat. */
    long base = r.rss[1], last = r.rss[r.rounds - 1];
    note("idle RSS after round 2: %ld KiB, after round %ld: %ld KiB "
         "(%+.1f %%)\n",
         base, r.rounds, last, 100.0 * (double)(last - base) / (double)base);
    if (measure)
        ASSERT_LT(last, base + base / 10 + 1024);
    return 0;
}

#endif
