package main

// Concurrent map benchmarks (issue 21): sync.Map, the twin of
// bench/c/bench_cmap.c with the same key sets and op streams.
//
// Keys: str16 is the 16 hex characters of splitmix64(i), u64 is
// splitmix64(i), i < 1M. Thread t's stream: xorshift64 seeded with
// (t+1)*0x9E3779B97F4A7C15; each step's key index is x % 1M, its choice
// (x>>40) % 100. w1: 100 % Load on 1M prefilled keys; w2: 90 % Load,
// 10 % Store; w3: 50 % Store, 50 % Delete over 1M keys prefilled with the
// even ones; w4: fill 0 -> 1M, goroutine t storing keys t, t+T, ...
// T = GOMAXPROCS goroutines, -n operations in all (default 2M). Rates are
// per second of CPU time per goroutine (see bench_cmap.c), and of wall time.

import (
	"fmt"
	"os"
	"runtime"
	"sync"
)

const cmapKeys = 1000000

func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

func benchCmap(name string, w int, str bool) {
	const hex = "0123456789abcdef"
	keys64 := make([]uint64, cmapKeys)
	keys16 := make([]string, cmapKeys)
	vals := make([]int, cmapKeys)
	for i := range keys64 {
		k := splitmix64(uint64(i))
		keys64[i] = k
		var b [16]byte
		for j := 0; j < 16; j++ {
			b[j] = hex[(k>>(4*(15-uint(j))))&15]
		}
		keys16[i] = string(b[:])
	}
	var m sync.Map
	key := func(i int) interface{} {
		if str {
			return keys16[i]
		}
		return keys64[i]
	}
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	if w != 4 {
		for i := 0; i < cmapKeys; i++ {
			if w != 3 || i%2 == 0 {
				m.Store(key(i), &vals[i])
			}
		}
	}
	// Setup, untimed: a Range promotes the stores to sync.Map's read-only
	// map, as a while of Loads would (else the timed Loads pay for it).
	m.Range(func(k, v interface{}) bool { return false })
	entries := cmapKeys
	if w == 3 {
		entries = cmapKeys / 2
	}
	bpe := func() float64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(int64(ms.HeapInuse)-int64(ms0.HeapInuse)) /
			float64(entries)
	}
	bytes := 0.0
	if w != 4 {
		bytes = bpe()
	}
	threads := runtime.GOMAXPROCS(0)
	ops := n(2000000) / threads
	var wg sync.WaitGroup
	var misses int64
	var mu sync.Mutex
	t0, c0 := nanotime(), cpuNs()
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			if w == 4 {
				for i := t; i < cmapKeys; i += threads {
					m.Store(key(i), &vals[i])
				}
				return
			}
			x := 0x9E3779B97F4A7C15 * uint64(t+1)
			var miss int64
			for n := 0; n < ops; n++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				i := int(x % cmapKeys)
				sel := (x >> 40) % 100
				switch w {
				case 1:
					if v, ok := m.Load(key(i)); !ok || v.(*int) != &vals[i] {
						miss++
					}
				case 2:
					if sel < 90 {
						m.Load(key(i))
					} else {
						m.Store(key(i), &vals[i])
					}
				default:
					if sel < 50 {
						m.Store(key(i), &vals[i])
					} else {
						m.Delete(key(i))
					}
				}
			}
			mu.Lock()
			misses += miss
			mu.Unlock()
		}(t)
	}
	wg.Wait()
	el, cpu := nanotime()-t0, cpuNs()-c0
	if misses != 0 {
		fmt.Fprintf(os.Stderr, "%s: %d loads missed\n", name, misses)
		os.Exit(1)
	}
	total := float64(ops * threads)
	if w == 4 {
		total = cmapKeys
		bytes = bpe()
	}
	// mops: per second of CPU time per goroutine (the process's CPU time,
	// GC included, over the window / T), as bench_cmap.c; wall_mops: per
	// second of wall time.
	report(name, "mops", total/(float64(cpu)/float64(threads)/1e9)/1e6,
		"bytes_per_entry", bytes, "wall_mops", total/(float64(el)/1e9)/1e6)
}
