#include "surveyd/core/time.hpp"

#include <gtest/gtest.h>

#include "surveyd/core/clock.hpp"

namespace surveyd {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TimePoint Unix(std::int64_t seconds) { return FromUnixSeconds(seconds); }

TEST(TimeTest, ParsesUtcWithZ) {
  const auto t = ParseRfc3339("2026-11-26T09:15:02Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(ToUnixSeconds(*t), 1795684502);
}

TEST(TimeTest, ParsesOffsetsAndFractions) {
  struct Case {
    const char* text;
    std::int64_t unix_seconds;
    std::int64_t micros_in_second;
  };
  const Case cases[] = {
      {"1970-01-01T00:00:00Z", 0, 0},
      {"1970-01-01T01:00:00+01:00", 0, 0},
      {"1969-12-31T19:00:00-05:00", 0, 0},
      {"2026-11-26T10:15:02.123+01:00", 1795684502, 123000},
      {"2026-11-26T09:15:02.5Z", 1795684502, 500000},
      {"2026-11-26T09:15:02.123456789Z", 1795684502, 123456},  // beyond microseconds: truncated
      {"2026-11-26t09:15:02z", 1795684502, 0},
      {"2026-11-26 09:15:02Z", 1795684502, 0},
      {"2026-11-26T14:45:02+05:30", 1795684502, 0},
      {"2026-11-26T09:15:02+0000", 1795684502, 0},
      {"2024-02-29T00:00:00Z", 1709164800, 0},  // leap day
      {"2000-02-29T00:00:00Z", 951782400, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto t = ParseRfc3339(c.text);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(*t, Unix(c.unix_seconds) + microseconds{c.micros_in_second});
  }
}

TEST(TimeTest, RejectsMalformedAndImpossible) {
  const char* bad[] = {
      "",
      "2026-11-26",
      "2026-11-26T09:15:02",   // no offset
      "2026-11-26T09:15Z",     // no seconds
      "2026-02-30T00:00:00Z",  // Feb 30
      "2025-02-29T00:00:00Z",  // not a leap year
      "1900-02-29T00:00:00Z",  // century, not a leap year
      "2026-04-31T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-00-10T00:00:00Z",
      "2026-01-00T00:00:00Z",
      "2026-11-26T24:00:00Z",  // hour 24
      "2026-11-26T23:60:00Z",
      "2026-11-26T23:59:60Z",   // leap second
      "2026-11-26T09:15:02.Z",  // empty fraction
      "2026-11-26T09:15:02+24:00",
      "2026-11-26T09:15:02+01:60",
      "2026-11-26T09:15:02+1:00",
      "2026-11-26T09:15:02Z ",  // trailing garbage
      " 2026-11-26T09:15:02Z",
      "2026/11/26T09:15:02Z",
      "26-11-26T09:15:02Z",
      "2026-11-26X09:15:02Z",
      "2026-1a-26T09:15:02Z",
      "not a time",
  };
  for (const char* text : bad) {
    EXPECT_FALSE(ParseRfc3339(text).has_value()) << text;
  }
}

TEST(TimeTest, TheStorableRangeIsUtcYearsOneTo9999) {
  // Parsed (each is RFC 3339), but only the middle two fall in years 0001-9999 once in UTC.
  const auto before = ParseRfc3339("0001-01-01T00:30:00+01:00");
  const auto first = ParseRfc3339("0001-01-01T00:00:00Z");
  const auto last = ParseRfc3339("9999-12-31T23:59:59.999999Z");
  const auto after = ParseRfc3339("9999-12-31T23:30:00-01:00");
  ASSERT_TRUE(before && first && last && after);
  EXPECT_FALSE(InRfc3339Range(*before));
  EXPECT_TRUE(InRfc3339Range(*first));
  EXPECT_TRUE(InRfc3339Range(*last));
  EXPECT_FALSE(InRfc3339Range(*after));
  EXPECT_FALSE(InRfc3339Range(*ParseRfc3339("0000-06-01T00:00:00Z")));
  EXPECT_EQ(FormatRfc3339(*last), "9999-12-31T23:59:59.999Z");
}

TEST(TimeTest, FormatsMillisecondsInUtc) {
  EXPECT_EQ(FormatRfc3339(Unix(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(Unix(1795684502) + microseconds{123999}), "2026-11-26T09:15:02.123Z");
  EXPECT_EQ(FormatRfc3339(Unix(-1)), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(FormatRfc3339(Unix(-1) + milliseconds{500}), "1969-12-31T23:59:59.500Z");
}

TEST(TimeTest, FormatThenParseRoundTrips) {
  const TimePoint t = Unix(1795684502) + milliseconds{42};
  const auto back = ParseRfc3339(FormatRfc3339(t));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, t);
}

TEST(TimeTest, UnixConversions) {
  EXPECT_EQ(ToUnixSeconds(FromUnixSeconds(1795684502)), 1795684502);
  EXPECT_EQ(ToUnixSeconds(Unix(10) + milliseconds{999}), 10);
  EXPECT_EQ(ToUnixSeconds(Unix(-10) + milliseconds{500}), -10);  // floors, not truncates
  EXPECT_EQ(FromUnixSeconds(3600), TimePoint{hours{1}});
}

TEST(TimeTest, SystemClockIsNearTheWallClock) {
  SystemClock clock;
  const auto before = std::chrono::system_clock::now();
  const TimePoint now = clock.Now();
  const auto after = std::chrono::system_clock::now();
  EXPECT_GE(now, std::chrono::floor<Duration>(before));
  EXPECT_LE(now, std::chrono::ceil<Duration>(after));
}

}  // namespace
}  // namespace surveyd
