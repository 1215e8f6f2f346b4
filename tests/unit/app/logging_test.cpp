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

TEST(LoggingTest, LinesThatCannotBeWrittenAreCountedAndTheCallerGoesOn) {
  // /dev/full: every write fails with ENOSPC, as on a full disk under the log file.
  std::FILE* full = std::fopen("/dev/full", "w");
  ASSERT_NE(full, nullptr) << "needs /dev/full";
  std::setvbuf(full, nullptr, _IONBF, 0);  // as stderr is
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  const auto before = LogWrites().failures;
  for (const auto& make : {MakeTextSink, MakeJsonSink}) {
    spdlog::logger lost("lost", make(full));
    lost.info("one");
    lost.error("two");
    lost.flush();
    EXPECT_TRUE(LogWrites().failing);
    spdlog::logger kept("kept", make(file));
    kept.info("three");
    EXPECT_FALSE(LogWrites().failing) << "a line written again clears it";
  }
  EXPECT_EQ(LogWrites().failures - before, 4u);
  std::rewind(file);
  char line[256];
  ASSERT_NE(std::fgets(line, sizeof line, file), nullptr);
  EXPECT_NE(std::string(line).find(" info three"), std::string::npos) << line;
  ASSERT_NE(std::fgets(line, sizeof line, file), nullptr);
  EXPECT_NE(std::string(line).find("\"msg\":\"three\""), std::string::npos) << line;
  std::fclose(full);
  std::fclose(file);
}

TEST(LoggingTest, RequestIdsAreOursAndDistinct) {
  const std::string a = NewRequestId();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, NewRequestId());
}

}  // namespace
}  // namespace surveyd::app
