#pragma once
// The durable SMS outbox, as the dispatcher and the gateway callbacks see it.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/delivery.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

// What an outbox message is for.
enum class MessageKind {
  kSurvey,        // the survey's own text: its link, or in two-way mode its first question
  kQuestion,      // a later text of a two-way conversation (a reply to the citizen's text)
  kConfirmation,  // the one confirmation of an opt-out by SMS (to a number opted out by design)
  kHelp,          // where to get help now, answering a text that called for it
  kClosed,        // a text after a two-way conversation ended: the survey closed, not counted
  kLinkReply,     // a text back to a link survey: it takes no answer by text, use the link
};
// "survey", "question", "confirmation", "help", "closed", "link_reply"
const char* MessageKindName(MessageKind kind);
std::optional<MessageKind> ParseMessageKind(std::string_view name);
// Whether a queued text is decided again before it goes, under the rules in force and with
// everything stored since (an opt-out, a later event of its incident flagged DOMESTIC, a
// reload), and held by what holds the survey (an opt-out, a rejected line, ops cancelling what
// waits): the survey's own texts (its link, its questions) and its notices (closed, link_reply),
// texts the police send about the contact. An opt-out's confirmation and where to get help
// answer what the citizen just wrote and go as they are (a citizen who texted that they are in
// danger gets the answer whatever else they said). The store's SQL names the same kinds:
// SURVEYD_SURVEY_TEXT_KINDS.
bool DecidedAgain(MessageKind kind);

struct OutboxMessage {
  std::int64_t id = 0;  // outbox row
  std::int64_t survey_id = 0;
  MessageKind kind = MessageKind::kSurvey;
  std::string client_ref;    // stable per message: the gateway idempotency key
  std::string to_e164;       // personal data: never log it (phone::Mask)
  std::string sms_template;  // kSurvey: the body with {link} still to fill in
  std::string body;          // other kinds: the whole text
  std::string token_nonce;   // hex; with the token secret it derives the survey link token
  std::string language;      // the survey's
  bool two_way = false;      // the survey is asked by text: its text carries the first question
  int attempts = 0;      // requests begun so far (BeginSends counts this one) but those given back:
                         // throttled, or credentials refused (SendRecord::counts_attempt)
  TimePoint expires_at;  // not begun after this: expired
  std::int64_t claim_token = 0;  // fences this claim: only its holder begins or records a send
  // An earlier request may have reached the gateway (SendRecord::maybe_sent): giving up on it
  // holds it in doubt, never calls it failed.
  bool maybe_sent = false;

  // What deciding the text again needs (kSurvey, kQuestion), read with the claim: the survey's
  // own event as stored (with its number put back), the number's history without this survey,
  // and the events related to it. `event` is nullopt when the stored event cannot be read: never
  // send then.
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
  // Whether the request counts against dispatch.max_attempts: not when the gateway slowed us
  // down (429) or refused our credentials, which say nothing of the message. One that does not
  // is given back (OutboxMessage::attempts counts those that did).
  bool counts_attempt = true;
};

// The request about to be made for one claimed message.
struct SendStart {
  std::int64_t message_id = 0;
  std::int64_t claim_token = 0;
  std::string token_hash;  // kSurvey: the link's token hash, recorded before the text goes
};

// The answer to one request begun by BeginSends.
struct Attempt {
  std::int64_t message_id = 0;
  std::int64_t claim_token = 0;
  int attempt = 0;  // OutboxMessage::attempts after BeginSends
  SendRecord record;
};

struct Cancellation {
  std::int64_t message_id = 0;
  std::string reason;  // the rule: "exclusion:domestic_abuse", "opted_out"...
};

