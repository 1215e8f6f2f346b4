#include "app/components.hpp"
#include "app/commands.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fakes/captured_log.hpp"
#include "fakes/manual_clock.hpp"
#include "fakes/metric_samples.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/time.hpp"
#include "unit/http/raw_connection.hpp"
#include "unit/rules/rules_test_util.hpp"

namespace surveyd::app {
namespace {

using namespace std::chrono_literals;
using testing::CapturedLog;
using testing::ManualClock;
using testing::Samples;

const TimePoint kT0 = ParseRfc3339("2026-11-26T09:00:00Z").value();

// The database's clock as a test sets it; nullopt: it cannot be read.
struct DatabaseClockStub {
  std::optional<TimePoint> now = kT0;
  ClockComponent::DatabaseClock Reader() {
    return [this] { return now; };
  }
};

TEST(ClockComponentTest, TrustsAClockWithinTheBoundAndSaysHowFarApart) {
  ManualClock ours(kT0 + 1500ms);
  DatabaseClockStub database;
  metrics::Registry registry;
  ClockComponent check(database.Reader(), ours, 2000ms, 1000ms, registry);
  check.Check();
  EXPECT_FALSE(check.Untrusted());
  const auto health = check.Health();
  ASSERT_TRUE(health.has_value());
  EXPECT_TRUE(health->ok);
  EXPECT_DOUBLE_EQ(health->details["skew_s"].get<double>(), 1.5);
  EXPECT_EQ(health->details["max_skew_s"].get<double>(), 2.0);
  EXPECT_EQ(check.Skew(), std::chrono::milliseconds(1500)) << "what the rate's buckets correct by";
  EXPECT_NE(registry.Render().find("surveyd_clock_skew_seconds 1.5"), std::string::npos)
      << registry.Render();
}

TEST(ClockComponentTest, AClockAheadOrBehindBeyondTheBoundIsNotTrustedUntilItIsBack) {
  ManualClock ours(kT0 + 5min);
  DatabaseClockStub database;
  metrics::Registry registry;
  ClockComponent check(database.Reader(), ours, 2000ms, 1000ms, registry);
  check.Check();
  EXPECT_TRUE(check.Untrusted());
  EXPECT_FALSE(check.Health()->ok);
  EXPECT_NE(check.Health()->details["error"].get<std::string>().find("ahead of the database's"),
            std::string::npos);

  ours.Set(kT0 - 3min);  // a jump back, past the database's
  check.Check();
  EXPECT_TRUE(check.Untrusted());
  EXPECT_NE(check.Health()->details["error"].get<std::string>().find("behind the database's"),
            std::string::npos);

  ours.Set(kT0);
  check.Check();
  EXPECT_FALSE(check.Untrusted());
  EXPECT_TRUE(check.Health()->ok);
}

TEST(ClockComponentTest, AnUnreadableDatabaseClockLeavesTheLastVerdict) {
  ManualClock ours(kT0 + 1h);
  DatabaseClockStub database;
  metrics::Registry registry;
  ClockComponent check(database.Reader(), ours, 2000ms, 1000ms, registry);
  check.Check();
  ASSERT_TRUE(check.Untrusted());
  database.now.reset();
  ours.Set(kT0);
  check.Check();
  EXPECT_TRUE(check.Untrusted()) << "nothing new was learnt";
}

TEST(ClockComponentTest, ZeroOnlyReports) {
  ManualClock ours(kT0 + 1h);
  DatabaseClockStub database;
  metrics::Registry registry;
  ClockComponent check(database.Reader(), ours, 0ms, 1000ms, registry);
  check.Check();
  EXPECT_FALSE(check.Untrusted());
  EXPECT_TRUE(check.Health()->ok);
  EXPECT_DOUBLE_EQ(check.Health()->details["skew_s"].get<double>(), 3600.0);
}

// The outbox as a test sets it; `down`: it cannot be read, as while the database is down.
class OutboxStub final : public store::OpsStore {
 public:
  bool down = false;
  store::QueueStats stats{{{"pending", 3}, {"claimed", 0}, {"sending", 1}, {"in_doubt", 0}}, 42};

