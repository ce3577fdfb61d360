#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vmc {

Result<AtomicFile> AtomicFile::Create(const std::filesystem::path& target, mode_t mode) {
  const auto dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string pattern = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return SystemError("create a file in", dir, errno);
  if (fchmod(fd, mode) != 0) {
    const int err = errno;
    close(fd);
    unlink(name.data());
    return SystemError("set the mode of", name.data(), err);
  }
  return AtomicFile(target, std::filesystem::path(name.data()), fd);
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : target_(std::move(other.target_)),
      temp_(std::move(other.temp_)),
      fd_(other.fd_),
      committed_(other.committed_) {
  other.fd_ = -1;
  other.committed_ = true;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) close(fd_);
  if (!committed_) unlink(temp_.c_str());
}

Status AtomicFile::Write(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("write", temp_, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

Status AtomicFile::Commit() {
  if (fsync(fd_) != 0) return SystemError("flush", temp_, errno);
  if (close(fd_) != 0) {
    fd_ = -1;
    return SystemError("close", temp_, errno);
  }
  fd_ = -1;
  if (rename(temp_.c_str(), target_.c_str()) != 0)
    return SystemError("rename onto", target_, errno);
  committed_ = true;
  // The rename is durable only once the directory is.
  const auto dir = target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Ok();
}

Status WriteFileAtomically(const std::filesystem::path& target, std::string_view data,
                           mode_t mode) {
  VMC_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(target, mode));
  VMC_RETURN_IF_ERROR(file.Write(data));
  return file.Commit();
}

Result<std::string> ReadFileCapped(const std::filesystem::path& path, std::uint64_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return SystemError("open", path, errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return SystemError("stat", path, err);
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    close(fd);
    return Error(ErrorCode::kListTooLarge, path.string() + " is " + std::to_string(st.st_size) +
                                               " bytes, exceeding the maximum of " +
                                               std::to_string(max_bytes))
        .With("path", path.string());
  }
  std::string out;
  // The size is a hint (the file may change while read); the cap is per byte.
  out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return SystemError("read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      close(fd);
      return Error(ErrorCode::kListTooLarge, path.string() + " exceeds the maximum of " +
                                                 std::to_string(max_bytes) + " bytes")
          .With("path", path.string());
    }
  }
  close(fd);
  return out;
}

}  // namespace vmc
