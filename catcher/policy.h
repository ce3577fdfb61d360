// The site admin's policy file (DESIGN.md section 6): which endorsers are
// trusted, which image lists the site subscribes to and which of their images
// it wants, which images it never wants (deny rules), and its limits.
//
// The file is JSON with // and /* */ comments and trailing commas (an admin
// who comments out the last entry of an array must not break the file),
// read by common/json_reader.h under its rules (at most 16 levels, UTF-8,
// no key twice) and validated with the embedded schemas/policy.schema.json.
// Unknown keys and keys given twice are refused: a typo must not silently
// disable a rule.
// After the schema, the loader checks what a schema cannot: every
// subscription names a defined endorser; subscription names, URLs and list
// identifiers are unique; DNs parse as X.509 names; identifiers follow the
// identifier rule (common/identifier.h).
//
// Every error is kPolicyInvalid (exit status 2) and says where, with details
// "file", "line", "column" (both from 1; the column counts characters) and
// "pointer" (RFC 6901 JSON pointer):
//   policy file /etc/catcher/policy.json is invalid at line 12, column 7
//   (/subscriptions/0/endorser): unknown endorser "egi"; define it under
//   "endorsers"
// For a member the position is that of its key, for an array element that of
// the element. A syntax error points at the byte where parsing stopped, and
// its pointer names the value read last before it.
//
// Input: the file is written by the site admin, but is parsed as untrusted
// text (size-capped, depth-bounded, encoding-validated): a broken file must
// produce an error, never a crash.
//
// Thread-safety: ParsePolicy() and LoadPolicy() may run in several threads at
// once. The Policy model is plain data: no I/O after loading, copyable, and
// safe to read from several threads at once.
#ifndef VMC_CATCHER_POLICY_H_
#define VMC_CATCHER_POLICY_H_

#include <openssl/x509.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/defaults.h"
#include "common/dn.h"
#include "common/error.h"

namespace vmc::catcher {

inline constexpr std::string_view kDefaultPolicyPath = "/etc/catcher/policy.json";
// A policy is a page of text; anything bigger is a mistake, refused before
// parsing.
inline constexpr std::uint64_t kMaxPolicyFileBytes = std::uint64_t{1} << 20;

// An endorser's subject and issuer as X.509 names, parsed once from their
// one-line text (common/dn.h), for step 4's comparison with a signer's
// certificate.
struct EndorserNames {
  DistinguishedName subject;
  DistinguishedName issuer;

