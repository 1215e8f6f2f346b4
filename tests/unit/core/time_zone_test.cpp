#include "surveyd/core/time_zone.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace surveyd {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

TimePoint At(const char* rfc3339) {
  const auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(TimePoint{});
}

std::shared_ptr<const TimeZone> London() {
  static const auto zone = TimeZone::Load("Europe/London");
  return zone;
}

TEST(TimeZoneTest, LondonOffsetsAroundThe2026Transitions) {
  const auto zone = London();
  EXPECT_EQ(zone->Name(), "Europe/London");
  EXPECT_EQ(zone->OffsetAt(At("2026-03-29T00:59:59Z")), seconds{0});
  EXPECT_EQ(zone->OffsetAt(At("2026-03-29T01:00:00Z")), hours{1});
  EXPECT_EQ(zone->OffsetAt(At("2026-07-01T12:00:00Z")), hours{1});
  EXPECT_EQ(zone->OffsetAt(At("2026-10-25T00:59:59Z")), hours{1});
  EXPECT_EQ(zone->OffsetAt(At("2026-10-25T01:00:00Z")), seconds{0});
  EXPECT_EQ(zone->OffsetAt(At("2026-12-25T12:00:00Z")), seconds{0});
}

TEST(TimeZoneTest, LondonHistoricalOffsets) {
  const auto zone = London();
  EXPECT_EQ(zone->OffsetAt(At("1990-06-01T00:00:00Z")), hours{1});
  // British Standard Time experiment: GMT+1 all year from 1968 to 1971.
  EXPECT_EQ(zone->OffsetAt(At("1970-01-01T00:00:00Z")), hours{1});
}

// Far enough ahead that the zone file may hold no explicit transitions: the footer rule answers.
TEST(TimeZoneTest, LondonFutureDstFromTheFooterRule) {
  const auto zone = London();
  EXPECT_EQ(zone->OffsetAt(At("2030-03-31T00:59:59Z")), seconds{0});
  EXPECT_EQ(zone->OffsetAt(At("2030-03-31T01:00:00Z")), hours{1});
  EXPECT_EQ(zone->OffsetAt(At("2030-10-27T00:59:59Z")), hours{1});
  EXPECT_EQ(zone->OffsetAt(At("2030-10-27T01:00:00Z")), seconds{0});
  EXPECT_EQ(zone->OffsetAt(At("2045-03-26T00:59:59Z")), seconds{0});
  EXPECT_EQ(zone->OffsetAt(At("2045-03-26T01:00:00Z")), hours{1});
  EXPECT_EQ(zone->OffsetAt(At("2045-10-29T00:59:59Z")), hours{1});
  EXPECT_EQ(zone->OffsetAt(At("2045-10-29T01:00:00Z")), seconds{0});
  EXPECT_EQ(zone->OffsetAt(At("2045-01-15T12:00:00Z")), seconds{0});
}

TEST(TimeZoneTest, FooterRuleAgreesWithExplicitTransitionsHourByHour) {
  const auto file = London();
  const TimeZone rule_only("rule", {}, seconds{0}, "GMT0BST,M3.5.0/1,M10.5.0");
  for (TimePoint t = At("2020-01-01T00:00:00Z"); t < At("2040-01-01T00:00:00Z"); t += hours{1}) {
    ASSERT_EQ(file->OffsetAt(t), rule_only.OffsetAt(t)) << FormatRfc3339(t);
  }
}

TEST(TimeZoneTest, SouthernHemisphereRuleWrapsTheYear) {
  const TimeZone sydney("Sydney", {}, hours{10}, "AEST-10AEDT,M10.1.0,M4.1.0/3");
  EXPECT_EQ(sydney.OffsetAt(At("2030-01-15T00:00:00Z")), hours{11});
  EXPECT_EQ(sydney.OffsetAt(At("2030-04-06T15:59:59Z")), hours{11});
  EXPECT_EQ(sydney.OffsetAt(At("2030-04-06T16:00:00Z")), hours{10});
  EXPECT_EQ(sydney.OffsetAt(At("2030-10-05T15:59:59Z")), hours{10});
  EXPECT_EQ(sydney.OffsetAt(At("2030-10-05T16:00:00Z")), hours{11});
  EXPECT_EQ(sydney.OffsetAt(At("2030-12-31T23:00:00Z")), hours{11});
}

