#!/usr/bin/env bash
# Fail closed, end to end with the real binaries: poison events in the TCP stream and in a push are
# rejected alone while everything after them is stored and texted; a flag that arrives only on a
# later event of the incident cancels the queued text, and so does a later line of the incident
# too malformed to read as an event; and a feed that is connected but cannot
# store what it reads (a read-only database) turns /readyz unready, then recovers.
#   tests/e2e/fail_closed_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"

db="e2e_fc_$$_$RANDOM"
url=$(new_database "$db")
port=$(free_port); port_gw=$(free_port); port_feed=$(free_port)
export_secrets
export SURVEYD_DATABASE_URL="$url"
export SURVEYD_HTTP_LISTEN="127.0.0.1:$port"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port"
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$port_gw"
export SURVEYD_DISPATCH_POLL_MS=100
export SURVEYD_GATEWAY_RATE=500
export SURVEYD_FEED_TCP="127.0.0.1:$port_feed"
export SURVEYD_FEED_TLS=false  # the simulator on this machine speaks plain TCP
export SURVEYD_FEED_NAME="e2e-fail-closed"
export SURVEYD_FEED_UNREADY_AFTER=3
export SURVEYD_FEED_SILENCE_TIMEOUT=5
# Texts wait 3 s after the call: long enough for a later event of the incident to cancel one.
use_prompt_rules 3s

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# event SEQ ID INCIDENT PHONE [QUALIFIERS] [TYPE]: one contract event on one line.
event() {
  local seq=$1 id=$2 incident=$3 phone=$4 qualifiers=${5:-} type=${6:-call.ended}
  local seq_field=""
  [ "$seq" != "-" ] && seq_field="\"seq\":$seq,"
  local who='"call":{"id":"C-'$id'","channel":"101"}'
  [ "$type" = resource.departed ] && who='"resource":{"officer_id":"PC4521","department":"Response"}'
  printf '{%s"event_id":"%s","type":"%s","occurred_at":"%s","incident":{"id":"%s","type_code":"BURG-RES","category":"crime","grade":"P3","qualifiers":[%s]},%s,"caller":{"phone":"%s","phone_type":"mobile","role":"victim","age":41}}\n' \
    "$seq_field" "$id" "$type" "$now" "$incident" "$qualifiers" "$who" "$phone"
}

feed="$work/feed.ndjson"
{
  event 1 FC-A INC-A "07700 900301"
  # Year 0000 cannot be stored: before, it stopped the stream for good.
  event 2 FC-POISON-TIME INC-P "07700 900302" | sed "s/$now/0000-01-01T00:00:00Z/"
  # A NUL byte inside a string: stored cleaned, never a reason to stop.
  event 3 FC-NUL INC-N "07700 900303" | sed 's/"grade":"P3"/"grade":"P3","type_label":"a\\u0000b"/'
  # A line of 2 MiB: too long to keep, but read as it passes. It closes FC-B's incident as
  # domestic, and names the incident and the number only after its 2 MiB label: rejected, it
  # still holds FC-B, the call after it in the stream (decided after it whatever the batches:
  # a text queued before it may be sent first, as the events are older than their delay by the
  # time a slow start reads them).
  printf '{"seq":4,"event_id":"FC-HUGE","type":"incident.closed","occurred_at":"%s","incident":{"type_label":"%s","id":"INC-B","qualifiers":["DOMESTIC"]},"caller":{"phone":"07700 900305"}}\n' \
    "$now" "$(head -c 2097152 /dev/zero | tr '\0' x)"
  event 5 FC-B INC-B "07700 900305"
  # The call ends clean; the attending officer's departure carries the flag.
  event 6 FC-C INC-C "07700 900306"
  event 7 FC-C-RD INC-C "" '"DOMESTIC"' resource.departed
  # The incident's close says it was domestic, but its time cannot be read: rejected, it still
  # holds the text of its incident.
  event 8 FC-E INC-E "07700 900307"
  event 9 FC-E-IC INC-E "" '"DOMESTIC"' incident.closed | sed "s/$now/yesterday teatime/"
} >"$feed"

