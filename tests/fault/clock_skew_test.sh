#!/usr/bin/env bash
# Clock skew (libfaketime): two instances on one database, the TCP feed and a gateway that takes
# 2 s to answer half the sends (so that a's sends are in flight whenever b looks for sends whose
# sender died: b sends one text at a time and leaves most to a); instance b's clock is set apart
# from the real one (the database's) and stepped while it runs. Leases run on the database's
# clock, events stamped ahead of ours are ruled out, and an instance whose clock is further than
# dispatch.max_clock_skew_ms from the database's sends nothing and is not ready (docs/invariants.md).
#  1. b with the check only reporting (max 0): its clock 5 minutes ahead, then stepped to 5 minutes
#     behind. Its health must say how far apart the clocks are, no instance may recover a send
#     "found mid-request", and the gateway may see a resend only of a message whose answer never
#     came (maybe_sent).
#  2. b started again, held to 2 s, with its clock 3 hours ahead, under rules whose quiet hours
#     are now by the real time but not by b's: b must be unready with sending held, and no text may
#     go out while it is night by the real time; then b's clock is stepped back right and b must be
#     ready again within 3 s (and still send nothing: it is night).
# Then tests/fault/check (I1-I4).
#   tests/fault/clock_skew_test.sh BUILD_DIR SOURCE_DIR      bounded: about 35 s
#   SURVEYD_FAULT_LONG=1 tests/fault/clock_skew_test.sh ...  long: each phase 30 s
#   (needs SURVEYD_TEST_DATABASE_URL, as scripts/test sets)
source "$(dirname "$0")/lib.sh" "$@"

if [ "${SURVEYD_FAULT_LONG:-0}" = 1 ]; then phase_s=30; else phase_s=6; fi
libfaketime=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketimeMT\.so\.1$' | tail -n 1) ||
  fail "libfaketime is not installed (package faketime; scripts/lib/common.sh installs it)"
# Under AddressSanitizer its runtime is preloaded first.
preload=$libfaketime
asan=$(asan_runtime "$BUILD/surveyd")
[ -z "$asan" ] || preload="$asan:$libfaketime"
fault_database "skew_$$_$RANDOM"
fault_environment
export SURVEYD_DISPATCH_WORKERS=4 SURVEYD_DISPATCH_CLOCK_CHECK_MS=500 SURVEYD_STOP_TIMEOUT=10
export SURVEYD_GATEWAY_TIMEOUT_MS=5000
cp "$SURVEYD_RULES" "$work/rules-0.yaml"

# skew_b SPEC: b's clock from now on, as libfaketime reads it ("+300": 300 s ahead), within 1 s.
skew_b() { echo "$1" >"$work/b.faketime"; sleep 1.1; }
start_b() {
  SURVEYD_DISPATCH_WORKERS=1 SURVEYD_DISPATCH_BATCH_SIZE=1 LD_PRELOAD="$preload" \
    FAKETIME_TIMESTAMP_FILE="$work/b.faketime" FAKETIME_CACHE_DURATION=1 \
    FAKETIME_DONT_FAKE_MONOTONIC=1 start_instance b
}
clock_of() {  # clock_of PORT FIELD: the "clock" check of /api/v1/health
  health "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['checks']['clock']['$2'])"
}
accepted() { grep -c 'wmnow-sim: accepted' "$work/wmnow-sim.log" || true; }

count=$(( (phase_s * 4 + 6) * 40 ))
start_feed "$count" 40 71 --duplicate-rate 0.01
start_gateway --hang-rate 0.5 --hang-ms 2000 --seed 23
migrate
start_instance a
ready_within "$port_a" 10 || fail "instance a not ready at the start"

# 1. Only reported: b 5 minutes ahead, then 5 minutes behind, sending all along.
echo "+300" >"$work/b.faketime"
SURVEYD_DISPATCH_MAX_CLOCK_SKEW_MS=0 start_b
ready_within "$port_b" 10 || fail "instance b not ready at the start"
sleep "$phase_s"
skew=$(clock_of "$port_b" skew_s)
python3 -c "import sys; sys.exit(not 299 < $skew < 301)" || fail "b's health says its clock is $skew s off, not 300"
taken_ahead=$(accepted)
skew_b "-300"
sleep "$phase_s"
skew=$(clock_of "$port_b" skew_s)
python3 -c "import sys; sys.exit(not -301 < $skew < -299)" || fail "b's health says its clock is $skew s off, not -300"
echo "phase 1: $(accepted) texts taken ($taken_ahead with b ahead), $(sql "SELECT count(*) FROM outbox WHERE state IN ('claimed', 'sending')") in flight now"

