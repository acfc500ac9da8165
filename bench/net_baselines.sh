#!/usr/bin/env bash
# bench/net_baselines.sh - issue 5's network figures that bench/run.sh's
# goc-vs-Go table does not cover:
#
#  1. TCP echo (64-byte messages, 1 and 100 connections, 1 and 2
#     processors): goc (bench_net) next to the raw epoll C baseline
#     (bench_epoll_echo, the physical limit; target goc >= 0.9x of it) and
#     next to Go (gobench; target goc >= 1.5x), in the same run; goc
#     three times: GOC_POLLER=epoll, io_uring (readiness) and
#     io_uring_completion (completion-based reads and writes); the raw
#     server twice too: on epoll, and on io_uring (bench_epoll_echo -io
#     io_uring: a ring per thread, multishot recvs, the floor of a
#     completion-based runtime here); then the system calls per echo
#     message of each goc backend (strace -c -f, SYSCALLS=0 skips it).
#  2. wrk (the Debian package, a client nobody here wrote) against the tiny
#     HTTP responder on goc (examples/http_hello.c) and the same responder
#     in Go (bench/go/httphello), plus Go's net/http for reference.
#
# usage: bench/net_baselines.sh [BUILD_DIR]     (default build/bench)
#
# environment:
#   RUNS=5        runs of each echo program per row; the median counts
#   WRK_RUNS=3    wrk runs per server (alternating); the median counts
#   WRK_ARGS="-t2 -c100 -d5s"
#   PROCS=2       GOCMAXPROCS / GOMAXPROCS of the HTTP servers
# The programs alternate run by run so that all see the same machine load.
set -u

SRC=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build/bench}
RUNS=${RUNS:-5}
WRK_RUNS=${WRK_RUNS:-3}
read -ra WRK_ARGS <<<"${WRK_ARGS:--t2 -c100 -d5s}"
PROCS=${PROCS:-2}
mkdir -p "$BUILD" || exit 1
BUILD=$(cd "$BUILD" && pwd)
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- Build -------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$SRC/.." -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGOC_BENCH=ON \
        >/dev/null || exit 1
fi
for t in bench_net bench_epoll_echo http_hello; do
    cmake --build "$BUILD" --target "$t" >"$TMP/build-$t.log" 2>&1 ||
        { echo "build of $t failed:"; cat "$TMP/build-$t.log"; exit 1; }
done
HTTP_GOC=$BUILD/http_hello
[ -x "$HTTP_GOC" ] || HTTP_GOC=$BUILD/examples/http_hello
GO_OK=0
if command -v go >/dev/null; then
    [ -n "${HOME:-}" ] || export HOME=$BUILD
    export GOFLAGS='' GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local
    export GOCACHE=${GOCACHE:-$BUILD/go-cache}
    if (cd "$SRC/go" && go build -o "$BUILD/gobench" . &&
        go build -o "$BUILD/httphello" ./httphello) >"$TMP/go.log" 2>&1; then
        GO_OK=1
    else
        echo "note: Go programs did not build:"; cat "$TMP/go.log"
    fi
fi

# --- 1. echo ------------------------------------------------------------
# value LINE: the msgs_per_s of a BENCH line.
value() { echo "$1" | tr ' ' '\n' | awk -F= '$1 == "msgs_per_s" { print $2 }'; }
median() { sort -g | awk '{ l[NR] = $0 } END { if (NR) print l[int((NR + 1) / 2)] }'; }

