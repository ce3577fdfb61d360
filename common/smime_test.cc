#include "common/smime.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/trust.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc {
namespace {

using test::ReadFile;
using test::RunResult;
using test::TempDir;
using test::TestPki;
using test::WriteFile;

constexpr std::string_view kEndorser1Dn = "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One";
constexpr std::string_view kIntermediateDn = "/C=DE/O=Test Grid/CN=Test Intermediate CA";

// A small list with LF line ends, a trailing space and a blank last line, so
// that text (CRLF) and binary readings of it differ.
constexpr std::string_view kList =
    "{\"hv:imagelist\": {\n"
    "  \"dc:identifier\": \"4e186b44-2c64-40ea-97d5-e9e5c0bce059\", \n"
    "  \"hv:version\": \"1\"\n"
    "}}\n"
    "\n";

// The signed README example of hepixvmitrust (2011, SHA-1): in the source
// tree once the fixture is committed there, else in the shared fixtures.
std::string Fixture() {
  for (const std::filesystem::path& dir : {std::filesystem::path(VMC_SOURCE_DIR) / "test/fixtures",
                                           std::filesystem::path("/work/shared/fixtures")}) {
    if (std::filesystem::exists(dir / "hepix-readme-example.smime")) {
      return ReadFile(dir / "hepix-readme-example.smime");
    }
  }
  ADD_FAILURE() << "fixture hepix-readme-example.smime not found";
  return "";
}

std::string ToCrlf(std::string_view lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

// Replaces the first occurrence of `from`; fails the test if there is none.
std::string ReplaceOnce(std::string text, std::string_view from, std::string_view to) {
  const size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "no \"" << from << "\" in the message";
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

SigningIdentity LoadIdentity(const test::PkiIdentity& who) {
  auto identity = LoadSigningIdentity(who.cert, who.key, std::nullopt);
  EXPECT_TRUE(identity.ok()) << identity.error().ToString();
  return std::move(identity).value();
}

std::string SignAsEndorser1(std::string_view content) {
  auto signed_text = SignSmime(content, LoadIdentity(TestPki::Get().endorser1()));
  EXPECT_TRUE(signed_text.ok()) << signed_text.error().ToString();
  return signed_text.ok() ? *signed_text : std::string();
}

// Runs `openssl` with args; returns its stdout, failing the test on error.
std::string Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  const RunResult result = test::Run(args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.out;
}

// Signs `content` with the stock tool; extra arguments select the mode.
std::string OpensslSign(const TempDir& tmp, std::string_view content,
                        std::vector<std::string> extra) {
  WriteFile(tmp / "content", content);
  const auto& e1 = TestPki::Get().endorser1();
  std::vector<std::string> args = {
      "smime",   "-sign",          "-in",    (tmp / "content").string(),
      "-signer", e1.cert.string(), "-inkey", e1.key.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return Openssl(args);
}

std::string Base64(std::string_view bytes, bool decode) {
  BIO* b64 = BIO_new(BIO_f_base64());
  BIO* mem =
      decode ? BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())) : BIO_new(BIO_s_mem());
  BIO* chain = BIO_push(b64, mem);
  std::string out;
  if (decode) {
    char buf[4096];
    int n = 0;
    while ((n = BIO_read(chain, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  } else {
    BIO_write(chain, bytes.data(), static_cast<int>(bytes.size()));
    (void)BIO_flush(chain);
    char* data = nullptr;
    const long size = BIO_get_mem_data(mem, &data);
    out.assign(data, static_cast<size_t>(size));
  }
  BIO_free_all(chain);
  return out;
}

// The base64 body of the signature part, and where it sits in `message`.
struct SignaturePart {
  size_t begin;
  size_t end;
};
SignaturePart FindSignature(const std::string& message) {
  const size_t header = message.find("filename=\"smime.p7s\"");
  const size_t begin = message.find("\n\n", header) + 2;
  const size_t end = message.find("\n------", begin);
  return {begin, end};
}

// ---- Round trip and interoperability ---------------------------------------

TEST(SmimeTest, SignThenVerifyReturnsCanonicalContentAndSigner) {
  const std::string message = SignAsEndorser1(kList);
  auto verified = VerifySmime(message);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->content, ToCrlf(kList));
  EXPECT_EQ(verified->signer_dn, kEndorser1Dn);
  EXPECT_EQ(verified->signer_ca_dn, kIntermediateDn);
  EXPECT_EQ(verified->digest, "sha256");
  EXPECT_TRUE(verified->other_certificates.empty());
  EXPECT_NE(message.find("micalg=\"sha-256\""), std::string::npos) << message;
}

TEST(SmimeTest, SignEmbedsTheChainOfTheCertificateFile) {
  const TestPki& pki = TestPki::Get();
  auto identity = LoadSigningIdentity(pki.endorser1_fullchain(), pki.endorser1().key, {});
  ASSERT_TRUE(identity.ok()) << identity.error().ToString();
  ASSERT_EQ(identity->chain.size(), 1u);
  auto message = SignSmime(kList, *identity);
  ASSERT_TRUE(message.ok()) << message.error().ToString();
  auto verified = VerifySmime(*message);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  ASSERT_EQ(verified->other_certificates.size(), 1u);
  EXPECT_EQ(DnToString(X509_get_subject_name(verified->other_certificates[0].get())),
            kIntermediateDn);
}

TEST(SmimeTest, OurSignatureVerifiesWithOpensslSmime) {
  TempDir tmp;
  WriteFile(tmp / "list.smime", SignAsEndorser1(kList));
  const std::string ca_dir = TestPki::Get().ca_dir().string();
  const RunResult plain = test::Run(
      {"openssl", "smime", "-verify", "-CApath", ca_dir, "-in", (tmp / "list.smime").string()});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out, ToCrlf(kList));
  // And with the CRL checks step 3 makes.
  const RunResult with_crls = test::Run({"openssl", "smime", "-verify", "-CApath", ca_dir,
                                         "-crl_check_all", "-in", (tmp / "list.smime").string()});
  EXPECT_EQ(with_crls.exit_code, 0) << with_crls.err;
}

TEST(SmimeTest, OpensslTextModeSignatureVerifies) {
  TempDir tmp;
  auto verified = VerifySmime(OpensslSign(tmp, kList, {}));
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->content, ToCrlf(kList));
  EXPECT_EQ(verified->signer_dn, kEndorser1Dn);
}

TEST(SmimeTest, OpensslBinaryModeSignatureVerifiesWithExactBytes) {
  TempDir tmp;
  const std::string message = OpensslSign(tmp, kList, {"-binary"});
  // The stock text reading must not match, or this test proves nothing.
  ASSERT_EQ(message.find(ToCrlf(kList)), std::string::npos);
  auto verified = VerifySmime(message);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->content, kList);
}

TEST(SmimeTest, OpensslCmsSignatureWithSha512Verifies) {
  TempDir tmp;
  WriteFile(tmp / "content", kList);
  const auto& e2 = TestPki::Get().endorser2();
  auto verified =
      VerifySmime(Openssl({"cms", "-sign", "-md", "sha512", "-in", (tmp / "content").string(),
                           "-signer", e2.cert.string(), "-inkey", e2.key.string()}));
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->digest, "sha512");
  EXPECT_EQ(verified->content, ToCrlf(kList));
}

