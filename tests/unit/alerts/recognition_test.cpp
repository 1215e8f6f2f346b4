#include "surveyd/alerts/recognition.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace surveyd::alerts {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::shared_ptr<const Lexicon> Shipped() {
  static const auto loaded =
      LoadLexiconFile(std::string(SURVEYD_SOURCE_DIR) + "/config/alert_lexicon.yaml");
  return loaded.lexicon;
}

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

store::PersonScores Person(const std::string& id, std::int64_t respondents, std::int64_t tens,
                           const std::string& team = "Response - Birmingham East") {
  store::PersonScores person;
  person.person = id;
  person.role = "officer";
  person.team = team;
  person.respondents = respondents;
  person.top[0] = tens;
  person.all_top = tens / 2;
  return person;
}

// Whom a report hides, by "person@team".
std::vector<std::string> Hidden(const RecognitionReport& report) {
  std::vector<std::string> hidden;
  for (const auto& person : report.people) {
    if (person.suppressed) hidden.push_back(person.person + "@" + person.team);
  }
  return hidden;
}

store::RecognitionComment Comment(const std::string& person, const std::string& text) {
  store::RecognitionComment comment;
  comment.survey_id = 100 + static_cast<std::int64_t>(text.size());
  comment.person = person;
  comment.role = "officer";
  comment.team = "Response - Birmingham East";
  comment.contact_at = At("2026-11-24T10:00:00Z");
  comment.q[0] = 10;
  comment.comment = text;
  return comment;
}

TEST(Recognition, PraiseIsPraiseWithoutComplaintOrRisk) {
  const auto lexicon = Shipped();
  ASSERT_TRUE(lexicon);
  EXPECT_TRUE(IsPraise(*lexicon, "PC Jones was brilliant, thank you"));
  EXPECT_TRUE(IsPraise(*lexicon, "Diolch yn fawr"));
  EXPECT_FALSE(IsPraise(*lexicon, "not helpful at all"));
  EXPECT_FALSE(IsPraise(*lexicon, "Lovely officer but nobody came back to me"));
  EXPECT_FALSE(IsPraise(*lexicon, "Thank you, but I'm still scared he'll come back"));
  EXPECT_FALSE(IsPraise(*lexicon, "The car was blue"));
}

TEST(Recognition, SuppressedBelowTheMinimumCellSize) {
  const auto lexicon = Shipped();
  ASSERT_TRUE(lexicon);
  store::RecognitionData data;
  // PC3 is hidden beside PC2 (see below).
  data.people = {Person("PC1", 12, 7), Person("PC2", 3, 3), Person("PC3", 11, 1)};
  data.comments = {
      Comment("PC1", "Brilliant officer, my number is [phone removed] if you need it, thanks"),
      Comment("PC1", "nobody came back to me"), Comment("PC2", "Excellent, thank you"),
      Comment("PC3", "Really kind, thank you")};
  auto report = BuildRecognition(data, *lexicon, 10);
  EXPECT_FALSE(report.suppressed);
  EXPECT_EQ(report.respondents, 12) << "the answers about the people shown";
  ASSERT_EQ(report.people.size(), 3u);
  EXPECT_FALSE(report.people[0].suppressed);
  EXPECT_EQ(report.people[0].respondents, 12);
  EXPECT_EQ(report.people[0].top[0], 7);
  EXPECT_EQ(report.people[0].praise, 1);
  EXPECT_TRUE(report.people[1].suppressed);
  EXPECT_EQ(report.people[1].respondents, 0) << "no counts for a suppressed person";
  EXPECT_EQ(report.people[1].praise, 0);
  EXPECT_TRUE(report.people[2].suppressed);
  EXPECT_EQ(report.people[2].respondents, 0);
  EXPECT_EQ(report.people[2].praise, 0);
  EXPECT_EQ(report.suppressed_people, 2);
  ASSERT_EQ(report.praise.size(), 1u) << "only praise, only for people shown";
  EXPECT_EQ(report.praise[0].person, "PC1");
  EXPECT_EQ(report.praise[0].comment,
            "Brilliant officer, my number is [phone removed] if you need it, thanks");
  EXPECT_EQ(report.praise[0].q[0], 10);

  // The whole selection below the cell size: nothing at all.
  data.people = {Person("PC1", 6, 6), Person("PC2", 3, 3)};
  report = BuildRecognition(data, *lexicon, 10);
  EXPECT_TRUE(report.suppressed);
  EXPECT_TRUE(report.praise.empty());
  EXPECT_EQ(report.suppressed_people, 2);
}

