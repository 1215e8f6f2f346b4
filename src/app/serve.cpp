// `surveyd serve`: wires the components, then waits for signals (SIGHUP reloads the rules,
// SIGINT/SIGTERM stop in order: stop taking requests and events, finish sends in hand, close).
#include <arpa/inet.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <thread>

#include "analytics.hpp"
#include "app/alerts_component.hpp"
#include "commands.hpp"
#include "surveyd/api/api.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/time_zone.hpp"
#include "surveyd/dispatch/dispatcher.hpp"
#include "surveyd/feed/tcp_consumer.hpp"
#include "surveyd/gateway/factory.hpp"
#include "surveyd/http/server.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/store/feed_lock.hpp"
#include "surveyd/store/pg_store.hpp"
#include "surveyd/survey/handler.hpp"
#include "surveyd/survey/sms_replies.hpp"

namespace surveyd::app {
namespace {

using namespace std::chrono_literals;

// The rules in force. SIGHUP swaps in a new set only when it loads without errors.
class RulesHolder {
 public:
  explicit RulesHolder(std::string path) : path_(std::move(path)) {}

  // Returns the errors; on success the new rules are in force.
  std::vector<rules::RuleError> Reload() {
    // Read once, so that the version (a hash of the text) is that of the rules loaded.
    std::ifstream file(path_, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    auto loaded = file ? rules::LoadString(text.str(), path_) : rules::LoadFile(path_);
    std::lock_guard lock(mutex_);
    if (!loaded.rules) {
      last_error_ = loaded.errors.empty() ? "unknown error" : loaded.errors.front().ToString();
      return loaded.errors;
    }
    current_ = loaded.rules;
    version_ = "sha256:" + crypto::Sha256Hex(text.str());
    last_error_.clear();
    loaded_at_ = SystemClock().Now();
    return {};
  }

  std::shared_ptr<const rules::RuleSet> Current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

  // GET /api/v1/rules: what is in force, for ops.
  std::string Info() const {
    std::lock_guard lock(mutex_);
    if (!current_) return nlohmann::json{{"ok", false}, {"path", path_}}.dump();
    nlohmann::json groups = nlohmann::json::array();
    for (const auto& g : current_->groups()) {
      groups.push_back({{"id", g.id},
                        {"name", g.name},
                        {"trigger", EventTypeName(g.trigger)},
                        {"channels", g.channels},
                        {"categories", g.categories},
                        {"grades", g.grades},
                        {"sampling_percent", g.sampling_percent},
                        {"languages", g.languages()}});
    }
    nlohmann::json exclusions = nlohmann::json::array();
    for (const auto& e : current_->exclusions()) {
      exclusions.push_back({{"id", e.id}, {"description", e.description}, {"groups", e.groups}});
    }
    nlohmann::json out = {{"path", path_},
                          {"version", version_},
                          {"loaded_at", FormatRfc3339(loaded_at_)},
                          {"summary", current_->Summary()},
                          {"force_name", current_->force_name()},
                          {"time_zone", current_->zone().Name()},
                          {"quiet_hours", current_->quiet_hours().ToString()},
                          {"frequency_cap_days", current_->policy().frequency_cap_days},
                          {"minimum_age", current_->policy().minimum_age},
                          {"groups", groups},
                          {"exclusions", exclusions}};
    if (!last_error_.empty()) out["last_reload_error"] = last_error_;
    return out.dump();
  }

  nlohmann::json Describe() const {
    std::lock_guard lock(mutex_);
    nlohmann::json out = {{"ok", current_ != nullptr}, {"path", path_}};
    if (current_) {
      out["summary"] = current_->Summary();
      out["loaded_at"] = FormatRfc3339(loaded_at_);
    }
    if (!last_error_.empty()) out["last_reload_error"] = last_error_;
    return out;
  }

 private:
  std::string path_;
  mutable std::mutex mutex_;
  std::shared_ptr<const rules::RuleSet> current_;
  std::string last_error_;
  std::string version_;
  TimePoint loaded_at_;
};

// The TCP feed's state for /readyz: unready when it has been down, or has held events it could not
// store, longer than `unready_after` (while this instance leads; a standby instance is ready by
// definition).
nlohmann::json DescribeFeed(const feed::TcpConsumerStatus& s, TimePoint now,
                            std::chrono::seconds unready_after, bool& ok) {
  nlohmann::json out = {
      {"leader", s.leader},       {"connected", s.connected},   {"accepted", s.accepted},
      {"duplicate", s.duplicate}, {"rejected", s.rejected},     {"gaps", s.gaps},
      {"missing", s.missing},     {"reconnects", s.reconnects}, {"heartbeats", s.heartbeats}};
  if (s.last_seq) out["seq"] = *s.last_seq;
  if (s.commit_latency.count > 0) {
    const auto ms = [](double v) { return std::round(v * 10) / 10; };
    out["commit_latency_ms"] = {{"events", s.commit_latency.count},
                                {"p50", ms(s.commit_latency.p50_ms)},
                                {"p95", ms(s.commit_latency.p95_ms)},
                                {"p99", ms(s.commit_latency.p99_ms)},
                                {"max", ms(s.commit_latency.max_ms)}};
  }
  if (s.last_event_occurred_at) {
    out["lag_seconds"] = std::chrono::duration<double>(now - *s.last_event_occurred_at).count();
  }
  if (!s.last_error.empty()) out["last_error"] = s.last_error;
  ok = true;
  if (s.leader && s.disconnected_since) {
    out["down_seconds"] =
        std::chrono::duration_cast<std::chrono::seconds>(now - *s.disconnected_since).count();
    ok = now - *s.disconnected_since < unready_after;
  }
  // Connected is not enough: events read and not stored for this long mean no progress.
  if (s.leader && s.waiting_since) {
    const auto waiting = now - *s.waiting_since;
    out["waiting_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(waiting).count();
    if (waiting >= unready_after) {
      ok = false;
      out["stalled"] = true;
    }
  }
  out["ok"] = ok;
  return out;
}

// A plain-TCP feed carries phone numbers and incident details in clear: only acceptable to this
// machine itself. Names other than "localhost" are not resolved here: they count as remote.
bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  unsigned char v4[4];
  return inet_pton(AF_INET, host.c_str(), v4) == 1 && v4[0] == 127;
}

// Open descriptors bound the connection cap: raise the soft limit to the hard one, and say so when
// the cap still cannot be reached.
void CheckDescriptorLimit(int max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  // Room for the database pool, the feed, logs and the connections being refused.
  const auto needed = static_cast<rlim_t>(max_connections) + 200;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    spdlog::warn(
        "http.max_connections is {} but this process may open only {} files: raise LimitNOFILE "
        "(systemd) or ulimit -n to at least {}, or lower the cap",
        max_connections, limit.rlim_cur, needed);
  }
}

// The adapter's settings: only `gateway.kind`'s section is read by the adapter it picks.
gateway::GatewayConfig GatewayConfigFrom(const config::Config& config) {
  const auto& in = config.gateway;
  gateway::GatewayConfig out;
  out.kind = in.kind;
  out.public_base_url = config.http.public_base_url;
  out.sender = in.sender;
  out.timeout = in.timeout;
  out.max_in_flight = in.max_in_flight;
  out.wmnow = {in.wmnow.base_url, in.wmnow.api_key, in.wmnow.webhook_secret};
  out.kannel = {in.kannel.sendsms_url, in.kannel.username, in.kannel.password,
                in.kannel.webhook_secret, in.kannel.smsc};
  out.twilio = {in.twilio.base_url, in.twilio.account_sid, in.twilio.auth_token, in.twilio.from};
  return out;
}

std::string WorkerId() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace

int Serve(const config::Config& config, std::ostream& err) {
  auto problems = config::ValidateForServe(config);
  for (auto& problem : AlertsComponent::Problems(config)) problems.push_back(std::move(problem));
  if (!problems.empty()) {
    for (const auto& p : problems) err << "surveyd: configuration error: " << p << "\n";
    return 2;
  }
  SetUpLogging(config);

  RulesHolder rules(config.rules.path);
  if (auto errors = rules.Reload(); !errors.empty()) {
    for (const auto& e : errors) err << e.ToString() << "\n";
    err << "surveyd: the rules file has errors; not starting\n";
    return 2;
  }
  spdlog::info("surveyd {} starting; rules: {}", SURVEYD_VERSION, rules.Current()->Summary());

  // Signals are taken by sigwait below: block them before any thread starts, so every thread
  // inherits the mask and none is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    if (config.database.migrate_on_start) {
      auto report = store::Migrate(config.database.url);
      spdlog::info("database: {} migration(s) applied, {} already in place", report.applied.size(),
                   report.already_applied);
    }
  } catch (const std::exception& e) {
    err << "surveyd: database migration failed: " << e.what() << "\n";
    return 1;
  }