// ---- Refusals ---------------------------------------------------------------

TEST(SmimeTest, TamperedContentRejected) {
  const std::string message = SignAsEndorser1(kList);
  ASSERT_TRUE(VerifySmime(message).ok());
  auto verified = VerifySmime(ReplaceOnce(message, R"("hv:version": "1")", R"("hv:version": "2")"));
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kSignatureInvalid) << verified.error().ToString();
  EXPECT_NE(verified.error().message().find("content was changed"), std::string::npos)
      << verified.error().message();
}

TEST(SmimeTest, TamperedContentInBinarySignedMessageRejected) {
  TempDir tmp;
  const std::string message = OpensslSign(tmp, kList, {"-binary"});
  auto verified = VerifySmime(ReplaceOnce(message, "4e186b44", "4e186b45"));
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kSignatureInvalid);
}

TEST(SmimeTest, TamperedSignatureRejected) {
  std::string message = SignAsEndorser1(kList);
  const SignaturePart part = FindSignature(message);
  std::string der = Base64(message.substr(part.begin, part.end - part.begin), /*decode=*/true);
  ASSERT_GT(der.size(), 100u);
  // The SignerInfo's signature value is the last field of the DER.
  der.back() = static_cast<char>(der.back() ^ 0x01);
  std::string encoded = Base64(der, /*decode=*/false);
  encoded.pop_back();  // the base64 BIO ends with a newline; the part does not
  message.replace(part.begin, part.end - part.begin, encoded);

  auto verified = VerifySmime(message);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kSignatureInvalid) << verified.error().ToString();
  EXPECT_NE(verified.error().message().find("does not verify"), std::string::npos)
      << verified.error().message();
}

