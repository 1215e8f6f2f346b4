#include "surveyd/core/disclosure.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>

namespace surveyd::stats {
namespace {

constexpr int kMin = 10;

struct Cell {
  std::vector<std::optional<std::string>> keys;
  std::int64_t respondents = 0;
  std::vector<std::int64_t> questions = {};
};

Suppression Suppress(const std::vector<Cell>& cells, std::size_t questions = 0, int min = kMin) {
  std::vector<CountedCell> counted;
  for (const Cell& cell : cells) counted.push_back({cell.keys, cell.respondents, cell.questions});
  return SuppressSmallCounts(counted, questions, min);
}

// The positions of the cells hidden, or of the cells where question `question` is.
std::vector<std::size_t> HiddenCells(const std::vector<Cell>& cells, int min = kMin) {
  const Suppression hidden = Suppress(cells, 0, min);
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (hidden.Cell(i)) out.push_back(i);
  }
  return out;
}
std::vector<std::size_t> HiddenQuestion(const std::vector<Cell>& cells, std::size_t questions,
                                        std::size_t question) {
  const Suppression hidden = Suppress(cells, questions);
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (hidden.Question(i, question)) out.push_back(i);
  }
  return out;
}

using Hidden = std::vector<std::size_t>;

// Cells with other counts hidden with their respondents (who was asked): the positions hidden.
Hidden HiddenWithOthers(const std::vector<std::pair<Cell, std::vector<std::int64_t>>>& cells) {
  std::vector<CountedCell> counted;
  for (const auto& [cell, others] : cells) {
    counted.push_back({cell.keys, cell.respondents, {}, others});
  }
  const Suppression hidden = SuppressSmallCounts(counted, 0, kMin);
  Hidden out;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (hidden.Cell(i)) out.push_back(i);
  }
  return out;
}

TEST(Disclosure, WhoWasAskedIsKeptFromBeingWorkedOutAsWhoAnswered) {
  // B: nobody answered, so no respondent is given away by the row's total; but 3 were sent a
  // text, and the row's total sent less A's would say so: A is hidden beside it.
  EXPECT_EQ(HiddenWithOthers({{{{"A"}, 20}, {60, 50, 40}}, {{{"B"}, 0}, {3, 3, 2}}}),
            (Hidden{0, 1}));
  // Nobody asked either: nothing to give away.
  EXPECT_EQ(HiddenWithOthers({{{{"A"}, 20}, {60, 50, 40}}, {{{"B"}, 0}, {0, 0, 0}}}), Hidden{1});
  // Asked as many as the minimum or more, with a few sent: the count sent alone gives it away.
  EXPECT_EQ(
      HiddenWithOthers(
          {{{{"A"}, 20}, {60, 50, 40}}, {{{"B"}, 0}, {12, 4, 4}}, {{{"C"}, 30}, {70, 60, 50}}}),
      (Hidden{0, 1}));
}

TEST(Disclosure, NothingChangesWhenNoCountGivesOneAway) {
  EXPECT_EQ(HiddenCells({{{"A"}, 10}, {{"B"}, 11}, {{"C"}, 50}}), Hidden{});
  EXPECT_EQ(HiddenCells({{{"N1", "B1"}, 10}, {{"N1", "B2"}, 12}, {{"N2", "B1"}, 30}}), Hidden{});
  // Two small counts hidden together that add up to the minimum: their row's total less the
  // others is their sum, which tells neither.
  EXPECT_EQ(HiddenCells({{{"A"}, 6}, {{"B"}, 5}, {{"C"}, 30}}), (Hidden{0, 1}));
  // A cell nobody answered is hidden, and its row's total gives no respondent away.
  EXPECT_EQ(HiddenCells({{{"A"}, 0}, {{"B"}, 30}, {{"C"}, 40}}), Hidden{0});
  // No breakdown, no rows.
  EXPECT_EQ(HiddenCells({{{}, 4}}), Hidden{0});
  EXPECT_EQ(HiddenCells({{{}, 40}}), Hidden{});
  // A minimum of 1 (or none) hides only what nobody answered, and needs no partner.
  EXPECT_EQ(HiddenCells({{{"A"}, 0}, {{"B"}, 1}, {{"C"}, 5}}, 1), Hidden{0});
  EXPECT_EQ(HiddenCells({{{"A"}, 0}, {{"B"}, 1}, {{"C"}, 5}}, 0), Hidden{0});
}

