#include "app/components.hpp"

#include <malloc.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "app/logging.hpp"
#include "commands.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/metrics/process.hpp"
#include "surveyd/store/pg_store.hpp"

namespace surveyd::app {

using namespace std::chrono_literals;

// --- Components -------------------------------------------------------------------------------

void Components::StartAll() {
  for (; started_ < components_.size(); ++started_) {
    try {
      components_[started_]->Start();
    } catch (...) {
      StopAll();
      throw;
    }
  }
}

void Components::StopAll() {
  for (std::size_t i = started_; i-- > 0;) components_[i]->BeginStop();
  for (std::size_t i = started_; i-- > 0;) {
    spdlog::debug("stopping {}", components_[i]->Name());
    components_[i]->Stop();
  }
  started_ = 0;
}

void Components::ReloadAll() {
  for (auto* component : components_) component->Reload();
}

Components::Readiness Components::Check() const {
  Readiness readiness{true, nlohmann::json::object(), {}};
  for (const auto* component : components_) {
    auto health = component->Health();
    if (!health) continue;
    health->details["ok"] = health->ok && !health->degraded;
    readiness.checks[component->Name()] = health->details;
    readiness.ready = readiness.ready && health->ok;
    if (health->degraded) readiness.degraded.push_back(component->Name());
  }
  return readiness;
}

std::vector<LoopProbe> Components::Probes() const {
  std::vector<LoopProbe> probes;
  for (const auto* component : components_) {
    probes.push_back({component->Name(), [component] { return component->LastProgress(); }});
  }
  return probes;
}

// --- Ticker -----------------------------------------------------------------------------------

void Ticker::Start(std::chrono::milliseconds interval, std::function<void()> tick) {
  stopping_ = false;
  thread_ = std::thread([this, interval, tick = std::move(tick)] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      tick();
      lock.lock();
      wake_.wait_for(lock, interval, [this] { return stopping_; });
    }
  });
}

void Ticker::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// --- Rules ------------------------------------------------------------------------------------

RulesComponent::RulesComponent(std::string path, metrics::Registry& metrics,
                               std::optional<std::string> first_text)
    : path_(std::move(path)),
      first_text_(std::move(first_text)),
      reloads_(metrics.Counters("surveyd_rules_loads_total",
                                "Loads of the rules file (at start and on SIGHUP), by result.",
                                {"result"})),
      info_(metrics.Gauges("surveyd_rules_info",
                           "The rules in force: 1 for the version (SHA-256 of the file, first 12 "
                           "hex digits) in force.",
                           {"version"})),
      loaded_at_gauge_(metrics
                           .Gauges("surveyd_rules_loaded_timestamp_seconds",
                                   "When the rules in force were loaded (Unix time).")
                           .With({})) {
  reloads_.With({"ok"});
  reloads_.With({"failed"});
}

std::vector<rules::RuleError> RulesComponent::Load() {
  // Read once, so that the survey rules, their version (a hash of the text) and the companions'
  // are all of one text, even if the file is replaced meanwhile.
  std::string text;
  std::vector<rules::RuleError> errors;
  if (first_text_) {
    text = std::move(*first_text_);
    first_text_.reset();
  } else if (auto error = rules::ReadRulesFile(path_, text)) {
    errors.push_back(std::move(*error));
  }
  rules::LoadResult loaded;
  if (errors.empty()) {
    loaded = rules::LoadString(text, path_);
    errors = loaded.errors;
    if (loaded.rules && errors.empty() && check_) {
      for (auto& problem : check_(*loaded.rules)) errors.push_back({path_, 0, 0, problem});
    }
    if (loaded.rules && errors.empty()) {
      for (const Companion& companion : companions_) {
        const auto more = companion.stage(text);
        errors.insert(errors.end(), more.begin(), more.end());
      }
    } else if (errors.empty()) {
      errors.push_back({path_, 0, 0, "unknown error"});
    }
  }
  std::lock_guard lock(mutex_);
  if (!errors.empty()) {
    last_error_ = errors.front().ToString();
    reloads_.With({"failed"}).Inc();
    return errors;
  }
  for (const Companion& companion : companions_) companion.commit();
  // What `rules check` warns of (a qualifier that will never match, no exclusions at all):
  // said wherever the rules go in force, not only to whoever ran the check.
  for (const auto& warning : loaded.warnings) spdlog::warn("rules: {}", warning.ToString());
  if (!version_.empty()) info_.With({version_}).Set(0);
  current_ = loaded.rules;
  sha256_ = crypto::Sha256Hex(text);
  version_ = sha256_.substr(0, 12);
  last_error_.clear();
  loaded_at_ = SystemClock().Now();
  reloads_.With({"ok"}).Inc();
  info_.With({version_}).Set(1);
  loaded_at_gauge_.Set(static_cast<double>(ToUnixSeconds(loaded_at_)));
  return {};
}

