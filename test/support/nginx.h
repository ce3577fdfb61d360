// A real nginx for tests, on 127.0.0.1 and a free port, run from a generated
// configuration in its own temporary directory (pid, logs, every *_temp_path).
// It serves a document root over HTTP or HTTPS, optionally accepts WebDAV PUT,
// optionally requires basic auth or a bearer token, optionally limits the rate
// of every response, and takes raw configuration for special locations.
//
// Start() returns once nginx accepts connections; the destructor stops it.
// Every request is logged with nginx's connection serial number, so tests can
// prove connection reuse, and with its Authorization header, so tests can
// prove where credentials went. Thread-compatible.
#ifndef VMC_TEST_SUPPORT_NGINX_H_
#define VMC_TEST_SUPPORT_NGINX_H_

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {

struct NginxOptions {
  // Served at "/". Empty: an empty "www" directory inside the server's
  // temporary directory (see NginxServer::root()).
  std::filesystem::path root;
  // When both are set, the server speaks HTTPS only, with this PEM chain/key.
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  // Accept PUT anywhere under the root, creating missing directories. nginx
  // writes the body to a temporary file and renames it into place.
  bool dav_put = false;
  // Require HTTP basic auth for every request (user, password).
  std::optional<std::pair<std::string, std::string>> basic_auth;
  // Require "Authorization: Bearer <token>" for every request.
  // REQUIRES: the token is made of [A-Za-z0-9._~+/=-].
  std::optional<std::string> bearer_token;
  // nginx limit_rate for every response ("100m", "1"); empty: unlimited.
  std::string limit_rate;
  // Raw lines inside server {} (extra locations) and inside http {} (maps).
  std::string server_config;
  std::string http_config;
};

// One line of the access log.
struct AccessLogEntry {
  // nginx's $connection: the same number means the same TCP connection.
  long connection = 0;
  long connection_requests = 0;
  int status = 0;
  std::string method;
  std::string uri;  // $request_uri
  long bytes_sent = 0;
  // The request's Authorization header as it arrived; empty when it had none.
  std::string authorization;
  std::string user_agent;
};

class NginxServer {
 public:
  // Starts nginx and waits until it accepts connections. On failure records a
  // test failure with nginx's error log and returns nullptr.
  static std::unique_ptr<NginxServer> Start(NginxOptions options);

  ~NginxServer();
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  int port() const { return port_; }
  bool tls() const { return !options_.tls_cert.empty(); }
  // "https://127.0.0.1:<port><path>" (or http). REQUIRES: path starts with "/".
  std::string Url(std::string_view path) const;
  // The same on "localhost", the other name in test certificates.
  std::string UrlOnLocalhost(std::string_view path) const;
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path dir() const { return dir_.path(); }

  // Every entry so far. nginx logs a request just after sending the response,
  // so a client that has its answer may not find it here yet: see WaitForLog.
  std::vector<AccessLogEntry> AccessLog() const;
  // The entries for `uri` ($request_uri), once there are at least `count` of
  // them or `timeout` has passed (then possibly fewer).
  std::vector<AccessLogEntry> WaitForLog(
      std::string_view uri, size_t count,
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  std::string ErrorLog() const;

 private:
  explicit NginxServer(NginxOptions options);
  bool Launch();
  std::string Config() const;

  NginxOptions options_;
  TempDir dir_;
  std::filesystem::path root_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

// Writes `bytes` to `file` under a server's root: written aside and renamed,
// with an mtime of its own, so that nginx's ETag and Last-Modified change
// with every publication even within one second and at one size (or a
// conditional GET would get a 304 for a new list). Thread-safe.
void Serve(const std::filesystem::path& file, const std::string& bytes);

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_NGINX_H_
