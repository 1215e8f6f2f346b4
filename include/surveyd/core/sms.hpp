#pragma once
// What a text costs: its encoding and how many SMS segments it is sent (and paid for) as. A text
// in the GSM 03.38 alphabet takes 160 septets in one SMS, or 153 per segment when concatenated;
// one character outside it (ł, ś, an emoji, a curly quote) makes the whole text UCS-2: 70 UTF-16
// units in one SMS, 67 per segment. Used by `surveyd rules check`.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace surveyd::sms {

enum class Encoding { kGsm7, kUcs2 };
const char* EncodingName(Encoding encoding);  // "GSM-7", "UCS-2"

struct Length {
  Encoding encoding = Encoding::kGsm7;
  // GSM-7: septets (a character of the extension table, such as € [ ] { } ^ ~ | \, counts 2).
  // UCS-2: UTF-16 code units (a character outside the Basic Multilingual Plane counts 2).
  std::size_t units = 0;
  int segments = 1;  // an escape pair or a surrogate pair is never split across two segments
  std::size_t single_limit() const { return encoding == Encoding::kGsm7 ? 160 : 70; }
  std::size_t segment_limit() const { return encoding == Encoding::kGsm7 ? 153 : 67; }
};

// True when every character of the UTF-8 text is in the GSM 03.38 basic or extension table.
// Invalid UTF-8 is not.
bool IsGsm7(std::string_view utf8);

Length Measure(std::string_view utf8);

// Why networks may refuse or rewrite this sender ID, or nullopt when it is fine: an alphanumeric
// sender is 1-11 characters (letters, digits, space, - . _ &) with at least one letter; a
// numeric one is up to 15 digits, optionally after '+'.
std::optional<std::string> SenderProblem(std::string_view sender);

}  // namespace surveyd::sms
