// The analytics store against the real database: rollups maintained by the triggers agree with
// the raw tables for every dimension and with analytics_rebuild(); the funnel counts each stage;
// responses page through once each; comments are masked and searchable; tokens and the audit
// trail round-trip.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "integration/test_database.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/core/time_zone.hpp"
#include "surveyd/store/pg_analytics.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::store {
namespace {

using namespace std::chrono_literals;
using testing::TestDatabase;

constexpr char kKey[] = "test-phone-hash-key-test-phone-hash";
constexpr int kEvents = 400;
const TimePoint kBase = ParseRfc3339("2026-10-20T00:00:00Z").value();
const TimePoint kNow = ParseRfc3339("2026-12-01T12:00:00Z").value();
const TimePoint kSweepTo = ParseRfc3339("2027-02-01T00:00:00Z").value();
const char* kTypeCodes[] = {"BURG", "THEFT", "ASB1", "RTC", "DOM"};

std::string Phone(int i) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "07700 9%05d", i);
  return buffer;
}

// A deterministic mix over ten days either side of the end of summer time (2026-10-25), with
// every grouping field varied and some left out.
Event MakeEvent(int i) {
  Event event;
  event.event_id = "EV-" + std::to_string(i);
  event.type = i % 3 == 0 ? EventType::kResourceDeparted : EventType::kCallEnded;
  event.occurred_at = kBase + std::chrono::minutes(36) * i;
  event.incident.id = "INC-" + std::to_string(i);
  event.incident.type_code = kTypeCodes[(i / 3) % 5];
  event.incident.category = std::vector<std::string>{"crime", "asb", "traffic"}[(i / 2) % 3];
  event.incident.grade = "P" + std::to_string((i / 5) % 4 + 1);
  event.incident.qualifiers = std::vector<std::string>{};
  event.incident.location.npu = "N" + std::to_string(i % 3);
  event.incident.location.beat = "B" + std::to_string(i % 6);
  if (event.type == EventType::kCallEnded) {
    event.call = Call{};
    event.call->id = "C" + std::to_string(i);
    event.call->channel = std::vector<std::string>{"999", "101", "online"}[(i / 7) % 3];
    event.call->handler_id = "OP" + std::to_string(i % 5);
    event.call->handler_team = "T" + std::to_string(i % 2);
  } else {
    event.resource = Resource{};
    event.resource->officer_id = "OF" + std::to_string(i % 7);
    event.resource->department = "D" + std::to_string(i % 3);
  }
  event.caller = Caller{};
  event.caller->phone = Phone(i);
  const int gender = (i / 11) % 3;
  if (gender < 2) event.caller->gender = gender == 0 ? "female" : "male";
  const int ages[] = {17, 22, 30, 40, 50, 60, 70, 80, -1};
  if (ages[(i / 13) % 9] >= 0) event.caller->age = ages[(i / 13) % 9];
  const int ethnicity = (i / 17) % 4;
  if (ethnicity < 3)
    event.caller->ethnicity = std::vector<std::string>{"W1", "A1", "B1"}[ethnicity];
  event.caller->language = i % 4 == 0 ? "pl" : "en";
  return event;
}

int IndexOf(const Event& event) { return std::stoi(event.event_id.substr(3)); }

Decision Decide(const Event& event, const ContactHistory& history, const RelatedEvents&) {
  const int i = IndexOf(event);
  Decision d;
  if (event.call && event.call->channel == "online") {
    d.outcome = Decision::Outcome::kIgnored;
    d.reason = "no_group";
    return d;
  }
  d.group = event.call ? "force_contact" : "attendance";
  if (event.incident.type_code == "DOM") {
    d.outcome = Decision::Outcome::kExcluded;
    d.reason = "exclusion:domestic";
    return d;
  }
  if (history.opted_out) {
    d.outcome = Decision::Outcome::kExcluded;
    d.reason = "opted_out";
    return d;
  }
  d.outcome = Decision::Outcome::kSurvey;
  d.reason = "survey";
  d.phone = phone::Normalize(*event.caller->phone);
  d.language = *event.caller->language;
  d.sms_template = "How did we do? {link}";
  if (i % 10 == 0) {
    d.deferred_by_quiet_hours = true;
    d.trace.push_back("quiet_hours");
  }
  d.trace.push_back("survey");
  d.send_at = event.occurred_at + std::chrono::hours(30) * ((i / 19) % 4);
  d.expires_at = i % 23 == 0 ? ParseRfc3339("2026-11-10T00:00:00Z").value()
                             : ParseRfc3339("2027-01-01T00:00:00Z").value();
  d.survey_closes_at = d.expires_at + std::chrono::hours(24 * 7);
  return d;
}

// What the test did, stage by stage, to check the funnel against.
struct Expected {
  std::map<std::string, std::int64_t> excluded_by_rule;
  std::int64_t events = 0, duplicates = 0, rejected = 0, ignored = 0, excluded = 0, deferred = 0,
               surveys = 0, cancelled = 0, waiting = 0, sent = 0, delivered = 0, failed = 0,
               expired_unsent = 0, opened = 0, answered = 0, expired = 0, opted_out = 0,
               comments = 0, refused = 0;
};

std::string Describe(const StatsResult& result) {
  std::ostringstream out;
  for (const auto& cell : result.cells) {
    for (const auto& key : cell.keys) out << (key ? *key : "<null>") << "|";
    out << " s=" << cell.surveys << " sent=" << cell.sent << " r=" << cell.reached
        << " a=" << cell.answered;
    for (const auto& [q, sums] : cell.questions) {
      out << " " << q << "=" << sums.respondents << "/" << sums.total << "/" << sums.top_box << "/"
          << sums.squares;
    }
    out << "\n";
  }
  return out.str();
}

class AnalyticsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new TestDatabase();
    // Hundreds of small transactions: not waiting for the disk at each commit keeps this to
    // seconds; nothing here depends on durability.
    db_->Query("ALTER DATABASE " + db_->name() + " SET synchronous_commit = off");
    store_ = MakePgStore(testing::TestStoreOptions(db_->url(), 2, kKey)).release();
    access_ = MakePgAccessStore(db_->url(), 1).release();
    analytics_ =
        MakePgAnalyticsStore({db_->url(), 2, std::chrono::milliseconds(30000), access_}).release();
    expected_ = new Expected();
    Load();
  }
  static void TearDownTestSuite() {
    delete access_;
    delete analytics_;
    delete store_;
    delete expected_;
    delete db_;
  }

  static void Load() {
    Expected& x = *expected_;
    std::vector<IngestItem> items;
    for (int i = 0; i < kEvents; ++i) {
      IngestItem item;
      item.source = "push";
      item.event = MakeEvent(i);
      item.event_id = item.event->event_id;
      item.raw = "{}";
      items.push_back(std::move(item));
    }
    // Two batches, the second repeating three events of the first, and a malformed line.
    std::vector<IngestItem> first(items.begin(), items.begin() + 250);
    std::vector<IngestItem> second(items.begin() + 247, items.end());
    IngestItem bad;
    bad.source = "tcp";
    bad.raw = "{not json";
    bad.reject_reason = "malformed JSON";
    second.push_back(bad);
    store_->IngestBatch(first, Decide);
    store_->IngestBatch(second, Decide);
    x.events = kEvents;
    x.duplicates = 3;
    x.rejected = 1;
    for (int i = 0; i < kEvents; ++i) {
      const Event event = MakeEvent(i);
      const Decision d = Decide(event, {}, {});
      if (d.outcome == Decision::Outcome::kIgnored) ++x.ignored;
      if (d.outcome == Decision::Outcome::kExcluded) {
        ++x.excluded;
        ++x.excluded_by_rule[d.reason];
      }
      if (d.outcome == Decision::Outcome::kSurvey) {
        ++x.surveys;
        if (d.deferred_by_quiet_hours) ++x.deferred;
      }
    }

    // Texts: some opt out before they go, some expire unsent, the rest are claimed and sent,
    // refused, retried, delivered, reported failed or never reported.
    std::map<std::int64_t, int> index_of_survey;
    std::istringstream ids(
        db_->Query("SELECT string_agg(id || ' ' || substr(event_id, 4), ' ') FROM surveys"));
    for (std::int64_t id = 0, i = 0; ids >> id >> i;) index_of_survey[id] = static_cast<int>(i);
    for (const auto& [survey_id, i] : index_of_survey) {
      if (i % 29 == 0) {
        store_->OptOut(phone::Normalize(Phone(i)).e164, "sms_reply", kNow - 48h);
        ++x.cancelled;
        ++x.opted_out;
      }
    }
    for (const auto& [survey_id, i] : index_of_survey) {
      if (i % 29 != 0 && i % 23 == 0) ++x.expired_unsent;
    }
    store_->ExpireOverdue(kNow);
    auto claimed = store_->ClaimDue(kNow, 1000, "test", 60s);
    std::set<std::int64_t> reached;
    for (auto& message : claimed) {
      ASSERT_TRUE(
          store_->BeginSend(message, "hash-" + std::to_string(message.survey_id), kNow, 60s));
      SendRecord record;
      record.gateway = "test";
      const int r = static_cast<int>(message.survey_id % 10);
      if (r == 0) {
        record.state = SendState::kFailed;
        record.error = "refused";
        ++x.failed;
        ++x.refused;
      } else if (r == 1) {
        record.state = SendState::kRetry;
        record.next_attempt_at = kNow + 1h;
        ++x.waiting;
      } else {
        record.state = SendState::kAccepted;
        record.gateway_message_id = "g" + std::to_string(message.id);
        ++x.sent;
      }
      store_->RecordAttempt(message, record, kNow);
      if (r < 2) continue;
      if (r <= 6 || r == 7) {
        DeliveryReport report;
        report.gateway = "test";
        report.gateway_message_id = record.gateway_message_id;
        report.state = r == 7 ? DeliveryState::kFailed : DeliveryState::kDelivered;
        report.at = kNow + 1min;
        store_->ApplyDeliveryReport(report);
        if (r == 7) {
          ++x.failed;
          continue;
        }
        ++x.delivered;
      }
      reached.insert(message.survey_id);
    }
    for (std::int64_t survey_id : reached) {
      if (survey_id % 3 != 0) {
        store_->MarkOpened(survey_id, kNow + 2min);
        ++x.opened;
      }
      if (survey_id % 4 == 3) {
        ++x.expired;
        continue;
      }
      SurveyAnswers answers;
      for (int k = 0; k < 5; ++k) answers.q[k] = static_cast<int>((survey_id * 7 + k * 3) % 11);
      if (survey_id % 5 == 0) answers.q[4].reset();
      if (survey_id % 6 == 0) {
        answers.comment = "I waited ages. Call me on 07700 900" + std::to_string(100 + survey_id) +
                          " or write to someone" + std::to_string(survey_id) + "@example.com";
        ++x.comments;
      }
      answers.language = "en";
      // Five instants a microsecond apart, in no order of the surveys': answers given at the
      // same time, and a time that a cursor to the millisecond would lose.
      const TimePoint answered_at = kNow + 3min + std::chrono::microseconds(survey_id * 7 % 5);
      ASSERT_EQ(store_->SubmitResponse(survey_id, answers, answered_at), SubmitOutcome::kStored);
      ++x.answered;
    }
    ASSERT_EQ(access_->SweepClosedSurveys(kSweepTo), x.expired);
    ASSERT_EQ(access_->SweepClosedSurveys(kSweepTo), 0) << "each survey is counted once";
  }

  static AnalyticsFilter Days() {
    AnalyticsFilter filter;
    filter.from_day = "2026-10-20";
    filter.to_day = "2026-10-29";
    return filter;
  }
  // The same period as instants, which only the raw tables can answer.
  static AnalyticsFilter Instants() {
    static const auto zone = TimeZone::Load("Europe/London");
    AnalyticsFilter filter;
    filter.from = zone->FromLocal(2026, 10, 20, 0, 0);
    filter.to = zone->FromLocal(2026, 10, 30, 0, 0);
    return filter;
  }

  // The rollups with everything queued folded in.
  static std::string Snapshot() {
    access_->FoldRollups();
    return db_->RollupRows();
  }

  static TestDatabase* db_;
  static Store* store_;
  static AnalyticsStore* analytics_;
  static AccessStore* access_;
  static Expected* expected_;
};

TestDatabase* AnalyticsTest::db_ = nullptr;
Store* AnalyticsTest::store_ = nullptr;
AnalyticsStore* AnalyticsTest::analytics_ = nullptr;
AccessStore* AnalyticsTest::access_ = nullptr;
Expected* AnalyticsTest::expected_ = nullptr;

