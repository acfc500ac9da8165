#!/usr/bin/env bash
# bench/run.sh - run every goc benchmark next to its Go 1.19 twin and print
# the ratios with the targets of the issues.
#
# usage: bench/run.sh [BUILD_DIR] [FILTER]
#
#   BUILD_DIR  where the C programs are (bench_runtime, bench_chan,
#              bench_time, bench_sync, bench_net: one per bench/c/*.c, CMake
#              targets of the same names with -DGOC_BENCH=ON) and where the
#              Go program (gobench, from bench/go/) is built. Default:
#              build/bench. If BUILD_DIR is a CMake build tree, each
#              bench_* target is (re)built there first, one at a time; one
#              that fails to build is reported "skipped: not built".
#   FILTER     only benchmarks whose name matches this extended regexp.
#
# environment:
#   RUNS=5            runs of each program per benchmark; the median counts
#   BENCH_TIMEOUT=60  seconds one run may take before it counts as failed
#   BENCH_ARGS=       extra flags for both programs (e.g. "-n 1000")
#   BENCH_STRICT=1    exit 1 when a target is missed or a goc run fails
#                     (default: exit 0; benchmarks inform, never gate)
#   BENCH_PIN=1       pin both programs of a 1-processor row to the same
#                     CPU, run r on the r-th allowed CPU in turn (0: leave
#                     placement to the kernel). On these shared VMs one
#                     vCPU can run 1.45x slower than the other for
#                     minutes (bench/README.md, Noise): unpinned, goc and
#                     Go may land on different ones and the ratio
#                     measures the CPUs.
#
# Rows under another GOC_POLLER (net@io_uring...) are also printed at the
# end next to their epoll rows, ratio > 1 where the poller is better
# (bench/README.md, "Poller backends side by side").
#
# Each program prints one line per run:
#     BENCH <name> procs=<N> <primary>=<value> [<key>=<value> ...]
# The primary figure of goc and Go is compared: ratio = goc / Go. For times
# and sizes (ns_per_op, total_ms, bytes_per_g) lower is better, for rates
# (msgs_per_s) higher is better; the target column is in the issue's terms.
# The C program runs with GOCMAXPROCS=N, the Go one with GOMAXPROCS=N, in
# alternation, so that both see the same machine. Raw lines go to
# BUILD_DIR/bench-results.txt, failures' stderr to BUILD_DIR/bench-logs/.
set -u

SRC=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build/bench}
FILTER=${2:-}
RUNS=${RUNS:-5}
TIMEOUT=${BENCH_TIMEOUT:-60}
PIN=${BENCH_PIN:-1}
# The CPUs this script may run on, expanded from taskset's list ("0-1,4").
CPUS=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then
    read -ra CPUS <<<"$(taskset -pc $$ 2>/dev/null | sed 's/.*: //' |
        tr ',' '\n' | awk -F- '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++)
            printf "%d ", c }')"
fi
read -ra ARGS <<<"${BENCH_ARGS:-}"
mkdir -p "$BUILD" || exit 1
BUILD=$(cd "$BUILD" && pwd)
LOGS=$BUILD/bench-logs
RESULTS=$BUILD/bench-results.txt
mkdir -p "$LOGS"
: >"$RESULTS"

