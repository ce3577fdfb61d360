// libFuzzer target: the policy reader (catcher/policy.h ParsePolicy) on
// arbitrary bytes, capped as LoadPolicy() caps the file. The file is the
// admin's, but a broken one must give an error, never a crash.
//
// Besides crashes and sanitizer reports, these properties are checked (a
// violation traps): every subscription names a defined endorser and can be
// found by its name; every endorser has parsed names, matches them and can
// be found by its name; and every string
// of the loaded policy is UTF-8 (it is written into JSON output and events).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "catcher/policy.h"
#include "test/fuzz/properties.h"

namespace {

using vmc::fuzz::RequireUtf8;

void RequireOptionalUtf8(const std::optional<std::string>& text, std::string_view what) {
  if (text) RequireUtf8(*text, what);
}

void RequireUtf8Policy(const vmc::catcher::Policy& policy) {
  for (const auto& endorser : policy.endorsers) {
    RequireUtf8(endorser.name, "endorser name");
    RequireUtf8(endorser.dn, "endorser dn");
    RequireUtf8(endorser.ca, "endorser ca");
  }
  for (const auto& subscription : policy.subscriptions) {
    RequireUtf8(subscription.name, "subscription name");
    RequireUtf8(subscription.url, "subscription url");
    RequireUtf8(subscription.endorser, "subscription endorser");
    RequireOptionalUtf8(subscription.list_identifier, "subscription identifier");
    RequireOptionalUtf8(subscription.credentials_file, "subscription credentials_file");
    for (const auto& image : subscription.selection.listed) RequireUtf8(image, "listed image");
  }
  for (const auto& rule : policy.deny) {
    RequireOptionalUtf8(rule.sha512, "deny sha512");
    RequireOptionalUtf8(rule.image, "deny image");
    RequireOptionalUtf8(rule.list, "deny list");
    RequireOptionalUtf8(rule.endorser_dn, "deny endorser_dn");
    RequireUtf8(rule.comment, "deny comment");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > vmc::catcher::kMaxPolicyFileBytes) return -1;  // LoadPolicy() reads no more
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto policy = vmc::catcher::ParsePolicy(text, "fuzz/policy.json");
  if (!policy.ok()) {
    vmc::fuzz::RequirePrintable(policy.error());
    return 0;
  }
  RequireUtf8Policy(*policy);
  // What the update and selection code asks of a loaded policy.
  for (const auto& subscription : policy->subscriptions) {
    const auto* endorser = policy->FindEndorser(subscription.endorser);
    if (endorser == nullptr) vmc::fuzz::Fail("a subscription names no defined endorser");
    if (policy->FindSubscription(subscription.name) == nullptr) {
      vmc::fuzz::Fail("FindSubscription misses a subscription", subscription.name);
    }
  }
  // Step 4 compares a signer with an endorser's parsed names (what
  // catcher/subscription.cc hands the update): the loader parsed every
  // endorser's, and a name is itself.
  for (const auto& endorser : policy->endorsers) {
    if (!endorser.names) vmc::fuzz::Fail("a loaded endorser has no parsed names", endorser.dn);
    if (!endorser.names->Matches(endorser.names->subject.get(), endorser.names->issuer.get())) {
      vmc::fuzz::Fail("an endorser does not match its own names", endorser.dn);
    }
    if (policy->FindEndorser(endorser.name) != &endorser) {
      vmc::fuzz::Fail("FindEndorser misses an endorser", endorser.name);
    }
  }
  return 0;
}
