#!/usr/bin/env bash
# Ingest benchmark (issue 3): how many feed events per second surveyd stores and decides, next
# to what the same PostgreSQL can do one event per transaction, all measured in one run.
#
# usage: bench/ingest.sh [--events N] [--pgbench-seconds S] [--batch-size N] [--paced-rate R]
#                        [--paced-events N] [--push-events N] [--push-clients N] [--keep]
#
#   --events N           events streamed at full speed into surveyd (default 200000)
#   --pgbench-seconds S  length of the pgbench baseline (default 15)
#   --batch-size N       SURVEYD_FEED_BATCH_SIZE for surveyd (default: the config's)
#   --paced-rate R       then stream at R events/s to measure latency at a steady load
#                        (default 1000, national scale; 0 skips it)
#   --paced-events N     events in the paced run (default 15000)
#   --push-events N      then push N events over HTTP, one per request (default 20000; 0 skips)
#   --push-clients N     from N concurrent clients (default 8)
#   --keep               keep the temporary directory (logs, database) afterwards
#
# What it does, on a private PostgreSQL 15 in a temporary directory (fsync on):
#   1. baseline: pgbench, 8 clients (-c 8 -j 2), bench/pgbench_event_outbox.sql: one INSERT into
#      a table shaped like events plus one into one shaped like outbox per transaction. Its TPS is
#      the most events/s a design that commits once per event could store here.
#   2. the simulator alone: `cw-sim serve --rate 0` read by bench/sink.py, which only counts
#      newlines: the send rate must be far above what surveyd reaches (> 50,000/s).
#   3. surveyd: fresh database, `surveyd serve` consuming `cw-sim serve --rate 0 --count N
#      --exit-when-acked`. Throughput is lines stored / (last ack - first receipt): from the
#      earliest received_at in the database to the moment cw-sim exits, which it does once the
#      last seq is acked, i.e. after the last commit. Latency (receipt of a line -> commit of its
#      batch, per event) comes from the consumer's histogram in /api/v1/health (checks.feed.
#      commit_latency_ms). Peak RSS is VmHWM from /proc. The CPU an event took, surveyd's and
#      the whole machine's (PostgreSQL's, mostly), and how busy the cores were, from /proc.
#      The rollups' changes still queued at the end (work the run left for later) are counted,
#      then folded and timed.
#   4. (optional) the same at a steady --paced-rate, where latency means what an operator sees.
#   5. HTTP push: --push-clients clients (`cw-sim push-calls`, kept-alive connections) each
#      POST one signed event per request to /api/v1/feed/events, --push-events in all; each must
#      be answered 202 and stored as new. Events/s against the same pgbench limit: concurrent
#      requests share transactions (group commit, core/group_commit.hpp), which a design that
#      commits once per event cannot. The CPU a push took: surveyd's, the clients' and the
#      whole machine's.
#
# Dispatch is kept out of the measurement (bench/dispatch.sh measures it): every text is due an
# hour after its event, so the dispatcher (one worker polling every 10 minutes, against a gateway
# address where nothing listens) has nothing to claim; a new survey has it look only when the
# text is due (Dispatcher::WakeAt).
#
# Environment: SURVEYD_BUILD_DIR (default build-bench; configured as Release); BENCH_BIN_DIR=DIR
# uses the surveyd and cw-sim binaries in DIR instead of building (it says so); SURVEYD_BENCH_BIN
# (another surveyd binary to measure, e.g. main's, against this build's); BENCH_PERF=FILE
# records a `perf record -g` profile of surveyd during the full-speed run into FILE, and
# BENCH_PERF_PUSH=FILE one during the pushes.
set -euo pipefail

EVENTS=200000
PGBENCH_SECONDS=15
BATCH_SIZE=""
PACED_RATE=1000
PACED_EVENTS=15000
PUSH_EVENTS=20000
PUSH_CLIENTS=8
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --pgbench-seconds) PGBENCH_SECONDS=$2; shift 2 ;;
    --batch-size) BATCH_SIZE=$2; shift 2 ;;
    --paced-rate) PACED_RATE=$2; shift 2 ;;
    --paced-events) PACED_EVENTS=$2; shift 2 ;;
    --push-events) PUSH_EVENTS=$2; shift 2 ;;
    --push-clients) PUSH_CLIENTS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/ingest.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

