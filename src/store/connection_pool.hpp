#pragma once
// A fixed-size pool of libpqxx connections, opened lazily. A connection that broke is dropped
// when it is handed back and a new one is opened the next time one is needed, so the store
// recovers by itself once the database is back.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>
#include <vector>

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

  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> connection);
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& connection() { return *connection_; }
    void Discard() { discard_ = true; }  // do not reuse: it broke or its state is unknown

   private:
    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
    bool discard_ = false;
  };

  // Waits while every connection is in use, up to the acquire timeout. Throws
  // store::Unavailable if none comes free in time or a new connection cannot be opened: a caller
  // that cannot get a connection soon is better answered "try again" than left waiting, holding
  // its own thread (and, for HTTP, a worker every other request needs).
  Lease Acquire();

 private:
  void Release(std::unique_ptr<pqxx::connection> connection, bool discard);

  const std::string url_;
  const int size_;
  const std::function<void(pqxx::connection&)> setup_;
  const std::chrono::milliseconds acquire_timeout_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;  // idle + leased + being opened
};

}  // namespace surveyd::store
