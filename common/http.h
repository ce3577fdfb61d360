// The network edge: every transfer the tools make goes through an HttpClient,
// a thin layer over one libcurl easy handle. libcurl does the protocols (HTTP,
// HTTPS, SFTP, file), TLS, proxies, redirects, ranges and conditional
// requests; this layer fixes the safe settings (TLS always verified, allowed
// protocols, byte caps, timeouts), hands bodies to the caller, and turns every
// failure into an Error that names the URL (without credentials), what failed
// and the limit involved.
//
// Bytes returned here are untrusted network input. Fetch and Download bound
// their size and nothing more: proving them is the caller's job (DESIGN.md
// section 5).
//
// Proxies come from the environment as libcurl reads it (http_proxy,
// https_proxy, no_proxy, ...); nothing here overrides that.
//
// Thread-safety: an HttpClient is thread-compatible, not thread-safe: use one
// per thread (it owns one CURL handle and reuses its connections). Clients on
// different threads are independent; libcurl's global initialisation runs once,
// safely, when the first client is created. libcurl is told not to use signals
// (CURLOPT_NOSIGNAL), so a program that transfers data should ignore SIGPIPE.
#ifndef VMC_COMMON_HTTP_H_
#define VMC_COMMON_HTTP_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/defaults.h"
#include "common/error.h"
#include "common/url.h"

namespace vmc {

// "caster-catcher/<version>", sent as the User-Agent.
std::string_view DefaultUserAgent();

// Credentials for one request. They are handed to libcurl and never logged
// nor copied into an Error. They go only to the request URL's origin (scheme,
// host, port): libcurl (CURLOPT_UNRESTRICTED_AUTH off, for basic auth and
// bearer tokens alike) drops them when a redirect leads to another origin.
// Choosing which origin deserves which credentials is the caller's job.
struct BasicAuth {
  std::string user;
  std::string password;
};
// Sent as "Authorization: Bearer <token>" (AppDB style).
struct BearerToken {
  std::string token;
};
// SFTP public-key authentication.
struct SshKey {
  // Empty: the user name of the URL (sftp://user@host/...).
  std::string user;
  std::filesystem::path private_key;
  // Empty: derived from the private key.
  std::filesystem::path public_key;
  // Empty: the key is not encrypted.
  std::string passphrase;
};
using Credentials = std::variant<std::monostate, BasicAuth, BearerToken, SshKey>;

// How far one transfer is, as libcurl counts it (its CURLOPT_XFERINFOFUNCTION):
// `done` bytes of `total`, where total is 0 while unknown (a response without
// Content-Length, or before its headers). For a download both count this
// response's body (after resume_offset when the server honoured the range);
// for an upload, the bytes of the source file read so far and its size.
// Called on the transferring thread, from inside libcurl, often (after each
// block and at least once a second, even while no byte moves), so it must be
// quick. It must not call the HttpClient. What it throws is dropped: a display
// is not worth a transfer. An empty function: libcurl is not asked to report.
using TransferProgress = std::function<void(uint64_t done, uint64_t total)>;

struct HttpOptions {
  // Schemes Upload may use. Uploads never follow redirects. (Fetch and
  // Download take theirs from each request.)
  std::string upload_protocols = "https,http,file,sftp";
  long max_redirects = 5;

