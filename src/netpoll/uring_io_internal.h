/*
 * uring_io_internal.h - what the parts of completion I/O share
 * (uring_io.c: the rings, their io threads, requests of one goroutine;
 * uring_accept.c: multishot accept; uring_recv.c: multishot recv into
 * provided buffers). Private to them: uring_io.h is the interface, and
 * says what "the io thread" means here: whoever drives the ring.
 */
#ifndef GOC_NETPOLL_URING_IO_INTERNAL_H
#define GOC_NETPOLL_URING_IO_INTERNAL_H

#include <linux/io_uring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "netpoll/uring_io.h"
#include "netpoll/uring_ring.h"
#include "runtime/runtime_internal.h"

#define LINE 64 /* a cache line */

#define UD_WAKE 1
#define UD_CANCEL 2
#define UD_PTR_MASK ((UINT64_C(1) << 48) - 1)

/* A multishot accept's user_data has bit 0 set (an op's is its address,
 * 8-aligned, which UD_WAKE and UD_CANCEL are not). */
#define UD_ACCEPT 1
/* A multishot recv's has bit 1 set (UD_CANCEL, 2 alone, is no
 * receiver's: its address is above it). */
#define UD_RECV 2

/* The most rings completion I/O makes (either mode). */
#define RINGS_MAX 64

/* The provided buffers of multishot recv: PBUF_N of 1 << PBUF_SHIFT
 * bytes a ring (group 0). */
#define PBUF_SHIFT 12
#define PBUF_N 256

enum {
    REQ_XFER = 1,
    REQ_CANCEL = 2,
    REQ_ACC_ARM = 3,
    REQ_ACC_CANCEL = 4,
    REQ_RCV_ARM = 5,
    REQ_RCV_CANCEL = 6
};

typedef struct req {
    int kind;
} req;

/* A request slot: its lap's sequence number, then the request. Slot i
 * of a ring of n is free for ticket t (t % n == i) when seq == t, holds
 * ticket t's request when seq == t + 1, and is free again for t + n
 * once the io thread has taken it (seq = t + n). The numbers keep a
 * lap's push from filling a slot whose previous ticket is reserved and
 * not yet filled, which would let it overtake that request (a cancel
 * its own request, say). */
typedef struct uio_slot {
    _Atomic uint32_t seq;
    req *r;
} uio_slot;

/* The requests taken from the slots and not yet written to the ring,
 * oldest first (its driver's): v[i..n). */
typedef struct todo_list {
    req **v;
    uint32_t i, n, cap;
} todo_list;

/* One ring and its io thread (the top comment). Three cache lines: the
 * goroutines' side (pushes; the io thread's sleep), the io thread's own,
 * and what completions woke, which the polling M takes. */
