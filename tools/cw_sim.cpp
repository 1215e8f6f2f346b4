// cw-sim: a ControlWorks-style command-and-control feed for the demo, the tests and the
// benchmarks (../shared/spec/feed.md). Every phone number it writes is in Ofcom's drama ranges.
//
//   cw-sim serve --listen 127.0.0.1:7000 [--rate N] [--count N | --duration S] [--seed N]
//                [--duplicate-rate F] [--malformed-rate F] [--gap-rate F]
//                [--disconnect-every N | --disconnect-rate F] [--heartbeat-s S] [--record FILE]
//                [--exit-when-acked] [--start RFC3339]
//   cw-sim push --url http://127.0.0.1:8080/api/v1/feed/events --secret S [--rate N]
//               [--count N | --duration S] [--batch N] [--seed N] [--start RFC3339] ...
//   cw-sim push-calls --url URL --secret S --count N [--clients N] [--prefix P] [--first-number N]
//   cw-sim generate --count N [--seed N] [--with-seq] [--start RFC3339 | --now] > events.ndjson
//
// push-calls is the HTTP push benchmark's load (bench/ingest.sh): N clients at once, each on a
// kept-alive connection of its own, one signed event per request, every event a call.ended of
// its own incident and number that the shipped rules survey. Written in C++ so that the clients
// take little of the two cores the service and PostgreSQL share.
//
// Events carry occurred_at = now (real time) for serve and push unless --start gives a simulated
// start; generate uses a simulated day by default so that a seed always gives the same file.
// Without --seed, a real-time run picks a seed from the clock, so that its event ids are new.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "sim/event_generator.hpp"
#include "sim/sim_server.hpp"
#include "surveyd/core/crypto.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/http/client.hpp"

namespace {

using namespace surveyd;
using SteadyClock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr const char* kUsage = R"(usage:
  cw-sim serve --listen HOST:PORT [--rate N] [--count N | --duration S] [--seed N]
               [--first-seq N] [--duplicate-rate F] [--malformed-rate F] [--gap-rate F]
               [--disconnect-every N | --disconnect-rate F] [--heartbeat-s S]
               [--record FILE] [--exit-when-acked] [--start RFC3339]
  cw-sim push --url URL --secret S [--rate N] [--count N | --duration S] [--batch N]
              [--seed N] [--duplicate-rate F] [--malformed-rate F] [--start RFC3339]
              [--insecure] [--quiet]
  cw-sim push-calls --url URL --secret S --count N [--clients N] [--prefix P]
                    [--first-number N] [--timeout-ms N]
  cw-sim generate --count N [--seed N] [--with-seq] [--duplicate-rate F] [--malformed-rate F]
                  [--gap-rate F] [--start RFC3339 | --now]
)";

// "--name value" pairs and "--flag" switches.
class Args {
 public:
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string name = argv[i];
      if (name.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + name + "'");
      name.erase(0, 2);
      if (const auto eq = name.find('='); eq != std::string::npos) {
        values_[name.substr(0, eq)] = name.substr(eq + 1);
      } else if (i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0) {
        values_[name] = argv[++i];
      } else {
        values_[name] = "";
      }
    }
  }

  bool Has(const std::string& name) {
    used_[name] = true;
    return values_.count(name) > 0;
  }
  std::string Str(const std::string& name, std::string fallback = "") {
    return Has(name) ? values_[name] : fallback;
  }
  double Num(const std::string& name, double fallback) {
    if (!Has(name)) return fallback;
    try {
      std::size_t used = 0;
      const double v = std::stod(values_[name], &used);
      if (used != values_[name].size()) throw std::invalid_argument(name);
      return v;
    } catch (const std::exception&) {
      throw UsageError("--" + name + " needs a number, not '" + values_[name] + "'");
    }
  }
  std::int64_t Int(const std::string& name, std::int64_t fallback) {
    return static_cast<std::int64_t>(Num(name, static_cast<double>(fallback)));
  }
  // Call after reading everything: an option nobody asked for is a typo.
  void RejectUnknown() {
    for (const auto& [name, value] : values_) {
      if (!used_.count(name)) throw UsageError("unknown option --" + name);
    }
  }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

