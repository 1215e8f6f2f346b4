// OutboxStore: claims, attempts, retries, expiry, delivery reports and send slots. The dispatcher
// works in batches, so each step is one statement for the whole batch (unnest of arrays) with
// the per-message fence kept in its WHERE clause.
#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <pqxx/notification>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "store/connect.hpp"
#include "store/pg_store_impl.hpp"
#include "surveyd/core/event_json.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace {

const char* SendStateName(SendState state) {
  switch (state) {
    case SendState::kAccepted:
      return "accepted";
    case SendState::kRetry:
      return "retry";
    case SendState::kFailed:
      return "failed";
    case SendState::kInDoubt:
      return "in_doubt";
  }
  return "failed";
}

// The outbox state an answer moves a `sending` message to.
const char* OutboxStateFor(SendState state) {
  switch (state) {
    case SendState::kAccepted:
      return "accepted";
    case SendState::kRetry:
      return "pending";
    case SendState::kFailed:
      return "failed";
    case SendState::kInDoubt:
      return "in_doubt";
  }
  return "failed";
}

// Columns of claim_due's RETURNING, by name.
enum ClaimColumn {
  kId,
  kSurveyId,
  kKind,
  kClientRef,
  kPhone,
  kTemplate,
  kBody,
  kNonce,
  kLanguage,
  kTwoWay,
  kAttempts,
  kExpiresAt,
  kClaimToken,
  kEventId,
  kIncidentId,
  kPhoneHash,
  kContactAt,
  kOptedOut,
  kLastSurveyed,
  kMaybeSent,
};

}  // namespace

