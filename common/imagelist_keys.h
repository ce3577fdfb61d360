// The keys of an image list (DESIGN.md section 3) whose values have a known
// type, and the keys that have a fixed role. They mirror the properties of
// schemas/imagelist.schema.json: the schema checks a value's JSON type,
// these tables drive the checks it cannot make (common/imagelist.cc) and the
// conversion of command-line text into values.
//
// Header-only: the reader looks up every member of every image (a million
// look-ups for a list at the size cap), so the look-up must inline.
#ifndef VMC_COMMON_IMAGELIST_KEYS_H_
#define VMC_COMMON_IMAGELIST_KEYS_H_

#include <algorithm>
#include <span>
#include <string_view>

namespace vmc {

enum class ValueKind {
  kAny,         // unknown keys, ad:* and the like: any JSON value, kept as written
  kText,        // a string
  kIdentifier,  // the identifier rule (common/identifier.h)
  kDate,        // "YYYY-MM-DDTHH:MM:SSZ", a calendar date in UTC
  kCount,       // a non-negative integer below 2^64, or AppDB's digit string
  kSha512,      // 128 hexadecimal digits
  kStructure,   // hv:images, hv:endorser: changed only through their own functions
};

struct KeyKind {
  std::string_view key;
  ValueKind kind;
};

inline constexpr KeyKind kListKeys[] = {
    {"dc:identifier", ValueKind::kIdentifier},
    {"dc:date:created", ValueKind::kDate},
    {"dc:date:expires", ValueKind::kDate},
    {"dc:title", ValueKind::kText},
    {"dc:description", ValueKind::kText},
    {"dc:source", ValueKind::kText},
    {"hv:version", ValueKind::kText},
    {"hv:uri", ValueKind::kText},
    {"ad:vo", ValueKind::kText},
    {"hv:images", ValueKind::kStructure},
    {"hv:endorser", ValueKind::kStructure},
};

inline constexpr KeyKind kImageKeys[] = {
    {"dc:identifier", ValueKind::kIdentifier},
    {"dc:date:expires", ValueKind::kDate},
    {"hv:size", ValueKind::kCount},
    {"hv:ram_minimum", ValueKind::kCount},
    {"hv:core_minimum", ValueKind::kCount},
    {"sl:checksum:sha512", ValueKind::kSha512},
    {"dc:title", ValueKind::kText},
    {"dc:description", ValueKind::kText},
    {"hv:uri", ValueKind::kText},
    {"hv:version", ValueKind::kText},
    {"hv:hypervisor", ValueKind::kText},
    {"hv:format", ValueKind::kText},
    {"sl:arch", ValueKind::kText},
    {"sl:os", ValueKind::kText},
    {"sl:osversion", ValueKind::kText},
    {"sl:comments", ValueKind::kText},
    {"ad:mpuri", ValueKind::kText},
    {"ad:vo", ValueKind::kText},
};

// What old vmcatcher subscribers require of every image (hepixvmitrust's
// image_required_metadata) beyond what NewImageFields sets: without them
// those subscribers silently drop the image.
inline constexpr std::string_view kLegacyImageKeys[] = {
    "dc:title", "dc:description", "hv:version",   "hv:hypervisor",
    "sl:arch",  "sl:os",          "sl:osversion", "sl:comments",
};

// Keys that cannot be removed: what identifies a list, and what makes an
// image a provable download.
inline constexpr std::string_view kFixedListKeys[] = {"dc:identifier", "hv:images", "hv:endorser"};
inline constexpr std::string_view kFixedImageKeys[] = {"dc:identifier", "hv:uri", "hv:size",
                                                       "sl:checksum:sha512"};

// kAny for a key the table does not name.
inline ValueKind KindOf(std::span<const KeyKind> table, std::string_view key) {
  for (const auto& entry : table) {
    if (entry.key == key) return entry.kind;
  }
  return ValueKind::kAny;
}

inline bool Contains(std::span<const std::string_view> keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

}  // namespace vmc

#endif  // VMC_COMMON_IMAGELIST_KEYS_H_
