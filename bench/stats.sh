#!/usr/bin/env bash
# Analytics benchmark (issue 8): the dashboard over a year of national-scale data, next to the
# raw queries it replaces, all measured in one run on one database.
#
# usage: bench/stats.sh [--events N] [--days D] [--requests N] [--no-ingest] [--keep]
#                       [--reuse DIR]
#
#   --events N    events to load (default 36000000: 30 million surveys, 10 million responses);
#                 --events 3600000 is a tenth of national scale
#   --days D      the period they span (default 365)
#   --requests N  timed requests per API measurement (default 1000: a p99 of 200 is their second
#                 slowest, which two stalls of the shared machine in a run decide: 8.4 ms in one
#                 run where 2,000 on the same data gave 1.5)
#   --no-ingest   skip bench/ingest.sh at the end (ingest with the rollup triggers on)
#   --keep        keep the temporary directory (database, logs) afterwards
#   --reuse DIR   measure again on the database a --keep run left in DIR (no load: --events and
#                 --days must be those of that run); migrations added since are applied to it
#                 first, as `surveyd migrate` would in production, and DIR is kept
#
# SURVEYD_BUILD_DIR picks the build (default build-bench, configured Release there); pointing it
# at an existing RelWithDebInfo build saves a second full build. SURVEYD_BENCH_BIN runs that
# surveyd binary instead, unbuilt (two builds compared on one kept database). The summary names
# the build type.
#
# What it does, on a private PostgreSQL 15 in a temporary directory:
#   1. loads the data (bench/stats_load.sql: generate_series, triggers off, indexes built after,
#      then analytics_rebuild() derives the rollups once), and reports time and size;
#   2. starts `surveyd serve` and issues a supervisor's token with `surveyd token create`;
#   3. headline tiles: GET /api/v1/stats for random periods of 30 to 365 days (answered from the
#      rollups), p50/p99 over --requests, against a full scan of the responses table computing
#      the same figures (psql, median of 5 after one to warm the cache). Goal: p99 <= 5% of it;
#   4. per-officer series: GET /api/v1/stats?officer=X&group_by=day over the whole period, for
#      random officers, against the same request with the period as times, which the store can
#      only answer from the raw tables, through the (officer_id, contact_at) index;
#   5. per-day series: GET /api/v1/stats?group_by=day over random 90-day windows, against the
#      same as times (raw, through the contact_at index). Goal for 4 and 5: p99 <= 25% of the
#      raw query's median. Each API figure also says the CPU a request took of surveyd, of
#      PostgreSQL and of the client: what its time is made of, and a figure that other load on
#      the machine moves less than it moves the times;
#   6. bench/ingest.sh, whose goal (ratio >= 1.5 against its pgbench baseline) must hold with
#      the rollup triggers on.
#
# Disk and time (2 vCPU, shared): the full scale needs about 45 GB in the temporary directory
# (TMPDIR) and takes hours to load; a tenth about 4.5 GB and 10-20 minutes. See bench/README.md.
set -euo pipefail

EVENTS=36000000
DAYS=365
REQUESTS=1000
INGEST=1
KEEP=0
REUSE=
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --no-ingest) INGEST=0; shift ;;
    --keep) KEEP=1; shift ;;
    --reuse) REUSE=$2; KEEP=1; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/stats.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

NAME=stats
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export SURVEYD_BUILD_DIR="$BUILD_DIR" SURVEYD_BUILD_TYPE=Release

ensure_packages "${SURVEYD_PACKAGES[@]}" python3 curl
if [ -n "${SURVEYD_BENCH_BIN:-}" ]; then
  SURVEYD_BIN=$SURVEYD_BENCH_BIN
  BUILD_TYPE="unknown ($SURVEYD_BIN)"
else
  build_all --target surveyd
  SURVEYD_BIN="$BUILD_DIR/surveyd"
  BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD_DIR/CMakeCache.txt")
fi

if [ -n "$REUSE" ]; then
  [ -f "$REUSE/pg/data/PG_VERSION" ] || {
    echo "bench/stats.sh: $REUSE holds no database kept by --keep" >&2
    exit 2
  }
  bench_work "$REUSE"
else
  bench_work
fi
# Its own PostgreSQL start: a reused database keeps its data, and the load's settings need only a
# reload.
PG_PORT=${SURVEYD_BENCH_PG_PORT:-$(free_port)}
DB_URL=$(pg_url "$PG_PORT" surveyd)
PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d surveyd)

