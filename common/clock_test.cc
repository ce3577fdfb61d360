#include "common/clock.h"

#include <gtest/gtest.h>

namespace vmc {
namespace {

TEST(ClockTest, ParsesAndFormatsUtcDates) {
  const auto t = ParseDate("2011-03-10T17:09:12Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->time_since_epoch().count(), 1299776952);
  EXPECT_EQ(FormatDate(*t), "2011-03-10T17:09:12Z");
  EXPECT_EQ(FormatDate(*ParseDate("2499-12-31T22:00:00Z")), "2499-12-31T22:00:00Z");
  EXPECT_EQ(FormatDate(*ParseDate("2024-02-29T00:00:00Z")), "2024-02-29T00:00:00Z");
}

TEST(ClockTest, RejectsEveryOtherDateForm) {
  for (const char* bad : {"2011-03-10T17:09:12", "2011-03-10 17:09:12Z", "2011-03-10T17:09:12.5Z",
                          "2011-03-10T17:09:12+00:00", "2011-02-30T00:00:00Z",
                          "2023-02-29T00:00:00Z", "2011-13-01T00:00:00Z", "2011-03-10T24:00:00Z",
                          "2011-03-10T23:60:00Z", "2011-03-10T23:59:60Z", "2011-3-10T17:09:12Z", "",
                          "2011-03-10T17:09:1xZ", "+011-03-10T17:09:12Z"}) {
    const auto r = ParseDate(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidDate) << bad;
    }
  }
}

TEST(ClockTest, FixedClockIsFixed) {
  const FixedClock clock(*ParseDate("2026-11-01T00:00:00Z"));
  EXPECT_EQ(FormatDate(clock.Now()), "2026-11-01T00:00:00Z");
  EXPECT_GT(SystemClock().Now(), clock.Now() - std::chrono::hours(24 * 365 * 10));
}

TEST(ClockTest, ParsesDurations) {
  EXPECT_EQ(ParseDuration("90")->count(), 90);
  EXPECT_EQ(ParseDuration("30s")->count(), 30);
  EXPECT_EQ(ParseDuration("30m")->count(), 1800);
  EXPECT_EQ(ParseDuration("6h")->count(), 21600);
  EXPECT_EQ(ParseDuration("28d")->count(), 28 * 86400);
  EXPECT_EQ(ParseDuration("2w")->count(), 14 * 86400);
  for (const char* bad : {"", "0", "-5", "5x", "h", "1.5h", "99999999999999999999d"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace vmc
