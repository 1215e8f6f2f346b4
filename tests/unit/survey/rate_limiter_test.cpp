#include "surveyd/survey/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fakes/manual_clock.hpp"

namespace surveyd::survey {
namespace {

using std::chrono::seconds;

class RateLimiterTest : public ::testing::Test {
 protected:
  testing::ManualClock clock_{FromUnixSeconds(1'800'000'000)};
};

TEST_F(RateLimiterTest, LimitsAfterNFailuresAndRecoversOverTime) {
  RateLimiter limiter(clock_, 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(limiter.IsLimited("198.51.100.7")) << i;
    limiter.RecordFailure("198.51.100.7");
  }
  EXPECT_TRUE(limiter.IsLimited("198.51.100.7"));
  EXPECT_FALSE(limiter.IsLimited("198.51.100.8"));  // per client

  clock_.Advance(seconds(11));  // 5 a minute: one try back every 12 s
  EXPECT_TRUE(limiter.IsLimited("198.51.100.7"));
  clock_.Advance(seconds(1));
  EXPECT_FALSE(limiter.IsLimited("198.51.100.7"));
  limiter.RecordFailure("198.51.100.7");
  EXPECT_TRUE(limiter.IsLimited("198.51.100.7"));

  clock_.Advance(seconds(60));
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(limiter.IsLimited("198.51.100.7"));
    limiter.RecordFailure("198.51.100.7");
  }
  EXPECT_TRUE(limiter.IsLimited("198.51.100.7"));
}

TEST_F(RateLimiterTest, CheckingDoesNotUseATry) {
  RateLimiter limiter(clock_, 2);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(limiter.IsLimited("a"));
  EXPECT_EQ(limiter.TrackedClients(), 0u);
}

TEST_F(RateLimiterTest, ZeroTurnsTheLimitOff) {
  RateLimiter limiter(clock_, 0);
  for (int i = 0; i < 100; ++i) limiter.RecordFailure("a");
  EXPECT_FALSE(limiter.IsLimited("a"));
  EXPECT_EQ(limiter.TrackedClients(), 0u);
}

TEST_F(RateLimiterTest, MemoryStaysBoundedUnderManyClients) {
  RateLimiter limiter(clock_, 3, 100);
  for (int i = 0; i < 1000; ++i) {
    const std::string client = "client-" + std::to_string(i);
    clock_.Advance(std::chrono::milliseconds(1));
    limiter.RecordFailure(client);
    limiter.RecordFailure(client);
    limiter.RecordFailure(client);
    ASSERT_LE(limiter.TrackedClients(), 100u);
  }
  // The newest clients are still limited; the oldest were forgotten.
  EXPECT_TRUE(limiter.IsLimited("client-999"));
  EXPECT_FALSE(limiter.IsLimited("client-0"));
}

TEST_F(RateLimiterTest, RefilledClientsAreSweptOut) {
  RateLimiter limiter(clock_, 3, 1000);
  for (int i = 0; i < 50; ++i) limiter.RecordFailure("old-" + std::to_string(i));
  EXPECT_EQ(limiter.TrackedClients(), 50u);
  clock_.Advance(seconds(120));
  limiter.RecordFailure("new");
  EXPECT_EQ(limiter.TrackedClients(), 1u);
}

TEST_F(RateLimiterTest, ThreadSafe) {
  RateLimiter limiter(clock_, 1000, 50);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&limiter, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string client = std::to_string((t * 7 + i) % 80);
        if (!limiter.IsLimited(client)) limiter.RecordFailure(client);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(limiter.TrackedClients(), 50u);
}

TEST(RateLimitKeyTest, GroupsIpv6By64AndUnmapsIpv4) {
  EXPECT_EQ(RateLimitKey("198.51.100.7"), "198.51.100.7");
  EXPECT_EQ(RateLimitKey("::ffff:198.51.100.7"), "198.51.100.7");
  EXPECT_EQ(RateLimitKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(RateLimitKey("2001:db8:1:2::1"), RateLimitKey("[2001:db8:1:2:ffff::9]"));
  EXPECT_NE(RateLimitKey("2001:db8:1:2::1"), RateLimitKey("2001:db8:1:3::1"));
  EXPECT_EQ(RateLimitKey(""), "");
}

}  // namespace
}  // namespace surveyd::survey
