#include "catcher/inventory.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <unordered_map>

#include "catcher/cache_layout.h"
#include "catcher/image_conversion.h"
#include "catcher/image_inspection.h"
#include "catcher/update.h"
#include "common/safe_dir.h"
#include "common/worker_pool.h"

namespace vmc::catcher {
namespace {

std::atomic<std::uint64_t> inventories_built{0};

// A subscription's list as the inventory judges it.
struct Held {
  const ResolvedSubscription* sub;
  std::optional<AcceptedList> stored;  // none: judged, `verdict` is set
  JudgedList verdict;
};

// Verifies the lists the cycle did not, on every core: they are independent,
// and the trust store and the verification steps are safe to share between
// threads. A few lists are verified here: threads would cost more.
void VerifyHeld(std::vector<Held>& held, const UpdateParameters& params) {
  std::vector<Held*> pending;
  for (Held& h : held) {
    if (h.stored) pending.push_back(&h);
  }
  const std::size_t threads = std::min(WorkerPool::Cores(), pending.size() / 8);
  WorkerPool pool(threads <= 1 ? 0 : threads);
  for (Held* h : pending) {
    pool.Submit([h, &params] {
      // A list that no longer verifies is still read, from the content its
      // signature proved, so that its images can be shown as expired.
      h->verdict = JudgeStoredList(*h->sub, *h->stored, params).judged;
      h->stored.reset();  // its signed bytes are no longer needed
    });
  }
  pool.Finish();
}

// The lists of the subscriptions held in the state, judged at params.now:
// the one the cycle verified when it is still the one stored, else verified
// now.
Result<std::vector<Held>> HeldLists(const Context& ctx, const UpdateParameters& params,
                                    std::map<std::string, JudgedList>& judged) {
  std::vector<Held> held;
  for (const auto& sub : ctx.subscriptions) {
    // A list judged by the cycle is compared by digest only: its bytes are
    // read again only when another process stored another list meanwhile.
    const auto it = judged.find(sub.name);
    if (it != judged.end()) {
      VMC_ASSIGN_OR_RETURN(const auto digest, ctx.state.CurrentContentSha512(sub.name));
      if (!digest) continue;
      if (*digest == it->second.content_sha512) {
        held.push_back({&sub, std::nullopt, std::move(it->second)});
        continue;
      }
    }
    VMC_ASSIGN_OR_RETURN(std::optional<AcceptedList> stored, ctx.state.CurrentList(sub.name));
    if (!stored) continue;
    VMC_ASSIGN_OR_RETURN(stored->split, ctx.state.ListSplit(sub.name));
    held.push_back({&sub, std::move(stored), {}});
  }
  VerifyHeld(held, params);
  return held;
}

// The inode of each regular file in `dir` by name: one readdir instead of
// an lstat per image. nullopt when the directory's entries' types are not
// reported (then each file is looked at itself).
using Inodes = std::unordered_map<std::string, ino_t>;
std::optional<Inodes> RegularFiles(const SafeDir& dir) {
  auto entries = dir.Entries();
  if (!entries.ok()) return std::nullopt;
  Inodes out;
  for (const SafeDir::Entry& e : *entries) {
    if (e.type == DT_UNKNOWN) return std::nullopt;
    if (e.type == DT_REG) out.emplace(e.name, e.inode);
  }
  return out;
}

// The device of an open directory; nullopt when fstat fails.
std::optional<dev_t> DeviceOf(const SafeDir& dir) {
  struct stat st {};
  if (fstat(dir.fd(), &st) != 0) return std::nullopt;
  return st.st_dev;
}

// Whether an image's view is a hard link of its content file, for every
// image of one inventory. The directories are reached as the cache reaches
// them (common/safe_dir.h), never through a link; when they cannot be, each
// image's files are looked at themselves.
class ViewCheck {
 public:
  explicit ViewCheck(const CacheLayout& layout) : layout_(layout) {
    auto state = SafeDir::Open(layout.state);
    auto cache = state.ok() ? state->Sub("cache") : Result<SafeDir>(state.error());
    auto content = cache.ok() ? cache->Sub(".sha512") : Result<SafeDir>(cache.error());
    if (!content.ok()) return;
    // Inode numbers say "the same file" only on one filesystem.
    const auto views_dev = DeviceOf(*cache);
    if (!views_dev || views_dev != DeviceOf(*content)) return;
    views_ = RegularFiles(*cache);
    content_ = RegularFiles(*content);
  }

  bool Linked(const std::string& id, const std::string& sha) const {
    if (!views_ || !content_) return SameFile(layout_.ViewFile(id), layout_.ContentFile(sha));
    const auto view = views_->find(id);
    const auto content = content_->find(sha);
    return view != views_->end() && content != content_->end() && view->second == content->second;
  }

