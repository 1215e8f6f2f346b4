#include "feed/name_scanner.hpp"

#include <gtest/gtest.h>

#include <string>

#include "surveyd/feed/event_parser.hpp"

namespace surveyd::feed {
namespace {

using Json = nlohmann::ordered_json;

Json Scan(std::string_view text) {
  NameScanner scanner;
  scanner.Feed(text);
  return scanner.Names();
}

constexpr const char* kEvent =
    R"({"seq":41,"event_id":"E-1","type":"incident.closed","incident":{"location":{"id":"L"},)"
    R"("qualifiers":["DOMESTIC",{"id":"X"}],"id":"INC-7","type_label":"a \"quoted\" }{ ]["},)"
    R"("call":{"id":"C-1"},"caller":{"phone":"07700 900123","age":41}})";

TEST(NameScannerTest, ReadsTheEventsNamesAndNothingElse) {
  EXPECT_EQ(Scan(kEvent), Json::parse(R"({"seq":41,"event_id":"E-1","incident":{"id":"INC-7"},)"
                                      R"("caller":{"phone":"07700 900123"}})"));
  // Ids of deeper objects (incident.location.id, a qualifier's, call.id) are not the incident's.
  EXPECT_EQ(Scan(R"({"call":{"id":"C-1"},"incident":{"location":{"id":"L"}}})"), Json::object());
}

TEST(NameScannerTest, ReadsAsFarAsTheTextIsJson) {
  const std::string event = kEvent;
  // Cut after the incident: its id is read, the number is not.
  const auto cut = event.find("\"call\"");
  EXPECT_EQ(Scan(event.substr(0, cut)),
            Json::parse(R"({"seq":41,"event_id":"E-1","incident":{"id":"INC-7"}})"));
  // Broken before the number: what came before is read.
  std::string broken = event;
  broken.replace(broken.find("\"call\""), 1, "}");
  EXPECT_EQ(Scan(broken), Json::parse(R"({"seq":41,"event_id":"E-1","incident":{"id":"INC-7"}})"));
  // Not an object, or an array of them: nothing.
  EXPECT_EQ(Scan("[" + event + "]"), Json::object());
  EXPECT_EQ(Scan("garbage " + event), Json::object());
  EXPECT_EQ(Scan(""), Json::object());
}

TEST(NameScannerTest, ReadsPastWhatTheParserRefuses) {
  // Nested past the parser's limit, and a number out of range, in fields no one reads.
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  EXPECT_EQ(Scan(R"({"incident":{"extra":)" + deep +
                 R"(,"id":"INC-D"},"caller":{"phone":1e999,)"
                 R"("x":1e999},"caller2":{"phone":"07700 900999"}})"),
            Json::parse(R"({"incident":{"id":"INC-D"}})"));
  // A number written as a JSON number, or a float.
  EXPECT_EQ(Scan(R"({"caller":{"phone":447700900123.0}})"),
            Json::parse(R"({"caller":{"phone":447700900123.0}})"));
}

TEST(NameScannerTest, ReadsInPiecesAndKeepsNoLongValue) {
  const std::string event = kEvent;
  for (std::size_t size : {1u, 2u, 7u, 64u}) {
    NameScanner scanner;
    for (std::size_t at = 0; at < event.size(); at += size) scanner.Feed(event.substr(at, size));
    EXPECT_EQ(scanner.Names(), Scan(event)) << size;
  }
  // A megabyte label passes through without being kept; an id longer than any is not read, and
  // names nothing where it repeats a key (the parser keeps the last, which it would not read).
  const std::string label(1 << 20, 'x');
  EXPECT_EQ(Scan(R"({"incident":{"type_label":")" + label + R"(","id":")" + std::string(1100, 'I') +
                 R"("},"caller":{"phone":"07700 900123"}})"),
            Json::parse(R"({"caller":{"phone":"07700 900123"}})"));
  EXPECT_EQ(Scan(R"({"incident":{"id":"INC-1","id":")" + std::string(1100, 'I') + R"("}})"),
            Json::object());
  // Padded far past that by a fixed-width export, or written in escapes: read as the parser
  // reads it.
  const std::string pad(3000, ' ');
  EXPECT_EQ(Scan(R"({"incident":{"id":")" + pad + "INC 1" + pad + R"("},"caller":{"phone":")" +
                 pad + "07700 900999" + R"(","phone":"07700 900123)" + pad + R"("}})"),
            Json::parse(R"({"incident":{"id":"INC 1"},"caller":{"phone":"07700 900123"}})"));
  std::string escaped;
  for (int i = 0; i < 50; ++i) escaped += "\\u0041";
  EXPECT_EQ(Scan(R"({"incident":{"id":")" + escaped + R"("}})"),
            Json::parse(R"({"incident":{"id":")" + std::string(50, 'A') + R"("}})"));
}

// As the parser reads them: the last of a key given twice (a null one names nothing), keys
// written with escapes, and a byte order mark before the object.
TEST(NameScannerTest, ReadsKeysAsTheParserDoes) {
  EXPECT_EQ(Scan(R"({"incident":{"id":"A","id":"B"},"incident":{"id":"C"}})"),
            Json::parse(R"({"incident":{"id":"C"}})"));
  EXPECT_EQ(Scan(R"({"incident":{"id":null,"id":"INC-A"},"caller":{"phone":"1","phone":null}})"),
            Json::parse(R"({"incident":{"id":"INC-A"}})"));
  EXPECT_EQ(Scan(R"({"\u0069ncident":{"\u0069d":"INC-9"},"caller":{"ph\u006fne":"07700 900123"})"),
            Json::parse(R"({"incident":{"id":"INC-9"},"caller":{"phone":"07700 900123"}})"));
  EXPECT_EQ(Scan("\xEF\xBB\xBF{\"event_id\":\"E1\",\"incident\":{\"id\":\"INC-A\""),
            Json::parse(R"({"event_id":"E1","incident":{"id":"INC-A"}})"));
}

// The parser names what a line it cannot parse names: nested too deeply, a number out of range,
// cut short. Each holds the texts of its incident and number as any rejected line does.
TEST(EventParserTest, AnUnparsableLineIsRejectedWithWhatItNames) {
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::string start =
      R"({"seq":9,"event_id":"E-9","type":"call.ended","incident":{"id":"INC-9",)"
      R"("qualifiers":["DOMESTIC"]},"caller":{"phone":"07700 900123"})";
  for (const std::string& line : {start + R"(,"extra":)" + deep + "}",
                                  start + R"(,"extra":{"n":1e999}})", start + R"(,"extra":{"n")"}) {
    const IngestItem item = ParseEvent(line, "tcp");
    ASSERT_FALSE(item.event.has_value()) << line;
    EXPECT_FALSE(item.reject_reason.empty());
    EXPECT_EQ(item.seq, 9);
    EXPECT_EQ(item.event_id, "E-9");
    EXPECT_EQ(item.incident_id, "INC-9");
    EXPECT_EQ(item.phone, "07700 900123");
  }
  // A body that is one such object, likewise.
  const auto items = ParseBody(start + R"(,"extra":)" + deep + "}", "application/json", "push");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].incident_id, "INC-9");
  EXPECT_EQ(items[0].phone, "07700 900123");
}

}  // namespace
}  // namespace surveyd::feed
