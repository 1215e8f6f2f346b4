#include "surveyd/core/event_json.hpp"

#include <gtest/gtest.h>

#include <functional>

#include <nlohmann/json.hpp>

#include "sim/event_generator.hpp"

namespace surveyd {
namespace {

using nlohmann::json;

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

json Minimal() {
  return json{{"event_id", "E-1"},
              {"type", "call.ended"},
              {"occurred_at", "2026-11-26T09:15:02Z"},
              {"incident", {{"id", "I-1"}}},
              {"call", {{"id", "C-1"}}}};
}

EventReadResult Parse(const json& j) { return EventFromJson(j); }

std::string ReasonFor(const json& j) {
  const auto item = Parse(j);
  EXPECT_FALSE(item.event.has_value()) << j.dump();
  return item.reject_reason;
}

TEST(EventJsonTest, MinimalEventLeavesOptionalFieldsEmpty) {
  const auto item = Parse(Minimal());
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  const Event& e = *item.event;
  EXPECT_FALSE(e.seq.has_value());
  EXPECT_FALSE(e.incident.opened_at.has_value());
  EXPECT_FALSE(e.incident.type_code.has_value());
  EXPECT_FALSE(e.incident.qualifiers.has_value());
  EXPECT_FALSE(e.incident.location.npu.has_value());
  ASSERT_TRUE(e.call.has_value());
  EXPECT_EQ(e.call->id, "C-1");
  EXPECT_FALSE(e.call->channel.has_value());
  EXPECT_FALSE(e.caller.has_value());
  EXPECT_FALSE(e.resource.has_value());
}

TEST(EventJsonTest, NullsAreTheSameAsAbsent) {
  json j = Minimal();
  j["seq"] = nullptr;
  j["caller"] = {{"phone", nullptr},
                 {"age", nullptr},
                 {"vulnerable", nullptr},
                 {"role", nullptr},
                 {"gender", nullptr}};
  j["incident"]["qualifiers"] = nullptr;
  j["incident"]["location"] = nullptr;
  j["incident"]["grade"] = nullptr;
  j["incident"]["opened_at"] = nullptr;
  j["closure"] = nullptr;
  j["resource"] = nullptr;
  const auto item = Parse(j);
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  const Event& e = *item.event;
  EXPECT_FALSE(e.seq.has_value());
  ASSERT_TRUE(e.caller.has_value());
  EXPECT_FALSE(e.caller->phone.has_value());
  EXPECT_FALSE(e.caller->age.has_value());
  EXPECT_FALSE(e.caller->vulnerable.has_value());
  EXPECT_FALSE(e.incident.qualifiers.has_value());
  EXPECT_FALSE(e.incident.grade.has_value());
  EXPECT_FALSE(e.closure.has_value());
}

TEST(EventJsonTest, EmptyQualifiersAreNotAbsentQualifiers) {
  json j = Minimal();
  j["incident"]["qualifiers"] = json::array();
  const auto item = Parse(j);
  ASSERT_TRUE(item.event.has_value());
  ASSERT_TRUE(item.event->incident.qualifiers.has_value());
  EXPECT_TRUE(item.event->incident.qualifiers->empty());
}

TEST(EventJsonTest, QualifiersAndTypeCodeAreUpperCased) {
  json j = Minimal();
  j["incident"]["qualifiers"] = {"domestic", " Hate ", "NEW_FLAG_2027"};
  j["incident"]["type_code"] = "burg-res";
  const auto item = Parse(j);
  ASSERT_TRUE(item.event.has_value());
  EXPECT_EQ(*item.event->incident.qualifiers,
            (std::vector<std::string>{"DOMESTIC", "HATE", "NEW_FLAG_2027"}));
  EXPECT_TRUE(item.event->incident.partial_qualifiers.empty());
  EXPECT_EQ(item.event->incident.type_code, "BURG-RES");
}

TEST(EventJsonTest, AgeIsLiberal) {
  struct Case {
    json age;
    std::optional<int> expected;
  };
  const Case cases[] = {
      {41, 41},
      {"41", 41},
      {" 41 ", 41},
      {41.0, 41},
      {0, 0},
      {"", std::nullopt},
      {nullptr, std::nullopt},
  };
  for (const auto& c : cases) {
    json j = Minimal();
    j["caller"] = {{"age", c.age}};
    const auto item = Parse(j);
    ASSERT_TRUE(item.event.has_value()) << c.age.dump() << ": " << item.reject_reason;
    EXPECT_EQ(item.event->caller->age, c.expected) << c.age.dump();
  }
}

TEST(EventJsonTest, BadAgesAreRejectedNamingTheField) {
  const json bad_types[] = {"forty", "41.5", 41.5, true, json::array({41}), json::object(), "-1"};
  for (const auto& age : bad_types) {
    json j = Minimal();
    j["caller"] = {{"age", age}};
    EXPECT_EQ(ReasonFor(j), "caller.age must be an integer") << age.dump();
  }
  for (const json& age : {json(-1), json(131), json(99999999999LL), json("999")}) {
    json j = Minimal();
    j["caller"] = {{"age", age}};
    EXPECT_EQ(ReasonFor(j), "caller.age is out of range") << age.dump();
  }
}

TEST(EventJsonTest, OtherEventTypes) {
  json departed = Minimal();
  departed["type"] = "resource.departed";
  departed.erase("call");
  departed["resource"] = {{"officer_id", "PC4521"},
                          {"callsign", "BE21"},
                          {"department", "Response - Birmingham East"},
                          {"arrived_at", "2026-11-26T10:00:00Z"},
                          {"departed_at", "2026-11-26T10:45:00+00:00"}};
  auto item = Parse(departed);
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  EXPECT_EQ(item.event->type, EventType::kResourceDeparted);
  ASSERT_TRUE(item.event->resource.has_value());
  EXPECT_EQ(item.event->resource->officer_id, "PC4521");
  EXPECT_EQ(item.event->resource->callsign, "BE21");
  EXPECT_EQ(item.event->resource->department, "Response - Birmingham East");
  EXPECT_EQ(item.event->resource->arrived_at, At("2026-11-26T10:00:00Z"));
  EXPECT_EQ(item.event->resource->departed_at, At("2026-11-26T10:45:00Z"));
  EXPECT_FALSE(item.event->call.has_value());

  json closed = Minimal();
  closed["type"] = "incident.closed";
  closed.erase("call");
  closed["closure"] = {{"code", "NFA"}, {"outcome", "No further action"}};
  item = Parse(closed);
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  EXPECT_EQ(item.event->type, EventType::kIncidentClosed);
  ASSERT_TRUE(item.event->closure.has_value());
  EXPECT_EQ(item.event->closure->code, "NFA");
  EXPECT_EQ(item.event->closure->outcome, "No further action");

  closed.erase("closure");  // closure is optional
  item = Parse(closed);
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  EXPECT_FALSE(item.event->closure.has_value());
}

TEST(EventJsonTest, RejectionReasons) {
  struct Case {
    const char* name;
    std::function<void(json&)> mutate;
    const char* reason;
  };
  const Case cases[] = {
      {"no event_id", [](json& j) { j.erase("event_id"); }, "missing event_id"},
      {"null event_id", [](json& j) { j["event_id"] = nullptr; }, "missing event_id"},
      {"numeric event_id", [](json& j) { j["event_id"] = 17; }, "event_id must be a string"},
      {"empty event_id", [](json& j) { j["event_id"] = ""; }, "event_id is empty"},
      {"long event_id", [](json& j) { j["event_id"] = std::string(129, 'x'); },
       "event_id is too long"},
      {"no type", [](json& j) { j.erase("type"); }, "missing type"},
      {"numeric type", [](json& j) { j["type"] = 1; }, "type must be a string"},
      {"unknown type", [](json& j) { j["type"] = "call.started"; }, "unknown type 'call.started'"},
      {"unsafe type", [](json& j) { j["type"] = "call 07700900123"; }, "unknown type"},
      {"no occurred_at", [](json& j) { j.erase("occurred_at"); }, "missing occurred_at"},
      {"numeric occurred_at", [](json& j) { j["occurred_at"] = 1795684502; },
       "occurred_at must be a string"},
      {"bad occurred_at", [](json& j) { j["occurred_at"] = "2026-02-30T00:00:00Z"; },
       "occurred_at is not RFC 3339"},
      {"year 0000", [](json& j) { j["occurred_at"] = "0000-06-01T00:00:00Z"; },
       "occurred_at is out of range"},
      {"before year 1 in UTC", [](json& j) { j["occurred_at"] = "0001-01-01T00:30:00+01:00"; },
       "occurred_at is out of range"},
      {"incident time out of range",
       [](json& j) { j["incident"]["opened_at"] = "0000-01-01T00:00:00Z"; },
       "incident.opened_at is out of range"},
      {"blank incident.id", [](json& j) { j["incident"]["id"] = " \t"; }, "incident.id is empty"},
      {"no offset", [](json& j) { j["occurred_at"] = "2026-11-26T09:15:02"; },
       "occurred_at is not RFC 3339"},
      {"no incident", [](json& j) { j.erase("incident"); }, "missing incident"},
      {"null incident", [](json& j) { j["incident"] = nullptr; }, "missing incident"},
      {"string incident", [](json& j) { j["incident"] = "I-1"; }, "incident must be an object"},
      {"no incident.id", [](json& j) { j["incident"].erase("id"); }, "missing incident.id"},
      {"numeric incident.id", [](json& j) { j["incident"]["id"] = 5; },
       "incident.id must be a string"},
      {"empty incident.id", [](json& j) { j["incident"]["id"] = ""; }, "incident.id is empty"},
      {"no call", [](json& j) { j.erase("call"); }, "missing call"},
      {"null call", [](json& j) { j["call"] = nullptr; }, "missing call"},
      {"array call", [](json& j) { j["call"] = json::array(); }, "call must be an object"},
      {"no resource",
       [](json& j) {
         j["type"] = "resource.departed";
         j.erase("call");
       },
       "missing resource"},
      {"string seq", [](json& j) { j["seq"] = "104233"; }, "seq must be an integer"},
      {"float seq", [](json& j) { j["seq"] = 1.5; }, "seq must be an integer"},
      {"huge seq", [](json& j) { j["seq"] = 18446744073709551615ULL; }, "seq must be an integer"},
      {"bad qualifiers", [](json& j) { j["incident"]["qualifiers"] = "DOMESTIC"; },
       "incident.qualifiers must be an array of strings"},
      {"bad grade", [](json& j) { j["incident"]["grade"] = 3; }, "incident.grade must be a string"},
      {"bad opened_at", [](json& j) { j["incident"]["opened_at"] = "yesterday"; },
       "incident.opened_at is not RFC 3339"},
      {"bad location", [](json& j) { j["incident"]["location"] = "B33"; },
       "incident.location must be an object"},
      {"bad beat",
       [](json& j) {
         j["incident"]["location"] = {{"beat", 14}};
       },
       "incident.location.beat must be a string"},
      {"bad channel", [](json& j) { j["call"]["channel"] = 101; }, "call.channel must be a string"},
      {"bad call.id", [](json& j) { j["call"]["id"] = 7; }, "call.id must be a string"},
      {"bad ended_at", [](json& j) { j["call"]["ended_at"] = "2026-11-26"; },
       "call.ended_at is not RFC 3339"},
      {"bad caller", [](json& j) { j["caller"] = "victim"; }, "caller must be an object"},
      {"bad phone",
       [](json& j) {
         j["caller"] = {{"phone", true}};
       },
       "caller.phone must be a string"},
      {"bad role",
       [](json& j) {
         j["caller"] = {{"role", json::array()}};
       },
       "caller.role must be a string"},
      {"bad vulnerable",
       [](json& j) {
         j["caller"] = {{"vulnerable", "perhaps"}};
       },
       "caller.vulnerable must be a boolean"},
      {"bad resource", [](json& j) { j["resource"] = 1; }, "resource must be an object"},
      {"bad departed_at",
       [](json& j) {
         j["resource"] = {{"departed_at", 5}};
       },
       "resource.departed_at must be a string"},
      {"bad closure", [](json& j) { j["closure"] = "NFA"; }, "closure must be an object"},
      {"bad closure code",
       [](json& j) {
         j["closure"] = {{"code", 1}};
       },
       "closure.code must be a string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json j = Minimal();
    c.mutate(j);
    EXPECT_EQ(ReasonFor(j), c.reason);
  }
}

TEST(EventJsonTest, PhoneAsJsonNumberIsKeptAsDigits) {
  json j = Minimal();
  j["caller"] = {{"phone", 447700900123ULL}};
  const auto item = Parse(j);
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  EXPECT_EQ(item.event->caller->phone, "447700900123");
  // Never a float: its digits may be a spreadsheet's rounding (4.47701E+11 is another person's
  // number). Rejected; the line still names the number for its hold (event_parser_test).
  for (const double rounded : {447701000000.0, 447700900123.0, 44770090.25}) {
    j["caller"] = {{"phone", rounded}};
    EXPECT_EQ(ReasonFor(j), "caller.phone must be a string") << rounded;
  }
}

// Each field the rules read, as a messy log sends it, and what the rules then see.
TEST(EventJsonTest, RuleFieldsAreTrimmedAndCaseFolded) {
  struct Case {
    const char* object;  // "incident", "call" or "caller"
    const char* key;
    const char* sent;
    const char* read;
  };
  const Case cases[] = {
      {"incident", "type_code", " dom-abuse ", "DOM-ABUSE"},
      {"incident", "type_code", "\tDom-Abuse\r\n", "DOM-ABUSE"},
      {"incident", "type_code",
       "\xC2\xA0"
       "DOM-ABUSE\xE2\x80\x83",
       "DOM-ABUSE"},  // NBSP, em space
      {"incident", "type_code",
       "\xEF\xBB\xBF"
       "DOM-ABUSE",
       "DOM-ABUSE"},  // a stray BOM
      {"incident", "category", " Crime ", "crime"},
      {"incident", "category", "PUBLIC_SAFETY", "public_safety"},
      {"incident", "grade", " p1", "P1"},
      {"incident", "grade", "Scheduled", "SCHEDULED"},
      {"call", "channel", " Live_Chat ", "live_chat"},
      {"call", "channel", "999 ", "999"},
      {"caller", "role", "VICTIM", "victim"},
      {"caller", "phone_type", " Mobile", "mobile"},
      {"caller", "survey_consent", "Declined ", "declined"},
      {"caller", "language", " PL-pl ", "pl-pl"},
      {"caller", "phone", " +447700900123 ", "+447700900123"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.object) + "." + c.key + " = '" + c.sent + "'");
    json j = Minimal();
    j[c.object][c.key] = c.sent;
    const auto read = Parse(j);
    ASSERT_TRUE(read.event.has_value()) << read.reject_reason;
    const Event& e = *read.event;
    const std::string key = c.key;
    std::optional<std::string> got;
    if (key == "type_code") got = e.incident.type_code;
    if (key == "category") got = e.incident.category;
    if (key == "grade") got = e.incident.grade;
    if (key == "channel") got = e.call->channel;
    if (key == "role") got = e.caller->role;
    if (key == "phone_type") got = e.caller->phone_type;
    if (key == "survey_consent") got = e.caller->survey_consent;
    if (key == "language") got = e.caller->language;
    if (key == "phone") got = e.caller->phone;
    EXPECT_EQ(got, std::optional<std::string>(c.read));
  }
}

TEST(EventJsonTest, BlankIsMissingLikeNullOrAbsent) {
  const std::vector<std::pair<const char*, const char*>> fields = {
      {"incident", "type_code"}, {"incident", "category"},     {"incident", "grade"},
      {"call", "channel"},       {"caller", "role"},           {"caller", "phone_type"},
      {"caller", "language"},    {"caller", "survey_consent"}, {"caller", "phone"},
      {"caller", "age"},         {"caller", "vulnerable"},     {"incident", "qualifiers"}};
  for (const auto& [object, key] : fields) {
    for (const json& blank : {json(""), json("   "), json("\t\r\n"), json("\xC2\xA0")}) {
      SCOPED_TRACE(std::string(object) + "." + key + " = " + blank.dump());
      json j = Minimal();
      j[object][key] = blank;
      const auto read = Parse(j);
      ASSERT_TRUE(read.event.has_value()) << read.reject_reason;
      // The same event as if the key were absent.
      json absent = Minimal();
      absent[object][key] = blank;
      absent[object].erase(key);
      const auto without = Parse(absent);
      ASSERT_TRUE(without.event.has_value());
      EXPECT_EQ(*read.event, *without.event);
    }
  }
}

TEST(EventJsonTest, QualifiersWithABlankOrUnreadableEntryAreNotKnown) {
  const std::vector<std::pair<json, std::vector<std::string>>> cases = {
      {json{"DOMESTIC", ""}, {"DOMESTIC"}},
      {json{" ", "repeat_victim"}, {"REPEAT_VICTIM"}},
      {json{"DOMESTIC", 3}, {"DOMESTIC"}},
      {json{nullptr}, {}},
      {json{json::object(), "stalking "}, {"STALKING"}},
      {json{json::array({"DOMESTIC"})}, {}},
      {json{true}, {}},
  };
  for (const auto& [flags, readable] : cases) {
    SCOPED_TRACE(flags.dump());
    json j = Minimal();
    j["incident"]["qualifiers"] = flags;
    const auto read = Parse(j);
    ASSERT_TRUE(read.event.has_value()) << read.reject_reason;
    // Missing, not "no flags": an exclusion that needs qualifiers cannot say "does not match".
    EXPECT_FALSE(read.event->incident.qualifiers.has_value());
    EXPECT_EQ(read.event->incident.partial_qualifiers, readable);
  }
}

TEST(EventJsonTest, BooleansGivenAsTextOrNumbers) {
  const std::vector<std::pair<json, std::optional<bool>>> cases = {
      {true, true}, {false, false}, {"true", true}, {" TRUE ", true},   {"Yes", true},
      {"y", true},  {"1", true},    {1, true},      {"false", false},   {"No", false},
      {"N", false}, {"0", false},   {0, false},     {"", std::nullopt}, {" ", std::nullopt}};
  for (const auto& [sent, expected] : cases) {
    json j = Minimal();
    j["caller"] = {{"vulnerable", sent}};
    const auto read = Parse(j);
    ASSERT_TRUE(read.event.has_value()) << sent.dump() << ": " << read.reject_reason;
    EXPECT_EQ(read.event->caller->vulnerable, expected) << sent.dump();
  }
  // A flag we cannot read is not guessed at.
  for (const json& sent : {json("unknown"), json("maybe"), json(2), json(-1), json(0.5),
                           json::array({true}), json::object()}) {
    json j = Minimal();
    j["caller"] = {{"vulnerable", sent}};
    EXPECT_EQ(ReasonFor(j), "caller.vulnerable must be a boolean") << sent.dump();
  }
}

TEST(EventJsonTest, IncidentIdIsTrimmedSoRelatedEventsAreFound) {
  json j = Minimal();
  j["incident"]["id"] = " WMP-1 ";
  const auto read = Parse(j);
  ASSERT_TRUE(read.event.has_value());
  EXPECT_EQ(read.event->incident.id, "WMP-1");
}

TEST(EventJsonTest, OrderedJsonReadsTheSame) {
  const json j = Minimal();
  const auto plain = EventFromJson(j);
  const auto ordered = EventFromJson(nlohmann::ordered_json::parse(j.dump()));
  ASSERT_TRUE(plain.event && ordered.event);
  EXPECT_EQ(*plain.event, *ordered.event);
  EXPECT_EQ(EventFromJson(nlohmann::ordered_json::array()).reject_reason, "not a JSON object");
}

// The example event of shared/spec/feed.md, as the writer gives it back: the contract's form.
TEST(EventJsonTest, WriterGivesTheContractForm) {
  const json sent = json::parse(R"({
    "seq": 104233, "event_id": "CW-20261126-0000417-CE", "type": "call.ended",
    "occurred_at": "2026-11-26T09:15:02Z",
    "incident": {"id": "WMP-20261126-0417", "opened_at": "2026-11-26T09:03:40Z",
      "type_code": " burg-res", "type_label": "Burglary - residential", "category": "Crime",
      "grade": "P3", "qualifiers": ["repeat_victim"],
      "location": {"npu": "Birmingham East", "beat": "BE-14", "postcode_district": "B33"}},
    "call": {"id": "C-99812345", "channel": "101", "started_at": "2026-11-26T09:03:12Z",
      "ended_at": "2026-11-26T09:15:02Z", "handler_id": "OP4411",
      "handler_team": "Force Contact - Team 3"},
    "resource": null,
    "caller": {"phone": "+447700900123", "phone_type": "mobile", "role": "victim", "age": "41",
      "gender": "female", "ethnicity": "White British", "language": "en", "vulnerable": false,
      "survey_consent": "unknown", "nickname": "ignored"}})");
  const auto read = Parse(sent);
  ASSERT_TRUE(read.event.has_value()) << read.reject_reason;
  const json expected = json::parse(R"({
    "seq": 104233, "event_id": "CW-20261126-0000417-CE", "type": "call.ended",
    "occurred_at": "2026-11-26T09:15:02.000Z",
    "incident": {"id": "WMP-20261126-0417", "opened_at": "2026-11-26T09:03:40.000Z",
      "type_code": "BURG-RES", "type_label": "Burglary - residential", "category": "crime",
      "grade": "P3", "qualifiers": ["REPEAT_VICTIM"],
      "location": {"npu": "Birmingham East", "beat": "BE-14", "postcode_district": "B33"}},
    "call": {"id": "C-99812345", "channel": "101", "started_at": "2026-11-26T09:03:12.000Z",
      "ended_at": "2026-11-26T09:15:02.000Z", "handler_id": "OP4411",
      "handler_team": "Force Contact - Team 3"},
    "caller": {"phone": "+447700900123", "phone_type": "mobile", "role": "victim", "age": 41,
      "gender": "female", "ethnicity": "White British", "language": "en", "vulnerable": false,
      "survey_consent": "unknown"}})");
  EXPECT_EQ(EventToJson(*read.event, true), expected);

