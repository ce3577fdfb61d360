// Measuring an image for its list entry: SHA-512 and size in one streaming
// pass, from a local file or by downloading its URI without keeping it
// (AppDB's "autocheck"). A progress bar shows on a terminal.
#ifndef VMC_CASTER_MEASURE_H_
#define VMC_CASTER_MEASURE_H_

#include <filesystem>
#include <string>

#include "common/digest.h"
#include "common/error.h"
#include "common/http.h"

namespace vmc::caster {

Result<FileDigest> MeasureFile(const std::filesystem::path& path);

// Downloads `url` and hashes it on the fly; nothing is written to disk.
Result<FileDigest> MeasureUrl(HttpClient& client, const std::string& url,
                              const Credentials& credentials);

}  // namespace vmc::caster

#endif  // VMC_CASTER_MEASURE_H_
