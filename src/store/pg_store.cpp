#include <spdlog/spdlog.h>
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "store/connection_pool.hpp"
#include "store/pg_text.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/store/pg_store.hpp"
#include "surveyd/survey/token.hpp"

namespace surveyd::store {

namespace {

using pg::ArrayLiteral;
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

Param Text(const std::string& value) { return pg::CleanText(value); }
Param NonEmpty(std::string_view value) {
  return value.empty() ? std::nullopt : Param(pg::CleanText(value));
}
Param Int(std::int64_t value) { return std::to_string(value); }
Param Time(TimePoint value) { return pg::FormatTimestamp(value); }
Param Time(const std::optional<TimePoint>& value) { return value ? Time(*value) : std::nullopt; }

// Every statement, prepared on each connection of the pool. Parameters are passed as text and
// cast in SQL; timestamps are read back as surveyd_epoch_us() so that nothing is rounded.
const std::vector<std::pair<const char*, const char*>>& Statements() {
  static const std::vector<std::pair<const char*, const char*>> kStatements = {
      {"ingest_rejected",
       "INSERT INTO rejected_events (event_id, source, seq, reject_reason, raw, received_at) "
       "SELECT t.*, $1::timestamptz FROM unnest($2::text[], $3::text[], $4::bigint[], "
       "$5::text[], $6::text[]) AS t"},
      // Events go in with their decisions (NULL for those already stored), so that no row is
      // written twice. A later delivery of a stored event only counts itself; (xmax = 0) tells
      // a fresh insert from a conflict.
      {"ingest_events",
       "INSERT INTO events (event_id, source, seq, type, occurred_at, duplicates, raw, "
       "decision, decision_reason, decision_group, decision_trace, received_at) "
       "SELECT t.id, t.source, t.seq, t.type, t.occurred_at, t.duplicates, t.raw, t.decision, "
       "t.reason, t.grp, t.trace::jsonb, $1::timestamptz FROM unnest($2::text[], $3::text[], "
       "$4::bigint[], $5::text[], $6::timestamptz[], $7::int[], $8::text[], $9::text[], "
       "$10::text[], $11::text[], $12::text[]) "
       "AS t(id, source, seq, type, occurred_at, duplicates, raw, decision, reason, grp, trace) "
       "ON CONFLICT (event_id) DO UPDATE "
       "SET duplicates = events.duplicates + excluded.duplicates + 1 "
       "RETURNING event_id, (xmax = 0) AS inserted"},
      {"events_stored", "SELECT event_id FROM events WHERE event_id = ANY($1::text[])"},
      // The subquery's ORDER BY fixes the order in which the locks are taken, so that two
      // batches sharing numbers cannot deadlock.
      {"lock_phones",
       "SELECT count(pg_advisory_xact_lock(k)) FROM "
       "(SELECT DISTINCT k FROM unnest($1::bigint[]) AS t(k) ORDER BY k) AS sorted"},
      {"phone_history",
       "SELECT h, EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone_hash = h), "
       "(SELECT surveyd_epoch_us(max(s.contact_at)) FROM surveys s WHERE s.phone_hash = h) "
       "FROM unnest($1::text[]) AS t(h)"},
      {"ingest_surveys",
       "WITH s AS (INSERT INTO surveys (event_id, group_id, language, phone_e164, phone_hash, "
       "event_type, channel, incident_type_code, incident_category, incident_grade, npu, beat, "
       "postcode_district, handler_id, handler_team, officer_id, department, caller_role, "
       "caller_age_band, caller_gender, caller_ethnicity, contact_at, send_at, expires_at, "
       "sms_template, token_nonce, closes_at, created_at) "
       "SELECT t.*, $1::timestamptz FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], "
       "$6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "
       "$13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], "
       "$19::text[], $20::text[], $21::text[], $22::text[], $23::timestamptz[], "
       "$24::timestamptz[], $25::timestamptz[], $26::text[], $27::text[], $28::timestamptz[]) AS t "
       "RETURNING id, send_at) "
       "INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, updated_at) "
       "SELECT id, 'svy-' || id || '-' || substr(md5(random()::text), 1, 8), 'pending', "
       "send_at, $1::timestamptz FROM s"},
      {"feed_cursor_set",
       "INSERT INTO feed_cursors (feed, seq, updated_at) VALUES ($1, $2::bigint, $3) "
       "ON CONFLICT (feed) DO UPDATE SET seq = GREATEST(feed_cursors.seq, excluded.seq), "
       "updated_at = excluded.updated_at"},
      {"feed_cursor_get", "SELECT seq FROM feed_cursors WHERE feed = $1"},
      {"claim_due",
       "WITH due AS (SELECT o.id FROM outbox o JOIN surveys s ON s.id = o.survey_id "
       "WHERE ((o.state = 'pending' AND o.next_attempt_at <= $1::timestamptz) "
       "OR (o.state = 'sending' AND o.lease_until < $1::timestamptz)) "
       "AND s.expires_at > $1::timestamptz "
       "ORDER BY o.next_attempt_at LIMIT $2::int FOR UPDATE OF o SKIP LOCKED) "
       "UPDATE outbox o SET state = 'sending', claimed_by = $3, lease_until = $4::timestamptz, "
       "attempts = o.attempts + 1, updated_at = $1::timestamptz "
       "FROM due, surveys s WHERE o.id = due.id AND s.id = o.survey_id "
       "RETURNING o.id, o.survey_id, o.client_ref, s.phone_e164, s.sms_template, "
       "s.token_nonce, o.attempts, surveyd_epoch_us(s.expires_at)"},
      {"attempt_insert",
       "INSERT INTO send_attempts (outbox_id, attempt, at, gateway, gateway_message_id, "
       "http_status, result, error) VALUES ($1::bigint, $2::int, $3::timestamptz, $4, $5, "
       "$6::int, $7, $8)"},
      // Only the worker holding the current claim (same attempt number) moves the message;
      // a delivery report that got there first keeps its more advanced state.
      {"attempt_update",
       "UPDATE outbox SET state = CASE WHEN state = 'sending' THEN $3 ELSE state END, "
       "gateway = $4, gateway_message_id = COALESCE($5, gateway_message_id), "
       "next_attempt_at = CASE WHEN state = 'sending' AND $3 = 'pending' "
       "THEN $6::timestamptz ELSE next_attempt_at END, "
       "last_error = $7, claimed_by = NULL, lease_until = NULL, updated_at = $8::timestamptz "
       "WHERE id = $1::bigint AND attempts = $2::int RETURNING state"},
      {"token_hash_set",
       "UPDATE surveys SET token_hash = $2 WHERE id = $1::bigint AND token_hash IS NULL"},
      {"reports_claim_unmatched",
       "UPDATE delivery_reports SET outbox_id = $1::bigint "
       "WHERE outbox_id IS NULL AND gateway_message_id = $2 RETURNING status, error_code"},
      {"outbox_advance",
       "UPDATE outbox SET state = $2, last_error = COALESCE($3, last_error), "
       "updated_at = $4::timestamptz WHERE id = $1::bigint AND NOT outbox_state_final(state) "
       "AND outbox_state_rank(state) < outbox_state_rank($2)"},
      {"outbox_by_message_id",
       "SELECT id FROM outbox WHERE gateway_message_id = $1 ORDER BY id LIMIT 1"},
      {"outbox_by_client_ref", "SELECT id FROM outbox WHERE client_ref = $1"},
      {"report_insert",
       "INSERT INTO delivery_reports (outbox_id, gateway, gateway_message_id, client_ref, "
       "status, error_code, at) VALUES ($1::bigint, $2, $3, $4, $5, $6, $7::timestamptz)"},
      {"expire_overdue",
       "UPDATE outbox o SET state = 'expired', claimed_by = NULL, lease_until = NULL, "
       "updated_at = $1::timestamptz FROM surveys s WHERE s.id = o.survey_id "
       "AND s.expires_at < $1::timestamptz AND (o.state = 'pending' "
       "OR (o.state = 'sending' AND o.lease_until < $1::timestamptz))"},
      {"reschedule",
       "UPDATE outbox SET state = 'pending', next_attempt_at = $2::timestamptz, "
       "claimed_by = NULL, lease_until = NULL, updated_at = now() "
       "WHERE id = $1::bigint AND state IN ('pending', 'sending')"},
      {"lock_phone", "SELECT pg_advisory_xact_lock($1::bigint)"},
      {"opt_out_insert",
       "INSERT INTO opt_outs (phone_hash, source, at) VALUES ($1, $2, $3::timestamptz) "
       "ON CONFLICT (phone_hash) DO NOTHING"},
      {"opt_out_cancel",
       "UPDATE outbox o SET state = 'cancelled', updated_at = $2::timestamptz FROM surveys s "
       "WHERE s.id = o.survey_id AND s.phone_hash = $1 AND o.state = 'pending'"},
      {"survey_phone_hash", "SELECT phone_hash FROM surveys WHERE id = $1::bigint"},
      {"survey_by_token",
       "SELECT id, group_id, language, event_type, channel, surveyd_epoch_us(contact_at), "
       "surveyd_epoch_us(closes_at), responded_at IS NOT NULL, surveyd_epoch_us(opened_at) "
       "FROM surveys WHERE token_hash = $1"},
      {"mark_opened",
       "UPDATE surveys SET opened_at = $2::timestamptz WHERE id = $1::bigint "
       "AND opened_at IS NULL"},
      {"submit_check",
       "SELECT surveyd_epoch_us(closes_at), responded_at IS NOT NULL FROM surveys "
       "WHERE id = $1::bigint FOR UPDATE"},
      {"submit_insert",
       "INSERT INTO responses (survey_id, q1, q2, q3, q4, q5, comment, language, submitted_at) "
       "VALUES ($1::bigint, $2::smallint, $3::smallint, $4::smallint, $5::smallint, "
       "$6::smallint, $7, $8, $9::timestamptz) ON CONFLICT (survey_id) DO NOTHING"},
      {"submit_mark", "UPDATE surveys SET responded_at = $2::timestamptz WHERE id = $1::bigint"},
      // Filters: $1 from (inclusive), $2 to (exclusive), $3 survey group; NULL means any.
      {"funnel_events",
       "SELECT count(*), COALESCE(sum(duplicates), 0), "
       "count(*) FILTER (WHERE decision = 'ignored'), "
       "count(*) FILTER (WHERE decision = 'excluded') FROM events "
       "WHERE ($1::timestamptz IS NULL OR occurred_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR occurred_at < $2::timestamptz) "
       "AND ($3::text IS NULL OR decision_group = $3::text)"},
      {"funnel_excluded",
       "SELECT COALESCE(decision_reason, ''), count(*) FROM events WHERE decision = 'excluded' "
       "AND ($1::timestamptz IS NULL OR occurred_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR occurred_at < $2::timestamptz) "
       "AND ($3::text IS NULL OR decision_group = $3::text) GROUP BY 1"},
      {"funnel_rejected",
       "SELECT count(*) FROM rejected_events "
       "WHERE ($1::timestamptz IS NULL OR received_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR received_at < $2::timestamptz) "
       "AND $3::text IS NULL"},
      {"funnel_surveys",
       "SELECT count(*), "
       "count(*) FILTER (WHERE o.state IN ('accepted', 'sent', 'delivered')), "
       "count(*) FILTER (WHERE o.state = 'delivered'), "
       "count(*) FILTER (WHERE o.state = 'failed'), "
       "count(*) FILTER (WHERE o.state = 'expired'), "
       "count(*) FILTER (WHERE o.state IN ('pending', 'sending', 'in_doubt')), "
       "count(s.opened_at), count(s.responded_at) "
       "FROM surveys s LEFT JOIN outbox o ON o.survey_id = s.id "
       "WHERE ($1::timestamptz IS NULL OR s.contact_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR s.contact_at < $2::timestamptz) "
       "AND ($3::text IS NULL OR s.group_id = $3::text)"},
      {"question_stats",
       "SELECT count(r.q1), COALESCE(avg(r.q1), 0)::float8, count(*) FILTER (WHERE r.q1 >= 8), "
       "count(r.q2), COALESCE(avg(r.q2), 0)::float8, count(*) FILTER (WHERE r.q2 >= 8), "
       "count(r.q3), COALESCE(avg(r.q3), 0)::float8, count(*) FILTER (WHERE r.q3 >= 8), "
       "count(r.q4), COALESCE(avg(r.q4), 0)::float8, count(*) FILTER (WHERE r.q4 >= 8), "
       "count(r.q5), COALESCE(avg(r.q5), 0)::float8, count(*) FILTER (WHERE r.q5 >= 8) "
       "FROM responses r JOIN surveys s ON s.id = r.survey_id "
       "WHERE ($1::timestamptz IS NULL OR s.contact_at >= $1::timestamptz) "
       "AND ($2::timestamptz IS NULL OR s.contact_at < $2::timestamptz) "
       "AND ($3::text IS NULL OR s.group_id = $3::text)"},
      {"ping", "SELECT 1"},
  };
  return kStatements;
}

pqxx::result Exec(pqxx::transaction_base& txn, const char* statement, const Params& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
  return txn.exec_prepared(statement, pqxx::prepare::make_dynamic_params(values));
}

// An advisory lock key for a phone hash: its first 64 bits.
std::int64_t LockKey(const std::string& phone_hash) {
  std::uint64_t key = 0;
  for (std::size_t i = 0; i < 16 && i < phone_hash.size(); ++i) {
    const char c = phone_hash[i];
    const std::uint64_t digit = c >= '0' && c <= '9'   ? static_cast<std::uint64_t>(c - '0')
                                : c >= 'a' && c <= 'f' ? static_cast<std::uint64_t>(c - 'a' + 10)
                                : c >= 'A' && c <= 'F' ? static_cast<std::uint64_t>(c - 'A' + 10)
                                                       : 0;
    key = key << 4 | digit;
  }
  return static_cast<std::int64_t>(key);
}

std::optional<std::string> AgeBand(const std::optional<int>& age) {
  if (!age || *age < 0 || *age > 130) return std::nullopt;
  if (*age < 18) return "under_18";
  if (*age < 25) return "18-24";
  if (*age < 35) return "25-34";
  if (*age < 45) return "35-44";
  if (*age < 55) return "45-54";
  if (*age < 65) return "55-64";
  if (*age < 75) return "65-74";
  return "75+";
}

// The outbox state a gateway's delivery status moves a message to; nullopt: no state change.
std::optional<std::string> TargetState(const std::string& status) {
  if (status == "delivered") return "delivered";
  if (status == "sent") return "sent";
  if (status == "accepted" || status == "queued" || status == "buffered") return "accepted";
  if (status == "failed" || status == "undeliverable" || status == "expired" ||
      status == "rejected") {
    return "failed";
  }
  return std::nullopt;
}

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

TimePoint WallClock() {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

Params FilterParams(const StatsFilter& filter) {
  return {Time(filter.from), Time(filter.to), filter.group ? Text(*filter.group) : std::nullopt};
}

// The columns of the surveys decided in one batch, as arrays for unnest().
struct SurveyColumns {
  ArrayLiteral event_id, group_id, language, phone_e164, phone_hash, event_type, channel, type_code,
      category, grade, npu, beat, postcode_district, handler_id, handler_team, officer_id,
      department, caller_role, caller_age_band, caller_gender, caller_ethnicity, contact_at,
      send_at, expires_at, sms_template, token_nonce, closes_at;

  void Add(const Event& event, const Decision& decision, const std::string& e164,
           const std::string& hash) {
    event_id.Add(event.event_id);
    group_id.Add(decision.group);
    language.Add(decision.language.empty() ? std::string("en") : decision.language);
    phone_e164.Add(e164);
    phone_hash.Add(hash);
    event_type.Add(EventTypeName(event.type));
    channel.Add(event.call ? event.call->channel : std::nullopt);
    type_code.Add(event.incident.type_code);
    category.Add(event.incident.category);
    grade.Add(event.incident.grade);
    npu.Add(event.incident.location.npu);
    beat.Add(event.incident.location.beat);
    postcode_district.Add(event.incident.location.postcode_district);
    handler_id.Add(event.call ? event.call->handler_id : std::nullopt);
    handler_team.Add(event.call ? event.call->handler_team : std::nullopt);
    officer_id.Add(event.resource ? event.resource->officer_id : std::nullopt);
    department.Add(event.resource ? event.resource->department : std::nullopt);
    caller_role.Add(event.caller ? event.caller->role : std::nullopt);
    caller_age_band.Add(event.caller ? AgeBand(event.caller->age) : std::nullopt);
    caller_gender.Add(event.caller ? event.caller->gender : std::nullopt);
    caller_ethnicity.Add(event.caller ? event.caller->ethnicity : std::nullopt);
    contact_at.AddTime(event.occurred_at);
    send_at.AddTime(decision.send_at);
    expires_at.AddTime(decision.expires_at);
    sms_template.Add(decision.sms_template);
    token_nonce.Add(survey::NewNonce());
    // The page never closes before the last moment the text may go out.
    closes_at.AddTime(std::max(decision.survey_closes_at, decision.expires_at));
  }

  Params ToParams(TimePoint created_at) const {
    return {
        Time(created_at),     event_id.Text(),          group_id.Text(),    language.Text(),
        phone_e164.Text(),    phone_hash.Text(),        event_type.Text(),  channel.Text(),
        type_code.Text(),     category.Text(),          grade.Text(),       npu.Text(),
        beat.Text(),          postcode_district.Text(), handler_id.Text(),  handler_team.Text(),
        officer_id.Text(),    department.Text(),        caller_role.Text(), caller_age_band.Text(),
        caller_gender.Text(), caller_ethnicity.Text(),  contact_at.Text(),  send_at.Text(),
        expires_at.Text(),    sms_template.Text(),      token_nonce.Text(), closes_at.Text()};
  }
};

class PgStore final : public Store {
 public:
  explicit PgStore(const PgOptions& options)
      : phone_hash_key_(options.phone_hash_key),
        pool_(
            options.url, options.pool_size,
            [statement_timeout = options.statement_timeout](pqxx::connection& connection) {
              for (const auto& [name, sql] : Statements()) connection.prepare(name, sql);
              // Lock waits count too: a statement stuck behind a lock gives its connection
              // back as it would after any other slow statement.
              pqxx::nontransaction txn(connection);
              txn.exec("SET statement_timeout = " +
                       std::to_string(std::max<std::int64_t>(0, statement_timeout.count())));
            },
            options.acquire_timeout) {}

  bool Ping() override {
    try {
      return WithConnection("ping", [](pqxx::connection& connection) {
        pqxx::nontransaction txn(connection);
        return Exec(txn, "ping", {}).size() == 1;
      });
    } catch (const Unavailable&) {
      return false;
    }
  }

  std::vector<IngestResult> IngestBatch(const std::vector<IngestItem>& items,
                                        const DecideFn& decide, const std::string& feed) override {
    return WithConnection("ingest", [&](pqxx::connection& connection) {
      // Two instances storing overlapping batches can still deadlock on each other's new rows
      // in rare interleavings; deciding is pure, so the batch is simply run again.
      for (int attempt = 1;; ++attempt) {
        try {
          return Ingest(connection, items, decide, feed);
        } catch (const pqxx::sql_error& e) {
          const bool retryable = e.sqlstate() == "40P01" || e.sqlstate() == "40001";
          if (!retryable || attempt == 3) throw;
          spdlog::info("store: ingest retried after SQLSTATE {}", e.sqlstate());
        }
      }
    });
  }

  std::optional<std::int64_t> FeedCursor(const std::string& feed) override {
    return WithConnection("feed cursor", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      auto rows = Exec(txn, "feed_cursor_get", {Text(feed)});
      if (rows.empty()) return std::optional<std::int64_t>();
      return std::optional<std::int64_t>(rows[0][0].as<std::int64_t>());
    });
  }

  std::vector<OutboxMessage> ClaimDue(TimePoint now, int limit, const std::string& worker,
                                      std::chrono::seconds lease) override {
    return WithConnection("claim", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      auto rows = Exec(txn, "claim_due", {Time(now), Int(limit), Text(worker), Time(now + lease)});
      txn.commit();
      std::vector<OutboxMessage> messages;
      messages.reserve(rows.size());
      for (const auto& row : rows) {
        OutboxMessage message;
        message.id = row[0].as<std::int64_t>();
        message.survey_id = row[1].as<std::int64_t>();
        message.client_ref = row[2].as<std::string>();
        message.to_e164 = row[3].as<std::string>();
        message.sms_template = row[4].as<std::string>();
        message.token_nonce = row[5].as<std::string>();
        message.attempts = row[6].as<int>();
        message.expires_at = pg::FromEpochMicros(row[7].as<std::int64_t>());
        messages.push_back(std::move(message));
      }
      std::sort(messages.begin(), messages.end(),
                [](const OutboxMessage& a, const OutboxMessage& b) { return a.id < b.id; });
      return messages;
    });
  }

