#include "common/digest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc {
namespace {

// FIPS 180-2 / NIST example vectors.
constexpr char kEmptySha512[] =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
constexpr char kAbcSha512[] =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
constexpr char kMillionASha512[] =
    "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
    "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b";

std::string RandomBytes(std::size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>(byte(gen));
  return data;
}

std::string HexOf(std::string_view data) {
  auto hex = Sha512Hex(data);
  EXPECT_TRUE(hex.ok()) << hex.error().ToString();
  return hex.ok() ? *hex : std::string();
}

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(HexOf(""), kEmptySha512);
  EXPECT_EQ(HexOf("abc"), kAbcSha512);
  EXPECT_EQ(HexOf(std::string(1'000'000, 'a')), kMillionASha512);
}

TEST(DigestTest, MillionAFedOneByteAtATime) {
  Sha512 sha;
  for (int i = 0; i < 1'000'000; ++i) sha.Update("a", 1);
  const auto hex = sha.FinishHex();
  ASSERT_TRUE(hex.ok()) << hex.error().ToString();
  EXPECT_EQ(*hex, kMillionASha512);
}

TEST(DigestTest, StreamingInOddChunksEqualsOneShot) {
  const std::string data = RandomBytes((3 << 20) + 37, 1);
  const std::string expected = HexOf(data);
  for (const std::size_t chunk : {1UL, 3UL, 7UL, 127UL, 128UL, 129UL, 4097UL, 65537UL, 1048573UL}) {
    Sha512 sha;
    for (std::size_t at = 0; at < data.size(); at += chunk) {
      sha.Update(std::string_view{data}.substr(at, chunk));
    }
    const auto hex = sha.FinishHex();
    ASSERT_TRUE(hex.ok()) << hex.error().ToString();
    EXPECT_EQ(*hex, expected) << "chunk " << chunk;
  }
}

TEST(DigestTest, FinishReturnsRawBytesOfTheHex) {
  Sha512 sha;
  sha.Update("abc");
  const auto raw = sha.Finish();
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(HexEncode(*raw), kAbcSha512);
}

TEST(DigestTest, FinishStartsTheNextMessage) {
  Sha512 sha;
  sha.Update("abc");
  ASSERT_EQ(*sha.FinishHex(), kAbcSha512);
  EXPECT_EQ(*sha.FinishHex(), kEmptySha512);
  sha.Update("ab");
  sha.Update("c");
  EXPECT_EQ(*sha.FinishHex(), kAbcSha512);
}

TEST(DigestTest, ResetDiscardsInput) {
  Sha512 sha;
  sha.Update("garbage");
  sha.Reset();
  sha.Update("abc");
  EXPECT_EQ(*sha.FinishHex(), kAbcSha512);
}

TEST(DigestTest, MovedObjectKeepsItsState) {
  Sha512 a;
  a.Update("ab");
  Sha512 b(std::move(a));
  b.Update("c");
  EXPECT_EQ(*b.FinishHex(), kAbcSha512);
}

TEST(DigestTest, HexEncodeIsLowerCase) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff, 0x5c};
  EXPECT_EQ(HexEncode(bytes), "000fa0ff5c");
  EXPECT_EQ(HexEncode({}), "");
}

TEST(DigestTest, HexDecodeAcceptsEitherCaseAndNormalizesToLower) {
  std::string upper = kAbcSha512;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  const auto normalized = NormalizeSha512Hex(upper);
  ASSERT_TRUE(normalized.ok()) << normalized.error().ToString();
  EXPECT_EQ(*normalized, kAbcSha512);

  std::string mixed = kAbcSha512;
  mixed[0] = 'D';
  mixed[127] = 'F';
  const auto bytes = DecodeSha512Hex(mixed);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ((*bytes)[0], 0xdd);
  EXPECT_EQ((*bytes)[63], 0x9f);
  EXPECT_EQ(HexEncode(*bytes), kAbcSha512);
}

