#include "common/url.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <utility>

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

// Text libcurl cannot parse: whatever precedes its last "@" may be a
// password, and there is no reading of it to tell.
std::string MaskUnparsed(std::string_view url) {
  const size_t at = url.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return "***" + std::string(url.substr(at));
}

// A path segment's characters (RFC 3986 pchar) stay; others are %XX.
std::string EncodeSegment(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum || std::string_view("-._~!$&'()*+,;=:@").find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
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

Result<UrlHandle> Duplicate(CURLU* url) {
  UrlHandle copy(curl_url_dup(url));
  if (!copy) return Error(ErrorCode::kInvalidValue, "out of memory copying a URL");
  return copy;
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

std::string RedactUrl(std::string_view url) {
  UrlHandle parsed(curl_url());
  if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, std::string(url).c_str(),
                              CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return MaskUnparsed(url);
  }
  curl_url_set(parsed.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(parsed.get(), CURLUPART_PASSWORD, nullptr, 0);
  curl_url_set(parsed.get(), CURLUPART_OPTIONS, nullptr, 0);
  std::string out = Part(parsed.get(), CURLUPART_URL);
  return out.empty() ? MaskUnparsed(url) : out;
}

std::vector<std::string> UrlPasswords(std::string_view url) {
  auto parsed = Parse(url);
  if (!parsed.ok()) return {};
  std::vector<std::string> out;
  for (const unsigned flags : {0U, static_cast<unsigned>(CURLU_URLDECODE)}) {
    std::string password = Part(parsed->get(), CURLUPART_PASSWORD, flags);
    if (!password.empty()) out.push_back(std::move(password));
  }
  return out;
}

void Url::Cleanup::operator()(Curl_URL* url) const { curl_url_cleanup(url); }

Url::Url(Url&&) noexcept = default;
Url& Url::operator=(Url&&) noexcept = default;
Url::~Url() = default;

Result<Url> Url::Parse(std::string_view text) {
  VMC_ASSIGN_OR_RETURN(UrlHandle handle, vmc::Parse(text));
  return Url(std::unique_ptr<Curl_URL, Cleanup>(handle.release()));
}

std::string Url::scheme() const { return Lower(Part(handle_.get(), CURLUPART_SCHEME)); }

std::string Url::raw_path() const { return Part(handle_.get(), CURLUPART_PATH); }

std::string Url::path() const { return Part(handle_.get(), CURLUPART_PATH, CURLU_URLDECODE); }

std::string Url::ToString() const { return Part(handle_.get(), CURLUPART_URL); }

Result<Url> Url::WithPath(std::string_view decoded_path) const {
  VMC_ASSIGN_OR_RETURN(UrlHandle copy, Duplicate(handle_.get()));
  const CURLUcode rc =
      curl_url_set(copy.get(), CURLUPART_PATH, std::string(decoded_path).c_str(), CURLU_URLENCODE);
  if (rc != CURLUE_OK) {
    return NotAUrl(ToString(), "cannot take the path \"" + std::string(decoded_path) +
                                   "\": " + curl_url_strerror(rc));
  }
  return Url(std::unique_ptr<Curl_URL, Cleanup>(copy.release()));
}

Result<std::string> SiblingUrl(std::string_view url, std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return Error(
               ErrorCode::kInvalidValue,
               "\"" + std::string(name) + "\" is not a file name to place beside " + RedactUrl(url))
        .With("name", std::string(name));
  }
  VMC_ASSIGN_OR_RETURN(const UrlHandle parsed, vmc::Parse(url));
  const std::string path = Part(parsed.get(), CURLUPART_PATH);
  const std::string sibling = path.substr(0, path.rfind('/') + 1) + EncodeSegment(name);
  if (curl_url_set(parsed.get(), CURLUPART_PATH, sibling.c_str(), 0) != CURLUE_OK ||
      curl_url_set(parsed.get(), CURLUPART_QUERY, nullptr, 0) != CURLUE_OK ||
      curl_url_set(parsed.get(), CURLUPART_FRAGMENT, nullptr, 0) != CURLUE_OK) {
    return NotAUrl(url, "cannot name a file beside it");
  }
  return Part(parsed.get(), CURLUPART_URL);
}

Result<std::string> UrlFileName(std::string_view url) {
  VMC_ASSIGN_OR_RETURN(const UrlHandle parsed, vmc::Parse(url));
  const std::string path = Part(parsed.get(), CURLUPART_PATH);
  return path.substr(path.rfind('/') + 1);
}

std::string SftpCommandPath(std::string_view path) {
  return std::string(path.starts_with("/~/") ? path.substr(3) : path);
}

}  // namespace vmc
