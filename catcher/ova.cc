#include "catcher/ova.h"

#include <algorithm>
#include <optional>
#include <variant>

#include "common/json_reader.h"

namespace vmc::catcher {
namespace {

// The ustar header (POSIX.1-1988, pax's "ustar Interchange Format").
constexpr std::size_t kBlock = 512;
constexpr std::size_t kName = 0;
constexpr std::size_t kNameLength = 100;
constexpr std::size_t kSize = 124;
constexpr std::size_t kSizeLength = 12;
constexpr std::size_t kChecksum = 148;
constexpr std::size_t kChecksumLength = 8;
constexpr std::size_t kType = 156;
constexpr std::size_t kMagic = 257;
constexpr std::size_t kPrefix = 345;
constexpr std::size_t kPrefixLength = 155;

std::string_view Field(std::string_view header, std::size_t at, std::size_t length) {
  std::string_view field = header.substr(at, length);
  return field.substr(0, std::min(field.find('\0'), field.size()));
}

// An octal field, ended by NUL or blanks as tar writers do; nullopt when it
// is not one.
std::optional<std::uint64_t> Octal(std::string_view field) {
  std::uint64_t v = 0;
  bool digits = false;
  for (const char c : field) {
    if (c == '\0' || c == ' ') {
      if (digits) break;
      continue;
    }
    if (c < '0' || c > '7' || v > (UINT64_MAX >> 3)) return std::nullopt;
    v = (v << 3) | static_cast<std::uint64_t>(c - '0');
    digits = true;
  }
  if (!digits) return std::nullopt;
  return v;
}

// The size field: octal, or (GNU and star, for members of 8 GiB and more,
// which disks are) big-endian binary after a first byte of 0x80.
std::optional<std::uint64_t> MemberSize(std::string_view header) {
  const std::string_view field = header.substr(kSize, kSizeLength);
  if (static_cast<unsigned char>(field[0]) != 0x80) return Octal(field);
  std::uint64_t v = 0;
  for (std::size_t i = 1; i < field.size(); ++i) {
    if (v > (UINT64_MAX >> 8)) return std::nullopt;
    v = (v << 8) | static_cast<unsigned char>(field[i]);
  }
  return v;
}

bool ChecksumHolds(std::string_view header) {
  const auto recorded = Octal(header.substr(kChecksum, kChecksumLength));
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    const bool in_field = i >= kChecksum && i < kChecksum + kChecksumLength;
    sum += in_field ? ' ' : static_cast<unsigned char>(header[i]);
  }
  return recorded && *recorded == sum;
}

// Whether an unpacker writing `name` stays in the directory it unpacks in.
bool StaysInside(std::string_view name) {
  if (name.empty() || name.front() == '/') return false;
  while (!name.empty()) {
    const std::size_t end = std::min(name.find('/'), name.size());
    if (name.substr(0, end) == "..") return false;
    name.remove_prefix(std::min(end + 1, name.size()));
  }
  return true;
}

std::string TypeName(char type) {
  switch (type) {
    case '1':
      return "a hard link";
    case '2':
      return "a symbolic link";
    case '3':
    case '4':
      return "a device";
    case '6':
      return "a FIFO";
    case 'x':
    case 'g':
      return "a pax extended header";
    case 'L':
    case 'K':
      return "a GNU long name";
    default:
      return "a member of type " + QuoteUntrusted(std::string_view(&type, 1));
  }
}

struct Header {
  std::string name;
  char type = '0';
  std::uint64_t size = 0;
};

// The header block at `at`; the danger it shows otherwise.
std::variant<Header, std::string> ReadHeader(std::string_view block, std::uint64_t at) {
  const std::string where = " at offset " + std::to_string(at);
  if (block.substr(kMagic, 5) != "ustar") return "its OVA is not a ustar archive" + where;
  if (!ChecksumHolds(block)) return "its OVA has a damaged tar header" + where;
  Header h;
  const std::string_view prefix = Field(block, kPrefix, kPrefixLength);
  h.name = std::string(prefix.empty() ? "" : std::string(prefix) + "/") +
           std::string(Field(block, kName, kNameLength));
  h.type = block[kType] == '\0' ? '0' : block[kType];
  const auto size = MemberSize(block);
  if (!size) return "its OVA has a tar header with no size" + where;
  h.size = *size;
  if (h.type != '0' && h.type != '5') {
    return "its OVA holds " + TypeName(h.type) + " (" + QuoteUntrusted(h.name) + ")";
  }
  if (!StaysInside(h.name)) {
    return "its OVA names a member outside the directory it is unpacked in: " +
           QuoteUntrusted(h.name);
  }
  return h;
}

}  // namespace

Result<OvaListing> ReadOvaMembers(const ArchiveReader& read, std::uint64_t size) {
  OvaListing listing;
  std::uint64_t at = 0;
  while (at + kBlock <= size) {
    VMC_ASSIGN_OR_RETURN(const std::string block, read(at, kBlock));
    if (block.size() < kBlock) break;
    if (block.find_first_not_of('\0') == std::string::npos) return listing;  // the end
    auto header = ReadHeader(block, at);
    if (auto* danger = std::get_if<std::string>(&header)) {
      listing.danger = std::move(*danger);
      return listing;
    }
    auto& h = std::get<Header>(header);
    const std::uint64_t data = at + kBlock;
    if (h.size > size - data) {
      listing.danger = "its OVA member " + QuoteUntrusted(h.name) + " runs past the archive's end";
      return listing;
    }
    if (h.type == '0') {
      if (listing.members.size() == kMaxOvaMembers) {
        listing.danger = "its OVA holds more than " + std::to_string(kMaxOvaMembers) + " members";
        return listing;
      }
      listing.members.push_back({std::move(h.name), data, h.size});
    }
    at = data + (h.size + kBlock - 1) / kBlock * kBlock;
  }
  if (at != size) listing.danger = "its OVA ends within a tar block";
  return listing;
}

}  // namespace vmc::catcher