TEST_F(AnalyticsTest, EveryBreakdownFromTheRollupsEqualsTheRawTables) {
  for (Dimension d : AllDimensions()) {
    if (d == Dimension::kQuestion) continue;
    SCOPED_TRACE(DimensionName(d));
    const auto rollup = analytics_->Stats(Days(), {d});
    const auto raw = analytics_->Stats(Instants(), {d});
    EXPECT_TRUE(rollup.from_rollups) << "some cube holds " << DimensionName(d);
    EXPECT_FALSE(raw.from_rollups);
    if (d != Dimension::kMonth) {
      EXPECT_GT(rollup.cells.size(), 1u) << "all in October";
    }
    EXPECT_EQ(Describe(rollup), Describe(raw));
  }
  // The time breakdowns together with a cube's dimensions, and two of a cube's at once.
  for (const std::vector<Dimension>& group_by :
       std::vector<std::vector<Dimension>>{{Dimension::kDay, Dimension::kSurveyGroup},
                                           {Dimension::kHour, Dimension::kChannel},
                                           {Dimension::kWeek, Dimension::kOfficer},
                                           {Dimension::kGender, Dimension::kAgeBand},
                                           {Dimension::kDayOfWeek, Dimension::kMonth}}) {
    const auto rollup = analytics_->Stats(Days(), group_by);
    EXPECT_TRUE(rollup.from_rollups);
    EXPECT_EQ(Describe(rollup), Describe(analytics_->Stats(Instants(), group_by)));
  }
}

TEST_F(AnalyticsTest, EveryFilterFromTheRollupsEqualsTheRawTables) {
  for (Dimension d : AllDimensions()) {
    if (!IsFilter(d)) continue;
    SCOPED_TRACE(DimensionName(d));
    const auto breakdown = analytics_->Stats(Days(), {d});
    std::optional<std::string> value;
    const StatsCell* expected = nullptr;
    for (const auto& cell : breakdown.cells) {
      if (cell.keys[0]) {
        value = cell.keys[0];
        expected = &cell;
        break;
      }
    }
    ASSERT_TRUE(value.has_value());
    AnalyticsFilter days = Days();
    days.values = {{d, {*value, "no-such-value' OR 1=1 --"}}};
    AnalyticsFilter instants = Instants();
    instants.values = days.values;
    const auto rollup = analytics_->Stats(days, {});
    const auto raw = analytics_->Stats(instants, {});
    EXPECT_TRUE(rollup.from_rollups);
    ASSERT_EQ(rollup.cells.size(), 1u);
    EXPECT_EQ(Describe(rollup), Describe(raw));
    EXPECT_EQ(rollup.cells[0].surveys, expected->surveys);
    EXPECT_EQ(rollup.cells[0].answered, expected->answered);

    // By day under the one value: a daily cube's rows are then read as they are and added up by
    // the store (analytics_sql.cpp: RowsAreCells), a row per survey group and department.
    days.values = {{d, {*value}}};
    instants.values = days.values;
    const auto by_day = analytics_->Stats(days, {Dimension::kDay});
    EXPECT_TRUE(by_day.from_rollups);
    EXPECT_GT(by_day.cells.size(), 1u);
    EXPECT_EQ(Describe(by_day), Describe(analytics_->Stats(instants, {Dimension::kDay})));
  }
}

TEST_F(AnalyticsTest, DimensionsNoCubeHoldsTogetherComeFromTheRawTables) {
  AnalyticsFilter filter = Days();
  filter.values = {{Dimension::kGender, {"female"}}};
  const auto result = analytics_->Stats(filter, {Dimension::kNpu});
  EXPECT_FALSE(result.from_rollups);
  std::int64_t surveys = 0;
  for (const auto& cell : result.cells) surveys += cell.surveys;
  EXPECT_EQ(surveys, analytics_->Stats(filter, {}).cells.at(0).surveys);
}

// Periods are read from whole months of the monthly cube (9) and the days at either end of it.
TEST_F(AnalyticsTest, PeriodsReadFromWholeMonthsEqualTheRawTables) {
  // The load's changes wait in the queue until a fold (a read folds first): when this test runs
  // before any read, the monthly cube is still empty.
  access_->FoldRollups();
  EXPECT_GT(std::stoi(db_->Query("SELECT count(*) FROM analytics_cells WHERE cube = 9")), 0);
  EXPECT_GT(std::stoi(db_->Query("SELECT count(*) FROM analytics_scores WHERE cube = 9")), 0);
  static const auto zone = TimeZone::Load("Europe/London");
  struct Period {
    const char* from;
    const char* to;
    int from_y, from_m, from_d, after_y, after_m, after_d;  // the local day after `to`
  };
  for (const Period& p :
       std::vector<Period>{{"2026-10-01", "2026-10-31", 2026, 10, 1, 2026, 11, 1},
                           {"2026-09-15", "2026-10-31", 2026, 9, 15, 2026, 11, 1},
                           {"2026-10-01", "2026-11-10", 2026, 10, 1, 2026, 11, 11},
                           {"2026-10-22", "2026-11-30", 2026, 10, 22, 2026, 12, 1},
                           {"2026-10-22", "2026-10-26", 2026, 10, 22, 2026, 10, 27},
                           {"2026-10-25", "2026-12-31", 2026, 10, 25, 2027, 1, 1}}) {
    SCOPED_TRACE(std::string(p.from) + " " + p.to);
    AnalyticsFilter days;
    days.from_day = p.from;
    days.to_day = p.to;
    AnalyticsFilter instants;
    instants.from = zone->FromLocal(p.from_y, p.from_m, p.from_d, 0, 0);
    instants.to = zone->FromLocal(p.after_y, p.after_m, p.after_d, 0, 0);
    for (const std::vector<Dimension>& group_by : std::vector<std::vector<Dimension>>{
             {}, {Dimension::kMonth}, {Dimension::kSurveyGroup, Dimension::kMonth}}) {
      const auto rollup = analytics_->Stats(days, group_by);
      EXPECT_TRUE(rollup.from_rollups);
      EXPECT_EQ(Describe(rollup), Describe(analytics_->Stats(instants, group_by)));
    }
    days.values = instants.values = {{Dimension::kSurveyGroup, {"attendance"}}};
    EXPECT_EQ(Describe(analytics_->Stats(days, {})), Describe(analytics_->Stats(instants, {})));
  }
}

