#!/usr/bin/env bash
# Personal data after a full run with the real binaries: the TCP feed (with malformed lines and
# duplicates), pushes, a gateway that fails some sends and delivers, citizens who open, answer and
# reply STOP. Then `surveyd erase` of one number, a new encryption key with `surveyd keys rotate`,
# and `surveyd retention run`. At the end, a pg_dump of the database and every log of the run
# must hold no phone number of the Ofcom drama range (07700 900000-900999) in any spelling:
# +447700900123, 447700900123, 07700 900123, 07700900123, +44 7700 900123..., no survey link
# token that was texted, no secret the run was given (nor the keys of the key ring), and the
# logs none of the citizens' words (their comments and texts), which the dump holds only where
# they are kept: the responses and the texts received.
#   tests/e2e/privacy_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"
command -v pg_dump >/dev/null || fail "pg_dump is missing (package postgresql-client)"

# Any spelling of a number in the range: digits with optional spaces, dashes, brackets between.
number_pattern='7700[ ()-]*900[ ()-]*[0-9]{3}'

url=$(new_database "privacy_$$_$RANDOM")
port=$(free_port)
port_gw=$(free_port)
feed_port=$(free_port)
count=300
"$BUILD/cw-sim" serve --listen "127.0.0.1:$feed_port" --rate 500 --count "$count" --seed 31 \
  --duplicate-rate 0.05 --malformed-rate 0.05 --heartbeat-s 1 >"$work/cw-sim.log" 2>&1 &
pids+=($!)
export_secrets
export SURVEYD_DATABASE_URL="$url" SURVEYD_HTTP_LISTEN="127.0.0.1:$port"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port" SURVEYD_FEED_TCP="127.0.0.1:$feed_port"
export SURVEYD_FEED_TLS=false  # the simulator on this machine speaks plain TCP
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$port_gw" SURVEYD_GATEWAY_RATE=200
export SURVEYD_DISPATCH_BACKOFF_BASE=1 SURVEYD_DISPATCH_BACKOFF_MAX=1 SURVEYD_DISPATCH_POLL_MS=100
use_prompt_rules
"$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --fail-rate 0.1 --stop-rate 0.1 \
  --inbound-url "http://127.0.0.1:$port/api/v1/gateway/wmnow/inbound" --response-rate 0.5 \
  --delivery-delay-ms 100 --answer-delay-ms 400 --seed 6 --show-numbers >"$work/wmnow-sim.log" 2>&1 &
pids+=($!)
"$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd.log" 2>&1 &
pid=$!
pids+=($pid)
wait_healthy "$port" "$port_gw"
"$BUILD/cw-sim" push --url "http://127.0.0.1:$port/api/v1/feed/events" --secret "$SURVEYD_FEED_SECRET" \
  --count 30 --rate 0 --seed 77 --quiet >"$work/cw-push.log" 2>&1 || fail "cw-sim push failed"

for _ in $(seq 1 300); do
  left=$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending', 'claimed', 'sending', 'accepted', 'sent')")
  cursor=$(sql "SELECT COALESCE(max(seq), 0) FROM feed_cursors")
  answered=$(sql "SELECT count(*) FROM responses")
  [ "$left" = 0 ] && [ "$cursor" -ge "$count" ] && [ "$answered" -ge 10 ] && break
  sleep 0.2
done
[ "$left" = 0 ] || fail "$left message(s) unsettled after 60 s"
[ "$answered" -ge 10 ] || fail "only $answered answers"
surveys=$(sql "SELECT count(*) FROM surveys")
opt_outs=$(sql "SELECT count(*) FROM opt_outs")
[ "$opt_outs" -gt 0 ] || fail "no STOP reply was exercised"
[ "$(sql "SELECT count(*) FROM rejected_events")" -gt 0 ] || fail "no malformed line was exercised"

# What the run texted and what the citizens wrote, read before erasure and retention blank some:
# the link token of every text, every comment and every text received.
curl -fs "http://127.0.0.1:$port_gw/v1/messages?limit=1000" | grep -o '/s/[A-Za-z0-9_-]\{22\}' |
  cut -c4- | sort -u >"$work/tokens.txt"
[ "$(wc -l <"$work/tokens.txt")" -ge 10 ] || fail "only $(wc -l <"$work/tokens.txt") link tokens at the gateway"
sql "SELECT DISTINCT comment FROM responses WHERE length(comment) >= 8
     UNION SELECT DISTINCT body FROM inbound_messages WHERE length(body) >= 8" >"$work/words.txt"
grep -q . "$work/words.txt" || fail "no comment or text from a citizen was exercised"

# A data subject's request: the number of one texted citizen.
number=$(curl -fs "http://127.0.0.1:$port_gw/v1/messages?limit=1" | grep -o '"to":"[^"]*"' | head -1 | cut -d'"' -f4)
[ -n "$number" ] || fail "no message at the gateway"
# The number on standard input (`--phone -`), as ops are told to give it: out of the shell's history.
printf '%s\n' "$number" | "$BUILD/surveyd" erase -c "$SRC/config/surveyd.yaml" --phone - --dry-run >"$work/held.txt" 2>&1 ||
  fail "erase --dry-run failed: $(cat "$work/held.txt")"
