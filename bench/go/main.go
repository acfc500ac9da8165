// Command gocbench holds the Go twins of goc's benchmarks (bench/c/).
//
// Usage: gocbench -bench NAME [-procs N] [-n N] [-d MS]
//
// Each benchmark prints one line:
//
//	BENCH <name> procs=<N> <primary>=<value> [<key>=<value> ...]
//
// The first key after procs is the figure that bench/run.sh compares with
// goc's; the others are secondary checks (lateness, CPU while parked...).
// The C programs in bench/c/ print exactly the same keys.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	flagN    = flag.Int("n", 0, "iterations (0: the benchmark's default)")
	flagD    = flag.Int("d", 0, "duration in ms for timed benchmarks (0: default)")
	flagConn = flag.Int("conns", 0, "connections for tcp_echo (0: from the name)")
)

var benches = map[string]func(){
	// runtime (issue 2)
	"spawn_join": benchSpawnJoin,
	"yield_ping": benchYieldPing,
	"park_mem":   benchParkMem,
	"sleep_100k": benchSleep100k,
	"spawn_cold": benchSpawnCold,
	// channels and select (issue 3)
	"pingpong":       benchPingPong,
	"buffered":       benchBuffered,
	"select_ready2":  benchSelectReady2,
	"select_default": benchSelectDefault,
	// time (issue 3)
	"timers_100k": benchTimers100k,
	// sync (issue 4)
	"mutex_uncontended": benchMutexUncontended,
	"mutex_contended":   benchMutexContended,
	"rwmutex_read":      benchRWMutexRead,
	"waitgroup_fanout":  benchWaitGroupFanout,
	"pool_getput":       benchPoolGetPut,
	// net (issue 5)
	"tcp_echo_1conn":   func() { benchTCPEcho("tcp_echo_1conn", 1) },
	"tcp_echo_100conn": func() { benchTCPEcho("tcp_echo_100conn", 100) },
	"tcp_rtt_idle":     benchTCPRttIdle,
	"pipe_64b":         func() { benchPipe("pipe_64b", 64) },
	"pipe_64k":         func() { benchPipe("pipe_64k", 65536) },
	// concurrent map (issue 21)
	"cmap_w1_str16": func() { benchCmap("cmap_w1_str16", 1, true) },
	"cmap_w2_str16": func() { benchCmap("cmap_w2_str16", 2, true) },
	"cmap_w3_str16": func() { benchCmap("cmap_w3_str16", 3, true) },
	"cmap_w4_str16": func() { benchCmap("cmap_w4_str16", 4, true) },
	"cmap_w1_u64":   func() { benchCmap("cmap_w1_u64", 1, false) },
	"cmap_w2_u64":   func() { benchCmap("cmap_w2_u64", 2, false) },
	"cmap_w3_u64":   func() { benchCmap("cmap_w3_u64", 3, false) },
	"cmap_w4_u64":   func() { benchCmap("cmap_w4_u64", 4, false) },
}

func main() {
	name := flag.String("bench", "", "benchmark to run (-bench list lists them)")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: leave as the environment says)")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *name == "list" {
		var names []string
		for k := range benches {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Println(strings.Join(names, "\n"))
		return
	}
	fn, ok := benches[*name]
	if !ok {
		fmt.Fprintf(os.Stderr,
			"gocbench: unknown benchmark %q (try -bench list)\n", *name)
		os.Exit(2)
	}
	fn()
}

// n returns -n if given, else def.
func n(def int) int {
	if *flagN > 0 {
		return *flagN
	}
	return def
}

// durMs returns -d if given, else def, in milliseconds.
func durMs(def int) int {
	if *flagD > 0 {
		return *flagD
	}
	return def
}

var epoch = time.Now()

// nanotime is a monotonic clock in ns, as goc_nanotime.
func nanotime() int64 { return int64(time.Since(epoch)) }

// report prints the BENCH line: kv alternates keys and values.
func report(name string, kv ...interface{}) {
	var b strings.Builder
	fmt.Fprintf(&b, "BENCH %s procs=%d", name, runtime.GOMAXPROCS(0))
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case float64:
			fmt.Fprintf(&b, " %s=%s", kv[i], strconv.FormatFloat(v, 'f', 3, 64))
		default:
			fmt.Fprintf(&b, " %s=%v", kv[i], v)
		}
	}
	fmt.Println(b.String())
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return -1
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// cpuNs is the process's user+system CPU time in ns.
func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// minflt is the process's count of minor page faults so far.
func minflt() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Minflt
}

// percentile of sorted xs, p in [0,100].
func percentile(xs []int64, p float64) int64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(float64(len(xs)) * p / 100)
	if i > len(xs)-1 {
		i = len(xs) - 1
	}
	return xs[i]
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }
