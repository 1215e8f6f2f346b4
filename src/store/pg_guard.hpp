#pragma once
// Runs work on a pooled connection and turns every libpqxx error into store::Unavailable, for
// every store (PgStore, and those that keep a pool of their own: pg_analytics.cpp, pg_access.cpp,
// pg_alerts.cpp). The messages name the operation and the SQLSTATE only: server messages can
// quote row values, which may be personal data.
#include <spdlog/spdlog.h>

#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "store/connection_pool.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store::pg {

// The same on a connection the caller already holds (a session that keeps an advisory lock). A
// connection that may be broken is discarded, not handed back to the pool.
template <typename Work>
auto WithLease(ConnectionPool::Lease& lease, const char* operation, Work&& work)
    -> decltype(work(std::declval<pqxx::connection&>())) {
  const std::string what = std::string(operation) + ": ";
  try {
    return work(lease.connection());
  } catch (const pqxx::broken_connection&) {
    lease.Discard();
    throw Unavailable(what + "database connection lost");
  } catch (const pqxx::in_doubt_error&) {
    lease.Discard();
    throw Unavailable(what + "commit outcome unknown (connection lost)");
  } catch (const pqxx::sql_error& e) {
    spdlog::warn("store: {} failed with SQLSTATE {}", operation, e.sqlstate());
    throw Unavailable(what + "database error (SQLSTATE " + e.sqlstate() + ")");
  } catch (const pqxx::transaction_rollback&) {
    // A deadlock or a serialization failure (libpqxx 6.4 throws these apart from sql_error):
    // the connection is sound, the caller may try again.
    spdlog::warn("store: {} rolled back by the database (deadlock or serialization)", operation);
    throw Unavailable(what + "rolled back by the database (deadlock or serialization)");
  } catch (const pqxx::failure&) {
    lease.Discard();
    throw Unavailable(what + "database failure");
  } catch (const pqxx::pqxx_exception&) {
    lease.Discard();
    throw Unavailable(what + "database client error");
  }
}

template <typename Work>
auto WithPooledConnection(ConnectionPool& pool, const char* operation, Work&& work)
    -> decltype(work(std::declval<pqxx::connection&>())) {
  auto lease = pool.Acquire();
  return WithLease(lease, operation, std::forward<Work>(work));
}

}  // namespace surveyd::store::pg
