#include "surveyd/config/config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

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
  // Next to the configuration file, wherever the service starts.
  EXPECT_EQ(config.rules.path, std::string(SURVEYD_SOURCE_DIR) + "/config/rules.yaml");
  EXPECT_EQ(config.gateway.wmnow.base_url, "http://127.0.0.1:8090");
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
  EXPECT_EQ(config.gateway.wmnow.api_key, "k");
  EXPECT_EQ(config.feed.secret, "s");
  EXPECT_EQ(config.rules.path, "/etc/surveyd/rules.yaml");
  EXPECT_EQ(config.gateway.wmnow.webhook_secret, "w");
  EXPECT_EQ(config.gateway.wmnow.base_url, "https://api.wmnow.example");
  std::remove(path.c_str());
}

TEST(Config, FilesNamedInTheFileAreFoundNextToIt) {
  const auto path = WriteTemp(
      "rules:\n  path: rules.yaml\nhttp:\n  tls_cert_file: tls/cert.pem\n"
      "  tls_key_file: /etc/ssl/key.pem\nsmtp:\n  ca_file: ca.pem\n");
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const auto config = Load(path, {});
  EXPECT_EQ(config.rules.path, dir + "/rules.yaml");
  EXPECT_EQ(config.http.tls_cert_file, dir + "/tls/cert.pem");
  EXPECT_EQ(config.http.tls_key_file, "/etc/ssl/key.pem");  // absolute: as written
  EXPECT_EQ(config.smtp.ca_file, dir + "/ca.pem");
  // From the environment: from the working directory, as a shell user means it.
  EXPECT_EQ(Load(path, {{"SURVEYD_RULES", "mine/rules.yaml"}}).rules.path, "mine/rules.yaml");
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

TEST(Config, SyntaxErrorsNameTheirLineAndAMissingFileSaysSo) {
  auto path = WriteTemp("http:\n  trusted_proxies: [10.0.0.1, 10.0.0.2\nfeed:\n  listen: x\n");
  auto result = LoadAll(path, {});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0],
            path +
                ":2:20: YAML syntax error: this '[' is never closed (a ']' is missing before "
                "line 3, where the parser gave up)");
  std::remove(path.c_str());
  result = LoadAll(path, {});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0], path + ": cannot read the file");
}

// A key or section given twice, or a directory for the file: an error, never a guess.
TEST(Config, AKeyGivenTwiceOrADirectoryIsRefused) {
  auto path = WriteTemp("http:\n  listen: 127.0.0.1:8080\nhttp:\n  listen: 127.0.0.1:9999\n");
  auto result = LoadAll(path, {});
  ASSERT_FALSE(result.errors.empty());
  EXPECT_EQ(result.errors[0], path +
                                  ":3:1: 'http' is given twice (first on line 1): which one is "
                                  "meant cannot be told");
  std::remove(path.c_str());
  path = WriteTemp("http:\n  listen: 127.0.0.1:8080\n  listen: 127.0.0.1:9999\n");
  result = LoadAll(path, {});
  ASSERT_FALSE(result.errors.empty());
  EXPECT_EQ(result.errors[0], path +
                                  ":3:3: 'http.listen' is given twice (first on line 2): which "
                                  "one is meant cannot be told");
  std::remove(path.c_str());
  result = LoadAll("/tmp", {});
  ASSERT_FALSE(result.errors.empty());
  EXPECT_EQ(result.errors[0], "/tmp: is a directory, not a configuration file");
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

// A retention period past what PostgreSQL can subtract from now made every pass fail, after
// `config check` had passed it: each *_days setting stops at 100 years, and says so.
TEST(Config, RetentionPeriodsStopAtAHundredYears) {
  EXPECT_EQ(Load("", {{"SURVEYD_RETENTION_FACTS_DAYS", "36500"}}).retention.facts_days, 36500);
  try {
    Load("", {{"SURVEYD_RETENTION_FACTS_DAYS", "1000000"}});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "environment SURVEYD_RETENTION_FACTS_DAYS: retention.facts_days: must be at most "
              "36500 days (100 years), got 1000000");
  }
  auto path = WriteTemp("retention:\n  comment_days: 999999999\n");
  try {
    Load(path, {});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("retention.comment_days: must be at most 36500 days"),
              std::string::npos)
        << e.what();
  }
  std::remove(path.c_str());
  for (const char* key : {"SURVEYD_RETENTION_NUMBER_GRACE_DAYS",
                          "SURVEYD_RETENTION_PHONE_HASH_DAYS", "SURVEYD_RETENTION_RAW_DAYS",
                          "SURVEYD_RETENTION_REJECTED_DAYS", "SURVEYD_RETENTION_FACTS_DAYS",
                          "SURVEYD_RETENTION_COMMENT_DAYS", "SURVEYD_RETENTION_REPLY_DAYS"}) {
    EXPECT_THROW(Load("", {{key, "36501"}}), ConfigError) << key;
  }
}

