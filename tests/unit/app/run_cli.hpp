#pragma once
// Runs the command line as `surveyd` would, in process: what it printed and how it exited.
#include <sstream>
#include <string>
#include <vector>

#include "surveyd/app/app.hpp"

namespace surveyd::app::testing {

// A file of the source tree (the shipped config/, test fixtures).
inline std::string Source(const std::string& relative) {
  return std::string(SURVEYD_SOURCE_DIR) + "/" + relative;
}

struct Result {
  int code = 0;
  std::string out, err;
};

// `input` is what the command reads from standard input ("-" as a file name).
inline Result RunCli(const std::vector<std::string>& args, const std::string& input = "") {
  std::istringstream in(input);
  std::ostringstream out, err;
  Result result;
  result.code = Run(args, in, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

}  // namespace surveyd::app::testing
