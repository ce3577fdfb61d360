// The SHA-512 of files as sha512sum computes it: the reference
// implementation, not ours, for tests to prove the cache with.
#ifndef VMC_TEST_SUPPORT_SHA512SUM_H_
#define VMC_TEST_SUPPORT_SHA512SUM_H_

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace vmc::test {

// sha512sum's digest of each file (a failed expectation when any is missing).
std::map<std::filesystem::path, std::string> Sha512Sum(
    const std::vector<std::filesystem::path>& files);

// The digest of one file, "" when it cannot be read.
std::string Sha512SumOf(const std::filesystem::path& file);

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_SHA512SUM_H_
