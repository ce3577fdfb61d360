#include "catcher/subscription.h"

#include <algorithm>

#include "common/http.h"
#include "common/url.h"

namespace vmc::catcher {

Status CheckListCredentials(std::string_view url, std::string_view credentials_file) {
  if (credentials_file.empty()) return Ok();
  const auto origin = ParseOrigin(url);
  if (origin.ok() && origin->scheme == "https") return Ok();
  const std::string shown = RedactUrl(url);
  return Error(ErrorCode::kConfigInvalid,
               "credentials file " + std::string(credentials_file) + " is refused for " + shown +
                   ": credentials are sent only over https, and only to the list's own origin; "
                   "use an https:// URL or drop the credentials")
      .With("url", shown)
      .With("file", std::string(credentials_file));
}

std::string ListProtocols(std::string_view url) {
  const auto origin = ParseOrigin(url);
  return origin.ok() && origin->scheme == "file" ? "file" : kRemoteProtocols;
}

std::string_view OriginName(Origin origin) {
  return origin == Origin::kPolicy ? "policy" : "subscribe";
}

Result<EndorserNames> EndorserNamesOf(const SubscriptionRecord& record) {
  if (record.endorser_names_der.size() == 2) {
    auto subject = DistinguishedName::FromDer(record.endorser_names_der[0]);
    auto issuer = DistinguishedName::FromDer(record.endorser_names_der[1]);
    if (subject.ok() && issuer.ok()) {
      return EndorserNames{std::move(subject).value(), std::move(issuer).value()};
    }
  }
  auto parsed = EndorserNames::Parse(record.endorser_dn, record.endorser_ca);
  if (!parsed.ok()) {
    return std::move(parsed).error().Prefix(
        "subscription " + record.name +
        ": its stored endorser cannot be read as one name (subscribe again with "
        "--endorser-dn/--endorser-ca): ");
  }
  return parsed;
}

Result<std::vector<ResolvedSubscription>> AllSubscriptions(const Policy& policy, const State& state,
                                                           std::vector<std::string>* warnings) {
  std::vector<ResolvedSubscription> out;
  for (const auto& s : policy.subscriptions) {
    const Endorser* endorser = policy.FindEndorser(s.endorser);
    if (endorser == nullptr) {
      // The loader refuses this; a defence in depth, not a path users see.
      return Error(ErrorCode::kPolicyInvalid,
                   "subscription " + s.name + " names an unknown endorser " + s.endorser);
    }
    out.push_back({s.name, s.url, Origin::kPolicy, endorser->dn, endorser->ca,
                   s.list_identifier.value_or(""), s.credentials_file.value_or(""), s.selection});
    if (endorser->names) out.back().endorser_names = *endorser->names;
    out.back().max_list_age = s.max_list_age;
    out.back().formats = s.formats;
  }
  VMC_ASSIGN_OR_RETURN(const auto records, state.Subscriptions());
  for (const auto& r : records) {
    if (policy.FindSubscription(r.name) != nullptr) {
      if (warnings != nullptr) {
        warnings->push_back("subscription " + r.name +
                            " made with 'catcher subscribe' is shadowed by the policy's "
                            "subscription of the same name");
      }
      continue;
    }
    out.push_back({r.name, r.url, Origin::kCommand, r.endorser_dn, r.endorser_ca, r.list_identifier,
                   r.credentials_file, r.selection});
    out.back().endorser_names = EndorserNamesOf(r);
  }
  return out;
}

Result<std::vector<ResolvedSubscription>> SelectSubscriptions(
    const std::vector<ResolvedSubscription>& all, const std::vector<std::string>& names) {
  if (names.empty()) return all;
  std::vector<ResolvedSubscription> out;
  for (const auto& name : names) {
    const auto it = std::find_if(all.begin(), all.end(),
                                 [&](const ResolvedSubscription& s) { return s.name == name; });
    if (it == all.end()) {
      return Error(ErrorCode::kNotFound,
                   "no subscription named " + name + " (see 'catcher subscriptions')")
          .With("subscription", name);
    }
    out.push_back(*it);
  }
  return out;
}

}  // namespace vmc::catcher
