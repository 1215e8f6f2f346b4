// The connection pool against a real server: a connection comes back with what its users noted
// of its session, and one that is discarded takes its note with it.
#include "store/connection_pool.hpp"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

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

}  // namespace
}  // namespace surveyd::store
