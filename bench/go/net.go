package main

// TCP echo benchmark (issue 5) and pipe throughput (issue 24). Twin:
// bench/c/bench_net.c.

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

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
	addr := ln.Addr().String()
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
