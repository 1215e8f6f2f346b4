#!/usr/bin/env bash
# The dashboard end to end: a database with two months of synthetic surveys (bench/stats_load.sql,
# small), `surveyd serve`, a supervisor's token from `surveyd token create`, then
# tests/browser/dashboard.mjs in headless Chromium (playwright-core, axe-core: `npm ci` in
# tests/browser, which scripts/test does). Keeps BUILD_DIR/test-artifacts/dashboard.png.
#   tests/browser/dashboard_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/../e2e/lib.sh" "$@"

command -v node >/dev/null || fail "node is not installed (the browser test needs node and npm)"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || fail "chromium is not installed (apt-get install chromium)"
[ -d "$SRC/tests/browser/node_modules/playwright-core" ] && [ -d "$SRC/tests/browser/node_modules/axe-core" ] ||
  fail "run npm ci in $SRC/tests/browser first (scripts/test does)"

url=$(new_database "dash_$$_$RANDOM")
port=$(free_port)
export_secrets
export SURVEYD_DATABASE_URL="$url"
export SURVEYD_HTTP_LISTEN="127.0.0.1:$port"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port"
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$(free_port)"
unset SURVEYD_FEED_TCP
use_prompt_rules

"$BUILD/surveyd" migrate -c "$SRC/config/surveyd.yaml" >/dev/null
psql -X -q "$url" -v events=7200 -v days=61 -v npus=4 -v last_day=2026-11-30 \
  -f "$SRC/bench/stats_load.sql" >"$work/load.log" 2>&1 || fail "loading the data: $(tail -5 "$work/load.log")"

"$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd.log" 2>&1 &
pids+=($!)
wait_healthy "$port"

"$BUILD/surveyd" token create --role supervisor --name "browser test" -c "$SRC/config/surveyd.yaml" \
  >"$work/token.out" || fail "token create: $(cat "$work/token.out")"
token=$(tail -n 1 "$work/token.out")
[[ $token == svd_* ]] || fail "the token is not alone on the last line: $(cat "$work/token.out")"
[ "$(psql -X -At "$url" -c "SELECT count(*) FROM api_tokens WHERE token_hash = encode(sha256('$token'), 'hex')")" = 1 ] ||
  fail "the token's hash is not stored"
[ "$(psql -X -At "$url" -c "SELECT count(*) FROM api_tokens WHERE token_hash LIKE '%$token%' OR name LIKE '%$token%'")" = 0 ] ||
  fail "the token itself is stored"

# Alerts as SubmitResponse writes them (migration 0006: the alert and its "created" event), each
# on an answered survey of its own. First a complaint raised two days ago and resolved, then 60
# low-score alerts of three days ago (more than the dashboard's page of 50); the complaint is
# reopened at the end, the newest thing in the queue, though its id is the smallest.
# (-q: no "INSERT 0 1" after the id. Never `| head` here: under pipefail the SIGPIPE psql may get
# would end the test without a word.)
new_alert() {  # KIND SEVERITY OFFSET AGE: prints the new alert's id
  psql -X -q -At "$url" -c "WITH a AS (
      INSERT INTO alerts (survey_id, kind, severity, rules, matched, created_at)
      SELECT r.survey_id, '$1', '$2', '[\"rule_$1\"]', '[]', now() - interval '$4'
        FROM responses r WHERE length(r.comment) > 20 ORDER BY r.survey_id OFFSET $3 LIMIT 1
      RETURNING id, created_at)
    INSERT INTO alert_events (alert_id, at, action) SELECT id, created_at, 'created' FROM a RETURNING alert_id"
}
reopened=$(new_alert complaint high 1 '2 days')
[[ $reopened =~ ^[0-9]+$ ]] || fail "could not create an alert: $reopened"
psql -X -q "$url" -c "UPDATE alerts SET status = 'resolved', status_at = now() - interval '1 day',
  status_by = 'browser test', status_note = 'Called back' WHERE id = $reopened" >/dev/null
for i in $(seq 1 60); do
  older=$(new_alert low_scores normal $((i + 2)) "3 days $i minutes")
  [[ $older =~ ^[0-9]+$ ]] || fail "could not create an alert: $older"
done

# The alert the dashboard acknowledges and resolves: an open safeguarding one; another open one,
# which someone else resolves while the page shows it. An analyst's token, which may not see
# alerts, and a safeguarding one, which may see only them.
alert=$(psql -X -q -At "$url" -c "WITH a AS (
    INSERT INTO alerts (survey_id, kind, severity, rules, matched, created_at)
    SELECT r.survey_id, 'safeguarding', 'urgent', '[\"risk_to_safety\"]', '[\"fear:scared\"]', now()
      FROM responses r WHERE length(r.comment) > 20 ORDER BY r.survey_id LIMIT 1
    RETURNING id)
  INSERT INTO alert_events (alert_id, at, action) SELECT id, now(), 'created' FROM a RETURNING alert_id")
