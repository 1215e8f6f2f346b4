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
int RulesCheck(const std::string& path, std::ostream& out, std::ostream& err);
int RulesExplain(const std::string& rules_path, const std::string& event_path, std::istream& in,
                 std::ostream& out, std::ostream& err);

void SetUpLogging(const config::Config& config);

}  // namespace surveyd::app
