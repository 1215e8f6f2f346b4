// OutboxStore: claims, attempts, retries, expiry and delivery reports.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "store/pg_store_impl.hpp"
#include "surveyd/core/event_json.hpp"

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
      // Claims are fenced by a new token each time, so a worker whose claim ran out cannot
      // begin or record a send that another worker now holds. The number's history comes
      // without this survey (and without surveys created after it).
      {"claim_due",
       "WITH due AS (SELECT o.id FROM outbox o JOIN surveys s ON s.id = o.survey_id "
       "WHERE ((o.state = 'pending' AND o.next_attempt_at <= $1::timestamptz) "
       "OR (o.state = 'claimed' AND o.lease_until < $1::timestamptz)) "
       "AND s.expires_at > $1::timestamptz "
       "ORDER BY o.next_attempt_at LIMIT $2::int FOR UPDATE OF o SKIP LOCKED) "
       "UPDATE outbox o SET state = 'claimed', claimed_by = $3, lease_until = $4::timestamptz, "
       "claim_token = nextval('outbox_claim_token'), updated_at = $1::timestamptz "
       "FROM due, surveys s WHERE o.id = due.id AND s.id = o.survey_id "
       "RETURNING o.id, o.survey_id, o.client_ref, s.phone_e164, s.sms_template, "
       "s.token_nonce, o.attempts, surveyd_epoch_us(s.expires_at), o.claim_token, s.event_id, "
       "COALESCE(s.incident_id, ''), s.phone_hash, surveyd_epoch_us(s.contact_at), "
       "EXISTS (SELECT 1 FROM opt_outs x WHERE x.phone_hash = s.phone_hash), "
       "(SELECT surveyd_epoch_us(max(p.contact_at)) FROM surveys p "
       "WHERE p.phone_hash = s.phone_hash AND p.id < s.id)"},
      // For each claimed message: its own event, its incident's and its number's recent ones.
      {"claim_context",
       "SELECT c.outbox_id, e.event_id, COALESCE(e.incident_id, ''), e.facts::text "
       "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) "
       "AS c(outbox_id, event_id, incident_id, phone_hash, since) "
       "CROSS JOIN LATERAL ("
       "SELECT event_id, incident_id, facts FROM events WHERE event_id = c.event_id "
       "UNION SELECT event_id, incident_id, facts FROM events "
       "WHERE c.incident_id <> '' AND incident_id = c.incident_id "
       "UNION SELECT event_id, incident_id, facts FROM events "
       "WHERE phone_hash = c.phone_hash AND occurred_at >= c.since) AS e "
       "WHERE e.facts IS NOT NULL"},
      // Only while the claim is this worker's; the token hash goes in with it.
      {"begin_send",
       "WITH b AS (UPDATE outbox SET state = 'sending', attempts = attempts + 1, "
       "lease_until = $4::timestamptz, updated_at = $3::timestamptz "
       "WHERE id = $1::bigint AND state = 'claimed' AND claim_token = $2::bigint "
       "RETURNING survey_id, attempts) "
       "UPDATE surveys s SET token_hash = COALESCE(s.token_hash, $5) FROM b "
       "WHERE s.id = b.survey_id RETURNING b.attempts"},
      {"cancel",
       "UPDATE outbox SET state = CASE WHEN maybe_sent THEN 'in_doubt' ELSE 'cancelled' END, "
       "cancel_reason = $2, cancelled_by = $3, "
       "claim_token = NULL, claimed_by = NULL, lease_until = NULL, updated_at = $4::timestamptz "
       "WHERE id = $1::bigint AND state IN ('pending', 'claimed')"},
      {"recover_stale",
       "UPDATE outbox SET state = CASE WHEN $2::boolean THEN 'pending' ELSE 'in_doubt' END, "
       "next_attempt_at = $1::timestamptz, claim_token = NULL, claimed_by = NULL, "
       "lease_until = NULL, maybe_sent = true, last_error = 'the sender stopped during the "
       "request', "
       "updated_at = $1::timestamptz WHERE state = 'sending' AND lease_until < $1::timestamptz"},
      {"attempt_insert",
       "INSERT INTO send_attempts (outbox_id, attempt, at, gateway, gateway_message_id, "
       "http_status, result, error) VALUES ($1::bigint, $2::int, $3::timestamptz, $4, $5, "
       "$6::int, $7, $8)"},
      // Only the worker holding the claim (same token) moves the message; a delivery report
      // that got there first keeps its more advanced state.
      {"attempt_update",
       "UPDATE outbox SET state = CASE WHEN state = 'sending' THEN $3 ELSE state END, "
       "gateway = $4, gateway_message_id = COALESCE($5, gateway_message_id), "
       "next_attempt_at = CASE WHEN state = 'sending' AND $3 = 'pending' "
       "THEN $6::timestamptz ELSE next_attempt_at END, last_error = $7, "
       "maybe_sent = maybe_sent OR $9::boolean, claim_token = NULL, "
       "claimed_by = NULL, lease_until = NULL, updated_at = $8::timestamptz "
       "WHERE id = $1::bigint AND claim_token = $2::bigint RETURNING state"},
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
       "UPDATE outbox o SET state = 'expired', claim_token = NULL, claimed_by = NULL, "
       "lease_until = NULL, "
       "updated_at = $1::timestamptz FROM surveys s WHERE s.id = o.survey_id "
       "AND s.expires_at < $1::timestamptz AND (o.state = 'pending' "
       "OR (o.state = 'claimed' AND o.lease_until < $1::timestamptz))"},
      {"reschedule",
       "UPDATE outbox SET state = 'pending', next_attempt_at = $3::timestamptz, "
       "claim_token = NULL, claimed_by = NULL, lease_until = NULL, updated_at = $3::timestamptz "
       "WHERE id = $1::bigint AND state = 'claimed' AND claim_token = $2::bigint"},
  };
  return kStatements;
}

}  // namespace pg

