#include "caster/publish.h"

#include <algorithm>
#include <sstream>
#include <utility>

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

// Where the path of `url` starts and ends: after "scheme://authority" (a
// URL without a path has an empty one there), before any query or fragment.
std::pair<size_t, size_t> PathBounds(const std::string& url) {
  const size_t end = std::min(url.find_first_of("?#"), url.size());
  size_t start = 0;
  const size_t scheme = url.find("://");
  if (scheme != std::string::npos && scheme < end) {
    start = std::min(url.find('/', scheme + 3), end);
  }
  return {start, end};
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
    for (const char* scheme : {"https://", "file://", "sftp://"}) {
      if (list_uri.rfind(scheme, 0) == 0) return UploadTarget{list_uri, credentials};
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

std::string SiblingUrl(const std::string& url, const std::string& name) {
  const auto [start, end] = PathBounds(url);
  const size_t slash = url.rfind('/', end == 0 ? 0 : end - 1);
  if (slash == std::string::npos && start == 0) return name;  // not a URL: a bare name
  if (slash == std::string::npos || slash < start) return url.substr(0, start) + "/" + name;
  return url.substr(0, slash + 1) + name;
}

std::string UrlFileName(const std::string& url) {
  const auto [start, end] = PathBounds(url);
  const size_t slash = url.rfind('/', end == 0 ? 0 : end - 1);
  if (slash == std::string::npos || slash < start) return url.substr(start, end - start);
  return url.substr(slash + 1, end - slash - 1);
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
