#!/usr/bin/env bash
# TLS on surveyd's own listener, with a local CA made here: `config check` accepts the pair and
# names what is wrong with a bad one; the listener serves HTTPS to a client trusting the CA and
# not to one trusting another CA nor to plain HTTP; SIGHUP after the files change serves the new
# certificate to new connections; a broken pair on SIGHUP is refused and the old one stays.
#   tests/e2e/listener_tls_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"

# Two CAs, each with a certificate for 127.0.0.1.
make_ca() {  # make_ca NAME
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=surveyd test $1" \
    -keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$work/$1-server.key" \
    -out "$work/$1-server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$work/$1.ext"
  openssl x509 -req -in "$work/$1-server.csr" -CA "$work/$1.pem" -CAkey "$work/$1.key" \
    -CAcreateserial -days 2 -extfile "$work/$1.ext" -out "$work/$1-server.pem" 2>/dev/null
}
make_ca one
make_ca two
cp "$work/one-server.pem" "$work/cert.pem"
cp "$work/one-server.key" "$work/key.pem"

url=$(new_database "tls_$$_$RANDOM")
port=$(free_port)
export_secrets
export SURVEYD_DATABASE_URL="$url" SURVEYD_HTTP_LISTEN="127.0.0.1:$port"
export SURVEYD_PUBLIC_BASE_URL="https://127.0.0.1:$port" SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:9"
export SURVEYD_HTTP_TLS_CERT_FILE="$work/cert.pem" SURVEYD_HTTP_TLS_KEY_FILE="$work/key.pem"
unset SURVEYD_FEED_TCP
use_prompt_rules

# config check: this pair is fine; a key of another certificate and a missing file are named.
"$BUILD/surveyd" config check -c "$SRC/config/surveyd.yaml" >"$work/check.txt" 2>&1 ||
  fail "config check refused a good pair: $(cat "$work/check.txt")"
grep -q "(TLS)" "$work/check.txt" || fail "config check does not say TLS is on"
# Nowhere for alerts to go is said (not refused: a force may work them on the dashboard alone).
grep -q "warning: no webhook and no e-mail address for alerts" "$work/check.txt" ||
  fail "config check does not warn that nobody is told of alerts: $(cat "$work/check.txt")"
SURVEYD_ALERT_EMAIL_TO=duty@force.example SURVEYD_ALERT_EMAIL_FROM=surveyd@force.example SURVEYD_SMTP_HOST=127.0.0.1 \
  "$BUILD/surveyd" config check -c "$SRC/config/surveyd.yaml" >"$work/check.txt" 2>&1 ||
  fail "config check refused alert e-mails: $(cat "$work/check.txt")"
grep -q "warning: no webhook" "$work/check.txt" && fail "config check warns with alert e-mails set: $(cat "$work/check.txt")"
if SURVEYD_HTTP_TLS_KEY_FILE="$work/two-server.key" "$BUILD/surveyd" config check \
  -c "$SRC/config/surveyd.yaml" >"$work/check.txt" 2>&1; then
  fail "config check accepted a key that does not match the certificate"
fi
grep -q "does not match the certificate" "$work/check.txt" || fail "mismatch not named: $(cat "$work/check.txt")"
if SURVEYD_HTTP_TLS_CERT_FILE="$work/missing.pem" "$BUILD/surveyd" config check \
  -c "$SRC/config/surveyd.yaml" >"$work/check.txt" 2>&1; then
  fail "config check accepted a missing certificate"
fi
grep -q "missing.pem" "$work/check.txt" || fail "the missing file is not named: $(cat "$work/check.txt")"

"$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd.log" 2>&1 &
pid=$!
pids+=($pid)
https() {  # https CA PATH: the status code, or 000 when the connection fails
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$work/$1.pem" "https://127.0.0.1:$port$2" || true
}
for _ in $(seq 1 100); do [ "$(https one /healthz)" = 200 ] && break; sleep 0.1; done
[ "$(https one /healthz)" = 200 ] || fail "no HTTPS with the right CA: $(tail -3 "$work/surveyd.log")"
[ "$(https two /healthz)" = 000 ] || fail "a client trusting another CA got an answer"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/healthz" || true)
[ "$code" != 200 ] || fail "plain HTTP is answered on the TLS listener"
expiry=$(curl -fs --cacert "$work/one.pem" "https://127.0.0.1:$port/metrics" |
  awk '/^surveyd_tls_certificate_expiry_timestamp_seconds /{print $2}')
now=$(date +%s)
[ -n "$expiry" ] && [ "$expiry" -gt "$now" ] && [ "$expiry" -le $((now + 3 * 86400)) ] ||
  fail "the certificate's expiry is not in /metrics: '$expiry'"

# The files change (a renewal), SIGHUP: new connections get the new certificate.
cp "$work/two-server.pem" "$work/cert.pem"
cp "$work/two-server.key" "$work/key.pem"
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q "TLS certificate reloaded" "$work/surveyd.log" && break; sleep 0.1; done
[ "$(https two /healthz)" = 200 ] || fail "the new certificate is not served after SIGHUP"
[ "$(https one /healthz)" = 000 ] || fail "the old certificate is still served after SIGHUP"

# A broken pair (the key cut short): refused, the one in force stays.
head -c 100 "$work/one-server.key" >"$work/key.pem"
kill -HUP "$pid"
for _ in $(seq 1 50); do grep -q "TLS certificate reload failed" "$work/surveyd.log" && break; sleep 0.1; done
grep -q "TLS certificate reload failed" "$work/surveyd.log" || fail "a broken pair was not refused"
[ "$(https two /healthz)" = 200 ] || fail "a failed reload broke the listener"
metrics=$(curl -fs --cacert "$work/two.pem" "https://127.0.0.1:$port/metrics")
grep -q '^surveyd_tls_loads_total{result="failed"} 1$' <<<"$metrics" || fail "the failed reload is not counted"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "surveyd exited $rc after SIGTERM"
echo "listener TLS: config check, right CA only, no plain HTTP, reload on SIGHUP, broken pair refused: 1 passed, 0 failed"
