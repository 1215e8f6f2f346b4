#pragma once
// What the alert configuration's two readers (alert_rules.cpp, lexicon.cpp) share: the errors and
// warnings found in one YAML file, each at its line and column, reported as the survey rules'
// are. Private to src/alerts/.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surveyd/core/yaml_syntax.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::alerts::detail {

class YamlDiagnostics {
 protected:
  explicit YamlDiagnostics(std::string file) : file_(std::move(file)) {}

  void Error(const YAML::Mark& mark, std::string message) {
    errors_.push_back(At(mark, std::move(message), false));
  }
  // yaml-cpp could not parse `text`: the error where the person editing it should look.
  void SyntaxError(std::string_view text, const YAML::Exception& e) {
    auto error = DescribeYamlSyntaxError(text, e.msg, e.mark.line, e.mark.column);
    errors_.push_back({file_, error.line, error.column, std::move(error.message), false});
  }
  // A key given twice in any map under `node`: yaml-cpp keeps both and a reader takes the last,
  // so a second `entries:` block added at the end of the lexicon would silently replace the
  // first (every safeguarding term gone). An error, as the survey rules' loader makes it.
  // Walked with a stack of its own: a file may nest deeper than the call stack should.
  void CheckDuplicateKeys(const YAML::Node& node) {
    std::vector<YAML::Node> todo = {node};
    while (!todo.empty()) {
      const YAML::Node current = todo.back();
      todo.pop_back();
      if (current.IsSequence()) {
        for (const auto& item : current) todo.push_back(item);
      } else if (current.IsMap()) {
        std::vector<std::pair<std::string, YAML::Mark>> seen;
        for (const auto& item : current) {
          if (item.first.IsScalar()) {
            const std::string& key = item.first.Scalar();
            const auto first = std::find_if(seen.begin(), seen.end(),
                                            [&](const auto& s) { return s.first == key; });
            if (first != seen.end()) {
              Error(item.first.Mark(), "duplicate key '" + key + "' (first on line " +
                                           std::to_string(first->second.line + 1) + ")");
            } else {
              seen.emplace_back(key, item.first.Mark());
            }
          }
          todo.push_back(item.second);
        }
      }
    }
  }
  void Warn(const YAML::Mark& mark, std::string message) {
    warnings_.push_back(At(mark, std::move(message), true));
  }
  // A null mark (yaml-cpp has no place for it) names the file alone (line and column 0).
  rules::RuleError At(const YAML::Mark& mark, std::string message, bool warning) const {
    if (mark.is_null()) return {file_, 0, 0, std::move(message), warning};
    return {file_, mark.line + 1, mark.column + 1, std::move(message), warning};
  }

  std::string file_;
  std::vector<rules::RuleError> errors_;
  std::vector<rules::RuleError> warnings_;
};

}  // namespace surveyd::alerts::detail
