// The parts of the store interface that need no database (so the fuzz targets link without pqxx).
#include "surveyd/store/ingest_store.hpp"

namespace surveyd::store {

const char* IngestOutcomeName(IngestOutcome outcome) {
  switch (outcome) {
    case IngestOutcome::kAccepted:
      return "accepted";
    case IngestOutcome::kDuplicate:
      return "duplicate";
    case IngestOutcome::kRejected:
      return "rejected";
  }
  return "unknown";
}

}  // namespace surveyd::store
