// Personal data at rest, against the real schema: numbers and raw events encrypted, key rotation of
// both keys, retention and erasure (store/privacy_store.hpp, docs/data-protection.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "integration/test_database.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/core/event_json.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::store {
namespace {

using namespace std::chrono_literals;
using testing::TestDatabase;

// The store stamps received_at with the wall clock, which retention compares with raw_days: the
// tests' times start from it.
const TimePoint kT0 = std::chrono::floor<std::chrono::seconds>(SystemClock().Now());
const std::string kKey1(64, '1');                                          // hex
const std::string kKey2 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // base64
const std::string kHash1 = "phone-hash-key-one-phone-hash-key-one";
const std::string kHash2 = "phone-hash-key-two-phone-hash-key-two";

Event MakeEvent(const std::string& id, const std::string& phone, TimePoint at = kT0,
                const char* channel = "101") {
  Event event;
  event.event_id = id;
  event.type = EventType::kCallEnded;
  event.occurred_at = at;
  event.incident.id = "INC-" + id;
  event.incident.type_code = "BURG-RES";
  event.incident.qualifiers = std::vector<std::string>{};
  event.call = Call{};
  event.call->channel = channel;
  event.caller = Caller{};
  event.caller->phone = phone;
  event.caller->role = "victim";
  event.caller->age = 41;
  return event;
}

// As the feed delivers it: the contract form, number and all.
IngestItem Item(const Event& event) {
  IngestItem item;
  item.source = "push";
  item.raw = EventToJson(event, true).dump();
  item.event_id = event.event_id;
  item.event = event;
  return item;
}

// Surveys every 101 call unless opted out or surveyed in the last 30 days; ignores the rest.
Decision Decide(const Event& event, const ContactHistory& history, const RelatedEvents&) {
  Decision d;
  if (event.call->channel != "101") {
    d.outcome = Decision::Outcome::kIgnored;
    d.reason = "no_group";
    return d;
  }
  d.group = "force_contact";
  if (history.opted_out ||
      (history.last_surveyed_at && event.occurred_at - *history.last_surveyed_at < 24h * 30)) {
    d.outcome = Decision::Outcome::kExcluded;
    d.reason = history.opted_out ? "opted_out" : "frequency_cap";
    return d;
  }
  d.outcome = Decision::Outcome::kSurvey;
  d.reason = "survey";
  d.phone = phone::Normalize(event.caller->phone.value_or(""));
  d.language = "en";
  d.sms_template = "Police: how did we do? {link}";
  d.send_at = event.occurred_at;
  d.expires_at = event.occurred_at + 48h;
  d.survey_closes_at = event.occurred_at + 24h * 7;
  return d;
}

class PrivacyTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Make(const std::string& keys, const std::string& active,
                              const std::string& hash_key = kHash1,
                              std::vector<std::string> previous = {}) {
    PgOptions options;
    options.url = db_.url();
    options.pool_size = 2;
    options.phone_hash_key = hash_key;
    options.phone_keys = crypto::KeyRing::Parse(keys, active);
    options.previous_phone_hash_keys = std::move(previous);
    return MakePgStore(options);
  }
  std::string Q(const std::string& sql) { return db_.Query(sql); }
  std::string Ingest(Store& store, const Event& event) {
    return store.IngestBatch({Item(event)}, Decide, "")[0].reason;
  }

  TestDatabase db_;
};

TEST_F(PrivacyTest, NumbersAndRawEventsAreEncryptedAtRestAndOpenOnlyInTheStore) {
  auto store = Make("k1:" + kKey1, "");
  EXPECT_EQ(Ingest(*store, MakeEvent("E1", "07700 900001")), "survey");
  Ingest(*store, MakeEvent("E2", "+447700900002", kT0, "999"));  // ignored, raw kept all the same
  IngestItem rejected;
  rejected.source = "tcp";
  rejected.raw = "{\"caller\":{\"phone\":\"+447700900003\"},\"broken";
  rejected.reject_reason = "invalid JSON";
  store->IngestBatch({rejected}, Decide, "");
  store->OptOut("+447700900004", "sms", kT0);

  // Nothing in the database spells a number, in any form.
  for (const char* sql :
       {"SELECT count(*) FROM surveys WHERE phone_e164 IS NOT NULL OR phone_enc LIKE '%7700%' "
        "OR phone_enc NOT LIKE 'v1:k1:%'",
        "SELECT count(*) FROM raw_events WHERE raw LIKE '%7700%' OR raw NOT LIKE 'v1:k1:%'",
        "SELECT count(*) FROM rejected_events WHERE raw LIKE '%7700%' OR raw NOT LIKE 'v1:k1:%'",
        "SELECT count(*) FROM opt_outs WHERE phone_enc LIKE '%7700%' OR phone_enc NOT LIKE "
        "'v1:k1:%'",
        "SELECT count(*) FROM events WHERE facts::text LIKE '%7700%'"}) {
    EXPECT_EQ(Q(sql), "0") << sql;
  }
  EXPECT_EQ(Q("SELECT count(*) FROM events"), "2");
  EXPECT_EQ(Q("SELECT count(*) FROM raw_events"), "2");
  // The dispatcher gets the number, opened.
  const auto claimed = store->ClaimDue(kT0 + 1min, 10, "w1", 60s);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].to_e164, "+447700900001");
  // A store without the key cannot open it: the text has no number and is ruled out, never sent
  // in clear or to the wrong place.
  Q("UPDATE outbox SET state = 'pending', lease_until = NULL, claim_token = NULL");
  auto stranger = Make("k9:" + kKey2, "");
  const auto blind = stranger->ClaimDue(kT0 + 1min, 10, "w2", 60s);
  ASSERT_EQ(blind.size(), 1u);
  EXPECT_EQ(blind[0].to_e164, "");
  // And a store with no key at all stores nothing personal.
  auto keyless = Make("", "");
  EXPECT_THROW(keyless->IngestBatch({Item(MakeEvent("E5", "+447700900005"))}, Decide, ""),
               std::exception);
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE event_id = 'E5'"), "0");
}

