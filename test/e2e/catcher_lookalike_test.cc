// End-to-end tests of step 4 against look-alike signers (DESIGN.md section 5:
// "look-alike signer name"): certificates issued by the site's own CA (the
// test PKI's intermediate) whose subjects read like the trusted endorser's,
// lists they sign served by nginx over HTTPS, and the real catcher judging
// them. Names must be compared as X.509 names, never as text printed by
// X509_NAME_oneline and parsed back.
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/trust.h"
#include "test/support/catcher_e2e.h"
#include "test/support/cert_factory.h"
#include "test/support/json_output.h"
#include "test/support/list_factory.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

namespace fs = std::filesystem;

const TestPki& Pki() { return TestPki::Get(); }

std::vector<NameAttribute> EndorserWithCn(std::string cn, int string_type = V_ASN1_UTF8STRING) {
  return {{"C", "DE", V_ASN1_PRINTABLESTRING},
          {"O", "Test Grid"},
          {"OU", "Endorsers"},
          {"CN", std::move(cn), string_type}};
}

// What X509_NAME_oneline prints for the certificate's subject: the text the
// old step 4 parsed back.
std::string OneLine(const PkiIdentity& id) {
  auto certs = ParseCertificatesPem(ReadFile(id.cert));
  if (!certs.ok()) return "";
  char* text = X509_NAME_oneline(X509_get_subject_name(certs->front().get()), nullptr, 0);
  std::string out = text != nullptr ? text : "";
  OPENSSL_free(text);
  return out;
}

class CatcherLookalikeTest : public CatcherE2eTest<CatcherLookalikeTest> {
 protected:
  void SetUp() override {
    CatcherE2eTest::SetUp();
    image_ = PublishBytes("img", "the bytes of the endorsed image\n");
    WritePolicy(Sub("sub", Url("list"), "e1"));
  }

  // A certificate for `subject` from the victim's CA.
  PkiIdentity Issue(const std::string& label, const std::vector<NameAttribute>& subject) {
    auto id = IssueEndorser(dir_ / "certs" / label, subject, Pki().intermediate());
    EXPECT_TRUE(id.ok()) << label << ": " << (id.ok() ? "" : id.error().ToString());
    return id.ok() ? *id : PkiIdentity{};
  }

  // A list of version `version` with one image, "img", that `signer` signs,
  // declaring `dn` as hv:dn (default: the signer's own name).
  void PublishList(const PkiIdentity& signer, const std::string& version,
                   std::optional<std::string> dn = std::nullopt) {
    ListSpec spec;
    spec.identifier = list_id_;
    spec.version = version;
    ImageSpec img;
    img.identifier = "img";
    img.uri = Url("img");
    img.size = image_.size();
    img.sha512 = *Sha512Hex(image_);
    spec.images = {img};
    spec.endorser_dn = std::move(dn);
    Publish("list", spec, signer);
  }

  // update then cache; whether the image became available.
  bool Cached() {
    Catcher({"cache"});
    return fs::exists(state_ / "cache" / "img");
  }

  // Starts again from an empty state (the table's cases are independent).
  void ResetState() {
    fs::remove_all(state_);
    list_id_ = NewTestUuid();
  }

  std::string image_;
  std::string list_id_ = NewTestUuid();
};

// The finding of the hostile review: a CN of the 16 characters
// `\x45ndorser One`. X509_NAME_oneline prints the backslash as it is, the old
// reader decoded \x45 as 'E', and the list was accepted as Endorser One's.
TEST_F(CatcherLookalikeTest, BackslashEscapeInCnIsNotTheEndorser) {
  const PkiIdentity mallory = Issue("backslash", EndorserWithCn("\\x45ndorser One"));
  ASSERT_EQ(OneLine(mallory), "/C=DE/O=Test Grid/OU=Endorsers/CN=\\x45ndorser One");
  struct Declaration {
    const char* what;
    std::optional<std::string> dn;
  };
  const Declaration declarations[] = {
      {"the policy's endorser", e1_.dn},
      {"the signer as X509_NAME_oneline prints it", OneLine(mallory)},
      {"the signer's own name, unambiguous", std::nullopt},
  };
  const std::string version = "1";
  for (const auto& d : declarations) {
    SCOPED_TRACE(d.what);
    PublishList(mallory, version, d.dn);
    Catcher({"subscriptions"});  // the state exists, to compare
    const auto before = DumpWithoutAttempts();
    const RunResult r = Catcher({"--json", "update"});
    EXPECT_EQ(r.exit_code, 5) << Describe(r);
    EXPECT_EQ(UpdateResults(r)["sub"], "untrusted-endorser") << Describe(r);
    EXPECT_EQ(DumpWithoutAttempts(), before) << "a refused list changed the state";
    EXPECT_FALSE(Cached()) << "Mallory's image was made available";
  }
  // The true endorser's list is accepted and cached: the refusals above were
  // for the name alone.
  PublishList(Pki().endorser1(), version);
  const RunResult ok = Catcher({"--json", "update"});
  EXPECT_EQ(ok.exit_code, 0) << Describe(ok);
  EXPECT_TRUE(Cached());
}

