#include "common/digest.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "common/openssl_error.h"
#include "common/unique_fd.h"

namespace vmc {
namespace {

// Large enough that the per-call overhead of read() and EVP is noise next to
// hashing; small enough to keep peak memory flat (DESIGN.md section 9).
constexpr std::size_t kReadBufferSize = std::size_t{1} << 20;

// Fetched once per process: an explicit fetch spares every EVP_DigestInit the
// provider lookup that an implicit EVP_sha512() would redo. The static is
// constructed after OpenSSL registered its atexit cleanup (the fetch runs
// first), so it is destroyed before that cleanup runs.
const EVP_MD* Sha512Md() {
  static const EvpMdPtr kMd(EVP_MD_fetch(nullptr, "SHA512", nullptr));
  return kMd.get();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Error FileError(std::string_view action, const std::filesystem::path& path, int err) {
  std::string message(action);
  message += ' ';
  message += path.string();
  message += ": ";
  message += std::generic_category().message(err);
  return Error(ErrorCode::kIo, std::move(message)).With("path", path.string());
}

}  // namespace

Sha512::Sha512() { Reset(); }
Sha512::~Sha512() = default;
Sha512::Sha512(Sha512&&) noexcept = default;
Sha512& Sha512::operator=(Sha512&&) noexcept = default;

void Sha512::Reset() {
  failure_.reset();
  if (ctx_ == nullptr) ctx_.reset(EVP_MD_CTX_new());
  const EVP_MD* md = Sha512Md();
  if (ctx_ == nullptr || md == nullptr || EVP_DigestInit_ex2(ctx_.get(), md, nullptr) != 1) {
    failure_ = Error(ErrorCode::kIo, "cannot start SHA-512 in OpenSSL: " + TakeOpenSslError());
  }
}

void Sha512::Update(const void* data, std::size_t size) {
  if (failure_.has_value()) return;
  if (EVP_DigestUpdate(ctx_.get(), data, size) != 1) {
    failure_ = Error(ErrorCode::kIo, "OpenSSL SHA-512 update failed: " + TakeOpenSslError());
  }
}

Result<Sha512Bytes> Sha512::Finish() {
  Sha512Bytes digest{};
  unsigned int length = 0;
  if (!failure_.has_value() &&
      (EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length) != 1 || length != digest.size())) {
    failure_ = Error(ErrorCode::kIo, "OpenSSL SHA-512 final failed: " + TakeOpenSslError());
  }
  std::optional<Error> failure = std::move(failure_);
  Reset();
  if (failure.has_value()) return std::move(*failure);
  return digest;
}

Result<std::string> Sha512::FinishHex() {
  VMC_ASSIGN_OR_RETURN(const Sha512Bytes digest, Finish());
  return HexEncode(digest);
}

Result<std::string> Sha512Hex(std::string_view data) {
  Sha512 sha;
  sha.Update(data);
  return sha.FinishHex();
}

std::string HexEncode(std::span<const unsigned char> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (const unsigned char b : bytes) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 0x0f];
  }
  return hex;
}

Result<Sha512Bytes> DecodeSha512Hex(std::string_view hex) {
  if (hex.size() != kSha512HexSize) {
    return Error(ErrorCode::kInvalidValue, "a SHA-512 must be " + std::to_string(kSha512HexSize) +
                                               " hex digits, not " + std::to_string(hex.size()) +
                                               " characters");
  }
  Sha512Bytes bytes{};
  for (std::size_t i = 0; i < hex.size(); ++i) {
    const int value = HexValue(hex[i]);
    if (value < 0) {
      return Error(ErrorCode::kInvalidValue,
                   "a SHA-512 must be hex digits only; character " + std::to_string(i) + " is not");
    }
    bytes[i / 2] = static_cast<unsigned char>(i % 2 == 0 ? value << 4 : bytes[i / 2] | value);
  }
  return bytes;
}

Result<std::string> NormalizeSha512Hex(std::string_view hex) {
  VMC_ASSIGN_OR_RETURN(const Sha512Bytes bytes, DecodeSha512Hex(hex));
  return HexEncode(bytes);
}

Result<FileDigest> HashFile(const std::filesystem::path& path, const HashProgress& progress) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return FileError("cannot open", path, errno);
  // Advice only: it widens the kernel's read-ahead; if refused, only speed changes.
  (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

  const auto buffer = std::make_unique_for_overwrite<unsigned char[]>(kReadBufferSize);
  Sha512 sha;
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.get(), kReadBufferSize);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileError("cannot read", path, errno);
    }
    if (n == 0) break;
    sha.Update(buffer.get(), static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
    if (progress) progress(total);
  }
  VMC_ASSIGN_OR_RETURN(std::string hex, sha.FinishHex());
  return FileDigest{std::move(hex), total};
}

bool IsSha2Digest(int nid) {
  return nid == NID_sha224 || nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512 ||
         nid == NID_sha512_224 || nid == NID_sha512_256;
}

}  // namespace vmc