TEST(SmimeTest, Md5SignatureRejected) {
  // OpenSSL signs MD5 only with RSA keys; the test PKI is EC, so make one.
  TempDir tmp;
  Openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=MD5 Signer", "-days", "1",
           "-keyout", (tmp / "key.pem").string(), "-out", (tmp / "cert.pem").string()});
  WriteFile(tmp / "content", kList);
  const std::string message =
      Openssl({"cms", "-sign", "-md", "md5", "-in", (tmp / "content").string(), "-signer",
               (tmp / "cert.pem").string(), "-inkey", (tmp / "key.pem").string()});
  auto verified = VerifySmime(message);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kSignatureInvalid) << verified.error().ToString();
  EXPECT_NE(verified.error().message().find("md5"), std::string::npos);
}

// The DER encoding of an OID (tag, length and content).
std::string OidDer(int nid) {
  unsigned char* bytes = nullptr;
  const int length = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &bytes);
  std::string der(reinterpret_cast<const char*>(bytes),
                  static_cast<size_t>(length > 0 ? length : 0));
  OPENSSL_free(bytes);
  return der;
}

std::string DerLength(size_t n) {
  if (n < 0x80) return std::string(1, static_cast<char>(n));
  std::string digits;
  for (; n > 0; n >>= 8) digits.insert(digits.begin(), static_cast<char>(n & 0xff));
  return std::string(1, static_cast<char>(0x80 | digits.size())) + digits;
}

// Re-encodes DER `in` with every OID equal to `from` (full TLV) replaced by
// `to`, adjusting the lengths of every element around it: what an attacker
// does by hand to a signature. Single-byte tags only, which is all CMS uses.
std::string ReplaceOid(std::string_view in, const std::string& from, const std::string& to) {
  std::string out;
  size_t pos = 0;
  while (pos + 2 <= in.size()) {
    const auto tag = static_cast<unsigned char>(in[pos]);
    size_t length = static_cast<unsigned char>(in[pos + 1]);
    size_t header = 2;
    if (length & 0x80) {
      const size_t count = length & 0x7f;
      length = 0;
      for (size_t i = 0; i < count; ++i) {
        length = (length << 8) | static_cast<unsigned char>(in[pos + 2 + i]);
      }
      header += count;
    }
    const std::string_view element = in.substr(pos, header + length);
    const std::string_view content = element.substr(header);
    if (element == from) {
      out += to;
    } else if (tag & 0x20) {
      const std::string inner = ReplaceOid(content, from, to);
      out += static_cast<char>(tag) + DerLength(inner.size()) + inner;
    } else {
      out += element;
    }
    pos += header + length;
  }
  return out;
}

