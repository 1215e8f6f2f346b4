#include "surveyd/config/config.hpp"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "surveyd/core/alert.hpp"
#include "surveyd/core/closest_word.hpp"
#include "surveyd/core/ip_address.hpp"
#include "surveyd/core/key_ring.hpp"
#include "surveyd/core/sms.hpp"
#include "surveyd/core/yaml_syntax.hpp"
#include "surveyd/gateway/twilio.hpp"

extern char** environ;

namespace surveyd::config {
namespace {

// One configuration key: where it lives in the YAML, its environment variable, and how to set it
// from text. A single table keeps the YAML keys, the variables and the docs in step.
struct Key {
  std::string path;  // "http.listen"
  std::string env;   // "SURVEYD_HTTP_LISTEN"
  std::function<void(Config&, const std::string&)> set;
  bool names_file = false;  // a relative path in the YAML file is found beside that file
};

std::string Where(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

template <typename Int>
Int ParseInt(const std::string& text, const std::string& key) {
  Int value{};
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) {
    throw ConfigError(key + ": expected an integer, got '" + text + "'");
  }
  return value;
}

double ParseDouble(const std::string& text, const std::string& key) {
  try {
    std::size_t used = 0;
    double value = std::stod(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    return value;
  } catch (const std::exception&) {
    throw ConfigError(key + ": expected a number, got '" + text + "'");
  }
}

bool ParseBool(const std::string& text, const std::string& key) {
  if (text == "true" || text == "yes" || text == "on" || text == "1") return true;
  if (text == "false" || text == "no" || text == "off" || text == "0") return false;
  throw ConfigError(key + ": expected true or false, got '" + text + "'");
}

std::string HttpUrl(const std::string& value, const std::string& key) {
  if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) {
    throw ConfigError(key + ": must start with http:// or https://");
  }
  return value;
}

// The longest retention period a *_days setting takes.
constexpr int kMaxRetentionDays = 36500;

int Positive(int value, const std::string& key) {
  if (value <= 0) throw ConfigError(key + ": must be greater than 0");
  return value;
}

std::vector<std::string> CommaList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream list(text);
  for (std::string item; std::getline(list, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

// Keys whose values are secrets: besides the environment, they are looked for as systemd
// credentials and Docker secrets, and `config check` never prints them.
const std::set<std::string>& SecretKeys() {
  static const std::set<std::string> kSecrets = {"database.url",
                                                 "feed.secret",
                                                 "gateway.wmnow.api_key",
                                                 "gateway.wmnow.webhook_secret",
                                                 "survey.token_secret",
                                                 "survey.phone_hash_key",
                                                 "api.analyst_token",
                                                 "privacy.phone_keys",
                                                 "privacy.phone_hash_previous_keys",
                                                 "gateway.kannel.password",
                                                 "gateway.kannel.webhook_secret",
                                                 "gateway.twilio.auth_token",
                                                 "api.bootstrap_token",
                                                 "database.analytics_url",
                                                 "alerts.webhook_secret",
                                                 "smtp.password"};
  return kSecrets;
}

std::vector<std::string> Addresses(const std::string& text, const std::string& key) {
  auto addresses = CommaList(text);
  for (const auto& address : addresses) {
    if (address.find('@') == std::string::npos ||
        address.find_first_of(" <>\r\n") != std::string::npos) {
      throw ConfigError(key + ": '" + address + "' is not an e-mail address");
    }
  }
  return addresses;
}

// The key table, in the order of config/surveyd.yaml.
std::vector<Key> KeyTable() {
  std::vector<Key> keys;
  auto add = [&](std::string path, std::string env,
                 std::function<void(Config&, const std::string&, const std::string&)> set) {
    std::string key = path;
    keys.push_back({std::move(path), std::move(env),
                    [set, key](Config& c, const std::string& v) { set(c, v, key); }});
  };
  // A setting that names a file (LoadAll: FileBesideConfig).
  auto add_file = [&](std::string path, std::string env,
                      std::function<void(Config&, const std::string&, const std::string&)> set) {
    add(std::move(path), std::move(env), std::move(set));
    keys.back().names_file = true;
  };
  using S = const std::string&;
  add("database.url", "SURVEYD_DATABASE_URL", [](Config& c, S v, S) { c.database.url = v; });
  add("database.pool_size", "SURVEYD_DATABASE_POOL_SIZE",
      [](Config& c, S v, S k) { c.database.pool_size = Positive(ParseInt<int>(v, k), k); });
  add("database.migrate_on_start", "SURVEYD_DATABASE_MIGRATE_ON_START",
      [](Config& c, S v, S k) { c.database.migrate_on_start = ParseBool(v, k); });
  add("database.statement_timeout_ms", "SURVEYD_DATABASE_STATEMENT_TIMEOUT_MS",
      [](Config& c, S v, S k) {
        c.database.statement_timeout = std::chrono::milliseconds(Positive(ParseInt<int>(v, k), k));
      });
  add("database.acquire_timeout_ms", "SURVEYD_DATABASE_ACQUIRE_TIMEOUT_MS",
      [](Config& c, S v, S k) {
        c.database.acquire_timeout = std::chrono::milliseconds(Positive(ParseInt<int>(v, k), k));
      });
  add("database.analytics_url", "SURVEYD_DATABASE_ANALYTICS_URL",
      [](Config& c, S v, S) { c.database.analytics_url = v; });
  add("database.analytics_pool_size", "SURVEYD_DATABASE_ANALYTICS_POOL_SIZE",
      [](Config& c, S v, S k) {
        c.database.analytics_pool_size = Positive(ParseInt<int>(v, k), k);
      });
  add("database.analytics_timeout_ms", "SURVEYD_DATABASE_ANALYTICS_TIMEOUT_MS",
      [](Config& c, S v, S k) {
        c.database.analytics_statement_timeout =
            std::chrono::milliseconds(Positive(ParseInt<int>(v, k), k));
      });

  add("http.listen", "SURVEYD_HTTP_LISTEN", [](Config& c, S v, S k) {
    SplitHostPort(v, k);
    c.http.listen = v;
  });
  add("http.public_base_url", "SURVEYD_PUBLIC_BASE_URL", [](Config& c, S v, S k) {
    if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
      throw ConfigError(k + ": must start with http:// or https://");
    }
    c.http.public_base_url = v.back() == '/' ? v.substr(0, v.size() - 1) : v;
  });
  add("http.worker_threads", "SURVEYD_HTTP_WORKER_THREADS",
      [](Config& c, S v, S k) { c.http.worker_threads = Positive(ParseInt<int>(v, k), k); });
  add("http.io_threads", "SURVEYD_HTTP_IO_THREADS",
      [](Config& c, S v, S k) { c.http.io_threads = Positive(ParseInt<int>(v, k), k); });
  add("http.max_connections", "SURVEYD_HTTP_MAX_CONNECTIONS",
      [](Config& c, S v, S k) { c.http.max_connections = Positive(ParseInt<int>(v, k), k); });
  add("http.max_connections_per_client", "SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT",
      [](Config& c, S v, S k) {
        c.http.max_connections_per_client = Positive(ParseInt<int>(v, k), k);
      });
  add("http.max_body_bytes", "SURVEYD_HTTP_MAX_BODY_BYTES",
      [](Config& c, S v, S k) { c.http.max_body_bytes = ParseInt<std::size_t>(v, k); });
  add("http.trusted_proxies", "SURVEYD_HTTP_TRUSTED_PROXIES", [](Config& c, S v, S k) {
    // One that does not parse would match nothing: its clients would be the proxy, capped as
    // one client and rate-limited as one, and every citizen behind it refused with it.
    auto proxies = CommaList(v);
    for (const auto& item : proxies) {
      if (!net::ParseRange(item)) {
        throw ConfigError(k + ": '" + item + "' is not an address or a CIDR range");
      }
    }
    c.http.trusted_proxies = std::move(proxies);
  });
  add_file("http.tls_cert_file", "SURVEYD_HTTP_TLS_CERT_FILE",
           [](Config& c, S v, S) { c.http.tls_cert_file = v; });
  add_file("http.tls_key_file", "SURVEYD_HTTP_TLS_KEY_FILE",
           [](Config& c, S v, S) { c.http.tls_key_file = v; });

  add_file("rules.path", "SURVEYD_RULES", [](Config& c, S v, S) { c.rules.path = v; });

  add("feed.secret", "SURVEYD_FEED_SECRET", [](Config& c, S v, S) { c.feed.secret = v; });
  add("feed.tcp", "SURVEYD_FEED_TCP", [](Config& c, S v, S k) {
    if (!v.empty()) SplitHostPort(v, k);
    c.feed.tcp = v;
  });
  add("feed.name", "SURVEYD_FEED_NAME", [](Config& c, S v, S) { c.feed.name = v; });
  add("feed.silence_timeout_s", "SURVEYD_FEED_SILENCE_TIMEOUT", [](Config& c, S v, S k) {
    c.feed.silence_timeout = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("feed.unready_after_s", "SURVEYD_FEED_UNREADY_AFTER", [](Config& c, S v, S k) {
    c.feed.unready_after = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("feed.batch_size", "SURVEYD_FEED_BATCH_SIZE",
      [](Config& c, S v, S k) { c.feed.batch_size = Positive(ParseInt<int>(v, k), k); });
  add("feed.batch_wait_ms", "SURVEYD_FEED_BATCH_WAIT_MS", [](Config& c, S v, S k) {
    c.feed.batch_wait = std::chrono::milliseconds(ParseInt<int>(v, k));
  });
  add("feed.tls", "SURVEYD_FEED_TLS", [](Config& c, S v, S k) { c.feed.tls = ParseBool(v, k); });
  add_file("feed.tls_ca_file", "SURVEYD_FEED_TLS_CA_FILE",
           [](Config& c, S v, S) { c.feed.tls_ca_file = v; });
  add_file("feed.tls_cert_file", "SURVEYD_FEED_TLS_CERT_FILE",
           [](Config& c, S v, S) { c.feed.tls_cert_file = v; });
  add_file("feed.tls_key_file", "SURVEYD_FEED_TLS_KEY_FILE",
           [](Config& c, S v, S) { c.feed.tls_key_file = v; });

  add("gateway.kind", "SURVEYD_GATEWAY", [](Config& c, S v, S k) {
    if (v != "wmnow" && v != "kannel" && v != "twilio") {
      throw ConfigError(k + ": unknown gateway '" + v + "' (supported: wmnow, kannel, twilio)");
    }
    c.gateway.kind = v;
  });
  add("gateway.rate_per_second", "SURVEYD_GATEWAY_RATE", [](Config& c, S v, S k) {
    c.gateway.rate_per_second = ParseDouble(v, k);
    if (c.gateway.rate_per_second < 0) throw ConfigError(k + ": must be 0 (no limit) or more");
  });
  add("gateway.max_in_flight", "SURVEYD_GATEWAY_MAX_IN_FLIGHT",
      [](Config& c, S v, S k) { c.gateway.max_in_flight = Positive(ParseInt<int>(v, k), k); });
  add("gateway.sender", "SURVEYD_GATEWAY_SENDER", [](Config& c, S v, S) { c.gateway.sender = v; });
  add("gateway.timeout_ms", "SURVEYD_GATEWAY_TIMEOUT_MS", [](Config& c, S v, S k) {
    c.gateway.timeout = std::chrono::milliseconds(Positive(ParseInt<int>(v, k), k));
  });
  add_file("gateway.ca_file", "SURVEYD_GATEWAY_CA_FILE",
           [](Config& c, S v, S) { c.gateway.ca_file = v; });
  add("gateway.wmnow.base_url", "SURVEYD_WMNOW_BASE_URL",
      [](Config& c, S v, S k) { c.gateway.wmnow.base_url = HttpUrl(v, k); });
  add("gateway.wmnow.api_key", "SURVEYD_WMNOW_API_KEY",
      [](Config& c, S v, S) { c.gateway.wmnow.api_key = v; });
  add("gateway.wmnow.webhook_secret", "SURVEYD_WMNOW_WEBHOOK_SECRET",
      [](Config& c, S v, S) { c.gateway.wmnow.webhook_secret = v; });
  add("gateway.kannel.sendsms_url", "SURVEYD_KANNEL_SENDSMS_URL",
      [](Config& c, S v, S k) { c.gateway.kannel.sendsms_url = HttpUrl(v, k); });
  add("gateway.kannel.username", "SURVEYD_KANNEL_USERNAME",
      [](Config& c, S v, S) { c.gateway.kannel.username = v; });
  add("gateway.kannel.password", "SURVEYD_KANNEL_PASSWORD",
      [](Config& c, S v, S) { c.gateway.kannel.password = v; });
  add("gateway.kannel.webhook_secret", "SURVEYD_KANNEL_WEBHOOK_SECRET",
      [](Config& c, S v, S) { c.gateway.kannel.webhook_secret = v; });
  add("gateway.kannel.smsc", "SURVEYD_KANNEL_SMSC",
      [](Config& c, S v, S) { c.gateway.kannel.smsc = v; });
  add("gateway.kannel.callback_base_url", "SURVEYD_KANNEL_CALLBACK_BASE_URL",
      [](Config& c, S v, S k) {
        c.gateway.kannel.callback_base_url = v.empty() ? v : HttpUrl(v, k);
      });
  add("gateway.twilio.base_url", "SURVEYD_TWILIO_BASE_URL",
      [](Config& c, S v, S k) { c.gateway.twilio.base_url = HttpUrl(v, k); });
  add("gateway.twilio.account_sid", "SURVEYD_TWILIO_ACCOUNT_SID",
      [](Config& c, S v, S) { c.gateway.twilio.account_sid = v; });
  add("gateway.twilio.auth_token", "SURVEYD_TWILIO_AUTH_TOKEN",
      [](Config& c, S v, S) { c.gateway.twilio.auth_token = v; });
  add("gateway.twilio.from", "SURVEYD_TWILIO_FROM",
      [](Config& c, S v, S) { c.gateway.twilio.from = v; });

  add("dispatch.workers", "SURVEYD_DISPATCH_WORKERS",
      [](Config& c, S v, S k) { c.dispatch.workers = Positive(ParseInt<int>(v, k), k); });
  add("dispatch.batch_size", "SURVEYD_DISPATCH_BATCH_SIZE",
      [](Config& c, S v, S k) { c.dispatch.batch_size = Positive(ParseInt<int>(v, k), k); });
  add("dispatch.poll_ms", "SURVEYD_DISPATCH_POLL_MS", [](Config& c, S v, S k) {
    c.dispatch.poll_interval = std::chrono::milliseconds(Positive(ParseInt<int>(v, k), k));
  });
  add("dispatch.lease_s", "SURVEYD_DISPATCH_LEASE", [](Config& c, S v, S k) {
    c.dispatch.lease = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("dispatch.max_attempts", "SURVEYD_DISPATCH_MAX_ATTEMPTS",
      [](Config& c, S v, S k) { c.dispatch.max_attempts = Positive(ParseInt<int>(v, k), k); });
  add("dispatch.backoff_base_s", "SURVEYD_DISPATCH_BACKOFF_BASE", [](Config& c, S v, S k) {
    c.dispatch.backoff_base = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("dispatch.backoff_max_s", "SURVEYD_DISPATCH_BACKOFF_MAX", [](Config& c, S v, S k) {
    c.dispatch.backoff_max = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("dispatch.breaker_failures", "SURVEYD_DISPATCH_BREAKER_FAILURES",
      [](Config& c, S v, S k) { c.dispatch.breaker_failures = Positive(ParseInt<int>(v, k), k); });
  add("dispatch.breaker_failure_percent", "SURVEYD_DISPATCH_BREAKER_FAILURE_PERCENT",
      [](Config& c, S v, S k) {
        const int percent = ParseInt<int>(v, k);
        if (percent < 0 || percent > 100) throw ConfigError(k + ": must be 0-100 (0: off)");
        c.dispatch.breaker_failure_percent = percent;
      });
  add("dispatch.breaker_window_s", "SURVEYD_DISPATCH_BREAKER_WINDOW", [](Config& c, S v, S k) {
    c.dispatch.breaker_window = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("dispatch.breaker_open_s", "SURVEYD_DISPATCH_BREAKER_OPEN", [](Config& c, S v, S k) {
    c.dispatch.breaker_open = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("dispatch.breaker_max_open_s", "SURVEYD_DISPATCH_BREAKER_MAX_OPEN", [](Config& c, S v, S k) {
    c.dispatch.breaker_max_open = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });

  add("dispatch.max_clock_skew_ms", "SURVEYD_DISPATCH_MAX_CLOCK_SKEW_MS", [](Config& c, S v, S k) {
    const int ms = ParseInt<int>(v, k);
    if (ms < 0) throw ConfigError(k + ": must be 0 (only report) or more");
    c.dispatch.max_clock_skew = std::chrono::milliseconds(ms);
  });
  add("dispatch.clock_check_ms", "SURVEYD_DISPATCH_CLOCK_CHECK_MS", [](Config& c, S v, S k) {
    c.dispatch.clock_check_interval = std::chrono::milliseconds(Positive(ParseInt<int>(v, k), k));
  });

  add("survey.token_secret", "SURVEYD_TOKEN_SECRET",
      [](Config& c, S v, S) { c.survey.token_secret = v; });
  add("survey.phone_hash_key", "SURVEYD_PHONE_HASH_KEY",
      [](Config& c, S v, S) { c.survey.phone_hash_key = v; });
  add("survey.force_name", "SURVEYD_FORCE_NAME",
      [](Config& c, S v, S) { c.survey.force_name = v; });
  add("survey.privacy_url", "SURVEYD_PRIVACY_URL",
      [](Config& c, S v, S) { c.survey.privacy_url = v; });
  add("survey.rate_limit_per_minute", "SURVEYD_SURVEY_RATE_LIMIT", [](Config& c, S v, S k) {
    c.survey.rate_limit_per_minute = Positive(ParseInt<int>(v, k), k);
  });
  add("survey.cache_ttl_ms", "SURVEYD_SURVEY_CACHE_TTL_MS", [](Config& c, S v, S k) {
    const int ms = ParseInt<int>(v, k);
    if (ms < 0) throw ConfigError(k + ": must be 0 (no cache) or more");
    c.survey.cache_ttl = std::chrono::milliseconds(ms);
  });

  add("privacy.phone_keys", "SURVEYD_PHONE_KEYS",
      [](Config& c, S v, S) { c.privacy.phone_keys = v; });
  add("privacy.phone_key_active", "SURVEYD_PHONE_KEY_ACTIVE",
      [](Config& c, S v, S) { c.privacy.phone_key_active = v; });
  add("privacy.phone_hash_previous_keys", "SURVEYD_PHONE_HASH_PREVIOUS_KEYS",
      [](Config& c, S v, S) { c.privacy.phone_hash_previous_keys = CommaList(v); });

  add("retention.interval_s", "SURVEYD_RETENTION_INTERVAL", [](Config& c, S v, S k) {
    c.retention.interval = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  auto days = [&add](const char* path, const char* env, int Config::Retention::*field) {
    add(path, env, [field](Config& c, S v, S k) {
      const int value = Positive(ParseInt<int>(v, k), k);
      // A pass keeps what is younger than now less the period: far enough back (a million
      // days) that is a time PostgreSQL cannot store, and every pass failed; a longer period
      // than this is no retention at all.
      if (value > kMaxRetentionDays) {
        throw ConfigError(k + ": must be at most " + std::to_string(kMaxRetentionDays) +
                          " days (100 years), got " + v);
      }
      c.retention.*field = value;
    });
  };
  days("retention.number_grace_days", "SURVEYD_RETENTION_NUMBER_GRACE_DAYS",
       &Config::Retention::number_grace_days);
  days("retention.phone_hash_days", "SURVEYD_RETENTION_PHONE_HASH_DAYS",
       &Config::Retention::phone_hash_days);
  days("retention.raw_days", "SURVEYD_RETENTION_RAW_DAYS", &Config::Retention::raw_days);
  days("retention.rejected_days", "SURVEYD_RETENTION_REJECTED_DAYS",
       &Config::Retention::rejected_days);
  days("retention.facts_days", "SURVEYD_RETENTION_FACTS_DAYS", &Config::Retention::facts_days);
  days("retention.comment_days", "SURVEYD_RETENTION_COMMENT_DAYS",
       &Config::Retention::comment_days);
  days("retention.reply_days", "SURVEYD_RETENTION_REPLY_DAYS", &Config::Retention::reply_days);

  add("api.bootstrap_token", "SURVEYD_API_BOOTSTRAP_TOKEN",
      [](Config& c, S v, S) { c.api.bootstrap_token = v; });
  add("api.analyst_token", "SURVEYD_ANALYST_TOKEN",
      [](Config& c, S v, S) { c.api.analyst_token = v; });
  add("api.min_cell_size", "SURVEYD_API_MIN_CELL_SIZE",
      [](Config& c, S v, S k) { c.api.min_cell_size = Positive(ParseInt<int>(v, k), k); });
  add("api.figures_noise", "SURVEYD_API_FIGURES_NOISE",
      [](Config& c, S v, S k) { c.api.figures_noise = ParseBool(v, k); });
  add("api.bad_token_limit_per_minute", "SURVEYD_API_BAD_TOKEN_LIMIT", [](Config& c, S v, S k) {
    c.api.bad_token_limit_per_minute = Positive(ParseInt<int>(v, k), k);
  });
  add("api.analytics_queue", "SURVEYD_API_ANALYTICS_QUEUE", [](Config& c, S v, S k) {
    c.api.analytics_queue = ParseInt<int>(v, k);
    if (c.api.analytics_queue < 0) throw ConfigError(k + ": must be 0 or more");
  });

  add("alerts.webhook_url", "SURVEYD_ALERT_WEBHOOK_URL", [](Config& c, S v, S k) {
    if (!v.empty() && v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
      throw ConfigError(k + ": must start with http:// or https://");
    }
    c.alerts.webhook_url = v;
  });
  add("alerts.webhook_secret", "SURVEYD_ALERT_WEBHOOK_SECRET",
      [](Config& c, S v, S) { c.alerts.webhook_secret = v; });
  add("alerts.webhook_timeout_ms", "SURVEYD_ALERT_WEBHOOK_TIMEOUT_MS", [](Config& c, S v, S k) {
    c.alerts.webhook_timeout = std::chrono::milliseconds(Positive(ParseInt<int>(v, k), k));
  });
  add_file("alerts.webhook_ca_file", "SURVEYD_ALERT_WEBHOOK_CA_FILE",
           [](Config& c, S v, S) { c.alerts.webhook_ca_file = v; });
  add("alerts.email_to", "SURVEYD_ALERT_EMAIL_TO",
      [](Config& c, S v, S k) { c.alerts.email_to = Addresses(v, k); });
  add("alerts.email_by_kind", "SURVEYD_ALERT_EMAIL_BY_KIND", [](Config& c, S v, S k) {
    c.alerts.email_by_kind.clear();
    for (const auto& item : CommaList(v)) {
      const auto eq = item.find('=');
      std::string kind = eq == std::string::npos ? item : item.substr(0, eq);
      kind.erase(kind.find_last_not_of(" \t") + 1);
      if (eq == std::string::npos || !ParseAlertKind(kind)) {
        throw ConfigError(k +
                          ": expected KIND=address entries, KIND one of safeguarding, "
                          "complaint, low_scores (got '" +
                          item + "')");
      }
      const auto address = Addresses(item.substr(eq + 1), k);
      if (address.size() != 1) throw ConfigError(k + ": one address per entry");
      c.alerts.email_by_kind[kind].push_back(address[0]);
    }
  });
  add("alerts.escalate_to", "SURVEYD_ALERT_ESCALATE_TO",
      [](Config& c, S v, S k) { c.alerts.escalate_to = Addresses(v, k); });
  add("alerts.email_from", "SURVEYD_ALERT_EMAIL_FROM", [](Config& c, S v, S k) {
    const auto from = Addresses(v, k);
    if (from.size() > 1) throw ConfigError(k + ": one address");
    c.alerts.email_from = from.empty() ? "" : from[0];
  });
  add("alerts.poll_ms", "SURVEYD_ALERT_POLL_MS", [](Config& c, S v, S k) {
    c.alerts.poll_interval = std::chrono::milliseconds(Positive(ParseInt<int>(v, k), k));
  });
  add("alerts.max_attempts", "SURVEYD_ALERT_MAX_ATTEMPTS",
      [](Config& c, S v, S k) { c.alerts.max_attempts = Positive(ParseInt<int>(v, k), k); });
  add("alerts.backoff_base_s", "SURVEYD_ALERT_BACKOFF_BASE", [](Config& c, S v, S k) {
    c.alerts.backoff_base = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("alerts.backoff_max_s", "SURVEYD_ALERT_BACKOFF_MAX", [](Config& c, S v, S k) {
    c.alerts.backoff_max = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("alerts.lease_s", "SURVEYD_ALERT_LEASE", [](Config& c, S v, S k) {
    c.alerts.lease = std::chrono::seconds(ParseInt<int>(v, k));
    if (c.alerts.lease.count() < 0) throw ConfigError(k + ": must be 0 or more");
  });

  add("smtp.host", "SURVEYD_SMTP_HOST", [](Config& c, S v, S) { c.smtp.host = v; });
  add("smtp.port", "SURVEYD_SMTP_PORT", [](Config& c, S v, S k) {
    const int port = ParseInt<int>(v, k);
    if (port < 1 || port > 65535) throw ConfigError(k + ": must be a port from 1 to 65535");
    c.smtp.port = port;
  });
  add("smtp.starttls", "SURVEYD_SMTP_STARTTLS",
      [](Config& c, S v, S k) { c.smtp.starttls = ParseBool(v, k); });
  add_file("smtp.ca_file", "SURVEYD_SMTP_CA_FILE", [](Config& c, S v, S) { c.smtp.ca_file = v; });
  add("smtp.username", "SURVEYD_SMTP_USERNAME", [](Config& c, S v, S) { c.smtp.username = v; });
  add("smtp.password", "SURVEYD_SMTP_PASSWORD", [](Config& c, S v, S) { c.smtp.password = v; });
  add("smtp.timeout_ms", "SURVEYD_SMTP_TIMEOUT_MS", [](Config& c, S v, S k) {
    c.smtp.timeout = std::chrono::milliseconds(Positive(ParseInt<int>(v, k), k));
  });

  add("recognition.min_cell_size", "SURVEYD_RECOGNITION_MIN_CELL_SIZE",
      [](Config& c, S v, S k) { c.recognition.min_cell_size = Positive(ParseInt<int>(v, k), k); });
  add("recognition.digest_day", "SURVEYD_RECOGNITION_DIGEST_DAY", [](Config& c, S v, S k) {
    static const char* const kDays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                        "thursday", "friday", "saturday"};
    for (int day = 0; day < 7; ++day) {
      if (v == kDays[day]) {
        c.recognition.digest_weekday = day;
        return;
      }
    }
    throw ConfigError(k + ": expected a day such as monday");
  });
  add("recognition.digest_time", "SURVEYD_RECOGNITION_DIGEST_TIME", [](Config& c, S v, S k) {
    const bool shape = v.size() == 5 && v[2] == ':' &&
                       std::isdigit(static_cast<unsigned char>(v[0])) &&
                       std::isdigit(static_cast<unsigned char>(v[1])) &&
                       std::isdigit(static_cast<unsigned char>(v[3])) &&
                       std::isdigit(static_cast<unsigned char>(v[4]));
    const int hour = shape ? (v[0] - '0') * 10 + (v[1] - '0') : 99;
    const int minute = shape ? (v[3] - '0') * 10 + (v[4] - '0') : 99;
    if (hour > 23 || minute > 59) throw ConfigError(k + ": expected HH:MM, e.g. 08:00");
    c.recognition.digest_minute = hour * 60 + minute;
  });
  add("recognition.digest_to", "SURVEYD_RECOGNITION_DIGEST_TO", [](Config& c, S v, S k) {
    c.recognition.digest_to.clear();
    for (const auto& item : CommaList(v)) {
      const auto eq = item.rfind('=');
      if (eq == std::string::npos || eq == 0) {
        throw ConfigError(k + ": expected TEAM=address entries, or *=address");
      }
      std::string team = item.substr(0, eq);
      team.erase(team.find_last_not_of(" \t") + 1);
      const auto address = Addresses(item.substr(eq + 1), k);
      if (address.size() != 1) throw ConfigError(k + ": one address per team");
      c.recognition.digest_to[team] = address[0];
    }
  });

  add("metrics.allow", "SURVEYD_METRICS_ALLOW", [](Config& c, S v, S k) {
    auto allow = CommaList(v);
    for (const auto& item : allow) {
      if (!net::ParseRange(item)) {
        throw ConfigError(k + ": '" + item + "' is not an address or a CIDR range");
      }
    }
    c.metrics.allow = std::move(allow);
  });
  add("metrics.sample_interval_s", "SURVEYD_METRICS_SAMPLE_INTERVAL", [](Config& c, S v, S k) {
    c.metrics.sample_interval = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });

  add("service.stop_timeout_s", "SURVEYD_STOP_TIMEOUT", [](Config& c, S v, S k) {
    c.service.stop_timeout = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("service.stall_after_s", "SURVEYD_STALL_AFTER", [](Config& c, S v, S k) {
    c.service.stall_after = std::chrono::seconds(Positive(ParseInt<int>(v, k), k));
  });
  add("service.dumpable", "SURVEYD_SERVICE_DUMPABLE",
      [](Config& c, S v, S k) { c.service.dumpable = ParseBool(v, k); });

  add("log.level", "SURVEYD_LOG_LEVEL", [](Config& c, S v, S k) {
    static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "off"};
    if (!kLevels.count(v))
      throw ConfigError(k + ": expected one of trace, debug, info, warn, error, off");
    c.log.level = v;
  });
  add("log.format", "SURVEYD_LOG_FORMAT", [](Config& c, S v, S k) {
    if (v != "text" && v != "json") throw ConfigError(k + ": expected text or json");
    c.log.format = v;
  });
  return keys;
}

// A file's contents as a value: one trailing line break is not part of a secret.
std::string ReadValueFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ConfigError("cannot read " + path);
  std::stringstream text;
  text << file.rdbuf();
  std::string value = text.str();
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

bool FileExists(const std::string& path) {
  std::ifstream file(path);
  return file.good();
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Flattens a YAML mapping to "a.b.c" -> scalar node, reporting non-scalar leaves.
void Flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
             std::vector<std::pair<std::string, YAML::Node>>& out) {
  // A key given twice: YAML forbids it, and the parser would quietly keep one of them.
  std::map<std::string, int> seen;  // key -> its first line
  for (const auto& item : node) {
    std::string key = item.first.as<std::string>();
    std::string path = prefix.empty() ? key : prefix + "." + key;
    const int line = item.first.Mark().line + 1;
    if (const auto [first, added] = seen.emplace(key, line); !added) {
      throw ConfigError(Where(file, item.first.Mark()) + ": '" + path +
                        "' is given twice (first on line " + std::to_string(first->second) +
                        "): which one is meant cannot be told");
    }
    if (item.second.IsMap()) {
      Flatten(item.second, path, file, out);
    } else if (item.second.IsScalar() || item.second.IsNull()) {
      out.emplace_back(path, item.second);
    } else {
      throw ConfigError(Where(file, item.second.Mark()) + ": " + path + ": expected a value");
    }
  }
}

}  // namespace

std::pair<std::string, std::uint16_t> SplitHostPort(const std::string& text,
                                                    const std::string& key) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw ConfigError(key + ": expected [ipv6]:port, got '" + text + "'");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
      throw ConfigError(key + ": expected host:port, got '" + text + "'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  int number = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (host.empty() || ec != std::errc() || ptr != port.data() + port.size() || number < 0 ||
      number > 65535) {
    throw ConfigError(key + ": expected host:port, got '" + text + "'");
  }
  return {host, static_cast<std::uint16_t>(number)};
}

namespace {

// A file named in the configuration file is found next to it, wherever the service starts (the
// systemd unit starts it in /, the demo in the source tree); one named in the environment is
// found from the working directory, as whoever set it in a shell expects.
std::string FileBesideConfig(std::string value, const std::string& config_path) {
  if (value.empty() || value.front() == '/') return value;
  return (std::filesystem::path(config_path).parent_path() / value).string();
}

}  // namespace

LoadResult LoadAll(const std::string& path, const std::map<std::string, std::string>& env,
                   const SecretSources& sources) {
  LoadResult result;
  Config& config = result.config;
  auto& errors = result.errors;
  const auto keys = KeyTable();
  std::set<std::string> from_file;  // keys the YAML set
  if (!path.empty()) {
    YAML::Node root;
    bool readable = true;
    std::ifstream in(path, std::ios::binary);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      errors.push_back(path + ": is a directory, not a configuration file");
      readable = false;
    } else if (!in) {
      errors.push_back(path + ": cannot read the file");
      readable = false;
    } else {
      std::stringstream text;
      text << in.rdbuf();
      try {
        root = YAML::Load(text.str());
      } catch (const YAML::Exception& e) {
        const auto error = DescribeYamlSyntaxError(text.str(), e.msg, e.mark.line, e.mark.column);
        errors.push_back(
            path +
            (error.line > 0 ? ":" + std::to_string(error.line) + ":" + std::to_string(error.column)
                            : "") +
            ": " + error.message);
        readable = false;
      }
    }
    result.file_read = readable;
    if (readable && root && !root.IsNull()) {
      std::vector<std::pair<std::string, YAML::Node>> values;
      try {
        if (!root.IsMap()) throw ConfigError(path + ": expected a mapping of settings");
        Flatten(root, "", path, values);
      } catch (const ConfigError& e) {
        errors.push_back(e.what());
      }
      for (const auto& [name, node] : values) {
        auto key = std::find_if(keys.begin(), keys.end(),
                                [&name = name](const Key& k) { return k.path == name; });
        if (key == keys.end()) {
          errors.push_back(Where(path, node.Mark()) + ": unknown setting '" + name + "'");
          continue;
        }
        if (node.IsNull()) continue;
        try {
          const std::string value = node.as<std::string>();
          key->set(config, key->names_file ? FileBesideConfig(value, path) : value);
          from_file.insert(name);
        } catch (const ConfigError& e) {
          errors.push_back(Where(path, node.Mark()) + ": " + e.what());
        }
      }
    }
  }
  auto directory = [&](const std::string& variable) {
    auto it = env.find(variable);
    return it == env.end() ? std::string() : it->second;
  };
  const std::string credentials = directory("CREDENTIALS_DIRECTORY");
  for (const auto& key : keys) {
    auto value = env.find(key.env);
    auto file = env.find(key.env + "_FILE");
    std::string where;
    std::string text;
    try {
      if (value != env.end() && file != env.end()) {
        throw ConfigError("set " + key.env + " or " + key.env + "_FILE, not both");
      }
      if (value != env.end()) {
        where = "environment " + key.env;
        text = value->second;
      } else if (file != env.end()) {
        where = "environment " + key.env + "_FILE";
        text = ReadValueFile(file->second);
      } else if (SecretKeys().count(key.path) != 0) {
        // systemd's LoadCredential= and Docker's secrets: a file named like the variable.
        const std::string name = Lower(key.env);
        for (const auto& dir : {credentials, sources.docker_secrets_dir}) {
          if (dir.empty() || !FileExists(dir + "/" + name)) continue;
          where = dir + "/" + name;
          text = ReadValueFile(where);
          break;
        }
        if (where.empty()) continue;
      } else {
        continue;
      }
      key.set(config, text);
    } catch (const ConfigError& e) {
      errors.push_back((where.empty() ? "environment " + key.env : where) + ": " + e.what());
    }
  }
  // A client allowed more connections than the instance has is no cap at all: said, when it was
  // set. Left unset, it is the default, lowered to max_connections for a small instance.
  const bool per_client_set = from_file.count("http.max_connections_per_client") != 0 ||
                              env.count("SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT") != 0 ||
                              env.count("SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT_FILE") != 0;
  if (config.http.max_connections_per_client > config.http.max_connections) {
    if (per_client_set) {
      errors.push_back(
          "http.max_connections_per_client (SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT) is " +
          std::to_string(config.http.max_connections_per_client) +
          ", more than http.max_connections (" + std::to_string(config.http.max_connections) +
          "): one client could take every connection; lower it, or raise http.max_connections");
    } else {
      config.http.max_connections_per_client = config.http.max_connections;
    }
  }
  // Recognition shows a person's counts from recognition.min_cell_size answers, and its hiding
  // beside them takes the totals of /api/v1/stats by team or officer as known: both hold only if
  // the stats hide no person's count that recognition shows.
  if (config.recognition.min_cell_size < config.api.min_cell_size) {
    errors.push_back(
        "recognition.min_cell_size (SURVEYD_RECOGNITION_MIN_CELL_SIZE) is " +
        std::to_string(config.recognition.min_cell_size) + ", below api.min_cell_size (" +
        std::to_string(config.api.min_cell_size) +
        "): the Praise view would show the counts of people with fewer answers than the "
        "analysts' figures may show; set it to " +
        std::to_string(config.api.min_cell_size) + " or more, or lower api.min_cell_size");
  }
  return result;
}

Config Load(const std::string& path, const std::map<std::string, std::string>& env,
            const SecretSources& sources) {
  auto result = LoadAll(path, env, sources);
  if (!result.errors.empty()) throw ConfigError(result.errors.front());
  return std::move(result.config);
}

std::vector<KeyInfo> Keys() {
  std::vector<KeyInfo> out;
  for (const auto& key : KeyTable()) {
    out.push_back({key.path, key.env, SecretKeys().count(key.path) != 0});
  }
  return out;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string text(*entry);
    auto eq = text.find('=');
    if (eq == std::string::npos) continue;
    if (text.rfind("SURVEYD_", 0) != 0 && text.rfind("CREDENTIALS_DIRECTORY=", 0) != 0) continue;
    env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

std::vector<std::string> UnknownVariables(const std::map<std::string, std::string>& env) {
  std::vector<std::string> known = {"SURVEYD_FAILPOINT"};  // test builds' crash points
  for (const auto& key : KeyTable()) {
    known.push_back(key.env);
    known.push_back(key.env + "_FILE");
  }
  std::vector<std::string> unknown;
  for (const auto& [name, value] : env) {
    if (name.rfind("SURVEYD_", 0) != 0) continue;
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    const std::string closest = ClosestWord(name, known);
    unknown.push_back(name + " is set but is no variable surveyd reads" +
                      (closest.empty() ? "" : " (did you mean " + closest + "?)"));
  }
  return unknown;
}

std::vector<std::string> SenderWarnings(const Config& config, bool replies_wanted) {
  struct Sender {
    const char* key;
    const char* variable;
    const std::string& value;
  };
  const auto& gateway = config.gateway;
  const Sender sender =
      gateway.kind == "twilio"
          ? Sender{"gateway.twilio.from", "SURVEYD_TWILIO_FROM", gateway.twilio.from}
          : Sender{"gateway.sender", "SURVEYD_GATEWAY_SENDER", gateway.sender};
  // No Twilio sender at all is a problem for serve already (ValidateForServe).
  if (gateway.kind == "twilio" &&
      (sender.value.empty() || surveyd::gateway::IsMessagingServiceSid(sender.value))) {
    return {};
  }
  const std::string named =
      std::string(sender.key) + " (" + sender.variable + ") '" + sender.value + "': ";
  if (auto problem = sms::SenderProblem(sender.value)) return {named + *problem};
  // A sender id of letters ("Police") is one nobody can text back on most networks: opt-outs
  // by text and two-way answers would never arrive, while the texts promise they will.
  const bool alphanumeric = std::any_of(sender.value.begin(), sender.value.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  });
  if (replies_wanted && alphanumeric && gateway.kind != "wmnow") {
    const char* why = gateway.kind == "twilio" ? "Twilio never passes them on"
                                               : "most networks behind Kannel's SMSC cannot";
    return {named + "a sender made of letters cannot be replied to (" + why +
            "), yet the rules ask for replies (a two-way group, or texts saying to reply STOP): "
            "opt-outs and answers by text would not reach us; send from a number that takes "
            "replies, or take STOP out of the texts"};
  }
  return {};
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  unsigned char v4[4];
  return inet_pton(AF_INET, host.c_str(), v4) == 1 && v4[0] == 127;
}

std::vector<std::string> PageWarnings(const Config& config) {
  std::vector<std::string> warnings;
  const std::string& base = config.http.public_base_url;
  const std::string plain = "http://";
  if (base.rfind(plain, 0) == 0) {
    const std::string rest = base.substr(plain.size());
    std::string host = rest.substr(0, rest.find('/'));
    if (!host.empty() && host.front() == '[') {
      host = host.substr(0, host.find(']') + 1);
    } else {
      host = host.substr(0, host.find(':'));
    }
    if (!IsLoopbackHost(host)) {
      warnings.push_back("http.public_base_url (SURVEYD_PUBLIC_BASE_URL) '" + base +
                         "' is plain HTTP: citizens' answers, and the help they ask for, cross "
                         "the network unencrypted; give an https:// address (TLS here, "
                         "http.tls_cert_file, or at a proxy)");
    }
  }
  if (config.survey.privacy_url.empty()) {
    warnings.push_back(
        "survey.privacy_url (SURVEYD_PRIVACY_URL) is empty: the survey page links to no privacy "
        "notice, which UK GDPR (article 13) asks for where personal data is collected; give the "
        "address of the force's (https://...)");
  }
  return warnings;
}

std::vector<std::pair<std::string, std::string>> CaFilesInUse(const Config& config) {
  std::vector<std::pair<std::string, std::string>> files;
  auto add = [&](bool used, const char* key, const std::string& file) {
    if (used && !file.empty()) files.emplace_back(key, file);
  };
  add(!config.feed.tcp.empty() && config.feed.tls, "feed.tls_ca_file", config.feed.tls_ca_file);
  add(!config.smtp.host.empty(), "smtp.ca_file", config.smtp.ca_file);
  add(true, "gateway.ca_file", config.gateway.ca_file);
  add(!config.alerts.webhook_url.empty(), "alerts.webhook_ca_file", config.alerts.webhook_ca_file);
  return files;
}

std::vector<std::string> ValidateForServe(const Config& config) {
  std::vector<std::string> problems;
  auto secret = [&](const std::string& value, const char* key, const char* env) {
    if (value.size() < 32) {
      problems.push_back(std::string(key) + " (" + env +
                         ") must be set to a random secret of at least 32 characters");
    }
  };
  secret(config.survey.token_secret, "survey.token_secret", "SURVEYD_TOKEN_SECRET");
  secret(config.survey.phone_hash_key, "survey.phone_hash_key", "SURVEYD_PHONE_HASH_KEY");
  for (const auto& key : config.privacy.phone_hash_previous_keys) {
    if (key.size() < 32) {
      problems.push_back(
          "privacy.phone_hash_previous_keys (SURVEYD_PHONE_HASH_PREVIOUS_KEYS): each key is at "
          "least 32 characters");
      break;
    }
  }
  try {
    if (crypto::KeyRing::Parse(config.privacy.phone_keys, config.privacy.phone_key_active)
            .empty()) {
      problems.push_back(
          "privacy.phone_keys (SURVEYD_PHONE_KEYS) must hold at least one key that encrypts "
          "numbers at rest, as id:key (k1:$(head -c 32 /dev/urandom | base64))");
    }
  } catch (const crypto::KeyError& e) {
    problems.push_back(std::string("privacy.phone_keys (SURVEYD_PHONE_KEYS), "
                                   "privacy.phone_key_active (SURVEYD_PHONE_KEY_ACTIVE): ") +
                       e.what());
  }
  if (config.retention.phone_hash_days < config.retention.number_grace_days) {
    problems.push_back(
        "retention.phone_hash_days must be at least retention.number_grace_days: a number's hash "
        "outlives the number");
  }
  if (config.feed.secret.size() < 16) {
    problems.push_back(
        "feed.secret (SURVEYD_FEED_SECRET) must be set (at least 16 characters) to accept pushed "
        "events");
  }
  if (!config.alerts.webhook_url.empty() && config.alerts.webhook_secret.size() < 16) {
    problems.push_back(
        "alerts.webhook_secret (SURVEYD_ALERT_WEBHOOK_SECRET) must be set (at least 16 "
        "characters, or whsec_<base64>) to sign alert webhooks");
  }
  if (config.alerts.lease.count() > 0 && (config.alerts.lease <= config.alerts.webhook_timeout ||
                                          config.alerts.lease <= config.smtp.timeout)) {
    problems.push_back(
        "alerts.lease_s (SURVEYD_ALERT_LEASE) must be longer than alerts.webhook_timeout_ms and "
        "smtp.timeout_ms: a notice still being sent would be sent again by another notifier");
  }
  const bool email = !config.alerts.email_to.empty() || !config.alerts.escalate_to.empty() ||
                     !config.alerts.email_by_kind.empty() || !config.recognition.digest_to.empty();
  if (email && (config.smtp.host.empty() || config.alerts.email_from.empty())) {
    problems.push_back(
        "alert and digest e-mails need smtp.host (SURVEYD_SMTP_HOST) and alerts.email_from "
        "(SURVEYD_ALERT_EMAIL_FROM)");
  }
  if (!config.smtp.username.empty() && !config.smtp.starttls) {
    problems.push_back(
        "smtp.username is set but smtp.starttls is not: the password would cross the network in "
        "clear");
  }
  if (config.database.analytics_pool_size + config.api.analytics_queue >=
      config.http.worker_threads) {
    problems.push_back(
        "database.analytics_pool_size + api.analytics_queue must be less than "
        "http.worker_threads, so that analysts' requests can never hold every worker");
  }
  for (const auto* token : {&config.api.bootstrap_token, &config.api.analyst_token}) {
    if (!token->empty() && token->size() < 32) {
      problems.push_back(
          "api.bootstrap_token (SURVEYD_API_BOOTSTRAP_TOKEN) must be at least 32 characters");
    }
  }
  const auto& gateway = config.gateway;
  auto required = [&](const std::string& value, const char* key, const char* env) {
    if (value.empty()) problems.push_back(std::string(key) + " (" + env + ") is not set");
  };
  if (gateway.kind == "wmnow") {
    required(gateway.wmnow.api_key, "gateway.wmnow.api_key", "SURVEYD_WMNOW_API_KEY");
    if (gateway.wmnow.webhook_secret.size() < 16) {
      problems.push_back(
          "gateway.wmnow.webhook_secret (SURVEYD_WMNOW_WEBHOOK_SECRET) must be set (at least 16 "
          "characters) to accept delivery reports");
    }
  } else if (gateway.kind == "kannel") {
    required(gateway.kannel.username, "gateway.kannel.username", "SURVEYD_KANNEL_USERNAME");
    required(gateway.kannel.password, "gateway.kannel.password", "SURVEYD_KANNEL_PASSWORD");
    const std::string& kannel_secret = gateway.kannel.webhook_secret;
    // Kannel carries the secret in URLs (dlr-url, the operator's get-url), next to its own
    // %-escapes: letters, digits and ._~- only.
    const bool url_safe = std::all_of(kannel_secret.begin(), kannel_secret.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '_' ||
             ch == '~' || ch == '-';
    });
    if (kannel_secret.size() < 16 || !url_safe) {
      problems.push_back(
          "gateway.kannel.webhook_secret (SURVEYD_KANNEL_WEBHOOK_SECRET) must be set (at least 16 "
          "characters, only letters, digits and ._~-) to accept delivery reports and replies");
    }
  } else if (gateway.kind == "twilio") {
    required(gateway.twilio.account_sid, "gateway.twilio.account_sid",
             "SURVEYD_TWILIO_ACCOUNT_SID");
    required(gateway.twilio.from, "gateway.twilio.from", "SURVEYD_TWILIO_FROM");
    if (gateway.twilio.auth_token.size() < 16) {
      problems.push_back(
          "gateway.twilio.auth_token (SURVEYD_TWILIO_AUTH_TOKEN) must be set (at least 16 "
          "characters): it signs the status and inbound callbacks");
    }
  }
  if (config.feed.tls_cert_file.empty() != config.feed.tls_key_file.empty()) {
    problems.push_back(
        "feed.tls_cert_file and feed.tls_key_file (SURVEYD_FEED_TLS_CERT_FILE, "
        "SURVEYD_FEED_TLS_KEY_FILE) go together: set both for mutual TLS, or neither");
  }
  if (!config.feed.tls_cert_file.empty() && !config.feed.tls) {
    problems.push_back(
        "feed.tls_cert_file is set but feed.tls is false: the client certificate would never "
        "be presented");
  }
  // A file is checked only where it is used: an unreadable one would fail every connection.
  auto readable = [&](bool used, const std::string& file, const char* key) {
    if (used && !file.empty() && !std::ifstream(file).good()) {
      problems.push_back(std::string(key) + ": cannot read '" + file + "'");
    }
  };
  const bool feed_tls = !config.feed.tcp.empty() && config.feed.tls;
  readable(feed_tls, config.feed.tls_cert_file, "feed.tls_cert_file");
  readable(feed_tls, config.feed.tls_key_file, "feed.tls_key_file");
  for (const auto& [key, file] : CaFilesInUse(config)) readable(true, file, key.c_str());
  if (config.http.tls_cert_file.empty() != config.http.tls_key_file.empty()) {
    problems.push_back(
        "http.tls_cert_file and http.tls_key_file (SURVEYD_HTTP_TLS_CERT_FILE, "
        "SURVEYD_HTTP_TLS_KEY_FILE) go together: set both for TLS, or neither");
  }
  if (config.service.stop_timeout <= config.gateway.timeout) {
    problems.push_back(
        "service.stop_timeout_s must be longer than gateway.timeout_ms, so that a send in flight "
        "at SIGTERM can finish");
  }
  if (config.service.stall_after <= config.gateway.timeout) {
    problems.push_back(
        "service.stall_after_s must be longer than gateway.timeout_ms, or a slow send would count "
        "as a stalled dispatcher");
  }
  return problems;
}

}  // namespace surveyd::config
