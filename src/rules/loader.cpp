// Reading and validating config/rules.yaml. Ops edit this file by hand, so every mistake is
// reported with its line and column, and all of them at once: a reload that fails one error at
// a time wastes an operator's evening.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "rules/ascii.hpp"
#include "rules/contract.hpp"
#include "surveyd/core/closest_word.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/yaml_syntax.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::rules {

std::string RuleError::ToString() const {
  const std::string text = (warning ? "warning: " : "") + message;
  if (line <= 0) return file + ": " + text;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + text;
}

namespace {

// The shipped rules' minimum age (config/rules.yaml): a lower one is said by `rules check`.
constexpr int kShippedMinimumAge = 16;

// " (did you mean 'x'?)" when a candidate is close enough to be the intended word.
std::string Suggest(std::string_view word, const std::vector<std::string>& candidates,
                    const std::string& before = "", const std::string& after = "") {
  const std::string best = ClosestWord(word, candidates);
  if (best.empty()) return "";
  return " (did you mean '" + before + best + after + "'?)";
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

using contract::kCategories;
using contract::kChannels;
using contract::kGrades;
using contract::kPhoneTypes;
using contract::kRoles;
const std::vector<std::string> kPlaceholders = {"force", "link", "channel", "day", "group"};
const std::vector<std::string> kEventTypes = {"call.ended", "resource.departed", "incident.closed"};

struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

class Loader {
 public:
  Loader(std::string file, const LoadOptions& options)
      : file_(std::move(file)), options_(options) {}

  LoadResult Load(std::string_view text) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      auto error = DescribeYamlSyntaxError(text, e.msg, e.mark.line, e.mark.column);
      errors_.push_back(RuleError{file_, error.line, error.column, std::move(error.message)});
      return Result(nullptr);
    }
    if (!root.IsDefined() || root.IsNull()) {
      errors_.push_back(RuleError{file_, 1, 1, "the rules file is empty"});
      return Result(nullptr);
    }
    if (!root.IsMap()) {
      Error(root, "the rules file must be a map of settings (force_name:, groups:, ...)");
      return Result(nullptr);
    }
    return Result(Build(root));
  }

 private:
  // What stored events are screened under (EventScreen): the policy and the exclusions are all
  // that MayRuleOutOthers reads, so a reload that changes neither (a template, the groups, quiet
  // hours, a comment) keeps the screens of the stored events.
  static std::string ScreenVersion(const Entry* policy, const Entry* exclusions) {
    YAML::Emitter out;
    out << YAML::BeginSeq << (policy ? policy->value : YAML::Node())
        << (exclusions ? exclusions->value : YAML::Node()) << YAML::EndSeq;
    return crypto::Sha256Hex(out.c_str()).substr(0, 16);
  }

  LoadResult Result(std::shared_ptr<const RuleSet> rules) {
    LoadResult result;
    if (errors_.empty()) result.rules = std::move(rules);
    result.errors = std::move(errors_);
    result.warnings = std::move(warnings_);
    for (auto* list : {&result.errors, &result.warnings}) {
      std::stable_sort(list->begin(), list->end(), [](const RuleError& a, const RuleError& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
      });
    }
    return result;
  }

  std::shared_ptr<const RuleSet> Build(const YAML::Node& root) {
    const auto top = Entries(
        root,
        // `alerts` is read by alerts::LoadAlertConfigFile (the answers' rules, not the events').
        {"version", "force_name", "time_zone", "policy", "quiet_hours", "groups", "exclusions",
         "two_way", "replies", "alerts"},
        "the rules file");

    if (const Entry* version = Find(top, "version")) {
      if (auto number = Int(*version); number && *number != 1) {
        Error(version->value, "unsupported version " + std::to_string(*number) + " (expected 1)");
      }
    }

    if (const Entry* entry = Find(top, "force_name")) {
      if (auto value = String(*entry)) force_name_ = *value;
    } else {
      Error(root,
            "missing 'force_name' (the name texts are signed with, e.g. West Midlands Police)");
    }

    std::shared_ptr<const TimeZone> zone;
    std::string zone_name = "Europe/London";
    const Entry* zone_entry = Find(top, "time_zone");
    if (zone_entry) {
      if (auto value = String(*zone_entry); value && value->empty()) {
        Error(zone_entry->value,
              "time_zone is empty: give the force's time zone (e.g. Europe/London)");
        zone_name.clear();
      } else if (value) {
        zone_name = *value;
      } else {
        zone_entry = nullptr;
        zone_name.clear();
      }
    }
    if (!zone_name.empty()) {
      try {
        zone = TimeZone::Load(zone_name);
      } catch (const std::exception&) {
        if (zone_entry) {
          Error(zone_entry->value, "unknown time zone '" + zone_name + "' (e.g. Europe/London)");
        } else {
          Error(root, "cannot load the default time zone Europe/London");
        }
      }
    }

    Policy policy;
    if (const Entry* entry = Find(top, "policy")) policy = ReadPolicy(*entry);

    QuietHours quiet;
    const Entry* quiet_entry = Find(top, "quiet_hours");
    if (quiet_entry) quiet = ReadQuietHours(*quiet_entry);
    if (!quiet_entry || quiet_entry->value.IsNull()) {
      // Left out, or its lines commented out: none, which texts at night. Said, so that it is
      // meant (enabled: false says so without a warning).
      Warn(quiet_entry ? quiet_entry->value : root,
           "no quiet_hours: texts may go at any hour, the night included (give start and end, "
           "e.g. start: \"21:00\", end: \"09:00\", or enabled: false if none is meant)");
    }

    // Before the groups: a two-way group's first text is measured with its first question.
    const Entry* two_way_entry = Find(top, "two_way");
    if (two_way_entry) ReadTwoWay(*two_way_entry, replies_);
    if (const Entry* entry = Find(top, "replies")) ReadReplies(*entry, replies_);

    std::vector<SurveyGroup> groups;
    if (const Entry* entry = Find(top, "groups")) {
      groups = ReadGroups(*entry);
    } else {
      Error(root, "missing 'groups' (at least one survey group)");
    }

    std::vector<Exclusion> exclusions;
    const Entry* exclusions_entry = Find(top, "exclusions");
    if (exclusions_entry) exclusions = ReadExclusions(*exclusions_entry, groups);
    if (exclusions.empty() && errors_.empty()) {
      Warn(exclusions_entry ? exclusions_entry->key_node : root,
           "no exclusions: nothing keeps a text from domestic abuse, sexual offence or "
           "safeguarding contacts (see the shipped config/rules.yaml)");
    }

    CheckTwoWayGroups(groups, two_way_entry ? two_way_entry->key_node : root);
    CheckHarmlessQualifiers(exclusions);

    if (!errors_.empty() || !zone) return nullptr;
    auto rules =
        std::make_shared<RuleSet>(std::move(force_name_), std::move(zone), std::move(policy), quiet,
                                  std::move(groups), std::move(exclusions), std::move(replies_));
    rules->set_screen_version(ScreenVersion(Find(top, "policy"), exclusions_entry));
    return rules;
  }

