#!/usr/bin/env bash
# GET /metrics after a small full run (TCP feed with duplicates, malformed lines and gaps; pushes;
# a gateway that fails some sends and delivers, with STOP replies): every family the operations
# docs name is there, in valid exposition format, and the counts agree with the database. Only
# allowed addresses get it. The log, in JSON lines, parses, carries request and survey ids, and
# holds no phone number.
#   tests/e2e/metrics_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"
ensure_packages python3

url=$(new_database "metrics_$$_$RANDOM")
port=$(free_port)
port_gw=$(free_port)
feed_port=$(free_port)
count=400
"$BUILD/cw-sim" serve --listen "127.0.0.1:$feed_port" --rate 400 --count "$count" --seed 12 \
  --duplicate-rate 0.05 --malformed-rate 0.03 --gap-rate 0.01 --heartbeat-s 1 \
  >"$work/cw-sim.log" 2>&1 &
pids+=($!)
export_secrets
export SURVEYD_DATABASE_URL="$url" SURVEYD_HTTP_LISTEN="127.0.0.1:$port"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port" SURVEYD_FEED_TCP="127.0.0.1:$feed_port"
export SURVEYD_FEED_TLS=false  # the simulator on this machine speaks plain TCP
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$port_gw" SURVEYD_GATEWAY_RATE=200
export SURVEYD_DISPATCH_BACKOFF_BASE=1 SURVEYD_DISPATCH_BACKOFF_MAX=1 SURVEYD_DISPATCH_POLL_MS=100
export SURVEYD_METRICS_SAMPLE_INTERVAL=1 SURVEYD_METRICS_ALLOW=127.0.0.1 SURVEYD_LOG_FORMAT=json
use_prompt_rules
"$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --fail-rate 0.2 --stop-rate 0.2 \
  --inbound-url "http://127.0.0.1:$port/api/v1/gateway/wmnow/inbound" --open-rate 0 \
  --response-rate 0 --delivery-delay-ms 100 --seed 4 >"$work/wmnow-sim.log" 2>&1 &
pids+=($!)
"$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd.log" 2>&1 &
pids+=($!)
wait_healthy "$port" "$port_gw"
"$BUILD/cw-sim" push --url "http://127.0.0.1:$port/api/v1/feed/events" --secret "$SURVEYD_FEED_SECRET" \
  --count 20 --batch 5 --rate 0 --seed 99 --quiet >"$work/cw-push.log" 2>&1 || fail "cw-sim push failed"

# Until the whole stream is stored, every message settled and every delivery report in.
stored() { sql "SELECT (SELECT count(*) FROM events WHERE source = 'tcp') + (SELECT count(*) FROM rejected_events WHERE source = 'tcp')"; }
# A STOP reply queues a confirmation after its survey text settled: settled means settled for a
# second on end.
settled=0
for _ in $(seq 1 300); do
  left=$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending', 'claimed', 'sending', 'accepted', 'sent')")
  cursor=$(sql "SELECT COALESCE(max(seq), 0) FROM feed_cursors")
  if [ "$left" = 0 ] && [ "$cursor" -ge "$count" ]; then settled=$((settled + 1)); else settled=0; fi
  [ "$settled" -ge 5 ] && break
  sleep 0.2
done
[ "$left" = 0 ] || fail "$left message(s) unsettled after 60 s"
sleep 1.5  # one more sample of the outbox, one more feed tick

metrics=$(curl -fs "http://127.0.0.1:$port/metrics") || fail "no /metrics on loopback"
printf '%s\n' "$metrics" >"$work/metrics.txt"
value() {  # value 'name{labels}': the sample's value, or empty
  awk -v key="$1" 'index($0, key " ") == 1 { print $NF }' "$work/metrics.txt"
}
sum() {  # sum PATTERN: the total of the samples whose line matches the regex
  awk -v re="$1" '$0 ~ re && $1 !~ /^#/ { s += $NF } END { printf "%d\n", s }' "$work/metrics.txt"
}
expect() {  # expect WHAT ACTUAL EXPECTED
  [ "$2" = "$3" ] || fail "$1: /metrics says '$2', expected '$3'"
}
positive() { awk -v v="$2" 'BEGIN { exit !(v > 0) }' || fail "$1: '$2' is not positive"; }

# Valid exposition format: comments, or name{labels} value.
bad=$(grep -Ev '^(# (HELP|TYPE) [a-z_:]+ .+|[a-z_:]+(\{([a-z_]+="([^"\\]|\\.)*",?)+\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf))$' "$work/metrics.txt" || true)
[ -z "$bad" ] || fail "lines not in the Prometheus text format: $bad"

# Events by type and outcome, against the database.
expect "tcp events accepted" "$(sum '^surveyd_events_total\{source="tcp",.*outcome="accepted"')" \
  "$(sql "SELECT count(*) FROM events WHERE source = 'tcp'")"
