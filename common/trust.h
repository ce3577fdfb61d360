// Trust: who may sign an image list. Two questions live here.
//
//  * Verification step 3 (DESIGN.md section 5): does the signer's certificate
//    chain lead to a CA of the admin's CA directory, at one fixed instant,
//    with a current CRL for every CA of the chain, without proxies or partial
//    chains, for the S/MIME signing purpose? VerifySignerChain() answers it.
//  (Step 4's vocabulary, X.509 names and their one-line text, is common/dn.h.)
//
// Certificates handed to this unit come from untrusted messages; it never
// trusts a certificate because of where it came from, only because of the CA
// directory. Thread-safety: every function is reentrant; nothing is cached
// between calls (a replaced CRL takes effect on the next call).
#ifndef VMC_COMMON_TRUST_H_
#define VMC_COMMON_TRUST_H_

#include <openssl/x509.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/dn.h"
#include "common/error.h"
#include "common/openssl_ptr.h"

namespace vmc {

// Returns a new owning reference to `cert` (X509_up_ref).
// REQUIRES: cert != nullptr.
X509Ptr ShareCertificate(X509* cert);

// Parses every PEM certificate in `pem`, in order. Text before, between and
// after the PEM blocks is ignored, as OpenSSL does. Returns kCertificateUnfit
// when there is none or one is corrupt.
Result<std::vector<X509Ptr>> ParseCertificatesPem(std::string_view pem);

// The weakest keys step 3 accepts in the signer's chain (DESIGN.md section
// 5, step 2): RSA and DSA moduli of 2048 bits, EC keys of 256 bits (curve
// order); Ed25519 and Ed448 always pass. A site may raise them, never lower
// them (CheckKeyMinimums).
struct KeyMinimums {
  int rsa_bits = 2048;  // RSA, RSA-PSS and DSA
  int ec_bits = 256;
};
inline constexpr KeyMinimums kDefaultKeyMinimums{};

// kConfigInvalid when `minimums` is below kDefaultKeyMinimums (or absurd:
// above 16384 bits), naming the key ("min-rsa-bits") and both values.
Status CheckKeyMinimums(const KeyMinimums& minimums);

// Converts a certificate or CRL time. Returns kInvalidDate when OpenSSL cannot
// read it. REQUIRES: t != nullptr.
Result<TimePoint> Asn1TimeToTimePoint(const ASN1_TIME* t);

// Verification step 3. Verifies `signer` against the hashed CA directory
// `ca_dir` (the /etc/grid-security/certificates layout: <hash>.N certificates
// and <hash>.rN CRLs, read by OpenSSL's hashed-directory lookup; other files
// such as *.signing_policy and *.namespaces are never read), using
// `untrusted` (the other certificates of the message) only as candidate
// intermediates.
//
// The rules, all mandatory: the chain ends at a self-signed CA of `ca_dir`
// (no partial chains); every certificate is valid at `at` (and nothing else is
// consulted for time); every CA of the chain, the root included, has a CRL in
// `ca_dir` that is current at `at` and does not list the chain's
// certificates; no certificate is an RFC 3820 proxy; the signer is fit for
// S/MIME signing (key usage, extended key usage); the signer is not itself
// self-signed, even when the CA directory contains it (a CA is trusted to
// issue endorsers, not to be one); a certificate embedded in the message is
// never a trust anchor: a chain that fails while it leans on a CA
// certificate missing from `ca_dir` (one of `untrusted`) is kUntrustedChain,
// naming that CA, whatever else failed (a rogue CA has no CRL in `ca_dir`:
// that is not kCrlMissing), revocation excepted; every key of the chain,
// the root's included, is at least as strong as KeyMinimums (kWeakKey); and
// every certificate but the self-signed root is signed with SHA-2 (or
// Ed25519/Ed448), never MD5 or SHA-1 (kUntrustedChain), judged by the digest
// OpenSSL resolves the signature algorithm to.
//
// This form builds a fresh store for the call, so a CRL replaced on disk takes
// effect at once; see TrustStore for a cycle of many verifications. Returns OK or the first
// failure, one code each: kCaDirInvalid (missing or unreadable directory), kUntrustedChain,
// kSignerRevoked, kCrlMissing (also: a CRL that is present but unusable, e.g.
// badly signed), kCrlExpired (also: not yet valid), kSignerExpired,
// kSignerNotYetValid (also for a CA of the chain), kProxySigner,
// kWrongPurpose, kWeakKey. The message names the certificate, its depth in the chain
// (0 = signer), the relevant date and OpenSSL's reason; the details repeat
// them as "subject", "issuer", "depth", "reason", "ca_dir", "at".
// REQUIRES: signer != nullptr.
Status VerifySignerChain(const std::filesystem::path& ca_dir, X509* signer,
                         const std::vector<X509Ptr>& untrusted, TimePoint at);

// The trust of one verification cycle: the CA directory as OpenSSL's hashed
// lookup reads it, with what it has read kept for the cycle's later
// verifications (a catcher update of 500 subscriptions reads each CA and CRL
// once, not 500 times). Open a new one for each cycle: a CRL or CA replaced
// on disk takes effect at the next cycle, never later.
//
// The store also remembers each chain's answer for the cycle: the same
// certificates at the same instant against the same store always get the same
// answer, and the lists of one endorser (all of AppDB's, say) share one chain.
// An update of 500 unchanged subscriptions of one endorser verified that
// chain, with its CRLs, 500 times.
//
// Thread-safety: VerifySignerChain may use one TrustStore from several
// threads (OpenSSL locks the store; the answers have their own lock).
// Whether `dir` can be a CA directory: it exists, is a directory we may
// read, and has no ':' (OpenSSL's list separator). kCaDirInvalid naming it
// and why. Cheap (a stat and an access): callers check before a transfer.
Status CheckCaDir(const std::filesystem::path& dir);

class TrustStore {
 public:
  // Errors: kCaDirInvalid. `minimums` apply to every chain of the cycle.
  // REQUIRES: CheckKeyMinimums(minimums) passed.
  static Result<TrustStore> Open(const std::filesystem::path& ca_dir,
                                 const KeyMinimums& minimums = kDefaultKeyMinimums);

