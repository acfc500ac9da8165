#!/usr/bin/env bash
# bench/loadgen/run.sh - goc-loadgen against wrk, ab -k and hey, side by
# side, on Debian's nginx started here (issue 22's measurements).
#
# usage: bench/loadgen/run.sh [BUILD_DIR]
#
#   BUILD_DIR  a build tree with tools/goc-loadgen (default build/bench).
#
# environment:
#   DURATION=10   seconds per run
#   CONNS=50      connections
#   REPS=3        repetitions, interleaved (tool after tool, then again);
#                 the median counts
#   PIPE=16       pipelining depth of the pipelined rows
#   STRACE_S=5    seconds of each strace -c -f run (syscalls per request)
#   MODES="pinned quiet open stall"   which parts to run
#   PINNED_TOOLS="wrk goc ab hey wrk-pipe goc-pipe"  the pinned table's rows
#   QUIET_TOOLS="wrk goc goc-old ab hey"             the quiet table's rows
#                 (wrk stays in both: the ratios are to it)
#
# nginx: 1 worker, access_log off, a 612-byte file, keep-alive unlimited,
# sendfile off, tcp_nopush off, on 127.0.0.1 with its own configuration in
# a temporary directory.
#
# pinned  the client and nginx's worker on one CPU (taskset): req/s then
#         rises as the client's CPU per request falls - the discriminating
#         mode. The client's CPU per request (user + sys, from
#         /usr/bin/time) and its peak RSS are printed too, and syscalls
#         per request (strace -c -f, a separate short run) where strace is.
# quiet   unpinned: nginx's one worker is the bottleneck (server-bound).
#         goc-old is goc-loadgen with a processor per CPU and no idle
#         spin (its defaults before it shared the host with its target);
#         nginx's worker's CPU and run-queue wait per request are printed
#         for every row (/proc/PID/schedstat): they hold on a loaded
#         machine where req/s does not.
# open    goc-loadgen's open model (-r) at 1k, 10k and 0.8x the pinned
#         maximum: achieved / asked, latency from the due time.
# stall   2,000 req/s for 30 s on -c CONNS connections at most (calls due
#         while all are busy wait in line, as wrk2's); nginx's worker
#         SIGSTOPped for 1 s at t = 20 s: p99 and p99.9 from the due time
#         (a 1 s stall at 2k/s is 2,000 requests late by 1 s down to 0:
#         p99 ~ 0.7 s and p99.9 ~ 0.97 s, plus nginx's catching up, if the
#         generator hides nothing), every issued request accounted for.
#
# Speed is informative only: nothing here fails on a figure. On a machine
# shared with other work the figures move; the interleaving and the
# medians are there for that, but say so when you quote them.
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build/bench}
GOC=$BUILD/tools/goc-loadgen
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
REPS=${REPS:-3}
PIPE=${PIPE:-16}
STRACE_S=${STRACE_S:-5}
MODES=${MODES:-pinned quiet open stall}

if [ ! -x "$GOC" ]; then
    echo "bench/loadgen: $GOC is missing: build the tools first" >&2
    exit 1
fi
for t in nginx wrk ab hey taskset; do
    command -v "$t" >/dev/null ||
        echo "bench/loadgen: $t is missing (tools/install-deps.sh bench): its rows are skipped" >&2
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "bench/loadgen: nginx is missing" >&2; exit 1; }

DIR=$(mktemp -d /tmp/goc-bench-nginx-XXXXXX)
chmod 755 "$DIR"
mkdir -p "$DIR/html" "$DIR/tmp"
head -c 612 /dev/zero | tr '\0' 'x' >"$DIR/html/index.html"
chmod 644 "$DIR/html/index.html"
PORT=$((20000 + $$ % 20000))
cat >"$DIR/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile off;
    tcp_nopush off;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    client_body_temp_path $DIR/tmp;
    proxy_temp_path $DIR/tmp;
    fastcgi_temp_path $DIR/tmp;
    uwsgi_temp_path $DIR/tmp;
    scgi_temp_path $DIR/tmp;
    server { listen 127.0.0.1:$PORT; root $DIR/html; }
}
EOF
cat >"$DIR/pipe.lua" <<EOF
init = function(args)
    local r = {}
    for i = 1, $PIPE do r[i] = wrk.format(nil) end
    req = table.concat(r)
