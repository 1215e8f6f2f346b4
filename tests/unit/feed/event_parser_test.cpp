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

IngestItem Parse(const json& j) { return ParseEvent(j.dump(), "tcp"); }

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
    IngestItem item;
    ASSERT_NO_THROW(item = ParseEvent(text, "tcp")) << text;
    EXPECT_FALSE(item.event.has_value()) << text;
    EXPECT_EQ(item.reject_reason, "invalid JSON: a number out of range") << text;
    EXPECT_EQ(item.reject_reason.find("7777"), std::string::npos);
    std::vector<IngestItem> items;
    ASSERT_NO_THROW(items = ParseBody(text, "application/json", "push")) << text;
    ASSERT_EQ(items.size(), 1u);
    EXPECT_FALSE(items[0].event.has_value());
  }
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

TEST(EventParserTest, ARejectedLineKeepsTheIncidentAndNumberItNames) {
  // It may be the line that rules a contact out: the store holds their texts.
  json j = Minimal();
  j["occurred_at"] = "garbage";
  j["incident"]["id"] = "INC-77";
  j["caller"] = {{"phone", "07700 900123"}};
  auto item = Parse(j);
  ASSERT_FALSE(item.event.has_value());
  EXPECT_EQ(item.incident_id, "INC-77");
  EXPECT_EQ(item.phone, "07700 900123");

  // Padded as a readable event's would be trimmed: the store finds the incident by the id.
  j["incident"]["id"] = " INC-77\u00A0";
  item = Parse(j);
  EXPECT_EQ(item.incident_id, "INC-77");

  j["caller"]["phone"] = 447700900123;  // written as a number by some exports
  j["incident"] = {{"id", 12}};         // not an id
  item = Parse(j);
  EXPECT_EQ(item.incident_id, "");
  EXPECT_EQ(item.phone, "447700900123");

  // As a float (pandas writes a column with blanks so), or padded far past its length by a
  // fixed-width export: still the number.
  j["caller"]["phone"] = 447700900123.0;
  EXPECT_EQ(Parse(j).phone, "447700900123");
  j["caller"]["phone"] = "07700 900123" + std::string(60, ' ');
  EXPECT_EQ(Parse(j).phone, "07700 900123");
  j["caller"]["phone"] = 4477009001.5;  // not a number of digits
  EXPECT_EQ(Parse(j).phone, "");

  // A good event carries its own: nothing is copied for it.
  const auto good = Parse(Minimal());
  ASSERT_TRUE(good.event.has_value());
  EXPECT_EQ(good.incident_id, "");
  EXPECT_EQ(good.phone, "");
}

TEST(EventParserTest, ALineThatIsNotUtf8IsRejectedWithWhatItNames) {
  // A Latin-1 byte from an export, or half a surrogate pair from a string cut inside an emoji:
  // the event cannot be stored, but its DOMESTIC flag must still hold the incident's texts.
  json j = Minimal();
  j["seq"] = 31;
  j["incident"]["id"] = "I-Z30";
  j["incident"]["qualifiers"] = {"DOMESTIC"};
  j["caller"] = {{"phone", "07700 900123"}};
  const std::string good = j.dump();
  const std::string label = R"("type_label":"X")";
  j["incident"]["type_label"] = "X";
  for (const std::string& bad :
       {std::string("Caf\xE9"), std::string(R"(Assault \ud83d)"), std::string(R"(\udc00 then)")}) {
    std::string line = j.dump();
    line.replace(line.find(label), label.size(), "\"type_label\":\"" + bad + "\"");
    const auto item = ParseEvent(line, "tcp");
    EXPECT_FALSE(item.event.has_value()) << bad;
    EXPECT_EQ(item.event_id, "E-1") << bad;
    EXPECT_EQ(item.seq, 31) << bad;
    EXPECT_EQ(item.incident_id, "I-Z30") << bad;
    EXPECT_EQ(item.phone, "07700 900123") << bad;
    EXPECT_NE(item.reject_reason.find("not UTF-8 text"), std::string::npos) << item.reject_reason;
    EXPECT_EQ(item.raw, line) << "kept as sent; the store replaces what it cannot hold";
  }
  // A surrogate pair written whole is a character, not an error.
  std::string emoji = j.dump();
  emoji.replace(emoji.find(label), label.size(), R"("type_label":"\ud83d\udc4d")");
  EXPECT_TRUE(ParseEvent(emoji, "tcp").event.has_value());
  EXPECT_TRUE(ParseEvent(good, "tcp").event.has_value());
}