# The matrix: module name procs runs timeout target checks.
#   module  the C program is bench_<module>; <module>@<poller> runs it
#           with GOC_POLLER=<poller> (the io_uring rows: docs/net.md)
#   runs    "-" for $RUNS
#   timeout seconds one run may take, "-" for $BENCH_TIMEOUT
#   target  goc/Go bound from the issue (<=x: at most, >=x: at least)
#   checks  conditions on goc's median run, comma-separated key<=v, key>=v,
#           key==v ("-" for none)
# park_mem runs once: its figure (bytes per goroutine) does not vary, and
# each first touch of a page is slow in these VMs (1,000,000 goroutines:
# 10-60 s per program, depending on the load).
MATRIX="
runtime spawn_join        1 - -   <=0.12 faults_per_g<=0.1
runtime spawn_join        2 - -   <=0.25 faults_per_g<=0.1
runtime spawn_cold        1 - -   <=0.5  -
runtime spawn_cold        2 - -   <=0.5  -
runtime yield_ping        1 - -   <=0.4  -
runtime park_mem          1 1 150 <=1.5  cpu_pct<=1
runtime sleep_100k        2 - -   <=0.6  early==0,p99_late_ms<=10
chan    pingpong          1 - -   <=0.25 -
chan    pingpong          2 - -   <=0.5  -
chan    buffered          1 - -   <=0.3  cpu_blocked_pct<=1
chan    buffered          2 - -   <=0.6  cpu_blocked_pct<=1
chan    select_ready2     1 - -   <=0.3  pct_first>=49,pct_first<=51
chan    select_default    1 - -   <=1.0  -
time    timers_100k       1 - -   <=0.6  early==0,p99_late_ms<=10
time    timers_100k       2 - -   <=0.6  early==0,p99_late_ms<=10
sync    mutex_uncontended 1 - -   <=1.0  -
sync    mutex_contended   1 - -   <=1.0  -
sync    mutex_contended   2 - -   <=0.8  -
sync    rwmutex_read      2 - -   <=1.0  -
sync    waitgroup_fanout  1 - -   <=0.5  -
sync    waitgroup_fanout  2 - -   <=0.5  -
sync    pool_getput       1 - -   <=1.0  -
sync    pool_getput       2 - -   <=1.0  -
net@epoll tcp_echo_1conn  1 - -   >=1.5  errors==0
net@epoll tcp_echo_1conn  2 - -   >=1.5  errors==0
net@epoll tcp_echo_100conn 1 - -   >=1.5  errors==0
net@epoll tcp_echo_100conn 2 - -   >=1.5  errors==0
net@io_uring tcp_echo_1conn   1 - - >=1.5 errors==0
net@io_uring tcp_echo_1conn   2 - - >=1.5 errors==0
net@io_uring tcp_echo_100conn 1 - - >=1.5 errors==0
net@io_uring tcp_echo_100conn 2 - - >=1.5 errors==0
net@io_uring_completion tcp_echo_1conn   1 - - >=1.5 errors==0
net@io_uring_completion tcp_echo_1conn   2 - - >=1.5 errors==0
net@io_uring_completion tcp_echo_100conn 1 - - >=1.5 errors==0
net@io_uring_completion tcp_echo_100conn 2 - - >=1.5 errors==0
net@epoll tcp_rtt_idle    1 - -   <=1.0  errors==0
net@epoll tcp_rtt_idle    2 - -   <=1.0  errors==0
net@io_uring_completion tcp_rtt_idle 1 - - <=1.0 errors==0
net@io_uring_completion tcp_rtt_idle 2 - - <=1.0 errors==0
net@epoll pipe_64b        1 - -   >=1.0  errors==0
net@epoll pipe_64b        2 - -   >=1.0  errors==0
net@io_uring_completion pipe_64b 1 - - >=1.0 errors==0
net@io_uring_completion pipe_64b 2 - - >=1.0 errors==0
net@epoll pipe_64k        1 - -   >=1.0  errors==0
net@epoll pipe_64k        2 - -   >=1.0  errors==0
net@io_uring_completion pipe_64k 1 - - >=1.0 errors==0
net@io_uring_completion pipe_64k 2 - - >=1.0 errors==0
cmap    cmap_w1_str16 1 - 300 >=4 -
cmap    cmap_w1_str16 2 - 300 >=4 -
cmap    cmap_w2_str16 1 - 300 >=4 -
cmap    cmap_w2_str16 2 - 300 >=4 -
cmap    cmap_w3_str16 1 - 300 >=4 -
cmap    cmap_w3_str16 2 - 300 >=4 -
cmap    cmap_w4_str16 1 - 300 >=4 -
cmap    cmap_w4_str16 2 - 300 >=4 -
cmap    cmap_w1_u64 1 - 300 >=4 -
cmap    cmap_w1_u64 2 - 300 >=4 -
cmap    cmap_w2_u64 1 - 300 >=4 -
cmap    cmap_w2_u64 2 - 300 >=4 -
cmap    cmap_w3_u64 1 - 300 >=4 -
cmap    cmap_w3_u64 2 - 300 >=4 -
cmap    cmap_w4_u64 1 - 300 >=4 -
cmap    cmap_w4_u64 2 - 300 >=4 -
"

