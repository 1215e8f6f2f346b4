#include "surveyd/core/sms.hpp"

#include <gtest/gtest.h>

#include <string>

namespace surveyd::sms {
namespace {

TEST(SmsTest, Gsm7BasicAndExtensionTables) {
  EXPECT_TRUE(IsGsm7(""));
  EXPECT_TRUE(
      IsGsm7("Hello, West Midlands Police: 5 questions? @ £ $ ¥ _ ! # % & ' ( ) * + - . /"));
  EXPECT_TRUE(IsGsm7("èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r"));
  EXPECT_TRUE(IsGsm7("^{}\\[~]|€"));  // the extension table
  EXPECT_FALSE(IsGsm7("`"));          // not in either table
  EXPECT_FALSE(IsGsm7("ł"));          // Polish letters are not
  EXPECT_FALSE(IsGsm7("ś"));
  EXPECT_FALSE(IsGsm7("ŵ"));                 // nor Welsh ones
  EXPECT_FALSE(IsGsm7("’"));                 // a curly apostrophe from a word processor
  EXPECT_FALSE(IsGsm7("\xF0\x9F\x98\x80"));  // an emoji
  EXPECT_FALSE(IsGsm7("\xFF"));              // not UTF-8
  EXPECT_FALSE(IsGsm7("\xC3"));              // cut short
  EXPECT_FALSE(IsGsm7("\xC0\xA0"));          // overlong
}

TEST(SmsTest, Gsm7Segments) {
  struct Row {
    std::string text;
    std::size_t units;
    int segments;
  };
  const Row rows[] = {
      {"", 0, 1},
      {std::string(160, 'a'), 160, 1},
      {std::string(161, 'a'), 161, 2},
      {std::string(306, 'a'), 306, 2},
      {std::string(307, 'a'), 307, 3},
      {std::string(159, 'a') + "€", 161, 2},  // the euro sign counts two
      {std::string(158, 'a') + "€", 160, 1},
      {std::string(80, '['), 160, 1},
      // An escape pair never straddles two segments: 152 + the pair does not fit in 153.
      {std::string(152, 'a') + "{" + std::string(10, 'a'), 164, 2},
      {std::string(152, 'a') + "{" + std::string(152, 'a'), 306, 3},
      {std::string(151, 'a') + "{" + std::string(153, 'a'), 306, 2},
  };
  for (const Row& row : rows) {
    const Length length = Measure(row.text);
    EXPECT_EQ(length.encoding, Encoding::kGsm7) << row.text;
    EXPECT_EQ(length.units, row.units) << row.text;
    EXPECT_EQ(length.segments, row.segments) << row.text;
  }
}

TEST(SmsTest, Ucs2Segments) {
  std::string polish;
  for (int i = 0; i < 70; ++i) polish += "ł";
  Length length = Measure(polish);
  EXPECT_EQ(length.encoding, Encoding::kUcs2);
  EXPECT_EQ(length.units, 70u);
  EXPECT_EQ(length.segments, 1);
  EXPECT_EQ(length.single_limit(), 70u);
  EXPECT_EQ(length.segment_limit(), 67u);

  // One character outside GSM-7 turns the whole text to UCS-2: 71 characters are 2 segments.
  length = Measure(std::string(70, 'a') + "ś");
  EXPECT_EQ(length.encoding, Encoding::kUcs2);
  EXPECT_EQ(length.units, 71u);
  EXPECT_EQ(length.segments, 2);

  EXPECT_EQ(Measure(std::string(134, 'a') + "ś").segments, 3);  // 135 > 2 x 67
  EXPECT_EQ(Measure(std::string(133, 'a') + "ś").segments, 2);

  // Outside the Basic Multilingual Plane: a surrogate pair, two units, never split.
  const std::string emoji = "\xF0\x9F\x98\x80";
  length = Measure(std::string(66, 'a') + emoji + std::string(10, 'a'));
  EXPECT_EQ(length.units, 78u);
  EXPECT_EQ(length.segments, 2);
  length = Measure(std::string(66, 'a') + emoji + std::string(66, 'a'));
  EXPECT_EQ(length.units, 134u);
  EXPECT_EQ(length.segments, 3);  // 66 | 2 + 65 | 1: the pair moved to the second segment

  EXPECT_STREQ(EncodingName(Encoding::kGsm7), "GSM-7");
  EXPECT_STREQ(EncodingName(Encoding::kUcs2), "UCS-2");
}

TEST(SmsTest, SenderIds) {
  for (const char* fine : {"Police", "WMPolice", "West Mids", "WMP-Survey", "A", "Police_11ch",
                           "447700900123", "+447700900123", "123456789012345", "M&S"}) {
    EXPECT_EQ(SenderProblem(fine), std::nullopt) << fine;
  }
  for (const char* bad : {"", "West Midlands Police", "WMPoliceSurv", "1234567890123456",
                          "+1234567890123456", "Police!", "Polícia", "+Police", "   ", "12 34"}) {
    EXPECT_NE(SenderProblem(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(SenderProblem("West Midlands Police").value_or(""),
            "an alphanumeric sender has at most 11 characters, not 20: networks cut or refuse "
            "longer ones");
}

}  // namespace
}  // namespace surveyd::sms