NAME=ingest
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${SURVEYD_PACKAGES[@]}" postgresql-contrib python3 curl
bench_binaries surveyd cw-sim
# SURVEYD_BENCH_BIN: measure that surveyd binary instead (another build against this one, the
# simulator still from BIN).
SURVEYD_BIN="${SURVEYD_BENCH_BIN:-$BIN/surveyd}"
bench_work

now() { date +%s.%N; }
readyz_feed() {  # prints one field of checks.feed (dotted path), empty if missing
  curl -fs -H "Authorization: Bearer $SURVEYD_API_BOOTSTRAP_TOKEN" "http://$SURVEYD_HTTP_LISTEN/api/v1/health" 2>/dev/null | python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)["checks"]["feed"]
    for k in sys.argv[1].split("."):
        v = v[k]
    print(v)
except Exception:
    print("")' "$1" || true
}

# pg_stat_statements (with the statements triggers run) shows where the pushes' database time
# goes (printed at the end).
bench_postgres shared_preload_libraries=pg_stat_statements
"${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" >/dev/null
"${PSQL[@]}" -d postgres -c "SELECT pg_reload_conf()" >/dev/null

# 1. Baseline.
log "baseline: pgbench -c 8 -j 2 for ${PGBENCH_SECONDS}s (one event + one outbox row per transaction)"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE pgbench"
"${PSQL[@]}" -d pgbench -f "$BENCH/pgbench_setup.sql" >/dev/null
pgbench_busy_before=$(machine_busy_seconds)
"$PG_BIN/pgbench" -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 8 -j 2 -T "$PGBENCH_SECONDS" \
  -f "$BENCH/pgbench_event_outbox.sql" pgbench >"$WORK/pgbench.log" 2>&1 ||
  { cat "$WORK/pgbench.log" >&2; exit 1; }
pgbench_busy=$(python3 -c "print($(machine_busy_seconds) - $pgbench_busy_before)")
PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/pgbench.log")
PGBENCH_LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$WORK/pgbench.log")
[ -n "$PGBENCH_TPS" ] || { cat "$WORK/pgbench.log" >&2; exit 1; }
PGBENCH_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.log")
# The machine's CPU a transaction (pgbench's own included, as the clients' is for pushes).
PGBENCH_CPU_US=$(python3 -c "print(round($pgbench_busy * 1e6 / $PGBENCH_TX))")
"${PSQL[@]}" -d postgres -c "DROP DATABASE pgbench"
log "pgbench: $PGBENCH_TPS transactions/s"

# 2. The simulator alone.
SIM_PORT=$(free_port)
log "simulator alone: cw-sim serve --rate 0 --count $EVENTS into a counting sink"
"$BIN/cw-sim" serve --listen "127.0.0.1:$SIM_PORT" --rate 0 --count "$EVENTS" --seed 7 \
  --exit-when-acked 2>"$WORK/cw-sim-alone.log" &
sim_pid=$!
pids+=("$sim_pid")
for _ in $(seq 100); do grep -q "serving on" "$WORK/cw-sim-alone.log" && break; sleep 0.05; done
read -r SINK_LINES SINK_SECONDS < <(python3 "$BENCH/sink.py" 127.0.0.1 "$SIM_PORT" "$EVENTS")
wait "$sim_pid" || true
SIM_RATE=$(python3 -c "print(round($SINK_LINES / $SINK_SECONDS))")
log "cw-sim: $SINK_LINES lines in ${SINK_SECONDS}s = $SIM_RATE lines/s"

# 3. surveyd at full speed.
bench_secrets
SURVEYD_DATABASE_URL=$(pg_url "$PG_PORT" surveyd)
SURVEYD_HTTP_LISTEN="127.0.0.1:$(free_port)"
SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$(free_port)"
# The shipped rules with every text due an hour after its event and no quiet hours: the same
# decisions at any time of day, and nothing falls due while the benchmark runs.
cp "$ROOT/config/alert_lexicon.yaml" "$WORK/"  # named by the rules' alerts: section
sed -e '/^quiet_hours:/a\  enabled: false' -e 's/^\(\s*delay:\).*/\1 1h/' \
  "$ROOT/config/rules.yaml" >"$WORK/rules.yaml"
SURVEYD_RULES="$WORK/rules.yaml"
SURVEYD_DISPATCH_WORKERS=1
SURVEYD_DISPATCH_POLL_MS=600000
SURVEYD_LOG_LEVEL=warn
export SURVEYD_DATABASE_URL SURVEYD_HTTP_LISTEN SURVEYD_WMNOW_BASE_URL SURVEYD_RULES SURVEYD_DISPATCH_WORKERS SURVEYD_DISPATCH_POLL_MS SURVEYD_LOG_LEVEL
[ -n "$BATCH_SIZE" ] && export SURVEYD_FEED_BATCH_SIZE="$BATCH_SIZE"