// The team's total is the team's answers in /api/v1/stats (by department or team), and a
// person's total across their teams is theirs there (by officer or operator): neither, less the
// counts shown, may be one hidden person's count or a sum below the minimum.
TEST(Recognition, NoTotalGivesAHiddenPersonAway) {
  const auto lexicon = Shipped();
  ASSERT_TRUE(lexicon);
  store::RecognitionData data;
  // One small count in a team: beside it, the team's smallest shown, not one from another team
  // (Team B's PC9 is smaller, but Team A's total would still give PC2 away).
  data.people = {Person("PC1", 30, 9, "Team A"), Person("PC2", 4, 1, "Team A"),
                 Person("PC3", 14, 2, "Team A"), Person("PC9", 11, 5, "Team B"),
                 Person("PC8", 20, 5, "Team B")};
  auto report = BuildRecognition(data, *lexicon, 10);
  EXPECT_EQ(Hidden(report), (std::vector<std::string>{"PC2@Team A", "PC3@Team A"}));
  EXPECT_EQ(report.respondents, 30 + 11 + 20);
  EXPECT_EQ(report.suppressed_people, 2);

  // Two small counts adding up to less than the minimum give their sum away, and the smallest
  // shown goes with them; two adding up to it at least give nothing away.
  data.people = {Person("PC1", 30, 9), Person("PC2", 4, 1), Person("PC3", 5, 2),
                 Person("PC4", 12, 5)};
  EXPECT_EQ(
      Hidden(BuildRecognition(data, *lexicon, 10)),
      (std::vector<std::string>{"PC2@Response - Birmingham East", "PC3@Response - Birmingham East",
                                "PC4@Response - Birmingham East"}));
  data.people[2].respondents = 6;
  report = BuildRecognition(data, *lexicon, 10);
  EXPECT_EQ(Hidden(report), (std::vector<std::string>{"PC2@Response - Birmingham East",
                                                      "PC3@Response - Birmingham East"}));
  EXPECT_EQ(report.respondents, 42);

  // Someone small in one team and not in another: their total across both, less the one shown,
  // is the small one, so that goes too; then their second team needs one hidden beside it.
  data.people = {Person("PC5", 3, 1, "Team A"),  Person("PC6", 25, 2, "Team A"),
                 Person("PC7", 18, 2, "Team A"), Person("PC5", 12, 4, "Team B"),
                 Person("PC8", 40, 9, "Team B"), Person("PC9", 16, 1, "Team B")};
  report = BuildRecognition(data, *lexicon, 10);
  EXPECT_EQ(Hidden(report),
            (std::vector<std::string>{"PC5@Team A", "PC7@Team A", "PC5@Team B", "PC9@Team B"}));
  EXPECT_EQ(report.respondents, 25 + 40);
  // Asked for Team B alone, Team B's people are hidden as they are in everyone's answer: else
  // PC5's total across both teams, less their count shown here, would be their count in Team A.
  for (auto& person : data.people) person.selected = person.team == "Team B";
  report = BuildRecognition(data, *lexicon, 10);
  ASSERT_EQ(report.people.size(), 3u);
  EXPECT_EQ(Hidden(report), (std::vector<std::string>{"PC5@Team B", "PC9@Team B"}));
  EXPECT_EQ(report.respondents, 40);

  // Nobody small: everyone shown, and the total is everyone's.
  data.people = {Person("PC1", 10, 1), Person("PC2", 11, 1)};
  report = BuildRecognition(data, *lexicon, 10);
  EXPECT_TRUE(Hidden(report).empty());
  EXPECT_EQ(report.respondents, 21);
}

