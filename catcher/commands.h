// catcher's command groups. main.cc registers them; each file holds one group.
#ifndef VMC_CATCHER_COMMANDS_H_
#define VMC_CATCHER_COMMANDS_H_

#include <atomic>
#include <optional>

#include "catcher/cache.h"
#include "catcher/lock.h"
#include "common/cli.h"

namespace vmc::catcher {

void AddSubscriptionCommands(CommandLine& cli);  // subscribe, unsubscribe, subscriptions
void AddUpdateCommands(CommandLine& cli);        // update, verify
void AddImageCommands(CommandLine& cli);         // images, image accept|refuse
void AddCacheCommands(CommandLine& cli);         // cache
void AddDaemonCommands(CommandLine& cli);        // run
void AddStatusCommands(CommandLine& cli);        // status, export

// One cache run (cache_commands.cc): check, download, expire, under the
// cache lock. `cancel` may be null.
Status RunCache(Context& ctx, bool download, bool expire, bool check,
                const std::atomic<bool>* cancel, CacheReport& report);

// The cache lock (CacheLayout::lock) for one cache run. Without `cancel`
// waits as long as it takes; with it (the daemon) polls, and returns nullopt
// when the process is stopping before its turn came (said at info level).
Result<std::optional<FileLock>> LockCache(const CacheLayout& layout,
                                          const std::atomic<bool>* cancel);

// Downloads at once: the setting, else the core count.
unsigned DownloadsAtOnce(const Settings& settings);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_COMMANDS_H_
