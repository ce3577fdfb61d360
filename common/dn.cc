#include "common/dn.h"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <climits>
#include <vector>

#include "common/utf8.h"

namespace vmc {
namespace {

Error BadDn(std::string_view dn, std::string_view why) {
  return Error(ErrorCode::kInvalidValue,
               "invalid DN \"" + std::string(dn) + "\": " + std::string(why))
      .With("dn", std::string(dn));
}

std::string OpenSslReason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

bool PrintableAscii(unsigned char c) { return c >= 0x20 && c <= 0x7E; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// The end of the segment starting at `pos`: the next '/' or '+' that no
// backslash escapes. Whether each escape is allowed is Unescape's question.
size_t SegmentEnd(std::string_view dn, size_t pos) {
  while (pos < dn.size() && dn[pos] != '/' && dn[pos] != '+') pos += dn[pos] == '\\' ? 2 : 1;
  return std::min(pos, dn.size());
}

// Decodes the escapes of one value; refuses every backslash that is not one
// of them (see dn.h: such a string has two readings).
Result<std::string> Unescape(std::string_view dn, std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\') {
      out.push_back(value[i]);
      continue;
    }
    const char next = i + 1 < value.size() ? value[i + 1] : '\0';
    if (next == '/' || next == '+' || next == '\\') {
      out.push_back(next);
      ++i;
      continue;
    }
    if (next == 'x' && i + 3 < value.size() && HexValue(value[i + 2]) >= 0 &&
        HexValue(value[i + 3]) >= 0) {
      const auto byte =
          static_cast<unsigned char>(HexValue(value[i + 2]) * 16 + HexValue(value[i + 3]));
      if (PrintableAscii(byte)) {
        return BadDn(dn, "\"" + std::string(value.substr(i, 4)) + "\" escapes the printable \"" +
                             std::string(1, static_cast<char>(byte)) +
                             "\", which no tool writes that way: a literal backslash or a "
                             "disguise (write the character itself, or \\\\ for a backslash)");
      }
      out.push_back(static_cast<char>(byte));
      i += 3;
      continue;
    }
    return BadDn(dn, "a backslash at \"" + std::string(value.substr(i, 4)) +
                         R"(" starts no escape (\/, \+, \\, \xHH); write \\ for a backslash)");
  }
  return out;
}

struct Component {
  std::string type;
  std::string value;          // unescaped
  bool same_rdn_as_previous;  // joined by '+': a multi-valued RDN
};

Result<std::vector<Component>> SplitDn(std::string_view dn) {
  if (dn.empty() || dn.front() != '/') return BadDn(dn, "expected the form /C=../O=../CN=..");
  std::vector<Component> components;
  size_t pos = 0;
  while (pos < dn.size()) {
    const char separator = dn[pos];
    const size_t end = SegmentEnd(dn, pos + 1);
    const std::string_view segment = dn.substr(pos + 1, end - pos - 1);
    pos = end;
    if (segment.empty()) return BadDn(dn, "empty component");
    const size_t eq = segment.find('=');
    if (eq == std::string_view::npos) {
      // Written by an OpenSSL that did not escape '/' and '+' in values.
      if (components.empty()) {
        return BadDn(dn, "component \"" + std::string(segment) + "\" has no '='");
      }
      VMC_ASSIGN_OR_RETURN(std::string rest, Unescape(dn, segment));
      components.back().value += separator + rest;
      continue;
    }
    VMC_ASSIGN_OR_RETURN(std::string value, Unescape(dn, segment.substr(eq + 1)));
    components.push_back(
        {std::string(Trim(segment.substr(0, eq))), std::move(value), separator == '+'});
  }
  return components;
}

// "Email"/"E" are how OpenSSL 0.9 and grid tools of that era printed
// emailAddress; policies copied from them use it.
Asn1ObjectPtr AttributeType(const std::string& type) {
  if (type == "Email" || type == "E") {
    return Asn1ObjectPtr(OBJ_nid2obj(NID_pkcs9_emailAddress));
  }
  return Asn1ObjectPtr(OBJ_txt2obj(type.c_str(), 0));
}

Status AddComponent(std::string_view dn, X509_NAME* name, const Component& c) {
  if (c.value.empty()) return BadDn(dn, "empty value for " + c.type);
  if (!IsValidUtf8(c.value)) return BadDn(dn, "the value of " + c.type + " is not UTF-8");
  // No endorser's name holds them, and X.509 matching would read a tab or a
  // newline as a space (SameDn refuses such names too).
  for (const char ch : c.value) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) {
      return BadDn(dn, "the value of " + c.type + " holds a control character");
    }
  }
  const auto type = AttributeType(c.type);
  if (type == nullptr) {
    ERR_clear_error();
    return BadDn(dn, "unknown attribute type \"" + c.type + "\"");
  }
  // set -1 appends to the previous RDN (a '+'), 0 starts a new one.
  if (c.value.size() > static_cast<size_t>(INT_MAX) ||
      X509_NAME_add_entry_by_OBJ(
          name, type.get(), MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(c.value.data()),
          static_cast<int>(c.value.size()), -1, c.same_rdn_as_previous ? -1 : 0) != 1) {
    return BadDn(dn,
                 "value \"" + c.value + "\" is not allowed for " + c.type + ": " + OpenSslReason());
  }
  return Ok();
}

