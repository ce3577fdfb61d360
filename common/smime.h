// S/MIME: verification step 2 (DESIGN.md section 5) and signing (section 4).
//
// Image lists travel as clear-signed multipart/signed S/MIME: the list as the
// first MIME part, a detached PKCS#7/CMS SignedData (base64) as the second.
// VerifySmime() proves that exactly one signer signed exactly the bytes it
// returns; it does not decide whether that signer is trusted (step 3,
// common/trust.h) or is the list's endorser (step 4).
//
// Built on OpenSSL's CMS API: CMS reads PKCS#7 signedData (what vmcaster and
// `openssl smime` write) as well as CMS, exposes the SignerInfos so that the
// exactly-one-signer rule is checked directly, and SMIME_read_CMS_ex() takes
// the flags that select the text or binary reading of the signed part.
//
// Thread-safety: every function is reentrant; SigningIdentity is immutable
// after loading and may be shared by threads for reading.
#ifndef VMC_COMMON_SMIME_H_
#define VMC_COMMON_SMIME_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "common/openssl_ptr.h"
#include "common/trust.h"

namespace vmc {

// What step 2 establishes about a message.
struct VerifiedMessage {
  // Exactly the bytes whose digest the signature covers, and the only bytes a
  // caller may parse. For a list signed in text mode (the default of
  // `openssl smime -sign` and of SignSmime) line ends are CRLF; for one
  // signed with -binary they are as signed.
  std::string content;
  // The certificate whose key made the signature (taken from the message).
  X509Ptr signer;
  // Every other certificate the message carries: candidate intermediates for
  // step 3, never trusted for being here.
  std::vector<X509Ptr> other_certificates;
  // Signer's subject and issuer, one-line form ("/C=DE/O=GermanGrid/CN=..."),
  // to compare with hv:dn / hv:ca as X.509 names (trust.h: SameDn).
  std::string signer_dn;
  std::string signer_ca_dn;
  // Digest algorithm of the signature as OpenSSL resolved it (not as the
  // message named it), lower case: "sha256", "sha1", ...
  std::string digest;
  // What a person should know although the message verified: a SHA-1
  // signature (accepted for old lists, see VerifySmime).
  std::vector<std::string> warnings;
};

// Verification step 2. `message` is untrusted network bytes, a clear-signed
// multipart/signed S/MIME message.
//
// REQUIRES: the caller has capped message.size() (DESIGN.md step 1: 16 MiB by
// default for a list); this function holds the message, the content and the
// decoded signature in memory at once. Beyond INT_MAX bytes it refuses
// (OpenSSL's BIO sizes are int).
//
// Checks: the message parses as multipart/signed with a signedData over
// (id-data) content; it has exactly one SignerInfo; that signer's certificate
// is in the message; the signature over the signed attributes verifies with
// that certificate's key; the content's digest equals the signed one. The
// certificate chain is NOT checked here (CMS_NO_SIGNER_CERT_VERIFY): that is
// step 3, VerifySignerChain(), with the CA directory, CRLs and a fixed time.
// Algorithms are judged by what OpenSSL resolves them to, never by the OID's
// name: the SignerInfo's digest algorithm (md5WithRSAEncryption, RSA-MD5 and
// md5 are all MD5) and the digest its signature algorithm OID names, if any
// (sha1WithRSAEncryption, ecdsa-with-SHA256). SHA-2 (SHA-224, -256, -384,
// -512, -512/224, -512/256) is accepted. SHA-1 is accepted with a warning
// in `warnings` (DESIGN.md section 4: the lists of 2011 must still verify;
// step 3 then judges their certificates). Anything else (MD2, MD4, MD5,
// RIPEMD, SM3, SHA-3, an algorithm OpenSSL does not know) is refused with
// kSignatureInvalid naming the algorithm.
//
// Errors: kSmimeMalformed (not S/MIME, opaque rather than clear-signed,
// corrupt MIME or ASN.1, not signedData); kNoSigner (no SignerInfo, the
// signer's certificate missing, or a bare unsigned JSON document);
// kMultipleSigners; kSignatureInvalid (bad signature, content changed, or a
// broken digest).
Result<VerifiedMessage> VerifySmime(std::string_view message);

// A message as step 2 split it before verifying it: the signed first part
// as the reading that verified produced it, and the SignedData as DER.
// Splitting the MIME structure (SMIME_read_CMS reads it one BIO_read per
// byte) costs more than everything else step 2 does. A list the server
// reports unchanged has the same bytes every cycle, so the catcher keeps its
// split beside them (catcher/state.h) and verifies the signature from it
// again each cycle, instead of splitting the same bytes again.
struct SmimeSplit {
  std::string message_sha512;  // hex: the bytes it was split from
  std::string openssl;         // OpenSSL_version(OPENSSL_VERSION) that split them
  int reading = 0;             // the reading that verified (0 text, 1 binary, 2 binary CRLF)
  std::string signed_part;     // the first MIME part, as that reading produced it
  // The SignedData (PKCS#7 or CMS), DER; without its certificates when
  // `certificates` holds them. Decoding a certificate costs OpenSSL 3.0 more
  // than verifying the signature (it builds a key decoder each time), and
  // one endorser's lists all carry the same: kept apart, each is decoded
  // once per process.
  std::string signature_der;
  std::vector<std::string> certificates;  // DER, in the message's order
  // Hex SHA-512 over every field above. The signature binds the part, but
  // not the certificates (an unsigned bag in CMS): one damaged at rest
  // could still verify and then fail the chain. A split that does not
  // match its seal is not used; the message decides.
  std::string seal;
};

// The seal of `split`'s other fields (SmimeSplit::seal).
std::string SmimeSplitSeal(const SmimeSplit& split);

// VerifySmime(message), also giving the split that verified in *split (none
// when it could not be encoded).
Result<VerifiedMessage> VerifySmime(std::string_view message, std::optional<SmimeSplit>* split);

// Step 2 over `message`, as VerifySmime judges it. When `kept` was split
// from exactly these bytes by this OpenSSL, the signature and the content
// digest are verified from it, with every check VerifySmime makes after the
// split; only the MIME split is not made again. Otherwise (no split, one of
// other bytes or of another OpenSSL, or one that does not verify: damage) the
// message itself is verified and its split given in *fresh, for the caller
// to keep. The message decides: a kept split saves work, it cannot make a
// message verify (its signature is verified) nor refuse one (a split that
// fails falls back to the message).
Result<VerifiedMessage> VerifySmimeKept(std::string_view message, const SmimeSplit* kept,
                                        std::optional<SmimeSplit>* fresh);

// How many times step 2 ran in this process (VerifySmime, VerifySmimeKept):
// a cycle proves with it that it verifies each stored list once
// (catcher/cycle.h).
std::uint64_t SmimeVerifications();

// How many MIME messages step 2 split (SMIME_read_CMS) in this process: a
// cycle over unchanged lists whose splits are kept splits none.
std::uint64_t SmimeSplits();

// A certificate and its private key, ready to sign.
struct SigningIdentity {
  X509Ptr certificate;
  EvpPkeyPtr key;
  // Certificates that followed the signer's in its PEM file (intermediates);
  // embedded in every signature so that verifiers can build the chain.
  std::vector<X509Ptr> chain;
  std::string subject_dn;  // one-line form, for hv:dn
  std::string issuer_dn;   // one-line form, for hv:ca
  // The first e-mail address of the certificate (subjectAltName rfc822Name,
  // else emailAddress in the subject), for hv:email; empty if none.
  std::string email;
};

// Loads a signing identity from PEM text: `cert_pem` holds the signer's
// certificate first, optionally followed by intermediates; `key_pem` the
// private key, encrypted or not. `passphrase` is used only when the key is
// encrypted. The inputs are the operator's own files (trusted, but checked).
// Errors, all kCertificateUnfit with a precise message: no or corrupt
// certificate; no or corrupt key; key encrypted but no passphrase given;
// wrong passphrase; key does not belong to the certificate.
Result<SigningIdentity> LoadSigningIdentityPem(std::string_view cert_pem, std::string_view key_pem,
                                               std::optional<std::string_view> passphrase);

// As above, reading the two files (kIo naming the file when unreadable); the
// messages name the files.
Result<SigningIdentity> LoadSigningIdentity(const std::filesystem::path& cert_file,
                                            const std::filesystem::path& key_file,
                                            std::optional<std::string_view> passphrase);

// Whether the identity may sign a list at `at`: not a proxy, fit for S/MIME
// signing (key usage digitalSignature or nonRepudiation; emailProtection if it
// has an extended key usage), and valid at `at`. It does not check the chain
// (the verifier's CA directory decides that). Returns kCertificateUnfit.
Status CheckSigningCertificate(const SigningIdentity& identity, TimePoint at);

// Signs `content` as detached multipart/signed S/MIME with SHA-256, embedding
// the signer's certificate and identity.chain. The content is signed in
// canonical text form (line ends made CRLF) and written so, which is what
// `openssl smime -verify` (without -binary) and VerifySmime both expect.
// Returns the message text; kCertificateUnfit if OpenSSL cannot sign with the
// key. REQUIRES: identity loaded by LoadSigningIdentity*; content.size() <=
// INT_MAX.
Result<std::string> SignSmime(std::string_view content, const SigningIdentity& identity);

}  // namespace vmc

#endif  // VMC_COMMON_SMIME_H_
