#include "catcher/policy.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstddef>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "catcher/image_format.h"
#include "common/atomic_file.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/http.h"
#include "common/identifier.h"
#include "common/json_reader.h"
#include "common/log.h"
#include "common/schema.h"
#include "common/trust.h"
#include "common/url.h"

namespace vmc::catcher {
namespace {

using rapidjson::SizeType;
using rapidjson::Value;

constexpr std::string_view kSchemaName = "policy.schema.json";
// Comments and trailing commas: the admin edits the file. A valid policy
// nests four levels (/subscriptions/0/images/0); the depth bound keeps the
// schema validator, which recurses, far from the stack's end.
constexpr JsonReadOptions kPolicyJson{
    .max_bytes = kMaxPolicyFileBytes, .max_depth = 16, .syntax = JsonSyntax::kCommented};

// The policy text and its name, for every error message.
struct Source {
  std::string_view text;
  std::string_view file;
};

std::string Child(std::string_view parent, std::string_view key) {
  return std::string(parent) + "/" + JsonPointerToken(key);
}

std::string Child(std::string_view parent, std::size_t index) {
  return std::string(parent) + "/" + std::to_string(index);
}

std::string LastToken(std::string_view pointer) {
  const std::string_view escaped = pointer.substr(pointer.rfind('/') + 1);
  std::string token;
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '~' && i + 1 < escaped.size()) {
      token += escaped[++i] == '1' ? '/' : '~';
    } else {
      token += escaped[i];
    }
  }
  return token;
}

// Text from the file inside a message: one line, bounded.
std::string Printable(std::string_view text, std::size_t max = 120) {
  std::string out = EscapeForLog(text.substr(0, max));
  if (text.size() > max) out += "...";
  return out;
}

std::string Quote(std::string_view text) { return "\"" + Printable(text) + "\""; }

std::string View(const Value& value) {
  return std::string(value.GetString(), value.GetStringLength());
}

std::string DetailOf(const Error& error, std::string_view key) {
  for (const auto& [k, v] : error.details()) {
    if (k == key) return v;
  }
  return {};
}

// The one shape of every located error (see policy.h).
Error Invalid(const Source& source, std::size_t offset, std::string_view pointer,
              std::string_view reason) {
  const TextPosition position = PositionOf(source.text, offset);
  const std::string line = std::to_string(position.line);
  const std::string column = std::to_string(position.column);
  return Error(ErrorCode::kPolicyInvalid,
               "policy file " + Printable(source.file, 4096) + " is invalid at line " + line +
                   ", column " + column + " (" +
                   (pointer.empty() ? std::string("top level") : Printable(pointer)) +
                   "): " + std::string(reason))
      .With("file", std::string(source.file))
      .With("line", line)
      .With("column", column)
      .With("pointer", std::string(pointer));
}

// Byte offset where the value at `pointer` is written. A pointer that names
// nothing in the text (which the callers never pass) falls back to its
// nearest ancestor, so that an error always has a line.
std::size_t LocatePointer(std::string_view text, std::string pointer) {
  for (;;) {
    if (const auto offset = FindJsonValue(text, kPolicyJson, pointer)) return *offset;
    if (pointer.empty()) return 0;
    pointer.erase(pointer.rfind('/'));
  }
}

// ---------------------------------------------------------------------------
// The three stages: JSON, schema, meaning.

// A refusal of the reader's own rules points at the token refused; a syntax
// error at the byte where reading stopped.
Result<rapidjson::Document> ParseJson(const Source& source) {
  JsonReadResult read = ReadJson(source.text, kPolicyJson);
  if (read.ok()) return std::move(read.document());
  const JsonRefusal& refusal = read.refusal();
  const std::string reason =
      refusal.rule == JsonRule::kSyntax ? "not valid JSON: " + refusal.reason : refusal.reason;
  return Invalid(source, refusal.start, refusal.pointer, reason);
}

std::string SchemaReason(const SchemaViolation& violation) {
  if (violation.keyword == "additionalProperties") {
    return "unknown key " + Quote(LastToken(violation.pointer)) +
           " (unknown keys are refused so that a typo cannot disable a rule)";
  }
  return "violates the schema: " + violation.reason;
}

Status ValidateSchema(const Source& source, const rapidjson::Document& doc) {
  // Compiled once: JsonSchema::Check() is thread-safe.
  static const Result<JsonSchema> kSchema = JsonSchema::FromEmbedded(kSchemaName);
  if (!kSchema.ok()) return kSchema.error();  // a build defect, not the admin's
  const std::optional<SchemaViolation> violation = kSchema->Check(doc);
  if (!violation) return Ok();
  Error error = Invalid(source, LocatePointer(source.text, violation->pointer), violation->pointer,
                        SchemaReason(*violation));
  error.With("keyword", violation->keyword).With("schema_pointer", violation->schema_pointer);
  if (!violation->missing.empty()) error.With("missing", violation->missing);
  return error;
}

