// A directory held open by descriptor, and the operations on its entries that
// never go through a symbolic link (DESIGN.md section 6: nothing under the
// state directory is opened, renamed, linked or removed through a link).
//
// Every entry is reached with the *at() calls from the directory's
// descriptor, so a link planted in place of a directory further up is never
// followed either: subdirectories are opened with O_DIRECTORY|O_NOFOLLOW,
// files with O_NOFOLLOW, and each is checked with fstat for its type. An
// entry of the wrong type (a link, a FIFO, a device, a directory where a
// file belongs, a file with other hard links where catcher wants its own) is
// kUnsafePath, naming its path; it is never followed. Removing such an entry
// (unlinkat, which removes the link itself) is safe.
//
// Renames and links by name (renameat, linkat) act on the entry itself, never
// on what a link names; callers check the entry's type first (Stat) and, for
// the content store, prove by device and inode that the name still holds the
// file they opened. Only the owner of the directory can swap an entry between
// the check and the call, and catcher refuses directories others can write
// (RequirePrivate).
//
// Thread-safety: a SafeDir is immutable after Open; its operations may be
// called from several threads.
#ifndef VMC_COMMON_SAFE_DIR_H_
#define VMC_COMMON_SAFE_DIR_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace vmc {

// What a name refers to, as lstat sees it.
enum class EntryType { kMissing, kRegular, kDirectory, kOther };

class SafeDir {
 public:
  // Opens `path`, the admin's name for a directory: links in it are the
  // admin's and are followed. kIo when it is missing or not a directory.
  static Result<SafeDir> Open(const std::filesystem::path& path);

  SafeDir(SafeDir&&) noexcept = default;
  SafeDir& operator=(SafeDir&&) noexcept = default;
  SafeDir(const SafeDir&) = delete;
  SafeDir& operator=(const SafeDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  int fd() const { return fd_.get(); }
  std::filesystem::path PathOf(std::string_view name) const { return path_ / name; }

  // Opens the subdirectory `name`, never through a link. With `create_mode`,
  // creates it first when missing (with that mode, less the umask).
  // kUnsafePath when `name` is a link or not a directory.
  Result<SafeDir> Sub(std::string_view name, std::optional<mode_t> create_mode = {}) const;

  // Another descriptor of the same directory.
  Result<SafeDir> Dup() const;

  // Opens the regular file `name` with `flags` (O_NOFOLLOW and O_CLOEXEC are
  // added; with O_CREAT, `mode`). kUnsafePath when it is a link or not a
  // regular file, or, with `sole_link`, when it has other hard links.
  Result<UniqueFd> OpenFile(std::string_view name, int flags, mode_t mode = 0600,
                            bool sole_link = false) const;

  // The type of `name`, not following a link; `out` receives its lstat data.
  Result<EntryType> Stat(std::string_view name, struct stat* out = nullptr) const;

  // renameat(2) of `name` onto `to`/`to_name`. REQUIRES: the caller checked
  // the entry's type.
  Status Rename(std::string_view name, const SafeDir& to, std::string_view to_name) const;

  // Makes `to`/`to_name` a new hard link of the file open as `file` (race-free
  // through /proc/self/fd; when /proc is missing, by `name` after checking
  // that it is still that file). EEXIST is kAlreadyExists.
  Status LinkOpenFile(int file, std::string_view name, const SafeDir& to,
                      std::string_view to_name) const;

  // unlinkat(2): removes the entry itself (a link, not its target). Ok when
  // it is already gone.
  Status Unlink(std::string_view name) const;

  // An entry as readdir(3) reports it: `type` is a DT_* value (DT_UNKNOWN
  // where the filesystem does not say), `inode` the entry's inode number.
  struct Entry {
    std::string name;
    unsigned char type;
    ino_t inode;
  };

  // The entries of the directory (without "." and ".."), in one pass: what
  // a caller needs of every entry without a stat of each.
  Result<std::vector<Entry>> Entries() const;

  // The names in the directory (without "." and "..").
  Result<std::vector<std::string>> List() const;

  // fsync of the directory, so that renames into it are durable.
  Status Sync() const;

  // kUnsafePath unless the directory is owned by the running user or root and
  // neither its group nor others may write it; the message names the path,
  // its owner and its mode.
  Status RequirePrivate() const;

 private:
  SafeDir(std::filesystem::path path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::filesystem::path path_;
  UniqueFd fd_;
};

// The error for an entry that is not what it must be: "<path> is <what>; it
// is not followed".
Error UnsafePathError(const std::filesystem::path& path, std::string_view what);

}  // namespace vmc

#endif  // VMC_COMMON_SAFE_DIR_H_