namespace pg {

// Claimed messages' own events, their incidents', and their numbers' since, in parts.
#define SURVEYD_CLAIM_CONTEXT(incident_filter, numbers_events)                               \
  "SELECT c.outbox_id, e.event_id, COALESCE(e.incident_id, ''), e.facts::text, "             \
  "COALESCE(e.phone_hash, '') "                                                              \
  "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) "        \
  "AS c(outbox_id, event_id, incident_id, phone_hash, since) "                               \
  "CROSS JOIN LATERAL ("                                                                     \
  "SELECT event_id, incident_id, facts, phone_hash FROM events WHERE event_id = c.event_id " \
  "UNION SELECT event_id, incident_id, facts, phone_hash FROM events "                       \
  "WHERE c.incident_id <> '' AND incident_id = c.incident_id" incident_filter                \
  " "                                                                                        \
  "UNION " numbers_events ") AS e WHERE e.facts IS NOT NULL"
#define SURVEYD_CLAIM_OF_NUMBER                                  \
  "SELECT event_id, incident_id, facts, phone_hash FROM events " \
  "WHERE phone_hash = c.phone_hash AND occurred_at >= c.since"
// Of the number's events screened under the rules whose version is $6, the newest for each rule
// they could rule a contact out by (EventScreen), found in number_findings
// (SURVEYD_NUMBER_NEWEST_EVENTS).
#define SURVEYD_CLAIM_OF_NUMBER_FOUND                                                            \
  "SELECT x.event_id, x.incident_id, x.facts, x.phone_hash FROM (" SURVEYD_NUMBER_NEWEST_EVENTS( \
      "c.phone_hash", "$6", "c.since",                                                           \
      "e.event_id, e.incident_id, e.facts, e.phone_hash") ") AS x"
// The number's events screened under other rules than those whose version is $6, or none, and
// every event of the other incidents they are in: a flag there is filed under the number only
// under the rules it was screened by (as ingest reads them:
// SURVEYD_RELATED_OF_INCIDENTS_OF_ELSEWHERE). Of any age, as an event of the number however old
// puts it in its incident (migration 0046); given as the number's own within the look-back. The
// number's are read once, for both.
#define SURVEYD_CLAIM_OF_NUMBER_STALE                     \
  SURVEYD_WHERE_SCREENED_ELSEWHERE(                       \
      "SELECT event_id, incident_id, facts, phone_hash, " \
      "occurred_at >= c.since AS recent FROM events "     \
      "WHERE phone_hash = c.phone_hash",                  \
      "$6")
#define SURVEYD_CLAIM_OF_NUMBER_ELSEWHERE                                               \
  "SELECT y.event_id, y.incident_id, y.facts, y.phone_hash "                            \
  "FROM (" SURVEYD_CLAIM_OF_NUMBER_STALE                                                \
  ") AS x CROSS JOIN LATERAL (SELECT x.event_id, x.incident_id, x.facts, x.phone_hash " \
  "WHERE x.recent UNION ALL SELECT m.event_id, m.incident_id, m.facts, m.phone_hash "   \
  "FROM events m WHERE m.incident_id = x.incident_id AND x.incident_id <> c.incident_id) AS y"

// No ops hold is open (migration 0026): a claim takes nothing while one is. Evaluated once a
// statement. Reading send_holds takes the lock that HoldSends waits on, so a hold, once opened,
// follows every claim that could have missed it, and precedes every claim that follows it.
#define SURVEYD_SEND_HOLD_OPEN "EXISTS (SELECT 1 FROM send_holds h WHERE h.released_at IS NULL)"
#define SURVEYD_NO_SEND_HOLD "NOT " SURVEYD_SEND_HOLD_OPEN
// A message o that may go now as far as holds go: none is open, or it is where to get help, the
// answer to a citizen who just texted that they are in danger, which a hold lets through
// (migration 0038). A hold stops the service texting people; it must not leave that citizen
// without an answer.
#define SURVEYD_HOLD_LETS_O_GO "(o.kind = 'help' OR " SURVEYD_NO_SEND_HOLD ")"

const Statements& OutboxStatements() {
  static const Statements kStatements = {
      // Claims are fenced by a new token each time, so a worker whose claim ran out cannot
      // begin or record a send that another worker now holds. Two index scans, not one OR: the
      // claims that ran out (few), then the most recently due pending messages. The number's
      // history comes without this survey (and without surveys created after it). Leases are
      // set and read on the database's clock, never an instance's: one whose clock runs ahead
      // must not find another's claims and sends run out, nor one whose clock runs behind hand
      // out leases that have run out already.
      // The dispatcher's claim (ClaimAndBegin): the same messages, locked for its transaction
      // and not written; their outbox columns come from the locked rows themselves, the versions
      // the transaction will write. Claims that ran out were left by ClaimDue.
      // Under an ops hold only help texts are taken: the due ones by their own index (helps),
      // while the walk of every due text is not even begun (due's hold test is evaluated once,
      // before it), which during a long hold would read every text held.
      {"lock_due",
       "WITH lapsed AS (SELECT o.id, o.survey_id, o.kind, o.client_ref, o.body, o.attempts, "
       "o.expires_at, o.maybe_sent FROM outbox o JOIN surveys s ON s.id = o.survey_id "
       "WHERE o.state = 'claimed' AND o.lease_until < statement_timestamp() "
       "AND COALESCE(o.expires_at, s.expires_at) > $1::timestamptz AND " SURVEYD_HOLD_LETS_O_GO
       " ORDER BY o.lease_until "
       "LIMIT $2::int FOR UPDATE OF o SKIP LOCKED), "
       "due AS (SELECT o.id, o.survey_id, o.kind, o.client_ref, o.body, o.attempts, "
       "o.expires_at, o.maybe_sent FROM outbox o JOIN surveys s ON s.id = o.survey_id "
       "WHERE o.state = 'pending' AND o.next_attempt_at <= $1::timestamptz "
       "AND COALESCE(o.expires_at, s.expires_at) > $1::timestamptz AND " SURVEYD_NO_SEND_HOLD
       " ORDER BY o.next_attempt_at DESC LIMIT $2::int FOR UPDATE OF o SKIP LOCKED), "
       "helps AS (SELECT o.id, o.survey_id, o.kind, o.client_ref, o.body, o.attempts, "
       "o.expires_at, o.maybe_sent FROM outbox o JOIN surveys s ON s.id = o.survey_id "
       "WHERE o.state = 'pending' AND o.kind = 'help' AND o.next_attempt_at <= $1::timestamptz "
       "AND COALESCE(o.expires_at, s.expires_at) > $1::timestamptz AND " SURVEYD_SEND_HOLD_OPEN
       " ORDER BY o.next_attempt_at DESC LIMIT $2::int FOR UPDATE OF o SKIP LOCKED), "
       "picked AS (SELECT * FROM lapsed UNION ALL SELECT * FROM due UNION ALL "
       "SELECT * FROM helps LIMIT $2::int) "
       "SELECT o.id, o.survey_id, o.kind, o.client_ref, COALESCE(s.phone_enc, s.phone_e164), "
       "s.sms_template, COALESCE(o.body, ''), s.token_nonce, s.language, s.mode = 'two_way', "
       "o.attempts, surveyd_epoch_us(COALESCE(o.expires_at, s.expires_at)), 0::bigint, "
       "s.event_id, COALESCE(s.incident_id, ''), s.phone_hash, surveyd_epoch_us(s.contact_at), "
       "EXISTS (SELECT 1 FROM opt_outs x WHERE x.phone_hash = "
       "s.phone_hash), " SURVEYD_LAST_SURVEYED_BEFORE_S
       ", o.maybe_sent FROM picked o JOIN surveys s ON s.id = o.survey_id"},
      // What the dispatcher decided for the messages it holds locked, in one statement: begun
      // (a new claim token fences the recording of the answer; a survey's link goes in with it,
      // the first time), cancelled ($6 says by what), or due again later. The state is checked
      // all the same.
      {"settle_claim",
       "WITH t AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
       "$5::timestamptz[], $10::timestamptz[]) AS t(id, action, token_hash, reason, due_at, "
       "expires_at)), "
       // A survey's text deferred by quiet hours keeps the time it had left, after them, and
       // its survey stays open as long after that (ClaimOutcome::expires_at). Both sides of SET
       // read the row as it was.
       "d AS (UPDATE surveys s SET expires_at = t.expires_at, "
       "closes_at = s.closes_at + (t.expires_at - s.expires_at) FROM t, outbox o "
       "WHERE t.action = 'due' AND t.expires_at > s.expires_at AND o.id = t.id "
       "AND s.id = o.survey_id AND o.expires_at IS NULL AND o.state IN ('pending', 'claimed')), "
       "u AS (UPDATE outbox o SET state = CASE t.action WHEN 'begin' THEN 'sending' "
       "WHEN 'due' THEN 'pending' ELSE CASE WHEN o.maybe_sent THEN 'in_doubt' "
       "ELSE 'cancelled' END END, "
       "attempts = o.attempts + CASE WHEN t.action = 'begin' THEN 1 ELSE 0 END, "
       "claim_token = CASE WHEN t.action = 'begin' THEN nextval('outbox_claim_token') END, "
       "claimed_by = CASE WHEN t.action = 'begin' THEN $7 END, "
       "lease_until = CASE WHEN t.action = 'begin' "
       "THEN statement_timestamp() + make_interval(secs => $9::int) END, "
       "next_attempt_at = CASE WHEN t.action = 'due' THEN t.due_at ELSE o.next_attempt_at END, "
       "begun_at = CASE WHEN t.action = 'begin' THEN COALESCE(o.begun_at, $8::timestamptz) "
       "ELSE o.begun_at END, "
       "cancel_reason = CASE WHEN t.action = 'cancel' THEN t.reason ELSE o.cancel_reason END, "
       "cancelled_by = CASE WHEN t.action = 'cancel' THEN $6 ELSE o.cancelled_by END, "
       "updated_at = $8::timestamptz FROM t "
       "WHERE o.id = t.id AND o.state IN ('pending', 'claimed') "
       "RETURNING o.id, o.survey_id, o.attempts, o.claim_token, t.action, t.token_hash), "
       "l AS (INSERT INTO survey_links (token_hash, survey_id) SELECT token_hash, survey_id "
       "FROM u WHERE action = 'begin' AND token_hash IS NOT NULL ON CONFLICT DO NOTHING) "
       "SELECT id, attempts, claim_token FROM u WHERE action = 'begin'"},
      {"claim_due",
       "WITH lapsed AS (SELECT o.id FROM outbox o JOIN surveys s ON s.id = o.survey_id "
       "WHERE o.state = 'claimed' AND o.lease_until < statement_timestamp() "
       "AND COALESCE(o.expires_at, s.expires_at) > $1::timestamptz AND " SURVEYD_HOLD_LETS_O_GO
       " ORDER BY o.lease_until "
       "LIMIT $2::int FOR UPDATE OF o SKIP LOCKED), "
       "due AS (SELECT o.id FROM outbox o JOIN surveys s ON s.id = o.survey_id "
       "WHERE o.state = 'pending' AND o.next_attempt_at <= $1::timestamptz "
       "AND COALESCE(o.expires_at, s.expires_at) > $1::timestamptz AND " SURVEYD_HOLD_LETS_O_GO
       " ORDER BY o.next_attempt_at DESC LIMIT $2::int FOR UPDATE OF o SKIP LOCKED), "
       "picked AS (SELECT id FROM lapsed UNION ALL SELECT id FROM due LIMIT $2::int) "
       "UPDATE outbox o SET state = 'claimed', claimed_by = $3, "
       "lease_until = statement_timestamp() + make_interval(secs => $4::int), "
       "claim_token = nextval('outbox_claim_token'), updated_at = $1::timestamptz "
       "FROM picked, surveys s WHERE o.id = picked.id AND s.id = o.survey_id "
       "RETURNING o.id, o.survey_id, o.kind, o.client_ref, COALESCE(s.phone_enc, s.phone_e164), "
       "s.sms_template, "
       "COALESCE(o.body, ''), s.token_nonce, s.language, s.mode = 'two_way', o.attempts, "
       "surveyd_epoch_us(COALESCE(o.expires_at, s.expires_at)), o.claim_token, s.event_id, "
       "COALESCE(s.incident_id, ''), s.phone_hash, surveyd_epoch_us(s.contact_at), "
       "EXISTS (SELECT 1 FROM opt_outs x WHERE x.phone_hash = "
       "s.phone_hash), " SURVEYD_LAST_SURVEYED_BEFORE_S ", o.maybe_sent"},
      {"claim_number_history",
       "SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone_hash = "
       "ANY($1::text[])), " SURVEYD_LAST_SURVEYED(
           "p.phone_hash = ANY($1::text[]) AND p.id < $2::bigint")},
      // For each claimed message: its own event, its incident's and its number's recent ones.
      {"claim_context", SURVEYD_CLAIM_CONTEXT("", SURVEYD_CLAIM_OF_NUMBER)},
      // The same under a screen, whose version is $6 (EventScreen): the message's own event
      // always; its incident's when they could rule it out; its number's, the newest for each
      // rule they could; both when screened under other rules or none; and every event of the
      // incidents that those of the number are in.
      {"claim_context_screened",
       SURVEYD_CLAIM_CONTEXT(" AND (screen_hit OR screened_with IS NULL OR screened_with <> $6)",
                             SURVEYD_CLAIM_OF_NUMBER_FOUND
                             " UNION " SURVEYD_CLAIM_OF_NUMBER_ELSEWHERE)},
      // Only while each claim is this worker's and no ops hold is open; a survey's link (its
      // token's hash) goes in with it, the first time.
      {"begin_sends",
       "WITH t AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) "
       "AS t(id, token, token_hash)), "
       "b AS (UPDATE outbox o SET state = 'sending', attempts = o.attempts + 1, "
       "lease_until = statement_timestamp() + make_interval(secs => $5::int), "
       "updated_at = $4::timestamptz, "
       "begun_at = COALESCE(o.begun_at, $4::timestamptz) FROM t "
       "WHERE o.id = t.id AND o.state = 'claimed' AND o.claim_token = t.token "
       "AND " SURVEYD_HOLD_LETS_O_GO " RETURNING o.id, o.survey_id, o.attempts, t.token_hash), "
       "l AS (INSERT INTO survey_links (token_hash, survey_id) SELECT token_hash, survey_id "
       "FROM b WHERE token_hash IS NOT NULL ON CONFLICT DO NOTHING) "
       "SELECT id, attempts FROM b"},
      {"cancel",
       "UPDATE outbox o SET state = CASE WHEN o.maybe_sent THEN 'in_doubt' ELSE 'cancelled' END, "
       "cancel_reason = t.reason, cancelled_by = $2, "
       "claim_token = NULL, claimed_by = NULL, lease_until = NULL, updated_at = $3::timestamptz "
       "FROM unnest($1::bigint[], $4::text[]) AS t(id, reason) "
       "WHERE o.id = t.id AND o.state IN ('pending', 'claimed')"},
      {"recover_stale",
       "UPDATE outbox SET state = CASE WHEN $2::boolean THEN 'pending' ELSE 'in_doubt' END, "
       "next_attempt_at = $1::timestamptz, claim_token = NULL, claimed_by = NULL, "
       "lease_until = NULL, maybe_sent = true, last_error = 'the sender stopped during the "
       "request', "
       "updated_at = $1::timestamptz WHERE state = 'sending' "
       "AND lease_until < statement_timestamp()"},
      // Every attempt is kept; only the worker holding the claim (same token) moves the message,
      // and a delivery report that got there first keeps its more advanced state. The attempt's
      // time is the database's, as leases are, so that attempts of instances whose clocks
      // differ a little still compare with each other and with what was stored meanwhile. Reports
      // that came before the answer and carry only the gateway's id are matched here. A message
      // given up on (failed) one of whose requests may have reached the gateway, this one or an
      // earlier, is held in doubt instead, as a cancelled or expired one is: it may have reached
      // the handset, and its delivery reports settle it (a failed message takes none).
      {"record_attempts",
       "WITH t AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], "
       "$5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::timestamptz[], "
       "$12::boolean[], $13::boolean[]) AS t(id, token, attempt, state, result, gateway, "
       "message_id, http_status, error, next_at, maybe_sent, counts)), "
       "a AS (INSERT INTO send_attempts (outbox_id, attempt, at, gateway, gateway_message_id, "
       "http_status, result, error) SELECT id, attempt, statement_timestamp(), gateway, "
       "message_id, "
       "http_status, result, error FROM t), "
       "u AS (UPDATE outbox o SET state = CASE WHEN o.state <> 'sending' THEN o.state "
       "WHEN t.state = 'failed' AND (o.maybe_sent OR t.maybe_sent) THEN 'in_doubt' "
       "ELSE t.state END, gateway = t.gateway, "
       "attempts = o.attempts - CASE WHEN o.state = 'sending' AND NOT t.counts THEN 1 ELSE 0 END, "
       "gateway_message_id = COALESCE(t.message_id, o.gateway_message_id), "
       "next_attempt_at = CASE WHEN o.state = 'sending' AND t.state = 'pending' THEN t.next_at "
       "ELSE o.next_attempt_at END, last_error = t.error, "
       "maybe_sent = o.maybe_sent OR t.maybe_sent, claim_token = NULL, "
       "claimed_by = NULL, lease_until = NULL, updated_at = $11::timestamptz FROM t "
       "WHERE o.id = t.id AND o.claim_token = t.token "
       "RETURNING o.id, o.gateway, o.gateway_message_id) "
       "UPDATE delivery_reports d SET outbox_id = u.id FROM u WHERE d.outbox_id IS NULL "
       "AND d.gateway = u.gateway AND d.gateway_message_id = u.gateway_message_id "
       "RETURNING d.outbox_id, d.status, d.error_code, surveyd_epoch_us(d.at)"},
      // Moves messages forward, each named once (one round of AdvanceInOrder).
      {"outbox_advance",
       "UPDATE outbox o SET state = t.state, last_error = COALESCE(t.error, o.last_error), "
       "updated_at = t.at FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[]) "
       "AS t(id, state, error, at) WHERE o.id = t.id AND NOT outbox_state_final(o.state) "
       "AND outbox_state_rank(o.state) < outbox_state_rank(t.state)"},
      // Each report's message, by the service's own ref, else by the gateway's id within that
      // gateway, and every report kept, found or not: one row per report, by its place ($1..$6
      // hold one element per report; received at $7).
      {"reports_insert",
       "WITH r AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
       "$5::text[], $6::timestamptz[]) WITH ORDINALITY "
       "AS r(gateway, message_id, ref, status, error_code, at, place)), "
       "m AS (SELECT r.*, COALESCE((SELECT o.id FROM outbox o WHERE o.client_ref = r.ref), "
       "(SELECT o.id FROM outbox o WHERE o.gateway = r.gateway "
       "AND o.gateway_message_id = r.message_id ORDER BY o.id LIMIT 1)) AS outbox_id FROM r), "
       "kept AS (INSERT INTO delivery_reports (outbox_id, gateway, gateway_message_id, "
       "client_ref, status, error_code, at, received_at) SELECT outbox_id, gateway, message_id, "
       "ref, status, error_code, at, $7::timestamptz FROM m ORDER BY place) "
       "SELECT place, outbox_id FROM m ORDER BY place"},
      {"expire_overdue",
       "UPDATE outbox o SET state = CASE WHEN o.maybe_sent THEN 'in_doubt' ELSE 'expired' END, "
       "claim_token = NULL, claimed_by = NULL, "
       "lease_until = NULL, updated_at = $1::timestamptz FROM surveys s "
       "WHERE s.id = o.survey_id AND COALESCE(o.expires_at, s.expires_at) < $1::timestamptz "
       "AND (o.state = 'pending' OR (o.state = 'claimed' AND o.lease_until < "
       "statement_timestamp()))"},
      {"reschedule",
       "UPDATE outbox o SET state = 'pending', next_attempt_at = $3::timestamptz, "
       "claim_token = NULL, claimed_by = NULL, lease_until = NULL, updated_at = $4::timestamptz "
       "FROM unnest($1::bigint[], $2::bigint[]) AS t(id, token) "
       "WHERE o.id = t.id AND o.state = 'claimed' AND o.claim_token = t.token"},
      {"take_send_slots",
       "SELECT surveyd_take_send_slots($1, $2::bigint, $3::int, $4::int, $5::int)"},
      {"settle_send_slots",
       "SELECT surveyd_settle_send_slots($1, $2::bigint, $3::int, $4::bigint, $5::int)"},
      // A gateway's wait only ever moves later (migration 0044), on the database's time.
      {"hold_gateway",
       "INSERT INTO gateway_waits AS w (gateway, until, asked_s, set_at) "
       "VALUES ($1, statement_timestamp() + make_interval(secs => $2::int), $2::int, "
       "statement_timestamp()) ON CONFLICT (gateway) DO UPDATE SET until = excluded.until, "
       "asked_s = excluded.asked_s, set_at = excluded.set_at WHERE w.until < excluded.until"},
      {"gateway_hold",
       "SELECT ceil(extract(epoch FROM until - statement_timestamp()) * 1000)::bigint, asked_s "
       "FROM gateway_waits WHERE gateway = $1 AND until > statement_timestamp()"},
  };
  return kStatements;
}

}  // namespace pg