 private:
  const CacheLayout& layout_;
  std::optional<Inodes> views_;
  std::optional<Inodes> content_;
};

// What the inspections and conversions say of the images, and the site's
// rules and formats.
struct FormatFacts {
  const std::map<std::string, InspectionRecord>& inspections;
  const std::map<std::string, ConversionRecord>& conversions;
  FormatRules rules;
};

// Why the inspection of the image's bytes, or the site's formats, refuse
// them as the image declares them; empty when nothing does or they were not
// inspected yet. Sets the item's format of record and file, or its refusal
// code.
std::string JudgeFormat(const FormatFacts& facts, const Image& image,
                        const std::vector<std::string>& takes, InventoryImage& item) {
  const std::string sha = image.sha512();
  const auto it = facts.inspections.find(sha);
  // Found by other rules: as if never inspected (kInspectionRules).
  if (it == facts.inspections.end() || it->second.rules != kInspectionRules) return "";
  const InspectionRecord& found = it->second;
  auto format = JudgeInspection({found.format, found.virtual_size, found.danger}, image.format(),
                                facts.rules);
  if (!format.ok()) {
    item.refusal_code = format.error().code();
    return std::string(ErrorCodeName(format.error().code())) + ": " + format.error().message();
  }
  item.format = std::move(format).value();
  auto target = ConversionTarget(item.format, takes);
  if (!target.ok()) {
    item.refusal_code = target.error().code();
    return std::string(ErrorCodeName(target.error().code())) + ": " + target.error().message();
  }
  if (!*target) {
    item.file_format = item.format;
    item.file_sha512 = sha;
    return "";
  }
  item.file_format = **target;
  const auto converted = facts.conversions.find(ConversionKey(sha, **target));
  if (converted != facts.conversions.end()) item.file_sha512 = converted->second.sha512;
  return "";
}

// Whether the image's view is a link of the file it is to be given as.
bool ViewIsLinked(const ViewCheck& views, const InventoryImage& item, const std::string& id,
                  const std::string& sha) {
  // Bytes cached before inspections were kept are still the image's own.
  if (item.format.empty()) return views.Linked(id, sha);
  return !item.file_sha512.empty() && views.Linked(id, item.file_sha512);
}

}  // namespace

const std::vector<std::string>& FormatsFor(const ResolvedSubscription& sub,
                                           const Settings& settings) {
  return sub.formats ? *sub.formats : settings.formats;
}

FormatRules FormatRulesOf(const Policy& policy) {
  return {policy.limits.max_virtual_bytes, policy.accept_undeclared_formats};
}

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
    case InventoryState::kRefused:
      return "refused";
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
  if (!facts.format_refusal.empty()) {
    return {InventoryState::kRefused, std::string(facts.format_refusal)};
  }
  return {facts.cached ? InventoryState::kCached : InventoryState::kWanted, decision.reason};
}

std::uint64_t InventoriesBuilt() { return inventories_built.load(); }

Result<Inventory> BuildInventory(const Context& ctx, const UpdateParameters& params,
                                 std::map<std::string, JudgedList> judged) {
  inventories_built.fetch_add(1, std::memory_order_relaxed);
  Inventory inventory;
  const CacheLayout layout(ctx.settings.state_dir);
  VMC_ASSIGN_OR_RETURN(const auto choices, ctx.state.Choices());
  VMC_ASSIGN_OR_RETURN(std::vector<Held> held, HeldLists(ctx, params, judged));
  const ViewCheck views(layout);
  VMC_ASSIGN_OR_RETURN(const auto inspections, ctx.state.Inspections());
  VMC_ASSIGN_OR_RETURN(const auto conversions, ctx.state.Conversions());
  const FormatFacts formats{inspections, conversions, FormatRulesOf(ctx.policy)};
  for (Held& h : held) {
    const ResolvedSubscription& sub = *h.sub;
    const std::vector<std::string>& takes = FormatsFor(sub, ctx.settings);
    JudgedList& verdict = h.verdict;
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
      const std::string refusal = JudgeFormat(formats, image, takes, item);
      // Only a wanted image's files are looked at.
      const bool cached = item.decision.wanted() && ViewIsLinked(views, item, id, sha);
      ImageVerdict image_verdict = JudgeImage(
          {item.decision, verdict.refusal, image.expires(), cached, refusal}, params.now);
      item.state = image_verdict.state;
      item.reason = std::move(image_verdict.reason);
      inventory.images.push_back(std::move(item));
    }
    inventory.lists.push_back({sub.name, std::move(*verdict.list), verdict.refusal});
  }
  return inventory;
}

}  // namespace vmc::catcher
