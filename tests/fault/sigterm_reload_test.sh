#!/usr/bin/env bash
# A rules reload during a burst, then SIGTERM under load: two instances, the TCP feed, and a gateway
# that takes 400 ms to answer half of the sends (so that sends are in flight, four at a time). Mid-stream the
# rules file gains an exclusion (two incident categories) and both instances get SIGHUP; then each
# instance in turn gets SIGTERM, must exit 0 within its stop timeout, and is started again (ready
# within 10 s). Then tests/fault/check holds each text to the rules in force when its send began
# (I4: the first rules before the reload, the new ones after it), with the rest of the invariants;
# and the checker must fail if the new rules are said to hold from the start. Between the reload
# and the stops ops hold every text for 5 s (surveyd sends hold): none may begin meanwhile.
#   tests/fault/sigterm_reload_test.sh BUILD_DIR SOURCE_DIR      bounded: 1,200 events, about 45 s
#   SURVEYD_FAULT_LONG=1 tests/fault/sigterm_reload_test.sh ...  long: 6,000 events, 10 stops
#   (needs SURVEYD_TEST_DATABASE_URL, as scripts/test sets)
source "$(dirname "$0")/lib.sh" "$@"

if [ "${SURVEYD_FAULT_LONG:-0}" = 1 ]; then count=6000 rate=80 stops=10; else count=1200 rate=60 stops=2; fi
fault_database "sigterm_$$_$RANDOM"
fault_environment
export SURVEYD_STOP_TIMEOUT=10 SURVEYD_DISPATCH_WORKERS=4
cp "$SURVEYD_RULES" "$work/rules-0.yaml"
sed '/^exclusions:/a\
  - id: reloaded_asb_public_safety\
    description: Added by a reload during the fault run.\
    match: any\
    categories: [asb, public_safety]' "$work/rules-0.yaml" >"$work/rules-1.yaml"
"$BUILD/surveyd" rules check "$work/rules-1.yaml" >/dev/null || fail "the new rules do not load"

start_feed "$count" "$rate" 41 --duplicate-rate 0.01 --malformed-rate 0.002
start_gateway --hang-rate 0.5 --hang-ms 400 --fail-rate 0.02 --seed 9
start_both

sleep 5
echo "reload at $(events_stored) events stored, $(sql "SELECT count(*) FROM outbox WHERE state IN ('claimed', 'sending')") sends in flight"
cp "$work/rules-1.yaml" "$SURVEYD_RULES"
kill -HUP "${pid_of[a]}" "${pid_of[b]}"
for _ in $(seq 1 100); do
  [ "$(cat "$work"/surveyd-[ab].log | grep -c 'rules reloaded')" -ge 2 ] && break
  sleep 0.1
done
[ "$(cat "$work"/surveyd-[ab].log | grep -c 'rules reloaded')" -ge 2 ] || fail "the rules were not reloaded by both"
reloaded=$(date +%s.%N)  # from here on every send is held to the new rules

# Ops hold every text for a few seconds mid-stream: nothing may begin meanwhile (I4), and what
# fell due goes after the release.
"$BUILD/surveyd" sends hold --reason "fault run: held mid-burst" -c "$SRC/config/surveyd.yaml" \
  >"$work/hold.out" || fail "sends hold: $(cat "$work/hold.out")"
due_before=$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")
sleep 5
due_held=$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")
"$BUILD/surveyd" sends release --note "fault run" -c "$SRC/config/surveyd.yaml" >"$work/release.out" ||
  fail "sends release: $(cat "$work/release.out")"
echo "held 5 s: texts waiting $due_before -> $due_held"
[ "$due_held" -gt "$due_before" ] || fail "no text fell due during the hold: the hold was not exercised"

# SIGTERM each instance in turn, mid-stream, and start it again.
for k in $(seq 1 "$stops"); do
  sleep 2
  victim=$([ $((k % 2)) = 1 ] && echo a || echo b)
  in_flight=$(sql "SELECT count(*) FROM outbox WHERE state IN ('claimed', 'sending')")
  started=$(date +%s%N)
  kill -TERM "${pid_of[$victim]}"
  rc=0; wait "${pid_of[$victim]}" || rc=$?
  took=$(( ($(date +%s%N) - started) / 1000000 ))
  echo "SIGTERM $k to $victim with $in_flight sends in flight: exit $rc in $took ms"
  [ "$rc" = 0 ] || fail "instance $victim exited $rc after SIGTERM"
  [ "$took" -le $((SURVEYD_STOP_TIMEOUT * 1000)) ] || fail "instance $victim took $took ms to stop"
  start_instance "$victim"
  ready_within "$(port_of "$victim")" 10 || fail "instance $victim not ready 10 s after its restart"
done
[ "$(grep -c 'SIGTERM received: stopping' "$work"/surveyd-[ab].log | awk -F: '{n += $NF} END {print n}')" = "$stops" ] ||
  fail "the stops are not all in the logs"

settle 180
newly=$(sql "SELECT count(*) FROM events WHERE decision_reason = 'exclusion:reloaded_asb_public_safety'")
[ "$newly" -ge 1 ] || fail "no event was excluded by the reloaded rules: the reload was not exercised"
echo "$newly events excluded by the reloaded rules"
check_invariants --rules "$work/rules-0.yaml" --rules-since "$reloaded=$work/rules-1.yaml"
# The checker must be able to fail: the new rules said to hold from the start catch the texts
# sent before the reload for those categories.
if python3 "$SRC/tests/fault/check" --database "$url" --surveyd "$BUILD/surveyd" \
  --rules "$work/rules-0.yaml" --rules-since "0=$work/rules-1.yaml" \
  --gateway-log "$work/wmnow-sim.log" >"$work/early.out"; then
  fail "the checker missed texts the new rules exclude, with those rules said to hold from the start"
fi
grep -q '^FAIL I4 no text against an exclusion' "$work/early.out" || fail "the checker named the wrong invariant"
# ... and a hold said to have covered the whole run catches the texts begun meanwhile.
sql "INSERT INTO send_holds (reason, held_by, held_at, released_by, released_at)
     VALUES ('checker test', 'test', now() - interval '1 hour', 'test', now())" >/dev/null
if python3 "$SRC/tests/fault/check" --database "$url" --surveyd "$BUILD/surveyd" \
  --rules "$work/rules-0.yaml" --rules-since "$reloaded=$work/rules-1.yaml" --only I4 \
  --gateway-log "$work/wmnow-sim.log" >"$work/held.out"; then
  fail "the checker missed texts begun during a hold"
fi
grep -q '^FAIL I4 no text begun while ops held every text' "$work/held.out" ||
  fail "the checker named the wrong invariant for the hold: $(grep FAIL "$work/held.out")"
no_numbers_in_logs
echo "sigterm and reload: 1 passed, 0 failed"
