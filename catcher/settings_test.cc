// The config file a site is given (examples/catcher.conf, installed as
// /etc/catcher/catcher.conf and the source of catcher.conf(5)) against the
// keys catcher reads: every key is in it, it names no other, and the value a
// commented-out key shows is the default catcher uses. Run through the real
// command-line frame with catcher's global options and config keys.
#include "catcher/settings.h"

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test/support/scoped_env.h"
#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

using test::ScopedEnv;
using test::TempDir;
using test::WriteFile;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::string& SiteConfig() {
  static const std::string kText = ReadText(VMC_SITE_CONFIG);
  return kText;
}

// "key = value" and "#key = value" lines: a key set, or one shown.
const std::regex& KeyLine() {
  static const std::regex kLine("^#?([a-z][a-z0-9-]*) = (.*)$");
  return kLine;
}

std::set<std::string> KeysOf(const std::string& text) {
  std::set<std::string> keys;
  std::istringstream lines(text);
  std::smatch m;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_match(line, m, KeyLine())) keys.insert(m[1]);
  }
  return keys;
}

// The file with every key shown set to the value it shows.
std::string EveryKeySet(const std::string& text) {
  std::ostringstream out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_match(line, KeyLine()) && line.starts_with('#')) line.erase(0, 1);
    out << line << '\n';
  }
  return out.str();
}

Result<Settings> Resolve(const std::string& config_text) {
  TempDir dir;
  const std::string path = (dir / "catcher.conf").string();
  WriteFile(path, config_text);
  std::optional<Result<Settings>> seen;
  CommandLine cli("catcher", "test", GlobalOptions());
  cli.SetConfig(ConfigKeys(), LocateConfig);
  cli.Add({{"probe"}, "resolves the settings", "", "", nullptr, [&seen](const Invocation& inv) {
             seen = ResolveSettings(inv);
             return Ok();
           }});
  std::ostringstream out, err;
  const int code = cli.Run({"--config", path, "probe"}, out, err);
  if (code != 0 || !seen) return Error(ErrorCode::kConfigInvalid, "probe failed: " + err.str());
  return *std::move(seen);
}

TEST(SiteConfigTest, NamesEveryKeyCatcherReadsAndNoOther) {
  const po::options_description keys = ConfigKeys();
  std::set<std::string> read;
  for (const auto& option : keys.options()) read.insert(option->long_name());
  EXPECT_EQ(KeysOf(SiteConfig()), read);
}

TEST(SiteConfigTest, LoadsAsInstalledAndWithEveryKeyShownSet) {
  // The proxy key sets the proxy variables unless they are set: keep them.
  const ScopedEnv env(
      {{"http_proxy", "http://kept.invalid"}, {"https_proxy", "http://kept.invalid"}});
  const auto installed = Resolve(SiteConfig());
  ASSERT_TRUE(installed.ok()) << installed.error().message();
  EXPECT_EQ(installed->state_dir, "/var/lib/catcher");
  EXPECT_EQ(installed->ca_dir, "/etc/grid-security/certificates");
  const auto every = Resolve(EveryKeySet(SiteConfig()));
  ASSERT_TRUE(every.ok()) << every.error().message();
  EXPECT_EQ(every->formats, (std::vector<std::string>{"raw", "qcow2"}));
  ASSERT_EQ(every->image_credentials.size(), 1U);
  EXPECT_EQ(every->image_credentials.begin()->second, "/etc/catcher/mirror.credentials");
  EXPECT_EQ(every->max_list_age, std::chrono::days(14));
  EXPECT_FALSE(every->event_command.empty());
}

// A key shown without "Default: ..." in its comment shows its default.
TEST(SiteConfigTest, AKeyCommentedOutShowsItsDefault) {
  const ScopedEnv env(
      {{"http_proxy", "http://kept.invalid"}, {"https_proxy", "http://kept.invalid"}});
  const auto installed = Resolve(SiteConfig());
  const auto every = Resolve(EveryKeySet(SiteConfig()));
  ASSERT_TRUE(installed.ok() && every.ok());
  EXPECT_EQ(every->event_timeout, installed->event_timeout);
  EXPECT_EQ(every->connect_timeout, installed->connect_timeout);
  EXPECT_EQ(every->fetch_timeout, installed->fetch_timeout);
  EXPECT_EQ(every->low_speed_limit, installed->low_speed_limit);
  EXPECT_EQ(every->low_speed_time, installed->low_speed_time);
  EXPECT_EQ(every->created_skew, installed->created_skew);
  EXPECT_EQ(every->key_minimums.rsa_bits, installed->key_minimums.rsa_bits);
  EXPECT_EQ(every->key_minimums.ec_bits, installed->key_minimums.ec_bits);
  EXPECT_EQ(every->history_limit, installed->history_limit);
  EXPECT_EQ(every->download_min_rate, installed->download_min_rate);
  EXPECT_EQ(every->download_min_time, installed->download_min_time);
  EXPECT_EQ(every->expired_grace, installed->expired_grace);
  EXPECT_EQ(every->interval, installed->interval);
}

// event-environment: inherit (the default, as vmcatcher) or clean; any other
// value is refused with the key and the value.
TEST(SettingsTest, EventEnvironmentIsInheritOrClean) {
  const auto unset = Resolve("");
  ASSERT_TRUE(unset.ok()) << unset.error().message();
  EXPECT_EQ(unset->event_environment, EventEnvironment::kInherit);
  const auto clean = Resolve("event-environment = clean\n");
  ASSERT_TRUE(clean.ok()) << clean.error().message();
  EXPECT_EQ(clean->event_environment, EventEnvironment::kClean);
  const auto inherit = Resolve("event-environment = inherit\n");
  ASSERT_TRUE(inherit.ok()) << inherit.error().message();
  EXPECT_EQ(inherit->event_environment, EventEnvironment::kInherit);
  const auto bad = Resolve("event-environment = dirty\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("event-environment: \"dirty\" is neither inherit nor clean"),
            std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace vmc::catcher
