#include <gtest/gtest.h>

#include <fstream>

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
  EXPECT_EQ(rules.Summary(), "3 groups, 10 exclusions, quiet 21:00-09:00 Europe/London");
  ASSERT_EQ(rules.groups().size(), 3u);
  EXPECT_EQ(rules.groups()[0].id, "force_contact");
  EXPECT_EQ(rules.groups()[0].name, "Force Contact");
  EXPECT_EQ(rules.groups()[0].languages(), (std::vector<std::string>{"en", "pl"}));
  EXPECT_EQ(rules.groups()[0].delay, std::chrono::seconds(30));
  EXPECT_EQ(rules.groups()[1].delay, std::chrono::minutes(1));
  EXPECT_EQ(rules.groups()[2].delay, std::chrono::hours(72));
  EXPECT_EQ(rules.groups()[0].survey_open_for, std::chrono::hours(24 * 7));
  EXPECT_EQ(rules.policy().minimum_age, 16);
  EXPECT_EQ(rules.policy().frequency_cap_days, 90);
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
                   {30, 16, "'age_under' must be a whole number, not '16.5'"},
                   {31, 17, "'vulnerable' must be true or false, not 'maybe'"},
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

TEST(RulesLoadTest, YamlSyntaxErrorIsOneErrorAtYamlCppsMark) {
  const LoadResult unclosed = LoadFile(FixturePath("syntax_error.yaml"));
  EXPECT_FALSE(unclosed.rules);
  ASSERT_EQ(unclosed.errors.size(), 1u);
  EXPECT_NE(unclosed.errors[0].message.find("YAML syntax error"), std::string::npos);
  EXPECT_EQ(unclosed.errors[0].line, 7) << unclosed.errors[0].ToString();
  EXPECT_EQ(unclosed.errors[0].column, 12) << unclosed.errors[0].ToString();

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
}

}  // namespace
}  // namespace surveyd::rules
