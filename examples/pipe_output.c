/*
 * pipe_output.c - the seed's section 1.2.3, first program: run a command
 * and read its output through a pipe (exec.Cmd.StdoutPipe), three ways:
 * one read into a 30-byte buffer, a loop of 5-byte reads until EOF, and a
 * buffered reader that takes one line (bufio.Reader.ReadLine).
 *
 *   pipe_output [TEXT]     echo -n TEXT (default: the seed's sentence)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <goc.h>

static const char *text = "My first command comes from golang.";

/* Start `echo -n TEXT` with its stdout on a pipe. */
static goc_cmd *start_echo(goc_file **out)
{
    goc_cmd *cmd = goc_command("echo", "-n", text, NULL);
    int err = goc_cmd_stdout_pipe(cmd, out);
    if (err == 0)
        err = goc_cmd_start(cmd);
    if (err) {
        fprintf(stderr, "error: %s\n", goc_strerror(err));
        exit(1);
    }
    return cmd;
}

/* bufio.NewReader(stdout).ReadLine(): one line, without its '\n'. */
static ssize_t read_line(goc_file *f, char *line, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        char c;
        ssize_t r = goc_file_read(f, &c, 1);
        if (r < 0)
            return r;
        if (r == 0 || c == '\n')
            break;
        line[n++] = c;
    }
    line[n] = '\0';
    return (ssize_t)n;
}

static int run(void *arg)
{
    (void)arg;
    goc_file *stdout0;

    /* 1. A single read: at most 30 bytes (the rest stays in the pipe). */
    goc_cmd *cmd0 = start_echo(&stdout0);
    char output0[30];
    ssize_t n = goc_file_read(stdout0, output0, sizeof output0);
    if (n < 0) {
        fprintf(stderr, "read error: %s\n", goc_strerror((int)n));
        return 1;
    }
    printf("one read of 30 bytes: %.*s\n", (int)n, output0);
    goc_cmd_wait(cmd0);
    goc_cmd_free(cmd0);

    /* 2. Read in 5-byte pieces until EOF, into a growing buffer. */
    cmd0 = start_echo(&stdout0);
    char *buf = NULL;
    size_t len = 0;
    for (;;) {
        char temp[5];
        n = goc_file_read(stdout0, temp, sizeof temp);
        if (n < 0) {
            fprintf(stderr, "read error: %s\n", goc_strerror((int)n));
            return 1;
        }
        if (n == 0) /* io.EOF */
            break;
        buf = realloc(buf, len + (size_t)n);
        memcpy(buf + len, temp, (size_t)n);
        len += (size_t)n;
        printf("  piece: \"%.*s\"\n", (int)n, temp);
    }
    printf("5 bytes at a time: %.*s\n", (int)len, buf);
    free(buf);
    printf("exit status: %d\n", goc_cmd_wait(cmd0));
    goc_cmd_free(cmd0);

    /* 3. A buffered reader: one line. */
    cmd0 = start_echo(&stdout0);
    char line[256];
    n = read_line(stdout0, line, sizeof line);
    if (n < 0) {
        fprintf(stderr, "read error: %s\n", goc_strerror((int)n));
        return 1;
    }
    printf("ReadLine: %s\n", line);
    goc_cmd_wait(cmd0);
    goc_cmd_free(cmd0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        text = argv[1];
    return goc_main(run, NULL);
}
