#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/test_database.hpp"
#include "store/pg_store_impl.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/store/ingest_parts.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::store {
namespace {

using namespace std::chrono_literals;
using testing::TestDatabase;

constexpr char kKey[] = "test-phone-hash-key";

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }
const TimePoint kT0 = At("2026-11-26T09:00:00Z");

Event MakeEvent(const std::string& id, const std::string& phone, TimePoint occurred_at = kT0,
                std::vector<std::string> qualifiers = {}) {
  Event event;
  event.event_id = id;
  event.type = EventType::kCallEnded;
  event.occurred_at = occurred_at;
  event.incident.id = "INC-" + id;
  event.incident.type_code = "BURG-RES";
  event.incident.category = "crime";
  event.incident.grade = "P3";
  event.incident.qualifiers = std::move(qualifiers);
  event.incident.location.npu = "Birmingham East";
  event.incident.location.beat = "BE-14";
  event.incident.location.postcode_district = "B33";
  event.call = Call{};
  event.call->id = "C-" + id;
  event.call->channel = "101";
  event.call->handler_id = "OP4411";
  event.call->handler_team = "Force Contact - Team 3";
  event.caller = Caller{};
  event.caller->phone = phone;
  event.caller->role = "victim";
  event.caller->age = 41;
  event.caller->gender = "female";
  return event;
}

IngestItem Item(Event event) {
  IngestItem item;
  item.source = "push";
  item.raw = "{\"event_id\":\"" + event.event_id + "\"}";
  item.event_id = event.event_id;
  item.event = std::move(event);
  return item;
}

IngestItem Rejected(const std::string& raw, const std::string& reason,
                    const std::string& event_id = "") {
  IngestItem item;
  item.source = "tcp";
  item.raw = raw;
  item.reject_reason = reason;
  item.event_id = event_id;
  return item;
}

bool Domestic(const Event& event) {
  const auto& qualifiers = event.incident.qualifiers;
  return qualifiers &&
         std::find(qualifiers->begin(), qualifiers->end(), "DOMESTIC") != qualifiers->end();
}

// A stand-in for the rules engine: domestic incidents (on the event or any related event) are
// excluded, other channels than 101 ignored, opted-out numbers and numbers surveyed in the last
// 30 days excluded.
Decision Decide(const Event& event, const ContactHistory& history, const RelatedEvents& related) {
  Decision decision;
  decision.trace.push_back("test_rules");
  if (!event.call || event.call->channel != "101") {
    decision.outcome = Decision::Outcome::kIgnored;
    decision.reason = "no_group";
    return decision;
  }
  decision.group = "force_contact";
  // A number's event screened under the test screen (ScreenOf) is given by what it found.
  const bool related_domestic =
      std::any_of(related.same_incident.begin(), related.same_incident.end(), Domestic) ||
      std::any_of(related.same_number.begin(), related.same_number.end(), Domestic) ||
      std::any_of(related.number_incidents_others.begin(), related.number_incidents_others.end(),
                  Domestic) ||
      std::any_of(related.same_number_screened.begin(), related.same_number_screened.end(),
                  [](const ScreenedEvent& e) {
                    return std::find(e.findings.begin(), e.findings.end(), "exclusion:domestic") !=
                           e.findings.end();
                  });
  if (Domestic(event) || related_domestic) {
    decision.outcome = Decision::Outcome::kExcluded;
    decision.reason = "exclusion:domestic";
    return decision;
  }
  if (history.opted_out) {
    decision.outcome = Decision::Outcome::kExcluded;
    decision.reason = "opted_out";
    return decision;
  }
  if (history.last_surveyed_at && event.occurred_at - *history.last_surveyed_at < 24h * 30) {
    decision.outcome = Decision::Outcome::kExcluded;
    decision.reason = "frequency_cap";
    return decision;
  }
  decision.outcome = Decision::Outcome::kSurvey;
  decision.reason = "survey";
  decision.phone = phone::Normalize(event.caller->phone.value_or(""));
  decision.language = "en";
  decision.sms_template = "West Midlands Police: how did we do? {link}";
  decision.send_at = event.occurred_at + 1h;
  decision.expires_at = event.occurred_at + 48h;
  return decision;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<TestDatabase>();
    store_ = MakePgStore(testing::TestStoreOptions(db_->url(), 4, kKey));
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }

  std::vector<IngestResult> Ingest(const std::vector<IngestItem>& items,
                                   const std::string& feed = "") {
    return store_->IngestBatch(items, Decide, feed);
  }
  std::string Q(const std::string& sql) { return db_->Query(sql); }
  // The events whose ids end in `suffix`, each as "id:decision:text state/why cancelled", in id
  // order ("-" for none).
  std::string Decisions(const std::string& suffix) {
    return Q(
        "SELECT string_agg(e.event_id || ':' || e.decision_reason || ':' || "
        "COALESCE(o.state || '/' || COALESCE(o.cancel_reason, '-'), '-'), ' ' "
        "ORDER BY e.event_id) FROM events e LEFT JOIN surveys s ON s.event_id = e.event_id "
        "LEFT JOIN outbox o ON o.survey_id = s.id WHERE e.event_id LIKE '%" +
        suffix + "'");
  }

  // Ingests one surveyed event and claims its message.
  OutboxMessage ClaimOne(const std::string& id, const std::string& phone,
                         const std::string& worker = "w1") {
    auto results = Ingest({Item(MakeEvent(id, phone))});
    EXPECT_EQ(results.at(0).reason, "survey");
    auto claimed = store_->ClaimDue(kT0 + 2h, 10, worker, 60s);
    EXPECT_EQ(claimed.size(), 1u);
    return claimed.empty() ? OutboxMessage{} : claimed[0];
  }
  // Begins the claim's one request and records the gateway's answer, as the dispatcher does.
  void Record(OutboxMessage& message, const SendRecord& record, const std::string& token_hash,
              TimePoint now) {
    ASSERT_TRUE(store_->BeginSend(message, token_hash, now, 60s)) << "the claim was lost";
    store_->RecordAttempt(message, record, now);
  }
  // A delivery report as an adapter reads it: {gateway, gateway_message_id, ref, state, error, at}.
  struct ReportFields {
    std::string gateway, message_id, ref, state, error;
    TimePoint at;
  };
  bool Report(const ReportFields& f) {
    DeliveryReport report;
    report.gateway = f.gateway;
    report.gateway_message_id = f.message_id;
    report.message_ref = f.ref;
    report.state = ParseDeliveryState(f.state).value();
    report.error_code = f.error;
    report.at = f.at;
    return store_->ApplyDeliveryReport(report);
  }
  std::string State(std::int64_t outbox_id) {
    return Q("SELECT state FROM outbox WHERE id = " + std::to_string(outbox_id));
  }
  // Leases run on the database's clock, not the `now` a caller passes: this moves that clock on
  // past `by` (each lease held ends that much earlier).
  void LeasesAge(std::chrono::seconds by) {
    Q("UPDATE outbox SET lease_until = lease_until - make_interval(secs => " +
      std::to_string(by.count()) + ") WHERE lease_until IS NOT NULL");
  }

  // For the plan tests: `count` copies of the stored event `of` (and of its survey, if it has
  // one), numbered g from 1 with ids `prefix`g and incidents INC-`prefix`g, hashed by the SQL
  // `hash` of g, each 7 minutes before the one before.
  void CopyEvent(const std::string& of, const std::string& prefix, int count,
                 const std::string& hash) {
    // Each copy made once, in LATERAL: (jsonb_populate_record(...)).* would make it again for
    // every column.
    const std::string each = ", generate_series(1, " + std::to_string(count) + ") AS g";
    const std::string id = "'" + prefix + "' || g";
    Q("INSERT INTO events SELECT c.* FROM events e" + each +
      ", LATERAL jsonb_populate_record(NULL::events, to_jsonb(e) || jsonb_build_object("
      "'event_id', " +
      id + ", 'incident_id', 'INC-' || " + id + ", 'phone_hash', " + hash +
      ", 'occurred_at', e.occurred_at - make_interval(mins => g * 7))) AS c "
      "WHERE e.event_id = '" +
      of + "'");
    Q("INSERT INTO surveys SELECT c.* FROM surveys s" + each +
      ", LATERAL jsonb_populate_record(NULL::surveys, to_jsonb(s) || jsonb_build_object("
      "'id', (SELECT max(id) FROM surveys) + g, 'event_id', " +
      id + ", 'incident_id', 'INC-' || " + id + ", 'phone_hash', " + hash +
      ", 'contact_at', s.contact_at - make_interval(mins => g * 7))) AS c "
      "WHERE s.event_id = '" +
      of + "'");
  }
  // Pages (shared buffers hit or read) that `execute` (EXECUTE name(...)) reads with the generic
  // plan of the statement `name` of `statements`, as the store plans it (UseGenericPlans); and
  // the plan, to say why.
  std::pair<int, std::string> PagesRead(const pg::Statements& statements, const std::string& name,
                                        const std::string& execute) {
    const auto it = std::find_if(statements.begin(), statements.end(),
                                 [&](const auto& statement) { return statement.name == name; });
    EXPECT_NE(it, statements.end()) << name;
    if (it == statements.end()) return {0, ""};
    pqxx::connection connection(db_->url());
    pqxx::work txn(connection);
    txn.exec("PREPARE " + name + " AS " + it->sql);
    pg::UseGenericPlans(txn);
    std::string plan =
        txn.exec("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + execute)[0][0].as<std::string>();
    const auto top = nlohmann::json::parse(plan).at(0).at("Plan");
    return {top.at("Shared Hit Blocks").get<int>() + top.at("Shared Read Blocks").get<int>(),
            std::move(plan)};
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, PingAnswers) { EXPECT_TRUE(store_->Ping()); }

TEST_F(StoreTest, IngestStoresDecidesAndQueuesOneMessagePerSurvey) {
  auto results = Ingest({Item(MakeEvent("E1", "+447700900001")),
                         Item(MakeEvent("E2", "07700 900002", kT0, {"DOMESTIC"})),
                         Item(MakeEvent("E3", "+447700900003"))});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].event_id, "E1");
  EXPECT_EQ(results[0].outcome, IngestOutcome::kAccepted);
  EXPECT_EQ(results[0].reason, "survey");
  EXPECT_EQ(results[1].outcome, IngestOutcome::kAccepted);
  EXPECT_EQ(results[1].reason, "exclusion:domestic");
  EXPECT_EQ(results[2].reason, "survey");

  EXPECT_EQ(Q("SELECT count(*) FROM events"), "3");
  EXPECT_EQ(Q("SELECT decision || '/' || decision_reason || '/' || decision_group FROM events "
              "WHERE event_id = 'E2'"),
            "excluded/exclusion:domestic/force_contact");
  EXPECT_EQ(Q("SELECT decision_trace::text FROM events WHERE event_id = 'E1'"), "[\"test_rules\"]");
  EXPECT_EQ(Q("SELECT count(*) FROM surveys"), "2");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE state = 'pending'"), "2");
  // The context analysts group by is on the survey row, and the number is stored normalised,
  // encrypted under the active key (never in clear).
  EXPECT_EQ(Q("SELECT concat_ws('|', phone_e164, event_type, channel, incident_type_code, npu, "
              "handler_id, caller_role, caller_age_band, caller_gender) FROM surveys "
              "WHERE event_id = 'E1'"),
            "call.ended|101|BURG-RES|Birmingham East|OP4411|victim|35-44|female");
  const std::string sealed = Q("SELECT phone_enc FROM surveys WHERE event_id = 'E1'");
  EXPECT_EQ(sealed.rfind("v1:t1:", 0), 0u) << sealed;
  EXPECT_EQ(testing::TestPhoneKeys().Open(sealed, "surveys.phone"), "+447700900001");
  EXPECT_EQ(Q("SELECT count(*) FROM raw_events WHERE raw LIKE '%7700%' OR raw NOT LIKE 'v1:t1:%'"),
            "0");
  EXPECT_EQ(Q("SELECT count(*) FROM raw_events JOIN events USING (event_id)"),
            Q("SELECT count(*) FROM events"))
      << "each event's line kept, sealed";
  EXPECT_EQ(Q("SELECT phone_hash FROM surveys WHERE event_id = 'E1'"),
            phone::KeyedHash(kKey, "+447700900001"));
  EXPECT_EQ(Q("SELECT count(DISTINCT client_ref) FROM outbox"), "2");
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE length(token_nonce) = 32"), "2");
  EXPECT_EQ(Q("SELECT count(*) FROM survey_links"), "0") << "no link before a send begins";
  EXPECT_EQ(Q("SELECT bool_and(o.next_attempt_at = s.send_at) FROM outbox o "
              "JOIN surveys s ON s.id = o.survey_id"),
            "t");
}

TEST_F(StoreTest, IngestingTheSameBatchTwiceChangesNothing) {
  std::vector<IngestItem> batch = {Item(MakeEvent("E1", "+447700900001")),
                                   Item(MakeEvent("E2", "+447700900002"))};
  Ingest(batch);
  auto again = Ingest(batch);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].outcome, IngestOutcome::kDuplicate);
  EXPECT_EQ(again[0].event_id, "E1");
  EXPECT_EQ(again[1].outcome, IngestOutcome::kDuplicate);
  EXPECT_EQ(Q("SELECT count(*) FROM events"), "2");
  EXPECT_EQ(Q("SELECT count(*) FROM surveys"), "2");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox"), "2");
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE decision = 'survey'"), "2");
  EXPECT_EQ(store_->GetFunnel({}).events_duplicate, 2);
}

TEST_F(StoreTest, ADuplicateInsideOneBatchIsADuplicate) {
  auto results =
      Ingest({Item(MakeEvent("E1", "+447700900001")), Item(MakeEvent("E1", "+447700900001")),
              Item(MakeEvent("E2", "+447700900002"))});
  EXPECT_EQ(results[0].outcome, IngestOutcome::kAccepted);
  EXPECT_EQ(results[1].outcome, IngestOutcome::kDuplicate);
  EXPECT_EQ(results[2].outcome, IngestOutcome::kAccepted);
  EXPECT_EQ(Q("SELECT count(*) FROM surveys"), "2");
  EXPECT_EQ(Q("SELECT duplicates FROM events WHERE event_id = 'E1'"), "1");
}

TEST_F(StoreTest, RejectedItemsAreStoredWithTheirReasonAndCounted) {
  std::string garbage = "not json \xff\xfe";
  garbage.push_back('\0');
  garbage += " tail";
  auto results = Ingest({Rejected(garbage, "invalid JSON"),
                         Rejected("{\"event_id\":\"E9\",\"type\":\"x\"}", "unknown type", "E9"),
                         Item(MakeEvent("E1", "+447700900001"))});
  EXPECT_EQ(results[0].outcome, IngestOutcome::kRejected);
  EXPECT_EQ(results[0].event_id, "");
  EXPECT_EQ(results[0].reason, "invalid JSON");
  EXPECT_EQ(results[1].outcome, IngestOutcome::kRejected);
  EXPECT_EQ(results[1].event_id, "E9");
  EXPECT_EQ(results[2].outcome, IngestOutcome::kAccepted);
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events"), "2");
  EXPECT_EQ(testing::TestPhoneKeys().Open(
                Q("SELECT raw FROM rejected_events WHERE event_id IS NULL"), "rejected_events.raw"),
            "not json \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD tail");
  // A rejected delivery does not claim its id: a good delivery of E9 later is accepted.
  EXPECT_EQ(Ingest({Item(MakeEvent("E9", "+447700900009"))})[0].outcome, IngestOutcome::kAccepted);
  const Funnel funnel = store_->GetFunnel({});
  EXPECT_EQ(funnel.events_rejected, 2);
  EXPECT_EQ(funnel.events_received, 4);
}

TEST_F(StoreTest, FrequencyCapSeesSurveysDecidedEarlierInTheSameBatch) {
  auto results = Ingest({Item(MakeEvent("E1", "+447700900123")),
                         Item(MakeEvent("E2", "07700 900123", kT0 + 1min)),
                         Item(MakeEvent("E3", "+447700900999", kT0 + 2min))});
  EXPECT_EQ(results[0].reason, "survey");
  EXPECT_EQ(results[1].reason, "frequency_cap");
  EXPECT_EQ(results[2].reason, "survey");
  // ...and in later batches, from the database.
  EXPECT_EQ(Ingest({Item(MakeEvent("E4", "+44 7700 900123", kT0 + 24h))})[0].reason,
            "frequency_cap");
  EXPECT_EQ(Ingest({Item(MakeEvent("E5", "+447700900123", kT0 + 24h * 31))})[0].reason, "survey");
  EXPECT_EQ(Q("SELECT count(*) FROM surveys"), "3");
}

TEST_F(StoreTest, ConcurrentBatchesNeverSurveyOneNumberTwice) {
  // Two instances ingesting different events for the same numbers at the same time.
  auto other = MakePgStore(testing::TestStoreOptions(db_->url(), 2, kKey));
  std::vector<IngestItem> a, b;
  for (int i = 0; i < 50; ++i) {
    const std::string number = "+4477009" + std::to_string(10000 + i);
    a.push_back(Item(MakeEvent("A" + std::to_string(i), number)));
    b.push_back(Item(MakeEvent("B" + std::to_string(i), number)));
  }
  std::thread t1([&] { store_->IngestBatch(a, Decide); });
  std::thread t2([&] { other->IngestBatch(b, Decide); });
  t1.join();
  t2.join();
  EXPECT_EQ(Q("SELECT count(*) FROM surveys"), "50");
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE decision_reason = 'frequency_cap'"), "50");
}

