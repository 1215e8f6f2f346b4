#pragma once
// The process's log: stderr, as text ("2026-11-26T09:15:02.123 info message [request=..]") or
// as JSON lines ({"ts":...,"level":...,"msg":...,"request_id":...,"survey_id":...}) for a log
// shipper. Either way each line carries the request or survey it is about (core/log_context.hpp).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include <spdlog/sinks/sink.h>

namespace surveyd::app {

// "text" or "json"; `level` as spdlog names it ("info").
void SetUpLogging(const std::string& format, const std::string& level);

// The JSON-lines and text sinks, writing to `file` (stderr in the daemon); exposed for tests.
std::shared_ptr<spdlog::sinks::sink> MakeJsonSink(std::FILE* file);
std::shared_ptr<spdlog::sinks::sink> MakeTextSink(std::FILE* file);

// Lines that could not be written (a full disk under the log file), counted by every sink above
// since the process started: the daemon goes on without them, and reports them elsewhere
// (surveyd_log_write_failures_total, /api/v1/health).
struct LogWriteStatus {
  std::uint64_t failures = 0;
  bool failing = false;  // the last line failed too
};
LogWriteStatus LogWrites();

}  // namespace surveyd::app