end
request = function() return req end
EOF
"$NGINX" -c "$DIR/nginx.conf" -p "$DIR" -e "$DIR/error.log" &
MASTER=$!
cleanup() {
    kill "$MASTER" 2>/dev/null
    wait "$MASTER" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT
URL=http://127.0.0.1:$PORT/index.html
for i in $(seq 100); do
    curl -s -o /dev/null "$URL" 2>/dev/null && break
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
    sleep 0.05
done
WORKER=$(pgrep -P "$MASTER" | head -1)
ALLCPUS=$(taskset -pc $$ | sed 's/.*: //')
PINCPU=$(echo "$ALLCPUS" | tr ',' '\n' | tail -1 | sed 's/.*-//')
OUT=$BUILD/bench-loadgen.txt
: >"$OUT"
echo "bench/loadgen: nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///') worker $WORKER on $URL;" \
    "$CONNS connections, ${DURATION}s, $REPS interleaved repetitions, medians"
echo "bench/loadgen: machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# One run of tool $1 (mode $2: pinned or quiet); prints "rps user_s sys_s
# maxrss_kb" (rps 0 when it failed).
run_tool() {
    local tool=$1 mode=$2 pin=() procs=()
    if [ "$mode" = pinned ]; then
        pin=(taskset -c "$PINCPU")
        procs=(env GOCMAXPROCS=1 GOMAXPROCS=1)
    fi
    local tf=$DIR/time.$$ of=$DIR/out.$$ wt=1
    # nginx's worker: its time on a CPU and waiting for one (schedstat, ns).
    local ss0 ss1
    read -r -a ss0 <"/proc/$WORKER/schedstat"
    [ "$mode" = quiet ] && wt=2
    case $tool in
    wrk) "${procs[@]}" /usr/bin/time -f "%U %S %M" -o "$tf" "${pin[@]}" wrk -t$wt -c"$CONNS" -d"${DURATION}s" "$URL" >"$of" 2>&1 ;;
    wrk-pipe) "${procs[@]}" /usr/bin/time -f "%U %S %M" -o "$tf" "${pin[@]}" wrk -t$wt -c"$CONNS" -d"${DURATION}s" -s "$DIR/pipe.lua" "$URL" >"$of" 2>&1 ;;
    ab) "${procs[@]}" /usr/bin/time -f "%U %S %M" -o "$tf" "${pin[@]}" ab -k -q -c "$CONNS" -t "$DURATION" -n 100000000 "$URL" >"$of" 2>&1 ;;
    hey) "${procs[@]}" /usr/bin/time -f "%U %S %M" -o "$tf" "${pin[@]}" hey -z "${DURATION}s" -c "$CONNS" "$URL" >"$of" 2>&1 ;;
    goc) "${procs[@]}" /usr/bin/time -f "%U %S %M" -o "$tf" "${pin[@]}" "$GOC" -q --json -c "$CONNS" -d "${DURATION}s" "$URL" >"$of" 2>&1 ;;
    goc-old) env GOCMAXPROCS="$(nproc)" GOCIDLESPIN=0 /usr/bin/time -f "%U %S %M" -o "$tf" "$GOC" -q --json -c "$CONNS" -d "${DURATION}s" "$URL" >"$of" 2>&1 ;;
    goc-pipe) "${procs[@]}" /usr/bin/time -f "%U %S %M" -o "$tf" "${pin[@]}" "$GOC" -q --json -c "$CONNS" --pipeline "$PIPE" -d "${DURATION}s" "$URL" >"$of" 2>&1 ;;
    esac
    local rps
    case $tool in
    wrk*) rps=$(awk '/Requests\/sec:/ {print $2}' "$of") ;;
    ab) rps=$(awk '/Requests per second:/ {print $4}' "$of") ;;
    hey) rps=$(awk '/Requests\/sec:/ {print $2}' "$of") ;;
    goc*) rps=$(grep -o '"requests_per_second":[0-9.]*' "$of" | cut -d: -f2) ;;
    esac
    read -r -a ss1 <"/proc/$WORKER/schedstat"
    echo "${rps:-0} $(tail -1 "$tf" 2>/dev/null || echo '0 0 0') $((ss1[0] - ss0[0])) $((ss1[1] - ss0[1]))"
    cat "$of" >>"$OUT"
}

median() { sort -g | awk '{a[NR]=$1} END {print NR ? a[int((NR+1)/2)] : 0}'; }

