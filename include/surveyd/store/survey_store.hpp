#pragma once
// Surveys as the citizen's pages and replies see them: look-up by token hash, first open,
// answers, and opting out.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/alert.hpp"
#include "surveyd/core/delivery.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"
#include "surveyd/store/outbox_store.hpp"

namespace surveyd::store {

struct SurveyView {
  std::int64_t survey_id = 0;
  std::string group;     // survey group id
  std::string language;  // "en", "pl", ...
  EventType event_type = EventType::kCallEnded;
  std::optional<std::string> channel;  // for "your call to 101"
  TimePoint contact_at;                // occurred_at of the event
  TimePoint expires_at;                // the survey takes answers until then (surveys.closes_at)
  bool responded = false;
  // Its number opted out (by its stop link, a STOP reply, or ops): the stop link says so rather
  // than asking again. Never whether its answer disclosed a risk: a page shown again looks the
  // same whatever the answer said, so that whoever picks the phone up later learns nothing.
  bool opted_out = false;
  std::optional<TimePoint> opened_at;
  // The survey still holds its number's keyed hash, so its stop link can opt the number out,
  // closed or not; retention drops it after phone_hash_days (docs/data-protection.md).
  bool number_known = true;
};

struct SurveyAnswers {
  std::optional<int> q[5];  // 0-10 or blank
  std::string comment;      // at most 2,000 characters; personal data
  std::string language;
  // What these answers raise (alerts::RaiseAlerts, decided before the call): stored in the
  // answer's transaction, once per survey and kind, so none is lost and none doubled.
  std::vector<NewAlert> alerts;
};

enum class SubmitOutcome { kStored, kAlreadyAnswered, kExpired, kNotFound };

// What an answer raises under the alert rules in force (alerts::RaiseAlerts): one function for
// both ways an answer comes. The survey page asks it before storing a posted answer; the store
// asks it, inside the transaction, of a two-way answer as it stands after each text. Null:
// nothing is raised.
using AlertFn = std::function<std::vector<NewAlert>(const SurveyView&, const SurveyAnswers&)>;

// A citizen's text read as a comment alone would be, in the survey's language: what it raises by
// itself (a text back to a link, a two-way answer's free text, a text on a closed page).
SurveyAnswers TextAsComment(const SurveyView& view, const std::string& text);
// Whether `answers` call for help now: they raise a safeguarding alert under `raise_alerts`. The
// one decision behind the survey page's help box and the help texted back to a citizen's text.
bool CallsForHelp(const AlertFn& raise_alerts, const SurveyView& view,
                  const SurveyAnswers& answers);

// What the store knows about a number when a text from it arrives: what deciding the reply needs.
struct ReplyContext {
  bool opted_out = false;         // before this text
  bool confirmed_before = false;  // an opt-out confirmation was already queued for the number
  // The number's newest survey (a confirmation goes out in its language); none: we never texted
  // this number, and do not start now.
  std::optional<std::int64_t> latest_survey_id;
  std::string latest_language;
  // Whether this text, read against the newest survey, calls for help now (CallsForHelp on the
  // text as a comment alone).
  bool latest_calls_for_help = false;
  // Whether the newest survey is a two-way one (and, unless `two_way` is it, one whose
  // conversation is over) rather than a link survey.
  bool latest_two_way = false;
  // Whether a text back to the newest survey was already answered outside its questions: with
  // the notice that it takes no answer (MessageKind kClosed, kLinkReply) or with where to get
  // help. The notice goes once per survey, and never after help.
  bool latest_answered_late = false;
  // When the number was last answered with where to get help, if its texts still say.
  std::optional<TimePoint> helped_at;
  // The number's open two-way conversation, the one waiting for its answer (the newest if
  // several are open): a two-way survey whose text was begun, and the conversation so far.
  struct TwoWay {
    std::int64_t survey_id = 0;
    std::string language;
    TimePoint begun_at;           // the conversation runs from then
    std::string state = "open";   // open, finished, expired, opted_out, help
    int question = 1;             // awaiting an answer
    bool asked_again = false;     // the question was asked again after an unreadable reply
    bool calls_for_help = false;  // this text, read against this survey, calls for help now
    bool answered_late = false;   // as latest_answered_late, for this survey
    // This text is word for word one kept in this conversation in the last ten minutes (as a
    // comment, or asked again about): a phone's auto-reply ("I'm driving"), answering each text
    // we send.
    bool repeats_earlier = false;
  };
  std::optional<TwoWay> two_way;
};

// A text to queue to the number, through the outbox (rate-limited, fenced, recorded).
struct QueuedText {
  MessageKind kind = MessageKind::kQuestion;
  std::string body;
  TimePoint expires_at;
};

// What a citizen's text does, decided (purely) from the text and the context.
struct ReplyPlan {
  // opt_out, answer, asked_again, comment, reply (nothing was waiting for it), unknown_sender.
  std::string disposition = "reply";
  bool opt_out = false;
  std::optional<std::int64_t> survey_id;  // the survey it was read against
  int question = 0;                       // the question it answered or was kept for
  std::optional<int> score;               // an answer to `question`, 0-10
  std::string comment;                    // free text kept in the survey's response
  // The conversation afterwards (when survey_id is a two-way survey's).
  std::string conversation_state;  // empty: unchanged; open, finished, expired, opted_out, help
  int next_question = 1;
  bool next_asked_again = false;
  TimePoint conversation_expires_at;
  // The next question, the thanks, a confirmation, where to get help (kHelp: the text is then
  // stored as answered with it).
  std::vector<QueuedText> texts;
};
using ReplyFn = std::function<ReplyPlan(const ReplyContext& context, const std::string& body)>;

struct ReplyOutcome {
  bool duplicate = false;   // the gateway delivered this message before: nothing changed
  std::string disposition;  // ReplyPlan::disposition
  int texts_queued = 0;
  int alerts_raised = 0;  // alerts new or opened again (one open already is not counted again)
};

struct SurveyOpen {
  std::int64_t survey_id = 0;
  TimePoint at;
};

class SurveyStore {
 public:
  virtual ~SurveyStore() = default;

