#include "surveyd/core/statistics.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace surveyd::stats
