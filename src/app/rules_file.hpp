#pragma once
// The rules file as `config check`, `rules check` and `serve` read it: once, for the survey rules
// and their alerts: section alike, so that every check is of the same text (a file replaced while
// it is checked, or one on a pipe, `rules check /dev/stdin`, would otherwise give each another),
// and `serve` runs the text it checked.
#include <string>

#include "surveyd/alerts/alert_rules.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::app {

struct RulesFile {
  std::string text;  // as read; empty when the file cannot be read
  rules::LoadResult rules;
  // Neither a config nor errors when the file cannot be read: that error is the rules' alone.
  alerts::AlertConfigLoad alerts;
};

RulesFile LoadRulesFile(const std::string& path, const rules::LoadOptions& options = {});

}  // namespace surveyd::app