TEST_F(StoreTest, ConcurrentPushesShareTransactionsAndEachGetsItsOwnResults) {
  // Eight clients pushing one event per request (the pushes are written in groups): each
  // gets the result of its own event, a duplicate is a duplicate, a bad line is rejected alone.
  constexpr int kClients = 8;
  constexpr int kEach = 25;
  std::vector<std::vector<std::string>> outcomes(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kEach; ++i) {
        const int n = c * kEach + i;
        // Every tenth id is pushed twice; every tenth request is unreadable.
        const int id = n % 5 == 0 ? n / 10 * 10 : n;
        IngestItem item = n % 10 == 3 ? Rejected("{nope", "malformed_json")
                                      : Item(MakeEvent("P" + std::to_string(id),
                                                       "+4477009" + std::to_string(20000 + id)));
        const auto results = store_->IngestBatch({item}, Decide, "");
        EXPECT_EQ(results.size(), 1u);
        if (results.size() == 1) {
          EXPECT_EQ(results[0].event_id, item.event_id);
          outcomes[c].push_back(IngestOutcomeName(results[0].outcome));
        }
      }
    });
  }
  for (auto& client : clients) client.join();
  std::map<std::string, int> counts;
  for (const auto& each : outcomes) {
    for (const auto& outcome : each) ++counts[outcome];
  }
  EXPECT_EQ(counts["rejected"], kClients * kEach / 10);
  EXPECT_EQ(counts["duplicate"], kClients * kEach / 10) << "each doubled id once";
  EXPECT_EQ(counts["accepted"], kClients * kEach * 8 / 10);
  EXPECT_EQ(Q("SELECT count(*) FROM events"), std::to_string(kClients * kEach * 8 / 10));
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events"), std::to_string(kClients * kEach / 10));
  EXPECT_EQ(Q("SELECT count(*) FROM surveys"), std::to_string(kClients * kEach * 8 / 10));
}

TEST_F(StoreTest, ConcurrentReportsAreAppliedOnceEach) {
  // Delivery reports from eight connections at once, each twice and out of order.
  std::vector<OutboxMessage> sent;
  for (int i = 0; i < 16; ++i) {
    auto message = ClaimOne("R" + std::to_string(i), "+4477009" + std::to_string(30000 + i));
    Record(message, {SendState::kAccepted, "wmnow", "m-" + std::to_string(i), 201, "", {}},
           "h" + std::to_string(i), kT0 + 2h);
    sent.push_back(message);
  }
  std::vector<std::thread> connections;
  std::atomic<int> unmatched = 0;
  for (int c = 0; c < 8; ++c) {
    connections.emplace_back([&, c] {
      for (int i = 0; i < 16; ++i) {
        DeliveryReport report;
        report.gateway = "wmnow";
        report.gateway_message_id = "m-" + std::to_string(i);
        // Half the connections say delivered, the other half only sent.
        report.state = (c + i) % 2 == 0 ? DeliveryState::kDelivered : DeliveryState::kSent;
        report.at = kT0 + 2h + std::chrono::seconds(c);
        if (!store_->ApplyDeliveryReport(report)) ++unmatched;
      }
    });
  }
  for (auto& connection : connections) connection.join();
  EXPECT_EQ(unmatched.load(), 0);
  EXPECT_EQ(Q("SELECT count(*) FROM delivery_reports"), "128") << "every report kept";
  EXPECT_EQ(Q("SELECT string_agg(DISTINCT state, ',') FROM outbox"), "delivered")
      << "the furthest state wins, whatever the order";
}

TEST_F(StoreTest, FeedCursorOnlyMovesForward) {
  EXPECT_EQ(store_->FeedCursor("tcp"), std::nullopt);
  auto with_seq = [](Event event, std::int64_t seq) {
    auto item = Item(std::move(event));
    item.seq = seq;
    return item;
  };
  Ingest(
      {with_seq(MakeEvent("E1", "+447700900001"), 5), with_seq(MakeEvent("E2", "+447700900002"), 7),
       with_seq(MakeEvent("E3", "+447700900003"), 6)},
      "tcp");
  EXPECT_EQ(store_->FeedCursor("tcp"), 7);
  Ingest({with_seq(MakeEvent("E0", "+447700900004"), 3)}, "tcp");
  EXPECT_EQ(store_->FeedCursor("tcp"), 7);
  Ingest({with_seq(MakeEvent("E8", "+447700900008"), 8)});  // no feed: cursor untouched
  EXPECT_EQ(store_->FeedCursor("tcp"), 7);
  EXPECT_EQ(Q("SELECT seq FROM events WHERE event_id = 'E2'"), "7");
}

// A consumer killed while its batch commits leaves that commit under way: the next consumer reads
// the cursor once it has settled, not before (it would deliver the batch again, as duplicates).
TEST_F(StoreTest, TheCursorIsReadOnceABatchUnderWayHasCommitted) {
  Q("INSERT INTO feed_cursors (feed, seq, updated_at) VALUES ('tcp', 5, now())");
  pqxx::connection dying(db_->url());
  pqxx::work batch(dying);
  batch.exec0("UPDATE feed_cursors SET seq = 9 WHERE feed = 'tcp'");
  auto read = std::async(std::launch::async, [&] { return store_->FeedCursor("tcp"); });
  EXPECT_EQ(read.wait_for(300ms), std::future_status::timeout)
      << "read before the batch under way settled";
  batch.commit();
  EXPECT_EQ(read.get(), 9);
}

// A feed's batch whose lines fall into parts that share no event, incident or number is written
// in two transactions at once (IngestNow): each event is decided as the whole batch in one
// transaction decides it, and the cursor moves once both are stored.
TEST_F(StoreTest, AFeedBatchWrittenInPartsIsDecidedAsAWholeOne) {
  // 40 incidents over 24 numbers (the frequency cap), every third incident turned domestic by a
  // later event of the batch (its text cancelled, or never made), and an event delivered twice.
  std::vector<IngestItem> batch;
  std::int64_t seq = 100;
  auto add = [&](Event event) {
    IngestItem item = Item(std::move(event));
    item.source = "tcp";
    item.seq = ++seq;
    batch.push_back(std::move(item));
  };
  for (int i = 0; i < 40; ++i) {
    const std::string n = std::to_string(i);
    Event call = MakeEvent("F" + n + "-a", "+4477009001" + std::to_string(10 + i % 24),
                           kT0 + std::chrono::minutes(i));
    call.incident.id = "INC-F" + n;
    add(call);
    if (i % 3 == 0) {
      Event closed =
          MakeEvent("F" + n + "-b", "", kT0 + std::chrono::minutes(60 + i), {"DOMESTIC"});
      closed.type = EventType::kIncidentClosed;
      closed.incident.id = call.incident.id;
      closed.caller.reset();
      add(closed);
    }
  }
  add(MakeEvent("F7-a", "+447700900117", kT0 + 7min));
  for (int i = 0; i < 20; ++i) {
    add(MakeEvent("G" + std::to_string(i), "+4477009002" + std::to_string(10 + i),
                  kT0 + std::chrono::minutes(i)));
  }
  const auto parts = SplitByContact(batch, 2);
  ASSERT_EQ(parts.size(), 2u) << "the batch must split for this test";
  ASSERT_GE(parts[1].size(), batch.size() / 3);

  const auto split = Ingest(batch, "tcp");
  TestDatabase whole_db;
  const auto whole =
      MakePgStore(testing::TestStoreOptions(whole_db.url(), 4, kKey))->IngestBatch(batch, Decide);
  ASSERT_EQ(split.size(), batch.size());
  ASSERT_EQ(whole.size(), batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(split[i].event_id, whole[i].event_id) << i;
    EXPECT_EQ(split[i].outcome, whole[i].outcome) << split[i].event_id;
    EXPECT_EQ(split[i].reason, whole[i].reason) << split[i].event_id;
  }
  const std::string decisions =
      "SELECT string_agg(e.event_id || ':' || e.decision_reason || ':' || "
      "COALESCE(o.state || '/' || COALESCE(o.cancel_reason, '-'), '-'), ' ' "
      "ORDER BY e.event_id) FROM events e LEFT JOIN surveys s ON s.event_id = e.event_id "
      "LEFT JOIN outbox o ON o.survey_id = s.id";
  EXPECT_EQ(Q(decisions), whole_db.Query(decisions));
  // What the batch is for: texts queued, texts cancelled by a later event, the frequency cap.
  EXPECT_NE(Q("SELECT count(*) FROM outbox WHERE state = 'pending'"), "0");
  EXPECT_NE(Q("SELECT count(*) FROM outbox WHERE state = 'cancelled'"), "0");
  EXPECT_NE(Q("SELECT count(*) FROM events WHERE decision_reason = 'frequency_cap'"), "0");
  EXPECT_EQ(Q("SELECT count(*) FROM events"), std::to_string(batch.size() - 1));
  EXPECT_EQ(store_->FeedCursor("tcp"), seq);

  // A crash after the parts committed and before the cursor delivers the batch again: each
  // event is then a duplicate of what is stored, and nothing else changes. Not even the count
  // of deliveries the feed made twice (one line in this batch): these are the same lines again.
  const std::string before = Q(decisions);
  const std::string repeated = "SELECT sum(duplicates) FROM events";
  ASSERT_EQ(Q(repeated), "1");
  const auto funnel = store_->GetFunnel({}).events_duplicate;
  for (const auto& again : Ingest(batch, "tcp")) {
    EXPECT_EQ(again.outcome, IngestOutcome::kDuplicate) << again.event_id;
    EXPECT_TRUE(again.replayed) << again.event_id;  // and so counted, by the service too
  }
  EXPECT_EQ(Q(decisions), before);
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events"), "0");
  EXPECT_EQ(Q(repeated), "1");
  EXPECT_EQ(store_->GetFunnel({}).events_duplicate, funnel);
  // A later line delivering a stored event again is a delivery the feed made twice.
  IngestItem later = batch.front();
  later.seq = ++seq;
  const auto twice = Ingest({later}, "tcp").at(0);
  EXPECT_EQ(twice.outcome, IngestOutcome::kDuplicate);
  EXPECT_FALSE(twice.replayed);
  EXPECT_EQ(Q(repeated), "2");
  EXPECT_EQ(store_->GetFunnel({}).events_duplicate, funnel + 1);
  // A batch sent again from behind the cursor can hold a line of an event taken already and a
  // new delivery of it (a CI run counted one too many): each line counts on its own.
  IngestItem taken = batch.front();  // its seq is below the one stored since
  IngestItem fresh = batch.front();
  fresh.seq = ++seq;
  const auto both = Ingest({taken, fresh}, "tcp");
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].outcome, IngestOutcome::kDuplicate);
  EXPECT_TRUE(both[0].replayed) << "the line taken already";
  EXPECT_EQ(both[1].outcome, IngestOutcome::kDuplicate);
  EXPECT_FALSE(both[1].replayed) << "the new delivery";
  EXPECT_EQ(Q(repeated), "3");
  EXPECT_EQ(store_->GetFunnel({}).events_duplicate, funnel + 2);
}

TEST_F(StoreTest, ClaimDueHandsOutDueMessagesWithALease) {
  Ingest({Item(MakeEvent("E1", "+447700900001"))});
  EXPECT_TRUE(store_->ClaimDue(kT0 + 30min, 10, "w1", 60s).empty());  // send_at is kT0 + 1h

  auto claimed = store_->ClaimDue(kT0 + 1h, 10, "w1", 60s);
  ASSERT_EQ(claimed.size(), 1u);
  const OutboxMessage& message = claimed[0];
  EXPECT_EQ(message.to_e164, "+447700900001");
  EXPECT_EQ(message.sms_template, "West Midlands Police: how did we do? {link}");
  EXPECT_EQ(message.token_nonce.size(), 32u);
  EXPECT_EQ(message.attempts, 0) << "a claim is not an attempt";
  EXPECT_EQ(message.expires_at, kT0 + 48h);
  EXPECT_EQ(message.client_ref.rfind("svy-", 0), 0u);
  EXPECT_EQ(State(message.id), "claimed");
  EXPECT_EQ(Q("SELECT claimed_by FROM outbox"), "w1");
  // What deciding it again needs comes with it: its event, with the number put back.
  ASSERT_TRUE(message.event.has_value());
  EXPECT_EQ(message.event->event_id, "E1");
  EXPECT_EQ(message.event->caller->phone, "+447700900001");
  EXPECT_FALSE(message.history.opted_out);
  EXPECT_FALSE(message.history.last_surveyed_at.has_value()) << "its own survey does not count";

  EXPECT_TRUE(store_->ClaimDue(kT0 + 1h + 30s, 10, "w2", 60s).empty());  // leased
  LeasesAge(30s);
  EXPECT_TRUE(store_->ClaimDue(kT0 + 1h + 30s, 10, "w2", 60s).empty());  // leased still
  // The worker never got to it: once the lease runs out another one claims it, with the same
  // key, and the first one's claim is void.
  LeasesAge(31s);
  auto again = store_->ClaimDue(kT0 + 1h + 61s, 10, "w2", 60s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, message.id);
  EXPECT_EQ(again[0].client_ref, message.client_ref);
  EXPECT_NE(again[0].claim_token, message.claim_token);
  EXPECT_EQ(Q("SELECT claimed_by FROM outbox"), "w2");
  OutboxMessage stale = message;
  EXPECT_FALSE(store_->BeginSend(stale, "h", kT0 + 1h + 62s, 60s));
  EXPECT_TRUE(store_->BeginSend(again[0], "h", kT0 + 1h + 62s, 60s));
  EXPECT_EQ(again[0].attempts, 1);
  EXPECT_EQ(State(message.id), "sending");
  EXPECT_EQ(Q("SELECT token_hash FROM survey_links"), "h") << "recorded before the request goes";
  // Sending is never claimed again, however long it takes: only recovery moves it on.
  EXPECT_TRUE(store_->ClaimDue(kT0 + 5h, 10, "w3", 60s).empty());
}

TEST_F(StoreTest, RecoveryResendsThroughAnIdempotentGatewayAndHoldsTheRestInDoubt) {
  auto m1 = ClaimOne("E1", "+447700900001");
  ASSERT_TRUE(store_->BeginSend(m1, "h1", kT0 + 2h, 60s));
  LeasesAge(59s);
  EXPECT_EQ(store_->RecoverStale(kT0 + 2h + 59s, true), 0) << "still within its lease";
  LeasesAge(2s);
  EXPECT_EQ(store_->RecoverStale(kT0 + 2h + 61s, true), 1);
  EXPECT_EQ(State(m1.id), "pending");
  auto again = store_->ClaimDue(kT0 + 2h + 62s, 10, "w2", 60s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].client_ref, m1.client_ref) << "the same key: the gateway deduplicates";

  auto m2 = ClaimOne("E2", "+447700900002");
  ASSERT_TRUE(store_->BeginSend(m2, "h2", kT0 + 2h, 60s));
  LeasesAge(61s);
  EXPECT_EQ(store_->RecoverStale(kT0 + 2h + 61s, false), 1);
  EXPECT_EQ(State(m2.id), "in_doubt") << "never resent where a resend could text twice";
}

TEST_F(StoreTest, LeasesRunOnTheDatabasesClockNotAWorkersOwn) {
  // One instance's clock runs an hour ahead of the database's, another's an hour behind: the
  // one ahead takes no claim nor send of the other's before its lease runs out on the
  // database's clock, and the one behind hands out leases that have not run out already.
  auto m1 = ClaimOne("E1", "+447700900001", "behind");
  EXPECT_TRUE(store_->ClaimDue(kT0 + 3h, 10, "ahead", 60s).empty()) << "a claim taken over";
  ASSERT_TRUE(store_->BeginSend(m1, "h1", kT0 + 2h - 1h, 60s));
  EXPECT_EQ(store_->RecoverStale(kT0 + 3h, true), 0) << "a send in flight taken over";
  EXPECT_EQ(store_->ExpireOverdue(kT0 + 3h), 0);
  EXPECT_EQ(State(m1.id), "sending");
  EXPECT_EQ(Q("SELECT lease_until BETWEEN now() + interval '50 s' AND now() + interval '70 s' "
              "FROM outbox"),
            "t");
  // Once it runs out on the database's clock, whatever the worker's own says.
  LeasesAge(61s);
  EXPECT_EQ(store_->RecoverStale(kT0 - 24h, true), 1);
}

TEST_F(StoreTest, ConcurrentClaimersNeverShareAMessage) {
  std::vector<IngestItem> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back(
        Item(MakeEvent("E" + std::to_string(i), "+4477009" + std::to_string(10000 + i))));
  }
  Ingest(batch);
  auto other = MakePgStore(testing::TestStoreOptions(db_->url(), 2, kKey));
  std::vector<std::int64_t> got[2];
  auto loop = [&](Store& store, const std::string& worker, std::vector<std::int64_t>& out) {
    for (;;) {
      auto claimed = store.ClaimDue(kT0 + 2h, 7, worker, 600s);
      if (claimed.empty()) return;
      for (const auto& m : claimed) out.push_back(m.id);
    }
  };
  std::thread t1([&] { loop(*store_, "w1", got[0]); });
  std::thread t2([&] { loop(*other, "w2", got[1]); });
  t1.join();
  t2.join();
  std::set<std::int64_t> all(got[0].begin(), got[0].end());
  std::size_t overlap = 0;
  for (auto id : got[1]) overlap += all.insert(id).second ? 0 : 1;
  EXPECT_EQ(overlap, 0u);
  EXPECT_EQ(all.size(), 300u);
  EXPECT_EQ(got[0].size() + got[1].size(), 300u);
  std::cout << "[ claims   ] w1 " << got[0].size() << ", w2 " << got[1].size() << "\n";
}

TEST_F(StoreTest, RecordAttemptMovesTheMessageOn) {
  // Accepted: the gateway's id and the token hash are kept.
  auto m1 = ClaimOne("E1", "+447700900001");
  Record(m1, {SendState::kAccepted, "wmnow", "m-1", 201, "", {}}, "hash-1", kT0 + 2h);
  EXPECT_EQ(State(m1.id), "accepted");
  EXPECT_EQ(Q("SELECT gateway_message_id FROM outbox WHERE id = " + std::to_string(m1.id)), "m-1");
  EXPECT_EQ(
      Q("SELECT token_hash FROM survey_links WHERE survey_id = " + std::to_string(m1.survey_id)),
      "hash-1");
  EXPECT_EQ(Q("SELECT concat_ws('|', attempt, gateway, gateway_message_id, http_status, result) "
              "FROM send_attempts"),
            "1|wmnow|m-1|201|accepted");

  // Retry: back to pending, due again at the given time and not before.
  auto m2 = ClaimOne("E2", "+447700900002");
  Record(m2, {SendState::kRetry, "wmnow", "", 503, "http 503", kT0 + 3h}, "hash-2", kT0 + 2h);
  EXPECT_EQ(State(m2.id), "pending");
  EXPECT_TRUE(store_->ClaimDue(kT0 + 3h - 1s, 10, "w1", 60s).empty());
  auto retried = store_->ClaimDue(kT0 + 3h, 10, "w1", 60s);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].attempts, 1) << "one request begun so far";
  EXPECT_EQ(retried[0].client_ref, m2.client_ref);

  auto m3 = ClaimOne("E3", "+447700900003");
  Record(m3, {SendState::kFailed, "wmnow", "", 400, "invalid_number", {}}, "", kT0 + 2h);
  EXPECT_EQ(State(m3.id), "failed");
  EXPECT_EQ(Q("SELECT last_error FROM outbox WHERE id = " + std::to_string(m3.id)),
            "invalid_number");

  auto m4 = ClaimOne("E4", "+447700900004");
  Record(m4, {SendState::kInDoubt, "kannel", "", 0, "timeout", {}}, "hash-4", kT0 + 2h);
  EXPECT_EQ(State(m4.id), "in_doubt");
  for (const auto& claimed : store_->ClaimDue(kT0 + 10h, 10, "w1", 60s)) {
    EXPECT_NE(claimed.id, m4.id);  // never resent by itself
  }
}

