/*
 * test_signal.c - os/signal on goc: the seed's two-channel demo, Stop,
 * full channels, "every signal", signals that every thread blocks
 * (signalfd), a goroutine waiting for a signal (no deadlock), and a storm
 * of signals while goroutines do pipe and process I/O (no EINTR).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <goc.h>

#include "goc_test.h"

#define MS GOC_MILLISECOND

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/*
 * ThreadSanitizer postpones an asynchronous signal's handler on a thread
 * that sits in a system call it does not intercept (goc_main's futex
 * wait) until that thread next calls into libc, which it does not. Under
 * TSan the thread that runs goc_main therefore blocks the signals these
 * tests use as well: then every thread blocks them and they reach goc
 * through its signalfd instead of its forwarding handler.
 */
static int run_main(int (*fn)(void *), void *arg)
{
#ifdef UNDER_TSAN
    static const int used[] = {SIGUSR1,  SIGUSR2, SIGINT,  SIGQUIT, SIGHUP,
                               SIGWINCH, SIGTERM, SIGALRM, SIGCHLD};
    sigset_t set, old;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        sigaddset(&set, used[i]);
    sigaddset(&set, SIGRTMIN + 3);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int r = goc_main(fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
#else
    return goc_main(fn, arg);
#endif
}

static void go(void (*fn)(void *), void *arg)
{
    ASSERT_EQ(goc_go(fn, arg), 0);
}

static void self_signal(int sig)
{
    ASSERT_EQ(goc_process_signal(getpid(), sig), 0);
}

/* Receive an int within `wait`: the value, or 0 on timeout. */
static int recv_within(goc_chan *c, int64_t wait)
{
    goc_timer *t = goc_timer_new(wait);
    int v = 0;
    goc_case cs[] = {GOC_CASE_RECV(c, &v),
                     GOC_CASE_RECV(goc_timer_chan(t), NULL)};
    int i = goc_select(cs, 2, false);
    goc_timer_free(t);
    return i == 0 ? v : 0;
}

/* ---- the seed's demo ------------------------------------------------ */

typedef struct ranger {
    goc_chan *c;
    _Atomic int got[65];
    _Atomic bool ended;
    goc_waitgroup *wg;
} ranger;

/* for sig := range sigRecv { ... } */
static void range_signals(void *arg)
{
    ranger *r = arg;
    int s;
    while (goc_chan_recv_int(r->c, &s))
        atomic_fetch_add(&r->got[s], 1);
    atomic_store(&r->ended, true);
    goc_waitgroup_done(r->wg);
}

static void wait_count(_Atomic int *v, int want)
{
    int64_t until = goc_nanotime() + 5 * GOC_SECOND;
    while (atomic_load(v) < want) {
        ASSERT_LT(goc_nanotime(), until);
        goc_sleep(MS);
    }
}

static int demo_main(void *arg)
{
    (void)arg;
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    ranger r1 = {0}, r2 = {0};
    r1.c = goc_chan_make(sizeof(int), 1);
    r2.c = goc_chan_make(sizeof(int), 1);
    r1.wg = r2.wg = &wg;
    int sigs1[] = {SIGINT, SIGQUIT}, sigs2[] = {SIGQUIT};
    ASSERT_EQ(goc_signal_notify(r1.c, sigs1, 2), 0);
    ASSERT_EQ(goc_signal_notify(r2.c, sigs2, 1), 0);
    goc_waitgroup_add(&wg, 2);
    go(range_signals, &r1);
    go(range_signals, &r2);

    /* SIGQUIT reaches both, SIGINT only the first. */
    self_signal(SIGQUIT);
    wait_count(&r1.got[SIGQUIT], 1);
    wait_count(&r2.got[SIGQUIT], 1);
    self_signal(SIGINT);
    wait_count(&r1.got[SIGINT], 1);
    goc_sleep(30 * MS);
    ASSERT_EQ(atomic_load(&r2.got[SIGINT]), 0);

    /* Stop + close the first: its range ends; SIGQUIT still reaches the
     * second, and the first gets nothing more. */
    goc_signal_stop(r1.c);
    goc_chan_close(r1.c);
    wait_count((_Atomic int *)&r1.ended, 1);
    self_signal(SIGQUIT);
    wait_count(&r2.got[SIGQUIT], 2);
    ASSERT_EQ(atomic_load(&r1.got[SIGQUIT]), 1);
    ASSERT_EQ(atomic_load(&r1.got[SIGINT]), 1);

    /* SIGINT has no channel any more: its default action is back. */
    struct sigaction sa;
    ASSERT_EQ(sigaction(SIGINT, NULL, &sa), 0);
    ASSERT(sa.sa_handler == SIG_DFL);
    goc_signal_stop(r2.c);
    ASSERT_EQ(sigaction(SIGQUIT, NULL, &sa), 0);
    ASSERT(sa.sa_handler == SIG_DFL);
    goc_chan_close(r2.c);
    goc_waitgroup_wait(&wg);
    goc_chan_free(r1.c);
    goc_chan_free(r2.c);
    return 0;
}

GOC_TEST(signal_two_channels_demo)
{
    return run_main(demo_main, NULL);
}

/* ---- stop, restore, expand ------------------------------------------ */

static void on_usr2(int s)
{
    (void)s;
}

static int stop_main(void *arg)
{
    (void)arg;
    /* The user's own handler comes back after the last stop. */
    struct sigaction mine = {0}, sa;
    mine.sa_handler = on_usr2;
    ASSERT_EQ(sigaction(SIGUSR2, &mine, NULL), 0);
    goc_chan *a = goc_chan_make(sizeof(int), 4);
    goc_chan *b = goc_chan_make(sizeof(int), 4);
    int u1[] = {SIGUSR1}, u2[] = {SIGUSR2};
    ASSERT_EQ(goc_signal_notify(a, u1, 1), 0);
    ASSERT_EQ(goc_signal_notify(b, u1, 1), 0);
    /* Notify again with the same channel adds signals (Go). */
    ASSERT_EQ(goc_signal_notify(a, u2, 1), 0);
    self_signal(SIGUSR1);
    ASSERT_EQ(recv_within(a, GOC_SECOND), SIGUSR1);
    ASSERT_EQ(recv_within(b, GOC_SECOND), SIGUSR1);
    self_signal(SIGUSR2);
    ASSERT_EQ(recv_within(a, GOC_SECOND), SIGUSR2);
    ASSERT_EQ(recv_within(b, 30 * MS), 0);
    /* After stop nothing more arrives at a; b still gets SIGUSR1. */
    goc_signal_stop(a);
    goc_signal_stop(a); /* twice: nothing */
    for (int i = 0; i < 3; i++) {
        self_signal(SIGUSR1);
        ASSERT_EQ(recv_within(b, GOC_SECOND), SIGUSR1);
    }
    ASSERT_EQ(goc_chan_len(a), 0);
    ASSERT_EQ(sigaction(SIGUSR2, NULL, &sa), 0);
    ASSERT(sa.sa_handler == on_usr2);
    goc_signal_stop(b);
    ASSERT_EQ(sigaction(SIGUSR1, NULL, &sa), 0);
    ASSERT(sa.sa_handler == SIG_DFL);
    goc_chan_free(a);
    goc_chan_free(b);

    /* Bad arguments. */
    goc_chan *wrong = goc_chan_make(sizeof(int64_t), 1);
    ASSERT_EQ(goc_signal_notify(NULL, u1, 1), -EINVAL);
    ASSERT_EQ(goc_signal_notify(wrong, u1, 1), -EINVAL);
    goc_chan_free(wrong);
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    int bad[] = {0}, big[] = {65};
    ASSERT_EQ(goc_signal_notify(c, bad, 1), -EINVAL);
    ASSERT_EQ(goc_signal_notify(c, big, 1), -EINVAL);
    /* SIGKILL, SIGSTOP and the faults: accepted, ignored. */
    struct sigaction before;
    ASSERT_EQ(sigaction(SIGSEGV, NULL, &before), 0);
    int untouchable[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    ASSERT_EQ(goc_signal_notify(c, untouchable, 6), 0);
    ASSERT_EQ(sigaction(SIGSEGV, NULL, &sa), 0);
    ASSERT(sa.sa_handler == before.sa_handler);
    goc_signal_stop(c);
    goc_chan_free(c);
    return 0;
}

GOC_TEST(signal_stop)
{
    return run_main(stop_main, NULL);
}

/* ---- a full channel never blocks delivery to others ----------------- */

typedef struct counter {
    goc_chan *c;
    _Atomic int n;
    goc_waitgroup wg;
} counter;

static void count_all(void *arg)
{
    counter *k = arg;
    int s;
    while (goc_chan_recv_int(k->c, &s))
        atomic_fetch_add(&k->n, 1);
    goc_waitgroup_done(&k->wg);
}

static int full_main(void *arg)
{
    (void)arg;
    goc_chan *full = goc_chan_make(sizeof(int), 1);  /* never read */
    goc_chan *unbuf = goc_chan_make(sizeof(int), 0); /* nobody waiting */
    counter k = {goc_chan_make(sizeof(int), 1), 0, GOC_WAITGROUP_INIT};
    int u1[] = {SIGUSR1};
    ASSERT_EQ(goc_signal_notify(full, u1, 1), 0);
    ASSERT_EQ(goc_signal_notify(unbuf, u1, 1), 0);
    ASSERT_EQ(goc_signal_notify(k.c, u1, 1), 0);
    goc_waitgroup_add(&k.wg, 1);
    go(count_all, &k);
    for (int i = 1; i <= 10; i++) {
        self_signal(SIGUSR1);
        wait_count(&k.n, i);
    }
    ASSERT_EQ(goc_chan_len(full), 1);
    ASSERT_EQ(goc_chan_len(unbuf), 0);
    goc_signal_stop(full);
    goc_signal_stop(unbuf);
    goc_signal_stop(k.c);
    goc_chan_close(k.c);
    goc_waitgroup_wait(&k.wg);
    goc_chan_free(k.c);
    goc_chan_free(full);
    goc_chan_free(unbuf);
    return 0;
}

GOC_TEST(signal_full_channel_drops)
{
    return run_main(full_main, NULL);
}

/* ---- every catchable signal ----------------------------------------- */

static int all_main(void *arg)
{
    (void)arg;
    goc_chan *c = goc_chan_make(sizeof(int), 8);
    ASSERT_EQ(goc_signal_notify(c, NULL, 0), 0);
    int list[] = {SIGUSR2, SIGHUP, SIGWINCH, SIGTERM, SIGRTMIN + 3, SIGALRM};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        self_signal(list[i]);
        ASSERT_EQ(recv_within(c, GOC_SECOND), list[i]);
    }
    /* A child's exit is a signal too (SIGCHLD), with n == 0. */
    goc_cmd *cmd = goc_command("true", NULL);
    ASSERT_EQ(goc_cmd_run(cmd), 0);
    goc_cmd_free(cmd);
    ASSERT_EQ(recv_within(c, GOC_SECOND), SIGCHLD);
    goc_signal_stop(c);
    struct sigaction sa;
    ASSERT_EQ(sigaction(SIGTERM, NULL, &sa), 0);
    ASSERT(sa.sa_handler == SIG_DFL);
    goc_chan_free(c);
    return 0;
}

GOC_TEST(signal_notify_all)
{
    return run_main(all_main, NULL);
}

/* ---- blocked in every thread: the signalfd path --------------------- */

static int blocked_main(void *arg)
{
    (void)arg;
    goc_chan *c = goc_chan_make(sizeof(int), 4);
    int u2[] = {SIGUSR2};
    ASSERT_EQ(goc_signal_notify(c, u2, 1), 0);
    for (int i = 0; i < 5; i++) {
        self_signal(SIGUSR2);
        ASSERT_EQ(recv_within(c, GOC_SECOND), SIGUSR2);
    }
    goc_signal_stop(c);
    goc_chan_free(c);
    return 0;
}

GOC_TEST(signal_blocked_everywhere)
{
    /* The thread that calls goc_main blocks it too (so do the runtime's
     * threads): no handler can run, the signal stays pending for the
     * signalfd. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int r = goc_main(blocked_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/* ---- waiting for a signal is not a deadlock ------------------------- */

static void *late_sender(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR1);
    return NULL;
}

static int no_deadlock_main(void *arg)
{
    (void)arg;
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    int u1[] = {SIGUSR1};
    ASSERT_EQ(goc_signal_notify(c, u1, 1), 0);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, late_sender, NULL), 0);
    /* The only goroutine blocks on the channel; no timer, no I/O. */
    int s = 0;
    ASSERT(goc_chan_recv_int(c, &s));
    ASSERT_EQ(s, SIGUSR1);
    pthread_join(t, NULL);
    goc_signal_stop(c);
    goc_chan_free(c);
    return 0;
}

