// Fail closed, generated rather than listed: every sensitive flag of the shipped rules (each
// qualifier and each literal stem of each type-code pattern of each exclusion), written the ways a
// command-and-control log writes it, with each field the rules read varied through case,
// surrounding spaces, empty, null and absent, read from real JSON text by the feed's reader. The
// decision is never `survey`: not for the event itself, and not for a clean event whose incident
// or number carries the flag only in another event.
#include <gtest/gtest.h>
#include <cctype>

#include <algorithm>
#include <functional>

#include <nlohmann/json.hpp>

#include "surveyd/core/event_json.hpp"
#include "surveyd/rules/rules.hpp"
#include "unit/rules/rules_test_util.hpp"

namespace surveyd::rules {
namespace {

using nlohmann::json;
using testing::MustLoad;
using testing::SourcePath;

const RuleSet& Shipped() {
  static const auto rules = MustLoad(SourcePath("config/rules.yaml"));
  return *rules;
}

// One sensitive flag: a qualifier, or a type code that a pattern matches.
struct Flag {
  std::string exclusion;
  bool is_qualifier = false;
  std::string value;
};

// A code every pattern matches: its literal characters, '?' as one letter, '*' as nothing.
std::string StemOf(const std::string& pattern) {
  std::string stem;
  for (char c : pattern) {
    if (c == '?') stem += 'X';
    if (c != '*' && c != '?') stem += c;
  }
  return stem;
}

std::vector<Flag> SensitiveFlags(const RuleSet& rules) {
  std::vector<Flag> flags;
  for (const Exclusion& x : rules.exclusions()) {
    for (const std::string& q : x.qualifiers) flags.push_back({x.id, true, q});
    for (const Glob& glob : x.type_codes) {
      const std::string stem = StemOf(glob.pattern());
      EXPECT_TRUE(glob.Matches(stem)) << glob.pattern();
      flags.push_back({x.id, false, stem});
    }
  }
  return flags;
}

// Each character of `value` in its fullwidth form (U+FF01-U+FF5E), as East Asian input types it.
std::string Fullwidth(const std::string& value) {
  std::string out;
  for (char c : value) {
    const unsigned cp = 0xFEE0u + static_cast<unsigned char>(c);
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// The ways a log writes one code: as the rules spell it, lower case, mixed case, with spaces,
// tabs and a no-break space around it, its words joined by '_', ' ', '/', an en dash or a no-break
// space where the rules join them by '-' (or '-' where they write '_'), with a soft hyphen or a
// zero-width space inside its first word, in fullwidth letters, and (a type code: a flag written
// so is one no one names, held otherwise) with its words run together.
std::vector<std::string> Presentations(const std::string& value, bool is_qualifier) {
  std::string lower, mixed, underscored, spaced, slashed, dashed, unbroken, run_together;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    lower += l;
    mixed += i % 2 == 0 ? l : c;
    // Between two letters or digits only: a stem's trailing '-' ("DA-", of "DA-*") stays.
    const bool joins = (c == '-' || c == '_') && i > 0 && i + 1 < value.size() &&
                       std::isalnum(static_cast<unsigned char>(value[i - 1])) != 0 &&
                       std::isalnum(static_cast<unsigned char>(value[i + 1])) != 0;
    underscored += !joins ? c : c == '-' ? '_' : '-';
    spaced += joins ? std::string(" ") : std::string(1, c);
    slashed += joins ? '/' : c;
    dashed += joins ? std::string("\xE2\x80\x93") : std::string(1, c);
    unbroken += joins ? std::string("\xC2\xA0") : std::string(1, c);
    if (!joins) run_together += c;
  }
  const std::string soft_hyphened = value.substr(0, 1) + "\xC2\xAD" + value.substr(1);
  const std::string zero_width = value.substr(0, 1) + "\xE2\x80\x8B" + value.substr(1);
  std::vector<std::string> out = {value,
                                  lower,
                                  " " + value + " ",
                                  "\t" + lower + "\r\n",
                                  "\xC2\xA0" + mixed,
                                  mixed,
                                  underscored,
                                  spaced,
                                  slashed,
                                  dashed,
                                  unbroken,
                                  soft_hyphened,
                                  zero_width,
                                  Fullwidth(value)};
  if (!is_qualifier) out.push_back(run_together);
  return out;
}

// A contact every group would text: a clean call, an officer's visit or a closure.
json Base(EventType type, const std::string& event_id) {
  json j = {{"event_id", event_id},
            {"type", EventTypeName(type)},
            {"occurred_at", "2026-11-26T10:00:00Z"},
            {"incident",
             {{"id", "WMP-20261126-0417"},
              {"type_code", "BURG-RES"},
              {"category", "crime"},
              {"grade", "P3"},
              {"qualifiers", {"REPEAT_VICTIM"}}}},
            {"caller",
             {{"phone", "+447700900123"},
              {"phone_type", "mobile"},
              {"role", "victim"},
              {"age", 41},
              {"language", "en"},
              {"vulnerable", false},
              {"survey_consent", "unknown"}}}};
  if (type == EventType::kCallEnded) j["call"] = {{"id", "C-1"}, {"channel", "101"}};
  if (type == EventType::kResourceDeparted) j["resource"] = {{"officer_id", "PC1"}};
  return j;
}

void PutFlag(json& j, const Flag& flag, const std::string& presented) {
  if (flag.is_qualifier) {
    j["incident"]["qualifiers"] = {"REPEAT_VICTIM", presented};
  } else {
    j["incident"]["type_code"] = presented;
  }
}

// One way of writing one field the rules read.
struct Variant {
  std::string name;
  std::function<void(json&)> apply;
};

std::string Upper(std::string s) {
  for (char& c : s) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return s;
}
std::string Lower(std::string s) {
  for (char& c : s) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return s;
}

// Case, surrounding spaces, empty, null and absent for every field the rules read, but the one
// that carries the flag (`flag_field`, which Presentations() varies).
std::vector<Variant> FieldVariants(const std::string& flag_field) {
  struct Field {
    const char* object;
    const char* key;
  };
  const Field fields[] = {
      {"incident", "type_code"},    {"incident", "category"},
      {"incident", "grade"},        {"call", "channel"},
      {"caller", "role"},           {"caller", "phone_type"},
      {"caller", "survey_consent"}, {"caller", "language"},
      {"caller", "phone"},          {"caller", "age"},
      {"caller", "vulnerable"},     {"incident", "qualifiers"},
  };
  std::vector<Variant> variants = {{"nothing varied", [](json&) {}}};
  for (const Field& f : fields) {
    if (f.key == flag_field) continue;
    const std::string object = f.object, key = f.key, name = object + "." + key;
    auto at = [object, key](json& j) -> json* {
      if (!j.contains(object) || !j[object].is_object()) return nullptr;
      return &j[object][key];
    };
    auto text = [at](std::function<std::string(const std::string&)> change) {
      return [at, change](json& j) {
        json* v = at(j);
        if (v == nullptr) return;
        if (v->is_string()) *v = change(v->get<std::string>());
        if (v->is_number()) *v = change(v->dump());  // ages given as text
        if (v->is_boolean()) *v = change(v->get<bool>() ? "true" : "false");
        if (v->is_array()) {
          for (json& entry : *v) entry = change(entry.get<std::string>());
        }
      };
    };
    variants.push_back({name + " upper case", text(Upper)});
    variants.push_back({name + " lower case", text(Lower)});
    variants.push_back(
        {name + " in spaces", text([](const std::string& s) { return " " + s + "\t"; })});
    variants.push_back({name + " empty", [at](json& j) {
                          if (json* v = at(j)) *v = v->is_array() ? json::array({""}) : json("");
                        }});
    variants.push_back({name + " null", [at](json& j) {
                          if (json* v = at(j)) *v = nullptr;
                        }});
    variants.push_back({name + " absent", [object, key](json& j) {
                          if (j.contains(object) && j[object].is_object()) j[object].erase(key);
                        }});
    if (key == "qualifiers") {
      variants.push_back({name + " []", [at](json& j) { *at(j) = json::array(); }});
      variants.push_back({name + " [null]", [at](json& j) { *at(j) = json::array({nullptr}); }});
    }
  }
  variants.push_back({"caller null", [](json& j) { j["caller"] = nullptr; }});
  variants.push_back({"caller absent", [](json& j) { j.erase("caller"); }});
  return variants;
}

// Reads the event as the feed does: from text.
Event Read(const json& j) {
  const EventReadResult read = EventFromJson(json::parse(j.dump()));
  EXPECT_TRUE(read.event.has_value()) << read.reject_reason << ": " << j.dump();
  return read.event.value_or(Event{});
}

const EventType kTypes[] = {EventType::kCallEnded, EventType::kResourceDeparted,
                            EventType::kIncidentClosed};

TEST(FailClosedPropertyTest, TheCleanBaseEventsAreTextedSoThePropertyMeansSomething) {
  for (EventType type : kTypes) {
    const Event event = Read(Base(type, "E-1"));
    const Decision d = Decide(Shipped(), event, {}, event.occurred_at + std::chrono::seconds(5));
    EXPECT_EQ(d.outcome, Decision::Outcome::kSurvey) << EventTypeName(type) << ": " << d.reason;
  }
}

TEST(FailClosedPropertyTest, AFlaggedEventIsNeverTextedHoweverItsFieldsAreWritten) {
  const auto flags = SensitiveFlags(Shipped());
  ASSERT_GE(flags.size(), 50u);
  int decisions = 0;
  for (EventType type : kTypes) {
    for (const Flag& flag : flags) {
      const auto presentations = Presentations(flag.value, flag.is_qualifier);
      const auto variants = FieldVariants(flag.is_qualifier ? "qualifiers" : "type_code");
      for (std::size_t i = 0; i < variants.size() + presentations.size(); ++i) {
        const std::string& presented = presentations[i % presentations.size()];
        const Variant& variant = variants[i % variants.size()];
        json j = Base(type, "E-1");
        PutFlag(j, flag, presented);
        variant.apply(j);
        const Event event = Read(j);
        const Decision d =
            Decide(Shipped(), event, {}, event.occurred_at + std::chrono::seconds(5));
        ++decisions;
        ASSERT_NE(d.outcome, Decision::Outcome::kSurvey)
            << flag.exclusion << " '" << presented << "', " << variant.name << ", "
            << EventTypeName(type) << "\n"
            << ExplainText(d);
        // The flag is seen: its exclusion is in the trace, unless the event took no survey
        // group at all (a call without its channel). The reason is the first rule that said no:
        // an exclusion, or missing data for an exclusion earlier in the file.
        if (d.outcome == Decision::Outcome::kExcluded) {
          EXPECT_TRUE(d.reason.rfind("exclusion:", 0) == 0 || d.reason == "insufficient_data")
              << flag.exclusion << " '" << presented << "', " << variant.name << ": " << d.reason;
          EXPECT_NE(std::find(d.trace.begin(), d.trace.end(), "exclusion:" + flag.exclusion),
                    d.trace.end())
              << flag.exclusion << " '" << presented << "', " << variant.name << "\n"
              << ExplainText(d);
        }
      }
    }
  }
  EXPECT_GT(decisions, 10000);
}

TEST(FailClosedPropertyTest, WithoutItsFlagFieldAnEventIsNotTexted) {
  // The issue's first case, and its kin: the field that would carry the flag is empty, blank,
  // null, absent, or a list that cannot be read whole.
  for (EventType type : kTypes) {
    for (const char* field : {"type_code", "qualifiers"}) {
      for (const json& value :
           {json(""), json("  "), json(nullptr), json("\xC2\xA0"), json("-"), json("N/A"),
            json("\xE2\x80\x8D"), json::array({"REPEAT_VICTIM", ""}), json::array({nullptr}),
            json::array({"REPEAT_VICTIM", 7})}) {
        if (std::string(field) == "type_code" && value.is_array()) continue;
        // A code that names nothing; a flag list written so is not a list, and is rejected.
        const bool names_nothing =
            value == json("-") || value == json("N/A") || value == json("\xE2\x80\x8D");
        if (std::string(field) == "qualifiers" && names_nothing) continue;
        for (bool erase : {false, true}) {
          json j = Base(type, "E-1");
          j["incident"][field] = value;
          if (erase) j["incident"].erase(field);
          const Event event = Read(j);
          const Decision d =
              Decide(Shipped(), event, {}, event.occurred_at + std::chrono::seconds(5));
          EXPECT_EQ(d.outcome, Decision::Outcome::kExcluded) << field << " = " << value.dump();
          EXPECT_EQ(d.reason, "insufficient_data") << field << " = " << value.dump();
        }
      }
    }
  }
}

// The flag arrives only in another event: of the same incident (any type, 30 s later, another
// caller) or of the same number (another incident, three days earlier).
void ExpectRelatedFlagExcludes(bool same_incident) {
  const auto flags = SensitiveFlags(Shipped());
  int decisions = 0;
  for (EventType type : kTypes) {
    const Event clean = Read(Base(type, "E-1"));
    const TimePoint now = clean.occurred_at + std::chrono::seconds(5);
    for (const Flag& flag : flags) {
      const auto presentations = Presentations(flag.value, flag.is_qualifier);
      const auto variants = FieldVariants(flag.is_qualifier ? "qualifiers" : "type_code");
      for (std::size_t i = 0; i < variants.size() + presentations.size(); ++i) {
        const std::string& presented = presentations[i % presentations.size()];
        const Variant& variant = variants[i % variants.size()];
        // The related event is of another type than the decided one, as the officer's
        // resource.departed after a clean call.
        const EventType other_type = kTypes[(static_cast<int>(type) + 1) % 3];
        json j = Base(other_type, "R-1");
        if (same_incident) {
          j["occurred_at"] = "2026-11-26T10:00:30Z";
          j["caller"]["phone"] = "+447700900456";
        } else {
          j["occurred_at"] = "2026-11-23T10:00:00Z";
          j["incident"]["id"] = "WMP-20261123-0051";
        }
        PutFlag(j, flag, presented);
        variant.apply(j);
        RelatedEvents related;
        (same_incident ? related.same_incident : related.same_number).push_back(Read(j));
        const Decision d = Decide(Shipped(), clean, {}, related, now);
        ++decisions;
        ASSERT_NE(d.outcome, Decision::Outcome::kSurvey)
            << flag.exclusion << " '" << presented << "', " << variant.name << ", "
            << EventTypeName(type) << "\n"
            << ExplainText(d);
        EXPECT_EQ(d.reason.rfind("exclusion:", 0), 0u) << d.reason;
        // The store reads a related event back only if its screen says it could rule out, and
        // of a number's, the newest for each rule it names: the screen must name this one.
        const Event& other = same_incident ? related.same_incident[0] : related.same_number[0];
        EXPECT_TRUE(MayRuleOutOthers(Shipped(), other))
            << flag.exclusion << " '" << presented << "', " << variant.name;
        const std::vector<std::string> findings = RuleOutFindings(Shipped(), other);
        EXPECT_NE(std::find(findings.begin(), findings.end(), "exclusion:" + flag.exclusion),
                  findings.end())
            << flag.exclusion << " '" << presented << "', " << variant.name;
        const std::string where = same_incident ? "@incident:R-1" : "@number:R-1";
        EXPECT_TRUE(std::any_of(
            d.trace.begin(), d.trace.end(),
            [&](const std::string& rule) { return rule == "exclusion:" + flag.exclusion + where; }))
            << flag.exclusion << " '" << presented << "', " << variant.name << "\n"
            << ExplainText(d);
      }
    }
  }
  EXPECT_GT(decisions, 10000);
}

TEST(FailClosedPropertyTest, AFlagInALaterEventOfTheIncidentStopsTheText) {
  ExpectRelatedFlagExcludes(true);
}

TEST(FailClosedPropertyTest, AFlagInAnotherIncidentOfTheNumberStopsTheText) {
  ExpectRelatedFlagExcludes(false);
}

// The screen of stored events (EventScreen) skips a number's event only when Decide could find
// nothing on it: whatever Decide finds on another event of the number, the screen finds too.
TEST(FailClosedPropertyTest, TheScreenFindsWhateverDecideFindsOnAnotherEventOfTheNumber) {
  std::vector<Variant> variants = FieldVariants("");
  variants.push_back({"caller aged 12", [](json& j) { j["caller"]["age"] = 12; }});
  variants.push_back({"caller vulnerable", [](json& j) { j["caller"]["vulnerable"] = true; }});
  variants.push_back(
      {"consent declined", [](json& j) { j["caller"]["survey_consent"] = "declined"; }});
  int found = 0;
  for (EventType type : kTypes) {
    const Event clean = Read(Base(type, "E-1"));
    const TimePoint now = clean.occurred_at + std::chrono::seconds(5);
    for (EventType other_type : kTypes) {
      json base = Base(other_type, "R-1");
      base["occurred_at"] = "2026-11-23T10:00:00Z";
      base["incident"]["id"] = "WMP-20261123-0051";
      EXPECT_FALSE(MayRuleOutOthers(Shipped(), Read(base))) << "a clean event rules nothing out";
      for (const Variant& variant : variants) {
        json j = base;
        variant.apply(j);
        RelatedEvents related;
        related.same_number.push_back(Read(j));
        const Decision d = Decide(Shipped(), clean, {}, related, now);
        const bool decide_found = std::any_of(
            d.trace.begin(), d.trace.end(),
            [](const std::string& rule) { return rule.find("@number:R-1") != std::string::npos; });
        found += decide_found ? 1 : 0;
        if (decide_found) {
          EXPECT_TRUE(MayRuleOutOthers(Shipped(), related.same_number[0])) << variant.name << "\n"
                                                                           << ExplainText(d);
        }
        // And it names every rule Decide finds there: the store reads the newest event for each
        // name, so a rule it did not name could be lost with an older event.
        const std::vector<std::string> findings =
            RuleOutFindings(Shipped(), related.same_number[0]);
        for (const std::string& rule : d.trace) {
          const std::size_t at = rule.find("@number:R-1");
          if (at == std::string::npos) continue;
          EXPECT_NE(std::find(findings.begin(), findings.end(), rule.substr(0, at)), findings.end())
              << rule << " not among the screen's findings, " << variant.name;
        }
        // Given by those findings alone (ScreenedEvent), as the store gives a number's events
        // screened under these rules, it decides the same, to the trace.
        RelatedEvents screened;
        screened.same_number_screened.push_back(
            {"R-1", related.same_number[0].occurred_at, findings});
        const Decision by_findings = Decide(Shipped(), clean, {}, screened, now);
        EXPECT_EQ(by_findings.reason, d.reason) << variant.name;
        EXPECT_EQ(by_findings.trace, d.trace) << variant.name;
      }
    }
  }
  EXPECT_GE(found, 9) << "the caller checks, at least, find something";
}

// A number's events given whole and by their findings are taken in one order, by time then id,
// whichever form each came in: the trace does not depend on which the store could give.
TEST(FailClosedPropertyTest, ANumbersEventsWholeAndScreenedAreTracedInTheOrderTheyHappened) {
  const Event clean = Read(Base(EventType::kCallEnded, "E-1"));
  const TimePoint now = clean.occurred_at + std::chrono::seconds(5);
  auto vulnerable = [](const std::string& id, const std::string& at) {
    json j = Base(EventType::kCallEnded, id);
    j["occurred_at"] = at;
    j["incident"]["id"] = "WMP-" + id;
    j["caller"]["vulnerable"] = true;
    return Read(j);
  };
  const Event r1 = vulnerable("R-1", "2026-11-23T10:00:00Z");
  const Event r3 = vulnerable("R-3", "2026-11-23T12:00:00Z");
  const Event r2 = vulnerable("R-2", "2026-11-23T11:00:00Z");
  RelatedEvents whole;
  whole.same_number = {r1, r2, r3};
  RelatedEvents mixed;
  mixed.same_number = {r1, r3};
  mixed.same_number_screened.push_back({"R-2", r2.occurred_at, RuleOutFindings(Shipped(), r2)});
  const Decision d = Decide(Shipped(), clean, {}, whole, now);
  EXPECT_EQ(d.trace, (std::vector<std::string>{"group:force_contact", "vulnerable@number:R-1",
                                               "vulnerable@number:R-2", "vulnerable@number:R-3"}));
  EXPECT_EQ(Decide(Shipped(), clean, {}, mixed, now).trace, d.trace);
}

// What was seen when the issue was filed, exactly.
TEST(FailClosedPropertyTest, TheCasesOfTheIssue) {
  json empty = Base(EventType::kCallEnded, "E-1");
  empty["incident"]["type_code"] = "";
  Event event = Read(empty);
  const TimePoint now = event.occurred_at + std::chrono::seconds(5);
  EXPECT_EQ(Decide(Shipped(), event, {}, now).reason, "insufficient_data");

  json spaced = Base(EventType::kCallEnded, "E-1");
  spaced["incident"]["type_code"] = " DOM-ABUSE";
  EXPECT_EQ(Decide(Shipped(), Read(spaced), {}, now).reason, "exclusion:domestic_abuse");

  json later = Base(EventType::kResourceDeparted, "E-2");
  later["occurred_at"] = "2026-11-26T10:00:30Z";
  later["incident"]["qualifiers"] = {"DOMESTIC"};
  RelatedEvents related;
  related.same_incident.push_back(Read(later));
  const Decision d = Decide(Shipped(), Read(Base(EventType::kCallEnded, "E-1")), {}, related, now);
  EXPECT_EQ(d.reason, "exclusion:domestic_abuse");
  EXPECT_EQ(d.trace, (std::vector<std::string>{"group:force_contact",
                                               "exclusion:domestic_abuse@incident:E-2"}));
}

}  // namespace
}  // namespace surveyd::rules