# Runs one feed into surveyd; sets RUN_* variables. $1 label, $2 rate, $3 count, $4 seed.
run_surveyd() {
  local label=$1 rate=$2 count=$3 seed=$4 port sim surveyd_pid
  port=$(free_port)
  export SURVEYD_FEED_TCP="127.0.0.1:$port" SURVEYD_FEED_TLS=false
  export SURVEYD_FEED_NAME="bench-$label"  # its own cursor: each run starts at seq 1
  "$BIN/cw-sim" serve --listen "127.0.0.1:$port" --rate "$rate" --count "$count" \
    --seed "$seed" --exit-when-acked 2>"$WORK/cw-sim-$label.log" &
  sim=$!
  pids+=("$sim")
  local busy_before wall_before
  busy_before=$(machine_busy_seconds)
  wall_before=$(now)
  "$SURVEYD_BIN" serve -c "$ROOT/config/surveyd.yaml" >"$WORK/surveyd-$label.log" 2>&1 &
  surveyd_pid=$!
  pids+=("$surveyd_pid")
  local perf_pid=""
  if [ -n "${BENCH_PERF:-}" ] && [ "$label" = full ]; then
    sleep 0.2  # past exec, so that perf follows surveyd and not the shell that forked it
    perf record -q -F 499 -g -p "$surveyd_pid" -o "$BENCH_PERF" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  local hwm_file="$WORK/hwm-$label"
  echo 0 >"$hwm_file"
  # VmHWM is the peak already; sampling it keeps the last value before the process ends.
  (while kill -0 "$surveyd_pid" 2>/dev/null; do
    awk '/^VmHWM/ {print $2}' "/proc/$surveyd_pid/status" >"$hwm_file.tmp" 2>/dev/null &&
      mv "$hwm_file.tmp" "$hwm_file"
    sleep 0.5
  done) &
  pids+=("$!")
  if ! bench_wait_while "$sim" "$surveyd_pid" "$WORK/surveyd-$label.log"; then
    echo "cw-sim failed; see $WORK/cw-sim-$label.log" >&2
    exit 1
  fi
  RUN_END=$(now)
  # What the run cost the machine: surveyd's CPU and the whole machine's (PostgreSQL, mostly), an
  # event, and how busy the cores were: a pipeline that waits on itself leaves them idle.
  local busy wall
  busy=$(python3 -c "print($(machine_busy_seconds) - $busy_before)")
  wall=$(python3 -c "print($RUN_END - $wall_before)")
  RUN_SURVEYD_CPU_US=$(python3 -c "print(round($(process_cpu_seconds "$surveyd_pid") * 1e6 / $count))")
  RUN_MACHINE_CPU_US=$(python3 -c "print(round($busy * 1e6 / $count))")
  RUN_BUSY_PCT=$(python3 -c "print(round(100 * $busy / ($wall * $(nproc))))")
  RUN_ACCEPTED=$(readyz_feed accepted)
  RUN_DUPLICATE=$(readyz_feed duplicate)
  RUN_REJECTED=$(readyz_feed rejected)
  RUN_P50=$(readyz_feed commit_latency_ms.p50)
  RUN_P95=$(readyz_feed commit_latency_ms.p95)
  RUN_P99=$(readyz_feed commit_latency_ms.p99)
  RUN_MAX=$(readyz_feed commit_latency_ms.max)
  RUN_RSS_KB=$(awk '/^VmHWM/ {print $2}' "/proc/$surveyd_pid/status" 2>/dev/null || cat "$hwm_file")
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
  fi
  kill "$surveyd_pid"
  wait "$surveyd_pid" || true
  RUN_LINES=$((RUN_ACCEPTED + RUN_DUPLICATE + RUN_REJECTED))
  RUN_START=$("${PSQL[@]}" -d surveyd -At -c "SELECT extract(epoch FROM min(received_at)) FROM
    (SELECT received_at FROM events WHERE source = 'tcp' AND seq IS NOT NULL
       AND received_at >= to_timestamp($RUN_BEGIN)) e")
  RUN_SECONDS=$(python3 -c "print(f'{$RUN_END - $RUN_START:.3f}')")
  RUN_RATE=$(python3 -c "print(round($RUN_LINES / ($RUN_END - $RUN_START)))")
}

log "surveyd: $EVENTS events at full speed (cw-sim --rate 0)"
RUN_BEGIN=$(now)
run_surveyd full 0 "$EVENTS" 11
FULL=("$RUN_LINES" "$RUN_SECONDS" "$RUN_RATE" "$RUN_P50" "$RUN_P95" "$RUN_P99" "$RUN_MAX" "$RUN_RSS_KB"
  "$RUN_SURVEYD_CPU_US" "$RUN_MACHINE_CPU_US" "$RUN_BUSY_PCT")
SURVEYS=$("${PSQL[@]}" -d surveyd -At -c "SELECT count(*) FROM surveys")
STORED=$("${PSQL[@]}" -d surveyd -At -c "SELECT count(*) FROM events WHERE duplicates = 0")
if [ "$STORED" != "$EVENTS" ] || [ "${FULL[0]}" != "$EVENTS" ]; then
  echo "bench/ingest.sh: $EVENTS events sent, ${FULL[0]} counted, $STORED rows stored" >&2
  exit 1
fi
log "surveyd: ${FULL[0]} lines in ${FULL[1]}s = ${FULL[2]} lines/s ($SURVEYS surveys queued)"
# The rollups' changes queued in the run and not folded by its end (app/analytics.cpp folds them a
# few times a second): work the run left for later. Folded here, timed. And the tables, empty
# before the run, are analyzed, as autovacuum does a little after such a load: so that the paced
# run measures a steady load, not plans made on an empty database or a catch-up after this run.
ROLLUP_BACKLOG=$("${PSQL[@]}" -d surveyd -At -c "SELECT (SELECT count(*) FROM analytics_cell_queue)
  + (SELECT count(*) FROM analytics_event_queue) + (SELECT count(*) FROM analytics_score_queue)")
fold_start=$(now)
"${PSQL[@]}" -d surveyd -c "SELECT analytics_fold(5000, 1000000)" >/dev/null
ROLLUP_FOLD_S=$(python3 -c "print(f'{$(now) - $fold_start:.2f}')")
"${PSQL[@]}" -d surveyd -c "ANALYZE" >/dev/null

PACED=()
if [ "$PACED_RATE" != 0 ]; then
  log "surveyd: $PACED_EVENTS events paced at $PACED_RATE/s (latency at a steady load)"
  RUN_BEGIN=$(now)
  run_surveyd paced "$PACED_RATE" "$PACED_EVENTS" 12
  PACED=("$RUN_LINES" "$RUN_SECONDS" "$RUN_RATE" "$RUN_P50" "$RUN_P95" "$RUN_P99" "$RUN_MAX" "$RUN_RSS_KB")
fi

PUSH=()
if [ "$PUSH_EVENTS" != 0 ]; then
  log "surveyd: $PUSH_EVENTS events pushed over HTTP by $PUSH_CLIENTS clients, one per request"
  export SURVEYD_FEED_TCP=""
  "${PSQL[@]}" -d surveyd -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  "${PSQL[@]}" -d surveyd -c "SELECT pg_stat_statements_reset()" >/dev/null
  "$BIN/surveyd" serve -c "$ROOT/config/surveyd.yaml" >"$WORK/surveyd-push.log" 2>&1 &
  push_pid=$!
  pids+=("$push_pid")
  for _ in $(seq 1 100); do
    curl -fs "http://$SURVEYD_HTTP_LISTEN/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if [ -n "${BENCH_PERF_PUSH:-}" ]; then
    perf record -q ${BENCH_PERF_PUSH_OPTS:--F 499 -g} -p "$push_pid" -o "$BENCH_PERF_PUSH" >/dev/null 2>&1 &
    push_perf_pid=$!
  fi
  cpu_before=$(process_cpu_seconds "$push_pid")
  switches_before=$(process_context_switches "$push_pid")
  machine_before=$(machine_busy_seconds)
  read -r PUSHED PUSH_SECONDS < <("$BIN/cw-sim" push-calls \
    --url "http://$SURVEYD_HTTP_LISTEN/api/v1/feed/events" --secret "$SURVEYD_FEED_SECRET" \
    --count "$PUSH_EVENTS" --clients "$PUSH_CLIENTS" --prefix PUSH 2>"$WORK/cw-sim-push.log") ||
    { echo "bench/ingest.sh: the pushes failed; see $WORK/cw-sim-push.log and $WORK/surveyd-push.log" >&2; exit 1; }
  PUSH_MACHINE_CPU_MS=$(python3 -c "print(round(($(machine_busy_seconds) - $machine_before) * 1000 / $PUSH_EVENTS, 3))")
  PUSH_SURVEYD_CPU_MS=$(python3 -c "print(round(($(process_cpu_seconds "$push_pid") - $cpu_before) * 1000 / $PUSH_EVENTS, 3))")
  PUSH_SWITCHES=$(python3 -c "print(round(($(process_context_switches "$push_pid") - $switches_before) / $PUSH_EVENTS, 1))")
  PUSH_CLIENT_CPU_MS=$(sed -n 's/.* cpu_s=\([0-9.]*\).*/\1/p' "$WORK/cw-sim-push.log" |
    python3 -c "import sys; print(round(float(sys.stdin.read()) * 1000 / $PUSH_EVENTS, 3))")
  if [ -n "${push_perf_pid:-}" ]; then
    kill -INT "$push_perf_pid"
    wait "$push_perf_pid" || true
  fi
  kill "$push_pid"
  wait "$push_pid" || true
  STORED_PUSH=$("${PSQL[@]}" -d surveyd -At -c "SELECT count(*) FROM events WHERE event_id LIKE 'PUSH-%'")
  [ "$STORED_PUSH" = "$PUSH_EVENTS" ] ||
    { echo "bench/ingest.sh: $PUSH_EVENTS pushed, $STORED_PUSH stored" >&2; exit 1; }
  # Where the pushes' database time went (statements inside triggers included).
  bench_statements 15 >"$WORK/push-statements.txt"
  PUSH=("$PUSHED" "$PUSH_SECONDS" "$(python3 -c "print(round($PUSHED / $PUSH_SECONDS))")")
  log "surveyd: ${PUSH[0]} pushed in ${PUSH[1]}s = ${PUSH[2]} events/s"
fi

RATIO=$(python3 -c "print(f'{${FULL[2]} / $PGBENCH_TPS:.2f}')")
echo
echo "surveyd ingest benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(bench_machine)"
printf '  %-46s %s\n' \
  "pgbench limit (event+outbox, 8 clients)" "$(printf '%.0f' "$PGBENCH_TPS") tx/s  (latency avg $PGBENCH_LAT ms)" \
  "CPU a pgbench transaction: machine (us)" "$PGBENCH_CPU_US" \
  "cw-sim send rate (alone)" "$SIM_RATE lines/s" \
  "surveyd, full speed" "${FULL[2]} events/s  (${FULL[0]} in ${FULL[1]} s)" \
  "ratio surveyd / pgbench (goal >= 1.5)" "$RATIO" \
  "receipt->commit latency, full speed (ms)" "p50 ${FULL[3]}  p95 ${FULL[4]}  p99 ${FULL[5]}  max ${FULL[6]}" \
  "peak RSS of surveyd, full speed" "$((FULL[7] / 1024)) MiB" \
  "CPU an event: surveyd / machine (us)" "${FULL[8]} / ${FULL[9]}  (cores ${FULL[10]}% busy)" \
  "rollup changes left to fold at the end" "$ROLLUP_BACKLOG  (folded after in $ROLLUP_FOLD_S s)"
if [ ${#PACED[@]} -gt 0 ]; then
  printf '  %-46s %s\n' \
    "surveyd, paced at $PACED_RATE/s" "${PACED[2]} events/s  (${PACED[0]} in ${PACED[1]} s)" \
    "receipt->commit latency, paced (ms)" "p50 ${PACED[3]}  p95 ${PACED[4]}  p99 ${PACED[5]}  max ${PACED[6]}"
fi
if [ ${#PUSH[@]} -gt 0 ]; then
  printf '  %-46s %s\n' \
    "HTTP push, $PUSH_CLIENTS clients, 1 event/request" "${PUSH[2]} events/s  (${PUSH[0]} in ${PUSH[1]} s)" \
    "ratio push / pgbench (goal >= 1.5)" "$(python3 -c "print(f'{${PUSH[2]} / $PGBENCH_TPS:.2f}')")" \
    "CPU a push: surveyd / clients / machine (ms)" "$PUSH_SURVEYD_CPU_MS / $PUSH_CLIENT_CPU_MS / $PUSH_MACHINE_CPU_MS" \
    "surveyd's context switches a push" "$PUSH_SWITCHES"
fi
if [ -s "$WORK/push-statements.txt" ]; then
  echo
  echo "the pushes' database time, by statement (pg_stat_statements, top 15 by total):"
  sed 's/^/  /' "$WORK/push-statements.txt"
fi
