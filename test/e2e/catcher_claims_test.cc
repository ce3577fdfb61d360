// End-to-end tests of image identifiers between subscriptions (DESIGN.md
// section 6, catcher/claims.h): an identifier never changes hands. Two
// endorsers of the test PKI publish lists through nginx; the real catcher
// updates and caches; a handler records every event.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/digest.h"
#include "test/support/catcher_e2e.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

const TestPki& Pki() { return TestPki::Get(); }

class CatcherClaimsTest : public CatcherE2eTest<CatcherClaimsTest> {
 protected:
  void SetUp() override {
    CatcherE2eTest::SetUp();
    events_ = dir_ / "events.log";
    WriteFile(dir_ / "handler.sh",
              "#!/bin/sh\necho \"$VMCATCHER_EVENT_TYPE $VMCATCHER_EVENT_DC_IDENTIFIER "
              "$VMCATCHER_EVENT_SL_CHECKSUM_SHA512\" >> \"$1\"\n");
    WriteFile(config_, "event-command = /bin/sh " + (dir_ / "handler.sh").string() + " " +
                           events_.string() + "\n");
  }

  // An image `id` whose bytes are `content`, served at <test>/<file>.
  ImageSpec Image(const std::string& id, const std::string& file, const std::string& content) {
    PublishBytes(file, content);
    ImageSpec img;
    img.identifier = id;
    img.uri = Url(file);
    img.size = content.size();
    img.sha512 = *Sha512Hex(content);
    return img;
  }

  void PublishList(const std::string& path, const std::string& list_id, const std::string& version,
                   std::vector<ImageSpec> images, const PkiIdentity& signer) {
    ListSpec spec;
    spec.identifier = list_id;
    spec.version = version;
    spec.images = std::move(images);
    Publish(path, spec, signer);
  }

  void Cycle() {
    const RunResult u = Catcher({"--json", "update"});
    EXPECT_EQ(u.exit_code, 0) << Describe(u);
    last_cache_ = Catcher({"cache"});
  }

  // images --json: "subscription identifier" -> {state, reason}.
  std::map<std::string, std::map<std::string, std::string>> Images() const {
    const RunResult r = Catcher({"--json", "images"});
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    std::map<std::string, std::map<std::string, std::string>> out;
    auto doc = ParseJson(Lines(r.out).empty() ? "" : Lines(r.out).front());
    if (!doc || !doc->IsArray()) return out;
    for (const auto& item : doc->GetArray()) {
      auto& fields = out[Str(item, "subscription") + " " + Str(item, "identifier")];
      fields["state"] = Str(item, "state");
      fields["reason"] = Str(item, "reason");
    }
    return out;
  }

  // The Available* and Expire* events the handler heard: what a cloud
  // imports or removes (Process* and SubscriptionImageNew announce, and do
  // not change the cache).
  std::vector<std::string> Events() const {
    std::vector<std::string> out;
    if (!fs::exists(events_)) return out;
    for (const auto& line : Lines(ReadFile(events_))) {
      if (line.rfind("Available", 0) == 0 || line.rfind("Expire", 0) == 0) out.push_back(line);
    }
    return out;
  }

  std::string ViewContent(const std::string& id) const {
    const fs::path view = state_ / "cache" / id;
    return fs::exists(view) ? ReadFile(view) : std::string("(none)");
  }

  fs::path events_;
  RunResult last_cache_;
};

