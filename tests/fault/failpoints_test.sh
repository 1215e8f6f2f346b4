#!/usr/bin/env bash
# kill -9 at each named failpoint (include/surveyd/core/failpoint.hpp): two instances on one
# database, the TCP feed, signed HTTP pushes to both, a WMNow simulator whose citizens answer (some
# of them in words that raise alerts) and thank-you pages recorded, and the alerts' webhook and
# e-mail receivers. For each failpoint in turn one instance is stopped (SIGTERM) and started again
# with SURVEYD_FAILPOINT=NAME; it must die there by SIGKILL (exit 137, the failpoint's line in its
# log) within 20 s, or the run fails: an unreached failpoint cannot pass. It is started again
# unarmed and must be ready within 10 s (I6). Then everything settles and tests/fault/check holds
# the run to I1-I5: acked events stored once, one survey per eligible event, one text per survey,
# every answer thanked stored, every alert it should raise raised once and delivered or being
# retried; and the checker must fail on a doctored answers log and webhook log.
#   tests/fault/failpoints_test.sh BUILD_DIR SOURCE_DIR       bounded: each failpoint once, ~70 s
#   SURVEYD_FAULT_LONG=1 tests/fault/failpoints_test.sh ...   long: each three times, at hit 1-3
#   (needs SURVEYD_TEST_DATABASE_URL, as scripts/test sets; a build with SURVEYD_FAILPOINTS=ON)
source "$(dirname "$0")/lib.sh" "$@"

# The failpoints the service has, from their one list; each needs a scenario below.
mapfile -t names < <(sed -n '/failpoints-begin/,/failpoints-end/p' \
  "$SRC/include/surveyd/core/failpoint.hpp" | grep -oE '^ +"[a-z0-9_.]+"' | tr -d ' "')
[ "${#names[@]}" -ge 5 ] || fail "cannot read the failpoints from include/surveyd/core/failpoint.hpp"
# The order they are tried in: the alert send early, while answers still come in; the feed's
# while the feed still runs. Any failpoint not named here comes last, and fails for want of a
# scenario.
order=(dispatch.after_gateway_before_commit alerts.after_send_before_record
  feed.after_commit_before_ack push.after_commit_before_202 ingest.between_statements)
for name in "${names[@]}"; do
  [[ " ${order[*]} " == *" $name "* ]] || order+=("$name")
done

if [ "${SURVEYD_FAULT_LONG:-0}" = 1 ]; then
  count=6000 rate=60 pushed=2000 push_rate=20 rounds=3
else
  count=1800 rate=80 pushed=500 push_rate=20 rounds=1
fi
fault_database "failpoints_$$_$RANDOM"
fault_environment
export SURVEYD_STOP_TIMEOUT=10

# A typo must not make a run pass: an unknown failpoint is refused at start.
rc=0
SURVEYD_FAILPOINT=feed.after_commit_before_akc SURVEYD_HTTP_LISTEN="127.0.0.1:$port_a" \
  SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port_a" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/refused.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "unknown failpoint 'feed.after_commit_before_akc'" "$work/refused.log" ||
  fail "an unknown failpoint was not refused at start (exit $rc): $(tail -n 3 "$work/refused.log")"

# The alerts' receivers: a webhook that records each webhook-id, and the local SMTP relay.
cat >"$work/hook.py" <<'EOF'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"id": self.headers["webhook-id"]}) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
EOF
port_hook=$(free_port)
python3 "$work/hook.py" "$port_hook" "$work/hook.jsonl" >"$work/hook.log" 2>&1 &
pids+=($!)
start_smtp_relay
export SURVEYD_ALERT_WEBHOOK_URL="http://127.0.0.1:$port_hook/hook"
export SURVEYD_ALERT_WEBHOOK_SECRET="whsec_$(openssl rand -base64 24)"
# Quick polls, and a lease short enough that a notice whose notifier died goes again in the run.
export SURVEYD_ALERT_POLL_MS=100 SURVEYD_ALERT_LEASE=3 SURVEYD_ALERT_WEBHOOK_TIMEOUT_MS=1000
export SURVEYD_SMTP_TIMEOUT_MS=1000 SURVEYD_ALERT_BACKOFF_BASE=1 SURVEYD_ALERT_BACKOFF_MAX=2

