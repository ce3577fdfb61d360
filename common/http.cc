#include "common/http.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <random>
#include <system_error>
#include <utility>
#include <vector>

// CURLOPT_PROTOCOLS_STR / CURLOPT_REDIR_PROTOCOLS_STR arrived in 7.85.
#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or later is required"
#endif

// The build should define VMC_VERSION from project(VERSION); this fallback
// keeps the library building until it does.
#ifndef VMC_VERSION
#define VMC_VERSION "0.1.0"
#endif

#include "common/unique_fd.h"

namespace vmc {
namespace {

// ---------------------------------------------------------------------------
// Owners of libcurl and libc resources.

struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// A curl_slist that grows by Append and frees itself.
class StringList {
 public:
  bool Append(const std::string& line) {
    curl_slist* grown = curl_slist_append(list_.get(), line.c_str());
    if (grown == nullptr) return false;
    (void)list_.release();  // curl_slist_append returned the same head or a new one owning it
    list_.reset(grown);
    return true;
  }
  curl_slist* get() const { return list_.get(); }

 private:
  std::unique_ptr<curl_slist, SlistFree> list_;
};

struct FileClose {
  void operator()(FILE* f) const { std::fclose(f); }
};
using FileHandle = std::unique_ptr<FILE, FileClose>;

// curl_global_init must run once before any other libcurl call and is not
// thread-safe on every build; a function-local static gives both.
// curl_global_cleanup is never called: clients may live until exit.
CURLcode GlobalInit() {
  static const CURLcode kRc = curl_global_init(CURL_GLOBAL_DEFAULT);
  return kRc;
}

// ---------------------------------------------------------------------------
// Redirects.

// Redirects may stay on https, or go from http to http or https. Never to
// file:// (a server must not make us read local files), never down from https
// to http, never to anything the client does not allow at all.
std::string RedirectProtocols(std::string_view scheme, std::string_view allowed) {
  std::string out;
  auto add = [&](std::string_view p) {
    if (!SchemeAllowed(p, allowed)) return;
    if (!out.empty()) out += ',';
    out += p;
  };
  if (scheme == "https") {
    add("https");
  } else if (scheme == "http") {
    add("http");
    add("https");
  }
  return out;
}

// ---------------------------------------------------------------------------
// Messages.

std::string Duration(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
  return std::to_string(ms.count()) + " ms";
}

// What a failure message needs to know about the transfer it describes.
class Context {
 public:
  Context(std::string_view verb, std::string_view url, const Credentials& credentials)
      : verb_(verb), url_(RedactUrl(url)) {
    if (const auto* basic = std::get_if<BasicAuth>(&credentials)) {
      secrets_.push_back(basic->password);
    } else if (const auto* bearer = std::get_if<BearerToken>(&credentials)) {
      secrets_.push_back(bearer->token);
    } else if (const auto* key = std::get_if<SshKey>(&credentials)) {
      secrets_.push_back(key->passphrase);
    }
    for (std::string& password : UrlPasswords(url)) secrets_.push_back(std::move(password));
  }

  const std::string& url() const { return url_; }

  // "<verb> of <url>: <what>", with every secret masked, the URL as a detail.
  Error Fail(ErrorCode code, std::string_view what) const {
    return Error(code, Mask(verb_ + " of " + url_ + ": " + std::string(what))).With("url", url_);
  }

 private:
  std::string Mask(std::string text) const {
    for (const std::string& secret : secrets_) {
      if (secret.empty()) continue;
      for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
        text.replace(at, secret.size(), "***");
      }
    }
    return text;
  }

