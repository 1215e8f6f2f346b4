#include "surveyd/feed/event_parser.hpp"

#include <gtest/gtest.h>

#include <functional>

#include <nlohmann/json.hpp>

namespace surveyd::feed {
namespace {

using nlohmann::json;

// The example event from shared/spec/feed.md, verbatim.
constexpr const char* kSpecExample = R"({
  "seq": 104233,
  "event_id": "CW-20261126-0000417-CE",
  "type": "call.ended",
  "occurred_at": "2026-11-26T09:15:02Z",
  "incident": {
    "id": "WMP-20261126-0417",
    "opened_at": "2026-11-26T09:03:40Z",
    "type_code": "BURG-RES",
    "type_label": "Burglary - residential",
    "category": "crime",
    "grade": "P3",
    "qualifiers": ["REPEAT_VICTIM"],
    "location": { "npu": "Birmingham East", "beat": "BE-14", "postcode_district": "B33" }
  },
  "call": {
    "id": "C-99812345",
    "channel": "101",
    "started_at": "2026-11-26T09:03:12Z",
    "ended_at": "2026-11-26T09:15:02Z",
    "handler_id": "OP4411",
    "handler_team": "Force Contact - Team 3"
  },
  "resource": null,
  "caller": {
    "phone": "+447700900123",
    "phone_type": "mobile",
    "role": "victim",
    "age": 41,
    "gender": "female",
    "ethnicity": "White British",
    "language": "en",
    "vulnerable": false,
    "survey_consent": "unknown"
  }
})";

TimePoint At(const char* text) { return ParseRfc3339(text).value(); }

json Minimal() {
  return json{{"event_id", "E-1"},
              {"type", "call.ended"},
              {"occurred_at", "2026-11-26T09:15:02Z"},
              {"incident", {{"id", "I-1"}}},
              {"call", {{"id", "C-1"}}}};
}

store::IngestItem Parse(const json& j) { return ParseEvent(j.dump(), "tcp"); }

std::string ReasonFor(const json& j) {
  const auto item = Parse(j);
  EXPECT_FALSE(item.event.has_value()) << j.dump();
  return item.reject_reason;
}

TEST(EventParserTest, SpecExampleParsesWithEveryField) {
  const auto item = ParseEvent(kSpecExample, "tcp");
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  EXPECT_EQ(item.source, "tcp");
  EXPECT_EQ(item.raw, kSpecExample);
  EXPECT_EQ(item.event_id, "CW-20261126-0000417-CE");
  EXPECT_EQ(item.seq, 104233);
  EXPECT_TRUE(item.reject_reason.empty());

  const Event& e = *item.event;
  EXPECT_EQ(e.seq, 104233);
  EXPECT_EQ(e.event_id, "CW-20261126-0000417-CE");
  EXPECT_EQ(e.type, EventType::kCallEnded);
  EXPECT_EQ(e.occurred_at, At("2026-11-26T09:15:02Z"));

  EXPECT_EQ(e.incident.id, "WMP-20261126-0417");
  EXPECT_EQ(e.incident.opened_at, At("2026-11-26T09:03:40Z"));
  EXPECT_EQ(e.incident.type_code, "BURG-RES");
  EXPECT_EQ(e.incident.type_label, "Burglary - residential");
  EXPECT_EQ(e.incident.category, "crime");
  EXPECT_EQ(e.incident.grade, "P3");
  ASSERT_TRUE(e.incident.qualifiers.has_value());
  EXPECT_EQ(*e.incident.qualifiers, std::vector<std::string>{"REPEAT_VICTIM"});
  EXPECT_EQ(e.incident.location.npu, "Birmingham East");
  EXPECT_EQ(e.incident.location.beat, "BE-14");
  EXPECT_EQ(e.incident.location.postcode_district, "B33");

  ASSERT_TRUE(e.call.has_value());
  EXPECT_EQ(e.call->id, "C-99812345");
  EXPECT_EQ(e.call->channel, "101");
  EXPECT_EQ(e.call->started_at, At("2026-11-26T09:03:12Z"));
  EXPECT_EQ(e.call->ended_at, At("2026-11-26T09:15:02Z"));
  EXPECT_EQ(e.call->handler_id, "OP4411");
  EXPECT_EQ(e.call->handler_team, "Force Contact - Team 3");

  EXPECT_FALSE(e.resource.has_value());
  EXPECT_FALSE(e.closure.has_value());

  ASSERT_TRUE(e.caller.has_value());
  EXPECT_EQ(e.caller->phone, "+447700900123");
  EXPECT_EQ(e.caller->phone_type, "mobile");
  EXPECT_EQ(e.caller->role, "victim");
  EXPECT_EQ(e.caller->age, 41);
  EXPECT_EQ(e.caller->gender, "female");
  EXPECT_EQ(e.caller->ethnicity, "White British");
  EXPECT_EQ(e.caller->language, "en");
  EXPECT_EQ(e.caller->vulnerable, false);
  EXPECT_EQ(e.caller->survey_consent, "unknown");
}

