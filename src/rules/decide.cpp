// The decision for one event. Pure: everything it needs is in its arguments (the caller looks the
// contact history up and passes `now`), so replaying an event with the same inputs decides the
// same, and tests need no clock, database or network.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "rules/ascii.hpp"
#include "surveyd/core/phone.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::rules {

namespace {

enum class Tri { kNo, kYes, kUnknown };

// A condition on a field the event may lack: absent and required is "unknown" (do not text);
// absent and not required counts as not matching.
Tri Missing(const Policy& policy, Field field) {
  return policy.Requires(field) ? Tri::kUnknown : Tri::kNo;
}

Tri FromBool(bool value) { return value ? Tri::kYes : Tri::kNo; }

bool AnyEquals(const std::vector<std::string>& list, std::string_view value) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& entry) {
    return ascii::EqualsIgnoreCase(entry, value);
  });
}

Tri InList(const Policy& policy, Field field, const std::vector<std::string>& list,
           const std::optional<std::string>& value) {
  if (!value.has_value()) return Missing(policy, field);
  return FromBool(AnyEquals(list, *value));
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

Evaluation Evaluate(const Exclusion& x, const Event& event, const Policy& policy) {
  Combiner all(x.match_any);
  const Incident& incident = event.incident;
  const Caller* caller = event.caller ? &*event.caller : nullptr;

  if (!x.type_codes.empty()) {
    if (!incident.type_code.has_value()) {
      all.Add(Missing(policy, Field::kTypeCode), Field::kTypeCode);
    } else {
      const std::string& code = *incident.type_code;
      all.Add(FromBool(std::any_of(x.type_codes.begin(), x.type_codes.end(),
                                   [&](const Glob& glob) { return glob.Matches(code); })),
              Field::kTypeCode);
    }
  }
  if (!x.categories.empty()) {
    all.Add(InList(policy, Field::kCategory, x.categories, incident.category), Field::kCategory);
  }
  if (!x.grades.empty()) {
    all.Add(InList(policy, Field::kGrade, x.grades, incident.grade), Field::kGrade);
  }
  if (!x.qualifiers.empty()) {
    if (!incident.qualifiers.has_value()) {
      all.Add(Missing(policy, Field::kQualifiers), Field::kQualifiers);
    } else {
      const auto& present = *incident.qualifiers;
      all.Add(
          FromBool(std::any_of(present.begin(), present.end(),
                               [&](const std::string& q) { return AnyEquals(x.qualifiers, q); })),
          Field::kQualifiers);
    }
  }
  if (!x.channels.empty()) {
    const std::optional<std::string> none;
    all.Add(InList(policy, Field::kChannel, x.channels, event.call ? event.call->channel : none),
            Field::kChannel);
  }
  if (!x.roles.empty()) {
    const std::optional<std::string> none;
    all.Add(InList(policy, Field::kRole, x.roles, caller ? caller->role : none), Field::kRole);
  }
  if (!x.phone_types.empty()) {
    const std::optional<std::string> none;
    all.Add(InList(policy, Field::kPhoneType, x.phone_types, caller ? caller->phone_type : none),
            Field::kPhoneType);
  }
  const std::optional<int> age = caller ? caller->age : std::nullopt;
  if (x.age_under.has_value()) {
    all.Add(age ? FromBool(*age < *x.age_under) : Missing(policy, Field::kAge), Field::kAge);
  }
  if (x.age_over.has_value()) {
    all.Add(age ? FromBool(*age > *x.age_over) : Missing(policy, Field::kAge), Field::kAge);
  }
  // Absent consent is not a refusal and absent vulnerability is not a flag (the feed omits both
  // routinely), so these two conditions are never "unknown" and the field passed is never shown.
  if (x.consent_declined.has_value()) {
    const bool declined = caller && caller->survey_consent &&
                          ascii::EqualsIgnoreCase(*caller->survey_consent, "declined");
    all.Add(FromBool(declined == *x.consent_declined), Field::kRole);
  }
  if (x.vulnerable.has_value()) {
    const bool flagged = caller && caller->vulnerable.value_or(false);
    all.Add(FromBool(flagged == *x.vulnerable), Field::kRole);
  }
  return all.Result();
}

// Phone numbers that can take a text; anything else is named so the funnel says why.
const char* PhoneProblem(const Policy& policy, const Caller* caller, phone::Number& number) {
  if (caller == nullptr || !caller->phone.has_value()) return "phone_missing";
  number = phone::Normalize(*caller->phone);
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

const char* DayName(std::string_view language, int weekday) {
  static const char* const kEn[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                    "Thursday", "Friday", "Saturday"};
  // Without diacritics, like the Polish templates: GSM-7 keeps a text to one 160-character part.
  static const char* const kPl[] = {"niedziela", "poniedzialek", "wtorek", "sroda",
                                    "czwartek",  "piatek",       "sobota"};
  static const char* const kCy[] = {"dydd Sul", "dydd Llun",   "dydd Mawrth", "dydd Mercher",
                                    "dydd Iau", "dydd Gwener", "dydd Sadwrn"};
  const int day = ((weekday % 7) + 7) % 7;
  if (language == "pl") return kPl[day];
  if (language == "cy") return kCy[day];
  return kEn[day];
}

std::string ChannelLabel(std::string_view language, const std::optional<std::string>& channel) {
  if (!channel.has_value()) return language == "pl" ? "kontakt" : "contact";
  const std::string& c = *channel;
  if (ascii::EqualsIgnoreCase(c, "live_chat")) {
    return language == "pl" ? "czat" : language == "cy" ? "sgwrs fyw" : "live chat";
  }
  if (ascii::EqualsIgnoreCase(c, "in_person")) {
    return language == "pl" ? "wizyta" : language == "cy" ? "ymweliad" : "in person";
  }
  std::string label = c;
  std::replace(label.begin(), label.end(), '_', ' ');
  return label;
}

// "en-GB", "PL" -> "en", "pl".
std::string PrimaryLanguage(const std::string& tag) {
  const std::size_t end = tag.find_first_of("-_");
  return ascii::ToLower(std::string_view(tag).substr(0, end));
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
    if (rule.rfind("insufficient_data:", 0) == 0) {
      const std::string rest = rule.substr(std::string("insufficient_data:").size());
      const std::size_t colon = rest.rfind(':');
      if (colon != std::string::npos) {
        out += "  (exclusion '" + rest.substr(0, colon) + "' needs " + rest.substr(colon + 1) +
               ", which the event lacks)";
      } else {
        out += "  (" + rest + " is missing)";
      }
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

Decision Decide(const RuleSet& rules, const Event& event, const ContactHistory& history,
                TimePoint now) {
  Decision d;
  const SurveyGroup* group = rules.MatchGroup(event);
  if (group == nullptr) {
    d.outcome = Decision::Outcome::kIgnored;
    d.reason = "no_group";
    d.trace.push_back("no_group");
    return d;
  }
  d.group = group->id;
  d.trace.push_back("group:" + group->id);

  // Every rule is evaluated, so `explain` shows all that apply; the first one decides.
  auto hit = [&d](std::string rule, std::string reason) {
    d.trace.push_back(std::move(rule));
    if (d.reason.empty()) d.reason = std::move(reason);
  };
  const Policy& policy = rules.policy();
  const Caller* caller = event.caller ? &*event.caller : nullptr;

  for (const Exclusion& exclusion : rules.exclusions()) {
    if (!exclusion.AppliesTo(group->id)) continue;
    const Evaluation evaluation = Evaluate(exclusion, event, policy);
    if (evaluation.result == Tri::kYes) {
      hit("exclusion:" + exclusion.id, "exclusion:" + exclusion.id);
    } else if (evaluation.result == Tri::kUnknown) {
      hit("insufficient_data:" + exclusion.id + ":" + FieldName(*evaluation.missing),
          "insufficient_data");
    }
  }

  phone::Number number;
  if (const char* problem = PhoneProblem(policy, caller, number)) hit(problem, problem);

  const std::optional<int> age = caller ? caller->age : std::nullopt;
  if (policy.minimum_age > 0) {
    if (age.has_value()) {
      if (*age < policy.minimum_age) hit("under_minimum_age", "under_minimum_age");
    } else if (policy.missing_age == MissingAge::kExclude) {
      hit("insufficient_data:age", "insufficient_data");
    }
  }
  if (policy.exclude_consent_declined && caller && caller->survey_consent &&
      ascii::EqualsIgnoreCase(*caller->survey_consent, "declined")) {
    hit("consent_declined", "consent_declined");
  }
  if (policy.exclude_vulnerable && caller && caller->vulnerable.value_or(false)) {
    hit("vulnerable", "vulnerable");
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
  const TimePoint earliest = std::max(now, event.occurred_at + group->delay);
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

  d.language = "en";
  if (caller && caller->language.has_value()) {
    std::string wanted = PrimaryLanguage(*caller->language);
    if (group->Template(wanted) != nullptr) d.language = std::move(wanted);
  }
  const std::string* text = group->Template(d.language);
  const int weekday = rules.zone().ToLocal(event.occurred_at).weekday;
  const std::optional<std::string> none;
  d.sms_template = RenderTemplate(
      text ? *text : std::string(),
      {{"force", rules.force_name()},
       {"channel", ChannelLabel(d.language, event.call ? event.call->channel : none)},
       {"day", DayName(d.language, weekday)},
       {"group", group->name}});
  return d;
}

Decision Decide(const RuleSet& rules, const Event& event, const ContactHistory& history,
                const RelatedEvents&, TimePoint now) {
  return Decide(rules, event, history, now);  // TEMPORARY until the rules side lands
}

std::string ExplainText(const Decision& decision) { return Explain(decision, nullptr); }

std::string ExplainText(const Decision& decision, const TimeZone& zone) {
  return Explain(decision, &zone);
}

}  // namespace surveyd::rules
