/*
 * os_pipe.c - the seed's section 1.2.3, os.Pipe: an anonymous pipe whose
 * two ends are files; a writer goroutine and a reader goroutine run
 * concurrently, and the reader gets, in order, what the writer wrote.
 *
 * The seed warns that running the two ends one after the other can block
 * for ever: here a write blocks (parks its goroutine) once the kernel's
 * pipe buffer (64 KiB) is full until somebody reads, and a read blocks
 * until somebody writes, so the ends belong in different goroutines.
 *
 *   os_pipe
 */
#include <stdio.h>
#include <string.h>

#include <goc.h>

typedef struct ends {
    goc_file *reader, *writer;
    goc_waitgroup wg;
} ends;

static void writer(void *arg)
{
    ends *e = arg;
    for (int i = 1; i <= 3; i++) {
        char input[64];
        int len =
            snprintf(input, sizeof input, "message %d from the writer", i);
        ssize_t n = goc_file_write(e->writer, input, (size_t)len);
        if (n < 0)
            printf("write error: %s\n", goc_strerror((int)n));
        else
            printf("written: %zd bytes\n", n);
        goc_sleep(50 * GOC_MILLISECOND);
    }
    goc_file_close(e->writer); /* the reader sees EOF */
    goc_waitgroup_done(&e->wg);
}

static void reader(void *arg)
{
    ends *e = arg;
    for (;;) {
        char output[30];
        ssize_t n = goc_file_read(e->reader, output, sizeof output);
        if (n < 0) {
            printf("read error: %s\n", goc_strerror((int)n));
            break;
        }
        if (n == 0) {
            printf("read: EOF\n");
            break;
        }
        printf("read: %zd bytes: \"%.*s\"\n", n, (int)n, output);
    }
    goc_file_close(e->reader);
    goc_waitgroup_done(&e->wg);
}

static int run(void *arg)
{
    (void)arg;
    ends e = {.wg = GOC_WAITGROUP_INIT};
    int err = goc_pipe(&e.reader, &e.writer);
    if (err) {
        printf("pipe: %s\n", goc_strerror(err));
        return 1;
    }
    goc_waitgroup_add(&e.wg, 2);
    goc_go(reader, &e);
    goc_go(writer, &e);
    goc_waitgroup_wait(&e.wg);
    return 0;
}

int main(void)
{
    return goc_main(run, NULL);
}
