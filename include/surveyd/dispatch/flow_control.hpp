#pragma once
// Flow control per gateway: how fast the dispatcher may send (a rate shared by every worker of
// every instance, through the database), and when it must stop (a circuit breaker that stops
// hammering a gateway that keeps failing and probes it again). The limit on requests in flight is
// the sender's own (its pool of connections: gateway.max_in_flight).
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "surveyd/core/time.hpp"
#include "surveyd/gateway/gateway.hpp"
#include "surveyd/store/outbox_store.hpp"

namespace surveyd::dispatch {

// Sends are counted in 20 ms buckets in the database. A grant is made only while the last `span`
// buckets (a little over a second) hold fewer than `cap` sends, and each send is counted, when it
// goes, in the bucket it goes in: so no one-second window of requests holds more than the rate,
// and a steady backlog is sent at no less than 98% of it.
class RateLimiter {
 public:
  static constexpr std::chrono::milliseconds kBucket{20};

  struct Grant {
    std::int64_t bucket = 0;
    int slots = 0;  // how many messages may be sent now
  };

  // rate_per_second <= 0: no limit (every Take grants what it asks).
  RateLimiter(store::OutboxStore& store, std::string gateway, double rate_per_second);

  bool Unlimited() const { return cap_ == 0; }
  int cap() const { return cap_; }
  int span() const { return span_; }

  // Up to `wanted` sends now; 0 slots: none free until a later bucket (try again in kBucket).
  Grant Take(int wanted, TimePoint now);
  // Settles a grant when its requests go: `sent` of its slots are counted in the bucket of
  // `now` (a grant's sends may go a few buckets after it was made), the others given back
  // (fewer messages due, cancelled, claimed by another). The grant has no slots left after.
  void Settle(Grant& grant, int sent, TimePoint now);

 private:
  store::OutboxStore& store_;
  const std::string gateway_;
  int cap_ = 0;   // sends per span; 0: unlimited
  int span_ = 0;  // buckets
};

struct BreakerOptions {
  int failures_to_open = 5;                // failed requests in a row
  int failure_percent = 50;                // or this share of the requests in the window; 0: off
  std::chrono::seconds window{30};         // (once it holds twice failures_to_open requests)
  std::chrono::seconds open_for{15};       // the first pause; doubles while probes fail
  std::chrono::seconds max_open_for{300};  // and no longer; also the pause after a 401/403
};

// Closed: send. After failures_to_open failed requests in a row (5xx, refused, timeouts, 429),
// or failure_percent of the requests of the last `window` (a gateway failing every other
// request never fails five in a row, and is hammered all the same), open: send nothing for
// open_for. Then half-open: one request goes as a probe; its success
// closes the breaker, its failure opens it again for twice as long (up to max_open_for).
// Credentials refused (401/403) open it at once for max_open_for: never retried in a loop.
// A permanent refusal of one message (400) is the gateway working.
// A 429 with a Retry-After is counted as any 429, and also holds every request until the time
// it asked for (at most max_open_for, so that a bad header cannot stop sending for days),
// whatever the breaker decides: its own pause may end later, never sooner, and a success
// answered meanwhile (a request of the same batch) does not lift it. Thread-safe.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  explicit CircuitBreaker(BreakerOptions options);

  // How many requests may start now: `wanted` when closed, 1 when a probe is due (and none is
  // out), 0 while open or while the probe is out.
  int Allow(int wanted, TimePoint now);
  // The outcomes of the requests Allow let through, in any grouping; `retry_after`, a 429's
  // Retry-After: the gateway's wait (above).
  void Record(gateway::SendStatus status, TimePoint now,
              std::optional<std::chrono::seconds> retry_after = std::nullopt);
  // The gateway asked another instance to wait `asked` (shared through the database), until
  // `until` by this instance's clock: nothing is let through here either until then.
  void HeldElsewhere(TimePoint now, TimePoint until, std::chrono::seconds asked);
  // The longest wait the gateway may ask for (max_open_for): a longer Retry-After is taken as it.
  std::chrono::seconds LongestWait() const { return options_.max_open_for; }
  // None of the requests Allow let through was made (cancelled, claimed by another): a probe
  // that never went is due again.
  void NothingSent();

  // Open while the gateway's wait lasts too.
  State state(TimePoint now) const;
  TimePoint reopens_at() const;  // when an open breaker lets a probe through (or, held, anything)
  // While the gateway's wait lasts: when it ends, and what it asked for (capped).
  struct GatewayWait {
    TimePoint until;
    std::chrono::seconds asked{0};
  };
  std::optional<GatewayWait> gateway_wait(TimePoint now) const;
  std::int64_t times_opened() const;
  bool credentials_refused() const;  // opened by a 401/403 that no success has followed

 private:
  void Open(TimePoint now, std::chrono::seconds pause);
  // Holds every request until `until` (the gateway's wait), logged when it holds sending longer.
  void HoldUntil(TimePoint now, TimePoint until, std::chrono::seconds asked,
                 std::chrono::seconds retry_after, bool elsewhere);
  // How long from `now` nothing is let through: the breaker's own pause or the gateway's wait.
  std::int64_t PausedFor(TimePoint now) const;
  // The window's outcomes, per second; cleared when the breaker opens or closes, so that one
  // episode is judged on its own.
  void Count(bool failed, TimePoint now);
  bool TooManyFailedInTheWindow() const;
  void ForgetTheWindow();

  const BreakerOptions options_;
  mutable std::mutex mutex_;
  State state_ = State::kClosed;
  int failures_in_a_row_ = 0;
  bool probe_out_ = false;
  std::chrono::seconds pause_{0};
  TimePoint reopens_at_{};
  std::int64_t times_opened_ = 0;
  bool credentials_refused_ = false;
  TimePoint held_until_{};            // the gateway's wait: nothing goes before it
  std::chrono::seconds held_for_{0};  // what it asked for (capped)
  struct Second {
    std::int64_t at;
    int ok = 0;
    int failed = 0;
  };
  std::deque<Second> window_;
  int window_ok_ = 0;
  int window_failed_ = 0;
};

const char* BreakerStateName(CircuitBreaker::State state);  // "closed", "open", "half_open"

}  // namespace surveyd::dispatch
