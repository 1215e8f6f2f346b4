#pragma once
// The exclusion rules: loaded from YAML that ops edit (config/rules.yaml), evaluated by a pure
// function from (event, contact history, related events, now) to a Decision. No I/O besides
// reading the file.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/core/sms.hpp"
#include "surveyd/core/time_zone.hpp"
#include "surveyd/rules/rule_set.hpp"

namespace surveyd::rules {

// One problem in a rules file, with the place the operator must look. An error makes the file
// invalid; a warning is a likely mistake in a valid file.
struct RuleError {
  std::string file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
  std::string message;
  bool warning = false;
  // "config/rules.yaml:12:5: unknown key 'qualifers'", "config/rules.yaml:80:7: warning: ..."
  std::string ToString() const;
};

// What `rules check` adds to the validation: warnings about likely mistakes that need more than
// the file to see.
struct LoadOptions {
  // Type codes the force's log uses (rules check --sample): a pattern that matches none warns.
  std::optional<std::vector<std::string>> sample_type_codes;
  std::string sample_name;  // the sample file, for the warning
  // A survey link as long as the real ones: a template longer than one SMS with it warns.
  std::optional<std::string> link;
};

struct LoadResult {
  std::shared_ptr<const RuleSet> rules;  // null when errors is not empty
  std::vector<RuleError> errors;
  // Likely mistakes, the file stays valid: a qualifier the feed contract does not name, no
  // exclusions at all, `require: []`; with LoadOptions, a type-code pattern that matches no code
  // of the sample and a template over one SMS segment.
  std::vector<RuleError> warnings;
};

// Reads and validates a whole file; collects every error it can rather than stopping at the first.
LoadResult LoadFile(const std::string& path, const LoadOptions& options = {});

// The whole text of a rules file into `text`, or why it cannot be had (a directory, or what the
// system says): for every loader of the file, the rules and their alerts: section.
std::optional<RuleError> ReadRulesFile(const std::string& path, std::string& text);
LoadResult LoadString(std::string_view yaml, const std::string& file_name,
                      const LoadOptions& options = {});

// The decision for one event. `now` is when the event is processed. The whole incident decides:
// every exclusion (for the event's group) and the caller checks (under minimum age, vulnerable,
// consent declined) are also evaluated on each related event, and a positive match on one
// excludes with the same reason as the event's own ("exclusion:<id>"), traced as
// "exclusion:<id>@incident:<event_id>" or "...@number:<event_id>". Missing data on a related
// event does not exclude (the event's own data was checked). A related event with the event's own
// event_id is skipped; same_number events older than policy.number_lookback before the event are
// ignored. The phone, opt-out, frequency cap, sampling and timing are the event's own.
Decision Decide(const RuleSet& rules, const Event& event, const ContactHistory& history,
                const RelatedEvents& related, TimePoint now);
// The same with no related events.
Decision Decide(const RuleSet& rules, const Event& event, const ContactHistory& history,
                TimePoint now);

// What `event`, as another event of a contact's number or incident, could rule that contact out
// by under these rules: the names Decide gives the rules it would find on it ("exclusion:<id>"
// for each exclusion of any group that matches it, "under_minimum_age", "consent_declined",
// "vulnerable"), in rule order. Empty means Decide would find nothing on it whatever the contact
// (the store then need not read it back: EventScreen); and since Decide finds a rule on a
// related event the same way whichever event it is, one event per name, the newest, finds all
// it could. Kept next to Decide, and tested against it.
std::vector<std::string> RuleOutFindings(const RuleSet& rules, const Event& event);
bool MayRuleOutOthers(const RuleSet& rules, const Event& event);
// Whether a finding of RuleOutFindings is about the caller alone (under_minimum_age,
// consent_declined, vulnerable): it rules out the contacts of that caller's number and of the
// incident, but not another number's contacts elsewhere that share the incident. Migration
// 0046's surveyd_incident_findings names the same three, for the store's filing and read-back.
bool IsCallersOwn(std::string_view finding);

// The screen of stored events under these rules (no screening for rules without a version).
EventScreen ScreenUnder(std::shared_ptr<const RuleSet> rules);

// The earliest instant at or after `t` outside the quiet hours (in the rules' time zone).
TimePoint NextSendWindow(const RuleSet& rules, TimePoint t);

// Replaces {name} placeholders; unknown placeholders are left as they are.
std::string RenderTemplate(std::string_view text,
                           const std::vector<std::pair<std::string, std::string>>& values);

// Multi-line human text for `surveyd rules explain`: outcome, group, reason, every matched rule,
// send_at/expires_at. The phone number, if shown, is masked. The second form also shows local time.
std::string ExplainText(const Decision& decision);
std::string ExplainText(const Decision& decision, const TimeZone& zone);
// For `explain`: which of exclusion `id`'s type-code patterns the event's code matches
// ("type code 'DOM-ABUSE' matches '*DOM*'"); empty when none does (or no such exclusion).
std::string MatchedPatterns(const RuleSet& rules, std::string_view id, const Event& event);

// The longest text one template renders to: with the force and group names, the longest {channel}
// and {day} of its language, and `link` for {link}; measured in SMS terms.
struct TemplateLength {
  std::string group;     // survey group id
  std::string language;  // "en", "pl", ...
  std::string text;      // the rendering that costs the most segments (then the most units)
  sms::Length length;
};
TemplateLength MeasureTemplate(std::string_view force_name, std::string_view group_id,
                               std::string_view group_name, std::string_view language,
                               std::string_view text, std::string_view link);
// Every template of every group, in file order (a two-way group's with its first question).
std::vector<TemplateLength> MeasureTemplates(const RuleSet& rules, std::string_view link);
// Every text sent back to citizens: each two-way question, a question asked again (with the
// longest question), the thanks, the answer to a late reply, the opt-out confirmation, where to
// get help now, the answer to a link survey's text back. `group` names the text
// ("two_way/question 1", "two_way/closed", "replies/opt_out_confirmation", "replies/help_now",
// "replies/link_reply").
std::vector<TemplateLength> MeasureReplyTexts(const RuleSet& rules);
// Whether the rules count on citizens' texts reaching us: a two-way group, or a template that
// tells the citizen to reply STOP (the word, in capitals). `config check` then warns of a sender
// that cannot take replies (config::SenderWarnings).
bool AsksForReplies(const RuleSet& rules);

// A sample of the type codes a force's log holds, for `rules check --sample`: one code per line,
// or NDJSON events (their incident.type_code, normalised as the feed reader does). Blank lines
// and lines starting with '#' are skipped; so are events that cannot be read or have no type
// code (counted). Codes are upper case, each once, in first-seen order.
struct TypeCodeSample {
  std::vector<std::string> codes;
  int skipped_lines = 0;
};
TypeCodeSample ReadTypeCodeSample(std::string_view text);

}  // namespace surveyd::rules
