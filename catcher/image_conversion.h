// Converting an inspected image to a format the site takes (DESIGN.md
// section 13): `formats` in the config (site-wide) and per subscription in
// the policy, in order of preference. The conversion is qemu-img's, from an
// argv with the source format explicit, at low CPU and I/O priority, within
// a timeout, into partial/; the result is synced, hashed and renamed into the
// content store under its own SHA-512, beside the source. Once per (source
// SHA-512, target format): the caller records the chain (state.h,
// "conversions") and asks again only when none is recorded.
//
// A conversion killed halfway leaves a file in partial/ only, which the next
// conversion of the same pair replaces; nothing reaches the content store
// before it is whole and hashed.
//
// Thread-safety: ConvertImage may run on any thread, one per (source, target)
// at a time (the cache lock guarantees it).
#ifndef VMC_CATCHER_IMAGE_CONVERSION_H_
#define VMC_CATCHER_IMAGE_CONVERSION_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catcher/cache_layout.h"
#include "catcher/qemu_img.h"
#include "catcher/state_values.h"
#include "common/clock.h"
#include "common/error.h"

namespace vmc::catcher {

// What a site that takes `takes` (in order of preference; empty: all) does
// with an image whose format of record is `format`: nullopt when it takes it
// as it is, else the format to convert it to. kFormatMismatch when the site
// takes no format the image can be converted to (an OVA is an archive, not a
// disk; nothing is converted to an ISO or an OVA).
Result<std::optional<std::string>> ConversionTarget(std::string_view format,
                                                    const std::vector<std::string>& takes);

// How long the conversion of a disk of `virtual_size` bytes may take: at
// least 10 minutes, and 16 MiB/s of its virtual size (qemu-img reads and
// writes every allocated byte, at idle I/O priority).
std::chrono::milliseconds ConversionTimeout(std::uint64_t virtual_size);

// Converts the content file `source_sha` (read as `source_format`) to
// `target`, and moves the result into the content store under its SHA-512.
// Returns the record of the conversion (at `now`). kIo when qemu-img fails
// or times out (its words in the message), or is stopped by `cancel` (the
// process is stopping); kFormatUnsafe when the result is not `target`.
// Nothing is left behind when it fails.
Result<ConversionRecord> ConvertImage(const QemuImg& qemu, const CacheDirFds& dirs,
                                      const std::string& source_sha, std::string_view source_format,
                                      const std::string& target, std::uint64_t virtual_size,
                                      TimePoint now, const std::atomic<bool>* cancel = nullptr);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_IMAGE_CONVERSION_H_
