// The HTTP side cannot be starved by the database: statements and waits for a pooled connection
// are bounded and answered 503 with Retry-After, and /healthz answers while every worker and
// every pooled connection is stuck (here: behind a lock another session holds on `surveys`).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "integration/test_database.hpp"
#include "surveyd/api/api.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/http/server.hpp"
#include "surveyd/store/pg_store.hpp"
#include "surveyd/survey/handler.hpp"
#include "unit/http/raw_connection.hpp"

namespace surveyd {
namespace {

using namespace std::chrono_literals;
using surveyd::testing::RawConnection;
using surveyd::testing::TestDatabase;
using SteadyClock = std::chrono::steady_clock;

constexpr char kFeedSecret[] = "feed-secret-feed-secret";

std::unique_ptr<store::Store> MakeStore(const TestDatabase& db, int pool_size,
                                        std::chrono::milliseconds statement_timeout,
                                        std::chrono::milliseconds acquire_timeout) {
  store::PgOptions options;
  options.url = db.url();
  options.pool_size = pool_size;
  options.phone_hash_key = "phone-hash-key";
  options.statement_timeout = statement_timeout;
  options.acquire_timeout = acquire_timeout;
  return store::MakePgStore(options);
}

// Another session holding an exclusive lock on `surveys` until destroyed: every survey lookup
// waits behind it.
class SurveysLocked {
 public:
  explicit SurveysLocked(const TestDatabase& db) : connection_(db.url()), txn_(connection_) {
    txn_.exec("LOCK TABLE surveys IN ACCESS EXCLUSIVE MODE");
  }

 private:
  pqxx::connection connection_;
  pqxx::work txn_;
};

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

TEST(StoreTimeouts, AStatementStuckBehindALockIsCancelledAsUnavailable) {
  TestDatabase db;
  auto store = MakeStore(db, 1, 300ms, 2000ms);
  EXPECT_EQ(store->FindSurveyByTokenHash("x"), std::nullopt);  // fine while nothing is locked
  SurveysLocked lock(db);
  const auto start = SteadyClock::now();
  EXPECT_THROW(store->FindSurveyByTokenHash("x"), store::Unavailable);
  EXPECT_LT(SecondsSince(start), 2.0);
  EXPECT_GE(SecondsSince(start), 0.25);
  // The connection is fine afterwards: the pool still serves.
  EXPECT_TRUE(store->Ping());
}

TEST(StoreTimeouts, AWaitForAPooledConnectionGivesUp) {
  TestDatabase db;
  auto store = MakeStore(db, 1, 3000ms, 200ms);
  SurveysLocked lock(db);
  // The one connection is stuck in a lookup...
  auto stuck = std::async(std::launch::async, [&] {
    try {
      store->FindSurveyByTokenHash("x");
      return std::string("returned");
    } catch (const store::Unavailable& e) {
      return std::string(e.what());
    }
  });
  std::this_thread::sleep_for(300ms);
  // ...so the next caller waits for it at most the acquire timeout.
  const auto start = SteadyClock::now();
  try {
    store->FindSurveyByTokenHash("y");
    FAIL() << "should have given up";
  } catch (const store::Unavailable& e) {
    EXPECT_NE(std::string(e.what()).find("no database connection free within 200 ms"),
              std::string::npos)
        << e.what();
  }
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_NE(stuck.get().find("SQLSTATE 57014"), std::string::npos) << "cancelled by the timeout";
}

TEST(HttpStarvation, HealthzAnswersWhileEveryWorkerAndConnectionIsStuck) {
  TestDatabase db;
  SystemClock clock;
  auto store = MakeStore(db, 2, 3000ms, 300ms);
  survey::SurveyHandlerOptions survey_options(*store, clock);
  survey::SurveyPages pages(survey_options);
  api::ApiOptions api;
  api.ingest = store.get();
  api.outbox = store.get();
  api.surveys = store.get();
  api.stats = store.get();
  api.clock = &clock;
  api.feed_secret = kFeedSecret;
  api.decider = [] {
    return [](const Event&, const ContactHistory&, const RelatedEvents&) {
      Decision decision;
      decision.reason = "no_group";
      return decision;
    };
  };
  api.survey_pages = [&pages](const http::Request& r) { return pages.Handle(r); };
  api.survey_pages_fast = [&pages](const http::Request& r) { return pages.HandleFast(r); };
  api.readiness = [] { return api::Readiness{true, "{}", {}}; };
  http::ServerOptions server_options;
  server_options.host = "127.0.0.1";
  server_options.port = 0;
  server_options.worker_threads = 3;
  auto server =
      http::MakeServer(server_options, api::MakeApiHandler(api), api::MakeApiFastHandler(api));
  server->Start();

  SurveysLocked lock(db);
  // Two survey lookups take both pooled connections and two of the three workers; a pushed event
  // takes the third worker and waits for a connection.
  std::vector<std::unique_ptr<RawConnection>> lookups;
  for (const char* token : {"AAAAAAAAAAAAAAAAAAAAAA", "BAAAAAAAAAAAAAAAAAAAAA"}) {
    lookups.push_back(std::make_unique<RawConnection>(server->Port()));
    ASSERT_TRUE(
        lookups.back()->Send(std::string("GET /s/") + token + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  std::this_thread::sleep_for(200ms);
  const auto start = SteadyClock::now();
  RawConnection push(server->Port());
  const std::string body = R"({"event_id":"starved-1"})";
  const std::string timestamp = std::to_string(ToUnixSeconds(clock.Now()));
  ASSERT_TRUE(push.Send(
      "POST /api/v1/feed/events HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/json\r\nX-Feed-Timestamp: " +
      timestamp + "\r\nX-Feed-Signature: " + crypto::SignTimestamped(kFeedSecret, timestamp, body) +
      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));

  RawConnection health(server->Port());
  ASSERT_TRUE(health.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto alive = health.Read();
  ASSERT_TRUE(alive.has_value());
  EXPECT_EQ(alive->status, 200);
  EXPECT_LT(SecondsSince(start), 0.5) << "/healthz waited";

  // No connection came free within the acquire timeout: 503 with Retry-After, well before the
  // stuck statements end.
  const auto busy = push.Read();
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->status, 503);
  EXPECT_EQ(busy->headers.at("retry-after"), "5");
  EXPECT_LT(SecondsSince(start), 2.0);

  // The stuck lookups are cancelled by the statement timeout: 503 with Retry-After too.
  for (auto& connection : lookups) {
    const auto answer = connection->Read();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->status, 503);
    EXPECT_EQ(answer->headers.at("retry-after"), "60");
  }
  EXPECT_LT(SecondsSince(start), 4.5);
  server->Stop();
}

}  // namespace
}  // namespace surveyd
