# shellcheck shell=bash
# Setup shared by the benchmarks. Source it after setting NAME (used in messages and the
# temporary directory) and KEEP (1: keep that directory):
#
#   NAME=soak KEEP=0; source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sources scripts/lib/common.sh and scripts/lib/pg.sh (ROOT, log, ensure_packages, pg_*) and
# gives:
#   BUILD_DIR                  the benchmarks' build: $SURVEYD_BUILD_DIR or build-bench
#   bench_binaries TARGET...   BIN: the directory of the binaries. BENCH_BIN_DIR=DIR uses the
#                              binaries there (it says so); otherwise builds the targets
#                              (Release, in BUILD_DIR)
#   bench_work [DIR]           WORK: DIR (a directory a kept run left), or a new temporary
#                              directory in $TMPDIR (default /tmp); pids: add every process
#                              started. At exit the processes are stopped, the PostgreSQL too,
#                              and WORK removed (kept when KEEP=1 or the script failed)
#   bench_postgres [SETTING=VALUE...]
#                              a private PostgreSQL 15 in WORK on a free port (PG_PORT, PSQL),
#                              with the settings given (ALTER SYSTEM, then a restart)
#   bench_secrets              fresh secrets for surveyd in the environment, and leave it
#                              dumpable (perf record -p, /proc/PID/fd)
#   bench_wait_http URL        until URL answers (10 s at most)
#   bench_wait_while PID WATCHED LOG
#                              until PID ends, and its status; fails, with LOG's last lines,
#                              if WATCHED (surveyd, say) ends first: what PID waits for would
#                              then never come, and the run would wait for ever
#   bench_statements N         the N statements that took the database the most time in all
#                              (pg_stat_statements, of the surveyd database): calls, total and
#                              mean ms, rows and the statement's start
#   bench_load                 the load average (1, 5, 15 min)
#   bench_fail MESSAGE         prints "bench/NAME.sh: MESSAGE" and exits 1
# shellcheck source=../scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=../scripts/lib/pg.sh
source "$ROOT/scripts/lib/pg.sh"
BENCH="$ROOT/bench"
BUILD_DIR="${SURVEYD_BUILD_DIR:-$ROOT/build-bench}"

bench_fail() {
  echo "bench/$NAME.sh: $*" >&2
  exit 1
}

bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# The machine in a benchmark's first line: figures compare only on the same CPU (the same host
# has come with an AMD EPYC one day and an Intel Xeon half as fast for PostgreSQL the next).
bench_machine() {
  echo "$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(uname -m)"
}

# CPU time (user + system, seconds) a running process has used so far.
process_cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

# Context switches of every thread of a process so far (voluntary: it waited; involuntary: it
# was preempted). Threads that have ended are not counted.
process_context_switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# CPU time (user + system, seconds) a PostgreSQL cluster has used so far: its postmaster, every
# backend and background process running, and those that have ended (counted to the postmaster).
postgres_cpu_seconds() {
  local postmaster pid
  postmaster=$(head -n 1 "$1/postmaster.pid")
  {
    # The postmaster's own and its ended children's (cutime, cstime).
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) / hz }' \
      "/proc/$postmaster/stat"
    for pid in $(pgrep -P "$postmaster"); do process_cpu_seconds "$pid" 2>/dev/null || true; done
  } | awk '{ total += $1 } END { print total + 0 }'
}

# CPU time (user + system, seconds) the whole machine has been busy so far: every process, and
# the kernel's interrupts.
machine_busy_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { print ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}

bench_binaries() {
  if [ -n "${BENCH_BIN_DIR:-}" ]; then
    BIN=$(realpath "$BENCH_BIN_DIR")
    local target
    for target in "$@"; do
      [ -x "$BIN/$target" ] || bench_fail "no $target in $BIN"
    done
    log "using the binaries in $BIN, not a fresh Release build"
    return 0
  fi
  export SURVEYD_BUILD_TYPE=Release
  if [ -f "$BUILD_DIR/CMakeCache.txt" ] &&
    ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD_DIR/CMakeCache.txt"; then
    log "warning: $BUILD_DIR is not a Release build; the figures will be low"
  fi
  build_all --target "$@"
  BIN="$BUILD_DIR"
}

bench_work() {
  if [ $# -gt 0 ]; then
    WORK=$(realpath "$1")
  else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/surveyd-$NAME.XXXXXX")
    chmod 755 "$WORK"
  fi
  pids=()
  trap _bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

_bench_cleanup() {
  local rc=$? pid
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  [ -n "${PG_PORT:-}" ] && pg_stop "$WORK/pg/data"
  if [ "${KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    log "logs and data kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}

bench_postgres() {
  PG_PORT=${BENCH_PG_PORT:-$(free_port)}
  PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres)
  log "PostgreSQL on 127.0.0.1:$PG_PORT (data in $WORK/pg)"
  pg_start "$WORK/pg/data" "$PG_PORT" || bench_fail "PostgreSQL did not start"
  [ $# -gt 0 ] || return 0
  local setting
  for setting in "$@"; do
    local name=${setting%%=*} load=()
    # An extension's setting (auto_explain.x) is known once its library is loaded.
    [[ $name == *.* ]] && load=(-c "LOAD '${name%%.*}'")
    local value=${setting#*=}
    # A list (a,b) is set as one: 'a', 'b'.
    "${PSQL[@]}" -d postgres "${load[@]}" -c "ALTER SYSTEM SET $name = '${value//,/\', \'}'" \
      >/dev/null
  done
  pg_restart "$WORK/pg/data" || bench_fail "PostgreSQL did not restart"
}

bench_secrets() {
  # perf record -p and /proc/PID/fd (soak.py) need a dumpable surveyd when not run as root.
  export SURVEYD_SERVICE_DUMPABLE=true
  export SURVEYD_TOKEN_SECRET SURVEYD_PHONE_HASH_KEY SURVEYD_PHONE_KEYS SURVEYD_FEED_SECRET \
    SURVEYD_WMNOW_API_KEY SURVEYD_WMNOW_WEBHOOK_SECRET SURVEYD_API_BOOTSTRAP_TOKEN
  SURVEYD_TOKEN_SECRET=$(random_secret)
  SURVEYD_PHONE_HASH_KEY=$(random_secret)
  SURVEYD_PHONE_KEYS="k1:$(random_secret)"
  SURVEYD_FEED_SECRET=$(random_secret)
  SURVEYD_WMNOW_API_KEY=$(random_secret)
  SURVEYD_WMNOW_WEBHOOK_SECRET=$(random_secret)
  SURVEYD_API_BOOTSTRAP_TOKEN=$(random_secret)
}

bench_statements() {
  "${PSQL[@]}" -d surveyd -c "SELECT calls, round(total_exec_time) AS total_ms,
      round((total_exec_time / calls)::numeric, 3) AS mean_ms, rows,
      left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS statement
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'surveyd')
    ORDER BY total_exec_time DESC LIMIT $1"
}

bench_wait_while() {
  local pid=$1 watched=$2 watched_log=$3
  while kill -0 "$pid" 2>/dev/null; do
    if ! kill -0 "$watched" 2>/dev/null; then
      tail -n 5 "$watched_log" >&2
      bench_fail "process $watched ended while $pid waited on it (above: the end of $watched_log)"
    fi
    sleep 0.02
  done
  wait "$pid"
}

bench_wait_http() {
  local _
  for _ in $(seq 1 100); do curl -fs -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  bench_fail "nothing answers $1"
}