std::vector<OutboxMessage> PgStore::ClaimDue(TimePoint now, int limit, const std::string& worker,
                                             std::chrono::seconds lease,
                                             const EventScreen& screen) {
  return WithConnection("claim", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    // A claim lost in a crash of the database is simply claimed again (nothing went out), so
    // it need not wait for its commit to be flushed; BeginSends, which must, flushes it too.
    txn.exec0("SET LOCAL synchronous_commit TO off");
    UseGenericPlans(txn);
    auto messages = ReadClaimed(
        txn, Exec(txn, "claim_due", {Time(now), Int(limit), Text(worker), Int(lease.count())}),
        screen);
    txn.commit();
    return messages;
  });
}

std::vector<OutboxMessage> PgStore::ClaimAndBegin(
    TimePoint now, int limit, const std::string& worker, std::chrono::seconds lease,
    std::chrono::seconds send_lease, const EventScreen& screen, const DecideClaimFn& decide) {
  return WithConnection("claim", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    // The claim is this transaction's locks: a worker stuck deciding for longer than a lease
    // loses its session, and so the claim (the settings go with the transaction).
    txn.exec(
        "SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off; "
        "SET LOCAL idle_in_transaction_session_timeout = " +
        std::to_string(std::chrono::milliseconds(lease).count()));
    std::vector<OutboxMessage> claimed =
        ReadClaimed(txn, Exec(txn, "lock_due", {Time(now), Int(limit)}), screen);
    if (claimed.empty()) {
      txn.commit();
      return claimed;
    }
    const std::vector<ClaimOutcome> outcomes = decide(claimed);
    if (outcomes.size() != claimed.size()) {
      throw std::logic_error("ClaimAndBegin: one outcome per claimed message");
    }
    ArrayLiteral ids, actions, token_hashes, reasons, due_at, expires_at;
    for (std::size_t i = 0; i < claimed.size(); ++i) {
      const ClaimOutcome& outcome = outcomes[i];
      const char* action = nullptr;
      switch (outcome.action) {
        case ClaimOutcome::Action::kBegin:
          action = "begin";
          break;
        case ClaimOutcome::Action::kCancel:
          action = "cancel";
          break;
        case ClaimOutcome::Action::kDueAt:
          action = "due";
          break;
        case ClaimOutcome::Action::kLeave:
          continue;
      }
      ids.AddInt(claimed[i].id);
      actions.Add(action);
      token_hashes.Add(NonEmpty(outcome.token_hash));
      reasons.Add(NonEmpty(outcome.reason));
      const bool due = outcome.action == ClaimOutcome::Action::kDueAt;
      due_at.AddTime(due ? std::optional(outcome.due_at) : std::nullopt);
      expires_at.AddTime(due ? outcome.expires_at : std::nullopt);
    }
    std::unordered_map<std::int64_t, std::pair<int, std::int64_t>> begun;  // attempts, token
    if (!ids.empty()) {
      for (const auto& row : Exec(txn, "settle_claim",
                                  {ids.Text(), actions.Text(), token_hashes.Text(), reasons.Text(),
                                   due_at.Text(), Text("dispatch"), Text(worker), Time(now),
                                   Int(send_lease.count()), expires_at.Text()})) {
        begun[row[0].as<std::int64_t>()] = {row[1].as<int>(), row[2].as<std::int64_t>()};
      }
    }
    // Flushed before any request goes: a crash after it finds the texts `sending`, never
    // unsent and forgotten.
    txn.commit();
    std::vector<OutboxMessage> sending;
    sending.reserve(begun.size());
    for (auto& message : claimed) {
      const auto it = begun.find(message.id);
      if (it == begun.end()) continue;
      message.attempts = it->second.first;
      message.claim_token = it->second.second;
      sending.push_back(std::move(message));
    }
    return sending;
  });
}

