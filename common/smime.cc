#include "common/smime.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "common/digest.h"
#include "common/openssl_ptr.h"
#include "common/string_bio.h"

namespace vmc {
namespace {

std::atomic<std::uint64_t> smime_verifications{0};
std::atomic<std::uint64_t> smime_splits{0};

// This thread's OpenSSL error queue, drained: the codes (oldest first) and a
// readable reason, so that one failure never leaks into the next call.
struct OpenSslErrors {
  std::vector<unsigned long> codes;

  bool Has(int lib, int reason) const {
    return std::ranges::any_of(codes, [&](unsigned long code) {
      return ERR_GET_LIB(code) == lib && ERR_GET_REASON(code) == reason;
    });
  }
  // The innermost reason: the oldest entry is where the failure began.
  std::string Reason() const {
    if (codes.empty()) return "unknown OpenSSL error";
    const char* text = ERR_reason_error_string(codes.front());
    return text != nullptr ? text : "OpenSSL error " + std::to_string(codes.front());
  }
};

OpenSslErrors TakeOpenSslErrors() {
  OpenSslErrors errors;
  while (const unsigned long code = ERR_get_error()) errors.codes.push_back(code);
  return errors;
}

BioPtr ReadOnlyBio(std::string_view bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

// ---- Verification -----------------------------------------------------------

// How the signed first part of multipart/signed is read back into bytes.
// OpenSSL's text reading (flags 0) re-canonicalises every line end to CRLF:
// that recovers what `openssl smime -sign` signs by default, whatever the
// transport did to line ends. A list signed with -binary was digested as is,
// so it verifies only when read raw (CMS_BINARY); SMIME_CRLFEOL covers a raw
// signer whose MIME line ends were CRLF. Trying a second reading after the
// first's digest does not match is not a loosening: whichever reading
// verifies, the bytes returned are exactly the ones whose digest the signer
// signed (CMS_verify writes to `out` what it digests), and only those bytes
// are ever parsed. No reading can make unsigned bytes verify.
constexpr int kReadFlags[] = {0, CMS_BINARY, CMS_BINARY | SMIME_CRLFEOL};
constexpr int kReadings = static_cast<int>(std::size(kReadFlags));

Error Malformed(std::string message) {
  return Error(ErrorCode::kSmimeMalformed, std::move(message));
}

// A bare JSON list has no signature at all: say so rather than "malformed".
bool LooksLikeBareJson(std::string_view message) {
  const size_t first = message.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (message[first] == '{' || message[first] == '[');
}

// Step 2 only accepts what image lists are: signed data (as id-data, or text
// with CRLF as `openssl cms -asciicrlf` marks it), never another signed type
// (a receipt, a timestamp token) whose signature could be replayed here.
Status CheckContentTypes(CMS_ContentInfo* cms) {
  if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
    return Malformed("the S/MIME signature is not PKCS#7/CMS signedData");
  }
  const int content_type = OBJ_obj2nid(CMS_get0_eContentType(cms));
  if (content_type != NID_pkcs7_data && content_type != NID_id_ct_asciiTextWithCRLF) {
    return Malformed(std::string("the signed content type is ") + OBJ_nid2ln(content_type) +
                     ", not data");
  }
  return Ok();
}

struct ParsedMessage {
  CmsPtr cms;
  BioPtr content;  // the first MIME part, as this reading produced it
  // The message's certificates, when its SignedData was kept without them
  // (SmimeSplit::certificates); null: they are in `cms`.
  X509StackAndCertsPtr certificates;
};

Result<ParsedMessage> ParseMessage(std::string_view message, int read_flags) {
  smime_splits.fetch_add(1, std::memory_order_relaxed);
  // Not a memory BIO: SMIME_read_CMS splits multipart/signed one byte per
  // BIO_read, and the memory BIO's read path made that a third slower.
  BioPtr in = StringSourceBio(message);
  if (in == nullptr) {
    return Malformed("cannot read the S/MIME message: " + TakeOpenSslErrors().Reason());
  }
  BIO* content = nullptr;
  CmsPtr cms(SMIME_read_CMS_ex(in.get(), read_flags, &content, nullptr));
  BioPtr content_owner(content);
  if (cms == nullptr) {
    const OpenSslErrors errors = TakeOpenSslErrors();
    if (LooksLikeBareJson(message)) {
      return Error(ErrorCode::kNoSigner,
                   "the list is not signed: it is a bare JSON document, not S/MIME");
    }
    return Malformed("not a readable S/MIME message: " + errors.Reason());
  }
  if (content_owner == nullptr) {
    return Malformed(
        "the S/MIME message is opaque-signed (application/pkcs7-mime); image lists are "
        "clear-signed multipart/signed");
  }
  VMC_RETURN_IF_ERROR(CheckContentTypes(cms.get()));
  return ParsedMessage{std::move(cms), std::move(content_owner), nullptr};
}

X509* SignerCertificate(CMS_SignerInfo* si) {
  X509* signer = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, &signer, nullptr, nullptr);
  return signer;
}

// Exactly one SignerInfo, whose certificate the message carries.
Result<CMS_SignerInfo*> TheOnlySigner(CMS_ContentInfo* cms, STACK_OF(X509) * certificates) {
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  const int count = infos != nullptr ? sk_CMS_SignerInfo_num(infos) : 0;
  if (count <= 0) {
    return Error(ErrorCode::kNoSigner, "the S/MIME message has no signature (no SignerInfo)");
  }
  // Matches each SignerInfo's issuer and serial against the message's own
  // certificates; a SignerInfo left without one has no usable signer.
  CMS_set1_signers_certs(cms, certificates, 0);
  ERR_clear_error();
  if (count > 1) {
    std::string who;
    for (int i = 0; i < count; ++i) {
      X509* cert = SignerCertificate(sk_CMS_SignerInfo_value(infos, i));
      who += (i == 0 ? "" : ", ") +
             (cert != nullptr ? DnToString(X509_get_subject_name(cert)) : "(no certificate)");
    }
    return Error(ErrorCode::kMultipleSigners, "the S/MIME message has " + std::to_string(count) +
                                                  " signatures (" + who +
                                                  "); exactly one is accepted")
        .With("signers", who);
  }
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(infos, 0);
  if (SignerCertificate(si) == nullptr) {
    return Error(ErrorCode::kNoSigner,
                 "the signer's certificate is not included in the S/MIME message");
  }
  return si;
}

// At least as many bytes as CMS_verify will write for `content` (a memory
// BIO): a text reading turns each line end into CRLF, so never more than
// twice the part. Reserved pages that are never written cost no memory.
size_t ContentCapacity(BIO* content) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(content, &data);
  return size > 0 ? 2 * static_cast<size_t>(size) : 0;
}

