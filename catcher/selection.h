// "Is this image wanted?": the pure decision the cache acts on for every image
// of a verified, current image list. No I/O, no clock: the caller gathers the
// facts (the policy, the subscription's selection, the admin's recorded
// choice, the image's metadata) and gets back a state and a sentence for
// `catcher images` and the logs.
//
// Precedence, strongest first (the first that applies decides):
//   1. Deny rules of the policy (first matching rule in file order). Nothing
//      overrides them, not even `catcher image accept`: to undo a deny rule,
//      edit the policy. A rule matches only when ALL its fields match.
//   2. The admin's refusal (`catcher image refuse IMAGE`).
//   3. The policy's max_image_bytes. A site limit (disk, bandwidth) written in
//      the policy outranks a per-image acceptance, as deny rules do; an image
//      that declares no size is refused while a limit is set, because the
//      limit cannot be checked.
//   4. The admin's acceptance (`catcher image accept IMAGE`): selects the
//      image whatever the subscription's mode and new-image rule.
//   5. The subscription's selection:
//        "none"   nothing is wanted;
//        [ids]    exactly the listed images, new or not (listing an
//                 identifier accepts it in advance);
//        "all"    every image, except that with "new_images": "refuse" an
//                 image first seen after the subscription's first update
//                 waits for `catcher image accept`.
//
// Comparisons: SHA-512 digests and identifiers ignoring ASCII case (UUIDs
// compare case-insensitively, RFC 4122 section 3, and admins copy them from
// web pages in either case); endorser DNs as X.509 names (common/trust.h
// SameDn). An image whose endorser DN does not parse matches every
// endorser_dn rule: a deny rule fails closed.
//
// Thread-safety: pure functions of their arguments.
#ifndef VMC_CATCHER_SELECTION_H_
#define VMC_CATCHER_SELECTION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "catcher/policy.h"

namespace vmc::catcher {

// What the admin recorded for one image with `catcher image accept|refuse`.
enum class AdminChoice { kNone, kAccepted, kRefused };

// What is known about one image of a verified list. The views must outlive
// the call only.
struct ImageFacts {
  std::string_view list_identifier = {};   // the list's dc:identifier
  std::string_view image_identifier = {};  // the image's dc:identifier
  std::string_view sha512 = {};            // sl:checksum:sha512, either case
  std::string_view endorser_dn = {};       // the list's hv:dn (the verified signer)
  // First seen in an update after the subscription's first one. The images
  // of the first update are never new.
  bool is_new = false;
  std::optional<std::uint64_t> size = std::nullopt;  // hv:size, when the list declares it
};

enum class ImageState {
  kWanted,       // cache it
  kNotSelected,  // the subscription or the admin does not select it
  kDenied,       // a deny rule of the policy matches it
  kTooLarge,     // larger than the policy's max_image_bytes (or no size declared)
};

// Stable names for --json output: "wanted", "not-selected", "denied",
// "too-large".
std::string_view ImageStateName(ImageState state);

struct ImageDecision {
  ImageState state = ImageState::kNotSelected;
  // One line for people, e.g. "denied by policy rule 2 (sha512 8b4c269a...)",
  // "new image awaits 'catcher image accept'".
  std::string reason;
  // When kDenied: the index into Policy::deny of the rule that matched.
  std::optional<std::size_t> deny_rule;

  bool wanted() const { return state == ImageState::kWanted; }
};

// Decides for one image, by the precedence at the top of this file.
// `selection` is the subscription's (Subscription::selection for policy
// subscriptions; the state database holds it for `catcher subscribe`d ones).
ImageDecision DecideImage(const Policy& policy, const ImageSelection& selection, AdminChoice admin,
                          const ImageFacts& image);

// Whether `rule` matches `image` (all of the rule's fields match). A rule
// without any field matches nothing (the policy loader refuses such rules).
bool DenyRuleMatches(const DenyRule& rule, const ImageFacts& image);

// The index of the first rule of `rules` that matches `image`, if any.
std::optional<std::size_t> FindDenyRule(std::span<const DenyRule> rules, const ImageFacts& image);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_SELECTION_H_