  void RecordAttempt(const OutboxMessage& message, const SendRecord& record,
                     const std::string& token_hash, TimePoint now) override {
    WithConnection("record attempt", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      Exec(txn, "attempt_insert",
           {Int(message.id), Int(message.attempts), Time(now), Text(record.gateway),
            NonEmpty(record.gateway_message_id),
            record.http_status != 0 ? Int(record.http_status) : std::nullopt,
            SendStateName(record.state), NonEmpty(record.error)});
      auto updated = Exec(txn, "attempt_update",
                          {Int(message.id), Int(message.attempts), OutboxStateFor(record.state),
                           Text(record.gateway), NonEmpty(record.gateway_message_id),
                           Time(record.next_attempt_at), NonEmpty(record.error), Time(now)});
      if (!token_hash.empty()) {
        Exec(txn, "token_hash_set", {Int(message.survey_id), Text(token_hash)});
      }
      if (!updated.empty() && !record.gateway_message_id.empty()) {
        // Reports that came before this answer could only be kept aside; apply them now.
        auto early = Exec(txn, "reports_claim_unmatched",
                          {Int(message.id), Text(record.gateway_message_id)});
        for (const auto& row : early) {
          Advance(txn, message.id, row[0].as<std::string>(),
                  row[1].is_null() ? std::nullopt : Param(row[1].as<std::string>()), now);
        }
      }
      txn.commit();
      return 0;
    });
  }