# --- Build --------------------------------------------------------------

CMAKE_DIR=$BUILD
[ -f "$CMAKE_DIR/CMakeCache.txt" ] || CMAKE_DIR=$(dirname "$BUILD")
if [ -f "$CMAKE_DIR/CMakeCache.txt" ] && command -v cmake >/dev/null; then
    for m in floors runtime chan time sync net cmap; do
        if ! cmake --build "$CMAKE_DIR" --target "bench_$m" \
            >"$LOGS/build-bench_$m.log" 2>&1; then
            echo "note: bench_$m did not build (see $LOGS/build-bench_$m.log)"
            rm -f "$BUILD/bench_$m" # never run a stale binary
        fi
    done
fi

GOBIN=$BUILD/gobench
GO_OK=0
if command -v go >/dev/null; then
    [ -n "${HOME:-}" ] || export HOME=$BUILD
    export GOFLAGS='' GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local
    export GOCACHE=${GOCACHE:-$BUILD/go-cache}
    if (cd "$SRC/go" && go build -o "$GOBIN" .) >"$LOGS/build-go.log" 2>&1
    then
        GO_OK=1
    else
        echo "note: the Go benchmarks did not build:"
        sed 's/^/    /' "$LOGS/build-go.log"
    fi
else
    echo "note: go not found (apt-get install -y golang-go): Go side skipped"
fi

# --- Run ----------------------------------------------------------------