TEST(Config, TrustedProxiesAreAList) {
  auto config = Load("", {{"SURVEYD_HTTP_TRUSTED_PROXIES", " 127.0.0.1, ::1 ,"}});
  EXPECT_EQ(config.http.trusted_proxies, (std::vector<std::string>{"127.0.0.1", "::1"}));
}

TEST(Config, TrustedProxiesAreAddressesOrRanges) {
  const auto config = Load("", {{"SURVEYD_HTTP_TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::1"}});
  EXPECT_EQ(config.http.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "2001:db8::1"}));
  // A name, or a typo, would trust nobody: the proxy would be capped as one client.
  for (const char* bad : {"lb.internal", "10.0.0.0/33", "10.0.0.1,10.0.0.x"}) {
    try {
      Load("", {{"SURVEYD_HTTP_TRUSTED_PROXIES", bad}});
      ADD_FAILURE() << bad << " was taken";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("http.trusted_proxies"), std::string::npos) << e.what();
    }
  }
}

// The message of the ConfigError `env` raises, or "" when it loads.
std::string LoadError(const std::map<std::string, std::string>& env, const std::string& path = "") {
  try {
    Load(path, env);
    return "";
  } catch (const ConfigError& e) {
    return e.what();
  }
}

TEST(Config, ConnectionsPerClient) {
  EXPECT_EQ(Load("", {}).http.max_connections_per_client, 64);
  EXPECT_EQ(Load("", {{"SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT", "200"}})
                .http.max_connections_per_client,
            200);
  // As many as the instance has is allowed (no cap of its own); left unset under a smaller
  // instance, the default comes down to it rather than failing a setting nobody wrote.
  EXPECT_EQ(Load("", {{"SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT", "1000"}})
                .http.max_connections_per_client,
            1000);
  EXPECT_EQ(Load("", {{"SURVEYD_HTTP_MAX_CONNECTIONS", "32"}}).http.max_connections_per_client, 32);

  for (const char* bad : {"0", "-1", "many"}) {
    const auto error = LoadError({{"SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT", bad}});
    EXPECT_NE(error.find("http.max_connections_per_client"), std::string::npos) << bad << error;
  }
  const auto over = LoadError({{"SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT", "1001"}});
  EXPECT_NE(over.find("http.max_connections_per_client (SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT) "
                      "is 1001, more than http.max_connections (1000)"),
            std::string::npos)
      << over;
  // In the file, the same, whichever of the two is lowered.
  const auto path = WriteTemp("http:\n  max_connections: 50\n  max_connections_per_client: 64\n");
  const auto in_file = LoadError({}, path);
  EXPECT_NE(in_file.find("is 64, more than http.max_connections (50)"), std::string::npos)
      << in_file;
  EXPECT_EQ(LoadError({{"SURVEYD_HTTP_MAX_CONNECTIONS", "64"}}, path), "");
  std::remove(path.c_str());
}

TEST(Config, AlertEmailsByKind) {
  auto config = Load("", {{"SURVEYD_ALERT_EMAIL_BY_KIND",
                           "safeguarding=mash@force.example, complaint = psd@force.example,"
                           "safeguarding=duty@force.example"}});
  EXPECT_EQ(config.alerts.email_by_kind,
            (std::map<std::string, std::vector<std::string>>{
                {"complaint", {"psd@force.example"}},
                {"safeguarding", {"mash@force.example", "duty@force.example"}}}));
  try {
    Load("", {{"SURVEYD_ALERT_EMAIL_BY_KIND", "praise=team@force.example"}});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'praise=team@force.example'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Load("", {{"SURVEYD_ALERT_EMAIL_BY_KIND", "complaint"}}), ConfigError);
  EXPECT_THROW(Load("", {{"SURVEYD_ALERT_EMAIL_BY_KIND", "complaint=not an address"}}),
               ConfigError);
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
  EXPECT_EQ(problems.size(), 6u);
  std::string key(40, 'k');
  config = Load("", {{"SURVEYD_TOKEN_SECRET", key},
                     {"SURVEYD_PHONE_HASH_KEY", key},
                     {"SURVEYD_FEED_SECRET", key},
                     {"SURVEYD_WMNOW_API_KEY", key},
                     {"SURVEYD_WMNOW_WEBHOOK_SECRET", key},
                     {"SURVEYD_PHONE_KEYS", "k1:" + std::string(64, 'a')}});
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
      {"SURVEYD_PHONE_KEYS", "k1:" + std::string(64, 'a')},
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
  env["SURVEYD_HTTP_WORKER_THREADS"] = "6";
  env["SURVEYD_API_ANALYTICS_QUEUE"] = "3";
  EXPECT_EQ(ValidateForServe(Load("", env)).size(), 1u);
  env["SURVEYD_API_ANALYTICS_QUEUE"] = "1";
  env["SURVEYD_API_BOOTSTRAP_TOKEN"] = "short";
  EXPECT_EQ(ValidateForServe(Load("", env)).size(), 1u);
  env["SURVEYD_API_MIN_CELL_SIZE"] = "0";
  EXPECT_THROW(Load("", env), ConfigError);
}