TEST_F(AnalyticsTest, LocalDaysFollowSummerTime) {
  // 2026-10-24 23:30Z is 00:30 on the 25th in BST; 2026-10-26 23:30Z is still the 26th (GMT).
  AnalyticsFilter day = Days();
  day.from_day = "2026-10-25";
  day.to_day = "2026-10-25";
  static const auto zone = TimeZone::Load("Europe/London");
  AnalyticsFilter instants;
  instants.from = zone->FromLocal(2026, 10, 25, 0, 0);
  instants.to = zone->FromLocal(2026, 10, 26, 0, 0);
  EXPECT_EQ(*instants.to - *instants.from, 25h) << "the day the clocks go back";
  EXPECT_EQ(Describe(analytics_->Stats(day, {Dimension::kHour})),
            Describe(analytics_->Stats(instants, {Dimension::kHour})));
}

TEST_F(AnalyticsTest, TheTriggersKeepWhatARebuildDerives) {
  const std::string maintained = Snapshot();
  ASSERT_FALSE(maintained.empty());
  // (JIT would compile each statement for a table this small.)
  db_->Query("SET jit = off; SELECT analytics_rebuild('" + FormatRfc3339(kSweepTo) + "')");
  EXPECT_EQ(db_->Query("SELECT (SELECT count(*) FROM analytics_cell_queue) + "
                       "(SELECT count(*) FROM analytics_event_queue) + "
                       "(SELECT count(*) FROM analytics_score_queue)"),
            "0")
      << "a rebuild empties the queues: the raw tables hold what they held";
  EXPECT_EQ(Snapshot(), maintained);
}

TEST_F(AnalyticsTest, QueuedChangesAreFoldedOnceAndAReadFoldsFirst) {
  // A survey on a day of its own, outside every other test's period.
  AnalyticsFilter day;
  day.from_day = day.to_day = "2026-09-01";
  auto surveys_that_day = [&] {
    std::int64_t surveys = 0;
    for (const auto& cell : analytics_->Stats(day, {}).cells) surveys += cell.surveys;
    return surveys;
  };
  ASSERT_EQ(surveys_that_day(), 0);
  int i = 0;
  while (Decide(MakeEvent(i), {}, {}).outcome != Decision::Outcome::kSurvey) ++i;
  IngestItem item;
  item.source = "push";
  item.event = MakeEvent(i);
  item.event->event_id = "EV-" + std::to_string(kEvents + 1);  // Decide reads the index
  item.event->incident.id = "INC-FOLD-1";
  item.event->occurred_at = ParseRfc3339("2026-09-01T10:00:00Z").value();
  item.event->caller->phone = "+447700900999";
  item.event_id = item.event->event_id;
  item.raw = "{}";
  store_->IngestBatch({item}, Decide);
  // Its changes wait in the queue until a fold; the read folds them in first.
  EXPECT_NE(db_->Query("SELECT count(*) FROM analytics_cell_queue"), "0");
  EXPECT_EQ(surveys_that_day(), 1);
  EXPECT_EQ(db_->Query("SELECT count(*) FROM analytics_cell_queue"), "0");
  EXPECT_EQ(access_->FoldRollups(), 0) << "nothing is added twice";
  EXPECT_EQ(surveys_that_day(), 1);

  // A citizen's writes queue their changes too (migration 0016): an open, an answer, and its
  // scores changed afterwards (as a reply by SMS completes one) wait for the fold.
  const auto survey_id =
      std::stoll(db_->Query("SELECT id FROM surveys WHERE event_id = '" + item.event_id + "'"));
  store_->MarkOpened(survey_id, ParseRfc3339("2026-09-01T10:05:00Z").value());
  SurveyAnswers answers;
  answers.q[0] = 9;
  answers.q[1] = 7;
  answers.q[2] = 8;
  answers.q[4] = 10;
  answers.language = "en";
  ASSERT_EQ(
      store_->SubmitResponse(survey_id, answers, ParseRfc3339("2026-09-01T10:06:00Z").value()),
      SubmitOutcome::kStored);
  EXPECT_EQ(db_->Query("SELECT count(*) FROM analytics_cell_queue"), "2") << "opened, answered";
  EXPECT_EQ(db_->Query("SELECT count(*) FROM analytics_score_queue WHERE direction = 1 "
                       "AND q1 = 9 AND q4 IS NULL AND q5 = 10"),
            "1");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM analytics_score_queue"), "1");
  db_->Query("UPDATE responses SET q1 = 3, q4 = 8 WHERE survey_id = " + std::to_string(survey_id));
  EXPECT_EQ(db_->Query("SELECT string_agg(direction || ':' || q1 || ':' || COALESCE(q4, -1), ' ' "
                       "ORDER BY id) FROM analytics_score_queue"),
            "1:9:-1 -1:9:-1 1:3:8")
      << "the old answers out, the new in; the comment never queued";
  const auto result = analytics_->Stats(day, {});
  ASSERT_EQ(result.cells.size(), 1U);
  const StatsCell& cell = result.cells[0];
  EXPECT_EQ(cell.answered, 1);
  EXPECT_EQ(cell.questions.at("q1").respondents, 1);
  EXPECT_EQ(cell.questions.at("q1").total, 3);
  EXPECT_EQ(cell.questions.at("q1").top_box, 0);
  EXPECT_EQ(cell.questions.at("q4").respondents, 1);
  EXPECT_EQ(cell.questions.at("q4").top_box, 1);
  EXPECT_EQ(cell.questions.at("q5").total, 10);
  EXPECT_EQ(db_->Query("SELECT (SELECT count(*) FROM analytics_cell_queue) + "
                       "(SELECT count(*) FROM analytics_score_queue)"),
            "0");
  EXPECT_EQ(
      db_->Query("SELECT sum(opened) FROM analytics_cells WHERE cube = 0 AND day = '2026-09-01'"),
      "1");

  // A sweeper does not queue behind another fold: it leaves the changes to it, or to the next.
  db_->Query("UPDATE responses SET q1 = 5 WHERE survey_id = " + std::to_string(survey_id));
  {
    pqxx::connection other(db_->url());
    pqxx::nontransaction folding(other);
    folding.exec("SELECT pg_advisory_lock(hashtext('surveyd.analytics_fold'))");
    EXPECT_EQ(access_->FoldRollupsIfFree(), std::nullopt);
    EXPECT_EQ(db_->Query("SELECT count(*) FROM analytics_score_queue"), "2");
    // Let go before the connection closes: its backend may outlive the close by a moment.
    folding.exec("SELECT pg_advisory_unlock(hashtext('surveyd.analytics_fold'))");
  }
  EXPECT_EQ(access_->FoldRollupsIfFree(), std::optional<int>(2)) << "its turn, once free";
  EXPECT_EQ(db_->Query("SELECT count(*) FROM analytics_score_queue"), "0");
}

