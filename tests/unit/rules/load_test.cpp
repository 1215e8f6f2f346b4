#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "surveyd/rules/rules.hpp"
#include "unit/rules/rules_test_util.hpp"

namespace surveyd::rules {
namespace {

using testing::FixturePath;
using testing::SourcePath;

TEST(RulesLoadTest, ShippedPolicyLoadsWithoutErrors) {
  const LoadResult result = LoadFile(SourcePath("config/rules.yaml"));
  for (const RuleError& e : result.errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(result.rules);
  const RuleSet& rules = *result.rules;
  EXPECT_EQ(rules.force_name(), "West Midlands Police");
  EXPECT_EQ(rules.zone().Name(), "Europe/London");
  EXPECT_EQ(rules.Summary(), "3 groups, 17 exclusions, quiet 21:00-09:00 Europe/London");
  for (const RuleError& w : result.warnings)
    ADD_FAILURE() << "shipped rules warn: " << w.ToString();
  ASSERT_EQ(rules.groups().size(), 3u);
  EXPECT_EQ(rules.groups()[0].id, "force_contact");
  EXPECT_EQ(rules.groups()[0].name, "Force Contact");
  EXPECT_EQ(rules.groups()[0].languages(), (std::vector<std::string>{"en", "pl", "cy"}));
  EXPECT_EQ(rules.groups()[0].delay, std::chrono::seconds(30));
  EXPECT_EQ(rules.groups()[1].delay, std::chrono::minutes(1));
  EXPECT_EQ(rules.groups()[2].delay, std::chrono::hours(72));
  EXPECT_EQ(rules.groups()[0].survey_open_for, std::chrono::hours(24 * 7));
  EXPECT_EQ(rules.policy().minimum_age, 16);
  EXPECT_EQ(rules.policy().frequency_cap_days, 90);
  EXPECT_EQ(rules.policy().number_lookback, std::chrono::days(30));
  EXPECT_TRUE(rules.policy().Requires(Field::kQualifiers));
  EXPECT_EQ(rules.quiet_hours().start_minute, 21 * 60);
  EXPECT_EQ(rules.quiet_hours().end_minute, 9 * 60);
  ASSERT_NE(rules.FindGroup("initial_investigation"), nullptr);
  EXPECT_EQ(rules.FindGroup("nope"), nullptr);
}

// What a message must say and where, for one mistake in a fixture.
struct Expected {
  int line;
  int column;
  std::string message_part;
};

void ExpectErrors(const std::string& fixture, const std::vector<Expected>& expected) {
  const LoadResult result = LoadFile(FixturePath(fixture));
  EXPECT_FALSE(result.rules);
  std::string all;
  for (const RuleError& e : result.errors) all += "  " + e.ToString() + "\n";
  ASSERT_EQ(result.errors.size(), expected.size()) << "errors were:\n" << all;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const RuleError& e = result.errors[i];
    EXPECT_EQ(e.file, FixturePath(fixture));
    EXPECT_EQ(e.line, expected[i].line) << e.ToString();
    EXPECT_EQ(e.column, expected[i].column) << e.ToString();
    EXPECT_NE(e.message.find(expected[i].message_part), std::string::npos)
        << "expected '" << expected[i].message_part << "' in " << e.ToString();
  }
}

TEST(RulesLoadTest, ReportsEveryKeyMistakeWithItsPlace) {
  ExpectErrors(
      "invalid_keys.yaml",
      {
          {4, 1, "unknown key 'quiet_hour' in the rules file (did you mean 'quiet_hours'?)"},
          {9, 25, "unknown field 'typecode' in require (did you mean 'type_code'?)"},
          {14, 5, "unknown key 'dealy' in group (did you mean 'delay'?)"},
          {16, 9, "duplicate group id 'contact' (first defined on line 11)"},
          {22, 5, "unknown key 'qualifers' in exclusion (did you mean 'qualifiers'?)"},
          {23, 9, "duplicate exclusion id 'domestic' (first defined on line 21)"},
          {26, 14, "unknown group 'contcat' (did you mean 'contact'?)"},
          {28, 9, "id 'Bad-Id' must be lower-case"},
          {30, 5, "exclusion 'everything' has no condition"},
      });
}

TEST(RulesLoadTest, ReportsEveryValueMistakeWithItsPlace) {
  ExpectErrors("invalid_values.yaml",
               {
                   {4, 12, "unknown time zone 'Europe/Londn'"},
                   {6, 16, "'minimum_age' must be a whole number, not 'sixteen'"},
                   {7, 16, "'missing_age' must be one of allow, exclude, not 'maybe'"},
                   {8, 16, "'mobile_only' must be true or false, not 'yes please'"},
                   {10, 10, "bad time '25:00'"},
                   {11, 8, "bad time '9am'"},
                   {15, 14, "unknown event type 'call.end' (did you mean 'call.ended'?)"},
                   {16, 15, "'channels' must be a list"},
                   {17, 12, "bad duration '30 seconds'"},
                   {18, 18, "bad duration '2x'"},
                   {19, 23, "sampling_percent must be between 0 and 100, not 150"},
                   {24, 21, "unknown value 'lve_chat' in channels (did you mean 'live_chat'?)"},
                   {28, 18, "unsupported character '[' in type code pattern 'DOM[0-9]'"},
                   {28, 30, "type code pattern '*' matches every incident"},
                   {28, 43, "is longer than 63 characters"},
                   {30, 16, "'age_under' must be a whole number, not '16.5'"},
                   {31, 17, "'vulnerable' must be true or false, not 'maybe'"},
                   {33, 12, "'roles' is an empty list, which would exclude every event"},
               });
}

TEST(RulesLoadTest, ReportsTemplateMistakes) {
  ExpectErrors("invalid_templates.yaml",
               {
                   {9, 7, "group 'no_english' has no 'en' template"},
                   {14, 11, "template has no {link}"},
                   {19, 11, "unknown placeholder '{forse}' (did you mean '{force}'?)"},
                   {20, 7, "template language must be a lower-case ISO 639-1 code"},
               });
}

// The shipped rules file's text, for a test to change one thing in.
std::string ShippedRulesText() {
  std::ifstream in(std::string(SURVEYD_SOURCE_DIR) + "/config/rules.yaml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Whole numbers are decimal, as people write them: yaml-cpp alone reads 016 as octal (14), so a
// minimum age of 016 would survey fourteen-year-olds.
TEST(RulesLoadTest, WholeNumbersAreDecimal) {
  const std::string shipped = ShippedRulesText();
  const auto with = [&](const std::string& age) {
    std::string text = shipped;
    const auto at = text.find("minimum_age: 16");
    EXPECT_NE(at, std::string::npos);
    text.replace(at, 15, "minimum_age: " + age);
    return LoadString(text, "rules.yaml");
  };
  const auto leading_zero = with("016");
  ASSERT_TRUE(leading_zero.rules);
  EXPECT_EQ(leading_zero.rules->policy().minimum_age, 16);
  for (const char* odd : {"0x10", "+16", "16.0", "1e1"}) {
    const auto refused = with(odd);
    EXPECT_FALSE(refused.rules) << odd;
    ASSERT_FALSE(refused.errors.empty()) << odd;
    EXPECT_NE(refused.errors[0].message.find("'minimum_age' must be a whole number"),
              std::string::npos)
        << refused.errors[0].ToString();
  }
}

// A text line copied and its language code left as it was: the copy would become the English
// fallback (help in Welsh for an English speaker, and no Welsh at all).
TEST(RulesLoadTest, ALanguageGivenTwiceInRepliesIsAnError) {
  std::string text = ShippedRulesText();
  const std::string cy = "      cy: \"Os ydych chi mewn perygl nawr";
  const auto at = text.find(cy);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 9, "      en: ");
  const auto loaded = LoadString(text, "rules.yaml");
  EXPECT_FALSE(loaded.rules);
  std::string all;
  for (const auto& e : loaded.errors) all += e.ToString() + "\n";
  EXPECT_NE(all.find("duplicate language 'en' in"), std::string::npos) << all;
}

// An empty time zone is an error at its place, not a load that fails saying nothing.
TEST(RulesLoadTest, AnEmptyTimeZoneIsNamed) {
  std::string yaml = ShippedRulesText();
  const auto at = yaml.find("\ntime_zone: ");
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at + 1, yaml.find('\n', at + 1) - at - 1, "time_zone: \"\"");
  const LoadResult loaded = LoadString(yaml, "rules.yaml");
  EXPECT_FALSE(loaded.rules);
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_NE(loaded.errors[0].message.find("time_zone is empty"), std::string::npos)
      << loaded.errors[0].ToString();
  EXPECT_GT(loaded.errors[0].line, 0);
}

// What to do with a flag no one names is one of two words; a flag cannot be harmless and ruled
// out by an exclusion at once. Each mistake is named at its place.
TEST(RulesLoadTest, TheUnknownFlagsPolicyIsCheckedAtItsPlace) {
  const auto with = [](const std::string& line, const std::string& instead) {
    std::string yaml = ShippedRulesText();
    const auto at = yaml.find("\n  " + line);
    EXPECT_NE(at, std::string::npos) << line;
    yaml.replace(at + 1, yaml.find('\n', at + 1) - at - 1, "  " + instead);
    return LoadString(yaml, "rules.yaml");
  };
  const LoadResult bad_word = with("unknown_qualifiers: exclude", "unknown_qualifiers: text them");
  EXPECT_FALSE(bad_word.rules);
  ASSERT_EQ(bad_word.errors.size(), 1u);
  EXPECT_NE(bad_word.errors[0].message.find(
                "'unknown_qualifiers' must be one of exclude, survey, not 'text them'"),
            std::string::npos)
      << bad_word.errors[0].ToString();
  const LoadResult both =
      with("harmless_qualifiers: []", "harmless_qualifiers: [REPEAT_VICTIM, domestic]");
  EXPECT_FALSE(both.rules);
  ASSERT_EQ(both.errors.size(), 1u);
  EXPECT_NE(both.errors[0].message.find("qualifier 'domestic' is in harmless_qualifiers and in "
                                        "exclusion 'domestic_abuse': it cannot be both"),
            std::string::npos)
      << both.errors[0].ToString();
  EXPECT_GT(both.errors[0].line, 0);
  // However it is spelled: the exclusion's SEXUAL_OFFENCE is the harmless "sexual-offence".
  const LoadResult spelled =
      with("harmless_qualifiers: []", "harmless_qualifiers: [sexual-offence]");
  EXPECT_FALSE(spelled.rules);
  ASSERT_EQ(spelled.errors.size(), 1u);
  EXPECT_NE(spelled.errors[0].message.find("qualifier 'sexual-offence' is in harmless_qualifiers"),
            std::string::npos)
      << spelled.errors[0].ToString();
  // Named harmless, a flag is known: counted no more, and texted.
  const LoadResult named = with("harmless_qualifiers: []", "harmless_qualifiers: [PRIORITY]");
  ASSERT_TRUE(named.rules);
  EXPECT_TRUE(named.rules->KnowsQualifier("PRIORITY"));
}

// Quiet hours from 21:00 to 21:00 are none or all day: an error, never a guess.
TEST(RulesLoadTest, QuietHoursThatStartWhenTheyEndAreAnError) {
  std::string yaml = ShippedRulesText();
  const auto at = yaml.find("\nquiet_hours:");
  ASSERT_NE(at, std::string::npos);
  const auto end = yaml.find("  end: ", at);
  ASSERT_NE(end, std::string::npos);
  const auto start = yaml.find("  start: ", at);
  const std::string start_line = yaml.substr(start, yaml.find('\n', start) - start);
  yaml.replace(end, yaml.find('\n', end) - end, "  end: " + start_line.substr(9));
  const LoadResult loaded = LoadString(yaml, "rules.yaml");
  EXPECT_FALSE(loaded.rules);
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_NE(loaded.errors[0].message.find("quiet_hours start and end are the same time"),
            std::string::npos)
      << loaded.errors[0].ToString();
  // Switched off, the times do not matter.
  const auto enabled_at = yaml.find("\nquiet_hours:") + 13;
  yaml.insert(enabled_at, "\n  enabled: false");
  const LoadResult off = LoadString(yaml, "rules.yaml");
  EXPECT_TRUE(off.rules) << (off.errors.empty() ? "" : off.errors[0].ToString());
}

TEST(RulesLoadTest, YamlSyntaxErrorIsOneErrorAtItsPlace) {
  // yaml-cpp gives up on line 7; the list left open is on line 6.
  const LoadResult unclosed = LoadFile(FixturePath("syntax_error.yaml"));
  EXPECT_FALSE(unclosed.rules);
  ASSERT_EQ(unclosed.errors.size(), 1u);
  EXPECT_NE(unclosed.errors[0].message.find("YAML syntax error: this '[' is never closed"),
            std::string::npos)
      << unclosed.errors[0].ToString();
  EXPECT_EQ(unclosed.errors[0].line, 6) << unclosed.errors[0].ToString();
  EXPECT_EQ(unclosed.errors[0].column, 15) << unclosed.errors[0].ToString();

  const LoadResult indent = LoadFile(FixturePath("syntax_error_indent.yaml"));
  ASSERT_EQ(indent.errors.size(), 1u);
  EXPECT_EQ(indent.errors[0].line, 6) << indent.errors[0].ToString();
  EXPECT_EQ(indent.errors[0].column, 4) << indent.errors[0].ToString();
}

TEST(RulesLoadTest, MissingFileAndEmptyFile) {
  const LoadResult missing = LoadFile(FixturePath("does_not_exist.yaml"));
  EXPECT_FALSE(missing.rules);
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_NE(missing.errors[0].ToString().find("cannot read the rules file"), std::string::npos);

  const LoadResult empty = LoadString("# nothing but a comment\n", "empty.yaml");
  ASSERT_EQ(empty.errors.size(), 1u);
  EXPECT_EQ(empty.errors[0].ToString(), "empty.yaml:1:1: the rules file is empty");

  const LoadResult list = LoadString("- a\n- b\n", "list.yaml");
  ASSERT_EQ(list.errors.size(), 1u);
  EXPECT_EQ(list.errors[0].line, 1);
}

TEST(RulesLoadTest, MissingRequiredKeys) {
  const LoadResult result = LoadString(
      "version: 1\n"
      "groups:\n"
      "  - id: contact\n"
      "    templates: {en: \"{link}\"}\n",
      "min.yaml");
  std::string all;
  for (const RuleError& e : result.errors) all += e.ToString() + "\n";
  EXPECT_NE(all.find("min.yaml:1:1: missing 'force_name'"), std::string::npos) << all;
  EXPECT_NE(all.find("min.yaml:3:5: group 'contact' has no 'name'"), std::string::npos) << all;
  EXPECT_NE(all.find("min.yaml:3:5: group 'contact' has no 'trigger'"), std::string::npos) << all;
}

TEST(RulesLoadTest, DuplicateKeysAndUnsupportedVersion) {
  const LoadResult result = LoadString(
      "version: 2\n"
      "force_name: A\n"
      "force_name: B\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n",
      "dup.yaml");
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_EQ(result.errors[0].ToString(), "dup.yaml:1:10: unsupported version 2 (expected 1)");
  EXPECT_EQ(result.errors[1].ToString(),
            "dup.yaml:3:1: duplicate key 'force_name' in the rules file");
}

TEST(RulesLoadTest, MinimalFileGetsDefaults) {
  const LoadResult result = LoadString(
      "force_name: Test\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n",
      "min.yaml");
  for (const RuleError& e : result.errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(result.rules);
  EXPECT_EQ(result.rules->zone().Name(), "Europe/London");
  EXPECT_FALSE(result.rules->quiet_hours().enabled);
  EXPECT_EQ(result.rules->Summary(), "1 group, 0 exclusions, quiet none Europe/London");
  EXPECT_EQ(result.rules->groups()[0].sampling_percent, 100);
  EXPECT_EQ(result.rules->groups()[0].send_within, std::chrono::hours(24));
}

TEST(RulesLoadTest, DurationsMayBeSums) {
  const LoadResult result = LoadString(
      "force_name: Test\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, delay: 1h30m, send_within: 1w,\n"
      "     templates: {en: \"{link}\"}}\n",
      "d.yaml");
  for (const RuleError& e : result.errors) ADD_FAILURE() << e.ToString();
  ASSERT_TRUE(result.rules);
  EXPECT_EQ(result.rules->groups()[0].delay, std::chrono::minutes(90));
  EXPECT_EQ(result.rules->groups()[0].send_within, std::chrono::hours(24 * 7));
}

TEST(RulesLoadTest, ErrorToString) {
  EXPECT_EQ((RuleError{"config/rules.yaml", 12, 5, "unknown key 'qualifers'"}).ToString(),
            "config/rules.yaml:12:5: unknown key 'qualifers'");
  EXPECT_EQ((RuleError{"x.yaml", 0, 0, "cannot read"}).ToString(), "x.yaml: cannot read");
  EXPECT_EQ((RuleError{"r.yaml", 3, 7, "no exclusions", true}).ToString(),
            "r.yaml:3:7: warning: no exclusions");
}

TEST(RulesLoadTest, NumberLookback) {
  const std::string groups =
      "groups:\n  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n";
  const LoadResult days =
      LoadString("force_name: T\npolicy: {number_lookback_days: 7}\n" + groups, "l.yaml");
  ASSERT_TRUE(days.rules);
  EXPECT_EQ(days.rules->policy().number_lookback, std::chrono::days(7));
  const LoadResult zero =
      LoadString("force_name: T\npolicy: {number_lookback_days: 0}\n" + groups, "l.yaml");
  ASSERT_TRUE(zero.rules);
  EXPECT_EQ(zero.rules->policy().number_lookback, std::chrono::days(0));
  const LoadResult bad =
      LoadString("force_name: T\npolicy: {number_lookback_days: -1}\n" + groups, "l.yaml");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].ToString(),
            "l.yaml:2:32: 'number_lookback_days' must be between 0 and 90, not -1");
}

TEST(RulesLoadTest, MaxEventLead) {
  const std::string groups =
      "groups:\n  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n";
  const LoadResult plain = LoadString("force_name: T\n" + groups, "l.yaml");
  ASSERT_TRUE(plain.rules);
  EXPECT_EQ(plain.rules->policy().max_event_lead, std::chrono::minutes(2)) << "the default";
  const LoadResult set =
      LoadString("force_name: T\npolicy: {max_event_lead: 1h30m}\n" + groups, "l.yaml");
  ASSERT_TRUE(set.rules);
  EXPECT_EQ(set.rules->policy().max_event_lead, std::chrono::minutes(90));
  const LoadResult bad =
      LoadString("force_name: T\npolicy: {max_event_lead: soon}\n" + groups, "l.yaml");
  EXPECT_FALSE(bad.rules);
  EXPECT_EQ(bad.errors.size(), 1u);
}

std::vector<std::string> WarningsOf(const LoadResult& result) {
  for (const RuleError& e : result.errors) ADD_FAILURE() << e.ToString();
  EXPECT_TRUE(result.rules);
  std::vector<std::string> out;
  for (const RuleError& w : result.warnings) {
    EXPECT_TRUE(w.warning);
    out.push_back(w.ToString());
  }
  return out;
}

// What a late reply is told (two_way texts' `closed`) and a link survey's text back
// (replies.link_reply): one SMS each in every shipped language, with 101 and 999; a two-way
// language without `closed` is refused, as one without its thanks is.
TEST(RulesLoadTest, LateAndLinkReplyTextsAreReadAndChecked) {
  const LoadResult shipped = LoadFile(SourcePath("config/rules.yaml"));
  ASSERT_TRUE(shipped.rules);
  const SmsReplies& replies = shipped.rules->replies();
  for (const char* language : {"en", "pl", "cy"}) {
    ASSERT_NE(replies.TwoWay(language), nullptr) << language;
    for (const std::string* text :
         {&replies.TwoWay(language)->closed, replies.LinkReply(language)}) {
      ASSERT_NE(text, nullptr) << language;
      EXPECT_NE(text->find("101"), std::string::npos) << *text;
      EXPECT_NE(text->find("999"), std::string::npos) << *text;
      EXPECT_EQ(text->find("{force}"), std::string::npos) << "filled in: " << *text;
    }
    EXPECT_NE(replies.LinkReply(language)->find("STOP"), std::string::npos) << language;
  }
  EXPECT_EQ(replies.LinkReply("de"), replies.LinkReply("en"));
  int measured = 0;
  for (const TemplateLength& t : MeasureReplyTexts(*shipped.rules)) {
    if (t.group != "two_way/closed" && t.group != "replies/link_reply") continue;
    ++measured;
    EXPECT_EQ(t.length.segments, 1) << t.group << "/" << t.language << ": " << t.text;
  }
  EXPECT_EQ(measured, 6) << "rules check prints what each costs";

  std::string yaml = ShippedRulesText();
  const auto at = yaml.find("\n      closed: \"{force}: mae'r arolwg");
  ASSERT_NE(at, std::string::npos);
  yaml.erase(at, yaml.find('\n', at + 1) - at);
  const LoadResult without = LoadString(yaml, "rules.yaml");
  EXPECT_FALSE(without.rules);
  ASSERT_EQ(without.errors.size(), 1u);
  EXPECT_NE(without.errors[0].message.find("two_way texts cy have no 'closed'"), std::string::npos)
      << without.errors[0].ToString();
}

// Where to get help, texted back to a text that calls for it: a text per language with English
// the fallback, at most once per number every at_most_every; up to two SMS each without a
// warning (the numbers take room), and a rules file without it is told what it loses.
TEST(RulesLoadTest, HelpNowTextsAreReadAndChecked) {
  const LoadResult shipped = LoadFile(SourcePath("config/rules.yaml"));
  ASSERT_TRUE(shipped.rules);
  const SmsReplies& replies = shipped.rules->replies();
  EXPECT_EQ(replies.help_now_every, std::chrono::hours(1));
  for (const char* language : {"en", "pl", "cy"}) {
    ASSERT_NE(replies.HelpNow(language), nullptr) << language;
    EXPECT_NE(replies.HelpNow(language)->find("999"), std::string::npos) << language;
    EXPECT_NE(replies.HelpNow(language)->find("55"), std::string::npos) << language;
  }
  EXPECT_EQ(replies.HelpNow("de"), replies.HelpNow("en"));
  std::vector<std::string> measured_languages;
  for (const TemplateLength& measured : MeasureReplyTexts(*shipped.rules)) {
    if (measured.group != "replies/help_now") continue;
    measured_languages.push_back(measured.language);
    EXPECT_EQ(measured.length.segments, 2) << measured.language << ": " << measured.text;
  }
  EXPECT_EQ(measured_languages, (std::vector<std::string>{"en", "pl", "cy"}))
      << "rules check prints what each costs";
  // Measured with a link, the shipped file (its help two SMS long) still warns of nothing.
  LoadOptions with_link;
  with_link.link = "https://surveys.example.police.uk/s/AAAAAAAAAAAAAAAAAAAAAA";
  const LoadResult measured = LoadFile(SourcePath("config/rules.yaml"), with_link);
  for (const RuleError& w : measured.warnings) ADD_FAILURE() << w.ToString();

  const std::string base =
      "force_name: Test\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n"
      "replies:\n"
      "  opt_out_confirmation: {en: Done}\n";
  const LoadResult without = LoadString(base, "rules.yaml");
  ASSERT_TRUE(without.rules);
  EXPECT_EQ(without.rules->replies().HelpNow("en"), nullptr);
  std::string warned;
  for (const RuleError& w : without.warnings) warned += w.ToString() + "\n";
  EXPECT_NE(warned.find("rules.yaml:4:1: warning: replies has no help_now"), std::string::npos)
      << warned;

  const LoadResult no_english = LoadString(
      base + "  help_now: {at_most_every: 0s, texts: {cy: \"Ffoniwch 999\"}}\n", "rules.yaml");
  EXPECT_FALSE(no_english.rules);
  std::string all;
  for (const RuleError& e : no_english.errors) all += e.ToString() + "\n";
  EXPECT_NE(all.find("help_now at_most_every must be more than 0"), std::string::npos) << all;
  EXPECT_NE(all.find("help_now has no 'en' text"), std::string::npos) << all;
  EXPECT_EQ(no_english.errors.size(), 2u) << all;

  const LoadResult placeholder =
      LoadString(base + "  help_now: {texts: {en: \"{force}: call 999 {link}\"}}\n", "rules.yaml");
  EXPECT_FALSE(placeholder.rules);
}

TEST(RulesLoadTest, WarnsOnLikelyMistakesButStaysValid) {
  const std::string yaml =
      "force_name: Test\n"
      "policy:\n"
      "  require: []\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n"
      "exclusions:\n"
      "  - {id: d, qualifiers: [domestic, Threat-To-Life, sexual offence, NEW_FLAG]}\n"
      "quiet_hours: {enabled: false}\n";
  const auto loaded = LoadString(yaml, "w.yaml");
  ASSERT_TRUE(loaded.rules);
  EXPECT_EQ(WarningsOf(loaded),
            (std::vector<std::string>{
                "w.yaml:3:12: warning: 'require' is empty: an event without qualifiers or a type "
                "code counts as not matching the exclusions and may be texted (the shipped policy "
                "requires both)",
                "w.yaml:7:68: warning: qualifier 'NEW_FLAG' is not one the feed contract names: "
                "check the spelling the force's log uses, or it will never match",
            }));
  // Read as an event's flags are: spelled otherwise, each is the contract's flag.
  EXPECT_EQ(loaded.rules->exclusions()[0].qualifiers,
            (std::vector<std::string>{"DOMESTIC", "THREAT_TO_LIFE", "SEXUAL_OFFENCE", "NEW_FLAG"}));
}

// A qualifier a letter or two from a contract flag is a typo that would never match: the
// exclusion would stop nothing it was written for (DOMESTIC contacts surveyed). An error.
TEST(RulesLoadTest, AQualifierMisspeltFromTheContractsIsAnError) {
  const std::string yaml =
      "force_name: Test\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n"
      "exclusions:\n"
      "  - {id: d, qualifiers: [DOMESTC, HONOUR_BASED]}\n";
  const auto loaded = LoadString(yaml, "t.yaml");
  EXPECT_FALSE(loaded.rules);
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0].ToString(),
            "t.yaml:5:26: qualifier 'DOMESTC' is not one the feed contract names (did you mean "
            "'DOMESTIC'?): as written it would never match");
}

