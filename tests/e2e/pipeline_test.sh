#!/usr/bin/env bash
# End to end, with the real binaries: two surveyd instances on one PostgreSQL database, the
# WMNow-style gateway simulator playing the citizens, events pushed and signed as the
# command-and-control system would. Checks the whole path from a pushed event to a stored answer,
# that no survey is texted twice, that logs hold no phone number, and the page in real Chromium
# (and on a 320 px phone with axe-core: tests/browser/survey_page.mjs, the form and the thank-you
# page).
#   tests/e2e/pipeline_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"

url=$(new_database "e2e_$$_$RANDOM")
port_a=$(free_port); port_b=$(free_port); port_gw=$(free_port)
export_secrets
export SURVEYD_DATABASE_URL="$url"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port_a"
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$port_gw"
export SURVEYD_DISPATCH_POLL_MS=100
export SURVEYD_GATEWAY_RATE=500
export SURVEYD_API_MIN_CELL_SIZE=1  # a handful of answers: show them
export SURVEYD_API_FIGURES_NOISE=false  # and exactly, to compare with the database
unset SURVEYD_FEED_TCP
use_prompt_rules

"$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --open-rate 0.7 --response-rate 0.5 \
  --delivery-delay-ms 50 --answer-delay-ms 100 --seed 7 --silent 07700900123 \
  >"$work/wmnow-sim.log" 2>&1 &
pids+=($!)
"$BUILD/surveyd" migrate -c "$SRC/config/surveyd.yaml" >/dev/null
SURVEYD_HTTP_LISTEN="127.0.0.1:$port_a" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" \
  >"$work/surveyd-a.log" 2>&1 &
pid_a=$!; pids+=($pid_a)
SURVEYD_HTTP_LISTEN="127.0.0.1:$port_b" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" \
  >"$work/surveyd-b.log" 2>&1 &
pids+=($!)
wait_healthy "$port_a" "$port_b" "$port_gw"
curl -fs "http://127.0.0.1:$port_a/readyz" >/dev/null || fail "instance A is not ready"
curl -fs "http://127.0.0.1:$port_b/readyz" >/dev/null || fail "instance B is not ready"

# push BODY [PORT]: signs and posts like the command-and-control system; prints "status body".
push() {
  local body=$1 port=${2:-$port_a} ts sig
  ts=$(date +%s)
  sig=$(printf '%s' "$body" | feed_signature "$ts")
  curl -s -o "$work/push.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "X-Feed-Timestamp: $ts" -H "X-Feed-Signature: $sig" --data-binary "$body" \
    "http://127.0.0.1:$port/api/v1/feed/events"
  echo " $(cat "$work/push.out")"
}

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
event='{"event_id":"E2E-CALL-1","type":"call.ended","occurred_at":"'$now'",
 "incident":{"id":"INC-1","type_code":"BURG-RES","category":"crime","grade":"P3","qualifiers":[],
   "location":{"npu":"Birmingham East","beat":"BE-14","postcode_district":"B33"}},
 "call":{"id":"C-1","channel":"101","handler_id":"OP4411","handler_team":"Force Contact - Team 3"},
 "caller":{"phone":"07700 900123","phone_type":"mobile","role":"victim","age":41,"language":"en"}}'
event=$(echo "$event" | tr -d '\n')
domestic=$(echo "$event" | sed -e 's/E2E-CALL-1/E2E-CALL-2/' -e 's/"qualifiers":\[\]/"qualifiers":["DOMESTIC"]/' \
  -e 's/900123/900124/' -e 's/"INC-1"/"INC-2"/')

out=$(push "$event")
[[ $out == 202* ]] || fail "push: $out"
[[ $out == *'"result":"accepted"'* && $out == *'"decision":"survey"'* ]] || fail "not accepted for a survey: $out"
out=$(push "$event" "$port_b")
[[ $out == *'"result":"duplicate"'* ]] || fail "a second delivery must be a duplicate: $out"
out=$(push "$domestic")
[[ $out == *'"decision":"exclusion:domestic_abuse"'* ]] || fail "domestic abuse must be excluded: $out"
out=$(push '{"event_id":"E2E-BAD","type":"call.ended"}')
[[ $out == *'"result":"rejected"'* ]] || fail "malformed must be rejected: $out"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Feed-Timestamp: 1' -H 'X-Feed-Signature: sha256=00' \
  --data-binary "$event" "http://127.0.0.1:$port_a/api/v1/feed/events")
