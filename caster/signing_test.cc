// `caster sign`'s pieces: which identities may sign (with the test PKI), how
// a list is made ready (version, dates, endorser, schema), and that what is
// signed verifies.
#include "caster/signing.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/clock.h"
#include "test/support/pki.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::caster {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::TestPki;
using test::WriteFile;

const TestPki& Pki() { return TestPki::Get(); }
constexpr TimePoint kNow = TestPki::kValidTime;

KeySource Keys(const test::PkiIdentity& id) { return {id.cert, id.key, std::nullopt}; }

SigningIdentity MustLoad(const test::PkiIdentity& id) {
  auto identity = LoadIdentity(Keys(id), kNow);
  EXPECT_TRUE(identity.ok()) << identity.error().ToString();
  return std::move(identity).value();
}

// The refusal of LoadIdentity, which must be kCertificateUnfit.
Error Refusal(const KeySource& keys, TimePoint at = kNow) {
  auto identity = LoadIdentity(keys, at);
  EXPECT_FALSE(identity.ok());
  if (identity.ok()) return Error(ErrorCode::kUsage, "unexpectedly loaded");
  EXPECT_EQ(identity.error().code(), ErrorCode::kCertificateUnfit) << identity.error().ToString();
  return identity.error();
}

bool Mentions(const Error& e, std::string_view text) {
  return e.message().find(text) != std::string::npos;
}

ImageList DraftList(const std::string& version = "") {
  NewListFields f;
  f.identifier = "3f6e9e36-0d5c-4bd4-9a0c-6f8d3e4b2a10";
  f.title = "Test list";
  f.description = "A list to sign";
  f.source = "example.org";
  f.uri = "https://www.example.org/lists/test.list";
  auto list = ImageList::Create(f);
  EXPECT_TRUE(list.ok()) << list.error().ToString();
  if (!version.empty()) {
    EXPECT_TRUE(list->SetVersion(version).ok());
  }
  NewImageFields image;
  image.identifier = "c8a4b8a8-5b0e-4e83-8b36-1c2f1d1e9f00";
  image.uri = "https://www.example.org/images/base.qcow2";
  image.size = 1234;
  image.sha512 = std::string(128, 'e');
  image.title = "Base";
  EXPECT_TRUE(list->AddImage(image).ok());
  return std::move(list).value();
}

SigningParameters Params(std::optional<std::string> version = std::nullopt, int days = 28) {
  return SigningParameters{kNow, days, std::move(version)};
}

// --- LoadIdentity ------------------------------------------------------------

TEST(LoadIdentityTest, EndorserLoads) {
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  EXPECT_EQ(identity.subject_dn, "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser One");
  EXPECT_EQ(identity.issuer_dn, "/C=DE/O=Test Grid/CN=Test Intermediate CA");
  EXPECT_EQ(identity.email, "endorser1@example.org");
}

TEST(LoadIdentityTest, FullChainFileCarriesTheIntermediate) {
  KeySource keys{Pki().endorser1_fullchain(), Pki().endorser1().key, std::nullopt};
  auto identity = LoadIdentity(keys, kNow);
  ASSERT_TRUE(identity.ok()) << identity.error().ToString();
  EXPECT_EQ(identity->chain.size(), 1u);
}

TEST(LoadIdentityTest, EncryptedKeyWithPassphraseFile) {
  TempDir dir;
  // The first line is the passphrase, whatever line end follows.
  WriteFile(dir / "pass", std::string(TestPki::Passphrase()) + "\r\nsecond line\n");
  KeySource keys{Pki().endorser2().cert, Pki().endorser2_encrypted_key(), dir / "pass"};
  auto identity = LoadIdentity(keys, kNow);
  ASSERT_TRUE(identity.ok()) << identity.error().ToString();
  EXPECT_EQ(identity->subject_dn, "/C=DE/O=Test Grid/OU=Endorsers/CN=Endorser Two");
}

TEST(LoadIdentityTest, WrongPassphraseRefused) {
  TempDir dir;
  WriteFile(dir / "pass", "not the passphrase\n");
  const Error e = Refusal({Pki().endorser2().cert, Pki().endorser2_encrypted_key(), dir / "pass"});
  EXPECT_TRUE(Mentions(e, "passphrase")) << e.message();
  EXPECT_FALSE(Mentions(e, "not the passphrase")) << "the passphrase leaked: " << e.message();
}

