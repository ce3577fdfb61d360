#include "catcher/image_conversion.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "catcher/image_format.h"
#include "test/support/sha512sum.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::catcher {
namespace {

namespace fs = std::filesystem;
using Formats = std::vector<std::string>;

std::string TargetOf(std::string_view format, const Formats& takes) {
  const auto r = ConversionTarget(format, takes);
  if (!r.ok()) return std::string(ErrorCodeName(r.error().code()));
  return r->value_or("as it is");
}

TEST(ConversionTargetTest, TheFirstFormatTheSiteTakesThatQemuImgWrites) {
  EXPECT_EQ(TargetOf("qcow2", {}), "as it is");
  EXPECT_EQ(TargetOf("qcow2", {"raw", "qcow2"}), "as it is");
  EXPECT_EQ(TargetOf("vmdk", {"raw", "qcow2"}), "raw");
  EXPECT_EQ(TargetOf("vmdk", {"qcow2", "raw"}), "qcow2");
  EXPECT_EQ(TargetOf("raw", {"iso", "qcow2"}), "qcow2");
  // An ISO is the raw disk it holds; nothing is made into one.
  EXPECT_EQ(TargetOf("iso", {"raw"}), "as it is");
  EXPECT_EQ(TargetOf("iso", {"qcow2"}), "qcow2");
  EXPECT_EQ(TargetOf("qcow2", {"iso"}), "format-mismatch");
  EXPECT_EQ(TargetOf("ova", {"raw"}), "format-mismatch");
  EXPECT_EQ(TargetOf("ova", {"ova"}), "as it is");
}

TEST(ParseFormatsTest, NamesNormalisedInOrder) {
  const auto f = ParseFormats("raw, QCOW2 vhd,img");
  ASSERT_FALSE(f.ok());  // img is raw, named twice
  EXPECT_EQ(f.error().code(), ErrorCode::kConfigInvalid);
  const auto g = ParseFormats(" qcow2,raw  vhd ");
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  EXPECT_EQ(*g, (Formats{"qcow2", "raw", "vpc"}));
  EXPECT_TRUE(ParseFormats("")->empty());
  const auto bad = ParseFormats("raw, qed");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("\"qed\""), std::string::npos) << bad.error().message();
}

class ConvertImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto qemu = QemuImg::Find();
    ASSERT_TRUE(qemu.ok()) << qemu.error().ToString();
    qemu_.emplace(std::move(qemu).value());
    layout_.emplace(dir_.path());
    auto dirs = OpenCacheDirs(*layout_);
    ASSERT_TRUE(dirs.ok()) << dirs.error().ToString();
    dirs_.emplace(std::move(dirs).value());
  }

  // A qcow2 with some data, in the content store under its SHA-512.
  std::string Source() {
    const fs::path raw = dir_ / "data.raw";
    test::WriteFile(raw, std::string(3 << 20, 'x') + std::string(1 << 20, '\0') + "tail");
    const fs::path made = dir_ / "made.qcow2";
    const auto r = test::Run(
        {"qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw.string(), made.string()});
    EXPECT_EQ(r.exit_code, 0) << test::Describe(r);
    std::string sha = test::Sha512SumOf(made);
    fs::rename(made, layout_->ContentFile(sha));
    return sha;
  }

  test::TempDir dir_;
  std::optional<QemuImg> qemu_;
  std::optional<CacheLayout> layout_;
  std::optional<CacheDirFds> dirs_;
};

TEST_F(ConvertImageTest, TheResultIsInTheContentStoreUnderItsOwnSha512) {
  const std::string source = Source();
  const auto record = ConvertImage(*qemu_, *dirs_, source, "qcow2", "raw", 4 << 20,
                                   TimePoint{std::chrono::seconds(7)});
  ASSERT_TRUE(record.ok()) << record.error().ToString();
  EXPECT_EQ(record->format, "raw");
  EXPECT_EQ(record->qemu_img_version, qemu_->version());
  const fs::path converted = layout_->ContentFile(record->sha512);
  ASSERT_TRUE(fs::exists(converted));
  EXPECT_EQ(test::Sha512SumOf(converted), record->sha512);
  EXPECT_EQ(fs::file_size(converted), record->size);
  // The guest's bytes, as qemu-img reads the source.
  const std::string expected = test::ReadFile(dir_ / "data.raw");
  std::string got = test::ReadFile(converted);
  got.resize(expected.size());
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(fs::exists(layout_->ContentFile(source)));  // beside its source
  EXPECT_TRUE(fs::is_empty(layout_->partial));
}

TEST_F(ConvertImageTest, AFailedConversionLeavesNothing) {
  const std::string source = Source();
  // Read as a format it is not: qemu-img refuses.
  const auto record = ConvertImage(*qemu_, *dirs_, source, "vdi", "raw", 4 << 20, TimePoint{});
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.error().code(), ErrorCode::kIo);
  EXPECT_NE(record.error().message().find("qemu-img convert"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(layout_->partial));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(layout_->content)) ++files;
  EXPECT_EQ(files, 1u);
}

TEST_F(ConvertImageTest, WhatAKilledConversionLeftIsReplaced) {
  const std::string source = Source();
  test::WriteFile(layout_->partial / (source + ".raw.convert"), "half a conversion");
  const auto record = ConvertImage(*qemu_, *dirs_, source, "qcow2", "raw", 4 << 20, TimePoint{});
  ASSERT_TRUE(record.ok()) << record.error().ToString();
  EXPECT_TRUE(fs::is_empty(layout_->partial));
  EXPECT_EQ(test::Sha512SumOf(layout_->ContentFile(record->sha512)), record->sha512);
}

TEST(ConversionTimeoutTest, TenMinutesOrSixteenMiBPerSecond) {
  EXPECT_EQ(ConversionTimeout(1 << 20), std::chrono::minutes(10));
  EXPECT_EQ(ConversionTimeout(std::uint64_t{100} << 30), std::chrono::seconds(6400));
}

}  // namespace
}  // namespace vmc::catcher