// Semantic errors carry their pointer as a detail until ParsePolicy()
// locates them in the text.
Error Problem(std::string pointer, std::string reason) {
  return Error(ErrorCode::kPolicyInvalid, std::move(reason)).With("pointer", std::move(pointer));
}

Error Locate(const Source& source, const Error& problem) {
  const std::string pointer = DetailOf(problem, "pointer");
  return Invalid(source, LocatePointer(source.text, pointer), pointer, problem.message());
}

// After the schema, types and required keys are known; these accessors still
// check, so that a loosened schema cannot turn into undefined behaviour.
Result<std::string> RequiredString(const Value& object, const char* key,
                                   const std::string& pointer) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) {
    return Problem(pointer, std::string("the string \"") + key + "\" is required");
  }
  return View(it->value);
}

std::optional<std::string> OptionalString(const Value& object, const char* key) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return View(it->value);
}

Status CheckIdentifier(std::string_view text, std::string pointer) {
  if (Status valid = ValidateIdentifier(text); !valid.ok()) {
    return Problem(std::move(pointer), valid.error().message());
  }
  return Ok();
}

// A DN the loader reads once into an X.509 name; one with two readings is
// refused here, where the admin can see which.
Result<DistinguishedName> ReadDn(std::string_view dn, std::string pointer) {
  auto parsed = DistinguishedName::Parse(dn);
  if (!parsed.ok()) return Problem(std::move(pointer), parsed.error().message());
  return parsed;
}

Result<std::vector<Endorser>> ReadEndorsers(const Value& endorsers) {
  std::vector<Endorser> out;
  for (const auto& member : endorsers.GetObject()) {
    Endorser endorser;
    endorser.name = View(member.name);
    const std::string pointer = Child("/endorsers", endorser.name);
    // The name appears in `catcher subscriptions` and in the state database.
    VMC_RETURN_IF_ERROR(CheckIdentifier(endorser.name, pointer));
    VMC_ASSIGN_OR_RETURN(endorser.dn, RequiredString(member.value, "dn", pointer));
    VMC_ASSIGN_OR_RETURN(endorser.ca, RequiredString(member.value, "ca", pointer));
    VMC_ASSIGN_OR_RETURN(DistinguishedName subject, ReadDn(endorser.dn, Child(pointer, "dn")));
    VMC_ASSIGN_OR_RETURN(DistinguishedName issuer, ReadDn(endorser.ca, Child(pointer, "ca")));
    endorser.names = EndorserNames{std::move(subject), std::move(issuer)};
    out.push_back(std::move(endorser));
  }
  return out;
}

Result<ImageSelection> ReadSelection(const Value& subscription, const std::string& pointer) {
  ImageSelection selection;
  if (const auto it = subscription.FindMember("images"); it != subscription.MemberEnd()) {
    const std::string images = Child(pointer, "images");
    if (it->value.IsArray()) {
      selection.mode = SelectionMode::kListed;
      for (SizeType i = 0; i < it->value.Size(); ++i) {
        const Value& id = it->value[i];
        if (!id.IsString()) return Problem(Child(images, i), "an image identifier is required");
        VMC_RETURN_IF_ERROR(CheckIdentifier(View(id), Child(images, i)));
        selection.listed.push_back(View(id));
      }
    } else if (it->value.IsString() && View(it->value) == "none") {
      selection.mode = SelectionMode::kNone;
    } else if (!it->value.IsString() || View(it->value) != "all") {
      return Problem(images, R"("all", "none" or an array of image identifiers is required)");
    }
  }
  const auto new_images = OptionalString(subscription, "new_images");
  if (new_images && *new_images == "refuse") selection.new_images = NewImages::kRefuse;
  return selection;
}

