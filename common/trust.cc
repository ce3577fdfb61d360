#include "common/trust.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/digest.h"
#include "common/openssl_error.h"
#include "common/openssl_ptr.h"

namespace vmc {
namespace {

// ---- Time -------------------------------------------------------------------

std::string FormatAsn1Time(const ASN1_TIME* t) {
  auto parsed = Asn1TimeToTimePoint(t);
  return parsed.ok() ? FormatDate(*parsed) : std::string("(unreadable date)");
}

// ---- Chain verification -----------------------------------------------------

// A store that only knows `ca_dir`. OpenSSL's hashed lookup caches what it
// has read, so a store must not outlive its verification cycle: a long-lived
// one would miss a replaced CRL.
Result<X509StorePtr> NewStore(const std::filesystem::path& ca_dir) {
  X509StorePtr store(X509_STORE_new());
  if (store == nullptr) {
    return Error(ErrorCode::kUntrustedChain, "cannot create a trust store: " + TakeOpenSslError());
  }
  // The lookup is owned by the store.
  X509_LOOKUP* lookup = X509_STORE_add_lookup(store.get(), X509_LOOKUP_hash_dir());
  if (lookup == nullptr || X509_LOOKUP_add_dir(lookup, ca_dir.c_str(), X509_FILETYPE_PEM) != 1) {
    return Error(ErrorCode::kCaDirInvalid,
                 "cannot use CA directory " + ca_dir.string() + ": " + TakeOpenSslError())
        .With("ca_dir", ca_dir.string());
  }
  return store;
}

// The first failure X509_verify_cert reports, captured in the verify callback
// because OpenSSL clears the current CRL before X509_verify_cert returns.
struct FirstFailure {
  int error = X509_V_OK;
  int depth = 0;
  X509Ptr cert;
  X509CrlPtr crl;
};

int RecordFirstFailure(int ok, X509_STORE_CTX* ctx) {
  if (ok != 0) return ok;
  auto* failure = static_cast<FirstFailure*>(X509_STORE_CTX_get_app_data(ctx));
  if (failure != nullptr && failure->error == X509_V_OK) {
    failure->error = X509_STORE_CTX_get_error(ctx);
    failure->depth = X509_STORE_CTX_get_error_depth(ctx);
    if (X509* cert = X509_STORE_CTX_get_current_cert(ctx); cert != nullptr) {
      failure->cert = ShareCertificate(cert);
    }
    if (X509_CRL* crl = X509_STORE_CTX_get0_current_crl(ctx); crl != nullptr) {
      X509_CRL_up_ref(crl);
      failure->crl.reset(crl);
    }
  }
  return 0;  // Stop at the first failure: nothing is overridden.
}

ErrorCode CodeFor(int x509_error) {
  switch (x509_error) {
    case X509_V_ERR_CERT_REVOKED:
      return ErrorCode::kSignerRevoked;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
      return ErrorCode::kCrlMissing;
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID:
      return ErrorCode::kCrlExpired;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return ErrorCode::kSignerExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return ErrorCode::kSignerNotYetValid;
    case X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED:
    case X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_PROXY_SUBJECT_NAME_VIOLATION:
      return ErrorCode::kProxySigner;
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
      return ErrorCode::kWrongPurpose;
    default:
      return ErrorCode::kUntrustedChain;
  }
}

// "signer /C=.." or "CA certificate /C=.. (depth 1 of the signer's chain)".
std::string Describe(X509* cert, int depth) {
  const std::string subject = DnToString(X509_get_subject_name(cert));
  if (depth == 0) return "signer " + subject;
  return "CA certificate " + subject + " (depth " + std::to_string(depth) +
         " of the signer's chain)";
}

std::string RevocationDate(X509_CRL* crl, X509* cert) {
  X509_REVOKED* entry = nullptr;
  if (crl == nullptr || X509_CRL_get0_by_cert(crl, &entry, cert) != 1 || entry == nullptr) {
    return "";
  }
  return " on " + FormatAsn1Time(X509_REVOKED_get0_revocationDate(entry));
}

std::string ChainMessage(ErrorCode code, const FirstFailure& f, X509* cert,
                         const std::filesystem::path& ca_dir, TimePoint at) {
  const std::string who = Describe(cert, f.depth);
  const std::string reason = X509_verify_cert_error_string(f.error);
  const std::string issuer = DnToString(X509_get_issuer_name(cert));
  const std::string crl_issuer =
      f.crl != nullptr ? DnToString(X509_CRL_get_issuer(f.crl.get())) : issuer;
  const std::string when = " (verification time " + FormatDate(at) + ")";
  switch (code) {
    case ErrorCode::kSignerRevoked:
      return who + " was revoked" + RevocationDate(f.crl.get(), cert) + " (CRL of " + crl_issuer +
             ")";
    case ErrorCode::kCrlMissing:
      return "no usable CRL of " + issuer + ", the issuer of " + who + ", in CA directory " +
             ca_dir.string() + ": " + reason + "; every CA of the chain needs a current CRL";
    case ErrorCode::kCrlExpired:
      if (f.error == X509_V_ERR_CRL_NOT_YET_VALID && f.crl != nullptr) {
        return "the CRL of " + crl_issuer + " in CA directory " + ca_dir.string() +
               " is not valid before " + FormatAsn1Time(X509_CRL_get0_lastUpdate(f.crl.get())) +
               when + ", checking " + who;
      }
      return "the CRL of " + crl_issuer + " in CA directory " + ca_dir.string() + " expired" +
             (f.crl != nullptr && X509_CRL_get0_nextUpdate(f.crl.get()) != nullptr
                  ? " on " + FormatAsn1Time(X509_CRL_get0_nextUpdate(f.crl.get()))
                  : std::string()) +
             when + ", checking " + who + "; update the CRLs";
    case ErrorCode::kSignerExpired:
      return who + " expired on " + FormatAsn1Time(X509_get0_notAfter(cert)) + when;
    case ErrorCode::kSignerNotYetValid:
      return who + " is not valid before " + FormatAsn1Time(X509_get0_notBefore(cert)) + when;
    case ErrorCode::kProxySigner:
      return who + " is a proxy certificate or depends on one: " + reason;
    case ErrorCode::kWrongPurpose:
      if (f.depth > 0) return who + " may not issue S/MIME signing certificates: " + reason;
      return who + " may not sign S/MIME messages: " + reason +
             " (needs key usage digitalSignature or nonRepudiation and, if it has an extended "
             "key usage, emailProtection)";
    default:
      return who + " is not trusted by CA directory " + ca_dir.string() + ": " + reason +
             " (issuer " + issuer + ")";
  }
}

Error ChainError(const FirstFailure& f, X509* signer, const std::filesystem::path& ca_dir,
                 TimePoint at) {
  X509* cert = f.cert != nullptr ? f.cert.get() : signer;
  const ErrorCode code = CodeFor(f.error);
  return Error(code, ChainMessage(code, f, cert, ca_dir, at))
      .With("subject", DnToString(X509_get_subject_name(cert)))
      .With("issuer", DnToString(X509_get_issuer_name(cert)))
      .With("depth", std::to_string(f.depth))
      .With("reason", X509_verify_cert_error_string(f.error))
      .With("ca_dir", ca_dir.string())
      .With("at", FormatDate(at));
}

// Refusals decided before OpenSSL builds a chain, on the signer alone.
Status CheckSignerItself(X509* signer, const std::filesystem::path& ca_dir, TimePoint at) {
  auto refuse = [&](ErrorCode code, std::string message) {
    return Error(code, std::move(message))
        .With("subject", DnToString(X509_get_subject_name(signer)))
        .With("issuer", DnToString(X509_get_issuer_name(signer)))
        .With("depth", "0")
        .With("ca_dir", ca_dir.string())
        .With("at", FormatDate(at));
  };
  // OpenSSL refuses proxies too (X509_V_FLAG_ALLOW_PROXY_CERTS is off), but
  // only after other checks and only when it recognises the extension as a
  // proxy; the explicit test makes the rule visible and its code certain.
  if (X509_get_ext_by_NID(signer, NID_proxyCertInfo, -1) >= 0 ||
      (X509_get_extension_flags(signer) & EXFLAG_PROXY) != 0) {
    return refuse(ErrorCode::kProxySigner,
                  Describe(signer, 0) +
                      " is an RFC 3820 proxy certificate; image lists must be signed with the "
                      "endorser's own certificate");
  }
  // A self-signed signer would verify if it sat in the CA directory; trust
  // anchors are trusted to issue endorsers, not to be one.
  if (X509_self_signed(signer, 0) == 1) {
    return refuse(ErrorCode::kUntrustedChain,
                  Describe(signer, 0) +
                      " is self-signed; an endorser's certificate must be "
                      "issued by a CA of " +
                      ca_dir.string());
  }
  return Ok();
}

}  // namespace

X509Ptr ShareCertificate(X509* cert) {
  X509_up_ref(cert);
  return X509Ptr(cert);
}

Result<std::vector<X509Ptr>> ParseCertificatesPem(std::string_view pem) {
  if (pem.size() > static_cast<size_t>(INT_MAX)) {
    return Error(ErrorCode::kCertificateUnfit, "certificate file is too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return Error(ErrorCode::kCertificateUnfit, TakeOpenSslError());
  std::vector<X509Ptr> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    certs.push_back(std::move(cert));
  }
  // Running out of PEM blocks is the normal end; anything else is corruption.
  const unsigned long last = ERR_peek_last_error();
  if (last != 0 &&
      !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
    return Error(ErrorCode::kCertificateUnfit, "corrupt PEM certificate (after " +
                                                   std::to_string(certs.size()) +
                                                   " good ones): " + TakeOpenSslError());
  }
  ERR_clear_error();
  if (certs.empty()) return Error(ErrorCode::kCertificateUnfit, "no PEM certificate found");
  return certs;
}

Result<TimePoint> Asn1TimeToTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kInvalidDate, "unreadable certificate time");
  }
  const std::chrono::year_month_day ymd{std::chrono::year{tm.tm_year + 1900},
                                        std::chrono::month{static_cast<unsigned>(tm.tm_mon + 1)},
                                        std::chrono::day{static_cast<unsigned>(tm.tm_mday)}};
  return TimePoint{std::chrono::sys_days{ymd}} + std::chrono::hours{tm.tm_hour} +
         std::chrono::minutes{tm.tm_min} + std::chrono::seconds{tm.tm_sec};
}

