#pragma once
// A deterministic generator of ControlWorks-style events (../shared/spec/feed.md) with the mix of a
// large UK force: demand by hour of day, contact channels, incident types with grades and
// qualifiers, resources attending, closures, and callers with the phone numbers real logs hold.
// Phone numbers come only from Ofcom's drama ranges (07700 900000-900999, 0121 496 0000-0999), so
// nothing generated here can ever text a real person. Used by cw-sim, the tests and the benchmarks.
//
// Lines are built with string appends (no JSON DOM): the simulator must produce far more than
// 50,000 events a second on one core.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "surveyd/core/time.hpp"

namespace surveyd::sim {

struct GeneratorOptions {
  std::uint64_t seed = 1;
  // Simulated time of the first incident. Events come out in occurred_at order of simulated time.
  TimePoint start = FromUnixSeconds(1795683600);  // 2026-11-26T09:00:00Z (Thursday)
  double incidents_per_day = 5500;  // West Midlands: about two million contacts a year
  bool with_seq = true;             // TCP stream: "seq" field; push/replay: none
  std::int64_t first_seq = 1;
  // Fractions of emitted lines (not of events).
  double duplicate_rate = 0;  // re-send of an earlier event, same event_id
  double malformed_rate = 0;  // bad JSON, missing fields, unknown type...
  double gap_rate = 0;        // probability that a seq number is skipped before a line
};

struct GeneratedLine {
  enum class Kind { kEvent, kDuplicate, kMalformed };
  Kind kind = Kind::kEvent;
  std::int64_t seq = 0;   // 0 when with_seq is false
  std::string event_id;   // kEvent/kDuplicate; for kMalformed whatever id the line carries, if any
  std::string type;       // "call.ended", ... (kEvent/kDuplicate)
  TimePoint occurred_at;  // as written in the line
  std::string line;       // one JSON object, no trailing newline
};

class EventGenerator {
 public:
  explicit EventGenerator(const GeneratorOptions& options);
  ~EventGenerator();
  EventGenerator(const EventGenerator&) = delete;
  EventGenerator& operator=(const EventGenerator&) = delete;

  // The next line of the stream. With `now`, every timestamp of the event is shifted so that
  // occurred_at == now (real-time simulation: a survey can go out straight away); the mix and
  // the relative timings stay those of the simulated day.
  void Next(GeneratedLine& out, std::optional<TimePoint> now = std::nullopt);
  GeneratedLine Next(std::optional<TimePoint> now = std::nullopt);

  struct Counts {
    std::int64_t events = 0, duplicates = 0, malformed = 0, gaps = 0;
  };
  const Counts& counts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace surveyd::sim
