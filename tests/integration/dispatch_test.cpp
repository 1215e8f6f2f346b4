// The dispatcher against the real store: sends, retries, expiry, quiet hours across a DST change,
// and two dispatchers on one database never sending a survey twice.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "fakes/fake_gateway.hpp"
#include "fakes/manual_clock.hpp"
#include "integration/surveyed.hpp"
#include "integration/test_database.hpp"
#include "surveyd/core/survey_token.hpp"
#include "surveyd/dispatch/dispatcher.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::dispatch {
namespace {

using namespace std::chrono_literals;
using gateway::SendStatus;
using surveyd::testing::FakeGateway;
using surveyd::testing::ManualClock;
using surveyd::testing::TestDatabase;

constexpr char kTokenSecret[] = "token-secret-token-secret-token-secret";

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

// Rules with quiet hours only: the dispatcher asks them for the next send window.
std::shared_ptr<const rules::RuleSet> QuietRules() {
  auto loaded = rules::LoadFile(std::string(SURVEYD_SOURCE_DIR) + "/config/rules.yaml");
  EXPECT_TRUE(loaded.rules) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  return loaded.rules;
}

// The most of `sent_at` (times of sends, in any order) within any one second.
std::size_t MostInAnySecond(std::vector<TimePoint> sent_at) {
  std::sort(sent_at.begin(), sent_at.end());
  std::size_t most = 0;
  for (std::size_t i = 0; i < sent_at.size(); ++i) {
    const auto end = std::lower_bound(sent_at.begin(), sent_at.end(), sent_at[i] + 1s);
    most = std::max(most, static_cast<std::size_t>(end - (sent_at.begin() + i)));
  }
  return most;
}

class DispatchTest : public ::testing::Test {
 protected:
  DispatchTest()
      : clock_(At("2026-11-26T12:00:00Z")),
        store_(store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"))) {
    options_.public_base_url = "https://survey.example";
    options_.token_secret = kTokenSecret;
    options_.batch_size = 10;
    options_.max_attempts = 3;
    options_.rate_per_second = 100000;
    options_.expiry_interval = 0ms;
  }

  // Creates `count` surveys due at `send_at`, for distinct numbers.
  void AddSurveys(int count, TimePoint send_at, TimePoint expires_at, int first = 0) {
    std::vector<store::IngestItem> items;
    for (int i = first; i < first + count; ++i) {
      Event event;
      event.event_id = "E-" + std::to_string(i);
      event.type = EventType::kCallEnded;
      event.occurred_at = send_at - 30s;
      event.incident.id = "I-" + std::to_string(i);
      // Complete enough for the shipped rules to survey it when the dispatcher decides again.
      event.incident.type_code = "BURG-RES";
      event.incident.qualifiers = std::vector<std::string>{};
      event.call = Call{};
      event.call->channel = "101";
      event.caller = Caller{};
      event.caller->phone_type = "mobile";
      event.caller->role = "victim";
      event.caller->age = 40;
      char phone[32];
      std::snprintf(phone, sizeof phone, "+447700%06d", 900000 + i);
      event.caller->phone = phone;
      store::IngestItem item;
      item.source = "push";
      item.raw = "{}";
      item.event_id = event.event_id;
      item.event = event;
      items.push_back(std::move(item));
    }
    send_at_ = send_at;
    expires_at_ = expires_at;
    store_->IngestBatch(items, [&](const Event& event, const ContactHistory&,
                                   const RelatedEvents&) { return Surveyed(event); });
  }

  // Surveyed, due at the last AddSurveys' times, whatever the incident or number.
  Decision Surveyed(const Event& event) const {
    return testing::SurveyDecision(event, send_at_, expires_at_,
                                   expires_at_ + std::chrono::hours(24 * 7));
  }

  // `type` on incident I-`incident`, flagged DOMESTIC now, stored under rules blind to the
  // incident (as before a reload): a call is surveyed, anything else ignored. Only the
  // dispatcher, deciding again, can see what it rules out.
  void IngestDomesticFlagBlindly(const std::string& event_id, EventType type, int incident) {
    Event flagged;
    flagged.event_id = event_id;
    flagged.type = type;
    if (type == EventType::kResourceDeparted) {
      flagged.resource = Resource{};
      flagged.resource->officer_id = "PC4521";
    }
    flagged.occurred_at = clock_.Now();
    flagged.incident.id = "I-" + std::to_string(incident);
    flagged.incident.type_code = "BURG-RES";
    flagged.incident.qualifiers = std::vector<std::string>{"DOMESTIC"};
    store::IngestItem item;
    item.source = "push";
    item.raw = "{}";
    item.event_id = flagged.event_id;
    item.event = flagged;
    store_->IngestBatch({item},
                        [&](const Event& event, const ContactHistory&, const RelatedEvents&) {
                          if (event.type == EventType::kCallEnded) return Surveyed(event);
                          Decision d;
                          d.outcome = Decision::Outcome::kIgnored;
                          d.reason = "no_group";
                          return d;
                        });
  }

  // The shipped rules decide each text again before it goes.
  Dispatcher Make(FakeGateway& gateway, store::Store& store, RulesProvider rules = {}) {
    if (!rules) rules = [shipped = QuietRules()] { return shipped; };
    return Dispatcher(options_, store, gateway, clock_, rules);
  }

  // Records in `sent_at` when (by clock_, the true time) each gateway was asked to send.
  void Record(std::vector<TimePoint>& sent_at, std::initializer_list<FakeGateway*> gateways) {
    for (FakeGateway* gateway : gateways) {
      gateway->OnSend([this, &sent_at](const gateway::OutgoingSms&) {
        std::lock_guard lock(record_mutex_);
        sent_at.push_back(clock_.Now());
      });
    }
  }

  // Two instances trying together every 20 ms for three seconds; `b_clock`, b's own clock when
  // it has one, moves with clock_.
  void RunTogether(Dispatcher& a, Dispatcher& b, ManualClock* b_clock = nullptr) {
    for (int step = 0; step < 150; ++step) {
      std::thread ta([&] { a.RunOnce("a"); });
      std::thread tb([&] { b.RunOnce("b"); });
      ta.join();
      tb.join();
      clock_.Advance(20ms);
      if (b_clock != nullptr) b_clock->Advance(20ms);
    }
  }

  std::string State(int event_index) {
    return db_.Query(
        "SELECT o.state FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE s.event_id = 'E-" +
        std::to_string(event_index) + "'");
  }

  TestDatabase db_;
  ManualClock clock_;
  std::mutex record_mutex_;
  std::unique_ptr<store::Store> store_;
  DispatcherOptions options_;
  TimePoint send_at_, expires_at_;
};

TEST_F(DispatchTest, SendsDueMessagesWithAWorkingPersonalLink) {
  AddSurveys(3, clock_.Now(), clock_.Now() + 2h);
  AddSurveys(1, clock_.Now() + 1h, clock_.Now() + 3h, 3);  // not due yet
  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 3);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 0);

  auto sent = gateway.Sent();
  ASSERT_EQ(sent.size(), 3u);
  std::set<std::string> refs;
  for (const auto& sms : sent) {
    refs.insert(sms.client_ref);
    const std::string prefix = "West Midlands Police: how did we do? https://survey.example/s/";
    ASSERT_EQ(sms.body.rfind(prefix, 0), 0u) << sms.body;
    const std::string token = sms.body.substr(prefix.size());
    EXPECT_TRUE(token::LooksLikeToken(token));
    auto view = store_->FindSurveyByTokenHash(token::TokenHash(token));
    ASSERT_TRUE(view) << "the link in the text must open its survey";
  }
  EXPECT_EQ(refs.size(), 3u);
  EXPECT_EQ(State(0), "accepted");
  EXPECT_EQ(State(3), "pending");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM send_attempts WHERE result = 'accepted'"), "3");
  // The link token itself is nowhere in the database, only its hash.
  const std::string token = sent[0].body.substr(sent[0].body.rfind('/') + 1);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM surveys WHERE token_nonce = '" + token + "'"), "0");
}