  std::chrono::milliseconds connect_timeout{30'000};
  // Whole-transfer limit for Fetch.
  std::chrono::milliseconds fetch_timeout{300'000};
  // Whole-transfer limit for Download and Upload; zero means none (images may
  // be large: the low-speed limit below is what stops a stalled server).
  std::chrono::milliseconds transfer_timeout{0};
  // A transfer slower than low_speed_limit bytes/s for low_speed_time aborts.
  long low_speed_limit = 1024;
  std::chrono::seconds low_speed_time{60};

  // Trust for TLS servers. The peer certificate and host name are always
  // verified; there is deliberately no way to turn that off. When ca_dir
  // (hashed "<hash>.0" files, /etc/grid-security/certificates style) or
  // ca_file is set, only they are trusted; when neither is, the system bundle.
  std::filesystem::path ca_dir;
  std::filesystem::path ca_file;
  // OpenSSH known_hosts file that must list the server of an sftp:// upload.
  // Required for SFTP: host keys are always verified, like TLS certificates.
  std::filesystem::path ssh_known_hosts;

  std::string user_agent = std::string(DefaultUserAgent());
  // libcurl's receive buffer; large buffers mean fewer callbacks per GiB.
  long receive_buffer_size = 512 * 1024;
};

struct FetchRequest {
  std::string url;
  Credentials credentials;
  // Schemes this transfer may use (libcurl's CURLOPT_PROTOCOLS_STR syntax),
  // enforced by libcurl and checked on the parsed URL before any I/O. A
  // redirect never leaves http/https, and never goes from https to http,
  // whatever this list says. Only a caller that knows the URL came from a
  // local source (the admin, a list read from a local file) adds "file".
  std::string protocols = kRemoteProtocols;
  // Validators from the previous successful fetch, sent verbatim as
  // If-None-Match / If-Modified-Since. Empty: not sent.
  std::string etag;
  std::string last_modified;
  // More bytes than this abort the transfer at once, whether or not the server
  // announced its length.
  uint64_t max_bytes = kDefaultMaxListBytes;
};

struct FetchResult {
  // HTTP status (200, 304, ...); 0 for file://.
  long status = 0;
  // True on HTTP 304 to a conditional request; body is then empty.
  bool not_modified = false;
  std::string body;
  // The validators to send next time: this response's, or on 304 the
  // request's own when the server did not repeat them. Empty when unknown.
  std::string etag;
  std::string last_modified;
  // The URL that answered after redirects, without credentials.
  std::string effective_url;
};

// Receives a download in order. Download calls Begin at most once, before any
// Write: when the first body bytes arrive, or after the transfer for an empty
// body. A successful Download has therefore called it exactly once; one that
// failed before the body (connection, status, announced size) has not.
class DownloadSink {
 public:
  virtual ~DownloadSink() = default;

  // `first_byte` is the offset in the object of the first byte that Write will
  // deliver: the request's resume_offset when the server honoured the range
  // (HTTP 206 starting there, or file://), 0 when it answered 200 with the
  // whole object instead. On 0 after a resume request the sink must discard
  // what it held (truncate its file, restart its hash). An Error aborts the
  // transfer; Download returns it.
  virtual Status Begin(uint64_t first_byte) = 0;

  // An Error aborts the transfer at once; Download returns that Error.
  virtual Status Write(const char* data, size_t size) = 0;
};

struct DownloadRequest {
  std::string url;
  Credentials credentials;
  // Schemes this transfer may use (libcurl's CURLOPT_PROTOCOLS_STR syntax),
  // enforced by libcurl and checked on the parsed URL before any I/O. A
  // redirect never leaves http/https, and never goes from https to http,
  // whatever this list says. Only a caller that knows the URL came from a
  // local source (the admin, a list read from a local file) adds "file".
  std::string protocols = kRemoteProtocols;
  // Bytes [0, resume_offset) are already held by the caller: ask for the rest
  // with an HTTP Range request. See DownloadSink::Begin for a server that
  // ignores it.
  uint64_t resume_offset = 0;
  // The declared size of the whole object (hv:size). When set, a server that
  // announces or sends more aborts the transfer at once, before the excess
  // reaches the sink, and one that sends fewer fails: both kSizeMismatch.
  // REQUIRES: resume_offset < *expected_size.
  std::optional<uint64_t> expected_size;
  // When it becomes true (a signal handler sets it), the transfer stops
  // within about a second, even from a server that sends nothing; Download
  // then fails with kNetwork, having delivered nothing more to the sink.
  const std::atomic<bool>* cancel = nullptr;
  // Whole-transfer limit for this download (an image's time budget); zero:
  // HttpOptions::transfer_timeout. Past it Download fails with
  // kTransferTimeout, the bytes delivered so far staying with the sink.
  std::chrono::milliseconds timeout{0};
  // Told how far the download is; see TransferProgress.
  TransferProgress progress;
};

struct DownloadResult {
  // HTTP status (200 or 206); 0 for file://.
  long status = 0;
  // Offset of the first byte delivered (see DownloadSink::Begin).
  uint64_t first_byte = 0;
  // Bytes delivered to the sink by this call.
  uint64_t bytes_received = 0;
  std::string effective_url;
};

struct UploadRequest {
  // https:// or http:// (PUT), file://, or sftp://. Names the target file.
  std::string url;
  std::filesystem::path source;
  Credentials credentials;
  // Told how far the upload is (total: the size of `source`); see
  // TransferProgress.
  TransferProgress progress;
};

class HttpClient {
 public:
  // Fails (kConfigInvalid) when libcurl cannot start, the upload protocol
  // list is not accepted, or a configured CA / known_hosts path does not exist.
  static Result<HttpClient> Create(HttpOptions options = {});

  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  // GETs a document into memory, following redirects, conditionally when the
  // request carries validators.
  // Errors: kListTooLarge (over max_bytes), kHttpStatus (any status but 2xx,
  // or 304 when the request was conditional), kTransferTimeout, kTlsError,
  // kInvalidValue (a validator with a line break, a URL libcurl cannot
  // parse), kNetwork (anything else, including a scheme not in
  // request.protocols, refused before any I/O, or a redirect not allowed).
  Result<FetchResult> Fetch(const FetchRequest& request);

  // Streams an object to `sink`, resuming at request.resume_offset, following
  // redirects. On success the caller holds bytes [0, first_byte +
  // bytes_received), which is expected_size when that was given.
  // Errors: the sink's own, kSizeMismatch (see expected_size), kHttpStatus
  // (including 416 when the server has no bytes past resume_offset), kNetwork
  // also for a 206 whose Content-Range does not start at resume_offset, and
  // kTransferTimeout, kTlsError as for Fetch.
  Result<DownloadResult> Download(const DownloadRequest& request, DownloadSink& sink);

  // Stores the local file `source` at `url` so that readers never see a
  // half-written file:
  //  - https/http: a PUT; the server must replace the file atomically (nginx
  //    dav writes a temporary file and renames it).
  //  - file: written to ".<name>.<random>.part" beside the target, fsynced,
  //    then renamed over it.
  //  - sftp: written to ".<name>.<random>.part" beside the target, then moved
  //    onto it by SFTP "rm" and "rename" commands. SFTP version 3 (OpenSSH)
  //    cannot rename over an existing file, so between the two commands the
  //    target is briefly absent; it is never partial. A transfer that fails
  //    midway may leave the ".part" file on the server.
  // Errors: kUploadFailed (non-2xx status, refused login, remote command
  // failed), kIo (cannot read `source`, local rename failed),
  // kConfigInvalid (sftp without ssh_known_hosts), kInvalidValue (the URL
  // names no file), kTransferTimeout, kTlsError (also an SSH host key not in
  // known_hosts), kNetwork.
  Status Upload(const UploadRequest& request);

  const HttpOptions& options() const { return options_; }

 private:
  // libcurl's CURL is a typedef of void; the deleter calls curl_easy_cleanup.
  struct EasyDeleter {
    void operator()(void* easy) const;
  };
  using EasyHandle = std::unique_ptr<void, EasyDeleter>;

  HttpClient(HttpOptions options, EasyHandle easy);

  HttpOptions options_;
  EasyHandle easy_;
};

}  // namespace vmc

#endif  // VMC_COMMON_HTTP_H_