TEST_F(PrivacyTest, EncryptionKeyRotationKeepsOldValuesReadableThenMovesThem) {
  auto old_store = Make("k1:" + kKey1, "");
  Ingest(*old_store, MakeEvent("E1", "+447700900001"));
  Ingest(*old_store, MakeEvent("E2", "+447700900002"));
  old_store->OptOut("+447700900009", "sms", kT0);
  // A row from before encryption: the number in clear.
  Q("UPDATE surveys SET phone_e164 = '+447700900002', phone_enc = NULL WHERE event_id = 'E2'");
  // One sealed under a key whose id sorts after the one made active below: the walk reads the
  // keys on either side of the active one's.
  Ingest(*Make("m1:" + kKey1, ""), MakeEvent("E4", "+447700900004"));

  // k2 becomes active; k1 and m1 stay in the ring.
  auto store = Make("k1:" + kKey1 + ",k2:" + kKey2 + ",m1:" + kKey1, "k2");
  Ingest(*store, MakeEvent("E3", "+447700900003"));
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE phone_enc LIKE 'v1:k2:%'"), "1");
  auto claimed = store->ClaimDue(kT0 + 1min, 10, "w1", 60s);
  ASSERT_EQ(claimed.size(), 4u);
  EXPECT_EQ(claimed[0].to_e164, "+447700900001") << "sealed with k1";
  EXPECT_EQ(claimed[1].to_e164, "+447700900002") << "in clear, from before";
  EXPECT_EQ(claimed[2].to_e164, "+447700900004") << "sealed with m1";
  EXPECT_EQ(claimed[3].to_e164, "+447700900003") << "sealed with k2";
  Q("UPDATE outbox SET state = 'pending', lease_until = NULL, claim_token = NULL");

  const auto report = store->Rekey(kT0);
  EXPECT_EQ(report.numbers_resealed, 4) << "three surveys and the opt-out";
  EXPECT_EQ(report.raw_resealed, 3);
  EXPECT_EQ(report.unreadable, 0);
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE phone_e164 IS NOT NULL OR phone_enc NOT LIKE "
              "'v1:k2:%'"),
            "0");
  EXPECT_EQ(Q("SELECT count(*) FROM raw_events WHERE raw NOT LIKE 'v1:k2:%'"), "0");
  EXPECT_EQ(Q("SELECT count(*) FROM opt_outs WHERE phone_enc NOT LIKE 'v1:k2:%'"), "0");
  EXPECT_EQ(store->Rekey(kT0).numbers_resealed, 0) << "nothing left to move";

  // k1 retired: everything still opens.
  auto retired = Make("k2:" + kKey2, "");
  claimed = retired->ClaimDue(kT0 + 1min, 10, "w1", 60s);
  ASSERT_EQ(claimed.size(), 4u);
  EXPECT_EQ(claimed[0].to_e164, "+447700900001");
  EXPECT_EQ(claimed[1].to_e164, "+447700900002");
  EXPECT_EQ(claimed[2].to_e164, "+447700900004");
  EXPECT_EQ(Q("SELECT count(*) FROM retention_runs WHERE worker = 'surveyd keys rotate'"), "2");
}

TEST_F(PrivacyTest, HashKeyRotationKeepsOptOutsAndTheCapThenReKeysThem) {
  auto old_store = Make("k1:" + kKey1, "", kHash1);
  EXPECT_EQ(Ingest(*old_store, MakeEvent("E1", "+447700900001")), "survey");
  // A flag on E1's incident without a number, filed under E1's number.
  auto closed = MakeEvent("E7", "", kT0 + 30min);
  closed.incident.id = "INC-E1";
  closed.incident.qualifiers = std::vector<std::string>{"DOMESTIC"};
  closed.caller->phone.reset();
  Ingest(*old_store, closed);
  old_store->OptOut("+447700900002", "sms", kT0);
  // A rejected line that names a number holds its texts by the number's hash.
  IngestItem line;
  line.source = "tcp";
  line.raw = "{\"event_id\":\"X1\",\"caller\":{\"phone\":\"07700 900003\"}}";
  line.reject_reason = "missing type";
  line.event_id = "X1";
  line.phone = "07700 900003";
  old_store->IngestBatch({line}, Decide, "");

  // The new hash key, the old one still for look-ups.
  auto rotating = Make("k1:" + kKey1, "", kHash2, {kHash1});
  EXPECT_EQ(Ingest(*rotating, MakeEvent("E2", "+447700900002", kT0 + 1h)), "opted_out");
  EXPECT_EQ(Ingest(*rotating, MakeEvent("E3", "+447700900001", kT0 + 2h)), "frequency_cap");
  EXPECT_EQ(Ingest(*rotating, MakeEvent("E6", "+447700900003", kT0 + 2h)),
            "insufficient_data:rejected_event");
  // A two-way conversation of E1's survey holds its hash too.
  Q("INSERT INTO conversations (survey_id, phone_hash, language, state, question, started_at, "
    "expires_at, updated_at) SELECT id, phone_hash, 'en', 'open', 1, now(), now(), now() "
    "FROM surveys WHERE event_id = 'E1'");
  // Without the old key nothing would be known about either number.
  auto forgetful = Make("k1:" + kKey1, "", kHash2);
  const auto report = rotating->Rekey(kT0);
  EXPECT_EQ(report.hashes_rekeyed, 5)
      << "E1's survey, event and conversation, the opt-out and the line";
  EXPECT_EQ(Q("SELECT phone_hash FROM conversations"), phone::KeyedHash(kHash2, "+447700900001"));
  EXPECT_EQ(Q("SELECT phone_hash FROM rejected_events"), phone::KeyedHash(kHash2, "+447700900003"));
  EXPECT_EQ(report.hashes_without_number, 0);
  EXPECT_EQ(Q("SELECT phone_hash FROM opt_outs"), phone::KeyedHash(kHash2, "+447700900002"));
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE phone_hash = '" +
              phone::KeyedHash(kHash2, "+447700900001") + "'"),
            "1");
  // Re-keyed: the old key can go.
  EXPECT_EQ(Ingest(*forgetful, MakeEvent("E4", "+447700900002", kT0 + 3h)), "opted_out");
  EXPECT_EQ(Ingest(*forgetful, MakeEvent("E5", "+447700900001", kT0 + 4h)), "frequency_cap");
  // The flag filed under E1's number moved with it, though its own line has no number.
  EXPECT_EQ(Q("SELECT string_agg(DISTINCT phone_hash, ',') FROM events "
              "WHERE event_id IN ('E1', 'E7')"),
            phone::KeyedHash(kHash2, "+447700900001"));
}

