// Who may put an image under an identifier (DESIGN.md section 6): image
// identifiers never change hands between subscriptions. An identifier
// belongs to the subscription that first had it cached; only that
// subscription's list can bring it new content (a new image version).
// Another subscription naming the identifier with other bytes (endorser B
// publishing endorser A's image identifier with its own image) is a
// conflict: its image is not downloaded nor made available under that name,
// and the owner's image is neither replaced nor expired because of it. Two
// subscriptions naming a free identifier with different content are both in
// conflict: subscription order is never a tie-breaker. The same content
// under one identifier from several subscriptions is no conflict.
//
// A conflict lasts until the admin resolves it, e.g. with a deny rule for
// the claim not wanted ({"image": ID, "list": LIST}), or until the owner's
// list no longer names the image (its expiry frees the identifier).
//
// Thread-safety: ResolveClaims is a pure function of its arguments;
// LogConflicts keeps what it logged for the process, under a lock.
#ifndef VMC_CATCHER_CLAIMS_H_
#define VMC_CATCHER_CLAIMS_H_

#include <map>
#include <string>

#include "catcher/inventory.h"
#include "catcher/state.h"

namespace vmc::catcher {

// Turns every wanted image of `inventory` that conflicts, as above, into
// InventoryState::kConflict with a reason naming the other subscriptions and
// how to resolve it. `cached` is the state's record of what is cached under
// which identifier, by which subscription (State::Cached()).
void ResolveClaims(const std::map<std::string, CachedImage>& cached, Inventory& inventory);

// Logs each conflict of `inventory` as a warning, once per process (a
// daemon does not repeat it every cycle).
void LogConflicts(const Inventory& inventory);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_CLAIMS_H_
