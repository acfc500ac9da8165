package main

// Timer benchmark (issue 3). Twin: bench/c/bench_time.c.

import (
	"sort"
	"time"
)

// timerDur is the deadline of timer i: spread over 1..100 ms in a
// scrambled order (the same sequence as bench/c/bench_time.c).
func timerDur(i int) time.Duration {
	h := uint32(i)*2654435761 + 12345
	h ^= h >> 15
	return time.Millisecond + time.Duration(h%99000)*time.Microsecond
}

// timers_100k: the main goroutine creates n timers (default 100,000) with
// deadlines spread over 1..100 ms, then receives from each one's channel.
// Lateness is the fire time the timer delivered minus its deadline; early
// counts timers that fired before it. total_ms runs from the first
// creation to the last receive.
func benchTimers100k() {
	count := n(100000)
	timers := make([]*time.Timer, count)
	deadline := make([]time.Time, count)
	t0 := nanotime()
	for i := 0; i < count; i++ {
		d := timerDur(i)
		deadline[i] = time.Now().Add(d)
		timers[i] = time.NewTimer(d)
	}
	late := make([]int64, count)
	early := 0
	for i := 0; i < count; i++ {
		fired := <-timers[i].C
		late[i] = int64(fired.Sub(deadline[i]))
		if late[i] < 0 {
			early++
		}
	}
	total := nanotime() - t0
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	report("timers_100k", "total_ms", ms(total),
		"p50_late_ms", ms(percentile(late, 50)),
		"p99_late_ms", ms(percentile(late, 99)),
		"max_late_ms", ms(late[count-1]), "early", early)
}
