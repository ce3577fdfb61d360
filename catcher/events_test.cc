#include "catcher/events.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/socket.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "catcher/state.h"
#include "common/unique_fd.h"
#include "test/support/scoped_env.h"
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
      {R"(handler a\ b "q\"q" 'it''s')", {"handler", "a b", "q\"q", "its"}},
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
                            R"(` && rm -rf / "quoted" \ $HOME ${PATH} | & > <)";
  const std::string description = "line one\nline two\n\ttabbed; touch " + pwned + "\n";
  const ImageList list = MakeList(title, description);
  const auto& images = list.images();
  const Event event = ImageEvent("AvailablePostfix", list, images[0], images[0].identifier(),
                                 CacheLayout(dir_.path()));
  const EventRunner runner({"/bin/sh", handler_.string(), (dir_ / "out").string()},
                           std::chrono::seconds(10), dir_ / "events");
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
  const auto& images = list.images();
  const Event e = ImageEvent("ExpirePrefix", list, images[0], "file", CacheLayout("/s"));
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
  // vmcatcher's names for the layout's directories.
  EXPECT_EQ(e.variables.at("VMCATCHER_CACHE_DIR_CACHE"), "/s/cache");
  EXPECT_EQ(e.variables.at("VMCATCHER_CACHE_DIR_DOWNLOAD"), "/s/partial");
  EXPECT_EQ(e.variables.at("VMCATCHER_CACHE_DIR_EXPIRE"), "/s/expired");
  EXPECT_EQ(e.variables.at("VMCATCHER_EVENT_IL_DC_IDENTIFIER"),
            "4e186b44-2c64-40ea-97d5-e9e5c0bce059");
}

TEST_F(EventRunTest, FailingHandlerIsReported) {
  const EventRunner runner({"/bin/sh", "-c", "exit 3"}, std::chrono::seconds(10), dir_ / "events");
  const Status s = runner.Run(ProcessEvent("ProcessPrefix", CacheLayout("/s")));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("exited 3"), std::string::npos);
  const EventRunner missing({"/nonexistent/handler"}, std::chrono::seconds(10), dir_ / "events");
  EXPECT_FALSE(missing.Run(ProcessEvent("ProcessPrefix", CacheLayout("/s"))).ok());
}

