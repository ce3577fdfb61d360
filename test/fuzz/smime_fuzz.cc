// libFuzzer target: the S/MIME reader (verification step 2) on arbitrary
// bytes, and, for the messages whose signature verifies, the rest of the
// offline verification as `caster verify` runs it (steps 3, 5, 4 and 7).
//
// Step 3 needs a CA directory. VMC_FUZZ_CA_DIR names one (scripts/fuzz passes
// the test PKI's, so that mutations of the seed lists that keep a valid
// signature reach the JSON reader); without it the store is an empty
// directory and every chain is untrusted. The instant is the test PKI's
// "now", 2030-01-01, when all of its good certificates and CRLs are valid.
//
// Any verdict is fine; a finding is a crash, a sanitizer report, an error
// that does not print as JSON and UTF-8 text, or signer names that are not
// UTF-8 (properties.h).
#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/clock.h"
#include "common/verification.h"
#include "test/fuzz/properties.h"

namespace {

vmc::OfflineCheck MakeCheck() {
  vmc::OfflineCheck check;
  const char* ca_dir = std::getenv("VMC_FUZZ_CA_DIR");
  check.ca_dir = (ca_dir != nullptr && *ca_dir != '\0') ? ca_dir : VMC_FUZZ_EMPTY_CA_DIR;
  const auto at = vmc::ParseDate("2030-01-01T00:00:00Z");
  if (!at.ok()) __builtin_trap();
  check.at = *at;
  return check;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const vmc::OfflineCheck check = MakeCheck();
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  const auto verified = vmc::VerifySignedListOffline(message, check);
  if (verified.ok()) {
    // What a verified list's consumers read.
    vmc::fuzz::RequireUtf8(verified->message.signer_dn, "signer_dn");
    vmc::fuzz::RequireUtf8(verified->message.signer_ca_dn, "signer_ca_dn");
    static_cast<void>(verified->list.Write());
    static_cast<void>(verified->list.images());
  } else {
    vmc::fuzz::RequirePrintable(verified.error());
  }
  // OpenSSL keeps the text of past errors in its per-thread error ring, to
  // reuse the buffers. libFuzzer counts each kept buffer as a suspected leak
  // and scans the whole heap for it, which slowed this target twentyfold.
  // Dropping the thread's OpenSSL state after each input makes every run
  // free what it allocated, so a real leak still stands out.
  OPENSSL_thread_stop();
  return 0;
}
