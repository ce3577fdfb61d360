// `catcher run`: the daemon. Every --interval (with +-10% jitter, so that
// sites do not hit a list server in step) it updates every subscription and
// runs the cache (download, then expire), until SIGTERM or SIGINT: transfers
// then stop at once, leaving resumable partial files, and it exits 0.
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