# 2. Held: night by the real time, day by b's clock (3 hours ahead).
now_min=$(( 10#$(TZ=Europe/London date +%H) * 60 + 10#$(TZ=Europe/London date +%M) ))
hhmm() { printf '"%02d:%02d"' $(( ($1 + 1440) % 1440 / 60 )) $(( ($1 + 1440) % 60 )); }
sed -e "s/^  enabled: false/  enabled: true/" -e "s/^  start: .*/  start: $(hhmm $((now_min - 60)))/" \
  -e "s/^  end: .*/  end: $(hhmm $((now_min + 60)))/" "$work/rules-0.yaml" >"$work/rules-night.yaml"
"$BUILD/surveyd" rules check "$work/rules-night.yaml" >/dev/null || fail "the night rules do not load"
kill -TERM "${pid_of[b]}"; wait "${pid_of[b]}" || fail "instance b did not stop cleanly"
cp "$work/rules-night.yaml" "$SURVEYD_RULES"
kill -HUP "${pid_of[a]}"
echo "+10800" >"$work/b.faketime"
SURVEYD_DISPATCH_MAX_CLOCK_SKEW_MS=2000 start_b
wait_healthy "$port_b"
sleep 2.5  # the sends begun before the reload are answered
night_taken=$(accepted)
for _ in $(seq 1 $((phase_s * 2))); do
  [ "$(curl -s "http://127.0.0.1:$port_b/readyz" | grep -c '"ready":true')" = 0 ] ||
    fail "b is ready with its clock 3 hours off"
  sleep 0.5
done
[ "$(clock_of "$port_b" ok)" = False ] || fail "b's health does not say its clock is off"
[[ "$(health "$port_b")" == *'"sends_held":true'* ]] || fail "b's dispatcher does not hold its sends"
skew_b "+0"
ready_within "$port_b" 3 || fail "b not ready 3 s after its clock was put right"
sleep 2
[ "$(accepted)" = "$night_taken" ] || fail "$(( $(accepted) - night_taken )) text(s) sent at night by the real time"
due=$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")
[ "$due" -ge 5 ] || fail "only $due texts waited for the morning: the quiet hours were not exercised"
echo "phase 2: no text in $((phase_s + 3)) s of night, $due waiting for the morning"

# Settle: every event stored, nothing claimed or sending (the night's texts wait, pending).
for _ in $(seq 1 300); do
  [ "$(feed_stored)" -ge "$count" ] &&
    [ "$(sql "SELECT count(*) FROM outbox WHERE state IN ('claimed','sending')")" = 0 ] && break
  sleep 0.2
done
[ "$(feed_stored)" -ge "$count" ] || fail "only $(feed_stored) of $count feed events stored"
kill -TERM "$feed_pid"; wait "$feed_pid" 2>/dev/null || true
echo "outbox: $(outbox_states)"
# A resend is made only after an answer that never came (maybe_sent), never because a skewed
# clock took a send in flight for a dead one.
! grep -h 'found mid-request' "$work"/surveyd-[ab].log || fail "a send in flight was taken over"
sql "SELECT client_ref FROM outbox WHERE maybe_sent" | sort >"$work/maybe-sent.txt"
resent=$(sed -n 's/.*wmnow-sim: duplicate client_ref \([^ ]*\) .*/\1/p' "$work/wmnow-sim.log" | sort -u |
  comm -23 - "$work/maybe-sent.txt")
[ -z "$resent" ] || fail "sent again without an answer in doubt: $(echo "$resent" | head -3 | tr '\n' ' ')"
# A request may take up to the gateway's timeout (5 s) before its attempt is recorded.
check_invariants --rules "$work/rules-0.yaml" --slack-s 6
no_numbers_in_logs
echo "clock skew: 1 passed, 0 failed"
