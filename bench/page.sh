#!/usr/bin/env bash
# Survey page benchmark (issue 6): requests per second of `GET /s/{token}` from surveyd, next to
# nginx serving a static file of the same size on the same machine, both measured with wrk in the
# same run, while surveyd's connection cap holds.
#
# usage: bench/page.sh [--seconds S] [--connections C] [--threads T] [--cap N] [--keep]
#
#   --seconds S      length of each wrk run (default 10, at least 4)
#   --connections C  wrk connections, for both servers (default 64)
#   --threads T      wrk threads (default 2)
#   --cap N          surveyd's http.max_connections (default 128); during surveyd's run,
#                    bench/holder.py opens N - C + 20 more connections: the 20 past the cap must
#                    be answered 503 with Retry-After while wrk's connections are served
#   --keep           keep the temporary directory (logs, configs) afterwards
#
# What it does, on a private PostgreSQL 15 in a temporary directory:
#   1. surveyd (Release, build-bench) with the shipped rules minus delay and quiet hours, and
#      wmnow-sim as the gateway (it plays no citizen). One event is pushed, signed; its text goes
#      out; the link token is derived from the survey's nonce as the dispatcher does.
#   2. The page a phone gets (GET with a browser User-Agent) is saved to nginx's root, so nginx
#      serves a file of exactly the same size (its headers differ a little).
#   3. nginx (Debian's, worker_processes auto, access log off, keep-alive without a request cap,
#      as surveyd has none): wrk -t T -c C -d S --latency.
#   4. surveyd: the same wrk command on /s/{token}, with holder.py filling the connection cap.
#   5. surveyd again with its page cache off (survey.cache_ttl_ms 0: every GET reads PostgreSQL
#      on a worker and renders the page), for comparison with how it was.
# It prints both rates, the ratio (goal: at least 0.5) and the p99 latencies, and checks that
# the page wrk got was the survey (not an error page) and that the cap held.
#
# Environment: SURVEYD_BUILD_DIR (default build-bench; configured as Release); BENCH_BIN_DIR=DIR
# uses the surveyd and wmnow-sim binaries in DIR instead of building (it says so); BENCH_PERF=FILE
# records a `perf record -g` profile of surveyd during its wrk run into FILE.
set -euo pipefail

SECONDS_PER_RUN=10
CONNECTIONS=64
THREADS=2
CAP=128
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --cap) CAP=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/page.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$CAP" -gt "$CONNECTIONS" ] || { echo "bench/page.sh: --cap must exceed --connections" >&2; exit 2; }
# The connection cap is filled a second into each run and held until 2 s before its end.
[ "$SECONDS_PER_RUN" -ge 4 ] 2>/dev/null ||
  { echo "bench/page.sh: --seconds must be a whole number, 4 or more" >&2; exit 2; }

NAME=page
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${SURVEYD_PACKAGES[@]}" wrk nginx python3 curl openssl
bench_binaries surveyd wmnow-sim
bench_work
bench_postgres

# 1. surveyd with one survey sent.
HTTP_PORT=$(free_port)
GATEWAY_PORT=$(free_port)
# Numbers are encrypted at rest (migration 0005); the bootstrap token reads /api/v1/health (the
# peak of connections).
bench_secrets
export SURVEYD_DATABASE_URL
SURVEYD_DATABASE_URL=$(pg_url "$PG_PORT" surveyd)
export SURVEYD_HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$HTTP_PORT"
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$GATEWAY_PORT"
export SURVEYD_HTTP_MAX_CONNECTIONS="$CAP"
# wrk and holder.py both connect from 127.0.0.1: the cap measured is the instance's, not one
# client's (the unit tests hold that).
export SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT="$CAP"
export SURVEYD_DISPATCH_POLL_MS=100
export SURVEYD_LOG_LEVEL=warn
sed -e '/^quiet_hours:/a\  enabled: false' -e 's/^\(\s*delay:\).*/\1 0s/' \
  "$ROOT/config/rules.yaml" >"$WORK/rules.yaml"
cp "$ROOT/config/alert_lexicon.yaml" "$WORK/"  # named by the rules' alerts: section
export SURVEYD_RULES="$WORK/rules.yaml"

"$BIN/wmnow-sim" --listen "127.0.0.1:$GATEWAY_PORT" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --open-rate 0 --response-rate 0 \
  --delivery-delay-ms 3600000 >"$WORK/wmnow-sim.log" 2>&1 &
