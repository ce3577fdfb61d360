// The verification steps of DESIGN.md section 5 that do not depend on a
// subscriber's state, as named functions, and their composition for an
// offline check (`caster verify`, `catcher verify`).
//
// catcher's update runs all nine steps in one function, in order; it calls
// these for steps 2, 3, 4 (the list's own endorser), 5 and 7 and adds its own
// for the policy's endorser (4), the identifier (6), rollback (8) and storage
// (9). `caster verify` runs exactly the same code, so a submitter sees what
// every site will see.
//
// Input: untrusted bytes of a signed list. Nothing here parses them as JSON
// before the signature over them has verified.
//
// Thread-safety: reentrant; no shared state.
#ifndef VMC_COMMON_VERIFICATION_H_
#define VMC_COMMON_VERIFICATION_H_

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/defaults.h"
#include "common/error.h"
#include "common/imagelist.h"
#include "common/smime.h"

namespace vmc {

// Step 4, first half: the list names its endorser (hv:endorser/hv:x509 hv:dn
// and hv:ca), and the signer is exactly that endorser, compared as X.509
// names. Returns kEndorserMismatch naming both sides.
// (The list's own declaration can only be read once its content is parsed,
// step 5, so callers run this right after step 5; nothing acts on the list
// before both have passed.)
Status CheckDeclaredEndorser(const ImageList& list, const VerifiedMessage& message);

// Step 5: parses the verified content (never other bytes) and validates it
// against the schema. Warnings (an old list without its wrapper) are appended
// to `warnings` (may be null).
Result<ImageList> ParseVerifiedContent(const VerifiedMessage& message,
                                       std::vector<std::string>* warnings);

// Step 7: dc:date:created is not later than now + skew, and dc:date:expires is
// later than now. Returns kListFutureDated or kListExpired naming the list,
// the date and now, in the manner of apt ("... is expired (invalid since
// ...)"). A list without these dates fails the schema at step 5 already.
// With `max_age` (the site's max-list-age), a list created more than
// max_age before now is refused too, even before it expires (kListTooOld):
// it caps how long a replayed or frozen list stays acceptable, as apt caps
// Valid-Until. A list exactly max_age old is still accepted; one second older
// is not.
Status CheckFreshness(const ImageList& list, TimePoint now, std::chrono::seconds skew,
                      std::optional<std::chrono::seconds> max_age = std::nullopt);
// The same, from the identifier and dates recorded when a list was accepted.
Status CheckFreshness(std::string_view identifier, std::optional<TimePoint> created,
                      std::optional<TimePoint> expires, TimePoint now, std::chrono::seconds skew,
                      std::optional<std::chrono::seconds> max_age = std::nullopt);

// What an offline check proved.
struct VerifiedList {
  VerifiedMessage message;
  ImageList list;
  std::vector<std::string> warnings;
};

struct OfflineCheck {
  std::filesystem::path ca_dir;
  // The one instant every step judges (--at-time, or now).
  TimePoint at;
  std::chrono::seconds created_skew = kDefaultCreatedSkew;
  // When set, step 4's policy half for an offline check: the signer must be
  // this endorser too (--endorser-dn / --endorser-ca). kUntrustedEndorser.
  std::optional<std::string> expected_dn;
  std::optional<std::string> expected_ca;
};

// Steps 2, 3, 5, 4 and 7 over a signed list, in that order; the first failure
// is returned with its own code. REQUIRES: the caller capped bytes.size().
Result<VerifiedList> VerifySignedListOffline(std::string_view signed_bytes,
                                             const OfflineCheck& check);

}  // namespace vmc

#endif  // VMC_COMMON_VERIFICATION_H_
