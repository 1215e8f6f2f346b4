#!/usr/bin/env bash
# Ops hold every text, end to end with the real binaries: `surveyd sends hold` stops the texts of
# two running instances while events are still taken and decided; health and /metrics say who
# holds them and why; the API holds and releases too; `surveyd sends release` sends what waited,
# and `--cancel-waiting` cancels it instead.
#   tests/e2e/send_hold_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"

db="e2e_hold_$$_$RANDOM"
url=$(new_database "$db")
port_a=$(free_port); port_b=$(free_port); port_gw=$(free_port)
export_secrets
export SURVEYD_DATABASE_URL="$url"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port_a"
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$port_gw"
export SURVEYD_DISPATCH_POLL_MS=100
export SURVEYD_GATEWAY_RATE=500
export SURVEYD_FEED_TCP=""
use_prompt_rules
surveyd() { "$BUILD/surveyd" "$@" -c "$SRC/config/surveyd.yaml"; }

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# push ID...: one signed push of a clean call.ended per id, each from a number of its own.
phones=0
push() {
  local body="" id
  for id in "$@"; do
    phones=$((phones + 1))
    body+="${body:+,}{\"event_id\":\"$id\",\"type\":\"call.ended\",\"occurred_at\":\"$now\",\"incident\":{\"id\":\"I-$id\",\"type_code\":\"BURG-RES\",\"category\":\"crime\",\"grade\":\"P3\",\"qualifiers\":[]},\"call\":{\"id\":\"C-$id\",\"channel\":\"101\"},\"caller\":{\"phone\":\"07700 900$(printf '%03d' "$phones")\",\"phone_type\":\"mobile\",\"role\":\"victim\",\"age\":41}}"
  done
  body="[$body]"
  local ts sig
  ts=$(date +%s)
  sig=$(printf '%s' "$body" | feed_signature "$ts")
  curl -fs -o /dev/null -H 'Content-Type: application/json' -H "X-Feed-Timestamp: $ts" \
    -H "X-Feed-Signature: $sig" --data-binary "$body" "http://127.0.0.1:$port_a/api/v1/feed/events" ||
    fail "push of $* refused"
}
texts() { curl -fs "http://127.0.0.1:$port_gw/v1/messages?limit=1000" | grep -o '"to":"[^"]*"' | wc -l; }

"$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --open-rate 0 --response-rate 0 \
  --delivery-delay-ms 50 --seed 5 >"$work/wmnow-sim.log" 2>&1 &
pids+=($!)
surveyd migrate >/dev/null
SURVEYD_HTTP_LISTEN="127.0.0.1:$port_a" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" \
  >"$work/surveyd-a.log" 2>&1 &
pids+=($!)
SURVEYD_HTTP_LISTEN="127.0.0.1:$port_b" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" \
  >"$work/surveyd-b.log" 2>&1 &
pids+=($!)
wait_healthy "$port_a" "$port_b" "$port_gw"

# (Each output is read whole before it is searched: `cmd | grep -q` fails under pipefail when
# grep stops reading first.)
out=$(surveyd sends status)
[[ $out == *"no hold is open"* ]] || fail "status before any hold: $out"
out=$(surveyd sends hold 2>&1) && fail "a hold without a reason was taken: $out"
[[ $out == *"--reason"* ]] || fail "a hold without a reason should say what is missing: $out"
out=$(surveyd sends hold --reason "critical incident: Operation Larch")
[[ $out == *"every text is held"* && $out == *"Operation Larch"* ]] || fail "hold: $out"
[[ $out == *"where to get help (replies.help_now) still goes"* ]] ||
  fail "hold should say that help texts still go: $out"

push H-1 H-2 H-3
wait_for_query 10 "SELECT count(*) FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE s.event_id LIKE 'H-%'" "3"
sleep 2  # both instances' workers poll every 100 ms: any send would have gone by now
[ "$(texts)" = 0 ] || fail "texts went out under the hold: $(texts)"
[ "$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")" = 3 ] || fail "the texts should wait"
for port in "$port_a" "$port_b"; do
  h=$(health "$port")
  [[ $h == *'"held_by_ops"'* && $h == *'Operation Larch'* && $h == *'"sends_held":true'* ]] ||
    fail "health of :$port should say the texts are held, by whom and why: $h"
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || fail "a hold is no fault: :$port should stay ready"
done
metrics=$(curl -fs "http://127.0.0.1:$port_a/metrics")
grep -qx 'surveyd_sends_held_by_ops 1' <<<"$metrics" || fail "surveyd_sends_held_by_ops should be 1"
grep -q '^surveyd_sends_held_by_ops_last_success_timestamp_seconds [1-9]' <<<"$metrics" ||
  fail "surveyd_sends_held_by_ops_last_success_timestamp_seconds should say when it was read"
out=$(surveyd sends status)
[[ $out == *"Operation Larch"* ]] || fail "status under the hold: $out"

out=$(surveyd sends release --note "stood down")
[[ $out == *"released hold"* ]] || fail "release: $out"
wait_for_query 10 "SELECT count(*) FROM outbox WHERE state IN ('accepted', 'sent', 'delivered')" "3"
[ "$(texts)" = 3 ] || fail "the three texts that waited should have gone: $(texts)"
out=$(surveyd sends release 2>&1) && fail "a release with no hold should fail: $out"

# The API, with an ops token; then a release that cancels what waited.
ops_token=$(surveyd token create --role ops --name "duty ops" | tail -n 1)
api() {
  curl -s -o "$work/api.out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $ops_token" \
    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://127.0.0.1:$port_b$2"
}
[ "$(api POST /api/v1/sends/hold '{"reason":"wrong template live"}')" = 201 ] ||
  fail "API hold: $(cat "$work/api.out")"
grep -q '"held_by":"duty ops"' "$work/api.out" || fail "the token's name is recorded: $(cat "$work/api.out")"
push H-4 H-5
wait_for_query 10 "SELECT count(*) FROM outbox WHERE state = 'pending'" "2"
sleep 1
[ "$(texts)" = 3 ] || fail "no text under the API's hold: $(texts)"
[ "$(api POST /api/v1/sends/release '{"cancel_waiting":true,"note":"template fixed"}')" = 200 ] ||
  fail "API release: $(cat "$work/api.out")"
grep -q '"cancelled":2' "$work/api.out" || fail "two waiting texts cancelled: $(cat "$work/api.out")"
[ "$(sql "SELECT count(*) FROM outbox WHERE state = 'cancelled' AND cancel_reason = 'held_by_ops'")" = 2 ] ||
  fail "the cancelled texts should say why"
sleep 1
[ "$(texts)" = 3 ] || fail "cancelled texts went out: $(texts)"
[ "$(sql "SELECT count(*) FROM send_holds WHERE released_at IS NOT NULL")" = 2 ] || fail "both holds kept"
for port in "$port_a" "$port_b"; do
  h=$(health "$port")
  [[ $h != *'"held_by_ops"'* ]] || fail "health of :$port still says held: $h"
done

! grep -E '7700 ?900|447700' "$work"/surveyd-*.log || fail "a phone number in the log"
echo "PASS: held on both instances by the CLI and the API, seen by ops, released and cancelled"
