#include "catcher/image_conversion.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <thread>

#include "catcher/image_format.h"
#include "common/digest.h"

namespace vmc::catcher {
namespace {

// The formats qemu-img writes: a site's preference for another (iso, ova)
// can only be met by an image that already is one.
bool Writable(std::string_view format) { return format != "iso" && format != "ova"; }

bool Takes(const std::vector<std::string>& takes, std::string_view format) {
  return std::ranges::find(takes, format) != takes.end();
}

struct FileFacts {
  std::string sha512;
  std::uint64_t size = 0;
  std::string head;  // the first kMagicHeadBytes
  std::string tail;  // the last kMagicTailBytes
};

// Hashes the open file, keeping its first and last bytes for the magic
// check, while another thread syncs it (both are needed before the rename;
// neither needs to wait for the other).
Result<FileFacts> HashAndSync(int fd, const std::filesystem::path& path) {
  int sync_errno = 0;
  std::thread syncer([&] { sync_errno = fsync(fd) == 0 ? 0 : errno; });
  FileFacts facts;
  Sha512 hash;
  std::vector<char> buffer(std::size_t{4} << 20);
  std::optional<Error> failed;
  for (off_t at = 0;;) {
    const ssize_t n = pread(fd, buffer.data(), buffer.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed = SystemError("read", path, errno);
      break;
    }
    if (n == 0) break;
    const std::string_view got(buffer.data(), static_cast<std::size_t>(n));
    hash.Update(got);
    if (facts.head.size() < kMagicHeadBytes) {
      facts.head.append(got.substr(0, kMagicHeadBytes - facts.head.size()));
    }
    facts.tail.append(got.substr(got.size() > kMagicTailBytes ? got.size() - kMagicTailBytes : 0));
    if (facts.tail.size() > kMagicTailBytes)
      facts.tail.erase(0, facts.tail.size() - kMagicTailBytes);
    at += n;
    facts.size += static_cast<std::uint64_t>(n);
  }
  syncer.join();
  if (failed) return *std::move(failed);
  if (sync_errno != 0) return SystemError("sync", path, sync_errno);
  VMC_ASSIGN_OR_RETURN(facts.sha512, hash.FinishHex());
  return facts;
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
                                      TimePoint now) {
  const std::string partial = PartialName(source_sha, target);
  // What a conversion killed halfway left.
  VMC_RETURN_IF_ERROR(dirs.partial.Unlink(partial));
  Status converted =
      qemu.Convert(dirs.content.PathOf(source_sha), QemuDriverOf(source_format),
                   dirs.partial.PathOf(partial), target, ConversionTimeout(virtual_size));
  if (!converted.ok()) {
    (void)dirs.partial.Unlink(partial);
    return std::move(converted).error();
  }
  auto facts = [&]() -> Result<FileFacts> {
    VMC_ASSIGN_OR_RETURN(const UniqueFd fd, dirs.partial.OpenFile(partial, O_RDONLY, 0, true));
    return HashAndSync(fd.get(), dirs.partial.PathOf(partial));
  }();
  if (!facts.ok()) {
    (void)dirs.partial.Unlink(partial);
    return std::move(facts).error();
  }
  // qemu-img wrote what it was asked to; a raw disk whose first bytes are
  // another format's header would be read as that format by a probing
  // hypervisor, whatever the list said.
  const Magic magic = MagicFormat(facts->head, facts->tail);
  if (magic.format != target) {
    (void)dirs.partial.Unlink(partial);
    return Error(ErrorCode::kFormatUnsafe, "its conversion to " + target + " reads as " +
                                               magic.format + " (its first bytes are a " +
                                               magic.format + " header)")
        .With("format", magic.format);
  }
  VMC_RETURN_IF_ERROR(dirs.partial.Rename(partial, dirs.content, facts->sha512));
  VMC_RETURN_IF_ERROR(dirs.content.Sync());
  return ConversionRecord{target, facts->sha512, facts->size, qemu.version(), now};
}

}  // namespace vmc::catcher
