// caster's settings: where the store and the config file are by default, and
// how the config file fills the options a command line leaves unset. Run
// through the real command-line frame with caster's global options and
// config keys and a probe command that records what it was given.
#include "caster/settings.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "test/support/scoped_env.h"
#include "test/support/temp_dir.h"

namespace vmc::caster {
namespace {

using test::ScopedEnv;
using test::TempDir;
using test::WriteFile;

// What the probe command saw.
struct Seen {
  std::string store;
  std::optional<std::string> cert;
  std::optional<int> lifetime;
  std::vector<std::string> upload;
};

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
  Seen seen;
};

// Runs `caster probe ARGS` with caster's settings and a probe that declares
// --cert and --lifetime like `sign` does.
Outcome RunProbe(const std::vector<std::string>& args) {
  Outcome outcome;
  CommandLine cli("caster", "test", GlobalOptions());
  cli.SetConfig(ConfigKeys(), LocateConfig);
  cli.Add({{"probe"},
           "records its settings",
           "",
           "",
           [](po::options_description& o, po::positional_options_description&) {
             o.add_options()("cert", po::value<std::string>(), "")("lifetime", po::value<int>(),
                                                                   "");
           },
           [&outcome](const Invocation& inv) -> Status {
             outcome.seen.store = StoreDir(inv).string();
             outcome.seen.cert = inv.Find<std::string>("cert");
             outcome.seen.lifetime = inv.Find<int>("lifetime");
             outcome.seen.upload =
                 inv.Find<std::vector<std::string>>("upload").value_or(std::vector<std::string>{});
             return Ok();
           }});
  std::vector<std::string> argv = {"probe"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::ostringstream out, err;
  outcome.exit_code = cli.Run(argv, out, err);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

TEST(SettingsTest, StoreFromXdgDataHome) {
  TempDir home;
  const std::string xdg = (home / "data").string();
  const ScopedEnv env({{"XDG_DATA_HOME", xdg.c_str()}, {"XDG_CONFIG_HOME", xdg.c_str()}});
  const Outcome o = RunProbe({});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.seen.store, xdg + "/caster");
}

TEST(SettingsTest, StoreFromHomeWithoutXdg) {
  TempDir home;
  const ScopedEnv env(
      {{"HOME", home.path().c_str()}, {"XDG_DATA_HOME", nullptr}, {"XDG_CONFIG_HOME", nullptr}});
  const Outcome o = RunProbe({});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.seen.store, (home / ".local/share/caster").string());
}

TEST(SettingsTest, RelativeXdgDirectoryIgnored) {
  // The XDG spec: relative paths are invalid and must be ignored.
  TempDir home;
  const ScopedEnv env({{"HOME", home.path().c_str()},
                       {"XDG_DATA_HOME", "relative/data"},
                       {"XDG_CONFIG_HOME", "relative/config"}});
  const Outcome o = RunProbe({});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.seen.store, (home / ".local/share/caster").string());
}

TEST(SettingsTest, StoreOptionWinsOverEverything) {
  TempDir dir;
  WriteFile(dir / "c.conf", "store = /from/config\n");
  const Outcome o = RunProbe({"--config", (dir / "c.conf").string(), "--store", "/from/cli"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.seen.store, "/from/cli");
}

TEST(SettingsTest, ConfigFillsWhatTheCommandLineLeftUnset) {
  TempDir dir;
  WriteFile(dir / "c.conf",
            "store = /from/config\ncert = /config/cert.pem\nlifetime = 9\n"
            "upload = https://a.example/ file:///srv/a/\n"
            "upload = https://b.example/ sftp://me@b/srv/ /b.cred\n");
  const Outcome o = RunProbe({"--config", (dir / "c.conf").string(), "--cert", "/cli/cert.pem"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.seen.store, "/from/config");
  EXPECT_EQ(o.seen.cert, "/cli/cert.pem");
  EXPECT_EQ(o.seen.lifetime, 9);
  EXPECT_EQ(o.seen.upload,
            (std::vector<std::string>{"https://a.example/ file:///srv/a/",
                                      "https://b.example/ sftp://me@b/srv/ /b.cred"}));
}

TEST(SettingsTest, DefaultConfigFromXdgConfigHome) {
  TempDir dir;
  std::filesystem::create_directories(dir / "config/caster");
  WriteFile(dir / "config/caster/caster.conf", "cert = /default/cert.pem\n");
  const std::string xdg = (dir / "config").string();
  const ScopedEnv env({{"XDG_CONFIG_HOME", xdg.c_str()}});
  const Outcome o = RunProbe({"--store", "/s"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.seen.cert, "/default/cert.pem");
}

TEST(SettingsTest, MissingDefaultConfigIsFine) {
  TempDir dir;
  const std::string xdg = (dir / "nothing-here").string();
  const ScopedEnv env({{"XDG_CONFIG_HOME", xdg.c_str()}});
  const Outcome o = RunProbe({"--store", "/s"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_FALSE(o.seen.cert.has_value());
}

TEST(SettingsTest, MissingExplicitConfigIsConfigInvalid) {
  TempDir dir;
  const Outcome o = RunProbe({"--json", "--config", (dir / "absent.conf").string()});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.out.find("\"config-invalid\""), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("absent.conf"), std::string::npos) << o.out;
}

TEST(SettingsTest, UnknownOrMistypedConfigKeyIsConfigInvalid) {
  TempDir dir;
  for (const std::string text : {"no-such-key = 1\n", "lifetime = many\n"}) {
    WriteFile(dir / "c.conf", text);
    const Outcome o = RunProbe({"--json", "--config", (dir / "c.conf").string()});
    EXPECT_EQ(o.exit_code, 2) << text << o.out << o.err;
    EXPECT_NE(o.out.find("\"config-invalid\""), std::string::npos) << text << o.out;
  }
}

TEST(SettingsTest, EveryDocumentedConfigKeyIsAccepted) {
  TempDir dir;
  WriteFile(dir / "c.conf",
            "store = /s\ncert = /c\nkey = /k\npassphrase-file = /p\nlifetime = 3\n"
            "ca-dir = /etc/grid-security/certificates\nknown-hosts = /kh\n"
            "upload = https://x/ file:///y/\n");
  const Outcome o = RunProbe({"--config", (dir / "c.conf").string()});
  EXPECT_EQ(o.exit_code, 0) << o.err;
}

}  // namespace
}  // namespace vmc::caster
