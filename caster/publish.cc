#include "caster/publish.h"

#include <sstream>
#include <utility>

#include "common/json_reader.h"  // QuoteUntrusted
#include "common/url.h"

namespace vmc::caster {
namespace {

struct Rule {
  std::string prefix;
  std::string target;
  std::optional<std::filesystem::path> credentials;
};

Result<Rule> ParseRule(const std::string& line) {
  std::istringstream in(line);
  Rule rule;
  std::string credentials, extra;
  in >> rule.prefix >> rule.target >> credentials >> extra;
  if (rule.prefix.empty() || rule.target.empty() || !extra.empty()) {
    return Error(ErrorCode::kConfigInvalid,
                 "upload rule \"" + line + "\" must be: upload = PREFIX TARGET [CREDENTIALS_FILE]")
        .With("rule", line);
  }
  if (!credentials.empty()) rule.credentials = credentials;
  return rule;
}

}  // namespace

namespace {

constexpr char kTargetForms[] = "file:///absolute/path, https://host/path or sftp://user@host/path";

// A target an operator wrote is a URL libcurl will take; a path (what a
// shell user types first) or a file:// URL whose path is not absolute is
// said to be one, with the form expected, instead of libcurl's "bad/illegal
// format" at the upload.
Status CheckTarget(const std::string& target, std::string_view from) {
  const auto invalid = [&](const std::string& why) {
    return Error(ErrorCode::kUsage,
                 std::string(from) + " " + QuoteUntrusted(RedactUrl(target)) + " " + why)
        .With("target", RedactUrl(target));
  };
  if (target.find("://") == std::string::npos) {
    return invalid(std::string("is not a URL: give ") + kTargetForms);
  }
  if (target.starts_with("file://") && !target.starts_with("file:///") &&
      !target.starts_with("file://localhost/")) {
    return invalid(
        "is not a file URL of an absolute path: give file:///absolute/path (three "
        "slashes, the path from the root)");
  }
  if (auto origin = ParseOrigin(target); !origin.ok()) {
    return invalid(std::string("is not a URL libcurl takes: give ") + kTargetForms);
  }
  return Ok();
}

}  // namespace

Result<UploadTarget> ResolveTarget(const std::string& list_uri,
                                   const std::optional<std::string>& explicit_target,
                                   const std::optional<std::string>& explicit_credentials,
                                   const std::vector<std::string>& rules) {
  std::optional<std::filesystem::path> credentials;
  if (explicit_credentials) credentials = *explicit_credentials;
  if (explicit_target) {
    VMC_RETURN_IF_ERROR(CheckTarget(*explicit_target, "--target"));
    return UploadTarget{*explicit_target, credentials};
  }
  std::optional<Rule> best;
  for (const auto& line : rules) {
    VMC_ASSIGN_OR_RETURN(Rule rule, ParseRule(line));
    if (list_uri.rfind(rule.prefix, 0) == 0 &&
        (!best || rule.prefix.size() > best->prefix.size())) {
      best = std::move(rule);
    }
  }
  if (!best) {
    // Without a rule, a list is uploaded to where it says it is published,
    // when that is a place one can upload to safely.
    const auto origin = ParseOrigin(list_uri);
    if (origin.ok() &&
        (origin->scheme == "https" || origin->scheme == "file" || origin->scheme == "sftp")) {
      return UploadTarget{list_uri, credentials};
    }
    return Error(ErrorCode::kInvalidValue,
                 "no upload target for " + (list_uri.empty() ? "a list without hv:uri" : list_uri) +
                     ": give --target URL, or add a line 'upload = PREFIX TARGET [CREDENTIALS]' "
                     "to the config file (an https://, file:// or sftp:// hv:uri is its own "
                     "default target)")
        .With("uri", list_uri);
  }
  std::string target = best->target + list_uri.substr(best->prefix.size());
  VMC_RETURN_IF_ERROR(CheckTarget(target, "the upload rule's target"));
  return UploadTarget{std::move(target), explicit_credentials ? credentials : best->credentials};
}

Result<std::string> PublishedImageName(const std::filesystem::path& file) {
  const std::string name = file.filename().string();
  bool ok = !name.empty() && name.size() <= 128 && name[0] != '.';
  for (const char c : name) {
    ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '+' || c == '-');
  }
  if (!ok) {
    return Error(ErrorCode::kInvalidValue,
                 "the image file name \"" + name +
                     "\" cannot be published as is: use 1-128 of [A-Za-z0-9._+-], not starting "
                     "with '.'")
        .With("file", file.string());
  }
  return name;
}

}  // namespace vmc::caster
