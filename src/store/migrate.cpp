#include <pqxx/pqxx>
#include <set>
#include <stdexcept>

#include "store/connect.hpp"
#include "store/embedded_migrations.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::store {
namespace {

// pg_advisory_lock(int, int) keys: a different key space from the single-bigint locks that
// ingest takes on phone hashes.
constexpr int kLockClass = 0x5356;  // "SV"
constexpr int kMigrationLock = 1;

}  // namespace

const std::vector<Migration>& BuiltinMigrations() {
  static const std::vector<Migration> kMigrations = [] {
    std::vector<Migration> result;
    for (const auto& embedded : internal::EmbeddedMigrations()) {
      result.push_back(Migration{embedded.version, embedded.sql});
    }
    return result;
  }();
  return kMigrations;
}

MigrationReport Migrate(const std::string& url) {
  MigrationReport report;
  std::string current = "(connecting)";
  try {
    const auto connected = Connect(url);
    pqxx::connection& connection = *connected;
    // Held for the whole run (session lock): a second instance waits, then finds nothing to do.
    {
      pqxx::nontransaction lock(connection);
      lock.exec_params("SELECT pg_advisory_lock($1, $2)", kLockClass, kMigrationLock);
    }
    {
      pqxx::work txn(connection);
      txn.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version text PRIMARY KEY,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
      txn.commit();
    }
    std::set<std::string> applied;
    {
      pqxx::read_transaction txn(connection);
      for (const auto& row : txn.exec("SELECT version FROM schema_migrations")) {
        applied.insert(row[0].as<std::string>());
      }
    }
    for (const auto& migration : BuiltinMigrations()) {
      if (applied.count(migration.version) != 0) {
        ++report.already_applied;
        continue;
      }
      current = migration.version + ".sql";
      pqxx::work txn(connection);
      txn.exec(migration.sql);
      txn.exec_params("INSERT INTO schema_migrations (version) VALUES ($1)", migration.version);
      txn.commit();
      report.applied.push_back(migration.version);
    }
    current = "(unlocking)";
    pqxx::nontransaction unlock(connection);
    unlock.exec_params("SELECT pg_advisory_unlock($1, $2)", kLockClass, kMigrationLock);
  } catch (const std::exception& e) {
    throw std::runtime_error("migration " + current + " failed: " + e.what());
  }
  return report;
}

}  // namespace surveyd::store
