/*
 * io_pipe.c - the seed's section 1.2.3, io.Pipe: an in-memory pipe with
 * no buffer at all. Each write blocks until readers have taken all of it,
 * so data is copied once, from the writer's memory to the reader's; writes
 * never interleave, and several goroutines may write and read at once.
 * CloseWithError hands the writer's error to the readers.
 *
 * Three writers each send lines; two readers read in small pieces; when
 * the writers are done the pipe is closed with an error, which both
 * readers receive.
 *
 *   io_pipe
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <goc.h>

typedef struct shared {
    goc_mempipe_reader *r;
    goc_mempipe_writer *w;
    goc_waitgroup writers, readers;
    int ids[3];
} shared;

static shared S;

static void writer(void *arg)
{
    int id = *(int *)arg;
    for (int i = 1; i <= 3; i++) {
        char line[64];
        int len = snprintf(line, sizeof line, "<writer %d, line %d>", id, i);
        ssize_t n = goc_mempipe_write(S.w, line, (size_t)len);
        if (n < 0)
            printf("writer %d: %s\n", id, goc_strerror((int)n));
    }
    goc_waitgroup_done(&S.writers);
}

static void reader(void *arg)
{
    int id = *(int *)arg;
    size_t total = 0;
    for (;;) {
        char piece[16];
        ssize_t n = goc_mempipe_read(S.r, piece, sizeof piece);
        if (n < 0) {
            printf("reader %d: closed with error \"%s\" after %zu bytes\n", id,
                   goc_strerror((int)n), total);
            break;
        }
        if (n == 0) {
            printf("reader %d: EOF after %zu bytes\n", id, total);
            break;
        }
        total += (size_t)n;
        printf("reader %d: %.*s\n", id, (int)n, piece);
        goc_sleep(GOC_MILLISECOND); /* give the other reader a turn */
    }
    goc_waitgroup_done(&S.readers);
}

static int run(void *arg)
{
    (void)arg;
    S.writers = (goc_waitgroup)GOC_WAITGROUP_INIT;
    S.readers = (goc_waitgroup)GOC_WAITGROUP_INIT;
    if (goc_mempipe(&S.r, &S.w) != 0)
        return 1;
    goc_waitgroup_add(&S.writers, 3);
    goc_waitgroup_add(&S.readers, 2);
    for (int i = 0; i < 3; i++) {
        S.ids[i] = i + 1;
        goc_go(writer, &S.ids[i]);
    }
    goc_go(reader, &S.ids[0]);
    goc_go(reader, &S.ids[1]);
    goc_waitgroup_wait(&S.writers);
    /* pipeWriter.CloseWithError: the readers get this error. */
    goc_mempipe_close_writer_with_error(S.w, -ECANCELED);
    goc_waitgroup_wait(&S.readers);
    goc_mempipe_close_reader(S.r);
    return 0;
}

int main(void)
{
    return goc_main(run, NULL);
}
