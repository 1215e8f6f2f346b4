// The decision for one event. Pure: everything it needs is in its arguments (the caller looks the
// contact history and the related events up and passes `now`), so replaying an event with the
// same inputs decides the same, and tests need no clock, database or network.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "rules/ascii.hpp"
#include "rules/code_text.hpp"
#include "rules/contract.hpp"
#include "rules/labels.hpp"
#include "surveyd/core/closest_word.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::rules {

// A flag as it is meant, whatever a log or an export did to it: upper case, each run of spaces,
// hyphens and other marks one underscore ("sexual offence", "Sexual-Offence": SEXUAL_OFFENCE),
// invisible characters dropped and wide forms read as ASCII ("DOM\u00adESTIC", "DOMEST\u0130C",
// "SEXUAL\u2013OFFENCE": code_text.hpp). Other characters stay as they are, and match nothing.
std::string FlagKey(std::string_view flag) {
  std::string key;
  bool gap = false;
  for (std::size_t i = 0; i < flag.size();) {
    const CodeChar c = ReadCodeChar(flag, i);
    if (c.kind == CodeCharKind::kSpace || c.kind == CodeCharKind::kMark) {
      gap = !key.empty();
    } else if (c.kind != CodeCharKind::kInvisible) {
      if (gap) key.push_back('_');
      gap = false;
      if (c.kind == CodeCharKind::kWord) {
        key.push_back(ascii::Upper(c.ascii));
      } else {
        key.append(flag.substr(i, c.length));
      }
    }
    i += c.length;
  }
  return key;
}