sim::GeneratorOptions ReadGeneratorOptions(Args& args, bool& real_time, bool real_time_default) {
  sim::GeneratorOptions g;
  g.seed = static_cast<std::uint64_t>(args.Int("seed", 1));
  // A feed restarted numbers on from where it stopped (a consumer skips lines at or below its
  // cursor): the demo starts the simulator after the cursor an earlier run left.
  g.first_seq = args.Int("first-seq", 1);
  if (g.first_seq < 1) throw UsageError("--first-seq must be 1 or more");
  g.duplicate_rate = args.Num("duplicate-rate", 0);
  g.malformed_rate = args.Num("malformed-rate", 0);
  g.gap_rate = args.Num("gap-rate", 0);
  g.incidents_per_day = args.Num("incidents-per-day", g.incidents_per_day);
  real_time = real_time_default;
  if (args.Has("start")) {
    const auto start = ParseRfc3339(args.Str("start"));
    if (!start) throw UsageError("--start needs an RFC 3339 time, e.g. 2026-11-01T00:00:00Z");
    g.start = *start;
    real_time = false;
  }
  if (args.Has("now")) real_time = true;
  if (real_time && !args.Has("seed")) {
    // Real-time runs stamp today's date: a fixed seed would repeat yesterday's event ids, and a
    // second demo run would be all duplicates.
    g.seed =
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  }
  if (g.duplicate_rate + g.malformed_rate > 1) {
    throw UsageError("--duplicate-rate + --malformed-rate must not exceed 1");
  }
  return g;
}

std::chrono::milliseconds Seconds(double s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

int Serve(Args& args) {
  sim::SimServerOptions o;
  const std::string listen = args.Str("listen", "127.0.0.1:7000");
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw UsageError("--listen needs HOST:PORT");
  o.host = listen.substr(0, colon);
  o.port = static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)));
  o.generator = ReadGeneratorOptions(args, o.real_time, true);
  o.rate = args.Num("rate", 0);
  o.count = args.Int("count", 0);
  o.duration = Seconds(args.Num("duration", 0));
  o.disconnect_every = args.Int("disconnect-every", 0);
  o.disconnect_rate = args.Num("disconnect-rate", 0);
  o.heartbeat = Seconds(args.Num("heartbeat-s", 10));
  o.record_path = args.Str("record");
  const bool exit_when_acked = args.Has("exit-when-acked");
  args.RejectUnknown();
  if (exit_when_acked && o.count == 0 && o.duration.count() == 0) {
    throw UsageError("--exit-when-acked needs --count or --duration");
  }

  sim::SimServer server(o);
  const unsigned short port = server.Start();
  std::fprintf(stderr, "cw-sim: serving on %s:%u\n", o.host.c_str(), port);
  const auto started = SteadyClock::now();
  while (!g_stop) {
    if (exit_when_acked && server.WaitUntilAcked(std::chrono::milliseconds(100))) break;
    if (!exit_when_acked) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  server.Stop();
  const auto s = server.Stats();
  const double secs = std::chrono::duration<double>(SteadyClock::now() - started).count();
  std::fprintf(stderr,
               "cw-sim: events=%lld duplicates=%lld malformed=%lld gaps=%lld last_seq=%lld "
               "acked_seq=%lld lines_sent=%lld bytes_sent=%lld heartbeats=%lld connections=%lld "
               "forced_disconnects=%lld seconds=%.1f lines_per_s=%.0f\n",
               static_cast<long long>(s.events), static_cast<long long>(s.duplicates),
               static_cast<long long>(s.malformed), static_cast<long long>(s.gaps),
               static_cast<long long>(s.last_seq), static_cast<long long>(s.acked_seq),
               static_cast<long long>(s.lines_sent), static_cast<long long>(s.bytes_sent),
               static_cast<long long>(s.heartbeats), static_cast<long long>(s.connections),
               static_cast<long long>(s.forced_disconnects), secs,
               secs > 0 ? static_cast<double>(s.lines_sent) / secs : 0.0);
  return 0;
}

