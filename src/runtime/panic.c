/*
 * panic.c - panics, fatal errors, error names, and the stack-overflow
 * report.
 *
 * goc_panic is Go's panic without recover: message, goroutine id and a
 * backtrace on stderr, then abort(). goc__fatal is Go's throw: "fatal
 * error: ..." and exit status 2.
 *
 * Stack overflow: every runtime thread has a sigaltstack; the SIGSEGV /
 * SIGBUS handler checks whether the fault address lies in the guard
 * region below the running goroutine's stack. If so it prints the fatal
 * error naming the goroutine and its bounds (with async-signal-safe
 * writes only) and exits 2; any other fault goes to the handler that was
 * installed before goc_main (or the default action).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/sched.h"

static void print_backtrace(void)
{
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
}

void goc_panic(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(stdout);
    goc_g *g = goc__getg();
    fprintf(stderr, "panic: %s\n\n", msg);
    if (g)
        fprintf(stderr, "goroutine %llu [running]:\n",
                (unsigned long long)g->id);
    else
        fprintf(stderr, "(not in a goroutine)\n");
    fflush(stderr);
    print_backtrace();
    abort();
}

void goc__fatal(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(stdout);
    goc_g *g = goc__getg();
    fprintf(stderr, "fatal error: %s\n", msg);
    if (g)
        fprintf(stderr, "\ngoroutine %llu [running]:\n",
                (unsigned long long)g->id);
    fflush(stderr);
    print_backtrace();
    _exit(2);
}

long long goc__env_knob(const char *name, long long lo, long long hi,
                        long long def)
{
    const char *env = getenv(name);
    if (!env || !*env)
        return def;
    char *end;
    errno = 0;
    long long v = strtoll(env, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi)
        goc__fatal("%s=%s: not a whole number from %lld to %lld", name, env, lo,
                   hi);
    return v;
}

/* ---- error names ---------------------------------------------------- */

#define GOC_NERRNAMES 134
static char errnames[GOC_NERRNAMES][64];
static pthread_once_t errnames_once = PTHREAD_ONCE_INIT;

static void errnames_init(void)
{
    for (int e = 0; e < GOC_NERRNAMES; e++) {
        const char *d = strerrordesc_np(e);
        if (!d)
            d = "unknown error";
        snprintf(errnames[e], sizeof errnames[e], "%s", d);
        /* Go's style: lower case first letter ("connection refused"),
         * but keep acronyms ("I/O error"). */
        if (errnames[e][0] >= 'A' && errnames[e][0] <= 'Z' &&
            !(errnames[e][1] >= 'A' && errnames[e][1] <= 'Z') &&
            errnames[e][1] != '/')
            errnames[e][0] = (char)(errnames[e][0] - 'A' + 'a');
    }
    snprintf(errnames[0], sizeof errnames[0], "success");
}

const char *goc_strerror(int err)
{
    if (err < 0)
        err = -err;
    if (err >= GOC_NERRNAMES)
        return "unknown error";
    pthread_once(&errnames_once, errnames_init);
    return errnames[err];
}

/* ---- stack overflow ------------------------------------------------- */

static struct sigaction old_segv, old_bus;
static bool handlers_installed;

static void put_str(char *buf, size_t *n, const char *s)
{
    while (*s && *n < 511)
        buf[(*n)++] = *s++;
}

static void put_hex(char *buf, size_t *n, uintptr_t v)
{
    char tmp[2 + 16];
    int i = 0;
    do {
        int d = (int)(v & 15);
        tmp[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v >>= 4;
    } while (v);
    put_str(buf, n, "0x");
    while (i > 0 && *n < 511)
        buf[(*n)++] = tmp[--i];
}

static void put_dec(char *buf, size_t *n, uint64_t v)
{
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i > 0 && *n < 511)
        buf[(*n)++] = tmp[--i];
}

static void fault_handler(int sig, siginfo_t *si, void *uctx)
{
    goc_m *m = goc__getm();
    goc_g *g = m ? m->curg : NULL;
    if (g && goc__stack_fault(si->si_addr, g)) {
        char buf[512];
        size_t n = 0;
        put_str(buf, &n, "fatal error: stack overflow\n\ngoroutine ");
        put_dec(buf, &n, g->id);
        put_str(buf, &n, ": stack=[");
        put_hex(buf, &n, (uintptr_t)g->stack_lo);
        put_str(buf, &n, ", ");
        put_hex(buf, &n, (uintptr_t)g->stack_hi);
        put_str(buf, &n, ") fault address ");
        put_hex(buf, &n, (uintptr_t)si->si_addr);
        put_str(buf, &n, "\n");
        ssize_t r = write(STDERR_FILENO, buf, n);
        (void)r;
        _exit(2);
    }
    /* Not ours: hand it to the previous handler. */
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction) {
            old->sa_sigaction(sig, si, uctx);
            return;
        }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: re-raise with the default disposition. */
    signal(sig, SIG_DFL);
    raise(sig);
}

void goc__fault_handlers_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    /* Writes to a vanished peer must return EPIPE, never kill us. */
    signal(SIGPIPE, SIG_IGN);
    handlers_installed = true;
}

void goc__fault_handlers_remove(void)
{
    if (!handlers_installed)
        return;
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    handlers_installed = false;
}

int goc__altstack_setup(goc_m *m)
{
    m->altstack = malloc(GOC_ALTSTACK_SIZE);
    if (!m->altstack)
        return -ENOMEM;
    stack_t ss = {.ss_sp = m->altstack, .ss_size = GOC_ALTSTACK_SIZE};
    if (sigaltstack(&ss, NULL) != 0) {
        free(m->altstack);
        m->altstack = NULL;
        return -errno;
    }
    return 0;
}

void goc__altstack_free(goc_m *m)
{
    if (!m->altstack)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(m->altstack);
    m->altstack = NULL;
}
