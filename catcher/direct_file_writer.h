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
// Bytes wait in the buffer until it is full, or at most kMaxHold on a slow
// transfer: a partial file grows as the download goes on, and a crash loses
// no more than that. The file offset must be a multiple of kAlignment when
// direct writing is enabled; the last, unaligned bytes are written through
// the page cache.
// Filesystems without O_DIRECT (tmpfs on older kernels, some network
// filesystems) get ordinary buffered writes through the same interface.
//
// Thread-safety: thread-compatible.
#ifndef VMC_CATCHER_DIRECT_FILE_WRITER_H_
#define VMC_CATCHER_DIRECT_FILE_WRITER_H_

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

  // Writes to `fd` (not owned) at its current offset, with O_DIRECT from the
  // first offset that is a multiple of kAlignment. `path` is for messages.
  DirectFileWriter(int fd, std::filesystem::path path, std::size_t buffer_bytes = 4 << 20);
  ~DirectFileWriter();
  DirectFileWriter(const DirectFileWriter&) = delete;
  DirectFileWriter& operator=(const DirectFileWriter&) = delete;

  // Whether writes bypass the page cache.
  bool direct() const { return direct_; }

  // Takes `size` bytes; writes each buffer as it fills. ENOSPC and EDQUOT are
  // kDiskFull.
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
  std::unique_ptr<char, AlignedFree> buffer_;
  std::size_t capacity_;
  std::size_t used_ = 0;
  std::size_t head_ = 0;  // bytes to write as they come, up to an aligned offset
  bool direct_ = false;
  std::chrono::steady_clock::time_point last_write_;
};

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_DIRECT_FILE_WRITER_H_
