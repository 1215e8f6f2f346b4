#pragma once
// What a retrying loop says of its failures: the first of an outage as an error, again when
// the error changes, and once when it works again (with how many failures and how long), the
// retries in between at debug. Several workers of one loop share one: a database outage then
// reads as two lines, not one per worker per backoff (82 in 30 s, as ops met it).
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

namespace surveyd {

class FailureLog {
 public:
  // `what` names the loop in each line ("dispatch", "alert notifier").
  explicit FailureLog(std::string what);

  // A failure: logged as an error when it starts an outage or differs from the last one
  // (no personal data in `error`: what the loops catch says what failed and how).
  void Failed(const std::string& error);
  // A success: after failures, "working again" once; otherwise nothing, and cheap.
  void Succeeded();

  bool failing() const { return failing_.load(std::memory_order_relaxed); }

 private:
  const std::string what_;
  std::atomic<bool> failing_{false};
  std::mutex mutex_;
  std::string last_error_;
  long failures_ = 0;
  std::chrono::steady_clock::time_point since_;
};

}  // namespace surveyd
