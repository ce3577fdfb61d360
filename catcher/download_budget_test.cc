#include "catcher/download_budget.h"

#include <gtest/gtest.h>

#include <limits>

namespace vmc::catcher {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(DownloadBudgetTest, SizeOverRateAboveTheFloor) {
  // 10 MiB at 64 KiB/s: 160 s, over a 60 s floor.
  EXPECT_EQ(DownloadBudget(10 << 20, 64 << 10, seconds(60)), milliseconds(160'000));
}

TEST(DownloadBudgetTest, TheFloorForSmallImages) {
  EXPECT_EQ(DownloadBudget(1000, 64 << 10, seconds(300)), milliseconds(300'000));
  EXPECT_EQ(DownloadBudget(0, 1, seconds(5)), milliseconds(5'000));
}

TEST(DownloadBudgetTest, RoundsUpToTheMillisecond) {
  // 1001 bytes at 1000 bytes/s: 1.001 s; 1 byte at 3 bytes/s: 334 ms.
  EXPECT_EQ(DownloadBudget(1001, 1000, seconds(0)), milliseconds(1001));
  EXPECT_EQ(DownloadBudget(1, 3, seconds(0)), milliseconds(334));
}

TEST(DownloadBudgetTest, CappedWithoutOverflow) {
  const auto huge = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(DownloadBudget(huge, 1, seconds(0)), kMaxDownloadBudget);
  EXPECT_EQ(DownloadBudget(huge, huge, seconds(0)), milliseconds(1000));
  EXPECT_EQ(DownloadBudget(1, 1, seconds(100LL * 24 * 3600)), kMaxDownloadBudget);
}

}  // namespace
}  // namespace vmc::catcher
