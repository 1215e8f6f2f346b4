#pragma once
// What the log line being written is about: the HTTP request or the survey a thread is working on.
// The log sinks (app/logging) add it to every line, so that ops can follow one request or one
// survey through the log without the log ever holding a number or a token. Thread-local: set it
// for the duration of the work with ScopedLogContext.
#include <cstdint>
#include <string>

namespace surveyd {

struct LogContext {
  std::string request_id;      // ours (NewRequestId), never a caller's: it could hold anything
  std::int64_t survey_id = 0;  // 0: none
};

const LogContext& CurrentLogContext();

class ScopedLogContext {
 public:
  explicit ScopedLogContext(LogContext context);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  LogContext previous_;
};

// 16 random hex digits; the API returns it as X-Request-Id.
std::string NewRequestId();

}  // namespace surveyd
