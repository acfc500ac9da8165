/*
 * sync_once.c - the book's once example (chapter 5, 只会执行一次).
 *
 * Three goroutines call goc_once_do on the same once, each with its own
 * function (num += 2, num += 4, num += 6). Only the first call runs its
 * function, which sends a signal on a channel; the other two return
 * without calling theirs. The main goroutine waits three times for a
 * signal with a 100 ms timeout: one signal arrives, the other two waits
 * time out. num ends as 2, 4 or 6, whichever call came first.
 *
 * Expected output:
 *   Received a signal.
 *   Timeout!
 *   Timeout!
 *   Num: 2.      (or 4, or 6)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <goc.h>

static goc_once once = GOC_ONCE_INIT;
static int num;
static goc_chan *sign; /* chan bool, unbuffered */

static void add_num(void *arg)
{
    int ii = (int)(intptr_t)arg;
    num = num + ii * 2;
    bool t = true;
    goc_chan_send(sign, &t);
}

static void caller(void *arg)
{
    goc_once_do(&once, add_num, arg);
}

static int once_do(void *arg)
{
    (void)arg;
    sign = goc_chan_make(sizeof(bool), 0);
    for (int i = 0; i < 3; i++)
        goc_go(caller, (void *)(intptr_t)(i + 1));
    for (int j = 0; j < 3; j++) {
        goc_timer *timeout = goc_timer_new(100 * GOC_MILLISECOND);
        goc_case cases[2] = {GOC_CASE_RECV(sign, NULL),
                             GOC_CASE_RECV(goc_timer_chan(timeout), NULL)};
        if (goc_select(cases, 2, false) == 0)
            printf("Received a signal.\n");
        else
            printf("Timeout!\n");
        goc_timer_free(timeout);
    }
    /* The once's return (after add_num) happens before the receive of its
     * signal, so num is safe to read here. */
    printf("Num: %d.\n", num);
    goc_chan_free(sign);
    return 0;
}

int main(void)
{
    return goc_main(once_do, NULL);
}
