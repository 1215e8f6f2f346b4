#pragma once
// A ControlWorks-style TCP feed server (delivery 1 of ../shared/spec/feed.md) over the event
// generator: it reads the subscribe line, streams events with seq > after_seq in order, sends
// heartbeats when idle, reads acks and discards what was acked, and can misbehave on purpose
// (duplicates, malformed lines, seq gaps, dropped connections) so the consumer can be tested
// against everything the contract allows. Used by cw-sim and by the integration tests in-process.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/event_generator.hpp"

namespace surveyd::sim {

struct SimServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 0;  // 0: any free port (see SimServer::Start)
  GeneratorOptions generator;
  double rate = 0;                        // lines per second; 0: as fast as the client reads
  std::int64_t count = 0;                 // unique events to generate; 0: no limit
  std::chrono::milliseconds duration{0};  // stop generating after this long; 0: no limit
  // Connection faults: cut the connection (mid-line) after this many lines on one connection,
  // or with this probability before each line.
  std::int64_t disconnect_every = 0;
  double disconnect_rate = 0;
  std::chrono::milliseconds heartbeat{10000};
  // Out of contract, as some real feeds are: on subscribe, resend this many lines at or before
  // after_seq too. The consumer must count them as replayed, never store them twice.
  std::int64_t replay_overlap = 0;
  bool real_time = false;       // occurred_at = now instead of simulated time
  std::string record_path;      // writes the event_id of every unique event generated, one a line
  bool keep_event_ids = false;  // keeps them in memory too, for RecordedEventIds()
};

struct SimServerStats {
  std::int64_t events = 0, duplicates = 0, malformed = 0, gaps = 0;
  std::int64_t last_seq = 0;   // highest seq generated
  std::int64_t acked_seq = 0;  // highest seq acked by a client
  std::int64_t lines_sent = 0, bytes_sent = 0, heartbeats = 0;
  std::int64_t connections = 0, forced_disconnects = 0;
  bool finished = false;  // the count or duration is reached: nothing more will be generated
};

class SimServer {
 public:
  explicit SimServer(SimServerOptions options);
  ~SimServer();  // stops
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  // Binds and starts serving on a thread of its own; returns the bound port. Throws
  // std::runtime_error if the address cannot be bound.
  unsigned short Start();
  void Stop();

  SimServerStats Stats() const;
  // Unique events generated so far (needs keep_event_ids).
  std::vector<std::string> RecordedEventIds() const;
  // True once generation has finished and a client acked the last seq; false on timeout.
  bool WaitUntilAcked(std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace surveyd::sim
