#include "common/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace vmc {
namespace {

int OpenDevNull() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFdTest, ClosesWhenDestroyed) {
  int raw = -1;
  {
    const UniqueFd fd(OpenDevNull());
    raw = fd.get();
    ASSERT_GE(raw, 0);
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(UniqueFdTest, ANegativeDescriptorHasNothingToClose) {
  UniqueFd fd(-1);
  EXPECT_EQ(fd.get(), -1);
  EXPECT_EQ(fd.Close(), 0);
}

TEST(UniqueFdTest, MovingHandsOverTheDescriptor) {
  UniqueFd from(OpenDevNull());
  const int raw = from.get();
  ASSERT_GE(raw, 0);
  const UniqueFd to(std::move(from));
  EXPECT_EQ(to.get(), raw);
  EXPECT_EQ(from.get(), -1);  // NOLINT(bugprone-use-after-move): the moved-from state is the test
  EXPECT_TRUE(IsOpen(raw));
}

TEST(UniqueFdTest, MoveAssignmentClosesTheDescriptorItReplaces) {
  UniqueFd target(OpenDevNull());
  UniqueFd source(OpenDevNull());
  const int replaced = target.get();
  const int kept = source.get();
  ASSERT_GE(replaced, 0);
  ASSERT_GE(kept, 0);
  target = std::move(source);
  EXPECT_EQ(target.get(), kept);
  EXPECT_FALSE(IsOpen(replaced));
  EXPECT_TRUE(IsOpen(kept));
}

TEST(UniqueFdTest, CloseClosesAtOnceAndReportsSuccess) {
  UniqueFd fd(OpenDevNull());
  const int raw = fd.get();
  ASSERT_GE(raw, 0);
  EXPECT_EQ(fd.Close(), 0);
  EXPECT_EQ(fd.get(), -1);
  EXPECT_FALSE(IsOpen(raw));
  EXPECT_EQ(fd.Close(), 0);  // nothing left to close
}

// What a caller that checks close(2) relies on: the failure reaches it, with
// errno, and the descriptor is not closed a second time by the destructor.
TEST(UniqueFdTest, CloseReportsTheFailureOfCloseAndGivesTheDescriptorUp) {
  UniqueFd fd(OpenDevNull());
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(::close(fd.get()), 0);  // closed behind its back: close(2) now fails
  errno = 0;
  EXPECT_EQ(fd.Close(), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFdTest, ReleaseGivesUpOwnershipWithoutClosing) {
  int raw = -1;
  {
    UniqueFd fd(OpenDevNull());
    ASSERT_GE(fd.get(), 0);
    raw = fd.Release();
    EXPECT_EQ(fd.get(), -1);
  }
  EXPECT_TRUE(IsOpen(raw));
  EXPECT_EQ(::close(raw), 0);
}

}  // namespace
}  // namespace vmc
