// The time budget of one image download (DESIGN.md section 6): the signed
// hv:size over a minimum rate, with a floor. A download still running when
// its budget is spent stops, keeps its partial file and is resumed by a later
// run, so that a mirror trickling above the low-speed limit cannot hold a
// download slot, or a `catcher cache` run, for ever.
//
// Thread-safety: a pure function.
#ifndef VMC_CATCHER_DOWNLOAD_BUDGET_H_
#define VMC_CATCHER_DOWNLOAD_BUDGET_H_

#include <chrono>
#include <cstdint>

namespace vmc::catcher {

// The longest any budget is (24 days): beyond it a download is, in effect,
// unbounded, and libcurl's millisecond timeout fits even a 32-bit long.
inline constexpr std::chrono::milliseconds kMaxDownloadBudget{24LL * 24 * 3600 * 1000};

// max(min_time, size / min_rate), rounded up to the millisecond, at most
// kMaxDownloadBudget. REQUIRES: min_rate > 0 (bytes per second).
std::chrono::milliseconds DownloadBudget(std::uint64_t size, std::uint64_t min_rate,
                                         std::chrono::seconds min_time);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_DOWNLOAD_BUDGET_H_