TEST_F(DispatchTest, TransientFailuresRetryWithBackoffThenSucceedWithTheSameClientRef) {
  AddSurveys(1, clock_.Now(), clock_.Now() + 2h);
  FakeGateway gateway;
  gateway.Script({{SendStatus::kTransient, "", 503, "HTTP 503", {}},
                  {SendStatus::kInDoubt, "", 0, "timeout after send", {}}});
  auto dispatcher = Make(gateway, *store_);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 1);
  EXPECT_EQ(State(0), "pending");
  EXPECT_EQ(dispatcher.RunOnce("w1"), 0) << "not due again before the backoff";
  clock_.Advance(6s);  // backoff after attempt 1 is 2.5-5 s
  EXPECT_EQ(dispatcher.RunOnce("w1"), 1);
  EXPECT_EQ(State(0), "pending") << "in doubt through an idempotent gateway: resend, same ref";
  clock_.Advance(11s);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 1);
  EXPECT_EQ(State(0), "accepted");
  auto sent = gateway.Sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].client_ref, sent[1].client_ref);
  EXPECT_EQ(sent[1].client_ref, sent[2].client_ref);
  EXPECT_EQ(sent[0].body, sent[2].body) << "a retry carries the same link";
  EXPECT_EQ(db_.Query("SELECT string_agg(result, ',' ORDER BY attempt) FROM send_attempts"),
            "retry,retry,accepted");
}

TEST_F(DispatchTest, ThrottlingAndRefusedCredentialsCountNoAttemptAgainstTheMessage) {
  // Being slowed down or our credentials refused says nothing of the message: after many of
  // them, a 503 is still only its first failure, and it is tried again.
  options_.max_attempts = 2;
  AddSurveys(1, clock_.Now(), clock_.Now() + 2h);
  FakeGateway gateway;
  gateway.Script({{SendStatus::kThrottled, "", 429, "http 429", 1s},
                  {SendStatus::kThrottled, "", 429, "http 429", 1s},
                  {SendStatus::kAuth, "", 401, "http 401", {}},
                  {SendStatus::kThrottled, "", 429, "http 429", 1s},
                  {SendStatus::kTransient, "", 503, "http 503", {}}});
  auto dispatcher = Make(gateway, *store_);
  for (int i = 0; i < 8 && State(0) != "accepted"; ++i) {
    dispatcher.RunOnce("w1");
    clock_.Advance(options_.backoff_max + 1s);
  }
  EXPECT_EQ(State(0), "accepted");
  EXPECT_EQ(gateway.Sent().size(), 6u);
  EXPECT_EQ(db_.Query("SELECT attempts FROM outbox"), "2") << "the 503 and the send that went";
  EXPECT_EQ(db_.Query("SELECT string_agg(coalesce(http_status::text, '-'), ',' ORDER BY id) "
                      "FROM send_attempts"),
            "429,429,401,429,503,201");
}

// A WMNow request timed out after it went (in doubt: retried with the same client_ref), then
// the retries got 503 until max_attempts: the text may have reached the handset, so it is held in
// doubt, not failed, and the delivery report that comes later says where it ended. Failed, it
// was final: the citizen who got the text counted as failed, and its number was erased a week
// after the "failure" rather than after the survey closed.
TEST_F(DispatchTest, GivingUpOnATextThatMayHaveGoneOutHoldsItInDoubtForItsReports) {
  AddSurveys(2, clock_.Now(), clock_.Now() + 2h);
  FakeGateway gateway;
  options_.batch_size = 1;
  gateway.Script({{SendStatus::kInDoubt, "", 0, "timeout after send", {}},
                  {SendStatus::kTransient, "", 503, "http 503", {}},
                  {SendStatus::kTransient, "", 503, "http 503", {}},
                  // The second text: in doubt, then refused for good.
                  {SendStatus::kInDoubt, "", 0, "timeout after send", {}},
                  {SendStatus::kPermanent, "", 400, "invalid_body", {}}});
  auto dispatcher = Make(gateway, *store_);
  for (int i = 0; i < 8; ++i) {
    dispatcher.RunOnce("w");
    clock_.Advance(30s);
  }
  ASSERT_EQ(gateway.Sent().size(), 5u);
  EXPECT_EQ(db_.Query("SELECT string_agg(state || ':' || last_error, ',' ORDER BY last_error) "
                      "FROM outbox"),
            "in_doubt:gave up after 3 attempts: http 503; an earlier request may have reached "
            "the gateway,in_doubt:invalid_body; an earlier request may have reached the gateway");
  EXPECT_EQ(dispatcher.Status().in_doubt, 2);
  EXPECT_EQ(dispatcher.Status().failed, 0);

  for (const std::string& ref : {gateway.Sent()[0].client_ref, gateway.Sent()[3].client_ref}) {
    DeliveryReport report;
    report.gateway = "fake";
    report.message_ref = ref;
    report.state = ref == gateway.Sent()[0].client_ref ? DeliveryState::kDelivered
                                                       : DeliveryState::kUndeliverable;
    report.at = clock_.Now();
    EXPECT_TRUE(store_->ApplyDeliveryReport(report));
  }
  EXPECT_EQ(db_.Query("SELECT string_agg(state, ',' ORDER BY state) FROM outbox"),
            "delivered,undeliverable")
      << "the reports settle them";
}

// The store's own rule, whoever records the answer: a message given up on after a request
// that may have gone out is in doubt, as a cancelled or expired one is.
TEST_F(DispatchTest, AFailureRecordedForAMessageThatMayHaveGoneOutIsHeldInDoubt) {
  AddSurveys(1, clock_.Now(), clock_.Now() + 2h);
  db_.Query("UPDATE outbox SET maybe_sent = true");
  auto claimed = store_->ClaimDue(clock_.Now(), 1, "w", 60s);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_TRUE(claimed[0].maybe_sent) << "the claim says so, for the dispatcher's decision";
  ASSERT_TRUE(store_->BeginSend(claimed[0], "", clock_.Now(), 60s));
  store::SendRecord failed;
  failed.state = store::SendState::kFailed;
  failed.gateway = "fake";
  failed.http_status = 400;
  failed.error = "invalid_number";
  store_->RecordAttempt(claimed[0], failed, clock_.Now());
  EXPECT_EQ(State(0), "in_doubt");
}