typedef struct uio_ring {
    /* The request queue (push, take): qmask + 1 slots in a ring buffer. A
     * goroutine reserves ticket qtail++ and fills its slot; the io thread
     * empties them in ticket order from qhead, which only it writes. */
    _Alignas(LINE) _Atomic uint32_t qtail;
    uio_slot *slots;
    uint32_t qmask;              /* the number of slots - 1 */
    _Atomic uint64_t slot_waits; /* stats: pushes that waited (any M) */
    _Atomic bool sleeping;
    _Atomic bool wake_owed; /* a push found the io thread asleep and left
                               its wake to goc__uio_flush */
    int wake_fd;
    /* The io thread's alone once set up (it submits and reaps). */
    _Alignas(LINE) goc__uring ring;
    uint16_t gen;
    bool wake_armed; /* the eventfd's multishot poll is on */
    bool started;    /* goc__uio_init: the thread runs (join it) */
    pthread_t thread;
    _Atomic uint32_t qhead; /* the io thread's; goc__uio_flush reads it */
    int setup_state;        /* setup_lock: 0: not yet; 1: done */
    int setup_err;
    struct {
        _Atomic uint64_t submitted, cancels, sq_full, enters, wakes;
        _Atomic uint64_t accept_arms, accepted;
        _Atomic uint64_t recv_arms, recv_cqes, recv_stops, recv_nobufs;
        _Atomic uint64_t recvs;     /* single-shot recv requests */
        _Atomic uint64_t inflight;  /* as int64_t: goc__uio_inflight */
        _Atomic uint64_t armed;     /* as int64_t: multishot recvs not ended */
        _Atomic uint64_t acc_armed; /* as int64_t: multishot accepts too */
    } stats;
    /* Provided buffers (multishot recv): registered by the io thread;
     * buffers go back (pbuf_give) under br_lock from any thread: a line
     * of their own, which readers write. */
    _Alignas(LINE) pthread_mutex_t br_lock;
    uint16_t br_tail;             /* br_lock */
    uint64_t given;               /* br_lock: buffers given to the kernel */
    struct io_uring_buf_ring *br; /* NULL: none (fixed while on) */
    char *pool;
    int32_t blen[PBUF_N];   /* a received buffer's byte count */
    uint16_t bnext[PBUF_N]; /* the next in its receiver's queue */
    /* A ring per M (uring_io.c, "A ring per M"): whoever drives the ring
     * (takes, writes SQEs, enters, reaps) holds drive_lock: its M at the
     * end of a scheduler round, a goroutine of another M that pushed to
     * it, the poller while the M is away. */
    _Alignas(LINE) pthread_mutex_t drive_lock;
    todo_list todo;           /* drive_lock */
    _Atomic(void *) owner;    /* the M that claimed it (its token) */
    _Atomic bool made;        /* set up; before, only its locks are */
    _Atomic bool away;        /* the owner holds no processor */
    _Atomic bool owed;        /* a round left requests unwritten */
    _Atomic int64_t round_at; /* when the last round began */
    _Atomic uint32_t reads;   /* reads counted, not yet added to the score */
    /* Goroutines that completions woke, for the next poll of any M (it
     * takes them with goc__uio_take, in goc__poller_wait). */
    _Alignas(LINE) pthread_mutex_t ready_lock;
    goc__glist ready; /* ready_lock */
    _Atomic int ready_n;
} uio_ring;

/* Multishot recv: on when every ring has its provided buffers, until a
 * request is refused (-EINVAL: single-shot recvs from then on). */
extern _Atomic bool goc__uio_msrecv;
/* Whether the rings are one per M (uring_io.c, "A ring per M"): fixed
 * while the runtime runs. */
bool goc__uio_per_m(void);
/* A ring per M: multishot recvs are armed with a byte limit (the
 * kernel's IORING_RECV_MSHOT_LIM, Linux 6.16), until a kernel refuses
 * it (uring_recv.c). */
extern _Atomic bool goc__uio_rcv_lim;

/* Add d to a count only the io thread writes (all but `wakes`): a plain
 * load and store, not a locked add, on the io thread's hot path; readers
 * (goc__uio_get_stats, the tests) see some recent value. */
