#include "test/support/cert_factory.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>

#include "common/openssl_ptr.h"
#include "common/trust.h"
#include "test/support/temp_dir.h"

namespace vmc::test {
namespace {

Error Failed(const std::string& what) {
  char reason[256] = "";
  ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
  ERR_clear_error();
  return Error(ErrorCode::kCertificateUnfit, "cert_factory: " + what + ": " + reason);
}

Result<EvpPkeyPtr> ReadKey(const std::filesystem::path& pem) {
  const std::string text = ReadFile(pem);
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return Failed("cannot read " + pem.string());
  return key;
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (ext == nullptr) return Failed(std::string("extension ") + OBJ_nid2sn(nid));
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) return Failed("add extension");
  return Ok();
}

Status SetSubject(X509* cert, const std::vector<NameAttribute>& subject) {
  X509_NAME* name = X509_get_subject_name(cert);
  for (const NameAttribute& a : subject) {
    if (X509_NAME_add_entry_by_txt(name, a.type.c_str(), a.string_type,
                                   reinterpret_cast<const unsigned char*>(a.value.data()),
                                   static_cast<int>(a.value.size()), -1,
                                   a.joins_previous ? -1 : 0) != 1) {
      return Failed("subject attribute " + a.type);
    }
  }
  return Ok();
}

Status SetValidity(X509* cert) {
  if (ASN1_TIME_set_string(X509_getm_notBefore(cert), "20200101000000Z") != 1 ||
      ASN1_TIME_set_string(X509_getm_notAfter(cert), "20400101000000Z") != 1) {
    return Failed("validity");
  }
  return Ok();
}

Status SetSerial(X509* cert) {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return Failed("serial");
  bytes[0] &= 0x7F;  // positive
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return Failed("serial");
  }
  return Ok();
}

Status WritePem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  const int written = cert != nullptr ? PEM_write_bio_X509(bio.get(), cert)
                                      : PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr,
                                                                 0, nullptr, nullptr);
  if (written != 1) return Failed("write " + path.string());
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  WriteFile(path, std::string(data, static_cast<size_t>(size)));
  return Ok();
}

}  // namespace

Result<PkiIdentity> IssueEndorser(const std::filesystem::path& dir,
                                  const std::vector<NameAttribute>& subject,
                                  const PkiIdentity& issuer) {
  VMC_ASSIGN_OR_RETURN(EvpPkeyPtr issuer_key, ReadKey(issuer.key));
  VMC_ASSIGN_OR_RETURN(auto issuer_certs, ParseCertificatesPem(ReadFile(issuer.cert)));
  X509* issuer_cert = issuer_certs.front().get();
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return Failed("key");
  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return Failed("certificate");
  }
  VMC_RETURN_IF_ERROR(SetSerial(cert.get()));
  VMC_RETURN_IF_ERROR(SetSubject(cert.get(), subject));
  VMC_RETURN_IF_ERROR(SetValidity(cert.get()));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert)) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return Failed("issuer or key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert, cert.get(), nullptr, nullptr, 0);
  VMC_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  VMC_RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,nonRepudiation"));
  VMC_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage, "emailProtection"));
  VMC_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  VMC_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), issuer_key.get(), EVP_sha256()) <= 0) return Failed("sign");
  std::filesystem::create_directories(dir);
  PkiIdentity out{dir / "cert.pem", dir / "key.pem"};
  VMC_RETURN_IF_ERROR(WritePem(out.cert, cert.get(), nullptr));
  VMC_RETURN_IF_ERROR(WritePem(out.key, nullptr, key.get()));
  return out;
}

}  // namespace vmc::test