# run_one LANG BIN NAME PROCS RUN TIMEOUT: run once, append the BENCH line to
# $OUT_<lang>, or a "FAIL <why>" line.
run_one() {
    local lang=$1 bin=$2 name=$3 procs=$4 run=$5 tmo=$6 out err rc line
    local pin=()
    out=$LOGS/$name${POLLER:+-$POLLER}-p$procs-$lang-$run.out
    err=$LOGS/$name${POLLER:+-$POLLER}-p$procs-$lang-$run.err
    if [ "$procs" = 1 ] && [ ${#CPUS[@]} -gt 1 ]; then
        pin=(taskset -c "${CPUS[$(((run - 1) % ${#CPUS[@]}))]}")
    fi
    if [ "$lang" = goc ]; then
        env ${POLLER:+GOC_POLLER=$POLLER} GOCMAXPROCS=$procs \
            timeout -k 5 "$tmo" ${pin[@]+"${pin[@]}"} \
            "$bin" -bench "$name" -procs "$procs" ${ARGS[@]+"${ARGS[@]}"} \
            >"$out" 2>"$err"
    else
        GOMAXPROCS=$procs timeout -k 5 "$tmo" ${pin[@]+"${pin[@]}"} \
            "$bin" -bench "$name" -procs "$procs" ${ARGS[@]+"${ARGS[@]}"} \
            >"$out" 2>"$err"
    fi
    rc=$?
    line=$(grep -m1 "^BENCH $name " "$out")
    if [ $rc -eq 0 ] && [ -n "$line" ]; then
        echo "$line" >>"$TMP/$lang"
        echo "$lang $line" >>"$RESULTS"
        rm -f "$out" "$err"
    elif [ $rc -eq 77 ]; then # built without its module: see BENCH_SKIP_MAIN
        echo "SKIP" >>"$TMP/$lang"
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "FAIL timeout after ${tmo}s" >>"$TMP/$lang"
    else
        echo "FAIL rc=$rc: $(grep -v '^$' "$err" | head -1 | cut -c1-80)" \
            >>"$TMP/$lang"
    fi
}

# median FILE: the BENCH line whose primary figure is the median (the
# lower middle for an even count); nothing if no run succeeded.
median() {
    grep '^BENCH ' "$1" 2>/dev/null |
        awk '{ split($4, kv, "="); print kv[2] "\t" $0 }' |
        sort -g | cut -f2- |
        awk '{ l[NR] = $0 } END { if (NR) print l[int((NR + 1) / 2)] }'
}

# field LINE KEY: the value of KEY in a BENCH line.
field() {
    echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The machine's floors first (bench_floors.c): what the ratios stand on.
if [ -z "$FILTER" ] && [ -x "$BUILD/bench_floors" ]; then
    "$BUILD/bench_floors" | tee -a "$RESULTS"
    echo
fi

printf '%-18s %5s  %-12s %18s %12s %8s  %-7s %s\n' \
    benchmark procs figure goc Go goc/Go target status
echo "(goc/Go is the ratio of the figures: lower is better for ns_per_op," \
    "total_ms, bytes_per_g; higher for msgs_per_s)"
n_ok=0 n_miss=0 n_fail=0 n_skip=0
while read -r module name procs runs tmo target checks; do
    [ -n "$module" ] || continue
    POLLER=
    case $module in
    *@*) POLLER=${module#*@} module=${module%@*} ;;
    esac
    if [ -n "$FILTER" ] && ! [[ $name =~ $FILTER ]]; then
        continue
    fi
    [ "$runs" = - ] && runs=$RUNS
    [ "$tmo" = - ] && tmo=$TIMEOUT
    cbin=$BUILD/bench_$module
    rm -f "$TMP/goc" "$TMP/go"
    have_c=0
    [ -x "$cbin" ] && have_c=1
    for ((r = 1; r <= runs; r++)); do
        if [ $have_c = 1 ] && grep -qx SKIP "$TMP/goc" 2>/dev/null; then
            have_c=0
        fi
        [ $have_c = 1 ] && run_one goc "$cbin" "$name" "$procs" "$r" "$tmo"
        [ $GO_OK = 1 ] && run_one go "$GOBIN" "$name" "$procs" "$r" "$tmo"
    done
    grep -qx SKIP "$TMP/goc" 2>/dev/null && have_c=0
    cmed=$(median "$TMP/goc")
    gmed=$(median "$TMP/go")
    unit=$(echo "${cmed:-$gmed}" | awk '{ split($4, kv, "="); print kv[1] }')
    cval=$(echo "$cmed" | awk '{ split($4, kv, "="); print kv[2] }')
    gval=$(echo "$gmed" | awk '{ split($4, kv, "="); print kv[2] }')
    if [ $have_c = 0 ]; then
        cshow="skipped: not built"
    elif [ -z "$cval" ]; then
        cshow="failed"
    else
        cshow=$cval
    fi
    if [ $GO_OK = 0 ]; then
        gshow="skipped"
    elif [ -z "$gval" ]; then
        gshow="failed"
    else
        gshow=$gval
    fi
    ratio=- status=-
    if [ -n "$cval" ] && [ -n "$gval" ]; then
        ratio=$(awk -v c="$cval" -v g="$gval" \
            'BEGIN { if (g > 0) printf "%.3f", c / g; else print "-" }')
        if [ "$ratio" != - ]; then
            status=$(awk -v r="$ratio" -v t="$target" 'BEGIN {
                op = substr(t, 1, 2); v = substr(t, 3) + 0
                ok = (op == "<=") ? (r <= v) : (r >= v)
                print ok ? "ok" : "MISS" }')
        fi
    fi
    # Secondary checks on goc's median run.
    failed_checks=
    if [ -n "$cmed" ] && [ "$checks" != - ]; then
        IFS=, read -ra cs <<<"$checks"
        for c in "${cs[@]}"; do
            key=$(echo "$c" | sed -E 's/(<=|>=|==).*//')
            op=$(echo "$c" | sed -E 's/^[a-z_0-9]+(<=|>=|==).*/\1/')
            bound=$(echo "$c" | sed -E 's/^[a-z_0-9]+(<=|>=|==)//')
            val=$(field "$cmed" "$key")
            if ! awk -v x="$val" -v o="$op" -v b="$bound" 'BEGIN {
                    if (x == "") exit 1
                    x += 0; b += 0
                    exit !((o == "<=" && x <= b) || (o == ">=" && x >= b) ||
                           (o == "==" && x == b)) }'; then
                failed_checks="$failed_checks ${key}=${val:-?}(want $op$bound)"
            fi
        done
    fi
    [ -n "$failed_checks" ] && status=MISS
    [ $have_c = 1 ] && [ -z "$cval" ] && status=FAIL
    case $status in
    ok) n_ok=$((n_ok + 1)) ;;
    MISS) n_miss=$((n_miss + 1)) ;;
    FAIL) n_fail=$((n_fail + 1)) ;;
    *) n_skip=$((n_skip + 1)) ;;
    esac
    # goc's median per poller, for the side-by-side table at the end.
    [ -n "$cval" ] && echo "$name $procs ${POLLER:-auto} $unit $cval" >>"$TMP/pollers"
    printf '%-18s %5s  %-12s %18s %12s %8s  %-7s %s\n' \
        "$name${POLLER:+ ($POLLER)}" "$procs" \
        "${unit:--}" "$cshow" "$gshow" "$ratio" "$target" "$status"
    # Secondary figures of the median runs, and why a run failed.
    extra() { echo "$1" | cut -d' ' -f5-; }
    notes=
    [ -n "$cmed" ] && [ -n "$(extra "$cmed")" ] && notes="goc: $(extra "$cmed")"
    [ -n "$gmed" ] && [ -n "$(extra "$gmed")" ] &&
        notes="${notes:+$notes | }go: $(extra "$gmed")"
    [ -n "$notes" ] && echo "    $notes"
    [ -n "$failed_checks" ] && echo "    goc misses:$failed_checks"
    for lang in goc go; do
        nf=$(grep -c '^FAIL' "$TMP/$lang" 2>/dev/null)
        if [ "${nf:-0}" -gt 0 ]; then
            echo "    $lang: $nf of $runs runs failed:" \
                "$(grep -m1 '^FAIL' "$TMP/$lang" | cut -c6-)"
        fi
    done
