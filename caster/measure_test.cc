// Measuring images for `caster image add`: SHA-512 and size of a local file,
// and of a URL downloaded (from a real nginx) without being kept.
#include "caster/measure.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "test/support/nginx.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::caster {
namespace {

using test::TempDir;
using test::WriteFile;

// FIPS 180-2's SHA-512("abc").
constexpr char kAbcSha512[] =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
// SHA-512 of no bytes.
constexpr char kEmptySha512[] =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

// sha512sum's opinion of a file.
std::string Sha512Sum(const std::filesystem::path& file) {
  const test::RunResult r = test::Run({"sha512sum", file.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, 128);
}

HttpClient Client() {
  auto client = HttpClient::Create();
  EXPECT_TRUE(client.ok()) << client.error().ToString();
  return std::move(client).value();
}

TEST(MeasureFileTest, KnownVector) {
  TempDir dir;
  WriteFile(dir / "abc", "abc");
  auto digest = MeasureFile(dir / "abc");
  ASSERT_TRUE(digest.ok()) << digest.error().ToString();
  EXPECT_EQ(digest->sha512_hex, kAbcSha512);
  EXPECT_EQ(digest->size, 3u);
}

TEST(MeasureFileTest, EmptyFile) {
  TempDir dir;
  WriteFile(dir / "empty", "");
  auto digest = MeasureFile(dir / "empty");
  ASSERT_TRUE(digest.ok()) << digest.error().ToString();
  EXPECT_EQ(digest->sha512_hex, kEmptySha512);
  EXPECT_EQ(digest->size, 0u);
}

TEST(MeasureFileTest, AgreesWithSha512sumOnSeveralMegabytes) {
  TempDir dir;
  const std::string bytes = RandomBytes((3 << 20) + 17, 1);
  WriteFile(dir / "img", bytes);
  auto digest = MeasureFile(dir / "img");
  ASSERT_TRUE(digest.ok()) << digest.error().ToString();
  EXPECT_EQ(digest->sha512_hex, Sha512Sum(dir / "img"));
  EXPECT_EQ(digest->size, bytes.size());
}

TEST(MeasureFileTest, MissingFileIsIoError) {
  TempDir dir;
  auto digest = MeasureFile(dir / "missing.img");
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.error().code(), ErrorCode::kIo);
  EXPECT_NE(digest.error().message().find("missing.img"), std::string::npos);
}

TEST(MeasureFileTest, DirectoryIsRefused) {
  TempDir dir;
  auto digest = MeasureFile(dir.path());
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.error().code(), ErrorCode::kIo) << digest.error().ToString();
}

class MeasureUrlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = test::NginxServer::Start({}).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static test::NginxServer* server_;
};

test::NginxServer* MeasureUrlTest::server_ = nullptr;

TEST_F(MeasureUrlTest, DownloadHashesWithoutKeeping) {
  const std::string bytes = RandomBytes((2 << 20) + 5, 2);
  WriteFile(server_->root() / "image.raw", bytes);
  HttpClient client = Client();
  auto digest = MeasureUrl(client, server_->Url("/image.raw"), Credentials{});
  ASSERT_TRUE(digest.ok()) << digest.error().ToString();
  EXPECT_EQ(digest->sha512_hex, Sha512Sum(server_->root() / "image.raw"));
  EXPECT_EQ(digest->size, bytes.size());
  EXPECT_EQ(server_->WaitForLog("/image.raw", 1).size(), 1u);
}

TEST_F(MeasureUrlTest, MissingObjectIsHttpStatus) {
  HttpClient client = Client();
  auto digest = MeasureUrl(client, server_->Url("/no-such.img"), Credentials{});
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.error().code(), ErrorCode::kHttpStatus) << digest.error().ToString();
}

TEST_F(MeasureUrlTest, FileUrlMeasuredToo) {
  TempDir dir;
  WriteFile(dir / "abc", "abc");
  HttpClient client = Client();
  auto digest = MeasureUrl(client, "file://" + (dir / "abc").string(), Credentials{});
  ASSERT_TRUE(digest.ok()) << digest.error().ToString();
  EXPECT_EQ(digest->sha512_hex, kAbcSha512);
  EXPECT_EQ(digest->size, 3u);
}

}  // namespace
}  // namespace vmc::caster
