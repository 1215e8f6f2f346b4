#include "surveyd/core/alert.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace surveyd {
namespace {

constexpr std::array<std::pair<AlertKind, const char*>, 3> kKindNames = {{
    {AlertKind::kSafeguarding, "safeguarding"},
    {AlertKind::kComplaint, "complaint"},
    {AlertKind::kLowScores, "low_scores"},
}};

constexpr std::array<std::pair<AlertSeverity, const char*>, 3> kSeverityNames = {{
    {AlertSeverity::kUrgent, "urgent"},
    {AlertSeverity::kHigh, "high"},
    {AlertSeverity::kNormal, "normal"},
}};

}  // namespace

const char* AlertKindName(AlertKind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) return name;
  }
  return "unknown";
}

std::optional<AlertKind> ParseAlertKind(std::string_view name) {
  for (const auto& [value, text] : kKindNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

const char* AlertSeverityName(AlertSeverity severity) {
  for (const auto& [value, name] : kSeverityNames) {
    if (value == severity) return name;
  }
  return "unknown";
}

std::optional<AlertSeverity> ParseAlertSeverity(std::string_view name) {
  for (const auto& [value, text] : kSeverityNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool RaisesSafeguarding(const std::vector<NewAlert>& alerts) {
  return std::any_of(alerts.begin(), alerts.end(),
                     [](const NewAlert& alert) { return alert.kind == AlertKind::kSafeguarding; });
}

}  // namespace surveyd
