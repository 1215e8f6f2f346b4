#!/usr/bin/env bash
# The real daemon through each of the other two gateways, end to end:
#  - Twilio-compatible, against wmnow-sim's Twilio API: form sends with basic auth, signed
#    StatusCallbacks moving messages to delivered (or failed, for undelivered), and citizens'
#    STOP replies (in their usual variants) opting the numbers out;
#  - Kannel, real: every survey reaches fakesmsc through bearerbox, Kannel's delivery reports
#    come back through the dlr-url, and a STOP typed into fakesmsc opts the number out.
#   tests/e2e/gateways_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL, kannel)
source "$(dirname "$0")/lib.sh" "$@"
source "$SRC/tests/kannel/kannel.sh"

export_secrets
export SURVEYD_DISPATCH_POLL_MS=100 SURVEYD_GATEWAY_RATE=200
unset SURVEYD_FEED_TCP
use_prompt_rules
events=30

push_events() {
  "$BUILD/cw-sim" push --url "http://127.0.0.1:$port/api/v1/feed/events" \
    --secret "$SURVEYD_FEED_SECRET" --count "$events" --rate 0 --seed "$1" --quiet \
    >"$work/cw-sim-$1.log" 2>&1 || fail "cw-sim push failed"
}
# wait_until SQL VALUE: polls for 30 s.
wait_until() {
  for _ in $(seq 1 300); do
    [ "$(sql "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  fail "waited for '$1' to be $2; it is $(sql "$1"); outbox: $(sql "SELECT state, count(*) FROM outbox GROUP BY 1")"
}
no_numbers_in() { no_personal_data '' "$1"; }

# ---- Twilio-compatible ------------------------------------------------------------------------
port_gw=$(free_port)
export SURVEYD_GATEWAY=twilio SURVEYD_TWILIO_BASE_URL="http://127.0.0.1:$port_gw"
export SURVEYD_TWILIO_ACCOUNT_SID="AC$(random_secret)" SURVEYD_TWILIO_AUTH_TOKEN=$(random_secret)
export SURVEYD_TWILIO_FROM="+447700900001"
export SURVEYD_TWILIO_ACCOUNT_SID=${SURVEYD_TWILIO_ACCOUNT_SID:0:34}
port=$(free_port)  # known before surveyd starts: the simulator posts replies there
"$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --twilio-account-sid "$SURVEYD_TWILIO_ACCOUNT_SID" \
  --twilio-auth-token "$SURVEYD_TWILIO_AUTH_TOKEN" --open-rate 0 --response-rate 0 \
  --stop-rate 0.3 --undeliverable-rate 0.3 --delivery-delay-ms 100 --answer-delay-ms 100 \
  --duplicate-rate 0.3 --reorder-rate 0.3 --seed 5 --show-numbers \
  --inbound-url "http://127.0.0.1:$port/api/v1/gateway/twilio/inbound" >"$work/twilio-sim.log" 2>&1 &
pids+=($!)
wait_healthy "$port_gw"
url=$(new_database "gw_twilio_$$_$RANDOM")
SURVEYD_DATABASE_URL="$url" SURVEYD_HTTP_LISTEN="127.0.0.1:$port" \
  SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port" \
  "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd-twilio.log" 2>&1 &
pids+=($!)
wait_healthy "$port"
push_events 31
surveys=$(sql "SELECT count(*) FROM surveys")
[ "$surveys" -gt 5 ] || fail "twilio: only $surveys surveys from $events events"
wait_until "SELECT count(*) FROM outbox WHERE kind = 'survey' AND state IN ('delivered','undeliverable')" "$surveys"
failed=$(sql "SELECT count(*) FROM outbox WHERE kind = 'survey' AND state = 'undeliverable'")
[ "$failed" -gt 0 ] || fail "twilio: no undelivered report was exercised"
# Reports carry Twilio's sid and our ref, and bad or duplicate ones changed nothing.
unmatched=$(sql "SELECT count(*) FROM delivery_reports WHERE outbox_id IS NULL")
[ "$unmatched" = 0 ] || fail "twilio: $unmatched report(s) matched no message"
# Every STOP variant the citizens sent opted their number out (a number texted twice may reply
# twice: count numbers).
replied_numbers() {  # (the listing's keys are in alphabetical order)
  curl -fs "http://127.0.0.1:$port_gw/v1/messages?limit=1000" |
    { grep -o '"reply":"[^"]\+","sender":"[^"]*","status":"[^"]*","to":"[^"]*"' || true; } |
    sed 's/.*"to":"\([^"]*\)"/\1/' | sort -u | wc -l
}
sleep 1  # replies come 100 ms after delivery
stops=$(replied_numbers)
[ "$stops" -gt 0 ] || fail "twilio: no citizen replied STOP"
wait_until "SELECT count(*) FROM opt_outs WHERE source = 'sms_reply'" "$stops"
opted=$stops
# Each opted-out number is confirmed once (a confirmation by text), and nothing else was sent.
wait_until "SELECT count(*) FROM outbox WHERE kind = 'confirmation' AND state IN ('delivered','undeliverable')" "$stops"
[ "$(sql "SELECT count(*) FROM inbound_messages WHERE disposition = 'opt_out'")" -ge "$stops" ] ||
  fail "twilio: the opt-out replies were not all stored"
created=$(curl -fs "http://127.0.0.1:$port_gw/v1/stats" | grep -o '"twilio_created":[0-9]*' | cut -d: -f2)
[ "$created" = $((surveys + stops)) ] ||
  fail "twilio: the API created $created messages for $surveys surveys and $stops confirmations"
# A callback signed with another token is refused and changes nothing.
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Twilio-Signature: bm90LWEtc2lnbmF0dXJl' \
  --data 'MessageSid=SM1&MessageStatus=delivered' "http://127.0.0.1:$port/api/v1/gateway/twilio/status?ref=x")
[ "$code" = 401 ] || fail "twilio: a forged callback got $code"
no_numbers_in "$work/surveyd-twilio.log"
echo "twilio: $surveys surveys, $((surveys - failed)) delivered, $failed undelivered, $opted opted out by reply"

# ---- Kannel (real) ----------------------------------------------------------------------------
port=$(free_port)
export SURVEYD_GATEWAY=kannel SURVEYD_KANNEL_WEBHOOK_SECRET=$(random_secret)
kannel_start "$work/kannel" "http://127.0.0.1:$port" "$SURVEYD_KANNEL_WEBHOOK_SECRET" ||
  fail "Kannel did not start"
trap 'rc=$?; set +e; kannel_stop "$work/kannel"; (exit $rc); _e2e_finish' EXIT
export SURVEYD_KANNEL_SENDSMS_URL="$KANNEL_SENDSMS_URL" SURVEYD_KANNEL_USERNAME="$KANNEL_USERNAME"
export SURVEYD_KANNEL_PASSWORD="$KANNEL_PASSWORD"
url=$(new_database "gw_kannel_$$_$RANDOM")
SURVEYD_DATABASE_URL="$url" SURVEYD_HTTP_LISTEN="127.0.0.1:$port" \
  SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port" \
  "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd-kannel.log" 2>&1 &
pids+=($!)
wait_healthy "$port"
push_events 32
surveys=$(sql "SELECT count(*) FROM surveys")
[ "$surveys" -gt 5 ] || fail "kannel: only $surveys surveys from $events events"
wait_until "SELECT count(*) FROM outbox WHERE kind = 'survey' AND state = 'delivered'" "$surveys"
kannel_wait_received "$work/kannel" "$surveys" || fail "kannel: fakesmsc got $(kannel_received "$work/kannel" | wc -l) of $surveys"
received=$(kannel_received "$work/kannel")
[ "$(echo "$received" | wc -l)" = "$surveys" ] || fail "kannel: fakesmsc got $(echo "$received" | wc -l) texts for $surveys surveys"
[ "$(echo "$received" | cut -d' ' -f2 | sort -u | wc -l)" = "$surveys" ] || fail "kannel: a number texted twice"
grep -q "/s/" <<<"$received" || fail "kannel: no survey link in what fakesmsc received"
# Kannel's reports (8: accepted by the SMSC, 1: delivered) came through the dlr-url with our ref.
reports=$(sql "SELECT count(*) FROM delivery_reports WHERE gateway = 'kannel' AND outbox_id IS NOT NULL")
[ "$reports" -ge $((2 * surveys)) ] || fail "kannel: $reports delivery reports for $surveys texts"
# A citizen answers STOP through the network: the number is opted out.
number=$(echo "$received" | head -1 | cut -d' ' -f2)
kannel_inject "$work/kannel" "$number 60001 text Stop please" || fail "kannel: inject failed"
wait_until "SELECT count(*) FROM opt_outs WHERE source = 'sms_reply'" 1
no_numbers_in "$work/surveyd-kannel.log"
echo "kannel: $surveys surveys through bearerbox to fakesmsc, $reports delivery reports, 1 opted out by reply"
echo "gateways: 2 passed, 0 failed"
