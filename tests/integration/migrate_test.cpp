#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <stdexcept>
#include <thread>

#include "integration/test_database.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::store {
namespace {

using testing::TestDatabase;

TEST(BuiltinMigrationsTest, AreEmbeddedInOrder) {
  const auto& migrations = BuiltinMigrations();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(migrations.front().version, "0001_initial");
  EXPECT_NE(migrations.front().sql.find("CREATE TABLE outbox"), std::string::npos);
  for (std::size_t i = 1; i < migrations.size(); ++i) {
    EXPECT_LT(migrations[i - 1].version, migrations[i].version);
  }
}

TEST(MigrateTest, AppliesEverythingOnceThenNothing) {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  const auto first = Migrate(db.url());
  ASSERT_EQ(first.applied.size(), BuiltinMigrations().size());
  EXPECT_EQ(first.applied.front(), "0001_initial");
  EXPECT_EQ(first.already_applied, 0);
  EXPECT_EQ(db.Query("SELECT count(*) FROM schema_migrations"),
            std::to_string(BuiltinMigrations().size()));
  EXPECT_EQ(db.Query("SELECT to_regclass('outbox') IS NOT NULL"), "t");

  const auto second = Migrate(db.url());
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.already_applied, static_cast<int>(BuiltinMigrations().size()));
}

