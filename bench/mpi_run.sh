#!/bin/sh
# bench/mpi_run.sh - goc-loadgen across MPI ranks (docs/mpi.md), measured:
#  1. 2 ranks vs 1 process at the same total rate against goc-calcserver
#     on 127.0.0.1: achieved/asked and the due-time slop (a call's start
#     minus its due time, from --calls-log) p50 and p99, both runs
#     alternately, ROUNDS rounds each;
#  2. rank 0's end-of-run work for 100 ranks, simulated (no cluster):
#     reading 100 reports and merging them (bench/loadgen/mpi_merge_sim.c).
#
#   bench/mpi_run.sh [BUILD_DIR] [RATE] [DURATION] [ROUNDS]
#                    (build/release 2000 5s 3)
# Needs Open MPI (tools/install-deps.sh mpi) and a build made with it.
set -e
B=${1:-build/release}
RATE=${2:-2000}
DUR=${3:-5s}
ROUNDS=${4:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LG=$B/tools/goc-loadgen
SRV=$B/tools/goc-calcserver
[ -x "$LG" ] && [ -x "$SRV" ] || { echo "build $B first" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "no mpirun: tools/install-deps.sh mpi" >&2; exit 77; }
T=$(mktemp -d)
trap 'kill $SRVPID 2>/dev/null; rm -rf "$T"' EXIT
PORT=$((20000 + $$ % 20000))
"$SRV" -l 127.0.0.1:$PORT -k >/dev/null 2>&1 &
SRVPID=$!
sleep 0.3
# Loopback only; see docs/mpi.md for these MCA parameters.
MPI="mpirun --allow-run-as-root --oversubscribe --bind-to none \
  --mca btl self,vader,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo"
ARGS="-r $RATE -d $DUR -t 1s -k -q"

# achieved/asked from a JSON report; slop p50 and p99 (us) from call logs.
summary() { # name json logs...
    name=$1 json=$2; shift 2
    # The run's own (not the ranks' rows, on the "mpi" member's line).
    ratio=$(grep -v '"mpi":{' "$json" | grep -o '"achieved_rate":[0-9.]*' | head -1 | cut -d: -f2)
    slop=$(tail -q -n +2 "$@" | cut -d, -f5 | sort -n |
        awk '{v[NR]=$1} END {printf "%.1f %.1f", v[int(NR*0.5)+1]/1e3, v[int(NR*0.99)+1]/1e3}')
    echo "$name achieved/asked=$(echo "$ratio $RATE" | awk '{printf "%.5f", $1/$2}') slop_p50_us=${slop% *} slop_p99_us=${slop#* }"
}
i=0
while [ $i -lt "$ROUNDS" ]; do
    i=$((i + 1))
    "$LG" $ARGS --json "$T/one.json" --calls-log "$T/one.calls" calc://127.0.0.1:$PORT >/dev/null || true
    summary "round $i  1 process" "$T/one.json" "$T/one.calls"
    $MPI -np 2 "$LG" $ARGS --json "$T/two.json" --calls-log "$T/two.calls" \
        calc://127.0.0.1:$PORT >/dev/null 2>"$T/two.err" ||
        grep -v '^--\|^$' "$T/two.err" | head -5
    summary "round $i  2 ranks  " "$T/two.json" "$T/two.calls".0 "$T/two.calls".1
done

# The 100-rank simulation: the report module and libgoc of this build.
cc -O2 -I"$ROOT/include" -I"$ROOT/tools" -DGOC_VERSION_STRING='"sim"' \
    "$ROOT/bench/loadgen/mpi_merge_sim.c" "$ROOT"/tools/report*.c "$ROOT/tools/cli.c" \
    "$B/tools/report_page.c" "$B/libgoc.a" -lm -lpthread -o "$T/mpi_merge_sim"
"$T/mpi_merge_sim" 100 60000 60
"$T/mpi_merge_sim" 100 600000 600
