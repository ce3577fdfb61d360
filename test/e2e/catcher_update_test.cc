// End-to-end tests of catcher's subscriptions, verification, policy and state
// (issue 4): the real catcher executable against lists signed with the test
// PKI and served by a real nginx over HTTPS on loopback. catcher verifies TLS
// and signatures against the PKI's CA directory, keeps its state in a private
// --state-dir, and reads a policy and a config file the test writes.
//
// Every refusal is checked three ways: the exit status (DESIGN.md section 8),
// the machine code of `--json`, and an LMDB dump (mdb_dump) of the state taken
// before and after, which must be equal except for the "attempts" database,
// where the refusal's reason is recorded by design.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/imagelist.h"
#include "common/smime.h"
#include "test/support/catcher_e2e.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/nginx.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::seconds;

TimePoint Now() { return std::chrono::time_point_cast<seconds>(std::chrono::system_clock::now()); }

const TestPki& Pki() { return TestPki::Get(); }

// --- the fixture -------------------------------------------------------------

class CatcherUpdateTest : public CatcherE2eTest<CatcherUpdateTest> {
 protected:
  static void SetUpTestSuite() {
    NginxOptions options;
    // One byte a second: a server that stalls.
    options.server_config = "    location /slow/ { limit_rate 1; }\n";
    StartServer(std::move(options));
  }

  // The policy with one subscription "sub" to <test>/list trusting e1.
  void WriteStandardPolicy(const std::string& extra = "", const std::string& rest = "") {
    WritePolicy(Sub("sub", Url("list"), "e1", extra), rest);
  }

  // Runs `update --json [sub]` and expects the refusal `code` with `exit_status`
  // for `sub`, the state unchanged but for the attempt, and the reason both
  // recorded in "attempts" and shown by `subscriptions --json`.
  void ExpectRefused(const std::string& code, int exit_status, const std::string& sub = "sub",
                     bool name_it = false) {
    SCOPED_TRACE("expecting " + code + " for " + sub);
    const auto before = DumpWithoutAttempts();
    std::vector<std::string> args = {"--json", "update"};
    if (name_it) args.push_back(sub);
    const RunResult r = Catcher(args);
    EXPECT_EQ(r.exit_code, exit_status) << Describe(r);
    EXPECT_EQ(ErrorCodeOf(r), code) << Describe(r);
    EXPECT_EQ(UpdateResults(r)[sub], code) << Describe(r);
    EXPECT_EQ(DumpWithoutAttempts(), before) << "a refused list changed the database";
    EXPECT_NE(Dump()["attempts"].find(code), std::string::npos)
        << "the refusal is not recorded in the attempts database";
    auto subs = Subscriptions();
    EXPECT_EQ(subs[sub]["result"], code);
    EXPECT_NE(subs[sub]["message"], "");
    EXPECT_NE(subs[sub]["message"].find(sub), std::string::npos) << subs[sub]["message"];
  }

  // `images --json`: identifier -> {state, reason, ...} (string members).
  std::map<std::string, std::map<std::string, std::string>> Images() const {
    return ItemsOf("images", "identifier");
  }

  static ImageSpec Img(const std::string& id) {
    ImageSpec s;
    s.identifier = id;
    return s;
  }

  static ListSpec Spec(const std::string& id, const std::string& version,
                       std::vector<ImageSpec> images = {Img("img-a"), Img("img-b")}) {
    ListSpec s;
    s.identifier = id;
    s.version = version;
    s.images = std::move(images);
    return s;
  }
};

// --- threats of DESIGN.md section 5, steps 4 to 9 ----------------------------

// Step 4: the list declares an endorser (hv:dn / hv:ca) other than its signer.
TEST_F(CatcherUpdateTest, EndorserMismatchRejected) {
  WriteStandardPolicy();
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"));
  UpdateOk();

  struct Case {
    const char* what;
    std::optional<std::string> dn;
    std::optional<std::string> ca;
    std::optional<PkiIdentity> declared;
  };
  const Case cases[] = {
      {"hv:dn names another endorser", e2_.dn, std::nullopt, std::nullopt},
      {"hv:ca names another CA", std::nullopt, "/C=DE/O=Test Grid/CN=Test Root CA", std::nullopt},
      {"hv:dn differs in one attribute", "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser Eins",
       std::nullopt, std::nullopt},
      {"the whole endorser is endorser2's", std::nullopt, std::nullopt, Pki().endorser2()},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ListSpec spec = Spec(id, "2");
    spec.endorser_dn = c.dn;
    spec.endorser_ca = c.ca;
    spec.endorser = c.declared;
    Publish("list", spec, Pki().endorser1());
    ExpectRefused("endorser-mismatch", 5);
  }
  // The same list declaring its true signer is accepted: the refusals above
  // were for the declaration alone.
  Publish("list", Spec(id, "2"));
  UpdateOk();
}