// While a hash key is rotated out, a text claimed reads its number's events under every key: one
// stored under the old key (a flag through the incident it shares with a neighbour, in a review)
// was not read, and the text went.
TEST_F(PrivacyTest, AClaimReadsTheNumbersEventsUnderEveryHashKey) {
  auto old_store = Make("k1:" + kKey1, "");
  Event before = MakeEvent("OLD1", "+447700900011", kT0);
  before.call->channel = "999";  // no survey of its own
  ASSERT_EQ(Ingest(*old_store, before), "no_group");
  auto rotating = Make("k1:" + kKey1, "", kHash2, {kHash1});
  ASSERT_EQ(Ingest(*rotating, MakeEvent("NEW1", "+447700900011", kT0 + 24h * 40)), "survey");
  const auto claimed = rotating->ClaimDue(kT0 + 24h * 41, 10, "w", 60s, EventScreen{});
  ASSERT_EQ(claimed.size(), 1u);
  std::vector<std::string> related;
  for (const Event& e : claimed[0].related.same_number) related.push_back(e.event_id);
  EXPECT_EQ(related, std::vector<std::string>{"OLD1"});
}

TEST_F(PrivacyTest, RetentionErasesWhatIsNoLongerNeededAndKeepsTheAnswers) {
  auto store = Make("k1:" + kKey1, "");
  Ingest(*store, MakeEvent("E1", "+447700900001"));                  // answered
  Ingest(*store, MakeEvent("E2", "+447700900002", kT0 + 24h * 20));  // still due later
  IngestItem rejected;
  rejected.source = "tcp";
  rejected.raw = "garbage +447700900003";
  rejected.reject_reason = "invalid JSON";
  rejected.phone = "+447700900003";  // read from the line: it holds the number's texts
  store->IngestBatch({rejected}, Decide, "");
  const auto sent = store->ClaimDue(kT0 + 1min, 10, "w1", 60s);
  ASSERT_EQ(sent.size(), 1u);
  Q("UPDATE outbox SET state = 'delivered' WHERE survey_id = " + std::to_string(sent[0].survey_id));
  SurveyAnswers answers;
  const int scores[] = {9, 8, 7, 10, 9};
  for (int i = 0; i < 5; ++i) answers.q[i] = scores[i];
  answers.comment = "Thank you, PC Smith";
  answers.language = "en";
  ASSERT_EQ(store->SubmitResponse(sent[0].survey_id, answers, kT0 + 2h), SubmitOutcome::kStored);

  RetentionPolicy policy;  // 7 days' grace, hashes 90 days, raw 30, facts 400, comments 365
  // Day 3: the answered survey is finished, but within its grace; nothing goes yet.
  auto r = store->RunRetention(policy, kT0 + 24h * 3, "test");
  ASSERT_TRUE(r.ran);
  EXPECT_EQ(r.numbers_erased, 0);
  // Day 10: its number goes (the hash stays for the frequency cap); the other is not due yet.
  r = store->RunRetention(policy, kT0 + 24h * 10, "test");
  EXPECT_EQ(r.numbers_erased, 1);
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE event_id = 'E1' AND phone_enc IS NULL AND "
              "phone_hash IS NOT NULL AND phone_erased_at IS NOT NULL"),
            "1");
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE event_id = 'E2' AND phone_enc IS NOT NULL"), "1");
  EXPECT_EQ(Ingest(*store, MakeEvent("E3", "+447700900001", kT0 + 24h * 11)), "frequency_cap");
  // Day 40: raw events (all received today) and the rejected line are gone; the survey not yet
  // sent keeps its number.
  r = store->RunRetention(policy, kT0 + 24h * 40, "test");
  EXPECT_EQ(r.raw_events_deleted, 3);
  EXPECT_EQ(r.rejected_lines_deleted, 1);
  EXPECT_EQ(Q("SELECT count(*) FROM raw_events"), "0");
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE facts IS NOT NULL"), "3") << "the facts stay";
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events WHERE raw IS NULL AND reject_reason <> ''"),
            "1");
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE event_id = 'E2' AND phone_enc IS NOT NULL"), "1");
  // Day 400: hashes, comments and facts; the scores and the grouping context stay. A number's
  // newest event for a finding (migration 0023) goes with the hashes when it is as old.
  Q("UPDATE outbox SET state = 'expired' WHERE state = 'pending'");
  Q("INSERT INTO number_findings VALUES "
    "('old', 'v1', 'vulnerable', now() + interval '300 days', 'E1'), "
    "('new', 'v1', 'vulnerable', now() + interval '340 days', 'E9')");
  r = store->RunRetention(policy, kT0 + 24h * 420, "test");
  EXPECT_EQ(r.numbers_erased, 1);
  EXPECT_EQ(r.comments_blanked, 1);
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE phone_hash IS NOT NULL OR phone_enc IS NOT NULL"),
            "0");
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE phone_hash IS NOT NULL OR facts IS NOT NULL"),
            "0");
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events WHERE phone_hash IS NOT NULL"), "0");
  EXPECT_EQ(Q("SELECT string_agg(phone_hash, ',') FROM number_findings"), "new");
  EXPECT_EQ(Q("SELECT concat_ws('|', r.q1, r.q4, r.comment, s.group_id, s.incident_type_code, "
              "s.caller_age_band) FROM responses r JOIN surveys s ON s.id = r.survey_id"),
            "9|10||force_contact|BURG-RES|35-44");
  EXPECT_EQ(Q("SELECT count(*) FROM retention_runs WHERE worker = 'test'"), "4");
}

