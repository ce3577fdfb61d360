#include "catcher/rollback.h"

#include <compare>

#include "common/version.h"

namespace vmc::catcher {

Status CheckRollback(const std::optional<ListFingerprint>& previous,
                     const ListFingerprint& received, const std::string& list) {
  if (!previous || previous->version_reset) return Ok();
  const auto order = CompareVersions(received.version, previous->version);
  if (order == std::strong_ordering::less) {
    return Error(ErrorCode::kVersionRollback,
                 list + " has version " + received.version +
                     ", which is older than the version already accepted, " + previous->version +
                     ". The list was not applied (a replay or rollback). If a compromised key "
                     "signed that version, 'catcher subscription reset-version NAME --reason "
                     "TEXT' accepts a lower one once.")
        .With("version", received.version)
        .With("accepted_version", previous->version);
  }
  if (order == std::strong_ordering::equal && received.content_sha512 != previous->content_sha512) {
    return Error(ErrorCode::kVersionReused,
                 list + " has version " + received.version +
                     " again, with different content. The list was not applied: a publisher "
                     "must raise hv:version with every change.")
        .With("version", received.version);
  }
  return Ok();
}

}  // namespace vmc::catcher
