package main

// sync benchmarks (issue 4). Twin: bench/c/bench_sync.c.

import (
	"runtime"
	"sync"
)

var counter int64 // protected by the mutex under test

// mutex_uncontended: Lock+Unlock by one goroutine. ns_per_op per pair.
func benchMutexUncontended() {
	iters := n(20000000)
	var mu sync.Mutex
	t0 := nanotime()
	for i := 0; i < iters; i++ {
		mu.Lock()
		counter++
		mu.Unlock()
	}
	el := nanotime() - t0
	report("mutex_uncontended", "ns_per_op", float64(el)/float64(iters))
}

// cpuWindow runs fn and returns its wall time and the process's CPU use
// over it in percent of one CPU.
func cpuWindow(fn func()) (int64, float64) {
	c0, t0 := cpuNs(), nanotime()
	fn()
	c1, t1 := cpuNs(), nanotime()
	return t1 - t0, 100 * float64(c1-c0) / float64(t1-t0)
}

// mutex_contended: 4 goroutines each do n/4 Lock; counter++; Unlock.
// ns_per_op is wall time per Lock+Unlock pair over all of them; cpu_pct
// tells parking from spinning.
func benchMutexContended() {
	const workers = 4
	iters := n(4000000) / workers
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter = 0
	el, cpu := cpuWindow(func() {
		wg.Add(workers)
		for w := 0; w < workers; w++ {
			go func() {
				for i := 0; i < iters; i++ {
					mu.Lock()
					counter++
					mu.Unlock()
				}
				wg.Done()
			}()
		}
		wg.Wait()
	})
	if counter != int64(workers*iters) {
		panic("mutex_contended: lost update")
	}
	report("mutex_contended", "ns_per_op", float64(el)/float64(workers*iters),
		"cpu_pct", cpu)
}

// rwmutex_read: 4 goroutines each do n/4 RLock+RUnlock. ns_per_op is wall
// time per pair over all of them.
func benchRWMutexRead() {
	const workers = 4
	iters := n(8000000) / workers
	var mu sync.RWMutex
	var wg sync.WaitGroup
	var sink [workers * 16]int64 // each reader writes its own cache line
	el, cpu := cpuWindow(func() {
		wg.Add(workers)
		for w := 0; w < workers; w++ {
			go func(w int) {
				for i := 0; i < iters; i++ {
					mu.RLock()
					sink[w*16] += counter
					mu.RUnlock()
				}
				wg.Done()
			}(w)
		}
		wg.Wait()
	})
	report("rwmutex_read", "ns_per_op", float64(el)/float64(workers*iters),
		"cpu_pct", cpu)
}

// waitgroup_fanout: rounds of "for 1000 { wg.Add(1); go wg.Done() };
// wg.Wait()". ns_per_op is per round (one fan-out of 1000 goroutines).
func benchWaitGroupFanout() {
	const fan = 1000
	rounds := n(500)
	var wg sync.WaitGroup
	done := func() { wg.Done() }
	round := func() {
		for i := 0; i < fan; i++ {
			wg.Add(1)
			go done()
		}
		wg.Wait()
	}
	for i := 0; i < 5; i++ {
		round()
	}
	t0 := nanotime()
	for r := 0; r < rounds; r++ {
		round()
	}
	el := nanotime() - t0
	report("waitgroup_fanout", "ns_per_op", float64(el)/float64(rounds),
		"ns_per_g", float64(el)/float64(rounds*fan))
}

type poolObj struct{ buf [64]byte }

// pool_getput: Get then Put of a 64-byte object, by GOMAXPROCS goroutines
// at once (one per processor). ns_per_op is wall time per Get+Put pair.
func benchPoolGetPut() {
	workers := runtime.GOMAXPROCS(0)
	iters := n(20000000) / workers
	pool := sync.Pool{New: func() interface{} { return new(poolObj) }}
	var wg sync.WaitGroup
	el, _ := cpuWindow(func() {
		wg.Add(workers)
		for w := 0; w < workers; w++ {
			go func() {
				for i := 0; i < iters; i++ {
					o := pool.Get().(*poolObj)
					o.buf[0]++
					pool.Put(o)
				}
				wg.Done()
			}()
		}
		wg.Wait()
	})
	report("pool_getput", "ns_per_op", float64(el)/float64(workers*iters))
}
