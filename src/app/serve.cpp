// `surveyd serve`: builds the components (app/components.hpp), starts them in order, tells systemd
// when it is ready, and waits for signals: SIGHUP reloads (rules, the listener's certificate),
// SIGINT/SIGTERM stop in order within service.stop_timeout_s.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <ostream>
#include <thread>

#include "analytics.hpp"
#include "app/alerts_component.hpp"
#include "app/components.hpp"
#include "app/logging.hpp"
#include "app/rules_file.hpp"
#include "app/systemd.hpp"
#include "commands.hpp"
#include "surveyd/api/api.hpp"
#include "surveyd/core/failpoint.hpp"
#include "surveyd/gateway/factory.hpp"
#include "surveyd/metrics/process.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/survey/handler.hpp"
#include "surveyd/survey/sms_replies.hpp"

namespace surveyd::app {
namespace {

using namespace std::chrono_literals;

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
  out.ca_file = in.ca_file;
  out.wmnow = {in.wmnow.base_url, in.wmnow.api_key, in.wmnow.webhook_secret};
  out.kannel = {in.kannel.sendsms_url,    in.kannel.username, in.kannel.password,
                in.kannel.webhook_secret, in.kannel.smsc,     in.kannel.callback_base_url};
  out.twilio = {in.twilio.base_url, in.twilio.account_sid, in.twilio.auth_token, in.twilio.from};
  return out;
}

std::string WorkerId() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

// The dispatcher's settings (its metrics registry and holds are wired by `serve`).
dispatch::DispatcherOptions DispatcherOptionsFrom(const config::Config& config) {
  dispatch::DispatcherOptions out;
  out.workers = config.dispatch.workers;
  out.batch_size = config.dispatch.batch_size;
  out.poll_interval = config.dispatch.poll_interval;
  out.lease = config.dispatch.lease;
  out.max_attempts = config.dispatch.max_attempts;
  out.backoff_base = config.dispatch.backoff_base;
  out.backoff_max = config.dispatch.backoff_max;
  out.rate_per_second = config.gateway.rate_per_second;
  out.breaker.failures_to_open = config.dispatch.breaker_failures;
  out.breaker.failure_percent = config.dispatch.breaker_failure_percent;
  out.breaker.window = config.dispatch.breaker_window;
  out.breaker.open_for = config.dispatch.breaker_open;
  out.breaker.max_open_for = config.dispatch.breaker_max_open;
  out.public_base_url = config.http.public_base_url;
  out.token_secret = config.survey.token_secret;
  out.worker_id = WorkerId();
  // One request's lease outlasts the gateway's own timeout, so a slow answer is never taken for
  // a dead sender.
  out.send_lease =
      std::max(config.dispatch.lease,
               std::chrono::duration_cast<std::chrono::seconds>(config.gateway.timeout * 2) + 5s);
  return out;
}

// The listener's settings.
http::ServerOptions ServerOptionsFrom(const config::Config& config) {
  auto [host, port] = config::SplitHostPort(config.http.listen, "http.listen");
  http::ServerOptions out;
  out.host = host;
  out.port = port;
  out.worker_threads = config.http.worker_threads;
  out.io_threads = config.http.io_threads;
  out.max_connections = static_cast<std::size_t>(config.http.max_connections);
  out.max_connections_per_client = static_cast<std::size_t>(config.http.max_connections_per_client);
  out.trusted_proxies = config.http.trusted_proxies;
  out.max_body_bytes = config.http.max_body_bytes;
  out.tls_cert_file = config.http.tls_cert_file;
  out.tls_key_file = config.http.tls_key_file;
  return out;
}

// The TCP feed's settings (`feed.tcp` is set); warns of a plain-TCP feed from another machine.
feed::TcpConsumerOptions FeedOptionsFrom(const config::Config& config) {
  auto [feed_host, feed_port] = config::SplitHostPort(config.feed.tcp, "feed.tcp");
  feed::TcpConsumerOptions out;
  out.host = feed_host;
  out.port = feed_port;
  out.tls = config.feed.tls;
  out.tls_ca_file = config.feed.tls_ca_file;
  out.tls_cert_file = config.feed.tls_cert_file;
  out.tls_key_file = config.feed.tls_key_file;
  // A plain-TCP feed carries phone numbers and incident details in clear: only acceptable to
  // this machine itself.
  if (!config.feed.tls && !config::IsLoopbackHost(feed_host)) {
    spdlog::warn(
        "feed.tcp {} is plain TCP to another machine: events (phone numbers, incident details) "
        "cross the network unencrypted and unauthenticated; set feed.tls: true with "
        "feed.tls_ca_file (docs/operations.md)",
        config.feed.tcp);
  }
  out.feed = config.feed.name;
  out.batch_size = static_cast<std::size_t>(config.feed.batch_size);
  out.batch_wait = config.feed.batch_wait;
  out.silence_timeout = config.feed.silence_timeout;
  return out;
}

// Runs `stop`; if it has not returned within `timeout`, says so and ends the process (exit 1):
// whatever is still in hand goes back to the outbox when its lease runs out.
void StopWithin(std::chrono::seconds timeout, const std::function<void()>& stop) {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::thread guard([&] {
    std::unique_lock lock(mutex);
    if (!done_cv.wait_for(lock, timeout, [&] { return done; })) {
      spdlog::critical("stop: not finished after {} s (service.stop_timeout_s); exiting now",
                       timeout.count());
      spdlog::default_logger()->flush();
      std::_Exit(1);
    }
  });
  stop();
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  done_cv.notify_all();
  guard.join();
}

// The alerts in `serve`'s components: the alert rules must load at start; a reload that fails
// keeps the alert rules in force, as the survey rules' does.
class AlertsServing final : public Component {
 public:
  // The notifier's counts as metrics: an alert that reached nobody must be seen by ops too, not
  // only in the health JSON.
  AlertsServing(AlertsComponent& alerts, metrics::Registry& metrics) : alerts_(alerts) {
    auto& notices = metrics.Counters(
        "surveyd_alert_notices_total",
        "Notices of alerts raised by answers (webhook calls and e-mails, every round) by this "
        "instance: sent, retried (a failed attempt to be tried again), failed (given up: nobody "
        "was told by that channel).",
        {"result"});
    auto& channels = metrics
                         .Gauges("surveyd_alert_channels",
                                 "1 when a webhook or an e-mail address is configured for alerts; "
                                 "0 when they only wait on the dashboard.")
                         .With({});
    metrics.OnCollect([&alerts, &notices, &channels] {
      const alerts::NotifierStatus status = alerts.notifier().Status();
      const std::pair<const char*, std::int64_t> counts[] = {
          {"sent", status.sent}, {"retried", status.retried}, {"failed", status.failed}};
      for (const auto& [result, value] : counts) notices.With({result}).Mirror(value);
      channels.Set(status.channels ? 1 : 0);
    });
  }
  std::string Name() const override { return "alerts"; }
  void Start() override {
    // Loaded with the survey rules (RulesComponent, started first, refuses to start without them).
    if (!alerts_.Current()) throw StartError("surveyd: the alert rules were not loaded", 2);
    spdlog::info("alerts: {}", alerts_.Current()->Summary());
    alerts_.Start();
  }
  void Stop() override { alerts_.Stop(); }
  // No Reload: the alert rules are reloaded with the survey rules, from the same file, and put
  // in force with them or not at all (RulesComponent::Companion).
  std::optional<ComponentHealth> Health() const override {
    auto details = alerts_.Describe();
    const bool ok = details.value("ok", false);
    return ComponentHealth{ok, std::move(details)};
  }