std::vector<OutboxMessage> PgStore::ClaimDue(TimePoint now, int limit, const std::string& worker,
                                             std::chrono::seconds lease) {
  return WithConnection("claim", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    auto rows = Exec(txn, "claim_due", {Time(now), Int(limit), Text(worker), Time(now + lease)});
    std::vector<OutboxMessage> messages;
    messages.reserve(rows.size());
    ArrayLiteral ids, event_ids, incident_ids, hashes, since;
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
      message.claim_token = row[8].as<std::int64_t>();
      message.history.opted_out = row[13].as<bool>();
      if (!row[14].is_null()) {
        message.history.last_surveyed_at = pg::FromEpochMicros(row[14].as<std::int64_t>());
      }
      ids.AddInt(message.id);
      event_ids.Add(row[9].as<std::string>());
      incident_ids.Add(row[10].as<std::string>());
      hashes.Add(row[11].as<std::string>());
      since.AddTime(pg::FromEpochMicros(row[12].as<std::int64_t>()) - kMaxNumberLookback);
      messages.push_back(std::move(message));
    }
    if (!messages.empty()) {
      std::unordered_map<std::int64_t, std::size_t> index;
      std::set<std::size_t> unreadable;
      std::vector<std::pair<std::string, std::string>> own(messages.size());  // event, incident
      for (std::size_t i = 0; i < messages.size(); ++i) {
        index[messages[i].id] = i;
        own[i] = {rows[static_cast<int>(i)][9].as<std::string>(),
                  rows[static_cast<int>(i)][10].as<std::string>()};
      }
      for (const auto& row :
           Exec(txn, "claim_context",
                {ids.Text(), event_ids.Text(), incident_ids.Text(), hashes.Text(), since.Text()})) {
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
        if (event_id == own[i].first) {
          // The rules check the number too: put back the one the text goes to.
          if (!event->caller) event->caller = Caller{};
          event->caller->phone = message.to_e164;
          message.event = std::move(event);
        } else if (!own[i].second.empty() && row[2].as<std::string>() == own[i].second) {
          message.related.same_incident.push_back(std::move(*event));
        } else {
          message.related.same_number.push_back(std::move(*event));
        }
      }
      for (std::size_t i : unreadable) messages[i].event.reset();
      for (auto& message : messages) SortByTime(message.related);
    }
    txn.commit();
    std::sort(messages.begin(), messages.end(),
              [](const OutboxMessage& a, const OutboxMessage& b) { return a.id < b.id; });
    return messages;
  });
}

bool PgStore::BeginSend(OutboxMessage& message, const std::string& token_hash, TimePoint now,
                        std::chrono::seconds send_lease) {
  return WithConnection("begin send", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    auto rows = Exec(txn, "begin_send",
                     {Int(message.id), Int(message.claim_token), Time(now), Time(now + send_lease),
                      Text(token_hash)});
    txn.commit();
    if (rows.empty()) return false;
    message.attempts = rows[0][0].as<int>();
    return true;
  });
}

void PgStore::Cancel(const OutboxMessage& message, const std::string& reason, const std::string& by,
                     TimePoint now) {
  WithConnection("cancel", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    Exec(txn, "cancel", {Int(message.id), Text(reason), Text(by), Time(now)});
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

void PgStore::RecordAttempt(const OutboxMessage& message, const SendRecord& record, TimePoint now) {
  WithConnection("record attempt", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    Exec(txn, "attempt_insert",
         {Int(message.id), Int(message.attempts), Time(now), Text(record.gateway),
          NonEmpty(record.gateway_message_id),
          record.http_status != 0 ? Int(record.http_status) : std::nullopt,
          SendStateName(record.state), NonEmpty(record.error)});
    auto updated = Exec(
        txn, "attempt_update",
        {Int(message.id), Int(message.claim_token), OutboxStateFor(record.state),
         Text(record.gateway), NonEmpty(record.gateway_message_id), Time(record.next_attempt_at),
         NonEmpty(record.error), Time(now), record.maybe_sent ? "true" : "false"});
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

void PgStore::Reschedule(const OutboxMessage& message, TimePoint next_attempt_at) {
  WithConnection("reschedule", [&](pqxx::connection& connection) {
    pqxx::work txn(connection);
    Exec(txn, "reschedule", {Int(message.id), Int(message.claim_token), Time(next_attempt_at)});
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

void PgStore::Advance(pqxx::transaction_base& txn, std::int64_t outbox_id,
                      const std::string& status, const Param& error_code, TimePoint at) {
  auto target = TargetState(status);
  if (!target) return;
  Param error = std::nullopt;
  if (*target == "failed") error = error_code ? error_code : Param(status);
  Exec(txn, "outbox_advance", {Int(outbox_id), *target, error, Time(at)});
}

}  // namespace surveyd::store
