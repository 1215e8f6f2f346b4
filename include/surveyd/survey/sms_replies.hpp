#pragma once
// What a citizen's text does, whatever gateway it came through: decided purely from the text, the
// rules in force and what the store knows about the number (store::ReplyContext), and applied by
// the store in one transaction (SurveyStore::ReceiveReply).
//
//  - An opt-out (sms_reply::IsOptOut) opts the number out at once; a confirmation is queued once
//    per number, in the language of its newest survey, if the rules have one and we ever texted
//    the number.
//  - Otherwise, while the number's two-way conversation is open (rules.replies().
//    conversation_lasts from its first text), the text answers the question awaiting one: a score
//    (sms_reply::ParseScore) fills it and the next question (or the thanks) is queued; a text that
//    is not a score is kept as a comment and the question is asked again once; a second one is
//    added to the comment (the store joins them in order) and the conversation moves on.
//  - Anything else is kept and counted as a reply nothing was waiting for, and answered once per
//    survey so that the citizen does not think it counted: after a two-way conversation ended
//    (finished, or past conversation_lasts) with the survey's `closed` text ("this survey has
//    closed, thank you; 101, 999"), and to a link survey with replies.link_reply ("use the link
//    in our text"), in the survey's language. Not to a number that opted out, and not when the
//    text calls for help (the help answers it) or the survey's late texts got help already.
//  - A text that calls for help now (store::CallsForHelp: it raises a safeguarding alert, as the
//    survey page decides for its help box) is also answered at once with where to get help
//    (rules.replies().HelpNow, in the survey's language), at most once per number every
//    help_now_every: an opt-out, a reply to a link survey, a late one, and a two-way answer,
//    whose conversation then ends ("help") with nothing more asked.
#include <chrono>
#include <string_view>

#include "surveyd/core/time.hpp"
#include "surveyd/rules/rule_set.hpp"
#include "surveyd/store/survey_store.hpp"

namespace surveyd::survey {

// A confirmation not sent within this long (the gateway down) is no longer worth sending.
inline constexpr std::chrono::hours kConfirmationWindow{6};
// Where to get help is still worth sending a day late: it says what to do next time too.
inline constexpr std::chrono::hours kHelpWindow{24};
// "This survey has closed" means little hours after the text it answers.
inline constexpr std::chrono::hours kNoticeWindow{6};

store::ReplyPlan PlanReply(const rules::RuleSet& rules, const store::ReplyContext& context,
                           std::string_view body, TimePoint now);

}  // namespace surveyd::survey
