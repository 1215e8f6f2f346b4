#pragma once
// What operations read from and do to the database as a whole: the outbox at a glance for
// /metrics (and, with data protection, retention, erasure and key rotation).
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

class OpsStore {
 public:
  virtual ~OpsStore() = default;
  virtual QueueStats GetQueueStats(TimePoint now) = 0;
};

}  // namespace surveyd::store
