#include "catcher/claims.h"

#include <algorithm>
#include <mutex>
#include <set>
#include <vector>

#include "common/log.h"

namespace vmc::catcher {
namespace {

// A wanted image of the inventory with what its claim is about.
struct Claim {
  InventoryImage* item;
  std::string identifier;
  std::string sha512;
};

std::string Names(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string HowToResolve(const Claim& c) {
  return R"(; resolve it with a deny rule for the claim you do not want ({"image": ")" +
         c.identifier + R"(", "list": ")" + c.item->list_identifier + "\"} for this one)";
}

// The owner's claims win; any other claim with other content conflicts.
void JudgeOwned(std::vector<Claim>& claims, const CachedSummary& owner) {
  std::string owner_sha = owner.sha512;
  for (const Claim& c : claims) {
    if (c.item->subscription == owner.subscription) owner_sha = c.sha512;
  }
  for (Claim& c : claims) {
    if (c.item->subscription == owner.subscription || c.sha512 == owner_sha) continue;
    c.item->state = InventoryState::kConflict;
    c.item->reason = "image " + c.identifier + " belongs to subscription " + owner.subscription +
                     ", which had it cached first; this list names other content (sha512 " +
                     c.sha512.substr(0, 16) + "...), which is not made available" + HowToResolve(c);
  }
}

// No owner: claims that do not all agree on the content all conflict.
void JudgeFree(std::vector<Claim>& claims) {
  std::set<std::string> contents;
  for (const Claim& c : claims) contents.insert(c.sha512);
  if (contents.size() < 2) return;
  for (Claim& c : claims) {
    std::set<std::string> others;
    for (const Claim& o : claims) {
      if (o.sha512 != c.sha512) others.insert(o.item->subscription);
    }
    c.item->state = InventoryState::kConflict;
    c.item->reason = "image " + c.identifier + " is also named by subscription " + Names(others) +
                     " with other content; none is made available until only one claim is left" +
                     HowToResolve(c);
  }
}

}  // namespace

void ResolveClaims(const std::map<std::string, CachedSummary>& cached, Inventory& inventory) {
  std::map<std::string, std::vector<Claim>> by_identifier;
  for (auto& item : inventory.images) {
    if (!IsWanted(item.state)) continue;
    const Image& image = inventory.lists[item.list_index].list.image(item.index);
    std::string id = image.identifier();
    by_identifier[id].push_back({&item, id, image.sha512()});
  }
  for (auto& [id, claims] : by_identifier) {
    const auto owner = cached.find(id);
    if (owner != cached.end()) {
      JudgeOwned(claims, owner->second);
    } else {
      JudgeFree(claims);
    }
  }
}

void LogConflicts(const Inventory& inventory) {
  static std::mutex mutex;
  static std::set<std::string> logged;
  for (const auto& item : inventory.images) {
    if (item.state != InventoryState::kConflict) continue;
    std::lock_guard lock(mutex);
    if (!logged.insert(item.subscription + "\n" + item.reason).second) continue;
    LogWarning("subscription " + item.subscription + ": " + item.reason);
  }
}

}  // namespace vmc::catcher