// The outcome of verifying one reading: the signed bytes, or why not.
struct ReadingOutcome {
  std::optional<std::string> content;
  bool content_mismatch = false;  // only the content digest failed
  std::string reason;
};

ReadingOutcome VerifyReading(const ParsedMessage& parsed, int read_flags) {
  // Written straight into a string reserved for the content: a memory BIO
  // grows a third at a time, copying and cleansing each old buffer, and its
  // bytes would then be copied once more.
  std::string content;
  content.reserve(ContentCapacity(parsed.content.get()));
  BioPtr out = StringSinkBio(&content);
  ReadingOutcome outcome;
  if (out == nullptr) {
    outcome.reason = TakeOpenSslErrors().Reason();
    return outcome;
  }
  // No store: the chain is step 3's business (trust.h), with the CA
  // directory, CRLs and one fixed time that CMS_verify would not use.
  const unsigned int flags = CMS_NO_SIGNER_CERT_VERIFY | (read_flags & CMS_BINARY);
  if (CMS_verify(parsed.cms.get(), parsed.certificates.get(), nullptr, parsed.content.get(),
                 out.get(), flags) == 1) {
    ERR_clear_error();
    outcome.content = std::move(content);
    return outcome;
  }
  const OpenSslErrors errors = TakeOpenSslErrors();
  outcome.content_mismatch = errors.Has(ERR_LIB_CMS, CMS_R_CONTENT_VERIFY_ERROR);
  outcome.reason = errors.Reason();
  return outcome;
}