// Reached is decided per text (delivered, taken with no report, or replied to) and answered
// needs a score, on both paths: the rollups counted reached by bucket alone (the API then took
// max(reached, answered) per cell) and answered counted a comment alone ("who is this?").
TEST_F(AnalyticsTest, ReachedIsDecidedPerTextAndAnsweredNeedsAScore) {
  // Twenty texts on a day of their own, closing after any sweep of these tests (none counts them
  // as closed, nor does a rebuild).
  const TimePoint contact = ParseRfc3339("2026-09-03T10:00:00Z").value();
  auto decide = [](const Event& event, const ContactHistory& history,
                   const RelatedEvents& related) {
    Decision d = Decide(event, history, related);
    d.expires_at = ParseRfc3339("2027-05-01T00:00:00Z").value();
    d.survey_closes_at = d.expires_at + std::chrono::hours(24 * 7);
    return d;
  };
  std::vector<IngestItem> items;
  for (int j = 0; j < 20; ++j) {
    IngestItem item;
    item.source = "push";
    item.event = MakeEvent(0);  // an attendance, surveyed
    item.event->event_id = "EV-" + std::to_string(20000 + j);
    item.event->incident.id = "INC-REACHED-" + std::to_string(j);
    item.event->occurred_at = contact + std::chrono::minutes(j);
    item.event->caller->phone = Phone(95000 + j);
    item.event_id = item.event->event_id;
    item.raw = "{}";
    items.push_back(std::move(item));
  }
  store_->IngestBatch(items, decide);
  std::vector<std::int64_t> ids;
  {
    std::istringstream text(db_->Query(
        "SELECT string_agg(id::text, ' ' ORDER BY contact_at) FROM surveys WHERE contact_at >= "
        "'2026-09-03T00:00:00Z' AND contact_at < '2026-09-04T00:00:00Z'"));
    for (std::int64_t id = 0; text >> id;) ids.push_back(id);
  }
  ASSERT_EQ(ids.size(), 20u);
  std::map<std::int64_t, std::string> gateway_ids;
  for (auto& message : store_->ClaimDue(kNow, 1000, "test", 60s)) {
    if (std::find(ids.begin(), ids.end(), message.survey_id) == ids.end()) continue;
    ASSERT_TRUE(
        store_->BeginSend(message, "hash-r" + std::to_string(message.survey_id), kNow, 60s));
    SendRecord record;
    record.gateway = "test";
    record.state = SendState::kAccepted;
    record.gateway_message_id = "gr" + std::to_string(message.id);
    store_->RecordAttempt(message, record, kNow);
    gateway_ids[message.survey_id] = record.gateway_message_id;
  }
  ASSERT_EQ(gateway_ids.size(), 20u);
  auto report = [&](int k, DeliveryState state) {
    DeliveryReport r;
    r.gateway = "test";
    r.gateway_message_id = gateway_ids[ids[static_cast<std::size_t>(k)]];
    r.state = state;
    r.at = kNow + 1min;
    store_->ApplyDeliveryReport(r);
  };
  auto reply = [&](int k, bool scored) {
    SurveyAnswers answers;
    if (scored) {
      answers.q[0] = 6 + k % 5;
      answers.q[2] = k % 11;
    } else {
      answers.comment = "who is this? I never called the police";
    }
    answers.language = "en";
    ASSERT_EQ(store_->SubmitResponse(ids[static_cast<std::size_t>(k)], answers, kNow + 3min),
              SubmitOutcome::kStored);
  };
  // 0-4 delivered and answered; 5-9 taken with no report, unanswered; 10-14 answered though
  // reported failed after the gateway took them (10-12 answered before the report, 13-14
  // after); 15-19 delivered and replied to with a comment alone.
  for (int k = 0; k < 20; ++k) {
    if (k < 5 || k >= 15) report(k, DeliveryState::kDelivered);
    if (k >= 13 && k < 15) report(k, DeliveryState::kFailed);
    if (k < 5 || k >= 10) reply(k, k < 15);
    if (k >= 10 && k < 13) report(k, DeliveryState::kFailed);
  }

  AnalyticsFilter day;
  day.from_day = day.to_day = "2026-09-03";
  static const auto zone = TimeZone::Load("Europe/London");
  AnalyticsFilter instants;
  instants.from = zone->FromLocal(2026, 9, 3, 0, 0);
  instants.to = zone->FromLocal(2026, 9, 4, 0, 0);
  auto check = [&](std::int64_t answered, std::int64_t q2) {
    for (const AnalyticsFilter& filter : {day, instants}) {
      const auto result = analytics_->Stats(filter, {});
      SCOPED_TRACE(result.from_rollups ? "rollups" : "raw tables");
      ASSERT_EQ(result.cells.size(), 1u);
      const StatsCell& cell = result.cells[0];
      EXPECT_EQ(cell.surveys, 20);
      EXPECT_EQ(cell.sent, 20);
      EXPECT_EQ(cell.reached, 20) << "10 delivered, 5 unreported, 5 reported failed and answered";
      EXPECT_EQ(cell.answered, answered) << "the replies of a comment alone answered nothing";
      EXPECT_EQ(cell.questions.at("q1").respondents, 10);
      EXPECT_EQ(cell.questions.count("q2"), q2 ? 1u : 0u) << "a question nobody answered";
      if (q2) EXPECT_EQ(cell.questions.at("q2").respondents, q2);
    }
    EXPECT_EQ(Describe(analytics_->Stats(day, {})), Describe(analytics_->Stats(instants, {})));
    EXPECT_EQ(Describe(analytics_->Stats(day, {Dimension::kDay})),
              Describe(analytics_->Stats(instants, {Dimension::kDay})));
    EXPECT_EQ(Describe(analytics_->Stats(day, {Dimension::kChannel})),
              Describe(analytics_->Stats(instants, {Dimension::kChannel})));
    std::int64_t funnel_answered = 0;
    for (const auto& row : analytics_->Funnel(day)) funnel_answered += row.answered;
    EXPECT_EQ(funnel_answered, answered) << "the funnel counts answers as /stats does";
  };
  {
    SCOPED_TRACE("as replied");
    check(10, 0);
  }
  // A reply that answers nothing is kept, and found, as any comment is.
  ResponseQuery comments;
  comments.filter = day;
  comments.comments_only = true;
  comments.search = "police";
  EXPECT_EQ(analytics_->Responses(comments).records.size(), 5u);
  // A comment first, then a score by a later text (as a two-way reply completes a response):
  // answered; that score taken back: no longer, and q2 has nobody again, though the rollups keep
  // its row (at 0).
  const std::string later = std::to_string(ids[15]);
  db_->Query("UPDATE responses SET q2 = 9 WHERE survey_id = " + later);
  {
    SCOPED_TRACE("a score added");
    check(11, 1);
  }
  db_->Query("UPDATE responses SET q2 = NULL WHERE survey_id = " + later);
  {
    SCOPED_TRACE("the score taken back");
    check(10, 0);
  }
  EXPECT_EQ(db_->Query("SELECT count(*) FROM analytics_scores WHERE cube = 0 AND day = "
                       "'2026-09-03' AND question = 'q2' AND respondents = 0"),
            "1");
  // A failed text answered, then found delivered after all (as a repair would set it), moves out
  // of the replies not reported reached and is reached once.
  db_->Query("UPDATE outbox SET state = 'delivered' WHERE kind = 'survey' AND survey_id = " +
             std::to_string(ids[10]));
  {
    SCOPED_TRACE("a report after the answer");
    check(10, 0);
  }

  const std::string maintained = Snapshot();
  db_->Query("SET jit = off; SELECT analytics_rebuild('" + FormatRfc3339(kSweepTo) + "')");
  EXPECT_EQ(Snapshot(), maintained) << "the triggers keep what a rebuild derives";
}

