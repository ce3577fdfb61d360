#include "common/pkcs12.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include <climits>

#include "common/openssl_error.h"
#include "common/openssl_ptr.h"
#include "common/string_bio.h"

namespace vmc {
namespace {

Pkcs12Ptr Parse(std::string_view der) {
  if (der.size() > static_cast<std::size_t>(LONG_MAX)) return nullptr;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkcs12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  return p12;
}

Status AppendPem(X509* cert, std::string& out) {
  const BioPtr bio = StringSinkBio(&out);
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Error(ErrorCode::kCertificateUnfit,
                 "cannot write a certificate as PEM: " + TakeOpenSslError());
  }
  return Ok();
}

}  // namespace

Pkcs12Pem::~Pkcs12Pem() { OPENSSL_cleanse(key.data(), key.size()); }

bool IsPkcs12(std::string_view bytes) { return Parse(bytes) != nullptr; }

bool Pkcs12NeedsPassphrase(std::string_view der) {
  const Pkcs12Ptr p12 = Parse(der);
  if (p12 == nullptr || PKCS12_mac_present(p12.get()) != 1) return false;
  const bool empty =
      PKCS12_verify_mac(p12.get(), "", 0) == 1 || PKCS12_verify_mac(p12.get(), nullptr, 0) == 1;
  ERR_clear_error();
  return !empty;
}

Result<Pkcs12Pem> ReadPkcs12(std::string_view der, std::string_view label,
                             std::optional<std::string_view> passphrase) {
  const auto unfit = [&](const std::string& why) {
    return Error(ErrorCode::kCertificateUnfit, std::string(label) + ": " + why)
        .With("file", std::string(label));
  };
  const Pkcs12Ptr p12 = Parse(der);
  if (p12 == nullptr) return unfit("is not a PKCS#12 file");
  const std::string pass(passphrase.value_or(""));
  if (PKCS12_mac_present(p12.get()) == 1 &&
      PKCS12_verify_mac(p12.get(), pass.c_str(), static_cast<int>(pass.size())) != 1) {
    ERR_clear_error();
    return unfit(passphrase ? "the passphrase is wrong" : "is protected by a passphrase");
  }
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  if (PKCS12_parse(p12.get(), pass.c_str(), &key, &cert, &ca) != 1) {
    return unfit("cannot be read (" + TakeOpenSslError() +
                 "); a file exported with old algorithms (RC2, as older browsers wrote) "
                 "needs converting first: openssl pkcs12 -legacy -in FILE -nodes -out "
                 "signer.pem, then give signer.pem as --cert and --key");
  }
  const EvpPkeyPtr owned_key(key);
  const X509Ptr owned_cert(cert);
  const X509StackAndCertsPtr owned_ca(ca);
  if (owned_key == nullptr) return unfit("holds no private key");
  if (owned_cert == nullptr) return unfit("holds no certificate of that key");
  Pkcs12Pem pem;
  VMC_RETURN_IF_ERROR(AppendPem(owned_cert.get(), pem.certificates));
  for (int i = 0; owned_ca != nullptr && i < sk_X509_num(owned_ca.get()); ++i) {
    VMC_RETURN_IF_ERROR(AppendPem(sk_X509_value(owned_ca.get(), i), pem.certificates));
  }
  // Room for any key's PEM up front: a string that grew would leave copies
  // of the key in freed memory, which the destructor cannot cleanse.
  constexpr std::size_t kRoomForAKey = 64 * 1024;
  pem.key.reserve(kRoomForAKey);
  const BioPtr bio = StringSinkBio(&pem.key);
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio.get(), owned_key.get(), nullptr, nullptr, 0,
                                                 nullptr, nullptr) != 1) {
    return unfit("its key cannot be written as PEM: " + TakeOpenSslError());
  }
  return pem;
}

}  // namespace vmc