TEST(Config, RecognitionMayNotShowWhatTheFiguresHide) {
  std::map<std::string, std::string> env = {{"SURVEYD_API_MIN_CELL_SIZE", "10"},
                                            {"SURVEYD_RECOGNITION_MIN_CELL_SIZE", "5"}};
  try {
    Load("", env);
    ADD_FAILURE() << "a recognition minimum below the figures' was taken";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("recognition.min_cell_size"), std::string::npos) << message;
    EXPECT_NE(message.find("api.min_cell_size (10)"), std::string::npos) << message;
  }
  env["SURVEYD_RECOGNITION_MIN_CELL_SIZE"] = "10";
  EXPECT_EQ(Load("", env).recognition.min_cell_size, 10);
  env["SURVEYD_API_MIN_CELL_SIZE"] = "1";  // as the demo runs: both from the first answer
  env["SURVEYD_RECOGNITION_MIN_CELL_SIZE"] = "1";
  EXPECT_EQ(Load("", env).recognition.min_cell_size, 1);
  // In the file, the same.
  const auto path = WriteTemp("api:\n  min_cell_size: 20\n");
  EXPECT_THROW(Load(path, {}), ConfigError);
  std::remove(path.c_str());
}

TEST(Config, LoadLimitsAndTimeouts) {
  const auto config = Load("", {{"SURVEYD_HTTP_MAX_CONNECTIONS", "64"},
                                {"SURVEYD_HTTP_IO_THREADS", "2"},
                                {"SURVEYD_DATABASE_STATEMENT_TIMEOUT_MS", "1500"},
                                {"SURVEYD_DATABASE_ACQUIRE_TIMEOUT_MS", "250"},
                                {"SURVEYD_SURVEY_CACHE_TTL_MS", "0"}});
  EXPECT_EQ(config.http.max_connections, 64);
  EXPECT_EQ(config.http.io_threads, 2);
  EXPECT_EQ(config.database.statement_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(config.database.acquire_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(config.survey.cache_ttl, std::chrono::milliseconds(0));
  EXPECT_THROW(Load("", {{"SURVEYD_HTTP_MAX_CONNECTIONS", "0"}}), ConfigError);
  EXPECT_THROW(Load("", {{"SURVEYD_DATABASE_STATEMENT_TIMEOUT_MS", "-1"}}), ConfigError);
  EXPECT_THROW(Load("", {{"SURVEYD_SURVEY_CACHE_TTL_MS", "-5"}}), ConfigError);
}

TEST(Config, ServeChecksTheFeedsTlsFiles) {
  const std::string key(40, 'k');
  std::map<std::string, std::string> env = {
      {"SURVEYD_TOKEN_SECRET", key},         {"SURVEYD_PHONE_HASH_KEY", key},
      {"SURVEYD_FEED_SECRET", key},          {"SURVEYD_WMNOW_API_KEY", key},
      {"SURVEYD_WMNOW_WEBHOOK_SECRET", key}, {"SURVEYD_FEED_TCP", "cad.example:7000"},
      {"SURVEYD_FEED_TLS", "true"},          {"SURVEYD_PHONE_KEYS", "k1:" + std::string(64, 'a')}};
  const std::string readable = std::string(SURVEYD_SOURCE_DIR) + "/config/surveyd.yaml";
  auto problems = [&](std::map<std::string, std::string> extra) {
    auto all = env;
    for (auto& [name, value] : extra) all[name] = value;
    return ValidateForServe(Load("", all));
  };
  EXPECT_TRUE(problems({{"SURVEYD_FEED_TLS_CA_FILE", readable}}).empty());
  // The shipped file names /etc/surveyd/feed-ca.pem: missing here, and refused.
  const auto missing = problems({{"SURVEYD_FEED_TLS_CA_FILE", "/nonexistent/feed-ca.pem"}});
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("feed.tls_ca_file: cannot read"), std::string::npos) << missing[0];
  // Mutual TLS needs both halves, and TLS.
  const auto half = problems({{"SURVEYD_FEED_TLS_CERT_FILE", readable}});
  ASSERT_EQ(half.size(), 1u);
  EXPECT_NE(half[0].find("go together"), std::string::npos) << half[0];
  EXPECT_TRUE(
      problems({{"SURVEYD_FEED_TLS_CERT_FILE", readable}, {"SURVEYD_FEED_TLS_KEY_FILE", readable}})
          .empty());
  EXPECT_FALSE(problems({{"SURVEYD_FEED_TLS", "false"},
                         {"SURVEYD_FEED_TLS_CERT_FILE", readable},
                         {"SURVEYD_FEED_TLS_KEY_FILE", readable}})
                   .empty());
  // The relay's CA, the same way.
  const std::map<std::string, std::string> feed_ca = {{"SURVEYD_FEED_TLS_CA_FILE", readable}};
  auto smtp = feed_ca;
  smtp["SURVEYD_SMTP_HOST"] = "smtp.example";
  smtp["SURVEYD_SMTP_CA_FILE"] = readable;
  EXPECT_TRUE(problems(smtp).empty());
  smtp["SURVEYD_SMTP_CA_FILE"] = "/nonexistent/relay-ca.pem";
  const auto relay = problems(smtp);
  ASSERT_EQ(relay.size(), 1u);
  EXPECT_NE(relay[0].find("smtp.ca_file: cannot read"), std::string::npos) << relay[0];
}

// The HTTPS clients' own CAs (a gateway or a webhook receiver certified by the force's CA):
// beside the configuration file when relative, from the environment as given, and empty (the
// system's CAs) by default.
TEST(Config, TheGatewayAndWebhookCaFilesFromTheFileAndTheEnvironment) {
  EXPECT_EQ(Load("", {}).gateway.ca_file, "");
  EXPECT_EQ(Load("", {}).alerts.webhook_ca_file, "");
  const auto path = WriteTemp(
      "gateway:\n  ca_file: force-ca.pem\nalerts:\n  webhook_ca_file: /etc/surveyd/hook-ca.pem\n");
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const auto from_file = Load(path, {});
  EXPECT_EQ(from_file.gateway.ca_file, dir + "/force-ca.pem");
  EXPECT_EQ(from_file.alerts.webhook_ca_file, "/etc/surveyd/hook-ca.pem");
  const auto from_env = Load(path, {{"SURVEYD_GATEWAY_CA_FILE", "/etc/ssl/force-ca.pem"},
                                    {"SURVEYD_ALERT_WEBHOOK_CA_FILE", "ca/hook.pem"}});
  EXPECT_EQ(from_env.gateway.ca_file, "/etc/ssl/force-ca.pem");
  EXPECT_EQ(from_env.alerts.webhook_ca_file, "ca/hook.pem");
  std::remove(path.c_str());
}

TEST(Config, ServeChecksTheGatewayAndWebhookCaFiles) {
  const std::string key(40, 'k');
  const std::map<std::string, std::string> env = {
      {"SURVEYD_TOKEN_SECRET", key},         {"SURVEYD_PHONE_HASH_KEY", key},
      {"SURVEYD_FEED_SECRET", key},          {"SURVEYD_WMNOW_API_KEY", key},
      {"SURVEYD_WMNOW_WEBHOOK_SECRET", key}, {"SURVEYD_PHONE_KEYS", "k1:" + std::string(64, 'a')}};
  const std::string readable = std::string(SURVEYD_SOURCE_DIR) + "/config/surveyd.yaml";
  auto problems = [&](std::map<std::string, std::string> extra) {
    extra.insert(env.begin(), env.end());
    return ValidateForServe(Load("", extra));
  };
  EXPECT_TRUE(problems({{"SURVEYD_GATEWAY_CA_FILE", readable}}).empty());
  const auto gateway = problems({{"SURVEYD_GATEWAY_CA_FILE", "/nonexistent/gateway-ca.pem"}});
  ASSERT_EQ(gateway.size(), 1u);
  EXPECT_EQ(gateway[0], "gateway.ca_file: cannot read '/nonexistent/gateway-ca.pem'");
  // The webhook's, only when there is a webhook to send to.
  const std::map<std::string, std::string> hook = {
      {"SURVEYD_ALERT_WEBHOOK_CA_FILE", "/nonexistent/hook-ca.pem"}};
  EXPECT_TRUE(problems(hook).empty());
  auto with_url = hook;
  with_url["SURVEYD_ALERT_WEBHOOK_URL"] = "https://alerts.force.example/hook";
  with_url["SURVEYD_ALERT_WEBHOOK_SECRET"] = key;
  const auto webhook = problems(with_url);
  ASSERT_EQ(webhook.size(), 1u);
  EXPECT_EQ(webhook[0], "alerts.webhook_ca_file: cannot read '/nonexistent/hook-ca.pem'");
  with_url["SURVEYD_ALERT_WEBHOOK_CA_FILE"] = readable;
  EXPECT_TRUE(problems(with_url).empty());
}

TEST(Config, AVariableSurveydDoesNotReadIsNamedWithTheOneItWasMeantAs) {
  const auto unknown = UnknownVariables({{"SURVEYD_FEED_SILENCE_TIMEOUT_S", "5"},
                                         {"SURVEYD_GATEWAY_RATE", "10"},
                                         {"SURVEYD_TOKEN_SECRET_FILE", "/run/secrets/t"},
                                         {"SURVEYD_FAILPOINT", "x"},
                                         {"SURVEYD_SOMETHING_ELSE", "1"},
                                         {"CREDENTIALS_DIRECTORY", "/run/credentials"}});
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0],
            "SURVEYD_FEED_SILENCE_TIMEOUT_S is set but is no variable surveyd reads (did you mean "
            "SURVEYD_FEED_SILENCE_TIMEOUT?)");
  EXPECT_EQ(unknown[1], "SURVEYD_SOMETHING_ELSE is set but is no variable surveyd reads");
}

