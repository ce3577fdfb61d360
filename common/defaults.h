// The defaults that more than one place of the two tools needs, each written
// once, with its reason. A default that only its setting needs stays with the
// setting (catcher/settings.h, caster/settings.h).
#ifndef VMC_COMMON_DEFAULTS_H_
#define VMC_COMMON_DEFAULTS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace vmc {

// The most bytes of a list (or any document) fetched or read, unless the
// policy says otherwise (DESIGN.md section 5, step 1): the largest list in
// the field, AppDB's of about 75,000 images, fits; an endless answer does not
// fill the memory.
inline constexpr std::uint64_t kDefaultMaxListBytes = std::uint64_t{16} << 20;

// How far dc:date:created may lie ahead of "now" (step 7): the clocks of a
// publisher and a site drift apart by that much without either being wrong.
inline constexpr std::chrono::seconds kDefaultCreatedSkew{300};

// How many earlier lists a subscription's history keeps (`catcher
// subscriptions --json`): enough to follow a day of hourly updates back.
inline constexpr std::size_t kDefaultHistoryLimit = 20;

// How long a list that caster signs stays valid: vmcaster's default, so that
// submitters who move over keep their re-signing rhythm.
inline constexpr int kDefaultLifetimeDays = 28;

// The largest virtual size an image's disk may claim unless the policy says
// otherwise (limits.max_virtual_bytes, DESIGN.md section 13): a qcow2 of a
// few kilobytes may claim petabytes, which a conversion to raw or a cloud's
// import would try to allocate. The largest appliances in the field are
// disks of some hundred GiB; 1 TiB leaves room and stops a bomb.
inline constexpr std::uint64_t kDefaultMaxVirtualBytes = std::uint64_t{1} << 40;

}  // namespace vmc

#endif  // VMC_COMMON_DEFAULTS_H_