LAST_DAY=2026-11-30
FIRST_DAY=$(date -u -d "$LAST_DAY - $((DAYS - 1)) days" +%F)

log "PostgreSQL on 127.0.0.1:$PG_PORT (data in $WORK/pg)"
pg_start "$WORK/pg/data" "$PG_PORT"
# Bulk load settings (a reused database has them already); the queries run with the server's
# defaults otherwise.
"$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
  -c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "ALTER SYSTEM SET maintenance_work_mem = '1GB'" \
  -c "ALTER SYSTEM SET checkpoint_timeout = '30min'" -c "SELECT pg_reload_conf()" >/dev/null
SURVEYD_DATABASE_URL="$DB_URL" "$SURVEYD_BIN" migrate -c "$ROOT/config/surveyd.yaml" >/dev/null

# 1. Load (or reuse: the load's time is then that of the run that made it).
if [ -n "$REUSE" ]; then
  log "reusing the database in $WORK"
  LOAD_SECONDS=$(cat "$WORK/load.seconds" 2>/dev/null || echo "?")
else
  log "loading $EVENTS events over $DAYS days ($FIRST_DAY to $LAST_DAY)"
  load_start=$(date +%s)
  "${PSQL[@]}" -v events="$EVENTS" -v days="$DAYS" -v last_day="$LAST_DAY" \
    -f "$BENCH/stats_load.sql" >"$WORK/load.log"
  LOAD_SECONDS=$(($(date +%s) - load_start))
  echo "$LOAD_SECONDS" >"$WORK/load.seconds"