// Endorser B publishes endorser A's image identifier with its own bytes. The
// image A had cached stays A's: not replaced, not expired, no event; B's
// claim is shown as a conflict naming A. B's subscription comes first in the
// policy, and once more as a `catcher subscribe` subscription: order decides
// nothing.
TEST_F(CatcherClaimsTest, IdentifierClaimedByAnotherEndorserDoesNotReplaceImage) {
  const std::string list_a = NewTestUuid();
  const std::string list_b = NewTestUuid();
  WritePolicy(Sub("b", Url("list-b"), "e2") + ", " + Sub("a", Url("list-a"), "e1"));
  PublishList("list-a", list_a, "1", {Image("shared", "a.img", "endorser A's image\n")},
              Pki().endorser1());
  PublishList("list-b", list_b, "1", {Image("b-own", "b.img", "endorser B's own image\n")},
              Pki().endorser2());
  Cycle();
  ASSERT_EQ(ViewContent("shared"), "endorser A's image\n") << Describe(last_cache_);
  const auto events_before = Events();

  // B now claims "shared" with other bytes.
  PublishList("list-b", list_b, "2",
              {Image("b-own", "b.img", "endorser B's own image\n"),
               Image("shared", "evil.img", "endorser B's replacement\n")},
              Pki().endorser2());
  Cycle();
  EXPECT_EQ(ViewContent("shared"), "endorser A's image\n") << "B replaced A's image";
  EXPECT_EQ(Events(), events_before) << "handlers heard of B's claim";
  auto images = Images();
  EXPECT_EQ(images["a shared"]["state"], "cached");
  EXPECT_EQ(images["b shared"]["state"], "conflict");
  EXPECT_NE(images["b shared"]["reason"].find("subscription a"), std::string::npos)
      << images["b shared"]["reason"];
  EXPECT_NE(last_cache_.err.find("subscription b"), std::string::npos)
      << "the conflict is logged: " << last_cache_.err;
  EXPECT_EQ(ViewContent("b-own"), "endorser B's own image\n");

  // Logged, shown, and not downloaded: no bytes of B's image reached the cache.
  const RunResult again = Catcher({"cache"});
  EXPECT_EQ(ViewContent("shared"), "endorser A's image\n");
  EXPECT_EQ(Events(), events_before);

  // A `catcher subscribe` subscription claiming it too changes nothing.
  const std::string list_c = NewTestUuid();
  PublishList("list-c", list_c, "1", {Image("shared", "c.img", "a third claim\n")},
              Pki().endorser2());
  const RunResult s = Catcher({"--json", "subscribe", Url("list-c"), "--name", "c", "--endorser-dn",
                               e2_.dn, "--endorser-ca", e2_.ca});
  ASSERT_EQ(s.exit_code, 0) << Describe(s);
  Cycle();
  EXPECT_EQ(ViewContent("shared"), "endorser A's image\n");
  EXPECT_EQ(Events(), events_before);
  EXPECT_EQ(Images()["c shared"]["state"], "conflict");

  // A's own new version of its image replaces it, as before.
  PublishList("list-a", list_a, "2", {Image("shared", "a2.img", "endorser A's image, v2\n")},
              Pki().endorser1());
  Cycle();
  EXPECT_EQ(ViewContent("shared"), "endorser A's image, v2\n");

  // The admin resolves B's claim with a deny rule for it: B's claim is
  // denied, A's image stays.
  WritePolicy(Sub("b", Url("list-b"), "e2") + ", " + Sub("a", Url("list-a"), "e1"),
              R"(, "deny": [{"image": "shared", "list": ")" + list_b + "\"}]");
  images = Images();
  EXPECT_EQ(images["b shared"]["state"], "denied");
  EXPECT_EQ(images["a shared"]["state"], "cached");
}

// Two subscriptions name a free identifier with different content in the
// same update: neither wins by order; both are conflicts until the admin
// denies one, then the other is cached.
TEST_F(CatcherClaimsTest, FreeIdentifierNamedTwiceWithOtherContentGoesToNeither) {
  const std::string list_a = NewTestUuid();
  const std::string list_b = NewTestUuid();
  WritePolicy(Sub("a", Url("list-a"), "e1") + ", " + Sub("b", Url("list-b"), "e2"));
  PublishList("list-a", list_a, "1", {Image("twice", "a.img", "from A\n")}, Pki().endorser1());
  PublishList("list-b", list_b, "1", {Image("twice", "b.img", "from B\n")}, Pki().endorser2());
  Cycle();
  EXPECT_EQ(ViewContent("twice"), "(none)");
  auto images = Images();
  EXPECT_EQ(images["a twice"]["state"], "conflict");
  EXPECT_EQ(images["b twice"]["state"], "conflict");
  EXPECT_TRUE(Events().empty());

  WritePolicy(Sub("a", Url("list-a"), "e1") + ", " + Sub("b", Url("list-b"), "e2"),
              R"(, "deny": [{"image": "twice", "list": ")" + list_a + "\"}]");
  last_cache_ = Catcher({"cache"});
  EXPECT_EQ(ViewContent("twice"), "from B\n") << Describe(last_cache_);

  // The same content from two subscriptions is no conflict.
  PublishList("list-a", list_a, "2", {Image("twice", "b.img", "from B\n")}, Pki().endorser1());
  WritePolicy(Sub("a", Url("list-a"), "e1") + ", " + Sub("b", Url("list-b"), "e2"));
  Cycle();
  images = Images();
  EXPECT_EQ(images["a twice"]["state"], "cached");
  EXPECT_EQ(images["b twice"]["state"], "cached");
}

}  // namespace
}  // namespace vmc::test
