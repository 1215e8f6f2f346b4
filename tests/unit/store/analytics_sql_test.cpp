#include "store/analytics_sql.hpp"

#include <gtest/gtest.h>

namespace surveyd::store::analytics {
namespace {

const std::vector<Cube> kCubes = {{0, {}},
                                  {2, {"hour", "channel"}},
                                  {3, {"category", "grade"}},
                                  {5, {"npu", "beat"}},
                                  {7, {"officer", "department"}},
                                  {1, {"channel", "language", "days_to_survey"}},
                                  {8, {"gender", "age_band", "ethnicity"}}};

AnalyticsFilter Days() {
  AnalyticsFilter filter;
  filter.from_day = "2026-11-01";
  filter.to_day = "2026-11-30";
  return filter;
}

TEST(AnalyticsSql, DimensionNamesRoundTripInEnumOrder) {
  int expected = 0;
  for (Dimension d : AllDimensions()) {
    EXPECT_EQ(static_cast<int>(d), expected++);
    EXPECT_EQ(ParseDimension(DimensionName(d)), d);
  }
  EXPECT_EQ(expected, 22);
  EXPECT_FALSE(ParseDimension("s.officer_id").has_value());
  EXPECT_TRUE(IsFilter(Dimension::kDaysToSurvey));
  EXPECT_FALSE(IsFilter(Dimension::kHour));
}

TEST(AnalyticsSql, TheSmallestCubeHoldingEveryDimensionIsChosen) {
  EXPECT_EQ(ChooseCube(kCubes, Days(), {})->id, 0);
  EXPECT_EQ(ChooseCube(kCubes, Days(), {Dimension::kDay, Dimension::kSurveyGroup})->id, 0)
      << "days, weeks, months and groups are in every cell";
  EXPECT_EQ(ChooseCube(kCubes, Days(), {Dimension::kHour})->id, 2);
  EXPECT_EQ(ChooseCube(kCubes, Days(), {Dimension::kChannel})->id, 2) << "first of equals";
  EXPECT_EQ(ChooseCube(kCubes, Days(), {Dimension::kLanguage, Dimension::kChannel})->id, 1);
  AnalyticsFilter officer = Days();
  officer.values = {{Dimension::kOfficer, {"OF1"}}};
  EXPECT_EQ(ChooseCube(kCubes, officer, {Dimension::kWeek})->id, 7);
  EXPECT_FALSE(ChooseCube(kCubes, officer, {Dimension::kNpu}).has_value()) << "no cube has both";
  AnalyticsFilter instants;
  instants.from = ParseRfc3339("2026-11-01T10:00:00Z");
  EXPECT_FALSE(ChooseCube(kCubes, instants, {}).has_value()) << "only whole days are rolled up";
}

TEST(AnalyticsSql, ValuesAreParametersNeverText) {
  const std::string evil = "x'); DROP TABLE surveys; --";
  AnalyticsFilter filter = Days();
  filter.values = {{Dimension::kNpu, {evil, "B"}}, {Dimension::kSurveyGroup, {evil}}};
  for (const auto& cube : {ChooseCube(kCubes, filter, {Dimension::kBeat}), std::optional<Cube>()}) {
    const auto sql = BuildStats(cube, filter, {Dimension::kBeat});
    for (const Sql* s : {&sql}) {
      EXPECT_EQ(s->text.find("DROP"), std::string::npos) << s->text;
      EXPECT_EQ(s->text.find("2026-11"), std::string::npos);
      bool found = false;
      for (const auto& p : s->params)
        found = found || (p && p->find("DROP TABLE") != std::string::npos);
      EXPECT_TRUE(found);
    }
  }
  ResponseQuery query;
  query.filter = filter;
  query.search = evil;
  const auto sql = BuildResponses(query);
  EXPECT_EQ(sql.text.find("DROP"), std::string::npos);
  const auto funnel = BuildFunnel(filter);
  EXPECT_EQ(funnel.cells.text.find("DROP"), std::string::npos);
}

TEST(AnalyticsSql, RollupsReadTheCubesColumnsAndRawTheSurveysColumns) {
  AnalyticsFilter filter = Days();
  filter.values = {{Dimension::kDepartment, {"D1"}}};
  const auto cube = ChooseCube(kCubes, filter, {Dimension::kOfficer});
  const auto rollup = BuildStats(cube, filter, {Dimension::kOfficer});
  EXPECT_NE(rollup.text.find("SELECT c.d1, "), std::string::npos) << rollup.text;
  EXPECT_NE(rollup.text.find("c.d2 = ANY($4::text[])"), std::string::npos);
  EXPECT_NE(rollup.text.find("FROM analytics_cells c"), std::string::npos);
  EXPECT_NE(rollup.text.find("FROM analytics_scores c"), std::string::npos);
  EXPECT_EQ(rollup.params.size(), 4u) << "one set of parameters for both halves";
  EXPECT_EQ(rollup.params[0], "7");
  const auto raw = BuildStats(std::nullopt, filter, {Dimension::kOfficer});
  EXPECT_NE(raw.text.find("SELECT s.officer_id, "), std::string::npos) << raw.text;
  EXPECT_NE(raw.text.find("s.department = ANY($3::text[])"), std::string::npos);
  EXPECT_NE(raw.text.find("analytics_answers(r)"), std::string::npos);
}

}  // namespace
}  // namespace surveyd::store::analytics