// One reading of a split message judged: the verified message; none when
// only the content digest did not match (another reading may), its reason
// then in `mismatch` unless one is there; an error otherwise.
Result<std::optional<VerifiedMessage>> VerifyParsed(const ParsedMessage& parsed, int read_flags,
                                                    std::string& mismatch);

// The DER of `cms`; empty when it cannot be encoded.
std::string CmsDer(CMS_ContentInfo* cms) {
  unsigned char* der = nullptr;
  const int size = i2d_CMS_ContentInfo(cms, &der);
  if (size <= 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

// `split` with its SignedData re-encoded without the certificates, which go
// to split.certificates; unchanged when that cannot be done. The CMS API
// cannot drop a certificate, but PKCS#7's SignedData is an open structure
// and the same ASN.1: a SignedData that PKCS#7 reads (every signer named by
// issuer and serial, as vmcaster and `openssl smime` write) goes through it.
void KeepCertificatesApart(SmimeSplit& split) {
  const auto* p = reinterpret_cast<const unsigned char*>(split.signature_der.data());
  OpenSslPtr<PKCS7, PKCS7_free> p7(
      d2i_PKCS7(nullptr, &p, static_cast<long>(split.signature_der.size())));
  if (p7 == nullptr || !PKCS7_type_is_signed(p7.get()) || p7->d.sign == nullptr ||
      p7->d.sign->cert == nullptr) {
    ERR_clear_error();
    return;
  }
  std::vector<std::string> certificates;
  for (int i = 0; i < sk_X509_num(p7->d.sign->cert); ++i) {
    auto der = CertificateDer(sk_X509_value(p7->d.sign->cert, i));
    if (!der.ok()) return;
    certificates.push_back(std::move(*der));
  }
  sk_X509_pop_free(p7->d.sign->cert, X509_free);
  p7->d.sign->cert = nullptr;
  unsigned char* der = nullptr;
  const int size = i2d_PKCS7(p7.get(), &der);
  if (size <= 0) {
    ERR_clear_error();
    return;
  }
  split.signature_der.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  split.certificates = std::move(certificates);
}

std::optional<VerifiedMessage> VerifySplit(const SmimeSplit& split);

// The split of `message` that verified in `reading` as `verified`; none
// when it cannot be encoded or, kept as it would be, does not verify to the
// same message (then nothing is kept, and the message is split each time).
std::optional<SmimeSplit> SplitOf(std::string_view message, int reading, CMS_ContentInfo* cms,
                                  std::string part, const VerifiedMessage& verified) {
  std::string signature = CmsDer(cms);
  auto digest = Sha512Hex(message);
  if (signature.empty() || !digest.ok()) return std::nullopt;
  SmimeSplit split{std::move(*digest),
                   OpenSSL_version(OPENSSL_VERSION),
                   reading,
                   std::move(part),
                   std::move(signature),
                   {},
                   {}};
  SmimeSplit apart = split;
  KeepCertificatesApart(apart);
  for (SmimeSplit* candidate : {&apart, &split}) {
    const std::optional<VerifiedMessage> again = VerifySplit(*candidate);
    if (again && again->content == verified.content &&
        again->other_certificates.size() == verified.other_certificates.size() &&
        X509_cmp(again->signer.get(), verified.signer.get()) == 0) {
      candidate->seal = SmimeSplitSeal(*candidate);
      return std::move(*candidate);
    }
  }
  return std::nullopt;
}

// Whether `split` is what this OpenSSL splits exactly `message` into.
bool IsSplitOf(const SmimeSplit& split, std::string_view message) {
  if (split.seal.empty() || split.seal != SmimeSplitSeal(split)) return false;
  if (split.reading < 0 || split.reading >= kReadings) return false;
  if (split.signed_part.size() > static_cast<size_t>(INT_MAX)) return false;
  if (split.openssl != OpenSSL_version(OPENSSL_VERSION)) return false;
  auto digest = Sha512Hex(message);
  return digest.ok() && *digest == split.message_sha512;
}

// The certificates of kept splits, decoded once per process and shared
// (OpenSSL certificates are reference-counted and safe to share between
// threads): the lists of one endorser carry the same ones. Bounded, as a
// daemon runs for months.
class CertificateCache {
 public:
  // A new stack of the certificates `ders` name, each decoded at most once;
  // null when one does not decode.
  X509StackAndCertsPtr Get(const std::vector<std::string>& ders) {
    X509StackAndCertsPtr out(sk_X509_new_null());
    if (out == nullptr) return nullptr;
    std::lock_guard lock(mutex_);
    for (const std::string& der : ders) {
      X509* cert = Find(der);
      if (cert == nullptr || sk_X509_push(out.get(), ShareCertificate(cert).release()) <= 0) {
        return nullptr;
      }
    }
    return out;
  }

 private:
  static constexpr std::size_t kMaxCertificates = 4096;

  X509* Find(const std::string& der) {
    if (const auto it = decoded_.find(der); it != decoded_.end()) return it->second.get();
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (cert == nullptr || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
      ERR_clear_error();
      return nullptr;
    }
    if (decoded_.size() >= kMaxCertificates) decoded_.clear();
    return decoded_.emplace(der, std::move(cert)).first->second.get();
  }

  std::mutex mutex_;
  std::unordered_map<std::string, X509Ptr> decoded_;
};

// Never destroyed: download and verification threads may still use it
// while the process exits.
CertificateCache& Certificates() {
  static auto* const kCache = new CertificateCache();
  return *kCache;
}

// Step 2 after the split, from a kept one; none when it does not verify.
std::optional<VerifiedMessage> VerifySplit(const SmimeSplit& split) {
  const auto* der = reinterpret_cast<const unsigned char*>(split.signature_der.data());
  const unsigned char* end = der + split.signature_der.size();
  ParsedMessage parsed{
      CmsPtr(d2i_CMS_ContentInfo(nullptr, &der, static_cast<long>(split.signature_der.size()))),
      ReadOnlyBio(split.signed_part),
      split.certificates.empty() ? nullptr : Certificates().Get(split.certificates)};
  std::optional<VerifiedMessage> out;
  const bool certificates_read = split.certificates.empty() || parsed.certificates != nullptr;
  if (parsed.cms != nullptr && der == end && parsed.content != nullptr && certificates_read &&
      CheckContentTypes(parsed.cms.get()).ok()) {
    std::string mismatch;
    auto verified = VerifyParsed(parsed, kReadFlags[split.reading], mismatch);
    if (verified.ok()) out = std::move(*verified);
  }
  ERR_clear_error();
  return out;
}

// ---- Algorithms ---------------------------------------------------------------

// The digest OpenSSL computes for a digestAlgorithm OID, found the way CMS
// finds it (cms_lib.c, cms_sd.c): fetched by the OID's name, else the legacy
// table. Both resolve aliases: md5WithRSAEncryption and RSA-MD5 are MD5
// there, whatever the OID says. NID_undef when OpenSSL knows no digest.
int ResolvedDigestNid(const ASN1_OBJECT* oid) {
  if (oid == nullptr) return NID_undef;
  char name[128];
  if (OBJ_obj2txt(name, sizeof(name), oid, 0) <= 0) return NID_undef;
  ERR_set_mark();
  const EvpMdPtr fetched(EVP_MD_fetch(nullptr, name, nullptr));
  ERR_pop_to_mark();
  int nid = NID_undef;
  if (fetched != nullptr) nid = EVP_MD_get_type(fetched.get());
  if (nid == NID_undef) {
    const EVP_MD* legacy = EVP_get_digestbyobj(oid);
    if (legacy != nullptr) nid = EVP_MD_get_type(legacy);
  }
  ERR_clear_error();
  return nid;
}

std::string Lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// "md5 (md5WithRSAEncryption, 1.2.840.113549.1.1.4)": what OpenSSL resolved
// and what the message said, for messages.
std::string AlgorithmText(int resolved, const ASN1_OBJECT* oid) {
  char dotted[128] = "";
  if (oid != nullptr && OBJ_obj2txt(dotted, sizeof(dotted), oid, 1) <= 0) dotted[0] = '\0';
  const int named = oid != nullptr ? OBJ_obj2nid(oid) : NID_undef;
  const std::string text =
      resolved != NID_undef ? Lower(OBJ_nid2sn(resolved)) : std::string("an unknown algorithm");
  std::string said;
  if (named != NID_undef && named != resolved) said = std::string(OBJ_nid2ln(named)) + ", ";
  return text + " (" + said + dotted + ")";
}

// SHA-2 is what signatures use today. SHA-1 is allowed, with a warning, only
// because DESIGN.md section 4 requires the lists of 2011 (and the lists of
// tools that never moved on) to verify: a forged SHA-1 list needs a
// chosen-prefix collision inside text the endorser signs, which is costly
// and leaves bytes that are not valid JSON text. Everything else (MD2, MD4,
// MD5, RIPEMD, SM3, SHA-3, Whirlpool, GOST, unknown) is refused: a digest
// with practical collisions lets one signature cover two lists, and one this
// code has never been judged against has no place in a trust decision.
enum class DigestVerdict { kGood, kLegacy, kRefused };

DigestVerdict JudgeDigest(int nid) {
  if (IsSha2Digest(nid)) return DigestVerdict::kGood;
  return nid == NID_sha1 ? DigestVerdict::kLegacy : DigestVerdict::kRefused;
}

struct Algorithms {
  std::string digest;                 // resolved, lower case: "sha256"
  std::optional<std::string> legacy;  // set when SHA-1 is used: the warning
};

Error WeakAlgorithm(std::string_view what, const std::string& text) {
  return Error(ErrorCode::kSignatureInvalid, "the signature's " + std::string(what) + " is " +
                                                 text +
                                                 "; only SHA-2 (and SHA-1 for old lists) is "
                                                 "accepted")
      .With("algorithm", text);
}

// Judges the SignerInfo's digest algorithm and, where its signature
// algorithm OID names a digest too (sha1WithRSAEncryption, ecdsa-with-SHA256,
// md5WithRSAEncryption), that digest, each by what OpenSSL resolves it to.
// RSA-PSS carries its hash in parameters that OpenSSL requires to equal the
// digest algorithm (rsa_ameth.c), so judging the digest judges it.
Result<Algorithms> CheckAlgorithms(CMS_SignerInfo* si) {
  X509_ALGOR* digest = nullptr;
  X509_ALGOR* signature = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest, &signature);
  const ASN1_OBJECT* digest_oid = nullptr;
  if (digest != nullptr) X509_ALGOR_get0(&digest_oid, nullptr, nullptr, digest);
  const int digest_nid = ResolvedDigestNid(digest_oid);
  const std::string digest_text = AlgorithmText(digest_nid, digest_oid);
  Algorithms out;
  switch (JudgeDigest(digest_nid)) {
    case DigestVerdict::kRefused:
      return WeakAlgorithm("digest", digest_text);
    case DigestVerdict::kLegacy:
      out.legacy = "the signature uses the digest " + digest_text +
                   ", which is deprecated; ask the endorser to sign with SHA-256";
      break;
    case DigestVerdict::kGood:
      break;
  }
  out.digest = Lower(OBJ_nid2sn(digest_nid));

  const ASN1_OBJECT* signature_oid = nullptr;
  if (signature != nullptr) X509_ALGOR_get0(&signature_oid, nullptr, nullptr, signature);
  int named_digest = NID_undef;
  int key_type = NID_undef;
  const int signature_nid = signature_oid != nullptr ? OBJ_obj2nid(signature_oid) : NID_undef;
  if (signature_nid != NID_undef &&
      OBJ_find_sigid_algs(signature_nid, &named_digest, &key_type) == 1 &&
      named_digest != NID_undef) {
    const std::string text = AlgorithmText(named_digest, signature_oid);
    switch (JudgeDigest(named_digest)) {
      case DigestVerdict::kRefused:
        return WeakAlgorithm("signature algorithm's digest", text);
      case DigestVerdict::kLegacy:
        if (!out.legacy) {
          out.legacy = "the signature algorithm names the digest " + text +
                       ", which is deprecated; ask the endorser to sign with SHA-256";
        }
        break;
      case DigestVerdict::kGood:
        break;
    }
  }
  ERR_clear_error();
  return out;
}

VerifiedMessage Describe(CMS_ContentInfo* cms, STACK_OF(X509) * kept, CMS_SignerInfo* si,
                         std::string content, Algorithms algorithms) {
  VerifiedMessage verified;
  verified.content = std::move(content);
  verified.signer = ShareCertificate(SignerCertificate(si));
  verified.signer_dn = DnToString(X509_get_subject_name(verified.signer.get()));
  verified.signer_ca_dn = DnToString(X509_get_issuer_name(verified.signer.get()));
  verified.digest = std::move(algorithms.digest);
  if (algorithms.legacy) verified.warnings.push_back(std::move(*algorithms.legacy));
  X509StackAndCertsPtr certs(kept != nullptr ? X509_chain_up_ref(kept) : CMS_get1_certs(cms));
  while (certs != nullptr && sk_X509_num(certs.get()) > 0) {
    X509Ptr cert(sk_X509_shift(certs.get()));
    if (X509_cmp(cert.get(), verified.signer.get()) != 0) {
      verified.other_certificates.push_back(std::move(cert));
    }
  }
  return verified;
}

// ---- Signing identity -------------------------------------------------------

struct PassphraseRequest {
  std::optional<std::string_view> passphrase;
  bool asked = false;
};

int ProvidePassphrase(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* request = static_cast<PassphraseRequest*>(userdata);
  request->asked = true;
  if (!request->passphrase || request->passphrase->size() > static_cast<size_t>(size)) return -1;
  std::memcpy(buf, request->passphrase->data(), request->passphrase->size());
  return static_cast<int>(request->passphrase->size());
}

Error Unfit(std::string message) { return Error(ErrorCode::kCertificateUnfit, std::move(message)); }

Result<EvpPkeyPtr> ReadPrivateKey(std::string_view pem, std::string_view label,
                                  std::optional<std::string_view> passphrase) {
  if (pem.size() > static_cast<size_t>(INT_MAX)) {
    return Unfit(std::string(label) + " is too large to be a private key");
  }
  BioPtr bio = ReadOnlyBio(pem);
  PassphraseRequest request{passphrase};
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, ProvidePassphrase, &request));
  if (key != nullptr) {
    ERR_clear_error();
    return key;
  }
  const std::string reason = TakeOpenSslErrors().Reason();
  if (request.asked && !passphrase) {
    return Unfit(std::string(label) + " is encrypted: a passphrase is required");
  }
  if (request.asked) {
    return Unfit("cannot decrypt " + std::string(label) + ": wrong passphrase? (" + reason + ")");
  }
  return Unfit("no readable private key in " + std::string(label) + ": " + reason);
}

