#pragma once
// A YAML syntax error placed for the person editing the file (the rules, the lexicon, the
// configuration). yaml-cpp reports a flow list or map that is never closed ("end of sequence flow
// not found") where it gave up looking for its end: the next item, or the end of the file, lines
// after the mistake. This names the bracket that was left open instead.
#include <optional>
#include <string>
#include <string_view>

namespace surveyd {

// A whole number as a person writes one in a YAML file: decimal digits after an optional minus,
// leading zeros and all ("016" is 16, as YAML 1.2 reads it; yaml-cpp reads it as octal, 14, and
// "0x10" as 16). Nullopt for anything else, or out of int's range.
std::optional<int> YamlWholeNumber(std::string_view scalar);

struct YamlSyntaxError {
  int line = 0, column = 0;  // 1-based; 0 when the parser gave no place
  std::string message;       // "YAML syntax error: ..."
};

// `message`, `line` and `column` as yaml-cpp's exception has them (its Mark: 0-based, -1 when
// it has no place); `text` is what was parsed.
YamlSyntaxError DescribeYamlSyntaxError(std::string_view text, std::string_view message, int line,
                                        int column);

}  // namespace surveyd
