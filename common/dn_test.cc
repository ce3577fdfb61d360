#include "common/dn.h"

#include <gtest/gtest.h>
#include <openssl/asn1.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/smime.h"
#include "common/trust.h"
#include "test/support/fixtures.h"
#include "test/support/pki.h"
#include "test/support/temp_dir.h"

namespace vmc {
namespace {

namespace fs = std::filesystem;
using test::ReadFile;
using test::TestPki;

X509Ptr LoadCert(const fs::path& pem) {
  auto certs = ParseCertificatesPem(ReadFile(pem));
  EXPECT_TRUE(certs.ok()) << pem << ": " << certs.error().ToString();
  return certs.ok() ? std::move(certs->front()) : nullptr;
}

std::string Fixture() { return test::HepixReadmeFixture(); }

// Both texts parse, and whether they are one name.
bool Same(std::string_view a, std::string_view b) {
  auto parsed_a = ParseDn(a);
  auto parsed_b = ParseDn(b);
  EXPECT_TRUE(parsed_a.ok()) << a << ": " << (parsed_a.ok() ? "" : parsed_a.error().ToString());
  EXPECT_TRUE(parsed_b.ok()) << b << ": " << (parsed_b.ok() ? "" : parsed_b.error().ToString());
  return parsed_a.ok() && parsed_b.ok() && SameDn(parsed_a->get(), parsed_b->get());
}

// One attribute of a name built the way a CA could encode it, byte for byte:
// the string type is chosen, the bytes are not interpreted.
struct Attribute {
  const char* type;
  std::string value;
  int string_type = V_ASN1_UTF8STRING;
  bool joins_previous = false;  // a multi-valued RDN
};

X509NamePtr BuildName(const std::vector<Attribute>& attributes) {
  X509NamePtr name(X509_NAME_new());
  for (const Attribute& a : attributes) {
    EXPECT_EQ(
        X509_NAME_add_entry_by_txt(name.get(), a.type, a.string_type,
                                   reinterpret_cast<const unsigned char*>(a.value.data()),
                                   static_cast<int>(a.value.size()), -1, a.joins_previous ? -1 : 0),
        1)
        << a.type << "=" << a.value;
  }
  return name;
}

// The endorser of the look-alike table, as the policy names it.
constexpr std::string_view kEndorser = "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One";

std::vector<Attribute> EndorserWithCn(std::string cn, int string_type = V_ASN1_UTF8STRING) {
  return {{"C", "DE", V_ASN1_PRINTABLESTRING},
          {"O", "Test Grid"},
          {"OU", "Endorsers"},
          {"CN", std::move(cn), string_type}};
}

// ---- The grammar -------------------------------------------------------------

TEST(DnTest, DnToStringIsOpensslOneLineForm) {
  X509Ptr cert = LoadCert(TestPki::Get().endorser1().cert);
  EXPECT_EQ(DnToString(X509_get_subject_name(cert.get())), kEndorser);
}

TEST(DnTest, FieldSpellingsHaveOneReading) {
  // Legacy "Email", long names, a dotted OID, an escaped UTF-8 name.
  EXPECT_TRUE(Same("/C=DE/CN=Jane Doe/Email=jane@example.org",
                   "/C=DE/CN=Jane Doe/emailAddress=jane@example.org"));
  EXPECT_TRUE(Same("/countryName=DE/organizationName=GermanGrid/OU=DESY/commonName=Owen Synge",
                   "/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge"));
  EXPECT_TRUE(Same("/2.5.4.6=DE/O=GermanGrid", "/C=DE/O=GermanGrid"));
  EXPECT_TRUE(Same("/C=DE/CN=M\\xC3\\xBCller", "/C=DE/CN=M\xC3\xBCller"));

  // A host DN whose CN contains '/', as OpenSSL 1.x wrote it (unescaped) and
  // as OpenSSL 3 writes it (escaped): one CN either way.
  auto host = ParseDn("/O=Grid/CN=host/ce.example.org");
  ASSERT_TRUE(host.ok()) << host.error().ToString();
  EXPECT_EQ(X509_NAME_entry_count(host->get()), 2);
  EXPECT_EQ(DnToString(host->get()), "/O=Grid/CN=host\\/ce.example.org");
  EXPECT_TRUE(Same("/O=Grid/CN=host/ce.example.org", "/O=Grid/CN=host\\/ce.example.org"));
}

TEST(DnTest, MultiValuedRdnsKeepTheirStructure) {
  auto multi = ParseDn("/O=Grid/CN=Jane Doe+UID=jdoe");
  ASSERT_TRUE(multi.ok()) << multi.error().ToString();
  EXPECT_EQ(X509_NAME_entry_count(multi->get()), 3);
  EXPECT_EQ(DnToString(multi->get()), "/O=Grid/CN=Jane Doe+UID=jdoe");
  // Two RDNs are another name than one RDN with two values.
  EXPECT_FALSE(Same("/O=Grid/CN=Jane Doe+UID=jdoe", "/O=Grid/CN=Jane Doe/UID=jdoe"));
  // An escaped '+' is part of the value.
  auto plus = ParseDn("/O=Grid/CN=a\\+b");
  ASSERT_TRUE(plus.ok()) << plus.error().ToString();
  EXPECT_EQ(X509_NAME_entry_count(plus->get()), 2);
  EXPECT_EQ(DnToString(plus->get()), "/O=Grid/CN=a\\+b");
}

TEST(DnTest, TextWithTwoReadingsIsRefused) {
  struct Case {
    std::string_view dn;
    const char* why;
  };
  const Case cases[] = {
      {"/CN=\\x45ndorser One", "\\x45 is a printable 'E': oneline never writes it so"},
      {"/CN=\\x2Fetc", "\\x2F is '/', which has its own escape"},
      {"/CN=\\x5c", "\\x5c is the backslash itself"},
      {"/CN=back\\slash", "a stray backslash: oneline's literal backslash, or an escape?"},
      {"/CN=trailing\\", "a backslash at the end escapes nothing"},
      {"/CN=\\x4", "\\x without two hex digits"},
      {"/CN=\\n", "no C-style escapes"},
      {"/CN=\\=", "'=' needs no escape and has none"},
      {"/CN=\\xC3", "escaped bytes that are not UTF-8"},
      {"/CN=tab\\x09x", "a control character (X.509 matching reads it as a space)"},
      {"/O=\\x00Grid", "a NUL"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseDn(c.dn);
    ASSERT_FALSE(parsed.ok()) << c.dn << " (" << c.why << ")";
    EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidValue) << c.dn;
    EXPECT_NE(parsed.error().message().find(std::string(c.dn)), std::string::npos)
        << "the message names the DN: " << parsed.error().message();
  }
}

TEST(DnTest, WhatIsNotADnIsRefused) {
  for (std::string_view bad : {"", "C=DE/O=Grid", "/", "/C=DE//CN=x", "/C=DE/", "/Foo=bar",
                               "/Country=DE", "/C=Germany", "/nonsense", "/CN=", "+CN=a"}) {
    auto parsed = ParseDn(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidValue) << bad;
  }
}

TEST(DnTest, EveryNameRoundTripsThroughItsText) {
  // Hostile values included: whatever a certificate holds, its printed form
  // reads back as the same name, and as no other.
  const std::vector<std::vector<Attribute>> names = {
      EndorserWithCn("\\x45ndorser One"),
      EndorserWithCn("back\\slash"),
      EndorserWithCn("a/CN=b"),
      EndorserWithCn("a+OU=b"),
      EndorserWithCn("CN=Endorser One"),
      EndorserWithCn("M\xC3\xBCller"),
      EndorserWithCn("trailing\\"),
      {{"O", "Grid"}, {"CN", "Jane"}, {"UID", "jdoe", V_ASN1_UTF8STRING, true}},
  };
  for (const auto& attributes : names) {
    X509NamePtr name = BuildName(attributes);
    const std::string text = DnToString(name.get());
    auto parsed = ParseDn(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().ToString();
    EXPECT_TRUE(SameDn(name.get(), parsed->get())) << text;
    EXPECT_EQ(DnToString(parsed->get()), text);
  }
  const TestPki& pki = TestPki::Get();
  for (const auto& pem : {pki.endorser1().cert, pki.proxy().cert, pki.root().cert}) {
    X509Ptr cert = LoadCert(pem);
    const std::string text = DnToString(X509_get_subject_name(cert.get()));
    auto parsed = ParseDn(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().ToString();
    EXPECT_TRUE(SameDn(X509_get_subject_name(cert.get()), parsed->get())) << text;
  }
}

// ---- Look-alike names (DESIGN.md section 5, step 4) ----------------------------

// A certificate's subject, as the victim's CA could issue it, against the
// policy's endorser "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One". Each row
// says whether it is the endorser, and why. The end-to-end form of this table
// (real certificates, the real catcher) is catcher_lookalike_test.
TEST(DnTest, LookAlikeNamesTable) {
  struct Case {
    const char* what;
    std::vector<Attribute> subject;
    bool is_endorser;
    const char* why;
  };
  const std::vector<Case> cases = {
      {"the endorser itself", EndorserWithCn("Endorser One"), true, "the same name"},
      {"CN of the 16 characters \\x45ndorser One", EndorserWithCn("\\x45ndorser One"), false,
       "a backslash in a certificate is a backslash, not an escape"},
      {"CN \\Endorser One", EndorserWithCn("\\Endorser One"), false, "an extra backslash"},
      {"'/' and '=' inside a value: OU=\"Endorsers/CN=Endorser One\"",
       {{"C", "DE", V_ASN1_PRINTABLESTRING},
        {"O", "Test Grid"},
        {"OU", "Endorsers/CN=Endorser One"}},
       false,
       "three RDNs, not four: text that looks the same is another structure"},
      {"'+' inside a value: OU=\"Endorsers+CN=Endorser One\"",
       {{"C", "DE", V_ASN1_PRINTABLESTRING},
        {"O", "Test Grid"},
        {"OU", "Endorsers+CN=Endorser One"}},
       false,
       "one value, not a multi-valued RDN"},
      {"multi-valued RDN OU=Endorsers+CN=Endorser One",
       {{"C", "DE", V_ASN1_PRINTABLESTRING},
        {"O", "Test Grid"},
        {"OU", "Endorsers"},
        {"CN", "Endorser One", V_ASN1_UTF8STRING, true}},
       false,
       "one RDN with two values is not two RDNs"},
      {"CN=\"CN=Endorser One\"", EndorserWithCn("CN=Endorser One"), false,
       "'=' is part of the value"},
      {"reversed order",
       {{"CN", "Endorser One"},
        {"OU", "Endorsers"},
        {"O", "Test Grid"},
        {"C", "DE", V_ASN1_PRINTABLESTRING}},
       false,
       "RDN order is part of the name"},
      {"an extra RDN /CN=proxy",
       {{"C", "DE", V_ASN1_PRINTABLESTRING},
        {"O", "Test Grid"},
        {"OU", "Endorsers"},
        {"CN", "Endorser One"},
        {"CN", "proxy"}},
       false,
       "another name (a proxy's)"},
      {"UID instead of CN",
       {{"C", "DE", V_ASN1_PRINTABLESTRING},
        {"O", "Test Grid"},
        {"OU", "Endorsers"},
        {"UID", "Endorser One"}},
       false,
       "the attribute type is part of the name"},
      {"CN=endorser one", EndorserWithCn("endorser one"), true,
       "RFC 5280 matching folds ASCII case: the CA answers for uniqueness under that rule"},
      {"CN=\"Endorser  One\" (two spaces)", EndorserWithCn("Endorser  One"), true,
       "RFC 5280 collapses inner runs of spaces"},
      {"CN=\" Endorser One \"", EndorserWithCn(" Endorser One "), true,
       "RFC 5280 drops leading and trailing spaces"},
      {"CN as PrintableString", EndorserWithCn("Endorser One", V_ASN1_PRINTABLESTRING), true,
       "string types are unified: the same text is the same name"},
      {"CN as BMPString",
       EndorserWithCn(std::string("\0E\0n\0d\0o\0r\0s\0e\0r\0 \0O\0n\0e", 24), V_ASN1_BMPSTRING),
       true, "string types are unified"},
      {R"(CN="Endorser\tOne" (a tab))", EndorserWithCn("Endorser\tOne"), false,
       "the canonical form would read the tab as a space; a name with control characters is "
       "equal to none"},
      {R"(CN="Endorser\nOne")", EndorserWithCn("Endorser\nOne"), false, "a control character"},
      {R"(CN="Endorser One\0evil")", EndorserWithCn(std::string("Endorser One\0evil", 17)), false,
       "an embedded NUL"},
      {"Cyrillic E in CN", EndorserWithCn("\xD0\x95ndorser One"), false,
       "other characters (only ASCII case folds)"},
      {"CN=\"Endorser One.\"", EndorserWithCn("Endorser One."), false, "another value"},
  };
  auto endorser = DistinguishedName::Parse(kEndorser);
  ASSERT_TRUE(endorser.ok()) << endorser.error().ToString();
  for (const Case& c : cases) {
    X509NamePtr subject = BuildName(c.subject);
    EXPECT_EQ(endorser->Matches(subject.get()), c.is_endorser) << c.what << ": " << c.why;
    // The certificate's own printed name, given back as text (as a list's
    // hv:dn would), reads as the certificate's name, never as the endorser's
    // unless the names are equal.
    auto reread = ParseDn(DnToString(subject.get()));
    if (reread.ok()) {
      EXPECT_EQ(endorser->Matches(reread->get()), c.is_endorser)
          << c.what << " as text " << DnToString(subject.get());
    }
  }
}

TEST(DnTest, CertificateNamesOfOtherStringTypesMatch) {
  // The 2011 certificate encodes its names as PrintableString; parsed DNs are
  // UTF8String. X.509 matching must not care.
  auto verified = VerifySmime(Fixture());
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  auto subject = DistinguishedName::Parse("/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge");
  auto issuer = DistinguishedName::Parse("/C=DE/O=GermanGrid/CN=GridKa-CA");
  auto other = DistinguishedName::Parse("/C=DE/O=GermanGrid/CN=GridKa-CA2");
  ASSERT_TRUE(subject.ok() && issuer.ok() && other.ok());
  EXPECT_TRUE(subject->Matches(X509_get_subject_name(verified->signer.get())));
  EXPECT_TRUE(issuer->Matches(X509_get_issuer_name(verified->signer.get())));
  EXPECT_FALSE(other->Matches(X509_get_issuer_name(verified->signer.get())));
}

TEST(DnTest, DerRoundTripKeepsTheName) {
  X509Ptr cert = LoadCert(TestPki::Get().endorser1().cert);
  auto of = DistinguishedName::Of(X509_get_subject_name(cert.get()));
  ASSERT_TRUE(of.ok()) << of.error().ToString();
  auto back = DistinguishedName::FromDer(of->der());
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_TRUE(back->Matches(X509_get_subject_name(cert.get())));
  EXPECT_EQ(back->ToString(), std::string(kEndorser));
  EXPECT_FALSE(DistinguishedName::FromDer(of->der() + "x").ok()) << "trailing bytes";
  EXPECT_FALSE(DistinguishedName::FromDer(of->der().substr(1)).ok());
  EXPECT_FALSE(DistinguishedName::FromDer("").ok());
}

}  // namespace
}  // namespace vmc
