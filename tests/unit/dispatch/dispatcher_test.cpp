#include "surveyd/dispatch/dispatcher.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "fakes/empty_outbox.hpp"
#include "fakes/fake_gateway.hpp"
#include "fakes/manual_clock.hpp"
#include "fakes/metric_samples.hpp"
#include "surveyd/metrics/metrics.hpp"

namespace surveyd::dispatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Samples;

TEST(DispatchBackoff, DoublesWithEqualJitterAndCaps) {
  EXPECT_EQ(Backoff(1, seconds(5), seconds(600), 0.0), milliseconds(2500));
  EXPECT_EQ(Backoff(1, seconds(5), seconds(600), 1.0), milliseconds(5000));
  EXPECT_EQ(Backoff(3, seconds(5), seconds(600), 1.0), milliseconds(20000));
  EXPECT_EQ(Backoff(20, seconds(5), seconds(600), 1.0), milliseconds(600000));
  EXPECT_EQ(Backoff(20, seconds(5), seconds(600), 0.0), milliseconds(300000));
  for (double r : {0.1, 0.5, 0.9}) {
    auto delay = Backoff(2, seconds(5), seconds(600), r);
    EXPECT_GE(delay, milliseconds(5000));
    EXPECT_LE(delay, milliseconds(10000));
  }
}

class DispatchClassify : public ::testing::Test {
 protected:
  store::SendRecord Run(gateway::SendResult result, int attempt, bool idempotent = true,
                        bool sent_before = false) {
    return Classify(result, "wmnow", idempotent, attempt, sent_before, options_, now_, 0.5);
  }
  DispatcherOptions options_;
  TimePoint now_ = *ParseRfc3339("2026-11-26T10:00:00Z");
};

TEST_F(DispatchClassify, AcceptedKeepsTheGatewayId) {
  auto record = Run({gateway::SendStatus::kAccepted, "m-1", 201, "", {}}, 1);
  EXPECT_EQ(record.state, store::SendState::kAccepted);
  EXPECT_EQ(record.gateway_message_id, "m-1");
  EXPECT_EQ(record.gateway, "wmnow");
}

TEST_F(DispatchClassify, PermanentFailsAtOnce) {
  auto record = Run({gateway::SendStatus::kPermanent, "", 400, "invalid_number", {}}, 1);
  EXPECT_EQ(record.state, store::SendState::kFailed);
  EXPECT_EQ(record.error, "invalid_number");
}

TEST_F(DispatchClassify, TransientRetriesThenGivesUp) {
  auto record = Run({gateway::SendStatus::kTransient, "", 503, "HTTP 503", {}}, 1);
  EXPECT_EQ(record.state, store::SendState::kRetry);
  EXPECT_EQ(record.next_attempt_at, now_ + milliseconds(3750));
  record = Run({gateway::SendStatus::kTransient, "", 503, "HTTP 503", {}}, options_.max_attempts);
  EXPECT_EQ(record.state, store::SendState::kFailed);
}

TEST_F(DispatchClassify, ThrottledWaitsAtLeastRetryAfter) {
  auto record = Run({gateway::SendStatus::kThrottled, "", 429, "throttled", seconds(120)}, 1);
  EXPECT_EQ(record.state, store::SendState::kRetry);
  EXPECT_EQ(record.next_attempt_at, now_ + seconds(120));
  EXPECT_FALSE(record.counts_attempt) << "given back: it says nothing of the message";
  // However long the gateway slows us down: the message is not at fault, and expires on time.
  record = Run({gateway::SendStatus::kThrottled, "", 429, "throttled", seconds(1)},
               options_.max_attempts + 3);
  EXPECT_EQ(record.state, store::SendState::kRetry);
}

TEST_F(DispatchClassify, AuthFailureWaitsLongAndNeverFailsTheMessage) {
  auto record = Run({gateway::SendStatus::kAuth, "", 401, "unauthorized", {}}, 50);
  EXPECT_EQ(record.state, store::SendState::kRetry);
  EXPECT_EQ(record.next_attempt_at, now_ + options_.backoff_max);
  EXPECT_FALSE(record.counts_attempt);
  EXPECT_TRUE(Run({gateway::SendStatus::kTransient, "", 503, "http 503", {}}, 1).counts_attempt);
}