TEST(Disclosure, OneSmallCellInARowGetsThePartnerLeastMissed) {
  // 3 = (everyone) - 20 - 40 - 15, unless the 15 is hidden too.
  EXPECT_EQ(HiddenCells({{{"A"}, 20}, {{"B"}, 3}, {{"C"}, 15}, {{"D"}, 40}}), (Hidden{1, 2}));
  // A cell nobody answered hidden beside it is no cover: the 3 would still be the difference.
  EXPECT_EQ(HiddenCells({{{"A"}, 0}, {{"B"}, 4}, {{"C"}, 30}, {{"D"}, 12}}), (Hidden{0, 1, 3}));
}

TEST(Disclosure, SmallCellsAddingUpToLessThanTheMinimumGetAThird) {
  EXPECT_EQ(HiddenCells({{{"A"}, 3}, {{"B"}, 4}, {{"C"}, 30}, {{"D"}, 12}}), (Hidden{0, 1, 3}));
}

TEST(Disclosure, RowsAreTheCellsThatShareEveryOtherKey) {
  // npu x beat. (N1, B1) is given away by beat B1's total and by N1's: each row hides a partner
  // of its own. (N3, B3), the smallest cell shown, is in neither row and stays shown.
  const std::vector<Cell> cells = {{{"N1", "B1"}, 3},  {{"N1", "B2"}, 20}, {{"N2", "B1"}, 30},
                                   {{"N2", "B2"}, 40}, {{"N2", "B3"}, 50}, {{"N3", "B3"}, 11}};
  // Then N2 hides (N2, B1) alone, which its total would give away: its smallest other, (N2, B2).
  EXPECT_EQ(HiddenCells(cells), (Hidden{0, 1, 2, 3}));
  // A missing value is a key like any other, and a key a cell lacks reads as missing.
  EXPECT_EQ(
      HiddenCells({{{std::nullopt, "B1"}, 3}, {{std::nullopt, "B2"}, 20}, {{"N2", "B1"}, 30}}),
      (Hidden{0, 1, 2}));
  EXPECT_EQ(HiddenCells({{{"N1", std::nullopt}, 3}, {{"N2"}, 15}, {{"N3", std::nullopt}, 20}}),
            (Hidden{0, 1}));
  // Three dimensions: (A, X, 1)'s rows are (*, X, 1), (A, *, 1) and (A, X, *).
  const std::vector<Cell> cube = {
      {{"A", "X", "1"}, 2},  {{"A", "X", "2"}, 30}, {{"A", "Y", "1"}, 20}, {{"A", "Y", "2"}, 50},
      {{"B", "X", "1"}, 25}, {{"B", "X", "2"}, 60}, {{"B", "Y", "1"}, 70}, {{"B", "Y", "2"}, 15}};
  const auto cube_hidden = HiddenCells(cube);
  for (std::size_t partner : {1, 2, 4}) {
    EXPECT_NE(std::find(cube_hidden.begin(), cube_hidden.end(), partner), cube_hidden.end())
        << partner;
  }
}

TEST(Disclosure, PartnersHiddenAloneElsewhereGetPartnersInTurn) {
  //        B1   B2   B3
  //   N1    2   50   60
  //   N2   15   35   12
  //   N3   40   45   25
  const std::vector<Cell> cells = {{{"N1", "B1"}, 2},  {{"N1", "B2"}, 50}, {{"N1", "B3"}, 60},
                                   {{"N2", "B1"}, 15}, {{"N2", "B2"}, 35}, {{"N2", "B3"}, 12},
                                   {{"N3", "B1"}, 40}, {{"N3", "B2"}, 45}, {{"N3", "B3"}, 25}};
  // B1 hides (N2, B1) with the 2, N1 hides (N1, B2). Then each of those is alone in its other
  // row: N2 hides (N2, B3), B2 hides (N2, B2); (N2, B3) is alone in B3, which hides (N3, B3);
  // and that is alone in N3, which hides (N3, B1). Only (N1, B3) and (N3, B2) are left shown:
  // every row hides two counts or more, and no hidden count is any row's total less its others.
  EXPECT_EQ(HiddenCells(cells), (Hidden{0, 1, 3, 4, 5, 6, 8}));
}

