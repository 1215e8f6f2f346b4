// `surveyd rules check` and `surveyd rules explain` as an operator runs them (no database).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>

#include <unistd.h>

#include "surveyd/app/app.hpp"
#include "unit/app/run_cli.hpp"

namespace surveyd::app {
namespace {

using testing::Result;
using testing::RunCli;
using testing::Source;

class RulesCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The configuration is read with the environment on top: keep the operator's out of it.
    for (const char* name : {"SURVEYD_PUBLIC_BASE_URL", "SURVEYD_GATEWAY_SENDER", "SURVEYD_GATEWAY",
                             "SURVEYD_TWILIO_FROM"}) {
      unsetenv(name);
    }
    dir_ =
        std::filesystem::temp_directory_path() / ("surveyd-cli-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(RulesCliTest, ShippedRulesAndSampleCheckCleanly) {
  const Result r = RunCli({"rules", "check", Source("config/rules.yaml"), "--sample",
                           Source("config/type_codes.sample")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("config/type_codes.sample: 119 type codes\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("texts with a survey link of 65 characters (a 40-character placeholder "
                       "base URL: give -c CONFIG for the real one):\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  force_contact/en: 1 SMS (GSM-7, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  initial_investigation/pl: 1 SMS (GSM-7, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("OK: 3 groups, 17 exclusions, quiet 21:00-09:00 Europe/London\n"),
            std::string::npos)
      << r.out;
}

TEST_F(RulesCliTest, WarningsAreListedAsFileLineColumnAndDoNotFailTheCheck) {
  const std::string rules = Write("rules.yaml",
                                  "force_name: Test\n"
                                  "groups:\n"
                                  "  - id: c\n"
                                  "    name: C\n"
                                  "    trigger: call.ended\n"
                                  "    templates:\n"
                                  "      en: \"{force}: how did we do? ł {link}\"\n"
                                  "exclusions:\n"
                                  "  - {id: d, qualifiers: [NEW_FLAG], type_codes: [\"MISPER*\"]}\n"
                                  "quiet_hours: {enabled: false}\n");
  const std::string sample = Write("codes.txt", "MISSING-PER\nDOM-ABUSE\n");
  const std::string config = Write("surveyd.yaml",
                                   "http:\n  public_base_url: https://survey.example.org\n"
                                   "gateway:\n  sender: West Midlands Police\n");
  const Result r = RunCli({"rules", "check", rules, "--sample", sample, "-c", config});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(rules + ":9:26: warning: qualifier 'NEW_FLAG' is not one the feed "
                               "contract names"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(rules +
                       ":9:50: warning: type code pattern 'MISPER*' matches none of the 2 "
                       "codes in " +
                       sample),
            std::string::npos)
      << r.err;
  // 23 + 51 (the link) UCS-2 units: two segments of 67.
  EXPECT_NE(r.err.find(rules + ":7:11: warning: template c/en can take 2 SMS segments (74 UCS-2 "
                               "characters, one SMS holds 70)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(
      r.err.find(config + ": warning: gateway.sender (SURVEYD_GATEWAY_SENDER) 'West Midlands "
                          "Police': an alphanumeric sender has at most 11 characters, not 20"),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("texts with a survey link of 51 characters (https://survey.example.org/s/ "
                       "and a token):\n  c/en: 2 SMS segments (UCS-2, 74 UTF-16 units at most"),
            std::string::npos)
      << r.out;
  // The fifth: the file has no alerts: section (no answer would raise an alert).
  EXPECT_NE(r.err.find(rules + ": warning: no 'alerts:' section"), std::string::npos) << r.err;
  // The sixth: flags and type codes without `match: any` must then both hold.
  EXPECT_NE(r.err.find(rules + ":9:5: warning: exclusion 'd' gives qualifiers and type_codes "
                               "without 'match'"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("OK: 1 group, 1 exclusion, quiet none Europe/London (6 warnings)\n"),
            std::string::npos)
      << r.out;
}

TEST_F(RulesCliTest, TheSenderCheckedIsTheOneTheGatewaySendsFrom) {
  // Twilio sends from gateway.twilio.from: that is the one networks see.
  const std::string config =
      Write("surveyd.yaml", "gateway:\n  kind: twilio\n  twilio: {from: WestMidsPolice}\n");
  const Result r = RunCli({"rules", "check", Source("config/rules.yaml"), "-c", config});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, config +
                       ": warning: gateway.twilio.from (SURVEYD_TWILIO_FROM) 'WestMidsPolice': an "
                       "alphanumeric sender has at most 11 characters, not 14: networks cut or "
                       "refuse longer ones\n");
  EXPECT_NE(r.out.find("(1 warning)"), std::string::npos) << r.out;
}

// With the configuration, what a reload would refuse: rules that look back over a number for
// longer than retention keeps its hash (systemd's ExecReload runs this before the signal).
TEST_F(RulesCliTest, RulesRetentionCannotKeepFailTheCheckWithTheConfiguration) {
  const std::string config =
      Write("surveyd.yaml", "retention:\n  phone_hash_days: 20\n  number_grace_days: 10\n");
  const Result r = RunCli({"rules", "check", Source("config/rules.yaml"), "-c", config});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(config + ": retention.phone_hash_days (20) is shorter than the rules' "
                                "number_lookback_days (30)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("2 error(s) in"), std::string::npos) << r.err;
  EXPECT_EQ(RunCli({"rules", "check", Source("config/rules.yaml")}).code, 0) << "alone: fine";
}

TEST_F(RulesCliTest, ErrorsStillFailTheCheck) {
  const Result r =
      RunCli({"rules", "check", Source("tests/unit/rules/fixtures/invalid_values.yaml")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("invalid_values.yaml:4:12: unknown time zone"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error(s) in"), std::string::npos) << r.err;
}

TEST_F(RulesCliTest, ASyntaxErrorIsSaidOnce) {
  // The survey rules and the alerts: section are read from the same file, both fail on it.
  const std::string rules = Write("broken.yaml", "force_name: Test\ngroups:\n  - id: [c\n");
  const Result r = RunCli({"rules", "check", rules});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, rules +
                       ":3:9: YAML syntax error: this '[' is never closed (a ']' is missing "
                       "before line 4, where the parser gave up)\n1 error(s) in " +
                       rules + "\n");
}

TEST_F(RulesCliTest, UsageMistakes) {
  EXPECT_EQ(RunCli({"rules", "check"}).code, 2);
  EXPECT_EQ(RunCli({"rules", "check", Source("config/rules.yaml"), "--sample"}).code, 2);
  EXPECT_EQ(RunCli({"rules", "check", Source("config/rules.yaml"), "extra"}).code, 2);
  const Result unreadable =
      RunCli({"rules", "check", Source("config/rules.yaml"), "--sample", "/nonexistent/codes"});
  EXPECT_EQ(unreadable.code, 2);
  EXPECT_NE(unreadable.err.find("cannot read /nonexistent/codes"), std::string::npos);
  EXPECT_EQ(RunCli({"rules", "explain", Source("config/rules.yaml")}).code, 2);
  EXPECT_EQ(RunCli({"rules"}).code, 2);
}

// Help after any command is its usage and nothing else; a command that takes no more arguments
// refuses one before doing anything (no database is given: a command that ran would fail).
TEST_F(RulesCliTest, HelpIsOnlyHelpAndExtraArgumentsAreRefusedFirst) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"migrate", "--help"},
                                             {"serve", "-h"},
                                             {"rules", "check", "--help"},
                                             {"config", "check", "--help"},
                                             {"sends", "hold", "--help"},
                                             {"report", "--help"}}) {
    const Result help = RunCli(args);
    EXPECT_EQ(help.code, 0) << args[0] << ": " << help.err;
    EXPECT_NE(help.out.find("  " + args[0] + " "), std::string::npos) << help.out;
    EXPECT_TRUE(help.err.empty()) << help.err;
  }
  EXPECT_EQ(RunCli({"migrate", "--help"}).out.find("token"), std::string::npos)
      << "only the command's own lines";
  const Result extra = RunCli({"migrate", "--dry-run", "-c", Source("config/surveyd.yaml")}, "");
  EXPECT_EQ(extra.code, 2);
  EXPECT_NE(extra.err.find("surveyd migrate: unexpected argument '--dry-run'"), std::string::npos)
      << extra.err;
  // The number of an erasure from standard input: none there is a mistake, said before anything
  // is opened.
  const Result no_number =
      RunCli({"erase", "-c", Source("config/surveyd.yaml"), "--phone", "-", "--dry-run"}, "");
  EXPECT_EQ(no_number.code, 2);
  EXPECT_NE(no_number.err.find("surveyd erase: no number on standard input"), std::string::npos)
      << no_number.err;
  const Result directory = RunCli({"rules", "check", "/tmp"});
  EXPECT_EQ(directory.code, 1);
  EXPECT_NE(directory.err.find("/tmp: is a directory, not a rules file"), std::string::npos)
      << directory.err;
}

// Which pattern took a code, on the event or on the related event the trace names: an exclusion
// may have fifteen, and a stem inside a longer word ("*MENTAL*" in ENVIRONMENTAL) shows so.
TEST_F(RulesCliTest, ExplainNamesThePatternThatTookTheCode) {
  const std::string call =
      R"({"event_id":"CW-2-CE","type":"call.ended","occurred_at":"2026-11-26T10:00:00Z",)"
      R"("incident":{"id":"WMP-2","type_code":"ASB ENVIRONMENTAL","qualifiers":[]},)"
      R"("call":{"id":"C-2","channel":"101"},"caller":{"phone":"+447700900123"}})";
  const std::string closed =
      R"({"event_id":"CW-2-IC","type":"incident.closed","occurred_at":"2026-11-26T11:00:00Z",)"
      R"("incident":{"id":"WMP-2","type_code":"DOM-ABUSE","qualifiers":[]}})";
  const Result r = RunCli({"rules", "explain", Source("config/rules.yaml"), Write("e.json", call),
                           "--related", Write("r.ndjson", closed + "\n")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("type codes matched:\n"
                       "  exclusion:domestic_abuse@incident:CW-2-IC: type code 'DOM-ABUSE' "
                       "matches '*DOM*'\n"
                       "  exclusion:mental_health_suicide: type code 'ASB ENVIRONMENTAL' matches "
                       "'*MENTAL*'\n"),
            std::string::npos)
      << r.out;
}

TEST_F(RulesCliTest, ExplainWithRelatedEvents) {
  const std::string call =
      R"({"event_id":"CW-1-CE","type":"call.ended","occurred_at":"2026-11-26T10:00:00Z",)"
      R"("incident":{"id":"WMP-1","type_code":"BURG-RES","qualifiers":[]},)"
      R"("call":{"id":"C-1","channel":"101"},"caller":{"phone":"+447700900123"}})";
  const std::string later =
      R"({"event_id":"CW-1-RD","type":"resource.departed","occurred_at":"2026-11-26T10:00:30Z",)"
      R"("incident":{"id":"WMP-1","type_code":"BURG-RES","qualifiers":[" domestic "]},)"
      R"("resource":{"officer_id":"PC1"}})";
  const std::string other_incident =
      R"({"event_id":"CW-0-CE","type":"call.ended","occurred_at":"2026-11-20T10:00:00Z",)"
      R"("incident":{"id":"WMP-0","type_code":"ASB-NOISE","qualifiers":[]},)"
      R"("call":{"id":"C-0","channel":"101"},"caller":{"vulnerable":"yes"}})";
  const std::string event = Write("event.json", call);
  const std::string related = Write("related.ndjson", later + "\n\n" + other_incident + "\n");
  const Result r =
      RunCli({"rules", "explain", Source("config/rules.yaml"), event, "--related", related});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("reason:    exclusion:domestic_abuse\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exclusion:domestic_abuse@incident:CW-1-RD"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vulnerable@number:CW-0-CE"), std::string::npos) << r.out;

  const Result alone = RunCli({"rules", "explain", Source("config/rules.yaml"), "-"}, call);
  EXPECT_EQ(alone.code, 0) << alone.err;
  EXPECT_EQ(alone.out.find("@incident:"), std::string::npos) << alone.out;

  const std::string bad = Write("bad.ndjson", later + "\nnot json\n");
  const Result rejected =
      RunCli({"rules", "explain", Source("config/rules.yaml"), event, "--related", bad});
  EXPECT_EQ(rejected.code, 1);
  EXPECT_NE(rejected.err.find("line 2 is rejected: invalid JSON"), std::string::npos)
      << rejected.err;
}

// README.md's "Running surveyd" is where ops look first: it names every command of the help
// and every flag, and no flag the help does not have.
TEST(CliDocs, TheReadmeNamesEveryCommandAndFlagOfTheHelp) {
  std::ifstream file(Source("README.md"));
  const std::string readme{std::istreambuf_iterator<char>(file), {}};
  const auto section = readme.find("## Running surveyd");
  ASSERT_NE(section, std::string::npos) << "README.md has no \"## Running surveyd\"";
  const auto begin = readme.find("```", section);
  const auto end = readme.find("```", begin + 3);
  ASSERT_NE(end, std::string::npos) << "README.md's \"## Running surveyd\" has no command list";
  const std::string commands = readme.substr(begin, end - begin);
  const std::string help = RunCli({"--help"}).out;

  const std::regex command_line(R"((^|\n)  ([a-z]+)( [a-z]+)?[ \[-])");
  for (std::sregex_iterator it(help.begin(), help.end(), command_line), last; it != last; ++it) {
    const std::string command = "surveyd " + (*it)[2].str() + (*it)[3].str();
    EXPECT_NE(commands.find(command), std::string::npos) << command << " is not in README.md";
  }
  const std::regex flag("--[a-z][a-z-]*");
  const auto flags = [&flag](const std::string& text) {
    std::set<std::string> found;
    for (std::sregex_iterator it(text.begin(), text.end(), flag), last; it != last; ++it) {
      found.insert(it->str());
    }
    return found;
  };
  EXPECT_EQ(flags(commands), flags(help)) << "README.md's commands and surveyd --help";
}

}  // namespace
}  // namespace surveyd::app
