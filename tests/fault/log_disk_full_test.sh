#!/usr/bin/env bash
# The disk full for the log: one instance whose log (debug level, so that it writes much) goes to a
# file on a small tmpfs, the TCP feed, and the WMNow simulator. Mid-stream the tmpfs is filled to
# the last byte, held full for 8 s, then freed. While it is full the instance must go on ingesting,
# deciding and sending (the feed's events keep being stored, texts keep reaching the gateway),
# stay ready (/readyz polled every half second), not spin (its CPU time during the outage under
# half the wall time), and say so where the disk is not full: /api/v1/health's "log" check
# (failing, write_failures) and surveyd_log_write_failures_total. Once freed, its log is written
# again. Then tests/fault/check: nothing lost.
# Without root (no tmpfs can be mounted) the log goes to /dev/full for the whole run instead.
#   tests/fault/log_disk_full_test.sh BUILD_DIR SOURCE_DIR      bounded: 900 events, about 30 s
#   SURVEYD_FAULT_LONG=1 tests/fault/log_disk_full_test.sh ...  long: 6,000 events, 60 s full
#   (needs SURVEYD_TEST_DATABASE_URL, as scripts/test sets)
source "$(dirname "$0")/lib.sh" "$@"

if [ "${SURVEYD_FAULT_LONG:-0}" = 1 ]; then count=6000 rate=60 full_s=60; else count=900 rate=45 full_s=8; fi
fault_database "logfull_$$_$RANDOM"
fault_environment
export SURVEYD_LOG_LEVEL=debug SURVEYD_METRICS_ALLOW=127.0.0.1/32

logfs="$work/logfs"
mkdir -p "$logfs"
if mount -t tmpfs -o size=1m tmpfs "$logfs" 2>/dev/null; then
  log="$logfs/surveyd.log"
  mounted=1
else
  echo "no tmpfs (not root): the log goes to /dev/full for the whole run"
  log=/dev/full
  mounted=0
fi
_unmount() {
  local rc=$?
  if [ "$mounted" = 1 ]; then
    cp "$log" "$work/surveyd-a.log" 2>/dev/null  # for the tail on failure
    umount -l "$logfs" 2>/dev/null
  fi
  (exit "$rc")
  _e2e_finish
}
trap _unmount EXIT

start_feed "$count" "$rate" 61 --duplicate-rate 0.01 --malformed-rate 0.005
start_gateway --seed 17
migrate
SURVEYD_HTTP_LISTEN="127.0.0.1:$port_a" SURVEYD_PUBLIC_BASE_URL="http://127.0.0.1:$port_a" \
  "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >>"$log" 2>&1 &
pid=$!; pids+=("$pid")
wait_healthy "$port_a" "$port_gw"
ready_within "$port_a" 10 || fail "the instance is not ready at the start"
log_check() { health "$port_a" | python3 -c "import json,sys; print(json.load(sys.stdin)['checks']['log']['$1'])"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

sleep 3
if [ "$mounted" = 1 ]; then
  [ "$(log_check failing)" = False ] || fail "log writes failing before the disk is full"
  grep -q 'dispatch\|feed' "$log" || fail "nothing logged before the disk is full"
  # Fill the disk to the last byte: what is left of a block too.
  dd if=/dev/zero of="$logfs/filler" bs=64k 2>/dev/null || true
  dd if=/dev/zero of="$logfs/filler2" bs=1 2>/dev/null || true
  [ "$(df --output=avail "$logfs" | tail -1 | tr -d ' ')" = 0 ] || fail "the log's disk is not full"
fi
stored0=$(events_stored); taken0=$(grep -c 'wmnow-sim: accepted' "$work/wmnow-sim.log" || true)
ticks0=$(cpu_ticks "$pid"); started=$(date +%s%N)
for _ in $(seq 1 $((full_s * 2))); do
  kill -0 "$pid" 2>/dev/null || fail "the instance died with its log's disk full"
  ready_within "$port_a" 1 || fail "the instance is not ready with its log's disk full"
  sleep 0.5
done
ticks=$(( $(cpu_ticks "$pid") - ticks0 )); wall_ms=$(( ($(date +%s%N) - started) / 1000000 ))
stored=$(( $(events_stored) - stored0 )); taken=$(( $(grep -c 'wmnow-sim: accepted' "$work/wmnow-sim.log") - taken0 ))
failures=$(log_check write_failures)
metric=$(curl -fs "http://127.0.0.1:$port_a/metrics" | awk '/^surveyd_log_write_failures_total/ {print $2}')
echo "disk full for $wall_ms ms: $stored events stored, $taken texts taken, $((ticks * 10)) ms of CPU, $failures log lines lost (metric $metric)"
[ "$stored" -ge $((rate * full_s / 2)) ] || fail "only $stored events stored while the log's disk was full"
[ "$taken" -ge 10 ] || fail "only $taken texts sent while the log's disk was full"
[ $((ticks * 10)) -lt $((wall_ms / 2)) ] || fail "$((ticks * 10)) ms of CPU in $wall_ms ms: spinning?"
[ "$(log_check failing)" = True ] || fail "the health check does not say the log is failing"
[ "$failures" -ge 10 ] || fail "only $failures log write failures counted"
[ "${metric%.*}" -ge "$failures" ] || fail "surveyd_log_write_failures_total is $metric, the health check says $failures"

if [ "$mounted" = 1 ]; then
  rm -f "$logfs/filler" "$logfs/filler2"
  size=$(stat -c %s "$log")
  for _ in $(seq 1 50); do
    [ "$(stat -c %s "$log")" -gt "$size" ] && [ "$(log_check failing)" = False ] && break
    sleep 0.2
  done
  [ "$(stat -c %s "$log")" -gt "$size" ] || fail "nothing logged once the disk was freed"
  [ "$(log_check failing)" = False ] || fail "the health check still says the log is failing"
fi
settle 120
check_invariants
if [ "$mounted" = 1 ]; then
  cp "$log" "$work/surveyd-a.log"
  no_numbers_in_logs
fi
echo "log disk full: 1 passed, 0 failed"
