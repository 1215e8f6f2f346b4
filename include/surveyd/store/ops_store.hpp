#pragma once
// What operations read from and do to the database as a whole: the outbox at a glance for
// /metrics, and the hold ops put on every text (with data protection: retention, erasure and key
// rotation, in privacy_store.hpp).
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

struct QueueStats {
  // Messages not yet settled, by state: pending, claimed, sending, in_doubt (each listed, 0 too).
  std::map<std::string, std::int64_t> unsettled;
  // How long the longest-waiting pending message has been due at `now`; 0 when none is due.
  double oldest_due_seconds = 0;
};

// A hold ops put on every text to the public (`surveyd sends hold`): while one is open, no
// instance begins a send. Events are still taken and decided; what falls due waits, or expires.
struct SendHold {
  std::int64_t id = 0;
  std::string reason;   // as ops wrote it
  std::string held_by;  // a token's name, or "cli:<user>"
  TimePoint held_at;    // on the database's clock, when it took effect (the claims under way done)
};

struct HoldOutcome {
  SendHold hold;              // the one open now
  bool already_held = false;  // it was open before: nothing changed
  // Texts begun before the hold whose requests may still be going out (`sending`).
  std::int64_t in_flight = 0;
};

struct ReleaseOutcome {
  std::optional<SendHold> released;  // nullopt: no hold was open
  std::int64_t cancelled = 0;        // waiting texts cancelled with it (cancel_waiting)
};

class OpsStore {
 public:
  virtual ~OpsStore() = default;
  virtual QueueStats GetQueueStats(TimePoint now) = 0;

  // The open hold, if any.
  virtual std::optional<SendHold> ActiveSendHold() = 0;
  // Opens a hold (or finds the one open). It waits for claims under way to commit, so that when
  // it returns no send can begin until the release: only texts already `sending` may still go.
  virtual HoldOutcome HoldSends(const std::string& reason, const std::string& by) = 0;
  // Releases the open hold and wakes the dispatchers. With `cancel_waiting`, the survey texts
  // and questions still waiting are cancelled first (`held_by_ops`): after a restore, or when
  // what waited should no longer go.
  virtual ReleaseOutcome ReleaseSends(const std::string& by, const std::string& note,
                                      bool cancel_waiting, TimePoint now) = 0;
};

}  // namespace surveyd::store