std::string FirstEmail(X509* cert) {
  EmailStackPtr emails(X509_get1_email(cert));
  if (emails == nullptr || sk_OPENSSL_STRING_num(emails.get()) == 0) return "";
  return sk_OPENSSL_STRING_value(emails.get(), 0);
}

Result<SigningIdentity> LoadIdentity(std::string_view cert_pem, std::string_view cert_label,
                                     std::string_view key_pem, std::string_view key_label,
                                     std::optional<std::string_view> passphrase) {
  auto certs = ParseCertificatesPem(cert_pem);
  if (!certs.ok()) return std::move(certs).error().Prefix(std::string(cert_label) + ": ");
  VMC_ASSIGN_OR_RETURN(EvpPkeyPtr key, ReadPrivateKey(key_pem, key_label, passphrase));

  SigningIdentity identity;
  identity.certificate = std::move(certs->front());
  for (size_t i = 1; i < certs->size(); ++i) identity.chain.push_back(std::move((*certs)[i]));
  identity.subject_dn = DnToString(X509_get_subject_name(identity.certificate.get()));
  identity.issuer_dn = DnToString(X509_get_issuer_name(identity.certificate.get()));
  if (X509_check_private_key(identity.certificate.get(), key.get()) != 1) {
    ERR_clear_error();
    return Unfit("the private key in " + std::string(key_label) +
                 " does not belong to the certificate " + identity.subject_dn + " in " +
                 std::string(cert_label))
        .With("subject", identity.subject_dn);
  }
  identity.key = std::move(key);
  identity.email = FirstEmail(identity.certificate.get());
  return identity;
}