// The DER encoding; it also brings the name's canonical encoding up to date,
// after which X509_NAME_cmp only reads the name (safe to share by threads).
Result<std::string> EncodeName(const X509_NAME* name) {
  unsigned char* der = nullptr;
  const int length = i2d_X509_NAME(name, &der);
  if (length < 0 || der == nullptr) {
    return Error(ErrorCode::kInvalidValue, "cannot encode an X.509 name: " + OpenSslReason());
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

void AppendType(std::string& out, const ASN1_OBJECT* object) {
  const int nid = OBJ_obj2nid(object);
  const char* sn = nid != NID_undef ? OBJ_nid2sn(nid) : nullptr;
  if (sn != nullptr) {
    out += sn;
    return;
  }
  char dotted[128];
  const int n = OBJ_obj2txt(dotted, sizeof(dotted), object, 1);
  out += n > 0 ? std::string(dotted) : std::string("UNDEF");
}

// The value as UTF-8 (its own bytes when OpenSSL cannot convert it), escaped
// so that ParseDn reads it back as one value.
void AppendValue(std::string& out, const ASN1_STRING* value) {
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, value);
  std::string_view text;
  if (n >= 0 && utf8 != nullptr) {
    text = {reinterpret_cast<const char*>(utf8), static_cast<size_t>(n)};
  } else {
    ERR_clear_error();
    text = {reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
            static_cast<size_t>(ASN1_STRING_length(value))};
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '/' || ch == '+' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (PrintableAscii(c)) {
      out.push_back(ch);
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  OPENSSL_free(utf8);
}

// Whitespace other than the space (tab, newline, ...) counts as a space in
// the canonical encoding, so "Endorser\tOne" would equal "Endorser One". No
// endorser's name holds such characters; a name that does is equal to none.
bool HasControlCharacters(const X509_NAME* name) {
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    const unsigned char* data = ASN1_STRING_get0_data(value);
    const int length = ASN1_STRING_length(value);
    const int width = ASN1_STRING_type(value) == V_ASN1_BMPSTRING         ? 2
                      : ASN1_STRING_type(value) == V_ASN1_UNIVERSALSTRING ? 4
                                                                          : 1;
    // The last byte of each code unit: big-endian, so a control character
    // is a unit whose other bytes are zero.
    for (int j = 0; j + width <= length; j += width) {
      bool high_zero = true;
      for (int k = 0; k < width - 1; ++k) high_zero = high_zero && data[j + k] == 0;
      const unsigned char low = data[j + width - 1];
      if (high_zero && (low < 0x20 || low == 0x7F)) return true;
    }
  }
  return false;
}

}  // namespace

std::string DnToString(const X509_NAME* name) {
  std::string out;
  int previous_set = -1;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    const int set = X509_NAME_ENTRY_set(entry);
    out.push_back(i > 0 && set == previous_set ? '+' : '/');
    previous_set = set;
    AppendType(out, X509_NAME_ENTRY_get_object(entry));
    out.push_back('=');
    AppendValue(out, X509_NAME_ENTRY_get_data(entry));
  }
  return out;
}

Result<X509NamePtr> ParseDn(std::string_view dn) {
  VMC_ASSIGN_OR_RETURN(auto components, SplitDn(dn));
  X509NamePtr name(X509_NAME_new());
  if (name == nullptr) return BadDn(dn, OpenSslReason());
  for (const Component& component : components) {
    VMC_RETURN_IF_ERROR(AddComponent(dn, name.get(), component));
  }
  if (auto encoded = EncodeName(name.get()); !encoded.ok()) {
    return BadDn(dn, encoded.error().message());
  }
  return name;
}

bool SameDn(const X509_NAME* a, const X509_NAME* b) {
  const int cmp = X509_NAME_cmp(a, b);
  // -2 is X509_NAME_cmp's error (a name it cannot encode): never "equal".
  if (cmp == -2) ERR_clear_error();
  return cmp == 0 && !HasControlCharacters(a) && !HasControlCharacters(b);
}

DistinguishedName::DistinguishedName(std::shared_ptr<const X509_NAME> name, std::string der)
    : name_(std::move(name)), der_(std::move(der)) {}

Result<DistinguishedName> DistinguishedName::Parse(std::string_view dn) {
  VMC_ASSIGN_OR_RETURN(X509NamePtr name, ParseDn(dn));
  VMC_ASSIGN_OR_RETURN(std::string der, EncodeName(name.get()));
  return DistinguishedName(std::shared_ptr<const X509_NAME>(std::move(name)), std::move(der));
}

Result<DistinguishedName> DistinguishedName::Of(const X509_NAME* name) {
  X509NamePtr copy(X509_NAME_dup(name));
  if (copy == nullptr) {
    return Error(ErrorCode::kInvalidValue, "cannot copy an X.509 name: " + OpenSslReason());
  }
  VMC_ASSIGN_OR_RETURN(std::string der, EncodeName(copy.get()));
  return DistinguishedName(std::shared_ptr<const X509_NAME>(std::move(copy)), std::move(der));
}

Result<DistinguishedName> DistinguishedName::FromDer(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* end = p + der.size();
  X509NamePtr name(der.size() <= static_cast<size_t>(LONG_MAX)
                       ? d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size()))
                       : nullptr);
  if (name == nullptr || p != end) {
    ERR_clear_error();
    return Error(ErrorCode::kInvalidValue, "a stored X.509 name does not parse");
  }
  return DistinguishedName(std::shared_ptr<const X509_NAME>(std::move(name)), std::string(der));
}

std::string DistinguishedName::ToString() const { return DnToString(name_.get()); }

bool DistinguishedName::Matches(const X509_NAME* name) const { return SameDn(name_.get(), name); }

}  // namespace vmc
