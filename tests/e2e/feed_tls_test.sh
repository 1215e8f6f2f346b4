#!/usr/bin/env bash
# The TCP feed over TLS (SURVEYD_FEED_TLS): `openssl s_server`, with a certificate made for the
# test, plays the command-and-control side and streams a generated file. With the right CA the
# events arrive; with another CA the daemon refuses the server and stores nothing. With mutual TLS
# (s_server -Verify: a client certificate is required) the daemon holding the right certificate
# streams, and one without is refused by the feed.
#   tests/e2e/feed_tls_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"

make_cert() {  # make_cert NAME: a self-signed certificate for 127.0.0.1
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null
}
make_cert feed
make_cert other
make_cert client  # surveyd's client certificate; self-signed, so it is the feed's client CA too

count=200
"$BUILD/cw-sim" generate --count "$count" --seed 9 --with-seq --now >"$work/stream.ndjson" 2>/dev/null
export_secrets
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:9" SURVEYD_DISPATCH_POLL_MS=3600000
export SURVEYD_FEED_TLS=true
use_prompt_rules  # texts are due at once, so the dispatcher's wake-up shows

# run NAME CA_NAME SECONDS [s_server options...]: one daemon against one TLS feed; sets `stored`
# to the events it stored within SECONDS. CLIENT=NAME makes the daemon present NAME.pem/.key.
# REFUSED=1: a refusal is expected, so the wait ends a second after the daemon logs one (a
# refused feed stores nothing, however long it is given).
run() {
  local name=$1 ca=$2 seconds=$3 url feed_port http_port server feeder daemon
  shift 3
  stored=0
  url=$(new_database "tls_${name//-/_}_$$_$RANDOM")
  feed_port=$(free_port); http_port=$(free_port)
  # s_server sends its standard input to the client; keep it open so the connection stays up.
  mkfifo "$work/feed-$name"
  openssl s_server -quiet -accept "$feed_port" -cert "$work/feed.pem" -key "$work/feed.key" "$@" \
    <"$work/feed-$name" >"$work/s_server-$name.log" 2>&1 &
  server=$!; pids+=($server)
  { cat "$work/stream.ndjson"; exec sleep 60; } >"$work/feed-$name" &
  feeder=$!; pids+=($feeder)
  sleep 0.5
  local client_env=()
  if [ -n "${CLIENT:-}" ]; then
    client_env=(SURVEYD_FEED_TLS_CERT_FILE="$work/$CLIENT.pem" SURVEYD_FEED_TLS_KEY_FILE="$work/$CLIENT.key")
  fi
  env "${client_env[@]}" SURVEYD_DATABASE_URL="$url" SURVEYD_HTTP_LISTEN="127.0.0.1:$http_port" \
    SURVEYD_FEED_TCP="127.0.0.1:$feed_port" SURVEYD_FEED_TLS_CA_FILE="$work/$ca.pem" \
    "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd-$name.log" 2>&1 &
  daemon=$!; pids+=($daemon)
  local refused_at=""
  for i in $(seq 1 $((seconds * 5))); do
    stored=$(psql -X -At "$url" -c "SELECT count(*) FROM events" 2>/dev/null || echo 0)
    [ "$stored" -ge "$count" ] && break
    if [ "${REFUSED:-0}" = 1 ] && [ -z "$refused_at" ] &&
      grep -q -i "handshake\|certificate\|closed\|failed" "$work/surveyd-$name.log"; then
      refused_at=$i
    fi
    [ -n "$refused_at" ] && [ "$i" -ge $((refused_at + 5)) ] && break
    sleep 0.2
  done
  # Events from the TCP feed wake the dispatcher (its poll is an hour here): sends are tried at
  # once (and fail: no gateway listens), as for pushed events.
  attempted=0
  if [ "$stored" -gt 0 ]; then
    for _ in $(seq 1 25); do
      attempted=$(psql -X -At "$url" -c "SELECT count(*) FROM send_attempts" 2>/dev/null || echo 0)
      [ "$attempted" -gt 0 ] && break
      sleep 0.2
    done
  fi
  kill "$daemon" "$server" "$feeder" 2>/dev/null || true
}

run feed feed 15
[ "$stored" = "$count" ] || fail "over TLS with the right CA: $stored of $count events stored"
grep -q '"subscribe"' "$work/s_server-feed.log" || fail "the daemon did not subscribe over TLS"
[ "$attempted" -gt 0 ] || fail "events from the TCP feed did not wake the dispatcher (no send tried within 5 s)"
if grep -q "plain TCP" "$work/surveyd-feed.log"; then fail "no plain-TCP warning over TLS"; fi

REFUSED=1 run other other 5
[ "$stored" = 0 ] || fail "a feed whose certificate the CA did not sign must be refused ($stored stored)"
refusal=$(grep -i -m 1 "certificate\|handshake" "$work/surveyd-other.log") || fail "the refusal should say why"
echo "refused: ${refusal#* warning }"

# Mutual TLS: the feed requires a client certificate signed by its client CA.
CLIENT=client run mtls feed 15 -Verify 1 -verify_return_error -CAfile "$work/client.pem"
[ "$stored" = "$count" ] || fail "mutual TLS with our certificate: $stored of $count events stored"

REFUSED=1 run mtls-none feed 5 -Verify 1 -verify_return_error -CAfile "$work/client.pem"
[ "$stored" = 0 ] || fail "a feed that requires a client certificate must refuse us without one ($stored stored)"
grep -q -i "handshake\|certificate\|closed\|failed" "$work/surveyd-mtls-none.log" ||
  fail "the refusal without a client certificate should be logged"

CLIENT=other REFUSED=1 run mtls-wrong feed 5 -Verify 1 -verify_return_error -CAfile "$work/client.pem"
[ "$stored" = 0 ] || fail "a client certificate from another CA must be refused ($stored stored)"

# A plain-TCP feed to another machine is warned about at start; the config check refuses half a
# client certificate.
out=$(SURVEYD_FEED_TLS=false SURVEYD_FEED_TCP="192.0.2.1:7000" SURVEYD_DATABASE_URL="$(new_database "tls_warn_$$_$RANDOM")" \
  SURVEYD_HTTP_LISTEN="127.0.0.1:$(free_port)" timeout 3 "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" 2>&1 || true)
[[ $out == *"plain TCP to another machine"* ]] || fail "no warning for a plain-TCP feed to another machine: $out"
out=$(SURVEYD_FEED_TCP="127.0.0.1:7000" SURVEYD_FEED_TLS_CA_FILE="$work/feed.pem" \
  SURVEYD_FEED_TLS_CERT_FILE="$work/client.pem" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" 2>&1 || true)
[[ $out == *"go together"* ]] || fail "a client certificate without its key must be refused: $out"

echo "feed over TLS: right CA, mutual TLS: $count events each; another CA, no or a wrong client certificate: refused; 1 passed, 0 failed"
