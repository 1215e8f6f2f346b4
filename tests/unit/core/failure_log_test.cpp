#include "surveyd/core/failure_log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>

namespace surveyd {
namespace {

// What the default logger writes at info and above while `body` runs.
template <typename Body>
std::string Logged(Body body) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_pattern("%l %v");
  const auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);
  body();
  spdlog::set_default_logger(previous);
  return out.str();
}

TEST(FailureLog, AnOutageIsOneLineAndItsEndAnother) {
  FailureLog log("dispatch");
  const std::string said = Logged([&] {
    log.Succeeded();  // nothing to say
    for (int i = 0; i < 20; ++i) log.Failed("cannot connect to the database");
    EXPECT_TRUE(log.failing());
    log.Failed("the server is starting up");  // a new error: said
    log.Failed("the server is starting up");
    log.Succeeded();
    log.Succeeded();
  });
  EXPECT_EQ(said,
            "error dispatch: cannot connect to the database\n"
            "error dispatch: the server is starting up (still failing)\n"
            "info dispatch: working again, after 22 failure(s) in 0 s\n");
  EXPECT_FALSE(log.failing());
  // The next outage is said again.
  EXPECT_EQ(Logged([&] { log.Failed("timed out"); }), "error dispatch: timed out\n");
}

}  // namespace
}  // namespace surveyd
