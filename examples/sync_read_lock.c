/*
 * sync_read_lock.c - the book's read-lock example (chapter 5, 读写锁).
 *
 * Three goroutines take the read lock of one RWMutex at the same time
 * (read locks do not exclude each other) and hold it for two seconds. The
 * main goroutine then asks for the write lock: it waits until all three
 * readers have unlocked, and gets it only then.
 *
 * Expected output (the order within each group of three may vary):
 *   Try to lock for reading... [0..2]
 *   Locked for reading. [0..2]         all three at once
 *   Try to lock for writing...
 *   Try to unlock for reading... [0..2]   two seconds later
 *   Unlocked for reading. [0..2]
 *   Locked for writing.                only after the last reader
 */
#include <stdint.h>
#include <stdio.h>

#include <goc.h>

static goc_rwmutex rwm = GOC_RWMUTEX_INIT;
static goc_waitgroup readers_done = GOC_WAITGROUP_INIT;

static void reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    printf("Try to lock for reading... [%d]\n", i);
    goc_rwmutex_rlock(&rwm);
    printf("Locked for reading. [%d]\n", i);
    goc_sleep(2 * GOC_SECOND);
    printf("Try to unlock for reading... [%d]\n", i);
    goc_rwmutex_runlock(&rwm);
    printf("Unlocked for reading. [%d]\n", i);
    goc_waitgroup_done(&readers_done);
}

static int read_locks(void *arg)
{
    (void)arg;
    goc_waitgroup_add(&readers_done, 3);
    for (int i = 0; i < 3; i++)
        goc_go(reader, (void *)(intptr_t)i);
    goc_sleep(100 * GOC_MILLISECOND);
    printf("Try to lock for writing...\n");
    goc_rwmutex_lock(&rwm);
    printf("Locked for writing.\n");
    goc_rwmutex_unlock(&rwm);
    /* Let the readers print their last line before the program ends. */
    goc_waitgroup_wait(&readers_done);
    return 0;
}

int main(void)
{
    return goc_main(read_locks, NULL);
}
