#pragma once
// How a character of a code the rules compare (an incident type code, a flag) reads, whatever an
// export, a spreadsheet or a copy from a web form did to it. The feed contract's codes are ASCII;
// what else turns up is mostly Unicode's spaces, dashes and invisible marks between ASCII
// letters, and none of them may hide a sensitive code: "DA\u2013ASSAULT" (an en dash) is
// DA-ASSAULT, "SELF\u200BHARM" (a zero-width space) is SELFHARM on screen and here alike.
// Shared by the type-code key (rule_set.cpp) and the flag key (decide.cpp), so that a code and a
// flag split into words the same way.
#include <cstddef>
#include <string_view>

namespace surveyd::rules {

enum class CodeCharKind {
  kWord,       // an ASCII letter or digit, or one written otherwise (fullwidth, dotted I): `ascii`
  kSpace,      // a space of any width, or a control character
  kMark,       // any other punctuation (hyphens, dashes, slashes, dots, quotes): `ascii`
  kInvisible,  // shows nothing and joins nothing: soft hyphen, zero-width space or joiner, BOM
  kOther,      // anything else: another alphabet's letter (a Greek E), an accent, a broken byte
};

struct CodeChar {
  CodeCharKind kind;
  char ascii;          // what a kWord or kMark reads as ('-' for a dash); ' ' for a kSpace
  std::size_t length;  // its bytes in the text (at least 1)
};

// The character that starts at text[i] (i < text.size()).
CodeChar ReadCodeChar(std::string_view text, std::size_t i);

// Whether every character of `code` reads as ASCII or shows nothing: a code with others cannot be
// compared with the rules' patterns, which are ASCII, so what it names is unknown.
bool ReadsAsAscii(std::string_view code);

// Whether `code` names nothing: no letter or digit at all ("-", a zero-width joiner), or a word a
// log writes for no value ("N/A", "N/K", "NONE", "UNKNOWN"). The rules read such a code as
// missing, not as a code that no exclusion names.
bool ReadsAsNoCode(std::string_view code);

}  // namespace surveyd::rules