TEST_F(StoreTest, AStaleWorkerCannotMoveAMessageClaimedAgain) {
  auto first = ClaimOne("E1", "+447700900001", "w1");
  LeasesAge(61s);
  auto second = store_->ClaimDue(kT0 + 2h + 61s, 10, "w2", 60s);
  ASSERT_EQ(second.size(), 1u);
  Record(second[0], {SendState::kRetry, "wmnow", "", 503, "http 503", kT0 + 3h}, "h",
         kT0 + 2h + 62s);
  // The first worker's answer (had it sent anyway) moves nothing.
  store_->RecordAttempt(first, {SendState::kFailed, "wmnow", "", 400, "late", {}}, kT0 + 2h + 63s);
  EXPECT_EQ(State(first.id), "pending");
  EXPECT_EQ(Q("SELECT count(*) FROM send_attempts"), "2");  // the attempt itself is recorded
  store_->Reschedule({first}, kT0 + 2h + 64s);
  EXPECT_EQ(Q("SELECT surveyd_epoch_us(next_attempt_at) = surveyd_epoch_us('" +
              FormatRfc3339(kT0 + 3h) + "')  FROM outbox"),
            "t")
      << "nor does its hand-back";
}

TEST_F(StoreTest, RescheduleMovesAClaimedMessageBack) {
  auto m = ClaimOne("E1", "+447700900001");
  store_->Reschedule({m}, kT0 + 20h);
  EXPECT_EQ(State(m.id), "pending");
  EXPECT_TRUE(store_->ClaimDue(kT0 + 19h, 10, "w1", 60s).empty());
  EXPECT_EQ(store_->ClaimDue(kT0 + 20h, 10, "w1", 60s).size(), 1u);
}

TEST_F(StoreTest, ExpireOverdueExpiresUnsentMessagesOnly) {
  Ingest({Item(MakeEvent("E1", "+447700900001")), Item(MakeEvent("E2", "+447700900002"))});
  auto claimed = store_->ClaimDue(kT0 + 2h, 1, "w1", 60s);
  ASSERT_EQ(claimed.size(), 1u);
  Record(claimed[0], {SendState::kAccepted, "wmnow", "m-1", 201, "", {}}, "h1", kT0 + 2h);
  EXPECT_EQ(store_->ExpireOverdue(kT0 + 47h), 0);
  // Past expiry nothing is claimed, even before the sweep runs.
  EXPECT_TRUE(store_->ClaimDue(kT0 + 49h, 10, "w1", 60s).empty());
  EXPECT_EQ(store_->ExpireOverdue(kT0 + 49h), 1);
  EXPECT_EQ(store_->ExpireOverdue(kT0 + 49h), 0);
  EXPECT_EQ(State(claimed[0].id), "accepted");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE state = 'expired'"), "1");
  EXPECT_EQ(store_->GetFunnel({}).sms_expired, 1);
}

TEST_F(StoreTest, DeliveryStatesOnlyMoveForward) {
  auto m = ClaimOne("E1", "+447700900001");
  Record(m, {SendState::kAccepted, "wmnow", "m-1", 201, "", {}}, "h1", kT0 + 2h);
  auto report = [&](const std::string& status) {
    return Report({"wmnow", "m-1", "", status, "", kT0 + 3h});
  };
  EXPECT_TRUE(report("sent"));
  EXPECT_EQ(State(m.id), "sent");
  EXPECT_TRUE(report("delivered"));
  EXPECT_EQ(State(m.id), "delivered");
  EXPECT_TRUE(report("sent"));  // late
  EXPECT_TRUE(report("failed"));
  EXPECT_TRUE(report("delivered"));  // repeated
  EXPECT_EQ(State(m.id), "delivered");
  EXPECT_EQ(Q("SELECT count(*) FROM delivery_reports WHERE outbox_id = " + std::to_string(m.id)),
            "5");
  EXPECT_FALSE(Report({"wmnow", "m-unknown", "", "delivered", "", kT0}));

  // Found by client_ref, a failure is final, and named as the network gave it.
  auto m2 = ClaimOne("E2", "+447700900002");
  Record(m2, {SendState::kAccepted, "wmnow", "m-2", 201, "", {}}, "h2", kT0 + 2h);
  EXPECT_TRUE(Report({"wmnow", "", m2.client_ref, "undeliverable", "E30", kT0 + 3h}));
  EXPECT_EQ(State(m2.id), "undeliverable");
  EXPECT_EQ(Q("SELECT last_error FROM outbox WHERE id = " + std::to_string(m2.id)), "E30");
  EXPECT_TRUE(Report({"wmnow", "m-2", "", "delivered", "", kT0 + 4h}));
  EXPECT_EQ(State(m2.id), "undeliverable");

  // The network's expiry is not the outbox's own (never sent in time).
  auto m3 = ClaimOne("E3", "+447700900003");
  Record(m3, {SendState::kAccepted, "wmnow", "m-3", 201, "", {}}, "h3", kT0 + 2h);
  EXPECT_TRUE(Report({"wmnow", "m-3", "", "sent", "", kT0 + 3h}));
  EXPECT_TRUE(Report({"wmnow", "m-3", "", "expired", "", kT0 + 4h}));
  EXPECT_EQ(State(m3.id), "delivery_expired");
  EXPECT_EQ(
      Q("SELECT string_agg(status, ',' ORDER BY id) FROM delivery_reports WHERE outbox_id = " +
        std::to_string(m3.id)),
      "sent,expired");
  EXPECT_EQ(store_->GetFunnel({}).sms_failed, 2) << "undeliverable and delivery_expired";
}

TEST_F(StoreTest, EveryOrderOfTheSameReportsEndsInTheSameState) {
  // Each permutation of sent/delivered (each twice) on a fresh message ends delivered.
  std::vector<std::string> reports = {"accepted", "sent", "sent", "delivered", "delivered"};
  std::sort(reports.begin(), reports.end());
  int i = 0;
  do {
    const std::string id = "P" + std::to_string(i);
    auto m = ClaimOne(id, "+4477009" + std::to_string(20000 + i));
    Record(m, {SendState::kAccepted, "wmnow", "m-" + id, 201, "", {}}, "h" + id, kT0 + 2h);
    for (const auto& state : reports) EXPECT_TRUE(Report({"wmnow", "m-" + id, "", state, "", kT0}));
    ASSERT_EQ(State(m.id), "delivered") << "order " << i;
    ++i;
  } while (std::next_permutation(reports.begin(), reports.end()) && i < 30);
}

TEST_F(StoreTest, ReportsAppliedTogetherEndAsTheSameReportsOneByOne) {
  // Two copies of each message: one gets a shuffled stream of reports in one call (one
  // transaction, a few statements), the other the same stream one report at a time. Messages
  // are named several times in a stream, by either id, with final states that conflict, and
  // among reports that match nothing.
  constexpr int kMessages = 10;
  std::vector<OutboxMessage> together, alone;
  for (int i = 0; i < 2 * kMessages; ++i) {
    const std::string id = "T" + std::to_string(i);
    auto m = ClaimOne(id, "+4477009" + std::to_string(40000 + i));
    Record(m, {SendState::kAccepted, "wmnow", "m-" + id, 201, "", {}}, "h" + id, kT0 + 2h);
    (i < kMessages ? together : alone).push_back(m);
  }
  const std::vector<std::string> states = {"accepted", "sent",          "delivered",
                                           "failed",   "undeliverable", "expired"};
  std::mt19937 random(20261205);
  for (int round = 0; round < 5; ++round) {
    std::vector<DeliveryReport> stream_together, stream_alone;
    for (int r = 0; r < 30; ++r) {
      const int i = static_cast<int>(random() % (kMessages + 1));  // kMessages: no such message
      const std::string state = states[random() % states.size()];
      const bool by_ref = random() % 3 == 0;
      const std::string error = random() % 2 == 0 ? "E" + std::to_string(r) : "";
      const TimePoint at = kT0 + 3h + std::chrono::seconds(round * 100 + r);
      auto report_to = [&](const std::vector<OutboxMessage>& copies, const std::string& prefix) {
        DeliveryReport report;
        report.gateway = "wmnow";
        report.state = ParseDeliveryState(state).value();
        report.error_code = error;
        report.at = at;
        if (i == kMessages) {
          report.gateway_message_id = "m-none-" + prefix;
        } else if (by_ref) {
          report.message_ref = copies[i].client_ref;
        } else {
          report.gateway_message_id = "m-T" + std::to_string(prefix == "a" ? i : i + kMessages);
        }
        return report;
      };
      stream_together.push_back(report_to(together, "a"));
      stream_alone.push_back(report_to(alone, "b"));
    }
    const auto matched_together = store_->ApplyDeliveryReports(stream_together);
    std::vector<bool> matched_alone;
    for (const auto& report : stream_alone) {
      matched_alone.push_back(store_->ApplyDeliveryReport(report));
    }
    EXPECT_EQ(matched_together, matched_alone) << "round " << round;
    for (int i = 0; i < kMessages; ++i) {
      const auto row = [&](std::int64_t id) {
        return Q(
            "SELECT state || ',' || COALESCE(last_error, '-') || ',' || updated_at "
            "FROM outbox WHERE id = " +
            std::to_string(id));
      };
      const auto reports = [&](std::int64_t id) {
        return Q(
            "SELECT string_agg(status || ':' || COALESCE(error_code, '-') || ':' || at, ' ' "
            "ORDER BY id) FROM delivery_reports WHERE outbox_id = " +
            std::to_string(id));
      };
      EXPECT_EQ(row(together[i].id), row(alone[i].id)) << "round " << round << ", message " << i;
      EXPECT_EQ(reports(together[i].id), reports(alone[i].id)) << "message " << i;
    }
  }
  EXPECT_EQ(Q("SELECT count(*) FROM delivery_reports WHERE outbox_id IS NULL"),
            Q("SELECT 2 * count(*) FROM delivery_reports WHERE gateway_message_id = 'm-none-a'"))
      << "the unmatched kept too";
  EXPECT_NE(Q("SELECT count(DISTINCT state) FROM outbox"), "1") << "the streams moved messages "
                                                                   "to different ends";
}

TEST_F(StoreTest, GatewayMessageIdsAreScopedPerGateway) {
  auto a = ClaimOne("E1", "+447700900001");
  Record(a, {SendState::kAccepted, "wmnow", "SAME-ID", 201, "", {}}, "h1", kT0 + 2h);
  auto b = ClaimOne("E2", "+447700900002");
  Record(b, {SendState::kAccepted, "twilio", "SAME-ID", 201, "", {}}, "h2", kT0 + 2h);
  EXPECT_TRUE(Report({"twilio", "SAME-ID", "", "delivered", "", kT0 + 3h}));
  EXPECT_EQ(State(b.id), "delivered");
  EXPECT_EQ(State(a.id), "accepted") << "another gateway's message with the same id";
  EXPECT_FALSE(Report({"kannel", "SAME-ID", "", "delivered", "", kT0 + 3h}));
  EXPECT_EQ(State(a.id), "accepted");
}

TEST_F(StoreTest, AMessageThatMayHaveGoneOutIsHeldInDoubtNeverCancelledOrExpired) {
  // WMNow: an in-doubt answer is retried with the same client_ref. Ruled out before the retry,
  // the first request may still have reached the handset: held in doubt, not called cancelled.
  SendRecord doubt{SendState::kRetry, "wmnow", "", 0, "read: timeout", kT0 + 2h + 10s, true};
  auto m = ClaimOne("E1", "+447700900001");
  Record(m, doubt, "h1", kT0 + 2h);
  EXPECT_EQ(State(m.id), "pending");
  auto again = store_->ClaimDue(kT0 + 2h + 10s, 10, "w1", 60s);
  ASSERT_EQ(again.size(), 1u);
  store_->Cancel({{again[0].id, "exclusion:domestic_abuse"}}, "redecision", kT0 + 2h + 10s);
  EXPECT_EQ(State(m.id), "in_doubt");
  EXPECT_EQ(Q("SELECT cancel_reason FROM outbox WHERE id = " + std::to_string(m.id)),
            "exclusion:domestic_abuse");

  // Never requested: cancelled. May have gone out and then ran out of time: in doubt too.
  auto n = ClaimOne("E2", "+447700900002");
  store_->Cancel({{n.id, "exclusion:domestic_abuse"}}, "redecision", kT0 + 2h);
  EXPECT_EQ(State(n.id), "cancelled");
  auto o = ClaimOne("E3", "+447700900003");
  Record(o, doubt, "h3", kT0 + 2h);
  EXPECT_EQ(store_->ExpireOverdue(kT0 + 49h), 1);
  EXPECT_EQ(State(o.id), "in_doubt");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE maybe_sent"), "2");
}

TEST_F(StoreTest, ASendInDoubtIsSettledByItsReportsAndNeverClaimedAgain) {
  // Kannel: a timeout after the request went out; its dlr-url carries our ref.
  auto m = ClaimOne("E1", "+447700900001");
  Record(m, {SendState::kInDoubt, "kannel", "", 0, "read: timeout", {}}, "h1", kT0 + 2h);
  EXPECT_EQ(State(m.id), "in_doubt");
  EXPECT_TRUE(store_->ClaimDue(kT0 + 30h, 10, "w1", 60s).empty());
  EXPECT_TRUE(Report({"kannel", "", m.client_ref, "sent", "", kT0 + 2h}));
  EXPECT_EQ(State(m.id), "sent");
  EXPECT_TRUE(Report({"kannel", "", m.client_ref, "delivered", "", kT0 + 2h}));
  EXPECT_EQ(State(m.id), "delivered");
  EXPECT_EQ(store_->GetFunnel({}).sms_delivered, 1);
  EXPECT_EQ(store_->GetFunnel({}).pending, 0);
}

TEST_F(StoreTest, AReportBeforeTheSendsAnswerIsNotLost) {
  // Known by client_ref while the send is still in flight: applied at once, kept on answer.
  auto m1 = ClaimOne("E1", "+447700900001");
  ASSERT_TRUE(store_->BeginSend(m1, "h1", kT0 + 2h, 60s));
  EXPECT_TRUE(Report({"wmnow", "m-1", m1.client_ref, "delivered", "", kT0}));
  EXPECT_EQ(State(m1.id), "delivered");
  store_->RecordAttempt(m1, {SendState::kAccepted, "wmnow", "m-1", 201, "", {}}, kT0 + 2h);
  EXPECT_EQ(State(m1.id), "delivered");
  EXPECT_EQ(Q("SELECT gateway_message_id FROM outbox WHERE id = " + std::to_string(m1.id)), "m-1");

  // Known only by the gateway's id, which the store learns from the answer: kept aside, then
  // the most advanced state is applied when the answer is recorded.
  auto m2 = ClaimOne("E2", "+447700900002");
  ASSERT_TRUE(store_->BeginSend(m2, "h2", kT0 + 2h, 60s));
  EXPECT_FALSE(Report({"wmnow", "m-2", "", "delivered", "", kT0}));
  EXPECT_FALSE(Report({"wmnow", "m-2", "", "sent", "", kT0}));
  EXPECT_EQ(State(m2.id), "sending");
  store_->RecordAttempt(m2, {SendState::kAccepted, "wmnow", "m-2", 201, "", {}}, kT0 + 2h);
  EXPECT_EQ(State(m2.id), "delivered");
  EXPECT_EQ(Q("SELECT count(*) FROM delivery_reports WHERE outbox_id = " + std::to_string(m2.id)),
            "2");
}

TEST_F(StoreTest, ATextDeliveredAgainByItsGatewayIdChangesNothing) {
  // A gateway's retry or a replayed signed callback: the same gateway id is read once. The plan
  // is not even asked again (a two-way answer would otherwise answer the next question), the
  // text is stored once, and what it did stands.
  auto m = ClaimOne("E1", "+447700900001");
  Record(m, {SendState::kAccepted, "wmnow", "m-1", 201, "", {}}, "h1", kT0 + 2h);
  int planned = 0;
  const ReplyFn plan = [&](const ReplyContext& context, const std::string&) {
    ++planned;
    ReplyPlan p;
    p.disposition = "answer";
    p.survey_id = context.latest_survey_id;
    p.question = 1 + planned;  // each reading answers the next question
    p.score = 8;
    p.texts.push_back({MessageKind::kQuestion, "Next?", kT0 + 48h});
    return p;
  };
  InboundSms sms{.gateway = "wmnow",
                 .gateway_message_id = "in-77",
                 .from_e164 = "+447700900001",
                 .to = "Police",
                 .body = "8",
                 .received_at = kT0 + 3h};
  const auto first = store_->ReceiveReply(sms, plan, {}, kT0 + 3h);
  EXPECT_FALSE(first.duplicate);
  EXPECT_EQ(first.texts_queued, 1);
  const auto again = store_->ReceiveReply(sms, plan, {}, kT0 + 3h + 1min);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.texts_queued, 0);
  EXPECT_EQ(planned, 1);
  EXPECT_EQ(Q("SELECT count(*) FROM inbound_messages"), "1");
  EXPECT_EQ(Q("SELECT concat_ws(',', q2, q3) FROM responses"), "8");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox WHERE kind = 'question'"), "1");
  // The same id from another gateway is another text.
  sms.gateway = "twilio";
  EXPECT_FALSE(store_->ReceiveReply(sms, plan, {}, kT0 + 4h).duplicate);
  EXPECT_EQ(planned, 2);
}