TEST_F(PrivacyTest, AnEventStampedAheadKeepsItsNumbersHashAsLongAfterItArrivedNoLonger) {
  // Dated 9999 by a mistyped year, it kept the hash until year 10000. A number's newest event for
  // a finding that was such an event gives way to the newest event still holding the number.
  auto store = Make("k1:" + kKey1, "");
  const TimePoint now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  Ingest(*store, MakeEvent("AHEAD", "+447700900001", now + 24h * 1000, "999"));
  Ingest(*store, MakeEvent("LATER", "+447700900001", now + 24h * 30, "999"));
  Ingest(*store, MakeEvent("ALONE", "+447700900002", now + 24h * 1000, "999"));
  // LATER arrives when it happens; all three hold a finding.
  Q("UPDATE events SET received_at = occurred_at WHERE event_id = 'LATER'");
  Q("UPDATE events SET screened_with = 'v1', screen_findings = '{vulnerable}'");
  ASSERT_EQ(Q("SELECT string_agg(event_id, ',' ORDER BY event_id) FROM number_findings"),
            "AHEAD,ALONE");
  RetentionPolicy policy;  // hashes 90 days
  store->RunRetention(policy, now + 24h * 60, "test");
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE phone_hash IS NOT NULL"), "3");
  store->RunRetention(policy, now + 24h * 95, "test");
  EXPECT_EQ(Q("SELECT string_agg(event_id, ',') FROM events WHERE phone_hash IS NOT NULL"),
            "LATER");
  EXPECT_EQ(Q("SELECT string_agg(event_id || ':' || (occurred_at = (SELECT occurred_at FROM events "
              "WHERE event_id = 'LATER')), ',') FROM number_findings"),
            "LATER:true")
      << "the number's row now names the newest event still holding it; ALONE's went";
  store->RunRetention(policy, now + 24h * 121, "test");
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE phone_hash IS NOT NULL"), "0");
  EXPECT_EQ(Q("SELECT count(*) FROM number_findings"), "0");
}

// A step that fails does not keep what the later steps remove past its time: a facts period
// whose cutoff PostgreSQL cannot store (config refuses it now; a policy given directly does
// not) fails that step alone, and the pass says so and records it.
TEST_F(PrivacyTest, ARetentionStepThatFailsStopsNoOtherStep) {
  auto store = Make("k1:" + kKey1, "");
  Ingest(*store, MakeEvent("E1", "+447700900001"));
  const auto sent = store->ClaimDue(kT0 + 1min, 10, "w1", 60s);
  ASSERT_EQ(sent.size(), 1u);
  Q("UPDATE outbox SET state = 'delivered'");
  SurveyAnswers answers;
  answers.q[0] = 9;
  answers.comment = "Thank you, PC Smith";
  answers.language = "en";
  ASSERT_EQ(store->SubmitResponse(sent[0].survey_id, answers, kT0 + 2h), SubmitOutcome::kStored);

  RetentionPolicy policy;
  policy.facts = std::chrono::days(1000000);
  const auto r = store->RunRetention(policy, kT0 + 24h * 400, "test");
  ASSERT_TRUE(r.ran);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].rfind("deleting events' facts: ", 0), 0u) << r.failures[0];
  EXPECT_EQ(r.numbers_erased, 1);
  EXPECT_EQ(r.raw_events_deleted, 1);
  EXPECT_EQ(r.comments_blanked, 1);
  EXPECT_EQ(Q("SELECT comment FROM responses"), "");
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE facts IS NOT NULL"), "1") << "its step failed";
  EXPECT_EQ(Q("SELECT jsonb_array_length(done->'failures') || '/' || (done->>'comments_blanked') "
              "FROM retention_runs"),
            "1/1");
}