struct TrustStore::Answers {
  std::mutex mutex;
  std::map<std::string, Status, std::less<>> by_chain;
};

TrustStore::TrustStore(std::filesystem::path ca_dir, X509StorePtr store,
                       const KeyMinimums& minimums)
    : ca_dir_(std::move(ca_dir)),
      key_minimums_(minimums),
      store_(std::move(store)),
      answers_(std::make_shared<Answers>()) {}

std::optional<Status> TrustStore::Recall(const std::string& key) const {
  std::lock_guard lock(answers_->mutex);
  const auto it = answers_->by_chain.find(key);
  if (it == answers_->by_chain.end()) return std::nullopt;
  return it->second;
}

void TrustStore::Remember(std::string key, const Status& answer) const {
  std::lock_guard lock(answers_->mutex);
  answers_->by_chain.insert_or_assign(std::move(key), answer);
}

Status CheckCaDir(const std::filesystem::path& dir) {
  auto invalid = [&](const std::string& why) {
    return Error(ErrorCode::kCaDirInvalid, "CA directory " + dir.string() + " " + why)
        .With("ca_dir", dir.string());
  };
  std::error_code ec;
  const auto status = std::filesystem::status(dir, ec);
  if (ec || !std::filesystem::exists(status)) return invalid("does not exist");
  if (!std::filesystem::is_directory(status)) return invalid("is not a directory");
  if (::access(dir.c_str(), R_OK | X_OK) != 0) {
    return invalid(std::string("cannot be read: ") + ErrnoText(errno));
  }
  // X509_LOOKUP_add_dir takes a ':'-separated list: such a path would be
  // split into others silently.
  if (dir.string().find(':') != std::string::npos) {
    return invalid("contains ':', which OpenSSL reads as a list separator");
  }
  return Ok();
}