Result<Subscription> ReadSubscription(const Value& value, const std::string& pointer) {
  Subscription sub;
  VMC_ASSIGN_OR_RETURN(sub.name, RequiredString(value, "name", pointer));
  VMC_RETURN_IF_ERROR(CheckIdentifier(sub.name, Child(pointer, "name")));
  VMC_ASSIGN_OR_RETURN(sub.url, RequiredString(value, "url", pointer));
  VMC_ASSIGN_OR_RETURN(sub.endorser, RequiredString(value, "endorser", pointer));
  sub.list_identifier = OptionalString(value, "identifier");
  if (sub.list_identifier) {
    VMC_RETURN_IF_ERROR(CheckIdentifier(*sub.list_identifier, Child(pointer, "identifier")));
  }
  sub.credentials_file = OptionalString(value, "credentials_file");
  if (sub.credentials_file) {
    // Credentials go only to the list's origin and only over https.
    const auto origin = ParseOrigin(sub.url);
    if (!origin.ok() || origin->scheme != "https") {
      return Problem(Child(pointer, "credentials_file"),
                     "credentials are sent only over https, and " + Quote(RedactUrl(sub.url)) +
                         " is not an https:// URL; use https or drop the credentials");
    }
  }
  VMC_ASSIGN_OR_RETURN(sub.selection, ReadSelection(value, pointer));
  if (const auto age = OptionalString(value, "max_list_age")) {
    auto parsed = ParseDuration(*age);
    if (!parsed.ok()) return Problem(Child(pointer, "max_list_age"), parsed.error().message());
    sub.max_list_age = *parsed;
  }
  if (const auto it = value.FindMember("formats"); it != value.MemberEnd() && it->value.IsArray()) {
    std::string text;
    for (const auto& f : it->value.GetArray()) text += std::string(f.GetString()) + ",";
    auto parsed = ParseFormats(text);
    if (!parsed.ok()) {
      return Problem(Child(pointer, "formats"), std::move(parsed).error().message());
    }
    sub.formats = std::move(parsed).value();
  }
  return sub;
}

// Cross-references: each subscription's endorser exists; names, URLs and
// pinned list identifiers are unique (two subscriptions of one list would
// fight over its images).
Status CheckSubscriptions(const Policy& policy) {
  std::unordered_map<std::string, std::size_t> names;
  std::unordered_map<std::string, std::size_t> urls;
  std::unordered_map<std::string, std::size_t> identifiers;
  const auto unique = [](std::unordered_map<std::string, std::size_t>& seen,
                         const std::string& value, std::size_t i, std::string pointer,
                         std::string_view what) -> Status {
    const auto [it, inserted] = seen.emplace(value, i);
    if (inserted) return Ok();
    return Problem(std::move(pointer), std::string(what) + " " + Quote(value) +
                                           " is already used by /subscriptions/" +
                                           std::to_string(it->second));
  };
  for (std::size_t i = 0; i < policy.subscriptions.size(); ++i) {
    const Subscription& sub = policy.subscriptions[i];
    const std::string pointer = Child("/subscriptions", i);
    if (policy.FindEndorser(sub.endorser) == nullptr) {
      return Problem(Child(pointer, "endorser"),
                     "unknown endorser " + Quote(sub.endorser) + "; define it under \"endorsers\"");
    }
    VMC_RETURN_IF_ERROR(unique(names, sub.name, i, Child(pointer, "name"), "the name"));
    VMC_RETURN_IF_ERROR(unique(urls, sub.url, i, Child(pointer, "url"), "the URL"));
    if (sub.list_identifier) {
      VMC_RETURN_IF_ERROR(unique(identifiers, *sub.list_identifier, i, Child(pointer, "identifier"),
                                 "the list identifier"));
    }
  }
  return Ok();
}

Result<DenyRule> ReadDenyRule(const Value& value, const std::string& pointer) {
  DenyRule rule;
  if (const auto sha512 = OptionalString(value, "sha512")) {
    auto normalized = NormalizeSha512Hex(*sha512);
    if (!normalized.ok()) {
      return Problem(Child(pointer, "sha512"), "invalid SHA-512: " + normalized.error().message());
    }
    rule.sha512 = std::move(normalized).value();
  }
  rule.image = OptionalString(value, "image");
  if (rule.image) VMC_RETURN_IF_ERROR(CheckIdentifier(*rule.image, Child(pointer, "image")));
  rule.list = OptionalString(value, "list");
  if (rule.list) VMC_RETURN_IF_ERROR(CheckIdentifier(*rule.list, Child(pointer, "list")));
  rule.endorser_dn = OptionalString(value, "endorser_dn");
  if (rule.endorser_dn) {
    VMC_ASSIGN_OR_RETURN(rule.endorser_name,
                         ReadDn(*rule.endorser_dn, Child(pointer, "endorser_dn")));
  }
  rule.comment = OptionalString(value, "comment").value_or("");
  // A rule without a condition would match every image.
  if (!rule.sha512 && !rule.image && !rule.list && !rule.endorser_dn) {
    return Problem(pointer, "a deny rule needs at least one of sha512, image, list, endorser_dn");
  }
  return rule;
}

Result<std::optional<std::uint64_t>> ReadBytes(const Value& limits, const char* key) {
  const auto it = limits.FindMember(key);
  if (it == limits.MemberEnd()) return std::optional<std::uint64_t>();
  if (!it->value.IsUint64() || it->value.GetUint64() == 0) {
    return Problem(Child("/limits", key), "a whole number of bytes, at least 1, is required");
  }
  return std::optional<std::uint64_t>(it->value.GetUint64());
}