// A conversation the citizen never finished stays open: it goes phone_hash_days after it
// started all the same, as one finished does (docs/data-protection.md).
TEST_F(PrivacyTest, ConversationsGoAfterTheHashPeriodWhateverTheirState) {
  auto store = Make("k1:" + kKey1, "");
  Ingest(*store, MakeEvent("E1", "+447700900001"));
  Ingest(*store, MakeEvent("E2", "+447700900002"));
  Q("INSERT INTO conversations (survey_id, phone_hash, language, state, question, started_at, "
    "expires_at, updated_at) SELECT id, phone_hash, 'en', CASE event_id WHEN 'E1' THEN 'open' "
    "ELSE 'finished' END, 2, now(), now() + interval '1 day', now() FROM surveys");
  RetentionPolicy policy;  // hashes 90 days
  auto r = store->RunRetention(policy, kT0 + 24h * 89, "test");
  EXPECT_EQ(r.conversations_deleted, 0);
  r = store->RunRetention(policy, kT0 + 24h * 91, "test");
  EXPECT_EQ(r.conversations_deleted, 2);
  EXPECT_EQ(Q("SELECT count(*) FROM conversations"), "0");
}

// Staff notes on alerts (a resolution, a reveal's reason) are free text about the citizen:
// erased with the number, and blanked with comments after comment_days; who did what stays.
TEST_F(PrivacyTest, StaffNotesOnAlertsAreErasedWithTheNumberAndBlankedWithComments) {
  auto store = Make("k1:" + kKey1, "");
  Ingest(*store, MakeEvent("E1", "+447700900001"));
  Ingest(*store, MakeEvent("E2", "+447700900002"));
  Q("INSERT INTO alerts (survey_id, kind, severity, rules, matched, created_at, status, "
    "status_at, status_by, status_note) SELECT id, 'safeguarding', 'urgent', '[]', '[]', now(), "
    "'resolved', now(), 'Sgt A', 'Called her back; staying with her sister' FROM surveys");
  Q("INSERT INTO alert_events (alert_id, at, action, actor_name, note) "
    "SELECT id, now(), 'revealed', 'Sgt A', 'to call her back' FROM alerts UNION ALL "
    "SELECT id, now(), 'resolved', 'Sgt A', 'Called her back; staying with her sister' "
    "FROM alerts UNION ALL SELECT id, now(), 'created', NULL, NULL FROM alerts");
  auto notes = [this](const char* event_id) {
    return Q(std::string("SELECT count(a.status_note) + (SELECT count(e.note) FROM alert_events e "
                         "WHERE e.alert_id = a.id) FROM alerts a JOIN surveys s ON "
                         "s.id = a.survey_id WHERE s.event_id = '") +
             event_id + "' GROUP BY a.id");
  };

  const auto held = store->Erase("+447700900001", "SAR-1", false, true, kT0 + 1h);
  EXPECT_EQ(held.alert_notes, 3);
  EXPECT_EQ(notes("E1"), "3") << "a dry run changes nothing";
  const auto erased = store->Erase("+447700900001", "DSAR-1", false, false, kT0 + 1h);
  EXPECT_EQ(erased.alert_notes, 3);
  EXPECT_EQ(notes("E1"), "0");
  EXPECT_EQ(notes("E2"), "3") << "someone else's stay";
  EXPECT_NE(Q("SELECT removed::text FROM erasures").find("\"alert_notes\": 3"), std::string::npos);

  RetentionPolicy policy;  // comments 365 days
  auto r = store->RunRetention(policy, kT0 + 24h * 364, "test");
  EXPECT_EQ(r.alert_notes_blanked, 0);
  r = store->RunRetention(policy, kT0 + 24h * 366, "test");
  EXPECT_EQ(r.alert_notes_blanked, 3);
  EXPECT_EQ(Q("SELECT count(*) FROM alert_events WHERE note IS NOT NULL"), "0");
  EXPECT_EQ(Q("SELECT count(*) FROM alerts WHERE status_note IS NOT NULL"), "0");
  EXPECT_EQ(Q("SELECT string_agg(DISTINCT action || '/' || COALESCE(actor_name, ''), ',') "
              "FROM alert_events"),
            "created/,resolved/Sgt A,revealed/Sgt A")
      << "who did what stays";
}

