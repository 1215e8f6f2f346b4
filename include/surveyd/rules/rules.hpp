#pragma once
// The exclusion rules: loaded from YAML that ops edit (config/rules.yaml), evaluated by a pure
// function from (event, contact history, now) to a Decision. No I/O besides reading the file.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/core/time_zone.hpp"
#include "surveyd/rules/rule_set.hpp"

namespace surveyd::rules {

// One problem in a rules file, with the place the operator must look.
struct RuleError {
  std::string file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
  std::string message;
  std::string ToString() const;  // "config/rules.yaml:12:5: unknown key 'qualifers'"
};

struct LoadResult {
  std::shared_ptr<const RuleSet> rules;  // null when errors is not empty
  std::vector<RuleError> errors;
};

// Reads and validates a whole file; collects every error it can rather than stopping at the first.
LoadResult LoadFile(const std::string& path);
LoadResult LoadString(std::string_view yaml, const std::string& file_name);

// The decision for one event. `now` is when the event is processed.
Decision Decide(const RuleSet& rules, const Event& event, const ContactHistory& history,
                TimePoint now);
Decision Decide(const RuleSet& rules, const Event& event, const ContactHistory& history,
                const RelatedEvents& related, TimePoint now);

// The earliest instant at or after `t` outside the quiet hours (in the rules' time zone).
TimePoint NextSendWindow(const RuleSet& rules, TimePoint t);

// Replaces {name} placeholders; unknown placeholders are left as they are.
std::string RenderTemplate(std::string_view text,
                           const std::vector<std::pair<std::string, std::string>>& values);

// Multi-line human text for `surveyd rules explain`: outcome, group, reason, every matched rule,
// send_at/expires_at. The phone number, if shown, is masked. The second form also shows local time.
std::string ExplainText(const Decision& decision);
std::string ExplainText(const Decision& decision, const TimeZone& zone);

}  // namespace surveyd::rules
