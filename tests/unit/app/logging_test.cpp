#include "app/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "surveyd/core/log_context.hpp"

namespace surveyd::app {
namespace {

TEST(LoggingTest, JsonLinesCarryTheRequestOrSurveyTheyAreAbout) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  spdlog::logger logger("test", MakeJsonSink(file));
  logger.info("plain");
  {
    const ScopedLogContext request({"0123abcd", 0});
    logger.warn("in a request: {}", "q\"uote");
    {
      const ScopedLogContext survey({"", 42});
      logger.error("about a survey");
    }
    logger.info("back in the request");
  }
  logger.flush();
  std::rewind(file);
  std::vector<nlohmann::json> lines;
  char buffer[1024];
  while (std::fgets(buffer, sizeof buffer, file) != nullptr) {
    lines.push_back(nlohmann::json::parse(buffer));
  }
  std::fclose(file);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0]["msg"], "plain");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_FALSE(lines[0].contains("request_id"));
  EXPECT_EQ(lines[0]["ts"].get<std::string>().back(), 'Z');
  EXPECT_EQ(lines[1]["msg"], "in a request: q\"uote");
  EXPECT_EQ(lines[1]["level"], "warning");
  EXPECT_EQ(lines[1]["request_id"], "0123abcd");
  EXPECT_EQ(lines[2]["survey_id"], 42);
  EXPECT_FALSE(lines[2].contains("request_id"));
  EXPECT_EQ(lines[3]["request_id"], "0123abcd");
  EXPECT_FALSE(lines[3].contains("survey_id"));
}

TEST(LoggingTest, RequestIdsAreOursAndDistinct) {
  const std::string a = NewRequestId();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, NewRequestId());
}

}  // namespace
}  // namespace surveyd::app