namespace {
std::atomic<std::uint64_t> stores_opened{0};
}  // namespace

std::uint64_t TrustStore::Opened() { return stores_opened.load(); }

Result<TrustStore> TrustStore::Open(const std::filesystem::path& ca_dir,
                                    const KeyMinimums& minimums) {
  stores_opened.fetch_add(1, std::memory_order_relaxed);
  VMC_RETURN_IF_ERROR(CheckCaDir(ca_dir));
  VMC_ASSIGN_OR_RETURN(X509StorePtr store, NewStore(ca_dir));
  return TrustStore(ca_dir, std::move(store), minimums);
}

Status CheckKeyMinimums(const KeyMinimums& minimums) {
  constexpr int kMostBits = 16384;
  auto check = [](const char* key, int value, int floor) -> Status {
    if (value >= floor && value <= kMostBits) return Ok();
    return Error(ErrorCode::kConfigInvalid,
                 std::string(key) + " is " + std::to_string(value) + "; it may raise the minimum " +
                     std::to_string(floor) + " but not lower it (at most " +
                     std::to_string(kMostBits) + ")")
        .With("key", key);
  };
  VMC_RETURN_IF_ERROR(check("min-rsa-bits", minimums.rsa_bits, kDefaultKeyMinimums.rsa_bits));
  return check("min-ec-bits", minimums.ec_bits, kDefaultKeyMinimums.ec_bits);
}

