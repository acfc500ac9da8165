/*
 * uring_ring.c - one mapped io_uring instance (uring_ring.h says who may
 * touch which index).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "netpoll/uring_ring.h"

int goc__uring_sys_setup(unsigned entries, struct io_uring_params *par)
{
    long r = syscall(__NR_io_uring_setup, entries, par);
    return r < 0 ? -errno : (int)r;
}

int goc__uring_sys_register(int fd, unsigned op, void *arg, unsigned nargs)
{
    long r = syscall(__NR_io_uring_register, fd, op, arg, nargs);
    return r < 0 ? -errno : (int)r;
}

int goc__uring_enter(const goc__uring *r, unsigned to_submit,
                     unsigned min_complete, unsigned flags, const void *arg,
                     size_t argsz)
{
    long n = syscall(__NR_io_uring_enter, r->fd, to_submit, min_complete, flags,
                     arg, argsz);
    return n < 0 ? -errno : (int)n;
}

void goc__uring_fini(goc__uring *r)
{
    if (r->fd >= 0)
        close(r->fd); /* ends every request */
    if (r->sqes)
        munmap(r->sqes, r->sqes_len);
    if (r->cq_map && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_map_len);
    if (r->sq_map)
        munmap(r->sq_map, r->sq_map_len);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

static void *map(goc__uring *r, size_t len, off_t what)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                   r->fd, what);
    if (p == MAP_FAILED)
        return NULL;
    /* A forked child does not get the rings (it execs, or runs a new
     * instance of its own). */
    (void)madvise(p, len, MADV_DONTFORK);
    return p;
}

int goc__uring_init(goc__uring *r, unsigned entries,
                    struct io_uring_params *par)
{
    memset(r, 0, sizeof *r);
    r->fd = goc__uring_sys_setup(entries, par);
    if (r->fd < 0) {
        int err = r->fd;
        r->fd = -1;
        return err;
    }
    r->features = par->features;
    r->sq_map_len = par->sq_off.array + par->sq_entries * sizeof(uint32_t);
    r->cq_map_len =
        par->cq_off.cqes + par->cq_entries * sizeof(struct io_uring_cqe);
    bool single = r->features & IORING_FEAT_SINGLE_MMAP;
    if (single) {
        if (r->cq_map_len > r->sq_map_len)
            r->sq_map_len = r->cq_map_len;
        r->cq_map_len = r->sq_map_len;
    }
    r->sqes_len = par->sq_entries * sizeof(struct io_uring_sqe);
    if (!(r->sq_map = map(r, r->sq_map_len, IORING_OFF_SQ_RING)) ||
        !(r->cq_map =
              single ? r->sq_map : map(r, r->cq_map_len, IORING_OFF_CQ_RING)) ||
        !(r->sqes = map(r, r->sqes_len, IORING_OFF_SQES))) {
        int err = -errno;
        goc__uring_fini(r);
        return err;
    }
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_khead = (_Atomic uint32_t *)(sq + par->sq_off.head);
    r->sq_ktail = (_Atomic uint32_t *)(sq + par->sq_off.tail);
    r->sq_kflags = (_Atomic uint32_t *)(sq + par->sq_off.flags);
    r->sq_mask = *(uint32_t *)(sq + par->sq_off.ring_mask);
    r->sq_entries = par->sq_entries;
    uint32_t *array = (uint32_t *)(sq + par->sq_off.array);
    for (uint32_t i = 0; i < r->sq_entries; i++)
        array[i] = i; /* entry i is slot i, for good */
    r->cq_khead = (_Atomic uint32_t *)(cq + par->cq_off.head);
    r->cq_ktail = (_Atomic uint32_t *)(cq + par->cq_off.tail);
    r->cq_kflags = (_Atomic uint32_t *)(cq + par->cq_off.flags);
    r->cq_mask = *(uint32_t *)(cq + par->cq_off.ring_mask);
    r->cq_entries = par->cq_entries;
    r->cqes = (struct io_uring_cqe *)(cq + par->cq_off.cqes);
    r->sq_tail = atomic_load(r->sq_ktail);
    return 0;
}

int goc__uring_probe(int fd, const int *ops, size_t n, bool *probe_failed)
{
    *probe_failed = false;
    size_t sz =
        sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *pr = calloc(1, sz);
    if (!pr) {
        *probe_failed = true;
        return -ENOMEM;
    }
    int err = goc__uring_sys_register(fd, IORING_REGISTER_PROBE, pr, 256);
    if (err < 0) {
        *probe_failed = true;
    } else {
        err = 0;
        for (size_t i = 0; i < n; i++)
            if (ops[i] > pr->last_op ||
                !(pr->ops[ops[i]].flags & IO_URING_OP_SUPPORTED))
                err = -EOPNOTSUPP;
    }
    free(pr);
    return err;
}
