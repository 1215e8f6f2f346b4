#pragma once
// A time zone read from the system's TZif database (/usr/share/zoneinfo), DST-correct.
// libstdc++ 12 has no std::chrono::tzdb, so this is the small part of it surveyd needs.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "surveyd/core/time.hpp"

namespace surveyd {

struct LocalDateTime {
  int year = 1970, month = 1, day = 1;  // month 1-12
  int hour = 0, minute = 0, second = 0;
  int weekday = 4;  // 0 = Sunday ... 6 = Saturday
  std::chrono::seconds utc_offset{0};
};

class TimeZone {
 public:
  // Loads e.g. "Europe/London" or "UTC". Throws std::runtime_error naming the zone if unknown.
  static std::shared_ptr<const TimeZone> Load(
      const std::string& name, const std::string& zoneinfo_dir = "/usr/share/zoneinfo");
  static std::shared_ptr<const TimeZone> Utc();

  const std::string& Name() const { return name_; }
  std::chrono::seconds OffsetAt(TimePoint utc) const;
  LocalDateTime ToLocal(TimePoint utc) const;
  // The UTC instant of a local wall-clock time on a local date. A time that does not exist
  // (spring-forward gap) maps to the first instant after the gap; an ambiguous time (autumn)
  // maps to the earlier of the two.
  TimePoint FromLocal(int year, int month, int day, int hour, int minute, int second = 0) const;

  struct Transition {
    std::int64_t at_unix;         // UTC seconds at which the offset changes
    std::chrono::seconds offset;  // offset from then on
  };

  // `posix_rule` is the TZif v2+ footer ("GMT0BST,M3.5.0/1,M10.5.0"), or empty. Throws
  // std::runtime_error if it cannot be parsed.
  TimeZone(std::string name, std::vector<Transition> transitions, std::chrono::seconds initial,
           std::string posix_rule);

  // The parsed POSIX TZ rule; public only so that time_zone.cpp's helpers can name it.
  struct RuleDate {
    char kind = 'M';  // 'J': Julian day 1-365 without Feb 29; 'N': day 0-365; 'M': month.week.day
    int day = 0, month = 0, week = 0, weekday = 0;
    std::int64_t time = 7200;  // local seconds after midnight (may be negative or past 24 h)
  };
  struct PosixRule {
    std::chrono::seconds std_offset{0};
    bool has_dst = false;
    std::chrono::seconds dst_offset{0};
    RuleDate start, end;
  };

 private:
  std::chrono::seconds OffsetAtUnix(std::int64_t utc_seconds) const;

  std::string name_;
  std::vector<Transition> transitions_;  // sorted by at_unix
  std::chrono::seconds initial_offset_;
  std::string posix_rule_;  // TZif v2+ footer, for instants past the last transition
  std::optional<PosixRule> rule_;
};

}  // namespace surveyd
