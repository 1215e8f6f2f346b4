#!/usr/bin/env bash
# Delivery reports duplicated and reordered, from 8 connections at once: two instances, the TCP
# feed, and a WMNow simulator whose callbacks are let go in bursts every 200 ms over up to 8
# kept-alive connections at once (--callback-connections 8), 30% of them twice (the copy in the
# same burst as the original, so that both are applied at the same moment), 30% of the messages
# with "delivered" before "sent", and 10% ending undeliverable. Then tests/fault/check with
# --final-states: each message ends where the simulator's log says it does ("<id> ends ..."),
# counted once in the analytics, and the other invariants; and the checker must fail when the log
# says one message ends otherwise, or when the analytics count one report twice.
#   tests/fault/callbacks_test.sh BUILD_DIR SOURCE_DIR      bounded: 600 events, about 20 s
#   SURVEYD_FAULT_LONG=1 tests/fault/callbacks_test.sh ...  long: 6,000 events
#   (needs SURVEYD_TEST_DATABASE_URL, as scripts/test sets)
source "$(dirname "$0")/lib.sh" "$@"

if [ "${SURVEYD_FAULT_LONG:-0}" = 1 ]; then count=6000 rate=150; else count=600 rate=60; fi
fault_database "callbacks_$$_$RANDOM"
fault_environment
export SURVEYD_DISPATCH_WORKERS=4

start_feed "$count" "$rate" 51 --duplicate-rate 0.01
start_gateway --duplicate-rate 0.3 --reorder-rate 0.3 --undeliverable-rate 0.1 \
  --callback-connections 8 --callback-burst-ms 200 --delivery-delay-ms 600 --seed 13
start_both
settle 120
# The last reports: every text the gateway took reaches its end.
for _ in $(seq 1 50); do
  [ "$(sql "SELECT count(*) FROM outbox WHERE state IN ('accepted', 'sent')")" = 0 ] && break
  sleep 0.2
done

stats=$(curl -fs "http://127.0.0.1:$port_gw/v1/stats")
stat() { echo "$stats" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
echo "gateway: $(stat accepted) taken, $(stat callbacks) callbacks, at most $(stat callbacks_at_once) at once, $(stat callback_failures) failed"
[ "$(stat callbacks_at_once)" -ge 8 ] || fail "never 8 callbacks at once: $stats"
[ "$(stat callback_failures)" = 0 ] || fail "the service refused callbacks: $stats"
twice=$(sql "SELECT count(*) - count(DISTINCT (client_ref, status)) FROM delivery_reports")
early=$(sql "SELECT count(*) FROM delivery_reports d JOIN delivery_reports s USING (client_ref)
  WHERE d.status = 'delivered' AND s.status = 'sent' AND d.received_at < s.received_at")
echo "reports: $twice received twice, $early 'delivered' before 'sent'"
[ "$twice" -ge 10 ] || fail "only $twice reports came twice: the fault was not exercised"
[ "$early" -ge 10 ] || fail "only $early reports came out of order: the fault was not exercised"
[ "$(sql "SELECT count(*) FROM outbox WHERE state = 'undeliverable'")" -ge 1 ] || fail "no text ended undeliverable"
check_invariants --final-states

# The checker must be able to fail: a message said to end otherwise than it did, and a report
# counted twice in the analytics.
sed '0,/ ends delivered /s// ends undeliverable /' "$work/wmnow-sim.log" >"$work/altered.log"
if python3 "$SRC/tests/fault/check" --database "$url" --surveyd "$BUILD/surveyd" \
  --rules "$SURVEYD_RULES" --gateway-log "$work/altered.log" --final-states >"$work/altered.out"; then
  fail "the checker missed a message that did not end as the gateway said"
fi
grep -q '^FAIL I3 each message ends as' "$work/altered.out" || fail "the checker named the wrong invariant"
sql "UPDATE analytics_cells_0 SET msg_delivered = msg_delivered + 1
  WHERE ctid = (SELECT ctid FROM analytics_cells_0 WHERE msg_delivered > 0 LIMIT 1)" >/dev/null
if python3 "$SRC/tests/fault/check" --database "$url" --surveyd "$BUILD/surveyd" \
  --rules "$SURVEYD_RULES" --gateway-log "$work/wmnow-sim.log" --final-states >"$work/twice.out"; then
  fail "the checker missed a delivery report counted twice"
fi
grep -q '^FAIL I3 each delivery report counted once' "$work/twice.out" || fail "the checker named the wrong invariant"
no_numbers_in_logs
echo "callbacks: 1 passed, 0 failed"
