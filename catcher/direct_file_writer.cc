#include "catcher/direct_file_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/atomic_file.h"  // SystemError

namespace vmc::catcher {
namespace {

Error WriteError(const std::filesystem::path& path, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return Error(ErrorCode::kDiskFull, "no space left writing " + path.string())
        .With("path", path.string());
  }
  return SystemError("write", path, err);
}

bool Aligned(std::uint64_t value) { return value % DirectFileWriter::kAlignment == 0; }

std::size_t AlignedCapacity(std::size_t bytes) {
  const std::size_t a = DirectFileWriter::kAlignment;
  return std::max(a, (bytes + a - 1) / a * a);
}

}  // namespace

void DirectFileWriter::AlignedFree::operator()(char* p) const { std::free(p); }

DirectFileWriter::DirectFileWriter(int fd, std::filesystem::path path, std::size_t buffer_bytes,
                                   WriteFunction write)
    : fd_(fd),
      path_(std::move(path)),
      write_(write != nullptr ? write : ::write),
      capacity_(AlignedCapacity(buffer_bytes)) {
  // Without the buffer every write goes through the page cache: slower, but
  // no reason to fail a download.
  buffer_.reset(static_cast<char*>(std::aligned_alloc(kAlignment, capacity_)));
  Discard();
}

DirectFileWriter::~DirectFileWriter() = default;

void DirectFileWriter::SetDirect(bool on) {
  const int flags = fcntl(fd_, F_GETFL);
  if (flags < 0) {
    direct_ = false;
    return;
  }
  const int wanted = on ? (flags | O_DIRECT) : (flags & ~O_DIRECT);
  // Refused (EINVAL) where the filesystem cannot write directly.
  direct_ = on && fcntl(fd_, F_SETFL, wanted) == 0;
  if (!on) (void)fcntl(fd_, F_SETFL, wanted);
}

void DirectFileWriter::Discard() {
  used_ = 0;
  last_write_ = std::chrono::steady_clock::now();
  const off_t offset = lseek(fd_, 0, SEEK_CUR);
  const std::uint64_t at = offset >= 0 ? static_cast<std::uint64_t>(offset) : 0;
  // A resume after a transfer broke off starts where the last byte was
  // kept: up to the next aligned offset, bytes are written as they come.
  head_ = offset >= 0 && !Aligned(at) ? kAlignment - at % kAlignment : 0;
  SetDirect(buffer_ != nullptr && offset >= 0 && head_ == 0);
}

Status DirectFileWriter::WriteOut(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = write_(fd_, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && direct_) {
      // The device wants a larger alignment, or a short write left the offset
      // unaligned: the rest goes through the page cache, which reports the
      // real error (ENOSPC) if there is one.
      SetDirect(false);
      continue;
    }
    if (n < 0) return WriteError(path_, errno);
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return Ok();
}

Status DirectFileWriter::Append(const char* data, std::size_t size) {
  if (head_ > 0) {
    const std::size_t n = std::min(size, head_);
    VMC_RETURN_IF_ERROR(WriteOut(data, n));
    data += n;
    size -= n;
    head_ -= n;
    if (head_ > 0) return Ok();  // every byte given is written
    SetDirect(buffer_ != nullptr);
  }
  if (!direct_) {
    // Through the page cache: no reason to copy into the buffer first; what
    // it still holds (from before a fallback) goes first.
    const std::size_t pending = std::exchange(used_, 0);
    VMC_RETURN_IF_ERROR(WriteOut(buffer_.get(), pending));
    return WriteOut(data, size);
  }
  if (used_ == 0 && Aligned(reinterpret_cast<std::uintptr_t>(data)) && size >= kAlignment) {
    // Already aligned (a ChunkPipeline's chunk): written from where it is.
    const std::size_t whole = size / kAlignment * kAlignment;
    last_write_ = std::chrono::steady_clock::now();
    VMC_RETURN_IF_ERROR(WriteOut(data, whole));
    if (!direct_) return WriteOut(data + whole, size - whole);  // the write fell back
    data += whole;
    size -= whole;
  }
  while (size > 0) {
    const std::size_t n = std::min(size, capacity_ - used_);
    std::memcpy(buffer_.get() + used_, data, n);
    used_ += n;
    data += n;
    size -= n;
    if (used_ == capacity_) {
      used_ = 0;  // written or not, these bytes are done with
      last_write_ = std::chrono::steady_clock::now();
      VMC_RETURN_IF_ERROR(WriteOut(buffer_.get(), capacity_));
      if (!direct_) return WriteOut(data, size);  // the write fell back
    }
  }
  if (used_ >= kAlignment && std::chrono::steady_clock::now() - last_write_ >= kMaxHold) {
    return WriteHeld();
  }
  return Ok();
}

// Writes the aligned part of what the buffer holds and keeps the rest.
Status DirectFileWriter::WriteHeld() {
  const std::size_t aligned = used_ / kAlignment * kAlignment;
  const std::size_t rest = used_ - aligned;
  last_write_ = std::chrono::steady_clock::now();
  used_ = 0;
  VMC_RETURN_IF_ERROR(WriteOut(buffer_.get(), aligned));
  std::memmove(buffer_.get(), buffer_.get() + aligned, rest);
  used_ = rest;
  return Ok();
}

Status DirectFileWriter::Flush() {
  const std::size_t pending = used_;
  used_ = 0;
  head_ = 0;
  const std::size_t aligned = direct_ ? pending / kAlignment * kAlignment : 0;
  VMC_RETURN_IF_ERROR(WriteOut(buffer_.get(), aligned));
  SetDirect(false);
  return WriteOut(buffer_.get() + aligned, pending - aligned);
}

}  // namespace vmc::catcher