  std::string verb_;
  std::string url_;
  std::vector<std::string> secrets_;
};

std::string TrustDescription(const HttpOptions& options) {
  std::string out;
  if (!options.ca_dir.empty()) out = "CA directory " + options.ca_dir.string();
  if (!options.ca_file.empty()) {
    if (!out.empty()) out += " and ";
    out += "CA file " + options.ca_file.string();
  }
  return out.empty() ? "the system CA bundle" : out;
}

bool IsTlsFailure(CURLcode rc) {
  switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

// Failures of reaching the server at all, as opposed to the server refusing.
bool IsConnectionFailure(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PROXY:
      return true;
    default:
      return false;
  }
}

// One transfer's description for Error messages.
struct Attempt {
  const Context& context;
  const HttpOptions& options;
  std::string scheme;
  std::chrono::milliseconds total_timeout;
  // The schemes this transfer was allowed.
  std::string_view protocols;
  bool upload = false;
};

// Maps a libcurl failure to our codes; curl's error buffer says what happened,
// we add the limit or the trust that was involved.
Error CurlFailure(CURLcode rc, const char* error_buffer, const Attempt& attempt) {
  const HttpOptions& o = attempt.options;
  const std::string detail =
      error_buffer[0] != '\0' ? std::string(error_buffer) : std::string(curl_easy_strerror(rc));
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    const std::string total =
        attempt.total_timeout.count() > 0 ? Duration(attempt.total_timeout) : "none";
    return attempt.context
        .Fail(ErrorCode::kTransferTimeout,
              "timed out: " + detail + " (connect timeout " + Duration(o.connect_timeout) +
                  ", total timeout " + total + ", low-speed limit " +
                  std::to_string(o.low_speed_limit) + " bytes/s over " +
                  std::to_string(o.low_speed_time.count()) + " s)")
        .With("connect_timeout_ms", std::to_string(o.connect_timeout.count()))
        .With("total_timeout_ms", std::to_string(attempt.total_timeout.count()))
        .With("low_speed_limit", std::to_string(o.low_speed_limit))
        .With("low_speed_time_s", std::to_string(o.low_speed_time.count()));
  }
  if (rc == CURLE_PEER_FAILED_VERIFICATION && attempt.scheme == "sftp") {
    return attempt.context.Fail(ErrorCode::kTlsError, "SSH host key not accepted: " + detail +
                                                          " (known_hosts " +
                                                          o.ssh_known_hosts.string() + ")");
  }
  if (IsTlsFailure(rc)) {
    return attempt.context.Fail(
        ErrorCode::kTlsError, "TLS failed: " + detail + " (trusting " + TrustDescription(o) + ")");
  }
  if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
    const std::string allowed(attempt.protocols);
    const std::string redirects = RedirectProtocols(attempt.scheme, allowed);
    return attempt.context
        .Fail(ErrorCode::kNetwork,
              "protocol not allowed: " + detail + " (allowed: " + allowed + "; redirects to: " +
                  (attempt.upload || redirects.empty() ? "none" : redirects) + ")")
        .With("allowed_protocols", allowed);
  }
  if (rc == CURLE_TOO_MANY_REDIRECTS) {
    return attempt.context.Fail(ErrorCode::kNetwork,
                                detail + " (limit " + std::to_string(o.max_redirects) + ")");
  }
  const ErrorCode code =
      attempt.upload && !IsConnectionFailure(rc) ? ErrorCode::kUploadFailed : ErrorCode::kNetwork;
  return attempt.context.Fail(code, "failed: " + detail);
}

// ---------------------------------------------------------------------------
// Options and response facts.

// curl_easy_setopt, remembering the first failure so that a list of options
// is checked once.
class OptionSetter {
 public:
  explicit OptionSetter(CURL* easy) : easy_(easy) {}

  OptionSetter& Long(CURLoption option, long value) {
    return Record(option, curl_easy_setopt(easy_, option, value));
  }
  OptionSetter& Offset(CURLoption option, curl_off_t value) {
    return Record(option, curl_easy_setopt(easy_, option, value));
  }
  OptionSetter& String(CURLoption option, const char* value) {
    return Record(option, curl_easy_setopt(easy_, option, value));
  }
  OptionSetter& Pointer(CURLoption option, void* value) {
    return Record(option, curl_easy_setopt(easy_, option, value));
  }
  OptionSetter& List(CURLoption option, curl_slist* value) {
    return Record(option, curl_easy_setopt(easy_, option, value));
  }
  OptionSetter& WriteFunction(curl_write_callback callback) {
    return Record(CURLOPT_WRITEFUNCTION, curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, callback));
  }

  Status status(const Context& context) const {
    if (rc_ == CURLE_OK) return Ok();
    const curl_easyoption* info = curl_easy_option_by_id(failed_option_);
    const std::string name =
        info != nullptr ? std::string("CURLOPT_") + info->name : std::to_string(failed_option_);
    return context.Fail(ErrorCode::kConfigInvalid,
                        "libcurl refused " + name + ": " + curl_easy_strerror(rc_));
  }

 private:
  OptionSetter& Record(CURLoption option, CURLcode rc) {
    if (rc_ == CURLE_OK && rc != CURLE_OK) {
      rc_ = rc;
      failed_option_ = option;
    }
    return *this;
  }

  CURL* easy_;
  CURLcode rc_ = CURLE_OK;
  CURLoption failed_option_ = CURLOPT_URL;
};

