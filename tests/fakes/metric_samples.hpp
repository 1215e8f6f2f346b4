#pragma once
// The lines of one metric in a Prometheus exposition (metrics::Registry::Render), for tests that
// check what a scrape would show, or that a metric is absent.
#include <sstream>
#include <string>

namespace surveyd::testing {

inline std::string Samples(const std::string& text, const std::string& metric) {
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(metric + " ", 0) == 0 || line.rfind(metric + "{", 0) == 0) out += line + "\n";
  }
  return out;
}

}  // namespace surveyd::testing
