#pragma once
// One command-and-control event (../shared/spec/feed.md), parsed. Fields that the feed may omit
// or send as null are std::optional, so the rules can tell "absent" from "empty" and refuse to
// text when a safety exclusion lacks the data it needs.
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
};

struct Incident {
  std::string id;
  std::optional<TimePoint> opened_at;
  std::optional<std::string> type_code, type_label, category, grade;
  std::optional<std::vector<std::string>> qualifiers;  // nullopt when the feed omitted them
  Location location;
};

struct Call {
  std::string id;
  std::optional<std::string> channel;  // "999", "101", "live_chat", "online", "in_person"
  std::optional<TimePoint> started_at, ended_at;
  std::optional<std::string> handler_id, handler_team;
};

struct Resource {
  std::optional<std::string> officer_id, callsign, department;
  std::optional<TimePoint> arrived_at, departed_at;
};

struct Closure {
  std::optional<std::string> code, outcome;
};

struct Caller {
  std::optional<std::string> phone;  // raw, as the log holds it: personal data
  std::optional<std::string> phone_type, role, gender, ethnicity, language, survey_consent;
  std::optional<int> age;
  std::optional<bool> vulnerable;
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
};

}  // namespace surveyd