void SetCredentials(OptionSetter& set, const Credentials& credentials) {
  if (const auto* basic = std::get_if<BasicAuth>(&credentials)) {
    // Basic only: probing other schemes first would send the body twice.
    set.String(CURLOPT_USERNAME, basic->user.c_str())
        .String(CURLOPT_PASSWORD, basic->password.c_str())
        .Long(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
  } else if (const auto* bearer = std::get_if<BearerToken>(&credentials)) {
    set.String(CURLOPT_XOAUTH2_BEARER, bearer->token.c_str())
        .Long(CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BEARER));
  } else if (const auto* key = std::get_if<SshKey>(&credentials)) {
    if (!key->user.empty()) set.String(CURLOPT_USERNAME, key->user.c_str());
    set.String(CURLOPT_SSH_PRIVATE_KEYFILE, key->private_key.c_str())
        .Long(CURLOPT_SSH_AUTH_TYPES, static_cast<long>(CURLSSH_AUTH_PUBLICKEY));
    if (!key->public_key.empty()) {
      set.String(CURLOPT_SSH_PUBLIC_KEYFILE, key->public_key.c_str());
    }
    if (!key->passphrase.empty()) set.String(CURLOPT_KEYPASSWD, key->passphrase.c_str());
  }
}

enum class Direction { kReceive, kUpload };

// What libcurl's progress callback looks after during one transfer: the
// caller's cancellation flag and its progress observer, either may be absent.
struct TransferWatch {
  Direction direction = Direction::kReceive;
  const std::atomic<bool>* cancel = nullptr;
  const TransferProgress* progress = nullptr;

  bool empty() const { return cancel == nullptr && (progress == nullptr || !*progress); }
};

uint64_t Count(curl_off_t bytes) { return bytes > 0 ? static_cast<uint64_t>(bytes) : 0; }

// libcurl's CURLOPT_XFERINFOFUNCTION: reports the counts libcurl keeps (the
// download total is the response's Content-Length, the upload total
// CURLOPT_INFILESIZE_LARGE) and stops the transfer when the flag is set.
int OnTransferInfo(void* user, curl_off_t download_total, curl_off_t downloaded,
                   curl_off_t upload_total, curl_off_t uploaded) {
  const auto* watch = static_cast<const TransferWatch*>(user);
  if (watch->progress != nullptr && *watch->progress) {
    const bool up = watch->direction == Direction::kUpload;
    // Exceptions must not unwind through libcurl's C frames, and a progress
    // display that failed is no reason to fail the transfer.
    try {
      (*watch->progress)(Count(up ? uploaded : downloaded),
                         Count(up ? upload_total : download_total));
    } catch (...) {  // NOLINT(bugprone-empty-catch): see above
    }
  }
  return watch->cancel != nullptr && watch->cancel->load() ? 1 : 0;
}

// Asks libcurl to call OnTransferInfo with `watch`, unless it has nothing to
// look after: then libcurl keeps its progress meter off, as by default.
// REQUIRES: `watch` outlives the transfer.
Status WatchTransfer(CURL* easy, const TransferWatch& watch, const Context& context) {
  if (watch.empty()) return Ok();
  if (curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, OnTransferInfo) != CURLE_OK ||
      curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &watch) != CURLE_OK ||
      curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L) != CURLE_OK) {
    return context.Fail(ErrorCode::kNetwork, "cannot install the progress callback");
  }
  return Ok();
}

// The URL a transfer is given, parsed once by libcurl's URL API: the handle
// libcurl transfers from (CURLOPT_CURLU) and the scheme judged against the
// request's protocols, so that no other reading of the text can differ.
struct TargetUrl {
  Url url;
  std::string scheme;  // lowercase
};

// Parses `url` and refuses, before any I/O, a scheme not in `protocols`
// (file:/x, FILE://, file://localhost/ are all "file").
Result<TargetUrl> Target(const std::string& url, std::string_view protocols,
                         const Context& context) {
  auto parsed = Url::Parse(url);
  if (!parsed.ok()) return context.Fail(ErrorCode::kInvalidValue, "not a URL libcurl accepts");
  TargetUrl target{std::move(parsed).value(), {}};
  target.scheme = target.url.scheme();
  if (!SchemeAllowed(target.scheme, protocols)) {
    return context
        .Fail(ErrorCode::kNetwork, "protocol not allowed: the URL's scheme is \"" + target.scheme +
                                       "\" (allowed for this transfer: " + std::string(protocols) +
                                       ")")
        .With("allowed_protocols", std::string(protocols));
  }
  return target;
}

