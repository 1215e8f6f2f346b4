#include "surveyd/core/time_zone.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace surveyd {
namespace {

using std::chrono::days;
using std::chrono::seconds;

constexpr std::int64_t kSecondsPerDay = 86400;

std::int64_t DaysFromCivil(int year, unsigned month, unsigned day) {
  return std::chrono::sys_days{std::chrono::year{year} / std::chrono::month{month} /
                               std::chrono::day{day}}
      .time_since_epoch()
      .count();
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// ---- POSIX TZ strings (the TZif footer) -----------------------------------------------------

class PosixParser {
 public:
  explicit PosixParser(std::string_view text) : text_(text) {}

  std::optional<TimeZone::PosixRule> Parse() {
    TimeZone::PosixRule rule;
    if (!SkipName()) return std::nullopt;
    std::int64_t std_value = 0;
    if (!ReadTime(std_value)) return std::nullopt;
    rule.std_offset = seconds{-std_value};  // POSIX counts hours west of Greenwich
    if (AtEnd()) return rule;

    if (!SkipName()) return std::nullopt;
    rule.has_dst = true;
    rule.dst_offset = rule.std_offset + seconds{3600};
    if (!AtEnd() && Peek() != ',') {
      std::int64_t dst_value = 0;
      if (!ReadTime(dst_value)) return std::nullopt;
      rule.dst_offset = seconds{-dst_value};
    }
    if (AtEnd()) {
      // No rule given: POSIX leaves it to the implementation; use the current US rule as glibc
      // does.
      rule.start = TimeZone::RuleDate{'M', 0, 3, 2, 0, 7200};
      rule.end = TimeZone::RuleDate{'M', 0, 11, 1, 0, 7200};
      return rule;
    }
    if (!Consume(',') || !ReadDate(rule.start) || !Consume(',') || !ReadDate(rule.end) ||
        !AtEnd()) {
      return std::nullopt;
    }
    return rule;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  bool Consume(char c) {
    if (AtEnd() || Peek() != c) return false;
    ++pos_;
    return true;
  }

  bool SkipName() {
    if (Consume('<')) {
      const auto close = text_.find('>', pos_);
      if (close == std::string_view::npos || close == pos_) return false;
      pos_ = close + 1;
      return true;
    }
    const std::size_t start = pos_;
    while (!AtEnd() && std::isalpha(static_cast<unsigned char>(Peek()))) ++pos_;
    return pos_ - start >= 3;
  }

  bool ReadNumber(int& out, int max_digits) {
    int digits = 0;
    out = 0;
    while (!AtEnd() && std::isdigit(static_cast<unsigned char>(Peek())) && digits < max_digits) {
      out = out * 10 + (Peek() - '0');
      ++pos_;
      ++digits;
    }
    return digits > 0;
  }

  // [+-]hh[:mm[:ss]], hours up to 167 (RFC 8536 extension).
  bool ReadTime(std::int64_t& out) {
    int sign = 1;
    if (Consume('-')) {
      sign = -1;
    } else {
      Consume('+');
    }
    int h = 0, m = 0, s = 0;
    if (!ReadNumber(h, 3) || h > 167) return false;
    if (Consume(':')) {
      if (!ReadNumber(m, 2) || m > 59) return false;
      if (Consume(':') && (!ReadNumber(s, 2) || s > 59)) return false;
    }
    out = sign * (h * 3600 + m * 60 + s);
    return true;
  }

  bool ReadDate(TimeZone::RuleDate& date) {
    date = TimeZone::RuleDate{};
    if (Consume('M')) {
      date.kind = 'M';
      if (!ReadNumber(date.month, 2) || !Consume('.') || !ReadNumber(date.week, 1) ||
          !Consume('.') || !ReadNumber(date.weekday, 1)) {
        return false;
      }
      if (date.month < 1 || date.month > 12 || date.week < 1 || date.week > 5 || date.weekday > 6) {
        return false;
      }
    } else if (Consume('J')) {
      date.kind = 'J';
      if (!ReadNumber(date.day, 3) || date.day < 1 || date.day > 365) return false;
    } else {
      date.kind = 'N';
      if (!ReadNumber(date.day, 3) || date.day > 365) return false;
    }
    if (Consume('/')) return ReadTime(date.time);
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

bool IsLeap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

// Local seconds (since the epoch, as if local time were UTC) at which `date` falls in `year`.
std::int64_t LocalTransition(int year, const TimeZone::RuleDate& date) {
  std::int64_t day = 0;
  switch (date.kind) {
    case 'J':
      day = DaysFromCivil(year, 1, 1) + date.day - 1 + (IsLeap(year) && date.day >= 60 ? 1 : 0);
      break;
    case 'N':
      day = DaysFromCivil(year, 1, 1) + date.day;
      break;
    default: {
      const auto month = static_cast<unsigned>(date.month);
      const std::int64_t first = DaysFromCivil(year, month, 1);
      const unsigned first_weekday =
          std::chrono::weekday{std::chrono::sys_days{days{first}}}.c_encoding();
      day = first + (date.weekday - static_cast<int>(first_weekday) + 7) % 7 + 7 * (date.week - 1);
      const auto last = std::chrono::year_month_day_last{
          std::chrono::year{year}, std::chrono::month_day_last{std::chrono::month{month}}};
      const std::int64_t last_day = std::chrono::sys_days{last}.time_since_epoch().count();
      while (day > last_day) day -= 7;  // week 5 means "the last such weekday"
      break;
    }
  }
  return day * kSecondsPerDay + date.time;
}

seconds RuleOffsetAt(const TimeZone::PosixRule& rule, std::int64_t utc) {
  if (!rule.has_dst) return rule.std_offset;
  const std::int64_t local_std = utc + rule.std_offset.count();
  const int year = static_cast<int>(std::chrono::year_month_day{
      std::chrono::sys_days{days{FloorDiv(
          local_std, kSecondsPerDay)}}}.year());
  const std::int64_t start = LocalTransition(year, rule.start) - rule.std_offset.count();
  const std::int64_t end = LocalTransition(year, rule.end) - rule.dst_offset.count();
  bool in_dst = false;
  if (start < end) {
    in_dst = utc >= start && utc < end;  // northern hemisphere
  } else {
    in_dst = utc < end || utc >= start;  // southern: DST spans the new year
  }
  return in_dst ? rule.dst_offset : rule.std_offset;
}

// ---- TZif files (RFC 8536) ---------------------------------------------------------------

class TzifReader {
 public:
  explicit TzifReader(const std::string& data) : data_(data) {}

  bool Read(std::vector<TimeZone::Transition>& transitions, seconds& initial, std::string& footer) {
    if (data_.size() < 44 || data_.compare(0, 4, "TZif") != 0) return false;
    const char version = data_[4];
    Counts v1;
    if (!ReadCounts(20, v1)) return false;
    const std::size_t v1_end = 44 + BlockSize(v1, 4);
    if (v1_end > data_.size()) return false;
    if (version == '\0') return ReadBlock(44, v1, 4, transitions, initial);

    // Version 2+: a second header and block with 64-bit times, then the footer.
    if (v1_end + 44 > data_.size() || data_.compare(v1_end, 4, "TZif") != 0) return false;
    Counts v2;
    if (!ReadCounts(v1_end + 20, v2)) return false;
    const std::size_t block = v1_end + 44;
    const std::size_t block_end = block + BlockSize(v2, 8);
    if (block_end > data_.size()) return false;
    if (!ReadBlock(block, v2, 8, transitions, initial)) return false;
    if (block_end < data_.size() && data_[block_end] == '\n') {
      const auto close = data_.find('\n', block_end + 1);
      if (close != std::string::npos) footer = data_.substr(block_end + 1, close - block_end - 1);
    }
    return true;
  }

 private:
  struct Counts {
    std::uint32_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;
  };

  std::uint64_t BigEndian(std::size_t at, int bytes) const {
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) {
      value = (value << 8) | static_cast<unsigned char>(data_[at + static_cast<std::size_t>(i)]);
    }
    return value;
  }
  std::int32_t Int32(std::size_t at) const {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(BigEndian(at, 4)));
  }

  bool ReadCounts(std::size_t at, Counts& c) const {
    if (at + 24 > data_.size()) return false;
    c.isut = static_cast<std::uint32_t>(BigEndian(at, 4));
    c.isstd = static_cast<std::uint32_t>(BigEndian(at + 4, 4));
    c.leap = static_cast<std::uint32_t>(BigEndian(at + 8, 4));
    c.time = static_cast<std::uint32_t>(BigEndian(at + 12, 4));
    c.type = static_cast<std::uint32_t>(BigEndian(at + 16, 4));
    c.chars = static_cast<std::uint32_t>(BigEndian(at + 20, 4));
    // Bounds that no real zone comes near; they keep the size arithmetic far from overflow.
    return c.type >= 1 && c.type <= 256 && c.time <= 1000000 && c.leap <= 100000 &&
           c.chars <= 100000 && c.isut <= 256 && c.isstd <= 256;
  }

  static std::size_t BlockSize(const Counts& c, std::size_t time_size) {
    return c.time * time_size + c.time + c.type * 6 + c.chars + c.leap * (time_size + 4) + c.isstd +
           c.isut;
  }

  bool ReadBlock(std::size_t at, const Counts& c, int time_size,
                 std::vector<TimeZone::Transition>& transitions, seconds& initial) const {
    const std::size_t times = at;
    const std::size_t indices = times + c.time * static_cast<std::size_t>(time_size);
    const std::size_t types = indices + c.time;
    std::vector<seconds> offsets;
    for (std::uint32_t i = 0; i < c.type; ++i) offsets.emplace_back(Int32(types + i * 6));
    initial = offsets[0];  // RFC 8536: time type 0 applies before the first transition
    transitions.clear();
    for (std::uint32_t i = 0; i < c.time; ++i) {
      const std::size_t t = times + i * static_cast<std::size_t>(time_size);
      const std::int64_t when = time_size == 8 ? static_cast<std::int64_t>(BigEndian(t, 8))
                                               : static_cast<std::int64_t>(Int32(t));
      const auto type = static_cast<unsigned char>(data_[indices + i]);
      if (type >= offsets.size()) return false;
      if (!transitions.empty() && when <= transitions.back().at_unix) return false;
      transitions.push_back({when, offsets[type]});
    }
    return true;
  }

  const std::string& data_;
};

bool ValidZoneName(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
           c == '+';
  });
}

}  // namespace

