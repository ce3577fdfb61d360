#include "catcher/daemon.h"

#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "catcher/cache.h"
#include "catcher/commands.h"
#include "catcher/context.h"
#include "catcher/cycle.h"
#include "catcher/download_worker.h"
#include "catcher/lock.h"
#include "catcher/policy.h"
#include "catcher/settings.h"
#include "catcher/subscription.h"
#include "catcher/update.h"
#include "common/build_info.h"
#include "common/log.h"
#include "common/output.h"

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
  bool TakeDownloaded() { return downloaded_.exchange(false); }

  // Called on the watcher's thread when a stop signal arrives (nullptr:
  // nothing), so that downloads stop while the daemon's own thread is busy.
  void OnStop(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mutex_);
    on_stop_ = std::move(hook);
  }

  // Wakes WaitUntil: a background download finished.
  void NotifyDownloaded() {
    downloaded_ = true;
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
  }

  // Waits until `deadline`, a signal or a finished download.
  void WaitUntil(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_until(lock, deadline,
                   [this] { return stop_.load() || reload_.load() || downloaded_.load(); });
  }

 private:
  void Watch() {
    while (!done_) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0 || done_) continue;
      if (sig == SIGHUP) {
        reload_ = true;
        LogNotice("SIGHUP: reloading the config and the policy");
      } else {
        stop_ = true;
        LogNotice(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                  ": stopping (transfers abort, partial downloads are kept)");
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_.load() && on_stop_) on_stop_();
      cv_.notify_all();
    }
  }

  sigset_t set_{};
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
  std::atomic<bool> downloaded_{false};
  std::mutex mutex_;
  std::function<void()> on_stop_;  // guarded by mutex_
  std::condition_variable cv_;
};

// Subscriptions made or removed with `catcher subscribe` / `unsubscribe`
// since the last cycle count from this one on.
void Refresh(Context& ctx) {
  if (Status s = RefreshSubscriptions(ctx); !s.ok()) {
    LogWarning("cannot list the subscriptions again, keeping the previous list: " +
               s.error().message());
  }
}

std::string Summary(const CacheReport& report) {
  return std::to_string(report.downloaded) + " downloaded, " +
         std::to_string(report.made_available) + " made available, " +
         std::to_string(report.converted) + " converted, " + std::to_string(report.expired) +
         " expired, " + Counted(report.failures.size(), "failure") +
         (report.interrupted > 0
              ? ", " + Counted(static_cast<std::size_t>(report.interrupted), "download") +
                    " stopped for the exit"
              : std::string());
}

// `run --once`: update every subscription, then the cache, waiting for its
// downloads (each within its time budget), in one Cycle. Returns the worst
// failure.
Status RunOnce(Context& ctx, const std::atomic<bool>& stop) {
  Refresh(ctx);
  VMC_ASSIGN_OR_RETURN(Cycle cycle, Cycle::Begin(ctx, SystemClock()));
  VMC_ASSIGN_OR_RETURN(const auto results,
                       cycle.Update(ctx.subscriptions, UnchangedLists::kVerifyInFull));
  Status updates = WorstFailure(results);
  if (stop.load()) return updates;
  CacheReport report;
  Status cache = RunCache(cycle, {.check = false, .download = true, .expire = true}, &stop, report);
  cycle.LogWork();
  LogInfo("cycle done: " + Counted(results.size(), "subscription") + ", " + Summary(report));
  if (!updates.ok()) return updates;
  if (!cache.ok()) return cache;
  if (report.first_error) return *report.first_error;
  return Ok();
}

// The long-running daemon's cache: its passes (make available, plan,
// expire) run on the daemon's thread under the cache lock, its downloads on
// a DownloadWorker, which keeps the lock shared while they run. The lock is
// one flock per process: the pass and the downloads share it through
// `held_`, and another process's cache run waits for both.
class DaemonCache {
 public:
  explicit DaemonCache(SignalWatcher& signals)
      : signals_(signals), worker_([&signals] { signals.NotifyDownloaded(); }) {
    signals_.OnStop([this] { worker_.CancelAll(); });
  }
  ~DaemonCache() {
    signals_.OnStop(nullptr);
    worker_.Stop();
  }
  DaemonCache(const DaemonCache&) = delete;
  DaemonCache& operator=(const DaemonCache&) = delete;

  // One pass over `cycle`'s inventory: makes available what is proven,
  // hands what is missing to the worker (cancelling downloads no longer
  // wanted) and expires what is no longer wanted. Never waits for a
  // transfer.
  Status Pass(Cycle& cycle, const std::atomic<bool>& stop, CacheReport& report) {
    VMC_ASSIGN_OR_RETURN(const std::shared_ptr<const FileLock> hold, Hold(cycle.layout(), stop));
    if (!hold) return Ok();
    VMC_ASSIGN_OR_RETURN(CacheRun run, CacheRun::Open(cycle, &stop, report));
    const Settings& settings = cycle.context().settings;
    return run.WithProcessEvents([&]() -> Status {
      std::vector<FetchJob> jobs;
      VMC_RETURN_IF_ERROR(run.OfferAndPlan(jobs));
      if (stop.load()) return Ok();
      worker_.Submit(
          {run.dirs(), HttpOptionsFor(settings), DownloadsAtOnce(settings), std::move(jobs), hold});
      return run.ExpireUnwanted();
    });
  }

