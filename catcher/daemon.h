// `catcher run`: the daemon. Every --interval (with +-10% jitter, so that
// sites do not hit a list server in step) it updates every subscription and
// runs a cache pass (make available what is proven, expire what is no longer
// wanted), until SIGTERM or SIGINT: transfers then stop at once, leaving
// resumable partial files, and it exits 0. Image downloads never hold up a
// cycle: they run beside the cycles on a DownloadWorker (download_worker.h),
// each within its time budget; a cycle that refuses or expires a list
// cancels the downloads it made unwanted, and a finished download is made
// available by a pass right after it, without waiting for the next cycle.
// SIGHUP reloads the config file and the policy; a broken one is logged and
// the running one kept. The state directory and its open database stay (a
// new state directory needs a restart). Subscriptions made or removed with
// `catcher subscribe` / `unsubscribe` count from the next cycle. One daemon per state directory
// (daemon.lock); commands may run beside it (LMDB for the database, cache.lock for the cache
// directories). `--once` runs one cycle and exits with its worst failure's status, for cron and
// systemd timers.
#ifndef VMC_CATCHER_DAEMON_H_
#define VMC_CATCHER_DAEMON_H_

#include <chrono>

#include "common/cli.h"

namespace vmc::catcher {

// The wait before the next cycle: `interval` +- 10%, at least one second.
std::chrono::milliseconds JitteredInterval(std::chrono::seconds interval, double unit_random);

Status RunDaemon(const Invocation& inv);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_DAEMON_H_
