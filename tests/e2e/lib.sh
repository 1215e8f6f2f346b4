# Shared by the end-to-end tests. Source it with the test's BUILD_DIR and SOURCE_DIR arguments:
#   source "$(dirname "$0")/lib.sh" "$@"
# It sets BUILD, SRC, work (a temporary folder), admin (SURVEYD_TEST_DATABASE_URL) and pids (add
# every process started), and on exit kills those processes, drops the databases made by
# new_database, prints the tails of "$work"/*.log if the test failed, and removes "$work".
set -euo pipefail
BUILD=$(realpath "$1")
SRC=$(realpath "$2")
: "${SURVEYD_TEST_DATABASE_URL:?set SURVEYD_TEST_DATABASE_URL (scripts/test does)}"
source "$SRC/scripts/lib/common.sh"

work=$(mktemp -d /tmp/surveyd-e2e.XXXXXX)
chmod 755 "$work"
admin="$SURVEYD_TEST_DATABASE_URL"
pids=()

_e2e_finish() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done
  fi
  while read -r db; do
    psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done < <(cat "$work/.databases" 2>/dev/null)
  rm -rf "$work"
  exit "$rc"
}
trap _e2e_finish EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# fail_if_output MESSAGE COMMAND...: fails with MESSAGE and the first lines COMMAND printed, if it
# printed any (a grep finding what must not be there). The output is read whole: under pipefail,
# `grep ... | head -5 | grep .` is false when grep is killed by SIGPIPE, which happens when it
# finds the most. A COMMAND that fails otherwise than by finding nothing (status 1) fails too.
fail_if_output() {
  local message=$1 found status=0
  shift
  found=$("$@") || status=$?
  [ "$status" -le 1 ] || fail "$message: could not look ($1 ended with status $status)"
  [ -z "$found" ] || fail "$message:"$'\n'"$(head -5 <<<"$found")"
}

# has TEXT PATTERN: whether TEXT holds PATTERN (a glob). For command output, use it as
# `has "$(cmd)" '*"ready":true*'`, never `cmd | grep -q`: under pipefail, grep -q leaving at the
# first match can kill cmd with SIGPIPE, and the pipeline is then false although it matched.
has() { [[ $1 == $2 ]]; }

# new_database NAME: creates it (dropped at exit) and prints its URL. The name is kept in a file,
# not a variable, because callers run this in a $(...) subshell.
# A UK mobile number in any of the forms the tests use (+447700900001, 447700900001, 07700
# 900001), standing alone: not a run of digits inside a longer token (a random request id in hex
# can hold "07406393874").
PHONE_NUMBER_PATTERN='(^|[^0-9A-Za-z])(\+?447[0-9]{9}|07[0-9]{3} ?[0-9]{6})([^0-9A-Za-z]|$)'

# A survey link (/s/ and its 22-character token): whoever holds it can answer the survey.
SURVEY_LINK_PATTERN='/s/[A-Za-z0-9_-]{22}([^A-Za-z0-9_-]|$)'

# Fails when any of the files holds a phone number, a survey link, a secret export_secrets gave
# the run, or a line matching the extra pattern $1 (a citizen's words the run used; '' for
# none). Prints the offending lines (never the secret: only the files holding one).
no_personal_data() {
  local extra=$1
  shift
  local pattern="$PHONE_NUMBER_PATTERN|$SURVEY_LINK_PATTERN"
  [ -n "$extra" ] && pattern="$pattern|$extra"
  if grep -E "$pattern" "$@"; then fail "personal data (a phone number, a link or a citizen's words) in $*"; fi
  local secret ring=${SURVEYD_PHONE_KEYS:-}
  for secret in "${SURVEYD_TOKEN_SECRET:-}" "${SURVEYD_PHONE_HASH_KEY:-}" "${SURVEYD_FEED_SECRET:-}" \
    "${SURVEYD_WMNOW_API_KEY:-}" "${SURVEYD_WMNOW_WEBHOOK_SECRET:-}" "${SURVEYD_ANALYST_TOKEN:-}" \
    "${ring#*:}"; do
    [ -n "$secret" ] || continue
    if grep -F -l -e "$secret" "$@"; then fail "a secret of the run in the files above"; fi
  done
}