  SystemClock clock;
  // Alerts: the rules file's alerts: section, read like the survey rules (and reloaded with them).
  AlertsComponent alerts(config, WorkerId(), clock,
                         [&rules] { return rules.Current()->zone_ptr(); });
  if (auto errors = alerts.Reload(); !errors.empty()) {
    for (const auto& e : errors) err << e.ToString() << "\n";
    err << "surveyd: the alert rules have errors; not starting\n";
    return 2;
  }
  spdlog::info("alerts: {}", alerts.Current()->Summary());
  store::PgOptions store_options;
  store_options.url = config.database.url;
  store_options.pool_size = config.database.pool_size;
  store_options.phone_hash_key = config.survey.phone_hash_key;
  store_options.statement_timeout = config.database.statement_timeout;
  store_options.acquire_timeout = config.database.acquire_timeout;
  auto store = store::MakePgStore(store_options);

  auto decider = [&rules, &clock]() -> store::DecideFn {
    auto current = rules.Current();
    return [current, &clock](const Event& event, const ContactHistory& history,
                             const RelatedEvents& related) {
      return rules::Decide(*current, event, history, related, clock.Now());
    };
  };

  // What a citizen's text does, under the rules in force when it arrives.
  auto replier = [&rules, &clock]() -> store::ReplyFn {
    auto current = rules.Current();
    return [current, &clock](const store::ReplyContext& context, const std::string& body) {
      return survey::PlanReply(*current, context, body, clock.Now());
    };
  };

