// DirectFileWriter: every byte appended reaches the file in order, whatever
// the buffer boundaries, alignment of the start or pauses of the transfer.
#include "catcher/direct_file_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

// A disk that misbehaves as told: the stand-in for write(2) the writer is
// given. Global because the writer takes a plain function pointer.
struct FakeDisk {
  bool refuse_direct = false;    // EINVAL for every write while O_DIRECT is on
  std::size_t short_direct = 0;  // the first direct write stops after this many bytes
  std::size_t space = SIZE_MAX;  // bytes that fit; then `full_errno`
  int full_errno = ENOSPC;
  std::size_t written = 0;
  int direct_writes = 0;
  std::vector<const void*> direct_from;  // where each direct write took its bytes from
};
FakeDisk fake;

ssize_t FakeWrite(int fd, const void* data, std::size_t size) {
  const bool direct = (fcntl(fd, F_GETFL) & O_DIRECT) != 0;
  if (direct && fake.refuse_direct) {
    errno = EINVAL;
    return -1;
  }
  if (direct && fake.short_direct > 0) {
    size = std::min(size, std::exchange(fake.short_direct, std::size_t{0}));
    fake.refuse_direct = true;  // and the rest at that offset is refused
  }
  if (fake.written >= fake.space) {
    errno = fake.full_errno;
    return -1;
  }
  size = std::min(size, fake.space - fake.written);
  const ssize_t n = write(fd, data, size);
  if (n > 0) fake.written += static_cast<std::size_t>(n);
  if (n > 0 && direct) {
    ++fake.direct_writes;
    fake.direct_from.push_back(data);
  }
  return n;
}

// Whether the directory's filesystem takes O_DIRECT (the disk filesystems
// sites cache on do; a tmpfs before Linux 6.6 does not).
bool TakesDirectIo(const std::filesystem::path& dir) {
  const std::filesystem::path probe = dir / "direct-io-probe";
  const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  close(fd);
  std::filesystem::remove(probe);
  return true;
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

  void SetUp() override { fake = FakeDisk(); }

  test::TempDir dir_;
  std::filesystem::path path_ = dir_ / "image.part";
};

TEST_F(DirectFileWriterTest, WritesEveryByteAcrossBufferBoundaries) {
  const std::string data = RandomBytes(10 * kBuffer + 1234, 1);
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, kBuffer);
  AppendInPieces(writer, data, {1, 4095, 16384, 7, 65536, 333});
  // Every full buffer went out directly, where the filesystem allows it.
  EXPECT_EQ(writer.direct(), TakesDirectIo(dir_.path()));
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

// Aligned whole blocks (a ChunkPipeline's chunks) are written from the
// caller's memory, not copied into the buffer first; the unaligned tail is.
TEST_F(DirectFileWriterTest, AlignedBlocksAreWrittenFromWhereTheyAre) {
  constexpr std::size_t kBlock = DirectFileWriter::kAlignment;
  std::unique_ptr<char, decltype(&std::free)> chunk(
      static_cast<char*>(std::aligned_alloc(kBlock, 8 * kBlock)), &std::free);
  const std::string data = RandomBytes(8 * kBlock, 6);
  std::memcpy(chunk.get(), data.data(), data.size());
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, kBuffer, FakeWrite);
  ASSERT_EQ(writer.direct(), TakesDirectIo(dir_.path()));
  ASSERT_TRUE(writer.Append(chunk.get(), 8 * kBlock).ok());
  ASSERT_TRUE(writer.Append(chunk.get(), 2 * kBlock + 10).ok());
  if (writer.direct()) {
    EXPECT_EQ(fake.direct_from, (std::vector<const void*>{chunk.get(), chunk.get()}));
    EXPECT_EQ(FileSize(), 10 * kBlock);  // the 10 bytes wait in the buffer
  } else {
    EXPECT_EQ(FileSize(), 10 * kBlock + 10);  // through the page cache, as given
  }
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadFile(path_), data + data.substr(0, 2 * kBlock + 10));
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
  EXPECT_EQ(writer.direct(), TakesDirectIo(dir_.path()));  // after the head
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

// A device that wants a larger alignment refuses every direct write: the
// same bytes go through the page cache instead.
TEST_F(DirectFileWriterTest, RefusedDirectWritesFallBackWithoutLosingBytes) {
  if (!TakesDirectIo(dir_.path())) GTEST_SKIP() << dir_.path() << " takes no O_DIRECT";
  fake.refuse_direct = true;
  const std::string data = RandomBytes(5 * kBuffer + 77, 9);
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, kBuffer, FakeWrite);
  ASSERT_TRUE(writer.direct());
  AppendInPieces(writer, data, {5000, 100, 20000});
  EXPECT_FALSE(writer.direct());
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadFile(path_), data);
  EXPECT_EQ(fake.direct_writes, 0);
}

// A direct write that stops short, after which the device refuses the rest:
// the rest follows through the page cache, in order.
TEST_F(DirectFileWriterTest, ShortDirectWriteIsCompletedInOrder) {
  if (!TakesDirectIo(dir_.path())) GTEST_SKIP() << dir_.path() << " takes no O_DIRECT";
  fake.short_direct = 2 * DirectFileWriter::kAlignment;
  const std::string data = RandomBytes(3 * kBuffer + 5, 10);
  UniqueFd fd(OpenAtEnd());
  DirectFileWriter writer(fd.get(), path_, kBuffer, FakeWrite);
  AppendInPieces(writer, data, {kBuffer + 1, 999});
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(ReadFile(path_), data);
  EXPECT_EQ(fake.direct_writes, 1);
}

// A full disk is kDiskFull, direct or not, and the file keeps a prefix of
// what was appended (a resume re-hashes it).
TEST_F(DirectFileWriterTest, FullDiskIsDiskFullAndLeavesAPrefix) {
  for (const int err : {ENOSPC, EDQUOT}) {
    for (const std::size_t space : {std::size_t{0}, kBuffer + 3 * DirectFileWriter::kAlignment}) {
      SCOPED_TRACE("errno " + std::to_string(err) + ", space " + std::to_string(space));
      std::filesystem::remove(path_);
      fake = FakeDisk();
      fake.space = space;
      fake.full_errno = err;
      const std::string data = RandomBytes(3 * kBuffer, 11);
      UniqueFd fd(OpenAtEnd());
      DirectFileWriter writer(fd.get(), path_, kBuffer, FakeWrite);
      Status status = writer.Append(data.data(), data.size());
      if (status.ok()) status = writer.Flush();
      ASSERT_FALSE(status.ok());
      EXPECT_EQ(status.error().code(), ErrorCode::kDiskFull) << status.error().message();
      EXPECT_NE(status.error().message().find(path_.string()), std::string::npos);
      const std::string kept = ReadFile(path_);
      EXPECT_EQ(kept.size(), space);
      EXPECT_EQ(kept, data.substr(0, kept.size()));
    }
  }
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
