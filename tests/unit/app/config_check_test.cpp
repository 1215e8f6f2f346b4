// `surveyd config check` as an operator runs it, with the environment given (no database).
#include <gtest/gtest.h>
#include <algorithm>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "app/commands.hpp"
#include "fakes/test_ca.hpp"
#include "surveyd/rules/rules.hpp"
#include "unit/app/run_cli.hpp"

namespace surveyd::app {
namespace {

using testing::Source;

struct Checked {
  int code = 0;
  std::string out, err;
};

Checked Check(const std::map<std::string, std::string>& env) {
  std::ostringstream out, err;
  Checked checked;
  checked.code = ConfigCheck("", env, out, err);
  checked.out = out.str();
  checked.err = err.str();
  return checked;
}

// Everything serve needs, through Twilio.
std::map<std::string, std::string> TwilioEnvironment() {
  const std::string key(40, 'k');
  return {{"SURVEYD_TOKEN_SECRET", key},
          {"SURVEYD_PHONE_HASH_KEY", key},
          {"SURVEYD_FEED_SECRET", key},
          {"SURVEYD_PHONE_KEYS", "k1:" + std::string(64, 'a')},
          {"SURVEYD_RULES", Source("config/rules.yaml")},
          {"SURVEYD_GATEWAY", "twilio"},
          {"SURVEYD_TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"},
          {"SURVEYD_TWILIO_AUTH_TOKEN", key},
          {"SURVEYD_TWILIO_FROM", "WMPolice"}};
}

TEST(ConfigCheck, APageNamingTheForceOtherwiseThanItsTextsIsAWarning) {
  // As shipped the texts said "West Midlands Police" and the page "This survey is from Police".
  auto env = TwilioEnvironment();
  const Checked unset = Check(env);
  EXPECT_EQ(unset.code, 0) << unset.err;
  EXPECT_EQ(unset.out.find("force_name"), std::string::npos) << unset.out;
  env["SURVEYD_FORCE_NAME"] = "Police";
  const Checked other = Check(env);
  EXPECT_EQ(other.code, 0) << other.err;
  EXPECT_NE(other.out.find("the environment: warning: survey.force_name (SURVEYD_FORCE_NAME) "
                           "'Police' is not the rules' force_name 'West Midlands Police'"),
            std::string::npos)
      << other.out;
  env["SURVEYD_FORCE_NAME"] = "West Midlands Police";
  EXPECT_EQ(Check(env).out.find("force_name"), std::string::npos);

  config::Config config;
  const auto rules = rules::LoadFile(Source("config/rules.yaml")).rules;
  ASSERT_TRUE(rules);
  EXPECT_EQ(ForceName(config, *rules), "West Midlands Police") << "the texts' when unset";
  config.survey.force_name = "West Midlands Police Service";
  EXPECT_EQ(ForceName(config, *rules), "West Midlands Police Service");
}

TEST(ConfigCheck, ASenderNetworksMayRefuseIsAWarning) {
  auto env = TwilioEnvironment();
  env["SURVEYD_TWILIO_FROM"] = "+447700900001";  // the shipped texts ask for replies (STOP)
  const Checked fine = Check(env);
  EXPECT_EQ(fine.code, 0) << fine.err;
  EXPECT_EQ(fine.out.find("warning: gateway"), std::string::npos) << fine.out;

  env["SURVEYD_TWILIO_FROM"] = "WestMidsPolice";
  const Checked warned = Check(env);
  EXPECT_EQ(warned.code, 0) << warned.err;
  EXPECT_NE(warned.out.find("the environment: warning: gateway.twilio.from (SURVEYD_TWILIO_FROM) "
                            "'WestMidsPolice': an alphanumeric sender has at most 11 characters, "
                            "not 14"),
            std::string::npos)
      << warned.out;

  // WMNow and Kannel send from gateway.sender, said alongside the problems that stop serve.
  const Checked kannel =
      Check({{"SURVEYD_GATEWAY", "kannel"}, {"SURVEYD_GATEWAY_SENDER", "West Midlands Police"}});
  EXPECT_EQ(kannel.code, 1);
  EXPECT_NE(kannel.err.find("the environment: warning: gateway.sender (SURVEYD_GATEWAY_SENDER) "
                            "'West Midlands Police': an alphanumeric sender has at most 11 "
                            "characters, not 20"),
            std::string::npos)
      << kannel.err;
}

// What `rules check` warns of is said where ops look at start (ExecStartPre runs config check): a
// qualifier that will never match is an exclusion that stops nothing.
TEST(ConfigCheck, TheRulesWarningsAreSaid) {
  std::ifstream in(Source("config/rules.yaml"));
  std::stringstream text;
  text << in.rdbuf();
  std::string rules = text.str();
  const auto at = rules.find("qualifiers: [DOMESTIC, HONOUR_BASED]");
  ASSERT_NE(at, std::string::npos);
  rules.replace(at, 36, "qualifiers: [DOMESTIC, HONOUR_BASED, NEW_FLAG]");
  // The lexicon beside the shipped rules, named by its whole path.
  const std::string lexicon_line = "lexicon: alert_lexicon.yaml";
  const auto l = rules.find(lexicon_line);
  ASSERT_NE(l, std::string::npos);
  rules.replace(l, lexicon_line.size(), "lexicon: " + Source("config/alert_lexicon.yaml"));
  const std::string path = ::testing::TempDir() + "config_check_warned_rules.yaml";
  std::ofstream(path) << rules;
  auto env = TwilioEnvironment();
  env["SURVEYD_RULES"] = path;
  const Checked checked = Check(env);
  EXPECT_EQ(checked.code, 0) << checked.err;
  // Said at its line and column, whatever line the shipped rules have it on.
  const std::string line = std::to_string(std::count(rules.begin(), rules.begin() + at, '\n') + 1);
  EXPECT_NE(
      checked.out.find(":" + line +
                       ":42: warning: qualifier 'NEW_FLAG' is not one the feed contract names"),
      std::string::npos)
      << checked.out;
}

// Retention that drops a number's hash before the rules stop looking back over it would forget a
// domestic abuse flag, an under-16 or a recent survey while the rules still look for them.
TEST(ConfigCheck, RetentionShorterThanTheRulesLookBackIsAProblem) {
  auto env = TwilioEnvironment();
  env["SURVEYD_RETENTION_PHONE_HASH_DAYS"] = "20";
  env["SURVEYD_RETENTION_NUMBER_GRACE_DAYS"] = "10";
  const Checked checked = Check(env);
  EXPECT_EQ(checked.code, 1);
  EXPECT_NE(checked.err.find("retention.phone_hash_days (20) is shorter than the rules' "
                             "frequency_cap_days (90)"),
            std::string::npos)
      << checked.err;
  EXPECT_NE(checked.err.find("retention.phone_hash_days (20) is shorter than the rules' "
                             "number_lookback_days (30)"),
            std::string::npos)
      << checked.err;
}

// The shipped texts say "Reply STOP to opt out": a Twilio sender made of letters, which nobody can
// reply to, is warned of; with rules that ask for no reply (no STOP, no two-way group) it is not.
TEST(ConfigCheck, ALetteredSenderThatCannotTakeTheRepliesTheRulesAskForIsAWarning) {
  auto env = TwilioEnvironment();
  const Checked shipped = Check(env);
  EXPECT_EQ(shipped.code, 0) << shipped.err;
  EXPECT_NE(shipped.out.find("the environment: warning: gateway.twilio.from (SURVEYD_TWILIO_FROM) "
                             "'WMPolice': a sender made of letters cannot be replied to"),
            std::string::npos)
      << shipped.out;
  env["SURVEYD_RULES"] = Source("tests/unit/rules/fixtures/strict.yaml");
  const Checked no_replies = Check(env);
  EXPECT_EQ(no_replies.out.find("cannot be replied to"), std::string::npos) << no_replies.out;
}

// The rules file is read once, for its problems and for the sender's warning alike: rules on a
// pipe (SURVEYD_RULES=/dev/stdin), which read once, are checked whole and still warn of the
// lettered sender, where a second read would find no rules and so no replies asked for.
TEST(ConfigCheck, ReadsTheRulesFileOnceForTheProblemsAndTheSender) {
  auto env = TwilioEnvironment();
  const testing::PipedFile rules(testing::ShippedRulesWithTheLexiconInFull());
  env["SURVEYD_RULES"] = rules.Path();
  const Checked piped = Check(env);
  EXPECT_EQ(piped.code, 0) << piped.err;
  EXPECT_NE(piped.out.find("'WMPolice': a sender made of letters cannot be replied to"),
            std::string::npos)
      << piped.out;
}

// The CA files of the HTTPS clients: one that cannot be read is a problem named by its key, as
// the feed's and the relay's are; the webhook's only when there is a webhook.
TEST(ConfigCheck, AnUnreadableCaFileOfTheGatewayOrTheWebhookIsNamedByItsKey) {
  const surveyd::testing::TestCa ca;
  ASSERT_TRUE(ca.Made()) << ca.Problem();
  auto env = TwilioEnvironment();
  env["SURVEYD_GATEWAY_CA_FILE"] = ca.CaFile();
  env["SURVEYD_ALERT_WEBHOOK_CA_FILE"] = "/nonexistent/hook-ca.pem";
  const Checked readable = Check(env);
  EXPECT_EQ(readable.code, 0) << readable.err;

  env["SURVEYD_GATEWAY_CA_FILE"] = "/nonexistent/gateway-ca.pem";
  env["SURVEYD_ALERT_WEBHOOK_URL"] = "https://alerts.force.example/hook";
  env["SURVEYD_ALERT_WEBHOOK_SECRET"] = std::string(40, 'w');
  const Checked unreadable = Check(env);
  EXPECT_EQ(unreadable.code, 1);
  EXPECT_NE(
      unreadable.err.find("surveyd: gateway.ca_file: cannot read '/nonexistent/gateway-ca.pem'"),
      std::string::npos)
      << unreadable.err;
  EXPECT_NE(unreadable.err.find(
                "surveyd: alerts.webhook_ca_file: cannot read '/nonexistent/hook-ca.pem'"),
            std::string::npos)
      << unreadable.err;
}

// A CA file that reads but holds no certificate (the key, the config, a DER file named by mistake)
// would fail only at the first send or alert: `config check` says so first, for each client.
TEST(ConfigCheck, ACaFileWithoutACertificateIsNamedByItsKey) {
  const surveyd::testing::TestCa ca;
  ASSERT_TRUE(ca.Made()) << ca.Problem();
  auto env = TwilioEnvironment();
  env["SURVEYD_GATEWAY_CA_FILE"] = ca.KeyFile();
  env["SURVEYD_ALERT_WEBHOOK_URL"] = "https://alerts.force.example/hook";
  env["SURVEYD_ALERT_WEBHOOK_SECRET"] = std::string(40, 'w');
  env["SURVEYD_ALERT_WEBHOOK_CA_FILE"] = Source("config/surveyd.yaml");
  const Checked checked = Check(env);
  EXPECT_EQ(checked.code, 1);
  EXPECT_NE(
      checked.err.find("surveyd: gateway.ca_file: '" + ca.KeyFile() + "' holds no PEM certificate"),
      std::string::npos)
      << checked.err;
  EXPECT_NE(checked.err.find("surveyd: alerts.webhook_ca_file: '" + Source("config/surveyd.yaml") +
                             "' holds no PEM certificate"),
            std::string::npos)
      << checked.err;
}

}  // namespace
}  // namespace surveyd::app
