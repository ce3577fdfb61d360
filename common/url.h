// URLs as libcurl reads them, for the decisions made before a transfer: which
// scheme a URL really names (file:/x, FILE://, file://localhost/ are all
// "file"), and which origin (scheme, host, port) it belongs to, so that a
// credential is sent only where it was meant to go (DESIGN.md section 5 step
// 1); how a URL is shown without its credentials; and the URLs derived from
// another one (a file beside it, a temporary name). Every URL is parsed by
// libcurl's URL API, never by matching its text.
//
// Thread-safety: reentrant.
#ifndef VMC_COMMON_URL_H_
#define VMC_COMMON_URL_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

// libcurl's CURLU, kept opaque here so that users of URLs need not see curl.h.
struct Curl_URL;

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

// `url` with any user name, password and login options removed, for messages
// and logs. A query string is kept: do not put secrets there. Text libcurl
// cannot parse is shown only after its last "@", since what precedes it may
// be a password.
std::string RedactUrl(std::string_view url);

// The password `url` carries, as written and percent-decoded (both appear in
// libcurl's messages), for masking; empty when it carries none.
std::vector<std::string> UrlPasswords(std::string_view url);

// A URL parsed once by libcurl's URL API, so that the transfer (which is
// given the handle) and every decision about it read the same URL.
class Url {
 public:
  // Errors: as ParseOrigin.
  static Result<Url> Parse(std::string_view text);

  Url(Url&&) noexcept;
  Url& operator=(Url&&) noexcept;
  ~Url();

  std::string scheme() const;  // lowercase
  // The path as written, percent-encoded ("/" when the URL has none).
  std::string raw_path() const;
  // The path percent-decoded: the file name a file: or sftp: URL names.
  std::string path() const;
  // The whole URL, as libcurl writes it.
  std::string ToString() const;

  // This URL with its path replaced by `decoded_path` (percent-encoded
  // here); the query is kept. Errors: kInvalidValue when libcurl refuses it.
  Result<Url> WithPath(std::string_view decoded_path) const;

  // The handle, for CURLOPT_CURLU; owned by this Url.
  Curl_URL* handle() const { return handle_.get(); }

 private:
  struct Cleanup {
    void operator()(Curl_URL* url) const;
  };
  explicit Url(std::unique_ptr<Curl_URL, Cleanup> handle) : handle_(std::move(handle)) {}

  std::unique_ptr<Curl_URL, Cleanup> handle_;
};

// The URL of a file named `name` in the same directory as `url`
// ("https://h/a/list" + "img.qcow2" -> "https://h/a/img.qcow2"; a query or
// fragment of `url` is not carried over; "https://h" -> "https://h/img.qcow2").
// Characters of `name` that a path segment cannot hold are percent-encoded.
// Errors: kInvalidValue when `url` is not a URL libcurl accepts, or `name` is
// empty, "." or ".." or holds a "/".
Result<std::string> SiblingUrl(std::string_view url, std::string_view name);

// The last segment of the path of `url`, as written ("https://h/a/my.list?x"
// -> "my.list"); empty when the path ends with "/" or there is none.
// Errors: kInvalidValue when `url` is not a URL libcurl accepts.
Result<std::string> UrlFileName(std::string_view url);

// The path an SFTP quote command (rm, rename) takes for a file the URL path
// `path` (decoded) names: libcurl reads a leading "/~/" as the login's home
// directory, while quote commands take paths relative to it.
std::string SftpCommandPath(std::string_view path);

}  // namespace vmc

#endif  // VMC_COMMON_URL_H_