// Issue 7 pins these variables.
TEST(Config, KannelSectionFromTheEnvironment) {
  const std::string secret = "kannel-secret-0123456789";
  auto config = Load(std::string(SURVEYD_SOURCE_DIR) + "/config/surveyd.yaml",
                     {{"SURVEYD_GATEWAY", "kannel"},
                      {"SURVEYD_KANNEL_SENDSMS_URL", "http://10.0.0.5:13013/cgi-bin/sendsms"},
                      {"SURVEYD_KANNEL_USERNAME", "surveyd"},
                      {"SURVEYD_KANNEL_PASSWORD", "pw"},
                      {"SURVEYD_KANNEL_WEBHOOK_SECRET", secret},
                      {"SURVEYD_KANNEL_CALLBACK_BASE_URL", "http://surveyd:8080"}});
  EXPECT_EQ(config.gateway.kind, "kannel");
  EXPECT_EQ(config.gateway.kannel.callback_base_url, "http://surveyd:8080");
  EXPECT_EQ(config.gateway.kannel.sendsms_url, "http://10.0.0.5:13013/cgi-bin/sendsms");
  EXPECT_EQ(config.gateway.kannel.username, "surveyd");
  EXPECT_EQ(config.gateway.kannel.password, "pw");
  EXPECT_EQ(config.gateway.kannel.webhook_secret, secret);
  EXPECT_THROW(Load("", {{"SURVEYD_KANNEL_SENDSMS_URL", "10.0.0.5:13013"}}), ConfigError);
}

