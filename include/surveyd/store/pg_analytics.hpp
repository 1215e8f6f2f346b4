#pragma once
// The PostgreSQL side of the analysts' API: the analytics store on connections of its own
// (optionally a read replica), and the access store (tokens, audit trail, the rollup sweeper)
// on the primary.
#include <chrono>
#include <memory>
#include <string>

#include "surveyd/store/analytics_store.hpp"
#include "surveyd/store/audit_store.hpp"
#include "surveyd/store/token_store.hpp"

namespace surveyd::store {

struct PgAnalyticsOptions {
  std::string url;  // the primary, or a read replica of it
  int pool_size = 2;
  // A query running longer is cancelled and answered as unavailable (503).
  std::chrono::milliseconds statement_timeout{30000};
  // When set, the queued changes are folded into the rollups (on the primary) before they are
  // read, so that a figure never misses what was committed before the request.
  RollupSweeper* rollups = nullptr;
};

std::unique_ptr<AnalyticsStore> MakePgAnalyticsStore(const PgAnalyticsOptions& options);

// Tokens, the audit trail and the sweeper share a small pool on the primary.
class AccessStore : public TokenStore, public AuditStore, public RollupSweeper {};

std::unique_ptr<AccessStore> MakePgAccessStore(const std::string& url, int pool_size = 2);

}  // namespace surveyd::store
