#pragma once
// Failpoints: named places where a test build can be told to die as `kill -9` would (SIGKILL: no
// destructor, no flush, no rollback), to prove that what the service promises survives a crash at
// the worst moment (tests/fault/failpoints_test.sh, docs/invariants.md).
//
// A failpoint is written `SURVEYD_FAILPOINT("dispatch.after_gateway_before_commit");`. It
// compiles to nothing unless the CMake option SURVEYD_FAILPOINTS is ON (the default except in
// Release builds; the Dockerfile turns it off), and even then does nothing unless armed at start:
//   SURVEYD_FAILPOINT=NAME[@N][,NAME[@N]...] surveyd serve ...   dies on the Nth hit (default 1)
// A name not in kFailpoints below is refused at start, and in code fails to compile, so a typo can
// never make a test pass without its failpoint.
//
// Only the source files listed in SURVEYD_FAILPOINT_SOURCES (CMakeLists.txt) get the definition
// the macro needs: a failpoint in any other file is a compile error, not a silent no-op.
#include <array>
#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace surveyd::failpoint {

// Every failpoint, in one place (tests/fault/failpoints_test.sh reads this list between the
// markers and fails unless it exercises each one).
// failpoints-begin
inline constexpr std::array<std::string_view, 5> kFailpoints = {
    // The gateway answered a batch of sends; their attempts are not recorded yet.
    "dispatch.after_gateway_before_commit",
    // The TCP feed's batch is committed (events and cursor); its ack is not written yet.
    "feed.after_commit_before_ack",
    // A pushed batch is committed; the HTTP 202 is not written yet.
    "push.after_commit_before_202",
    // Inside an ingest transaction: the events are inserted, their surveys not yet.
    "ingest.between_statements",
    // An alert's notice was taken by its channel (webhook or SMTP); that is not recorded yet.
    "alerts.after_send_before_record",
};
// failpoints-end

// The index of a failpoint's name; in a constant expression an unknown name does not compile.
consteval std::size_t IndexOf(std::string_view name) {
  for (std::size_t i = 0; i < kFailpoints.size(); ++i) {
    if (kFailpoints[i] == name) return i;
  }
  throw "unknown failpoint: add it to surveyd::failpoint::kFailpoints";
}

// One armed failpoint: die on its `on_hit`th hit (1 = the first).
struct Arming {
  std::size_t index = 0;
  long on_hit = 1;
  bool operator==(const Arming&) const = default;
};

struct Parsed {
  std::vector<Arming> armed;
  std::string error;  // non-empty: refused, and why (names the known failpoints)
};

// Parses the value of SURVEYD_FAILPOINT: "NAME", "NAME@N", several separated by commas.
Parsed Parse(std::string_view spec);

// The hit counts of armed failpoints. Thread-safe; Hit is one relaxed load when nothing is armed.
class Registry {
 public:
  void Arm(const std::vector<Arming>& armed);
  // Counts a hit of failpoint `index`; true when this is the hit it must die on (exactly once).
  bool Hit(std::size_t index);
  long Hits(std::size_t index) const { return slots_[index].hits.load(); }

 private:
  struct Slot {
    std::atomic<long> die_on{0};  // 0: not armed
    std::atomic<long> hits{0};
  };
  std::array<Slot, kFailpoints.size()> slots_;
};

// Whether this build has failpoints compiled in (CMake SURVEYD_FAILPOINTS).
bool Compiled();

// Arms the process's failpoints from SURVEYD_FAILPOINT and logs each armed one once. Returns an
// error (the process must refuse to start) for an unknown name, a bad count, or any failpoint
// asked of a build without them; empty when nothing was asked or all is armed.
std::string ArmFromEnvironment();

// The process's failpoint `index` was reached: on the armed hit, writes one line to stderr and
// raises SIGKILL. Called by SURVEYD_FAILPOINT.
void Reached(std::size_t index);

}  // namespace surveyd::failpoint

#if !defined(SURVEYD_FAILPOINTS)
#define SURVEYD_FAILPOINT(name) \
  static_assert(false, "this file is not in SURVEYD_FAILPOINT_SOURCES (CMakeLists.txt)")
#elif SURVEYD_FAILPOINTS
#define SURVEYD_FAILPOINT(name)  \
  ::surveyd::failpoint::Reached( \
      std::integral_constant<std::size_t, ::surveyd::failpoint::IndexOf(name)>::value)
#else
#define SURVEYD_FAILPOINT(name) \
  static_cast<void>(std::integral_constant<std::size_t, ::surveyd::failpoint::IndexOf(name)>::value)
#endif