new_database() {
  psql -X -q "$admin" -c "CREATE DATABASE $1" >/dev/null
  echo "$1" >>"$work/.databases"
  echo "${admin%/*}/$1"
}

# Fresh secrets for `surveyd serve`, in the environment.
export_secrets() {
  export SURVEYD_TOKEN_SECRET SURVEYD_PHONE_HASH_KEY SURVEYD_FEED_SECRET SURVEYD_WMNOW_API_KEY \
    SURVEYD_WMNOW_WEBHOOK_SECRET SURVEYD_ANALYST_TOKEN SURVEYD_PHONE_KEYS
  SURVEYD_TOKEN_SECRET=$(random_secret)
  SURVEYD_PHONE_HASH_KEY=$(random_secret)
  SURVEYD_FEED_SECRET=$(random_secret)
  SURVEYD_WMNOW_API_KEY=$(random_secret)
  SURVEYD_WMNOW_WEBHOOK_SECRET=$(random_secret)
  SURVEYD_ANALYST_TOKEN=$(random_secret)
  SURVEYD_PHONE_KEYS="k1:$(random_secret)"
}

# The ops view of an instance's health (every check), on port $1.
health() { curl -s -H "Authorization: Bearer $SURVEYD_ANALYST_TOKEN" "http://127.0.0.1:$1/api/v1/health"; }

# The shipped policy with no quiet hours and no delay (or the one given, e.g. 3s), so a test does
# not wait for the clock: writes it to $work/rules.yaml and points SURVEYD_RULES at it.
use_prompt_rules() {
  sed -e '/^quiet_hours:/a\  enabled: false' -e "s/^\(\s*delay:\).*/\1 ${1:-0s}/" \
    "$SRC/config/rules.yaml" >"$work/rules.yaml"
  cp "$SRC/config/alert_lexicon.yaml" "$work/"  # its alerts: section names the lexicon beside it
  "$BUILD/surveyd" rules check "$work/rules.yaml" >/dev/null
  export SURVEYD_RULES="$work/rules.yaml"
}

# feed_signature TIMESTAMP < BODY: the X-Feed-Signature value for BODY.
feed_signature() {
  echo "sha256=$({ printf '%s.' "$1"; cat; } | openssl dgst -sha256 -hmac "$SURVEYD_FEED_SECRET" | sed 's/.* //')"
}

# sql QUERY: what QUERY gives in the test's database ($url), unaligned. A test that needs
# another defines its own after sourcing this file.
sql() { psql -X -At "$url" -c "$1"; }

# wait_for_query SECONDS SQL EXPECTED: polls the database (`sql`) until the query gives EXPECTED,
# or fails saying what it gave.
wait_for_query() {
  local got=""
  for _ in $(seq 1 $(($1 * 10))); do
    got=$(sql "$2")
    [ "$got" = "$3" ] && return 0
    sleep 0.1
  done
  fail "waited $1 s for [$2] to give [$3]; it gave [$got]"
}

# wait_healthy PORT...: until each answers /healthz (10 s at most).
wait_healthy() {
  local port
  for port in "$@"; do
    for _ in $(seq 1 100); do
      curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
      sleep 0.1
    done
  done
}

# start_smtp_relay: the SMTP relay of the integration tests (tests/integration/smtp_server.py),
# keeping what it receives in $work/mail.jsonl; points the service's alert e-mails at it.
start_smtp_relay() {
  python3 "$SRC/tests/integration/smtp_server.py" --port-file "$work/smtp.port" \
    --out "$work/mail.jsonl" >"$work/smtp.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do [ -s "$work/smtp.port" ] && break; sleep 0.1; done
  [ -s "$work/smtp.port" ] || fail "the SMTP relay did not start"
  export SURVEYD_SMTP_HOST=127.0.0.1 SURVEYD_SMTP_PORT
  SURVEYD_SMTP_PORT=$(cat "$work/smtp.port")
  export SURVEYD_ALERT_EMAIL_TO=duty@force.example SURVEYD_ALERT_EMAIL_FROM=surveys@force.example
}
