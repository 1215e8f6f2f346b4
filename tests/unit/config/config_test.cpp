#include "surveyd/config/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

namespace surveyd::config {
namespace {

std::string WriteTemp(const std::string& text) {
  char name[] = "/tmp/surveyd-config-XXXXXX";
  int fd = mkstemp(name);
  EXPECT_GE(fd, 0);
  std::ofstream(name) << text;
  close(fd);
  return name;
}

TEST(Config, DefaultsWithoutFile) {
  auto config = Load("", {});
  EXPECT_EQ(config.http.listen, "127.0.0.1:8080");
  EXPECT_EQ(config.gateway.kind, "wmnow");
  EXPECT_EQ(config.dispatch.max_attempts, 8);
}

TEST(Config, ShippedExampleLoads) {
  auto config = Load(std::string(SURVEYD_SOURCE_DIR) + "/config/surveyd.yaml", {});
  EXPECT_EQ(config.rules.path, "config/rules.yaml");
  EXPECT_EQ(config.gateway.wmnow_base_url, "http://127.0.0.1:8090");
  EXPECT_EQ(config.feed.batch_size, 500);
}

TEST(Config, EnvironmentOverridesFile) {
  auto path = WriteTemp("http:\n  listen: 0.0.0.0:9000\ndatabase:\n  url: postgresql:///a\n");
  auto config = Load(path, {{"SURVEYD_DATABASE_URL", "postgresql:///b"},
                            {"SURVEYD_PUBLIC_BASE_URL", "https://survey.example/"},
                            {"SURVEYD_GATEWAY", "wmnow"},
                            {"SURVEYD_WMNOW_API_KEY", "k"},
                            {"SURVEYD_FEED_SECRET", "s"},
                            {"SURVEYD_RULES", "/etc/surveyd/rules.yaml"},
                            {"SURVEYD_WMNOW_WEBHOOK_SECRET", "w"},
                            {"SURVEYD_WMNOW_BASE_URL", "https://api.wmnow.example"}});
  EXPECT_EQ(config.http.listen, "0.0.0.0:9000");
  EXPECT_EQ(config.database.url, "postgresql:///b");
  EXPECT_EQ(config.http.public_base_url, "https://survey.example");  // trailing slash dropped
  EXPECT_EQ(config.gateway.wmnow_api_key, "k");
  EXPECT_EQ(config.feed.secret, "s");
  EXPECT_EQ(config.rules.path, "/etc/surveyd/rules.yaml");
  EXPECT_EQ(config.gateway.wmnow_webhook_secret, "w");
  EXPECT_EQ(config.gateway.wmnow_base_url, "https://api.wmnow.example");
  std::remove(path.c_str());
}

TEST(Config, UnknownKeyNamesItsLine) {
  auto path = WriteTemp("http:\n  listen: 127.0.0.1:1\n  lisen: x\n");
  try {
    Load(path, {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":3:10: unknown setting 'http.lisen'");
  }
  std::remove(path.c_str());
}

TEST(Config, BadValuesAreClearErrors) {
  auto path = WriteTemp("dispatch:\n  workers: many\n");
  try {
    Load(path, {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              path + ":2:12: dispatch.workers: expected an integer, got 'many'");
  }
  std::remove(path.c_str());
  EXPECT_THROW(Load("", {{"SURVEYD_HTTP_LISTEN", "nonsense"}}), ConfigError);
  EXPECT_THROW(Load("", {{"SURVEYD_HTTP_LISTEN", "h:70000"}}), ConfigError);
  EXPECT_THROW(Load("", {{"SURVEYD_GATEWAY", "carrier-pigeon"}}), ConfigError);
  EXPECT_THROW(Load("", {{"SURVEYD_PUBLIC_BASE_URL", "ftp://x"}}), ConfigError);
  EXPECT_THROW(Load("/nonexistent/surveyd.yaml", {}), ConfigError);
}

TEST(Config, TrustedProxiesAreAList) {
  auto config = Load("", {{"SURVEYD_HTTP_TRUSTED_PROXIES", " 127.0.0.1, ::1 ,"}});
  EXPECT_EQ(config.http.trusted_proxies, (std::vector<std::string>{"127.0.0.1", "::1"}));
}

TEST(Config, SplitHostPort) {
  EXPECT_EQ(SplitHostPort("127.0.0.1:8080", "k"),
            std::make_pair(std::string("127.0.0.1"), std::uint16_t{8080}));
  EXPECT_EQ(SplitHostPort("[::1]:80", "k").first, "::1");
  EXPECT_THROW(SplitHostPort(":80", "k"), ConfigError);
  EXPECT_THROW(SplitHostPort("[::1]80", "k"), ConfigError);
}

TEST(Config, ServeNeedsSecrets) {
  auto config = Load("", {});
  auto problems = ValidateForServe(config);
  EXPECT_EQ(problems.size(), 5u);
  std::string key(40, 'k');
  config = Load("", {{"SURVEYD_TOKEN_SECRET", key},
                     {"SURVEYD_PHONE_HASH_KEY", key},
                     {"SURVEYD_FEED_SECRET", key},
                     {"SURVEYD_WMNOW_API_KEY", key},
                     {"SURVEYD_WMNOW_WEBHOOK_SECRET", key}});
  EXPECT_TRUE(ValidateForServe(config).empty());
}

TEST(Config, AnalystsKeysAndTheirLimits) {
  std::string key(40, 'k');
  std::map<std::string, std::string> env = {
      {"SURVEYD_TOKEN_SECRET", key},
      {"SURVEYD_PHONE_HASH_KEY", key},
      {"SURVEYD_FEED_SECRET", key},
      {"SURVEYD_WMNOW_API_KEY", key},
      {"SURVEYD_WMNOW_WEBHOOK_SECRET", key},
      {"SURVEYD_DATABASE_ANALYTICS_URL", "postgresql://replica/s"},
      {"SURVEYD_DATABASE_ANALYTICS_POOL_SIZE", "3"},
      {"SURVEYD_DATABASE_ANALYTICS_TIMEOUT_MS", "5000"},
      {"SURVEYD_API_MIN_CELL_SIZE", "5"},
      {"SURVEYD_API_BAD_TOKEN_LIMIT", "3"},
      {"SURVEYD_API_ANALYTICS_QUEUE", "1"}};
  auto config = Load("", env);
  EXPECT_EQ(config.database.analytics_url, "postgresql://replica/s");
  EXPECT_EQ(config.database.analytics_pool_size, 3);
  EXPECT_EQ(config.database.analytics_statement_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(config.api.min_cell_size, 5);
  EXPECT_EQ(config.api.bad_token_limit_per_minute, 3);
  EXPECT_EQ(config.api.analytics_queue, 1);
  EXPECT_TRUE(ValidateForServe(config).empty());
  // Analysts' requests must never be able to hold every HTTP worker.
  env["SURVEYD_API_ANALYTICS_QUEUE"] = "3";
  EXPECT_EQ(ValidateForServe(Load("", env)).size(), 1u);
  env["SURVEYD_API_ANALYTICS_QUEUE"] = "1";
  env["SURVEYD_API_BOOTSTRAP_TOKEN"] = "short";
  EXPECT_EQ(ValidateForServe(Load("", env)).size(), 1u);
  env["SURVEYD_API_MIN_CELL_SIZE"] = "0";
  EXPECT_THROW(Load("", env), ConfigError);
}

}  // namespace
}  // namespace surveyd::config
