// A directory that exists for the life of the object and is removed, with
// everything in it, when the object is destroyed. Thread-compatible.
#ifndef VMC_TEST_SUPPORT_TEMP_DIR_H_
#define VMC_TEST_SUPPORT_TEMP_DIR_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace vmc::test {

class TempDir {
 public:
  // Creates a fresh directory under $TMPDIR (or /tmp). Aborts the test
  // binary if it cannot: no test is meaningful without it.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Whole-file helpers for tests; abort on failure.
std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, std::string_view content);

}  // namespace vmc::test

#endif  // VMC_TEST_SUPPORT_TEMP_DIR_H_
