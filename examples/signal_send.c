/*
 * signal_send.c - the seed's section 1.2.4 sendSignal as a program of its
 * own: find the signal demo by name and send it signals (os.FindProcess +
 * Process.Signal).
 *
 * The seed finds the pid with `ps aux | grep "signal" | grep -v "grep" |
 * grep -v "go run" | awk '{print $2}'`; goc_find_processes does the same
 * from /proc in one call (the pipeline is in signal_demo.c). Without
 * arguments this program starts `signal_demo --wait 3` (from its own
 * directory) itself, so that there is something to find; with a pid it
 * signals that process instead.
 *
 *   signal_send [PID]
 */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <goc.h>

static pid_t target = 0;

static void signal_all(const pid_t *pids, size_t n)
{
    static const int sigs[] = {SIGQUIT, SIGINT, SIGQUIT};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
        for (size_t i = 0; i < n; i++) {
            printf("[signal_send] %s -> %d\n",
                   sigs[k] == SIGQUIT ? "SIGQUIT" : "SIGINT", (int)pids[i]);
            fflush(stdout);
            int err = goc_process_signal(pids[i], sigs[k]);
            if (err)
                printf("[signal_send] signal: %s\n", goc_strerror(err));
        }
        goc_sleep(200 * GOC_MILLISECOND);
    }
}

static int run(void *arg)
{
    (void)arg;
    if (target > 0) {
        signal_all(&target, 1);
        return 0;
    }
    /* Start the demo next to us, sharing our stdout. */
    char self[PATH_MAX], demo[PATH_MAX + 16];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len < 0)
        return 1;
    self[len] = '\0';
    snprintf(demo, sizeof demo, "%s/signal_demo", dirname(self));
    goc_cmd *cmd = goc_command(demo, "--wait", "3", NULL);
    goc_cmd_set_stdout_fd(cmd, STDOUT_FILENO);
    goc_cmd_set_stderr_fd(cmd, STDERR_FILENO);
    int err = goc_cmd_start(cmd);
    if (err) {
        printf("[signal_send] cannot start %s: %s\n", demo, goc_strerror(err));
        goc_cmd_free(cmd);
        return 1;
    }
    goc_sleep(300 * GOC_MILLISECOND); /* let it set up its notifications */

    /* ps aux | grep signal_demo | grep -v grep | awk '{print $2}' */
    pid_t pids[16];
    ssize_t n = goc_find_processes("signal_demo --wait", pids, 16);
    printf("[signal_send] processes found: %zd\n", n);
    /* Only the one we started (another demo may be running). */
    size_t k = 0;
    for (ssize_t i = 0; i < n && i < 16; i++)
        if (pids[i] == goc_cmd_pid(cmd))
            pids[k++] = pids[i];
    signal_all(pids, k);
    int st = goc_cmd_wait(cmd);
    printf("[signal_send] the demo exited with status %d\n", st);
    goc_cmd_free(cmd);
    return st == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        target = (pid_t)atoi(argv[1]);
    return goc_main(run, NULL);
}
