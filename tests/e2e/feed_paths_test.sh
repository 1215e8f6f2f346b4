#!/usr/bin/env bash
# One stream of events delivered three ways, each into its own database with the same rules and
# the same phone hash key: `surveyd replay` of a file, the file pushed over HTTP in signed
# batches, and the same lines streamed over TCP by cw-sim. The three share one ingest path, so
# the stored decisions, rejected lines, duplicate counts and surveys must be identical.
#   tests/e2e/feed_paths_test.sh BUILD_DIR SOURCE_DIR   (needs SURVEYD_TEST_DATABASE_URL)
source "$(dirname "$0")/lib.sh" "$@"

base="paths_$$_$RANDOM"
dbs=("${base}_replay" "${base}_http" "${base}_tcp")
url_of() { echo "${admin%/*}/$1"; }
sql() { PGTZ=UTC psql -X -At "$(url_of "$1")" -c "$2"; }

export_secrets
# Nothing listens there and nothing is due before the end of the test: the dispatcher stays out.
export SURVEYD_WMNOW_BASE_URL="http://127.0.0.1:9" SURVEYD_DISPATCH_POLL_MS=3600000
unset SURVEYD_FEED_TCP
# The shipped policy with no delay and no quiet hours, so that send_at is the event's time.
use_prompt_rules

for db in "${dbs[@]}"; do
  SURVEYD_DATABASE_URL=$(new_database "$db") "$BUILD/surveyd" migrate -c "$SRC/config/surveyd.yaml" >/dev/null
done

# The stream starts now: the generator's first event ends a call at least two minutes after the
# start, so every event is decided before it occurs, and its decision (send_at = occurred_at, no
# would_expire, the frequency cap seeing every earlier survey) does not depend on when, or how
# fast, each path ran. Checked below. Ingest order, which the frequency cap depends on, is file
# order on all three paths.
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Events stamped ahead of the clock are ruled out beyond policy.max_event_lead (2 minutes): here
# they are so on purpose, hours ahead.
sed 's/^  max_event_lead: .*/  max_event_lead: 2d/' "$SRC/config/rules.yaml" >"$work/rules.yaml"
cp "$SRC/config/alert_lexicon.yaml" "$work/"
export SURVEYD_RULES="$work/rules.yaml"
count=600 seed=17
gen=(--count "$count" --seed "$seed" --duplicate-rate 0.05 --malformed-rate 0.02 --start "$start")
"$BUILD/cw-sim" generate "${gen[@]}" --with-seq >"$work/stream.ndjson" 2>"$work/generate.log"
lines=$(wc -l <"$work/stream.ndjson")
last_seq=$(tail -n 1 "$work/stream.ndjson" | sed -n 's/^{"seq":\([0-9]*\),.*/\1/p')
[ "$last_seq" = "$lines" ] || fail "expected seq 1..$lines in the file, last line has seq '$last_seq'"
grep -q 'duplicates=[1-9].* malformed=[1-9]' "$work/generate.log" ||
  fail "the stream should hold duplicates and malformed lines: $(cat "$work/generate.log")"

# 3. TCP: cw-sim serves the same generator (same seed, options and start) with seq numbers.
feed_port=$(free_port)
"$BUILD/cw-sim" serve --listen "127.0.0.1:$feed_port" --rate 0 "${gen[@]}" \
  --record "$work/served.txt" >"$work/cw-sim.log" 2>&1 &
sim_pid=$!; pids+=("$sim_pid")
port_http=$(free_port); port_tcp=$(free_port)
SURVEYD_DATABASE_URL=$(url_of "${dbs[1]}") SURVEYD_HTTP_LISTEN="127.0.0.1:$port_http" \
  "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd-http.log" 2>&1 &
pids+=("$!")
SURVEYD_DATABASE_URL=$(url_of "${dbs[2]}") SURVEYD_HTTP_LISTEN="127.0.0.1:$port_tcp" \
  SURVEYD_FEED_TCP="127.0.0.1:$feed_port" SURVEYD_FEED_TLS=false \
  "$BUILD/surveyd" serve -c "$SRC/config/surveyd.yaml" >"$work/surveyd-tcp.log" 2>&1 &
pids+=("$!")

# 1. Replay, meanwhile.
SURVEYD_DATABASE_URL=$(url_of "${dbs[0]}") "$BUILD/surveyd" replay -c "$SRC/config/surveyd.yaml" \
  "$work/stream.ndjson" >"$work/replay.out" 2>"$work/replay.log" &
replay_pid=$!; pids+=("$replay_pid")

