#!/usr/bin/env bash
# The TCP feed with the real binaries: two `surveyd serve` instances share one database and one
# feed (cw-sim). Mid-stream the PostgreSQL server is restarted, then the instance consuming the
# feed is killed with SIGKILL; the other takes over. Every event the simulator generated must be
# stored exactly once.
#   tests/e2e/feed_failover_test.sh BUILD_DIR SOURCE_DIR
#   (needs SURVEYD_TEST_DATABASE_URL; SURVEYD_TEST_PGDATA to restart the server, as scripts/test sets)
source "$(dirname "$0")/lib.sh" "$@"
source "$SRC/scripts/lib/pg.sh"

db="feed_$$_$RANDOM"
url=$(new_database "$db")
sql() { psql -X -At "$url" -c "$1" 2>/dev/null; }
stored() { sql "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM rejected_events)" || echo 0; }

count=30000
feed_port=$(free_port)
"$BUILD/cw-sim" serve --listen "127.0.0.1:$feed_port" --rate 1500 --count "$count" --seed 5 \
  --duplicate-rate 0.02 --malformed-rate 0.005 --gap-rate 0.001 --disconnect-rate 0.0005 \
  --record "$work/sent.txt" >"$work/cw-sim.log" 2>&1 &
sim_pid=$!; pids+=($sim_pid)

export SURVEYD_DATABASE_URL="$url" SURVEYD_FEED_TCP="127.0.0.1:$feed_port"
export SURVEYD_FEED_TLS=false  # the simulator on this machine speaks plain TCP
export_secrets
export SURVEYD_RULES="$SRC/config/rules.yaml"
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:9"  # nothing there: sends retry, ingest is the point
export SURVEYD_FEED_SILENCE_TIMEOUT=3
"$BUILD/surveyd" migrate -c "$SRC/config/surveyd.yaml" >/dev/null
port_a=$(free_port); port_b=$(free_port)
SURVEYD_HTTP_LISTEN="127.0.0.1:$port_a" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" \
  >"$work/surveyd-a.log" 2>&1 &
pid_a=$!; pids+=($pid_a)
sleep 1  # A takes the feed lock first
SURVEYD_HTTP_LISTEN="127.0.0.1:$port_b" "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" \
  >"$work/surveyd-b.log" 2>&1 &
pid_b=$!; pids+=($pid_b)

wait_for() {  # wait_for N SECONDS: until at least N lines are stored
  for _ in $(seq 1 $(($2 * 5))); do
    [ "$(stored)" -ge "$1" ] && return 0
    sleep 0.2
  done
  fail "only $(stored) of $1 lines stored after $2 s"
}

wait_for 5000 30
if [ -n "${SURVEYD_TEST_PGDATA:-}" ]; then
  echo "restarting PostgreSQL mid-stream at $(stored) lines"
  pg_restart "$SURVEYD_TEST_PGDATA"
else
  echo "SURVEYD_TEST_PGDATA not set: killing the database sessions instead of restarting the server"
  psql -X -q "$admin" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db'" >/dev/null
fi

wait_for 15000 60
# After the restart either instance may hold the feed lock: kill whichever consumes.
leads() { has "$(health "$1")" '*"leader":true*'; }
if leads "$port_a"; then victim=$pid_a survivor=$port_b name=A
elif leads "$port_b"; then victim=$pid_b survivor=$port_a name=B
else fail "no instance leads the feed"; fi
echo "killing the consuming instance ($name) with SIGKILL at $(stored) lines"
kill -9 "$victim"

# Lines = unique events + duplicates + malformed; wait until cw-sim has sent them all and B stored them.
total_unique=$count
for _ in $(seq 1 450); do
  events=$(sql "SELECT count(*) FROM events" || echo 0)
  [ "$events" -ge "$total_unique" ] && break
  sleep 0.2
done
leads "$survivor" || fail "the other instance did not take over"
# Let the last lines (malformed ones may follow the last event) settle, then stop the simulator
# so that it prints what it sent.
last=-1
while [ "$(stored)" != "$last" ]; do last=$(stored); sleep 1; done
kill -TERM "$sim_pid"; wait "$sim_pid" 2>/dev/null || true

sort -u "$work/sent.txt" >"$work/sent.sorted"
[ "$(wc -l <"$work/sent.sorted")" -eq "$(wc -l <"$work/sent.txt")" ] || fail "cw-sim recorded an id twice"
sql "SELECT event_id FROM events ORDER BY 1" | sort >"$work/stored.sorted"
missing=$(comm -23 "$work/sent.sorted" "$work/stored.sorted" | wc -l)
extra=$(comm -13 "$work/sent.sorted" "$work/stored.sorted" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing event(s) lost"
[ "$extra" -eq 0 ] || fail "$extra event(s) stored that were never sent"
rejected=$(sql "SELECT count(*) FROM rejected_events")
malformed=$(grep -o 'malformed=[0-9]*' "$work/cw-sim.log" | tail -1 | cut -d= -f2)
malformed=${malformed:-?}
echo "stored $(wc -l <"$work/stored.sorted") of $count events exactly once; $rejected rejected lines (sim: $malformed malformed)"
if [ "$malformed" != "?" ]; then
  [ "$rejected" -eq "$malformed" ] || fail "each malformed line must be stored once as rejected"
fi
echo "feed failover: 1 passed, 0 failed"