GOC_TEST(signal_wait_is_not_deadlock)
{
    return run_main(no_deadlock_main, NULL);
}

/* Without a registration the same wait is a deadlock, as in Go. */
static int deadlock_main(void *arg)
{
    (void)arg;
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    int u1[] = {SIGUSR1};
    ASSERT_EQ(goc_signal_notify(c, u1, 1), 0);
    goc_signal_stop(c);
    goc_chan_recv_int(c, NULL);
    return 0;
}

GOC_TEST_EXPECT(signal_deadlock_after_stop, 0, 2, "all goroutines are asleep")
{
    return run_main(deadlock_main, NULL);
}

/* ---- a storm of signals while I/O goes on --------------------------- */

typedef struct storm {
    _Atomic bool stop;
    _Atomic long sent, received, echoed, children;
    goc_waitgroup wg;
    goc_chan *sigc;
} storm;

static void storm_sender(void *arg)
{
    storm *s = arg;
    pid_t self = getpid();
    long n = 0;
    while (!atomic_load(&s->stop)) {
        ASSERT_EQ(goc_process_signal(self, SIGUSR1), 0);
        if (++n % 64 == 0)
            goc_yield();
    }
    atomic_store(&s->sent, n);
    goc_waitgroup_done(&s->wg);
}

static void storm_receiver(void *arg)
{
    storm *s = arg;
    int v;
    while (goc_chan_recv_int(s->sigc, &v)) {
        ASSERT_EQ(v, SIGUSR1);
        atomic_fetch_add(&s->received, 1);
    }
    goc_waitgroup_done(&s->wg);
}

