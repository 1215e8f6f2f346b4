#pragma once
// A validated, compiled rules file (config/rules.yaml). Built only by rules::LoadFile /
// LoadString; immutable afterwards, so one instance can be shared by every worker and swapped
// whole on reload.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surveyd/core/event.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/core/time_zone.hpp"

namespace surveyd::rules {

// An incident type-code pattern: '*' matches any run of characters, '?' exactly one; anything
// else matches itself, ignoring case. The words of a pattern and a code may be joined however a
// log joins them: a run of spaces or punctuation, Unicode's dashes and wide spaces among them,
// reads as one '-' on both sides ("SELF_HARM" and "SELF\u2013HARM" are "SELF-HARM"), invisible
// characters are dropped, and a '-' between two letters of a pattern may be missing from the code
// ("SELFHARM" and "RTCKSI" are taken by "*SELF-HARM*" and "RTC-KSI*"; a '-' next to a wildcard
// stays: "DA-*" does not take DAMAGE). A pattern covers the whole code: "DOM*" takes "DOM-ABUSE"
// but not "ASSAULT-DOM"; "*DOM*" takes both (the stem anywhere in the code).
// Compiled once at load into a bit-parallel automaton: linear in the code, no allocation for a
// code already written with single '-'. A pattern is at most kMaxLength characters once folded
// (the loader refuses longer ones; type codes are at most 32); one built longer is cut there and
// ends in '*', so that it takes more codes, not fewer.
class Glob {
 public:
  static constexpr std::size_t kMaxLength = 63;

  explicit Glob(std::string pattern);
  bool Matches(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::uint64_t Closure(std::uint64_t states) const;

  std::string pattern_;  // as written, for explain and errors
  // State k: the first k characters of the folded pattern matched. Bit k of star_ and skippable_:
  // character k is a '*' (skippable, and takes any character staying in k), or a '-' that may be
  // missing (skippable). accepts_[c], bit k: character k takes the code's (lower case) byte c.
  std::size_t length_ = 0;
  std::uint64_t star_ = 0;
  std::uint64_t skippable_ = 0;
  std::array<std::uint64_t, 256> accepts_{};
};

// Event data an exclusion condition reads. When a condition's field is absent from the event and
// the field is listed in Policy::require, the event is not texted ("insufficient_data").
enum class Field {
  kTypeCode,
  kCategory,
  kGrade,
  kQualifiers,
  kChannel,
  kRole,
  kAge,
  kPhoneType,
};
const char* FieldName(Field field);  // "type_code", "qualifiers", ...
std::optional<Field> ParseField(std::string_view name);

// Qualifier words the feed contract names (shared/spec/feed.md), plus those the shipped policy
// excludes on that a UK force's log uses: THREAT_TO_LIFE, OSMAN, CRITICAL_INCIDENT, TERRORISM,
// DEATH_FOLLOWING_POLICE_CONTACT, FATAL_RTC, SERIOUS_RTC. Upper case. `rules check` warns about a
// rule naming any other word; Decide reports an event's words that are neither here nor in the
// rules as unknown_qualifiers.
const std::vector<std::string>& KnownQualifiers();

// A named exclusion. Every condition given must hold (or, with match_any, at least one); a list
// inside a condition matches when any of its entries does. Text comparisons ignore ASCII case.
struct Exclusion {
  std::string id;  // "domestic_abuse": the funnel reports "exclusion:<id>"
  std::string description;
  bool match_any = false;
  std::vector<std::string> groups;  // survey group ids it applies to; empty: all

  std::vector<Glob> type_codes;
  std::vector<std::string> categories, grades, qualifiers, channels, roles, phone_types;
  std::optional<int> age_under;          // matches age < N
  std::optional<int> age_over;           // matches age > N
  std::optional<bool> consent_declined;  // true: matches survey_consent == "declined"
  std::optional<bool> vulnerable;        // true: matches vulnerable == true (absent: not flagged)

  bool AppliesTo(std::string_view group_id) const;
};

struct QuietHours {
  bool enabled = false;
  int start_minute = 0;  // minutes after local midnight; start > end wraps past midnight
  int end_minute = 0;
  std::string ToString() const;   // "21:00-09:00", or "none"
  bool Covers(int minute) const;  // whether a minute after local midnight is quiet
};

enum class MissingAge { kAllow, kExclude };
// What a flag that neither the feed contract nor the rules name does to a contact.
enum class UnknownFlags {
  kExclude,  // insufficient data, on the event and the others of its incident and number
  kSurvey,   // counted, nothing more
};

// The global checks that apply to every group.
struct Policy {
  int minimum_age = 16;                         // 0: no minimum
  MissingAge missing_age = MissingAge::kAllow;  // age is often not recorded for adults
  bool mobile_only = true;                      // false: international mobiles are allowed too
  bool exclude_consent_declined = true;
  bool exclude_vulnerable = true;
  int frequency_cap_days = 90;  // 0: no cap
  // How far back, before the event, the events of the same number in other incidents count
  // (RelatedEvents::same_number): the store picks them, Decide ignores older ones.
  std::chrono::days number_lookback{30};
  // An event stamped further ahead of the service's clock than this is not texted
  // ("occurred_in_future"): the log's clock or ours is wrong, and every rule of timing with it.
  Duration max_event_lead = std::chrono::minutes(2);
  std::vector<Field> require = {Field::kQualifiers, Field::kTypeCode};
  // A flag no one names may mean what an exclusion is about in words the rules did not foresee
  // (DV, RAPE): the safe answer is no text until ops name it, here or in an exclusion.
  UnknownFlags unknown_qualifiers = UnknownFlags::kExclude;
  // Flags the force's log uses that rule no one out (upper case): named, so not unknown.
  std::vector<std::string> harmless_qualifiers;
  bool Requires(Field field) const;
};

struct SurveyGroup {
  // How the survey is put: a text with a personal link to the page, or (two_way) the five
  // questions by text, one at a time, for citizens without data or a smartphone.
  enum class Mode { kLink, kTwoWay };

