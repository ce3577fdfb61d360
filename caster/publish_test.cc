// Where `caster publish` uploads: target resolution from --target and the
// config's upload rules, and the names of images published beside a list.
#include "caster/publish.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace vmc::caster {
namespace {

using std::nullopt;

constexpr char kListUri[] = "https://www.example.org/lists/vo/my.list";

UploadTarget Resolve(const std::string& uri, const std::optional<std::string>& target,
                     const std::optional<std::string>& credentials,
                     const std::vector<std::string>& rules) {
  auto resolved = ResolveTarget(uri, target, credentials, rules);
  EXPECT_TRUE(resolved.ok()) << resolved.error().ToString();
  return resolved.ok() ? *resolved : UploadTarget{};
}

TEST(ResolveTargetTest, ExplicitTargetWinsOverRules) {
  const auto t = Resolve(kListUri, "sftp://me@host/srv/x.list", "/home/me/ssh.cred",
                         {"https://www.example.org/ file:///srv/www/ /rule.cred"});
  EXPECT_EQ(t.url, "sftp://me@host/srv/x.list");
  ASSERT_TRUE(t.credentials_file.has_value());
  EXPECT_EQ(*t.credentials_file, "/home/me/ssh.cred");
}

TEST(ResolveTargetTest, ATargetThatIsNoUrlSaysWhatIsExpected) {
  for (const std::string& bad :
       {std::string("/srv/www/x.list"), std::string("x.list"), std::string("file://x.list"),
        std::string("file://./x.list"), std::string("https://exa mple.org/x.list")}) {
    const auto r = ResolveTarget(kListUri, bad, nullopt, {});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kUsage);
    EXPECT_EQ(r.error().message().rfind("--target \"" + bad + "\" is not ", 0), 0u)
        << r.error().message();
    EXPECT_NE(r.error().message().find("file:///absolute/path"), std::string::npos);
  }
  EXPECT_EQ(Resolve(kListUri, "file://localhost/srv/x.list", nullopt, {}).url,
            "file://localhost/srv/x.list");
  // A rule's target is held to the same.
  const auto r = ResolveTarget(kListUri, nullopt, nullopt, {"https://www.example.org/ srv/www/"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message().rfind("the upload rule's target \"srv/www/lists/vo/my.list\"", 0),
            0u)
      << r.error().message();
}

TEST(ResolveTargetTest, ExplicitTargetWithoutCredentialsHasNone) {
  const auto t = Resolve(kListUri, "file:///srv/x.list", nullopt,
                         {"https://www.example.org/ file:///srv/www/ /rule.cred"});
  EXPECT_EQ(t.url, "file:///srv/x.list");
  EXPECT_FALSE(t.credentials_file.has_value());
}

TEST(ResolveTargetTest, RuleMapsPrefixAndKeepsTheRest) {
  const auto t = Resolve(kListUri, nullopt, nullopt,
                         {"https://www.example.org/lists/ sftp://me@web/srv/www/lists/ /r.cred"});
  EXPECT_EQ(t.url, "sftp://me@web/srv/www/lists/vo/my.list");
  ASSERT_TRUE(t.credentials_file.has_value());
  EXPECT_EQ(*t.credentials_file, "/r.cred");
}

TEST(ResolveTargetTest, LongestPrefixWinsWhateverTheOrder) {
  const std::vector<std::string> rules = {
      "https://www.example.org/ file:///short/",
      "https://www.example.org/lists/vo/ file:///long/",
      "https://www.example.org/lists/ file:///middle/",
  };
  EXPECT_EQ(Resolve(kListUri, nullopt, nullopt, rules).url, "file:///long/my.list");
  const std::vector<std::string> reversed(rules.rbegin(), rules.rend());
  EXPECT_EQ(Resolve(kListUri, nullopt, nullopt, reversed).url, "file:///long/my.list");
}

TEST(ResolveTargetTest, ExplicitCredentialsOverrideTheRules) {
  const auto t =
      Resolve(kListUri, nullopt, "/cli.cred", {"https://www.example.org/ file:///srv/ /rule.cred"});
  EXPECT_EQ(t.url, "file:///srv/lists/vo/my.list");
  ASSERT_TRUE(t.credentials_file.has_value());
  EXPECT_EQ(*t.credentials_file, "/cli.cred");
}

TEST(ResolveTargetTest, RuleWithoutCredentialsHasNone) {
  const auto t = Resolve(kListUri, nullopt, nullopt, {"https://www.example.org/ file:///srv/"});
  EXPECT_FALSE(t.credentials_file.has_value());
}

TEST(ResolveTargetTest, NonMatchingRulesFallBackToTheUriItself) {
  for (const std::string uri :
       {"https://lists.example/l", "file:///srv/www/l.list", "sftp://me@host/srv/l"}) {
    const auto t = Resolve(uri, nullopt, "/c", {"https://other.example/ file:///x/"});
    EXPECT_EQ(t.url, uri);
    ASSERT_TRUE(t.credentials_file.has_value());
    EXPECT_EQ(*t.credentials_file, "/c");
  }
}

// The scheme is the one libcurl will upload with, however it is spelt.
TEST(ResolveTargetTest, TheUrisSchemeIsReadAsLibcurlReadsIt) {
  for (const std::string uri : {"FILE:///srv/www/l.list", "Sftp://me@host/srv/l", "file:/srv/l"}) {
    EXPECT_EQ(Resolve(uri, nullopt, nullopt, {}).url, uri);
  }
  for (const std::string uri : {"httpsx://h/l", "https//h/l", " https://h/l", "HTTP://h/l"}) {
    const auto t = ResolveTarget(uri, nullopt, nullopt, {});
    ASSERT_FALSE(t.ok()) << uri;
    EXPECT_EQ(t.error().code(), ErrorCode::kInvalidValue) << uri;
  }
}

TEST(ResolveTargetTest, PlainHttpUriIsNoTarget) {
  // Credentials would travel in clear: a rule or --target must say so.
  const auto t = ResolveTarget("http://www.example.org/l.list", nullopt, nullopt, {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), ErrorCode::kInvalidValue);
  EXPECT_NE(t.error().message().find("--target"), std::string::npos) << t.error().message();
  EXPECT_NE(t.error().message().find("http://www.example.org/l.list"), std::string::npos);
}

TEST(ResolveTargetTest, ListWithoutUriIsNoTarget) {
  const auto t = ResolveTarget("", nullopt, nullopt, {});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), ErrorCode::kInvalidValue);
  EXPECT_NE(t.error().message().find("without hv:uri"), std::string::npos);
}

