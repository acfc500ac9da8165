/*
 * signal_demo.c - the seed's section 1.2.4 signal demo (handleSignal):
 * two channels, sigRecv1 for SIGINT and SIGQUIT, sigRecv2 for SIGQUIT
 * only; a goroutine ranges over each; after 2 s sigRecv1 is stopped and
 * closed. A SIGQUIT reaches both channels, a SIGINT only the first.
 *
 * Run without arguments it tests itself, as the seed's sendSignal does
 * concurrently with handleSignal: a goroutine finds this program's pid
 * with the seed's pipeline
 *     ps aux | grep signal_demo | grep -v grep | grep -v "go run" |
 *     awk '{print $2}'
 * and sends it SIGQUIT, then SIGINT. With `--wait SECONDS` it does not
 * signal itself and stays that long: signal_send (the second program)
 * finds it by name and signals it from outside.
 *
 * The seed's program waits for sigRecv2's loop, which never ends (nothing
 * closes sigRecv2), so it would run for ever; this one stops and closes
 * sigRecv2 a second after sigRecv1 so that it ends by itself.
 *
 *   signal_demo [--wait SECONDS]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <goc.h>

static int wait_s = 0; /* --wait: no self-test, stay this long */

typedef struct receiver {
    const char *name;
    goc_chan *ch;
    goc_waitgroup *wg;
} receiver;

static const char *signame(int s)
{
    return s == SIGINT ? "interrupt" : s == SIGQUIT ? "quit" : strsignal(s);
}

/* for sig := range sigRecv { fmt.Printf("Received a signal...") } */
static void range_signals(void *arg)
{
    receiver *r = arg;
    int sig;
    while (goc_chan_recv_int(r->ch, &sig)) {
        printf("Received a signal from %s: %s\n", r->name, signame(sig));
        fflush(stdout);
    }
    printf("End. [%s]\n", r->name);
    fflush(stdout);
    goc_waitgroup_done(r->wg);
}

/* The seed's sendSignal: find ourselves by name, signal. */
static void send_signal(void *arg)
{
    (void)arg;
    goc_sleep(300 * GOC_MILLISECOND);
    goc_cmd *cmds[] = {
        goc_command("ps", "aux", NULL),
        goc_command("grep", "signal_demo", NULL),
        goc_command("grep", "-v", "grep", NULL),
        goc_command("grep", "-v", "go run", NULL),
        goc_command("awk", "{print $2}", NULL),
    };
    char *out;
    int st = goc_pipeline_output(cmds, 5, &out, NULL);
    for (int i = 0; i < 5; i++)
        goc_cmd_free(cmds[i]);
    if (st != 0) {
        printf("Command execution error: status %d\n", st);
        free(out);
        return;
    }
    printf("Output of the pipeline: %s", out);
    for (char *tok = strtok(out, "\n"); tok; tok = strtok(NULL, "\n")) {
        pid_t pid = (pid_t)atoi(tok);
        if (pid != getpid())
            continue; /* only ourselves: another demo may be running */
        printf("Send signal SIGQUIT to the process %d...\n", (int)pid);
        fflush(stdout);
        goc_process_signal(pid, SIGQUIT);
        goc_sleep(200 * GOC_MILLISECOND);
        printf("Send signal SIGINT to the process %d...\n", (int)pid);
        fflush(stdout);
        goc_process_signal(pid, SIGINT);
    }
    free(out);
}

static int handle_signal(void *arg)
{
    (void)arg;
    goc_chan *sigRecv1 = goc_chan_make(sizeof(int), 1);
    int sigs1[] = {SIGINT, SIGQUIT};
    printf("Set notification for [interrupt quit]... [sigRecv1]\n");
    goc_signal_notify(sigRecv1, sigs1, 2);

    goc_chan *sigRecv2 = goc_chan_make(sizeof(int), 1);
    int sigs2[] = {SIGQUIT};
    printf("Set notification for [quit]... [sigRecv2]\n");
    goc_signal_notify(sigRecv2, sigs2, 1);
    fflush(stdout);

    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    receiver r1 = {"sigRecv1", sigRecv1, &wg}, r2 = {"sigRecv2", sigRecv2, &wg};
    goc_waitgroup_add(&wg, 2);
    goc_go(range_signals, &r1);
    goc_go(range_signals, &r2);
    if (wait_s == 0)
        goc_go(send_signal, NULL);

    int64_t first = wait_s > 2 ? (int64_t)wait_s - 1 : 2;
    printf("Wait for %d seconds...\n", (int)first);
    fflush(stdout);
    goc_sleep(first * GOC_SECOND);
    printf("Stop notification... [sigRecv1]\n");
    goc_signal_stop(sigRecv1);
    goc_chan_close(sigRecv1);
    printf("done. [sigRecv1]\n");
    fflush(stdout);

    goc_sleep(GOC_SECOND);
    printf("Stop notification... [sigRecv2]\n");
    goc_signal_stop(sigRecv2);
    goc_chan_close(sigRecv2);
    printf("done. [sigRecv2]\n");
    fflush(stdout);
    goc_waitgroup_wait(&wg);
    goc_chan_free(sigRecv1);
    goc_chan_free(sigRecv2);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "--wait") == 0)
        wait_s = atoi(argv[2]);
    return goc_main(handle_signal, NULL);
}
