#pragma once
// The store is the one seam to PostgreSQL. pqxx never leaves store/: a lost connection becomes
// store::Unavailable, a unique violation on an idempotency key becomes a "duplicate" value.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/core/ingest_item.hpp"
#include "surveyd/core/time.hpp"

namespace surveyd::store {

// The database cannot be reached or failed unexpectedly; loops catch it, back off and go on.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- Ingest ----------------------------------------------------------------------------

// IngestItem moved to core (the feed must not depend on the store); the name stays valid here.
using IngestItem = surveyd::IngestItem;

enum class IngestOutcome { kAccepted, kDuplicate, kRejected };
const char* IngestOutcomeName(IngestOutcome outcome);

struct IngestResult {
  std::string event_id;  // may be empty for a rejected line with no readable id
  IngestOutcome outcome = IngestOutcome::kRejected;
  std::string reason;  // rejected: why; accepted: the decision ("survey", "exclusion:domestic"...)
};

// Called by the store inside the ingest transaction, once per new event, with that number's
// history (including surveys decided earlier in the same batch). history.last_surveyed_at is the
// newest contact time (event occurred_at) of a survey for that number, so replays compare like
// with like. The number is locked (advisory lock) until the batch commits.
// Called again for the whole batch if the transaction has to be retried: keep it pure.
using DecideFn = std::function<Decision(const Event&, const ContactHistory&)>;

// ---- Dispatch ----------------------------------------------------------------------------

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

// ---- Survey page ---------------------------------------------------------------------------

struct SurveyView {
  std::int64_t survey_id = 0;
  std::string group;     // survey group id
  std::string language;  // "en", "pl", ...
  EventType event_type = EventType::kCallEnded;
  std::optional<std::string> channel;  // for "your call to 101"
  TimePoint contact_at;                // occurred_at of the event
  TimePoint expires_at;                // the survey takes answers until then (surveys.closes_at)
  bool responded = false;
  std::optional<TimePoint> opened_at;
};

struct SurveyAnswers {
  std::optional<int> q[5];  // 0-10 or blank
  std::string comment;      // at most 2,000 characters; personal data
  std::string language;
};

enum class SubmitOutcome { kStored, kAlreadyAnswered, kExpired, kNotFound };

// ---- Analysis ------------------------------------------------------------------------------

// events_received counts every delivery: stored events + repeated deliveries + rejected lines.
// sms_accepted: accepted by the gateway or further (sent, delivered); pending: not yet answered
// by a gateway (pending, sending, in doubt). Messages cancelled by an opt-out count in none.
struct Funnel {
  std::int64_t events_received = 0, events_rejected = 0, events_duplicate = 0;
  std::int64_t events_ignored = 0, events_excluded = 0;
  std::map<std::string, std::int64_t> excluded_by_reason;
  std::int64_t surveys_created = 0, sms_accepted = 0, sms_delivered = 0, sms_failed = 0,
               sms_expired = 0, pending = 0, opened = 0, answered = 0;
};

struct QuestionStat {
  std::string question;  // "q1".."q5"
  std::int64_t respondents = 0;
  double mean = 0;
  std::int64_t top_box = 0;  // answers of 8-10
};

// [from, to) on the contact time (the event's occurred_at; a rejected line's receipt time).
// A group filter leaves out rejected lines and events that matched no group.
struct StatsFilter {
  std::optional<TimePoint> from, to;
  std::optional<std::string> group;
};

// ---- The interface ---------------------------------------------------------------------------

class Store {
 public:
  virtual ~Store() = default;

  virtual bool Ping() = 0;

  // Stores every item once (keyed by event_id) in one transaction, decides each new event and
  // writes its decision, survey and outbox message. When `feed` is not empty the highest seq in
  // the batch is stored as that feed's cursor in the same transaction.
  virtual std::vector<IngestResult> IngestBatch(const std::vector<IngestItem>& items,
                                                const DecideFn& decide,
                                                const std::string& feed = "") = 0;
  virtual std::optional<std::int64_t> FeedCursor(const std::string& feed) = 0;

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

  // Opt-out of every future survey for this number (E.164); idempotent.
  virtual void OptOut(const std::string& e164, const std::string& source, TimePoint now) = 0;
  // Opt-out through the survey link: the number behind that survey.
  virtual bool OptOutBySurvey(std::int64_t survey_id, const std::string& source, TimePoint now) = 0;

  virtual std::optional<SurveyView> FindSurveyByTokenHash(const std::string& token_hash) = 0;
  virtual void MarkOpened(std::int64_t survey_id, TimePoint now) = 0;  // first open only
  virtual SubmitOutcome SubmitResponse(std::int64_t survey_id, const SurveyAnswers& answers,
                                       TimePoint now) = 0;

  virtual Funnel GetFunnel(const StatsFilter& filter) = 0;
  virtual std::vector<QuestionStat> GetQuestionStats(const StatsFilter& filter) = 0;
};

}  // namespace surveyd::store