[ "$code" = 401 ] || fail "an unsigned push must get 401, got $code"

# A realistic mix, through instance B, while both instances dispatch.
"$BUILD/cw-sim" push --url "http://127.0.0.1:$port_b/api/v1/feed/events" \
  --secret "$SURVEYD_FEED_SECRET" --count 400 --rate 0 --seed 11 >"$work/cw-sim.log" 2>&1 ||
  fail "cw-sim push failed"

# Wait for the outbox to drain (every survey accepted by the gateway, or finished otherwise).
for _ in $(seq 1 150); do
  left=$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending','claimed','sending')")
  [ "$left" = 0 ] && break
  sleep 0.2
done
[ "$left" = 0 ] || fail "$left message(s) still unsent"
sent=$(sql "SELECT count(*) FROM outbox WHERE state IN ('accepted','sent','delivered')")
[ "$sent" -gt 20 ] || fail "only $sent texts sent"
twice=$(sql "SELECT count(*) FROM (SELECT outbox_id FROM send_attempts GROUP BY outbox_id HAVING count(*) > 1) x")
[ "$twice" = 0 ] || fail "$twice message(s) were sent more than once"
by_a=$(sql "SELECT count(DISTINCT claimed_by) FROM outbox WHERE claimed_by IS NOT NULL")
echo "texts sent: $sent, by $by_a dispatch worker(s) across two instances"
accepted_at_gateway=$(curl -fs "http://127.0.0.1:$port_gw/v1/stats" | grep -o '"accepted":[0-9]*' | cut -d: -f2)
[ "$accepted_at_gateway" = "$sent" ] || fail "gateway accepted $accepted_at_gateway, outbox says $sent"

# The citizen of E2E-CALL-1 answers on the page (computed like the text's link).
nonce=$(sql "SELECT token_nonce FROM surveys WHERE event_id = 'E2E-CALL-1'")
token=$(printf '%s' "$nonce" | openssl dgst -sha256 -hmac "$SURVEYD_TOKEN_SECRET" -binary | head -c 16 |
  base64 | tr '+/' '-_' | tr -d '=')
link="$SURVEYD_PUBLIC_BASE_URL/s/$token"
body_in_text=$(curl -fs "http://127.0.0.1:$port_gw/v1/messages?limit=1000" | grep -c "$link" || true)
[ "$body_in_text" -ge 1 ] || fail "the text sent for E2E-CALL-1 does not carry its link"
# Its citizen is silent in the simulator: the test is the citizen, in a real browser and by form.
[ "$(sql "SELECT responded_at IS NULL FROM surveys WHERE event_id = 'E2E-CALL-1'")" = t ] ||
  fail "nobody but this test answers E2E-CALL-1"
bash "$SRC/tests/browser/survey_page.sh" "$link" "$work/page.png" || fail "browser check of the page"
# The page on a 320 px phone, with axe-core (playwright-core and axe-core: npm ci in tests/browser).
[ -d "$SRC/tests/browser/node_modules/playwright-core" ] && [ -d "$SRC/tests/browser/node_modules/axe-core" ] ||
  fail "run npm ci in $SRC/tests/browser first (scripts/test does)"
node "$SRC/tests/browser/survey_page.mjs" --url "$link" --expect survey \
  --screenshot "$BUILD/test-artifacts/survey-page.png" || fail "the survey page on a phone"
page=$(curl -fs "$link")
[[ $page == *"101"* ]] || fail "the page should say what the survey is about"
code=$(curl -s -o "$work/answer.html" -w '%{http_code}' --data 'q1=9&q2=8&q3=7&q4=10&q5=9&comment=Quick+and+kind' "$link")
[ "$code" = 200 ] || fail "answer: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --data 'q1=1' "$link")
[ "$code" = 200 ] || fail "resubmit: HTTP $code"
node "$SRC/tests/browser/survey_page.mjs" --url "$link" --expect thanks \
  --screenshot "$BUILD/test-artifacts/survey-thanks.png" || fail "the thank-you page on a phone"
