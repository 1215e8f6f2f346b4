#!/usr/bin/env bash
# PostgreSQL faults under load: two instances, events through the TCP feed and through signed HTTP
# pushes at once, a gateway that now and then answers 503. The database first crashes
# (`pg_ctl stop -m immediate`, then started again at once), then is stopped for a while (an
# outage). Then tests/fault/check must pass (docs/invariants.md), and on the way:
#   - while the database is down, every push is answered 503 with Retry-After (not 500, no hang;
#     tests/fault/push retries each batch until it is acknowledged, and records what was);
#   - the TCP consumers stop reading: no connection to the feed is open during the outage;
#   - /readyz says not ready during the outage (from 3 s in);
#   - each instance's resident memory stays within RSS_BOUND_MIB of what it was before the outage
#     (sampled from /proc/PID/status every half second); afterwards it holds no more database
#     connections than its pools allow (DB_CONNECTIONS_MAX: the two pools' sizes + 4) and at
#     most 8 other files more than before the outage (connections to the gateway come and go with
#     the sends, and are not counted);
#   - each instance is ready (/readyz) within 10 s of the database's return, and nothing is left
#     to send a minute after it.
#   tests/fault/postgres_test.sh BUILD_DIR SOURCE_DIR      bounded: a 10 s outage, about 40 s
#   SURVEYD_FAULT_LONG=1 tests/fault/postgres_test.sh ...  long: a 60 s outage, more events
# It runs a PostgreSQL of its own (on a port in 31100-31199), as the postgres user when root.
SURVEYD_TEST_DATABASE_URL=${SURVEYD_TEST_DATABASE_URL:-unused}  # the run has its own server
source "$(dirname "$0")/lib.sh" "$@"

if [ "${SURVEYD_FAULT_LONG:-0}" = 1 ]; then
  count=6000 rate=60 pushed=2000 push_rate=25 outage_s=60
else
  count=900 rate=40 pushed=300 push_rate=15 outage_s=10
fi
RSS_BOUND_MIB=${RSS_BOUND_MIB:-16}
private_postgres
fault_database "pgfault_$$"
fault_environment

start_feed "$count" "$rate" 21 --duplicate-rate 0.01 --malformed-rate 0.002
start_gateway --fail-rate 0.03 --seed 6
start_both

"$BUILD/cw-sim" generate --now --count "$pushed" --seed 22 --duplicate-rate 0.01 \
  >"$work/pushed.ndjson" 2>"$work/cw-generate.log"
python3 "$SRC/tests/fault/push" --url "http://127.0.0.1:$port_a/api/v1/feed/events" \
  --url "http://127.0.0.1:$port_b/api/v1/feed/events" --secret "$SURVEYD_FEED_SECRET" \
  --events "$work/pushed.ndjson" --batch 5 --rate "$push_rate" --record "$work/acked-push.txt" \
  --log "$work/push-responses.txt" --hang-s 10 --give-up-s 600 >"$work/push.log" 2>&1 &
push_pid=$!; pids+=("$push_pid")
now_ms() { date +%s%3N; }

# Both instances must be ready again within 10 s of the database's return.
ready_after_return() {  # ready_after_return WHAT
  local back; back=$(date +%s%N)
  ready_within "$port_a" 10 || fail "instance a not ready 10 s after $1"
  ready_within "$port_b" 10 || fail "instance b not ready 10 s after $1"
  echo "ready $(( ($(date +%s%N) - back) / 1000000 )) ms after $1"
}

sleep 4
echo "crash (immediate stop) at $(events_stored) events stored"
pg_crash
sleep 1
pg_up
ready_after_return "the crash"

sleep 4
feed_open() { [ -n "$(ss -Htn state established "( dport = :$feed_port )")" ]; }
feed_open || fail "no consumer reads the feed before the outage (the check below would prove nothing)"
declare -A rss_before fds_before db_before
# Open files other than the connections to the gateway and to the database (the pools reconnect
# lazily after a crash: their count says nothing about a leak until it passes the pools' size).
steady_files() {
  echo $(($(open_files "$1") - $(connections_to "$port_gw" "$1") - $(connections_to "$pg_port" "$1")))
}
pool_size() { awk -v key="$1:" '$1 == key {print $2}' "$SRC/config/surveyd.yaml"; }
DB_CONNECTIONS_MAX=$(($(pool_size pool_size) + $(pool_size analytics_pool_size) + 4))
for i in a b; do
  rss_before[$i]=$(rss_kib "${pid_of[$i]}")
  fds_before[$i]=$(steady_files "${pid_of[$i]}")
  db_before[$i]=$(connections_to "$pg_port" "${pid_of[$i]}")
