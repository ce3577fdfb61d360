#include "test/support/pki.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "common/smime.h"
#include "test/support/subprocess.h"
#include "test/support/temp_dir.h"

namespace vmc::test {

const TestPki& TestPki::Get() {
  // Function-local statics: made once, thread-safely, on first use, and
  // destroyed in reverse order at exit, which removes the directory.
  static const TempDir kDir;
  static const TestPki kPki = [] {
    const std::string script = std::string(VMC_SOURCE_DIR) + "/test/pki/make-pki";
    const std::filesystem::path out = kDir.path() / "pki";
    // bash explicitly: the test must not depend on the file's mode bits.
    const RunResult result = Run({"bash", script, out.string()});
    if (result.exit_code != 0) {
      std::fprintf(stderr, "make-pki %s failed (exit %d):\n%s%s\n", out.c_str(), result.exit_code,
                   result.out.c_str(), result.err.c_str());
      std::abort();
    }
    return TestPki(out);
  }();
  return kPki;
}

Names NamesOf(const PkiIdentity& id) {
  auto identity = LoadSigningIdentity(id.cert, id.key, std::nullopt);
  if (!identity.ok()) {
    ADD_FAILURE() << identity.error().ToString();
    return {};
  }
  return {identity->subject_dn, identity->issuer_dn};
}

}  // namespace vmc::test
