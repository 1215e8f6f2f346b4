#include "surveyd/rules/rule_set.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "rules/ascii.hpp"
#include "rules/code_text.hpp"

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
// (none where the code begins, nor for spaces where it ends), so that SELF_HARM, "SELF HARM",
// DA/ASSAULT and DA\u2013ASSAULT read as the SELF-HARM and DA-ASSAULT a pattern names: the
// contract gives type codes as free text, and a force's codes (or one of its systems, or an
// export) may separate words otherwise. Invisible characters are dropped, wide forms read as
// ASCII (code_text.hpp). A code ending in punctuation keeps it ("DA-" is still taken by "DA-*").
// Other characters are kept as they are (and match nothing: Decide holds such a code as
// unreadable); so are a pattern's wildcards.
std::string CodeKey(std::string_view text, bool pattern) {
  std::string key;
  key.reserve(text.size());
  bool separator = false;    // a run of spaces or punctuation since the last letter
  bool punctuation = false;  // ... with punctuation in it
  for (std::size_t i = 0; i < text.size();) {
    const CodeChar c = ReadCodeChar(text, i);
    const bool wildcard = pattern && (c.ascii == '*' || c.ascii == '?') && c.length == 1;
    if (c.kind == CodeCharKind::kWord || c.kind == CodeCharKind::kOther || wildcard) {
      if (separator && !key.empty()) key.push_back('-');
      separator = punctuation = false;
      if (c.kind == CodeCharKind::kOther) {
        key.append(text.substr(i, c.length));
      } else {
        key.push_back(ascii::Lower(c.ascii));
      }
    } else if (c.kind != CodeCharKind::kInvisible) {
      separator = true;
      punctuation = punctuation || c.kind == CodeCharKind::kMark;
    }
    i += c.length;
  }
  if (punctuation && !key.empty()) key.push_back('-');
  return key;
}

// Whether `code` is its own CodeKey but for case: no allocation for the codes of the contract's
// own shape (BURG-RES).
bool IsCodeKey(std::string_view code) {
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (std::isalnum(static_cast<unsigned char>(code[i])) != 0) continue;
    if (code[i] != '-' || i == 0 || (i + 1 < code.size() && code[i + 1] == '-')) return false;
  }
  return true;
}

bool IsLetter(char c) { return c != '*' && c != '?' && c != '-'; }

}  // namespace

Glob::Glob(std::string pattern) : pattern_(std::move(pattern)) {
  std::string folded = CodeKey(pattern_, true);
  if (folded.size() > kMaxLength) {
    folded.resize(kMaxLength - 1);
    folded.push_back('*');
  }
  length_ = folded.size();
  for (std::size_t k = 0; k < length_; ++k) {
    const std::uint64_t bit = std::uint64_t{1} << k;
    const char c = folded[k];
    if (c == '*') {
      star_ |= bit;
      skippable_ |= bit;
    } else if (c == '?') {
      for (std::uint64_t& accepts : accepts_) accepts |= bit;
    } else {
      accepts_[static_cast<unsigned char>(c)] |= bit;
      if (c == '-' && k > 0 && k + 1 < length_ && IsLetter(folded[k - 1]) &&
          IsLetter(folded[k + 1])) {
        skippable_ |= bit;
      }
    }
  }
}

std::uint64_t Glob::Closure(std::uint64_t states) const {
  for (;;) {
    const std::uint64_t more = states | (states & skippable_) << 1;
    if (more == states) return states;
    states = more;
  }
}

bool Glob::Matches(std::string_view code) const {
  std::string key;
  std::string_view text = code;
  if (!IsCodeKey(code)) {
    key = CodeKey(code, false);
    text = key;
  }
  std::uint64_t states = Closure(1);
  for (const char c : text) {
    const std::uint64_t accepts = accepts_[static_cast<unsigned char>(ascii::Lower(c))];
    states = Closure((states & accepts) << 1 | (states & star_));
    if (states == 0) return false;
  }
  return (states >> length_ & 1) != 0;
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

bool QuietHours::Covers(int minute) const {
  if (!enabled) return false;
  if (start_minute < end_minute) return minute >= start_minute && minute < end_minute;
  return minute >= start_minute || minute < end_minute;  // past midnight
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
