#include "catcher/image_format.h"

#include <algorithm>
#include <cstdint>

#include "common/json_reader.h"

namespace vmc::catcher {
namespace {

bool At(std::string_view bytes, std::size_t offset, std::string_view magic) {
  return bytes.size() >= offset + magic.size() && bytes.substr(offset, magic.size()) == magic;
}

std::uint64_t BigEndian(std::string_view bytes, std::size_t offset, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width && offset + i < bytes.size(); ++i) {
    v = (v << 8) | static_cast<unsigned char>(bytes[offset + i]);
  }
  return v;
}

// The qcow2 header (docs/interop/qcow2.txt): what a hypervisor would open
// besides the file itself, or decrypt.
std::string Qcow2Danger(std::string_view head) {
  constexpr std::size_t kBackingOffset = 8;
  constexpr std::size_t kCryptMethod = 32;
  constexpr std::size_t kIncompatibleFeatures = 72;
  constexpr std::uint64_t kExternalDataFile = 1U << 2;
  if (BigEndian(head, kBackingOffset, 8) != 0) return "its qcow2 header names a backing file";
  if (BigEndian(head, kCryptMethod, 4) != 0) return "its qcow2 header says it is encrypted";
  const std::uint64_t version = BigEndian(head, 4, 4);
  if (version >= 3 && (BigEndian(head, kIncompatibleFeatures, 8) & kExternalDataFile) != 0) {
    return "its qcow2 header names an external data file";
  }
  return "";
}

bool LittleEndian32Is(std::string_view bytes, std::size_t offset, std::uint32_t value) {
  if (bytes.size() < offset + 4) return false;
  std::uint32_t v = 0;
  for (std::size_t i = 4; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return v == value;
}

// Whether the first bytes are a VMDK text descriptor as qemu's vmdk probe
// finds one: "version=N" on the first line that is neither a comment nor
// blank. qemu looks at 2 KiB and takes only lines of spaces as blank; more
// is read here, and tabs and empty lines count as blank too, so that no
// file qemu would probe as a descriptor is ever taken for a raw disk.
bool IsVmdkDescriptor(std::string_view head) {
  constexpr std::size_t kProbed = 4096;
  std::string_view rest = head.substr(0, std::min(head.size(), kProbed));
  while (!rest.empty()) {
    const std::size_t end = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (line.starts_with('#')) continue;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    return line.starts_with("version=");
  }
  return false;
}

// A VHD footer (at the start of a dynamic disk, at the end of every one)
// whose disk type, at offset 60, is 4: a differencing disk, whose parent
// locators name other files.
bool IsVhdDifferencing(std::string_view footer) {
  constexpr std::size_t kDiskType = 60;
  constexpr std::uint64_t kDifferencing = 4;
  return BigEndian(footer, kDiskType, 4) == kDifferencing;
}

Magic Vhd(std::string_view footer) {
  if (IsVhdDifferencing(footer)) {
    return Magic{"vpc", "it is a differencing VHD, whose parent is another file"};
  }
  return Magic{"vpc", ""};
}

// The magics of the first bytes, as qemu's own probes read them.
std::optional<Magic> HeadMagic(std::string_view head) {
  if (At(head, 0, "QFI\xfb")) {
    if (BigEndian(head, 4, 4) < 2) return Magic{"qcow", "it is a qcow (version 1) image"};
    return Magic{"qcow2", Qcow2Danger(head)};
  }
  if (At(head, 0, std::string_view("QED\0", 4))) return Magic{"qed", ""};
  if (At(head, 0, "LUKS\xba\xbe")) return Magic{"luks", "it is a LUKS encrypted volume"};
  if (At(head, 0, "KDMV") || At(head, 0, "COWD")) return Magic{"vmdk", ""};
  if (IsVmdkDescriptor(head)) {
    return Magic{"vmdk-descriptor", "it is a VMDK descriptor, whose extents are host files"};
  }
  if (At(head, 0, "OOOM")) return Magic{"cow", ""};
  if (At(head, 0, "vhdxfile")) return Magic{"vhdx", ""};
  if (At(head, 0, "conectix")) return Vhd(head);
  constexpr std::uint32_t kVdiSignature = 0xbeda107f;
  if (LittleEndian32Is(head, 64, kVdiSignature)) return Magic{"vdi", ""};
  if (At(head, 0, "WithoutFreeSpace") || At(head, 0, "WithouFreSpacExt")) {
    return Magic{"parallels", ""};
  }
  if (At(head, 0, "Bochs Virtual HD Image")) return Magic{"bochs", ""};
  if (At(head, 0, "#!/bin/sh\n#V2.0 Format\n")) return Magic{"cloop", ""};
  if (At(head, 257, "ustar")) return Magic{"ova", ""};
  constexpr std::size_t kIsoVolumeDescriptor = 0x8001;
  if (At(head, kIsoVolumeDescriptor, "CD001")) return Magic{"iso", ""};
  return std::nullopt;
}

}  // namespace

std::optional<std::string> NormalFormat(std::string_view declared) {
  std::string lower(declared);
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  if (lower == "img") return "raw";
  if (lower == "vhd") return "vpc";
  if (std::ranges::find(kKnownFormats, lower) == std::end(kKnownFormats)) return std::nullopt;
  return lower;
}

Result<std::vector<std::string>> ParseFormats(std::string_view text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find_first_of(", \t", at), text.size());
    const std::string_view word = text.substr(at, end - at);
    at = end + 1;
    if (word.empty()) continue;
    const auto normal = NormalFormat(word);
    if (!normal) {
      return Error(ErrorCode::kConfigInvalid,
                   "formats: " + QuoteUntrusted(word) +
                       " is not a format catcher knows (qcow2, raw, vmdk, vdi, vpc, vhdx, iso, "
                       "ova)")
          .With("key", "formats");
    }
    if (std::ranges::find(out, *normal) != out.end()) {
      return Error(ErrorCode::kConfigInvalid, "formats: " + *normal + " is named twice")
          .With("key", "formats");
    }
    out.push_back(*normal);
  }
  return out;
}

std::string_view QemuDriverOf(std::string_view format) {
  return format == "iso" || format == "ova" ? "raw" : format;
}

Magic MagicFormat(std::string_view head, std::string_view tail) {
  // A fixed VHD and a DMG keep their header at the end; a dynamic VHD has
  // its footer at both ends, and either copy may be the one read.
  const std::string_view footer = tail.substr(tail.size() >= 512 ? tail.size() - 512 : 0);
  if (auto magic = HeadMagic(head)) {
    if (magic->format == "vpc" && magic->danger.empty() && At(footer, 0, "conectix")) {
      return Vhd(footer);
    }
    return *std::move(magic);
  }
  if (At(footer, 0, "conectix")) return Vhd(footer);
  if (At(footer, 0, "koly")) return Magic{"dmg", ""};
  return Magic{"raw", ""};
}

bool MagicMatches(std::string_view declared, std::string_view magic) {
  return declared == magic || (declared == "raw" && magic == "iso");
}

}  // namespace vmc::catcher