TEST_F(DispatchTest, PermanentFailureStopsAndGivingUpIsRecorded) {
  AddSurveys(2, clock_.Now(), clock_.Now() + 2h);
  FakeGateway gateway;
  gateway.Script({{SendStatus::kPermanent, "", 400, "invalid_number", {}},
                  {SendStatus::kTransient, "", 503, "HTTP 503", {}},
                  {SendStatus::kTransient, "", 503, "HTTP 503", {}},
                  {SendStatus::kTransient, "", 503, "HTTP 503", {}}});
  auto dispatcher = Make(gateway, *store_);
  for (int i = 0; i < 5; ++i) {
    dispatcher.RunOnce("w1");
    clock_.Advance(30s);
  }
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'failed'"), "2");
  EXPECT_EQ(gateway.Sent().size(), 4u) << "1 permanent + 3 transient (max_attempts = 3)";
}

TEST_F(DispatchTest, UnsentMessagesExpire) {
  AddSurveys(1, clock_.Now(), clock_.Now() + 10min);
  FakeGateway gateway;
  gateway.Script({{SendStatus::kTransient, "", 503, "HTTP 503", {}}});
  auto dispatcher = Make(gateway, *store_);
  dispatcher.RunOnce("w1");
  clock_.Advance(11min);
  dispatcher.RunOnce("w1");
  EXPECT_EQ(State(0), "expired");
  EXPECT_EQ(gateway.Sent().size(), 1u);
}

TEST_F(DispatchTest, QuietHoursDeferToTheMorningAcrossTheClocksGoingBack) {
  auto rules = QuietRules();
  ASSERT_TRUE(rules);
  ASSERT_TRUE(rules->quiet_hours().enabled);
  // Saturday 24 October 2026, 22:30 BST (21:30 UTC); the clocks go back at 02:00 BST on Sunday.
  clock_.Set(At("2026-10-24T21:30:00Z"));
  AddSurveys(1, clock_.Now(), clock_.Now() + 24h);
  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_, [rules] { return rules; });
  dispatcher.RunOnce("w1");
  EXPECT_TRUE(gateway.Sent().empty());
  EXPECT_EQ(State(0), "pending");
  // The end of the quiet period is local (GMT by then), i.e. 09:00Z, not 08:00Z.
  const auto end = rules->quiet_hours().end_minute;
  const auto expected = rules->zone().FromLocal(2026, 10, 25, end / 60, end % 60);
  EXPECT_EQ(db_.Query("SELECT surveyd_epoch_us(next_attempt_at) FROM outbox"),
            std::to_string(expected.time_since_epoch().count()));
  clock_.Set(expected - 1min);
  dispatcher.RunOnce("w1");
  EXPECT_TRUE(gateway.Sent().empty());
  clock_.Set(expected);
  dispatcher.RunOnce("w1");
  EXPECT_EQ(gateway.Sent().size(), 1u);
}

TEST_F(DispatchTest, ATextThatReachesQuietHoursUnsentKeepsTheTimeItHadLeftForTheMorning) {
  // Due at 20:59 with two hours to go, first claimed at 21:01 (a backlog, a retry, a restart):
  // it waits for 09:00 with the 1 h 58 min it had left, and its survey stays open as long
  // after. Its deadline used to stay at 22:59: it expired unsent overnight.
  auto rules = QuietRules();
  ASSERT_TRUE(rules->quiet_hours().enabled);
  const TimePoint due = At("2026-12-07T20:59:00Z");  // GMT: local time is UTC
  AddSurveys(1, due, due + 2h);
  const std::string closes_before = db_.Query("SELECT surveyd_epoch_us(closes_at) FROM surveys");
  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_, [rules] { return rules; });
  clock_.Set(At("2026-12-07T21:01:00Z"));
  dispatcher.RunOnce("w1");
  EXPECT_TRUE(gateway.Sent().empty());
  EXPECT_EQ(State(0), "pending");
  const TimePoint morning = At("2026-12-08T09:00:00Z");
  const TimePoint deadline = morning + 1h + 58min;
  EXPECT_EQ(db_.Query("SELECT surveyd_epoch_us(expires_at) FROM surveys"),
            std::to_string(deadline.time_since_epoch().count()));
  EXPECT_EQ(std::stoll(db_.Query("SELECT surveyd_epoch_us(closes_at) FROM surveys")) -
                std::stoll(closes_before),
            std::chrono::duration_cast<std::chrono::microseconds>(deadline - (due + 2h)).count());
  // A poll in the night leaves it as it is.
  clock_.Set(At("2026-12-08T03:00:00Z"));
  dispatcher.RunOnce("w1");
  EXPECT_EQ(db_.Query("SELECT surveyd_epoch_us(expires_at) FROM surveys"),
            std::to_string(deadline.time_since_epoch().count()));
  clock_.Set(morning + 30min);
  dispatcher.RunOnce("w1");
  EXPECT_EQ(gateway.Sent().size(), 1u);
  EXPECT_EQ(State(0), "accepted");
}

TEST_F(DispatchTest, TwoDispatchersOnOneDatabaseNeverSendASurveyTwice) {
  constexpr int kMessages = 300;
  AddSurveys(kMessages, clock_.Now(), clock_.Now() + 2h);
  // Separate stores: separate connections, as two instances would have.
  auto other_store = store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"));
  FakeGateway gateway_a, gateway_b;
  options_.batch_size = 7;
  auto a = Make(gateway_a, *store_);
  auto b = Make(gateway_b, *other_store);
  auto drain = [](Dispatcher& d, const char* id) {
    while (d.RunOnce(id) > 0) {
    }
  };
  std::thread ta([&] { drain(a, "a"); });
  std::thread tb([&] { drain(b, "b"); });
  ta.join();
  tb.join();

  std::map<std::string, int> sends;
  for (const auto& sms : gateway_a.Sent()) ++sends[sms.to_e164];
  for (const auto& sms : gateway_b.Sent()) ++sends[sms.to_e164];
  EXPECT_EQ(sends.size(), static_cast<std::size_t>(kMessages));
  for (const auto& [number, count] : sends) EXPECT_EQ(count, 1);
  // Which instance wins each second's slots is a race (often one wins them all): 60 in all,
  // where two limiters of their own would have let 120 through, is what shows the rate shared.
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'accepted'"),
            std::to_string(kMessages));
}