// Signs kList as SignSmime does (text mode, streaming) with the RSA endorser
// and digest `md`, then relabels, in the DER of the signature part, every
// digest algorithm OID of `md` (SignedData's set and the SignerInfo's) as
// `digest_nid`, and the SignerInfo's signature algorithm as `signature_nid`
// (NID_undef: as signed). Neither label is inside the signed attributes, so
// the signature still holds: what an attacker can do with a list someone
// signed with MD5.
std::string SignRsaRelabelled(const EVP_MD* md, int digest_nid, int signature_nid) {
  const SigningIdentity id = LoadIdentity(TestPki::Get().rsa_endorser());
  constexpr unsigned int kFlags = CMS_DETACHED | CMS_STREAM | CMS_PARTIAL;
  CMS_ContentInfo* cms = CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags);
  BIO* in = BIO_new_mem_buf(kList.data(), static_cast<int>(kList.size()));
  BIO* out = BIO_new(BIO_s_mem());
  std::string message;
  if (cms != nullptr &&
      CMS_add1_signer(cms, id.certificate.get(), id.key.get(), md, kFlags) != nullptr &&
      SMIME_write_CMS(out, cms, in, static_cast<int>(kFlags)) == 1) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(out, &data);
    message.assign(data, static_cast<size_t>(size));
  }
  BIO_free(out);
  BIO_free(in);
  CMS_ContentInfo_free(cms);
  EXPECT_FALSE(message.empty()) << "cannot sign with " << EVP_MD_get0_name(md);
  if (message.empty() || (digest_nid == NID_undef && signature_nid == NID_undef)) return message;

  // Read the signature back, relabel, and put its new DER in its place.
  BIO* read_from = BIO_new_mem_buf(message.data(), static_cast<int>(message.size()));
  BIO* content = nullptr;
  CMS_ContentInfo* parsed = SMIME_read_CMS(read_from, &content);
  BIO_free(content);
  BIO_free(read_from);
  std::string der;
  if (parsed != nullptr) {
    if (signature_nid != NID_undef) {
      CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(parsed), 0);
      X509_ALGOR* signature = nullptr;
      CMS_SignerInfo_get0_algs(si, nullptr, nullptr, nullptr, &signature);
      X509_ALGOR_set0(signature, OBJ_nid2obj(signature_nid), V_ASN1_NULL, nullptr);
    }
    unsigned char* bytes = nullptr;
    const int length = i2d_CMS_ContentInfo(parsed, &bytes);
    if (length > 0) der.assign(reinterpret_cast<const char*>(bytes), static_cast<size_t>(length));
    OPENSSL_free(bytes);
    CMS_ContentInfo_free(parsed);
  }
  EXPECT_FALSE(der.empty()) << "cannot relabel the signature";
  if (digest_nid != NID_undef) {
    der = ReplaceOid(der, OidDer(EVP_MD_get_type(md)), OidDer(digest_nid));
  }
  const SignaturePart part = FindSignature(message);
  return message.replace(part.begin, part.end - part.begin, Base64(der, false));
}

TEST(SmimeTest, Md5DigestUnderAnotherOidRejected) {
  // The control: the same key and path with SHA-256 verifies.
  auto control = VerifySmime(SignRsaRelabelled(EVP_sha256(), NID_undef, NID_undef));
  ASSERT_TRUE(control.ok()) << control.error().ToString();
  EXPECT_EQ(control->digest, "sha256");
  EXPECT_TRUE(control->warnings.empty());

  struct Case {
    const char* what;
    const EVP_MD* md;
    int digest_nid;
    int signature_nid;
    const char* named;  // what the message must name
  };
  const Case refused[] = {
      {"plain md5", EVP_md5(), NID_undef, NID_undef, "md5"},
      // OpenSSL resolves this OID (also spelt RSA-MD5) to MD5 when it digests.
      {"md5 labelled md5WithRSAEncryption", EVP_md5(), NID_md5WithRSAEncryption, NID_undef,
       "md5WithRSAEncryption"},
      // The signature algorithm names MD5 while the digest says SHA-256:
      // OpenSSL's RSA check only asks that the OID mean "RSA".
      {"signature algorithm md5WithRSAEncryption", EVP_sha256(), NID_undef,
       NID_md5WithRSAEncryption, "md5WithRSAEncryption"},
      {"sha3-256 (not SHA-2)", EVP_sha3_256(), NID_undef, NID_undef, "sha3-256"},
  };
  for (const Case& c : refused) {
    SCOPED_TRACE(c.what);
    auto verified = VerifySmime(SignRsaRelabelled(c.md, c.digest_nid, c.signature_nid));
    ASSERT_FALSE(verified.ok()) << "verified with digest " << verified->digest;
    EXPECT_EQ(verified.error().code(), ErrorCode::kSignatureInvalid) << verified.error().ToString();
    EXPECT_NE(verified.error().message().find(c.named), std::string::npos)
        << verified.error().message();
  }
  auto md5_named = VerifySmime(SignRsaRelabelled(EVP_md5(), NID_md5WithRSAEncryption, NID_undef));
  ASSERT_FALSE(md5_named.ok());
  // The reason names the algorithm OpenSSL resolved, not only the label.
  EXPECT_EQ(md5_named.error().message().find("md5 ("), md5_named.error().message().find("md5"))
      << md5_named.error().message();

  // SHA-1 under another name is SHA-1: accepted for old lists, with a warning.
  auto sha1 = VerifySmime(SignRsaRelabelled(EVP_sha1(), NID_sha1WithRSAEncryption, NID_undef));
  ASSERT_TRUE(sha1.ok()) << sha1.error().ToString();
  EXPECT_EQ(sha1->digest, "sha1");
  ASSERT_EQ(sha1->warnings.size(), 1u);
  EXPECT_NE(sha1->warnings[0].find("sha1"), std::string::npos) << sha1->warnings[0];
}

