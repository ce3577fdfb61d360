#include "test/support/nginx.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include "test/support/loopback.h"

namespace vmc::test {
namespace {

constexpr int kLaunchAttempts = 5;
constexpr auto kStartTimeout = std::chrono::seconds(10);

bool SafeToken(std::string_view token) {
  if (token.empty()) return false;
  return std::ranges::all_of(token, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("._~+/=-").find(c) != std::string_view::npos;
  });
}

std::string ReadIfExists(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// "user:<apr1 hash>", the format nginx's auth_basic_user_file reads.
std::optional<std::string> HtpasswdLine(const std::string& user, const std::string& password) {
  RunOptions options;
  options.stdin_data = password + "\n";
  const RunResult result = Run({"openssl", "passwd", "-apr1", "-stdin"}, options);
  if (result.exit_code != 0 || result.out.empty()) return std::nullopt;
  std::string hash = result.out;
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
  return user + ":" + hash + "\n";
}

}  // namespace

NginxServer::NginxServer(NginxOptions options) : options_(std::move(options)) {
  root_ = options_.root.empty() ? dir_ / "www" : options_.root;
  std::filesystem::create_directories(root_);
}

NginxServer::~NginxServer() {
  if (process_) process_->Stop();
}

std::unique_ptr<NginxServer> NginxServer::Start(NginxOptions options) {
  if (options.bearer_token && !SafeToken(*options.bearer_token)) {
    ADD_FAILURE() << "bearer token for nginx must be made of [A-Za-z0-9._~+/=-]";
    return nullptr;
  }
  std::unique_ptr<NginxServer> server(new NginxServer(std::move(options)));
  if (server->options_.basic_auth) {
    const auto& [user, password] = *server->options_.basic_auth;
    const auto line = HtpasswdLine(user, password);
    if (!line) {
      ADD_FAILURE() << "openssl passwd -apr1 failed";
      return nullptr;
    }
    WriteFile(server->dir_ / "htpasswd", *line);
  }
  for (int attempt = 0; attempt < kLaunchAttempts; ++attempt) {
    if (server->Launch()) return server;
  }
  ADD_FAILURE() << "nginx did not start; error log:\n" << server->ErrorLog();
  return nullptr;
}

// One try on a fresh port: true once nginx has written its pid file (it does
// so after binding) and accepts a connection.
bool NginxServer::Launch() {
  port_ = PickFreePort();
  if (port_ == 0) return false;
  const auto conf = dir_ / "nginx.conf";
  WriteFile(conf, Config());
  std::filesystem::remove(dir_ / "nginx.pid");
  const auto error_log = (dir_ / "error.log").string();
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{"nginx", "-p", dir_.path().string(), "-c", conf.string(), "-e",
                               error_log},
      dir_ / "nginx.out");
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->Running()) break;
    if (std::filesystem::exists(dir_ / "nginx.pid") && Accepts(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  process_->Stop();
  process_.reset();
  return false;
}

std::string NginxServer::Config() const {
  const std::string d = dir_.path().string();
  std::ostringstream c;
  c << "daemon off;\n"
    << "worker_processes 1;\n"
    << "pid " << d << "/nginx.pid;\n"
    << "error_log " << d << "/error.log info;\n";
  // Tests run as root; workers must still read 0700 temporary directories.
  if (geteuid() == 0) c << "user root root;\n";
  c << "events { worker_connections 256; }\n"
    << "http {\n"
    // nginx writes a quote or backslash in a variable as \x22 or \x5C, so the
    // quoted header is one field whatever it holds; "-" when absent.
    << "  log_format vmc '$connection $connection_requests $status $request_method "
       "$request_uri $body_bytes_sent \"$http_authorization\" $http_user_agent';\n"
    << "  access_log " << d << "/access.log vmc;\n";
  for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    c << "  " << temp << "_temp_path " << d << "/" << temp << "_temp;\n";
  }
  c << "  default_type application/octet-stream;\n"
    << "  sendfile on;\n"
    << "  server_tokens off;\n"
    << "  keepalive_requests 100000;\n"
    << "  client_max_body_size 0;\n";
  if (options_.bearer_token) {
    c << "  map $http_authorization $vmc_bearer_ok {\n"
      << "    default 0;\n"
      << "    \"Bearer " << *options_.bearer_token << "\" 1;\n"
      << "  }\n";
  }
  c << options_.http_config << "\n"
    << "  server {\n"
    << "    listen 127.0.0.1:" << port_ << (tls() ? " ssl" : "") << ";\n"
    << "    root " << root_.string() << ";\n";
  if (tls()) {
    c << "    ssl_certificate " << options_.tls_cert.string() << ";\n"
      << "    ssl_certificate_key " << options_.tls_key.string() << ";\n"
      << "    ssl_protocols TLSv1.2 TLSv1.3;\n";
  }
  if (!options_.limit_rate.empty()) c << "    limit_rate " << options_.limit_rate << ";\n";
  if (options_.basic_auth) {
    c << "    auth_basic \"vmc test\";\n"
      << "    auth_basic_user_file " << d << "/htpasswd;\n";
  }
  if (options_.bearer_token) c << "    if ($vmc_bearer_ok = 0) { return 401; }\n";
  c << options_.server_config << "\n"
    << "    location / {\n";
  if (options_.dav_put) {
    c << "      dav_methods PUT;\n"
      << "      create_full_put_path on;\n"
      << "      dav_access user:rw group:r all:r;\n";
  }
  c << "    }\n"
    << "  }\n"
    << "}\n";
  return c.str();
}

std::string NginxServer::Url(std::string_view path) const {
  return std::string(tls() ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) +
         std::string(path);
}

std::string NginxServer::UrlOnLocalhost(std::string_view path) const {
  return std::string(tls() ? "https" : "http") + "://localhost:" + std::to_string(port_) +
         std::string(path);
}

std::vector<AccessLogEntry> NginxServer::AccessLog() const {
  std::vector<AccessLogEntry> entries;
  std::istringstream lines(ReadIfExists(dir_ / "access.log"));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    AccessLogEntry e;
    if (!(fields >> e.connection >> e.connection_requests >> e.status >> e.method >> e.uri >>
          e.bytes_sent >> std::quoted(e.authorization))) {
      continue;
    }
    if (e.authorization == "-") e.authorization.clear();
    std::getline(fields >> std::ws, e.user_agent);
    entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<AccessLogEntry> NginxServer::WaitForLog(std::string_view uri, size_t count,
                                                    std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::vector<AccessLogEntry> matching;
    for (AccessLogEntry& e : AccessLog()) {
      if (e.uri == uri) matching.push_back(std::move(e));
    }
    if (matching.size() >= count || std::chrono::steady_clock::now() >= deadline) {
      return matching;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string NginxServer::ErrorLog() const {
  return ReadIfExists(dir_ / "error.log") + ReadIfExists(dir_ / "nginx.out");
}

void Serve(const std::filesystem::path& file, const std::string& bytes) {
  // Threads may publish at once: each its own temporary name and mtime.
  static std::atomic<int> serial{0};
  const int n = ++serial;
  std::filesystem::create_directories(file.parent_path());
  const std::filesystem::path tmp = file.string() + ".tmp" + std::to_string(n);
  WriteFile(tmp, bytes);
  const auto base = std::filesystem::file_time_type::clock::now() - std::chrono::hours(24 * 365);
  std::filesystem::last_write_time(tmp, base + std::chrono::seconds(n));
  std::filesystem::rename(tmp, file);
}

}  // namespace vmc::test
