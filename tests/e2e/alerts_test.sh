#!/usr/bin/env bash
# End to end, with the real binaries: `surveyd serve` configured only through the environment
# (SURVEYD_ALERT_WEBHOOK_URL, SURVEYD_ALERT_WEBHOOK_SECRET, SURVEYD_SMTP_*): an answer whose comment
# says the citizen is in danger gets the help on its thank-you page, raises one safeguarding
# alert, and the daemon's own notifier delivers it to a webhook receiver (which checks the
# Standard Webhooks signature independently, in Python) and by e-mail through the local SMTP relay;
# neither carries the number or the comment, and no log holds them.
#   tests/e2e/alerts_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"

url=$(new_database "e2e_alerts_$$_$RANDOM")
port=$(free_port); port_gw=$(free_port); port_hook=$(free_port)
export_secrets
export SURVEYD_DATABASE_URL="$url"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port"
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$port_gw"
export SURVEYD_DISPATCH_POLL_MS=100
unset SURVEYD_FEED_TCP
use_prompt_rules

# The force's webhook receiver: records each request and whether its signature is right.
secret="whsec_$(openssl rand -base64 24)"
cat >"$work/hook.py" <<'EOF'
import base64, hashlib, hmac, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, secret, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
key = base64.b64decode(secret[len("whsec_"):])
class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        wid, ts = self.headers["webhook-id"], self.headers["webhook-timestamp"]
        mac = hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()
        valid = ("v1," + base64.b64encode(mac).decode()) in self.headers["webhook-signature"].split()
        with open(out, "a") as f:
            f.write(json.dumps({"id": wid, "valid": valid, "body": body.decode()}) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
HTTPServer(("127.0.0.1", port), Hook).serve_forever()
EOF
python3 "$work/hook.py" "$port_hook" "$secret" "$work/hook.jsonl" >"$work/hook.log" 2>&1 &
pids+=($!)
start_smtp_relay

export SURVEYD_ALERT_WEBHOOK_URL="http://127.0.0.1:$port_hook/hook"
export SURVEYD_ALERT_WEBHOOK_SECRET="$secret"
export SURVEYD_ALERT_POLL_MS=100

# The gateway simulator delivers the text; its citizens never answer (this test does).
"$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --open-rate 0 --response-rate 0 \
  >"$work/wmnow-sim.log" 2>&1 &
pids+=($!)
"$BUILD/surveyd" migrate -c "$SRC/config/surveyd.yaml" >/dev/null
SURVEYD_HTTP_LISTEN="127.0.0.1:$port" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" \
  >"$work/surveyd.log" 2>&1 &
pids+=($!)
wait_healthy "$port" "$port_gw"
[[ $(health "$port") == *'"alerts":{'* ]] || fail "health should report the alerts: $(health "$port")"

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
event='{"event_id":"E2E-ALERT-1","type":"call.ended","occurred_at":"'$now'",
 "incident":{"id":"INC-A1","type_code":"BURG-RES","category":"crime","grade":"P3","qualifiers":[],
   "location":{"npu":"Birmingham East","beat":"BE-14","postcode_district":"B33"}},
 "call":{"id":"C-A1","channel":"101","handler_id":"OP4411","handler_team":"Force Contact - Team 3"},
 "caller":{"phone":"07700 900123","phone_type":"mobile","role":"victim","age":41,"language":"en"}}'
event=$(echo "$event" | tr -d '\n')
ts=$(date +%s)
sig=$(printf '%s' "$event" | feed_signature "$ts")
out=$(curl -s -H 'Content-Type: application/json' -H "X-Feed-Timestamp: $ts" \
  -H "X-Feed-Signature: $sig" --data-binary "$event" "http://127.0.0.1:$port/api/v1/feed/events")
[[ $out == *'"decision":"survey"'* ]] || fail "push: $out"
for _ in $(seq 1 100); do
  state=$(sql "SELECT o.state FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE s.event_id = 'E2E-ALERT-1'")
  [[ $state == accepted || $state == sent || $state == delivered ]] && break
  sleep 0.1
done
[[ $state == accepted || $state == sent || $state == delivered ]] || fail "the text was not sent: $state"