// A text queued with a delay (every survey group has one) has a worker look when it is due: not
// at once, for a claim that would find nothing, and not at the next poll.
TEST_F(DispatchTest, ATextQueuedForLaterIsLookedForWhenDueNotBeforeAndNotAtThePoll) {
  FakeGateway gateway;
  options_.workers = 1;
  options_.poll_interval = 1h;
  std::atomic<int> looks{0};  // passes that went as far as claiming
  auto dispatcher = Make(gateway, *store_, [&looks, shipped = QuietRules()] {
    ++looks;
    return shipped;
  });
  dispatcher.Start();
  for (int i = 0; i < 500 && looks == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(looks, 1) << "a worker looks once when it starts";

  // Two texts, due in 1.5 and 3 s; the later is told first.
  const TimePoint first = clock_.Now() + 1500ms, second = clock_.Now() + 3s;
  AddSurveys(1, second, second + 2h, 1);
  dispatcher.WakeAt(second);
  AddSurveys(1, first, first + 2h);
  dispatcher.WakeAt(first);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(looks, 1) << "a worker looked before a text was due";
  clock_.Set(first);  // the claim's "now" is this clock's: from here on the first text is due
  const auto sent = [&gateway](std::size_t n) {
    for (int i = 0; i < 500 && gateway.Sent().size() < n; ++i) std::this_thread::sleep_for(10ms);
    return gateway.Sent().size();
  };
  EXPECT_EQ(sent(1), 1u) << "no worker looked when the first text was due";
  clock_.Set(second);
  EXPECT_EQ(sent(2), 2u) << "no worker looked when the second text was due";
  // The start's, and one for each due time: a pass that claimed less than it could took all
  // that was due, and does not look again at once.
  EXPECT_EQ(looks, 3);

  // One due already is looked for at once.
  AddSurveys(1, clock_.Now(), clock_.Now() + 2h, 2);
  dispatcher.WakeAt(clock_.Now() - 1s);
  EXPECT_EQ(sent(3), 3u);
  dispatcher.Stop();
}

// Every instance hears of a new text (LISTEN), and when it is due: the earliest of those one
// statement queued. A statement that queued nothing says nothing.
TEST_F(DispatchTest, TheNotificationOfANewTextSaysWhenItIsDue) {
  auto listener = store::MakeOutboxListener(db_.url());
  EXPECT_FALSE(listener->Wait(10ms));  // listening from here
  const TimePoint due = At("2026-11-26T12:00:30Z");
  AddSurveys(3, due, due + 2h);
  const auto told = listener->Wait(5s);
  ASSERT_TRUE(told);
  EXPECT_EQ(*told, due);
  db_.Query(
      "INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, updated_at) "
      "SELECT survey_id, client_ref, state, next_attempt_at, updated_at FROM outbox "
      "WHERE false");
  EXPECT_FALSE(listener->Wait(200ms));
}

// A notification is the fallback for texts no instance woke its own dispatcher for (the one
// that queued them woke it directly): a burst of them costs one look, a little after it.
TEST_F(DispatchTest, ABurstOfNotificationsCostsOneLookALittleAfterIt) {
  FakeGateway gateway;
  options_.workers = 1;
  options_.poll_interval = 1h;
  std::atomic<int> looks{0};
  Dispatcher dispatcher(
      options_, *store_, gateway, clock_,
      [&looks, shipped = QuietRules()] {
        ++looks;
        return shipped;
      },
      store::MakeOutboxListener(db_.url()));
  dispatcher.Start();
  for (int i = 0; i < 500 && looks == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(looks, 1) << "a worker looks once when it starts";
  std::this_thread::sleep_for(300ms);  // the listener is listening

  // Five statements queue a text each, due now, 15 ms apart; nobody calls WakeAt.
  const auto burst_began = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    AddSurveys(1, clock_.Now(), clock_.Now() + 2h, i);
    std::this_thread::sleep_for(15ms);
  }
  // On a loaded machine the burst can take longer than the 75 ms it is written to.
  const auto burst = std::chrono::steady_clock::now() - burst_began;
  for (int i = 0; i < 500 && gateway.Sent().size() < 5; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(gateway.Sent().size(), 5u) << "the notifications woke no worker";
  std::this_thread::sleep_for(300ms);
  // One look for the burst; two if it straddled the edge of a tenth of a second (the looks'
  // grain, as the dispatcher's kNotifiedGrain), one more for each further tenth it took.
  EXPECT_GE(looks, 2);
  EXPECT_LE(looks, 3 + static_cast<int>(burst / 100ms))
      << "each notification woke a worker of its own (the burst took "
      << std::chrono::duration_cast<std::chrono::milliseconds>(burst).count() << " ms)";
  dispatcher.Stop();
}

TEST_F(DispatchTest, StoppingHandsBackWhatWasClaimedButNotBegun) {
  // Stop comes while the worker decides its batch: nothing of it has gone out, so all of it
  // goes back at once rather than waiting for the lease.
  AddSurveys(5, clock_.Now(), clock_.Now() + 2h);
  FakeGateway gateway;
  options_.workers = 1;
  options_.batch_size = 5;
  std::atomic<bool> deciding{false}, release{false};
  auto shipped = QuietRules();
  Dispatcher dispatcher(options_, *store_, gateway, clock_, [&] {
    deciding = true;
    while (!release) std::this_thread::sleep_for(1ms);
    return shipped;
  });
  dispatcher.Start();
  while (!deciding) std::this_thread::sleep_for(1ms);
  std::thread stopper([&] { dispatcher.Stop(); });
  std::this_thread::sleep_for(50ms);  // Stop has said so; the worker is still deciding
  release = true;
  stopper.join();
  EXPECT_TRUE(gateway.Sent().empty());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'pending' AND claimed_by IS NULL"),
            "5");
}

// An outbox that runs `while_deciding` once, in a claim, before the dispatcher decides it: a
// worker stalled while it holds its claim.
class StallWhileDeciding final : public store::OutboxStore {
 public:
  StallWhileDeciding(store::OutboxStore& inner, std::function<void()> while_deciding)
      : inner_(inner), while_deciding_(std::move(while_deciding)) {}
  std::vector<store::OutboxMessage> ClaimAndBegin(TimePoint now, int limit,
                                                  const std::string& worker,
                                                  std::chrono::seconds lease,
                                                  std::chrono::seconds send_lease,
                                                  const EventScreen& screen,
                                                  const store::DecideClaimFn& decide) override {
    return inner_.ClaimAndBegin(now, limit, worker, lease, send_lease, screen,
                                [&](const std::vector<store::OutboxMessage>& claimed) {
                                  if (auto stall = std::exchange(while_deciding_, nullptr)) {
                                    stall();
                                  }
                                  return decide(claimed);
                                });
  }
  std::vector<store::OutboxMessage> ClaimDue(TimePoint now, int limit, const std::string& worker,
                                             std::chrono::seconds lease,
                                             const EventScreen& screen) override {
    return inner_.ClaimDue(now, limit, worker, lease, screen);
  }
  std::vector<int> BeginSends(const std::vector<store::SendStart>& starts, TimePoint now,
                              std::chrono::seconds send_lease) override {
    return inner_.BeginSends(starts, now, send_lease);
  }
  void RecordAttempts(const std::vector<store::Attempt>& attempts, TimePoint now) override {
    inner_.RecordAttempts(attempts, now);
  }
  void Reschedule(const std::vector<store::OutboxMessage>& messages, TimePoint at) override {
    inner_.Reschedule(messages, at);
  }
  void Cancel(const std::vector<store::Cancellation>& cancellations, const std::string& by,
              TimePoint now) override {
    inner_.Cancel(cancellations, by, now);
  }
  int RecoverStale(TimePoint now, bool resend_safe) override {
    return inner_.RecoverStale(now, resend_safe);
  }
  int ExpireOverdue(TimePoint now) override { return inner_.ExpireOverdue(now); }
  bool ApplyDeliveryReport(const DeliveryReport& report) override {
    return inner_.ApplyDeliveryReport(report);
  }
  int TakeSendSlots(const std::string& gateway, std::int64_t bucket, int wanted, int cap,
                    int span) override {
    return inner_.TakeSendSlots(gateway, bucket, wanted, cap, span);
  }
  void SettleSendSlots(const std::string& gateway, std::int64_t granted_bucket, int granted,
                       std::int64_t sent_bucket, int sent) override {
    inner_.SettleSendSlots(gateway, granted_bucket, granted, sent_bucket, sent);
  }
  void HoldGateway(const std::string& gateway, std::chrono::seconds wait) override {
    inner_.HoldGateway(gateway, wait);
  }
  std::optional<GatewayWait> GatewayHold(const std::string& gateway) override {
    return inner_.GatewayHold(gateway);
  }

 private:
  store::OutboxStore& inner_;
  std::function<void()> while_deciding_;
};

TEST_F(DispatchTest, AClaimIsHeldWhileItsWorkerDecidesAndOtherWorkersPassItBy) {
  // A claims ten and is still deciding them when B looks: B finds none of them free, and A
  // sends each once.
  AddSurveys(10, clock_.Now(), clock_.Now() + 2h);
  options_.batch_size = 10;
  auto other_store = store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"));
  FakeGateway gateway_a, gateway_b;
  auto shipped = QuietRules();
  std::unique_ptr<Dispatcher> b;
  StallWhileDeciding stalling(*store_, [&] {
    EXPECT_EQ(b->RunOnce("b"), 0) << "B claimed what A holds";
    EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'pending'"), "10")
        << "a claim writes nothing until it is decided";
  });
  Dispatcher a(options_, stalling, gateway_a, clock_, [shipped] { return shipped; });
  b = std::make_unique<Dispatcher>(options_, *other_store, gateway_b, clock_,
                                   [shipped] { return shipped; });
  EXPECT_EQ(a.RunOnce("a"), 10);
  EXPECT_EQ(gateway_a.Sent().size(), 10u);
  EXPECT_TRUE(gateway_b.Sent().empty());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'accepted'"), "10");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM send_attempts"), "10");
}

