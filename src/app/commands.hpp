#pragma once
// The `surveyd` commands; cli.cpp parses arguments and calls one of these.
#include <iosfwd>
#include <string>
#include <vector>

#include "surveyd/config/config.hpp"

namespace surveyd::app {

int Serve(const config::Config& config, std::ostream& err);
int Migrate(const config::Config& config, std::ostream& out, std::ostream& err);
int Replay(const config::Config& config, std::istream& input, std::ostream& out, std::ostream& err);
int Report(const config::Config& config, std::ostream& out, std::ostream& err);
int Token(const config::Config& config, const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err);
struct RulesCheckOptions {
  std::string rules_path;
  std::string sample_path;  // --sample: the force's type codes; empty: none
  std::string config_path;  // -c: the real link length and sender; empty: a placeholder link
};
int RulesCheck(const RulesCheckOptions& options, std::ostream& out, std::ostream& err);
// `related_path`: NDJSON of other events; empty: none.
int RulesExplain(const std::string& rules_path, const std::string& event_path,
                 const std::string& related_path, std::istream& in, std::ostream& out,
                 std::ostream& err);

// The alerts one answer (JSON: comment, q1..q5, group) raises under the rules file's alerts:.
int RulesExplainAnswer(const std::string& rules_path, const std::string& answer_path,
                       std::istream& in, std::ostream& out, std::ostream& err);

void SetUpLogging(const config::Config& config);

}  // namespace surveyd::app
