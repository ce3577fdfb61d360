#include "common/log.h"

#include <gtest/gtest.h>

namespace vmc {
namespace {

TEST(LogTest, EscapesControlCharactersToKeepOneLine) {
  EXPECT_EQ(EscapeForLog("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(EscapeForLog(std::string("x\0y\x1b[31m", 8)), "x\\x00y\\x1b[31m");
  EXPECT_EQ(EscapeForLog("plain UTF-8 \xc3\xa9"), "plain UTF-8 \xc3\xa9");
}

TEST(LogTest, LevelFiltersMessages) {
  SetLogProgram("logtest");
  SetLogLevel(LogLevel::kWarning);
  testing::internal::CaptureStderr();
  LogInfo("hidden");
  LogWarning("shown\ninjected: error: fake");
  LogError("also shown");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err,
            "logtest: warning: shown\\ninjected: error: fake\n"
            "logtest: error: also shown\n");
  SetLogLevel(LogLevel::kDebug);
  testing::internal::CaptureStderr();
  LogDebug("now shown");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "logtest: debug: now shown\n");
}

}  // namespace
}  // namespace vmc
