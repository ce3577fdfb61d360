#include "common/overlapped_digest.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "common/digest.h"

namespace vmc {
namespace {

// Deterministic bytes that are not a repeating pattern.
std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

std::string Reference(const std::string& data) {
  auto hex = Sha512Hex(data);
  EXPECT_TRUE(hex.ok());
  return hex.ok() ? *hex : "";
}

// Feeds `data` in chunks of `chunk` bytes (the last one shorter).
void Feed(OverlappedSha512& sha, const std::string& data, std::size_t chunk) {
  for (std::size_t at = 0; at < data.size(); at += chunk) {
    sha.Update(data.data() + at, std::min(chunk, data.size() - at));
  }
}

TEST(OverlappedDigestTest, EmptyInputIsTheSha512OfNothing) {
  OverlappedSha512 sha;
  auto hex = sha.FinishHex();
  ASSERT_TRUE(hex.ok());
  EXPECT_EQ(*hex,
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  // An Update of zero bytes changes nothing either.
  sha.Update("x", 0);
  EXPECT_EQ(*sha.FinishHex(), *hex);
}

// Small buffers so that many chunk sizes cross buffer boundaries, fill the
// whole pool and make Update wait for the worker. Every buffer is handed to
// the worker thread, so tiny buffers get little data (about 2000 buffers).
TEST(OverlappedDigestTest, EqualsSha512OverManyChunkSizes) {
  for (const std::size_t buffer : {std::size_t{1}, std::size_t{7}, std::size_t{4096},
                                   std::size_t{65536}, std::size_t{1} << 20}) {
    const std::string data = RandomBytes(std::min<std::size_t>(buffer * 2000, 3'000'000), 1);
    const std::string want = Reference(data);
    for (const std::size_t buffers : {std::size_t{2}, std::size_t{4}}) {
      OverlappedSha512 sha(buffer, buffers);
      for (const std::size_t chunk :
           {std::size_t{1}, std::size_t{3}, std::size_t{1000}, std::size_t{4095}, std::size_t{4096},
            std::size_t{4097}, std::size_t{65536}, data.size()}) {
        SCOPED_TRACE("buffer " + std::to_string(buffer) + " x " + std::to_string(buffers) +
                     ", chunk " + std::to_string(chunk) + ", " + std::to_string(data.size()) +
                     " bytes");
        Feed(sha, data, chunk);
        auto hex = sha.FinishHex();
        ASSERT_TRUE(hex.ok());
        // FinishHex resets: the same object hashes the next message.
        EXPECT_EQ(*hex, want);
      }
    }
  }
}

TEST(OverlappedDigestTest, SizesAroundTheBufferSize) {
  constexpr std::size_t kBuffer = 4096;
  for (const std::size_t n :
       {kBuffer - 1, kBuffer, kBuffer + 1, 2 * kBuffer, 5 * kBuffer + 17, 16 * kBuffer}) {
    const std::string data = RandomBytes(n, static_cast<unsigned>(n));
    OverlappedSha512 sha(kBuffer, 2);
    sha.Update(data.data(), data.size());
    EXPECT_EQ(*sha.FinishHex(), Reference(data)) << n << " bytes";
  }
}

TEST(OverlappedDigestTest, ResetDiscardsEverythingSoFar) {
  const std::string junk = RandomBytes(100'000, 2);
  const std::string data = RandomBytes(50'000, 3);
  OverlappedSha512 sha(4096, 3);
  // Reset with chunks waiting for the worker, with a part-filled buffer, and
  // with nothing at all.
  Feed(sha, junk, 999);
  sha.Reset();
  Feed(sha, data, 777);
  EXPECT_EQ(*sha.FinishHex(), Reference(data));

  sha.Update(junk.data(), 10);  // less than a buffer: never handed over
  sha.Reset();
  sha.Reset();
  Feed(sha, data, 4096);
  EXPECT_EQ(*sha.FinishHex(), Reference(data));

  sha.Reset();
  EXPECT_EQ(*sha.FinishHex(), Reference(""));
}

// The destructor must not hang or crash with work still queued.
TEST(OverlappedDigestTest, DestroyedWithWorkPending) {
  const std::string data = RandomBytes(200'000, 4);
  for (int i = 0; i < 20; ++i) {
    OverlappedSha512 sha(1024, 2);
    Feed(sha, data, 5000);
  }
  SUCCEED();
}

}  // namespace
}  // namespace vmc