python3 "$SRC/tests/e2e/feed_server.py" "$port_feed" "$feed" >"$work/feed.log" 2>&1 &
pids+=($!)
"$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --open-rate 0 --response-rate 0 \
  --delivery-delay-ms 50 --seed 3 >"$work/wmnow-sim.log" 2>&1 &
pids+=($!)
"$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd.log" 2>&1 &
pids+=($!)
wait_healthy "$port" "$port_gw"

# --- The TCP stream: each poison line rejected alone, the stream goes on ----------------------
wait_for_query 20 "SELECT count(*) FROM events" "6"
[ "$(sql "SELECT string_agg(event_id, ',' ORDER BY seq) FROM events")" = "FC-A,FC-NUL,FC-B,FC-C,FC-C-RD,FC-E" ] ||
  fail "stored: $(sql "SELECT string_agg(event_id, ',' ORDER BY seq) FROM events")"
rejected=$(sql "SELECT string_agg(seq || ':' || reject_reason, ' | ' ORDER BY seq) FROM rejected_events")
[[ $rejected == *"2:occurred_at"* ]] || fail "the year-0000 event is rejected for its time: $rejected"
[[ $rejected == *"4:line longer than 1048576 bytes"* ]] || fail "the huge line is rejected: $rejected"
[ "$(sql "SELECT length(raw) < 2000 FROM rejected_events WHERE seq = 4")" = t ] ||
  fail "a rejected long line keeps only its start"
[[ $rejected == *"9:occurred_at"* ]] || fail "the unreadable close is rejected: $rejected"
[ "$(sql "SELECT seq FROM feed_cursors")" = 9 ] || fail "the cursor moved past every line"

# --- The whole incident decides: the later flag cancels the queued text ----------------------
wait_for_query 20 "SELECT string_agg(s.event_id || ':' || CASE WHEN o.state IN ('accepted', 'sent', 'delivered') THEN 'sent' ELSE o.state END, ',' ORDER BY s.event_id) FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE o.state NOT IN ('pending', 'claimed', 'sending') AND s.event_id NOT IN ('FC-B', 'FC-E')" \
  "FC-A:sent,FC-C:cancelled,FC-NUL:sent"
[ "$(sql "SELECT cancel_reason || '|' || cancelled_by FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE s.event_id = 'FC-C'")" = "exclusion:domestic_abuse|FC-C-RD" ] ||
  fail "cancelled why: $(sql "SELECT cancel_reason || '|' || cancelled_by FROM outbox WHERE state = 'cancelled'")"
# FC-E and its close came in one batch (excluded when decided) or in two (its text cancelled).
held=$(sql "SELECT coalesce((SELECT o.state || ':' || o.cancel_reason || '|' || o.cancelled_by FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE s.event_id = 'FC-E'), (SELECT decision || ':' || decision_reason FROM events WHERE event_id = 'FC-E'))")
[[ $held == "cancelled:insufficient_data:rejected_event|rejected_line" ||
   $held == "excluded:insufficient_data:rejected_event" ]] || fail "FC-E held by its unreadable close: $held"
held=$(sql "SELECT coalesce((SELECT o.state || ':' || o.cancel_reason || '|' || o.cancelled_by FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE s.event_id = 'FC-B'), (SELECT decision || ':' || decision_reason FROM events WHERE event_id = 'FC-B'))")
[[ $held == "cancelled:insufficient_data:rejected_event|rejected_line" ||
   $held == "excluded:insufficient_data:rejected_event" ]] || fail "FC-B held by the 2 MiB line: $held"
[ "$(sql "SELECT incident_id || '|' || (phone_hash IS NOT NULL) FROM rejected_events WHERE seq = 4")" = "INC-B|true" ] ||
  fail "the 2 MiB line names its incident and number: $(sql "SELECT incident_id, phone_hash FROM rejected_events WHERE seq = 4")"
