#include "common/smime.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>

#include <filesystem>
#include <string>
#include <vector>

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
  auto verified =
      VerifySmime(ReplaceOnce(message, "\"hv:version\": \"1\"", "\"hv:version\": \"2\""));
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