// Found by the fuzzer (tests/fuzz/corpus/event_parser/number_overflow.json): a number too large
// for a double made the JSON library throw out_of_range, which escaped the parser, so one such
// line would have failed its whole batch, and the TCP stream after it, forever.
TEST(EventParserTest, ANumberTooLargeIsARejectionNotAnException) {
  for (const char* text : {"7777777777777773888888888888e888e",
                           R"({"event_id":"E-1","type":"call.ended","seq":1e999})",
                           R"({"event_id":"E-1","caller":{"age":-1e400}})"}) {
    store::IngestItem item;
    ASSERT_NO_THROW(item = ParseEvent(text, "tcp")) << text;
    EXPECT_FALSE(item.event.has_value()) << text;
    EXPECT_EQ(item.reject_reason, "invalid JSON: a number out of range") << text;
    EXPECT_EQ(item.reject_reason.find("7777"), std::string::npos);
    std::vector<store::IngestItem> items;
    ASSERT_NO_THROW(items = ParseBody(text, "application/json", "push")) << text;
    ASSERT_EQ(items.size(), 1u);
    EXPECT_FALSE(items[0].event.has_value());
  }
}

TEST(EventParserTest, MinimalEventLeavesOptionalFieldsEmpty) {
  const auto item = Parse(Minimal());
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  const Event& e = *item.event;
  EXPECT_FALSE(e.seq.has_value());
  EXPECT_FALSE(item.seq.has_value());
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

TEST(EventParserTest, NullsAreTheSameAsAbsent) {
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

TEST(EventParserTest, EmptyQualifiersAreNotAbsentQualifiers) {
  json j = Minimal();
  j["incident"]["qualifiers"] = json::array();
  const auto item = Parse(j);
  ASSERT_TRUE(item.event.has_value());
  ASSERT_TRUE(item.event->incident.qualifiers.has_value());
  EXPECT_TRUE(item.event->incident.qualifiers->empty());
}

TEST(EventParserTest, QualifiersAndTypeCodeAreUpperCased) {
  json j = Minimal();
  j["incident"]["qualifiers"] = {"domestic", " Hate ", "NEW_FLAG_2027"};
  j["incident"]["type_code"] = "burg-res";
  const auto item = Parse(j);
  ASSERT_TRUE(item.event.has_value());
  EXPECT_EQ(*item.event->incident.qualifiers,
            (std::vector<std::string>{"DOMESTIC", "HATE", "NEW_FLAG_2027"}));
  EXPECT_EQ(item.event->incident.type_code, "BURG-RES");
}

TEST(EventParserTest, UnknownFieldsAreIgnored) {
  json j = Minimal();
  j["shiny_new_field"] = {{"nested", {1, 2, 3}}};
  j["incident"]["priority_score"] = 7;
  j["call"]["recording_ref"] = "R-1";
  const auto item = Parse(j);
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  EXPECT_EQ(item.raw, j.dump());  // kept in raw
}

TEST(EventParserTest, AgeIsLiberal) {
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

TEST(EventParserTest, BadAgesAreRejectedNamingTheField) {
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

TEST(EventParserTest, OtherEventTypes) {
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

TEST(EventParserTest, RejectionReasons) {
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
      {"bad qualifier",
       [](json& j) {
         j["incident"]["qualifiers"] = {"DOMESTIC", 3};
       },
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
         j["caller"] = {{"vulnerable", "yes"}};
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

TEST(EventParserTest, RejectedItemsKeepRawIdAndSeq) {
  json j = Minimal();
  j["seq"] = 12;
  j["occurred_at"] = "garbage";
  const auto item = ParseEvent(j.dump(), "replay");
  EXPECT_FALSE(item.event.has_value());
  EXPECT_EQ(item.source, "replay");
  EXPECT_EQ(item.raw, j.dump());
  EXPECT_EQ(item.event_id, "E-1");
  EXPECT_EQ(item.seq, 12);
}

TEST(EventParserTest, ReasonsNeverContainThePhoneNumberOrRawText) {
  json j = Minimal();
  j["caller"] = {{"phone", "07700 900123"}, {"age", "07700 900123"}};
  const auto item = Parse(j);
  ASSERT_FALSE(item.event.has_value());
  EXPECT_EQ(item.reject_reason.find("07700"), std::string::npos) << item.reject_reason;

  json k = Minimal();
  k["type"] = "+447700900123";
  EXPECT_EQ(ReasonFor(k), "unknown type");

  const auto garbage = ParseEvent("{\"phone\": \"07700 900123\"", "tcp");
  EXPECT_EQ(garbage.reject_reason.find("07700"), std::string::npos) << garbage.reject_reason;
}

TEST(EventParserTest, PhoneAsJsonNumberIsKeptAsDigits) {
  json j = Minimal();
  j["caller"] = {{"phone", 447700900123ULL}};
  const auto item = Parse(j);
  ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
  EXPECT_EQ(item.event->caller->phone, "447700900123");
}

TEST(EventParserTest, HeartbeatsAreNotEvents) {
  const auto item = ParseEvent(R"({"heartbeat":"2026-11-26T09:15:12Z"})", "tcp");
  EXPECT_FALSE(item.event.has_value());
  EXPECT_EQ(item.reject_reason, "heartbeat");
  EXPECT_TRUE(item.event_id.empty());
}

TEST(EventParserTest, GarbageIsRejected) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"   \r", "empty"},
      {"not json", "invalid JSON at byte 2"},
      {"{\"event_id\": \"E-1\",", "invalid JSON at byte 20"},  // at the end of input
      {"[1,2]", "not a JSON object"},
      {"\"a string\"", "not a JSON object"},
      {"42", "not a JSON object"},
      {"null", "not a JSON object"},
      {"{}", "missing event_id"},
      {"{\"subscribe\":{\"after_seq\":1}}", "missing event_id"},
      {"{\"event_id\":\"\xff\xfe\"}", "invalid JSON at byte 14"},  // not UTF-8
  };
  for (const auto& c : cases) {
    const auto item = ParseEvent(c.text, "tcp");
    EXPECT_FALSE(item.event.has_value()) << c.text;
    EXPECT_EQ(item.reject_reason, c.reason) << c.text;
    EXPECT_EQ(item.raw, c.text);
  }
}

TEST(EventParserTest, DeepNestingIsRejectedWithoutRecursingIntoIt) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const auto item = ParseEvent(deep, "push");
  EXPECT_FALSE(item.event.has_value());
  EXPECT_EQ(item.reject_reason, "JSON nested too deeply");

  // Brackets inside strings do not count.
  json j = Minimal();
  j["note"] = std::string(100, '{') + "\\\"" + std::string(100, '[');
  EXPECT_TRUE(Parse(j).event.has_value());
}

TEST(EventParserTest, LineWithTrailingCarriageReturnParses) {
  const std::string line = Minimal().dump() + "\r";
  EXPECT_TRUE(ParseEvent(line, "tcp").event.has_value());
}

TEST(EventParserTest, SplitLines) {
  EXPECT_TRUE(SplitLines("").empty());
  EXPECT_TRUE(SplitLines("\n\n \r\n\t\n").empty());
  EXPECT_EQ(SplitLines("a\nb"), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(SplitLines("a\r\n\r\nb\r\n"), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(SplitLines("\n  a  \n"), (std::vector<std::string_view>{"  a  "}));
  EXPECT_EQ(SplitLines("only"), (std::vector<std::string_view>{"only"}));
}

TEST(EventParserTest, BodyWithOneObject) {
  const auto items = ParseBody(kSpecExample, "application/json", "push");
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(items[0].event.has_value()) << items[0].reject_reason;
  EXPECT_EQ(items[0].raw, kSpecExample);
  EXPECT_EQ(items[0].source, "push");
}

TEST(EventParserTest, BodyWithAnArrayGivesOneItemPerElement) {
  json second = Minimal();
  second["event_id"] = "E-2";
  json bad = Minimal();
  bad["event_id"] = "E-3";
  bad.erase("incident");
  const json body = json::array({Minimal(), second, bad, 7});
  const auto items = ParseBody(body.dump(2), "application/json; charset=utf-8", "push");
  ASSERT_EQ(items.size(), 4u);
  EXPECT_TRUE(items[0].event.has_value());
  EXPECT_EQ(items[0].event_id, "E-1");
  EXPECT_EQ(json::parse(items[0].raw), Minimal());  // each element serialised back
  EXPECT_TRUE(items[1].event.has_value());
  EXPECT_EQ(items[1].event_id, "E-2");
  EXPECT_FALSE(items[2].event.has_value());
  EXPECT_EQ(items[2].event_id, "E-3");
  EXPECT_EQ(items[2].reject_reason, "missing incident");
  EXPECT_FALSE(items[3].event.has_value());
  EXPECT_EQ(items[3].reject_reason, "not a JSON object");
  EXPECT_EQ(items[3].raw, "7");
}

TEST(EventParserTest, ArrayElementRawKeepsKeyOrder) {
  const std::string body = R"([{"type":"call.ended","event_id":"E-1","zeta":1,"alpha":2}])";
  const auto items = ParseBody(body, "application/json", "push");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].raw, R"({"type":"call.ended","event_id":"E-1","zeta":1,"alpha":2})");
}

TEST(EventParserTest, EmptyArrayGivesNoItems) {
  EXPECT_TRUE(ParseBody("[]", "application/json", "push").empty());
}

TEST(EventParserTest, NdjsonBody) {
  json second = Minimal();
  second["event_id"] = "E-2";
  const std::string body = Minimal().dump() + "\r\n\r\n" + "garbage\n" + second.dump() + "\n";
  const auto items = ParseBody(body, "application/x-ndjson", "push");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_TRUE(items[0].event.has_value());
  EXPECT_EQ(items[0].raw, Minimal().dump());
  EXPECT_FALSE(items[1].event.has_value());
  EXPECT_EQ(items[1].reject_reason, "invalid JSON at byte 1");
  EXPECT_EQ(items[1].raw, "garbage");
  EXPECT_TRUE(items[2].event.has_value());
  EXPECT_EQ(items[2].event_id, "E-2");
}

TEST(EventParserTest, BodyWithoutContentTypeIsSniffed) {
  json second = Minimal();
  second["event_id"] = "E-2";
  const json array = json::array({Minimal(), second});

  auto items = ParseBody(array.dump(), "", "push");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(items[1].event.has_value());

  items = ParseBody(kSpecExample, "", "push");  // one pretty-printed object
  ASSERT_EQ(items.size(), 1u);
  EXPECT_TRUE(items[0].event.has_value());

  items = ParseBody(Minimal().dump() + "\n" + second.dump(), "text/plain", "push");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].event_id, "E-1");
  EXPECT_EQ(items[1].event_id, "E-2");
}

TEST(EventParserTest, BodyThatIsNotJsonIsOneRejectedItem) {
  auto items = ParseBody("this is not json", "application/json", "push");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_FALSE(items[0].event.has_value());
  EXPECT_EQ(items[0].reject_reason, "invalid JSON at byte 2");
  EXPECT_EQ(items[0].raw, "this is not json");

  items = ParseBody("[{\"event_id\":", "", "push");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_FALSE(items[0].event.has_value());

  items = ParseBody("", "application/json", "push");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].reject_reason, "empty");

  items = ParseBody("\n\n", "application/x-ndjson", "push");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].reject_reason, "empty");
}

}  // namespace
}  // namespace surveyd::feed
