#!/usr/bin/env bash
# Validates qf-initiator against qf-executor (no venue needed):
#   1. resend scenario against --mode match (expects RESULT ok), run twice on
#      the same --dir so the second run starts from persisted sequence numbers;
#   2. pingpong and pipelined against --mode ack (small N);
#   3. negative controls: a fresh initiator store against an acceptor that
#      remembers the session must fail (unsolicited Logout); --mode bad (ExecutionReport with a field FIX 4.4 does
#      not define) must give RESULT fail with a REJECT dir=out line; resend
#      against --mode ack (no fills) must fail; a wrong password must fail and
#      the right one pass.
#
#   tests/quickfix/selftest.sh BIN_DIR [PORT]
# BIN_DIR holds qf-initiator / qf-executor / FIX44.xml (from build.sh).
# Prints `N passed, N failed` and exits non-zero on any failure.
set -uo pipefail

BIN="${1:?usage: selftest.sh BIN_DIR [PORT]}"
PORT="${2:-19890}"
WORK="$(mktemp -d /tmp/qf-selftest.XXXXXX)"
pass=0
fail=0
EXEC_PID=""

stop_executor() {
  if [ -n "$EXEC_PID" ]; then
    kill "$EXEC_PID" 2>/dev/null
    wait "$EXEC_PID" 2>/dev/null
    EXEC_PID=""
  fi
}
trap stop_executor EXIT

start_executor() { # name, args...
  local name="$1"; shift
  "$BIN/qf-executor" --port "$PORT" --dir "$WORK/exec-$name" "$@" >"$WORK/exec-$name.out" 2>&1 &
  EXEC_PID=$!
  for _ in $(seq 1 50); do
    grep -q '^LISTENING' "$WORK/exec-$name.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "executor $name did not start"; cat "$WORK/exec-$name.out"; return 1
}

check() { # name, expected (ok|fail), grep pattern that must appear, initiator args...
  local name="$1" want="$2" pattern="$3"; shift 3
  timeout 120 "$BIN/qf-initiator" --port "$PORT" "$@" >"$WORK/$name.out" 2>&1
  local rc=$?
  local result
  result="$(grep '^RESULT' "$WORK/$name.out" | tail -1)"
  local ok=1
  if [ "$want" = ok ] && [ $rc -ne 0 ]; then ok=0; fi
  if [ "$want" = fail ] && [ $rc -ne 1 ]; then ok=0; fi
  if [ -n "$pattern" ] && ! grep -Eq "$pattern" "$WORK/$name.out"; then ok=0; fi
  if [ $ok = 1 ]; then
    pass=$((pass + 1)); echo "PASS $name: $result"
  else
    fail=$((fail + 1)); echo "FAIL $name (rc=$rc, wanted $want, pattern '$pattern'): $result"
    sed 's/^/    /' "$WORK/$name.out" | tail -40
  fi
  grep -E '^(PINGPONG|PIPELINED)' "$WORK/$name.out" | sed 's/^/    /'
}

# Each executor instance gets its own initiator --dir: both sides persist
# sequence numbers, so the two stores must belong together.
start_executor match --mode match || exit 1
check resend-1 ok 'possdup=Y .*exec_type=F' --scenario resend --dir "$WORK/init-match"
check resend-2 ok 'possdup=Y .*exec_type=F' --scenario resend --dir "$WORK/init-match" --orders 8
check pingpong-match ok '^PINGPONG ' --scenario pingpong --orders 20 --warmup 0 --side alternate --dir "$WORK/init-match"
# the initiator forgets its sequence numbers, the acceptor does not: must fail
check stale-sequence fail '^RESULT fail .*MsgSeqNum too low' --scenario resend --fresh --timeout-secs 5 --dir "$WORK/init-match"
stop_executor

start_executor ack --mode ack || exit 1
check pingpong ok '^PINGPONG ' --scenario pingpong --orders 200 --dir "$WORK/init-ack"
check pipelined ok '^PIPELINED ' --scenario pipelined --orders 2000 --dir "$WORK/init-ack"
check resend-without-fills fail '^RESULT fail timed out waiting for fills' --scenario resend --timeout-secs 3 --dir "$WORK/init-ack"
stop_executor

start_executor bad --mode bad || exit 1
check invalid-er fail '^REJECT session=CLIENT1 dir=out msg_type=3 .*ref_tag=20' --scenario pingpong --orders 3 --warmup 0 --timeout-secs 3 --dir "$WORK/init-bad"
stop_executor

start_executor pw --mode ack --password s3cret || exit 1
check password-missing fail '^RESULT fail .*bad password' --scenario pingpong --orders 3 --warmup 0 --timeout-secs 3 --dir "$WORK/init-pw"
check password-ok ok '' --scenario pingpong --orders 3 --warmup 0 --password s3cret --dir "$WORK/init-pw"
stop_executor

echo "work dir: $WORK"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