  store::QueueStats GetQueueStats(TimePoint) override {
    if (down) throw store::Unavailable("queue stats: cannot connect to the database");
    return stats;
  }
  std::optional<store::SendHold> ActiveSendHold() override { return std::nullopt; }
  store::HoldOutcome HoldSends(const std::string&, const std::string&) override { return {}; }
  store::ReleaseOutcome ReleaseSends(const std::string&, const std::string&, bool,
                                     TimePoint) override {
    return {};
  }
};

// While the outbox cannot be read its gauges are absent, not the last values read (a dashboard
// would show a healthy queue through a database outage); when it was last read says how stale
// the picture is, and the alert SurveydOutboxNotRead reads it.
TEST(QueueSamplerTest, TheOutboxGaugesAreAbsentWhileTheOutboxCannotBeRead) {
  ManualClock clock(kT0);
  OutboxStub outbox;
  metrics::Registry registry;
  QueueSampler sampler(outbox, clock, 15s, registry);
  EXPECT_EQ(Samples(registry.Render(), "surveyd_outbox_oldest_due_seconds"), "") << "not read yet";
  EXPECT_EQ(Samples(registry.Render(), "surveyd_outbox_sample_last_success_timestamp_seconds"),
            "surveyd_outbox_sample_last_success_timestamp_seconds 0\n");

  sampler.Sample();
  const std::string read_at = std::to_string(ToUnixSeconds(kT0));
  auto text = registry.Render();
  EXPECT_EQ(Samples(text, "surveyd_outbox_messages"),
            "surveyd_outbox_messages{state=\"claimed\"} 0\n"
            "surveyd_outbox_messages{state=\"in_doubt\"} 0\n"
            "surveyd_outbox_messages{state=\"pending\"} 3\n"
            "surveyd_outbox_messages{state=\"sending\"} 1\n");
  EXPECT_EQ(Samples(text, "surveyd_outbox_oldest_due_seconds"),
            "surveyd_outbox_oldest_due_seconds 42\n");

  outbox.down = true;
  clock.Advance(15s);
  sampler.Sample();
  text = registry.Render();
  EXPECT_EQ(Samples(text, "surveyd_outbox_messages"), "");
  EXPECT_EQ(Samples(text, "surveyd_outbox_oldest_due_seconds"), "");
  EXPECT_EQ(Samples(text, "surveyd_outbox_sample_last_success_timestamp_seconds"),
            "surveyd_outbox_sample_last_success_timestamp_seconds " + read_at + "\n");
  EXPECT_EQ(Samples(text, "surveyd_outbox_sample_failures_total"),
            "surveyd_outbox_sample_failures_total 1\n");

  outbox.down = false;
  outbox.stats.oldest_due_seconds = 900;
  clock.Advance(15s);
  sampler.Sample();
  text = registry.Render();
  EXPECT_EQ(Samples(text, "surveyd_outbox_oldest_due_seconds"),
            "surveyd_outbox_oldest_due_seconds 900\n");
  EXPECT_NE(Samples(text, "surveyd_outbox_messages").find("{state=\"pending\"} 3"),
            std::string::npos);
  EXPECT_EQ(Samples(text, "surveyd_outbox_sample_last_success_timestamp_seconds"),
            "surveyd_outbox_sample_last_success_timestamp_seconds " +
                std::to_string(ToUnixSeconds(kT0 + 30s)) + "\n");
}

// Stored events as a sweep sees them: seven to screen again, all in one pass.
// Seven stored events screened in one pass, once the store can be reached: it cannot for its
// first `failures` passes.
class StoredEventsStub final : public store::IngestStore {
 public:
  explicit StoredEventsStub(int failures = 0) : failures_(failures) {}
  std::vector<store::IngestResult> IngestBatch(const std::vector<store::IngestItem>&,
                                               const store::DecideFn&,
                                               const std::string&) override {
    return {};
  }
  std::optional<std::int64_t> FeedCursor(const std::string&) override { return std::nullopt; }
  ScreenPass ScreenEvents(const EventScreen&, TimePoint, TimePoint, int) override {
    ++calls;
    if (failures_-- > 0) throw std::runtime_error("connection refused");
    return passes ? passes() : ScreenPass{7, std::nullopt};
  }

  std::function<ScreenPass()> passes;  // what each call returns, when set
  int calls = 0;