[ "$(sql "SELECT q1 || ',' || q4 FROM responses r JOIN surveys s ON s.id = r.survey_id WHERE s.event_id = 'E2E-CALL-1'")" = "9,10" ] ||
  fail "the answer was not stored once, as given"
[ "$(sql "SELECT count(*) FROM responses r JOIN surveys s ON s.id = r.survey_id WHERE s.event_id = 'E2E-CALL-1'")" = 1 ] ||
  fail "no stored answer for the pushed event"

# Simulated citizens answered too; the analyst API sees it all.
for _ in $(seq 1 50); do
  answered=$(sql "SELECT count(*) FROM responses")
  [ "$answered" -gt 5 ] && break
  sleep 0.2
done
[ "$answered" -gt 5 ] || fail "only $answered answers stored"
funnel=$(curl -fs -H "Authorization: Bearer $SURVEYD_ANALYST_TOKEN" "http://127.0.0.1:$port_a/api/v1/funnel")
[[ $funnel == *'"exclusion:domestic_abuse"'* ]] || fail "the funnel should say why contacts were excluded: $funnel"
before=$(sql "SELECT count(*) FROM responses")
stats=$(curl -fs -H "Authorization: Bearer $SURVEYD_ANALYST_TOKEN" "http://127.0.0.1:$port_a/api/v1/stats?group_by=question")
after=$(sql "SELECT count(*) FROM responses")
answered_api=$(echo "$stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cells"][0]["answered"])')
[ "$answered_api" -ge "$before" ] && [ "$answered_api" -le "$after" ] ||
  fail "the stats count every answer (rollups kept by the triggers): $answered_api, not $before-$after"
