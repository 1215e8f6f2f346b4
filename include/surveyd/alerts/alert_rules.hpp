#pragma once
// The alert rules: the `alerts:` section of config/rules.yaml (ops edit it with the survey rules;
// `surveyd rules check` validates it, `surveyd rules explain --answer` shows what an answer
// raises) and the lexicon it names. Evaluate is a pure function from an answer to the alerts it
// raises, called before the answer is stored; the store writes them in the same transaction.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/alerts/lexicon.hpp"
#include "surveyd/core/alert.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::alerts {

struct AlertRule {
  std::string id;  // "safeguarding_words": stored with the alert, logged, never the words
  std::string description;
  AlertKind kind = AlertKind::kSafeguarding;
  AlertSeverity severity = AlertSeverity::kUrgent;
  // safeguarding and complaint: lexicon categories whose terms raise it (default: the kind).
  std::vector<std::string> categories;
  // low_scores: questions (0 for q1 ... 4 for q5) at or below `at_or_below`; all of them
  // answered and low, or (match: any) at least one.
  std::vector<int> questions;
  int at_or_below = 0;
  bool match_all = true;
  std::vector<std::string> groups;  // survey groups it applies to; empty: all
};

struct AlertConfig {
  std::shared_ptr<const Lexicon> lexicon;  // never null in a loaded config
  std::string lexicon_path;
  std::vector<AlertRule> rules;
  // An alert still open this long after it was last sent is sent again, to the escalation
  // address too; absent: never. At most max_renotify times.
  std::map<AlertSeverity, Duration> renotify_after;
  int max_renotify = 4;

  std::optional<Duration> RenotifyAfter(AlertSeverity severity) const;
  // "3 alert rules (safeguarding, complaint, low_scores); lexicon: 8 entries, ..."
  std::string Summary() const;
};

struct AlertConfigLoad {
  std::shared_ptr<const AlertConfig> config;  // null when errors is not empty
  std::vector<rules::RuleError> errors;
  std::vector<rules::RuleError> warnings;
};

// Reads the `alerts:` section of a rules file and the lexicon it names (relative to the rules
// file). A file without the section loads with no alert rules and a warning: no answer would
// raise anything. A rule's `groups:` are checked against the survey groups of the same file.
AlertConfigLoad LoadAlertConfigFile(const std::string& rules_path);
// The same of a rules file already read into `text` (rules::ReadRulesFile), for a caller that
// loads its survey rules from that text too.
AlertConfigLoad LoadAlertConfigFile(const std::string& rules_path, std::string_view text);
AlertConfigLoad LoadAlertConfigString(std::string_view yaml, const std::string& file_name,
                                      const std::string& base_dir);

// An answer as the rules see it.
struct Answer {
  std::optional<int> q[5];  // 0-10 or blank
  std::string comment;
  std::string group;  // survey group id; empty: unknown (rules limited to groups do not apply)
};

struct RuleOutcome {
  const AlertRule* rule = nullptr;
  bool fired = false;
  std::vector<std::string> matched;  // "fear:scared", "q1=0"
  std::string why;                   // for explain: what it looked at
};

struct Evaluation {
  std::vector<NewAlert> alerts;  // at most one per kind, the most severe rule's severity
  std::vector<RuleOutcome> rules;
  std::vector<LexiconMatch> matches;  // every lexicon match, negated ones included
};

Evaluation Evaluate(const AlertConfig& config, const Answer& answer);
std::vector<NewAlert> RaiseAlerts(const AlertConfig& config, const Answer& answer);

// Multi-line text for `surveyd rules explain --answer`: the normalised text, each lexicon match
// (negated ones marked), each rule and whether it fired, the alerts raised and whether the
// thank-you page shows where to get help.
std::string ExplainAnswer(const Evaluation& evaluation, const Answer& answer);

}  // namespace surveyd::alerts
