#include <utility>  // before Asio: g++ 12 needs it for Asio's coroutine support

#include "surveyd/feed/tcp_consumer.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "feed/name_scanner.hpp"
#include "surveyd/core/failpoint.hpp"
#include "surveyd/core/failure_log.hpp"
#include "surveyd/feed/event_parser.hpp"

namespace surveyd::feed {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxLine = 1024 * 1024;  // a longer line is rejected, cut to its start
constexpr std::size_t kKeptOfLongLine = 1024;  // what a rejected long line keeps of itself
constexpr auto kStopPoll = std::chrono::milliseconds(100);
constexpr auto kAckTimeout = std::chrono::milliseconds(5000);
// Batches handed to the committer and not yet stored (the one being stored included): the reader
// parses the next batch while the previous one commits, and no further ahead.
constexpr std::size_t kMaxQueued = 2;

// A failure of the feed connection (not of the database): reconnect with backoff.
class FeedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The seq of a line the parser could not read (torn or invalid JSON), so that the cursor moves
// past it and a reconnect does not store it a second time. Only a leading "seq" counts.
std::optional<std::int64_t> LeadingSeq(std::string_view line) {
  const auto pos = line.find("\"seq\"");
  if (pos == std::string_view::npos || pos > 8) return std::nullopt;
  std::size_t i = pos + 5;
  while (i < line.size() && (line[i] == ' ' || line[i] == ':')) ++i;
  std::int64_t v = 0;
  std::size_t digits = 0;
  for (; i < line.size() && line[i] >= '0' && line[i] <= '9' && digits < 18; ++i, ++digits) {
    v = v * 10 + (line[i] - '0');
  }
  if (digits == 0) return std::nullopt;
  return v;
}

// Closes the socket and runs the handlers of whatever was pending on it (they complete with
// operation_aborted), so that none outlives the objects it refers to.
struct Drain {
  asio::io_context& io;
  tcp::socket& socket;
  ~Drain() {
    boost::system::error_code ignored;
    socket.close(ignored);
    io.restart();
    io.run();
    io.restart();
  }
};

// {"heartbeat":...} and other short control objects carry no event.
bool IsControl(std::string_view line, std::string_view key) {
  return line.size() < 256 && line.find(key) != std::string_view::npos &&
         line.find("\"event_id\"") == std::string_view::npos;
}

// Log-spaced buckets (2% wide) from 1 us to about 100 s: percentiles to within about 1% in a
// fixed 8 KiB, whatever the run length.
class LatencyHistogram {
 public:
  void Add(SteadyClock::duration d) {
    const double us = std::max<double>(
        1.0, static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
    const auto index =
        std::min<std::size_t>(static_cast<std::size_t>(std::log(us) / kLogGrowth), kBuckets - 1);
    ++buckets_[index];
    ++count_;
    max_us_ = std::max(max_us_, us);
  }

  CommitLatency Summary() const {
    CommitLatency out;
    out.count = count_;
    if (count_ == 0) return out;
    out.p50_ms = PercentileMs(0.50);
    out.p95_ms = PercentileMs(0.95);
    out.p99_ms = PercentileMs(0.99);
    out.max_ms = max_us_ / 1000.0;
    return out;
  }

 private:
  static constexpr std::size_t kBuckets = 1024;
  static constexpr double kLogGrowth = 0.0198026272961797;  // ln(1.02)

  double PercentileMs(double q) const {
    const auto rank = static_cast<std::int64_t>(std::ceil(q * static_cast<double>(count_)));
    std::int64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen >= rank) {
        const double mid_us = std::exp((static_cast<double>(i) + 0.5) * kLogGrowth);
        return std::min(mid_us, max_us_) / 1000.0;
      }
    }
    return max_us_ / 1000.0;
  }

  std::array<std::int64_t, kBuckets> buckets_{};
  std::int64_t count_ = 0;
  double max_us_ = 0;
};

}  // namespace

