/*
 * process_info.c - the seed's section 1.2.1: process ids (os.Getpid,
 * os.Getppid) and process states. A child (`sleep`) is taken through the
 * states the seed lists: sleeping (S), stopped (T, after SIGSTOP), back to
 * sleeping (SIGCONT), and, once killed, a zombie (Z) until its parent
 * waits for it; after the wait it is gone. (Running R and uninterruptible
 * sleep D are fleeting; X is never seen from outside.)
 *
 *   process_info
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <goc.h>

static void show(const char *what, pid_t pid)
{
    goc_process_info pi;
    int err = goc_process_stat(pid, &pi);
    if (err == -ENOENT)
        printf("%-28s pid %-7d gone\n", what, (int)pid);
    else if (err)
        printf("%-28s pid %-7d %s\n", what, (int)pid, goc_strerror(err));
    else
        printf("%-28s pid %-7d ppid %-7d state %c  name %s\n", what,
               (int)pi.pid, (int)pi.ppid, pi.state, pi.name);
}

/* Poll until pid reaches state (or 2 s pass). */
static void await(pid_t pid, char state)
{
    goc_process_info pi;
    for (int i = 0; i < 2000; i++) {
        if (goc_process_stat(pid, &pi) == 0 && pi.state == state)
            return;
        goc_sleep(GOC_MILLISECOND);
    }
}

static int run(void *arg)
{
    (void)arg;
    printf("pid %d, ppid %d\n", (int)getpid(), (int)getppid());
    show("this process:", getpid());
    show("its parent:", getppid());
    show("the init process:", 1);

    goc_cmd *child = goc_command("sleep", "30", NULL);
    int err = goc_cmd_start(child);
    if (err) {
        printf("start: %s\n", goc_strerror(err));
        return 1;
    }
    pid_t pid = goc_cmd_pid(child);
    await(pid, 'S');
    show("child, sleeping:", pid);
    goc_process_signal(pid, SIGSTOP);
    await(pid, 'T');
    show("child, after SIGSTOP:", pid);
    goc_process_signal(pid, SIGCONT);
    await(pid, 'S');
    show("child, after SIGCONT:", pid);
    goc_process_signal(pid, SIGKILL);
    await(pid, 'Z');
    show("child, killed, not waited:", pid);
    int st = goc_cmd_wait(child);
    printf("wait: status %d (128 + SIGKILL)\n", st);
    show("child, after the wait:", pid);
    goc_cmd_free(child);
    return 0;
}

int main(void)
{
    return goc_main(run, NULL);
}