std::vector<OutboxMessage> PgStore::ReadClaimed(pqxx::transaction_base& txn,
                                                const pqxx::result& rows,
                                                const EventScreen& screen) {
  std::vector<OutboxMessage> messages;
  messages.reserve(rows.size());
  ArrayLiteral ids, event_ids, incident_ids, hashes, since;
  std::unordered_map<std::int64_t, std::size_t> index;
  // What each message's decision reads: its survey's event, incident and number (hash), and
  // how far back the number's events count.
  struct Own {
    std::string event_id, incident_id, phone_hash;
    TimePoint since;
    std::vector<std::string> other_keys;  // its number's hashes under other keys, while rotating
  };
  std::vector<Own> own;  // by message
  for (const auto& row : rows) {
    OutboxMessage message;
    message.id = row[kId].as<std::int64_t>();
    message.survey_id = row[kSurveyId].as<std::int64_t>();
    message.kind = ParseMessageKind(row[kKind].as<std::string>()).value_or(MessageKind::kSurvey);
    message.client_ref = row[kClientRef].as<std::string>();
    // Opened here, the one place that sees it in clear. A number that does not open (its key
    // left the ring, or the row was tampered with) or was erased is no number: the
    // re-decision rules a survey text out, and the dispatcher sends nothing without one.
    if (auto number = vault_.Open(
            row[kPhone].is_null() ? std::nullopt : std::optional(row[kPhone].as<std::string>()),
            kSurveyPhone)) {
      message.to_e164 = std::move(*number);
    } else if (!row[kPhone].is_null()) {
      spdlog::error(
          "store: the number of survey {} does not open with privacy.phone_keys; "
          "its text will be ruled out",
          message.survey_id);
    }
    message.sms_template = row[kTemplate].as<std::string>();
    message.body = row[kBody].as<std::string>();
    message.token_nonce = row[kNonce].as<std::string>();
    message.language = row[kLanguage].as<std::string>();
    message.two_way = row[kTwoWay].as<bool>();
    message.attempts = row[kAttempts].as<int>();
    message.expires_at = pg::FromEpochMicros(row[kExpiresAt].as<std::int64_t>());
    message.claim_token = row[kClaimToken].as<std::int64_t>();
    message.maybe_sent = row[kMaybeSent].as<bool>();
    message.history.opted_out = row[kOptedOut].as<bool>();
    if (!row[kLastSurveyed].is_null()) {
      message.history.last_surveyed_at = pg::FromEpochMicros(row[kLastSurveyed].as<std::int64_t>());
    }
    // A confirmation or a help text is not decided again: it answers the citizen's own text
    // (a confirmation goes to a number opted out by design).
    const Own& mine = own.emplace_back(
        Own{row[kEventId].as<std::string>(), row[kIncidentId].as<std::string>(),
            row[kPhoneHash].is_null() ? std::string() : row[kPhoneHash].as<std::string>(),
            pg::FromEpochMicros(row[kContactAt].as<std::int64_t>()) - kMaxNumberLookback});
    if (DecidedAgain(message.kind)) {
      index[message.id] = messages.size();
      ids.AddInt(message.id);
      event_ids.Add(mine.event_id);
      incident_ids.Add(mine.incident_id);
      hashes.Add(mine.phone_hash);
      since.AddTime(mine.since);
    }
    messages.push_back(std::move(message));
  }
  if (vault_.rotating_hash_key()) {
    // While a hash key is rotated out, the number's opt-out, surveys and events may carry a hash
    // made with the old key: look them up under every key. Its events under another key come
    // as more rows of the context below, with no incident (its own come once).
    for (std::size_t i = 0; i < messages.size(); ++i) {
      OutboxMessage& message = messages[i];
      if (message.to_e164.empty()) continue;
      ArrayLiteral all;
      const auto at = index.find(message.id);
      for (const auto& hash : vault_.Hashes(message.to_e164)) {
        all.Add(hash);
        if (hash == own[i].phone_hash) continue;
        own[i].other_keys.push_back(hash);
        if (at == index.end()) continue;  // not decided again
        ids.AddInt(message.id);
        event_ids.Add(own[i].event_id);
        incident_ids.Add("");
        hashes.Add(hash);
        since.AddTime(own[i].since);
      }
      const auto row = Exec(txn, "claim_number_history", {all.Text(), Int(message.survey_id)})[0];
      message.history.opted_out = message.history.opted_out || row[0].as<bool>();
      if (!row[1].is_null()) {
        const TimePoint last = pg::FromEpochMicros(row[1].as<std::int64_t>());
        if (!message.history.last_surveyed_at || *message.history.last_surveyed_at < last) {
          message.history.last_surveyed_at = last;
        }
      }
    }
  }
  // Whether a hash is the message i's number's: its own, or, while a hash key is rotated out,
  // made with another key.
  const auto own_number = [&](std::size_t i, const std::string& hash) {
    const auto& others = own[i].other_keys;
    return hash == own[i].phone_hash ||
           std::find(others.begin(), others.end(), hash) != others.end();
  };
  if (!index.empty()) {
    std::set<std::size_t> unreadable;
    Params context = {ids.Text(), event_ids.Text(), incident_ids.Text(), hashes.Text(),
                      since.Text()};
    if (!screen.version.empty()) context.push_back(Text(screen.version));
    for (const auto& row :
         Exec(txn, screen.version.empty() ? "claim_context" : "claim_context_screened", context)) {
      const std::size_t i = index.at(row[0].as<std::int64_t>());
      auto json = nlohmann::json::parse(row[3].as<std::string>(), nullptr, false);
      auto event = json.is_discarded() ? std::nullopt : EventFromJson(json).event;
      OutboxMessage& message = messages[i];
      if (!event) {
        // Written by this store from a parsed event, so never expected; but what cannot be
        // read cannot be decided: the text is never sent.
        spdlog::error("store: stored event {} of message {} cannot be read",
                      row[1].as<std::string>(), message.id);
        unreadable.insert(i);
        continue;
      }
      const std::string event_id = row[1].as<std::string>();
      if (event_id == own[i].event_id) {
        // The rules check the number too: put back the one the text goes to.
        if (!event->caller) event->caller = Caller{};
        event->caller->phone = message.to_e164;
        message.event = std::move(event);
      } else if (!own[i].incident_id.empty() && row[2].as<std::string>() == own[i].incident_id) {
        message.related.same_incident.push_back(std::move(*event));
      } else if (const std::string hash = row[4].as<std::string>();
                 !hash.empty() && !own_number(i, hash)) {
        // Another caller's, of an incident the number is in: not their age, consent or
        // vulnerability (as ingest's RelatedPool gives it).
        message.related.number_incidents_others.push_back(std::move(*event));
      } else {
        message.related.same_number.push_back(std::move(*event));
      }
    }
    for (std::size_t i : unreadable) messages[i].event.reset();
    for (auto& message : messages) SortByTime(message.related);
  }
  std::sort(messages.begin(), messages.end(),
            [](const OutboxMessage& a, const OutboxMessage& b) { return a.id < b.id; });
  return messages;
}