# (No delivery reports: their kept-alive connection would hold one of the slots counted below.)
pids+=("$!")
"$BIN/surveyd" serve -c "$ROOT/config/surveyd.yaml" >"$WORK/surveyd.log" 2>&1 &
SURVEYD_PID=$!
pids+=("$SURVEYD_PID")
bench_wait_http "http://127.0.0.1:$HTTP_PORT/healthz"

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
event='{"event_id":"BENCH-PAGE-1","type":"call.ended","occurred_at":"'$now'","incident":{"id":"INC-B1","type_code":"BURG-RES","category":"crime","grade":"P3","qualifiers":[],"location":{"npu":"Birmingham East","beat":"BE-14","postcode_district":"B33"}},"call":{"id":"C-B1","channel":"101","handler_id":"OP4411","handler_team":"Force Contact - Team 3"},"caller":{"phone":"07700 900123","phone_type":"mobile","role":"victim","age":41,"language":"en"}}'
ts=$(date +%s)
sig="sha256=$({ printf '%s.' "$ts"; printf '%s' "$event"; } | openssl dgst -sha256 -hmac "$SURVEYD_FEED_SECRET" | sed 's/.* //')"
out=$(curl -fs -H 'Content-Type: application/json' -H "X-Feed-Timestamp: $ts" -H "X-Feed-Signature: $sig" \
  --data-binary "$event" "http://127.0.0.1:$HTTP_PORT/api/v1/feed/events")
[[ $out == *'"decision":"survey"'* ]] || { echo "bench/page.sh: the event was not surveyed: $out" >&2; exit 1; }
SPSQL=("${PSQL[@]}" -d surveyd -At)
for _ in $(seq 1 100); do
  [ "$("${SPSQL[@]}" -c "SELECT count(*) FROM survey_links")" = 1 ] && break
  sleep 0.1
done
nonce=$("${SPSQL[@]}" -c "SELECT s.token_nonce FROM surveys s JOIN survey_links l ON l.survey_id = s.id")
[ -n "$nonce" ] || { echo "bench/page.sh: the survey's text was not sent" >&2; exit 1; }
token=$(printf '%s' "$nonce" | openssl dgst -sha256 -hmac "$SURVEYD_TOKEN_SECRET" -binary | head -c 16 |
  base64 | tr '+/' '-_' | tr -d '=')
PAGE_URL="http://127.0.0.1:$HTTP_PORT/s/$token"

# 2. The page, byte for byte, for nginx.
mkdir -p "$WORK/www"
# curl's User-Agent marks an automated fetch: the page is the same, but the open is left to wrk.
curl -fs -o "$WORK/www/page.html" "$PAGE_URL"
grep -q '<form method="post"' "$WORK/www/page.html" || { echo "bench/page.sh: not the survey page" >&2; exit 1; }
PAGE_BYTES=$(stat -c %s "$WORK/www/page.html")
chmod -R a+rX "$WORK/www"

# 3. nginx.
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  types { text/html html; }
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
    location = /page { try_files /page.html =404; default_type text/html; }
  }
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/logs/stdout.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$NGINX_PORT/page" && break; sleep 0.1; done
NGINX_BYTES=$(curl -fs "http://127.0.0.1:$NGINX_PORT/page" | wc -c)
[ "$NGINX_BYTES" = "$PAGE_BYTES" ] || { echo "bench/page.sh: nginx serves $NGINX_BYTES bytes, not $PAGE_BYTES" >&2; exit 1; }

