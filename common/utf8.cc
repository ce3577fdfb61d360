#include "common/utf8.h"

#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>

#include <cstdint>
#include <cstring>

namespace vmc {

// ASCII, nearly all of any list, is passed eight bytes at a time; every
// other sequence is judged by RapidJSON's validator.
std::size_t FirstInvalidUtf8(std::string_view text) {
  struct Sink {
    void Put(char) {}
  } sink;
  constexpr std::uint64_t kHighBits = 0x8080808080808080u;
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint64_t word = 0;
    if (text.size() - i >= sizeof word) {
      std::memcpy(&word, text.data() + i, sizeof word);
      if ((word & kHighBits) == 0) {
        i += sizeof word;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    rapidjson::MemoryStream stream(text.data() + i, text.size() - i);
    if (!rapidjson::UTF8<>::Validate(stream, sink)) return i;
    i += stream.Tell();
  }
  return std::string_view::npos;
}

bool IsValidUtf8(std::string_view text) { return FirstInvalidUtf8(text) == std::string_view::npos; }

}  // namespace vmc
