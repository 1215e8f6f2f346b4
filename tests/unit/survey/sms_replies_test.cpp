#include "surveyd/survey/sms_replies.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/rules/rules_test_util.hpp"

namespace surveyd::survey {
namespace {

using namespace std::chrono_literals;
using rules::testing::At;
using rules::testing::MustLoad;
using rules::testing::SourcePath;
using store::MessageKind;
using store::ReplyContext;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class PlanReplyTest : public ::testing::Test {
 protected:
  // The shipped rules: two-way texts in en, pl and cy, and an opt-out confirmation.
  std::shared_ptr<const rules::RuleSet> rules_ = MustLoad(SourcePath("config/rules.yaml"));
  TimePoint begun_ = At("2026-11-26T10:00:00Z");

  ReplyContext Conversation(int question, bool asked_again = false, std::string language = "en") {
    ReplyContext context;
    context.latest_survey_id = 7;
    context.latest_language = language;
    context.two_way = ReplyContext::TwoWay{7, language, begun_, "open", question, asked_again};
    return context;
  }
};

TEST_F(PlanReplyTest, AnOptOutIsConfirmedOnceInTheNumbersLanguage) {
  ReplyContext context = Conversation(2, false, "cy");
  auto plan = PlanReply(*rules_, context, "Stop please", begun_ + 1h);
  EXPECT_TRUE(plan.opt_out);
  EXPECT_EQ(plan.disposition, "opt_out");
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_EQ(plan.texts[0].kind, MessageKind::kConfirmation);
  EXPECT_THAT(plan.texts[0].body, HasSubstr("Diolch"));
  EXPECT_EQ(plan.texts[0].expires_at, begun_ + 1h + kConfirmationWindow);

  context.confirmed_before = true;
  plan = PlanReply(*rules_, context, "STOP", begun_ + 2h);
  EXPECT_TRUE(plan.opt_out);
  EXPECT_TRUE(plan.texts.empty()) << "a confirmation is sent once";

  ReplyContext stranger;  // we never texted this number: opted out, and not texted now
  plan = PlanReply(*rules_, stranger, "unsubscribe", begun_);
  EXPECT_TRUE(plan.opt_out);
  EXPECT_TRUE(plan.texts.empty());
}

TEST_F(PlanReplyTest, AScoreAnswersTheQuestionAndAsksTheNext) {
  for (const char* body : {"8", " 8/10 ", "eight"}) {
    auto plan = PlanReply(*rules_, Conversation(2), body, begun_ + 1h);
    EXPECT_EQ(plan.disposition, "answer") << body;
    EXPECT_EQ(plan.score, 8) << body;
    EXPECT_EQ(plan.question, 2);
    EXPECT_EQ(plan.conversation_state, "open");
    EXPECT_EQ(plan.next_question, 3);
    ASSERT_EQ(plan.texts.size(), 1u);
    EXPECT_THAT(plan.texts[0].body, StartsWith("Q3/5"));
    EXPECT_EQ(plan.texts[0].expires_at, begun_ + rules_->replies().conversation_lasts);
  }
  auto last = PlanReply(*rules_, Conversation(5), "10", begun_ + 1h);
  EXPECT_EQ(last.conversation_state, "finished");
  ASSERT_EQ(last.texts.size(), 1u);
  EXPECT_THAT(last.texts[0].body, HasSubstr("Thank you"));
}

TEST_F(PlanReplyTest, AnUnreadableReplyIsKeptAndAskedAgainOnceThenKeptAsAComment) {
  auto plan = PlanReply(*rules_, Conversation(1), "it was ok I suppose", begun_ + 1h);
  EXPECT_EQ(plan.disposition, "asked_again");
  EXPECT_FALSE(plan.score);
  EXPECT_EQ(plan.comment, "it was ok I suppose") << "kept at once: it may be all they say";
  EXPECT_TRUE(plan.next_asked_again);
  EXPECT_EQ(plan.next_question, 1);
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_THAT(plan.texts[0].body, HasSubstr("Q1/5"));

  plan = PlanReply(*rules_, Conversation(1, true), "still not a number", begun_ + 1h);
  EXPECT_EQ(plan.disposition, "comment");
  EXPECT_EQ(plan.comment, "still not a number");
  EXPECT_EQ(plan.next_question, 2);
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_THAT(plan.texts[0].body, StartsWith("Q2/5"));
}

TEST_F(PlanReplyTest, AnAutoReplyEndsTheConversationQuietly) {
  // "I'm driving" answered every text: each question brought the next, twelve texts in twenty
  // seconds, all five questions "answered" with it.
  ReplyContext context = Conversation(1, true);
  context.two_way->repeats_earlier = true;
  const auto plan = PlanReply(*rules_, context, "I'm driving with Do Not Disturb on", begun_ + 1h);
  EXPECT_EQ(plan.disposition, "reply");
  EXPECT_EQ(plan.conversation_state, "expired");
  EXPECT_TRUE(plan.comment.empty()) << "nothing new to keep";
  EXPECT_TRUE(plan.texts.empty()) << "nothing more is asked";
  // A score is a score, however often it is given.
  EXPECT_EQ(PlanReply(*rules_, context, "8", begun_ + 1h).disposition, "answer");
}

// Inside a conversation the short words that could be an answer stay answers: Welsh "dim"
// (none, zero) is a 0, and a bare "no" is asked again; "dim diolch" (no thanks) and "dim mwy o
// negeseuon" (no more messages) opt out.
TEST_F(PlanReplyTest, ShortWordsThatMayAnswerAQuestionAreNotOptOuts) {
  auto plan = PlanReply(*rules_, Conversation(1, false, "cy"), "dim", begun_ + 1h);
  EXPECT_EQ(plan.disposition, "answer");
  EXPECT_EQ(plan.score, 0);
  plan = PlanReply(*rules_, Conversation(1), "NO", begun_ + 1h);
  EXPECT_EQ(plan.disposition, "asked_again");
  EXPECT_FALSE(plan.opt_out);
  for (const char* body : {"dim diolch", "dim mwy o negeseuon", "S T O P", "wrong number"}) {
    plan = PlanReply(*rules_, Conversation(2, false, "cy"), body, begun_ + 1h);
    EXPECT_TRUE(plan.opt_out) << body;
    EXPECT_FALSE(plan.score) << body;
  }
}

// The audit: a reply after a two-way conversation ended (ran out, or finished) was kept, and the
// citizen heard nothing, so thought it counted. It answers nothing still, and is told so once per
// survey, in the survey's language, with 101 and 999; a link survey's text back is told to use
// the link. Never twice for a survey (an auto-reply cannot loop), never to a number that opted
// out, never instead of help.
TEST_F(PlanReplyTest, ALateReplyAnswersNothingAndIsToldSoOncePerSurvey) {
  const TimePoint late = begun_ + rules_->replies().conversation_lasts;
  auto plan = PlanReply(*rules_, Conversation(3), "7", late);
  EXPECT_EQ(plan.disposition, "reply");
  EXPECT_EQ(plan.conversation_state, "expired");
  EXPECT_FALSE(plan.score);
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_EQ(plan.texts[0].kind, MessageKind::kClosed);
  EXPECT_EQ(plan.texts[0].body, rules_->replies().TwoWay("en")->closed);
  EXPECT_THAT(plan.texts[0].body, HasSubstr("has closed"));
  EXPECT_THAT(plan.texts[0].body, HasSubstr("101"));
  EXPECT_THAT(plan.texts[0].body, HasSubstr("999"));
  EXPECT_EQ(plan.texts[0].expires_at, late + kNoticeWindow);
  ReplyContext told = Conversation(3, false, "cy");
  EXPECT_EQ(PlanReply(*rules_, told, "7", late).texts.at(0).body,
            rules_->replies().TwoWay("cy")->closed);
  told.two_way->answered_late = true;
  EXPECT_TRUE(PlanReply(*rules_, told, "7", late).texts.empty()) << "once per survey";

  // Finished (the store then finds no conversation waiting): the newest survey is two-way.
  ReplyContext finished;
  finished.latest_survey_id = 7;
  finished.latest_language = "pl";
  finished.latest_two_way = true;
  plan = PlanReply(*rules_, finished, "9", begun_ + 1h);
  EXPECT_EQ(plan.disposition, "reply");
  EXPECT_TRUE(plan.conversation_state.empty());
  EXPECT_EQ(plan.survey_id, 7);
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_EQ(plan.texts[0].kind, MessageKind::kClosed);
  EXPECT_EQ(plan.texts[0].body, rules_->replies().TwoWay("pl")->closed);
  finished.latest_answered_late = true;  // told, or helped, before
  EXPECT_TRUE(PlanReply(*rules_, finished, "9", begun_ + 1h).texts.empty());
  finished.latest_answered_late = false;
  finished.opted_out = true;
  EXPECT_TRUE(PlanReply(*rules_, finished, "9", begun_ + 1h).texts.empty())
      << "a number that opted out is texted only a confirmation, or help";

  // A link survey's text back: use the link.
  ReplyContext link_only;
  link_only.latest_survey_id = 3;
  plan = PlanReply(*rules_, link_only, "thanks, all good", begun_);
  EXPECT_EQ(plan.disposition, "reply");
  EXPECT_EQ(plan.survey_id, 3);
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_EQ(plan.texts[0].kind, MessageKind::kLinkReply);
  EXPECT_EQ(plan.texts[0].body, *rules_->replies().LinkReply("en"));
  EXPECT_THAT(plan.texts[0].body, HasSubstr("link"));
  EXPECT_THAT(plan.texts[0].body, HasSubstr("STOP"));
  link_only.latest_answered_late = true;
  EXPECT_TRUE(PlanReply(*rules_, link_only, "thanks again", begun_).texts.empty());

  // Help first: a late text that calls for it gets the help alone, even when the help went a
  // moment ago and is not sent again.
  ReplyContext scared = Conversation(3);
  scared.two_way->calls_for_help = true;
  scared.helped_at = late - 1min;
  EXPECT_TRUE(PlanReply(*rules_, scared, "he is back, help", late).texts.empty());
  ReplyContext scared_link;
  scared_link.latest_survey_id = 3;
  scared_link.latest_calls_for_help = true;
  plan = PlanReply(*rules_, scared_link, "he is back, help", begun_);
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_EQ(plan.texts[0].kind, MessageKind::kHelp);
  // A number we never texted gets nothing.
  EXPECT_TRUE(PlanReply(*rules_, ReplyContext{}, "who is this?", begun_).texts.empty());
}

// A text that calls for help now (the store reads it against the survey as the page would,
// store::CallsForHelp) is answered at once with where to get help, in the survey's language,
// whatever else it does: the audit's "he hit me again and im scared" got only "Sorry, please
// reply with one number from 0 to 10. Q1/5...".
TEST_F(PlanReplyTest, ATextThatCallsForHelpIsAnsweredWithWhereToGetIt) {
  const TimePoint now = begun_ + 1h;
  for (const auto& [language, words] : std::vector<std::pair<std::string, std::string>>{
           {"en", "If you are in danger now, call 999"},
           {"pl", "zadzwon pod 999"},
           {"cy", "ffoniwch 999"}}) {
    for (int question : {1, 4}) {
      ReplyContext context = Conversation(question, false, language);
      context.two_way->calls_for_help = true;
      const auto plan = PlanReply(*rules_, context, "he hit me again and im scared", now);
      EXPECT_EQ(plan.disposition, "comment") << language;
      EXPECT_EQ(plan.comment, "he hit me again and im scared") << "kept, and its alert with it";
      EXPECT_FALSE(plan.score);
      EXPECT_EQ(plan.conversation_state, "help") << "nothing more is asked";
      EXPECT_EQ(plan.next_question, question);
      ASSERT_EQ(plan.texts.size(), 1u) << language << " Q" << question;
      EXPECT_EQ(plan.texts[0].kind, MessageKind::kHelp);
      EXPECT_THAT(plan.texts[0].body, HasSubstr(words));
      EXPECT_THAT(plan.texts[0].body, HasSubstr("55"));
      EXPECT_EQ(plan.texts[0].expires_at, now + kHelpWindow);
    }
  }
}

TEST_F(PlanReplyTest, HelpIsTextedOutsideAConversationAndWithAnOptOutToo) {
  const TimePoint now = begun_ + 1h;
  // A reply to a link survey, in its language.
  ReplyContext link;
  link.latest_survey_id = 3;
  link.latest_language = "pl";
  link.latest_calls_for_help = true;
  auto plan = PlanReply(*rules_, link, "on wrocil, boje sie", now);
  EXPECT_EQ(plan.disposition, "reply");
  EXPECT_EQ(plan.survey_id, 3);
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_EQ(plan.texts[0].kind, MessageKind::kHelp);
  EXPECT_THAT(plan.texts[0].body, HasSubstr("zadzwon pod 999"));

  // Late: the conversation ran out; the text answers nothing, but still gets the help.
  ReplyContext late = Conversation(3);
  late.two_way->calls_for_help = true;
  plan = PlanReply(*rules_, late, "he is back, please help",
                   begun_ + rules_->replies().conversation_lasts + 1h);
  EXPECT_EQ(plan.disposition, "reply");
  EXPECT_EQ(plan.conversation_state, "expired");
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_EQ(plan.texts[0].kind, MessageKind::kHelp);

  // "STOP, he is back": opted out, confirmed, and told where to get help.
  ReplyContext stop = Conversation(2);
  stop.latest_calls_for_help = true;
  stop.two_way->calls_for_help = true;
  plan = PlanReply(*rules_, stop, "STOP texting me, he is back and I am scared", now);
  EXPECT_TRUE(plan.opt_out);
  ASSERT_EQ(plan.texts.size(), 2u);
  EXPECT_EQ(plan.texts[0].kind, MessageKind::kConfirmation);
  EXPECT_EQ(plan.texts[1].kind, MessageKind::kHelp);

  // A number we never texted gets nothing, help included: no survey holds it.
  ReplyContext stranger;
  stranger.latest_calls_for_help = true;
  EXPECT_TRUE(PlanReply(*rules_, stranger, "help me", now).texts.empty());
}

// Once per number every help_now.at_most_every: a reply to the help (or an auto-reply quoting
// it) never starts a loop; a disclosure after that gets it again.
TEST_F(PlanReplyTest, HelpGoesAtMostOncePerNumberEveryInterval) {
  const TimePoint now = begun_ + 3h;
  const Duration every = rules_->replies().help_now_every;
  ReplyContext context = Conversation(2);
  context.two_way->calls_for_help = true;
  context.helped_at = now - every + 1min;
  auto plan = PlanReply(*rules_, context, "I am scared he will come back tonight", now);
  EXPECT_EQ(plan.conversation_state, "help") << "still asks nothing more";
  EXPECT_TRUE(plan.texts.empty()) << "helped a moment ago";
  context.helped_at = now - every;
  plan = PlanReply(*rules_, context, "I am scared he will come back tonight", now);
  ASSERT_EQ(plan.texts.size(), 1u);
  EXPECT_EQ(plan.texts[0].kind, MessageKind::kHelp);
}

TEST_F(PlanReplyTest, ATextThatDoesNotCallForHelpGetsNone) {
  ReplyContext context = Conversation(1);
  context.helped_at.reset();
  for (const char* body : {"8", "it was ok I suppose", "thanks"}) {
    const auto plan = PlanReply(*rules_, context, body, begun_ + 1h);
    for (const auto& text : plan.texts) EXPECT_NE(text.kind, MessageKind::kHelp) << body;
    EXPECT_NE(plan.conversation_state, "help") << body;
  }
}

}  // namespace
}  // namespace surveyd::survey
