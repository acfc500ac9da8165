/*
 * sync_datafile.c - the book's concurrent data file (chapter 5: 锁的使用,
 * 条件变量, 原子操作): fixed-size records in one file, written and read by
 * several goroutines at once.
 *
 * Each writer reserves the next record's offset (an atomic add, the book's
 * third version; its first used a mutex per offset) and writes the record
 * there under the file's write lock. Each reader reserves the next offset
 * to read the same way and reads under the read lock; when its record is
 * not in the file yet, it waits on a condition variable bound to the read
 * lock (Go's sync.NewCond(fmutex.RLocker())), which releases the read lock
 * while it waits so that a writer can get in. Writers broadcast after each
 * write.
 *
 * Two fixes over the book's version, both about its assumptions:
 *  - The book appends (f.Write), so records land in the order writers get
 *    the lock rather than the order of their reserved numbers, and a
 *    reader may read a record whose number is not the one it reserved.
 *    Here each writer writes at its reserved offset (pwrite). The file can
 *    then have a hole where a slower writer's record will go: a hole reads
 *    as zeros, so a record starts with a non-zero byte, and a reader that
 *    finds a zero byte (or the end of the file) waits.
 *  - The book signals one reader per write. With several readers waiting
 *    for different records, the one woken may not be the one whose record
 *    was written; it waits again and the wake-up is lost for the other.
 *    Broadcast wakes them all; each rechecks its own record.
 * File I/O is bracketed with goc_syscall_begin/end, so that a slow disk
 * blocks one thread, never the processor.
 *
 * Usage: sync_datafile [writers readers records_per_writer]
 * (default 3 3 5; the readers share the records evenly). Prints what each
 * goroutine wrote and read, then checks that every record was read exactly once
 * with its own contents.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <goc.h>

#define DATA_LEN 16 /* bytes per record */

typedef struct data_file {
    int fd;
    goc_rwmutex fmutex;      /* the file: read lock to read, write to write */
    goc_cond rcond;          /* bound to fmutex's read lock */
    _Atomic int64_t woffset; /* next offset to write (reserved atomically) */
    _Atomic int64_t roffset; /* next offset to read */
    uint32_t data_len;
} data_file;

static int data_file_open(data_file *df, const char *path, uint32_t data_len)
{
    df->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (df->fd < 0)
        return -errno;
    /* fmutex: zeroed (static storage) is a valid unlocked RWMutex. */
    goc_cond_init_rlocker(&df->rcond, &df->fmutex);
    atomic_init(&df->woffset, 0);
    atomic_init(&df->roffset, 0);
    df->data_len = data_len;
    return 0;
}

/* Read the next unread record into buf (data_len bytes); its serial
 * number (rsn) in *rsn. 0 or a negative errno code. */
static int data_file_read(data_file *df, int64_t *rsn, char *buf)
{
    int64_t offset = atomic_fetch_add(&df->roffset, df->data_len);
    *rsn = offset / df->data_len;
    goc_rwmutex_rlock(&df->fmutex);
    for (;;) {
        goc_syscall_begin();
        ssize_t n = pread(df->fd, buf, df->data_len, offset);
        int err = errno;
        goc_syscall_end();
        if (n < 0) {
            goc_rwmutex_runlock(&df->fmutex);
            return -err;
        }
        if ((size_t)n == df->data_len && buf[0] != 0)
            break;
        /* Not written yet (end of file, or a hole): release the read lock
         * and wait for a writer's broadcast, then look again. */
        goc_cond_wait(&df->rcond);
    }
    goc_rwmutex_runlock(&df->fmutex);
    return 0;
}

/* Append a record (data_len bytes, first byte non-zero); its serial
 * number in *wsn. 0 or a negative errno code. */
