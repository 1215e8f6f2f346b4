#include "surveyd/rules/rule_set.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "rules/ascii.hpp"

namespace surveyd::rules {

namespace {

// A filter with no entries takes everything; one with entries needs the field to be present.
bool FilterTakes(const std::vector<std::string>& filter, const std::optional<std::string>& value) {
  if (filter.empty()) return true;
  return value.has_value() && ascii::AnyEquals(filter, *value);
}

std::string FormatMinute(int minute) {
  char text[8];
  std::snprintf(text, sizeof text, "%02d:%02d", (minute / 60) % 100, minute % 60);
  return text;
}

// The text in `language`, else the English one; null if neither.
const std::string* InLanguage(const std::vector<std::pair<std::string, std::string>>& texts,
                              std::string_view language) {
  for (const auto& [code, text] : texts) {
    if (code == language) return &text;
  }
  for (const auto& [code, text] : texts) {
    if (code == "en") return &text;
  }
  return nullptr;
}

// A type code as rules compare it: lower case, and every run of spaces and punctuation one '-'
// (none where the code begins, nor for spaces where it ends), so that SELF_HARM, "SELF HARM" and
// DA/ASSAULT read as the SELF-HARM and DA-ASSAULT a pattern names: the contract gives type codes
// as free text, and a force's codes (or one of its systems) may separate words otherwise. A code
// ending in punctuation keeps it ("DA-" is still taken by "DA-*"). Bytes past ASCII are kept as
// they are; so are a pattern's wildcards.
std::string CodeKey(std::string_view text) {
  std::string key;
  key.reserve(text.size());
  bool separator = false;    // a run of spaces or punctuation since the last letter
  bool punctuation = false;  // ... with punctuation in it
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || byte >= 0x80 || c == '*' || c == '?') {
      if (separator && !key.empty()) key.push_back('-');
      separator = punctuation = false;
      key.push_back(ascii::Lower(c));
    } else {
      separator = true;
      punctuation = punctuation || std::isspace(byte) == 0;
    }
  }
  if (punctuation && !key.empty()) key.push_back('-');
  return key;
}

// Whether `text` is its own CodeKey but for case: no allocation for the codes of the contract's
// own shape (BURG-RES).
bool IsCodeKey(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (std::isalnum(byte) != 0 || byte >= 0x80 || text[i] == '*' || text[i] == '?') continue;
    if (text[i] != '-' || i == 0 || (i + 1 < text.size() && text[i + 1] == '-')) return false;
  }
  return true;
}

}  // namespace

Glob::Glob(std::string pattern) : pattern_(std::move(pattern)), folded_(CodeKey(pattern_)) {
  literal_ = folded_.find_first_of("*?") == std::string::npos;
}

bool Glob::Matches(std::string_view code) const {
  std::string key;
  std::string_view text = code;
  if (!IsCodeKey(code)) {
    key = CodeKey(code);
    text = key;
  }
  if (literal_) return ascii::EqualsIgnoreCase(folded_, text);
  // Greedy match with backtracking to the last '*': linear for the patterns ops write.
  const std::string_view p = folded_;
  std::size_t pi = 0, ti = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (ti < text.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == ascii::Lower(text[ti]))) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      resume = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

const char* FieldName(Field field) {
  switch (field) {
    case Field::kTypeCode:
      return "type_code";
    case Field::kCategory:
      return "category";
    case Field::kGrade:
      return "grade";
    case Field::kQualifiers:
      return "qualifiers";
    case Field::kChannel:
      return "channel";
    case Field::kRole:
      return "role";
    case Field::kAge:
      return "age";
    case Field::kPhoneType:
      return "phone_type";
  }
  return "unknown";
}

std::optional<Field> ParseField(std::string_view name) {
  for (Field field : {Field::kTypeCode, Field::kCategory, Field::kGrade, Field::kQualifiers,
                      Field::kChannel, Field::kRole, Field::kAge, Field::kPhoneType}) {
    if (name == FieldName(field)) return field;
  }
  return std::nullopt;
}

const std::vector<std::string>& KnownQualifiers() {
  static const std::vector<std::string> kKnown = {
      // Named by the feed contract.
      "DOMESTIC", "SEXUAL_OFFENCE", "CHILD_AT_RISK", "VULNERABLE_ADULT", "MENTAL_HEALTH",
      "SUICIDE_RISK", "HATE", "FIREARMS", "SUDDEN_DEATH", "MISSING_PERSON", "MODERN_SLAVERY",
      "HONOUR_BASED", "STALKING", "REPEAT_VICTIM",
      // Flags a UK force's log carries for incidents the shipped policy never surveys.
      "THREAT_TO_LIFE", "OSMAN", "CRITICAL_INCIDENT", "TERRORISM", "DEATH_FOLLOWING_POLICE_CONTACT",
      "FATAL_RTC", "SERIOUS_RTC"};
  return kKnown;
}

