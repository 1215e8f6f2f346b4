#!/usr/bin/env bash
# Dispatch benchmark (issue 7): how many texts per second `surveyd serve` sends from a backlog
# through a fast local gateway with the rate limit off, and how long a text queued while idle
# waits, next to what PostgreSQL and pg-boss do with the same queue work, all in one run.
#
# usage: bench/dispatch.sh [--backlog N] [--pgbench-seconds S] [--latency-events N]
#                          [--latency-rate R] [--rate-cap R] [--no-pgboss] [--keep]
#
#   --backlog N          due texts seeded before surveyd starts (default 50000)
#   --pgbench-seconds S  length of the SKIP LOCKED baseline (default 10)
#   --latency-events N   events pushed while idle for the latency figures (default 1000)
#   --latency-rate R     their rate per second (default 200)
#   --rate-cap R         then a backlog of 6 x R texts sent with gateway.rate_per_second R
#                        (default 500; 0 skips it)
#   --no-pgboss          skip the pg-boss baseline (it needs npm and the registry)
#   --keep               keep the temporary directory (logs, database) afterwards
#
# What it does, on a private PostgreSQL 15 in a temporary directory (fsync on):
#   1. baseline: pgbench -c 8 -j 2, bench/pgbench_claim_complete.sql on a table shaped like
#      outbox: claim 50 due rows with FOR UPDATE SKIP LOCKED in one transaction, mark them sent
#      in a second. Rows/s = transactions/s * 50: the most a SKIP LOCKED queue does here.
#   2. baseline: pg-boss (npm, on Debian's Node), 8 loops each fetching 50 no-op jobs and
#      completing them, draining --backlog jobs (bench/pgboss.js), in its own database.
#   3. the gateway alone: wmnow-sim (as in the other benchmarks, no opens or answers), driven by
#      wrk with a POST of a text per request: it must be far faster than surveyd's figure. Its
#      delivery reports are held for an hour: the figures are of sending alone (a report is an
#      HTTP request back to surveyd and a write of its own, work this figure leaves out). It logs
#      warnings only (--quiet): a line a text is the simulator's cost, not surveyd's.
#   4. surveyd: `surveyd migrate`, then one event pushed through the feed (to a surveyd whose
#      rules delay every text by an hour, so nothing is sent), which is cloned in SQL into
#      --backlog events, surveys and outbox rows, each with its own event, incident, number
#      (07700 000000 upwards, hashed with the same key as surveyd, checked against the
#      template's hash) and nonce, due now; their changes to the rollups are folded before the
#      drain, as they would have been when queued. The dispatcher decides each again from its
#      event's facts with the shipped rules (quiet hours off, no delay), which survey them all:
#      the script fails if any is cancelled. Throughput is accepted sends / (last attempt - first).
#      The CPU each text cost is printed too: surveyd's, the simulator's, and the rest of the
#      machine's (PostgreSQL, mostly), from /proc.
#   5. latency: with surveyd idle after the drain, --latency-events events pushed through the
#      feed at --latency-rate (rules without delay, so each is due when it is stored). Per text:
#      the commit that acknowledged the event (pg_xact_commit_timestamp of the survey's row) ->
#      outbox.begun_at (the send begun, just before the request) and -> the attempt recorded
#      (the gateway's answer); and, for scale, surveys.created_at (stored) -> that commit.
#   6. rate cap: surveyd restarted with gateway.rate_per_second R, a backlog of 6 x R texts
#      (numbers of their own) drained; the most sends begun (outbox.begun_at) in any window of
#      one second, which must not exceed R, and the mean rate (sends before the last instant /
#      the time from the first to the last).
#
# The rate limit is off (gateway.rate_per_second 0); the dispatcher's other settings are the
# shipped config's (workers, batch size). The drain's database time is printed by statement
# (pg_stat_statements): the first place to look when the figure moves. The load average before and after is printed: on a
# shared machine every figure is low and noisy.
#
# Environment: SURVEYD_BUILD_DIR (default build-bench; configured as Release); BENCH_BIN_DIR=DIR
# uses the surveyd and wmnow-sim binaries in DIR instead of building (it says so); BENCH_PERF=FILE
# records a `perf record -g` profile of surveyd during the drain into FILE (BENCH_PERF_OPTS for
# other perf options); BENCH_PERF_GATEWAY=FILE one of wmnow-sim, with the same options.
# BENCH_DRAIN_SQL=SQL runs SQL in surveyd's database just before the drain: a trial of a change
# to the schema (a trigger or an index replaced) against the same binaries, one run each way.
set -euo pipefail