declare -A RPS CPU RSS NGR NGW
table() {
    local mode=$1
    shift
    local tools=("$@")
    [ "$mode" = pinned ] && taskset -pc "$PINCPU" "$WORKER" >/dev/null
    [ "$mode" = quiet ] && taskset -pc "$ALLCPUS" "$WORKER" >/dev/null
    for t in "${tools[@]}"; do RPS[$mode.$t]=""; CPU[$mode.$t]=""; RSS[$mode.$t]=""; NGR[$mode.$t]=""; NGW[$mode.$t]=""; done
    for r in $(seq "$REPS"); do
        for t in "${tools[@]}"; do
            local bin=${t%-pipe}
            bin=${bin%-old}
            [ "$bin" = goc ] || command -v "$bin" >/dev/null || continue
            read -r rps u s m nrun nwait <<<"$(run_tool "$t" "$mode")"
            echo "RUN mode=$mode tool=$t rep=$r rps=$rps user_s=$u sys_s=$s maxrss_kb=$m nginx_run_ns=$nrun nginx_wait_ns=$nwait" >>"$OUT"
            # nginx's worker per request, us: on a CPU, and runnable but
            # waiting for one (another task had its CPU).
            NGR[$mode.$t]+="$(awk -v x="$nrun" -v r="$rps" -v d="$DURATION" 'BEGIN { printf "%.2f", (r > 0 ? x / 1e3 / (r * d) : 0) }') "
            NGW[$mode.$t]+="$(awk -v x="$nwait" -v r="$rps" -v d="$DURATION" 'BEGIN { printf "%.2f", (r > 0 ? x / 1e3 / (r * d) : 0) }') "
            RPS[$mode.$t]+="$rps "
            # CPU per request, us: (user + sys) / requests.
            CPU[$mode.$t]+="$(awk -v u="$u" -v s="$s" -v r="$rps" -v d="$DURATION" \
                'BEGIN { if (r > 0) printf "%.3f", (u + s) * 1e6 / (r * d); else printf "0" }') "
            RSS[$mode.$t]+="$m "
        done
    done
    printf '%-8s %-9s %12s %8s %12s %10s %9s %9s   %s\n' mode tool "req/s" ratio "cpu us/req" "rss KiB" "ngx us" "ngx wait" "runs (req/s)"
    local base=""
    for t in "${tools[@]}"; do
        local med cpu rss ngr ngw ref ratio
        med=$(echo "${RPS[$mode.$t]}" | tr ' ' '\n' | grep . | median)
        cpu=$(echo "${CPU[$mode.$t]}" | tr ' ' '\n' | grep . | median)
        rss=$(echo "${RSS[$mode.$t]}" | tr ' ' '\n' | grep . | median)
        ngr=$(echo "${NGR[$mode.$t]}" | tr ' ' '\n' | grep . | median)
        ngw=$(echo "${NGW[$mode.$t]}" | tr ' ' '\n' | grep . | median)
        case $t in *-pipe) ref=wrk-pipe ;; *) ref=wrk ;; esac
        base=$(echo "${RPS[$mode.$ref]:-}" | tr ' ' '\n' | grep . | median)
        ratio=$(awk -v a="$med" -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "-" }')
        printf '%-8s %-9s %12.1f %8s %12s %10s %9s %9s   %s\n' "$mode" "$t" "${med:-0}" "$ratio" "$cpu" "$rss" "$ngr" "$ngw" "${RPS[$mode.$t]}"
        eval "MED_${mode}_${t//-/_}=${med:-0}"
    done
    echo "  (ratio: req/s / wrk's, pipelined rows / wrk's pipelined; cpu: the client's user+sys per request;"
    echo "   ngx us / ngx wait: nginx's worker per request on a CPU / runnable but waiting for one, from its schedstat)"
}

