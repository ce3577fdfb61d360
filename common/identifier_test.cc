#include "common/identifier.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace vmc {
namespace {

TEST(IdentifierTest, AcceptsFieldIdentifiers) {
  for (const std::string& id : std::vector<std::string>{
           "4e186b44-2c64-40ea-97d5-e9e5c0bce059", "488DCDC4-9AB1-4FC8-A7BA-B7A5428ECB3D", "FOOBAR",
           "a", "a.b", "list:v2_final-1", "0", std::string(128, 'x'), "x.", "_x", "-x"}) {
    EXPECT_TRUE(ValidateIdentifier(id).ok()) << id;
  }
}

TEST(IdentifierTest, TraversalIdentifierRejected) {
  const struct {
    std::string id;
    std::string why;
  } kCases[] = {
      {"../etc", "starts with"},
      {".hidden", "starts with"},
      {".", "starts with"},
      {"..", "starts with"},
      {"a/b", "character 2"},
      {"/etc/passwd", "character 1"},
      {"a\\b", "character 2"},
      {"", "empty"},
      {std::string(129, 'a'), "too long"},
      {std::string("ab\0cd", 5), "character 3"},
      {"a b", "character 2"},
      {"a\nb", "character 2"},
      {"caf\xc3\xa9", "character 4"},
      {"$(reboot)", "character 1"},
  };
  for (const auto& c : kCases) {
    const Status s = ValidateIdentifier(c.id);
    ASSERT_FALSE(s.ok()) << c.id;
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidIdentifier) << c.id;
    EXPECT_NE(s.error().message().find(c.why), std::string::npos) << s.error().message();
    EXPECT_NE(s.error().message().find("1-128"), std::string::npos) << s.error().message();
  }
}

TEST(IdentifierTest, MessageEscapesAndShortensTheValue) {
  const Status nul = ValidateIdentifier(std::string("a\0\n", 3));
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.error().message().find("\"a\\x00\\n\""), std::string::npos)
      << nul.error().message();
  EXPECT_EQ(nul.error().message().find('\n'), std::string::npos);

  const Status huge = ValidateIdentifier(std::string(1 << 20, 'a'));
  ASSERT_FALSE(huge.ok());
  EXPECT_LT(huge.error().message().size(), 300u);
  EXPECT_NE(huge.error().message().find("1048576 bytes"), std::string::npos);
}

TEST(IdentifierTest, NewUuidIsVersion4AndValid) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto uuid = NewUuid();
    ASSERT_TRUE(uuid.ok());
    ASSERT_EQ(uuid->size(), 36u);
    EXPECT_TRUE(ValidateIdentifier(*uuid).ok());
    for (const std::size_t dash : {8u, 13u, 18u, 23u}) EXPECT_EQ((*uuid)[dash], '-') << *uuid;
    EXPECT_EQ((*uuid)[14], '4') << *uuid;
    EXPECT_NE(std::string("89ab").find((*uuid)[19]), std::string::npos) << *uuid;
    for (const char c : *uuid) {
      EXPECT_TRUE(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << *uuid;
    }
    seen.insert(*uuid);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace vmc
