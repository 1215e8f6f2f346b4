#pragma once
// The daemon's configuration: YAML (config/surveyd.yaml) with every key overridable by an
// environment variable (SURVEYD_...), or by a file named in SURVEYD_..._FILE; secrets may also
// come from systemd credentials ($CREDENTIALS_DIRECTORY) and Docker secrets (/run/secrets).
// Every key is documented in docs/configuration.md. Errors name the file, line and key.
#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace surveyd::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Config {
  struct Database {
    std::string url = "postgresql:///surveyd";          // SURVEYD_DATABASE_URL
    int pool_size = 8;                                  // SURVEYD_DATABASE_POOL_SIZE
    bool migrate_on_start = true;                       // SURVEYD_DATABASE_MIGRATE_ON_START
    std::chrono::milliseconds statement_timeout{5000};  // SURVEYD_DATABASE_STATEMENT_TIMEOUT_MS
    std::chrono::milliseconds acquire_timeout{2000};    // SURVEYD_DATABASE_ACQUIRE_TIMEOUT_MS
    // Analysts' queries run on connections (and threads) of their own, optionally to a read
    // replica, so that a heavy dashboard never slows the citizens' pages or dispatch.
    std::string analytics_url;    // SURVEYD_DATABASE_ANALYTICS_URL: empty = url
    int analytics_pool_size = 2;  // SURVEYD_DATABASE_ANALYTICS_POOL_SIZE: also its threads
    std::chrono::milliseconds analytics_statement_timeout{30000};  // ..._ANALYTICS_TIMEOUT_MS
  } database;

  struct Http {
    std::string listen = "127.0.0.1:8080";                  // SURVEYD_HTTP_LISTEN (host:port)
    std::string public_base_url = "http://127.0.0.1:8080";  // SURVEYD_PUBLIC_BASE_URL
    int worker_threads = 32;                                // SURVEYD_HTTP_WORKER_THREADS
    int io_threads = 1;                                     // SURVEYD_HTTP_IO_THREADS
    int max_connections = 1000;                             // SURVEYD_HTTP_MAX_CONNECTIONS
    // Open connections from one client (an IPv4 address, an IPv6 /64) at most; trusted proxies
    // are not counted. Left unset, the lesser of 64 and max_connections.
    int max_connections_per_client = 64;   // SURVEYD_HTTP_MAX_CONNECTIONS_PER_CLIENT
    std::size_t max_body_bytes = 1 << 20;  // SURVEYD_HTTP_MAX_BODY_BYTES
    // Addresses of reverse proxies whose X-Forwarded-For is believed, for per-client limits.
    std::vector<std::string> trusted_proxies;  // SURVEYD_HTTP_TRUSTED_PROXIES (comma-separated)
    // TLS on the listener, for forces without a reverse proxy: both set, or neither (plain HTTP).
    // SIGHUP reads them again; new connections get the new certificate.
    std::string tls_cert_file;  // SURVEYD_HTTP_TLS_CERT_FILE (PEM, the chain after the leaf)
    std::string tls_key_file;   // SURVEYD_HTTP_TLS_KEY_FILE (PEM)
  } http;

  struct Rules {
    std::string path = "config/rules.yaml";  // SURVEYD_RULES
  } rules;

  struct Feed {
    std::string secret;                 // SURVEYD_FEED_SECRET: HMAC key of the HTTP push
    std::string tcp;                    // SURVEYD_FEED_TCP: host:port of the TCP stream; empty: off
    std::string name = "controlworks";  // SURVEYD_FEED_NAME: cursor key in the database
    std::chrono::seconds silence_timeout{30};  // SURVEYD_FEED_SILENCE_TIMEOUT
    std::chrono::seconds unready_after{120};   // SURVEYD_FEED_UNREADY_AFTER
    int batch_size = 500;                      // SURVEYD_FEED_BATCH_SIZE
    std::chrono::milliseconds batch_wait{20};  // SURVEYD_FEED_BATCH_WAIT_MS
    bool tls = false;                          // SURVEYD_FEED_TLS
    std::string tls_ca_file;                   // SURVEYD_FEED_TLS_CA_FILE
    std::string tls_cert_file;  // SURVEYD_FEED_TLS_CERT_FILE: our client certificate (mutual TLS)
    std::string tls_key_file;   // SURVEYD_FEED_TLS_KEY_FILE: its private key
  } feed;

  // One section per adapter; `kind` picks the one in use (gateway::MakeGateway).
  struct Gateway {
    std::string kind = "wmnow";                // SURVEYD_GATEWAY: wmnow, kannel or twilio
    double rate_per_second = 20;               // SURVEYD_GATEWAY_RATE: all instances; 0: none
    int max_in_flight = 64;                    // SURVEYD_GATEWAY_MAX_IN_FLIGHT: per instance
    std::string sender = "Police";             // SURVEYD_GATEWAY_SENDER (WMNow, Kannel)
    std::chrono::milliseconds timeout{10000};  // SURVEYD_GATEWAY_TIMEOUT_MS: per send
    std::string ca_file;                       // SURVEYD_GATEWAY_CA_FILE: empty = system CAs
    struct Wmnow {
      std::string base_url = "http://127.0.0.1:8090";  // SURVEYD_WMNOW_BASE_URL
      std::string api_key;                             // SURVEYD_WMNOW_API_KEY
      std::string webhook_secret;                      // SURVEYD_WMNOW_WEBHOOK_SECRET
    } wmnow;
    struct Kannel {
      // SURVEYD_KANNEL_SENDSMS_URL: smsbox's sendsms interface
      std::string sendsms_url = "http://127.0.0.1:13013/cgi-bin/sendsms";
      std::string username;        // SURVEYD_KANNEL_USERNAME: the sendsms-user group
      std::string password;        // SURVEYD_KANNEL_PASSWORD
      std::string webhook_secret;  // SURVEYD_KANNEL_WEBHOOK_SECRET: in dlr-url and get-url
      std::string smsc;            // SURVEYD_KANNEL_SMSC: route through this smsc id; empty: any
      // SURVEYD_KANNEL_CALLBACK_BASE_URL: where Kannel reaches us for delivery reports (a
      // network of its own, as in docker/compose.yaml); empty: http.public_base_url
      std::string callback_base_url;
    } kannel;
    struct Twilio {
      std::string base_url = "https://api.twilio.com";  // SURVEYD_TWILIO_BASE_URL
      std::string account_sid;                          // SURVEYD_TWILIO_ACCOUNT_SID
      std::string auth_token;                           // SURVEYD_TWILIO_AUTH_TOKEN
      std::string from;                                 // SURVEYD_TWILIO_FROM
    } twilio;
  } gateway;

  struct Dispatch {
    int workers = 4;                               // SURVEYD_DISPATCH_WORKERS
    int batch_size = 100;                          // SURVEYD_DISPATCH_BATCH_SIZE
    std::chrono::milliseconds poll_interval{500};  // SURVEYD_DISPATCH_POLL_MS
    std::chrono::seconds lease{60};                // SURVEYD_DISPATCH_LEASE
    int max_attempts = 8;                          // SURVEYD_DISPATCH_MAX_ATTEMPTS
    std::chrono::seconds backoff_base{5};          // SURVEYD_DISPATCH_BACKOFF_BASE
    std::chrono::seconds backoff_max{600};         // SURVEYD_DISPATCH_BACKOFF_MAX
    int breaker_failures = 5;                      // SURVEYD_DISPATCH_BREAKER_FAILURES
    int breaker_failure_percent = 50;              // SURVEYD_DISPATCH_BREAKER_FAILURE_PERCENT
    std::chrono::seconds breaker_window{30};       // SURVEYD_DISPATCH_BREAKER_WINDOW
    std::chrono::seconds breaker_open{15};         // SURVEYD_DISPATCH_BREAKER_OPEN
    std::chrono::seconds breaker_max_open{300};    // SURVEYD_DISPATCH_BREAKER_MAX_OPEN
    // How far this instance's clock may be from the database's before it sends nothing and is
    // not ready; 0: only measured and reported.
    std::chrono::milliseconds max_clock_skew{5000};        // SURVEYD_DISPATCH_MAX_CLOCK_SKEW_MS
    std::chrono::milliseconds clock_check_interval{5000};  // SURVEYD_DISPATCH_CLOCK_CHECK_MS
  } dispatch;

  struct Survey {
    std::string token_secret;        // SURVEYD_TOKEN_SECRET (at least 32 characters)
    std::string phone_hash_key;      // SURVEYD_PHONE_HASH_KEY (at least 32 characters)
    std::string force_name;          // SURVEYD_FORCE_NAME; empty: the rules' force_name
    std::string privacy_url;         // SURVEYD_PRIVACY_URL
    int rate_limit_per_minute = 30;  // SURVEYD_SURVEY_RATE_LIMIT: bad-token tries per client
    std::chrono::milliseconds cache_ttl{10000};  // SURVEYD_SURVEY_CACHE_TTL_MS; 0: no cache
  } survey;

  // Personal data at rest (docs/data-protection.md).
  struct Privacy {
    // Keys that encrypt numbers and raw events (AES-256-GCM): "id:key, id:key", each key 32 bytes
    // as 64 hex digits or base64. New values use the active one; the others still decrypt.
    std::string phone_keys;                             // SURVEYD_PHONE_KEYS
    std::string phone_key_active;                       // SURVEYD_PHONE_KEY_ACTIVE
    std::vector<std::string> phone_hash_previous_keys;  // SURVEYD_PHONE_HASH_PREVIOUS_KEYS
  } privacy;

  struct Retention {
    std::chrono::seconds interval{3600};  // SURVEYD_RETENTION_INTERVAL: how often it runs
    int number_grace_days = 7;  // SURVEYD_RETENTION_NUMBER_GRACE_DAYS: after a survey finished
    int phone_hash_days = 90;   // SURVEYD_RETENTION_PHONE_HASH_DAYS: >= frequency_cap_days
    int raw_days = 30;          // SURVEYD_RETENTION_RAW_DAYS
    int rejected_days = 30;     // SURVEYD_RETENTION_REJECTED_DAYS
    int facts_days = 400;       // SURVEYD_RETENTION_FACTS_DAYS
    int comment_days = 365;     // SURVEYD_RETENTION_COMMENT_DAYS
    int reply_days = 30;        // SURVEYD_RETENTION_REPLY_DAYS
  } retention;

  struct Api {
    // An administrator's token from the configuration, to issue the first tokens with; others
    // come from `surveyd token create`. analyst_token is its old name, still read (deprecated).
    std::string bootstrap_token;  // SURVEYD_API_BOOTSTRAP_TOKEN
    std::string analyst_token;    // SURVEYD_ANALYST_TOKEN (deprecated: bootstrap_token)
    int min_cell_size = 10;       // SURVEYD_API_MIN_CELL_SIZE: fewer respondents: suppressed
    // Noise on the figures' counts and sums against differencing (docs/analytics.md).
    bool figures_noise = true;            // SURVEYD_API_FIGURES_NOISE
    int bad_token_limit_per_minute = 10;  // SURVEYD_API_BAD_TOKEN_LIMIT: per client, then 429
    int analytics_queue = 2;  // SURVEYD_API_ANALYTICS_QUEUE: analytics requests that may wait
  } api;

  struct Metrics {
    // Who may read GET /metrics: addresses or CIDR ranges, compared with the client (behind a
    // trusted proxy, the address it forwarded). Empty: /metrics is off.
    std::vector<std::string> allow = {"127.0.0.0/8", "::1"};  // SURVEYD_METRICS_ALLOW
    std::chrono::seconds sample_interval{15};  // SURVEYD_METRICS_SAMPLE_INTERVAL: queue from the db
  } metrics;

  struct Service {
    // SIGTERM: sends in flight finish or are handed back within this, then the process exits.
    std::chrono::seconds stop_timeout{20};  // SURVEYD_STOP_TIMEOUT
    // A loop (dispatcher, feed consumer, HTTP listener) that has shown no progress this long is
    // stalled: systemd's watchdog is no longer fed, and the log says which.
    std::chrono::seconds stall_after{60};  // SURVEYD_STALL_AFTER
    // SURVEYD_SERVICE_DUMPABLE: false, serve is not dumpable (no core dump, no ptrace or /proc
    // reading by the same user); true only for what measures it from outside (benchmarks).
    bool dumpable = false;
  } service;

  struct Log {
    std::string level = "info";   // SURVEYD_LOG_LEVEL
    std::string format = "text";  // SURVEYD_LOG_FORMAT: text, or json (one object per line)
  } log;

  // Where alerts go (issue 10); the alert rules themselves are in the rules file (alerts:).
  struct Alerts {
    std::string webhook_url;     // SURVEYD_ALERT_WEBHOOK_URL; empty: no webhook
    std::string webhook_secret;  // SURVEYD_ALERT_WEBHOOK_SECRET ("whsec_<base64>" or text)
    std::chrono::milliseconds webhook_timeout{10000};  // SURVEYD_ALERT_WEBHOOK_TIMEOUT_MS
    std::string webhook_ca_file;        // SURVEYD_ALERT_WEBHOOK_CA_FILE: empty = system CAs
    std::vector<std::string> email_to;  // SURVEYD_ALERT_EMAIL_TO (comma-separated)
    // SURVEYD_ALERT_EMAIL_BY_KIND: "safeguarding=mash@..., complaint=psd@...": who gets the alerts
    // of one kind (besides email_to), by kind name (safeguarding, complaint, low_scores).
    std::map<std::string, std::vector<std::string>> email_by_kind;
    std::vector<std::string> escalate_to;  // SURVEYD_ALERT_ESCALATE_TO: alerts nobody acknowledged
    std::string email_from;                // SURVEYD_ALERT_EMAIL_FROM
    std::chrono::milliseconds poll_interval{1000};  // SURVEYD_ALERT_POLL_MS
    int max_attempts = 10;                          // SURVEYD_ALERT_MAX_ATTEMPTS
    std::chrono::seconds backoff_base{10};          // SURVEYD_ALERT_BACKOFF_BASE
    std::chrono::seconds backoff_max{900};          // SURVEYD_ALERT_BACKOFF_MAX
    // SURVEYD_ALERT_LEASE: how long a notifier holds a notice it claimed before another may send
    // it again; 0: the longer of the webhook and SMTP timeouts, plus 60 s.
    std::chrono::seconds lease{0};
  } alerts;

  // The SMTP relay for alert e-mails and recognition digests.
  struct Smtp {
    std::string host;                          // SURVEYD_SMTP_HOST; empty: no e-mail
    int port = 25;                             // SURVEYD_SMTP_PORT
    bool starttls = false;                     // SURVEYD_SMTP_STARTTLS: then required
    std::string ca_file;                       // SURVEYD_SMTP_CA_FILE: empty = system CAs
    std::string username;                      // SURVEYD_SMTP_USERNAME: AUTH PLAIN, over TLS only
    std::string password;                      // SURVEYD_SMTP_PASSWORD
    std::chrono::milliseconds timeout{20000};  // SURVEYD_SMTP_TIMEOUT_MS
  } smtp;

  struct Recognition {
    // People with fewer answers are suppressed. (To be one key with the analysts' API's.)
    int min_cell_size = 10;      // SURVEYD_RECOGNITION_MIN_CELL_SIZE
    int digest_weekday = 1;      // SURVEYD_RECOGNITION_DIGEST_DAY: monday ... sunday (0 = Sunday)
    int digest_minute = 8 * 60;  // SURVEYD_RECOGNITION_DIGEST_TIME: "HH:MM", the rules' zone
    // SURVEYD_RECOGNITION_DIGEST_TO: "TEAM=address, ..., *=address" (* = every other team with
    // answers that week); empty: no digest.
    std::map<std::string, std::string> digest_to;
  } recognition;
};

