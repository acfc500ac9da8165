package main

// Channel and select benchmarks (issue 3). Twin: bench/c/bench_chan.c.

import "time"

// pingpong: unbuffered round trip between the main goroutine and a partner
// (ping <- i; <-pong). ns_per_op is per round trip.
func benchPingPong() {
	iters := n(500000)
	ping, pong := make(chan int), make(chan int)
	go func() {
		for {
			v := <-ping
			if v < 0 {
				return
			}
			pong <- v
		}
	}()
	for i := 0; i < 1000; i++ { // warm up
		ping <- i
		<-pong
	}
	t0 := nanotime()
	for i := 0; i < iters; i++ {
		ping <- i
		<-pong
	}
	el := nanotime() - t0
	ping <- -1
	report("pingpong", "ns_per_op", float64(el)/float64(iters))
}

// buffered: one producer sends n ints into a channel of capacity 128 and
// closes it; the main goroutine receives until closed. ns_per_op is per
// element. cpu_blocked_pct: the process's CPU use while the main goroutine
// waits 300 ms on an empty buffered channel (should be 0).
func benchBuffered() {
	iters := n(5000000)
	c := make(chan int, 128)
	t0 := nanotime()
	go func() {
		for i := 0; i < iters; i++ {
			c <- i
		}
		close(c)
	}()
	sum := 0
	for v := range c {
		sum += v
	}
	el := nanotime() - t0
	if sum != iters*(iters-1)/2 {
		panic("buffered: wrong sum")
	}

	idle := make(chan int, 128)
	go func() {
		time.Sleep(300 * time.Millisecond)
		idle <- 1
	}()
	c0, w0 := cpuNs(), nanotime()
	<-idle
	c1, w1 := cpuNs(), nanotime()
	report("buffered", "ns_per_op", float64(el)/float64(iters),
		"cpu_blocked_pct", 100*float64(c1-c0)/float64(w1-w0))
}

// select_ready2: a blocking select over two receive cases that are both
// ready every time (two channels prefilled with n values each). ns_per_op
// is per select; pct_first is how often the first case won (fair: 50).
func benchSelectReady2() {
	iters := n(1000000)
	c1, c2 := make(chan int, iters), make(chan int, iters)
	for i := 0; i < iters; i++ {
		c1 <- i
		c2 <- i
	}
	first := 0
	t0 := nanotime()
	for i := 0; i < iters; i++ {
		select {
		case <-c1:
			first++
		case <-c2:
		}
	}
	el := nanotime() - t0
	report("select_ready2", "ns_per_op", float64(el)/float64(iters),
		"pct_first", 100*float64(first)/float64(iters))
}

// select_default: a select with one receive case on an empty channel and
// a default. ns_per_op is per select.
func benchSelectDefault() {
	iters := n(20000000)
	c := make(chan int)
	miss := 0
	t0 := nanotime()
	for i := 0; i < iters; i++ {
		select {
		case <-c:
		default:
			miss++
		}
	}
	el := nanotime() - t0
	if miss != iters {
		panic("select_default: a receive on an empty channel succeeded")
	}
	report("select_default", "ns_per_op", float64(el)/float64(iters))
}
