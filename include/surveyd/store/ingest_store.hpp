#pragma once
// Storing feed events once each, with the decision made for each, in one transaction per batch.
// Used by the TCP consumer, the HTTP push and `surveyd replay`.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "surveyd/core/decision.hpp"
#include "surveyd/core/event.hpp"
#include "surveyd/core/ingest_item.hpp"
#include "surveyd/core/time.hpp"
#include "surveyd/store/errors.hpp"

namespace surveyd::store {

// IngestItem lives in core (the feed must not depend on the store); the name stays valid here.
using IngestItem = surveyd::IngestItem;

enum class IngestOutcome { kAccepted, kDuplicate, kRejected };
const char* IngestOutcomeName(IngestOutcome outcome);

struct IngestResult {
  std::string event_id;  // may be empty for a rejected line with no readable id
  IngestOutcome outcome = IngestOutcome::kRejected;
  std::string reason;  // rejected: why; accepted: the decision ("survey", "exclusion:domestic"...)
  std::optional<TimePoint> send_at = std::nullopt;  // a new survey: when its text is due
  // A duplicate that is a line taken already: the TCP feed resending from a cursor behind it
  // (after a crash between a batch's parts and its cursor), not the force delivering twice.
  bool replayed = false;
};

// What a result counts as in the service's counters: its outcome's name, or "replayed".
const char* IngestCountName(const IngestResult& result);

// When the earliest of the new surveys among these is due to be texted (the dispatcher's next
// look); nullopt when there is none.
std::optional<TimePoint> EarliestSend(const std::vector<IngestResult>& results);

// Decides one event under the rules in force. Called by the store inside the ingest transaction,
// once per new event, with that number's history (including surveys decided earlier in the same
// batch) and the events related to it (its incident's, and its number's within
// kMaxNumberLookback, stored or earlier in the batch); and again for each text still queued for
// those incidents and numbers, to cancel it when a new event rules it out (ForbidsSending).
// history.last_surveyed_at is the newest contact time (event occurred_at) of a survey for that
// number, so replays compare like with like. Numbers and incidents are locked (advisory locks)
// until the batch commits. Called again for the whole batch if the transaction has to be
// retried: keep it pure. Its `screen` is how the same rules screen a stored event (EventScreen):
// the store screens each event it stores with it, and reads back only the number's events the
// rules could find something on. Without one, every event is read back.
struct DecideFn {
  using Fn = std::function<Decision(const Event&, const ContactHistory&, const RelatedEvents&)>;
  Fn decide;
  EventScreen screen;

  DecideFn() = default;
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, DecideFn> &&
                                                    std::is_constructible_v<Fn, F>>>
  DecideFn(F decide_fn, EventScreen event_screen = {})  // NOLINT(google-explicit-constructor)
      : decide(std::move(decide_fn)), screen(std::move(event_screen)) {}

  Decision operator()(const Event& event, const ContactHistory& history,
                      const RelatedEvents& related) const {
    return decide(event, history, related);
  }
  explicit operator bool() const { return static_cast<bool>(decide); }
};

class IngestStore {
 public:
  virtual ~IngestStore() = default;

  // Stores every item once (keyed by event_id), decides each new event and writes its decision,
  // survey and outbox message, and cancels queued texts that the new events rule out; results
  // come one per item, in order. When `feed` is empty, in one transaction. Otherwise the highest
  // seq in the batch is stored as that feed's cursor, in the same transaction or, when the batch
  // splits into parts that share no event, incident or number (SplitByContact), in one of its
  // own once every part is stored: a crash between the commits delivers the batch again, and
  // what a part stored comes back as duplicates. A value the database refuses (an impossible time,
  // a number out of range) rejects that item alone, with the reason; the rest of the batch goes in.
  // Throws Unavailable only for what a retry can fix.
  virtual std::vector<IngestResult> IngestBatch(const std::vector<IngestItem>& items,
                                                const DecideFn& decide,
                                                const std::string& feed = "") = 0;
  virtual std::optional<std::int64_t> FeedCursor(const std::string& feed) = 0;

  // Screens (EventScreen) stored events of numbers or incidents that `screen` has not screened
  // (they were screened under other rules, or none), that occurred from `oldest` on, newest
  // first from `from` back: up to `limit` of them, each with the rest of its incident
  // (screened together or not at all). Returns how many were screened, how many of those picked
  // were left because their incident was busy (a batch held it, or one of its events was locked),
  // and where the next call goes on from: nullopt when nothing is left to pick.
  struct ScreenPass {
    int screened = 0;
    std::optional<TimePoint> next_from;
    int skipped = 0;
  };
  virtual ScreenPass ScreenEvents(const EventScreen& screen, TimePoint oldest, TimePoint from,
                                  int limit) = 0;
};

}  // namespace surveyd::store
