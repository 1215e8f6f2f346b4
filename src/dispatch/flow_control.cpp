#include "surveyd/dispatch/flow_control.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace surveyd::dispatch {

RateLimiter::RateLimiter(store::OutboxStore& store, std::string gateway, double rate_per_second)
    : store_(store), gateway_(std::move(gateway)) {
  if (rate_per_second <= 0) return;
  constexpr int kBucketsPerSecond = 1000 / static_cast<int>(kBucket.count());
  // A one-second window of sends touches at most kBucketsPerSecond + 1 buckets, so `cap` sends
  // per that many buckets keeps every such window within the rate. Below one per second, one
  // send per as many buckets as the rate allows.
  if (rate_per_second >= 1) {
    cap_ = static_cast<int>(std::floor(rate_per_second));
    span_ = kBucketsPerSecond + 1;
  } else {
    cap_ = 1;
    span_ = static_cast<int>(std::ceil(kBucketsPerSecond / rate_per_second)) + 1;
  }
}

RateLimiter::Grant RateLimiter::Take(int wanted, TimePoint now) {
  Grant grant;
  grant.bucket =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() /
      kBucket.count();
  if (wanted <= 0) return grant;
  if (Unlimited()) {
    grant.slots = wanted;
    return grant;
  }
  grant.slots = store_.TakeSendSlots(gateway_, grant.bucket, wanted, cap_, span_);
  return grant;
}

void RateLimiter::Settle(Grant& grant, int sent, TimePoint now) {
  const int granted = grant.slots;
  grant.slots = 0;
  if (Unlimited() || granted <= 0) return;
  const std::int64_t bucket =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() /
      kBucket.count();
  store_.SettleSendSlots(gateway_, grant.bucket, granted, std::max(bucket, grant.bucket),
                         std::clamp(sent, 0, granted));
}

CircuitBreaker::CircuitBreaker(BreakerOptions options) : options_(options) {}

int CircuitBreaker::Allow(int wanted, TimePoint now) {
  std::lock_guard lock(mutex_);
  if (now < held_until_) return 0;  // the gateway asked us to wait
  if (state_ == State::kOpen && now >= reopens_at_) state_ = State::kHalfOpen;
  switch (state_) {
    case State::kClosed:
      return wanted;
    case State::kOpen:
      return 0;
    case State::kHalfOpen:
      if (probe_out_ || wanted <= 0) return 0;
      probe_out_ = true;
      return 1;
  }
  return 0;
}

void CircuitBreaker::Record(gateway::SendStatus status, TimePoint now,
                            std::optional<std::chrono::seconds> retry_after) {
  using gateway::SendStatus;
  std::lock_guard lock(mutex_);
  if (status == SendStatus::kThrottled && retry_after && *retry_after > std::chrono::seconds(0)) {
    // First, so that what the breaker says below counts the gateway's wait in. Then it is
    // counted as any 429: a gateway that keeps throttling is probed, its pause doubling.
    const auto wait = std::min(*retry_after, options_.max_open_for);
    HoldUntil(now, now + wait, wait, *retry_after, false);
  }
  const bool auth = status == SendStatus::kAuth;
  const bool failed = auth || status == SendStatus::kTransient || status == SendStatus::kInDoubt ||
                      status == SendStatus::kThrottled;
  const bool probe = state_ == State::kHalfOpen || (state_ == State::kOpen && probe_out_);
  Count(failed, now);
  if (!failed) {
    failures_in_a_row_ = 0;
    credentials_refused_ = false;
    if (probe || state_ != State::kClosed) {
      spdlog::info("dispatch: the gateway answers again; sending resumes");
      state_ = State::kClosed;
      pause_ = std::chrono::seconds(0);
      ForgetTheWindow();
    }
    probe_out_ = false;
    return;
  }
  ++failures_in_a_row_;
  if (auth) {
    credentials_refused_ = true;
    if (state_ == State::kClosed || probe) {
      spdlog::error(
          "dispatch: the gateway refuses our credentials (401/403): sending stops for {} s; "
          "check the gateway's key or password",
          options_.max_open_for.count());
    }
    probe_out_ = false;
    Open(now, options_.max_open_for);
    return;
  }
  if (probe) {
    probe_out_ = false;
    Open(now, std::min(pause_ * 2, std::chrono::seconds(options_.max_open_for)));
    spdlog::warn("dispatch: the gateway still fails; the next probe in {} s", PausedFor(now));
    return;
  }
  if (state_ == State::kClosed && failures_in_a_row_ >= options_.failures_to_open) {
    Open(now, options_.open_for);
    spdlog::error("dispatch: {} failed requests in a row: the gateway is left alone for {} s",
                  failures_in_a_row_, PausedFor(now));
  } else if (state_ == State::kClosed && TooManyFailedInTheWindow()) {
    const int failed_now = window_failed_;
    const int requests = window_ok_ + window_failed_;
    Open(now, options_.open_for);
    spdlog::error(
        "dispatch: {} of the last {} requests failed (within {} s): the gateway is left alone "
        "for {} s",
        failed_now, requests, options_.window.count(), PausedFor(now));
  }
}

