#include "catcher/cache_layout.h"

#include <sys/stat.h>

#include "common/atomic_file.h"

namespace vmc::catcher {
namespace {

// Opens `name` under `parent` (creating it with `create_mode` when given),
// and requires it private.
Result<SafeDir> PrivateSub(const SafeDir& parent, std::string_view name,
                           std::optional<mode_t> create_mode) {
  VMC_ASSIGN_OR_RETURN(SafeDir dir, parent.Sub(name, create_mode));
  VMC_RETURN_IF_ERROR(dir.RequirePrivate());
  return dir;
}

Result<SafeDir> OpenStateDir(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return SystemError("create", path, ec.value());
  VMC_ASSIGN_OR_RETURN(SafeDir state, SafeDir::Open(path));
  VMC_RETURN_IF_ERROR(state.RequirePrivate());
  return state;
}

}  // namespace

Status CacheLayout::Create() const {
  VMC_ASSIGN_OR_RETURN(const CacheDirFds dirs, OpenCacheDirs(*this));
  return Ok();
}

Result<CacheDirFds> OpenCacheDirs(const CacheLayout& layout) {
  constexpr mode_t kMode = 0755;
  VMC_ASSIGN_OR_RETURN(SafeDir state, OpenStateDir(layout.state));
  VMC_ASSIGN_OR_RETURN(SafeDir cache, PrivateSub(state, "cache", kMode));
  VMC_ASSIGN_OR_RETURN(SafeDir content, PrivateSub(cache, ".sha512", kMode));
  VMC_ASSIGN_OR_RETURN(SafeDir partial, PrivateSub(state, "partial", kMode));
  VMC_ASSIGN_OR_RETURN(SafeDir expired, PrivateSub(state, "expired", kMode));
  return CacheDirFds{std::move(state), std::move(cache), std::move(content), std::move(partial),
                     std::move(expired)};
}

Status CheckStateDirectory(const std::filesystem::path& state_dir) {
  VMC_ASSIGN_OR_RETURN(const SafeDir state, OpenStateDir(state_dir));
  for (const char* name : {"db", "cache", "partial", "expired"}) {
    VMC_ASSIGN_OR_RETURN(const EntryType type, state.Stat(name));
    if (type == EntryType::kMissing) continue;
    VMC_ASSIGN_OR_RETURN(const SafeDir sub, PrivateSub(state, name, std::nullopt));
    if (std::string_view(name) != "cache") continue;
    VMC_ASSIGN_OR_RETURN(const EntryType content, sub.Stat(".sha512"));
    if (content == EntryType::kMissing) continue;
    VMC_ASSIGN_OR_RETURN(const SafeDir store, PrivateSub(sub, ".sha512", std::nullopt));
  }
  return Ok();
}

}  // namespace vmc::catcher