  // two_way: {lasts: 24h,
  //           texts: {en: {questions: [5 texts], ask_again: ..., thanks: ..., closed: ...}, ...}}
  void ReadTwoWay(const Entry& entry, SmsReplies& replies) {
    if (!ExpectMap(entry)) return;
    const auto keys = Entries(entry.value, {"lasts", "texts"}, "two_way");
    if (const Entry* e = Find(keys, "lasts")) {
      if (auto value = DurationValue(*e)) {
        if (value->count() == 0) Error(e->value, "two_way lasts must be more than 0");
        replies.conversation_lasts = *value;
      }
    }
    const Entry* texts = Find(keys, "texts");
    if (!texts) {
      Error(entry.value, "two_way has no 'texts' (the questions in each language)");
      return;
    }
    if (!ExpectMap(*texts)) return;
    std::set<std::string> seen;
    for (auto it = texts->value.begin(); it != texts->value.end(); ++it) {
      auto language = Language(it->first);
      if (!language) continue;
      if (!seen.insert(*language).second) {
        Error(it->first, "duplicate language '" + *language + "' in two_way texts");
        continue;
      }
      const Entry texts_entry{*language, it->first, it->second};
      if (!ExpectMap(texts_entry)) continue;
      const auto fields = Entries(it->second, {"questions", "ask_again", "thanks", "closed"},
                                  "two_way texts " + *language);
      TwoWayTexts language_texts;
      bool ok = true;
      if (const Entry* q = Find(fields, "questions")) {
        std::size_t n = 0;
        ForEachListItem(*q, [&](const YAML::Node& item) {
          auto text = ScalarText(item, "each question");
          if (text && n < language_texts.questions.size()) {
            language_texts.questions[n] = ReplyText(item, *text);
            MeasureReply(item, "two_way/" + *language + "/question " + std::to_string(n + 1),
                         language_texts.questions[n]);
          }
          ++n;
        });
        if (n != language_texts.questions.size()) {
          Error(Place(*q), "two_way texts " + *language + " need exactly 5 questions, not " +
                               std::to_string(n));
          ok = false;
        }
      } else {
        Error(it->second, "two_way texts " + *language + " have no 'questions'");
        ok = false;
      }
      // Each is required, as a group's language without them could not be asked (or told).
      for (auto [key, field] : {std::pair{"ask_again", &language_texts.ask_again},
                                std::pair{"thanks", &language_texts.thanks},
                                std::pair{"closed", &language_texts.closed}}) {
        if (const Entry* e = Find(fields, key)) {
          if (auto text = String(*e)) {
            *field = ReplyText(e->value, *text);
            // Asked again, the text goes before the question: measure it with the longest.
            std::string measured = *field;
            if (field == &language_texts.ask_again) {
              measured +=
                  " " + *std::max_element(language_texts.questions.begin(),
                                          language_texts.questions.end(),
                                          [](const auto& a, const auto& b) {
                                            return sms::Measure(a).units < sms::Measure(b).units;
                                          });
            }
            MeasureReply(e->value, "two_way/" + *language + "/" + key, measured);
          }
        } else {
          Error(it->second, "two_way texts " + *language + " have no '" + key + "'");
          ok = false;
        }
      }
      if (!ok) continue;
      if (*language == "en") {
        replies.two_way.insert(replies.two_way.begin(), {*language, std::move(language_texts)});
      } else {
        replies.two_way.emplace_back(*language, std::move(language_texts));
      }
    }
  }

  // replies: {opt_out_confirmation: {en: ..., pl: ...},
  //           help_now: {at_most_every: 1h, texts: {en: ..., pl: ...}},
  //           link_reply: {en: ..., pl: ...}}
  void ReadReplies(const Entry& entry, SmsReplies& replies) {
    if (!ExpectMap(entry)) return;
    const auto keys =
        Entries(entry.value, {"opt_out_confirmation", "help_now", "link_reply"}, "replies");
    if (const Entry* confirmation = Find(keys, "opt_out_confirmation")) {
      replies.opt_out_confirmation =
          ReadReplyTexts(*confirmation, "opt_out_confirmation", /*segments=*/1);
    }
    if (const Entry* link_reply = Find(keys, "link_reply")) {
      replies.link_reply = ReadReplyTexts(*link_reply, "link_reply", /*segments=*/1);
    }
    if (const Entry* help = Find(keys, "help_now")) {
      ReadHelpNow(*help, replies);
    } else {
      Warn(entry.key_node,
           "replies has no help_now: a text that says the citizen is in danger gets no answer "
           "saying where to get help");
    }
  }

  // help_now: {at_most_every: 1h, texts: {en: ..., pl: ...}}. The help may take two SMS: it
  // names 999, 55, 101 and the helplines, as the thank-you page does.
  void ReadHelpNow(const Entry& entry, SmsReplies& replies) {
    if (!ExpectMap(entry)) return;
    const auto keys = Entries(entry.value, {"at_most_every", "texts"}, "help_now");
    if (const Entry* e = Find(keys, "at_most_every")) {
      if (auto value = DurationValue(*e)) {
        if (value->count() == 0) {
          Error(e->value,
                "help_now at_most_every must be more than 0 (it keeps a reply loop "
                "from texting help again and again)");
        }
        replies.help_now_every = *value;
      }
    }
    if (const Entry* texts = Find(keys, "texts")) {
      replies.help_now = ReadReplyTexts(*texts, "help_now", /*segments=*/2);
    } else {
      Error(entry.value, "help_now has no 'texts' (where to get help, in each language)");
    }
  }