for mode in $MODES; do
    case $mode in
    pinned)
        echo
        echo "== pinned: client and nginx worker on CPU $PINCPU (GOCMAXPROCS=1, wrk -t1)"
        table pinned ${PINNED_TOOLS:-wrk goc ab hey wrk-pipe goc-pipe}
        if command -v strace >/dev/null; then
            st=$STRACE_S
            for t in wrk goc wrk-pipe goc-pipe; do
                sf=$DIR/strace.$t
                case $t in
                wrk) GOCMAXPROCS=1 timeout $((st + 20)) strace -c -f -o "$sf" taskset -c "$PINCPU" wrk -t1 -c"$CONNS" -d${st}s "$URL" >"$DIR/st.out" 2>&1
                    n=$(awk '/requests in/ {print $1}' "$DIR/st.out") ;;
                wrk-pipe) GOCMAXPROCS=1 timeout $((st + 20)) strace -c -f -o "$sf" taskset -c "$PINCPU" wrk -t1 -c"$CONNS" -d${st}s -s "$DIR/pipe.lua" "$URL" >"$DIR/st.out" 2>&1
                    n=$(awk '/requests in/ {print $1}' "$DIR/st.out") ;;
                goc) GOCMAXPROCS=1 timeout $((st + 20)) strace -c -f -o "$sf" taskset -c "$PINCPU" "$GOC" -q --json -c "$CONNS" -d ${st}s "$URL" >"$DIR/st.out" 2>&1
                    n=$(grep -o '"issued":[0-9]*' "$DIR/st.out" | head -1 | cut -d: -f2) ;;
                goc-pipe) GOCMAXPROCS=1 timeout $((st + 20)) strace -c -f -o "$sf" taskset -c "$PINCPU" "$GOC" -q --json -c "$CONNS" --pipeline "$PIPE" -d ${st}s "$URL" >"$DIR/st.out" 2>&1
                    n=$(grep -o '"issued":[0-9]*' "$DIR/st.out" | head -1 | cut -d: -f2) ;;
                esac
                calls=$(awk '$NF == "total" {print $4}' "$sf")
                echo "  syscalls per request ($t, strace -c -f, $st s): $(awk -v c="${calls:-0}" -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.3f", c / n; else printf "-" }') ($calls calls, ${n:-0} requests; strace slows both)"
                grep -E '^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+' "$sf" | grep -v total |
                    sort -k4 -n -r | head -4 |
                    awk -v n="${n:-0}" '{ printf "    %s: %d (%.3f per request)\n", $NF, $4, (n > 0 ? $4 / n : 0) }'
            done
        fi
        # strace stops the client at every call, so the server answers
        # between them and each tool idles (epoll) far more than at full
        # speed: perf's syscall tracepoint counts without slowing it.
        if command -v perf >/dev/null &&
            perf stat -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null; then
            for t in wrk goc wrk-pipe goc-pipe; do
                pf=$DIR/perf.$t
                case $t in
                wrk) perf stat -e raw_syscalls:sys_enter -o "$pf" taskset -c "$PINCPU" wrk -t1 -c"$CONNS" -d${STRACE_S}s "$URL" >"$DIR/st.out" 2>&1
                    n=$(awk '/requests in/ {print $1}' "$DIR/st.out") ;;
                wrk-pipe) perf stat -e raw_syscalls:sys_enter -o "$pf" taskset -c "$PINCPU" wrk -t1 -c"$CONNS" -d${STRACE_S}s -s "$DIR/pipe.lua" "$URL" >"$DIR/st.out" 2>&1
                    n=$(awk '/requests in/ {print $1}' "$DIR/st.out") ;;
                goc) GOCMAXPROCS=1 perf stat -e raw_syscalls:sys_enter -o "$pf" taskset -c "$PINCPU" "$GOC" -q --json -c "$CONNS" -d ${STRACE_S}s "$URL" >"$DIR/st.out" 2>&1
                    n=$(grep -o '"issued":[0-9]*' "$DIR/st.out" | head -1 | cut -d: -f2) ;;
                goc-pipe) GOCMAXPROCS=1 perf stat -e raw_syscalls:sys_enter -o "$pf" taskset -c "$PINCPU" "$GOC" -q --json -c "$CONNS" --pipeline "$PIPE" -d ${STRACE_S}s "$URL" >"$DIR/st.out" 2>&1
                    n=$(grep -o '"issued":[0-9]*' "$DIR/st.out" | head -1 | cut -d: -f2) ;;
                esac
                calls=$(awk '/raw_syscalls/ { gsub(",", "", $1); print $1 }' "$pf")
                echo "  syscalls per request ($t, perf stat, $STRACE_S s, start-up included): $(awk -v c="${calls:-0}" -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.3f", c / n; else printf "-" }') ($calls calls, ${n:-0} requests)"
            done
        fi
        ;;
    quiet)
        echo
        echo "== quiet: unpinned (nginx's one worker is the bottleneck; wrk -t2, GOCMAXPROCS unset)"
        table quiet ${QUIET_TOOLS:-wrk goc goc-old ab hey}
        echo "  (goc-old: goc-loadgen as before it shared the host: GOCMAXPROCS=$(nproc) GOCIDLESPIN=0)"
        ;;
    open)
        echo
        max=${MED_pinned_goc:-0}
        rates="1000 10000"
        [ "${max%.*}" -gt 0 ] 2>/dev/null && rates="$rates $(awk -v m="$max" 'BEGIN { printf "%d", m * 0.8 }')"
        echo "== open model (goc-loadgen -r, unpinned): achieved / asked, latency from the due time"
        taskset -pc "$ALLCPUS" "$WORKER" >/dev/null
        printf '%-8s %10s %12s %10s %10s %10s %10s %8s\n' rate achieved "ach/asked" p50 p99 "svc p50" late rep
        for r in $(seq "$REPS"); do
            for rate in $rates; do
                "$GOC" -q --json -r "$rate" -c "$CONNS" -d "${DURATION}s" -t 2s "$URL" >"$DIR/open.out" 2>&1
                cat "$DIR/open.out" >>"$OUT"
                ach=$(grep -o '"achieved_rate":[0-9.]*' "$DIR/open.out" | cut -d: -f2)
                p50=$(grep -o '"latency_ns":{[^}]*' "$DIR/open.out" | grep -o '"p50":[0-9]*' | cut -d: -f2)
                p99=$(grep -o '"latency_ns":{[^}]*' "$DIR/open.out" | grep -o '"p99":[0-9]*' | cut -d: -f2)
                s50=$(grep -o '"service_ns":{[^}]*' "$DIR/open.out" | grep -o '"p50":[0-9]*' | cut -d: -f2)
                late=$(grep -o '"late":[0-9]*' "$DIR/open.out" | cut -d: -f2)
                printf '%-8s %10.1f %12s %9.1fus %9.1fus %9.1fus %10s %8s\n' "$rate" "${ach:-0}" \
                    "$(awk -v a="${ach:-0}" -v b="$rate" 'BEGIN { printf "%.5f", a / b }')" \
                    "$(awk -v x="${p50:-0}" 'BEGIN { print x / 1000 }')" \
                    "$(awk -v x="${p99:-0}" 'BEGIN { print x / 1000 }')" \
                    "$(awk -v x="${s50:-0}" 'BEGIN { print x / 1000 }')" "${late:-?}" "$r"
            done
        done
        ;;
    stall)
        echo
        echo "== stall: 2000 req/s for 30 s, nginx's worker stopped 1 s at t = 20 s"
        taskset -pc "$ALLCPUS" "$WORKER" >/dev/null
        "$GOC" -q --json -r 2000 -c "$CONNS" -d 30s -t 5s "$URL" >"$DIR/stall.out" 2>&1 &
        gpid=$!
        sleep 20
        # The stop's length as made (perl: both signals from one process,
        # timed; a loaded machine stretches it), or 1 s asked.
        stop_ms=$(perl -MTime::HiRes=sleep,time -e '$w = shift; kill "STOP", $w;
            $t = time; sleep 1; kill "CONT", $w; printf "%.1f", (time - $t) * 1000' "$WORKER" 2>/dev/null) ||
            { kill -STOP "$WORKER"; sleep 1; kill -CONT "$WORKER"; stop_ms=1000; }
        wait "$gpid"
        cat "$DIR/stall.out" >>"$OUT"
        lat=$(grep -o '"latency_ns":{[^}]*' "$DIR/stall.out")
        for k in p50 p99 p99.9 max; do
            v=$(echo "$lat" | grep -o "\"$k\":[0-9]*" | cut -d: -f2)
            printf '  %-6s %10.1f ms\n' "$k" "$(awk -v x="${v:-0}" 'BEGIN { print x / 1e6 }')"
        done
        # The truth: a call due s ms into the stop waits stop_ms - s ms, so
        # the 600 (p99) and 60 (p99.9) slowest of 60,000 are those due in
        # the first 300 and 30 ms; the server's catching up adds to that.
        echo "  stopped $stop_ms ms: truth p99 ~ $(awk -v s="$stop_ms" 'BEGIN { print s - 300 }') ms, p99.9 ~ $(awk -v s="$stop_ms" 'BEGIN { print s - 30 }') ms, plus the catching up"
        iss=$(grep -o '"issued":[0-9]*' "$DIR/stall.out" | head -1 | cut -d: -f2)
        codes=$(grep -o '"codes":{[^}]*' "$DIR/stall.out" | head -1 | grep -o ':[0-9]*' | tr -d : | awk '{ s += $1 } END { print s }')
        echo "  issued $iss, accounted $codes (every code counted once)"
        ;;
    esac
done
echo
echo "bench/loadgen: raw output in $OUT"
