// Advisory locks on files of the state directory (flock), released by the
// kernel when the process dies, so a killed daemon never leaves a stale lock.
//   <state>/daemon.lock  held by `catcher run` for its life: one daemon per
//                        state directory
//   <state>/cache.lock   held while the cache directories are changed
//                        (downloads, expiry, check), by the daemon or a
//                        command; the database needs no lock (LMDB)
//
// Thread-safety: a FileLock is owned by one thread at a time.
#ifndef VMC_CATCHER_LOCK_H_
#define VMC_CATCHER_LOCK_H_

#include <filesystem>
#include <string_view>
#include <utility>

#include "common/error.h"
#include "common/unique_fd.h"

namespace vmc::catcher {

class FileLock {
 public:
  // Takes an exclusive lock on `path` (created 0600 if missing). With `wait`,
  // blocks until it is free; without, returns kLocked naming the process that
  // holds it. `purpose` goes into messages.
  static Result<FileLock> Acquire(const std::filesystem::path& path, bool wait,
                                  std::string_view purpose);

  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  // Closing the descriptor releases the lock.
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_LOCK_H_
