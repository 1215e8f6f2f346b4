#pragma once
// Helpers for the rules tests: paths to fixtures, and events described in YAML as changes to one
// ordinary event (a 101 call about a burglary from an adult victim on a UK mobile), so each case
// in a fixture states only what it is about.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::rules::testing {

inline std::string SourcePath(const std::string& relative) {
  return std::string(SURVEYD_SOURCE_DIR) + "/" + relative;
}

inline std::string FixturePath(const std::string& name) {
  return SourcePath("tests/unit/rules/fixtures/" + name);
}

inline TimePoint At(const std::string& rfc3339) {
  const auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(TimePoint{});
}

// Loads a rules file that must be valid; fails the test with every error otherwise.
inline std::shared_ptr<const RuleSet> MustLoad(const std::string& path) {
  LoadResult result = LoadFile(path);
  for (const RuleError& error : result.errors) ADD_FAILURE() << error.ToString();
  return result.rules;
}

inline Event BaselineEvent() {
  Event event;
  event.event_id = "CW-20261126-0000417-CE";
  event.type = EventType::kCallEnded;
  event.occurred_at = At("2026-11-26T10:00:00Z");  // a Thursday, GMT
  event.incident.id = "WMP-20261126-0417";
  event.incident.type_code = "BURG-RES";
  event.incident.category = "crime";
  event.incident.grade = "P3";
  event.incident.qualifiers = std::vector<std::string>{};
  event.call = Call{};
  event.call->id = "C-1";
  event.call->channel = "101";
  Caller caller;
  caller.phone = "+447700900123";
  caller.phone_type = "mobile";
  caller.role = "victim";
  caller.age = 41;
  caller.language = "en";
  caller.vulnerable = false;
  caller.survey_consent = "unknown";
  event.caller = caller;
  return event;
}

inline std::optional<std::string> OptionalText(const YAML::Node& node) {
  if (node.IsNull()) return std::nullopt;
  return node.as<std::string>();
}

// Applies the keys of `changes` to the baseline event; `null` makes a field absent.
inline Event EventFrom(const YAML::Node& changes) {
  Event event = BaselineEvent();
  if (!changes || changes.IsNull()) return event;
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    const YAML::Node v = it->second;
    auto caller = [&]() -> Caller& { return event.caller.value(); };
    if (key == "event_id") {
      event.event_id = v.as<std::string>();
    } else if (key == "type") {
      event.type = ParseEventType(v.as<std::string>()).value();
      if (event.type != EventType::kCallEnded) event.call.reset();
      if (event.type == EventType::kResourceDeparted) event.resource = Resource{};
    } else if (key == "occurred_at") {
      event.occurred_at = At(v.as<std::string>());
    } else if (key == "channel") {
      event.call->channel = OptionalText(v);
    } else if (key == "type_code") {
      event.incident.type_code = OptionalText(v);
    } else if (key == "category") {
      event.incident.category = OptionalText(v);
    } else if (key == "grade") {
      event.incident.grade = OptionalText(v);
    } else if (key == "qualifiers") {
      if (v.IsNull()) {
        event.incident.qualifiers.reset();
      } else {
        event.incident.qualifiers = v.as<std::vector<std::string>>();
      }
    } else if (key == "phone") {
      caller().phone = OptionalText(v);
    } else if (key == "phone_type") {
      caller().phone_type = OptionalText(v);
    } else if (key == "role") {
      caller().role = OptionalText(v);
    } else if (key == "language") {
      caller().language = OptionalText(v);
    } else if (key == "consent") {
      caller().survey_consent = OptionalText(v);
    } else if (key == "age") {
      caller().age = v.IsNull() ? std::nullopt : std::optional<int>(v.as<int>());
    } else if (key == "vulnerable") {
      caller().vulnerable = v.IsNull() ? std::nullopt : std::optional<bool>(v.as<bool>());
    } else if (key == "caller") {
      if (v.IsNull()) event.caller.reset();
    } else {
      ADD_FAILURE() << "unknown event key in fixture: " << key;
    }
  }
  return event;
}

}  // namespace surveyd::rules::testing