  // {en: ..., pl: ...}: a text per language, "en" first and required (the fallback), each
  // measured against `segments` SMS.
  std::vector<std::pair<std::string, std::string>> ReadReplyTexts(const Entry& entry,
                                                                  const std::string& what,
                                                                  int segments) {
    std::vector<std::pair<std::string, std::string>> out;
    if (!ExpectMap(entry)) return out;
    std::set<std::string> seen;
    for (auto it = entry.value.begin(); it != entry.value.end(); ++it) {
      auto language = Language(it->first);
      if (!language) continue;
      // A copied line whose code was not changed: the second would be taken for the first
      // (the English fallback in Welsh, and no Welsh).
      if (!seen.insert(*language).second) {
        Error(it->first, "duplicate language '" + *language + "' in " + what);
        continue;
      }
      auto text = ScalarText(it->second, what + " " + *language);
      if (!text) continue;
      std::string reply = ReplyText(it->second, *text);
      MeasureReply(it->second, what + "/" + *language, reply, segments);
      if (*language == "en") {
        out.insert(out.begin(), {*language, std::move(reply)});
      } else {
        out.emplace_back(*language, std::move(reply));
      }
    }
    if (out.empty() || out.front().first != "en") {
      Error(Place(entry), what + " has no 'en' text (the fallback)");
    }
    return out;
  }

  // A text sent back as it is: {force} is the only placeholder.
  std::string ReplyText(const YAML::Node& node, const std::string& text) {
    for (std::size_t pos = text.find('{'); pos != std::string::npos;
         pos = text.find('{', pos + 1)) {
      if (text.compare(pos, 7, "{force}") != 0) {
        Error(node, "the only placeholder a reply text takes is {force}");
        break;
      }
    }
    return RenderTemplate(text, {{"force", force_name_}});
  }

  std::optional<std::string> Language(const YAML::Node& node) {
    auto language = ScalarText(node, "language");
    if (!language) return std::nullopt;
    const bool ok = language->size() >= 2 && language->size() <= 3 &&
                    std::all_of(language->begin(), language->end(),
                                [](char c) { return c >= 'a' && c <= 'z'; });
    if (!ok) {
      Error(node, "language must be a lower-case ISO 639-1 code such as en, pl, cy, not '" +
                      *language + "'");
      return std::nullopt;
    }
    return language;
  }

  // Every language a two-way group may text in has its questions.
  void CheckTwoWayGroups(const std::vector<SurveyGroup>& groups, const YAML::Node& place) {
    for (const SurveyGroup& group : groups) {
      if (group.mode != SurveyGroup::Mode::kTwoWay) continue;
      for (const auto& [language, text] : group.templates) {
        if (replies_.TwoWay(language) == nullptr) {
          Error(place, "group '" + group.id + "' is two_way but two_way has no texts for '" +
                           language + "'");
        }
      }
    }
  }

  // rules check: a text sent back that takes more than one SMS segment warns, as a template does.
  // A reply text longer than `segments` SMS is warned about: it costs more, and may arrive in
  // pieces.
  void MeasureReply(const YAML::Node& node, const std::string& what, const std::string& text,
                    int segments = 1) {
    if (!options_.link) return;
    const sms::Length length = sms::Measure(text);
    if (length.segments > segments) {
      Warn(node, "reply text " + what + " takes " + std::to_string(length.segments) +
                     " SMS segments (" + std::to_string(length.units) + " " +
                     sms::EncodingName(length.encoding) + " characters, one SMS holds " +
                     std::to_string(length.single_limit()) + ")");
    }
  }

  Policy ReadPolicy(const Entry& entry) {
    Policy policy;
    if (!ExpectMap(entry)) return policy;
    const auto keys =
        Entries(entry.value,
                {"minimum_age", "missing_age", "mobile_only", "exclude_consent_declined",
                 "exclude_vulnerable", "frequency_cap_days", "number_lookback_days",
                 "max_event_lead", "require", "unknown_qualifiers", "harmless_qualifiers"},
                "policy");
    // A policy less careful than the shipped one is allowed (a force decides), but said: each
    // of these, edited in one line, texts people the shipped rules keep from being texted.
    const auto weaker = [&](const Entry& e, const std::string& what) {
      Warn(e.value, "policy." + e.key + ": " + what + " (the shipped rules do not)");
    };
    if (const Entry* e = Find(keys, "minimum_age")) {
      if (auto value = IntInRange(*e, 0, 120)) {
        policy.minimum_age = *value;
        if (*value < kShippedMinimumAge) {
          weaker(*e, "texts children under " + std::to_string(kShippedMinimumAge));
        }
      }
    }
    if (const Entry* e = Find(keys, "missing_age")) {
      if (auto value = OneOf(*e, {"allow", "exclude"})) {
        policy.missing_age = *value == "allow" ? MissingAge::kAllow : MissingAge::kExclude;
      }
    }
    if (const Entry* e = Find(keys, "mobile_only")) {
      if (auto value = Bool(*e)) policy.mobile_only = *value;
    }
    if (const Entry* e = Find(keys, "exclude_consent_declined")) {
      if (auto value = Bool(*e)) {
        policy.exclude_consent_declined = *value;
        if (!*value) weaker(*e, "texts people who declined to be surveyed");
      }
    }
    if (const Entry* e = Find(keys, "exclude_vulnerable")) {
      if (auto value = Bool(*e)) {
        policy.exclude_vulnerable = *value;
        if (!*value) weaker(*e, "texts callers flagged vulnerable");
      }
    }
    if (const Entry* e = Find(keys, "frequency_cap_days")) {
      if (auto value = IntInRange(*e, 0, 3650)) {
        policy.frequency_cap_days = *value;
        if (*value == 0) weaker(*e, "texts a number after every contact, however recent");
      }
    }
    if (const Entry* e = Find(keys, "number_lookback_days")) {
      // The store hands the rules a number's events of kMaxNumberLookback at most.
      if (auto value = IntInRange(*e, 0, static_cast<int>(kMaxNumberLookback.count()))) {
        policy.number_lookback = std::chrono::days(*value);
        if (*value == 0) {
          weaker(*e, "a DOMESTIC flag on a number's other incidents no longer stops its texts");
        }
      }
    }
    if (const Entry* e = Find(keys, "max_event_lead")) {
      if (auto value = DurationValue(*e)) policy.max_event_lead = *value;
    }
    if (const Entry* e = Find(keys, "unknown_qualifiers")) {
      if (auto value = OneOf(*e, {"exclude", "survey"})) {
        policy.unknown_qualifiers =
            *value == "exclude" ? UnknownFlags::kExclude : UnknownFlags::kSurvey;
        if (*value == "survey") {
          weaker(*e,
                 "texts contacts flagged with words the rules do not know (DV where they say "
                 "DOMESTIC)");
        }
      }
    }
    if (const Entry* e = Find(keys, "harmless_qualifiers")) {
      ForEachListItem(*e, [&](const YAML::Node& item) {
        if (auto word = ScalarText(item, "harmless_qualifiers")) {
          policy.harmless_qualifiers.push_back(ascii::ToUpper(*word));
          harmless_items_.push_back(item);
        }
      });
    }
    if (const Entry* e = Find(keys, "require")) {
      std::vector<std::string> names;
      for (Field field : {Field::kTypeCode, Field::kCategory, Field::kGrade, Field::kQualifiers,
                          Field::kChannel, Field::kRole, Field::kAge, Field::kPhoneType}) {
        names.push_back(FieldName(field));
      }
      policy.require.clear();
      ForEachListItem(*e, [&](const YAML::Node& item) {
        auto name = ScalarText(item, "require");
        if (!name) return;
        if (auto field = ParseField(*name)) {
          policy.require.push_back(*field);
        } else {
          Error(item, "unknown field '" + *name + "' in require" + Suggest(*name, names) +
                          "; known: " + Join(names));
        }
      });
      if (e->value.IsSequence() && e->value.size() == 0) {
        Warn(e->value,
             "'require' is empty: an event without qualifiers or a type code counts as not "
             "matching the exclusions and may be texted (the shipped policy requires both)");
      }
    }
    return policy;
  }

