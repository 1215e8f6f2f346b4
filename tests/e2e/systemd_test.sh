#!/usr/bin/env bash
# systemd integration without systemd running: the shipped unit passes `systemd-analyze verify`
# (and a broken copy does not, so the check can fail), and the daemon, run with a NOTIFY_SOCKET of
# the test's own (abstract namespace), says READY=1 once it serves, WATCHDOG=1 while idle,
# RELOADING=1 then READY=1 around SIGHUP (a good and a broken rules file), stops pinging while its
# dispatcher is stalled (the outbox table locked in PostgreSQL) and again after, and STOPPING=1 and
# exit 0 on SIGTERM.
#   tests/e2e/systemd_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"
ensure_packages systemd python3
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (package systemd)"

# --- The unit file ---------------------------------------------------------------------------
unit="$SRC/docs/systemd/surveyd.service"
grep -qx 'Type=notify' "$unit" || fail "the unit is not Type=notify"
grep -q '^WatchdogSec=' "$unit" || fail "the unit has no WatchdogSec"
# verify needs the binaries it names to exist: point them at the build.
mkdir -p "$work/unit"
sed "s#/usr/bin/surveyd#$BUILD/surveyd#g" "$unit" >"$work/unit/surveyd.service"
if ! out=$(cd "$work/unit" && systemd-analyze verify ./surveyd.service 2>&1); then
  fail "systemd-analyze verify refused the unit: $out"
fi
[ -z "$out" ] || fail "systemd-analyze verify warned about the unit: $out"
sed 's/^Type=notify$/Type=notfy/' "$work/unit/surveyd.service" >"$work/unit/broken.service"
out=$(cd "$work/unit" && systemd-analyze verify ./broken.service 2>&1 || true)
[[ $out == *"notfy"* ]] || fail "systemd-analyze verify did not notice a broken unit: $out"

# --- Notify and watchdog ---------------------------------------------------------------------
url=$(new_database "systemd_$$_$RANDOM")
port=$(free_port)
export_secrets
export SURVEYD_DATABASE_URL="$url" SURVEYD_HTTP_LISTEN="127.0.0.1:$port"
export SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port" SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:9"
export SURVEYD_GATEWAY_TIMEOUT_MS=1000 SURVEYD_STALL_AFTER=2 SURVEYD_STOP_TIMEOUT=5
export SURVEYD_DISPATCH_POLL_MS=200
unset SURVEYD_FEED_TCP
use_prompt_rules

socket="@surveyd-test-$$-$RANDOM"
python3 "$SRC/tests/e2e/helpers/notify_listener.py" "$socket" "$work/notify.txt" &
pids+=($!)
for _ in $(seq 1 50); do grep -q LISTENING "$work/notify.txt" 2>/dev/null && break; sleep 0.1; done

NOTIFY_SOCKET="$socket" WATCHDOG_USEC=1000000 \
  "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd.log" 2>&1 &
pid=$!
pids+=($pid)
mono() { python3 -c 'import time; print(f"{time.monotonic():.3f}")'; }
seen() { grep -c -- "$1" "$work/notify.txt" || true; }
wait_for() {  # wait_for PATTERN COUNT: until COUNT messages match (10 s at most)
  for _ in $(seq 1 100); do [ "$(seen "$1")" -ge "$2" ] && return 0; sleep 0.1; done
  fail "waited for $2 x '$1'; got: $(tail -n 5 "$work/notify.txt" | tr '\n' ' ')"
}
# The longest wait between two WATCHDOG=1 sent between monotonic times $1 and $2.
longest_gap() {
  awk -v from="$1" -v to="$2" '$2 == "WATCHDOG=1" && $1 >= from && $1 <= to {
    if (last != "") { gap = $1 - last; if (gap > max) max = gap } last = $1 }
    END { printf "%.3f\n", max + 0 }' "$work/notify.txt"
}

