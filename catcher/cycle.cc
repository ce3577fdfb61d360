#include "catcher/cycle.h"

#include "catcher/claims.h"
#include "common/log.h"
#include "common/smime.h"
#include "common/trust.h"

namespace vmc::catcher {
namespace {

CycleWork WorkSoFar() {
  return {SmimeVerifications(), SmimeSplits(), TrustStore::Opened(), InventoriesBuilt()};
}

}  // namespace

Cycle::Cycle(Context& ctx, const Clock& clock, EventRunner events)
    : ctx_(ctx),
      params_(UpdateParametersFor(ctx, clock.Now())),
      layout_(ctx.settings.state_dir),
      events_(std::move(events)),
      at_begin_(WorkSoFar()) {
  if (auto trust = TrustStore::Open(params_.ca_dir, params_.key_minimums); trust.ok()) {
    params_.trust = std::make_shared<const TrustStore>(std::move(trust).value());
  } else {
    params_.trust_error = std::move(trust).error();
  }
}

Result<Cycle> Cycle::Begin(Context& ctx, const Clock& clock) {
  VMC_ASSIGN_OR_RETURN(EventRunner events, MakeEventRunner(ctx.settings));
  return Cycle(ctx, clock, std::move(events));
}

Cycle Cycle::Observe(Context& ctx, const Clock& clock) {
  return Cycle(ctx, clock, EventRunner({}, ctx.settings.event_timeout, {}));
}

Result<std::vector<SubscriptionUpdate>> Cycle::Update(const std::vector<ResolvedSubscription>& subs,
                                                      UnchangedLists unchanged) {
  VMC_ASSIGN_OR_RETURN(HttpClient client, HttpClient::Create(HttpOptionsFor(ctx_.settings)));
  std::vector<SubscriptionUpdate> results =
      UpdateAll(client, ctx_.state, subs, params_, events_, layout_, unchanged);
  for (auto& r : results) {
    if (r.outcome.judged) judged_.insert_or_assign(r.name, std::move(*r.outcome.judged));
    r.outcome.judged.reset();
  }
  return results;
}

Result<const Inventory*> Cycle::TheInventory() {
  if (!inventory_) {
    VMC_ASSIGN_OR_RETURN(Inventory inventory, BuildInventory(ctx_, params_, std::move(judged_)));
    judged_.clear();
    VMC_ASSIGN_OR_RETURN(const auto* summaries, CachedSummaries());
    ResolveClaims(*summaries, inventory);
    inventory_ = std::move(inventory);
  }
  return &*inventory_;
}

Result<const std::map<std::string, CachedSummary>*> Cycle::CachedSummaries() {
  if (!summaries_ || summaries_read_at_ != ctx_.state.CachedWrites()) {
    summaries_read_at_ = ctx_.state.CachedWrites();
    VMC_ASSIGN_OR_RETURN(summaries_, ctx_.state.CachedSummaries());
  }
  return &*summaries_;
}

Result<Inventory> Cycle::TakeInventory() {
  VMC_RETURN_IF_ERROR(TheInventory());
  Inventory taken = std::move(*inventory_);
  inventory_.reset();
  return taken;
}

CycleWork Cycle::Work() const {
  const CycleWork now = WorkSoFar();
  return {now.smime_verifications - at_begin_.smime_verifications,
          now.smime_splits - at_begin_.smime_splits, now.trust_stores - at_begin_.trust_stores,
          now.inventories - at_begin_.inventories};
}

void Cycle::LogWork() const {
  const CycleWork work = Work();
  LogDebug("cycle work: S/MIME verifications " + std::to_string(work.smime_verifications) +
           " (messages split " + std::to_string(work.smime_splits) + "), trust stores opened " +
           std::to_string(work.trust_stores) + ", inventories built " +
           std::to_string(work.inventories));
}

}  // namespace vmc::catcher
