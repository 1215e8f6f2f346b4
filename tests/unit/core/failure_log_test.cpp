#include "surveyd/core/failure_log.hpp"

#include <gtest/gtest.h>

#include "fakes/captured_log.hpp"
#include "fakes/manual_clock.hpp"

namespace surveyd {
namespace {

using namespace std::chrono_literals;
using testing::CapturedLog;
using testing::ManualClock;

const TimePoint kT0 = ParseRfc3339("2026-11-26T09:00:00Z").value();

TEST(FailureLog, AnOutageIsOneLineAndItsEndAnother) {
  ManualClock clock(kT0);
  FailureLog log("dispatch", clock);
  CapturedLog captured;
  EXPECT_FALSE(log.Succeeded());  // nothing to say
  for (int i = 0; i < 20; ++i) log.Failed("cannot connect to the database");
  EXPECT_TRUE(log.failing());
  EXPECT_EQ(log.failing_since(), kT0);
  log.Failed("the server is starting up");  // a new error: said
  log.Failed("the server is starting up");
  clock.Advance(12s);
  EXPECT_EQ(log.Succeeded(), kT0) << "when the outage began";
  EXPECT_FALSE(log.Succeeded());
  EXPECT_EQ(captured.Take(),
            "error dispatch: cannot connect to the database\n"
            "error dispatch: the server is starting up (still failing)\n"
            "info dispatch: working again, after 22 failure(s) in 12 s (since "
            "2026-11-26T09:00:00.000Z)\n");
  EXPECT_FALSE(log.failing());
  EXPECT_FALSE(log.failing_since());
  // The next outage is said again.
  log.Failed("timed out");
  EXPECT_EQ(captured.Take(), "error dispatch: timed out\n");
}

// An hour of the same failure every few seconds: the first line, a summary a minute in and then
// at doubling intervals (3, 7, 15 and 31 minutes in), and the end, with how long it lasted.
TEST(FailureLog, ALongOutageIsSummarisedAtGrowingIntervals) {
  ManualClock clock(kT0);
  FailureLog log("feed 'cw'", clock);
  CapturedLog captured;
  for (int i = 0; i < 720; ++i) {  // every 5 s
    log.Failed("cannot connect to cad:7000: Connection refused");
    clock.Advance(5s);
  }
  log.Succeeded();
  EXPECT_EQ(captured.Take(),
            "error feed 'cw': cannot connect to cad:7000: Connection refused\n"
            "warning feed 'cw': still failing after 13 failure(s), since 2026-11-26T09:00:00.000Z "
            "(1 min 0 s): cannot connect to cad:7000: Connection refused\n"
            "warning feed 'cw': still failing after 37 failure(s), since 2026-11-26T09:00:00.000Z "
            "(3 min 0 s): cannot connect to cad:7000: Connection refused\n"
            "warning feed 'cw': still failing after 85 failure(s), since 2026-11-26T09:00:00.000Z "
            "(7 min 0 s): cannot connect to cad:7000: Connection refused\n"
            "warning feed 'cw': still failing after 181 failure(s), since "
            "2026-11-26T09:00:00.000Z (15 min 0 s): cannot connect to cad:7000: Connection "
            "refused\n"
            "warning feed 'cw': still failing after 373 failure(s), since "
            "2026-11-26T09:00:00.000Z (31 min 0 s): cannot connect to cad:7000: Connection "
            "refused\n"
            "info feed 'cw': working again, after 720 failure(s) in 1 h 0 min (since "
            "2026-11-26T09:00:00.000Z)\n");
}

// Summaries never come further apart than an hour, however long it lasts; a new error starts
// no new outage, and the next one starts its summaries afresh.
TEST(FailureLog, SummariesOfADayLongOutageAreHourly) {
  ManualClock clock(kT0);
  FailureLog log("alert notifier", clock);
  CapturedLog captured;
  int summaries = 0;
  for (int minute = 0; minute < 24 * 60; ++minute) {
    log.Failed(minute < 600 ? "timed out" : "refused");
    const std::string said = captured.Take();
    if (said.rfind("warning", 0) == 0) ++summaries;
    clock.Advance(1min);
  }
  // 1, 3, 7, 15 and 31 minutes in, then every hour from 63 minutes in: 5 + 23.
  EXPECT_EQ(summaries, 28);
  log.Succeeded();
  EXPECT_EQ(captured.Take(),
            "info alert notifier: working again, after 1440 failure(s) in 24 h 0 min (since "
            "2026-11-26T09:00:00.000Z)\n");
  log.Failed("timed out");
  clock.Advance(1min);
  log.Failed("timed out");
  EXPECT_EQ(captured.Take(),
            "error alert notifier: timed out\n"
            "warning alert notifier: still failing after 2 failure(s), since "
            "2026-11-27T09:00:00.000Z (1 min 0 s): timed out\n");
}

}  // namespace
}  // namespace surveyd