typedef struct echo_pair {
    storm *s;
    goc_file *r, *w;
} echo_pair;

/* Echo server: copy r to w until EOF. */
static void echo_server(void *arg)
{
    echo_pair *e = arg;
    char buf[1500];
    ssize_t n;
    while ((n = goc_file_read(e->r, buf, sizeof buf)) > 0)
        ASSERT_EQ(goc_file_write(e->w, buf, (size_t)n), n);
    ASSERT_EQ(n, 0); /* never -EINTR */
    goc_file_close(e->r);
    goc_file_close(e->w);
    goc_waitgroup_done(&e->s->wg);
}

/* Echo client: send messages through the server, check each reply. */
static void echo_client(void *arg)
{
    echo_pair *e = arg; /* r: replies, w: requests */
    char out[1000], in[1000];
    uint32_t rnd = (uint32_t)(uintptr_t)e | 1;
    while (!atomic_load(&e->s->stop)) {
        rnd = rnd * 1664525u + 1013904223u;
        size_t n = (rnd >> 8) % sizeof out + 1;
        for (size_t i = 0; i < n; i++)
            out[i] = (char)(rnd >> (i % 24));
        ASSERT_EQ(goc_file_write(e->w, out, n), (ssize_t)n);
        size_t got = 0;
        while (got < n) {
            ssize_t r = goc_file_read(e->r, in + got, n - got);
            ASSERT_GT(r, 0);
            got += (size_t)r;
        }
        ASSERT_EQ(memcmp(in, out, n), 0);
        atomic_fetch_add(&e->s->echoed, 1);
        goc_sleep((int64_t)(rnd % 100) * GOC_MICROSECOND);
    }
    goc_file_close(e->w);
    goc_file_close(e->r);
    goc_waitgroup_done(&e->s->wg);
}

