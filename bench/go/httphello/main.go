// Command httphello is the Go twin of examples/http_hello.c for the wrk
// comparison (bench/net_baselines.sh): the same tiny HTTP/1.1 responder,
// "Hello, World!" for every request, keep-alive and pipelining, one
// goroutine per connection, written on package net exactly as the C one
// is written on goc/net.h. With -std it serves the same answer through
// net/http instead, for reference.
//
// Usage: httphello [-std] ADDRESS     e.g. httphello 127.0.0.1:8081
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

const (
	respKeep  = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
	respClose = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!"
	bufSize   = 16384
	idle      = 30 * time.Second
)

// header returns the value of header name in the block h, or nil.
func header(h []byte, name string) []byte {
	for len(h) > 0 {
		eol := bytes.IndexByte(h, '\n')
		line := h
		if eol >= 0 {
			line, h = h[:eol], h[eol+1:]
		} else {
			h = nil
		}
		if len(line) > len(name) && line[len(name)] == ':' &&
			bytes.EqualFold(line[:len(name)], []byte(name)) {
			return bytes.TrimSpace(line[len(name)+1:])
		}
	}
	return nil
}

func hasToken(v []byte, tok string) bool {
	return bytes.Contains(bytes.ToLower(v), []byte(tok))
}

func serve(c net.Conn) {
	defer c.Close()
	in := make([]byte, bufSize)
	out := make([]byte, 0, 2*bufSize)
	have, skip := 0, 0
	more := false
	for {
		if !more {
			if have == bufSize {
				return
			}
			c.SetReadDeadline(time.Now().Add(idle))
			n, err := c.Read(in[have:])
			if n <= 0 || err != nil && n == 0 {
				return
			}
			have += n
		}
		pos, keep := 0, true
		out = out[:0]
		more = false
		for {
			if skip > 0 {
				k := skip
				if k > have-pos {
					k = have - pos
				}
				pos += k
				skip -= k
				if skip > 0 {
					break
				}
			}
			e := bytes.Index(in[pos:have], []byte("\r\n\r\n"))
			if e < 0 {
				break
			}
			if len(out)+len(respClose) > 2*bufSize {
				more = true
				break
			}
			req := in[pos : pos+e+4]
			le := bytes.IndexByte(req, '\n')
			http10 := le >= 9 && string(req[le-9:le-1]) == "HTTP/1.0"
			hdrs := req[le+1 : e]
			conn := header(hdrs, "Connection")
			if http10 {
				keep = conn != nil && hasToken(conn, "keep-alive")
			} else {
				keep = !(conn != nil && hasToken(conn, "close"))
			}
			if cl := header(hdrs, "Content-Length"); cl != nil {
				skip, _ = strconv.Atoi(string(cl))
			}
			if keep {
				out = append(out, respKeep...)
			} else {
				out = append(out, respClose...)
			}
			pos += e + 4
			if !keep {
				break
			}
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		if !keep {
			return
		}
		copy(in, in[pos:have])
		have -= pos
	}
}

func main() {
	std := flag.Bool("std", false, "serve through net/http instead")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: httphello [-std] ADDRESS")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Printf("httphello on http://%s/\n", ln.Addr())
	if *std {
		hello := []byte("Hello, World!")
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(hello)
		}))
		return
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "accept:", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}