[[ $alert =~ ^[0-9]+$ ]] || fail "could not create an alert: $alert"
conflict=$(new_alert low_scores normal 0 '0 minutes')
[[ $conflict =~ ^[0-9]+$ ]] || fail "could not create an alert: $conflict"
psql -X -q "$url" -c "UPDATE alerts SET status = 'open', status_at = now(), status_by = NULL,
    status_note = NULL, reopened_at = now() WHERE id = $reopened;
  INSERT INTO alert_events (alert_id, at, action, note) VALUES ($reopened, now(), 'reopened', 'the citizen wrote again')" >/dev/null
"$BUILD/surveyd" token create --role analyst --name "browser analyst" -c "$SRC/config/surveyd.yaml" \
  >"$work/analyst.out" || fail "token create (analyst): $(cat "$work/analyst.out")"
analyst=$(tail -n 1 "$work/analyst.out")
"$BUILD/surveyd" token create --role safeguarding --name "browser safeguarding" -c "$SRC/config/surveyd.yaml" \
  >"$work/safeguarding.out" || fail "token create (safeguarding): $(cat "$work/safeguarding.out")"
safeguarding=$(tail -n 1 "$work/safeguarding.out")

# Ops hold every text while the analysts look: the dashboard says so, and why.
"$BUILD/surveyd" sends hold --reason "critical incident: Operation Larch" \
  -c "$SRC/config/surveyd.yaml" >"$work/hold.out" || fail "sends hold: $(cat "$work/hold.out")"

mkdir -p "$BUILD/test-artifacts"
node "$SRC/tests/browser/dashboard.mjs" --url "http://127.0.0.1:$port" --token "$token" \
  --analyst-token "$analyst" --safeguarding-token "$safeguarding" --alert "$alert" \
  --conflict-alert "$conflict" --reopened-alert "$reopened" \
  --from 2026-10-01 --to 2026-11-30 --screenshot "$BUILD/test-artifacts/dashboard.png" ||
  fail "the dashboard checks failed"

# The page acknowledged, then resolved the alert: the row and its history say so, with the token's
# holder and the notes typed in the page.
row=$(psql -X -At -F '|' "$url" -c "SELECT status, status_by, status_note FROM alerts WHERE id = $alert")
[ "$row" = "resolved|browser test|Called back, safe now; referred to the DA team" ] ||
  fail "the alert after the dashboard: $row"
events=$(psql -X -At -F '|' "$url" -c "SELECT action, actor_name, actor_role, COALESCE(note, '') FROM alert_events
  WHERE alert_id = $alert ORDER BY id" | tr '\n' ';')
[ "$events" = "created|||;acknowledged|browser test|supervisor|Looking into it;resolved|browser test|supervisor|Called back, safe now; referred to the DA team;" ] ||
  fail "the alert's history after the dashboard: $events"

# Every call the dashboard made is in the audit trail, under the token's id, without values.
calls=$(psql -X -At "$url" -c "SELECT count(*) FROM api_audit a JOIN api_tokens t ON t.id = a.token_id WHERE t.name = 'browser test'")
[ "$calls" -gt 10 ] || fail "only $calls audited calls"
grep -q "Looking into it" "$work/surveyd.log" && fail "an alert note is in the log"
[ "$(psql -X -At "$url" -c "SELECT count(*) FROM api_audit WHERE array_to_string(params, ' ') ~ '(NPU|female|waiting)'")" = 0 ] ||
  fail "parameter values in the audit trail"
grep -q "$token" "$work/surveyd.log" && fail "the token is in the log"

# Ops see the rules in force, with their version; then the token is listed and revoked.
rules=$(curl -fs -H "Authorization: Bearer $SURVEYD_ANALYST_TOKEN" "http://127.0.0.1:$port/api/v1/rules")
[[ $rules == *'"version":"sha256:'* ]] || fail "GET /api/v1/rules: $rules"
id=$(head -n 1 "$work/token.out" | awk '{print $2}')
listed=$("$BUILD/surveyd" token list -c "$SRC/config/surveyd.yaml")
grep -q "^$id .*supervisor.*browser test" <<<"$listed" || fail "token list: $listed"
"$BUILD/surveyd" token revoke "$id" -c "$SRC/config/surveyd.yaml" >/dev/null || fail "token revoke"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/stats")
[ "$code" = 401 ] || fail "a revoked token answered $code"
echo "dashboard test passed ($calls audited calls, alert $alert acknowledged and resolved); screenshot in $BUILD/test-artifacts/dashboard.png"
