// DirectFileWriter: every byte appended reaches the file in order, whatever
// the buffer boundaries, alignment of the start or pauses of the transfer.
#include "catcher/direct_file_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

using test::ReadFile;
using test::WriteFile;

constexpr std::size_t kBuffer = 4 * DirectFileWriter::kAlignment;

std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

class DirectFileWriterTest : public testing::Test {
 protected:
  // Opens the file for appending at its end, as the fetcher does.
  int OpenAtEnd() {
    const int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_GE(lseek(fd, 0, SEEK_END), 0);
    return fd;
  }

  // Appends `data` in pieces of the sizes `pieces` cycles through.
  void AppendInPieces(DirectFileWriter& writer, std::string_view data,
                      std::initializer_list<std::size_t> pieces) {
    std::size_t at = 0;
    for (std::size_t i = 0; at < data.size(); ++i) {
      const std::size_t n = std::min(*(pieces.begin() + i % pieces.size()), data.size() - at);
      ASSERT_TRUE(writer.Append(data.data() + at, n).ok());
      at += n;
    }
  }

  std::uint64_t FileSize() {
    struct stat st {};
    return stat(path_.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  }

  test::TempDir dir_;
  std::filesystem::path path_ = dir_ / "image.part";
};

TEST_F(DirectFileWriterTest, WritesEveryByteAcrossBufferBoundaries) {
  const std::string data = RandomBytes(10 * kBuffer + 1234, 1);
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, kBuffer);
  AppendInPieces(writer, data, {1, 4095, 16384, 7, 65536, 333});
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadFile(path_), data);
}

TEST_F(DirectFileWriterTest, FullBuffersReachTheFileBeforeTheFlush) {
  const std::string data = RandomBytes(3 * kBuffer + 100, 2);
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, kBuffer);
  ASSERT_TRUE(writer.Append(data.data(), data.size()).ok());
  EXPECT_EQ(FileSize(), 3 * kBuffer);
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadFile(path_), data);
}

TEST_F(DirectFileWriterTest, DirectFromAnAlignedStartWhereTheFilesystemAllows) {
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, kBuffer);
  // Whether the test directory's filesystem takes O_DIRECT decides; the
  // writer must agree with the descriptor's flags either way, and the disk
  // filesystems sites cache on all take it.
  EXPECT_EQ(writer.direct(), (fcntl(fd.get(), F_GETFL) & O_DIRECT) != 0);
  struct statfs fs {};
  ASSERT_EQ(statfs(path_.c_str(), &fs), 0);
  if (fs.f_type == EXT4_SUPER_MAGIC || fs.f_type == XFS_SUPER_MAGIC ||
      fs.f_type == BTRFS_SUPER_MAGIC) {
    EXPECT_TRUE(writer.direct());
  }
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_FALSE(writer.direct());
  EXPECT_EQ(fcntl(fd.get(), F_GETFL) & O_DIRECT, 0);
}

// A resume after a broken transfer starts at an unaligned size: the bytes up
// to the next aligned offset are written as they come, then directly.
TEST_F(DirectFileWriterTest, ResumesAtAnUnalignedOffset) {
  const std::string held = RandomBytes(5000, 3);
  const std::string rest = RandomBytes(5 * kBuffer + 17, 4);
  WriteFile(path_, held);
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, kBuffer);
  EXPECT_FALSE(writer.direct());
  AppendInPieces(writer, rest, {100, 3000, 9000});
  EXPECT_EQ(FileSize() % DirectFileWriter::kAlignment, 0u);
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadFile(path_), held + rest);
}

// A slow transfer: what arrived is in the file after kMaxHold, not only when
// the buffer is full.
TEST_F(DirectFileWriterTest, SlowTransferReachesTheFileWithinTheHoldTime) {
  const std::string data = RandomBytes(3 * DirectFileWriter::kAlignment + 10, 5);
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, 1 << 20);
  ASSERT_TRUE(writer.Append(data.data(), 100).ok());
  EXPECT_EQ(FileSize(), 0u);
  std::this_thread::sleep_for(DirectFileWriter::kMaxHold + std::chrono::milliseconds(10));
  ASSERT_TRUE(writer.Append(data.data() + 100, data.size() - 100).ok());
  EXPECT_EQ(FileSize(), 3 * DirectFileWriter::kAlignment);  // the aligned part
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadFile(path_), data);
}

// The server ignored a range request: the caller truncates, the writer
// forgets what it held and starts again at offset 0.
TEST_F(DirectFileWriterTest, DiscardStartsOverAtTheBeginning) {
  const std::string stale = RandomBytes(kBuffer + 10, 6);
  const std::string fresh = RandomBytes(2 * kBuffer + 99, 7);
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, kBuffer);
  ASSERT_TRUE(writer.Append(stale.data(), stale.size()).ok());
  ASSERT_EQ(ftruncate(fd.get(), 0), 0);
  ASSERT_EQ(lseek(fd.get(), 0, SEEK_SET), 0);
  writer.Discard();
  AppendInPieces(writer, fresh, {4096, 1});
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadFile(path_), fresh);
}

TEST_F(DirectFileWriterTest, WriteFailureIsReportedWithThePath) {
  UniqueFd fd(open(path_.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_GE(fd.get(), 0);
  DirectFileWriter writer(fd.get(), path_, kBuffer);
  const std::string data = RandomBytes(kBuffer, 8);
  const Status status = writer.Append(data.data(), data.size());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message().find(path_.string()), std::string::npos)
      << status.error().message();
}

}  // namespace
}  // namespace vmc::catcher