TEST(SmimeTest, MultipleSignersRejected) {
  TempDir tmp;
  WriteFile(tmp / "content", kList);
  const TestPki& pki = TestPki::Get();
  const std::string message =
      Openssl({"cms", "-sign", "-in", (tmp / "content").string(), "-signer",
               pki.endorser1().cert.string(), "-inkey", pki.endorser1().key.string(), "-signer",
               pki.endorser2().cert.string(), "-inkey", pki.endorser2().key.string()});
  auto verified = VerifySmime(message);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kMultipleSigners) << verified.error().ToString();
  EXPECT_NE(verified.error().message().find("CN=Endorser Two"), std::string::npos);
}

TEST(SmimeTest, MissingSignerCertificateIsNoSigner) {
  TempDir tmp;
  auto verified = VerifySmime(OpensslSign(tmp, kList, {"-nocerts"}));
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kNoSigner) << verified.error().ToString();
}

TEST(SmimeTest, SignedDataWithoutSignerInfoIsNoSigner) {
  // A certs-only SignedData in place of the signature.
  const std::string certs_only =
      Openssl({"crl2pkcs7", "-nocrl", "-certfile", TestPki::Get().endorser1().cert.string(),
               "-outform", "DER"});
  std::string message = SignAsEndorser1(kList);
  const SignaturePart part = FindSignature(message);
  message.replace(part.begin, part.end - part.begin, Base64(certs_only, false));
  auto verified = VerifySmime(message);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kNoSigner) << verified.error().ToString();
}

TEST(SmimeTest, UnsignedJsonIsNoSigner) {
  auto verified = VerifySmime(kList);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kNoSigner);
  EXPECT_NE(verified.error().message().find("not signed"), std::string::npos);
}

TEST(SmimeTest, GarbageIsMalformed) {
  const std::string message = SignAsEndorser1(kList);
  const SignaturePart part = FindSignature(message);
  std::string corrupt_signature = message;
  corrupt_signature.replace(part.begin, part.end - part.begin, "bm90IGEgc2lnbmF0dXJl");
  for (const std::string& input :
       {std::string(), std::string("hello world\n"), message.substr(0, message.size() / 2),
        corrupt_signature, ReplaceOnce(message, "multipart/signed", "multipart/mixed")}) {
    auto verified = VerifySmime(input);
    ASSERT_FALSE(verified.ok()) << input;
    EXPECT_EQ(verified.error().code(), ErrorCode::kSmimeMalformed)
        << verified.error().ToString() << "\n"
        << input;
  }
}

TEST(SmimeTest, OpaqueSignedMessageIsMalformed) {
  TempDir tmp;
  auto verified = VerifySmime(OpensslSign(tmp, kList, {"-nodetach"}));
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kSmimeMalformed);
  EXPECT_NE(verified.error().message().find("opaque"), std::string::npos);
}

// ---- The 2011 list from the field -------------------------------------------

TEST(SmimeTest, HepixFixtureVerifiesAtStep2) {
  auto verified = VerifySmime(Fixture());
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->signer_dn, "/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge");
  EXPECT_EQ(verified->signer_ca_dn, "/C=DE/O=GermanGrid/CN=GridKa-CA");
  EXPECT_EQ(verified->digest, "sha1");
  // Accepted for old lists (DESIGN.md section 4), but never silently.
  ASSERT_EQ(verified->warnings.size(), 1u);
  EXPECT_NE(verified->warnings[0].find("deprecated"), std::string::npos) << verified->warnings[0];
  EXPECT_EQ(verified->content.substr(0, 3), "{\r\n");
  EXPECT_NE(verified->content.find("\"dc:identifier\": \"4e186b44-2c64-40ea-97d5-e9e5c0bce059\""),
            std::string::npos);
  EXPECT_EQ(verified->content.back(), '}');
}

TEST(SmimeTest, HepixFixtureWithOneChangedByteRejected) {
  auto verified = VerifySmime(ReplaceOnce(Fixture(), "README example VM", "README exbmple VM"));
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code(), ErrorCode::kSignatureInvalid) << verified.error().ToString();
}

// ---- Kept splits ---------------------------------------------------------------