 private:
  int failures_;
};

// A sweeper of `stored` under the screen `screen` (of the rules whose version is "abc").
std::unique_ptr<ScreenSweeper> SweeperOf(store::IngestStore& stored, const EventScreen& screen,
                                         const Clock& clock, metrics::Registry& registry) {
  return std::make_unique<ScreenSweeper>(
      stored,
      [&screen] {
        return ScreenInForce{screen, "abc"};
      },
      clock, registry);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `text` with its first `from` replaced by `to`.
std::string Replaced(const std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.substr(0, at) + to + text.substr(at + from.size());
}

// The log names the rules by the version /readyz and GET /api/v1/rules name (their file's hash),
// as they load, reload and once stored events are screened under them; their screen's version (a
// hash of the policy and exclusions, which stored events keep) comes second, labelled, and a
// reload of anything else leaves it as it was.
TEST(RulesComponentTest, TheLogNamesTheRulesByTheVersionHealthNames) {
  const std::string shipped = ReadFile(rules::testing::SourcePath("config/rules.yaml"));
  const std::string path = ::testing::TempDir() + "components_test_rules.yaml";
  std::ofstream(path) << shipped;
  ManualClock clock(kT0);
  metrics::Registry registry;
  RulesComponent rules(path, registry);
  StoredEventsStub stored;
  ScreenSweeper sweeper(
      stored, [&rules] { return rules.Screen(); }, clock, registry);
  CapturedLog log;
  const auto version = [&rules] { return rules.Health()->details["version"].get<std::string>(); };
  const auto screen = [&rules] { return rules::ScreenUnder(rules.Current()).version; };

  rules.Start();
  const std::string first = version();
  const std::string first_screen = screen();
  EXPECT_EQ(first.size(), 12u);
  EXPECT_EQ(log.Take(), "info rules: " + rules.Current()->Summary() + " (version " + first +
                            "; screen of stored events " + first_screen + ")\n");
  sweeper.Tick();
  EXPECT_EQ(log.Take(), "info rules: stored events screened under version " + first +
                            " (screen of stored events " + first_screen + "; 7 screened again)\n");

  std::ofstream(path) << Replaced(shipped, "force_name: West Midlands Police",
                                  "force_name: West Midlands");
  rules.Reload();
  EXPECT_NE(version(), first);
  EXPECT_EQ(log.Take(), "info rules reloaded: " + rules.Current()->Summary() + " (version " +
                            version() + "; screen of stored events " + first_screen +
                            ", unchanged)\n");
  sweeper.Tick();
  EXPECT_EQ(log.Take(), "") << "nothing to screen again";

  std::ofstream(path) << Replaced(shipped, "minimum_age: 16", "minimum_age: 17");
  rules.Reload();
  EXPECT_NE(screen(), first_screen);
  EXPECT_EQ(log.Take(), "info rules reloaded: " + rules.Current()->Summary() + " (version " +
                            version() + "; screen of stored events " + screen() +
                            ", changed: stored events will be screened again)\n");
  sweeper.Tick();
  EXPECT_EQ(log.Take(), "info rules: stored events screened under version " + version() +
                            " (screen of stored events " + screen() + "; 7 screened again)\n");
}

// Writes `first` to the named pipe `path` for its first reader, then `second` to any reader that
// opens it again within `wait`: a rules file that changes under whoever reads it twice.
std::thread PipeWriter(const std::string& path, std::string first, std::string second,
                       std::chrono::milliseconds wait) {
  return std::thread([=] {
    {
      std::ofstream out(path);
      out << first;
    }
    // Without O_NONBLOCK an open waits for a reader; with it, it fails (ENXIO) while there is
    // none. The first reader must be gone (the data would join its read) before a second one is
    // written to.
    bool first_gone = false;
    const auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd < 0) {
        first_gone = true;
      } else if (first_gone) {
        EXPECT_EQ(::write(fd, second.data(), second.size()), static_cast<ssize_t>(second.size()));
        ::close(fd);
        return;
      }
      if (fd >= 0) ::close(fd);
      std::this_thread::sleep_for(1ms);
    }
  });
}

// The alert rules are loaded from the text the survey rules were loaded from, never from a second
// read of the file: one replaced meanwhile (an editor saving over it, a deploy) would put half of
// one file and half of another in force, under the first one's version. A pipe shows a second
// read: it gives another text.
TEST(RulesComponentTest, CompanionsLoadTheTextTheRulesWereLoadedFrom) {
  const std::string shipped = ReadFile(rules::testing::SourcePath("config/rules.yaml"));
  const std::string path = ::testing::TempDir() + "components_test_rules.fifo";
  ::unlink(path.c_str());
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);
  std::thread writer = PipeWriter(path, shipped, "alerts: {}\n", 500ms);
  metrics::Registry registry;
  RulesComponent rules(path, registry);
  std::string staged;
  rules.AddCompanion({[&staged](std::string_view text) {
                        staged = text;
                        return std::vector<rules::RuleError>{};
                      },
                      [] {}});
  EXPECT_NO_THROW(rules.Start());
  writer.join();
  ::unlink(path.c_str());
  EXPECT_EQ(staged, shipped);
  EXPECT_EQ(rules.Health()->details["version"], crypto::Sha256Hex(shipped).substr(0, 12));
}

