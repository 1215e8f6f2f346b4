#include "rules/code_text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <string>

#include "surveyd/core/utf8.hpp"

namespace surveyd::rules {
namespace {

bool In(std::uint32_t cp, std::uint32_t first, std::uint32_t last) {
  return cp >= first && cp <= last;
}

// Default-ignorable code points (Unicode's DerivedCoreProperties) a text can carry unseen: soft
// hyphen, combining grapheme joiner, the zero-width space, joiners and direction marks, word
// joiner and invisible operators, variation selectors, the BOM, Hangul fillers, tags.
bool Invisible(std::uint32_t cp) {
  return cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x115F || cp == 0x1160 ||
         In(cp, 0x17B4, 0x17B5) || In(cp, 0x180B, 0x180F) || In(cp, 0x200B, 0x200F) ||
         In(cp, 0x202A, 0x202E) || In(cp, 0x2060, 0x206F) || cp == 0x3164 ||
         In(cp, 0xFE00, 0xFE0F) || cp == 0xFEFF || cp == 0xFFA0 || In(cp, 0x1D173, 0x1D17A) ||
         In(cp, 0xE0000, 0xE0FFF);
}

// Unicode's white space past ASCII (no-break, en, em, thin, ideographic...).
bool WideSpace(std::uint32_t cp) {
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || In(cp, 0x2000, 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Punctuation that separates words: Latin-1's signs and marks, the general and supplemental
// punctuation blocks (hyphens, dashes, quotes, bullets, the fraction slash), the minus and
// division slash, CJK commas and stops, small form variants. Each reads as '-'.
bool WideMark(std::uint32_t cp) {
  return In(cp, 0xA1, 0xA9) || cp == 0xAB || cp == 0xAC || In(cp, 0xAE, 0xB1) || cp == 0xB4 ||
         In(cp, 0xB6, 0xB8) || cp == 0xBB || cp == 0xBF || cp == 0xD7 || cp == 0xF7 ||
         In(cp, 0x2010, 0x2027) || In(cp, 0x2030, 0x205E) || cp == 0x2212 || cp == 0x2215 ||
         In(cp, 0x2E00, 0x2E7F) || In(cp, 0x3001, 0x3003) || In(cp, 0xFE50, 0xFE6B);
}

std::uint32_t Decode(std::string_view text, std::size_t i, std::size_t length) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  if (length == 2) return (byte(0) & 0x1Fu) << 6 | (byte(1) & 0x3Fu);
  if (length == 3) return (byte(0) & 0x0Fu) << 12 | (byte(1) & 0x3Fu) << 6 | (byte(2) & 0x3Fu);
  return (byte(0) & 0x07u) << 18 | (byte(1) & 0x3Fu) << 12 | (byte(2) & 0x3Fu) << 6 |
         (byte(3) & 0x3Fu);
}

CodeChar Ascii(char c, std::size_t length) {
  const auto byte = static_cast<unsigned char>(c);
  if (std::isalnum(byte) != 0) return {CodeCharKind::kWord, c, length};
  if (std::isgraph(byte) != 0) return {CodeCharKind::kMark, c, length};
  return {CodeCharKind::kSpace, ' ', length};
}

}  // namespace

CodeChar ReadCodeChar(std::string_view text, std::size_t i) {
  const char c = text[i];
  if (static_cast<unsigned char>(c) < 0x80) return Ascii(c, 1);
  const std::size_t length = Utf8SequenceLength(text, i);
  if (length == 0) return {CodeCharKind::kOther, 0, 1};
  const std::uint32_t cp = Decode(text, i, length);
  // Fullwidth ASCII (what East Asian input methods type): each is its ASCII character.
  if (In(cp, 0xFF01, 0xFF5E)) return Ascii(static_cast<char>(cp - 0xFEE0), length);
  if (cp == 0x130 || cp == 0x131) return {CodeCharKind::kWord, 'I', length};  // dotted, dotless
  if (Invisible(cp)) return {CodeCharKind::kInvisible, 0, length};
  if (WideSpace(cp)) return {CodeCharKind::kSpace, ' ', length};
  if (WideMark(cp)) return {CodeCharKind::kMark, '-', length};
  return {CodeCharKind::kOther, 0, length};
}

bool ReadsAsNoCode(std::string_view code) {
  std::string letters;
  for (std::size_t i = 0; i < code.size();) {
    const CodeChar c = ReadCodeChar(code, i);
    if (c.kind == CodeCharKind::kOther) return false;
    if (c.kind == CodeCharKind::kWord) {
      letters.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c.ascii))));
    }
    i += c.length;
  }
  // What people, spreadsheets (#N/A, #VALUE!) and programs (NaN, null) write for no value.
  static const std::array<std::string_view, 30> kNoValue = {"",
                                                            "NA",
                                                            "NK",
                                                            "NR",
                                                            "NS",
                                                            "NIL",
                                                            "NONE",
                                                            "NULL",
                                                            "NAN",
                                                            "UNK",
                                                            "UK",
                                                            "UNKNOWN",
                                                            "NOTKNOWN",
                                                            "TBC",
                                                            "TBA",
                                                            "TBD",
                                                            "UNDEFINED",
                                                            "UNSPECIFIED",
                                                            "NOTSET",
                                                            "NOTGIVEN",
                                                            "NOTSTATED",
                                                            "NOTRECORDED",
                                                            "NOTAPPLICABLE",
                                                            "BLANK",
                                                            "EMPTY",
                                                            "VALUE",
                                                            "REF",
                                                            "DIV0",
                                                            "NUM",
                                                            "NAME"};
  return std::find(kNoValue.begin(), kNoValue.end(), letters) != kNoValue.end();
}

bool ReadsAsAscii(std::string_view code) {
  for (std::size_t i = 0; i < code.size();) {
    const CodeChar c = ReadCodeChar(code, i);
    if (c.kind == CodeCharKind::kOther) return false;
    i += c.length;
  }
  return true;
}

}  // namespace surveyd::rules
