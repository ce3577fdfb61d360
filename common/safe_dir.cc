#include "common/safe_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "common/atomic_file.h"  // SystemError

namespace vmc {
namespace {

namespace fs = std::filesystem;

std::string ModeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string TypeName(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "a device";
}

// The error for an open of `name` in `dir` that O_NOFOLLOW or O_DIRECTORY
// refused (saying what is there instead), or another.
Error OpenError(int dir, const std::string& name, const fs::path& path, int err,
                const char* wanted) {
  if (err != ELOOP && err != ENOTDIR) return SystemError("open", path, err);
  struct stat st {};
  if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return UnsafePathError(path, std::string("not ") + wanted);
  }
  return UnsafePathError(path, TypeName(st.st_mode) + ", not " + wanted);
}

}  // namespace

Error UnsafePathError(const fs::path& path, std::string_view what) {
  return Error(ErrorCode::kUnsafePath,
               path.string() + " is " + std::string(what) + "; it is not followed or used")
      .With("path", path.string());
}

Result<SafeDir> SafeDir::Open(const fs::path& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return SystemError("open the directory", path, errno);
  return SafeDir(path, std::move(fd));
}

Result<SafeDir> SafeDir::Sub(std::string_view name, std::optional<mode_t> create_mode) const {
  const std::string n(name);
  const fs::path path = PathOf(name);
  if (create_mode && mkdirat(fd(), n.c_str(), *create_mode) != 0 && errno != EEXIST) {
    return SystemError("create", path, errno);
  }
  UniqueFd sub(openat(fd(), n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (sub.get() < 0) return OpenError(fd(), n, path, errno, "a directory");
  return SafeDir(path, std::move(sub));
}

Result<SafeDir> SafeDir::Dup() const {
  UniqueFd copy(openat(fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (copy.get() < 0) return SystemError("open the directory", path_, errno);
  return SafeDir(path_, std::move(copy));
}

Result<UniqueFd> SafeDir::OpenFile(std::string_view name, int flags, mode_t mode,
                                   bool sole_link) const {
  const std::string n(name);
  const fs::path path = PathOf(name);
  // O_NONBLOCK: a FIFO planted in place of a file must not block the open.
  UniqueFd file(openat(fd(), n.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode));
  if (file.get() < 0) return OpenError(fd(), n, path, errno, "a regular file");
  struct stat st {};
  if (fstat(file.get(), &st) != 0) return SystemError("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return UnsafePathError(path, TypeName(st.st_mode));
  if (sole_link && st.st_nlink != 1) {
    return UnsafePathError(path, "a file with " + std::to_string(st.st_nlink) + " hard links");
  }
  const int status = fcntl(file.get(), F_GETFL);
  if (status < 0 || fcntl(file.get(), F_SETFL, status & ~O_NONBLOCK) != 0) {
    return SystemError("set the flags of", path, errno);
  }
  return file;
}

Result<EntryType> SafeDir::Stat(std::string_view name, struct stat* out) const {
  const std::string n(name);
  struct stat st {};
  if (fstatat(fd(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return EntryType::kMissing;
    return SystemError("stat", PathOf(name), errno);
  }
  if (out != nullptr) *out = st;
  if (S_ISREG(st.st_mode)) return EntryType::kRegular;
  if (S_ISDIR(st.st_mode)) return EntryType::kDirectory;
  return EntryType::kOther;
}

Status SafeDir::Rename(std::string_view name, const SafeDir& to, std::string_view to_name) const {
  const std::string from(name);
  const std::string dest(to_name);
  if (renameat(fd(), from.c_str(), to.fd(), dest.c_str()) != 0) {
    return SystemError("rename " + PathOf(name).string() + " onto", to.PathOf(to_name), errno);
  }
  return Ok();
}

Status SafeDir::LinkOpenFile(int file, std::string_view name, const SafeDir& to,
                             std::string_view to_name) const {
  const std::string dest(to_name);
  const std::string proc = "/proc/self/fd/" + std::to_string(file);
  int rc = linkat(AT_FDCWD, proc.c_str(), to.fd(), dest.c_str(), AT_SYMLINK_FOLLOW);
  if (rc != 0 && errno == ENOENT && access("/proc/self/fd", F_OK) != 0) {
    // No /proc: by name, once the name is proven to still be the open file.
    struct stat open_st {
    }, named{};
    const std::string n(name);
    if (fstat(file, &open_st) != 0 || fstatat(fd(), n.c_str(), &named, AT_SYMLINK_NOFOLLOW) != 0 ||
        open_st.st_dev != named.st_dev || open_st.st_ino != named.st_ino) {
      return UnsafePathError(PathOf(name), "no longer the file that was checked");
    }
    rc = linkat(fd(), n.c_str(), to.fd(), dest.c_str(), 0);
  }
  if (rc != 0) {
    const int err = errno;
    Error error = SystemError("link " + PathOf(name).string() + " as", to.PathOf(to_name), err);
    if (err == EEXIST) return Error(ErrorCode::kAlreadyExists, error.message());
    return error;
  }
  return Ok();
}

Status SafeDir::Unlink(std::string_view name) const {
  const std::string n(name);
  if (unlinkat(fd(), n.c_str(), 0) != 0 && errno != ENOENT) {
    return SystemError("remove", PathOf(name), errno);
  }
  return Ok();
}

Result<std::vector<SafeDir::Entry>> SafeDir::Entries() const {
  // fdopendir takes its descriptor; the directory's own stays open.
  UniqueFd copy(openat(fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (copy.get() < 0) return SystemError("open the directory", path_, errno);
  DIR* dir = fdopendir(copy.get());
  if (dir == nullptr) return SystemError("read the directory", path_, errno);
  copy.Release();  // the DIR owns it now: closedir closes it
  std::vector<Entry> entries;
  errno = 0;
  while (const dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") entries.push_back({std::move(name), e->d_type, e->d_ino});
  }
  const int err = errno;
  closedir(dir);
  if (err != 0) return SystemError("read the directory", path_, err);
  return entries;
}

Result<std::vector<std::string>> SafeDir::List() const {
  VMC_ASSIGN_OR_RETURN(std::vector<Entry> entries, Entries());
  std::vector<std::string> names;
  names.reserve(entries.size());
  for (Entry& e : entries) names.push_back(std::move(e.name));
  return names;
}

Status SafeDir::Sync() const {
  if (fsync(fd()) != 0) return SystemError("sync", path_, errno);
  return Ok();
}

Status SafeDir::RequirePrivate() const {
  struct stat st {};
  if (fstat(fd(), &st) != 0) return SystemError("stat", path_, errno);
  const bool owner_ok = st.st_uid == geteuid() || st.st_uid == 0;
  if (owner_ok && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0) return Ok();
  const std::string why =
      owner_ok ? "writable by " + std::string((st.st_mode & S_IWOTH) != 0 ? "others" : "its group")
               : "owned by user " + std::to_string(st.st_uid) + ", not by user " +
                     std::to_string(geteuid()) + " (catcher) or root";
  return Error(ErrorCode::kUnsafePath, "directory " + path_.string() + " (mode " +
                                           ModeText(st.st_mode) + ") is " + why +
                                           ": whoever can write it could plant links that "
                                           "catcher would act on; fix its owner or mode "
                                           "(e.g. chmod go-w)")
      .With("path", path_.string())
      .With("mode", ModeText(st.st_mode));
}

}  // namespace vmc
