#include "catcher/image_inspection.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/json_reader.h"

namespace vmc::catcher {
namespace {

Result<std::string> ReadAt(int fd, std::uint64_t offset, std::size_t length,
                           const std::filesystem::path& path) {
  std::string bytes(length, '\0');
  std::size_t got = 0;
  while (got < length) {
    const ssize_t n = pread(fd, bytes.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SystemError("read", path, errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

bool Takes(std::string_view format) {
  return std::ranges::find(kKnownFormats, format) != std::end(kKnownFormats);
}

// A file name from qemu-img's report, quoted for a message.
std::string Named(const std::string& file) { return QuoteUntrusted(file); }

}  // namespace

std::string QemuDanger(const QemuImgInfo& info, const std::filesystem::path& path) {
  if (!info.backing_file.empty()) return "it names the backing file " + Named(info.backing_file);
  if (!info.data_file.empty()) return "it names the external data file " + Named(info.data_file);
  if (info.encrypted) return "it is encrypted";
  for (const std::string& extent : info.extents) {
    if (extent != path.string()) return "it names the VMDK extent " + Named(extent);
  }
  return "";
}

Result<Magic> ReadMagic(const SafeDir& dir, const std::string& name, std::uint64_t* size) {
  const std::filesystem::path path = dir.PathOf(name);
  VMC_ASSIGN_OR_RETURN(const UniqueFd file, dir.OpenFile(name, O_RDONLY));
  struct stat st {};
  if (fstat(file.get(), &st) != 0) return SystemError("stat", path, errno);
  const auto bytes = static_cast<std::uint64_t>(st.st_size);
  if (size != nullptr) *size = bytes;
  VMC_ASSIGN_OR_RETURN(const std::string head, ReadAt(file.get(), 0, kMagicHeadBytes, path));
  const std::uint64_t tail_at = bytes > kMagicTailBytes ? bytes - kMagicTailBytes : 0;
  VMC_ASSIGN_OR_RETURN(const std::string tail, ReadAt(file.get(), tail_at, kMagicTailBytes, path));
  return MagicFormat(head, tail);
}

Result<ImageInspection> InspectImage(const QemuImg& qemu, const SafeDir& dir,
                                     const std::string& name, std::chrono::milliseconds timeout) {
  const std::filesystem::path path = dir.PathOf(name);
  std::uint64_t size = 0;
  VMC_ASSIGN_OR_RETURN(const Magic magic, ReadMagic(dir, name, &size));
  ImageInspection inspection{magic.format, 0, magic.danger};
  if (!inspection.danger.empty()) return inspection;
  if (!Takes(magic.format)) {
    inspection.danger = "it is a " + magic.format + " image, a format catcher does not take";
    return inspection;
  }
  // Bytes read as raw (a raw disk, an ISO, an OVA's tar) have no header
  // that could name another file: qemu-img would say only that the disk is
  // the file's size. A list of 75,000 small images runs no qemu-img.
  if (QemuDriverOf(magic.format) == "raw") {
    inspection.virtual_size = size;
    return inspection;
  }
  auto info = qemu.Info(path, QemuDriverOf(magic.format), timeout);
  if (!info.ok() && info.error().code() == ErrorCode::kFormatUnsafe) {
    inspection.danger = info.error().message();
    return inspection;
  }
  if (!info.ok()) return std::move(info).error();
  inspection.virtual_size = info->virtual_size;
  inspection.danger = QemuDanger(*info, path);
  return inspection;
}

Result<std::string> JudgeInspection(const ImageInspection& inspection, std::string_view declared,
                                    const FormatRules& rules) {
  if (!inspection.danger.empty()) {
    return Error(ErrorCode::kFormatUnsafe,
                 "its bytes are not a safe disk image: " + inspection.danger)
        .With("format", inspection.format);
  }
  std::string format = inspection.format;
  if (const auto normal = NormalFormat(declared)) {
    if (!MagicMatches(*normal, inspection.format)) {
      return Error(ErrorCode::kFormatMismatch, "it is declared " + *normal +
                                                   " (hv:format) but its bytes are " +
                                                   inspection.format)
          .With("declared", *normal)
          .With("format", inspection.format);
    }
    format = *normal;
  } else if (!rules.accept_undeclared) {
    const std::string said = declared.empty() ? "declares no format"
                                              : "declares the format " + QuoteUntrusted(declared) +
                                                    ", which catcher does not know,";
    return Error(ErrorCode::kFormatMismatch, "it " + said +
                                                 " and the policy takes no "
                                                 "undeclared formats (its bytes are " +
                                                 inspection.format + ")")
        .With("format", inspection.format);
  }
  if (rules.max_virtual_bytes && inspection.virtual_size > *rules.max_virtual_bytes) {
    return Error(ErrorCode::kFormatUnsafe, "its virtual size of " +
                                               std::to_string(inspection.virtual_size) +
                                               " bytes is over the policy's max_virtual_bytes of " +
                                               std::to_string(*rules.max_virtual_bytes))
        .With("format", inspection.format);
  }
  return format;
}

}  // namespace vmc::catcher
