#pragma once
// The daemon's components (app/component.hpp): each owns one long-lived part of `surveyd serve`,
// reports its health, and counts what it does in the one metrics registry.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/component.hpp"
#include "app/systemd.hpp"
#include "surveyd/config/config.hpp"
#include "surveyd/core/clock.hpp"
#include "surveyd/core/failure_log.hpp"
#include "surveyd/dispatch/dispatcher.hpp"
#include "surveyd/feed/tcp_consumer.hpp"
#include "surveyd/gateway/gateway.hpp"
#include "surveyd/http/server.hpp"
#include "surveyd/metrics/metrics.hpp"
#include "surveyd/rules/rules.hpp"
#include "surveyd/store/feed_lock.hpp"
#include "surveyd/store/store.hpp"
#include "surveyd/survey/handler.hpp"

namespace surveyd::app {

// A thread that runs `tick` every `interval` until stopped (tick's exceptions are caught, logged
// and counted by the caller's tick itself).
class Ticker {
 public:
  Ticker() = default;
  ~Ticker() { Stop(); }
  void Start(std::chrono::milliseconds interval, std::function<void()> tick);
  void Stop();

 private:
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

// The screen of stored events under the rules in force (EventScreen), with the rules' version as
// ops see it (/readyz, GET /api/v1/rules), read together so that a log line names the two of one
// set of rules.
struct ScreenInForce {
  EventScreen screen;
  std::string rules_version;
};

// The rules in force. SIGHUP swaps in a new set only when it loads without errors. The log names
// them by the version health names (their file's hash), with their screen's beside it.
class RulesComponent final : public Component {
 public:
  // `first_text`: the file as `serve` read and checked it before starting (rules_file.hpp). The
  // first load is of that text, not of another read that could find another file; reloads read
  // the file.
  RulesComponent(std::string path, metrics::Registry& metrics,
                 std::optional<std::string> first_text = std::nullopt);
  std::string Name() const override { return "rules"; }
  void Start() override;   // the first load; StartError with every error, one per line
  void Reload() override;  // logs each error; the rules in force stay
  std::optional<ComponentHealth> Health() const override;

  std::shared_ptr<const rules::RuleSet> Current() const;
  ScreenInForce Screen() const;
  // GET /api/v1/rules: what is in force, for ops (JSON).
  std::string Info() const;
  // Reads the file once and loads it; on success the new rules are in force. Returns the errors.
  std::vector<rules::RuleError> Load();

  // Something else read from the rules file (the alerts: section and its lexicon), put in force
  // with the survey rules or not at all, so that a file refused leaves everything as it was:
  // `stage` loads it aside, from the text the survey rules were loaded from, and returns its
  // errors; `commit` puts what was staged in force.
  struct Companion {
    std::function<std::vector<rules::RuleError>(std::string_view text)> stage;
    std::function<void()> commit;
  };
  void AddCompanion(Companion companion);
  // What else a set of rules must pass to be put in force (the configuration's retention
  // against what the rules look back over): each problem is an error, and a reload that finds
  // one keeps the rules in force, as the next start would refuse the file.
  using Check = std::function<std::vector<std::string>(const rules::RuleSet&)>;
  void CheckWith(Check check) { check_ = std::move(check); }

 private:
  const std::string path_;
  std::optional<std::string> first_text_;
  std::vector<Companion> companions_;
  Check check_;
  mutable std::mutex mutex_;
  std::shared_ptr<const rules::RuleSet> current_;
  std::string version_;  // first 12 hex digits of the file's SHA-256
  std::string sha256_;   // all of them
  std::string last_error_;
  TimePoint loaded_at_;
  metrics::CounterFamily& reloads_;
  metrics::GaugeFamily& info_;
  metrics::Gauge& loaded_at_gauge_;
};

// PostgreSQL: migrations at start, the store, and a readiness check.
class DatabaseComponent final : public Component {
 public:
  DatabaseComponent(const config::Config& config, const Clock& clock, metrics::Registry& metrics);
  std::string Name() const override { return "database"; }
  void Start() override;  // migrates when configured to
  // Pings the database now; says why it fails, since when, and when the last outage was (the
  // log says so as FailureLog does: once when it starts, now and then, once when it ends).
  std::optional<ComponentHealth> Health() const override;
  store::Store& store() { return *store_; }

