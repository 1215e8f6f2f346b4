#!/usr/bin/env bash
# Gateway faults: two instances send through a WMNow-style gateway that, besides answering 503 and
# 429 now and then, takes some texts and then resets the connection without answering, and takes
# others and never answers at all (the connection held open). Both leave the send in doubt; WMNow
# is idempotent on client_ref, so surveyd may ask again with the same ref and the simulator
# answers 409 instead of texting twice. Then tests/fault/check: at most one text per survey in the
# simulator's log of what it took (I3), nothing left claimed or sending, and the rest. The
# instances must not keep the held connections: their open files come back near the start.
# Then the same through the Twilio-style API (resets, 500 after creating, late answers), which
# is not idempotent: no send in doubt may be made again.
#   tests/fault/gateway_test.sh BUILD_DIR SOURCE_DIR        bounded: 600 events, about 30 s
#   SURVEYD_FAULT_LONG=1 tests/fault/gateway_test.sh ...    long: 6,000 events
#   (needs SURVEYD_TEST_DATABASE_URL, as scripts/test sets)
source "$(dirname "$0")/lib.sh" "$@"

if [ "${SURVEYD_FAULT_LONG:-0}" = 1 ]; then count=6000 rate=100; else count=600 rate=40; fi
fault_database "gwfault_$$_$RANDOM"
fault_environment

start_feed "$count" "$rate" 31 --duplicate-rate 0.01
# Delivery reports come late (4 s), so that a send in doubt is asked again before its report.
start_gateway --fail-rate 0.03 --throttle-rate 0.03 --reset-rate 0.08 --no-answer-rate 0.03 \
  --delivery-delay-ms 4000 --seed 8
start_both
sleep 5  # under way: the instances hold their pools' connections
declare -A fds_before
for i in a b; do fds_before[$i]=$(open_files "${pid_of[$i]}"); done

settle 180
stats=$(curl -fs "http://127.0.0.1:$port_gw/v1/stats")
stat() { echo "$stats" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
echo "gateway: accepted=$(stat accepted) resets=$(stat resets) unanswered=$(stat unanswered) duplicates=$(stat duplicates) 503=$(stat injected_failures) 429=$(stat throttled)"
[ "$(stat resets)" -ge 1 ] || fail "no send was reset: the fault was not exercised"
[ "$(stat unanswered)" -ge 1 ] || fail "no send was left unanswered: the fault was not exercised"
[ "$(stat duplicates)" -ge 1 ] || fail "no send in doubt was asked again (with its client_ref)"
in_doubt=$(sql "SELECT count(*) FROM outbox WHERE maybe_sent")
[ "$in_doubt" -ge 1 ] || fail "no send was ever in doubt"
for i in a b; do
  fds=$(open_files "${pid_of[$i]}")
  echo "instance $i: open files ${fds_before[$i]} early on, $fds at the end"
  [ "$fds" -le $((fds_before[$i] + 16)) ] || fail "instance $i holds $fds files, ${fds_before[$i]} early on"
done
check_invariants

# The same faults through the Twilio-style API, which is not idempotent: a send in doubt must
# never be made again (a second request would be a second text); it stays in doubt or is settled
# by the delivery reports. The simulator logs each message it created like a WMNow one.
for i in a b; do kill -TERM "${pid_of[$i]}"; wait "${pid_of[$i]}" 2>/dev/null || true; done
mv "$work/wmnow-sim.log" "$work/wmnow-sim-wmnow.txt"
fault_database "gwfault_twilio_$$_$RANDOM"
port_gw=$(free_port)
export SURVEYD_GATEWAY=twilio SURVEYD_TWILIO_BASE_URL="http://127.0.0.1:$port_gw"
sid="AC$(random_secret)"
token=$(random_secret)
export SURVEYD_TWILIO_ACCOUNT_SID=${sid:0:34} SURVEYD_TWILIO_AUTH_TOKEN=$token SURVEYD_TWILIO_FROM="+447700900001"
start_feed "$((count / 2))" "$rate" 32 --duplicate-rate 0.01
start_gateway --twilio-account-sid "$SURVEYD_TWILIO_ACCOUNT_SID" --twilio-auth-token \
  "$SURVEYD_TWILIO_AUTH_TOKEN" --fail-rate 0.03 --throttle-rate 0.03 --reset-rate 0.08 \
  --error-rate 0.03 --hang-rate 0.03 --hang-ms 2000 --seed 10
start_both
settle 180
stats=$(curl -fs "http://127.0.0.1:$port_gw/v1/stats")
echo "twilio: created=$(stat twilio_created) resets=$(stat twilio_resets) 500-after-create=$(stat twilio_injected_errors) hung=$(stat twilio_hung)"
[ "$(stat twilio_resets)" -ge 1 ] || fail "twilio: no send was reset: the fault was not exercised"
refs=$(grep -c 'wmnow-sim: accepted' "$work/wmnow-sim.log")
[ "$refs" = "$(stat twilio_created)" ] || fail "twilio: $(stat twilio_created) messages created, $refs logged"
echo "twilio: $(sql "SELECT count(*) FROM outbox WHERE maybe_sent") sends in doubt, none made twice"
check_invariants
no_numbers_in_logs
echo "gateway faults: 1 passed, 0 failed"