Result<std::string> ReadWholeFile(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  if (in) content << in.rdbuf();
  if (!in || in.bad()) {
    return Error(ErrorCode::kIo, "cannot read " + std::string(what) + " " + path.string())
        .With("file", path.string());
  }
  return content.str();
}

Result<std::optional<VerifiedMessage>> VerifyParsed(const ParsedMessage& parsed, int read_flags,
                                                    std::string& mismatch) {
  VMC_ASSIGN_OR_RETURN(CMS_SignerInfo * si,
                       TheOnlySigner(parsed.cms.get(), parsed.certificates.get()));
  VMC_ASSIGN_OR_RETURN(Algorithms algorithms, CheckAlgorithms(si));
  ReadingOutcome outcome = VerifyReading(parsed, read_flags);
  if (outcome.content) {
    return std::optional(Describe(parsed.cms.get(), parsed.certificates.get(), si,
                                  std::move(*outcome.content), std::move(algorithms)));
  }
  if (!outcome.content_mismatch) {
    return Error(ErrorCode::kSignatureInvalid,
                 "the S/MIME signature of " +
                     DnToString(X509_get_subject_name(SignerCertificate(si))) +
                     " does not verify: " + outcome.reason)
        .With("reason", outcome.reason);
  }
  if (mismatch.empty()) mismatch = outcome.reason;
  return std::optional<VerifiedMessage>();
}

}  // namespace

