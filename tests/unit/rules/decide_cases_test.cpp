// Table-driven decisions: every case in the fixtures default_cases.yaml (the shipped policy) and
// strict_cases.yaml is one test, named after the case.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>

#include "surveyd/rules/rules.hpp"
#include "unit/rules/rules_test_util.hpp"

namespace surveyd::rules {
namespace {

using testing::At;
using testing::EventFrom;
using testing::FixturePath;
using testing::MustLoad;
using testing::SourcePath;

struct Case {
  std::string fixture;
  std::size_t index = 0;
  std::string name;
};

std::vector<Case> CasesOf(const std::string& fixture) {
  std::vector<Case> cases;
  const YAML::Node root = YAML::LoadFile(FixturePath(fixture));
  const YAML::Node list = root["cases"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    cases.push_back(Case{fixture, i, list[i]["name"].as<std::string>()});
  }
  return cases;
}

std::shared_ptr<const RuleSet> RulesFor(const YAML::Node& root) {
  static std::map<std::string, std::shared_ptr<const RuleSet>> cache;
  const std::string path = SourcePath(root["rules"].as<std::string>());
  auto& rules = cache[path];
  if (!rules) rules = MustLoad(path);
  return rules;
}

Decision::Outcome ParseOutcome(const std::string& name) {
  if (name == "survey") return Decision::Outcome::kSurvey;
  if (name == "excluded") return Decision::Outcome::kExcluded;
  EXPECT_EQ(name, "ignored") << "unknown outcome in fixture";
  return Decision::Outcome::kIgnored;
}

class RulesCaseTest : public ::testing::TestWithParam<Case> {};

TEST_P(RulesCaseTest, Decides) {
  const Case& c = GetParam();
  const YAML::Node root = YAML::LoadFile(FixturePath(c.fixture));
  const YAML::Node spec = root["cases"][c.index];
  const auto rules = RulesFor(root);
  ASSERT_TRUE(rules);

  const Event event = EventFrom(spec["event"]);
  ContactHistory history;
  if (const YAML::Node h = spec["history"]) {
    if (h["opted_out"]) history.opted_out = h["opted_out"].as<bool>();
    if (h["last_surveyed_at"])
      history.last_surveyed_at = At(h["last_surveyed_at"].as<std::string>());
  }
  const TimePoint now =
      spec["now"] ? At(spec["now"].as<std::string>()) : event.occurred_at + std::chrono::seconds(5);

  // Related events: the baseline with their own changes, numbered ... across both lists.
  RelatedEvents related;
  int n = 0;
  for (const auto& [key, list] : {std::pair{"incident_events", &related.same_incident},
                                  std::pair{"number_events", &related.same_number}}) {
    for (const YAML::Node& changes : spec[key]) {
      Event other = EventFrom(changes);
      if (!changes["event_id"]) other.event_id = "R-" + std::to_string(++n);
      list->push_back(std::move(other));
    }
  }

  const Decision d = Decide(*rules, event, history, related, now);
  SCOPED_TRACE(ExplainText(d, rules->zone()));

  const YAML::Node expect = spec["expect"];
  ASSERT_TRUE(expect.IsMap()) << "case without expect";
  for (auto it = expect.begin(); it != expect.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    const YAML::Node v = it->second;
    if (key == "outcome") {
      EXPECT_EQ(OutcomeName(d.outcome), OutcomeName(ParseOutcome(v.as<std::string>())));
    } else if (key == "reason") {
      EXPECT_EQ(d.reason, v.as<std::string>());
    } else if (key == "group") {
      EXPECT_EQ(d.group, v.IsNull() ? "" : v.as<std::string>());
    } else if (key == "send_at") {
      EXPECT_EQ(FormatRfc3339(d.send_at), FormatRfc3339(At(v.as<std::string>())));
    } else if (key == "expires_at") {
      EXPECT_EQ(FormatRfc3339(d.expires_at), FormatRfc3339(At(v.as<std::string>())));
    } else if (key == "language") {
      EXPECT_EQ(d.language, v.as<std::string>());
    } else if (key == "deferred") {
      EXPECT_EQ(d.deferred_by_quiet_hours, v.as<bool>());
    } else if (key == "trace") {
      EXPECT_EQ(d.trace, v.as<std::vector<std::string>>());
    } else if (key == "trace_contains") {
      for (const auto& rule : v.as<std::vector<std::string>>()) {
        EXPECT_NE(std::find(d.trace.begin(), d.trace.end(), rule), d.trace.end()) << rule;
      }
    } else if (key == "unknown_qualifiers") {
      EXPECT_EQ(d.unknown_qualifiers, v.as<std::vector<std::string>>());
    } else if (key == "text") {
      EXPECT_EQ(d.sms_template, v.as<std::string>());
    } else if (key == "text_contains") {
      for (const auto& part : v.as<std::vector<std::string>>()) {
        EXPECT_NE(d.sms_template.find(part), std::string::npos) << part << " in " << d.sms_template;
      }
    } else {
      ADD_FAILURE() << "unknown expect key in fixture: " << key;
    }
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(RulesDefaultPolicy, RulesCaseTest,
                         ::testing::ValuesIn(CasesOf("default_cases.yaml")), CaseName);
INSTANTIATE_TEST_SUITE_P(RulesStrictPolicy, RulesCaseTest,
                         ::testing::ValuesIn(CasesOf("strict_cases.yaml")), CaseName);

}  // namespace
}  // namespace surveyd::rules
