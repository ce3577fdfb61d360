#include "common/error.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <cstring>

namespace vmc {
namespace {

struct CodeInfo {
  ErrorCode code;
  std::string_view name;
  int exit_status;
};

// One table so that a code, its name and its exit status cannot drift apart.
constexpr CodeInfo kCodes[] = {
    {ErrorCode::kUsage, "usage", 1},
    {ErrorCode::kConfigInvalid, "config-invalid", 2},
    {ErrorCode::kPolicyInvalid, "policy-invalid", 2},
    {ErrorCode::kNetwork, "network-error", 3},
    {ErrorCode::kTransferTimeout, "transfer-timeout", 3},
    {ErrorCode::kHttpStatus, "http-status", 3},
    {ErrorCode::kTlsError, "tls-error", 3},
    {ErrorCode::kUploadFailed, "upload-failed", 3},
    {ErrorCode::kSmimeMalformed, "smime-malformed", 4},
    {ErrorCode::kSignatureInvalid, "signature-invalid", 4},
    {ErrorCode::kNoSigner, "no-signer", 4},
    {ErrorCode::kMultipleSigners, "multiple-signers", 4},
    {ErrorCode::kUntrustedChain, "untrusted-chain", 4},
    {ErrorCode::kSignerRevoked, "signer-revoked", 4},
    {ErrorCode::kCrlMissing, "crl-missing", 4},
    {ErrorCode::kCrlExpired, "crl-expired", 4},
    {ErrorCode::kSignerExpired, "signer-expired", 4},
    {ErrorCode::kSignerNotYetValid, "signer-not-yet-valid", 4},
    {ErrorCode::kProxySigner, "proxy-signer", 4},
    {ErrorCode::kWrongPurpose, "wrong-purpose", 4},
    {ErrorCode::kWeakKey, "weak-key", 4},
    {ErrorCode::kCaDirInvalid, "ca-dir-invalid", 4},
    {ErrorCode::kEndorserMismatch, "endorser-mismatch", 5},
    {ErrorCode::kUntrustedEndorser, "untrusted-endorser", 5},
    {ErrorCode::kIdentifierMismatch, "identifier-mismatch", 5},
    {ErrorCode::kListExpired, "list-expired", 5},
    {ErrorCode::kListFutureDated, "list-future-dated", 5},
    {ErrorCode::kListTooOld, "list-too-old", 5},
    {ErrorCode::kVersionRollback, "version-rollback", 5},
    {ErrorCode::kVersionReused, "version-reused", 5},
    {ErrorCode::kListTooLarge, "list-too-large", 5},
    {ErrorCode::kJsonMalformed, "json-malformed", 5},
    {ErrorCode::kSchemaViolation, "schema-violation", 5},
    {ErrorCode::kInvalidIdentifier, "invalid-identifier", 5},
    {ErrorCode::kInvalidDate, "invalid-date", 5},
    {ErrorCode::kInvalidValue, "invalid-value", 5},
    {ErrorCode::kNotFound, "not-found", 5},
    {ErrorCode::kAlreadyExists, "already-exists", 5},
    {ErrorCode::kCertificateUnfit, "certificate-unfit", 5},
    {ErrorCode::kChecksumMismatch, "checksum-mismatch", 6},
    {ErrorCode::kSizeMismatch, "size-mismatch", 6},
    {ErrorCode::kFormatMismatch, "format-mismatch", 6},
    {ErrorCode::kFormatUnsafe, "format-unsafe", 6},
    {ErrorCode::kStorage, "storage-error", 7},
    {ErrorCode::kIo, "io-error", 7},
    {ErrorCode::kDiskFull, "disk-full", 7},
    {ErrorCode::kLocked, "locked", 7},
    {ErrorCode::kUnsafePath, "unsafe-path", 7},
};

const CodeInfo& InfoFor(ErrorCode code) {
  for (const auto& info : kCodes) {
    if (info.code == code) return info;
  }
  // Unreachable while the table lists every enumerator (error_test checks it).
  return kCodes[0];
}

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) { return InfoFor(code).name; }

int ExitStatusFor(ErrorCode code) { return InfoFor(code).exit_status; }

const std::string* Error::Find(std::string_view key) const {
  for (const auto& [name, value] : details_) {
    if (name == key) return &value;
  }
  return nullptr;
}

Error& Error::With(std::string key, std::string value) & {
  details_.emplace_back(std::move(key), std::move(value));
  return *this;
}

Error&& Error::With(std::string key, std::string value) && {
  details_.emplace_back(std::move(key), std::move(value));
  return std::move(*this);
}

Error& Error::Prefix(std::string_view context) & {
  message_.insert(0, context);
  return *this;
}

Error&& Error::Prefix(std::string_view context) && {
  message_.insert(0, context);
  return std::move(*this);
}

std::string Error::ToString() const { return std::string(ErrorCodeName(code_)) + ": " + message_; }

std::string Error::ToJson() const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("error");
  writer.StartObject();
  const auto name = ErrorCodeName(code_);
  writer.Key("code");
  writer.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  writer.Key("message");
  writer.String(message_.data(), static_cast<rapidjson::SizeType>(message_.size()));
  writer.Key("exit_status");
  writer.Int(ExitStatusFor(code_));
  for (const auto& [key, value] : details_) {
    if (key == "code" || key == "message" || key == "exit_status") continue;
    writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  }
  writer.EndObject();
  writer.EndObject();
  return buffer.GetString();
}

std::string ErrnoText(int err) {
  char buffer[256];
  // The GNU strerror_r: returns the text, in `buffer` or a static string.
  return strerror_r(err, buffer, sizeof buffer);
}

Error SystemError(std::string_view action, const std::filesystem::path& path, int err) {
  const ErrorCode code = (err == ENOSPC || err == EDQUOT) ? ErrorCode::kDiskFull : ErrorCode::kIo;
  return Error(code, "cannot " + std::string(action) + " " + path.string() + ": " + ErrnoText(err))
      .With("path", path.string());
}

}  // namespace vmc
