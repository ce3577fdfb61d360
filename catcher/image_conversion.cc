#include "catcher/image_conversion.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "catcher/image_format.h"
#include "catcher/image_inspection.h"
#include "common/digest.h"

namespace vmc::catcher {
namespace {

// The formats qemu-img writes: a site's preference for another (iso, ova)
// can only be met by an image that already is one.
bool Writable(std::string_view format) { return format != "iso" && format != "ova"; }

bool Takes(const std::vector<std::string>& takes, std::string_view format) {
  return std::ranges::find(takes, format) != takes.end();
}

// Hashes the file while another thread syncs it: both are needed before the
// rename, and neither needs to wait for the other.
Result<FileDigest> HashAndSync(const SafeDir& dir, const std::string& name) {
  VMC_ASSIGN_OR_RETURN(const UniqueFd fd, dir.OpenFile(name, O_RDONLY, 0, true));
  int sync_errno = 0;
  std::thread syncer([&] { sync_errno = fsync(fd.get()) == 0 ? 0 : errno; });
  auto digest = HashFile(dir.PathOf(name));
  syncer.join();
  if (!digest.ok()) return std::move(digest).error();
  if (sync_errno != 0) return SystemError("sync", dir.PathOf(name), sync_errno);
  return digest;
}

// A name of partial/ no download uses (those are "<sha>.part").
std::string PartialName(const std::string& source_sha, const std::string& target) {
  return source_sha + "." + target + ".convert";
}

}  // namespace

Result<std::optional<std::string>> ConversionTarget(std::string_view format,
                                                    const std::vector<std::string>& takes) {
  if (takes.empty() || Takes(takes, format)) return std::optional<std::string>();
  // An ISO is the raw disk it holds.
  if (format == "iso" && Takes(takes, "raw")) return std::optional<std::string>();
  const auto target = std::ranges::find_if(takes, Writable);
  if (format == "ova" || target == takes.end()) {
    std::string list;
    for (const auto& t : takes) list += (list.empty() ? "" : ", ") + t;
    return Error(ErrorCode::kFormatMismatch, "it is " + std::string(format) + ", the site takes " +
                                                 list +
                                                 " (formats), and catcher cannot convert it to "
                                                 "any of them")
        .With("format", std::string(format));
  }
  return std::optional<std::string>(*target);
}

std::chrono::milliseconds ConversionTimeout(std::uint64_t virtual_size) {
  constexpr std::uint64_t kMinRate = std::uint64_t{16} << 20;
  const auto seconds = std::chrono::seconds(virtual_size / kMinRate);
  return std::max<std::chrono::milliseconds>(std::chrono::minutes(10), seconds);
}

Result<ConversionRecord> ConvertImage(const QemuImg& qemu, const CacheDirFds& dirs,
                                      const std::string& source_sha, std::string_view source_format,
                                      const std::string& target, std::uint64_t virtual_size,
                                      TimePoint now, const std::atomic<bool>* cancel) {
  const std::string partial = PartialName(source_sha, target);
  // What a conversion killed halfway left.
  VMC_RETURN_IF_ERROR(dirs.partial.Unlink(partial));
  Status converted =
      qemu.Convert(dirs.content.PathOf(source_sha), QemuDriverOf(source_format),
                   dirs.partial.PathOf(partial), target, ConversionTimeout(virtual_size), cancel);
  if (!converted.ok()) {
    (void)dirs.partial.Unlink(partial);
    return std::move(converted).error();
  }
  auto proven = [&]() -> Result<FileDigest> {
    VMC_ASSIGN_OR_RETURN(FileDigest digest, HashAndSync(dirs.partial, partial));
    // qemu-img wrote what it was asked to; a raw disk whose first bytes are
    // another format's header would be read as that format by a probing
    // hypervisor, whatever the list said.
    VMC_ASSIGN_OR_RETURN(const Magic magic, ReadMagic(dirs.partial, partial));
    if (magic.format == target) return digest;
    return Error(ErrorCode::kFormatUnsafe, "its conversion to " + target + " reads as " +
                                               magic.format + " (its first bytes are a " +
                                               magic.format + " header)")
        .With("format", magic.format);
  }();
  if (!proven.ok()) {
    (void)dirs.partial.Unlink(partial);
    return std::move(proven).error();
  }
  const FileDigest& facts = *proven;
  VMC_RETURN_IF_ERROR(dirs.partial.Rename(partial, dirs.content, facts.sha512_hex));
  VMC_RETURN_IF_ERROR(dirs.content.Sync());
  return ConversionRecord{target, facts.sha512_hex, facts.size, qemu.version(), now};
}

}  // namespace vmc::catcher
