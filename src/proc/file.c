/*
 * file.c - goc_file: os.File for pipes, FIFOs and other descriptors, on
 * the poller; os.Pipe.
 *
 * A goc_file is a goc__pollfd (src/netpoll/pollfd.h), as Go's os.File and
 * net's sockets share internal/poll.FD: one reference count, one pair of
 * direction locks, one close protocol, one closed error (-ECANCELED).
 * A pollable descriptor is non-blocking (O_NONBLOCK on our open file
 * description only) and registered once, edge-triggered. A read or write
 * tries the system call; on EAGAIN it parks (goc__pollfd_wait) and tries
 * again. A descriptor the poller refuses (regular files, some devices),
 * or one handed out by goc_file_fd (Go's File.Fd), is used in blocking
 * mode inside goc_syscall_begin/end instead.
 *
 * With completion I/O (GOC_POLLER=io_uring_completion, uring_io.h) a
 * polled descriptor and a regular file in blocking mode are read and
 * written by requests on the io thread's ring instead (IORING_OP_READ /
 * _WRITE at the file position), the goroutine parked on its completion,
 * with the socket path's cancellation on close; so a regular file's read
 * holds no thread. Not after goc_file_fd (the descriptor may be shared
 * in blocking mode: Go's rule), not for a FIFO's read end before its
 * first writer (the kernel reads 0 at once: the readiness loop waits),
 * and not once the kernel answered a request with EAGAIN (it would not
 * wait on that file: uio_refused).
 *
 * Invariants:
 *  - Closing is goc__pollfd_close's: it marks the descriptor closed (new
 *    calls fail with -ECANCELED), wakes the goroutines waiting on it
 *    (-ECANCELED), waits until the last call in progress has left, and
 *    closes the descriptor. Only then is the goc_file freed.
 *  - Reads hold the pollfd's read lock and writes its write lock, so at
 *    most one goroutine waits per direction (Go's fdMutex).
 *  - fifo_no_writer (read lock): a FIFO read end opened before any
 *    writer. A 0-byte read then means "no writer yet", not end of file,
 *    unless the kernel reports a hang-up (a writer came and went).
 *  - A command's pipe (cmd_owned) outlives its close: goc__file_free
 *    frees it once `closed`, the closer's last access, is set.
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

#include "netpoll/uring_io.h"
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
    f->cmd_owned = cmd_owned;
    int err = set_nonblock(fd, true);
    if (err == 0)
        err = goc__pollfd_open(fd, &f->pd);
    if (err == -EPERM) {
        /* Not pollable (regular file...): blocking I/O in syscalls. */
        err = keep_nonblock ? 0 : set_nonblock(fd, false);
        if (err == 0)
            err = goc__pollfd_open_unpolled(fd, &f->pd);
    }
    if (err < 0) {
        free(f);
        return err;
    }
    if (goc__pollfd_polled(f->pd)) {
        f->uio_fits = true;
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && (fl & O_ACCMODE) == O_WRONLY) {
            /* No reader to share the registration with: reports on for
             * good, which a write parked on an edge needs
             * (write_by_readiness). */
            f->write_only = true;
            goc__pollfd_loud(f->pd);
        }
    } else {
        /* io_uring honours O_NONBLOCK on a regular file (EAGAIN where a
         * read(2) would wait for the disk): blocking mode only. */
        struct stat st;
        int fl = fcntl(fd, F_GETFL);
        f->uio_fits = fl >= 0 && !(fl & O_NONBLOCK) && fstat(fd, &st) == 0 &&
                      S_ISREG(st.st_mode);
    }
    *out = f;
    return 0;
}

/* A FIFO read end that saw no writer yet got 0 bytes: true if a writer
 * came and went since we opened it (POLLHUP), i.e. this is EOF. */
static bool fifo_writer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/* Blocking I/O inside goc_syscall_begin/end: a descriptor the poller
 * refuses, or one handed out by goc_file_fd. */
static bool sys_mode(goc_file *f)
{
    return !goc__pollfd_polled(f->pd) ||
           atomic_load_explicit(&f->blocking, memory_order_relaxed);
}

/* Completion I/O for f now (a direction lock held). */
static bool uio_mode(goc_file *f)
{
    return f->uio_fits && goc__uio_on() && goc__getg() &&
           !atomic_load_explicit(&f->blocking, memory_order_relaxed) &&
           !atomic_load_explicit(&f->uio_refused, memory_order_relaxed);
}

/* The kernel answered a request on f with EAGAIN: it honours O_NONBLOCK
 * there instead of waiting. Readiness from now on. */
static void uio_refuse(goc_file *f)
{
    atomic_store(&f->uio_refused, true);
    goc__pollfd_loud(f->pd);
}

/* A pipe's read under completion I/O takes the readiness path while few
 * goroutines are busy, as a socket's does (goc__uio_read_by_readiness):
 * a request for a lone reader costs the io thread's round trip for
 * nothing to batch with. Reports on first (read lock held), else a
 * request after all. A regular file always goes to the ring. */
static bool read_by_readiness(goc_file *f)
{
    return goc__pollfd_polled(f->pd) && goc__uio_read_by_readiness() &&
           goc__pollfd_unquiet(f->pd);
}

