#include "common/verification.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace vmc {
namespace {

using std::chrono::days;
using std::chrono::seconds;

constexpr TimePoint kNow{std::chrono::sys_days{std::chrono::year{2030} / 1 / 15}};
constexpr seconds kSkew{300};

struct Case {
  const char* name;
  TimePoint created;
  TimePoint expires;
  std::optional<seconds> max_age;
  std::optional<ErrorCode> refusal;
};

// Step 7 as a table: every row one decision, at one fixed "now".
TEST(VerificationTest, FreshnessTableIncludingMaxListAgeBoundary) {
  const TimePoint far = kNow + days(365);
  const seconds week{7 * 24 * 3600};
  const Case cases[] = {
      {"current list, no cap", kNow - days(30), far, std::nullopt, std::nullopt},
      {"created within the skew", kNow + kSkew, far, std::nullopt, std::nullopt},
      {"created beyond the skew", kNow + kSkew + seconds(1), far, std::nullopt,
       ErrorCode::kListFutureDated},
      {"expires now", kNow - days(1), kNow, std::nullopt, ErrorCode::kListExpired},
      {"expires in a second", kNow - days(1), kNow + seconds(1), std::nullopt, std::nullopt},
      // max-list-age: exactly that old is still accepted; a second more is not.
      {"exactly max-list-age old", kNow - week, far, week, std::nullopt},
      {"one second beyond max-list-age", kNow - week - seconds(1), far, week,
       ErrorCode::kListTooOld},
      {"old but no cap (default off)", kNow - days(3650), far, std::nullopt, std::nullopt},
      {"expired and too old: expiry is said", kNow - days(30), kNow - days(1), week,
       ErrorCode::kListExpired},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Status s = CheckFreshness("list-1", c.created, c.expires, kNow, kSkew, c.max_age);
    if (!c.refusal) {
      EXPECT_TRUE(s.ok()) << s.error().ToString();
      continue;
    }
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code(), *c.refusal) << s.error().ToString();
    EXPECT_NE(s.error().message().find("image list list-1"), std::string::npos);
  }
}

TEST(VerificationTest, TooOldListMessageNamesTheDatesAndTheCap) {
  const Status s = CheckFreshness("list-1", kNow - days(8), kNow + days(30), kNow, kSkew,
                                  seconds(7 * 24 * 3600));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ErrorCodeName(s.error().code()), "list-too-old");
  EXPECT_EQ(ExitStatusFor(s.error().code()), 5);
  const std::string& m = s.error().message();
  EXPECT_NE(m.find("created 2030-01-07T00:00:00Z"), std::string::npos) << m;
  EXPECT_NE(m.find("now (2030-01-15T00:00:00Z)"), std::string::npos) << m;
  EXPECT_NE(m.find("max-list-age (604800 s)"), std::string::npos) << m;
}

}  // namespace
}  // namespace vmc
