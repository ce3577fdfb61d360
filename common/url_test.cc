#include "common/url.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

TEST(RedactUrlTest, StripsUserinfo) {
  EXPECT_EQ(RedactUrl("https://user:pw@example.org:8443/a/b?x=1"),
            "https://example.org:8443/a/b?x=1");
  EXPECT_EQ(RedactUrl("sftp://user@example.org/~/lists/l.json"),
            "sftp://example.org/~/lists/l.json");
  EXPECT_EQ(RedactUrl("https://u;auth=x@example.org/"), "https://example.org/");
  EXPECT_EQ(RedactUrl("https://example.org/plain"), "https://example.org/plain");
  // Text libcurl cannot parse shows nothing before its last "@".
  EXPECT_EQ(RedactUrl("weird://us er:p w@host name/x"), "***@host name/x");
  EXPECT_EQ(RedactUrl("not a url"), "not a url");
}

TEST(UrlPasswordsTest, AsWrittenAndDecoded) {
  EXPECT_EQ(UrlPasswords("https://u:p%40ss@h/"), (std::vector<std::string>{"p%40ss", "p@ss"}));
  EXPECT_EQ(UrlPasswords("https://u:plain@h/"), (std::vector<std::string>{"plain", "plain"}));
  EXPECT_TRUE(UrlPasswords("https://u@h/").empty());
  EXPECT_TRUE(UrlPasswords("not a url").empty());
}

TEST(UrlTest, ParsedOnceForTheTransfer) {
  auto url = Url::Parse("SFTP://me@h:2222/~/lists/a%20b.list?x#f");
  ASSERT_TRUE(url.ok()) << url.error().ToString();
  EXPECT_EQ(url->scheme(), "sftp");
  EXPECT_EQ(url->raw_path(), "/~/lists/a%20b.list");
  EXPECT_EQ(url->path(), "/~/lists/a b.list");
  EXPECT_NE(url->handle(), nullptr);
  auto moved = url->WithPath("/~/lists/.a b.list.part");
  ASSERT_TRUE(moved.ok()) << moved.error().ToString();
  EXPECT_EQ(moved->path(), "/~/lists/.a b.list.part");
  EXPECT_EQ(moved->ToString(), "sftp://me@h:2222/~/lists/.a%20b.list.part?x#f");
  EXPECT_EQ(url->path(), "/~/lists/a b.list");  // the original is unchanged

  const auto refused = Url::Parse("example.org/x");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidValue);
}

std::string Sibling(const std::string& url, const std::string& name) {
  auto sibling = SiblingUrl(url, name);
  return sibling.ok() ? *sibling : "refused: " + sibling.error().message();
}

TEST(SiblingUrlTest, ReplacesTheLastPathSegment) {
  EXPECT_EQ(Sibling("https://h/a/list", "img.qcow2"), "https://h/a/img.qcow2");
  EXPECT_EQ(Sibling("https://h/a/", "img.qcow2"), "https://h/a/img.qcow2");
  EXPECT_EQ(Sibling("file:///srv/www/l.list", "i.img"), "file:///srv/www/i.img");
  EXPECT_EQ(Sibling("sftp://me@h:2222/~/lists/l", "i.img"), "sftp://me@h:2222/~/lists/i.img");
  EXPECT_EQ(Sibling("https://h/a/list", "Img_1+x-2.raw"), "https://h/a/Img_1+x-2.raw");
}

TEST(SiblingUrlTest, HostWithoutPath) {
  EXPECT_EQ(Sibling("https://h", "img"), "https://h/img");
  EXPECT_EQ(Sibling("https://h:8443", "img"), "https://h:8443/img");
  EXPECT_EQ(Sibling("https://h/", "img"), "https://h/img");
}

TEST(SiblingUrlTest, QueryAndFragmentAreNotCarriedOver) {
  EXPECT_EQ(Sibling("https://h/a/list?sig=x/y", "img"), "https://h/a/img");
  EXPECT_EQ(Sibling("https://h/a/list#frag/x", "img"), "https://h/a/img");
  EXPECT_EQ(Sibling("https://h?x=/y", "img"), "https://h/img");
}

// A name is one path segment: what would leave it is encoded or refused.
TEST(SiblingUrlTest, TheNameStaysOneSegment) {
  EXPECT_EQ(Sibling("https://h/a/list", "a b?c#d%e"), "https://h/a/a%20b%3fc%23d%25e");
  for (const char* name : {"", ".", "..", "x/y", "/etc/passwd"}) {
    SCOPED_TRACE(name);
    const auto refused = SiblingUrl("https://h/a/list", name);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidValue);
  }
  const auto not_a_url = SiblingUrl("lists/l", "img");
  ASSERT_FALSE(not_a_url.ok());
  EXPECT_EQ(not_a_url.error().code(), ErrorCode::kInvalidValue);
}

std::string FileName(const std::string& url) {
  auto name = UrlFileName(url);
  return name.ok() ? *name : "refused: " + name.error().message();
}

TEST(UrlFileNameTest, LastSegmentOfThePath) {
  EXPECT_EQ(FileName("https://h/a/my.list"), "my.list");
  EXPECT_EQ(FileName("https://h/a/my.list?x=/y#z"), "my.list");
  EXPECT_EQ(FileName("sftp://me@h/srv/l"), "l");
  EXPECT_EQ(FileName("https://h/a/"), "");
  EXPECT_EQ(FileName("https://h"), "");
  EXPECT_EQ(FileName("file:///l.list"), "l.list");
  const auto refused = UrlFileName("my.list");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidValue);
}

TEST(SftpCommandPathTest, HomeRelativeForQuoteCommands) {
  EXPECT_EQ(SftpCommandPath("/~/lists/l"), "lists/l");
  EXPECT_EQ(SftpCommandPath("/srv/lists/l"), "/srv/lists/l");
  EXPECT_EQ(SftpCommandPath("/~"), "/~");
  EXPECT_EQ(SftpCommandPath("/x/~/l"), "/x/~/l");
}

}  // namespace
}  // namespace vmc
