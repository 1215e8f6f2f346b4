#pragma once
// Alerts as the people who act on them, the notifier and recognition see them. Alerts are
// written with the answer that raised them (SurveyAnswers::alerts, in SubmitResponse); this is
// everything after. Never returns a phone number except through RevealNumber, which records who
// asked and why in the same transaction.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/alert.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

enum class AlertStatus { kOpen, kAcknowledged, kResolved };
const char* AlertStatusName(AlertStatus status);  // "open", "acknowledged", "resolved"
std::optional<AlertStatus> ParseAlertStatus(std::string_view name);

// Where the answer came from, read from its survey: what a supervisor needs to find the contact,
// never the number. The incident's id is the command-and-control log to open (who the caller
// is, where, what happened): without it a duty inspector had a beat, a type code and a time.
struct AlertContext {
  std::string group;
  std::string event_type;
  std::string language;
  std::optional<std::string> incident_id, channel, incident_type_code, incident_category,
      incident_grade, npu, beat, handler_id, handler_team, officer_id, department;
  TimePoint contact_at;
};

struct AlertView {
  std::int64_t id = 0;
  std::int64_t survey_id = 0;
  AlertKind kind = AlertKind::kSafeguarding;
  AlertSeverity severity = AlertSeverity::kUrgent;
  std::vector<std::string> rules;
  std::vector<std::string> matched;
  TimePoint created_at;
  AlertStatus status = AlertStatus::kOpen;
  std::optional<TimePoint> status_at;
  std::string status_by, status_note;
  int rounds = 0;  // notices sent so far: 1 the first, more when it was sent again
  // The last time the citizen wrote again (or an answer disclosed more) after it was
  // acknowledged or resolved, and the round of the notice that said so.
  std::optional<TimePoint> reopened_at;
  std::optional<int> reopened_round;
  AlertContext context;
};

// Everything done to an alert.
struct AlertEvent {
  TimePoint at;
  std::string action;  // "created", "acknowledged", "resolved", "revealed", "reopened"
  std::string actor_id, actor_name, actor_role;
  std::string note;
};

// One alert with the answer behind it (the comment is personal data: shown to supervisors and
// safeguarding staff, never logged) and its history.
struct AlertDetail {
  AlertView alert;
  std::optional<int> q[5];
  std::string comment;  // its contact details masked (the reveal gives it as written)
  std::vector<AlertEvent> history;
};

// An alert's place in the list. The list comes most recently raised or reopened first (then by
// id, newest first): an alert the citizen reopened is back at the top, where the people on duty
// look, not among the days-old ones it was raised with.
struct AlertListPosition {
  TimePoint raised_or_reopened;  // reopened_at, else created_at
  std::int64_t id = 0;
};
inline AlertListPosition ListPositionOf(const AlertView& alert) {
  return {alert.reopened_at.value_or(alert.created_at), alert.id};
}

struct AlertFilter {
  std::optional<AlertStatus> status;
  std::optional<AlertKind> kind;
  // The page after the one ending here (its last alert's position). A position rather than an
  // id: the alert that ended a page may be reopened before the next is asked for, and its id
  // would then start the next page at the top again.
  std::optional<AlertListPosition> before;
  int limit = 50;
};

// Who acts, from the API principal.
struct Actor {
  std::string id, name, role;
};

enum class AlertUpdate { kDone, kNotFound, kAlreadyResolved };

struct Reveal {
  enum class Outcome { kRevealed, kNotFound, kNumberGone };
  Outcome outcome = Outcome::kNotFound;
  std::string e164;     // kRevealed only
  std::string comment;  // kRevealed only: as written, contact details and all
};

// What the notifier sends, and to whom: the configured channels and, per severity, when an
// alert nobody acknowledged is sent again (also to `escalate_to`).
struct NoticePolicy {
  bool webhook = false;
  std::vector<std::string> email_to;                              // every alert
  std::map<std::string, std::vector<std::string>> email_by_kind;  // kind's name -> addresses
  std::vector<std::string> escalate_to;
  std::map<AlertSeverity, Duration> renotify_after;  // absent: never again
  int max_renotify = 4;
};

enum class NoticeChannel { kWebhook, kEmail };
const char* NoticeChannelName(NoticeChannel channel);

struct DigestMessage {
  std::string team;
  std::string subject;
  std::string body;
};

// One message claimed for sending.
struct Notice {
  std::int64_t id = 0;
  std::int64_t claim_token = 0;
  NoticeChannel channel = NoticeChannel::kWebhook;
  std::string recipient;  // e-mail address; empty for the webhook
  int round = 0;
  bool escalated = false;
  int attempts = 0;  // including this one
  std::optional<AlertView> alert;
  std::optional<DigestMessage> digest;
};

struct NoticeResult {
  enum class State { kSent, kRetry, kFailed };
  State state = State::kRetry;
  int status = 0;             // HTTP status or SMTP reply code; 0: none
  std::string error;          // short, no personal data
  TimePoint next_attempt_at;  // kRetry
};

