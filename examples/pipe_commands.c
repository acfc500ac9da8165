/*
 * pipe_commands.c - the seed's section 1.2.3, second program: the output
 * of one command as the input of another, `ps aux | grep PATTERN`.
 *
 * First the seed's way, one command after the other: `ps aux` runs to the
 * end into a buffer (cmd1.Stdout = &outputBuf1; Start; Wait), then
 * `grep PATTERN` reads that buffer (cmd2.Stdin = &outputBuf1), here fed
 * through its stdin pipe by a goroutine. Then the shell's way, both at
 * once connected by a pipe: goc_pipeline_output.
 *
 *   pipe_commands [PATTERN]     default: pipe_commands (finds itself)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <goc.h>

static const char *pattern = "pipe_commands";

typedef struct feed {
    goc_file *in;
    const char *data;
    size_t len;
    goc_waitgroup wg;
} feed;

/* cmd2.Stdin = &outputBuf1: write the buffer, then close (EOF). */
static void feed_stdin(void *arg)
{
    feed *f = arg;
    ssize_t n = goc_file_write(f->in, f->data, f->len);
    if (n < 0)
        fprintf(stderr, "write to grep: %s\n", goc_strerror((int)n));
    goc_file_close(f->in);
    goc_waitgroup_done(&f->wg);
}

static int run(void *arg)
{
    (void)arg;
    /* cmd1: ps aux, to the end, into outputBuf1. */
    goc_cmd *cmd1 = goc_command("ps", "aux", NULL);
    char *outputBuf1;
    size_t len1;
    int st = goc_cmd_output(cmd1, &outputBuf1, &len1);
    goc_cmd_free(cmd1);
    if (st != 0) {
        fprintf(stderr, "the first command failed: %s\n",
                st < 0 ? goc_strerror(st) : "non-zero exit status");
        free(outputBuf1);
        return 1;
    }

    /* cmd2: grep PATTERN, its stdin fed from outputBuf1. */
    goc_cmd *cmd2 = goc_command("grep", pattern, NULL);
    feed f = {.data = outputBuf1, .len = len1, .wg = GOC_WAITGROUP_INIT};
    goc_file *out;
    int err = goc_cmd_stdin_pipe(cmd2, &f.in);
    if (err == 0)
        err = goc_cmd_stdout_pipe(cmd2, &out);
    if (err == 0)
        err = goc_cmd_start(cmd2);
    if (err) {
        fprintf(stderr, "the second command failed: %s\n", goc_strerror(err));
        return 1;
    }
    goc_waitgroup_add(&f.wg, 1);
    goc_go(feed_stdin, &f);
    char buf[4096];
    ssize_t n;
    printf("ps aux | grep %s  (one after the other):\n", pattern);
    while ((n = goc_file_read(out, buf, sizeof buf)) > 0)
        fwrite(buf, 1, (size_t)n, stdout);
    goc_waitgroup_wait(&f.wg);
    st = goc_cmd_wait(cmd2);
    printf("grep's exit status: %d%s\n", st, st == 1 ? " (no match)" : "");
    goc_cmd_free(cmd2);
    free(outputBuf1);

    /* The same as a real pipeline: both running at once. */
    goc_cmd *cmds[] = {goc_command("ps", "aux", NULL),
                       goc_command("grep", pattern, NULL)};
    char *out2;
    st = goc_pipeline_output(cmds, 2, &out2, NULL);
    printf("\nps aux | grep %s  (a pipeline):\n%s", pattern, out2);
    printf("pipeline status: %d\n", st);
    free(out2);
    goc_cmd_free(cmds[0]);
    goc_cmd_free(cmds[1]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        pattern = argv[1];
    return goc_main(run, NULL);
}