TEST_F(StoreTest, AStopFromANumberNeverTextedOptsItOutUnconfirmed) {
  // No survey of the number to send a confirmation through: none is queued, and none is
  // recorded as sent.
  const ReplyFn plan = [](const ReplyContext& context, const std::string&) {
    ReplyPlan p;
    p.disposition = "opt_out";
    p.opt_out = true;
    p.survey_id = context.latest_survey_id;
    p.texts.push_back({MessageKind::kConfirmation, "No more texts.", kT0 + 48h});
    return p;
  };
  const InboundSms stop{.gateway = "wmnow",
                        .gateway_message_id = "in-1",
                        .from_e164 = "+447700900009",
                        .to = "Police",
                        .body = "STOP",
                        .received_at = kT0};
  EXPECT_EQ(store_->ReceiveReply(stop, plan, {}, kT0).texts_queued, 0);
  EXPECT_EQ(Q("SELECT count(*) FILTER (WHERE confirmed_at IS NULL) || '/' || count(*) "
              "FROM opt_outs"),
            "1/1");
}

TEST_F(StoreTest, OptOutCancelsPendingMessagesAndExcludesFutureEvents) {
  Ingest({Item(MakeEvent("E1", "+447700900001")), Item(MakeEvent("E2", "+447700900002"))});
  store_->OptOut("+447700900001", "sms_stop", kT0);
  store_->OptOut("07700 900001", "sms_stop", kT0);  // idempotent, any format
  EXPECT_EQ(Q("SELECT count(*) FROM opt_outs"), "1");
  EXPECT_EQ(Q("SELECT string_agg(o.state, ',' ORDER BY o.id) FROM outbox o"), "cancelled,pending");
  auto claimed = store_->ClaimDue(kT0 + 2h, 10, "w1", 60s);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].to_e164, "+447700900002");
  EXPECT_EQ(Ingest({Item(MakeEvent("E3", "+447700900001", kT0 + 24h * 90))})[0].reason,
            "opted_out");

  EXPECT_TRUE(store_->OptOutBySurvey(claimed[0].survey_id, "survey_link", kT0));
  EXPECT_EQ(Q("SELECT count(*) FROM opt_outs"), "2");
  EXPECT_FALSE(store_->OptOutBySurvey(999999, "survey_link", kT0));
}

TEST_F(StoreTest, SurveyIsFoundOpenedAndAnsweredOnce) {
  auto m = ClaimOne("E1", "+447700900001");
  Record(m, {SendState::kAccepted, "wmnow", "m-1", 201, "", {}}, "token-hash-1", kT0 + 2h);
  EXPECT_EQ(store_->FindSurveyByTokenHash("nope"), std::nullopt);
  auto view = store_->FindSurveyByTokenHash("token-hash-1");
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->survey_id, m.survey_id);
  EXPECT_EQ(view->group, "force_contact");
  EXPECT_EQ(view->language, "en");
  EXPECT_EQ(view->event_type, EventType::kCallEnded);
  EXPECT_EQ(view->channel, "101");
  EXPECT_EQ(view->contact_at, kT0);
  EXPECT_EQ(view->expires_at, kT0 + 48h);
  EXPECT_FALSE(view->responded);
  EXPECT_EQ(view->opened_at, std::nullopt);

  store_->MarkOpened(m.survey_id, kT0 + 3h);
  store_->MarkOpened(m.survey_id, kT0 + 4h);
  EXPECT_EQ(store_->FindSurveyByTokenHash("token-hash-1")->opened_at, kT0 + 3h);

  SurveyAnswers answers;
  answers.q[0] = 9;
  answers.q[1] = 0;
  answers.q[4] = 10;
  answers.comment = std::string(2100, 'x');
  answers.language = "en";
  EXPECT_EQ(store_->SubmitResponse(m.survey_id, answers, kT0 + 5h), SubmitOutcome::kStored);
  EXPECT_EQ(store_->SubmitResponse(m.survey_id, answers, kT0 + 6h),
            SubmitOutcome::kAlreadyAnswered);
  EXPECT_EQ(Q("SELECT concat_ws('|', q1, q2, coalesce(q3::text, 'null'), q5, length(comment)) "
              "FROM responses"),
            "9|0|null|10|2000");
  EXPECT_TRUE(store_->FindSurveyByTokenHash("token-hash-1")->responded);
  EXPECT_EQ(store_->SubmitResponse(424242, answers, kT0), SubmitOutcome::kNotFound);

  auto late = ClaimOne("E2", "+447700900002");
  EXPECT_EQ(store_->SubmitResponse(late.survey_id, answers, kT0 + 49h), SubmitOutcome::kExpired);
  answers.q[2] = 11;
  EXPECT_THROW(store_->SubmitResponse(late.survey_id, answers, kT0 + 3h), std::invalid_argument);
}

TEST_F(StoreTest, FunnelAndQuestionStatsCountEachStage) {
  std::vector<IngestItem> batch;
  for (int i = 0; i < 4; ++i) {
    batch.push_back(Item(MakeEvent("S" + std::to_string(i), "+44770090010" + std::to_string(i))));
  }
  batch.push_back(Item(MakeEvent("X1", "+447700900201", kT0, {"DOMESTIC"})));
  batch.push_back(Item(MakeEvent("X2", "+447700900202", kT0, {"DOMESTIC"})));
  auto ignored = MakeEvent("I1", "+447700900301");
  ignored.call->channel = "999";
  batch.push_back(Item(ignored));
  batch.push_back(Rejected("{", "invalid JSON"));
  batch.push_back(Item(MakeEvent("S0", "+447700900100")));  // duplicate
  Ingest(batch);

  auto claimed = store_->ClaimDue(kT0 + 2h, 10, "w1", 60s);
  ASSERT_EQ(claimed.size(), 4u);
  Record(claimed[0], {SendState::kAccepted, "wmnow", "m-0", 201, "", {}}, "h0", kT0 + 2h);
  Record(claimed[1], {SendState::kAccepted, "wmnow", "m-1", 201, "", {}}, "h1", kT0 + 2h);
  Record(claimed[2], {SendState::kFailed, "wmnow", "", 400, "invalid_number", {}}, "", kT0 + 2h);
  Report({"wmnow", "m-0", "", "delivered", "", kT0 + 2h});
  store_->MarkOpened(claimed[0].survey_id, kT0 + 3h);
  store_->MarkOpened(claimed[1].survey_id, kT0 + 3h);
  SurveyAnswers a;
  a.q[0] = 9;
  a.q[1] = 4;
  a.language = "en";
  store_->SubmitResponse(claimed[0].survey_id, a, kT0 + 3h);
  a.q[0] = 6;
  a.q[1] = std::nullopt;
  store_->SubmitResponse(claimed[1].survey_id, a, kT0 + 3h);

  const Funnel f = store_->GetFunnel({});
  EXPECT_EQ(f.events_received, 9);
  EXPECT_EQ(f.events_rejected, 1);
  EXPECT_EQ(f.events_duplicate, 1);
  EXPECT_EQ(f.events_ignored, 1);
  EXPECT_EQ(f.events_excluded, 2);
  EXPECT_EQ(f.excluded_by_reason, (std::map<std::string, std::int64_t>{{"exclusion:domestic", 2}}));
  EXPECT_EQ(f.surveys_created, 4);
  EXPECT_EQ(f.sms_accepted, 2);
  EXPECT_EQ(f.sms_delivered, 1);
  EXPECT_EQ(f.sms_failed, 1);
  EXPECT_EQ(f.sms_expired, 0);
  EXPECT_EQ(f.pending, 1);  // the fourth, still claimed
  EXPECT_EQ(f.opened, 2);
  EXPECT_EQ(f.answered, 2);

  auto stats = store_->GetQuestionStats({});
  ASSERT_EQ(stats.size(), 5u);
  EXPECT_EQ(stats[0].question, "q1");
  EXPECT_EQ(stats[0].respondents, 2);
  EXPECT_DOUBLE_EQ(stats[0].mean, 7.5);
  EXPECT_EQ(stats[0].top_box, 1);
  EXPECT_EQ(stats[1].respondents, 1);
  EXPECT_DOUBLE_EQ(stats[1].mean, 4.0);
  EXPECT_EQ(stats[1].top_box, 0);
  EXPECT_EQ(stats[2].respondents, 0);
  EXPECT_DOUBLE_EQ(stats[2].mean, 0.0);

  // Filters: a time window that holds nothing, another group.
  StatsFilter later;
  later.from = kT0 + 1h;
  EXPECT_EQ(store_->GetFunnel(later).surveys_created, 0);
  EXPECT_EQ(store_->GetQuestionStats(later)[0].respondents, 0);
  StatsFilter window;
  window.from = kT0;
  window.to = kT0 + 1s;
  EXPECT_EQ(store_->GetFunnel(window).surveys_created, 4);
  StatsFilter group;
  group.group = "force_response";
  EXPECT_EQ(store_->GetFunnel(group).surveys_created, 0);
  EXPECT_EQ(store_->GetFunnel(group).events_rejected, 0);
  group.group = "force_contact";
  EXPECT_EQ(store_->GetQuestionStats(group)[0].respondents, 2);
}

// --- The whole incident and the number decide, up to the moment of sending ---------------

TEST_F(StoreTest, ALaterEventOfTheIncidentCancelsTheQueuedTextAndSaysWhich) {
  Ingest({Item(MakeEvent("E1", "+447700900001"))});
  // The attending officer's departure, 30 s later, carries the flag the call did not.
  auto departed = MakeEvent("E2", "", kT0 + 30s, {"DOMESTIC"});
  departed.incident.id = "INC-E1";
  departed.type = EventType::kResourceDeparted;
  departed.call.reset();
  departed.resource = Resource{};
  departed.resource->officer_id = "PC4521";
  departed.caller.reset();
  auto results = Ingest({Item(departed)});
  EXPECT_EQ(results.at(0).outcome, IngestOutcome::kAccepted);
  EXPECT_EQ(Q("SELECT concat_ws('|', state, cancel_reason, cancelled_by) FROM outbox"),
            "cancelled|exclusion:domestic|E2");
  EXPECT_NE(Q("SELECT decision_trace::text FROM events WHERE event_id = 'E2'")
                .find("cancelled:survey_of:E1:exclusion:domestic"),
            std::string::npos)
      << "the later event's trace names the survey it cancelled";
  EXPECT_TRUE(store_->ClaimDue(kT0 + 2h, 10, "w1", 60s).empty());
  const Funnel f = store_->GetFunnel({});
  EXPECT_EQ(f.cancelled, 1);
  EXPECT_EQ(f.cancelled_by_reason,
            (std::map<std::string, std::int64_t>{{"exclusion:domestic", 1}}));
  EXPECT_EQ(f.pending, 0);
}

TEST_F(StoreTest, ALaterEventFromTheSameNumberCancelsTooAndAnEarlierOneExcludes) {
  Ingest({Item(MakeEvent("E1", "+447700900001"))});
  // Another incident, the same phone: it may be shared with the abuser.
  Ingest({Item(MakeEvent("E2", "07700 900001", kT0 + 1min, {"DOMESTIC"}))});
  EXPECT_EQ(Q("SELECT concat_ws('|', state, cancel_reason, cancelled_by) FROM outbox"),
            "cancelled|exclusion:domestic|E2");
  // And the other way round: a flagged event stored first rules out a later one of its incident.
  Ingest({Item(MakeEvent("E3", "+447700900003", kT0, {"DOMESTIC"}))});
  auto later = MakeEvent("E4", "+447700900004", kT0 + 1min);
  later.incident.id = "INC-E3";
  EXPECT_EQ(Ingest({Item(later)}).at(0).reason, "exclusion:domestic");
  EXPECT_EQ(Q("SELECT count(*) FROM surveys"), "1");
}

// Ingest's plans are generic, made once on the statistics of the moment and kept as the tables
// grow (UseGenericPlans). What deciding needs first must still be found by a few index descents
// whatever those statistics said: written as one EXISTS over all of a batch's numbers, and then
// as each number's max(contact_at), its plan walked the surveys' date index hoping to meet one of
// the numbers soon, which statistics of a few busy numbers promise and new numbers never keep
// (docs/benchmarks.md, "A number's surveys found by their index" and "A number's last survey
// found by its index"). Counted in pages read, not time: the same on any machine.
TEST_F(StoreTest, WhatDecidingNeedsFirstReadsAFewPagesWhateverTheStatisticsSaid) {
  // Statistics taken on 1,000 surveys of 20 busy numbers, then 10,000 surveys of new numbers
  // over seven weeks, unanalysed.
  Ingest({Item(MakeEvent("T1", "+447700900001"))});
  for (const char* table : {"events", "surveys"}) {
    Q(std::string("ALTER TABLE ") + table + " SET (autovacuum_enabled = false)");
  }
  CopyEvent("T1", "B", 1000, "md5((g % 20)::text)");
  Q("ANALYZE");
  CopyEvent("T1", "N", 10000, "md5('n' || g)");
  ASSERT_EQ(Q("SELECT count(*) FROM surveys"), "11001");

  // A push group of four new numbers, with an event and an incident never seen.
  const auto [pages, plan] =
      PagesRead(pg::IngestStatements(), "batch_known",
                "EXECUTE batch_known('{N1}', '{INC-N1}', '{aaaa1,aaaa2,aaaa3,aaaa4}')");
  EXPECT_LT(pages, 60) << "pages read, of surveys' "
                       << Q("SELECT pg_relation_size('surveys') / 8192") << ": " << plan;
}

// The rollups' triggers on a statement that changes tens of thousands of rows, on a connection
// whose triggers first ran for one row at a time, as a pooled connection's do (a delivery report,
// a reply): the release of an ops hold cancels every text waiting in one statement, and
// ExpireOverdue after an outage expires every text past its deadline. A trigger's statements
// are planned once per connection, for the first statement's rows; one that paired the rows
// before and after by a join kept a nested loop and compared every row with every other: 20,000
// texts took 48 s on this machine, 30,000 would take about two minutes. Time bounded at thirty
// seconds, a hundred times what the statements take (0.3 s): what fails is the growth with the
// square of the rows, never a slow machine. The rollups then agree with a rebuild.
TEST_F(StoreTest, RollupTriggersStayLinearInALargeStatementAfterSmallOnes) {
  constexpr int kCopies = 30000;
  // Nothing plans the triggers' statements again meanwhile: an ANALYZE of a table they read
  // would, as autovacuum's does now and then.
  for (const char* table : {"outbox", "responses", "surveys", "analytics_cell_queue",
                            "analytics_score_queue", "analytics_cancellations"}) {
    Q(std::string("ALTER TABLE ") + table + " SET (autovacuum_enabled = false)");
  }
  Ingest({Item(MakeEvent("L0", "+447700900001"))});
  CopyEvent("L0", "L", kCopies, "md5('l' || g)");
  Q("INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, updated_at) "
    "SELECT id, 'large-' || id, 'pending', send_at, created_at FROM surveys "
    "WHERE event_id LIKE 'L_%' AND event_id <> 'L0'");
  Q("INSERT INTO responses (survey_id, q1, q2, q3, q4, q5, comment, language, submitted_at) "
    "SELECT id, 7, 8, 9, 10, 6, 'kept a while', 'en', contact_at + interval '1 hour' FROM surveys "
    "WHERE event_id LIKE 'L_%'");
  Q("SELECT analytics_fold(5000, 1000)");
  ASSERT_EQ(Q("SELECT count(*) FROM outbox WHERE client_ref LIKE 'large-%'"),
            std::to_string(kCopies));

  pqxx::connection connection(db_->url());
  pqxx::nontransaction txn(connection);
  txn.exec("SET statement_timeout = '30s'");
  const std::string one_text = "SELECT min(id) FROM outbox WHERE client_ref LIKE 'large-%'";
  const std::string one_answer = "SELECT min(survey_id) FROM responses";
  for (int i = 0; i < 7; ++i) {
    txn.exec("UPDATE outbox SET updated_at = updated_at WHERE id = (" + one_text + ")");
    txn.exec("UPDATE responses SET q1 = q1 WHERE survey_id = (" + one_answer + ")");
  }
  txn.exec("UPDATE outbox SET state = 'cancelled', cancel_reason = 'one' WHERE id = (" + one_text +
           ")");
  const auto cancelled = [&](const std::string& reason) {
    Q("SELECT analytics_fold(5000, 1000)");
    return Q("SELECT COALESCE(sum(messages), 0) FROM analytics_cancellations WHERE reason = '" +
             reason + "'");
  };
  EXPECT_NO_THROW(
      txn.exec("UPDATE outbox SET state = 'cancelled', cancel_reason = 'all', "
               "updated_at = updated_at + interval '1 minute' "
               "WHERE client_ref LIKE 'large-%' AND state = 'pending'"));
  EXPECT_EQ(cancelled("one"), "1");
  EXPECT_EQ(cancelled("all"), std::to_string(kCopies - 1));
  // Not a move the service makes (a cancelled text stays so), but the count follows the rows.
  EXPECT_NO_THROW(
      txn.exec("UPDATE outbox SET state = 'expired' "
               "WHERE client_ref LIKE 'large-%' AND cancel_reason = 'all'"));
  EXPECT_EQ(cancelled("all"), "0");
  // Retention blanks the comments: every answer in one statement, no score changed.
  EXPECT_NO_THROW(txn.exec("UPDATE responses SET comment = ''"));
  EXPECT_NO_THROW(txn.exec("UPDATE responses SET q2 = 3 WHERE survey_id % 100 = 0"));

  Q("SELECT analytics_fold(5000, 1000)");
  const std::string maintained = db_->RollupRows();
  Q("SET jit = off; SELECT analytics_rebuild('2000-01-01T00:00:00Z')");
  EXPECT_EQ(db_->RollupRows(), maintained);
}

EventScreen ScreenOf(const std::string& version);

