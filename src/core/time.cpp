#include "surveyd/core/time.hpp"

#include <cstdint>
#include <cstdio>

namespace surveyd {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// Reads exactly `n` ASCII digits at `pos`, advancing it.
bool ReadDigits(std::string_view text, std::size_t& pos, int n, int& out) {
  if (pos + static_cast<std::size_t>(n) > text.size()) return false;
  int value = 0;
  for (int i = 0; i < n; ++i) {
    char c = text[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(n);
  out = value;
  return true;
}

bool Expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<TimePoint> ParseRfc3339(std::string_view text) {
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, pos, 4, year) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, month) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, day)) {
    return std::nullopt;
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return std::nullopt;
  }
  ++pos;
  if (!ReadDigits(text, pos, 2, hour) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, minute) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, second)) {
    return std::nullopt;
  }
  // Leap seconds (":60") are refused rather than silently moved: the feed never sends them.
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;

  std::int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 18) return std::nullopt;
    for (int i = digits; i < 6; ++i) micros *= 10;
  }

  if (pos >= text.size()) return std::nullopt;  // an offset is mandatory
  std::int64_t offset_seconds = 0;
  char zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    ++pos;
    int off_h = 0, off_m = 0;
    if (!ReadDigits(text, pos, 2, off_h)) return std::nullopt;
    if (pos < text.size() && text[pos] == ':') ++pos;  // "+0100" is accepted too
    if (!ReadDigits(text, pos, 2, off_m)) return std::nullopt;
    if (off_h > 23 || off_m > 59) return std::nullopt;
    offset_seconds = (off_h * 3600 + off_m * 60) * (zone == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;  // Feb 30, month 13, day 0...

  TimePoint local{std::chrono::sys_days{ymd}.time_since_epoch()};
  local += hours{hour} + minutes{minute} + seconds{second} + microseconds{micros};
  return local - seconds{offset_seconds};
}

bool InRfc3339Range(TimePoint t) {
  const std::chrono::year_month_day ymd{floor<days>(t)};
  return ymd.year() >= std::chrono::year{1} && ymd.year() <= std::chrono::year{9999};
}

std::string FormatRfc3339(TimePoint t) {
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::hh_mm_ss<milliseconds> hms{ms - day};
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buffer;
}

TimePoint FromUnixSeconds(std::int64_t seconds_since_epoch) {
  return TimePoint{seconds{seconds_since_epoch}};
}

std::int64_t ToUnixSeconds(TimePoint t) { return floor<seconds>(t).time_since_epoch().count(); }

}  // namespace surveyd