static int data_file_write(data_file *df, int64_t *wsn, const char *buf)
{
    int64_t offset = atomic_fetch_add(&df->woffset, df->data_len);
    *wsn = offset / df->data_len;
    goc_rwmutex_lock(&df->fmutex);
    goc_syscall_begin();
    ssize_t n = pwrite(df->fd, buf, df->data_len, offset);
    int err = errno;
    goc_syscall_end();
    goc_rwmutex_unlock(&df->fmutex);
    if (n < 0)
        return -err;
    if ((size_t)n != df->data_len)
        return -EIO;
    goc_cond_broadcast(&df->rcond);
    return 0;
}

/* ---- the demo ------------------------------------------------------ */

static data_file df;
static goc_waitgroup wg = GOC_WAITGROUP_INIT;
static int nwriters = 3, nreaders = 3, per_writer = 5, per_reader;
static char *seen; /* one flag per record: read already */
static _Atomic int errors;

static void writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < per_writer; i++) {
        char rec[DATA_LEN];
        int64_t wsn;
        memset(rec, ' ', sizeof rec);
        /* The record says who wrote it; its number is only known once
         * reserved, so the writer appends it after the write. */
        int len = snprintf(rec, sizeof rec, "W%d-%d", id, i);
        rec[len] = ' ';
        int err = data_file_write(&df, &wsn, rec);
        if (err) {
            fprintf(stderr, "writer %d: %s\n", id, goc_strerror(err));
            atomic_fetch_add(&errors, 1);
            break;
        }
        printf("writer %d: wsn %lld <- \"%.*s\"\n", id, (long long)wsn,
               DATA_LEN, rec);
        goc_sleep((int64_t)((id + i) % 3) * GOC_MILLISECOND);
    }
    goc_waitgroup_done(&wg);
}

static void reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < per_reader; i++) {
        char rec[DATA_LEN];
        int64_t rsn;
        int err = data_file_read(&df, &rsn, rec);
        if (err) {
            fprintf(stderr, "reader %d: %s\n", id, goc_strerror(err));
            atomic_fetch_add(&errors, 1);
            break;
        }
        printf("reader %d: rsn %lld -> \"%.*s\"\n", id, (long long)rsn,
               DATA_LEN, rec);
        if (seen[rsn]++ || rec[0] != 'W') /* rsn: each reader its own */
            atomic_fetch_add(&errors, 1);
    }
    goc_waitgroup_done(&wg);
}

static int datafile_main(void *arg)
{
    (void)arg;
    char path[] = "/tmp/goc_datafile_XXXXXX";
    int tmp = mkstemp(path);
    if (tmp < 0) {
        perror("mkstemp");
        return 1;
    }
    close(tmp);
    int err = data_file_open(&df, path, DATA_LEN);
    if (err) {
        fprintf(stderr, "open %s: %s\n", path, goc_strerror(err));
        return 1;
    }
    /* Readers read as many records as writers write. */
    int total = nwriters * per_writer;
    per_reader = total / nreaders;
    if (per_reader * nreaders != total) {
        fprintf(stderr, "writers * records must divide by readers\n");
        return 2;
    }
    seen = calloc((size_t)total, 1);
    goc_waitgroup_add(&wg, nreaders + nwriters);
    /* Readers first: they wait for records that do not exist yet. */
    for (int i = 0; i < nreaders; i++)
        goc_go(reader, (void *)(intptr_t)i);
    goc_sleep(10 * GOC_MILLISECOND);
    for (int i = 0; i < nwriters; i++)
        goc_go(writer, (void *)(intptr_t)i);
    goc_waitgroup_wait(&wg);

    int missing = 0;
    for (int i = 0; i < total; i++)
        missing += !seen[i];
    printf("%d records written, %d read, %d missing, %d errors\n", total,
           total - missing, missing, atomic_load(&errors));
    close(df.fd);
    unlink(path);
    free(seen);
    return missing || atomic_load(&errors) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4) {
        nwriters = atoi(argv[1]);
        nreaders = atoi(argv[2]);
        per_writer = atoi(argv[3]);
    }
    if (nwriters < 1 || nreaders < 1 || per_writer < 1) {
        fprintf(stderr, "usage: %s [writers readers records_per_writer]\n",
                argv[0]);
        return 2;
    }
    return goc_main(datafile_main, NULL);
}
