// A subscription as the update and the cache see it, whichever its origin:
// the admin's policy file, or `catcher subscribe` (the state database). Both
// kinds are listed together, marked by origin; a name is unique across both.
//
// Thread-safety: plain values and pure functions.
#ifndef VMC_CATCHER_SUBSCRIPTION_H_
#define VMC_CATCHER_SUBSCRIPTION_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catcher/policy.h"
#include "catcher/state.h"
#include "common/error.h"

namespace vmc::catcher {

enum class Origin { kPolicy, kCommand };

// "policy" or "subscribe".
std::string_view OriginName(Origin origin);

struct ResolvedSubscription {
  std::string name;
  std::string url;
  Origin origin = Origin::kCommand;
  // The endorser this subscription trusts (step 4), one-line DNs.
  std::string endorser_dn;
  std::string endorser_ca;
  // The list identifier pinned by the policy or recorded at subscribe time
  // (step 6); empty: the first accepted list's.
  std::string list_identifier;
  std::string credentials_file;  // empty: none
  ImageSelection selection;
  // endorser_dn and endorser_ca as X.509 names, read once (from the policy's
  // loader, or from the DER names a subscription made with `catcher
  // subscribe` stores). An error when the text of an older stored
  // subscription has two readings (common/dn.h): every list of the
  // subscription is then refused with it until it is made again.
  Result<EndorserNames> endorser_names = Error(ErrorCode::kInvalidValue, "no endorser");
  // The policy's max_list_age for it (step 7); none: the config's.
  std::optional<std::chrono::seconds> max_list_age = std::nullopt;
  // The policy's formats for it; none: the config's.
  std::optional<std::vector<std::string>> formats = std::nullopt;
};

// The endorser names of `record`: its stored DER names, or (a record stored
// before they were) its DN text, parsed strictly.
Result<EndorserNames> EndorserNamesOf(const SubscriptionRecord& record);

// Every subscription, policy ones first (file order), then subscribed ones
// (by name). A database subscription whose name the policy also uses is
// shadowed by the policy's and reported in *warnings.
Result<std::vector<ResolvedSubscription>> AllSubscriptions(const Policy& policy, const State& state,
                                                           std::vector<std::string>* warnings);

// A subscription's credentials go only to its list URL's origin, and only
// over https (DESIGN.md section 5 step 1). kConfigInvalid, saying why, when
// `credentials_file` is set and `url` is not an https:// URL; Ok otherwise.
Status CheckListCredentials(std::string_view url, std::string_view credentials_file);

// The schemes the list of `url` may be fetched with: "file" for a list read
// from a local file, else https and http (a redirect never reaches file).
std::string ListProtocols(std::string_view url);

// Picks the named ones from `all`; kNotFound naming an unknown name.
Result<std::vector<ResolvedSubscription>> SelectSubscriptions(
    const std::vector<ResolvedSubscription>& all, const std::vector<std::string>& names);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_SUBSCRIPTION_H_
