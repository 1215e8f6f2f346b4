#!/usr/bin/env bash
# Soak (issue 11): everything at once at national peak for an hour, reported per minute, held
# to its goals at the end: flat memory, a steady p99 send latency, zero invariant violations.
#
# usage: bench/soak.sh [--minutes N] [--rate R] [--push-share F] [--gateway-rate R]
#                      [--instances 1|2] [--test] [--bin-dir DIR] [--keep] [--pg NAME=VALUE]...
#
#   --minutes N       length of the load (default 60)
#   --rate R          events per second in all, TCP feed and HTTP pushes (default 1000)
#   --push-share F    the part of R pushed over HTTP, each event with a number of its own and
#                     so a text (default 0.2); the rest comes from the TCP feed (cw-sim), whose
#                     thousand numbers the frequency cap soon rules out (and whose stored events
#                     each new event of a number reads back: a worst case for ingest)
#   --gateway-rate R  gateway.rate_per_second (default 2.5 x the pushes, at least 50)
#   --instances N     surveyd instances sharing the database (default 2)
#   --test            the test command's version: memory and open files must stay bounded,
#                     but the timing goals (the rate held, flat RSS, steady p99) are only shown
#                     (with binaries built with AddressSanitizer, memory is only shown too)
#   --bin-dir DIR     the surveyd, cw-sim and wmnow-sim binaries in DIR (as BENCH_BIN_DIR);
#                     otherwise a Release build in build-bench
#   --keep            keep the temporary directory (logs, database) afterwards
#   --pg NAME=VALUE   a PostgreSQL setting for the run (repeatable), e.g. the sizing that
#                     docs/operations.md advises for this load: --pg max_wal_size=16GB
#                     --pg shared_buffers=2GB; otherwise the test server's (scripts/lib/pg.sh)
#
# What runs, on a private PostgreSQL 15 (fsync on, track_commit_timestamp on):
#   - surveyd instances a and b (`surveyd serve`, the shipped config; rules without quiet hours
#     or delay, so a text is due when its event is stored), the same database;
#   - the TCP feed: `cw-sim serve` at R x (1 - F) events/s, consumed by one instance at a time;
#   - HTTP pushes: R x F signed events/s, one per request, from kept-alive clients (one per 3
#     events/s, 4 to 96) spread over the instances (bench/soak.py), each event with a number of
#     its own, so each is texted;
#   - wmnow-sim as the gateway: delivery reports after 0.5 s; its citizens open 60% of the
#     links and answer 40% of the texts 2 s after delivery (scores and comments, some of which
#     raise alerts under the shipped alert rules), and 1% reply STOP (inbound texts). Reports,
#     page loads and answers share the simulator's 8 connections, so at 1,000 events/s on two
#     cores it makes them slower than asked (over half an hour, 44% of the reports and answers
#     to 2% of the texts); given 64 it answered sends in 2 s on average, and dispatch fell
#     behind the simulator rather than anything in surveyd (docs/benchmark-history.md, soak);
#   - alerts e-mailed through a local SMTP relay (tests/integration/smtp_server.py);
#   - the dashboard polled every 5 s with a supervisor's token (stats, per-day series, funnel,
#     open alerts);
#   - retention: every period one day (the least the config takes) and, every minute, a pass
#     of `surveyd retention run` under faketime one day minus 60 s ahead, so that it removes
#     what arrived more than a minute ago (raw events, numbers of finished surveys, comments,
#     citizens' texts), as production's passes remove what arrived a period ago.
# Per minute it prints: events in, texts sent (sends begun), answers, alerts raised, RSS, heap
# in use (MiB, from each instance's /metrics: RSS alone cannot tell a leak from the allocator's
# arenas keeping their high-water marks) and open files of each instance, commit latency (an event's received_at, stamped when its
# ingest transaction begins, to that transaction's commit) and send latency (that commit to the send begun, as bench/dispatch.sh) at p50/p99,
# the age of the oldest due text not yet claimed (queue age), the database's size and growth,
# and retention (values removed / due at the pass's cut-off / left after it). At the end, the
# database's time by statement (pg_stat_statements).
#
# Then the feed stops (what the service had not yet taken is shown as its backlog), everything
# settles (nothing left to send) and tests/fault/check reads the database, the ids acknowledged
# (the feed's up to the last one stored, as the consumer acks in order; the pushes') and the
# gateway's log. The goals, each shown
# met or MISSED (exit status 3 when one is missed; 1 when the run itself broke):
#   - every invariant holds (tests/fault/check), and no log holds a number;
#   - memory bounded: each instance's RSS under 1 GiB (256 MiB with --test);
#   - open files bounded: in the second half at most 24 above the first half's most;
#   - retention kept up: nothing due at a pass's cut-off left after it;
#   - every push acknowledged (202, or 503 with Retry-After and retried), every poll answered;
#   - unless --test (timing, which a shared machine makes noisy): memory flat (RSS slope over
#     the second half at most 8 MiB per 10 min; judged from 30 minutes: an instance's memory
#     rises over its first ten or so while it warms up), p99 send latency steady (the last quarter's at
#     most twice the first's, after minute 1, + 10 ms), and the rate held (at least 90% of it
#     each minute after the first).
set -euo pipefail

