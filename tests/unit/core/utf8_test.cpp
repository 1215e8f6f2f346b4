#include "surveyd/core/utf8.hpp"

#include <gtest/gtest.h>

namespace surveyd {
namespace {

TEST(Utf8, ValidTextIsKeptAndEachBadByteReplaced) {
  EXPECT_TRUE(IsValidUtf8("Caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x91\x8D"));
  EXPECT_EQ(ReplaceInvalidUtf8("Caf\xC3\xA9"), "Caf\xC3\xA9");
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3))) << "NUL is UTF-8; PostgreSQL's rule";
  for (const char* bad : {"Caf\xE9",                      // Latin-1
                          "\xC0\xAF",                     // overlong
                          "\xED\xA0\x80",                 // a surrogate
                          "\xF4\x90\x80\x80",             // past U+10FFFF
                          "\xE2\x82", "\xF0\x9F\x91"}) {  // cut short
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
    EXPECT_TRUE(IsValidUtf8(ReplaceInvalidUtf8(bad))) << bad;
  }
  EXPECT_EQ(ReplaceInvalidUtf8("Caf\xE9!"), "Caf\xEF\xBF\xBD!");
  EXPECT_EQ(ReplaceInvalidUtf8("\xE2\x82x"), "\xEF\xBF\xBD\xEF\xBF\xBDx");
}

}  // namespace
}  // namespace surveyd
