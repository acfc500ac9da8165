/*
 * file.c - goc_file: os.File for pipes, FIFOs and other descriptors, on
 * the poller; os.Pipe.
 *
 * A pollable descriptor is non-blocking (O_NONBLOCK on our open file
 * description only) and registered once, edge-triggered. A read or write
 * tries the system call; on EAGAIN it parks on the pfd and tries again.
 * A descriptor epoll refuses (regular files, some devices), or one handed
 * out by goc_file_fd (Go's File.Fd), is used in blocking mode inside
 * goc_syscall_begin/end instead.
 *
 * Invariants:
 *  - Closing (Go's fdMutex, reduced): see the life of a goc_file in
 *    proc_internal.h. The first close marks the file closing, evicts the
 *    goroutines waiting on it (they return -EBADF), drops the open
 *    reference and waits until the last reference is gone and the
 *    descriptor closed; only then is the memory freed. No lock is held
 *    by anybody who touches the file after the closer may free it.
 *  - rmu serialises readers and wmu writers (Go's fdMutex), so at most
 *    one goroutine waits per direction of the pfd. A call holds a
 *    reference while it holds either.
 *  - fifo_no_writer (rmu): a FIFO read end opened before any writer. A
 *    0-byte read then means "no writer yet", not end of file, unless the
 *    kernel reports a hang-up (a writer came and went).
 *
 * Lock order: rmu / wmu are the only locks, never both.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/proc_internal.h"

/* Back-off while waiting for a FIFO's reader (ENXIO). */
#define FIFO_RETRY_MIN (GOC_MILLISECOND / 2)
#define FIFO_RETRY_MAX (10 * GOC_MILLISECOND)

static int set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    int nfl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
        return -errno;
    return 0;
}

int goc__file_new(goc_file **out, int fd, bool cmd_owned, bool keep_nonblock)
{
    goc_file *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    atomic_init(&f->fd, fd);
    f->cmd_owned = cmd_owned;
    atomic_init(&f->refs, 1);
    atomic_init(&f->phase, F_OPEN);
    atomic_init(&f->done, PFD_IDLE);
    f->pd = goc__pfd_alloc(fd);
    if (!f->pd) {
        free(f);
        return -ENOMEM;
    }
    int err = set_nonblock(fd, true);
    if (err == 0)
        err = goc__pfd_register(f->pd);
    if (err == -EPERM) {
        /* Not pollable (regular file...): blocking I/O in syscalls. */
        goc__pfd_free(f->pd);
        f->pd = NULL;
        err = keep_nonblock ? 0 : set_nonblock(fd, false);
    }
    if (err < 0) {
        goc__pfd_free(f->pd);
        free(f);
        return err;
    }
    *out = f;
    return 0;
}

/* Drop a reference; the last one closes the descriptor and tells the
 * closer (its last access to f). */
static void op_end(goc_file *f)
{
    /* acq_rel: everything the callers did happens before the close. */
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    goc__pfd_free(f->pd);
    f->pd = NULL;
    int fd = atomic_exchange(&f->fd, -1);
    close(fd);
    goc_g *g = goc__slot_unblock(&f->done);
    if (g)
        goc__ready(g);
}

/* Take a reference for a call: -EBADF once the file is closing. */
static int op_begin(goc_file *f)
{
    int32_t r = atomic_load(&f->refs);
    do {
        if (r == 0)
            return -EBADF;
    } while (!atomic_compare_exchange_weak(&f->refs, &r, r + 1));
    if (atomic_load(&f->phase) != F_OPEN) {
        op_end(f);
        return -EBADF;
    }
    return 0;
}

/* A FIFO read end that saw no writer yet got 0 bytes: true if a writer
 * came and went since we opened it (POLLHUP), i.e. this is EOF. */
static bool fifo_writer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/* Blocking I/O inside goc_syscall_begin/end: a descriptor epoll refuses,
 * or one handed out by goc_file_fd. */
static bool sys_mode(goc_file *f)
{
    return !f->pd || atomic_load_explicit(&f->blocking, memory_order_relaxed);
}

ssize_t goc_file_read(goc_file *f, void *buf, size_t n)
{
    if (!f || (!buf && n))
        return -EINVAL;
    int err = op_begin(f);
    if (err)
        return err;
    goc_mutex_lock(&f->rmu);
    ssize_t r;
    int fd = atomic_load(&f->fd);
    for (;;) {
        if (sys_mode(f)) {
            goc_syscall_begin();
            r = read(fd, buf, n);
            int e = errno;
            goc_syscall_end();
            if (r < 0 && e == EINTR)
                continue;
            if (r < 0)
                r = -e;
            break;
        }
        r = read(fd, buf, n);
        if (r > 0) {
            f->fifo_no_writer = false;
            break;
        }
        if (r == 0) {
            if (n == 0 || !f->fifo_no_writer)
                break;
            if (fifo_writer_gone(fd)) {
                /* A writer came (and went) after our read: read again,
                 * for its data or a real EOF. */
                f->fifo_no_writer = false;
                continue;
            }
            /* No writer yet: wait for its data or its hang-up. */
            if ((r = goc__pfd_wait(f->pd, PFD_READ)) < 0)
                break;
            continue;
        }
        int e = errno;
        if (e == EINTR)
            continue;
        if (e == EAGAIN) {
            f->fifo_no_writer = false; /* a writer is connected */
            if ((r = goc__pfd_wait(f->pd, PFD_READ)) < 0)
                break;
            continue;
        }
        r = -e;
        break;
    }
    goc_mutex_unlock(&f->rmu);
    op_end(f);
    return r;
}

