// Turning a stored list into a signed one (DESIGN.md section 8, `sign`):
// the version goes up, the dates are set, the endorser comes from the
// certificate, the list must then satisfy the schema, and the certificate must
// fit (valid now, usable for S/MIME signing, matching its key).
//
// Thread-safety: reentrant, except that a passphrase prompt uses the terminal.
#ifndef VMC_CASTER_SIGNING_H_
#define VMC_CASTER_SIGNING_H_

#include <filesystem>
#include <optional>
#include <string>

#include "caster/list_store.h"
#include "common/clock.h"
#include "common/defaults.h"
#include "common/error.h"
#include "common/imagelist.h"
#include "common/smime.h"

namespace vmc::caster {

struct KeySource {
  // PEM (the signer's certificate, then its chain), or PKCS#12 holding the
  // key and chain too.
  std::filesystem::path cert;
  std::filesystem::path key;  // PEM; empty with a PKCS#12 `cert`
  // Holds the key's passphrase on its first line. Without it an encrypted key
  // asks on the terminal, or fails when there is none.
  std::optional<std::filesystem::path> passphrase_file;
};

// Loads the identity and checks that it may sign at `now`
// (kCertificateUnfit otherwise, naming the file and the reason).
Result<SigningIdentity> LoadIdentity(const KeySource& source, TimePoint now);

struct SigningParameters {
  TimePoint now;
  int lifetime_days = kDefaultLifetimeDays;
  // An explicit hv:version; otherwise the higher of the list's and the last
  // signed version, bumped (numeric-aware: 1.0.9 -> 1.0.10).
  std::optional<std::string> version;
};

// Sets hv:version, dc:date:created, dc:date:expires and hv:endorser, and
// validates the result against the schema. Changes nothing else. Returns
// kSchemaViolation (with the pointer) when a required key or an image's size
// or checksum is missing, or when the list lacks dc:description or hv:uri
// (which the schema lets lists from the field omit, but a list we publish
// has); kVersionRollback when an explicit version is not above the last
// signed one.
Status PrepareForSigning(ImageList& list, const ListMeta& meta, const SigningIdentity& identity,
                         const SigningParameters& params);

// Signs the list's JSON and checks the result with the verifier, so that a
// broken signature never leaves this process.
Result<std::string> SignList(const ImageList& list, const SigningIdentity& identity);

}  // namespace vmc::caster

#endif  // VMC_CASTER_SIGNING_H_
