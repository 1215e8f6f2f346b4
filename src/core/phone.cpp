#include "surveyd/core/phone.hpp"

#include <algorithm>
#include <cctype>

#include "surveyd/core/crypto.hpp"

namespace surveyd::phone {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(std::string_view s) { return std::all_of(s.begin(), s.end(), IsDigit); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IsWithheldWord(std::string_view s) {
  std::string lower;
  for (char c : s) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return lower.empty() || lower == "withheld" || lower == "private" || lower == "unknown" ||
         lower == "anonymous";
}

// Classifies a UK national significant number (the digits after +44, without the trunk 0).
Number ClassifyUk(std::string_view nsn) {
  Number number;
  if (nsn.empty() || !AllDigits(nsn)) return number;
  const std::size_t n = nsn.size();
  switch (nsn[0]) {
    case '7':
      if (n != 10) return number;
      // 070 is "personal numbering" (follow-me numbers, often premium) and 076 pagers: neither
      // takes an SMS reliably. 07624 is the Isle of Man's mobile range.
      if (nsn[1] == '0' || (nsn[1] == '6' && nsn.substr(0, 4) != "7624")) {
        number.kind = Kind::kUkOther;
      } else {
        number.kind = Kind::kUkMobile;
      }
      break;
    case '1':
    case '2':
      if (n != 9 && n != 10) return number;
      number.kind = Kind::kUkLandline;
      break;
    case '3':
    case '5':
    case '8':
    case '9':
      if (n != 9 && n != 10) return number;
      number.kind = Kind::kUkOther;
      break;
    default:
      return number;
  }
  number.e164 = "+44" + std::string(nsn);
  return number;
}

// The UTF-8 length of a space, dash or invisible joiner that spreadsheets and exports put inside
// numbers ("07700\u00a0900123", "07700\u2013900123"), or 0. Unread, such a number would be
// invalid, and so unhashed: its events would escape the look-back over the number's history.
std::size_t UnicodeSeparatorLength(std::string_view s) {
  const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  if (s.size() >= 2 && byte(0) == 0xC2 && (byte(1) == 0xA0 || byte(1) == 0xAD)) {
    return 2;  // no-break space, soft hyphen
  }
  if (s.size() < 3) return 0;
  if (byte(0) == 0xE2 && byte(1) == 0x80) {
    // U+2000-U+200B spaces, U+200C-U+200F joiners and direction marks (an Outlook or phone's
    // copy wraps a number in them), U+2010-U+2015 hyphens and dashes, U+202A-U+202E embeddings
    // and overrides, U+202F narrow no-break space
    const unsigned char last = byte(2);
    if ((last >= 0x80 && last <= 0x95) || (last >= 0xAA && last <= 0xAF)) return 3;
  }
  if (byte(0) == 0xE2 && byte(1) == 0x81 &&
      (byte(2) == 0xA0 || (byte(2) >= 0xA6 && byte(2) <= 0xA9))) {
    return 3;  // word joiner, U+2066-U+2069 isolates
  }
  if (byte(0) == 0xE2 && byte(1) == 0x88 && byte(2) == 0x92) return 3;  // minus sign
  if (byte(0) == 0xEF && byte(1) == 0xBB && byte(2) == 0xBF) return 3;  // zero-width no-break
  return 0;
}

// The number as people write it down: separators dropped, a "+44 (0)" read.
Number Read(std::string_view trimmed) {
  // Drop the separators people type; keep brackets for now, to spot "+44 (0)".
  std::string s;
  for (std::size_t i = 0; i < trimmed.size(); ++i) {
    const char c = trimmed[i];
    if (c == ' ' || c == '\t' || c == '.' || c == '-') continue;
    if (const std::size_t length = UnicodeSeparatorLength(trimmed.substr(i)); length > 0) {
      i += length - 1;
      continue;
    }
    s.push_back(c);
  }
  // "+44 (0)7700 900123": the bracketed trunk zero is written but never dialled after a country
  // code.
  if (s.rfind('+', 0) == 0 || s.rfind("00", 0) == 0 || s.rfind("44", 0) == 0) {
    if (const auto at = s.find("(0)"); at != std::string::npos) s.erase(at, 3);
  }
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == '(' || c == ')'; }), s.end());
  if (s.empty()) return Number{};

  std::string_view digits = s;
  bool international_prefix = false;
  if (digits.front() == '+') {
    digits.remove_prefix(1);
    international_prefix = true;
  } else if (digits.rfind("00", 0) == 0) {
    digits.remove_prefix(2);
    international_prefix = true;
  }
  if (digits.empty() || !AllDigits(digits)) return Number{};

  if (international_prefix) {
    if (digits.rfind("44", 0) == 0) {
      std::string_view nsn = digits.substr(2);
      if (!nsn.empty() && nsn.front() == '0') nsn.remove_prefix(1);  // "+4407700..."
      return ClassifyUk(nsn);
    }
    if (digits.front() == '0' || digits.size() < 8 || digits.size() > 15) return Number{};
    return Number{Kind::kInternational, "+" + std::string(digits)};
  }
  if (digits.front() == '0') {
    if (digits.size() < 2 || digits[1] == '0') return Number{};
    return ClassifyUk(digits.substr(1));
  }
  // "447700900123": E.164 without the plus. Only for UK-shaped lengths, since a bare digit
  // string could be anything.
  if (digits.rfind("44", 0) == 0 && (digits.size() == 11 || digits.size() == 12)) {
    return ClassifyUk(digits.substr(2));
  }
  // "7700900123": a mobile's ten digits without the trunk zero, as a JSON number or a spreadsheet
  // writes them. Linked, not texted (Number::guessed).
  if (digits.size() == 10 && digits.front() == '7') {
    Number number = ClassifyUk(digits);
    if (number.kind == Kind::kUkMobile) number.guessed = true;
    return number.guessed ? number : Number{};
  }
  return Number{};
}