fi
IFS='|' read -r SURVEYS RESPONSES DB_SIZE ROLLUP_ROWS ROLLUP_SIZE < <("${PSQL[@]}" -At -c "
  SELECT (SELECT count(*) FROM surveys), (SELECT count(*) FROM responses),
         pg_size_pretty(pg_database_size(current_database())),
         (SELECT count(*) FROM analytics_cells) + (SELECT count(*) FROM analytics_scores),
         pg_size_pretty((SELECT sum(pg_total_relation_size(relid)) FROM (
           SELECT relid FROM pg_partition_tree('analytics_cells') UNION ALL
           SELECT relid FROM pg_partition_tree('analytics_scores')) AS parts))")
log "loaded in ${LOAD_SECONDS}s: $SURVEYS surveys, $RESPONSES responses, database $DB_SIZE"

# 2. surveyd, and a supervisor's token.
export SURVEYD_DATABASE_URL="$DB_URL" SURVEYD_HTTP_LISTEN="127.0.0.1:$(free_port)"
export SURVEYD_TOKEN_SECRET SURVEYD_PHONE_HASH_KEY SURVEYD_FEED_SECRET SURVEYD_WMNOW_API_KEY \
  SURVEYD_WMNOW_WEBHOOK_SECRET
SURVEYD_TOKEN_SECRET=$(random_secret)
SURVEYD_PHONE_HASH_KEY=$(random_secret)
SURVEYD_FEED_SECRET=$(random_secret)
SURVEYD_WMNOW_API_KEY=$(random_secret)
SURVEYD_WMNOW_WEBHOOK_SECRET=$(random_secret)
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$(free_port)" SURVEYD_RULES="$ROOT/config/rules.yaml"
export SURVEYD_DISPATCH_POLL_MS=600000 SURVEYD_LOG_LEVEL=warn
# Numbers at rest are encrypted (migration 0005). The data is loaded as retention leaves it, and
# retention's periods are long here, so that its pass (a minute after start) finds nothing to do
# and does not weigh on the timings.
export SURVEYD_PHONE_KEYS="k1:$(random_secret)"
for period in NUMBER_GRACE PHONE_HASH RAW REJECTED FACTS COMMENT REPLY; do
  export "SURVEYD_RETENTION_${period}_DAYS=36500"
done
# The raw queries of a national year run for minutes: let them finish.
export SURVEYD_DATABASE_ANALYTICS_TIMEOUT_MS=3600000
"$SURVEYD_BIN" serve -c "$ROOT/config/surveyd.yaml" >"$WORK/surveyd.log" 2>&1 &
SURVEYD_PID=$!
pids+=("$SURVEYD_PID")
for _ in $(seq 100); do curl -fs "http://$SURVEYD_HTTP_LISTEN/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$("$SURVEYD_BIN" token create --role supervisor --name bench -c "$ROOT/config/surveyd.yaml" | tail -n 1)
HOST=${SURVEYD_HTTP_LISTEN%:*}
PORT=${SURVEYD_HTTP_LISTEN#*:}

# Request lists, from a fixed seed so that runs compare.
python3 - "$WORK" "$FIRST_DAY" "$DAYS" "$REQUESTS" "$EVENTS" <<'PY'
import datetime, random, sys
work, first, days, n = sys.argv[1], datetime.date.fromisoformat(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(8)
last = first + datetime.timedelta(days=days - 1)
def write(name, lines):
    with open(f"{work}/{name}", "w") as f:
        f.write("\n".join(lines) + "\n")
def period(length):
    start = first + datetime.timedelta(days=rng.randrange(0, max(1, days - length + 1)))
    return start, min(last, start + datetime.timedelta(days=length - 1))
tiles = []
for _ in range(n):
    a, b = period(rng.randint(min(30, days), days))
    tiles.append(f"/api/v1/stats?from={a}&to={b}")
write("tiles.txt", tiles)
officers = [f"PC{rng.randrange(max(50, int(sys.argv[5]) // 1800)):05d}" for _ in range(n)]
write("officer.txt", [f"/api/v1/stats?officer={o}&group_by=day&from={first}&to={last}" for o in officers])
# The same as times: only the raw tables can answer those (Europe/London midnights; a UTC
# midnight bound is an hour off in summer, which does not change the work).
write("officer_raw.txt", [f"/api/v1/stats?officer={o}&group_by=day&from={first}T00:00:00Z&to={last + datetime.timedelta(days=1)}T00:00:00Z" for o in officers[:20]])
windows = [period(min(90, days)) for _ in range(n)]
write("day.txt", [f"/api/v1/stats?group_by=day&from={a}&to={b}" for a, b in windows])
write("day_raw.txt", [f"/api/v1/stats?group_by=day&from={a}T00:00:00Z&to={b + datetime.timedelta(days=1)}T00:00:00Z" for a, b in windows[:5]])
PY

client() { python3 "$BENCH/stats_client.py" "$HOST" "$PORT" "$TOKEN" "$@"; }
# The same, timing the API: "p50 p99 max count", then the CPU a request took (warm-up included)
# of surveyd, of PostgreSQL (every process of its cluster) and of the client, in microseconds.
# What a request's time is made of; and other load on the machine moves it less than the times.
api_client() {
  local surveyd_before pg_before p50 p99 max count sent client_cpu
  surveyd_before=$(process_cpu_seconds "$SURVEYD_PID")
  pg_before=$(postgres_cpu_seconds "$WORK/pg/data")
  read -r p50 p99 max count sent client_cpu < <(client "$@")
  python3 -c "print('$p50 $p99 $max $count', *(round(s * 1e6 / $sent) for s in (
    $(process_cpu_seconds "$SURVEYD_PID") - $surveyd_before,
    $(postgres_cpu_seconds "$WORK/pg/data") - $pg_before, $client_cpu)))"
}
# The server's own time for the last N calls (the audit trail's duration_ms: from the token check
# to the answer built, without the audit insert and HTTP), p50 and p99: where the time goes.
server_ms() {
  "${PSQL[@]}" -At -F ' ' -c "SELECT round(percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms)::numeric, 2),
    round(percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms)::numeric, 2)
    FROM (SELECT duration_ms FROM api_audit ORDER BY id DESC LIMIT $1) AS last_calls"
}

# 3. Headline tiles against a full scan of responses.
log "full scan of responses (the headline figures, raw): 1 warm-up + 5"
scan_sql="SELECT count(*), avg(q1), count(*) FILTER (WHERE q1 >= 8), avg(q2), count(*) FILTER (WHERE q2 >= 8), avg(q3), count(*) FILTER (WHERE q3 >= 8), avg(q4), count(*) FILTER (WHERE q4 >= 8), avg(q5), count(*) FILTER (WHERE q5 >= 8) FROM responses;"
SCAN_MS=$( { echo '\timing on'; for _ in 1 2 3 4 5 6; do echo "$scan_sql"; done; } |
  "${PSQL[@]}" -At 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 5 | sort -n | sed -n 3p)
log "headline tiles from the API: $REQUESTS requests"
read -r TILES_P50 TILES_P99 TILES_MAX _ TILES_CPU < <(api_client "$WORK/tiles.txt" --warmup 20)
read -r TILES_SERVER_P50 TILES_SERVER_P99 < <(server_ms "$REQUESTS")