// The same for what a decision reads back: the related events of ingest's batch, under the
// rules' screen, and of the dispatcher's claim. A number's events are found by its own index
// and its kept findings (number_findings), an incident's by its index, never by walking the
// events by date or screen (docs/architecture.md, "Plans that read by key whatever the
// statistics").
TEST_F(StoreTest, WhatADecisionReadsBackReadsAFewPagesWhateverTheStatisticsSaid) {
  // Events screened under v1, each with a finding (so each number keeps one): statistics taken
  // on 1,000 events of 20 busy numbers, then 10,000 events of new numbers over seven weeks.
  const auto screened = DecideFn(Decide, ScreenOf("v1"));
  auto flagged = MakeEvent("T1", "+447700900001", kT0, {"DOMESTIC"});
  ASSERT_EQ(store_->IngestBatch({Item(flagged)}, screened).at(0).reason, "exclusion:domestic");
  for (const char* table : {"events", "surveys", "number_findings", "rejected_events"}) {
    Q(std::string("ALTER TABLE ") + table + " SET (autovacuum_enabled = false)");
  }
  // And rejected lines naming numbers, as skewed.
  auto rejected = [&](const std::string& prefix, int count, const std::string& hash) {
    Q("INSERT INTO rejected_events (event_id, source, reject_reason, raw, incident_id, "
      "phone_hash, received_at) SELECT '" +
      prefix + "' || g, 'tcp', 'invalid', '{}', 'INC-" + prefix + "' || g, " + hash + ", '" +
      FormatRfc3339(kT0) +
      "'::timestamptz - make_interval(mins => g * 7) FROM generate_series(1, " +
      std::to_string(count) + ") AS g");
  };
  CopyEvent("T1", "B", 1000, "md5((g % 20)::text)");
  rejected("RB", 1000, "md5((g % 20)::text)");
  Q("ANALYZE");
  CopyEvent("T1", "N", 10000, "md5('n' || g)");
  rejected("RN", 10000, "md5('rn' || g)");
  ASSERT_EQ(Q("SELECT count(*) FROM number_findings WHERE screened_with = 'v1'"), "10021");

  // A batch of four events: two of numbers with an event each, two of numbers never seen, with
  // incidents never seen; the look-back two weeks.
  const std::string numbers = "ARRAY[md5('n1'), md5('n2'), 'aaaa3', 'aaaa4']";
  const std::string since = "'" + FormatRfc3339(kT0 - std::chrono::hours(24 * 14)) + "'";
  {
    const auto [pages, plan] =
        PagesRead(pg::IngestStatements(), "related_events_screened",
                  "EXECUTE related_events_screened('{INC-X1,INC-X2,INC-X3,INC-X4}', " + numbers +
                      ", " + since + ", 'v1')");
    EXPECT_LT(pages, 120) << "pages read, of events' "
                          << Q("SELECT pg_relation_size('events') / 8192")
                          << " and rejected lines' "
                          << Q("SELECT pg_relation_size('rejected_events') / 8192") << ": " << plan;
  }
  // The claim of the texts of four events of new numbers (their own events, incidents, numbers).
  {
    const auto [pages, plan] = PagesRead(
        pg::OutboxStatements(), "claim_context_screened",
        "EXECUTE claim_context_screened('{1,2,3,4}', '{N1,N2,N3,N4}', '{INC-N1,INC-N2,INC-N3,"
        "INC-N4}', " +
            numbers + ", ARRAY[" + since + "," + since + "," + since + "," + since +
            "]::timestamptz[], 'v1')");
    EXPECT_LT(pages, 120) << "pages read, of events' "
                          << Q("SELECT pg_relation_size('events') / 8192") << ": " << plan;
  }
}

TEST_F(StoreTest, WithinOneBatchTheLaterEventCancelsTheEarlierSurvey) {
  auto flagged = MakeEvent("E2", "", kT0 + 30s, {"DOMESTIC"});
  flagged.incident.id = "INC-E1";
  flagged.caller.reset();
  Ingest({Item(MakeEvent("E1", "+447700900001")), Item(flagged)});
  EXPECT_EQ(Q("SELECT concat_ws('|', state, cancel_reason, cancelled_by) FROM outbox"),
            "cancelled|exclusion:domestic|E2");
}

TEST_F(StoreTest, ATextAlreadyBegunIsNotCancelledAndUnrelatedOnesStay) {
  auto begun = ClaimOne("E1", "+447700900001");
  ASSERT_TRUE(store_->BeginSend(begun, "h1", kT0 + 2h, 60s));
  Ingest({Item(MakeEvent("E2", "+447700900002"))});
  auto flagged = MakeEvent("E3", "+447700900003", kT0 + 1min, {"DOMESTIC"});
  flagged.incident.id = "INC-E1";
  Ingest({Item(flagged)});
  EXPECT_EQ(Q("SELECT string_agg(state, ',' ORDER BY id) FROM outbox"), "sending,pending");
}

TEST_F(StoreTest, AClaimedTextIsCancelledAndItsWorkerCannotBeginIt) {
  auto claimed = ClaimOne("E1", "+447700900001");
  auto flagged = MakeEvent("E2", "", kT0 + 1min, {"DOMESTIC"});
  flagged.incident.id = "INC-E1";
  flagged.caller.reset();
  Ingest({Item(flagged)});
  EXPECT_EQ(State(claimed.id), "cancelled");
  EXPECT_FALSE(store_->BeginSend(claimed, "h1", kT0 + 2h, 60s));
  EXPECT_EQ(State(claimed.id), "cancelled");
}

TEST_F(StoreTest, AClaimCarriesTheIncidentAndNumberEventsForTheLastDecision) {
  Ingest({Item(MakeEvent("E1", "+447700900001"))});
  auto departed = MakeEvent("E2", "", kT0 + 30s);
  departed.incident.id = "INC-E1";
  departed.type = EventType::kResourceDeparted;
  departed.call.reset();
  departed.resource = Resource{};
  departed.resource->officer_id = "PC4521";
  departed.caller.reset();
  auto other = MakeEvent("E3", "+447700900001", kT0 + 40s);
  other.call->channel = "999";  // ignored by the test rules: no survey, no frequency cap
  Ingest({Item(departed), Item(other)});
  auto claimed = store_->ClaimDue(kT0 + 2h, 10, "w1", 60s);
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_EQ(claimed[0].related.same_incident.size(), 1u);
  EXPECT_EQ(claimed[0].related.same_incident[0].event_id, "E2");
  ASSERT_EQ(claimed[0].related.same_number.size(), 1u);
  EXPECT_EQ(claimed[0].related.same_number[0].event_id, "E3");
  EXPECT_FALSE(claimed[0].related.same_number[0].caller->phone.has_value())
      << "stored events keep no number";
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE facts::text LIKE '%900001%' "
              "OR facts::text LIKE '%7700900%'"),
            "0");
}

// The test rules' screen: a domestic event could rule a contact of its number out, and so could
// (for the screen, not the test rules) a vulnerable caller.
EventScreen ScreenOf(const std::string& version) {
  return {version, [](const Event& event) {
            std::vector<std::string> findings;
            if (Domestic(event)) findings.emplace_back("exclusion:domestic");
            if (event.caller && event.caller->vulnerable.value_or(false)) {
              findings.emplace_back("vulnerable");
            }
            return findings;
          }};
}

// What a number's read-back gives of another number's event in an incident it shares: the
// incident's flags, never that caller's own findings (age, consent, vulnerable), which must not
// stop a stranger's texts elsewhere for the look-back; the number's own such events still come.
TEST_F(StoreTest, AnotherNumbersEventComesWithoutItsCallersOwnFindings) {
  const auto screened = DecideFn(Decide, ScreenOf("v1"));
  std::vector<std::string> seen;  // the findings given with the last decision of "LATER"
  const auto watching = DecideFn(
      [&](const Event& event, const ContactHistory& history, const RelatedEvents& related) {
        if (event.event_id.rfind("LATER", 0) == 0) {
          seen.clear();
          for (const ScreenedEvent& e : related.same_number_screened) {
            for (const std::string& f : e.findings) seen.push_back(e.event_id + ":" + f);
          }
          for (const Event& e : related.number_incidents_others) {
            if (e.caller && e.caller->vulnerable.value_or(false)) {
              seen.push_back(e.event_id + ":vulnerable (another caller's)");
            }
          }
          for (const Event& e : related.same_number) {
            if (e.caller && e.caller->vulnerable.value_or(false)) {
              seen.push_back(e.event_id + ":vulnerable");
            }
          }
        }
        return Decide(event, history, related);
      },
      ScreenOf("v1"));
  auto in_incident = [](const std::string& id, const std::string& phone) {
    Event e = MakeEvent(id, phone, kT0);
    e.incident.id = "INC-STREET";
    return e;
  };
  Event vulnerable = in_incident("ST-A", "+447700900301");
  vulnerable.caller->vulnerable = true;
  ASSERT_EQ(store_->IngestBatch({Item(vulnerable)}, screened).at(0).reason, "survey");
  ASSERT_EQ(
      store_->IngestBatch({Item(in_incident("ST-B", "+447700900302"))}, screened).at(0).reason,
      "survey");
  // The other caller, weeks later, elsewhere: nothing of the vulnerable caller's comes.
  store_->IngestBatch({Item(MakeEvent("LATER-B", "+447700900302", kT0 + 24h * 40))}, watching);
  EXPECT_TRUE(seen.empty()) << ::testing::PrintToString(seen);
  // The vulnerable caller's own later contact still reads it.
  store_->IngestBatch({Item(MakeEvent("LATER-A", "+447700900301", kT0 + 24h * 40))}, watching);
  EXPECT_EQ(seen, std::vector<std::string>{"ST-A:vulnerable"});
  // A flag on the incident still reaches the other caller.
  Event flag = in_incident("ST-C", "");
  flag.caller->phone.reset();
  flag.incident.qualifiers = {"DOMESTIC"};
  flag.occurred_at = kT0 + 1h;
  store_->IngestBatch({Item(flag)}, screened);
  store_->IngestBatch({Item(MakeEvent("LATER-B2", "+447700900302", kT0 + 24h * 41))}, watching);
  EXPECT_EQ(seen, std::vector<std::string>{"ST-C:exclusion:domestic"});
}

// The rules and the store name a caller's own findings alike: rules::IsCallersOwn in C++,
// surveyd_incident_findings in the schema.
TEST_F(StoreTest, TheCallersOwnFindingsAreTheSameInTheRulesAndTheSchema) {
  for (const char* finding : {"exclusion:domestic_abuse", "under_minimum_age", "consent_declined",
                              "vulnerable", "unknown_qualifier", "unreadable_type_code"}) {
    const std::string kept =
        Q(std::string("SELECT cardinality(surveyd_incident_findings(ARRAY['") + finding + "']))");
    EXPECT_EQ(kept == "0", rules::IsCallersOwn(finding)) << finding;
  }
}

// A second delivery of an event is no new delivery; but one that could rule contacts out where
// the first could not (the log re-sent with a DOMESTIC flag added) holds its incident's and
// number's texts from then on, as a line that cannot be decided against.
TEST_F(StoreTest, ASecondDeliveryThatAddsAFlagHoldsTheTexts) {
  const auto screened = DecideFn(Decide, ScreenOf("v1"));
  ASSERT_EQ(store_->IngestBatch({Item(MakeEvent("R1", "+447700900001"))}, screened)[0].reason,
            "survey");
  // The same delivered again, unchanged, then with the flag.
  auto same = store_->IngestBatch({Item(MakeEvent("R1", "+447700900001"))}, screened);
  EXPECT_EQ(same[0].reason, "duplicate");
  const auto flagged =
      store_->IngestBatch({Item(MakeEvent("R1", "+447700900001", kT0, {"DOMESTIC"}))}, screened);
  EXPECT_EQ(flagged[0].outcome, IngestOutcome::kDuplicate);
  EXPECT_NE(flagged[0].reason.find("exclusion:domestic"), std::string::npos) << flagged[0].reason;
  EXPECT_EQ(Q("SELECT state FROM outbox WHERE survey_id = (SELECT id FROM surveys "
              "WHERE event_id = 'R1')"),
            "cancelled");
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events WHERE event_id IS NULL "
              "AND incident_id = 'INC-R1'"),
            "1");
  // A later event of the number: not texted.
  auto later = MakeEvent("R2", "+447700900001", kT0 + 24h * 100);
  EXPECT_EQ(store_->IngestBatch({Item(later)}, screened)[0].reason,
            "insufficient_data:rejected_event");
  // And within one batch: the first delivery clean, the second flagged.
  const auto batch =
      store_->IngestBatch({Item(MakeEvent("R3", "+447700900003")),
                           Item(MakeEvent("R3", "+447700900003", kT0, {"DOMESTIC"}))},
                          screened);
  EXPECT_EQ(batch[0].reason, "survey");
  EXPECT_NE(batch[1].reason.find("exclusion:domestic"), std::string::npos) << batch[1].reason;
  EXPECT_EQ(Q("SELECT state FROM outbox WHERE survey_id = (SELECT id FROM surveys "
              "WHERE event_id = 'R3')"),
            "cancelled");
}

// A DOMESTIC flag on a closure that names no caller reaches the caller's other contacts: the
// event is filed under its incident's number, so the number's look-back finds it.
TEST_F(StoreTest, AnEventWithoutANumberIsFiledUnderItsIncidentsNumber) {
  const auto screened = DecideFn(Decide, ScreenOf("v1"));
  auto call = MakeEvent("NA-1", "+447700900951", kT0);
  call.incident.id = "I-NA";
  ASSERT_EQ(store_->IngestBatch({Item(call)}, screened)[0].reason, "survey");
  auto closed = MakeEvent("NA-2", "", kT0 + 1h, {"DOMESTIC"});
  closed.incident.id = "I-NA";
  closed.caller->phone.reset();
  ASSERT_EQ(store_->IngestBatch({Item(closed)}, screened)[0].reason, "exclusion:domestic");
  EXPECT_EQ(Q("SELECT phone_hash = (SELECT phone_hash FROM events WHERE event_id = 'NA-1') "
              "FROM events WHERE event_id = 'NA-2'"),
            "t");
  // Weeks later, another incident, the same number: not texted.
  const auto burglary = MakeEvent("NA-3", "+447700900951", kT0 + 24h * 10);
  const auto decided = store_->IngestBatch({Item(burglary)}, screened)[0];
  EXPECT_EQ(decided.reason, "exclusion:domestic");
  // The same in one batch: the call, then the closure, then another contact of the number.
  auto call2 = MakeEvent("NB-1", "+447700900952", kT0);
  call2.incident.id = "I-NB";
  auto closed2 = MakeEvent("NB-2", "", kT0 + 1h, {"DOMESTIC"});
  closed2.incident.id = "I-NB";
  closed2.caller->phone.reset();
  const auto batch = store_->IngestBatch(
      {Item(call2), Item(closed2), Item(MakeEvent("NB-3", "+447700900952", kT0 + 24h * 10))},
      screened);
  EXPECT_EQ(batch[2].reason, "exclusion:domestic");
}

// A DOMESTIC flag on an event without a number, before its incident has one, is filed under the
// number that comes later: stored, or in the same batch, with or without a screen. The number's
// text queued before is cancelled, its later contacts are not texted, and one batch decides as
// many would (a contact of the number before the number came is texted, as it would be alone).
TEST_F(StoreTest, ANumberThatComesAfterAFlagFilesTheFlagUnderIt) {
  struct Case {
    std::string name;
    DecideFn decide;
  };
  const std::vector<Case> cases = {{"U", Decide}, {"S", DecideFn(Decide, ScreenOf("v1"))}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string number = c.name == "U" ? "+447700900961" : "+447700900962";
    const auto id = [&c](const std::string& suffix) { return "FB" + c.name + "-" + suffix; };
    const auto of_incident = [](Event event, const std::string& incident) {
      event.incident.id = incident;
      return event;
    };
    const auto numberless = [&](const std::string& event_id, const std::string& incident,
                                TimePoint at, std::vector<std::string> flags) {
      auto event = of_incident(MakeEvent(event_id, "", at, std::move(flags)), incident);
      event.caller->phone.reset();
      return event;
    };
    // Across batches: the number's burglary queued, the flag without a number, then the number.
    const auto burglary = of_incident(MakeEvent(id("1"), number, kT0), id("I1"));
    ASSERT_EQ(store_->IngestBatch({Item(burglary)}, c.decide)[0].reason, "survey");
    ASSERT_EQ(store_
                  ->IngestBatch({Item(numberless(id("2"), id("I2"), kT0 + 1h, {"DOMESTIC"}))},
                                c.decide)[0]
                  .reason,
              "exclusion:domestic");
    EXPECT_EQ(Q("SELECT phone_hash IS NULL FROM events WHERE event_id = '" + id("2") + "'"), "t");
    const auto call = of_incident(MakeEvent(id("3"), number, kT0 + 2h), id("I2"));
    EXPECT_EQ(store_->IngestBatch({Item(call)}, c.decide)[0].reason, "exclusion:domestic");
    EXPECT_EQ(Q("SELECT phone_hash = (SELECT phone_hash FROM events WHERE event_id = '" + id("3") +
                "') FROM events WHERE event_id = '" + id("2") + "'"),
              "t");
    const std::string queued =
        Q("SELECT o.state || ':' || COALESCE(o.cancel_reason, '') FROM outbox o JOIN surveys s ON "
          "s.id = o.survey_id WHERE s.event_id = '" +
          id("1") + "'");
    EXPECT_EQ(queued.substr(0, queued.find(':')), "cancelled") << queued;
    EXPECT_NE(queued.find("exclusion:domestic"), std::string::npos) << queued;
    // Weeks later, another contact of the number: not texted, for the flag of the first.
    const auto later = of_incident(MakeEvent(id("4"), number, kT0 + 24h * 10), id("I4"));
    const auto decided = store_->IngestBatch({Item(later)}, c.decide)[0];
    EXPECT_EQ(decided.reason, "exclusion:domestic");

    // In one batch: the flag without a number, a contact of a second number, the second number
    // on the flagged incident, then another contact of the second number.
    const std::string second = c.name == "U" ? "+447700900963" : "+447700900964";
    const auto batch = store_->IngestBatch(
        {Item(numberless(id("5"), id("I5"), kT0, {"DOMESTIC"})),
         Item(of_incident(MakeEvent(id("6"), second, kT0 + 1h), id("I6"))),
         Item(of_incident(MakeEvent(id("7"), second, kT0 + 2h), id("I5"))),
         Item(of_incident(MakeEvent(id("8"), second, kT0 + 24h * 10), id("I8")))},
        c.decide);
    EXPECT_EQ(batch[0].reason, "exclusion:domestic");
    EXPECT_EQ(batch[1].reason, "survey");  // before the number came, as in a batch of its own
    EXPECT_EQ(batch[2].reason, "exclusion:domestic");
    EXPECT_EQ(batch[3].reason, "exclusion:domestic");
    EXPECT_EQ(Q("SELECT phone_hash = (SELECT phone_hash FROM events WHERE event_id = '" + id("7") +
                "') FROM events WHERE event_id = '" + id("5") + "'"),
              "t");
    // The text of the second number's first contact is cancelled by the number's arrival.
    EXPECT_EQ(Q("SELECT o.state FROM outbox o JOIN surveys s ON s.id = o.survey_id "
                "WHERE s.event_id = '" +
                id("6") + "'"),
              "cancelled");
  }
  // Under the screen, the number's findings hold the flag filed back.
  EXPECT_EQ(Q("SELECT count(*) FROM number_findings WHERE event_id IN ('FBS-2', 'FBS-5')"), "2");
}

