#include "surveyd/survey/sms_replies.hpp"

#include "surveyd/core/sms_reply.hpp"

namespace surveyd::survey {
namespace {

using store::MessageKind;
using store::ReplyPlan;

ReplyPlan OptOut(const rules::RuleSet& rules, const store::ReplyContext& context, TimePoint now) {
  ReplyPlan plan;
  plan.disposition = "opt_out";
  plan.opt_out = true;
  plan.survey_id = context.latest_survey_id;
  if (context.confirmed_before || !context.latest_survey_id) return plan;
  if (const std::string* text = rules.replies().Confirmation(context.latest_language)) {
    plan.texts.push_back({MessageKind::kConfirmation, *text, now + kConfirmationWindow});
  }
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
  if (!context.two_way || context.two_way->state != "open") return plan;
  const store::ReplyContext::TwoWay& conversation = *context.two_way;
  const TimePoint expires_at = conversation.begun_at + rules.replies().conversation_lasts;
  plan.survey_id = conversation.survey_id;
  plan.question = conversation.question;
  plan.conversation_expires_at = expires_at;
  plan.next_question = conversation.question;
  if (now >= expires_at) {
    plan.conversation_state = "expired";
    return plan;
  }
  const rules::TwoWayTexts* texts = rules.replies().TwoWay(conversation.language);
  if (texts == nullptr) return plan;  // a reload took its texts away: nothing more is asked

  if (const auto score = sms_reply::ParseScore(body)) {
    plan.disposition = "answer";
    plan.score = score;
    MoveOn(plan, *texts, conversation.question, expires_at);
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