// Messages of every reading: ours, the stock tool's text and binary modes,
// CMS with SHA-512, and the 2011 fixture (SHA-1, with its warning).
std::vector<std::pair<std::string, std::string>> MessagesOfEveryReading(const TempDir& tmp) {
  const auto& e2 = TestPki::Get().endorser2();
  WriteFile(tmp / "cms-content", kList);
  return {{"ours", SignAsEndorser1(kList)},
          {"openssl text", OpensslSign(tmp, kList, {})},
          {"openssl binary", OpensslSign(tmp, kList, {"-binary"})},
          {"cms sha512",
           Openssl({"cms", "-sign", "-md", "sha512", "-in", (tmp / "cms-content").string(),
                    "-signer", e2.cert.string(), "-inkey", e2.key.string()})},
          {"hepix 2011", Fixture()}};
}

void ExpectSameVerdict(const VerifiedMessage& got, const VerifiedMessage& want) {
  EXPECT_EQ(got.content, want.content);
  EXPECT_EQ(X509_cmp(got.signer.get(), want.signer.get()), 0);
  EXPECT_EQ(got.other_certificates.size(), want.other_certificates.size());
  EXPECT_EQ(got.signer_dn, want.signer_dn);
  EXPECT_EQ(got.signer_ca_dn, want.signer_ca_dn);
  EXPECT_EQ(got.digest, want.digest);
  EXPECT_EQ(got.warnings, want.warnings);
}

TEST(SmimeTest, AKeptSplitVerifiesWithoutSplittingAgainAsTheMessageDoes) {
  TempDir tmp;
  for (const auto& [what, message] : MessagesOfEveryReading(tmp)) {
    SCOPED_TRACE(what);
    std::optional<SmimeSplit> split;
    auto full = VerifySmime(message, &split);
    ASSERT_TRUE(full.ok()) << full.error().ToString();
    ASSERT_TRUE(split.has_value());
    EXPECT_EQ(split->message_sha512, *Sha512Hex(message));
    EXPECT_EQ(split->openssl, OpenSSL_version(OPENSSL_VERSION));
    EXPECT_EQ(split->reading, what == "openssl binary" ? 1 : 0);
    // Every one of these names its signer by issuer and serial: the
    // SignedData goes through PKCS#7, its certificates kept apart.
    EXPECT_FALSE(split->certificates.empty());
    EXPECT_EQ(split->certificates.size(), full->other_certificates.size() + 1);

    const std::uint64_t splits = SmimeSplits();
    const std::uint64_t verifications = SmimeVerifications();
    std::optional<SmimeSplit> fresh;
    auto kept = VerifySmimeKept(message, &*split, &fresh);
    ASSERT_TRUE(kept.ok()) << kept.error().ToString();
    EXPECT_EQ(SmimeSplits(), splits) << "the message was split again";
    EXPECT_EQ(SmimeVerifications(), verifications + 1);
    EXPECT_FALSE(fresh.has_value());
    ExpectSameVerdict(*kept, *full);
  }
}

// A CMS signer named by its key identifier has no PKCS#7 form: its split
// keeps the SignedData whole, certificates inside, and serves as well.
TEST(SmimeTest, ASignerNamedByKeyIdentifierIsKeptWhole) {
  TempDir tmp;
  WriteFile(tmp / "content", kList);
  const auto& e1 = TestPki::Get().endorser1();
  const std::string message = Openssl({"cms", "-sign", "-keyid", "-in", (tmp / "content").string(),
                                       "-signer", e1.cert.string(), "-inkey", e1.key.string()});
  std::optional<SmimeSplit> split;
  auto full = VerifySmime(message, &split);
  ASSERT_TRUE(full.ok()) << full.error().ToString();
  ASSERT_TRUE(split.has_value());
  EXPECT_TRUE(split->certificates.empty());
  const std::uint64_t splits = SmimeSplits();
  std::optional<SmimeSplit> fresh;
  auto kept = VerifySmimeKept(message, &*split, &fresh);
  ASSERT_TRUE(kept.ok()) << kept.error().ToString();
  EXPECT_EQ(SmimeSplits(), splits);
  ExpectSameVerdict(*kept, *full);
}

