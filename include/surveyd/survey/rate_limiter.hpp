#pragma once
// Limits how many bad survey tokens one client may try: a token bucket per client, refilled at
// `per_minute` a minute, in memory, thread-safe. Memory is bounded: full buckets are forgotten
// and, when `max_clients` is reached, the least recently seen client is dropped.
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "surveyd/core/clock.hpp"

namespace surveyd::survey {

class RateLimiter {
 public:
  // per_minute <= 0 turns the limit off.
  RateLimiter(const Clock& clock, int per_minute, std::size_t max_clients = 10000);

  // True while the client has no tries left; does not use one.
  bool IsLimited(const std::string& client);
  // Uses one try (a bad token).
  void RecordFailure(const std::string& client);

  std::size_t TrackedClients() const;

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint updated;
  };
  void Refill(Bucket& bucket, TimePoint now) const;
  void EvictLocked(TimePoint now);

  const Clock& clock_;
  const double capacity_;
  const std::size_t max_clients_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  TimePoint last_sweep_;
};

// The key a remote address is limited under: IPv4 as is, IPv6 by its /64 (one subscriber usually
// holds a whole /64), IPv4-mapped IPv6 as the IPv4 address.
std::string RateLimitKey(std::string_view remote_address);

}  // namespace surveyd::survey
