#pragma once
// A gateway that answers from a script and remembers what it was asked to send.
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "surveyd/gateway/gateway.hpp"

namespace surveyd::testing {

class FakeGateway final : public gateway::Sender {
 public:
  explicit FakeGateway(bool idempotent = true) : idempotent_(idempotent) {}

  std::string Name() const override { return "fake"; }
  bool Idempotent() const override { return idempotent_; }

  gateway::SendResult Send(const gateway::OutgoingSms& sms) override {
    if (on_send_) on_send_(sms);  // e.g. a slow gateway: moves a manual clock on
    std::lock_guard lock(mutex_);
    sent_.push_back(sms);
    if (!script_.empty()) {
      auto result = script_.front();
      script_.pop_front();
      return result;
    }
    return {gateway::SendStatus::kAccepted, "m-" + std::to_string(sent_.size()), 201, "", {}};
  }

  // The next answers, in order; once used up, every send is accepted.
  void Script(std::vector<gateway::SendResult> results) {
    std::lock_guard lock(mutex_);
    script_.insert(script_.end(), results.begin(), results.end());
  }

  // Called before each send is answered, outside the fake's lock. Set before sending starts.
  void OnSend(std::function<void(const gateway::OutgoingSms&)> hook) { on_send_ = std::move(hook); }

  std::vector<gateway::OutgoingSms> Sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  bool idempotent_;
  mutable std::mutex mutex_;
  std::deque<gateway::SendResult> script_;
  std::vector<gateway::OutgoingSms> sent_;
  std::function<void(const gateway::OutgoingSms&)> on_send_;
};

}  // namespace surveyd::testing
