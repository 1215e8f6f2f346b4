#include <utility>  // before Asio: g++ 12 needs it for Asio's coroutine support

#include "sim/sim_server.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

namespace surveyd::sim {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxWrite = 256 * 1024;  // bytes per write: batches lines into few syscalls
constexpr std::int64_t kChunk = 4096;          // lines generated ahead when not rate-limited
constexpr std::size_t kMaxLine = 64 * 1024;    // longest subscribe/ack line accepted

struct Entry {
  std::int64_t seq;
  std::string line;  // with its '\n'
};

// Reads {"subscribe":{"after_seq":N,...}}; nullopt if the line is anything else.
std::optional<std::int64_t> ParseSubscribe(std::string_view line) {
  const auto json = nlohmann::json::parse(line, nullptr, false);
  if (!json.is_object() || !json.contains("subscribe")) return std::nullopt;
  const auto& sub = json["subscribe"];
  if (!sub.is_object()) return std::nullopt;
  const auto it = sub.find("after_seq");
  if (it == sub.end() || it->is_null()) return 0;
  if (!it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

std::optional<std::int64_t> ParseAck(std::string_view line) {
  const auto json = nlohmann::json::parse(line, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  const auto it = json.find("ack");
  if (it == json.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

}  // namespace

struct SimServer::Impl {
  SimServerOptions options;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::minstd_rand fault_rng;

  mutable std::mutex mu;
  mutable std::condition_variable acked_cv;
  EventGenerator generator;
  GeneratedLine scratch;
  std::deque<Entry> stream;  // generated and not yet acked, in seq order
  SimServerStats stats;
  std::int64_t lines_generated = 0;
  SteadyClock::time_point started;
  std::vector<std::string> event_ids;
  std::ofstream record;

  explicit Impl(SimServerOptions o)
      : options(std::move(o)),
        fault_rng(static_cast<std::uint32_t>(options.generator.seed * 2654435761u + 1)),
        generator([&] {
          GeneratorOptions g = options.generator;
          g.with_seq = true;
          return g;
        }()) {}

  // Generates what the rate allows (or a chunk ahead of `sent_seq` when unlimited). Holds mu.
  void TopUp(std::int64_t sent_seq) {
    if (stats.finished) return;
    const auto elapsed = SteadyClock::now() - started;
    if (options.duration.count() > 0 && elapsed >= options.duration) {
      stats.finished = true;
      acked_cv.notify_all();
      return;
    }
    std::int64_t budget = 0;
    if (options.rate > 0) {
      const double seconds = std::chrono::duration<double>(elapsed).count();
      budget = static_cast<std::int64_t>(options.rate * seconds) + 1 - lines_generated;
    } else if (stream.empty() || stream.back().seq <= sent_seq) {
      budget = kChunk;
    }
    budget = std::min<std::int64_t>(budget, 16 * kChunk);
    const auto now = options.real_time
                         ? std::optional<TimePoint>(std::chrono::time_point_cast<Duration>(
                               std::chrono::system_clock::now()))
                         : std::nullopt;
    for (; budget > 0 && !stats.finished; --budget) {
      generator.Next(scratch, now);
      ++lines_generated;
      scratch.line.push_back('\n');
      stream.push_back({scratch.seq, scratch.line});
      stats.last_seq = scratch.seq;
      if (scratch.kind == GeneratedLine::Kind::kEvent) {
        if (record.is_open()) record << scratch.event_id << '\n';
        if (options.keep_event_ids) event_ids.push_back(scratch.event_id);
        if (options.count > 0 && generator.counts().events >= options.count) {
          stats.finished = true;
          acked_cv.notify_all();
        }
      }
    }
    const auto& c = generator.counts();
    stats.events = c.events;
    stats.duplicates = c.duplicates;
    stats.malformed = c.malformed;
    stats.gaps = c.gaps;
  }

  awaitable<void> Accept() {
    for (;;) {
      tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
      socket.set_option(tcp::no_delay(true));
      auto shared = std::make_shared<tcp::socket>(std::move(socket));
      asio::co_spawn(
          io, [this, shared]() { return Session(shared); }, asio::detached);
    }
  }

  awaitable<void> ReadAcks(std::shared_ptr<tcp::socket> socket, std::string in) {
    try {
      for (;;) {
        const std::size_t n = co_await asio::async_read_until(
            *socket, asio::dynamic_buffer(in, kMaxLine), '\n', use_awaitable);
        const auto ack = ParseAck(std::string_view(in).substr(0, n));
        in.erase(0, n);
        if (!ack) continue;
        std::lock_guard lock(mu);
        stats.acked_seq = std::max(stats.acked_seq, *ack);
        // Keeps the last replay_overlap acked lines, to resend them out of contract.
        const auto keep = static_cast<std::size_t>(options.replay_overlap);
        while (stream.size() > keep && stream[keep].seq <= stats.acked_seq) stream.pop_front();
        acked_cv.notify_all();
      }
    } catch (const std::exception&) {
      // The client went away; the writer notices on its next write.
    }
    boost::system::error_code ignored;
    socket->close(ignored);
  }

  awaitable<void> Session(std::shared_ptr<tcp::socket> socket) {
    try {
      std::string in;
      const std::size_t n = co_await asio::async_read_until(
          *socket, asio::dynamic_buffer(in, kMaxLine), '\n', use_awaitable);
      const auto after_seq = ParseSubscribe(std::string_view(in).substr(0, n));
      if (!after_seq) {
        co_await asio::async_write(
            *socket, asio::buffer(std::string_view("{\"error\":\"expected a subscribe line\"}\n")),
            use_awaitable);
        socket->close();
        co_return;
      }
      in.erase(0, n);
      asio::co_spawn(
          io, [this, socket, rest = std::move(in)]() { return ReadAcks(socket, rest); },
          asio::detached);
      {
        std::lock_guard lock(mu);
        ++stats.connections;
        if (!stream.empty() && *after_seq + 1 < stream.front().seq &&
            *after_seq < stats.acked_seq) {
          spdlog::warn("cw-sim: client subscribed after seq {} but seq up to {} was acked",
                       *after_seq, stats.acked_seq);
        }
      }
      std::int64_t sent_seq = *after_seq;
      if (options.replay_overlap > 0) {
        std::lock_guard lock(mu);
        auto it = std::upper_bound(stream.begin(), stream.end(), sent_seq,
                                   [](std::int64_t s, const Entry& e) { return s < e.seq; });
        for (std::int64_t i = 0; i < options.replay_overlap && it != stream.begin(); ++i) --it;
        if (it != stream.end()) sent_seq = std::min(sent_seq, it->seq - 1);
      }
      std::int64_t sent_on_connection = 0;
      auto last_write = SteadyClock::now();
      asio::steady_timer timer(io);
      std::string out;
      while (!stopping) {
        bool cut = false;
        std::int64_t lines = 0;
        out.clear();
        {
          std::lock_guard lock(mu);
          TopUp(sent_seq);
          auto it = std::upper_bound(stream.begin(), stream.end(), sent_seq,
                                     [](std::int64_t s, const Entry& e) { return s < e.seq; });
          for (; it != stream.end() && out.size() < kMaxWrite; ++it) {
            const bool fault =
                (options.disconnect_every > 0 && sent_on_connection >= options.disconnect_every) ||
                (options.disconnect_rate > 0 &&
                 std::uniform_real_distribution<double>(0, 1)(fault_rng) < options.disconnect_rate);
            if (fault) {
              // Half a line, then nothing: the client must drop the torn line.
              out.append(it->line, 0, it->line.size() / 2);
              cut = true;
              break;
            }
            out += it->line;
            sent_seq = it->seq;
            ++sent_on_connection;
            ++lines;
          }
          stats.lines_sent += lines;
          if (out.empty() && SteadyClock::now() - last_write >= options.heartbeat) {
            out = "{\"heartbeat\":\"" +
                  FormatRfc3339(
                      std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now())) +
                  "\"}\n";
            ++stats.heartbeats;
          }
          stats.bytes_sent += static_cast<std::int64_t>(out.size());
        }
        if (!out.empty()) {
          co_await asio::async_write(*socket, asio::buffer(out), use_awaitable);
          last_write = SteadyClock::now();
        }
        if (cut) {
          std::lock_guard lock(mu);
          ++stats.forced_disconnects;
          boost::system::error_code ignored;
          socket->close(ignored);
          co_return;
        }
        if (lines == 0) {
          const auto wait = options.rate > 0
                                ? std::chrono::microseconds(std::clamp<std::int64_t>(
                                      static_cast<std::int64_t>(1e6 / options.rate), 1000, 50000))
                                : std::chrono::microseconds(20000);
          timer.expires_after(wait);
          co_await timer.async_wait(use_awaitable);
        }
      }
    } catch (const std::exception&) {
      // The client disconnected or the server is stopping.
    }
    boost::system::error_code ignored;
    socket->close(ignored);
  }
};

SimServer::SimServer(SimServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

SimServer::~SimServer() { Stop(); }

unsigned short SimServer::Start() {
  Impl& s = *impl_;
  if (!s.options.record_path.empty()) {
    s.record.open(s.options.record_path, std::ios::out | std::ios::trunc);
    if (!s.record) throw std::runtime_error("cannot write " + s.options.record_path);
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(s.options.host, ec);
  if (ec) throw std::runtime_error("bad listen address '" + s.options.host + "'");
  const tcp::endpoint endpoint(address, s.options.port);
  s.acceptor.open(endpoint.protocol());
  s.acceptor.set_option(tcp::acceptor::reuse_address(true));
  s.acceptor.bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + s.options.host + ":" +
                             std::to_string(s.options.port) + ": " + ec.message());
  }
  s.acceptor.listen();
  s.started = SteadyClock::now();
  asio::co_spawn(
      s.io, [&s]() { return s.Accept(); }, asio::detached);
  s.thread = std::thread([&s] { s.io.run(); });
  return s.acceptor.local_endpoint().port();
}

void SimServer::Stop() {
  Impl& s = *impl_;
  s.stopping = true;
  s.io.stop();
  if (s.thread.joinable()) s.thread.join();
  std::lock_guard lock(s.mu);
  if (s.record.is_open()) s.record.flush();
}

SimServerStats SimServer::Stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::vector<std::string> SimServer::RecordedEventIds() const {
  std::lock_guard lock(impl_->mu);
  return impl_->event_ids;
}

bool SimServer::WaitUntilAcked(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->acked_cv.wait_for(lock, timeout, [&] {
    const auto& st = impl_->stats;
    return st.finished && st.last_seq > 0 && st.acked_seq >= st.last_seq;
  });
}

}  // namespace surveyd::sim
