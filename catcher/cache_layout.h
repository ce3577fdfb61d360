// Where the cache keeps its files, under the state directory (DESIGN.md 6):
//   cache/.sha512/<sha512>   the content store: one file per SHA-512, named
//                            by the verified digest only
//   cache/<identifier>       vmcatcher's view for event handlers: a hard link
//                            to the content file, named by the image's
//                            identifier (checked by the identifier rule, which
//                            forbids a leading '.', so no identifier can name
//                            the content store)
//   partial/<sha512>.part    downloads in progress, resumable
//   expired/<identifier>     views of images that left the cache, purged after
//                            the grace period
// Names are built only from validated identifiers and 128-hex digests.
//
// Nothing under the state directory is reached through a symbolic link
// (common/safe_dir.h): the directories are opened once, from the state
// directory's descriptor, without following links, and every file operation
// of the cache goes through those descriptors. The state directory and its
// subdirectories must be owned by catcher's user (or root) and writable by
// no one else (CheckStateDirectory).
#ifndef VMC_CATCHER_CACHE_LAYOUT_H_
#define VMC_CATCHER_CACHE_LAYOUT_H_

#include <filesystem>
#include <string>

#include "common/error.h"
#include "common/safe_dir.h"

namespace vmc::catcher {

struct CacheLayout {
  explicit CacheLayout(const std::filesystem::path& state_dir)
      : state(state_dir),
        cache(state_dir / "cache"),
        content(state_dir / "cache" / ".sha512"),
        partial(state_dir / "partial"),
        expired(state_dir / "expired"),
        lock(state_dir / "cache.lock") {}

  std::filesystem::path state;
  std::filesystem::path cache;
  std::filesystem::path content;
  std::filesystem::path partial;
  std::filesystem::path expired;
  std::filesystem::path lock;

  // REQUIRES: sha512 is 128 lower-case hex digits (checked by the caller).
  std::filesystem::path ContentFile(const std::string& sha512) const { return content / sha512; }
  // REQUIRES: identifier passed ValidateIdentifier().
  std::filesystem::path ViewFile(const std::string& identifier) const { return cache / identifier; }

  // Creates the directories (0755: middleware reads the cache).
  // kUnsafePath when one is a link or not a directory.
  Status Create() const;
};

// The directories of a CacheLayout, open (never through a link).
struct CacheDirFds {
  SafeDir state;
  SafeDir cache;
  SafeDir content;
  SafeDir partial;
  SafeDir expired;
};

// Creates the missing directories of `layout` (0755) and opens them.
// kUnsafePath when one is a link, not a directory, or writable by others
// (CheckStateDirectory).
Result<CacheDirFds> OpenCacheDirs(const CacheLayout& layout);

// Refuses a state directory whose directories (the state directory, db/,
// cache/, cache/.sha512/, partial/, expired/) others could plant links in:
// kUnsafePath, naming the path and its mode, when one is a link or not a
// directory, is not owned by the running user or root, or is writable by its
// group or others. Missing subdirectories are fine (they are made 0755 or,
// db/, 0700); a missing state directory is created (0755).
Status CheckStateDirectory(const std::filesystem::path& state_dir);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_CACHE_LAYOUT_H_