BACKLOG=50000
PGBENCH_SECONDS=10
LAT_EVENTS=1000
LAT_RATE=200
RATE_CAP=500
PGBOSS=1
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --backlog) BACKLOG=$2; shift 2 ;;
    --pgbench-seconds) PGBENCH_SECONDS=$2; shift 2 ;;
    --latency-events) LAT_EVENTS=$2; shift 2 ;;
    --latency-rate) LAT_RATE=$2; shift 2 ;;
    --rate-cap) RATE_CAP=$2; shift 2 ;;
    --no-pgboss) PGBOSS=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/dispatch.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

NAME=dispatch
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${SURVEYD_PACKAGES[@]}" postgresql-contrib python3 curl openssl wrk
if [ "$PGBOSS" = 1 ]; then
  ensure_packages nodejs  # its npm comes with it, or from Debian's npm package
  command -v npm >/dev/null || ensure_packages npm
fi
bench_binaries surveyd wmnow-sim
bench_work
LOAD_BEFORE=$(bench_load)
log "load average before: $LOAD_BEFORE ($(nproc) cores)"

# pg_stat_statements shows where the drain's database time goes (printed at the end). Commit
# times: the latency figures start when the event's transaction committed (acknowledged).
bench_postgres shared_preload_libraries=pg_stat_statements track_commit_timestamp=on

# 1. SKIP LOCKED baseline. Enough due rows that the table never runs dry during the run.
PGB_ROWS=$((PGBENCH_SECONDS * 60000))
log "baseline: pgbench -c 8 -j 2 for ${PGBENCH_SECONDS}s (claim 50 with SKIP LOCKED, then complete; $PGB_ROWS rows queued)"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE pgbench"
"${PSQL[@]}" -d pgbench -v rows="$PGB_ROWS" -f "$BENCH/pgbench_claim_setup.sql" >/dev/null
"$PG_BIN/pgbench" -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 8 -j 2 -T "$PGBENCH_SECONDS" \
  -f "$BENCH/pgbench_claim_complete.sql" pgbench >"$WORK/pgbench.log" 2>&1
PGB_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$WORK/pgbench.log")
[ -n "$PGB_TPS" ] || { cat "$WORK/pgbench.log" >&2; exit 1; }
PGB_LEFT=$("${PSQL[@]}" -d pgbench -At -c "SELECT count(*) FROM bench_queue WHERE state = 'pending'")
[ "$PGB_LEFT" -gt 0 ] || log "warning: the pgbench table ran dry; its figure is a lower bound"
PGB_ROWS_S=$(python3 -c "print(round($PGB_TPS * 50))")
"${PSQL[@]}" -d postgres -c "DROP DATABASE pgbench"
log "pgbench: $PGB_ROWS_S rows/s claimed and completed"

