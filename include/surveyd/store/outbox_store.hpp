#pragma once
// The durable SMS outbox, as the dispatcher and the gateway callbacks see it.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"
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
  int attempts = 0;          // requests begun so far (BeginSend counts this one)
  TimePoint expires_at;
  std::int64_t claim_token = 0;  // fences this claim: only its holder begins or records a send

  // What deciding the text again needs, read with the claim: the survey's own event as stored
  // (with its number put back), the number's history without this survey, and the events
  // related to it. `event` is nullopt when the stored event cannot be read: never send then.
  std::optional<Event> event;
  ContactHistory history;
  RelatedEvents related;
};

enum class SendState { kAccepted, kRetry, kFailed, kInDoubt };

struct SendRecord {
  SendState state = SendState::kRetry;
  std::string gateway;             // adapter name
  std::string gateway_message_id;  // when accepted
  int http_status = 0;
  std::string error;          // short, no personal data
  TimePoint next_attempt_at;  // kRetry only
  bool maybe_sent = false;    // the request may have reached the gateway (an in-doubt answer)
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

  // Claims up to `limit` messages due at `now` (FOR UPDATE SKIP LOCKED), leased for `lease`, each
  // with what deciding it again needs. A claim that runs out is simply claimed again (nothing
  // went out): a new claim token fences the old holder off.
  virtual std::vector<OutboxMessage> ClaimDue(TimePoint now, int limit, const std::string& worker,
                                              std::chrono::seconds lease) = 0;
  // Begins the one request of this claim, immediately before it goes out: true when the claim is
  // still this worker's, and then the attempt is counted (message.attempts), the message is
  // `sending` for `send_lease`, and the survey's token hash is recorded, so that a text that
  // arrives never carries a dead link. False: another worker holds it now, or it was cancelled.
  virtual bool BeginSend(OutboxMessage& message, const std::string& token_hash, TimePoint now,
                         std::chrono::seconds send_lease) = 0;
  // Records the answer to the request begun by BeginSend and moves the message on; only the
  // holder of the claim does. A delivery report that already moved it further is kept, and
  // reports that came before this answer and carry only the gateway's id are applied here.
  // Outbox states: pending, claimed, sending, accepted, sent, delivered, failed, expired,
  // in_doubt, cancelled.
  virtual void RecordAttempt(const OutboxMessage& message, const SendRecord& record,
                             TimePoint now) = 0;
  // Hands a claimed message back, due again at `next_attempt_at` (quiet hours; a stopping worker).
  virtual void Reschedule(const OutboxMessage& message, TimePoint next_attempt_at) = 0;
  // Cancels a message not yet begun (a re-decision said no); `by` names what cancelled it. A
  // message one of whose requests may have gone out (an in-doubt answer before a retry through
  // an idempotent gateway) is not sent again either, but is held in doubt rather than called
  // cancelled, for its delivery reports to settle.
  virtual void Cancel(const OutboxMessage& message, const std::string& reason,
                      const std::string& by, TimePoint now) = 0;
  // Messages whose sender died mid-request (`sending` past its lease): due again with the same
  // client_ref when the gateway deduplicates on it (`resend_safe`), otherwise in doubt, for the
  // delivery reports to settle. Returns how many.
  virtual int RecoverStale(TimePoint now, bool resend_safe) = 0;
  // Marks unsent messages whose survey expired before `now`; returns how many.
  virtual int ExpireOverdue(TimePoint now) = 0;
  // Kept in delivery_reports whatever happens. Found by gateway_message_id, else client_ref.
  // "sent" -> sent, "delivered" -> delivered, "failed"/"undeliverable"/"expired"/"rejected" ->
  // failed, "accepted"/"queued"/"buffered" -> accepted; other statuses change nothing.
  virtual bool ApplyDeliveryStatus(const DeliveryStatus& status) = 0;  // false: unknown message
};

}  // namespace surveyd::store
