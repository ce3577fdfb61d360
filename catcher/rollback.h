// Verification step 8 (DESIGN.md section 5): a subscription's list may only
// move forward. A pure decision over what was accepted before and what was
// received now, so that it can be tested by a table of cases.
//
// Thread-safety: pure functions.
#ifndef VMC_CATCHER_ROLLBACK_H_
#define VMC_CATCHER_ROLLBACK_H_

#include <optional>
#include <string>

#include "common/error.h"

namespace vmc::catcher {

// What identifies one accepted version of a list.
struct ListFingerprint {
  std::string version;         // hv:version
  std::string content_sha512;  // SHA-512 of the verified content bytes, hex
  // The admin reset the version floor of the list held (`catcher
  // subscription reset-version`, after a compromised key signed a huge
  // version): the next list is accepted whatever its version, once.
  bool version_reset = false;
};

// Returns Ok() when `received` may replace `previous` (none: the first
// update): a higher version, or the same version with the same content (an
// unchanged list served again), or anything when previous->version_reset.
// Otherwise kVersionRollback (a lower version: a replayed or forked list) or
// kVersionReused (the same version with other content), naming `list`, both
// versions, and how to recover.
Status CheckRollback(const std::optional<ListFingerprint>& previous,
                     const ListFingerprint& received, const std::string& list);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_ROLLBACK_H_