  json without_phone = expected;
  without_phone["caller"].erase("phone");
  EXPECT_EQ(EventToJson(*read.event, false), without_phone);
}

void ExpectRoundTrip(const Event& event) {
  const json written = EventToJson(event, true);
  // Through text too: the store keeps it as JSON text.
  const auto again = EventFromJson(json::parse(written.dump()));
  ASSERT_TRUE(again.event.has_value()) << again.reject_reason << "\n" << written.dump();
  EXPECT_EQ(*again.event, event) << written.dump();

  const auto without_phone = EventFromJson(EventToJson(event, false));
  ASSERT_TRUE(without_phone.event.has_value());
  Event expected = event;
  if (expected.caller) expected.caller->phone.reset();
  EXPECT_EQ(*without_phone.event, expected);
}

TEST(EventJsonTest, ReadingWhatTheWriterWroteGivesTheSameEvent) {
  // The odd corners: partial qualifiers, microseconds, empty objects, every optional absent.
  const char* objects[] = {
      R"({"event_id":"E-1","type":"call.ended","occurred_at":"2026-11-26T09:15:02.123456+01:00",
          "incident":{"id":"I-1","qualifiers":["domestic",""," Hate"]},"call":{}})",
      R"({"event_id":"E-2","type":"resource.departed","occurred_at":"2026-11-26T09:15:02.1Z",
          "incident":{"id":"I-1","qualifiers":[null]},"resource":{},"caller":{}})",
      R"({"event_id":"E-3","type":"incident.closed","occurred_at":"9999-12-31T23:59:59.999999Z",
          "incident":{"id":"I-1","qualifiers":[],"location":{"beat":""}},"closure":{"code":""},
          "caller":{"age":0,"vulnerable":"yes","phone":447700900123,"gender":""}})",
      R"({"seq":-5,"event_id":" E 4 ","type":"call.ended","occurred_at":"0001-01-01T00:00:00Z",
          "incident":{"id":"I-1","type_code":"  "},"call":{"id":"","channel":" "}})",
  };
  for (const char* text : objects) {
    SCOPED_TRACE(text);
    const auto read = EventFromJson(json::parse(text));
    ASSERT_TRUE(read.event.has_value()) << read.reject_reason;
    ExpectRoundTrip(*read.event);
  }
}

TEST(EventJsonTest, GeneratedStreamRoundTrips) {
  sim::GeneratorOptions options;
  options.seed = 6;
  sim::EventGenerator generator(options);
  int events = 0;
  for (int i = 0; i < 3000; ++i) {
    const sim::GeneratedLine line = generator.Next();
    const auto read = EventFromJson(json::parse(line.line));
    ASSERT_TRUE(read.event.has_value()) << read.reject_reason << ": " << line.line;
    ExpectRoundTrip(*read.event);
    ++events;
    if (HasFailure()) break;
  }
  EXPECT_EQ(events, 3000);
}
}  // namespace
}  // namespace surveyd