ssize_t goc_file_read(goc_file *f, void *buf, size_t n)
{
    if (!f || (!buf && n))
        return -EINVAL;
    goc__pollfd *pd = f->pd;
    ssize_t r = goc__pollfd_lock(pd, GOC__POLL_READ);
    if (r < 0)
        return r;
    int fd = goc__pollfd_fd(pd);
    if (uio_mode(f) && !read_by_readiness(f)) {
        if ((r = goc__pollfd_prepare(pd, GOC__POLL_READ)) < 0 || n == 0)
            goto out;
        if (!f->fifo_no_writer) {
            bool reg = !goc__pollfd_polled(pd);
            if (reg)
                goc_mutex_lock(&f->pos_mu);
            r = goc__uio_file_xfer(pd, false, buf, n);
            if (reg)
                goc_mutex_unlock(&f->pos_mu);
            if (r != -EAGAIN || !goc__pollfd_polled(pd))
                goto out;
            uio_refuse(f);
        }
    } else if (!sys_mode(f) &&
               (r = goc__pollfd_prepare(pd, GOC__POLL_READ)) < 0) {
        goto out;
    }
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
            if ((r = goc__pollfd_wait(pd, GOC__POLL_READ)) < 0)
                break;
            continue;
        }
        int e = errno;
        if (e == EINTR)
            continue;
        if (e == EAGAIN) {
            f->fifo_no_writer = false; /* a writer is connected */
            if ((r = goc__pollfd_wait(pd, GOC__POLL_READ)) < 0)
                break;
            continue;
        }
        r = -e;
        break;
    }
out:
    goc__pollfd_unlock(pd, GOC__POLL_READ);
    return r;
}

/* A write-only file's write under completion I/O takes the readiness path
 * while few goroutines are busy, as its reads would (read_by_readiness): a
 * write that fills a pipe then parks on the edge instead of making a
 * request on the io thread's round trip. Its reports never go quiet
 * (write_only). A file that is also read keeps its requests: a read request
 * turns reports off, which would strand a writer parked on an edge. */
static bool write_by_readiness(goc_file *f)
{
    return f->write_only && goc__uio_read_by_readiness();
}

ssize_t goc_file_write(goc_file *f, const void *buf, size_t n)
{
    if (!f || (!buf && n))
        return -EINVAL;
    goc__pollfd *pd = f->pd;
    ssize_t ret = goc__pollfd_lock(pd, GOC__POLL_WRITE);
    if (ret < 0)
        return ret;
    int fd = goc__pollfd_fd(pd);
    const char *p = buf;
    size_t done = 0;
    if (uio_mode(f) && !write_by_readiness(f)) {
        if ((ret = goc__pollfd_prepare(pd, GOC__POLL_WRITE)) < 0)
            goto out;
        /* Requests until all n bytes are gone (a pipe's may be short). */
        bool reg = !goc__pollfd_polled(pd);
        if (reg)
            goc_mutex_lock(&f->pos_mu);
        while (done < n) {
            ssize_t w =
                goc__uio_file_xfer(pd, true, (char *)p + done, n - done);
            if (w == -EAGAIN && goc__pollfd_polled(pd)) {
                uio_refuse(f);
                break; /* the readiness loop writes the rest */
            }
            if (w < 0) {
                ret = w;
                break;
            }
            done += (size_t)w;
        }
        if (reg)
            goc_mutex_unlock(&f->pos_mu);
        if (ret < 0)
            goto out;
    } else if (!sys_mode(f) &&
               (ret = goc__pollfd_prepare(pd, GOC__POLL_WRITE)) < 0) {
        goto out;
    }
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
        if (e == EAGAIN && !sys_mode(f)) {
            if ((ret = goc__pollfd_wait(pd, GOC__POLL_WRITE)) < 0)
                break;
            continue;
        }
        ret = -e;
        break;
    }
out:
    goc__pollfd_unlock(pd, GOC__POLL_WRITE);
    return ret < 0 ? ret : (ssize_t)n;
}

int goc_file_close(goc_file *f)
{
    if (!f)
        return -EINVAL;
    int err = goc__pollfd_close(f->pd);
    if (err == -ECANCELED)
        return err; /* another close came first: it frees */
    if (f->cmd_owned) {
        atomic_store(&f->closed, true); /* last access */
    } else {
        goc__pollfd_free(f->pd);
        free(f);
    }
    return err;
}

void goc__file_free(goc_file *f)
{
    if (!f)
        return;
    goc_file_close(f);
    /* Another goroutine's close may still be finishing. */
    while (!atomic_load(&f->closed)) {
        if (goc__getg())
            goc_yield();
        else
            sched_yield();
    }
    goc__pollfd_free(f->pd);
    free(f);
}

int goc_file_fd(goc_file *f)
{
    if (!f || goc__pollfd_incref(f->pd) < 0)
        return -1;
    int fd = goc__pollfd_fd(f->pd);
    /* As Go's File.Fd: the descriptor leaves goc's control (typically for
     * a child, which shares our open file description and must not get
     * O_NONBLOCK), so the file goes to blocking mode for good. */
    if (goc__pollfd_polled(f->pd) && !atomic_exchange(&f->blocking, true))
        set_nonblock(fd, false);
    goc__pollfd_decref(f->pd);
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