/* A child echo (cat) through its stdin and stdout pipes. */
static void cat_client(void *arg)
{
    storm *s = arg;
    while (!atomic_load(&s->stop)) {
        goc_cmd *c = goc_command("cat", NULL);
        goc_file *in, *out;
        ASSERT_EQ(goc_cmd_stdin_pipe(c, &in), 0);
        ASSERT_EQ(goc_cmd_stdout_pipe(c, &out), 0);
        ASSERT_EQ(goc_cmd_start(c), 0);
        char msg[] = "hello through a child\n", buf[64];
        for (int i = 0; i < 10; i++) {
            ASSERT_EQ(goc_file_write(in, msg, sizeof msg - 1),
                      (ssize_t)sizeof msg - 1);
            size_t got = 0;
            while (got < sizeof msg - 1) {
                ssize_t r = goc_file_read(out, buf + got, sizeof buf - got);
                ASSERT_GT(r, 0);
                got += (size_t)r;
            }
            ASSERT_EQ(memcmp(buf, msg, sizeof msg - 1), 0);
        }
        ASSERT_EQ(goc_file_close(in), 0);
        ASSERT_EQ(goc_file_read(out, buf, sizeof buf), 0);
        ASSERT_EQ(goc_cmd_wait(c), 0);
        goc_cmd_free(c);
        atomic_fetch_add(&s->children, 1);
    }
    goc_waitgroup_done(&s->wg);
}

