#include "surveyd/alerts/alert_rules.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

namespace surveyd::alerts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string SourcePath(const std::string& relative) {
  return std::string(SURVEYD_SOURCE_DIR) + "/" + relative;
}

std::string All(const std::vector<rules::RuleError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.ToString() + "\n";
  return out;
}

// A rules file with only what the alert rules read, and the shipped lexicon beside it.
AlertConfigLoad Load(const std::string& alerts) {
  const std::string yaml = "groups:\n  - id: force_contact\n  - id: force_response\n" + alerts;
  return LoadAlertConfigString(yaml, "rules.yaml", SourcePath("config"));
}

Answer Comment(const std::string& text, const std::string& group = "force_contact") {
  Answer answer;
  answer.comment = text;
  answer.group = group;
  return answer;
}

TEST(AlertRulesLoad, ShippedRulesLoadWithoutWarnings) {
  const auto loaded = LoadAlertConfigFile(SourcePath("config/rules.yaml"));
  EXPECT_EQ(All(loaded.errors), "");
  EXPECT_EQ(All(loaded.warnings), "");
  ASSERT_TRUE(loaded.config);
  const AlertConfig& config = *loaded.config;
  ASSERT_EQ(config.rules.size(), 4u);
  EXPECT_EQ(config.rules[0].kind, AlertKind::kSafeguarding);
  EXPECT_EQ(config.rules[0].severity, AlertSeverity::kUrgent);
  EXPECT_THAT(config.rules[0].categories, ElementsAre("safeguarding"));
  EXPECT_EQ(config.rules[1].severity, AlertSeverity::kHigh);
  EXPECT_EQ(config.RenotifyAfter(AlertSeverity::kUrgent), std::chrono::minutes(15));
  EXPECT_EQ(config.RenotifyAfter(AlertSeverity::kHigh), std::chrono::hours(24));
  EXPECT_FALSE(config.RenotifyAfter(AlertSeverity::kNormal));
  EXPECT_EQ(config.max_renotify, 4);
  EXPECT_THAT(config.Summary(), HasSubstr("4 alert rules; lexicon: 8 entries"));
}

TEST(AlertRulesLoad, ReportsEveryMistakeWithItsPlace) {
  const auto loaded = Load(R"(alerts:
  lexicon: alert_lexicon.yaml
  renotify_after: {urgent: soon, critical: 5m}
  max_renotify: 99
  rules:
    - id: Bad
      kind: safeguarding
    - id: no_kind
    - id: scores
      kind: low_scores
      questions: [q1, q9]
    - id: words
      kind: complaint
      lexicon: [complaint, grumbles]
      at_or_below: 2
    - id: grouped
      kind: safeguarding
      groups: [force_contacts]
      severty: high
)");
  EXPECT_FALSE(loaded.config);
  const std::string all = All(loaded.errors);
  EXPECT_THAT(all, HasSubstr("rules.yaml:6:28: renotify_after.urgent must be a duration"));
  EXPECT_THAT(all, HasSubstr("unknown severity 'critical'"));
  EXPECT_THAT(all, HasSubstr("max_renotify must be a whole number from 0 to 20"));
  EXPECT_THAT(all, HasSubstr("alert rule id must be lower-case"));
  EXPECT_THAT(all, HasSubstr("alert rule 'no_kind' has no kind"));
  EXPECT_THAT(all, HasSubstr("unknown question 'q9'"));
  EXPECT_THAT(all, HasSubstr("low_scores rule 'scores' needs at_or_below"));
  EXPECT_THAT(all, HasSubstr("questions and at_or_below are for low_scores rules"));
  EXPECT_THAT(all, HasSubstr("names lexicon category 'grumbles', which has no entries"));
  EXPECT_THAT(all, HasSubstr("unknown survey group 'force_contacts'"));
  EXPECT_THAT(all, HasSubstr("unknown key 'severty'"));
}

TEST(AlertRulesLoad, AKeyGivenTwiceIsAnError) {
  const auto loaded = Load(R"(alerts:
  lexicon: alert_lexicon.yaml
  rules:
    - {id: scared, kind: safeguarding, lexicon: [safeguarding]}
  rules:
    - {id: rude, kind: complaint, lexicon: [complaint], kind: praise}
)");
  EXPECT_FALSE(loaded.config);
  const std::string all = All(loaded.errors);
  EXPECT_THAT(all, HasSubstr("duplicate key 'rules' (first on line 6)"));
  EXPECT_THAT(all, HasSubstr("duplicate key 'kind' (first on line 9)"));
}

TEST(AlertRulesLoad, MissingSectionOrLexicon) {
  auto loaded = Load("force_name: X\n");
  ASSERT_TRUE(loaded.config) << All(loaded.errors);
  EXPECT_TRUE(loaded.config->rules.empty());
  EXPECT_THAT(All(loaded.warnings), HasSubstr("no 'alerts:' section"));

  loaded = Load("alerts:\n  lexicon: nowhere.yaml\n  rules: []\n");
  EXPECT_FALSE(loaded.config);
  EXPECT_THAT(All(loaded.errors), HasSubstr("cannot read the lexicon"));

  loaded = Load(
      "alerts:\n  lexicon: alert_lexicon.yaml\n  rules:\n"
      "    - {id: c, kind: complaint}\n");
  ASSERT_TRUE(loaded.config);
  EXPECT_THAT(All(loaded.warnings), HasSubstr("no safeguarding alert rule"));
}