// The comments one recognition reads at most: a year of a large force's praise and more.
constexpr int kRecognitionComments = 50000;

// Answers by the person whose contact it was: the operator (call.ended: handler_id, handler_team)
// or the officer (other events: officer_id, department).
struct RecognitionFilter {
  // What [from, to) is of: the contacts (an analyst's "contacts in November"), or the answers
  // given (the weekly digest, which must count an answer that came after the week of its contact).
  enum class Dated { kByContact, kByAnswer };
  TimePoint from, to;
  Dated dated = Dated::kByContact;
  std::optional<std::string> team;  // handler_team or department
  std::optional<std::string> person;
  // The most comments with text read (the newest): the praise counts come from them, so a
  // period with more cannot be counted whole (RecognitionData::comments_complete).
  int comment_limit = kRecognitionComments;
};

struct PersonScores {
  std::string person;
  std::string role;  // "operator" or "officer"
  std::string team;
  std::int64_t respondents = 0;
  std::int64_t top[5] = {0, 0, 0, 0, 0};  // answers of 10, per question
  std::int64_t all_top = 0;               // answers with every answered question at 10
  // In the team and person asked for. The others are there to work out who is hidden: so that
  // asking for one team or one person never shows what asking for everyone hides.
  bool selected = true;
};

struct RecognitionComment {
  std::int64_t survey_id = 0;
  std::string person, role, team;
  TimePoint contact_at;
  std::optional<int> q[5];
  std::string comment;  // personal data: its contact details masked (by the database)
};

struct RecognitionData {
  std::vector<PersonScores> people;  // everyone with answers in [from, to), by team, person, role
  std::vector<RecognitionComment> comments;
  // False when [from, to) held more comments than comment_limit: counts made from them are short.
  bool comments_complete = true;
};

struct NewDigest {
  std::string team;
  TimePoint period_start, period_end;
  std::string recipient;
  std::string subject, body;
};

// Everything raised so far, for `surveyd report`: alerts by kind and status, and their notices.
struct AlertSummary {
  struct Kind {
    std::string kind;
    std::int64_t open = 0, acknowledged = 0, resolved = 0;
  };
  std::vector<Kind> kinds;  // by kind's name
  // The alerts' notices (webhook and e-mails, every round): delivered, still to be (pending or
  // being sent) and given up after their attempts.
  std::int64_t notices_sent = 0, notices_waiting = 0, notices_failed = 0;
  std::int64_t digests = 0, digests_sent = 0;  // weekly recognition digests, and those e-mailed
};

class AlertStore {
 public:
  virtual ~AlertStore() = default;

  virtual std::vector<AlertView> ListAlerts(const AlertFilter& filter) = 0;
  virtual std::optional<AlertDetail> GetAlert(std::int64_t id) = 0;
  // Recorded in alert_events with the actor. Acknowledging also cancels re-notices not yet sent.
  virtual AlertUpdate Acknowledge(std::int64_t id, const Actor& actor, const std::string& note,
                                  TimePoint now) = 0;
  virtual AlertUpdate Resolve(std::int64_t id, const Actor& actor, const std::string& note,
                              TimePoint now) = 0;
  // The number behind an alert's survey, to call back. The reveal is recorded (actor, reason)
  // in the same transaction; if that cannot be written, nothing is revealed.
  virtual Reveal RevealNumber(std::int64_t id, const Actor& actor, const std::string& reason,
                              TimePoint now) = 0;

  // Creates the notices of every alert whose next round is due (FOR UPDATE SKIP LOCKED: each
  // round once, whatever the number of instances) and plans the next. Returns how many rounds.
  virtual int ScheduleNotices(TimePoint now, const NoticePolicy& policy, int limit) = 0;
  // Claims up to `limit` notices due at `now` for `lease` (of `channel` alone, unless nullopt);
  // a claim that runs out is claimed again.
  virtual std::vector<Notice> ClaimNotices(TimePoint now, int limit, const std::string& worker,
                                           std::chrono::seconds lease,
                                           std::optional<NoticeChannel> channel) = 0;
  // Records the attempt (always) and moves the notice on, if the claim is still this one's.
  virtual void RecordNotice(const Notice& notice, const NoticeResult& result, TimePoint now) = 0;

  virtual RecognitionData Recognition(const RecognitionFilter& filter) = 0;
  // Teams (handler_team or department) with answers given in [from, to).
  virtual std::vector<std::string> TeamsWithAnswers(TimePoint from, TimePoint to) = 0;
  // Stores a digest and its e-mail notice, unless the team's digest for that period exists:
  // true when this call created it.
  virtual bool CreateDigest(const NewDigest& digest, TimePoint now) = 0;

  virtual AlertSummary Summary() = 0;
};

}  // namespace surveyd::store