int Push(Args& args) {
  const std::string url = args.Str("url", "http://127.0.0.1:8080/api/v1/feed/events");
  const std::string secret = args.Str("secret");
  bool real_time = true;
  sim::GeneratorOptions g = ReadGeneratorOptions(args, real_time, true);
  g.with_seq = false;
  const double rate = args.Num("rate", 10);
  const std::int64_t count = args.Int("count", 0);
  const auto duration = Seconds(args.Num("duration", 0));
  const std::int64_t batch = std::max<std::int64_t>(1, args.Int("batch", 100));
  const bool verify_tls = !args.Has("insecure");
  const bool quiet = args.Has("quiet");
  const auto timeout = std::chrono::milliseconds(args.Int("timeout-ms", 10000));
  args.RejectUnknown();
  if (secret.empty()) throw UsageError("push needs --secret");
  if (count == 0 && duration.count() == 0 && !quiet) {
    std::fprintf(stderr, "cw-sim: no --count or --duration: pushing until interrupted\n");
  }

  sim::EventGenerator generator(g);
  sim::GeneratedLine line;
  std::int64_t lines = 0, accepted = 0, duplicate = 0, rejected = 0, failed_requests = 0;
  const auto started = SteadyClock::now();
  bool done = false;
  while (!done && !g_stop) {
    std::string body;
    std::int64_t in_batch = 0;
    while (in_batch < batch) {
      if ((count > 0 && generator.counts().events >= count) ||
          (duration.count() > 0 && SteadyClock::now() - started >= duration)) {
        done = true;
        break;
      }
      const auto now = real_time ? std::optional<TimePoint>(std::chrono::time_point_cast<Duration>(
                                       std::chrono::system_clock::now()))
                                 : std::nullopt;
      generator.Next(line, now);
      body += line.line;
      body += '\n';
      ++in_batch;
    }
    if (in_batch == 0) break;
    lines += in_batch;

    http::ClientRequest request;
    request.method = "POST";
    request.url = url;
    request.body = std::move(body);
    request.timeout = timeout;
    request.verify_tls = verify_tls;
    const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    request.headers = {{"Content-Type", "application/x-ndjson"},
                       {"X-Feed-Timestamp", ts},
                       {"X-Feed-Signature", crypto::SignTimestamped(secret, ts, request.body)}};
    const auto response = http::Fetch(request);
    if (!response.Ok()) {
      ++failed_requests;
      std::fprintf(stderr, "cw-sim: push failed: %s\n", response.error.c_str());
    } else {
      const auto json = nlohmann::json::parse(response.body, nullptr, false);
      auto get = [&](const char* key) -> std::int64_t {
        return json.is_object() && json.contains(key) && json[key].is_number_integer()
                   ? json[key].get<std::int64_t>()
                   : 0;
      };
      if (response.status != 202) ++failed_requests;
      accepted += get("accepted");
      duplicate += get("duplicate");
      rejected += get("rejected");
      if (!quiet || response.status != 202) {
        std::fprintf(
            stderr, "cw-sim: HTTP %d: %lld lines, accepted=%lld duplicate=%lld rejected=%lld\n",
            response.status, static_cast<long long>(in_batch),
            static_cast<long long>(get("accepted")), static_cast<long long>(get("duplicate")),
            static_cast<long long>(get("rejected")));
      }
    }
    if (rate > 0) {
      // Paces to the average rate rather than per batch, so slow answers are made up for.
      const auto due =
          started + std::chrono::duration_cast<SteadyClock::duration>(
                        std::chrono::duration<double>(static_cast<double>(lines) / rate));
      while (!g_stop && SteadyClock::now() < due) {
        std::this_thread::sleep_for(std::min<SteadyClock::duration>(
            due - SteadyClock::now(), std::chrono::milliseconds(100)));
      }
    }
  }
  const double secs = std::chrono::duration<double>(SteadyClock::now() - started).count();
  std::fprintf(stderr,
               "cw-sim: pushed lines=%lld accepted=%lld duplicate=%lld rejected=%lld "
               "failed_requests=%lld seconds=%.1f\n",
               static_cast<long long>(lines), static_cast<long long>(accepted),
               static_cast<long long>(duplicate), static_cast<long long>(rejected),
               static_cast<long long>(failed_requests), secs);
  return failed_requests == 0 ? 0 : 1;
}

// A call.ended happening now, with its own incident and number, complete enough for the shipped
// rules to survey it (as bench/feed_push.py's call_ended).
std::string SurveyableCall(const std::string& prefix, std::int64_t i, std::int64_t number) {
  char phone[16];
  std::snprintf(phone, sizeof phone, "07801 %06lld", static_cast<long long>(number % 1000000));
  const std::string id = prefix + "-" + std::to_string(i);
  const nlohmann::json event = {
      {"event_id", id},
      {"type", "call.ended"},
      {"occurred_at",
       FormatRfc3339(std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()))},
      {"incident",
       {{"id", prefix + "-INC-" + std::to_string(i)},
        {"type_code", "BURG-RES"},
        {"category", "crime"},
        {"grade", "P3"},
        {"qualifiers", nlohmann::json::array()},
        {"location",
         {{"npu", "Birmingham East"}, {"beat", "BE-14"}, {"postcode_district", "B33"}}}}},
      {"call",
       {{"id", prefix + "-C-" + std::to_string(i)},
        {"channel", "101"},
        {"handler_id", "OP4411"},
        {"handler_team", "Force Contact - Team 3"}}},
      {"caller",
       {{"phone", phone},
        {"phone_type", "mobile"},
        {"role", "victim"},
        {"age", 41},
        {"language", "en"}}}};
  return event.dump();
}