/* Whether signal sig is pending for the whole process (ShdPnd in
 * /proc/self/status): sent with kill() but not delivered to any thread
 * yet. */
static bool process_pending(int sig)
{
    FILE *f = fopen("/proc/self/status", "re");
    ASSERT(f != NULL);
    char line[256];
    unsigned long long mask = 0;
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "ShdPnd: %llx", &mask) == 1) {
            found = true;
            break;
        }
    fclose(f);
    ASSERT(found);
    return (mask >> (sig - 1)) & 1;
}

static int storm_main(void *arg)
{
    (void)arg;
    storm *s = calloc(1, sizeof *s);
    s->sigc = goc_chan_make(sizeof(int), 16);
    int u1[] = {SIGUSR1};
    ASSERT_EQ(goc_signal_notify(s->sigc, u1, 1), 0);
    enum { PAIRS = 4 };
    echo_pair srv[PAIRS], cli[PAIRS];
    goc_waitgroup_add(&s->wg, 2 * PAIRS + 1);
    for (int i = 0; i < PAIRS; i++) {
        goc_file *req_r, *req_w, *rep_r, *rep_w;
        ASSERT_EQ(goc_pipe(&req_r, &req_w), 0);
        ASSERT_EQ(goc_pipe(&rep_r, &rep_w), 0);
        srv[i] = (echo_pair){s, req_r, rep_w};
        cli[i] = (echo_pair){s, rep_r, req_w};
        go(echo_server, &srv[i]);
        go(echo_client, &cli[i]);
    }
    go(cat_client, s);
    goc_waitgroup_add(&s->wg, 2);
    go(storm_receiver, s);
    go(storm_sender, s);
    goc_sleep(3 * GOC_SECOND);
    atomic_store(&s->stop, true);
    /* Let the sender finish, then end the receiver. */
    while (atomic_load(&s->sent) == 0)
        goc_sleep(MS);
    /* The last kill() may still be on its way to the one thread that
     * does not block it (goc_main's caller); stopping now would restore
     * SIGUSR1's default action in time for it to kill the process (seen
     * under TSan). Go would die the same way. */
    for (int i = 0; i < 10000 && process_pending(SIGUSR1); i++)
        goc_sleep(MS);
    ASSERT(!process_pending(SIGUSR1));
    /* Taken off the queue is not yet handled under ThreadSanitizer: it
     * may hold the signal until its thread's next intercepted call, which
     * goc_main's waiting caller makes every millisecond. */
    goc_sleep(20 * MS);
    goc_signal_stop(s->sigc);
    goc_chan_close(s->sigc);
    goc_waitgroup_wait(&s->wg);
    /* Counts only (tests never assert speed): everything moved. */
    ASSERT_GT(atomic_load(&s->sent), 100);
    ASSERT_GT(atomic_load(&s->received), 0);
    ASSERT_LE(atomic_load(&s->received), atomic_load(&s->sent));
    ASSERT_GT(atomic_load(&s->echoed), 0);
    ASSERT_GT(atomic_load(&s->children), 0);
    goc_chan_free(s->sigc);
    free(s);
    return 0;
}

GOC_TEST_TIMEOUT(signal_storm_with_io, 30)
{
    return run_main(storm_main, NULL);
}
