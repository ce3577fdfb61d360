// catcher cache [--download] [--expire] [--check]
#include <chrono>
#include <optional>
#include <thread>

#include "catcher/cache.h"
#include "catcher/commands.h"
#include "catcher/inventory.h"
#include "catcher/lock.h"
#include "common/log.h"
#include "common/output.h"

namespace vmc::catcher {

unsigned DownloadsAtOnce(const Settings& settings) {
  if (settings.downloads > 0) return settings.downloads;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? cores : 2;
}

// One cache run at a time per state directory (the daemon's or a command's).
// A command waits for the lock as long as it takes. With `cancel` (the
// daemon) the lock is polled instead, so that SIGTERM stops the daemon while
// another run, a `catcher cache` by hand, holds the cache for hours; nullopt
// then says the process stopped before its turn came.
Result<std::optional<FileLock>> LockCache(const CacheLayout& layout,
                                          const std::atomic<bool>* cancel) {
  constexpr char kPurpose[] = "a cache run";
  if (cancel == nullptr) {
    VMC_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(layout.lock, true, kPurpose));
    return std::optional<FileLock>(std::move(lock));
  }
  bool told = false;
  for (;;) {
    auto lock = FileLock::Acquire(layout.lock, false, kPurpose);
    if (lock.ok()) return std::optional<FileLock>(std::move(lock).value());
    if (lock.error().code() != ErrorCode::kLocked) return std::move(lock).error();
    if (!told) {
      LogInfo(lock.error().message() + "; waiting for it to finish");
      told = true;
    }
    if (cancel->load()) {
      LogInfo("the cache was not run: the process is stopping while " + lock.error().message());
      return std::optional<FileLock>();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Status RunCache(Context& ctx, bool download, bool expire, bool check,
                const std::atomic<bool>* cancel, CacheReport& report) {
  VMC_ASSIGN_OR_RETURN(const EventRunner events, MakeEventRunner(ctx.settings));
  const CacheLayout layout(ctx.settings.state_dir);
  VMC_ASSIGN_OR_RETURN(const std::optional<FileLock> lock, LockCache(layout, cancel));
  if (!lock) return Ok();
  CacheOptions options;
  options.now = SystemClock().Now();
  options.downloads = DownloadsAtOnce(ctx.settings);
  options.cancel = cancel;
  return WithProcessEvents(layout, events, report, [&]() -> Status {
    if (check) VMC_RETURN_IF_ERROR(CheckCache(ctx, events, report));
    // One inventory for both steps, taken after the check moved corrupt
    // files out: downloads change no image's being wanted.
    std::optional<Inventory> inventory;
    if (download || expire) {
      VMC_ASSIGN_OR_RETURN(inventory, BuildInventory(ctx, options.now));
      options.inventory = &*inventory;
    }
    if (download) VMC_RETURN_IF_ERROR(DownloadWanted(ctx, events, options, report));
    // Stopping: expiry (and the handlers it runs) waits for the next run.
    if (cancel != nullptr && cancel->load()) return Ok();
    if (expire) VMC_RETURN_IF_ERROR(ExpireUnwanted(ctx, events, options, report));
    return Ok();
  });
}

namespace {

Status Cache(const Invocation& inv) {
  VMC_ASSIGN_OR_RETURN(Context ctx, OpenContext(inv));
  bool download = inv.Has("download"), expire = inv.Has("expire");
  const bool check = inv.Has("check");
  if (!download && !expire && !check) download = expire = true;
  CacheReport report;
  VMC_RETURN_IF_ERROR(RunCache(ctx, download, expire, check, nullptr, report));
  if (inv.json) {
    rapidjson::StringBuffer b;
    JsonWriter w(b);
    w.StartObject();
    Field(w, "downloaded", static_cast<uint64_t>(report.downloaded));
    Field(w, "made_available", static_cast<uint64_t>(report.made_available));
    Field(w, "expired", static_cast<uint64_t>(report.expired));
    Field(w, "purged", static_cast<uint64_t>(report.purged));
    w.Key("failures");
    w.StartArray();
    for (const auto& f : report.failures) w.String(f.c_str());
    w.EndArray();
    w.EndObject();
    *inv.out << b.GetString() << "\n";
  } else {
    *inv.out << "downloaded " << report.downloaded << ", made available " << report.made_available
             << ", expired " << report.expired << ", purged " << report.purged << ", failures "
             << report.failures.size() << "\n";
  }
  if (report.first_error) {
    return Error(report.first_error->code(),
                 std::to_string(report.failures.size()) +
                     " cache failure(s); the first: " + report.first_error->message());
  }
  return Ok();
}

}  // namespace

void AddCacheCommands(CommandLine& cli) {
  cli.Add({{"cache"},
           "download wanted images and expire unwanted ones (default: both)",
           "[--download] [--expire] [--check]",
           "--check re-hashes every cached file and moves corrupt ones out.",
           [](po::options_description& o, po::positional_options_description&) {
             o.add_options()("download", "download wanted images")(
                 "expire", "move images no longer wanted to expired/")(
                 "check", "re-hash the cache and move corrupt files out");
           },
           Cache});
}

}  // namespace vmc::catcher