// A flag on an incident concerns every number the incident names, whichever event carried it (a
// closure naming no caller, an officer's departure naming a neighbour): the victim's text queued
// in another incident is cancelled, and the victim's later contacts are not texted. In both
// orders (the flag after the number, the number after the flag), across batches and in one.
TEST_F(StoreTest, AFlagOnAnIncidentReachesEveryNumberTheIncidentNames) {
  const auto screened = DecideFn(Decide, ScreenOf("v1"));
  const auto event = [](const std::string& id, const std::string& incident,
                        const std::string& phone, TimePoint at, bool attended = false,
                        std::vector<std::string> flags = {}) {
    auto e = MakeEvent(id, phone, at, std::move(flags));
    e.incident.id = incident;
    if (attended) e.call->channel = "999";  // no survey of its own (the test rules ignore it)
    if (phone.empty()) e.caller->phone.reset();
    return e;
  };
  const auto text_of = [this](const std::string& id) {
    return Q(
        "SELECT o.state || ':' || COALESCE(o.cancel_reason, '') FROM outbox o "
        "JOIN surveys s ON s.id = o.survey_id WHERE s.event_id = '" +
        id + "'");
  };
  for (const bool one_batch : {false, true}) {
    SCOPED_TRACE(one_batch ? "one batch" : "a batch each");
    const std::string p = one_batch ? "B" : "S";  // ids and numbers apart
    const auto number = [&](int n) {
      return "+447700900" + std::to_string(200 + n + (one_batch ? 50 : 0));
    };
    const std::vector<Event> events = {
        // QX: the informant rang first, the victim attended, the victim rang about something
        // else (queued), then the closure, naming no caller, flags DOMESTIC.
        event(p + "QX-CE", p + "INC-QX", number(1), kT0 - 5h),
        event(p + "QX-RD", p + "INC-QX", number(2), kT0 - 4h, true),
        event(p + "QY-CE", p + "INC-QY", number(2), kT0),
        event(p + "QX-IC", p + "INC-QX", "", kT0 + 1h, true, {"DOMESTIC"}),
        // TX: the victim rang; the officer's departure names the neighbour, with DOMESTIC.
        event(p + "TX-CE", p + "INC-TX", number(3), kT0),
        event(p + "TX-RD", p + "INC-TX", number(4), kT0 + 1h, true, {"DOMESTIC"}),
        // TZ: the informant rang, the victim attended, the closure without a caller flags it.
        event(p + "TZ-CE", p + "INC-TZ", number(5), kT0),
        event(p + "TZ-RD", p + "INC-TZ", number(6), kT0 + 1h, true),
        event(p + "TZ-IC", p + "INC-TZ", "", kT0 + 2h, true, {"DOMESTIC"}),
        // The other order: the victim's burglary is queued, the neighbour's event flags the
        // incident, and only then does the victim appear in it.
        event(p + "NB-CE", p + "INC-NB", number(7), kT0),
        event(p + "NF-RD", p + "INC-NF", number(8), kT0 + 1h, true, {"DOMESTIC"}),
        event(p + "NF-CE", p + "INC-NF", number(7), kT0 + 2h, true),
        // Weeks later (past the test rules' 30 days between surveys), each victim rings about
        // something else.
        event(p + "QZ-CE", p + "INC-QZ", number(2), kT0 + 24h * 40),
        event(p + "TX-Y", p + "INC-TXY", number(3), kT0 + 24h * 40),
        event(p + "TZ-Y", p + "INC-TZY", number(6), kT0 + 24h * 40),
        event(p + "NF-Y", p + "INC-NFY", number(7), kT0 + 24h * 40),
    };
    std::map<std::string, std::string> reasons;
    if (one_batch) {
      std::vector<IngestItem> items;
      for (const Event& e : events) items.push_back(Item(e));
      const auto results = store_->IngestBatch(items, screened);
      for (const auto& result : results) reasons[result.event_id] = result.reason;
    } else {
      for (const Event& e : events) {
        reasons[e.event_id] = store_->IngestBatch({Item(e)}, screened).at(0).reason;
      }
    }
    // The victims' contacts before the flag, in other incidents, were texted, and their texts
    // are cancelled by it.
    EXPECT_EQ(reasons[p + "QY-CE"], "survey");
    EXPECT_EQ(reasons[p + "NB-CE"], "survey");
    EXPECT_EQ(text_of(p + "QY-CE"), "cancelled:exclusion:domestic");
    EXPECT_EQ(text_of(p + "NB-CE"), "cancelled:exclusion:domestic");
    // Their contacts after it are not texted.
    for (const std::string id : {"QZ-CE", "TX-Y", "TZ-Y", "NF-Y"}) {
      EXPECT_EQ(reasons[p + id], "exclusion:domestic") << id;
    }
    // A text queued for the victim that ingest did not cancel (put back here) is ruled out
    // when it is claimed: the claim reads the flag back under the victim's number.
    Q("UPDATE outbox o SET state = 'pending', cancel_reason = NULL FROM surveys s "
      "WHERE s.id = o.survey_id AND s.event_id = '" +
      p + "QY-CE'");
    auto claimed = store_->ClaimDue(kT0 + 2h, 10, "w-" + p, 60s, ScreenOf("v1"));
    ASSERT_EQ(claimed.size(), 1u);
    std::vector<std::string> related;
    for (const Event& e : claimed[0].related.same_number) related.push_back(e.event_id);
    for (const Event& e : claimed[0].related.number_incidents_others) {
      related.push_back(e.event_id);
    }
    EXPECT_NE(std::find(related.begin(), related.end(), p + "QX-IC"), related.end());
    Q("UPDATE outbox SET state = 'cancelled', claim_token = NULL, claimed_by = NULL, "
      "lease_until = NULL WHERE state = 'claimed'");
  }
}

// After new rules, a flag on another number's event of an incident the number is in still rules
// the number out, before the sweep screens that event again: the flag was filed under the number
// (migration 0046) only under the rules it was screened by. A review found the victim texted.
TEST_F(StoreTest, AFlagOnAnotherNumbersEventRulesTheNumberOutUnderNewRulesBeforeTheSweep) {
  const auto event = [](const std::string& id, const std::string& incident,
                        const std::string& phone, TimePoint at, std::vector<std::string> flags = {},
                        bool attended = true) {
    auto e = MakeEvent(id, phone, at, std::move(flags));
    e.incident.id = incident;
    if (attended) e.call->channel = "999";  // no survey of its own (the test rules ignore it)
    return e;
  };
  const std::string victim = "+447700900301", neighbour = "+447700900302";
  const auto v1 = DecideFn(Decide, ScreenOf("v1"));
  const auto v2 = DecideFn(Decide, ScreenOf("v2"));
  const auto reason = [this](const Event& e, const DecideFn& decide) {
    return store_->IngestBatch({Item(e)}, decide).at(0).reason;
  };
  // The victim attended; the officer's departure names the neighbour, with DOMESTIC. Weeks
  // later, under new rules (any change makes a new screen), the victim rings about something
  // else.
  reason(event("A1", "INC-A", victim, kT0), v1);
  reason(event("A2", "INC-A", neighbour, kT0 + 1h, {"DOMESTIC"}), v1);
  EXPECT_EQ(reason(event("A3", "INC-A3", victim, kT0 + 24h * 40, {}, false), v2),
            "exclusion:domestic");

  // The same where the victim first appears in the incident after the new rules: its event is
  // screened under them, and the batch screens the incident's others again with it (else the
  // flag stays filed under the victim under the old rules alone, and nothing of the victim's is
  // read back whole).
  reason(event("B2", "INC-B", "+447700900312", kT0, {"DOMESTIC"}), v1);
  reason(event("B1", "INC-B", "+447700900311", kT0 + 1h), v2);
  EXPECT_EQ(Q("SELECT string_agg(event_id || ':' || screened_with, ',' ORDER BY event_id) "
              "FROM events WHERE incident_id = 'INC-B'"),
            "B1:v2,B2:v2");
  EXPECT_EQ(reason(event("B3", "INC-B3", "+447700900311", kT0 + 24h * 40, {}, false), v2),
            "exclusion:domestic");

  // And a claim under the new rules reads the flag back for a text queued under the old ones.
  const std::string other = "+447700900321";
  EXPECT_EQ(reason(event("C3", "INC-C3", other, kT0, {}, false), v1), "survey");
  reason(event("C1", "INC-C", other, kT0 + 1h), v1);
  reason(event("C2", "INC-C", "+447700900322", kT0 + 2h, {"DOMESTIC"}), v1);
  // Ingest cancelled the text (the flag came under the same rules); put back, the claim must.
  Q("UPDATE outbox o SET state = 'pending', cancel_reason = NULL, cancelled_by = NULL "
    "FROM surveys s WHERE s.id = o.survey_id AND s.event_id = 'C3'");
  auto claimed = store_->ClaimDue(kT0 + 3h, 10, "w1", 60s, ScreenOf("v2"));
  ASSERT_EQ(claimed.size(), 1u);
  std::vector<std::string> related;
  for (const Event& e : claimed[0].related.number_incidents_others) related.push_back(e.event_id);
  EXPECT_NE(std::find(related.begin(), related.end(), "C2"), related.end());
  EXPECT_EQ(Decide(*claimed[0].event, claimed[0].history, claimed[0].related).reason,
            "exclusion:domestic");
  Q("UPDATE outbox SET state = 'cancelled', claim_token = NULL, claimed_by = NULL, "
    "lease_until = NULL WHERE state = 'claimed'");

  // Another caller of such an incident is fifteen: that is theirs, and rules nobody else out
  // (the claim read them as the number's, and cancelled the text: a review).
  const std::string caller = "+447700900331";
  EXPECT_EQ(reason(event("D3", "INC-D3", caller, kT0, {}, false), v1), "survey");
  reason(event("D1", "INC-D", caller, kT0 + 1h), v1);
  auto young = event("D2", "INC-D", "+447700900332", kT0 + 2h);
  young.caller->age = 15;
  reason(young, v1);
  claimed = store_->ClaimDue(kT0 + 3h, 10, "w1", 60s, ScreenOf("v2"));
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_EQ(claimed[0].related.number_incidents_others.size(), 1u);
  EXPECT_EQ(claimed[0].related.number_incidents_others[0].event_id, "D2");
  EXPECT_EQ(Decide(*claimed[0].event, claimed[0].history, claimed[0].related).reason, "survey");

  // The number's own event in the incident is older than the look-back: it puts the number in
  // the incident all the same (the flag is filed so), under new rules too (a review, with hashes
  // kept a year: texted after a reload).
  const std::string long_ago = "+447700900341";
  reason(event("E1", "INC-E", long_ago, kT0 - 24h * 100), v1);
  reason(event("E2", "INC-E", "+447700900342", kT0 - 24h * 10, {"DOMESTIC"}), v1);
  EXPECT_EQ(reason(event("E3", "INC-E3", long_ago, kT0, {}, false), v1), "exclusion:domestic");
  EXPECT_EQ(reason(event("E4", "INC-E4", long_ago, kT0 + 1h, {}, false), v2), "exclusion:domestic");
}

// The sweep screens an incident's events together, or leaves them all to a later sweep: a
// number's event screened under the rules deciding is trusted to be in an incident whose flags
// are filed under the number under those rules too.
TEST_F(StoreTest, AnIncidentsEventsAreScreenedTogetherOrNotAtAll) {
  const auto v1 = DecideFn(Decide, ScreenOf("v1"));
  auto flagged = MakeEvent("D1", "+447700900402", kT0, {"DOMESTIC"});
  flagged.incident.id = "INC-D";
  auto victim = MakeEvent("D2", "+447700900401", kT0 + 1h);
  victim.incident.id = "INC-D";
  victim.call->channel = "999";
  store_->IngestBatch({Item(flagged)}, v1);
  store_->IngestBatch({Item(victim)}, v1);
  store_->IngestBatch({Item(MakeEvent("N1", "+447700900403", kT0 - 1h))}, v1);
  const auto screened_with = [this] {
    return Q(
        "SELECT string_agg(event_id || ':' || screened_with, ',' ORDER BY event_id) "
        "FROM events");
  };
  // Something holds the older event of the incident (a batch appending to its trace): the
  // sweep, picking the newest, leaves the incident whole, and goes on.
  {
    pqxx::connection other(db_->url());
    pqxx::work holding(other);
    holding.exec("SELECT 1 FROM events WHERE event_id = 'D1' FOR UPDATE");
    const auto pass =
        store_->ScreenEvents(ScreenOf("v2"), kT0 + 2h - kMaxNumberLookback, kT0 + 24h, 1);
    EXPECT_EQ(pass.screened, 0);
    EXPECT_EQ(pass.skipped, 1) << "so that the sweeper goes again";
    ASSERT_TRUE(pass.next_from.has_value());
    EXPECT_EQ(*pass.next_from, kT0 + 1h);
    EXPECT_EQ(screened_with(), "D1:v1,D2:v1,N1:v1");
  }
  // Free, the newest takes the rest of its incident with it.
  const auto pass =
      store_->ScreenEvents(ScreenOf("v2"), kT0 + 2h - kMaxNumberLookback, kT0 + 24h, 1);
  EXPECT_EQ(pass.screened, 2);
  EXPECT_EQ(screened_with(), "D1:v2,D2:v2,N1:v1");
  EXPECT_EQ(Q("SELECT count(*) FROM number_findings WHERE screened_with = 'v2' "
              "AND finding = 'exclusion:domestic' AND event_id = 'D1'"),
            "2")
      << "filed under both numbers under v2";
  auto later = MakeEvent("D3", "+447700900401", kT0 + 24h * 40);
  EXPECT_EQ(store_->IngestBatch({Item(later)}, DecideFn(Decide, ScreenOf("v2"))).at(0).reason,
            "exclusion:domestic");
  // Held by a batch (the advisory lock ingest takes for the incident), the incident is left
  // whole too.
  auto e1 = MakeEvent("E1", "+447700900405", kT0 + 3h, {"DOMESTIC"});
  auto e2 = MakeEvent("E2", "+447700900406", kT0 + 4h);
  e1.incident.id = e2.incident.id = "INC-E";
  store_->IngestBatch({Item(e1), Item(e2)}, v1);
  pqxx::connection other(db_->url());
  pqxx::work holding(other);
  holding.exec(
      "SELECT pg_advisory_xact_lock(('x' || substr(encode(sha256(convert_to('incident:INC-E', "
      "'UTF8')), 'hex'), 1, 16))::bit(64)::bigint)");
  const auto busy =
      store_->ScreenEvents(ScreenOf("v2"), kT0 + 5h - kMaxNumberLookback, kT0 + 24h, 10);
  EXPECT_EQ(busy.screened, 1);
  EXPECT_EQ(busy.skipped, 2);
  EXPECT_EQ(screened_with(), "D1:v2,D2:v2,D3:v2,E1:v1,E2:v1,N1:v2");
}

// A screen under which every event could rule a contact out, each by a rule of its own: every
// event read back reaches the decision (the store gives a number's newest per rule).
EventScreen EveryEventCounts(const std::string& version) {
  return {version,
          [](const Event& event) { return std::vector<std::string>{"own:" + event.event_id}; }};
}

// The test rules under a screen, noting the ids of the related events of one kind (same_number or
// same_incident) that the last decision was given, by time (then id): a number's, whole or
// screened (same_number_screened) alike.
DecideFn Recording(std::vector<std::string>& seen, std::vector<Event> RelatedEvents::*kind,
                   EventScreen screen) {
  return DecideFn(
      [&seen, kind](const Event& event, const ContactHistory& history,
                    const RelatedEvents& related) {
        std::vector<std::pair<TimePoint, std::string>> given;
        for (const Event& other : related.*kind)
          given.emplace_back(other.occurred_at, other.event_id);
        if (kind == &RelatedEvents::same_number) {
          for (const Event& other : related.number_incidents_others) {
            given.emplace_back(other.occurred_at, other.event_id);
          }
          for (const ScreenedEvent& other : related.same_number_screened) {
            given.emplace_back(other.occurred_at, other.event_id);
          }
        }
        std::sort(given.begin(), given.end());
        seen.clear();
        for (auto& [at, id] : given) seen.push_back(std::move(id));
        return Decide(event, history, related);
      },
      std::move(screen));
}

TEST_F(StoreTest, ANumbersEventsAreReadBackOnlyWhenTheirScreenSaysTheyCouldRuleOut) {
  std::vector<std::string> seen;  // the same_number events the last decision was given
  auto recording = [&seen](const std::string& version) {
    return Recording(seen, &RelatedEvents::same_number, ScreenOf(version));
  };
  using Ids = std::vector<std::string>;
  store_->IngestBatch({Item(MakeEvent("E1", "+447700900001"))}, recording("v1"));
  store_->IngestBatch({Item(MakeEvent("E2", "+447700900001", kT0 + 1min, {"DOMESTIC"}))},
                      recording("v1"));
  EXPECT_EQ(Q("SELECT string_agg(concat_ws(':', event_id, screened_with, screen_hit, "
              "screen_findings::text), ',' ORDER BY event_id) FROM events"),
            "E1:v1:f,E2:v1:t:{exclusion:domestic}");
  store_->IngestBatch({Item(MakeEvent("E3", "+447700900001", kT0 + 2min))}, recording("v1"));
  EXPECT_EQ(seen, (Ids{"E2"})) << "E1 could rule nothing out";

  // New rules: every event screened under the old ones is read back as before (rules under which
  // every event counts show it)...
  store_->IngestBatch({Item(MakeEvent("E4", "+447700900001", kT0 + 3min))},
                      Recording(seen, &RelatedEvents::same_number, EveryEventCounts("v9")));
  EXPECT_EQ(seen, (Ids{"E1", "E2", "E3"}));
  // ... until they are screened again under the rules in force, newest first, in batches.
  auto pass = store_->ScreenEvents(ScreenOf("v2"), kT0 + 1h - kMaxNumberLookback, kT0 + 24h, 2);
  EXPECT_EQ(pass.screened, 2);
  ASSERT_TRUE(pass.next_from.has_value());
  EXPECT_EQ(*pass.next_from, kT0 + 2min) << "E4 then E3";
  pass = store_->ScreenEvents(ScreenOf("v2"), kT0 + 1h - kMaxNumberLookback, *pass.next_from, 2);
  EXPECT_EQ(pass.screened, 2);
  ASSERT_TRUE(pass.next_from.has_value());
  EXPECT_EQ(*pass.next_from, kT0) << "E2 then E1";
  pass = store_->ScreenEvents(ScreenOf("v2"), kT0 + 1h - kMaxNumberLookback, *pass.next_from, 2);
  EXPECT_EQ(pass.screened, 0);
  EXPECT_FALSE(pass.next_from.has_value()) << "nothing left";
  EXPECT_EQ(
      store_->ScreenEvents(ScreenOf("v2"), kT0 + 1h - kMaxNumberLookback, kT0 + 24h, 2).screened,
      0);
  store_->IngestBatch({Item(MakeEvent("E5", "+447700900001", kT0 + 4min))}, recording("v2"));
  EXPECT_EQ(seen, (Ids{"E2"}));
  // Without a screen (rules built in code, `surveyd replay` of old), everything is read.
  store_->IngestBatch({Item(MakeEvent("E6", "+447700900001", kT0 + 5min))}, recording(""));
  EXPECT_EQ(seen, (Ids{"E1", "E2", "E3", "E4", "E5"}));
}

