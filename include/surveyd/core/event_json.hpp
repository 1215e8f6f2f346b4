#pragma once
// One event object of the feed contract (../shared/spec/feed.md) <-> Event. The reader is the one
// place where event data is normalised, so the rules see each value in one spelling:
//
// - text the rules read (type_code, category, grade, qualifiers, channel, role, phone_type,
//   survey_consent, language, phone) is trimmed of surrounding white space (ASCII, no-break and
//   other Unicode spaces) and case-folded as the contract spells it: type codes, qualifiers and
//   grades upper case; categories, channels, roles, phone types, consent and language lower case;
// - a blank value counts as missing, exactly like null or an absent key, so an exclusion that
//   needs it decides "insufficient_data" rather than "does not match";
// - a qualifiers list with a blank or non-string entry is not known: `qualifiers` is nullopt
//   (missing, not "no flags") and the flags that could be read are kept in `partial_qualifiers`;
//   qualifiers given as a blank string are missing; as any other non-list, the event is rejected;
// - ages: 41, 41.0, "41" and " 41 " are 41; "" is missing; anything else, or an age outside
//   0-130, rejects the event (nothing is texted for it, and the reason is recorded);
// - booleans: true/false, also "true"/"false"/"yes"/"no"/"y"/"n"/"1"/"0" and 1/0 (any case);
//   "" is missing; anything else rejects the event;
// - times must be RFC 3339 with an offset, in UTC years 0001-9999 (what can be written back).
//
// The writer gives the contract form of a normalised event; reading it back gives the same Event.
// The store keeps that form (without the phone) to decide queued texts again later.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "surveyd/core/event.hpp"

namespace surveyd {

inline constexpr std::size_t kMaxEventIdLength = 128;

struct EventReadResult {
  std::optional<Event> event;  // nullopt: rejected
  // Why it was rejected ("missing event_id", "caller.age is out of range"...). Built only from
  // field names and fixed text, never from values, so it can be logged and returned to the sender.
  std::string reject_reason;
};

// Reads one event object (anything else is rejected). Unknown fields are ignored.
EventReadResult EventFromJson(const nlohmann::json& object);
EventReadResult EventFromJson(const nlohmann::ordered_json& object);

// What an object that is not a readable event still names, as written, each empty when it cannot
// be read: incident.id (a non-empty string within kMaxEventIdLength) and caller.phone (a string
// of at most 64 characters, or a whole number). A rejected line holds their texts (IngestItem).
struct NamedContact {
  std::string incident_id;
  std::string phone;
};
NamedContact ContactNamedBy(const nlohmann::json& object);
NamedContact ContactNamedBy(const nlohmann::ordered_json& object);

// A JSON number as a whole number that fits in 64 bits (as `seq` is read), else nullopt.
std::optional<std::int64_t> JsonInt64(const nlohmann::ordered_json& value);

// The contract form of `event`: absent fields are left out; times are UTC, with microseconds when
// the event has them. Without `with_phone`, caller.phone is left out (the caller's other fields
// stay: the rules read them).
nlohmann::json EventToJson(const Event& event, bool with_phone);

}  // namespace surveyd
