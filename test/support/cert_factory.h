// Issues certificates at test time with OpenSSL's API, for subjects that the
// openssl command cannot write as a CA could encode them: a chosen string
// type per attribute, raw bytes (a backslash, a NUL, a tab), multi-valued
// RDNs. The look-alike tests of step 4 sign lists with such certificates,
// issued by the test PKI's own intermediate CA (the victim's CA).
//
// Thread-safety: pure functions of their arguments (they read the issuer's
// files and write the new identity's).
#ifndef VMC_TEST_SUPPORT_CERT_FACTORY_H_
#define VMC_TEST_SUPPORT_CERT_FACTORY_H_

#include <openssl/asn1.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "test/support/pki.h"

namespace vmc::test {

// One attribute of a subject, its bytes taken as they are.
struct NameAttribute {
  std::string type;  // "C", "O", "OU", "CN", "UID", ...
  std::string value;
  int string_type = V_ASN1_UTF8STRING;
  bool joins_previous = false;  // one RDN with the attribute before
};

// An S/MIME endorser certificate (digitalSignature, nonRepudiation,
// emailProtection; valid 2020-01-01..2040-01-01, as the PKI's endorsers) for
// `subject`, with a new EC P-256 key, issued by `issuer`. Writes cert.pem and
// key.pem into `dir` (created).
Result<PkiIdentity> IssueEndorser(const std::filesystem::path& dir,
                                  const std::vector<NameAttribute>& subject,
                                  const PkiIdentity& issuer);

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_CERT_FACTORY_H_