TEST(Disclosure, ARowWhoseCellsAreAllHiddenHasNothingLeftToHide) {
  EXPECT_EQ(HiddenCells({{{"A"}, 3}, {{"B"}, 4}}), (Hidden{0, 1}));
  EXPECT_EQ(HiddenCells({{{"A"}, 3}}), Hidden{0});
  // N1 hides everything it has; beat B1's row still gets its partner.
  EXPECT_EQ(HiddenCells({{{"N1", "B1"}, 3}, {{"N1", "B2"}, 2}, {{"N2", "B1"}, 30}}),
            (Hidden{0, 1, 2}));
}

TEST(Disclosure, EachQuestionIsProtectedInItsRows) {
  // Every cell shown, but few answered q2 in A: its q2 is the total's less B's and C's.
  const std::vector<Cell> cells = {
      {{"A"}, 30, {30, 4}}, {{"B"}, 25, {25, 20}}, {{"C"}, 40, {40, 15}}};
  EXPECT_EQ(HiddenQuestion(cells, 2, 0), Hidden{});
  EXPECT_EQ(HiddenQuestion(cells, 2, 1), (Hidden{0, 2}));
  for (std::size_t i = 0; i < cells.size(); ++i) EXPECT_FALSE(Suppress(cells, 2).Cell(i));

  // D is small and B its partner: both hide every question. Their q2 counts (5 and 2) add up to
  // less than the minimum, so q2 is hidden in A too, while q1 is not.
  const std::vector<Cell> partnered = {
      {{"A"}, 30, {30, 30}}, {{"B"}, 12, {12, 2}}, {{"C"}, 40, {40, 35}}, {{"D"}, 5, {5, 5}}};
  EXPECT_EQ(HiddenQuestion(partnered, 2, 0), (Hidden{1, 3}));
  EXPECT_EQ(HiddenQuestion(partnered, 2, 1), (Hidden{0, 1, 3}));
  // A question a cell lacks is one nobody answered there.
  const std::vector<Cell> short_list = {{{"A"}, 30, {30}}, {{"B"}, 25, {25, 20}}};
  EXPECT_EQ(HiddenQuestion(short_list, 2, 1), Hidden{0});
}

TEST(Disclosure, TiesGoToTheCellGivenFirst) {
  EXPECT_EQ(HiddenCells({{{"A"}, 3}, {{"B"}, 20}, {{"C"}, 20}, {{"D"}, 20}}), (Hidden{0, 1}));
  EXPECT_EQ(HiddenCells({{{"D"}, 20}, {{"C"}, 20}, {{"B"}, 20}, {{"A"}, 3}}), (Hidden{0, 3}));
  const std::vector<Cell> questions = {{{"A"}, 30, {3}}, {{"B"}, 30, {20}}, {{"C"}, 30, {20}}};
  EXPECT_EQ(HiddenQuestion(questions, 1, 0), (Hidden{0, 1}));
}

// Whatever the breakdown, no row gives a hidden count away: a row hides no count above zero, or
// two or more adding up to the minimum, or all it has. Checked with rows found afresh.
TEST(Disclosure, NoRowOfALargeRandomBreakdownGivesAHiddenCountAway) {
  std::mt19937 random(20261126);
  std::uniform_int_distribution<int> count(0, 40), absent(0, 3);
  std::vector<Cell> cells;  // officer x day x channel, a quarter of them absent, many small
  for (int officer = 0; officer < 40; ++officer) {
    for (int day = 0; day < 30; ++day) {
      for (const char* channel : {"999", "phone", "web"}) {
        if (absent(random) == 0) continue;
        const std::int64_t n = count(random);
        cells.push_back(
            {{"O" + std::to_string(officer), "D" + std::to_string(day), channel}, n, {n, n / 2}});
      }
    }
  }
  const Suppression suppression = Suppress(cells, 2);
  auto check_rows = [&](const std::string& what, auto hidden, auto counted) {
    for (std::size_t along = 0; along < 3; ++along) {
      struct Row {
        std::int64_t hidden_sum = 0;
        int hidden_counted = 0;
        bool all_hidden = true;
      };
      std::map<std::vector<std::optional<std::string>>, Row> rows;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        auto others = cells[i].keys;
        others.erase(others.begin() + static_cast<std::ptrdiff_t>(along));
        Row& row = rows[others];
        if (!hidden(i)) {
          row.all_hidden = false;
          EXPECT_GE(counted(i), kMin) << what << " shown in cell " << i;
        } else if (counted(i) > 0) {
          row.hidden_sum += counted(i);
          ++row.hidden_counted;
        }
      }
      for (const auto& [others, row] : rows) {
        EXPECT_TRUE(row.all_hidden || row.hidden_counted == 0 ||
                    (row.hidden_counted >= 2 && row.hidden_sum >= kMin))
            << what << " along " << along << ": " << row.hidden_counted << " hidden, "
            << row.hidden_sum << " respondents";
      }
    }
  };
  check_rows(
      "cell", [&](std::size_t i) { return suppression.Cell(i); },
      [&](std::size_t i) { return cells[i].respondents; });
  for (std::size_t q = 0; q < 2; ++q) {
    check_rows(
        "question " + std::to_string(q), [&](std::size_t i) { return suppression.Question(i, q); },
        [&](std::size_t i) { return cells[i].questions[q]; });
    for (std::size_t i = 0; i < cells.size(); ++i) {
      EXPECT_TRUE(!suppression.Cell(i) || suppression.Question(i, q)) << i;
    }
  }
}

