#include "store/connection_pool.hpp"

#include <pqxx/except>
#include <utility>

#include "surveyd/store/store.hpp"

namespace surveyd::store {

ConnectionPool::ConnectionPool(std::string url, int size,
                               std::function<void(pqxx::connection&)> setup,
                               std::chrono::milliseconds acquire_timeout)
    : url_(std::move(url)),
      size_(size < 1 ? 1 : size),
      setup_(std::move(setup)),
      acquire_timeout_(acquire_timeout) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease::Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

ConnectionPool::Lease::~Lease() {
  if (connection_) pool_->Release(std::move(connection_), discard_);
}

ConnectionPool::Lease ConnectionPool::Acquire() {
  std::unique_lock lock(mutex_);
  const auto ready = [this] { return !idle_.empty() || open_ < size_; };
  if (acquire_timeout_.count() <= 0) {
    available_.wait(lock, ready);
  } else if (!available_.wait_for(lock, acquire_timeout_, ready)) {
    throw Unavailable("no database connection free within " +
                      std::to_string(acquire_timeout_.count()) + " ms");
  }
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(connection));
  }
  ++open_;
  lock.unlock();
  try {
    auto connection = std::make_unique<pqxx::connection>(url_);
    setup_(*connection);
    return Lease(this, std::move(connection));
  } catch (const std::exception& e) {
    lock.lock();
    --open_;
    available_.notify_one();
    // The message of a failed connect names host and port but no personal data; never the URL,
    // which may hold a password.
    if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
      throw Unavailable("cannot connect to the database");
    }
    throw Unavailable(std::string("cannot set up a database connection"));
  }
}

void ConnectionPool::Release(std::unique_ptr<pqxx::connection> connection, bool discard) {
  if (discard || !connection->is_open()) {
    try {
      connection.reset();
    } catch (...) {  // closing a broken connection must not take the caller down
    }
    std::lock_guard lock(mutex_);
    --open_;
  } else {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

}  // namespace surveyd::store
