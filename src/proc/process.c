/*
 * process.c - processes by id: signals, the seed's `ps aux | grep`, and
 * /proc/PID/stat.
 *
 * Reading /proc is a file system walk: it runs inside
 * goc_syscall_begin/end, so a slow scan never holds a processor.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "goc/proc.h"
#include "goc/runtime.h"

#define CMDLINE_MAX (32 * 1024)

int goc_process_signal(pid_t pid, int sig)
{
    if (pid <= 0 || sig < 0 || sig > 64)
        return -EINVAL;
    return kill(pid, sig) == 0 ? 0 : -errno;
}

/* Read up to cap - 1 bytes of a small file; NUL-terminates. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Parse "pid (comm) S ppid ..." (comm may hold spaces and parentheses:
 * it ends at the last ')'). */
static int parse_stat(const char *s, goc_process_info *out)
{
    const char *open = strchr(s, '('), *close = strrchr(s, ')');
    if (!open || !close || close < open || close[1] != ' ' || !close[2])
        return -EIO;
    memset(out, 0, sizeof *out);
    out->pid = (pid_t)strtol(s, NULL, 10);
    size_t len = (size_t)(close - open - 1);
    if (len >= sizeof out->name)
        len = sizeof out->name - 1;
    memcpy(out->name, open + 1, len);
    out->state = close[2];
    out->ppid = (pid_t)strtol(close + 3, NULL, 10);
    return 0;
}

static int stat_locked(pid_t pid, goc_process_info *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n < 0)
        return (int)n == -ENOENT || (int)n == -ESRCH ? -ENOENT : (int)n;
    return parse_stat(buf, out);
}

int goc_process_stat(pid_t pid, goc_process_info *out)
{
    if (pid <= 0 || !out)
        return -EINVAL;
    goc_syscall_begin();
    int err = stat_locked(pid, out);
    goc_syscall_end();
    return err;
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* Does pid's command line (as ps shows it) contain pattern? */
static bool matches(pid_t pid, const char *pattern, char *buf)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    ssize_t n = read_small(path, buf, CMDLINE_MAX);
    if (n < 0)
        return false;
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    if (n == 0) {
        /* Kernel threads and zombies: "[comm]". */
        goc_process_info pi;
        if (stat_locked(pid, &pi) != 0)
            return false;
        snprintf(buf, CMDLINE_MAX, "[%s]", pi.name);
    } else {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[n] = '\0';
    }
    return strstr(buf, pattern) != NULL;
}

ssize_t goc_find_processes(const char *pattern, pid_t *pids, size_t max)
{
    if (!pattern || (!pids && max))
        return -EINVAL;
    char *buf = malloc(CMDLINE_MAX);
    if (!buf)
        return -ENOMEM;
    pid_t self = getpid();
    size_t cap = 64, n = 0;
    pid_t *found = malloc(cap * sizeof *found);
    ssize_t ret = 0;
    goc_syscall_begin();
    DIR *d = found ? opendir("/proc") : NULL;
    if (!found) {
        ret = -ENOMEM;
    } else if (!d) {
        ret = -errno;
    } else {
        struct dirent *de;
        while ((de = readdir(d))) {
            char *end;
            long v = strtol(de->d_name, &end, 10);
            if (*end || v <= 0 || (pid_t)v == self)
                continue;
            if (!matches((pid_t)v, pattern, buf))
                continue;
            if (n == cap) {
                pid_t *nf = realloc(found, 2 * cap * sizeof *nf);
                if (!nf) {
                    ret = -ENOMEM;
                    break;
                }
                found = nf;
                cap *= 2;
            }
            found[n++] = (pid_t)v;
        }
        closedir(d);
    }
    goc_syscall_end();
    if (ret == 0) {
        qsort(found, n, sizeof *found, cmp_pid);
        for (size_t i = 0; i < n && i < max; i++)
            pids[i] = found[i];
        ret = (ssize_t)n;
    }
    free(found);
    free(buf);
    return ret;
}