TEST(RulesLoadTest, WarnsWithoutExclusions) {
  const std::string base =
      "force_name: Test\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n"
      "quiet_hours: {enabled: false}\n";
  const auto none = WarningsOf(LoadString(base, "n.yaml"));
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].rfind("n.yaml:1:1: warning: no exclusions: nothing keeps a text", 0), 0u)
      << none[0];
  const auto empty = WarningsOf(LoadString(base + "exclusions: []\n", "e.yaml"));
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].rfind("e.yaml:5:1: warning: no exclusions", 0), 0u) << empty[0];
}

// Quiet hours left out (or their lines commented out) are none, which texts at night: said, so
// that it is meant; enabled: false says so without a warning.
TEST(RulesLoadTest, WarnsWithoutQuietHours) {
  const std::string base =
      "force_name: Test\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n"
      "exclusions:\n"
      "  - {id: d, qualifiers: [DOMESTIC]}\n";
  for (const std::string& quiet : {std::string(), std::string("quiet_hours:\n")}) {
    const auto loaded = LoadString(base + quiet, "q.yaml");
    ASSERT_TRUE(loaded.rules);
    EXPECT_FALSE(loaded.rules->quiet_hours().enabled);
    const auto warnings = WarningsOf(loaded);
    ASSERT_EQ(warnings.size(), 1u) << quiet;
    EXPECT_NE(warnings[0].find("warning: no quiet_hours: texts may go at any hour"),
              std::string::npos)
        << warnings[0];
  }
  const auto meant = LoadString(base + "quiet_hours: {enabled: false}\n", "q.yaml");
  ASSERT_TRUE(meant.rules);
  EXPECT_FALSE(meant.rules->quiet_hours().enabled);
  EXPECT_TRUE(WarningsOf(meant).empty());
}

