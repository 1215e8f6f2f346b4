#pragma once
// UTF-8 as PostgreSQL text and JSON take it (RFC 3629): no overlong forms, no surrogates, nothing
// past U+10FFFF. Text from outside (feed lines, gateway callbacks, query parameters) is checked
// or repaired with these before it is read or stored.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace surveyd {

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// The length of the valid sequence that starts at text[i] (1 to 4; NUL is a valid 1), or 0.
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i);

bool IsValidUtf8(std::string_view text);

// `text` with each byte that starts no valid sequence replaced by U+FFFD.
std::string ReplaceInvalidUtf8(std::string_view text);

// JSON text with its characters repaired: each byte that is not UTF-8, and each \u escape of half
// a surrogate pair (JavaScript's JSON.stringify writes one for a string cut inside an emoji),
// becomes U+FFFD. nullopt when there was nothing to repair. Only bytes and escapes change, never
// JSON's punctuation, so a parser reads the text as it was meant.
std::optional<std::string> RepairedJsonCharacters(std::string_view text);

// The first `max` code points of UTF-8 text.
std::string TruncateCodePoints(const std::string& text, std::size_t max);

}  // namespace surveyd
