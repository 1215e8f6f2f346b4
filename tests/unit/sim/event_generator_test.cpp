#include "sim/event_generator.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "surveyd/core/phone.hpp"
#include "surveyd/feed/event_parser.hpp"

namespace surveyd::sim {
namespace {

std::vector<GeneratedLine> Generate(const GeneratorOptions& options, int n) {
  EventGenerator generator(options);
  std::vector<GeneratedLine> lines;
  lines.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) lines.push_back(generator.Next());
  return lines;
}

TEST(EventGeneratorTest, SameSeedGivesTheSameStream) {
  GeneratorOptions options;
  options.seed = 42;
  options.duplicate_rate = 0.05;
  options.malformed_rate = 0.05;
  options.gap_rate = 0.05;
  const auto a = Generate(options, 3000);
  const auto b = Generate(options, 3000);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i].line, b[i].line) << "line " << i;

  options.seed = 43;
  const auto c = Generate(options, 100);
  int same = 0;
  for (std::size_t i = 0; i < c.size(); ++i) same += a[i].line == c[i].line;
  EXPECT_LT(same, 5);
}

TEST(EventGeneratorTest, DifferentSeedsGiveDifferentEventIds) {
  GeneratorOptions options;
  std::set<std::string> ids;
  for (const auto& l : Generate(options, 2000)) ids.insert(l.event_id);
  options.seed = 2;
  for (const auto& l : Generate(options, 2000)) EXPECT_FALSE(ids.count(l.event_id)) << l.event_id;
}

TEST(EventGeneratorTest, EveryEventParsesAndEveryMalformedLineIsRejected) {
  GeneratorOptions options;
  options.seed = 7;
  options.duplicate_rate = 0.03;
  options.malformed_rate = 0.03;
  options.gap_rate = 0.02;
  std::set<std::string> seen;
  std::int64_t last_seq = 0;
  int events = 0, duplicates = 0, malformed = 0;
  for (const auto& l : Generate(options, 6000)) {
    ASSERT_GT(l.seq, last_seq);
    last_seq = l.seq;
    const auto item = feed::ParseEvent(l.line, "tcp");
    if (l.kind == GeneratedLine::Kind::kMalformed) {
      ++malformed;
      EXPECT_FALSE(item.event.has_value()) << l.line;
      EXPECT_FALSE(item.reject_reason.empty()) << l.line;
      continue;
    }
    ASSERT_TRUE(item.event.has_value()) << item.reject_reason << "\n" << l.line;
    EXPECT_EQ(item.event->event_id, l.event_id);
    EXPECT_EQ(item.event->seq, l.seq);
    EXPECT_EQ(EventTypeName(item.event->type), l.type);
    EXPECT_EQ(item.event->occurred_at, l.occurred_at);
    if (l.kind == GeneratedLine::Kind::kDuplicate) {
      ++duplicates;
      EXPECT_TRUE(seen.count(l.event_id)) << "a duplicate re-sends an earlier event";
    } else {
      ++events;
      EXPECT_TRUE(seen.insert(l.event_id).second) << "event ids are unique: " << l.event_id;
      switch (item.event->type) {
        case EventType::kCallEnded:
          EXPECT_TRUE(item.event->call.has_value());
          break;
        case EventType::kResourceDeparted:
          ASSERT_TRUE(item.event->resource.has_value());
          EXPECT_TRUE(item.event->resource->officer_id.has_value());
          break;
        case EventType::kIncidentClosed:
          EXPECT_TRUE(item.event->closure.has_value());
          break;
      }
    }
  }
  EXPECT_GT(duplicates, 100);
  EXPECT_GT(malformed, 100);
  EXPECT_GT(events, 5400);
}

TEST(EventGeneratorTest, WithoutSeqForPushAndReplay) {
  GeneratorOptions options;
  options.with_seq = false;
  for (const auto& l : Generate(options, 200)) {
    EXPECT_EQ(l.seq, 0);
    EXPECT_EQ(l.line.find("\"seq\""), std::string::npos);
    const auto item = feed::ParseEvent(l.line, "push");
    ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
    EXPECT_FALSE(item.event->seq.has_value());
  }
}

TEST(EventGeneratorTest, RealTimeStampsEventsWithNow) {
  EventGenerator generator(GeneratorOptions{});
  const TimePoint now = FromUnixSeconds(1800000000);
  for (int i = 0; i < 100; ++i) {
    const auto l = generator.Next(now);
    EXPECT_EQ(l.occurred_at, now);
    const auto item = feed::ParseEvent(l.line, "push");
    ASSERT_TRUE(item.event.has_value()) << item.reject_reason;
    EXPECT_EQ(item.event->occurred_at, now);
    ASSERT_TRUE(item.event->incident.opened_at.has_value());
    EXPECT_LE(*item.event->incident.opened_at, now);
  }
}

