// OutboxStore: claims, attempts, retries, expiry and delivery reports.
#include <algorithm>

#include "store/pg_store_impl.hpp"

namespace surveyd::store {

using namespace pg;  // NOLINT(google-build-using-namespace): the helpers shared in this folder

namespace {

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

}  // namespace

namespace pg {

const Statements& OutboxStatements() {
  static const Statements kStatements = {
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
  };
  return kStatements;
}

}  // namespace pg

std::vector<OutboxMessage> PgStore::ClaimDue(TimePoint now, int limit, const std::string& worker,
                                             std::chrono::seconds lease) {
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

void PgStore::RecordAttempt(const OutboxMessage& message, const SendRecord& record,
                            const std::string& token_hash, TimePoint now) {
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
      auto early =
          Exec(txn, "reports_claim_unmatched", {Int(message.id), Text(record.gateway_message_id)});
      for (const auto& row : early) {
        Advance(txn, message.id, row[0].as<std::string>(),
                row[1].is_null() ? std::nullopt : Param(row[1].as<std::string>()), now);
      }
    }
    txn.commit();
    return 0;
  });
}

void PgStore::Reschedule(std::int64_t message_id, TimePoint next_attempt_at) {
  WithConnection("reschedule", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    Exec(txn, "reschedule", {Int(message_id), Time(next_attempt_at)});
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

bool PgStore::ApplyDeliveryStatus(const DeliveryStatus& status) {
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

void PgStore::Advance(pqxx::work& txn, std::int64_t outbox_id, const std::string& status,
                      const Param& error_code, TimePoint at) {
  auto target = TargetState(status);
  if (!target) return;
  Param error = std::nullopt;
  if (*target == "failed") error = error_code ? error_code : Param(status);
  Exec(txn, "outbox_advance", {Int(outbox_id), *target, error, Time(at)});
}

}  // namespace surveyd::store
