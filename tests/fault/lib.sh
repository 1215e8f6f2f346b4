# shellcheck shell=bash
# Shared by the fault runs (docs/invariants.md). Source it with the run's BUILD_DIR and SOURCE_DIR:
#   source "$(dirname "$0")/lib.sh" "$@"
# On top of tests/e2e/lib.sh (BUILD, SRC, work, pids, fail, new_database, sql...) it sets the service's
# environment for a fault run (secrets, prompt rules, a short gateway timeout, quick retries) and
# gives: a private PostgreSQL the run may crash, the TCP feed, the WMNow simulator, surveyd
# instances a and b, readiness and settling waits, and the checker.
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh" "$@"
source "$SRC/scripts/lib/pg.sh"

events_stored() { sql "SELECT count(*) FROM events" 2>/dev/null || echo 0; }
feed_stored() { sql "SELECT count(*) FROM events WHERE source = 'tcp'" 2>/dev/null || echo 0; }
outbox_states() {
  sql "SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM outbox GROUP BY 1 ORDER BY 1) s"
}

# fault_database NAME: a fresh database for the run in $url, with the service pointed at it.
fault_database() {
  url=$(new_database "$1")
  export SURVEYD_DATABASE_URL="$url"
}

# private_postgres: a PostgreSQL of the run's own (in $work/pg, on a free port in 31100-31199),
# for runs that crash or stop the server; it becomes $admin, and stops when the run ends.
# The ports are below the kernel's ephemeral range (32768 up, by default), from which the
# connections and listeners of tests running alongside take theirs; a port taken all the same
# between the look and the start is given up for another.
private_postgres() {
  local port tries=0
  pg_data="$work/pg/data"
  for port in $(shuf -i 31100-31199); do
    [ -n "$(ss -Htan "sport = :$port")" ] && continue
    pg_port=$port
    if pg_start "$pg_data" "$pg_port" >/dev/null 2>"$work/pg-start.log"; then
      admin=$(pg_url "$pg_port" postgres)
      trap _fault_finish EXIT
      return 0
    fi
    tries=$((tries + 1))
    grep -q "Address already in use" "$work/pg-start.log" && [ "$tries" -lt 5 ] || break
  done
  cat "$work/pg-start.log" >&2
  fail "cannot start PostgreSQL on port $pg_port"
}
# Stops the private server, then does what tests/e2e/lib.sh does at exit, with the run's status.
_fault_finish() {
  local rc=$?
  set +e  # a failed run must still be cleaned up
  _pg_as_owner "$PG_BIN/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1
  (exit "$rc")
  _e2e_finish
}
pg_crash() { _pg_as_owner "$PG_BIN/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null; }
pg_up() { pg_start "$pg_data" "$pg_port" >/dev/null || fail "PostgreSQL did not come back"; }

# The service's environment for a fault run. SURVEYD_DATABASE_URL comes from fault_database.
fault_environment() {
  feed_port=$(free_port); port_gw=$(free_port); port_a=$(free_port); port_b=$(free_port)
  export_secrets
  export SURVEYD_FEED_TCP="127.0.0.1:$feed_port" SURVEYD_FEED_TLS=false
  export SURVEYD_FEED_SILENCE_TIMEOUT=3 SURVEYD_FEED_BATCH_WAIT_MS=50
  export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$port_gw" SURVEYD_GATEWAY_TIMEOUT_MS=500
  export SURVEYD_DISPATCH_POLL_MS=100 SURVEYD_DISPATCH_BACKOFF_BASE=1 SURVEYD_DISPATCH_BACKOFF_MAX=2
  export SURVEYD_DISPATCH_MAX_ATTEMPTS=30 SURVEYD_DISPATCH_LEASE=3 SURVEYD_DISPATCH_WORKERS=2
  # The invariants read the instances' memory and open files (/proc/PID/status, fd; ss -p): a
  # process that is not dumpable keeps those from a user other than root.
  export SURVEYD_SERVICE_DUMPABLE=true
  use_prompt_rules
}

# start_feed COUNT RATE SEED [cw-sim options...]: the TCP feed; the ids it sent go to
# $work/sent.txt (every one must end up stored: it resends until acked).
start_feed() {
  local count=$1 rate=$2 seed=$3
  shift 3
  feed_count=$count
  "$BUILD/cw-sim" serve --listen "127.0.0.1:$feed_port" --rate "$rate" --count "$count" \
    --seed "$seed" --record "$work/sent.txt" "$@" >"$work/cw-sim.log" 2>&1 &
  feed_pid=$!; pids+=("$feed_pid")
}

# start_gateway [wmnow-sim options...]: the WMNow simulator (its log is what reached a phone).
start_gateway() {
  "$BUILD/wmnow-sim" --listen "127.0.0.1:$port_gw" --api-key "$SURVEYD_WMNOW_API_KEY" \
    --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --open-rate 0 --response-rate 0 \
    --delivery-delay-ms 1000 "$@" >"$work/wmnow-sim.log" 2>&1 &
  pids+=("$!")
}

declare -A pid_of
port_of() { [ "$1" = a ] && echo "$port_a" || echo "$port_b"; }
# start_instance a|b: `surveyd serve` on its own port, appending to $work/surveyd-a|b.log.
start_instance() {
  local port
  port=$(port_of "$1")
  SURVEYD_HTTP_LISTEN="127.0.0.1:$port" SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port" \
    "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >>"$work/surveyd-$1.log" 2>&1 &
  pid_of[$1]=$!; pids+=("$!")
}
migrate() { "$BUILD/surveyd" migrate -c "$SRC/config/surveyd.yaml" >/dev/null; }

ready_within() {  # ready_within PORT SECONDS
  for _ in $(seq 1 $(($2 * 10))); do
    has "$(curl -fs "http://127.0.0.1:$1/readyz" 2>/dev/null)" '*"ready":true*' && return 0
    sleep 0.1
  done
  return 1
}

# start_both: the migrations, then instances a and b, each ready within 10 s.
start_both() {
  migrate
  start_instance a; start_instance b
  wait_healthy "$port_a" "$port_b" "$port_gw"
  ready_within "$port_a" 10 || fail "instance a not ready at the start"
  ready_within "$port_b" 10 || fail "instance b not ready at the start"
}

# settle [SECONDS]: until the TCP feed's events are all stored and nothing is left to send (180 s at
# most), then stops the feed so that it writes what it sent.
settle() {
  local open=x
  for _ in $(seq 1 $((${1:-180} * 5))); do
    open=$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending','claimed','sending')" 2>/dev/null || echo x)
    [ "$(feed_stored)" -ge "${feed_count:-0}" ] && [ "$open" = 0 ] && break
    sleep 0.2
  done
  [ "$(feed_stored)" -ge "${feed_count:-0}" ] || fail "only $(feed_stored) of $feed_count feed events stored"
  [ "$open" = 0 ] || fail "$open message(s) still open: $(outbox_states)"
  sleep 1.5  # the last delivery reports
  kill -TERM "$feed_pid"; wait "$feed_pid" 2>/dev/null || true
  echo "outbox: $(outbox_states)"
}

# check_invariants [checker options...]: tests/fault/check with the feed's ids (and any other
# acknowledged ids in $work/acked-*.txt) and the gateway's log; fails the run if one does not hold.
check_invariants() {
  cat "$work/sent.txt" "$work"/acked-*.txt 2>/dev/null >"$work/acked.txt" || true
  python3 "$SRC/tests/fault/check" --database "$url" --surveyd "$BUILD/surveyd" \
    --rules "$SURVEYD_RULES" --sent "$work/acked.txt" --gateway-log "$work/wmnow-sim.log" "$@" ||
    fail "an invariant does not hold"
}

no_numbers_in_logs() {
  if grep -hE '(\+44|\b0)7700 ?9[0-9]{5}|\+447700' "$work"/surveyd-*.log; then
    fail "a phone number in the service's log"
  fi
}

# rss_kib PID: resident memory in KiB; open_files PID: how many descriptors it holds.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
open_files() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# connections_to PORT PID: its TCP connections to that local port, in any state (closing ones too).
connections_to() { ss -Htnp "( dport = :$1 )" | grep -c "pid=$2," || true; }