std::uint64_t SmimeVerifications() { return smime_verifications.load(); }

std::uint64_t SmimeSplits() { return smime_splits.load(); }

Result<VerifiedMessage> VerifySmime(std::string_view message) {
  return VerifySmime(message, nullptr);
}

Result<VerifiedMessage> VerifySmime(std::string_view message, std::optional<SmimeSplit>* split) {
  smime_verifications.fetch_add(1, std::memory_order_relaxed);
  if (split != nullptr) split->reset();
  if (message.size() > static_cast<size_t>(INT_MAX)) {
    return Malformed("the S/MIME message is " + std::to_string(message.size()) +
                     " bytes, more than OpenSSL can read");
  }
  std::string mismatch;
  for (int reading = 0; reading < kReadings; ++reading) {
    // The MIME structure and the signature are the same in every reading;
    // only the bytes of the signed part differ.
    VMC_ASSIGN_OR_RETURN(ParsedMessage parsed, ParseMessage(message, kReadFlags[reading]));
    // Taken before CMS_verify reads the part.
    std::string part = split != nullptr ? BioContents(parsed.content.get()) : std::string();
    VMC_ASSIGN_OR_RETURN(std::optional<VerifiedMessage> verified,
                         VerifyParsed(parsed, kReadFlags[reading], mismatch));
    if (verified) {
      if (split != nullptr) {
        *split = SplitOf(message, reading, parsed.cms.get(), std::move(part), *verified);
      }
      return std::move(*verified);
    }
  }
  return Error(ErrorCode::kSignatureInvalid,
               "the signed content was changed: its digest matches the signature in neither "
               "the text nor the binary reading (" +
                   mismatch + ")")
      .With("reason", mismatch);
}

