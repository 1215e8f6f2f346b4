// `surveyd rules explain FILE --answer` and the alerts: section in `rules check`, as an operator
// runs them (no database).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "surveyd/app/app.hpp"
#include "unit/app/run_cli.hpp"

namespace surveyd::app {
namespace {

using ::testing::HasSubstr;

using testing::Result;
using testing::RunCli;
using testing::Source;

TEST(ExplainAnswerCli, ShowsWhichAlertRulesAnAnswerFires) {
  const Result r = RunCli({"rules", "explain", Source("config/rules.yaml"), "--answer", "-"},
                          R"({"comment": "Nie czuję się bezpiecznie, on wrócił", "q1": 0,
                              "group": "force_contact"})");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"nie czuje sie bezpiecznie | on wrocil\""));
  EXPECT_THAT(r.out, HasSubstr("safeguarding fear: \"bezpieczn*\" after the negation \"nie\" "
                               "(\"nie czuje sie bezpieczn*\": counts)"));
  // Named in the lexicon's words (its stem), never the comment's.
  EXPECT_THAT(r.out, HasSubstr("fear:nie czuje sie bezpieczn*, violence:on wrocil"));
  EXPECT_THAT(r.out, HasSubstr("FIRES  safeguarding_words (safeguarding, urgent)"));
  EXPECT_THAT(r.out, HasSubstr("FIRES  not_treated_with_respect (low_scores, normal)"));
  EXPECT_THAT(r.out, HasSubstr("-      lowest_scores (low_scores, normal): 1 of 5"));
  EXPECT_THAT(r.out, HasSubstr("thank-you page: shows how to get help now"));
}

TEST(ExplainAnswerCli, RefusesWhatIsNotAnAnswer) {
  const std::string rules = Source("config/rules.yaml");
  EXPECT_EQ(RunCli({"rules", "explain", rules, "--answer", "-"}, "[1]").code, 2);
  EXPECT_EQ(RunCli({"rules", "explain", rules, "--answer", "-"}, R"({"q1": 11})").code, 2);
  EXPECT_EQ(RunCli({"rules", "explain", rules, "--answer", "-"}, R"({"mood": "x"})").code, 2);
  EXPECT_EQ(RunCli({"rules", "explain", rules, "--answer", "/nonexistent"}).code, 2);
  EXPECT_EQ(RunCli({"rules", "explain", rules, "--answer"}).code, 2);
}

TEST(ExplainAnswerCli, ListsTheKindsEachAnswerOfAFileRaises) {
  const std::string rules = Source("config/rules.yaml");
  const Result r = RunCli({"rules", "explain", rules, "--answers", "-"},
                          R"({"comment": "He is back and I am scared to go home.", "q1": 5}
{"comment": "Very kind officer.", "q1": 9, "q2": null}
{"comment": "I want to make a formal complaint.", "q1": 0, "q2": 1, "q3": 1, "q4": 0, "q5": 1}
{"comment": "I am not scared any more."}
)");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "safeguarding\nnone\ncomplaint low_scores\nnone\n");
}

TEST(ExplainAnswerCli, AnswersFileWithABadLineGivesNoListAtAll) {
  const std::string rules = Source("config/rules.yaml");
  const Result r =
      RunCli({"rules", "explain", rules, "--answers", "-"}, "{\"q1\": 3}\n{\"q1\": 11}\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("line 2"));
  EXPECT_EQ(RunCli({"rules", "explain", rules, "--answers", "/nonexistent"}).code, 2);
  EXPECT_EQ(RunCli({"rules", "explain", rules, "--answers", "-", "--answer", "-"}).code, 2);
}

TEST(ExplainAnswerCli, CheckReportsTheAlertsSection) {
  const Result r = RunCli({"rules", "check", Source("config/rules.yaml")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("alerts: 4 alert rules; lexicon: 8 entries"));
  const Result bad =
      RunCli({"rules", "check", Source("tests/unit/alerts/fixtures/bad_alerts_rules.yaml")});
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("bad_alerts_rules.yaml:12:21: kind must be safeguarding, "
                                 "complaint or low_scores"));
}

// The survey rules and their alerts: section come from one read of the file: rules on a pipe
// (`rules check /dev/stdin`), which read once, have both checked.
TEST(ExplainAnswerCli, CheckReadsTheRulesAndTheirAlertsSectionOnce) {
  const testing::PipedFile rules(testing::ShippedRulesWithTheLexiconInFull());
  const Result r = RunCli({"rules", "check", rules.Path()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("alerts: 4 alert rules; lexicon: 8 entries"));
  EXPECT_THAT(r.out, HasSubstr("OK: 3 groups, 17 exclusions"));
}

// A lexicon named relative to the rules file has no directory to be found in when the rules come
// on a pipe: the check says how to name it, not only that /dev/alert_lexicon.yaml is missing.
TEST(ExplainAnswerCli, RulesOnAPipeAreToldToNameTheLexiconInFull) {
  std::ifstream shipped(Source("config/rules.yaml"));
  const std::string text{std::istreambuf_iterator<char>(shipped), {}};
  const testing::PipedFile rules(text);
  const Result r = RunCli({"rules", "check", rules.Path()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(": alerts.lexicon 'alert_lexicon.yaml' is "
                               "looked for next to the rules file, and " +
                               rules.Path() +
                               " is a stream, not a file in a directory: name "
                               "the lexicon by its full path"));
}

}  // namespace
}  // namespace surveyd::app