TEST(ResolveTargetTest, MalformedRuleIsConfigInvalid) {
  for (const std::string rule :
       {"https://www.example.org/", "a b c d", "   ", "https://x/ file:///y/ /c extra"}) {
    const auto t = ResolveTarget(kListUri, nullopt, nullopt, {rule});
    ASSERT_FALSE(t.ok()) << rule;
    EXPECT_EQ(t.error().code(), ErrorCode::kConfigInvalid) << rule;
    EXPECT_NE(t.error().message().find("upload = PREFIX TARGET"), std::string::npos);
  }
}

TEST(ResolveTargetTest, MalformedRuleRefusedEvenWithAnotherMatch) {
  // A broken config line is reported, not skipped.
  const auto t = ResolveTarget(kListUri, nullopt, nullopt,
                               {"https://www.example.org/ file:///srv/", "broken"});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), ErrorCode::kConfigInvalid);
}

TEST(PublishedImageNameTest, SafeNamesPass) {
  for (const std::string& name :
       std::vector<std::string>{"base.qcow2", "a", "Img_1+x-2.raw", std::string(128, 'x')}) {
    auto published = PublishedImageName("/some/dir/" + name);
    ASSERT_TRUE(published.ok()) << name << ": " << published.error().ToString();
    EXPECT_EQ(*published, name);
  }
}

TEST(PublishedImageNameTest, UnsafeNamesRefused) {
  for (const std::string& name :
       std::vector<std::string>{".hidden", "..", "with space.img", "semi;colon", "per%cent",
                                "q?uery", "hash#", std::string(129, 'x'), "caf\xc3\xa9.img", ""}) {
    auto published = PublishedImageName("/dir/" + name);
    ASSERT_FALSE(published.ok()) << name;
    EXPECT_EQ(published.error().code(), ErrorCode::kInvalidValue) << name;
  }
}

}  // namespace
}  // namespace vmc::caster
