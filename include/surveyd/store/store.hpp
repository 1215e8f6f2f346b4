#pragma once
// The store is the one seam to PostgreSQL, split by who uses it: ingest (feed), outbox
// (dispatch, gateway callbacks), surveys (citizen pages, replies) and stats (analysts). Each
// component takes only the interface it needs, so a test fakes only that; `Store` is all of them
// at once, as the PostgreSQL store implements them (store/pg_store.hpp).
#include "surveyd/store/errors.hpp"
#include "surveyd/store/ingest_store.hpp"
#include "surveyd/store/outbox_store.hpp"
#include "surveyd/store/stats_store.hpp"
#include "surveyd/store/survey_store.hpp"

namespace surveyd::store {

class Store : public IngestStore, public OutboxStore, public SurveyStore, public StatsStore {
 public:
  // True when a trivial statement succeeds now; never throws.
  virtual bool Ping() = 0;
};

}  // namespace surveyd::store
