#include "common/log.h"

#include <gtest/gtest.h>

namespace vmc {
namespace {

TEST(LogTest, EscapesControlCharactersToKeepOneLine) {
  EXPECT_EQ(EscapeForLog("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(EscapeForLog(std::string("x\0y\x1b[31m", 8)), "x\\x00y\\x1b[31m");
  EXPECT_EQ(EscapeForLog("plain UTF-8 \xc3\xa9"), "plain UTF-8 \xc3\xa9");
}

// Found by test/fuzz/policy_fuzz: an excerpt cut inside a character made
// error messages (and their --json form) invalid UTF-8.
TEST(LogTest, EscapesBytesThatAreNotUtf8) {
  EXPECT_EQ(EscapeForLog("cut \xe0\xba"), "cut \\xe0\\xba");
  EXPECT_EQ(EscapeForLog("\xff\xc3\xa9\x80"), "\\xff\xc3\xa9\\x80");
  EXPECT_EQ(EscapeForLog("\xed\xb0\x80"), "\\xed\\xb0\\x80");           // a surrogate
  EXPECT_EQ(EscapeForLog("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(EscapeForLog("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
  EXPECT_EQ(EscapeForLog("\xf0\x9f\x98\x80 \xe2\x82\xac"), "\xf0\x9f\x98\x80 \xe2\x82\xac");
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
