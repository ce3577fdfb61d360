// Whether bytes are well-formed UTF-8, as RFC 3629 defines it: no overlong
// forms, no encoded surrogates, nothing beyond U+10FFFF. Image lists and
// policies are refused (and their decoded strings checked) with this.
//
// Thread-safety: pure functions.
#ifndef VMC_COMMON_UTF8_H_
#define VMC_COMMON_UTF8_H_

#include <cstddef>
#include <string_view>

namespace vmc {

// The offset of the first byte that does not begin a valid UTF-8 sequence,
// or npos.
std::size_t FirstInvalidUtf8(std::string_view text);

bool IsValidUtf8(std::string_view text);

}  // namespace vmc

#endif  // VMC_COMMON_UTF8_H_