TEST_F(DispatchTest, AWorkerStuckDecidingPastItsLeaseLosesItsClaimAndSendsNothing) {
  // A claims ten and is stuck deciding them for longer than its lease: the database ends its
  // session, which lets the claim go; B claims them and sends them; A, when it comes back, finds
  // its connection gone and sends nothing.
  AddSurveys(10, clock_.Now(), clock_.Now() + 2h);
  options_.batch_size = 10;
  options_.lease = 1s;
  auto other_store = store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"));
  FakeGateway stuck, other;
  auto shipped = QuietRules();
  std::unique_ptr<Dispatcher> b;
  StallWhileDeciding stalling(*store_, [&] {
    std::this_thread::sleep_for(2500ms);
    EXPECT_EQ(b->RunOnce("b"), 10) << "the claim was let go: B takes them";
  });
  Dispatcher a(options_, stalling, stuck, clock_, [shipped] { return shipped; });
  b = std::make_unique<Dispatcher>(options_, *other_store, other, clock_,
                                   [shipped] { return shipped; });
  EXPECT_THROW(a.RunOnce("a"), store::Unavailable);

  std::map<std::string, int> requests;
  for (const auto& sms : other.Sent()) ++requests[sms.client_ref];
  EXPECT_EQ(requests.size(), 10u);
  for (const auto& [ref, count] : requests) EXPECT_EQ(count, 1) << ref;
  EXPECT_TRUE(stuck.Sent().empty());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'accepted'"), "10");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM send_attempts"), "10");
  // A's pool discarded the dead connection: A claims again as if nothing happened.
  AddSurveys(1, clock_.Now(), clock_.Now() + 2h, 10);
  EXPECT_EQ(a.RunOnce("a"), 1);
  EXPECT_EQ(stuck.Sent().size(), 1u);
}

TEST_F(DispatchTest, AnInstanceWhoseClockIsNotTrustedClaimsNothing) {
  // Its clock is far from the database's (app/components.hpp ClockComponent): quiet hours and
  // deadlines would be judged wrong, so it claims, sends, recovers and expires nothing.
  AddSurveys(3, clock_.Now(), clock_.Now() + 2h);
  AddSurveys(1, clock_.Now() - 3h, clock_.Now() - 1h, 3);  // overdue: the expiry pass's
  bool skewed = true;
  options_.hold_sends = [&skewed] { return skewed; };
  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 0);
  EXPECT_TRUE(dispatcher.Status().sends_held);
  EXPECT_TRUE(gateway.Sent().empty());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'pending'"), "4")
      << "nothing claimed nor expired";
  skewed = false;
  EXPECT_EQ(dispatcher.RunOnce("w1"), 3);
  EXPECT_FALSE(dispatcher.Status().sends_held);
  EXPECT_EQ(gateway.Sent().size(), 3u);
}

TEST_F(DispatchTest, AnOpsHoldStopsEveryTextOnEveryInstanceUntilReleased) {
  AddSurveys(3, clock_.Now(), clock_.Now() + 2h);
  AddSurveys(1, clock_.Now() - 3h, clock_.Now() - 1h, 3);  // overdue: it still expires
  const store::HoldOutcome held = store_->HoldSends("critical incident in Dudley", "cli:duty-ops");
  EXPECT_FALSE(held.already_held);
  EXPECT_EQ(held.hold.reason, "critical incident in Dudley");
  const store::HoldOutcome again = store_->HoldSends("another", "someone");
  EXPECT_TRUE(again.already_held) << "one hold at a time";
  EXPECT_EQ(again.hold.id, held.hold.id);
  EXPECT_EQ(again.hold.reason, "critical incident in Dudley");

  // A reads the hold for its status; B does not (as an instance that has not read it yet):
  // the claims themselves see it in the database.
  options_.ops_hold_interval = 0ms;
  options_.ops_hold = [this] { return store_->ActiveSendHold(); };
  FakeGateway gateway_a, gateway_b;
  auto a = Make(gateway_a, *store_);
  options_.ops_hold = nullptr;
  auto b = Make(gateway_b, *store_);
  EXPECT_EQ(a.RunOnce("a"), 0);
  EXPECT_EQ(b.RunOnce("b"), 0);
  EXPECT_TRUE(gateway_a.Sent().empty());
  EXPECT_TRUE(gateway_b.Sent().empty());
  const auto status = a.Status();
  EXPECT_TRUE(status.sends_held);
  ASSERT_TRUE(status.ops_hold.has_value());
  EXPECT_EQ(status.ops_hold->held_by, "cli:duty-ops");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'pending'"), "3");
  EXPECT_EQ(State(3), "expired") << "deadlines pass under a hold as ever";

  const store::ReleaseOutcome released =
      store_->ReleaseSends("cli:duty-ops", "incident stood down", false, clock_.Now());
  ASSERT_TRUE(released.released.has_value());
  EXPECT_EQ(released.released->id, held.hold.id);
  EXPECT_EQ(released.cancelled, 0);
  EXPECT_FALSE(store_->ReleaseSends("cli:duty-ops", "", false, clock_.Now()).released)
      << "nothing left to release";
  EXPECT_EQ(a.RunOnce("a"), 3);
  EXPECT_FALSE(a.Status().sends_held);
  EXPECT_FALSE(a.Status().ops_hold.has_value());
  EXPECT_EQ(gateway_a.Sent().size(), 3u);
  EXPECT_EQ(db_.Query("SELECT reason || '|' || held_by || '|' || released_by || '|' || "
                      "release_note || '|' || cancelled FROM send_holds"),
            "critical incident in Dudley|cli:duty-ops|cli:duty-ops|incident stood down|0");
}

