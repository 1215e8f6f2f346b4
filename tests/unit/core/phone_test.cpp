#include "surveyd/core/phone.hpp"

#include <gtest/gtest.h>

#include "surveyd/core/crypto.hpp"

namespace surveyd::phone {
namespace {

struct NormalizeCase {
  const char* raw;
  Kind kind;
  const char* e164;
};

void PrintTo(const NormalizeCase& c, std::ostream* os) { *os << '"' << c.raw << '"'; }

class PhoneNormalizeTest : public ::testing::TestWithParam<NormalizeCase> {};

TEST_P(PhoneNormalizeTest, Normalizes) {
  const NormalizeCase& c = GetParam();
  const Number number = Normalize(c.raw);
  EXPECT_EQ(KindName(number.kind), std::string(KindName(c.kind)));
  EXPECT_EQ(number.e164, c.e164);
}

INSTANTIATE_TEST_SUITE_P(
    Mobiles, PhoneNormalizeTest,
    ::testing::Values(
        NormalizeCase{"+447700900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"447700900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"07700 900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"07700900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"00447700900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"+44 (0)7700 900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"+44(0)7700-900-123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"0044 (0) 7700 900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"+44 7700 900 123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"07700.900.123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"  07700 900123  ", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"(07700) 900123", Kind::kUkMobile, "+447700900123"},
        // Spaces and dashes from spreadsheets and exports: no-break, narrow,
        // thin, en dash, minus sign, zero-width.
        NormalizeCase{"07700\u00a0900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"+44\u202f7700\u2009900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"07700\u2013900\u2212123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"\ufeff07700\u200b900123", Kind::kUkMobile, "+447700900123"},
        // The marks a copy from Outlook, WhatsApp or a phone wraps a number in:
        // direction marks, embeddings, isolates, a soft hyphen.
        NormalizeCase{"\u202a+44 7700 900123\u202c", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"\u200e07700\u00ad900123\u200f", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"\u2066+447700900123\u2069", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"44 (0)7700 900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"+4407700900123", Kind::kUkMobile, "+447700900123"},
        NormalizeCase{"07911 123456", Kind::kUkMobile, "+447911123456"},
        NormalizeCase{"07400 123456", Kind::kUkMobile, "+447400123456"},
        NormalizeCase{"07624 123456", Kind::kUkMobile, "+447624123456"},
        NormalizeCase{"+447624123456", Kind::kUkMobile, "+447624123456"}));

INSTANTIATE_TEST_SUITE_P(NotMobiles, PhoneNormalizeTest,
                         ::testing::Values(
                             // 070 personal numbers and 076 pagers look like mobiles but are not.
                             NormalizeCase{"07012 345678", Kind::kUkOther, "+447012345678"},
                             NormalizeCase{"+447012345678", Kind::kUkOther, "+447012345678"},
                             NormalizeCase{"07600 123456", Kind::kUkOther, "+447600123456"},
                             NormalizeCase{"07623 123456", Kind::kUkOther, "+447623123456"},
                             NormalizeCase{"07625 123456", Kind::kUkOther, "+447625123456"},
                             NormalizeCase{"(0121) 626 5000", Kind::kUkLandline, "+441216265000"},
                             NormalizeCase{"0121 626 5000", Kind::kUkLandline, "+441216265000"},
                             NormalizeCase{"+44 121 626 5000", Kind::kUkLandline, "+441216265000"},
                             NormalizeCase{"020 7946 0000", Kind::kUkLandline, "+442079460000"},
                             NormalizeCase{"01697 73123", Kind::kUkLandline,
                                           "+44169773123"},  // 9-digit NSN
                             NormalizeCase{"0300 123 1212", Kind::kUkOther, "+443001231212"},
                             NormalizeCase{"0800 111 999", Kind::kUkOther, "+44800111999"},
                             NormalizeCase{"0845 46 47 48", Kind::kUkOther, "+44845464748"},
                             NormalizeCase{"0500 123456", Kind::kUkOther, "+44500123456"},
                             NormalizeCase{"0909 8790000", Kind::kUkOther, "+449098790000"}));

INSTANTIATE_TEST_SUITE_P(
    International, PhoneNormalizeTest,
    ::testing::Values(NormalizeCase{"+48 601 234 567", Kind::kInternational, "+48601234567"},
                      NormalizeCase{"0048601234567", Kind::kInternational, "+48601234567"},
                      NormalizeCase{"+1 (555) 123-4567", Kind::kInternational, "+15551234567"},
                      NormalizeCase{"+353 87 123 4567", Kind::kInternational, "+353871234567"},
                      NormalizeCase{"+33 (0)6 12 34 56 78", Kind::kInternational, "+33612345678"},
                      NormalizeCase{"+1234567", Kind::kInvalid, ""},           // 7 digits
                      NormalizeCase{"+1234567890123456", Kind::kInvalid, ""},  // 16 digits
                      NormalizeCase{"+0123456789", Kind::kInvalid, ""}));

INSTANTIATE_TEST_SUITE_P(Withheld, PhoneNormalizeTest,
                         ::testing::Values(NormalizeCase{"", Kind::kWithheld, ""},
                                           NormalizeCase{"   ", Kind::kWithheld, ""},
                                           NormalizeCase{"withheld", Kind::kWithheld, ""},
                                           NormalizeCase{"WITHHELD", Kind::kWithheld, ""},
                                           NormalizeCase{"Private", Kind::kWithheld, ""},
                                           NormalizeCase{"unknown", Kind::kWithheld, ""},
                                           NormalizeCase{" Anonymous ", Kind::kWithheld, ""}));

INSTANTIATE_TEST_SUITE_P(
    Invalid, PhoneNormalizeTest,
    ::testing::Values(
        NormalizeCase{"not a number", Kind::kInvalid, ""},
        NormalizeCase{"07700\xc2", Kind::kInvalid, ""},      // cut short
        NormalizeCase{"07700 9OO123", Kind::kInvalid, ""},   // letter O
        NormalizeCase{"07700 90012", Kind::kInvalid, ""},    // too short
        NormalizeCase{"07700 9001234", Kind::kInvalid, ""},  // too long
        NormalizeCase{"+4477009001", Kind::kInvalid, ""},
        NormalizeCase{"0121 626", Kind::kInvalid, ""},
        NormalizeCase{"0121 626 50000", Kind::kInvalid, ""},
        NormalizeCase{"7012345678", Kind::kInvalid, ""},  // no zero, not a mobile
        NormalizeCase{"770090012", Kind::kInvalid, ""}, NormalizeCase{"999", Kind::kInvalid, ""},
        NormalizeCase{"0", Kind::kInvalid, ""}, NormalizeCase{"+", Kind::kInvalid, ""},
        NormalizeCase{"00", Kind::kInvalid, ""}, NormalizeCase{"()", Kind::kInvalid, ""},
        NormalizeCase{"04123 456789", Kind::kInvalid, ""},  // no 04 range
        NormalizeCase{"06123 456789", Kind::kInvalid, ""},
        NormalizeCase{"ref 2026/1234", Kind::kInvalid, ""},
        NormalizeCase{"n/a", Kind::kInvalid, ""}));

// A mobile's ten digits without the trunk zero (a JSON number, a spreadsheet column): that number
// for linking its events, but only a guess, which the rules never text.
TEST(PhoneTest, AMobileWithoutItsTrunkZeroIsAGuess) {
  const Number guessed = Normalize("7700900123");
  EXPECT_EQ(guessed.kind, Kind::kUkMobile);
  EXPECT_EQ(guessed.e164, "+447700900123");
  EXPECT_TRUE(guessed.guessed);
  EXPECT_FALSE(Normalize("07700900123").guessed);
  EXPECT_FALSE(Normalize("+447700900123").guessed);
}

// A number among other words or marks: its digits are most likely that number, linked to the
// number's history (a DOMESTIC flag on "Mob: 07700 900123" must hold the number's other
// contacts) but only a guess, never texted. Digits that together read as no number stay invalid.
TEST(PhoneTest, TheDigitsOfANumberAmongOtherTextAreAGuess) {
  for (const char* raw :
       {"07700 900123 (mobile)", "Mob: 07700900123", "07700900123 mob", "tel:+447700900123",
        "07700/900123", "07700_900123", "07700\u00e9900123", "07700+900123", "+44+7700900123",
        "\uff10\uff17\uff17\uff10\uff10\uff19\uff10\uff10\uff11\uff12\uff13", "\uff0b447700900123",
        "07700\uff0d900123", "07700\u2043900123", "07700\ufe63900123", "mobile: 7700 900123"}) {
    const Number number = Normalize(raw);
    EXPECT_EQ(number.kind, Kind::kUkMobile) << raw;
    EXPECT_EQ(number.e164, "+447700900123") << raw;
    EXPECT_TRUE(number.guessed) << raw;
  }
  const Number landline = Normalize("Home: 0121 626 5000");
  EXPECT_EQ(landline.kind, Kind::kUkLandline);
  EXPECT_TRUE(landline.guessed);
}

// A field that holds two numbers (or a number and more digits) is no number as a whole: each
// part is read, and the first mobile linked, as a guess (a review found a DOMESTIC event whose
// phone read "07700 900130 or 07700 900999" linked to neither, and the first number's other
// contact texted).
TEST(PhoneTest, OfTwoNumbersInOneFieldTheFirstMobileIsAGuess) {
  struct Case {
    const char* raw;
    Kind kind;
    const char* e164;
  };
  for (const Case& c : {
           Case{"07700 900130 or 07700 900999", Kind::kUkMobile, "+447700900130"},
           Case{"+44 7700 900129 / 0121 496 0000", Kind::kUkMobile, "+447700900129"},
           Case{"0121 496 0000 / 07700 900129", Kind::kUkMobile, "+447700900129"},
           Case{"07700 900123 / 07700 900456", Kind::kUkMobile, "+447700900123"},
           Case{"07700 900123 ext 5", Kind::kUkMobile, "+447700900123"},
           Case{"home 0121 496 0000, work 0121 496 0001", Kind::kUkLandline, "+441214960000"},
       }) {
    const Number number = Normalize(c.raw);
    EXPECT_EQ(number.kind, c.kind) << c.raw;
    EXPECT_EQ(number.e164, c.e164) << c.raw;
    EXPECT_TRUE(number.guessed) << c.raw;
  }
  for (const char* raw : {"ref 2026/1234", "n/a", "999 or 112"}) {
    EXPECT_EQ(Normalize(raw).kind, Kind::kInvalid) << raw;
  }
}

TEST(PhoneTest, BlankNumbersBlanksANumberHoweverItIsWritten) {
  EXPECT_EQ(BlankNumbers("bad +447700900123"), "bad +#######");
  EXPECT_EQ(BlankNumbers("bad +44 7700 900123 (07700-900-123)."), "bad +#######).");
  EXPECT_EQ(BlankNumbers("to 07700.900.123, twice"), "to #######, twice");
  // A vendor's code, a count or a time is left as it is.
  EXPECT_EQ(BlankNumbers("E-30003 after 3 tries at 12:30"), "E-30003 after 3 tries at 12:30");
  EXPECT_EQ(BlankNumbers("123456"), "123456");
  EXPECT_EQ(BlankNumbers("1234567"), "#######");
  EXPECT_EQ(BlankNumbers(""), "");
}

TEST(PhoneTest, KindNames) {
  EXPECT_STREQ(KindName(Kind::kUkMobile), "uk_mobile");
  EXPECT_STREQ(KindName(Kind::kUkLandline), "uk_landline");
  EXPECT_STREQ(KindName(Kind::kUkOther), "uk_other");
  EXPECT_STREQ(KindName(Kind::kInternational), "international");
  EXPECT_STREQ(KindName(Kind::kWithheld), "withheld");
  EXPECT_STREQ(KindName(Kind::kInvalid), "invalid");
}

TEST(PhoneTest, MaskKeepsOnlyEnoughToTellNumbersApart) {
  EXPECT_EQ(Mask("+447700900123"), "+4477******23");
  EXPECT_EQ(Mask("+441216265000"), "+4412******00");
  EXPECT_EQ(Mask("+44169773123"), "+4416*****23");
  EXPECT_EQ(Mask("+48601234567"), "+486******67");
  EXPECT_EQ(Mask("+15551234567"), "+155******67");
}

TEST(PhoneTest, MaskNeverShowsShortOrNonE164Input) {
  EXPECT_EQ(Mask(""), "***");
  EXPECT_EQ(Mask("+"), "***");
  EXPECT_EQ(Mask("+44"), "***");
  EXPECT_EQ(Mask("+4477"), "***");
  EXPECT_EQ(Mask("07700 900123"), "***");
  EXPECT_EQ(Mask("withheld"), "***");
  EXPECT_EQ(Mask("+44 7700 900123"), "***");
  EXPECT_EQ(Mask("+12345678901234567"), "***");
}

TEST(PhoneTest, MaskedNumbersNeverContainTheMiddleDigits) {
  const std::string masked = Mask("+447700900123");
  EXPECT_EQ(masked.find("900"), std::string::npos);
  EXPECT_EQ(masked.size(), std::string("+447700900123").size());
}

TEST(PhoneTest, KeyedHashIsHmacOfTheE164Number) {
  EXPECT_EQ(KeyedHash("key", "+447700900123"), crypto::HmacSha256Hex("key", "+447700900123"));
  EXPECT_EQ(KeyedHash("key", "+447700900123").size(), 64u);
  EXPECT_NE(KeyedHash("key", "+447700900123"), KeyedHash("other", "+447700900123"));
  EXPECT_NE(KeyedHash("key", "+447700900123"), KeyedHash("key", "+447700900124"));
  // The same person in two formats hashes the same once normalised.
  EXPECT_EQ(KeyedHash("key", Normalize("07700 900123").e164),
            KeyedHash("key", Normalize("+44 (0)7700 900123").e164));
}

}  // namespace
}  // namespace surveyd::phone
