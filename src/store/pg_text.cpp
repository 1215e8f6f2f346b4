#include "store/pg_text.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "surveyd/core/utf8.hpp"

namespace surveyd::store::pg {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid or NUL, which
// PostgreSQL text cannot hold either.
std::size_t ValidSequenceLength(std::string_view s, std::size_t i) {
  return s[i] == '\0' ? 0 : Utf8SequenceLength(s, i);
}

// Whether the eight bytes of `word` are all ASCII and none is NUL.
bool AsciiWithoutNul(std::uint64_t word) {
  constexpr std::uint64_t kOnes = 0x0101010101010101, kHighs = 0x8080808080808080;
  const bool has_zero = ((word - kOnes) & ~word & kHighs) != 0;
  return (word & kHighs) == 0 && !has_zero;
}

// How much of `text` is valid UTF-8 without NUL: all of it, nearly always.
std::size_t ValidPrefix(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    // ASCII eight bytes at a time, then a byte at a time, without the general case's checks:
    // most text is ASCII (a batch's columns are a few hundred kilobytes of it).
    std::uint64_t word = 0;
    if (i + sizeof word <= text.size()) {
      std::memcpy(&word, text.data() + i, sizeof word);
      if (AsciiWithoutNul(word)) {
        i += sizeof word;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (c != 0 && c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = ValidSequenceLength(text, i);
    if (n == 0) break;
    i += n;
  }
  return i;
}

}  // namespace

std::string CleanText(std::string_view text) {
  std::size_t i = ValidPrefix(text);
  if (i == text.size()) return std::string(text);
  std::string clean(text.substr(0, i));
  while (i < text.size()) {
    const std::size_t n = ValidSequenceLength(text, i);
    if (n == 0) {
      clean.append(kReplacementCharacter);
      ++i;
    } else {
      clean.append(text.substr(i, n));
      i += n;
    }
  }
  return clean;
}

std::string FormatTimestamp(TimePoint t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> hms{t - day};
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u %02d:%02d:%02d.%06ld+00",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<long>(hms.subseconds().count()));
  return buffer;
}

void ArrayLiteral::Separate() {
  if (count_++ > 0) text_.push_back(',');
}

void ArrayLiteral::Add(std::optional<std::string_view> value) {
  if (!value) {
    AddNull();
    return;
  }
  Separate();
  // Cleaned only when it needs it, and copied a run at a time between the characters escaped:
  // the batches' columns (a kilobyte of sealed text per event) are built here.
  std::string cleaned;
  std::string_view clean = *value;
  if (ValidPrefix(clean) != clean.size()) {
    cleaned = CleanText(clean);
    clean = cleaned;
  }
  text_.push_back('"');
  // The next quote and the next backslash, each found by memchr and looked for again only once
  // passed (find_first_of ran a memchr over the pair for every character: JSON has many quotes).
  std::size_t quote = clean.find('"'), backslash = clean.find('\\');
  for (std::size_t from = 0;;) {
    const std::size_t at = std::min(quote, backslash);
    text_.append(clean.substr(from, at == std::string_view::npos ? at : at - from));
    if (at == std::string_view::npos) break;
    text_.push_back('\\');
    text_.push_back(clean[at]);
    from = at + 1;
    if (at == quote) {
      quote = clean.find('"', from);
    } else {
      backslash = clean.find('\\', from);
    }
  }
  text_.push_back('"');
}

void ArrayLiteral::AddInt(std::optional<std::int64_t> value) {
  if (!value) {
    AddNull();
    return;
  }
  Separate();
  text_.append(std::to_string(*value));
}

void ArrayLiteral::AddTime(std::optional<TimePoint> value) {
  if (!value) {
    AddNull();
    return;
  }
  Separate();
  text_.push_back('"');
  text_.append(FormatTimestamp(*value));
  text_.push_back('"');
}

void ArrayLiteral::AddNull() {
  Separate();
  text_.append("NULL");
}

}  // namespace surveyd::store::pg
