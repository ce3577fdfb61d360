#include "catcher/rollback.h"

#include <gtest/gtest.h>

namespace vmc::catcher {
namespace {

struct Case {
  const char* name;
  std::optional<ListFingerprint> previous;
  ListFingerprint received;
  std::optional<ErrorCode> refusal;
};

TEST(RollbackTest, TableOfAcceptedAndRefusedUpdates) {
  const Case cases[] = {
      {"first update", std::nullopt, {"1", "aa"}, std::nullopt},
      {"higher version", ListFingerprint{"1.0.9", "aa"}, {"1.0.10", "bb"}, std::nullopt},
      {"same version, same content", ListFingerprint{"3", "aa"}, {"3", "aa"}, std::nullopt},
      {"lower version",
       ListFingerprint{"1.0.10", "aa"},
       {"1.0.9", "bb"},
       ErrorCode::kVersionRollback},
      {"lower version, same content",
       ListFingerprint{"2", "aa"},
       {"1", "aa"},
       ErrorCode::kVersionRollback},
      {"same version, other content",
       ListFingerprint{"3", "aa"},
       {"3", "bb"},
       ErrorCode::kVersionReused},
      {"numeric not lexical", ListFingerprint{"9", "aa"}, {"10", "bb"}, std::nullopt},
      {"date versions",
       ListFingerprint{"20231108", "aa"},
       {"20231107", "bb"},
       ErrorCode::kVersionRollback},
      // After `catcher subscription reset-version`: anything, once.
      {"lower version after a reset",
       ListFingerprint{"99999999", "aa", true},
       {"3", "bb"},
       std::nullopt},
      {"same version, other content after a reset",
       ListFingerprint{"3", "aa", true},
       {"3", "bb"},
       std::nullopt},
  };
  for (const auto& c : cases) {
    const Status s = CheckRollback(c.previous, c.received, "image list x");
    if (!c.refusal) {
      EXPECT_TRUE(s.ok()) << c.name << ": " << s.error().ToString();
    } else {
      ASSERT_FALSE(s.ok()) << c.name;
      EXPECT_EQ(s.error().code(), *c.refusal) << c.name;
      EXPECT_NE(s.error().message().find("image list x"), std::string::npos) << c.name;
    }
  }
}

}  // namespace
}  // namespace vmc::catcher
