/*
 * sync_repeated_lock.c - the book's repeated-lock example (chapter 5,
 * 锁的使用).
 *
 * The main goroutine locks a mutex, then starts three goroutines that each
 * try to lock it too: they block (their goroutines park; no thread does).
 * One second later the main goroutine unlocks: exactly one of the three
 * gets the mutex, and since nobody ever unlocks it again, the other two
 * stay blocked until the program ends. Locking a locked mutex blocks; it
 * never fails and never "recurses".
 *
 * Expected output (the G1..G3 order of the first lines may vary):
 *   Lock the lock. (G0)
 *   The lock is locked. (G0)
 *   Lock the lock. (G1)        ... (G2), (G3)
 *   Unlock the lock. (G0)
 *   The lock is unlocked. (G0)
 *   The lock is locked. (Gn)   for one n only
 */
#include <stdint.h>
#include <stdio.h>

#include <goc.h>

static goc_mutex mutex = GOC_MUTEX_INIT;

static void locker(void *arg)
{
    int i = (int)(intptr_t)arg;
    printf("Lock the lock. (G%d)\n", i);
    goc_mutex_lock(&mutex);
    printf("The lock is locked. (G%d)\n", i);
}

static int repeatedly_lock(void *arg)
{
    (void)arg;
    printf("Lock the lock. (G0)\n");
    goc_mutex_lock(&mutex);
    printf("The lock is locked. (G0)\n");
    for (int i = 1; i <= 3; i++)
        goc_go(locker, (void *)(intptr_t)i);
    goc_sleep(GOC_SECOND);
    printf("Unlock the lock. (G0)\n");
    goc_mutex_unlock(&mutex);
    printf("The lock is unlocked. (G0)\n");
    goc_sleep(GOC_SECOND);
    /* Returning ends the program; the two goroutines still blocked in
     * goc_mutex_lock are discarded, as Go discards them when main
     * returns. */
    return 0;
}

int main(void)
{
    return goc_main(repeatedly_lock, NULL);
}
