#include "catcher/inventory.h"

#include <sys/stat.h>

#include <atomic>

#include "catcher/cache_layout.h"
#include "catcher/claims.h"
#include "catcher/update.h"

namespace vmc::catcher {
namespace {

std::atomic<std::uint64_t> inventories_built{0};

struct ListVerdict {
  std::optional<ImageList> list;
  std::string refusal;
};

// The stored list, verified at params.now (steps 2-8; rollback holds
// trivially against itself), its signature once. A list that no longer
// verifies is still read, from the content its signature proved, so that
// its images can be shown as expired.
Result<ListVerdict> Reverify(const ResolvedSubscription& sub, const AcceptedList& stored,
                             const UpdateParameters& params) {
  auto message = VerifySmime(stored.signed_bytes);
  if (!message.ok()) return ListVerdict{std::nullopt, message.error().message()};
  auto content = CheckVerifiedMessage(*message, sub, stored, params);
  if (content.ok()) return ListVerdict{std::move(content->list), ""};
  std::string refusal = content.error().message();
  auto list = ImageList::Parse(message->content, nullptr);
  if (!list.ok()) return ListVerdict{std::nullopt, refusal};
  return ListVerdict{std::move(list).value(), refusal};
}

// The list of `sub` held in the state, judged at params.now: the one the
// cycle verified when it is still the one stored, else verified now.
Result<ListVerdict> ListOf(const ResolvedSubscription& sub, const AcceptedList& stored,
                           const UpdateParameters& params,
                           std::map<std::string, VerifiedList>& verified) {
  const auto it = verified.find(sub.name);
  if (it != verified.end() && it->second.content_sha512 == stored.content_sha512) {
    return ListVerdict{std::move(it->second.list), ""};
  }
  return Reverify(sub, stored, params);
}

}  // namespace

bool SameFile(const std::filesystem::path& a, const std::filesystem::path& b) {
  struct stat sa {
  }, sb{};
  // lstat: a symbolic link is never the same file (a view is a hard link).
  return lstat(a.c_str(), &sa) == 0 && lstat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
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

ImageVerdict JudgeImage(const InventoryFacts& facts, TimePoint now) {
  const ImageDecision& decision = facts.decision;
  if (decision.state == ImageState::kDenied) return {InventoryState::kDenied, decision.reason};
  if (!facts.list_refusal.empty()) {
    return {InventoryState::kExpired, std::string(facts.list_refusal)};
  }
  if (facts.expires && *facts.expires <= now) {
    return {InventoryState::kExpired, "the image expired on " + FormatDate(*facts.expires)};
  }
  if (!decision.wanted()) return {InventoryState::kAvailable, decision.reason};
  return {facts.cached ? InventoryState::kCached : InventoryState::kWanted, decision.reason};
}

std::uint64_t InventoriesBuilt() { return inventories_built.load(); }

Result<Inventory> BuildInventory(const Context& ctx, const UpdateParameters& params,
                                 std::map<std::string, VerifiedList> verified) {
  inventories_built.fetch_add(1, std::memory_order_relaxed);
  Inventory inventory;
  const CacheLayout layout(ctx.settings.state_dir);
  VMC_ASSIGN_OR_RETURN(const auto choices, ctx.state.Choices());
  for (const auto& sub : ctx.subscriptions) {
    VMC_ASSIGN_OR_RETURN(const auto stored, ctx.state.CurrentList(sub.name));
    if (!stored) continue;
    VMC_ASSIGN_OR_RETURN(ListVerdict verdict, ListOf(sub, *stored, params, verified));
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
      // Only a wanted image's files are looked at.
      const bool cached =
          item.decision.wanted() && SameFile(layout.ViewFile(id), layout.ContentFile(sha));
      ImageVerdict judged =
          JudgeImage({item.decision, verdict.refusal, image.expires(), cached}, params.now);
      item.state = judged.state;
      item.reason = std::move(judged.reason);
      inventory.images.push_back(std::move(item));
    }
    inventory.lists.push_back({sub.name, std::move(*verdict.list), verdict.refusal});
  }
  // Summaries: every inventory (images, status, export) reads them all.
  VMC_ASSIGN_OR_RETURN(const auto cached, ctx.state.CachedSummaries());
  ResolveClaims(cached, inventory);
  return inventory;
}

}  // namespace vmc::catcher
