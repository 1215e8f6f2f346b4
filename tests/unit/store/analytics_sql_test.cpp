#include "store/analytics_sql.hpp"

#include <gtest/gtest.h>

namespace surveyd::store::analytics {
namespace {

const std::vector<Cube> kCubes = {{0, {}},
                                  {9, {}, true},
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

TEST(AnalyticsSql, CubesKeptPerMonthAreOnlyReadForWholeMonths) {
  EXPECT_EQ(ChooseCube(kCubes, Days(), {Dimension::kMonth})->id, 0) << "never chosen alone";
  const Cube totals = *ChooseCube(kCubes, Days(), {});
  EXPECT_EQ(MonthlyTwin(kCubes, totals, {})->id, 9);
  EXPECT_EQ(MonthlyTwin(kCubes, totals, {Dimension::kMonth, Dimension::kSurveyGroup})->id, 9);
  for (Dimension finer : {Dimension::kDay, Dimension::kWeek, Dimension::kDayOfWeek}) {
    EXPECT_FALSE(MonthlyTwin(kCubes, totals, {finer}).has_value()) << DimensionName(finer);
  }
  EXPECT_FALSE(MonthlyTwin(kCubes, *ChooseCube(kCubes, Days(), {Dimension::kNpu}), {}))
      << "no monthly cube of areas";
}

// The ranges of cells a period reads: (cube, from, to) in the order of the statement.
std::vector<std::string> Ranges(const std::optional<std::string>& from,
                                const std::optional<std::string>& to) {
  AnalyticsFilter filter;
  filter.from_day = from;
  filter.to_day = to;
  const auto sql = BuildStats(kCubes[0], filter, {}, kCubes[1]);
  std::vector<std::string> out;
  const std::string cells = sql.text.substr(0, sql.text.find("analytics_scores"));
  for (std::size_t at = cells.find("cube = "); at != std::string::npos;
       at = cells.find("cube = ", at + 1)) {
    std::string range = cells.substr(at + 7, 1);
    const auto end = cells.find_first_of(")U", at);
    const std::string condition = cells.substr(at, end - at);
    for (const char* op : {">= $", "<= $"}) {
      const auto p = condition.find(op);
      range +=
          " " + (p == std::string::npos ? std::string("-")
                                        : *sql.params[std::stoul(condition.substr(p + 4)) - 1]);
    }
    out.push_back(range);
  }
  return out;
}

TEST(AnalyticsSql, APeriodReadsItsWholeMonthsAndTheDaysAtEitherEnd) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Ranges("2026-01-10", "2026-10-20"),
            (V{"9 2026-02-01 2026-09-01", "0 2026-01-10 2026-01-31", "0 2026-10-01 2026-10-20"}));
  EXPECT_EQ(Ranges("2026-02-01", "2026-02-28"), (V{"9 2026-02-01 2026-02-01"}));
  EXPECT_EQ(Ranges("2024-02-01", "2024-02-28"), (V{"0 2024-02-01 2024-02-28"}))
      << "2024 is a leap year: February is not whole";
  EXPECT_EQ(Ranges("2025-12-31", "2026-01-31"),
            (V{"9 2026-01-01 2026-01-01", "0 2025-12-31 2025-12-31"}))
      << "across the new year";
  EXPECT_EQ(Ranges("2026-03-05", "2026-03-30"), (V{"0 2026-03-05 2026-03-30"}));
  EXPECT_EQ(Ranges("2026-03-05", "2026-04-29"), (V{"0 2026-03-05 2026-04-29"})) << "no whole month";
  EXPECT_EQ(Ranges("2026-03-05", std::nullopt), (V{"9 2026-04-01 -", "0 2026-03-05 2026-03-31"}));
  EXPECT_EQ(Ranges(std::nullopt, "2026-03-05"), (V{"9 - 2026-02-01", "0 2026-03-01 2026-03-05"}));
  EXPECT_EQ(Ranges(std::nullopt, std::nullopt), (V{"9 - -"}));
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
  EXPECT_NE(rollup.text.find("c.d2 = $3::text"), std::string::npos) << "one value";
  EXPECT_NE(rollup.text.find("FROM analytics_cells c"), std::string::npos);
  EXPECT_NE(rollup.text.find("FROM analytics_scores c"), std::string::npos);
  EXPECT_EQ(rollup.params.size(), 3u) << "one set of parameters for both halves";
  EXPECT_NE(rollup.text.find("c.cube = 7 AND"), std::string::npos)
      << "the cube, a number of the catalogue, is in the text: its partition is chosen once";
  const auto raw = BuildStats(std::nullopt, filter, {Dimension::kOfficer});
  EXPECT_NE(raw.text.find("SELECT s.officer_id, "), std::string::npos) << raw.text;
  EXPECT_NE(raw.text.find("s.department = ANY($3::text[])"), std::string::npos);
  EXPECT_NE(raw.text.find("analytics_answers(r)"), std::string::npos);
}

// A breakdown by day over a cube whose dimensions are all keys, fixed or determined by those
// reads the rollup rows as they are (the store adds up a cell's rows); any other aggregates.
TEST(AnalyticsSql, ADailyCubesRowsAreReadAsTheyAreWhenTheyAreTheCells) {
  AnalyticsFilter officer = Days();
  officer.values = {{Dimension::kOfficer, {"PC1"}}};
  const auto cube = ChooseCube(kCubes, officer, {Dimension::kDay});
  ASSERT_TRUE(cube.has_value());
  const auto rows = BuildStats(cube, officer, {Dimension::kDay});
  EXPECT_EQ(rows.text.find("GROUP BY"), std::string::npos) << rows.text;
  EXPECT_NE(rows.text.find("c.question, c.respondents, c.total, c.top_box"), std::string::npos);
  EXPECT_NE(rows.text.find("c.d1 = $3::text"), std::string::npos);

  AnalyticsFilter two = Days();
  two.values = {{Dimension::kOfficer, {"PC1", "PC2"}}};
  EXPECT_NE(BuildStats(cube, two, {Dimension::kDay}).text.find("GROUP BY"), std::string::npos)
      << "two officers: a day's rows are two cells' worth";
  AnalyticsFilter department = Days();
  department.values = {{Dimension::kDepartment, {"D1"}}};
  EXPECT_NE(BuildStats(cube, department, {Dimension::kDay}).text.find("GROUP BY"),
            std::string::npos)
      << "a department's officers are many rows a day";
  EXPECT_NE(BuildStats(cube, officer, {Dimension::kWeek}).text.find("GROUP BY"), std::string::npos)
      << "a week is seven days' rows";
  EXPECT_NE(BuildStats(kCubes[0], Days(), {Dimension::kDay}).text.find("GROUP BY"),
            std::string::npos)
      << "a day's totals: a row per survey group";
  EXPECT_EQ(BuildStats(kCubes[0], Days(), {Dimension::kDay, Dimension::kSurveyGroup})
                .text.find("GROUP BY"),
            std::string::npos)
      << "a day's totals per survey group: a row each";
}

}  // namespace
}  // namespace surveyd::store::analytics