TEST(LoadIdentityTest, UnreadablePassphraseFileIsIoError) {
  TempDir dir;
  KeySource keys{Pki().endorser2().cert, Pki().endorser2_encrypted_key(), dir / "missing"};
  auto identity = LoadIdentity(keys, kNow);
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.error().code(), ErrorCode::kIo);
}

TEST(LoadIdentityTest, ExpiredCertificateRefusedNamingFileAndDate) {
  const Error e = Refusal(Keys(Pki().expired()));
  EXPECT_TRUE(Mentions(e, Pki().expired().cert.string())) << e.message();
  EXPECT_TRUE(Mentions(e, "expired on 2021-01-01T00:00:00Z")) << e.message();
}

TEST(LoadIdentityTest, ValidCertificateRefusedAfterItExpires) {
  const Error e = Refusal(Keys(Pki().endorser1()), TestPki::kAfterEndorsersExpire);
  EXPECT_TRUE(Mentions(e, "expired on 2040-01-01T00:00:00Z")) << e.message();
}

TEST(LoadIdentityTest, NotYetValidCertificateRefused) {
  const Error e = Refusal(Keys(Pki().not_yet_valid()));
  EXPECT_TRUE(Mentions(e, "not valid before 2045-01-01T00:00:00Z")) << e.message();
}

TEST(LoadIdentityTest, CertificateWithoutSigningUsageRefused) {
  const Error e = Refusal(Keys(Pki().wrong_purpose()));
  EXPECT_TRUE(Mentions(e, "not fit for S/MIME signing")) << e.message();
  EXPECT_TRUE(Mentions(e, Pki().wrong_purpose().cert.string())) << e.message();
}

TEST(LoadIdentityTest, ProxyCertificateRefused) {
  const Error e = Refusal(Keys(Pki().proxy()));
  EXPECT_TRUE(Mentions(e, "proxy")) << e.message();
}

TEST(LoadIdentityTest, KeyOfAnotherCertificateRefused) {
  const Error e = Refusal({Pki().endorser1().cert, Pki().endorser2().key, std::nullopt});
  EXPECT_TRUE(Mentions(e, "does not belong")) << e.message();
}

TEST(LoadIdentityTest, MissingFilesAreIoErrorsThatSayWhy) {
  TempDir dir;
  for (const KeySource& keys : {KeySource{dir / "no-cert", Pki().endorser1().key, std::nullopt},
                                KeySource{Pki().endorser1().cert, dir / "no-key", std::nullopt}}) {
    auto identity = LoadIdentity(keys, kNow);
    ASSERT_FALSE(identity.ok());
    EXPECT_EQ(identity.error().code(), ErrorCode::kIo) << identity.error().ToString();
    EXPECT_TRUE(Mentions(identity.error(), "No such file or directory"))
        << identity.error().message();
  }
}

