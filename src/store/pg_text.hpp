#pragma once
// Text that goes to PostgreSQL as statement parameters: timestamps, array literals for unnest()
// and the cleaning that keeps one bad byte in a feed line from failing a whole batch.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "surveyd/core/time.hpp"

namespace surveyd::store::pg {

// PostgreSQL text cannot hold NUL or invalid UTF-8; both become U+FFFD.
std::string CleanText(std::string_view text);

// "2026-11-26 09:15:02.123456+00", microsecond precision, for a timestamptz parameter.
std::string FormatTimestamp(TimePoint t);
// Inverse of surveyd_epoch_us(): the microseconds since the epoch that queries select.
inline TimePoint FromEpochMicros(std::int64_t us) { return TimePoint(Duration(us)); }

// Builds a PostgreSQL array literal ("{"a",NULL,"b"}") for a parameter such as $1::text[].
class ArrayLiteral {
 public:
  void Add(std::optional<std::string_view> value);
  void Add(const std::optional<std::string>& value) {
    Add(value ? std::optional<std::string_view>(*value) : std::nullopt);
  }
  void Add(std::string_view value) { Add(std::optional<std::string_view>(value)); }
  void Add(const std::string& value) { Add(std::optional<std::string_view>(value)); }
  void Add(const char* value) { Add(std::optional<std::string_view>(value)); }
  void AddInt(std::optional<std::int64_t> value);
  void AddTime(std::optional<TimePoint> value);
  void AddNull();
  std::string Text() const { return text_ + "}"; }
  bool empty() const { return count_ == 0; }

 private:
  void Separate();
  std::string text_ = "{";
  std::size_t count_ = 0;
};

}  // namespace surveyd::store::pg