TEST(Config, TwilioSectionFromTheEnvironment) {
  auto config = Load(std::string(SURVEYD_SOURCE_DIR) + "/config/surveyd.yaml",
                     {{"SURVEYD_GATEWAY", "twilio"},
                      {"SURVEYD_TWILIO_BASE_URL", "http://127.0.0.1:8091"},
                      {"SURVEYD_TWILIO_ACCOUNT_SID", "AC123"},
                      {"SURVEYD_TWILIO_AUTH_TOKEN", "token-token-token-token"},
                      {"SURVEYD_TWILIO_FROM", "+447700900001"}});
  EXPECT_EQ(config.gateway.kind, "twilio");
  EXPECT_EQ(config.gateway.twilio.base_url, "http://127.0.0.1:8091");
  EXPECT_EQ(config.gateway.twilio.account_sid, "AC123");
  EXPECT_EQ(config.gateway.twilio.auth_token, "token-token-token-token");
  EXPECT_EQ(config.gateway.twilio.from, "+447700900001");
  EXPECT_EQ(Load("", {}).gateway.twilio.base_url, "https://api.twilio.com");
}

// Links over plain HTTP are said only for another machine than this one, and a page without a
// privacy notice always.
TEST(Config, PageWarningsNamePlainLinksToAnotherMachineAndAMissingPrivacyNotice) {
  const auto with = [](const std::string& base, const std::string& privacy) {
    return PageWarnings(
        Load("", {{"SURVEYD_PUBLIC_BASE_URL", base}, {"SURVEYD_PRIVACY_URL", privacy}}));
  };
  const std::string notice = "https://www.example.police.uk/privacy";
  for (const char* local : {"http://127.0.0.1:8080", "http://localhost", "http://[::1]:8080/x"}) {
    EXPECT_TRUE(with(local, notice).empty()) << local;
  }
  EXPECT_TRUE(with("https://survey.example.police.uk", notice).empty());
  const auto plain = with("http://survey.example.police.uk:8080/", notice);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].rfind("http.public_base_url (SURVEYD_PUBLIC_BASE_URL) "
                           "'http://survey.example.police.uk:8080' is plain HTTP",
                           0),
            0u)
      << plain[0];
  EXPECT_EQ(with("http://10.0.0.5", notice).size(), 1u) << "a private address is another machine";
  const auto no_notice = with("https://survey.example.police.uk", "");
  ASSERT_EQ(no_notice.size(), 1u);
  EXPECT_EQ(no_notice[0].rfind("survey.privacy_url (SURVEYD_PRIVACY_URL) is empty", 0), 0u)
      << no_notice[0];
  // It ends saying what to give, not cut off mid-sentence ("give the force's").
  EXPECT_NE(no_notice[0].find("give the address of the force's (https://...)"), std::string::npos)
      << no_notice[0];
}

// The sender of the gateway in use, and only that one, is checked against what networks take.
TEST(Config, SenderWarningsNameTheSenderTheGatewayUses) {
  const std::string long_name = "West Midlands Police";
  EXPECT_TRUE(SenderWarnings(Load("", {})).empty()) << "the default, Police, is fine";
  for (const char* kind : {"wmnow", "kannel"}) {
    const auto warnings = SenderWarnings(
        Load("", {{"SURVEYD_GATEWAY", kind}, {"SURVEYD_GATEWAY_SENDER", long_name}}));
    ASSERT_EQ(warnings.size(), 1u) << kind;
    EXPECT_EQ(warnings[0],
              "gateway.sender (SURVEYD_GATEWAY_SENDER) 'West Midlands Police': an alphanumeric "
              "sender has at most 11 characters, not 20: networks cut or refuse longer ones");
  }
  const auto twilio = [](const std::string& from) {
    return SenderWarnings(Load("", {{"SURVEYD_GATEWAY", "twilio"},
                                    {"SURVEYD_TWILIO_FROM", from},
                                    {"SURVEYD_GATEWAY_SENDER", "West Midlands Police"}}));
  };
  const auto warnings = twilio("WestMidsPolice");
  ASSERT_EQ(warnings.size(), 1u) << "Twilio's own sender only, not gateway.sender";
  EXPECT_EQ(warnings[0],
            "gateway.twilio.from (SURVEYD_TWILIO_FROM) 'WestMidsPolice': an alphanumeric sender "
            "has at most 11 characters, not 14: networks cut or refuse longer ones");
  EXPECT_TRUE(twilio("WMPolice").empty());
  EXPECT_TRUE(twilio("+447700900001").empty());
  EXPECT_TRUE(twilio("MG" + std::string(32, 'a')).empty()) << "a messaging service";
  EXPECT_EQ(twilio("MG" + std::string(32, 'z')).size(), 1u) << "not hex: a sender name";
  EXPECT_EQ(twilio("Police!").size(), 1u);
}