// Rules with one group and one exclusion, of the type code patterns `patterns` (a YAML flow
// list's items, on line 5 from column 26).
std::string RulesExcludingTypeCodes(const std::string& patterns) {
  return "force_name: Test\n"
         "groups:\n"
         "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n"
         "exclusions:\n"
         "  - {id: d, type_codes: [" +
         patterns +
         "]}\n"
         "quiet_hours: {enabled: false}\n";
}

TEST(RulesLoadTest, WarnsOnPatternsThatMatchNoCodeOfTheSample) {
  LoadOptions options;
  options.sample_type_codes = std::vector<std::string>{"DOM-ABUSE", "MISSING-PER", "BURG-RES"};
  options.sample_name = "codes.txt";
  const std::string yaml =
      RulesExcludingTypeCodes(R"("DOM*", "MISPER*", "*PER", "dom-abuse", "X?")");
  EXPECT_EQ(WarningsOf(LoadString(yaml, "s.yaml", options)),
            (std::vector<std::string>{
                "s.yaml:5:34: warning: type code pattern 'MISPER*' matches none of the 3 codes "
                "in codes.txt (patterns cover the whole code: '*STEM*' matches the stem anywhere)",
                "s.yaml:5:66: warning: type code pattern 'X?' matches none of the 3 codes in "
                "codes.txt (patterns cover the whole code: '*STEM*' matches the stem anywhere)",
            }));
  // Without a sample, nothing to compare with.
  EXPECT_TRUE(WarningsOf(LoadString(yaml, "s.yaml")).empty());
}

