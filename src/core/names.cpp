#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"

namespace surveyd {

const char* EventTypeName(EventType type) {
  switch (type) {
    case EventType::kCallEnded:
      return "call.ended";
    case EventType::kResourceDeparted:
      return "resource.departed";
    case EventType::kIncidentClosed:
      return "incident.closed";
  }
  return "unknown";
}

std::optional<EventType> ParseEventType(std::string_view name) {
  for (EventType type :
       {EventType::kCallEnded, EventType::kResourceDeparted, EventType::kIncidentClosed}) {
    if (name == EventTypeName(type)) return type;
  }
  return std::nullopt;
}

const char* OutcomeName(Decision::Outcome outcome) {
  switch (outcome) {
    case Decision::Outcome::kSurvey:
      return "survey";
    case Decision::Outcome::kExcluded:
      return "excluded";
    case Decision::Outcome::kIgnored:
      return "ignored";
  }
  return "unknown";
}

bool ForbidsSending(const Decision& redecided) {
  return redecided.outcome != Decision::Outcome::kSurvey && redecided.reason != "would_expire";
}

}  // namespace surveyd
