// `surveyd config check` as an operator runs it, with the environment given (no database).
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "app/commands.hpp"
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

TEST(ConfigCheck, ASenderNetworksMayRefuseIsAWarning) {
  auto env = TwilioEnvironment();
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

}  // namespace
}  // namespace surveyd::app