TimeZone::TimeZone(std::string name, std::vector<Transition> transitions, seconds initial,
                   std::string posix_rule)
    : name_(std::move(name)),
      transitions_(std::move(transitions)),
      initial_offset_(initial),
      posix_rule_(std::move(posix_rule)) {
  std::sort(transitions_.begin(), transitions_.end(),
            [](const Transition& a, const Transition& b) { return a.at_unix < b.at_unix; });
  if (!posix_rule_.empty()) {
    rule_ = PosixParser(posix_rule_).Parse();
    if (!rule_) {
      throw std::runtime_error("time zone '" + name_ + "': cannot parse rule '" + posix_rule_ +
                               "'");
    }
  }
}

std::shared_ptr<const TimeZone> TimeZone::Load(const std::string& name,
                                               const std::string& zoneinfo_dir) {
  if (!ValidZoneName(name)) throw std::runtime_error("invalid time zone name '" + name + "'");
  std::ifstream in(zoneinfo_dir + "/" + name, std::ios::binary);
  if (!in) {
    if (name == "UTC" || name == "Etc/UTC") return Utc();
    throw std::runtime_error("unknown time zone '" + name + "' (not found in " + zoneinfo_dir +
                             ")");
  }
  const std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<Transition> transitions;
  seconds initial{0};
  std::string footer;
  if (!TzifReader(data).Read(transitions, initial, footer)) {
    throw std::runtime_error("time zone '" + name + "': not a valid TZif file");
  }
  return std::make_shared<const TimeZone>(name, std::move(transitions), initial, std::move(footer));
}

