#pragma once
// A YAML syntax error placed for the person editing the file (the rules, the lexicon, the
// configuration). yaml-cpp reports a flow list or map that is never closed ("end of sequence flow
// not found") where it gave up looking for its end: the next item, or the end of the file, lines
// after the mistake. This names the bracket that was left open instead.
#include <string>
#include <string_view>

namespace surveyd {

struct YamlSyntaxError {
  int line = 0, column = 0;  // 1-based; 0 when the parser gave no place
  std::string message;       // "YAML syntax error: ..."
};

// `message`, `line` and `column` as yaml-cpp's exception has them (its Mark: 0-based, -1 when
// it has no place); `text` is what was parsed.
YamlSyntaxError DescribeYamlSyntaxError(std::string_view text, std::string_view message, int line,
                                        int column);

}  // namespace surveyd
