#include "common/openssl_error.h"

#include <openssl/err.h>

namespace vmc {

std::string TakeOpenSslError() {
  const unsigned long code = ERR_peek_error();
  std::string reason;
  if (code != 0) {
    const char* text = ERR_reason_error_string(code);
    reason = text != nullptr ? text : "error " + std::to_string(code);
  }
  ERR_clear_error();
  return reason.empty() ? "unknown OpenSSL error" : reason;
}

}  // namespace vmc