  // How many stores this process opened: a cycle proves with it that it
  // reads the CA directory once (catcher/cycle.h).
  static std::uint64_t Opened();

  const std::filesystem::path& ca_dir() const { return ca_dir_; }
  const KeyMinimums& key_minimums() const { return key_minimums_; }
  X509_STORE* get() const { return store_.get(); }

  // The answer remembered for `key` (see VerifySignerChain), if any.
  std::optional<Status> Recall(const std::string& key) const;
  void Remember(std::string key, const Status& answer) const;

 private:
  struct Answers;
  TrustStore(std::filesystem::path ca_dir, X509StorePtr store, const KeyMinimums& minimums);

  std::filesystem::path ca_dir_;
  KeyMinimums key_minimums_;
  X509StorePtr store_;
  std::shared_ptr<Answers> answers_;
};

// As above, with the store of the current cycle.
Status VerifySignerChain(const TrustStore& trust, X509* signer,
                         const std::vector<X509Ptr>& untrusted, TimePoint at);

// As above, for certificates kept in DER form (CertificateDer): the signer's
// first, then the others its message carried. A chain the store has answered
// for at `at` is not even parsed again. kStorage when `der` is empty or does
// not parse (damaged state, not a verdict on the signer).
Status VerifyStoredChain(const TrustStore& trust, const std::vector<std::string>& der,
                         TimePoint at);

// The DER encoding of `cert`, to keep it (AcceptedList::certificates).
Result<std::string> CertificateDer(X509* cert);

}  // namespace vmc

#endif  // VMC_COMMON_TRUST_H_
