#include "common/trust.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/smime.h"
#include "test/support/fixtures.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc {
namespace {

namespace fs = std::filesystem;
using test::ReadFile;
using test::RunResult;
using test::TempDir;
using test::TestPki;
using test::WriteFile;

constexpr TimePoint kValid = TestPki::kValidTime;

X509Ptr LoadCert(const fs::path& pem) {
  auto certs = ParseCertificatesPem(ReadFile(pem));
  EXPECT_TRUE(certs.ok()) << pem << ": " << certs.error().ToString();
  return certs.ok() ? std::move(certs->front()) : nullptr;
}

std::string Detail(const Error& error, std::string_view key) {
  for (const auto& [k, v] : error.details()) {
    if (k == key) return v;
  }
  return "(no " + std::string(key) + ")";
}

// Verifies `cert` (a PEM file) with no extra intermediates.
Status VerifyCert(const fs::path& ca_dir, const fs::path& cert, TimePoint at = kValid) {
  X509Ptr x509 = LoadCert(cert);
  if (x509 == nullptr) return Error(ErrorCode::kIo, "no certificate");
  return VerifySignerChain(ca_dir, x509.get(), {}, at);
}

// `openssl x509 -hash` or `openssl crl -hash` of a PEM file.
std::string OpensslHash(std::string_view kind, const fs::path& pem) {
  const RunResult result =
      test::Run({"openssl", std::string(kind), "-hash", "-noout", "-in", pem.string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.out.substr(0, result.out.find('\n'));
}

// A writable copy of a CA directory of the test PKI.
fs::path CopyCaDir(const TempDir& tmp, const fs::path& from) {
  fs::path to = tmp / "cadir";
  fs::copy(from, to, fs::copy_options::recursive);
  return to;
}

std::string Fixture() { return test::HepixReadmeFixture(); }

#define EXPECT_CODE(status, expected)                                  \
  do {                                                                 \
    const auto& s_ = (status);                                         \
    ASSERT_FALSE(s_.ok()) << "expected " << ErrorCodeName(expected);   \
    EXPECT_EQ(s_.error().code(), (expected)) << s_.error().ToString(); \
  } while (false)

// ---- Accepted --------------------------------------------------------------

TEST(TrustTest, ValidChainAcceptedAtFixedTime) {
  const TestPki& pki = TestPki::Get();
  const Status status = VerifyCert(pki.ca_dir(), pki.endorser1().cert);
  EXPECT_TRUE(status.ok()) << status.error().ToString();
}

TEST(TrustTest, ValidChainRejectedAfterItsExpiry) {
  const TestPki& pki = TestPki::Get();
  const Status status =
      VerifyCert(pki.ca_dir(), pki.endorser1().cert, TestPki::kAfterEndorsersExpire);
  EXPECT_CODE(status, ErrorCode::kSignerExpired);
  EXPECT_NE(status.error().message().find("expired on 2040-01-01T00:00:00Z"), std::string::npos)
      << status.error().message();
}

TEST(TrustTest, SignedMessagePassesStepsTwoAndThree) {
  const TestPki& pki = TestPki::Get();
  auto identity = LoadSigningIdentity(pki.endorser2().cert, pki.endorser2().key, std::nullopt);
  ASSERT_TRUE(identity.ok()) << identity.error().ToString();
  auto message = SignSmime("{}", *identity);
  ASSERT_TRUE(message.ok());
  auto verified = VerifySmime(*message);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  const Status status =
      VerifySignerChain(pki.ca_dir(), verified->signer.get(), verified->other_certificates, kValid);
  EXPECT_TRUE(status.ok()) << status.error().ToString();
}

TEST(TrustTest, IntermediateFromTheMessageCompletesTheChain) {
  const TestPki& pki = TestPki::Get();
  TempDir tmp;
  const fs::path ca_dir = CopyCaDir(tmp, pki.ca_dir());
  fs::remove(ca_dir / (OpensslHash("x509", pki.intermediate().cert) + ".0"));
  X509Ptr signer = LoadCert(pki.endorser1().cert);
  std::vector<X509Ptr> untrusted;
  untrusted.push_back(LoadCert(pki.intermediate().cert));
  const Status with = VerifySignerChain(ca_dir, signer.get(), untrusted, kValid);
  EXPECT_TRUE(with.ok()) << with.error().ToString();
  EXPECT_CODE(VerifySignerChain(ca_dir, signer.get(), {}, kValid), ErrorCode::kUntrustedChain);
}

// ---- Rejected --------------------------------------------------------------

TEST(TrustTest, UntrustedChainRejected) {
  const TestPki& pki = TestPki::Get();
  const Status status = VerifyCert(pki.ca_dir(), pki.untrusted_endorser().cert);
  EXPECT_CODE(status, ErrorCode::kUntrustedChain);
  EXPECT_NE(status.error().message().find("signer /C=DE/O=Test Grid/OU=Endorsers/CN=Untrusted "
                                          "Endorser is not trusted by CA directory"),
            std::string::npos)
      << status.error().message();
  EXPECT_EQ(Detail(status.error(), "depth"), "0");
}

TEST(TrustTest, RootFromTheMessageIsNotTrusted) {
  const TestPki& pki = TestPki::Get();
  X509Ptr signer = LoadCert(pki.untrusted_endorser().cert);
  std::vector<X509Ptr> untrusted;
  untrusted.push_back(LoadCert(pki.untrusted_ca().cert));
  EXPECT_CODE(VerifySignerChain(pki.ca_dir(), signer.get(), untrusted, kValid),
              ErrorCode::kUntrustedChain);
}

TEST(TrustTest, SelfSignedSignerRejected) {
  const TestPki& pki = TestPki::Get();
  EXPECT_CODE(VerifyCert(pki.ca_dir(), pki.self_signed().cert), ErrorCode::kUntrustedChain);
}

TEST(TrustTest, SelfSignedSignerRejectedEvenWhenInTheCaDirectory) {
  const TestPki& pki = TestPki::Get();
  TempDir tmp;
  const fs::path ca_dir = CopyCaDir(tmp, pki.ca_dir());
  fs::copy_file(pki.self_signed().cert,
                ca_dir / (OpensslHash("x509", pki.self_signed().cert) + ".0"));
  const Status status = VerifyCert(ca_dir, pki.self_signed().cert);
  EXPECT_CODE(status, ErrorCode::kUntrustedChain);
  EXPECT_NE(status.error().message().find("self-signed"), std::string::npos);
}

// ---- Key strength (DESIGN.md section 5, step 2) ------------------------------

TEST(TrustTest, WeakSignerKeyRejected) {
  const TestPki& pki = TestPki::Get();
  // The control: RSA at the minimum, and the EC P-256 endorsers.
  Status status = VerifyCert(pki.ca_dir(), pki.rsa_endorser().cert);
  EXPECT_TRUE(status.ok()) << status.error().ToString();

  // An RSA-1024 signer issued by a trusted CA, its chain otherwise perfect.
  status = VerifyCert(pki.ca_dir(), pki.weak_rsa_endorser().cert);
  EXPECT_CODE(status, ErrorCode::kWeakKey);
  EXPECT_EQ(Detail(status.error(), "depth"), "0");
  EXPECT_NE(status.error().message().find("Weak RSA Endorser has an RSA key of 1024 bits (at "
                                          "least 2048 required)"),
            std::string::npos)
      << status.error().message();

  // A strong signer under a CA whose key is RSA-1024.
  status = VerifyCert(pki.ca_dir_weak_ca(), pki.weak_ca_endorser().cert);
  EXPECT_CODE(status, ErrorCode::kWeakKey);
  EXPECT_EQ(Detail(status.error(), "depth"), "1");
  EXPECT_NE(status.error().message().find("CA certificate /C=DE/O=Test Grid/CN=Test Weak "
                                          "Intermediate CA (depth 1 of the signer's chain) has "
                                          "an RSA key of 1024 bits"),
            std::string::npos)
      << status.error().message();

  // And through a message: signing with the weak key works, trusting it not.
  auto identity =
      LoadSigningIdentity(pki.weak_rsa_endorser().cert, pki.weak_rsa_endorser().key, std::nullopt);
  ASSERT_TRUE(identity.ok()) << identity.error().ToString();
  auto message = SignSmime("{}", *identity);
  ASSERT_TRUE(message.ok()) << message.error().ToString();
  auto verified = VerifySmime(*message);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_CODE(
      VerifySignerChain(pki.ca_dir(), verified->signer.get(), verified->other_certificates, kValid),
      ErrorCode::kWeakKey);
}

TEST(TrustTest, CertificateSignedWithSha1Rejected) {
  const TestPki& pki = TestPki::Get();
  const Status status = VerifyCert(pki.ca_dir(), pki.sha1_endorser().cert);
  EXPECT_CODE(status, ErrorCode::kUntrustedChain);
  EXPECT_NE(status.error().message().find("SHA-1 Endorser is signed with SHA1; certificates of "
                                          "the chain must be signed with SHA-2"),
            std::string::npos)
      << status.error().message();
}

TEST(TrustTest, KeyMinimumsMayOnlyBeRaised) {
  const TestPki& pki = TestPki::Get();
  EXPECT_TRUE(CheckKeyMinimums(kDefaultKeyMinimums).ok());
  EXPECT_TRUE(CheckKeyMinimums({3072, 384}).ok());
  EXPECT_CODE(CheckKeyMinimums({1024, 256}), ErrorCode::kConfigInvalid);
  EXPECT_CODE(CheckKeyMinimums({2048, 224}), ErrorCode::kConfigInvalid);
  EXPECT_CODE(CheckKeyMinimums({1 << 20, 256}), ErrorCode::kConfigInvalid);

  auto strict = TrustStore::Open(pki.ca_dir(), {3072, 384});
  ASSERT_TRUE(strict.ok()) << strict.error().ToString();
  X509Ptr rsa = LoadCert(pki.rsa_endorser().cert);
  X509Ptr ec = LoadCert(pki.endorser1().cert);
  const Status rsa_status = VerifySignerChain(*strict, rsa.get(), {}, kValid);
  EXPECT_CODE(rsa_status, ErrorCode::kWeakKey);
  EXPECT_NE(rsa_status.error().message().find("at least 3072 required"), std::string::npos)
      << rsa_status.error().message();
  const Status ec_status = VerifySignerChain(*strict, ec.get(), {}, kValid);
  EXPECT_CODE(ec_status, ErrorCode::kWeakKey);
  EXPECT_NE(ec_status.error().message().find("an EC key of 256 bits (at least 384 required)"),
            std::string::npos)
      << ec_status.error().message();
}

// ---- Certificates the message carries ----------------------------------------

// Signs with `who`, embedding `chain` (PEM files) in the message, and runs
// steps 2 and 3 against the test CA directory.
Status VerifyMessageWithChain(const test::PkiIdentity& who, const std::vector<fs::path>& chain) {
  auto identity = LoadSigningIdentity(who.cert, who.key, std::nullopt);
  if (!identity.ok()) return std::move(identity).error();
  for (const auto& pem : chain) identity->chain.push_back(LoadCert(pem));
  auto message = SignSmime("{}", *identity);
  if (!message.ok()) return std::move(message).error();
  auto verified = VerifySmime(*message);
  if (!verified.ok()) return std::move(verified).error();
  EXPECT_EQ(verified->other_certificates.size(), chain.size());
  return VerifySignerChain(TestPki::Get().ca_dir(), verified->signer.get(),
                           verified->other_certificates, kValid);
}

TEST(TrustTest, RogueCaEmbeddedInTheMessageIsAnUntrustedChain) {
  const TestPki& pki = TestPki::Get();
  struct Case {
    const char* what;
    test::PkiIdentity signer;
    std::vector<fs::path> chain;
    const char* named;  // the CA the message must name
  };
  const Case cases[] = {
      // A CA the attacker made, claiming the real root as its issuer: OpenSSL
      // found no CRL for it and this was "crl-missing".
      {"rogue CA under the root's name",
       pki.rogue_endorser(),
       {pki.rogue_ca().cert},
       "Test Rogue CA"},
      {"rogue CA and its fake root",
       pki.rogue_endorser(),
       {pki.rogue_ca().cert, pki.rogue_root().cert},
       "Test Rogue CA"},
      // A self-made root carried by the message.
      {"self-made root", pki.untrusted_endorser(), {pki.untrusted_ca().cert}, "Test Untrusted CA"},
      // A real CA, just not installed: trust comes from the directory alone.
      {"CA not in the directory", pki.nocrl_endorser(), {pki.nocrl_ca().cert}, "Test No-CRL CA"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const Status status = VerifyMessageWithChain(c.signer, c.chain);
    EXPECT_CODE(status, ErrorCode::kUntrustedChain);
    const std::string& message = status.error().message();
    EXPECT_NE(message.find(c.named), std::string::npos) << message;
    EXPECT_NE(message.find("is not in CA directory"), std::string::npos) << message;
    EXPECT_NE(message.find("certificates embedded in a message are never trust anchors"),
              std::string::npos)
        << message;
  }
  // The chain a real endorser embeds (the intermediate, also in the
  // directory) is as good as none.
  const Status real = VerifyMessageWithChain(pki.endorser1(), {pki.intermediate().cert});
  EXPECT_TRUE(real.ok()) << real.error().ToString();
}

TEST(TrustTest, PartialChainRejected) {
  // The intermediate and its CRL are there, the root is not: OpenSSL must not
  // stop at the intermediate.
  const TestPki& pki = TestPki::Get();
  TempDir tmp;
  const fs::path ca_dir = CopyCaDir(tmp, pki.ca_dir());
  fs::remove(ca_dir / (OpensslHash("x509", pki.root().cert) + ".0"));
  EXPECT_CODE(VerifyCert(ca_dir, pki.endorser1().cert), ErrorCode::kUntrustedChain);
}

TEST(TrustTest, RevokedSignerRejected) {
  const TestPki& pki = TestPki::Get();
  const Status status = VerifyCert(pki.ca_dir(), pki.revoked().cert);
  EXPECT_CODE(status, ErrorCode::kSignerRevoked);
  const std::string& message = status.error().message();
  EXPECT_EQ(message.find("signer /C=DE/O=Test Grid/OU=Endorsers/CN=Revoked Endorser was revoked"),
            0u)
      << message;
  EXPECT_NE(message.find("(CRL of /C=DE/O=Test Grid/CN=Test Intermediate CA)"), std::string::npos)
      << message;
}

TEST(TrustTest, MissingCrlRejected) {
  const TestPki& pki = TestPki::Get();
  const Status status = VerifyCert(pki.ca_dir_missing_crl(), pki.endorser1().cert);
  EXPECT_CODE(status, ErrorCode::kCrlMissing);
  EXPECT_NE(status.error().message().find("no usable CRL of /C=DE/O=Test Grid/CN=Test "
                                          "Intermediate CA"),
            std::string::npos)
      << status.error().message();
}

TEST(TrustTest, RootCrlRequiredToo) {
  const TestPki& pki = TestPki::Get();
  TempDir tmp;
  const fs::path ca_dir = CopyCaDir(tmp, pki.ca_dir());
  fs::remove(ca_dir / (OpensslHash("crl", pki.root_crl()) + ".r0"));
  const Status status = VerifyCert(ca_dir, pki.endorser1().cert);
  EXPECT_CODE(status, ErrorCode::kCrlMissing);
  EXPECT_NE(Detail(status.error(), "depth"), "0") << status.error().ToString();
}

TEST(TrustTest, CaWithoutAnyCrlRejected) {
  const TestPki& pki = TestPki::Get();
  EXPECT_CODE(VerifyCert(pki.ca_dir_nocrl_ca(), pki.nocrl_endorser().cert), ErrorCode::kCrlMissing);
  // Without that CA in the directory, the same endorser is simply untrusted.
  EXPECT_CODE(VerifyCert(pki.ca_dir(), pki.nocrl_endorser().cert), ErrorCode::kUntrustedChain);
}

TEST(TrustTest, ExpiredCrlRejected) {
  const TestPki& pki = TestPki::Get();
  const Status status = VerifyCert(pki.ca_dir_expired_crl(), pki.endorser1().cert);
  EXPECT_CODE(status, ErrorCode::kCrlExpired);
  EXPECT_NE(status.error().message().find("expired on 2021-01-01T00:00:00Z"), std::string::npos)
      << status.error().message();
}

TEST(TrustTest, CrlNotYetValidRejected) {
  // At 2019 the CRLs (lastUpdate 2020-01-01) are not valid yet; they are
  // checked before the certificates' own dates.
  const TestPki& pki = TestPki::Get();
  const TimePoint before = std::chrono::sys_days{std::chrono::year{2019} / 6 / 1};
  EXPECT_CODE(VerifyCert(pki.ca_dir(), pki.endorser1().cert, before), ErrorCode::kCrlExpired);
}

TEST(TrustTest, ExpiredSignerRejected) {
  const TestPki& pki = TestPki::Get();
  const Status status = VerifyCert(pki.ca_dir(), pki.expired().cert);
  EXPECT_CODE(status, ErrorCode::kSignerExpired);
  EXPECT_NE(status.error().message().find("expired on 2021-01-01T00:00:00Z (verification time "
                                          "2030-01-01T00:00:00Z)"),
            std::string::npos)
      << status.error().message();
}

TEST(TrustTest, NotYetValidSignerRejected) {
  const TestPki& pki = TestPki::Get();
  const Status status = VerifyCert(pki.ca_dir(), pki.not_yet_valid().cert);
  EXPECT_CODE(status, ErrorCode::kSignerNotYetValid);
  EXPECT_NE(status.error().message().find("not valid before 2045-01-01T00:00:00Z"),
            std::string::npos)
      << status.error().message();
}

TEST(TrustTest, ProxySignerRejected) {
  // A real message signed with the proxy passes step 2 and fails step 3.
  const TestPki& pki = TestPki::Get();
  TempDir tmp;
  WriteFile(tmp / "content", "{}\n");
  const RunResult signed_message =
      test::Run({"openssl", "smime", "-sign", "-in", (tmp / "content").string(), "-signer",
                 pki.proxy().cert.string(), "-inkey", pki.proxy().key.string(), "-certfile",
                 pki.endorser1().cert.string()});
  ASSERT_EQ(signed_message.exit_code, 0) << signed_message.err;
  auto verified = VerifySmime(signed_message.out);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->signer_dn, "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One/CN=proxy");
  ASSERT_EQ(verified->other_certificates.size(), 1u);
  const Status status =
      VerifySignerChain(pki.ca_dir(), verified->signer.get(), verified->other_certificates, kValid);
  EXPECT_CODE(status, ErrorCode::kProxySigner);
}

TEST(TrustTest, WrongPurposeRejected) {
  const TestPki& pki = TestPki::Get();
  for (const auto& cert : {pki.wrong_purpose().cert, pki.server().cert}) {
    const Status status = VerifyCert(pki.ca_dir(), cert);
    EXPECT_CODE(status, ErrorCode::kWrongPurpose);
  }
}

TEST(TrustTest, ReplacedCrlTakesEffectAtTheNextVerification) {
  const TestPki& pki = TestPki::Get();
  TempDir tmp;
  const fs::path ca_dir = CopyCaDir(tmp, pki.ca_dir());
  const fs::path crl = ca_dir / (OpensslHash("crl", pki.intermediate_crl()) + ".r0");
  ASSERT_TRUE(fs::exists(crl));
  X509Ptr endorser2 = LoadCert(pki.endorser2().cert);

  const Status before = VerifySignerChain(ca_dir, endorser2.get(), {}, kValid);
  EXPECT_TRUE(before.ok()) << before.error().ToString();

  fs::copy_file(pki.intermediate_crl_revoking_endorser2(), crl,
                fs::copy_options::overwrite_existing);
  EXPECT_CODE(VerifySignerChain(ca_dir, endorser2.get(), {}, kValid), ErrorCode::kSignerRevoked);

  fs::copy_file(pki.intermediate_crl(), crl, fs::copy_options::overwrite_existing);
  const Status after = VerifySignerChain(ca_dir, endorser2.get(), {}, kValid);
  EXPECT_TRUE(after.ok()) << after.error().ToString();
}

TEST(TrustTest, TrustStoreServesACycleAndANewOneSeesAReplacedCrl) {
  const TestPki& pki = TestPki::Get();
  TempDir tmp;
  const fs::path ca_dir = CopyCaDir(tmp, pki.ca_dir());
  const fs::path crl = ca_dir / (OpensslHash("crl", pki.intermediate_crl()) + ".r0");
  X509Ptr endorser1 = LoadCert(pki.endorser1().cert);
  X509Ptr endorser2 = LoadCert(pki.endorser2().cert);
  X509Ptr revoked = LoadCert(pki.revoked().cert);

  auto cycle = TrustStore::Open(ca_dir);
  ASSERT_TRUE(cycle.ok()) << cycle.error().ToString();
  // One store, many verifications, each judged on its own.
  for (int i = 0; i < 3; ++i) {
    const Status ok1 = VerifySignerChain(*cycle, endorser1.get(), {}, kValid);
    EXPECT_TRUE(ok1.ok()) << ok1.error().ToString();
    EXPECT_CODE(VerifySignerChain(*cycle, revoked.get(), {}, kValid), ErrorCode::kSignerRevoked);
  }
  EXPECT_TRUE(VerifySignerChain(*cycle, endorser2.get(), {}, kValid).ok());

  fs::copy_file(pki.intermediate_crl_revoking_endorser2(), crl,
                fs::copy_options::overwrite_existing);
  auto next = TrustStore::Open(ca_dir);
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_CODE(VerifySignerChain(*next, endorser2.get(), {}, kValid), ErrorCode::kSignerRevoked);
  EXPECT_CODE(TrustStore::Open(tmp.path() / "missing"), ErrorCode::kCaDirInvalid);
}

std::vector<std::string> Der(std::initializer_list<const X509*> certs) {
  std::vector<std::string> out;
  for (const X509* cert : certs) {
    auto der = CertificateDer(const_cast<X509*>(cert));
    EXPECT_TRUE(der.ok());
    if (der.ok()) out.push_back(*der);
  }
  return out;
}

// What a 304 judges: the kept certificates of the signer, with this cycle's
// store at this cycle's instant, with the answers of the certificates
// themselves, remembered per store and instant only.
TEST(TrustTest, StoredChainIsJudgedAsItsCertificates) {
  const TestPki& pki = TestPki::Get();
  TempDir tmp;
  const fs::path ca_dir = CopyCaDir(tmp, pki.ca_dir());
  X509Ptr endorser1 = LoadCert(pki.endorser1().cert);
  X509Ptr endorser2 = LoadCert(pki.endorser2().cert);
  X509Ptr intermediate = LoadCert(pki.intermediate().cert);
  X509Ptr revoked = LoadCert(pki.revoked().cert);
  X509Ptr untrusted = LoadCert(pki.untrusted_endorser().cert);
  auto cycle = TrustStore::Open(ca_dir);
  ASSERT_TRUE(cycle.ok()) << cycle.error().ToString();

  for (int i = 0; i < 2; ++i) {  // the second time from the store's answers
    const Status good =
        VerifyStoredChain(*cycle, Der({endorser1.get(), intermediate.get()}), kValid);
    EXPECT_TRUE(good.ok()) << good.error().ToString();
    EXPECT_CODE(VerifyStoredChain(*cycle, Der({revoked.get()}), kValid), ErrorCode::kSignerRevoked);
    EXPECT_CODE(VerifyStoredChain(*cycle, Der({untrusted.get()}), kValid),
                ErrorCode::kUntrustedChain);
    // Another instant is another question, answered as for the certificate.
    const TimePoint later = kValid + std::chrono::hours(24 * 365 * 30);
    const Status stored = VerifyStoredChain(*cycle, Der({endorser1.get()}), later);
    const Status direct = VerifySignerChain(ca_dir, endorser1.get(), {}, later);
    ASSERT_FALSE(stored.ok());
    ASSERT_FALSE(direct.ok());
    EXPECT_EQ(stored.error().code(), direct.error().code()) << stored.error().message();
  }
  // Kept bytes that are no certificate are refused, not trusted.
  std::vector<std::string> damaged = Der({endorser1.get()});
  damaged[0].resize(damaged[0].size() / 2);
  EXPECT_CODE(VerifyStoredChain(*cycle, damaged, kValid), ErrorCode::kStorage);
  std::vector<std::string> trailing = Der({endorser1.get()});
  trailing[0] += "x";
  EXPECT_CODE(VerifyStoredChain(*cycle, trailing, kValid), ErrorCode::kStorage);
  EXPECT_CODE(VerifyStoredChain(*cycle, {}, kValid), ErrorCode::kStorage);

  // A CRL replaced on disk: the next cycle's store answers anew.
  EXPECT_TRUE(VerifyStoredChain(*cycle, Der({endorser2.get()}), kValid).ok());
  fs::copy_file(pki.intermediate_crl_revoking_endorser2(),
                ca_dir / (OpensslHash("crl", pki.intermediate_crl()) + ".r0"),
                fs::copy_options::overwrite_existing);
  auto next = TrustStore::Open(ca_dir);
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_CODE(VerifyStoredChain(*next, Der({endorser2.get()}), kValid), ErrorCode::kSignerRevoked);
}

TEST(TrustTest, MissingOrInvalidCaDirRejected) {
  const TestPki& pki = TestPki::Get();
  const Status missing = VerifyCert(pki.dir() / "no-such-dir", pki.endorser1().cert);
  EXPECT_CODE(missing, ErrorCode::kCaDirInvalid);
  EXPECT_NE(missing.error().message().find((pki.dir() / "no-such-dir").string()),
            std::string::npos);
  EXPECT_CODE(VerifyCert(pki.endorser1().cert, pki.endorser1().cert), ErrorCode::kCaDirInvalid);
}

TEST(TrustTest, EmptyCaDirTrustsNothing) {
  TempDir tmp;
  EXPECT_CODE(VerifyCert(tmp.path(), TestPki::Get().endorser1().cert), ErrorCode::kUntrustedChain);
}

TEST(TrustTest, HepixFixtureFailsAsUntrustedChain) {
  auto verified = VerifySmime(Fixture());
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  // When the 2011 certificate was valid: still not trusted by our CA dir.
  const TimePoint in_2010 = std::chrono::sys_days{std::chrono::year{2010} / 6 / 1};
  const Status status = VerifySignerChain(TestPki::Get().ca_dir(), verified->signer.get(),
                                          verified->other_certificates, in_2010);
  EXPECT_CODE(status, ErrorCode::kUntrustedChain);
  EXPECT_EQ(Detail(status.error(), "issuer"), "/C=DE/O=GermanGrid/CN=GridKa-CA");
}

// ---- Certificates ----------------------------------------------------------

TEST(TrustTest, ParseCertificatesPemReadsAllAndRejectsJunk) {
  const TestPki& pki = TestPki::Get();
  auto chain = ParseCertificatesPem(ReadFile(pki.endorser1_fullchain()));
  ASSERT_TRUE(chain.ok()) << chain.error().ToString();
  EXPECT_EQ(chain->size(), 2u);
  auto none = ParseCertificatesPem("not a certificate");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kCertificateUnfit);
  std::string corrupt = ReadFile(pki.endorser1().cert);
  corrupt[corrupt.size() / 2] = '*';
  auto bad = ParseCertificatesPem(corrupt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCertificateUnfit);
}

}  // namespace
}  // namespace vmc
