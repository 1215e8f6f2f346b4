#include "surveyd/survey/sms_replies.hpp"

#include "surveyd/core/sms_reply.hpp"

namespace surveyd::survey {
namespace {

using store::MessageKind;
using store::ReplyPlan;

// Where to get help now, in `language`, when the text calls for it and the number was not sent
// it within the rules' help_now.at_most_every (a text back to it must not start a loop).
void AddHelp(ReplyPlan& plan, const rules::RuleSet& rules, const store::ReplyContext& context,
             bool calls_for_help, const std::string& language, TimePoint now) {
  if (!calls_for_help || !plan.survey_id) return;
  if (context.helped_at && now - *context.helped_at < rules.replies().help_now_every) return;
  if (const std::string* text = rules.replies().HelpNow(language)) {
    plan.texts.push_back({MessageKind::kHelp, *text, now + kHelpWindow});
  }
}

// A text that answers nothing (its survey's conversation over, or a link survey's) is answered
// once per survey with why, so that the citizen does not think it counted: a two-way survey's
// `closed` text, or a link survey's link_reply, in its language (else English). Never to a text
// that calls for help (the help answers it, or went a moment ago), nor after the survey's late
// texts got help (a "thank you" then reads as not having been heard), nor to a number that
// opted out. Once per survey: a reply to it (an auto-reply too) finds the survey answered.
void AddNotice(ReplyPlan& plan, const rules::RuleSet& rules, const store::ReplyContext& context,
               bool two_way, bool answered_late, bool calls_for_help, const std::string& language,
               TimePoint now) {
  if (!plan.survey_id || answered_late || calls_for_help || context.opted_out) return;
  const std::string* text = nullptr;
  if (two_way) {
    const rules::TwoWayTexts* texts = rules.replies().TwoWay(language);
    if (texts == nullptr) texts = rules.replies().TwoWay("en");
    if (texts != nullptr) text = &texts->closed;
  } else {
    text = rules.replies().LinkReply(language);
  }
  if (text == nullptr || text->empty()) return;
  plan.texts.push_back(
      {two_way ? MessageKind::kClosed : MessageKind::kLinkReply, *text, now + kNoticeWindow});
}

ReplyPlan OptOut(const rules::RuleSet& rules, const store::ReplyContext& context, TimePoint now) {
  ReplyPlan plan;
  plan.disposition = "opt_out";
  plan.opt_out = true;
  plan.survey_id = context.latest_survey_id;
  if (!context.latest_survey_id) return plan;
  if (!context.confirmed_before) {
    if (const std::string* text = rules.replies().Confirmation(context.latest_language)) {
      plan.texts.push_back({MessageKind::kConfirmation, *text, now + kConfirmationWindow});
    }
  }
  // "STOP, he is back": opted out, and still told where to get help.
  AddHelp(plan, rules, context, context.latest_calls_for_help, context.latest_language, now);
  return plan;
}

// The conversation's step after the awaited question got an answer (or was kept as a comment).
void MoveOn(ReplyPlan& plan, const rules::TwoWayTexts& texts, int question, TimePoint expires_at) {
  if (question < static_cast<int>(texts.questions.size())) {
    plan.conversation_state = "open";
    plan.next_question = question + 1;
    plan.texts.push_back(
        {MessageKind::kQuestion, texts.questions[static_cast<std::size_t>(question)], expires_at});
  } else {
    plan.conversation_state = "finished";
    plan.next_question = question;
    plan.texts.push_back({MessageKind::kQuestion, texts.thanks, expires_at});
  }
}

}  // namespace

store::ReplyPlan PlanReply(const rules::RuleSet& rules, const store::ReplyContext& context,
                           std::string_view body, TimePoint now) {
  if (sms_reply::IsOptOut(body)) return OptOut(rules, context, now);

  ReplyPlan plan;
  plan.survey_id = context.latest_survey_id;
  if (!context.two_way || context.two_way->state != "open") {
    // Nothing waits for it (a link survey's, a late one): kept, and answered with help, or with
    // why it answers nothing.
    AddHelp(plan, rules, context, context.latest_calls_for_help, context.latest_language, now);
    AddNotice(plan, rules, context, context.latest_two_way, context.latest_answered_late,
              context.latest_calls_for_help, context.latest_language, now);
    return plan;
  }
  const store::ReplyContext::TwoWay& conversation = *context.two_way;
  const TimePoint expires_at = conversation.begun_at + rules.replies().conversation_lasts;
  plan.survey_id = conversation.survey_id;
  plan.question = conversation.question;
  plan.conversation_expires_at = expires_at;
  plan.next_question = conversation.question;
  if (now >= expires_at) {
    plan.conversation_state = "expired";
    AddHelp(plan, rules, context, conversation.calls_for_help, conversation.language, now);
    AddNotice(plan, rules, context, /*two_way=*/true, conversation.answered_late,
              conversation.calls_for_help, conversation.language, now);
    return plan;
  }
  if (conversation.calls_for_help) {
    // "he hit me again and im scared": kept as the comment (its alert is raised with it), and
    // answered with where to get help now, not with a question about our service. Nothing more
    // is asked: a survey question after that reads as not having been heard.
    plan.disposition = "comment";
    plan.comment = std::string(body);
    plan.conversation_state = "help";
    AddHelp(plan, rules, context, true, conversation.language, now);
    return plan;
  }
  const rules::TwoWayTexts* texts = rules.replies().TwoWay(conversation.language);
  if (texts == nullptr) return plan;  // a reload took its texts away: nothing more is asked

  if (const auto score = sms_reply::ParseScore(body)) {
    plan.disposition = "answer";
    plan.score = score;
    MoveOn(plan, *texts, conversation.question, expires_at);
  } else if (conversation.repeats_earlier) {
    // A phone's auto-reply answers every text we send: each question would bring the next, and
    // the driver would get twelve texts in twenty seconds. The conversation ends here, quietly:
    // kept (a reply), nothing more is asked, and a later text is told the survey has closed.
    plan.disposition = "reply";
    plan.conversation_state = "expired";
  } else if (!conversation.asked_again) {
    plan.disposition = "asked_again";
    // Kept now, as a comment, not only when a second text comes: it may be all the citizen
    // says ("I am still scared to go home"), and it must reach the alert rules now.
    plan.comment = std::string(body);
    plan.conversation_state = "open";
    plan.next_asked_again = true;
    plan.texts.push_back({MessageKind::kQuestion,
                          texts->ask_again + " " +
                              texts->questions[static_cast<std::size_t>(conversation.question - 1)],
                          expires_at});
  } else {
    plan.disposition = "comment";
    plan.comment = std::string(body);
    MoveOn(plan, *texts, conversation.question, expires_at);
  }
  return plan;
}

}  // namespace surveyd::survey
