#pragma once
// Runs the command line as `surveyd` would, in process: what it printed and how it exited.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
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

// `text` on a pipe, named /dev/fd/N: a file that reads once, as a rules file given as /dev/stdin
// or by the shell's process substitution does; read again, it is empty.
class PipedFile {
 public:
  explicit PipedFile(const std::string& text) {
    // Written whole before anyone reads: it must fit the pipe's buffer (64 KiB on Linux).
    if (text.size() > 65536) throw std::invalid_argument("PipedFile: more than a pipe holds");
    int ends[2];
    if (::pipe(ends) != 0) throw std::runtime_error("PipedFile: no pipe");
    read_end_ = ends[0];
    const auto written = ::write(ends[1], text.data(), text.size());
    ::close(ends[1]);  // the reader sees the end of the file after the text
    if (written != static_cast<ssize_t>(text.size())) {
      throw std::runtime_error("PipedFile: the text was not written whole");
    }
  }
  ~PipedFile() { ::close(read_end_); }
  PipedFile(const PipedFile&) = delete;
  PipedFile& operator=(const PipedFile&) = delete;

  std::string Path() const { return "/dev/fd/" + std::to_string(read_end_); }

 private:
  int read_end_ = -1;
};

// The shipped config/rules.yaml with its alert lexicon named by its whole path, so that the
// rules load from anywhere (nothing stands beside a pipe's /dev/fd/N).
inline std::string ShippedRulesWithTheLexiconInFull() {
  std::ifstream in(Source("config/rules.yaml"));
  std::stringstream text;
  text << in.rdbuf();
  std::string rules = text.str();
  const std::string relative = "\n  lexicon: alert_lexicon.yaml\n";
  const auto at = rules.find(relative);
  if (at == std::string::npos) throw std::runtime_error("config/rules.yaml names no lexicon");
  return rules.replace(at, relative.size(),
                       "\n  lexicon: " + Source("config/alert_lexicon.yaml") + "\n");
}

}  // namespace surveyd::app::testing
