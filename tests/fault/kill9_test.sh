#!/usr/bin/env bash
# kill -9 at random moments, with two instances sharing one database, one TCP feed and one
# misbehaving WMNow-style gateway; then tests/fault/check reads the database, the ids the feed sent
# and the gateway's log, and every invariant must hold (docs/invariants.md), the answers the
# simulated citizens were thanked for among them (I5). After each restart the instance must be
# ready again within 10 s (I6).
#   tests/fault/kill9_test.sh BUILD_DIR SOURCE_DIR           bounded: 2,000 events, 12 kills
#   SURVEYD_FAULT_LONG=1 tests/fault/kill9_test.sh ...       long: 12,000 events, 60 kills
#   (needs SURVEYD_TEST_DATABASE_URL, as scripts/test sets)
source "$(dirname "$0")/lib.sh" "$@"

if [ "${SURVEYD_FAULT_LONG:-0}" = 1 ]; then count=12000 kills=60 rate=150; else count=2000 kills=12 rate=70; fi
fault_database "kill9_$$_$RANDOM"
fault_environment

start_feed "$count" "$rate" 11 --duplicate-rate 0.01 --malformed-rate 0.002
# 503s, 429s and answers that come too late (the request went out: in doubt); citizens answer a
# third of the texts, some in words that raise alerts, and every thank-you page is recorded (I5).
start_gateway --fail-rate 0.05 --throttle-rate 0.05 --hang-rate 0.05 --hang-ms 900 --seed 4 \
  --open-rate 0.4 --response-rate 0.3 --answer-delay-ms 400 --alarm-rate 0.3 \
  --answers-log "$work/thanked.txt"
start_both

# Kill one instance or the other at random moments (0.5 to 2.5 s apart), restarting it at once.
RANDOM=7
for k in $(seq 1 "$kills"); do
  sleep "$((RANDOM % 5 / 2)).$((RANDOM % 10))"
  victim=$([ $((RANDOM % 2)) = 0 ] && echo a || echo b)
  kill -9 "${pid_of[$victim]}" 2>/dev/null || true
  wait "${pid_of[$victim]}" 2>/dev/null || true
  start_instance "$victim"
  ready_within "$(port_of "$victim")" 10 || fail "instance $victim not ready 10 s after kill $k"
done
echo "$kills kills done at $(events_stored) events stored"

# Let the feed finish and everything settle: every line stored, nothing left to send.
settle 180
check_invariants --answers-log "$work/thanked.txt"
# The checker must be able to fail: the same run with one text taken twice by the gateway.
first=$(grep -m1 'wmnow-sim: accepted' "$work/wmnow-sim.log")
{ cat "$work/wmnow-sim.log"; echo "$first"; } >"$work/doubled.txt"
if python3 "$SRC/tests/fault/check" --database "$url" --surveyd "$BUILD/surveyd" \
  --rules "$SURVEYD_RULES" --only I3 --gateway-log "$work/doubled.txt" >"$work/doubled.out"; then
  fail "the checker missed a text taken twice"
fi
grep -q '^FAIL I3 at most one text per survey' "$work/doubled.out" || fail "the checker named the wrong invariant"
no_numbers_in_logs
echo "kill -9: 1 passed, 0 failed"
