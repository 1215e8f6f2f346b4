#pragma once
// Leadership, so that exactly one instance consumes the TCP feed: a PostgreSQL session-level
// advisory lock held on a connection of its own. When the holder dies (even kill -9) its
// connection drops, the server frees the lock, and another instance's next TryAcquire wins.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace surveyd::store {

// The seam the feed consumer sees, so it can be tested without a database.
class Leadership {
 public:
  virtual ~Leadership() = default;
  // True when this instance holds the lock (already, or from now on). False when another
  // session holds it or the database cannot be reached; never throws.
  virtual bool TryAcquire() = 0;
  // True while the session that took the lock is alive. A connection that broke and was
  // reopened no longer holds it: false, and the next TryAcquire starts over.
  virtual bool StillHeld() = 0;
  virtual void Release() = 0;
};

// The advisory lock key for a feed name (a stable 64-bit hash of "surveyd.feed:" + name).
std::int64_t FeedLockKey(std::string_view feed);

class FeedLock final : public Leadership {
 public:
  FeedLock(std::string url, std::string feed);
  ~FeedLock() override;  // releases
  FeedLock(const FeedLock&) = delete;
  FeedLock& operator=(const FeedLock&) = delete;

  bool TryAcquire() override;
  bool StillHeld() override;
  void Release() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace surveyd::store
