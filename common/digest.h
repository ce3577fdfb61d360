// SHA-512, the digest that image lists sign for every image (DESIGN.md
// section 1): a streaming calculator over OpenSSL's EVP interface, hex
// helpers for the digests written in lists, and a one-pass hash of a whole
// file for `caster image add --file`.
//
// Hex digests in lists are untrusted text: parse them with
// NormalizeSha512Hex() or DecodeSha512Hex() before comparing, and compare the
// canonical (lower-case) forms.
//
// Thread-safety: a Sha512 object is thread-compatible (one thread at a time);
// the free functions are thread-safe.
#ifndef VMC_COMMON_DIGEST_H_
#define VMC_COMMON_DIGEST_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/openssl_ptr.h"

namespace vmc {

inline constexpr std::size_t kSha512Size = 64;
inline constexpr std::size_t kSha512HexSize = 2 * kSha512Size;

using Sha512Bytes = std::array<unsigned char, kSha512Size>;

// Streaming SHA-512. Feed bytes with Update() in any chunking, then Finish().
// Finish() also resets the object, so it can hash the next message at once.
//
// OpenSSL can only fail here on allocation failure or a provider
// configuration without SHA-512; such a failure is remembered and reported by
// the next Finish*() (as kIo), so that the hot Update() path needs no checks.
class Sha512 {
 public:
  Sha512();
  ~Sha512();
  Sha512(Sha512&&) noexcept;
  Sha512& operator=(Sha512&&) noexcept;
  Sha512(const Sha512&) = delete;
  Sha512& operator=(const Sha512&) = delete;

  void Update(const void* data, std::size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }

  // Returns the digest of everything passed to Update() since construction or
  // the last Finish()/Reset(), and resets.
  Result<Sha512Bytes> Finish();
  // As Finish(), as 128 lower-case hex digits.
  Result<std::string> FinishHex();

  // Discards the bytes passed so far (and a remembered failure).
  void Reset();

 private:
  EvpMdCtxPtr ctx_;
  // The first OpenSSL failure since the last reset; reported by Finish().
  std::optional<Error> failure_;
};

// SHA-512 of `data` in one call, as lower-case hex.
Result<std::string> Sha512Hex(std::string_view data);

// Lower-case hex of `bytes`.
std::string HexEncode(std::span<const unsigned char> bytes);

// Parses a SHA-512 written as exactly 128 hex digits, either case.
// Returns kInvalidValue saying what is wrong (length, or the offset of the
// first non-hex character) otherwise; the text itself is not quoted, so the
// caller adds the context (which list, which image).
Result<Sha512Bytes> DecodeSha512Hex(std::string_view hex);

// As DecodeSha512Hex(), returning the canonical lower-case text.
Result<std::string> NormalizeSha512Hex(std::string_view hex);

struct FileDigest {
  std::string sha512_hex;  // lower case
  std::uint64_t size = 0;  // bytes hashed
};

// Called after each block read, with the number of bytes hashed so far.
using HashProgress = std::function<void(std::uint64_t bytes_so_far)>;

// Hashes the file at `path` in one streaming pass (1 MiB reads, sequential
// read-ahead advised), so the memory used is independent of the file size.
// `progress` may be empty. Returns kIo naming the path and the system's
// reason when the file cannot be opened or read.
Result<FileDigest> HashFile(const std::filesystem::path& path, const HashProgress& progress = {});

// Whether OpenSSL's digest `nid` (EVP_MD_get_type) is of the SHA-2 family,
// the only digests a signature or a certificate is trusted with (DESIGN.md
// section 5 step 2); SHA-1 is judged apart, where old lists allow it.
bool IsSha2Digest(int nid);

}  // namespace vmc

#endif  // VMC_COMMON_DIGEST_H_
