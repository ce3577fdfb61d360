#include "catcher/inventory.h"

#include <sys/stat.h>

#include "catcher/cache_layout.h"
#include "catcher/claims.h"
#include "catcher/update.h"

namespace vmc::catcher {
namespace {

struct ListVerdict {
  std::optional<ImageList> list;
  std::string refusal;
};

// The stored list, re-verified at `now` (steps 2-8; rollback holds trivially
// against itself). A list that no longer verifies is still read, from its
// signature-checked content, so that its images can be shown as expired.
Result<ListVerdict> Reverify(const ResolvedSubscription& sub, const AcceptedList& stored,
                             const UpdateParameters& params) {
  auto candidate = VerifyCandidate(stored.signed_bytes, sub, stored, params);
  if (candidate.ok()) return ListVerdict{std::move(candidate->list), ""};
  std::string refusal = candidate.error().message();
  auto list = ReadAcceptedList(stored);
  if (!list.ok()) return ListVerdict{std::nullopt, refusal};
  return ListVerdict{std::move(list).value(), refusal};
}

}  // namespace

bool SameFile(const std::filesystem::path& a, const std::filesystem::path& b) {
  struct stat sa {
  }, sb{};
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

std::string_view InventoryStateName(InventoryState state) {
  switch (state) {
    case InventoryState::kDenied:
      return "denied";
    case InventoryState::kExpired:
      return "expired";
    case InventoryState::kCached:
      return "cached";
    case InventoryState::kWanted:
      return "wanted";
    case InventoryState::kAvailable:
      return "available";
    case InventoryState::kConflict:
      return "conflict";
  }
  return "unknown";
}

Result<Inventory> BuildInventory(const Context& ctx, TimePoint now) {
  Inventory inventory;
  const CacheLayout layout(ctx.settings.state_dir);
  VMC_ASSIGN_OR_RETURN(const auto choices, ctx.state.Choices());
  const UpdateParameters params = UpdateParametersFor(ctx, now);
  for (const auto& sub : ctx.subscriptions) {
    VMC_ASSIGN_OR_RETURN(const auto stored, ctx.state.CurrentList(sub.name));
    if (!stored) continue;
    VMC_ASSIGN_OR_RETURN(ListVerdict verdict, Reverify(sub, *stored, params));
    if (!verdict.list) continue;
    VMC_ASSIGN_OR_RETURN(const auto seen, ctx.state.Seen(sub.name));
    const auto endorser = verdict.list->endorser();
    // ImageFacts holds views: the DN must outlive the loop, not a temporary.
    const std::string endorser_dn = endorser ? std::string(endorser->dn) : std::string();
    for (const auto& image : verdict.list->images()) {
      InventoryImage item;
      item.subscription = sub.name;
      item.list_identifier = verdict.list->identifier();
      item.list_version = verdict.list->version();
      item.list_index = inventory.lists.size();
      item.index = image.index();
      const std::string id = image.identifier();
      const std::string sha = image.sha512();
      const auto s = seen.find(id);
      item.is_new = s != seen.end() && !s->second.initial;
      const auto c = choices.find(id);
      const AdminChoice choice = c == choices.end() ? AdminChoice::kNone : c->second;
      const ImageFacts facts{item.list_identifier, id, sha, endorser_dn, item.is_new, image.size()};
      item.decision = DecideImage(ctx.policy, sub.selection, choice, facts);
      const auto image_expires = image.expires();
      if (item.decision.state == ImageState::kDenied) {
        item.state = InventoryState::kDenied;
        item.reason = item.decision.reason;
      } else if (!verdict.refusal.empty()) {
        item.state = InventoryState::kExpired;
        item.reason = verdict.refusal;
      } else if (image_expires && *image_expires <= now) {
        item.state = InventoryState::kExpired;
        item.reason = "the image expired on " + FormatDate(*image_expires);
      } else if (item.decision.wanted()) {
        const bool cached = SameFile(layout.ViewFile(id), layout.ContentFile(sha));
        item.state = cached ? InventoryState::kCached : InventoryState::kWanted;
        item.reason = item.decision.reason;
      } else {
        item.state = InventoryState::kAvailable;
        item.reason = item.decision.reason;
      }
      inventory.images.push_back(std::move(item));
    }
    inventory.lists.push_back({sub.name, std::move(*verdict.list), verdict.refusal});
  }
  VMC_ASSIGN_OR_RETURN(const auto cached, ctx.state.Cached());
  ResolveClaims(cached, inventory);
  return inventory;
}

}  // namespace vmc::catcher