// The mix should look like a force's day, roughly: the numbers below are wide bands, not targets.
TEST(EventGeneratorTest, ProportionsAreRoughlyThoseOfAForce) {
  GeneratorOptions options;
  options.seed = 11;
  options.start = FromUnixSeconds(1795651200);  // 2026-11-26T00:00:00Z
  std::map<std::string, int> channels, types, languages;
  std::map<int, int> calls_by_hour;
  std::set<std::string> incidents_called, incidents_attended;
  int first_calls = 0, domestic = 0, under_16 = 0, no_age = 0, callers = 0;
  int mobiles = 0, landlines = 0, withheld = 0, other_phones = 0;
  for (const auto& l : Generate(options, 20000)) {
    const auto item = feed::ParseEvent(l.line, "tcp");
    ASSERT_TRUE(item.event.has_value());
    const Event& e = *item.event;
    ++types[EventTypeName(e.type)];
    if (e.type == EventType::kResourceDeparted) incidents_attended.insert(e.incident.id);
    if (e.type != EventType::kCallEnded || l.event_id.substr(l.event_id.size() - 3) != "-CE") {
      continue;
    }
    // One count per incident from here on: its first call.
    ++first_calls;
    incidents_called.insert(e.incident.id);
    ++channels[e.call->channel.value_or("")];
    const auto hour = ToUnixSeconds(e.call->started_at.value()) % 86400 / 3600;
    ++calls_by_hour[static_cast<int>(hour)];
    const auto& q = e.incident.qualifiers.value();
    domestic += std::find(q.begin(), q.end(), "DOMESTIC") != q.end();
    if (!e.caller) continue;
    ++callers;
    ++languages[e.caller->language.value_or("")];
    if (!e.caller->age) {
      ++no_age;
    } else if (*e.caller->age < 16) {
      ++under_16;
    }
    if (!e.caller->phone) continue;
    // Only Ofcom drama numbers, whatever the format: nobody real can ever be texted.
    const auto number = phone::Normalize(*e.caller->phone);
    switch (number.kind) {
      case phone::Kind::kUkMobile:
        ++mobiles;
        EXPECT_EQ(number.e164.substr(0, 10), "+447700900") << number.e164;
        break;
      case phone::Kind::kUkLandline:
        ++landlines;
        EXPECT_EQ(number.e164.substr(0, 10), "+441214960") << number.e164;
        break;
      case phone::Kind::kWithheld:
        ++withheld;
        break;
      case phone::Kind::kInvalid:
        ++other_phones;
        break;
      default:
        ADD_FAILURE() << "unexpected kind " << phone::KindName(number.kind);
    }
  }
  auto share = [](int part, int whole) { return static_cast<double>(part) / whole; };
  EXPECT_NEAR(share(channels["999"], first_calls), 0.25, 0.03);
  EXPECT_NEAR(share(channels["101"], first_calls), 0.50, 0.03);
  EXPECT_NEAR(share(channels["live_chat"], first_calls), 0.15, 0.03);
  EXPECT_GT(channels["online"], 0);
  EXPECT_GT(channels["in_person"], 0);

  EXPECT_GT(types["call.ended"], types["resource.departed"]);
  EXPECT_GT(types["call.ended"], types["incident.closed"]);
  EXPECT_GT(types["incident.closed"], 0);
  int attended = 0;
  for (const auto& id : incidents_called) attended += incidents_attended.count(id) > 0;
  EXPECT_NEAR(share(attended, first_calls), 0.40, 0.08);
  EXPECT_NEAR(share(domestic, first_calls), 0.10, 0.03);

  int night = 0, evening = 0;
  for (int h = 3; h < 6; ++h) night += calls_by_hour[h];
  for (int h = 16; h < 19; ++h) evening += calls_by_hour[h];
  EXPECT_LT(night * 3, evening) << "03:00-06:00 is quiet, late afternoon busy";

  EXPECT_GT(share(languages["en"], callers), 0.85);
  for (const char* lang : {"pl", "pa", "ur", "cy"}) EXPECT_GT(languages[lang], 0) << lang;
  EXPECT_GT(under_16, 0);
  EXPECT_GT(no_age, 0);
  EXPECT_GT(share(mobiles, callers), 0.6);
  EXPECT_GT(landlines, 0);
  EXPECT_GT(withheld, 0);
  EXPECT_GT(other_phones, 0);
}

}  // namespace
}  // namespace surveyd::sim