void CircuitBreaker::NothingSent() {
  std::lock_guard lock(mutex_);
  probe_out_ = false;
}

void CircuitBreaker::Open(TimePoint now, std::chrono::seconds pause) {
  if (state_ != State::kOpen) ++times_opened_;
  state_ = State::kOpen;
  pause_ = std::max(pause, std::chrono::seconds(1));
  reopens_at_ = now + pause_;
  ForgetTheWindow();
}

void CircuitBreaker::HeldElsewhere(TimePoint now, TimePoint until, std::chrono::seconds asked) {
  std::lock_guard lock(mutex_);
  HoldUntil(now, std::min(until, now + options_.max_open_for), asked, asked, true);
}

void CircuitBreaker::HoldUntil(TimePoint now, TimePoint until, std::chrono::seconds asked,
                               std::chrono::seconds retry_after, bool elsewhere) {
  if (until <= held_until_) return;
  // Said when it holds sending a second longer than before: not for each 429 of a batch, nor
  // for this instance's own wait read back from the database.
  const bool longer = until >= std::max(held_until_, now) + std::chrono::seconds(1);
  held_until_ = until;
  held_for_ = asked;
  if (!longer) return;
  const auto for_s = std::chrono::ceil<std::chrono::seconds>(until - now).count();
  if (elsewhere) {
    spdlog::warn(
        "dispatch: the gateway asked another instance to wait {} s (429 Retry-After): nothing "
        "is sent through it for {} s",
        asked.count(), for_s);
  } else if (retry_after > asked) {
    spdlog::warn(
        "dispatch: the gateway asked us to wait {} s (429 Retry-After): taken as {} s "
        "(dispatch.breaker_max_open_s), so that a bad header cannot stop sending for longer; "
        "nothing is sent through it until then",
        retry_after.count(), asked.count());
  } else {
    spdlog::warn(
        "dispatch: the gateway asked us to wait {} s (429 Retry-After): nothing is sent through "
        "it until then",
        asked.count());
  }
}

std::int64_t CircuitBreaker::PausedFor(TimePoint now) const {
  const TimePoint until = std::max(reopens_at_, held_until_);
  return until > now ? std::chrono::ceil<std::chrono::seconds>(until - now).count() : 0;
}

void CircuitBreaker::Count(bool failed, TimePoint now) {
  const std::int64_t second =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (window_.empty() || window_.back().at < second) window_.push_back({second});
  Second& current = window_.back();  // a late report of an earlier second counts in this one
  (failed ? current.failed : current.ok) += 1;
  (failed ? window_failed_ : window_ok_) += 1;
  while (!window_.empty() && window_.front().at <= second - options_.window.count()) {
    window_ok_ -= window_.front().ok;
    window_failed_ -= window_.front().failed;
    window_.pop_front();
  }
}

bool CircuitBreaker::TooManyFailedInTheWindow() const {
  if (options_.failure_percent <= 0) return false;
  const int requests = window_ok_ + window_failed_;
  return requests >= 2 * options_.failures_to_open &&
         window_failed_ * 100 >= options_.failure_percent * requests;
}

void CircuitBreaker::ForgetTheWindow() {
  window_.clear();
  window_ok_ = 0;
  window_failed_ = 0;
}

CircuitBreaker::State CircuitBreaker::state(TimePoint now) const {
  std::lock_guard lock(mutex_);
  if (now < held_until_) return State::kOpen;
  if (state_ == State::kOpen && now >= reopens_at_) return State::kHalfOpen;
  return state_;
}

TimePoint CircuitBreaker::reopens_at() const {
  std::lock_guard lock(mutex_);
  return std::max(reopens_at_, held_until_);
}

std::optional<CircuitBreaker::GatewayWait> CircuitBreaker::gateway_wait(TimePoint now) const {
  std::lock_guard lock(mutex_);
  if (now >= held_until_) return std::nullopt;
  return GatewayWait{held_until_, held_for_};
}

std::int64_t CircuitBreaker::times_opened() const {
  std::lock_guard lock(mutex_);
  return times_opened_;
}

bool CircuitBreaker::credentials_refused() const {
  std::lock_guard lock(mutex_);
  return credentials_refused_;
}

const char* BreakerStateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

}  // namespace surveyd::dispatch
