#pragma once
// One delivered line or object of the feed, parsed or not: what the feed hands the store. It lives
// in core because both sides use it and the feed must not depend on the store.
#include <cstdint>
#include <optional>
#include <string>

#include "surveyd/core/event.hpp"

namespace surveyd {

// A malformed line is stored as rejected with its reason.
struct IngestItem {
  std::string source;               // "tcp", "push", "replay"
  std::string raw;                  // the line/object as received (kept, never logged)
  std::optional<Event> event;       // nullopt: rejected
  std::string reject_reason;        // why it was rejected
  std::optional<std::int64_t> seq;  // TCP stream sequence number, when known
  std::string event_id;             // when it could be read, even from a rejected line
  // Of a rejected line, the incident and the caller's number when they could be read: the line
  // may be the one that rules a contact out, so it holds every text of its incident and number
  // (fail closed; PgStore::Ingest).
  std::string incident_id;
  std::string phone;  // as written; personal data, never logged
};

}  // namespace surveyd