# 4. Per-officer series. The raw baseline is warm: each of its officers is asked once before it is
# timed, so that its figure is the query's, not the disk's (a run after others had evicted those
# officers' pages measured it three times slower, which flattered the ratio).
log "per-officer series: raw (20 officers, warmed), then from the rollups ($REQUESTS)"
read -r OFFICER_RAW_P50 OFFICER_RAW_P99 _ _ < <(client "$WORK/officer_raw.txt" --warmup 20)
read -r OFFICER_P50 OFFICER_P99 OFFICER_MAX _ OFFICER_CPU < <(api_client "$WORK/officer.txt" --warmup 20)
read -r OFFICER_SERVER_P50 OFFICER_SERVER_P99 < <(server_ms "$REQUESTS")

# 5. Per-day series.
log "per-day series over 90 days: raw (5 windows), then from the rollups ($REQUESTS)"
read -r DAY_RAW_P50 DAY_RAW_P99 _ _ < <(client "$WORK/day_raw.txt" --warmup 1)
read -r DAY_P50 DAY_P99 DAY_MAX _ DAY_CPU < <(api_client "$WORK/day.txt" --warmup 20)
read -r DAY_SERVER_P50 DAY_SERVER_P99 < <(server_ms "$REQUESTS")

kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
pids=()

cpu_text() { read -r a b c <<<"$1" && echo "$a / $b / $c us"; }
ratio() { python3 -c "print(f'{100 * $1 / $2:.2f}%')"; }
verdict() { python3 -c "print('met' if $1 <= $3 * $2 / 100 else 'NOT MET')"; }

SUMMARY=$(
  echo "surveyd analytics benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(bench_machine)," \
    "$BUILD_TYPE build, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '  %-52s %s\n' \
    "data" "$SURVEYS surveys, $RESPONSES responses, $DAYS days; database $DB_SIZE" \
    "load (generate, index, derive rollups)" "${LOAD_SECONDS} s; rollups $ROLLUP_ROWS rows, $ROLLUP_SIZE" \
    "full scan of responses (median of 5)" "$SCAN_MS ms" \
    "requests timed per API figure below" "$REQUESTS" \
    "headline tiles, API (p50 / p99 / max)" "$TILES_P50 / $TILES_P99 / $TILES_MAX ms" \
    "  of which in the server (p50 / p99)" "$TILES_SERVER_P50 / $TILES_SERVER_P99 ms" \
    "  CPU a request: surveyd / PostgreSQL / client" "$(cpu_text "$TILES_CPU")" \
    "  p99 / full scan (goal <= 5%)" "$(ratio "$TILES_P99" "$SCAN_MS")  $(verdict "$TILES_P99" "$SCAN_MS" 5)" \
    "per-officer series, raw indexed (p50 / p99)" "$OFFICER_RAW_P50 / $OFFICER_RAW_P99 ms" \
    "per-officer series, API (p50 / p99 / max)" "$OFFICER_P50 / $OFFICER_P99 / $OFFICER_MAX ms" \
    "  of which in the server (p50 / p99)" "$OFFICER_SERVER_P50 / $OFFICER_SERVER_P99 ms" \
    "  CPU a request: surveyd / PostgreSQL / client" "$(cpu_text "$OFFICER_CPU")" \
    "  p99 / raw p50 (goal <= 25%)" "$(ratio "$OFFICER_P99" "$OFFICER_RAW_P50")  $(verdict "$OFFICER_P99" "$OFFICER_RAW_P50" 25)" \
    "per-day series (90 days), raw indexed (p50 / p99)" "$DAY_RAW_P50 / $DAY_RAW_P99 ms" \
    "per-day series (90 days), API (p50 / p99 / max)" "$DAY_P50 / $DAY_P99 / $DAY_MAX ms" \
    "  of which in the server (p50 / p99)" "$DAY_SERVER_P50 / $DAY_SERVER_P99 ms" \
    "  CPU a request: surveyd / PostgreSQL / client" "$(cpu_text "$DAY_CPU")" \
    "  p99 / raw p50 (goal <= 25%)" "$(ratio "$DAY_P99" "$DAY_RAW_P50")  $(verdict "$DAY_P99" "$DAY_RAW_P50" 25)"
)
pg_stop "$WORK/pg/data"

if [ "$INGEST" = 1 ]; then
  log "ingest with the rollup triggers on: bench/ingest.sh --paced-rate 0"
  "$BENCH/ingest.sh" --paced-rate 0 | tee "$WORK/ingest.txt"
  SUMMARY+=$'\n'"$(grep -E "pgbench limit|surveyd, full speed|ratio surveyd" "$WORK/ingest.txt" |
    sed 's/^/  ingest: /')"
fi
echo
echo "$SUMMARY"