// Resets the handle (its connections, TLS sessions and DNS cache survive) and
// applies the settings every transfer shares.
Status Prepare(CURL* easy, const HttpOptions& o, Direction direction, CURLU* url,
               std::string_view scheme, const std::string& protocols,
               const Credentials& credentials, std::chrono::milliseconds total_timeout,
               char* error_buffer, const Context& context) {
  curl_easy_reset(easy);
  error_buffer[0] = '\0';
  const bool upload = direction == Direction::kUpload;
  const std::string redirects = upload ? "" : RedirectProtocols(scheme, protocols);
  OptionSetter set(easy);
  set.Pointer(CURLOPT_ERRORBUFFER, error_buffer)
      .Pointer(CURLOPT_CURLU, url)
      .Long(CURLOPT_NOSIGNAL, 1L)
      .String(CURLOPT_PROTOCOLS_STR, protocols.c_str())
      .Long(CURLOPT_FOLLOWLOCATION, redirects.empty() ? 0L : 1L)
      // The default, said here because it is what keeps credentials on their
      // origin: on a redirect to another scheme, host or port libcurl sends
      // neither basic auth nor a bearer token.
      .Long(CURLOPT_UNRESTRICTED_AUTH, 0L)
      .Long(CURLOPT_MAXREDIRS, o.max_redirects)
      .Long(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()))
      .Long(CURLOPT_TIMEOUT_MS, static_cast<long>(total_timeout.count()))
      .Long(CURLOPT_LOW_SPEED_LIMIT, o.low_speed_limit)
      .Long(CURLOPT_LOW_SPEED_TIME, static_cast<long>(o.low_speed_time.count()))
      .Long(CURLOPT_SSL_VERIFYPEER, 1L)
      .Long(CURLOPT_SSL_VERIFYHOST, 2L)
      .Long(CURLOPT_TCP_KEEPALIVE, 1L)
      .String(CURLOPT_USERAGENT, o.user_agent.c_str());
  // Only a hint: libcurl 7.88 refuses to resize the buffer after a transfer
  // that failed early, and the buffer it already has works.
  (void)curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, o.receive_buffer_size);
  if (!redirects.empty()) set.String(CURLOPT_REDIR_PROTOCOLS_STR, redirects.c_str());
  if (!o.ca_dir.empty() || !o.ca_file.empty()) {
    // Setting either replaces the system bundle rather than adding to it.
    set.String(CURLOPT_CAPATH, o.ca_dir.empty() ? nullptr : o.ca_dir.c_str())
        .String(CURLOPT_CAINFO, o.ca_file.empty() ? nullptr : o.ca_file.c_str());
  }
  if (!o.ssh_known_hosts.empty()) {
    set.String(CURLOPT_SSH_KNOWNHOSTS, o.ssh_known_hosts.c_str());
  }
  SetCredentials(set, credentials);
  return set.status(context);
}

long ResponseCode(CURL* easy) {
  long code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

// The scheme of the last request, after redirects.
bool IsHttp(CURL* easy) {
  char* scheme = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_SCHEME, &scheme) != CURLE_OK || scheme == nullptr) {
    return false;
  }
  return strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0;
}

// The last value of a header of the final response; empty when absent.
std::string ResponseHeader(CURL* easy, const char* name) {
  curl_header* header = nullptr;
  if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK ||
      header == nullptr || header->value == nullptr) {
    return {};
  }
  return header->value;
}

// The Content-Length of the final response, if it had one. Read from the
// stored header because libcurl does not publish the length when it aborted
// the transfer for exceeding CURLOPT_MAXFILESIZE.
std::optional<uint64_t> AnnouncedLength(CURL* easy) {
  const std::string text = ResponseHeader(easy, "Content-Length");
  uint64_t length = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return length;
}

std::string EffectiveUrl(CURL* easy) {
  char* url = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || url == nullptr) {
    return {};
  }
  return RedactUrl(url);
}

bool IsSuccess(long status) { return status >= 200 && status < 300; }

std::string StatusText(long status) {
  std::string text = "the server answered HTTP " + std::to_string(status);
  if (status == 401 || status == 403) text += " (credentials missing or refused)";
  return text;
}

// kHttpStatus unless the response is 2xx or not HTTP at all.
Status ExpectSuccess(CURL* easy, const Context& context) {
  if (!IsHttp(easy)) return Ok();
  const long status = ResponseCode(easy);
  if (IsSuccess(status)) return Ok();
  return context.Fail(ErrorCode::kHttpStatus, StatusText(status))
      .With("status", std::to_string(status));
}

// ---------------------------------------------------------------------------
// Receiving bodies.