wait_for "READY=1|STATUS=serving on port $port" 1
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || fail "READY=1 before the listener answers"
t0=$(mono)
sleep 3
t1=$(mono)
pings=$(awk -v from="$t0" -v to="$t1" '$2 == "WATCHDOG=1" && $1 >= from && $1 <= to' "$work/notify.txt" | wc -l)
[ "$pings" -ge 4 ] || fail "only $pings WATCHDOG=1 in 3 s while idle (WATCHDOG_USEC=1 s)"
gap=$(longest_gap "$t0" "$t1")
awk -v g="$gap" 'BEGIN { exit !(g < 1.0) }' || fail "idle, the watchdog still waited ${gap} s between pings"

# SIGHUP with good rules, then with a broken file: RELOADING=1 then READY=1 each time; the broken
# file is refused and the rules in force stay.
kill -HUP "$pid"
wait_for "RELOADING=1|MONOTONIC_USEC=" 1
wait_for "READY=1" 2
grep -q "rules reloaded" "$work/surveyd.log" || fail "the good reload is not in the log"
cp "$SURVEYD_RULES" "$work/rules.good"
printf 'groups:\n  - id: x\n    trigger: call.endd\n' >>"$SURVEYD_RULES"
kill -HUP "$pid"
wait_for "RELOADING=1|MONOTONIC_USEC=" 2
wait_for "READY=1" 3
grep -q "rules reload failed" "$work/surveyd.log" || fail "the failed reload is not in the log"
[ "$(grep -n 'RELOADING=1' "$work/notify.txt" | tail -1 | cut -d: -f1)" -lt \
  "$(grep -n 'READY=1' "$work/notify.txt" | tail -1 | cut -d: -f1)" ] || fail "READY=1 must follow RELOADING=1"
metrics=$(curl -fs "http://127.0.0.1:$port/metrics")
grep -q '^surveyd_rules_loads_total{result="failed"} 1$' <<<"$metrics" || fail "the failed reload is not counted: $(grep rules_loads <<<"$metrics")"
grep -q '^surveyd_rules_loads_total{result="ok"} 2$' <<<"$metrics" || fail "the good loads are not counted"
cp "$work/rules.good" "$SURVEYD_RULES"

# A stalled dispatcher: the outbox locked for 6 s, so its next claim hangs. The pings must stop
# (the loop is stalled after 2 s) and come back once the lock goes.
psql -X -q "$url" -c "BEGIN; LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;" \
  >/dev/null 2>&1 &
locker=$!
pids+=($locker)
t2=$(mono)
for _ in $(seq 1 50); do grep -q "watchdog: dispatcher has shown no progress" "$work/surveyd.log" && break; sleep 0.1; done
grep -q "watchdog: dispatcher has shown no progress" "$work/surveyd.log" || fail "the stalled dispatcher is not in the log"
metrics=$(curl -fs "http://127.0.0.1:$port/metrics")
grep -q '^surveyd_loop_stalled{loop="dispatcher"} 1$' <<<"$metrics" ||
  fail "surveyd_loop_stalled does not show the stalled dispatcher"
wait "$locker" || true
for _ in $(seq 1 50); do grep -q "watchdog: dispatcher makes progress again" "$work/surveyd.log" && break; sleep 0.1; done
grep -q "watchdog: dispatcher makes progress again" "$work/surveyd.log" || fail "the dispatcher did not recover"
before=$(seen "WATCHDOG=1")
sleep 1.5
[ "$(seen "WATCHDOG=1")" -gt "$before" ] || fail "the pings did not resume after the stall"
t3=$(mono)
gap=$(longest_gap "$t2" "$t3")
awk -v g="$gap" 'BEGIN { exit !(g >= 2.5) }' || fail "the watchdog went on being fed during the stall (longest gap ${gap} s)"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "surveyd exited $rc after SIGTERM"
grep -q "STOPPING=1" "$work/notify.txt" || fail "no STOPPING=1"
no_personal_data '' "$work/surveyd.log"
echo "systemd: unit verified; READY, WATCHDOG ($pings in 3 s idle), RELOADING/READY x2, no pings for ${gap} s while stalled, STOPPING, exit 0: 1 passed, 0 failed"
