#include "app/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "surveyd/core/log_context.hpp"
#include "surveyd/core/time.hpp"

namespace surveyd::app {
namespace {

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
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fputc('\n', file_);
  }
  void flush_() override { std::fflush(file_); }

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

void SetUpLogging(const std::string& format, const std::string& level) {
  std::shared_ptr<spdlog::logger> logger;
  if (format == "json") {
    logger = std::make_shared<spdlog::logger>("surveyd", MakeJsonSink(stderr));
  } else {
    logger = std::make_shared<spdlog::logger>(
        "surveyd", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<ContextFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v%*");
    logger->set_formatter(std::move(formatter));
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace surveyd::app