TEST(EventParserTest, APushedArrayLosesOnlyTheEventThatIsNotUtf8) {
  json second = Minimal();
  second["event_id"] = "E-2";
  second["incident"]["type_label"] = "MARK";
  json third = Minimal();
  third["event_id"] = "E-3";
  std::string body = json::array({Minimal(), second, third}).dump();
  body.replace(body.find("MARK"), 4, "Caf\xE9");
  const auto items = ParseBody(body, "application/json", "push");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_TRUE(items[0].event.has_value());
  EXPECT_FALSE(items[1].event.has_value());
  EXPECT_EQ(items[1].event_id, "E-2");
  EXPECT_EQ(items[1].incident_id, "I-1");
  EXPECT_NE(items[1].reject_reason.find("not UTF-8 text"), std::string::npos);
  EXPECT_TRUE(items[2].event.has_value());
  EXPECT_EQ(items[2].event_id, "E-3");
}

TEST(EventParserTest, APushedArrayThatIsNotJsonIsRejectedElementByElementWithWhatEachNames) {
  // A push of three events whose last is cut short: each element holds its own incident's and
  // number's texts, the DOMESTIC close of I-3 among them, and together they keep the whole body.
  json first = Minimal();
  first["caller"] = {{"phone", "07700 900111"}};
  json second = Minimal();
  second["event_id"] = "E-2";
  second["incident"]["id"] = "I-2, \"[still a string]\"";
  json third = Minimal();
  third["event_id"] = "E-3";
  third["incident"]["id"] = "I-3";
  third["incident"]["qualifiers"] = {"DOMESTIC"};
  third["caller"] = {{"phone", "07700 900333"}};
  const std::string whole = json::array({first, second, third}).dump();
  for (const std::string& body :
       {whole.substr(0, whole.size() - 3),  // cut short
        "\xEF\xBB\xBF " + whole + "x",      // something after the array
        whole.substr(0, whole.find("I-3")) + "I-3\xE9" +
            whole.substr(whole.find("I-3") + 3).substr(0, 40)}) {  // not UTF-8 and cut short
    const auto items = ParseBody(body, "application/json", "push");
    ASSERT_EQ(items.size(), 3u) << body;
    std::string raw;
    for (const auto& item : items) {
      EXPECT_FALSE(item.event.has_value());
      EXPECT_EQ(item.source, "push");
      EXPECT_NE(item.reject_reason.find("not JSON"), std::string::npos) << item.reject_reason;
      raw += item.raw;
    }
    EXPECT_EQ(raw, body) << "nothing is lost";
    EXPECT_EQ(items[0].event_id, "E-1");
    EXPECT_EQ(items[0].incident_id, "I-1");
    EXPECT_EQ(items[0].phone, "07700 900111");
    EXPECT_EQ(items[1].event_id, "E-2");
    EXPECT_EQ(items[1].incident_id, "I-2, \"[still a string]\"");
    EXPECT_EQ(items[2].event_id, "E-3");
    EXPECT_NE(items[2].reject_reason.find("element 3 of 3"), std::string::npos);
    if (body.find('\xE9') == std::string::npos) {
      EXPECT_EQ(items[2].incident_id, "I-3");
      EXPECT_EQ(items[2].phone, "07700 900333");
    } else {
      EXPECT_EQ(items[2].incident_id, "I-3\uFFFD") << "read as the repaired text says";
    }
  }
  // A line is one event whatever it holds: an array line is one rejected item, as before.
  EXPECT_EQ(ParseEvent(whole.substr(0, whole.size() - 3), "tcp").raw,
            whole.substr(0, whole.size() - 3));
}

TEST(EventParserTest, AKeyGivenTwiceInOneObjectRejectsTheEventWithWhatItNames) {
  // The last would win: "qualifiers":["DOMESTIC"] then "qualifiers":[] would read as no flags.
  const std::string line =
      R"({"event_id":"DK-1","type":"call.ended","occurred_at":"2026-11-26T09:15:02Z",)"
      R"("incident":{"id":"I-DK","qualifiers":["DOMESTIC"],"qualifiers":[]},"call":{"id":"C-1"},)"
      R"("caller":{"phone":"07700 900123"}})";
  const auto item = ParseEvent(line, "push");
  EXPECT_FALSE(item.event.has_value());
  EXPECT_EQ(item.event_id, "DK-1");
  EXPECT_EQ(item.incident_id, "I-DK");
  EXPECT_EQ(item.phone, "07700 900123");
  EXPECT_NE(item.reject_reason.find("a key given twice"), std::string::npos) << item.reject_reason;
  // The same name in different objects is no repeat ("id" of the incident and of the call).
  EXPECT_TRUE(ParseEvent(Minimal().dump(), "push").event.has_value());
  // In a pushed array, only the element that repeats a key is refused.
  const std::string body = "[" + Minimal().dump() + "," + line + "]";
  const auto items = ParseBody(body, "application/json", "push");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(items[0].event.has_value());
  EXPECT_FALSE(items[1].event.has_value());
  EXPECT_EQ(items[1].incident_id, "I-DK");
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
      {"{\"event_id\":\"\xff\xfe\"}",
       "invalid JSON at byte 14: not UTF-8 text (a byte that is not UTF-8, or half a surrogate "
       "pair)"},
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
