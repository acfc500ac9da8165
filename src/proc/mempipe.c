/*
 * mempipe.c - io.Pipe: a synchronous in-memory pipe, built as Go builds it
 * (io/pipe.go), from channels and a mutex.
 *
 * A write holds wrmu for its whole length (writes never interleave) and
 * offers its remaining bytes as a chunk on wrch (unbuffered); a reader
 * takes the chunk, copies what fits into its buffer and answers on rdch
 * with the count; the writer advances and offers the rest, until nothing
 * is left. Several readers may wait on wrch: each chunk goes to one of
 * them. done is closed (once) by the first close of either end, which
 * wakes everybody; the error each side then sees comes from rerr / werr
 * (Go's onceError: the first error stored wins).
 *
 * Invariants:
 *  - A reader that took a chunk always answers on rdch, and the writer
 *    that offered it always receives that answer (outside any select), so
 *    the writer's buffer is never touched after its write returned.
 *  - refs = open ends + calls in progress; the last one out frees.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "goc/chan.h"
#include "goc/proc.h"
#include "goc/sync.h"

/* werr value of a plain close of the writer: readers see EOF (0). */
#define MP_EOF 1

typedef struct mp_chunk {
    const char *p;
    size_t n;
} mp_chunk;

typedef struct mempipe mempipe;

struct goc_mempipe_reader {
    mempipe *p;
};
struct goc_mempipe_writer {
    mempipe *p;
};

struct mempipe {
    goc_mutex wrmu;          /* serialises writes */
    goc_chan *wrch;          /* chan mp_chunk, unbuffered */
    goc_chan *rdch;          /* chan size_t, unbuffered */
    goc_chan *done;          /* chan struct{}, closed once */
    _Atomic int done_closed; /* 0 -> 1 by whoever closes done */
    _Atomic int rerr;        /* 0, or the reader's close error */
    _Atomic int werr;        /* 0, MP_EOF, or the writer's close error */
    _Atomic int refs;        /* open ends + calls in progress */
    goc_mempipe_reader r;
    goc_mempipe_writer w;
};

int goc_mempipe(goc_mempipe_reader **r, goc_mempipe_writer **w)
{
    if (!r || !w)
        return -EINVAL;
    mempipe *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->wrch = goc_chan_make(sizeof(mp_chunk), 0);
    p->rdch = goc_chan_make(sizeof(size_t), 0);
    p->done = goc_chan_make(0, 0);
    if (!p->wrch || !p->rdch || !p->done) {
        goc_chan_free(p->wrch);
        goc_chan_free(p->rdch);
        goc_chan_free(p->done);
        free(p);
        return -ENOMEM;
    }
    atomic_store(&p->refs, 2);
    p->r.p = p;
    p->w.p = p;
    *r = &p->r;
    *w = &p->w;
    return 0;
}

static void mp_ref(mempipe *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

static void mp_unref(mempipe *p)
{
    /* acq_rel: every use of p by other parties happens before the free. */
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    goc_chan_free(p->wrch);
    goc_chan_free(p->rdch);
    goc_chan_free(p->done);
    free(p);
}

static bool mp_is_done(mempipe *p)
{
    goc_case c = GOC_CASE_RECV(p->done, NULL);
    return goc_select(&c, 1, true) == 0;
}

static void mp_close_done(mempipe *p)
{
    int zero = 0;
    if (atomic_compare_exchange_strong(&p->done_closed, &zero, 1))
        goc_chan_close(p->done);
}

static void store_once(_Atomic int *slot, int err)
{
    int zero = 0;
    atomic_compare_exchange_strong(slot, &zero, err);
}

/* What a read gets once done is closed. */
static int read_close_error(mempipe *p)
{
    int rerr = atomic_load(&p->rerr), werr = atomic_load(&p->werr);
    if (rerr == 0 && werr != 0)
        return werr == MP_EOF ? 0 : werr;
    return -EPIPE;
}

/* What a write gets once done is closed. */
static int write_close_error(mempipe *p)
{
    int rerr = atomic_load(&p->rerr), werr = atomic_load(&p->werr);
    if (werr == 0 && rerr != 0)
        return rerr;
    return -EPIPE;
}

ssize_t goc_mempipe_read(goc_mempipe_reader *r, void *buf, size_t n)
{
    if (!r || (!buf && n))
        return -EINVAL;
    mempipe *p = r->p;
    mp_ref(p);
    ssize_t ret;
    if (mp_is_done(p)) {
        ret = read_close_error(p);
    } else {
        mp_chunk ch;
        goc_case cs[] = {GOC_CASE_RECV(p->wrch, &ch),
                         GOC_CASE_RECV(p->done, NULL)};
        if (goc_select(cs, 2, false) == 0) {
            size_t nr = ch.n < n ? ch.n : n;
            memcpy(buf, ch.p, nr);
            goc_chan_send(p->rdch, &nr);
            ret = (ssize_t)nr;
        } else {
            ret = read_close_error(p);
        }
    }
    mp_unref(p);
    return ret;
}

ssize_t goc_mempipe_write(goc_mempipe_writer *w, const void *buf, size_t n)
{
    if (!w || (!buf && n))
        return -EINVAL;
    mempipe *p = w->p;
    mp_ref(p);
    goc_mutex_lock(&p->wrmu);
    ssize_t ret = 0;
    if (mp_is_done(p)) {
        ret = write_close_error(p);
    } else {
        mp_chunk ch = {buf, n};
        bool once = true;
        while (once || ch.n > 0) {
            once = false;
            goc_case cs[] = {GOC_CASE_SEND(p->wrch, &ch),
                             GOC_CASE_RECV(p->done, NULL)};
            if (goc_select(cs, 2, false) != 0) {
                ret = write_close_error(p);
                break;
            }
            size_t nw;
            goc_chan_recv(p->rdch, &nw);
            ch.p += nw;
            ch.n -= nw;
        }
        if (ret == 0)
            ret = (ssize_t)n;
    }
    goc_mutex_unlock(&p->wrmu);
    mp_unref(p);
    return ret;
}

static int norm_err(int err)
{
    return err > 0 ? -err : err;
}

int goc_mempipe_close_reader_with_error(goc_mempipe_reader *r, int err)
{
    if (!r)
        return -EINVAL;
    mempipe *p = r->p;
    err = norm_err(err);
    store_once(&p->rerr, err ? err : -EPIPE);
    mp_close_done(p);
    mp_unref(p);
    return 0;
}

int goc_mempipe_close_reader(goc_mempipe_reader *r)
{
    return goc_mempipe_close_reader_with_error(r, 0);
}

int goc_mempipe_close_writer_with_error(goc_mempipe_writer *w, int err)
{
    if (!w)
        return -EINVAL;
    mempipe *p = w->p;
    err = norm_err(err);
    store_once(&p->werr, err ? err : MP_EOF);
    mp_close_done(p);
    mp_unref(p);
    return 0;
}

int goc_mempipe_close_writer(goc_mempipe_writer *w)
{
    return goc_mempipe_close_writer_with_error(w, 0);
}
