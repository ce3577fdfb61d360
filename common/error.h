// Errors as values. An Error carries a stable machine code (DESIGN.md section 8),
// a one-line message a person can act on, and optional named details (file,
// line, JSON pointer, ...) that --json output prints beside the message.
//
// Library code returns Result<T> / Status; only main() turns an Error into an
// exit status. Thread-safety: values, no shared state.
#ifndef VMC_COMMON_ERROR_H_
#define VMC_COMMON_ERROR_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace vmc {

// Every refusal the tools can report. The names are the contract: scripts
// match on ErrorCodeName(), never on the message.
enum class ErrorCode {
  // exit 1: usage
  kUsage,
  // exit 2: configuration or policy file invalid
  kConfigInvalid,
  kPolicyInvalid,
  // exit 3: network or transfer failure
  kNetwork,
  kTransferTimeout,
  kHttpStatus,
  kTlsError,
  kUploadFailed,
  // exit 4: signature or trust failure (verification steps 2-3)
  kSmimeMalformed,
  kSignatureInvalid,
  kNoSigner,
  kMultipleSigners,
  kUntrustedChain,
  kSignerRevoked,
  kCrlMissing,
  kCrlExpired,
  kSignerExpired,
  kSignerNotYetValid,
  kProxySigner,
  kWrongPurpose,
  kWeakKey,
  kCaDirInvalid,
  // exit 5: refused (verification steps 4-8, and list content)
  kEndorserMismatch,
  kUntrustedEndorser,
  kIdentifierMismatch,
  kListExpired,
  kListFutureDated,
  kListTooOld,
  kVersionRollback,
  kVersionReused,
  kListTooLarge,
  kJsonMalformed,
  kSchemaViolation,
  kInvalidIdentifier,
  kInvalidDate,
  kInvalidValue,
  kNotFound,
  kAlreadyExists,
  kCertificateUnfit,
  // exit 6: integrity
  kChecksumMismatch,
  kSizeMismatch,
  kFormatMismatch,  // the bytes are another format than hv:format declares
  kFormatUnsafe,    // a format, header or content catcher does not make available
  // exit 7: local storage failure
  kStorage,
  kIo,
  kDiskFull,
  kLocked,
  kUnsafePath,
};

// Stable kebab-case name, e.g. "list-expired".
std::string_view ErrorCodeName(ErrorCode code);

// The exit status DESIGN.md section 8 assigns to the code's class (1..7).
int ExitStatusFor(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<std::pair<std::string, std::string>>& details() const { return details_; }
  // The detail named `key`, or null: what callers decide on, never the text.
  const std::string* Find(std::string_view key) const;

  // Adds a named detail ("pointer", "file", "line", "url", ...). Returns *this
  // so that call sites read as one expression.
  Error& With(std::string key, std::string value) &;
  Error&& With(std::string key, std::string value) &&;

  // Prepends context ("image list https://...: ") to the message.
  Error& Prefix(std::string_view context) &;
  Error&& Prefix(std::string_view context) &&;

  // "code: message".
  std::string ToString() const;

  // {"error": {"code": ..., "message": ..., <details>}} on one line.
  std::string ToJson() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::vector<std::pair<std::string, std::string>> details_;
};

// A value or an Error. Kept deliberately small: std::expected is C++23 and the
// Debian 12 toolchain builds C++20.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !ok()
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  // REQUIRES: !ok()
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status Ok() { return {}; }

// The text of an errno value, safe on any thread (std::strerror is not: the
// downloads and the schema check run on threads of their own).
std::string ErrnoText(int err);

// The error for a failed system call on `path` (errno); ENOSPC and EDQUOT
// become kDiskFull, everything else kIo.
Error SystemError(std::string_view action, const std::filesystem::path& path, int err);

}  // namespace vmc

#define VMC_CONCAT_INNER_(a, b) a##b
#define VMC_CONCAT_(a, b) VMC_CONCAT_INNER_(a, b)

// Propagates the Error of a Status or Result expression to the caller.
// (__COUNTER__ keeps the temporaries of nested uses, e.g. inside a lambda
// passed to an outer use, apart.)
#define VMC_RETURN_IF_ERROR(expr) \
  VMC_RETURN_IF_ERROR_IMPL_(VMC_CONCAT_(vmc_status_, __COUNTER__), expr)
#define VMC_RETURN_IF_ERROR_IMPL_(tmp, expr)                                        \
  do {                                                                              \
    auto tmp = (expr); /* NOLINT(bugprone-macro-parentheses): a name it declares */ \
    if (!tmp.ok()) {   /* NOLINT(bugprone-macro-parentheses): a name it declares */ \
      return std::move(tmp).error();                                                \
    }                                                                               \
  } while (false)

// `VMC_ASSIGN_OR_RETURN(auto x, Expr());` binds the value or returns the Error.
#define VMC_ASSIGN_OR_RETURN(lhs, expr) \
  VMC_ASSIGN_OR_RETURN_IMPL_(VMC_CONCAT_(vmc_result_, __COUNTER__), lhs, expr)
#define VMC_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)                                \
  auto tmp = (expr); /* NOLINT(bugprone-macro-parentheses): a name it declares */ \
  if (!tmp.ok()) {   /* NOLINT(bugprone-macro-parentheses): a name it declares */ \
    return std::move(tmp).error();                                                \
  }                                                                               \
  lhs = std::move(tmp).value() /* NOLINT(bugprone-macro-parentheses): a declaration */

#endif  // VMC_COMMON_ERROR_H_