start_feed "$count" "$rate" 13 --duplicate-rate 0.01 --malformed-rate 0.002
# Citizens open and answer quickly; a third of the answers say they are in danger or want to
# complain; every thank-you page is recorded (client refs only).
start_gateway --open-rate 0.7 --response-rate 0.6 --delivery-delay-ms 300 --answer-delay-ms 400 \
  --alarm-rate 0.3 --answers-log "$work/thanked.txt" --seed 6
start_both
"$BUILD/cw-sim" generate --now --count "$pushed" --seed 23 --duplicate-rate 0.01 \
  >"$work/pushed.ndjson" 2>"$work/cw-generate.log"
python3 "$SRC/tests/fault/push" --url "http://127.0.0.1:$port_a/api/v1/feed/events" \
  --url "http://127.0.0.1:$port_b/api/v1/feed/events" --secret "$SURVEYD_FEED_SECRET" \
  --events "$work/pushed.ndjson" --batch 5 --rate "$push_rate" --record "$work/acked-push.txt" \
  --log "$work/push-responses.txt" --give-up-s 300 >"$work/push.log" 2>&1 &
push_pid=$!; pids+=("$push_pid")

other() { [ "$1" = a ] && echo b || echo a; }
stop_instance() {  # stop_instance a|b: SIGTERM, exit 0 within the stop timeout
  local rc=0
  kill -TERM "${pid_of[$1]}"
  wait "${pid_of[$1]}" || rc=$?
  [ "$rc" = 0 ] || fail "instance $1 exited $rc after SIGTERM"
}
# arm VICTIM NAME HIT: the victim started again with the failpoint armed.
arm() {
  stop_instance "$1"
  export SURVEYD_FAILPOINT="$2@$3"
  start_instance "$1"
  unset SURVEYD_FAILPOINT
}
# died_there VICTIM NAME SECONDS TIMES: it must die by SIGKILL at that failpoint within SECONDS,
# which the logs then name TIMES in all.
died_there() {
  local victim=$1 name=$2 pid=${pid_of[$1]} rc=0
  for _ in $(seq 1 $(($3 * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "failpoint $name not reached by instance $victim within $3 s (events stored: $(events_stored), outbox: $(outbox_states))"
  fi
  wait "$pid" || rc=$?
  [ "$rc" = 137 ] || fail "instance $victim armed with $name exited $rc, not by SIGKILL (137)"
  grep -q "failpoint $name reached: SIGKILL" "$work/surveyd-$victim.log" &&
    [ "$(cat "$work"/surveyd-[ab].log | grep -c "failpoint $name reached: SIGKILL")" = "$4" ] ||
    fail "instance $victim died (SIGKILL) but its log does not say failpoint $name"
}

declare -A reached
victim=b
for round in $(seq 1 "$rounds"); do
  for name in "${order[@]}"; do
    victim=$(other "$victim")
    hit=$([ "$round" = 1 ] && echo 1 || echo $((RANDOM % 3 + 1)))
    started=$(date +%s%N)
    case "$name" in
      feed.after_commit_before_ack)
        # Only the instance holding the feed acks: the other is stopped until the victim died.
        arm "$victim" "$name" "$hit"
        stop_instance "$(other "$victim")"
        ;;
      dispatch.after_gateway_before_commit | ingest.between_statements | \
        push.after_commit_before_202 | alerts.after_send_before_record)
        arm "$victim" "$name" "$hit"
        ;;
      *) fail "no scenario for failpoint $name: add one to tests/fault/failpoints_test.sh" ;;
    esac
    reached[$name]=$((${reached[$name]:-0} + 1))
    died_there "$victim" "$name" 20 "${reached[$name]}"
    start_instance "$victim"
    ready_within "$(port_of "$victim")" 10 || fail "instance $victim not ready 10 s after dying at $name"
    if [ "$name" = feed.after_commit_before_ack ]; then
      start_instance "$(other "$victim")"
      ready_within "$(port_of "$(other "$victim")")" 10 || fail "instance $(other "$victim") not ready again"
    fi
    echo "$SECONDS s: $name (hit $hit): instance $victim died there after $(( ($(date +%s%N) - started) / 1000000 )) ms," \
      "ready again; $(events_stored) events stored"
  done
