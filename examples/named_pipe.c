/*
 * named_pipe.c - the seed's section 1.2.3, named pipes:
 *
 *     mkfifo -m 644 myfifo1
 *     tee dst.log < myfifo1 &
 *     cat src.log > myfifo1
 *
 * Twice: first with goroutines on both ends (the "tee" goroutine copies
 * the FIFO to dst.log and to stdout, the "cat" goroutine copies src.log
 * into it); then with a real `cat` process writing into the FIFO and a
 * goroutine reading it. Either end may open first: opening parks only the
 * goroutine, and data flows once both ends are open.
 *
 *   named_pipe            (in a fresh directory under /tmp, removed after)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <goc.h>

static char dir[] = "/tmp/goc-named-pipe-XXXXXX";
static char fifo[128], src[128], dst[128];

static void die(const char *what, int err)
{
    fprintf(stderr, "%s: %s\n", what, goc_strerror(err));
    exit(1);
}

/* Copy everything from `from` to `to` (and to stdout if echo). */
static size_t copy(goc_file *from, goc_file *to, bool echo)
{
    char buf[512];
    size_t total = 0;
    ssize_t n;
    while ((n = goc_file_read(from, buf, sizeof buf)) > 0) {
        ssize_t w = goc_file_write(to, buf, (size_t)n);
        if (w < 0)
            die("write", (int)w);
        if (echo)
            fwrite(buf, 1, (size_t)n, stdout);
        total += (size_t)n;
    }
    if (n < 0)
        die("read", (int)n);
    return total;
}

typedef struct job {
    int64_t delay; /* before opening */
    goc_waitgroup *wg;
} job;

/* tee dst.log < myfifo1 */
static void tee_goroutine(void *arg)
{
    job *j = arg;
    goc_sleep(j->delay);
    goc_file *in, *out;
    int err = goc_file_open(&in, fifo, O_RDONLY, 0);
    if (err == 0)
        err = goc_file_open(&out, dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err)
        die("tee: open", err);
    printf("[tee] opened %s\n", fifo);
    size_t n = copy(in, out, true);
    printf("[tee] %zu bytes to %s\n", n, dst);
    goc_file_close(in);
    goc_file_close(out);
    goc_waitgroup_done(j->wg);
}

/* cat src.log > myfifo1 */
static void cat_goroutine(void *arg)
{
    job *j = arg;
    goc_sleep(j->delay);
    goc_file *in, *out;
    int err = goc_file_open(&in, src, O_RDONLY, 0);
    if (err == 0)
        err = goc_file_open(&out, fifo, O_WRONLY, 0);
    if (err)
        die("cat: open", err);
    printf("[cat] opened %s\n", fifo);
    copy(in, out, false);
    goc_file_close(in);
    goc_file_close(out);
    goc_waitgroup_done(j->wg);
}

static int run(void *arg)
{
    (void)arg;
    if (!mkdtemp(dir))
        die("mkdtemp", -1);
    snprintf(fifo, sizeof fifo, "%s/myfifo1", dir);
    snprintf(src, sizeof src, "%s/src.log", dir);
    snprintf(dst, sizeof dst, "%s/dst.log", dir);
    FILE *f = fopen(src, "w");
    for (int i = 1; i <= 5; i++)
        fprintf(f, "log line %d: data moved through a named pipe\n", i);
    fclose(f);
    if (mkfifo(fifo, 0644) != 0)
        die("mkfifo", -1);

    /* Goroutines on both ends, the writer first this time (it waits for
     * the reader), then the reader first. */
    for (int round = 0; round < 2; round++) {
        printf("-- %s end opens first --\n", round == 0 ? "write" : "read");
        goc_waitgroup wg = GOC_WAITGROUP_INIT;
        job reader = {round == 0 ? 100 * GOC_MILLISECOND : 0, &wg};
        job writer = {round == 0 ? 0 : 100 * GOC_MILLISECOND, &wg};
        goc_waitgroup_add(&wg, 2);
        goc_go(tee_goroutine, &reader);
        goc_go(cat_goroutine, &writer);
        goc_waitgroup_wait(&wg);
    }

    /* A process on the write end: `cat src.log > myfifo1`. */
    printf("-- a cat process writes into the FIFO --\n");
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    job reader = {0, &wg};
    goc_waitgroup_add(&wg, 1);
    goc_go(tee_goroutine, &reader);
    goc_file *w;
    int err = goc_file_open(&w, fifo, O_WRONLY, 0);
    if (err)
        die("open", err);
    goc_cmd *cat = goc_command("cat", src, NULL);
    goc_cmd_set_stdout_fd(cat, goc_file_fd(w));
    int st = goc_cmd_start(cat);
    goc_file_close(w); /* the child has its own copy */
    if (st == 0)
        st = goc_cmd_wait(cat);
    printf("[cat process] exit status %d\n", st);
    goc_cmd_free(cat);
    goc_waitgroup_wait(&wg);

    unlink(fifo);
    unlink(src);
    unlink(dst);
    rmdir(dir);
    return st;
}

int main(void)
{
    return goc_main(run, NULL);
}
