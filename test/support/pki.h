// The test PKI (test/pki/make-pki), generated once per test process into a
// temporary directory that lives until the process exits. Every key is made
// at test time; none is committed.
//
// The certificates have fixed dates (see the top of make-pki), so tests
// verify at fixed instants: kValidTime, when every certificate meant to be
// valid is valid and every CRL is current, and kAfterEndorsersExpire.
//
// Thread-safety: Get() is safe to call from any thread (the PKI is made once);
// the object is immutable afterwards. Tests that change files must copy them
// (e.g. a CA directory) rather than edit them in place.
#ifndef VMC_TEST_SUPPORT_PKI_H_
#define VMC_TEST_SUPPORT_PKI_H_

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace vmc::test {

// A certificate (PEM) and its unencrypted private key (PEM).
struct PkiIdentity {
  std::filesystem::path cert;
  std::filesystem::path key;
};

// An identity's subject and issuer in the one-line form lists and policies
// use (hv:dn, hv:ca).
struct Names {
  std::string dn;
  std::string ca;
};
Names NamesOf(const PkiIdentity& id);

class TestPki {
 public:
  // Generates the PKI on first use; aborts the test binary (printing the
  // script's output) if the script fails, since no test is meaningful then.
  static const TestPki& Get();

  // 2030-01-01T00:00:00Z: the valid window of every valid certificate and CRL.
  static constexpr TimePoint kValidTime{
      std::chrono::sys_days{std::chrono::year{2030} / std::chrono::January / 1}};
  // 2045-01-01T00:00:00Z: after endorsers (2040-01-01) expire, while CAs and
  // CRLs are still valid.
  static constexpr TimePoint kAfterEndorsersExpire{
      std::chrono::sys_days{std::chrono::year{2045} / std::chrono::January / 1}};

  const std::filesystem::path& dir() const { return dir_; }

  // CAs: root and intermediate are in every CA directory; "nocrl" only in
  // ca_dir_nocrl_ca() (and has no CRL); "untrusted" in none.
  PkiIdentity root() const { return Identity("root"); }
  PkiIdentity intermediate() const { return Identity("intermediate"); }
  PkiIdentity nocrl_ca() const { return Identity("nocrl"); }
  PkiIdentity untrusted_ca() const { return Identity("untrusted"); }

  // Valid S/MIME endorsers issued by the intermediate.
  PkiIdentity endorser1() const { return Identity("endorser1"); }
  PkiIdentity endorser2() const { return Identity("endorser2"); }
  // endorser1's certificate followed by the intermediate's.
  std::filesystem::path endorser1_fullchain() const { return dir_ / "endorser1/fullchain.pem"; }
  // endorser2's key encrypted (AES-256) with Passphrase().
  std::filesystem::path endorser2_encrypted_key() const {
    return dir_ / "endorser2/key-encrypted.pem";
  }
  static std::string_view Passphrase() { return "test passphrase for endorser2"; }

  // Certificates that step 3 must refuse.
  PkiIdentity revoked() const { return Identity("revoked"); }
  PkiIdentity expired() const { return Identity("expired"); }
  PkiIdentity not_yet_valid() const { return Identity("notyetvalid"); }
  PkiIdentity wrong_purpose() const { return Identity("wrongpurpose"); }
  PkiIdentity proxy() const { return Identity("proxy"); }  // issued by endorser1
  PkiIdentity nocrl_endorser() const { return Identity("nocrl-endorser"); }
  PkiIdentity untrusted_endorser() const { return Identity("untrusted-endorser"); }
  PkiIdentity self_signed() const { return Identity("selfsigned"); }

  // Key strength (RSA endorsers; the test PKI is otherwise EC P-256): RSA
  // 2048 and RSA 1024 endorsers of the intermediate, a CA with an RSA 1024
  // key (in ca_dir_weak_ca() only) and an EC endorser it issued.
  PkiIdentity rsa_endorser() const { return Identity("rsa-endorser"); }
  PkiIdentity weak_rsa_endorser() const { return Identity("weak-rsa-endorser"); }
  PkiIdentity weak_intermediate() const { return Identity("weak-intermediate"); }
  PkiIdentity weak_ca_endorser() const { return Identity("weak-ca-endorser"); }
  // An endorser of the intermediate whose certificate is signed with SHA-1.
  PkiIdentity sha1_endorser() const { return Identity("sha1-endorser"); }

  // An attacker's CA: rogue_root() bears the real root's name on another
  // key; rogue_ca() claims to be issued by it; rogue_endorser() bears
  // endorser1's subject and is issued by rogue_ca(). In no CA directory.
  PkiIdentity rogue_root() const { return Identity("rogue-root"); }
  PkiIdentity rogue_ca() const { return Identity("rogue-ca"); }
  PkiIdentity rogue_endorser() const { return Identity("rogue-endorser"); }

  // TLS server certificate for localhost and 127.0.0.1; fullchain adds the
  // intermediate (nginx's ssl_certificate).
  PkiIdentity server() const { return Identity("server"); }
  std::filesystem::path server_fullchain() const { return dir_ / "server/fullchain.pem"; }

  // The CRLs in ca_dir(), and the intermediate's other CRLs.
  std::filesystem::path root_crl() const { return dir_ / "root/crl.pem"; }
  std::filesystem::path intermediate_crl() const { return dir_ / "intermediate/crl.pem"; }
  std::filesystem::path intermediate_crl_revoking_endorser2() const {
    return dir_ / "intermediate/crl-endorser2-revoked.pem";
  }
  std::filesystem::path intermediate_crl_expired() const {
    return dir_ / "intermediate/crl-expired.pem";
  }

  // Hashed CA directories (<hash>.0, <hash>.r0 and IGTF-style extra files).
  std::filesystem::path ca_dir() const { return dir_ / "cadir"; }
  std::filesystem::path ca_dir_missing_crl() const { return dir_ / "cadir-missing-crl"; }
  std::filesystem::path ca_dir_expired_crl() const { return dir_ / "cadir-expired-crl"; }
  std::filesystem::path ca_dir_nocrl_ca() const { return dir_ / "cadir-nocrl-ca"; }
  // As ca_dir(), plus weak_intermediate() and its CRL.
  std::filesystem::path ca_dir_weak_ca() const { return dir_ / "cadir-weak-ca"; }

 private:
  explicit TestPki(std::filesystem::path dir) : dir_(std::move(dir)) {}
  PkiIdentity Identity(std::string_view name) const {
    return {dir_ / name / "cert.pem", dir_ / name / "key.pem"};
  }

  std::filesystem::path dir_;
};

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_PKI_H_
