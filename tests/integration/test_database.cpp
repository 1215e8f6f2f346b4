#include "integration/test_database.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>

#include "surveyd/core/crypto.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::testing {
namespace {

std::string RandomSuffix() {
  static std::mutex mutex;
  static std::mt19937_64 generator{std::random_device{}()};
  static std::atomic<int> counter{0};
  std::lock_guard lock(mutex);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%d_%d_%08llx", static_cast<int>(getpid()), ++counter,
                static_cast<unsigned long long>(generator() & 0xffffffffULL));
  return buffer;
}

// Serialises template creation and copying across test processes (ctest runs each test in its
// own process): CREATE DATABASE ... TEMPLATE fails while anyone else is connected to the template.
constexpr std::int64_t kTemplateLock = 0x5356'7465'6d70;

// The migrated template is shared by every test process and kept: its name carries a hash of the
// compiled-in migrations, so a changed migration gets a template of its own.
std::string TemplateName() {
  std::string all;
  for (const auto& migration : store::BuiltinMigrations()) {
    all += migration.version + '\n' + migration.sql + '\n';
  }
  return "surveyd_tpl_" + crypto::Sha256Hex(all).substr(0, 16);
}

void CreateDatabase(const std::string& name, bool migrated) {
  pqxx::connection connection(TestDatabase::AdminUrl());
  pqxx::nontransaction txn(connection);  // CREATE DATABASE cannot run in a transaction
  txn.exec_params("SELECT pg_advisory_lock($1)", kTemplateLock);
  if (migrated) {
    static const std::string template_name = TemplateName();
    static std::atomic<bool> template_ready{false};  // in this process
    if (!template_ready) {
      if (txn.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", template_name).empty()) {
        txn.exec("CREATE DATABASE " + template_name);
      }
      // Idempotent: also completes a template that a crashed process left half-migrated.
      store::Migrate(TestDatabase::WithDatabase(TestDatabase::AdminUrl(), template_name));
      template_ready = true;
    }
    txn.exec("CREATE DATABASE " + name + " TEMPLATE " + template_name);
  } else {
    txn.exec("CREATE DATABASE " + name);
  }
  txn.exec_params("SELECT pg_advisory_unlock($1)", kTemplateLock);
}

}  // namespace

std::string TestDatabase::AdminUrl() {
  const char* url = std::getenv("SURVEYD_TEST_DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    throw std::runtime_error(
        "SURVEYD_TEST_DATABASE_URL is not set: integration tests need a PostgreSQL server. Start "
        "one with `source scripts/lib/pg.sh && pg_start /tmp/surveyd-pg/data 55432` and export "
        "SURVEYD_TEST_DATABASE_URL=$(pg_url 55432 postgres)");
  }
  return url;
}

std::string TestDatabase::WithDatabase(const std::string& url, const std::string& database) {
  for (const char* scheme : {"postgresql://", "postgres://"}) {
    const std::string prefix = scheme;
    if (url.compare(0, prefix.size(), prefix) != 0) continue;
    const std::size_t query = url.find('?', prefix.size());
    const std::size_t path = url.find('/', prefix.size());
    const std::size_t authority_end = std::min(path == std::string::npos ? url.size() : path,
                                               query == std::string::npos ? url.size() : query);
    return url.substr(0, authority_end) + "/" + database +
           (query == std::string::npos ? "" : url.substr(query));
  }
  return url + " dbname=" + database;  // key=value form: a later keyword wins
}

TestDatabase::TestDatabase(Schema schema) {
  try {
    name_ = "surveyd_t_" + RandomSuffix();
    CreateDatabase(name_, schema == Schema::kMigrated);
    url_ = WithDatabase(AdminUrl(), name_);
  } catch (const pqxx::failure& e) {
    throw std::runtime_error(std::string("cannot create a test database: ") + e.what());
  }
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection connection(AdminUrl());
    pqxx::nontransaction txn(connection);
    txn.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {  // a leftover database in a throwaway cluster is harmless
  }
}

std::string TestDatabase::Query(const std::string& sql) const {
  pqxx::connection connection(url_);
  pqxx::work txn(connection);
  auto rows = txn.exec(sql);
  txn.commit();
  if (rows.empty() || rows[0].empty() || rows[0][0].is_null()) return "";
  return rows[0][0].as<std::string>();
}

std::string TestDatabase::RollupRows() const {
  return Query(
      "SELECT string_agg(t, E'\\n' ORDER BY t) FROM ("
      "SELECT format('%s', c) AS t FROM analytics_cells c UNION ALL "
      "SELECT format('%s', s) FROM analytics_scores s "
      "WHERE (s.respondents, s.total, s.top_box, s.squares) <> (0, 0, 0, 0) UNION ALL "
      "SELECT format('%s', e) FROM analytics_events e UNION ALL "
      "SELECT format('%s', x) FROM analytics_cancellations x WHERE x.messages <> 0) AS all_rows");
}

}  // namespace surveyd::testing