// Each reason a survey is finished has its own walk (migration 0014). The walk of texts that
// will never be delivered goes on from where the previous pass stopped, an hour earlier for
// instances' clocks; a text older than that is not read again, and its number goes when its
// survey closes.
TEST_F(PrivacyTest, RetentionErasesEachFinishedSurveyByItsReasonAndReadsOnlyNewFailures) {
  auto store = Make("k1:" + kKey1, "");
  const auto at = [](TimePoint t) {
    return "to_timestamp(" +
           std::to_string(
               std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count()) +
           ")";
  };
  const auto text = [&](const std::string& event_id, const std::string& state, TimePoint t) {
    Q("UPDATE outbox o SET state = '" + state + "', updated_at = " + at(t) +
      " FROM surveys s WHERE s.id = o.survey_id AND s.event_id = '" + event_id + "'");
  };
  const auto held = [&](const std::string& event_id) {
    return Q("SELECT phone_enc IS NOT NULL FROM surveys WHERE event_id = '" + event_id + "'") ==
           "t";
  };
  for (int i = 1; i <= 4; ++i) {
    Ingest(*store, MakeEvent("E" + std::to_string(i), "+44770090000" + std::to_string(i)));
  }
  Ingest(*store, MakeEvent("E5", "+447700900005", kT0 + 24h * 20));  // queued until then
  Ingest(*store, MakeEvent("E7", "+447700900007", kT0 + 24h));
  Ingest(*store, MakeEvent("E8", "+447700900008", kT0 + 24h));
  text("E1", "delivered", kT0 + 1min);
  Q("UPDATE surveys SET responded_at = " + at(kT0 + 2h) + " WHERE event_id = 'E1'");
  text("E2", "failed", kT0 + 1h);
  text("E3", "delivered", kT0 + 1min);  // never answered: finished when it closes, on day 7
  text("E4", "cancelled", kT0 + 1h);    // at the same moment as E2's
  text("E7", "delivered", kT0 + 24h);
  text("E8", "delivered", kT0 + 24h);

  RetentionPolicy policy;
  policy.batch = 1;  // every walk goes on from batch to batch, E2 and E4 in id order
  auto r = store->RunRetention(policy, kT0 + 24h * 3, "test");
  EXPECT_EQ(r.numbers_erased, 0) << "all within their grace";

  // Past the grace of E1's answer and of the failures of E2 and E4.
  r = store->RunRetention(policy, kT0 + 24h * 7 + 3h, "test");
  EXPECT_EQ(r.numbers_erased, 3);
  EXPECT_FALSE(held("E1"));
  EXPECT_FALSE(held("E2"));
  EXPECT_FALSE(held("E4"));
  EXPECT_TRUE(held("E3"));
  EXPECT_TRUE(held("E5"));
  EXPECT_EQ(Q("SELECT failed_texts_through = " + at(kT0 + 3h) +
              " FROM retention_runs ORDER BY id DESC LIMIT 1"),
            "t");

  // Two failures recorded late, as by an instance whose clock is behind: one within the hour
  // before where the walk stopped, one before that.
  text("E8", "undeliverable", kT0 + 2h + 30min);
  text("E7", "undeliverable", kT0 + 1h);
  r = store->RunRetention(policy, kT0 + 24h * 7 + 6h, "test");
  EXPECT_EQ(r.numbers_erased, 1);
  EXPECT_FALSE(held("E8"));
  EXPECT_TRUE(held("E7")) << "not read again";
  // A pass with an earlier cut-off (by hand, with a longer grace) leaves the walk where it was.
  r = store->RunRetention(policy, kT0 + 24h * 3, "test");
  EXPECT_EQ(r.numbers_erased, 0);
  EXPECT_EQ(Q("SELECT failed_texts_through = " + at(kT0 + 6h) +
              " FROM retention_runs ORDER BY id DESC LIMIT 1"),
            "t");

  // Day 15: E3 (closed on day 7) and E7 (closed on day 8) are past their grace; E5's text is
  // still queued, and its number stays.
  r = store->RunRetention(policy, kT0 + 24h * 15 + 1h, "test");
  EXPECT_EQ(r.numbers_erased, 2);
  EXPECT_FALSE(held("E3"));
  EXPECT_FALSE(held("E7"));
  EXPECT_TRUE(held("E5"));
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE phone_enc IS NULL AND phone_erased_at IS NULL"),
            "0");
}

// A safeguarding disclosure's urgent alert was open when the next retention pass erased the
// number (put back for the help text a late "he's back" got), and the hub's reveal, to call
// the person back, was refused (a review). While an alert that may need a call back is open or
// acknowledged, the number stays; resolved, it goes at the next pass. A low-score alert needs
// no call back.
TEST_F(PrivacyTest, AnOpenSafeguardingOrComplaintAlertKeepsTheNumberToCallBack) {
  auto store = Make("k1:" + kKey1, "");
  for (int i = 1; i <= 4; ++i) {
    Ingest(*store, MakeEvent("E" + std::to_string(i), "+44770090000" + std::to_string(i)));
  }
  Q("UPDATE outbox SET state = 'delivered'");
  Q("UPDATE surveys SET responded_at = to_timestamp(" +
    std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>((kT0 + 1h).time_since_epoch()).count()) +
    ")");
  const auto alert = [this](const std::string& event_id, const std::string& kind,
                            const std::string& status) {
    Q("INSERT INTO alerts (survey_id, kind, severity, rules, matched, created_at, status) "
      "SELECT id, '" +
      kind + "', 'urgent', '[]', '[]', now(), '" + status + "' FROM surveys WHERE event_id = '" +
      event_id + "'");
  };
  alert("E1", "safeguarding", "open");
  alert("E2", "complaint", "acknowledged");
  alert("E3", "low_scores", "open");
  const auto held = [this] {
    return Q(
        "SELECT string_agg(event_id, ',' ORDER BY event_id) FROM surveys "
        "WHERE phone_enc IS NOT NULL");
  };
  RetentionPolicy policy;
  auto r = store->RunRetention(policy, kT0 + 24h * 8, "test");
  EXPECT_EQ(r.numbers_erased, 2);
  EXPECT_EQ(held(), "E1,E2") << "E3's low scores and E4 need no call back";
  Q("UPDATE alerts SET status = 'resolved'");
  r = store->RunRetention(policy, kT0 + 24h * 8 + 1h, "test");
  EXPECT_EQ(r.numbers_erased, 2);
  EXPECT_EQ(held(), "");
}

