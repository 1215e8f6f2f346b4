#include "surveyd/core/failure_log.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace surveyd {
namespace {

using namespace std::chrono_literals;

// The first summary comes a minute into an outage; each next one twice as far on, and never
// more than an hour apart: a long outage still shows in the last hour of the log.
constexpr Duration kFirstSummary = 1min;
constexpr Duration kLongestBetweenSummaries = 1h;

// "45 s", "12 min 5 s", "3 h 2 min": how long an outage has lasted, for a person.
std::string DescribeDuration(Duration d) {
  const auto seconds =
      std::max<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(d).count(), 0);
  if (seconds < 60) return std::to_string(seconds) + " s";
  if (seconds < 3600) {
    return std::to_string(seconds / 60) + " min " + std::to_string(seconds % 60) + " s";
  }
  return std::to_string(seconds / 3600) + " h " + std::to_string(seconds % 3600 / 60) + " min";
}

}  // namespace

FailureLog::FailureLog(std::string what, const Clock& clock)
    : what_(std::move(what)), clock_(clock) {}

void FailureLog::Failed(const std::string& error) {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mutex_);
  const bool starts = !failing_.load(std::memory_order_relaxed);
  if (starts) {
    failures_ = 0;
    since_ = now;
    summary_interval_ = kFirstSummary;
    next_summary_ = now + summary_interval_;
    failing_.store(true, std::memory_order_relaxed);
  }
  ++failures_;
  if (starts || error != last_error_) {
    spdlog::error("{}: {}{}", what_, error, starts ? "" : " (still failing)");
    last_error_ = error;
  } else if (now >= next_summary_) {
    spdlog::warn("{}: still failing after {} failure(s), since {} ({}): {}", what_, failures_,
                 FormatRfc3339(since_), DescribeDuration(now - since_), error);
    summary_interval_ = std::min(summary_interval_ * 2, kLongestBetweenSummaries);
    next_summary_ = now + summary_interval_;
  } else {
    spdlog::debug("{}: {} (failure {})", what_, error, failures_);
  }
}

std::optional<TimePoint> FailureLog::Succeeded() {
  if (!failing_.load(std::memory_order_relaxed)) return std::nullopt;
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mutex_);
  if (!failing_.load(std::memory_order_relaxed)) return std::nullopt;
  failing_.store(false, std::memory_order_relaxed);
  spdlog::info("{}: working again, after {} failure(s) in {} (since {})", what_, failures_,
               DescribeDuration(now - since_), FormatRfc3339(since_));
  last_error_.clear();
  return since_;
}

std::optional<TimePoint> FailureLog::failing_since() const {
  std::lock_guard lock(mutex_);
  if (!failing_.load(std::memory_order_relaxed)) return std::nullopt;
  return since_;
}

}  // namespace surveyd