// The write callback's state for one transfer. `begin` runs once, before the
// first byte is accepted, when the status and headers are known; an Error from
// either function stops the transfer at once and is what the caller reports.
struct BodyHandler {
  std::function<Status()> begin;
  std::function<Status(const char*, size_t)> write;
  bool begun = false;
  std::optional<Error> failure;

  Status Start() {
    begun = true;
    return begin();
  }
};

// Response bodies of uploads carry nothing we use.
size_t DiscardBody(char* /*data*/, size_t size, size_t count, void* /*user*/) {
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* handler = static_cast<BodyHandler*>(user);
  const size_t n = size * count;
  // Exceptions must not unwind through libcurl's C frames.
  try {
    Status status = handler->begun ? Ok() : handler->Start();
    if (status.ok() && n > 0) status = handler->write(data, n);
    if (status.ok()) return n;
    handler->failure = std::move(status).error();
  } catch (const std::exception& e) {
    handler->failure = Error(ErrorCode::kNetwork, std::string("receiving failed: ") + e.what());
  }
  return CURL_WRITEFUNC_ERROR;
}

Error ListTooLarge(const Context& context, uint64_t cap, std::optional<uint64_t> announced) {
  const std::string what =
      announced ? "the document is " + std::to_string(*announced) +
                      " bytes, exceeding the cap of " + std::to_string(cap) + " bytes"
                : "the document exceeds the cap of " + std::to_string(cap) + " bytes";
  return context.Fail(ErrorCode::kListTooLarge, "refused: " + what)
      .With("max_bytes", std::to_string(cap));
}

Status CheckValidator(const std::string& value, const Context& context) {
  if (value.find_first_of(std::string("\r\n\0", 3)) == std::string::npos) return Ok();
  return context.Fail(ErrorCode::kInvalidValue, "a stored validator contains a line break");
}

// The offset of the first byte of a response to a request for bytes from
// `resume_offset` on.
Result<uint64_t> FirstByte(CURL* easy, uint64_t resume_offset, const Context& context) {
  if (resume_offset == 0 || !IsHttp(easy)) return resume_offset;  // file:// honours ranges
  if (ResponseCode(easy) != 206) return uint64_t{0};              // the whole object
  // "bytes <first>-<last>/<total>"
  const std::string range = ResponseHeader(easy, "Content-Range");
  uint64_t first = 0;
  const char* begin = range.c_str();
  const char* end = begin + range.size();
  constexpr std::string_view kUnit = "bytes ";
  const bool parsed = range.size() > kUnit.size() &&
                      strncasecmp(begin, kUnit.data(), kUnit.size()) == 0 &&
                      std::from_chars(begin + kUnit.size(), end, first).ec == std::errc();
  if (parsed && first == resume_offset) return first;
  return context
      .Fail(ErrorCode::kNetwork, "the server answered a request for bytes from " +
                                     std::to_string(resume_offset) + " with Content-Range \"" +
                                     range + "\"")
      .With("resume_offset", std::to_string(resume_offset));
}

// ---------------------------------------------------------------------------
// Uploading.

std::string RandomHex() {
  std::random_device device;
  const uint64_t value = (static_cast<uint64_t>(device()) << 32) | device();
  char out[17];
  std::snprintf(out, sizeof(out), "%016llx", static_cast<unsigned long long>(value));
  return out;
}

// A path for an SFTP quote command: double quotes, with \ and " escaped.
std::string QuotePath(std::string_view path) {
  std::string out = "\"";
  for (const char c : path) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Where the bytes of an upload go first, and how they then reach the target.
struct UploadPlan {
  std::string scheme;
  std::string transfer_url;
  // file://: renamed locally after the transfer.
  std::filesystem::path local_temp;
  std::filesystem::path local_target;
  // sftp://: run by the server after the transfer (CURLOPT_POSTQUOTE).
  std::vector<std::string> remote_commands;
};

Result<UploadPlan> PlanUpload(const std::string& url, const Context& context) {
  UploadPlan plan;
  plan.transfer_url = url;
  auto parsed = Url::Parse(url);
  if (!parsed.ok()) return plan;  // Target() refuses it, naming the transfer
  plan.scheme = parsed->scheme();
  if (plan.scheme != "file" && plan.scheme != "sftp") return plan;  // http(s): atomic server-side
  const std::string path = parsed->path();
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash + 1 == path.size()) {
    return context.Fail(ErrorCode::kInvalidValue, "the URL names a directory, not a file");
  }
  const std::string temp =
      path.substr(0, slash + 1) + "." + path.substr(slash + 1) + "." + RandomHex() + ".part";
  auto temp_url = parsed->WithPath(temp);
  if (!temp_url.ok())
    return context.Fail(ErrorCode::kInvalidValue, "cannot build a temporary name");
  plan.transfer_url = temp_url->ToString();
  if (plan.scheme == "file") {
    plan.local_temp = temp;
    plan.local_target = path;
    return plan;
  }
  // "*": the target may not exist yet.
  plan.remote_commands = {
      "*rm " + QuotePath(SftpCommandPath(path)),
      "rename " + QuotePath(SftpCommandPath(temp)) + " " + QuotePath(SftpCommandPath(path))};
  return plan;
}

