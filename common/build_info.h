// What a binary was built from and what it runs with, for `--version` and
// bug reports: its version (CMake's project version), the commit of the tree
// it was built from, and the versions of the libraries it is linked against
// as they report themselves at run time (a site's OpenSSL may be newer than
// the one it was built with).
//
// Thread-safety: pure functions.
#ifndef VMC_COMMON_BUILD_INFO_H_
#define VMC_COMMON_BUILD_INFO_H_

#include <string>
#include <string_view>

namespace vmc {

struct BuildInfo {
  std::string version;  // "0.1.0"
  std::string commit;   // "810c3f9a1b2c", "…-dirty", or "unknown"
  std::string openssl;  // "3.0.15"
  std::string libcurl;  // "7.88.1"
  std::string lmdb;     // "0.9.24"
};

BuildInfo TheBuildInfo();

// "catcher 0.1.0 (commit 810c3f9a1b2c)\nOpenSSL 3.0.15, libcurl 7.88.1,
// LMDB 0.9.24\n".
std::string VersionText(std::string_view program, const BuildInfo& info);

// The same as one JSON object: {"program", "version", "commit", "openssl",
// "libcurl", "lmdb"}.
std::string VersionJson(std::string_view program, const BuildInfo& info);

}  // namespace vmc

#endif  // VMC_COMMON_BUILD_INFO_H_
