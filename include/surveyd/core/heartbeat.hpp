#pragma once
// A long-lived loop's proof of progress. The loop beats each time it completes a step, idle steps
// included (a poll that found nothing, a heartbeat from the feed, a timer on the I/O thread); a
// loop stuck in a call stops beating. The watchdog (systemd WATCHDOG=1) and /metrics read it.
#include <atomic>
#include <chrono>

namespace surveyd {

class Heartbeat {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  Heartbeat() { Beat(); }
  void Beat() { Beat(std::chrono::steady_clock::now()); }
  void Beat(SteadyTime now) {
    last_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }
  SteadyTime Last() const {
    return SteadyTime(SteadyTime::duration(last_.load(std::memory_order_relaxed)));
  }

 private:
  std::atomic<SteadyTime::rep> last_{0};
};

}  // namespace surveyd
