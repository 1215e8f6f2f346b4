#pragma once
// What an answer can raise for a person to act on (issue 10): the kinds and severities shared by
// the alert rules (alerts/), the store, the API and the survey page.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace surveyd {

enum class AlertKind {
  kSafeguarding,  // the free text suggests risk to life or safety, abuse, threats, a crime now
  kComplaint,     // the citizen wants to complain, or asks to be contacted
  kLowScores,     // scores at or below a threshold on chosen questions
};
const char* AlertKindName(AlertKind kind);  // "safeguarding", "complaint", "low_scores"
std::optional<AlertKind> ParseAlertKind(std::string_view name);

// How fast someone must look: the severity decides when an unacknowledged alert is sent again.
enum class AlertSeverity { kUrgent, kHigh, kNormal };
const char* AlertSeverityName(AlertSeverity severity);  // "urgent", "high", "normal"
std::optional<AlertSeverity> ParseAlertSeverity(std::string_view name);

// An alert raised by one answer, stored with the answer in the same transaction (at most one per
// survey and kind). `matched` names what matched in the lexicon's own words ("fear:scared",
// "q1<=1"), never the citizen's text.
struct NewAlert {
  AlertKind kind = AlertKind::kSafeguarding;
  AlertSeverity severity = AlertSeverity::kUrgent;
  std::vector<std::string> rules;    // ids of the alert rules that fired, in file order
  std::vector<std::string> matched;  // lexicon entries and terms, or score conditions
  bool operator==(const NewAlert&) const = default;
};

// True when one of `alerts` is a safeguarding alert: the thank-you page then says how to get help.
bool RaisesSafeguarding(const std::vector<NewAlert>& alerts);

}  // namespace surveyd
