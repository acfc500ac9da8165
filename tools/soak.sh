#!/usr/bin/env bash
# soak.sh BUILD_DIR - issue 19's reliability list, at full size, against
# 127.0.0.1 only: one PASS/FAIL line per attack with its figures, exit 1
# if any failed. Bounded: each step has a timeout; about 10 minutes on a
# loaded 2-core machine. Not part of `make test` (which runs the same
# tests at CI size); run by `make soak`.
set -u
B=${1:?usage: soak.sh BUILD_DIR (with goc_tests and tools/ built)}
B=$(cd "$B" && pwd)
T=$B/goc_tests
SERVER=$B/tools/goc-calcserver
LOADGEN=$B/tools/goc-loadgen
LOG=$(mktemp -d "${TMPDIR:-/tmp}/goc-soak.XXXXXX")
fails=0
export GOC_SOAK_LOG=$LOG/figures.log

pass() { printf 'PASS %-22s %s\n' "$1" "$2"; }
fail() { printf 'FAIL %-22s %s\n' "$1" "$2"; fails=$((fails + 1)); }

# One suite test, bounded: suite REPORT_NAME SECONDS TEST [VAR=VALUE...]
suite() {
    local what=$1 secs=$2 test=$3
    shift 3
    : >"$GOC_SOAK_LOG"
    if env "$@" timeout -k 5 "$secs" "$T" "$test" >"$LOG/$what.out" 2>&1; then
        pass "$what" "$(tr '\n' ' ' <"$GOC_SOAK_LOG")$(grep -h '^ok' "$LOG/$what.out" | sed 's/.*(/(/')"
    else
        fail "$what" "$(grep -v '^ok' "$LOG/$what.out" | tail -n 5 | tr '\n' ' ')"
    fi
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null

# 1M parked goroutines, one overflowing by 1 KiB and returning: fatal, named.
suite overflow_1M_parked 300 runtime_stack_overflow_past_guarded_max \
    GOC_OVF_N=1000000 GOC_TEST_TIMEOUT_SCALE=4
# Connection churn: idle RSS per round, plateau within 10 % of round 2.
suite churn_rss_plateau 400 harden_calcserver_rss_plateau \
    GOC_CHURN_CONNS=10000 GOC_CHURN_ROUNDS=6
# Hostile calc clients: random bytes, a 100 MB line, half-closed sockets,
# clients that never read; an ordinary client still served.
suite hostile_clients 120 harden_calcserver_hostile GOC_HOSTILE_BIG_MB=100
suite slow_client_deadline 60 harden_calcserver_request_deadline
suite connection_cap 60 harden_calcserver_max_conns
suite conns_10k 120 net_10k_conns
suite emfile_no_spin 120 net_emfile_no_spin
suite signal_storm 120 signal_storm_with_io
suite children_swarm 180 proc_thousand_children

# The server stopped (SIGSTOP) for 1 s under 1000 calls/s: the stall must
# show in the latencies (coordinated omission), every call accounted.
port_of() { sed -n 's/.*listening on [^:]*:\([0-9]*\).*/\1/p' "$1" | head -n 1; }
start_server() {
    "$SERVER" --listen 127.0.0.1:0 "$@" >"$LOG/server.out" 2>&1 &
    SPID=$!
    for _ in $(seq 100); do
        PORT=$(port_of "$LOG/server.out")
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    return 1
}
json_num() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1" | head -n 1; }
json_lat() { sed -n "s/.*\"latency_ns\":{[^}]*\"$2\":\([0-9]*\).*/\1/p" "$1"; }

if start_server; then
    timeout 60 "$LOADGEN" -r 1000 -d 5s -t 3s --json "calc://127.0.0.1:$PORT" \
        >"$LOG/stall.json" 2>"$LOG/stall.err" &
    LPID=$!
    sleep 2
    kill -STOP "$SPID"
    sleep 1
    kill -CONT "$SPID"
    wait "$LPID"
    planned=$(json_num "$LOG/stall.json" planned)
    issued=$(json_num "$LOG/stall.json" issued)
    success=$(json_num "$LOG/stall.json" success)
    p99=$(json_lat "$LOG/stall.json" p99)
    p999=$(json_lat "$LOG/stall.json" 'p99\.9')
    count=$(json_lat "$LOG/stall.json" count)
    figs="p99 $((${p99:-0} / 1000000)) ms p99.9 $((${p999:-0} / 1000000)) ms (stall 1000 ms, 1 in 5 s), calls $count/$planned accounted, $success ok"
    if [ -n "$p99" ] && [ "$p99" -ge 500000000 ] && [ "$count" = "$planned" ] &&
        [ "$issued" = "$planned" ]; then
        pass server_sigstop_1s "$figs"
    else
        fail server_sigstop_1s "$figs"
    fi
    kill -TERM "$SPID"
    wait "$SPID" 2>/dev/null
else
    fail server_sigstop_1s "server did not start"
fi

# The server killed (SIGKILL) mid-run: every call accounted for, failed
# calls reported as such, the generator exits 1 (some calls failed).
if start_server; then
    timeout 60 "$LOADGEN" -r 500 -d 4s -t 200ms --json "calc://127.0.0.1:$PORT" \
        >"$LOG/kill.json" 2>"$LOG/kill.err" &
    LPID=$!
    sleep 2
    kill -KILL "$SPID"
    wait "$LPID" 2>/dev/null # (the shell's "Killed" notice of the server)
    rc=$?
    wait "$SPID" 2>/dev/null
    planned=$(json_num "$LOG/kill.json" planned)
    success=$(json_num "$LOG/kill.json" success)
    count=$(json_lat "$LOG/kill.json" count)
    figs="calls $count/$planned accounted, $success ok before the kill, exit $rc"
    if [ "$rc" = 1 ] && [ "$count" = "$planned" ] && [ "${success:-0}" -gt 0 ] &&
        [ "$success" -lt "$planned" ]; then
        pass server_sigkill "$figs"
    else
        fail server_sigkill "$figs"
    fi
else
    fail server_sigkill "server did not start"
fi

# The server at ulimit -n 64 flooded with connections: no busy loop, and
# it serves again once the flood is over.
(ulimit -n 64 && exec "$SERVER" --listen 127.0.0.1:0 >"$LOG/server.out" 2>&1) &
SPID=$!
sleep 0.5
PORT=$(port_of "$LOG/server.out")
if [ -n "$PORT" ]; then
    t0=$(awk '{print $14 + $15}' "/proc/$SPID/stat")
    timeout 30 "$LOADGEN" -r 3000 -d 3s -t 2s -c 2000 "calc://127.0.0.1:$PORT" \
        >"$LOG/emfile.out" 2>&1
    t1=$(awk '{print $14 + $15}' "/proc/$SPID/stat")
    timeout 30 "$LOADGEN" -r 100 -d 2s -t 1s --json "calc://127.0.0.1:$PORT" \
        >"$LOG/emfile2.json" 2>&1
    after=$(json_num "$LOG/emfile2.json" success_percent)
    ticks=$(getconf CLK_TCK)
    cpu_ms=$(((t1 - t0) * 1000 / ticks))
    figs="server CPU $cpu_ms ms over the 3 s flood at ulimit -n 64, then ${after:-?} % ok"
    if [ "$cpu_ms" -lt 2500 ] && [ "${after%.*}" = 100 ]; then
        pass server_emfile_64 "$figs"
    else
        fail server_emfile_64 "$figs"
    fi
    kill -TERM "$SPID"
    wait "$SPID" 2>/dev/null
else
    fail server_emfile_64 "server did not start"
fi

echo "logs: $LOG"
if [ "$fails" -gt 0 ]; then
    echo "make soak: $fails attack(s) FAILED"
    exit 1
fi
echo "make soak: every attack passed"
