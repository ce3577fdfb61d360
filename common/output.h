// Output helpers both tools share: JSON for --json (RapidJSON's writer) and
// aligned columns for people.
#ifndef VMC_COMMON_OUTPUT_H_
#define VMC_COMMON_OUTPUT_H_

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace vmc {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void Field(JsonWriter& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

inline void Field(JsonWriter& w, std::string_view key, uint64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Uint64(value);
}

// Prints rows as columns separated by two spaces, the last column unpadded.
// Control characters in cells are escaped (cells may hold list data).
// "1 subscription", "0 subscriptions", "3 downloads": a count for people,
// with the noun's plural made by an "s" (every noun the tools count takes
// one).
std::string Counted(std::size_t n, std::string_view noun);

void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

}  // namespace vmc

#endif  // VMC_COMMON_OUTPUT_H_
