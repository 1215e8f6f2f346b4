#pragma once
// The outbox half of a fake store for tests that never send: nothing is due, no send begins, no
// send slot is taken. Base is the interface the fake implements (store::OutboxStore, or the whole
// store::Store), so that the fake derives from it once. ApplyDeliveryReport is left to the fake:
// gateways' callbacks reach the outbox through it, and each test watches it its own way.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/store/outbox_store.hpp"

namespace surveyd::testing {

template <class Base>
class EmptyOutbox : public Base {
 public:
  std::vector<store::OutboxMessage> ClaimAndBegin(TimePoint, int, const std::string&,
                                                  std::chrono::seconds, std::chrono::seconds,
                                                  const EventScreen&,
                                                  const store::DecideClaimFn&) override {
    return {};
  }
  std::vector<store::OutboxMessage> ClaimDue(TimePoint, int, const std::string&,
                                             std::chrono::seconds, const EventScreen&) override {
    return {};
  }
  std::vector<int> BeginSends(const std::vector<store::SendStart>& starts, TimePoint,
                              std::chrono::seconds) override {
    return std::vector<int>(starts.size(), 0);
  }
  void RecordAttempts(const std::vector<store::Attempt>&, TimePoint) override {}
  void Reschedule(const std::vector<store::OutboxMessage>&, TimePoint) override {}
  void Cancel(const std::vector<store::Cancellation>&, const std::string&, TimePoint) override {}
  int RecoverStale(TimePoint, bool) override { return 0; }
  int ExpireOverdue(TimePoint) override { return 0; }
  int TakeSendSlots(const std::string&, std::int64_t, int, int, int) override { return 0; }
  void SettleSendSlots(const std::string&, std::int64_t, int, std::int64_t, int) override {}
  void HoldGateway(const std::string&, std::chrono::seconds) override {}
  std::optional<store::OutboxStore::GatewayWait> GatewayHold(const std::string&) override {
    return std::nullopt;
  }
};

}  // namespace surveyd::testing