using Reasons = std::map<std::string, std::int64_t>;

// A row of a breakdown by reason as shown: -1 where hidden.
std::vector<std::int64_t> Shown(const ReasonBreakdown& b, std::size_t row) {
  std::vector<std::int64_t> out;
  for (std::size_t c = 0; c < b.reasons.size(); ++c) out.push_back(b.At(row, c).value_or(-1));
  return out;
}
using Counts = std::vector<std::int64_t>;

TEST(Disclosure, AReasonTooRareInAllIsNotNamedButCountedWithTheOthers) {
  // Two groups: a sexual offence excluded one contact in all, a stalking two.
  const std::vector<Reasons> rows = {
      {{"landline", 40}, {"withheld", 25}, {"sexual_offence", 1}},
      {{"landline", 30}, {"withheld", 20}, {"stalking", 2}},
  };
  const ReasonBreakdown b = SuppressSmallReasons(rows, "(other)", kMin);
  // Three in all would be a small count of "other reasons": the least common of the others
  // (withheld, 45) is counted with them, and nothing is small any more.
  EXPECT_EQ(b.reasons, (std::vector<std::string>{"landline", "(other)"}));
  EXPECT_EQ(Shown(b, 2), (Counts{70, 48}));
  EXPECT_EQ(Shown(b, 0), (Counts{40, 26}));
  EXPECT_EQ(Shown(b, 1), (Counts{30, 22}));
  // Rare reasons that add up to the minimum are "other" alone.
  const ReasonBreakdown enough = SuppressSmallReasons(
      std::vector<Reasons>{{{"landline", 40}, {"a", 6}}, {{"landline", 30}, {"b", 5}}}, "(other)",
      kMin);
  EXPECT_EQ(enough.reasons, (std::vector<std::string>{"landline", "(other)"}));
  EXPECT_EQ(Shown(enough, 2), (Counts{70, 11}));
  // Each group's 6 or 5 is small, and its total less its landlines would give it back, and then
  // landline's total: every count in the groups is hidden.
  EXPECT_EQ(Shown(enough, 0), (Counts{-1, -1}));
  EXPECT_EQ(Shown(enough, 1), (Counts{-1, -1}));
}

TEST(Disclosure, ASmallReasonInOneGroupIsHiddenWithPartnersThatNoTotalGivesBack) {
  const std::vector<Reasons> rows = {
      {{"landline", 40}, {"withheld", 25}, {"domestic_abuse", 3}},
      {{"landline", 30}, {"withheld", 20}, {"domestic_abuse", 30}},
  };
  const ReasonBreakdown b = SuppressSmallReasons(rows, "(other)", kMin);
  ASSERT_EQ(b.reasons, (std::vector<std::string>{"domestic_abuse", "landline", "withheld"}));
  EXPECT_EQ(Shown(b, 2), (Counts{33, 70, 45}));  // nothing small in all
  // Group 0 hides its 3 and its least beside (withheld 25); domestic abuse's total, shown, would
  // give the 3 away by group 1's 30, hidden too, and then group 1's least beside (withheld 20).
  EXPECT_EQ(Shown(b, 0), (Counts{-1, 40, -1}));
  EXPECT_EQ(Shown(b, 1), (Counts{-1, 30, -1}));
  // And with none of a reason in a group, "none" reads as hidden as "a few" does.
  const ReasonBreakdown none = SuppressSmallReasons(
      std::vector<Reasons>{{{"landline", 40}, {"withheld", 25}}, {{"landline", 30}}}, "(other)",
      kMin);
  EXPECT_EQ(Shown(none, 1), (Counts{30, -1}));
  EXPECT_EQ(Shown(none, 0), (Counts{40, 25}));
}

