# shellcheck shell=bash
# A private PostgreSQL 15 for tests, benchmarks and the demo. Source this file, then:
#
#   pg_start DATADIR PORT   initdb into DATADIR if it is empty, start the server on 127.0.0.1:PORT
#                           (socket directory beside DATADIR), create database `surveyd`
#   pg_stop DATADIR         stop it (quietly does nothing if it is not running)
#   pg_url PORT [DB]        postgresql://postgres@127.0.0.1:PORT/DB (DB defaults to surveyd)
#   pg_restart DATADIR      stop and start again, with the same options
#
# PostgreSQL refuses to run as root: as root the server runs as the `postgres` user, which must be
# able to reach DATADIR, so parents that it cannot traverse get o+x. Authentication is `trust`,
# on the socket and 127.0.0.1 only. fsync stays on: durability is what the tests are about.

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

# Runs a server command as the owner of the data directory.
_pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# As root: make every parent of $1 traversable by postgres.
_pg_open_parents() {
  [ "$(id -u)" = 0 ] || return 0
  local dir
  dir=$(dirname "$1")
  while [ "$dir" != "/" ]; do
    if ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
      chmod o+x "$dir" || return 1
    fi
    dir=$(dirname "$dir")
  done
}

_pg_socket_dir() {
  echo "$(dirname "$1")/pg-socket"
}

pg_start() {
  local datadir port sockdir
  if [ $# -ne 2 ]; then
    echo "usage: pg_start DATADIR PORT" >&2
    return 2
  fi
  datadir=$(realpath -m "$1")
  port=$2
  sockdir=$(_pg_socket_dir "$datadir")
  mkdir -p "$datadir" "$sockdir" || return 1
  chmod 700 "$datadir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$datadir" "$sockdir" || return 1
    _pg_open_parents "$datadir" || return 1
  fi

  if [ ! -f "$datadir/PG_VERSION" ]; then
    if [ -n "$(ls -A "$datadir")" ]; then
      echo "pg_start: $datadir is neither empty nor a PostgreSQL data directory" >&2
      return 1
    fi
    if ! _pg_as_owner "$PG_BIN/initdb" -D "$datadir" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth=trust >"$datadir/../pg-initdb.log" 2>&1; then
      echo "pg_start: initdb failed:" >&2
      cat "$datadir/../pg-initdb.log" >&2
      return 1
    fi
    # initdb's trust lines cover the socket, 127.0.0.1 and ::1; listen on 127.0.0.1 only.
    cat >>"$datadir/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
shared_buffers = 256MB
max_connections = 200
max_locks_per_transaction = 256
fsync = on
synchronous_commit = on
logging_collector = off
log_min_messages = warning
EOF
  fi

  if _pg_as_owner "$PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    echo "pg_start: a server is already running in $datadir" >&2
  elif ! _pg_as_owner "$PG_BIN/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
    -o "-p $port -k $sockdir" start >/dev/null; then
    echo "pg_start: the server did not start; its log:" >&2
    tail -n 30 "$datadir/server.log" >&2
    return 1
  fi

  if [ "$("$PG_BIN/psql" -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'surveyd'")" != "1" ]; then
    "$PG_BIN/psql" -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -q \
      -c "CREATE DATABASE surveyd" >/dev/null || return 1
  fi
}

pg_stop() {
  local datadir
  if [ $# -ne 1 ]; then
    echo "usage: pg_stop DATADIR" >&2
    return 2
  fi
  datadir=$(realpath -m "$1")
  [ -f "$datadir/PG_VERSION" ] || return 0
  if _pg_as_owner "$PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    _pg_as_owner "$PG_BIN/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null
  fi
}

pg_url() {
  echo "postgresql://postgres@127.0.0.1:$1/${2:-surveyd}"
}

# Restarts the server with the options it was started with (tests of database outages).
pg_restart() {
  local datadir
  datadir=$(realpath -m "$1")
  _pg_as_owner "$PG_BIN/pg_ctl" -D "$datadir" -m fast -w -t 60 restart -l "$datadir/server.log" >/dev/null
}
