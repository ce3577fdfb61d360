#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace vmc {

Result<AtomicFile> AtomicFile::Create(const std::filesystem::path& target, mode_t mode) {
  const auto dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string pattern = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  UniqueFd fd(mkostemp(name.data(), O_CLOEXEC));
  if (fd.get() < 0) return SystemError("create a file in", dir, errno);
  if (fchmod(fd.get(), mode) != 0) {
    const int err = errno;
    unlink(name.data());
    return SystemError("set the mode of", name.data(), err);
  }
  return AtomicFile(target, std::filesystem::path(name.data()), std::move(fd));
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : target_(std::move(other.target_)),
      temp_(std::move(other.temp_)),
      fd_(std::move(other.fd_)),
      committed_(other.committed_) {
  other.committed_ = true;
}

AtomicFile::~AtomicFile() {
  if (!committed_) unlink(temp_.c_str());
}

Status AtomicFile::Write(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("write", temp_, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

Status AtomicFile::Commit() {
  if (fsync(fd_.get()) != 0) return SystemError("flush", temp_, errno);
  if (fd_.Close() != 0) return SystemError("close", temp_, errno);
  if (rename(temp_.c_str(), target_.c_str()) != 0)
    return SystemError("rename onto", target_, errno);
  committed_ = true;
  // The rename is durable only once the directory is.
  const auto dir = target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
  const UniqueFd dfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) fsync(dfd.get());
  return Ok();
}

Status WriteFileAtomically(const std::filesystem::path& target, std::string_view data,
                           mode_t mode) {
  VMC_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(target, mode));
  VMC_RETURN_IF_ERROR(file.Write(data));
  return file.Commit();
}

Result<std::string> ReadFileCapped(const std::filesystem::path& path, std::uint64_t max_bytes) {
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return SystemError("open", path, errno);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return SystemError("stat", path, errno);
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
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
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return Error(ErrorCode::kListTooLarge, path.string() + " exceeds the maximum of " +
                                                 std::to_string(max_bytes) + " bytes")
          .With("path", path.string());
    }
  }
  return out;
}

}  // namespace vmc
