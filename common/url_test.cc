#include "common/url.h"

#include <gtest/gtest.h>

#include <string>

namespace vmc {
namespace {

std::string OriginOf(const std::string& url) {
  const auto origin = ParseOrigin(url);
  return origin.ok() ? origin->ToString() : "refused: " + origin.error().message();
}

// One origin however it is spelt: scheme and host in any case, the default
// port written or not.
TEST(UrlTest, OriginsAreNormalised) {
  EXPECT_EQ(OriginOf("https://lists.example.org/a.list"), "https://lists.example.org:443");
  EXPECT_EQ(OriginOf("HTTPS://Lists.Example.ORG:443/b?x=1"), "https://lists.example.org:443");
  EXPECT_EQ(OriginOf("https://user:pw@lists.example.org/"), "https://lists.example.org:443");
  EXPECT_EQ(OriginOf("http://lists.example.org/a"), "http://lists.example.org:80");
  EXPECT_EQ(OriginOf("https://lists.example.org:8443/a"), "https://lists.example.org:8443");
  EXPECT_EQ(OriginOf("https://[::1]:8443/a"), "https://[::1]:8443");
  // Not the same origin: another port, scheme or name of the same host.
  EXPECT_NE(OriginOf("https://127.0.0.1:8443/"), OriginOf("https://localhost:8443/"));
  EXPECT_NE(OriginOf("https://h/"), OriginOf("http://h:443/"));
}

// Every spelling libcurl reads as a local file is scheme "file".
TEST(UrlTest, EverySpellingOfALocalFileIsFile) {
  for (const char* url : {"file:/etc/passwd", "file:///etc/passwd", "FILE:///etc/passwd",
                          "File://localhost/etc/passwd", "file:///%65tc/passwd"}) {
    SCOPED_TRACE(url);
    const auto origin = ParseOrigin(url);
    ASSERT_TRUE(origin.ok()) << origin.error().message();
    EXPECT_EQ(origin->scheme, "file");
    EXPECT_FALSE(SchemeAllowed(origin->scheme, kRemoteProtocols));
    EXPECT_TRUE(SchemeAllowed(origin->scheme, kLocalProtocols));
  }
  // Text libcurl would not read as a URL at all.
  for (const char* url : {"  file:///etc/passwd", "\tfile:///x", "example.org/x", "fil%65:///x",
                          "file://otherhost/etc/passwd", ""}) {
    SCOPED_TRACE(url);
    const auto origin = ParseOrigin(url);
    ASSERT_FALSE(origin.ok());
    EXPECT_EQ(origin.error().code(), ErrorCode::kInvalidValue);
  }
  EXPECT_TRUE(SchemeAllowed("https", " HTTPS , http"));
  EXPECT_FALSE(SchemeAllowed("file", "https,http"));
  EXPECT_FALSE(SchemeAllowed("", "https,,http"));
}

TEST(UrlTest, AdminOriginsAreHttpsOriginsOnly) {
  const auto ok = ParseHttpsOrigin("https://Mirror.Example.org");
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->ToString(), "https://mirror.example.org:443");
  EXPECT_TRUE(ParseHttpsOrigin("https://mirror.example.org:8443/").ok());
  for (const char* bad : {"http://mirror.example.org", "https://mirror.example.org/images/",
                          "https://u@mirror.example.org", "https://mirror.example.org/?x",
                          "file:///srv", "mirror.example.org"}) {
    SCOPED_TRACE(bad);
    const auto refused = ParseHttpsOrigin(bad);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidValue);
  }
}

}  // namespace
}  // namespace vmc