Status VerifySignerChain(const std::filesystem::path& ca_dir, X509* signer,
                         const std::vector<X509Ptr>& untrusted, TimePoint at) {
  VMC_ASSIGN_OR_RETURN(const TrustStore trust, TrustStore::Open(ca_dir));
  return VerifySignerChain(trust, signer, untrusted, at);
}

namespace {

// What decides a chain's answer besides the store: every certificate offered
// (signer first, then the others in order), by the SHA-256 of its DER
// encoding, and the instant.
std::string ChainKeyStart(TimePoint at) { return std::to_string(at.time_since_epoch().count()); }

bool AddToChainKey(std::string* key, std::string_view der) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(der.data(), der.size(), md, &length, EVP_sha256(), nullptr) != 1) return false;
  key->append(reinterpret_cast<const char*>(md), length);
  return true;
}

std::optional<std::string> ChainKey(X509* signer, const std::vector<X509Ptr>& untrusted,
                                    TimePoint at) {
  std::string key = ChainKeyStart(at);
  auto add = [&key](X509* cert) {
    const auto der = CertificateDer(cert);
    return der.ok() && AddToChainKey(&key, *der);
  };
  if (!add(signer)) return std::nullopt;
  for (const auto& cert : untrusted) {
    if (!add(cert.get())) return std::nullopt;
  }
  return key;
}

Status VerifyChainNow(const TrustStore& trust, X509* signer, const std::vector<X509Ptr>& untrusted,
                      TimePoint at);

}  // namespace

Status VerifySignerChain(const TrustStore& trust, X509* signer,
                         const std::vector<X509Ptr>& untrusted, TimePoint at) {
  const std::optional<std::string> key = ChainKey(signer, untrusted, at);
  if (!key) {
    ERR_clear_error();
    return VerifyChainNow(trust, signer, untrusted, at);
  }
  if (auto answer = trust.Recall(*key)) return *std::move(answer);
  Status answer = VerifyChainNow(trust, signer, untrusted, at);
  trust.Remember(*key, answer);
  return answer;
}

Result<std::string> CertificateDer(X509* cert) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert, &der);
  if (length <= 0) {
    return Error(ErrorCode::kUntrustedChain, "cannot encode a certificate: " + TakeOpenSslError());
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return out;
}

Status VerifyStoredChain(const TrustStore& trust, const std::vector<std::string>& der,
                         TimePoint at) {
  std::string key = ChainKeyStart(at);
  bool keyed = true;
  for (const auto& cert : der) keyed = keyed && AddToChainKey(&key, cert);
  ERR_clear_error();
  if (keyed && !der.empty()) {
    if (auto answer = trust.Recall(key)) return *std::move(answer);
  }
  std::vector<X509Ptr> certs;
  for (const auto& cert : der) {
    const auto* p = reinterpret_cast<const unsigned char*>(cert.data());
    X509Ptr parsed(d2i_X509(nullptr, &p, static_cast<long>(cert.size())));
    if (parsed == nullptr ||
        p != reinterpret_cast<const unsigned char*>(cert.data()) + cert.size()) {
      ERR_clear_error();
      return Error(ErrorCode::kStorage, "a kept certificate of the signer's chain is damaged");
    }
    certs.push_back(std::move(parsed));
  }
  if (certs.empty()) return Error(ErrorCode::kStorage, "no certificate of the signer was kept");
  X509Ptr signer = std::move(certs.front());
  certs.erase(certs.begin());
  return VerifySignerChain(trust, signer.get(), certs, at);
}

