#pragma once
// The command line and the wiring of the daemon: the only place that names concrete classes.
#include <iosfwd>
#include <string>
#include <vector>

namespace surveyd::app {

// Runs one `surveyd ...` command and returns the process exit code:
// 0 success, 1 the command's own failure (invalid rules, failed replay), 2 usage or configuration.
int Run(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
        std::ostream& err);

}  // namespace surveyd::app
