// A real OpenSSH sshd for tests, on 127.0.0.1 and a free port, run from a
// generated configuration in its own temporary directory: a host key and a
// user key made at start (ed25519, unencrypted), the user key as the only
// authorized key, public-key login only (no passwords, no PAM), and the
// internal SFTP server. A known_hosts file naming the server's host key is
// written beside them, for clients that verify host keys (libcurl here).
//
// The login user is the one the test runs as, so uploaded files land in the
// test's own directories with its permissions.
//
// Start() returns once sshd accepts connections; the destructor stops it.
// Thread-compatible.
#ifndef VMC_TEST_SUPPORT_SSHD_H_
#define VMC_TEST_SUPPORT_SSHD_H_

#include <filesystem>
#include <memory>
#include <string>

#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {

class SshServer {
 public:
  // Starts sshd and waits until it accepts connections. On failure records a
  // test failure naming the reason (with sshd's log) and returns nullptr.
  static std::unique_ptr<SshServer> Start();

  ~SshServer();
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;

  int port() const { return port_; }
  // The login name: the user the test runs as.
  const std::string& user() const { return user_; }
  // "sftp://<user>@127.0.0.1:<port><path>". REQUIRES: `path` is absolute.
  std::string Url(const std::filesystem::path& path) const;

  // The private key sshd accepts for user(), and a known_hosts file that
  // lists this server ("[127.0.0.1]:<port> ssh-ed25519 ...").
  std::filesystem::path user_key() const { return dir_ / "user_key"; }
  std::filesystem::path known_hosts() const { return dir_ / "known_hosts"; }
  std::filesystem::path dir() const { return dir_.path(); }

  // sshd's own log (LogLevel VERBOSE): logins, refusals, SFTP sessions.
  std::string Log() const;

 private:
  SshServer();
  bool Launch();
  std::string Config() const;

  TempDir dir_;
  std::string user_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_SSHD_H_