  QuietHours ReadQuietHours(const Entry& entry) {
    QuietHours quiet;
    if (entry.value.IsNull()) return quiet;  // "quiet_hours:" alone: none
    if (!ExpectMap(entry)) return quiet;
    const auto keys = Entries(entry.value, {"start", "end", "enabled"}, "quiet_hours");
    bool enabled = true;
    if (const Entry* e = Find(keys, "enabled")) {
      if (auto value = Bool(*e)) enabled = *value;
    }
    const Entry* start = Find(keys, "start");
    const Entry* end = Find(keys, "end");
    if (!enabled && !start && !end) return quiet;  // "enabled: false" alone: none, meant
    if (!start || !end) {
      Error(entry.value, "quiet_hours needs both 'start' and 'end' (e.g. start: \"21:00\")");
      return quiet;
    }
    auto start_minute = TimeOfDay(*start);
    auto end_minute = TimeOfDay(*end);
    if (!start_minute || !end_minute) return quiet;
    // The same time twice reads as no quiet hours or as all day: which was meant cannot be told,
    // and guessing "none" would text at night.
    if (enabled && *start_minute == *end_minute) {
      Error(end->value,
            "quiet_hours start and end are the same time: give the hours texts must not go "
            "(e.g. start: \"21:00\", end: \"09:00\"), or enabled: false for none");
      return quiet;
    }
    quiet.start_minute = *start_minute;
    quiet.end_minute = *end_minute;
    quiet.enabled = enabled;
    // Start and end swapped ("09:00" to "21:00") texts only at night, and is valid.
    if (enabled && (!quiet.Covers(2 * 60) || !quiet.Covers(5 * 60))) {
      Warn(entry.value, "quiet_hours " + quiet.ToString() +
                            " let texts go in the small hours (02:00-05:00): were start and end "
                            "swapped? (start is when texts stop, e.g. start: \"21:00\", end: "
                            "\"09:00\")");
    }
    return quiet;
  }

  std::vector<SurveyGroup> ReadGroups(const Entry& entry) {
    std::vector<SurveyGroup> groups;
    if (!entry.value.IsSequence()) {
      Error(entry.value.IsNull() ? entry.key_node : entry.value,
            "'groups' must be a list of survey groups");
      return groups;
    }
    if (entry.value.size() == 0) Error(entry.value, "'groups' is empty: nobody would be surveyed");
    std::map<std::string, int> seen;  // id -> line
    for (const YAML::Node& item : entry.value) {
      if (!item.IsMap()) {
        Error(item, "each group must be a map (id:, name:, trigger:, ...)");
        continue;
      }
      const auto keys =
          Entries(item,
                  {"id", "name", "trigger", "mode", "channels", "categories", "grades", "delay",
                   "send_within", "survey_open_for", "sampling_percent", "templates"},
                  "group");
      SurveyGroup group;
      bool ok = true;
      if (const Entry* e = Find(keys, "id")) {
        if (auto id = Identifier(*e)) {
          group.id = *id;
          if (auto [it, fresh] = seen.emplace(*id, e->value.Mark().line + 1); !fresh) {
            Error(e->value, "duplicate group id '" + *id + "' (first defined on line " +
                                std::to_string(it->second) + ")");
          }
        } else {
          ok = false;
        }
      } else {
        Error(item, "group without 'id'");
        ok = false;
      }
      if (const Entry* e = Find(keys, "name")) {
        if (auto name = String(*e)) group.name = *name;
      } else {
        Error(item, "group '" + group.id + "' has no 'name'");
      }
      if (const Entry* e = Find(keys, "trigger")) {
        if (auto name = String(*e)) {
          if (auto type = ParseEventType(*name)) {
            group.trigger = *type;
          } else {
            Error(e->value, "unknown event type '" + *name + "'" + Suggest(*name, kEventTypes) +
                                "; known: " + Join(kEventTypes));
          }
        }
      } else {
        Error(item, "group '" + group.id + "' has no 'trigger' (e.g. trigger: call.ended)");
      }
      if (const Entry* e = Find(keys, "mode")) {
        if (auto value = OneOf(*e, {"link", "two_way"})) {
          group.mode = *value == "two_way" ? SurveyGroup::Mode::kTwoWay : SurveyGroup::Mode::kLink;
        }
      }
      if (const Entry* e = Find(keys, "channels")) group.channels = KnownList(*e, kChannels);
      if (const Entry* e = Find(keys, "categories")) group.categories = KnownList(*e, kCategories);
      if (const Entry* e = Find(keys, "grades")) group.grades = KnownList(*e, kGrades);
      if (const Entry* e = Find(keys, "delay")) {
        if (auto value = DurationValue(*e)) group.delay = *value;
      }
      if (const Entry* e = Find(keys, "send_within")) {
        if (auto value = DurationValue(*e)) {
          if (value->count() == 0) {
            Error(e->value, "send_within must be more than 0: no text could ever go out");
          }
          group.send_within = *value;
        }
      }
      if (group.delay >= group.send_within && group.send_within.count() > 0) {
        // Every text would be past its window when it fell due: the group would send nothing,
        // each event decided "would_expire".
        const Entry* e = Find(keys, "send_within");
        if (e == nullptr) e = Find(keys, "delay");
        if (e != nullptr) {
          Error(e->value,
                "send_within must be longer than delay: no text of this group could ever go out "
                "(each event would be decided \"would_expire\")");
        }
      }
      if (const Entry* e = Find(keys, "survey_open_for")) {
        if (auto value = DurationValue(*e)) group.survey_open_for = *value;
      }
      if (const Entry* e = Find(keys, "sampling_percent")) {
        if (auto value = Number(*e)) {
          if (*value < 0 || *value > 100) {
            Error(e->value, "sampling_percent must be between 0 and 100, not " + e->value.Scalar());
          } else {
            group.sampling_percent = *value;
          }
        }
      }
      if (const Entry* e = Find(keys, "templates")) {
        group.templates = ReadTemplates(*e, group);
      } else {
        Error(item, "group '" + group.id + "' has no 'templates' (an 'en' template is required)");
      }
      if (ok) groups.push_back(std::move(group));
    }
    return groups;
  }