TEST_F(AnalyticsTest, AFoldTakesEachBatchByKeyHoweverLongTheQueue) {
  // Each batch was taken with a semi-join that read the whole queue, so the longer the backlog,
  // the slower every batch (migration 0025). Counted in scans of the queues, not in time.
  pqxx::connection connection(db_->url());
  pqxx::work txn(connection);  // never committed: the rows below are for the plan alone
  txn.exec0("SET LOCAL jit = off");
  const auto queued = [&txn] {
    return txn
        .exec1(
            "SELECT (SELECT count(*) FROM analytics_cell_queue) + "
            "(SELECT count(*) FROM analytics_score_queue) + "
            "(SELECT count(*) FROM analytics_event_queue)")[0]
        .as<std::int64_t>();
  };
  const std::int64_t before = queued();
  // Changes of surveys that do not exist fold into nothing, which is all a plan needs; and
  // statistics of a long queue, as a backlog leaves them.
  txn.exec0(
      "INSERT INTO analytics_cell_queue (delta) "
      "SELECT analytics_delta_of(-i, 1, surveys => 1) FROM generate_series(1, 20000) AS i");
  txn.exec0(
      "INSERT INTO analytics_score_queue (survey_id, direction, q1) "
      "SELECT -i, 1, 5 FROM generate_series(1, 20000) AS i");
  txn.exec0(
      "INSERT INTO analytics_event_queue (day, group_id, outcome, reason, events, "
      "duplicates, deferred) SELECT '2026-09-02', 'fold-plan', 'excluded', 'none', 1, 0, 0 "
      "FROM generate_series(1, 20000)");
  txn.exec0("ANALYZE analytics_cell_queue, analytics_score_queue, analytics_event_queue");
  const auto scans = [&txn] {
    return txn
        .exec1(
            "SELECT string_agg(relname || ' ' || seq_scan, ', ' ORDER BY relname) "
            "FROM pg_stat_xact_user_tables WHERE relname LIKE 'analytics\\_%\\_queue'")[0]
        .as<std::string>();
  };
  const std::string scans_before = scans();
  EXPECT_EQ(txn.exec1("SELECT analytics_fold(5000, 1)")[0].as<int>(), 15000);
  EXPECT_EQ(scans(), scans_before) << "a queue read whole (sequential scans) to take one batch";
  EXPECT_EQ(queued(), before + 60000 - 15000) << "one batch taken from each queue";
}

TEST_F(AnalyticsTest, TheFunnelCountsEachStage) {
  const Expected& x = *expected_;
  auto rows = analytics_->Funnel(Days());
  FunnelRow total;
  std::map<std::string, std::int64_t> excluded_by_rule;
  for (const auto& r : rows) {
    total.received += r.received;
    total.rejected += r.rejected;
    total.duplicates += r.duplicates;
    total.ignored += r.ignored;
    total.excluded += r.excluded;
    total.deferred += r.deferred;
    total.surveys += r.surveys;
    total.cancelled += r.cancelled;
    total.waiting += r.waiting;
    total.sent += r.sent;
    total.delivered += r.delivered;
    total.failed += r.failed;
    total.expired_unsent += r.expired_unsent;
    total.opened += r.opened;
    total.answered += r.answered;
    total.expired += r.expired;
    total.opted_out += r.opted_out;
    for (const auto& [rule, n] : r.excluded_by_rule) excluded_by_rule[rule] += n;
    if (r.group.empty()) {
      EXPECT_EQ(r.surveys, 0) << "no surveys without a group";
    } else {
      EXPECT_TRUE(r.group == "force_contact" || r.group == "attendance") << r.group;
    }
  }
  // The malformed line arrived today, outside the period; in a period covering today it counts.
  EXPECT_EQ(total.rejected, 0);
  EXPECT_EQ(total.received, x.events + x.duplicates);
  EXPECT_EQ(total.duplicates, x.duplicates);
  EXPECT_EQ(total.ignored, x.ignored);
  EXPECT_EQ(total.excluded, x.excluded);
  EXPECT_EQ(excluded_by_rule, x.excluded_by_rule);
  EXPECT_EQ(total.deferred, x.deferred);
  EXPECT_EQ(total.surveys, x.surveys);
  EXPECT_EQ(total.cancelled, x.cancelled);
  EXPECT_EQ(total.waiting, x.waiting);
  EXPECT_EQ(total.sent, x.sent);
  EXPECT_EQ(total.delivered, x.delivered);
  EXPECT_EQ(total.failed, x.failed);
  EXPECT_EQ(total.expired_unsent, x.expired_unsent);
  EXPECT_EQ(total.opened, x.opened);
  EXPECT_EQ(total.answered, x.answered);
  EXPECT_EQ(total.expired, x.expired);
  EXPECT_EQ(total.opted_out, x.opted_out);
  EXPECT_EQ(total.surveys,
            total.cancelled + total.waiting + total.sent + x.refused + total.expired_unsent)
      << "every survey is in one state";

  AnalyticsFilter today;
  today.from_day = "2026-10-20";
  today.values = {{Dimension::kSurveyGroup, {"attendance"}}};
  rows = analytics_->Funnel(today);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].group, "attendance");
  AnalyticsFilter with_today;
  with_today.from_day = "2026-10-20";
  std::int64_t rejected = 0;
  for (const auto& r : analytics_->Funnel(with_today)) rejected += r.rejected;
  EXPECT_EQ(rejected, x.rejected);
  EXPECT_THROW(analytics_->Funnel(Instants()), std::invalid_argument);
}