 private:
  const std::string url_;
  const bool migrate_;
  const Clock& clock_;
  std::unique_ptr<store::Store> store_;
  mutable std::mutex mutex_;
  mutable FailureLog outage_{"database", clock_};
  mutable std::optional<TimePoint> down_since_;  // of the outage under way, as health said it
  mutable std::optional<std::pair<TimePoint, TimePoint>> last_outage_;
};

// Counts every stored event by source, type and outcome, and every decision by the rule that made
// it, whoever stores it (TCP feed, HTTP push).
class CountingIngestStore final : public store::IngestStore {
 public:
  CountingIngestStore(store::IngestStore& inner, metrics::Registry& metrics);
  std::vector<store::IngestResult> IngestBatch(const std::vector<store::IngestItem>& items,
                                               const store::DecideFn& decide,
                                               const std::string& feed) override;
  std::optional<std::int64_t> FeedCursor(const std::string& feed) override;
  ScreenPass ScreenEvents(const EventScreen& screen, TimePoint oldest, TimePoint from,
                          int limit) override {
    return inner_.ScreenEvents(screen, oldest, from, limit);
  }

 private:
  store::IngestStore& inner_;
  metrics::CounterFamily& events_;
  metrics::CounterFamily& decisions_;
};

// The outbox sender; its readiness is the gateway's acceptance of our credentials.
class DispatchComponent final : public Component {
 public:
  DispatchComponent(dispatch::DispatcherOptions options, store::OutboxStore& store,
                    std::unique_ptr<gateway::Gateway> gateway, const Clock& clock,
                    dispatch::RulesProvider rules,
                    std::unique_ptr<store::OutboxListener> listener = nullptr);
  std::string Name() const override { return "dispatcher"; }
  void Start() override { dispatcher_.Start(); }
  void BeginStop() override { dispatcher_.RequestStop(); }
  void Stop() override { dispatcher_.Stop(); }
  std::optional<ComponentHealth> Health() const override;
  std::optional<Heartbeat::SteadyTime> LastProgress() const override {
    return dispatcher_.LastProgress();
  }
  void WakeAt(TimePoint due) { dispatcher_.WakeAt(due); }
  dispatch::DispatcherStatus Status() const { return dispatcher_.Status(); }
  const gateway::Gateway& gateway() const { return *gateway_; }

 private:
  std::unique_ptr<gateway::Gateway> gateway_;
  dispatch::Dispatcher dispatcher_;
};

// The TCP feed's state for ops, while this instance leads it (a standby instance is ready by
// definition): degraded when it has been down longer than `unready_after`, unready when it has
// held events it could not store that long (the database refused them).
ComponentHealth DescribeFeed(const feed::TcpConsumerStatus& s, TimePoint now,
                             std::chrono::seconds unready_after);

// The TCP feed (when configured): one instance consumes it, under an advisory lock.
class FeedComponent final : public Component {
 public:
  FeedComponent(feed::TcpConsumerOptions options, const std::string& database_url,
                store::IngestStore& store, std::function<store::DecideFn()> decider,
                const Clock& clock, std::chrono::seconds unready_after, metrics::Registry& metrics);
  std::string Name() const override { return "feed"; }
  void Start() override;
  void BeginStop() override;
  void Stop() override;
  std::optional<ComponentHealth> Health() const override;
  std::optional<Heartbeat::SteadyTime> LastProgress() const override {
    return consumer_.LastProgress();
  }

 private:
  void Tick();  // every second: metrics; every minute: a line in the log

  const Clock& clock_;
  const std::chrono::seconds unready_after_;
  store::FeedLock lock_;
  feed::TcpConsumer consumer_;
  int ticks_ = 0;
  std::int64_t last_logged_accepted_ = -1;
  metrics::Gauge& leader_;
  metrics::Gauge& connected_;
  metrics::Gauge& seq_;
  metrics::Gauge& lag_;
  metrics::Counter& reconnects_;
  metrics::Counter& gaps_;
  metrics::Counter& missing_;
  metrics::Counter& went_back_;
  metrics::Counter& heartbeats_;
  Ticker ticker_;  // last: joined before the rest goes
};

// The citizen's survey pages: a cache, and first opens written in batches (the last at stop, once
// the listener no longer takes requests).
class SurveyPagesComponent final : public Component {
 public:
  explicit SurveyPagesComponent(survey::SurveyHandlerOptions options)
      : pages_(std::move(options)) {}
  std::string Name() const override { return "survey_pages"; }
  void Stop() override { pages_.Stop(); }
  std::optional<ComponentHealth> Health() const override;
  survey::SurveyPages& pages() { return pages_; }

