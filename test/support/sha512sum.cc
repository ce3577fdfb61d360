#include "test/support/sha512sum.h"

#include <gtest/gtest.h>

#include "test/support/json_output.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {

namespace fs = std::filesystem;

std::map<fs::path, std::string> Sha512Sum(const std::vector<fs::path>& files) {
  std::map<fs::path, std::string> out;
  if (files.empty()) return out;
  std::vector<std::string> argv = {"sha512sum", "--"};
  for (const auto& f : files) argv.push_back(f.string());
  const RunResult r = Run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const auto& line : Lines(r.out)) {
    // "<128 hex>  <path>"
    if (line.size() > 130) out[fs::path(line.substr(130))] = line.substr(0, 128);
  }
  EXPECT_EQ(out.size(), files.size()) << r.out;
  return out;
}

std::string Sha512SumOf(const fs::path& file) {
  const auto all = Sha512Sum({file});
  return all.empty() ? "" : all.begin()->second;
}

}  // namespace vmc::test
