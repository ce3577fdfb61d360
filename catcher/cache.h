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
// holds CacheLayout::lock).
#ifndef VMC_CATCHER_CACHE_H_
#define VMC_CATCHER_CACHE_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "catcher/cache_layout.h"
#include "catcher/context.h"
#include "catcher/events.h"
#include "catcher/image_fetch.h"
#include "common/clock.h"

namespace vmc::catcher {

struct CacheReport {
  int downloaded = 0;
  int made_available = 0;
  int expired = 0;
  int purged = 0;
  // Downloads cut short or not begun because the process is stopping: not
  // failures (the partial files stay and the next run resumes them).
  int interrupted = 0;
  // One line per failure (download, event, file); the first error is kept.
  std::vector<std::string> failures;
  std::optional<Error> first_error;

  void Fail(Error error);
  void Interrupt(const Error& error);
};

struct Inventory;  // inventory.h

struct CacheOptions {
  TimePoint now;
  // The inventory at `now` that the steps of one run share (RunCache builds
  // it once: re-verifying every list and looking at every view again per
  // step doubled the cost of a run); nullptr: each step builds its own.
  const Inventory* inventory = nullptr;
  unsigned downloads = 1;  // at once
  // Set by a signal handler: transfers stop at once, partials are kept.
  const std::atomic<bool>* cancel = nullptr;
};

// Runs `steps` (the parts of one cache run) between the ProcessPrefix and
// ProcessPostfix events. ProcessPostfix runs even when a step failed; a
// failed event is reported in `report`. Returns the steps' status.
Status WithProcessEvents(const CacheLayout& layout, const EventRunner& events, CacheReport& report,
                         const std::function<Status()>& steps);

// Downloads what is wanted, waiting for every transfer (each within its time
// budget), and makes it available (events fired).
Status DownloadWanted(Context& ctx, const EventRunner& events, const CacheOptions& options,
                      CacheReport& report);

// The daemon's half of DownloadWanted, without network I/O: makes available
// the wanted images whose content is already proven (events fired), and sets
// `jobs` to the downloads still needed (one per SHA-512, within the cache
// quota, each with its time budget), for the caller to run beside its cycles
// (download_worker.h). Images that cannot be planned (quota, a local file
// named by a remote list, credentials) are failures in `report`.
Status OfferAndPlan(Context& ctx, const EventRunner& events, const CacheOptions& options,
                    CacheReport& report, std::vector<FetchJob>& jobs);

// Moves out what is no longer wanted (events fired) and purges expired/
// entries older than the grace period.
Status ExpireUnwanted(Context& ctx, const EventRunner& events, const CacheOptions& options,
                      CacheReport& report);

// Re-hashes every file of the content store; a file whose digest is not its
// name is moved out to expired/ and reported (kChecksumMismatch). Images
// made available from it are expired (events fired, views to expired/), so
// that they are wanted, and downloaded, again.
Status CheckCache(Context& ctx, const EventRunner& events, CacheReport& report);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_CACHE_H_
