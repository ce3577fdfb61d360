#include "common/cli.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <openssl/crypto.h>

#include <regex>
#include <sstream>

#include "common/build_info.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc {
namespace {

class CliTest : public testing::Test {
 protected:
  CliTest() : cli_("tool", "A test tool.", Globals()) {
    cli_.Add({{"list", "create"},
              "create a list",
              "",
              "",
              [](po::options_description& o, po::positional_options_description&) {
                o.add_options()("title", po::value<std::string>()->required(), "title")(
                    "lifetime", po::value<int>()->default_value(28), "days");
              },
              [this](const Invocation& inv) -> Status {
                seen_title_ = inv.Get<std::string>("title");
                seen_lifetime_ = inv.Get<int>("lifetime");
                *inv.out << "created\n";
                return Ok();
              }});
    cli_.Add({{"list", "show"},
              "show a list",
              "LIST",
              "",
              [](po::options_description& o, po::positional_options_description& p) {
                o.add_options()("list", po::value<std::string>()->required(), "list id");
                p.add("list", 1);
              },
              [](const Invocation& inv) -> Status {
                return Error(ErrorCode::kNotFound, "no list " + inv.Get<std::string>("list"))
                    .With("list", inv.Get<std::string>("list"));
              }});
    po::options_description keys;
    keys.add_options()("lifetime", po::value<int>(), "days")("title", po::value<std::string>(),
                                                             "title");
    cli_.SetConfig(keys, [](const po::variables_map& vm) -> std::optional<ConfigSource> {
      if (vm.count("config") == 0) return std::nullopt;
      return ConfigSource{vm["config"].as<std::string>(), true};
    });
  }

  static po::options_description Globals() {
    po::options_description g("Global options");
    g.add_options()("config", po::value<std::string>(), "config file");
    return g;
  }

  int Run(const std::vector<std::string>& args) {
    out_.str("");
    err_.str("");
    return cli_.Run(args, out_, err_);
  }

  CommandLine cli_;
  std::ostringstream out_, err_;
  std::string seen_title_;
  int seen_lifetime_ = 0;
};

TEST_F(CliTest, HelpAtEveryLevel) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_NE(out_.str().find("list create"), std::string::npos);
  EXPECT_EQ(Run({"list", "--help"}), 0);
  EXPECT_NE(out_.str().find("show a list"), std::string::npos);
  EXPECT_EQ(Run({"list", "create", "--help"}), 0);
  EXPECT_NE(out_.str().find("--title"), std::string::npos);
  EXPECT_NE(out_.str().find("--json"), std::string::npos);
}

TEST_F(CliTest, VersionBeforeAnyCommand) {
  const BuildInfo info = TheBuildInfo();
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--version"}, {"--version", "list", "create"}}) {
    EXPECT_EQ(Run(args), 0);
    EXPECT_EQ(out_.str(), VersionText("tool", info));
    EXPECT_EQ(err_.str(), "");
  }
  EXPECT_EQ(Run({"--json", "--version"}), 0);
  EXPECT_EQ(out_.str(), VersionJson("tool", info));
  // After a command it is the command's own option (caster sign --version
  // sets the list's): this one has none.
  EXPECT_EQ(Run({"list", "create", "--title", "t", "--version"}), 1);
  EXPECT_NE(err_.str().find("'--version'"), std::string::npos) << err_.str();
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_NE(out_.str().find("'tool --version' for the version"), std::string::npos);
}

TEST(BuildInfoTest, SaysTheVersionsItRunsWith) {
  const BuildInfo info = TheBuildInfo();
  EXPECT_TRUE(std::regex_match(info.version, std::regex("[0-9]+\\.[0-9]+\\.[0-9]+")))
      << info.version;
  EXPECT_EQ(info.openssl, OpenSSL_version(OPENSSL_VERSION_STRING));
  EXPECT_EQ(info.openssl.rfind(std::to_string(OPENSSL_VERSION_MAJOR) + ".", 0), 0u);
  EXPECT_EQ(info.libcurl, LIBCURL_VERSION);  // Debian builds and runs with one libcurl
  EXPECT_EQ(info.lmdb, std::to_string(MDB_VERSION_MAJOR) + "." + std::to_string(MDB_VERSION_MINOR) +
                           "." + std::to_string(MDB_VERSION_PATCH));
  EXPECT_EQ(VersionText("catcher", info), "catcher " + info.version + " (commit " + info.commit +
                                              ")\nOpenSSL " + info.openssl + ", libcurl " +
                                              info.libcurl + ", LMDB " + info.lmdb + "\n");
  // The commit of the tree the test was built from.
  const auto git = test::Run({"git", "-C", VMC_SOURCE_DIR, "rev-parse", "--short=12", "HEAD"});
  std::string head = git.exit_code == 0 ? git.out : "";
  while (!head.empty() && head.back() == '\n') head.pop_back();
  if (head.empty()) {
    EXPECT_EQ(info.commit, "unknown");  // not a git checkout
    return;
  }
  // A commit of this tree's history: HEAD itself in a build from a clean
  // clone, an ancestor when commits were made since the last build.
  std::string commit = info.commit;
  if (commit.ends_with("-dirty")) commit.resize(commit.size() - 6);
  EXPECT_EQ(commit.size(), 12u) << info.commit;
  const auto ancestor =
      test::Run({"git", "-C", VMC_SOURCE_DIR, "merge-base", "--is-ancestor", commit, "HEAD"});
  EXPECT_EQ(ancestor.exit_code, 0) << info.commit << " is not in the history of " << head;
}

