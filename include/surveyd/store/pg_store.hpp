#pragma once
// The PostgreSQL store (libpqxx 6.4) and the migration runner.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "surveyd/core/key_ring.hpp"
#include "surveyd/metrics/metrics.hpp"
#include "surveyd/store/store.hpp"

namespace surveyd::store {

struct PgOptions {
  std::string url;             // libpq connection string or URI
  int pool_size = 4;           // connections, one per thread that uses the store at once
  std::string phone_hash_key;  // key of phone::KeyedHash for opt-out and frequency-cap lookups
  // Bounds on every call (0: none). A statement running longer is cancelled by the server, and
  // a call that finds no free connection within acquire_timeout gives up: both throw Unavailable.
  std::chrono::milliseconds statement_timeout{5000};
  std::chrono::milliseconds acquire_timeout{2000};
  // Seals numbers and raw events at rest (AES-256-GCM). Empty: nothing personal can be stored
  // (ingest fails rather than write a number in clear).
  crypto::KeyRing phone_keys;
  // Hash keys being rotated out: look-ups still match hashes made with them (opt-outs, the
  // frequency cap) until the rotation job has re-keyed what it can and the rest has aged out.
  std::vector<std::string> previous_phone_hash_keys;
  metrics::Registry* metrics = nullptr;  // optional: connection pool use
};

// Connects lazily; throws Unavailable from calls while the database is down.
std::unique_ptr<Store> MakePgStore(const PgOptions& options);

// LISTENs, on a connection of its own, for messages queued by any instance.
std::unique_ptr<OutboxListener> MakeOutboxListener(const std::string& url);

struct MigrationReport {
  std::vector<std::string> applied;  // versions applied by this call, in order
  int already_applied = 0;
};

// Applies the migrations compiled into the binary (from migrations/*.sql) that the database has
// not seen, in order, each in its own transaction, under an advisory lock so that two instances
// starting together are safe. Throws std::runtime_error with the failing file's name.
MigrationReport Migrate(const std::string& url);

// The compiled-in migrations, for tests and `surveyd migrate --list`.
struct Migration {
  std::string version;  // file name without .sql, e.g. "0001_initial"
  std::string sql;
};
const std::vector<Migration>& BuiltinMigrations();

}  // namespace surveyd::store