// A split serves only the bytes it was made of, by the OpenSSL that made it:
// anything else is judged from the message itself, and its split given.
TEST(SmimeTest, ASplitOfOtherBytesOrAnotherOpensslIsNotUsed) {
  const std::string message = SignAsEndorser1(kList);
  std::optional<SmimeSplit> split;
  ASSERT_TRUE(VerifySmime(message, &split).ok());
  const std::string other = SignAsEndorser1(ReplaceOnce(std::string(kList), "\"1\"", "\"2\""));
  const std::string tampered = ReplaceOnce(message, R"("hv:version": "1")", R"("hv:version": "2")");
  SmimeSplit old_openssl = *split;
  old_openssl.openssl = "OpenSSL 1.1.1w  11 Sep 2023";
  SmimeSplit bad_reading = *split;
  bad_reading.reading = 3;

  struct Case {
    std::string what;
    std::string message;
    const SmimeSplit* kept;
    bool verifies;
  };
  const std::vector<Case> cases = {
      {"another signed list", other, &*split, true},
      {"the message tampered with", tampered, &*split, false},
      {"split by another OpenSSL", message, &old_openssl, true},
      {"an unknown reading", message, &bad_reading, true},
      {"none kept", message, nullptr, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::uint64_t splits = SmimeSplits();
    std::optional<SmimeSplit> fresh;
    auto verified = VerifySmimeKept(c.message, c.kept, &fresh);
    EXPECT_GT(SmimeSplits(), splits) << "the kept split was used";
    auto want = VerifySmime(c.message);
    ASSERT_EQ(verified.ok(), c.verifies);
    ASSERT_EQ(want.ok(), c.verifies);
    if (!c.verifies) {
      EXPECT_EQ(verified.error().code(), want.error().code());
      EXPECT_EQ(verified.error().message(), want.error().message());
      EXPECT_FALSE(fresh.has_value());
      continue;
    }
    ExpectSameVerdict(*verified, *want);
    ASSERT_TRUE(fresh.has_value());
    EXPECT_EQ(fresh->message_sha512, *Sha512Hex(c.message));
    EXPECT_EQ(fresh->openssl, OpenSSL_version(OPENSSL_VERSION));
  }
}

// A damaged split (its part, its SignedData or its certificates) cannot
// refuse a message that verifies: the message decides. Damaged at rest, the
// seal no longer matches; damaged and sealed again, its verification fails.
// A certificate damaged where nothing signs it (its own signature's bits)
// still decodes and verifies the list's signature, as another certificate:
// only the seal catches that one.
TEST(SmimeTest, ADamagedSplitFallsBackToTheMessage) {
  const std::string message = SignAsEndorser1(kList);
  std::optional<SmimeSplit> split;
  auto want = VerifySmime(message, &split);
  ASSERT_TRUE(want.ok());
  ASSERT_EQ(split->seal, SmimeSplitSeal(*split));
  SmimeSplit changed_part = *split;
  changed_part.signed_part = ReplaceOnce(changed_part.signed_part, "\"1\"", "\"2\"");
  SmimeSplit changed_signature = *split;
  changed_signature.signature_der.back() ^= 0x01;
  SmimeSplit truncated = *split;
  truncated.signature_der.resize(truncated.signature_der.size() / 2);
  SmimeSplit trailing = *split;
  trailing.signature_der += "x";
  SmimeSplit no_certificates = *split;
  no_certificates.certificates.clear();
  SmimeSplit wrong_certificate = *split;
  wrong_certificate.certificates.front() =
      *CertificateDer(LoadIdentity(TestPki::Get().endorser2()).certificate.get());
  SmimeSplit bad_certificate = *split;
  bad_certificate.certificates.front().back() ^= 0x01;
  SmimeSplit binary = *split;
  binary.reading = 1;  // text-read bytes digested raw: they were signed as text
  binary.signed_part = ReplaceOnce(binary.signed_part, "\r\n", "\n");
  SmimeSplit unsealed = *split;
  unsealed.seal.clear();
  std::vector<std::pair<std::string, SmimeSplit>> cases{
      {"part", changed_part},
      {"signature", changed_signature},
      {"truncated DER", truncated},
      {"trailing byte", trailing},
      {"no certificates", no_certificates},
      {"another signer's certificate", wrong_certificate},
      {"reading", binary}};
  for (std::size_t i = 0, n = cases.size(); i < n; ++i) {
    SmimeSplit resealed = cases[i].second;
    resealed.seal = SmimeSplitSeal(resealed);
    cases.emplace_back(cases[i].first + ", sealed again", std::move(resealed));
  }
  cases.emplace_back("a damaged certificate", bad_certificate);
  cases.emplace_back("no seal", unsealed);
  for (const auto& [what, damaged] : cases) {
    SCOPED_TRACE(what);
    const std::uint64_t splits = SmimeSplits();
    std::optional<SmimeSplit> fresh;
    auto verified = VerifySmimeKept(message, &damaged, &fresh);
    ASSERT_TRUE(verified.ok()) << verified.error().ToString();
    EXPECT_GT(SmimeSplits(), splits);
    ExpectSameVerdict(*verified, *want);
    ASSERT_TRUE(fresh.has_value());
    EXPECT_EQ(fresh->signed_part, split->signed_part);
    EXPECT_EQ(fresh->signature_der, split->signature_der);
    EXPECT_EQ(fresh->certificates, split->certificates);
    EXPECT_EQ(fresh->seal, split->seal);
    EXPECT_EQ(ERR_peek_error(), 0u) << "an OpenSSL error leaked";
  }
}

// ---- Signing identities -----------------------------------------------------

TEST(SmimeTest, LoadedIdentityDescribesTheCertificate) {
  const SigningIdentity identity = LoadIdentity(TestPki::Get().endorser1());
  EXPECT_EQ(identity.subject_dn, kEndorser1Dn);
  EXPECT_EQ(identity.issuer_dn, kIntermediateDn);
  EXPECT_EQ(identity.email, "endorser1@example.org");
  EXPECT_TRUE(identity.chain.empty());
}

TEST(SmimeTest, KeyOfAnotherCertificateIsUnfit) {
  const TestPki& pki = TestPki::Get();
  auto identity = LoadSigningIdentity(pki.endorser1().cert, pki.endorser2().key, std::nullopt);
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.error().code(), ErrorCode::kCertificateUnfit);
  EXPECT_NE(identity.error().message().find("does not belong to the certificate"),
            std::string::npos)
      << identity.error().message();
}

