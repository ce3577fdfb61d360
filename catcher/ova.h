// The members of an OVA: a ustar archive (DMTF DSP0243) of an OVF
// descriptor, its manifest and certificate, and the disk images. A cloud
// importing an OVA unpacks it and opens the disks by the names the OVF
// gives, so each disk is inspected as any image is (image_inspection.h),
// and what unpacking itself could do is refused here: a link, a device, a
// name leaving the directory it is unpacked in, or an extension header
// (pax, GNU) whose names and sizes an unpacker would take over the ustar
// fields read here.
//
// Input: untrusted bytes. Thread-safety: pure functions.
#ifndef VMC_CATCHER_OVA_H_
#define VMC_CATCHER_OVA_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace vmc::catcher {

// One regular file of the archive: its data is `size` bytes at `offset`.
struct OvaMember {
  std::string name;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

struct OvaListing {
  std::vector<OvaMember> members;
  // Why unpacking the archive is unsafe or impossible, empty when it is not.
  std::string danger;
};

// Reads `length` bytes at `offset` of the archive (fewer at its end).
using ArchiveReader = std::function<Result<std::string>(std::uint64_t offset, std::size_t length)>;

// More members than any OVA has (a descriptor, a manifest, a certificate
// and a few disks): a bound on the headers read for one image.
inline constexpr std::size_t kMaxOvaMembers = 1000;

// The regular members of the archive of `size` bytes that `read` reads.
// Errors are those of `read`; what the bytes say is in `danger`.
Result<OvaListing> ReadOvaMembers(const ArchiveReader& read, std::uint64_t size);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_OVA_H_