struct TcpConsumer::Impl {
  TcpConsumerOptions options;
  store::IngestStore& store;
  std::function<store::DecideFn()> decider;
  store::Leadership* leadership;
  const Clock& clock;
  // The feed's outages, said once each way (and now and then while they last), not once per
  // reconnect: an hour without the feed is a handful of lines. Over when the feed sends again.
  FailureLog outage;

  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};
  Heartbeat progress;                                 // the reader's
  std::atomic<SteadyClock::rep> committing_since{0};  // 0: the committer is idle
  std::mutex wait_mu;
  std::condition_variable wait_cv;

  mutable std::mutex status_mu;
  TcpConsumerStatus status;
  LatencyHistogram latency;  // under status_mu

  asio::io_context io{1};
  std::mt19937_64 jitter{std::random_device{}()};
  int failures = 0;     // consecutive, for backoff
  int connections = 0;  // attempts so far

  // Per connection.
  std::optional<std::int64_t> cursor;     // stored (written by the committer while it runs)
  std::optional<std::int64_t> last_seen;  // read on this connection (or the cursor)
  std::vector<store::IngestItem> batch;
  std::vector<SteadyClock::time_point> batch_received;             // when each line was read
  std::vector<std::pair<std::size_t, std::int64_t>> batch_behind;  // Batch::behind
  SteadyClock::time_point batch_started;
  std::optional<std::int64_t> acked;  // last ack written

  // The committer: stores batches on a thread of its own, in order, so that reading and parsing
  // overlap the database's work. One per connection; the reader acks what it reports stored.
  struct Batch {
    std::vector<store::IngestItem> items;
    std::vector<SteadyClock::time_point> received;
    // The items read at or below the last seq read before them, with that seq.
    std::vector<std::pair<std::size_t, std::int64_t>> behind;
  };
  std::thread committer;
  std::mutex commit_mu;
  std::condition_variable commit_cv;
  std::deque<Batch> queue;  // the front one is being stored
  bool commit_quit = false;
  bool committed = false;              // a batch was stored since the reader last looked
  std::exception_ptr commit_error;     // the committer stopped on it
  std::optional<std::int64_t> to_ack;  // highest seq stored on this connection
  // Lines read and not stored yet, on this connection or an earlier one: while they wait longer
  // than a commit takes, the feed is stalled even if it is connected.
  std::atomic<bool> waiting{false};
  bool ack_signal = false;  // io thread only: the committer has news

  Impl(TcpConsumerOptions o, store::IngestStore& s, std::function<store::DecideFn()> d,
       store::Leadership* l, const Clock& c)
      : options(std::move(o)),
        store(s),
        decider(std::move(d)),
        leadership(l),
        clock(c),
        outage("feed '" + options.feed + "'", clock) {}

  template <typename F>
  void Update(F&& f) {
    std::lock_guard lock(status_mu);
    f(status);
  }

  // False when stopping. Beats while it waits: waiting out a backoff is healthy.
  bool SleepFor(std::chrono::milliseconds d) {
    const auto until = SteadyClock::now() + d;
    std::unique_lock lock(wait_mu);
    for (;;) {
      progress.Beat();
      const auto now = SteadyClock::now();
      if (now >= until) return !stopping;
      if (wait_cv.wait_for(lock, std::min<SteadyClock::duration>(until - now, kStopPoll * 5),
                           [&] { return stopping.load(); })) {
        return false;
      }
    }
  }

  std::chrono::milliseconds Backoff() {
    const int exponent = std::min(failures++, 16);
    const auto full = std::min<std::int64_t>(options.backoff_max.count(),
                                             options.backoff_base.count() << exponent);
    // Full jitter over the upper half, so that two instances do not retry in step.
    std::uniform_int_distribution<std::int64_t> pick(full / 2, std::max<std::int64_t>(full, 1));
    return std::chrono::milliseconds(pick(jitter));
  }

  void Disconnected(const std::string& error, bool for_database = false) {
    Update([&](TcpConsumerStatus& s) {
      s.connected = false;
      s.held_for_database = for_database;
      if (!s.disconnected_since) s.disconnected_since = clock.Now();
      if (!error.empty()) {
        s.last_error = error;
        s.last_error_at = clock.Now();
      }
    });
  }

  // Runs the io_context until `done()`, the deadline or Stop. False if not done.
  template <typename Done>
  bool RunUntil(const Done& done, SteadyClock::time_point deadline) {
    io.restart();
    while (!done() && !stopping) {
      progress.Beat();
      const auto now = SteadyClock::now();
      if (now >= deadline) break;
      io.run_one_for(std::min<SteadyClock::duration>(deadline - now, kStopPoll));
    }
    return done();
  }

  void Run() {
    Update([](TcpConsumerStatus& s) { s.running = true; });
    while (!stopping) {
      progress.Beat();
      if (leadership != nullptr && !leadership->TryAcquire()) {
        Update([](TcpConsumerStatus& s) { s.leader = false; });
        SleepFor(options.leader_poll);
        continue;
      }
      Update([](TcpConsumerStatus& s) { s.leader = true; });
      try {
        Connection();
      } catch (const store::Unavailable& e) {
        outage.Failed(std::string("database unavailable, holding the feed: ") + e.what());
        Disconnected(std::string("database unavailable: ") + e.what(), /*for_database=*/true);
        WaitForDatabase();
        // A restarted database ended the lock's session, and another instance may have taken
        // the feed as it came back: a leader no longer, at once (health said "leader" for
        // another 15 s of backoff, while the other consumed).
        if (leadership != nullptr && !stopping && !leadership->StillHeld()) {
          Update([](TcpConsumerStatus& s) { s.leader = false; });
          continue;
        }
        // The database may answer and still not store (read-only after a fail-over): back off
        // rather than resubscribe in a tight loop.
        SleepFor(Backoff());
      } catch (const std::exception& e) {
        // Stop cuts short what was under way (a write waiting for the feed): an end, not a
        // failure to log as the start of an outage.
        if (stopping) break;
        outage.Failed(e.what());
        Disconnected(e.what());
        SleepFor(Backoff());
      }
    }
    if (leadership != nullptr) leadership->Release();
    Update([](TcpConsumerStatus& s) {
      s.running = false;
      s.leader = false;
      s.connected = false;
    });
  }

  void WaitForDatabase() {
    while (SleepFor(Backoff())) {
      try {
        store.FeedCursor(options.feed);  // the database answers: resume from the cursor
        return;
      } catch (const std::exception&) {
        // still down
      }
    }
  }

  void Connection() {
    cursor = store.FeedCursor(options.feed);
    last_seen = cursor;
    batch.clear();
    batch_received.clear();
    batch_behind.clear();
    acked.reset();
    if (connections++ > 0) Update([](TcpConsumerStatus& s) { ++s.reconnects; });

    // Declared before `drain`: the handlers it runs to completion write to them.
    boost::system::error_code ec;
    bool done = false;
    tcp::socket socket(io);
    const Drain drain{io, socket};

    tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec) throw FeedError("cannot resolve " + options.host + ": " + ec.message());
    asio::async_connect(socket, endpoints,
                        [&](const boost::system::error_code& e, const tcp::endpoint&) {
                          ec = e;
                          done = true;
                        });
    if (!RunUntil([&] { return done; }, SteadyClock::now() + options.connect_timeout)) {
      if (stopping) return;
      throw FeedError("connect to " + options.host + ":" + std::to_string(options.port) +
                      " timed out");
    }
    if (ec) {
      throw FeedError("cannot connect to " + options.host + ":" + std::to_string(options.port) +
                      ": " + ec.message());
    }
    socket.set_option(tcp::no_delay(true));

    if (!options.tls) {
      Stream(socket, socket);
      return;
    }
    ssl::context context(ssl::context::tls_client);
    if (options.tls_ca_file.empty()) {
      context.set_default_verify_paths();
    } else {
      context.load_verify_file(options.tls_ca_file);
    }
    if (!options.tls_cert_file.empty()) {
      context.use_certificate_chain_file(options.tls_cert_file);
      context.use_private_key_file(options.tls_key_file, ssl::context::pem);
    }
    ssl::stream<tcp::socket&> tls(socket, context);
    const Drain tls_drain{io, socket};  // before `tls` goes: its handlers refer to it
    if (options.tls_verify) {
      tls.set_verify_mode(ssl::verify_peer);
      tls.set_verify_callback(ssl::host_name_verification(options.host));
    }
    SSL_set_tlsext_host_name(tls.native_handle(), options.host.c_str());
    done = false;
    tls.async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& e) {
      ec = e;
      done = true;
    });
    if (!RunUntil([&] { return done; }, SteadyClock::now() + options.connect_timeout)) {
      if (stopping) return;
      throw FeedError("TLS handshake with " + options.host + " timed out");
    }
    if (ec) throw FeedError("TLS handshake with " + options.host + " failed: " + ec.message());
    Stream(tls, socket);
  }

  template <typename AsyncStream>
  void Write(AsyncStream& stream, const std::string& text) {
    bool done = false;
    boost::system::error_code ec;
    asio::async_write(stream, asio::buffer(text),
                      [&](const boost::system::error_code& e, std::size_t) {
                        ec = e;
                        done = true;
                      });
    // A read may complete meanwhile: its handler only records that it did.
    if (!RunUntil([&] { return done; }, SteadyClock::now() + kAckTimeout)) {
      // The write handler refers to this frame: close the connection and let the handler run
      // (aborted) before the frame goes.
      boost::system::error_code ignored;
      stream.lowest_layer().close(ignored);
      io.restart();
      while (!done && io.run_one() > 0) {
      }
      throw FeedError(stopping ? "stopping" : "write to the feed timed out");
    }
    if (ec) throw FeedError("write to the feed failed: " + ec.message());
  }

  template <typename AsyncStream>
  void Stream(AsyncStream& stream, tcp::socket& socket) {
    Write(stream, "{\"subscribe\":{\"after_seq\":" + std::to_string(cursor.value_or(0)) +
                      ",\"client\":" + nlohmann::json(options.client).dump() + "}}\n");
    // Once an outage, the subscription is not news: the feed's first line ends it (below).
    spdlog::log(outage.failing() ? spdlog::level::debug : spdlog::level::info,
                "feed '{}': subscribed to {}:{} after seq {}", options.feed, options.host,
                options.port, cursor.value_or(0));
    Update([&](TcpConsumerStatus& s) {
      s.connected = true;
      s.held_for_database = false;
      s.disconnected_since.reset();
      s.last_seq = cursor;
    });

    std::string pending;                // bytes after the last complete line
    std::optional<LongLine> long_line;  // a line past kMaxLine, until its end comes
    std::vector<char> chunk(kReadChunk);
    bool read_done = false;
    boost::system::error_code read_ec;
    std::size_t read_n = 0;
    auto start_read = [&] {
      read_done = false;
      stream.async_read_some(asio::buffer(chunk),
                             [&](const boost::system::error_code& e, std::size_t n) {
                               read_ec = e;
                               read_n = n;
                               read_done = true;
                             });
    };
    const Drain drain{io, socket};  // the read handler refers to the locals above
    StartCommitter();
    // Before `drain`: the committer is joined first, then its last wake-ups are drained.
    const struct CommitterGuard {
      Impl& impl;
      ~CommitterGuard() { impl.StopCommitter(); }
    } committer_guard{*this};
    start_read();
    auto last_bytes = SteadyClock::now();
    auto leader_checked = SteadyClock::now();

    while (!stopping) {
      auto deadline = last_bytes + options.silence_timeout;
      if (!batch.empty()) deadline = std::min(deadline, batch_started + options.batch_wait);
      if (leadership != nullptr)
        deadline = std::min(deadline, leader_checked + options.leader_poll);
      RunUntil([&] { return read_done || ack_signal; }, deadline);
      if (stopping) return;
      AckStored(stream);
      const auto now = SteadyClock::now();

      if (read_done) {
        if (read_ec) {
          // A torn last line (no newline) is dropped: it was never acked, so it comes again.
          throw FeedError(read_ec == asio::error::eof
                              ? "the feed closed the connection"
                              : "read from the feed failed: " + read_ec.message());
        }
        last_bytes = now;
        pending.append(chunk.data(), read_n);
        std::size_t begin = 0;
        for (;;) {
          const auto nl = pending.find('\n', begin);
          if (nl == std::string::npos) break;
          if (long_line) {
            // The end of a line too long to keep: rejected alone, the stream goes on.
            long_line->bytes += nl - begin;
            long_line->names.Feed(std::string_view(pending).substr(begin, nl - begin));
            RejectLongLine(*long_line);
            long_line.reset();
          } else {
            HandleLine(std::string_view(pending).substr(begin, nl - begin), now);
          }
          begin = nl + 1;
          if (batch.size() >= options.batch_size) Flush(stream);
        }
        // Whole lines (heartbeats, events) and no refusal: the feed serves, and an outage is
        // over. Not at the subscription: a proxy before a feed that is down may take the
        // connection and close it at once.
        if (begin > 0) outage.Succeeded();
        pending.erase(0, begin);
        if (long_line) {
          long_line->bytes += pending.size();
          long_line->names.Feed(pending);
          pending.clear();
        } else if (pending.size() > kMaxLine) {
          long_line = LongLine{pending.substr(0, kKeptOfLongLine), pending.size(), {}};
          long_line->names.Feed(pending);
          pending.clear();
        }
        start_read();
      }
      if (!batch.empty() && SteadyClock::now() >= batch_started + options.batch_wait) Flush(stream);
      if (leadership != nullptr && SteadyClock::now() >= leader_checked + options.leader_poll) {
        leader_checked = SteadyClock::now();
        if (!leadership->StillHeld()) {
          Update([](TcpConsumerStatus& s) { s.leader = false; });
          throw FeedError("leadership lost; disconnecting");
        }
      }
      if (SteadyClock::now() >= last_bytes + options.silence_timeout) {
        throw FeedError("no event or heartbeat for " +
                        std::to_string(options.silence_timeout.count()) + " ms; reconnecting");
      }
    }
  }

  void HandleLine(std::string_view line, SteadyClock::time_point received) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;
    if (IsControl(line, "\"heartbeat\"")) {
      Update([](TcpConsumerStatus& s) { ++s.heartbeats; });
      return;
    }
    if (IsControl(line, "\"error\"") && line.find("\"seq\"") == std::string_view::npos) {
      throw FeedError("the feed refused the subscription");
    }
    store::IngestItem item = ParseEvent(line, "tcp");
    if (!item.seq) item.seq = LeadingSeq(line);
    Accept(std::move(item), received);
  }

  // A line too long to keep: its start is kept, and what it names read as it passes, so that
  // it holds the texts of its incident and number as any rejected line does.
  struct LongLine {
    std::string start;  // kept, to be stored with the rejection
    std::size_t bytes = 0;
    NameScanner names;
  };

  void RejectLongLine(const LongLine& line) {
    store::IngestItem item;
    item.source = "tcp";
    line.names.Name(item);
    if (!item.seq) item.seq = LeadingSeq(line.start);
    item.reject_reason = "line longer than " + std::to_string(kMaxLine) + " bytes";
    item.raw = line.start + "... (" + std::to_string(line.bytes) + " bytes, cut)";
    spdlog::warn("feed '{}': a line of {} bytes rejected (longer than {})", options.feed,
                 line.bytes, kMaxLine);
    Accept(std::move(item), SteadyClock::now());
  }

  // Queues one item for the next batch. A line at or below the last seq read is queued too: a
  // line sent again (some feeds replay an overlap after a reconnect) is stored already, which
  // the store counts as replayed; but a feed whose numbering went wrong (a corrupt seq far ahead,
  // then the real ones) sends new events there, which must not be lost unread.
  void Accept(store::IngestItem item, SteadyClock::time_point received) {
    bool behind = false;
    if (item.seq) {
      const std::int64_t seq = *item.seq;
      if (last_seen && seq <= *last_seen) {
        behind = true;
        Update([](TcpConsumerStatus& s) { ++s.behind; });
      } else if (last_seen && seq > *last_seen + 1) {
        const std::int64_t missing = seq - *last_seen - 1;
        spdlog::warn("feed '{}': seq gap: {} missing after seq {}", options.feed, missing,
                     *last_seen);
        Update([&](TcpConsumerStatus& s) {
          ++s.gaps;
          s.missing += missing;
        });
      }
      if (!behind) last_seen = seq;
    }
    if (batch.empty()) batch_started = SteadyClock::now();
    if (behind) batch_behind.emplace_back(batch.size(), *last_seen);
    batch.push_back(std::move(item));
    batch_received.push_back(received);
    if (!waiting.exchange(true)) {
      Update([&](TcpConsumerStatus& s) { s.waiting_since = clock.Now(); });
    }
  }

  // Hands the batch to the committer; waits while it is kMaxQueued batches behind.
  template <typename AsyncStream>
  void Flush(AsyncStream& stream) {
    if (batch.empty()) return;
    {
      std::unique_lock lock(commit_mu);
      while (queue.size() >= kMaxQueued && !commit_error && !stopping) {
        commit_cv.wait_for(lock, kStopPoll);
      }
      if (commit_error) std::rethrow_exception(commit_error);
      if (stopping) return;  // abandoned: never acked, so delivered again
      queue.push_back({std::move(batch), std::move(batch_received), std::move(batch_behind)});
    }
    commit_cv.notify_all();
    batch.clear();
    batch_received.clear();
    batch_behind.clear();
    AckStored(stream);
  }

  // Acks what the committer has stored; rethrows what stopped it.
  template <typename AsyncStream>
  void AckStored(AsyncStream& stream) {
    ack_signal = false;
    std::optional<std::int64_t> seq;
    {
      std::lock_guard lock(commit_mu);
      if (commit_error) std::rethrow_exception(commit_error);
      if (committed) failures = 0;
      committed = false;
      if (to_ack && (!acked || *to_ack > *acked)) seq = to_ack;
    }
    if (!seq) return;
    // Stored, not acked: the feed sends it all again and the store must take it once.
    SURVEYD_FAILPOINT("feed.after_commit_before_ack");
    acked = seq;
    // Only now is it durable: the feed may forget it.
    Write(stream, "{\"ack\":" + std::to_string(*seq) + "}\n");
  }

  void StartCommitter() {
    {
      std::lock_guard lock(commit_mu);
      queue.clear();
      commit_quit = false;
      committed = false;
      commit_error = nullptr;
      to_ack.reset();
    }
    committer = std::thread([this] { CommitLoop(); });
  }

  // Lets the batch being stored finish; drops the ones waiting (never acked, so sent again).
  void StopCommitter() {
    {
      std::lock_guard lock(commit_mu);
      commit_quit = true;
    }
    commit_cv.notify_all();
    if (committer.joinable()) committer.join();
    std::lock_guard lock(commit_mu);
    queue.clear();
  }

  void CommitLoop() {
    std::unique_lock lock(commit_mu);
    for (;;) {
      commit_cv.wait(lock, [&] { return commit_quit || !queue.empty(); });
      if (commit_quit) return;
      const Batch& next = queue.front();  // the reader only appends: the reference stays valid
      lock.unlock();
      std::optional<std::int64_t> stored;
      committing_since = SteadyClock::now().time_since_epoch().count();
      const struct Idle {
        std::atomic<SteadyClock::rep>& since;
        ~Idle() { since = 0; }
      } idle{committing_since};
      try {
        stored = Commit(next);
      } catch (...) {
        // Caught once here and handed to the reader, which reconnects or waits for the database.
        lock.lock();
        commit_error = std::current_exception();
        commit_cv.notify_all();
        asio::post(io, [this] { ack_signal = true; });
        return;
      }
      lock.lock();
      queue.pop_front();
      committed = true;
      if (queue.empty() && waiting.exchange(false)) {
        Update([](TcpConsumerStatus& s) { s.waiting_since.reset(); });
      }
      if (stored) to_ack = std::max(to_ack.value_or(*stored), *stored);
      commit_cv.notify_all();
      asio::post(io, [this] { ack_signal = true; });
    }
  }

  // Stores one batch (events, decisions and the cursor in one transaction); returns the cursor.
  std::optional<std::int64_t> Commit(const Batch& b) {
    const auto results = store.IngestBatch(b.items, decider(), options.feed);
    const auto done = SteadyClock::now();
    std::optional<std::int64_t> max_seq;
    std::optional<TimePoint> newest;
    for (const auto& item : b.items) {
      if (item.seq) max_seq = std::max(max_seq.value_or(*item.seq), *item.seq);
      if (item.event)
        newest = std::max(newest.value_or(item.event->occurred_at), item.event->occurred_at);
    }
    std::int64_t counts[3] = {0, 0, 0}, replayed = 0;
    for (const auto& r : results) {
      if (r.replayed) {
        ++replayed;
      } else {
        ++counts[static_cast<int>(r.outcome)];
      }
    }
    if (max_seq) cursor = std::max(cursor.value_or(*max_seq), *max_seq);
    // Lines below the seq read before them that were new events (not a line stored already): the
    // feed's numbering went back. They are stored; ops must know, as the cursor may be wrong.
    std::int64_t went_back = 0;
    for (const auto& [i, after] : b.behind) {
      if (i >= results.size() || results[i].outcome == store::IngestOutcome::kDuplicate) continue;
      if (went_back++ == 0) {
        spdlog::error(
            "feed '{}': a line with seq {} came after seq {} and was not stored before: the "
            "feed's numbering went back (stored; if the feed restarted its numbers, see "
            "docs/operations.md, \"The TCP feed's cursor\")",
            options.feed, b.items[i].seq.value_or(0), after);
      }
    }
    Update([&](TcpConsumerStatus& s) {
      s.went_back += went_back;
      s.accepted += counts[static_cast<int>(store::IngestOutcome::kAccepted)];
      s.duplicate += counts[static_cast<int>(store::IngestOutcome::kDuplicate)];
      s.rejected += counts[static_cast<int>(store::IngestOutcome::kRejected)];
      s.replayed += replayed;
      // Results come one per item, in order.
      for (std::size_t i = 0; i < results.size() && i < b.items.size(); ++i) {
        const auto& event = b.items[i].event;
        ++s.by_type[event ? EventTypeName(event->type) : "unreadable"]
                   [store::IngestCountName(results[i])];
      }
      ++s.batches;
      s.last_seq = cursor;
      if (newest && (!s.last_event_occurred_at || *newest > *s.last_event_occurred_at)) {
        s.last_event_occurred_at = newest;
      }
      for (const auto received : b.received) latency.Add(done - received);
    });
    if (const auto due = store::EarliestSend(results); due && options.on_surveys_created) {
      options.on_surveys_created(*due);
    }
    return max_seq ? cursor : std::nullopt;
  }
};