namespace {

enum class Tri { kNo, kYes, kUnknown };

// A condition on a field the event may lack: absent and required is "unknown" (do not text);
// absent and not required counts as not matching.
Tri Missing(const Policy& policy, Field field) {
  return policy.Requires(field) ? Tri::kUnknown : Tri::kNo;
}

Tri FromBool(bool value) { return value ? Tri::kYes : Tri::kNo; }

// The value as the rules read it: trimmed, and absent when blank. The feed reader normalises
// already; this keeps an Event built any other way from matching less than it should.
std::optional<std::string_view> Present(const std::optional<std::string>& value) {
  if (!value.has_value()) return std::nullopt;
  const std::string_view text = ascii::Trim(*value);
  if (text.empty()) return std::nullopt;
  return text;
}

// The incident's type code as the rules read it: absent too when it names nothing ("-", "N/A",
// only invisible characters: code_text.hpp), which is then missing data, not a harmless code.
std::optional<std::string_view> TypeCode(const Incident& incident) {
  const auto code = Present(incident.type_code);
  if (!code.has_value() || ReadsAsNoCode(*code)) return std::nullopt;
  return code;
}

// A type code with characters that read as no ASCII (a Greek or Cyrillic letter that looks like
// a Latin one, an accented letter) cannot be compared with the patterns: what it names is unknown.
bool TypeCodeUnreadable(const Event& event) {
  const auto code = TypeCode(event.incident);
  return code.has_value() && !ReadsAsAscii(*code);
}

Tri InList(const Policy& policy, Field field, const std::vector<std::string>& list,
           const std::optional<std::string>& value) {
  const auto text = Present(value);
  if (!text.has_value()) return Missing(policy, field);
  return FromBool(ascii::AnyEquals(list, *text));
}

// As InList, for the caller's role or phone type: a value the feed contract does not name
// ("social_worker") may mean what the exclusion is about, so it is unclear, never a "no".
Tri InContractList(const Policy& policy, Field field, const std::vector<std::string>& list,
                   const std::optional<std::string>& value,
                   const std::vector<std::string>& contract) {
  const auto text = Present(value);
  if (text.has_value() && !ascii::AnyEquals(contract, *text)) return Tri::kUnknown;
  return InList(policy, field, list, value);
}

// Whether a flag is written as the contract writes flags (letters, digits, underscores), so that
// it matches exactly or not at all: nearly every flag, which then costs a comparison, not a key.
bool PlainFlag(std::string_view flag) {
  return std::all_of(flag.begin(), flag.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// The flag is the qualifier `q` (written as the contract writes it), however it was spelled.
bool IsFlag(std::string_view flag, const std::string& q) {
  const std::string_view trimmed = ascii::Trim(flag);
  if (ascii::EqualsIgnoreCase(trimmed, q)) return true;
  return !PlainFlag(trimmed) && ascii::EqualsIgnoreCase(FlagKey(trimmed), q);
}

// Any of the flags is one of the exclusion's qualifiers.
bool AnyQualifier(const Exclusion& x, const std::vector<std::string>& flags) {
  return std::any_of(flags.begin(), flags.end(), [&](const std::string& flag) {
    return std::any_of(x.qualifiers.begin(), x.qualifiers.end(),
                       [&](const std::string& q) { return IsFlag(flag, q); });
  });
}

// A flag that reads as one of the exclusion's qualifiers without being it: a longer or shorter
// form ("DOMESTIC_ABUSE" for DOMESTIC, "SEXUAL" for SEXUAL_OFFENCE) or a typo ("DOMESITC"). The
// log may mean it, so it is not a "no". Asked of the flags no one knows (Decision's
// unknown_qualifiers), once a decision: a flag the contract or the rules know is not a typo.
bool NearQualifier(const std::string& flag, const Exclusion& x) {
  const std::string key = FlagKey(flag);
  if (key.empty()) return false;
  std::vector<std::string> keys;
  for (const std::string& q : x.qualifiers) {
    if (ascii::EqualsIgnoreCase(key, q)) return false;  // the flag itself, spelled otherwise
    keys.push_back(FlagKey(q));
  }
  const bool extends = std::any_of(keys.begin(), keys.end(), [&](const std::string& q) {
    return key.rfind(q + "_", 0) == 0 || q.rfind(key + "_", 0) == 0;
  });
  return extends || !ClosestWord(key, keys).empty();
}

// A list with a blank entry is not known as a whole: it matches on the flags it does hold, and is
// missing otherwise.
bool QualifiersKnown(const Incident& incident) {
  if (!incident.qualifiers.has_value()) return false;
  return std::none_of(incident.qualifiers->begin(), incident.qualifiers->end(),
                      [](const std::string& flag) { return ascii::Trim(flag).empty(); });
}

struct Evaluation {
  Tri result = Tri::kNo;
  std::optional<Field> missing;  // the first required field that was absent
};

// Folds one condition into the exclusion's result: all-of or any-of, with "unknown" in between.
class Combiner {
 public:
  explicit Combiner(bool match_any) : match_any_(match_any) {}
  void Add(Tri value, Field field) {
    if (value == Tri::kUnknown) {
      ++unknown_;
      if (!missing_) missing_ = field;
    } else if (value == Tri::kYes) {
      ++yes_;
    } else {
      ++no_;
    }
  }
  Evaluation Result() const {
    Evaluation out;
    out.missing = missing_;
    if (match_any_) {
      out.result = yes_ > 0 ? Tri::kYes : unknown_ > 0 ? Tri::kUnknown : Tri::kNo;
    } else {
      out.result = no_ > 0 ? Tri::kNo : unknown_ > 0 ? Tri::kUnknown : Tri::kYes;
    }
    return out;
  }

 private:
  bool match_any_;
  int yes_ = 0, no_ = 0, unknown_ = 0;
  std::optional<Field> missing_;
};

bool ConsentDeclined(const Caller* caller) {
  if (caller == nullptr) return false;
  const auto consent = Present(caller->survey_consent);
  return consent.has_value() && ascii::EqualsIgnoreCase(*consent, "declined");
}

// Consent given as something the contract does not name ("refused", "N"): it may be a refusal.
bool ConsentUnclear(const Caller* caller) {
  if (caller == nullptr) return false;
  const auto consent = Present(caller->survey_consent);
  return consent.has_value() && !ascii::AnyEquals(contract::kConsents, *consent);
}

// A phone type the contract does not name ("private", "number withheld", "payphone") may say the
// line is not one to text, in words of its own: unclear, so insufficient data, whether or not an
// exclusion lists phone types (PhoneProblem trusts the digits only under a type it knows).
bool PhoneTypeUnclear(const Caller* caller) {
  if (caller == nullptr) return false;
  const auto type = Present(caller->phone_type);
  return type.has_value() && !ascii::AnyEquals(contract::kPhoneTypes, *type);
}

Evaluation Evaluate(const Exclusion& x, const Event& event, const Policy& policy) {
  Combiner all(x.match_any);
  const Incident& incident = event.incident;
  const Caller* caller = event.caller ? &*event.caller : nullptr;

  if (!x.type_codes.empty()) {
    if (const auto code = TypeCode(incident)) {
      all.Add(FromBool(std::any_of(x.type_codes.begin(), x.type_codes.end(),
                                   [&](const Glob& glob) { return glob.Matches(*code); })),
              Field::kTypeCode);
    } else {
      all.Add(Missing(policy, Field::kTypeCode), Field::kTypeCode);
    }
  }
  if (!x.categories.empty()) {
    all.Add(InList(policy, Field::kCategory, x.categories, incident.category), Field::kCategory);
  }
  if (!x.grades.empty()) {
    all.Add(InList(policy, Field::kGrade, x.grades, incident.grade), Field::kGrade);
  }
  if (!x.qualifiers.empty()) {
    const bool flagged =
        (incident.qualifiers.has_value() && AnyQualifier(x, *incident.qualifiers)) ||
        AnyQualifier(x, incident.partial_qualifiers);
    if (flagged) {
      all.Add(Tri::kYes, Field::kQualifiers);
    } else if (!QualifiersKnown(incident)) {
      all.Add(Missing(policy, Field::kQualifiers), Field::kQualifiers);
    } else {
      all.Add(Tri::kNo, Field::kQualifiers);
    }
  }
  if (!x.channels.empty()) {
    const std::optional<std::string> none;
    all.Add(InList(policy, Field::kChannel, x.channels, event.call ? event.call->channel : none),
            Field::kChannel);
  }
  if (!x.roles.empty()) {
    const std::optional<std::string> none;
    all.Add(InContractList(policy, Field::kRole, x.roles, caller ? caller->role : none,
                           contract::kRoles),
            Field::kRole);
  }
  if (!x.phone_types.empty()) {
    const std::optional<std::string> none;
    all.Add(InContractList(policy, Field::kPhoneType, x.phone_types,
                           caller ? caller->phone_type : none, contract::kPhoneTypes),
            Field::kPhoneType);
  }
  const int* age = caller && caller->age ? &*caller->age : nullptr;
  if (x.age_under.has_value()) {
    all.Add(age ? FromBool(*age < *x.age_under) : Missing(policy, Field::kAge), Field::kAge);
  }
  if (x.age_over.has_value()) {
    all.Add(age ? FromBool(*age > *x.age_over) : Missing(policy, Field::kAge), Field::kAge);
  }
  // Absent consent is not a refusal and absent vulnerability is not a flag (the feed omits both
  // routinely), so these two conditions are never "unknown" and the field passed is never shown.
  if (x.consent_declined.has_value()) {
    all.Add(FromBool(ConsentDeclined(caller) == *x.consent_declined), Field::kRole);
  }
  if (x.vulnerable.has_value()) {
    const bool flagged = caller && caller->vulnerable.value_or(false);
    all.Add(FromBool(flagged == *x.vulnerable), Field::kRole);
  }
  return all.Result();
}

// Phone numbers that can take a text; anything else is named so the funnel says why.
const char* PhoneProblem(const Policy& policy, const Caller* caller, phone::Number& number) {
  const auto raw = caller != nullptr ? Present(caller->phone) : std::nullopt;
  if (!raw.has_value()) return "phone_missing";
  number = phone::Normalize(*raw);
  // The log's own word for the line outranks the digits: a number taken from a withheld call
  // or written down for a landline is not one the caller gave us to text.
  if (const auto type = Present(caller->phone_type)) {
    if (ascii::EqualsIgnoreCase(*type, "withheld")) return "phone_withheld";
    if (ascii::EqualsIgnoreCase(*type, "landline")) return "phone_landline";
  }
  // Most likely the number, and linked to its history as such, but a guess is not one to text.
  if (number.guessed) return "phone_unclear";
  switch (number.kind) {
    case phone::Kind::kUkMobile:
      return nullptr;
    case phone::Kind::kInternational:
      return policy.mobile_only ? "phone_international" : nullptr;
    case phone::Kind::kUkLandline:
      return "phone_landline";
    case phone::Kind::kUkOther:
      return "phone_not_mobile";
    case phone::Kind::kWithheld:
      return "phone_withheld";
    case phone::Kind::kInvalid:
      return "phone_invalid";
  }
  return "phone_invalid";
}

// FNV-1a, then a 64-bit finaliser so that event ids differing in one character spread evenly.
std::uint64_t SampleHash(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

bool Sampled(double percent, std::string_view event_id) {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  const auto bucket = static_cast<double>(SampleHash(event_id) % 10000);
  return bucket < percent * 100;
}

std::string FormatLocal(const TimeZone& zone, TimePoint t) {
  const LocalDateTime local = zone.ToLocal(t);
  const auto offset = local.utc_offset.count();
  const long long magnitude = offset < 0 ? -offset : offset;
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d %c%02lld:%02lld %s", local.year,
                local.month, local.day, local.hour, local.minute, local.second,
                offset < 0 ? '-' : '+', magnitude / 3600, (magnitude % 3600) / 60,
                zone.Name().c_str());
  return text;
}

std::string Explain(const Decision& d, const TimeZone* zone) {
  std::string out;
  out += "outcome:   ";
  out += OutcomeName(d.outcome);
  out += "\ngroup:     " + (d.group.empty() ? std::string("(none)") : d.group);
  out += "\nreason:    " + d.reason;
  out += "\nmatched rules, in evaluation order:";
  int n = 0;
  for (const std::string& rule : d.trace) {
    out += "\n  " + std::to_string(++n) + ". " + rule;
    if (rule.rfind("insufficient_data:unknown_qualifier:", 0) == 0) {
      out +=
          "  (a flag no one names may mean what an exclusion is about: "
          "policy.unknown_qualifiers is exclude)";
    } else if (rule.rfind("insufficient_data:", 0) == 0) {
      const std::string rest = rule.substr(std::string("insufficient_data:").size());
      const std::size_t colon = rest.rfind(':');
      if (colon != std::string::npos) {
        out += "  (exclusion '" + rest.substr(0, colon) + "' needs " + rest.substr(colon + 1) +
               ", which the event lacks)";
      } else {
        out += "  (" + rest + " is missing)";
      }
    }
    if (rule.find("@incident:") != std::string::npos) {
      out += "  (on another event of this incident)";
    } else if (rule.find("@number:") != std::string::npos) {
      out += "  (on an event of this number in another incident)";
    } else if (rule.rfind("unknown_qualifier:", 0) == 0) {
      out += "  (neither the feed contract nor the rules name it: counted)";
    }
  }
  if (d.outcome == Decision::Outcome::kSurvey) {
    out += "\nphone:     " + phone::Mask(d.phone.e164) + " (" + phone::KindName(d.phone.kind) + ")";
    out += "\nlanguage:  " + d.language;
    out += "\nsend_at:   " + FormatRfc3339(d.send_at);
    if (zone) out += "  (" + FormatLocal(*zone, d.send_at) + ")";
    if (d.deferred_by_quiet_hours) out += "  deferred by quiet hours";
    out += "\nexpires_at: " + FormatRfc3339(d.expires_at);
    if (zone) out += "  (" + FormatLocal(*zone, d.expires_at) + ")";
    out += "\ntext:      " + d.sms_template;
  }
  out += "\n";
  return out;
}

}  // namespace

TimePoint NextSendWindow(const RuleSet& rules, TimePoint t) {
  const QuietHours& quiet = rules.quiet_hours();
  if (!quiet.enabled) return t;
  const TimeZone& zone = rules.zone();
  const LocalDateTime local = zone.ToLocal(t);
  const int minute = local.hour * 60 + local.minute;
  const bool wraps = quiet.start_minute > quiet.end_minute;
  const bool in_quiet = wraps ? (minute >= quiet.start_minute || minute < quiet.end_minute)
                              : (minute >= quiet.start_minute && minute < quiet.end_minute);
  if (!in_quiet) return t;
  // The quiet period ends today, or tomorrow when it started this evening and wraps midnight.
  std::chrono::year_month_day date{std::chrono::year{local.year},
                                   std::chrono::month{static_cast<unsigned>(local.month)},
                                   std::chrono::day{static_cast<unsigned>(local.day)}};
  if (wraps && minute >= quiet.start_minute) {
    date = std::chrono::year_month_day{std::chrono::sys_days{date} + std::chrono::days{1}};
  }
  const TimePoint end = zone.FromLocal(
      static_cast<int>(date.year()), static_cast<int>(unsigned(date.month())),
      static_cast<int>(unsigned(date.day())), quiet.end_minute / 60, quiet.end_minute % 60);
  if (end <= t) {
    // An end in the hour the clocks go back comes twice, and FromLocal gives the first: `t`, in
    // quiet hours by the clock, is in the second pass of that hour, which ends at the second.
    const TimePoint again = end + (zone.ToLocal(end).utc_offset - local.utc_offset);
    if (again > t) return again;
  }
  return std::max(end, t);
}

std::string RenderTemplate(std::string_view text,
                           const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out;
  out.reserve(text.size() + 32);
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find('{', pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = text.find('}', open + 1);
    if (close == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    const std::string_view name = text.substr(open + 1, close - open - 1);
    auto it = std::find_if(values.begin(), values.end(),
                           [&](const auto& value) { return value.first == name; });
    if (it != values.end()) {
      out += it->second;
    } else {
      out.append(text.substr(open, close - open + 1));
    }
    pos = close + 1;
  }
  out.append(text.substr(std::min(pos, text.size())));
  return out;
}

namespace {

// The finding, and the rule in a trace, of a flag that neither the feed contract nor the rules
// name, under the policy that such a flag rules a contact out (UnknownFlags::kExclude).
constexpr const char* kUnknownQualifier = "unknown_qualifier";
// Of a type code that cannot be compared with the patterns (TypeCodeUnreadable).
constexpr const char* kUnreadableTypeCode = "unreadable_type_code";
// The longest a text waits after its event reached us (Decide's timing): a backlog of days is
// read in minutes at most, and a group's longer delay still runs from the contact.
constexpr std::chrono::hours kLongestWaitAfterArrival{1};

// The event's qualifiers that neither the feed contract nor the rules name, each once.
std::vector<std::string> UnknownQualifiers(const RuleSet& rules, const Incident& incident) {
  std::vector<std::string> unknown;
  auto check = [&](const std::vector<std::string>& flags) {
    for (const std::string& flag : flags) {
      std::string word = ascii::ToUpper(ascii::Trim(flag));
      if (word.empty() || rules.KnowsQualifier(word)) continue;
      if (std::find(unknown.begin(), unknown.end(), word) == unknown.end()) {
        unknown.push_back(std::move(word));
      }
    }
  };
  if (incident.qualifiers.has_value()) check(*incident.qualifiers);
  check(incident.partial_qualifiers);
  return unknown;
}

// The caller checks, on the event's own caller and on each related event's.
bool UnderAge(const Policy& policy, const Caller* caller) {
  return policy.minimum_age > 0 && caller != nullptr && caller->age.has_value() &&
         *caller->age < policy.minimum_age;
}
bool Vulnerable(const Caller* caller) {
  return caller != nullptr && caller->vulnerable.value_or(false);
}
const Caller* CallerOf(const Event& event) { return event.caller ? &*event.caller : nullptr; }

// A related event that counts, and how it is related ("incident", "number"): read whole, or known
// by what the screen of these rules found on it (ScreenedEvent).
struct Related {
  const Event* event;             // null for a screened one
  const ScreenedEvent* screened;  // null for one read whole
  const char* scope;
  // Whether its caller's own findings (age, consent, vulnerable) count: not for an event of
  // another number, given as the number's because both are in one incident (migration 0046):
  // a flag on the incident concerns everyone in it, one caller's age does not concern a stranger
  // in their other contacts. (A screened one comes with those findings already left out: see
  // IsCallersOwn.)
  bool callers = true;

  const std::string& id() const { return event != nullptr ? event->event_id : screened->event_id; }
  TimePoint at() const { return event != nullptr ? event->occurred_at : screened->occurred_at; }
  // Whether the rule named `finding` (as RuleOutFindings names it) is found on it: by `check`
  // on its facts, or among what the screen found.
  template <typename Check>
  bool Finds(const std::string& finding, Check check) const {
    if (event != nullptr) return check(*event);
    return std::find(screened->findings.begin(), screened->findings.end(), finding) !=
           screened->findings.end();
  }
};

// The number an event's caller gave, as E.164 (a guess too); empty when none can be read.
std::string NumberOf(const Event& event) {
  const Caller* caller = CallerOf(event);
  if (caller == nullptr || !caller->phone.has_value()) return {};
  return phone::Normalize(*caller->phone).e164;
}

// The incident's, then the number's in the order they happened (then by event id), whichever
// form each came in: so a decision and its trace are the same however the store handed them.
std::vector<Related> RelatedThatCount(const Policy& policy, const Event& event,
                                      const RelatedEvents& related) {
  std::vector<Related> out;
  out.reserve(related.same_incident.size() + related.same_number.size() +
              related.number_incidents_others.size() + related.same_number_screened.size());
  for (const Event& other : related.same_incident) {
    if (other.event_id != event.event_id) out.push_back({&other, nullptr, "incident"});
  }
  const std::size_t numbers_from = out.size();
  const TimePoint oldest = event.occurred_at - policy.number_lookback;
  const std::string own = NumberOf(event);
  for (const Event& other : related.same_number) {
    if (other.event_id != event.event_id && other.occurred_at >= oldest) {
      // Two numbers both known and different are two people; a caller without a number (it
      // was withheld) may be the same one, and counts.
      const std::string theirs = NumberOf(other);
      out.push_back({&other, nullptr, "number", own.empty() || theirs.empty() || theirs == own});
    }
  }
  for (const Event& other : related.number_incidents_others) {
    if (other.event_id != event.event_id && other.occurred_at >= oldest) {
      out.push_back({&other, nullptr, "number", false});
    }
  }
  for (const ScreenedEvent& other : related.same_number_screened) {
    if (other.event_id != event.event_id && other.occurred_at >= oldest) {
      out.push_back({nullptr, &other, "number"});
    }
  }
  std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(numbers_from), out.end(),
                   [](const Related& a, const Related& b) {
                     if (a.at() != b.at()) return a.at() < b.at();
                     return a.id() < b.id();
                   });
  return out;
}

std::string At(const std::string& rule, const Related& related) {
  return rule + "@" + related.scope + ":" + related.id();
}

}  // namespace

Decision Decide(const RuleSet& rules, const Event& event, const ContactHistory& history,
                TimePoint now) {
  return Decide(rules, event, history, RelatedEvents{}, now);
}

// The names match what Decide traces before "@number:" or "@incident:" (At below).
std::vector<std::string> RuleOutFindings(const RuleSet& rules, const Event& event) {
  std::vector<std::string> findings;
  const Policy& policy = rules.policy();
  for (const Exclusion& exclusion : rules.exclusions()) {
    if (Evaluate(exclusion, event, policy).result == Tri::kYes) {
      findings.push_back("exclusion:" + exclusion.id);
    }
  }
  const Caller* caller = CallerOf(event);
  if (UnderAge(policy, caller)) findings.emplace_back("under_minimum_age");
  if (policy.exclude_consent_declined && ConsentDeclined(caller)) {
    findings.emplace_back("consent_declined");
  }
  if (policy.exclude_vulnerable && Vulnerable(caller)) findings.emplace_back("vulnerable");
  if (policy.unknown_qualifiers == UnknownFlags::kExclude &&
      !UnknownQualifiers(rules, event.incident).empty()) {
    findings.emplace_back(kUnknownQualifier);
  }
  if (TypeCodeUnreadable(event)) findings.emplace_back(kUnreadableTypeCode);
  return findings;
}

bool IsCallersOwn(std::string_view finding) {
  return finding == "under_minimum_age" || finding == "consent_declined" || finding == "vulnerable";
}

bool MayRuleOutOthers(const RuleSet& rules, const Event& event) {
  return !RuleOutFindings(rules, event).empty();
}

EventScreen ScreenUnder(std::shared_ptr<const RuleSet> rules) {
  if (!rules || rules->screen_version().empty()) return {};
  EventScreen screen;
  screen.version = rules->screen_version() + EventScreen::kFormat;
  screen.findings = [rules](const Event& event) { return RuleOutFindings(*rules, event); };
  return screen;
}

Decision Decide(const RuleSet& rules, const Event& event, const ContactHistory& history,
                const RelatedEvents& related, TimePoint now) {
  Decision d;
  d.unknown_qualifiers = UnknownQualifiers(rules, event.incident);
  auto trace_unknown = [&d]() {
    for (const std::string& word : d.unknown_qualifiers) {
      d.trace.push_back("unknown_qualifier:" + word);
    }
  };
  const SurveyGroup* group = rules.MatchGroup(event);
  if (group == nullptr) {
    d.outcome = Decision::Outcome::kIgnored;
    d.reason = "no_group";
    d.trace.push_back("no_group");
    trace_unknown();
    return d;
  }
  d.group = group->id;
  d.trace.push_back("group:" + group->id);
  trace_unknown();

  // Every rule is evaluated, so `explain` shows all that apply; the first one decides.
  auto hit = [&d](std::string rule, std::string reason) {
    d.trace.push_back(std::move(rule));
    if (d.reason.empty()) d.reason = std::move(reason);
  };
  const Policy& policy = rules.policy();
  const Caller* caller = event.caller ? &*event.caller : nullptr;
  const std::vector<Related> others = RelatedThatCount(policy, event, related);

  for (const Exclusion& exclusion : rules.exclusions()) {
    if (!exclusion.AppliesTo(group->id)) continue;
    const std::string rule = "exclusion:" + exclusion.id;
    const Evaluation evaluation = Evaluate(exclusion, event, policy);
    if (evaluation.result == Tri::kYes) {
      hit(rule, rule);
    } else if (evaluation.result == Tri::kUnknown) {
      hit("insufficient_data:" + exclusion.id + ":" + FieldName(*evaluation.missing),
          "insufficient_data");
    }
    for (const std::string& word : d.unknown_qualifiers) {
      if (evaluation.result != Tri::kNo || exclusion.qualifiers.empty()) break;
      if (NearQualifier(word, exclusion)) {
        hit("insufficient_data:" + exclusion.id + ":qualifiers", "insufficient_data");
        break;
      }
    }
    // Only a positive match counts on a related event: its missing data says nothing about
    // this contact, whose own data was checked just above.
    for (const Related& other : others) {
      const bool found = other.Finds(
          rule, [&](const Event& e) { return Evaluate(exclusion, e, policy).result == Tri::kYes; });
      if (found) hit(At(rule, other), rule);
    }
  }
  // A type code that cannot be compared with the patterns may name what an exclusion is about:
  // not texted, under its own reason for the funnel, here and on the incident's and number's
  // other events (as RuleOutFindings names it for the screen).
  {
    const std::string reason = "insufficient_data:" + std::string(kUnreadableTypeCode);
    if (TypeCodeUnreadable(event)) hit(reason, reason);
    for (const Related& other : others) {
      if (other.Finds(kUnreadableTypeCode, TypeCodeUnreadable)) {
        hit(At(kUnreadableTypeCode, other), reason);
      }
    }
  }
  // A flag no one names may be what an exclusion is about in other words (DV, RAPE): unclear,
  // so insufficient data, here and, as an exclusion would, on the incident's and number's
  // other events (as RuleOutFindings names it for the screen).
  if (policy.unknown_qualifiers == UnknownFlags::kExclude) {
    // Its own reason, so that the funnel and surveyd_decisions_total tell it from missing data.
    const std::string reason = "insufficient_data:" + std::string(kUnknownQualifier);
    for (const std::string& word : d.unknown_qualifiers) hit(reason + ":" + word, reason);
    for (const Related& other : others) {
      const bool found = other.Finds(kUnknownQualifier, [&](const Event& e) {
        return !UnknownQualifiers(rules, e.incident).empty();
      });
      if (found) hit(At(kUnknownQualifier, other), reason);
    }
  }

  phone::Number number;
  if (const char* problem = PhoneProblem(policy, caller, number)) hit(problem, problem);
  if (PhoneTypeUnclear(caller)) hit("insufficient_data:phone_type", "insufficient_data");

  // The caller checks: the event's own, then each related event's (positive findings only).
  // MayRuleOutOthers must find on an event whatever these loops can.
  if (UnderAge(policy, caller)) {
    hit("under_minimum_age", "under_minimum_age");
  } else if (policy.minimum_age > 0 && (caller == nullptr || !caller->age.has_value()) &&
             policy.missing_age == MissingAge::kExclude) {
    hit("insufficient_data:age", "insufficient_data");
  }
  for (const Related& other : others) {
    if (!other.callers) continue;
    if (other.Finds("under_minimum_age",
                    [&](const Event& e) { return UnderAge(policy, CallerOf(e)); })) {
      hit(At("under_minimum_age", other), "under_minimum_age");
    }
  }
  if (policy.exclude_consent_declined) {
    if (ConsentDeclined(caller)) hit("consent_declined", "consent_declined");
    if (ConsentUnclear(caller)) hit("insufficient_data:consent", "insufficient_data");
    for (const Related& other : others) {
      if (!other.callers) continue;
      if (other.Finds("consent_declined",
                      [](const Event& e) { return ConsentDeclined(CallerOf(e)); })) {
        hit(At("consent_declined", other), "consent_declined");
      }
    }
  }
  if (policy.exclude_vulnerable) {
    if (Vulnerable(caller)) hit("vulnerable", "vulnerable");
    for (const Related& other : others) {
      if (!other.callers) continue;
      if (other.Finds("vulnerable", [](const Event& e) { return Vulnerable(CallerOf(e)); })) {
        hit(At("vulnerable", other), "vulnerable");
      }
    }
  }
  if (history.opted_out) hit("opted_out", "opted_out");
  if (policy.frequency_cap_days > 0 && history.last_surveyed_at.has_value() &&
      now - *history.last_surveyed_at < std::chrono::days(policy.frequency_cap_days)) {
    hit("frequency_cap", "frequency_cap");
  }
  if (!Sampled(group->sampling_percent, event.event_id)) hit("not_sampled", "not_sampled");

  // Timing. A text that could no longer go out in its window (a late replay, a backlog) is not
  // sent at all. Quiet hours pause the window instead of dropping the text: a deferred text keeps
  // the part of the window it had left when the quiet hours began.
  // An event stamped later than now by more than two clocks in step may disagree: the log's
  // clock or ours is wrong, and every rule of timing with it (delay, quiet hours, send_within).
  if (event.occurred_at > now + policy.max_event_lead) {
    hit("occurred_in_future", "occurred_in_future");
  }
  // The delay waits for what may follow the contact in the log (the officer's flag, the
  // closure), so it runs from when the event reached us as well as from the contact: after an
  // outage a backlog is read in seconds, and a call read at the start of it would otherwise go at
  // once, before the same backlog's DOMESTIC flag is stored (a decision must not depend on how
  // the stream arrives). The wait after arrival is at most kLongestWaitAfterArrival, which a
  // backlog takes far less than to read, so a group waiting days is not pushed out of its window.
  const TimePoint earliest =
      std::max(event.occurred_at + group->delay,
               now + std::min<Duration>(group->delay, kLongestWaitAfterArrival));
  TimePoint expires_at = event.occurred_at + group->send_within;
  if (earliest >= expires_at) hit("would_expire", "would_expire");

  if (!d.reason.empty()) {
    d.outcome = Decision::Outcome::kExcluded;
    return d;
  }

  d.outcome = Decision::Outcome::kSurvey;
  d.reason = "survey";
  const TimePoint send_at = NextSendWindow(rules, earliest);
  if (send_at != earliest) {
    d.deferred_by_quiet_hours = true;
    expires_at = send_at + (expires_at - earliest);
    d.trace.push_back("quiet_hours");
  }
  d.trace.push_back("survey");
  d.send_at = send_at;
  d.expires_at = expires_at;
  // Open for survey_open_for after the latest moment the text may go: a text sent late in its
  // window must not lead to a page that has already closed.
  d.survey_closes_at = expires_at + group->survey_open_for;
  d.phone = std::move(number);
  d.two_way = group->mode == SurveyGroup::Mode::kTwoWay;

  d.language = "en";
  if (caller && caller->language.has_value()) {
    std::string wanted = labels::PrimaryLanguage(*caller->language);
    if (group->Template(wanted) != nullptr) d.language = std::move(wanted);
  }
  const std::string* text = group->Template(d.language);
  const int weekday = rules.zone().ToLocal(event.occurred_at).weekday;
  const std::optional<std::string> none;
  d.sms_template = RenderTemplate(
      text ? *text : std::string(),
      {{"force", rules.force_name()},
       {"channel", labels::ChannelLabel(d.language, event.call ? event.call->channel : none)},
       {"day", labels::DayName(d.language, weekday)},
       {"group", group->name}});
  return d;
}

std::string ExplainText(const Decision& decision) { return Explain(decision, nullptr); }

std::string MatchedPatterns(const RuleSet& rules, std::string_view id, const Event& event) {
  const auto code = TypeCode(event.incident);
  if (!code) return {};
  std::string patterns;
  for (const Exclusion& exclusion : rules.exclusions()) {
    if (exclusion.id != id) continue;
    for (const Glob& glob : exclusion.type_codes) {
      if (glob.Matches(*code)) patterns += (patterns.empty() ? "'" : ", '") + glob.pattern() + "'";
    }
  }
  if (patterns.empty()) return {};
  return "type code '" + std::string(*code) + "' matches " + patterns;
}

std::string ExplainText(const Decision& decision, const TimeZone& zone) {
  return Explain(decision, &zone);
}

}  // namespace surveyd::rules
