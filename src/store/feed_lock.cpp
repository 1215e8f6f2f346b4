#include "surveyd/store/feed_lock.hpp"

#include <spdlog/spdlog.h>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>

#include "store/connect.hpp"
#include "surveyd/core/failure_log.hpp"

namespace surveyd::store {

std::int64_t FeedLockKey(std::string_view feed) {
  // FNV-1a: stable across builds and platforms, unlike std::hash.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : std::string("surveyd.feed:") + std::string(feed)) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return static_cast<std::int64_t>(h);
}

struct FeedLock::Impl {
  std::string url;
  std::string feed;
  std::int64_t key;
  std::mutex mu;
  std::unique_ptr<pqxx::connection> connection;
  int backend_pid = 0;  // of the session that holds the lock; 0 when not held
  // A standby tries the lock every leader_poll: through a database outage its failures are said
  // as an outage (once, now and then, once when it ends), not a warning a second.
  SystemClock clock;
  std::optional<FailureLog> failures;  // named for the feed

  // libpqxx 6 silently reopens a broken connection, and the new session holds no lock: the
  // backend pid tells the two apart.
  bool SameSession() {
    pqxx::nontransaction tx(*connection);
    const auto row = tx.exec1("SELECT pg_backend_pid()");
    return row[0].as<int>() == backend_pid;
  }

  void Drop() {
    connection.reset();
    backend_pid = 0;
  }
};

FeedLock::FeedLock(std::string url, std::string feed) : impl_(std::make_unique<Impl>()) {
  impl_->url = std::move(url);
  impl_->feed = std::move(feed);
  impl_->key = FeedLockKey(impl_->feed);
  impl_->failures.emplace("feed '" + impl_->feed + "': consumer lock", impl_->clock);
}

FeedLock::~FeedLock() { Release(); }

bool FeedLock::TryAcquire() {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  // A kept connection may have died since the last try (database restart): one more go on a
  // fresh one before reporting failure.
  const auto say_lost = [&s] {
    spdlog::warn("feed '{}': leadership lost: the lock's session ended (a database restart?)",
                 s.feed);
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool fresh = !s.connection;
    try {
      if (s.backend_pid != 0 && s.connection) {
        if (s.SameSession()) return true;
        say_lost();
      }
      s.backend_pid = 0;
      if (!s.connection) s.connection = Connect(s.url);
      pqxx::nontransaction tx(*s.connection);
      const auto row = tx.exec_params1("SELECT pg_try_advisory_lock($1), pg_backend_pid()", s.key);
      s.failures->Succeeded();
      if (!row[0].as<bool>()) return false;
      s.backend_pid = row[1].as<int>();
      spdlog::info("feed '{}': this instance is the consumer (advisory lock {})", s.feed, s.key);
      return true;
    } catch (const std::exception& e) {
      if (s.backend_pid != 0) say_lost();
      s.Drop();
      if (fresh) {
        s.failures->Failed(std::string("cannot take it: ") + e.what());
        return false;
      }
    }
  }
  return false;
}

bool FeedLock::StillHeld() {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  if (s.backend_pid == 0 || !s.connection) return false;
  try {
    if (s.SameSession()) return true;
    spdlog::warn("feed '{}': the lock connection was reopened; leadership lost", s.feed);
  } catch (const std::exception& e) {
    spdlog::warn("feed '{}': leadership lost: {}", s.feed, e.what());
  }
  s.Drop();
  return false;
}

void FeedLock::Release() {
  std::lock_guard lock(impl_->mu);
  Impl& s = *impl_;
  if (s.backend_pid != 0 && s.connection) {
    try {
      pqxx::nontransaction tx(*s.connection);
      tx.exec_params("SELECT pg_advisory_unlock($1)", s.key);
    } catch (const std::exception&) {
      // Closing the connection below frees the lock anyway.
    }
  }
  s.Drop();
}

}  // namespace surveyd::store
