#include "surveyd/dispatch/flow_control.hpp"

#include <gtest/gtest.h>

#include "fakes/captured_log.hpp"
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

// A 429 whose Retry-After is 120 s stops every request for 120 s, not only its message's: a
// fake WMNow answering 429 with Retry-After: 120 saw 38 requests within them, probes at +16,
// +46 and +106 s. Answers of the same batch that went well do not lift it.
TEST(CircuitBreakerTest, ARetryAfterHoldsEveryRequestUntilThen) {
  testing::CapturedLog log;
  CircuitBreaker breaker(Options());
  breaker.Record(SendStatus::kThrottled, kT0, seconds(120));
  breaker.Record(SendStatus::kAccepted, kT0);
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(16)), 0);
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(119)), 0);
  EXPECT_EQ(breaker.state(kT0 + seconds(60)), State::kOpen) << "sending is paused";
  EXPECT_EQ(breaker.reopens_at(), kT0 + seconds(120));
  const auto wait = breaker.gateway_wait(kT0 + seconds(60));
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(wait->asked, seconds(120));
  EXPECT_EQ(wait->until, kT0 + seconds(120));
  EXPECT_NE(log.Text().find("the gateway asked us to wait 120 s (429 Retry-After)"),
            std::string::npos)
      << log.Text();
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(120)), 10) << "one 429 opened no breaker";
  EXPECT_EQ(breaker.state(kT0 + seconds(120)), State::kClosed);
  EXPECT_FALSE(breaker.gateway_wait(kT0 + seconds(120)).has_value());
}

TEST(CircuitBreakerTest, A429WithoutRetryAfterIsAnOrdinaryFailure) {
  CircuitBreaker breaker(Options());
  breaker.Record(SendStatus::kThrottled, kT0);
  breaker.Record(SendStatus::kThrottled, kT0, seconds(0));
  EXPECT_EQ(breaker.Allow(10, kT0), 10);
  for (int i = 0; i < 3; ++i) breaker.Record(SendStatus::kThrottled, kT0);
  EXPECT_EQ(breaker.reopens_at(), kT0 + seconds(15)) << "five in a row";
}

// Each of a batch's 429s is counted as ever, so a gateway that keeps throttling is probed, one
// request after each wait, the breaker's pause doubling: it may end later than the gateway's
// wait, never sooner.
TEST(CircuitBreakerTest, AThrottledProbeWaitsAtLeastRetryAfterAndTheBreakersPauseMayBeLonger) {
  testing::CapturedLog log;
  CircuitBreaker breaker(Options());
  for (int i = 0; i < 5; ++i) breaker.Record(SendStatus::kThrottled, kT0, seconds(120));
  EXPECT_NE(log.Text().find("5 failed requests in a row: the gateway is left alone for 120 s"),
            std::string::npos)
      << "the pause said is the gateway's, not the breaker's 15 s: " << log.Text();
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(16)), 0);
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(120)), 1) << "one probe after the wait";
  breaker.Record(SendStatus::kThrottled, kT0 + seconds(120), seconds(120));
  EXPECT_EQ(breaker.reopens_at(), kT0 + seconds(240));
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(239)), 0);
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(240)), 1);
  breaker.Record(SendStatus::kThrottled, kT0 + seconds(240), seconds(10));
  EXPECT_EQ(breaker.reopens_at(), kT0 + seconds(300))
      << "the breaker's own pause (twice 30 s) outlasts a wait of 10 s";
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(300)), 1);
  breaker.Record(SendStatus::kAccepted, kT0 + seconds(301));
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(301)), 10);
}

TEST(CircuitBreakerTest, AnAbsurdRetryAfterIsTakenAsTheLongestPause) {
  testing::CapturedLog log;
  CircuitBreaker breaker(Options());
  breaker.Record(SendStatus::kThrottled, kT0, seconds(86400));
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(299)), 0);
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(300)), 10);
  EXPECT_NE(log.Text().find("the gateway asked us to wait 86400 s (429 Retry-After): taken as "
                            "300 s (dispatch.breaker_max_open_s)"),
            std::string::npos)
      << log.Text();
}

TEST(CircuitBreakerTest, AWaitAskedOfAnotherInstanceHoldsThisOneToo) {
  testing::CapturedLog log;
  CircuitBreaker breaker(Options());
  breaker.HeldElsewhere(kT0, kT0 + seconds(90), seconds(120));
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(89)), 0);
  EXPECT_EQ(breaker.gateway_wait(kT0)->asked, seconds(120));
  EXPECT_NE(log.Text().find("the gateway asked another instance to wait 120 s (429 "
                            "Retry-After): nothing is sent through it for 90 s"),
            std::string::npos)
      << log.Text();
  // Its own wait read back (a little later by the database's rounding) is not said again.
  log.Take();
  breaker.HeldElsewhere(kT0 + seconds(1), kT0 + std::chrono::milliseconds(90200), seconds(120));
  EXPECT_EQ(log.Text(), "");
  EXPECT_EQ(breaker.Allow(10, kT0 + std::chrono::milliseconds(90200)), 10);
  // Never longer than the longest pause, whatever the database holds.
  breaker.HeldElsewhere(kT0 + seconds(100), kT0 + seconds(100000), seconds(300));
  EXPECT_EQ(breaker.Allow(10, kT0 + seconds(400)), 10);
}

}  // namespace
}  // namespace surveyd::dispatch
