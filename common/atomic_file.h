// Files that reach their final name only complete: the content goes to a
// temporary file beside the target, is flushed to disk, and is renamed over
// the target by an explicit Commit(), never by the destructor (which removes
// the temporary file instead), so a crash or an error leaves the old file or
// the new one, never half of one.
//
// Thread-safety: thread-compatible.
#ifndef VMC_COMMON_ATOMIC_FILE_H_
#define VMC_COMMON_ATOMIC_FILE_H_

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"

namespace vmc {

class AtomicFile {
 public:
  // Creates ".<name>.XXXXXX.tmp" beside `target` with `mode`. Returns kIo
  // (kDiskFull for ENOSPC) naming the directory on failure.
  static Result<AtomicFile> Create(const std::filesystem::path& target, mode_t mode = 0644);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  // Removes the temporary file unless committed.
  ~AtomicFile();

  Status Write(std::string_view data);

  // fsyncs the file, renames it over the target, fsyncs the directory.
  Status Commit();

  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  AtomicFile(std::filesystem::path target, std::filesystem::path temp, UniqueFd fd)
      : target_(std::move(target)), temp_(std::move(temp)), fd_(std::move(fd)) {}

  std::filesystem::path target_;
  std::filesystem::path temp_;
  UniqueFd fd_;
  bool committed_ = false;
};

// Writes `data` to `target` atomically (Create, Write, Commit).
Status WriteFileAtomically(const std::filesystem::path& target, std::string_view data,
                           mode_t mode = 0644);

// Reads a whole file of at most `max_bytes`. Returns kIo naming the path, or
// kListTooLarge when it is bigger (checked before reading it).
Result<std::string> ReadFileCapped(const std::filesystem::path& path, std::uint64_t max_bytes);

}  // namespace vmc

#endif  // VMC_COMMON_ATOMIC_FILE_H_