// `serve` checks the rules file before it starts anything, then starts with the text it checked;
// reloads read the file.
TEST(RulesComponentTest, StartsWithTheTextCheckedBeforeAndReloadsFromTheFile) {
  const std::string shipped = ReadFile(rules::testing::SourcePath("config/rules.yaml"));
  const std::string path = ::testing::TempDir() + "components_test_gone.yaml";
  ::unlink(path.c_str());
  metrics::Registry registry;
  RulesComponent rules(path, registry, shipped);
  CapturedLog log;
  EXPECT_NO_THROW(rules.Start());
  EXPECT_EQ(rules.Health()->details["version"], crypto::Sha256Hex(shipped).substr(0, 12));
  rules.Reload();
  EXPECT_TRUE(rules.Current()) << "the rules in force stay";
  EXPECT_NE(log.Take().find("error rules reload: " + path + ": cannot read the rules file"),
            std::string::npos);
}

// A reload is checked against the configuration as a start would be: rules that look back over a
// number for longer than retention keeps its hash would forget a domestic abuse flag the rules
// still look for, and would stop the next start; the rules in force stay.
TEST(RulesComponentTest, AReloadThatRetentionCannotKeepIsRefusedAndTheRulesInForceStay) {
  const std::string shipped = Replaced(ReadFile(rules::testing::SourcePath("config/rules.yaml")),
                                       "frequency_cap_days: 90", "frequency_cap_days: 30");
  const std::string path = ::testing::TempDir() + "components_test_retention.yaml";
  std::ofstream(path) << shipped;
  config::Config config;
  config.retention.phone_hash_days = 60;
  metrics::Registry registry;
  RulesComponent rules(path, registry);
  rules.CheckWith([&config](const rules::RuleSet& set) { return RulesAgainstConfig(config, set); });
  CapturedLog log;
  ASSERT_NO_THROW(rules.Start());
  const auto version = rules.Health()->details["version"];

  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"number_lookback_days: 30", "number_lookback_days: 90"},
           {"frequency_cap_days: 30", "frequency_cap_days: 120"}}) {
    std::ofstream(path) << Replaced(shipped, from, to);
    log.Take();
    rules.Reload();
    EXPECT_EQ(rules.Health()->details["version"], version) << to;
    const std::string said = log.Take();
    EXPECT_NE(said.find("error rules reload: " + path +
                        ": retention.phone_hash_days (60) is "
                        "shorter than the rules' " +
                        to.substr(0, to.find(':'))),
              std::string::npos)
        << said;
    EXPECT_NE(said.find("the previous rules stay in force"), std::string::npos) << said;
  }
  config.retention.phone_hash_days = 120;
  rules.Reload();
  EXPECT_NE(rules.Health()->details["version"], version) << "kept long enough: in force";
}

// What `rules check` warns of is logged as the rules go in force: ops who reload without running
// it still see that an exclusion will never match.
TEST(RulesComponentTest, TheRulesWarningsAreLogged) {
  const std::string path = ::testing::TempDir() + "components_test_warned.yaml";
  std::ofstream(path) << Replaced(ReadFile(rules::testing::SourcePath("config/rules.yaml")),
                                  "qualifiers: [DOMESTIC, HONOUR_BASED]",
                                  "qualifiers: [DOMESTIC, HONOUR_BASED, NEW_FLAG]");
  metrics::Registry registry;
  RulesComponent rules(path, registry);
  CapturedLog log;
  ASSERT_NO_THROW(rules.Start());
  const std::string said = log.Take();
  EXPECT_NE(said.find("warning rules: " + path + ":"), std::string::npos) << said;
  EXPECT_NE(said.find("qualifier 'NEW_FLAG' is not one the feed contract names"), std::string::npos)
      << said;
}