has "$(sql "SELECT decision_trace::text FROM events WHERE event_id = 'FC-C-RD'")" '*cancelled:survey_of:FC-C:exclusion:domestic_abuse*' ||
  fail "the later event's trace names the survey it cancelled"
texts=$(curl -fs "http://127.0.0.1:$port_gw/v1/messages?limit=100" | grep -o '"to":"[^"]*"' | wc -l)
[ "$texts" = 2 ] || fail "two texts (A, NUL), none for B or C: $texts"
funnel=$(curl -fs -H "Authorization: Bearer $SURVEYD_ANALYST_TOKEN" "http://127.0.0.1:$port/api/v1/funnel")
[[ $funnel == *'"cancelled_by_reason":{"exclusion:domestic_abuse":1'* ]] || fail "funnel: $funnel"

# --- The push: the same poison beside good events gets 202 with one result each --------------
body="[$(event - FC-P1 INC-P1 "07700 900311" | tr -d '\n'),$(event - FC-P2 INC-P2 "07700 900312" |
  sed "s/$now/0000-01-01T00:00:00Z/" | tr -d '\n'),$(event - FC-P3 INC-P3 "07700 900313" | tr -d '\n')]"
ts=$(date +%s)
sig=$(printf '%s' "$body" | feed_signature "$ts")
code=$(curl -s -o "$work/push.out" -w '%{http_code}' -H 'Content-Type: application/json' \
  -H "X-Feed-Timestamp: $ts" -H "X-Feed-Signature: $sig" --data-binary "$body" \
  "http://127.0.0.1:$port/api/v1/feed/events")
out=$(cat "$work/push.out")
[ "$code" = 202 ] || fail "push answered $code: $out"
[[ $out == *'"accepted":2'* && $out == *'"rejected":1'* ]] || fail "push results: $out"
wait_for_query 20 "SELECT count(*) FROM outbox WHERE state IN ('accepted', 'sent', 'delivered')" "4"

# --- A feed that cannot store what it reads is not ready, then recovers ----------------------
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || fail "ready before the stall"
admin_sql() { psql -X -At "$admin" -c "$1"; }
# What a fail-over to a replica looks like: every new session is read-only.
admin_sql "ALTER DATABASE $db SET default_transaction_read_only = on" >/dev/null
admin_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$db'" >/dev/null
event 10 FC-D INC-D "07700 900308" >>"$feed"
# The database answers, the feed is read: only the waiting events tell that nothing is stored.
# Unless the consumer's own session was among those ended just now: it then reads its cursor
# again, which a read-only session cannot lock, and lets the feed go (as it does whenever the
# database cannot take events). Ops must see one or the other, and the feed not ready either way.
stall_seen() {
  health "$port" | python3 -c 'import json, sys
feed = json.load(sys.stdin)["checks"]["feed"]
held_off = not feed["connected"] and "database unavailable" in feed.get("last_error", "")
sys.exit(0 if feed.get("stalled") is True or (held_off and not feed["ok"]) else 1)'
}
for _ in $(seq 1 150); do
  stall_seen && break
  sleep 0.1
done
stall_seen || fail "ops see the stall: $(health "$port")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
[ "$code" = 503 ] || fail "events waiting and none stored: /readyz should say unready, said $code"
admin_sql "ALTER DATABASE $db SET default_transaction_read_only = off" >/dev/null
admin_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$db'" >/dev/null
wait_for_query 30 "SELECT count(*) FROM events WHERE event_id = 'FC-D'" "1"
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || fail "ready again once the feed stores again"

! grep -E '7700 ?900|447700' "$work/surveyd.log" || fail "a phone number in the log"
echo "PASS: poison rejected alone, later flag and unreadable close cancel, stall seen and recovered"
