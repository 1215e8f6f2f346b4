#pragma once
// One command-and-control event (../shared/spec/feed.md), parsed and normalised (core/event_json:
// every field the rules read is trimmed and case-folded, and a blank value is absent). Fields that
// the feed may omit or send as null are std::optional, so the rules can tell "absent" from "empty"
// and refuse to text when a safety exclusion lacks the data it needs.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/core/time.hpp"

namespace surveyd {

enum class EventType { kCallEnded, kResourceDeparted, kIncidentClosed };
const char* EventTypeName(EventType type);                       // "call.ended", ...
std::optional<EventType> ParseEventType(std::string_view name);  // inverse; nullopt if unknown

struct Location {
  std::optional<std::string> npu, beat, postcode_district;
  bool operator==(const Location&) const = default;
};

struct Incident {
  std::string id;
  std::optional<TimePoint> opened_at;
  std::optional<std::string> type_code, type_label, category, grade;
  std::optional<std::vector<std::string>> qualifiers;  // nullopt: omitted, or not readable whole
  // When the list held a blank or non-string entry, qualifiers is nullopt (the flags are not
  // known) and these are the flags that could be read: a positive match on one still excludes.
  std::vector<std::string> partial_qualifiers;
  Location location;
  bool operator==(const Incident&) const = default;
};

struct Call {
  std::string id;
  std::optional<std::string> channel;  // "999", "101", "live_chat", "online", "in_person"
  std::optional<TimePoint> started_at, ended_at;
  std::optional<std::string> handler_id, handler_team;
  bool operator==(const Call&) const = default;
};

struct Resource {
  std::optional<std::string> officer_id, callsign, department;
  std::optional<TimePoint> arrived_at, departed_at;
  bool operator==(const Resource&) const = default;
};

struct Closure {
  std::optional<std::string> code, outcome;
  bool operator==(const Closure&) const = default;
};

struct Caller {
  std::optional<std::string> phone;  // raw, as the log holds it: personal data
  std::optional<std::string> phone_type, role, gender, ethnicity, language, survey_consent;
  std::optional<int> age;
  std::optional<bool> vulnerable;
  bool operator==(const Caller&) const = default;
};

struct Event {
  std::optional<std::int64_t> seq;
  std::string event_id;
  EventType type = EventType::kCallEnded;
  TimePoint occurred_at;
  Incident incident;
  std::optional<Call> call;
  std::optional<Resource> resource;
  std::optional<Caller> caller;
  std::optional<Closure> closure;
  bool operator==(const Event&) const = default;
};

}  // namespace surveyd
