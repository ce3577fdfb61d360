// PKCS#12 files (.p12, .pfx): what browsers and grid portals export a
// user's certificate as, with its key and CA chain in one file under one
// passphrase. Read here into the PEM texts LoadSigningIdentityPem
// (common/smime.h) takes, so that a signer's identity is checked one way
// whatever file it came in.
//
// Input: the operator's own file (trusted, but checked). Thread-safety: pure
// functions.
#ifndef VMC_COMMON_PKCS12_H_
#define VMC_COMMON_PKCS12_H_

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace vmc {

// Whether `bytes` are a PKCS#12 structure (DER), not PEM text.
bool IsPkcs12(std::string_view bytes);

// Whether the PKCS#12 `der` is protected by a passphrase: its MAC does not
// verify with an empty one (nor with none).
bool Pkcs12NeedsPassphrase(std::string_view der);

struct Pkcs12Pem {
  std::string certificates;  // the signer's certificate first, then its chain
  std::string key;           // the private key, unencrypted: cleansed on destruction
  Pkcs12Pem() = default;
  Pkcs12Pem(Pkcs12Pem&&) = default;
  Pkcs12Pem& operator=(Pkcs12Pem&&) = default;
  ~Pkcs12Pem();
};

// The certificate, chain and key of the PKCS#12 `der` (`label` names it in
// messages). kCertificateUnfit: not readable, wrong passphrase, no key or
// no certificate, or written with algorithms OpenSSL 3 no longer reads by
// default (RC2, as old browsers exported): the message then says how to
// convert it with the openssl command.
Result<Pkcs12Pem> ReadPkcs12(std::string_view der, std::string_view label,
                             std::optional<std::string_view> passphrase);

}  // namespace vmc

#endif  // VMC_COMMON_PKCS12_H_
