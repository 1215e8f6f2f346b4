#include "surveyd/core/sms.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace surveyd::sms {
namespace {

constexpr char32_t kInvalid = 0xFFFD;

// Decodes UTF-8; each malformed byte becomes U+FFFD (which no GSM table holds).
std::vector<char32_t> CodePoints(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int extra = 0;
    char32_t cp = 0;
    if (b0 < 0x80) {
      cp = b0;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      extra = 1;
      cp = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      extra = 2;
      cp = b0 & 0x0Fu;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      extra = 3;
      cp = b0 & 0x07u;
    } else {
      out.push_back(kInvalid);
      ++i;
      continue;
    }
    bool ok = true;
    for (int k = 1; ok && k <= extra; ++k) {
      if (i + static_cast<std::size_t>(k) >= s.size()) {
        ok = false;
        break;
      }
      const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((b & 0xC0u) != 0x80u) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (b & 0x3Fu);
    }
    // Overlong forms, surrogates and values past U+10FFFF are malformed too.
    if (ok && ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
               (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))) {
      ok = false;
    }
    if (!ok) {
      out.push_back(kInvalid);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

// The GSM 03.38 basic character set (one septet each).
bool InBasicTable(char32_t c) {
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  static constexpr std::u32string_view kOthers =
      U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà";
  return kOthers.find(c) != std::u32string_view::npos;
}

// The extension table: an escape septet plus one, so two septets each.
bool InExtensionTable(char32_t c) {
  static constexpr std::u32string_view kExtension = U"\f^{}\\[~]|€";
  return kExtension.find(c) != std::u32string_view::npos;
}

// Packs characters of `widths` units into segments of `limit` units without splitting one.
int Segments(const std::vector<int>& widths, std::size_t limit) {
  int segments = 1;
  std::size_t used = 0;
  for (int w : widths) {
    const auto width = static_cast<std::size_t>(w);
    if (used + width > limit) {
      ++segments;
      used = 0;
    }
    used += width;
  }
  return segments;
}

}  // namespace

const char* EncodingName(Encoding encoding) {
  return encoding == Encoding::kGsm7 ? "GSM-7" : "UCS-2";
}

bool IsGsm7(std::string_view utf8) {
  const auto points = CodePoints(utf8);
  return std::all_of(points.begin(), points.end(),
                     [](char32_t c) { return InBasicTable(c) || InExtensionTable(c); });
}

Length Measure(std::string_view utf8) {
  const auto points = CodePoints(utf8);
  Length length;
  length.encoding = std::all_of(points.begin(), points.end(),
                                [](char32_t c) { return InBasicTable(c) || InExtensionTable(c); })
                        ? Encoding::kGsm7
                        : Encoding::kUcs2;
  std::vector<int> widths;
  widths.reserve(points.size());
  for (char32_t c : points) {
    if (length.encoding == Encoding::kGsm7) {
      widths.push_back(InExtensionTable(c) ? 2 : 1);
    } else {
      widths.push_back(c > 0xFFFF ? 2 : 1);
    }
    length.units += static_cast<std::size_t>(widths.back());
  }
  length.segments =
      length.units <= length.single_limit() ? 1 : Segments(widths, length.segment_limit());
  return length;
}

std::optional<std::string> SenderProblem(std::string_view sender) {
  if (sender.empty()) return "the sender is empty";
  std::string_view digits = sender;
  if (digits.front() == '+') digits.remove_prefix(1);
  const bool numeric = !digits.empty() && std::all_of(digits.begin(), digits.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    if (digits.size() > 15) {
      return "a numeric sender has at most 15 digits, not " + std::to_string(digits.size());
    }
    return std::nullopt;
  }
  if (sender.front() == '+') return "a sender starting with '+' must be a number";
  for (char c : sender) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == ' ' || c == '-' || c == '.' || c == '_' ||
                         c == '&';
    if (!allowed) {
      return "an alphanumeric sender may hold only letters, digits, spaces and - . _ &: networks "
             "refuse or rewrite other characters";
    }
  }
  if (std::none_of(sender.begin(), sender.end(),
                   [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); })) {
    return "an alphanumeric sender needs at least one letter";
  }
  if (sender.size() > 11) {
    return "an alphanumeric sender has at most 11 characters, not " +
           std::to_string(sender.size()) + ": networks cut or refuse longer ones";
  }
  return std::nullopt;
}

}  // namespace surveyd::sms
