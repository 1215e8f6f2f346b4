#!/usr/bin/env bash
# The TCP feed over TLS (SURVEYD_FEED_TLS): `openssl s_server`, with a certificate made for the
# test, plays the command-and-control side and streams a generated file. With the right CA the
# events arrive; with another CA the daemon refuses the server and stores nothing.
#   tests/e2e/feed_tls_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"

make_cert() {  # make_cert NAME: a self-signed certificate for 127.0.0.1
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null
}
make_cert feed
make_cert other

count=200
"$BUILD/cw-sim" generate --count "$count" --seed 9 --with-seq --now >"$work/stream.ndjson" 2>/dev/null
export_secrets
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:9" SURVEYD_DISPATCH_POLL_MS=3600000
export SURVEYD_RULES="$SRC/config/rules.yaml" SURVEYD_FEED_TLS=true

# run CA_NAME SECONDS: one daemon against one TLS feed; sets `stored` to the events it stored
# within SECONDS.
run() {
  local url feed_port http_port server feeder daemon
  stored=0
  url=$(new_database "tls_$1_$$_$RANDOM")
  feed_port=$(free_port); http_port=$(free_port)
  # s_server sends its standard input to the client; keep it open so the connection stays up.
  mkfifo "$work/feed-$1"
  openssl s_server -quiet -accept "$feed_port" -cert "$work/feed.pem" -key "$work/feed.key" \
    <"$work/feed-$1" >"$work/s_server-$1.log" 2>&1 &
  server=$!; pids+=($server)
  { cat "$work/stream.ndjson"; exec sleep 60; } >"$work/feed-$1" &
  feeder=$!; pids+=($feeder)
  sleep 0.5
  SURVEYD_DATABASE_URL="$url" SURVEYD_HTTP_LISTEN="127.0.0.1:$http_port" \
    SURVEYD_FEED_TCP="127.0.0.1:$feed_port" SURVEYD_FEED_TLS_CA_FILE="$work/$1.pem" \
    "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd-$1.log" 2>&1 &
  daemon=$!; pids+=($daemon)
  for _ in $(seq 1 $(($2 * 5))); do
    stored=$(psql -X -At "$url" -c "SELECT count(*) FROM events" 2>/dev/null || echo 0)
    [ "$stored" -ge "$count" ] && break
    sleep 0.2
  done
  kill "$daemon" "$server" "$feeder" 2>/dev/null || true
}

run feed 15
[ "$stored" = "$count" ] || fail "over TLS with the right CA: $stored of $count events stored"
grep -q '"subscribe"' "$work/s_server-feed.log" || fail "the daemon did not subscribe over TLS"

run other 5
[ "$stored" = 0 ] || fail "a feed whose certificate the CA did not sign must be refused ($stored stored)"
refusal=$(grep -i -m 1 "certificate\|handshake" "$work/surveyd-other.log") || fail "the refusal should say why"
echo "refused: ${refusal#* warning }"

echo "feed over TLS: $count events with the right CA, none with another: 1 passed, 0 failed"
