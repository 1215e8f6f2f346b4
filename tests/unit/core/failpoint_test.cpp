#include "surveyd/core/failpoint.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>
#include <vector>

namespace surveyd::failpoint {
namespace {

constexpr std::size_t kDispatch = IndexOf("dispatch.after_gateway_before_commit");
constexpr std::size_t kAlerts = IndexOf("alerts.after_send_before_record");

TEST(Failpoint, NamesAreUniqueAndDotted) {
  for (std::size_t i = 0; i < kFailpoints.size(); ++i) {
    EXPECT_NE(kFailpoints[i].find('.'), std::string_view::npos) << kFailpoints[i];
    EXPECT_EQ(kFailpoints[i].find_first_of(",@ "), std::string_view::npos) << kFailpoints[i];
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(kFailpoints[i], kFailpoints[j]);
  }
}

TEST(Failpoint, ParsesANameAndDiesOnItsFirstHit) {
  const Parsed parsed = Parse("dispatch.after_gateway_before_commit");
  EXPECT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.armed, (std::vector<Arming>{{kDispatch, 1}}));
}

TEST(Failpoint, ParsesSeveralWithTheHitToDieOn) {
  const Parsed parsed =
      Parse("alerts.after_send_before_record@3,dispatch.after_gateway_before_commit");
  EXPECT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.armed, (std::vector<Arming>{{kAlerts, 3}, {kDispatch, 1}}));
}

TEST(Failpoint, RefusesWhatCouldMakeATestPassWithoutItsFailpoint) {
  for (const char* spec :
       {"", "dispatch.after_gateway_before_comit", "Dispatch.after_gateway_before_commit",
        "dispatch.after_gateway_before_commit@0", "dispatch.after_gateway_before_commit@",
        "dispatch.after_gateway_before_commit@2x", "dispatch.after_gateway_before_commit@-1",
        "dispatch.after_gateway_before_commit,", ",dispatch.after_gateway_before_commit",
        "dispatch.after_gateway_before_commit, feed.after_commit_before_ack",
        "feed.after_commit_before_ack,feed.after_commit_before_ack@2"}) {
    const Parsed parsed = Parse(spec);
    EXPECT_TRUE(parsed.armed.empty()) << spec;
    EXPECT_NE(parsed.error.find("SURVEYD_FAILPOINT"), std::string::npos) << spec;
    // The refusal lists what exists, so the typo is plain to see.
    EXPECT_NE(parsed.error.find("feed.after_commit_before_ack"), std::string::npos) << spec;
  }
  EXPECT_NE(Parse("dispatch.typo").error.find("unknown failpoint 'dispatch.typo'"),
            std::string::npos);
}

TEST(Failpoint, AnUnarmedFailpointNeverFires) {
  Registry registry;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(registry.Hit(kDispatch));
  EXPECT_EQ(registry.Hits(kDispatch), 0) << "not even counted";
}

TEST(Failpoint, FiresOnTheArmedHitOnlyAndCountsTheOthersApart) {
  Registry registry;
  registry.Arm({{kDispatch, 3}, {kAlerts, 1}});
  EXPECT_FALSE(registry.Hit(kDispatch));
  EXPECT_FALSE(registry.Hit(kDispatch));
  EXPECT_TRUE(registry.Hit(kDispatch));
  EXPECT_FALSE(registry.Hit(kDispatch)) << "once";
  EXPECT_EQ(registry.Hits(kDispatch), 4);
  EXPECT_TRUE(registry.Hit(kAlerts));
  EXPECT_FALSE(registry.Hit(IndexOf("feed.after_commit_before_ack")));
}

TEST(Failpoint, ExactlyOneThreadFiresUnderConcurrentHits) {
  Registry registry;
  registry.Arm({{kDispatch, 500}});
  std::atomic<int> fired{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) fired += registry.Hit(kDispatch) ? 1 : 0;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(fired.load(), 1);
  EXPECT_EQ(registry.Hits(kDispatch), 4000);
}

TEST(Failpoint, ArmingAgainStartsTheCountAfresh) {
  Registry registry;
  registry.Arm({{kDispatch, 2}});
  EXPECT_FALSE(registry.Hit(kDispatch));
  registry.Arm({{kDispatch, 2}});
  EXPECT_FALSE(registry.Hit(kDispatch));
  EXPECT_TRUE(registry.Hit(kDispatch));
  registry.Arm({});
  EXPECT_FALSE(registry.Hit(kDispatch));
}

TEST(Failpoint, TheEnvironmentIsReadAndCheckedAtStart) {
  unsetenv("SURVEYD_FAILPOINT");
  EXPECT_EQ(ArmFromEnvironment(), "") << "nothing asked, nothing armed";
  setenv("SURVEYD_FAILPOINT", "feed.after_commit_before_akc", 1);
  EXPECT_NE(ArmFromEnvironment().find("unknown failpoint"), std::string::npos);
  // Armed on a hit that never comes here, so that the process's registry stays harmless.
  setenv("SURVEYD_FAILPOINT", "feed.after_commit_before_ack@1000000000", 1);
  const std::string armed = ArmFromEnvironment();
  if (Compiled()) {
    EXPECT_EQ(armed, "");
  } else {
    EXPECT_NE(armed.find("no failpoints"), std::string::npos) << "a build without them refuses";
  }
  setenv("SURVEYD_FAILPOINT",
         "feed.after_commit_before_ack@1000000000,alerts.after_send_before_record@1000000000", 1);
  EXPECT_EQ(ArmFromEnvironment().empty(), Compiled());
  unsetenv("SURVEYD_FAILPOINT");
}

}  // namespace
}  // namespace surveyd::failpoint
