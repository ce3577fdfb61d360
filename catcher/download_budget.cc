#include "catcher/download_budget.h"

#include <algorithm>

namespace vmc::catcher {

std::chrono::milliseconds DownloadBudget(std::uint64_t size, std::uint64_t min_rate,
                                         std::chrono::seconds min_time) {
  const auto cap = static_cast<std::uint64_t>(kMaxDownloadBudget.count());
  // Whole seconds first, then the remainder, so that size * 1000 cannot
  // overflow for any hv:size.
  const std::uint64_t seconds = size / min_rate;
  std::uint64_t ms = cap;
  if (seconds < cap / 1000) {
    ms = seconds * 1000 + ((size % min_rate) * 1000 + min_rate - 1) / min_rate;
  }
  const std::uint64_t floor = static_cast<std::uint64_t>(std::max<std::int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(min_time).count(), 0));
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(std::max(ms, floor), cap)));
}

}  // namespace vmc::catcher
