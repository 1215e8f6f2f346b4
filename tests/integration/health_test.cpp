// The components' health against a real PostgreSQL: what /readyz and /api/v1/health say, and
// what the log says, while the database goes away and comes back.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <sstream>
#include <string>
#include <vector>

#include "app/components.hpp"
#include "fakes/captured_log.hpp"
#include "fakes/manual_clock.hpp"
#include "integration/test_database.hpp"
#include "surveyd/store/feed_lock.hpp"

namespace surveyd::app {
namespace {

using namespace std::chrono_literals;
using testing::CapturedLog;
using testing::ManualClock;
using testing::TestDatabase;

const TimePoint kT0 = ParseRfc3339("2026-11-26T09:00:00Z").value();

// Runs `sql` as the test server's administrator (the database itself may refuse connections).
void AsAdmin(const std::string& sql) {
  pqxx::connection connection(TestDatabase::AdminUrl());
  pqxx::nontransaction txn(connection);
  txn.exec(sql);
}

// Refuses new connections to `db` and ends those open: to its clients, the database is gone.
void TakeAway(const TestDatabase& db) {
  AsAdmin("ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS false");
  AsAdmin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db.name() +
          "'");
}

void GiveBack(const TestDatabase& db) {
  AsAdmin("ALTER DATABASE " + db.name() + " ALLOW_CONNECTIONS true");
}

// A configuration for a database component on `db`.
config::Config ConfigFor(const TestDatabase& db) {
  config::Config config;
  config.database.url = db.url();
  config.database.pool_size = 2;
  config.survey.phone_hash_key = "test-key";
  config.privacy.phone_keys = "t1:" + std::string(64, '7');
  return config;
}

// An outage of the database, however often it is checked (a load balancer asks /readyz every
// few seconds), is said once as it starts, again when its reason changes, and once as it ends, as
// every retrying loop says its outages (FailureLog); the health says why and since when, then when
// the last one was.
TEST(HealthTest, ADatabaseOutageIsSaidOnceEachWay) {
  TestDatabase db;
  const config::Config config = ConfigFor(db);
  ManualClock clock(kT0);
  metrics::Registry registry;
  DatabaseComponent database(config, clock, registry);
  CapturedLog log;
  ASSERT_TRUE(database.Health()->ok);

  TakeAway(db);
  for (int check = 0; check < 5; ++check) {
    const auto health = database.Health();
    EXPECT_FALSE(health->ok);
    EXPECT_EQ(health->details["down_since"], "2026-11-26T09:00:00.000Z");
    EXPECT_FALSE(health->details["error"].get<std::string>().empty());
    clock.Advance(10s);
  }
  GiveBack(db);
  clock.Advance(40s);
  const auto health = database.Health();
  EXPECT_TRUE(health->ok);
  EXPECT_EQ(health->details["last_outage"], nlohmann::json({{"from", "2026-11-26T09:00:00.000Z"},
                                                            {"to", "2026-11-26T09:01:30.000Z"}}));
  EXPECT_TRUE(database.Health()->ok);

  // The pool's connection lost, then no new one: the reason changes once, and is said.
  std::vector<std::string> lines;
  std::istringstream said(log.Text());
  for (std::string line; std::getline(said, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u) << log.Text();
  EXPECT_EQ(lines[0],
            "error database: unreachable (ping: database connection lost); not ready until it "
            "answers again");
  EXPECT_EQ(lines[1].rfind("error database: unreachable (cannot connect to the database", 0), 0u)
      << lines[1];
  EXPECT_NE(lines[1].find("not ready until it answers again (still failing)"), std::string::npos)
      << lines[1];
  EXPECT_EQ(lines[2],
            "info database: working again, after 5 failure(s) in 1 min 30 s (since "
            "2026-11-26T09:00:00.000Z)");
}

// An outage is dated from when the service first met it (a loop's call that could not connect),
// not from the first health check after: nobody may ask for an hour.
TEST(HealthTest, AnOutageIsDatedFromTheFirstFailedConnection) {
  TestDatabase db;
  const config::Config config = ConfigFor(db);
  // An hour ahead of the real clock, which the store's connections are timed by.
  ManualClock clock(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) +
                    1h);
  metrics::Registry registry;
  DatabaseComponent database(config, clock, registry);
  CapturedLog log;
  ASSERT_TRUE(database.Health()->ok);

  TakeAway(db);
  const TimePoint before =
      std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now());
  // What the dispatcher or the feed does between checks: a call that cannot connect (the first
  // meets the pool's lost connection, the second cannot open one).
  EXPECT_FALSE(database.store().DatabaseClock());
  EXPECT_FALSE(database.store().DatabaseClock());
  const TimePoint after =
      std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now());
  ASSERT_TRUE(database.store().UnreachableSince());

  const auto health = database.Health();
  ASSERT_FALSE(health->ok);
  const auto down_since = ParseRfc3339(health->details["down_since"].get<std::string>());
  ASSERT_TRUE(down_since);
  EXPECT_GE(*down_since, before - 1ms);  // milliseconds, as written
  EXPECT_LE(*down_since, after);
  clock.Advance(10s);
  EXPECT_EQ(database.Health()->details["down_since"], health->details["down_since"]);

  GiveBack(db);
  clock.Advance(10s);
  const auto back = database.Health();
  ASSERT_TRUE(back->ok);
  EXPECT_EQ(back->details["last_outage"]["from"], health->details["down_since"]);
  EXPECT_EQ(back->details["last_outage"]["to"], FormatRfc3339(clock.Now()));
  EXPECT_FALSE(database.store().UnreachableSince());
}

// A standby instance tries the feed's lock every second: through a database outage that is an
// outage said once each way, not a warning a second (3,600 lines an hour, as ops met it). The
// instance that held the lock says it lost it when the restarted database ended its session.
TEST(HealthTest, AStandbysLockTriesThroughAnOutageAreSaidOnceEachWay) {
  TestDatabase db;
  store::FeedLock holder(db.url(), "lockfeed");
  store::FeedLock standby(db.url(), "lockfeed");
  ASSERT_TRUE(holder.TryAcquire());
  CapturedLog log;
  EXPECT_FALSE(standby.TryAcquire());  // refused: the database answers, nothing to say

  TakeAway(db);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(standby.TryAcquire());
  GiveBack(db);
  EXPECT_TRUE(standby.TryAcquire()) << "the holder's session ended with the outage";
  EXPECT_FALSE(holder.TryAcquire());

  std::vector<std::string> lines;
  std::istringstream said(log.Text());
  for (std::string line; std::getline(said, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u) << log.Text();
  EXPECT_EQ(lines[0].rfind("error feed 'lockfeed': consumer lock: cannot take it: ", 0), 0u)
      << lines[0];
  EXPECT_EQ(
      lines[1].rfind("info feed 'lockfeed': consumer lock: working again, after 5 failure(s)", 0),
      0u)
      << lines[1];
  EXPECT_EQ(lines[2].rfind("info feed 'lockfeed': this instance is the consumer", 0), 0u)
      << lines[2];
  EXPECT_EQ(lines[3],
            "warning feed 'lockfeed': leadership lost: the lock's session ended (a database "
            "restart?)");
}

}  // namespace
}  // namespace surveyd::app
