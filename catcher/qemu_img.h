// qemu-img, the one program that reads and converts every disk format the
// clouds take (DESIGN.md section 13), run from an argv (common/subprocess.h)
// with the format always forced: qemu-img never probes a format here, since a
// probed format is the attack (a raw image whose guest wrote a qcow2 header).
//
// The files it is given are catcher's own (the content store and partial/,
// private to catcher, names from SHA-512 hex), absolute paths, so that no
// file name is read as a protocol ("nbd:", "json:").
//
// Thread-safety: a QemuImg is immutable; its methods may run on any thread.
#ifndef VMC_CATCHER_QEMU_IMG_H_
#define VMC_CATCHER_QEMU_IMG_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace vmc::catcher {

// What `qemu-img info --output=json` says of an image that bears on its
// safety (the fields catcher judges; the rest is ignored).
struct QemuImgInfo {
  std::string format;                // "format"
  std::uint64_t virtual_size = 0;    // "virtual-size"
  std::string backing_file;          // "backing-filename" (or "full-backing-filename")
  std::string data_file;             // format-specific data "data-file" (qcow2)
  bool encrypted = false;            // "encrypted"
  std::vector<std::string> extents;  // format-specific data extents[].filename (vmdk)
};

// A part of a file, read as a disk of its own: an OVA's member. `length` is
// a multiple of 512 (qemu's raw layer takes no other; a tar pads its
// members so).
struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// The name qemu-img opens `range` of `file` by, read as `driver`: a json:
// pseudo-file whose raw layer gives the range, so that the part is read as
// a file of its own, and no other name (the format is in it: never probed).
std::string QemuFileName(const std::filesystem::path& file, std::string_view driver,
                         const ByteRange& range);

// Parses qemu-img's JSON (bounded: 1 MiB, 16 levels). kInvalidValue when it
// is not what qemu-img writes.
Result<QemuImgInfo> ParseQemuImgInfo(std::string_view json);

class QemuImg {
 public:
  // qemu-img on our PATH (Debian: /usr/bin/qemu-img, package qemu-utils),
  // with its version. kConfigInvalid, naming the package, when it is missing.
  static Result<QemuImg> Find();

  const std::filesystem::path& program() const { return program_; }
  // "7.2.22": recorded with each conversion.
  const std::string& version() const { return version_; }

  // `qemu-img info` of `file` read as `driver` (QemuDriverOf). kFormatUnsafe
  // when qemu-img says it cannot read it as that driver (it exits 1); kIo
  // when it could not run, timed out, was killed or exited otherwise. With
  // a `range`, that part of `file` is read as the disk (QemuFileName).
  Result<QemuImgInfo> Info(const std::filesystem::path& file, std::string_view driver,
                           std::chrono::milliseconds timeout,
                           const std::optional<ByteRange>& range = std::nullopt) const;

  // `qemu-img convert` of `from` (read as `from_driver`) into the new file
  // `to` as `to_format`, at low CPU and I/O priority. kIo (with qemu-img's
  // own words) when it fails or times out; `to` may then be left half
  // written, for the caller to remove. Stopped as soon as `cancel` is set.
  Status Convert(const std::filesystem::path& from, std::string_view from_driver,
                 const std::filesystem::path& to, std::string_view to_format,
                 std::chrono::milliseconds timeout,
                 const std::atomic<bool>* cancel = nullptr) const;

 private:
  QemuImg(std::filesystem::path program, std::string version)
      : program_(std::move(program)), version_(std::move(version)) {}

  std::filesystem::path program_;
  std::string version_;
};

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_QEMU_IMG_H_