TcpConsumer::TcpConsumer(TcpConsumerOptions options, store::IngestStore& store,
                         std::function<store::DecideFn()> decider, store::Leadership* leadership,
                         const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), store, std::move(decider), leadership,
                                   clock)) {}

TcpConsumer::~TcpConsumer() { Stop(); }

void TcpConsumer::Start() {
  if (impl_->thread.joinable()) return;
  impl_->stopping = false;
  impl_->Update([&](TcpConsumerStatus& s) { s.disconnected_since = impl_->clock.Now(); });
  impl_->running = true;
  impl_->progress.Beat();
  impl_->thread = std::thread([this] {
    try {
      impl_->Run();
    } catch (const std::exception& e) {
      // Run catches per connection; this is a bug, and the consumer must not take the process down.
      spdlog::error("feed '{}': consumer stopped: {}", impl_->options.feed, e.what());
      impl_->Update([&](TcpConsumerStatus& s) {
        s.running = false;
        s.last_error = e.what();
        s.last_error_at = impl_->clock.Now();
      });
    }
  });
}

void TcpConsumer::Stop() {
  {
    std::lock_guard lock(impl_->wait_mu);
    impl_->stopping = true;
  }
  impl_->wait_cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->running = false;
}

std::optional<Heartbeat::SteadyTime> TcpConsumer::LastProgress() const {
  if (!impl_->running) return std::nullopt;
  auto last = impl_->progress.Last();
  if (const auto since = impl_->committing_since.load(); since != 0) {
    last = std::min(last, Heartbeat::SteadyTime(SteadyClock::duration(since)));
  }
  return last;
}

TcpConsumerStatus TcpConsumer::Status() const {
  std::lock_guard lock(impl_->status_mu);
  TcpConsumerStatus status = impl_->status;
  status.commit_latency = impl_->latency.Summary();
  return status;
}

}  // namespace surveyd::feed