namespace {

Error ChainRefusal(ErrorCode code, X509* cert, int depth, std::string message,
                   const std::filesystem::path& ca_dir, TimePoint at) {
  return Error(code, std::move(message))
      .With("subject", DnToString(X509_get_subject_name(cert)))
      .With("issuer", DnToString(X509_get_issuer_name(cert)))
      .With("depth", std::to_string(depth))
      .With("ca_dir", ca_dir.string())
      .With("at", FormatDate(at));
}

// Whether `cert` itself (not only its name) is a certificate of the CA
// directory, through the store's hashed lookup.
bool InCaDir(X509_STORE_CTX* ctx, X509* cert) {
  X509StackAndCertsPtr found(X509_STORE_CTX_get1_certs(ctx, X509_get_subject_name(cert)));
  ERR_clear_error();
  for (int i = 0; found != nullptr && i < sk_X509_num(found.get()); ++i) {
    if (X509_cmp(sk_X509_value(found.get(), i), cert) == 0) return true;
  }
  return false;
}

// Finding the class of "a rogue CA in the message": whatever OpenSSL said
// about a chain that failed (a missing CRL for the rogue CA, a bad CRL
// signature, a bad certificate signature), a chain that reaches the CA
// directory only through a CA certificate the directory does not hold is
// untrusted, and saying "CRL missing" would send the admin looking for the
// rogue's CRL. (A chain that verifies through a genuine intermediate the
// message carried, whose CRL the directory holds, stays good: the root of
// the directory vouched for it.)
Status RequireCasOfCaDir(X509_STORE_CTX* ctx, const std::filesystem::path& ca_dir, TimePoint at) {
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  for (int depth = 1; chain != nullptr && depth < sk_X509_num(chain); ++depth) {
    X509* cert = sk_X509_value(chain, depth);
    if (InCaDir(ctx, cert)) continue;
    return ChainRefusal(ErrorCode::kUntrustedChain, cert, depth,
                        Describe(cert, depth) + " is not in CA directory " + ca_dir.string() +
                            ": it came with the message, and certificates embedded in a "
                            "message are never trust anchors (install the CA, with its CRL, in "
                            "the CA directory if it is to be trusted)",
                        ca_dir, at);
  }
  return Ok();
}

// "an RSA key of 1024 bits" when `key` is weaker than `minimums`. Judged by
// what the key is (EVP_PKEY_is_a works for legacy and provider keys alike,
// where EVP_PKEY_get_base_id answers -1 for the latter) and its size.
std::optional<std::string> WeakKey(EVP_PKEY* key, const KeyMinimums& minimums) {
  if (key == nullptr) return "no readable public key";
  const int bits = EVP_PKEY_get_bits(key);
  auto below = [bits](const char* kind, int minimum) -> std::optional<std::string> {
    if (bits >= minimum) return std::nullopt;
    return std::string(kind) + " key of " + std::to_string(bits) + " bits (at least " +
           std::to_string(minimum) + " required)";
  };
  if (EVP_PKEY_is_a(key, "RSA") == 1 || EVP_PKEY_is_a(key, "RSA-PSS") == 1) {
    return below("an RSA", minimums.rsa_bits);
  }
  if (EVP_PKEY_is_a(key, "DSA") == 1) return below("a DSA", minimums.rsa_bits);
  if (EVP_PKEY_is_a(key, "EC") == 1) return below("an EC", minimums.ec_bits);
  if (EVP_PKEY_is_a(key, "ED25519") == 1 || EVP_PKEY_is_a(key, "ED448") == 1) return std::nullopt;
  // Not judged, so not trusted: SM2, GOST and whatever comes next.
  const char* type = EVP_PKEY_get0_type_name(key);
  return std::string("a key of type ") + (type != nullptr ? type : "unknown") +
         ", which is not accepted";
}

// The digest a certificate's signature was made with, as OpenSSL resolves
// its signature algorithm (X509_get_signature_info: md5WithRSAEncryption,
// RSA-PSS parameters), when it is not SHA-2 (or a pure EdDSA signature).
std::optional<std::string> WeakCertificateSignature(X509* cert) {
  int md = NID_undef;
  int pk = NID_undef;
  if (X509_get_signature_info(cert, &md, &pk, nullptr, nullptr) != 1) {
    ERR_clear_error();
    return "an algorithm OpenSSL cannot identify";
  }
  if (IsSha2Digest(md)) return std::nullopt;
  switch (md) {
    case NID_undef:
      if (pk == NID_ED25519 || pk == NID_ED448) return std::nullopt;
      return "an algorithm without a known digest";
    default:
      return std::string(OBJ_nid2sn(md));
  }
}

// Finding the class of "RSA-512 verified": every key of the verified chain,
// and every signature but the root's self-signature (whose key is trusted
// for being in the CA directory, not for its signature), as OpenSSL's
// auth_level would, but with the site's minimums and a message that names
// the certificate.
Status CheckChainStrength(X509_STORE_CTX* ctx, const KeyMinimums& minimums,
                          const std::filesystem::path& ca_dir, TimePoint at) {
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  const int length = chain != nullptr ? sk_X509_num(chain) : 0;
  for (int depth = 0; depth < length; ++depth) {
    X509* cert = sk_X509_value(chain, depth);
    if (auto weak = WeakKey(X509_get0_pubkey(cert), minimums)) {
      ERR_clear_error();
      return ChainRefusal(ErrorCode::kWeakKey, cert, depth,
                          Describe(cert, depth) + " has " + *weak +
                              "; signer and CA keys must be "
                              "RSA or DSA of at least " +
                              std::to_string(minimums.rsa_bits) + " bits or EC of at least " +
                              std::to_string(minimums.ec_bits) + " bits",
                          ca_dir, at)
          .With("reason", *weak);
    }
    const bool root = depth == length - 1 && X509_self_signed(cert, 0) == 1;
    if (root) continue;
    if (auto weak = WeakCertificateSignature(cert)) {
      return ChainRefusal(ErrorCode::kUntrustedChain, cert, depth,
                          Describe(cert, depth) + " is signed with " + *weak +
                              "; certificates of the chain must be signed with SHA-2",
                          ca_dir, at)
          .With("reason", "weak certificate signature: " + *weak);
    }
  }
  ERR_clear_error();
  return Ok();
}

Status VerifyChainNow(const TrustStore& trust, X509* signer, const std::vector<X509Ptr>& untrusted,
                      TimePoint at) {
  const std::filesystem::path& ca_dir = trust.ca_dir();
  VMC_RETURN_IF_ERROR(CheckCaDir(ca_dir));
  VMC_RETURN_IF_ERROR(CheckSignerItself(signer, ca_dir, at));
  X509_STORE* store = trust.get();

  // The stack borrows the certificates: `untrusted` keeps them alive.
  X509StackOnlyPtr intermediates(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (intermediates == nullptr || ctx == nullptr) {
    return Error(ErrorCode::kUntrustedChain, "cannot verify: " + TakeOpenSslError());
  }
  for (const auto& cert : untrusted) {
    if (sk_X509_push(intermediates.get(), cert.get()) <= 0) {
      return Error(ErrorCode::kUntrustedChain, "cannot verify: " + TakeOpenSslError());
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store, signer, intermediates.get()) != 1 ||
      X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SMIME_SIGN) != 1) {
    return Error(ErrorCode::kUntrustedChain, "cannot verify: " + TakeOpenSslError());
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // CRLs for the whole chain; one fixed instant (set_time also sets
  // X509_V_FLAG_USE_CHECK_TIME). Partial chains and proxies stay refused:
  // those flags are off by default and cleared here so that no inherited
  // default can turn them on.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_ALLOW_PROXY_CERTS);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at.time_since_epoch().count()));

  FirstFailure failure;
  X509_STORE_CTX_set_app_data(ctx.get(), &failure);
  X509_STORE_CTX_set_verify_cb(ctx.get(), RecordFirstFailure);
  const int verified = X509_verify_cert(ctx.get());
  // A failed chain through a CA of the message is refused as such, never as
  // whatever OpenSSL found first on the way (it checks CRLs before
  // signatures, so a rogue CA was "crl-missing"). A revocation is still said
  // as one: the CRL that says it is the CA directory's.
  if (verified != 1 && failure.error != X509_V_ERR_CERT_REVOKED) {
    VMC_RETURN_IF_ERROR(RequireCasOfCaDir(ctx.get(), ca_dir, at));
  }
  if (verified == 1) {
    ERR_clear_error();
    return CheckChainStrength(ctx.get(), trust.key_minimums(), ca_dir, at);
  }
  if (failure.error == X509_V_OK) {
    // No certificate error: OpenSSL itself failed (memory, a broken store).
    return Error(ErrorCode::kUntrustedChain,
                 Describe(signer, 0) + " could not be verified: " + TakeOpenSslError())
        .With("ca_dir", ca_dir.string());
  }
  ERR_clear_error();
  return ChainError(failure, signer, ca_dir, at);
}

}  // namespace
}  // namespace vmc
