#include "surveyd/core/failure_log.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace surveyd {

FailureLog::FailureLog(std::string what) : what_(std::move(what)) {}

void FailureLog::Failed(const std::string& error) {
  std::lock_guard lock(mutex_);
  const bool starts = !failing_.load(std::memory_order_relaxed);
  if (starts) {
    failures_ = 0;
    since_ = std::chrono::steady_clock::now();
    failing_.store(true, std::memory_order_relaxed);
  }
  ++failures_;
  if (starts || error != last_error_) {
    spdlog::error("{}: {}{}", what_, error, starts ? "" : " (still failing)");
    last_error_ = error;
  } else {
    spdlog::debug("{}: {} (failure {})", what_, error, failures_);
  }
}

void FailureLog::Succeeded() {
  if (!failing_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mutex_);
  if (!failing_.load(std::memory_order_relaxed)) return;
  failing_.store(false, std::memory_order_relaxed);
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - since_)
          .count();
  spdlog::info("{}: working again, after {} failure(s) in {} s", what_, failures_, seconds);
  last_error_.clear();
}

}  // namespace surveyd
