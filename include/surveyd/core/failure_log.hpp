#pragma once
// What a retrying loop says of its failures: the first of an outage as an error, again when
// the error changes, a summary now and then while it lasts ("still failing", a minute in, then
// at doubling intervals up to an hour), and once when it works again (with how many failures
// and how long), the retries in between at debug. Several workers of one loop share one: a
// database outage then reads as a few lines, not one per worker per backoff (82 in 30 s, as ops
// met it), and an hour without the feed as seven, not one per reconnect.
#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "surveyd/core/clock.hpp"

namespace surveyd {

class FailureLog {
 public:
  // `what` names the loop in each line ("dispatch", "alert notifier"). `clock` times the
  // outages and must outlive this.
  FailureLog(std::string what, const Clock& clock);

  // A failure: logged as an error when it starts an outage or differs from the last one, as a
  // warning when a summary is due, otherwise at debug (no personal data in `error`: what the
  // loops catch says what failed and how).
  void Failed(const std::string& error);
  // A success: after failures, "working again" once, and returns when the outage began;
  // otherwise nothing, and cheap.
  std::optional<TimePoint> Succeeded();

  bool failing() const { return failing_.load(std::memory_order_relaxed); }
  // When the outage under way began; nullopt while it works.
  std::optional<TimePoint> failing_since() const;

 private:
  const std::string what_;
  const Clock& clock_;
  std::atomic<bool> failing_{false};
  mutable std::mutex mutex_;
  std::string last_error_;
  long failures_ = 0;
  TimePoint since_;
  TimePoint next_summary_;
  Duration summary_interval_{};
};

}  // namespace surveyd
