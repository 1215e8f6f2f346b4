#include "surveyd/core/utf8.hpp"

#include <optional>

namespace surveyd {
namespace {

// Reads four hex digits at text[at]; false when they are not there.
bool Hex4(std::string_view text, std::size_t at, unsigned& value) {
  if (at + 4 > text.size()) return false;
  value = 0;
  for (std::size_t k = at; k < at + 4; ++k) {
    const char c = text[k];
    const int digit = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
    if (digit < 0) return false;
    value = value * 16 + static_cast<unsigned>(digit);
  }
  return true;
}

}  // namespace

std::size_t Utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  // The second byte's range after each lead (RFC 3629, table 3-7 of Unicode).
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

bool IsValidUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = Utf8SequenceLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string ReplaceInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out.append(kReplacementCharacter);
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::string TruncateCodePoints(const std::string& text, std::size_t max) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && count++ == max) {
      return text.substr(0, i);
    }
  }
  return text;
}

// JSON text with its characters repaired: each byte that is not UTF-8, and each \u escape of half
// a surrogate pair (JavaScript's JSON.stringify writes one for a string cut inside an emoji),
// becomes U+FFFD. nullopt when there was nothing to repair.
std::optional<std::string> RepairedJsonCharacters(std::string_view text) {
  const std::string utf8 = ReplaceInvalidUtf8(text);
  bool changed = utf8 != text;
  std::string out;
  out.reserve(utf8.size());
  bool in_string = false;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const char c = utf8[i];
    if (c == '"') in_string = !in_string;
    if (!in_string || c != '\\' || i + 1 >= utf8.size()) {
      out.push_back(c);
      continue;
    }
    unsigned high = 0, low = 0;
    if (utf8[i + 1] != 'u' || !Hex4(utf8, i + 2, high) || high < 0xD800 || high > 0xDFFF) {
      out.append(utf8, i, 2);  // any other escape, \" and \\ included
      ++i;
      continue;
    }
    const bool paired = high <= 0xDBFF && i + 12 <= utf8.size() && utf8[i + 6] == '\\' &&
                        utf8[i + 7] == 'u' && Hex4(utf8, i + 8, low) && low >= 0xDC00 &&
                        low <= 0xDFFF;
    if (paired) {
      out.append(utf8, i, 12);
      i += 11;
    } else {
      out.append("\\ufffd");
      changed = true;
      i += 5;
    }
  }
  if (!changed) return std::nullopt;
  return out;
}

}  // namespace surveyd