  // Adds what the downloads did since the last call to `report`.
  void Collect(CacheReport& report) {
    CacheReport done = worker_.TakeReport();
    report.downloaded += done.downloaded;
    report.interrupted += done.interrupted;
    for (auto& f : done.failures) report.failures.push_back(std::move(f));
    if (!report.first_error && done.first_error) report.first_error = std::move(done.first_error);
  }

  std::size_t Downloading() const { return worker_.Running(); }

  // Stops every download (their partial files stay) and waits for them.
  void Stop() { worker_.Stop(); }

 private:
  Result<std::shared_ptr<const FileLock>> Hold(const CacheLayout& layout,
                                               const std::atomic<bool>& stop) {
    if (auto held = held_.lock()) return held;
    VMC_ASSIGN_OR_RETURN(std::optional<FileLock> lock, LockCache(layout, &stop));
    if (!lock) return std::shared_ptr<const FileLock>();
    auto held = std::make_shared<const FileLock>(std::move(*lock));
    held_ = held;
    return held;
  }

  SignalWatcher& signals_;
  std::weak_ptr<const FileLock> held_;
  DownloadWorker worker_;
};

// One cycle of the long-running daemon: update every subscription, then a
// cache pass over the same Cycle; the downloads it starts go on after it
// returns. Failures are logged.
void DaemonCycle(Context& ctx, const std::atomic<bool>& stop, DaemonCache& cache) {
  Refresh(ctx);
  auto cycle = Cycle::Begin(ctx, SystemClock());
  if (!cycle.ok()) {
    LogError("cycle: " + cycle.error().message());
    return;
  }
  auto results = cycle->Update(ctx.subscriptions, UnchangedLists::kVerifyInFull);
  if (!results.ok()) {
    LogError("cycle: " + results.error().message());
    return;
  }
  if (Status updates = WorstFailure(*results); !updates.ok()) {
    LogError("cycle: " + updates.error().message());
  }
  if (stop.load()) return;
  CacheReport report;
  if (Status s = cache.Pass(*cycle, stop, report); !s.ok()) {
    LogError("cycle: " + s.error().message());
  }
  cache.Collect(report);
  cycle->LogWork();
  LogNotice("cycle done: " + Counted(results->size(), "subscription") + ", " + Summary(report) +
            ", " + std::to_string(cache.Downloading()) + " downloading");
}

// Between cycles, after a background download finished: makes it available,
// in a Cycle of its own (no updates: its instant and inventory are new).
void DownloadPass(Context& ctx, const std::atomic<bool>& stop, DaemonCache& cache) {
  CacheReport report;
  auto cycle = Cycle::Begin(ctx, SystemClock());
  Status s = cycle.ok() ? cache.Pass(*cycle, stop, report) : Status(cycle.error());
  if (!s.ok()) LogError("cache pass: " + s.error().message());
  cache.Collect(report);
  LogInfo("downloads done: " + Summary(report) + ", " + std::to_string(cache.Downloading()) +
          " downloading");
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
  const std::string what = "state " + ctx.settings.state_dir.string() + ", " +
                           Counted(ctx.subscriptions.size(), "subscription");
  // One cycle that waits for its downloads (each within its budget): a
  // command of cron or a timer, silent unless something is wrong.
  if (inv.Has("once")) {
    LogInfo("catcher run --once: " + what);
    return RunOnce(ctx, signals.stop());
  }
  // A daemon says what it does (its start, each cycle, reload and stop),
  // unless told to be quiet.
  if (!inv.args["quiet"].as<bool>() && GetLogLevel() < LogLevel::kNotice) {
    SetLogLevel(LogLevel::kNotice);
  }
  const BuildInfo build = TheBuildInfo();
  LogNotice("catcher run: catcher " + build.version + " (commit " + build.commit + "), " + what +
            ", a cycle every " + std::to_string(IntervalOf(ctx, inv).count()) + " s");
  std::mt19937_64 random(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  DaemonCache cache(signals);
  auto next_cycle = std::chrono::steady_clock::now();
  for (;;) {
    if (std::chrono::steady_clock::now() >= next_cycle) {
      DaemonCycle(ctx, signals.stop(), cache);
      next_cycle =
          std::chrono::steady_clock::now() + JitteredInterval(IntervalOf(ctx, inv), unit(random));
    } else if (signals.TakeDownloaded()) {
      DownloadPass(ctx, signals.stop(), cache);
    }
    if (signals.stop().load()) break;
    signals.WaitUntil(next_cycle);
    if (signals.stop().load()) break;
    if (signals.TakeReload()) {
      if (Status reloaded = Reload(inv, ctx); reloaded.ok()) {
        LogNotice("reloaded: " + Counted(ctx.subscriptions.size(), "subscription"));
      } else {
        LogError("reload failed, keeping the running config and policy: " +
                 reloaded.error().message());
      }
      // A reload is followed by a cycle at once, as it always was.
      next_cycle = std::chrono::steady_clock::now();
    }
  }
  cache.Stop();
  CacheReport last;
  cache.Collect(last);
  if (last.downloaded > 0 || last.interrupted > 0 || !last.failures.empty()) {
    LogNotice("downloads at the stop: " + Summary(last));
  }
  LogNotice("catcher run: stopped");
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
