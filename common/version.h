// Versions of image lists (`hv:version`): a numeric-aware order for the
// rollback check (DESIGN.md section 5, step 8) and the bump that `caster sign`
// applies. Versions are free text in the field ("1", "3.0.1", "20231108",
// "1.2-rc1"), so both functions accept any text; nothing here fails.
//
// The order. A version is read as runs of digits and runs of other bytes:
// "1.2-rc10" is 1 "." 2 "-rc" 10. Two versions compare run by run:
//   - digit runs by numeric value, of any length ("9" < "10", "1.0.9" < "1.0.10");
//   - other runs byte by byte ("a" < "b");
//   - a digit run is less than an other run ("1.1" < "1.a");
//   - when one version is a prefix of the other, run-wise, it is the lesser:
//     "1.0" < "1.0.0" and "1.0" < "1.0-rc1" (there are no pre-release rules:
//     publishers who want them number their releases instead);
//   - runs that are all equal in value ("1.01" and "1.1") are ordered by
//     their bytes, so that two versions compare equal only when they are the
//     same text.
// This is a strict total order in which equality is text equality, so the
// rollback check never treats two different version strings as one version.
//
// Thread-safety: pure functions.
#ifndef VMC_COMMON_VERSION_H_
#define VMC_COMMON_VERSION_H_

#include <compare>
#include <string>
#include <string_view>

namespace vmc {

// Returns how version `a` orders against version `b` (see above).
std::strong_ordering CompareVersions(std::string_view a, std::string_view b);

// Returns the next version after `version`, always greater under
// CompareVersions():
//   - the last run of digits is incremented, keeping its width when it can
//     ("1.0.9" -> "1.0.10", "7" -> "8", "1.09" -> "1.10", "1.2-rc1" -> "1.2-rc2",
//     "99" -> "100");
//   - a version without digits gets ".1" appended ("beta" -> "beta.1");
//   - the empty version becomes "1".
std::string BumpVersion(std::string_view version);

}  // namespace vmc

#endif  // VMC_COMMON_VERSION_H_
