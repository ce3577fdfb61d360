#include "catcher/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/atomic_file.h"
#include "common/safe_dir.h"

namespace vmc::catcher {
namespace {

std::string ReadHolder(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

}  // namespace

Result<FileLock> FileLock::Acquire(const std::filesystem::path& path, bool wait,
                                   std::string_view purpose) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  // Never through a link planted as the lock file: the holder's pid is
  // written into it.
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
  if (fd.get() < 0 && errno == ELOOP) return UnsafePathError(path, "a symbolic link");
  if (fd.get() < 0) return SystemError("open the lock file", path, errno);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return UnsafePathError(path, "not a regular file");
  }
  while (flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    if (err == EWOULDBLOCK) {
      const std::string holder = ReadHolder(fd.get());
      return Error(ErrorCode::kLocked, std::string(purpose) + " is already running" +
                                           (holder.empty() ? "" : " (process " + holder + ")") +
                                           ": " + path.string() + " is locked")
          .With("path", path.string());
    }
    return SystemError("lock", path, err);
  }
  // Name the holder for the next one's message.
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd.get(), 0) == 0) {
    [[maybe_unused]] const ssize_t n = pwrite(fd.get(), pid.data(), pid.size(), 0);
  }
  return FileLock(std::move(fd));
}

}  // namespace vmc::catcher