TEST(TimeZoneTest, RuleWithQuotedNamesAndWesternOffset) {
  const TimeZone ny("NY", {}, hours{-5}, "EST5EDT,M3.2.0,M11.1.0");
  EXPECT_EQ(ny.OffsetAt(At("2026-03-08T06:59:59Z")), hours{-5});
  EXPECT_EQ(ny.OffsetAt(At("2026-03-08T07:00:00Z")), hours{-4});
  EXPECT_EQ(ny.OffsetAt(At("2026-11-01T05:59:59Z")), hours{-4});
  EXPECT_EQ(ny.OffsetAt(At("2026-11-01T06:00:00Z")), hours{-5});

  const TimeZone fixed("Fixed", {}, seconds{0}, "<+0530>-5:30");
  EXPECT_EQ(fixed.OffsetAt(At("2026-06-01T00:00:00Z")), hours{5} + std::chrono::minutes{30});
}

TEST(TimeZoneTest, BadRuleThrows) {
  EXPECT_THROW(TimeZone("bad", {}, seconds{0}, "GMT0BST,M13.5.0,M10.5.0"), std::runtime_error);
  EXPECT_THROW(TimeZone("bad", {}, seconds{0}, "G0"), std::runtime_error);
  EXPECT_THROW(TimeZone("bad", {}, seconds{0}, "GMT0BST,M3.5.0"), std::runtime_error);
}

TEST(TimeZoneTest, ToLocalGivesWallClockAndWeekday) {
  const auto zone = London();
  // Thursday 26 November 2026, GMT.
  LocalDateTime winter = zone->ToLocal(At("2026-11-26T09:15:02Z"));
  EXPECT_EQ(winter.year, 2026);
  EXPECT_EQ(winter.month, 11);
  EXPECT_EQ(winter.day, 26);
  EXPECT_EQ(winter.hour, 9);
  EXPECT_EQ(winter.minute, 15);
  EXPECT_EQ(winter.second, 2);
  EXPECT_EQ(winter.weekday, 4);
  EXPECT_EQ(winter.utc_offset, seconds{0});

  // 23:30 UTC on Saturday 4 July 2026 is 00:30 BST on Sunday 5 July.
  LocalDateTime summer = zone->ToLocal(At("2026-07-04T23:30:00Z"));
  EXPECT_EQ(summer.year, 2026);
  EXPECT_EQ(summer.month, 7);
  EXPECT_EQ(summer.day, 5);
  EXPECT_EQ(summer.hour, 0);
  EXPECT_EQ(summer.minute, 30);
  EXPECT_EQ(summer.weekday, 0);
  EXPECT_EQ(summer.utc_offset, hours{1});
}

TEST(TimeZoneTest, FromLocalOrdinaryTimes) {
  const auto zone = London();
  EXPECT_EQ(zone->FromLocal(2026, 7, 1, 9, 0), At("2026-07-01T08:00:00Z"));
  EXPECT_EQ(zone->FromLocal(2026, 12, 1, 9, 0), At("2026-12-01T09:00:00Z"));
  EXPECT_EQ(zone->FromLocal(2026, 12, 31, 23, 59, 59), At("2026-12-31T23:59:59Z"));
}

TEST(TimeZoneTest, FromLocalInTheSpringGapIsTheFirstInstantAfterIt) {
  const auto zone = London();
  EXPECT_EQ(zone->FromLocal(2026, 3, 29, 1, 30), At("2026-03-29T01:00:00Z"));
  EXPECT_EQ(zone->FromLocal(2026, 3, 29, 1, 0), At("2026-03-29T01:00:00Z"));
  EXPECT_EQ(zone->FromLocal(2026, 3, 29, 0, 59, 59), At("2026-03-29T00:59:59Z"));
  EXPECT_EQ(zone->FromLocal(2026, 3, 29, 2, 0), At("2026-03-29T01:00:00Z"));
  EXPECT_EQ(zone->FromLocal(2045, 3, 26, 1, 30), At("2045-03-26T01:00:00Z"));
}