  // Parses both; kInvalidValue naming the DN when either has no single
  // reading.
  static Result<EndorserNames> Parse(std::string_view dn, std::string_view ca);
  // Whether a certificate with this subject and issuer is the endorser
  // (common/dn.h SameDn: case and spacing insensitive, order sensitive).
  // REQUIRES: both non-null.
  bool Matches(const X509_NAME* subject_name, const X509_NAME* issuer_name) const;
};

// A trusted endorser: the subject and issuer of the certificate that signs
// image lists, in OpenSSL one-line form as written in the policy.
struct Endorser {
  std::string name;  // the key under "endorsers"; follows the identifier rule
  std::string dn;
  std::string ca;
  // dn and ca parsed; the loader sets them. Step 4 compares a signer with
  // the names of its subscription's endorser (catcher/subscription.h).
  std::optional<EndorserNames> names;
};

// Which images of a subscribed list the site wants (catcher/selection.h
// decides with it). Also used for subscriptions made with `catcher
// subscribe`, which live in the state database, not in this file.
enum class SelectionMode {
  kAll,     // "images": "all" (the default)
  kNone,    // "images": "none": only images the admin accepts one by one
  kListed,  // "images": [identifiers]
};

enum class NewImages {
  kAccept,  // "new_images": "accept" (the default)
  kRefuse,  // "new_images": "refuse": a new image waits for `catcher image accept`
};

struct ImageSelection {
  SelectionMode mode = SelectionMode::kAll;
  std::vector<std::string> listed;  // identifiers; used only when mode == kListed
  NewImages new_images = NewImages::kAccept;
};

struct Subscription {
  // Required in the file: `catcher update NAME`, `catcher subscriptions` and
  // the state database refer to it. It is not derived from the URL, because a
  // moved list keeps its subscription (and its cached images) when only the
  // URL is edited.
  std::string name;
  std::string url;       // https://, http:// or file://
  std::string endorser;  // the name of an entry of Policy::endorsers
  // The list's dc:identifier when the admin pins it; otherwise the first
  // update records it (DESIGN.md section 5 step 6).
  std::optional<std::string> list_identifier;
  // Absolute path of a basic-auth or token file; read by the fetcher, never
  // here.
  std::optional<std::string> credentials_file;
  ImageSelection selection;
  // "max_list_age": refuse its lists created longer ago than this (step 7),
  // whatever the config's max-list-age says.
  std::optional<std::chrono::seconds> max_list_age;
  // "formats": the formats the site takes of this subscription's images, in
  // order of preference, whatever the config's `formats` say.
  std::optional<std::vector<std::string>> formats;
};

// An image the site never wants. A rule matches an image only when ALL of
// its present fields match, so {"image": X, "endorser_dn": D} denies image X
// only as signed by D. The loader refuses a rule without any field.
struct DenyRule {
  std::optional<std::string> sha512;               // 128 lower-case hex digits
  std::optional<std::string> image;                // image dc:identifier
  std::optional<std::string> list;                 // list dc:identifier
  std::optional<std::string> endorser_dn;          // the list's endorser, one-line form
  std::optional<DistinguishedName> endorser_name;  // endorser_dn parsed by the loader
  std::string comment;                             // the admin's note, for messages
};

struct PolicyLimits {
  std::uint64_t max_list_bytes = kDefaultMaxListBytes;
  std::optional<std::uint64_t> max_image_bytes;    // none: no limit
  std::optional<std::uint64_t> cache_quota_bytes;  // none: no quota
  // The largest virtual size an image's disk may claim (DESIGN.md section 13).
  std::uint64_t max_virtual_bytes = kDefaultMaxVirtualBytes;
};

struct Policy {
  // Where the policy was loaded from (for messages); empty for the empty
  // policy that stands in for a missing default file.
  std::string file;
  std::vector<Endorser> endorsers;          // in file order; names unique
  std::vector<Subscription> subscriptions;  // in file order; names and URLs unique
  std::vector<DenyRule> deny;               // in file order (messages number them from 1)
  PolicyLimits limits;
  // "undeclared_formats": whether an image whose hv:format is absent or not a
  // format catcher knows is taken as what its bytes are ("accept", the
  // default, as vmcatcher took every image) or refused ("refuse").
  bool accept_undeclared_formats = true;

  // Returns the entry with that name, or nullptr. The pointer is valid as
  // long as this Policy is neither modified nor destroyed.
  const Endorser* FindEndorser(std::string_view name) const;
  const Subscription* FindSubscription(std::string_view name) const;
};

// Parses and checks policy text. `file_label` names the file in errors and
// becomes Policy::file. Returns the Policy, or kPolicyInvalid as described at
// the top of this file.
Result<Policy> ParsePolicy(std::string_view text, std::string_view file_label);

// Reads (at most kMaxPolicyFileBytes) and parses the policy file at `path`.
// When nothing exists at `path` and !must_exist, returns the empty policy
// (no endorsers, subscriptions or rules; default limits): that is the state
// of a site without a policy file at the default path. Pass must_exist=true
// for a path the admin named explicitly, so that a typo in it is an error.
// A dangling symlink or an unreadable file is an error either way.
// Every error is kPolicyInvalid with the detail "file".
Result<Policy> LoadPolicy(const std::filesystem::path& path, bool must_exist);

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_POLICY_H_
