#include "test/support/fixtures.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test/support/temp_dir.h"

namespace vmc::test {

std::string HepixReadmeFixture() {
  for (const auto& dir : {std::filesystem::path(VMC_SOURCE_DIR) / "test/fixtures",
                          std::filesystem::path("/work/shared/fixtures")}) {
    if (std::filesystem::exists(dir / "hepix-readme-example.smime")) {
      return ReadFile(dir / "hepix-readme-example.smime");
    }
  }
  ADD_FAILURE() << "fixture hepix-readme-example.smime not found";
  return "";
}

}  // namespace vmc::test
