#!/usr/bin/env bash
# The same QuickFIX initiator runs as bench.sh, against the venue instead of
# qf-executor: the venue binary (release build) with a fresh data directory
# per run; VENUE_ARGS adds flags (e.g. "--durability process").
#
#   tests/quickfix/venue_bench.sh BIN_DIR VENUE_BIN [PORT] [RUNS] [file|lean]
set -uo pipefail

BIN="${1:?usage: venue_bench.sh BIN_DIR VENUE_BIN [PORT] [RUNS] [file|lean]}"
VENUE="${2:?usage: venue_bench.sh BIN_DIR VENUE_BIN [PORT] [RUNS] [file|lean]}"
PORT="${3:-19950}"
RUNS="${4:-3}"
MODE="${5:-file}"
WORK="$(mktemp -d /tmp/venue-bench.XXXXXX)"
if [ "$MODE" = lean ]; then OPTS=(--store memory --log none); else OPTS=(--store file --log file); fi

VENUE_PID=""
stop_venue() { if [ -n "$VENUE_PID" ]; then kill -TERM "$VENUE_PID" 2>/dev/null; wait "$VENUE_PID" 2>/dev/null; VENUE_PID=""; fi; }
trap stop_venue EXIT

run_one() { # name scenario orders
  local dir="$WORK/$1"
  mkdir -p "$dir"
  # shellcheck disable=SC2086
  "$VENUE" run --data "$dir/data" --fix-listen "127.0.0.1:$PORT" ${VENUE_ARGS:-} >"$dir.venue.out" 2>&1 &
  VENUE_PID=$!
  for _ in $(seq 1 100); do grep -q 'venue running' "$dir.venue.out" 2>/dev/null && break; sleep 0.1; done
  "$BIN/qf-initiator" --port "$PORT" --scenario "$2" --orders "$3" --no-events \
      --dir "$dir/init" "${OPTS[@]}" --timeout-secs 120 >"$dir.init.out" 2>&1
  stop_venue
  grep -E '^(PINGPONG|PIPELINED|RESULT fail)' "$dir.init.out"
}

for i in $(seq 1 "$RUNS"); do
  run_one "pp$i" pingpong 2000
  run_one "pl$i" pipelined 20000
done
rm -rf "$WORK"