# 2. pg-boss baseline.
PGBOSS_RATE=""
if [ "$PGBOSS" = 1 ]; then
  NODE_DIR="$BUILD_DIR/pgboss"
  if [ ! -d "$NODE_DIR/node_modules/pg-boss" ]; then
    log "installing pg-boss 10 with npm into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund pg-boss@10 >"$WORK/npm.log" 2>&1 ||
      { cat "$WORK/npm.log" >&2; exit 1; }
  fi
  PGBOSS_VERSION=$(node -p "require('$NODE_DIR/node_modules/pg-boss/package.json').version")
  log "baseline: pg-boss $PGBOSS_VERSION, 8 loops of fetch 50 + complete, $BACKLOG jobs"
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE pgboss"
  read -r PGBOSS_JOBS PGBOSS_SECONDS < <(NODE_PATH="$NODE_DIR/node_modules" node "$BENCH/pgboss.js" \
    "$(pg_url "$PG_PORT" pgboss)" "$BACKLOG" 8 2>"$WORK/pgboss.log") ||
    { cat "$WORK/pgboss.log" >&2; exit 1; }
  PGBOSS_RATE=$(python3 -c "print(round($PGBOSS_JOBS / $PGBOSS_SECONDS))")
  "${PSQL[@]}" -d postgres -c "DROP DATABASE pgboss"
  log "pg-boss: $PGBOSS_JOBS jobs in ${PGBOSS_SECONDS}s = $PGBOSS_RATE jobs/s"
fi

# 3. The gateway alone.
bench_secrets
export SURVEYD_DATABASE_URL SURVEYD_HTTP_LISTEN SURVEYD_PUBLIC_BASE_URL SURVEYD_WMNOW_BASE_URL \
  SURVEYD_RULES SURVEYD_LOG_LEVEL SURVEYD_GATEWAY_RATE
SURVEYD_DATABASE_URL=$(pg_url "$PG_PORT" surveyd)
HTTP_PORT=$(free_port)
GATEWAY_PORT=$(free_port)
SURVEYD_HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$HTTP_PORT"
SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$GATEWAY_PORT"
SURVEYD_LOG_LEVEL=warn
SURVEYD_GATEWAY_RATE=0
cp "$ROOT/config/alert_lexicon.yaml" "$WORK/"  # named by the rules' alerts: section
sed -e '/^quiet_hours:/a\  enabled: false' -e 's/^\(\s*delay:\).*/\1 0s/' \
  "$ROOT/config/rules.yaml" >"$WORK/rules.yaml"
sed -e '/^quiet_hours:/a\  enabled: false' -e 's/^\(\s*delay:\).*/\1 1h/' \
  "$ROOT/config/rules.yaml" >"$WORK/rules-held.yaml"

"$BIN/wmnow-sim" --listen "127.0.0.1:$GATEWAY_PORT" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --open-rate 0 --response-rate 0 --delivery-delay-ms 3600000 --quiet \
  >"$WORK/wmnow-sim.log" 2>&1 &
GATEWAY_PID=$!
pids+=("$GATEWAY_PID")
bench_wait_http "http://127.0.0.1:$GATEWAY_PORT/healthz"

# Each request its own client_ref (a repeat would be answered 409 without the work); delivery
# reports go to a port where nothing listens, as the sends themselves cost the gateway the same.
cat >"$WORK/send.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $SURVEYD_WMNOW_API_KEY"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local n = 0
request = function()
  n = n + 1
  local body = '{"to":"+447700900123","sender":"WMPolice","client_ref":"wrk-' .. id .. '-' .. n ..
    '","status_callback":"http://127.0.0.1:9/dlr","body":"West Midlands Police: how did we do? http://127.0.0.1/s/abcdefghijklmnopqrstuv"}'
  return wrk.format(nil, "/v1/messages", nil, body)
end
LUA
log "gateway alone: wrk -t 2 -c 16 -d 5s, one new text per POST /v1/messages"
wrk -t 2 -c 16 -d 5s --latency -s "$WORK/send.lua" "http://127.0.0.1:$GATEWAY_PORT" >"$WORK/wrk-gateway.txt"
GATEWAY_RATE=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$WORK/wrk-gateway.txt" | cut -d. -f1)
GATEWAY_NON2XX=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$WORK/wrk-gateway.txt")
[ -z "$GATEWAY_NON2XX" ] || { cat "$WORK/wrk-gateway.txt" >&2; echo "bench/dispatch.sh: the gateway refused sends" >&2; exit 1; }
log "gateway alone: $GATEWAY_RATE sends/s"

