#pragma once
// Everything surveyd does with a phone number goes through this module: normalising what the
// command-and-control log holds to E.164, classifying it, masking it for logs, and the keyed
// hash used to look numbers up (opt-outs, frequency cap) without comparing raw numbers.
#include <string>
#include <string_view>

namespace surveyd::phone {

enum class Kind {
  kUkMobile,       // +447xxxxxxxxx (not 070 personal or 076 pager numbers, but 07624 is)
  kUkLandline,     // +441..., +442...
  kUkOther,        // 03, 05, 08, 09 and other non-geographic numbers
  kInternational,  // any valid-looking non-UK E.164 number
  kWithheld,       // "withheld", "private", "unknown", empty
  kInvalid,        // anything else
};

struct Number {
  Kind kind = Kind::kInvalid;
  std::string e164;  // "+447700900123"; empty for withheld/invalid
  // Read as a UK mobile whose trunk zero was lost ("7700900123": a JSON number, a spreadsheet
  // column), or from the digits of a text that holds more ("Mob: 07700 900123", "tel:+44...",
  // fullwidth digits): most likely that number, so its events are linked to the number's history
  // (a flag on it rules out its later contacts), but not sure enough to text.
  bool guessed = false;
};

// Accepts "+447700900123", "447700900123", "07700 900123", "(0121) 626 5000", "00447700900123",
// "+44 (0)7700 900123", "44 (0)7700 900123"; spaces, dots, dashes, brackets and the invisible
// marks that pasting puts around a number (direction marks, joiners) are ignored.
Number Normalize(std::string_view raw);

const char* KindName(Kind kind);  // "uk_mobile", "uk_landline", ...

// "+4477******23": enough to tell two numbers apart in a log, never enough to call one.
std::string Mask(std::string_view e164);

// `text` with every run of digits long enough to be a phone number (7 or more) replaced by
// "#######", however the number is written: the spaces, dashes, dots, brackets and plus between
// its digits are part of the run ("+44 7700 900123", "07700-900-123"). For what may quote a
// number into a log or a stored error: a gateway's error code, an exception's text.
std::string BlankNumbers(std::string_view text);

// HMAC-SHA256(key, e164) as hex. The key comes from configuration (phone_hash_key).
std::string KeyedHash(std::string_view key, std::string_view e164);

}  // namespace surveyd::phone