expect "tcp lines rejected" "$(sum '^surveyd_events_total\{source="tcp",.*outcome="rejected"')" \
  "$(sql "SELECT count(*) FROM rejected_events WHERE source = 'tcp'")"
positive "tcp duplicates" "$(sum '^surveyd_events_total\{source="tcp",.*outcome="duplicate"')"
positive "unreadable lines" "$(sum '^surveyd_events_total\{source="tcp",type="unreadable",outcome="rejected"')"
positive "call.ended accepted" "$(value 'surveyd_events_total{source="tcp",type="call.ended",outcome="accepted"}')"
expect "pushed events" "$(sum '^surveyd_events_total\{source="push",')" 20
# Decisions by rule.
expect "decisions to survey" "$(value 'surveyd_decisions_total{rule="survey"}')" "$(sql "SELECT count(*) FROM surveys")"
positive "exclusions" "$(sum '^surveyd_decisions_total\{rule="exclusion:')"
expect "every decision" "$(sum '^surveyd_decisions_total\{')" "$(sql "SELECT count(*) FROM events")"
# Messages by outcome, the gateway's latency, the queue.
sent=$(sql "SELECT count(*) FROM outbox WHERE state IN ('accepted', 'sent', 'delivered')")
expect "messages accepted" "$(value 'surveyd_messages_total{outcome="accepted"}')" "$sent"
positive "messages retried" "$(value 'surveyd_messages_total{outcome="retry"}')"
expect "send latency count" "$(value 'surveyd_gateway_send_seconds_count{gateway="wmnow",result="accepted"}')" "$sent"
expect "send latency +Inf bucket" "$(value 'surveyd_gateway_send_seconds_bucket{gateway="wmnow",result="accepted",le="+Inf"}')" "$sent"
positive "send latency sum" "$(value 'surveyd_gateway_send_seconds_sum{gateway="wmnow",result="accepted"}')"
expect "pending messages" "$(value 'surveyd_outbox_messages{state="pending"}')" 0
expect "sending messages" "$(value 'surveyd_outbox_messages{state="sending"}')" 0
expect "oldest due" "$(value 'surveyd_outbox_oldest_due_seconds')" 0
positive "outbox read at" "$(value surveyd_outbox_sample_last_success_timestamp_seconds)"
# The feed.
expect "feed leader" "$(value surveyd_feed_leader)" 1
expect "feed seq" "$(value surveyd_feed_seq)" "$(sql "SELECT seq FROM feed_cursors")"
positive "feed lag" "$(value surveyd_feed_lag_seconds)"
positive "feed gaps" "$(value surveyd_feed_seq_gaps_total)"
positive "feed heartbeats" "$(value surveyd_feed_heartbeats_total)"
# HTTP by route and status.
expect "pushes answered 202" "$(value 'surveyd_http_requests_total{route="/api/v1/feed/events",status="202"}')" 4
positive "delivery reports" "$(sum '^surveyd_http_requests_total\{route="/api/v1/gateway/wmnow/status",status="2')"
positive "STOP replies" "$(sum '^surveyd_http_requests_total\{route="/api/v1/gateway/wmnow/inbound",status="2')"
# The database pool, the rules, the loops.
expect "pool size" "$(value surveyd_db_pool_size)" \
  "$(sed -n 's/^  pool_size: *\([0-9]*\).*/\1/p' "$SRC/config/surveyd.yaml")"  # the shipped config's
positive "pool open" "$(value 'surveyd_db_pool_connections{state="open"}')"
version=$(sha256sum "$SURVEYD_RULES" | cut -c1-12)
expect "rules version" "$(value "surveyd_rules_info{version=\"$version\"}")" 1
expect "rules loads failed" "$(value 'surveyd_rules_loads_total{result="failed"}')" 0
expect "sending (not paused)" "$(value 'surveyd_gateway_sending{gateway="wmnow"}')" 1
for loop in dispatcher feed http; do
  expect "$loop stalled" "$(value "surveyd_loop_stalled{loop=\"$loop\"}")" 0
done

# Only metrics.allow: from 127.0.0.2 (still loopback, not allowed) it does not exist.
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "http://127.0.0.1:$port/metrics")
expect "/metrics from 127.0.0.2" "$code" 404

# The log: JSON lines, ids where they belong, no number.
python3 - "$work/surveyd.log" <<'EOF' || fail "the JSON log is not as it should be"
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert all({"ts", "level", "msg"} <= set(l) for l in lines), "a line without ts, level or msg"
requests = [l for l in lines if "request_id" in l]
surveys = [l for l in lines if "survey_id" in l]
assert any(l["msg"].startswith("text through wmnow: opt_out") for l in requests), "no request line (STOP replies)"
assert any(l["msg"].startswith("dispatch: message") for l in surveys), "no survey line (retries)"
print(f"{len(lines)} JSON log lines, {len(requests)} with a request id, {len(surveys)} with a survey id")
EOF
no_personal_data '' "$work/surveyd.log"
echo "metrics: every family present and agreeing with the database; allow-list; JSON log: 1 passed, 0 failed"