// The audit: texts that say "Reply STOP" sent from "Police" through Twilio, whose networks never
// pass a reply to a sender made of letters: the STOP (and a two-way answer) would never arrive.
// Warned when the rules ask for replies, for the gateways that cannot take them; WMNow's contract
// says it can.
TEST(Config, SenderWarningsSayWhenRepliesCannotReachALetteredSender) {
  const auto warn = [](const std::string& kind, const std::string& sender, bool replies) {
    return SenderWarnings(Load("", {{"SURVEYD_GATEWAY", kind},
                                    {"SURVEYD_GATEWAY_SENDER", sender},
                                    {"SURVEYD_TWILIO_FROM", sender}}),
                          replies);
  };
  const auto twilio = warn("twilio", "WMPolice", true);
  ASSERT_EQ(twilio.size(), 1u);
  EXPECT_EQ(twilio[0].rfind("gateway.twilio.from (SURVEYD_TWILIO_FROM) 'WMPolice': a sender made "
                            "of letters cannot be replied to (Twilio never passes them on), yet "
                            "the rules ask for replies",
                            0),
            0u)
      << twilio[0];
  const auto kannel = warn("kannel", "Police", true);
  ASSERT_EQ(kannel.size(), 1u);
  EXPECT_NE(kannel[0].find("gateway.sender (SURVEYD_GATEWAY_SENDER) 'Police': a sender made of "
                           "letters cannot be replied to"),
            std::string::npos)
      << kannel[0];
  EXPECT_TRUE(warn("wmnow", "Police", true).empty()) << "WMNow takes replies to its sender id";
  EXPECT_TRUE(warn("twilio", "WMPolice", false).empty()) << "no replies asked for";
  EXPECT_TRUE(warn("kannel", "Police", false).empty());
  EXPECT_TRUE(warn("twilio", "+447700900001", true).empty()) << "a number takes replies";
  EXPECT_TRUE(warn("kannel", "60001", true).empty()) << "a short code too";
}

// Serving checks the secrets of the adapter in use, and only those.
TEST(Config, ServeChecksTheChosenAdaptersSecrets) {
  const std::string key(40, 'k');
  const std::map<std::string, std::string> common = {
      {"SURVEYD_TOKEN_SECRET", key},
      {"SURVEYD_PHONE_HASH_KEY", key},
      {"SURVEYD_FEED_SECRET", key},
      {"SURVEYD_PHONE_KEYS", "k1:" + std::string(64, 'a')}};
  auto with = [&](std::map<std::string, std::string> extra) {
    extra.insert(common.begin(), common.end());
    return ValidateForServe(Load("", extra));
  };
  auto names = [](const std::vector<std::string>& problems) {
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    return all;
  };

  auto problems = with({{"SURVEYD_GATEWAY", "kannel"}});
  EXPECT_EQ(problems.size(), 3u) << names(problems);
  EXPECT_NE(names(problems).find("SURVEYD_KANNEL_USERNAME"), std::string::npos);
  EXPECT_NE(names(problems).find("SURVEYD_KANNEL_PASSWORD"), std::string::npos);
  EXPECT_NE(names(problems).find("SURVEYD_KANNEL_WEBHOOK_SECRET"), std::string::npos);
  EXPECT_EQ(names(problems).find("WMNOW"), std::string::npos);
  const std::map<std::string, std::string> kannel = {{"SURVEYD_GATEWAY", "kannel"},
                                                     {"SURVEYD_KANNEL_USERNAME", "u"},
                                                     {"SURVEYD_KANNEL_PASSWORD", "p"}};
  auto kannel_with_secret = [&](const std::string& secret) {
    auto env = kannel;
    env["SURVEYD_KANNEL_WEBHOOK_SECRET"] = secret;
    return with(env);
  };
  EXPECT_TRUE(kannel_with_secret("0123456789abcdef-._~XYZ").empty());
  EXPECT_EQ(kannel_with_secret("short").size(), 1u);
  // '%' and '&' would meet Kannel's escapes and the query string.
  EXPECT_EQ(kannel_with_secret("0123456789abcdef%d").size(), 1u);
  EXPECT_EQ(kannel_with_secret("0123456789abcdef&x=1").size(), 1u);

  problems = with({{"SURVEYD_GATEWAY", "twilio"}});
  EXPECT_EQ(problems.size(), 3u) << names(problems);
  EXPECT_NE(names(problems).find("SURVEYD_TWILIO_AUTH_TOKEN"), std::string::npos);
  EXPECT_TRUE(with({{"SURVEYD_GATEWAY", "twilio"},
                    {"SURVEYD_TWILIO_ACCOUNT_SID", "AC1"},
                    {"SURVEYD_TWILIO_AUTH_TOKEN", key},
                    {"SURVEYD_TWILIO_FROM", "Police"}})
                  .empty());
}

}  // namespace
}  // namespace surveyd::config