done <<<"$MATRIX"

# The poller backends side by side (issue 24: no figure worse under an
# io_uring backend than under epoll by more than 3 %): each benchmark
# that has rows under GOC_POLLER=<poller>, next to its epoll row
# (net@epoll: auto picks io_uring_completion where the kernel has it,
# so the net rows name their poller). ratio > 1: the poller is better
# (higher msgs_per_s, lower ns_per_op...); WORSE below 0.97.
if [ -s "$TMP/pollers" ] && awk '$3 != "epoll"' "$TMP/pollers" | grep -q .; then
    echo
    echo "pollers side by side (goc medians; ratio > 1: better than epoll)"
    printf '%-18s %5s  %-12s %14s %-24s %14s %7s\n' benchmark procs figure \
        epoll poller value ratio
    awk '
        $3 == "epoll" { e[$1 " " $2] = $5 }
        $3 != "epoll" { n++; row[n] = $0 }
        END {
            for (i = 1; i <= n; i++) {
                split(row[i], f, " ")
                k = f[1] " " f[2]
                if (!(k in e) || e[k] <= 0 || f[5] <= 0) continue
                lower = (f[4] == "ns_per_op" || f[4] == "total_ms" || f[4] == "bytes_per_g")
                r = lower ? e[k] / f[5] : f[5] / e[k]
                printf "%-18s %5s  %-12s %14s %-24s %14s %7.3f%s\n", f[1], f[2], f[4], e[k], f[3], f[5], r, (r < 0.97 ? "  WORSE" : "")
            }
        }' "$TMP/pollers"
fi

echo "summary: $n_ok ok, $n_miss missed, $n_fail failed (goc did not run)," \
    "$n_skip skipped (raw lines: $RESULTS)"
if [ "${BENCH_STRICT:-0}" = 1 ] && [ $((n_miss + n_fail)) -gt 0 ]; then
    exit 1
fi
exit 0