 private:
  survey::SurveyPages pages_;
};

// The HTTP listener, with TLS when configured (SIGHUP reads the certificate and key again).
class HttpComponent final : public Component {
 public:
  HttpComponent(http::ServerOptions options, http::Handler handler, http::FastHandler fast,
                metrics::Registry& metrics);
  std::string Name() const override { return "http"; }
  void Start() override;  // StartError when it cannot listen
  void Stop() override { server_->Stop(); }
  void Reload() override;
  std::optional<ComponentHealth> Health() const override;
  std::optional<Heartbeat::SteadyTime> LastProgress() const override {
    return server_->LastProgress();
  }
  std::uint16_t Port() const { return server_->Port(); }

 private:
  void ReportCertificate();

  const http::ServerOptions options_;
  std::unique_ptr<http::Server> server_;
  // Only with TLS configured: a series at 0 read as a certificate long expired, and the runbook's
  // alert on it fired forever on every instance behind a proxy.
  metrics::GaugeFamily& certificate_expiry_;
  metrics::CounterFamily& tls_loads_;
};

// The log's health, for ops: lines lost to a full disk under the log file (app/logging.hpp),
// also counted in surveyd_log_write_failures_total. Never makes the instance unready: the service
// does its work without its log, and says so here.
class LogComponent final : public Component {
 public:
  explicit LogComponent(metrics::Registry& metrics);
  std::string Name() const override { return "log"; }
  std::optional<ComponentHealth> Health() const override;
};

// This instance's clock against the database's, the one clock every instance shares (leases run
// on it): how far apart they are (ours minus the database's), in surveyd_clock_skew_seconds and
// /api/v1/health. Beyond `max_skew` (0: only measured) the instance is not ready and its
// dispatcher sends nothing (DispatcherOptions::hold_sends): quiet hours, delays and deadlines
// would be judged on a wrong clock. Checked at start and then every `interval`.
class ClockComponent final : public Component {
 public:
  // The database's clock now; nullopt when it cannot be read (store::Store::DatabaseClock).
  using DatabaseClock = std::function<std::optional<TimePoint>()>;
  ClockComponent(DatabaseClock database, const Clock& clock, std::chrono::milliseconds max_skew,
                 std::chrono::milliseconds interval, metrics::Registry& metrics);
  std::string Name() const override { return "clock"; }
  void Start() override;
  void Stop() override { ticker_.Stop(); }
  std::optional<ComponentHealth> Health() const override;

  // One comparison. A clock that cannot be read, or a round trip too slow to tell (over a
  // second), leaves the last verdict as it was.
  void Check();
  // The last comparison found the clocks further apart than max_skew.
  bool Untrusted() const { return untrusted_; }
  // This instance's clock less the database's, as last measured (0 until then).
  Duration Skew() const {
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(skew_seconds_));
  }

 private:
  const DatabaseClock database_;
  const Clock& clock_;
  const std::chrono::milliseconds max_skew_;
  const std::chrono::milliseconds interval_;
  metrics::Gauge& skew_gauge_;
  std::atomic<double> skew_seconds_{0};
  std::atomic<bool> measured_{false};
  std::atomic<bool> untrusted_{false};
  Ticker ticker_;  // last: joined before the rest goes
};

// Reads the outbox's unsettled messages and the age of the oldest due one into gauges, every
// metrics.sample_interval_s (a scrape reads memory only, however often it comes). While the
// outbox cannot be read (the database is down) those gauges are absent, not what was read
// before: a dashboard would show a healthy queue through the outage. When it was last read is a
// gauge of its own, for the alert that says it has not been.
class QueueSampler final : public Component {
 public:
  QueueSampler(store::OpsStore& store, const Clock& clock, std::chrono::seconds interval,
               metrics::Registry& metrics);
  std::string Name() const override { return "queue_sampler"; }
  void Start() override;
  void Stop() override { ticker_.Stop(); }

  // One reading (what the ticker runs).
  void Sample();

