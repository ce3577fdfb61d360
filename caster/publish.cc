#include "caster/publish.h"

#include <sstream>
#include <utility>

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

Result<UploadTarget> ResolveTarget(const std::string& list_uri,
                                   const std::optional<std::string>& explicit_target,
                                   const std::optional<std::string>& explicit_credentials,
                                   const std::vector<std::string>& rules) {
  std::optional<std::filesystem::path> credentials;
  if (explicit_credentials) credentials = *explicit_credentials;
  if (explicit_target) return UploadTarget{*explicit_target, credentials};
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
  return UploadTarget{best->target + list_uri.substr(best->prefix.size()),
                      explicit_credentials ? credentials : best->credentials};
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
