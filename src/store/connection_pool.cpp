#include "store/connection_pool.hpp"

#include <utility>

#include "store/connect.hpp"
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

ConnectionPool::Lease::Lease(ConnectionPool* pool, Pooled pooled)
    : pool_(pool), pooled_(std::move(pooled)) {}

ConnectionPool::Lease::~Lease() {
  if (pooled_.connection) pool_->Release(std::move(pooled_), discard_);
}

void ConnectionPool::Observe(metrics::Registry& registry) {
  std::lock_guard lock(mutex_);
  registry.Gauges("surveyd_db_pool_size", "Database connections this instance may open.")
      .With({})
      .Set(size_);
  auto& connections = registry.Gauges("surveyd_db_pool_connections",
                                      "Database connections open, and of those in use.", {"state"});
  open_gauge_ = &connections.With({"open"});
  in_use_gauge_ = &connections.With({"in_use"});
  waits_ = &registry
                .Counters("surveyd_db_pool_waits_total",
                          "Times a caller had to wait for a free database connection.")
                .With({});
  Report();
}

void ConnectionPool::Report() {
  if (open_gauge_ == nullptr) return;
  open_gauge_->Set(open_);
  in_use_gauge_->Set(open_ - static_cast<int>(idle_.size()));
}

ConnectionPool::Lease ConnectionPool::Acquire() {
  std::unique_lock lock(mutex_);
  if (waits_ != nullptr && idle_.empty() && open_ >= size_) waits_->Inc();
  const auto ready = [this] { return !idle_.empty() || open_ < size_; };
  if (acquire_timeout_.count() <= 0) {
    available_.wait(lock, ready);
  } else if (!available_.wait_for(lock, acquire_timeout_, ready)) {
    throw Unavailable("no database connection free within " +
                      std::to_string(acquire_timeout_.count()) + " ms");
  }
  if (!idle_.empty()) {
    Pooled pooled = std::move(idle_.back());
    idle_.pop_back();
    Report();
    return Lease(this, std::move(pooled));
  }
  ++open_;
  Report();
  lock.unlock();
  try {
    auto connection = Connect(url_);
    setup_(*connection);
    lock.lock();
    unreachable_since_.reset();
    lock.unlock();
    return Lease(this, Pooled{std::move(connection), {}});
  } catch (const std::exception& e) {
    lock.lock();
    if (!unreachable_since_) unreachable_since_ = std::chrono::system_clock::now();
    --open_;
    Report();
    available_.notify_one();
    if (dynamic_cast<const Unavailable*>(&e) != nullptr) throw;
    throw Unavailable(std::string("cannot set up a database connection"));
  }
}

void ConnectionPool::Release(Pooled pooled, bool discard) {
  if (discard || !pooled.connection->is_open()) {
    try {
      pooled.connection.reset();
    } catch (...) {  // closing a broken connection must not take the caller down
    }
    std::lock_guard lock(mutex_);
    --open_;
    Report();
  } else {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(pooled));
    unreachable_since_.reset();
    Report();
  }
  available_.notify_one();
}

std::optional<std::chrono::system_clock::time_point> ConnectionPool::unreachable_since() const {
  std::lock_guard lock(mutex_);
  return unreachable_since_;
}

}  // namespace surveyd::store