// One configuration key, for documentation and `surveyd config check`.
struct KeyInfo {
  std::string path;  // "http.listen"
  std::string env;   // "SURVEYD_HTTP_LISTEN"
  bool secret;       // also read from $CREDENTIALS_DIRECTORY and /run/secrets
};
std::vector<KeyInfo> Keys();

// Where secrets are looked for besides the environment (tests point these elsewhere).
struct SecretSources {
  std::string docker_secrets_dir = "/run/secrets";
};

// Every problem found while loading, not just the first; `config` holds what could be read.
struct LoadResult {
  Config config;
  std::vector<std::string> errors;
  // False when the file could not be read or parsed: `config` is then the defaults and the
  // environment, and what it says of files (the rules' path) is not what the file meant.
  bool file_read = true;
};
LoadResult LoadAll(const std::string& path, const std::map<std::string, std::string>& env,
                   const SecretSources& sources = {});

// Loads `path` (empty: defaults only), then applies `env` (normally the process environment):
// for each key, SURVEYD_X, else the file named by SURVEYD_X_FILE, else (secrets only)
// $CREDENTIALS_DIRECTORY/surveyd_x, else /run/secrets/surveyd_x, else the YAML value.
// Throws ConfigError with the first problem: "config/surveyd.yaml:14:3: http.listen: expected
// host:port".
Config Load(const std::string& path, const std::map<std::string, std::string>& env,
            const SecretSources& sources = {});