std::vector<int> PgStore::BeginSends(const std::vector<SendStart>& starts, TimePoint now,
                                     std::chrono::seconds send_lease) {
  std::vector<int> attempts(starts.size(), 0);
  if (starts.empty()) return attempts;
  ArrayLiteral ids, tokens, token_hashes;
  for (const SendStart& start : starts) {
    ids.AddInt(start.message_id);
    tokens.AddInt(start.claim_token);
    token_hashes.Add(start.token_hash.empty() ? std::nullopt
                                              : std::optional<std::string_view>(start.token_hash));
  }
  auto rows = WithConnection("begin sends", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    auto result =
        Exec(txn, "begin_sends",
             {ids.Text(), tokens.Text(), token_hashes.Text(), Time(now), Int(send_lease.count())});
    txn.commit();
    return result;
  });
  std::unordered_map<std::int64_t, int> begun;
  for (const auto& row : rows) begun[row[0].as<std::int64_t>()] = row[1].as<int>();
  for (std::size_t i = 0; i < starts.size(); ++i) {
    if (auto it = begun.find(starts[i].message_id); it != begun.end()) attempts[i] = it->second;
  }
  return attempts;
}

void PgStore::Cancel(const std::vector<Cancellation>& cancellations, const std::string& by,
                     TimePoint now) {
  if (cancellations.empty()) return;
  ArrayLiteral ids, reasons;
  for (const Cancellation& c : cancellations) {
    ids.AddInt(c.message_id);
    reasons.Add(c.reason);
  }
  WithConnection("cancel", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    Exec(txn, "cancel", {ids.Text(), Text(by), Time(now), reasons.Text()});
    txn.commit();
    return 0;
  });
}