// A hold stops the service texting people; the answer to a citizen who just texted that they
// are in danger (where to get help, replies.help_now) still goes, and only that.
TEST_F(DispatchTest, AnOpsHoldStillLetsWhereToGetHelpGo) {
  AddSurveys(3, clock_.Now(), clock_.Now() + 2h);
  const std::string now = "'" + FormatRfc3339(clock_.Now()) + "'::timestamptz";
  const std::string queue_text =
      "INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, updated_at, kind, "
      "body, expires_at) SELECT id, $$KIND-$$ || id || random(), 'pending', " +
      now + ", " + now + ", $$KIND$$, $$Call 999 now if you are in danger$$, " + now +
      " + interval '1 day' FROM surveys WHERE event_id = 'E-1'";
  auto queue = [&](const std::string& kind) {
    std::string sql = queue_text;
    for (auto at = sql.find("KIND"); at != std::string::npos; at = sql.find("KIND")) {
      sql.replace(at, 4, kind);
    }
    db_.Query(sql);
  };
  queue("help");
  queue("confirmation");
  store_->HoldSends("wrong template gone live", "ops");
  options_.ops_hold_interval = 0ms;
  options_.ops_hold = [this] { return store_->ActiveSendHold(); };
  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 1);
  ASSERT_EQ(gateway.Sent().size(), 1u);
  EXPECT_EQ(gateway.Sent()[0].body, "Call 999 now if you are in danger");
  EXPECT_EQ(gateway.Sent()[0].to_e164, "+447700900001");
  EXPECT_TRUE(dispatcher.Status().sends_held) << "everything else is still held";
  EXPECT_EQ(db_.Query("SELECT string_agg(kind || ':' || state, ' ' ORDER BY id) FROM outbox"),
            "survey:pending survey:pending survey:pending help:accepted confirmation:pending");
  EXPECT_EQ(dispatcher.RunOnce("w1"), 0);
  // A claim made in steps (ClaimDue, then BeginSend) lets it through as well, and nothing else.
  queue("help");
  auto claimed = store_->ClaimDue(clock_.Now(), 10, "old", 60s);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].kind, store::MessageKind::kHelp);
  EXPECT_TRUE(store_->BeginSend(claimed[0], "", clock_.Now(), 60s));
}

TEST_F(DispatchTest, ReleasingAHoldCanCancelTheTextsThatWaited) {
  // After a database restored to an earlier point, or when what waited should no longer go.
  // Only what fell due by the release waited: a text due later (an investigation's survey three
  // days on) never waited for the hold, and was cancelled with the rest.
  AddSurveys(3, clock_.Now(), clock_.Now() + 2h);
  AddSurveys(1, clock_.Now() + 72h, clock_.Now() + 74h, 3);
  store_->HoldSends("database restored from last night's backup", "ops");
  clock_.Advance(1min);
  const auto released = store_->ReleaseSends("ops", "", true, clock_.Now());
  EXPECT_EQ(released.cancelled, 3);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'cancelled' AND "
                      "cancel_reason = 'held_by_ops' AND cancelled_by = 'ops'"),
            "3");
  EXPECT_EQ(State(3), "pending");
  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 0);
  EXPECT_TRUE(gateway.Sent().empty());
  clock_.Advance(72h);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 1);
}

TEST_F(DispatchTest, AHoldWaitsForTheClaimsUnderWayAndNoSendBeginsAfterIt) {
  // A is deciding ten claimed texts when ops hold: the hold waits for A's claim to commit (those
  // ten go: they were begun first), and once it returns nothing more begins, by any path.
  AddSurveys(10, clock_.Now(), clock_.Now() + 2h);
  AddSurveys(2, clock_.Now(), clock_.Now() + 2h, 10);
  options_.batch_size = 10;
  auto other_store = store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"));
  FakeGateway gateway_a, gateway_b;
  std::future<store::HoldOutcome> hold;
  StallWhileDeciding stalling(*store_, [&] {
    hold = std::async(std::launch::async,
                      [&] { return other_store->HoldSends("wrong template", "ops"); });
    EXPECT_EQ(hold.wait_for(500ms), std::future_status::timeout)
        << "the hold did not wait for the claim under way";
  });
  auto shipped = QuietRules();
  Dispatcher a(options_, stalling, gateway_a, clock_, [shipped] { return shipped; });
  EXPECT_EQ(a.RunOnce("a"), 10);
  EXPECT_EQ(gateway_a.Sent().size(), 10u);
  const store::HoldOutcome outcome = hold.get();
  EXPECT_FALSE(outcome.already_held);
  EXPECT_GE(outcome.in_flight, 0);

  // The two left: neither a claim nor a claim made in steps begins them.
  EXPECT_EQ(a.RunOnce("a"), 0);
  EXPECT_TRUE(store_->ClaimDue(clock_.Now(), 10, "old", 60s).empty());
  store_->ReleaseSends("ops", "", false, clock_.Now());
  auto claimed = store_->ClaimDue(clock_.Now(), 10, "old", 60s);
  ASSERT_EQ(claimed.size(), 2u);
  store_->HoldSends("again", "ops");
  EXPECT_FALSE(store_->BeginSend(claimed[0], "", clock_.Now(), 60s))
      << "a claim made before the hold begins nothing after it";
  EXPECT_TRUE(gateway_b.Sent().empty());
}

TEST_F(DispatchTest, ATextRuledOutSinceItWasQueuedIsCancelledNotSent) {
  AddSurveys(3, clock_.Now(), clock_.Now() + 2h);
  // Stored under rules that did not look at the incident (as before a reload): a flag on a later
  // event of E-1's incident, and an opt-out for E-2's number made behind the store's back.
  IngestDomesticFlagBlindly("E-1-RD", EventType::kResourceDeparted, 1);
  db_.Query(
      "INSERT INTO opt_outs (phone_hash, source, at) SELECT phone_hash, 'test', now() FROM "
      "surveys WHERE event_id = 'E-2'");
  ASSERT_EQ(State(1), "pending");
  ASSERT_EQ(State(2), "pending");

  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 3);
  ASSERT_EQ(gateway.Sent().size(), 1u);
  EXPECT_EQ(State(0), "accepted");
  EXPECT_EQ(db_.Query("SELECT string_agg(concat_ws('|', s.event_id, o.state, o.cancel_reason, "
                      "o.cancelled_by), ',' ORDER BY s.event_id) FROM outbox o JOIN surveys s "
                      "ON s.id = o.survey_id WHERE o.state = 'cancelled'"),
            "E-1|cancelled|exclusion:domestic_abuse|dispatch,E-2|cancelled|opted_out|dispatch");
  EXPECT_EQ(dispatcher.Status().cancelled, 2);
}

