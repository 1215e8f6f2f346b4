#include "surveyd/survey/rate_limiter.hpp"

#include <algorithm>

#include "surveyd/core/ip_address.hpp"

namespace surveyd::survey {
namespace {
// How often full buckets are swept out when the table is not full.
constexpr auto kSweepInterval = std::chrono::minutes(1);
}  // namespace

RateLimiter::RateLimiter(const Clock& clock, int per_minute, std::size_t max_clients)
    : clock_(clock),
      capacity_(per_minute > 0 ? static_cast<double>(per_minute) : 0.0),
      max_clients_(std::max<std::size_t>(max_clients, 1)),
      last_sweep_(clock.Now()) {}

void RateLimiter::Refill(Bucket& bucket, TimePoint now) const {
  if (now <= bucket.updated) return;
  const double minutes =
      std::chrono::duration<double, std::ratio<60>>(now - bucket.updated).count();
  bucket.tokens = std::min(capacity_, bucket.tokens + minutes * capacity_);
  bucket.updated = now;
}

bool RateLimiter::IsLimited(const std::string& client) {
  if (capacity_ <= 0) return false;
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mutex_);
  const auto it = buckets_.find(client);
  if (it == buckets_.end()) return false;
  Refill(it->second, now);
  return it->second.tokens < 1.0;
}

void RateLimiter::RecordFailure(const std::string& client) {
  if (capacity_ <= 0) return;
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_ || now - last_sweep_ >= kSweepInterval) EvictLocked(now);
    it = buckets_.emplace(client, Bucket{capacity_, now}).first;
  }
  Refill(it->second, now);
  it->second.tokens = std::max(0.0, it->second.tokens - 1.0);
}

void RateLimiter::EvictLocked(TimePoint now) {
  last_sweep_ = now;
  // A full bucket is the same as no bucket.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Refill(it->second, now);
    it = it->second.tokens >= capacity_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() < max_clients_) return;
  // Still full of clients that are failing right now: forget the one seen longest ago, so memory
  // stays bounded (that client gets a fresh bucket if it comes back).
  const auto oldest = std::min_element(
      buckets_.begin(), buckets_.end(),
      [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; });
  buckets_.erase(oldest);
}

std::size_t RateLimiter::TrackedClients() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

std::string RateLimitKey(std::string_view remote_address) {
  if (const auto address = net::ParseAddress(remote_address)) {
    const net::Address group = net::ClientGroup(*address);
    return net::IsIpv4(group) ? net::FormatAddress(group) : net::FormatAddress(group) + "/64";
  }
  // Not an address (a test's name for a client): as given, without brackets or a zone.
  std::string address(remote_address);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  return address.substr(0, address.find('%'));
}

}  // namespace surveyd::survey
