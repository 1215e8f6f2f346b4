#include "surveyd/core/failpoint.hpp"

#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>

namespace surveyd::failpoint {
namespace {

std::string KnownNames() {
  std::string names;
  for (const auto name : kFailpoints) names += (names.empty() ? "" : ", ") + std::string(name);
  return names;
}

Registry& Process() {
  static Registry registry;
  return registry;
}

}  // namespace

Parsed Parse(std::string_view spec) {
  Parsed parsed;
  auto refuse = [&parsed](std::string why) {
    parsed.armed.clear();
    parsed.error = "SURVEYD_FAILPOINT: " + why + " (known: " + KnownNames() + ")";
    return parsed;
  };
  if (spec.empty()) return refuse("empty");
  for (std::size_t start = 0; start <= spec.size();) {
    const std::size_t comma = std::min(spec.find(',', start), spec.size());
    std::string_view item = spec.substr(start, comma - start);
    start = comma + 1;
    long on_hit = 1;
    if (const auto at = item.find('@'); at != std::string_view::npos) {
      const std::string_view count = item.substr(at + 1);
      const auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), on_hit);
      if (count.empty() || error != std::errc() || end != count.data() + count.size() ||
          on_hit < 1) {
        return refuse("'" + std::string(item) + "': the hit to die on must be a number from 1");
      }
      item = item.substr(0, at);
    }
    std::size_t index = kFailpoints.size();
    for (std::size_t i = 0; i < kFailpoints.size(); ++i) {
      if (kFailpoints[i] == item) index = i;
    }
    if (index == kFailpoints.size()) {
      return refuse("unknown failpoint '" + std::string(item) + "'");
    }
    for (const Arming& earlier : parsed.armed) {
      if (earlier.index == index) return refuse("'" + std::string(item) + "' named twice");
    }
    parsed.armed.push_back({index, on_hit});
  }
  return parsed;
}

void Registry::Arm(const std::vector<Arming>& armed) {
  for (Slot& slot : slots_) {
    slot.die_on = 0;
    slot.hits = 0;
  }
  for (const Arming& arming : armed) slots_[arming.index].die_on = arming.on_hit;
}

bool Registry::Hit(std::size_t index) {
  Slot& slot = slots_[index];
  const long die_on = slot.die_on.load(std::memory_order_relaxed);
  if (die_on == 0) return false;
  return slot.hits.fetch_add(1) + 1 == die_on;
}

bool Compiled() {
#if defined(SURVEYD_FAILPOINTS) && SURVEYD_FAILPOINTS
  return true;
#else
  return false;
#endif
}

std::string ArmFromEnvironment() {
  const char* spec = std::getenv("SURVEYD_FAILPOINT");
  if (spec == nullptr) return {};
  if (!Compiled()) {
    return "SURVEYD_FAILPOINT is set but this build has no failpoints (built with "
           "-DSURVEYD_FAILPOINTS=OFF)";
  }
  Parsed parsed = Parse(spec);
  if (!parsed.error.empty()) return parsed.error;
  Process().Arm(parsed.armed);
  for (const Arming& arming : parsed.armed) {
    spdlog::warn("failpoint {} is armed: this process dies (SIGKILL) on its hit {}",
                 kFailpoints[arming.index], arming.on_hit);
  }
  return {};
}

void Reached(std::size_t index) {
  if (!Process().Hit(index)) return;
  // Straight to the descriptor, unbuffered: the log's buffers die with the process, as they would
  // under kill -9. tests/fault/failpoints_test.sh looks for this line.
  const std::string line =
      "surveyd: failpoint " + std::string(kFailpoints[index]) + " reached: SIGKILL\n";
  [[maybe_unused]] const auto written = write(STDERR_FILENO, line.data(), line.size());
  raise(SIGKILL);
}

}  // namespace surveyd::failpoint