int PushCalls(Args& args) {
  const std::string url = args.Str("url", "http://127.0.0.1:8080/api/v1/feed/events");
  const std::string secret = args.Str("secret");
  const std::int64_t count = args.Int("count", 0);
  const int clients = static_cast<int>(args.Int("clients", 8));
  const std::string prefix = args.Str("prefix", "PUSH");
  const std::int64_t first_number = args.Int("first-number", 0);
  const auto timeout = std::chrono::milliseconds(args.Int("timeout-ms", 30000));
  args.RejectUnknown();
  if (secret.empty()) throw UsageError("push-calls needs --secret");
  if (count <= 0) throw UsageError("push-calls needs --count N (N > 0)");
  if (clients < 1) throw UsageError("--clients needs at least 1");

  // Each client its event ids i, i + clients, i + 2 * clients..., as the Python clients did.
  std::mutex failure_mutex;
  std::string failure;
  std::atomic<std::int64_t> retried{0};
  auto client = [&](int index) {
    const auto pool = http::MakeClientPool({.max_in_flight = 1});
    for (std::int64_t i = index; i < count && !g_stop; i += clients) {
      http::ClientRequest request;
      request.method = "POST";
      request.url = url;
      request.body = SurveyableCall(prefix, i, first_number + i);
      request.timeout = timeout;
      while (true) {
        const std::string ts =
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
        request.headers = {{"Content-Type", "application/json"},
                           {"X-Feed-Timestamp", ts},
                           {"X-Feed-Signature", crypto::SignTimestamped(secret, ts, request.body)}};
        const auto response = pool->Fetch(request);
        if (response.Ok() && response.status == 503) {
          // Busy (more pushes at once than the service takes): wait as a pusher should.
          ++retried;
          const std::string after(response.Header("Retry-After"));
          std::this_thread::sleep_for(
              std::chrono::seconds(after.empty() ? 1 : std::atoi(after.c_str())));
          continue;
        }
        if (!response.Ok() || response.status != 202 ||
            response.body.find("\"accepted\":1") == std::string::npos) {
          const std::lock_guard lock(failure_mutex);
          if (failure.empty()) {
            failure = "event " + std::to_string(i) + ": " +
                      (response.Ok() ? "HTTP " + std::to_string(response.status) + " " +
                                           response.body.substr(0, 200)
                                     : response.error);
          }
          g_stop = 1;
          return;
        }
        break;
      }
    }
  };
  std::vector<std::thread> threads;
  const auto started = SteadyClock::now();
  for (int n = 0; n < clients; ++n) threads.emplace_back(client, n);
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(SteadyClock::now() - started).count();
  if (!failure.empty()) {
    std::fprintf(stderr, "cw-sim: push-calls failed: %s\n", failure.c_str());
    return 1;
  }
  if (g_stop) return 1;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  // cpu_s: what the clients cost the machine the service shares (bench/ingest.sh reads it).
  std::fprintf(
      stderr,
      "cw-sim: pushed %lld calls from %d clients in %.3f s (%lld busy answers) cpu_s=%.3f\n",
      static_cast<long long>(count), clients, secs, static_cast<long long>(retried.load()), cpu);
  std::printf("%lld %.3f\n", static_cast<long long>(count), secs);
  return 0;
}

int Generate(Args& args) {
  bool real_time = false;
  sim::GeneratorOptions g = ReadGeneratorOptions(args, real_time, false);
  g.with_seq = args.Has("with-seq");
  const std::int64_t count = args.Int("count", 1000);
  args.RejectUnknown();
  sim::EventGenerator generator(g);
  sim::GeneratedLine line;
  std::string out;
  out.reserve(1 << 20);
  while (generator.counts().events < count) {
    const auto now = real_time ? std::optional<TimePoint>(std::chrono::time_point_cast<Duration>(
                                     std::chrono::system_clock::now()))
                               : std::nullopt;
    generator.Next(line, now);
    out += line.line;
    out += '\n';
    if (out.size() > (1 << 20) - 4096) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  const auto& c = generator.counts();
  std::fprintf(stderr, "cw-sim: events=%lld duplicates=%lld malformed=%lld gaps=%lld\n",
               static_cast<long long>(c.events), static_cast<long long>(c.duplicates),
               static_cast<long long>(c.malformed), static_cast<long long>(c.gaps));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string mode = argv[1];
  try {
    Args args(argc, argv, 2);
    if (mode == "serve") return Serve(args);
    if (mode == "push") return Push(args);
    if (mode == "push-calls") return PushCalls(args);
    if (mode == "generate") return Generate(args);
    throw UsageError("unknown mode '" + mode + "'");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "cw-sim: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cw-sim: %s\n", e.what());
    return 1;
  }
}
