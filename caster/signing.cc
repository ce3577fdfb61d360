#include "caster/signing.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <compare>

#include "common/atomic_file.h"
#include "common/pkcs12.h"
#include "common/unique_fd.h"
#include "common/version.h"

namespace vmc::caster {
namespace {

constexpr uint64_t kMaxPemBytes = 1 << 20;

bool KeyIsEncrypted(const std::string& pem) { return pem.find("ENCRYPTED") != std::string::npos; }

// Reads one line from the terminal with echo off.
Result<std::string> PromptPassphrase(const std::filesystem::path& key) {
  const UniqueFd tty(open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (tty.get() < 0) {
    return Error(ErrorCode::kCertificateUnfit,
                 "the key " + key.string() +
                     " is encrypted and there is no terminal to ask for its passphrase: "
                     "give --passphrase-file")
        .With("key", key.string());
  }
  const std::string prompt = "Passphrase for " + key.string() + ": ";
  [[maybe_unused]] ssize_t w = write(tty.get(), prompt.data(), prompt.size());
  termios saved{};
  const bool is_tty = tcgetattr(tty.get(), &saved) == 0;
  if (is_tty) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(tty.get(), TCSAFLUSH, &quiet);
  }
  std::string line;
  char c = 0;
  while (read(tty.get(), &c, 1) == 1 && c != '\n') line += c;
  if (is_tty) tcsetattr(tty.get(), TCSAFLUSH, &saved);
  w = write(tty.get(), "\n", 1);
  return line;
}

Result<std::optional<std::string>> Passphrase(const KeySource& source, const std::string& key_pem) {
  if (source.passphrase_file) {
    VMC_ASSIGN_OR_RETURN(std::string text, ReadFileCapped(*source.passphrase_file, 4096));
    const auto eol = text.find_first_of("\r\n");
    if (eol != std::string::npos) text.resize(eol);
    return std::optional<std::string>(std::move(text));
  }
  if (!KeyIsEncrypted(key_pem)) return std::optional<std::string>();
  VMC_ASSIGN_OR_RETURN(std::string typed, PromptPassphrase(source.key));
  return std::optional<std::string>(std::move(typed));
}

std::string CommonName(X509* cert) {
  const X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

// The schema accepts lists from the field without dc:description or hv:uri;
// a list we sign has them, as every vmcaster list had: hv:uri says where the
// list lives (publish's default target, the place of --with-images), and old
// subscribers expect both.
Status RequirePublisherKeys(const ImageList& list) {
  for (const char* key : {"dc:description", "hv:uri"}) {
    if (list.Get(key)) continue;
    return Error(ErrorCode::kSchemaViolation, "list " + list.identifier() + " has no " + key +
                                                  ", which a published list " +
                                                  "needs: set it with 'caster list set " +
                                                  list.identifier() + " " + key + " VALUE'")
        .With("pointer", "/hv:imagelist")
        .With("missing", key);
  }
  return Ok();
}

// The identity of a PKCS#12 --cert: certificate, chain and key in one file.
Result<SigningIdentity> LoadPkcs12Identity(const KeySource& source, const std::string& der) {
  std::optional<std::string> passphrase;
  if (source.passphrase_file) {
    VMC_ASSIGN_OR_RETURN(passphrase, Passphrase(source, ""));
  } else if (Pkcs12NeedsPassphrase(der)) {
    VMC_ASSIGN_OR_RETURN(std::string typed, PromptPassphrase(source.cert));
    passphrase = std::move(typed);
  }
  std::optional<std::string_view> view;
  if (passphrase) view = *passphrase;
  VMC_ASSIGN_OR_RETURN(const Pkcs12Pem pem, ReadPkcs12(der, source.cert.string(), view));
  if (passphrase) OPENSSL_cleanse(passphrase->data(), passphrase->size());
  auto identity = LoadSigningIdentityPem(pem.certificates, pem.key, std::nullopt);
  if (!identity.ok()) return std::move(identity).error().Prefix(source.cert.string() + ": ");
  return identity;
}

Result<SigningIdentity> LoadPemIdentity(const KeySource& source) {
  if (source.key.empty()) {
    return Error(ErrorCode::kUsage, "--key is needed: " + source.cert.string() +
                                        " is a PEM certificate (a PKCS#12 file would hold its "
                                        "key too)");
  }
  VMC_ASSIGN_OR_RETURN(const std::string key_pem, ReadFileCapped(source.key, kMaxPemBytes));
  VMC_ASSIGN_OR_RETURN(const auto passphrase, Passphrase(source, key_pem));
  std::optional<std::string_view> view;
  if (passphrase) view = *passphrase;
  return LoadSigningIdentity(source.cert, source.key, view);
}

}  // namespace

Result<SigningIdentity> LoadIdentity(const KeySource& source, TimePoint now) {
  // Read here first, so that a missing or unreadable file says why (errno).
  VMC_ASSIGN_OR_RETURN(const std::string cert_bytes, ReadFileCapped(source.cert, kMaxPemBytes));
  Result<SigningIdentity> loaded =
      IsPkcs12(cert_bytes) ? LoadPkcs12Identity(source, cert_bytes) : LoadPemIdentity(source);
  VMC_ASSIGN_OR_RETURN(SigningIdentity identity, std::move(loaded));
  Status fit = CheckSigningCertificate(identity, now);
  if (!fit.ok()) {
    // The check names the subject; the operator also needs the file.
    return std::move(fit)
        .error()
        .Prefix(source.cert.string() + ": ")
        .With("file", source.cert.string());
  }
  return identity;
}

Status PrepareForSigning(ImageList& list, const ListMeta& meta, const SigningIdentity& identity,
                         const SigningParameters& params) {
  std::string version;
  if (params.version) {
    version = *params.version;
    if (!meta.signed_version.empty() &&
        CompareVersions(version, meta.signed_version) != std::strong_ordering::greater) {
      return Error(ErrorCode::kVersionRollback,
                   "version " + version + " is not above " + meta.signed_version +
                       ", the last version signed for list " + list.identifier() +
                       "; subscribers would refuse it")
          .With("version", version)
          .With("signed_version", meta.signed_version);
    }
  } else {
    std::string base = list.version();
    if (!meta.signed_version.empty() &&
        (base.empty() ||
         CompareVersions(meta.signed_version, base) == std::strong_ordering::greater)) {
      base = meta.signed_version;
    }
    version = BumpVersion(base);
  }
  VMC_RETURN_IF_ERROR(list.SetVersion(version));
  list.SetCreated(params.now);
  list.SetExpires(params.now + std::chrono::days(params.lifetime_days));
  VMC_RETURN_IF_ERROR(
      list.SetEndorser(Endorser{identity.subject_dn, identity.issuer_dn, identity.email,
                                CommonName(identity.certificate.get())}));
  VMC_RETURN_IF_ERROR(list.Validate());
  return RequirePublisherKeys(list);
}

Result<std::string> SignList(const ImageList& list, const SigningIdentity& identity) {
  const std::string json = list.Write();
  VMC_ASSIGN_OR_RETURN(std::string signed_text, SignSmime(json, identity));
  // Self-check: what we publish must verify, byte for byte.
  VMC_ASSIGN_OR_RETURN(const VerifiedMessage check, VerifySmime(signed_text));
  auto strip_cr = [](std::string s) {
    std::erase(s, '\r');
    return s;
  };
  if (strip_cr(check.content) != strip_cr(json)) {
    return Error(ErrorCode::kSignatureInvalid, "the signed list does not verify to its content");
  }
  return signed_text;
}

}  // namespace vmc::caster
