#pragma once
// The store is the one seam to PostgreSQL, split by who uses it: ingest (feed), outbox
// (dispatch, gateway callbacks), surveys (citizen pages, replies) and stats (analysts). Each
// component takes only the interface it needs, so a test fakes only that; ops (metrics, retention)
// has its own. `Store` is all of them
// at once, as the PostgreSQL store implements them (store/pg_store.hpp).
#include <optional>

#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"
#include "surveyd/store/ingest_store.hpp"
#include "surveyd/store/ops_store.hpp"
#include "surveyd/store/outbox_store.hpp"
#include "surveyd/store/privacy_store.hpp"
#include "surveyd/store/stats_store.hpp"
#include "surveyd/store/survey_store.hpp"

namespace surveyd::store {

class Store : public IngestStore,
              public OutboxStore,
              public SurveyStore,
              public StatsStore,
              public OpsStore,
              public PrivacyStore {
 public:
  // True when a trivial statement succeeds now; never throws.
  virtual bool Ping() = 0;
  // Why a trivial statement fails now, for ops (what failed and how, "cannot connect" or a
  // SQLSTATE: no personal data); nullopt when it succeeds. Never throws.
  virtual std::optional<std::string> PingFailure() {
    return Ping() ? std::nullopt : std::optional<std::string>("the database does not answer");
  }
  // When the service first failed to connect to the database, while it still cannot (its loops
  // meet an outage before any health check does); nullopt when it has connected since. Never
  // throws.
  virtual std::optional<TimePoint> UnreachableSince() { return std::nullopt; }
  // The database server's clock now (clock_timestamp()), the one every instance shares;
  // nullopt when it cannot be read. Never throws.
  virtual std::optional<TimePoint> DatabaseClock() { return std::nullopt; }
};

}  // namespace surveyd::store