  std::vector<std::pair<std::string, std::string>> ReadTemplates(const Entry& entry,
                                                                 const SurveyGroup& group) {
    const std::string& group_id = group.id;
    const bool two_way = group.mode == SurveyGroup::Mode::kTwoWay;
    std::vector<std::pair<std::string, std::string>> templates;
    if (!ExpectMap(entry)) return templates;
    std::set<std::string> seen;
    for (auto it = entry.value.begin(); it != entry.value.end(); ++it) {
      auto language = ScalarText(it->first, "template language");
      if (!language) continue;
      if (!seen.insert(*language).second) {
        Error(it->first, "duplicate template language '" + *language + "'");
        continue;
      }
      const bool code_ok = language->size() >= 2 && language->size() <= 3 &&
                           std::all_of(language->begin(), language->end(),
                                       [](char c) { return c >= 'a' && c <= 'z'; });
      if (!code_ok) {
        Error(it->first,
              "template language must be a lower-case ISO 639-1 code such as en, pl, "
              "cy, not '" +
                  *language + "'");
        continue;
      }
      auto text = ScalarText(it->second, "template '" + *language + "'");
      if (!text) continue;
      if (!CheckTemplate(it->second, *text, two_way)) continue;
      if (options_.link) {
        // A two-way group's first text carries the first question instead of a link.
        const TwoWayTexts* texts = replies_.TwoWay(*language);
        const std::string measured_text =
            two_way && texts ? SmsReplies::FirstText(*text, *texts) : *text;
        const TemplateLength measured = MeasureTemplate(force_name_, group_id, group.name,
                                                        *language, measured_text, *options_.link);
        if (measured.length.segments > 1) {
          Warn(it->second,
               "template " + group_id + "/" + *language + " can take " +
                   std::to_string(measured.length.segments) + " SMS segments (" +
                   std::to_string(measured.length.units) + " " +
                   sms::EncodingName(measured.length.encoding) + " characters, one SMS holds " +
                   std::to_string(measured.length.single_limit()) + "): each text costs " +
                   std::to_string(measured.length.segments) + " messages");
        }
      }
      if (*language == "en") {
        templates.insert(templates.begin(), {*language, *text});
      } else {
        templates.emplace_back(*language, *text);
      }
    }
    if (!seen.count("en")) {
      Error(entry.value.size() ? entry.value : entry.key_node,
            "group '" + group_id + "' has no 'en' template (English is the fallback language)");
    }
    return templates;
  }

  bool CheckTemplate(const YAML::Node& node, const std::string& text, bool two_way) {
    bool ok = true;
    bool has_link = false;
    std::size_t pos = 0;
    while ((pos = text.find('{', pos)) != std::string::npos) {
      const std::size_t close = text.find('}', pos);
      if (close == std::string::npos) {
        Error(node, "unclosed '{' in template");
        return false;
      }
      const std::string name = text.substr(pos + 1, close - pos - 1);
      if (name == "link") {
        has_link = true;
      } else if (std::find(kPlaceholders.begin(), kPlaceholders.end(), name) ==
                 kPlaceholders.end()) {
        Error(node, "unknown placeholder '{" + name + "}'" +
                        Suggest(name, kPlaceholders, "{", "}") + "; known: {" +
                        Join(kPlaceholders) + "}");
        ok = false;
      }
      pos = close + 1;
    }
    if (!has_link && !two_way) {
      Error(node, "template has no {link}: the text would not reach the survey");
      ok = false;
    }
    if (has_link && two_way) {
      Error(node, "a two_way group's template has no {link}: its questions are asked by text");
      ok = false;
    }
    return ok;
  }