Status SyncPath(const std::filesystem::path& path, const Context& context) {
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 || fsync(fd.get()) != 0) {
    return context.Fail(ErrorCode::kIo, "cannot sync " + path.string() + ": " + ErrnoText(errno));
  }
  return Ok();
}

// write (done by libcurl), fsync, rename, fsync the directory.
Status CommitLocal(const UploadPlan& plan, const Context& context) {
  VMC_RETURN_IF_ERROR(SyncPath(plan.local_temp, context));
  std::error_code ec;
  std::filesystem::rename(plan.local_temp, plan.local_target, ec);
  if (ec) {
    return context.Fail(ErrorCode::kIo, "cannot rename " + plan.local_temp.string() + " to " +
                                            plan.local_target.string() + ": " + ec.message());
  }
  return SyncPath(plan.local_target.parent_path(), context);
}

}  // namespace

// ---------------------------------------------------------------------------
// Public functions.

std::string_view DefaultUserAgent() { return "caster-catcher/" VMC_VERSION; }

void HttpClient::EasyDeleter::operator()(void* easy) const { curl_easy_cleanup(easy); }

HttpClient::HttpClient(HttpOptions options, EasyHandle easy)
    : options_(std::move(options)), easy_(std::move(easy)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

Result<HttpClient> HttpClient::Create(HttpOptions options) {
  const CURLcode init = GlobalInit();
  if (init != CURLE_OK) {
    return Error(ErrorCode::kConfigInvalid,
                 std::string("cannot initialise libcurl: ") + curl_easy_strerror(init));
  }
  EasyHandle easy(curl_easy_init());
  if (!easy) return Error(ErrorCode::kConfigInvalid, "cannot create a libcurl handle");

  std::error_code ec;
  auto check_path = [&](const std::filesystem::path& path, bool directory,
                        std::string_view what) -> Status {
    if (path.empty()) return Ok();
    const bool fits = directory ? std::filesystem::is_directory(path, ec)
                                : std::filesystem::is_regular_file(path, ec);
    if (fits) return Ok();
    return Error(ErrorCode::kConfigInvalid, std::string(what) + " " + path.string() +
                                                " is not a readable " +
                                                (directory ? "directory" : "file"))
        .With("file", path.string());
  };
  VMC_RETURN_IF_ERROR(check_path(options.ca_dir, true, "CA directory"));
  VMC_RETURN_IF_ERROR(check_path(options.ca_file, false, "CA file"));
  VMC_RETURN_IF_ERROR(check_path(options.ssh_known_hosts, false, "known_hosts file"));

  const std::string& uploads = options.upload_protocols;
  if (uploads.empty() ||
      curl_easy_setopt(easy.get(), CURLOPT_PROTOCOLS_STR, uploads.c_str()) != CURLE_OK) {
    return Error(ErrorCode::kConfigInvalid,
                 "protocol list \"" + uploads + "\" is not accepted by libcurl");
  }
  return HttpClient(std::move(options), std::move(easy));
}

Result<FetchResult> HttpClient::Fetch(const FetchRequest& request) {
  const Context context("fetch", request.url, request.credentials);
  VMC_RETURN_IF_ERROR(CheckValidator(request.etag, context));
  VMC_RETURN_IF_ERROR(CheckValidator(request.last_modified, context));
  CURL* easy = easy_.get();
  char error_buffer[CURL_ERROR_SIZE];
  VMC_ASSIGN_OR_RETURN(const TargetUrl target, Target(request.url, request.protocols, context));
  VMC_RETURN_IF_ERROR(Prepare(easy, options_, Direction::kReceive, target.url.handle(),
                              target.scheme, request.protocols, request.credentials,
                              options_.fetch_timeout, error_buffer, context));
  StringList headers;
  const bool conditional = !request.etag.empty() || !request.last_modified.empty();
  if ((!request.etag.empty() && !headers.Append("If-None-Match: " + request.etag)) ||
      (!request.last_modified.empty() &&
       !headers.Append("If-Modified-Since: " + request.last_modified))) {
    return context.Fail(ErrorCode::kNetwork, "out of memory");
  }

  FetchResult result;
  BodyHandler body;
  body.begin = [&]() -> Status {
    VMC_RETURN_IF_ERROR(ExpectSuccess(easy, context));
    // Trusted only as a hint for the allocation; the cap is enforced per byte.
    if (const auto announced = AnnouncedLength(easy)) {
      result.body.reserve(std::min(*announced, request.max_bytes));
    }
    return Ok();
  };
  body.write = [&](const char* data, size_t n) -> Status {
    if (n > request.max_bytes - result.body.size()) {
      return ListTooLarge(context, request.max_bytes, AnnouncedLength(easy));
    }
    result.body.append(data, n);
    return Ok();
  };
  OptionSetter set(easy);
  set.List(CURLOPT_HTTPHEADER, headers.get())
      .Offset(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_bytes))
      .WriteFunction(OnBody)
      .Pointer(CURLOPT_WRITEDATA, &body);
  VMC_RETURN_IF_ERROR(set.status(context));

  const CURLcode rc = curl_easy_perform(easy);
  if (body.failure) return *std::move(body.failure);
  if (rc == CURLE_FILESIZE_EXCEEDED) {
    return ListTooLarge(context, request.max_bytes, AnnouncedLength(easy));
  }
  if (rc != CURLE_OK) {
    return CurlFailure(
        rc, error_buffer,
        {context, options_, target.scheme, options_.fetch_timeout, request.protocols});
  }
  result.status = ResponseCode(easy);
  result.not_modified = IsHttp(easy) && conditional && result.status == 304;
  if (!result.not_modified) VMC_RETURN_IF_ERROR(ExpectSuccess(easy, context));
  result.etag = ResponseHeader(easy, "ETag");
  result.last_modified = ResponseHeader(easy, "Last-Modified");
  if (result.not_modified) {
    if (result.etag.empty()) result.etag = request.etag;
    if (result.last_modified.empty()) result.last_modified = request.last_modified;
  }
  result.effective_url = EffectiveUrl(easy);
  return result;
}