  std::string id;    // "force_contact"
  std::string name;  // "Force Contact"
  Mode mode = Mode::kLink;
  EventType trigger = EventType::kCallEnded;
  // Trigger filters; empty: any. An event without the field does not match a filter.
  std::vector<std::string> channels, categories, grades;
  Duration delay{0};                                      // after occurred_at
  Duration send_within = std::chrono::hours(24);          // text not sent by then: expired
  Duration survey_open_for = std::chrono::hours(24 * 7);  // page open after the text is sent
  double sampling_percent = 100;
  // language -> text; "en" first. A link group's texts carry {link}; a two-way group's none:
  // the first question follows the text (SmsReplies::FirstText).
  std::vector<std::pair<std::string, std::string>> templates;

  std::vector<std::string> languages() const;
  const std::string* Template(std::string_view language) const;  // null if none
  bool Matches(const Event& event) const;
};

// What a two-way survey texts in one language ({force} is filled in).
struct TwoWayTexts {
  std::array<std::string, 5> questions;  // the page's five, each saying how to answer
  std::string ask_again;  // before a question asked again after a reply that was not a score
  std::string thanks;     // after the fifth answer
  // The answer, once per survey, to a text that came after the conversation ended (finished, ran
  // out): the survey has closed and the text was not counted; 101 and 999.
  std::string closed;
};

// What surveyd texts back to citizens: two-way surveys' questions, the opt-out confirmation, and
// where to get help now.
struct SmsReplies {
  Duration conversation_lasts = std::chrono::hours(24);      // from the survey's first text
  std::vector<std::pair<std::string, TwoWayTexts>> two_way;  // language -> texts; "en" first
  // language -> text; "en" first. None: an opt-out by text is not confirmed.
  std::vector<std::pair<std::string, std::string>> opt_out_confirmation;
  // language -> text; "en" first: the answer to a text that calls for help now (999, 55, the
  // helplines the thank-you page shows). None: such a text is answered with nothing.
  std::vector<std::pair<std::string, std::string>> help_now;
  // A number is sent help_now at most once this often, so that a text back never loops.
  Duration help_now_every = std::chrono::hours(1);
  // language -> text; "en" first: the answer, once per survey, to a text back to a link survey,
  // which takes no answer by text ("use the link in our text"). None: such a text gets none.
  std::vector<std::pair<std::string, std::string>> link_reply;

  const TwoWayTexts* TwoWay(std::string_view language) const;  // null if none for it
  // That language's confirmation, else the English one; null if none.
  const std::string* Confirmation(std::string_view language) const;
  // That language's help text, else the English one; null if none.
  const std::string* HelpNow(std::string_view language) const;
  // That language's answer to a text back to a link survey, else the English one; null if none.
  const std::string* LinkReply(std::string_view language) const;
  // A two-way survey's first text: its rendered template, then the first question.
  static std::string FirstText(std::string_view rendered_template, const TwoWayTexts& texts);
};

class RuleSet {
 public:
  RuleSet(std::string force_name, std::shared_ptr<const TimeZone> zone, Policy policy,
          QuietHours quiet_hours, std::vector<SurveyGroup> groups,
          std::vector<Exclusion> exclusions, SmsReplies replies = {});

  const std::string& force_name() const { return force_name_; }
  const TimeZone& zone() const { return *zone_; }
  const std::shared_ptr<const TimeZone>& zone_ptr() const { return zone_; }
  const Policy& policy() const { return policy_; }
  const QuietHours& quiet_hours() const { return quiet_hours_; }
  const std::vector<SurveyGroup>& groups() const { return groups_; }
  const std::vector<Exclusion>& exclusions() const { return exclusions_; }
  const SmsReplies& replies() const { return replies_; }

  // True when an exclusion names this qualifier (upper case), or the feed contract does.
  bool KnowsQualifier(std::string_view upper_case_word) const;

  const SurveyGroup* FindGroup(std::string_view id) const;
  // The first group, in file order, whose trigger and filters take this event; null if none.
  const SurveyGroup* MatchGroup(const Event& event) const;

  // "3 groups, 9 exclusions, quiet 21:00-09:00 Europe/London"
  std::string Summary() const;

  // A hash of the rules' policy and exclusions as loaded; empty for rules built in code.
  // Stored events are screened under it (EventScreen). Not the rules' version that ops see
  // (/readyz, GET /api/v1/rules): that is their file's hash, and changes with any edit.
  const std::string& screen_version() const { return screen_version_; }
  void set_screen_version(std::string version) { screen_version_ = std::move(version); }

 private:
  std::string screen_version_;
  std::string force_name_;
  std::shared_ptr<const TimeZone> zone_;
  Policy policy_;
  QuietHours quiet_hours_;
  std::vector<SurveyGroup> groups_;
  std::vector<Exclusion> exclusions_;
  SmsReplies replies_;
  // Upper case, sorted: every exclusion's qualifiers and the policy's harmless ones.
  std::vector<std::string> named_qualifiers_;
};

}  // namespace surveyd::rules
