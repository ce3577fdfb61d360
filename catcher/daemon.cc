#include "catcher/daemon.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "catcher/commands.h"
#include "catcher/context.h"
#include "catcher/lock.h"
#include "catcher/policy.h"
#include "catcher/settings.h"
#include "catcher/subscription.h"
#include "catcher/update.h"
#include "common/log.h"

namespace vmc::catcher {
namespace {

// Turns SIGTERM, SIGINT and SIGHUP into flags on a dedicated thread
// (sigwait), so that no work happens in a signal handler and every other
// thread, the download workers included, has them blocked.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] { Watch(); });
  }
  ~SignalWatcher() {
    done_ = true;
    // Wake sigwait with one of its signals, aimed at this process only.
    pthread_kill(thread_.native_handle(), SIGHUP);
    thread_.join();
    pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  const std::atomic<bool>& stop() const { return stop_; }
  bool TakeReload() { return reload_.exchange(false); }

  // Waits until `deadline` or a signal.
  void WaitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_until(lock, deadline, [this] { return stop_.load() || reload_.load(); });
  }

 private:
  void Watch() {
    while (!done_) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0 || done_) continue;
      if (sig == SIGHUP) {
        reload_ = true;
        LogInfo("SIGHUP: reloading the config and the policy");
      } else {
        stop_ = true;
        LogInfo(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                ": stopping (transfers abort, partial downloads are kept)");
      }
      std::lock_guard<std::mutex> lock(mutex_);
      cv_.notify_all();
    }
  }

  sigset_t set_{};
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
};

// One cycle: update every subscription, then the cache. Returns the worst
// failure (for --once); the daemon only logs it.
Status Cycle(Context& ctx, const std::atomic<bool>& stop) {
  // Subscriptions made or removed with `catcher subscribe` / `unsubscribe`
  // since the last cycle count from this one on.
  if (Status s = RefreshSubscriptions(ctx); !s.ok()) {
    LogWarning("cannot list the subscriptions again, keeping the previous list: " +
               s.error().message());
  }
  VMC_ASSIGN_OR_RETURN(HttpClient client, HttpClient::Create(HttpOptionsFor(ctx.settings)));
  VMC_ASSIGN_OR_RETURN(const EventRunner events, MakeEventRunner(ctx.settings));
  const auto results =
      UpdateAll(client, ctx.state, ctx.subscriptions, UpdateParametersFor(ctx, SystemClock().Now()),
                events, EventDirectories(CacheLayout(ctx.settings.state_dir)));
  Status updates = WorstFailure(results);
  if (stop.load()) return updates;
  CacheReport report;
  Status cache = RunCache(ctx, true, true, false, &stop, report);
  LogInfo("cycle done: " + std::to_string(results.size()) + " subscriptions, " +
          std::to_string(report.downloaded) + " downloaded, " +
          std::to_string(report.made_available) + " made available, " +
          std::to_string(report.expired) + " expired, " + std::to_string(report.failures.size()) +
          " failures" +
          (report.interrupted > 0
               ? ", " + std::to_string(report.interrupted) + " downloads stopped for the exit"
               : std::string()));
  if (!updates.ok()) return updates;
  if (!cache.ok()) return cache;
  if (report.first_error) return *report.first_error;
  return Ok();
}

// Re-reads the config file and the policy into `ctx`, all or nothing. The
// database stays open as it is: LMDB must never be open twice in one process
// (closing either handle drops the process's locks on lock.mdb, and the next
// command to open the database would then reset its lock table under the
// daemon), so the state directory cannot change without a restart.
Status Reload(const Invocation& inv, Context& ctx) {
  VMC_ASSIGN_OR_RETURN(po::variables_map args, inv.reparse());
  Invocation fresh = inv;
  fresh.args = std::move(args);
  VMC_ASSIGN_OR_RETURN(Settings settings, ResolveSettings(fresh));
  if (settings.state_dir != ctx.settings.state_dir) {
    return Error(ErrorCode::kConfigInvalid,
                 "the state directory cannot change while catcher runs (" +
                     ctx.settings.state_dir.string() + ", now " + settings.state_dir.string() +
                     "); restart it to use another")
        .With("key", "state-dir");
  }
  VMC_ASSIGN_OR_RETURN(Policy policy, LoadPolicy(settings.policy_path, settings.policy_required));
  std::vector<std::string> warnings;
  VMC_ASSIGN_OR_RETURN(auto subscriptions, AllSubscriptions(policy, ctx.state, &warnings));
  for (const auto& w : warnings) LogWarning(w);
  ctx.settings = std::move(settings);
  ctx.policy = std::move(policy);
  ctx.subscriptions = std::move(subscriptions);
  return Ok();
}

std::chrono::seconds IntervalOf(const Context& ctx, const Invocation& inv) {
  if (auto text = inv.Find<std::string>("interval")) {
    auto d = ParseDuration(*text);
    if (d.ok()) return *d;
  }
  return ctx.settings.interval;
}

}  // namespace

std::chrono::milliseconds JitteredInterval(std::chrono::seconds interval, double unit_random) {
  const double factor = 0.9 + 0.2 * unit_random;
  const auto ms = std::chrono::milliseconds(
      static_cast<long long>(static_cast<double>(interval.count()) * 1000.0 * factor));
  return std::max(ms, std::chrono::milliseconds(1000));
}

Status RunDaemon(const Invocation& inv) {
  if (auto text = inv.Find<std::string>("interval")) {
    auto d = ParseDuration(*text);
    if (!d.ok()) return Error(ErrorCode::kUsage, "--interval: " + d.error().message());
  }
  SignalWatcher signals;
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  VMC_ASSIGN_OR_RETURN(const FileLock lock,
                       FileLock::Acquire(ctx.settings.state_dir / "daemon.lock", false,
                                         "catcher run for " + ctx.settings.state_dir.string()));
  const bool once = inv.Has("once");
  std::mt19937_64 random(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  LogInfo("catcher run: state " + ctx.settings.state_dir.string() + ", " +
          std::to_string(ctx.subscriptions.size()) + " subscriptions");
  for (;;) {
    Status cycle = Cycle(ctx, signals.stop());
    if (once) return cycle;
    if (!cycle.ok()) LogError("cycle: " + cycle.error().message());
    if (signals.stop().load()) break;
    const auto wait = JitteredInterval(IntervalOf(ctx, inv), unit(random));
    signals.WaitUntil(std::chrono::steady_clock::now() + wait);
    if (signals.stop().load()) break;
    if (signals.TakeReload()) {
      if (Status reloaded = Reload(inv, ctx); reloaded.ok()) {
        LogInfo("reloaded: " + std::to_string(ctx.subscriptions.size()) + " subscriptions");
      } else {
        LogError("reload failed, keeping the running config and policy: " +
                 reloaded.error().message());
      }
    }
  }
  LogInfo("catcher run: stopped");
  return Ok();
}

void AddDaemonCommands(CommandLine& cli) {
  cli.Add({{"run"},
           "the daemon: update and cache every --interval until SIGTERM",
           "[--interval DURATION] [--once]",
           "SIGHUP reloads the config and the policy. --once runs one cycle (cron, timers).",
           [](po::options_description& o, po::positional_options_description&) {
             o.add_options()("interval", po::value<std::string>(),
                             "time between cycles, e.g. 1h, 30m (default: config, else 1h)")(
                 "once", "run one cycle and exit with its worst failure's status");
           },
           RunDaemon});
}

}  // namespace vmc::catcher