bool Exclusion::AppliesTo(std::string_view group_id) const {
  return groups.empty() || std::find(groups.begin(), groups.end(), group_id) != groups.end();
}

std::string QuietHours::ToString() const {
  if (!enabled) return "none";
  return FormatMinute(start_minute) + "-" + FormatMinute(end_minute);
}

bool Policy::Requires(Field field) const {
  return std::find(require.begin(), require.end(), field) != require.end();
}

std::vector<std::string> SurveyGroup::languages() const {
  std::vector<std::string> out;
  out.reserve(templates.size());
  for (const auto& [language, text] : templates) out.push_back(language);
  return out;
}

const std::string* SurveyGroup::Template(std::string_view language) const {
  for (const auto& [code, text] : templates) {
    if (ascii::EqualsIgnoreCase(code, language)) return &text;
  }
  return nullptr;
}

bool SurveyGroup::Matches(const Event& event) const {
  if (event.type != trigger) return false;
  if (!channels.empty()) {
    if (!event.call.has_value() || !FilterTakes(channels, event.call->channel)) return false;
  }
  return FilterTakes(categories, event.incident.category) &&
         FilterTakes(grades, event.incident.grade);
}

const TwoWayTexts* SmsReplies::TwoWay(std::string_view language) const {
  for (const auto& [code, texts] : two_way) {
    if (code == language) return &texts;
  }
  return nullptr;
}

const std::string* SmsReplies::Confirmation(std::string_view language) const {
  return InLanguage(opt_out_confirmation, language);
}

const std::string* SmsReplies::HelpNow(std::string_view language) const {
  return InLanguage(help_now, language);
}

const std::string* SmsReplies::LinkReply(std::string_view language) const {
  return InLanguage(link_reply, language);
}

std::string SmsReplies::FirstText(std::string_view rendered_template, const TwoWayTexts& texts) {
  return std::string(rendered_template) + "\n" + texts.questions[0];
}

RuleSet::RuleSet(std::string force_name, std::shared_ptr<const TimeZone> zone, Policy policy,
                 QuietHours quiet_hours, std::vector<SurveyGroup> groups,
                 std::vector<Exclusion> exclusions, SmsReplies replies)
    : force_name_(std::move(force_name)),
      zone_(std::move(zone)),
      policy_(std::move(policy)),
      quiet_hours_(quiet_hours),
      groups_(std::move(groups)),
      exclusions_(std::move(exclusions)),
      replies_(std::move(replies)) {
  for (const Exclusion& exclusion : exclusions_) {
    for (const std::string& qualifier : exclusion.qualifiers) {
      named_qualifiers_.push_back(ascii::ToUpper(qualifier));
    }
  }
  for (const std::string& qualifier : policy_.harmless_qualifiers) {
    named_qualifiers_.push_back(ascii::ToUpper(qualifier));
  }
  std::sort(named_qualifiers_.begin(), named_qualifiers_.end());
  named_qualifiers_.erase(std::unique(named_qualifiers_.begin(), named_qualifiers_.end()),
                          named_qualifiers_.end());
}

bool RuleSet::KnowsQualifier(std::string_view upper_case_word) const {
  const auto& known = KnownQualifiers();
  return std::find(known.begin(), known.end(), upper_case_word) != known.end() ||
         std::binary_search(named_qualifiers_.begin(), named_qualifiers_.end(), upper_case_word);
}

const SurveyGroup* RuleSet::FindGroup(std::string_view id) const {
  for (const SurveyGroup& group : groups_) {
    if (group.id == id) return &group;
  }
  return nullptr;
}

const SurveyGroup* RuleSet::MatchGroup(const Event& event) const {
  for (const SurveyGroup& group : groups_) {
    if (group.Matches(event)) return &group;
  }
  return nullptr;
}

std::string RuleSet::Summary() const {
  auto plural = [](std::size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };
  std::string out =
      plural(groups_.size(), "group") + ", " + plural(exclusions_.size(), "exclusion") + ", quiet ";
  out += quiet_hours_.ToString();
  out += " ";
  out += zone_->Name();
  return out;
}

}  // namespace surveyd::rules
