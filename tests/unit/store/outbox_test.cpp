// The outbox's words for delivery states, as the database's CHECK constraint (0003) spells them.
#include <gtest/gtest.h>

#include "surveyd/store/outbox_store.hpp"

namespace surveyd::store {
namespace {

TEST(OutboxStateFor, NamesEachDeliveryStateAsTheSchemaDoes) {
  EXPECT_STREQ(OutboxStateFor(DeliveryState::kAccepted), "accepted");
  EXPECT_STREQ(OutboxStateFor(DeliveryState::kSent), "sent");
  EXPECT_STREQ(OutboxStateFor(DeliveryState::kDelivered), "delivered");
  EXPECT_STREQ(OutboxStateFor(DeliveryState::kFailed), "failed");
  EXPECT_STREQ(OutboxStateFor(DeliveryState::kUndeliverable), "undeliverable");
  // The network's expiry, apart from the outbox's own "expired" (never sent in time).
  EXPECT_STREQ(OutboxStateFor(DeliveryState::kExpired), "delivery_expired");
}

}  // namespace
}  // namespace surveyd::store