  std::vector<Exclusion> ReadExclusions(const Entry& entry,
                                        const std::vector<SurveyGroup>& groups) {
    std::vector<Exclusion> exclusions;
    if (entry.value.IsNull()) return exclusions;
    if (!entry.value.IsSequence()) {
      Error(entry.value, "'exclusions' must be a list of named exclusions");
      return exclusions;
    }
    std::vector<std::string> group_ids;
    for (const SurveyGroup& group : groups) group_ids.push_back(group.id);
    std::map<std::string, int> seen;
    for (const YAML::Node& item : entry.value) {
      if (!item.IsMap()) {
        Error(item, "each exclusion must be a map (id:, qualifiers:, ...)");
        continue;
      }
      const std::size_t errors_before = errors_.size();
      const auto keys = Entries(item,
                                {"id", "description", "match", "groups", "type_codes", "categories",
                                 "grades", "qualifiers", "channels", "roles", "phone_types",
                                 "age_under", "age_over", "consent_declined", "vulnerable"},
                                "exclusion");
      Exclusion exclusion;
      bool ok = true;
      if (const Entry* e = Find(keys, "id")) {
        if (auto id = Identifier(*e)) {
          exclusion.id = *id;
          if (auto [it, fresh] = seen.emplace(*id, e->value.Mark().line + 1); !fresh) {
            Error(e->value, "duplicate exclusion id '" + *id + "' (first defined on line " +
                                std::to_string(it->second) + ")");
          }
        } else {
          ok = false;
        }
      } else {
        Error(item, "exclusion without 'id' (the name the funnel reports)");
        ok = false;
      }
      if (const Entry* e = Find(keys, "description")) {
        if (auto text = String(*e)) exclusion.description = *text;
      }
      const Entry* match = Find(keys, "match");
      if (match) {
        if (auto mode = OneOf(*match, {"all", "any"})) exclusion.match_any = *mode == "any";
      }
      if (const Entry* e = Find(keys, "groups")) {
        ForEachListItem(*e, [&](const YAML::Node& node) {
          auto id = ScalarText(node, "groups");
          if (!id) return;
          if (std::find(group_ids.begin(), group_ids.end(), *id) == group_ids.end()) {
            Error(node, "unknown group '" + *id + "'" + Suggest(*id, group_ids));
            return;
          }
          exclusion.groups.push_back(*id);
        });
      }
      int conditions = 0;
      // A condition with an empty list matches nothing, but a condition left out matches every
      // event: "roles: []" would have excluded everyone, silently.
      auto empty = [&](const Entry& e) {
        if (!e.value.IsSequence() || e.value.size() != 0) return false;
        Error(e.value, "'" + e.key + "' is an empty list, which would exclude every event: name " +
                           "at least one, or remove the line");
        return true;
      };
      if (const Entry* e = Find(keys, "type_codes"); e && !empty(*e)) {
        ++conditions;
        ForEachListItem(*e, [&](const YAML::Node& node) {
          auto pattern = ScalarText(node, "type_codes");
          if (pattern && CheckGlob(node, *pattern)) {
            exclusion.type_codes.emplace_back(*pattern);
            CheckAgainstSampleCodes(node, exclusion.type_codes.back());
          }
        });
      }
      auto list = [&](const char* key, std::vector<std::string>& out,
                      const std::vector<std::string>* known) {
        if (const Entry* e = Find(keys, key); e && !empty(*e)) {
          ++conditions;
          out = known ? KnownList(*e, *known) : StringList(*e);
        }
      };
      list("categories", exclusion.categories, &kCategories);
      list("grades", exclusion.grades, &kGrades);
      list("qualifiers", exclusion.qualifiers, nullptr);  // new flags may appear at any time
      // As an event's flags are read: "SEXUAL-OFFENCE" or "sexual offence" is SEXUAL_OFFENCE.
      for (std::string& q : exclusion.qualifiers) q = FlagKey(q);
      if (const Entry* e = Find(keys, "qualifiers"); e && e->value.IsSequence()) {
        CheckUnknownQualifiers(*e);
      }
      list("channels", exclusion.channels, &kChannels);
      list("roles", exclusion.roles, &kRoles);
      list("phone_types", exclusion.phone_types, &kPhoneTypes);
      if (const Entry* e = Find(keys, "age_under")) {
        ++conditions;
        exclusion.age_under = IntInRange(*e, 0, 150);
      }
      if (const Entry* e = Find(keys, "age_over")) {
        ++conditions;
        exclusion.age_over = IntInRange(*e, 0, 150);
      }
      if (const Entry* e = Find(keys, "consent_declined")) {
        ++conditions;
        exclusion.consent_declined = Bool(*e);
      }
      if (const Entry* e = Find(keys, "vulnerable")) {
        ++conditions;
        exclusion.vulnerable = Bool(*e);
      }
      // A misspelt condition key has been reported already; "no condition" would only repeat it.
      const bool key_errors = errors_.size() != errors_before;
      if (conditions == 0 && !key_errors) {
        Error(item, "exclusion '" + exclusion.id +
                        "' has no condition: it would exclude every event (give e.g. "
                        "qualifiers: or type_codes:)");
      }
      if (conditions == 0) ok = false;
      // Flags and type codes are two ways a log says the same thing: with both and no `match`,
      // an incident would need both (DOMESTIC and DOM-ABUSE), and one flagged but coded
      // otherwise would be texted. Every shipped exclusion says `match: any`.
      if (!match && !exclusion.qualifiers.empty() && !exclusion.type_codes.empty()) {
        Warn(item, "exclusion '" + exclusion.id +
                       "' gives qualifiers and type_codes without 'match': all conditions must "
                       "then hold, so a contact with the flag but another type code is texted "
                       "(write match: any for either)");
      }
      if (const Entry* e = Find(keys, "groups"); e && !exclusion.groups.empty()) {
        Warn(e->value, "exclusion '" + exclusion.id +
                           "' applies to some survey groups only: the others' contacts it "
                           "describes are texted");
      }
      if (ok) exclusions.push_back(std::move(exclusion));
    }
    return exclusions;
  }

  // A flag cannot be both harmless and one an exclusion rules contacts out by, however each is
  // spelled (an exclusion's qualifiers are held as FlagKey has them).
  void CheckHarmlessQualifiers(const std::vector<Exclusion>& exclusions) {
    for (const YAML::Node& item : harmless_items_) {
      const std::string key = FlagKey(item.Scalar());
      for (const Exclusion& exclusion : exclusions) {
        const auto& named = exclusion.qualifiers;
        if (std::find(named.begin(), named.end(), key) != named.end()) {
          Error(item, "qualifier '" + item.Scalar() + "' is in harmless_qualifiers and in " +
                          "exclusion '" + exclusion.id + "': it cannot be both");
          continue;
        }
        // A flag the force writes as an exclusion's type code ("DV", "RAPE") says what that
        // exclusion is about: declared harmless, it is texted, where unknown it would not be.
        for (const Glob& pattern : exclusion.type_codes) {
          if (!pattern.Matches(item.Scalar())) continue;
          Warn(item, "qualifier '" + item.Scalar() + "' is in harmless_qualifiers but reads as " +
                         "exclusion '" + exclusion.id + "' (type code pattern '" +
                         pattern.pattern() + "'): a contact flagged so is texted");
          break;
        }
      }
    }
  }

  // A qualifier the contract does not name is most often a misspelling that would never match:
  // one a letter or two from a contract flag ("DOMESTC") is an error, as the exclusion would
  // stop nothing it was written for; another (a flag the force has started to use) a warning.
  void CheckUnknownQualifiers(const Entry& entry) {
    for (const YAML::Node& item : entry.value) {
      if (!item.IsScalar()) continue;
      const std::string word = FlagKey(item.Scalar());
      const auto& known = KnownQualifiers();
      if (std::find(known.begin(), known.end(), word) != known.end()) continue;
      const std::string suggestion = Suggest(word, known);
      if (!suggestion.empty()) {
        Error(item, "qualifier '" + item.Scalar() + "' is not one the feed contract names" +
                        suggestion + ": as written it would never match");
        continue;
      }
      Warn(item, "qualifier '" + item.Scalar() +
                     "' is not one the feed contract names: check the spelling the force's log "
                     "uses, or it will never match");
    }
  }

