#pragma once
// A fixed-size pool of libpqxx connections, opened lazily. A connection that broke is dropped
// when it is handed back and a new one is opened the next time one is needed, so the store
// recovers by itself once the database is back.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <vector>

#include "surveyd/metrics/metrics.hpp"

namespace surveyd::store {

class ConnectionPool {
 public:
  // `setup` runs once on every new connection (prepared statements, session settings).
  // Acquire waits at most `acquire_timeout` for a connection to come free (0: no limit).
  ConnectionPool(std::string url, int size, std::function<void(pqxx::connection&)> setup,
                 std::chrono::milliseconds acquire_timeout = std::chrono::milliseconds(0));
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection and what its users set on its session beyond `setup` (a caller's own note,
  // such as the plan mode last set), which stays with it while it lives in the pool, so that a
  // setting is sent only when it changes. A new connection starts with an empty note.
  struct Pooled {
    std::unique_ptr<pqxx::connection> connection;
    std::string session;
  };

  class Lease {
   public:
    Lease(ConnectionPool* pool, Pooled pooled);
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& connection() { return *pooled_.connection; }
    std::string& session() { return pooled_.session; }
    void Discard() { discard_ = true; }  // do not reuse: it broke or its state is unknown
    bool discarded() const { return discard_; }

   private:
    ConnectionPool* pool_;
    Pooled pooled_;
    bool discard_ = false;
  };

  // Waits while every connection is in use, up to the acquire timeout. Throws
  // store::Unavailable if none comes free in time or a new connection cannot be opened: a caller
  // that cannot get a connection soon is better answered "try again" than left waiting, holding
  // its own thread (and, for HTTP, a worker every other request needs).
  Lease Acquire();

  // Reports its size, connections open and in use, and waits for a free one, from now on.
  void Observe(metrics::Registry& registry);

  // When a new connection first failed to open, since the database last answered (a connection
  // opened, or one given back whole after its work): the start of an outage as the service's own
  // loops met it, which a health check that happens to run later cannot tell. nullopt: none since.
  std::optional<std::chrono::system_clock::time_point> unreachable_since() const;

 private:
  void Release(Pooled pooled, bool discard);
  void Report();  // under mutex_

  metrics::Gauge* open_gauge_ = nullptr;
  metrics::Gauge* in_use_gauge_ = nullptr;
  metrics::Counter* waits_ = nullptr;

  const std::string url_;
  const int size_;
  const std::function<void(pqxx::connection&)> setup_;
  const std::chrono::milliseconds acquire_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::optional<std::chrono::system_clock::time_point> unreachable_since_;
  std::vector<Pooled> idle_;
  int open_ = 0;  // idle + leased + being opened
};

}  // namespace surveyd::store