TEST(MigrateTest, TwoInstancesStartingTogetherApplyEachMigrationOnce) {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  MigrationReport reports[2];
  std::string errors[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i) {
    threads[i] = std::thread([&, i] {
      try {
        reports[i] = Migrate(db.url());
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  EXPECT_EQ(reports[0].applied.size() + reports[1].applied.size(), BuiltinMigrations().size());
  EXPECT_EQ(static_cast<std::size_t>(reports[0].already_applied + reports[1].already_applied),
            BuiltinMigrations().size());
  EXPECT_EQ(db.Query("SELECT count(*) FROM schema_migrations"),
            std::to_string(BuiltinMigrations().size()));
}

TEST(MigrateTest, AFailingMigrationIsNamedAndNotRecorded) {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  db.Query("CREATE TABLE events (id int)");  // clashes with 0001_initial
  try {
    Migrate(db.url());
    FAIL() << "expected the migration to fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("0001_initial.sql"), std::string::npos) << e.what();
  }
  EXPECT_EQ(db.Query("SELECT count(*) FROM schema_migrations"), "0");
  EXPECT_EQ(db.Query("SELECT to_regclass('outbox') IS NULL"), "t");  // rolled back whole
}

// Applies the built-in migrations before `version`, recording them as Migrate does: a database
// as an older release left it.
void MigrateUpTo(TestDatabase& db, const std::string& version) {
  db.Query(
      "CREATE TABLE schema_migrations (version text PRIMARY KEY, "
      "applied_at timestamptz NOT NULL DEFAULT now())");
  for (const auto& migration : BuiltinMigrations()) {
    if (migration.version >= version) break;
    db.Query(migration.sql);
    db.Query("INSERT INTO schema_migrations (version) VALUES ('" + migration.version + "')");
  }
}

// Applies the rest, from `version` on, as a new release's start would.
void MigrateOnFrom(TestDatabase& db, const std::string& version) {
  const auto report = Migrate(db.url());
  ASSERT_FALSE(report.applied.empty());
  EXPECT_EQ(report.applied.front().substr(0, 4), version);
}

// A database from before 0022 keeps its events' raw lines, moved to raw_events: those still held
// (with their event's received_at, which retention goes by), and none for an event whose line
// retention had already taken.
TEST(MigrateTest, RawEventsMoveToTheirOwnTable) {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  MigrateUpTo(db, "0022");
  db.Query(
      "INSERT INTO events (event_id, received_at, source, type, occurred_at, raw) VALUES "
      "('E1', '2026-11-01 10:00Z', 'tcp', 'call.ended', '2026-11-01 09:59Z', 'v1:k1:sealed1'), "
      "('E2', '2026-11-02 10:00Z', 'tcp', 'call.ended', '2026-11-02 09:59Z', NULL)");

  MigrateOnFrom(db, "0022");
  EXPECT_EQ(db.Query("SELECT string_agg(event_id || '|' || raw || '|' || "
                     "to_char(received_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), ',') "
                     "FROM raw_events"),
            "E1|v1:k1:sealed1|11-01 10:00");
  EXPECT_EQ(db.Query("SELECT count(*) FROM events"), "2");
  EXPECT_EQ(db.Query("SELECT count(*) FROM information_schema.columns "
                     "WHERE table_name = 'events' AND column_name = 'raw'"),
            "0");
}

// A database from before 0023 gets each number's newest event for each finding of each screen,
// ties broken by event id byte by byte, as the walk of the index picks
// (SURVEYD_WALK_NEWEST_FINDINGS), and events written after it raise them.
TEST(MigrateTest, EachNumbersNewestEventForAFindingIsKeptFromTheEventsStoredBefore) {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  MigrateUpTo(db, "0023");
  const std::string columns =
      "INSERT INTO events (event_id, received_at, source, type, occurred_at, phone_hash, "
      "screened_with, screen_findings) VALUES ";
  db.Query(columns +
           "('E1', now(), 'tcp', 'call.ended', '2026-11-01 10:00Z', 'h1', 'v1', "
           "'{exclusion:domestic_abuse,vulnerable}'), "
           "('E2', now(), 'tcp', 'call.ended', '2026-11-02 10:00Z', 'h1', 'v1', '{vulnerable}'), "
           "('E3', now(), 'tcp', 'call.ended', '2026-11-02 10:00Z', 'h1', 'v2', '{vulnerable}'), "
           "('E4', now(), 'tcp', 'call.ended', '2026-11-03 10:00Z', 'h2', 'v1', NULL), "
           "('E5', now(), 'tcp', 'call.ended', '2026-11-03 10:00Z', NULL, 'v1', '{vulnerable}'), "
           "('e6', now(), 'tcp', 'call.ended', '2026-11-02 10:00Z', 'h1', 'v1', '{vulnerable}')");

  MigrateOnFrom(db, "0023");
  const std::string kept =
      "SELECT string_agg(concat_ws(':', phone_hash, screened_with, finding, event_id), ',' "
      "ORDER BY phone_hash, screened_with, finding) FROM number_findings";
  EXPECT_EQ(db.Query(kept),
            "h1:v1:exclusion:domestic_abuse:E1,h1:v1:vulnerable:e6,h1:v2:vulnerable:E3");
  db.Query(columns +
           "('E7', now(), 'tcp', 'call.ended', '2026-11-01 09:00Z', 'h1', 'v1', '{vulnerable}'), "
           "('E8', now(), 'tcp', 'call.ended', '2026-11-04 10:00Z', 'h1', 'v2', '{vulnerable}')");
  db.Query("UPDATE events SET phone_hash = 'h2' WHERE event_id = 'E2'");
  EXPECT_EQ(db.Query(kept),
            "h1:v1:exclusion:domestic_abuse:E1,h1:v1:vulnerable:e6,h1:v2:vulnerable:E8,"
            "h2:v1:vulnerable:E2");
}

// A database from before 0033 files its events without a number under the number of their
// incident's first event with one, within the longest look-back; the erased (no incident), the
// old and those whose facts retention took are left alone.
TEST(MigrateTest, EventsWithoutANumberAreFiledBackUnderTheirIncidentsNumber) {
  TestDatabase db(TestDatabase::Schema::kEmpty);
  MigrateUpTo(db, "0033");
  db.Query(
      "INSERT INTO events (event_id, received_at, source, type, occurred_at, incident_id, "
      "phone_hash, facts, screened_with, screen_findings) VALUES "
      "('A1', now(), 'tcp', 'incident.closed', now() - interval '2 hours', 'I-A', NULL, '{}', "
      "'v1', '{exclusion:domestic}'), "
      "('A2', now(), 'tcp', 'call.ended', now() - interval '1 hour', 'I-A', 'h2', '{}', 'v1', "
      "NULL), "
      "('A3', now(), 'tcp', 'call.ended', now(), 'I-A', 'h3', '{}', 'v1', NULL), "
      "('B1', now(), 'tcp', 'incident.closed', now() - interval '100 days', 'I-B', NULL, '{}', "
      "'v1', NULL), "
      "('B2', now(), 'tcp', 'call.ended', now() - interval '1 day', 'I-B', 'h4', '{}', 'v1', "
      "NULL), "
      "('C1', now(), 'tcp', 'incident.closed', now(), 'I-C', NULL, NULL, 'v1', NULL), "
      "('C2', now(), 'tcp', 'call.ended', now(), 'I-C', 'h5', '{}', 'v1', NULL), "
      "('D1', now(), 'tcp', 'incident.closed', now(), NULL, NULL, '{}', 'v1', NULL)");

  MigrateOnFrom(db, "0033");
  EXPECT_EQ(db.Query("SELECT string_agg(event_id || ':' || COALESCE(phone_hash, '-'), ',' "
                     "ORDER BY event_id) FROM events"),
            "A1:h2,A2:h2,A3:h3,B1:-,B2:h4,C1:-,C2:h5,D1:-");
  EXPECT_EQ(db.Query("SELECT concat_ws(':', phone_hash, finding, event_id) FROM number_findings"),
            "h2:exclusion:domestic:A1");
}

TEST(MigrateTest, UnreachableDatabaseThrows) {
  EXPECT_THROW(Migrate("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"),
               std::runtime_error);
}

TEST(TestDatabaseTest, GivesEachTestItsOwnMigratedDatabase) {
  TestDatabase a;
  TestDatabase b;
  EXPECT_NE(a.url(), b.url());
  a.Query("INSERT INTO feed_cursors VALUES ('tcp', 1, now())");
  EXPECT_EQ(a.Query("SELECT count(*) FROM feed_cursors"), "1");
  EXPECT_EQ(b.Query("SELECT count(*) FROM feed_cursors"), "0");
  EXPECT_EQ(a.Query("SELECT count(*) FROM schema_migrations"),
            std::to_string(BuiltinMigrations().size()));
}

TEST(TestDatabaseTest, ReplacesTheDatabaseInAUrl) {
  EXPECT_EQ(TestDatabase::WithDatabase("postgresql://u@h:5/postgres", "x"), "postgresql://u@h:5/x");
  EXPECT_EQ(TestDatabase::WithDatabase("postgresql://u@h:5", "x"), "postgresql://u@h:5/x");
  EXPECT_EQ(TestDatabase::WithDatabase("postgres://u@h/a?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable");
  EXPECT_EQ(TestDatabase::WithDatabase("host=h dbname=a", "x"), "host=h dbname=a dbname=x");
}

}  // namespace
}  // namespace surveyd::store
