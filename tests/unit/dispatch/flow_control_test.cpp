#include "surveyd/dispatch/flow_control.hpp"

#include <gtest/gtest.h>

#include "surveyd/core/time.hpp"

namespace surveyd::dispatch {
namespace {

using gateway::SendStatus;
using std::chrono::seconds;
using State = CircuitBreaker::State;

const TimePoint kT0 = *ParseRfc3339("2026-12-02T09:00:00Z");

BreakerOptions Options() {
  BreakerOptions options;
  options.failures_to_open = 5;
  options.failure_percent = 50;
  options.window = seconds(30);
  options.open_for = seconds(15);
  options.max_open_for = seconds(300);
  return options;
}

TEST(CircuitBreakerTest, FailuresInARowOpenItAndAProbeClosesIt) {
  CircuitBreaker breaker(Options());
  for (int i = 0; i < 4; ++i) breaker.Record(SendStatus::kTransient, kT0);
  EXPECT_EQ(breaker.Allow(10, kT0), 10);
  breaker.Record(SendStatus::kTransient, kT0);
  EXPECT_EQ(breaker.state(kT0), State::kOpen);
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(14)), 0);
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(15)), 1) << "one probe";
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(15)), 0) << "while it is out, nothing more";
  breaker.Record(SendStatus::kTransient, kT0 + seconds(16));
  EXPECT_EQ(breaker.reopens_at(), kT0 + seconds(46)) << "a failed probe doubles the pause";
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(46)), 1);
  breaker.Record(SendStatus::kAccepted, kT0 + seconds(47));
  EXPECT_EQ(breaker.state(kT0 + seconds(47)), State::kClosed);
  EXPECT_EQ(breaker.times_opened(), 2) << "the failed probe opened it again";
}

TEST(CircuitBreakerTest, AGatewayFailingEveryOtherRequestIsLeftAloneToo) {
  CircuitBreaker breaker(Options());
  // Never more than two failures in a row.
  for (int i = 0; i < 9; ++i) {
    breaker.Record(i % 2 == 1 ? SendStatus::kTransient : SendStatus::kAccepted, kT0 + seconds(i));
  }
  EXPECT_EQ(breaker.state(kT0 + seconds(9)), State::kClosed) << "fewer than ten requests";
  breaker.Record(SendStatus::kAccepted, kT0 + seconds(9));
  EXPECT_EQ(breaker.state(kT0 + seconds(9)), State::kClosed) << "4 of 10 failed";
  breaker.Record(SendStatus::kThrottled, kT0 + seconds(10));
  EXPECT_EQ(breaker.state(kT0 + seconds(10)), State::kClosed) << "5 of 11 failed";
  breaker.Record(SendStatus::kInDoubt, kT0 + seconds(11));
  EXPECT_EQ(breaker.state(kT0 + seconds(11)), State::kOpen) << "6 of 12 failed";
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(12)), 0);
}

TEST(CircuitBreakerTest, AFewFailuresAmongManySuccessesKeepItClosed) {
  CircuitBreaker breaker(Options());
  for (int i = 0; i < 100; ++i) {
    breaker.Record(i % 5 == 0 ? SendStatus::kInDoubt : SendStatus::kAccepted, kT0);
  }
  EXPECT_EQ(breaker.state(kT0), State::kClosed);
  EXPECT_EQ(breaker.Allow(50, kT0), 50);
}

TEST(CircuitBreakerTest, FailuresOlderThanTheWindowNoLongerCount) {
  CircuitBreaker breaker(Options());
  for (int i = 0; i < 4; ++i) {
    breaker.Record(SendStatus::kTransient, kT0);
    breaker.Record(SendStatus::kAccepted, kT0);
  }
  // 31 s later the eight above have left the window: these ten are judged alone.
  for (int i = 0; i < 10; ++i) {
    breaker.Record(i < 6 ? SendStatus::kAccepted : SendStatus::kTransient, kT0 + seconds(31));
  }
  EXPECT_EQ(breaker.state(kT0 + seconds(31)), State::kClosed) << "4 of 10 within the window";
}

TEST(CircuitBreakerTest, ARefusalOfOneMessageIsTheGatewayWorking) {
  CircuitBreaker breaker(Options());
  for (int i = 0; i < 20; ++i) breaker.Record(SendStatus::kPermanent, kT0);
  EXPECT_EQ(breaker.state(kT0), State::kClosed);
}

TEST(CircuitBreakerTest, RefusedCredentialsOpenItAtOnceForTheLongestPause) {
  CircuitBreaker breaker(Options());
  breaker.Record(SendStatus::kAuth, kT0);
  EXPECT_EQ(breaker.state(kT0), State::kOpen);
  EXPECT_TRUE(breaker.credentials_refused());
  EXPECT_EQ(breaker.reopens_at(), kT0 + seconds(300));
}

TEST(CircuitBreakerTest, TheShareAloneCanBeTurnedOff) {
  BreakerOptions options = Options();
  options.failure_percent = 0;
  CircuitBreaker breaker(options);
  for (int i = 0; i < 40; ++i) {
    breaker.Record(i % 2 == 0 ? SendStatus::kTransient : SendStatus::kAccepted, kT0);
  }
  EXPECT_EQ(breaker.state(kT0), State::kClosed);
}

}  // namespace
}  // namespace surveyd::dispatch
