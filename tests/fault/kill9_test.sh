#!/usr/bin/env bash
# kill -9 at random moments, with two instances sharing one database, one TCP feed and one
# misbehaving WMNow-style gateway; then tests/fault/check reads the database, the ids the feed sent
# and the gateway's log, and every invariant must hold (docs/invariants.md). After each restart
# the instance must be ready again within 10 s (I6).
#   tests/fault/kill9_test.sh BUILD_DIR SOURCE_DIR           bounded: 2,000 events, 12 kills
#   SURVEYD_FAULT_LONG=1 tests/fault/kill9_test.sh ...       long: 12,000 events, 60 kills
#   (needs SURVEYD_TEST_DATABASE_URL, as scripts/test sets)
source "$(dirname "$0")/../e2e/lib.sh" "$@"

if [ "${SURVEYD_FAULT_LONG:-0}" = 1 ]; then count=12000 kills=60 rate=150; else count=2000 kills=12 rate=70; fi
url=$(new_database "kill9_$$_$RANDOM")
sql() { psql -X -At "$url" -c "$1"; }
feed_port=$(free_port); port_gw=$(free_port); port_a=$(free_port); port_b=$(free_port)
export_secrets
export SURVEYD_DATABASE_URL="$url" SURVEYD_FEED_TCP="127.0.0.1:$feed_port" SURVEYD_FEED_TLS=false
export SURVEYD_FEED_SILENCE_TIMEOUT=3 SURVEYD_FEED_BATCH_WAIT_MS=50
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$port_gw" SURVEYD_GATEWAY_TIMEOUT_MS=500
export SURVEYD_DISPATCH_POLL_MS=100 SURVEYD_DISPATCH_BACKOFF_BASE=1 SURVEYD_DISPATCH_BACKOFF_MAX=2
export SURVEYD_DISPATCH_MAX_ATTEMPTS=30 SURVEYD_DISPATCH_LEASE=3 SURVEYD_DISPATCH_WORKERS=2
use_prompt_rules

"$BUILD/cw-sim" serve --listen "127.0.0.1:$feed_port" --rate "$rate" --count "$count" --seed 11 \
  --duplicate-rate 0.01 --malformed-rate 0.002 --record "$work/sent.txt" >"$work/cw-sim.log" 2>&1 &
sim_pid=$!; pids+=($sim_pid)
# 503s, 429s and answers that come too late (the request went out: in doubt).
"$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --fail-rate 0.05 --throttle-rate 0.05 \
  --hang-rate 0.05 --hang-ms 900 --open-rate 0 --response-rate 0 --delivery-delay-ms 1000 \
  --seed 4 >"$work/wmnow-sim.log" 2>&1 &
pids+=($!)
"$BUILD/surveyd" migrate -c "$SRC/config/surveyd.yaml" >/dev/null

declare -A pid_of
start() {  # start a|b
  local port; port=$([ "$1" = a ] && echo "$port_a" || echo "$port_b")
  SURVEYD_HTTP_LISTEN="127.0.0.1:$port" SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port" \
    "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >>"$work/surveyd-$1.log" 2>&1 &
  pid_of[$1]=$!; pids+=($!)
}
ready_within() {  # ready_within PORT SECONDS
  for _ in $(seq 1 $(($2 * 10))); do
    curl -fs "http://127.0.0.1:$1/readyz" 2>/dev/null | grep -q '"ready":true' && return 0
    sleep 0.1
  done
  return 1
}
start a; start b
wait_healthy "$port_a" "$port_b" "$port_gw"

# Kill one instance or the other at random moments (0.5 to 2.5 s apart), restarting it at once.
RANDOM=7
for k in $(seq 1 "$kills"); do
  sleep "$((RANDOM % 5 / 2)).$((RANDOM % 10))"
  victim=$([ $((RANDOM % 2)) = 0 ] && echo a || echo b)
  kill -9 "${pid_of[$victim]}" 2>/dev/null || true
  wait "${pid_of[$victim]}" 2>/dev/null || true
  start "$victim"
  port=$([ "$victim" = a ] && echo "$port_a" || echo "$port_b")
  ready_within "$port" 10 || fail "instance $victim not ready 10 s after kill $k"
done
echo "$kills kills done at $(sql "SELECT count(*) FROM events") events stored"

# Let the feed finish and everything settle: every line stored, nothing left to send.
for _ in $(seq 1 900); do
  stored=$(sql "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM rejected_events)")
  open=$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending','claimed','sending')")
  [ "$(sql "SELECT count(*) FROM events")" -ge "$count" ] && [ "$open" = 0 ] && break
  sleep 0.2
done
[ "$open" = 0 ] || fail "$open message(s) still open: $(sql "SELECT state, count(*) FROM outbox GROUP BY 1")"
sleep 1.5  # the last delivery reports
kill -TERM "$sim_pid"; wait "$sim_pid" 2>/dev/null || true
echo "outbox: $(sql "SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM outbox GROUP BY 1 ORDER BY 1) s")"

python3 "$SRC/tests/fault/check" --database "$url" --surveyd "$BUILD/surveyd" --rules "$SURVEYD_RULES" \
  --sent "$work/sent.txt" --gateway-log "$work/wmnow-sim.log" || fail "an invariant does not hold"
# The checker must be able to fail: the same run with one text taken twice by the gateway.
first=$(grep -m1 'wmnow-sim: accepted' "$work/wmnow-sim.log")
{ cat "$work/wmnow-sim.log"; echo "$first"; } >"$work/doubled.txt"
if python3 "$SRC/tests/fault/check" --database "$url" --surveyd "$BUILD/surveyd" \
  --rules "$SURVEYD_RULES" --gateway-log "$work/doubled.txt" >"$work/doubled.out"; then
  fail "the checker missed a text taken twice"
fi
grep -q '^FAIL I3 at most one text per survey' "$work/doubled.out" || fail "the checker named the wrong invariant"
if grep -hE '(\+44|\b0)7700 ?9[0-9]{5}|\+447700' "$work"/surveyd-*.log; then
  fail "a phone number in the service's log"
fi
echo "kill -9: 1 passed, 0 failed"
