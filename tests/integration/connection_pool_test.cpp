// The connection pool against a real server: a connection comes back with what its users noted
// of its session, and one that is discarded takes its note with it. A connection that fails says
// why, and never repeats the URL.
#include "store/connection_pool.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include <pqxx/pqxx>

#include "surveyd/store/pg_store.hpp"
#include "test_database.hpp"

namespace surveyd::store {
namespace {

std::string PlanMode(pqxx::connection& connection) {
  pqxx::nontransaction txn(connection);
  return txn.exec1("SHOW plan_cache_mode")[0].as<std::string>();
}

TEST(ConnectionPoolTest, ASessionsNoteStaysWithItsConnectionAndLeavesWithIt) {
  testing::TestDatabase db;
  ConnectionPool pool(db.url(), 1, [](pqxx::connection&) {});
  int backend = 0;
  {
    auto lease = pool.Acquire();
    EXPECT_EQ(lease.session(), "");
    pqxx::nontransaction(lease.connection()).exec0("SET plan_cache_mode = force_generic_plan");
    lease.session() = "force_generic_plan";
    backend = lease.connection().backendpid();
  }
  {
    auto lease = pool.Acquire();
    EXPECT_EQ(lease.connection().backendpid(), backend);  // the same connection, reused
    EXPECT_EQ(lease.session(), "force_generic_plan");
    EXPECT_EQ(PlanMode(lease.connection()), "force_generic_plan");
    lease.Discard();
  }
  auto lease = pool.Acquire();
  EXPECT_NE(lease.connection().backendpid(), backend);  // a new one, with a new session
  EXPECT_EQ(lease.session(), "");
  EXPECT_EQ(PlanMode(lease.connection()), "auto");
}

// What a failed connection says: why, in words ops can act on, never the URL or its password.
std::string ConnectError(const std::string& url) {
  ConnectionPool pool(
      url, 1, [](pqxx::connection&) {}, std::chrono::milliseconds(2000));
  try {
    pool.Acquire();
  } catch (const Unavailable& e) {
    return e.what();
  }
  return "connected";
}

TEST(ConnectionPoolTest, AFailedConnectionSaysWhyWithoutTheUrl) {
  testing::TestDatabase db;
  // The test server's address, with a database that is not there.
  std::string url = db.url();
  const std::string missing = url.substr(0, url.rfind('/')) + "/surveyd_no_such_database";
  const std::string said = ConnectError(missing);
  EXPECT_EQ(said.rfind("cannot connect to the database at ", 0), 0u) << said;
  EXPECT_NE(said.find(": the database or the role does not exist"), std::string::npos) << said;
  EXPECT_EQ(ConnectError("postgresql://surveyd:s3cret-pw@127.0.0.1:1/surveyd"),
            "cannot connect to the database at 127.0.0.1:1: connection refused (is PostgreSQL "
            "listening there?)");
  EXPECT_EQ(ConnectError("postgresql://surveyd@/surveyd?host=/nonexistent"),
            "cannot connect to the database on socket /nonexistent/.s.PGSQL.5432: no server "
            "there (is PostgreSQL running?)");
  // libpq quotes a malformed URL back, password and all: none of it is repeated.
  const std::string malformed = ConnectError("postgresql://surveyd:s3cret%zz-pw@127.0.0.1:1/x");
  EXPECT_EQ(malformed.find("s3cret"), std::string::npos) << malformed;
  EXPECT_EQ(malformed.rfind("cannot ", 0), 0u) << malformed;
  // The migrations' connection (what `serve` and `migrate` print when they cannot start) too.
  try {
    Migrate("postgresql://surveyd:s3cret%zz-pw@127.0.0.1:1/x");
    ADD_FAILURE() << "migrated without a database";
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()),
              "migration (connecting) failed: cannot connect to the database: the database URL "
              "has a % not followed by two hex digits (write % as %25)");
  }
  // What is wrong with the URL itself, said without repeating it.
  EXPECT_EQ(ConnectError("postgresql://surveyd:s3cret@127.0.0.1:1/x?sslmode=sometimes"),
            "cannot connect to the database: the database URL's sslmode is not one of disable, "
            "allow, prefer, require, verify-ca, verify-full");
  EXPECT_EQ(ConnectError("postgresql://surveyd:s3cret@127.0.0.1:1/x?colour=blue"),
            "cannot connect to the database: the database URL has an option libpq does not know");
}

}  // namespace
}  // namespace surveyd::store
