#include "common/version.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <compare>
#include <string>
#include <vector>

namespace vmc {
namespace {

TEST(VersionTest, OrdersNumericRunsByValue) {
  // Each row: older, newer.
  const struct {
    const char* older;
    const char* newer;
  } kCases[] = {
      {"1.0.9", "1.0.10"},
      {"1.99", "2"},
      {"9", "10"},
      {"1", "2"},
      {"0.9", "0.10"},
      {"1.0", "1.0.0"},    // a prefix is older
      {"1.0", "1.0-rc1"},  // no pre-release rules
      {"1.2-rc1", "1.2-rc2"},
      {"1.2-rc9", "1.2-rc10"},
      {"1.1", "1.a"},  // digits before other text
      {"a", "b"},
      {"", "0"},  // empty is the least
      {"", "a"},
      {"1.01", "1.1"},  // equal value: the bytes decide
      {"20231108", "20240101"},
      {"99999999999999999999999", "100000000000000000000000"},  // beyond 64 bits
      {"1-0", "1.0"},
  };
  for (const auto& c : kCases) {
    EXPECT_TRUE(std::is_lt(CompareVersions(c.older, c.newer))) << c.older << " < " << c.newer;
    EXPECT_TRUE(std::is_gt(CompareVersions(c.newer, c.older))) << c.newer << " > " << c.older;
  }
}

TEST(VersionTest, EqualOnlyWhenIdentical) {
  for (const char* v : {"", "1", "1.0", "1.0.0", "01", "1.2-rc1", "beta"}) {
    EXPECT_TRUE(std::is_eq(CompareVersions(v, v))) << v;
  }
  EXPECT_TRUE(std::is_neq(CompareVersions("1.0", "1.00")));
  EXPECT_TRUE(std::is_neq(CompareVersions("01", "1")));
}

TEST(VersionTest, IsATotalOrder) {
  std::vector<std::string> versions = {
      "",    "0",   "00",  "1", "01", "1.0", "1.0.0", "1.00", "1.0-rc1", "1.0.9", "1.0.10",
      "1.1", "1.a", "1.b", "2", "10", "a",   "a1",    "a.1",  "beta",    "1-0",   "1.01"};
  std::sort(versions.begin(), versions.end(), [](const std::string& a, const std::string& b) {
    return std::is_lt(CompareVersions(a, b));
  });
  // Sorted means every pair agrees with its positions: transitive, antisymmetric.
  for (std::size_t i = 0; i < versions.size(); ++i) {
    for (std::size_t j = 0; j < versions.size(); ++j) {
      const auto order = CompareVersions(versions[i], versions[j]);
      const auto expected = i <=> j;
      EXPECT_TRUE(order == expected) << versions[i] << " vs " << versions[j];
    }
  }
}

TEST(VersionTest, BumpsTheLastNumber) {
  const struct {
    const char* before;
    const char* after;
  } kCases[] = {
      {"1.0.9", "1.0.10"},
      {"7", "8"},
      {"1.2-rc1", "1.2-rc2"},
      {"1.09", "1.10"},
      {"99", "100"},
      {"1.9.9", "1.9.10"},
      {"0", "1"},
      {"beta", "beta.1"},
      {"", "1"},
      {"v1-final", "v2-final"},
      {"1.0.", "1.1."},
      {"2023-11-08", "2023-11-09"},
      {"a9b", "a10b"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(BumpVersion(c.before), c.after) << c.before;
    EXPECT_TRUE(std::is_gt(CompareVersions(BumpVersion(c.before), c.before))) << c.before;
  }
}

TEST(VersionTest, RepeatedBumpsKeepIncreasing) {
  std::string v = "1.0.8";
  for (int i = 0; i < 1000; ++i) {
    const std::string next = BumpVersion(v);
    ASSERT_TRUE(std::is_gt(CompareVersions(next, v))) << v << " -> " << next;
    v = next;
  }
  EXPECT_EQ(v, "1.0.1008");
}

}  // namespace
}  // namespace vmc