void RulesComponent::AddCompanion(Companion companion) {
  companions_.push_back(std::move(companion));
}

void RulesComponent::Start() {
  if (auto errors = Load(); !errors.empty()) {
    std::string text;
    for (const auto& e : errors) text += e.ToString() + "\n";
    throw StartError(text + "surveyd: the rules file has errors; not starting", 2);
  }
  const ScreenInForce now = Screen();
  spdlog::info("rules: {} (version {}; screen of stored events {})", Current()->Summary(),
               now.rules_version, now.screen.version);
}

void RulesComponent::Reload() {
  const ScreenInForce before = Screen();
  auto errors = Load();
  if (errors.empty()) {
    // Whether the stored events will be screened again (ScreenSweeper) is part of the news.
    const ScreenInForce now = Screen();
    spdlog::info("rules reloaded: {} (version {}; screen of stored events {}{})",
                 Current()->Summary(), now.rules_version, now.screen.version,
                 now.screen.version == before.screen.version
                     ? ", unchanged"
                     : ", changed: stored events will be screened again");
    return;
  }
  for (const auto& e : errors) spdlog::error("rules reload: {}", e.ToString());
  spdlog::error("rules reload failed with {} error(s); the previous rules stay in force",
                errors.size());
}

std::string RulesComponent::Info() const {
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
                        {"version", "sha256:" + sha256_},
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

std::shared_ptr<const rules::RuleSet> RulesComponent::Current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

ScreenInForce RulesComponent::Screen() const {
  std::lock_guard lock(mutex_);
  return {rules::ScreenUnder(current_), version_};
}

std::optional<ComponentHealth> RulesComponent::Health() const {
  std::lock_guard lock(mutex_);
  ComponentHealth health{current_ != nullptr, {{"path", path_}}};
  if (current_) {
    health.details["summary"] = current_->Summary();
    health.details["version"] = version_;
    health.details["loaded_at"] = FormatRfc3339(loaded_at_);
  }
  if (!last_error_.empty()) health.details["last_reload_error"] = last_error_;
  return health;
}

// --- Database ---------------------------------------------------------------------------------

DatabaseComponent::DatabaseComponent(const config::Config& config, const Clock& clock,
                                     metrics::Registry& metrics)
    : url_(config.database.url),
      migrate_(config.database.migrate_on_start),
      clock_(clock),
      store_(store::MakePgStore(StoreOptions(config, config.database.pool_size, &metrics))) {}

void DatabaseComponent::Start() {
  if (!migrate_) return;
  try {
    auto report = store::Migrate(url_);
    spdlog::info("database: {} migration(s) applied, {} already in place", report.applied.size(),
                 report.already_applied);
  } catch (const std::exception& e) {
    throw StartError(std::string("surveyd: database migration failed: ") + e.what());
  }
}

std::optional<ComponentHealth> DatabaseComponent::Health() const {
  const auto failure = store_->PingFailure();
  std::lock_guard lock(mutex_);
  ComponentHealth health{!failure, nlohmann::json::object()};
  if (failure) {
    outage_.Failed("unreachable (" + *failure + "); not ready until it answers again");
    health.details["error"] = *failure;
    // The earlier of the store's first failed connection and this check's first failure: a
    // health check may run long after the dispatcher or the feed met the outage.
    TimePoint since = down_since_.value_or(outage_.failing_since().value_or(clock_.Now()));
    if (const auto unreachable = store_->UnreachableSince()) since = std::min(since, *unreachable);
    down_since_ = since;
    health.details["down_since"] = FormatRfc3339(since);
  } else if (const auto began = outage_.Succeeded()) {
    last_outage_ = {down_since_.value_or(*began), clock_.Now()};
    down_since_.reset();
  }
  if (last_outage_) {
    health.details["last_outage"] = {{"from", FormatRfc3339(last_outage_->first)},
                                     {"to", FormatRfc3339(last_outage_->second)}};
  }
  return health;
}

// --- Counting ingest --------------------------------------------------------------------------

CountingIngestStore::CountingIngestStore(store::IngestStore& inner, metrics::Registry& metrics)
    : inner_(inner),
      events_(metrics.Counters("surveyd_events_total",
                               "Events received, by source, type and outcome (accepted, "
                               "duplicate, rejected, replayed).",
                               {"source", "type", "outcome"})),
      decisions_(metrics.Counters(
          "surveyd_decisions_total",
          "Decisions on new events, by the rule that decided (survey, exclusion:..., ...).",
          {"rule"})) {}

std::vector<store::IngestResult> CountingIngestStore::IngestBatch(
    const std::vector<store::IngestItem>& items, const store::DecideFn& decide,
    const std::string& feed) {
  auto results = inner_.IngestBatch(items, decide, feed);
  // One result per item, in order.
  for (std::size_t i = 0; i < results.size() && i < items.size(); ++i) {
    const auto& event = items[i].event;
    events_
        .With({items[i].source, event ? EventTypeName(event->type) : "unreadable",
               store::IngestCountName(results[i])})
        .Inc();
    if (results[i].outcome == store::IngestOutcome::kAccepted) {
      decisions_.With({results[i].reason}).Inc();
    }
  }
  return results;
}

std::optional<std::int64_t> CountingIngestStore::FeedCursor(const std::string& feed) {
  return inner_.FeedCursor(feed);
}

// --- Dispatch ---------------------------------------------------------------------------------

DispatchComponent::DispatchComponent(dispatch::DispatcherOptions options, store::OutboxStore& store,
                                     std::unique_ptr<gateway::Gateway> gateway, const Clock& clock,
                                     dispatch::RulesProvider rules,
                                     std::unique_ptr<store::OutboxListener> listener)
    : gateway_(std::move(gateway)),
      dispatcher_(std::move(options), store, *gateway_, clock, std::move(rules),
                  std::move(listener)) {}

std::optional<ComponentHealth> DispatchComponent::Health() const {
  const auto status = dispatcher_.Status();
  // Sending paused, by a gateway that keeps failing (the breaker waits it out) or that refuses
  // our credentials (a configuration error, alerted), leaves the instance ready but degraded:
  // unready, a load balancer would also take away the survey pages, the delivery reports and
  // the citizens' STOP replies, which all still work.
  ComponentHealth health{true,
                         {{"gateway", gateway_->Name()},
                          {"breaker", status.breaker},
                          {"breaker_opened", status.breaker_opened},
                          {"sent", status.sent},
                          {"retried", status.retried},
                          {"failed", status.failed},
                          {"in_doubt", status.in_doubt},
                          {"throttled", status.throttled},
                          {"auth_refused", status.auth_refused},
                          {"cancelled", status.cancelled},
                          {"expired", status.expired},
                          {"sends_held", status.sends_held}}};
  // A hold ops opened is not a fault: the instance stays ready (the pages and the feed work),
  // and the health says who holds the texts and why.
  if (status.ops_hold) {
    health.details["held_by_ops"] = {{"reason", status.ops_hold->reason},
                                     {"by", status.ops_hold->held_by},
                                     {"since", FormatRfc3339(status.ops_hold->held_at)}};
  }
  health.degraded = status.sending_paused();
  if (status.gateway_wait) {
    health.details["gateway_asked_wait_s"] = status.gateway_wait->count();
    health.details["gateway_wait_until"] = FormatRfc3339(status.gateway_wait_until);
  }
  if (status.gateway_auth_failing) {
    health.details["error"] = "gateway refuses our credentials: sending paused";
  } else if (status.gateway_wait) {
    health.details["error"] =
        "the gateway asked us to wait " + std::to_string(status.gateway_wait->count()) +
        " s (429 Retry-After): sending paused until " + FormatRfc3339(status.gateway_wait_until);
  } else if (status.breaker != "closed") {
    health.details["error"] =
        "the gateway keeps failing: sending paused (" + status.last_error + ")";
  }
  return health;
}

// --- Feed -------------------------------------------------------------------------------------

ComponentHealth DescribeFeed(const feed::TcpConsumerStatus& s, TimePoint now,
                             std::chrono::seconds unready_after) {
  ComponentHealth health{true,
                         {{"leader", s.leader},
                          {"connected", s.connected},
                          {"accepted", s.accepted},
                          {"duplicate", s.duplicate},
                          {"rejected", s.rejected},
                          {"replayed", s.replayed},
                          {"gaps", s.gaps},
                          {"missing", s.missing},
                          {"behind", s.behind},
                          {"went_back", s.went_back},
                          {"reconnects", s.reconnects},
                          {"heartbeats", s.heartbeats}}};
  auto& out = health.details;
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
  if (s.last_error_at) out["last_error_at"] = FormatRfc3339(*s.last_error_at);
  if (s.leader && s.disconnected_since) {
    out["down_seconds"] =
        std::chrono::duration_cast<std::chrono::seconds>(now - *s.disconnected_since).count();
    if (now - *s.disconnected_since >= unready_after) {
      // A feed that sends nothing leaves everything else working: the survey pages, delivery
      // reports and STOP replies that a load balancer would take away with an unready instance
      // (as for the dispatcher). A database that cannot take events cannot take answers either.
      if (s.held_for_database) {
        health.ok = false;
      } else {
        health.degraded = true;
        out["error"] = "the feed has been down " + std::to_string(out["down_seconds"].get<long>()) +
                       " s: no events arrive";
      }
    }
  }
  // Connected is not enough: events read and not stored for this long mean no progress.
  if (s.leader && s.waiting_since) {
    const auto waiting = now - *s.waiting_since;
    out["waiting_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(waiting).count();
    if (waiting >= unready_after) {
      health.ok = false;
      out["stalled"] = true;
    }
  }
  return health;
}

FeedComponent::FeedComponent(feed::TcpConsumerOptions options, const std::string& database_url,
                             store::IngestStore& store, std::function<store::DecideFn()> decider,
                             const Clock& clock, std::chrono::seconds unready_after,
                             metrics::Registry& metrics)
    : clock_(clock),
      unready_after_(unready_after),
      lock_(database_url, options.feed),
      consumer_(options, store, std::move(decider), &lock_, clock),
      leader_(metrics
                  .Gauges("surveyd_feed_leader",
                          "1 while this instance holds the TCP feed's lock and consumes it.")
                  .With({})),
      connected_(
          metrics.Gauges("surveyd_feed_connected", "1 while connected to the TCP feed.").With({})),
      seq_(metrics.Gauges("surveyd_feed_seq", "The last seq stored from the TCP feed.").With({})),
      lag_(metrics
               .Gauges("surveyd_feed_lag_seconds",
                       "Now minus when the newest stored event occurred (grows in a quiet "
                       "period too; compare with the feed's heartbeats).")
               .With({})),
      reconnects_(metrics
                      .Counters("surveyd_feed_reconnects_total",
                                "Connections to the TCP feed after the first.")
                      .With({})),
      gaps_(
          metrics.Counters("surveyd_feed_seq_gaps_total", "Times the feed's seq jumped.").With({})),
      missing_(
          metrics
              .Counters("surveyd_feed_seq_missing_total", "Sequence numbers the feed jumped over.")
              .With({})),
      went_back_(metrics
                     .Counters("surveyd_feed_seq_went_back_total",
                               "New events the feed sent below a seq it had sent already (its "
                               "numbering went back; stored).")
                     .With({})),
      heartbeats_(
          metrics.Counters("surveyd_feed_heartbeats_total", "Heartbeats from the feed.").With({})) {
}

void FeedComponent::Start() {
  consumer_.Start();
  ticker_.Start(1000ms, [this] { Tick(); });
}

void FeedComponent::BeginStop() {}

void FeedComponent::Stop() {
  ticker_.Stop();
  consumer_.Stop();
}

void FeedComponent::Tick() {
  const auto s = consumer_.Status();
  leader_.Set(s.leader ? 1 : 0);
  connected_.Set(s.connected ? 1 : 0);
  if (s.last_seq) seq_.Set(static_cast<double>(*s.last_seq));
  if (s.last_event_occurred_at) {
    lag_.Set(std::chrono::duration<double>(clock_.Now() - *s.last_event_occurred_at).count());
  }
  reconnects_.Mirror(s.reconnects);
  gaps_.Mirror(s.gaps);
  missing_.Mirror(s.missing);
  went_back_.Mirror(s.went_back);
  heartbeats_.Mirror(s.heartbeats);
  // A minute's summary in the log, for ops without a metrics stack.
  if (++ticks_ % 60 != 0 || !s.leader || s.accepted == last_logged_accepted_) return;
  last_logged_accepted_ = s.accepted;
  spdlog::info("feed: {}", DescribeFeed(s, clock_.Now(), unready_after_).details.dump());
}

std::optional<ComponentHealth> FeedComponent::Health() const {
  return DescribeFeed(consumer_.Status(), clock_.Now(), unready_after_);
}

// --- HTTP -------------------------------------------------------------------------------------

HttpComponent::HttpComponent(http::ServerOptions options, http::Handler handler,
                             http::FastHandler fast, metrics::Registry& metrics)
    : options_(options),
      server_(http::MakeServer(options, std::move(handler), std::move(fast))),
      certificate_expiry_(metrics.Gauges(
          "surveyd_tls_certificate_expiry_timestamp_seconds",
          "When the listener's TLS certificate expires (Unix time; only with TLS).")),
      tls_loads_(metrics.Counters("surveyd_tls_loads_total",
                                  "Loads of the listener's TLS certificate and key, by result.",
                                  {"result"})) {}

void HttpComponent::Start() {
  try {
    server_->Start();
  } catch (const std::exception& e) {
    throw StartError(std::string("surveyd: cannot listen on ") + e.what());
  }
  if (!options_.tls_cert_file.empty()) {
    tls_loads_.With({"ok"}).Inc();
    tls_loads_.With({"failed"});
    ReportCertificate();
  }
}

void HttpComponent::Reload() {
  if (options_.tls_cert_file.empty()) return;
  if (auto error = server_->ReloadTls(); !error.empty()) {
    tls_loads_.With({"failed"}).Inc();
    spdlog::error("http: TLS certificate reload failed, the previous one stays in force: {}",
                  error);
    return;
  }
  tls_loads_.With({"ok"}).Inc();
  ReportCertificate();
  spdlog::info("http: TLS certificate reloaded from {}", options_.tls_cert_file);
}

std::optional<ComponentHealth> HttpComponent::Health() const {
  const auto s = server_->Status();
  return ComponentHealth{true,
                         {{"open_connections", s.open_connections},
                          {"peak_connections", s.peak_connections},
                          {"max_connections", options_.max_connections},
                          {"refused_over_cap", s.refused_over_cap},
                          {"max_connections_per_client", options_.max_connections_per_client},
                          {"refused_over_client_cap", s.refused_over_client_cap},
                          {"clients", s.clients},
                          {"fast_answers", s.fast_answers},
                          {"pooled_answers", s.pooled_answers},
                          {"tls", !options_.tls_cert_file.empty()}}};
}

std::optional<ComponentHealth> SurveyPagesComponent::Health() const {
  const auto s = pages_.Status();
  return ComponentHealth{true,
                         {{"cached_surveys", s.cached_surveys},
                          {"queued_opens", s.queued_opens},
                          {"opens_recorded", s.opens_recorded},
                          {"opens_dropped", s.opens_dropped}}};
}

void HttpComponent::ReportCertificate() {
  if (auto not_after = http::CertificateNotAfter(options_.tls_cert_file)) {
    certificate_expiry_.With({}).Set(static_cast<double>(*not_after));
  }
}

// --- Log ------------------------------------------------------------------------------------

LogComponent::LogComponent(metrics::Registry& metrics) {
  auto& failures = metrics
                       .Counters("surveyd_log_write_failures_total",
                                 "Log lines that could not be written (a full disk under the log "
                                 "file): the service went on without them.")
                       .With({});
  metrics.OnCollect(
      [&failures] { failures.Mirror(static_cast<std::int64_t>(LogWrites().failures)); });
}

std::optional<ComponentHealth> LogComponent::Health() const {
  const LogWriteStatus writes = LogWrites();
  ComponentHealth health{true, {{"write_failures", writes.failures}, {"failing", writes.failing}}};
  if (writes.failing) {
    health.details["error"] = "log lines cannot be written (is the disk under the log full?)";
  }
  return health;
}

// --- Clock ------------------------------------------------------------------------------------

ClockComponent::ClockComponent(DatabaseClock database, const Clock& clock,
                               std::chrono::milliseconds max_skew,
                               std::chrono::milliseconds interval, metrics::Registry& metrics)
    : database_(std::move(database)),
      clock_(clock),
      max_skew_(max_skew),
      interval_(interval),
      skew_gauge_(metrics
                      .Gauges("surveyd_clock_skew_seconds",
                              "This instance's clock minus the database's, at the last check.")
                      .With({})) {}

void ClockComponent::Start() {
  Check();  // before the dispatcher's first pass
  ticker_.Start(interval_, [this] { Check(); });
}

void ClockComponent::Check() {
  const TimePoint before = clock_.Now();
  const std::optional<TimePoint> database = database_();
  const TimePoint after = clock_.Now();
  // The database down (its own check says so), a slow answer, or our clock stepping meanwhile:
  // nothing to tell from this one.
  if (!database || after < before || after - before > std::chrono::seconds(1)) return;
  const double skew =
      std::chrono::duration<double>(before + (after - before) / 2 - *database).count();
  skew_seconds_ = skew;
  measured_ = true;
  skew_gauge_.Set(skew);
  const bool untrusted =
      max_skew_.count() > 0 && std::abs(skew) > std::chrono::duration<double>(max_skew_).count();
  if (untrusted != untrusted_.exchange(untrusted)) {
    if (untrusted) {
      spdlog::error(
          "clock: this instance's clock is {:.3f} s {} the database's (more than {} ms): "
          "sending held, not ready",
          std::abs(skew), skew > 0 ? "ahead of" : "behind", max_skew_.count());
    } else {
      spdlog::warn("clock: this instance's clock is within {} ms of the database's again",
                   max_skew_.count());
    }
  }
}

std::optional<ComponentHealth> ClockComponent::Health() const {
  const double skew = skew_seconds_;
  ComponentHealth health{!untrusted_,
                         {{"measured", measured_.load()},
                          {"skew_s", skew},
                          {"max_skew_s", std::chrono::duration<double>(max_skew_).count()}}};
  if (untrusted_) {
    health.details["error"] = "this instance's clock is " + std::to_string(std::abs(skew)) + " s " +
                              (skew > 0 ? "ahead of" : "behind") + " the database's: sending held";
  }
  return health;
}

// --- Queue sampler ----------------------------------------------------------------------------

QueueSampler::QueueSampler(store::OpsStore& store, const Clock& clock,
                           std::chrono::seconds interval, metrics::Registry& metrics)
    : store_(store),
      clock_(clock),
      interval_(interval),
      messages_(metrics.Gauges("surveyd_outbox_messages",
                               "Messages not yet settled in the outbox (all instances), by state; "
                               "absent while the outbox cannot be read.",
                               {"state"})),
      oldest_due_(metrics
                      .Gauges("surveyd_outbox_oldest_due_seconds",
                              "How long the longest-waiting due message has been due; absent "
                              "while the outbox cannot be read.")
                      .With({})),
      last_success_(metrics
                        .Gauges("surveyd_outbox_sample_last_success_timestamp_seconds",
                                "When the outbox was last read for the outbox gauges (Unix time; "
                                "0: not yet).")
                        .With({})),
      failures_(metrics
                    .Counters("surveyd_outbox_sample_failures_total",
                              "Times the outbox could not be read for these metrics.")
                    .With({})) {
  oldest_due_.Unset();  // not read yet
}

void QueueSampler::Start() {
  ticker_.Start(std::chrono::duration_cast<std::chrono::milliseconds>(interval_),
                [this] { Sample(); });
}

void QueueSampler::Sample() {
  try {
    const auto stats = store_.GetQueueStats(clock_.Now());
    for (const auto& [state, count] : stats.unsettled) {
      messages_.With({state}).Set(static_cast<double>(count));
    }
    oldest_due_.Set(stats.oldest_due_seconds);
    last_success_.Set(static_cast<double>(ToUnixSeconds(clock_.Now())));
  } catch (const std::exception& e) {
    failures_.Inc();
    messages_.ForEach([](const metrics::LabelValues&, metrics::Gauge& gauge) { gauge.Unset(); });
    oldest_due_.Unset();
    // The database's own check says it is down, once (DatabaseComponent).
    spdlog::debug("metrics: outbox not sampled: {}", e.what());
  }
}

// --- Screens of stored events -----------------------------------------------------------------

ScreenSweeper::ScreenSweeper(store::IngestStore& store, std::function<ScreenInForce()> screen,
                             const Clock& clock, metrics::Registry& metrics,
                             std::chrono::days reach)
    : store_(store),
      screen_(std::move(screen)),
      clock_(clock),
      reach_(reach),
      screened_(metrics
                    .Counters("surveyd_events_screened_total",
                              "Stored events screened again under new rules (events of a "
                              "number are read back only when they could rule a contact out).")
                    .With({})) {}

void ScreenSweeper::Start() {
  ticker_.Start(std::chrono::seconds(1), [this] { Tick(); });
}

void ScreenSweeper::Tick() {
  const ScreenInForce in_force = screen_();
  const EventScreen& screen = in_force.screen;
  if (screen.version.empty() || screen.version == done_) return;
  if (screen.version != version_) {  // a new sweep, from the newest events
    version_ = screen.version;
    from_ = clock_.Now() + std::chrono::hours(24);
    swept_ = skipped_ = 0;
    again_at_.reset();
  }
  if (again_at_) {
    if (clock_.Now() < *again_at_) return;
    again_at_.reset();
    from_ = clock_.Now() + std::chrono::hours(24);
    skipped_ = 0;
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  try {
    while (from_ && std::chrono::steady_clock::now() < until) {
      const auto pass = store_.ScreenEvents(screen, clock_.Now() - reach_, *from_, 500);
      swept_ += pass.screened;
      skipped_ += pass.skipped;
      screened_.Inc(pass.screened);
      from_ = pass.next_from;
    }
  } catch (const std::exception& e) {
    failures_.Failed(std::string("stored events not screened yet (") + e.what() +
                     "); trying again");
    return;
  }
  failures_.Succeeded();
  if (!from_ && skipped_ > 0) {
    // Read back whole until then, as every event not screened yet is.
    spdlog::info(
        "rules: {} stored event(s) left for a later sweep (a batch or a lock held their "
        "incidents); sweeping again in a minute",
        skipped_);
    again_at_ = clock_.Now() + std::chrono::minutes(1);
    return;
  }
  if (!from_) {
    done_ = version_;
    // The rules by the version /readyz names; their screen's own beside it, labelled as such.
    spdlog::info(
        "rules: stored events screened under version {} (screen of stored events {}; {} "
        "screened again)",
        in_force.rules_version, done_, swept_);
  }
}

// --- Retention ------------------------------------------------------------------------------

RetentionComponent::RetentionComponent(store::PrivacyStore& store, store::RetentionPolicy policy,
                                       std::chrono::seconds interval, std::string worker,
                                       const Clock& clock, metrics::Registry& metrics)
    : store_(store),
      policy_(policy),
      interval_(interval),
      worker_(std::move(worker)),
      clock_(clock),
      runs_(metrics.Counters("surveyd_retention_runs_total",
                             "Retention passes by result: ran, skipped (another instance ran "
                             "it), failed.",
                             {"result"})),
      removed_(metrics.Counters("surveyd_retention_removed_total",
                                "Personal data removed or re-keyed by retention, by what.",
                                {"what"})),
      last_run_(metrics
                    .Gauges("surveyd_retention_last_run_timestamp_seconds",
                            "When this instance last completed a retention pass (Unix time).")
                    .With({})),
      unreadable_(metrics
                      .Gauges("surveyd_retention_unreadable_values",
                              "Encrypted values that no key in privacy.phone_keys opens, at the "
                              "last pass.")
                      .With({})) {
  for (const char* result : {"ran", "skipped", "failed"}) runs_.With({result});
}

void RetentionComponent::Start() {
  next_run_ = std::chrono::steady_clock::now() + std::min<std::chrono::seconds>(interval_, 60s);
  ticker_.Start(1000ms, [this] { Tick(); });
}

void RetentionComponent::Tick() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_run_) return;
  next_run_ = now + interval_;
  try {
    const auto report = store_.RunRetention(policy_, clock_.Now(), worker_);
    if (!report.ran) {
      runs_.With({"skipped"}).Inc();
      return;
    }
    runs_.With({report.failures.empty() ? "ran" : "failed"}).Inc();
    auto counts = store::RemovedCounts(report);
    counts.insert(counts.end(), {{"numbers_resealed", report.rekey.numbers_resealed},
                                 {"raw_resealed", report.rekey.raw_resealed},
                                 {"hashes_rekeyed", report.rekey.hashes_rekeyed}});
    for (const auto& [what, count] : counts) {
      removed_.With({what}).Inc(static_cast<std::uint64_t>(std::max<std::int64_t>(count, 0)));
    }
    unreadable_.Set(static_cast<double>(report.rekey.unreadable));
    if (!report.failures.empty()) {
      // The other steps ran: what they removed is counted and said, and the pass is a failure.
      spdlog::error("retention: {} (the other steps ran: {})", DescribeFailures(report),
                    DescribeRetention(report));
      return;
    }
    last_run_.Set(static_cast<double>(ToUnixSeconds(clock_.Now())));
    spdlog::info("retention: {}", DescribeRetention(report));
  } catch (const std::exception& e) {
    // Caught once here: the next pass tries again.
    runs_.With({"failed"}).Inc();
    spdlog::error("retention: {}", e.what());
  }
}

// --- Memory trimmer ---------------------------------------------------------------------------

MemoryTrimmer::MemoryTrimmer(metrics::Registry& metrics)
    : returned_(metrics
                    .Counters("surveyd_heap_returned_bytes_total",
                              "Freed heap memory given back to the system (malloc_trim).")
                    .With({})) {}

void MemoryTrimmer::Start() {
  ticker_.Start(std::chrono::seconds(30), [this] { Trim(); });
}

std::uint64_t MemoryTrimmer::Trim() {
  const auto before = metrics::SampleProcess().resident_bytes;
  malloc_trim(0);
  const auto after = metrics::SampleProcess().resident_bytes;
  if (!before || !after || *before <= *after) return 0;
  const auto returned = static_cast<std::uint64_t>(*before - *after);
  returned_.Inc(returned);
  return returned;
}

// --- Watchdog ---------------------------------------------------------------------------------

WatchdogComponent::WatchdogComponent(const SystemdNotifier& notifier, std::vector<LoopProbe> probes,
                                     std::chrono::seconds stall_after, metrics::Registry& metrics)
    : notifier_(notifier),
      probes_(std::move(probes)),
      stall_after_(stall_after),
      age_(metrics.Gauges("surveyd_loop_progress_age_seconds",
                          "Seconds since each watched loop last showed progress.", {"loop"})),
      stalled_(metrics.Gauges("surveyd_loop_stalled",
                              "1 while a loop has shown no progress for service.stall_after_s "
                              "(systemd's watchdog is then not fed).",
                              {"loop"})) {}

void WatchdogComponent::Start() {
  // systemd wants a ping at least every WatchdogSec; twice as often leaves room for a late tick.
  auto interval = std::chrono::milliseconds(1000);
  if (auto watchdog = notifier_.watchdog()) {
    interval =
        std::min(interval, std::chrono::duration_cast<std::chrono::milliseconds>(*watchdog / 2));
  }
  ticker_.Start(std::max(interval, std::chrono::milliseconds(10)), [this] { Tick(); });
}

void WatchdogComponent::Tick() {
  const auto now = std::chrono::steady_clock::now();
  for (const auto& probe : probes_) {
    if (const auto last = probe.last_progress()) {
      age_.With({probe.name}).Set(std::chrono::duration<double>(now - *last).count());
    }
  }
  const auto stalled = StalledLoops(probes_, now, stall_after_);
  for (const auto& probe : probes_) {
    const bool is_stalled = std::find(stalled.begin(), stalled.end(), probe.name) != stalled.end();
    if (probe.last_progress()) stalled_.With({probe.name}).Set(is_stalled ? 1 : 0);
    const bool was_reported =
        std::find(reported_.begin(), reported_.end(), probe.name) != reported_.end();
    if (is_stalled && !was_reported) {
      spdlog::error(
          "watchdog: {} has shown no progress for over {} s; systemd's watchdog is no "
          "longer fed",
          probe.name, stall_after_.count());
      reported_.push_back(probe.name);
    } else if (!is_stalled && was_reported) {
      spdlog::warn("watchdog: {} makes progress again", probe.name);
      reported_.erase(std::find(reported_.begin(), reported_.end(), probe.name));
    }
  }
  if (stalled.empty() && notifier_.watchdog()) notifier_.Watchdog();
}

}  // namespace surveyd::app