TEST(Disclosure, WhenEveryReasonIsRareNoneIsNamedNorCounted) {
  const ReasonBreakdown b = SuppressSmallReasons(
      std::vector<Reasons>{{{"sexual_offence", 3}}, {{"stalking", 2}, {"landline", 4}}}, "(other)",
      kMin);
  EXPECT_EQ(b.reasons, (std::vector<std::string>{"(other)"}));
  EXPECT_EQ(Shown(b, 2), (Counts{-1}));
  EXPECT_EQ(Shown(b, 0), (Counts{-1}));
  EXPECT_EQ(Shown(b, 1), (Counts{-1}));
  EXPECT_TRUE(SuppressSmallReasons(std::vector<Reasons>{}, "(other)", kMin).reasons.empty());
}

// The funnel's reasons with noise (AddReasonNoise), as a reader who gets them suppressed sees
// them: -1 where hidden.
struct NoisyReasons {
  std::vector<Reasons> rows;
  std::vector<std::string> groups;
  std::string key = "a key of the server's";

  ReasonBreakdown Shown(std::string_view breakdown = "excluded") const {
    ReasonBreakdown b = SuppressSmallReasons(rows, "(other)", kMin);
    AddReasonNoise(b, rows, groups, breakdown, FigureNoise(key), kMin);
    return b;
  }
};

TEST(Disclosure, ReasonNoiseMovesOnlyTheCountsShownAndKeepsThemAtTheMinimum) {
  std::map<std::int64_t, int> deltas;
  for (std::int64_t n = 10; n < 210; ++n) {
    NoisyReasons asked{{{{"landline", n}, {"withheld", 25}, {"domestic_abuse", 3}},
                        {{"landline", 30}, {"withheld", 20}, {"domestic_abuse", 30}}},
                       {"attendance", "force_contact"}};
    const ReasonBreakdown exact = SuppressSmallReasons(asked.rows, "(other)", kMin);
    const ReasonBreakdown noisy = asked.Shown();
    ASSERT_EQ(noisy.reasons, exact.reasons);
    for (std::size_t i = 0; i < exact.counts.size(); ++i) {
      // What is hidden was decided on the true counts: noise shows none of it.
      ASSERT_EQ(noisy.counts[i].has_value(), exact.counts[i].has_value()) << n << " " << i;
      if (!exact.counts[i]) continue;
      const std::int64_t delta = *noisy.counts[i] - *exact.counts[i];
      EXPECT_LE(std::abs(delta), FigureNoise::kCountWithin) << n;
      EXPECT_GE(*noisy.counts[i], kMin) << n;  // a count shown never reads as a small one
      ++deltas[delta];
    }
    // The same data, asked again: the same figures.
    EXPECT_EQ(asked.Shown().counts, noisy.counts);
    // Without a key (api.figures_noise: false), the true counts.
    asked.key.clear();
    EXPECT_EQ(asked.Shown().counts, exact.counts);
  }
  EXPECT_EQ(deltas.begin()->first, -FigureNoise::kCountWithin);
  EXPECT_EQ(deltas.rbegin()->first, FigureNoise::kCountWithin);
  // Counts at the minimum move up, or not at all.
  int raised = 0;
  for (int group = 0; group < 100; ++group) {
    const ReasonBreakdown at_min = NoisyReasons{
        {{{"landline", kMin}, {"withheld", kMin + 1}}},
        {std::to_string(group)}}.Shown();
    for (const auto& count : at_min.counts) {
      ASSERT_TRUE(count.has_value());
      EXPECT_GE(*count, kMin) << group;
      EXPECT_LE(*count, kMin + 1 + FigureNoise::kCountWithin) << group;
    }
    raised += *at_min.At(0, 0) > kMin;
  }
  EXPECT_GT(raised, 10);
  // Nothing is nobody: 0 stays 0, where a reader is shown it.
  ReasonBreakdown zero{{"landline"}, {std::int64_t{0}, std::int64_t{0}}};
  AddReasonNoise(zero, std::vector<Reasons>{{}}, std::vector<std::string>{"g"}, "excluded",
                 FigureNoise("a key"), kMin);
  EXPECT_EQ(zero.counts[0], 0);
  EXPECT_EQ(zero.counts[1], 0);
}

