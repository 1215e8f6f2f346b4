#pragma once
// A fresh PostgreSQL database with the real migrations applied, for integration tests.
//
// Needs SURVEYD_TEST_DATABASE_URL: an admin URL of a running server that may create databases,
// e.g. postgresql://postgres@127.0.0.1:55432/postgres. Start a private one with
//
//   source scripts/lib/pg.sh && pg_start /tmp/surveyd-pg/data 55432
//   export SURVEYD_TEST_DATABASE_URL=$(pg_url 55432 postgres)
//
// Usage, per test or per suite (a fixture member, or a static in SetUpTestSuite):
//
//   surveyd::testing::TestDatabase db;
//   auto store = surveyd::store::MakePgStore(TestStoreOptions(db.url(), 2, "k"));
//   EXPECT_EQ(db.Query("SELECT count(*) FROM surveys"), "1");
//
// Each is a copy (CREATE DATABASE ... TEMPLATE) of a migrated template that all test processes
// share and keep (named after a hash of the migrations), so it takes a fraction of a second. Each
// database is dropped by the destructor, with any connections still open to it.
// Destroy stores that use the database before the TestDatabase.
#include <string>

#include "surveyd/core/key_ring.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::testing {

// The key ring stores under test encrypt numbers and raw events with (one fixed test key, "t1").
inline crypto::KeyRing TestPhoneKeys() {
  return crypto::KeyRing::Parse("t1:" + std::string(64, '7'), "");
}

// A store's options for tests: the test key ring, no metrics.
inline store::PgOptions TestStoreOptions(std::string url, int pool_size, std::string hash_key) {
  store::PgOptions options;
  options.url = std::move(url);
  options.pool_size = pool_size;
  options.phone_hash_key = std::move(hash_key);
  options.phone_keys = TestPhoneKeys();
  return options;
}

class TestDatabase {
 public:
  enum class Schema { kMigrated, kEmpty };  // kEmpty: for testing the migrations themselves

  // Throws std::runtime_error (the test fails with its message) when SURVEYD_TEST_DATABASE_URL
  // is not set or the server cannot be reached.
  explicit TestDatabase(Schema schema = Schema::kMigrated);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }    // connection URL of this database
  const std::string& name() const { return name_; }  // its name

  // Runs one SQL statement on this database in its own transaction and returns the first
  // column of the first row as text ("" when there is no row or it is NULL). For checks.
  std::string Query(const std::string& sql) const;

  // Every row of the rollups (cells, scores, events and cancellations), one a line in a fixed
  // order, as analytics_rebuild() would write them: to compare what the triggers kept with a
  // rebuild. A cancellation count or a question's scores that came back to zero (a score taken
  // back) are left out (a rebuild writes none).
  // Folds nothing: fold first.
  std::string RollupRows() const;

  // SURVEYD_TEST_DATABASE_URL; throws std::runtime_error if it is not set.
  static std::string AdminUrl();
  // `url` with its database replaced by `database` (URI or key=value form).
  static std::string WithDatabase(const std::string& url, const std::string& database);

 private:
  std::string name_;
  std::string url_;
};

}  // namespace surveyd::testing
