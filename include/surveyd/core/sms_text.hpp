#pragma once
// How a text travels as SMS: in the GSM 7-bit alphabet when every character is in it (160
// characters in one message, 153 per part when concatenated; the extension characters
// ^ { } \ [ ] ~ | € count twice), otherwise in UCS-2 (70, then 67 per part, counting UTF-16
// units, so an emoji counts twice).
#include <string_view>

namespace surveyd::sms_text {

enum class Encoding { kGsm7, kUcs2 };

// True when every character of the UTF-8 text is in the GSM 03.38 default alphabet or its
// extension table. Invalid UTF-8 is not GSM-7.
bool IsGsm7(std::string_view utf8);

struct Segments {
  Encoding encoding = Encoding::kGsm7;
  int units = 0;     // septets (GSM-7) or UTF-16 code units (UCS-2)
  int segments = 0;  // SMS parts the text needs (0 for an empty text)
};
Segments CountSegments(std::string_view utf8);

}  // namespace surveyd::sms_text
