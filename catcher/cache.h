// The image cache (DESIGN.md sections 6 and 7): downloads every wanted image
// of a current, trusted list, proves it against the signed SHA-512 and size,
// makes it available to the event handler under its identifier, and moves
// images that are no longer wanted out (expired/, purged after a grace
// period). Events: ProcessPrefix, AvailablePrefix/Postfix, ExpirePrefix/
// Postfix, ProcessPostfix, with vmcatcher's names and variables; the Process
// pair brackets a whole cache run (WithProcessEvents), every other event of
// the run comes between them.
//
// Crash safety: a file reaches cache/ only by rename after verification; an
// image is recorded as "postfix due" before its view appears, so an
// AvailablePostfix that did not run or failed is run on the next cache run.
//
// Thread-safety: one cache run at a time per state directory (the caller
// holds CacheLayout::lock, see LockCache).
#ifndef VMC_CATCHER_CACHE_H_
#define VMC_CATCHER_CACHE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catcher/cache_layout.h"
#include "catcher/cycle.h"
#include "catcher/image_fetch.h"
#include "catcher/lock.h"

namespace vmc::catcher {

struct CacheReport {
  int downloaded = 0;
  int made_available = 0;
  int converted = 0;  // images converted to a format the site takes
  int expired = 0;
  int purged = 0;
  int checked = 0;                  // files of the content store --check re-hashed
  std::uint64_t checked_bytes = 0;  // their bytes
  // Downloads cut short or not begun because the process is stopping: not
  // failures (the partial files stay and the next run resumes them).
  int interrupted = 0;
  // One line per failure (download, event, file); the first error is kept.
  std::vector<std::string> failures;
  std::optional<Error> first_error;

  void Fail(Error error);
  void Interrupt(const Error& error);
};

// The steps of one cache run, in the order they run.
struct CacheSteps {
  bool check = false;     // re-hash the content store, move corrupt files out
  bool download = false;  // download what is wanted and make it available
  bool expire = false;    // move out what is no longer wanted, purge expired/
};

// One cache run over a cycle's inventory (catcher/cycle.h): its steps share
// the cycle's instant, its one inventory, its events and the cache
// directories, opened once.
class CacheRun {
 public:
  // Opens the cache directories (kUnsafePath, see OpenCacheDirs). `cancel`,
  // set by a signal handler, may be null: once set, transfers stop at once
  // (partials are kept) and no step starts new work. `cycle` and `report`
  // must outlive the run.
  static Result<CacheRun> Open(Cycle& cycle, const std::atomic<bool>* cancel, CacheReport& report);

  // Runs `steps` (the parts of one cache run) between the ProcessPrefix and
  // ProcessPostfix events. ProcessPostfix runs even when a step failed; a
  // failed event is reported. Returns the steps' status.
  Status WithProcessEvents(const std::function<Status()>& steps);

  // Downloads what is wanted, `downloads` at once, waiting for every
  // transfer (each within its time budget), and makes it available.
  Status DownloadWanted(unsigned downloads);

  // The daemon's half of DownloadWanted, without network I/O: makes
  // available the wanted images whose content is already proven, and sets
  // `jobs` to the downloads still needed (one per SHA-512, within the cache
  // quota, each with its time budget), for the caller to run beside its
  // cycles (download_worker.h). Images that cannot be planned (quota, a local
  // file named by a remote list, credentials) are failures in the report.
  Status OfferAndPlan(std::vector<FetchJob>& jobs);

  // Moves out what is no longer wanted and purges expired/ entries older
  // than the grace period.
  Status ExpireUnwanted();

  // Re-hashes every file of the content store; a file whose digest is not
  // its name is moved out to expired/ and reported (kChecksumMismatch).
  // Images made available from it are expired (events fired, views to
  // expired/), so that they are wanted, and downloaded, again. Runs before
  // the cycle's inventory is taken.
  Status Check();

  // The open directories, for downloads that outlive the run (the daemon's).
  std::shared_ptr<const CacheDirFds> dirs() const { return dirs_; }

 private:
  CacheRun(Cycle& cycle, std::shared_ptr<const CacheDirFds> dirs, const std::atomic<bool>* cancel,
           CacheReport& report)
      : cycle_(cycle), dirs_(std::move(dirs)), cancel_(cancel), report_(report) {}

  bool Stopping() const { return cancel_ != nullptr && cancel_->load(); }

  Cycle& cycle_;
  std::shared_ptr<const CacheDirFds> dirs_;
  const std::atomic<bool>* cancel_;
  CacheReport& report_;
};

// The cache lock (CacheLayout::lock) for one cache run. Without `cancel`
// waits as long as it takes; with it (the daemon) polls, and returns nullopt
// when the process is stopping before its turn came (said at info level).
Result<std::optional<FileLock>> LockCache(const CacheLayout& layout,
                                          const std::atomic<bool>* cancel);

// One whole cache run of `cycle` (`catcher cache`, `run --once`): `steps`
// under the cache lock, between the Process events, `DownloadsAtOnce`
// transfers at once. A stop (`cancel`) leaves expiry to the next run.
Status RunCache(Cycle& cycle, const CacheSteps& steps, const std::atomic<bool>* cancel,
                CacheReport& report);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_CACHE_H_