TEST_F(EventRunTest, HangingHandlerIsKilledAtTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const EventRunner runner({"/bin/sh", "-c", "sleep 60 & sleep 60"}, std::chrono::seconds(1),
                           dir_ / "events");
  const Status s = runner.Run(ProcessEvent("ProcessPrefix", CacheLayout("/s")));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("timed out"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// A handler is given stdin from /dev/null, stdout and stderr, and no other
// descriptor of catcher's: not the read-write LMDB files, not a socket, not a
// file opened without O_CLOEXEC. The handler becomes ls (exec), which lists
// its own descriptors into a file on its stdout: what it holds beyond 0, 1
// and 2 is what it inherited, but for the one it reads /proc/self/fd with,
// which is told apart by its target (/proc/<pid>/fd).
TEST_F(EventRunTest, HandlerInheritsOnlyStdio) {
  auto state = State::Open(dir_ / "state");
  ASSERT_TRUE(state.ok()) << state.error().ToString();
  const UniqueFd leaky_file(open((dir_ / "leak").c_str(), O_RDWR | O_CREAT, 0600));
  ASSERT_GE(leaky_file.get(), 0);
  const UniqueFd leaky_socket(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_GE(leaky_socket.get(), 0);
  const fs::path listing = dir_ / "out" / "fds";
  const EventRunner runner({"/bin/sh", "-c", "exec ls -l /proc/self/fd > \"$0\"", listing.string()},
                           std::chrono::seconds(10), dir_ / "events");
  const Status s = runner.Run(ProcessEvent("ProcessPrefix", CacheLayout("/s")));
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  std::map<std::string, std::string> fds;  // descriptor -> what it is
  std::istringstream lines(test::ReadFile(listing));
  for (std::string line; std::getline(lines, line);) {
    const auto arrow = line.find(" -> ");
    if (arrow == std::string::npos) continue;
    const auto space = line.rfind(' ', arrow - 1);
    const std::string target = line.substr(arrow + 4);
    const bool listing_itself = target.starts_with("/proc/") && target.ends_with("/fd");
    if (!listing_itself) fds[line.substr(space + 1, arrow - space - 1)] = target;
  }
  std::vector<std::string> names;
  names.reserve(fds.size());
  for (const auto& [fd, target] : fds) names.emplace_back(fd).append(" -> ").append(target);
  EXPECT_EQ(fds.size(), 3u) << "the handler inherited: " << testing::PrintToString(names);
  EXPECT_EQ(fds["1"], listing.string());
  EXPECT_EQ(fds.count("2"), 1u);
  EXPECT_EQ(fds["0"], "/dev/null");
}

// A 200 KiB title (execve refuses any variable over 128 KiB with E2BIG): the
// handler runs, its variable is cut at a character boundary and marked, the
// cut is named, and the whole title is in the metadata file (0600, removed
// after the handler ends).
TEST_F(EventRunTest, OversizedVariableIsCappedAndWholeInMetadataFile) {
  std::string title = "x";
  for (int i = 0; i < 100000; ++i) title += "\xc3\xa9";  // e-acute, two bytes each
  const ImageList list = MakeList(title, "short");
  const auto& images = list.images();
  const Event event = ImageEvent("AvailablePostfix", list, images[0], "img", CacheLayout("/s"));
  const fs::path out = dir_ / "out";
  const EventRunner runner({"/bin/sh", "-c",
                            "printf '%s' \"$VMCATCHER_EVENT_DC_TITLE\" > \"$0/title\"; "
                            "printf '%s' \"$VMCATCHER_EVENT_DC_DESCRIPTION\" > \"$0/description\"; "
                            "printf '%s' \"$CATCHER_EVENT_TRUNCATED\" > \"$0/truncated\"; "
                            "printf '%s' \"$CATCHER_EVENT_METADATA_FILE\" > \"$0/metadata-path\"; "
                            "stat -c %a \"$CATCHER_EVENT_METADATA_FILE\" > \"$0/metadata-mode\"; "
                            "cat \"$CATCHER_EVENT_METADATA_FILE\" > \"$0/metadata\"",
                            out.string()},
                           std::chrono::seconds(10), dir_ / "events");
  const Status s = runner.Run(event);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  const std::string capped = test::ReadFile(out / "title");
  EXPECT_LE(capped.size(), kMaxVariableBytes);
  // 4096 - 14 bytes of the marker = 4082 would end inside a character.
  EXPECT_EQ(capped, title.substr(0, 4081) + "\xe2\x80\xa6[truncated]");
  EXPECT_EQ(test::ReadFile(out / "description"), "short");
  EXPECT_EQ(test::ReadFile(out / "truncated"), "VMCATCHER_EVENT_DC_TITLE");
  EXPECT_EQ(test::ReadFile(out / "metadata-mode"), "600\n");
  rapidjson::Document doc;
  doc.Parse(test::ReadFile(out / "metadata").c_str());
  ASSERT_TRUE(doc.IsObject()) << test::ReadFile(out / "metadata").substr(0, 200);
  ASSERT_TRUE(doc.HasMember("VMCATCHER_EVENT_DC_TITLE"));
  EXPECT_EQ(std::string(doc["VMCATCHER_EVENT_DC_TITLE"].GetString(),
                        doc["VMCATCHER_EVENT_DC_TITLE"].GetStringLength()),
            title);
  EXPECT_EQ(std::string(doc["VMCATCHER_EVENT_TYPE"].GetString()), "AvailablePostfix");
  const fs::path metadata = test::ReadFile(out / "metadata-path");
  EXPECT_EQ(metadata.parent_path(), dir_ / "events");
  EXPECT_FALSE(fs::exists(metadata)) << "the metadata file outlived the handler";
  EXPECT_EQ(fs::status(dir_ / "events").permissions(), fs::perms::owner_all);
}

TEST(CapValueTest, CutsAtACharacterBoundaryAndMarks) {
  EXPECT_EQ(CapValue("short", 20), "short");
  EXPECT_EQ(CapValue(std::string(20, 'a'), 20), std::string(20, 'a'));
  EXPECT_EQ(CapValue(std::string(21, 'a'), 20),
            std::string(6, 'a') + std::string(kTruncatedMarker));
  // A euro sign (three bytes) that would be cut is left out whole.
  EXPECT_EQ(CapValue("aaaa\xe2\x82\xac" + std::string(30, 'b'), 20),
            "aaaa" + std::string(kTruncatedMarker));
}

TEST_F(EventRunTest, TheCommandIsCheckedWhenConfiguredNotAtItsFirstEvent) {
  Settings settings;
  settings.state_dir = dir_.path();
  const auto made = [&](const std::string& command) {
    settings.event_command = command;
    return MakeEventRunner(settings);
  };
  test::WriteFile(dir_ / "not-executable", "#!/bin/sh\n");
  const std::vector<std::string> bads = {(dir_ / "missing").string(),
                                         (dir_ / "not-executable").string(), dir_.path().string(),
                                         "no-such-handler-anywhere"};
  for (const std::string& bad : bads) {
    const auto r = made(bad + " --flag");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kConfigInvalid);
    EXPECT_EQ(
        r.error().message().rfind("event-command: \"" + bad + "\" is not an executable file", 0),
        0u)
        << r.error().message();
  }
  EXPECT_NE(made("no-such-handler-anywhere").error().message().find("in any directory of PATH"),
            std::string::npos);
  EXPECT_TRUE(made("/bin/sh " + handler_.string() + " " + (dir_ / "out").string()).ok());
  EXPECT_TRUE(made("sh -c true").ok());  // found in PATH
  EXPECT_TRUE(made("").ok());
}

TEST_F(EventRunTest, NoCommandRunsNothing) {
  const EventRunner runner({}, std::chrono::seconds(1), dir_ / "events");
  EXPECT_FALSE(runner.enabled());
  EXPECT_TRUE(runner.Run(ProcessEvent("ProcessPrefix", CacheLayout("/s"))).ok());
}

// --- the handler's environment ----------------------------------------------

// What a handler was given: `env` of one run, as name -> value.
std::map<std::string, std::string> EnvironmentOf(const EventRunner& runner, const Event& event,
                                                 const fs::path& out) {
  EXPECT_TRUE(runner.Run(event).ok());
  std::map<std::string, std::string> seen;
  std::istringstream lines(test::ReadFile(out));
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) seen[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return seen;
}

// vmcatcher gives its handlers its own environment (launch.py starts from
// os.environ): a handler finds the service's OS_CLOUD or proxy there. What
// catcher or vmcatcher variables the daemon was started with, and systemd's
// to the service, are not passed on.
TEST_F(EventRunTest, AHandlerInheritsTheServicesEnvironmentButNoEventsOrSystemdsVariables) {
  const test::ScopedEnv env({{"OS_CLOUD", "site-cloud"},
                             {"https_proxy", "http://proxy.example.org:3128"},
                             {"VMCATCHER_EVENT_DC_TITLE", "stale title"},
                             {"VMCATCHER_EVENT_VO", "stale vo"},
                             {"CATCHER_EVENT_ID", "stale id"},
                             {"NOTIFY_SOCKET", "/run/systemd/notify"},
                             {"JOURNAL_STREAM", "8:12345"}});
  const fs::path out = dir_ / "out" / "env";
  const EventRunner runner({"/bin/sh", "-c", "env > \"$0\"", out.string()},
                           std::chrono::seconds(10), dir_ / "events");
  const ImageList list = MakeList("fresh title", "d");
  auto seen = EnvironmentOf(
      runner,
      ImageEvent("AvailablePostfix", list, list.images()[0], "img", CacheLayout(dir_.path())), out);
  EXPECT_EQ(seen["OS_CLOUD"], "site-cloud");
  EXPECT_EQ(seen["https_proxy"], "http://proxy.example.org:3128");
  EXPECT_EQ(seen["VMCATCHER_EVENT_DC_TITLE"], "fresh title");
  EXPECT_EQ(seen["VMCATCHER_EVENT_VO"], "");  // the image has none: the event's, not the stale one
  EXPECT_EQ(seen.count("CATCHER_EVENT_ID"), 0U);
  EXPECT_EQ(seen.count("NOTIFY_SOCKET"), 0U);
  EXPECT_EQ(seen.count("JOURNAL_STREAM"), 0U);
}

// One event's variables never reach the next: a Process event after an
// image event carries no image variable, and both carry one session id.
TEST_F(EventRunTest, NoVariableOfOneEventReachesTheNextAndTheSessionIsOnePerRun) {
  const fs::path out = dir_ / "out" / "env";
  const EventRunner runner({"/bin/sh", "-c", "env > \"$0\"", out.string()},
                           std::chrono::seconds(10), dir_ / "events");
  const ImageList list = MakeList("t", "d");
  auto first = EnvironmentOf(
      runner, ImageEvent("AvailablePostfix", list, list.images()[0], "img", CacheLayout("/s")),
      out);
  auto second = EnvironmentOf(runner, ProcessEvent("ProcessPostfix", CacheLayout("/s")), out);
  EXPECT_EQ(first.count("VMCATCHER_EVENT_DC_IDENTIFIER"), 1U);
  for (const auto& [name, value] : second) {
    EXPECT_FALSE(name.starts_with("VMCATCHER_EVENT_") && name != "VMCATCHER_EVENT_TYPE" &&
                 name != "VMCATCHER_EVENT_UUID_SESSION")
        << name << "=" << value << " reached the next event";
  }
  EXPECT_EQ(second["VMCATCHER_EVENT_TYPE"], "ProcessPostfix");
  const std::string session = first["VMCATCHER_EVENT_UUID_SESSION"];
  EXPECT_EQ(session.size(), 36U) << session;
  EXPECT_EQ(second["VMCATCHER_EVENT_UUID_SESSION"], session);
  // Another runner of the same process (the daemon's next cycle): the same.
  const EventRunner next({"/bin/sh", "-c", "env > \"$0\"", out.string()}, std::chrono::seconds(10),
                         dir_ / "events");
  EXPECT_EQ(EnvironmentOf(next, ProcessEvent("ProcessPrefix", CacheLayout("/s")),
                          out)["VMCATCHER_EVENT_UUID_SESSION"],
            session);
}

// event-environment = clean: only PATH, HOME, LANG, LC_ALL and TZ of ours.
TEST_F(EventRunTest, ACleanEnvironmentKeepsOnlyAFewOfOurVariables) {
  const test::ScopedEnv env({{"OS_CLOUD", "site-cloud"}, {"TZ", "UTC"}});
  const fs::path out = dir_ / "out" / "env";
  const EventRunner runner({"/bin/sh", "-c", "env > \"$0\"", out.string()},
                           std::chrono::seconds(10), dir_ / "events", EventEnvironment::kClean);
  auto seen = EnvironmentOf(runner, ProcessEvent("ProcessPrefix", CacheLayout("/s")), out);
  EXPECT_EQ(seen.count("OS_CLOUD"), 0U);
  EXPECT_EQ(seen["TZ"], "UTC");
  EXPECT_FALSE(seen["PATH"].empty());
  EXPECT_EQ(seen["VMCATCHER_EVENT_TYPE"], "ProcessPrefix");
}

}  // namespace
}  // namespace vmc::catcher
