#pragma once
// The clock is a seam: production reads the system clock, tests use tests/fakes/manual_clock.hpp,
// so quiet hours, DST, expiry and backoff are tested without sleeping.
#include "surveyd/core/time.hpp"

namespace surveyd {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

}  // namespace surveyd
