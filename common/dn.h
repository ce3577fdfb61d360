// Distinguished names: the X.509 names of verification step 4 (DESIGN.md
// section 5), and the one-line text that image lists and policies write them
// in ("/C=DE/O=GermanGrid/CN=GridKa-CA").
//
// The text is only ever an input. It is parsed once, strictly, into an X.509
// name, and every comparison is between names (X509_NAME_cmp over the
// canonical encoding), never between texts: a certificate's name is never
// printed and parsed back to be compared. That round trip let a CN of the
// sixteen characters `\x45ndorser One` (X509_NAME_oneline leaves a backslash
// as it is, and the reader decoded \x45) pass as "Endorser One".
//
// The one-line grammar read here gives every string at most one reading:
//   name  = 1*( "/" rdn )      rdn = ava *( "+" ava )      ava = type "=" value
//   type  = a short or long attribute name (C, O, OU, CN, DC, emailAddress,
//           ...), a dotted OID, or "Email" / "E" (how OpenSSL 0.9 and the
//           grid tools of its time printed emailAddress)
//   value = bytes that stand for themselves, except "/", "+" and "\", and the
//           escapes "\/", "\+", "\\" and "\xHH" for a byte outside printable
//           ASCII (0x20-0x7E): exactly what FormatDn() writes and, but for
//           "\\", what OpenSSL 3's X509_NAME_oneline() writes. The value's
//           bytes are UTF-8.
//   A "/" or "+" followed by text without "=" continues the previous value:
//   OpenSSL 1.x did not escape them, so the grid host DN
//   "/O=Grid/CN=host/ce.example.org" has one CN, "host/ce.example.org".
// Refused, because the string could mean two names: a backslash that starts
// none of these escapes (a stray one, "\x" without two hex digits), and
// "\xHH" for a printable byte ("\x45"), which oneline never writes and which
// therefore is a literal backslash or a disguise. Also refused: an empty
// component, an empty value, an unknown type, a value that is not UTF-8 or
// holds a control character (a byte below 0x20, or 0x7F).
//
// Equality is X.509 name equality (RFC 5280 section 7.1, as OpenSSL's own
// chain building matches issuers): string types unified (a UTF8String and a
// PrintableString of the same text are one name), ASCII case folded, leading
// and trailing spaces dropped and inner runs of spaces collapsed. RDN order
// and structure matter: a reordered name, or "CN=a+OU=b" against "CN=a/OU=b",
// is another name. A CA answers for the uniqueness of its subjects under this
// same rule.
//
// Thread-safety: DistinguishedName is immutable after construction and may
// be shared by threads; the functions are reentrant.
#ifndef VMC_COMMON_DN_H_
#define VMC_COMMON_DN_H_

#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/openssl_ptr.h"

namespace vmc {

// The one-line form of `name`, unambiguous: ParseDn() of the result is a name
// equal to `name` (for every name whose values are text). Printable ASCII
// names read as X509_NAME_oneline writes them; a backslash in a value is
// written "\\". For messages, and for hv:dn / hv:ca when caster signs.
// REQUIRES: name != nullptr.
std::string DnToString(const X509_NAME* name);

// Parses one-line `dn` by the grammar above. Returns kInvalidValue naming the
// DN and what is wrong with it.
Result<X509NamePtr> ParseDn(std::string_view dn);

// X.509 name equality, as above. An error of X509_NAME_cmp (a name it cannot
// encode) is never equality. REQUIRES: a, b != nullptr.
bool SameDn(const X509_NAME* a, const X509_NAME* b);

// A name held by value: its DER encoding, which is what the state stores,
// and the parsed name to compare with. Copies share the parsed name.
class DistinguishedName {
 public:
  // ParseDn(); kInvalidValue.
  static Result<DistinguishedName> Parse(std::string_view dn);
  // A copy of `name` (a certificate's subject or issuer). kInvalidValue when
  // OpenSSL cannot encode it. REQUIRES: name != nullptr.
  static Result<DistinguishedName> Of(const X509_NAME* name);
  // From der() as stored. kInvalidValue when `der` is not exactly one name.
  static Result<DistinguishedName> FromDer(std::string_view der);

  const std::string& der() const { return der_; }
  const X509_NAME* get() const { return name_.get(); }
  // DnToString().
  std::string ToString() const;

  // SameDn() with a certificate's name. REQUIRES: name != nullptr.
  bool Matches(const X509_NAME* name) const;
  bool operator==(const DistinguishedName& other) const { return Matches(other.get()); }

 private:
  DistinguishedName(std::shared_ptr<const X509_NAME> name, std::string der);

  std::shared_ptr<const X509_NAME> name_;
  std::string der_;
};

}  // namespace vmc

#endif  // VMC_COMMON_DN_H_
