#pragma once
// What the alert configuration's two readers (alert_rules.cpp, lexicon.cpp) share: the errors and
// warnings found in one YAML file, each at its line and column, reported as the survey rules'
// are. Private to src/alerts/.
#include <yaml-cpp/yaml.h>

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