  virtual std::optional<SurveyView> FindSurveyByTokenHash(const std::string& token_hash) = 0;
  virtual void MarkOpened(std::int64_t survey_id, TimePoint now) = 0;  // first open only
  // Several first opens at once (the survey pages queue them); each counts only for a survey not
  // opened yet. All or none: on Unavailable, none was recorded.
  virtual void MarkOpenedBatch(const std::vector<SurveyOpen>& opens) {
    for (const auto& open : opens) MarkOpened(open.survey_id, open.at);
  }
  virtual SubmitOutcome SubmitResponse(std::int64_t survey_id, const SurveyAnswers& answers,
                                       TimePoint now) = 0;

  // Opt-out of every future survey for this number (E.164); idempotent. Queued texts to the
  // number are cancelled in the same transaction.
  virtual void OptOut(const std::string& e164, const std::string& source, TimePoint now) = 0;
  // Opt-out through the survey link: the number behind that survey.
  virtual bool OptOutBySurvey(std::int64_t survey_id, const std::string& source, TimePoint now) = 0;

  // What a citizen wrote on the page of a survey that closed or was answered already: no answer,
  // but kept as a text back to the survey is (personal data, blanked after reply_days; linked
  // to the number's hash while the survey has it) with the `alerts` it raises (each kind once
  // per survey; one dealt with opens again), in one transaction. Kept once: false, and nothing
  // raised, when the survey already holds the same words (the form sent twice), already holds
  // kMaxLateTexts of them, or is not found.
  static constexpr int kMaxLateTexts = 20;
  virtual bool KeepLateText(std::int64_t survey_id, const std::string& text,
                            const std::vector<NewAlert>& alerts, TimePoint now) = 0;

  // A citizen's text, in one transaction: stored (personal data, like a comment; the number only
  // as its keyed hash) and counted by what it did, once per gateway message id; then what `plan`
  // decides from the store's context is applied: an opt-out (queued texts cancelled, the
  // conversation closed), an answer or free text in the survey's response, the conversation's
  // next step, and texts queued through the outbox. When the text added to a response, the
  // response as it now stands goes to `raise_alerts`, as a posted answer would, and what it
  // raises is stored with it: each kind once per survey, brought up to date by later texts. A
  // text without a readable sender is stored as unknown_sender and planned no further.
  virtual ReplyOutcome ReceiveReply(const InboundSms& sms, const ReplyFn& plan,
                                    const AlertFn& raise_alerts, TimePoint now) = 0;
};

}  // namespace surveyd::store
