#!/usr/bin/env bash
# Sending through a misbehaving WMNow-style gateway, with the real adapter and the real daemon:
# 503s, 429 with Retry-After, and sends the gateway takes but answers too late (our timeout fires
# after the request went out: in doubt). Every survey must still reach the gateway exactly once:
# retries carry the same client_ref, and the gateway answers a repeat with 409, never a second SMS.
# Delivery reports come 4 s after a send, later than the retries, so that the resends happen (a
# report that comes first settles an in-doubt message without any resend).
#   tests/e2e/gateway_faults_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"

url=$(new_database "faults_$$_$RANDOM")
port=$(free_port); port_gw=$(free_port)
export_secrets
export SURVEYD_DATABASE_URL="$url" SURVEYD_HTTP_LISTEN="127.0.0.1:$port"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port"
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$port_gw"
export SURVEYD_GATEWAY_TIMEOUT_MS=300 SURVEYD_GATEWAY_RATE=200
export SURVEYD_DISPATCH_POLL_MS=100 SURVEYD_DISPATCH_BACKOFF_BASE=1 SURVEYD_DISPATCH_BACKOFF_MAX=2
export SURVEYD_DISPATCH_MAX_ATTEMPTS=20 SURVEYD_DISPATCH_WORKERS=3
# Nearly half the requests fail here, at random: the circuit breaker (which opens after a few
# failures in a row, tested in tests/integration/dispatch_test.cpp) would pause sending for most
# of the test. This test is about retries and deduplication, so it is kept closed.
export SURVEYD_DISPATCH_BREAKER_FAILURES=1000
unset SURVEYD_FEED_TCP
use_prompt_rules

"$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --fail-rate 0.2 --throttle-rate 0.1 \
  --hang-rate 0.15 --hang-ms 800 --open-rate 0 --response-rate 0 --delivery-delay-ms 4000 \
  --duplicate-rate 0.2 --reorder-rate 0.2 --seed 3 --show-numbers >"$work/wmnow-sim.log" 2>&1 &
pids+=($!)
"$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd.log" 2>&1 &
pids+=($!)
wait_healthy "$port" "$port_gw"

"$BUILD/cw-sim" push --url "http://127.0.0.1:$port/api/v1/feed/events" --secret "$SURVEYD_FEED_SECRET" \
  --count 300 --rate 0 --seed 21 --quiet >"$work/cw-sim.log" 2>&1 || fail "cw-sim push failed"

for _ in $(seq 1 300); do
  left=$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending','claimed','sending')")
  [ "$left" = 0 ] && break
  sleep 0.2
done
[ "$left" = 0 ] || fail "$left message(s) still unsent after 60 s"

# Every survey ends sent, cancelled (a later event of its incident or number ruled it out before
# any request) or in doubt (ruled out after a request whose answer never came: not sent again,
# the delivery reports settle it).
surveys=$(sql "SELECT count(*) FROM surveys")
sent=$(sql "SELECT count(*) FROM outbox WHERE state IN ('accepted','sent','delivered')")
cancelled=$(sql "SELECT count(*) FROM outbox WHERE state = 'cancelled'")
doubt=$(sql "SELECT count(*) FROM outbox WHERE state = 'in_doubt'")
[ $((sent + cancelled + doubt)) = "$surveys" ] ||
  fail "$sent sent, $cancelled cancelled and $doubt in doubt of $surveys surveys: $(sql "SELECT state, count(*) FROM outbox GROUP BY 1")"
stats=$(curl -fs "http://127.0.0.1:$port_gw/v1/stats")
stat() { echo "$stats" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
took=$(stat accepted)
[ "$took" -ge "$sent" ] && [ "$took" -le $((sent + doubt)) ] ||
  fail "the gateway took $took messages for $sent sent and $doubt in doubt: $stats"
retries=$(sql "SELECT count(*) FROM send_attempts WHERE result = 'retry'")
[ "$retries" -gt 0 ] || fail "no retries: the faults were not exercised"
[ "$(stat duplicates)" -gt 0 ] || fail "no resend of an in-doubt message was answered 409: $stats"
[ "$(stat throttled)" -gt 0 ] || fail "no 429 was exercised: $stats"
# One SMS per number, whatever happened on the way.
numbers=$(curl -fs "http://127.0.0.1:$port_gw/v1/messages?limit=1000" | grep -o '"to":"[^"]*"' | sort | uniq -d | wc -l)
[ "$numbers" = 0 ] || fail "$numbers number(s) texted twice"
delivered=$(sql "SELECT count(*) FROM outbox WHERE state = 'delivered'")
echo "gateway faults: $surveys surveys, $retries retries, $(stat duplicates) resends answered 409, $(stat throttled) throttled, $delivered delivered: 1 passed, 0 failed"