MINUTES=60
RATE=1000
PUSH_SHARE=0.2
GATEWAY_RATE=""
INSTANCES=2
TEST=0
KEEP=0
PG_SETTINGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --push-share) PUSH_SHARE=$2; shift 2 ;;
    --gateway-rate) GATEWAY_RATE=$2; shift 2 ;;
    --instances) INSTANCES=$2; shift 2 ;;
    --test) TEST=1; shift ;;
    --bin-dir) BENCH_BIN_DIR=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --pg) PG_SETTINGS+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$INSTANCES" in 1 | 2) ;; *) echo "bench/soak.sh: --instances is 1 or 2" >&2; exit 2 ;; esac

NAME=soak
export NAME KEEP  # for bench/lib.sh
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

read -r PUSH_RATE FEED_RATE FEED_COUNT < <(python3 -c "
r, f, m = $RATE, $PUSH_SHARE, $MINUTES
print(f'{r * f:g}', f'{r * (1 - f):g}', int(r * (1 - f) * m * 60))")
[ -n "$GATEWAY_RATE" ] || GATEWAY_RATE=$(python3 -c "print(max(50, round(2.5 * $PUSH_RATE)))")

ensure_packages postgresql postgresql-contrib python3 curl faketime
bench_binaries surveyd cw-sim wmnow-sim
bench_work
LOAD_BEFORE=$(bench_load)
log "load average before: $LOAD_BEFORE ($(nproc) cores)"
SETUP_STARTED=$(date +%s)

# A statement over a second (auto_explain: its plan, without timing overhead) or a lock waited on
# for over a second (log_lock_waits) is written to the server's log, counted in the summary.
bench_postgres shared_preload_libraries=pg_stat_statements,auto_explain track_commit_timestamp=on \
  auto_explain.log_min_duration=1000 auto_explain.log_nested_statements=on log_lock_waits=on \
  log_min_duration_statement=1000 ${PG_SETTINGS[@]+"${PG_SETTINGS[@]}"}
url=$(pg_url "$PG_PORT" surveyd)

# The service's environment: secrets, prompt rules, short retention, alerts by e-mail.
bench_secrets
feed_port=$(free_port)
gw_port=$(free_port)
declare -A port_of=([a]=$(free_port) [b]=$(free_port))
export SURVEYD_DATABASE_URL="$url" SURVEYD_LOG_LEVEL=info
export SURVEYD_FEED_TCP="127.0.0.1:$feed_port" SURVEYD_FEED_TLS=false SURVEYD_FEED_NAME=soak
export NAME KEEP  # for bench/lib.sh
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:$gw_port" SURVEYD_GATEWAY_RATE="$GATEWAY_RATE"
# Pushers, the gateway and every simulated citizen come from 127.0.0.1: one client to the
# per-client cap, which would refuse what a thousand phones would be let through.
export SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT=1000
# Comments are kept: the checker's I5 judges each stored answer again by its words.
for what in NUMBER_GRACE RAW REJECTED REPLY; do export "SURVEYD_RETENTION_${what}_DAYS=1"; done
export SURVEYD_RETENTION_INTERVAL=60  # the instances' own passes too (they find nothing due)
sed -e '/^quiet_hours:/a\  enabled: false' -e 's/^\(\s*delay:\).*/\1 0s/' \
  "$ROOT/config/rules.yaml" >"$WORK/rules.yaml"
cp "$ROOT/config/alert_lexicon.yaml" "$WORK/"  # named by the rules' alerts: section
"$BIN/surveyd" rules check "$WORK/rules.yaml" >/dev/null
export SURVEYD_RULES="$WORK/rules.yaml"
CONFIG="$ROOT/config/surveyd.yaml"

python3 "$ROOT/tests/integration/smtp_server.py" --port-file "$WORK/smtp.port" \
  --out "$WORK/mail.jsonl" >"$WORK/smtp.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do [ -s "$WORK/smtp.port" ] && break; sleep 0.1; done
[ -s "$WORK/smtp.port" ] || bench_fail "the SMTP relay did not start"
SURVEYD_SMTP_PORT=$(cat "$WORK/smtp.port")
export SURVEYD_SMTP_HOST=127.0.0.1 SURVEYD_SMTP_PORT
export SURVEYD_ALERT_EMAIL_TO=duty@force.example SURVEYD_ALERT_EMAIL_FROM=surveys@force.example
export SURVEYD_ALERT_POLL_MS=500

"$BIN/surveyd" migrate -c "$CONFIG" >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log" >&2; exit 1; }
TOKEN=$("$BIN/surveyd" token create --role supervisor --name soak -c "$CONFIG" | tail -n 1)
"${PSQL[@]}" -d surveyd -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null

"$BIN/wmnow-sim" --listen "127.0.0.1:$gw_port" --api-key "$SURVEYD_WMNOW_API_KEY" \
  --webhook-secret "$SURVEYD_WMNOW_WEBHOOK_SECRET" --open-rate 0.6 --response-rate 0.4 \
  --stop-rate 0.01 --inbound-url "http://127.0.0.1:${port_of[a]}/api/v1/gateway/wmnow/inbound" \
  --delivery-delay-ms 500 --answer-delay-ms 2000 --seed 5 --answers-log "$WORK/thanked.txt" \
  >"$WORK/wmnow-sim.log" 2>&1 &
pids+=("$!")
bench_wait_http "http://127.0.0.1:$gw_port/healthz"

names=(a)
[ "$INSTANCES" = 2 ] && names+=(b)
declare -A pid_of
for n in "${names[@]}"; do
  SURVEYD_HTTP_LISTEN="127.0.0.1:${port_of[$n]}" SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:${port_of[$n]}" \
    "$BIN/surveyd" serve -c "$CONFIG" >"$WORK/surveyd-$n.log" 2>&1 &
  pid_of[$n]=$!
  pids+=("$!")
done
for n in "${names[@]}"; do bench_wait_http "http://127.0.0.1:${port_of[$n]}/healthz"; done

"$BIN/cw-sim" serve --listen "127.0.0.1:$feed_port" --rate "$FEED_RATE" --count "$FEED_COUNT" \
  --seed 11 --record "$WORK/acked-feed.txt" >"$WORK/cw-sim.log" 2>&1 &
feed_pid=$!
pids+=("$feed_pid")
SETUP_SECONDS=$(($(date +%s) - SETUP_STARTED))

driver=(python3 "$BENCH/soak.py" --database "$url" --minutes "$MINUTES" --rate "$RATE"
  --push-rate "$PUSH_RATE" --feed-secret "$SURVEYD_FEED_SECRET" --token "$TOKEN"
  --surveyd "$BIN/surveyd" --config "$CONFIG" --work "$WORK")
for n in "${names[@]}"; do
  driver+=(--push-url "http://127.0.0.1:${port_of[$n]}" --daemon "surveyd-$n=${pid_of[$n]}")
done
# The test command's version: bounded memory is a tighter bound (the instances use tens of MiB).
if [ "$TEST" = 1 ]; then driver+=(--rss-max 256); else driver+=(--timing-goals); fi
# Under AddressSanitizer (README: the sanitizers' run of the test command) the memory is mostly
# the sanitizer's; the invariants, open files and every other goal still hold.
asan=$(asan_runtime "$BIN/surveyd")
[ -z "$asan" ] || driver+=(--asan-runtime "$asan")
log "soak: $MINUTES min at $RATE events/s ($FEED_RATE/s TCP feed, $PUSH_RATE/s pushed), gateway rate $GATEWAY_RATE/s"
set +e
"${driver[@]}" | tee "$WORK/table.txt"
driver_rc=${PIPESTATUS[0]}
set -e
[ "$driver_rc" -le 1 ] || bench_fail "the driver stopped (status $driver_rc); logs in $WORK"

# Settle. The feed stops at once: what the service had not stored by then was never acknowledged
# (the consumer acks in order, after the commit), so the ids the feed generated (in order) are
# held to I1 up to the last one stored, and the rest is shown as the service's backlog.
SETTLE_STARTED=$(date +%s)
kill -TERM "$feed_pid" 2>/dev/null || true
wait "$feed_pid" 2>/dev/null || true
# The consumer goes on storing what it had read when the feed went: until that stops (3 s alike).
feed_stored() { "${PSQL[@]}" -d surveyd -At -c "SELECT count(*) FROM events WHERE source = 'tcp'"; }
last=-1
same=0
for _ in $(seq 1 600); do
  stored=$(feed_stored)
  if [ "$stored" = "$last" ]; then same=$((same + 1)); else same=0; fi
  [ "$same" -ge 6 ] && break
  last=$stored
  sleep 0.5
done
[ "$same" -ge 6 ] || bench_fail "the consumer was still storing the feed's events 5 minutes after it stopped"
open=x
for _ in $(seq 1 600); do
  open=$("${PSQL[@]}" -d surveyd -At -c "SELECT count(*) FROM outbox
    WHERE state IN ('pending', 'claimed', 'sending') AND next_attempt_at < now() + interval '1 minute'")
  [ "$open" = 0 ] && break
  sleep 0.2
done
[ "$open" = 0 ] || bench_fail "$open text(s) still open 2 minutes after the load stopped"
sleep 1.5  # the last delivery reports
SETTLE_SECONDS=$(($(date +%s) - SETTLE_STARTED))
# Where the database's time went over the whole run (load, retention and settle): the first place
# to look when a figure moves.
bench_statements 15 >"$WORK/statements.txt" 2>&1 || true
"${PSQL[@]}" -d surveyd -At -c "SELECT event_id FROM events WHERE source = 'tcp'" >"$WORK/stored-feed.txt"
read -r FEED_ACKED BACKLOG < <(python3 - "$WORK/acked-feed.txt" "$WORK/stored-feed.txt" "$WORK/acked-feed-trimmed.txt" <<'PY'
import sys
generated = [line.strip() for line in open(sys.argv[1]) if line.strip()]
stored = {line.strip() for line in open(sys.argv[2])}
last = max((i for i, e in enumerate(generated) if e in stored), default=-1)
open(sys.argv[3], "w").write("".join(e + "\n" for e in generated[:last + 1]))
print(last + 1, len(generated) - last - 1)
PY
)

# The gateway simulator's own counts, before the instances stop (its callbacks and citizens fail
# from then on).
curl -fs -o "$WORK/gateway-stats.json" "http://127.0.0.1:$gw_port/v1/stats" || true
# The instances stop as systemd stops them (SIGTERM) before the invariants are read: the
# simulated citizens still reply (a late STOP is confirmed by a text), so what a running service
# leaves is never final, and a stop must leave nothing claimed or sending.
for n in "${names[@]}"; do kill -TERM "${pid_of[$n]}" 2>/dev/null || true; done
for n in "${names[@]}"; do
  for _ in $(seq 1 300); do
    kill -0 "${pid_of[$n]}" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "${pid_of[$n]}" 2>/dev/null; then
    bench_fail "surveyd-$n did not stop within 30 s of SIGTERM; logs in $WORK"
  fi
  wait "${pid_of[$n]}" || bench_fail "surveyd-$n stopped with status $? on SIGTERM; logs in $WORK"
done

# The invariants, on everything acknowledged (the feed's ids, the pushes' ids) and the gateway's log.
CHECK_STARTED=$(date +%s)
cat "$WORK/acked-feed-trimmed.txt" "$WORK/acked-push.txt" >"$WORK/acked.txt"
set +e
python3 "$ROOT/tests/fault/check" --database "$url" --surveyd "$BIN/surveyd" --rules "$SURVEYD_RULES" \
  --sent "$WORK/acked.txt" --gateway-log "$WORK/wmnow-sim.log" --answers-log "$WORK/thanked.txt" \
  --alert-channels email --mail-log "$WORK/mail.jsonl" >"$WORK/check.txt" 2>&1
check_rc=$?
set -e
CHECK_SECONDS=$(($(date +%s) - CHECK_STARTED))
violations=$(grep -c '^FAIL' "$WORK/check.txt" || true)
if [ "$check_rc" = 0 ]; then
  invariants="met     zero invariant violations (tests/fault/check: $(grep -c '^PASS' "$WORK/check.txt") passed; $(tail -n 1 "$WORK/check.txt"))"
else
  invariants="MISSED  zero invariant violations: $violations failed (tests/fault/check below)"
fi
# Logs never hold a number (the pushes' 078..., the feed's drama range).
if grep -hE '(^|[^0-9A-Za-z])(\+?447[0-9]{9}|07[0-9]{3} ?[0-9]{6})([^0-9A-Za-z]|$)' "$WORK"/surveyd-*.log >"$WORK/numbers.txt"; then
  logs="MISSED  no phone number in the instances' logs: $(wc -l <"$WORK/numbers.txt") line(s)"
else
  logs="met     no phone number in the instances' logs"
fi
mails=$(wc -l <"$WORK/mail.jsonl" 2>/dev/null || echo 0)
# The gateway simulator's own counts: its delivery reports and citizens wait on the service's
# answers, so they lag when it is slow.
gateway=$(python3 - "$WORK/gateway-stats.json" <<'PY' 2>/dev/null || echo "its counts unavailable"
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{s['accepted']} texts taken, {s['callbacks']} delivery reports made "
      f"({s['callback_failures']} failed), {s['opened']} links opened, {s['answered']} "
      f"surveys answered ({s['answer_failures']} refused), {s['stops']} STOP replies")
PY
)
read -r alerts notices_open kinds < <("${PSQL[@]}" -d surveyd -At -F ' ' -c "SELECT (SELECT count(*) FROM alerts),
  (SELECT count(*) FROM alert_notices WHERE state <> 'sent'),
  (SELECT COALESCE(string_agg(kind || ' ' || n, ', ' ORDER BY kind), 'none')
     FROM (SELECT kind, count(*) n FROM alerts GROUP BY kind) k)" 2>/dev/null || echo "? ? ?")
# Checkpoints forced by WAL volume (max_wal_size too small for the load) and buffers that
# backends had to write themselves (shared_buffers too small): the sizing of docs/operations.md.
read -r ckpt_wal ckpt_timed backend_writes all_writes buffers wal_size < <("${PSQL[@]}" -d surveyd -At -F ' ' -c "SELECT checkpoints_req, checkpoints_timed, buffers_backend,
  buffers_checkpoint + buffers_clean + buffers_backend, current_setting('shared_buffers'),
  current_setting('max_wal_size') FROM pg_stat_bgwriter" 2>/dev/null || echo "? ? ? ? ? ?")
LOAD_AFTER=$(bench_load)

echo
echo "surveyd soak benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(bench_machine)$([ "$TEST" = 1 ] && echo ", --test")"
echo "$MINUTES min at $RATE events/s ($FEED_RATE/s TCP feed + $PUSH_RATE/s HTTP pushes), $INSTANCES instance(s), gateway rate $GATEWAY_RATE/s"
echo "load average before $LOAD_BEFORE, after $LOAD_AFTER; setup ${SETUP_SECONDS}s, settle ${SETTLE_SECONDS}s, check ${CHECK_SECONDS}s"
[ -n "${BENCH_BIN_DIR:-}" ] && echo "binaries from $BIN (not this run's Release build)"
cat "$WORK/summary.txt" 2>/dev/null || true
echo "  the TCP feed: $FEED_ACKED events stored, $BACKLOG more generated but not yet taken when the load stopped (the service's backlog)"
echo "  gateway simulator: $gateway"
echo "  alerts: $alerts raised ($kinds), $mails e-mail(s) received by the relay, $notices_open notice(s) not sent (pending, claimed or failed)"
server_log="$WORK/pg/data/server.log"
echo "  the database: $(grep -c 'plan:' "$server_log" || true) statement(s) over 1 s, $(grep -c 'still waiting for' "$server_log" || true) lock wait(s) over 1 s, $(grep -c 'canceling statement due to statement timeout' "$server_log" || true) statement timeout(s) (their plans and parameters in pg/data/server.log)"
echo "  PostgreSQL (shared_buffers $buffers, max_wal_size $wal_size): $ckpt_wal checkpoint(s) forced by WAL volume, $ckpt_timed by time; $backend_writes of $all_writes buffer writes made by the backends themselves"
echo "goals:"
{ cat "$WORK/goals.txt" 2>/dev/null; echo "$invariants"; echo "$logs"; } | sed 's/^/  /'
if [ "$check_rc" != 0 ]; then sed 's/^/    /' "$WORK/check.txt"; fi
echo "the database's time, by statement (pg_stat_statements, top 15 by total):"
sed 's/^/  /' "$WORK/statements.txt"
missed=$({ cat "$WORK/goals.txt" 2>/dev/null; echo "$invariants"; echo "$logs"; } | grep '^MISSED' || true)
if [ -n "$missed" ] || [ "$driver_rc" != 0 ]; then
  echo "bench/soak.sh: goal(s) missed:" >&2
  echo "$missed" | sed 's/^MISSED */  /' >&2
  exit 3
fi