// A pattern that takes a code of the force's only where its letters fall inside a longer word
// excludes contacts it was not written for: ops see which, before surveys of them stop.
TEST(LoadTest, ASamplesCodesAPatternTakesInsideALongerWordAreNamed) {
  LoadOptions options;
  options.sample_type_codes = std::vector<std::string>{
      "MENTAL-HEALTH",       "ASB ENVIRONMENTAL", "ENVIRONMENTAL-NOISE", "DEVELOPMENTAL-CONCERN",
      "SUPPLEMENTAL-REPORT", "PHARMACY-THEFT",    "SELF-HARM",           "MISSING-PER",
      "SEXUAL-OFFENCE"};
  options.sample_name = "codes.txt";
  const std::string yaml =
      RulesExcludingTypeCodes(R"("*MENTAL*", "*harm*", "*PER", "SEX*", "*SELF-HARM*")");
  EXPECT_EQ(WarningsOf(LoadString(yaml, "s.yaml", options)),
            (std::vector<std::string>{
                "s.yaml:5:26: warning: type code pattern '*MENTAL*' takes 'ASB ENVIRONMENTAL', "
                "'ENVIRONMENTAL-NOISE', 'DEVELOPMENTAL-CONCERN' and 1 more of codes.txt, where "
                "MENTAL is inside a longer word: check that the exclusion is meant for them (a "
                "pattern takes its letters wherever they fall)",
                "s.yaml:5:38: warning: type code pattern '*harm*' takes 'PHARMACY-THEFT' of "
                "codes.txt, where HARM is inside a longer word: check that the exclusion is "
                "meant for them (a pattern takes its letters wherever they fall)",
            }))
      << "MENTAL-HEALTH, SELF-HARM, MISSING-PER and SEXUAL-OFFENCE are what they were written for";
}

