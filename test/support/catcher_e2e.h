// What every end-to-end fixture of catcher shares: one real nginx for the
// suite (HTTPS with the test PKI's server certificate, plus the suite's own
// locations), and for each test a temporary directory with catcher's state,
// an empty policy and config, and a directory on the server named after the
// test, so that tests never see each other's files.
//
// A suite derives from CatcherE2eTest<Suite> (CRTP: each suite has its own
// server); a SetUp() of its own calls this one first.
#ifndef VMC_TEST_SUPPORT_CATCHER_E2E_H_
#define VMC_TEST_SUPPORT_CATCHER_E2E_H_

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {

// Polls `done` every 100 ms (some checks run catcher) until it holds or
// `timeout` passes.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

// `update --json`'s first line: subscription -> result.
inline std::map<std::string, std::string> UpdateResults(const RunResult& r) {
  std::map<std::string, std::string> out;
  const auto lines = Lines(r.out);
  if (lines.empty()) return out;
  auto doc = ParseJson(lines.front());
  if (!doc || !doc->IsArray()) return out;
  for (const auto& item : doc->GetArray()) out[Str(item, "subscription")] = Str(item, "result");
  return out;
}

template <typename Suite>
class CatcherE2eTest : public ::testing::Test {
 protected:
  // A suite with locations of its own defines SetUpTestSuite() calling
  // StartServer() with them.
  static void SetUpTestSuite() { StartServer({}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  // Starts the suite's nginx with `options` (HTTPS with the PKI's server
  // certificate whatever they say).
  static void StartServer(NginxOptions options) {
    options.tls_cert = TestPki::Get().server_fullchain();
    options.tls_key = TestPki::Get().server().key;
    server_ = NginxServer::Start(std::move(options)).release();
    e1_ = NamesOf(TestPki::Get().endorser1());
    e2_ = NamesOf(TestPki::Get().endorser2());
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    state_ = dir_ / "state";
    policy_ = dir_ / "policy.json";
    config_ = dir_ / "catcher.conf";
    ca_dir_ = TestPki::Get().ca_dir();
    WriteFile(policy_, "{}\n");
    WriteFile(config_, "");
    std::filesystem::create_directories(server_->root() / name_);
  }

  // catcher with this test's config, state, CA directory and policy.
  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {VMC_CATCHER_BIN,  "--config",      config_.string(),
                                     "--state-dir",    state_.string(), "--ca-dir",
                                     ca_dir_.string(), "--policy",      policy_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // No proxy from the environment may stand between catcher and nginx.
  static RunOptions CatcherOptions() {
    RunOptions options;
    options.timeout = std::chrono::seconds(60);
    options.unset_env = {"http_proxy",  "https_proxy", "HTTP_PROXY",
                         "HTTPS_PROXY", "ALL_PROXY",   "all_proxy"};
    return options;
  }

  RunResult Catcher(const std::vector<std::string>& args) const {
    return test::Run(Argv(args), CatcherOptions());
  }

  // catcher left running (a daemon, or a run the test kills), its output
  // going to `log`.
  std::unique_ptr<BackgroundProcess> Start(const std::vector<std::string>& args,
                                           const std::filesystem::path& log) const {
    return std::make_unique<BackgroundProcess>(Argv(args), log, CatcherOptions());
  }

  // Serves `bytes` at <test>/<path> (see Serve()); returns them.
  std::string PublishBytes(const std::string& path, const std::string& bytes) const {
    Serve(server_->root() / name_ / path, bytes);
    return bytes;
  }

  // Signs `spec` with `signer` and serves it at <test>/<path>; returns the
  // signed bytes.
  std::string Publish(const std::string& path, const ListSpec& spec,
                      const PkiIdentity& signer = TestPki::Get().endorser1()) const {
    auto signed_list = BuildSignedList(spec, signer);
    if (!signed_list.ok()) {
      ADD_FAILURE() << "cannot build list: " << signed_list.error().ToString();
      return "";
    }
    return PublishBytes(path, *signed_list);
  }

  std::string Url(const std::string& path) const { return server_->Url("/" + name_ + "/" + path); }

  // A policy with endorsers e1 and e2 (endorser1 and endorser2 of the PKI).
  // `subscriptions` and `rest` are JSON text for the array's items and for
  // more top-level members (", \"deny\": [...]").
  void WritePolicy(const std::string& subscriptions, const std::string& rest = "") const {
    WriteFile(policy_, "// written by " + name_ + "\n{\n  \"endorsers\": {\n    \"e1\": {\"dn\": " +
                           Quote(e1_.dn) + ", \"ca\": " + Quote(e1_.ca) +
                           "},\n    \"e2\": {\"dn\": " + Quote(e2_.dn) +
                           ", \"ca\": " + Quote(e2_.ca) + "}\n  },\n  \"subscriptions\": [" +
                           subscriptions + "]" + rest + "\n}\n");
  }

  // One subscription item for WritePolicy().
  static std::string Sub(const std::string& name, const std::string& url,
                         const std::string& endorser = "e1", const std::string& extra = "") {
    return "{\"name\": " + Quote(name) + ", \"url\": " + Quote(url) +
           ", \"endorser\": " + Quote(endorser) + extra + "}";
  }

  // Runs `update --json [NAMES]`, expecting success.
  void UpdateOk(const std::vector<std::string>& names = {}) const {
    std::vector<std::string> args = {"--json", "update"};
    args.insert(args.end(), names.begin(), names.end());
    const RunResult r = Catcher(args);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
  }

  // The LMDB environment as mdb_dump prints it: database name -> its dump
  // (header and data).
  std::map<std::string, std::string> Dump() const {
    const RunResult r = test::Run({"mdb_dump", "-a", "-p", (state_ / "db").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::string> out;
    std::string name;
    std::string block;
    for (const auto& line : Lines(r.out)) {
      if (line.rfind("database=", 0) == 0) name = line.substr(9);
      block += line + "\n";
      if (line == "DATA=END") {
        out[name] = std::move(block);
        block.clear();
        name.clear();
      }
    }
    EXPECT_TRUE(block.empty()) << "unexpected mdb_dump output: " << r.out;
    EXPECT_EQ(out.count("attempts"), 1u) << r.out;
    return out;
  }

  // Dump() without "attempts", which records every refusal by design.
  std::map<std::string, std::string> DumpWithoutAttempts() const {
    auto dump = Dump();
    dump.erase("attempts");
    return dump;
  }

  // The items of `COMMAND --json` (an array on its first line) by their
  // member `key`: each item's string members.
  std::map<std::string, std::map<std::string, std::string>> ItemsOf(const std::string& command,
                                                                    const char* key) const {
    const RunResult r = Catcher({"--json", command});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    std::map<std::string, std::map<std::string, std::string>> out;
    auto doc = ParseJson(Lines(r.out).empty() ? "" : Lines(r.out).front());
    if (!doc || !doc->IsArray()) {
      ADD_FAILURE() << command << " --json: " << r.out;
      return out;
    }
    for (const auto& item : doc->GetArray()) {
      auto& fields = out[Str(item, key)];
      for (const auto& m : item.GetObject()) {
        if (m.value.IsString()) fields[m.name.GetString()] = m.value.GetString();
      }
    }
    return out;
  }

  // `subscriptions --json` as name -> its string members.
  std::map<std::string, std::map<std::string, std::string>> Subscriptions() const {
    return ItemsOf("subscriptions", "name");
  }

  // `images --json`: identifier -> state.
  std::map<std::string, std::string> ImageStates() const {
    const RunResult r = Catcher({"--json", "images"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    std::map<std::string, std::string> out;
    auto doc = ParseJson(Lines(r.out).empty() ? "" : Lines(r.out).front());
    if (!doc || !doc->IsArray()) {
      ADD_FAILURE() << "images --json: " << r.out;
      return out;
    }
    for (const auto& item : doc->GetArray()) out[Str(item, "identifier")] = Str(item, "state");
    return out;
  }

  static inline NginxServer* server_ = nullptr;
  static inline Names e1_;
  static inline Names e2_;

  TempDir dir_;
  std::string name_;
  std::filesystem::path state_;
  std::filesystem::path policy_;
  std::filesystem::path config_;
  std::filesystem::path ca_dir_;
};

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_CATCHER_E2E_H_