static inline void count(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

static inline struct io_uring_sqe *sqe_get(uio_ring *R)
{
    return goc__uring_sqe_get(&R->ring);
}

static inline void sqe_push(uio_ring *R)
{
    goc__uring_sqe_push(&R->ring);
}

/* Write e as a cancel of the request with user_data ud and publish it
 * (its own completion only on failure, which the request's tells). */
static inline void cancel_push(uio_ring *R, struct io_uring_sqe *e, uint64_t ud)
{
    e->opcode = IORING_OP_ASYNC_CANCEL;
    e->fd = -1;
    e->addr = ud;
    e->user_data = UD_CANCEL;
    e->flags = IOSQE_CQE_SKIP_SUCCESS;
    sqe_push(R);
}

/* ---- uring_io.c ------------------------------------------------------ */

/* The ring of a descriptor's requests (uring_io.c's ring_for). */
uio_ring *goc__uio_ring_for(int fd);
/* The count of goc_mains that started io threads: a request armed in an
 * earlier one ended with its ring. */
unsigned goc__uio_epoch(void);
/* Push r for the io thread (uring_io.c's push, which explains the
 * wakes); or in two steps: reserve its place in the queue, then fill
 * it, for a caller that must fix the order under a lock the io thread
 * also takes but must not wait for a slot under it. The io thread takes
 * requests in the order their slots were reserved. Goroutine only. */
void goc__uio_push(uio_ring *R, req *r);
uint32_t goc__uio_push_reserve(uio_ring *R);
void goc__uio_push_fill(uio_ring *R, uint32_t slot, req *r);

/* Create R's ring (uring_io.c's ring_setup: an io thread's, or with a
 * ring per M one any thread may drive). 0 or a negative code. */
int goc__uio_ring_setup(uio_ring *R);
/* One round of R's driver (drive_lock held, or the io thread's own):
 * write what was pushed, submit it with the io_uring_enter that also
 * runs this thread's completion work, reap onto *wake. */
void goc__uio_round_locked(uio_ring *R, goc__glist *wake);
/* Hand what completions woke to the scheduler (R's ready list, which
 * the next poll takes; a poller asleep is woken). */
void goc__uio_deliver(uio_ring *R, goc__glist *wake);

/* ---- uring_per_m.c: a ring per M ------------------------------------ */

/* The size of the pool the Ms claim rings from (2 x CPUs + 2, at most
 * 64). */
unsigned goc__uio_pm_rings_wanted(void);
/* Take rs[0..n) as the pool, make ring 0 (ring, buffers, eventfd notices
 * off; the others are made by the Ms that claim them) and put away_fd in
 * the poller; 0 or a negative code. goc__uio_pm_fini undoes it, with
 * every request still in the rings made cancelled (after the Ms ended). */
int goc__uio_pm_init(uio_ring *rs, unsigned n);
void goc__uio_pm_fini(void);
/* The calling goroutine's M's ring, claimed on first use. */
uio_ring *goc__uio_pm_ring(void);
/* A push to R was filled: R is driven now unless it is the caller's M's
 * own with fewer than PUSH_AHEAD waiting (its round submits them). */
void goc__uio_pm_pushed(uio_ring *R);
/* Allocate R's request slots, all free; 0 or -ENOMEM. */
int goc__uio_slots_init(uio_ring *R);
/* Drive R now from this thread (a push that waits for a slot). */
void goc__uio_pm_drive(uio_ring *R);
/* uring_io.h's goc__uio_flush for a ring per M. */
int goc__uio_pm_flush(goc__glist *out);
/* A socket or pipe read is about to choose its path: counted on the
 * calling M's ring, if it has one (uring_per_m.c, "Whether reads on the
 * ring pay"). */
void goc__uio_pm_count_read(void);
/* Whether reads on the rings pay for the wake-ups of Ms that go idle
 * with requests in their rings: enough reads for each M that let go of
 * its processor, lately. */
bool goc__uio_pm_pays(void);

/* ---- uring_accept.c (io thread) -------------------------------------- */

/* Write the SQE e of r, a REQ_ACC_ARM or REQ_ACC_CANCEL. */
void goc__uio_acc_write(uio_ring *R, req *r, struct io_uring_sqe *e,
                        goc__glist *wake);
/* A completion of an acceptor's request. */
void goc__uio_acc_cqe(uio_ring *R, goc__uio_acceptor *a,
                      const struct io_uring_cqe *c, goc__glist *wake);

/* ---- uring_recv.c ---------------------------------------------------- */

/* Write the SQE e of r, a REQ_RCV_ARM or REQ_RCV_CANCEL (io thread). */
void goc__uio_rcv_write(uio_ring *R, req *r, struct io_uring_sqe *e,
                        goc__glist *wake);
/* A completion of a receiver's request (io thread). */
void goc__uio_rcv_cqe(uio_ring *R, goc__uio_rcv *v,
                      const struct io_uring_cqe *c, goc__glist *wake);
/* Whether multishot recv is wanted in this goc_main. */
bool goc__uio_msrecv_wanted(void);
/* Register R's provided buffers, all given to the kernel (its io thread,
 * before its loop); R->br stays NULL where it fails. */
void goc__uio_pbuf_setup(uio_ring *R);
/* Unmap R's provided buffers (after its ring is closed). */
void goc__uio_pbuf_fini(uio_ring *R);
/* After the io threads have ended: what receivers hold moves to their
 * spill, before the pools go (goc__uio_fini). */
void goc__uio_rcv_spill_all(void);

#endif