// Edits of one line each that text people the shipped rules keep from being texted: allowed (the
// force decides) but said, with where (an ops review made each pass the check in silence).
TEST(RulesLoadTest, WarnsOnEditsThatTextWhomTheShippedRulesDoNot) {
  const std::string yaml =
      "force_name: Test\n"
      "policy:\n"
      "  minimum_age: 0\n"
      "  exclude_vulnerable: false\n"
      "  exclude_consent_declined: false\n"
      "  frequency_cap_days: 0\n"
      "  number_lookback_days: 0\n"
      "  unknown_qualifiers: survey\n"
      "  harmless_qualifiers: [DV, REPEAT_VICTIM]\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: call.ended, templates: {en: \"{link}\"}}\n"
      "  - {id: r, name: R, trigger: resource.departed, templates: {en: \"{link}\"}}\n"
      "exclusions:\n"
      "  - {id: d, qualifiers: [DOMESTIC], type_codes: [\"DV\", \"DOM*\"]}\n"
      "  - {id: s, match: any, groups: [r], qualifiers: [SEXUAL_OFFENCE]}\n"
      "quiet_hours: {start: \"09:00\", end: \"21:00\"}\n";
  const std::vector<std::string> warnings = WarningsOf(LoadString(yaml, "w.yaml"));
  const auto has = [&](const std::string& start) {
    return std::any_of(warnings.begin(), warnings.end(),
                       [&](const std::string& w) { return w.rfind(start, 0) == 0; });
  };
  for (const char* start :
       {"w.yaml:3:16: warning: policy.minimum_age: texts children under 16",
        "w.yaml:4:23: warning: policy.exclude_vulnerable: texts callers flagged vulnerable",
        "w.yaml:5:29: warning: policy.exclude_consent_declined: texts people who declined",
        "w.yaml:6:23: warning: policy.frequency_cap_days: texts a number after every contact",
        "w.yaml:7:25: warning: policy.number_lookback_days: a DOMESTIC flag",
        "w.yaml:8:23: warning: policy.unknown_qualifiers: texts contacts flagged with words",
        "w.yaml:9:25: warning: qualifier 'DV' is in harmless_qualifiers but reads as exclusion "
        "'d' (type code pattern 'DV')",
        "w.yaml:14:5: warning: exclusion 'd' gives qualifiers and type_codes without 'match'",
        "w.yaml:15:33: warning: exclusion 's' applies to some survey groups only",
        "w.yaml:16:14: warning: quiet_hours 09:00-21:00 let texts go in the small hours"}) {
    EXPECT_TRUE(has(start)) << start << "\n" << ::testing::PrintToString(warnings);
  }
  EXPECT_EQ(warnings.size(), 10u) << ::testing::PrintToString(warnings);
}