std::shared_ptr<const TimeZone> TimeZone::Utc() {
  static const auto kUtc =
      std::make_shared<const TimeZone>("UTC", std::vector<Transition>{}, seconds{0}, "UTC0");
  return kUtc;
}

seconds TimeZone::OffsetAtUnix(std::int64_t utc) const {
  const auto after = std::upper_bound(
      transitions_.begin(), transitions_.end(), utc,
      [](std::int64_t t, const Transition& transition) { return t < transition.at_unix; });
  if (after == transitions_.end() && rule_) return RuleOffsetAt(*rule_, utc);
  if (after == transitions_.begin()) return initial_offset_;
  return std::prev(after)->offset;
}

seconds TimeZone::OffsetAt(TimePoint utc) const { return OffsetAtUnix(ToUnixSeconds(utc)); }

LocalDateTime TimeZone::ToLocal(TimePoint utc) const {
  const std::int64_t utc_seconds = ToUnixSeconds(utc);
  const seconds offset = OffsetAtUnix(utc_seconds);
  const std::int64_t local = utc_seconds + offset.count();
  const std::int64_t day = FloorDiv(local, kSecondsPerDay);
  const std::int64_t second_of_day = local - day * kSecondsPerDay;
  const std::chrono::sys_days date{days{day}};
  const std::chrono::year_month_day ymd{date};
  LocalDateTime out;
  out.year = static_cast<int>(ymd.year());
  out.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  out.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  out.hour = static_cast<int>(second_of_day / 3600);
  out.minute = static_cast<int>(second_of_day % 3600 / 60);
  out.second = static_cast<int>(second_of_day % 60);
  out.weekday = static_cast<int>(std::chrono::weekday{date}.c_encoding());
  out.utc_offset = offset;
  return out;
}

TimePoint TimeZone::FromLocal(int year, int month, int day, int hour, int minute,
                              int second) const {
  const std::int64_t local = DaysFromCivil(year, static_cast<unsigned>(month), 1) + (day - 1);
  const std::int64_t local_seconds =
      local * kSecondsPerDay + std::int64_t{hour} * 3600 + minute * 60 + second;

  // Offsets are under a day, so the offsets a day either side bracket every candidate.
  const seconds before = OffsetAtUnix(local_seconds - kSecondsPerDay);
  const seconds after = OffsetAtUnix(local_seconds + kSecondsPerDay);
  const std::int64_t t_before = local_seconds - before.count();
  const std::int64_t t_after = local_seconds - after.count();
  const bool before_valid = OffsetAtUnix(t_before) == before;
  const bool after_valid = OffsetAtUnix(t_after) == after;
  if (before_valid && after_valid) return FromUnixSeconds(std::min(t_before, t_after));
  if (before_valid) return FromUnixSeconds(t_before);
  if (after_valid) return FromUnixSeconds(t_after);

  // In a gap: the answer is the transition, somewhere between the two candidates.
  std::int64_t lo = std::min(t_before, t_after);
  std::int64_t hi = std::max(t_before, t_after);
  const seconds lo_offset = OffsetAtUnix(lo);
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (OffsetAtUnix(mid) == lo_offset) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return FromUnixSeconds(hi);
}

}  // namespace surveyd
