#include "catcher/image_inspection.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "catcher/ova.h"
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

// The bytes of a file being inspected: all of it, or an OVA's member.
struct Part {
  int fd = -1;
  std::filesystem::path path;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  bool member = false;
};

// The regular file `name` of `dir`, opened (never through a link), as the
// part that is all of it.
struct OpenImage {
  UniqueFd file;
  Part part;
};

Result<OpenImage> OpenWhole(const SafeDir& dir, const std::string& name) {
  const std::filesystem::path path = dir.PathOf(name);
  VMC_ASSIGN_OR_RETURN(UniqueFd file, dir.OpenFile(name, O_RDONLY));
  struct stat st {};
  if (fstat(file.get(), &st) != 0) return SystemError("stat", path, errno);
  const int fd = file.get();
  return OpenImage{std::move(file),
                   Part{fd, path, 0, static_cast<std::uint64_t>(st.st_size), false}};
}

Result<Magic> MagicOf(const Part& part) {
  VMC_ASSIGN_OR_RETURN(
      const std::string head,
      ReadAt(part.fd, part.offset, std::min<std::uint64_t>(kMagicHeadBytes, part.size), part.path));
  const std::uint64_t tail = std::min<std::uint64_t>(kMagicTailBytes, part.size);
  VMC_ASSIGN_OR_RETURN(const std::string last,
                       ReadAt(part.fd, part.offset + part.size - tail, tail, part.path));
  return MagicFormat(head, last);
}

// The range qemu-img reads a member as: its data and the tar's padding.
ByteRange RangeOf(const Part& part) {
  return {part.offset, (part.size + kMagicTailBytes - 1) / kMagicTailBytes * kMagicTailBytes};
}

Result<ImageInspection> InspectPart(const QemuImg& qemu, const Part& part,
                                    std::chrono::milliseconds timeout);

// An OVA is what its members are: each is inspected, its dangers are the
// OVA's, and its virtual size is theirs together (what unpacking and
// importing it writes).
Result<ImageInspection> InspectOva(const QemuImg& qemu, const Part& whole,
                                   std::chrono::milliseconds timeout) {
  const ArchiveReader read = [&](std::uint64_t offset, std::size_t length) {
    return ReadAt(whole.fd, offset, length, whole.path);
  };
  VMC_ASSIGN_OR_RETURN(const OvaListing listing, ReadOvaMembers(read, whole.size));
  ImageInspection inspection{"ova", 0, listing.danger};
  for (const OvaMember& m : listing.members) {
    if (!inspection.danger.empty()) break;
    VMC_ASSIGN_OR_RETURN(
        const ImageInspection member,
        InspectPart(qemu, {whole.fd, whole.path, m.offset, m.size, true}, timeout));
    if (!member.danger.empty()) {
      inspection.danger = "its OVA member " + QuoteUntrusted(m.name) + ": " + member.danger;
    }
    inspection.virtual_size += member.virtual_size;
  }
  return inspection;
}

Result<ImageInspection> InspectPart(const QemuImg& qemu, const Part& part,
                                    std::chrono::milliseconds timeout) {
  VMC_ASSIGN_OR_RETURN(const Magic magic, MagicOf(part));
  ImageInspection inspection{magic.format, 0, magic.danger};
  if (!inspection.danger.empty()) return inspection;
  if (!Takes(magic.format)) {
    inspection.danger = "it is a " + magic.format + " image, a format catcher does not take";
    return inspection;
  }
  if (magic.format == "ova" && part.member) {
    inspection.danger = "it is an OVA within an OVA";
    return inspection;
  }
  if (magic.format == "ova") return InspectOva(qemu, part, timeout);
  // Bytes read as raw (a raw disk, an ISO, an OVA's descriptor) have no
  // header that could name another file: qemu-img would say only that the
  // disk is the file's size. A list of 75,000 small images runs no qemu-img.
  if (QemuDriverOf(magic.format) == "raw") {
    inspection.virtual_size = part.size;
    return inspection;
  }
  const std::optional<ByteRange> range =
      part.member ? std::optional<ByteRange>(RangeOf(part)) : std::nullopt;
  auto info = qemu.Info(part.path, QemuDriverOf(magic.format), timeout, range);
  if (!info.ok() && info.error().code() == ErrorCode::kFormatUnsafe) {
    inspection.danger = info.error().message();
    return inspection;
  }
  if (!info.ok()) return std::move(info).error();
  inspection.virtual_size = info->virtual_size;
  inspection.danger = QemuDanger(*info, part.path, range);
  return inspection;
}

// Whether a VMDK extent qemu-img names is the disk itself: the file, or
// for a member the raw layer of QemuFileName over that same range (qemu
// writes it back as JSON of its own, in its own order).
bool IsTheDisk(const std::string& extent, const std::filesystem::path& path,
               const std::optional<ByteRange>& range) {
  if (!range) return extent == path.string();
  constexpr std::string_view kJson = "json:";
  if (!extent.starts_with(kJson)) return false;
  JsonReadOptions options;
  options.max_bytes = 64 * 1024;
  options.max_depth = 4;
  const std::string_view named = extent;
  JsonReadResult read = ReadJson(named.substr(kJson.size()), options);
  if (!read.ok()) return false;
  const rapidjson::Value& raw = read.document();
  const auto is = [](const rapidjson::Value& v, const char* name, std::string_view want) {
    const auto it = v.FindMember(name);
    return it != v.MemberEnd() && it->value.IsString() &&
           std::string_view(it->value.GetString(), it->value.GetStringLength()) == want;
  };
  const auto number = [](const rapidjson::Value& v, const char* name, std::uint64_t want) {
    const auto it = v.FindMember(name);
    return it != v.MemberEnd() && it->value.IsUint64() && it->value.GetUint64() == want;
  };
  if (!raw.IsObject() || raw.MemberCount() != 4 || !is(raw, "driver", "raw") ||
      !number(raw, "offset", range->offset) || !number(raw, "size", range->length)) {
    return false;
  }
  const auto file = raw.FindMember("file");
  return file != raw.MemberEnd() && file->value.IsObject() && file->value.MemberCount() == 2 &&
         is(file->value, "driver", "file") && is(file->value, "filename", path.string());
}

}  // namespace

std::string QemuDanger(const QemuImgInfo& info, const std::filesystem::path& path,
                       const std::optional<ByteRange>& range) {
  if (!info.backing_file.empty()) return "it names the backing file " + Named(info.backing_file);
  if (!info.data_file.empty()) return "it names the external data file " + Named(info.data_file);
  if (info.encrypted) return "it is encrypted";
  for (const std::string& extent : info.extents) {
    if (!IsTheDisk(extent, path, range)) return "it names the VMDK extent " + Named(extent);
  }
  return "";
}

Result<Magic> ReadMagic(const SafeDir& dir, const std::string& name, std::uint64_t* size) {
  VMC_ASSIGN_OR_RETURN(const OpenImage image, OpenWhole(dir, name));
  if (size != nullptr) *size = image.part.size;
  return MagicOf(image.part);
}

Result<ImageInspection> InspectImage(const QemuImg& qemu, const SafeDir& dir,
                                     const std::string& name, std::chrono::milliseconds timeout) {
  VMC_ASSIGN_OR_RETURN(const OpenImage image, OpenWhole(dir, name));
  return InspectPart(qemu, image.part, timeout);
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
