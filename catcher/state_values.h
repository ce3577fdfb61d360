// The values the catcher's database holds (state.h), one struct per kind of
// record: what State's operations take and return, and what
// state_records.h encodes. Plain values, no behaviour.
//
// Thread-safety: values; as safe as any struct.
#ifndef VMC_CATCHER_STATE_VALUES_H_
#define VMC_CATCHER_STATE_VALUES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catcher/selection.h"
#include "common/clock.h"
#include "common/smime.h"

namespace vmc::catcher {

// A subscription made with `catcher subscribe` (policy subscriptions live in
// the policy file and are never stored).
struct SubscriptionRecord {
  std::string name;  // an identifier; default: the list's dc:identifier
  std::string url;
  std::string endorser_dn;
  std::string endorser_ca;
  // The same names, DER (subject, issuer): what step 4 compares with. Empty
  // in a record stored before they were kept.
  std::vector<std::string> endorser_names_der;
  std::string list_identifier;  // fixed at subscribe time (step 6)
  ImageSelection selection;
  std::string credentials_file;  // empty: none
  TimePoint created{};
};

// An admin's `catcher subscription reset-version`: the version floor of the
// list held was lifted, so that the next list is accepted whatever its
// hv:version (step 8), once.
struct VersionReset {
  TimePoint at{};
  std::string reason;
  std::string from_version;  // the version held when it was reset
};

// The list a subscription currently holds, as accepted at step 9.
struct AcceptedList {
  std::string list_identifier;
  std::string version;
  std::string content_sha512;
  std::string signer_dn;
  std::string signer_ca;
  TimePoint created{};
  TimePoint expires{};
  // When an update last judged this list current: it accepted it, or a 304
  // judged it again (steps 3, 4, 6, 7) and RecordCycle recorded
  // that. (`catcher_subscription_last_verified_timestamp_seconds`.)
  TimePoint fetched_at{};
  std::string etag;
  std::string last_modified;
  std::string url;  // where it was fetched from
  // The exact signed bytes; filled by CurrentList(), required by AcceptList().
  std::string signed_bytes;
  // Identifiers of its images, in list order (for "seen").
  std::vector<std::string> images;
  // The certificates its message carried, DER, the signer's first: what a
  // 304 needs to judge the chain again (update.h: VerifyUnchanged). Empty
  // for a list stored before they were kept.
  std::vector<std::string> certificates;
  // Set by ResetVersion; cleared when another list (other content) is
  // accepted.
  std::optional<VersionReset> version_reset;
  // The split of signed_bytes (common/smime.h), kept beside them: stored by
  // AcceptList when set, filled only by ListSplit(), not by CurrentList().
  std::optional<SmimeSplit> split;
};

// A split to keep for the list a subscription holds, made by a verification
// of its stored bytes: kept only while that list is still the one held.
struct ListSplit {
  std::string content_sha512;  // of the list it was split from
  SmimeSplit split;
};

// One earlier accepted version, or (with `reset`) the admin's reset of the
// version floor of the list then held (`version` is the one reset).
struct HistoryEntry {
  std::string version;
  std::string content_sha512;
  TimePoint created{};
  TimePoint fetched_at{};
  std::optional<VersionReset> reset;
};

// The last update attempt of a subscription.
struct AttemptRecord {
  TimePoint at{};
  std::string result;   // "updated", "unchanged", or an error code name
  std::string message;  // the human reason ("" when fine)
  int exit_status = 0;
};

// The validators of a 304 answer for the list a subscription holds.
struct ListTouch {
  std::string content_sha512;  // the list verified; another one held is left alone
  std::string etag;
  std::string last_modified;
  TimePoint fetched_at{};
};

// What an update cycle records for one subscription besides an accepted list.
struct CycleRecord {
  std::string name;
  bool subscribed = false;  // made with `catcher subscribe` (see AcceptList)
  std::optional<ListTouch> touch;
  AttemptRecord attempt;
  std::optional<ListSplit> split;
};

struct SeenImage {
  TimePoint first_seen{};
  bool initial = false;  // in the first list this subscription accepted
};

// What a cache run needs to know of every image it made available; the
// whole record (CachedImage) only for the few it acts on.
struct CachedSummary {
  std::string sha512;
  std::string subscription;
  bool postfix_due = true;
};

// An image the cache made available under its identifier.
struct CachedImage {
  std::string sha512;
  std::string subscription;
  std::map<std::string, std::string> variables;  // VMCATCHER_EVENT_* of AvailablePrefix
  bool postfix_due = true;                       // AvailablePostfix has not yet succeeded
  TimePoint cached_at{};
};

// What the inspection of an image's bytes found (catcher/image_inspection.h),
// kept by SHA-512: the bytes never change, so neither does what they are,
// and a refused image is not downloaded again to learn it once more.
struct InspectionRecord {
  std::string format;
  std::uint64_t virtual_size = 0;
  std::string danger;            // empty: none found
  std::string qemu_img_version;  // of the qemu-img that read it
  TimePoint at{};
  // The rules it was judged by (kInspectionRules, image_inspection.h); 0
  // in records made before the rules had a version.
  int rules = 0;
};

// An image's bytes converted to a format the site takes (catcher/
// image_conversion.h), kept by source SHA-512 and target format: the chain
// from the endorsed bytes to the file handed out.
struct ConversionRecord {
  std::string format;  // the target
  std::string sha512;  // of the converted file, in the content store
  std::uint64_t size = 0;
  std::string qemu_img_version;
  TimePoint at{};
};

}  // namespace vmc::catcher

#endif  // VMC_CATCHER_STATE_VALUES_H_