TEST(DigestTest, HexDecodeRejectsBadInput) {
  const std::string good = kAbcSha512;
  const std::vector<std::string> bad = {
      "",
      good.substr(1),              // 127 digits
      good + "0",                  // 129 digits
      good + good,                 // a SHA-512 twice
      good.substr(0, 127) + "g",   // not hex
      " " + good.substr(1),        // leading space
      good.substr(0, 127) + "\n",  // trailing newline (as in sha512sum output)
      "0x" + good.substr(2),       // prefix
      good.substr(0, 64) + "-" + good.substr(65),
      std::string("\0", 1) + good.substr(1),  // NUL
  };
  ASSERT_TRUE(DecodeSha512Hex(good).ok());
  for (std::size_t i = 0; i < bad.size(); ++i) {
    const auto r = DecodeSha512Hex(bad[i]);
    ASSERT_FALSE(r.ok()) << "case " << i;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidValue) << "case " << i;
    EXPECT_FALSE(NormalizeSha512Hex(bad[i]).ok()) << "case " << i;
  }
}

TEST(DigestTest, HexDecodeErrorSaysWhatIsWrong) {
  const auto short_hex = DecodeSha512Hex("abc");
  ASSERT_FALSE(short_hex.ok());
  EXPECT_NE(short_hex.error().message().find("not 3 characters"), std::string::npos)
      << short_hex.error().message();

  std::string bad_char = kAbcSha512;
  bad_char[10] = 'z';
  const auto r = DecodeSha512Hex(bad_char);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("character 10"), std::string::npos) << r.error().message();
}

// The reference is the coreutils tool that operators use to check a digest by hand.
std::string Sha512sumOf(const std::filesystem::path& path) {
  const auto run = test::Run({"sha512sum", path.string()});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return run.out.substr(0, kSha512HexSize);
}

TEST(DigestTest, HashFileEqualsSha512sum) {
  test::TempDir dir;
  // Not a multiple of the 1 MiB read buffer, so the last read is short.
  const std::string data = RandomBytes((5 << 20) + 12345, 2);
  const auto path = dir / "image.raw";
  test::WriteFile(path, data);

  std::vector<std::uint64_t> progress;
  const auto digest = HashFile(path, [&](std::uint64_t n) { progress.push_back(n); });
  ASSERT_TRUE(digest.ok()) << digest.error().ToString();
  EXPECT_EQ(digest->sha512_hex, Sha512sumOf(path));
  EXPECT_EQ(digest->sha512_hex, HexOf(data));
  EXPECT_EQ(digest->size, data.size());

  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_EQ(progress.back(), data.size());
}

TEST(DigestTest, HashFileWithoutProgressCallback) {
  test::TempDir dir;
  const auto path = dir / "small";
  test::WriteFile(path, "abc");
  const auto digest = HashFile(path);
  ASSERT_TRUE(digest.ok()) << digest.error().ToString();
  EXPECT_EQ(digest->sha512_hex, kAbcSha512);
  EXPECT_EQ(digest->size, 3U);
}

TEST(DigestTest, HashFileOfEmptyFile) {
  test::TempDir dir;
  const auto path = dir / "empty";
  test::WriteFile(path, "");
  const auto digest = HashFile(path);
  ASSERT_TRUE(digest.ok()) << digest.error().ToString();
  EXPECT_EQ(digest->sha512_hex, kEmptySha512);
  EXPECT_EQ(digest->sha512_hex, Sha512sumOf(path));
  EXPECT_EQ(digest->size, 0U);
}

TEST(DigestTest, HashFileErrorNamesPathAndReason) {
  test::TempDir dir;
  const auto missing = dir / "missing.img";
  const auto r = HashFile(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_NE(r.error().message().find(missing.string()), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("No such file or directory"), std::string::npos)
      << r.error().message();
  ASSERT_FALSE(r.error().details().empty());
  EXPECT_EQ(r.error().details()[0], std::make_pair(std::string("path"), missing.string()));

  const auto is_dir = HashFile(dir.path());
  ASSERT_FALSE(is_dir.ok());
  EXPECT_EQ(is_dir.error().code(), ErrorCode::kIo);
  EXPECT_NE(is_dir.error().message().find("Is a directory"), std::string::npos)
      << is_dir.error().message();
}

}  // namespace
}  // namespace vmc
