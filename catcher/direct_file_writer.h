// Appends a download to its partial file without the page cache where the
// filesystem allows it (O_DIRECT). Buffered writes of a large image cost a
// core copying it into the page cache, and the fsync before the rename into
// the cache then wrote gigabytes at the end of the transfer (the kernel
// starts writing back only after a tenth of memory is dirty): caching 2 GiB
// took 1.34x the time of hashing it. Written directly from an aligned
// buffer, the bytes reach the disk while the transfer goes on, at almost no
// processor cost, and the final fsync has little left to do. Caching a large
// image also no longer evicts the site's page cache.
//
// Bytes given at an aligned address in whole blocks while the buffer is
// empty (a ChunkPipeline's chunks) are written from where they are, with no
// copy. Other bytes wait in the buffer until it is full, or until an Append finds them
// older than kMaxHold, so the partial file grows as a download goes on. A
// process killed outright loses what the buffer held (at most its size); a
// resume re-hashes the partial and fetches the rest, so nothing is lost but
// time. The file offset must be a multiple of kAlignment while writing
// directly; the last, unaligned bytes go through the page cache.
//
// Where the filesystem refuses O_DIRECT (tmpfs before Linux 6.6, overlayfs,
// some network filesystems), or a direct write is refused (EINVAL: a device
// wanting a larger alignment), the writer writes through the page cache,
// straight from the caller's bytes.
//
// Thread-safety: thread-compatible.
#ifndef VMC_CATCHER_DIRECT_FILE_WRITER_H_
#define VMC_CATCHER_DIRECT_FILE_WRITER_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>

#include "common/error.h"

namespace vmc::catcher {

class DirectFileWriter {
 public:
  static constexpr std::size_t kAlignment = 4096;
  static constexpr std::chrono::milliseconds kMaxHold{50};

  // write(2), or a stand-in with its contract (tests inject failures).
  using WriteFunction = ssize_t (*)(int fd, const void* data, std::size_t size);

  // Writes to `fd` (not owned) at its current offset, with O_DIRECT from the
  // first offset that is a multiple of kAlignment. `path` is for messages.
  DirectFileWriter(int fd, std::filesystem::path path, std::size_t buffer_bytes = 4 << 20,
                   WriteFunction write = nullptr);
  ~DirectFileWriter();
  DirectFileWriter(const DirectFileWriter&) = delete;
  DirectFileWriter& operator=(const DirectFileWriter&) = delete;

  // Whether writes bypass the page cache.
  bool direct() const { return direct_; }

  // Takes `size` bytes. ENOSPC and EDQUOT are kDiskFull. After an error the
  // file holds a prefix of the bytes appended.
  Status Append(const char* data, std::size_t size);

  // Writes every byte appended so far. After it, writes are buffered (the
  // offset is no longer aligned).
  Status Flush();

  // Forgets the bytes appended but not yet written (the caller truncates the
  // file and starts over at offset 0), and tries O_DIRECT again.
  void Discard();

 private:
  struct AlignedFree {
    void operator()(char* p) const;
  };

  Status WriteOut(const char* data, std::size_t size);
  Status WriteHeld();
  void SetDirect(bool on);

  int fd_;
  std::filesystem::path path_;
  WriteFunction write_;
  std::unique_ptr<char, AlignedFree> buffer_;  // null when it could not be had
  std::size_t capacity_;
  std::size_t used_ = 0;
  std::size_t head_ = 0;  // bytes to write as they come, up to an aligned offset
  bool direct_ = false;
  std::chrono::steady_clock::time_point last_write_;
};

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_DIRECT_FILE_WRITER_H_
