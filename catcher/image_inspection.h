// The inspection of an image whose SHA-512 and size are proven, before it is
// made available (DESIGN.md section 13): what its bytes are, and whether a
// hypervisor or a cloud importing it would read anything besides them.
//
// Two readers, both needed: catcher's own reading of the magic bytes
// (catcher/image_format.h), which refuses a header that names other files
// before qemu-img opens it and catches a format other than the declared one,
// and `qemu-img info` with that format forced, which reads what the header
// alone does not say (a VMDK's extents, the virtual size).
//
// The inspection is a fact of the bytes (recorded per SHA-512 by the
// cache); JudgeInspection holds it against what a list declares and the
// site's rules.
//
// Input: untrusted bytes. Thread-safety: as QemuImg and SafeDir.
#ifndef VMC_CATCHER_IMAGE_INSPECTION_H_
#define VMC_CATCHER_IMAGE_INSPECTION_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "catcher/image_format.h"
#include "catcher/qemu_img.h"
#include "common/error.h"
#include "common/safe_dir.h"

namespace vmc::catcher {

// The version of what InspectImage looks for. A record of an inspection by
// other rules is not trusted: the bytes are inspected again (and fetched
// again if they were refused and removed), so that a danger catcher learns
// to see is seen in images it took before. Raise it with every change to
// image_format.cc or InspectImage that could judge the same bytes
// differently.
inline constexpr int kInspectionRules = 2;

struct ImageInspection {
  // The format the bytes are (image_format.h's names).
  std::string format;
  std::uint64_t virtual_size = 0;
  // Why no site may take it, whatever it declares; empty when nothing says so.
  std::string danger;
};

// What the first and last bytes of the regular file `name` of `dir` (never
// through a link) say it is (image_format.h); `size` receives its size.
Result<Magic> ReadMagic(const SafeDir& dir, const std::string& name, std::uint64_t* size = nullptr);

// What qemu-img's view of the file `path` (or of its `range`, an OVA's
// member) adds to the dangers: a backing file, an external data file,
// encryption, a VMDK extent other than the disk itself. Empty when none.
// Pure.
std::string QemuDanger(const QemuImgInfo& info, const std::filesystem::path& path,
                       const std::optional<ByteRange>& range = std::nullopt);

// Inspects the regular file `name` of `dir` (never through a link). Runs
// qemu-img only when the magic bytes found no danger and a format catcher
// takes that has a header (not raw or iso, which qemu-img reads as raw).
// An OVA is inspected member by member (catcher/ova.h), each as an image
// of its own, and is as unsafe as its worst member. kIo when the file
// cannot be read or qemu-img cannot run.
Result<ImageInspection> InspectImage(const QemuImg& qemu, const SafeDir& dir,
                                     const std::string& name, std::chrono::milliseconds timeout);

// What a site's policy says of formats.
struct FormatRules {
  // The largest virtual size a disk may claim: a small qcow2 may be a disk of
  // petabytes, which a conversion to raw or an import would try to write.
  std::optional<std::uint64_t> max_virtual_bytes;
  // Whether an image whose hv:format is absent or unknown is taken as the
  // format its bytes are (vmcatcher took every image).
  bool accept_undeclared = true;
};

// The image's format of record: the declared one (normalised) when its bytes
// are that format, else (undeclared, when the rules accept it) the one its
// bytes are. kFormatUnsafe for a danger or a virtual size over the limit;
// kFormatMismatch when the bytes are another format than declared, or the
// format is undeclared and the rules take no undeclared ones. Pure.
Result<std::string> JudgeInspection(const ImageInspection& inspection, std::string_view declared,
                                    const FormatRules& rules);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_IMAGE_INSPECTION_H_
