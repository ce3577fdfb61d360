// URLs as libcurl reads them, for the decisions made before a transfer: which
// scheme a URL really names (file:/x, FILE://, file://localhost/ are all
// "file"), and which origin (scheme, host, port) it belongs to, so that a
// credential is sent only where it was meant to go (DESIGN.md section 5 step
// 1). Every URL is parsed by libcurl's URL API, never by matching its text.
//
// Thread-safety: reentrant.
#ifndef VMC_COMMON_URL_H_
#define VMC_COMMON_URL_H_

#include <string>
#include <string_view>

#include "common/error.h"

namespace vmc {

// The schemes a transfer may use, in libcurl's CURLOPT_PROTOCOLS_STR syntax.
// Images of a remote list (and any URL a server or list chose):
inline constexpr char kRemoteProtocols[] = "https,http";
// Images of a list read from a local file, and URLs the admin wrote:
inline constexpr char kLocalProtocols[] = "https,http,file";

// A URL reduced to what decides where its bytes come from.
struct UrlOrigin {
  std::string scheme;  // lowercase: "https", "http", "file", ...
  std::string host;    // lowercase; empty for file:
  long port = 0;       // explicit, else the scheme's default; 0 for file:

  // "https://host:443": two URLs share an origin exactly when these agree.
  std::string ToString() const;
  bool operator==(const UrlOrigin&) const = default;
};

// Parses `url` as libcurl's URL API does, without guessing a missing scheme.
// Errors: kInvalidValue (not a URL libcurl accepts: no scheme, blanks or
// controls, a file: URL naming another host), naming the URL without its
// credentials.
Result<UrlOrigin> ParseOrigin(std::string_view url);

// Whether `scheme` (lowercase) is one of `protocols` (a CURLOPT_PROTOCOLS_STR
// list, any case).
bool SchemeAllowed(std::string_view scheme, std::string_view protocols);

// Parses an origin the admin wrote ("https://host[:port]", nothing after it
// but an optional "/"). Errors: kInvalidValue when it is not a URL, carries a
// user, path, query or fragment, or is not https (credentials never travel
// over anything else).
Result<UrlOrigin> ParseHttpsOrigin(std::string_view text);

}  // namespace vmc

#endif  // VMC_COMMON_URL_H_