# 2. HTTP push: batches of 100 lines, strictly in order, signed as the command-and-control system does.
wait_healthy "$port_http"
split -l 100 -d -a 4 "$work/stream.ndjson" "$work/batch."
count_of() { grep -o "\"$1\":[0-9]*" "$work/push.out" | tail -n 1 | cut -d: -f2; }
accepted=0 duplicate=0 rejected=0
for f in "$work"/batch.*; do
  ts=$(date +%s)
  sig=$(feed_signature "$ts" <"$f")
  code=$(curl -s -o "$work/push.out" -w '%{http_code}' -H 'Content-Type: application/x-ndjson' \
    -H "X-Feed-Timestamp: $ts" -H "X-Feed-Signature: $sig" --data-binary "@$f" \
    "http://127.0.0.1:$port_http/api/v1/feed/events")
  [ "$code" = 202 ] || fail "push of $(basename "$f"): HTTP $code $(head -c 300 "$work/push.out")"
  accepted=$((accepted + $(count_of accepted)))
  duplicate=$((duplicate + $(count_of duplicate)))
  rejected=$((rejected + $(count_of rejected)))
done
pushed="replay: $accepted accepted, $duplicate duplicate, $rejected rejected"

wait "$replay_pid" || fail "replay: $(cat "$work/replay.log")"
replayed=$(cat "$work/replay.out")
[ "$replayed" = "$pushed" ] || fail "replay said '$replayed', the HTTP pushes added up to '$pushed'"

# The TCP consumer moves its cursor past every line it stores, rejected ones included.
for _ in $(seq 1 300); do
  cursor=$(sql "${dbs[2]}" "SELECT coalesce(max(seq), 0) FROM feed_cursors")
  [ "$cursor" = "$last_seq" ] && break
  sleep 0.2
done
[ "$cursor" = "$last_seq" ] || fail "the TCP feed stored up to seq $cursor of $last_seq"
kill -TERM "$sim_pid"; wait "$sim_pid" 2>/dev/null || true  # it writes out --record as it stops
sort "$work/served.txt" | cmp -s - <(grep -v '"CW-BAD-' "$work/stream.ndjson" |
  sed -n 's/^{"seq":[0-9]*,"event_id":"\([^"]*\)".*/\1/p' | sort -u) ||
  fail "cw-sim serve did not stream the events of cw-sim generate"

for db in "${dbs[@]}"; do
  late=$(sql "$db" "SELECT count(*) FROM events WHERE occurred_at <= received_at")
  [ "$late" = 0 ] || fail "$db: $late event(s) stored after they occurred: the run was too slow for \
the comparison to be independent of the clock"
done

names=(replay http tcp)
compare() {  # compare WHAT QUERY: the query's rows must be the same in the three databases
  local i
  for i in 0 1 2; do sql "${dbs[$i]}" "$2" >"$work/$1.${names[$i]}"; done
  [ -s "$work/$1.replay" ] || fail "$1: no rows"
  for i in 1 2; do
    if ! diff -u "$work/$1.replay" "$work/$1.${names[$i]}" >"$work/$1.diff"; then
      head -n 40 "$work/$1.diff" >&2
      fail "$1 differ between replay and ${names[$i]}"
    fi
  done
}
# Raw events are encrypted with a fresh nonce each (docs/data-protection.md): their lengths must
# agree, and the facts read from them.
compare events "SELECT event_id, seq, type, occurred_at, decision, decision_reason, decision_group,
  decision_trace::text, length(r.raw), md5(facts::text) FROM events LEFT JOIN raw_events r
  USING (event_id) ORDER BY event_id"
compare counts "SELECT (SELECT count(*) FROM events), (SELECT sum(duplicates) FROM events),
  (SELECT count(*) FROM rejected_events), (SELECT count(*) FROM surveys)"
compare rejected "SELECT coalesce(event_id, '-'), reject_reason, length(raw) FROM rejected_events
  ORDER BY 1, 2, 3"
compare surveys "SELECT event_id, group_id, language, phone_hash, contact_at, send_at, expires_at,
  closes_at, md5(sms_template) FROM surveys ORDER BY event_id"
compare outbox "SELECT s.event_id, o.state, o.next_attempt_at FROM outbox o
  JOIN surveys s ON s.id = o.survey_id ORDER BY 1"

# The comparison means something only if the stream exercised the rules.
reasons=$(sql "${dbs[0]}" "SELECT string_agg(r || '=' || n, ' ' ORDER BY r) FROM
  (SELECT decision_reason AS r, count(*) AS n FROM events GROUP BY 1) x")
for want in survey frequency_cap 'exclusion:' phone_; do
  [[ $reasons == *"$want"* ]] || fail "no '$want' decision in the stream: $reasons"
done
IFS='|' read -r events dups rejects surveys <"$work/counts.replay"
[ "$dups" -gt 0 ] || fail "no duplicate delivery was counted"
[ "$rejects" -gt 0 ] || fail "no rejected line was stored"
echo "$lines lines, $events events ($dups duplicate deliveries, $rejects rejected lines, $surveys \
surveys) decided alike by replay, HTTP push and TCP"
echo "  $reasons"
echo "feed paths: 1 passed, 0 failed"
