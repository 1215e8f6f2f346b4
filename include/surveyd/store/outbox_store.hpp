#pragma once
// The durable SMS outbox, as the dispatcher and the gateway callbacks see it.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

struct OutboxMessage {
  std::int64_t id = 0;  // outbox row
  std::int64_t survey_id = 0;
  std::string client_ref;    // stable per message: the gateway idempotency key
  std::string to_e164;       // personal data: never log it (phone::Mask)
  std::string sms_template;  // body with {link} still to fill in
  std::string token_nonce;   // hex; with the token secret it derives the survey link token
  int attempts = 0;          // including this one
  TimePoint expires_at;
};

enum class SendState { kAccepted, kRetry, kFailed, kInDoubt };

struct SendRecord {
  SendState state = SendState::kRetry;
  std::string gateway;             // adapter name
  std::string gateway_message_id;  // when accepted
  int http_status = 0;
  std::string error;          // short, no personal data
  TimePoint next_attempt_at;  // kRetry only
};

// A delivery report from a gateway. States only move forward; repeats and late reports change
// nothing.
struct DeliveryStatus {
  std::string gateway;
  std::string gateway_message_id;  // either this or client_ref identifies the message
  std::string client_ref;
  std::string status;  // "sent", "delivered", "failed", "undeliverable", "expired"
  std::string error_code;
  TimePoint at;
};

class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // Claims up to `limit` messages due at `now` (FOR UPDATE SKIP LOCKED), leased for `lease`:
  // a message whose lease runs out (crashed sender) is claimed again, with the same client_ref.
  virtual std::vector<OutboxMessage> ClaimDue(TimePoint now, int limit, const std::string& worker,
                                              std::chrono::seconds lease) = 0;
  // Records one attempt and moves the message on. Also stores the survey's token hash. The
  // message moves only if message.attempts is still its attempt count (a worker whose lease ran
  // out and whose message was claimed again only adds to send_attempts), and a delivery report
  // that already moved it further is kept. Reports that came before this answer and carry only
  // the gateway's id are applied here.
  // Outbox states: pending, sending, accepted, sent, delivered, failed, expired, in_doubt,
  // cancelled (opt-out).
  virtual void RecordAttempt(const OutboxMessage& message, const SendRecord& record,
                             const std::string& token_hash, TimePoint now) = 0;
  // Moves a not-yet-sent message back to its next send window (quiet hours reached while retrying).
  virtual void Reschedule(std::int64_t message_id, TimePoint next_attempt_at) = 0;
  // Marks unsent messages whose survey expired before `now`; returns how many.
  virtual int ExpireOverdue(TimePoint now) = 0;
  // Kept in delivery_reports whatever happens. Found by gateway_message_id, else client_ref.
  // "sent" -> sent, "delivered" -> delivered, "failed"/"undeliverable"/"expired"/"rejected" ->
  // failed, "accepted"/"queued"/"buffered" -> accepted; other statuses change nothing.
  virtual bool ApplyDeliveryStatus(const DeliveryStatus& status) = 0;  // false: unknown message
};

}  // namespace surveyd::store