# 4. The backlog: migrate, one template event through surveyd (held an hour), cloned in SQL.
"$BIN/surveyd" migrate -c "$ROOT/config/surveyd.yaml" >"$WORK/migrate.log" 2>&1 ||
  { cat "$WORK/migrate.log" >&2; exit 1; }
SPSQL=("${PSQL[@]}" -d surveyd -At)
SURVEYD_RULES="$WORK/rules-held.yaml" "$BIN/surveyd" serve -c "$ROOT/config/surveyd.yaml" \
  >"$WORK/surveyd-seed.log" 2>&1 &
seed_pid=$!
pids+=("$seed_pid")
bench_wait_http "http://127.0.0.1:$HTTP_PORT/healthz"
python3 "$BENCH/feed_push.py" 127.0.0.1 "$HTTP_PORT" "$SURVEYD_FEED_SECRET" 1 1 BENCH-TEMPLATE 999999
kill "$seed_pid"
wait "$seed_pid" || true

log "seeding $BACKLOG due texts (events, surveys, outbox) from the template"
"${SPSQL[@]}" -c "CREATE EXTENSION IF NOT EXISTS pgcrypto" >/dev/null
TEMPLATE_OK=$("${SPSQL[@]}" -v key="$SURVEYD_PHONE_HASH_KEY" <<'SQL'
SELECT count(*) FROM surveys s JOIN outbox o ON o.survey_id = s.id
  WHERE s.event_id = 'BENCH-TEMPLATE-0' AND o.state = 'pending' AND o.attempts = 0
    AND s.phone_hash = encode(hmac('+447800999999', :'key', 'sha256'), 'hex')
    AND EXISTS (SELECT 1 FROM events e WHERE e.event_id = s.event_id AND e.facts ? 'occurred_at'
                AND e.facts #> '{incident,id}' IS NOT NULL)
SQL
)
[ "$TEMPLATE_OK" = 1 ] || { echo "bench/dispatch.sh: the template event was not queued as expected (or its number's hash differs)" >&2; exit 1; }
# Every column is copied from the template except those that make each text its own.
cols() {
  "${SPSQL[@]}" -c "SELECT string_agg(column_name, ',' ORDER BY ordinal_position)
    FROM information_schema.columns WHERE table_name = '$1' AND column_name <> 'id'"
}
SEED_SQL=$(python3 - "$(cols events)" "$(cols surveys)" <<'PY'
import sys
events, surveys = sys.argv[1].split(","), sys.argv[2].split(",")
ev = {
    "event_id": "m.event_id", "incident_id": "m.incident_id", "phone_hash": "m.phone_hash",
    "occurred_at": "m.at", "received_at": "m.at", "facts": "m.facts",
}
sv = {
    # The number in clear, as rows written before numbers were encrypted at rest (0005), which
    # the store reads as they are: the clones need no key ring of their own.
    "event_id": "m.event_id", "incident_id": "m.incident_id", "phone_e164": "m.phone",
    "phone_enc": "NULL",
    "phone_hash": "m.phone_hash", "token_nonce": "m.nonce",
    "contact_at": "m.at", "send_at": "m.at", "created_at": "m.at",
    "expires_at": "m.at + (t.expires_at - t.contact_at)",
    "closes_at": "m.at + (t.closes_at - t.contact_at)",
}
def select(cols, over):
    return ", ".join(over.get(c, "t." + c) for c in cols)
print(f"""
BEGIN;
CREATE TEMP TABLE m ON COMMIT DROP AS
  SELECT :'prefix' || '-' || i AS event_id, :'prefix' || '-INC-' || i AS incident_id,
         :'phones' || lpad(i::text, 8, '0') AS phone,
         encode(hmac(:'phones' || lpad(i::text, 8, '0'), :'key', 'sha256'), 'hex') AS phone_hash,
         encode(gen_random_bytes(length(decode(t.token_nonce, 'hex'))), 'hex') AS nonce,
         now() - interval '1 second' AS at,
         -- The facts hold no number: the number is the survey's (and its hash the event's).
         jsonb_set(jsonb_set(jsonb_set(e.facts,
           '{{event_id}}', to_jsonb(:'prefix' || '-' || i)),
           '{{incident,id}}', to_jsonb(:'prefix' || '-INC-' || i)),
           '{{occurred_at}}', to_jsonb(to_char((now() - interval '1 second') AT TIME ZONE 'UTC',
                                               'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))) AS facts
  FROM generate_series(1, :n) AS i, events e, surveys t
  WHERE e.event_id = 'BENCH-TEMPLATE-0' AND t.event_id = e.event_id;
INSERT INTO events ({",".join(events)})
  SELECT {select(events, ev)} FROM m, events t WHERE t.event_id = 'BENCH-TEMPLATE-0';
INSERT INTO surveys ({",".join(surveys)})
  SELECT {select(surveys, sv)} FROM m, surveys t WHERE t.event_id = 'BENCH-TEMPLATE-0';
INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, updated_at)
  SELECT s.id, 'svy-' || s.id || '-bench', 'pending', s.send_at, s.created_at
  FROM surveys s WHERE s.event_id LIKE :'prefix' || '-%' AND s.event_id <> 'BENCH-TEMPLATE-0'
    AND s.event_id NOT LIKE 'BENCH-LAT-%';
-- The template itself is held two days: it takes no part.
UPDATE outbox SET state = 'cancelled', cancel_reason = 'bench template', updated_at = now()
  WHERE survey_id = (SELECT id FROM surveys WHERE event_id = 'BENCH-TEMPLATE-0');
COMMIT;
ANALYZE;
""")
PY
)
# Seeds N due texts with ids PREFIX-1.. and numbers PHONES followed by 8 digits.
# The clones' own changes to the rollups (a survey and its text queued) are folded here, as
# they would have been when those texts were queued: left in the queue, they were folded during
# the drain and made each send look twice the fold's work it is.
seed() {
  "${SPSQL[@]}" -v key="$SURVEYD_PHONE_HASH_KEY" -v n="$1" -v prefix="$2" -v phones="$3" \
    <<<"$SEED_SQL" >/dev/null
  "${SPSQL[@]}" -c "SELECT analytics_fold(10000, 1000)" >/dev/null
  local left
  left=$("${SPSQL[@]}" -c "SELECT (SELECT count(*) FROM analytics_cell_queue)
    + (SELECT count(*) FROM analytics_event_queue) + (SELECT count(*) FROM analytics_score_queue)")
  [ "$left" = 0 ] || { echo "bench/dispatch.sh: $left rollup changes still queued after seeding" >&2; exit 1; }
}
seed "$BACKLOG" BENCH +4477
DUE=$("${SPSQL[@]}" -c "SELECT count(*) FROM outbox WHERE state = 'pending' AND next_attempt_at <= now()")
[ "$DUE" = "$BACKLOG" ] || { echo "bench/dispatch.sh: $DUE texts due, not $BACKLOG" >&2; exit 1; }

log "surveyd: draining $BACKLOG due texts (rate limit off, shipped rules without quiet hours or delay)"
SURVEYD_RULES="$WORK/rules.yaml"
LOAD_DRAIN=$(bench_load)
"${SPSQL[@]}" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
[ -z "${BENCH_DRAIN_SQL:-}" ] || "${SPSQL[@]}" -c "$BENCH_DRAIN_SQL" >/dev/null
"${SPSQL[@]}" -c "SELECT pg_stat_statements_reset()" >/dev/null
BUSY_BEFORE=$(machine_busy_seconds)
GATEWAY_CPU_BEFORE=$(process_cpu_seconds "$GATEWAY_PID")
"$BIN/surveyd" serve -c "$ROOT/config/surveyd.yaml" >"$WORK/surveyd.log" 2>&1 &
SURVEYD_PID=$!
pids+=("$SURVEYD_PID")
if [ -n "${BENCH_PERF:-}" ]; then
  sleep 0.2  # past exec, so that perf follows surveyd and not the shell that forked it
  perf record -q ${BENCH_PERF_OPTS:--F 499 -g} -p "$SURVEYD_PID" -o "$BENCH_PERF" >/dev/null 2>&1 &
  PERF_PID=$!
fi
if [ -n "${BENCH_PERF_GATEWAY:-}" ]; then
  perf record -q ${BENCH_PERF_OPTS:--F 499 -g} -p "$GATEWAY_PID" -o "$BENCH_PERF_GATEWAY" >/dev/null 2>&1 &
  PERF_GATEWAY_PID=$!
fi
OPEN="state IN ('pending', 'claimed', 'sending')"
texts_left() { "${SPSQL[@]}" -c "SELECT count(*) FROM outbox WHERE $OPEN"; }
# Polled for whether any is left, which reads one index entry; counted only to say how many
# (a count read every open text's entry, 13 ms a poll, in the drain's own figures).
for i in $(seq 1 1200); do
  open=$("${SPSQL[@]}" -c "SELECT EXISTS (SELECT 1 FROM outbox WHERE $OPEN)")
  [ "$open" = f ] && break
  kill -0 "$SURVEYD_PID" 2>/dev/null || { echo "bench/dispatch.sh: surveyd stopped; see $WORK/surveyd.log" >&2; exit 1; }
  [ $((i % 20)) = 0 ] && log "  $(texts_left) left"
  sleep 0.5
done
[ "$open" = f ] || { echo "bench/dispatch.sh: $(texts_left) texts still not sent after 10 minutes" >&2; exit 1; }
for perf_pid in ${PERF_PID:-} ${PERF_GATEWAY_PID:-}; do
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
done
# Where the machine's CPU went in the drain, per text: surveyd (its start included), the gateway
# simulator, and the rest (PostgreSQL, with this script's polls once every half second).
read -r CPU_SURVEYD CPU_GATEWAY CPU_REST CPU_BUSY < <(python3 -c "
s, g, m = $(process_cpu_seconds "$SURVEYD_PID"), $(process_cpu_seconds "$GATEWAY_PID") - $GATEWAY_CPU_BEFORE, $(machine_busy_seconds) - $BUSY_BEFORE
n = $BACKLOG
print(round(s * 1e6 / n), round(g * 1e6 / n), round((m - s - g) * 1e6 / n), round(m * 1e6 / n))")
read -r SENT CANCELLED OTHER < <("${SPSQL[@]}" -F ' ' -c "SELECT
  count(*) FILTER (WHERE a.outbox_id IS NOT NULL),
  count(*) FILTER (WHERE o.state = 'cancelled'),
  count(*) FILTER (WHERE a.outbox_id IS NULL AND o.state <> 'cancelled')
  FROM outbox o JOIN surveys s ON s.id = o.survey_id
  LEFT JOIN (SELECT DISTINCT outbox_id FROM send_attempts WHERE result = 'accepted') a ON a.outbox_id = o.id
  WHERE s.event_id LIKE 'BENCH-%' AND s.event_id <> 'BENCH-TEMPLATE-0'")
if [ "$SENT" != "$BACKLOG" ]; then
  "${SPSQL[@]}" -c "SELECT o.state, COALESCE(o.cancel_reason, o.last_error, ''), count(*) FROM outbox o
    GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10" >&2
  echo "bench/dispatch.sh: $SENT of $BACKLOG sent ($CANCELLED cancelled, $OTHER otherwise)" >&2
  exit 1
fi
# Where the drain's database time went: the statements that took the most, in total.
bench_statements 12 >"$WORK/drain-statements.txt"
read -r DRAIN_SECONDS ATTEMPTS < <("${SPSQL[@]}" -F ' ' -c "SELECT
  round(extract(epoch FROM max(at) - min(at))::numeric, 3), count(*) FROM send_attempts")
DRAIN_RATE=$(python3 -c "print(round($SENT / $DRAIN_SECONDS))")
log "surveyd: $SENT sent in ${DRAIN_SECONDS}s = $DRAIN_RATE sends/s ($ATTEMPTS attempts)"

# 5. Latency while idle.
sleep 2  # delivery reports of the drain settle
log "latency: $LAT_EVENTS events at $LAT_RATE/s through the feed, no delay"
python3 "$BENCH/feed_push.py" 127.0.0.1 "$HTTP_PORT" "$SURVEYD_FEED_SECRET" "$LAT_EVENTS" "$LAT_RATE" BENCH-LAT
for _ in $(seq 1 100); do
  [ "$("${SPSQL[@]}" -c "SELECT count(*) FROM outbox o JOIN surveys s ON s.id = o.survey_id
    WHERE s.event_id LIKE 'BENCH-LAT-%' AND $OPEN")" = 0 ] && break
  sleep 0.1
done
read -r LAT_N BEGUN_P50 BEGUN_P99 ANSWER_P50 ANSWER_P99 ANSWER_MAX COMMIT_P50 COMMIT_P99 < <("${SPSQL[@]}" -F ' ' -c "
  WITH l AS (SELECT extract(epoch FROM o.begun_at - pg_xact_commit_timestamp(s.xmin)) * 1000 AS begun,
                    extract(epoch FROM a.at - pg_xact_commit_timestamp(s.xmin)) * 1000 AS answer,
                    extract(epoch FROM pg_xact_commit_timestamp(s.xmin) - s.created_at) * 1000 AS commit
    FROM surveys s JOIN outbox o ON o.survey_id = s.id
    JOIN send_attempts a ON a.outbox_id = o.id AND a.result = 'accepted'
    WHERE s.event_id LIKE 'BENCH-LAT-%')
  SELECT count(*),
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY begun)::numeric, 2),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY begun)::numeric, 2),
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY answer)::numeric, 2),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY answer)::numeric, 2),
    round(max(answer)::numeric, 2),
    round(percentile_cont(0.5) WITHIN GROUP (ORDER BY commit)::numeric, 2),
    round(percentile_cont(0.99) WITHIN GROUP (ORDER BY commit)::numeric, 2) FROM l")
