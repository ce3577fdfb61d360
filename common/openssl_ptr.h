// Owning pointers for the OpenSSL objects caster and catcher hold, each
// defined here once: one place says which function releases which object
// (and, for a stack of certificates, whether the certificates go with it),
// instead of a deleter declared in every file that needed one.
#ifndef VMC_COMMON_OPENSSL_PTR_H_
#define VMC_COMMON_OPENSSL_PTR_H_

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

namespace vmc {

// Calls `Free`, which must be a function: what OpenSSL 3 defines as a macro
// (the sk_*_free family) needs a function of its own, as below.
template <auto Free>
struct OpenSslFree {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

template <class T, auto Free>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree<Free>>;

namespace openssl_ptr_internal {

inline void FreeX509StackOnly(STACK_OF(X509) * stack) { sk_X509_free(stack); }
inline void FreeX509StackAndCerts(STACK_OF(X509) * stack) { sk_X509_pop_free(stack, X509_free); }

}  // namespace openssl_ptr_internal

using Asn1ObjectPtr = OpenSslPtr<ASN1_OBJECT, ASN1_OBJECT_free>;
using BignumPtr = OpenSslPtr<BIGNUM, BN_free>;
// The BIO and every BIO pushed behind it: a chain belongs to its head, and a
// lone BIO is a chain of one.
using BioPtr = OpenSslPtr<BIO, BIO_free_all>;
using CmsPtr = OpenSslPtr<CMS_ContentInfo, CMS_ContentInfo_free>;
// The stack and its strings, as X509_get1_email hands them out.
using EmailStackPtr = OpenSslPtr<STACK_OF(OPENSSL_STRING), X509_email_free>;
using EvpMdCtxPtr = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using EvpMdPtr = OpenSslPtr<EVP_MD, EVP_MD_free>;
using EvpPkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using Pkcs12Ptr = OpenSslPtr<PKCS12, PKCS12_free>;
using X509CrlPtr = OpenSslPtr<X509_CRL, X509_CRL_free>;
using X509NamePtr = OpenSslPtr<X509_NAME, X509_NAME_free>;
using X509Ptr = OpenSslPtr<X509, X509_free>;
using X509StoreCtxPtr = OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using X509StorePtr = OpenSslPtr<X509_STORE, X509_STORE_free>;

// Two owners of a STACK_OF(X509), not interchangeable: freeing the
// certificates of a stack that only borrows them is a double free, keeping
// those of one that owns them (X509_STORE_CTX_get1_certs, CMS_get1_certs) a
// leak.
// The stack only: its certificates are someone else's (sk_X509_push takes no
// reference).
using X509StackOnlyPtr = OpenSslPtr<STACK_OF(X509), openssl_ptr_internal::FreeX509StackOnly>;
// The stack and every certificate still in it.
using X509StackAndCertsPtr =
    OpenSslPtr<STACK_OF(X509), openssl_ptr_internal::FreeX509StackAndCerts>;

}  // namespace vmc

#endif  // VMC_COMMON_OPENSSL_PTR_H_