done

# Everything settles: the pushes acknowledged, the feed stored, nothing left to send, the
# citizens' answers in, and every alert notice sent (a notice whose notifier died goes again
# when its lease runs out).
rc=0; wait "$push_pid" || rc=$?
[ "$rc" = 0 ] || fail "the pushes did not all get a right answer (exit $rc): $(tail -n 2 "$work/push.log")"
settle 120
for _ in $(seq 1 150); do
  open=$(sql "SELECT (SELECT count(*) FROM alert_notices WHERE state IN ('pending', 'claimed'))
                   + (SELECT count(*) FROM alerts WHERE rounds = 0)")
  [ "$open" = 0 ] && break
  sleep 0.2
done
[ "$open" = 0 ] || fail "alert notices still open: $(sql "SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM alert_notices GROUP BY 1) s")"
thanked=$(grep -c '^thanked ' "$work/thanked.txt" || true)
alerts=$(sql "SELECT count(*) FROM alerts")
# The notice whose notifier died after the channel took it reached its receiver twice: once
# before the death, once when its lease ran out (the same webhook-id or Message-ID).
again=$({ grep -oE 'surveyd-alert-notice-[0-9]+' "$work/hook.jsonl" || true
  grep -oE '<alert-notice-[0-9]+@surveyd>' "$work/mail.jsonl" || true; } | sort | uniq -d | wc -l)
echo "$thanked answers thanked, $alerts alerts, $again notice(s) delivered again after their notifier died"
[ "$thanked" -ge 20 ] && [ "$alerts" -ge 5 ] || fail "too few answers ($thanked) or alerts ($alerts) to check I5"
[ "$again" -ge 1 ] || fail "no alert notice was delivered again after alerts.after_send_before_record"

echo "settled at $SECONDS s"
alert_logs=(--answers-log "$work/thanked.txt" --alert-channels webhook,email
  --webhook-log "$work/hook.jsonl" --mail-log "$work/mail.jsonl")
check_invariants "${alert_logs[@]}"
echo "checked at $SECONDS s"

# The checker must be able to fail: a thank-you page for a text never answered, and a webhook the
# receiver never got.
unanswered=$(sql "SELECT o.client_ref FROM outbox o WHERE o.kind = 'survey' AND o.state = 'delivered'
                  AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.survey_id = o.survey_id) LIMIT 1")
[ -n "$unanswered" ] || fail "no unanswered text to doctor the answers log with"
{ cat "$work/thanked.txt"; echo "thanked client_ref $unanswered"; } >"$work/thanked-doctored.txt"
sent_hook=$(sql "SELECT id FROM alert_notices WHERE channel = 'webhook' AND state = 'sent' ORDER BY id LIMIT 1")
grep -v "\"surveyd-alert-notice-$sent_hook\"" "$work/hook.jsonl" >"$work/hook-doctored.jsonl" || true
if python3 "$SRC/tests/fault/check" --database "$url" --surveyd "$BUILD/surveyd" \
  --rules "$SURVEYD_RULES" --only I5 --answers-log "$work/thanked-doctored.txt" \
  --webhook-log "$work/hook-doctored.jsonl" >"$work/doctored.out"; then
  fail "the checker missed an answer thanked and not stored, and a webhook never received"
fi
grep -q '^FAIL I5 every answer thanked is stored' "$work/doctored.out" ||
  fail "the checker missed the answer thanked and not stored: $(grep I5 "$work/doctored.out")"
grep -q '^FAIL I5 nothing called delivered that the receiver never got' "$work/doctored.out" ||
  fail "the checker missed the webhook never received: $(grep I5 "$work/doctored.out")"
no_numbers_in_logs
echo "failpoints: ${#order[@]} failpoints x $rounds in $SECONDS s: 1 passed, 0 failed"
