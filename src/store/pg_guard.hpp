#pragma once
// Runs work on a pooled connection and turns every libpqxx error into store::Unavailable, for
// the stores that keep a pool of their own (pg_analytics.cpp, pg_access.cpp). The messages name
// the operation and the SQLSTATE only: server messages can quote row values, which may be
// personal data. (PgStore::WithConnection does the same for the main store.)
#include <spdlog/spdlog.h>

#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "store/connection_pool.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store::pg {

template <typename Work>
auto WithPooledConnection(ConnectionPool& pool, const char* operation, Work&& work)
    -> decltype(work(std::declval<pqxx::connection&>())) {
  auto lease = pool.Acquire();
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
  } catch (const pqxx::failure&) {
    lease.Discard();
    throw Unavailable(what + "database failure");
  } catch (const pqxx::pqxx_exception&) {
    lease.Discard();
    throw Unavailable(what + "database client error");
  }
}

}  // namespace surveyd::store::pg