alerts_before=$(sql "SELECT count(*) FROM alerts")
"$BUILD/surveyd" report -c "$SRC/config/surveyd.yaml" >"$work/report.txt"
alerts_after=$(sql "SELECT count(*) FROM alerts")
grep -q "answered" "$work/report.txt" || fail "report"
# Every alert the answers raised, counted by kind and status (answers may still be arriving).
grep -q '^Alerts raised by answers' "$work/report.txt" || fail "the report should count the alerts"
alerts_report=$(awk '/^Alerts raised by answers/ {on = 1; next} on && /^  [a-z_]+ +[0-9]+ +[0-9]+ +[0-9]+$/ {n += $2 + $3 + $4}
  END {print n + 0}' "$work/report.txt")
[ "$alerts_report" -ge "$alerts_before" ] && [ "$alerts_report" -le "$alerts_after" ] ||
  fail "the report counts $alerts_report alerts, the database $alerts_before-$alerts_after: $(cat "$work/report.txt")"

# Replay (delivery 3): a file of events, then the same from stdin: the second time, all duplicates.
"$BUILD/cw-sim" generate --count 60 --seed 3 --now >"$work/replay.ndjson" 2>/dev/null
out=$("$BUILD/surveyd" replay -c "$SRC/config/surveyd.yaml" "$work/replay.ndjson")
[[ $out == "replay: 60 accepted, 0 duplicate, 0 rejected" ]] || fail "replay: $out"
out=$("$BUILD/surveyd" replay -c "$SRC/config/surveyd.yaml" - <"$work/replay.ndjson")
[[ $out == "replay: 0 accepted, 60 duplicate, 0 rejected" ]] || fail "replay again: $out"

# SIGHUP with a broken rules file: the old rules stay in force and the error names the line.
cp "$SURVEYD_RULES" "$work/rules.good"
printf 'groups:\n  - id: x\n    trigger: call.endd\n' >>"$SURVEYD_RULES"
kill -HUP "$pid_a"
for _ in $(seq 1 50); do grep -q "rules reload failed" "$work/surveyd-a.log" && break; sleep 0.1; done
grep -q "rules reload: $SURVEYD_RULES:[0-9]*:[0-9]*: " "$work/surveyd-a.log" || fail "reload error without file:line:column"
ready=$(health "$port_a")
[[ $ready == *'"ready":true'* && $ready == *'"last_reload_error"'* ]] || fail "after a bad reload: $ready"
[[ $(curl -s "http://127.0.0.1:$port_a/readyz") == '{"ready":true}' ]] || fail "the public readyz says ready, nothing more"
out=$(push "$(echo "$event" | sed 's/E2E-CALL-1/E2E-CALL-3/; s/900123/900125/; s/"INC-1"/"INC-3"/')")
[[ $out == *'"decision":"survey"'* ]] || fail "the old rules must still decide: $out"
# Good rules again, with an older minimum age: a change to what screens stored events.
sed 's/^  minimum_age: 16$/  minimum_age: 17/' "$work/rules.good" >"$SURVEYD_RULES"
grep -q '^  minimum_age: 17$' "$SURVEYD_RULES" || fail "the rules' minimum_age was not changed"
kill -HUP "$pid_a"
for _ in $(seq 1 50); do grep -q "rules reloaded" "$work/surveyd-a.log" && break; sleep 0.1; done
[[ $(health "$port_a") != *'"last_reload_error"'* ]] || fail "a good reload clears the error"
# New rules (another version): the stored events are screened again under them, and the log
# names them by the version health names (the screen's own beside it, labelled).
rules_version=$(health "$port_a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["checks"]["rules"]["version"])')
grep -q "rules reloaded: .* (version $rules_version; screen of stored events [0-9a-f]*/[a-z0-9]*, changed: " \
  "$work/surveyd-a.log" || fail "the reload is not logged with the version health names ($rules_version)"
screened="stored events screened under version $rules_version (screen of stored events [0-9a-f]*/[a-z0-9]*; [1-9][0-9]* screened again)"
for _ in $(seq 1 50); do
  grep -q "$screened" "$work/surveyd-a.log" && break
  sleep 0.1
done
grep -q "$screened" "$work/surveyd-a.log" ||
  fail "the stored events were not screened again under the reloaded rules ($rules_version)"

# One file, one verdict: survey rules that load with an alerts: section that does not (and the
# other way round) are refused whole, the rules and alert rules in force left as they were.
cp "$SURVEYD_RULES" "$work/rules.good"
version_of() { health "$port_a" | python3 -c 'import json,sys; c=json.load(sys.stdin)["checks"]; print(c["rules"]["version"], "/", c["alerts"]["summary"])'; }
before=$(version_of)
reload_fails() {
  local n
  n=$(grep -c "rules reload failed" "$work/surveyd-a.log")
  kill -HUP "$pid_a"
  for _ in $(seq 1 50); do (($(grep -c "rules reload failed" "$work/surveyd-a.log") > n)) && return 0; sleep 0.1; done
  fail "$1: the reload was not refused"
}
sed 's/^  minimum_age: 17$/  minimum_age: 18/; s/^      at_or_below: 1$/      at_or_below: lots/' "$work/rules.good" >"$SURVEYD_RULES"
reload_fails "good survey rules, bad alert rules"
grep -q "rules reload: $SURVEYD_RULES:[0-9]*:[0-9]*: .*at_or_below" "$work/surveyd-a.log" ||
  fail "the alert rule's error is not named with its line"
[[ $(version_of) == "$before" ]] || fail "a refused file changed the rules in force: $before -> $(version_of)"
sed 's/^  minimum_age: 17$/  minimum_ag: 18/' "$work/rules.good" | python3 -c '
import sys; text = sys.stdin.read(); start = text.index("\n    - id: ", text.index("\nalerts:"))
end = text.index("\n    - id: ", start + 1); sys.stdout.write(text[:start] + text[end:])' >"$SURVEYD_RULES"
reload_fails "bad survey rules, one alert rule fewer"
[[ $(version_of) == "$before" ]] || fail "a refused file changed the alert rules in force: $before -> $(version_of)"
[[ $(curl -s "http://127.0.0.1:$port_a/metrics") == *'surveyd_rules_loads_total{result="failed"} 3'* ]] ||
  fail "each refused reload is counted"
cp "$work/rules.good" "$SURVEYD_RULES"

# Personal data: no phone number (any format) and no comment in any log.
no_personal_data 'Quick and kind' "$work"/surveyd-*.log
echo "pipeline: $sent texts, $answered answers, 0 double sends: 1 passed, 0 failed"