// A notice about a survey ("use the link", "the survey has closed") is a police text about the
// contact as much as the survey's own: once a later event flags the incident DOMESTIC, it goes no
// more to what may be a shared phone. Where to get help still goes.
TEST_F(DispatchTest, ANoticeAboutAContactRuledOutSinceIsCancelledNotSent) {
  AddSurveys(2, clock_.Now(), clock_.Now() + 2h);
  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_);
  ASSERT_EQ(dispatcher.RunOnce("w1"), 2);
  ASSERT_EQ(gateway.Sent().size(), 2u);
  clock_.Advance(20min);
  const std::string now = "'" + FormatRfc3339(clock_.Now()) + "'::timestamptz";
  for (const char* event : {"E-0", "E-1"}) {
    for (const char* kind : {"link_reply", "closed", "help"}) {
      db_.Query(std::string("INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, "
                            "updated_at, kind, body, expires_at) SELECT id, 'ref-") +
                event + kind + "', 'pending', " + now + ", " + now + ", '" + kind + "', '" + event +
                " " + kind + "', " + now + " + interval '1 day' FROM surveys WHERE " +
                "event_id = '" + event + "'");
    }
  }
  // The incident's closure says it was domestic abuse, stored under rules blind to it (as before
  // a reload): the dispatcher decides each notice again before it goes.
  IngestDomesticFlagBlindly("E-1-IC", EventType::kIncidentClosed, 1);
  dispatcher.RunOnce("w1");
  std::vector<std::string> bodies;
  for (const auto& sms : gateway.Sent()) {
    if (sms.body.rfind("E-", 0) == 0) bodies.push_back(sms.body);  // not the surveys' own
  }
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(bodies,
            (std::vector<std::string>{"E-0 closed", "E-0 help", "E-0 link_reply", "E-1 help"}));
  EXPECT_EQ(db_.Query("SELECT string_agg(o.kind || ':' || o.cancel_reason, ',' ORDER BY o.id) "
                      "FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE "
                      "o.state = 'cancelled'"),
            "link_reply:exclusion:domestic_abuse,closed:exclusion:domestic_abuse");
}

TEST_F(DispatchTest, AnOptOutStopsEveryNoticeButItsConfirmationAndHelp) {
  // Notices queued for a number, then an opt-out made behind the store's back (as one recorded
  // while they were claimed): the notices about the survey are cancelled, not sent.
  AddSurveys(1, clock_.Now(), clock_.Now() + 2h);
  const std::string now = "'" + FormatRfc3339(clock_.Now()) + "'::timestamptz";
  for (const char* kind : {"closed", "link_reply", "confirmation", "help"}) {
    db_.Query(std::string("INSERT INTO outbox (survey_id, client_ref, state, next_attempt_at, "
                          "updated_at, kind, body, expires_at) SELECT id, 'ref-") +
              kind + "', 'pending', " + now + ", " + now + ", '" + kind + "', 'a " + kind +
              " text', " + now + " + interval '1 day' FROM surveys WHERE event_id = 'E-0'");
  }
  db_.Query(
      "INSERT INTO opt_outs (phone_hash, source, at) SELECT phone_hash, 'test', now() FROM "
      "surveys WHERE event_id = 'E-0'");
  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_);
  EXPECT_EQ(dispatcher.RunOnce("w1"), 5);
  std::vector<std::string> bodies;
  for (const auto& sms : gateway.Sent()) bodies.push_back(sms.body);
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(bodies, (std::vector<std::string>{"a confirmation text", "a help text"}));
  EXPECT_EQ(db_.Query("SELECT string_agg(kind || ':' || state || ':' || "
                      "COALESCE(cancel_reason, ''), ' ' ORDER BY id) FROM outbox"),
            "survey:cancelled:opted_out closed:cancelled:opted_out "
            "link_reply:cancelled:opted_out confirmation:accepted: help:accepted:");
}

TEST_F(DispatchTest, ARulesReloadThatAddsAnExclusionStopsTextsAlreadyQueued) {
  AddSurveys(2, clock_.Now(), clock_.Now() + 2h);
  std::ifstream file(std::string(SURVEYD_SOURCE_DIR) + "/config/rules.yaml");
  std::string yaml((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto at = yaml.find("\nexclusions:\n");
  ASSERT_NE(at, std::string::npos);
  yaml.insert(at + 13, "  - id: burglary_pause\n    type_codes: [\"BURG*\"]\n");
  auto reloaded = rules::LoadString(yaml, "reloaded.yaml");
  ASSERT_TRUE(reloaded.rules) << (reloaded.errors.empty() ? "" : reloaded.errors[0].ToString());
  FakeGateway gateway;
  auto dispatcher = Make(gateway, *store_, [rules = reloaded.rules] { return rules; });
  EXPECT_EQ(dispatcher.RunOnce("w1"), 2);
  EXPECT_TRUE(gateway.Sent().empty());
  EXPECT_EQ(db_.Query("SELECT string_agg(cancel_reason, ',') FROM outbox"),
            "exclusion:burglary_pause,exclusion:burglary_pause");
}

TEST_F(DispatchTest, WithoutRulesNothingIsSentAndTheTextWaits) {
  AddSurveys(1, clock_.Now(), clock_.Now() + 2h);
  FakeGateway gateway;
  Dispatcher dispatcher(options_, *store_, gateway, clock_,
                        [] { return std::shared_ptr<const rules::RuleSet>(); });
  dispatcher.RunOnce("w1");
  EXPECT_TRUE(gateway.Sent().empty());
  EXPECT_EQ(State(0), "pending");
}

TEST_F(DispatchTest, TheRateHoldsAcrossTwoInstancesUnderABurst) {
  // 120 texts due at once, two instances (separate connections) trying together every 20 ms for
  // three seconds, at 20 per second: no one-second window holds more than 20 sends, and the rate
  // is used (3 x 20).
  AddSurveys(120, clock_.Now(), clock_.Now() + 2h);
  options_.rate_per_second = 20;
  options_.batch_size = 50;
  auto other_store = store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"));
  FakeGateway gateway_a, gateway_b;
  std::vector<TimePoint> sent_at;
  Record(sent_at, {&gateway_a, &gateway_b});
  auto a = Make(gateway_a, *store_);
  auto b = Make(gateway_b, *other_store);
  RunTogether(a, b);
  EXPECT_EQ(MostInAnySecond(sent_at), 20u);
  EXPECT_EQ(sent_at.size(), 60u);
  // Which instance wins each second's slots is a race (often one wins them all): 60 in all,
  // where two limiters of their own would have let 120 through, is what shows the rate shared.
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'accepted'"), "60");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'pending'"), "60")
      << "what was not sent is handed back, not lost";
}

TEST_F(DispatchTest, TheRateHoldsAcrossInstancesWhoseClocksDiffer) {
  // As above, but b's clock runs half a second behind (within max_clock_skew, so it sends): by
  // its own clock it counts its sends in buckets that leave a's window half a second early, and
  // a sends again within a second of b. By the database's time (the skew the clock check
  // measured) they share one window.
  AddSurveys(120, clock_.Now() - 1s, clock_.Now() + 2h);
  options_.rate_per_second = 20;
  options_.batch_size = 50;
  auto other_store = store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"));
  ManualClock behind(clock_.Now() - 500ms);
  FakeGateway gateway_a, gateway_b;
  std::vector<TimePoint> sent_at;  // in true time: the gateway's
  Record(sent_at, {&gateway_a, &gateway_b});
  auto a = Make(gateway_a, *store_);
  DispatcherOptions b_options = options_;
  b_options.clock_skew = [] { return Duration(-500ms); };
  Dispatcher b(b_options, *other_store, gateway_b, behind,
               [shipped = QuietRules()] { return shipped; });
  // b first (the texts were due a second ago, by its clock too): its sends are the ones a's
  // window would lose early, and a would send again half a second after them.
  EXPECT_EQ(b.RunOnce("b"), 20);
  RunTogether(a, b, &behind);
  EXPECT_EQ(MostInAnySecond(sent_at), 20u);
  EXPECT_EQ(sent_at.size(), 60u);
}