 private:
  AlertsComponent& alerts_;
};

// The analysts' rollup sweeper and query queue in `serve`'s components.
class AnalyticsServing final : public Component {
 public:
  explicit AnalyticsServing(Analytics& analytics) : analytics_(analytics) {}
  std::string Name() const override { return "analytics"; }
  void Start() override { analytics_.Start(); }
  void Stop() override { analytics_.Stop(); }

 private:
  Analytics& analytics_;
};

}  // namespace

// A core dump of serve holds every key and token it was given and the numbers and comments it
// had decrypted: no core, whatever the machine's core pattern (systemd-coredump and apport honour
// the limit too). Not dumpable also means no core at all, and that another process of the same
// user cannot attach to it (gdb, perf) nor read its memory, environment or open files under
// /proc/PID; the benchmarks and fault tests that measure it from outside as a user other than
// root need that, so it is a setting (service.dumpable), off unless they ask. The limit stays 0
// for them too: nothing needs the core.
std::string KeepMemoryPrivate(bool dumpable) {
  const rlimit no_core{0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
    return std::string("cannot turn core dumps off (setrlimit RLIMIT_CORE): ") +
           std::strerror(errno);
  }
  if (!dumpable && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return std::string("cannot make this process not dumpable (prctl PR_SET_DUMPABLE): ") +
           std::strerror(errno);
  }
  return {};
}