// The table of look-alike subjects, each issued by the victim's CA, signing a
// list for the subscription that trusts Endorser One, declaring in hv:dn
// whatever would help: the policy's DN, the oneline text of its own name, or
// its own name written unambiguously.
TEST_F(CatcherLookalikeTest, LookAlikeSignerNamesTable) {
  struct Case {
    const char* label;
    std::vector<NameAttribute> subject;
    bool accepted;
    const char* why;
  };
  const std::vector<NameAttribute> kPrefix = {
      {"C", "DE", V_ASN1_PRINTABLESTRING}, {"O", "Test Grid"}, {"OU", "Endorsers"}};
  const std::vector<Case> cases = {
      {"escape", EndorserWithCn("\\x45ndorser One"), false, "a backslash is a backslash"},
      {"extra-backslash", EndorserWithCn("\\Endorser One"), false, "another value"},
      {"slash-in-value",
       {{"C", "DE", V_ASN1_PRINTABLESTRING},
        {"O", "Test Grid"},
        {"OU", "Endorsers/CN=Endorser One"}},
       false,
       "'/' and '=' inside a value: three RDNs, not four"},
      {"plus-in-value",
       {{"C", "DE", V_ASN1_PRINTABLESTRING},
        {"O", "Test Grid"},
        {"OU", "Endorsers+CN=Endorser One"}},
       false,
       "'+' inside a value is not a multi-valued RDN"},
      {"multi-valued",
       {{"C", "DE", V_ASN1_PRINTABLESTRING},
        {"O", "Test Grid"},
        {"OU", "Endorsers"},
        {"CN", "Endorser One", V_ASN1_UTF8STRING, true}},
       false,
       "one RDN with two values is not two RDNs"},
      {"equals-in-value", EndorserWithCn("CN=Endorser One"), false, "'=' is part of the value"},
      {"reversed",
       {{"CN", "Endorser One"},
        {"OU", "Endorsers"},
        {"O", "Test Grid"},
        {"C", "DE", V_ASN1_PRINTABLESTRING}},
       false,
       "RDN order is part of the name"},
      {"tab", EndorserWithCn("Endorser\tOne"), false,
       "a control character, which the canonical form would read as a space"},
      {"nul", EndorserWithCn(std::string("Endorser One\0x", 14)), false, "an embedded NUL"},
      {"cyrillic", EndorserWithCn("\xD0\x95ndorser One"), false, "another character"},
      {"uid",
       {kPrefix[0], kPrefix[1], kPrefix[2], {"UID", "Endorser One"}},
       false,
       "another attribute type"},
      {"case", EndorserWithCn("endorser one"), true,
       "RFC 5280 matching folds ASCII case; the CA answers for uniqueness under that rule"},
      {"spaces", EndorserWithCn("  Endorser   One "), true,
       "RFC 5280 drops outer spaces and collapses inner runs"},
      {"printable", EndorserWithCn("Endorser One", V_ASN1_PRINTABLESTRING), true,
       "a PrintableString and a UTF8String of the same text are one name"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.label) + ": " + c.why);
    const PkiIdentity signer = Issue(c.label, c.subject);
    const std::optional<std::string> declarations[] = {std::nullopt, e1_.dn, OneLine(signer)};
    bool any_accepted = false;
    for (const auto& dn : declarations) {
      ResetState();
      PublishList(signer, "1", dn);
      const RunResult r = Catcher({"--json", "update"});
      const std::string result = UpdateResults(r)["sub"];
      if (result == "updated") any_accepted = true;
      if (!c.accepted) {
        EXPECT_NE(result, "updated") << "declaring " << dn.value_or("(own)") << ": " << Describe(r);
        EXPECT_FALSE(Cached()) << "declaring " << dn.value_or("(own)");
      }
    }
    if (c.accepted) {
      // Declaring its own name, the list is the endorser's.
      ResetState();
      PublishList(signer, "1");
      const RunResult r = Catcher({"--json", "update"});
      EXPECT_EQ(UpdateResults(r)["sub"], "updated") << Describe(r);
      EXPECT_TRUE(Cached());
    }
    EXPECT_EQ(any_accepted, c.accepted);
  }
}

// A DN with two readings is refused where it is read: in a list (hv:dn, even
// signed by the true endorser) and on the command line.
TEST_F(CatcherLookalikeTest, DnWithTwoReadingsIsRefusedWhereItIsRead) {
  PublishList(Pki().endorser1(), "1", "/C=DE/O=Test Grid/OU=Endorsers/CN=\\x45ndorser One");
  const RunResult r = Catcher({"--json", "update"});
  EXPECT_EQ(r.exit_code, 5) << Describe(r);
  EXPECT_EQ(UpdateResults(r)["sub"], "invalid-value") << Describe(r);
  EXPECT_FALSE(Cached());

  const RunResult s =
      Catcher({"--json", "subscribe", Url("other-list"), "--name", "other", "--endorser-dn",
               "/C=DE/O=Test Grid/OU=Endorsers/CN=back\\slash", "--endorser-ca", e1_.ca});
  EXPECT_EQ(ErrorCodeOf(s), "invalid-value") << Describe(s);
  EXPECT_NE(s.exit_code, 0);
  EXPECT_EQ(Subscriptions().count("other"), 0u);
}

// --auto-endorse keeps the signer's own names (DER), not their text: trusting
// Mallory's `\x45ndorser One` on first use must not come to trust the real
// Endorser One, nor the other way round.
TEST_F(CatcherLookalikeTest, AutoEndorsedNamesAreKeptAsNames) {
  WritePolicy("");
  const PkiIdentity mallory = Issue("backslash", EndorserWithCn("\\x45ndorser One"));
  PublishList(mallory, "1");
  const RunResult s =
      Catcher({"--json", "subscribe", Url("list"), "--name", "tofu", "--auto-endorse"});
  ASSERT_EQ(s.exit_code, 0) << Describe(s);
  PublishList(Pki().endorser1(), "2");
  const RunResult r = Catcher({"--json", "update"});
  EXPECT_EQ(UpdateResults(r)["tofu"], "untrusted-endorser") << Describe(r);
  PublishList(mallory, "3");
  const RunResult again = Catcher({"--json", "update"});
  EXPECT_EQ(UpdateResults(again)["tofu"], "updated") << Describe(again);
}

}  // namespace
}  // namespace vmc::test