TEST_F(AnalyticsTest, ResponsesPageThroughOnceEachNewestFirst) {
  // The answers were given at five instants a microsecond apart, many at each: pages of 7 end
  // within a run of answers given at the same time, and the next page goes on from there.
  ResponseQuery query;
  query.filter = Days();
  query.limit = 7;
  std::set<std::int64_t> seen;
  std::vector<std::int64_t> order;
  std::optional<std::pair<TimePoint, std::int64_t>> last;
  int pages = 0;
  int pages_ending_in_a_tie = 0;
  for (;;) {
    const auto page = analytics_->Responses(query);
    ++pages;
    for (const auto& r : page.records) {
      const std::pair<TimePoint, std::int64_t> key{r.submitted_at, r.survey_id};
      if (last) {
        EXPECT_LT(key, *last) << "newest answer first, then the higher survey id";
      }
      if (last && &r == &page.records.front() && r.submitted_at == last->first) {
        ++pages_ending_in_a_tie;
      }
      last = key;
      EXPECT_TRUE(seen.insert(r.survey_id).second) << r.survey_id << " again";
      order.push_back(r.survey_id);
      EXPECT_EQ(r.context.size(), 16u);
      EXPECT_EQ(r.comment.find("07700"), std::string::npos);
    }
    if (!page.next_after) {
      EXPECT_LE(page.records.size(), 7u);
      break;
    }
    EXPECT_EQ(page.records.size(), 7u);
    EXPECT_EQ(*page.next_after,
              (ResponseCursor{page.records.back().submitted_at, page.records.back().survey_id}));
    query.after = page.next_after;
  }
  EXPECT_EQ(static_cast<std::int64_t>(seen.size()), expected_->answered) << "none lost";
  EXPECT_EQ(pages, static_cast<int>((seen.size() + 6) / 7));
  EXPECT_GT(pages_ending_in_a_tie, 0) << "the data no longer tests ties across pages";
  // The same answers in one go, in the order the database sorts them.
  std::string listed;
  for (std::int64_t id : seen) listed += (listed.empty() ? "" : ",") + std::to_string(id);
  std::vector<std::int64_t> sorted;
  std::istringstream ids(db_->Query(
      "SELECT string_agg(survey_id::text, ' ' ORDER BY submitted_at DESC, survey_id DESC) "
      "FROM responses WHERE survey_id IN (" +
      listed + ")"));
  for (std::int64_t id = 0; ids >> id;) sorted.push_back(id);
  EXPECT_EQ(order, sorted);

  query = {};
  query.filter = Days();
  query.filter.values = {{Dimension::kNpu, {"N1"}}};
  query.limit = 1000;
  for (const auto& r : analytics_->Responses(query).records) {
    EXPECT_EQ(r.context[static_cast<std::size_t>(Dimension::kNpu)].second, "N1");
  }
}

TEST_F(AnalyticsTest, CommentsAreMaskedAndFoundWithStemming) {
  ResponseQuery query;
  query.filter = Days();  // the load's (other tests add comments on days of their own)
  query.comments_only = true;
  query.limit = 1000;
  const auto all = analytics_->Responses(query);
  ASSERT_EQ(static_cast<std::int64_t>(all.records.size()), expected_->comments);
  for (const auto& r : all.records) {
    EXPECT_EQ(r.comment.find("07700"), std::string::npos) << r.comment;
    EXPECT_EQ(r.comment.find("@example.com"), std::string::npos) << r.comment;
    EXPECT_NE(r.comment.find("[phone removed]"), std::string::npos) << r.comment;
    EXPECT_NE(r.comment.find("[email removed]"), std::string::npos) << r.comment;
  }
  query.search = "waiting";  // "waited" in the comments: the same stem
  EXPECT_EQ(analytics_->Responses(query).records.size(), all.records.size());
  query.search = "07700";
  EXPECT_TRUE(analytics_->Responses(query).records.empty()) << "numbers are not searchable";
  query.search = "example.com";
  EXPECT_TRUE(analytics_->Responses(query).records.empty()) << "addresses are not searchable";
  query.search = "\"waited ages\" -nothing";
  EXPECT_EQ(analytics_->Responses(query).records.size(), all.records.size());
  query.search = "' OR 1=1; DROP TABLE responses; --";
  EXPECT_TRUE(analytics_->Responses(query).records.empty());
}

