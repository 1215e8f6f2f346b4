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

store::PersonScores Person(const std::string& id, std::int64_t respondents, std::int64_t tens) {
  store::PersonScores person;
  person.person = id;
  person.role = "officer";
  person.team = "Response - Birmingham East";
  person.respondents = respondents;
  person.top[0] = tens;
  person.all_top = tens / 2;
  return person;
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
  data.people = {Person("PC1", 12, 7), Person("PC2", 3, 3)};
  data.comments = {
      Comment("PC1", "Brilliant officer, my number is [phone removed] if you need it, thanks"),
      Comment("PC1", "nobody came back to me"), Comment("PC2", "Excellent, thank you")};
  auto report = BuildRecognition(data, *lexicon, 10);
  EXPECT_FALSE(report.suppressed);
  EXPECT_EQ(report.respondents, 15);
  ASSERT_EQ(report.people.size(), 2u);
  EXPECT_FALSE(report.people[0].suppressed);
  EXPECT_EQ(report.people[0].respondents, 12);
  EXPECT_EQ(report.people[0].top[0], 7);
  EXPECT_EQ(report.people[0].praise, 1);
  EXPECT_TRUE(report.people[1].suppressed);
  EXPECT_EQ(report.people[1].respondents, 0) << "no counts for a suppressed person";
  EXPECT_EQ(report.people[1].praise, 0);
  EXPECT_EQ(report.suppressed_people, 1);
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
  data.people = {Person("PC1", 12, 7), Person("PC2", 3, 3)};
  data.comments = {Comment("PC1", "Brilliant officer, thank you so much")};
  const auto report = BuildRecognition(data, *lexicon, 10);
  const auto london = TimeZone::Load("Europe/London");
  const auto text = FormatDigest("West Midlands Police", "Response - Birmingham East",
                                 At("2026-11-23T08:00:00Z"), At("2026-11-30T08:00:00Z"), *london,
                                 report, 10, "https://x/dashboard?view=praise&team=T");
  EXPECT_EQ(text.subject,
            "West Midlands Police: recognition for Response - Birmingham East, week to Monday 30 "
            "November 2026");
  EXPECT_THAT(text.body, HasSubstr("15 answers about contacts with the team."));
  EXPECT_THAT(text.body,
              HasSubstr("PC1              officer         12            7         3       1"));
  EXPECT_THAT(text.body, HasSubstr("1 more person with fewer than 10 answers: not shown."));
  EXPECT_THAT(text.body, Not(HasSubstr("PC2")));
  EXPECT_THAT(text.body, Not(HasSubstr("Brilliant")));
  EXPECT_THAT(text.body, HasSubstr("https://x/dashboard?view=praise&team=T"));
}

TEST(Recognition, PraiseViewLinkNamesTheTeamAndTheLocalDaysOfTheDigest) {
  const auto london = TimeZone::Load("Europe/London");
  ASSERT_TRUE(london);
  // A week of summer time: 08:00 local is 07:00 UTC; the last second of the week is still the
  // Monday it is sent on.
  EXPECT_EQ(PraiseViewLink("https://s.example", "Response - B&E / 2", At("2026-06-22T07:00:00Z"),
                           At("2026-06-29T07:00:00Z"), *london),
            "https://s.example/dashboard?view=praise&team=Response%20-%20B%26E%20%2F%202"
            "&from=2026-06-22&to=2026-06-29");
  // A digest sent at midnight covers up to the Sunday before.
  EXPECT_EQ(PraiseViewLink("https://s.example", "T", At("2026-11-23T00:00:00Z"),
                           At("2026-11-30T00:00:00Z"), *london),
            "https://s.example/dashboard?view=praise&team=T&from=2026-11-23&to=2026-11-29");
}

}  // namespace
}  // namespace surveyd::alerts