  auto gateway = gateway::MakeGateway(GatewayConfigFrom(config));

  dispatch::DispatcherOptions dispatch_options;
  dispatch_options.workers = config.dispatch.workers;
  dispatch_options.batch_size = config.dispatch.batch_size;
  dispatch_options.poll_interval = config.dispatch.poll_interval;
  dispatch_options.lease = config.dispatch.lease;
  // One request's lease outlasts the gateway's own timeout, so a slow answer is never taken for
  // a dead sender.
  dispatch_options.send_lease =
      std::max(config.dispatch.lease,
               std::chrono::duration_cast<std::chrono::seconds>(config.gateway.timeout * 2) + 5s);
  dispatch_options.max_attempts = config.dispatch.max_attempts;
  dispatch_options.backoff_base = config.dispatch.backoff_base;
  dispatch_options.backoff_max = config.dispatch.backoff_max;
  dispatch_options.rate_per_second = config.gateway.rate_per_second;
  dispatch_options.breaker.failures_to_open = config.dispatch.breaker_failures;
  dispatch_options.breaker.open_for = config.dispatch.breaker_open;
  dispatch_options.breaker.max_open_for = config.dispatch.breaker_max_open;
  dispatch_options.public_base_url = config.http.public_base_url;
  dispatch_options.token_secret = config.survey.token_secret;
  dispatch_options.worker_id = WorkerId();
  // Any instance's new message wakes this one's workers (LISTEN), so none waits for a poll.
  dispatch::Dispatcher dispatcher(
      dispatch_options, *store, *gateway, clock, [&rules] { return rules.Current(); },
      store::MakeOutboxListener(config.database.url));

  survey::SurveyHandlerOptions survey_options{*store, clock};
  survey_options.page.force_name = config.survey.force_name;
  survey_options.page.privacy_url = config.survey.privacy_url;
  survey_options.page.zone = rules.Current()->zone_ptr();
  survey_options.bad_token_limit_per_minute = config.survey.rate_limit_per_minute;
  survey_options.raise_alerts = [&alerts](const store::SurveyView& survey,
                                          const store::SurveyAnswers& answers) {
    return alerts.Raise(survey, answers);
  };
  survey_options.cache_ttl = config.survey.cache_ttl;
  survey::SurveyPages survey_pages(survey_options);