class AlertRulesEvaluate : public ::testing::Test {
 protected:
  AlertRulesEvaluate() {
    auto loaded = Load(R"(alerts:
  lexicon: alert_lexicon.yaml
  rules:
    - {id: risk, kind: safeguarding}
    - {id: risk_response_only, kind: safeguarding, severity: high, groups: [force_response]}
    - {id: complaint, kind: complaint}
    - {id: all_low, kind: low_scores, questions: [q1, q2, q3, q4, q5], at_or_below: 1}
    - {id: any_zero, kind: low_scores, severity: high, questions: [q1, q5], at_or_below: 0,
       match: any}
)");
    EXPECT_EQ(All(loaded.errors), "");
    config_ = loaded.config;
  }
  std::shared_ptr<const AlertConfig> config_;
};

TEST_F(AlertRulesEvaluate, OneAlertPerKindWithTheRulesAndWordsThatMatched) {
  ASSERT_TRUE(config_);
  const auto alerts =
      RaiseAlerts(*config_, Comment("He's back and I'm scared. Nobody came. Please call me"));
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].kind, AlertKind::kSafeguarding);
  EXPECT_EQ(alerts[0].severity, AlertSeverity::kUrgent);
  EXPECT_THAT(alerts[0].rules, ElementsAre("risk"));
  EXPECT_THAT(alerts[0].matched, ElementsAre("violence:hes back", "fear:scared"));
  EXPECT_EQ(alerts[1].kind, AlertKind::kComplaint);
  EXPECT_THAT(alerts[1].matched,
              ElementsAre("complain:nobody came", "contact_me:please call", "contact_me:call me"));
}

TEST_F(AlertRulesEvaluate, GroupsLimitRulesAndTheMostSevereWins) {
  ASSERT_TRUE(config_);
  auto alerts = RaiseAlerts(*config_, Comment("I am terrified", "force_response"));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_THAT(alerts[0].rules, ElementsAre("risk", "risk_response_only"));
  EXPECT_EQ(alerts[0].severity, AlertSeverity::kUrgent);
  alerts = RaiseAlerts(*config_, Comment("I am terrified", "force_contact"));
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_THAT(alerts[0].rules, ElementsAre("risk"));
}

TEST_F(AlertRulesEvaluate, LowScoresAllOrAny) {
  ASSERT_TRUE(config_);
  Answer answer;
  answer.group = "force_contact";
  for (auto& q : answer.q) q = 1;
  auto alerts = RaiseAlerts(*config_, answer);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].kind, AlertKind::kLowScores);
  EXPECT_THAT(alerts[0].rules, ElementsAre("all_low"));
  EXPECT_EQ(alerts[0].severity, AlertSeverity::kNormal);
  answer.q[2].reset();  // "all" means all: a blank question is not low
  EXPECT_TRUE(RaiseAlerts(*config_, answer).empty());
  answer.q[4] = 0;  // "any": one zero is enough
  alerts = RaiseAlerts(*config_, answer);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_THAT(alerts[0].rules, ElementsAre("any_zero"));
  EXPECT_THAT(alerts[0].matched, ElementsAre("q5=0"));
  EXPECT_EQ(alerts[0].severity, AlertSeverity::kHigh);
  Answer blank;
  EXPECT_TRUE(RaiseAlerts(*config_, blank).empty());
}

TEST_F(AlertRulesEvaluate, NegatedRiskRaisesNothingAndExplainSaysWhy) {
  ASSERT_TRUE(config_);
  const Answer answer = Comment("I no longer feel unsafe, thank you");
  const Evaluation evaluation = Evaluate(*config_, answer);
  EXPECT_TRUE(evaluation.alerts.empty());
  const std::string text = ExplainAnswer(evaluation, answer);
  EXPECT_THAT(text, HasSubstr("\"i no longer feel unsafe | thank you\""));
  EXPECT_THAT(text, HasSubstr("(negated by \"no longer\": does not count)"));
  EXPECT_THAT(text, HasSubstr("-      risk (safeguarding, urgent)"));
  EXPECT_THAT(text, HasSubstr("alerts raised: none"));
  EXPECT_THAT(text, HasSubstr("thank-you page: the usual thanks"));
  const Answer risky = Comment("mae e nôl");
  EXPECT_THAT(ExplainAnswer(Evaluate(*config_, risky), risky),
              HasSubstr("thank-you page: shows how to get help now"));
}

// A word of safety after a negation is a risk, named as it was read, so the supervisor sees
// "dont really feel safe" and not a bare "safe".
TEST_F(AlertRulesEvaluate, ANegatedWordOfSafetyRaisesNamedWithItsNegation) {
  ASSERT_TRUE(config_);
  const Answer answer = Comment("I don't really feel safe at home");
  const Evaluation evaluation = Evaluate(*config_, answer);
  ASSERT_EQ(evaluation.alerts.size(), 1u);
  EXPECT_EQ(evaluation.alerts[0].kind, AlertKind::kSafeguarding);
  EXPECT_THAT(evaluation.alerts[0].matched, ElementsAre("fear:dont really feel safe"));
  EXPECT_THAT(ExplainAnswer(evaluation, answer),
              HasSubstr("fear: \"safe\" after the negation \"dont\" (\"dont really feel safe\": "
                        "counts)"));
  EXPECT_TRUE(RaiseAlerts(*config_, Comment("I feel safe now, thank you")).empty());
}

}  // namespace
}  // namespace surveyd::alerts