int PgStore::RecoverStale(TimePoint now, bool resend_safe) {
  return WithConnection("recover", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    auto result = Exec(txn, "recover_stale", {Time(now), resend_safe ? "true" : "false"});
    txn.commit();
    return static_cast<int>(result.affected_rows());
  });
}

void PgStore::RecordAttempts(const std::vector<Attempt>& attempts, TimePoint now) {
  if (attempts.empty()) return;
  ArrayLiteral ids, tokens, numbers, states, results, gateways, message_ids, statuses, errors,
      next_at, maybe_sent, counts;
  for (const Attempt& a : attempts) {
    ids.AddInt(a.message_id);
    tokens.AddInt(a.claim_token);
    numbers.AddInt(a.attempt);
    states.Add(OutboxStateFor(a.record.state));
    results.Add(SendStateName(a.record.state));
    gateways.Add(a.record.gateway);
    message_ids.Add(NonEmpty(a.record.gateway_message_id));
    statuses.AddInt(a.record.http_status != 0 ? std::optional<std::int64_t>(a.record.http_status)
                                              : std::nullopt);
    errors.Add(NonEmpty(a.record.error));
    next_at.AddTime(a.record.state == SendState::kRetry ? std::optional(a.record.next_attempt_at)
                                                        : std::nullopt);
    maybe_sent.Add(a.record.maybe_sent ? "true" : "false");
    counts.Add(a.record.counts_attempt ? "true" : "false");
  }
  WithConnection("record attempts", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    // Not flushed before the worker goes on: an answer lost in a crash of the database leaves
    // its message `sending`, which RecoverStale settles as for a sender that died mid-request
    // (resent with the same client_ref, or held in doubt for the delivery reports, which find
    // the message by the service's own ref).
    txn.exec0("SET LOCAL synchronous_commit TO off");
    // Reports that came before these answers could only be kept aside; apply them now.
    auto early = Exec(txn, "record_attempts",
                      {ids.Text(), tokens.Text(), numbers.Text(), states.Text(), results.Text(),
                       gateways.Text(), message_ids.Text(), statuses.Text(), errors.Text(),
                       next_at.Text(), Time(now), maybe_sent.Text(), counts.Text()});
    std::vector<Advancement> advancements;
    for (const auto& row : early) {
      const auto state = ParseDeliveryState(row[1].as<std::string>());
      if (!state) continue;
      advancements.push_back({row[0].as<std::int64_t>(), *state,
                              row[2].is_null() ? std::nullopt : Param(row[2].as<std::string>()),
                              pg::FromEpochMicros(row[3].as<std::int64_t>())});
    }
    AdvanceInOrder(txn, advancements);
    txn.commit();
    return 0;
  });
}

