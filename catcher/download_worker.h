// The daemon's image downloads, run beside its cycles (DESIGN.md section 6):
// a cycle updates the lists, makes available what is already proven, hands
// the downloads still needed to a DownloadWorker and expires what is no
// longer wanted, without waiting for any transfer. So a mirror that trickles
// holds one download slot, not the daemon: the next cycle's updates, a CRL
// that revokes an endorser, and expiry all go on.
//
// Each Submit() replaces the work with the latest cycle's jobs. A running
// download whose content the new jobs do not name (its list was refused or
// expired, its image denied or unsubscribed) is cancelled at once; the
// cycle's expiry drops its partial file. A running download they still name
// goes on. Each download stops at its time budget (FetchJob::budget), keeps
// its partial file and is resumed when a later cycle submits it again.
//
// The worker writes partial/ and renames proven files into the content store,
// nothing else: no database, no events. While any of its downloads runs it
// keeps the last submitted `hold` (the cache lock, shared with the cycle), so
// that no other process writes partial/ meanwhile, and it lets go of it once
// idle.
//
// Thread-safety: Submit, Stop and TakeReport are called by one thread (the
// daemon's); CancelAll may be called from any thread. The downloads run on
// the worker's own threads, at most the submitted concurrency at once, each
// with its own HttpClient.
#ifndef VMC_CATCHER_DOWNLOAD_WORKER_H_
#define VMC_CATCHER_DOWNLOAD_WORKER_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "catcher/cache.h"
#include "catcher/image_fetch.h"

namespace vmc::catcher {

class DownloadWorker {
 public:
  // `on_downloaded` is called on a download thread, with no lock of the
  // worker held, after an image was downloaded and proven: the daemon makes
  // it available without waiting for its next cycle.
  explicit DownloadWorker(std::function<void()> on_downloaded);
  // Stop().
  ~DownloadWorker();
  DownloadWorker(const DownloadWorker&) = delete;
  DownloadWorker& operator=(const DownloadWorker&) = delete;

  struct Batch {
    // Shared by the downloads (each reaches its files from these descriptors).
    std::shared_ptr<const CacheDirFds> dirs;
    HttpOptions http;
    unsigned concurrency = 1;
    // One per SHA-512 (as the cache plans them).
    std::vector<FetchJob> jobs;
    // Kept while any download runs; released when the worker is idle.
    std::shared_ptr<const void> hold;
  };

  // Makes `batch.jobs` the work, as described above. Does nothing once
  // stopping.
  void Submit(Batch batch);

  // Number of downloads running now.
  std::size_t Running() const;

  // Cancels every running download (it stops within about a second, keeping
  // its partial file) and drops the queued ones; nothing starts afterwards.
  // Returns at once; safe from any thread (a signal watcher).
  void CancelAll();

  // CancelAll(), then waits until every download thread has ended.
  void Stop();

  // What ended since the last call: downloads proven (`downloaded`), failed
  // (logged as errors, in `failures`) and cut short by the stop
  // (`interrupted`, logged at info level: not failures).
  CacheReport TakeReport();

 private:
  // Why a running download was told to stop.
  enum class Cancel { kNone, kStop, kUnwanted };
  struct Transfer {
    std::string content;  // lower-case SHA-512
    std::atomic<bool> flag{false};
    Cancel why = Cancel::kNone;  // guarded by mutex_
  };

  void Run();
  void Finish(const FetchJob& job, const Transfer& transfer, Status result);
  void CancelLocked(Transfer& transfer, Cancel why);
  std::vector<std::thread> ReapLocked();

  const std::function<void()> on_downloaded_;
  mutable std::mutex mutex_;
  // All guarded by mutex_.
  bool stopping_ = false;
  std::shared_ptr<const CacheDirFds> dirs_;
  HttpOptions http_;
  unsigned concurrency_ = 1;
  std::deque<FetchJob> queue_;
  std::vector<std::shared_ptr<Transfer>> running_;
  std::shared_ptr<const void> hold_;
  unsigned live_ = 0;  // threads that have not ended
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> ended_;  // threads of threads_ that ended
  CacheReport report_;
};

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_DOWNLOAD_WORKER_H_