  // The TCP feed, when configured: exactly one instance consumes it (advisory lock), every
  // instance serves HTTP and dispatches.
  std::unique_ptr<store::FeedLock> feed_lock;
  std::unique_ptr<feed::TcpConsumer> consumer;
  if (!config.feed.tcp.empty()) {
    auto [feed_host, feed_port] = config::SplitHostPort(config.feed.tcp, "feed.tcp");
    feed::TcpConsumerOptions feed_options;
    feed_options.host = feed_host;
    feed_options.port = feed_port;
    feed_options.tls = config.feed.tls;
    feed_options.tls_ca_file = config.feed.tls_ca_file;
    feed_options.tls_cert_file = config.feed.tls_cert_file;
    feed_options.tls_key_file = config.feed.tls_key_file;
    feed_options.on_surveys_created = [&dispatcher] { dispatcher.Wake(); };
    if (!config.feed.tls && !IsLoopback(feed_host)) {
      spdlog::warn(
          "feed.tcp {} is plain TCP to another machine: events (phone numbers, incident details) "
          "cross the network unencrypted and unauthenticated; set feed.tls: true with "
          "feed.tls_ca_file (docs/operations.md)",
          config.feed.tcp);
    }
    feed_options.feed = config.feed.name;
    feed_options.batch_size = static_cast<std::size_t>(config.feed.batch_size);
    feed_options.batch_wait = config.feed.batch_wait;
    feed_options.silence_timeout = config.feed.silence_timeout;
    feed_lock = std::make_unique<store::FeedLock>(config.database.url, config.feed.name);
    consumer =
        std::make_unique<feed::TcpConsumer>(feed_options, *store, decider, feed_lock.get(), clock);
  }

  // The analysts' API: its own connections and threads, tokens, audit trail, rollup sweeper.
  Analytics analytics(config, clock);
  if (rules.Current()->zone().Name() != "Europe/London") {
    spdlog::warn(
        "analytics count days in Europe/London (analytics_zone() in the database), "
        "not the rules' {}",
        rules.Current()->zone().Name());
  }

  api::ApiOptions api_options;
  api_options.ingest = store.get();
  api_options.outbox = store.get();
  api_options.surveys = store.get();
  api_options.stats = store.get();
  analytics.Wire(api_options);
  api_options.rules_info = [&rules] { return rules.Info(); };
  api_options.clock = &clock;
  api_options.decider = decider;
  api_options.replier = replier;
  api_options.feed_secret = config.feed.secret;
  api_options.gateway = gateway.get();
  api_options.trusted_proxies = config.http.trusted_proxies;
  api_options.survey_pages = [&survey_pages](const http::Request& request) {
    return survey_pages.Handle(request);
  };
  api_options.survey_pages_fast = [&survey_pages](const http::Request& request) {
    return survey_pages.HandleFast(request);
  };
  api_options.on_ingested = [&dispatcher] { dispatcher.Wake(); };
  api_options.alerts = &alerts.store();
  api_options.alert_config = [&alerts] { return alerts.Current(); };
  api_options.on_alert_changed = [&alerts] { alerts.notifier().Wake(); };
  api_options.recognition_min_cell_size = config.recognition.min_cell_size;
  std::unique_ptr<http::Server> server;  // made below; /readyz reports on it once it runs
  api_options.readiness = [&]() {
    nlohmann::json checks;
    bool database = false;
    try {
      database = store->Ping();
    } catch (const std::exception&) {
      database = false;
    }
    checks["database"] = {{"ok", database}};
    checks["rules"] = rules.Describe();
    checks["alerts"] = alerts.Describe();
    const auto status = dispatcher.Status();
    // A gateway in trouble shows here; only refused credentials (a configuration error) make
    // the instance unready: a gateway that is down is waited out, and the survey pages and the
    // feed still work.
    checks["gateway"] = {{"ok", !status.gateway_auth_failing && status.breaker == "closed"},
                         {"kind", gateway->Name()},
                         {"breaker", status.breaker},
                         {"breaker_opened", status.breaker_opened},
                         {"rate_per_second", config.gateway.rate_per_second},
                         {"max_in_flight", config.gateway.max_in_flight},
                         {"sent", status.sent},
                         {"retried", status.retried},
                         {"failed", status.failed},
                         {"in_doubt", status.in_doubt},
                         {"throttled", status.throttled},
                         {"auth_refused", status.auth_refused},
                         {"cancelled", status.cancelled},
                         {"expired", status.expired}};
    if (status.gateway_auth_failing)
      checks["gateway"]["error"] = "gateway refuses our credentials";
    else if (status.breaker != "closed") {
      checks["gateway"]["error"] =
          "the gateway keeps failing: sending paused (" + status.last_error + ")";
    }
    if (server) {
      const auto http_status = server->Status();
      checks["http"] = {{"open_connections", http_status.open_connections},
                        {"peak_connections", http_status.peak_connections},
                        {"max_connections", config.http.max_connections},
                        {"refused_over_cap", http_status.refused_over_cap},
                        {"fast_answers", http_status.fast_answers},
                        {"pooled_answers", http_status.pooled_answers}};
    }
    const auto pages = survey_pages.Status();
    checks["survey_pages"] = {{"cached_surveys", pages.cached_surveys},
                              {"queued_opens", pages.queued_opens},
                              {"opens_recorded", pages.opens_recorded},
                              {"opens_dropped", pages.opens_dropped}};
    bool feed_ok = true;
    if (consumer) {
      checks["feed"] =
          DescribeFeed(consumer->Status(), clock.Now(), config.feed.unready_after, feed_ok);
    }
    const bool ready =
        database && checks["rules"]["ok"].get<bool>() && !status.gateway_auth_failing && feed_ok;
    return api::Readiness{ready, nlohmann::json{{"ready", ready}, {"checks", checks}}.dump()};
  };