TEST(RulesComponentTest, AConversationThatOutlastsTheNumbersHashIsRefused) {
  // Retention deletes a conversation phone_hash_days after it started, whatever its state.
  const std::string shipped = ReadFile(rules::testing::SourcePath("config/rules.yaml"));
  config::Config config;
  config.retention.phone_hash_days = 90;
  const auto lasting = [&](const std::string& lasts) {
    return RulesAgainstConfig(
        config,
        *rules::LoadString(Replaced(shipped, "lasts: 24h", "lasts: " + lasts), "r.yaml").rules);
  };
  EXPECT_TRUE(lasting("2160h").empty()) << "90 days: as long as the hash";
  const auto problems = lasting("2184h");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "retention.phone_hash_days (90) is shorter than the rules' two_way lasts: a "
            "conversation would be deleted while it may still be answered");
}

// A sweep waiting out a database outage says so once, not every second it tries again, and
// once when it works again.
TEST(ScreenSweeperTest, AnOutageIsSaidOnceNotEverySecond) {
  ManualClock clock(kT0);
  metrics::Registry registry;
  StoredEventsStub stored(30);
  EventScreen screen;
  screen.version = "v1/findings3";
  const auto sweeper = SweeperOf(stored, screen, clock, registry);
  CapturedLog log;
  for (int second = 0; second < 30; ++second) {
    sweeper->Tick();
    clock.Advance(std::chrono::seconds(1));
  }
  const std::string outage = log.Take();
  EXPECT_EQ(outage,
            "error rules: screening stored events: stored events not screened yet (connection "
            "refused); trying again\n");
  sweeper->Tick();
  const std::string after = log.Take();
  EXPECT_NE(after.find("info rules: screening stored events: working again, after 30 failure(s)"),
            std::string::npos)
      << after;
  EXPECT_NE(after.find("info rules: stored events screened under version abc"), std::string::npos)
      << after;
}

// A sweep that left busy incidents said it was done, and never came back to them: their events
// were read back whole, and an incident's flag filed under its other numbers under the old
// screen alone, for as long as the process ran (a review). It goes again a minute after.
TEST(ScreenSweeperTest, ASweepThatLeftBusyIncidentsGoesAgainUntilItLeavesNone) {
  StoredEventsStub stored;
  int busy = 2;
  stored.passes = [&busy] {
    return busy-- > 0 ? store::IngestStore::ScreenPass{5, std::nullopt, 2}
                      : store::IngestStore::ScreenPass{2, std::nullopt, 0};
  };
  ManualClock clock(kT0);
  metrics::Registry registry;
  EventScreen screen;
  screen.version = "v1/findings6";
  const auto sweeper = SweeperOf(stored, screen, clock, registry);
  CapturedLog log;
  sweeper->Tick();
  EXPECT_EQ(log.Take(),
            "info rules: 2 stored event(s) left for a later sweep (a batch or a lock held their "
            "incidents); sweeping again in a minute\n");
  clock.Advance(std::chrono::seconds(30));
  sweeper->Tick();
  EXPECT_EQ(stored.calls, 1) << "not before the minute";
  clock.Advance(std::chrono::seconds(30));
  sweeper->Tick();
  EXPECT_EQ(stored.calls, 2);
  EXPECT_NE(log.Take().find("2 stored event(s) left"), std::string::npos) << "still busy";
  clock.Advance(std::chrono::minutes(1));
  sweeper->Tick();
  EXPECT_EQ(log.Take(),
            "info rules: stored events screened under version abc (screen of stored events "
            "v1/findings6; 12 screened again)\n");
  clock.Advance(std::chrono::minutes(5));
  sweeper->Tick();
  EXPECT_EQ(stored.calls, 3) << "done";
}

