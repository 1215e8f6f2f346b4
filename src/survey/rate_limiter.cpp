#include "surveyd/survey/rate_limiter.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

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
  std::string address(remote_address);
  // "[::1]" and "fe80::1%eth0" forms
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  address = address.substr(0, address.find('%'));
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
    static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes.data(), kMappedPrefix, sizeof kMappedPrefix) == 0) {
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, bytes.data() + 12, text, sizeof text);
      return text;
    }
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
    return std::string(text) + "/64";
  }
  return address;
}

}  // namespace surveyd::survey
