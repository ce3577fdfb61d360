#include "common/url.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>

#include "common/http.h"

namespace vmc {
namespace {

struct UrlCleanup {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlCleanup>;

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// One part, or empty when the URL has none.
std::string Part(CURLU* url, CURLUPart part, unsigned flags = 0) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, flags) != CURLUE_OK || raw == nullptr) return {};
  std::string out(raw);
  curl_free(raw);
  return out;
}

Error NotAUrl(std::string_view url, std::string_view why) {
  const std::string shown = RedactUrl(url);
  return Error(ErrorCode::kInvalidValue, "\"" + shown + "\" " + std::string(why))
      .With("url", shown);
}

Result<UrlHandle> Parse(std::string_view url) {
  UrlHandle handle(curl_url());
  if (!handle) return Error(ErrorCode::kInvalidValue, "out of memory parsing a URL");
  // No CURLU_GUESS_SCHEME: "host/path" is refused, not read as http.
  const CURLUcode rc =
      curl_url_set(handle.get(), CURLUPART_URL, std::string(url).c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    return NotAUrl(url, std::string("is not a URL libcurl accepts: ") + curl_url_strerror(rc));
  }
  return handle;
}

}  // namespace

std::string UrlOrigin::ToString() const {
  return scheme + "://" + host + (port != 0 ? ":" + std::to_string(port) : std::string());
}

Result<UrlOrigin> ParseOrigin(std::string_view url) {
  VMC_ASSIGN_OR_RETURN(const UrlHandle handle, Parse(url));
  UrlOrigin origin;
  origin.scheme = Lower(Part(handle.get(), CURLUPART_SCHEME));
  origin.host = Lower(Part(handle.get(), CURLUPART_HOST));
  const std::string port = Part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  origin.port = port.empty() ? 0 : std::strtol(port.c_str(), nullptr, 10);
  if (origin.scheme == "file") {
    origin.host.clear();  // libcurl takes only "" and "localhost", both this machine
    origin.port = 0;
  }
  return origin;
}

bool SchemeAllowed(std::string_view scheme, std::string_view protocols) {
  size_t start = 0;
  while (start <= protocols.size()) {
    const size_t end = std::min(protocols.find(',', start), protocols.size());
    std::string_view item = protocols.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty() && Lower(item) == scheme) return true;
    start = end + 1;
  }
  return false;
}

Result<UrlOrigin> ParseHttpsOrigin(std::string_view text) {
  VMC_ASSIGN_OR_RETURN(const UrlHandle handle, Parse(text));
  const std::string path = Part(handle.get(), CURLUPART_PATH);
  if (!Part(handle.get(), CURLUPART_USER).empty() || (!path.empty() && path != "/") ||
      !Part(handle.get(), CURLUPART_QUERY).empty() ||
      !Part(handle.get(), CURLUPART_FRAGMENT).empty()) {
    return NotAUrl(text, "is not an origin: give only https://host[:port]");
  }
  VMC_ASSIGN_OR_RETURN(UrlOrigin origin, ParseOrigin(text));
  if (origin.scheme != "https") {
    return NotAUrl(text, "is not https: credentials are never sent over " + origin.scheme);
  }
  return origin;
}

}  // namespace vmc