TEST_F(CliTest, AnUnknownOptionIsNamedEvenWithoutACommand) {
  EXPECT_EQ(Run({"--bogus"}), 1);
  EXPECT_EQ(err_.str(), "tool: error: unrecognised option '--bogus' (see 'tool --help') [usage]\n");
  EXPECT_EQ(Run({"list", "--bogus"}), 1);
  EXPECT_EQ(err_.str(),
            "tool: error: unrecognised option '--bogus' (see 'tool list --help') [usage]\n");
}

TEST_F(CliTest, MissingCommandIsAUsageError) {
  EXPECT_EQ(Run({}), 1);
  EXPECT_EQ(Run({"list"}), 1);
  EXPECT_NE(err_.str().find("needs a subcommand"), std::string::npos);
  EXPECT_EQ(Run({"nonsense"}), 1);
  EXPECT_NE(err_.str().find("unknown command 'nonsense'"), std::string::npos);
  EXPECT_EQ(Run({"list", "bogus"}), 1);
  EXPECT_NE(err_.str().find("unknown command 'list bogus'"), std::string::npos);
  EXPECT_EQ(Run({"list", "create"}), 1);  // --title is required
  EXPECT_NE(err_.str().find("title"), std::string::npos);
  EXPECT_EQ(Run({"list", "create", "--title", "x", "--bogus"}), 1);
}

TEST_F(CliTest, RunsCommandAndMapsErrorsToExitStatus) {
  EXPECT_EQ(Run({"list", "create", "--title", "T"}), 0);
  EXPECT_EQ(seen_title_, "T");
  EXPECT_EQ(seen_lifetime_, 28);
  EXPECT_EQ(Run({"list", "show", "abc"}), 5);
  EXPECT_EQ(err_.str(), "tool: error: no list abc [not-found]\n");
}

TEST_F(CliTest, JsonErrorsGoToStdoutAnywhereOnTheLine) {
  EXPECT_EQ(Run({"list", "show", "abc", "--json"}), 5);
  EXPECT_EQ(out_.str(),
            "{\"error\":{\"code\":\"not-found\",\"message\":\"no list abc\",\"exit_status\":5,"
            "\"list\":\"abc\"}}\n");
  EXPECT_EQ(Run({"--json", "list", "create"}), 1);
  EXPECT_NE(out_.str().find("\"code\":\"usage\""), std::string::npos);
}

TEST_F(CliTest, ConfigFillsWhatTheCommandLineLeftUnset) {
  test::TempDir dir;
  test::WriteFile(dir / "tool.conf", "# comment\nlifetime = 7\ntitle = from-config\n");
  const std::string conf = (dir / "tool.conf").string();
  EXPECT_EQ(Run({"--config", conf, "list", "create"}), 0);
  EXPECT_EQ(seen_title_, "from-config");
  EXPECT_EQ(seen_lifetime_, 7);
  EXPECT_EQ(Run({"list", "create", "--config", conf, "--title", "cli", "--lifetime", "3"}), 0);
  EXPECT_EQ(seen_title_, "cli");
  EXPECT_EQ(seen_lifetime_, 3);
}

TEST_F(CliTest, BadConfigIsAConfigError) {
  test::TempDir dir;
  test::WriteFile(dir / "bad.conf", "unknown_key = 1\n");
  EXPECT_EQ(Run({"--config", (dir / "bad.conf").string(), "list", "create", "--title", "x"}), 2);
  EXPECT_NE(err_.str().find("bad.conf"), std::string::npos);
  EXPECT_EQ(Run({"--config", (dir / "missing.conf").string(), "list", "create", "--title", "x"}),
            2);
}

}  // namespace
}  // namespace vmc