Result<DownloadResult> HttpClient::Download(const DownloadRequest& request, DownloadSink& sink) {
  const Context context("download", request.url, request.credentials);
  const std::optional<uint64_t> expected = request.expected_size;
  if (expected && request.resume_offset >= *expected) {
    return context.Fail(ErrorCode::kInvalidValue,
                        "nothing to resume: offset " + std::to_string(request.resume_offset) +
                            " is not below the declared size " + std::to_string(*expected));
  }
  CURL* easy = easy_.get();
  char error_buffer[CURL_ERROR_SIZE];
  const std::chrono::milliseconds total_timeout =
      request.timeout.count() > 0 ? request.timeout : options_.transfer_timeout;
  VMC_ASSIGN_OR_RETURN(const TargetUrl target, Target(request.url, request.protocols, context));
  VMC_RETURN_IF_ERROR(Prepare(easy, options_, Direction::kReceive, target.url.handle(),
                              target.scheme, request.protocols, request.credentials, total_timeout,
                              error_buffer, context));

  DownloadResult result;
  uint64_t allowed = 0;  // bytes this response may still carry, when expected
  auto too_large = [&](const std::string& how) {
    return context
        .Fail(ErrorCode::kSizeMismatch, "aborted: the server " + how +
                                            ", more than the declared size of " +
                                            std::to_string(*expected) + " bytes")
        .With("expected_size", std::to_string(*expected));
  };
  BodyHandler body;
  body.begin = [&]() -> Status {
    VMC_RETURN_IF_ERROR(ExpectSuccess(easy, context));
    VMC_ASSIGN_OR_RETURN(result.first_byte, FirstByte(easy, request.resume_offset, context));
    if (expected) {
      allowed = *expected - result.first_byte;
      const auto announced = AnnouncedLength(easy);
      if (announced && *announced > allowed) {
        return too_large("announced " + std::to_string(*announced) + " bytes from offset " +
                         std::to_string(result.first_byte));
      }
    }
    return sink.Begin(result.first_byte);
  };
  body.write = [&](const char* data, size_t n) -> Status {
    if (expected && n > allowed - result.bytes_received) {
      return too_large("sent more than " + std::to_string(allowed) + " bytes from offset " +
                       std::to_string(result.first_byte));
    }
    result.bytes_received += n;
    return sink.Write(data, n);
  };
  OptionSetter set(easy);
  const std::string range = std::to_string(request.resume_offset) + "-";
  if (request.resume_offset > 0) set.String(CURLOPT_RANGE, range.c_str());
  set.WriteFunction(OnBody).Pointer(CURLOPT_WRITEDATA, &body);
  VMC_RETURN_IF_ERROR(set.status(context));
  // libcurl calls it about once a second even while no byte arrives, so a
  // cancellation is seen within that.
  const TransferWatch watch{Direction::kReceive, request.cancel, &request.progress};
  VMC_RETURN_IF_ERROR(WatchTransfer(easy, watch, context));

  const CURLcode rc = curl_easy_perform(easy);
  if (body.failure) return *std::move(body.failure);
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    return context.Fail(ErrorCode::kNetwork, "cancelled: the process is stopping");
  }
  if (rc != CURLE_OK) {
    return CurlFailure(rc, error_buffer,
                       {context, options_, target.scheme, total_timeout, request.protocols});
  }
  if (!body.begun) VMC_RETURN_IF_ERROR(body.Start());  // an empty body
  result.status = ResponseCode(easy);
  result.effective_url = EffectiveUrl(easy);
  if (expected && result.first_byte + result.bytes_received != *expected) {
    return context
        .Fail(ErrorCode::kSizeMismatch,
              "the object ended after " +
                  std::to_string(result.first_byte + result.bytes_received) +
                  " bytes, short of the declared size of " + std::to_string(*expected) + " bytes")
        .With("expected_size", std::to_string(*expected));
  }
  return result;
}

