#pragma once
// Time points and RFC 3339 text. Every timestamp in surveyd is UTC; local time exists only
// where a person sees it (quiet hours, "your call on Tuesday"), through core::TimeZone.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace surveyd {

using TimePoint = std::chrono::sys_time<std::chrono::microseconds>;
using Duration = std::chrono::microseconds;

// Parses "2026-11-26T09:15:02Z", "2026-11-26T09:15:02.123+01:00" (also lower-case t/z and a
// space instead of T). Returns nullopt for anything else, including impossible dates.
std::optional<TimePoint> ParseRfc3339(std::string_view text);

// Whether `t` falls in UTC years 0001 to 9999: what FormatRfc3339 gives back as it was read, and
// what PostgreSQL stores and compares (a time it refuses, such as year 0000, fails the whole
// statement, which a caller would otherwise take for the database being down).
bool InRfc3339Range(TimePoint t);

// Formats as "2026-11-26T09:15:02.123Z" (milliseconds, always UTC).
std::string FormatRfc3339(TimePoint t);

// Unix seconds <-> TimePoint.
TimePoint FromUnixSeconds(std::int64_t seconds);
std::int64_t ToUnixSeconds(TimePoint t);

}  // namespace surveyd