Result<PolicyLimits> ReadLimits(const Value& limits) {
  PolicyLimits out;
  VMC_ASSIGN_OR_RETURN(const auto max_list, ReadBytes(limits, "max_list_bytes"));
  if (max_list) out.max_list_bytes = *max_list;
  VMC_ASSIGN_OR_RETURN(out.max_image_bytes, ReadBytes(limits, "max_image_bytes"));
  VMC_ASSIGN_OR_RETURN(out.cache_quota_bytes, ReadBytes(limits, "cache_quota_bytes"));
  VMC_ASSIGN_OR_RETURN(const auto max_virtual, ReadBytes(limits, "max_virtual_bytes"));
  if (max_virtual) out.max_virtual_bytes = *max_virtual;
  return out;
}

// The meaning of a schema-valid document. Errors are Problem()s.
Result<Policy> ReadPolicy(const rapidjson::Document& doc, std::string_view file) {
  Policy policy;
  policy.file = std::string(file);
  if (!doc.IsObject()) return Problem("", "the policy must be a JSON object");
  if (const auto it = doc.FindMember("endorsers"); it != doc.MemberEnd() && it->value.IsObject()) {
    VMC_ASSIGN_OR_RETURN(policy.endorsers, ReadEndorsers(it->value));
  }
  if (const auto it = doc.FindMember("subscriptions");
      it != doc.MemberEnd() && it->value.IsArray()) {
    for (SizeType i = 0; i < it->value.Size(); ++i) {
      VMC_ASSIGN_OR_RETURN(auto sub, ReadSubscription(it->value[i], Child("/subscriptions", i)));
      policy.subscriptions.push_back(std::move(sub));
    }
  }
  VMC_RETURN_IF_ERROR(CheckSubscriptions(policy));
  if (const auto it = doc.FindMember("deny"); it != doc.MemberEnd() && it->value.IsArray()) {
    for (SizeType i = 0; i < it->value.Size(); ++i) {
      VMC_ASSIGN_OR_RETURN(auto rule, ReadDenyRule(it->value[i], Child("/deny", i)));
      policy.deny.push_back(std::move(rule));
    }
  }
  if (const auto it = doc.FindMember("limits"); it != doc.MemberEnd() && it->value.IsObject()) {
    VMC_ASSIGN_OR_RETURN(policy.limits, ReadLimits(it->value));
  }
  if (const auto it = doc.FindMember("undeclared_formats");
      it != doc.MemberEnd() && it->value.IsString()) {
    policy.accept_undeclared_formats = std::string_view(it->value.GetString()) == "accept";
  }
  return policy;
}

// Nothing at all at `path`: not even a dangling symlink, which is more
// likely a broken deployment than a site without a policy.
bool NothingAt(const std::filesystem::path& path) {
  std::error_code ignored;
  return std::filesystem::symlink_status(path, ignored).type() ==
         std::filesystem::file_type::not_found;
}

}  // namespace

Result<EndorserNames> EndorserNames::Parse(std::string_view dn, std::string_view ca) {
  VMC_ASSIGN_OR_RETURN(DistinguishedName subject, DistinguishedName::Parse(dn));
  VMC_ASSIGN_OR_RETURN(DistinguishedName issuer, DistinguishedName::Parse(ca));
  return EndorserNames{std::move(subject), std::move(issuer)};
}

bool EndorserNames::Matches(const X509_NAME* subject_name, const X509_NAME* issuer_name) const {
  return subject.Matches(subject_name) && issuer.Matches(issuer_name);
}

const Endorser* Policy::FindEndorser(std::string_view name) const {
  const auto it = std::find_if(endorsers.begin(), endorsers.end(),
                               [&](const Endorser& e) { return e.name == name; });
  return it == endorsers.end() ? nullptr : &*it;
}

const Subscription* Policy::FindSubscription(std::string_view name) const {
  const auto it = std::find_if(subscriptions.begin(), subscriptions.end(),
                               [&](const Subscription& s) { return s.name == name; });
  return it == subscriptions.end() ? nullptr : &*it;
}

Result<Policy> ParsePolicy(std::string_view text, std::string_view file_label) {
  const Source source{text, file_label};
  VMC_ASSIGN_OR_RETURN(const rapidjson::Document doc, ParseJson(source));
  VMC_RETURN_IF_ERROR(ValidateSchema(source, doc));
  Result<Policy> policy = ReadPolicy(doc, file_label);
  if (!policy.ok()) return Locate(source, policy.error());
  return policy;
}

Result<Policy> LoadPolicy(const std::filesystem::path& path, bool must_exist) {
  Result<std::string> text = ReadFileCapped(path, kMaxPolicyFileBytes);
  if (!text.ok()) {
    if (!must_exist && NothingAt(path)) return Policy{};
    return Error(ErrorCode::kPolicyInvalid, "policy file not loaded: " + text.error().message())
        .With("file", path.string());
  }
  return ParsePolicy(*text, path.string());
}

}  // namespace vmc::catcher