TEST_F(PrivacyTest, OneInstanceAtATime) {
  auto store = Make("k1:" + kKey1, "");
  pqxx::connection holder(db_.url());
  pqxx::nontransaction txn(holder);
  txn.exec("SELECT pg_advisory_lock(" + std::to_string(0x7375727665796452LL) + ")");
  EXPECT_FALSE(store->RunRetention({}, kT0, "test").ran);
  EXPECT_THROW(store->Rekey(kT0), Unavailable);
  txn.exec("SELECT pg_advisory_unlock_all()");
  EXPECT_TRUE(store->RunRetention({}, kT0, "test").ran);
}

TEST_F(PrivacyTest, ErasureRemovesEverythingAboutOneNumberAndRecordsItWithoutTheNumber) {
  auto store = Make("k1:" + kKey1, "");
  const std::string number = "+447700900001";
  Ingest(*store, MakeEvent("E1", number));                         // answered
  Ingest(*store, MakeEvent("E2", number, kT0 + 24h * 40));         // queued, not sent
  Ingest(*store, MakeEvent("E3", number, kT0 + 24h * 41, "999"));  // ignored: an event all the same
  Ingest(*store, MakeEvent("E9", "+447700900999"));                // someone else
  IngestItem rejected;
  rejected.source = "tcp";
  rejected.raw = "{\"caller\":{\"phone\":\"07700 900001\"}, torn";
  rejected.reject_reason = "invalid JSON";
  IngestItem other_rejected = rejected;
  other_rejected.raw = "{\"caller\":{\"phone\":\"07700 900999\"}, torn";
  store->IngestBatch({rejected, other_rejected}, Decide, "");
  auto sent = store->ClaimDue(kT0 + 1min, 10, "w1", 60s);
  ASSERT_EQ(sent.size(), 2u);
  Q("UPDATE outbox SET state = 'delivered' WHERE state = 'claimed'");
  SurveyAnswers answers;
  const int scores[] = {9, 8, 7, 10, 9};
  for (int i = 0; i < 5; ++i) answers.q[i] = scores[i];
  answers.comment = "Thank you";
  answers.language = "en";
  store->SubmitResponse(sent[0].survey_id, answers, kT0 + 2h);
  // An opt-out, put in behind the store's back so that it does not cancel E2 itself.
  const std::string hash = phone::KeyedHash(kHash1, number);
  // A line that named the number, its text gone (retention): found by the hash it holds by.
  Q("INSERT INTO rejected_events (event_id, received_at, source, reject_reason, phone_hash) "
    "VALUES ('X1', now(), 'tcp', 'occurred_at is not RFC 3339', '" +
    hash + "')");
  Q("INSERT INTO opt_outs (phone_hash, source, at, phone_enc) VALUES ('" + hash + "', 'sms', " +
    "now(), '" + crypto::KeyRing::Parse("k1:" + kKey1, "").Seal(number, "opt_outs.phone") + "')");

  // What its events could rule out (migration 0023), and another number's.
  Q("INSERT INTO number_findings VALUES ('" + hash +
    "', 'v1', 'vulnerable', now(), 'E1'), ('other', 'v1', 'vulnerable', now(), 'E9')");

  // A dry run says what is held and changes nothing.
  const std::string before = Q("SELECT md5(string_agg(s::text, '' ORDER BY id)) FROM surveys s");
  const auto held = store->Erase(number, "SAR-2026-16", false, true, kT0 + 24h * 41);
  EXPECT_EQ(held.surveys, 2);
  EXPECT_EQ(held.events, 3);
  EXPECT_EQ(Q("SELECT md5(string_agg(s::text, '' ORDER BY id)) FROM surveys s"), before);
  EXPECT_EQ(Q("SELECT count(*) FROM erasures"), "0");

  const auto report = store->Erase(number, "DSAR-2026-17", false, false, kT0 + 24h * 41 + 1h);
  EXPECT_EQ(report.surveys, 2);
  EXPECT_EQ(report.texts_cancelled, 1);
  EXPECT_EQ(report.comments, 1);
  EXPECT_EQ(report.events, 3);
  EXPECT_EQ(report.rejected_lines, 2);
  EXPECT_EQ(report.opt_outs, 1);
  EXPECT_TRUE(report.opt_out_kept);

  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE event_id IN ('E1', 'E2') AND (phone_enc IS NOT "
              "NULL OR phone_hash IS NOT NULL OR incident_id IS NOT NULL)"),
            "0");
  EXPECT_EQ(Q("SELECT state || '/' || cancel_reason FROM outbox o JOIN surveys s ON s.id = "
              "o.survey_id WHERE s.event_id = 'E2'"),
            "cancelled/erased");
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE event_id IN ('E1', 'E2', 'E3') AND (facts IS "
              "NOT NULL OR phone_hash IS NOT NULL)"),
            "0");
  EXPECT_EQ(Q("SELECT count(*) FROM raw_events WHERE event_id IN ('E1', 'E2', 'E3')"), "0");
  EXPECT_EQ(Q("SELECT string_agg(phone_hash, ',') FROM number_findings"), "other");
  EXPECT_EQ(Q("SELECT q1 || '/' || comment FROM responses"), "9/") << "the scores stay";
  EXPECT_EQ(Q("SELECT count(*) FROM rejected_events"), "1") << "the other caller's line stays";
  // The opt-out keeps its hash (never texted again) without the number.
  EXPECT_EQ(Q("SELECT count(*) FROM opt_outs WHERE phone_hash = '" + hash +
              "' AND phone_enc IS "
              "NULL"),
            "1");
  EXPECT_EQ(Ingest(*store, MakeEvent("E4", number, kT0 + 24h * 50)), "opted_out");
  // Someone else is untouched.
  EXPECT_EQ(Q("SELECT count(*) FROM surveys WHERE event_id = 'E9' AND phone_enc IS NOT NULL"), "1");
  EXPECT_EQ(Q("SELECT count(*) FROM raw_events WHERE event_id = 'E9'"), "1");
  // The audit record: when, the reference, what; no number, no hash.
  const std::string record =
      Q("SELECT at || ' ' || reference || ' ' || removed::text FROM erasures");
  EXPECT_NE(record.find("DSAR-2026-17"), std::string::npos) << record;
  EXPECT_NE(record.find("\"surveys\": 2"), std::string::npos) << record;
  EXPECT_EQ(record.find("7700"), std::string::npos) << record;
  EXPECT_EQ(record.find(hash.substr(0, 12)), std::string::npos) << record;

  // Asked to forget the opt-out too: the number may be surveyed again.
  EXPECT_EQ(store->Erase(number, "DSAR-2026-18", true, false, kT0 + 24h * 51).opt_outs, 1);
  EXPECT_EQ(Q("SELECT count(*) FROM opt_outs"), "0");
  EXPECT_EQ(Q("SELECT count(*) FROM erasures"), "2");
}