  // Against the force's own codes (rules check --sample): a pattern that takes none of them is
  // likely misspelt; one that takes a code only where its letters fall inside a longer word
  // ('*MENTAL*' takes ASB ENVIRONMENTAL, '*HARM*' PHARMACY THEFT) excludes more than it was
  // written for, which nothing else would show until surveys of those contacts stopped.
  void CheckAgainstSampleCodes(const YAML::Node& node, const Glob& glob) {
    if (!options_.sample_type_codes) return;
    const auto& codes = *options_.sample_type_codes;
    const std::string sample =
        options_.sample_name.empty() ? std::string("the sample") : options_.sample_name;
    std::vector<std::string> matched;
    std::copy_if(codes.begin(), codes.end(), std::back_inserter(matched),
                 [&](const std::string& code) { return glob.Matches(code); });
    if (matched.empty()) {
      Warn(node, "type code pattern '" + glob.pattern() + "' matches none of the " +
                     std::to_string(codes.size()) + " codes in " + sample +
                     " (patterns cover the whole code: '*STEM*' matches the stem anywhere)");
      return;
    }
    const std::string stem = LongestLiteral(glob.pattern());
    if (stem.size() < 3) return;
    std::vector<std::string> inside;
    for (const std::string& code : matched) {
      if (OnlyInsideWords(code, stem)) inside.push_back(code);
    }
    if (inside.empty()) return;
    std::string listed;
    for (std::size_t i = 0; i < inside.size() && i < 3; ++i) {
      listed += (i == 0 ? "'" : ", '") + inside[i] + "'";
    }
    if (inside.size() > 3) listed += " and " + std::to_string(inside.size() - 3) + " more";
    Warn(node, "type code pattern '" + glob.pattern() + "' takes " + listed + " of " + sample +
                   ", where " + stem +
                   " is inside a longer word: check that the exclusion is meant for them (a "
                   "pattern takes its letters wherever they fall)");
  }

  // The longest run of a pattern's letters and digits between its wildcards, in upper case: its
  // dashes may be missing from a code ('S-136' takes S136), and are left out as the code's are.
  static std::string LongestLiteral(const std::string& pattern) {
    std::string longest, run;
    for (const char c : pattern + "*") {
      if (c != '*' && c != '?') {
        if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
          run += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        continue;
      }
      if (run.size() > longest.size()) longest = run;
      run.clear();
    }
    return longest;
  }