// /api/v1/health's http check says both caps and what each refused, apart.
TEST(FeedHealthTest, AFeedDownIsDegradedAndADatabaseThatCannotTakeItsEventsIsNotReady) {
  // A feed that sends nothing left the instance unready: a load balancer took away the survey
  // pages, delivery reports and STOP replies with it, which all still worked.
  const TimePoint now = ParseRfc3339("2026-12-07T21:40:00Z").value();
  feed::TcpConsumerStatus s;
  s.leader = true;
  s.disconnected_since = now - 60s;
  auto health = DescribeFeed(s, now, 120s);
  EXPECT_TRUE(health.ok);
  EXPECT_FALSE(health.degraded) << "a minute down is a reconnect, not news";
  s.disconnected_since = now - 150s;
  health = DescribeFeed(s, now, 120s);
  EXPECT_TRUE(health.ok);
  EXPECT_TRUE(health.degraded);
  EXPECT_EQ(health.details["error"], "the feed has been down 150 s: no events arrive");
  s.held_for_database = true;
  EXPECT_FALSE(DescribeFeed(s, now, 120s).ok) << "nothing can be stored: answers neither";
  // Connected, lines read and not stored as long: unready too.
  s = {};
  s.leader = true;
  s.connected = true;
  s.waiting_since = now - 150s;
  EXPECT_FALSE(DescribeFeed(s, now, 120s).ok);
  // A standby instance is ready whatever the feed does.
  s = {};
  s.disconnected_since = now - 1h;
  EXPECT_TRUE(DescribeFeed(s, now, 120s).ok);
  EXPECT_FALSE(DescribeFeed(s, now, 120s).degraded);
}

TEST(HttpComponentTest, HealthSaysWhatThePerClientCapRefused) {
  http::ServerOptions options;
  options.port = 0;
  options.max_connections = 10;
  options.max_connections_per_client = 1;
  metrics::Registry registry;
  HttpComponent component(
      options, [](const http::Request&) { return http::Response::Text(200, "ok"); }, nullptr,
      registry);
  component.Start();
  surveyd::testing::RawConnection held(component.Port(), "127.0.0.5");
  ASSERT_TRUE(held.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(held.Read().has_value());
  surveyd::testing::RawConnection over(component.Port(), "127.0.0.5");
  ASSERT_TRUE(over.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto refused = over.Read();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);

  const auto details = component.Health()->details;
  EXPECT_EQ(details["max_connections_per_client"], 1);
  EXPECT_EQ(details["refused_over_client_cap"], 1);
  EXPECT_EQ(details["refused_over_cap"], 0);
  EXPECT_EQ(details["clients"], 1);
  component.Stop();
}

// Without TLS (behind a proxy, as recommended) there is no certificate to expire: no series, or
// the runbook's "expires within 14 days" alert reads 0 as long expired and fires forever.
TEST(HttpComponentTest, NoCertificateExpiryWithoutTls) {
  http::ServerOptions options;
  options.port = 0;
  metrics::Registry registry;
  HttpComponent component(
      options, [](const http::Request&) { return http::Response::Text(200, "ok"); }, nullptr,
      registry);
  component.Start();
  const std::string text = registry.Render();
  EXPECT_EQ(text.find("\nsurveyd_tls_certificate_expiry_timestamp_seconds "), std::string::npos)
      << text;
  component.Stop();
}

TEST(MemoryTrimmerTest, GivesFreedHeapBackAndCountsIt) {
  metrics::Registry registry;
  MemoryTrimmer trimmer(registry);
  const std::uint64_t before = trimmer.Trim();  // what earlier tests left
  // 64 MiB in small blocks (below the size glibc maps on its own), touched, then freed while a
  // block allocated after them stays: free() gives back only the top of the heap, so these pages
  // stay resident until trimmed, as after a burst in a thread's arena.
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 64 * 256; ++i) {
    blocks.emplace_back(new char[4096]);
    std::fill_n(blocks.back().get(), 4096, static_cast<char>(i));
  }
  const auto pin = std::make_unique<char[]>(4096);
  blocks.clear();
  const std::uint64_t returned = trimmer.Trim();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's allocator keeps freed memory in quarantine, out of glibc's reach: there, only
  // that a pass is counted.
#else
  EXPECT_GT(returned, 32u << 20) << "of 64 MiB freed";
#endif
  EXPECT_NE(registry.Render().find("surveyd_heap_returned_bytes_total " +
                                   std::to_string(before + returned)),
            std::string::npos)
      << registry.Render();
}

}  // namespace
}  // namespace surveyd::app