// Texts citizens send back are kept with the number's hash only; look-ups find the number under
// a rotated hash key; a confirmation's number opens from the survey; retention blanks and
// unlinks them after reply_days; erasure does so at once and deletes conversations.
TEST_F(PrivacyTest, RepliesAreKeptByHashRetainedAndErased) {
  auto store = Make("k1:" + kKey1, "");
  const std::string number = "+447700900001";
  Ingest(*store, MakeEvent("E1", number));
  ASSERT_EQ(store->ClaimDue(kT0 + 1min, 10, "w1", 60s).size(), 1u);
  Q("UPDATE outbox SET state = 'delivered', begun_at = now()");
  auto text = [&](const std::string& body, TimePoint at) {
    InboundSms sms;
    sms.gateway = "wmnow";
    sms.gateway_message_id = "M-" + body;
    sms.from_e164 = "07700 900001";
    sms.body = body;
    sms.received_at = at;
    return sms;
  };
  std::vector<ReplyContext> seen;
  const ReplyFn plan = [&seen](const ReplyContext& context, const std::string& body) {
    seen.push_back(context);
    ReplyPlan p;
    if (body == "STOP") {
      p.disposition = "opt_out";
      p.opt_out = true;
      p.survey_id = context.latest_survey_id;
      p.texts.push_back({MessageKind::kConfirmation, "You will get no more texts.", kT0 + 48h});
    }
    return p;
  };
  store->ReceiveReply(text("Great service", kT0 + 1h), plan, {}, kT0 + 1h);
  store->ReceiveReply(text("STOP", kT0 + 2h), plan, {}, kT0 + 2h);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].latest_survey_id.has_value());
  EXPECT_EQ(Q("SELECT count(*) FROM inbound_messages WHERE phone_hash = '" +
              phone::KeyedHash(kHash1, number) + "'"),
            "2");
  EXPECT_EQ(Q("SELECT count(*) FROM opt_outs WHERE phone_enc LIKE 'v1:k1:%'"), "1");
  // The confirmation goes to the number, opened from the survey.
  const auto confirmation = store->ClaimDue(kT0 + 2h, 10, "w1", 60s);
  ASSERT_EQ(confirmation.size(), 1u);
  EXPECT_EQ(confirmation[0].kind, MessageKind::kConfirmation);
  EXPECT_EQ(confirmation[0].to_e164, number);

  // Under a new hash key, the number's opt-out under the old one is still found.
  auto rotated = Make("k1:" + kKey1, "", kHash2, {kHash1});
  rotated->ReceiveReply(text("hello?", kT0 + 3h), plan, {}, kT0 + 3h);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_TRUE(seen[2].opted_out);
  EXPECT_TRUE(seen[2].confirmed_before);

  // After reply_days (30), the texts are blanked and unlinked; what they did stays.
  RetentionPolicy policy;
  auto r = store->RunRetention(policy, kT0 + 24h * 20, "test");
  EXPECT_EQ(r.replies_anonymised, 0);
  r = store->RunRetention(policy, kT0 + 24h * 31, "test");
  EXPECT_EQ(r.replies_anonymised, 3);
  EXPECT_EQ(Q("SELECT string_agg(disposition || '/' || body || '/' || "
              "COALESCE(phone_hash, 'none'), ',' ORDER BY id) FROM inbound_messages"),
            "reply//none,opt_out//none,reply//none");

  // Erasure: a later text and a conversation of the number go at once.
  store->ReceiveReply(text("one more thing", kT0 + 24h * 32), plan, {}, kT0 + 24h * 32);
  Q("INSERT INTO conversations (survey_id, phone_hash, language, state, question, started_at, "
    "expires_at, updated_at) SELECT id, '" +
    phone::KeyedHash(kHash1, number) + "', 'en', 'open', 1, now(), now(), now() FROM surveys");
  const auto report = store->Erase(number, "DSAR-2026-19", false, false, kT0 + 24h * 33);
  EXPECT_EQ(report.replies, 1);
  EXPECT_EQ(report.conversations, 1);
  EXPECT_EQ(Q("SELECT count(*) FROM inbound_messages WHERE body <> '' OR phone_hash IS NOT NULL"),
            "0");
  EXPECT_EQ(Q("SELECT count(*) FROM conversations"), "0");
}

}  // namespace
}  // namespace surveyd::store