TEST_F(AnalyticsTest, MaskingCoversCommonUkFormats) {
  const char* cases[][2] = {
      {"call 07700 900123 please", "call [phone removed] please"},
      {"07700900123", "[phone removed]"},
      {"+44 7700 900123", "[phone removed]"},
      {"+447700900123.", "[phone removed]."},
      {"0044 7700 900 123", "[phone removed]"},
      {"(0121) 496 0000", "[phone removed]"},
      {"0121-496-0000", "[phone removed]"},
      {"020 7946 0000", "[phone removed]"},
      {"+44 (0)20 7946 0000", "[phone removed]"},
      {"07700.900.123", "[phone removed]"},
      {"0 7 7 0 0 9 0 0 1 2 3", "[phone removed]"},
      {"07700\u00a0900123", "[phone removed]"},
      {"+1 212 555 0100", "[phone removed]"},
      {"a@b.co.uk or jane.doe+x@example.org", "[email removed] or [email removed]"},
      {"jane dot doe [at] example [dot] com", "[email removed]"},
      {"write to jane @ example . com", "write to [email removed]"},
      {"Jane Doe at Example dot co dot uk, thanks", "Jane [email removed], thanks"},
      {"I was at home, then at the station. At 5 we left",
       "I was at home, then at the station. At 5 we left"},
      {"a @ b", "a @ b"},
      {"waited 45 minutes, 10/10, on 12/03/2024 at 14:30",
       "waited 45 minutes, 10/10, on 12/03/2024 at 14:30"},
      {"ref 20/1234/24", "ref 20/1234/24"},
      // Written otherwise: across a line break (two texts joined), other dashes and spaces,
      // full-width digits; addresses half in words.
      {"call 07700\n900123", "call [phone removed]"},
      {"07700\u2013900123 or 07700 \u2013 900 123", "[phone removed] or [phone removed]"},
      {"07700\u2011900123", "[phone removed]"},
      {"07700\u202f900\u2009123", "[phone removed]"},
      {"\uff10\uff17\uff17\uff10\uff10 \uff19\uff10\uff10\uff11\uff12\uff13", "[phone removed]"},
      {"mail jane at gmail.com please", "mail [email removed] please"},
      {"jane.smith at example.co.uk", "[email removed]"},
      {"me at jane@gmail dot com", "me at [email removed]"},
      {"we met at 10.30 at the station", "we met at 10.30 at the station"},
      {"scores 7\n8\n9", "scores 7\n8\n9"},
      // Written with invisible characters, other spaces and hyphens, digits of other scripts
      // (Arabic, Urdu, Hindi, Bengali, Punjabi, Gujarati keyboards), another "@" (0042).
      {"call me back on 07700\u200b900971", "call me back on [phone removed]"},
      {"07700\u00ad900\u2060123 or \u202a07700 900123\u202c", "[phone removed] or [phone removed]"},
      {"07700\u2007900123, 07700\u2002900123, 07700\u3000900123",
       "[phone removed], [phone removed], [phone removed]"},
      {"\uff0b44\uff08\uff10\uff09\uff17\uff17\uff10\uff10\uff0d\uff19\uff10\uff10\uff11"
       "\uff12\uff13",
       "[phone removed]"},
      {"\u0660\u0667\u0667\u0660\u0660 \u0669\u0660\u0660\u0661\u0662\u0663", "[phone removed]"},
      {"\u06f0\u06f7\u06f7\u06f0\u06f0 \u06f9\u06f0\u06f0\u06f9\u06f7\u06f1", "[phone removed]"},
      {"\u0966\u096d\u096d\u0966\u0966\u096f\u0966\u0966\u0967\u0968\u0969", "[phone removed]"},
      {"\u09e6\u09ed\u09ed\u09e6\u09e6 \u09ef\u09e6\u09e6\u09e7\u09e8\u09e9", "[phone removed]"},
      {"\u0a66\u0a6d\u0a6d\u0a66\u0a66\u0a6f\u0a66\u0a66\u0a67\u0a68\u0a69", "[phone removed]"},
      {"jane\uff20gmail.com, jane\u200b@gmail.com and jo\ufe6bexample.org",
       "[email removed], [email removed] and [email removed]"},
      {"\u0661\u0660 out of \u0661\u0660, ref \u0662\u0660/\u0661\u0662\u0663\u0664",
       "\u0661\u0660 out of \u0661\u0660, ref \u0662\u0660/\u0661\u0662\u0663\u0664"},
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(db_->Query(std::string("SELECT surveyd_mask_contact_details('") + in + "')"), out)
        << in;
  }
}

TEST_F(AnalyticsTest, ASurveysTimelineHasEveryStep) {
  const auto id =
      std::stoll(db_->Query("SELECT s.id FROM surveys s JOIN outbox o ON o.survey_id = s.id "
                            "JOIN responses r ON r.survey_id = s.id WHERE o.state = 'delivered' "
                            "AND s.opened_at IS NOT NULL ORDER BY s.id LIMIT 1"));
  const auto t = analytics_->Timeline(id);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->message_state, "delivered");
  EXPECT_EQ(t->decision, "survey");
  EXPECT_EQ(t->attempts.size(), 1u);
  EXPECT_EQ(t->attempts[0].result, "accepted");
  ASSERT_EQ(t->reports.size(), 1u);
  EXPECT_EQ(t->reports[0].status, "delivered");
  EXPECT_TRUE(t->opened_at && t->responded_at);
  EXPECT_FALSE(analytics_->Timeline(999999).has_value());
  const auto cancelled = std::stoll(
      db_->Query("SELECT survey_id FROM outbox WHERE state = 'cancelled' ORDER BY 1 LIMIT 1"));
  const auto c = analytics_->Timeline(cancelled);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->opted_out);
  EXPECT_TRUE(c->cancel_reason.has_value());
}

TEST_F(AnalyticsTest, TokensAreStoredAsHashesAndRevoked) {
  ApiToken token;
  token.id = "tok_test";
  token.name = "Jane Analyst";
  token.role = "analyst";
  token.created_by = "cli";
  token.created_at = kNow;
  access_->CreateToken(token, "hash-of-the-secret");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM api_tokens WHERE token_hash = 'hash-of-the-secret'"),
            "1");
  auto found = access_->FindActiveToken("hash-of-the-secret", kNow + 5min);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->role, "analyst");
  EXPECT_FALSE(access_->FindActiveToken("another-hash", kNow).has_value());
  EXPECT_EQ(access_->ListTokens().back().last_used_at, kNow + 5min);
  EXPECT_TRUE(access_->RevokeToken("tok_test", kNow + 10min));
  EXPECT_FALSE(access_->RevokeToken("tok_test", kNow + 11min)) << "already revoked";
  EXPECT_FALSE(access_->FindActiveToken("hash-of-the-secret", kNow + 12min).has_value());
  EXPECT_EQ(access_->ListTokens().back().revoked_at, kNow + 10min);
}

TEST_F(AnalyticsTest, TheAuditTrailKeepsCallsNewestFirst) {
  for (int i = 0; i < 3; ++i) {
    AuditEntry entry;
    entry.at = kNow + std::chrono::seconds(i);
    entry.token_id = i == 0 ? "" : "tok_x";
    entry.role = i == 0 ? "" : "analyst";
    entry.method = "GET";
    entry.route = "/api/v1/stats";
    entry.params = {"from", "group_by"};
    if (i == 2) entry.subject = "42";
    entry.status = i == 0 ? 401 : 200;
    if (i) entry.rows = 12;
    entry.duration_ms = 1.5;
    access_->RecordCall(entry);
  }
  const auto calls = access_->RecentCalls(2, std::nullopt);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_GT(calls[0].id, calls[1].id);
  EXPECT_EQ(calls[0].params, (std::vector<std::string>{"from", "group_by"}));
  EXPECT_EQ(calls[0].rows, 12);
  EXPECT_EQ(calls[0].subject, "42");
  EXPECT_EQ(calls[1].subject, "");
  const auto older = access_->RecentCalls(10, calls[1].id);
  ASSERT_GE(older.size(), 1u);
  EXPECT_EQ(older[0].status, 401);
  EXPECT_TRUE(older[0].token_id.empty());
  EXPECT_FALSE(older[0].rows.has_value());
}

}  // namespace
}  // namespace surveyd::store
