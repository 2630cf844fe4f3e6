#!/usr/bin/env bash
# QuickFIX C++ baseline: qf-initiator against qf-executor --mode ack (one
# ExecutionReport per order), RUNS runs each of
#   pingpong  (--orders 2000, one at a time, round trip to the ExecutionReport)
#   pipelined (--orders 20000, as fast as possible, orders/s until all acked)
# and prints the per-run lines plus the medians.
#
#   tests/quickfix/bench.sh BIN_DIR [PORT] [RUNS] [STORE_LOG] [WINDOW]
# STORE_LOG: "file" (default: FileStore + FileLog on both sides, QuickFIX's
# usual set-up) or "lean" (MemoryStore, no log, on both sides).
# WINDOW: qf-initiator --window for pipelined (default 0: all 20000 at once).
set -uo pipefail

BIN="${1:?usage: bench.sh BIN_DIR [PORT] [RUNS] [file|lean]}"
PORT="${2:-19900}"
RUNS="${3:-3}"
MODE="${4:-file}"
WINDOW="${5:-0}"
WORK="$(mktemp -d /tmp/qf-bench.XXXXXX)"
if [ "$MODE" = lean ]; then
  OPTS=(--store memory --log none)
else
  OPTS=(--store file --log file)
fi

EXEC_PID=""
stop_executor() { if [ -n "$EXEC_PID" ]; then kill "$EXEC_PID" 2>/dev/null; wait "$EXEC_PID" 2>/dev/null; EXEC_PID=""; fi; }
trap stop_executor EXIT

# One fresh executor and one fresh initiator directory per run, so both sides
# start at MsgSeqNum 1 whatever the store.
run_one() { # name scenario orders [extra initiator args]
  local dir="$WORK/$1"
  "$BIN/qf-executor" --port "$PORT" --mode ack --dir "$dir/exec" "${OPTS[@]}" >"$dir.exec.out" 2>&1 &
  EXEC_PID=$!
  for _ in $(seq 1 50); do grep -q '^LISTENING' "$dir.exec.out" 2>/dev/null && break; sleep 0.1; done
  "$BIN/qf-initiator" --port "$PORT" --scenario "$2" --orders "$3" --no-events \
      --dir "$dir/init" "${OPTS[@]}" --timeout-secs 120 "${@:4}" >"$dir.init.out" 2>&1
  stop_executor
  echo "$(grep -E '^(PINGPONG|PIPELINED|RESULT fail)' "$dir.init.out") executor_$(grep -o 'cpu_us_per_order=[0-9.]*' "$dir.exec.out")"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

pp_med=(); pp_p99=(); pl_rate=(); pl_cpu=()
for i in $(seq 1 "$RUNS"); do
  line="$(run_one "pingpong-$i" pingpong 2000)"
  echo "run $i: $line"
  pp_med+=("$(sed -n 's/.*median_us=\([0-9.]*\).*/\1/p' <<<"$line")")
  pp_p99+=("$(sed -n 's/.*p99_us=\([0-9.]*\).*/\1/p' <<<"$line")")
done
for i in $(seq 1 "$RUNS"); do
  line="$(run_one "pipelined-$i" pipelined 20000 --window "$WINDOW")"
  echo "run $i: $line"
  pl_rate+=("$(sed -n 's/.*orders_per_sec=\([0-9]*\).*/\1/p' <<<"$line")")
  pl_cpu+=("$(sed -n 's/.*cpu_us_per_order=\([0-9.]*\).*/\1/p' <<<"$line")")
done
echo "BASELINE store_log=$MODE window=$WINDOW runs=$RUNS" \
  "pingpong_median_us=$(printf '%s\n' "${pp_med[@]}" | median)" \
  "pingpong_p99_us=$(printf '%s\n' "${pp_p99[@]}" | median)" \
  "pipelined_orders_per_sec=$(printf '%s\n' "${pl_rate[@]}" | median)" \
  "pipelined_executor_cpu_us_per_order=$(printf '%s\n' "${pl_cpu[@]}" | median)"
