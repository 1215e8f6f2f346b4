#include "app/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "surveyd/core/log_context.hpp"
#include "surveyd/core/time.hpp"

namespace surveyd::app {
namespace {

std::atomic<std::uint64_t> write_failures{0};
std::atomic<bool> last_write_failed{false};

// A line that does not reach the file (a full disk, a closed pipe) is counted, not retried, and
// does not stop the caller: the daemon goes on, and says so in a metric and the health check.
void WriteLine(std::FILE* file, const char* data, std::size_t size) {
  const bool written = std::fwrite(data, 1, size, file) == size && std::fflush(file) == 0;
  if (!written) {
    write_failures.fetch_add(1, std::memory_order_relaxed);
    std::clearerr(file);  // so that the next line is tried afresh
  }
  last_write_failed.store(!written, std::memory_order_relaxed);
}

// The text sink: spdlog's console sinks drop a failed write without a trace.
class TextSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit TextSink(std::FILE* file) : file_(file) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    WriteLine(file_, line.data(), line.size());
  }
  void flush_() override {}  // each line is flushed as it is written

 private:
  std::FILE* file_;
};

class JsonSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonSink(std::FILE* file) : file_(file) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    nlohmann::json line = {{"ts", FormatRfc3339(std::chrono::time_point_cast<Duration>(msg.time))},
                           {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                                 spdlog::level::to_string_view(msg.level).size())},
                           {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    const LogContext& context = CurrentLogContext();
    if (!context.request_id.empty()) line["request_id"] = context.request_id;
    if (context.survey_id != 0) line["survey_id"] = context.survey_id;
    // Invalid UTF-8 in a message becomes U+FFFD rather than an exception in the logger.
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
    WriteLine(file_, text.data(), text.size());
  }
  void flush_() override {}  // each line is flushed as it is written

 private:
  std::FILE* file_;
};

// %* in the text pattern: " [request=..]" / " [survey=..]" when the line is about one.
class ContextFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const LogContext& context = CurrentLogContext();
    std::string text;
    if (!context.request_id.empty()) text += " [request=" + context.request_id + "]";
    if (context.survey_id != 0) text += " [survey=" + std::to_string(context.survey_id) + "]";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<ContextFlag>();
  }
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> MakeJsonSink(std::FILE* file) {
  return std::make_shared<JsonSink>(file);
}

std::shared_ptr<spdlog::sinks::sink> MakeTextSink(std::FILE* file) {
  auto sink = std::make_shared<TextSink>(file);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<ContextFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v%*");
  sink->set_formatter(std::move(formatter));
  return sink;
}

LogWriteStatus LogWrites() {
  return {write_failures.load(std::memory_order_relaxed),
          last_write_failed.load(std::memory_order_relaxed)};
}

void SetUpLogging(const std::string& format, const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>(
      "surveyd", format == "json" ? MakeJsonSink(stderr) : MakeTextSink(stderr));
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace surveyd::app