TEST_F(DispatchClassify, InDoubtResendsOnlyThroughAnIdempotentGateway) {
  gateway::SendResult doubt{gateway::SendStatus::kInDoubt, "", 0, "timeout after send", {}};
  EXPECT_EQ(Run(doubt, 1, true).state, store::SendState::kRetry);
  EXPECT_EQ(Run(doubt, 1, false).state, store::SendState::kInDoubt);
}

// A text one of whose requests may have reached the gateway may have reached the handset: given
// up on, it is held in doubt for its delivery reports, as when it is cancelled or expires, never
// failed (a failed message takes no report, and retention counts from its failure).
TEST_F(DispatchClassify, GivingUpOnATextThatMayHaveGoneOutHoldsItInDoubt) {
  const gateway::SendResult unavailable{gateway::SendStatus::kTransient, "", 503, "http 503", {}};
  const gateway::SendResult refused{gateway::SendStatus::kPermanent, "", 400, "invalid_number", {}};
  auto record = Run(unavailable, options_.max_attempts, true, true);
  EXPECT_EQ(record.state, store::SendState::kInDoubt);
  EXPECT_EQ(record.error,
            "gave up after 8 attempts: http 503; an earlier request may have reached the gateway");
  EXPECT_EQ(Run(refused, 2, true, true).state, store::SendState::kInDoubt);
  EXPECT_EQ(Run(unavailable, 2, true, true).state, store::SendState::kRetry) << "not given up";
  EXPECT_EQ(Run(unavailable, options_.max_attempts).state, store::SendState::kFailed);
  EXPECT_EQ(Run(refused, 2).state, store::SendState::kFailed);
}

class NoTexts final : public testing::EmptyOutbox<store::OutboxStore> {
 public:
  bool ApplyDeliveryReport(const DeliveryReport&) override { return false; }
};

// While the ops hold cannot be read (the database is down) its gauge is absent, not the last
// value read: a dashboard would show texts going out through the outage, or still held after a
// release it could not see. When it was last read says how stale the picture is.
TEST(DispatchMetrics, TheOpsHoldGaugeIsAbsentWhileTheHoldCannotBeRead) {
  const TimePoint t0 = *ParseRfc3339("2026-11-26T10:00:00Z");
  testing::ManualClock clock(t0);
  NoTexts outbox;
  testing::FakeGateway gateway;
  metrics::Registry registry;
  bool reachable = true;
  DispatcherOptions options;
  options.metrics = &registry;
  options.rate_per_second = 0;
  options.ops_hold_interval = milliseconds(0);
  options.ops_hold = [&]() -> std::optional<store::SendHold> {
    if (!reachable) throw std::runtime_error("store unavailable: connection refused");
    store::SendHold hold;
    hold.reason = "critical incident";
    return hold;
  };
  Dispatcher dispatcher(options, outbox, gateway, clock, nullptr);
  const std::string held = "surveyd_sends_held_by_ops";
  const std::string read_at = "surveyd_sends_held_by_ops_last_success_timestamp_seconds";
  EXPECT_EQ(Samples(registry.Render(), held), "") << "not read yet";
  EXPECT_EQ(Samples(registry.Render(), read_at), read_at + " 0\n");

  dispatcher.RunOnce("w");
  EXPECT_EQ(Samples(registry.Render(), held), held + " 1\n");
  EXPECT_EQ(Samples(registry.Render(), read_at),
            read_at + " " + std::to_string(ToUnixSeconds(t0)) + "\n");

  reachable = false;
  clock.Advance(seconds(30));
  EXPECT_THROW(dispatcher.RunOnce("w"), std::runtime_error);
  EXPECT_EQ(Samples(registry.Render(), held), "") << "unknown during the outage";
  EXPECT_EQ(Samples(registry.Render(), read_at),
            read_at + " " + std::to_string(ToUnixSeconds(t0)) + "\n");

  reachable = true;
  dispatcher.RunOnce("w");
  EXPECT_EQ(Samples(registry.Render(), held), held + " 1\n");
  EXPECT_EQ(Samples(registry.Render(), read_at),
            read_at + " " + std::to_string(ToUnixSeconds(t0 + seconds(30))) + "\n");
}

}  // namespace
}  // namespace surveyd::dispatch