// Step 4: a valid endorser that the policy trusts, but not for this
// subscription.
TEST_F(CatcherUpdateTest, UntrustedEndorserRejected) {
  WritePolicy(Sub("sub", Url("list"), "e1") + ", " + Sub("other", Url("other"), "e2"));
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"));
  Publish("other", Spec(NewTestUuid(), "1"), Pki().endorser2());
  UpdateOk();

  // The admin now trusts only endorser2 for "sub": the unchanged list (a 304)
  // is judged again and no longer trusted.
  WritePolicy(Sub("sub", Url("list"), "e2") + ", " + Sub("other", Url("other"), "e2"));
  ExpectRefused("untrusted-endorser", 5, "sub", true);
  EXPECT_EQ(server_->WaitForLog("/" + name_ + "/list", 2).back().status, 304);
  WritePolicy(Sub("sub", Url("list"), "e1") + ", " + Sub("other", Url("other"), "e2"));

  // endorser2 signs a list for "sub", declaring itself honestly ...
  Publish("list", Spec(id, "2"), Pki().endorser2());
  ExpectRefused("untrusted-endorser", 5, "sub", true);
  // ... or declaring endorser1, whom "sub" trusts.
  ListSpec forged = Spec(id, "2");
  forged.endorser = Pki().endorser1();
  Publish("list", forged, Pki().endorser2());
  ExpectRefused("untrusted-endorser", 5, "sub", true);

  // A subscription made with `catcher subscribe` pins its endorser the same way.
  Publish("subscribed", Spec(NewTestUuid(), "1"), Pki().endorser2());
  const auto before = Dump();
  const RunResult r = Catcher(
      {"--json", "subscribe", Url("subscribed"), "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  EXPECT_EQ(r.exit_code, 5) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "untrusted-endorser");
  EXPECT_EQ(Dump(), before);
}

// Step 6: after the first update the server substitutes another list of the
// same endorser.
TEST_F(CatcherUpdateTest, IdentifierMismatchRejected) {
  const std::string pinned = NewTestUuid();
  WritePolicy(Sub("sub", Url("list")) + ", " +
              Sub("pinned", Url("pinned"), "e1", ", \"identifier\": " + Quote(pinned)));
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"));
  Publish("pinned", Spec(pinned, "1"));
  UpdateOk();

  // The admin pins "pinned" to another list: the list held, unchanged (a
  // 304), is judged again and refused.
  WritePolicy(Sub("sub", Url("list")) + ", " +
              Sub("pinned", Url("pinned"), "e1", ", \"identifier\": " + Quote(NewTestUuid())));
  ExpectRefused("identifier-mismatch", 5, "pinned", true);
  EXPECT_EQ(server_->WaitForLog("/" + name_ + "/pinned", 2).back().status, 304);
  WritePolicy(Sub("sub", Url("list")) + ", " +
              Sub("pinned", Url("pinned"), "e1", ", \"identifier\": " + Quote(pinned)));

  Publish("list", Spec(NewTestUuid(), "2"));
  ExpectRefused("identifier-mismatch", 5, "sub", true);
  const auto subs = Subscriptions();
  EXPECT_NE(subs.at("sub").at("message").find(id), std::string::npos);

  // A subscription made with `catcher subscribe` keeps the identifier it
  // subscribed to.
  Publish("mine", Spec(NewTestUuid(), "1"));
  const RunResult sub = Catcher({"subscribe", Url("mine"), "--name", "mine", "--endorser-dn",
                                 e1_.dn, "--endorser-ca", e1_.ca});
  ASSERT_EQ(sub.exit_code, 0) << Describe(sub);
  Publish("mine", Spec(NewTestUuid(), "2"));
  ExpectRefused("identifier-mismatch", 5, "mine", true);

  // A list identifier pinned in the policy holds from the first update on.
  WritePolicy(Sub("sub", Url("list")) + ", " +
              Sub("fresh", Url("fresh"), "e1", ", \"identifier\": " + Quote(pinned)));
  Publish("fresh", Spec(NewTestUuid(), "1"));
  ExpectRefused("identifier-mismatch", 5, "fresh", true);
}

// Step 7: a replay of an old list, still correctly signed, whose
// dc:date:expires has passed (a freeze attack).
TEST_F(CatcherUpdateTest, ExpiredListRejected) {
  WriteStandardPolicy();
  const std::string id = NewTestUuid();
  ListSpec current = Spec(id, "2");
  current.expires = Now() + seconds(4);
  Publish("list", current);
  UpdateOk();

  // The server freezes on the accepted list until it has expired: the stored
  // bytes are judged again at the new "now" (after a 304) and refused.
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(*current.expires) +
                                seconds(1));
  ExpectRefused("list-expired", 5);
  const auto log = server_->WaitForLog("/" + name_ + "/list", 2);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log.back().status, 304);

  // An old list replayed.
  ListSpec old = Spec(id, "1");
  old.created = Now() - hours(24 * 40);
  old.expires = Now() - hours(24 * 10);
  Publish("list", old);
  ExpectRefused("list-expired", 5);
  // An expired list with a higher version is refused for its date alone.
  old.version = "3";
  Publish("list", old);
  ExpectRefused("list-expired", 5);
}

// Step 7: a list created in the future (beyond the allowed clock skew).
TEST_F(CatcherUpdateTest, FutureCreatedRejected) {
  WriteStandardPolicy();
  WriteFile(config_, "created-skew = 5m\n");
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"));
  UpdateOk();

  ListSpec future = Spec(id, "2");
  future.created = Now() + hours(1);
  Publish("list", future);
  ExpectRefused("list-future-dated", 5);
  future.created = Now() + hours(24 * 365);
  Publish("list", future);
  ExpectRefused("list-future-dated", 5);

  // Within the skew: accepted.
  future.created = Now() + seconds(60);
  Publish("list", future);
  UpdateOk();
  // The skew is the config file's.
  WriteFile(config_, "created-skew = 10s\n");
  future.version = "3";
  Publish("list", future);
  ExpectRefused("list-future-dated", 5);
}

// Step 8: hv:version goes down (compared numerically: 1.9 < 1.10).
TEST_F(CatcherUpdateTest, VersionRollbackRejected) {
  WriteStandardPolicy();
  const std::string id = NewTestUuid();
  const std::string first = Publish("list", Spec(id, "1.9"));
  UpdateOk();
  Publish("list", Spec(id, "1.10"));
  UpdateOk();

  // The previous list, replayed byte for byte.
  PublishBytes("list", first);
  ExpectRefused("version-rollback", 5);
  // A new signature over a lower version.
  Publish("list", Spec(id, "1.2"));
  ExpectRefused("version-rollback", 5);
  const auto subs = Subscriptions();
  EXPECT_NE(subs.at("sub").at("message").find("1.10"), std::string::npos);
}

