#include "surveyd/core/sms_text.hpp"

#include <optional>

namespace surveyd::sms_text {
namespace {

// Decodes one code point; nullopt for invalid UTF-8 (the caller then treats the text as UCS-2,
// which any gateway can carry).
std::optional<char32_t> Next(std::string_view text, std::size_t& at) {
  const auto lead = static_cast<unsigned char>(text[at]);
  std::size_t length = 0;
  char32_t value = 0;
  if (lead < 0x80) {
    ++at;
    return lead;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07u;
  } else {
    return std::nullopt;
  }
  if (at + length > text.size()) return std::nullopt;
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[at + k]);
    if ((next & 0xC0) != 0x80) return std::nullopt;
    value = (value << 6) | (next & 0x3Fu);
  }
  at += length;
  return value;
}

// Septets a character takes in GSM-7: 1 (default alphabet), 2 (extension table), 0 (not GSM).
int GsmSeptets(char32_t c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
  switch (c) {
    // ASCII in the default alphabet (not ` and not the extension characters below).
    case '\n':
    case '\r':
    case ' ':
    case '!':
    case '"':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case '-':
    case '.':
    case '/':
    case ':':
    case ';':
    case '<':
    case '=':
    case '>':
    case '?':
    case '@':
    case '_':
    // Latin-1 and Greek in the default alphabet.
    case 0x00A1:
    case 0x00A3:
    case 0x00A4:
    case 0x00A5:
    case 0x00A7:
    case 0x00BF:
    case 0x00C4:
    case 0x00C5:
    case 0x00C6:
    case 0x00C7:
    case 0x00C9:
    case 0x00D1:
    case 0x00D6:
    case 0x00D8:
    case 0x00DC:
    case 0x00DF:
    case 0x00E0:
    case 0x00E4:
    case 0x00E5:
    case 0x00E6:
    case 0x00E8:
    case 0x00E9:
    case 0x00EC:
    case 0x00F1:
    case 0x00F2:
    case 0x00F6:
    case 0x00F8:
    case 0x00F9:
    case 0x00FC:
    case 0x0393:
    case 0x0394:
    case 0x0398:
    case 0x039B:
    case 0x039E:
    case 0x03A0:
    case 0x03A3:
    case 0x03A6:
    case 0x03A8:
    case 0x03A9:
      return 1;
    // The extension table: an escape septet, then the character.
    case '\f':
    case '^':
    case '{':
    case '}':
    case '\\':
    case '[':
    case '~':
    case ']':
    case '|':
    case 0x20AC:
      return 2;
    default:
      return 0;
  }
}

constexpr int kGsmSingle = 160, kGsmPart = 153, kUcs2Single = 70, kUcs2Part = 67;

int PartsFor(int units, int single, int part) {
  if (units == 0) return 0;
  if (units <= single) return 1;
  return (units + part - 1) / part;
}

}  // namespace

bool IsGsm7(std::string_view utf8) {
  for (std::size_t at = 0; at < utf8.size();) {
    const auto c = Next(utf8, at);
    if (!c || GsmSeptets(*c) == 0) return false;
  }
  return true;
}

Segments CountSegments(std::string_view utf8) {
  Segments out;
  if (IsGsm7(utf8)) {
    for (std::size_t at = 0; at < utf8.size();) out.units += GsmSeptets(*Next(utf8, at));
    out.segments = PartsFor(out.units, kGsmSingle, kGsmPart);
    return out;
  }
  out.encoding = Encoding::kUcs2;
  for (std::size_t at = 0; at < utf8.size();) {
    const auto c = Next(utf8, at);
    if (!c) {
      ++at;  // an invalid byte goes out as U+FFFD: one unit
      ++out.units;
      continue;
    }
    out.units += *c > 0xFFFF ? 2 : 1;
  }
  out.segments = PartsFor(out.units, kUcs2Single, kUcs2Part);
  return out;
}

}  // namespace surveyd::sms_text