// A PKCS#12 file made by the openssl command from `id` (passphrase `pass`;
// extra arguments such as -legacy).
fs::path MakePkcs12(const fs::path& dir, const test::PkiIdentity& id, const std::string& pass,
                    std::vector<std::string> extra = {}) {
  fs::path out = dir / ("signer-" + std::to_string(extra.size()) + pass + ".p12");
  std::vector<std::string> argv = {"openssl",        "pkcs12", "-export",       "-in",
                                   id.cert.string(), "-inkey", id.key.string(), "-passout",
                                   "pass:" + pass,   "-out",   out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const auto r = test::Run(argv);
  EXPECT_EQ(r.exit_code, 0) << test::Describe(r);
  return out;
}

TEST(LoadIdentityTest, APkcs12FileHoldsCertificateAndKey) {
  TempDir dir;
  const SigningIdentity pem = MustLoad(Pki().endorser1());
  // Without a passphrase, and with one from --passphrase-file.
  const fs::path open = MakePkcs12(dir.path(), Pki().endorser1(), "");
  auto loaded = LoadIdentity({open, "", std::nullopt}, kNow);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(loaded->subject_dn, pem.subject_dn);
  EXPECT_EQ(loaded->issuer_dn, pem.issuer_dn);
  EXPECT_EQ(loaded->email, pem.email);
  EXPECT_EQ(EVP_PKEY_eq(loaded->key.get(), pem.key.get()), 1);
  const fs::path locked = MakePkcs12(dir.path(), Pki().endorser1(), "s3cret");
  WriteFile(dir / "pass", "s3cret\n");
  loaded = LoadIdentity({locked, "", dir / "pass"}, kNow);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(loaded->subject_dn, pem.subject_dn);
  WriteFile(dir / "wrong", "guess\n");
  EXPECT_TRUE(Mentions(Refusal({locked, "", dir / "wrong"}), "the passphrase is wrong"));
}

TEST(LoadIdentityTest, AnOldPkcs12SaysHowToConvertIt) {
  TempDir dir;
  // RC2-40, as older browsers exported: OpenSSL 3 reads it only with its
  // legacy provider, which catcher's verification must never load.
  const fs::path old = MakePkcs12(dir.path(), Pki().endorser1(), "pw", {"-legacy"});
  WriteFile(dir / "pass", "pw\n");
  const Error e = Refusal({old, "", dir / "pass"});
  EXPECT_TRUE(Mentions(e, "openssl pkcs12 -legacy -in FILE -nodes -out signer.pem")) << e.message();
  EXPECT_TRUE(Mentions(e, old.string())) << e.message();
}

TEST(LoadIdentityTest, APemCertificateNeedsItsKey) {
  auto identity = LoadIdentity({Pki().endorser1().cert, "", std::nullopt}, kNow);
  ASSERT_FALSE(identity.ok());
  EXPECT_EQ(identity.error().code(), ErrorCode::kUsage);
  EXPECT_TRUE(Mentions(identity.error(), "--key is needed")) << identity.error().message();
}

TEST(LoadIdentityTest, GarbageCertificateRefused) {
  TempDir dir;
  WriteFile(dir / "cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  Refusal({dir / "cert.pem", Pki().endorser1().key, std::nullopt});
}

// --- PrepareForSigning -------------------------------------------------------

TEST(PrepareForSigningTest, SetsVersionDatesAndEndorser) {
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  ImageList list = DraftList();
  ASSERT_TRUE(PrepareForSigning(list, ListMeta{}, identity, Params(std::nullopt, 10)).ok());
  EXPECT_EQ(list.version(), "1");
  EXPECT_EQ(list.created(), kNow);
  EXPECT_EQ(list.expires(), kNow + std::chrono::days(10));
  const auto endorser = list.endorser();
  ASSERT_TRUE(endorser.has_value());
  EXPECT_EQ(endorser->dn, identity.subject_dn);
  EXPECT_EQ(endorser->ca, identity.issuer_dn);
  EXPECT_EQ(endorser->email, "endorser1@example.org");
  EXPECT_EQ(endorser->creator, "Endorser One");
}

TEST(PrepareForSigningTest, ChangesNothingElse) {
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  ImageList list = DraftList("4");
  ASSERT_TRUE(list.Set("ad:vo", "vo.example.org").ok());
  ImageList expected = list.Clone();
  ASSERT_TRUE(PrepareForSigning(list, ListMeta{}, identity, Params()).ok());
  ASSERT_TRUE(expected.SetVersion("5").ok());
  expected.SetCreated(kNow);
  expected.SetExpires(kNow + std::chrono::days(28));
  ASSERT_TRUE(
      expected
          .SetEndorser({identity.subject_dn, identity.issuer_dn, identity.email, "Endorser One"})
          .ok());
  EXPECT_EQ(list.Write(), expected.Write());
}

TEST(PrepareForSigningTest, VersionBumpIsNumericAware) {
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"1.0.9", "1.0.10"}, {"9", "10"}, {"2.0-rc9", "2.0-rc10"}, {"beta", "beta.1"}}) {
    ImageList list = DraftList(from);
    ASSERT_TRUE(PrepareForSigning(list, ListMeta{}, identity, Params()).ok()) << from;
    EXPECT_EQ(list.version(), to) << from;
  }
}

