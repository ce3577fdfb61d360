// What every end-to-end fixture of caster shares: for each test a temporary
// directory with the test's store and config file, and one way of running
// the real caster on them, in an environment of the test's own: HOME and the
// XDG directories inside the test directory, so that no default path reaches
// the user's real store or config, and no proxy variables, so that nothing
// stands between caster and the suite's servers on loopback. Also the checks
// both suites make of what caster wrote (sha512sum, CRLF of signed content).
//
// A suite derives from CasterE2eTest. Its servers (nginx, sshd) are statics
// of its own, started in its SetUpTestSuite() (nginx with StartNginx()); its
// SetUp() writes the config file, which is not the same for every suite.
#ifndef VMC_TEST_SUPPORT_CASTER_E2E_H_
#define VMC_TEST_SUPPORT_CASTER_E2E_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {

// `text` without its line end: caster prints an identifier on a line.
inline std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// S/MIME content travels with CRLF line ends; the store's JSON has LF.
inline std::string StripCr(std::string text) {
  std::erase(text, '\r');
  return text;
}

// `n` bytes that depend only on `seed`: image files whose checksums are the
// same from run to run and differ between seeds.
inline std::string RandomBytes(size_t n, unsigned seed) {
  std::string out(n, '\0');
  unsigned x = seed * 2654435761u + 1;
  for (char& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// Runs a helper program (not caster) that must succeed.
inline RunResult MustRun(const std::vector<std::string>& argv) {
  RunResult r = Run(argv);
  std::string command;
  for (const auto& a : argv) command += a + " ";
  EXPECT_EQ(r.exit_code, 0) << command << "\n" << Describe(r);
  return r;
}

// The hex SHA-512 of `file` by the stock sha512sum, which caster's own
// measurement must match.
inline std::string Sha512Sum(const std::filesystem::path& file) {
  return MustRun({"sha512sum", file.string()}).out.substr(0, 128);
}

// caster's options to sign as `id`.
inline std::vector<std::string> KeyArgs(const PkiIdentity& id) {
  return {"--cert", id.cert.string(), "--key", id.key.string()};
}

class CasterE2eTest : public ::testing::Test {
 protected:
  // An nginx for a suite's SetUpTestSuite(), HTTPS with the test PKI's server
  // certificate whatever `options` say: the only one the CA directory the
  // tests give caster vouches for.
  static std::unique_ptr<NginxServer> StartNginx(NginxOptions options) {
    options.tls_cert = TestPki::Get().server_fullchain();
    options.tls_key = TestPki::Get().server().key;
    return NginxServer::Start(std::move(options));
  }

  // caster with this test's store and config file, run by `prefix` when
  // the test needs caster started in another way (setsid: no terminal).
  RunResult Caster(const std::vector<std::string>& args,
                   const std::vector<std::string>& prefix = {}) const {
    return Bare(CasterArgv(args, prefix));
  }

  // caster as Caster() runs it, its stderr a pseudo-terminal: `err` is what
  // a person at a terminal sees (RunOptions::stderr_terminal).
  RunResult CasterOnTerminal(const std::vector<std::string>& args) const {
    RunOptions options = Environment();
    options.stderr_terminal = true;
    return test::Run(CasterArgv(args, {}), options);
  }

  // argv as it is (caster without --store or --config, to see its
  // defaults), in this test's environment.
  RunResult Bare(const std::vector<std::string>& argv) const {
    return test::Run(argv, Environment());
  }

  // `prefix`, caster with this test's store and config file, `args`.
  std::vector<std::string> CasterArgv(const std::vector<std::string>& args,
                                      const std::vector<std::string>& prefix) const {
    std::vector<std::string> argv = prefix;
    argv.insert(argv.end(),
                {VMC_CASTER_BIN, "--store", store_.string(), "--config", config_.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // This test's environment for caster.
  RunOptions Environment() const {
    RunOptions options;
    options.timeout = std::chrono::seconds(60);
    options.env = {{"XDG_CONFIG_HOME", (dir_ / "xdg-config").string()},
                   {"XDG_DATA_HOME", (dir_ / "xdg-data").string()},
                   {"HOME", (dir_ / "home").string()}};
    options.unset_env = {"http_proxy",  "https_proxy", "HTTP_PROXY",
                         "HTTPS_PROXY", "ALL_PROXY",   "all_proxy"};
    return options;
  }

  // caster expecting success; its stdout.
  std::string Ok(const std::vector<std::string>& args) const {
    const RunResult r = Caster(args);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    return r.out;
  }

  TempDir dir_;
  std::filesystem::path store_ = dir_ / "store";
  std::filesystem::path config_ = dir_ / "caster.conf";
};

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_CASTER_E2E_H_