grep -q "1 survey(s)" "$work/held.txt" || fail "the dry run does not find the survey: $(cat "$work/held.txt")"
[ "$(sql "SELECT count(*) FROM erasures")" = 0 ] || fail "a dry run recorded an erasure"
printf '%s\n' "$number" | "$BUILD/surveyd" erase -c "$SRC/config/surveyd.yaml" --phone - --reference DSAR-E2E-1 \
  >"$work/erase.txt" 2>&1 || fail "erase failed: $(cat "$work/erase.txt")"
grep -q "^erased .* (reference 'DSAR-E2E-1'):" "$work/erase.txt" || fail "erase output: $(cat "$work/erase.txt")"
[ "$(sql "SELECT reference FROM erasures")" = "DSAR-E2E-1" ] || fail "no audit record"
[ "$(sql "SELECT count(*) FROM surveys WHERE phone_erased_at IS NOT NULL AND phone_hash IS NULL")" -ge 1 ] ||
  fail "the survey still holds the number's hash"

# A new encryption key, the old one kept to read, as docs/data-protection.md says: the service is
# restarted with the new ring first (from then on it seals under the new key: a citizen's late
# STOP too, which the old service sealed under the old one while re-encryption ran), and it still
# reads every number; then re-encryption moves everything else to the new key.
old_keys="$SURVEYD_PHONE_KEYS"
export SURVEYD_PHONE_KEYS="$old_keys,k2:$(head -c 32 /dev/urandom | base64)" SURVEYD_PHONE_KEY_ACTIVE=k2
kill -TERM "$pid"
wait "$pid" || fail "surveyd did not stop cleanly"
"$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd-2.log" 2>&1 &
pids+=($!)
wait_healthy "$port"
out=$("$BUILD/surveyd" keys rotate -c "$SRC/config/surveyd.yaml") || fail "keys rotate failed: $out"
[[ $out == "keys rotate: "*" re-encrypted with the active key"* ]] || fail "keys rotate said: $out"
for column in "surveys phone_enc" "raw_events raw" "rejected_events raw" "opt_outs phone_enc"; do
  set -- $column
  left=$(sql "SELECT count(*) FROM $1 WHERE $2 IS NOT NULL AND $2 NOT LIKE 'v1:k2:%'")
  [ "$left" = 0 ] || fail "$left value(s) of $1.$2 not under the new key"
done
out=$("$BUILD/surveyd" retention run -c "$SRC/config/surveyd.yaml") || fail "retention run failed: $out"
[[ $out == "retention: "* ]] || fail "retention run said: $out"
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || fail "not ready after the key change"

# Nothing in the database, in any form, holds a number.
pg_dump --no-owner "$url" >"$work/dump.sql" || fail "pg_dump failed"
[ "$(grep -c 'v1:k2:' "$work/dump.sql")" -gt "$surveys" ] || fail "the dump holds no encrypted values: not a real dump?"
fail_if_output "the database dump holds phone numbers" grep -E -o "$number_pattern" "$work/dump.sql"
fail_if_output "a log holds a phone number" grep -E "$number_pattern" "$work"/surveyd*.log
# No link token anywhere: the database keeps only their hashes, the logs never a path of /s/.
fail_if_output "a survey link token is in the dump or a log" \
  grep -F -o -f "$work/tokens.txt" "$work/dump.sql" "$work"/surveyd*.log
# No secret the run was given, nor any key of the ring (old or new), in the dump or a log.
for secret in "$SURVEYD_TOKEN_SECRET" "$SURVEYD_PHONE_HASH_KEY" "$SURVEYD_FEED_SECRET" \
  "$SURVEYD_WMNOW_API_KEY" "$SURVEYD_WMNOW_WEBHOOK_SECRET" "$SURVEYD_ANALYST_TOKEN" \
  $(echo "$SURVEYD_PHONE_KEYS" | tr ',' '\n' | cut -d: -f2-); do
  [ ${#secret} -ge 16 ] || fail "a secret of the run is too short to look for"
  if grep -F -l -e "$secret" "$work/dump.sql" "$work"/surveyd*.log "$work"/*.txt; then
    fail "a secret is in the files above"
  fi
done
# The citizens' words: in no log; in the dump only in the tables that keep them.
fail_if_output "a citizen's words are in a log" \
  grep -F -f "$work/words.txt" "$work"/surveyd*.log "$work/erase.txt" "$work/held.txt"
awk '/^COPY /{table=$2; next} /^\\\.$/{table=""; next} {print table "\t" $0}' "$work/dump.sql" |
  grep -v -E '^public\.(responses|inbound_messages)'$'\t' >"$work/dump-elsewhere.txt" || true
fail_if_output "a citizen's words are in the dump outside the responses and the texts received" \
  grep -F -f "$work/words.txt" "$work/dump-elsewhere.txt"
# The test can fail: the simulators' own records are full of numbers.
grep -qE "$number_pattern" "$work/wmnow-sim.log" "$work/held.txt" 2>/dev/null ||
  grep -E "$number_pattern" <<<"$(curl -fs "http://127.0.0.1:$port_gw/v1/messages?limit=5")" >/dev/null ||
  fail "the pattern finds no number anywhere: the check proves nothing"
grep -q -F -f "$work/words.txt" "$work/dump.sql" ||
  fail "the dump holds none of the citizens' words: the check proves nothing"
echo "privacy: $surveys surveys, $answered answers, $opt_outs opt-outs; erased one number; keys rotated; no number, token, secret or citizen's words in the dump or the logs: 1 passed, 0 failed"