TEST_F(StoreTest, OfANumbersEventsOnlyTheNewestForEachRuleTheyMatchIsReadBack) {
  std::vector<std::string> seen;  // the same_number events the last decision was given
  const DecideFn recording = Recording(seen, &RelatedEvents::same_number, ScreenOf("v1"));
  auto vulnerable = [](Event event) {
    event.caller->vulnerable = true;
    return event;
  };
  const std::string number = "+447700900001";
  using Ids = std::vector<std::string>;
  // Two batches, so that the newest for a rule is found in the database, not in the batch.
  store_->IngestBatch({Item(MakeEvent("E1", number, kT0, {"DOMESTIC"})),
                       Item(MakeEvent("E2", number, kT0 + 2min, {"DOMESTIC"})),
                       Item(vulnerable(MakeEvent("E3", number, kT0 + 1min, {"DOMESTIC"}))),
                       Item(vulnerable(MakeEvent("E4", number, kT0 + 3min)))},
                      recording);
  store_->IngestBatch({Item(vulnerable(MakeEvent("E5", number, kT0 + 4min))),
                       Item(MakeEvent("E6", number, kT0 + 5min))},
                      recording);
  store_->IngestBatch({Item(MakeEvent("E7", number, kT0 + 6min))}, recording);
  // Domestic: E2 (newer than E1 and E3, though stored in the same batch); vulnerable: E5 (newer
  // than E3 and E4); E6 found nothing.
  EXPECT_EQ(seen, (Ids{"E2", "E5"}));
  // An event newer than the decided one counts as well (a late delivery).
  store_->IngestBatch({Item(MakeEvent("E8", number, kT0 + 1min + 30s))}, recording);
  EXPECT_EQ(seen, (Ids{"E2", "E5"}));
  // The newest for a rule is found whichever events share it: E3 is the newest domestic now.
  Q("UPDATE events SET screen_findings = NULL, screen_hit = false WHERE event_id = 'E2'");
  store_->IngestBatch({Item(MakeEvent("E9", number, kT0 + 6min + 30s))}, recording);
  EXPECT_EQ(seen, (Ids{"E3", "E5"}));
  // Only events screened under the rules in force are picked so: under others, every event is
  // read (rules under which every event counts show it).
  const DecideFn other_rules(recording.decide, EveryEventCounts("v2"));
  store_->IngestBatch({Item(MakeEvent("E10", number, kT0 + 7min))}, other_rules);
  EXPECT_EQ(seen, (Ids{"E1", "E3", "E8", "E2", "E4", "E5", "E6", "E7", "E9"}));
}

// The newest for a rule is looked for list by list of what the screen found
// (SURVEYD_WALK_NEWEST_FINDINGS): it is the same as over every event, at a cost that does not grow
// with the number's history.
TEST_F(StoreTest, ANumbersNewestForEachRuleIsFoundAcrossTheListsOfFindingsWithTiesAndTheLookBack) {
  std::vector<std::string> seen;
  const DecideFn recording = Recording(seen, &RelatedEvents::same_number, ScreenOf("v1"));
  const std::string number = "+447700900001";
  auto past = [&](const std::string& id, TimePoint at, bool domestic, bool vulnerable) {
    auto event =
        MakeEvent(id, number, at,
                  domestic ? std::vector<std::string>{"DOMESTIC"} : std::vector<std::string>{});
    event.call->channel = "999";  // ignored: no survey, no frequency cap
    event.caller->vulnerable = vulnerable;
    return Item(event);
  };
  // Domestic alone: B2 and B3 at the same newest time (B3 the greater id). Vulnerable alone: A1,
  // before the look-back. Both: C1, the newest vulnerable within it, older than the B's.
  std::vector<IngestItem> history = {
      past("A1", kT0 - kMaxNumberLookback - 24h, false, true),
      past("C1", kT0 - 24h, true, true),
      past("B2", kT0 + 1min, true, false),
      past("B3", kT0 + 1min, true, false),
      past("B1", kT0, true, false),
  };
  for (int i = 0; i < 20; ++i) {  // an older history of each list
    history.push_back(
        past("H" + std::to_string(i), kT0 - 48h - std::chrono::minutes(i), i % 2 == 0, i % 3 == 0));
  }
  store_->IngestBatch(history, recording);
  store_->IngestBatch({Item(MakeEvent("D1", number, kT0 + 10min))}, recording);
  using Ids = std::vector<std::string>;
  EXPECT_EQ(seen, (Ids{"C1", "B3"}));
  // A newer vulnerable event alone: its list's newest is within the look-back now.
  store_->IngestBatch({past("A2", kT0 + 2min, false, true)}, recording);
  store_->IngestBatch({Item(MakeEvent("D2", number, kT0 + 11min))}, recording);
  EXPECT_EQ(seen, (Ids{"B3", "A2"}));
}

// The newest for each rule is kept in number_findings as events are written (migration 0023),
// by ingest and by the screen sweep alike. A kept row whose event no longer holds it (deleted,
// its number dropped or re-made) must not hide an older event that does: the number's events are
// walked instead.
TEST_F(StoreTest, ANumbersKeptNewestForEachRuleNeverHidesAnOlderOneWhenItStopsHolding) {
  std::vector<std::string> seen;
  const DecideFn recording = Recording(seen, &RelatedEvents::same_number, ScreenOf("v1"));
  const std::string number = "+447700900001";
  auto domestic = [&](const std::string& id, TimePoint at) {
    auto event = MakeEvent(id, number, at, {"DOMESTIC"});
    event.call->channel = "999";  // no survey, no frequency cap
    return Item(event);
  };
  store_->IngestBatch({domestic("E1", kT0), domestic("E3", kT0 + 2min)}, recording);
  store_->IngestBatch({domestic("E2", kT0 + 1min)}, recording);  // older than the kept E3
  const std::string kept =
      "SELECT string_agg(concat_ws(':', CASE phone_hash WHEN 'another' THEN 'another' "
      "ELSE 'number' END, screened_with, finding, event_id), ',' "
      "ORDER BY phone_hash = 'another', screened_with, finding) FROM number_findings";
  EXPECT_EQ(Q(kept), "number:v1:exclusion:domestic:E3");
  using Ids = std::vector<std::string>;
  store_->IngestBatch({Item(MakeEvent("D1", number, kT0 + 10min))}, recording);
  EXPECT_EQ(seen, (Ids{"E3"}));

  Q("UPDATE events SET phone_hash = NULL WHERE event_id = 'E3'");  // as retention or erasure
  store_->IngestBatch({Item(MakeEvent("D2", number, kT0 + 11min))}, recording);
  EXPECT_EQ(seen, (Ids{"E2"}));
  Q("UPDATE events SET phone_hash = 'another' WHERE event_id = 'E2'");  // as a re-hash
  store_->IngestBatch({Item(MakeEvent("D3", number, kT0 + 12min))}, recording);
  EXPECT_EQ(seen, (Ids{"E1"}));
  EXPECT_EQ(Q("SELECT decision_reason FROM events WHERE event_id = 'D3'"), "exclusion:domestic");
  // The number's row is kept as it was (only written events raise rows); the re-hashed event
  // raised one of its new hash.
  EXPECT_EQ(Q(kept), "number:v1:exclusion:domestic:E3,another:v1:exclusion:domestic:E2");

  // Screened again under new rules, the events raise rows of the new screen's.
  store_->ScreenEvents(ScreenOf("v2"), kT0 + 1h - kMaxNumberLookback, kT0 + 24h, 100);
  EXPECT_EQ(Q(kept),
            "number:v1:exclusion:domestic:E3,number:v2:exclusion:domestic:E1,"
            "another:v1:exclusion:domestic:E2,another:v2:exclusion:domestic:E2");
  Q("DELETE FROM events WHERE event_id = 'E1'");
  store_->IngestBatch({Item(MakeEvent("D4", number, kT0 + 13min))},
                      Recording(seen, &RelatedEvents::same_number, ScreenOf("v2")));
  EXPECT_TRUE(seen.empty()) << "E1 gone, nothing holds";
  EXPECT_EQ(Q("SELECT decision_reason FROM events WHERE event_id = 'D4'"), "survey");
}

// What a decision is given does not depend on how the events were batched: a feed's batches, a
// push each, a replay's one batch.
TEST_F(StoreTest, ANumbersEventsArePickedAlikeFromTheBatchAndFromTheDatabase) {
  std::vector<std::string> seen;
  const DecideFn recording = Recording(seen, &RelatedEvents::same_number, ScreenOf("v1"));
  // Of a number's vulnerable events, the newest is of the decided event's own incident (given
  // as the incident's, not the number's), and it hides the older one of another incident.
  auto events = [](const std::string& prefix, const std::string& number) {
    auto older = MakeEvent(prefix + "O", number, kT0);
    auto newer = MakeEvent(prefix + "N", number, kT0 + 1min);
    auto decided = MakeEvent(prefix + "D", number, kT0 + 2min);
    for (Event* e : {&older, &newer}) {
      e->caller->vulnerable = true;
      e->call->channel = "999";  // no survey: the last decision recorded is the decided event's
    }
    newer.incident.id = decided.incident.id = "INC-" + prefix;
    return std::vector<IngestItem>{Item(older), Item(newer), Item(decided)};
  };
  for (const IngestItem& item : events("A", "+447700900001")) {
    store_->IngestBatch({item}, recording);
  }
  EXPECT_TRUE(seen.empty()) << "the older event is hidden behind the newer of the incident";
  store_->IngestBatch(events("B", "+447700900002"), recording);
  EXPECT_TRUE(seen.empty()) << "and so it is within one batch";
}

TEST_F(StoreTest, AnIncidentsEventsAreReadBackOnlyWhenTheirScreenSaysTheyCouldRuleOut) {
  std::vector<std::string> seen;  // the same_incident events the last decision was given
  auto recording = [&seen](const std::string& version) {
    return Recording(seen, &RelatedEvents::same_incident, ScreenOf(version));
  };
  // Each event of the incident from a number of its own, so that only the incident relates them.
  auto of_incident = [](const std::string& id, const std::string& phone, Duration after,
                        std::vector<std::string> qualifiers = {}) {
    auto event = MakeEvent(id, phone, kT0 + after, std::move(qualifiers));
    event.incident.id = "INC-1";
    return event;
  };
  using Ids = std::vector<std::string>;
  store_->IngestBatch({Item(of_incident("E1", "+447700900001", 0min))}, recording("v1"));
  store_->IngestBatch({Item(of_incident("E2", "+447700900002", 1min, {"DOMESTIC"}))},
                      recording("v1"));
  store_->IngestBatch({Item(of_incident("E3", "+447700900003", 2min))}, recording("v1"));
  EXPECT_EQ(seen, (Ids{"E2"})) << "E1 could rule nothing out";
  EXPECT_EQ(Q("SELECT string_agg(concat_ws(':', o.state, s.event_id), ',' ORDER BY s.event_id) "
              "FROM outbox o JOIN surveys s ON s.id = o.survey_id"),
            "cancelled:E1")
      << "E2 ruled out E1's queued text; E2 and E3 are excluded by it";
  // Under new rules every event screened under the old ones is read back again, and the batch
  // screens them again under the new ones (an incident's events are screened together): the
  // sweep finds none left.
  const auto screened_with = [this] {
    return Q(
        "SELECT string_agg(event_id || ':' || screened_with, ',' ORDER BY event_id) "
        "FROM events");
  };
  store_->IngestBatch({Item(of_incident("E4", "+447700900004", 3min))}, recording("v2"));
  EXPECT_EQ(seen, (Ids{"E1", "E2", "E3"}));
  EXPECT_EQ(screened_with(), "E1:v2,E2:v2,E3:v2,E4:v2");
  EXPECT_EQ(
      store_->ScreenEvents(ScreenOf("v2"), kT0 + 1h - kMaxNumberLookback, kT0 + 24h, 10).screened,
      0);
  store_->IngestBatch({Item(of_incident("E5", "+447700900005", 4min))}, recording("v2"));
  EXPECT_EQ(seen, (Ids{"E2"}));
  // An event with an incident and no number is screened, and screened again, too.
  auto departed = of_incident("E6", "", 5min);
  departed.caller.reset();
  store_->IngestBatch({Item(departed)}, recording("v2"));
  store_->IngestBatch({Item(of_incident("E7", "+447700900007", 6min))}, recording("v3"));
  EXPECT_EQ(seen, (Ids{"E1", "E2", "E3", "E4", "E5", "E6"}));
  EXPECT_EQ(screened_with(), "E1:v3,E2:v3,E3:v3,E4:v3,E5:v3,E6:v3,E7:v3");
  store_->IngestBatch({Item(of_incident("E8", "+447700900008", 7min))}, recording("v3"));
  EXPECT_EQ(seen, (Ids{"E2"}));
  // Swept, the incident's events are screened together too (ScreenEvents' own test:
  // AnIncidentsEventsAreScreenedTogetherOrNotAtAll).
  EXPECT_EQ(
      store_->ScreenEvents(ScreenOf("v4"), kT0 + 1h - kMaxNumberLookback, kT0 + 24h, 10).screened,
      8);
}

TEST_F(StoreTest, AClaimUnderAScreenCarriesOnlyTheNumbersEventsThatCouldRuleItOut) {
  auto ignored = MakeEvent("E1", "+447700900001", kT0 - 1min);
  ignored.call->channel = "999";  // no survey, no frequency cap
  const DecideFn decide(Decide, ScreenOf("v1"));
  store_->IngestBatch({Item(ignored)}, decide);
  // Found vulnerable by the screen (the test rules ignore them): of the two, the newer counts.
  auto vulnerable = [](const std::string& id, TimePoint at) {
    auto event = MakeEvent(id, "+447700900001", at);
    event.call->channel = "999";
    event.caller->vulnerable = true;
    return event;
  };
  store_->IngestBatch({Item(vulnerable("V1", kT0 - 3min)), Item(vulnerable("V2", kT0 - 2min))},
                      decide);
  store_->IngestBatch({Item(MakeEvent("E2", "+447700900001"))}, decide);
  auto claimed = store_->ClaimDue(kT0 + 2h, 10, "w1", 60s, ScreenOf("v1"));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].event->event_id, "E2");
  ASSERT_EQ(claimed[0].related.same_number.size(), 1u) << "E1 could rule nothing out";
  EXPECT_EQ(claimed[0].related.same_number[0].event_id, "V2") << "V1 could only find it again";
  // Under other rules every one counts again; so it does with no screen.
  for (const EventScreen& screen : {ScreenOf("v2"), EventScreen{}}) {
    LeasesAge(120s);
    claimed = store_->ClaimDue(kT0 + 2h, 10, "w1", 60s, screen);
    ASSERT_EQ(claimed.size(), 1u);
    std::vector<std::string> ids;
    for (const Event& event : claimed[0].related.same_number) ids.push_back(event.event_id);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<std::string>{"E1", "V1", "V2"})) << screen.version;
  }
}

TEST_F(StoreTest, WhatCannotBeReadBackIsNeverSentNorSurveyed) {
  Ingest({Item(MakeEvent("E1", "+447700900001"))});
  Q("UPDATE events SET facts = '{\"not\": \"an event\"}' WHERE event_id = 'E1'");
  auto claimed = store_->ClaimDue(kT0 + 2h, 10, "w1", 60s);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_FALSE(claimed[0].event.has_value()) << "no event to decide again: the dispatcher cancels";
  // A new event of the same incident cannot be decided against it either.
  auto later = MakeEvent("E2", "+447700900002", kT0 + 1min);
  later.incident.id = "INC-E1";
  EXPECT_EQ(Ingest({Item(later)}).at(0).reason, "insufficient_data:related_event");
}

// A line rejected as an event may still be the one that says its incident was domestic abuse:
// whatever it names is held, until a good delivery of its event_id replaces it.
IngestItem RejectedNaming(const std::string& event_id, const std::string& incident_id,
                          const std::string& phone) {
  IngestItem item =
      Rejected("{\"event_id\":\"" + event_id + "\"}", "occurred_at is not RFC 3339", event_id);
  item.incident_id = incident_id;
  item.phone = phone;
  return item;
}

TEST_F(StoreTest, ARejectedLineHoldsTheQueuedTextsOfItsIncidentAndNumber) {
  Ingest({Item(MakeEvent("E1", "+447700900001")), Item(MakeEvent("E2", "+447700900002")),
          Item(MakeEvent("E3", "+447700900003"))});
  ASSERT_EQ(Q("SELECT count(*) FROM outbox WHERE state = 'pending'"), "3");
  const auto results =
      Ingest({RejectedNaming("X1", "INC-E1", ""), RejectedNaming("", "", "07700 900002")});
  EXPECT_EQ(results[0].outcome, IngestOutcome::kRejected);
  EXPECT_EQ(Q("SELECT string_agg(s.event_id || ':' || o.state || ':' || "
              "coalesce(o.cancel_reason, '') || ':' || coalesce(o.cancelled_by, ''), ' ' "
              "ORDER BY s.event_id) FROM outbox o JOIN surveys s ON s.id = o.survey_id"),
            "E1:cancelled:insufficient_data:rejected_event:rejected_line "
            "E2:cancelled:insufficient_data:rejected_event:rejected_line E3:pending::");
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events WHERE incident_id = 'INC-E1'"), "1");
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events WHERE phone_hash IS NOT NULL"), "1");
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events WHERE raw LIKE '%7700%' "
              "OR phone_hash LIKE '%7700%'"),
            "0");
  // A claimed text is called back too: its claim no longer begins a send.
  Ingest({Item(MakeEvent("E4", "+447700900004"))});
  auto claimed = store_->ClaimDue(kT0 + 2h, 10, "w1", 60s);
  ASSERT_EQ(claimed.size(), 2u);
  Ingest({RejectedNaming("X4", "INC-E4", "")});
  for (auto& message : claimed) {
    EXPECT_EQ(store_->BeginSend(message, "hash", kT0 + 2h, 60s), message.event->event_id == "E3")
        << message.event->event_id;
  }
}

