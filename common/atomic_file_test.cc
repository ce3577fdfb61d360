#include "common/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test/support/temp_dir.h"

namespace vmc {
namespace {

size_t CountEntries(const std::filesystem::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFileTest, TargetAppearsOnlyOnCommit) {
  test::TempDir dir;
  const auto target = dir / "list.smime";
  test::WriteFile(target, "old");
  {
    auto file = AtomicFile::Create(target);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->Write("new content").ok());
    EXPECT_EQ(test::ReadFile(target), "old");
    ASSERT_TRUE(file->Commit().ok());
  }
  EXPECT_EQ(test::ReadFile(target), "new content");
  EXPECT_EQ(CountEntries(dir.path()), 1u);
}

TEST(AtomicFileTest, AbandonedFileLeavesTheOldOneAndNoTemporary) {
  test::TempDir dir;
  const auto target = dir / "list.smime";
  test::WriteFile(target, "old");
  {
    auto file = AtomicFile::Create(target);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(file->Write("half").ok());
  }
  EXPECT_EQ(test::ReadFile(target), "old");
  EXPECT_EQ(CountEntries(dir.path()), 1u);
}

TEST(AtomicFileTest, ErrorsNameThePath) {
  const auto r = WriteFileAtomically("/nonexistent-dir/x", "data");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_NE(r.error().message().find("/nonexistent-dir"), std::string::npos);
}

TEST(AtomicFileTest, ReadFileCappedRefusesLargerFilesBeforeReading) {
  test::TempDir dir;
  test::WriteFile(dir / "f", std::string(100, 'x'));
  EXPECT_EQ(ReadFileCapped(dir / "f", 100)->size(), 100u);
  const auto r = ReadFileCapped(dir / "f", 99);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kListTooLarge);
  EXPECT_EQ(ReadFileCapped(dir / "none", 10).error().code(), ErrorCode::kIo);
}

}  // namespace
}  // namespace vmc