TEST(PrepareForSigningTest, BumpGoesAboveTheLastSignedVersion) {
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  // The list says 1.0.2 (set by hand), but 1.0.9 was signed already.
  ImageList list = DraftList("1.0.2");
  ListMeta meta;
  meta.signed_version = "1.0.9";
  ASSERT_TRUE(PrepareForSigning(list, meta, identity, Params()).ok());
  EXPECT_EQ(list.version(), "1.0.10");
  // The list's own version is higher: it is the base.
  ImageList ahead = DraftList("3.0");
  ASSERT_TRUE(PrepareForSigning(ahead, meta, identity, Params()).ok());
  EXPECT_EQ(ahead.version(), "3.1");
}

TEST(PrepareForSigningTest, ExplicitVersionUsedAsGiven) {
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  ImageList list = DraftList("1.0");
  ListMeta meta;
  meta.signed_version = "1.0";
  ASSERT_TRUE(PrepareForSigning(list, meta, identity, Params("2024.11.05")).ok());
  EXPECT_EQ(list.version(), "2024.11.05");
}

TEST(PrepareForSigningTest, ExplicitVersionNotAboveSignedRefused) {
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  ListMeta meta;
  meta.signed_version = "1.0.10";
  for (const std::string version : {"1.0.10", "1.0.9", "1"}) {
    ImageList list = DraftList("1.0.10");
    const std::string before = list.Write();
    const Status status = PrepareForSigning(list, meta, identity, Params(version));
    ASSERT_FALSE(status.ok()) << version;
    EXPECT_EQ(status.error().code(), ErrorCode::kVersionRollback) << version;
    EXPECT_TRUE(Mentions(status.error(), "1.0.10")) << status.error().message();
    EXPECT_EQ(list.Write(), before) << "a refused version changed the list";
  }
}

TEST(PrepareForSigningTest, MissingRequiredKeyRefusedWithPointer) {
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  ImageList list = DraftList();
  ASSERT_TRUE(list.Unset("dc:title").ok());
  const Status status = PrepareForSigning(list, ListMeta{}, identity, Params());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kSchemaViolation);
  EXPECT_TRUE(Mentions(status.error(), "dc:title")) << status.error().message();
}

TEST(PrepareForSigningTest, ListWithoutDescriptionOrUriRefused) {
  // The schema lets field lists omit them; a list we publish has both.
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  for (const char* key : {"dc:description", "hv:uri"}) {
    ImageList list = DraftList();
    ASSERT_TRUE(list.Unset(key).ok());
    const Status status = PrepareForSigning(list, ListMeta{}, identity, Params());
    ASSERT_FALSE(status.ok()) << key;
    EXPECT_EQ(status.error().code(), ErrorCode::kSchemaViolation);
    EXPECT_TRUE(Mentions(status.error(), key)) << status.error().message();
  }
  // Empty is allowed: present is what old subscribers need.
  ImageList list = DraftList();
  ASSERT_TRUE(list.Set("dc:description", "").ok());
  EXPECT_TRUE(PrepareForSigning(list, ListMeta{}, identity, Params()).ok());
}

// --- SignList ----------------------------------------------------------------

TEST(SignListTest, SignatureVerifiesToTheListJson) {
  const SigningIdentity identity = MustLoad(Pki().endorser1());
  ImageList list = DraftList();
  ASSERT_TRUE(PrepareForSigning(list, ListMeta{}, identity, Params()).ok());
  auto signed_text = SignList(list, identity);
  ASSERT_TRUE(signed_text.ok()) << signed_text.error().ToString();
  auto verified = VerifySmime(*signed_text);
  ASSERT_TRUE(verified.ok()) << verified.error().ToString();
  EXPECT_EQ(verified->signer_dn, identity.subject_dn);
  EXPECT_EQ(verified->digest, "sha256");
  auto parsed = ImageList::Parse(verified->content);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->Write(), list.Write());
}

TEST(SignListTest, FullChainEmbedsTheIntermediate) {
  KeySource keys{Pki().endorser1_fullchain(), Pki().endorser1().key, std::nullopt};
  auto identity = LoadIdentity(keys, kNow);
  ASSERT_TRUE(identity.ok());
  ImageList list = DraftList();
  ASSERT_TRUE(PrepareForSigning(list, ListMeta{}, *identity, Params()).ok());
  auto signed_text = SignList(list, *identity);
  ASSERT_TRUE(signed_text.ok()) << signed_text.error().ToString();
  auto verified = VerifySmime(*signed_text);
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->other_certificates.size(), 1u);
}

}  // namespace
}  // namespace vmc::caster
