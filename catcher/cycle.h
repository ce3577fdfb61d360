// One cycle of catcher's work (DESIGN.md sections 5 to 7) as a value: one
// instant, one trust store, one cache layout and one event runner, and the
// verified inventory built once from them. `run --once`, each cycle of the
// daemon and the update, cache, images, status and export commands each work
// through one Cycle.
//
// The updates of a cycle hand it the lists they judged in full (steps 2-8,
// at the cycle's instant, with its store): the new lists they accepted and,
// when its inventory follows (UnchangedLists::kVerifyInFull), the lists the
// server reported unchanged, verified on the other cores while the next
// lists were fetched. The inventory verifies in full only the stored lists
// they did not (a 304 judged by VerifyUnchanged, a subscription not updated
// or whose update failed). So each stored list's S/MIME is verified once per
// cycle, however many consumers (announcements, downloads, expiry, status,
// export) look at it, and a list the server reports unchanged is still
// verified in full once per cycle.
//
// Thread-safety: a Cycle is used by one thread.
#ifndef VMC_CATCHER_CYCLE_H_
#define VMC_CATCHER_CYCLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catcher/cache_layout.h"
#include "catcher/context.h"
#include "catcher/events.h"
#include "catcher/inventory.h"
#include "catcher/update.h"
#include "common/clock.h"

namespace vmc::catcher {

// What a cycle did that costs: the counters its debug line reports, read
// from the process-wide counts of the primitives themselves, so that a
// consumer added outside the cycle's sharing shows up.
struct CycleWork {
  std::uint64_t smime_verifications = 0;  // VerifySmime, VerifySmimeKept
  std::uint64_t smime_splits = 0;         // of them, messages split (not kept)
  std::uint64_t trust_stores = 0;         // TrustStore::Open
  std::uint64_t inventories = 0;          // BuildInventory
};

class Cycle {
 public:
  // Takes the cycle's one instant from `clock`, opens the CA directory once
  // (when it is unusable, every verification of the cycle reports why,
  // kCaDirInvalid, in its own result) and the event runner the settings
  // configure. `ctx` must outlive the cycle.
  static Result<Cycle> Begin(Context& ctx, const Clock& clock);
  // A cycle that only looks (images, status, export): no event runs in it.
  static Cycle Observe(Context& ctx, const Clock& clock);

  Cycle(Cycle&&) = default;
  Cycle& operator=(Cycle&&) = delete;

  Context& context() const { return ctx_; }
  TimePoint now() const { return params_.now; }
  const UpdateParameters& params() const { return params_; }
  const CacheLayout& layout() const { return layout_; }
  const EventRunner& events() const { return events_; }

  // Updates `subs` (UpdateAll) at now(), judging unchanged lists as
  // `unchanged` says, and keeps the lists they judged in full for the
  // inventory.
  Result<std::vector<SubscriptionUpdate>> Update(const std::vector<ResolvedSubscription>& subs,
                                                 UnchangedLists unchanged);

  // The inventory at now(), built on the first call from the state as it is
  // then (the updates and a cache check come first); the same value after.
  Result<const Inventory*> TheInventory();

  // Every cache record's summary (State::CachedSummaries), read again only
  // when this process wrote cache records since: the inventory, the offers
  // and the expiry of a cycle share one reading (they run under the cache
  // lock, or only look).
  Result<const std::map<std::string, CachedSummary>*> CachedSummaries();

  // The inventory, moved out: what an observing command keeps.
  Result<Inventory> TakeInventory();

  // The work done since Begin.
  CycleWork Work() const;
  // Logs Work() at debug level ("cycle work: S/MIME verifications N
  // (messages split N), trust stores opened N, inventories built N"; tests
  // read it).
  void LogWork() const;

 private:
  Cycle(Context& ctx, const Clock& clock, EventRunner events);

  Context& ctx_;
  UpdateParameters params_;
  CacheLayout layout_;
  EventRunner events_;
  CycleWork at_begin_;
  // Judged in full by this cycle's updates, by subscription; moved into the
  // inventory when it is built.
  std::map<std::string, JudgedList> judged_;
  std::optional<Inventory> inventory_;
  std::optional<std::map<std::string, CachedSummary>> summaries_;
  std::uint64_t summaries_read_at_ = 0;  // State::CachedWrites() then
};

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_CYCLE_H_
