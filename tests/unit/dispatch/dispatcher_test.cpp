#include "surveyd/dispatch/dispatcher.hpp"

#include <gtest/gtest.h>

namespace surveyd::dispatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

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
  store::SendRecord Run(gateway::SendResult result, int attempt, bool idempotent = true) {
    return Classify(result, "wmnow", idempotent, attempt, options_, now_, 0.5);
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
  // However long the gateway slows us down: the message is not at fault, and expires on time.
  record = Run({gateway::SendStatus::kThrottled, "", 429, "throttled", seconds(1)},
               options_.max_attempts + 3);
  EXPECT_EQ(record.state, store::SendState::kRetry);
}

TEST_F(DispatchClassify, AuthFailureWaitsLongAndNeverFailsTheMessage) {
  auto record = Run({gateway::SendStatus::kAuth, "", 401, "unauthorized", {}}, 50);
  EXPECT_EQ(record.state, store::SendState::kRetry);
  EXPECT_EQ(record.next_attempt_at, now_ + options_.backoff_max);
}

TEST_F(DispatchClassify, InDoubtResendsOnlyThroughAnIdempotentGateway) {
  gateway::SendResult doubt{gateway::SendStatus::kInDoubt, "", 0, "timeout after send", {}};
  EXPECT_EQ(Run(doubt, 1, true).state, store::SendState::kRetry);
  EXPECT_EQ(Run(doubt, 1, false).state, store::SendState::kInDoubt);
}

}  // namespace
}  // namespace surveyd::dispatch
