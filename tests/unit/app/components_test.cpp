#include "app/components.hpp"

#include <gtest/gtest.h>

#include "fakes/manual_clock.hpp"
#include "surveyd/core/time.hpp"

namespace surveyd::app {
namespace {

using namespace std::chrono_literals;
using testing::ManualClock;

const TimePoint kT0 = ParseRfc3339("2026-11-26T09:00:00Z").value();

// The database's clock as a test sets it; nullopt: it cannot be read.
struct DatabaseClockStub {
  std::optional<TimePoint> now = kT0;
  ClockComponent::DatabaseClock Reader() {
    return [this] { return now; };
  }
};

TEST(ClockComponentTest, TrustsAClockWithinTheBoundAndSaysHowFarApart) {
  ManualClock ours(kT0 + 1500ms);
  DatabaseClockStub database;
  metrics::Registry registry;
  ClockComponent check(database.Reader(), ours, 2000ms, 1000ms, registry);
  check.Check();
  EXPECT_FALSE(check.Untrusted());
  const auto health = check.Health();
  ASSERT_TRUE(health.has_value());
  EXPECT_TRUE(health->ok);
  EXPECT_DOUBLE_EQ(health->details["skew_s"].get<double>(), 1.5);
  EXPECT_EQ(health->details["max_skew_s"].get<double>(), 2.0);
  EXPECT_NE(registry.Render().find("surveyd_clock_skew_seconds 1.5"), std::string::npos)
      << registry.Render();
}

TEST(ClockComponentTest, AClockAheadOrBehindBeyondTheBoundIsNotTrustedUntilItIsBack) {
  ManualClock ours(kT0 + 5min);
  DatabaseClockStub database;
  metrics::Registry registry;
  ClockComponent check(database.Reader(), ours, 2000ms, 1000ms, registry);
  check.Check();
  EXPECT_TRUE(check.Untrusted());
  EXPECT_FALSE(check.Health()->ok);
  EXPECT_NE(check.Health()->details["error"].get<std::string>().find("ahead of the database's"),
            std::string::npos);

  ours.Set(kT0 - 3min);  // a jump back, past the database's
  check.Check();
  EXPECT_TRUE(check.Untrusted());
  EXPECT_NE(check.Health()->details["error"].get<std::string>().find("behind the database's"),
            std::string::npos);

  ours.Set(kT0);
  check.Check();
  EXPECT_FALSE(check.Untrusted());
  EXPECT_TRUE(check.Health()->ok);
}

TEST(ClockComponentTest, AnUnreadableDatabaseClockLeavesTheLastVerdict) {
  ManualClock ours(kT0 + 1h);
  DatabaseClockStub database;
  metrics::Registry registry;
  ClockComponent check(database.Reader(), ours, 2000ms, 1000ms, registry);
  check.Check();
  ASSERT_TRUE(check.Untrusted());
  database.now.reset();
  ours.Set(kT0);
  check.Check();
  EXPECT_TRUE(check.Untrusted()) << "nothing new was learnt";
}

TEST(ClockComponentTest, ZeroOnlyReports) {
  ManualClock ours(kT0 + 1h);
  DatabaseClockStub database;
  metrics::Registry registry;
  ClockComponent check(database.Reader(), ours, 0ms, 1000ms, registry);
  check.Check();
  EXPECT_FALSE(check.Untrusted());
  EXPECT_TRUE(check.Health()->ok);
  EXPECT_DOUBLE_EQ(check.Health()->details["skew_s"].get<double>(), 3600.0);
}

}  // namespace
}  // namespace surveyd::app
