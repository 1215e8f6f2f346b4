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
}

TEST(Statistics, RateOfNothingIsZero) {
  EXPECT_DOUBLE_EQ(Rate(0, 0), 0.0);
  EXPECT_DOUBLE_EQ(Rate(3, 4), 0.75);
}

}  // namespace
}  // namespace surveyd::stats
