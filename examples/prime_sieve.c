/*
 * prime_sieve.c - the concurrent prime sieve (Go's classic example): a
 * chain of goroutines, one per prime, each filtering multiples of its prime
 * out of the stream it receives and passing the rest on.
 *
 *   prime_sieve [N]     print the first N primes (default 100)
 */
#include <stdio.h>
#include <stdlib.h>

#include <goc.h>

typedef struct filter_arg {
    goc_chan *in, *out;
    int prime;
} filter_arg;

static void generate(void *arg)
{
    goc_chan *ch = arg;
    for (int i = 2;; i++)
        goc_chan_send(ch, &i);
}

static void filter(void *arg)
{
    filter_arg a = *(filter_arg *)arg;
    free(arg);
    int v;
    while (goc_chan_recv(a.in, &v))
        if (v % a.prime != 0)
            goc_chan_send(a.out, &v);
}

static int sieve(void *arg)
{
    int n = *(int *)arg;
    goc_chan *ch = goc_chan_make(sizeof(int), 0);
    goc_go(generate, ch);
    int64_t t0 = goc_nanotime();
    for (int i = 0; i < n; i++) {
        int prime;
        goc_chan_recv(ch, &prime);
        printf("%d%c", prime, (i + 1) % 10 == 0 || i + 1 == n ? '\n' : ' ');
        goc_chan *next = goc_chan_make(sizeof(int), 0);
        filter_arg *fa = malloc(sizeof *fa);
        *fa = (filter_arg){ch, next, prime};
        goc_go(filter, fa);
        ch = next;
    }
    fprintf(stderr,
            "%d primes through a chain of %d goroutines on %d "
            "processors in %.1f ms\n",
            n, n + 1, goc_maxprocs(0), (goc_nanotime() - t0) / 1e6);
    /* Returning ends goc_main; the filter chain is discarded with it. */
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    if (n <= 0) {
        fprintf(stderr, "usage: %s [N > 0]\n", argv[0]);
        return 2;
    }
    return goc_main(sieve, &n);
}