echo "TCP echo, 64-byte messages, msgs/s (median of $RUNS; goc/epoll target"
echo ">= 0.9, goc/Go target >= 1.5; goc on its epoll backend, uring: goc on"
echo "its io_uring readiness backend, cio: io_uring_completion, epoll: the raw"
echo "epoll C server, rawu: the raw C server on a ring per thread, all in the"
echo "same run; cio/rawu: what the runtime keeps of the io_uring floor,"
echo "rawu/Go: the floor's own ratio to Go, the most any runtime's cio/Go"
echo "can be)"
printf '%-18s %5s %10s %10s %10s %10s %10s %10s %9s %7s %11s %9s %10s %7s %8s %7s\n' benchmark procs goc \
    uring cio epoll rawu Go goc/epoll goc/Go uring/epoll cio/epoll rawu/epoll cio/Go cio/rawu rawu/Go
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
for name in tcp_echo_1conn tcp_echo_100conn; do
    for procs in 1 2; do
        : >"$TMP/goc"; : >"$TMP/uring"; : >"$TMP/cio"; : >"$TMP/epoll"; : >"$TMP/go"; : >"$TMP/rawu"
        for ((r = 1; r <= RUNS; r++)); do
            l=$(GOC_POLLER=epoll GOCMAXPROCS=$procs timeout 60 "$BUILD/bench_net" \
                -bench "$name" -procs "$procs" | grep "^BENCH") && value "$l" >>"$TMP/goc"
            l=$(GOC_POLLER=io_uring GOCMAXPROCS=$procs timeout 60 \
                "$BUILD/bench_net" -bench "$name" -procs "$procs" |
                grep "^BENCH") && value "$l" >>"$TMP/uring"
            l=$(GOC_POLLER=io_uring_completion GOCMAXPROCS=$procs timeout 60 \
                "$BUILD/bench_net" -bench "$name" -procs "$procs" |
                grep "^BENCH") && value "$l" >>"$TMP/cio"
            l=$(timeout 60 "$BUILD/bench_epoll_echo" -bench "$name" \
                -procs "$procs" | grep "^BENCH") && value "$l" >>"$TMP/epoll"
            l=$(timeout 60 "$BUILD/bench_epoll_echo" -bench "$name" \
                -procs "$procs" -io io_uring 2>/dev/null | grep "^BENCH") &&
                value "$l" >>"$TMP/rawu"
            if [ $GO_OK = 1 ]; then
                l=$(GOMAXPROCS=$procs timeout 60 "$BUILD/gobench" -bench "$name" \
                    -procs "$procs" | grep "^BENCH") && value "$l" >>"$TMP/go"
            fi
        done
        g=$(median <"$TMP/goc"); u=$(median <"$TMP/uring"); c=$(median <"$TMP/cio")
        e=$(median <"$TMP/epoll"); o=$(median <"$TMP/go"); w=$(median <"$TMP/rawu")
        printf '%-18s %5s %10.0f %10.0f %10.0f %10.0f %10.0f %10s %9s %7s %11s %9s %10s %7s %8s %7s\n' "$name" \
            "$procs" "${g:-0}" "${u:-0}" "${c:-0}" "${e:-0}" "${w:-0}" "${o:--}" "$(ratio "$g" "$e")" \
            "$(ratio "$g" "$o")" "$(ratio "$u" "$e")" "$(ratio "$c" "$e")" "$(ratio "$w" "$e")" \
            "$(ratio "$c" "$o")" "$(ratio "$c" "$w")" "$(ratio "$w" "$o")"
        echo "    runs: goc $(tr '\n' ' ' <"$TMP/goc")| uring $(tr '\n' ' ' <"$TMP/uring")| cio $(tr '\n' ' ' <"$TMP/cio")| epoll $(tr '\n' ' ' <"$TMP/epoll")| rawu $(tr '\n' ' ' <"$TMP/rawu")| Go $(tr '\n' ' ' <"$TMP/go")"
    done
done

# System calls per echo message: strace -c -f over a 1 s run, all threads
# (strace slows the run, so this counts calls, not speed).
if [ "${SYSCALLS:-1}" != 0 ] && command -v strace >/dev/null; then
    echo
    echo "system calls per echo message (strace -c -f, 1 s runs, 2 processors)"
    printf '%-18s %8s %8s %8s\n' benchmark epoll io_uring cio
    for name in tcp_echo_1conn tcp_echo_100conn; do
        row=""
        for m in epoll io_uring io_uring_completion; do
            l=$(GOC_POLLER=$m GOCMAXPROCS=2 strace -c -f -o "$TMP/strace" \
                "$BUILD/bench_net" -bench "$name" -procs 2 -d 1000 | grep "^BENCH")
            calls=$(awk '$NF == "total" { print ($(NF-1) ~ /^[0-9]+$/ && NF == 6) ? $(NF-2) : $(NF-1) }' "$TMP/strace")
            row="$row $(awk -v c="${calls:-0}" -v r="$(value "$l")" 'BEGIN { if (r > 0) printf "%8.2f", c / r; else printf "%8s", "-" }')"
        done
        printf '%-18s%s\n' "$name" "$row"
    done
fi

# --- 2. wrk -------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    echo "wrk not found (apt-get install -y wrk): HTTP part skipped"
    exit 0
fi
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}
# serve CMD...: start a server on a free port (PORT, SERVER_PID) and wait
# until it accepts connections.
serve() {
    PORT=$(free_port)
    "$@" "127.0.0.1:$PORT" >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    PORT=
    return 1
}
stop() {
    kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}
echo
echo "wrk ${WRK_ARGS[*]} http://127.0.0.1:PORT/ (requests/s, median of" \
    "$WRK_RUNS; servers at $PROCS processors)"
servers=("goc_http_hello" "go_httphello" "go_net_http")
for s in "${servers[@]}"; do : >"$TMP/wrk-$s"; done
for ((r = 1; r <= WRK_RUNS; r++)); do
    for s in "${servers[@]}"; do
        case $s in
        goc_http_hello) GOCMAXPROCS=$PROCS serve "$HTTP_GOC" ;;
        go_httphello) [ $GO_OK = 1 ] || continue
            GOMAXPROCS=$PROCS serve "$BUILD/httphello" ;;
        go_net_http) [ $GO_OK = 1 ] || continue
            GOMAXPROCS=$PROCS serve "$BUILD/httphello" -std ;;
        esac
        if [ -z "$PORT" ]; then
            echo "$s did not start:"; cat "$TMP/server.log"; stop; continue
        fi
        wrk "${WRK_ARGS[@]}" "http://127.0.0.1:$PORT/" >"$TMP/wrk.out" 2>&1
        awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.out" >>"$TMP/wrk-$s"
        grep -q "Non-2xx\|Socket errors" "$TMP/wrk.out" &&
            echo "    $s run $r: $(grep "Non-2xx\|Socket errors" "$TMP/wrk.out")"
        stop
    done
done
for s in "${servers[@]}"; do
    printf '%-16s %12s    runs: %s\n' "$s" "$(median <"$TMP/wrk-$s")" \
        "$(tr '\n' ' ' <"$TMP/wrk-$s")"
done
