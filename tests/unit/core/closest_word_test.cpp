#include "surveyd/core/closest_word.hpp"

#include <gtest/gtest.h>

namespace surveyd {
namespace {

TEST(ClosestWord, OneTypoInAShortWordTwoInALongerOne) {
  EXPECT_EQ(EditDistance("qualifers", "qualifiers"), 1u);
  EXPECT_EQ(EditDistance("dealy", "delay"), 1u) << "a swapped pair is one typo";
  EXPECT_EQ(EditDistance("DELAY", "delay"), 0u);
  const std::vector<std::string> names = {"delay", "send_within", "age"};
  EXPECT_EQ(ClosestWord("dealy", names), "delay");
  EXPECT_EQ(ClosestWord("send_witin", names), "send_within");
  EXPECT_EQ(ClosestWord("ag", names), "age");
  EXPECT_EQ(ClosestWord("aeg", names), "age") << "swapped";
  EXPECT_EQ(ClosestWord("xyz", names), "");
  EXPECT_EQ(ClosestWord("sampling", names), "");
}

}  // namespace
}  // namespace surveyd
