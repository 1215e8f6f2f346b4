#include "app/rules_file.hpp"

#include <utility>

namespace surveyd::app {

RulesFile LoadRulesFile(const std::string& path, const rules::LoadOptions& options) {
  RulesFile loaded;
  if (auto error = rules::ReadRulesFile(path, loaded.text)) {
    loaded.rules.errors.push_back(std::move(*error));
    return loaded;
  }
  loaded.rules = rules::LoadString(loaded.text, path, options);
  loaded.alerts = alerts::LoadAlertConfigFile(path, loaded.text);
  return loaded;
}

}  // namespace surveyd::app
