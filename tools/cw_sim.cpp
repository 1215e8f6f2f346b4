// cw-sim: a ControlWorks-style command-and-control feed for the demo, the tests and the
// benchmarks (../shared/spec/feed.md). Every phone number it writes is in Ofcom's drama ranges.
//
//   cw-sim serve --listen 127.0.0.1:7000 [--rate N] [--count N | --duration S] [--seed N]
//                [--duplicate-rate F] [--malformed-rate F] [--gap-rate F]
//                [--disconnect-every N | --disconnect-rate F] [--heartbeat-s S] [--record FILE]
//                [--exit-when-acked] [--start RFC3339]
//   cw-sim push --url http://127.0.0.1:8080/api/v1/feed/events --secret S [--rate N]
//               [--count N | --duration S] [--batch N] [--seed N] [--start RFC3339] ...
//   cw-sim generate --count N [--seed N] [--with-seq] [--start RFC3339 | --now] > events.ndjson
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
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

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
               [--duplicate-rate F] [--malformed-rate F] [--gap-rate F]
               [--disconnect-every N | --disconnect-rate F] [--heartbeat-s S]
               [--record FILE] [--exit-when-acked] [--start RFC3339]
  cw-sim push --url URL --secret S [--rate N] [--count N | --duration S] [--batch N]
              [--seed N] [--duplicate-rate F] [--malformed-rate F] [--start RFC3339]
              [--insecure] [--quiet]
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