TEST(SmimeTest, EncryptedKeyNeedsTheRightPassphrase) {
  const TestPki& pki = TestPki::Get();
  const auto cert = pki.endorser2().cert;
  const auto key = pki.endorser2_encrypted_key();

  auto none = LoadSigningIdentity(cert, key, std::nullopt);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kCertificateUnfit);
  EXPECT_NE(none.error().message().find("passphrase is required"), std::string::npos)
      << none.error().message();

  auto wrong = LoadSigningIdentity(cert, key, "not the passphrase");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kCertificateUnfit);
  EXPECT_NE(wrong.error().message().find("wrong passphrase"), std::string::npos)
      << wrong.error().message();

  auto right = LoadSigningIdentity(cert, key, TestPki::Passphrase());
  ASSERT_TRUE(right.ok()) << right.error().ToString();
  auto message = SignSmime(kList, *right);
  ASSERT_TRUE(message.ok());
  auto verified = VerifySmime(*message);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->signer_dn, "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser Two");
}

TEST(SmimeTest, UnreadableFilesAreReported) {
  const TestPki& pki = TestPki::Get();
  auto missing = LoadSigningIdentity(pki.dir() / "nothing.pem", pki.endorser1().key, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kIo);
  // A key where the certificate belongs.
  auto swapped = LoadSigningIdentity(pki.endorser1().key, pki.endorser1().key, {});
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.error().code(), ErrorCode::kCertificateUnfit);
  // A certificate where the key belongs.
  auto no_key = LoadSigningIdentity(pki.endorser1().cert, pki.endorser1().cert, {});
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.error().code(), ErrorCode::kCertificateUnfit);
}

TEST(SmimeTest, CheckSigningCertificateRefusesUnfitCertificates) {
  const TestPki& pki = TestPki::Get();
  EXPECT_TRUE(CheckSigningCertificate(LoadIdentity(pki.endorser1()), TestPki::kValidTime).ok());
  for (const auto& who : {pki.wrong_purpose(), pki.proxy(), pki.expired(), pki.not_yet_valid()}) {
    const Status status = CheckSigningCertificate(LoadIdentity(who), TestPki::kValidTime);
    ASSERT_FALSE(status.ok()) << who.cert;
    EXPECT_EQ(status.error().code(), ErrorCode::kCertificateUnfit) << who.cert;
  }
  const Status late =
      CheckSigningCertificate(LoadIdentity(pki.endorser1()), TestPki::kAfterEndorsersExpire);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().message().find("expired on 2040-01-01T00:00:00Z"), std::string::npos)
      << late.error().message();
}

}  // namespace
}  // namespace vmc