TEST(Recognition, DigestScheduleFollowsLocalTimeAcrossSummerTime) {
  const auto london = TimeZone::Load("Europe/London");
  const DigestSchedule monday_8am{1, 8 * 60};
  // Monday 30 March 2026 08:00 BST is 07:00 UTC; the week before starts Monday 23 March 08:00
  // GMT (08:00 UTC), six days and 23 hours earlier.
  EXPECT_EQ(LatestDigestTime(monday_8am, *london, At("2026-03-30T07:00:00Z")),
            At("2026-03-30T07:00:00Z"));
  EXPECT_EQ(LatestDigestTime(monday_8am, *london, At("2026-03-30T06:59:59Z")),
            At("2026-03-23T08:00:00Z"));
  EXPECT_EQ(LatestDigestTime(monday_8am, *london, At("2026-04-02T12:00:00Z")),
            At("2026-03-30T07:00:00Z"));
  EXPECT_EQ(DigestPeriodStart(monday_8am, *london, At("2026-03-30T07:00:00Z")),
            At("2026-03-23T08:00:00Z"));
}

TEST(Recognition, DigestHoldsCountsOnly) {
  const auto lexicon = Shipped();
  ASSERT_TRUE(lexicon);
  store::RecognitionData data;
  data.people = {Person("PC1", 12, 7), Person("PC2", 3, 3), Person("PC3", 11, 2)};
  data.comments = {Comment("PC1", "Brilliant officer, thank you so much")};
  const auto report = BuildRecognition(data, *lexicon, 10);
  const auto london = TimeZone::Load("Europe/London");
  const auto text = FormatDigest("West Midlands Police", "Response - Birmingham East",
                                 At("2026-11-23T08:00:00Z"), At("2026-11-30T08:00:00Z"), *london,
                                 report, 10, "https://x/dashboard?view=praise&team=T");
  EXPECT_EQ(text.subject,
            "West Midlands Police: recognition for Response - Birmingham East, week to Monday 30 "
            "November 2026");
  EXPECT_THAT(text.body, HasSubstr("12 answers about contacts with the people shown."));
  EXPECT_THAT(text.body,
              HasSubstr("PC1              officer         12            7         3       1"));
  EXPECT_THAT(text.body, HasSubstr("2 more people not shown: fewer than 10 answers, or hidden "
                                   "beside someone who had"));
  EXPECT_THAT(text.body, Not(HasSubstr("PC2")));
  EXPECT_THAT(text.body, Not(HasSubstr("PC3"))) << "hidden beside PC2";
  EXPECT_THAT(text.body, Not(HasSubstr("26 answers"))) << "nor everyone's, 12 + 3 + 11";
  EXPECT_THAT(text.body, Not(HasSubstr("Brilliant")));
  EXPECT_THAT(text.body, HasSubstr("https://x/dashboard?view=praise&team=T"));
}

TEST(Recognition, PraiseViewLinkNamesTheTeamAndTheLocalDaysTheDigestsAnswersWereGiven) {
  const auto london = TimeZone::Load("Europe/London");
  ASSERT_TRUE(london);
  // A week of summer time: 08:00 local is 07:00 UTC; the last second of the week is still the
  // Monday it is sent on.
  EXPECT_EQ(PraiseViewLink("https://s.example", "Response - B&E / 2", At("2026-06-22T07:00:00Z"),
                           At("2026-06-29T07:00:00Z"), *london),
            "https://s.example/dashboard?view=praise&team=Response%20-%20B%26E%20%2F%202"
            "&from=2026-06-22&to=2026-06-29&dates=answered");
  // A digest sent at midnight covers up to the Sunday before.
  EXPECT_EQ(PraiseViewLink("https://s.example", "T", At("2026-11-23T00:00:00Z"),
                           At("2026-11-30T00:00:00Z"), *london),
            "https://s.example/dashboard?view=praise&team=T&from=2026-11-23&to=2026-11-29"
            "&dates=answered");
}

}  // namespace
}  // namespace surveyd::alerts
