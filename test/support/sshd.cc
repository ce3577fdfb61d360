#include "test/support/sshd.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "test/support/loopback.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

constexpr char kSshd[] = "/usr/sbin/sshd";
constexpr int kLaunchAttempts = 5;
constexpr auto kStartTimeout = std::chrono::seconds(10);

std::string ReadIfExists(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string CurrentUser() {
  const passwd* pw = getpwuid(geteuid());
  return pw != nullptr ? pw->pw_name : "root";
}

// "ssh-ed25519 AAAA..." without the comment of a .pub file.
std::string KeyWithoutComment(const std::string& pub) {
  const auto space = pub.rfind(' ');
  return space == std::string::npos ? pub : pub.substr(0, space);
}

}  // namespace

SshServer::SshServer() : user_(CurrentUser()) {}

SshServer::~SshServer() {
  if (process_) process_->Stop();
}

std::unique_ptr<SshServer> SshServer::Start() {
  if (!fs::exists(kSshd)) {
    ADD_FAILURE() << "no " << kSshd << ": install openssh-server (scripts/setup does)";
    return nullptr;
  }
  // sshd refuses to start without its privilege separation directory, which
  // systemd normally creates.
  std::error_code ec;
  if (!fs::is_directory("/run/sshd") && !fs::create_directories("/run/sshd", ec)) {
    ADD_FAILURE() << "cannot create /run/sshd: " << ec.message();
    return nullptr;
  }
  std::unique_ptr<SshServer> server(new SshServer());
  const fs::path d = server->dir_.path();
  for (const char* key : {"host_key", "user_key"}) {
    const RunResult r = Run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmc-test", "-f",
                             (d / key).string()});
    if (r.exit_code != 0) {
      ADD_FAILURE() << "ssh-keygen failed (" << r.exit_code << "): " << r.err;
      return nullptr;
    }
  }
  fs::copy_file(d / "user_key.pub", d / "authorized_keys");
  for (int attempt = 0; attempt < kLaunchAttempts; ++attempt) {
    if (server->Launch()) return server;
  }
  ADD_FAILURE() << "sshd did not start; its log:\n" << server->Log();
  return nullptr;
}

std::string SshServer::Config() const {
  const fs::path d = dir_.path();
  std::ostringstream c;
  c << "Port " << port_ << "\n"
    << "ListenAddress 127.0.0.1\n"
    << "HostKey " << (d / "host_key").string() << "\n"
    << "PidFile " << (d / "sshd.pid").string() << "\n"
    << "AuthorizedKeysFile " << (d / "authorized_keys").string()
    << "\n"
    // The temporary directory is not root-owned 0755 all the way up.
    << "StrictModes no\n"
    << "PasswordAuthentication no\n"
    << "KbdInteractiveAuthentication no\n"
    << "PubkeyAuthentication yes\n"
    << "PermitRootLogin prohibit-password\n"
    << "UsePAM no\n"
    << "Subsystem sftp internal-sftp\n"
    << "LogLevel VERBOSE\n";
  return c.str();
}

// One try on a fresh port: true once sshd has written its pid file (it does
// so after binding) and accepts a connection.
bool SshServer::Launch() {
  port_ = PickFreePort();
  if (port_ == 0) return false;
  const fs::path d = dir_.path();
  WriteFile(d / "sshd_config", Config());
  WriteFile(d / "known_hosts", "[127.0.0.1]:" + std::to_string(port_) + " " +
                                   KeyWithoutComment(ReadFile(d / "host_key.pub")) + "\n");
  fs::remove(d / "sshd.pid");
  process_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{kSshd, "-D", "-e", "-f", (d / "sshd_config").string()},
      d / "sshd.log");
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->Running()) break;
    if (fs::exists(d / "sshd.pid") && Accepts(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  process_->Stop();
  process_.reset();
  return false;
}

std::string SshServer::Url(const std::filesystem::path& path) const {
  return "sftp://" + user_ + "@127.0.0.1:" + std::to_string(port_) + path.string();
}

std::string SshServer::Log() const { return ReadIfExists(dir_ / "sshd.log"); }

}  // namespace vmc::test
