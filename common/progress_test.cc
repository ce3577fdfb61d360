#include "common/progress.h"

#include <gtest/gtest.h>

namespace vmc {
namespace {

TEST(ProgressTest, RendersBarPercentAndSizes) {
  EXPECT_EQ(ProgressBar::Render("img", 512, 1024, 2048),
            "img [############            ]  50%  512 B/1.0 KiB  2.0 KiB/s");
  EXPECT_EQ(ProgressBar::Render("img", 3ULL << 30, 0, 0), "img 3.0 GiB  0 B/s");
  EXPECT_EQ(ProgressBar::Render("img", 2000, 1000, 0),
            "img [########################] 100%  2.0 KiB/1000 B  0 B/s");
}

TEST(ProgressTest, DisabledBarWritesNothing) {
  testing::internal::CaptureStderr();
  {
    ProgressBar bar("x", 100, false);
    bar.Update(50);
    bar.Finish();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

TEST(ProgressTest, EnabledBarDrawsAndEndsTheLine) {
  testing::internal::CaptureStderr();
  {
    ProgressBar bar("x", 100, true);
    bar.Update(100);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("100%"), std::string::npos);
  EXPECT_EQ(err.back(), '\n');
}

// A transfer learns its total as it goes (a download's Content-Length).
TEST(ProgressTest, TotalLearnedDuringTheWorkIsShown) {
  testing::internal::CaptureStderr();
  {
    ProgressBar bar("x", 0, true);
    bar.Update(0);
    bar.Update(512, 2048);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("x [######                  ]  25%  512 B/2.0 KiB"), std::string::npos) << err;
}

TEST(ProgressTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(2147483648ULL), "2.0 GiB");
}

}  // namespace
}  // namespace vmc