// Step 8: the same version with other content (a fork).
TEST_F(CatcherUpdateTest, SameVersionDifferentContentRejected) {
  WriteStandardPolicy();
  const std::string id = NewTestUuid();
  ListSpec accepted = Spec(id, "3");
  accepted.created = Now() - hours(1);
  accepted.expires = Now() + hours(24 * 30);
  const auto content = BuildListJson(accepted, Pki().endorser1());
  ASSERT_TRUE(content.ok());
  PublishBytes("list", SignContent(*content, Pki().endorser1()).value());
  UpdateOk();

  // Forks that differ by one image, or by the title alone.
  ListSpec forked = accepted;
  forked.images.push_back(Img("img-evil"));
  Publish("list", forked);
  ExpectRefused("version-reused", 5);
  ListSpec retitled = accepted;
  retitled.title = "Another title";
  Publish("list", retitled);
  ExpectRefused("version-reused", 5);

  // The same content under a new signature is no fork: accepted, unchanged.
  PublishBytes("list", SignContent(*content, Pki().endorser1()).value());
  const RunResult r = Catcher({"--json", "update"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(UpdateResults(r)["sub"], "unchanged");
}

// Step 1: a list larger than the policy's limits.max_list_bytes, and one
// larger than the default 16 MiB without a policy limit.
TEST_F(CatcherUpdateTest, OversizedListRejected) {
  WriteStandardPolicy("", ",\n  \"limits\": {\"max_list_bytes\": 16384}");
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"));
  UpdateOk();

  std::vector<ImageSpec> many;
  many.reserve(40);
  for (int i = 0; i < 40; ++i) many.push_back(Img("img-" + std::to_string(i)));
  const std::string big = Publish("list", Spec(id, "2", many));
  ASSERT_GT(big.size(), 16384u);
  ExpectRefused("list-too-large", 5);

  // Without a policy limit the same list is fine ...
  WriteStandardPolicy();
  UpdateOk();
  // ... but one over 16 MiB is not.
  ListSpec huge = Spec(id, "3");
  huge.description = std::string(std::size_t{17} << 20, 'x');
  const std::string huge_bytes = Publish("list", huge);
  ASSERT_GT(huge_bytes.size(), std::size_t{16} << 20);
  ExpectRefused("list-too-large", 5);
}

// Step 1: a server that sends one byte a second is abandoned after the
// configured low-speed time, not after the total timeout.
TEST_F(CatcherUpdateTest, StalledServerAborted) {
  WriteFile(config_, "low-speed-time = 2s\nfetch-timeout = 60s\n");
  WriteStandardPolicy();
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"));
  UpdateOk();

  // The subscription's list moves to a stalling location.
  const std::string bytes = BuildSignedList(Spec(id, "2"), Pki().endorser1()).value();
  const fs::path slow = server_->root() / "slow" / name_ / "list";
  fs::create_directories(slow.parent_path());
  WriteFile(slow, bytes);
  WritePolicy(Sub("sub", server_->Url("/slow/" + name_ + "/list")));
  const auto start = std::chrono::steady_clock::now();
  ExpectRefused("transfer-timeout", 3);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, seconds(20)) << "the low-speed limit did not apply";
}

// Steps 5 and 9: identifiers that would escape a directory or hide a file.
TEST_F(CatcherUpdateTest, TraversalIdentifierRejected) {
  WriteStandardPolicy();
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"));
  UpdateOk();

  const std::string hostile[] = {
      "../../etc/passwd",   ".hidden", "..", "a/b", "x\ny", std::string("nul\0byte", 8),
      std::string(129, 'a')};
  int version = 2;
  for (const auto& bad : hostile) {
    SCOPED_TRACE("identifier " + Quote(bad));
    // As an image identifier ...
    Publish("list", Spec(id, std::to_string(version++), {Img("img-a"), Img(bad)}));
    ExpectRefused("invalid-identifier", 5);
    // ... and as the list's own.
    Publish("list", Spec(bad, std::to_string(version++)));
    ExpectRefused("invalid-identifier", 5);
  }
  // Nothing was created outside the database.
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(state_)) {
    files.push_back(fs::relative(e.path(), state_).string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"db", "db/data.mdb", "db/lock.mdb"}));

  // `subscribe` refuses such a list before recording anything.
  Publish("hostile", Spec("../../etc/passwd", "1"));
  const auto before = Dump();
  const RunResult r = Catcher(
      {"--json", "subscribe", Url("hostile"), "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  EXPECT_EQ(r.exit_code, 5) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "invalid-identifier");
  EXPECT_EQ(Dump(), before);
  // Nor does a hostile --name get through.
  Publish("named", Spec(NewTestUuid(), "1"));
  const RunResult named = Catcher({"--json", "subscribe", Url("named"), "--name", "../x",
                                   "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  EXPECT_EQ(named.exit_code, 5) << Describe(named);
  EXPECT_EQ(ErrorCodeOf(named), "invalid-identifier");
  EXPECT_EQ(Dump(), before);
}

// Step 3 with a CRL replaced on disk between two updates: the second update
// builds a fresh trust store and refuses the now revoked endorser.
TEST_F(CatcherUpdateTest, ReplacedCrlRevokesEndorserAtNextUpdate) {
  ca_dir_ = dir_ / "cadir";
  fs::copy(Pki().ca_dir(), ca_dir_);
  fs::path intermediate_crl;
  const std::string current_crl = ReadFile(Pki().intermediate_crl());
  for (const auto& e : fs::directory_iterator(ca_dir_)) {
    if (e.path().extension() == ".r0" && ReadFile(e.path()) == current_crl) {
      intermediate_crl = e.path();
    }
  }
  ASSERT_FALSE(intermediate_crl.empty()) << "no .r0 holds the intermediate's CRL";

  WritePolicy(Sub("sub", Url("list"), "e2"));
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"), Pki().endorser2());
  UpdateOk();

  const fs::path tmp = intermediate_crl.string() + ".new";
  fs::copy_file(Pki().intermediate_crl_revoking_endorser2(), tmp);
  fs::rename(tmp, intermediate_crl);
  // The list did not change (the stored bytes are judged again) ...
  ExpectRefused("signer-revoked", 4);
  EXPECT_EQ(server_->WaitForLog("/" + name_ + "/list", 2).back().status, 304);
  // ... nor is a new version from the revoked endorser accepted.
  Publish("list", Spec(id, "2"), Pki().endorser2());
  ExpectRefused("signer-revoked", 4);
  // The images of the held list are no longer available.
  auto images = Images();
  EXPECT_EQ(images.size(), 2u);
  for (auto& [image, fields] : images) {
    EXPECT_EQ(fields["state"], "expired") << image;
    EXPECT_NE(fields["reason"].find("revoked"), std::string::npos) << fields["reason"];
  }

  // The original CRL back: accepted again.
  fs::copy_file(Pki().intermediate_crl(), tmp);
  fs::rename(tmp, intermediate_crl);
  UpdateOk();

  // The CRL gone from the directory: the list held, unchanged (a 304), is
  // refused for it, as a new list would be.
  fs::remove(intermediate_crl);
  ExpectRefused("crl-missing", 4);
  EXPECT_EQ(server_->WaitForLog("/" + name_ + "/list", 5).back().status, 304);
}

// Step 1: TLS is verified against the CA directory: with one that does not
// hold the server's CA, nothing is fetched.
TEST_F(CatcherUpdateTest, TlsVerifiedAgainstTheCaDirectory) {
  WriteStandardPolicy();
  Publish("list", Spec(NewTestUuid(), "1"));
  ca_dir_ = dir_ / "empty-cadir";
  fs::create_directories(ca_dir_);
  ASSERT_EQ(Catcher({"subscriptions"}).exit_code, 0);
  ExpectRefused("tls-error", 3);
  const auto before = Dump();
  Publish("other", Spec(NewTestUuid(), "1"));
  const RunResult r = Catcher({"--json", "subscribe", Url("other"), "--name", "mine",
                               "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "tls-error");
  EXPECT_EQ(Dump(), before);
  // With the right CA directory the same server is fine.
  ca_dir_ = Pki().ca_dir();
  UpdateOk();
}

// A CA directory that is missing, a file, or unreadable is said to be so
// (ca-dir-invalid, with its path) before any transfer: TLS to the list's
// server would otherwise report only that the system's roots lack its CA.
TEST_F(CatcherUpdateTest, AnUnusableCaDirectoryIsSaidBeforeAnyTransfer) {
  WriteStandardPolicy();
  Publish("list", Spec(NewTestUuid(), "1"));
  WriteFile(dir_ / "a-file", "not a directory");
  for (const fs::path& bad : {dir_ / "missing", dir_ / "a-file"}) {
    ca_dir_ = bad;
    ASSERT_EQ(Catcher({"subscriptions"}).exit_code, 0);
    ExpectRefused("ca-dir-invalid", 4);
    const RunResult r = Catcher({"update"});
    EXPECT_NE(r.err.find("CA directory " + bad.string() + " "), std::string::npos) << r.err;
    // One line for the one subscription, not its TLS failure.
    EXPECT_EQ(r.err.find("tls"), std::string::npos) << r.err;
  }
  // `subscribe` too, which updates outside a cycle.
  Publish("other", Spec(NewTestUuid(), "1"));
  const RunResult subscribed = Catcher({"--json", "subscribe", Url("other"), "--name", "mine",
                                        "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  EXPECT_EQ(subscribed.exit_code, 4) << Describe(subscribed);
  EXPECT_EQ(ErrorCodeOf(subscribed), "ca-dir-invalid") << Describe(subscribed);
  for (const std::string list : {"list", "other"}) {
    EXPECT_TRUE(
        server_->WaitForLog("/" + name_ + "/" + list, 1, std::chrono::milliseconds(300)).empty())
        << list << " was fetched";
  }
  ca_dir_ = Pki().ca_dir();
  UpdateOk();
}

// An event command that cannot run is said when the config is read, once
// (config-invalid, exit 2), before anything is fetched: not at the first
// event, after transfers, and not once by the cycle and again by main.
TEST_F(CatcherUpdateTest, AnEventCommandThatCannotRunIsSaidOnceBeforeAnything) {
  WriteStandardPolicy();
  Publish("list", Spec(NewTestUuid(), "1"));
  WriteFile(dir_ / "not-executable", "#!/bin/sh\n");
  for (const fs::path& bad : {dir_ / "missing", dir_ / "not-executable"}) {
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"update"}, {"run", "--once"}, {"cache"}}) {
      std::vector<std::string> args = {"--event-command", bad.string()};
      args.insert(args.end(), command.begin(), command.end());
      const RunResult r = Catcher(args);
      EXPECT_EQ(r.exit_code, 2) << Describe(r);
      const std::string said = "event-command: \"" + bad.string() + "\" is not an executable file";
      const auto first = r.err.find(said);
      ASSERT_NE(first, std::string::npos) << r.err;
      EXPECT_EQ(r.err.find(said, first + 1), std::string::npos) << "said twice: " << r.err;
      EXPECT_NE(r.err.find("[config-invalid]"), std::string::npos) << r.err;
    }
  }
  EXPECT_TRUE(server_->WaitForLog("/" + name_ + "/list", 1, std::chrono::milliseconds(300)).empty())
      << "the list was fetched";
}

// --- policy ------------------------------------------------------------------

// Each case: a subscription's selection, deny rules, the images of version 1
// (and of version 2, if any), the admin's choices, and the expected state and
// reason of every image in `images --json`.
TEST_F(CatcherUpdateTest, PolicySelectionTable) {
  const std::string sha_b(128, 'b');
  struct Expect {
    std::string state;
    std::string reason;  // a part of it
  };
  struct Case {
    std::string what;
    std::string sub_extra;                                     // members of the subscription
    std::string deny;                                          // the deny array's items
    bool second_version;                                       // version 2 adds img-c
    std::vector<std::pair<std::string, std::string>> choices;  // accept|refuse, image
    std::map<std::string, Expect> expect;
  };
  const Expect wanted_all{"wanted", "selects all images"};
  const std::vector<Case> cases = {
      {"images all",
       R"(, "images": "all")",
       "",
       false,
       {},
       {{"img-a", wanted_all}, {"img-b", wanted_all}}},
      {"images none",
       R"(, "images": "none")",
       "",
       false,
       {},
       {{"img-a", {"available", "selects no images"}},
        {"img-b", {"available", "selects no images"}}}},
      {"images listed",
       R"(, "images": ["img-a"])",
       "",
       false,
       {},
       {{"img-a", {"wanted", "listed"}}, {"img-b", {"available", "not in the subscription"}}}},
      {"new images refused",
       R"(, "new_images": "refuse")",
       "",
       true,
       {},
       {{"img-a", wanted_all},
        {"img-b", wanted_all},
        {"img-c", {"available", "awaits 'catcher image accept'"}}}},
      {"new images accepted",
       R"(, "new_images": "accept")",
       "",
       true,
       {},
       {{"img-a", wanted_all}, {"img-b", wanted_all}, {"img-c", wanted_all}}},
      {"listed images are accepted in advance",
       R"(, "images": ["img-c"], "new_images": "refuse")",
       "",
       true,
       {},
       {{"img-a", {"available", "not in the subscription"}},
        {"img-b", {"available", "not in the subscription"}},
        {"img-c", {"wanted", "listed"}}}},
      {"deny by sha512",
       "",
       R"({"sha512": ")" + sha_b + R"(", "comment": "bad build"})",
       false,
       {},
       {{"img-a", wanted_all}, {"img-b", {"denied", "policy rule 1"}}}},
      {"deny by image",
       "",
       R"({"image": "img-a"})",
       false,
       {},
       {{"img-a", {"denied", "policy rule 1"}}, {"img-b", wanted_all}}},
      {"deny by endorser",
       "",
       "{\"endorser_dn\": " + Quote(e1_.dn) + "}",
       false,
       {},
       {{"img-a", {"denied", "policy rule 1"}}, {"img-b", {"denied", "policy rule 1"}}}},
      {"deny rule for another endorser",
       "",
       "{\"endorser_dn\": " + Quote(e2_.dn) + "}",
       false,
       {},
       {{"img-a", wanted_all}, {"img-b", wanted_all}}},
      {"deny rule needs all its fields",
       "",
       R"({"image": "img-a", "endorser_dn": )" + Quote(e2_.dn) + R"(}, {"image": "img-b"})",
       false,
       {},
       {{"img-a", wanted_all}, {"img-b", {"denied", "policy rule 2"}}}},
      {"admin accepts under none",
       R"(, "images": "none")",
       "",
       false,
       {{"accept", "img-a"}},
       {{"img-a", {"wanted", "accepted by the admin"}},
        {"img-b", {"available", "selects no images"}}}},
      {"admin refuses under all",
       "",
       "",
       false,
       {{"refuse", "img-b"}},
       {{"img-a", wanted_all}, {"img-b", {"available", "refused by the admin"}}}},
      {"admin refuses a listed image",
       R"(, "images": ["img-a"])",
       "",
       false,
       {{"refuse", "img-a"}},
       {{"img-a", {"available", "refused by the admin"}},
        {"img-b", {"available", "not in the subscription"}}}},
      {"admin accepts a new image",
       R"(, "new_images": "refuse")",
       "",
       true,
       {{"accept", "img-c"}},
       {{"img-a", wanted_all},
        {"img-b", wanted_all},
        {"img-c", {"wanted", "accepted by the admin"}}}},
      {"deny beats the admin's acceptance",
       "",
       R"({"image": "img-a"})",
       false,
       {{"accept", "img-a"}},
       {{"img-a", {"denied", "policy rule 1"}}, {"img-b", wanted_all}}},
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    state_ = dir_ / ("state-" + std::to_string(++n));
    const std::string path = "list-" + std::to_string(n);
    WritePolicy(Sub("sub", Url(path), "e1", c.sub_extra),
                c.deny.empty() ? "" : ",\n  \"deny\": [" + c.deny + "]");
    ImageSpec b = Img("img-b");
    b.sha512 = sha_b;
    const std::string id = NewTestUuid();
    Publish(path, Spec(id, "1", {Img("img-a"), b}));
    UpdateOk();
    if (c.second_version) {
      Publish(path, Spec(id, "2", {Img("img-a"), b, Img("img-c")}));
      UpdateOk();
    }
    for (const auto& [verb, image] : c.choices) {
      const RunResult r = Catcher({"image", verb, image});
      EXPECT_EQ(r.exit_code, 0) << Describe(r);
    }
    auto images = Images();
    EXPECT_EQ(images.size(), c.expect.size());
    for (const auto& [image, expect] : c.expect) {
      EXPECT_EQ(images[image]["state"], expect.state) << image << ": " << images[image]["reason"];
      EXPECT_NE(images[image]["reason"].find(expect.reason), std::string::npos)
          << image << ": " << images[image]["reason"];
    }
  }
}

// AppDB writes numbers as strings, ad:* keys, per-image expiry and ad:vo;
// such a list is accepted and its fields are visible in `images --json`.
TEST_F(CatcherUpdateTest, AppDbListAcceptedWithItsFields) {
  auto list = ImageList::Parse(
      ReadFile(fs::path(VMC_SOURCE_DIR) / "test/data/imagelist/appdb-list.json"), nullptr);
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  Endorser endorser;
  endorser.dn = e1_.dn;
  endorser.ca = e1_.ca;
  ASSERT_TRUE(list->SetEndorser(endorser).ok());
  list->SetCreated(Now() - hours(1));
  const std::string ubuntu = "9f4e1c2a-7c8b-4a54-9d0e-3b5a6c7d8e9f";
  const std::string centos = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
  // One image's own expiry has passed; the list's has not.
  ASSERT_TRUE(list->SetImage(centos, "dc:date:expires", "2020-01-01T00:00:00Z").ok());
  auto signed_list = SignContent(list->Write(), Pki().endorser1());
  ASSERT_TRUE(signed_list.ok()) << signed_list.error().ToString();
  PublishBytes("list", *signed_list);
  WriteStandardPolicy();
  UpdateOk();

  const RunResult r = Catcher({"--json", "images"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto doc = ParseJson(Lines(r.out).front());
  ASSERT_TRUE(doc && doc->IsArray()) << r.out;
  ASSERT_EQ(doc->GetArray().Size(), 2u);
  std::map<std::string, const rapidjson::Value*> by_id;
  for (const auto& item : doc->GetArray()) by_id[Str(item, "identifier")] = &item;
  ASSERT_TRUE(by_id.count(ubuntu) == 1 && by_id.count(centos) == 1) << r.out;

  const rapidjson::Value& u = *by_id[ubuntu];
  EXPECT_EQ(Str(u, "state"), "wanted");
  EXPECT_EQ(Str(u, "vo"), "fedcloud.egi.eu");
  EXPECT_EQ(Str(u, "mpuri"),
            "https://appdb.egi.eu/store/vm/image/9f4e1c2a-7c8b-4a54-9d0e-3b5a6c7d8e9f:15432/");
  EXPECT_EQ(Str(u, "expires"), "2499-12-31T22:00:00Z");
  ASSERT_TRUE(u["size"].IsUint64()) << "a string size is read as a number";
  EXPECT_EQ(u["size"].GetUint64(), 2147483648u);
  EXPECT_EQ(Str(u, "sha512").substr(0, 8), "8b4c269a");
  const rapidjson::Value& meta = u["metadata"];
  EXPECT_EQ(Str(meta, "hv:size"), "2147483648") << "AppDB's string number is kept as written";
  EXPECT_EQ(Str(meta, "hv:ram_minimum"), "1024");
  EXPECT_EQ(Str(meta, "ad:appid"), "1079");
  EXPECT_EQ(Str(meta, "ad:group"), "General group");
  EXPECT_EQ(Str(meta, "ad:user:fullname"), "M\xc3\xa4rta Publisher");
  ASSERT_TRUE(meta.HasMember("x:extra") && meta["x:extra"].IsArray());

  const rapidjson::Value& c = *by_id[centos];
  EXPECT_EQ(Str(c, "state"), "expired");
  EXPECT_NE(Str(c, "reason").find("2020-01-01T00:00:00Z"), std::string::npos) << Str(c, "reason");
  EXPECT_EQ(Str(c, "vo"), "fedcloud.egi.eu") << "the list's ad:vo applies to its images";
  EXPECT_EQ(Str(c, "expires"), "2020-01-01T00:00:00Z");
  ASSERT_TRUE(c["metadata"]["hv:size"].IsUint64());
  EXPECT_EQ(c["metadata"]["hv:size"].GetUint64(), 8589934592u);
}

// The same AppDB habits in a list built here: an image-level ad:vo wins over
// the list's, and string counts stay strings.
TEST_F(CatcherUpdateTest, AppDbStyleFieldsOfBuiltList) {
  ImageSpec a = Img("appdb-a");
  a.size = 123;
  a.size_as_string = true;
  a.expires = Now() + hours(24 * 365);
  a.text = {{"ad:mpuri", "https://appdb.example/store/vm/image/appdb-a:1/"},
            {"ad:vo", "image.vo.example"},
            {"ad:appid", "42"}};
  a.json = {{"hv:ram_minimum", "\"512\""},
            {"hv:core_minimum", "\"2\""},
            {"ad:user:extra", R"({"k": [1, "two"]})"}};
  ImageSpec b = Img("appdb-b");
  ListSpec spec = Spec(NewTestUuid(), "20240616124537", {a, b});
  spec.text = {{"ad:vo", "list.vo.example"}, {"ad:swid", "810"}};
  Publish("list", spec);
  WriteStandardPolicy();
  UpdateOk();

  const RunResult r = Catcher({"--json", "images"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto doc = ParseJson(Lines(r.out).front());
  ASSERT_TRUE(doc && doc->IsArray() && doc->GetArray().Size() == 2) << r.out;
  const rapidjson::Value& first = (*doc)[0];
  const rapidjson::Value& second = (*doc)[1];
  EXPECT_EQ(Str(first, "identifier"), "appdb-a");
  EXPECT_EQ(Str(first, "vo"), "image.vo.example");
  EXPECT_EQ(Str(second, "vo"), "list.vo.example");
  EXPECT_EQ(Str(first, "mpuri"), "https://appdb.example/store/vm/image/appdb-a:1/");
  EXPECT_EQ(Str(first, "expires"), FormatDate(*a.expires));
  EXPECT_EQ(Str(second, "expires"), "");
  ASSERT_TRUE(first["size"].IsUint64());
  EXPECT_EQ(first["size"].GetUint64(), 123u);
  const rapidjson::Value& meta = first["metadata"];
  EXPECT_EQ(Str(meta, "hv:size"), "123");
  EXPECT_EQ(Str(meta, "hv:ram_minimum"), "512");
  EXPECT_EQ(Str(meta, "hv:core_minimum"), "2");
  EXPECT_EQ(Str(meta, "ad:appid"), "42");
  ASSERT_TRUE(meta.HasMember("ad:user:extra") && meta["ad:user:extra"].IsObject());
  EXPECT_TRUE(meta["ad:user:extra"]["k"][1].IsString());
}

// A broken policy file: exit 2, policy-invalid, and a message that names the
// file, the line and the JSON pointer.
TEST_F(CatcherUpdateTest, BrokenPolicyFileNamesFileLineAndPointer) {
  struct Case {
    std::string what;
    std::string text;
    int line;
    std::string pointer;  // empty: not checked (syntax errors)
  };
  const std::string endorsers = "  \"endorsers\": {\n    \"e1\": {\"dn\": " + Quote(e1_.dn) +
                                ", \"ca\": " + Quote(e1_.ca) + "}\n  },\n";
  const std::vector<Case> cases = {
      {"unknown endorser",
       "// site policy\n{\n" + endorsers +
           "  \"subscriptions\": [\n    {\"name\": \"s\", \"url\": \"https://x.example/l\",\n"
           "     \"endorser\": \"nobody\"}\n  ]\n}\n",
       8, "/subscriptions/0/endorser"},
      {"schema violation",
       "{\n" + endorsers +
           "  \"subscriptions\": [\n    {\"name\": \"s\", \"url\": \"https://x.example/l\", "
           "\"endorser\": \"e1\",\n      \"images\": 5}\n  ]\n}\n",
       7, "/subscriptions/0/images"},
      {"unknown key", "{\n  /* a typo */\n  \"deny\": [],\n  \"limit\": {}\n}\n", 4, "/limit"},
      {"syntax error", "{\n  \"deny\": [\n    {\"image\": \"x\"}\n    {\"image\": \"y\"}\n  ]\n}\n",
       4, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    WriteFile(policy_, c.text);
    for (const std::string command : {"subscriptions", "update", "images"}) {
      SCOPED_TRACE(command);
      const RunResult r = Catcher({"--json", command});
      EXPECT_EQ(r.exit_code, 2) << Describe(r);
      EXPECT_EQ(ErrorCodeOf(r), "policy-invalid") << Describe(r);
      const std::string message = ErrorDetailOf(r, "message");
      EXPECT_NE(message.find(policy_.string()), std::string::npos) << message;
      EXPECT_NE(message.find("line " + std::to_string(c.line)), std::string::npos) << message;
      EXPECT_EQ(ErrorDetailOf(r, "file"), policy_.string());
      EXPECT_EQ(ErrorDetailOf(r, "line"), std::to_string(c.line));
      if (!c.pointer.empty()) {
        EXPECT_NE(message.find(c.pointer), std::string::npos) << message;
        EXPECT_EQ(ErrorDetailOf(r, "pointer"), c.pointer);
      }
    }
    // For people: the same on stderr.
    const RunResult text = Catcher({"update"});
    EXPECT_EQ(text.exit_code, 2);
    EXPECT_NE(text.err.find("line " + std::to_string(c.line)), std::string::npos) << text.err;
    EXPECT_NE(text.err.find(policy_.string()), std::string::npos) << text.err;
  }
  // A policy file named explicitly must exist.
  fs::remove(policy_);
  const RunResult missing = Catcher({"--json", "subscriptions"});
  EXPECT_EQ(missing.exit_code, 2) << Describe(missing);
  EXPECT_EQ(ErrorCodeOf(missing), "policy-invalid");
}

// --- subscribe, unsubscribe, several subscriptions ----------------------------

// `subscribe` fetches and verifies the list fully before it records anything.
TEST_F(CatcherUpdateTest, SubscribeVerifiesBeforeRecording) {
  ASSERT_EQ(Catcher({"subscriptions"}).exit_code, 0);  // creates the database
  const auto empty = Dump();

  ListSpec expired = Spec(NewTestUuid(), "1");
  expired.created = Now() - hours(48);
  expired.expires = Now() - hours(24);
  ListSpec future = Spec(NewTestUuid(), "1");
  future.created = Now() + hours(24);
  const std::string good = BuildSignedList(Spec(NewTestUuid(), "1"), Pki().endorser1()).value();
  std::string tampered = good;
  const auto at = tampered.find("img-a");
  ASSERT_NE(at, std::string::npos);
  tampered.replace(at, 5, "img-z");

  struct Case {
    std::string what;
    std::string bytes;  // empty: nothing served (404)
    int exit_status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"expired", BuildSignedList(expired, Pki().endorser1()).value(), 5, "list-expired"},
      {"future", BuildSignedList(future, Pki().endorser1()).value(), 5, "list-future-dated"},
      {"other endorser", BuildSignedList(Spec(NewTestUuid(), "1"), Pki().endorser2()).value(), 5,
       "untrusted-endorser"},
      {"revoked signer", BuildSignedList(Spec(NewTestUuid(), "1"), Pki().revoked()).value(), 4,
       "signer-revoked"},
      {"untrusted CA",
       BuildSignedList(Spec(NewTestUuid(), "1"), Pki().untrusted_endorser()).value(), 4,
       "untrusted-chain"},
      {"tampered", tampered, 4, "signature-invalid"},
      {"unsigned", BuildListJson(Spec(NewTestUuid(), "1"), Pki().endorser1()).value(), 4,
       "no-signer"},
      {"missing", "", 3, "http-status"},
  };
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string path = "bad-" + std::to_string(++n);
    if (!c.bytes.empty()) PublishBytes(path, c.bytes);
    const RunResult r = Catcher(
        {"--json", "subscribe", Url(path), "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
    EXPECT_EQ(r.exit_code, c.exit_status) << Describe(r);
    EXPECT_EQ(ErrorCodeOf(r), c.code) << Describe(r);
    EXPECT_EQ(Dump(), empty) << "a refused subscribe recorded something";
    EXPECT_TRUE(Subscriptions().empty());
  }

  PublishBytes("good", good);
  const RunResult r =
      Catcher({"--json", "subscribe", Url("good"), "--name", "mine", "--endorser-dn", e1_.dn,
               "--endorser-ca", e1_.ca, "--images", "none"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto subs = Subscriptions();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs["mine"]["origin"], "subscribe");
  EXPECT_EQ(subs["mine"]["version"], "1");
  EXPECT_EQ(subs["mine"]["images"], "none");
  EXPECT_EQ(subs["mine"]["endorser_dn"], e1_.dn);
  // Subscribing twice to one URL is refused.
  const RunResult again = Catcher(
      {"--json", "subscribe", Url("good"), "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  EXPECT_EQ(again.exit_code, 5) << Describe(again);
  EXPECT_EQ(ErrorCodeOf(again), "already-exists");
  // Updates then apply the same nine steps.
  UpdateOk();
}

// Trust on first use only with --auto-endorse, and with a warning.
TEST_F(CatcherUpdateTest, AutoEndorseOnlyWithTheFlag) {
  ASSERT_EQ(Catcher({"subscriptions"}).exit_code, 0);
  const auto empty = Dump();
  const std::string id = NewTestUuid();
  Publish("list", Spec(id, "1"), Pki().endorser2());

  const RunResult without = Catcher({"--json", "subscribe", Url("list")});
  EXPECT_EQ(without.exit_code, 1) << Describe(without);
  EXPECT_EQ(ErrorCodeOf(without), "usage");
  EXPECT_EQ(Dump(), empty);

  // Not even --auto-endorse trusts a signer whose chain fails.
  Publish("untrusted", Spec(NewTestUuid(), "1"), Pki().untrusted_endorser());
  const RunResult bad = Catcher({"--json", "subscribe", Url("untrusted"), "--auto-endorse"});
  EXPECT_EQ(bad.exit_code, 4) << Describe(bad);
  EXPECT_EQ(ErrorCodeOf(bad), "untrusted-chain");
  EXPECT_EQ(Dump(), empty);

  const RunResult with = Catcher({"subscribe", Url("list"), "--auto-endorse"});
  ASSERT_EQ(with.exit_code, 0) << Describe(with);
  EXPECT_NE(with.err.find("auto-endorse"), std::string::npos) << with.err;
  EXPECT_NE(with.err.find(e2_.dn), std::string::npos) << "the warning names the signer";
  auto subs = Subscriptions();
  ASSERT_EQ(subs.count(id), 1u);
  EXPECT_EQ(subs[id]["endorser_dn"], e2_.dn);
  EXPECT_EQ(subs[id]["endorser_ca"], e2_.ca);

  // From now on the first signer is pinned.
  Publish("list", Spec(id, "2"), Pki().endorser1());
  ExpectRefused("untrusted-endorser", 5, id);
}

// A subscription from the policy file cannot be removed with `unsubscribe`.
TEST_F(CatcherUpdateTest, UnsubscribeOfPolicySubscriptionRefused) {
  WriteStandardPolicy();
  Publish("list", Spec(NewTestUuid(), "1"));
  Publish("mine", Spec(NewTestUuid(), "1"));
  UpdateOk();
  ASSERT_EQ(Catcher({"subscribe", Url("mine"), "--name", "mine", "--endorser-dn", e1_.dn,
                     "--endorser-ca", e1_.ca})
                .exit_code,
            0);
  auto subs = Subscriptions();
  EXPECT_EQ(subs["sub"]["origin"], "policy");
  EXPECT_EQ(subs["mine"]["origin"], "subscribe");

  const auto before = Dump();
  const RunResult r = Catcher({"--json", "unsubscribe", "sub"});
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_EQ(ErrorCodeOf(r), "usage");
  EXPECT_NE(ErrorDetailOf(r, "message").find(policy_.string()), std::string::npos)
      << "the refusal says where to remove it";
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(Subscriptions().count("sub"), 1u);

  const RunResult unknown = Catcher({"--json", "unsubscribe", "nosuch"});
  EXPECT_EQ(unknown.exit_code, 5) << Describe(unknown);
  EXPECT_EQ(ErrorCodeOf(unknown), "not-found");

  const RunResult mine = Catcher({"unsubscribe", "mine"});
  EXPECT_EQ(mine.exit_code, 0) << Describe(mine);
  subs = Subscriptions();
  EXPECT_EQ(subs.count("mine"), 0u);
  EXPECT_EQ(subs.count("sub"), 1u);
}

// One subscription's failure does not stop the others, and the exit status
// is the worst failure's.
TEST_F(CatcherUpdateTest, FailuresDoNotStopOtherSubscriptions) {
  WritePolicy(Sub("missing", Url("missing")) + ",\n" + Sub("expired", Url("expired")) + ",\n" +
              Sub("revoked", Url("revoked")) + ",\n" + Sub("good", Url("good")));
  ListSpec expired = Spec(NewTestUuid(), "1");
  expired.created = Now() - hours(48);
  expired.expires = Now() - hours(24);
  Publish("expired", expired);
  ListSpec revoked = Spec(NewTestUuid(), "1");
  revoked.endorser = Pki().endorser1();  // declares the trusted endorser
  Publish("revoked", revoked, Pki().revoked());
  Publish("good", Spec(NewTestUuid(), "7"));

  const RunResult all = Catcher({"--json", "update"});
  EXPECT_EQ(all.exit_code, 5) << Describe(all);
  EXPECT_EQ(ErrorCodeOf(all), "list-expired");
  const auto results = UpdateResults(all);
  EXPECT_EQ(results.at("missing"), "http-status");
  EXPECT_EQ(results.at("expired"), "list-expired");
  EXPECT_EQ(results.at("revoked"), "signer-revoked");
  EXPECT_EQ(results.at("good"), "updated");
  auto subs = Subscriptions();
  EXPECT_EQ(subs["good"]["version"], "7");
  EXPECT_EQ(subs["good"]["result"], "updated");
  EXPECT_EQ(subs["missing"]["result"], "http-status");
  EXPECT_EQ(subs["revoked"]["result"], "signer-revoked");
  EXPECT_EQ(subs["expired"]["result"], "list-expired");

  const RunResult some = Catcher({"--json", "update", "missing", "revoked", "good"});
  EXPECT_EQ(some.exit_code, 4) << Describe(some);
  EXPECT_EQ(ErrorCodeOf(some), "signer-revoked");
  EXPECT_EQ(UpdateResults(some).at("good"), "unchanged");

  const RunResult network = Catcher({"--json", "update", "good", "missing"});
  EXPECT_EQ(network.exit_code, 3) << Describe(network);
  EXPECT_EQ(ErrorCodeOf(network), "http-status");

  const RunResult unknown = Catcher({"--json", "update", "nosuch"});
  EXPECT_EQ(unknown.exit_code, 5) << Describe(unknown);
  EXPECT_EQ(ErrorCodeOf(unknown), "not-found");
}

// Credentials from a credentials file reach the server (basic auth) and
// never catcher's output: not stdout, not stderr, not --json, not errors.
TEST_F(CatcherUpdateTest, CredentialsNeverAppearInOutput) {
  const std::string user = "catcher-site";
  const std::string password = "Pw-9vQ2-SECRET-x71";
  NginxOptions options;
  options.tls_cert = Pki().server_fullchain();
  options.tls_key = Pki().server().key;
  options.basic_auth = std::make_pair(user, password);
  auto auth = NginxServer::Start(std::move(options));
  ASSERT_NE(auth, nullptr);
  const std::string id = NewTestUuid();
  auto signed_list = BuildSignedList(Spec(id, "1"), Pki().endorser1());
  ASSERT_TRUE(signed_list.ok());
  Serve(auth->root() / "list", *signed_list);
  const std::string url = auth->Url("/list");

  const fs::path creds = dir_ / "list.credentials";
  WriteFile(creds, "username = " + user + "\npassword = " + password + "\n");
  fs::permissions(creds, fs::perms::owner_read | fs::perms::owner_write);
  const fs::path wrong = dir_ / "wrong.credentials";
  const std::string wrong_password = "Wrong-7Hk-SECRET-q3";
  WriteFile(wrong, "username = " + user + "\npassword = " + wrong_password + "\n");
  fs::permissions(wrong, fs::perms::owner_read | fs::perms::owner_write);

  auto expect_clean = [&](const RunResult& r) {
    for (const auto& secret : {password, wrong_password}) {
      EXPECT_EQ(r.out.find(secret), std::string::npos) << "stdout shows a secret: " << r.out;
      EXPECT_EQ(r.err.find(secret), std::string::npos) << "stderr shows a secret: " << r.err;
    }
  };

  // Without credentials the server refuses: the credentials are really used.
  const RunResult anonymous =
      Catcher({"--json", "subscribe", url, "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  EXPECT_EQ(anonymous.exit_code, 3) << Describe(anonymous);
  EXPECT_EQ(ErrorCodeOf(anonymous), "http-status");
  const RunResult refused =
      Catcher({"-v", "--json", "subscribe", url, "--credentials-file", wrong.string(),
               "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  EXPECT_EQ(refused.exit_code, 3) << Describe(refused);
  expect_clean(refused);

  for (const bool json : {false, true}) {
    SCOPED_TRACE(json ? "--json" : "text");
    state_ = dir_ / (json ? "state-json" : "state-text");
    std::vector<std::string> flags = {"-v"};
    if (json) flags.emplace_back("--json");
    auto with = [&](std::vector<std::string> args) {
      args.insert(args.begin(), flags.begin(), flags.end());
      return args;
    };
    const RunResult sub =
        Catcher(with({"subscribe", url, "--name", "private", "--credentials-file", creds.string(),
                      "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca}));
    EXPECT_EQ(sub.exit_code, 0) << Describe(sub);
    expect_clean(sub);
    const RunResult update = Catcher(with({"update"}));
    EXPECT_EQ(update.exit_code, 0) << Describe(update);
    expect_clean(update);
    expect_clean(Catcher(with({"subscriptions"})));
    expect_clean(Catcher(with({"images"})));
  }

  // The credentials file is swapped for a wrong one: the failure and its
  // record show no secret either.
  fs::copy_file(wrong, creds, fs::copy_options::overwrite_existing);
  auto signed_v2 = BuildSignedList(Spec(id, "2"), Pki().endorser1());
  ASSERT_TRUE(signed_v2.ok());
  Serve(auth->root() / "list", *signed_v2);
  const RunResult failed = Catcher({"-v", "--json", "update"});
  EXPECT_EQ(failed.exit_code, 3) << Describe(failed);
  EXPECT_EQ(ErrorCodeOf(failed), "http-status");
  expect_clean(failed);
  expect_clean(Catcher({"subscriptions"}));
  expect_clean(Catcher({"--json", "subscriptions"}));

  // An AppDB-style token is kept as secret as a password.
  const std::string token = "tok-SECRET-4fQ9wZ";
  NginxOptions bearer_options;
  bearer_options.tls_cert = Pki().server_fullchain();
  bearer_options.tls_key = Pki().server().key;
  bearer_options.bearer_token = token;
  auto bearer = NginxServer::Start(std::move(bearer_options));
  ASSERT_NE(bearer, nullptr);
  Serve(bearer->root() / "list", *signed_list);
  const fs::path token_file = dir_ / "token.credentials";
  WriteFile(token_file, "token = " + token + "\n");
  fs::permissions(token_file, fs::perms::owner_read | fs::perms::owner_write);
  state_ = dir_ / "state-token";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-v", "--json", "subscribe", bearer->Url("/list"), "--name", "token",
            "--credentials-file", token_file.string(), "--endorser-dn", e1_.dn, "--endorser-ca",
            e1_.ca},
           {"-v", "--json", "update"},
           {"-v", "subscriptions"},
           {"--json", "subscriptions"}}) {
    const RunResult r = Catcher(args);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    EXPECT_EQ(r.out.find(token), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find(token), std::string::npos) << r.err;
  }
  const auto served = bearer->WaitForLog("/list", 1);
  ASSERT_FALSE(served.empty());
  EXPECT_EQ(served.front().status, 200) << "the token was not sent";

  // Credentials written into the URL are not shown either.
  state_ = dir_ / "state-url";
  const std::string url_with_password =
      "https://" + user + ":" + password + "@127.0.0.1:" + std::to_string(auth->port()) + "/list";
  const RunResult in_url = Catcher({"-v", "--json", "subscribe", url_with_password, "--name",
                                    "inurl", "--endorser-dn", e1_.dn, "--endorser-ca", e1_.ca});
  EXPECT_EQ(in_url.exit_code, 0) << Describe(in_url);
  expect_clean(in_url);
  const RunResult unchanged = Catcher({"-v", "--json", "update"});
  EXPECT_EQ(unchanged.exit_code, 0) << Describe(unchanged);
  expect_clean(unchanged);
  // A refusal names the subscription and its URL: without the password.
  Serve(auth->root() / "list", *signed_list);  // version 1 again
  const RunResult rollback = Catcher({"-v", "--json", "update"});
  EXPECT_EQ(rollback.exit_code, 5) << Describe(rollback);
  EXPECT_EQ(ErrorCodeOf(rollback), "version-rollback");
  expect_clean(rollback);
  const RunResult plain = Catcher({"-v", "update"});
  EXPECT_EQ(plain.exit_code, 5) << Describe(plain);
  expect_clean(plain);
  expect_clean(Catcher({"-v", "subscriptions"}));
  expect_clean(Catcher({"--json", "subscriptions"}));
  expect_clean(Catcher({"--json", "images"}));
}

}  // namespace
}  // namespace vmc::test
