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

TEST_F(DispatchClassify, AnAbsurdRetryAfterIsTakenAsTheBreakersLongestPause) {
  // A header in milliseconds, or a day's quota, would otherwise leave the text to expire.
  auto record = Run({gateway::SendStatus::kThrottled, "", 429, "throttled", seconds(86400)}, 1);
  EXPECT_EQ(record.next_attempt_at, now_ + options_.breaker.max_open_for);
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

// An outbox that always has texts due (where to get help: sent without rules) and keeps what
// the dispatcher writes of the gateway's wait; `shared_wait` is what another instance wrote.
class DueTexts final : public testing::EmptyOutbox<store::OutboxStore> {
 public:
  std::vector<store::OutboxMessage> ClaimAndBegin(TimePoint now, int limit, const std::string&,
                                                  std::chrono::seconds, std::chrono::seconds,
                                                  const EventScreen&,
                                                  const store::DecideClaimFn& decide) override {
    std::vector<store::OutboxMessage> claimed;
    for (int i = 0; i < limit; ++i) {
      store::OutboxMessage message;
      message.id = ++next_id_;
      message.kind = store::MessageKind::kHelp;
      message.client_ref = "ref-" + std::to_string(message.id);
      message.to_e164 = "+447700900123";
      message.body = "Call 999 if you are in danger now";
      message.expires_at = now + std::chrono::hours(24);
      claimed.push_back(message);
    }
    const auto outcomes = decide(claimed);
    std::vector<store::OutboxMessage> begun;
    for (std::size_t i = 0; i < claimed.size(); ++i) {
      if (outcomes[i].action != store::ClaimOutcome::Action::kBegin) continue;
      claimed[i].attempts = 1;
      begun.push_back(claimed[i]);
    }
    return begun;
  }
  bool ApplyDeliveryReport(const DeliveryReport&) override { return false; }
  void HoldGateway(const std::string& gateway, std::chrono::seconds wait) override {
    held.emplace_back(gateway, wait);
  }
  std::optional<GatewayWait> GatewayHold(const std::string&) override { return shared_wait; }

  std::vector<std::pair<std::string, std::chrono::seconds>> held;
  std::optional<GatewayWait> shared_wait;

 private:
  std::int64_t next_id_ = 0;
};

class DispatchGatewayWait : public ::testing::Test {
 protected:
  DispatchGatewayWait() {
    options_.rate_per_second = 0;
    options_.batch_size = 5;
    options_.gateway_wait_interval = milliseconds(0);
  }
  testing::ManualClock clock_{*ParseRfc3339("2026-11-26T10:00:00Z")};
  DueTexts outbox_;
  testing::FakeGateway gateway_;
  DispatcherOptions options_;
};

// The reviewer's run: every request answered 429 with Retry-After: 120. The first batch gets it;
// nothing more goes until 120 s have passed (not only its own texts wait), and the wait is
// written for the other instances.
TEST_F(DispatchGatewayWait, ARetryAfterStopsEveryTextUntilThen) {
  gateway_.Script(std::vector<gateway::SendResult>(
      5, {gateway::SendStatus::kThrottled, "", 429, "http 429", seconds(120)}));
  Dispatcher dispatcher(options_, outbox_, gateway_, clock_, nullptr);
  EXPECT_EQ(dispatcher.RunOnce("w"), 5);
  ASSERT_EQ(outbox_.held.size(), 1u) << "one write for the batch";
  EXPECT_EQ(outbox_.held[0], std::make_pair(std::string("fake"), seconds(120)));
  for (int i = 0; i < 119; ++i) {
    clock_.Advance(seconds(1));
    EXPECT_EQ(dispatcher.RunOnce("w"), 0) << "at +" << i + 1 << " s";
  }
  EXPECT_EQ(gateway_.Sent().size(), 5u);
  const DispatcherStatus status = dispatcher.Status();
  EXPECT_EQ(status.gateway_wait, seconds(120));
  EXPECT_EQ(status.gateway_wait_until, *ParseRfc3339("2026-11-26T10:02:00Z"));
  EXPECT_TRUE(status.sending_paused());
  clock_.Advance(seconds(1));
  EXPECT_EQ(dispatcher.RunOnce("w"), 1) << "the breaker's probe (five 429s in a row)";
  EXPECT_EQ(dispatcher.RunOnce("w"), 5) << "it worked: whole batches again";
  EXPECT_FALSE(dispatcher.Status().gateway_wait.has_value());
}

TEST_F(DispatchGatewayWait, AWaitAskedOfAnotherInstanceStopsThisOne) {
  outbox_.shared_wait = store::OutboxStore::GatewayWait{milliseconds(90000), seconds(120)};
  Dispatcher dispatcher(options_, outbox_, gateway_, clock_, nullptr);
  EXPECT_EQ(dispatcher.RunOnce("w"), 0);
  EXPECT_EQ(dispatcher.Status().gateway_wait, seconds(120));
  outbox_.shared_wait.reset();
  clock_.Advance(seconds(89));
  EXPECT_EQ(dispatcher.RunOnce("w"), 0);
  clock_.Advance(seconds(1));
  EXPECT_EQ(dispatcher.RunOnce("w"), 5);
  EXPECT_TRUE(outbox_.held.empty()) << "nothing of its own to write";
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
