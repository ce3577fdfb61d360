// What the bytes of an image are, read from its first and last bytes
// (DESIGN.md section 13). A signed SHA-512 proves the bytes are the
// endorser's, not that they are the format the list declares: a hypervisor
// told "raw" takes a qcow2 as a disk whose bytes the guest sees, but told
// nothing (or probing) it follows the qcow2's backing file, which may name a
// file of the host (OSSA-2024-001). So the magic bytes are read by catcher
// itself, not only by qemu-img, which is run with the format forced.
//
// The format names are qemu-img's ("vpc" for VHD), plus "iso" and "ova",
// which qemu-img reads as raw.
//
// Input: untrusted bytes. Thread-safety: pure functions.
#ifndef VMC_CATCHER_IMAGE_FORMAT_H_
#define VMC_CATCHER_IMAGE_FORMAT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace vmc::catcher {

// The formats an image list may declare and a site may take, normalised.
inline constexpr std::string_view kKnownFormats[] = {"qcow2", "raw",  "vmdk", "vdi",
                                                     "vpc",   "vhdx", "iso",  "ova"};

// `declared` (hv:format, or a site's `formats` entry) normalised: lower case,
// "img" is "raw", "vhd" is "vpc". None when it is none of kKnownFormats.
std::optional<std::string> NormalFormat(std::string_view declared);

// Parses a `formats` value: names of kKnownFormats (image_format.h,
// normalised), separated by commas or blanks, none twice. Empty text: none
// (the site takes every format). kConfigInvalid naming the unknown one.
Result<std::vector<std::string>> ParseFormats(std::string_view text);

// The qemu-img driver that reads a format: "raw" for iso and ova.
std::string_view QemuDriverOf(std::string_view format);

// How many bytes of the start and of the end MagicFormat needs: the ISO 9660
// volume descriptor lies at 32 KiB; a fixed VHD's footer is its last 512.
inline constexpr std::size_t kMagicHeadBytes = 36 * 1024;
inline constexpr std::size_t kMagicTailBytes = 512;

struct Magic {
  // A name of kKnownFormats; or a format catcher does not take ("qed",
  // "qcow", "luks", "cow", "parallels", "dmg", "cloop", "bochs",
  // "vmdk-descriptor"); "raw" when nothing else matched.
  std::string format;
  // Why the header alone makes the image unsafe, empty when it does not:
  // a qcow2 header naming a backing file, an external data file or
  // encryption; a VMDK text descriptor (its extents are host files),
  // found as qemu's probe finds one; a differencing VHD (its parent).
  std::string danger;
};

// The format the first bytes (`head`, up to kMagicHeadBytes) and the last
// ones (`tail`, up to kMagicTailBytes) show.
Magic MagicFormat(std::string_view head, std::string_view tail);

// Whether a file whose magic is `magic` may be declared `declared` (both
// normalised): the same format, or an ISO declared raw (a hypervisor reads
// it as the raw disk it is).
bool MagicMatches(std::string_view declared, std::string_view magic);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_IMAGE_FORMAT_H_