TEST_F(DispatchTest, TheRateCountsEachSendWhenItGoesNotWhenItWasGranted) {
  // The first batch takes half a second between its grant and its requests (a slow claim, a
  // slow decision); the next ones none. Counted at the grant, the next grant would come just
  // over a second after the first and its sends within a second of the first batch's.
  AddSurveys(60, clock_.Now(), clock_.Now() + 2h);
  options_.rate_per_second = 20;
  options_.batch_size = 20;
  FakeGateway gateway;
  std::vector<TimePoint> sent_at;
  gateway.OnSend([&](const gateway::OutgoingSms&) { sent_at.push_back(clock_.Now()); });
  bool slow = true;
  auto dispatcher = Make(gateway, *store_, [&, shipped = QuietRules()] {
    if (slow) clock_.Advance(500ms);  // asked for the rules between the grant and the send
    slow = false;
    return shipped;
  });
  for (int step = 0; step < 200; ++step) {
    dispatcher.RunOnce("w");
    clock_.Advance(20ms);
  }
  ASSERT_EQ(sent_at.size(), 60u);
  EXPECT_EQ(MostInAnySecond(sent_at), 20u);
}

TEST_F(DispatchTest, TheBreakerStopsHammeringAFailingGatewayAndProbesItAgain) {
  AddSurveys(40, clock_.Now(), clock_.Now() + 2h);
  options_.batch_size = 10;
  options_.breaker = {.failures_to_open = 3, .open_for = 10s, .max_open_for = 60s};
  FakeGateway gateway;
  gateway.Script(
      std::vector<gateway::SendResult>(11, {SendStatus::kTransient, "", 503, "http 503", {}}));
  auto dispatcher = Make(gateway, *store_);
  EXPECT_EQ(dispatcher.RunOnce("w"), 10);
  EXPECT_EQ(dispatcher.Status().breaker, "open");
  EXPECT_EQ(dispatcher.Status().breaker_opened, 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(dispatcher.RunOnce("w"), 0) << "nothing while open";
  EXPECT_EQ(gateway.Sent().size(), 10u);

  clock_.Advance(10s);
  EXPECT_EQ(dispatcher.Status().breaker, "half_open");
  EXPECT_EQ(dispatcher.RunOnce("w"), 1) << "one probe";
  EXPECT_EQ(dispatcher.Status().breaker, "open") << "the probe failed: twice as long";
  clock_.Advance(10s);
  EXPECT_EQ(dispatcher.RunOnce("w"), 0);
  clock_.Advance(10s);
  EXPECT_EQ(dispatcher.RunOnce("w"), 1) << "the next probe";
  EXPECT_EQ(dispatcher.Status().breaker, "closed") << "it worked";
  EXPECT_EQ(dispatcher.RunOnce("w"), 10) << "a whole batch again";
  EXPECT_EQ(gateway.Sent().size(), 22u);
}

// A 429 with Retry-After: 120 holds every text, on every instance (one gateway account), for
// 120 s: surveyd delayed only the message that got it, and its breaker took the 429s for
// ordinary failures, probing after 15 s whatever the gateway asked. Another instance reads the
// wait from the database.
TEST_F(DispatchTest, AGatewaysRetryAfterHoldsEveryTextOnEveryInstanceUntilThen) {
  AddSurveys(40, clock_.Now(), clock_.Now() + 2h);
  options_.batch_size = 5;
  options_.gateway_wait_interval = 0ms;
  auto other_store = store::MakePgStore(testing::TestStoreOptions(db_.url(), 2, "phone-hash-key"));
  FakeGateway gateway_a, gateway_b;
  gateway_a.Script(
      std::vector<gateway::SendResult>(5, {SendStatus::kThrottled, "", 429, "http 429", 120s}));
  auto a = Make(gateway_a, *store_);
  auto b = Make(gateway_b, *other_store);
  EXPECT_EQ(a.RunOnce("a"), 5);
  EXPECT_EQ(db_.Query("SELECT asked_s FROM gateway_waits WHERE gateway = 'fake'"), "120");
  for (int second = 0; second < 120; ++second) {
    // The database's clock runs on its own while the test's moves: what is left of the wait is
    // set by the test's.
    db_.Query("UPDATE gateway_waits SET until = statement_timestamp() + interval '" +
              std::to_string(120 - second) + " seconds'");
    EXPECT_EQ(b.RunOnce("b"), 0) << "at +" << second << " s";
    EXPECT_EQ(a.RunOnce("a"), 0) << "at +" << second << " s";
    if (second == 60) {
      EXPECT_EQ(b.Status().gateway_wait, 120s);
      EXPECT_EQ(b.Status().breaker, "open");
    }
    clock_.Advance(1s);
  }
  EXPECT_EQ(gateway_a.Sent().size(), 5u);
  EXPECT_TRUE(gateway_b.Sent().empty());
  db_.Query("UPDATE gateway_waits SET until = statement_timestamp()");
  EXPECT_EQ(b.RunOnce("b"), 5) << "b's own breaker is closed: a whole batch";
  EXPECT_EQ(a.RunOnce("a"), 1) << "a probes (five 429s in a row)";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'accepted'"), "6");
}

TEST_F(DispatchTest, RefusedCredentialsStopSendingAtOnceAndAreNeverRetriedInALoop) {
  AddSurveys(5, clock_.Now(), clock_.Now() + 2h);
  options_.batch_size = 1;
  options_.breaker = {.failures_to_open = 5, .open_for = 10s, .max_open_for = 60s};
  FakeGateway gateway;
  gateway.Script({{SendStatus::kAuth, "", 401, "http 401: credentials refused", {}}});
  auto dispatcher = Make(gateway, *store_);
  EXPECT_EQ(dispatcher.RunOnce("w"), 1);
  EXPECT_TRUE(dispatcher.Status().gateway_auth_failing);
  EXPECT_EQ(dispatcher.Status().breaker, "open");
  for (int i = 0; i < 50; ++i) dispatcher.RunOnce("w");
  clock_.Advance(59s);
  for (int i = 0; i < 50; ++i) dispatcher.RunOnce("w");
  EXPECT_EQ(gateway.Sent().size(), 1u) << "one request, then nothing until the pause is over";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM outbox WHERE state = 'pending' AND attempts = 0 AND "
                      "last_error LIKE 'http 401%'"),
            "1")
      << "the message itself waits, it is not failed, and the refusal counts no attempt";
  clock_.Advance(1s);
  EXPECT_EQ(dispatcher.RunOnce("w"), 1) << "a probe once the pause is over";
  EXPECT_FALSE(dispatcher.Status().gateway_auth_failing);
  EXPECT_EQ(dispatcher.Status().breaker, "closed");
}

}  // namespace
}  // namespace surveyd::dispatch
