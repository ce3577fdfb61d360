// The images a site can see: every image of every subscription's accepted
// list, with its state and the reason for it. `catcher images` prints it;
// the cache (issue 5) acts on the wanted ones.
//
// States, the first that applies:
//   denied     a deny rule of the policy matches
//   expired    the list no longer verifies now (expired, endorser no longer
//              trusted, CRL, ...) or the image's own dc:date:expires passed
//   cached     wanted, and in the cache under its identifier
//   wanted     in a current, trusted list and selected, not yet cached
//   available  in a current, trusted list, but not selected (the reason says
//              why: not listed, awaiting 'catcher image accept', too large)
//   refused    wanted, but the inspection of its bytes refused them: not the
//              format hv:format declares, or not a safe disk image
//              (catcher/image_inspection.h); its bytes left the cache
//   conflict   wanted, but its identifier belongs to another subscription, or
//              another subscription names it with other content
//              (catcher/claims.h); never downloaded nor made available
//
// Thread-safety: reentrant.
#ifndef VMC_CATCHER_INVENTORY_H_
#define VMC_CATCHER_INVENTORY_H_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "catcher/context.h"
#include "catcher/image_inspection.h"
#include "catcher/selection.h"
#include "catcher/update.h"
#include "common/clock.h"
#include "common/imagelist.h"

namespace vmc::catcher {

enum class InventoryState { kDenied, kExpired, kCached, kWanted, kAvailable, kConflict, kRefused };

// Wanted: kWanted or kCached.
inline bool IsWanted(InventoryState s) {
  return s == InventoryState::kWanted || s == InventoryState::kCached;
}
std::string_view InventoryStateName(InventoryState state);

struct InventoryImage {
  std::string subscription;
  std::string list_identifier;
  std::string list_version;
  InventoryState state = InventoryState::kAvailable;
  std::string reason;
  ImageDecision decision;
  bool is_new = false;
  std::size_t list_index = 0;  // into Inventory::lists
  std::size_t index = 0;       // into that list's images
  // The format of record once its bytes were inspected and taken (empty
  // before); for kRefused, the refusal's code (format-mismatch or
  // format-unsafe).
  std::string format;
  std::optional<ErrorCode> refusal_code;
  // The file the site is given once inspected: its format (`format`, or the
  // site's conversion target, catcher/image_conversion.h) and SHA-512 (the
  // image's own, or its conversion's; empty while that is still to be made).
  std::string file_format;
  std::string file_sha512;
};

struct InventoryList {
  std::string subscription;
  ImageList list;
  // Empty when the list verifies now; otherwise why not.
  std::string refusal;
};

struct Inventory {
  std::vector<InventoryList> lists;
  std::vector<InventoryImage> images;
};

// The formats the site takes of `sub`'s images: the policy's for it, else
// the config's (empty: every format as it is).
const std::vector<std::string>& FormatsFor(const ResolvedSubscription& sub,
                                           const Settings& settings);

// The policy's rules for formats (catcher/image_inspection.h).
FormatRules FormatRulesOf(const Policy& policy);

// Whether both paths name the same file (inode).
bool SameFile(const std::filesystem::path& a, const std::filesystem::path& b);

// What an image's state rests on, as far as the inventory judges it.
struct InventoryFacts {
  const ImageDecision& decision;     // the policy's and the admin's (selection.h)
  std::string_view list_refusal;     // why its list does not verify now; empty: it does
  std::optional<TimePoint> expires;  // the image's own dc:date:expires
  bool cached = false;               // its view is a link of its content
  std::string_view format_refusal;   // why the inspection refused its bytes; empty: it did not
};

struct ImageVerdict {
  InventoryState state;
  std::string reason;
};

// The state of one image at `now` (the table at the top of this file, but
// for kConflict, which ResolveClaims decides across subscriptions). Pure.
ImageVerdict JudgeImage(const InventoryFacts& facts, TimePoint now);

// Builds the inventory at params.now from the accepted lists in the state.
// A stored list found in `judged` with the same content was judged in full
// at this instant already (by the cycle's update) and is taken as it is,
// verified or refused; every other one is verified in full (steps 2-8), once.
// Each image's state is its own list's judgement: the claims of identifiers
// across subscriptions (kConflict) are ResolveClaims' (catcher/claims.h),
// which the cycle applies next.
Result<Inventory> BuildInventory(const Context& ctx, const UpdateParameters& params,
                                 std::map<std::string, JudgedList> judged);

// How many inventories this process built (catcher/cycle.h counts them).
std::uint64_t InventoriesBuilt();

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_INVENTORY_H_