  auto [host, port] = config::SplitHostPort(config.http.listen, "http.listen");
  http::ServerOptions server_options;
  server_options.host = host;
  server_options.port = port;
  server_options.worker_threads = config.http.worker_threads;
  server_options.io_threads = config.http.io_threads;
  server_options.max_connections = static_cast<std::size_t>(config.http.max_connections);
  server_options.max_body_bytes = config.http.max_body_bytes;
  CheckDescriptorLimit(config.http.max_connections);
  server = http::MakeServer(server_options, api::MakeApiHandler(api_options),
                            api::MakeApiFastHandler(api_options));
  try {
    server->Start();
  } catch (const std::exception& e) {
    err << "surveyd: cannot listen on " << config.http.listen << ": " << e.what() << "\n";
    return 1;
  }
  dispatcher.Start();
  alerts.Start();
  analytics.Start();
  if (consumer) {
    consumer->Start();
    spdlog::info("consuming the TCP feed at {} (when this instance holds the feed lock)",
                 config.feed.tcp);
  }
  spdlog::info("listening on {}:{}; survey links at {}/s/...", host, server->Port(),
               config.http.public_base_url);

  // A minute's summary of the feed in the log, for ops without a metrics stack.
  std::atomic<bool> stopping{false};
  std::thread feed_reporter;
  if (consumer) {
    feed_reporter = std::thread([&] {
      std::int64_t last_accepted = -1;
      while (!stopping) {
        for (int i = 0; i < 600 && !stopping; ++i) std::this_thread::sleep_for(100ms);
        if (stopping) break;
        const auto s = consumer->Status();
        if (!s.leader || s.accepted == last_accepted) continue;
        last_accepted = s.accepted;
        bool ok = true;
        spdlog::info("feed: {}",
                     DescribeFeed(s, clock.Now(), config.feed.unready_after, ok).dump());
      }
    });
  }

  for (;;) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number == SIGHUP) {
      auto errors = rules.Reload();
      for (auto& error : alerts.Reload()) errors.push_back(std::move(error));
      if (errors.empty()) {
        spdlog::info("rules reloaded: {}", rules.Current()->Summary());
      } else {
        for (const auto& e : errors) spdlog::error("rules reload: {}", e.ToString());
        spdlog::error("rules reload failed with {} error(s); the previous rules stay in force",
                      errors.size());
      }
      continue;
    }
    spdlog::info("{} received: stopping", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }

  stopping = true;
  if (feed_reporter.joinable()) feed_reporter.join();
  if (consumer) consumer->Stop();
  server->Stop();
  analytics.Stop();
  survey_pages.Stop();  // no request in flight any more: the first opens it queued are written
  dispatcher.Stop();
  alerts.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace surveyd::app
