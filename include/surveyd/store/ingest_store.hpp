#pragma once
// Storing feed events once each, with the decision made for each, in one transaction per batch.
// Used by the TCP consumer, the HTTP push and `surveyd replay`.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

// One delivered line/object, parsed or not. A malformed one is stored as rejected with its reason.
struct IngestItem {
  std::string source;               // "tcp", "push", "replay"
  std::string raw;                  // the line/object as received (kept, never logged)
  std::optional<Event> event;       // nullopt: rejected
  std::string reject_reason;        // why it was rejected
  std::optional<std::int64_t> seq;  // TCP stream sequence number, when known
  std::string event_id;             // when it could be read, even from a rejected line
};

enum class IngestOutcome { kAccepted, kDuplicate, kRejected };
const char* IngestOutcomeName(IngestOutcome outcome);

struct IngestResult {
  std::string event_id;  // may be empty for a rejected line with no readable id
  IngestOutcome outcome = IngestOutcome::kRejected;
  std::string reason;  // rejected: why; accepted: the decision ("survey", "exclusion:domestic"...)
};

// Called by the store inside the ingest transaction, once per new event, with that number's
// history (including surveys decided earlier in the same batch). history.last_surveyed_at is the
// newest contact time (event occurred_at) of a survey for that number, so replays compare like
// with like. The number is locked (advisory lock) until the batch commits.
// Called again for the whole batch if the transaction has to be retried: keep it pure.
using DecideFn = std::function<Decision(const Event&, const ContactHistory&)>;

class IngestStore {
 public:
  virtual ~IngestStore() = default;

  // Stores every item once (keyed by event_id) in one transaction, decides each new event and
  // writes its decision, survey and outbox message. When `feed` is not empty the highest seq in
  // the batch is stored as that feed's cursor in the same transaction.
  virtual std::vector<IngestResult> IngestBatch(const std::vector<IngestItem>& items,
                                                const DecideFn& decide,
                                                const std::string& feed = "") = 0;
  virtual std::optional<std::int64_t> FeedCursor(const std::string& feed) = 0;
};

}  // namespace surveyd::store