nonce=$(sql "SELECT token_nonce FROM surveys WHERE event_id = 'E2E-ALERT-1'")
token=$(printf '%s' "$nonce" | openssl dgst -sha256 -hmac "$SURVEYD_TOKEN_SECRET" -binary | head -c 16 |
  base64 | tr '+/' '-_' | tr -d '=')
link="$SURVEYD_PUBLIC_BASE_URL/s/$token"
code=$(curl -s -o "$work/thanks.html" -w '%{http_code}' \
  --data 'q1=2&q2=3&q3=2&q4=1&q5=2&comment=He+is+back+and+I+am+scared+to+go+home' "$link")
[ "$code" = 200 ] || fail "answer: HTTP $code"
grep -q 'If you need help now' "$work/thanks.html" || fail "the thank-you page should say how to get help"
grep -q 'tel:999' "$work/thanks.html" || fail "the thank-you page should give 999"
[ "$(sql "SELECT count(*) FROM alerts WHERE kind = 'safeguarding'")" = 1 ] ||
  fail "one safeguarding alert: $(sql "SELECT kind, matched FROM alerts")"

# The notifier delivers it: a signed webhook and an e-mail.
for _ in $(seq 1 100); do
  [ -s "$work/hook.jsonl" ] && [ -s "$work/mail.jsonl" ] && break
  sleep 0.1
done
[ -s "$work/hook.jsonl" ] || fail "no webhook arrived"
[ -s "$work/mail.jsonl" ] || fail "no e-mail arrived"
hook=$(head -n 1 "$work/hook.jsonl")
[[ $hook == *'"valid": true'* ]] || fail "the webhook's signature does not verify: $hook"
[[ $hook == *'\"kind\":\"safeguarding\"'* ]] || fail "the webhook should name the kind: $hook"
[[ $hook == *'alert.created'* ]] || fail "the webhook should say the alert was created: $hook"
mail=$(head -n 1 "$work/mail.jsonl")
[[ $mail == *'"to": ["duty@force.example"]'* ]] || fail "the e-mail went elsewhere: $mail"
sent=$(sql "SELECT count(*) FROM alert_notices WHERE state = 'sent'")
[ "$sent" = 2 ] || fail "two notices sent, recorded: $(sql "SELECT channel, state, last_error FROM alert_notices")"
# Ops see it too: the notices as metrics, and that alerts have somewhere to go.
metrics=$(curl -fs "http://127.0.0.1:$port/metrics")
grep -qx 'surveyd_alert_notices_total{result="sent"} 2' <<<"$metrics" ||
  fail "metrics: $(grep surveyd_alert <<<"$metrics")"
grep -qx 'surveyd_alert_notices_total{result="failed"} 0' <<<"$metrics" ||
  fail "metrics: $(grep surveyd_alert <<<"$metrics")"
grep -qx 'surveyd_alert_channels 1' <<<"$metrics" || fail "metrics: $(grep surveyd_alert <<<"$metrics")"

# The bootstrap token (admin) lists the alert but may not reveal the number.
list=$(curl -fs -H "Authorization: Bearer $SURVEYD_ANALYST_TOKEN" "http://127.0.0.1:$port/api/v1/alerts")
[[ $list == *'"kind":"safeguarding"'* ]] || fail "alerts list: $list"
id=$(sql "SELECT id FROM alerts")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $SURVEYD_ANALYST_TOKEN" \
  --data '{"reason":"call back"}' "http://127.0.0.1:$port/api/v1/alerts/$id/reveal")
[ "$code" = 403 ] || fail "only the safeguarding role reveals the number, admin got $code"

# Personal data: no number and no comment in the logs, the webhook or the e-mail.
no_personal_data 'scared|go home' "$work"/surveyd.log "$work/hook.jsonl"
body=$(python3 -c 'import base64, json, sys
data = json.loads(open(sys.argv[1]).readline())["data"]
print(base64.b64decode("".join(data.split("\r\n\r\n", 1)[1].split())).decode())' "$work/mail.jsonl")
[[ $body == *"raised an alert: Safeguarding"* ]] || fail "the e-mail should name the alert: $body"
[[ $body == *"(Force Contact, call.ended)"* ]] || fail "the e-mail should name the survey group as the rules do: $body"
if grep -E '(447700|07700|scared|go home)' <<<"$body"; then fail "the e-mail holds personal data"; fi
echo "alerts: answer -> help page, 1 alert, signed webhook and e-mail, no personal data: 1 passed, 0 failed"