TEST(TimeZoneTest, FromLocalInTheAutumnOverlapIsTheEarlierInstant) {
  const auto zone = London();
  EXPECT_EQ(zone->FromLocal(2026, 10, 25, 1, 30), At("2026-10-25T00:30:00Z"));
  EXPECT_EQ(zone->FromLocal(2026, 10, 25, 2, 0), At("2026-10-25T02:00:00Z"));
  EXPECT_EQ(zone->FromLocal(2045, 10, 29, 1, 30), At("2045-10-29T00:30:00Z"));
}

TEST(TimeZoneTest, UtcZone) {
  const auto utc = TimeZone::Utc();
  EXPECT_EQ(utc->Name(), "UTC");
  EXPECT_EQ(utc->OffsetAt(At("2026-07-01T12:00:00Z")), seconds{0});
  EXPECT_EQ(utc->FromLocal(2026, 3, 29, 1, 30), At("2026-03-29T01:30:00Z"));
  const auto loaded = TimeZone::Load("UTC");
  EXPECT_EQ(loaded->OffsetAt(At("2026-07-01T12:00:00Z")), seconds{0});
}

TEST(TimeZoneTest, UnknownOrUnsafeNamesThrow) {
  EXPECT_THROW(TimeZone::Load("Europe/Atlantis"), std::runtime_error);
  EXPECT_THROW(TimeZone::Load(""), std::runtime_error);
  EXPECT_THROW(TimeZone::Load("../../etc/passwd"), std::runtime_error);
  EXPECT_THROW(TimeZone::Load("/etc/passwd"), std::runtime_error);
  EXPECT_THROW(TimeZone::Load("Europe/London", "/nonexistent"), std::runtime_error);
  try {
    TimeZone::Load("Europe/Atlantis");
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("Europe/Atlantis"), std::string::npos);
  }
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("surveyd-tz-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void Put32(std::string& out, std::int32_t value) {
  const auto u = static_cast<std::uint32_t>(value);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((u >> shift) & 0xff));
}

TEST(TimeZoneTest, ReadsVersion1Files) {
  // A v1 file (32-bit times, no footer): +01:00 until 1000000000, then +02:00.
  std::string data = "TZif";
  data.push_back('\0');
  data.append(15, '\0');
  for (std::int32_t count : {0, 0, 0, 1, 2, 4})
    Put32(data, count);  // isut isstd leap time type char
  Put32(data, 1000000000);
  data.push_back('\1');
  Put32(data, 3600);
  data.append("\0\0", 2);
  Put32(data, 7200);
  data.append("\0\0", 2);
  data.append("AB\0\0", 4);

  TempDir dir;
  std::filesystem::create_directories(dir.path() / "Test");
  std::ofstream(dir.path() / "Test" / "Zone", std::ios::binary) << data;
  const auto zone = TimeZone::Load("Test/Zone", dir.path().string());
  EXPECT_EQ(zone->OffsetAt(FromUnixSeconds(999999999)), hours{1});
  EXPECT_EQ(zone->OffsetAt(FromUnixSeconds(1000000000)), hours{2});
  EXPECT_EQ(zone->OffsetAt(FromUnixSeconds(2000000000)), hours{2});

  std::ofstream(dir.path() / "Test" / "Broken", std::ios::binary) << data.substr(0, 50);
  EXPECT_THROW(TimeZone::Load("Test/Broken", dir.path().string()), std::runtime_error);
  std::ofstream(dir.path() / "Test" / "Text", std::ios::binary) << "not a zone file at all";
  EXPECT_THROW(TimeZone::Load("Test/Text", dir.path().string()), std::runtime_error);
}

}  // namespace
}  // namespace surveyd