namespace surveyd::config {
namespace {

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/surveyd-secrets-XXXXXX";
    path_ = mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ + "/" + name) << text;
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

TEST(ConfigSecrets, FromAFileNamedInTheEnvironmentWithoutTheLineBreak) {
  TempDir dir;
  const auto file = dir.Write("token", "s3cret-from-a-file\n");
  const auto config = Load("",
                           {{"SURVEYD_TOKEN_SECRET_FILE", file},
                            {"SURVEYD_DATABASE_URL_FILE", dir.Write("url", "postgresql:///x")}},
                           {dir.path() + "/none"});
  EXPECT_EQ(config.survey.token_secret, "s3cret-from-a-file");
  EXPECT_EQ(config.database.url, "postgresql:///x");
}

TEST(ConfigSecrets, BothTheVariableAndItsFileIsAnError) {
  TempDir dir;
  const auto result =
      LoadAll("", {{"SURVEYD_FEED_SECRET", "a"}, {"SURVEYD_FEED_SECRET_FILE", dir.Write("f", "b")}},
              {dir.path() + "/none"});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_NE(result.errors[0].find("SURVEYD_FEED_SECRET or SURVEYD_FEED_SECRET_FILE"),
            std::string::npos);
  EXPECT_THROW(Load("", {{"SURVEYD_FEED_SECRET_FILE", dir.path() + "/missing"}}), ConfigError);
}

TEST(ConfigSecrets, SystemdCredentialsThenDockerSecretsThenTheFile) {
  TempDir credentials;
  TempDir docker;
  credentials.Write("surveyd_token_secret", "from-credentials\n");
  docker.Write("surveyd_token_secret", "from-docker");
  docker.Write("surveyd_phone_hash_key", "hash-from-docker");
  docker.Write("surveyd_http_listen", "0.0.0.0:1");  // not a secret: never read from here
  auto yaml = WriteTemp("survey:\n  token_secret: from-yaml\n  force_name: Yaml Police\n");
  const auto config = Load(yaml, {{"CREDENTIALS_DIRECTORY", credentials.path()}}, {docker.path()});
  EXPECT_EQ(config.survey.token_secret, "from-credentials");
  EXPECT_EQ(config.survey.phone_hash_key, "hash-from-docker");
  EXPECT_EQ(config.survey.force_name, "Yaml Police");
  EXPECT_EQ(config.http.listen, "127.0.0.1:8080");
  // The variable wins over every file.
  EXPECT_EQ(
      Load(yaml,
           {{"CREDENTIALS_DIRECTORY", credentials.path()}, {"SURVEYD_TOKEN_SECRET", "from-env"}},
           {docker.path()})
          .survey.token_secret,
      "from-env");
  std::remove(yaml.c_str());
}

TEST(ConfigLoadAll, NamesEveryProblemNotJustTheFirst) {
  auto path = WriteTemp("http:\n  lisen: x\ndispatch:\n  workers: many\nlog:\n  format: xml\n");
  const auto result = LoadAll(path, {{"SURVEYD_METRICS_ALLOW", "127.0.0.1, example.org"}});
  ASSERT_EQ(result.errors.size(), 4u);
  EXPECT_EQ(result.errors[0], path + ":2:10: unknown setting 'http.lisen'");
  EXPECT_EQ(result.errors[1], path + ":4:12: dispatch.workers: expected an integer, got 'many'");
  EXPECT_EQ(result.errors[2], path + ":6:11: log.format: expected text or json");
  EXPECT_EQ(result.errors[3],
            "environment SURVEYD_METRICS_ALLOW: metrics.allow: 'example.org' is not an address or "
            "a CIDR range");
  std::remove(path.c_str());
}

TEST(ConfigServe, TlsFilesGoTogetherAndTimeoutsFit) {
  std::string key(40, 'k');
  std::map<std::string, std::string> env = {
      {"SURVEYD_TOKEN_SECRET", key},         {"SURVEYD_PHONE_HASH_KEY", key},
      {"SURVEYD_FEED_SECRET", key},          {"SURVEYD_WMNOW_API_KEY", key},
      {"SURVEYD_WMNOW_WEBHOOK_SECRET", key}, {"SURVEYD_PHONE_KEYS", "k1:" + std::string(64, 'a')}};
  ASSERT_TRUE(ValidateForServe(Load("", env)).empty());
  auto with = [&](std::map<std::string, std::string> more) {
    more.insert(env.begin(), env.end());
    return ValidateForServe(Load("", more));
  };
  EXPECT_EQ(with({{"SURVEYD_PHONE_KEYS", "k1:short"}}).size(), 1u);
  const std::string two_keys = "k1:" + std::string(64, 'a') + ",k2:" + std::string(64, 'b');
  EXPECT_EQ(with({{"SURVEYD_PHONE_KEYS", two_keys}}).size(), 1u) << "two keys, none active";
  EXPECT_TRUE(with({{"SURVEYD_PHONE_KEYS", two_keys}, {"SURVEYD_PHONE_KEY_ACTIVE", "k2"}}).empty());
  EXPECT_EQ(with({{"SURVEYD_HTTP_TLS_CERT_FILE", "/etc/cert.pem"}}).size(), 1u);
  EXPECT_TRUE(
      with({{"SURVEYD_HTTP_TLS_CERT_FILE", "/c"}, {"SURVEYD_HTTP_TLS_KEY_FILE", "/k"}}).empty());
  EXPECT_EQ(with({{"SURVEYD_STOP_TIMEOUT", "5"}, {"SURVEYD_GATEWAY_TIMEOUT_MS", "70000"}}).size(),
            2u);  // stop_timeout and stall_after both too short for a 70 s send
  // A notice's lease outlasts a send through either channel.
  EXPECT_TRUE(with({{"SURVEYD_ALERT_LEASE", "3"},
                    {"SURVEYD_ALERT_WEBHOOK_TIMEOUT_MS", "1000"},
                    {"SURVEYD_SMTP_TIMEOUT_MS", "2000"}})
                  .empty());
  EXPECT_EQ(
      with({{"SURVEYD_ALERT_LEASE", "3"}, {"SURVEYD_ALERT_WEBHOOK_TIMEOUT_MS", "1000"}}).size(), 1u)
      << "the SMTP timeout's default (20 s) is longer";
  EXPECT_EQ(with({{"SURVEYD_ALERT_LEASE", "3"},
                  {"SURVEYD_ALERT_WEBHOOK_TIMEOUT_MS", "3000"},
                  {"SURVEYD_SMTP_TIMEOUT_MS", "1000"}})
                .size(),
            1u);
  EXPECT_THROW(with({{"SURVEYD_ALERT_LEASE", "-1"}}), ConfigError);
}

// A file of the source tree, whole; empty when it is missing (the test then fails on its
// contents).
std::string SourceText(const std::string& relative) {
  std::ifstream file(std::string(SURVEYD_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(file) << relative << " is missing";
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// docs/configuration.md documents every key, with its variable.
TEST(ConfigDocs, EveryKeyIsDocumented) {
  const std::string docs = SourceText("docs/configuration.md");
  for (const auto& key : Keys()) {
    EXPECT_NE(docs.find("`" + key.path + "`"), std::string::npos) << key.path << " undocumented";
    EXPECT_NE(docs.find("`" + key.env + "`"), std::string::npos) << key.env << " undocumented";
  }
}

// And the other way: every SURVEYD_ variable the operators' and analysts' docs tell someone to
// set is a setting's (or its _FILE), or one of the few that are not settings. A name that is
// none of those would be set and change nothing (config check only warns).
TEST(ConfigDocs, EveryVariableTheDocsNameExists) {
  std::set<std::string> known = {
      "SURVEYD_FAILPOINT",  // the fault tests' crash points (docs/operations.md)
      // scripts/test, scripts/demo and CMake options, not the daemon's
      "SURVEYD_BUILD_DIR", "SURVEYD_BUILD_TYPE", "SURVEYD_CMAKE_ARGS", "SURVEYD_SANITIZE",
      "SURVEYD_UNITY_BUILD", "SURVEYD_BUILD_TESTS", "SURVEYD_FAILPOINTS", "SURVEYD_FAULT_LONG"};
  for (const auto& key : Keys()) {
    known.insert(key.env);
    known.insert(key.env + "_FILE");
  }
  const std::regex variable("SURVEYD_[A-Z0-9_]*[A-Z0-9]");
  for (const char* doc :
       {"README.md", "docs/configuration.md", "docs/operations.md", "docs/gateways.md",
        "docs/alerts.md", "docs/analytics.md", "docs/data-protection.md", "config/surveyd.yaml",
        "docker/surveyd.env.example", "docs/systemd/surveyd.service"}) {
    const std::string content = SourceText(doc);
    for (std::sregex_iterator it(content.begin(), content.end(), variable), end; it != end; ++it) {
      EXPECT_EQ(known.count(it->str()), 1u) << doc << " names " << it->str() << ", no setting's";
    }
  }
}

// The shipped example lists every key too, so that it stays a complete template.
TEST(ConfigDocs, TheShippedExampleListsEveryKey) {
  const std::string example = SourceText("config/surveyd.yaml");
  for (const auto& key : Keys()) {
    EXPECT_NE(example.find(key.env), std::string::npos) << key.env << " not in surveyd.yaml";
  }
}

}  // namespace
}  // namespace surveyd::config
