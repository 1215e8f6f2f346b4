#include <gtest/gtest.h>

#include "surveyd/core/phone.hpp"
#include "surveyd/rules/rules.hpp"
#include "unit/rules/rules_test_util.hpp"

namespace surveyd::rules {
namespace {

using testing::At;
using testing::BaselineEvent;
using testing::MustLoad;
using testing::SourcePath;

std::shared_ptr<const RuleSet> Shipped() {
  static const auto rules = MustLoad(SourcePath("config/rules.yaml"));
  return rules;
}

Decision DecideNow(const RuleSet& rules, const Event& event, ContactHistory history = {}) {
  return Decide(rules, event, history, event.occurred_at + std::chrono::seconds(5));
}

TEST(RulesDecideTest, EverySensitiveQualifierExcludesInEveryGroup) {
  const auto rules = Shipped();
  ASSERT_TRUE(rules);
  // Every qualifier the contract and the shipped policy know, but the two that are surveyed.
  std::vector<std::string> sensitive;
  for (const std::string& q : KnownQualifiers()) {
    if (q != "REPEAT_VICTIM" && q != "HATE") sensitive.push_back(q);
  }
  ASSERT_EQ(sensitive.size(), 19u);
  for (EventType type :
       {EventType::kCallEnded, EventType::kResourceDeparted, EventType::kIncidentClosed}) {
    for (const std::string& qualifier : sensitive) {
      Event event = BaselineEvent();
      event.type = type;
      event.incident.qualifiers = std::vector<std::string>{"REPEAT_VICTIM", qualifier};
      const Decision d = DecideNow(*rules, event);
      EXPECT_EQ(d.outcome, Decision::Outcome::kExcluded) << qualifier << " " << EventTypeName(type);
      EXPECT_EQ(d.reason.rfind("exclusion:", 0), 0u) << qualifier << ": " << d.reason;
    }
    Event plain = BaselineEvent();
    plain.type = type;
    EXPECT_EQ(DecideNow(*rules, plain).outcome, Decision::Outcome::kSurvey) << EventTypeName(type);
  }
}

std::shared_ptr<const RuleSet> WithSampling(const std::string& percent) {
  const LoadResult result = LoadString(
      "force_name: Test\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, sampling_percent: " +
          percent + ", templates: {en: \"{link}\"}}\n",
      "sampling.yaml");
  for (const RuleError& e : result.errors) ADD_FAILURE() << e.ToString();
  return result.rules;
}

int CountSampled(const RuleSet& rules, int events) {
  int sampled = 0;
  Event event = BaselineEvent();
  for (int i = 0; i < events; ++i) {
    event.event_id = "CW-20261126-" + std::to_string(1000000 + i) + "-CE";
    const Decision d = DecideNow(rules, event);
    if (d.outcome == Decision::Outcome::kSurvey) {
      ++sampled;
    } else {
      EXPECT_EQ(d.reason, "not_sampled");
    }
  }
  return sampled;
}

TEST(RulesSamplingTest, RoughlyProportional) {
  EXPECT_EQ(CountSampled(*WithSampling("100"), 2000), 2000);
  EXPECT_EQ(CountSampled(*WithSampling("0"), 2000), 0);
  const int half = CountSampled(*WithSampling("50"), 10000);
  EXPECT_GT(half, 4700);
  EXPECT_LT(half, 5300);
  const int tenth = CountSampled(*WithSampling("10"), 10000);
  EXPECT_GT(tenth, 850);
  EXPECT_LT(tenth, 1150);
  const int fraction = CountSampled(*WithSampling("2.5"), 20000);
  EXPECT_GT(fraction, 380);
  EXPECT_LT(fraction, 620);
}

TEST(RulesSamplingTest, DeterministicByEventIdAndNotByTime) {
  const auto rules = WithSampling("50");
  Event event = BaselineEvent();
  int differ = 0;
  for (int i = 0; i < 500; ++i) {
    event.event_id = "E-" + std::to_string(i);
    const Decision first = DecideNow(*rules, event);
    // A replay a day later, of a copy of the event, decides the same.
    Event replay = event;
    const Decision again = Decide(*rules, replay, {}, event.occurred_at + std::chrono::minutes(3));
    EXPECT_EQ(first.outcome, again.outcome) << event.event_id;
    if (first.outcome != DecideNow(*rules, BaselineEvent()).outcome) ++differ;
  }
  EXPECT_GT(differ, 0);  // the decision really depends on the id
}

TEST(RulesQuietHoursTest, NextSendWindowAcrossSeasonsAndDstChanges) {
  const auto rules = Shipped();
  ASSERT_TRUE(rules);
  struct Row {
    const char* at;
    const char* expected;
  };
  const std::vector<Row> rows = {
      // Winter (GMT): local == UTC.
      {"2026-11-26T12:00:00Z", "2026-11-26T12:00:00Z"},
      {"2026-11-26T20:59:59Z", "2026-11-26T20:59:59Z"},
      {"2026-11-26T21:00:00Z", "2026-11-27T09:00:00Z"},
      {"2026-11-26T23:59:59Z", "2026-11-27T09:00:00Z"},
      {"2026-11-27T00:00:00Z", "2026-11-27T09:00:00Z"},
      {"2026-11-27T08:59:59Z", "2026-11-27T09:00:00Z"},
      {"2026-11-27T09:00:00Z", "2026-11-27T09:00:00Z"},
      // Summer (BST = UTC+1): 21:00 local is 20:00Z, 09:00 local is 08:00Z.
      {"2026-07-15T19:59:59Z", "2026-07-15T19:59:59Z"},
      {"2026-07-15T20:00:00Z", "2026-07-16T08:00:00Z"},
      {"2026-07-16T07:59:59Z", "2026-07-16T08:00:00Z"},
      {"2026-07-16T08:00:00Z", "2026-07-16T08:00:00Z"},
      // Night of 28/29 March 2026: clocks go forward at 01:00Z; the quiet period starts in GMT
      // and ends at 09:00 BST.
      {"2026-03-28T20:59:00Z", "2026-03-28T20:59:00Z"},
      {"2026-03-28T21:00:00Z", "2026-03-29T08:00:00Z"},
      {"2026-03-29T00:59:59Z", "2026-03-29T08:00:00Z"},
      {"2026-03-29T01:00:00Z", "2026-03-29T08:00:00Z"},
      {"2026-03-29T07:59:59Z", "2026-03-29T08:00:00Z"},
      {"2026-03-29T08:00:00Z", "2026-03-29T08:00:00Z"},
      // Night of 24/25 October 2026: clocks go back at 01:00Z; starts at 21:00 BST (20:00Z) and
      // ends at 09:00 GMT (09:00Z), through the repeated hour.
      {"2026-10-24T19:59:59Z", "2026-10-24T19:59:59Z"},
      {"2026-10-24T20:00:00Z", "2026-10-25T09:00:00Z"},
      {"2026-10-25T00:30:00Z", "2026-10-25T09:00:00Z"},
      {"2026-10-25T01:30:00Z", "2026-10-25T09:00:00Z"},
      {"2026-10-25T08:59:59Z", "2026-10-25T09:00:00Z"},
      {"2026-10-25T09:00:00Z", "2026-10-25T09:00:00Z"},
      // The evening after the change is GMT: 21:00Z.
      {"2026-10-25T20:59:59Z", "2026-10-25T20:59:59Z"},
      {"2026-10-25T21:00:00Z", "2026-10-26T09:00:00Z"},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(FormatRfc3339(NextSendWindow(*rules, At(row.at))), FormatRfc3339(At(row.expected)))
        << row.at;
  }
}

TEST(RulesQuietHoursTest, WindowThatDoesNotWrapMidnight) {
  const LoadResult result = LoadString(
      "force_name: Test\n"
      "quiet_hours: {start: \"00:00\", end: \"07:30\"}\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n",
      "q.yaml");
  ASSERT_TRUE(result.rules);
  const RuleSet& rules = *result.rules;
  EXPECT_EQ(rules.quiet_hours().ToString(), "00:00-07:30");
  EXPECT_EQ(NextSendWindow(rules, At("2026-11-26T23:59:00Z")), At("2026-11-26T23:59:00Z"));
  EXPECT_EQ(NextSendWindow(rules, At("2026-11-27T00:00:00Z")), At("2026-11-27T07:30:00Z"));
  EXPECT_EQ(NextSendWindow(rules, At("2026-07-01T05:00:00Z")), At("2026-07-01T06:30:00Z"));
  EXPECT_EQ(NextSendWindow(rules, At("2026-11-27T07:30:00Z")), At("2026-11-27T07:30:00Z"));
}

TEST(RulesQuietHoursTest, AWindowEndingInTheHourTheClocksGoBackEndsWhenTheClockSaysSo) {
  // 23:00-01:30 on 25 October 2026: 01:30 comes twice, at 00:30Z (BST) and 01:30Z (GMT). At 01:10
  // GMT the clock reads quiet hours; the text went at once, the first 01:30 being past.
  const LoadResult result = LoadString(
      "force_name: Test\n"
      "quiet_hours: {start: \"23:00\", end: \"01:30\"}\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n",
      "q.yaml");
  ASSERT_TRUE(result.rules);
  const RuleSet& rules = *result.rules;
  EXPECT_EQ(NextSendWindow(rules, At("2026-10-25T00:10:00Z")), At("2026-10-25T00:30:00Z"));
  EXPECT_EQ(NextSendWindow(rules, At("2026-10-25T01:10:00Z")), At("2026-10-25T01:30:00Z"));
  EXPECT_EQ(NextSendWindow(rules, At("2026-10-25T01:30:00Z")), At("2026-10-25T01:30:00Z"));
  EXPECT_EQ(NextSendWindow(rules, At("2026-10-25T00:40:00Z")), At("2026-10-25T00:40:00Z"))
      << "01:40 BST is past the end, though 01:30 comes again";
  // The spring change: 01:00-02:00 does not exist; an end at 01:30 falls in it.
  EXPECT_LE(NextSendWindow(rules, At("2026-03-29T00:59:00Z")), At("2026-03-29T01:30:00Z"));
}

// (A window that starts when it ends is refused when the rules load: RulesLoadTest.)
TEST(RulesQuietHoursTest, DisabledNeverDefers) {
  for (const char* quiet : {"{start: \"21:00\", end: \"09:00\", enabled: false}",
                            "{start: \"09:00\", end: \"09:00\", enabled: false}"}) {
    const LoadResult result = LoadString(std::string("force_name: Test\nquiet_hours: ") + quiet +
                                             "\ngroups:\n  - {id: c, name: C, trigger: "
                                             "call.ended, templates: {en: \"{link}\"}}\n",
                                         "q.yaml");
    ASSERT_TRUE(result.rules) << quiet;
    EXPECT_EQ(NextSendWindow(*result.rules, At("2026-11-26T23:00:00Z")),
              At("2026-11-26T23:00:00Z"));
  }
}

TEST(RulesGlobTest, Matching) {
  struct Row {
    const char* pattern;
    const char* text;
    bool matches;
  };
  const std::vector<Row> rows = {
      {"DOM*", "DOM", true},
      {"DOM*", "DOM-ASSAULT", true},
      {"DOM*", "dom-assault", true},
      {"DOM*", "XDOM", false},
      {"DOM*", "DO", false},
      {"*DOM", "ASSAULT-DOM", true},
      {"*DOM*", "A-DOM-B", true},
      {"*DOM*", "A-DO-M", false},
      {"SEX-?", "SEX-1", true},
      {"SEX-?", "SEX-12", false},
      {"SEX-?", "SEX-", false},
      {"BURG-RES", "BURG-RES", true},
      {"BURG-RES", "burg-res", true},
      {"BURG-RES", "BURG-RESX", false},
      {"A*B*C", "AXXBYYC", true},
      {"A*B*C", "AXXBYY", false},
      {"A*B*C", "ABCBC", true},
      {"??", "AB", true},
      {"??", "A", false},
      {"*-RES", "BURG-COM-RES", true},
      // Words separated otherwise than by '-' (the contract's codes are free text).
      {"SELF-HARM", "SELF_HARM", true},
      {"SELF-HARM", "self harm", true},
      {"SELF-HARM", " SELF--HARM ", true},
      {"DA-*", "DA/ASSAULT", true},
      {"*THREAT-TO-LIFE*", "THREAT_TO_LIFE", true},
      {"SEX-?", "SEX_1", true},
      {"SELF_HARM", "SELF-HARM", true},
      {"SEX-?", "SEX_", false},
      // Unicode's dashes and wide spaces separate words, invisible characters are dropped,
      // fullwidth letters are letters.
      {"DA-*", "DA\u2013ASSAULT", true},
      {"SELF-HARM", "SELF\u00A0HARM", true},
      {"SELF-HARM", "SELF\u3000HARM", true},
      {"CT-*", "CT\u2212ARREST", true},
      {"*MURDER*", "MURD\u200DER", true},
      {"*DOMESTIC*", "DOM\u00ADESTIC", true},
      {"*DOMESTIC*", "\uFF24\uFF2F\uFF2D\uFF25\uFF33\uFF34\uFF29\uFF23", true},
      {"*DOMESTIC*", "DOM\u0395STIC", false},  // a Greek E: Decide holds it as unreadable
      // A '-' between two letters of a pattern may be missing from the code; one next to a
      // wildcard or at an end may not, and a code's own separators are never skipped.
      {"BURG-RES", "BURGRES", true},
      {"*SELF-HARM*", "SELFHARM", true},
      {"RTC-KSI*", "RTCKSI", true},
      {"*S-136*", "S 136", true},
      {"*S-136*", "MH-S136", true},
      {"DA-*", "DAMAGE", false},
      {"DA-*", "DA", false},
      {"*-RES", "BURGRES", false},
      {"SEX-?", "SEX1", false},
      {"*S136*", "S-136", false},
      {"A-B-C", "ABC", true},
      {"A-B-C", "A-BC", true},
      {"A-B-C", "AB-C-", false},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(Glob(row.pattern).Matches(row.text), row.matches) << row.pattern << " ~ " << row.text;
  }
  // Longer than the loader allows: cut to its first 62 characters and '*', so it takes more.
  const std::string word = "ABCDEFG-";
  std::string long_pattern;
  for (int i = 0; i < 9; ++i) long_pattern += word;
  const Glob cut(long_pattern);
  EXPECT_TRUE(cut.Matches(long_pattern));
  EXPECT_TRUE(cut.Matches(long_pattern.substr(0, 62) + "XYZ"));
  EXPECT_FALSE(cut.Matches(long_pattern.substr(0, 61)));
}

TEST(RulesTemplateTest, RenderReplacesKnownAndKeepsUnknown) {
  EXPECT_EQ(RenderTemplate("{force}: {link} {x} {force}", {{"force", "WMP"}}),
            "WMP: {link} {x} WMP");
  EXPECT_EQ(RenderTemplate("{link}", {{"link", "https://s/abc"}}), "https://s/abc");
  EXPECT_EQ(RenderTemplate("no placeholders", {{"link", "x"}}), "no placeholders");
  EXPECT_EQ(RenderTemplate("open { brace", {{"link", "x"}}), "open { brace");
  EXPECT_EQ(RenderTemplate("", {}), "");
}

TEST(RulesTemplateTest, ShippedTextsFitOneSmsWithTheLongestValues) {
  const auto rules = Shipped();
  ASSERT_TRUE(rules);
  // A 40-character base URL (what `rules check` assumes without a configuration) + "/s/" + token.
  const std::string link = "https://surveys.example-forces.police.uk/s/AbCdEfGhIjKlMnOpQrStUv";
  ASSERT_EQ(link.size(), 65u);
  const auto measured = MeasureTemplates(*rules, link);
  ASSERT_EQ(measured.size(), 9u);  // 3 groups x en, pl, cy
  for (const TemplateLength& t : measured) {
    EXPECT_EQ(t.length.encoding, sms::Encoding::kGsm7) << t.group << "/" << t.language;
    EXPECT_EQ(t.length.segments, 1) << t.group << "/" << t.language << ": " << t.text;
    EXPECT_NE(t.text.find(link), std::string::npos) << t.text;
  }
}

TEST(RulesExplainTest, ShowsDecisionRulesAndTimesButNotTheNumber) {
  const auto rules = Shipped();
  ASSERT_TRUE(rules);
  Event event = BaselineEvent();
  event.occurred_at = At("2026-07-15T20:30:00Z");
  const Decision d = Decide(*rules, event, {}, event.occurred_at + std::chrono::seconds(5));
  ASSERT_EQ(d.outcome, Decision::Outcome::kSurvey);
  const std::string text = ExplainText(d, rules->zone());
  EXPECT_NE(text.find("outcome:   survey"), std::string::npos) << text;
  EXPECT_NE(text.find("group:     force_contact"), std::string::npos) << text;
  EXPECT_NE(text.find("1. group:force_contact"), std::string::npos) << text;
  EXPECT_NE(text.find("2. quiet_hours"), std::string::npos) << text;
  EXPECT_NE(text.find("2026-07-16T08:00:00.000Z"), std::string::npos) << text;
  EXPECT_NE(text.find("2026-07-16 09:00:00 +01:00 Europe/London"), std::string::npos) << text;
  EXPECT_NE(text.find(phone::Mask("+447700900123")), std::string::npos) << text;
  EXPECT_EQ(text.find("7700900123"), std::string::npos) << text;
  EXPECT_EQ(text.find("900123"), std::string::npos) << text;

  Event bad = BaselineEvent();
  bad.incident.qualifiers.reset();
  bad.caller->phone = "withheld";
  const std::string excluded = ExplainText(DecideNow(*rules, bad));
  EXPECT_NE(excluded.find("outcome:   excluded"), std::string::npos) << excluded;
  EXPECT_NE(excluded.find("reason:    insufficient_data"), std::string::npos) << excluded;
  EXPECT_NE(excluded.find("exclusion 'domestic_abuse' needs qualifiers"), std::string::npos)
      << excluded;
  EXPECT_NE(excluded.find("phone_withheld"), std::string::npos) << excluded;
  EXPECT_EQ(excluded.find("send_at"), std::string::npos) << excluded;
}

TEST(RulesExplainTest, NamesRelatedEventsAndUnknownQualifiers) {
  const auto rules = Shipped();
  Event event = BaselineEvent();
  event.incident.qualifiers = std::vector<std::string>{"NEW_FLAG"};
  Event later = BaselineEvent();
  later.event_id = "CW-2-RD";
  later.incident.qualifiers = std::vector<std::string>{"DOMESTIC"};
  Event earlier = BaselineEvent();
  earlier.event_id = "CW-1-CE";
  earlier.caller->vulnerable = true;
  RelatedEvents related;
  related.same_incident.push_back(later);
  related.same_number.push_back(earlier);
  const Decision d =
      Decide(*rules, event, {}, related, event.occurred_at + std::chrono::seconds(5));
  EXPECT_EQ(d.unknown_qualifiers, std::vector<std::string>{"NEW_FLAG"});
  const std::string text = ExplainText(d);
  EXPECT_NE(text.find("reason:    exclusion:domestic_abuse\n"), std::string::npos) << text;
  EXPECT_NE(text.find("2. unknown_qualifier:NEW_FLAG  (neither the feed contract nor the rules "
                      "name it: counted)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("3. exclusion:domestic_abuse@incident:CW-2-RD  (on another event of this "
                      "incident)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("4. insufficient_data:unknown_qualifier:NEW_FLAG  (a flag no one names "
                      "may mean what an exclusion is about: policy.unknown_qualifiers is "
                      "exclude)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("5. vulnerable@number:CW-1-CE  (on an event of this number in another "
                      "incident)"),
            std::string::npos)
      << text;
}

TEST(RulesDecideTest, SurveyCarriesTheNormalisedNumberOnly) {
  const auto rules = Shipped();
  Event event = BaselineEvent();
  event.caller->phone = "07700 900123";
  const Decision d = DecideNow(*rules, event);
  ASSERT_EQ(d.outcome, Decision::Outcome::kSurvey);
  EXPECT_EQ(d.phone.e164, "+447700900123");
  EXPECT_EQ(d.phone.kind, phone::Kind::kUkMobile);

  event.incident.qualifiers = std::vector<std::string>{"DOMESTIC"};
  const Decision excluded = DecideNow(*rules, event);
  EXPECT_TRUE(excluded.phone.e164.empty());  // an excluded contact's number goes no further
  EXPECT_TRUE(excluded.sms_template.empty());
}

TEST(RulesDecideTest, RelatedEventsRespectTheGroupsOfTheDecidedEvent) {
  // The exclusion applies to force_response only: a flagged call does not stop a text about the
  // call itself, but does stop one about the officer's visit.
  const LoadResult result = LoadString(
      "force_name: Test\n"
      "groups:\n"
      "  - {id: contact, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n"
      "  - {id: response, name: R, trigger: resource.departed, templates: {en: \"{link}\"}}\n"
      "exclusions:\n"
      "  - {id: hate, groups: [response], qualifiers: [HATE]}\n",
      "g.yaml");
  ASSERT_TRUE(result.rules);
  Event call = BaselineEvent();
  Event visit = BaselineEvent();
  visit.event_id = "V-1";
  visit.type = EventType::kResourceDeparted;
  visit.call.reset();
  visit.resource = Resource{};
  Event flagged = BaselineEvent();
  flagged.event_id = "F-1";
  flagged.incident.qualifiers = std::vector<std::string>{"HATE"};
  RelatedEvents related;
  related.same_incident.push_back(flagged);
  const TimePoint now = call.occurred_at + std::chrono::seconds(5);
  EXPECT_EQ(Decide(*result.rules, call, {}, related, now).outcome, Decision::Outcome::kSurvey);
  const Decision d = Decide(*result.rules, visit, {}, related, now);
  EXPECT_EQ(d.outcome, Decision::Outcome::kExcluded);
  EXPECT_EQ(d.reason, "exclusion:hate");
  EXPECT_EQ(d.trace, (std::vector<std::string>{"group:response", "exclusion:hate@incident:F-1"}));
}

// An event of another number comes as the number's because both are in one incident (the store
// files an incident's flags under every number it names): its flags count, its caller's age,
// consent and vulnerability do not (a stranger's, in a street fight with forty callers). The
// number's own events, and one whose number was withheld (it may be the same person), count whole.
TEST(RulesDecideTest, AnotherNumbersEventCountsForItsIncidentNotForItsCaller) {
  const auto rules = Shipped();
  const Event call = BaselineEvent();
  const TimePoint now = call.occurred_at + std::chrono::seconds(5);
  Event stranger = BaselineEvent();
  stranger.event_id = "S-1";
  stranger.incident.id = "INC-FIGHT";
  stranger.caller->phone = "+447700900999";
  stranger.caller->age = 15;
  stranger.caller->vulnerable = true;
  RelatedEvents related;
  related.same_number.push_back(stranger);
  EXPECT_EQ(Decide(*rules, call, {}, related, now).outcome, Decision::Outcome::kSurvey);

  stranger.incident.qualifiers = std::vector<std::string>{"DOMESTIC"};
  related.same_number = {stranger};
  EXPECT_EQ(Decide(*rules, call, {}, related, now).reason, "exclusion:domestic_abuse");

  Event own = stranger;
  own.incident.qualifiers = std::vector<std::string>{};
  own.caller->phone = call.caller->phone;
  related.same_number = {own};
  EXPECT_EQ(Decide(*rules, call, {}, related, now).reason, "under_minimum_age");
  own.caller->phone = "withheld";
  related.same_number = {own};
  EXPECT_EQ(Decide(*rules, call, {}, related, now).reason, "under_minimum_age");

  // Stored, an event holds no number: the store says which are another caller's
  // (number_incidents_others), and those count for their incident alone. A claim once gave them
  // as the number's, and a stranger's age cancelled the text (a review).
  Event stored = stranger;
  stored.caller->phone.reset();
  stored.incident.qualifiers = std::vector<std::string>{};
  related.same_number.clear();
  related.number_incidents_others = {stored};
  EXPECT_EQ(Decide(*rules, call, {}, related, now).outcome, Decision::Outcome::kSurvey);
  stored.incident.qualifiers = std::vector<std::string>{"DOMESTIC"};
  related.number_incidents_others = {stored};
  const Decision flagged = Decide(*rules, call, {}, related, now);
  EXPECT_EQ(flagged.reason, "exclusion:domestic_abuse");
  EXPECT_EQ(flagged.trace, (std::vector<std::string>{"group:force_contact",
                                                     "exclusion:domestic_abuse@number:S-1"}));
}

// A type code with a letter of another alphabet that looks Latin ("R\u0410PE", a Cyrillic
// A) matches no pattern, and may mean one: it is not texted, under a reason of its own. One that
// an exclusion takes anyway is excluded by it; wide forms and invisible characters read as ASCII.
TEST(RulesDecideTest, ATypeCodeThatReadsAsNoAsciiIsNotTexted) {
  const auto rules = Shipped();
  for (const char* code : {"R\u0410PE", "\u0412URG-RES", "CAF\u00C9-DISORDER", "BURG-R\u00C9S"}) {
    Event event = BaselineEvent();
    event.incident.type_code = code;
    const Decision d = DecideNow(*rules, event);
    EXPECT_EQ(d.outcome, Decision::Outcome::kExcluded) << code;
    EXPECT_EQ(d.reason, "insufficient_data:unreadable_type_code") << code;
  }
  Event excluded = BaselineEvent();
  excluded.incident.type_code = "DOMESTIC-\u0412URG";
  EXPECT_EQ(DecideNow(*rules, excluded).reason, "exclusion:domestic_abuse");
  for (const char* code : {"BURG\u2011RES", "BURG-RES\u200B", "\uFF22URG-RES", "BURG\u00ADRES"}) {
    Event event = BaselineEvent();
    event.incident.type_code = code;
    EXPECT_EQ(DecideNow(*rules, event).outcome, Decision::Outcome::kSurvey) << code;
  }
  // On another event of the incident or the number, it holds this contact too, as a flag no one
  // names does; and the screen names it, so that a stored event is read back for it.
  Event unreadable = BaselineEvent();
  unreadable.event_id = "E-0";
  unreadable.incident.type_code = "\u0405ELF-HARM";  // a Cyrillic S
  EXPECT_EQ(RuleOutFindings(*rules, unreadable), std::vector<std::string>{"unreadable_type_code"});
  const Event event = BaselineEvent();
  const TimePoint now = event.occurred_at + std::chrono::seconds(5);
  RelatedEvents by_incident;
  by_incident.same_incident.push_back(unreadable);
  Decision d = Decide(*rules, event, {}, by_incident, now);
  EXPECT_EQ(d.reason, "insufficient_data:unreadable_type_code");
  EXPECT_NE(std::find(d.trace.begin(), d.trace.end(), "unreadable_type_code@incident:E-0"),
            d.trace.end());
  RelatedEvents by_number;
  by_number.same_number.push_back(unreadable);
  d = Decide(*rules, event, {}, by_number, now);
  EXPECT_EQ(d.reason, "insufficient_data:unreadable_type_code");
}

// A type code that names nothing (only marks or invisible characters, or a word a log writes for
// no value) is missing, and the shipped rules require one: not a code no exclusion names.
TEST(RulesDecideTest, ATypeCodeThatNamesNothingIsMissing) {
  const auto rules = Shipped();
  for (const char* code :
       {"-",   "\u200D",       "\u00AD",    "\u2014",      "N/A",     "n/k",  "NONE", "Unknown",
        " - ", "TBC",          "null",      "nan",         "TBD",     "U/K",  "UNK",  "(blank)",
        "N/R", "NOT RECORDED", "NOT GIVEN", "UNSPECIFIED", "#VALUE!", "#N/A", "?"}) {
    Event event = BaselineEvent();
    event.incident.type_code = code;
    const Decision d = DecideNow(*rules, event);
    EXPECT_EQ(d.outcome, Decision::Outcome::kExcluded) << code;
    EXPECT_EQ(d.reason, "insufficient_data") << code;
  }
  for (const char* code : {"NA-ASSAULT", "NONE-CRIME", "N"}) {
    Event event = BaselineEvent();
    event.incident.type_code = code;
    EXPECT_EQ(DecideNow(*rules, event).outcome, Decision::Outcome::kSurvey) << code;
  }
}

TEST(RulesDecideTest, TheFourArgumentDecideHasNoRelatedEvents) {
  const auto rules = Shipped();
  Event event = BaselineEvent();
  const TimePoint now = event.occurred_at + std::chrono::seconds(5);
  const Decision old_form = Decide(*rules, event, {}, now);
  const Decision new_form = Decide(*rules, event, {}, RelatedEvents{}, now);
  EXPECT_EQ(old_form.outcome, new_form.outcome);
  EXPECT_EQ(old_form.trace, new_form.trace);
  EXPECT_EQ(old_form.send_at, new_form.send_at);
}

TEST(RulesDecideTest, ARelatedEventDoesNotChangeTheTextOrTimesOfASurvey) {
  const auto rules = Shipped();
  Event event = BaselineEvent();
  RelatedEvents related;
  Event other = BaselineEvent();
  other.event_id = "R-1";
  other.caller->language = "pl";
  other.caller->phone = "withheld";
  related.same_incident.push_back(other);
  related.same_number.push_back(other);
  const TimePoint now = event.occurred_at + std::chrono::seconds(5);
  const Decision alone = Decide(*rules, event, {}, now);
  const Decision with = Decide(*rules, event, {}, related, now);
  ASSERT_EQ(with.outcome, Decision::Outcome::kSurvey);
  EXPECT_EQ(with.sms_template, alone.sms_template);
  EXPECT_EQ(with.send_at, alone.send_at);
  EXPECT_EQ(with.phone.e164, alone.phone.e164);
}

}  // namespace
}  // namespace surveyd::rules
