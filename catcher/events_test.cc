#include "catcher/events.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;

TEST(EventsTest, SplitsTheAdminsCommandOnceWithoutExpansion) {
  struct Case {
    const char* in;
    std::vector<std::string> out;
  };
  const Case cases[] = {
      {"/usr/bin/handler", {"/usr/bin/handler"}},
      {"  handler  --flag   value ", {"handler", "--flag", "value"}},
      {"handler 'a b' \"c d\"", {"handler", "a b", "c d"}},
      {"handler '$HOME' \"$(x)\" `y`", {"handler", "$HOME", "$(x)", "`y`"}},
      {"handler a\\ b \"q\\\"q\" 'it''s'", {"handler", "a b", "q\"q", "its"}},
      {"handler ''", {"handler", ""}},
  };
  for (const auto& c : cases) {
    const auto words = SplitCommandLine(c.in);
    ASSERT_TRUE(words.ok()) << c.in;
    EXPECT_EQ(*words, c.out) << c.in;
  }
  for (const char* bad : {"", "   ", "handler 'open", "handler \"open"}) {
    const auto words = SplitCommandLine(bad);
    ASSERT_FALSE(words.ok()) << bad;
    EXPECT_EQ(words.error().code(), ErrorCode::kConfigInvalid);
  }
}

class EventRunTest : public testing::Test {
 protected:
  void SetUp() override {
    handler_ = dir_ / "handler.sh";
    // Writes each variable it is given to a file of that name: the values
    // travel only in the environment, and are quoted where the shell reads
    // them.
    test::WriteFile(handler_,
                    "#!/bin/sh\n"
                    "out=$1\n"
                    "printf '%s' \"$VMCATCHER_EVENT_TYPE\" > \"$out/type\"\n"
                    "printf '%s' \"$VMCATCHER_EVENT_DC_TITLE\" > \"$out/title\"\n"
                    "printf '%s' \"$VMCATCHER_EVENT_DC_DESCRIPTION\" > \"$out/description\"\n"
                    "printf '%s' \"$VMCATCHER_EVENT_SL_CHECKSUM_SHA512\" > \"$out/sha\"\n"
                    "printf '%s' \"$VMCATCHER_CACHE_DIR_CACHE\" > \"$out/cache\"\n"
                    "exit ${EXIT_WITH:-0}\n");
    fs::create_directories(dir_ / "out");
  }

  ImageList MakeList(const std::string& title, const std::string& description) {
    auto list = ImageList::Create({"4e186b44-2c64-40ea-97d5-e9e5c0bce059", "t", "d", "s", "u"});
    EXPECT_TRUE(list.ok());
    EXPECT_TRUE(list->AddImage({"488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d", "https://x/img", 42,
                                std::string(128, 'a'), title})
                    .ok());
    EXPECT_TRUE(
        list->SetImage("488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d", "dc:description", description).ok());
    return std::move(list).value();
  }

  test::TempDir dir_;
  fs::path handler_;
};

TEST_F(EventRunTest, HookReceivesHostileTitleVerbatim) {
  const std::string pwned = (dir_ / "pwned").string();
  const std::string title = "x'; touch " + pwned + "; echo '$(touch " + pwned + ")`touch " + pwned +
                            "` && rm -rf / \"quoted\" \\ $HOME ${PATH} | & > <";
  const std::string description = "line one\nline two\n\ttabbed; touch " + pwned + "\n";
  const ImageList list = MakeList(title, description);
  const auto images = list.images();
  const CacheDirectories dirs{dir_ / "cache", dir_ / "partial", dir_ / "expired"};
  const Event event = ImageEvent("AvailablePostfix", list, images[0], images[0].identifier(), dirs);
  const EventRunner runner({"/bin/sh", handler_.string(), (dir_ / "out").string()},
                           std::chrono::seconds(10));
  ASSERT_TRUE(runner.Run(event).ok());
  EXPECT_EQ(test::ReadFile(dir_ / "out/type"), "AvailablePostfix");
  EXPECT_EQ(test::ReadFile(dir_ / "out/title"), title);
  EXPECT_EQ(test::ReadFile(dir_ / "out/description"), description);
  EXPECT_EQ(test::ReadFile(dir_ / "out/sha"), std::string(128, 'a'));
  EXPECT_EQ(test::ReadFile(dir_ / "out/cache"), (dir_ / "cache").string());
  EXPECT_FALSE(fs::exists(pwned)) << "list data was executed";
}

TEST_F(EventRunTest, EventCarriesVmcatcherVariables) {
  const ImageList list = MakeList("t", "d");
  const auto images = list.images();
  const Event e = ImageEvent("ExpirePrefix", list, images[0], "file", {"/c", "/d", "/e"});
  for (const char* name : {"VMCATCHER_EVENT_TYPE",        "VMCATCHER_EVENT_DC_IDENTIFIER",
                           "VMCATCHER_EVENT_DC_TITLE",    "VMCATCHER_EVENT_DC_DESCRIPTION",
                           "VMCATCHER_EVENT_HV_URI",      "VMCATCHER_EVENT_HV_SIZE",
                           "VMCATCHER_EVENT_HV_VERSION",  "VMCATCHER_EVENT_HV_HYPERVISOR",
                           "VMCATCHER_EVENT_HV_FORMAT",   "VMCATCHER_EVENT_SL_ARCH",
                           "VMCATCHER_EVENT_SL_OS",       "VMCATCHER_EVENT_SL_OSVERSION",
                           "VMCATCHER_EVENT_SL_COMMENTS", "VMCATCHER_EVENT_SL_CHECKSUM_SHA512",
                           "VMCATCHER_EVENT_FILENAME",    "VMCATCHER_EVENT_IL_DC_IDENTIFIER",
                           "VMCATCHER_EVENT_AD_MPURI",    "VMCATCHER_EVENT_VO",
                           "VMCATCHER_CACHE_DIR_CACHE",   "VMCATCHER_CACHE_DIR_DOWNLOAD",
                           "VMCATCHER_CACHE_DIR_EXPIRE"}) {
    EXPECT_EQ(e.variables.count(name), 1u) << name;
  }
  EXPECT_EQ(e.variables.at("VMCATCHER_EVENT_HV_SIZE"), "42");
  EXPECT_EQ(e.variables.at("VMCATCHER_EVENT_IL_DC_IDENTIFIER"),
            "4e186b44-2c64-40ea-97d5-e9e5c0bce059");
}

TEST_F(EventRunTest, FailingHandlerIsReported) {
  const EventRunner runner({"/bin/sh", "-c", "exit 3"}, std::chrono::seconds(10));
  const Status s = runner.Run(ProcessEvent("ProcessPrefix", {"/c", "/d", "/e"}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("exited 3"), std::string::npos);
  const EventRunner missing({"/nonexistent/handler"}, std::chrono::seconds(10));
  EXPECT_FALSE(missing.Run(ProcessEvent("ProcessPrefix", {"/c", "/d", "/e"})).ok());
}

TEST_F(EventRunTest, HangingHandlerIsKilledAtTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const EventRunner runner({"/bin/sh", "-c", "sleep 60 & sleep 60"}, std::chrono::seconds(1));
  const Status s = runner.Run(ProcessEvent("ProcessPrefix", {"/c", "/d", "/e"}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("timed out"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(EventRunTest, NoCommandRunsNothing) {
  const EventRunner runner({}, std::chrono::seconds(1));
  EXPECT_FALSE(runner.enabled());
  EXPECT_TRUE(runner.Run(ProcessEvent("ProcessPrefix", {"/c", "/d", "/e"})).ok());
}

}  // namespace
}  // namespace vmc::catcher