// The digits of `text`, and whether a '+' came before the first: ASCII and fullwidth alike.
std::pair<std::string, bool> DigitsOf(std::string_view text) {
  std::string digits;
  bool plus = false;  // a '+' before the first digit
  const auto byte = [&text](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (IsDigit(text[i])) {
      digits.push_back(text[i]);
    } else if (text[i] == '+') {
      plus = plus || digits.empty();
    } else if (byte(i) == 0xEF && i + 2 < text.size() && byte(i + 1) == 0xBC &&
               ((byte(i + 2) >= 0x90 && byte(i + 2) <= 0x99) || byte(i + 2) == 0x8B)) {
      // U+FF10-U+FF19 fullwidth digits, U+FF0B fullwidth plus
      if (byte(i + 2) == 0x8B) {
        plus = plus || digits.empty();
      } else {
        digits.push_back(static_cast<char>('0' + (byte(i + 2) - 0x90)));
      }
      i += 2;
    }
  }
  return {digits, plus};
}

Number ReadDigits(std::string_view text) {
  const auto [digits, plus] = DigitsOf(text);
  if (digits.empty()) return Number{};
  return Read(plus ? "+" + digits : digits);
}

// What may part two numbers written in one field ("07700 900130 or 07700 900999", "... / ...",
// "...; ..."): a letter or a mark no number is written with.
bool PartsNumbers(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '/' || c == ',' || c == ';' ||
         c == '|' || c == '&' || c == ':' || c == '_';
}

// The digits of a number written among other words or marks ("Mob: 07700 900123",
// "tel:+447700900123", "07700 900123 (mobile)", "07700/900123", fullwidth digits): most likely
// that number, so its events are linked to the number's history (a flag on one rules out its
// other contacts), but a guess, never texted. When the digits together read as no number, the
// field may hold two ("07700 900130 or 07700 900999", "+44 7700 900129 / 0121 496 0000"): each
// part is read, and the first mobile among them (else the first number) is linked, as a guess;
// an event holds one number, and a mobile is what may be texted. Nothing when no part is a
// number (an extension alone, a reference).
Number Salvaged(std::string_view text) {
  Number number = ReadDigits(text);
  if (number.kind == Kind::kInvalid) {
    Number first;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
      if (i < text.size() && !PartsNumbers(text[i])) continue;
      const Number part = ReadDigits(text.substr(start, i - start));
      start = i + 1;
      if (part.kind == Kind::kUkMobile) {
        first = part;
        break;
      }
      if (first.kind == Kind::kInvalid) first = part;
    }
    number = first;
  }
  if (number.kind != Kind::kInvalid) number.guessed = true;
  return number;
}

}  // namespace

Number Normalize(std::string_view raw) {
  const std::string_view trimmed = Trim(raw);
  if (IsWithheldWord(trimmed)) return Number{Kind::kWithheld, ""};
  const Number number = Read(trimmed);
  return number.kind == Kind::kInvalid ? Salvaged(trimmed) : number;
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kUkMobile:
      return "uk_mobile";
    case Kind::kUkLandline:
      return "uk_landline";
    case Kind::kUkOther:
      return "uk_other";
    case Kind::kInternational:
      return "international";
    case Kind::kWithheld:
      return "withheld";
    case Kind::kInvalid:
      return "invalid";
  }
  return "invalid";
}

std::string BlankNumbers(std::string_view text) {
  const auto digit = [&text](std::size_t i) {
    return std::isdigit(static_cast<unsigned char>(text[i])) != 0;
  };
  const auto joins = [](char c) {
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+';
  };
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (!digit(i)) {
      out.push_back(text[i++]);
      continue;
    }
    // The run: digits, and what joins them, ending at its last digit.
    std::size_t end = i;
    std::size_t digits = 0;
    for (std::size_t j = i; j < text.size() && (digit(j) || joins(text[j])); ++j) {
      if (digit(j)) {
        ++digits;
        end = j + 1;
      }
    }
    out += digits >= 7 ? std::string("#######") : std::string(text.substr(i, end - i));
    i = end;
  }
  return out;
}

std::string Mask(std::string_view e164) {
  constexpr std::string_view kHidden = "***";
  if (e164.size() < 2 || e164.front() != '+' || !AllDigits(e164.substr(1))) {
    return std::string(kHidden);
  }
  const std::string_view digits = e164.substr(1);
  // Keep the country code and two more digits at the front ("+4477"), two at the end.
  std::size_t keep_front = digits.rfind("44", 0) == 0 ? 4 : 3;
  if (digits.size() < 8 || digits.size() > 15) return std::string(kHidden);
  std::string out = "+";
  out.append(digits.substr(0, keep_front));
  out.append(digits.size() - keep_front - 2, '*');
  out.append(digits.substr(digits.size() - 2));
  return out;
}

std::string KeyedHash(std::string_view key, std::string_view e164) {
  return crypto::HmacSha256Hex(key, e164);
}

}  // namespace surveyd::phone