TEST_F(StoreTest, ClaimAndBeginWritesNothingForTheClaimAndAllItDecidedInOneTransaction) {
  Ingest({Item(MakeEvent("E1", "+447700900001")), Item(MakeEvent("E2", "+447700900002")),
          Item(MakeEvent("E3", "+447700900003")), Item(MakeEvent("E4", "+447700900004"))});
  const std::string before =
      Q("SELECT string_agg(id || ':' || next_attempt_at, ' ' ORDER BY id) "
        "FROM outbox");
  using Action = ClaimOutcome::Action;
  int decided = 0;
  auto begun = store_->ClaimAndBegin(
      kT0 + 2h, 10, "w1", 60s, 60s, {}, [&](const std::vector<OutboxMessage>& claimed) {
        ++decided;
        EXPECT_EQ(claimed.size(), 4u);
        for (const auto& message : claimed) {
          EXPECT_TRUE(message.event.has_value()) << "what deciding again needs comes with it";
          EXPECT_EQ(message.to_e164, message.event->caller->phone);
          EXPECT_EQ(message.attempts, 0);
        }
        // The claim is the transaction's locks: nothing is written yet, and nobody else gets
        // them.
        EXPECT_EQ(Q("SELECT string_agg(id || ':' || next_attempt_at, ' ' ORDER BY id) FROM outbox "
                    "WHERE state = 'pending' AND claimed_by IS NULL"),
                  before);
        EXPECT_TRUE(store_->ClaimDue(kT0 + 2h, 10, "w2", 60s).empty());
        std::vector<ClaimOutcome> outcomes(claimed.size());
        outcomes[0].action = Action::kBegin;
        outcomes[0].token_hash = "h1";
        outcomes[1].action = Action::kCancel;
        outcomes[1].reason = "exclusion:test";
        outcomes[2].action = Action::kDueAt;
        outcomes[2].due_at = kT0 + 5h;
        return outcomes;  // the fourth is left as it was
      });
  EXPECT_EQ(decided, 1);
  ASSERT_EQ(begun.size(), 1u);
  EXPECT_EQ(begun[0].event->event_id, "E1");
  EXPECT_EQ(begun[0].attempts, 1);
  EXPECT_NE(begun[0].claim_token, 0);
  EXPECT_EQ(Q("SELECT string_agg(s.event_id || ':' || o.state || ':' || o.attempts || ':' || "
              "coalesce(o.claimed_by, '') || ':' || coalesce(o.cancel_reason, '') || ':' || "
              "coalesce(o.cancelled_by, '') || ':' || (o.lease_until IS NOT NULL) || ':' || "
              "(o.begun_at IS NOT NULL), ' ' ORDER BY s.event_id) "
              "FROM outbox o JOIN surveys s ON s.id = o.survey_id"),
            "E1:sending:1:w1:::true:true E2:cancelled:0::exclusion:test:dispatch:false:false "
            "E3:pending:0::::false:false E4:pending:0::::false:false");
  EXPECT_EQ(
      Q("SELECT surveyd_epoch_us(next_attempt_at) = surveyd_epoch_us('" + FormatRfc3339(kT0 + 5h) +
        "') FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE s.event_id = 'E3'"),
      "t");
  EXPECT_EQ(Q("SELECT s.event_id FROM survey_links l JOIN surveys s ON s.id = l.survey_id "
              "WHERE l.token_hash = 'h1'"),
            "E1")
      << "the link is recorded before the request goes";
  // Its answer is recorded under the new claim token; the fourth is due as it was.
  store_->RecordAttempt(begun[0], {SendState::kAccepted, "wmnow", "m-1", 201, "", {}}, kT0 + 2h);
  EXPECT_EQ(State(begun[0].id), "accepted");
  const auto again = store_->ClaimDue(kT0 + 2h, 10, "w2", 60s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].event->event_id, "E4");
}

TEST_F(StoreTest, WhatWouldCallBackAClaimedTextWaitsForTheClaimAndFindsItBegun) {
  // A rejected line naming the incident comes while its text is being decided: holding the
  // text waits for the claim's commit, and the send began first, so it stays begun (as for a
  // line that came a moment after the send began); the line is stored all the same.
  Ingest({Item(MakeEvent("E1", "+447700900001"))});
  std::atomic<bool> stored{false};
  std::thread line;
  auto begun = store_->ClaimAndBegin(
      kT0 + 2h, 10, "w1", 60s, 60s, {}, [&](const std::vector<OutboxMessage>& claimed) {
        line = std::thread([&] {
          Ingest({RejectedNaming("X1", "INC-E1", "")});
          stored = true;
        });
        std::this_thread::sleep_for(300ms);
        EXPECT_FALSE(stored) << "the hold did not wait for the claim";
        std::vector<ClaimOutcome> outcomes(claimed.size());
        for (auto& outcome : outcomes) outcome.action = ClaimOutcome::Action::kBegin;
        return outcomes;
      });
  line.join();
  EXPECT_TRUE(stored);
  ASSERT_EQ(begun.size(), 1u);
  EXPECT_EQ(State(begun[0].id), "sending");
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events WHERE incident_id = 'INC-E1'"), "1");
  // A text of the incident queued later is held by the line.
  auto later = MakeEvent("E2", "+447700900002", kT0 + 1min);
  later.incident.id = "INC-E1";
  EXPECT_NE(Ingest({Item(later)}).at(0).reason, "survey");
}

TEST_F(StoreTest, ARejectedLineExcludesLaterContactsOfItsIncidentAndNumber) {
  for (const EventScreen& screen : {EventScreen{}, ScreenOf("v1")}) {
    SCOPED_TRACE(screen.version.empty() ? "no screen" : "screened");
    const DecideFn decide(Decide, screen);
    const std::string p = screen.version.empty() ? "4" : "5";  // each pass its own ids, numbers
    store_->IngestBatch({RejectedNaming("X" + p, "INC-" + p, "07700 900" + p + "09")}, decide);
    auto of_incident = MakeEvent("A" + p, "+447700900" + p + "01");
    of_incident.incident.id = "INC-" + p;
    const auto results =
        store_->IngestBatch({Item(of_incident), Item(MakeEvent("B" + p, "+447700900" + p + "09")),
                             Item(MakeEvent("C" + p, "+447700900" + p + "03"))},
                            decide);
    EXPECT_EQ(results[0].reason, "insufficient_data:rejected_event");
    EXPECT_EQ(results[1].reason, "insufficient_data:rejected_event");
    EXPECT_EQ(results[2].reason, "survey") << "unrelated";
  }
}

TEST_F(StoreTest, ARejectedLineInABatchHoldsTheBatchsOwnContactsOfItsIncident) {
  auto event = MakeEvent("E7", "+447700900007");
  event.incident.id = "INC-7";
  const auto results = Ingest({RejectedNaming("X7", "INC-7", ""), Item(event)});
  EXPECT_EQ(results[1].reason, "insufficient_data:rejected_event");
  EXPECT_EQ(Q("SELECT count(*) FROM outbox"), "0");
}

// A line rules out what comes after it and holds the texts of what came before, wherever the
// batches begin and end: the feed, a replay and pushes cut one stream differently
// (tests/e2e/feed_paths_test.sh), and must store the same decisions.
TEST_F(StoreTest, ARejectedLineCountsFromItsPlaceInTheStreamHoweverItIsBatched) {
  const auto stream = [](const std::string& p) {
    auto before = MakeEvent("B" + p, "+447700900" + p + "01");
    before.incident.id = "INC-" + p;
    auto after = MakeEvent("A" + p, "+447700900" + p + "02");
    after.incident.id = "INC-" + p;
    return std::vector<IngestItem>{Item(before), RejectedNaming("X" + p, "INC-" + p, ""),
                                   Item(after)};
  };
  const auto expected = [](const std::string& p) {
    return "A" + p + ":insufficient_data:rejected_event:- B" + p +
           ":survey:cancelled/insufficient_data:rejected_event";
  };
  Ingest(stream("6"));  // one batch
  EXPECT_EQ(Decisions("6"), expected("6"));
  for (const auto& item : stream("7")) Ingest({item});  // one batch each
  EXPECT_EQ(Decisions("7"), expected("7"));
}

TEST_F(StoreTest, ALineReplacedByAGoodDeliveryCountsUpToItHoweverItIsBatched) {
  // A torn line of event X stands for what X said until X comes whole: the contacts between
  // them are ruled out and the texts before the line held; from X on, X stands for it. The
  // same whether the stream comes in one batch, one per line, or split around the line.
  const auto event = [](const std::string& id, const std::string& p, const std::string& n) {
    auto e = MakeEvent(id + p, "+447700900" + p + n);
    e.incident.id = "INC-" + p;
    return Item(e);
  };
  const auto batched = [this](const std::vector<IngestItem>& stream,
                              const std::vector<std::size_t>& cuts) {
    std::size_t begin = 0;
    for (std::size_t end : cuts) {
      Ingest(std::vector<IngestItem>(stream.begin() + begin, stream.begin() + end));
      begin = end;
    }
  };
  // Replaced after it: A before the line, B between it and X, C after X.
  const auto replaced_later = [&](const std::string& p) {
    return std::vector<IngestItem>{event("A", p, "1"), RejectedNaming("X" + p, "INC-" + p, ""),
                                   event("B", p, "2"), event("X", p, "3"), event("C", p, "4")};
  };
  const auto later = [](const std::string& p) {
    return "A" + p + ":survey:cancelled/insufficient_data:rejected_event B" + p +
           ":insufficient_data:rejected_event:- C" + p + ":survey:pending/- X" + p +
           ":survey:pending/-";
  };
  const std::vector<std::pair<std::string, std::vector<std::size_t>>> cuts = {
      {"1", {5}}, {"2", {1, 2, 3, 4, 5}}, {"3", {2, 5}}, {"4", {3, 5}}, {"5", {1, 4, 5}}};
  for (const auto& [p, at] : cuts) {
    batched(replaced_later("2" + p), at);
    EXPECT_EQ(Decisions("2" + p), later("2" + p)) << "cut at " << ::testing::PrintToString(at);
  }
  // After X came whole: nothing replaces the line, which may name what X's first delivery did not
  // (DOMESTIC, with one field unreadable): it holds the texts before it, X's too, and rules out
  // those after it, as a line without an id would.
  const auto replaced_before = [&](const std::string& p) {
    return std::vector<IngestItem>{event("X", p, "3"), event("A", p, "1"),
                                   RejectedNaming("X" + p, "INC-" + p, ""), event("B", p, "2")};
  };
  const auto before = [](const std::string& p) {
    return "A" + p + ":survey:cancelled/insufficient_data:rejected_event B" + p +
           ":insufficient_data:rejected_event:- X" + p +
           ":survey:cancelled/insufficient_data:rejected_event";
  };
  for (const auto& [p, at] : std::vector<std::pair<std::string, std::vector<std::size_t>>>{
           {"1", {4}}, {"2", {1, 2, 3, 4}}, {"3", {2, 4}}, {"4", {1, 4}}}) {
    batched(replaced_before("3" + p), at);
    EXPECT_EQ(Decisions("3" + p), before("3" + p)) << "cut at " << ::testing::PrintToString(at);
    // Kept without the id, which the stored X would stand in for, and saying why.
    EXPECT_EQ(
        Q("SELECT count(*) FROM rejected_events WHERE event_id IS NULL AND incident_id = "
          "'INC-3" +
          p + "' AND reject_reason LIKE '%delivered again after event X3" + p + " was stored%'"),
        "1");
  }
}

TEST_F(StoreTest, AGoodDeliveryOfTheSameEventReplacesItsRejectedLine) {
  // Later, in a batch of its own.
  Ingest({RejectedNaming("E5", "INC-E5", "+447700900005")});
  EXPECT_EQ(Ingest({Item(MakeEvent("E5", "+447700900005"))})[0].reason, "survey");
  auto later = MakeEvent("E6", "+447700900006", kT0 + 1min);
  later.incident.id = "INC-E5";
  EXPECT_EQ(Ingest({Item(later)})[0].reason, "survey") << "the line is replaced for good";
  // In the same batch, after it: nothing is held.
  const auto results = Ingest(
      {RejectedNaming("E8", "INC-E8", "+447700900008"), Item(MakeEvent("E8", "+447700900008"))});
  EXPECT_EQ(results[1].reason, "survey");
  EXPECT_EQ(Q("SELECT state FROM outbox o JOIN surveys s ON s.id = o.survey_id "
              "WHERE s.event_id = 'E8'"),
            "pending");
}

// --- One bad event is rejected alone ---------------------------------------------------------

TEST_F(StoreTest, AValueTheDatabaseRefusesRejectsThatEventAloneAndTheRestGoIn) {
  // An id over the index's row limit (incompressible, so that PostgreSQL cannot squeeze it in).
  std::string id;
  std::mt19937 random(7);
  while (id.size() < 10000) id.push_back(static_cast<char>('a' + random() % 26));
  auto long_id = MakeEvent(id, "+447700900002");
  auto ancient = MakeEvent("E3", "+447700900003");
  ancient.occurred_at = TimePoint(std::chrono::duration_cast<Duration>(-std::chrono::years(9000)));
  auto results = Ingest({Item(MakeEvent("E1", "+447700900001")), Item(long_id), Item(ancient),
                         Item(MakeEvent("E4", "+447700900004"))},
                        "tcp");
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].outcome, IngestOutcome::kAccepted);
  EXPECT_EQ(results[1].outcome, IngestOutcome::kRejected);
  EXPECT_EQ(results[1].reason.rfind("the database refused a value (SQLSTATE 54", 0), 0u)
      << results[1].reason;
  EXPECT_EQ(results[2].outcome, IngestOutcome::kRejected);
  EXPECT_EQ(results[2].reason.rfind("the database refused a value (SQLSTATE 22", 0), 0u)
      << results[2].reason;
  EXPECT_EQ(results[3].outcome, IngestOutcome::kAccepted);
  EXPECT_EQ(Q("SELECT count(*) FROM surveys"), "2");
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events"), "2");
  EXPECT_EQ(Q("SELECT string_agg(left(reject_reason, 38), ',' ORDER BY id) FROM rejected_events"),
            "the database refused a value (SQLSTATE,the database refused a value (SQLSTATE");
}

TEST_F(StoreTest, AnEventThatCannotBeDecidedIsRejectedAloneAndHoldsWhatItNames) {
  // A bug in the rules that throws on one event must not hold the feed for ever (it would be
  // resent and fail again), nor let a text of its incident go.
  Ingest({Item(MakeEvent("E1", "+447700900001"))});
  auto poison = MakeEvent("BOOM", "+447700900002");
  poison.incident.id = "INC-E1";
  const DecideFn throws_on_boom(
      [](const Event& event, const ContactHistory& history, const RelatedEvents& related) {
        if (event.event_id == "BOOM") throw std::out_of_range("vector::at, with +447700900002");
        return Decide(event, history, related);
      });
  const auto results = store_->IngestBatch({Item(MakeEvent("E3", "+447700900003")), Item(poison),
                                            Item(MakeEvent("E4", "+447700900004"))},
                                           throws_on_boom, "tcp");
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].reason, "survey");
  EXPECT_EQ(results[1].outcome, IngestOutcome::kRejected);
  EXPECT_EQ(results[1].reason, "could not be decided (an internal error)");
  EXPECT_EQ(results[2].reason, "survey");
  EXPECT_EQ(Q("SELECT event_id || '|' || reject_reason || '|' || incident_id FROM rejected_events"),
            "BOOM|could not be decided (an internal error)|INC-E1");
  EXPECT_EQ(Q("SELECT o.state || ':' || o.cancel_reason FROM outbox o JOIN surveys s "
              "ON s.id = o.survey_id WHERE s.event_id = 'E1'"),
            "cancelled:insufficient_data:rejected_event");
  // Fixed and resent, it is decided.
  EXPECT_EQ(Ingest({Item(poison)})[0].reason, "survey");
}

TEST(PgStoreUnavailableTest, ADownDatabaseIsUnavailableNotACrash) {
  auto store = MakePgStore(testing::TestStoreOptions(
      "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2", 2, kKey));
  EXPECT_FALSE(store->Ping());
  EXPECT_THROW(store->IngestBatch({Item(MakeEvent("E1", "+447700900001"))}, Decide), Unavailable);
  EXPECT_THROW(store->ClaimDue(kT0, 10, "w1", 60s), Unavailable);
}

TEST_F(StoreTest, ALostConnectionIsReplaced) {
  ASSERT_TRUE(store_->Ping());
  // Kill this database's connections behind the store's back.
  Q("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" +
    db_->name() + "' AND pid <> pg_backend_pid()");
  // The broken connection fails one call at most, then is replaced.
  bool ok = false;
  for (int i = 0; i < 6 && !ok; ++i) {
    try {
      Ingest({Item(MakeEvent("E" + std::to_string(i), "+447700900001"))});
      ok = true;
    } catch (const Unavailable&) {
    }
  }
  EXPECT_TRUE(ok);
}

TEST_F(StoreTest, IngestThroughput) {
  // Not an assertion: prints the rate so a regression is visible in the log.
  constexpr int kBatches = 20, kBatchSize = 500;
  std::vector<std::vector<IngestItem>> batches(kBatches);
  for (int b = 0; b < kBatches; ++b) {
    for (int i = 0; i < kBatchSize; ++i) {
      const int n = b * kBatchSize + i;
      auto item = Item(MakeEvent("T" + std::to_string(n), "+447" + std::to_string(700000000 + n),
                                 kT0 + std::chrono::seconds(n)));
      item.raw = std::string(600, 'r');
      batches[b].push_back(std::move(item));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  for (const auto& batch : batches) store_->IngestBatch(batch, Decide, "tcp");
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::cout << "[ ingest   ] " << kBatches * kBatchSize << " events in " << took.count()
            << " s: " << static_cast<long>(kBatches * kBatchSize / took.count()) << " events/s\n";
  EXPECT_EQ(Q("SELECT count(*) FROM surveys"), std::to_string(kBatches * kBatchSize));
}

}  // namespace
}  // namespace surveyd::store