// Each field length-prefixed, so that no two splits share a seal.
std::string SmimeSplitSeal(const SmimeSplit& split) {
  Sha512 sha;
  const auto field = [&sha](std::string_view bytes) {
    const std::uint64_t size = bytes.size();
    sha.Update(&size, sizeof size);
    sha.Update(bytes);
  };
  field(split.message_sha512);
  field(split.openssl);
  field(std::to_string(split.reading));
  field(split.signed_part);
  field(split.signature_der);
  for (const std::string& certificate : split.certificates) field(certificate);
  auto hex = sha.FinishHex();
  return hex.ok() ? std::move(*hex) : std::string();
}

Result<VerifiedMessage> VerifySmimeKept(std::string_view message, const SmimeSplit* kept,
                                        std::optional<SmimeSplit>* fresh) {
  fresh->reset();
  if (kept != nullptr && IsSplitOf(*kept, message)) {
    if (std::optional<VerifiedMessage> verified = VerifySplit(*kept)) {
      smime_verifications.fetch_add(1, std::memory_order_relaxed);
      return std::move(*verified);
    }
  }
  return VerifySmime(message, fresh);
}

Result<SigningIdentity> LoadSigningIdentityPem(std::string_view cert_pem, std::string_view key_pem,
                                               std::optional<std::string_view> passphrase) {
  return LoadIdentity(cert_pem, "the certificate PEM", key_pem, "the private key PEM", passphrase);
}