[ "$LAT_N" = "$LAT_EVENTS" ] || { echo "bench/dispatch.sh: $LAT_N of $LAT_EVENTS latency texts sent" >&2; exit 1; }
# 6. The rate cap.
RATE_MAX=""
if [ "$RATE_CAP" != 0 ]; then
  RATE_N=$((RATE_CAP * 6))
  log "rate cap: $RATE_N due texts sent with gateway.rate_per_second $RATE_CAP"
  kill "$SURVEYD_PID"
  wait "$SURVEYD_PID" || true
  seed "$RATE_N" RATE +4479
  SURVEYD_GATEWAY_RATE=$RATE_CAP "$BIN/surveyd" serve -c "$ROOT/config/surveyd.yaml" \
    >"$WORK/surveyd-rate.log" 2>&1 &
  SURVEYD_PID=$!
  pids+=("$SURVEYD_PID")
  for _ in $(seq 1 600); do
    [ "$("${SPSQL[@]}" -c "SELECT count(*) FROM outbox o JOIN surveys s ON s.id = o.survey_id
      WHERE s.event_id LIKE 'RATE-%' AND $OPEN")" = 0 ] && break
    kill -0 "$SURVEYD_PID" 2>/dev/null || { echo "bench/dispatch.sh: surveyd stopped; see $WORK/surveyd-rate.log" >&2; exit 1; }
    sleep 0.5
  done
  read -r RATE_SENT RATE_MAX RATE_MEAN < <("${SPSQL[@]}" -F ' ' -c "
    WITH b AS (SELECT o.begun_at AS at FROM outbox o JOIN surveys s ON s.id = o.survey_id
               WHERE s.event_id LIKE 'RATE-%' AND o.begun_at IS NOT NULL)
    SELECT (SELECT count(*) FROM b),
      (SELECT max(c) FROM (SELECT count(*) OVER (ORDER BY at RANGE BETWEEN CURRENT ROW
                                                  AND interval '999999 microseconds' FOLLOWING) AS c
                           FROM b) w),
      (SELECT round(count(*) FILTER (WHERE at < (SELECT max(at) FROM b))
                    / NULLIF(extract(epoch FROM max(at) - min(at)), 0)) FROM b)")
  [ "$RATE_SENT" = "$RATE_N" ] || { echo "bench/dispatch.sh: $RATE_SENT of $RATE_N rate-capped texts begun" >&2; exit 1; }
fi

LOAD_AFTER=$(bench_load)

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
echo
echo "surveyd dispatch benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(bench_machine)"
echo "load average (1, 5, 15 min) before $LOAD_BEFORE, at the drain's start $LOAD_DRAIN, after $LOAD_AFTER"
[ -n "${BENCH_BIN_DIR:-}" ] && echo "binaries from $BENCH_BIN_DIR (not this run's Release build)"
printf '  %-58s %s\n' \
  "PostgreSQL SKIP LOCKED claim+complete (pgbench)" "$PGB_ROWS_S rows/s  (8 clients, batches of 50)" \
  "wmnow-sim alone (wrk, POST /v1/messages)" "$GATEWAY_RATE sends/s" \
  "surveyd, drain of $BACKLOG due texts" "$DRAIN_RATE sends/s  ($SENT in $DRAIN_SECONDS s, rate limit off)" \
  "ratio surveyd / SKIP LOCKED limit" "$(ratio "$DRAIN_RATE" "$PGB_ROWS_S")" \
  "ratio surveyd / wmnow-sim alone" "$(ratio "$DRAIN_RATE" "$GATEWAY_RATE")" \
  "CPU a text in the drain (us): surveyd / wmnow-sim / rest" "$CPU_SURVEYD / $CPU_GATEWAY / $CPU_REST  (machine $CPU_BUSY)"
if [ -n "$PGBOSS_RATE" ]; then
  printf '  %-58s %s\n' \
    "pg-boss $PGBOSS_VERSION, fetch 50 + complete (8 loops)" "$PGBOSS_RATE jobs/s  ($BACKLOG jobs)" \
    "ratio surveyd / pg-boss (goal >= 1.2)" "$(ratio "$DRAIN_RATE" "$PGBOSS_RATE")"
fi
printf '  %-58s %s\n' \
  "event stored -> acknowledged (its commit), $LAT_RATE/s (ms)" "p50 $COMMIT_P50  p99 $COMMIT_P99" \
  "acknowledged -> send begun (ms, goal p99 < 10)" "p50 $BEGUN_P50  p99 $BEGUN_P99" \
  "acknowledged -> gateway's answer recorded (ms)" "p50 $ANSWER_P50  p99 $ANSWER_P99  max $ANSWER_MAX"
if [ -n "$RATE_MAX" ]; then
  printf '  %-58s %s\n' \
    "rate cap $RATE_CAP/s: most sends begun in any 1 s (goal <= cap)" "$RATE_MAX  (mean $RATE_MEAN/s over $RATE_SENT)"
fi
echo
echo "the drain's database time, by statement (pg_stat_statements, top 12 by total):"
sed 's/^/  /' "$WORK/drain-statements.txt"
