#include "surveyd/core/yaml_syntax.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace surveyd {
namespace {

struct Bracket {
  char c;
  int line, column;  // 0-based
};

// The flow brackets still open at (end_line, end_column), read outside quotes and comments and
// only where a YAML value can begin: a plain scalar such as "PC[12]" holds brackets of its own.
std::vector<Bracket> OpenBrackets(std::string_view text, int end_line, int end_column) {
  std::vector<Bracket> open;
  int line = 0, column = 0;
  char quote = 0;        // inside a quoted scalar: its quote
  bool comment = false;  // after a # on this line
  char previous = '\n';  // the last character that was not blank on this line ('\n': none)
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (line > end_line || (line == end_line && column >= end_column)) break;
    const char c = text[i];
    if (c == '\n') {
      ++line;
      column = 0;
      comment = false;
      previous = '\n';
      continue;
    }
    const int at = column++;
    if (comment) continue;
    if (quote != 0) {
      if (quote == '"' && c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
        ++i;
        ++column;
      } else if (c == quote && quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside a single-quoted scalar
        ++column;
      } else if (c == quote) {
        quote = 0;
        previous = c;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') continue;
    if (c == '#' && (at == 0 || text[i - 1] == ' ' || text[i - 1] == '\t')) {
      comment = true;
      continue;
    }
    const bool value_starts = previous == '\n' || previous == ':' || previous == '-' ||
                              previous == ',' || previous == '[' || previous == '{' ||
                              previous == '?';
    if ((c == '"' || c == '\'') && value_starts) {
      quote = c;
      continue;
    }
    if ((c == '[' || c == '{') && value_starts) {
      open.push_back({c, line, at});
    } else if ((c == ']' || c == '}') && !open.empty()) {
      open.pop_back();
    }
    previous = c;
  }
  return open;
}

}  // namespace

YamlSyntaxError DescribeYamlSyntaxError(std::string_view text, std::string_view message, int line,
                                        int column) {
  YamlSyntaxError error;
  if (line >= 0) {
    error.line = line + 1;
    error.column = column + 1;
  }
  error.message = "YAML syntax error: " + std::string(message);
  // A tab in a line's indentation reads to the parser as a bad value somewhere on it ("illegal
  // map value"): named for what it is, at the last such line up to where the parser stopped.
  if (line >= 0) {
    int at = 0;
    int tab_line = -1, tab_column = 0;
    for (std::size_t i = 0; i <= text.size() && at <= line;) {
      const std::size_t end = std::min(text.find('\n', i), text.size());
      const std::string_view row = text.substr(i, end - i);
      const std::size_t indent = row.find_first_not_of(" \t");
      const std::size_t tab = row.substr(0, indent).find('\t');
      if (tab != std::string_view::npos) {
        tab_line = at;
        tab_column = static_cast<int>(tab);
      }
      i = end + 1;
      ++at;
    }
    if (tab_line >= 0) {
      error.line = tab_line + 1;
      error.column = tab_column + 1;
      error.message = "YAML syntax error: a tab in the indentation (YAML indents with spaces only)";
      return error;
    }
  }
  const bool list = message.find("end of sequence flow not found") != std::string_view::npos;
  const bool map = message.find("end of map flow not found") != std::string_view::npos;
  // yaml-cpp's words for a line indented to no column the lines before it use ("end of map not
  // found", "end of sequence not found", "illegal map value"), which ops editing a file read as
  // nothing: said as what to look at.
  if (!list && !map && line >= 0 &&
      (message == "end of map not found" || message == "end of sequence not found" ||
       message == "illegal map value")) {
    error.message +=
        ": check this line's indentation against the lines above it (keys of one "
        "map start in the same column; a list's items are indented under their key)";
  }
  if ((!list && !map) || line < 0) return error;
  const char wanted = list ? '[' : '{';
  const auto open = OpenBrackets(text, line, column);
  for (auto it = open.rbegin(); it != open.rend(); ++it) {
    if (it->c != wanted) continue;
    error.message = std::string("YAML syntax error: this '") + wanted + "' is never closed (a '" +
                    (list ? ']' : '}') + "' is missing before line " + std::to_string(line + 1) +
                    ", where the parser gave up)";
    error.line = it->line + 1;
    error.column = it->column + 1;
    break;
  }
  return error;
}

std::optional<int> YamlWholeNumber(std::string_view scalar) {
  int value = 0;
  const char* end = scalar.data() + scalar.size();
  const auto [ptr, ec] = std::from_chars(scalar.data(), end, value, 10);
  if (scalar.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace surveyd