// What the dispatcher makes of one message of a claim (ClaimAndBegin's `decide`).
struct ClaimOutcome {
  enum class Action {
    kBegin,   // its one request goes now: `sending`, with the link's token hash recorded
    kCancel,  // ruled out (`reason`); held in doubt instead if a request may have gone before
    kDueAt,   // due again at `due_at` (quiet hours; no rules to decide by yet)
    kLeave,   // untouched (its time ran out: the expiry pass marks it; or the worker stops)
  };
  Action action = Action::kLeave;
  std::string token_hash;  // kBegin, a survey's link
  std::string reason;      // kCancel
  TimePoint due_at;        // kDueAt
  // kDueAt, a survey's text deferred by quiet hours: its new deadline. Its window pauses over
  // the night, as when it was decided (rules::Decide): it keeps the time it had left, and its
  // survey stays open as long after it.
  std::optional<TimePoint> expires_at;
};
// One outcome per claimed message, in the order given.
using DecideClaimFn =
    std::function<std::vector<ClaimOutcome>(const std::vector<OutboxMessage>& claimed)>;

class OutboxStore {
 public:
  virtual ~OutboxStore() = default;

  // The dispatcher's claim: up to `limit` messages due at `now`, locked (FOR UPDATE SKIP
  // LOCKED; the most recently due first, so that a new text never waits behind a backlog), each
  // with what deciding it again needs (as ClaimDue reads it); `decide` says what becomes of
  // each, and all of it is written in the same transaction, whose commit is flushed before this
  // returns. Nothing is written for the claim itself: a worker that dies before the commit leaves
  // every message as it was, and one still deciding after `lease` loses its session, and so the
  // claim, to the database. What would change a claimed message meanwhile (an exclusion stored,
  // an opt-out, an erasure) waits for the commit, and finds a begun text `sending`: its send
  // began first. Returns the messages begun, in claim order, each with its attempt number and a
  // new claim token that fences the recording of its answer (RecordAttempts). While ops hold
  // every text (OpsStore::HoldSends) only help texts are claimed (ClaimDue and BeginSends do the
  // same): they answer a citizen who just texted that they are in danger.
  virtual std::vector<OutboxMessage> ClaimAndBegin(
      TimePoint now, int limit, const std::string& worker, std::chrono::seconds lease,
      std::chrono::seconds send_lease, const EventScreen& screen, const DecideClaimFn& decide) = 0;

  // The same in steps, each a transaction of its own, for callers that decide one message at a
  // time outside the store (tests; instances from before ClaimAndBegin left such claims, which
  // ClaimAndBegin takes over once their lease runs out).
  // Claims up to `limit` messages due at `now` (FOR UPDATE SKIP LOCKED; the most recently due
  // first, so that a new text never waits behind a backlog), leased for `lease`, each with what
  // deciding it again needs. A claim that runs out is simply claimed again (nothing went out): a
  // new claim token fences the old holder off. With a screen (EventScreen), of each number's
  // other events only those it found could rule a contact out, or did not screen, are read.
  virtual std::vector<OutboxMessage> ClaimDue(TimePoint now, int limit, const std::string& worker,
                                              std::chrono::seconds lease,
                                              const EventScreen& screen = {}) = 0;
  // Begins the one request of each claim, in one statement, immediately before they go out.
  // For each start, in order: the attempt number when the claim was still this worker's (the
  // message is then `sending` for `send_lease` and a survey's token hash is recorded, so that a
  // text that arrives never carries a dead link); 0 when another worker holds it now or it was
  // cancelled.
  virtual std::vector<int> BeginSends(const std::vector<SendStart>& starts, TimePoint now,
                                      std::chrono::seconds send_lease) = 0;
  // Records the answers to requests begun by BeginSends, in one statement, and moves each
  // message on; only the holder of the claim does. A delivery report that already moved it
  // further is kept, and reports that came before this answer and carry only the gateway's id
  // are applied here.
  virtual void RecordAttempts(const std::vector<Attempt>& attempts, TimePoint now) = 0;
  // Hands claimed messages back, due again at `next_attempt_at` (quiet hours; a stopping worker).
  virtual void Reschedule(const std::vector<OutboxMessage>& messages,
                          TimePoint next_attempt_at) = 0;
  // Cancels claimed messages not yet begun (a re-decision said no); `by` names what did. A
  // message one of whose requests may have gone out (SendRecord::maybe_sent: an in-doubt answer
  // before a retry through an idempotent gateway, or a sender that stopped mid-request) is not
  // sent again either, but is held in doubt rather than called cancelled, for its delivery
  // reports to settle.
  virtual void Cancel(const std::vector<Cancellation>& cancellations, const std::string& by,
                      TimePoint now) = 0;
  // Messages whose sender died mid-request (`sending` past its lease): due again with the same
  // client_ref when the gateway deduplicates on it (`resend_safe`), otherwise in doubt, for the
  // delivery reports to settle. Returns how many.
  virtual int RecoverStale(TimePoint now, bool resend_safe) = 0;
  // Marks unsent messages whose deadline passed before `now`; returns how many.
  virtual int ExpireOverdue(TimePoint now) = 0;
  // Kept in delivery_reports whatever happens. The message is found by the service's own ref,
  // else by (gateway, gateway_message_id); states only move forward (accepted, sent, then
  // delivered, failed, undeliverable or delivery_expired, all final), so a report that comes
  // twice, out of order or before the send's own answer leaves the right state. False: no
  // message is known by it (yet: a report carrying only the gateway's id is applied when the
  // send's answer names that id).
  virtual bool ApplyDeliveryReport(const DeliveryReport& report) = 0;
  // The same for several reports at once, as if applied one by one in their order; one result
  // each. (A store may write them together, as it writes reports that come at the same time.)
  virtual std::vector<bool> ApplyDeliveryReports(const std::vector<DeliveryReport>& reports);

