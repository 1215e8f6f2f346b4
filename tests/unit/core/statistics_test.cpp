#include "surveyd/core/statistics.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace surveyd::stats {
namespace {

TEST(Statistics, WilsonKnownValues) {
  auto [low, high] = WilsonInterval(8, 10);
  EXPECT_NEAR(low, 0.4902, 1e-3);
  EXPECT_NEAR(high, 0.9433, 1e-3);
  auto [l0, h0] = WilsonInterval(0, 5);
  EXPECT_DOUBLE_EQ(l0, 0.0);
  EXPECT_NEAR(h0, 0.4345, 1e-3);
  EXPECT_EQ(WilsonInterval(0, 0), std::make_pair(0.0, 0.0));
  EXPECT_EQ(WilsonInterval(12, 10), WilsonInterval(10, 10)) << "never the root of a negative";
}

TEST(Statistics, WilsonMatchesNewcombesPublishedIntervals) {
  // Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (score interval).
  struct Case {
    std::int64_t k, n;
    double low, high;
  };
  for (const Case& c : {Case{81, 263, 0.2553, 0.3662}, Case{15, 148, 0.0624, 0.1605},
                        Case{0, 20, 0.0, 0.1611}, Case{1, 29, 0.0061, 0.1718}}) {
    const auto [low, high] = WilsonInterval(c.k, c.n);
    EXPECT_NEAR(low, c.low, 5e-5) << c.k << "/" << c.n;
    EXPECT_NEAR(high, c.high, 5e-5) << c.k << "/" << c.n;
  }
}

TEST(Statistics, RateOfNothingIsZero) {
  EXPECT_DOUBLE_EQ(Rate(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(Rate(3, 4), 0.75);
}

TEST(Statistics, StudentTMatchesTheTables) {
  struct Case {
    std::int64_t df;
    double t;
  };
  for (const Case& c : {Case{1, 12.7062047}, Case{5, 2.5705818}, Case{10, 2.2281389},
                        Case{11, 2.2009852}, Case{20, 2.0859634}, Case{30, 2.0422725},
                        Case{60, 2.0002978}, Case{120, 1.9799304}, Case{100000, 1.9599877}}) {
    EXPECT_NEAR(StudentT975(c.df), c.t, 2e-5) << c.df;
  }
}

TEST(Statistics, MeanIntervalIsStudentsTWithinTheScale) {
  // Twelve answers: 7 8 9 10 6 8 9 10 5 8 9 7 (mean 8, sd 1.5374): 8 -+ 2.2010 * 1.5374 / sqrt 12.
  const auto [low, high] = MeanInterval(12, 96, 794, 0, 10);
  EXPECT_NEAR(low, 7.0232, 1e-4);
  EXPECT_NEAR(high, 8.9768, 1e-4);
  // Mostly tens: the interval stops at the top of the scale.
  const auto [l10, h10] = MeanInterval(10, 95, 0 + 9 * 100 + 25, 0, 10);
  EXPECT_LT(l10, 9.5);
  EXPECT_DOUBLE_EQ(h10, 10.0);
  // Every answer the same: no spread to read an interval from.
  EXPECT_EQ(MeanInterval(20, 160, 20 * 64, 0, 10), std::make_pair(8.0, 8.0));
  EXPECT_EQ(MeanInterval(1, 7, 49, 0, 10), std::make_pair(7.0, 7.0));
  EXPECT_EQ(MeanInterval(0, 0, 0, 0, 10), std::make_pair(0.0, 0.0));
  // More answers, the same spread: narrower.
  const auto [l1200, h1200] = MeanInterval(1200, 9600, 79400, 0, 10);
  EXPECT_LT(h1200 - l1200, (high - low) / 9);
}

// A mean shown with noise: the width of the fewest answers it may stand for, and the margin the
// mean may have moved by, on each side.
TEST(Statistics, MeanIntervalWithinAllowsForTheFewestAnswersAndTheMargin) {
  // The twelve answers above, shown as 12 that may be 10: t(9) * 1.5374 / sqrt 10, plus 0.5.
  const auto [low, high] = MeanIntervalWithin(12, 96, 794, 10, 0.5, 0, 10);
  EXPECT_NEAR(high - 8, 2.2621572 * 1.5374 / std::sqrt(10.0) + 0.5, 1e-3);
  EXPECT_NEAR(8 - low, high - 8, 1e-9);
  const auto [exact_low, exact_high] = MeanInterval(12, 96, 794, 0, 10);
  EXPECT_LT(low, exact_low);
  EXPECT_GT(high, exact_high);
  // Every answer the same: the margin alone, within the scale.
  EXPECT_EQ(MeanIntervalWithin(20, 160, 20 * 64, 18, 0.5, 0, 10), std::make_pair(7.5, 8.5));
  EXPECT_EQ(MeanIntervalWithin(20, 200, 20 * 100, 18, 0.5, 0, 10), std::make_pair(9.5, 10.0));
  EXPECT_EQ(MeanIntervalWithin(0, 0, 0, 0, 0.5, 0, 10), std::make_pair(0.0, 0.0));
}

// A share shown with noise: its interval is the widest of every true count's it could stand for,
// so it holds the true count's interval, whatever the noise drew.
TEST(WilsonIntervalWithinTest, HoldsTheIntervalOfEveryTrueCountTheSharesShownCouldStandFor) {
  // 8 of 10 shown, each count within 2: 6..10 of 8..12.
  const SharesWithin rate{6, 10, 8, 12, 0, 1};
  const auto [low, high] = WilsonIntervalWithin(rate);
  for (std::int64_t n = 8; n <= 12; ++n) {
    for (std::int64_t k = 6; k <= std::min<std::int64_t>(10, n); ++k) {
      const auto [true_low, true_high] = WilsonInterval(k, n);
      EXPECT_LE(low, true_low) << k << " of " << n;
      EXPECT_GE(high, true_high) << k << " of " << n;
    }
  }
  EXPECT_DOUBLE_EQ(low, WilsonInterval(6, 12).first);
  EXPECT_DOUBLE_EQ(high, WilsonInterval(10, 10).second);
  const auto [exact_low, exact_high] = WilsonInterval(8, 10);
  EXPECT_LT(low, exact_low);
  EXPECT_GT(high, exact_high);
  // The share bounds limit the counts: 5 of 10 within a tenth is 4..6 of 10.
  EXPECT_EQ(WilsonIntervalWithin({0, 100, 10, 10, 0.4, 0.6}),
            std::make_pair(WilsonInterval(4, 10).first, WilsonInterval(6, 10).second));
  // A share at a bound stays in, read back through a division: 0.3 of 10 is 3.
  EXPECT_EQ(WilsonIntervalWithin({0, 100, 10, 10, 0.3, 0.3}), WilsonInterval(3, 10));
  // Counts that cannot be: no interval.
  EXPECT_EQ(WilsonIntervalWithin({5, 9, 1, 4, 0, 1}), std::make_pair(0.0, 0.0));
  EXPECT_EQ(WilsonIntervalWithin({0, 0, 0, 0, 0, 1}), std::make_pair(0.0, 0.0)) << "no one";
}

}  // namespace
}  // namespace surveyd::stats