// A group whose delay is not shorter than its window could never send: refused.
TEST(RulesLoadTest, ADelayAsLongAsTheWindowIsAnError) {
  const LoadResult loaded = LoadString(
      "force_name: Test\n"
      "groups:\n"
      "  - {id: c, name: C, trigger: incident.closed, delay: 5d, send_within: 4d,\n"
      "     templates: {en: \"{link}\"}}\n"
      "exclusions:\n"
      "  - {id: d, qualifiers: [DOMESTIC]}\n"
      "quiet_hours: {enabled: false}\n",
      "g.yaml");
  EXPECT_FALSE(loaded.rules);
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(
      loaded.errors[0].ToString().rfind("g.yaml:3:72: send_within must be longer than delay", 0),
      0u)
      << loaded.errors[0].ToString();
}

TEST(RulesLoadTest, WarnsOnTemplatesOverOneSmsWithTheGivenLink) {
  LoadOptions options;
  options.link = "https://surveys.example-forces.police.uk/s/AbCdEfGhIjKlMnOpQrStUv";
  const std::string yaml =
      "force_name: Test\n"
      "groups:\n"
      "  - id: c\n"
      "    name: C\n"
      "    trigger: call.ended\n"
      "    templates:\n"
      "      en: \"" +
      std::string(95, 'a') +
      " {link}\"\n"
      "      pl: \"" +
      std::string(94, 'a') +
      " {link}\"\n"
      "      cy: \"\u0175 " +
      std::string(10, 'a') +
      " {link}\"\n"
      "exclusions:\n"
      "  - {id: d, qualifiers: [DOMESTIC]}\n"
      "quiet_hours: {enabled: false}\n";
  EXPECT_EQ(WarningsOf(LoadString(yaml, "t.yaml", options)),
            (std::vector<std::string>{
                "t.yaml:7:11: warning: template c/en can take 2 SMS segments (161 GSM-7 "
                "characters, one SMS holds 160): each text costs 2 messages",
                "t.yaml:9:11: warning: template c/cy can take 2 SMS segments (78 UCS-2 "
                "characters, one SMS holds 70): each text costs 2 messages",
            }));
}

