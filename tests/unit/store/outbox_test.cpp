// The outbox's words for delivery states and kinds, as the database's CHECK constraints spell
// them.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

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

// The kinds as the CHECK constraint (0035) spells them, read back; only the survey's own texts
// are decided again before they go (a help text or a confirmation answers the citizen).
TEST(MessageKinds, NameEachKindAsTheSchemaDoesAndSayWhichAreDecidedAgain) {
  for (const auto& [kind, name, decided_again] :
       std::vector<std::tuple<MessageKind, std::string, bool>>{
           {MessageKind::kSurvey, "survey", true},
           {MessageKind::kQuestion, "question", true},
           {MessageKind::kConfirmation, "confirmation", false},
           {MessageKind::kHelp, "help", false}}) {
    EXPECT_EQ(MessageKindName(kind), name);
    EXPECT_EQ(ParseMessageKind(name), kind) << name;
    EXPECT_EQ(DecidedAgain(kind), decided_again) << name;
  }
  EXPECT_FALSE(ParseMessageKind("reminder"));
}

}  // namespace
}  // namespace surveyd::store