ssize_t goc_file_write(goc_file *f, const void *buf, size_t n)
{
    if (!f || (!buf && n))
        return -EINVAL;
    int err = op_begin(f);
    if (err)
        return err;
    goc_mutex_lock(&f->wmu);
    const char *p = buf;
    int fd = atomic_load(&f->fd);
    size_t done = 0;
    ssize_t ret = 0;
    while (done < n) {
        ssize_t w;
        int e;
        if (sys_mode(f)) {
            goc_syscall_begin();
            w = write(fd, p + done, n - done);
            e = errno;
            goc_syscall_end();
        } else {
            w = write(fd, p + done, n - done);
            e = errno;
        }
        if (w >= 0) {
            done += (size_t)w;
            continue;
        }
        if (e == EINTR)
            continue;
        if (e == EAGAIN && f->pd) {
            if ((ret = goc__pfd_wait(f->pd, PFD_WRITE)) < 0)
                break;
            continue;
        }
        ret = -e;
        break;
    }
    goc_mutex_unlock(&f->wmu);
    op_end(f);
    return ret < 0 ? ret : (ssize_t)n;
}

int goc_file_close(goc_file *f)
{
    if (!f)
        return -EINVAL;
    int open = F_OPEN;
    if (!atomic_compare_exchange_strong(&f->phase, &open, F_CLOSING))
        return -EBADF;
    if (f->pd) /* valid: our open reference is still held */
        goc__pfd_evict(f->pd);
    op_end(f); /* the open reference */
    goc__slot_wait(&f->done, false, "file close");
    if (f->cmd_owned)
        atomic_store(&f->phase, F_CLOSED); /* last access */
    else
        free(f);
    return 0;
}

void goc__file_free(goc_file *f)
{
    if (!f)
        return;
    goc_file_close(f);
    /* Another goroutine's close may still be finishing. */
    while (atomic_load(&f->phase) != F_CLOSED) {
        if (goc__getg())
            goc_yield();
        else
            sched_yield();
    }
    free(f);
}

int goc_file_fd(goc_file *f)
{
    if (!f)
        return -1;
    int fd = atomic_load(&f->fd);
    /* As Go's File.Fd: the descriptor leaves goc's control (typically for
     * a child, which shares our open file description and must not get
     * O_NONBLOCK), so the file goes to blocking mode for good. */
    if (fd >= 0 && f->pd && !atomic_exchange(&f->blocking, true))
        set_nonblock(fd, false);
    return fd;
}

int goc_pipe(goc_file **r, goc_file **w)
{
    if (!r || !w)
        return -EINVAL;
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        return -errno;
    int err = goc__file_new(r, p[0], false, false);
    if (err) {
        close(p[0]);
        close(p[1]);
        return err;
    }
    err = goc__file_new(w, p[1], false, false);
    if (err) {
        goc_file_close(*r);
        *r = NULL;
        close(p[1]);
        return err;
    }
    return 0;
}

int goc_file_open(goc_file **out, const char *path, int flags, mode_t mode)
{
    if (!out || !path)
        return -EINVAL;
    *out = NULL;
    struct stat st;
    bool fifo = stat(path, &st) == 0 && S_ISFIFO(st.st_mode);
    int acc = flags & O_ACCMODE;
    int fd;
    if (fifo) {
        /* Never blocks: the read end opens at once; the write end fails
         * with ENXIO until a reader is there, so retry with a back-off
         * (the kernel signals no "reader arrived" event). */
        int64_t backoff = FIFO_RETRY_MIN;
        for (;;) {
            fd = open(path, flags | O_CLOEXEC | O_NONBLOCK, mode);
            if (fd >= 0)
                break;
            int e = errno;
            if (e == EINTR)
                continue;
            if (e != ENXIO || acc != O_WRONLY)
                return -e;
            goc_sleep(backoff);
            backoff =
                backoff * 2 > FIFO_RETRY_MAX ? FIFO_RETRY_MAX : backoff * 2;
        }
    } else {
        goc_syscall_begin();
        do
            fd = open(path, flags | O_CLOEXEC, mode);
        while (fd < 0 && errno == EINTR);
        int e = errno;
        goc_syscall_end();
        if (fd < 0)
            return -e;
    }
    goc_file *f;
    int err = goc__file_new(&f, fd, false, (flags & O_NONBLOCK) != 0);
    if (err) {
        close(fd);
        return err;
    }
    if (fifo && acc == O_RDONLY && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
        f->fifo_no_writer = true;
    *out = f;
    return 0;
}