# size FILE: bytes read per response (body and headers), to show both served the page.
size() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"(\d+) requests in [^,]+, ([\d.]+)([KMG]?B) read", text)
scale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[m.group(3)]
print(round(float(m.group(2)) * scale / int(m.group(1))))
PY
}
# rate FILE: Requests/sec; p99 FILE: the 99% latency; errors FILE: non-2xx and socket errors.
rate() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
p99() { sed -n 's/^ *99% *\([0-9.]*[a-z]*\).*/\1/p' "$1"; }
errors() {
  local non2xx socket
  non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$1")
  socket=$(sed -n 's/^ *Socket errors: .*/&/p' "$1")
  echo "${non2xx:-0}${socket:+ ($socket)}"
}
WRK=(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${SECONDS_PER_RUN}s" --latency)

log "nginx: ${WRK[*]} (a static file of $PAGE_BYTES bytes)"
"${WRK[@]}" "http://127.0.0.1:$NGINX_PORT/page" >"$WORK/wrk-nginx.txt"

# 4. surveyd, with the cap filled meanwhile.
log "surveyd: ${WRK[*]} on /s/{token} (cap $CAP, held to the cap meanwhile)"
EXTRA=$((CAP - CONNECTIONS + 20))
"${WRK[@]}" "$PAGE_URL" >"$WORK/wrk-surveyd.txt" &
wrk_pid=$!
perf_pid=""
if [ -n "${BENCH_PERF:-}" ]; then
  perf record -q -F 999 -g -p "$SURVEYD_PID" -o "$BENCH_PERF" -- sleep "$((SECONDS_PER_RUN - 2))" >/dev/null 2>&1 &
  perf_pid=$!
fi
sleep 1  # wrk's connections first
read -r HELD REFUSED REFUSED_RETRY REFUSED_MS < <(python3 "$BENCH/holder.py" 127.0.0.1 "$HTTP_PORT" \
  "$EXTRA" "$((SECONDS_PER_RUN - 3))")
wait "$wrk_pid"
[ -n "$perf_pid" ] && wait "$perf_pid"

OPENED=$("${SPSQL[@]}" -c "SELECT count(*) FROM surveys WHERE opened_at IS NOT NULL")
READY=$(curl -s -H "Authorization: Bearer $SURVEYD_API_BOOTSTRAP_TOKEN" \
  "http://127.0.0.1:$HTTP_PORT/api/v1/health" || true)

# 5. For comparison, the same surveyd without its page cache: every GET reads PostgreSQL and
# renders the page again, on a worker (as before the cache).
log "surveyd without the page cache (SURVEYD_SURVEY_CACHE_TTL_MS=0): ${WRK[*]}"
kill "$SURVEYD_PID"
wait "$SURVEYD_PID" || true
SURVEYD_SURVEY_CACHE_TTL_MS=0 "$BIN/surveyd" serve -c "$ROOT/config/surveyd.yaml" \
  >"$WORK/surveyd-nocache.log" 2>&1 &
SURVEYD_PID=$!
pids+=("$SURVEYD_PID")
bench_wait_http "http://127.0.0.1:$HTTP_PORT/healthz"
"${WRK[@]}" "$PAGE_URL" >"$WORK/wrk-nocache.txt"

NGINX_RATE=$(rate "$WORK/wrk-nginx.txt")
SURVEYD_RATE=$(rate "$WORK/wrk-surveyd.txt")
[ -n "$NGINX_RATE" ] && [ -n "$SURVEYD_RATE" ] || { cat "$WORK"/wrk-*.txt >&2; exit 1; }
RATIO=$(python3 -c "print(f'{$SURVEYD_RATE / $NGINX_RATE:.2f}')")
NOCACHE_RATE=$(rate "$WORK/wrk-nocache.txt")
PEAK=$(printf '%s' "$READY" | python3 -c 'import json,sys
try: print(json.load(sys.stdin)["checks"]["http"]["peak_connections"])
except Exception: print("?")')

echo
echo "surveyd survey page benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(bench_machine)"
echo "  wrk -t $THREADS -c $CONNECTIONS -d ${SECONDS_PER_RUN}s, a page of $PAGE_BYTES bytes"
printf '  %-44s %s\n' \
  "nginx, static file" "$(printf '%.0f' "$NGINX_RATE") requests/s  p99 $(p99 "$WORK/wrk-nginx.txt")  errors $(errors "$WORK/wrk-nginx.txt")  ~$(size "$WORK/wrk-nginx.txt") B/response" \
  "surveyd, GET /s/{token}" "$(printf '%.0f' "$SURVEYD_RATE") requests/s  p99 $(p99 "$WORK/wrk-surveyd.txt")  errors $(errors "$WORK/wrk-surveyd.txt")  ~$(size "$WORK/wrk-surveyd.txt") B/response" \
  "ratio surveyd / nginx (goal >= 0.5)" "$RATIO" \
  "surveyd, page cache off (as before)" "$(printf '%.0f' "$NOCACHE_RATE") requests/s  p99 $(p99 "$WORK/wrk-nocache.txt")  ratio $(python3 -c "print(f'{$NOCACHE_RATE / $NGINX_RATE:.2f}')")" \
  "connection cap $CAP, while wrk ran" "$HELD more held, $REFUSED refused ($REFUSED_RETRY with 503 + Retry-After, slowest ${REFUSED_MS} ms); peak $PEAK open" \
  "first opens recorded" "$OPENED (of 1 survey)"

status=0
[ "$(errors "$WORK/wrk-surveyd.txt")" = 0 ] || { echo "surveyd answered wrk with errors" >&2; status=1; }
[ "$HELD" = $((CAP - CONNECTIONS)) ] && [ "$REFUSED" = 20 ] && [ "$REFUSED_RETRY" = 20 ] || { echo "the cap did not hold: $HELD held, $REFUSED refused" >&2; status=1; }
[ "$PEAK" = "?" ] || [ "$PEAK" -le "$CAP" ] || { echo "peak $PEAK connections over the cap $CAP" >&2; status=1; }
[ "$OPENED" = 1 ] || { echo "the open was not recorded" >&2; status=1; }
exit "$status"