  void Reschedule(std::int64_t message_id, TimePoint next_attempt_at) override {
    WithConnection("reschedule", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      Exec(txn, "reschedule", {Int(message_id), Time(next_attempt_at)});
      txn.commit();
      return 0;
    });
  }

  int ExpireOverdue(TimePoint now) override {
    return WithConnection("expire", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      auto result = Exec(txn, "expire_overdue", {Time(now)});
      txn.commit();
      return static_cast<int>(result.affected_rows());
    });
  }

  bool ApplyDeliveryStatus(const DeliveryStatus& status) override {
    return WithConnection("delivery status", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      std::optional<std::int64_t> outbox_id;
      if (!status.gateway_message_id.empty()) {
        auto rows = Exec(txn, "outbox_by_message_id", {Text(status.gateway_message_id)});
        if (!rows.empty()) outbox_id = rows[0][0].as<std::int64_t>();
      }
      if (!outbox_id && !status.client_ref.empty()) {
        auto rows = Exec(txn, "outbox_by_client_ref", {Text(status.client_ref)});
        if (!rows.empty()) outbox_id = rows[0][0].as<std::int64_t>();
      }
      Exec(txn, "report_insert",
           {outbox_id ? Int(*outbox_id) : std::nullopt, Text(status.gateway),
            NonEmpty(status.gateway_message_id), NonEmpty(status.client_ref), Text(status.status),
            NonEmpty(status.error_code), Time(status.at)});
      if (outbox_id) {
        Advance(txn, *outbox_id, status.status, NonEmpty(status.error_code), status.at);
      }
      txn.commit();
      return outbox_id.has_value();
    });
  }

  void OptOut(const std::string& e164, const std::string& source, TimePoint now) override {
    const phone::Number number = phone::Normalize(e164);
    const std::string hash =
        phone::KeyedHash(phone_hash_key_, number.e164.empty() ? e164 : number.e164);
    WithConnection("opt-out", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      OptOutHash(txn, hash, source, now);
      txn.commit();
      return 0;
    });
  }

  bool OptOutBySurvey(std::int64_t survey_id, const std::string& source, TimePoint now) override {
    return WithConnection("opt-out", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      auto rows = Exec(txn, "survey_phone_hash", {Int(survey_id)});
      if (rows.empty()) return false;
      OptOutHash(txn, rows[0][0].as<std::string>(), source, now);
      txn.commit();
      return true;
    });
  }

  std::optional<SurveyView> FindSurveyByTokenHash(const std::string& token_hash) override {
    return WithConnection("find survey", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      auto rows = Exec(txn, "survey_by_token", {Text(token_hash)});
      if (rows.empty()) return std::optional<SurveyView>();
      const auto& row = rows[0];
      SurveyView view;
      view.survey_id = row[0].as<std::int64_t>();
      view.group = row[1].as<std::string>();
      view.language = row[2].as<std::string>();
      view.event_type = ParseEventType(row[3].as<std::string>()).value_or(EventType::kCallEnded);
      if (!row[4].is_null()) view.channel = row[4].as<std::string>();
      view.contact_at = pg::FromEpochMicros(row[5].as<std::int64_t>());
      view.expires_at = pg::FromEpochMicros(row[6].as<std::int64_t>());
      view.responded = row[7].as<bool>();
      if (!row[8].is_null()) view.opened_at = pg::FromEpochMicros(row[8].as<std::int64_t>());
      return std::optional<SurveyView>(std::move(view));
    });
  }

  void MarkOpened(std::int64_t survey_id, TimePoint now) override {
    WithConnection("mark opened", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      Exec(txn, "mark_opened", {Int(survey_id), Time(now)});
      txn.commit();
      return 0;
    });
  }

  SubmitOutcome SubmitResponse(std::int64_t survey_id, const SurveyAnswers& answers,
                               TimePoint now) override {
    Params params{Int(survey_id)};
    for (const auto& q : answers.q) {
      if (q && (*q < 0 || *q > 10)) throw std::invalid_argument("answer out of range 0-10");
      params.push_back(q ? Int(*q) : std::nullopt);
    }
    params.push_back(Text(TruncateCodePoints(answers.comment, 2000)));
    params.push_back(Text(answers.language));
    params.push_back(Time(now));
    return WithConnection("submit", [&](pqxx::connection& connection) {
      pqxx::work txn(connection);
      auto rows = Exec(txn, "submit_check", {Int(survey_id)});
      if (rows.empty()) return SubmitOutcome::kNotFound;
      if (rows[0][1].as<bool>()) return SubmitOutcome::kAlreadyAnswered;
      if (pg::FromEpochMicros(rows[0][0].as<std::int64_t>()) < now) return SubmitOutcome::kExpired;
      if (Exec(txn, "submit_insert", params).affected_rows() == 0) {
        return SubmitOutcome::kAlreadyAnswered;
      }
      Exec(txn, "submit_mark", {Int(survey_id), Time(now)});
      txn.commit();
      return SubmitOutcome::kStored;
    });
  }

  Funnel GetFunnel(const StatsFilter& filter) override {
    return WithConnection("funnel", [&](pqxx::connection& connection) {
      const Params params = FilterParams(filter);
      pqxx::read_transaction txn(connection);
      Funnel funnel;
      auto events = Exec(txn, "funnel_events", params)[0];
      const auto stored = events[0].as<std::int64_t>();
      funnel.events_duplicate = events[1].as<std::int64_t>();
      funnel.events_ignored = events[2].as<std::int64_t>();
      funnel.events_excluded = events[3].as<std::int64_t>();
      for (const auto& row : Exec(txn, "funnel_excluded", params)) {
        funnel.excluded_by_reason[row[0].as<std::string>()] = row[1].as<std::int64_t>();
      }
      funnel.events_rejected = Exec(txn, "funnel_rejected", params)[0][0].as<std::int64_t>();
      funnel.events_received = stored + funnel.events_duplicate + funnel.events_rejected;
      auto surveys = Exec(txn, "funnel_surveys", params)[0];
      funnel.surveys_created = surveys[0].as<std::int64_t>();
      funnel.sms_accepted = surveys[1].as<std::int64_t>();
      funnel.sms_delivered = surveys[2].as<std::int64_t>();
      funnel.sms_failed = surveys[3].as<std::int64_t>();
      funnel.sms_expired = surveys[4].as<std::int64_t>();
      funnel.pending = surveys[5].as<std::int64_t>();
      funnel.opened = surveys[6].as<std::int64_t>();
      funnel.answered = surveys[7].as<std::int64_t>();
      return funnel;
    });
  }

  std::vector<QuestionStat> GetQuestionStats(const StatsFilter& filter) override {
    return WithConnection("question stats", [&](pqxx::connection& connection) {
      pqxx::read_transaction txn(connection);
      auto row = Exec(txn, "question_stats", FilterParams(filter))[0];
      std::vector<QuestionStat> stats;
      for (int q = 0; q < 5; ++q) {
        QuestionStat stat;
        stat.question = "q" + std::to_string(q + 1);
        stat.respondents = row[3 * q].as<std::int64_t>();
        stat.mean = row[3 * q + 1].as<double>();
        stat.top_box = row[3 * q + 2].as<std::int64_t>();
        stats.push_back(std::move(stat));
      }
      return stats;
    });
  }

 private:
  // Runs `work` on a pooled connection and turns every libpqxx error into Unavailable. The
  // messages name the operation and the SQLSTATE only: server messages can quote row values,
  // which may be personal data.
  template <typename Work>
  auto WithConnection(const char* operation, Work&& work)
      -> decltype(work(std::declval<pqxx::connection&>())) {
    auto lease = pool_.Acquire();
    const std::string what = std::string(operation) + ": ";
    try {
      return work(lease.connection());
    } catch (const pqxx::broken_connection&) {
      lease.Discard();
      throw Unavailable(what + "database connection lost");
    } catch (const pqxx::in_doubt_error&) {
      lease.Discard();
      throw Unavailable(what + "commit outcome unknown (connection lost)");
    } catch (const pqxx::sql_error& e) {
      spdlog::warn("store: {} failed with SQLSTATE {}", operation, e.sqlstate());
      throw Unavailable(what + "database error (SQLSTATE " + e.sqlstate() + ")");
    } catch (const pqxx::failure&) {
      lease.Discard();
      throw Unavailable(what + "database failure");
    } catch (const pqxx::pqxx_exception&) {
      lease.Discard();
      throw Unavailable(what + "database client error");
    }
  }

  static std::string TruncateCodePoints(const std::string& text, std::size_t max) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && count++ == max) {
        return text.substr(0, i);
      }
    }
    return text;
  }

  void Advance(pqxx::work& txn, std::int64_t outbox_id, const std::string& status,
               const Param& error_code, TimePoint at) {
    auto target = TargetState(status);
    if (!target) return;
    Param error = std::nullopt;
    if (*target == "failed") error = error_code ? error_code : Param(status);
    Exec(txn, "outbox_advance", {Int(outbox_id), *target, error, Time(at)});
  }

  // Serialised with ingest by the same advisory lock, so a survey decided concurrently for this
  // number is either seen and cancelled here or sees the opt-out.
  void OptOutHash(pqxx::work& txn, const std::string& hash, const std::string& source,
                  TimePoint now) {
    Exec(txn, "lock_phone", {Int(LockKey(hash))});
    Exec(txn, "opt_out_insert", {hash, Text(source), Time(now)});
    Exec(txn, "opt_out_cancel", {hash, Time(now)});
  }

  std::vector<IngestResult> Ingest(pqxx::connection& connection,
                                   const std::vector<IngestItem>& items, const DecideFn& decide,
                                   const std::string& feed) {
    const TimePoint received_at = WallClock();
    std::vector<IngestResult> results(items.size());
    std::unordered_map<std::string, std::size_t> first_index;  // event_id -> item
    std::vector<std::size_t> candidates;                       // first delivery in this batch
    std::vector<int> repeats(items.size(), 0);
    ArrayLiteral rejected_id, rejected_source, rejected_seq, rejected_reason, rejected_raw;
    std::optional<std::int64_t> max_seq;

    for (std::size_t i = 0; i < items.size(); ++i) {
      const IngestItem& item = items[i];
      const std::optional<std::int64_t> seq =
          item.seq ? item.seq : (item.event ? item.event->seq : std::nullopt);
      if (seq) max_seq = std::max(max_seq.value_or(*seq), *seq);
      if (!item.event || item.event->event_id.empty()) {
        std::string reason = item.event ? "missing event_id" : item.reject_reason;
        if (reason.empty()) reason = "rejected";
        const std::string& id = item.event_id;
        results[i] = {id, IngestOutcome::kRejected, reason};
        rejected_id.Add(id.empty() ? std::nullopt : std::optional<std::string_view>(id));
        rejected_source.Add(item.source);
        rejected_seq.AddInt(seq);
        rejected_reason.Add(reason);
        rejected_raw.Add(item.raw);
        continue;
      }
      const std::string& id = item.event->event_id;
      auto [it, fresh] = first_index.emplace(id, i);
      if (fresh) {
        candidates.push_back(i);
      } else {
        results[i] = {id, IngestOutcome::kDuplicate, "duplicate"};
        ++repeats[it->second];
      }
    }

    pqxx::work txn(connection);
    if (!rejected_id.empty()) {
      Exec(txn, "ingest_rejected",
           {Time(received_at), rejected_id.Text(), rejected_source.Text(), rejected_seq.Text(),
            rejected_reason.Text(), rejected_raw.Text()});
    }

    if (!candidates.empty()) {
      StoreEvents(txn, items, candidates, repeats, decide, received_at, results);
    }

    if (!feed.empty() && max_seq) {
      Exec(txn, "feed_cursor_set", {Text(feed), Int(*max_seq), Time(received_at)});
    }
    txn.commit();
    return results;
  }

  // Decides the first deliveries in the batch of events not stored yet, then stores them all with
  // their decisions, and the surveys to send, in three statements.
  void StoreEvents(pqxx::work& txn, const std::vector<IngestItem>& items,
                   std::vector<std::size_t> candidates, const std::vector<int>& repeats,
                   const DecideFn& decide, TimePoint received_at,
                   std::vector<IngestResult>& results) {
    // Each number's history is read once for the batch, under a lock on that number held to
    // the end of the transaction, so two instances cannot both survey one number. Taken before
    // the events go in: a concurrent delivery of one of these events (which has the same number)
    // is then either committed and seen below, or waits for this transaction.
    std::vector<std::string> hashes(items.size());
    std::vector<std::string> numbers(items.size());
    ArrayLiteral lock_keys, lookup, ids;
    std::set<std::string> distinct;
    for (std::size_t i : candidates) {
      const Event& event = *items[i].event;
      ids.Add(event.event_id);
      if (!event.caller || !event.caller->phone) continue;
      numbers[i] = phone::Normalize(*event.caller->phone).e164;
      if (numbers[i].empty()) continue;
      hashes[i] = phone::KeyedHash(phone_hash_key_, numbers[i]);
      if (distinct.insert(hashes[i]).second) {
        lock_keys.AddInt(LockKey(hashes[i]));
        lookup.Add(hashes[i]);
      }
    }
    std::unordered_map<std::string, ContactHistory> history;
    if (!distinct.empty()) {
      Exec(txn, "lock_phones", {lock_keys.Text()});
      for (const auto& row : Exec(txn, "phone_history", {lookup.Text()})) {
        ContactHistory& entry = history[row[0].as<std::string>()];
        entry.opted_out = row[1].as<bool>();
        if (!row[2].is_null())
          entry.last_surveyed_at = pg::FromEpochMicros(row[2].as<std::int64_t>());
      }
    }
    std::unordered_set<std::string> stored;
    for (const auto& row : Exec(txn, "events_stored", {ids.Text()})) {
      stored.insert(row[0].as<std::string>());
    }

    // Decided in delivery order, so later events in the batch see the surveys of earlier ones.
    struct Decided {
      Decision decision;
      std::string e164, hash, reason, trace;
    };
    std::vector<std::optional<Decided>> decided(items.size());
    for (std::size_t i : candidates) {
      const Event& event = *items[i].event;
      if (stored.count(event.event_id) != 0) continue;
      const ContactHistory none;
      const auto found = hashes[i].empty() ? history.end() : history.find(hashes[i]);
      Decided& d = decided[i].emplace();
      d.decision = decide(event, found == history.end() ? none : found->second);
      Decision& decision = d.decision;
      d.e164 = decision.phone.e164.empty() ? numbers[i] : decision.phone.e164;
      d.hash = d.e164 == numbers[i] ? hashes[i] : phone::KeyedHash(phone_hash_key_, d.e164);
      if (decision.outcome == Decision::Outcome::kSurvey && d.e164.empty()) {
        // The rules should have excluded it; never queue a message without a number.
        decision.outcome = Decision::Outcome::kExcluded;
        decision.reason = "no_phone";
      }
      if (decision.outcome == Decision::Outcome::kSurvey) {
        auto& seen = history[d.hash].last_surveyed_at;
        if (!seen || *seen < event.occurred_at) seen = event.occurred_at;
      }
      d.reason = decision.reason.empty() ? OutcomeName(decision.outcome) : decision.reason;
      d.trace = nlohmann::json(decision.trace)
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }

    // Rows are inserted in event_id order, so that two batches holding the same events lock
    // them in the same order.
    std::sort(candidates.begin(), candidates.end(), [&](std::size_t a, std::size_t b) {
      return items[a].event->event_id < items[b].event->event_id;
    });
    ArrayLiteral id, source, seq, type, occurred_at, duplicates, raw, outcomes, reasons, groups,
        traces;
    for (std::size_t i : candidates) {
      const Event& event = *items[i].event;
      id.Add(event.event_id);
      source.Add(items[i].source);
      seq.AddInt(items[i].seq ? items[i].seq : event.seq);
      type.Add(EventTypeName(event.type));
      occurred_at.AddTime(event.occurred_at);
      duplicates.AddInt(repeats[i]);
      raw.Add(items[i].raw);
      if (decided[i]) {
        outcomes.Add(OutcomeName(decided[i]->decision.outcome));
        reasons.Add(decided[i]->reason);
        groups.Add(NonEmpty(decided[i]->decision.group));
        traces.Add(decided[i]->trace);
      } else {
        outcomes.AddNull();
        reasons.AddNull();
        groups.AddNull();
        traces.AddNull();
      }
    }
    auto rows = Exec(txn, "ingest_events",
                     {Time(received_at), id.Text(), source.Text(), seq.Text(), type.Text(),
                      occurred_at.Text(), duplicates.Text(), raw.Text(), outcomes.Text(),
                      reasons.Text(), groups.Text(), traces.Text()});
    std::unordered_set<std::string> inserted;
    for (const auto& row : rows) {
      if (row[1].as<bool>()) inserted.insert(row[0].as<std::string>());
    }

    // A decision counts only if its row went in: an event with no number takes no lock, and a
    // concurrent delivery of it may have won (it could not have been surveyed anyway).
    std::sort(candidates.begin(), candidates.end());
    SurveyColumns surveys;
    for (std::size_t i : candidates) {
      const Event& event = *items[i].event;
      if (!decided[i] || inserted.count(event.event_id) == 0) {
        results[i] = {event.event_id, IngestOutcome::kDuplicate, "duplicate"};
        continue;
      }
      Decided& d = *decided[i];
      if (d.decision.outcome == Decision::Outcome::kSurvey) {
        surveys.Add(event, d.decision, d.e164, d.hash);
      }
      results[i] = {event.event_id, IngestOutcome::kAccepted, std::move(d.reason)};
    }
    if (!surveys.event_id.empty()) Exec(txn, "ingest_surveys", surveys.ToParams(received_at));
  }

  const std::string phone_hash_key_;
  ConnectionPool pool_;
};

}  // namespace

std::unique_ptr<Store> MakePgStore(const PgOptions& options) {
  return std::make_unique<PgStore>(options);
}

}  // namespace surveyd::store