int Serve(const config::Config& config, std::ostream& err) {
  // First: the configuration in memory already holds the secrets.
  if (const std::string problem = KeepMemoryPrivate(config.service.dumpable); !problem.empty()) {
    err << "surveyd: " << problem << "\n";
    return 2;
  }
  // Read once: what is checked here is what the rules component loads first.
  RulesFile rules_file = LoadRulesFile(config.rules.path);
  if (auto problems = ConfigProblems(config, rules_file); !problems.empty()) {
    for (const auto& p : problems) err << "surveyd: configuration error: " << p << "\n";
    return 2;
  }
  SetUpLogging(config.log.format, config.log.level);
  for (const auto& unknown : config::UnknownVariables(config::ProcessEnvironment())) {
    spdlog::warn("config: {}", unknown);
  }
  for (const auto& warning : config::PageWarnings(config)) spdlog::warn("config: {}", warning);
  // Read at start: a reload that renames the force renames its texts, the page at the next start.
  const std::string force_name = ForceName(config, *rules_file.rules.rules);
  for (const auto& warning : ForceNameWarnings(config, *rules_file.rules.rules)) {
    spdlog::warn("config: {}", warning);
  }
  // Test builds only: a fault run may ask this process to die at a named failpoint.
  if (const std::string problem = failpoint::ArmFromEnvironment(); !problem.empty()) {
    err << "surveyd: " << problem << "\n";
    return 2;
  }

  // Signals are taken by sigwait below: block them before any thread starts, so every thread
  // inherits the mask and none is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto notifier = SystemdNotifier::FromEnvironment(SystemdNotifier::ProcessEnvironment());
  SystemClock clock;
  metrics::Registry registry;
  registry.Gauges("surveyd_build_info", "The running version.", {"version"})
      .With({SURVEYD_VERSION})
      .Set(1);
  registry.Gauges("surveyd_start_time_seconds", "When this process started (Unix time).")
      .With({})
      .Set(static_cast<double>(ToUnixSeconds(clock.Now())));
  metrics::AddProcessMetrics(registry);
  Components components;
  LogComponent log_health(registry);
  components.Add(log_health);

  RulesComponent rules(config.rules.path, registry, std::move(rules_file.text));
  rules.CheckWith([&config](const rules::RuleSet& set) { return RulesAgainstConfig(config, set); });
  components.Add(rules);
  DatabaseComponent database(config, clock, registry);
  components.Add(database);
  // Alerts: the rules file's alerts: section, loaded with the survey rules and put in force with
  // them or not at all.
  AlertsComponent alerts(
      config, force_name, WorkerId(), clock, [&rules] { return rules.Current()->zone_ptr(); },
      [&rules](const std::string& id) {
        const auto current = rules.Current();
        const rules::SurveyGroup* group = current ? current->FindGroup(id) : nullptr;
        return group != nullptr ? group->name : std::string();
      });
  rules.AddCompanion({[&alerts](std::string_view text) { return alerts.Stage(text); },
                      [&alerts] { alerts.Commit(); }});
  AlertsServing alerts_serving(alerts, registry);
  components.Add(alerts_serving);
  CountingIngestStore ingest(database.store(), registry);
  auto decider = [&rules, &clock]() -> store::DecideFn {
    auto current = rules.Current();
    return store::DecideFn(
        [current, &clock](const Event& event, const ContactHistory& history,
                          const RelatedEvents& related) {
          return rules::Decide(*current, event, history, related, clock.Now());
        },
        rules::ScreenUnder(current));
  };

  // What a citizen's text does, under the rules in force when it arrives.
  auto replier = [&rules, &clock]() -> store::ReplyFn {
    auto current = rules.Current();
    return [current, &clock](const store::ReplyContext& context, const std::string& body) {
      return survey::PlanReply(*current, context, body, clock.Now());
    };
  };

  dispatch::DispatcherOptions dispatch_options = DispatcherOptionsFrom(config);
  dispatch_options.metrics = &registry;
  // Our clock against the database's: checked before the dispatcher starts, and sends held
  // while they are too far apart.
  ClockComponent clock_check([&database] { return database.store().DatabaseClock(); }, clock,
                             config.dispatch.max_clock_skew, config.dispatch.clock_check_interval,
                             registry);
  components.Add(clock_check);
  dispatch_options.hold_sends = [&clock_check] { return clock_check.Untrusted(); };
  dispatch_options.clock_skew = [&clock_check] { return clock_check.Skew(); };
  dispatch_options.ops_hold = [&database] { return database.store().ActiveSendHold(); };
  DispatchComponent dispatcher(
      dispatch_options, database.store(), gateway::MakeGateway(GatewayConfigFrom(config)), clock,
      [&rules] { return rules.Current(); },
      // Any instance's new message wakes this one's workers (LISTEN).
      store::MakeOutboxListener(config.database.url));
  components.Add(dispatcher);
  auto& sending = registry
                      .Gauges("surveyd_gateway_sending",
                              "1 while this instance sends through the gateway; 0 while sending is "
                              "paused because the gateway keeps failing (its breaker is open), "
                              "asked us to wait (429 Retry-After) or refuses our credentials.",
                              {"gateway"})
                      .With({dispatcher.gateway().Name()});
  auto& asked_wait = registry
                         .Gauges("surveyd_gateway_asked_wait_seconds",
                                 "While the gateway's own wait lasts (a 429's Retry-After, to this "
                                 "instance or another; at most dispatch.breaker_max_open_s), the "
                                 "wait it asked for; 0 otherwise.",
                                 {"gateway"})
                         .With({dispatcher.gateway().Name()});
  registry.OnCollect([&dispatcher, &sending, &asked_wait] {
    const auto status = dispatcher.Status();
    sending.Set(status.sending_paused() ? 0 : 1);
    asked_wait.Set(status.gateway_wait ? static_cast<double>(status.gateway_wait->count()) : 0);
  });

  // The analysts' API: its own connections and threads, tokens, audit trail, rollup sweeper.
  Analytics analytics(config, clock);
  AnalyticsServing analytics_serving(analytics);
  survey::SurveyHandlerOptions survey_options{database.store(), clock};
  survey_options.page.force_name = force_name;
  survey_options.page.privacy_url = config.survey.privacy_url;
  survey_options.bad_token_limit_per_minute = config.survey.rate_limit_per_minute;
  // What an answer raises, however it came: posted on the page or texted in a two-way survey.
  const store::AlertFn raise_alerts = [&alerts](const store::SurveyView& survey,
                                                const store::SurveyAnswers& answers) {
    return alerts.Raise(survey, answers);
  };
  survey_options.raise_alerts = raise_alerts;
  survey_options.cache_ttl = config.survey.cache_ttl;

  api::ApiOptions api_options;
  api_options.ingest = &ingest;
  api_options.outbox = &database.store();
  api_options.surveys = &database.store();
  api_options.stats = &database.store();
  api_options.ops = &database.store();
  analytics.Wire(api_options);
  api_options.rules_info = [&rules] { return rules.Info(); };
  api_options.survey_group_names = [&rules] {
    std::vector<std::pair<std::string, std::string>> names;
    if (const auto current = rules.Current()) {
      for (const auto& group : current->groups()) names.emplace_back(group.id, group.name);
    }
    return names;
  };
  api_options.clock = &clock;
  api_options.decider = decider;
  api_options.replier = replier;
  api_options.raise_alerts = raise_alerts;
  api_options.feed_secret = config.feed.secret;
  // Two workers are always left for the citizens' pages and the gateways' callbacks.
  api_options.max_pushes_in_flight = std::max(1, config.http.worker_threads - 2);
  api_options.gateway = &dispatcher.gateway();
  api_options.trusted_proxies = config.http.trusted_proxies;
  api_options.on_surveys_created = [&dispatcher](TimePoint due) { dispatcher.WakeAt(due); };
  api_options.metrics = &registry;
  api_options.metrics_allow = config.metrics.allow;
  api_options.readiness = [&components]() {
    const auto readiness = components.Check();
    nlohmann::json details = {{"ready", readiness.ready}, {"checks", readiness.checks}};
    if (!readiness.degraded.empty()) details["degraded"] = readiness.degraded;
    return api::Readiness{readiness.ready, details.dump(), readiness.degraded};
  };

  const http::ServerOptions server_options = ServerOptionsFrom(config);
  // The survey pages need the rules' time zone, known once the rules are loaded: the handlers are
  // made then, and the HTTP component starts after the rules.
  CheckDescriptorLimit(config.http.max_connections);
  http::Handler api_handler;
  http::FastHandler api_fast_handler;
  HttpComponent http_component(
      server_options, [&api_handler](const http::Request& request) { return api_handler(request); },
      [&api_fast_handler](const http::Request& request) { return api_fast_handler(request); },
      registry);

  // The TCP feed, when configured: exactly one instance consumes it (advisory lock), every
  // instance serves HTTP and dispatches.
  std::unique_ptr<FeedComponent> feed;
  if (!config.feed.tcp.empty()) {
    feed::TcpConsumerOptions feed_options = FeedOptionsFrom(config);
    feed_options.on_surveys_created = [&dispatcher](TimePoint due) { dispatcher.WakeAt(due); };
    feed = std::make_unique<FeedComponent>(feed_options, config.database.url, ingest, decider,
                                           clock, config.feed.unready_after, registry);
  }
  QueueSampler sampler(database.store(), clock, config.metrics.sample_interval, registry);
  RetentionComponent retention(database.store(), RetentionPolicyOf(config),
                               config.retention.interval, WorkerId(), clock, registry);
  ScreenSweeper screen_sweeper(
      database.store(), [&rules] { return rules.Screen(); }, clock, registry,
      std::max(kMaxNumberLookback, std::chrono::days(config.retention.phone_hash_days)));

  try {
    // Rules, database and dispatcher first: the survey pages need the rules' time zone.
    components.StartAll();
  } catch (const StartError& e) {
    err << e.what() << "\n";
    return e.exit_code();
  }
  survey_options.page.zone = rules.Current()->zone_ptr();
  // Said against the rules in force, once loaded (a sender nobody can reply to, while they ask
  // for replies).
  for (const auto& warning :
       config::SenderWarnings(config, rules::AsksForReplies(*rules.Current()))) {
    spdlog::warn("config: {}", warning);
  }
  if (rules.Current()->zone().Name() != "Europe/London") {
    spdlog::warn(
        "analytics count days in Europe/London (analytics_zone() in the database), "
        "not the rules' {}",
        rules.Current()->zone().Name());
  }
  SurveyPagesComponent survey_pages(survey_options);
  api_options.survey_pages = [&survey_pages](const http::Request& request) {
    return survey_pages.pages().Handle(request);
  };
  api_options.survey_pages_fast = [&survey_pages](const http::Request& request) {
    return survey_pages.pages().HandleFast(request);
  };
  api_options.alerts = &alerts.store();
  api_options.alert_config = [&alerts] { return alerts.Current(); };
  api_options.on_alert_changed = [&alerts] { alerts.notifier().Wake(); };
  api_options.recognition_min_cell_size = config.recognition.min_cell_size;
  api_options.zone = [&rules] { return rules.Current()->zone_ptr(); };
  api_handler = api::MakeApiHandler(api_options);
  api_fast_handler = api::MakeApiFastHandler(api_options);

  // Stopped in reverse: the listener first, then the pages write the first opens they queued,
  // then the analysts' sweeper and queue.
  components.Add(analytics_serving);
  components.Add(survey_pages);
  components.Add(http_component);
  if (feed) components.Add(*feed);
  components.Add(sampler);
  components.Add(retention);
  components.Add(screen_sweeper);
  MemoryTrimmer trimmer(registry);
  components.Add(trimmer);
  WatchdogComponent watchdog(notifier, components.Probes(), config.service.stall_after, registry);
  components.Add(watchdog);
  try {
    components.StartAll();
  } catch (const StartError& e) {
    err << e.what() << "\n";
    return e.exit_code();
  }
  spdlog::info("surveyd {} serving on {}:{}; survey links at {}/s/...; rules: {}", SURVEYD_VERSION,
               server_options.host, http_component.Port(), config.http.public_base_url,
               rules.Current()->Summary());
  if (feed)
    spdlog::info("consuming the TCP feed at {} (while this instance holds its lock)",
                 config.feed.tcp);
  const std::string status = "serving on port " + std::to_string(http_component.Port());
  notifier.Ready(status);

  for (;;) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number == SIGHUP) {
      notifier.Reloading();
      components.ReloadAll();
      notifier.Ready(status);
      continue;
    }
    spdlog::info("{} received: stopping", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    break;
  }
  notifier.Stopping();
  StopWithin(config.service.stop_timeout, [&] { components.StopAll(); });
  spdlog::info("stopped");
  return 0;
}

}  // namespace surveyd::app
