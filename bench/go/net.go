package main

// TCP echo benchmark (issue 5) and pipe throughput (issue 24). Twin:
// bench/c/bench_net.c.

import (
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// echoServer listens on 127.0.0.1 and echoes every connection it
// accepts (reads of up to 4096 bytes, each written back) until the
// listener is closed.
func echoServer() (net.Listener, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					k, err := c.Read(buf)
					if k > 0 {
						if _, err := c.Write(buf[:k]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}(c)
		}
	}()
	return ln, ln.Addr().String()
}

// tcp_echo_<c>conn: an echo server and c clients in one process over
// 127.0.0.1. Each client writes a 64-byte message and reads the 64-byte
// echo, for -d ms (default 500). msgs_per_s is completed round trips per
// second over all clients. Every connection has a deadline 2 s past the
// end, so nothing can hang.
func benchTCPEcho(name string, conns int) {
	if *flagConn > 0 {
		conns = *flagConn
	}
	dur := time.Duration(durMs(500)) * time.Millisecond
	ln, addr := echoServer()
	var err error
	cl := make([]net.Conn, conns)
	for i := range cl {
		if cl[i], err = net.Dial("tcp", addr); err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(1)
		}
	}
	var msgs, errs int64
	var wg sync.WaitGroup
	start := nanotime()
	end := start + int64(dur)
	for _, c := range cl {
		c.SetDeadline(time.Now().Add(dur + 2*time.Second))
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			var out, in [64]byte
			var k int64
			for nanotime() < end {
				if _, err := c.Write(out[:]); err != nil {
					atomic.AddInt64(&errs, 1)
					break
				}
				if _, err := io.ReadFull(c, in[:]); err != nil {
					atomic.AddInt64(&errs, 1)
					break
				}
				k++
			}
			atomic.AddInt64(&msgs, k)
			c.Close()
		}(c)
	}
	wg.Wait()
	el := nanotime() - start
	ln.Close()
	report(name, "msgs_per_s", float64(msgs)*1e9/float64(el),
		"conns", conns, "errors", errs)
}

// tcp_rtt_idle: the round trip of one connection under light traffic
// while 200 other connections sit idle, their server goroutines parked
// on reads (a server with many idle keep-alive clients). -n round trips
// (default 300), each 1 ms after the last, 64 bytes each way. ns_per_op
// is the median round trip, p99_us its 99th percentile.
func benchTCPRttIdle() {
	const idleConns = 200
	rounds := n(300)
	ln, addr := echoServer()
	var err error
	idle := make([]net.Conn, idleConns)
	for i := range idle {
		if idle[i], err = net.Dial("tcp", addr); err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(1)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	c.SetDeadline(time.Now().Add(time.Duration(rounds+10000) * time.Millisecond))
	time.Sleep(50 * time.Millisecond) // every server goroutine parked
	rt := make([]int64, rounds)
	var buf [64]byte
	errs := 0
	for i := 0; i < rounds; i++ {
		time.Sleep(time.Millisecond)
		t0 := nanotime()
		if _, err := c.Write(buf[:]); err != nil {
			errs++
			break
		}
		if _, err := io.ReadFull(c, buf[:]); err != nil {
			errs++
			break
		}
		rt[i] = nanotime() - t0
	}
	sort.Slice(rt, func(a, b int) bool { return rt[a] < rt[b] })
	report("tcp_rtt_idle", "ns_per_op", float64(rt[rounds/2]),
		"p99_us", float64(rt[rounds*99/100])/1e3, "idle", idleConns,
		"errors", errs)
	for _, k := range idle {
		k.Close()
	}
	c.Close()
	ln.Close()
}

// pipe_<size>: one os.Pipe, a writer goroutine writing <size>-byte
// messages for -d ms (default 500), then closing, and a reader goroutine
// reading at most <size> bytes a call until end of file. msgs_per_s is
// bytes read / size per second, until the reader saw end of file.
func benchPipe(name string, size int) {
	dur := time.Duration(durMs(500)) * time.Millisecond
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipe:", err)
		os.Exit(1)
	}
	var bytes, errs int64
	var doneAt int64
	var wg sync.WaitGroup
	start := nanotime()
	end := start + int64(dur)
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, size)
		var total int64
		for {
			k, err := r.Read(buf)
			total += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				atomic.AddInt64(&errs, 1)
				break
			}
		}
		doneAt = nanotime()
		bytes = total
		r.Close()
	}()
	go func() {
		defer wg.Done()
		msg := make([]byte, size)
		for nanotime() < end {
			if _, err := w.Write(msg); err != nil {
				atomic.AddInt64(&errs, 1)
				break
			}
		}
		w.Close()
	}()
	wg.Wait()
	report(name, "msgs_per_s", float64(bytes)/float64(size)*1e9/
		float64(doneAt-start), "size", size, "errors", errs)
}