// The SURVEYD_* variables and CREDENTIALS_DIRECTORY.
std::map<std::string, std::string> ProcessEnvironment();
// The SURVEYD_* variables in `env` that surveyd does not read, each said with the one it may have
// been meant as: a misspelt name would otherwise change nothing without a word. Said, not
// refused: other tools of a deployment may share the prefix.
std::vector<std::string> UnknownVariables(const std::map<std::string, std::string>& env);

// Checks what `serve` needs (secrets present and long enough, URLs well formed).
// Returns human-readable problems; empty when fine.
std::vector<std::string> ValidateForServe(const Config& config);

// The CA files (PEM) a TLS client of `serve` will trust, as {key, path}, only where they are used
// (the feed's with a TLS feed, the relay's with an SMTP host, the webhook's with a webhook).
std::vector<std::pair<std::string, std::string>> CaFilesInUse(const Config& config);

// The senders the configured gateway texts from that networks may refuse, cut or rewrite
// (sms::SenderProblem), one line each: "gateway.sender (SURVEYD_GATEWAY_SENDER) 'West Midlands
// Police': an alphanumeric sender has at most 11 characters, not 20". WMNow and Kannel send from
// gateway.sender, Twilio from gateway.twilio.from (a messaging service, "MG" and 32 hex digits,
// is not a sender and passes). Warnings, not problems: `serve` starts and logs them; `config check`
// and `rules check -c` say them.
// `replies_wanted` (the rules have a two-way group or tell citizens to reply STOP:
// rules::AsksForReplies): a sender made of letters is warned of too when the gateway's network
// cannot reply to one, as most cannot (Twilio's never; Kannel's SMSCs seldom). WMNow's contract
// takes replies to its sender id, so it passes.
std::vector<std::string> SenderWarnings(const Config& config, bool replies_wanted = false);

// What the settings leave the citizens' pages wanting, one line each: survey links over plain
// HTTP to another machine than this one (answers, and the help a citizen asks for, cross the
// network in clear), and no privacy notice for the page to link to (survey.privacy_url).
// Warnings, not problems: a demo or a test runs without them; `serve` logs them at start and
// `config check` says them.
std::vector<std::string> PageWarnings(const Config& config);

// "localhost", 127.0.0.0/8 or ::1: this machine itself. Other names are not resolved: remote.
bool IsLoopbackHost(const std::string& host);

// Splits "host:port" / "[::1]:port"; throws ConfigError.
std::pair<std::string, std::uint16_t> SplitHostPort(const std::string& text,
                                                    const std::string& key);

}  // namespace surveyd::config
