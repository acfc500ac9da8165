package main

// Runtime benchmarks (issue 2). Twin: bench/c/bench_runtime.c.

import (
	"runtime"
	"sort"
	"sync"
	"time"
)

// spawn_join: start goroutines in batches of 1000 (wg.Add(1000), 1000 go
// statements, wg.Wait()). ns_per_op is per goroutine started and joined.
func benchSpawnJoin() {
	const batch = 1000
	total := n(1000000)
	var wg sync.WaitGroup
	done := func() { wg.Done() }
	round := func() {
		wg.Add(batch)
		for i := 0; i < batch; i++ {
			go done()
		}
		wg.Wait()
	}
	for i := 0; i < 10; i++ { // warm up: stacks, caches
		round()
	}
	rounds := (total + batch - 1) / batch
	f0 := minflt()
	t0 := nanotime()
	for r := 0; r < rounds; r++ {
		round()
	}
	el := nanotime() - t0
	f1 := minflt()
	report("spawn_join", "ns_per_op", float64(el)/float64(rounds*batch),
		"goroutines_after", runtime.NumGoroutine(),
		"faults_per_g", float64(f1-f0)/float64(rounds*batch))
}

// spawn_cold: spawn_join in a fresh process, without the warm-up: n
// goroutines (default 10,000) in batches of 1000. faults_per_g: minor
// page faults of the process over the timed part, per goroutine; cpu_ms:
// the process's CPU time over it (all threads).
func benchSpawnCold() {
	const batch = 1000
	total := n(10000)
	var wg sync.WaitGroup
	done := func() { wg.Done() }
	rounds := (total + batch - 1) / batch
	f0, c0 := minflt(), cpuNs()
	t0 := nanotime()
	for r := 0; r < rounds; r++ {
		wg.Add(batch)
		for i := 0; i < batch; i++ {
			go done()
		}
		wg.Wait()
	}
	el := nanotime() - t0
	c1, f1 := cpuNs(), minflt()
	report("spawn_cold", "ns_per_op", float64(el)/float64(rounds*batch),
		"faults_per_g", float64(f1-f0)/float64(rounds*batch),
		"cpu_ms", ms(c1-c0))
}

// yield_ping: two goroutines that each call runtime.Gosched n times.
// ns_per_op is per Gosched call (each one switches to the other goroutine
// at one processor).
func benchYieldPing() {
	iters := n(1000000)
	var wg sync.WaitGroup
	wg.Add(1)
	t0 := nanotime()
	go func() {
		for i := 0; i < iters; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}()
	for i := 0; i < iters; i++ {
		runtime.Gosched()
	}
	wg.Wait()
	el := nanotime() - t0
	report("yield_ping", "ns_per_op", float64(el)/float64(2*iters))
}

// park_mem: n goroutines (default 1,000,000) parked at once on a
// WaitGroup. bytes_per_g is the growth of RSS (from /proc/self/statm)
// divided by n; cpu_pct is the process's CPU use over 500 ms while all of
// them are parked (should be 0). Then all are released and joined.
func benchParkMem() {
	count := n(1000000)
	var started, gate, finished sync.WaitGroup
	gate.Add(1)
	started.Add(count)
	finished.Add(count)
	g := func() {
		started.Done()
		gate.Wait()
		finished.Done()
	}
	rss0 := rssBytes()
	f0 := minflt()
	t0 := nanotime()
	for i := 0; i < count; i++ {
		go g()
	}
	started.Wait()
	spawn := nanotime() - t0
	f1 := minflt()
	rss1 := rssBytes()
	c0, w0 := cpuNs(), nanotime()
	time.Sleep(500 * time.Millisecond)
	c1, w1 := cpuNs(), nanotime()
	t1 := nanotime()
	gate.Done()
	finished.Wait()
	release := nanotime() - t1
	report("park_mem", "bytes_per_g", float64(rss1-rss0)/float64(count),
		"cpu_pct", 100*float64(c1-c0)/float64(w1-w0),
		"spawn_ms", ms(spawn), "release_ms", ms(release),
		"rss_mb", float64(rss1)/(1<<20),
		"spawn_ns_per_g", float64(spawn)/float64(count),
		"faults_per_g", float64(f1-f0)/float64(count))
}

// sleep_100k: n goroutines (default 100,000) each sleep 100 ms.
// total_ms is from the first spawn to the last join; lateness is measured
// by each goroutine around its own sleep; early counts sleeps that
// returned before 100 ms.
func benchSleep100k() {
	count := n(100000)
	const d = 100 * time.Millisecond
	late := make([]int64, count)
	var wg sync.WaitGroup
	wg.Add(count)
	f0, c0 := minflt(), cpuNs()
	t0 := nanotime()
	for i := 0; i < count; i++ {
		go func(i int) {
			s := nanotime()
			time.Sleep(d)
			late[i] = nanotime() - s - int64(d)
			wg.Done()
		}(i)
	}
	wg.Wait()
	total := nanotime() - t0
	c1, f1 := cpuNs(), minflt()
	early := 0
	for _, l := range late {
		if l < 0 {
			early++
		}
	}
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	report("sleep_100k", "total_ms", ms(total),
		"p50_late_ms", ms(percentile(late, 50)),
		"p99_late_ms", ms(percentile(late, 99)),
		"max_late_ms", ms(late[count-1]), "early", early,
		"cpu_ms", ms(c1-c0), "faults_per_g", float64(f1-f0)/float64(count))
}