  // Flow control across every worker of every instance: grants up to `wanted` sends through
  // `gateway` in time bucket `bucket`, so that no `span` consecutive buckets hold more than
  // `cap`. Returns how many were granted (0: none free now).
  virtual int TakeSendSlots(const std::string& gateway, std::int64_t bucket, int wanted, int cap,
                            int span) = 0;
  // Settles a grant of `granted` slots taken in `granted_bucket` when its requests go: `sent` of
  // them count in `sent_bucket`, the bucket they actually go in (later than the grant's when
  // claiming and deciding took a while), and the rest are given back. Counting each send where
  // it really happens is what keeps every one-second window of requests within the rate.
  virtual void SettleSendSlots(const std::string& gateway, std::int64_t granted_bucket, int granted,
                               std::int64_t sent_bucket, int sent) = 0;

  // A gateway's own request to wait (a 429's Retry-After), shared by every instance that sends
  // through it, as the rate is: nothing goes through `gateway` for `wait` from now (the
  // database's now), or longer if it asked that already.
  virtual void HoldGateway(const std::string& gateway, std::chrono::seconds wait) = 0;
  struct GatewayWait {
    std::chrono::milliseconds left{0};  // from now
    std::chrono::seconds asked{0};      // the wait asked for, when it was
  };
  // The wait still held on `gateway`, if any.
  virtual std::optional<GatewayWait> GatewayHold(const std::string& gateway) = 0;

  // One message at a time, as tests and simple callers want it.
  bool BeginSend(OutboxMessage& message, const std::string& token_hash, TimePoint now,
                 std::chrono::seconds send_lease);
  void RecordAttempt(const OutboxMessage& message, const SendRecord& record, TimePoint now);
};

// The outbox state a delivery state moves a message to: "accepted", "sent", "delivered",
// "failed", "undeliverable", "delivery_expired" (the network's expiry; the outbox's own
// "expired" means never sent in time).
const char* OutboxStateFor(DeliveryState state);

// Wakes a dispatcher when a message is queued anywhere (any instance): PostgreSQL's LISTEN on the
// channel that a new outbox row notifies.
class OutboxListener {
 public:
  virtual ~OutboxListener() = default;
  // Blocks up to `timeout` for notifications; when any came, the earliest time their messages
  // are due (a time already past when a notification did not say). Throws Unavailable when the
  // database cannot be reached (the caller backs off and calls again; it reconnects).
  virtual std::optional<TimePoint> Wait(std::chrono::milliseconds timeout) = 0;
};

}  // namespace surveyd::store
