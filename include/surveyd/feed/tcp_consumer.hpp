#pragma once
// Consumes the ControlWorks TCP feed (delivery 1 of ../shared/spec/feed.md): waits to be the one
// consumer (store::Leadership), connects, subscribes after the stored cursor, batches lines into
// one store transaction each (events, decisions and the cursor together) and acks only what is
// durably stored, so that after any failure a resubscribe loses nothing and stores nothing twice.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "surveyd/core/clock.hpp"
#include "surveyd/core/heartbeat.hpp"
#include "surveyd/store/feed_lock.hpp"
#include "surveyd/store/ingest_store.hpp"

namespace surveyd::feed {

struct TcpConsumerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 7000;
  bool tls = false;
  std::string tls_ca_file;  // empty: the system's trust store
  bool tls_verify = true;
  // Mutual TLS: the certificate (chain, PEM) and key we present when the feed asks for one.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string client = "surveyd";     // sent in the subscribe line
  std::string feed = "controlworks";  // cursor and lock name
  std::size_t batch_size = 500;
  std::chrono::milliseconds batch_wait{20};  // oldest line waits at most this long
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds silence_timeout{30000};  // no event or heartbeat: reconnect
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_max{10000};
  std::chrono::milliseconds leader_poll{1000};  // try for the lock, check it is still held
  // Called (on the consumer's thread) after each committed batch that created surveys, with
  // when the earliest is due, so that the dispatcher sends it then rather than at its next
  // poll. Must not block.
  std::function<void(TimePoint)> on_surveys_created;
};

// From the receipt of a line (read off the socket) to the commit of its batch, per event, over
// every event stored since the consumer started. Percentiles are within about 1%.
struct CommitLatency {
  std::int64_t count = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
};

struct TcpConsumerStatus {
  bool running = false;
  bool leader = false;
  bool connected = false;
  std::optional<std::int64_t> last_seq;  // stored cursor
  std::int64_t accepted = 0, duplicate = 0, rejected = 0;
  // Lines stored already by a batch's part whose cursor was not (IngestResult::replayed): not
  // duplicates, which the force delivered twice.
  std::int64_t replayed = 0;
  // event type ("call.ended"..., "unreadable" for rejected lines) -> outcome ("replayed"
  // included) -> count
  std::map<std::string, std::map<std::string, std::int64_t>> by_type;
  // Lines at or below the last seq read: sent again (stored already: counted as replayed), or
  // new events the feed numbered out of order (`went_back`, stored as any).
  std::int64_t behind = 0;
  std::int64_t went_back = 0;
  std::int64_t heartbeats = 0;
  std::int64_t gaps = 0;     // times the seq jumped
  std::int64_t missing = 0;  // seq numbers jumped over
  std::int64_t batches = 0;
  std::int64_t reconnects = 0;                      // connections after the first
  std::optional<TimePoint> last_event_occurred_at;  // newest stored, for lag
  std::optional<TimePoint> disconnected_since;      // nullopt while connected
  // Disconnected because the database could not take what the feed sends (not the feed's
  // fault): nothing can be stored, where a feed that is down only sends nothing.
  bool held_for_database = false;
  // Since when lines read from the feed have been waiting to be stored (across reconnects);
  // nullopt when everything read is stored. Long: the feed makes no progress.
  std::optional<TimePoint> waiting_since;
  std::string last_error;  // no personal data
  std::optional<TimePoint> last_error_at;
  CommitLatency commit_latency;
};

class TcpConsumer {
 public:
  // `decider` is asked for the current decide function before every batch, so rules reloaded
  // on SIGHUP apply from the next batch. `leadership` may be null: always the consumer. Every
  // reference must outlive the consumer.
  TcpConsumer(TcpConsumerOptions options, store::IngestStore& store,
              std::function<store::DecideFn()> decider, store::Leadership* leadership,
              const Clock& clock);
  ~TcpConsumer();  // stops
  TcpConsumer(const TcpConsumer&) = delete;
  TcpConsumer& operator=(const TcpConsumer&) = delete;

  void Start();  // runs on a thread of its own
  // Stops promptly (within about 200 ms): finishes or abandons the current batch (an abandoned
  // batch was not acked, so it is delivered again), releases leadership, joins the thread.
  void Stop();

  TcpConsumerStatus Status() const;

  // The reader's last step (it beats at least every 100 ms while waiting on the network or a
  // backoff, standby included), or the start of a batch commit still running if older; nullopt
  // while not running.
  std::optional<Heartbeat::SteadyTime> LastProgress() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace surveyd::feed