// Stored events are screened under the version (EventScreen): it changes with what the screen
// reads (the policy, the exclusions) and with nothing else, so most reloads keep the screens.
TEST(LoadTest, TheScreenVersionFollowsThePolicyAndTheExclusionsOnly) {
  std::ifstream in(SourcePath("config/rules.yaml"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto version_of = [](const std::string& yaml) {
    const LoadResult result = LoadString(yaml, "rules.yaml");
    EXPECT_TRUE(result.rules) << (result.errors.empty() ? "" : result.errors[0].ToString());
    return result.rules ? result.rules->screen_version() : std::string();
  };
  auto replaced = [&text](const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.substr(0, at) + to + text.substr(at + from.size());
  };
  const std::string shipped = version_of(text);
  EXPECT_EQ(shipped.size(), 16u);
  EXPECT_EQ(version_of(text + "\n# a comment\n"), shipped);
  EXPECT_EQ(version_of(replaced("delay: 30s", "delay: 45s")), shipped);
  EXPECT_EQ(version_of(replaced("{day}? {link} Reply STOP", "{day}? {link} Text STOP")), shipped);
  EXPECT_NE(version_of(replaced("minimum_age: 16", "minimum_age: 17")), shipped);
  EXPECT_NE(version_of(replaced("qualifiers: [DOMESTIC, HONOUR_BASED]",
                                "qualifiers: [DOMESTIC, HONOUR_BASED, FORCED_MARRIAGE]")),
            shipped);
}

}  // namespace
}  // namespace surveyd::rules
