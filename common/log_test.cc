#include "common/log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

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

// A terminal acts on C1 controls (U+009B is CSI: "\xc2\x9b" "31m" turns the
// text red) and the bidirectional controls reorder what a person reads.
TEST(LogTest, EscapesC1ControlsAndBidirectionalOverrides) {
  EXPECT_EQ(EscapeForLog("a\xc2\x9b"
                         "31mb"),
            "a\\u009b31mb");
  EXPECT_EQ(EscapeForLog("\xc2\x80\xc2\x85\xc2\x9f"), "\\u0080\\u0085\\u009f");
  EXPECT_EQ(EscapeForLog("\xc2\xa0\xc2\x7f"), "\xc2\xa0\\xc2\\x7f");  // NBSP stays
  for (const char32_t cp : {0x202aU, 0x202bU, 0x202cU, 0x202dU, 0x202eU, 0x2066U, 0x2067U, 0x2068U,
                            0x2069U, 0x200eU, 0x200fU, 0x2028U, 0x2029U}) {
    const std::string utf8 = {static_cast<char>(0xe0 | (cp >> 12)),
                              static_cast<char>(0x80 | ((cp >> 6) & 0x3f)),
                              static_cast<char>(0x80 | (cp & 0x3f))};
    char expected[8];
    std::snprintf(expected, sizeof(expected), "\\u%04x", static_cast<unsigned>(cp));
    EXPECT_EQ(EscapeForLog("x" + utf8 + "y"), "x" + std::string(expected) + "y") << expected;
  }
  EXPECT_EQ(EscapeForLog("\xd8\x9c"), "\\u061c");
  // Neighbours that a terminal shows as they are.
  EXPECT_EQ(EscapeForLog("\xe2\x80\xa9\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa"),
            "\\u2029\xe2\x80\xa7\xe2\x80\xaf\xe2\x81\xa5\xe2\x81\xaa");
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
  testing::internal::CaptureStderr();
  LogNotice("a command's notice");
  SetLogLevel(LogLevel::kNotice);
  LogNotice("a daemon's notice");
  LogInfo("hidden still");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "logtest: notice: a daemon's notice\n");
  SetLogLevel(LogLevel::kDebug);
  testing::internal::CaptureStderr();
  LogDebug("now shown");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "logtest: debug: now shown\n");
}

// JOURNAL_STREAM naming the stream stderr is now (gtest's capture file), or
// another one.
void SetJournalStream(bool is_stderr) {
  struct stat st {};
  ASSERT_EQ(fstat(STDERR_FILENO, &st), 0);
  const auto inode = static_cast<unsigned long long>(st.st_ino) + (is_stderr ? 0 : 1);
  const std::string value =
      std::to_string(static_cast<unsigned long long>(st.st_dev)) + ":" + std::to_string(inode);
  setenv("JOURNAL_STREAM", value.c_str(), 1);
}

TEST(LogTest, TheJournalGetsEachLinesPriority) {
  SetLogLevel(LogLevel::kDebug);
  testing::internal::CaptureStderr();
  SetJournalStream(true);
  SetLogProgram("logtest");
  LogError("e");
  LogWarning("w");
  LogNotice("n");
  LogInfo("i");
  LogDebug("d");
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "<3>logtest: error: e\n<4>logtest: warning: w\n<5>logtest: notice: n\n"
            "<6>logtest: info: i\n<7>logtest: debug: d\n");
  // A stderr the unit redirected elsewhere is no journal, whatever the
  // variable says; nor is a variable that is not DEVICE:INODE.
  for (const char* other : {"", "12", "1:2:3", "x:y"}) {
    testing::internal::CaptureStderr();
    if (*other == '\0') {
      SetJournalStream(false);
    } else {
      setenv("JOURNAL_STREAM", other, 1);
    }
    SetLogProgram("logtest");
    LogWarning("w");
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "logtest: warning: w\n") << other;
  }
  unsetenv("JOURNAL_STREAM");
  SetLogProgram("logtest");
  SetLogLevel(LogLevel::kWarning);
}

}  // namespace
}  // namespace vmc
