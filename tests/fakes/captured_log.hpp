#pragma once
// What the default logger writes while one of these lives, as "level message" lines, so that a
// test can read what ops would (from any thread). The logger in place before comes back when it
// goes.
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <mutex>
#include <string>

namespace surveyd::testing {

class CapturedLog {
 public:
  explicit CapturedLog(spdlog::level::level_enum level = spdlog::level::info)
      : sink_(std::make_shared<Sink>()), previous_(spdlog::default_logger()) {
    sink_->set_pattern("%l %v");
    auto logger = std::make_shared<spdlog::logger>("test", sink_);
    logger->set_level(level);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  // Everything written so far; Take() also forgets it.
  std::string Text() const { return sink_->Read(false); }
  std::string Take() { return sink_->Read(true); }

 private:
  class Sink final : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::string Read(bool forget) {
      std::lock_guard lock(mutex_);
      std::string text = text_;
      if (forget) text_.clear();
      return text;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& message) override {
      spdlog::memory_buf_t line;
      formatter_->format(message, line);
      text_.append(line.data(), line.size());
    }
    void flush_() override {}

   private:
    std::string text_;
  };

  std::shared_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace surveyd::testing