  // Whether `stem` is found in `code`'s letters and digits (any case) only inside a word, never
  // at the start of one.
  static bool OnlyInsideWords(const std::string& code, const std::string& stem) {
    std::string letters;
    std::vector<bool> starts_word;
    bool after_word = false;
    for (const char c : code) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0) {
        after_word = false;
        continue;
      }
      letters += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      starts_word.push_back(!after_word);
      after_word = true;
    }
    bool found = false;
    for (auto at = letters.find(stem); at != std::string::npos; at = letters.find(stem, at + 1)) {
      if (starts_word[at]) return false;
      found = true;
    }
    return found;
  }

  bool CheckGlob(const YAML::Node& node, const std::string& pattern) {
    if (pattern.empty()) {
      Error(node, "empty type code pattern");
      return false;
    }
    for (char c : pattern) {
      if (std::strchr("[]{}!^\\", c) != nullptr) {
        Error(node, std::string("unsupported character '") + c + "' in type code pattern '" +
                        pattern + "': only * and ? are wildcards");
        return false;
      }
      if (std::isspace(static_cast<unsigned char>(c)) != 0) {
        Error(node, "type code pattern '" + pattern + "' contains a space");
        return false;
      }
    }
    if (pattern.size() > Glob::kMaxLength) {
      Error(node, "type code pattern '" + pattern + "' is longer than " +
                      std::to_string(Glob::kMaxLength) +
                      " characters (the feed contract's type codes are at most 32)");
      return false;
    }
    if (pattern.find_first_not_of('*') == std::string::npos) {
      Error(node, "type code pattern '" + pattern + "' matches every incident");
      return false;
    }
    return true;
  }

  // --- entries and scalars ---

  std::vector<Entry> Entries(const YAML::Node& map, std::initializer_list<const char*> allowed,
                             const std::string& where) {
    std::vector<Entry> entries;
    const std::vector<std::string> known(allowed.begin(), allowed.end());
    for (auto it = map.begin(); it != map.end(); ++it) {
      auto key = ScalarText(it->first, "key");
      if (!key) continue;
      if (std::find(known.begin(), known.end(), *key) == known.end()) {
        Error(it->first, "unknown key '" + *key + "' in " + where + Suggest(*key, known));
        continue;
      }
      if (Find(entries, *key) != nullptr) {
        Error(it->first, "duplicate key '" + *key + "' in " + where);
        continue;
      }
      entries.push_back(Entry{*key, it->first, it->second});
    }
    return entries;
  }

  static const Entry* Find(const std::vector<Entry>& entries, std::string_view key) {
    for (const Entry& entry : entries) {
      if (entry.key == key) return &entry;
    }
    return nullptr;
  }

  // Where to point at a value: the value itself, or its key when the value is empty.
  static const YAML::Node& Place(const Entry& entry) {
    return entry.value.IsNull() ? entry.key_node : entry.value;
  }

  bool ExpectMap(const Entry& entry) {
    if (entry.value.IsMap()) return true;
    Error(Place(entry), "'" + entry.key + "' must be a map of settings");
    return false;
  }

  std::optional<std::string> ScalarText(const YAML::Node& node, const std::string& what) {
    if (node.IsScalar()) return node.Scalar();
    Error(node, what + " must be a single value, not a " +
                    (node.IsMap()        ? "map"
                     : node.IsSequence() ? "list"
                                         : "null"));
    return std::nullopt;
  }

  std::optional<std::string> String(const Entry& entry) {
    if (entry.value.IsScalar()) return entry.value.Scalar();
    Error(Place(entry), "'" + entry.key + "' must be text");
    return std::nullopt;
  }

  std::optional<std::string> Identifier(const Entry& entry) {
    auto text = String(entry);
    if (!text) return std::nullopt;
    const bool ok = !text->empty() && std::all_of(text->begin(), text->end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!ok) {
      Error(entry.value, "id '" + *text + "' must be lower-case letters, digits and _ only");
      return std::nullopt;
    }
    return text;
  }

  std::optional<int> Int(const Entry& entry) {
    // Decimal, as people write numbers: yaml-cpp would read "016" as octal, 14.
    if (entry.value.IsScalar()) {
      if (const auto value = YamlWholeNumber(entry.value.Scalar())) return value;
    }
    Error(Place(entry), "'" + entry.key + "' must be a whole number" +
                            (entry.value.IsScalar() ? ", not '" + entry.value.Scalar() + "'" : ""));
    return std::nullopt;
  }

  std::optional<int> IntInRange(const Entry& entry, int low, int high) {
    auto value = Int(entry);
    if (!value) return std::nullopt;
    if (*value < low || *value > high) {
      Error(entry.value, "'" + entry.key + "' must be between " + std::to_string(low) + " and " +
                             std::to_string(high) + ", not " + std::to_string(*value));
      return std::nullopt;
    }
    return value;
  }

  std::optional<double> Number(const Entry& entry) {
    double value = 0;
    if (entry.value.IsScalar() && YAML::convert<double>::decode(entry.value, value) &&
        std::isfinite(value)) {
      return value;
    }
    Error(Place(entry), "'" + entry.key + "' must be a number" +
                            (entry.value.IsScalar() ? ", not '" + entry.value.Scalar() + "'" : ""));
    return std::nullopt;
  }

  std::optional<bool> Bool(const Entry& entry) {
    bool value = false;
    if (entry.value.IsScalar() && YAML::convert<bool>::decode(entry.value, value)) return value;
    Error(Place(entry), "'" + entry.key + "' must be true or false" +
                            (entry.value.IsScalar() ? ", not '" + entry.value.Scalar() + "'" : ""));
    return std::nullopt;
  }

  std::optional<std::string> OneOf(const Entry& entry, const std::vector<std::string>& choices) {
    auto text = String(entry);
    if (!text) return std::nullopt;
    if (std::find(choices.begin(), choices.end(), *text) != choices.end()) return text;
    Error(entry.value, "'" + entry.key + "' must be one of " + Join(choices) + ", not '" + *text +
                           "'" + Suggest(*text, choices));
    return std::nullopt;
  }

  template <typename Fn>
  void ForEachListItem(const Entry& entry, Fn&& fn) {
    if (!entry.value.IsSequence()) {
      Error(Place(entry), "'" + entry.key + "' must be a list, e.g. [a, b]");
      return;
    }
    for (const YAML::Node& item : entry.value) fn(item);
  }

  std::vector<std::string> StringList(const Entry& entry) {
    std::vector<std::string> out;
    ForEachListItem(entry, [&](const YAML::Node& item) {
      if (auto text = ScalarText(item, "each entry of '" + entry.key + "'")) out.push_back(*text);
    });
    return out;
  }

  // A list whose entries must be values the feed can send (compared ignoring case).
  std::vector<std::string> KnownList(const Entry& entry, const std::vector<std::string>& known) {
    std::vector<std::string> out;
    ForEachListItem(entry, [&](const YAML::Node& item) {
      auto text = ScalarText(item, "each entry of '" + entry.key + "'");
      if (!text) return;
      const bool ok = std::any_of(known.begin(), known.end(), [&](const std::string& k) {
        return ascii::EqualsIgnoreCase(k, *text);
      });
      if (!ok) {
        Error(item, "unknown value '" + *text + "' in " + entry.key + Suggest(*text, known) +
                        "; known: " + Join(known));
        return;
      }
      out.push_back(*text);
    });
    return out;
  }

  // "30s", "2m", "24h", "3d", "1w", or a sum such as "1h30m".
  std::optional<Duration> DurationValue(const Entry& entry) {
    const std::string hint = " (e.g. 30s, 2m, 24h, 3d)";
    if (!entry.value.IsScalar()) {
      Error(Place(entry), "'" + entry.key + "' must be a duration" + hint);
      return std::nullopt;
    }
    const std::string& text = entry.value.Scalar();
    std::chrono::seconds total{0};
    std::size_t i = 0;
    bool any = false;
    while (i < text.size()) {
      std::int64_t number = 0;
      std::size_t digits = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 9) {
        number = number * 10 + (text[i] - '0');
        ++i;
        ++digits;
      }
      if (digits == 0 || i >= text.size()) {
        any = false;
        break;
      }
      std::int64_t unit = 0;
      switch (text[i]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        case 'w':
          unit = 7 * 86400;
          break;
        default:
          break;
      }
      if (unit == 0) {
        any = false;
        break;
      }
      ++i;
      total += std::chrono::seconds(number * unit);
      any = true;
    }
    if (!any) {
      Error(entry.value, "bad duration '" + text + "' for '" + entry.key + "'" + hint);
      return std::nullopt;
    }
    if (total > std::chrono::hours(24 * 366)) {
      Error(entry.value, "duration '" + text + "' for '" + entry.key + "' is over a year");
      return std::nullopt;
    }
    return std::chrono::duration_cast<Duration>(total);
  }

  // "HH:MM", 00:00 to 23:59, local time.
  std::optional<int> TimeOfDay(const Entry& entry) {
    if (entry.value.IsScalar()) {
      const std::string& text = entry.value.Scalar();
      const bool shape = text.size() == 5 && text[2] == ':' &&
                         std::isdigit(static_cast<unsigned char>(text[0])) &&
                         std::isdigit(static_cast<unsigned char>(text[1])) &&
                         std::isdigit(static_cast<unsigned char>(text[3])) &&
                         std::isdigit(static_cast<unsigned char>(text[4]));
      if (shape) {
        const int hour = (text[0] - '0') * 10 + (text[1] - '0');
        const int minute = (text[3] - '0') * 10 + (text[4] - '0');
        if (hour < 24 && minute < 60) return hour * 60 + minute;
      }
      Error(entry.value, "bad time '" + text + "' for '" + entry.key +
                             "': expected HH:MM between 00:00 and 23:59");
      return std::nullopt;
    }
    Error(Place(entry), "'" + entry.key + "' must be a time such as \"21:00\"");
    return std::nullopt;
  }

  RuleError At(const YAML::Node& node, std::string message, bool warning) const {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return RuleError{file_, 0, 0, std::move(message), warning};
    return RuleError{file_, mark.line + 1, mark.column + 1, std::move(message), warning};
  }

  void Error(const YAML::Node& node, std::string message) {
    errors_.push_back(At(node, std::move(message), false));
  }

  void Warn(const YAML::Node& node, std::string message) {
    warnings_.push_back(At(node, std::move(message), true));
  }

  std::string file_;
  const LoadOptions& options_;
  std::string force_name_;
  SmsReplies replies_;  // read before the groups, which measure their first texts with them
  std::vector<YAML::Node> harmless_items_;  // policy.harmless_qualifiers, checked at the end
  std::vector<RuleError> errors_;
  std::vector<RuleError> warnings_;
};

}  // namespace

LoadResult LoadString(std::string_view yaml, const std::string& file_name,
                      const LoadOptions& options) {
  return Loader(file_name, options).Load(yaml);
}

std::optional<RuleError> ReadRulesFile(const std::string& path, std::string& text) {
  // A directory opens, and reads as an empty file: said as what it is.
  if (std::error_code ec; std::filesystem::is_directory(path, ec)) {
    return RuleError{path, 0, 0, "is a directory, not a rules file"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return RuleError{path, 0, 0,
                     std::string("cannot read the rules file: ") + std::strerror(errno)};
  }
  std::ostringstream read;
  read << in.rdbuf();
  text = read.str();
  return std::nullopt;
}

LoadResult LoadFile(const std::string& path, const LoadOptions& options) {
  std::string text;
  if (auto error = ReadRulesFile(path, text)) {
    LoadResult result;
    result.errors.push_back(std::move(*error));
    return result;
  }
  return LoadString(text, path, options);
}

}  // namespace surveyd::rules