done
echo "outage of $outage_s s at $(events_stored) events stored; before it: RSS a=${rss_before[a]} KiB b=${rss_before[b]} KiB, database connections a=${db_before[a]} b=${db_before[b]}"
pg_stop "$pg_data"
outage_from=$(now_ms)  # down from here (pg_ctl waited for it)
declare -A rss_max=([a]=0 [b]=0)
feed_connected=0 ready_in_outage=0 samples=0
end=$(($(date +%s) + outage_s))
while [ "$(date +%s)" -lt "$end" ]; do
  for i in a b; do
    kill -0 "${pid_of[$i]}" 2>/dev/null || fail "instance $i died during the outage"
    r=$(rss_kib "${pid_of[$i]}")
    [ "$r" -gt "${rss_max[$i]}" ] && rss_max[$i]=$r
  done
  # A consumer may be mid-batch when the database goes: give it 3 s to notice and let go.
  if [ $(($(now_ms) - outage_from)) -gt 3000 ]; then
    feed_open && feed_connected=$((feed_connected + 1))
    for i in a b; do
      samples=$((samples + 1))
      has "$(curl -s -m 5 "http://127.0.0.1:$(port_of $i)/readyz")" '*"ready":true*' && ready_in_outage=$((ready_in_outage + 1))
    done
  fi
  sleep 0.5
done
outage_to=$(now_ms)
pg_up
returned=$(date +%s)
returned_at=$(sql "SELECT now()")
ready_after_return "the outage"

[ "$feed_connected" = 0 ] || fail "a consumer kept the feed open during the outage ($feed_connected samples)"
# Not ready while the database is down, so that a load balancer sends the pushes elsewhere.
[ "$ready_in_outage" = 0 ] || fail "/readyz said ready $ready_in_outage times in $samples during the outage"
# Said once each way, with the reason, not left for ops to infer from the other loops' errors.
for i in a b; do
  grep -q "database: unreachable (" "$work/surveyd-$i.log" || fail "instance $i did not log the database as unreachable"
  grep -q "database: working again, after [0-9]* failure(s) in " "$work/surveyd-$i.log" || fail "instance $i did not log the database's return"
done
for i in a b; do
  grown=$(( (rss_max[$i] - rss_before[$i]) / 1024 ))
  echo "instance $i: RSS before the outage ${rss_before[$i]} KiB, at most ${rss_max[$i]} KiB during it (grew $grown MiB; bound $RSS_BOUND_MIB MiB)"
  [ "$grown" -le "$RSS_BOUND_MIB" ] || fail "instance $i grew by $grown MiB during the outage"
done

rc=0; wait "$push_pid" || rc=$?
cat "$work/push.log"
[ "$rc" = 0 ] || fail "the pushes were not all answered right (push exited $rc)"
in_outage=$(awk -v from="$outage_from" -v to="$outage_to" '$1 * 1000 >= from && $1 * 1000 <= to' "$work/push-responses.txt")
n503=$(echo "$in_outage" | awk '$2 == 503' | wc -l)
other=$(echo "$in_outage" | awk 'NF && $2 != 503' | wc -l)
echo "during the outage: $n503 pushes answered 503 with Retry-After, $other otherwise"
[ "$n503" -ge 3 ] || fail "the outage did not meet the pushes ($n503 answered 503)"
# A request that went just before the database was back may find it back (half a second).
late=$(echo "$in_outage" | awk -v to="$outage_to" 'NF && $2 != 503 && $1 * 1000 < to - 500' | wc -l)
[ "$late" = 0 ] || fail "$late push(es) answered other than 503 while the database was down"

# A minute after the return nothing the outage interrupted is still claimed or sending (what
# came since may be on its way), and then everything settles.
while [ "$(date +%s)" -lt $((returned + 60)) ] &&
  [ "$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending', 'claimed', 'sending')")" != 0 ]; do
  sleep 0.5
done
stuck=$(sql "SELECT count(*) FROM outbox WHERE state IN ('claimed', 'sending') AND updated_at < '$returned_at'")
[ "$stuck" = 0 ] || fail "$stuck message(s) still claimed or sending a minute after the database returned"
settle 180
for i in a b; do
  fds=$(steady_files "${pid_of[$i]}")
  db=$(connections_to "$pg_port" "${pid_of[$i]}")
  echo "instance $i: database connections ${db_before[$i]} before the outage, $db after (at most $DB_CONNECTIONS_MAX); other open files ${fds_before[$i]}, $fds"
  [ "$db" -le "$DB_CONNECTIONS_MAX" ] || fail "instance $i holds $db database connections"
  [ "$fds" -le $((fds_before[$i] + 8)) ] || fail "instance $i holds $fds files, ${fds_before[$i]} before the outage"
done
check_invariants
grep -q "store unavailable\|database unavailable" "$work"/surveyd-*.log || fail "the outage is not in the logs"
no_numbers_in_logs
echo "postgres faults: 1 passed, 0 failed"