// Two funnels a day apart, one exclusion for a sexual offence between them: were each count
// drawn from itself, the reasons that did not change would read the same in both, and the one
// that moved would say what the day's contact concerned. Every reason of the group draws afresh.
TEST(Disclosure, OneMoreExclusionInAGroupDrawsAllItsReasonsAfresh) {
  int landline_moved = 0, offence_by_one = 0;
  for (std::int64_t n = 10; n < 210; ++n) {
    NoisyReasons before{{{{"landline", 40}, {"withheld", 25}, {"sexual_offence", n}}},
                        {"attendance"}};
    NoisyReasons after = before;
    ++after.rows[0]["sexual_offence"];
    const ReasonBreakdown a = before.Shown(), b = after.Shown();
    ASSERT_EQ(a.reasons, (std::vector<std::string>{"landline", "sexual_offence", "withheld"}));
    landline_moved += a.At(0, 0) != b.At(0, 0);
    offence_by_one += *b.At(0, 1) - *a.At(0, 1) == 1;
  }
  EXPECT_GT(landline_moved, 100);  // about three in four
  EXPECT_LT(offence_by_one, 100);  // about one in four
}

// The same counts draw the same however asked, and only the same: a group alone or beside
// others, a total of one group's counts as that group; another group holding the same counts,
// or the other breakdown, draws its own.
TEST(Disclosure, ReasonNoiseIsTheGroupsOwnTheSameHoweverAsked) {
  int other_group_differs = 0, other_breakdown_differs = 0;
  for (std::int64_t n = 10; n < 110; ++n) {
    const Reasons counts = {{"landline", n}, {"withheld", 25}};
    const ReasonBreakdown alone = NoisyReasons{{counts}, {"attendance"}}.Shown();
    EXPECT_EQ(Shown(alone, 1), Shown(alone, 0)) << n;
    // Beside a group that excluded nobody: the same figures, the total's too.
    const ReasonBreakdown beside = NoisyReasons{{{}, counts}, {"apology", "attendance"}}.Shown();
    EXPECT_EQ(Shown(beside, 1), Shown(alone, 0)) << n;
    EXPECT_EQ(Shown(beside, 2), Shown(alone, 0)) << n;
    const ReasonBreakdown twins =
        NoisyReasons{{counts, counts}, {"attendance", "force_contact"}}.Shown();
    EXPECT_EQ(Shown(twins, 0), Shown(alone, 0)) << n;
    other_group_differs += Shown(twins, 1) != Shown(twins, 0);
    other_breakdown_differs +=
        Shown(NoisyReasons{{counts}, {"attendance"}}.Shown("cancelled"), 0) != Shown(alone, 0);
  }
  EXPECT_GT(other_group_differs, 60);
  EXPECT_GT(other_breakdown_differs, 60);
}

TEST(Disclosure, FigureNoiseIsTheSameForTheSameContentAndWithinItsBounds) {
  const FigureNoise noise("a key of the server's");
  const FigureNoise other_key("another key");
  auto draws = [&](const std::string& content, const FigureNoise* with = nullptr) {
    auto d = (with ? *with : noise).For(content);
    std::vector<int> out;
    for (int i = 0; i < 40; ++i) out.push_back(i % 2 ? d.Count() : d.Sum());
    return out;
  };
  EXPECT_EQ(draws("12,10,9,9;q1:9,63,4,470"), draws("12,10,9,9;q1:9,63,4,470"));
  EXPECT_NE(draws("12,10,9,9;q1:9,63,4,470"), draws("12,10,9,8;q1:8,55,3,406"));
  // Without the key, nobody can tell what was added.
  EXPECT_NE(draws("12,10,9,9"), draws("12,10,9,9", &other_key));
  std::map<int, int> counts, sums;
  for (int cell = 0; cell < 4000; ++cell) {
    auto d = noise.For(std::to_string(cell));
    ++counts[d.Count()];
    ++sums[d.Sum()];
  }
  EXPECT_EQ(counts.begin()->first, -FigureNoise::kCountWithin);
  EXPECT_EQ(counts.rbegin()->first, FigureNoise::kCountWithin);
  EXPECT_GT(counts[0], counts[1]);  // 0 most often
  EXPECT_EQ(sums.begin()->first, -FigureNoise::kSumWithin);
  EXPECT_EQ(sums.rbegin()->first, FigureNoise::kSumWithin);
  EXPECT_EQ(sums.size(), 21u);
  EXPECT_FALSE(FigureNoise("").on());
}

}  // namespace
}  // namespace surveyd::stats
