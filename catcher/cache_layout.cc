#include "catcher/cache_layout.h"

#include "common/atomic_file.h"

namespace vmc::catcher {

Status CacheLayout::Create() const {
  for (const auto& dir : {cache, content, partial, expired}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return SystemError("create", dir, ec.value());
  }
  return Ok();
}

CacheDirectories EventDirectories(const CacheLayout& layout) {
  return {layout.cache, layout.partial, layout.expired};
}

}  // namespace vmc::catcher
