// Identifiers of image lists and images (`dc:identifier`). They come from
// untrusted lists and end up in file names, LMDB keys and hook environments,
// so one rule (DESIGN.md section 5, path traversal) decides which are allowed:
// 1 to 128 characters of [A-Za-z0-9._:-], not starting with ".". Field lists
// use UUIDs and some non-hex UUID-shaped tokens, which all fit.
//
// Check every identifier with ValidateIdentifier() before a path or a key is
// built from it. Thread-safety: all functions are thread-safe.
#ifndef VMC_COMMON_IDENTIFIER_H_
#define VMC_COMMON_IDENTIFIER_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"

namespace vmc {

inline constexpr std::size_t kMaxIdentifierLength = 128;

// Returns Ok() when `text` follows the identifier rule, kInvalidIdentifier
// otherwise. The message quotes the text (control characters escaped, long
// text shortened, so it is safe to print) and states the rule.
Status ValidateIdentifier(std::string_view text);

// Returns a new random (version 4) UUID in lower case, e.g.
// "4e186b44-2c64-40ea-97d5-e9e5c0bce059", drawn from OpenSSL's RAND_bytes.
// Returns kIo when OpenSSL cannot provide random bytes.
Result<std::string> NewUuid();

}  // namespace vmc

#endif  // VMC_COMMON_IDENTIFIER_H_