Status HttpClient::Upload(const UploadRequest& request) {
  const Context context("upload", request.url, request.credentials);
  VMC_ASSIGN_OR_RETURN(const UploadPlan plan, PlanUpload(request.url, context));
  if (plan.scheme == "sftp" && options_.ssh_known_hosts.empty()) {
    return context.Fail(ErrorCode::kConfigInvalid,
                        "SFTP needs a known_hosts file to verify the server's host key");
  }
  const FileHandle source(std::fopen(request.source.c_str(), "rb"));
  struct stat info {};
  if (!source || fstat(fileno(source.get()), &info) != 0) {
    return context
        .Fail(ErrorCode::kIo, "cannot read " + request.source.string() + ": " + ErrnoText(errno))
        .With("file", request.source.string());
  }
  CURL* easy = easy_.get();
  char error_buffer[CURL_ERROR_SIZE];
  VMC_ASSIGN_OR_RETURN(const TargetUrl target,
                       Target(plan.transfer_url, options_.upload_protocols, context));
  VMC_RETURN_IF_ERROR(Prepare(easy, options_, Direction::kUpload, target.url.handle(),
                              target.scheme, options_.upload_protocols, request.credentials,
                              options_.transfer_timeout, error_buffer, context));
  StringList commands;
  for (const std::string& command : plan.remote_commands) {
    if (!commands.Append(command)) return context.Fail(ErrorCode::kNetwork, "out of memory");
  }
  OptionSetter set(easy);
  set.Long(CURLOPT_UPLOAD, 1L)
      .Pointer(CURLOPT_READDATA, source.get())  // libcurl's default reader is fread
      .Offset(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(info.st_size))
      .Long(CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024L)
      .WriteFunction(DiscardBody);
  if (commands.get() != nullptr) {
    set.List(CURLOPT_POSTQUOTE, commands.get())
        .Long(CURLOPT_FTP_CREATE_MISSING_DIRS, static_cast<long>(CURLFTP_CREATE_DIR_RETRY));
  }
  VMC_RETURN_IF_ERROR(set.status(context));
  const TransferWatch watch{Direction::kUpload, nullptr, &request.progress};
  VMC_RETURN_IF_ERROR(WatchTransfer(easy, watch, context));

  const CURLcode rc = curl_easy_perform(easy);
  Status status = Ok();
  if (rc != CURLE_OK) {
    status = CurlFailure(rc, error_buffer,
                         {context, options_, plan.scheme, options_.transfer_timeout,
                          options_.upload_protocols, true});
  } else if (IsHttp(easy) && !IsSuccess(ResponseCode(easy))) {
    const long code = ResponseCode(easy);
    status = context.Fail(ErrorCode::kUploadFailed, StatusText(code))
                 .With("status", std::to_string(code));
  } else if (!plan.local_target.empty()) {
    status = CommitLocal(plan, context);
  }
  if (!status.ok() && !plan.local_temp.empty()) {
    std::error_code ignored;
    std::filesystem::remove(plan.local_temp, ignored);
  }
  return status;
}

}  // namespace vmc
