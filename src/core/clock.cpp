#include "surveyd/core/clock.hpp"

namespace surveyd {

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

}  // namespace surveyd