Result<SigningIdentity> LoadSigningIdentity(const std::filesystem::path& cert_file,
                                            const std::filesystem::path& key_file,
                                            std::optional<std::string_view> passphrase) {
  VMC_ASSIGN_OR_RETURN(std::string cert_pem, ReadWholeFile(cert_file, "certificate"));
  VMC_ASSIGN_OR_RETURN(std::string key_pem, ReadWholeFile(key_file, "private key"));
  auto identity =
      LoadIdentity(cert_pem, cert_file.string(), key_pem, key_file.string(), passphrase);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  return identity;
}

Status CheckSigningCertificate(const SigningIdentity& identity, TimePoint at) {
  X509* cert = identity.certificate.get();
  const std::string& who = identity.subject_dn;
  if (X509_get_ext_by_NID(cert, NID_proxyCertInfo, -1) >= 0) {
    return Unfit("certificate " + who + " is a proxy certificate; sign with the endorser's own");
  }
  if (X509_check_purpose(cert, X509_PURPOSE_SMIME_SIGN, 0) != 1) {
    ERR_clear_error();
    return Unfit("certificate " + who +
                 " is not fit for S/MIME signing: it needs key usage digitalSignature or "
                 "nonRepudiation and, if it has an extended key usage, emailProtection");
  }
  VMC_ASSIGN_OR_RETURN(TimePoint not_before, Asn1TimeToTimePoint(X509_get0_notBefore(cert)));
  VMC_ASSIGN_OR_RETURN(TimePoint not_after, Asn1TimeToTimePoint(X509_get0_notAfter(cert)));
  if (at < not_before) {
    return Unfit("certificate " + who + " is not valid before " + FormatDate(not_before));
  }
  if (at > not_after) {
    return Unfit("certificate " + who + " expired on " + FormatDate(not_after));
  }
  return Ok();
}

Result<std::string> SignSmime(std::string_view content, const SigningIdentity& identity) {
  // Streaming is how OpenSSL writes detached multipart/signed: the content is
  // canonicalised (no CMS_BINARY: CRLF line ends), digested and written in
  // one pass, and the signature is computed at the end of the pass.
  constexpr unsigned int kFlags = CMS_DETACHED | CMS_STREAM | CMS_PARTIAL;
  auto fail = [&](std::string_view step) {
    return Unfit("cannot sign with " + identity.subject_dn + ": " + std::string(step) + ": " +
                 TakeOpenSslErrors().Reason());
  };
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, kFlags));
  if (cms == nullptr) return fail("CMS_sign");
  if (CMS_add1_signer(cms.get(), identity.certificate.get(), identity.key.get(), EVP_sha256(),
                      kFlags) == nullptr) {
    return fail("adding the signer");
  }
  for (const auto& cert : identity.chain) {
    if (CMS_add1_cert(cms.get(), cert.get()) != 1) return fail("adding a chain certificate");
  }
  BioPtr in = ReadOnlyBio(content);
  BioPtr out(BIO_new(BIO_s_mem()));
  if (in == nullptr || out == nullptr) return fail("allocating buffers");
  if (SMIME_write_CMS(out.get(), cms.get(), in.get(), static_cast<int>(kFlags)) != 1) {
    return fail("writing S/MIME");
  }
  ERR_clear_error();
  return BioContents(out.get());
}

}  // namespace vmc