void PgStore::Reschedule(const std::vector<OutboxMessage>& messages, TimePoint next_attempt_at) {
  if (messages.empty()) return;
  ArrayLiteral ids, tokens;
  for (const OutboxMessage& m : messages) {
    ids.AddInt(m.id);
    tokens.AddInt(m.claim_token);
  }
  WithConnection("reschedule", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    Exec(txn, "reschedule", {ids.Text(), tokens.Text(), Time(next_attempt_at), Time(WallClock())});
    txn.commit();
    return 0;
  });
}

int PgStore::ExpireOverdue(TimePoint now) {
  return WithConnection("expire", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    auto result = Exec(txn, "expire_overdue", {Time(now)});
    txn.commit();
    return static_cast<int>(result.affected_rows());
  });
}

bool PgStore::ApplyDeliveryReport(const DeliveryReport& report) {
  return ApplyDeliveryReports({report}).front();
}

std::vector<bool> PgStore::ApplyDeliveryReports(const std::vector<DeliveryReport>& reports) {
  if (reports.empty()) return {};
  // Reports come in bursts from many connections at once: they share transactions.
  return reports_.Submit(reports, [this](const std::vector<DeliveryReport>& group) {
    return ApplyDeliveryReportsNow(group);
  });
}

std::vector<bool> PgStore::ApplyDeliveryReportsNow(const std::vector<DeliveryReport>& reports) {
  pg::ArrayLiteral gateways, message_ids, refs, statuses, error_codes, ats;
  for (const DeliveryReport& report : reports) {
    gateways.Add(report.gateway);
    message_ids.Add(NonEmpty(report.gateway_message_id));
    refs.Add(NonEmpty(report.message_ref));
    statuses.Add(DeliveryStateName(report.state));
    error_codes.Add(NonEmpty(report.error_code));
    ats.AddTime(report.at);
  }
  return WithConnection("delivery reports", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    // A few statements for the whole group, not three a report: found and kept in one, then
    // the messages moved on (AdvanceInOrder).
    const auto found = Exec(txn, "reports_insert",
                            {gateways.Text(), message_ids.Text(), refs.Text(), statuses.Text(),
                             error_codes.Text(), ats.Text(), Time(WallClock())});
    std::vector<bool> matched(reports.size(), false);
    std::vector<Advancement> advancements;
    for (const auto& row : found) {
      const auto place = row[0].as<std::size_t>();
      if (row[1].is_null() || place < 1 || place > reports.size()) continue;
      const DeliveryReport& report = reports[place - 1];
      matched[place - 1] = true;
      advancements.push_back(
          {row[1].as<std::int64_t>(), report.state, NonEmpty(report.error_code), report.at});
    }
    AdvanceInOrder(txn, advancements);
    txn.commit();
    return matched;
  });
}

