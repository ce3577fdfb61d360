#include "common/identifier.h"

#include <openssl/rand.h>

#include <array>

#include "common/log.h"

namespace vmc {
namespace {

bool IsIdentifierChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

// A hostile identifier may be megabytes long or hold control characters:
// quote a bounded, escaped excerpt.
std::string QuoteExcerpt(std::string_view text) {
  constexpr std::size_t kMaxQuoted = 64;
  std::string quoted = "\"" + EscapeForLog(text.substr(0, kMaxQuoted)) + "\"";
  if (text.size() > kMaxQuoted) {
    quoted += "... (" + std::to_string(text.size()) + " bytes)";
  }
  return quoted;
}

Error Invalid(std::string_view text, std::string_view why) {
  return Error(ErrorCode::kInvalidIdentifier,
               "invalid identifier " + QuoteExcerpt(text) + ": " + std::string(why) +
                   " (an identifier is 1-128 of A-Z a-z 0-9 . _ : - and does not start with \".\")")
      .With("identifier", EscapeForLog(text.substr(0, kMaxIdentifierLength + 1)));
}

}  // namespace

Status ValidateIdentifier(std::string_view text) {
  if (text.empty()) return Invalid(text, "it is empty");
  if (text.size() > kMaxIdentifierLength) return Invalid(text, "it is too long");
  if (text.front() == '.') return Invalid(text, "it starts with \".\"");
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!IsIdentifierChar(text[i])) {
      return Invalid(text, "character " + std::to_string(i + 1) + " is not allowed");
    }
  }
  return Ok();
}

Result<std::string> NewUuid() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Error(ErrorCode::kIo, "cannot generate a UUID: OpenSSL has no random bytes");
  }
  // RFC 4122 section 4.4: version 4 in the high nibble of byte 6, variant
  // 10xx in the high bits of byte 8.
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string uuid;
  uuid.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) uuid += '-';
    uuid += kHex[bytes[i] >> 4];
    uuid += kHex[bytes[i] & 0x0f];
  }
  return uuid;
}

}  // namespace vmc
