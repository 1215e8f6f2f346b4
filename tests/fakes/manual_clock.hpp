#pragma once
// A clock that only moves when a test moves it.
#include <atomic>

#include "surveyd/core/clock.hpp"

namespace surveyd::testing {

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(Duration(now_.load())); }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }
  void Advance(Duration d) { now_ += d.count(); }

 private:
  std::atomic<Duration::rep> now_;
};

}  // namespace surveyd::testing