void PgStore::AdvanceInOrder(pqxx::transaction_base& txn,
                             const std::vector<Advancement>& advancements) {
  // One statement cannot move a row twice and see its own first move, so a message named more
  // than once goes through its reports in rounds: the first of each message's in the first
  // statement, the second in the next, and so on, each seeing what the one before wrote. Rows
  // are named in id order within a round, as any other group of reports names them.
  std::unordered_map<std::int64_t, std::size_t> named;
  std::vector<std::vector<const Advancement*>> rounds;
  for (const Advancement& advancement : advancements) {
    const std::size_t round = named[advancement.outbox_id]++;
    if (round == rounds.size()) rounds.emplace_back();
    rounds[round].push_back(&advancement);
  }
  for (auto& round : rounds) {
    std::sort(round.begin(), round.end(), [](const Advancement* a, const Advancement* b) {
      return a->outbox_id < b->outbox_id;
    });
    pg::ArrayLiteral ids, states, errors, ats;
    for (const Advancement* advancement : round) {
      const DeliveryState state = advancement->state;
      const std::string target = OutboxStateFor(state);
      // A failure is named as the network gave it, or by the state itself.
      Param error = std::nullopt;
      if (state == DeliveryState::kFailed || state == DeliveryState::kUndeliverable ||
          state == DeliveryState::kExpired) {
        error = advancement->error_code ? advancement->error_code : Param(target);
      }
      ids.AddInt(advancement->outbox_id);
      states.Add(target);
      errors.Add(error);
      ats.AddTime(advancement->at);
    }
    Exec(txn, "outbox_advance", {ids.Text(), states.Text(), errors.Text(), ats.Text()});
  }
}

int PgStore::TakeSendSlots(const std::string& gateway, std::int64_t bucket, int wanted, int cap,
                           int span) {
  return WithConnection("take send slots", [&](pqxx::connection& connection) {
    // One statement in a transaction of its own, so the gateway's lock is released as it ends,
    // not a round trip later; the function turns synchronous commit off (migration 0017).
    pqxx::nontransaction txn(connection);
    auto rows = Exec(txn, "take_send_slots",
                     {Text(gateway), Int(bucket), Int(wanted), Int(cap), Int(span)});
    return rows[0][0].as<int>();
  });
}

void PgStore::SettleSendSlots(const std::string& gateway, std::int64_t granted_bucket, int granted,
                              std::int64_t sent_bucket, int sent) {
  if (granted <= 0 || (sent == granted && sent_bucket == granted_bucket)) return;
  WithConnection("settle send slots", [&](pqxx::connection& connection) {
    pqxx::nontransaction txn(connection);
    Exec(txn, "settle_send_slots",
         {Text(gateway), Int(granted_bucket), Int(granted), Int(sent_bucket), Int(sent)});
    return 0;
  });
}

void PgStore::HoldGateway(const std::string& gateway, std::chrono::seconds wait) {
  if (wait <= std::chrono::seconds(0)) return;
  WithConnection("hold gateway", [&](pqxx::connection& connection) {
    // Like the rate's slots: nothing is sent on the strength of it, so it need not wait for
    // the disk.
    pqxx::work txn(connection);
    txn.exec0("SET LOCAL synchronous_commit TO off");
    Exec(txn, "hold_gateway", {Text(gateway), Int(wait.count())});
    txn.commit();
    return 0;
  });
}

std::optional<OutboxStore::GatewayWait> PgStore::GatewayHold(const std::string& gateway) {
  return WithConnection("read gateway hold", [&](pqxx::connection& connection) {
    pqxx::nontransaction txn(connection);
    const auto rows = Exec(txn, "gateway_hold", {Text(gateway)});
    std::optional<GatewayWait> wait;
    if (!rows.empty()) {
      wait = GatewayWait{std::chrono::milliseconds(rows[0][0].as<std::int64_t>()),
                         std::chrono::seconds(rows[0][1].as<int>())};
    }
    return wait;
  });
}

namespace {

// Keeps the earliest due time the notifications name. The payload is the earliest
// next_attempt_at of the rows an INSERT queued, in microseconds since the epoch (migration 0013);
// one without it (an older instance's trigger) means due now.
class Notified final : public pqxx::notification_receiver {
 public:
  Notified(pqxx::connection_base& connection, std::optional<TimePoint>& due)
      : pqxx::notification_receiver(connection, "surveyd_outbox"), due_(due) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override {
    std::int64_t micros = 0;
    const char* end = payload.data() + payload.size();
    const auto [at, error] = std::from_chars(payload.data(), end, micros);
    const TimePoint due = error == std::errc() && at == end && !payload.empty()
                              ? pg::FromEpochMicros(micros)
                              : TimePoint{};
    if (!due_ || due < *due_) due_ = due;
  }

 private:
  std::optional<TimePoint>& due_;
};

// LISTEN on a connection of its own, opened again after it breaks.
class PgOutboxListener final : public OutboxListener {
 public:
  explicit PgOutboxListener(std::string url) : url_(std::move(url)) {}

  std::optional<TimePoint> Wait(std::chrono::milliseconds timeout) override {
    try {
      if (!connection_) {
        connection_ = Connect(url_);
        receiver_ = std::make_unique<Notified>(*connection_, due_);
      }
      due_.reset();
      connection_->get_notifs();
      if (!due_) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
        connection_->await_notification(static_cast<long>(us / 1000000),
                                        static_cast<long>(us % 1000000));
      }
      return due_;
    } catch (const pqxx::pqxx_exception&) {
      receiver_.reset();
      connection_.reset();
      throw Unavailable("outbox listener: database connection lost");
    }
  }

 private:
  const std::string url_;
  std::optional<TimePoint> due_;
  std::unique_ptr<pqxx::connection> connection_;
  std::unique_ptr<Notified> receiver_;
};

}  // namespace

std::unique_ptr<OutboxListener> MakeOutboxListener(const std::string& url) {
  return std::make_unique<PgOutboxListener>(url);
}

}  // namespace surveyd::store