 private:
  store::OpsStore& store_;
  const Clock& clock_;
  const std::chrono::seconds interval_;
  metrics::GaugeFamily& messages_;
  metrics::Gauge& oldest_due_;
  metrics::Gauge& last_success_;
  metrics::Counter& failures_;
  Ticker ticker_;  // last: joined before the rest goes
};

// Gives the heap memory freed since the last pass back to the system, every 30 s. glibc keeps each
// thread's arena at its high-water mark: after a burst (full feed batches while the database is
// slow) the resident size stayed at the peak although the heap in use had fallen back, and the
// soak read that as growth (bench/soak.sh, docs/benchmarks.md). What it gave back (the resident
// size before less after) is counted.
class MemoryTrimmer final : public Component {
 public:
  explicit MemoryTrimmer(metrics::Registry& metrics);
  std::string Name() const override { return "memory_trimmer"; }
  void Start() override;
  void Stop() override { ticker_.Stop(); }
  // One pass (what the ticker runs); returns the bytes of resident memory it gave back.
  std::uint64_t Trim();

 private:
  metrics::Counter& returned_;
  Ticker ticker_;  // last: joined before the rest goes
};

// Screens the stored events under the rules in force (EventScreen), after the first load and
// after every reload that changes them: in batches, a tenth of a second of work each second
// (it rewrites every event of the look-back, so it goes gently), newest events
// first, until none is left. Until then the events not yet screened are read back in full, as
// before screening, so this only ever makes deciding cheaper, never different. An incident that
// was busy when the sweep reached it is left, and the sweep goes again a minute after it ends,
// until it leaves none.
class ScreenSweeper final : public Component {
 public:
  // `reach`: how far back stored events are screened, as long as a number's hash is kept
  // (retention.phone_hash_days) and never less than a number's longest look-back: a number's
  // event, however old, puts it in its incident (migration 0046).
  ScreenSweeper(store::IngestStore& store, std::function<ScreenInForce()> screen,
                const Clock& clock, metrics::Registry& metrics,
                std::chrono::days reach = kMaxNumberLookback);
  std::string Name() const override { return "screen_sweeper"; }
  void Start() override;
  void Stop() override { ticker_.Stop(); }

  // A tenth of a second of sweeping (what the ticker runs every second).
  void Tick();

 private:
  store::IngestStore& store_;
  const std::function<ScreenInForce()> screen_;
  const Clock& clock_;
  const std::chrono::days reach_;
  std::string done_;                   // the screen every stored event is screened under
  std::string version_;                // the screen being swept
  std::optional<TimePoint> from_;      // where the sweep goes on from
  std::int64_t swept_ = 0;             // events screened in this sweep
  std::int64_t skipped_ = 0;           // events it left, their incidents busy
  std::optional<TimePoint> again_at_;  // a sweep that left some goes again then
  metrics::Counter& screened_;
  // A sweep waits out a database outage: said once, not every second it is tried again.
  FailureLog failures_{"rules: screening stored events", clock_};
  Ticker ticker_;  // last: joined before the rest goes
};

// Retention and re-keying every retention.interval_s (the first run a minute after start), one
// instance at a time (the store's advisory lock); what it did goes to the log and to metrics.
class RetentionComponent final : public Component {
 public:
  RetentionComponent(store::PrivacyStore& store, store::RetentionPolicy policy,
                     std::chrono::seconds interval, std::string worker, const Clock& clock,
                     metrics::Registry& metrics);
  std::string Name() const override { return "retention"; }
  void Start() override;
  void Stop() override { ticker_.Stop(); }

 private:
  void Tick();

  store::PrivacyStore& store_;
  const store::RetentionPolicy policy_;
  const std::chrono::seconds interval_;
  const std::string worker_;
  const Clock& clock_;
  std::chrono::steady_clock::time_point next_run_;
  metrics::CounterFamily& runs_;
  metrics::CounterFamily& removed_;
  metrics::Gauge& last_run_;
  metrics::Gauge& unreadable_;
  Ticker ticker_;  // last: joined before the rest goes
};

// Feeds systemd's watchdog (WATCHDOG=1) only while every watched loop shows recent progress, and
// says in the log and in metrics which loop stalled.
class WatchdogComponent final : public Component {
 public:
  WatchdogComponent(const SystemdNotifier& notifier, std::vector<LoopProbe> probes,
                    std::chrono::seconds stall_after, metrics::Registry& metrics);
  std::string Name() const override { return "watchdog"; }
  void Start() override;
  void Stop() override { ticker_.Stop(); }

 private:
  void Tick();

  const SystemdNotifier& notifier_;
  const std::vector<LoopProbe> probes_;
  const std::chrono::seconds stall_after_;
  metrics::GaugeFamily& age_;
  metrics::GaugeFamily& stalled_;
  std::vector<std::string> reported_;  // stalled loops already logged
  Ticker ticker_;                      // last: joined before the rest goes
};

}  // namespace surveyd::app
